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

/// The checks run in this order, and a name that breaks two rules is refused for the
/// first. A name is never rewritten: where a fixed form exists (punycode, lower case, no
/// trailing dot), it is the example, and the user decides.
pub(super) fn parse_dns_name(value: &str, example: &str) -> Result<DnsName, Invalid> {
    if value.is_empty() {
        return Err(Invalid::new("is empty", example));
    }
    refuse_non_ascii(value, example)?;
    refuse_whole_name(value, example)?;
    check_labels(value, example)?;
    Ok(DnsName(value.to_string()))
}

/// IDNA: certificates and `Host` headers carry the punycode form, so that is what the
/// user is asked to write.
fn refuse_non_ascii(value: &str, example: &str) -> Result<(), Invalid> {
    if value.is_ascii() {
        return Ok(());
    }
    Err(match idna::domain_to_ascii(value) {
        Ok(ascii) if !ascii.is_empty() => Invalid::new(
            "has non-ASCII characters; write an internationalised name in its punycode form",
            ascii,
        ),
        _ => Invalid::new(
            "has non-ASCII characters and is no valid domain name",
            example,
        ),
    })
}

/// Rules on the name as a whole, before its labels are looked at: characters that would
/// break a config line, the length, and the spellings DNS treats as the same name (a
/// trailing dot, upper case), so that a name appears in one form in user ids and configs.
fn refuse_whole_name(value: &str, example: &str) -> Result<(), Invalid> {
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
    Ok(())
}

/// Each label: 1-63 letters, digits and inner hyphens (the RFC 1123 host name rule); the
/// last one not all digits, or an IPv4 address would pass as a name.
fn check_labels(value: &str, example: &str) -> Result<(), Invalid> {
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
    Ok(())
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

string_serde!(ServerName(DnsName));

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

string_serde!(Host(DnsName));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::testing::{accepts, refuses};

    const NAME_EXAMPLE: &str = "matrix.example.com";

    #[test]
    fn dns_names_are_accepted_unchanged() {
        let label_63 = "a".repeat(63);
        let longest = format!("{label_63}.{label_63}.{label_63}.{}", "a".repeat(61));
        assert_eq!(longest.len(), 253);
        for value in [
            "matrix.example.com",
            "localhost",
            "a-b.c0.example",
            "xn--bcher-kva.example",
            "123.example.com",
            "a--b.example",
            &format!("{label_63}.com"),
            &longest,
        ] {
            let name: DnsName = accepts(value);
            assert_eq!(name.as_str(), value);
            assert_eq!(name.to_string(), value);
            assert_eq!(String::from(name), value);
        }
        assert!(accepts::<DnsName>("example.com").has_dot());
        assert!(!accepts::<DnsName>("localhost").has_dot());
    }

    #[test]
    fn a_dns_name_is_prefixed_with_a_label() {
        let name: DnsName = accepts("example.com");
        assert_eq!(
            name.prefixed("matrix").unwrap().as_str(),
            "matrix.example.com"
        );
        let long: DnsName = accepts(&format!("{0}.{0}.{0}.{1}", "a".repeat(63), "a".repeat(56)));
        assert_eq!(
            long.prefixed("matrix").unwrap_err().reason,
            "is 255 characters long; a DNS name has at most 253"
        );
    }

    /// (value, reason, example): in the order the checks run, since a value that breaks
    /// two rules is refused for the first.
    #[test]
    fn malformed_dns_names_are_refused_with_the_reason() {
        let too_long = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "a".repeat(62));
        let long_label = format!("{}.com", "a".repeat(64));
        for (value, reason, example) in [
            ("", "is empty", NAME_EXAMPLE),
            // Non-ASCII names are refused; the example is the punycode form to write instead.
            (
                "bücher.example",
                "has non-ASCII characters; write an internationalised name in its punycode form",
                "xn--bcher-kva.example",
            ),
            (
                "BÜCHER.example",
                "has non-ASCII characters; write an internationalised name in its punycode form",
                "xn--bcher-kva.example",
            ),
            (
                "\u{fffd}.com",
                "has non-ASCII characters and is no valid domain name",
                NAME_EXAMPLE,
            ),
            // IDNA maps a soft hyphen to nothing: no name is left to suggest.
            (
                "\u{ad}",
                "has non-ASCII characters and is no valid domain name",
                NAME_EXAMPLE,
            ),
            (
                "example.com;",
                "contains `;`, which is not allowed in a host name",
                NAME_EXAMPLE,
            ),
            (
                "example.com\nserver_name evil.com",
                "contains a newline, which is not allowed in a host name",
                NAME_EXAMPLE,
            ),
            (
                "example.com { }",
                "contains a space, which is not allowed in a host name",
                NAME_EXAMPLE,
            ),
            (
                "exa`mple.com",
                "contains a backtick, which is not allowed in a host name",
                NAME_EXAMPLE,
            ),
            (
                "example.com\u{7}",
                "contains the control character U+0007, which is not allowed in a host name",
                NAME_EXAMPLE,
            ),
            (
                &too_long,
                "is 254 characters long; a DNS name has at most 253",
                NAME_EXAMPLE,
            ),
            // Trailing dots and upper case: the example is the name as it should be written.
            (
                "example.com.",
                "ends with a dot; write the name without the trailing dot",
                "example.com",
            ),
            (
                "example.com..",
                "ends with a dot; write the name without the trailing dot",
                "example.com",
            ),
            (
                "Example.com.",
                "ends with a dot; write the name without the trailing dot",
                "Example.com",
            ),
            (
                "Matrix.Example.COM",
                "has upper-case letters; Matrix ids and certificates use the lower-case form",
                "matrix.example.com",
            ),
            (
                "example..com",
                "has an empty label (two dots in a row, or a leading dot)",
                NAME_EXAMPLE,
            ),
            (
                ".example.com",
                "has an empty label (two dots in a row, or a leading dot)",
                NAME_EXAMPLE,
            ),
            (
                &long_label,
                "has a label of 64 characters; a DNS label has at most 63",
                NAME_EXAMPLE,
            ),
            (
                "my_host.example.com",
                "has an underscore, which host names and certificates do not allow",
                NAME_EXAMPLE,
            ),
            (
                "example.com:8448",
                "contains `:`, which is not allowed in a host name",
                NAME_EXAMPLE,
            ),
            (
                "example.com/path",
                "contains `/`, which is not allowed in a host name",
                NAME_EXAMPLE,
            ),
            (
                "-example.com",
                "has the label `-example`, which starts or ends with a hyphen",
                NAME_EXAMPLE,
            ),
            (
                "matrix.example-.com",
                "has the label `example-`, which starts or ends with a hyphen",
                NAME_EXAMPLE,
            ),
            (
                "203.0.113.7",
                "looks like an IP address or ends in an all-numeric label, which is no DNS name",
                NAME_EXAMPLE,
            ),
            (
                "example.123",
                "looks like an IP address or ends in an all-numeric label, which is no DNS name",
                NAME_EXAMPLE,
            ),
        ] {
            refuses::<DnsName>(value, reason, example);
        }
    }

    #[test]
    fn server_names_are_accepted_unchanged() {
        for value in ["example.com", "a-b.c0.example", "xn--bcher-kva.example"] {
            let name: ServerName = accepts(value);
            assert_eq!(name.host().as_str(), value);
            assert_eq!(name.to_string(), value);
            assert_eq!(String::from(name), value);
        }
    }

    /// The Matrix grammar allows IP literals and ports; they skip `.well-known`
    /// delegation, so they are refused with that reason instead of a DNS one.
    #[test]
    fn server_names_that_skip_delegation_are_refused() {
        const IP_LITERAL: &str = "is an IP literal; Matrix allows it, but other servers then skip \
             /.well-known delegation and no public certificate covers it, so use a DNS name";
        let port = |port: &str| {
            format!(
                "has an explicit port; Matrix allows it, but the port becomes part of every user \
                 id forever and other servers skip /.well-known delegation; use the bare name and \
                 --federation-port {port} instead"
            )
        };
        for (value, reason, example) in [
            ("203.0.113.7", IP_LITERAL.to_string(), "example.com"),
            ("[2001:db8::1]", IP_LITERAL.to_string(), "example.com"),
            ("[2001:db8::1]:8448", IP_LITERAL.to_string(), "example.com"),
            ("example.com:8448", port("8448"), "example.com"),
            ("localhost:443", port("443"), "localhost"),
            // Not a port: refused by the DNS rules.
            (
                "example.com:",
                "contains `:`, which is not allowed in a host name".into(),
                "example.com",
            ),
            (
                ":8448",
                "contains `:`, which is not allowed in a host name".into(),
                "example.com",
            ),
            (
                "example.com:84a",
                "contains `:`, which is not allowed in a host name".into(),
                "example.com",
            ),
            (
                "localhost",
                "has no dot; other servers can only reach a public DNS name".into(),
                "example.com",
            ),
            // The DNS rules, with the server name's example.
            ("", "is empty".into(), "example.com"),
            (
                "203.0.113",
                "looks like an IP address or ends in an all-numeric label, which is no DNS name"
                    .into(),
                "example.com",
            ),
            (
                "Example.com",
                "has upper-case letters; Matrix ids and certificates use the lower-case form"
                    .into(),
                "example.com",
            ),
            (
                "example.com;",
                "contains `;`, which is not allowed in a host name".into(),
                "example.com",
            ),
        ] {
            refuses::<ServerName>(value, &reason, example);
        }
    }

    #[test]
    fn homeserver_hosts_are_accepted_unchanged() {
        for value in ["matrix.example.com", "a-b.c0.example"] {
            let host: Host = accepts(value);
            assert_eq!(host.name().as_str(), value);
            assert_eq!(host.to_string(), value);
            assert_eq!(String::from(host), value);
        }
        let name: DnsName = accepts("matrix.example.com");
        assert_eq!(Host::from(name.clone()).name(), &name);
    }

    #[test]
    fn homeserver_hosts_with_a_port_scheme_or_address_are_refused() {
        const BARE: &str = "must be a bare DNS name: no port, no scheme and no IP address (ports have their own flags)";
        for (value, reason) in [
            ("matrix.example.com:8448", BARE),
            ("https://matrix.example.com", BARE),
            ("203.0.113.7", BARE),
            ("[::1]", BARE),
            ("matrix", "has no dot; clients need a public DNS name"),
            ("", "is empty"),
            (
                "matrix.example.com;include /etc/passwd",
                "contains `;`, which is not allowed in a host name",
            ),
            (
                "matrix..example.com",
                "has an empty label (two dots in a row, or a leading dot)",
            ),
        ] {
            refuses::<Host>(value, reason, NAME_EXAMPLE);
        }
    }
}
