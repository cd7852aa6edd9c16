//! The server-name grammar as other homeservers read it: `hostname [ ":" port ]`, where the
//! hostname is an IPv4 literal, an `[IPv6]` literal or a DNS name (matrix-spec
//! content/appendices.md "Server Name"). `generate` refuses the IP and port forms as a policy
//! (`setup::ServerName`); `check` has to accept them, because a deployment that uses them
//! exists and discovery treats them differently (steps 1 and 2 of "Resolving server names").
//! The DNS part and the port still go through `setup::DnsName` and `setup::Port`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::setup::{DnsName, Invalid, Port};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameHost {
    Dns(DnsName),
    Ip(IpAddr),
}

impl NameHost {
    /// The form used in a URL authority and a `Host` header (`[::1]` for IPv6).
    pub fn authority(&self) -> String {
        match self {
            NameHost::Dns(name) => name.to_string(),
            NameHost::Ip(IpAddr::V6(ip)) => format!("[{ip}]"),
            NameHost::Ip(IpAddr::V4(ip)) => ip.to_string(),
        }
    }
}

/// A server name or a delegated server name (`m.server`), in the spec's grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixName {
    pub host: NameHost,
    pub port: Option<Port>,
}

impl MatrixName {
    /// `host[:port]`, as a `Host` header carries it.
    pub fn host_header(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host.authority()),
            None => self.host.authority(),
        }
    }
}

impl fmt::Display for MatrixName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host_header())
    }
}

fn invalid(reason: impl Into<String>) -> Invalid {
    Invalid {
        reason: reason.into(),
        example: "example.com".into(),
    }
}

impl FromStr for MatrixName {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        if value.contains("://") || value.contains('/') {
            return Err(invalid(
                "has a scheme or a path; a server name is `host[:port]` only",
            ));
        }
        let (host, port) = if let Some(rest) = value.strip_prefix('[') {
            let (ip, after) = rest
                .split_once(']')
                .ok_or_else(|| invalid("opens an IPv6 literal with `[` but never closes it"))?;
            let ip: Ipv6Addr = ip
                .parse()
                .map_err(|_| invalid(format!("has `[{ip}]`, which is no IPv6 address")))?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(|| {
                    invalid("has text after the IPv6 literal that is no `:port`")
                })?),
            };
            (NameHost::Ip(IpAddr::V6(ip)), port)
        } else {
            let (host, port) = match value.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (value, None),
            };
            let host = match host.parse::<Ipv4Addr>() {
                Ok(ip) => NameHost::Ip(IpAddr::V4(ip)),
                Err(_) => NameHost::Dns(host.parse().map_err(|e: Invalid| invalid(e.reason))?),
            };
            (host, port)
        };
        let port = port
            .map(|port| {
                port.parse::<Port>()
                    .map_err(|e| invalid(format!("port `{port}` {}", e.reason)))
            })
            .transpose()?;
        Ok(MatrixName { host, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_forms() {
        let name: MatrixName = "example.com".parse().unwrap();
        assert_eq!(name.port, None);
        assert!(matches!(name.host, NameHost::Dns(_)));
        let name: MatrixName = "matrix.example.com:443".parse().unwrap();
        assert_eq!(name.port.map(Port::get), Some(443));
        assert_eq!(name.host_header(), "matrix.example.com:443");
        let name: MatrixName = "1.2.3.4:8448".parse().unwrap();
        assert_eq!(name.host, NameHost::Ip("1.2.3.4".parse().unwrap()));
        let name: MatrixName = "[::1]:8448".parse().unwrap();
        assert_eq!(name.host_header(), "[::1]:8448");
        let name: MatrixName = "[2001:db8::1]".parse().unwrap();
        assert_eq!(name.port, None);
    }

    #[test]
    fn refused_forms() {
        for bad in [
            "https://matrix.example.com",
            "matrix.example.com/path",
            "example.com:0",
            "example.com:99999",
            "[::1",
            "[::1]x",
            "Example.com",
            "",
        ] {
            assert!(bad.parse::<MatrixName>().is_err(), "{bad} was accepted");
        }
    }
}
