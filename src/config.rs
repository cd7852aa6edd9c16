//! Merges flags, the `--config` file and defaults into one `Setup`: flags > file > defaults.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::GenerateArgs;
use crate::defaults::{self, COMPOSE_SERVICE};
use crate::error::Error;
use crate::homeserver::{self, WellKnownSupport};
use crate::matrix::HTTP_PORT;
use crate::setup::{
    ByteSize, DnsName, Email, GatewayRef, Homeserver, HomeserverName, Host, IngressClass, KubeName,
    Kubernetes, KubernetesRouting, Layout, ListenAddress, Namespace, Port, Proxy, SafePath,
    ServerName, Setup, Tls, TlsMode, Upstream, UpstreamHost,
};

const DEFAULT_FEDERATION_PORT: Port = Port::new_unchecked(defaults::FEDERATION_PORT);

/// The YAML file. Keys are the flag names with `_` for `-`; unknown keys are errors so
/// that a typo does not silently fall back to a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSetup {
    pub server_name: Option<ServerName>,
    pub homeserver_host: Option<Host>,
    pub homeserver: Option<HomeserverName>,
    pub expose_admin: Option<bool>,
    pub upstream: Option<Upstream>,
    pub federation_port: Option<Port>,
    pub no_federation: Option<bool>,
    pub tls: Option<TlsMode>,
    pub tls_cert: Option<SafePath>,
    pub tls_key: Option<SafePath>,
    pub acme_email: Option<Email>,
    pub max_upload: Option<ByteSize>,
    pub webroot: Option<SafePath>,
    pub listen_address: Option<Vec<ListenAddress>>,
    pub proxy: Option<ProxyList>,
    pub compose: Option<bool>,
    pub kubernetes: Option<bool>,
    pub ingress_class: Option<IngressClass>,
    pub gateway: Option<GatewayRef>,
    pub cluster_issuer: Option<KubeName>,
    pub namespace: Option<Namespace>,
    pub out: Option<PathBuf>,
    /// Read by `generate` itself, not by `merge`: they shape the output, not the setup.
    pub layout: Option<Layout>,
    pub templates: Option<PathBuf>,
}

/// `proxy: [nginx, caddy]` or `proxy: nginx,caddy`, as on the command line.
#[derive(Debug)]
pub struct ProxyList(pub Vec<Proxy>);

impl<'de> Deserialize<'de> for ProxyList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ProxyList;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of proxies or a comma-separated string, e.g. [nginx, caddy]")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ProxyList, A::Error> {
                let mut list = Vec::new();
                while let Some(proxy) = seq.next_element::<Proxy>()? {
                    list.push(proxy);
                }
                Ok(ProxyList(list))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ProxyList, E> {
                v.split(',')
                    .map(|p| {
                        p.trim()
                            .parse::<Proxy>()
                            .map_err(|e| E::custom(format!("\"{}\": {e}", p.trim())))
                    })
                    .collect::<Result<_, _>>()
                    .map(ProxyList)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

pub fn read_file(path: &Path) -> Result<FileSetup, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
        path: path.to_path_buf(),
        source,
    })?;
    parse_file(path, &text)
}

pub fn parse_file(path: &Path, text: &str) -> Result<FileSetup, Error> {
    if text.trim().is_empty() {
        return Ok(FileSetup::default());
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

/// Which layer a value came from, to decide whether two values conflict (same layer or a
/// flag) or one simply overrides the other.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layer {
    Flag,
    File,
    Default,
}

fn layer<T>(value: &Option<(T, Layer)>) -> Option<Layer> {
    value.as_ref().map(|(_, layer)| *layer)
}

fn pick<T>(flag: Option<T>, file: Option<T>) -> Option<(T, Layer)> {
    flag.map(|v| (v, Layer::Flag))
        .or_else(|| file.map(|v| (v, Layer::File)))
}

pub fn merge(args: &GenerateArgs, file: FileSetup) -> Result<Setup, Error> {
    let federation_port = federation(args, &file)?;
    let tls = tls(args, &file)?;
    let server_name = args
        .server_name
        .clone()
        .or(file.server_name.clone())
        .ok_or(Error::Missing {
            flag: "--server-name",
            key: "server_name",
            example: "example.com",
        })?;

    let homeserver_host = match args
        .homeserver_host
        .clone()
        .or(file.homeserver_host.clone())
    {
        Some(host) => host,
        None => Host::from(default_host(server_name.host())?),
    };

    let mut warnings = Vec::new();
    let homeserver_name = args
        .homeserver
        .or(file.homeserver)
        .unwrap_or_else(|| Homeserver::default().into());
    warnings.extend(homeserver_name.warning());
    let homeserver = homeserver_name.homeserver;
    let facts = homeserver::facts(homeserver);
    let expose_admin = args.expose_admin || file.expose_admin.unwrap_or(false);
    if expose_admin {
        if facts.admin_prefixes.is_empty() {
            return Err(Error::Conflict {
                message: format!(
                    "--expose-admin: {} has no admin API prefix that mxproxy keeps closed",
                    facts.display_name
                ),
                example: format!("--homeserver {homeserver} without --expose-admin"),
            });
        }
        // Synapse: "we do not recommend exposing them to the public internet without good
        // reason" (docs/reverse_proxy.md); tuwunel: /_synapse/admin/v1/register lets anyone
        // with the shared secret create accounts, "Restrict this path to trusted networks"
        // (docs/deploying/generic.md).
        warnings.push(format!(
            "--expose-admin: {}'s admin API ({}) is reachable from the internet; anyone \
             holding an admin access token or the registration shared secret can use it from \
             anywhere. Prefer reaching it on the upstream, e.g. through an SSH tunnel",
            facts.display_name,
            facts.admin_prefixes.join(", "),
        ));
    }
    let compose = args.compose || file.compose.unwrap_or(false);
    let kubernetes = kubernetes(args, &file, &server_name, federation_port, &tls, homeserver)?;

    let upstream = match pick(args.upstream.clone(), file.upstream.clone()) {
        Some((upstream, layer)) => {
            if compose && upstream.host.is_loopback() {
                return Err(Error::Conflict {
                    message: format!(
                        "{} {upstream} points at the proxy container itself in the compose stack; \
                         the proxy reaches the homeserver by its service name",
                        match layer {
                            Layer::Flag => "--upstream",
                            _ => "upstream:",
                        }
                    ),
                    example: format!("--upstream {COMPOSE_SERVICE}:{}", facts.port),
                });
            }
            upstream
        }
        None => default_upstream(homeserver, compose || kubernetes.is_some()),
    };

    if federation_port.map(Port::get) == Some(HTTP_PORT) {
        return Err(Error::Conflict {
            message: "--federation-port 80 is the plain-HTTP port; federation needs TLS on its own port or 443".into(),
            example: "--federation-port 8448".into(),
        });
    }

    let max_upload = args
        .max_upload
        .or(file.max_upload)
        .unwrap_or(facts.default_max_upload);
    let webroot = match args.webroot.clone().or(file.webroot) {
        Some(path) => path,
        None => defaults::WEBROOT.parse().expect("default webroot is valid"),
    };

    let mut proxies = if kubernetes.is_some() {
        // The cluster's ingress controller is the proxy.
        Vec::new()
    } else if !args.proxy.is_empty() {
        args.proxy.clone()
    } else if let Some(ProxyList(list)) = file.proxy {
        list
    } else {
        Proxy::DEFAULT.to_vec()
    };
    if proxies.is_empty() && kubernetes.is_none() {
        return Err(Error::Conflict {
            message: "the `proxy` list is empty; name at least one proxy".into(),
            example: "proxy: [nginx]".into(),
        });
    }
    let mut seen = Vec::new();
    proxies.retain(|p| {
        let new = !seen.contains(p);
        seen.push(*p);
        new
    });

    let mut listen_addresses = if !args.listen_address.is_empty() {
        args.listen_address.clone()
    } else {
        file.listen_address.unwrap_or_default()
    };
    listen_addresses.dedup();
    if !listen_addresses.is_empty() {
        if compose {
            return Err(Error::Conflict {
                message: "--listen-address does not apply to the compose stack: the proxy listens \
                          inside its container and compose publishes its ports"
                    .into(),
                example: "--compose without --listen-address".into(),
            });
        }
        if listen_addresses.len() > 1 && proxies.contains(&Proxy::Traefik) {
            return Err(Error::Conflict {
                message: "a Traefik entry point listens on one address; --listen-address was given more than one".into(),
                example: "--listen-address 203.0.113.7".into(),
            });
        }
    }

    if proxies.contains(&Proxy::Traefik) {
        let delegated = server_name.host() != homeserver_host.name();
        well_known_for_traefik(facts.well_known, delegated, federation_port, &server_name)?;
    }

    let out = args
        .out
        .clone()
        .or(file.out)
        .unwrap_or_else(|| PathBuf::from(defaults::OUT));

    Ok(Setup {
        server_name,
        homeserver_host,
        homeserver,
        upstream,
        federation_port,
        tls,
        max_upload,
        webroot,
        listen_addresses,
        proxies,
        compose,
        kubernetes,
        expose_admin,
        warnings,
        out,
    })
}

/// `--kubernetes` and its flags, and every value that means nothing in a cluster refused
/// with the reason, so no flag is silently ignored.
fn kubernetes(
    args: &GenerateArgs,
    file: &FileSetup,
    server_name: &ServerName,
    federation_port: Option<Port>,
    tls: &Tls,
    homeserver: Homeserver,
) -> Result<Option<Kubernetes>, Error> {
    let wanted = args.kubernetes || file.kubernetes == Some(true);
    let ingress_class = pick(args.ingress_class, file.ingress_class);
    let gateway = pick(args.gateway.clone(), file.gateway.clone());
    let cluster_issuer = pick(args.cluster_issuer.clone(), file.cluster_issuer.clone());
    let namespace = pick(args.namespace.clone(), file.namespace.clone());
    let conflict = |message: String, example: String| Err(Error::Conflict { message, example });

    if !wanted {
        let stray = [
            (
                layer(&ingress_class),
                "--ingress-class",
                "--ingress-class nginx",
            ),
            (
                layer(&gateway),
                "--gateway",
                "--gateway gateway-system/public",
            ),
            (
                layer(&cluster_issuer),
                "--cluster-issuer",
                "--ingress-class nginx --cluster-issuer letsencrypt",
            ),
            (
                layer(&namespace),
                "--namespace",
                "--ingress-class nginx --namespace matrix",
            ),
        ];
        if let Some((_, flag, example)) = stray.iter().find(|(layer, ..)| layer.is_some()) {
            return conflict(
                format!("{flag} only applies to Kubernetes manifests, which --kubernetes asks for"),
                format!("--kubernetes {example}"),
            );
        }
        return Ok(None);
    }

    // A working command to show with each refusal: the same setup, the refused part left out.
    let routing_example = match (&gateway, &ingress_class) {
        (Some((gateway, _)), _) => format!("--gateway {gateway}"),
        (None, Some((class, _))) => format!("--ingress-class {class}"),
        (None, None) => "--ingress-class nginx".into(),
    };
    let issuer_example = match (&cluster_issuer, tls, &gateway) {
        (Some((issuer, _)), Tls::Acme { .. }, None) => format!(" --cluster-issuer {issuer}"),
        (None, Tls::Acme { .. }, None) => " --cluster-issuer letsencrypt".into(),
        _ => String::new(),
    };
    let working = format!(
        "mxproxy generate --server-name {server_name} --kubernetes {routing_example}{issuer_example}"
    );

    if let Some(port) = federation_port.filter(|p| *p != DEFAULT_FEDERATION_PORT) {
        // An Ingress routes HTTP and HTTPS on the controller's ports 80 and 443 only
        // (networking.k8s.io/v1 has no port field per rule); a port of its own needs a
        // TCP service on the controller, outside the Ingress. Federation on 443 through
        // /.well-known/matrix/server works with every controller.
        return conflict(
            format!(
                "--federation-port {port} cannot be used with --kubernetes: an Ingress (and a Gateway's \
                 HTTPRoute) carries HTTPS on port 443 only, so federation cannot get a port of its own there. \
                 With --kubernetes other servers find the homeserver through \
                 https://{server_name}/.well-known/matrix/server on port 443; leave out --federation-port"
            ),
            working,
        );
    }
    let refused: [(bool, &str, &str); 5] = [
        (
            args.compose || file.compose == Some(true),
            "--compose",
            "the cluster runs the homeserver, not docker compose",
        ),
        (
            !args.listen_address.is_empty() || file.listen_address.is_some(),
            "--listen-address",
            "the ingress controller decides where the cluster listens",
        ),
        (
            !args.proxy.is_empty() || file.proxy.is_some(),
            "--proxy",
            "the cluster's ingress controller is the proxy; choose it with --ingress-class or --gateway",
        ),
        (
            args.upstream.is_some() || file.upstream.is_some(),
            "--upstream",
            "the Ingress reaches the homeserver through the Service mxproxy writes",
        ),
        (
            args.webroot.is_some() || file.webroot.is_some(),
            "--webroot",
            "no files are served from a host folder in a cluster",
        ),
    ];
    if let Some((_, flag, why)) = refused.iter().find(|(given, ..)| *given) {
        return conflict(
            format!("{flag} cannot be used with --kubernetes: {why}"),
            working,
        );
    }
    let facts = homeserver::facts(homeserver);
    if facts.env_prefix.is_none() {
        // Synapse and Dendrite need a generated config file with secrets and a signing
        // key before their first start (their compose steps); the StatefulSet sets
        // environment variables only.
        return conflict(
            format!(
                "--homeserver {homeserver} cannot be used with --kubernetes yet: {} needs a generated \
                 config file with secrets before its first start, and the manifests configure the \
                 homeserver by environment only (conduit, continuwuity, tuwunel)",
                facts.display_name
            ),
            format!("{working} --homeserver tuwunel"),
        );
    }

    let routing = match (ingress_class, gateway) {
        (Some((class, Layer::Flag)), Some((_, Layer::File))) => KubernetesRouting::Ingress(class),
        (Some((_, Layer::File)), Some((gateway, Layer::Flag))) => {
            KubernetesRouting::Gateway(gateway)
        }
        (Some((class, _)), Some((gateway, _))) => {
            return conflict(
                format!(
                    "--ingress-class {class} and --gateway {gateway} are two ways to route into the \
                     cluster; choose one"
                ),
                format!("--kubernetes --gateway {gateway}"),
            );
        }
        (Some((class, _)), None) => KubernetesRouting::Ingress(class),
        (None, Some((gateway, _))) => KubernetesRouting::Gateway(gateway),
        (None, None) => {
            return conflict(
                "--kubernetes needs to know how traffic enters the cluster: --ingress-class nginx \
                 (ingress-nginx), --ingress-class traefik, or --gateway NAME for an existing Gateway API Gateway"
                    .into(),
                working,
            );
        }
    };

    let gateway = matches!(routing, KubernetesRouting::Gateway(_));
    // A file's issuer for its Ingress means nothing once a --gateway flag replaces the
    // Ingress: overridden, not contradicted (as a --tls flag overrides file certificates).
    let cluster_issuer = match cluster_issuer {
        Some((_, Layer::File)) if gateway && args.gateway.is_some() => None,
        other => other,
    };
    if let Tls::Acme { email: Some(email) } = tls {
        return conflict(
            format!(
                "--acme-email {email} cannot be used with --kubernetes: cert-manager's ClusterIssuer \
                 holds the ACME account and its e-mail"
            ),
            working,
        );
    }
    let cluster_issuer = match (tls, gateway, cluster_issuer) {
        (Tls::Acme { .. }, false, Some((issuer, _))) => Some(issuer),
        (Tls::Acme { .. }, false, None) => {
            return conflict(
                "--kubernetes with --tls acme gets the certificate from cert-manager; name the \
                 ClusterIssuer that signs it with --cluster-issuer (or use --tls files with a \
                 Secret you create, or --tls none)"
                    .into(),
                working,
            );
        }
        (_, true, Some((issuer, _))) => {
            return conflict(
                format!(
                    "--cluster-issuer {issuer} cannot be used with --gateway: the Gateway's HTTPS \
                     listener holds the certificate, so the cert-manager annotation belongs on the Gateway"
                ),
                working,
            );
        }
        (Tls::Files { .. } | Tls::None, false, Some((issuer, _))) => {
            return conflict(
                format!(
                    "--cluster-issuer {issuer} is only used with --tls acme, not --tls {}",
                    tls.mode()
                ),
                working,
            );
        }
        (Tls::Files { .. }, true, None) => {
            return conflict(
                "--tls files cannot be used with --gateway: the Gateway's HTTPS listener holds the \
                 certificate, not the routes"
                    .into(),
                working,
            );
        }
        (_, _, None) => None,
    };
    Ok(Some(Kubernetes {
        routing,
        cluster_issuer,
        namespace: namespace
            .map(|(namespace, _)| namespace)
            .unwrap_or_else(|| {
                defaults::NAMESPACE
                    .parse()
                    .expect("the default namespace is valid")
            }),
    }))
}

/// Where the homeserver listens when `--upstream` is not given: its own port on loopback,
/// or on the compose service inside a container network (in a cluster the Ingress reaches
/// it through its Service, which has the same name).
pub fn default_upstream(homeserver: Homeserver, in_container: bool) -> Upstream {
    Upstream {
        host: if in_container {
            UpstreamHost::Name(
                COMPOSE_SERVICE
                    .parse()
                    .expect("the service name is a valid DNS name"),
            )
        } else {
            UpstreamHost::V4(std::net::Ipv4Addr::LOCALHOST)
        },
        port: Port::new_unchecked(homeserver::facts(homeserver).port),
    }
}

/// Traefik cannot answer with a fixed body, so it routes `/.well-known/matrix/` to the
/// homeserver; refuse where the homeserver would answer something else than the plan.
fn well_known_for_traefik(
    support: WellKnownSupport,
    delegated: bool,
    federation_port: Option<Port>,
    server_name: &ServerName,
) -> Result<(), Error> {
    match federation_port {
        None => Ok(()),
        Some(port) if support.serves_planned_server_document(delegated, port) => Ok(()),
        Some(port) => Err(Error::Conflict {
            message: format!(
                "--proxy traefik cannot serve /.well-known/matrix/server itself and Synapse only ever \
                 answers it with {server_name}:443, but this setup federates on {}:{port}; use \
                 another proxy (nginx, apache and caddy answer well-known themselves), or host \
                 Synapse on the server name",
                if delegated {
                    "the homeserver host"
                } else {
                    "port"
                },
            ),
            example: format!(
                "--proxy nginx, or --homeserver-host {server_name} --federation-port 443"
            ),
        }),
    }
}

fn default_host(server_name: &DnsName) -> Result<DnsName, Error> {
    server_name.prefixed("matrix").map_err(|_| Error::Conflict {
        message: format!(
            "the default homeserver host matrix.{server_name} is too long for DNS; name the host yourself"
        ),
        example: format!("--homeserver-host {server_name}"),
    })
}

fn federation(args: &GenerateArgs, file: &FileSetup) -> Result<Option<Port>, Error> {
    if args.no_federation {
        if let Some(port) = args.federation_port {
            return Err(Error::Conflict {
                message: format!(
                    "--no-federation and --federation-port {port} contradict each other"
                ),
                example: "--federation-port 8448 (or only --no-federation)".into(),
            });
        }
        return Ok(None);
    }
    if let Some(port) = args.federation_port {
        return Ok(Some(port));
    }
    if file.no_federation == Some(true) {
        if let Some(port) = file.federation_port {
            return Err(Error::Conflict {
                message: format!(
                    "`no_federation: true` and `federation_port: {port}` contradict each other"
                ),
                example: "federation_port: 8448 (or only no_federation: true)".into(),
            });
        }
        return Ok(None);
    }
    Ok(Some(
        file.federation_port.unwrap_or(DEFAULT_FEDERATION_PORT),
    ))
}

fn tls(args: &GenerateArgs, file: &FileSetup) -> Result<Tls, Error> {
    let (mode, mode_layer) = pick(args.tls, file.tls).unwrap_or((TlsMode::Acme, Layer::Default));
    let cert = pick(args.tls_cert.clone(), file.tls_cert.clone());
    let key = pick(args.tls_key.clone(), file.tls_key.clone());
    let email = pick(args.acme_email.clone(), file.acme_email.clone());

    // A value from the same layer as the mode (or from a flag) that the mode ignores is a
    // mistake worth stopping for; a file value overridden by a `--tls` flag is not.
    let stray = |layer: Option<Layer>| matches!(layer, Some(layer) if layer == Layer::Flag || mode_layer != Layer::Flag);

    if mode != TlsMode::Acme && stray(layer(&email)) {
        return Err(Error::Conflict {
            message: "--acme-email is only used with --tls acme".into(),
            example: "--tls acme --acme-email admin@example.com".into(),
        });
    }
    match mode {
        TlsMode::Files => {
            match (cert, key) {
                (Some((cert, _)), Some((key, _))) => Ok(Tls::Files { cert, key }),
                _ => Err(Error::Conflict {
                    message: "--tls files needs both --tls-cert and --tls-key".into(),
                    example: "--tls files --tls-cert /etc/ssl/matrix/fullchain.pem --tls-key /etc/ssl/matrix/privkey.pem".into(),
                }),
            }
        }
        TlsMode::Acme | TlsMode::None => {
            if stray(layer(&cert)) || stray(layer(&key)) {
                return Err(Error::Conflict {
                    message: format!("--tls-cert and --tls-key are only used with --tls files, not --tls {mode}"),
                    example: "--tls files --tls-cert /etc/ssl/matrix/fullchain.pem --tls-key /etc/ssl/matrix/privkey.pem".into(),
                });
            }
            if mode == TlsMode::None {
                Ok(Tls::None)
            } else {
                Ok(Tls::Acme {
                    email: email.map(|(e, _)| e),
                })
            }
        }
    }
}

/// The flags that give `setup` back through `merge`: only what differs from a default.
pub fn to_args(setup: &Setup, with_out: bool) -> Vec<String> {
    let facts = homeserver::facts(setup.homeserver);
    let mut args = vec!["--server-name".to_string(), setup.server_name.to_string()];
    let mut flag = |name: &str, value: String| {
        args.push(name.to_string());
        args.push(value);
    };
    if setup.homeserver_host.name()
        != &default_host(setup.server_name.host())
            .unwrap_or_else(|_| setup.server_name.host().clone())
    {
        flag("--homeserver-host", setup.homeserver_host.to_string());
    }
    if setup.homeserver != Homeserver::default() {
        flag("--homeserver", setup.homeserver.to_string());
    }
    let in_container = setup.compose || setup.kubernetes.is_some();
    if setup.upstream != default_upstream(setup.homeserver, in_container)
        && setup.kubernetes.is_none()
    {
        flag("--upstream", setup.upstream.to_string());
    }
    match setup.federation_port {
        Some(DEFAULT_FEDERATION_PORT) => {}
        Some(port) => flag("--federation-port", port.to_string()),
        None => {}
    }
    match &setup.tls {
        Tls::Acme { email: None } => {}
        Tls::Acme { email: Some(email) } => flag("--acme-email", email.to_string()),
        Tls::Files { cert, key } => {
            flag("--tls", "files".into());
            flag("--tls-cert", cert.to_string());
            flag("--tls-key", key.to_string());
        }
        Tls::None => flag("--tls", "none".into()),
    }
    if setup.max_upload != facts.default_max_upload {
        flag("--max-upload", setup.max_upload.to_string());
    }
    if setup.webroot.as_str() != defaults::WEBROOT {
        flag("--webroot", setup.webroot.to_string());
    }
    if !setup.listen_addresses.is_empty() {
        let addresses: Vec<String> = setup
            .listen_addresses
            .iter()
            .map(ToString::to_string)
            .collect();
        flag("--listen-address", addresses.join(","));
    }
    if setup.proxies != Proxy::DEFAULT && setup.kubernetes.is_none() {
        let names: Vec<&str> = setup.proxies.iter().map(|p| p.name()).collect();
        flag("--proxy", names.join(","));
    }
    if with_out && setup.out != Path::new(defaults::OUT) {
        flag("--out", setup.out.display().to_string());
    }
    if setup.federation_port.is_none() {
        args.push("--no-federation".into());
    }
    if setup.compose {
        args.push("--compose".into());
    }
    if let Some(kubernetes) = &setup.kubernetes {
        args.push("--kubernetes".into());
        match &kubernetes.routing {
            KubernetesRouting::Ingress(class) => {
                args.extend(["--ingress-class".into(), class.to_string()])
            }
            KubernetesRouting::Gateway(gateway) => {
                args.extend(["--gateway".into(), gateway.to_string()])
            }
        }
        if let Some(issuer) = &kubernetes.cluster_issuer {
            args.extend(["--cluster-issuer".into(), issuer.to_string()]);
        }
        if kubernetes.namespace.to_string() != defaults::NAMESPACE {
            args.extend(["--namespace".into(), kubernetes.namespace.to_string()]);
        }
    }
    if setup.expose_admin {
        args.push("--expose-admin".into());
    }
    args
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(flags: &[&str]) -> GenerateArgs {
        let cli = Cli::try_parse_from(["mxproxy", "generate"].iter().chain(flags)).unwrap();
        match cli.command {
            Some(Command::Generate(command)) => command.setup,
            _ => unreachable!(),
        }
    }

    fn file(yaml: &str) -> FileSetup {
        parse_file(Path::new("setup.yaml"), yaml).unwrap()
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let setup = merge(
            &args(&["--federation-port", "8448"]),
            file("server_name: example.com\nfederation_port: 8000\nmax_upload: 50M\n"),
        )
        .unwrap();
        assert_eq!(setup.federation_port, Some(Port::new_unchecked(8448)));
        assert_eq!(setup.max_upload.bytes(), 50 << 20);
        assert_eq!(setup.homeserver_host.to_string(), "matrix.example.com");
        assert_eq!(setup.upstream.to_string(), "127.0.0.1:6167");
        assert_eq!(setup.proxies, Proxy::DEFAULT);
    }

    #[test]
    fn a_tls_flag_overrides_file_certificates_without_a_conflict() {
        let setup = merge(
            &args(&["--tls", "acme"]),
            file("server_name: example.com\ntls: files\ntls_cert: /c.pem\ntls_key: /k.pem\n"),
        )
        .unwrap();
        assert_eq!(setup.tls, Tls::Acme { email: None });
    }

    #[test]
    fn a_federation_flag_overrides_no_federation_in_the_file() {
        let setup = merge(
            &args(&["--federation-port", "8448"]),
            file("server_name: example.com\nno_federation: true\n"),
        )
        .unwrap();
        assert_eq!(setup.federation_port, Some(Port::new_unchecked(8448)));
    }

    #[test]
    fn compose_defaults_the_upstream_to_the_service() {
        let setup = merge(
            &args(&["--server-name", "example.com", "--compose"]),
            FileSetup::default(),
        )
        .unwrap();
        assert_eq!(setup.upstream.to_string(), "homeserver:6167");
    }

    #[test]
    fn the_homeserver_decides_the_default_upstream_port_and_upload_limit() {
        let setup = merge(
            &args(&["--compose", "--homeserver", "tuwunel"]),
            file("server_name: example.com\n"),
        )
        .unwrap();
        assert_eq!(setup.upstream.to_string(), "homeserver:8008");
        assert_eq!(setup.max_upload.bytes(), 24 << 20);
        let setup = merge(
            &args(&[]),
            file("server_name: example.com\nhomeserver: synapse\nproxy: nginx\n"),
        )
        .unwrap();
        assert_eq!(setup.upstream.to_string(), "127.0.0.1:8008");
        assert_eq!(setup.max_upload.bytes(), 50 << 20);
        assert!(setup.warnings.is_empty());
    }

    #[test]
    fn conduwuit_becomes_tuwunel_and_the_regenerate_command_says_so() {
        let setup = merge(
            &args(&["--server-name", "example.com", "--homeserver", "conduwuit"]),
            FileSetup::default(),
        )
        .unwrap();
        assert_eq!(setup.homeserver, Homeserver::Tuwunel);
        assert_eq!(setup.warnings.len(), 1);
        assert!(to_args(&setup, false).contains(&"tuwunel".to_string()));
    }

    #[test]
    fn duplicate_proxies_are_dropped_in_order() {
        let setup = merge(
            &args(&[
                "--server-name",
                "example.com",
                "--proxy",
                "caddy,nginx,caddy",
            ]),
            FileSetup::default(),
        )
        .unwrap();
        assert_eq!(setup.proxies, [Proxy::Caddy, Proxy::Nginx]);
    }

    /// `to_args` is what the header, the wizard and the property tests print as "the
    /// command that reproduces this": it must give the same setup back.
    #[test]
    fn to_args_round_trips() {
        for flags in [
            &["--server-name", "example.com"][..],
            &[
                "--server-name",
                "example.com",
                "--homeserver-host",
                "example.com",
                "--no-federation",
            ],
            &[
                "--server-name",
                "chat.example.net",
                "--homeserver-host",
                "hs.example.net",
                "--upstream",
                "[::1]:8008",
                "--federation-port",
                "8448",
                "--tls",
                "files",
                "--tls-cert",
                "/c.pem",
                "--tls-key",
                "/k.pem",
                "--max-upload",
                "1000000",
                "--webroot",
                "/srv/w",
                "--listen-address",
                "127.0.0.1,::1",
                "--proxy",
                "caddy,nginx",
                "--out",
                "/tmp/x",
            ],
            &[
                "--server-name",
                "example.com",
                "--compose",
                "--proxy",
                "traefik",
                "--tls",
                "none",
            ],
            &[
                "--server-name",
                "example.com",
                "--acme-email",
                "a@example.com",
                "--compose",
                "--upstream",
                "hs:1",
            ],
            &[
                "--server-name",
                "example.com",
                "--homeserver",
                "synapse",
                "--expose-admin",
                "--proxy",
                "nginx",
            ],
            &[
                "--server-name",
                "example.com",
                "--homeserver",
                "dendrite",
                "--compose",
            ],
            &[
                "--server-name",
                "example.com",
                "--kubernetes",
                "--ingress-class",
                "traefik",
                "--cluster-issuer",
                "letsencrypt",
                "--namespace",
                "chat",
            ],
            &[
                "--server-name",
                "example.com",
                "--homeserver",
                "tuwunel",
                "--kubernetes",
                "--gateway",
                "gateway-system/public",
                "--no-federation",
            ],
        ] {
            let setup = merge(&args(flags), FileSetup::default()).unwrap();
            let again_args = to_args(&setup, true);
            let again_refs: Vec<&str> = again_args.iter().map(String::as_str).collect();
            let again = merge(&args(&again_refs), FileSetup::default()).unwrap();
            assert_eq!(setup, again, "{flags:?} → {again_args:?}");
        }
    }
}
