//! The homeserver's part of the plan: what the proxies forward, and the settings it needs.

use serde::Serialize;

use super::{Decisions, Setting};
use crate::homeserver::settings::{self, SettingsInput};
use crate::homeserver::{HomeserverHealthcheck, HomeserverKind};
use crate::matrix::FEDERATION_PREFIXES;
use crate::setup::{Homeserver, Setup, UpstreamHost};

/// Synapse's settings, written as a config file read after its own homeserver.yaml.
pub const SYNAPSE_FRAGMENT: &str = "synapse/mxproxy.yaml";

#[derive(Debug, Serialize)]
pub struct HomeserverPlan {
    pub name: String,
    pub display_name: String,
    /// Path prefixes every proxy forwards (the admin prefixes too with `--expose-admin`).
    pub prefixes: Vec<String>,
    /// Admin API prefixes; closed (never forwarded) unless `expose_admin`.
    pub admin_prefixes: Vec<String>,
    pub expose_admin: bool,
    /// Prefixes inside `prefixes` that answer 404 instead: federation is off
    /// (`--no-federation`), so other servers get nothing from the homeserver.
    pub blocked_prefixes: Vec<String>,
    pub image: String,
    pub data_dir: String,
    pub port: u16,
    /// Where a host install sets `settings`, as the summary names it.
    pub config_file: String,
    /// The settings are environment variables (Conduit family): the compose stack sets
    /// them on the service. Otherwise they are config-file lines only.
    pub env_config: bool,
    /// Settings the homeserver needs to match this setup: set on the compose service or
    /// in the written config fragment, printed in the summary for a host install.
    pub settings: Vec<Setting>,
    /// Address and port the homeserver itself listens on.
    pub listen: HomeserverListen,
    /// How the homeserver is set up, which picks its compose service
    /// (`compose/<kind>.yml.j2`) and its summary steps (`homeserver/<kind>.txt.j2`):
    /// `environment` (Conduit family), `synapse` or `dendrite`.
    pub kind: HomeserverKind,
    /// The template of its compose service (`compose/<kind>.yml.j2`).
    pub compose_template: &'static str,
    /// The template of its summary step (`homeserver/<kind>.txt.j2`).
    pub steps_template: &'static str,
    /// A config file mxproxy writes for the homeserver (Synapse's fragment), below `--out`.
    pub config_fragment: Option<String>,
    /// Environment variables that open token-only registration in the compose stack
    /// (Conduit family), the token read from `.env`.
    pub registration: Option<Registration>,
    /// The compose service's health check `test` (Dendrite: curl, which its image
    /// ships), or null where the image declares its own or could run none.
    pub compose_healthcheck: Option<Vec<String>>,
    /// Why the compose service has no health check of mxproxy's, as its comment; null
    /// where it has one.
    pub compose_healthcheck_note: Option<String>,
}

/// Request paths the proxies refuse although they begin with a forwarded prefix as sent:
/// each proxy forwards the target raw, and the homeserver may normalise it into a prefix
/// that is closed.
#[derive(Debug, Serialize)]
pub struct PathsPlan {
    /// For the proxies that route on the path as sent (Caddy's refusal reads the raw
    /// target, HAProxy's `path`, Traefik's `PathRegexp` with `sanitizePath` off; nginx
    /// and Apache resolve `..` before choosing a location themselves):
    /// a `..` segment, `%2e` spelled or not, in a path or in a whole request target (the
    /// query, after the first `?`, is not searched): `/_matrix/../_synapse/admin/…` starts
    /// with `/_matrix/` as sent, and names the admin API once normalised. A regular
    /// expression cannot count segments, so every `..` is refused, also one that would
    /// stay inside a prefix: Matrix clients and servers send none. `%2F` is no separator
    /// here (RFC 3986 §2.2: an encoded reserved character is data), so `rooms/%2F..%2Fx`
    /// passes, raw. The same text in RE2 (Caddy, Traefik) and PCRE (HAProxy): no
    /// backslash (YAML would need it escaped), no `{n}` (Caddy reads `{…}` as a
    /// placeholder).
    pub dot_segment_regexp: String,
    /// One per `homeserver.blocked_prefixes`, in order: that prefix however else it may be
    /// spelled, each of its `/` any run of `/`, `%2F` and `.` segments
    /// (`/_matrix//federation/`, `/_matrix/./federation/`, `/_matrix/%2Ffederation/`,
    /// `/_matrix/federation%2Fv1/…`): a homeserver that merges slashes, removes `.`
    /// segments or decodes `%2F` would answer each as federation. Read against a path
    /// whose `%2e` and encoded letters are decoded already (by nginx, Apache and Traefik
    /// themselves; HAProxy through `url_dec`) and whose `..` segments are resolved or
    /// refused (`dot_segment_regexp`). Same dialect rules as `dot_segment_regexp`.
    pub blocked_regexps: Vec<String>,
}

/// What `PathsPlan::dot_segment_regexp` holds.
const DOT_SEGMENT: &str = "^[^?]*/([.]|%2[eE])([.]|%2[eE])([/?]|$)";

/// What may stand for one `/` of a blocked prefix: a slash or `%2F`, then any more of
/// them or `.` segments.
const ANY_SLASHES: &str = "(/|%2[fF])([.]?(/|%2[fF]))*";
/// One `/` or `%2F`: after the last segment, where the rest of the path does not matter.
const SLASH: &str = "(/|%2[fF])";

pub(super) fn paths_plan(blocked_prefixes: &[String]) -> PathsPlan {
    PathsPlan {
        dot_segment_regexp: DOT_SEGMENT.to_string(),
        blocked_regexps: blocked_prefixes
            .iter()
            .map(|prefix| any_spelling(prefix))
            .collect(),
    }
}

/// `/_matrix/federation/` → `^`, `ANY_SLASHES`, the segments joined by `ANY_SLASHES`,
/// `SLASH`; the segments are Matrix names (letters, digits, `_`, `-`), so nothing in
/// them needs escaping, which the assertion keeps true.
fn any_spelling(prefix: &str) -> String {
    let segments: Vec<&str> = prefix.trim_matches('/').split('/').collect();
    assert!(
        segments.iter().all(|segment| !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')),
        "{prefix}: not a plain prefix"
    );
    format!("^{ANY_SLASHES}{}{SLASH}", segments.join(ANY_SLASHES))
}

#[derive(Debug, Serialize)]
pub struct Registration {
    pub allow_env: String,
    pub token_env: String,
}

#[derive(Debug, Serialize)]
pub struct HomeserverListen {
    /// A bare IP address (`0.0.0.0` in a container, the upstream's address otherwise).
    pub address: String,
    /// As it goes before `:port` (`[::1]`).
    pub host: String,
    pub port: u16,
    /// Synapse listener resources: `client`, plus `federation` unless federation is off.
    pub resources: Vec<String>,
}

pub(super) fn homeserver_plan(
    decided: &Decisions,
    federation_authority: Option<&str>,
    client_base_url: &str,
) -> HomeserverPlan {
    let setup = decided.setup;
    let facts = &decided.facts;
    let listen = homeserver_listen(setup);
    let settings = settings::settings(&SettingsInput {
        setup,
        listen_address: &listen.address,
        listen_port: listen.port,
        federation_authority,
        client_base_url,
        delegated: decided.delegated,
        forwards_well_known: decided.forwards_well_known,
    });
    let (compose_healthcheck, compose_healthcheck_note) = match facts.compose_healthcheck {
        HomeserverHealthcheck::Image => (
            None,
            Some("Its health check is the image's own HEALTHCHECK.".to_string()),
        ),
        HomeserverHealthcheck::Curl(path) => (
            Some(
                ["CMD", "curl", "-fsS", "-o", "/dev/null"]
                    .map(String::from)
                    .into_iter()
                    .chain([format!("http://127.0.0.1:{}{path}", listen.port)])
                    .collect(),
            ),
            None,
        ),
        HomeserverHealthcheck::Impossible(why) => (None, Some(why.to_string())),
    };
    HomeserverPlan {
        compose_healthcheck,
        compose_healthcheck_note,
        name: setup.homeserver.name().into(),
        display_name: facts.display_name.into(),
        prefixes: decided.prefixes.clone(),
        admin_prefixes: facts.admin_prefixes.iter().map(|p| p.to_string()).collect(),
        expose_admin: setup.expose_admin,
        blocked_prefixes: if setup.federation_port.is_none() {
            FEDERATION_PREFIXES.iter().map(|p| p.to_string()).collect()
        } else {
            Vec::new()
        },
        image: facts.image.into(),
        data_dir: facts.data_dir.into(),
        port: facts.port,
        config_file: facts.config_file.into(),
        env_config: facts.env_prefix.is_some(),
        settings,
        listen,
        kind: facts.kind,
        compose_template: facts.kind.compose_template(),
        steps_template: facts.kind.steps_template(),
        config_fragment: (setup.homeserver == Homeserver::Synapse)
            .then(|| SYNAPSE_FRAGMENT.to_string()),
        // `allow_registration` and `registration_token` (conduit-example.toml,
        // conduwuit-example.toml, tuwunel-example.toml; tuwunel's compose: "A
        // registration token is required when registration is allowed").
        registration: facts.env_prefix.map(|prefix| Registration {
            allow_env: format!("{prefix}ALLOW_REGISTRATION"),
            token_env: format!("{prefix}REGISTRATION_TOKEN"),
        }),
    }
}

/// The address the homeserver binds: every address in a container (else the proxy
/// container gets 502), the upstream's own address on a host.
fn homeserver_listen(setup: &Setup) -> HomeserverListen {
    let address = if setup.compose || setup.kubernetes.is_some() {
        "0.0.0.0".to_string()
    } else {
        match &setup.upstream.host {
            UpstreamHost::V4(ip) => ip.to_string(),
            UpstreamHost::V6(ip) => ip.to_string(),
            UpstreamHost::Name(_) => "127.0.0.1".to_string(),
        }
    };
    let host = if address.contains(':') {
        format!("[{address}]")
    } else {
        address.clone()
    };
    let mut resources = vec!["client".to_string()];
    if setup.federation_port.is_some() {
        resources.push("federation".to_string());
    } else if setup.rtc.is_some() {
        // Federation off, calls on: the OpenID userinfo endpoint the authorization service
        // checks tokens on, without the rest of federation.
        resources.push(crate::homeserver::rtc::SYNAPSE_OPENID_RESOURCE.to_string());
    }
    HomeserverListen {
        address,
        host,
        port: setup.upstream.port.get(),
        resources,
    }
}
