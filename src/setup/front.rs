//! What stands in front of the proxy: the addresses trusted to tell the client's address
//! (`--trusted-proxy`), and a CDN whose ranges and header mxproxy knows (`--cdn`).

use std::str::FromStr;

use ipnet::IpNet;
use serde::Serialize;

use super::{Invalid, alternatives};

/// An address block allowed to tell the client's address in a header: a CIDR (`10.0.0.0/8`,
/// `2001:db8::/32`) or one address (`/32` or `/128`). Parsed by `ipnet`; host bits past the
/// prefix are refused rather than dropped (nginx only warns on them, so a typo would widen
/// or shift the trusted block silently), and so is a block that trusts every address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct TrustedProxy(IpNet);

const TRUSTED_EXAMPLE: &str = "10.0.0.0/8";

impl TrustedProxy {
    pub fn net(self) -> IpNet {
        self.0
    }
}

impl FromStr for TrustedProxy {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        let net = match value.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => match value.parse::<std::net::IpAddr>() {
                Ok(ip) => IpNet::from(ip),
                Err(_) => {
                    return Err(Invalid::new(
                        "is not an address block (ADDRESS/PREFIX) or an IP address",
                        TRUSTED_EXAMPLE,
                    ));
                }
            },
        };
        if net.prefix_len() == 0 {
            return Err(Invalid::new(
                "trusts every address, so any client could choose the address the homeserver sees; list the proxies in front",
                TRUSTED_EXAMPLE,
            ));
        }
        if net.trunc() != net {
            return Err(Invalid::new(
                format!(
                    "has bits set past the prefix length; the block is {}",
                    net.trunc()
                ),
                net.trunc().to_string(),
            ));
        }
        Ok(TrustedProxy(net))
    }
}

string_serde!(TrustedProxy(IpNet));

named_enum! {
    /// A content delivery network in front of the proxy, whose published ranges are trusted
    /// to tell the client's address in its own header.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
    #[serde(into = "String")]
    pub enum Cdn {
        Cloudflare = "cloudflare",
    }
    unknown(names) => Invalid::new(
        format!("is not a CDN mxproxy knows ({}); for another, list its ranges with --trusted-proxy", alternatives(names)),
        "cloudflare",
    );
}

/// Cloudflare's ranges as published, with their date and source (the file's comments).
const CLOUDFLARE_RANGES: &str = include_str!("cloudflare-ips.txt");

impl Cdn {
    pub fn display_name(self) -> &'static str {
        match self {
            Cdn::Cloudflare => "Cloudflare",
        }
    }

    /// The addresses the CDN connects to the origin from.
    pub fn ranges(self) -> Vec<TrustedProxy> {
        let list = match self {
            Cdn::Cloudflare => CLOUDFLARE_RANGES,
        };
        list.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| line.parse().expect("the shipped ranges parse (unit test)"))
            .collect()
    }

    /// The header that carries the client's address as the CDN saw it: one address,
    /// set (not appended) by the CDN. Cloudflare: "CF-Connecting-IP provides the client
    /// IP address connecting to Cloudflare to the origin web server"
    /// (developers.cloudflare.com/fundamentals/reference/http-headers/).
    pub fn client_header(self) -> &'static str {
        match self {
            Cdn::Cloudflare => "CF-Connecting-IP",
        }
    }

    /// Response headers by which the CDN shows itself, as (name, value): any value where
    /// the value is `None`. Cloudflare adds CF-Ray to every response it proxies and says
    /// `Server: cloudflare` (developers.cloudflare.com/fundamentals/reference/http-headers/,
    /// "CF-Ray").
    pub fn response_marks(self) -> &'static [(&'static str, Option<&'static str>)] {
        match self {
            Cdn::Cloudflare => &[("cf-ray", None), ("server", Some("cloudflare"))],
        }
    }

    /// The HTTPS ports the CDN forwards; federation must use one of them. Cloudflare
    /// proxies 443, 2053, 2083, 2087, 2096 and 8443 over HTTPS, not 8448
    /// (developers.cloudflare.com/fundamentals/reference/network-ports/; element-hq/synapse#16228).
    pub fn https_ports(self) -> &'static [u16] {
        match self {
            Cdn::Cloudflare => &[443, 2053, 2083, 2087, 2096, 8443],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::testing::{accepts, refuses};

    #[test]
    fn blocks_and_single_addresses_are_accepted() {
        for (value, shown) in [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("127.0.0.2/32", "127.0.0.2/32"),
            ("127.0.0.2", "127.0.0.2/32"),
            ("::1", "::1/128"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("2001:0db8:0::/48", "2001:db8::/48"),
        ] {
            let trusted: TrustedProxy = accepts(value);
            assert_eq!(trusted.to_string(), shown, "{value:?}");
            assert_eq!(String::from(trusted), shown, "{value:?}");
        }
    }

    #[test]
    fn typos_and_everything_are_refused() {
        for value in [
            "10.0.0.0/33",
            "10.0.0/8",
            "example.com",
            "",
            "10.0.0.0/",
            "::1/129",
        ] {
            refuses::<TrustedProxy>(
                value,
                "is not an address block (ADDRESS/PREFIX) or an IP address",
                TRUSTED_EXAMPLE,
            );
        }
        for value in ["0.0.0.0/0", "::/0"] {
            refuses::<TrustedProxy>(
                value,
                "trusts every address, so any client could choose the address the homeserver sees; list the proxies in front",
                TRUSTED_EXAMPLE,
            );
        }
        refuses::<TrustedProxy>(
            "10.1.2.3/8",
            "has bits set past the prefix length; the block is 10.0.0.0/8",
            "10.0.0.0/8",
        );
    }

    #[test]
    fn cloudflare_ranges_parse_and_cover_both_families() {
        let ranges = Cdn::Cloudflare.ranges();
        assert!(ranges.iter().any(|r| matches!(r.net(), IpNet::V4(_))));
        assert!(ranges.iter().any(|r| matches!(r.net(), IpNet::V6(_))));
        assert!(ranges.contains(&accepts("173.245.48.0/20")));
        assert!(ranges.contains(&accepts("2606:4700::/32")));
        assert!(!Cdn::Cloudflare.https_ports().contains(&8448));
    }

    #[test]
    fn unknown_cdns_are_refused_with_the_way_out() {
        refuses::<Cdn>(
            "akamai",
            "is not a CDN mxproxy knows (cloudflare); for another, list its ranges with --trusted-proxy",
            "cloudflare",
        );
        assert_eq!(accepts::<Cdn>("cloudflare"), Cdn::Cloudflare);
    }
}
