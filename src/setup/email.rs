//! The ACME account address.

use std::str::FromStr;

use serde::Serialize;

use super::Invalid;
use super::dns::parse_dns_name;

/// The address ACME accounts are registered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Email(String);

impl FromStr for Email {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        const EXAMPLE: &str = "admin@example.com";
        let Some((local, domain)) = value.split_once('@') else {
            return Err(Invalid::new("is not an e-mail address (no @)", EXAMPLE));
        };
        if local.is_empty()
            || local.len() > 64
            || !local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-'))
        {
            return Err(Invalid::new(
                "has a local part with characters other than letters, digits and . _ % + -",
                EXAMPLE,
            ));
        }
        let domain = parse_dns_name(domain, EXAMPLE)
            .map_err(|e| Invalid::new(format!("has a domain that {}", e.reason), EXAMPLE))?;
        if !domain.has_dot() {
            return Err(Invalid::new("has a domain without a dot", EXAMPLE));
        }
        Ok(Email(value.to_string()))
    }
}

string_serde!(Email(String));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::testing::{accepts, refuses};

    #[test]
    fn addresses_are_accepted_unchanged() {
        let longest_local = format!("{}@example.com", "a".repeat(64));
        for value in [
            "admin@example.com",
            "first.last+tag@mail.example.org",
            "a_b%c-d@example.com",
            "ADMIN@example.com",
            &longest_local,
        ] {
            let email: Email = accepts(value);
            assert_eq!(email.to_string(), value);
            assert_eq!(String::from(email), value);
        }
    }

    /// The domain goes through the DNS name rules; their reason is kept, the example is
    /// always an address.
    #[test]
    fn malformed_addresses_are_refused_with_the_reason() {
        const LOCAL: &str =
            "has a local part with characters other than letters, digits and . _ % + -";
        let long_local = format!("{}@example.com", "a".repeat(65));
        for (value, reason) in [
            ("not-an-email", "is not an e-mail address (no @)"),
            ("", "is not an e-mail address (no @)"),
            ("@example.com", LOCAL),
            ("a b@example.com", LOCAL),
            ("a;b@example.com", LOCAL),
            ("\"a\"@example.com", LOCAL),
            ("ädmin@example.com", LOCAL),
            (&long_local, LOCAL),
            ("admin@", "has a domain that is empty"),
            ("admin@localhost", "has a domain without a dot"),
            (
                "admin@Example.com",
                "has a domain that has upper-case letters; Matrix ids and certificates use the lower-case form",
            ),
            (
                "admin@example.com;",
                "has a domain that contains `;`, which is not allowed in a host name",
            ),
            (
                "admin@example.com\n",
                "has a domain that contains a newline, which is not allowed in a host name",
            ),
            // Split at the first `@`: the second one is in the domain.
            (
                "a@b@example.com",
                "has a domain that contains `@`, which is not allowed in a host name",
            ),
            (
                "admin@203.0.113.7",
                "has a domain that looks like an IP address or ends in an all-numeric label, which is no DNS name",
            ),
        ] {
            refuses::<Email>(value, reason, "admin@example.com");
        }
    }
}
