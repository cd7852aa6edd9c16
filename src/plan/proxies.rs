//! What only one proxy's files need, decided here so that its templates only print.

use serde::Serialize;

use super::{Bind, Decisions, Listener};
use crate::proxy;
use crate::setup::Proxy;

#[derive(Debug, Serialize)]
pub struct ApachePlan {
    /// The modules the site needs, for `a2enmod`.
    pub modules: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CaddyPlan {
    /// The Caddyfile starts with a global options block: an ACME account email, or
    /// `auto_https off` without TLS.
    pub global_options: bool,
}

#[derive(Debug, Serialize)]
pub struct TraefikPlan {
    /// The host part of every entry point's `address` (empty: every address). An entry
    /// point takes one address; `config` refuses more than one `--listen-address`.
    pub address_host: String,
    /// The entry point of the well-known router: the main listener (443, or 80 without TLS).
    pub well_known_entry_point: String,
}

pub(super) fn apache(decided: &Decisions) -> Option<ApachePlan> {
    let tls_modules: &[&str] = if decided.tls_enabled {
        &["ssl", "http2"]
    } else {
        &[]
    };
    uses(decided, Proxy::Apache).then(|| ApachePlan {
        modules: tls_modules
            .iter()
            .chain(&["proxy", "proxy_http", "headers", "alias"])
            .map(|module| module.to_string())
            .collect(),
    })
}

pub(super) fn caddy(decided: &Decisions, acme_email: bool) -> Option<CaddyPlan> {
    uses(decided, Proxy::Caddy).then_some(CaddyPlan {
        global_options: acme_email || !decided.tls_enabled,
    })
}

pub(super) fn traefik(
    decided: &Decisions,
    bind: &[Bind],
    listeners: &[Listener],
) -> Option<TraefikPlan> {
    let facts = proxy::facts(Proxy::Traefik);
    uses(decided, Proxy::Traefik).then(|| TraefikPlan {
        address_host: match bind {
            [first, ..] if facts.single_listen_address => first.host.clone(),
            _ => String::new(),
        },
        well_known_entry_point: listeners[0].id.clone(),
    })
}

fn uses(decided: &Decisions, proxy: Proxy) -> bool {
    decided.setup.proxies.contains(&proxy)
}
