//! The one place where decisions are made: which sites exist, which ports listen, which
//! documents are served where, which limits apply. Templates only print this.

mod capacity;
mod compose;
mod front;
mod homeserver;
mod kubernetes;
mod mas;
mod proxies;
mod rtc;
mod sites;
mod tls;
mod web;
mod workers;

use serde::Serialize;

use crate::config;
use crate::defaults::{UPSTREAM_IDLE_TIMEOUT_SECONDS, WELL_KNOWN_MAX_AGE_SECONDS};
use crate::homeserver::Facts;
use crate::proxy;
use crate::setup::{Proxy, Setup, Tls, UpstreamHost};

pub use crate::homeserver::HomeserverKind;
pub use crate::homeserver::settings::Setting;
pub use capacity::{
    ApacheCapacity, CapacityPlan, DEBIAN_CADDY_UNIT_NOFILE, HaproxyCapacity, NginxCapacity,
    SYSTEMD_HARD_NOFILE,
};
pub use compose::{Certbot, Compose, Healthcheck};
pub use front::ClientAddressPlan;
pub use homeserver::{HomeserverListen, HomeserverPlan, PathsPlan, Registration, SYNAPSE_FRAGMENT};
pub use kubernetes::{
    Annotation, Backend, Buffering, GatewayPlan, HeaderValue, KubernetesPlan, KubernetesRtc,
    KubernetesTls, Label, Middleware, MiddlewareKind, Route, ServicePlan, StatefulSetPlan,
    Workload,
};
pub use mas::MasPlan;
pub use proxies::{ApachePlan, CaddyPlan, NamesHash, NginxPlan, ServerNameFederation, TraefikPlan};
pub use rtc::{Focus, MediaPort, RtcPlan};
pub use sites::{Bind, Federation, Listener, Redirect, Site};
pub use tls::TlsPlan;
pub use web::{BaseRedirectPlan, ClientConfig, ElementWebPlan, HeaderLine};
pub use workers::{ComposeWorkers, SynapseWorker, WorkerGroupPlan, WorkersPlan};

/// The longest file name Linux file systems take (NAME_MAX), and the longest suffix put
/// after the homeserver host in a file name (`.conf`: the nginx and Apache sites,
/// certbot's `renewal/<name>.conf`).
const NAME_MAX: usize = 255;
const LONGEST_SUFFIX: &str = ".conf";

/// Docker's embedded DNS server, inside every container on a user-defined network.
const DOCKER_DNS: &str = "127.0.0.11";

#[derive(Debug, Serialize)]
pub struct Plan {
    pub server_name: String,
    pub homeserver_host: String,
    /// What file and certificate names are made of (`nginx/<stem>.conf`, certbot's
    /// `--cert-name`, HAProxy's `<stem>.pem`): the homeserver host, or where that is too
    /// long for a file name, its start and a hash of the whole name.
    pub file_stem: String,
    /// `file_stem` is not the homeserver host; the summary says so.
    pub file_stem_shortened: bool,
    /// The server name differs from the homeserver host, so the well-known files carry
    /// clients and servers from one to the other.
    pub delegated: bool,
    pub homeserver: HomeserverPlan,
    /// Paths refused although they begin with a forwarded prefix as sent.
    pub paths: PathsPlan,
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
    /// `--clients`: the connections, threads and descriptors the proxies need for them.
    pub capacity: CapacityPlan,
    pub webroot: String,
    /// `X-Forwarded-Proto` towards the homeserver: the scheme clients use, which is https
    /// even with `--tls none`, where a terminator in front speaks TLS to them. (With
    /// `$scheme`-style values the homeserver would build http:// URLs there.)
    pub forwarded_proto: String,
    /// Addresses to listen on; empty means every address (IPv4 and IPv6).
    pub bind: Vec<Bind>,
    pub header: Header,
    pub proxies: Vec<Proxy>,
    /// The proxies installed on the host (all but the compose stack's), each with the
    /// template of its summary step.
    pub proxy_steps: Vec<ProxyStep>,
    pub compose: Option<Compose>,
    pub kubernetes: Option<KubernetesPlan>,
    /// What only nginx's file needs; null unless it is asked for.
    pub nginx: Option<NginxPlan>,
    /// `--mas`: what goes to the Matrix Authentication Service; null without it.
    pub mas: Option<MasPlan>,
    /// `--rtc`: LiveKit and its authorization service on the RTC host; null without it.
    pub rtc: Option<RtcPlan>,
    /// `--worker`: which requests go to Synapse's workers; null without.
    pub workers: Option<WorkersPlan>,
    /// `--element-web`: the web client's host, headers, caching and config.json; null without it.
    pub element_web: Option<ElementWebPlan>,
    /// `--base-redirect`: the server name's host redirects every other path; null without it.
    pub base_redirect: Option<BaseRedirectPlan>,
    /// What only Apache's files need; null unless it is asked for.
    pub apache: Option<ApachePlan>,
    /// What only Caddy's file needs; null unless it is asked for.
    pub caddy: Option<CaddyPlan>,
    /// What only Traefik's files need; null unless it is asked for.
    pub traefik: Option<TraefikPlan>,
    /// `--trusted-proxy`, `--cdn`: where the client's address is recovered from; null
    /// without them (the address the proxy sees is the client's).
    pub client_address: Option<ClientAddressPlan>,
    /// The stack's DNS when any server is found by its service name: the homeserver, MAS,
    /// the calls stack, Element Web's image or certbot (HAProxy's one `resolvers` section).
    pub resolver: Option<String>,
    /// Every file to write, in order, with its template.
    pub files: Vec<PlannedFile>,
}

#[derive(Debug, Serialize)]
pub struct ProxyStep {
    pub proxy: Proxy,
    pub template: &'static str,
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
    /// `--rtc`: the calls backend (MSC4143), on the server name's document, where clients
    /// look for it (a missing one is Element's `MISSING_MATRIX_RTC_FOCUS`).
    #[serde(
        rename = "org.matrix.msc4143.rtc_foci",
        skip_serializing_if = "Option::is_none"
    )]
    pub rtc_foci: Option<Vec<Focus>>,
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
pub struct Header {
    pub generated_for: String,
    pub regenerate: String,
}

/// What several parts of the plan read, decided once.
struct Decisions<'a> {
    setup: &'a Setup,
    facts: Facts,
    server_name: String,
    homeserver_host: String,
    file_stem: String,
    /// The server name differs from the homeserver host.
    delegated: bool,
    tls_enabled: bool,
    /// Certificates come from Let's Encrypt (certbot, or the proxy itself).
    acme: bool,
    /// A proxy that cannot answer with a fixed body (Traefik) forwards
    /// `/.well-known/matrix/` to the homeserver.
    forwards_well_known: bool,
    /// Path prefixes every proxy forwards (the admin prefixes too with `--expose-admin`).
    prefixes: Vec<String>,
}

impl<'a> Decisions<'a> {
    fn new(setup: &'a Setup) -> Decisions<'a> {
        let facts = crate::homeserver::facts(setup.homeserver);
        let server_name = setup.server_name.to_string();
        let homeserver_host = setup.homeserver_host.to_string();
        let mut prefixes: Vec<String> = facts.prefixes.iter().map(|p| p.to_string()).collect();
        if setup.expose_admin {
            prefixes.extend(facts.admin_prefixes.iter().map(|p| p.to_string()));
        }
        Decisions {
            setup,
            facts,
            file_stem: file_stem(&homeserver_host),
            delegated: server_name != homeserver_host,
            server_name,
            homeserver_host,
            tls_enabled: setup.tls != Tls::None,
            acme: matches!(setup.tls, Tls::Acme { .. }),
            forwards_well_known: setup
                .proxies
                .iter()
                .any(|&p| !proxy::facts(p).serves_fixed_documents),
            prefixes,
        }
    }
}

/// The homeserver host, or where `<host>.conf` would pass NAME_MAX, as much of it as fits
/// with a hash of the whole name after it: never cut short silently (the summary names it)
/// and never the same for two hosts.
fn file_stem(host: &str) -> String {
    use sha2::{Digest, Sha256};
    if host.len() + LONGEST_SUFFIX.len() <= NAME_MAX {
        return host.to_string();
    }
    let hash: String = Sha256::digest(host.as_bytes())[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let keep = NAME_MAX - LONGEST_SUFFIX.len() - hash.len() - 1;
    let start = host[..keep].trim_end_matches(['.', '-']);
    format!("{start}-{hash}")
}

pub fn plan(setup: &Setup) -> Plan {
    let decided = Decisions::new(setup);
    let federation = sites::federation(setup);
    let listeners = sites::matrix_listeners(&decided, federation.as_ref());
    let sites = sites::sites(&decided, &listeners);
    let main_listener = listeners.first().expect("every setup has a main listener");
    let mas = setup
        .mas
        .as_ref()
        .map(|mas| mas::mas_plan(&decided, mas, main_listener));
    let rtc = setup
        .rtc
        .as_ref()
        .map(|rtc| rtc::rtc_plan(&decided, rtc, main_listener));
    let mut hosts: Vec<String> = sites.iter().map(|site| site.host.clone()).collect();
    // MAS's own host: redirected to HTTPS and on the certificate like the others.
    hosts.extend(mas.as_ref().and_then(|mas| mas.host.clone()));
    hosts.extend(rtc.as_ref().map(|rtc| rtc.host.clone()));
    let federation_authority = federation
        .as_ref()
        .map(|federation| format!("{}:{}", decided.homeserver_host, federation.port));
    let server_document = server_document(&decided, federation_authority.as_ref(), rtc.is_some());
    let client_base_url = format!("https://{}", decided.homeserver_host);
    let (element_web, base_redirect) = web_client(&decided, main_listener, &client_base_url);
    // Element Web's host likewise.
    hosts.extend(element_web.as_ref().map(|web| web.host.clone()));
    let bind = sites::bind(setup);
    let tls = tls::tls_plan(&decided, hosts.clone());
    let homeserver =
        homeserver::homeserver_plan(&decided, federation_authority.as_deref(), &client_base_url);

    let mut plan = Plan {
        header: Header {
            generated_for: decided.server_name.clone(),
            regenerate: regenerate_command(setup),
        },
        server_name: decided.server_name.clone(),
        homeserver_host: decided.homeserver_host.clone(),
        file_stem: decided.file_stem.clone(),
        file_stem_shortened: decided.file_stem != decided.homeserver_host,
        delegated: decided.delegated,
        paths: homeserver::paths_plan(&homeserver.blocked_prefixes),
        homeserver,
        upstream: upstream_plan(setup),
        redirect: sites::redirect(&decided, &hosts),
        nginx: proxies::nginx(&decided, &hosts),
        mas,
        workers: workers::workers_plan(&decided),
        element_web,
        base_redirect,
        apache: proxies::apache(&decided),
        caddy: proxies::caddy(&decided, tls.acme_email.is_some()),
        traefik: proxies::traefik(&decided, &bind, &listeners),
        tls,
        compose: setup
            .compose
            .then(|| compose::compose_plan(&decided, &listeners)),
        kubernetes: setup
            .kubernetes
            .as_ref()
            .map(|kubernetes| kubernetes::kubernetes_plan(&decided, kubernetes, &sites)),
        listeners,
        federation,
        sites,
        well_known: well_known(
            server_document,
            client_base_url,
            rtc.as_ref().map(rtc::foci),
        ),
        rtc,
        limits: Limits {
            max_upload_bytes: setup.max_upload.bytes(),
            max_upload: setup.max_upload.to_string(),
            read_timeout_seconds: setup.read_timeout.seconds(),
            upstream_idle_timeout_seconds: UPSTREAM_IDLE_TIMEOUT_SECONDS,
        },
        capacity: capacity::capacity_plan(setup.clients),
        webroot: setup.webroot.to_string(),
        forwarded_proto: "https".into(),
        bind,
        proxies: setup.proxies.clone(),
        proxy_steps: proxy_steps(setup),
        client_address: front::client_address(setup),
        resolver: None,
        files: Vec::new(),
    };
    plan.resolver = stack_resolver(&plan);
    plan.files = match &plan.kubernetes {
        Some(kubernetes) => kubernetes::kubernetes_files(kubernetes),
        None => host_files(&plan),
    };
    plan
}

/// One resolver for the whole stack: every part that names one names Docker's.
fn stack_resolver(plan: &Plan) -> Option<String> {
    [
        plan.upstream.resolver.as_ref(),
        plan.mas.as_ref().and_then(|mas| mas.resolver.as_ref()),
        plan.rtc.as_ref().and_then(|rtc| rtc.resolver.as_ref()),
        plan.element_web
            .as_ref()
            .and_then(|web| web.upstream.as_ref())
            .and_then(|upstream| upstream.resolver.as_ref()),
        plan.redirect
            .as_ref()
            .and_then(|redirect| redirect.acme_resolver.as_ref()),
    ]
    .into_iter()
    .flatten()
    .next()
    .cloned()
}

/// The server well-known's `m.server`: the federation authority, or with federation off and
/// `--rtc` the homeserver host on 443. The authorization service still finds the one path
/// left open (`openid_userinfo`) through it: its lookup follows the server well-known, SRV,
/// then port 8448 (gomatrixserverlib `ResolveServer`, used by lk-jwt-service's helper.go),
/// always over TLS: 443, where the homeserver host answers (a TLS terminator in front of
/// it with `--tls none`).
fn server_document(
    decided: &Decisions,
    federation_authority: Option<&String>,
    rtc: bool,
) -> Option<String> {
    federation_authority.cloned().or_else(|| {
        rtc.then(|| format!("{}:{}", decided.homeserver_host, crate::matrix::HTTPS_PORT))
    })
}

/// Element Web on its host, whose config.json names the homeserver as the client
/// well-known does, from the same values; and the server name's base redirect.
fn web_client(
    decided: &Decisions,
    main_listener: &sites::Listener,
    client_base_url: &str,
) -> (Option<ElementWebPlan>, Option<BaseRedirectPlan>) {
    let setup = decided.setup;
    let element_web = setup.element_web.as_ref().map(|web| {
        web::element_web_plan(
            web,
            main_listener,
            client_base_url,
            &decided.server_name,
            (setup.compose, setup.rtc.is_some(), setup.mas.is_some()),
        )
    });
    let base_redirect = setup
        .base_redirect
        .as_ref()
        .map(|redirect| web::base_redirect_plan(redirect, element_web.as_ref()));
    (element_web, base_redirect)
}

/// The proxies installed on the host, each with its summary step: all but the compose
/// stack's proxy (the first), which is set up with the stack.
fn proxy_steps(setup: &Setup) -> Vec<ProxyStep> {
    setup
        .proxies
        .iter()
        .skip(usize::from(setup.compose))
        .map(|&proxy| ProxyStep {
            proxy,
            template: proxy::facts(proxy).next_steps_template,
        })
        .collect()
}

fn upstream_plan(setup: &Setup) -> UpstreamPlan {
    UpstreamPlan {
        address: setup.upstream.to_string(),
        url: format!("http://{}", setup.upstream),
        resolver: (setup.compose && matches!(setup.upstream.host, UpstreamHost::Name(_)))
            .then(|| DOCKER_DNS.to_string()),
    }
}

fn well_known(
    server_document: Option<String>,
    client_base_url: String,
    rtc_foci: Option<Vec<Focus>>,
) -> WellKnown {
    WellKnown {
        server: server_document.map(|server| ServerDocument { server }),
        client: ClientDocument {
            homeserver: BaseUrl {
                base_url: client_base_url,
            },
            rtc_foci,
        },
        cors: Cors::recommended(),
        max_age_seconds: WELL_KNOWN_MAX_AGE_SECONDS,
    }
}

/// The proxies' files, the well-known documents, the homeserver's config fragment and the
/// compose stack, each at its folder-layout path and its Debian place.
fn host_files(plan: &Plan) -> Vec<PlannedFile> {
    let host = &plan.file_stem;
    let mut files = Vec::new();
    for &proxy in &plan.proxies {
        let facts = proxy::facts(proxy);
        let client_address_files = match plan.client_address {
            Some(_) => facts.client_address_files,
            None => &[],
        };
        for file in facts.files.iter().chain(client_address_files) {
            let path = file.path_for(host);
            files.push(PlannedFile::new(
                format!("{proxy}/{path}"),
                format!("{}/{path}", facts.debian_dir),
                file.template,
            ));
        }
        // Beside the proxy's own files, where the listing reads them together.
        if plan.proxy_steps.iter().any(|step| step.proxy == proxy) {
            for file in facts.host_files {
                files.push(PlannedFile::new(
                    format!("{proxy}/{}", file.path),
                    file.debian_path.into(),
                    file.template,
                ));
            }
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
    if let Some(mas) = &plan.mas {
        // MAS has no Debian package: the same place in both layouts.
        files.push(PlannedFile::anywhere(
            mas.config_fragment.clone(),
            "mas/mxproxy.yaml.j2",
        ));
    }
    if let Some(web) = &plan.element_web {
        files.push(PlannedFile::new(
            web.config_file.clone(),
            web::CONFIG_DEBIAN.into(),
            "element-web/config.json.j2",
        ));
    }
    if let Some(fragment) = &plan.homeserver.config_fragment {
        // Debian's matrix-synapse reads every file in conf.d after homeserver.yaml.
        files.push(PlannedFile::new(
            fragment.clone(),
            "etc/matrix-synapse/conf.d/mxproxy.yaml".into(),
            "synapse/mxproxy.yaml.j2",
        ));
    }
    // One config file per Synapse worker, read after the shared ones (docs/workers.md).
    for process in plan.workers.iter().flat_map(|w| &w.synapse.processes) {
        files.push(PlannedFile::new(
            process.file.clone(),
            format!("{}/{}.yaml", workers::WORKER_DIR_DEBIAN, process.name),
            "synapse/worker.yaml.j2",
        ));
    }
    // The compose stack has no Debian place; `generate` refuses that combination.
    if let Some(compose) = &plan.compose {
        files.push(PlannedFile::anywhere(
            "docker-compose.yml",
            "compose/docker-compose.yml.j2",
        ));
        if let Some(rtc) = &compose.rtc {
            files.push(PlannedFile::anywhere(
                rtc.livekit_config_file.clone(),
                "compose/livekit.yaml.j2",
            ));
        }
        for file in proxy::facts(compose.proxy).compose_files {
            let path = format!("{}/{}", compose.proxy, file.path_for(host));
            files.push(PlannedFile::anywhere(path, file.template));
        }
    }
    files
}

/// The flags that reproduce this setup, without `--out` (it never changes file content,
/// and an odd path must not end up in a config comment).
pub fn regenerate_command(setup: &Setup) -> String {
    let args = config::to_args(setup, false);
    let quoted =
        shlex::try_join(args.iter().map(String::as_str)).expect("validated values have no NUL");
    format!("mxproxy generate {quoted}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::Homeserver;

    /// Hosts up to 250 characters name their files; longer ones (the longest DNS name has
    /// 253) are shortened to fit `<stem>.conf` in 255 bytes, with a hash that tells them apart.
    #[test]
    fn file_names_fit_the_file_system() {
        let label = "a".repeat(63);
        let fits = format!("{label}.{label}.{label}.{}", "b".repeat(58));
        assert_eq!(fits.len(), 250);
        assert_eq!(file_stem(&fits), fits);
        let longest = format!("{label}.{label}.{label}.{}", "b".repeat(61));
        let other = format!("{label}.{label}.{label}.{}", "c".repeat(61));
        let stem = file_stem(&longest);
        assert!(stem.len() + LONGEST_SUFFIX.len() <= NAME_MAX, "{stem}");
        assert!(longest.starts_with(stem.rsplit_once('-').unwrap().0));
        assert_ne!(stem, file_stem(&other));
        assert_eq!(stem, file_stem(&longest), "stable");
    }

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
