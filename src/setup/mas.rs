//! `--mas`: the Matrix Authentication Service in front of Synapse's login, on a host of
//! its own (`--mas-host`) or below a path of the homeserver host (`--mas-path`).

use std::str::FromStr;

use serde::Serialize;

use super::{Host, Invalid, Upstream, describe_char};

/// The first path segments that belong to Matrix on the homeserver host: MAS mounted
/// below one of them would take the homeserver's own paths.
const RESERVED: [&str; 3] = ["_matrix", "_synapse", ".well-known"];

/// A URL path prefix MAS is mounted under on the homeserver host (`/auth`, MDAD's
/// default): absolute, no trailing slash, segments of unreserved characters only
/// (RFC 3986 §2.3), so that it is the same bytes encoded or not and can go into every
/// proxy's path match and regular expression unquoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct UrlPrefix(String);

impl UrlPrefix {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UrlPrefix {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        const EXAMPLE: &str = "/auth";
        let Some(rest) = value.strip_prefix('/') else {
            return Err(Invalid::new("does not start with /", EXAMPLE));
        };
        if rest.is_empty() {
            return Err(Invalid::new(
                "is the root, which is the homeserver's; give a prefix below it",
                EXAMPLE,
            ));
        }
        if value.len() > 256 {
            return Err(Invalid::new(
                format!("is {} characters long; at most 256", value.len()),
                EXAMPLE,
            ));
        }
        if let Some(c) = rest
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '.' | '_' | '~')))
        {
            return Err(Invalid::new(
                format!(
                    "contains {}; a path prefix is limited to letters, digits and / - . _ ~",
                    describe_char(c)
                ),
                EXAMPLE,
            ));
        }
        if rest
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(Invalid::new(
                "has an empty, `.` or `..` segment (or ends in /); give it as /auth or /id/auth",
                EXAMPLE,
            ));
        }
        let first = rest.split('/').next().unwrap_or_default();
        if RESERVED.contains(&first) {
            return Err(Invalid::new(
                format!("is below /{first}, which the homeserver answers"),
                EXAMPLE,
            ));
        }
        Ok(UrlPrefix(value.to_string()))
    }
}

string_serde!(UrlPrefix(String));

/// Where clients reach MAS's own pages and OAuth 2.0 endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasPublic {
    /// A host of its own, proxied wholesale (`--mas-host`).
    Host(Host),
    /// Below this prefix of the homeserver host (`--mas-path`, MAS's listener `prefix`).
    Path(UrlPrefix),
}

/// `--mas`: login goes to the Matrix Authentication Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mas {
    pub public: MasPublic,
    /// Where MAS's listener answers the proxy (`--mas-upstream`).
    pub upstream: Upstream,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::testing::{accepts, refuses};

    #[test]
    fn path_prefixes_of_unreserved_segments_are_accepted_unchanged() {
        for value in ["/auth", "/id/auth", "/a-b.c_d~e", "/A9"] {
            let prefix: UrlPrefix = accepts(value);
            assert_eq!(prefix.as_str(), value);
            assert_eq!(prefix.to_string(), value);
        }
    }

    #[test]
    fn other_path_prefixes_are_refused_with_the_reason() {
        const LIMITED: &str = "a path prefix is limited to letters, digits and / - . _ ~";
        const SEGMENTS: &str =
            "has an empty, `.` or `..` segment (or ends in /); give it as /auth or /id/auth";
        let too_long = format!("/{}", "a".repeat(256));
        for (value, reason) in [
            ("", "does not start with /".to_string()),
            ("auth", "does not start with /".into()),
            (
                "/",
                "is the root, which is the homeserver's; give a prefix below it".into(),
            ),
            ("/auth/", SEGMENTS.into()),
            ("/a//b", SEGMENTS.into()),
            ("/a/../b", SEGMENTS.into()),
            ("/.", SEGMENTS.into()),
            ("/a b", format!("contains a space; {LIMITED}")),
            ("/a%2Fb", format!("contains `%`; {LIMITED}")),
            ("/a;b", format!("contains `;`; {LIMITED}")),
            ("/a?b", format!("contains `?`; {LIMITED}")),
            ("/(a|b)", format!("contains `(`; {LIMITED}")),
            ("/é", format!("contains `é`; {LIMITED}")),
            (
                "/_matrix",
                "is below /_matrix, which the homeserver answers".into(),
            ),
            (
                "/_synapse/mas",
                "is below /_synapse, which the homeserver answers".into(),
            ),
            (
                "/.well-known/x",
                "is below /.well-known, which the homeserver answers".into(),
            ),
            (&too_long, "is 257 characters long; at most 256".into()),
        ] {
            refuses::<UrlPrefix>(value, &reason, "/auth");
        }
    }
}
