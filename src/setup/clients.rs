//! How many clients sync at once: what the proxies' connection limits are sized from.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::Invalid;

/// The number of clients syncing at once (`--clients`). Each holds one `/sync` long-poll
/// open for up to 30 s, all the time, so each is one proxied request in flight at every
/// moment: the unit every connection limit of the plan's `capacity` section is sized in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Clients(u32);

impl Clients {
    /// No client at all is no server to size.
    pub const MIN: u32 = 1;
    /// A hundred thousand clients need 550912 descriptors in one process (plan/capacity.rs);
    /// about 190,000 would pass Linux's default `fs.nr_open` (1048576), the ceiling of any
    /// process's RLIMIT_NOFILE, and a compose service asking for more does not start. More
    /// clients than this need more than one proxy host.
    pub const MAX: u32 = 100_000;

    pub const fn new_unchecked(clients: u32) -> Clients {
        Clients(clients)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl FromStr for Clients {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        const EXAMPLE: &str = "1000";
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new(
                "is not a number of clients: expected a whole number",
                EXAMPLE,
            ));
        }
        let clients = value.parse::<u64>().unwrap_or(u64::MAX);
        if clients < u64::from(Self::MIN) {
            return Err(Invalid::new(
                "is zero: the proxies are sized for the clients syncing at once, at least 1",
                EXAMPLE,
            ));
        }
        if clients > u64::from(Self::MAX) {
            return Err(Invalid::new(
                format!(
                    "is more than {} clients, more than one proxy host holds",
                    Self::MAX
                ),
                "10000",
            ));
        }
        Ok(Clients(clients as u32))
    }
}

impl fmt::Display for Clients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

string_serde!(Clients);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::testing::{accepts, refuses};

    #[test]
    fn clients_are_whole_numbers_from_one_to_a_million() {
        for (value, clients) in [
            ("1", 1),
            ("1000", 1000),
            ("01000", 1000),
            ("10000", 10_000),
            ("100000", 100_000),
        ] {
            let parsed: Clients = accepts(value);
            assert_eq!(parsed.get(), clients, "{value:?}");
            assert_eq!(parsed.to_string(), clients.to_string(), "{value:?}");
        }
    }

    #[test]
    fn clients_that_are_not_numbers_or_out_of_bounds_are_refused() {
        let malformed = "is not a number of clients: expected a whole number";
        for value in [
            "", "many", "1k", "1e4", "-5", "+5", "1,000", "10 000", "2.5", "1000;",
        ] {
            refuses::<Clients>(value, malformed, "1000");
        }
        let none = "is zero: the proxies are sized for the clients syncing at once, at least 1";
        for value in ["0", "000"] {
            refuses::<Clients>(value, none, "1000");
        }
        let many = "is more than 100000 clients, more than one proxy host holds";
        for value in ["100001", "1000000", "4294967296", "99999999999999999999999"] {
            refuses::<Clients>(value, many, "10000");
        }
    }

    #[test]
    fn yaml_numbers_and_strings_read_alike() {
        let from_number: Clients = serde_yaml::from_str("10000").unwrap();
        let from_text: Clients = serde_yaml::from_str("\"10000\"").unwrap();
        assert_eq!(from_number, from_text);
        let refused = serde_yaml::from_str::<Clients>("0")
            .unwrap_err()
            .to_string();
        assert!(refused.starts_with("\"0\" is zero"), "{refused}");
    }
}
