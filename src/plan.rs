//! The one place where decisions are made: which sites exist, which ports listen, which
//! documents are served where, which limits apply. Templates only print this.

use serde::Serialize;

use crate::config::{self, HTTP_PORT};
use crate::homeserver;
use crate::setup::{Setup, Tls, UpstreamHost};

pub const HTTPS_PORT: u16 = 443;
/// Longer than any client long-poll (Conduit caps `/sync` at 30 s) and than a slow upload
/// of the largest allowed body; Conduit's docs use 300 s, MDAD 86400 s
/// (shared/matrix-proxy-facts.md §5.1).
pub const READ_TIMEOUT_SECONDS: u32 = 600;
/// Peers cache `/.well-known/matrix/server` for 24 h unless told otherwise
/// (server-server API, "Resolving server names" step 3); an hour lets a fix spread fast.
pub const WELL_KNOWN_MAX_AGE_SECONDS: u32 = 3600;
/// Docker's embedded DNS server, inside every container on a user-defined network.
const DOCKER_DNS: &str = "127.0.0.11";
/// Certbot's standard layout; one certificate named after the homeserver host covers
/// every generated site.
const LETSENCRYPT_LIVE: &str = "/etc/letsencrypt/live";

#[derive(Debug, Serialize)]
pub struct Plan {
    pub server_name: String,
    pub homeserver_host: String,
    /// The server name differs from the homeserver host, so the well-known files carry
    /// clients and servers from one to the other.
    pub delegated: bool,
    pub homeserver: HomeserverPlan,
    pub upstream: UpstreamPlan,
    pub tls: TlsPlan,
    /// Port 80 when TLS is on: redirects to HTTPS, and ACME challenges.
    pub redirect: Option<Redirect>,
    pub federation: Option<Federation>,
    pub sites: Vec<Site>,
    /// Every port the sites listen on, each once, for the catch-all that refuses
    /// requests for other host names.
    pub listeners: Vec<Listener>,
    pub well_known: WellKnown,
    pub limits: Limits,
    pub webroot: String,
    /// Addresses to listen on; empty means every address (IPv4 and IPv6).
    pub bind: Vec<Bind>,
    pub header: Header,
    pub proxies: Vec<String>,
    pub compose: Option<Compose>,
}

#[derive(Debug, Serialize)]
pub struct HomeserverPlan {
    pub name: String,
    pub display_name: String,
    pub prefixes: Vec<String>,
    /// Prefixes inside `prefixes` that answer 404 instead: federation is off
    /// (`--no-federation`), so other servers get nothing from the homeserver.
    pub blocked_prefixes: Vec<String>,
    pub image: String,
    pub data_dir: String,
    pub port: u16,
    /// Settings the homeserver needs to match this setup: set on the compose service,
    /// printed in the summary for a host install.
    pub settings: Vec<Setting>,
}

#[derive(Debug, Serialize)]
pub struct Setting {
    pub env: String,
    /// The value of the environment variable.
    pub value: String,
    /// Key below `[global]` in the homeserver's TOML file; empty for container plumbing
    /// that a host install does not need.
    pub toml_key: String,
    /// `value` as a TOML literal.
    pub toml_value: String,
    /// One of the settings that make the homeserver answer `/.well-known/matrix/*`.
    pub well_known: bool,
}

#[derive(Debug, Serialize)]
pub struct UpstreamPlan {
    /// `host:port`, IPv6 in brackets.
    pub address: String,
    pub url: String,
    /// A DNS server to resolve the upstream name with at request time rather than once at
    /// start: in the compose stack the homeserver container may not exist yet when the
    /// proxy starts, and gets a new address when it is recreated.
    pub resolver: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TlsPlan {
    pub mode: String,
    pub enabled: bool,
    pub acme: bool,
    /// Certificate and key for proxies that read files (certbot's paths with acme).
    pub cert: Option<String>,
    pub key: Option<String>,
    pub acme_email: Option<String>,
    /// Host names one certificate must cover.
    pub names: Vec<String>,
    pub certbot_cert_name: String,
}

#[derive(Debug, Serialize)]
pub struct Redirect {
    pub port: u16,
    pub hosts: Vec<String>,
    pub acme_challenge: bool,
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
pub struct WellKnown {
    pub server: Option<ServerDocument>,
    pub client: ClientDocument,
    pub cors: Cors,
    pub max_age_seconds: u32,
}

#[derive(Debug, Serialize)]
pub struct ServerDocument {
    #[serde(rename = "m.server")]
    pub server: String,
}

#[derive(Debug, Serialize)]
pub struct ClientDocument {
    #[serde(rename = "m.homeserver")]
    pub homeserver: BaseUrl,
}

#[derive(Debug, Serialize)]
pub struct BaseUrl {
    pub base_url: String,
}

/// The headers the client-server API recommends for browser clients ("Web Browser
/// Clients"), on both well-known documents.
#[derive(Debug, Serialize)]
pub struct Cors {
    pub allow_origin: String,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Limits {
    pub max_upload_bytes: u64,
    pub max_upload: String,
    pub read_timeout_seconds: u32,
}

#[derive(Debug, Serialize)]
pub struct Bind {
    /// The bare address: `127.0.0.1`, `::1`.
    pub ip: String,
    /// As it goes before `:port`: `127.0.0.1`, `[::1]`.
    pub host: String,
}

#[derive(Debug, Serialize)]
pub struct Header {
    pub generated_for: String,
    pub regenerate: String,
}

#[derive(Debug, Serialize)]
pub struct Compose {
    pub proxy: String,
    pub service: String,
    /// Host ports published by the proxy container.
    pub ports: Vec<u16>,
}

pub fn plan(setup: &Setup) -> Plan {
    let facts = homeserver::facts(setup.homeserver);
    let server_name = setup.server_name.to_string();
    let homeserver_host = setup.homeserver_host.to_string();
    let delegated = server_name != homeserver_host;
    let tls_enabled = setup.tls != Tls::None;
    let main_port = if tls_enabled { HTTPS_PORT } else { HTTP_PORT };

    let federation = setup.federation_port.map(|port| Federation {
        port: port.get(),
        own_listener: port.get() != HTTPS_PORT,
    });

    let main = Listener::new(
        if tls_enabled { "https" } else { "http" },
        main_port,
        tls_enabled,
    );
    let mut matrix_listeners = vec![main.clone()];
    if let Some(federation) = federation.as_ref().filter(|f| f.own_listener) {
        matrix_listeners.push(Listener::new("federation", federation.port, tls_enabled));
    }
    let sites = if delegated {
        vec![
            Site {
                host: server_name.clone(),
                well_known: true,
                matrix: false,
                listeners: vec![main.clone()],
            },
            Site {
                host: homeserver_host.clone(),
                well_known: false,
                matrix: true,
                listeners: matrix_listeners.clone(),
            },
        ]
    } else {
        vec![Site {
            host: server_name.clone(),
            well_known: true,
            matrix: true,
            listeners: matrix_listeners.clone(),
        }]
    };
    let hosts: Vec<String> = sites.iter().map(|s| s.host.clone()).collect();

    let (cert, key) = match &setup.tls {
        Tls::Files { cert, key } => (Some(cert.to_string()), Some(key.to_string())),
        Tls::Acme { .. } => (
            Some(format!(
                "{LETSENCRYPT_LIVE}/{homeserver_host}/fullchain.pem"
            )),
            Some(format!("{LETSENCRYPT_LIVE}/{homeserver_host}/privkey.pem")),
        ),
        Tls::None => (None, None),
    };
    let tls = TlsPlan {
        mode: setup.tls.mode().to_string(),
        enabled: tls_enabled,
        acme: matches!(setup.tls, Tls::Acme { .. }),
        cert,
        key,
        acme_email: match &setup.tls {
            Tls::Acme { email } => email.as_ref().map(ToString::to_string),
            _ => None,
        },
        names: hosts.clone(),
        certbot_cert_name: homeserver_host.clone(),
    };

    let federation_authority = federation
        .as_ref()
        .map(|f| format!("{homeserver_host}:{}", f.port));
    let client_base_url = format!("https://{homeserver_host}");

    let compose = setup.compose.then(|| {
        let proxy = setup.proxies[0];
        let mut ports = vec![HTTP_PORT];
        if tls_enabled {
            ports.push(HTTPS_PORT);
        }
        if let Some(f) = federation.as_ref().filter(|f| f.own_listener) {
            ports.push(f.port);
        }
        Compose {
            proxy: proxy.name().into(),
            service: proxy.name().into(),
            ports,
        }
    });

    let settings = homeserver_settings(
        setup,
        &facts,
        federation_authority.as_deref(),
        &client_base_url,
    );

    Plan {
        header: Header {
            generated_for: server_name.clone(),
            regenerate: regenerate_command(setup),
        },
        server_name,
        homeserver_host,
        delegated,
        homeserver: HomeserverPlan {
            name: setup.homeserver.name().into(),
            display_name: facts.display_name.into(),
            prefixes: facts.prefixes.iter().map(|p| p.to_string()).collect(),
            blocked_prefixes: if setup.federation_port.is_none() {
                facts
                    .federation_prefixes
                    .iter()
                    .map(|p| p.to_string())
                    .collect()
            } else {
                Vec::new()
            },
            image: facts.image.into(),
            data_dir: facts.data_dir.into(),
            port: facts.port,
            settings,
        },
        upstream: UpstreamPlan {
            address: setup.upstream.to_string(),
            url: format!("http://{}", setup.upstream),
            resolver: (setup.compose && matches!(setup.upstream.host, UpstreamHost::Name(_)))
                .then(|| DOCKER_DNS.to_string()),
        },
        redirect: tls_enabled.then(|| Redirect {
            port: HTTP_PORT,
            hosts: hosts.clone(),
            acme_challenge: matches!(setup.tls, Tls::Acme { .. }),
        }),
        listeners: matrix_listeners,
        federation,
        sites,
        tls,
        well_known: WellKnown {
            server: federation_authority.map(|server| ServerDocument { server }),
            client: ClientDocument {
                homeserver: BaseUrl {
                    base_url: client_base_url,
                },
            },
            cors: Cors {
                allow_origin: "*".into(),
                allow_methods: ["GET", "HEAD", "OPTIONS"].map(String::from).to_vec(),
                allow_headers: ["X-Requested-With", "Content-Type", "Authorization"]
                    .map(String::from)
                    .to_vec(),
            },
            max_age_seconds: WELL_KNOWN_MAX_AGE_SECONDS,
        },
        limits: Limits {
            max_upload_bytes: setup.max_upload.bytes(),
            max_upload: setup.max_upload.to_string(),
            read_timeout_seconds: READ_TIMEOUT_SECONDS,
        },
        webroot: setup.webroot.to_string(),
        bind: setup
            .listen_addresses
            .iter()
            .map(|address| Bind {
                ip: address.0.to_string(),
                host: match address.0 {
                    std::net::IpAddr::V4(ip) => ip.to_string(),
                    std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                },
            })
            .collect(),
        proxies: setup.proxies.iter().map(|p| p.name().to_string()).collect(),
        compose,
    }
}

/// Conduit reads `CONDUIT_<KEY>` for each top-level key and `CONDUIT_WELL_KNOWN_<KEY>`
/// for `[global.well_known]` (src/main.rs). Code defaults that would break this setup
/// (address 127.0.0.1, port 8000, federation off, no database backend) are all set.
fn homeserver_settings(
    setup: &Setup,
    facts: &homeserver::Facts,
    federation_authority: Option<&str>,
    client_base_url: &str,
) -> Vec<Setting> {
    let setting = |env: &str, toml_key: &str, value: String, kind: TomlKind| Setting {
        env: env.into(),
        toml_key: toml_key.into(),
        well_known: toml_key.starts_with("well_known."),
        toml_value: match kind {
            TomlKind::String => serde_json::Value::String(value.clone()).to_string(),
            TomlKind::Literal => value.clone(),
        },
        value,
    };
    use TomlKind::{Literal, String as Str};
    let listen_address = if setup.compose {
        "0.0.0.0".to_string()
    } else {
        match &setup.upstream.host {
            UpstreamHost::V4(ip) => ip.to_string(),
            UpstreamHost::V6(ip) => ip.to_string(),
            UpstreamHost::Name(_) => "127.0.0.1".to_string(),
        }
    };
    let mut settings = vec![
        // Unset, Conduit panics at start; empty means "environment only". No TOML key.
        setting("CONDUIT_CONFIG", "", String::new(), Str),
        setting(
            "CONDUIT_SERVER_NAME",
            "server_name",
            setup.server_name.to_string(),
            Str,
        ),
        setting(
            "CONDUIT_DATABASE_BACKEND",
            "database_backend",
            "rocksdb".into(),
            Str,
        ),
        setting(
            "CONDUIT_DATABASE_PATH",
            "database_path",
            facts.data_dir.into(),
            Str,
        ),
        setting("CONDUIT_ADDRESS", "address", listen_address, Str),
        setting(
            "CONDUIT_PORT",
            "port",
            setup.upstream.port.to_string(),
            Literal,
        ),
        setting(
            "CONDUIT_MAX_REQUEST_SIZE",
            "max_request_size",
            setup.max_upload.bytes().to_string(),
            Literal,
        ),
        // Conduit's code default is false, which also turns off its server well-known.
        setting(
            "CONDUIT_ALLOW_FEDERATION",
            "allow_federation",
            setup.federation_port.is_some().to_string(),
            Literal,
        ),
        setting(
            "CONDUIT_TRUSTED_SERVERS",
            "trusted_servers",
            r#"["matrix.org"]"#.into(),
            Literal,
        ),
        setting(
            "CONDUIT_WELL_KNOWN_CLIENT",
            "well_known.client",
            client_base_url.into(),
            Str,
        ),
    ];
    if let Some(server) = federation_authority {
        settings.push(setting(
            "CONDUIT_WELL_KNOWN_SERVER",
            "well_known.server",
            server.into(),
            Str,
        ));
    }
    settings
}

#[derive(Clone, Copy)]
enum TomlKind {
    String,
    Literal,
}

/// The flags that reproduce this setup, without `--out` (it never changes file content,
/// and an odd path must not end up in a config comment).
pub fn regenerate_command(setup: &Setup) -> String {
    let args = config::to_args(setup, false);
    let quoted =
        shlex::try_join(args.iter().map(String::as_str)).expect("validated values have no NUL");
    format!("mxproxy generate {quoted}")
}
