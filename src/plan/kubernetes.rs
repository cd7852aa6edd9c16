//! `--kubernetes`: the homeserver as a StatefulSet behind an Ingress or an HTTPRoute, which
//! answers the well-known documents itself.

use serde::Serialize;

mod rtc;
pub use rtc::{KubernetesRtc, Workload};

use super::{Cors, Decisions, PlannedFile, Site};
use crate::defaults::{COMPOSE_SERVICE, WELL_KNOWN_MAX_AGE_SECONDS};
use crate::matrix::{PROBE_PATH, WELL_KNOWN_PATH};
use crate::setup::{IngressClass, Kubernetes, KubernetesRouting, Setup};

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
    /// With IngressClass traefik: the Helm chart's entry point the routers use
    /// (`websecure`, or `web` with `--tls none`).
    pub traefik_entry_point: Option<String>,
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
    /// `--rtc`: LiveKit and its authorization service; null without it.
    pub rtc: Option<KubernetesRtc>,
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
    /// The line that explains it, for its comment.
    pub comment: String,
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
    /// The lines that explain it, for its comment.
    pub comment: Vec<String>,
    /// Its file below `kubernetes/`: `ingress-<name>.yaml` or `httproute-<name>.yaml`.
    pub file: String,
    pub host: String,
    pub paths: Vec<String>,
    /// How the paths match: `Prefix` or `Exact` (Ingress), `PathPrefix` or `Exact`
    /// (HTTPRoute).
    pub path_type: String,
    /// The Service every path goes to.
    pub backend: Backend,
    /// Ingress annotations, each with the reason it is there.
    pub annotations: Vec<Annotation>,
    /// This Ingress lists every TLS host and asks cert-manager for the one certificate.
    pub issues_certificate: bool,
    /// HTTPRoute `timeouts.request`, e.g. `600s`, and why, for its comment.
    pub timeout: Option<String>,
    pub timeout_why: String,
    /// HTTPRoute ResponseHeaderModifier `set` headers.
    pub response_headers: Vec<HeaderValue>,
}

#[derive(Debug, Serialize)]
pub struct Backend {
    pub name: String,
    pub port: u16,
    pub port_name: String,
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
    /// `buffering` or `headers`.
    pub kind: MiddlewareKind,
    /// The line that explains it, for its comment.
    pub comment: String,
    /// The buffering spec; null for the headers middleware, whose spec is the
    /// well-known CORS headers and Cache-Control.
    pub buffering: Option<Buffering>,
}

#[derive(Debug, Serialize)]
pub struct Buffering {
    pub max_request_body_bytes: u64,
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
        .collect();
    let value = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if value.len() <= LABEL_VALUE_MAX {
        return value.to_string();
    }
    // Longer than a label value may be: its start and a hash of the whole, so that two
    // long server names never share an instance label (a cut alone would).
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(value.as_bytes())[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let start = value[..LABEL_VALUE_MAX - hash.len() - 1]
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    format!("{start}-{hash}")
}

/// A label value has at most 63 characters (Kubernetes, "Labels and Selectors").
const LABEL_VALUE_MAX: usize = 63;

fn annotation(key: &str, value: impl Into<String>, why: &str) -> Annotation {
    Annotation {
        key: key.into(),
        value: value.into(),
        why: why.into(),
    }
}

/// The two routes: which one a route is, for its annotations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RouteKind {
    WellKnown,
    Homeserver,
}

pub(super) fn kubernetes_plan(
    decided: &Decisions,
    kubernetes: &Kubernetes,
    sites: &[Site],
) -> KubernetesPlan {
    let setup = decided.setup;
    let (selector, labels) = labels(setup);
    let ingress_class = match &kubernetes.routing {
        KubernetesRouting::Ingress(class) => Some(*class),
        KubernetesRouting::Gateway(_) => None,
    };
    let rtc = setup
        .rtc
        .as_ref()
        .map(|rtc| rtc::kubernetes_rtc(setup, rtc, ingress_class.is_none()));
    let rtc_host = setup.rtc.as_ref().map(|rtc| rtc.host.to_string());
    let tls = (decided.tls_enabled && ingress_class.is_some()).then(|| KubernetesTls {
        secret: TLS_SECRET.into(),
        hosts: sites
            .iter()
            .map(|site| site.host.clone())
            .chain(rtc_host.clone())
            .collect(),
        cluster_issuer: kubernetes.cluster_issuer.as_ref().map(ToString::to_string),
    });
    let mut routes = Vec::new();
    for site in sites {
        if site.well_known {
            routes.push(well_known_route(
                decided,
                kubernetes,
                ingress_class,
                &site.host,
            ));
        }
        if site.matrix {
            routes.push(homeserver_route(
                decided,
                kubernetes,
                ingress_class,
                &site.host,
            ));
        }
    }
    if let (Some(plan), Some(host)) = (&rtc, &rtc_host) {
        routes.extend(rtc::rtc_routes(decided, plan, host, ingress_class));
    }
    // The homeserver route lists the certificate first, so it goes first.
    routes.sort_by_key(|route| !route.issues_certificate);
    let middlewares = if ingress_class == Some(IngressClass::Traefik) {
        traefik_middlewares(setup)
    } else {
        Vec::new()
    };

    KubernetesPlan {
        namespace: kubernetes.namespace.to_string(),
        labels,
        selector,
        traefik_entry_point: (ingress_class == Some(IngressClass::Traefik))
            .then(|| traefik_entry_point(decided.tls_enabled).0.to_string()),
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
            comment: format!(
                "Inside the cluster only; the {} reach {} through it.",
                if ingress_class.is_some() {
                    "Ingresses"
                } else {
                    "HTTPRoutes"
                },
                decided.facts.display_name
            ),
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
        resources: resources(&routes, &middlewares, rtc.is_some()),
        routes,
        middlewares,
        tls,
        rtc,
    }
}

/// The selector (name and instance, which never change) and every object's labels.
fn labels(setup: &Setup) -> (Vec<Label>, Vec<Label>) {
    let label = |key: &str, value: String| Label {
        key: key.into(),
        value,
    };
    let selector = vec![
        label("app.kubernetes.io/name", setup.homeserver.name().into()),
        label(
            "app.kubernetes.io/instance",
            label_value(&setup.server_name.to_string()),
        ),
    ];
    let mut labels = selector.clone();
    labels.push(label("app.kubernetes.io/managed-by", "mxproxy".into()));
    (selector, labels)
}

/// `ingress-<name>.yaml` or `httproute-<name>.yaml`.
fn route_file(ingress_class: Option<IngressClass>, name: &str) -> String {
    let object = if ingress_class.is_some() {
        "ingress"
    } else {
        "httproute"
    };
    format!("{object}-{name}.yaml")
}

/// `/.well-known/matrix/` on the server name, answered by the homeserver; the route adds
/// CORS and Cache-Control.
fn well_known_route(
    decided: &Decisions,
    kubernetes: &Kubernetes,
    ingress_class: Option<IngressClass>,
    host: &str,
) -> Route {
    let cors = Cors::recommended().headers();
    let display_name = decided.facts.display_name;
    let mut comment = vec![
        format!("/.well-known/matrix/ on {host}: {display_name} answers both documents itself from"),
        match ingress_class {
            Some(_) => "the well-known settings in statefulset.yaml, so no second server is needed.",
            None => "the well-known settings in statefulset.yaml; the filter adds CORS and Cache-Control.",
        }
        .into(),
    ];
    comment.extend(ingress_comment(ingress_class));
    Route {
        name: "well-known".into(),
        comment,
        file: route_file(ingress_class, "well-known"),
        host: host.into(),
        paths: vec![WELL_KNOWN_PATH.into()],
        path_type: prefix_type(ingress_class).into(),
        backend: homeserver_backend(decided),
        annotations: ingress_class.map_or_else(Vec::new, |class| {
            annotations_for(decided, kubernetes, class, RouteKind::WellKnown)
        }),
        issues_certificate: false,
        timeout: None,
        timeout_why: String::new(),
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
    }
}

/// The homeserver's API prefixes on the homeserver host; this route carries the
/// certificate for every host.
fn homeserver_route(
    decided: &Decisions,
    kubernetes: &Kubernetes,
    ingress_class: Option<IngressClass>,
    host: &str,
) -> Route {
    let mut annotations = ingress_class.map_or_else(Vec::new, |class| {
        annotations_for(decided, kubernetes, class, RouteKind::Homeserver)
    });
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
    let display_name = decided.facts.display_name;
    let mut comment = match ingress_class {
        Some(_) => vec![format!("{display_name}'s API on {host}.")],
        None => vec![
            format!(
                "{display_name}'s API on {host}. No URLRewrite filter: paths reach it unchanged."
            ),
            format!(
                "The upload limit ({}) has no Gateway API field; see the summary.",
                decided.setup.max_upload
            ),
        ],
    };
    comment.extend(ingress_comment(ingress_class));
    Route {
        name: "homeserver".into(),
        comment,
        file: route_file(ingress_class, "homeserver"),
        host: host.into(),
        paths: decided.prefixes.clone(),
        path_type: prefix_type(ingress_class).into(),
        backend: homeserver_backend(decided),
        annotations,
        issues_certificate: true,
        timeout: Some(format!("{}s", decided.setup.read_timeout.seconds())),
        timeout_why:
            "Longer than any /sync long-poll or slow upload (Extended support in Gateway API)."
                .into(),
        response_headers: Vec::new(),
    }
}

/// A path prefix: `Prefix` in an Ingress, `PathPrefix` in an HTTPRoute.
fn prefix_type(ingress_class: Option<IngressClass>) -> &'static str {
    if ingress_class.is_some() {
        "Prefix"
    } else {
        "PathPrefix"
    }
}

/// The homeserver's Service, which `kubernetes_plan` writes as `service`.
fn homeserver_backend(decided: &Decisions) -> Backend {
    Backend {
        name: COMPOSE_SERVICE.into(),
        port: decided.setup.upstream.port.get(),
        port_name: "http".into(),
    }
}

/// What an Ingress of `class` does with the request, for its comment.
fn ingress_comment(class: Option<IngressClass>) -> Vec<String> {
    let lines: &[&str] = match class {
        Some(IngressClass::Nginx) => &[
            "No rewrite-target and no use-regex: ingress-nginx then proxies without a URI part, so the",
            "request target reaches the homeserver exactly as the client sent it, and it replaces",
            "X-Forwarded-For with the client address unless the controller trusts forwarded headers.",
        ],
        Some(IngressClass::Traefik) => &[
            "Traefik passes the path unchanged; its entry points need the settings in the summary",
            "(encoded characters, read timeout), which an Ingress cannot carry.",
        ],
        None => &[],
    };
    lines.iter().map(|line| line.to_string()).collect()
}

/// The Ingress annotations of one route for the controller of `class`.
fn annotations_for(
    decided: &Decisions,
    kubernetes: &Kubernetes,
    class: IngressClass,
    route: RouteKind,
) -> Vec<Annotation> {
    match (class, route) {
        // ingress-nginx's CORS annotations set the headers with more_set_headers
        // (replacing any the homeserver sends) and answer preflights themselves
        // (kubernetes.github.io/ingress-nginx, annotations "Enable CORS"). Only on
        // this Ingress: the API's own CORS allows more methods than these.
        (IngressClass::Nginx, RouteKind::WellKnown) => {
            let [origin, methods, headers] = Cors::recommended().headers();
            vec![
                annotation(
                    "nginx.ingress.kubernetes.io/enable-cors",
                    "true",
                    "browser clients read both documents (client-server API, \"Web Browser Clients\")",
                ),
                annotation(
                    "nginx.ingress.kubernetes.io/cors-allow-origin",
                    origin.1,
                    "",
                ),
                annotation(
                    "nginx.ingress.kubernetes.io/cors-allow-methods",
                    methods.1,
                    "",
                ),
                annotation(
                    "nginx.ingress.kubernetes.io/cors-allow-headers",
                    headers.1,
                    "",
                ),
            ]
        }
        (IngressClass::Nginx, RouteKind::Homeserver) => vec![
            annotation(
                "nginx.ingress.kubernetes.io/proxy-body-size",
                decided.setup.max_upload.bytes().to_string(),
                "the upload limit, in bytes, as the homeserver's own setting (default 1m)",
            ),
            annotation(
                "nginx.ingress.kubernetes.io/proxy-read-timeout",
                decided.setup.read_timeout.seconds().to_string(),
                "longer than any /sync long-poll (default 60 s)",
            ),
            annotation(
                "nginx.ingress.kubernetes.io/proxy-send-timeout",
                decided.setup.read_timeout.seconds().to_string(),
                "",
            ),
        ],
        (IngressClass::Traefik, route) => {
            let (middleware, why) = match route {
                RouteKind::WellKnown => (
                    "well-known-headers",
                    "CORS and Cache-Control (middleware-well-known-headers.yaml)",
                ),
                RouteKind::Homeserver => (
                    "upload-limit",
                    "the upload limit (middleware-upload-limit.yaml)",
                ),
            };
            let (entry_point, entry_point_why) = traefik_entry_point(decided.tls_enabled);
            vec![
                annotation(
                    "traefik.ingress.kubernetes.io/router.entrypoints",
                    entry_point,
                    entry_point_why,
                ),
                annotation(
                    "traefik.ingress.kubernetes.io/router.middlewares",
                    format!("{}-{middleware}@kubernetescrd", kubernetes.namespace),
                    why,
                ),
            ]
        }
    }
}

/// The Traefik Helm chart's entry points: `web` on 80, `websecure` on 443.
fn traefik_entry_point(tls_enabled: bool) -> (&'static str, &'static str) {
    if tls_enabled {
        (
            "websecure",
            "HTTPS only (the Helm chart's entry point on 443)",
        )
    } else {
        (
            "web",
            "plain HTTP, TLS ends in front of the cluster (--tls none)",
        )
    }
}

fn traefik_middlewares(setup: &Setup) -> Vec<Middleware> {
    vec![
        Middleware {
            name: "upload-limit".into(),
            file: "middleware-upload-limit.yaml".into(),
            kind: MiddlewareKind::Buffering,
            comment: "The upload limit, as the homeserver's own setting; larger bodies get 413."
                .into(),
            buffering: Some(Buffering {
                max_request_body_bytes: setup.max_upload.bytes(),
            }),
        },
        Middleware {
            name: "well-known-headers".into(),
            file: "middleware-well-known-headers.yaml".into(),
            kind: MiddlewareKind::Headers,
            comment: "CORS and a one-hour Cache-Control on both well-known documents.".into(),
            buffering: None,
        },
    ]
}

/// `--rtc`'s objects, one per file, each with its template.
const RTC_FILES: [(&str, &str); 6] = [
    (
        "configmap-livekit.yaml",
        "kubernetes/livekit-configmap.yaml.j2",
    ),
    ("service-livekit.yaml", "kubernetes/livekit-service.yaml.j2"),
    (
        "service-livekit-media.yaml",
        "kubernetes/livekit-media-service.yaml.j2",
    ),
    (
        "deployment-livekit.yaml",
        "kubernetes/livekit-deployment.yaml.j2",
    ),
    (
        "service-lk-jwt-service.yaml",
        "kubernetes/rtc-auth-service.yaml.j2",
    ),
    (
        "deployment-lk-jwt-service.yaml",
        "kubernetes/rtc-auth-deployment.yaml.j2",
    ),
];

/// Every file below `kubernetes/` but the kustomization, in the order it lists them.
fn resources(routes: &[Route], middlewares: &[Middleware], rtc: bool) -> Vec<String> {
    let mut resources: Vec<String> = ["namespace.yaml", "service.yaml", "statefulset.yaml"]
        .map(String::from)
        .to_vec();
    if rtc {
        resources.extend(RTC_FILES.iter().map(|(name, _)| name.to_string()));
    }
    resources.extend(routes.iter().map(|route| route.file.clone()));
    resources.extend(middlewares.iter().map(|middleware| middleware.file.clone()));
    resources
}

/// `kubernetes/`: the kustomization, then one object per file in the order it lists them.
/// The homeserver serves both well-known documents itself (see the ingress templates), so
/// `well-known/` is not written.
pub(super) fn kubernetes_files(kubernetes: &KubernetesPlan) -> Vec<PlannedFile> {
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
    if kubernetes.rtc.is_some() {
        files.extend(
            RTC_FILES
                .iter()
                .map(|(name, template)| file(name, template)),
        );
    }
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

#[cfg(test)]
mod tests {
    use super::{LABEL_VALUE_MAX, label_value};

    /// Server names up to 63 characters are the label as they are; longer ones keep their
    /// start and a hash, at most 63 characters, different for different names.
    #[test]
    fn the_instance_label_fits_and_tells_long_names_apart() {
        assert_eq!(label_value("example.com"), "example.com");
        let label_63 = "a".repeat(63);
        assert_eq!(label_value(&label_63), label_63);
        let long = format!("{label_63}.{label_63}.example.com");
        let other = format!("{label_63}.{label_63}.example.org");
        let value = label_value(&long);
        assert!(value.len() <= LABEL_VALUE_MAX, "{value}");
        assert!(value.starts_with("aaaa") && value.ends_with(|c: char| c.is_ascii_alphanumeric()));
        assert_ne!(value, label_value(&other));
    }
}
