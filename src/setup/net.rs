//! Where traffic goes: ports, the upstream homeserver, the addresses to listen on.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::Serialize;

use super::dns::{DnsName, parse_dns_name};
use super::{Invalid, describe_char, first_unsafe_char};

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
