//! How long a proxy waits for the homeserver.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::Invalid;

/// How long a proxy waits on a request in flight: for the homeserver's answer (a `/sync`
/// long-poll is held open until something happens or the client's own timeout ends) and
/// for the client's body (a slow upload). Whole seconds; `m` and `h` are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Timeout(u32);

impl Timeout {
    /// Clients hold `/sync` for 30 s (Element's default; Conduit caps it there), and a
    /// proxy that cuts earlier than twice that turns every quiet long-poll into an error.
    pub const MIN_SECONDS: u32 = 60;
    /// A day: MDAD's choice, the longest any documented setup uses.
    pub const MAX_SECONDS: u32 = 86_400;

    pub const fn from_seconds_unchecked(seconds: u32) -> Timeout {
        Timeout(seconds)
    }

    pub fn seconds(self) -> u32 {
        self.0
    }
}

impl FromStr for Timeout {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        const EXAMPLE: &str = "600";
        let digits_end = value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len());
        let (digits, unit) = value.split_at(digits_end);
        let scale: u64 = match unit {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            _ => {
                return Err(Invalid::new(
                    "is not a duration: expected whole seconds, or a number with s, m or h",
                    EXAMPLE,
                ));
            }
        };
        let seconds = digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .ok_or_else(|| {
                Invalid::new(
                    "is not a duration: expected whole seconds, or a number with s, m or h",
                    EXAMPLE,
                )
            })?;
        if seconds < u64::from(Self::MIN_SECONDS) {
            return Err(Invalid::new(
                format!(
                    "is shorter than {} seconds: clients hold /sync open for 30 s, and a proxy \
                     that gives up first turns every quiet long-poll into an error",
                    Self::MIN_SECONDS
                ),
                EXAMPLE,
            ));
        }
        if seconds > u64::from(Self::MAX_SECONDS) {
            return Err(Invalid::new(
                format!(
                    "is longer than {} seconds (a day); a request held that long is a stuck one",
                    Self::MAX_SECONDS
                ),
                "86400",
            ));
        }
        Ok(Timeout(seconds as u32))
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

string_serde!(Timeout);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::testing::{accepts, refuses};

    #[test]
    fn timeouts_are_whole_seconds_or_minutes_or_hours() {
        for (value, seconds) in [
            ("60", 60),
            ("600", 600),
            ("600s", 600),
            ("10m", 600),
            ("1h", 3600),
            ("24h", 86_400),
            ("86400", 86_400),
            ("0600", 600),
        ] {
            let timeout: Timeout = accepts(value);
            assert_eq!(timeout.seconds(), seconds, "{value:?}");
            assert_eq!(timeout.to_string(), seconds.to_string(), "{value:?}");
            assert_eq!(String::from(timeout), seconds.to_string(), "{value:?}");
        }
    }

    #[test]
    fn timeouts_that_are_malformed_or_out_of_bounds_are_refused() {
        let malformed = "is not a duration: expected whole seconds, or a number with s, m or h";
        for value in [
            "",
            "s",
            "ten",
            "10 m",
            "1.5h",
            "-60",
            "+60",
            "60sec",
            "1d",
            "99999999999999999999",
        ] {
            refuses::<Timeout>(value, malformed, "600");
        }
        let short = "is shorter than 60 seconds: clients hold /sync open for 30 s, and a proxy \
                     that gives up first turns every quiet long-poll into an error";
        for value in ["0", "59", "59s", "0m"] {
            refuses::<Timeout>(value, short, "600");
        }
        let long = "is longer than 86400 seconds (a day); a request held that long is a stuck one";
        for value in ["86401", "1441m", "25h", "4294967296"] {
            refuses::<Timeout>(value, long, "86400");
        }
    }

    #[test]
    fn yaml_numbers_and_strings_read_alike() {
        let from_number: Timeout = serde_yaml::from_str("600").unwrap();
        let from_text: Timeout = serde_yaml::from_str("\"10m\"").unwrap();
        assert_eq!(from_number, from_text);
        let refused = serde_yaml::from_str::<Timeout>("30")
            .unwrap_err()
            .to_string();
        assert!(
            refused.starts_with("\"30\" is shorter than 60 seconds"),
            "{refused}"
        );
    }
}
