//! MatrixRTC (Element Call, Element X calls): a LiveKit SFU and the MatrixRTC
//! authorization service (element-hq/lk-jwt-service) behind the proxy on a host of their
//! own, announced to clients in the server name's client well-known. Sources:
//! element-hq/lk-jwt-service @a375b13 (main.go, config.go, handler.go, helper.go,
//! README.md); livekit/livekit @788d4c3 (config-sample.yaml, pkg/config/config.go);
//! element-hq/element-call @b51a33c docs/self_hosting.md; element-hq/ess-helm
//! charts/matrix-stack/templates/matrix-rtc/ingress.yaml; element-hq/synapse @a58ad44
//! (synapse/config/experimental.py, synapse/config/matrixrtc.py,
//! synapse/rest/client/matrixrtc.py, docs/usage/configuration/config_documentation.md).

use crate::setup::Homeserver;

/// The authorization service's client paths: handler.go `prepareMux` registers each with
/// Go's `http.ServeMux` without a trailing slash, which matches that exact path only, so
/// the proxies match them exactly too. `/sfu/get` is the legacy one ("Deprecated:
/// pre-Matrix-2.0; remove once clients migrate to /get_token"), still served. Not
/// forwarded: `/sfu_webhook` (LiveKit calls it, from the same machine, on the service's
/// own address) and `/healthz` (a check for the machine, not for clients). ESS routes the
/// same three to the service, everything else on the host to LiveKit (ingress.yaml).
pub const AUTH_PATHS: [&str; 3] = ["/sfu/get", "/get_token", "/delegate_delayed_leave"];

/// LiveKit's `port` ("main TCP port for RoomService and RTC endpoint … should be placed
/// behind a load balancer with TLS", config-sample.yaml; `DefaultConfig.Port`, config.go):
/// HTTP and the WebSocket signalling connection.
pub const LIVEKIT_PORT: u16 = 7880;

/// LiveKit's ICE/TCP port, `rtc.tcp_port` (`DefaultConfig`: 7881): "this port *cannot*
/// be behind load balancer or TLS, and must be exposed on the node" (config-sample.yaml).
pub const LIVEKIT_ICE_TCP_PORT: u16 = 7881;

/// LiveKit's UDP media port as the summary suggests it: `rtc.udp_port` multiplexes every
/// UDP stream on one port (config-sample.yaml: `udp_port: 7882-7892`, "port_range_start &
/// end must not be set"); 7882 is ESS's `rtcMuxedUdp` and LiveKit's `--dev` port. Without
/// it LiveKit takes `rtc.port_range_start`–`port_range_end` (50000–60000 in the sample).
pub const LIVEKIT_UDP_MUX_PORT: u16 = 7882;
pub const LIVEKIT_UDP_RANGE: (u16, u16) = (50000, 60000);

/// Where mxproxy expects the authorization service by default. Its own default
/// (`LIVEKIT_JWT_BIND` unset: `:8080`, config.go) is MAS's default port too
/// (`homeserver::mas::LISTENER_PORT`), so one of them has to move; 8070 is the port
/// Element Call's self-hosting guide gives the service in its HAProxy example
/// (`server sfu 127.0.0.1:8070`, docs/self_hosting.md). The summary says to set
/// `LIVEKIT_JWT_BIND` to it.
pub const AUTH_PORT: u16 = 8070;

/// "proxy_send_timeout 120; proxy_read_timeout 120;" on the LiveKit location
/// (docs/self_hosting.md); ESS's ingress sets the same 120 s. mxproxy's read timeout
/// applies where it is longer.
pub const MIN_TIMEOUT_SECONDS: u32 = 120;

/// The client well-known key that names the RTC backend (MSC4143).
pub const WELL_KNOWN_KEY: &str = "org.matrix.msc4143.rtc_foci";

/// The one federation path the authorization service needs: it checks a client's OpenID
/// token with gomatrixserverlib's `LookupUserInfo` (helper.go), which is
/// `GET /_matrix/federation/v1/openid/userinfo` on the user's server, found by the server
/// well-known, SRV or port 8448 (`fclient.WithWellKnownSRVLookups(true)`). So it stays
/// open with `--no-federation` (MDAD pins it the same way:
/// `federation_override_locations_regex: ^/_matrix/federation/v1/openid/userinfo$`).
pub const OPENID_USERINFO: &str = "/_matrix/federation/v1/openid/userinfo";

/// Synapse's resource that serves `OPENID_USERINFO` without the rest of federation
/// (synapse/app/homeserver.py: `openid`, skipped where `federation` is listed as well).
pub const SYNAPSE_OPENID_RESOURCE: &str = "openid";

/// Synapse's experimental features Element Call's guide turns on (docs/self_hosting.md,
/// "A Matrix Homeserver"), each read in synapse/config/experimental.py: MSC4143 (the
/// transports endpoint `/_matrix/client/unstable/org.matrix.msc4143/rtc/transports`,
/// synapse/rest/client/matrixrtc.py) and MSC4222 (sync's `state_after`). MSC3266 (room
/// summary) is stable since Synapse 1.153.0 (7fc937b, "Stabilize MSC3266"), which no
/// longer reads its flag; older releases still need it, so it stays.
pub const SYNAPSE_EXPERIMENTAL: [&str; 3] =
    ["msc3266_enabled", "msc4143_enabled", "msc4222_enabled"];

/// MSC4140 delayed events: "If null or unset, sending of delayed events is disallowed"
/// (config_documentation.md `max_event_delay_duration`); the guide sets 24h.
pub const MAX_EVENT_DELAY: &str = "24h";

/// The guide's rate limits: `rc_message` "needs to match at least e2ee key sharing
/// frequency plus a bit of headroom" (Synapse's default 0.2/s, burst 10), and
/// `rc_delayed_event_mgmt` "at least the heart-beat frequency" (every 5 s).
pub const RC_MESSAGE: (f64, u32) = (0.5, 30);
pub const RC_DELAYED_EVENT_MGMT: (f64, u32) = (1.0, 20);

/// `livekit_service_url`: the RTC host itself, no path, as every authorization service
/// path is routed at its root (ESS's layout: templates/well-known/_helpers.tpl).
pub fn service_url(host: &crate::setup::Host) -> String {
    format!("https://{host}")
}

/// The homeservers whose own client well-known mxproxy makes name the focus (a proxy
/// that forwards `/.well-known/matrix/` to the homeserver needs it): Synapse by
/// `extra_well_known_client_content` (config_documentation.md), tuwunel by
/// `[global.well_known] livekit_url` ("3.1 .well-known served by Tuwunel",
/// matrix-construct/tuwunel docs/calls/matrix_rtc.md). Not continuwuity (its setting was
/// renamed between releases: `well_known.rtc_focus_server_urls`, removed for
/// `matrix_rtc.foci`, CHANGELOG), Conduit or Dendrite.
pub const ANNOUNCES_FOCUS: [Homeserver; 2] = [Homeserver::Synapse, Homeserver::Tuwunel];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every default port of an optional service differs from every other default and
    /// from every homeserver's, so turning on `--mas` and `--rtc` together with any
    /// homeserver needs no port given by hand.
    #[test]
    fn no_default_port_of_an_optional_service_collides() {
        let ports: Vec<(String, u16)> = Homeserver::ALL
            .iter()
            .map(|&h| (format!("{h:?}"), crate::homeserver::facts(h).port))
            .collect();
        let services = [
            ("MAS", crate::homeserver::mas::LISTENER_PORT),
            ("LiveKit", LIVEKIT_PORT),
            ("LiveKit ICE/TCP", LIVEKIT_ICE_TCP_PORT),
            ("LiveKit UDP", LIVEKIT_UDP_MUX_PORT),
            ("authorization service", AUTH_PORT),
        ];
        for (i, (name, port)) in services.iter().enumerate() {
            for (other, other_port) in services[i + 1..]
                .iter()
                .map(|(n, p)| (n.to_string(), *p))
                .chain(ports.iter().cloned())
            {
                assert_ne!(*port, other_port, "{name} and {other} share {port}");
            }
            assert!(
                !(LIVEKIT_UDP_RANGE.0..=LIVEKIT_UDP_RANGE.1).contains(port),
                "{name}'s {port} is in LiveKit's UDP range"
            );
        }
    }

    #[test]
    fn auth_paths_are_exact_paths_of_the_service() {
        for path in AUTH_PATHS {
            assert!(path.starts_with('/') && !path.ends_with('/'), "{path}");
        }
    }
}
