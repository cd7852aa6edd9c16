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

string_serde!(read_only Port);

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

    /// An IP address rather than a name.
    pub fn is_address(&self) -> bool {
        !matches!(self, UpstreamHost::Name(_))
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

impl Upstream {
    /// The compose service this upstream reaches: the stack names a service after the host
    /// the proxy is told to reach (`synapse:8008` is the service `synapse`), so that the name
    /// the proxy resolves on the stack's network is the service's. An address keeps `default`.
    pub fn compose_service(&self, default: &str) -> String {
        match &self.host {
            UpstreamHost::Name(name) => name.to_string(),
            _ => default.into(),
        }
    }
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

string_serde!(ListenAddress(std::net::IpAddr));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::testing::{accepts, refuses};

    #[test]
    fn ports_from_1_to_65535_are_accepted() {
        for (value, port) in [
            ("1", 1),
            ("443", 443),
            ("8448", 8448),
            ("65535", 65535),
            ("08448", 8448),
        ] {
            let accepted: Port = accepts(value);
            assert_eq!(accepted.get(), port, "{value:?}");
            assert_eq!(u16::from(accepted), port, "{value:?}");
            assert_eq!(accepted, Port::new_unchecked(port), "{value:?}");
            assert_eq!(accepted.to_string(), port.to_string(), "{value:?}");
        }
    }

    #[test]
    fn ports_out_of_range_or_not_numbers_are_refused() {
        for (value, reason) in [
            ("0", "is out of range (1-65535)"),
            ("65536", "is out of range (1-65535)"),
            ("4294967296", "is out of range (1-65535)"),
            ("99999999999999999999", "is out of range (1-65535)"),
            ("", "is not a number from 1 to 65535"),
            ("-1", "is not a number from 1 to 65535"),
            ("+8448", "is not a number from 1 to 65535"),
            ("84 48", "is not a number from 1 to 65535"),
            ("8448 ", "is not a number from 1 to 65535"),
            ("0x1f90", "is not a number from 1 to 65535"),
            ("https", "is not a number from 1 to 65535"),
            ("٨٤٤٨", "is not a number from 1 to 65535"),
        ] {
            refuses::<Port>(value, reason, "8448");
        }
    }

    #[test]
    fn upstreams_are_read_as_host_and_port() {
        let v4 = |a, b, c, d| UpstreamHost::V4(Ipv4Addr::new(a, b, c, d));
        let name = |name: &str| UpstreamHost::Name(accepts(name));
        for (value, host, port, shown) in [
            ("127.0.0.1:6167", v4(127, 0, 0, 1), 6167, "127.0.0.1:6167"),
            ("10.0.0.2:8008", v4(10, 0, 0, 2), 8008, "10.0.0.2:8008"),
            (
                "[::1]:6167",
                UpstreamHost::V6(Ipv6Addr::LOCALHOST),
                6167,
                "[::1]:6167",
            ),
            // IPv6 is written back in its short form.
            (
                "[0:0:0:0:0:0:0:1]:6167",
                UpstreamHost::V6(Ipv6Addr::LOCALHOST),
                6167,
                "[::1]:6167",
            ),
            (
                "[2001:db8::1]:8008",
                UpstreamHost::V6("2001:db8::1".parse().unwrap()),
                8008,
                "[2001:db8::1]:8008",
            ),
            ("localhost:6167", name("localhost"), 6167, "localhost:6167"),
            // A compose service name has no dot.
            ("synapse:8008", name("synapse"), 8008, "synapse:8008"),
            (
                "homeserver.internal:8008",
                name("homeserver.internal"),
                8008,
                "homeserver.internal:8008",
            ),
        ] {
            let upstream: Upstream = accepts(value);
            assert_eq!(upstream.host, host, "{value:?}");
            assert_eq!(upstream.port.get(), port, "{value:?}");
            assert_eq!(upstream.to_string(), shown, "{value:?}");
            assert_eq!(String::from(upstream), shown, "{value:?}");
        }
    }

    #[test]
    fn loopback_upstreams_are_recognised() {
        for (value, loopback) in [
            ("127.0.0.1:6167", true),
            ("127.1.2.3:6167", true),
            ("[::1]:6167", true),
            ("localhost:6167", true),
            ("10.0.0.2:6167", false),
            ("[2001:db8::1]:6167", false),
            ("synapse:8008", false),
            ("localhost.example.com:8008", false),
        ] {
            assert_eq!(
                accepts::<Upstream>(value).host.is_loopback(),
                loopback,
                "{value:?}"
            );
        }
    }

    /// (value, reason, example), in the order the checks run: characters, scheme,
    /// brackets, port, then host.
    #[test]
    fn malformed_upstreams_are_refused_with_the_reason() {
        const EXAMPLE: &str = "127.0.0.1:6167";
        const V6_EXAMPLE: &str = "[::1]:6167";
        for (value, reason, example) in [
            (
                "127.0.0.1:6167;",
                "contains `;`, which is not allowed in HOST:PORT",
                EXAMPLE,
            ),
            (
                "127.0.0.1 :6167",
                "contains a space, which is not allowed in HOST:PORT",
                EXAMPLE,
            ),
            (
                "127.0.0.1:6167\n",
                "contains a newline, which is not allowed in HOST:PORT",
                EXAMPLE,
            ),
            (
                "http://127.0.0.1:6167",
                "expected HOST:PORT without a scheme",
                EXAMPLE,
            ),
            ("[::1]", "expected [IPv6]:PORT", V6_EXAMPLE),
            ("[::1]6167", "expected [IPv6]:PORT", V6_EXAMPLE),
            ("[::zz]:6167", "has an invalid IPv6 address", V6_EXAMPLE),
            (
                "[127.0.0.1]:6167",
                "has an invalid IPv6 address",
                V6_EXAMPLE,
            ),
            ("[::1]:0", "port is out of range (1-65535)", EXAMPLE),
            ("[::1]:", "port is not a number from 1 to 65535", EXAMPLE),
            ("localhost", "expected HOST:PORT", EXAMPLE),
            ("", "expected HOST:PORT", EXAMPLE),
            (
                "::1:6167",
                "an IPv6 address needs brackets: [IPv6]:PORT",
                V6_EXAMPLE,
            ),
            ("127.0.0.1:0", "port is out of range (1-65535)", EXAMPLE),
            ("127.0.0.1:65536", "port is out of range (1-65535)", EXAMPLE),
            (
                "127.0.0.1:http",
                "port is not a number from 1 to 65535",
                EXAMPLE,
            ),
            (
                "127.0.0.1:",
                "port is not a number from 1 to 65535",
                EXAMPLE,
            ),
            // The port is checked before the host.
            ("my_host:0", "port is out of range (1-65535)", EXAMPLE),
            (":6167", "host is empty", EXAMPLE),
            (
                "my_host:6167",
                "host has an underscore, which host names and certificates do not allow",
                EXAMPLE,
            ),
            (
                "256.0.0.1:6167",
                "host looks like an IP address or ends in an all-numeric label, which is no DNS name",
                EXAMPLE,
            ),
            // The host's own example, where it is the corrected name.
            (
                "Synapse:8008",
                "host has upper-case letters; Matrix ids and certificates use the lower-case form",
                "synapse",
            ),
            (
                "synapse.:8008",
                "host ends with a dot; write the name without the trailing dot",
                "synapse",
            ),
            (
                "bücher.example:8008",
                "host has non-ASCII characters; write an internationalised name in its punycode form",
                "xn--bcher-kva.example",
            ),
        ] {
            refuses::<Upstream>(value, reason, example);
        }
    }

    #[test]
    fn listen_addresses_are_ip_addresses_with_or_without_brackets() {
        for (value, shown) in [
            ("203.0.113.7", "203.0.113.7"),
            ("0.0.0.0", "0.0.0.0"),
            ("::1", "::1"),
            ("[::1]", "::1"),
            ("[2001:db8:0::1]", "2001:db8::1"),
        ] {
            let address: ListenAddress = accepts(value);
            assert_eq!(address.to_string(), shown, "{value:?}");
            assert_eq!(String::from(address), shown, "{value:?}");
        }
        for value in [
            "0.0.0.0.0",
            "203.0.113.7:443",
            "[::1]:443",
            "[::1",
            "::1]",
            "localhost",
            "",
        ] {
            refuses::<ListenAddress>(
                value,
                "is not an IP address (ports come from --federation-port and the defaults 80/443)",
                "203.0.113.7",
            );
        }
    }
}
