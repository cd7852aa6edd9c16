//! Which host names are served, on which ports, at which addresses.

use serde::Serialize;

use super::Decisions;
use crate::defaults::{CERTBOT_SERVICE, CERTBOT_STANDALONE_PORT};
use crate::matrix::{HTTP_PORT, HTTPS_PORT};
use crate::setup::Setup;

#[derive(Debug, Serialize)]
pub struct Redirect {
    pub port: u16,
    pub hosts: Vec<String>,
    pub acme_challenge: bool,
    /// Where certbot's standalone server answers the challenges for a proxy that serves
    /// no files (HAProxy): on the host, 127.0.0.1; in the compose stack, the certbot
    /// service, found through Docker's DNS.
    pub acme_standalone: String,
    /// The DNS server that finds the certbot service (Docker's), in the compose stack.
    pub acme_resolver: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Federation {
    pub port: u16,
    /// Federation arrives on a port of its own rather than with the clients on 443.
    pub own_listener: bool,
}

#[derive(Debug, Serialize)]
pub struct Site {
    pub host: String,
    pub well_known: bool,
    pub matrix: bool,
    /// What the site is for, as the configs' comments say it.
    pub role: String,
    pub listeners: Vec<Listener>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listener {
    /// Stable name for the listener, used where a proxy names its listeners (Traefik
    /// entry points): `http`, `https` or `federation`.
    pub id: String,
    pub port: u16,
    pub tls: bool,
    pub scheme: String,
}

impl Listener {
    fn new(id: &str, port: u16, tls: bool) -> Self {
        Listener {
            id: id.into(),
            port,
            tls,
            scheme: if tls { "https" } else { "http" }.into(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Bind {
    /// The bare address: `127.0.0.1`, `::1`.
    pub ip: String,
    /// As it goes before `:port`: `127.0.0.1`, `[::1]`.
    pub host: String,
}

pub(super) fn federation(setup: &Setup) -> Option<Federation> {
    setup.federation_port.map(|port| Federation {
        port: port.get(),
        own_listener: port.get() != HTTPS_PORT,
    })
}

/// What the homeserver's site listens on: 443 (80 without TLS), and federation's own
/// port if it has one. The first is the main listener.
pub(super) fn matrix_listeners(
    decided: &Decisions,
    federation: Option<&Federation>,
) -> Vec<Listener> {
    let tls = decided.tls_enabled;
    let mut listeners = vec![if tls {
        Listener::new("https", HTTPS_PORT, true)
    } else {
        Listener::new("http", HTTP_PORT, false)
    }];
    if let Some(federation) = federation.filter(|federation| federation.own_listener) {
        listeners.push(Listener::new("federation", federation.port, tls));
    }
    listeners
}

/// One site for both roles, or the server name's well-known site and the homeserver's.
pub(super) fn sites(decided: &Decisions, matrix_listeners: &[Listener]) -> Vec<Site> {
    let server_name = &decided.server_name;
    let homeserver_host = &decided.homeserver_host;
    if !decided.delegated {
        return vec![Site {
            host: server_name.clone(),
            well_known: true,
            matrix: true,
            role: "the well-known documents and the homeserver".into(),
            listeners: matrix_listeners.to_vec(),
        }];
    }
    vec![
        Site {
            host: server_name.clone(),
            well_known: true,
            matrix: false,
            role: format!("the well-known documents that delegate to {homeserver_host}"),
            listeners: vec![matrix_listeners[0].clone()],
        },
        Site {
            host: homeserver_host.clone(),
            well_known: false,
            matrix: true,
            role: "the homeserver".into(),
            listeners: matrix_listeners.to_vec(),
        },
    ]
}

pub(super) fn redirect(decided: &Decisions, hosts: &[String]) -> Option<Redirect> {
    decided.tls_enabled.then(|| Redirect {
        port: HTTP_PORT,
        hosts: hosts.to_vec(),
        acme_challenge: decided.acme,
        acme_standalone: format!(
            "{}:{CERTBOT_STANDALONE_PORT}",
            if decided.setup.compose {
                CERTBOT_SERVICE
            } else {
                "127.0.0.1"
            }
        ),
        acme_resolver: (decided.setup.compose && decided.acme)
            .then(|| super::DOCKER_DNS.to_string()),
    })
}

pub(super) fn bind(setup: &Setup) -> Vec<Bind> {
    setup
        .listen_addresses
        .iter()
        .map(|address| Bind {
            ip: address.0.to_string(),
            host: match address.0 {
                std::net::IpAddr::V4(ip) => ip.to_string(),
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            },
        })
        .collect()
}
