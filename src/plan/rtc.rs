//! `--rtc`: LiveKit and its authorization service on the RTC host, the focus in the
//! client well-known, and LiveKit's media ports, which no HTTP proxy carries. Facts and
//! their sources: `homeserver::rtc`.

use serde::Serialize;

use super::Decisions;
use super::sites::Listener;
use crate::homeserver::rtc as facts;
use crate::setup::{Homeserver, Rtc, UpstreamHost};

#[derive(Debug, Serialize)]
pub struct RtcPlan {
    /// The RTC host: the authorization service's paths and LiveKit.
    pub host: String,
    /// The listener it is served on: the main one (443, or 80 without TLS).
    pub listener: Listener,
    /// `livekit_service_url` in the focus: the RTC host itself, no path, as every
    /// authorization service path is routed at its root (ESS's layout).
    pub service_url: String,
    /// `host:port` and `http://host:port` of LiveKit's HTTP and WebSocket port.
    pub livekit_address: String,
    pub livekit_url: String,
    /// The same of the authorization service, and its `LIVEKIT_JWT_BIND` value.
    pub auth_address: String,
    pub auth_url: String,
    /// In the compose stack, where both are found by service name: Docker's DNS, which the
    /// proxies that resolve only at start (nginx, HAProxy) ask per request instead; null
    /// on a host install.
    pub resolver: Option<String>,
    /// The authorization service's exact paths; everything else on the host is LiveKit's.
    pub auth_paths: Vec<String>,
    /// Read and send timeout on the LiveKit connection: at least the 120 s Element Call's
    /// guide sets, the setup's read timeout where that is longer.
    pub timeout_seconds: u32,
    /// LiveKit's media ports: published directly, never through the HTTP proxy.
    pub media_ports: Vec<MediaPort>,
    /// The federation path the authorization service checks OpenID tokens on, open on
    /// the homeserver host although federation is off; null where federation is on.
    pub openid_userinfo: Option<String>,
    /// Synapse's settings for calls; null for other homeservers.
    pub synapse: Option<SynapseRtc>,
}

/// Top-level keys of Synapse's config, each printed as it is (synapse/mxproxy.yaml).
#[derive(Debug, Serialize)]
pub struct SynapseRtc {
    pub experimental_features: std::collections::BTreeMap<String, bool>,
    pub max_event_delay_duration: String,
    pub rc_message: Rate,
    pub rc_delayed_event_mgmt: Rate,
    pub matrix_rtc: MatrixRtc,
    /// The focus in Synapse's own client well-known too, for where a proxy forwards
    /// `/.well-known/matrix/client` to it (Traefik): config_documentation.md
    /// `extra_well_known_client_content`.
    pub extra_well_known_client_content: std::collections::BTreeMap<String, Vec<Focus>>,
}

#[derive(Debug, Serialize)]
pub struct Rate {
    pub per_second: f64,
    pub burst_count: u32,
}

/// `matrix_rtc.transports` (synapse/config/matrixrtc.py), answered on MSC4143's
/// transports endpoint, which current Element Call asks before anything else
/// (src/state/CallViewModel/localMember/RtcTransportAutoDiscovery.ts; its docs no longer
/// mention the well-known since 426ea30, "Remove all references to .well-known transport
/// advertisement"). The well-known stays for clients that read only it.
#[derive(Debug, Serialize)]
pub struct MatrixRtc {
    pub transports: Vec<Focus>,
}

#[derive(Debug, Serialize)]
pub struct MediaPort {
    /// `7881/tcp`, `7882/udp`, `50000-60000/udp`.
    pub ports: String,
    /// LiveKit's setting for it.
    pub setting: String,
    pub note: String,
}

/// One entry of `org.matrix.msc4143.rtc_foci`.
#[derive(Debug, Serialize)]
pub struct Focus {
    #[serde(rename = "type")]
    pub kind: String,
    pub livekit_service_url: String,
}

pub(super) fn rtc_plan(decided: &Decisions, rtc: &Rtc, listener: &Listener) -> RtcPlan {
    let setup = decided.setup;
    let host = rtc.host.to_string();
    let service_url = facts::service_url(&rtc.host);
    RtcPlan {
        host,
        listener: listener.clone(),
        livekit_address: rtc.livekit.to_string(),
        livekit_url: format!("http://{}", rtc.livekit),
        auth_address: rtc.auth.to_string(),
        auth_url: format!("http://{}", rtc.auth),
        resolver: (setup.compose
            && [&rtc.livekit, &rtc.auth]
                .iter()
                .any(|u| matches!(u.host, UpstreamHost::Name(_))))
        .then(|| super::DOCKER_DNS.to_string()),
        auth_paths: facts::AUTH_PATHS.iter().map(|p| p.to_string()).collect(),
        timeout_seconds: timeout_seconds(setup),
        media_ports: media_ports(),
        service_url: service_url.clone(),
        openid_userinfo: setup
            .federation_port
            .is_none()
            .then(|| facts::OPENID_USERINFO.to_string()),
        synapse: (setup.homeserver == Homeserver::Synapse).then(|| synapse(&service_url)),
    }
}

fn synapse(service_url: &str) -> SynapseRtc {
    let rate = |(per_second, burst_count): (f64, u32)| Rate {
        per_second,
        burst_count,
    };
    SynapseRtc {
        experimental_features: facts::SYNAPSE_EXPERIMENTAL
            .iter()
            .map(|key| (key.to_string(), true))
            .collect(),
        max_event_delay_duration: facts::MAX_EVENT_DELAY.into(),
        rc_message: rate(facts::RC_MESSAGE),
        rc_delayed_event_mgmt: rate(facts::RC_DELAYED_EVENT_MGMT),
        matrix_rtc: MatrixRtc {
            transports: focus(service_url),
        },
        extra_well_known_client_content: [(facts::WELL_KNOWN_KEY.to_string(), focus(service_url))]
            .into_iter()
            .collect(),
    }
}

/// The read and send timeout on LiveKit's connection.
pub(super) fn timeout_seconds(setup: &crate::setup::Setup) -> u32 {
    setup.read_timeout.seconds().max(facts::MIN_TIMEOUT_SECONDS)
}

/// The focus the client well-known names: LiveKit through its authorization service.
pub(super) fn foci(rtc: &RtcPlan) -> Vec<Focus> {
    focus(&rtc.service_url)
}

fn focus(service_url: &str) -> Vec<Focus> {
    vec![Focus {
        kind: "livekit".into(),
        livekit_service_url: service_url.to_string(),
    }]
}

fn media_ports() -> Vec<MediaPort> {
    vec![
        MediaPort {
            ports: format!("{}/tcp", facts::LIVEKIT_ICE_TCP_PORT),
            setting: "rtc.tcp_port".into(),
            note: "ICE over TCP, where UDP is blocked".into(),
        },
        MediaPort {
            ports: format!("{}/udp", facts::LIVEKIT_UDP_MUX_PORT),
            setting: "rtc.udp_port".into(),
            note: format!(
                "every UDP media stream on one port (or, without it, rtc.port_range_start-end, \
                 {}-{}/udp)",
                facts::LIVEKIT_UDP_RANGE.0,
                facts::LIVEKIT_UDP_RANGE.1
            ),
        },
    ]
}

#[cfg(test)]
mod tests {
    /// Element Call's guide and ESS keep the LiveKit WebSocket open for 120 s without
    /// traffic; a shorter read timeout never applies there.
    #[test]
    fn livekit_timeout_is_never_below_120_seconds() {
        for read_timeout in ["60s", "90s", "120s", "5m"] {
            let setup = crate::config::merge(
                &crate::config::SetupLayer {
                    server_name: Some("example.com".parse().unwrap()),
                    rtc: Some(true),
                    proxy: Some(vec![crate::setup::Proxy::Nginx]),
                    read_timeout: Some(read_timeout.parse().unwrap()),
                    ..Default::default()
                },
                crate::config::SetupLayer::default(),
            )
            .unwrap();
            let plan = crate::plan::plan(&setup);
            let rtc = plan.rtc.expect("--rtc plans the RTC host");
            assert!(rtc.timeout_seconds >= 120, "{read_timeout}");
            assert!(rtc.timeout_seconds >= setup.read_timeout.seconds());
            assert_eq!(rtc.service_url, "https://rtc.example.com");
        }
    }
}
