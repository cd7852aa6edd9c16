//! DNS names: the server name in user ids and the host the homeserver answers on.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::Serialize;

use super::{Invalid, describe_char, first_unsafe_char};

/// A DNS name as it appears in a certificate, a `server_name` line and a `Host` header:
/// lower-case ASCII letters, digits and hyphens, in labels of 1–63 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub struct DnsName(String);

impl DnsName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn has_dot(&self) -> bool {
        self.0.contains('.')
    }

    /// `matrix.<name>`, the conventional homeserver host; valid whenever `self` is.
    pub fn prefixed(&self, label: &str) -> Result<DnsName, Invalid> {
        format!("{label}.{}", self.0).parse()
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DnsName {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        parse_dns_name(value, "matrix.example.com")
    }
}

impl From<DnsName> for String {
    fn from(value: DnsName) -> String {
        value.0
    }
}

pub(super) fn parse_dns_name(value: &str, example: &str) -> Result<DnsName, Invalid> {
    if value.is_empty() {
        return Err(Invalid::new("is empty", example));
    }
    if !value.is_ascii() {
        return Err(match idna::domain_to_ascii(value) {
            Ok(ascii) if !ascii.is_empty() => Invalid::new(
                "has non-ASCII characters; write an internationalised name in its punycode form",
                ascii,
            ),
            _ => Invalid::new(
                "has non-ASCII characters and is no valid domain name",
                example,
            ),
        });
    }
    if let Some(c) = first_unsafe_char(value) {
        return Err(Invalid::new(
            format!(
                "contains {}, which is not allowed in a host name",
                describe_char(c)
            ),
            example,
        ));
    }
    if value.len() > 253 {
        return Err(Invalid::new(
            format!(
                "is {} characters long; a DNS name has at most 253",
                value.len()
            ),
            example,
        ));
    }
    if value.ends_with('.') {
        return Err(Invalid::new(
            "ends with a dot; write the name without the trailing dot",
            value.trim_end_matches('.'),
        ));
    }
    if value.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(Invalid::new(
            "has upper-case letters; Matrix ids and certificates use the lower-case form",
            value.to_ascii_lowercase(),
        ));
    }
    for label in value.split('.') {
        if label.is_empty() {
            return Err(Invalid::new(
                "has an empty label (two dots in a row, or a leading dot)",
                example,
            ));
        }
        if label.len() > 63 {
            return Err(Invalid::new(
                format!(
                    "has a label of {} characters; a DNS label has at most 63",
                    label.len()
                ),
                example,
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            let why = if c == '_' {
                "has an underscore, which host names and certificates do not allow".to_string()
            } else {
                format!(
                    "contains {}, which is not allowed in a host name",
                    describe_char(c)
                )
            };
            return Err(Invalid::new(why, example));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(Invalid::new(
                format!("has the label `{label}`, which starts or ends with a hyphen"),
                example,
            ));
        }
    }
    let last = value.rsplit('.').next().unwrap_or_default();
    if last.chars().all(|c| c.is_ascii_digit()) {
        return Err(Invalid::new(
            "looks like an IP address or ends in an all-numeric label, which is no DNS name",
            example,
        ));
    }
    Ok(DnsName(value.to_string()))
}

/// The name in user ids (`@alice:example.com`). mxproxy delegates with `.well-known`,
/// so the forms of the Matrix grammar that skip that lookup are refused with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct ServerName(DnsName);

impl ServerName {
    pub fn host(&self) -> &DnsName {
        &self.0
    }
}

impl FromStr for ServerName {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        const EXAMPLE: &str = "example.com";
        if value.starts_with('[') || value.parse::<Ipv4Addr>().is_ok() {
            return Err(Invalid::new(
                "is an IP literal; Matrix allows it, but other servers then skip \
                 /.well-known delegation and no public certificate covers it, so use a DNS name",
                EXAMPLE,
            ));
        }
        if let Some((host, port)) = value.rsplit_once(':')
            && !host.is_empty()
            && !port.is_empty()
            && port.chars().all(|c| c.is_ascii_digit())
        {
            return Err(Invalid::new(
                format!(
                    "has an explicit port; Matrix allows it, but the port becomes part of every \
                     user id forever and other servers skip /.well-known delegation; use the bare \
                     name and --federation-port {port} instead"
                ),
                host,
            ));
        }
        let name = parse_dns_name(value, EXAMPLE)?;
        if !name.has_dot() {
            return Err(Invalid::new(
                "has no dot; other servers can only reach a public DNS name",
                EXAMPLE,
            ));
        }
        Ok(ServerName(name))
    }
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
string_serde!(ServerName);

impl From<ServerName> for String {
    fn from(value: ServerName) -> String {
        value.to_string()
    }
}

/// The public host name where the homeserver's APIs answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Host(DnsName);

impl Host {
    pub fn name(&self) -> &DnsName {
        &self.0
    }
}

impl From<DnsName> for Host {
    fn from(value: DnsName) -> Self {
        Host(value)
    }
}

impl FromStr for Host {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        const EXAMPLE: &str = "matrix.example.com";
        if value.contains(':') || value.parse::<Ipv4Addr>().is_ok() {
            return Err(Invalid::new(
                "must be a bare DNS name: no port, no scheme and no IP address (ports have their own flags)",
                EXAMPLE,
            ));
        }
        let name = parse_dns_name(value, EXAMPLE)?;
        if !name.has_dot() {
            return Err(Invalid::new(
                "has no dot; clients need a public DNS name",
                EXAMPLE,
            ));
        }
        Ok(Host(name))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
string_serde!(Host);

impl From<Host> for String {
    fn from(value: Host) -> String {
        value.to_string()
    }
}
