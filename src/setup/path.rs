//! File-system paths printed into config files.

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

string_serde!(SafePath(String));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::testing::{accepts, refuses};

    #[test]
    fn absolute_paths_of_safe_characters_are_accepted_unchanged() {
        let longest = format!("/{}", "a".repeat(1023));
        for value in [
            "/etc/ssl/matrix/fullchain.pem",
            "/var/www/html",
            "/",
            "/a/b+c@d=e,f_g-h.i",
            "/var/www/./x",
            "/var/www/..x/y..",
            &longest,
        ] {
            let path: SafePath = accepts(value);
            assert_eq!(path.as_str(), value);
            assert_eq!(path.to_string(), value);
            assert_eq!(String::from(path), value);
        }
    }

    /// Characters are checked first, so a relative path with a space is refused for the space.
    #[test]
    fn unsafe_relative_long_or_parent_paths_are_refused() {
        const LIMITED: &str = "paths are limited to letters, digits and / . _ - + @ = , so they cannot break a config line";
        let too_long = format!("/{}", "a".repeat(1024));
        for (value, reason) in [
            ("", "is empty".to_string()),
            ("/var/www/a b", format!("contains a space; {LIMITED}")),
            ("/var/www/x;y", format!("contains `;`; {LIMITED}")),
            ("/var/www/{x}", format!("contains `{{`; {LIMITED}")),
            ("/etc/ssl/a\nb", format!("contains a newline; {LIMITED}")),
            ("/var/www/$HOME", format!("contains `$`; {LIMITED}")),
            ("/var/www/~x", format!("contains `~`; {LIMITED}")),
            ("/var/www/é", format!("contains `é`; {LIMITED}")),
            ("/var/www/a:b", format!("contains `:`; {LIMITED}")),
            ("/var/www/*", format!("contains `*`; {LIMITED}")),
            ("C:\\ssl", format!("contains `:`; {LIMITED}")),
            ("relative path", format!("contains a space; {LIMITED}")),
            (
                "relative/path",
                "is relative; the proxy resolves paths from its own directory, so give an absolute path".into(),
            ),
            (
                "./fullchain.pem",
                "is relative; the proxy resolves paths from its own directory, so give an absolute path".into(),
            ),
            (&too_long, "is 1025 characters long; at most 1024".into()),
            (
                "/var/www/../../etc",
                "contains a `..` segment; give the resolved path".into(),
            ),
            ("/var/www/..", "contains a `..` segment; give the resolved path".into()),
        ] {
            refuses::<SafePath>(value, &reason, "/etc/ssl/matrix/fullchain.pem");
        }
    }
}
