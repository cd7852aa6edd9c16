//! Calls: MatrixRTC (MSC4143) with the LiveKit transport (MSC4195), as Element Call and
//! Element X reach it. Sources, each checked in the code it names:
//! - discovery: `org.matrix.msc4143.rtc_foci` in the **server name's** client well-known,
//!   `[{"type": "livekit", "livekit_service_url": …}]` (element-hq/element-call
//!   docs/self-hosting.md; a missing one is Element's `MISSING_MATRIX_RTC_FOCUS`), and
//!   Synapse's `GET /_matrix/client/unstable/org.matrix.msc4143/rtc/transports`
//!   (synapse/rest/client/matrixrtc.py: registered only with `msc4143_enabled`, it calls
//!   `get_user_by_req` first, so without a login it answers 401 M_MISSING_TOKEN and the list,
//!   `{"transports": …}`, stays unseen; ruma's `rtc::transports` marks it AccessToken too).
//!   Element Call (src/state/CallViewModel/localMember/RtcTransportAutoDiscovery.ts) asks
//!   that endpoint first when it runs standalone with an access token, and reads the
//!   well-known's foci only when the endpoint is missing (404 M_UNRECOGNIZED) or, embedded
//!   as a widget, has no token: the well-known focus is what embedded calls use. It takes
//!   the list's first entry; `check` looks for the first `livekit` one;
//! - the authorization service (element-hq/lk-jwt-service): `/sfu/get` and `/get_token`
//!   answer the OPTIONS preflight themselves with `Access-Control-Allow-Origin: *`
//!   (handler.go `corsJSON`), so a proxy adding its own makes two, which browsers refuse;
//! - LiveKit (livekit/livekit pkg/service/server.go `mux.Handle("/rtc", rtcService)`,
//!   rtcservice.go `ServeHTTP`): a request to `/rtc` that is no WebSocket upgrade gets an
//!   empty 404; an upgrade without an access token gets 401 from `validateInternal`
//!   (`rtc.ErrPermissionDenied`) before the handshake. Without credentials, 401 is as far as
//!   a real LiveKit lets anyone get, and it proves the Upgrade and Connection headers came
//!   through the proxy; 101 is what a LiveKit stand-in without auth answers;
//! - the OpenID userinfo lookup lk-jwt-service makes (helper.go, gomatrixserverlib
//!   `LookupUserInfo`: federation discovery of the server name, then
//!   `/_matrix/federation/v1/openid/userinfo`); Synapse answers it without a token with 401
//!   M_MISSING_TOKEN (synapse/federation/transport/server/federation.py `OpenIdUserInfo`).

use hyper::{Method, StatusCode};
use url::Url;

use super::discovery::discover;
use super::tls::tls_check;
use super::{Context, ORIGIN, fetch_fix};
use crate::check::fixes::{self, proxy_in_front};
use crate::check::net::{Endpoint, FetchError, Reply};
use crate::check::report::{CheckId, CheckResult};

const FOCI_KEY: &str = "org.matrix.msc4143.rtc_foci";
const TRANSPORTS_PATH: &str = "/_matrix/client/unstable/org.matrix.msc4143/rtc/transports";
/// The authorization service's client paths browsers preflight: the current one and the
/// legacy one older Element Call versions still ask (lk-jwt-service main.go).
const AUTH_PATHS: [&str; 2] = ["/get_token", "/sfu/get"];
/// LiveKit's signalling WebSocket.
const LIVEKIT_PATH: &str = "/rtc";
const USERINFO_PATH: &str = "/_matrix/federation/v1/openid/userinfo";
/// RFC 6455 §1.3's sample nonce: any 16 bytes in base64 do, no frame is ever sent.
const WEBSOCKET_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

const IDS: [CheckId; 5] = [
    CheckId::RtcFocus,
    CheckId::TlsRtc,
    CheckId::RtcAuthCors,
    CheckId::RtcWebsocket,
    CheckId::RtcOpenidUserinfo,
];

/// Where a focus came from, and what the homeserver's transports endpoint said.
struct Found {
    service_url: String,
    source: &'static str,
    transports: String,
}

/// Every calls check. Skipped when the deployment names no focus and `--rtc` was not given.
pub(super) async fn rtc_side(context: &Context) -> Vec<CheckResult> {
    let found = match find_focus(context).await {
        Ok(found) => found,
        Err(first) => {
            let mut out = vec![first];
            out.extend(
                IDS[1..]
                    .iter()
                    .map(|id| CheckResult::skip(*id, "not checked: no calls focus to check")),
            );
            return out;
        }
    };
    let generate = context.generate("--rtc");
    let parsed = Url::parse(&found.service_url)
        .map_err(|e| FetchError::BadUrl(format!("`{}` is no URL: {e}", found.service_url)))
        .and_then(|url| Endpoint::from_url(&url).map(|endpoint| (url, endpoint)));
    let (service_url, endpoint) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            let service_url = &found.service_url;
            let mut out = vec![CheckResult::fail(
                CheckId::RtcFocus,
                format!("the focus `{service_url}` ({}): {error}", found.source),
                format!("set livekit_service_url to https://<rtc host>\nor regenerate: {generate}"),
            )];
            out.extend(
                IDS[1..]
                    .iter()
                    .map(|id| CheckResult::skip(*id, "not checked: the focus is no https URL")),
            );
            return out;
        }
    };
    let (tls, cors, websocket, userinfo) = tokio::join!(
        context.net.handshake(&endpoint),
        auth_cors(context, &service_url, &generate),
        websocket(context, &service_url, &endpoint, &generate),
        openid_userinfo(context, &generate),
    );
    vec![
        CheckResult::pass(
            CheckId::RtcFocus,
            format!(
                "livekit focus {} ({}); {}",
                found.service_url, found.source, found.transports
            ),
        ),
        tls_check(
            CheckId::TlsRtc,
            &endpoint,
            tls,
            "Element Call reaches the authorization service and LiveKit there",
        ),
        cors,
        websocket,
        userinfo,
    ]
}

/// The focus from the server name's client well-known, else from a transports list the
/// homeserver shows without a login. `Err` is the `rtc.focus` result when there is none.
async fn find_focus(context: &Context) -> Result<Found, CheckResult> {
    let host = context.name.host.authority();
    let url = Url::parse(&format!("https://{host}/.well-known/matrix/client"))
        .expect("a validated host makes a valid URL");
    // Fetched again rather than taken from client.well-known: that one stops at the first
    // problem, a missing focus is a question of its own.
    let document = match context.net.get_following(&url, &[("origin", ORIGIN)]).await {
        Ok(followed) => followed
            .last()
            .json()
            .filter(|_| followed.last().status == StatusCode::OK),
        Err(_) => None,
    };
    let Some(document) = document else {
        return Err(CheckResult::skip(
            CheckId::RtcFocus,
            format!("not checked: {url} is no JSON document (see client.well-known)"),
        ));
    };
    let base = document
        .get("m.homeserver")
        .and_then(|h| h.get("base_url"))
        .and_then(|b| b.as_str())
        .and_then(|b| Url::parse(b).ok());
    let (transports, listed) = match &base {
        Some(base) => transports(context, base).await,
        None => ("no base_url to ask for MSC4143 transports".into(), None),
    };
    if let Some(service_url) = livekit_focus(document.get(FOCI_KEY)) {
        return Ok(Found {
            service_url,
            source: "client well-known",
            transports,
        });
    }
    if let Some(service_url) = listed {
        return Ok(Found {
            service_url,
            source: "the homeserver's MSC4143 transports; the client well-known names none",
            transports,
        });
    }
    Err(missing_focus(context, &url, &transports))
}

/// The first `livekit` entry's URL in a foci or transports list, as written: one that
/// does not parse is still the admin's focus, reported as such.
fn livekit_focus(list: Option<&serde_json::Value>) -> Option<String> {
    list?.as_array()?.iter().find_map(|focus| {
        (focus.get("type")?.as_str()? == "livekit")
            .then(|| Some(focus.get("livekit_service_url")?.as_str()?.to_string()))?
    })
}

/// What `GET …/rtc/transports` says, and a livekit transport if it lists one openly.
async fn transports(context: &Context, base: &Url) -> (String, Option<String>) {
    let Ok(endpoint) = Endpoint::from_url(base) else {
        return ("base_url is no https URL".into(), None);
    };
    let path = format!("{}{TRANSPORTS_PATH}", base.path().trim_end_matches('/'));
    let reply = match context
        .net
        .request(&endpoint, Method::GET, &path, &[])
        .await
    {
        Ok(reply) => reply,
        Err(error) => return (format!("MSC4143 transports: {error}"), None),
    };
    transports_note(reply.status, reply.errcode(), reply.json())
}

/// What a transports answer says: a livekit transport listed openly (some homeservers list
/// them without a login), the endpoint on but behind a login (Synapse), or none.
fn transports_note(
    status: StatusCode,
    errcode: Option<String>,
    json: Option<serde_json::Value>,
) -> (String, Option<String>) {
    let answer = match errcode {
        Some(code) => format!("{} {code}", status.as_u16()),
        None => status.as_u16().to_string(),
    };
    match status {
        StatusCode::OK => {
            let listed = livekit_focus(json.as_ref().and_then(|j| j.get("transports")));
            let what = match &listed {
                Some(url) => format!("the homeserver's MSC4143 transports list {url}"),
                None => "the homeserver's MSC4143 transports list no livekit focus".into(),
            };
            (what, listed)
        }
        StatusCode::UNAUTHORIZED => (
            format!(
                "the homeserver's MSC4143 transports endpoint is on ({answer}: it lists them to logged-in clients only; standalone Element Call asks it first, embedded calls read the well-known)"
            ),
            None,
        ),
        _ => (
            format!("no MSC4143 transports on the homeserver ({answer})"),
            None,
        ),
    }
}

/// No focus: a failure when `--rtc` says calls are deployed, otherwise not a question.
fn missing_focus(context: &Context, url: &Url, transports: &str) -> CheckResult {
    let host = context.name.host.authority();
    if !context.expect_rtc {
        return CheckResult::skip(
            CheckId::RtcFocus,
            format!(
                "no calls: {url} names no {FOCI_KEY} ({transports}); pass --rtc if Element Call should work"
            ),
        );
    }
    CheckResult::fail(
        CheckId::RtcFocus,
        format!(
            "MISSING_MATRIX_RTC_FOCUS: {url} names no {FOCI_KEY} with a livekit focus ({transports}); a client that finds no focus cannot start calls"
        ),
        format!(
            "add to the server name's client well-known (https://{host}/.well-known/matrix/client, not the homeserver host's): \"{FOCI_KEY}\": [{{\"type\": \"livekit\", \"livekit_service_url\": \"https://rtc.{host}\"}}]\nor regenerate: {}",
            context.generate("--rtc")
        ),
    )
}

/// The preflight a browser sends before POSTing an OpenID token to the service: exactly one
/// `Access-Control-Allow-Origin`, on every client path.
async fn auth_cors(context: &Context, service_url: &Url, generate: &str) -> CheckResult {
    let id = CheckId::RtcAuthCors;
    let base = service_url.as_str().trim_end_matches('/');
    let mut seen = Vec::new();
    for path in AUTH_PATHS {
        let url = match Url::parse(&format!("{base}{path}")) {
            Ok(url) => url,
            Err(error) => return CheckResult::fail(id, format!("{base}{path}: {error}"), generate),
        };
        let reply = match preflight(context, &url).await {
            Ok(reply) => reply,
            Err(error) => {
                return CheckResult::fail(
                    id,
                    format!("OPTIONS {url}: {error}"),
                    fetch_fix(context, &error, path),
                );
            }
        };
        let origins = reply.header_values("access-control-allow-origin");
        let fix = || fixes::rtc_cors(generate.to_string()).for_proxy(proxy_in_front(&reply));
        if origins.len() > 1 {
            return CheckResult::fail(
                id,
                format!(
                    "OPTIONS {url} answers {} Access-Control-Allow-Origin headers ({}); browsers refuse the token request: the service sets its own, the proxy adds another",
                    origins.len(),
                    origins.join(" | ")
                ),
                fix(),
            );
        }
        if !reply.status.is_success() || origins.is_empty() {
            return CheckResult::fail(
                id,
                format!(
                    "OPTIONS {url} answers {} without Access-Control-Allow-Origin: the authorization service is not behind {path}",
                    reply.status
                ),
                fixes::rtc_routes(generate.to_string()).for_proxy(proxy_in_front(&reply)),
            );
        }
        seen.push(format!("{path}: {}", origins[0]));
    }
    CheckResult::pass(
        id,
        format!(
            "OPTIONS answered with one Access-Control-Allow-Origin each ({})",
            seen.join(", ")
        ),
    )
}

async fn preflight(context: &Context, url: &Url) -> Result<Reply, FetchError> {
    let endpoint = Endpoint::from_url(url)?;
    context
        .net
        .request(
            &endpoint,
            Method::OPTIONS,
            url.path(),
            &[
                ("origin", ORIGIN),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
            ],
        )
        .await
}

/// A WebSocket upgrade to LiveKit's `/rtc` on the focus's host, without a token: 101 or
/// LiveKit's 401 show the upgrade came through; LiveKit's empty 404 shows it did not.
async fn websocket(
    context: &Context,
    service_url: &Url,
    endpoint: &Endpoint,
    generate: &str,
) -> CheckResult {
    let id = CheckId::RtcWebsocket;
    if !service_url.path().trim_end_matches('/').is_empty() {
        // The Element Call guide's layout (/livekit/jwt, /livekit/sfu): LiveKit's URL is
        // lk-jwt-service's LIVEKIT_URL, handed out only with a token.
        return CheckResult::skip(
            id,
            format!(
                "not checked: the focus {service_url} has a path, so LiveKit's URL is only in the authorization service's answer to a logged-in client"
            ),
        );
    }
    let at = format!("wss://{}{LIVEKIT_PATH}", endpoint.host_header);
    let reply = match context
        .net
        .request(
            endpoint,
            Method::GET,
            LIVEKIT_PATH,
            &[
                ("connection", "Upgrade"),
                ("upgrade", "websocket"),
                ("sec-websocket-version", "13"),
                ("sec-websocket-key", WEBSOCKET_KEY),
                ("origin", ORIGIN),
            ],
        )
        .await
    {
        Ok(reply) => reply,
        Err(error) => {
            return CheckResult::fail(
                id,
                format!("{at}: {error}"),
                fetch_fix(context, &error, LIVEKIT_PATH),
            );
        }
    };
    match judge_upgrade(reply.status, reply.body.is_empty()) {
        Ok(seen) => CheckResult::pass(id, format!("{at}: {seen}")),
        Err(seen) => CheckResult::fail(
            id,
            format!("{at}: {seen}; calls cannot connect"),
            fixes::rtc_websocket(generate.to_string()).for_proxy(proxy_in_front(&reply)),
        ),
    }
}

/// What an answer to the token-less upgrade shows (see the module comment for LiveKit's
/// answers): `Ok` when the upgrade reached a WebSocket endpoint.
fn judge_upgrade(status: StatusCode, empty_body: bool) -> Result<String, String> {
    match status {
        StatusCode::SWITCHING_PROTOCOLS => Ok("101 Switching Protocols".into()),
        StatusCode::UNAUTHORIZED => Ok(
            "401 without an access token, LiveKit's refusal of an upgrade it received (a request without Upgrade gets its 404)".into(),
        ),
        StatusCode::NOT_FOUND if empty_body => Err(
            "an empty 404, LiveKit's answer to a request that arrives without its Upgrade header".into(),
        ),
        status => Err(format!("{status}, no upgrade")),
    }
}

/// `openid/userinfo` where lk-jwt-service looks for it: on the federation target of the
/// server name. Any Matrix error proves the homeserver answered; the proxy's own refusal
/// has no Matrix body.
async fn openid_userinfo(context: &Context, generate: &str) -> CheckResult {
    let id = CheckId::RtcOpenidUserinfo;
    let (_, target) = discover(context).await;
    let Some(target) = target else {
        return CheckResult::fail(
            id,
            "server discovery found no homeserver for the server name, and lk-jwt-service finds it the same way",
            format!(
                "publish https://{}/.well-known/matrix/server\nor regenerate: {generate}",
                context.name.host.authority()
            ),
        );
    };
    let at = format!("{}{USERINFO_PATH}", target.endpoint.host_header);
    let reply = match context
        .net
        .request(&target.endpoint, Method::GET, USERINFO_PATH, &[])
        .await
    {
        Ok(reply) => reply,
        Err(error) => {
            return CheckResult::fail(
                id,
                format!("{at}: {error}"),
                fetch_fix(context, &error, USERINFO_PATH),
            );
        }
    };
    match userinfo_verdict(reply.status, reply.errcode()) {
        Userinfo::Reached(seen) => CheckResult::pass(id, format!("{at}: {seen}")),
        Userinfo::NotServed(seen) => CheckResult::fail(
            id,
            format!("{at}: {seen}"),
            "Synapse: add `openid` (or `federation`) to the `resources` of the listener the proxy forwards to",
        ),
        Userinfo::Refused(seen) => CheckResult::fail(
            id,
            format!("{at}: {seen}"),
            fixes::rtc_openid(generate.to_string()).for_proxy(proxy_in_front(&reply)),
        ),
    }
}

/// Who answered the token-less userinfo lookup.
#[derive(Debug, PartialEq)]
enum Userinfo {
    /// The homeserver, refusing the missing token: the endpoint is there.
    Reached(String),
    /// The homeserver, without the endpoint on that listener.
    NotServed(String),
    /// The proxy itself, or something else that is no homeserver's answer.
    Refused(String),
}

fn userinfo_verdict(status: StatusCode, errcode: Option<String>) -> Userinfo {
    const JOINS_FAIL: &str = "lk-jwt-service cannot check OpenID tokens, every call join fails";
    match (status, errcode) {
        (StatusCode::UNAUTHORIZED, Some(code)) => Userinfo::Reached(format!(
            "401 {code} without a token, the homeserver's answer"
        )),
        (status, Some(code)) if code == "M_UNRECOGNIZED" => Userinfo::NotServed(format!(
            "{} {code}: the homeserver does not serve OpenID userinfo on the listener behind the proxy; {JOINS_FAIL}",
            status.as_u16()
        )),
        (status, Some(code)) => Userinfo::Refused(format!("{status} {code}; {JOINS_FAIL}")),
        (status, None) => Userinfo::Refused(format!(
            "{status} without a Matrix error body: the proxy refuses it; {JOINS_FAIL}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_livekit_focus_counts_as_written() {
        let list = serde_json::json!([
            {"type": "nextgen_new_foci_type", "props": {}},
            {"type": "livekit", "livekit_service_url": "https://rtc.example.com"},
            {"type": "livekit", "livekit_service_url": "https://second.example.com"},
        ]);
        assert_eq!(
            livekit_focus(Some(&list)).as_deref(),
            Some("https://rtc.example.com")
        );
        let no_url = serde_json::json!([{"type": "livekit"}]);
        assert_eq!(livekit_focus(Some(&no_url)), None);
        assert_eq!(livekit_focus(Some(&serde_json::json!({}))), None);
        assert_eq!(livekit_focus(None), None);
    }

    #[test]
    fn transports_behind_a_login_are_reported_not_read() {
        let (note, listed) = transports_note(
            StatusCode::UNAUTHORIZED,
            Some("M_MISSING_TOKEN".into()),
            None,
        );
        assert!(
            note.contains("endpoint is on (401 M_MISSING_TOKEN"),
            "{note}"
        );
        assert_eq!(listed, None);
        let body = serde_json::json!({"transports": [
            {"type": "livekit", "livekit_service_url": "https://rtc.example.com"}
        ]});
        let (_, listed) = transports_note(StatusCode::OK, None, Some(body));
        assert_eq!(listed.as_deref(), Some("https://rtc.example.com"));
        let (note, _) = transports_note(StatusCode::NOT_FOUND, Some("M_UNRECOGNIZED".into()), None);
        assert_eq!(
            note,
            "no MSC4143 transports on the homeserver (404 M_UNRECOGNIZED)"
        );
        let (note, _) = transports_note(StatusCode::NOT_FOUND, None, None);
        assert_eq!(note, "no MSC4143 transports on the homeserver (404)");
    }

    /// LiveKit without a token: 401 for an upgrade, an empty 404 for a plain request.
    #[test]
    fn an_upgrade_counts_when_livekit_or_a_websocket_saw_it() {
        assert!(judge_upgrade(StatusCode::SWITCHING_PROTOCOLS, true).is_ok());
        assert!(judge_upgrade(StatusCode::UNAUTHORIZED, false).is_ok());
        let lost = judge_upgrade(StatusCode::NOT_FOUND, true).unwrap_err();
        assert!(lost.contains("without its Upgrade header"), "{lost}");
        let proxy = judge_upgrade(StatusCode::NOT_FOUND, false).unwrap_err();
        assert_eq!(proxy, "404 Not Found, no upgrade");
        assert!(judge_upgrade(StatusCode::BAD_GATEWAY, false).is_err());
    }

    /// Synapse's answers (federation.py `OpenIdUserInfo`) pass; a body without errcode is
    /// the proxy's own refusal.
    #[test]
    fn userinfo_counts_only_the_homeservers_answer() {
        for code in ["M_MISSING_TOKEN", "M_UNKNOWN_TOKEN"] {
            assert!(matches!(
                userinfo_verdict(StatusCode::UNAUTHORIZED, Some(code.into())),
                Userinfo::Reached(_)
            ));
        }
        assert!(matches!(
            userinfo_verdict(StatusCode::NOT_FOUND, Some("M_UNRECOGNIZED".into())),
            Userinfo::NotServed(_)
        ));
        for status in [
            StatusCode::NOT_FOUND,
            StatusCode::FORBIDDEN,
            StatusCode::UNAUTHORIZED,
        ] {
            assert!(matches!(
                userinfo_verdict(status, None),
                Userinfo::Refused(_)
            ));
        }
        assert!(matches!(
            userinfo_verdict(StatusCode::FORBIDDEN, Some("M_FORBIDDEN".into())),
            Userinfo::Refused(_)
        ));
    }
}
