//! The one place where decisions are made: which sites exist, which ports listen, which
//! documents are served where, which limits apply. Templates only print this.

use serde::Serialize;

use crate::config::{self, HTTP_PORT};
use crate::homeserver::{self, ConfigSyntax};
use crate::setup::{Homeserver, Proxy, Setup, Tls, UpstreamHost};

pub const HTTPS_PORT: u16 = 443;
/// The prefixes only other servers use: the server-server API and server keys
/// (server-server API spec). With federation off, proxies answer 404 there.
pub const FEDERATION_PREFIXES: &[&str] = &["/_matrix/federation/", "/_matrix/key/"];
/// Longer than any client long-poll (Conduit caps `/sync` at 30 s) and than a slow upload
/// of the largest allowed body; Conduit's docs use 300 s, MDAD 86400 s
/// (shared/matrix-proxy-facts.md §5.1).
pub const READ_TIMEOUT_SECONDS: u32 = 600;
/// Peers cache `/.well-known/matrix/server` for 24 h unless told otherwise
/// (server-server API, "Resolving server names" step 3); an hour lets a fix spread fast.
pub const WELL_KNOWN_MAX_AGE_SECONDS: u32 = 3600;
/// Synapse's settings, written as a config file read after its own homeserver.yaml.
pub const SYNAPSE_FRAGMENT: &str = "synapse/mxproxy.yaml";
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
    pub kind: String,
    /// A config file mxproxy writes for the homeserver (Synapse's fragment), below `--out`.
    pub config_fragment: Option<String>,
    /// Environment variables that open token-only registration in the compose stack
    /// (Conduit family), the token read from `.env`.
    pub registration: Option<Registration>,
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

#[derive(Debug, Serialize)]
pub struct Setting {
    /// Environment variable; empty where the homeserver reads no environment (Synapse,
    /// Dendrite) or for a key only its config file has.
    pub env: String,
    /// The value of the environment variable.
    pub value: String,
    /// The line for the homeserver's config file (`port = 6167`, `max_upload_size:
    /// 20971520`, `media_api.max_file_size_bytes: 10485760`); empty for container
    /// plumbing that a host install does not need.
    pub config_line: String,
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
    /// Certificate chain and key in one PEM, for proxies that read them from one file
    /// (HAProxy's `crt`); the summary says how it is assembled.
    pub combined_pem: Option<String>,
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
    /// The proxy cannot obtain certificates itself, so the stack has a certbot service.
    pub certbot: bool,
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
        combined_pem: tls_enabled.then(|| format!("/etc/haproxy/certs/{homeserver_host}.pem")),
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
            certbot: matches!(setup.tls, Tls::Acme { .. })
                && !matches!(proxy, Proxy::Caddy | Proxy::Traefik),
        }
    });

    let listen = homeserver_listen(setup);
    let settings = homeserver_settings(
        setup,
        &facts,
        &listen,
        federation_authority.as_deref(),
        &client_base_url,
        delegated,
    );
    let mut prefixes: Vec<String> = facts.prefixes.iter().map(|p| p.to_string()).collect();
    if setup.expose_admin {
        prefixes.extend(facts.admin_prefixes.iter().map(|p| p.to_string()));
    }

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
            prefixes,
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
            kind: match (setup.homeserver, facts.env_prefix) {
                (Homeserver::Synapse, _) => "synapse",
                (Homeserver::Dendrite, _) => "dendrite",
                (_, Some(_)) => "environment",
                (_, None) => unreachable!("every other homeserver reads its environment"),
            }
            .into(),
            config_fragment: (setup.homeserver == Homeserver::Synapse)
                .then(|| SYNAPSE_FRAGMENT.to_string()),
            // `allow_registration` and `registration_token` (conduit-example.toml,
            // conduwuit-example.toml, tuwunel-example.toml; tuwunel's compose: "A
            // registration token is required when registration is allowed").
            registration: facts.env_prefix.map(|prefix| Registration {
                allow_env: format!("{prefix}ALLOW_REGISTRATION"),
                token_env: format!("{prefix}REGISTRATION_TOKEN"),
            }),
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

/// One setting: `key` is the config-file key (dotted for nested sections, empty for
/// container plumbing), `env` the environment variable for homeservers configured by
/// environment (derived from `key` unless given).
struct SettingSpec {
    key: &'static str,
    env: Option<String>,
    value: String,
    kind: ValueKind,
    well_known: bool,
}

#[derive(Clone, Copy)]
enum ValueKind {
    /// Quoted in the config file.
    String,
    /// Written as is: numbers, booleans, lists.
    Literal,
}

fn spec(key: &'static str, value: impl Into<String>, kind: ValueKind) -> SettingSpec {
    SettingSpec {
        key,
        env: None,
        value: value.into(),
        kind,
        well_known: false,
    }
}

impl SettingSpec {
    fn env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }

    fn well_known(mut self) -> Self {
        self.well_known = true;
        self
    }
}

/// The address the homeserver binds: every address in a container (else the proxy
/// container gets 502), the upstream's own address on a host.
fn homeserver_listen(setup: &Setup) -> HomeserverListen {
    let address = if setup.compose {
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
    }
    HomeserverListen {
        address,
        host,
        port: setup.upstream.port.get(),
        resources,
    }
}

fn homeserver_settings(
    setup: &Setup,
    facts: &homeserver::Facts,
    listen: &HomeserverListen,
    federation_authority: Option<&str>,
    client_base_url: &str,
    delegated: bool,
) -> Vec<Setting> {
    use ValueKind::{Literal, String as Str};
    let federation = setup.federation_port.is_some();
    let max_upload = setup.max_upload.bytes().to_string();
    let specs: Vec<SettingSpec> = match setup.homeserver {
        // Conduit reads `CONDUIT_<KEY>` for each top-level key and
        // `CONDUIT_WELL_KNOWN_<KEY>` for [global.well_known] (src/main.rs). Code defaults
        // that would break this setup (address 127.0.0.1, port 8000, federation off, no
        // database backend) are all set.
        Homeserver::Conduit => {
            let mut specs = vec![
                // Unset, Conduit panics at start; empty means "environment only".
                spec("", "", Str).env("CONDUIT_CONFIG"),
                spec("server_name", setup.server_name.to_string(), Str),
                spec("database_backend", "rocksdb", Str),
                spec("database_path", facts.data_dir, Str),
                spec("address", listen.address.clone(), Str),
                spec("port", listen.port.to_string(), Literal),
                spec("max_request_size", max_upload, Literal),
                // Code default false, which also turns off its server well-known.
                spec("allow_federation", federation.to_string(), Literal),
                spec("trusted_servers", r#"["matrix.org"]"#, Literal),
                spec("well_known.client", client_base_url, Str)
                    .env("CONDUIT_WELL_KNOWN_CLIENT")
                    .well_known(),
            ];
            if let Some(server) = federation_authority {
                specs.push(
                    spec("well_known.server", server, Str)
                        .env("CONDUIT_WELL_KNOWN_SERVER")
                        .well_known(),
                );
            }
            specs
        }
        // continuwuity and tuwunel read `<PREFIX><KEY>`, `__` for sub-tables
        // (Env::prefixed(..).split("__") in src/core/config/mod.rs of each), so
        // [global.well_known] client is `<PREFIX>WELL_KNOWN__CLIENT`.
        Homeserver::Continuwuity | Homeserver::Tuwunel => {
            let mut specs = vec![
                spec("server_name", setup.server_name.to_string(), Str),
                spec("database_path", facts.data_dir, Str),
                // "If you are using Docker or a container NAT networking setup, this
                // must be "0.0.0.0"" (tuwunel-example.toml / conduwuit-example.toml).
                spec("address", listen.address.clone(), Str),
                spec("port", listen.port.to_string(), Literal),
                spec("max_request_size", max_upload, Literal),
                spec("allow_federation", federation.to_string(), Literal),
            ];
            // Every proxy mxproxy writes replaces X-Forwarded-For with the client
            // address, so its rightmost value is the client. continuwuity:
            // `request_ip_source` "x_forwarded_for" - rightmost value of the
            // `X-Forwarded-For` header (conduwuit-example.toml); tuwunel: "Caddy, Nginx,
            // and Traefik usually use `ip_source = "rightmost_x_forwarded_for"`"
            // (docs/deploying/generic.md, "Client IP source").
            specs.push(if setup.homeserver == Homeserver::Tuwunel {
                spec("ip_source", "rightmost_x_forwarded_for", Str)
            } else {
                spec("request_ip_source", "x_forwarded_for", Str)
            });
            specs.push(spec("well_known.client", client_base_url, Str).well_known());
            if let Some(server) = federation_authority {
                specs.push(spec("well_known.server", server, Str).well_known());
            }
            specs
        }
        // Written into synapse/mxproxy.yaml, which is read after homeserver.yaml; the
        // listener is written there in full from `listen`.
        Homeserver::Synapse => vec![
            // "If you use Synapse with a reverse proxy, this should be the URL to reach
            // Synapse via the proxy"; it also turns on its /.well-known/matrix/client
            // (config_documentation.md `public_baseurl`; synapse/config/server.py).
            spec("public_baseurl", format!("{client_base_url}/"), Str).well_known(),
            // Synapse only ever announces `<server_name>:443`: on only where that is the
            // document mxproxy plans, so it can never contradict the proxy's.
            spec(
                "serve_server_wellknown",
                (federation_authority.is_some()
                    && !delegated
                    && setup.federation_port.map(|p| p.get()) == Some(HTTPS_PORT))
                .to_string(),
                Literal,
            )
            .well_known(),
            // An integer is a byte count to `parse_size` (synapse/config/_base.py).
            spec("max_upload_size", max_upload, Literal),
        ],
        // dendrite.yaml keys (dendrite-sample.yaml); Dendrite reads no environment.
        Homeserver::Dendrite => {
            let mut specs = vec![
                spec("global.server_name", setup.server_name.to_string(), Str),
                spec(
                    "global.disable_federation",
                    (!federation).to_string(),
                    Literal,
                ),
                spec("media_api.max_file_size_bytes", max_upload, Literal),
                // "This option controls which HTTP header to inspect to find the real
                // remote IP address of the client ... likely required if Dendrite is
                // running behind a reverse proxy" (dendrite-sample.yaml, sync_api).
                spec("sync_api.real_ip_header", "X-Forwarded-For", Str),
                spec("global.well_known_client_name", client_base_url, Str).well_known(),
            ];
            if let Some(server) = federation_authority {
                specs.push(spec("global.well_known_server_name", server, Str).well_known());
            }
            specs
        }
    };
    specs
        .into_iter()
        .map(|spec| {
            let literal = match spec.kind {
                ValueKind::String => serde_json::Value::String(spec.value.clone()).to_string(),
                ValueKind::Literal => spec.value.clone(),
            };
            let config_line = match (spec.key, facts.config_syntax) {
                ("", _) => String::new(),
                (key, ConfigSyntax::Toml) => format!("{key} = {literal}"),
                (key, ConfigSyntax::Yaml) => format!("{key}: {literal}"),
            };
            let env = match (spec.env, facts.env_prefix) {
                (Some(env), _) => env,
                (None, Some(prefix)) => {
                    format!(
                        "{prefix}{}",
                        spec.key.replace('.', "__").to_ascii_uppercase()
                    )
                }
                (None, None) => String::new(),
            };
            Setting {
                env,
                value: spec.value,
                config_line,
                well_known: spec.well_known,
            }
        })
        .collect()
}

/// The flags that reproduce this setup, without `--out` (it never changes file content,
/// and an odd path must not end up in a config comment).
pub fn regenerate_command(setup: &Setup) -> String {
    let args = config::to_args(setup, false);
    let quoted =
        shlex::try_join(args.iter().map(String::as_str)).expect("validated values have no NUL");
    format!("mxproxy generate {quoted}")
}
