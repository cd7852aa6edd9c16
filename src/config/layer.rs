//! `SetupLayer`: every setting once, as a flag (clap), an `MXPROXY_*` variable (clap's
//! `env`) and a YAML key (serde) alike. Each field is an `Option`, so a layer says what
//! it gives and nothing else; `merge` combines the flags' layer with the file's.
//!
//! The field order is the order of `generate --help` and of the YAML the wizard saves.
//! A new setting is a field here, its line in `or` and in `From<&Setup>` (the compiler
//! asks for both) and its place in `FLAG_ORDER` (a test asks); `args.rs` derives the
//! flags and the YAML from these.
//!
//! A flag's doc comment is its `--help`, except where the help names a default or a list
//! kept in Rust (a port, a path, the worker groups): `help = super::help::…()` builds that
//! one from the constant (help.rs), so the two cannot drift.

use std::any::TypeId;
use std::path::{Path, PathBuf};

use clap::builder::BoolishValueParser;
use clap::{Arg, ArgAction, Args};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::setup::{
    BaseRedirect, ByteSize, Cdn, Clients, ElementWebServed, Email, GatewayRef, HomeserverName,
    Host, IngressClass, KubeName, KubernetesRouting, Layout, ListenAddress, MasPublic, Namespace,
    Port, Proxy, SafePath, ServerName, Setup, Timeout, Tls, TlsMode, TrustedProxy, Upstream,
    UrlPrefix, WorkerAddress,
};

/// One layer of the setup: the flags and `MXPROXY_*` variables, or the `--config` file.
/// Keys are the flag names with `_` for `-`; unknown keys are errors so that a typo does
/// not silently fall back to a default.
///
/// On/off settings are `Option<bool>` too: `--compose` alone is `true`, `--compose=false`
/// and `MXPROXY_COMPOSE=0` say "off" and so override a file's `compose: true`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Args, Deserialize, Serialize)]
#[command(mut_args = on_off)]
#[serde(deny_unknown_fields)]
pub struct SetupLayer {
    /// The domain in your user ids: @alice:example.com -> example.com. Chosen once, forever [required]
    #[arg(long, value_name = "NAME", env = "MXPROXY_SERVER_NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<ServerName>,

    /// Public host where the homeserver's APIs answer; may equal the server name [default: matrix.<server-name>]
    #[arg(long, value_name = "HOST", env = "MXPROXY_HOMESERVER_HOST")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub homeserver_host: Option<Host>,

    #[arg(
        long,
        value_name = "NAME",
        env = "MXPROXY_HOMESERVER",
        help = super::help::homeserver()
    )]
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "as_text")]
    pub homeserver: Option<HomeserverName>,

    // The paths come from src/homeserver.rs, so the help cannot drift from what is forwarded.
    #[arg(
        long,
        env = "MXPROXY_EXPOSE_ADMIN",
        help = format!(
            "Also forward the homeserver's admin API ({}), and with --mas MAS's, to the internet; prints a warning",
            crate::homeserver::admin_prefixes_described()
        )
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose_admin: Option<bool>,

    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "MXPROXY_UPSTREAM",
        help = super::help::upstream()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Upstream>,

    #[arg(
        long,
        value_name = "PORT",
        env = "MXPROXY_FEDERATION_PORT",
        help = super::help::federation_port()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub federation_port: Option<Port>,

    /// Turn federation off everywhere: no server well-known, no federation listener
    #[arg(long, env = "MXPROXY_NO_FEDERATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_federation: Option<bool>,

    /// acme: certificates from Let's Encrypt (certbot paths for nginx/apache); files: --tls-cert/--tls-key; none: plain HTTP behind another TLS terminator [default: acme]
    #[arg(long, value_name = "MODE", env = "MXPROXY_TLS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsMode>,

    /// Certificate chain (PEM) for every generated site, with --tls files [e.g. /etc/ssl/matrix/fullchain.pem]
    #[arg(long, value_name = "PATH", env = "MXPROXY_TLS_CERT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<SafePath>,

    /// Private key (PEM) for --tls-cert, with --tls files [e.g. /etc/ssl/matrix/privkey.pem]
    #[arg(long, value_name = "PATH", env = "MXPROXY_TLS_KEY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<SafePath>,

    /// Contact address for the ACME account, with --tls acme [e.g. admin@example.com]
    #[arg(long, value_name = "EMAIL", env = "MXPROXY_ACME_EMAIL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme_email: Option<Email>,

    #[arg(
        long,
        value_name = "SIZE",
        env = "MXPROXY_MAX_UPLOAD",
        help = super::help::max_upload()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_upload: Option<ByteSize>,

    #[arg(
        long,
        value_name = "SECONDS",
        env = "MXPROXY_READ_TIMEOUT",
        help = super::help::read_timeout()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_timeout: Option<Timeout>,

    #[arg(long, value_name = "N", env = "MXPROXY_CLIENTS", help = super::help::clients())]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clients: Option<Clients>,

    #[arg(
        long,
        value_name = "PATH",
        env = "MXPROXY_WEBROOT",
        help = super::help::webroot()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webroot: Option<SafePath>,

    /// Listen only on these IP addresses; repeat or separate with commas [default: every address]
    #[arg(
        long,
        value_name = "IP",
        value_delimiter = ',',
        env = "MXPROXY_LISTEN_ADDRESS"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen_address: Option<Vec<ListenAddress>>,

    #[arg(
        long,
        value_name = "PROXY",
        value_delimiter = ',',
        env = "MXPROXY_PROXY",
        help = super::help::proxy()
    )]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "proxy_list"
    )]
    pub proxy: Option<Vec<Proxy>>,

    /// Also write docker-compose.yml: the homeserver plus the first --proxy
    #[arg(long, env = "MXPROXY_COMPOSE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compose: Option<bool>,

    /// Write Kubernetes manifests (DIR/kubernetes/, for `kubectl apply -k`) instead of proxy configs; needs --ingress-class or --gateway
    #[arg(long, env = "MXPROXY_KUBERNETES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<bool>,

    /// With --kubernetes: the cluster's ingress controller, nginx (ingress-nginx) or traefik
    #[arg(long, value_name = "CLASS", env = "MXPROXY_INGRESS_CLASS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress_class: Option<IngressClass>,

    /// With --kubernetes: attach Gateway API HTTPRoutes to this existing Gateway instead of writing an Ingress [e.g. gateway-system/public]
    #[arg(long, value_name = "[NAMESPACE/]NAME", env = "MXPROXY_GATEWAY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayRef>,

    /// With --kubernetes and --tls acme: the cert-manager ClusterIssuer that signs the Ingress certificate [e.g. letsencrypt]
    #[arg(long, value_name = "NAME", env = "MXPROXY_CLUSTER_ISSUER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_issuer: Option<KubeName>,

    #[arg(
        long,
        value_name = "NAME",
        env = "MXPROXY_NAMESPACE",
        help = super::help::namespace()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Namespace>,

    /// Synapse only: login goes to the Matrix Authentication Service (MAS), its compatibility paths (/_matrix/client/*/login, logout, refresh) included
    #[arg(long, env = "MXPROXY_MAS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mas: Option<bool>,

    /// With --mas: MAS's own public host, proxied wholesale [default: auth.<server-name>]
    #[arg(long, value_name = "HOST", env = "MXPROXY_MAS_HOST")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mas_host: Option<Host>,

    /// With --mas: mount MAS below this path of the homeserver host instead of a host of its own (MAS's listener prefix) [e.g. /auth]
    #[arg(long, value_name = "PATH", env = "MXPROXY_MAS_PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mas_path: Option<UrlPrefix>,

    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "MXPROXY_MAS_UPSTREAM",
        help = super::help::mas_upstream()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mas_upstream: Option<Upstream>,

    /// Calls (Element Call, Element X): LiveKit and its MatrixRTC authorization service on a host of their own, announced in the client well-known
    #[arg(long, env = "MXPROXY_RTC")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtc: Option<bool>,

    /// With --rtc: the public host of LiveKit and the authorization service [default: rtc.<server-name>]
    #[arg(long, value_name = "HOST", env = "MXPROXY_RTC_HOST")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtc_host: Option<Host>,

    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "MXPROXY_LIVEKIT_UPSTREAM",
        help = super::help::livekit_upstream()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub livekit_upstream: Option<Upstream>,

    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "MXPROXY_RTC_AUTH_UPSTREAM",
        help = super::help::rtc_auth_upstream()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtc_auth_upstream: Option<Upstream>,
    /// Proxies or load balancers in front, allowed to tell the client's address in X-Forwarded-For (the rightmost address not listed is the client's); repeat or separate with commas [e.g. 10.0.0.0/8]
    #[arg(
        long,
        value_name = "CIDR",
        value_delimiter = ',',
        env = "MXPROXY_TRUSTED_PROXY"
    )]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "trusted_list"
    )]
    pub trusted_proxy: Option<Vec<TrustedProxy>>,

    /// A CDN in front: its published ranges may tell the client's address in its own header (cloudflare: CF-Connecting-IP); federation must then use a port it forwards (443)
    #[arg(long, value_name = "CDN", env = "MXPROXY_CDN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cdn: Option<Cdn>,

    // YAML: `workers: {sync: [127.0.0.1:8083, 127.0.0.1:8084]}`, one key per group (see
    // `workers_map`); the flag is singular because each one names one worker.
    #[arg(
        long = "worker",
        value_name = "GROUP=HOST:PORT",
        value_delimiter = ',',
        env = "MXPROXY_WORKER",
        help = super::help::workers()
    )]
    #[serde(default, skip_serializing_if = "Option::is_none", with = "workers_map")]
    pub workers: Option<Vec<WorkerAddress>>,
    /// Serve Element Web, the web client, on this host of its own: never the homeserver host or the server name, where user content would share its origin [e.g. chat.example.com]
    #[arg(long, value_name = "HOST", env = "MXPROXY_ELEMENT_WEB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element_web: Option<Host>,

    #[arg(
        long,
        value_name = "PATH",
        env = "MXPROXY_ELEMENT_WEB_ROOT",
        help = super::help::element_web_root()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element_web_root: Option<SafePath>,

    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "MXPROXY_ELEMENT_WEB_UPSTREAM",
        help = super::help::element_web_upstream()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element_web_upstream: Option<Upstream>,

    /// On the server name's host, answer every path but /.well-known/matrix/* with a redirect to this URL, or with `element-web` to Element Web's host [e.g. https://www.example.com/]
    #[arg(long, value_name = "URL|element-web", env = "MXPROXY_BASE_REDIRECT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_redirect: Option<BaseRedirect>,

    #[arg(
        long,
        value_name = "DIR",
        env = "MXPROXY_OUT",
        help = super::help::out()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<PathBuf>,

    /// File only: read by `generate`, not by `merge`, because they shape the output, not
    /// the setup. Their flags are in `cli::OutputArgs`, which the wizard does not take.
    #[arg(skip)]
    #[serde(skip_serializing)]
    pub layout: Option<Layout>,
    #[arg(skip)]
    #[serde(skip_serializing)]
    pub templates: Option<PathBuf>,
}

/// What makes an `Option<bool>` field an on/off flag, given once here for every one of them
/// rather than on each field: `--compose` alone is `true`, `--compose=false` (the `=` is
/// required, so that `--compose next-arg` never eats a value) or `MXPROXY_COMPOSE=0` is
/// `false`, in any of the words `BoolishValueParser` reads (1/0, true/false, yes/no, on/off).
/// The derive gives an `Option<bool>` field the `bool` parser and the `Set` action; a plain
/// `bool` flag has `SetTrue`, so `--force` and the like are left alone.
fn on_off(arg: Arg) -> Arg {
    let optional_bool = arg.get_value_parser().type_id() == TypeId::of::<bool>()
        && matches!(arg.get_action(), ArgAction::Set);
    if !optional_bool {
        return arg;
    }
    arg.value_name("BOOL")
        .num_args(0..=1)
        .require_equals(true)
        .default_missing_value("true")
        .hide_possible_values(true)
        .value_parser(BoolishValueParser::new())
}

/// The keys that are in the file only (see `SetupLayer::layout`).
pub const FILE_ONLY_KEYS: [&str; 2] = ["layout", "templates"];

impl SetupLayer {
    /// `self` over `lower`, key by key: what the wizard offers as its defaults.
    /// `federation_port` and `no_federation` are one setting in two keys, so a layer that
    /// names a port or turns federation off decides both (as `merge` does).
    pub fn or(self, lower: SetupLayer) -> SetupLayer {
        let (federation_port, no_federation) =
            if self.federation_port.is_some() || self.no_federation == Some(true) {
                (self.federation_port, self.no_federation)
            } else {
                (
                    lower.federation_port,
                    self.no_federation.or(lower.no_federation),
                )
            };
        SetupLayer {
            server_name: self.server_name.or(lower.server_name),
            homeserver_host: self.homeserver_host.or(lower.homeserver_host),
            homeserver: self.homeserver.or(lower.homeserver),
            expose_admin: self.expose_admin.or(lower.expose_admin),
            upstream: self.upstream.or(lower.upstream),
            federation_port,
            no_federation,
            tls: self.tls.or(lower.tls),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            acme_email: self.acme_email.or(lower.acme_email),
            max_upload: self.max_upload.or(lower.max_upload),
            read_timeout: self.read_timeout.or(lower.read_timeout),
            clients: self.clients.or(lower.clients),
            webroot: self.webroot.or(lower.webroot),
            listen_address: self.listen_address.or(lower.listen_address),
            proxy: self.proxy.or(lower.proxy),
            compose: self.compose.or(lower.compose),
            kubernetes: self.kubernetes.or(lower.kubernetes),
            ingress_class: self.ingress_class.or(lower.ingress_class),
            gateway: self.gateway.or(lower.gateway),
            cluster_issuer: self.cluster_issuer.or(lower.cluster_issuer),
            namespace: self.namespace.or(lower.namespace),
            mas: self.mas.or(lower.mas),
            mas_host: self.mas_host.or(lower.mas_host),
            mas_path: self.mas_path.or(lower.mas_path),
            mas_upstream: self.mas_upstream.or(lower.mas_upstream),
            rtc: self.rtc.or(lower.rtc),
            rtc_host: self.rtc_host.or(lower.rtc_host),
            livekit_upstream: self.livekit_upstream.or(lower.livekit_upstream),
            rtc_auth_upstream: self.rtc_auth_upstream.or(lower.rtc_auth_upstream),
            trusted_proxy: self.trusted_proxy.or(lower.trusted_proxy),
            cdn: self.cdn.or(lower.cdn),
            workers: self.workers.or(lower.workers),
            element_web: self.element_web.or(lower.element_web),
            element_web_root: self.element_web_root.or(lower.element_web_root),
            element_web_upstream: self.element_web_upstream.or(lower.element_web_upstream),
            base_redirect: self.base_redirect.or(lower.base_redirect),
            out: self.out.or(lower.out),
            layout: self.layout.or(lower.layout),
            templates: self.templates.or(lower.templates),
        }
    }
}

/// The order of the flags `to_args` prints, which every generated file's header shows:
/// values first, then the switches with the values that only apply with them. The field
/// order of `SetupLayer` is the order of `--help` and the saved YAML; a test checks that
/// this names every key once.
pub const FLAG_ORDER: &[&str] = &[
    "server_name",
    "homeserver_host",
    "homeserver",
    "upstream",
    "federation_port",
    "tls",
    "tls_cert",
    "tls_key",
    "acme_email",
    "max_upload",
    "read_timeout",
    "clients",
    "webroot",
    "listen_address",
    "proxy",
    "out",
    "no_federation",
    "compose",
    "kubernetes",
    "ingress_class",
    "gateway",
    "cluster_issuer",
    "namespace",
    "expose_admin",
    "mas",
    "mas_host",
    "mas_path",
    "mas_upstream",
    "rtc",
    "rtc_host",
    "livekit_upstream",
    "rtc_auth_upstream",
    "trusted_proxy",
    "cdn",
    "workers",
    "element_web",
    "element_web_root",
    "element_web_upstream",
    "base_redirect",
];

/// The flag of a key: the key with `-` for `_`, but singular where each flag gives one
/// of the key's values (`--worker` per worker, `workers:` for all of them).
pub fn flag_of(key: &str) -> String {
    let flag = match key {
        "workers" => "worker",
        key => key,
    };
    format!("--{}", flag.replace('_', "-"))
}

/// Every setting of `setup`, defaults included, as the wizard saves it. Left out: off
/// switches other than `compose`, and with Kubernetes what it refuses (the Service is the
/// upstream, the ingress controller the proxy, and no host folder is served).
impl From<&Setup> for SetupLayer {
    fn from(setup: &Setup) -> SetupLayer {
        let (tls_cert, tls_key, acme_email) = match &setup.tls {
            Tls::Files { cert, key } => (Some(cert.clone()), Some(key.clone()), None),
            Tls::Acme { email } => (None, None, email.clone()),
            Tls::None => (None, None, None),
        };
        let kubernetes = setup.kubernetes.as_ref();
        let (ingress_class, gateway) = match kubernetes.map(|k| &k.routing) {
            Some(KubernetesRouting::Ingress(class)) => (Some(*class), None),
            Some(KubernetesRouting::Gateway(gateway)) => (None, Some(gateway.clone())),
            None => (None, None),
        };
        let host_install = kubernetes.is_none();
        SetupLayer {
            server_name: Some(setup.server_name.clone()),
            homeserver_host: Some(setup.homeserver_host.clone()),
            homeserver: Some(setup.homeserver.into()),
            expose_admin: setup.expose_admin.then_some(true),
            upstream: host_install.then(|| setup.upstream.clone()),
            federation_port: setup.federation_port,
            no_federation: setup.federation_port.is_none().then_some(true),
            tls: Some(setup.tls.mode()),
            tls_cert,
            tls_key,
            acme_email,
            max_upload: Some(setup.max_upload),
            read_timeout: Some(setup.read_timeout),
            clients: Some(setup.clients),
            webroot: host_install.then(|| setup.webroot.clone()),
            listen_address: (!setup.listen_addresses.is_empty())
                .then(|| setup.listen_addresses.clone()),
            proxy: host_install.then(|| setup.proxies.clone()),
            compose: Some(setup.compose),
            kubernetes: (!host_install).then_some(true),
            ingress_class,
            gateway,
            cluster_issuer: kubernetes.and_then(|k| k.cluster_issuer.clone()),
            namespace: kubernetes.map(|k| k.namespace.clone()),
            mas: setup.mas.is_some().then_some(true),
            mas_host: setup.mas.as_ref().and_then(|mas| match &mas.public {
                MasPublic::Host(host) => Some(host.clone()),
                MasPublic::Path(_) => None,
            }),
            mas_path: setup.mas.as_ref().and_then(|mas| match &mas.public {
                MasPublic::Path(path) => Some(path.clone()),
                MasPublic::Host(_) => None,
            }),
            mas_upstream: setup.mas.as_ref().map(|mas| mas.upstream.clone()),
            rtc: setup.rtc.is_some().then_some(true),
            rtc_host: setup.rtc.as_ref().map(|rtc| rtc.host.clone()),
            // A cluster reaches both through the Services it writes; the flags are refused there.
            livekit_upstream: setup
                .rtc
                .as_ref()
                .filter(|_| host_install)
                .map(|rtc| rtc.livekit.clone()),
            rtc_auth_upstream: setup
                .rtc
                .as_ref()
                .filter(|_| host_install)
                .map(|rtc| rtc.auth.clone()),
            trusted_proxy: (!setup.trusted_proxies.is_empty())
                .then(|| setup.trusted_proxies.clone()),
            cdn: setup.cdn,
            workers: (!setup.workers.is_empty()).then(|| setup.workers.addresses()),
            element_web: setup.element_web.as_ref().map(|web| web.host.clone()),
            element_web_root: setup
                .element_web
                .as_ref()
                .and_then(|web| match &web.served {
                    ElementWebServed::Files(root) => Some(root.clone()),
                    ElementWebServed::Upstream(_) => None,
                }),
            element_web_upstream: setup
                .element_web
                .as_ref()
                .and_then(|web| match &web.served {
                    ElementWebServed::Upstream(upstream) => Some(upstream.clone()),
                    ElementWebServed::Files(_) => None,
                }),
            base_redirect: setup.base_redirect.clone(),
            // As displayed: a path that is not UTF-8 cannot be a YAML string or a flag.
            out: Some(PathBuf::from(setup.out.display().to_string())),
            layout: None,
            templates: None,
        }
    }
}

/// Which layer a value came from: a flag (or its `MXPROXY_*` variable) or the file. A
/// refusal names the one the user wrote (`--upstream` or `upstream:`), and two values
/// conflict only within a layer; across layers the flag overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    File,
}

/// The flags' layer over the file's: the one place precedence is decided.
pub struct Layers<'a> {
    pub flags: &'a SetupLayer,
    pub file: &'a SetupLayer,
}

impl Layers<'_> {
    /// The value of one key, from the highest layer that gives it, and where it came from.
    pub fn pick<T: Clone>(&self, key: impl Fn(&SetupLayer) -> &Option<T>) -> Option<(T, Source)> {
        key(self.flags)
            .clone()
            .map(|v| (v, Source::Flag))
            .or_else(|| key(self.file).clone().map(|v| (v, Source::File)))
    }

    /// The value of one key, wherever it came from.
    pub fn get<T: Clone>(&self, key: impl Fn(&SetupLayer) -> &Option<T>) -> Option<T> {
        self.pick(key).map(|(value, _)| value)
    }

    /// Whether an on/off key is on (absent is off).
    pub fn on(&self, key: impl Fn(&SetupLayer) -> &Option<bool>) -> bool {
        self.get(key) == Some(true)
    }
}

/// `HomeserverName` has no `Serialize` of its own: write it as it is displayed.
fn as_text<T: std::fmt::Display, S: serde::Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}

/// `proxy: [nginx, caddy]` or `proxy: nginx,caddy`, as on the command line.
fn proxy_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<Proxy>>, D::Error> {
    comma_list(
        deserializer,
        "a list of proxies or a comma-separated string, e.g. [nginx, caddy]",
        |item, e| format!("\"{item}\": {e}"),
    )
}

/// `trusted_proxy: [10.0.0.0/8, 192.0.2.10]` or `trusted_proxy: 10.0.0.0/8,192.0.2.10`, as
/// on the command line.
fn trusted_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<TrustedProxy>>, D::Error> {
    comma_list(
        deserializer,
        "a list of address blocks or a comma-separated string, e.g. [10.0.0.0/8]",
        |item, e| format!("\"{}\" {e}", crate::setup::shown(item)),
    )
}

/// A YAML list, or one string split at commas as clap splits the flag: each item through
/// the same `FromStr`, a refused one named by `error`.
fn comma_list<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
    error: fn(&str, T::Err) -> String,
) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + std::str::FromStr,
{
    struct Visitor<T: std::str::FromStr> {
        expecting: &'static str,
        error: fn(&str, T::Err) -> String,
    }
    impl<'de, T: Deserialize<'de> + std::str::FromStr> serde::de::Visitor<'de> for Visitor<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut list = Vec::new();
            while let Some(item) = seq.next_element::<T>()? {
                list.push(item);
            }
            Ok(list)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            v.split(',')
                .map(|item| {
                    let item = item.trim();
                    item.parse::<T>()
                        .map_err(|e| E::custom((self.error)(item, e)))
                })
                .collect()
        }
    }
    deserializer
        .deserialize_any(Visitor { expecting, error })
        .map(Some)
}

pub fn read_file(path: &Path) -> Result<SetupLayer, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
        path: path.to_path_buf(),
        source,
    })?;
    parse_file(path, &text)
}

pub fn parse_file(path: &Path, text: &str) -> Result<SetupLayer, Error> {
    if text.trim().is_empty() {
        return Ok(SetupLayer::default());
    }
    serde_yaml::from_str(text).map_err(|err| {
        let line = err.location().map(|l| l.line());
        let mut message = err.to_string();
        // serde_yaml appends the location; it is already in front as file:line.
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        Error::Config {
            path: path.to_path_buf(),
            line,
            message: config_message(message),
        }
    })
}

/// Points at the key and suggests the fix in the file's own syntax.
fn config_message(message: String) -> String {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let field = rest.split(',').next().unwrap_or(rest);
        return format!(
            "unknown key {field}; the keys are the flag names with `_` for `-`, e.g. server_name: example.com"
        );
    }
    match message.split_once(": ") {
        Some((key, why)) if !key.contains(' ') => format!("key `{key}`: {why}"),
        _ => message,
    }
}

/// `workers:` in the file: `{GROUP: [HOST:PORT, …]}` (one address may be written without
/// the list), read into the same `GROUP=HOST:PORT` values the flag gives, so that both
/// pass through `WorkerAddress`'s one `FromStr`.
mod workers_map {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::setup::{WorkerAddress, WorkerGroup};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<serde_yaml::Value>),
        One(serde_yaml::Value),
    }

    pub fn serialize<S: Serializer>(
        value: &Option<Vec<WorkerAddress>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut groups: BTreeMap<WorkerGroup, Vec<String>> = BTreeMap::new();
        for worker in value.iter().flatten() {
            groups
                .entry(worker.group)
                .or_default()
                .push(worker.address.to_string());
        }
        serializer.collect_map(groups.iter().map(|(group, list)| (group.name(), list)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<WorkerAddress>>, D::Error> {
        use serde::de::Error;
        let map: BTreeMap<String, Option<OneOrMany>> = BTreeMap::deserialize(deserializer)?;
        let mut workers = Vec::new();
        for (group, addresses) in map {
            let addresses = match addresses {
                None => vec![serde_yaml::Value::Null],
                Some(OneOrMany::One(one)) => vec![one],
                Some(OneOrMany::Many(many)) if many.is_empty() => vec![serde_yaml::Value::Null],
                Some(OneOrMany::Many(many)) => many,
            };
            for address in addresses {
                let address = match address {
                    serde_yaml::Value::String(text) => text,
                    serde_yaml::Value::Null => String::new(),
                    other => serde_yaml::to_string(&other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                let text = format!("{group}={address}");
                let worker = text.parse::<WorkerAddress>().map_err(|e| {
                    D::Error::custom(format!("\"{}\" {e}", crate::setup::shown(&text)))
                })?;
                workers.push(worker);
            }
        }
        // In table order, as `Setup::workers` gives them back (a stable sort keeps each
        // group's addresses as written).
        workers.sort_by_key(|worker: &WorkerAddress| worker.group);
        Ok(Some(workers))
    }
}
