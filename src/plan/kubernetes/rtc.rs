//! `--kubernetes --rtc`: LiveKit and the MatrixRTC authorization service as Deployments of
//! their own, their HTTP parts routed on the RTC host like the homeserver's, and LiveKit's
//! media ports on a Service that carries UDP. Facts and their sources: `homeserver::rtc`;
//! images, config and environment as the compose stack's (`plan::compose`).

use serde::Serialize;

use super::{Annotation, Label, Route, annotation, label_value, route_file, traefik_entry_point};
use crate::homeserver::rtc as facts;
use crate::plan::Decisions;
use crate::setup::{IngressClass, Rtc, Setup};

/// The images the compose stack runs (plan::compose, where their tags are sourced).
const LIVEKIT_IMAGE: &str = "docker.io/livekit/livekit-server:v1.13.5";
const AUTH_IMAGE: &str = "ghcr.io/element-hq/lk-jwt-service:0.5.0";
/// The Secret with LiveKit's API key and secret (keys `key` and `secret`), created by hand
/// so that neither lands in a generated file.
const KEYS_SECRET: &str = "livekit-keys";
const CONFIG_MAP: &str = "livekit-config";
const CONFIG_DIR: &str = "/etc/livekit";
const CONFIG_FILE: &str = "livekit.yaml";
const MEDIA_SERVICE: &str = "livekit-media";
/// lk-jwt-service v0.5.0 answers 200 here once it runs (main.go registers it); not routed.
const AUTH_PROBE_PATH: &str = "/healthz";
/// LiveKit answers 200 "OK" on `/` once the node is up, 406 before
/// (pkg/service/server.go `healthCheck`).
const LIVEKIT_PROBE_PATH: &str = "/";
/// Gateway API's backend protocol for WebSocket on a Service port (GEP-1911, Standard
/// since v1.2.0): some implementations proxy the upgrade only with it.
const WEBSOCKET_APP_PROTOCOL: &str = "kubernetes.io/ws";

#[derive(Debug, Serialize)]
pub struct KubernetesRtc {
    pub livekit: Workload,
    pub auth: Workload,
    pub keys_secret: String,
    pub config_map: String,
    pub config_dir: String,
    pub config_file: String,
    /// LiveKit's config, as in the compose stack's livekit.yaml.
    pub ice_tcp_port: u16,
    pub udp_port: u16,
    pub use_external_ip: bool,
    pub room_auto_create: bool,
    /// The Service of type LoadBalancer that carries the media ports.
    pub media_service: String,
    /// lk-jwt-service's environment: `LIVEKIT_JWT_BIND`, `LIVEKIT_URL` (the URL it hands
    /// clients), `LIVEKIT_FULL_ACCESS_HOMESERVERS`.
    pub auth_bind: String,
    pub livekit_url: String,
    pub full_access_homeservers: String,
}

/// One Deployment with its ClusterIP Service of the same name.
#[derive(Debug, Serialize)]
pub struct Workload {
    pub name: String,
    pub image: String,
    pub labels: Vec<Label>,
    pub selector: Vec<Label>,
    pub port: u16,
    pub port_name: String,
    pub probe_path: String,
    /// The Service port's `appProtocol`, where the routes need it.
    pub app_protocol: Option<String>,
}

pub(super) fn kubernetes_rtc(setup: &Setup, rtc: &Rtc, gateway: bool) -> KubernetesRtc {
    let workload = |name: &str, image: &str, port: u16, probe_path: &str| {
        let selector = vec![
            Label {
                key: "app.kubernetes.io/name".into(),
                value: name.into(),
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
        Workload {
            name: name.into(),
            image: image.into(),
            labels,
            selector,
            port,
            port_name: "http".into(),
            probe_path: probe_path.into(),
            app_protocol: None,
        }
    };
    let mut livekit = workload(
        crate::defaults::LIVEKIT_COMPOSE_SERVICE,
        LIVEKIT_IMAGE,
        rtc.livekit.port.get(),
        LIVEKIT_PROBE_PATH,
    );
    livekit.app_protocol = gateway.then(|| WEBSOCKET_APP_PROTOCOL.to_string());
    KubernetesRtc {
        livekit,
        auth: workload(
            crate::defaults::RTC_AUTH_COMPOSE_SERVICE,
            AUTH_IMAGE,
            rtc.auth.port.get(),
            AUTH_PROBE_PATH,
        ),
        keys_secret: KEYS_SECRET.into(),
        config_map: CONFIG_MAP.into(),
        config_dir: CONFIG_DIR.into(),
        config_file: CONFIG_FILE.into(),
        ice_tcp_port: facts::LIVEKIT_ICE_TCP_PORT,
        udp_port: facts::LIVEKIT_UDP_MUX_PORT,
        use_external_ip: true,
        room_auto_create: false,
        media_service: MEDIA_SERVICE.into(),
        auth_bind: format!(":{}", rtc.auth.port),
        livekit_url: format!("wss://{}", rtc.host),
        full_access_homeservers: setup.server_name.to_string(),
    }
}

/// The RTC host's two routes: the authorization service's exact paths, and everything
/// else to LiveKit with the WebSocket kept open.
pub(super) fn rtc_routes(
    decided: &Decisions,
    rtc: &KubernetesRtc,
    host: &str,
    ingress_class: Option<IngressClass>,
) -> Vec<Route> {
    let timeout = crate::plan::rtc::timeout_seconds(decided.setup);
    let entry_point = |class: Option<IngressClass>| match class {
        Some(IngressClass::Traefik) => {
            let (entry_point, why) = traefik_entry_point(decided.tls_enabled);
            vec![annotation(
                "traefik.ingress.kubernetes.io/router.entrypoints",
                entry_point,
                why,
            )]
        }
        _ => Vec::new(),
    };
    let mut livekit_annotations = entry_point(ingress_class);
    if ingress_class == Some(IngressClass::Nginx) {
        livekit_annotations.extend(nginx_websocket_timeouts(timeout));
    }
    let (exact, prefix) = match ingress_class {
        Some(_) => ("Exact", "Prefix"),
        None => ("Exact", "PathPrefix"),
    };
    vec![
        Route {
            name: "rtc-auth".into(),
            comment: vec![
                format!("The MatrixRTC authorization service's paths on {host}, matched exactly (Go's"),
                "ServeMux registers each without a trailing slash). No CORS added here: the service".into(),
                "sets its own, and browsers refuse a second Access-Control-Allow-Origin.".into(),
            ],
            file: route_file(ingress_class, "rtc-auth"),
            host: host.into(),
            paths: facts::AUTH_PATHS.iter().map(|p| p.to_string()).collect(),
            path_type: exact.into(),
            backend: rtc.auth.backend(),
            annotations: entry_point(ingress_class),
            issues_certificate: false,
            timeout: None,
            timeout_why: String::new(),
            response_headers: Vec::new(),
        },
        Route {
            name: "livekit".into(),
            comment: livekit_comment(host, ingress_class, timeout),
            file: route_file(ingress_class, "livekit"),
            host: host.into(),
            paths: vec!["/".into()],
            path_type: prefix.into(),
            backend: rtc.livekit.backend(),
            annotations: livekit_annotations,
            issues_certificate: false,
            // A call's signalling WebSocket lasts as long as the call: no limit on the
            // whole exchange ("0s" disables it, Gateway API "HTTP timeouts").
            timeout: ingress_class.is_none().then(|| "0s".to_string()),
            timeout_why: "No limit on the whole exchange: the signalling WebSocket lasts the call \
                          (0s disables it; Extended support in Gateway API)."
                .into(),
            response_headers: Vec::new(),
        },
    ]
}

impl Workload {
    fn backend(&self) -> super::Backend {
        super::Backend {
            name: self.name.clone(),
            port: self.port,
            port_name: self.port_name.clone(),
        }
    }
}

/// ingress-nginx proxies WebSocket without configuration, but closes it after
/// proxy-read-timeout and proxy-send-timeout without traffic (default 60 s;
/// kubernetes.github.io/ingress-nginx, user-guide "Miscellaneous", "Websockets"). ESS
/// sets the same three on its MatrixRTC Ingress (element-hq/ess-helm @83c7981,
/// charts/matrix-stack/templates/matrix-rtc/ingress.yaml).
fn nginx_websocket_timeouts(timeout: u32) -> Vec<Annotation> {
    vec![
        annotation(
            "nginx.ingress.kubernetes.io/proxy-buffering",
            "off",
            "LiveKit's answers pass at once, whatever the controller's ConfigMap says",
        ),
        annotation(
            "nginx.ingress.kubernetes.io/proxy-read-timeout",
            timeout.to_string(),
            "the signalling WebSocket stays open without traffic for at least 120 s \
             (Element Call's self-hosting guide; default 60 s)",
        ),
        annotation(
            "nginx.ingress.kubernetes.io/proxy-send-timeout",
            timeout.to_string(),
            "",
        ),
    ]
}

fn livekit_comment(host: &str, ingress_class: Option<IngressClass>, timeout: u32) -> Vec<String> {
    let mut comment = vec![format!(
        "Everything else on {host} to LiveKit: HTTP and the signalling WebSocket."
    )];
    comment.push(
        match ingress_class {
            Some(IngressClass::Nginx) => {
                "ingress-nginx passes the upgrade on by itself; the timeouts keep an idle socket."
            }
            Some(IngressClass::Traefik) => {
                "Traefik passes the upgrade on by itself; its entry point's read timeout is in the summary."
            }
            None => "The Service port's appProtocol kubernetes.io/ws asks the Gateway for the upgrade.",
        }
        .into(),
    );
    if ingress_class.is_none() {
        comment.push(format!(
            "Keep the implementation's idle timeout at {timeout} s or more (no Gateway API field)."
        ));
    }
    comment
}
