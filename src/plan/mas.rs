//! `--mas`: what goes to the Matrix Authentication Service instead of Synapse, and the
//! settings both need. Facts and their sources: `homeserver::mas`.

use serde::Serialize;

use super::Decisions;
use super::sites::Listener;
use crate::homeserver::mas;
use crate::setup::{Mas, MasPublic, UpstreamHost};

/// MAS's settings, as a fragment of its config.yaml.
pub const MAS_FRAGMENT: &str = "mas/mxproxy.yaml";
/// Where the summary tells the admin to put the secret MAS and Synapse share: read by
/// Synapse (`matrix_authentication_service.secret_path`) and MAS (`matrix.secret_file`),
/// never written by mxproxy.
pub const SECRET_PATH: &str = "/etc/mas/synapse-shared-secret";
/// Above the rule length Traefik gives its other routers as their priority by default, so
/// the compatibility paths win over the homeserver's `/_matrix/` prefix.
const TRAEFIK_COMPAT_PRIORITY: u32 = 100_000;

#[derive(Debug, Serialize)]
pub struct MasPlan {
    /// Own-host mode: MAS's public host, every path of it to MAS.
    pub host: Option<String>,
    /// The listener MAS is reached on, its own host and the compatibility paths alike:
    /// the main one (443, or 80 without TLS).
    pub listener: Listener,
    /// Path mode: the prefix MAS is mounted under on the homeserver host (`/auth`), and
    /// the same with a trailing slash (`/auth/`), which the proxies forward as a prefix.
    pub path: Option<String>,
    pub path_prefix: Option<String>,
    /// `host:port` and `http://host:port` of MAS's listener.
    pub address: String,
    pub url: String,
    /// `http.public_base`: where clients reach MAS.
    pub public_base: String,
    /// The compatibility paths on the homeserver host, each with its sub-paths.
    pub compat_prefixes: Vec<String>,
    /// The same as one regular expression (PCRE and RE2 alike).
    pub compat_regex: String,
    /// Put in front of a compatibility path on its way to MAS: the listener's `prefix` in
    /// path mode (MAS mounts every resource, the compatibility layer too, below it; MDAD
    /// adds it the same way, roles/custom/matrix-authentication-service/templates/labels.j2),
    /// empty otherwise.
    pub compat_add_prefix: String,
    /// Synapse's API for MAS: answered 404 from outside; MAS reaches it on the upstream.
    pub internal_prefix: String,
    /// MAS's admin API (unless `--expose-admin`) and GraphQL playground as the proxy sees
    /// them (below `path` in path mode): refused, never forwarded.
    pub refused_prefixes: Vec<String>,
    /// `--expose-admin`: MAS's listener serves its admin API (`adminapi`) and the proxy
    /// forwards it, as it does the homeserver's.
    pub admin_api: bool,
    /// The body limit on MAS's own host: what MAS reads at most.
    pub max_body_bytes: u64,
    /// `http.trusted_proxies`: the addresses the proxy connects to MAS from (loopback for a
    /// loopback upstream); empty (trust none) where mxproxy cannot know them.
    pub trusted_proxies: Vec<String>,
    /// MAS's listener bind: `host` and `port`.
    pub listen_host: String,
    pub listen_port: u16,
    /// `matrix_authentication_service.endpoint` for Synapse: MAS's listener, its prefix included.
    pub endpoint: String,
    /// `matrix.endpoint` for MAS: Synapse's listener, directly.
    pub homeserver_endpoint: String,
    /// Where Synapse reads the secret it shares with MAS (`secret_path`): a file the admin
    /// creates on a host, the compose secret in the stack.
    pub secret_path: String,
    /// MAS's `matrix.secret_file`: the same file on a host; null in the stack, where MAS
    /// reads the secret from `secret_env` instead.
    pub secret_file: Option<String>,
    pub secret_env: Option<String>,
    /// MAS's `database` section in the stack (its PostgreSQL service); null on a host,
    /// where the admin names their own database.
    pub database: Option<MasDatabase>,
    /// The DNS server to resolve MAS's name with at request time (the stack's, as for the
    /// homeserver): the MAS container may start after the proxy, and gets a new address
    /// when it is recreated.
    pub resolver: Option<String>,
    pub config_fragment: String,
    pub traefik_compat_priority: u32,
}

/// MAS's database in the compose stack. The password comes from the environment
/// (`password_env`), not from the fragment.
#[derive(Debug, Serialize)]
pub struct MasDatabase {
    pub host: String,
    pub username: String,
    pub database: String,
    pub password_env: String,
}

pub(super) fn mas_plan(decided: &Decisions, mas: &Mas, listener: &Listener) -> MasPlan {
    let setup = decided.setup;
    let compose = setup.compose;
    let url = format!("http://{}", mas.upstream);
    let (host, path) = match &mas.public {
        MasPublic::Host(host) => (Some(host.to_string()), None),
        MasPublic::Path(path) => (None, Some(path.to_string())),
    };
    let public_base = match (&host, &path) {
        (Some(host), _) => format!("https://{host}/"),
        (None, path) => format!(
            "https://{}{}/",
            decided.homeserver_host,
            path.as_deref().unwrap_or_default()
        ),
    };
    let compat_add_prefix = path.clone().unwrap_or_default();
    let admin_api = setup.expose_admin;
    let refused_prefixes = [
        (!admin_api).then_some(mas::ADMIN_API_PREFIX),
        Some(mas::PLAYGROUND_PREFIX),
    ]
    .into_iter()
    .flatten()
    .map(|prefix| format!("{compat_add_prefix}{prefix}"))
    .collect();
    MasPlan {
        listener: listener.clone(),
        path_prefix: path.as_ref().map(|path| format!("{path}/")),
        endpoint: format!("{url}{compat_add_prefix}/"),
        host,
        path,
        address: mas.upstream.to_string(),
        url,
        public_base,
        compat_prefixes: mas::compat_prefixes(),
        compat_regex: mas::compat_regex(),
        compat_add_prefix,
        internal_prefix: mas::SYNAPSE_INTERNAL_PREFIX.into(),
        refused_prefixes,
        admin_api,
        max_body_bytes: mas::MAX_BODY_BYTES,
        trusted_proxies: if compose {
            // The proxy's fixed address on the stack's network (plan/compose.rs).
            vec![format!("{}/32", super::compose::MAS_PROXY_ADDRESS)]
        } else {
            trusted_proxies(&mas.upstream.host)
        },
        listen_host: match &mas.upstream.host {
            // Inside its container MAS listens on every address, as Synapse does there;
            // only the stack's network reaches it.
            _ if compose => std::net::Ipv4Addr::UNSPECIFIED.to_string(),
            UpstreamHost::Name(name) => name.to_string(),
            UpstreamHost::V4(ip) => ip.to_string(),
            UpstreamHost::V6(ip) => ip.to_string(),
        },
        listen_port: mas.upstream.port.get(),
        homeserver_endpoint: format!("http://{}/", setup.upstream),
        secret_path: if compose {
            super::compose::mas_shared_secret_path()
        } else {
            SECRET_PATH.into()
        },
        secret_file: (!compose).then(|| SECRET_PATH.into()),
        secret_env: compose.then(|| super::compose::MAS_SHARED_SECRET_MAS_ENV.into()),
        database: compose.then(super::compose::mas_database),
        resolver: (compose && matches!(mas.upstream.host, UpstreamHost::Name(_)))
            .then(|| super::DOCKER_DNS.to_string()),
        config_fragment: MAS_FRAGMENT.into(),
        traefik_compat_priority: TRAEFIK_COMPAT_PRIORITY,
    }
}

/// The proxy's own address as MAS sees it: the loopback address it connects from when MAS
/// listens on loopback. MAS trusts `X-Forwarded-For` from these only (reverse-proxy.md,
/// "Preserve the client IP"); its default trusts every private range, which would let any
/// machine there claim any client address.
fn trusted_proxies(host: &UpstreamHost) -> Vec<String> {
    match host {
        UpstreamHost::V4(ip) if ip.is_loopback() => vec![format!("{ip}/32")],
        UpstreamHost::V6(ip) if ip.is_loopback() => vec![format!("{ip}/128")],
        UpstreamHost::Name(_) if host.is_loopback() => {
            vec!["127.0.0.1/32".into(), "::1/128".into()]
        }
        _ => Vec::new(),
    }
}
