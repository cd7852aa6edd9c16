//! File-system paths printed into config files.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::{Invalid, describe_char};

/// An absolute file-system path that is printed into config files unquoted in some
/// formats, so it is held to a conservative character set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct SafePath(String);

impl SafePath {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SafePath {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        const EXAMPLE: &str = "/etc/ssl/matrix/fullchain.pem";
        if value.is_empty() {
            return Err(Invalid::new("is empty", EXAMPLE));
        }
        if let Some(c) = value.chars().find(|c| {
            !(c.is_ascii_alphanumeric()
                || matches!(c, '/' | '.' | '_' | '-' | '+' | '@' | '=' | ','))
        }) {
            return Err(Invalid::new(
                format!(
                    "contains {}; paths are limited to letters, digits and / . _ - + @ = , so they cannot break a config line",
                    describe_char(c)
                ),
                EXAMPLE,
            ));
        }
        if !value.starts_with('/') {
            return Err(Invalid::new(
                "is relative; the proxy resolves paths from its own directory, so give an absolute path",
                EXAMPLE,
            ));
        }
        if value.len() > 1024 {
            return Err(Invalid::new(
                format!("is {} characters long; at most 1024", value.len()),
                EXAMPLE,
            ));
        }
        if value.split('/').any(|segment| segment == "..") {
            return Err(Invalid::new(
                "contains a `..` segment; give the resolved path",
                EXAMPLE,
            ));
        }
        Ok(SafePath(value.to_string()))
    }
}

impl fmt::Display for SafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
string_serde!(SafePath);

impl From<SafePath> for String {
    fn from(value: SafePath) -> String {
        value.to_string()
    }
}
