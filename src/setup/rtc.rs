//! `--rtc`: the MatrixRTC backend (LiveKit and its authorization service) behind the
//! proxy, on a host of its own.

use super::{Host, Upstream};

/// `--rtc`: calls (Element Call, Element X) through a LiveKit SFU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtc {
    /// The public host of LiveKit and the authorization service (`--rtc-host`), one
    /// host without a path prefix as ESS lays it out.
    pub host: Host,
    /// Where LiveKit's HTTP and WebSocket port answers the proxy (`--livekit-upstream`).
    pub livekit: Upstream,
    /// Where the authorization service (lk-jwt-service) answers (`--rtc-auth-upstream`).
    pub auth: Upstream,
}
