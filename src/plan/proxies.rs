//! What only one proxy's files need, decided here so that its templates only print.

use serde::Serialize;

use super::{Bind, Decisions, Listener};
use crate::matrix::{FEDERATION_PREFIXES, HTTPS_PORT};
use crate::proxy;
use crate::setup::{ElementWebServed, Proxy};

/// nginx's default `server_names_hash_bucket_size`: its cache line, 64 bytes on x86-64 and
/// most arm64 (ngx_cpuinfo; `ngx_cacheline_size` is the directive's default).
const NGINX_DEFAULT_BUCKET: usize = 64;
/// `sizeof(void *)` on the 64-bit hosts nginx runs on.
const POINTER: usize = 8;

#[derive(Debug, Serialize)]
pub struct NginxPlan {
    /// Set only where a server name does not fit nginx's default bucket (a name of more
    /// than 46 characters): then `nginx -t` fails with "could not build server_names_hash".
    pub names_hash: Option<NamesHash>,
}

#[derive(Debug, Serialize)]
pub struct NamesHash {
    /// `server_names_hash_bucket_size`: the bytes the longest name takes in a bucket.
    pub bucket_size: usize,
    /// The longest `server_name`, and its length.
    pub longest: String,
    pub longest_len: usize,
    /// The compose stack's nginx, whose main config is the image's (which leaves the
    /// setting out); otherwise the admin's own nginx.conf may set it too.
    pub whole_nginx: bool,
}

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
    /// Federation on the server name's host, where the homeserver's own well-known answer
    /// sends other servers; null where that answer is the planned one.
    pub server_name_federation: Option<ServerNameFederation>,
    /// The entry points' `readTimeout`: the read timeout, or with `--rtc` LiveKit's
    /// (which is never shorter). Traefik 2.11.1 and 3.0.0-rc4 ended upgraded WebSocket
    /// connections at this deadline (traefik/traefik#10598, fixed after); never below
    /// LiveKit's, no release cuts a quiet signalling socket short by it.
    pub read_timeout_seconds: u32,
    /// In the compose stack: the entry point Traefik answers `/ping` on, for the service's
    /// health check (`traefik healthcheck`); null elsewhere.
    pub ping: Option<TraefikPing>,
}

/// A dedicated entry point on the container's loopback: the health check runs in the
/// container, and nothing new is reachable from outside it (ping's default entry point,
/// `traefik` on :8080, would listen on every address).
#[derive(Debug, Serialize)]
pub struct TraefikPing {
    pub entry_point: &'static str,
    pub address: String,
}

/// Traefik's docs put their dedicated ping entry point on 8082 ("Ping", `entryPoint`);
/// the next port up where a listener has it.
const TRAEFIK_PING_PORT: u16 = 8082;

/// A router for the federation prefixes on the server name's host (as ESS and
/// matrix-docker-ansible-deploy route a delegated Synapse): Synapse announces
/// `<server_name>:443` whatever the plan delegates to.
#[derive(Debug, Serialize)]
pub struct ServerNameFederation {
    pub host: String,
    pub prefixes: Vec<String>,
    pub answer: String,
}

pub(super) fn apache(decided: &Decisions) -> Option<ApachePlan> {
    let tls_modules: &[&str] = if decided.tls_enabled {
        &["ssl", "http2"]
    } else {
        &[]
    };
    let setup = decided.setup;
    let client_address = !setup.trusted_proxies.is_empty() || setup.cdn.is_some();
    uses(decided, Proxy::Apache).then(|| ApachePlan {
        modules: tls_modules
            .iter()
            .chain(&["proxy", "proxy_http", "headers", "alias"])
            // RemoteIPHeader, for --trusted-proxy and --cdn.
            .chain(client_address.then_some(&"remoteip"))
            // DirectoryIndex: Element Web's / is its index.html, where Apache serves the folder.
            .chain(
                decided
                    .setup
                    .element_web
                    .as_ref()
                    .filter(|web| matches!(web.served, ElementWebServed::Files(_)))
                    .map(|_| &"dir"),
            )
            // RewriteRule: --base-redirect.
            .chain(decided.setup.base_redirect.as_ref().map(|_| &"rewrite"))
            .map(|module| module.to_string())
            .collect(),
    })
}

pub(super) fn nginx(decided: &Decisions, hosts: &[String]) -> Option<NginxPlan> {
    let longest = hosts.iter().max_by_key(|host| host.len())?;
    let bucket_size = names_hash_bucket_size(longest.len());
    uses(decided, Proxy::Nginx).then(|| NginxPlan {
        names_hash: (bucket_size > NGINX_DEFAULT_BUCKET).then(|| NamesHash {
            bucket_size,
            longest: longest.clone(),
            longest_len: longest.len(),
            whole_nginx: decided.setup.compose
                && decided.setup.proxies.first() == Some(&Proxy::Nginx),
        }),
    })
}

/// The bucket size nginx needs for a name of `len` bytes, as `ngx_hash_init` checks it:
/// the element (`NGX_HASH_ELT_SIZE`: a pointer, then the length and the name padded to a
/// pointer) and the pointer that ends the bucket; nginx rounds the setting up to its
/// cache line, so this is written rounded up to 64 bytes.
fn names_hash_bucket_size(len: usize) -> usize {
    let element = POINTER + (len + 2).next_multiple_of(POINTER);
    (element + POINTER).next_multiple_of(NGINX_DEFAULT_BUCKET)
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
        server_name_federation: server_name_federation(decided),
        read_timeout_seconds: match decided.setup.rtc {
            Some(_) => super::rtc::timeout_seconds(decided.setup),
            None => decided.setup.read_timeout.seconds(),
        },
        ping: (decided.setup.compose && decided.setup.proxies[0] == Proxy::Traefik).then(|| {
            let port = (TRAEFIK_PING_PORT..)
                .find(|port| listeners.iter().all(|listener| listener.port != *port))
                .expect("fewer listeners than ports");
            TraefikPing {
                entry_point: "ping",
                address: format!("127.0.0.1:{port}"),
            }
        }),
    })
}

/// Where the homeserver's own server document (Traefik forwards well-known to it) is not
/// the planned one, it names `<server_name>:443` (Synapse): route federation there.
fn server_name_federation(decided: &Decisions) -> Option<ServerNameFederation> {
    let port = decided.setup.federation_port?;
    let answers_planned = decided
        .facts
        .well_known
        .serves_planned_server_document(decided.delegated, port);
    (decided.delegated && !answers_planned).then(|| ServerNameFederation {
        host: decided.server_name.clone(),
        prefixes: FEDERATION_PREFIXES.iter().map(|p| p.to_string()).collect(),
        answer: format!("{}:{HTTPS_PORT}", decided.server_name),
    })
}

fn uses(decided: &Decisions, proxy: Proxy) -> bool {
    decided.setup.proxies.contains(&proxy)
}

#[cfg(test)]
mod tests {
    use super::names_hash_bucket_size;

    /// nginx 1.22 on x86-64 loads a name of 46 characters with its default of 64 and
    /// refuses 47 ("could not build server_names_hash, you should increase
    /// server_names_hash_bucket_size: 64"); 253 characters, the longest DNS name, need 272
    /// bytes, written as 320.
    #[test]
    fn the_bucket_fits_the_longest_name() {
        assert_eq!(names_hash_bucket_size(18), 64);
        assert_eq!(names_hash_bucket_size(46), 64);
        assert_eq!(names_hash_bucket_size(47), 128);
        assert_eq!(names_hash_bucket_size(110), 128);
        assert_eq!(names_hash_bucket_size(111), 192);
        assert_eq!(names_hash_bucket_size(253), 320);
    }
}
