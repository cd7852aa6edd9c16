//! Request body limits.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::Invalid;

/// A request body limit in bytes. Suffixes are binary, as nginx reads them: `20M` is
/// 20 MiB. The ceiling is the largest signed 64-bit number, what every proxy reads a size
/// or a Content-Length into (nginx `off_t`, Apache `apr_off_t` and its `<If>` integers,
/// Caddy and Traefik `int64`, HAProxy's 64-bit integers). A homeserver whose own setting
/// holds less refuses more in `config::merge` (`homeserver::Facts::upload_ceiling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct ByteSize(u64);

/// The most a homeserver's upload setting or a proxy's body check holds, and why
/// (`homeserver::Facts::upload_ceiling`, `proxy::ProxyFacts::upload_ceiling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadCeiling {
    pub bytes: u64,
    /// The setting, as the refusal names it.
    pub setting: &'static str,
    /// Why it holds no more.
    pub why: &'static str,
}

impl ByteSize {
    pub const MAX: u64 = i64::MAX as u64;
    pub const MIN: u64 = 1024;

    pub const fn from_bytes_unchecked(bytes: u64) -> ByteSize {
        ByteSize(bytes)
    }

    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        const EXAMPLE: &str = "20M";
        let digits_end = value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len());
        let (digits, suffix) = value.split_at(digits_end);
        if digits.is_empty() {
            return Err(Invalid::new(
                "is not a size: expected a whole number of bytes or one with K, M or G (binary units)",
                EXAMPLE,
            ));
        }
        let unit: u64 = match suffix.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            "kb" | "mb" | "gb" => {
                return Err(Invalid::new(
                    "is ambiguous (decimal or binary?); mxproxy takes K, M and G as binary units like nginx",
                    EXAMPLE,
                ));
            }
            _ => {
                return Err(Invalid::new(
                    "is not a size: expected a whole number of bytes or one with K, M or G (binary units)",
                    EXAMPLE,
                ));
            }
        };
        let bytes = digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(unit))
            .unwrap_or(u64::MAX);
        if bytes < Self::MIN {
            return Err(Invalid::new(
                format!("is below the smallest limit of {} bytes", Self::MIN),
                EXAMPLE,
            ));
        }
        if bytes > Self::MAX {
            return Err(Invalid::new(
                format!(
                    "is above {} bytes (8 EiB - 1), the most a proxy reads as a size",
                    Self::MAX
                ),
                "10G",
            ));
        }
        Ok(ByteSize(bytes))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        if bytes.is_multiple_of(1 << 30) {
            write!(f, "{}G", bytes >> 30)
        } else if bytes.is_multiple_of(1 << 20) {
            write!(f, "{}M", bytes >> 20)
        } else if bytes.is_multiple_of(1 << 10) {
            write!(f, "{}K", bytes >> 10)
        } else {
            write!(f, "{bytes}")
        }
    }
}
string_serde!(ByteSize);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::testing::{accepts, refuses};

    /// (value, bytes, shown): suffixes are binary, either case, with or without `iB`;
    /// the value is shown in the largest unit that divides it.
    #[test]
    fn sizes_are_read_in_binary_units() {
        for (value, bytes, shown) in [
            ("1024", 1024, "1K"),
            ("1025", 1025, "1025"),
            ("1024b", 1024, "1K"),
            ("1024B", 1024, "1K"),
            ("1K", 1 << 10, "1K"),
            ("1k", 1 << 10, "1K"),
            ("1KiB", 1 << 10, "1K"),
            ("1kib", 1 << 10, "1K"),
            ("1536K", 1536 << 10, "1536K"),
            ("1024K", 1 << 20, "1M"),
            ("20M", 20 << 20, "20M"),
            ("20m", 20 << 20, "20M"),
            ("20MiB", 20 << 20, "20M"),
            ("1G", 1 << 30, "1G"),
            ("1gib", 1 << 30, "1G"),
            ("2047M", 2047 << 20, "2047M"),
            ("0020M", 20 << 20, "20M"),
            ("2147483647", 2_147_483_647, "2147483647"),
            ("2G", 2 << 30, "2G"),
            ("3G", 3 << 30, "3G"),
            ("4095M", 4095 << 20, "4095M"),
            ("10G", 10 << 30, "10G"),
            ("8589934591G", 8_589_934_591 << 30, "8589934591G"),
            ("9223372036854775807", ByteSize::MAX, "9223372036854775807"),
        ] {
            let size: ByteSize = accepts(value);
            assert_eq!(size.bytes(), bytes, "{value:?}");
            assert_eq!(size.to_string(), shown, "{value:?}");
            assert_eq!(String::from(size), shown, "{value:?}");
        }
        assert_eq!(ByteSize::from_bytes_unchecked(5).bytes(), 5);
    }

    #[test]
    fn sizes_that_are_malformed_ambiguous_or_out_of_bounds_are_refused() {
        const NOT_A_SIZE: &str =
            "is not a size: expected a whole number of bytes or one with K, M or G (binary units)";
        const AMBIGUOUS: &str = "is ambiguous (decimal or binary?); mxproxy takes K, M and G as binary units like nginx";
        const BELOW: &str = "is below the smallest limit of 1024 bytes";
        const ABOVE: &str =
            "is above 9223372036854775807 bytes (8 EiB - 1), the most a proxy reads as a size";
        for (value, reason, example) in [
            ("", NOT_A_SIZE, "20M"),
            ("M", NOT_A_SIZE, "20M"),
            ("-1", NOT_A_SIZE, "20M"),
            ("+20M", NOT_A_SIZE, "20M"),
            ("1.5M", NOT_A_SIZE, "20M"),
            ("1.5Q", NOT_A_SIZE, "20M"),
            ("20 M", NOT_A_SIZE, "20M"),
            ("20T", NOT_A_SIZE, "20M"),
            ("20Mi", NOT_A_SIZE, "20M"),
            ("20MB", AMBIGUOUS, "20M"),
            ("20mb", AMBIGUOUS, "20M"),
            ("1kb", AMBIGUOUS, "20M"),
            ("1GB", AMBIGUOUS, "20M"),
            ("0", BELOW, "20M"),
            ("1023", BELOW, "20M"),
            ("0G", BELOW, "20M"),
            ("9223372036854775808", ABOVE, "10G"),
            ("8589934592G", ABOVE, "10G"),
            // Too large for u64, before and after the unit: still "above", not "not a size".
            ("99999999999999999999999", ABOVE, "10G"),
            ("18446744073709551615G", ABOVE, "10G"),
        ] {
            refuses::<ByteSize>(value, reason, example);
        }
    }
}
