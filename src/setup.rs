//! Typed, validated inputs. Every value that reaches a config file passes through one
//! `FromStr` here, whether it came from a flag, a YAML key or a wizard answer, so the
//! check and its message are the same everywhere.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a value was refused, and a value that would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub reason: String,
    pub example: String,
}

impl Invalid {
    fn new(reason: impl Into<String>, example: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            example: example.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, e.g. {}", self.reason, self.example)
    }
}

impl std::error::Error for Invalid {}

/// Shown values are cut so that a 10 kB argument does not flood the terminal.
pub(crate) fn shown(value: &str) -> String {
    const MAX: usize = 80;
    let escaped: String = value.escape_debug().collect();
    if escaped.chars().count() <= MAX {
        escaped
    } else {
        let head: String = escaped.chars().take(MAX).collect();
        format!("{head}… ({} characters)", value.chars().count())
    }
}

/// Deserializes a validated value from any YAML scalar (ports and sizes may be written as
/// numbers) through the same `FromStr` as the flag. The check runs inside the visitor so
/// that serde_yaml reports the key and line of the offending value.
macro_rules! string_serde {
    ($ty:ident) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl Visitor {
                    fn parse<E: serde::de::Error>(text: &str) -> Result<$ty, E> {
                        text.parse()
                            .map_err(|e: Invalid| E::custom(format!("\"{}\" {e}", shown(text))))
                    }
                }
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a single value (a string or a number)")
                    }
                    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<$ty, E> {
                        Self::parse(&v.to_string())
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$ty, E> {
                        Self::parse(&v.to_string())
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$ty, E> {
                        Self::parse(&v.to_string())
                    }
                    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<$ty, E> {
                        Self::parse(&v.to_string())
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        Self::parse(v)
                    }
                }
                deserializer.deserialize_any(Visitor)
            }
        }
    };
}

/// Characters that could end a config token or start a new directive in one of the
/// generated formats (nginx, apache, Caddyfile, YAML), or a comment.
fn first_unsafe_char(value: &str) -> Option<char> {
    value.chars().find(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(
                c,
                ';' | '{' | '}' | '"' | '\'' | '`' | '#' | '$' | '\\' | '<' | '>' | '|' | '&' | '*'
            )
    })
}

fn describe_char(c: char) -> String {
    match c {
        '\n' => "a newline".into(),
        '\r' => "a carriage return".into(),
        '\t' => "a tab".into(),
        ' ' => "a space".into(),
        '`' => "a backtick".into(),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

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

fn parse_dns_name(value: &str, example: &str) -> Result<DnsName, Invalid> {
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

/// A TCP port, 1–65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "u16")]
pub struct Port(u16);

impl Port {
    pub const fn new_unchecked(port: u16) -> Port {
        Port(port)
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl From<Port> for u16 {
    fn from(value: Port) -> u16 {
        value.0
    }
}

impl FromStr for Port {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        const EXAMPLE: &str = "8448";
        if value.is_empty() || !value.chars().all(|c| c.is_ascii_digit()) {
            return Err(Invalid::new("is not a number from 1 to 65535", EXAMPLE));
        }
        match value.parse::<u32>() {
            Ok(port @ 1..=65535) => Ok(Port(port as u16)),
            _ => Err(Invalid::new("is out of range (1-65535)", EXAMPLE)),
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

string_serde!(Port);

/// The host part of an upstream: a name (which may be a single label, such as a compose
/// service), an IPv4 address or an IPv6 address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamHost {
    Name(DnsName),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl UpstreamHost {
    pub fn is_loopback(&self) -> bool {
        match self {
            UpstreamHost::Name(name) => name.as_str() == "localhost",
            UpstreamHost::V4(ip) => ip.is_loopback(),
            UpstreamHost::V6(ip) => ip.is_loopback(),
        }
    }
}

impl fmt::Display for UpstreamHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamHost::Name(name) => name.fmt(f),
            UpstreamHost::V4(ip) => ip.fmt(f),
            UpstreamHost::V6(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// Where the homeserver listens for plain HTTP from the proxy: `HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Upstream {
    pub host: UpstreamHost,
    pub port: Port,
}

impl FromStr for Upstream {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        const EXAMPLE: &str = "127.0.0.1:6167";
        if let Some(c) = first_unsafe_char(value) {
            return Err(Invalid::new(
                format!(
                    "contains {}, which is not allowed in HOST:PORT",
                    describe_char(c)
                ),
                EXAMPLE,
            ));
        }
        if value.contains("://") {
            return Err(Invalid::new("expected HOST:PORT without a scheme", EXAMPLE));
        }
        if let Some(rest) = value.strip_prefix('[') {
            let Some((ip, port)) = rest.split_once("]:") else {
                return Err(Invalid::new("expected [IPv6]:PORT", "[::1]:6167"));
            };
            let ip = ip
                .parse::<Ipv6Addr>()
                .map_err(|_| Invalid::new("has an invalid IPv6 address", "[::1]:6167"))?;
            let port = port
                .parse::<Port>()
                .map_err(|e| Invalid::new(format!("port {}", e.reason), EXAMPLE))?;
            return Ok(Upstream {
                host: UpstreamHost::V6(ip),
                port,
            });
        }
        let Some((host, port)) = value.rsplit_once(':') else {
            return Err(Invalid::new("expected HOST:PORT", EXAMPLE));
        };
        if host.contains(':') {
            return Err(Invalid::new(
                "an IPv6 address needs brackets: [IPv6]:PORT",
                "[::1]:6167",
            ));
        }
        let port = port
            .parse::<Port>()
            .map_err(|e| Invalid::new(format!("port {}", e.reason), EXAMPLE))?;
        let host = if let Ok(ip) = host.parse::<Ipv4Addr>() {
            UpstreamHost::V4(ip)
        } else {
            UpstreamHost::Name(
                parse_dns_name(host, EXAMPLE)
                    .map_err(|e| Invalid::new(format!("host {}", e.reason), e.example))?,
            )
        };
        Ok(Upstream { host, port })
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}
string_serde!(Upstream);

impl From<Upstream> for String {
    fn from(value: Upstream) -> String {
        value.to_string()
    }
}

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

/// An IP address the proxies listen on, instead of every address of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct ListenAddress(pub std::net::IpAddr);

impl FromStr for ListenAddress {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        let bare = value
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(value);
        bare.parse().map(ListenAddress).map_err(|_| {
            Invalid::new(
                "is not an IP address (ports come from --federation-port and the defaults 80/443)",
                "203.0.113.7",
            )
        })
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
string_serde!(ListenAddress);

impl From<ListenAddress> for String {
    fn from(value: ListenAddress) -> String {
        value.to_string()
    }
}

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

/// The homeserver software behind the proxy. The facts that differ between them live in
/// `crate::homeserver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(into = "String")]
pub enum Homeserver {
    #[default]
    Conduit,
    Synapse,
    Continuwuity,
    Tuwunel,
    Dendrite,
}

impl Homeserver {
    pub const ALL: &[Homeserver] = &[
        Homeserver::Conduit,
        Homeserver::Synapse,
        Homeserver::Continuwuity,
        Homeserver::Tuwunel,
        Homeserver::Dendrite,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Homeserver::Conduit => "conduit",
            Homeserver::Synapse => "synapse",
            Homeserver::Continuwuity => "continuwuity",
            Homeserver::Tuwunel => "tuwunel",
            Homeserver::Dendrite => "dendrite",
        }
    }
}

impl FromStr for Homeserver {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        Homeserver::ALL
            .iter()
            .copied()
            .find(|h| h.name() == value)
            .ok_or_else(|| {
                Invalid::new(
                    "is not a supported homeserver (supported: conduit, synapse, continuwuity, \
                     tuwunel, dendrite)",
                    "synapse",
                )
            })
    }
}

impl fmt::Display for Homeserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
string_serde!(Homeserver);

impl From<Homeserver> for String {
    fn from(value: Homeserver) -> String {
        value.to_string()
    }
}

/// What `--homeserver` and `homeserver:` accept: a supported homeserver, or the name of
/// an abandoned one that stands for its successor (and earns a warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HomeserverName {
    pub homeserver: Homeserver,
    /// The abandoned name that was given, if it was one.
    pub retired: Option<&'static str>,
}

impl HomeserverName {
    /// conduwuit was archived in 2025. tuwunel's README calls itself "the official
    /// successor to conduwuit" and migration "a binary swap" that still reads
    /// `CONDUWUIT_` variables (matrix-construct/tuwunel README.md, "Migrating from
    /// conduwuit"); continuwuity is the community continuation (continuwuity/continuwuity
    /// README.md). The alias picks tuwunel and the warning names both.
    pub const CONDUWUIT: &str = "conduwuit";

    /// Printed once on stderr when a retired name was given.
    pub fn warning(self) -> Option<String> {
        self.retired.map(|name| {
            format!(
                "`{name}` is abandoned (its repository is archived); generating for {}, its official \
                 successor, which migrates in place. For the community fork use --homeserver continuwuity",
                self.homeserver
            )
        })
    }
}

impl From<Homeserver> for HomeserverName {
    fn from(homeserver: Homeserver) -> Self {
        HomeserverName {
            homeserver,
            retired: None,
        }
    }
}

impl FromStr for HomeserverName {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        if value == Self::CONDUWUIT {
            return Ok(HomeserverName {
                homeserver: Homeserver::Tuwunel,
                retired: Some(Self::CONDUWUIT),
            });
        }
        value.parse::<Homeserver>().map(HomeserverName::from)
    }
}

impl fmt::Display for HomeserverName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.retired.unwrap_or(self.homeserver.name()))
    }
}
string_serde!(HomeserverName);

/// The reverse proxies mxproxy renders for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub enum Proxy {
    Nginx,
    Apache,
    Caddy,
    Traefik,
    Haproxy,
}

impl Proxy {
    pub const ALL: &[Proxy] = &[
        Proxy::Nginx,
        Proxy::Apache,
        Proxy::Caddy,
        Proxy::Traefik,
        Proxy::Haproxy,
    ];
    /// Without `--proxy`: the four that most single-machine installs choose between.
    pub const DEFAULT: &[Proxy] = &[Proxy::Nginx, Proxy::Apache, Proxy::Caddy, Proxy::Traefik];

    pub fn name(self) -> &'static str {
        match self {
            Proxy::Nginx => "nginx",
            Proxy::Apache => "apache",
            Proxy::Caddy => "caddy",
            Proxy::Traefik => "traefik",
            Proxy::Haproxy => "haproxy",
        }
    }
}

impl FromStr for Proxy {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        Proxy::ALL
            .iter()
            .copied()
            .find(|p| p.name() == value)
            .ok_or_else(|| {
                Invalid::new(
                    "is not a supported proxy (supported: nginx, apache, caddy, traefik, haproxy)",
                    "nginx",
                )
            })
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
string_serde!(Proxy);

impl From<Proxy> for String {
    fn from(value: Proxy) -> String {
        value.to_string()
    }
}

/// How the proxies get their certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(into = "String")]
pub enum TlsMode {
    #[default]
    Acme,
    Files,
    None,
}

impl TlsMode {
    pub fn name(self) -> &'static str {
        match self {
            TlsMode::Acme => "acme",
            TlsMode::Files => "files",
            TlsMode::None => "none",
        }
    }
}

impl FromStr for TlsMode {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        match value {
            "acme" => Ok(TlsMode::Acme),
            "files" => Ok(TlsMode::Files),
            "none" => Ok(TlsMode::None),
            _ => Err(Invalid::new(
                "is not a TLS mode (acme, files or none)",
                "acme",
            )),
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
string_serde!(TlsMode);

impl From<TlsMode> for String {
    fn from(value: TlsMode) -> String {
        value.to_string()
    }
}

/// Certificates: obtained automatically, given as files, or left to a terminator in front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    Acme { email: Option<Email> },
    Files { cert: SafePath, key: SafePath },
    None,
}

impl Tls {
    pub fn mode(&self) -> TlsMode {
        match self {
            Tls::Acme { .. } => TlsMode::Acme,
            Tls::Files { .. } => TlsMode::Files,
            Tls::None => TlsMode::None,
        }
    }
}

/// The ingress controller a Kubernetes cluster routes with; it decides the annotations
/// and, for Traefik, the middleware objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum IngressClass {
    /// ingress-nginx (kubernetes/ingress-nginx), IngressClass `nginx`.
    Nginx,
    /// Traefik's Kubernetes Ingress provider, IngressClass `traefik`.
    Traefik,
}

impl IngressClass {
    pub fn name(self) -> &'static str {
        match self {
            IngressClass::Nginx => "nginx",
            IngressClass::Traefik => "traefik",
        }
    }
}

impl FromStr for IngressClass {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        match value {
            "nginx" => Ok(IngressClass::Nginx),
            "traefik" => Ok(IngressClass::Traefik),
            _ => Err(Invalid::new(
                "is not an ingress class mxproxy writes annotations for (nginx or traefik); \
                 for another controller use --gateway with its Gateway",
                "nginx",
            )),
        }
    }
}

impl fmt::Display for IngressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
string_serde!(IngressClass);

impl From<IngressClass> for String {
    fn from(value: IngressClass) -> String {
        value.to_string()
    }
}

/// A Kubernetes object name. Namespaces must be RFC 1123 labels (at most 63 characters);
/// most other objects (ClusterIssuer, Gateway) RFC 1123 subdomains (at most 253, dots
/// allowed). Both: lower-case letters, digits and `-`, starting and ending alphanumeric
/// (kubernetes.io/docs/concepts/overview/working-with-objects/names/).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct KubeName(String);

impl KubeName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parse(value: &str, max: usize, dots: bool, example: &str) -> Result<KubeName, Invalid> {
        let what = if dots {
            "a Kubernetes object name"
        } else {
            "a Kubernetes namespace name"
        };
        if value.is_empty() {
            return Err(Invalid::new("is empty", example));
        }
        if value.len() > max {
            return Err(Invalid::new(
                format!(
                    "is {} characters long; {what} has at most {max}",
                    value.len()
                ),
                example,
            ));
        }
        if !dots && value.contains('.') {
            return Err(Invalid::new(
                format!("contains `.`; {what} has only lower-case letters, digits and `-`"),
                example,
            ));
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        for label in value.split('.') {
            if let Some(c) = label.chars().find(|c| !allowed(*c)) {
                return Err(Invalid::new(
                    format!(
                        "contains {}; {what} has only lower-case letters, digits and `-`{}",
                        describe_char(c),
                        if dots { " (and `.`)" } else { "" }
                    ),
                    example,
                ));
            }
            let alphanumeric = |c: Option<char>| c.is_some_and(|c| c != '-');
            if !alphanumeric(label.chars().next()) || !alphanumeric(label.chars().last()) {
                return Err(Invalid::new(
                    format!("must start and end with a letter or digit to be {what}"),
                    example,
                ));
            }
        }
        Ok(KubeName(value.to_string()))
    }

    /// A namespace: an RFC 1123 label.
    pub fn namespace(value: &str) -> Result<KubeName, Invalid> {
        Self::parse(value, 63, false, "matrix")
    }
}

impl FromStr for KubeName {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        Self::parse(value, 253, true, "letsencrypt")
    }
}

impl fmt::Display for KubeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
string_serde!(KubeName);

impl From<KubeName> for String {
    fn from(value: KubeName) -> String {
        value.0
    }
}

/// `--namespace`: a [`KubeName`] held to the namespace rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Namespace(pub KubeName);

impl FromStr for Namespace {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        KubeName::namespace(value).map(Namespace)
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
string_serde!(Namespace);

impl From<Namespace> for String {
    fn from(value: Namespace) -> String {
        value.0.0
    }
}

/// `--gateway [NAMESPACE/]NAME`: an existing Gateway API Gateway, often in a namespace of
/// its own, that the HTTPRoutes attach to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct GatewayRef {
    pub namespace: Option<KubeName>,
    pub name: KubeName,
}

impl FromStr for GatewayRef {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        let example = |e: Invalid| Invalid::new(e.reason, "gateway-system/public");
        match value.split_once('/') {
            Some((namespace, name)) => Ok(GatewayRef {
                namespace: Some(KubeName::namespace(namespace).map_err(example)?),
                name: name.parse().map_err(example)?,
            }),
            None => Ok(GatewayRef {
                namespace: None,
                name: value.parse().map_err(example)?,
            }),
        }
    }
}

impl fmt::Display for GatewayRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{namespace}/{}", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}
string_serde!(GatewayRef);

impl From<GatewayRef> for String {
    fn from(value: GatewayRef) -> String {
        value.to_string()
    }
}

/// How the cluster routes outside traffic to the homeserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubernetesRouting {
    Ingress(IngressClass),
    Gateway(GatewayRef),
}

/// `--kubernetes`: manifests for a cluster instead of proxy configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kubernetes {
    pub routing: KubernetesRouting,
    /// cert-manager ClusterIssuer for the Ingress certificate (`--tls acme` with an Ingress).
    pub cluster_issuer: Option<KubeName>,
    pub namespace: Namespace,
}

/// One complete, valid setup. Once this exists, every rendering of it is well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub server_name: ServerName,
    pub homeserver_host: Host,
    pub homeserver: Homeserver,
    pub upstream: Upstream,
    /// `None` turns federation off.
    pub federation_port: Option<Port>,
    pub tls: Tls,
    pub max_upload: ByteSize,
    pub webroot: SafePath,
    /// Empty: every address of the machine.
    pub listen_addresses: Vec<ListenAddress>,
    pub proxies: Vec<Proxy>,
    pub compose: bool,
    /// `--kubernetes`: write manifests to `kubernetes/` instead of proxy configs.
    pub kubernetes: Option<Kubernetes>,
    /// Forward the homeserver's admin API prefixes too (`--expose-admin`).
    pub expose_admin: bool,
    /// Printed on stderr before anything is written: choices that work but deserve a
    /// second look (a retired homeserver name, an exposed admin API).
    pub warnings: Vec<String>,
    pub out: PathBuf,
}

/// Where `generate` puts the files below `--out`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// A folder per proxy: nginx/, apache/, caddy/, traefik/, well-known/
    #[default]
    Folder,
    /// Where Debian's packages read them: etc/nginx/sites-available/, etc/apache2/sites-available/, etc/caddy/, the webroot
    Debian,
}

impl Layout {
    /// The `--layout` value that selects it.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Folder => "folder",
            Layout::Debian => "debian",
        }
    }
}
