//! Who may tell the client's address (`--trusted-proxy`, `--cdn`), and how each proxy
//! recovers it: the rightmost address of the chain that is not a trusted proxy's, which is
//! then the one `X-Forwarded-For` sent to the homeserver (Synapse takes the leftmost entry
//! without any trust check, matrix-org/synapse#9471, so the proxy must send one address).

use serde::Serialize;

use crate::setup::Setup;

/// The X-Forwarded-For hops HAProxy walks back through trusted proxies. HAProxy has no
/// loop: each hop is one rule, taking the next entry from the right while the address so
/// far is a trusted one. Five proxies in a row in front of the edge is more than any
/// deployment we know of (CDN, load balancer, TLS terminator); past them the address of
/// the fifth is kept, never one the client wrote.
const HAPROXY_HOPS: i32 = 5;

#[derive(Debug, Serialize)]
pub struct ClientAddressPlan {
    /// The header the client's address is read from: `X-Forwarded-For`, or the CDN's own.
    pub header: String,
    /// Every trusted block: `--trusted-proxy`'s, then the CDN's.
    pub trusted: Vec<String>,
    /// `--trusted-proxy`'s blocks: the admin's own proxies, trusted whatever address they
    /// report (Apache's RemoteIPInternalProxy).
    pub own: Vec<String>,
    /// The CDN's published ranges: trusted for public addresses only (Apache's
    /// RemoteIPTrustedProxy), as a CDN never connects from a private network.
    pub cdn_ranges: Vec<String>,
    /// `--cdn`: its name, for the comments; null without it.
    pub cdn: Option<String>,
    /// HAProxy: the occurrences of the header, counted from the right (-1 the last), that
    /// are taken one after the other while the address so far is trusted.
    pub haproxy_occurrences: Vec<i32>,
    /// Caddy 2.6 (Debian 12's) has no trusted_proxies server option: its file matches the
    /// last entry of the header with this expression (capture 1) when the peer is trusted.
    /// Quoted in the Caddyfile, and free of backslashes, which its lexer would keep or eat.
    pub last_entry_regexp: String,
}

pub(super) fn client_address(setup: &Setup) -> Option<ClientAddressPlan> {
    if setup.trusted_proxies.is_empty() && setup.cdn.is_none() {
        return None;
    }
    let own: Vec<String> = setup
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    let cdn_ranges: Vec<String> = setup
        .cdn
        .map(|cdn| cdn.ranges().iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let header = setup
        .cdn
        .map_or("X-Forwarded-For", |cdn| cdn.client_header());
    // A CDN's header holds one address, set by the CDN: only that one is taken.
    let hops = if setup.cdn.is_some() { 1 } else { HAPROXY_HOPS };
    Some(ClientAddressPlan {
        header: header.into(),
        trusted: own.iter().chain(&cdn_ranges).cloned().collect(),
        own,
        cdn_ranges,
        cdn: setup.cdn.map(|cdn| cdn.display_name().into()),
        haproxy_occurrences: (1..=hops).map(|hop| -hop).collect(),
        last_entry_regexp: "([0-9A-Fa-f:.]+) *$".into(),
    })
}
