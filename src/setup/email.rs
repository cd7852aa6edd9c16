//! The ACME account address.

use std::fmt;
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

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
string_serde!(Email);

impl From<Email> for String {
    fn from(value: Email) -> String {
        value.to_string()
    }
}
