//! Request body limits.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::Invalid;

/// A request body limit in bytes. Suffixes are binary, as nginx reads them: `20M` is
/// 20 MiB. The ceiling is Apache's `LimitRequestBody` maximum, so that every proxy can
/// enforce the same number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct ByteSize(u64);

impl ByteSize {
    pub const MAX: u64 = 2_147_483_647;
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
                    "is above {} bytes (2 GiB - 1), the most Apache's LimitRequestBody can enforce",
                    Self::MAX
                ),
                "1G",
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

impl From<ByteSize> for String {
    fn from(value: ByteSize) -> String {
        value.to_string()
    }
}
