//! Flags of `mxproxy check`. Kept beside the check (not in `cli.rs`) so that the subcommand
//! adds one line there; the value types parse at the flag, so clap names the flag in errors.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use clap::Args;

use super::name::MatrixName;
use crate::setup::{ByteSize, DnsName, Invalid, Port};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The server name, as in @alice:example.com -> example.com (not the homeserver host)
    #[arg(value_name = "SERVER-NAME")]
    pub server_name: MatrixName,

    /// Print one JSON document (schema: docs/check-output.schema.json) instead of lines
    #[arg(long)]
    pub json: bool,

    /// Connect to ADDR whenever HOST:PORT is asked for, as curl's --resolve; repeatable [e.g. matrix.example.com:443:127.0.0.1]
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<ResolveEntry>,

    /// Also trust the CA certificates (PEM) in this file, for private or staging deployments
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,

    /// Ask this DNS server for SRV, A and AAAA records instead of the system's [e.g. 127.0.0.1:5353]
    #[arg(long, value_name = "ADDR:PORT")]
    pub dns_server: Option<SocketAddr>,

    /// Upload size the proxy must let through to the homeserver; only Content-Length is sent, never the body
    #[arg(long, value_name = "SIZE", default_value = "20M")]
    pub expect_upload: ByteSize,

    /// Seconds one request may take, body included, before it counts as failed
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: u64,

    /// Federation is switched off on purpose: skip server discovery, keys and federation TLS
    #[arg(long)]
    pub no_federation: bool,

    /// Login goes through the Matrix Authentication Service: fail when the homeserver does not announce it (auth_metadata), instead of skipping the MAS checks
    #[arg(long)]
    pub mas: bool,

    /// Calls are deployed (MatrixRTC, `generate --rtc`): fail when the server name's client well-known names no focus (MISSING_MATRIX_RTC_FOCUS), instead of skipping the calls checks
    #[arg(long)]
    pub rtc: bool,
}

/// `HOST:PORT:ADDR`, as curl spells it; ADDR may be an IPv6 address with or without brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveEntry {
    pub host: DnsName,
    pub port: Port,
    pub addr: IpAddr,
}

impl ResolveEntry {
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port.get())
    }
}

impl fmt::Display for ResolveEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.host, self.port, self.addr)
    }
}

impl FromStr for ResolveEntry {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        let example = "matrix.example.com:443:127.0.0.1";
        let invalid = |reason: String| Invalid {
            reason,
            example: example.into(),
        };
        let mut parts = value.splitn(3, ':');
        let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("expected HOST:PORT:ADDR".into()));
        };
        let host: DnsName = host
            .parse()
            .map_err(|e: Invalid| invalid(format!("host `{host}` {}", e.reason)))?;
        let port: Port = port
            .parse()
            .map_err(|e: Invalid| invalid(format!("port `{port}` {}", e.reason)))?;
        let bare = addr
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr);
        let addr: IpAddr = bare
            .parse()
            .map_err(|_| invalid(format!("`{addr}` is no IP address")))?;
        Ok(ResolveEntry { host, port, addr })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_entries() {
        let entry: ResolveEntry = "matrix.example.com:443:127.0.0.1".parse().unwrap();
        assert_eq!(entry.socket_addr(), "127.0.0.1:443".parse().unwrap());
        let entry: ResolveEntry = "example.com:8448:[::1]".parse().unwrap();
        assert_eq!(entry.socket_addr(), "[::1]:8448".parse().unwrap());
        let entry: ResolveEntry = "example.com:8448:::1".parse().unwrap();
        assert_eq!(entry.addr, "::1".parse::<IpAddr>().unwrap());
        for bad in [
            "example.com:443",
            "example.com:x:127.0.0.1",
            "example.com:443:nowhere",
            "exa mple.com:443:127.0.0.1",
        ] {
            assert!(bad.parse::<ResolveEntry>().is_err(), "{bad} was accepted");
        }
    }
}
