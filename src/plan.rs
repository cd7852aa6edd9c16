//! The one place where decisions are made: which sites exist, which ports listen, which
//! documents are served where, which limits apply. Templates only print this.

use serde::Serialize;

use crate::config;
use crate::defaults::{
    COMPOSE_SERVICE, READ_TIMEOUT_SECONDS, UPSTREAM_IDLE_TIMEOUT_SECONDS,
    WELL_KNOWN_MAX_AGE_SECONDS,
};
use crate::homeserver::{self, ConfigSyntax};
use crate::matrix::{FEDERATION_PREFIXES, HTTP_PORT, HTTPS_PORT, PROBE_PATH, WELL_KNOWN_PATH};
use crate::proxy::{self, CertificateForm};
use crate::setup::{
    Homeserver, IngressClass, Kubernetes, KubernetesRouting, Proxy, Setup, Tls, UpstreamHost,
};

/// Synapse's settings, written as a config file read after its own homeserver.yaml.
pub const SYNAPSE_FRAGMENT: &str = "synapse/mxproxy.yaml";
const SYNAPSE_FRAGMENT_NAME: &str = "mxproxy.yaml";
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
    /// `X-Forwarded-Proto` towards the homeserver: the scheme clients use, which is https
    /// even with `--tls none`, where a terminator in front speaks TLS to them. (With
    /// `$scheme`-style values the homeserver would build http:// URLs there.)
    pub forwarded_proto: String,
    /// Addresses to listen on; empty means every address (IPv4 and IPv6).
    pub bind: Vec<Bind>,
    pub header: Header,
    pub proxies: Vec<Proxy>,
    pub compose: Option<Compose>,
    pub kubernetes: Option<KubernetesPlan>,
    /// Every file to write, in order, with its template.
    pub files: Vec<PlannedFile>,
}

/// One generated file and the template that writes it.
#[derive(Debug, Serialize)]
pub struct PlannedFile {
    /// Below `--out` in the folder layout (`nginx/matrix.example.org.conf`), with `/`.
    pub path: String,
    /// Below `--out` in the Debian layout: where Debian's packages read the file
    /// (`etc/nginx/sites-available/matrix.example.org.conf`); `path` where there is no such place.
    pub debian_path: String,
    /// The template's name (`nginx/site.conf.j2`).
    pub template: &'static str,
}

impl PlannedFile {
    fn new(path: String, debian_path: String, template: &'static str) -> PlannedFile {
        PlannedFile {
            path,
            debian_path,
            template,
        }
    }

    /// A file with no Debian place: the same path in both layouts.
    fn anywhere(path: impl Into<String>, template: &'static str) -> PlannedFile {
        let path = path.into();
        PlannedFile::new(path.clone(), path, template)
    }
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
    pub kind: HomeserverKind,
    /// A config file mxproxy writes for the homeserver (Synapse's fragment), below `--out`.
    pub config_fragment: Option<String>,
    /// Environment variables that open token-only registration in the compose stack
    /// (Conduit family), the token read from `.env`.
    pub registration: Option<Registration>,
}

/// How a homeserver is set up; serialized as the template names use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HomeserverKind {
    /// Configured by environment variables (Conduit family).
    Environment,
    Synapse,
    Dendrite,
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

impl Cors {
    fn recommended() -> Cors {
        Cors {
            allow_origin: "*".into(),
            allow_methods: ["GET", "HEAD", "OPTIONS"].map(String::from).to_vec(),
            allow_headers: ["X-Requested-With", "Content-Type", "Authorization"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// Origin, methods, headers: the three response headers with their values.
    fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("Access-Control-Allow-Origin", self.allow_origin.clone()),
            (
                "Access-Control-Allow-Methods",
                self.allow_methods.join(", "),
            ),
            (
                "Access-Control-Allow-Headers",
                self.allow_headers.join(", "),
            ),
        ]
    }
}

#[derive(Debug, Serialize)]
pub struct Limits {
    pub max_upload_bytes: u64,
    pub max_upload: String,
    pub read_timeout_seconds: u32,
    pub upstream_idle_timeout_seconds: u32,
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
    pub proxy: Proxy,
    pub service: String,
    /// Host ports published by the proxy container.
    pub ports: Vec<u16>,
    /// The proxy cannot obtain certificates itself, so the stack has a certbot service.
    pub certbot: bool,
    /// With `--tls files`: the host files the proxy container mounts, as the proxy reads
    /// them (HAProxy: chain and key in one file).
    pub certificate_files: Vec<String>,
    /// The stack's named volumes.
    pub volumes: Vec<String>,
}

/// Where HAProxy's `crt` reads chain and key from, one file (the summary says how it is
/// assembled from certbot's or the user's two files).
fn combined_pem(homeserver_host: &str) -> String {
    format!("{}/{homeserver_host}.pem", proxy::HAPROXY_CERTS)
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
                role: format!("the well-known documents that delegate to {homeserver_host}"),
                listeners: vec![main.clone()],
            },
            Site {
                host: homeserver_host.clone(),
                well_known: false,
                matrix: true,
                role: "the homeserver".into(),
                listeners: matrix_listeners.clone(),
            },
        ]
    } else {
        vec![Site {
            host: server_name.clone(),
            well_known: true,
            matrix: true,
            role: "the well-known documents and the homeserver".into(),
            listeners: matrix_listeners.clone(),
        }]
    };
    let hosts: Vec<String> = sites.iter().map(|s| s.host.clone()).collect();
    let sites_for_kubernetes: Vec<(String, bool, bool)> = sites
        .iter()
        .map(|site| (site.host.clone(), site.well_known, site.matrix))
        .collect();

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
        combined_pem: tls_enabled.then(|| combined_pem(&homeserver_host)),
        names: hosts.clone(),
        certbot_cert_name: homeserver_host.clone(),
    };

    let federation_authority = federation
        .as_ref()
        .map(|f| format!("{homeserver_host}:{}", f.port));
    let client_base_url = format!("https://{homeserver_host}");

    let compose = setup.compose.then(|| {
        let proxy = setup.proxies[0];
        // 80 for the redirect and ACME, then what the proxy listens on for the homeserver.
        let mut ports = vec![HTTP_PORT];
        for listener in &matrix_listeners {
            if !ports.contains(&listener.port) {
                ports.push(listener.port);
            }
        }
        let proxy_facts = proxy::facts(proxy);
        let certbot = matches!(setup.tls, Tls::Acme { .. }) && !proxy_facts.obtains_certificates;
        let certificate_files = match (&setup.tls, proxy_facts.certificate_form) {
            (Tls::Files { .. }, CertificateForm::CombinedPem { .. }) => {
                vec![combined_pem(&homeserver_host)]
            }
            (Tls::Files { cert, key }, CertificateForm::Pair) => {
                vec![cert.to_string(), key.to_string()]
            }
            _ => Vec::new(),
        };
        let mut volumes = vec!["homeserver-data".to_string(), "certs".to_string()];
        // certbot's deploy hook writes the one-file chain and key HAProxy reads.
        if certbot
            && matches!(
                proxy_facts.certificate_form,
                CertificateForm::CombinedPem { .. }
            )
        {
            volumes.push("haproxy-certs".into());
        }
        Compose {
            proxy,
            service: proxy.name().into(),
            ports,
            certbot,
            certificate_files,
            volumes,
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

    let mut plan = Plan {
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
                (Homeserver::Synapse, _) => HomeserverKind::Synapse,
                (Homeserver::Dendrite, _) => HomeserverKind::Dendrite,
                (_, Some(_)) => HomeserverKind::Environment,
                (_, None) => unreachable!("every other homeserver reads its environment"),
            },
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
            cors: Cors::recommended(),
            max_age_seconds: WELL_KNOWN_MAX_AGE_SECONDS,
        },
        limits: Limits {
            max_upload_bytes: setup.max_upload.bytes(),
            max_upload: setup.max_upload.to_string(),
            read_timeout_seconds: READ_TIMEOUT_SECONDS,
            upstream_idle_timeout_seconds: UPSTREAM_IDLE_TIMEOUT_SECONDS,
        },
        webroot: setup.webroot.to_string(),
        forwarded_proto: "https".into(),
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
        proxies: setup.proxies.clone(),
        compose,
        kubernetes: setup
            .kubernetes
            .as_ref()
            .map(|kubernetes| kubernetes_plan(setup, kubernetes, &sites_for_kubernetes)),
        files: Vec::new(),
    };
    plan.files = match &plan.kubernetes {
        Some(kubernetes) => kubernetes_files(kubernetes),
        None => host_files(&plan),
    };
    plan
}

/// The proxies' files, the well-known documents, the homeserver's config fragment and the
/// compose stack, each at its folder-layout path and its Debian place.
fn host_files(plan: &Plan) -> Vec<PlannedFile> {
    let host = &plan.homeserver_host;
    let mut files = Vec::new();
    for &proxy in &plan.proxies {
        let facts = proxy::facts(proxy);
        for file in facts.files {
            let path = file.path_for(host);
            files.push(PlannedFile::new(
                format!("{proxy}/{path}"),
                format!("{}/{path}", facts.debian_dir),
                file.template,
            ));
        }
    }
    // The webroot the Apache site serves the well-known files from.
    let webroot = plan.webroot.trim_start_matches('/');
    let well_known = |name: &str, template| {
        PlannedFile::new(
            format!("well-known/matrix/{name}"),
            format!("{webroot}/.well-known/matrix/{name}"),
            template,
        )
    };
    if plan.well_known.server.is_some() {
        files.push(well_known("server", "well-known/server.j2"));
    }
    files.push(well_known("client", "well-known/client.j2"));
    if let Some(fragment) = &plan.homeserver.config_fragment {
        // Debian's matrix-synapse reads every file in conf.d after homeserver.yaml.
        files.push(PlannedFile::new(
            fragment.clone(),
            format!("etc/matrix-synapse/conf.d/{SYNAPSE_FRAGMENT_NAME}"),
            "synapse/mxproxy.yaml.j2",
        ));
    }
    // The compose stack has no Debian place; `generate` refuses that combination.
    if let Some(compose) = &plan.compose {
        files.push(PlannedFile::anywhere(
            "docker-compose.yml",
            "compose/docker-compose.yml.j2",
        ));
        for file in proxy::facts(compose.proxy).compose_files {
            let path = format!("{}/{}", compose.proxy, file.path_for(host));
            files.push(PlannedFile::anywhere(path, file.template));
        }
    }
    files
}

/// `kubernetes/`: the kustomization, then one object per file in the order it lists them.
/// The homeserver serves both well-known documents itself (see the ingress templates), so
/// `well-known/` is not written.
fn kubernetes_files(kubernetes: &KubernetesPlan) -> Vec<PlannedFile> {
    let file = |name: &str, template| PlannedFile::anywhere(format!("kubernetes/{name}"), template);
    let route_template = if kubernetes.gateway.is_some() {
        "kubernetes/httproute.yaml.j2"
    } else {
        "kubernetes/ingress.yaml.j2"
    };
    let mut files = vec![
        file("kustomization.yaml", "kubernetes/kustomization.yaml.j2"),
        file("namespace.yaml", "kubernetes/namespace.yaml.j2"),
        file("service.yaml", "kubernetes/service.yaml.j2"),
        file("statefulset.yaml", "kubernetes/statefulset.yaml.j2"),
    ];
    files.extend(
        kubernetes
            .routes
            .iter()
            .map(|route| file(&route.file, route_template)),
    );
    files.extend(
        kubernetes
            .middlewares
            .iter()
            .map(|middleware| file(&middleware.file, "kubernetes/middleware.yaml.j2")),
    );
    files
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
                    && setup.federation_port.is_some_and(|port| {
                        facts
                            .well_known
                            .serves_planned_server_document(delegated, port)
                    }))
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

/// A starting point for one small community: Conduit and its successors idle well below
/// this; requests let the scheduler place the pod, and no limit is set so that a busy
/// moment (joining a large room) is slowed by CPU, not ended by the OOM killer.
const REQUEST_CPU: &str = "100m";
const REQUEST_MEMORY: &str = "256Mi";
/// The database and the media store share the data directory (Conduit's `database_path`
/// holds `media/`); uploads dominate, so this is sized for them.
const STORAGE: &str = "10Gi";
/// An unprivileged user and group for the homeserver: the images need none of their own
/// (Conduit's Nix image has no user at all, nix/pkgs/oci-image/default.nix), and fsGroup
/// makes the data volume writable for it.
const RUN_AS: u32 = 1000;
/// The Secret the registration token is read from, created by hand so that it never
/// lands in a generated file.
const REGISTRATION_SECRET: &str = "homeserver-registration";
const TLS_SECRET: &str = "homeserver-tls";

#[derive(Debug, Serialize)]
pub struct KubernetesPlan {
    pub namespace: String,
    /// app.kubernetes.io/* recommended labels, on every object.
    pub labels: Vec<Label>,
    /// The subset that selects the homeserver's pods (name and instance never change).
    pub selector: Vec<Label>,
    /// `nginx` or `traefik` with an Ingress; absent with a Gateway.
    pub ingress_class: Option<String>,
    pub gateway: Option<GatewayPlan>,
    pub service: ServicePlan,
    pub statefulset: StatefulSetPlan,
    /// One Ingress or HTTPRoute each: `well-known` on the server name and `homeserver` on
    /// the homeserver host (both on one host when they are the same).
    pub routes: Vec<Route>,
    /// Traefik middlewares, one object each.
    pub middlewares: Vec<Middleware>,
    pub tls: Option<KubernetesTls>,
    /// Every file below `kubernetes/`, in the order the kustomization lists them.
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Label {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct GatewayPlan {
    pub name: String,
    pub namespace: Option<String>,
    /// `[namespace/]name` as given.
    pub reference: String,
}

#[derive(Debug, Serialize)]
pub struct ServicePlan {
    pub name: String,
    pub port: u16,
    pub port_name: String,
}

#[derive(Debug, Serialize)]
pub struct StatefulSetPlan {
    pub name: String,
    pub probe_path: String,
    pub request_cpu: String,
    pub request_memory: String,
    pub storage: String,
    pub run_as: u32,
    pub registration_secret: String,
}

#[derive(Debug, Serialize)]
pub struct Route {
    /// Object name: `well-known` or `homeserver`.
    pub name: String,
    /// Its file below `kubernetes/`: `ingress-<name>.yaml` or `httproute-<name>.yaml`.
    pub file: String,
    pub host: String,
    pub paths: Vec<String>,
    /// Ingress annotations, each with the reason it is there.
    pub annotations: Vec<Annotation>,
    /// This Ingress lists every TLS host and asks cert-manager for the one certificate.
    pub issues_certificate: bool,
    /// HTTPRoute `timeouts.request`, e.g. `600s`.
    pub timeout: Option<String>,
    /// HTTPRoute ResponseHeaderModifier `set` headers.
    pub response_headers: Vec<HeaderValue>,
}

#[derive(Debug, Serialize)]
pub struct Annotation {
    pub key: String,
    pub value: String,
    pub why: String,
}

#[derive(Debug, Serialize)]
pub struct HeaderValue {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct Middleware {
    pub name: String,
    /// Its file below `kubernetes/`: `middleware-<name>.yaml`.
    pub file: String,
    /// `buffering` or `headers`: which middleware spec the template writes.
    pub kind: MiddlewareKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MiddlewareKind {
    /// The upload limit.
    Buffering,
    /// CORS and Cache-Control on the well-known documents.
    Headers,
}

#[derive(Debug, Serialize)]
pub struct KubernetesTls {
    pub secret: String,
    pub hosts: Vec<String>,
    pub cluster_issuer: Option<String>,
}

/// A label value: at most 63 characters of letters, digits, `-`, `_` and `.`, starting
/// and ending alphanumeric (kubernetes.io "Labels and Selectors", syntax and character set).
fn label_value(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

fn annotation(key: &str, value: impl Into<String>, why: &str) -> Annotation {
    Annotation {
        key: key.into(),
        value: value.into(),
        why: why.into(),
    }
}

fn kubernetes_plan(
    setup: &Setup,
    kubernetes: &Kubernetes,
    sites: &[(String, bool, bool)],
) -> KubernetesPlan {
    let facts = homeserver::facts(setup.homeserver);
    let namespace = kubernetes.namespace.to_string();
    let selector = vec![
        Label {
            key: "app.kubernetes.io/name".into(),
            value: setup.homeserver.name().into(),
        },
        Label {
            key: "app.kubernetes.io/instance".into(),
            value: label_value(&setup.server_name.to_string()),
        },
    ];
    let mut labels = selector.clone();
    labels.push(Label {
        key: "app.kubernetes.io/managed-by".into(),
        value: "mxproxy".into(),
    });
    let tls_enabled = setup.tls != Tls::None;
    let ingress_class = match &kubernetes.routing {
        KubernetesRouting::Ingress(class) => Some(*class),
        KubernetesRouting::Gateway(_) => None,
    };
    let tls = (tls_enabled && ingress_class.is_some()).then(|| KubernetesTls {
        secret: TLS_SECRET.into(),
        hosts: sites.iter().map(|(host, ..)| host.clone()).collect(),
        cluster_issuer: kubernetes.cluster_issuer.as_ref().map(ToString::to_string),
    });
    let mut prefixes: Vec<String> = facts.prefixes.iter().map(|p| p.to_string()).collect();
    if setup.expose_admin {
        prefixes.extend(facts.admin_prefixes.iter().map(|p| p.to_string()));
    }
    let cors = Cors::recommended().headers();
    let middleware_ref = |name: &str| format!("{namespace}-{name}@kubernetescrd");
    // The Traefik Helm chart's entry points: `web` on 80, `websecure` on 443.
    let (traefik_entry_point, traefik_entry_point_why) = if tls_enabled {
        (
            "websecure",
            "HTTPS only (the Helm chart's entry point on 443)",
        )
    } else {
        (
            "web",
            "plain HTTP, TLS ends in front of the cluster (--tls none)",
        )
    };

    let route_kind = if ingress_class.is_some() {
        "ingress"
    } else {
        "httproute"
    };
    let mut routes = Vec::new();
    for (host, well_known, matrix) in sites {
        if *well_known {
            let annotations = match ingress_class {
                // ingress-nginx's CORS annotations set the headers with more_set_headers
                // (replacing any the homeserver sends) and answer preflights themselves
                // (kubernetes.github.io/ingress-nginx, annotations "Enable CORS"). Only on
                // this Ingress: the API's own CORS allows more methods than these.
                Some(IngressClass::Nginx) => vec![
                    annotation(
                        "nginx.ingress.kubernetes.io/enable-cors",
                        "true",
                        "browser clients read both documents (client-server API, \"Web Browser Clients\")",
                    ),
                    annotation(
                        "nginx.ingress.kubernetes.io/cors-allow-origin",
                        cors[0].1.clone(),
                        "",
                    ),
                    annotation(
                        "nginx.ingress.kubernetes.io/cors-allow-methods",
                        cors[1].1.clone(),
                        "",
                    ),
                    annotation(
                        "nginx.ingress.kubernetes.io/cors-allow-headers",
                        cors[2].1.clone(),
                        "",
                    ),
                ],
                Some(IngressClass::Traefik) => vec![
                    annotation(
                        "traefik.ingress.kubernetes.io/router.entrypoints",
                        traefik_entry_point,
                        traefik_entry_point_why,
                    ),
                    annotation(
                        "traefik.ingress.kubernetes.io/router.middlewares",
                        middleware_ref("well-known-headers"),
                        "CORS and Cache-Control (middleware-well-known-headers.yaml)",
                    ),
                ],
                None => Vec::new(),
            };
            routes.push(Route {
                name: "well-known".into(),
                file: format!("{route_kind}-well-known.yaml"),
                host: host.clone(),
                paths: vec![WELL_KNOWN_PATH.into()],
                annotations,
                issues_certificate: false,
                timeout: None,
                response_headers: cors
                    .iter()
                    .map(|(name, value)| HeaderValue {
                        name: (*name).into(),
                        value: value.clone(),
                    })
                    .chain(std::iter::once(HeaderValue {
                        name: "Cache-Control".into(),
                        value: format!("max-age={WELL_KNOWN_MAX_AGE_SECONDS}"),
                    }))
                    .collect(),
            });
        }
        if *matrix {
            let mut annotations = match ingress_class {
                Some(IngressClass::Nginx) => vec![
                    annotation(
                        "nginx.ingress.kubernetes.io/proxy-body-size",
                        setup.max_upload.bytes().to_string(),
                        "the upload limit, in bytes, as the homeserver's own setting (default 1m)",
                    ),
                    annotation(
                        "nginx.ingress.kubernetes.io/proxy-read-timeout",
                        READ_TIMEOUT_SECONDS.to_string(),
                        "longer than any /sync long-poll (default 60 s)",
                    ),
                    annotation(
                        "nginx.ingress.kubernetes.io/proxy-send-timeout",
                        READ_TIMEOUT_SECONDS.to_string(),
                        "",
                    ),
                ],
                Some(IngressClass::Traefik) => vec![
                    annotation(
                        "traefik.ingress.kubernetes.io/router.entrypoints",
                        traefik_entry_point,
                        traefik_entry_point_why,
                    ),
                    annotation(
                        "traefik.ingress.kubernetes.io/router.middlewares",
                        middleware_ref("upload-limit"),
                        "the upload limit (middleware-upload-limit.yaml)",
                    ),
                ],
                None => Vec::new(),
            };
            if let Some(issuer) = &kubernetes.cluster_issuer {
                annotations.insert(
                    0,
                    annotation(
                        "cert-manager.io/cluster-issuer",
                        issuer.to_string(),
                        "cert-manager issues the one certificate for every host below",
                    ),
                );
            }
            routes.push(Route {
                name: "homeserver".into(),
                file: format!("{route_kind}-homeserver.yaml"),
                host: host.clone(),
                paths: prefixes.clone(),
                annotations,
                issues_certificate: true,
                timeout: Some(format!("{READ_TIMEOUT_SECONDS}s")),
                response_headers: Vec::new(),
            });
        }
    }
    // The homeserver route lists the certificate first, so it goes first.
    routes.sort_by_key(|route| !route.issues_certificate);

    let middlewares = if ingress_class == Some(IngressClass::Traefik) {
        vec![
            Middleware {
                name: "upload-limit".into(),
                file: "middleware-upload-limit.yaml".into(),
                kind: MiddlewareKind::Buffering,
            },
            Middleware {
                name: "well-known-headers".into(),
                file: "middleware-well-known-headers.yaml".into(),
                kind: MiddlewareKind::Headers,
            },
        ]
    } else {
        Vec::new()
    };

    let mut resources: Vec<String> = ["namespace.yaml", "service.yaml", "statefulset.yaml"]
        .map(String::from)
        .to_vec();
    resources.extend(routes.iter().map(|route| route.file.clone()));
    resources.extend(middlewares.iter().map(|middleware| middleware.file.clone()));

    KubernetesPlan {
        namespace,
        labels,
        selector,
        ingress_class: ingress_class.map(|class| class.name().into()),
        gateway: match &kubernetes.routing {
            KubernetesRouting::Gateway(gateway) => Some(GatewayPlan {
                name: gateway.name.to_string(),
                namespace: gateway.namespace.as_ref().map(ToString::to_string),
                reference: gateway.to_string(),
            }),
            KubernetesRouting::Ingress(_) => None,
        },
        service: ServicePlan {
            name: COMPOSE_SERVICE.into(),
            port: setup.upstream.port.get(),
            port_name: "http".into(),
        },
        statefulset: StatefulSetPlan {
            name: COMPOSE_SERVICE.into(),
            probe_path: PROBE_PATH.into(),
            request_cpu: REQUEST_CPU.into(),
            request_memory: REQUEST_MEMORY.into(),
            storage: STORAGE.into(),
            run_as: RUN_AS,
            registration_secret: REGISTRATION_SECRET.into(),
        },
        routes,
        middlewares,
        tls,
        resources,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The proxies drop idle upstream connections before any homeserver closes them, and
    /// before hyper's 30 s header-read timeout would.
    #[test]
    fn upstream_idle_timeout_ends_before_the_homeservers_own() {
        for &homeserver in Homeserver::ALL {
            let close = crate::homeserver::facts(homeserver)
                .idle_close_seconds
                .unwrap_or(30)
                .min(30);
            assert!(
                UPSTREAM_IDLE_TIMEOUT_SECONDS + 5 <= close,
                "{homeserver:?} closes idle connections after {close} s"
            );
        }
    }
}
