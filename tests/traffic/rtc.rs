//! `--rtc` on the wire: the RTC host's authorization service paths reach its stand-in
//! byte-identical with exactly one Access-Control-Allow-Origin, everything else reaches
//! the LiveKit stand-in as a working WebSocket, the server name's client well-known names
//! the focus the routing serves, and openid/userinfo stays open with `--no-federation`.
//! LiveKit and lk-jwt-service are in no package registry here: stand-ins (tests/common/
//! livekit.rs, `Answers::AuthService`) take their place.
//!
//! The WebSocket idle for longer than LiveKit's 120 s runs for all five proxies at once
//! (`idle`), so it costs its 130 s once, not five times.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::client::{Body, H2WebSocket, Request};
use super::stack::Stack;
use crate::common::proxy::{Federation, Options, Proxy, RtcOptions};
use crate::common::{in_ci, require_tool};

/// `--rtc` with Synapse: Traefik forwards the well-known to the homeserver, and mxproxy
/// writes the focus into Synapse's settings only (the stand-in serves the generated
/// documents there, as Synapse would with them).
fn rtc_options(federation: Federation) -> Options {
    Options {
        homeserver: Some("synapse"),
        federation,
        rtc: Some(RtcOptions::default()),
        ..Options::default()
    }
}

/// A request to the RTC host.
fn to_rtc(stack: &Stack, target: &str) -> Request {
    let host = stack.options.rtc_host().expect("an --rtc stack");
    Request::get(stack.site_address(), &host, target)
}

/// The authorization service's three paths, each with POST, a body and the preflight,
/// arrive byte-identical at its stand-in, and the answers carry its one
/// Access-Control-Allow-Origin, not a second one from the proxy; nothing reaches LiveKit.
pub async fn rtc_auth_service_paths(server: Proxy) {
    let stack = Stack::start(server, rtc_options(Federation::OnHttps)).await;
    let auth = stack.rtc_auth.as_ref().unwrap();
    for path in ["/sfu/get", "/get_token", "/delegate_delayed_leave"] {
        let body = br#"{"room_id":"!a:example.com","openid_token":{"access_token":"x"}}"#;
        for request in [
            to_rtc(&stack, path)
                .method("POST")
                .header("Content-Type", "application/json")
                .body(Body::Bytes(body.to_vec())),
            to_rtc(&stack, path)
                .method("OPTIONS")
                .header("Origin", "https://app.element.io")
                .header("Access-Control-Request-Method", "POST"),
        ] {
            let before = auth.requests().len();
            let response = stack
                .client
                .send(&request)
                .await
                .unwrap_or_else(|e| panic!("{server:?} {} {path}: {e}", request.method));
            assert_eq!(response.status, 200, "{server:?} {} {path}", request.method);
            assert_eq!(
                response.header("Access-Control-Allow-Origin"),
                ["*"],
                "{server:?} {} {path}: exactly the service's one origin header",
                request.method
            );
            let reached = auth.requests();
            assert_eq!(
                reached.len(),
                before + 1,
                "{server:?} {path} did not reach the service"
            );
            let last = &reached[before];
            assert_eq!(last.target, path.as_bytes(), "{server:?}: the path as sent");
            assert_eq!(last.method, request.method);
            if request.method == "POST" {
                assert_eq!(
                    last.body_len,
                    body.len() as u64,
                    "{server:?} {path}: the body"
                );
            }
        }
    }
    assert!(
        stack.livekit.as_ref().unwrap().upgrades().is_empty(),
        "{server:?}: an auth service path reached LiveKit"
    );
}

/// Everything else on the RTC host is LiveKit's: LiveKit's signalling path `/rtc` (query
/// and all) upgrades to a WebSocket through the proxy over HTTP/1.1, and text and binary
/// messages go both ways; a near miss of an auth path (`/get_token/x`) is LiveKit's too.
pub async fn rtc_livekit_websocket(server: Proxy) {
    let stack = Stack::start(server, rtc_options(Federation::OnHttps)).await;
    let livekit = stack.livekit.as_ref().unwrap();
    for target in ["/rtc?access_token=abc.def&auto_subscribe=1", "/get_token/x"] {
        let (mut socket, response) = stack
            .client
            .websocket(&to_rtc(&stack, target))
            .await
            .unwrap_or_else(|e| panic!("{server:?} {target}: {e}\n{}", stack.logs()));
        assert_eq!(response.status(), 101, "{server:?} {target}");
        for message in [
            Message::text("{\"join\":{}}"),
            Message::binary(vec![0u8, 1, 2, 255, 254]),
        ] {
            socket.send(message.clone()).await.unwrap();
            let echoed = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
                .await
                .unwrap_or_else(|_| panic!("{server:?}: no echo through the proxy"));
            assert_eq!(echoed.unwrap().unwrap(), message, "{server:?} {target}");
        }
        socket.close(None).await.unwrap();
        let upgrade = livekit.upgrades().last().cloned().expect("reached LiveKit");
        assert_eq!(upgrade.target, target, "{server:?}: the target as sent");
        assert_eq!(
            upgrade.header("host"),
            [stack.options.rtc_host().unwrap()],
            "{server:?}: Host"
        );
    }
    assert!(
        stack.rtc_auth.as_ref().unwrap().requests().is_empty(),
        "{server:?}: LiveKit's traffic reached the auth service"
    );
}

/// Which proxies take a WebSocket over HTTP/2 (RFC 8441 extended CONNECT) and pass it on
/// to LiveKit as an HTTP/1.1 upgrade, as measured here: Apache with `H2WebSockets on`
/// (mod_http2, 2.4.58+; the generated RTC host sets it) and HAProxy (since 2.4, announced
/// unless `h2-workaround-bogus-websocket-clients` is set). nginx 1.22, Caddy 2.6 and
/// Traefik 3.7 do not announce it, and a client opens the socket over HTTP/1.1 instead
/// (RFC 8441 §3).
fn offers_websocket_over_h2(server: Proxy) -> bool {
    matches!(server, Proxy::Apache | Proxy::Haproxy)
}

/// LiveKit's WebSocket over HTTP/2 where the proxy offers it: the extended CONNECT
/// reaches the stand-in as an HTTP/1.1 upgrade with the target and Host as sent, and
/// messages go both ways. Where it is not offered, the proxy still speaks h2 on the RTC
/// host but without SETTINGS_ENABLE_CONNECT_PROTOCOL, and the HTTP/1.1 upgrade a client
/// falls back to works.
pub async fn rtc_livekit_websocket_h2(server: Proxy) {
    let stack = Stack::start(server, rtc_options(Federation::OnHttps)).await;
    let livekit = stack.livekit.as_ref().unwrap();
    let target = "/rtc?access_token=h2&auto_subscribe=1";
    let outcome = stack
        .client
        .websocket_h2(&to_rtc(&stack, target))
        .await
        .unwrap_or_else(|e| panic!("{server:?}: {e}\n{}", stack.logs()));
    let mut socket = match outcome {
        H2WebSocket::Open(socket) => {
            let socket = *socket;
            assert!(
                offers_websocket_over_h2(server),
                "{server:?} now takes WebSockets over HTTP/2: update offers_websocket_over_h2 and README"
            );
            socket
        }
        H2WebSocket::NotOffered => {
            assert!(
                !offers_websocket_over_h2(server),
                "{server:?}: no SETTINGS_ENABLE_CONNECT_PROTOCOL\n{}",
                stack.logs()
            );
            let (socket, response) = stack
                .client
                .websocket(&to_rtc(&stack, target))
                .await
                .unwrap_or_else(|e| panic!("{server:?} HTTP/1.1 fallback: {e}"));
            assert_eq!(response.status(), 101, "{server:?}");
            let mut socket = socket;
            for message in [Message::text("h1"), Message::binary(vec![7u8, 0])] {
                echo_once(&mut socket, message)
                    .await
                    .unwrap_or_else(|e| panic!("{server:?} HTTP/1.1 fallback: {e}"));
            }
            assert_eq!(livekit.upgrades().len(), 1, "{server:?}");
            return;
        }
        H2WebSocket::NoH2 => panic!("{server:?}: no HTTP/2 on the RTC host"),
        H2WebSocket::Refused(status) => panic!(
            "{server:?} announces extended CONNECT but answered {status}\n{}",
            stack.logs()
        ),
    };
    for message in [
        Message::text("{\"join\":{}}"),
        Message::binary(vec![0u8, 1, 2, 255, 254]),
    ] {
        socket.send(message.clone()).await.unwrap();
        let echoed = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap_or_else(|_| panic!("{server:?}: no echo over HTTP/2\n{}", stack.logs()));
        assert_eq!(echoed.unwrap().unwrap(), message, "{server:?}");
    }
    socket.close(None).await.unwrap();
    let upgrades = livekit.upgrades();
    assert_eq!(upgrades.len(), 1, "{server:?}");
    assert_eq!(upgrades[0].target, target, "{server:?}: the target as sent");
    assert_eq!(
        upgrades[0].header("host"),
        [stack.options.rtc_host().unwrap()],
        "{server:?}: Host"
    );
    assert_eq!(upgrades[0].header("upgrade"), ["websocket"], "{server:?}");
}

/// The server name's client well-known names the focus at the RTC host, which the same
/// proxy routes: one Content-Type, application/json, with CORS.
pub async fn rtc_focus_in_the_client_well_known(server: Proxy) {
    let stack = Stack::start(server, rtc_options(Federation::OnHttps)).await;
    let server_name = stack.options.server_name.clone();
    let response = stack
        .client
        .send(&Request::get(
            stack.site_address(),
            &server_name,
            "/.well-known/matrix/client",
        ))
        .await
        .unwrap();
    assert_eq!(response.status, 200, "{server:?}");
    assert_eq!(
        response.header("Content-Type"),
        ["application/json"],
        "{server:?}"
    );
    assert_eq!(
        response.header("Access-Control-Allow-Origin"),
        ["*"],
        "{server:?}"
    );
    let document: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    let foci = document["org.matrix.msc4143.rtc_foci"]
        .as_array()
        .unwrap_or_else(|| panic!("{server:?}: no rtc_foci in {document}"));
    assert_eq!(foci.len(), 1);
    assert_eq!(foci[0]["type"], "livekit");
    let url = foci[0]["livekit_service_url"].as_str().unwrap();
    let host = stack.options.rtc_host().unwrap();
    assert_eq!(url, format!("https://{host}"), "{server:?}");
    // What a client does with it: POST /get_token below that URL reaches the service.
    let get_token = to_rtc(&stack, "/get_token").method("POST");
    let answer = stack.client.send(&get_token).await.unwrap();
    assert_eq!(answer.status, 200, "{server:?}: {url}/get_token");
    assert_eq!(stack.rtc_auth.as_ref().unwrap().requests().len(), 1);
}

/// `tests/js`, where `npm ci` installed matrix-js-sdk as package-lock.json pins it; `None`
/// with one loud line when it is not installed, a failure in CI.
fn client_library() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    if dir
        .join("node_modules/matrix-js-sdk/package.json")
        .is_file()
    {
        return Some(dir);
    }
    assert!(
        !in_ci(),
        "matrix-js-sdk is not installed and CI=true forbids skipping: .ci/run runs `npm ci --prefix tests/js`"
    );
    eprintln!("SKIPPED: matrix-js-sdk is not installed; run `npm ci --prefix tests/js`");
    None
}

/// What matrix-js-sdk's discovery finds for the server name through the stack's proxy
/// (tests/js/discover.mjs), with Node trusting the test CA.
fn discover_with_matrix_js_sdk(stack: &Stack, library: &Path) -> serde_json::Value {
    let node = require_tool("node").expect("node is installed where matrix-js-sdk is");
    let output = tokio::task::block_in_place(|| {
        Command::new(node)
            .arg(library.join("discover.mjs"))
            .arg(&stack.options.server_name)
            .env("MXPROXY_ADDRESS", stack.site_address().to_string())
            .env("NODE_EXTRA_CA_CERTS", &stack.ca_file)
            .current_dir(library)
            .output()
            .expect("node runs")
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{:?}: discover.mjs failed: {stdout}\n{stderr}\n{}",
        stack.server,
        stack.logs()
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{:?}: discover.mjs printed {stdout}: {e}", stack.server))
}

/// The generated well-known as a real client library reads it: matrix-js-sdk's
/// `AutoDiscovery` finds the homeserver (its /versions answered through the proxy) and,
/// the way Element Call looks, one LiveKit focus at the RTC host, whose `/get_token` then
/// answers through the same proxy. Without `--rtc`, the same discovery finds the homeserver
/// and no focus: the `MISSING_MATRIX_RTC_FOCUS` case, told apart.
pub async fn rtc_focus_found_by_matrix_js_sdk(server: Proxy) {
    let Some(library) = client_library() else {
        return;
    };
    let stack = Stack::start(server, rtc_options(Federation::OnHttps)).await;
    let found = discover_with_matrix_js_sdk(&stack, &library);
    let base_url = format!("https://{}", stack.homeserver_host);
    assert_eq!(
        found["homeserver"]["state"], "SUCCESS",
        "{server:?}: {found}"
    );
    assert_eq!(found["homeserver"]["base_url"], base_url, "{server:?}");
    let focus = serde_json::json!({
        "type": "livekit",
        "livekit_service_url": format!("https://{}", stack.options.rtc_host().unwrap()),
    });
    assert_eq!(found["focus"], focus, "{server:?}: {found}");
    assert_eq!(
        found["discovered_foci"],
        serde_json::json!([focus]),
        "{server:?}"
    );
    assert_eq!(
        found["get_token"],
        serde_json::json!({"status": 200, "origin": "*"}),
        "{server:?}"
    );
    let reached = stack.rtc_auth.as_ref().unwrap().requests();
    assert_eq!(reached.len(), 1, "{server:?}: {reached:?}");
    assert_eq!(reached[0].target, b"/get_token", "{server:?}");
    assert_eq!(
        stack.upstream.with_target("/_matrix/client/versions").len(),
        1,
        "{server:?}: the SDK checked the homeserver through the proxy"
    );
    drop(stack);

    let without = Stack::start(
        server,
        Options {
            homeserver: Some("synapse"),
            listen: IpAddr::from([127, 0, 0, 2]),
            ..Options::default()
        },
    )
    .await;
    let found = discover_with_matrix_js_sdk(&without, &library);
    assert_eq!(
        found["homeserver"]["state"], "SUCCESS",
        "{server:?}: {found}"
    );
    assert_eq!(found["homeserver"]["base_url"], base_url, "{server:?}");
    assert_eq!(
        found["discovered_foci"],
        serde_json::Value::Null,
        "{server:?}"
    );
    assert_eq!(found["focus"], serde_json::Value::Null, "{server:?}");
    assert_eq!(found["get_token"], serde_json::Value::Null, "{server:?}");
}

/// With `--no-federation`, the one federation path the authorization service needs
/// reaches the homeserver (query included), its neighbours stay refused, and the server
/// well-known leads there.
pub async fn rtc_openid_userinfo_without_federation(server: Proxy) {
    let stack = Stack::start(server, rtc_options(Federation::Off)).await;
    let host = stack.homeserver_host.clone();
    let target = "/_matrix/federation/v1/openid/userinfo?access_token=tok";
    let response = stack
        .client
        .send(&Request::get(stack.site_address(), &host, target))
        .await
        .unwrap();
    assert_eq!(response.status, 200, "{server:?} {target}");
    let reached = stack.upstream.with_target("openid/userinfo");
    assert_eq!(reached.len(), 1, "{server:?}");
    assert_eq!(reached[0].target, target.as_bytes(), "{server:?}: as sent");
    for refused in [
        "/_matrix/federation/v1/openid/userinfo/x",
        "/_matrix/federation/v1/openid/userinfox",
        "/_matrix/federation/v1/version",
    ] {
        let response = stack
            .client
            .send(&Request::get(stack.site_address(), &host, refused))
            .await
            .unwrap();
        assert!(
            matches!(response.status, 403 | 404),
            "{server:?} {refused}: {}",
            response.status
        );
    }
    assert_eq!(stack.upstream.with_target("openid/userinfo").len(), 1);
    let server_document = stack.document("server");
    assert_eq!(
        server_document["m.server"],
        format!("{host}:443"),
        "{server:?}: the authorization service finds the homeserver by it"
    );
}

mod idle {
    use crate::common::netns::netns_test;

    netns_test! {
        fn rtc_websocket_idle_for_130_seconds_on_all_five() {
            crate::traffic::block_on(super::super::rules::on_all_at_once(
                super::rtc_websocket_idle_one,
            ))
        }
    }
}

/// How long the LiveKit WebSocket stays silent: longer than the 120 s without traffic
/// that Element Call's guide and ESS give LiveKit's signalling connection
/// (element-call docs/self-hosting.md `proxy_read_timeout 120`; ess-helm
/// templates/matrix-rtc/ingress.yaml `proxy-read-timeout: 120`), with a margin.
const LIVEKIT_IDLE: Duration = Duration::from_secs(130);

/// One message each way, echoed by the LiveKit stand-in, within 10 s.
async fn echo_once(socket: &mut super::client::WebSocket, message: Message) -> Result<(), String> {
    socket
        .send(message.clone())
        .await
        .map_err(|e| format!("sending {message:?}: {e}"))?;
    match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
        Ok(Some(Ok(echoed))) if echoed == message => Ok(()),
        Ok(other) => Err(format!("sent {message:?}, got {other:?}")),
        Err(_) => Err(format!("sent {message:?}, no echo within 10 s")),
    }
}

/// LiveKit's signalling WebSocket through the proxy stays open while silent: for
/// `LIVEKIT_IDLE` with the default read timeout, and for `FLOOR_IDLE` with the shortest
/// `--read-timeout` (60 s), which the RTC host must not take below the 120 s (plan::rtc).
/// Both stacks at once, the second on the next loopback address.
async fn rtc_websocket_idle_one(server: Proxy, listen: [u8; 4]) -> Result<(), String> {
    let [a, b, c, _] = listen;
    let (default, floor) = tokio::join!(
        idle_socket(server, IpAddr::from(listen), None, LIVEKIT_IDLE),
        idle_socket(server, IpAddr::from([a, b, c, 2]), Some("60s"), FLOOR_IDLE),
    );
    default?;
    floor.map_err(|e| format!("with --read-timeout 60s: {e}"))
}

/// Silent for longer than the shortest `--read-timeout` (60 s) allows elsewhere, within
/// the 120 s floor the RTC host keeps.
const FLOOR_IDLE: Duration = Duration::from_secs(115);

/// One WebSocket to LiveKit, silent for `idle` (no data, no ping from either side), then
/// still carrying messages both ways on the same connection.
async fn idle_socket(
    server: Proxy,
    listen: IpAddr,
    read_timeout: Option<&'static str>,
    idle: Duration,
) -> Result<(), String> {
    let stack = Stack::start(
        server,
        Options {
            listen,
            read_timeout,
            ..rtc_options(Federation::OnHttps)
        },
    )
    .await;
    let fail = |what: String| format!("{server:?}: {what}\n{}", stack.logs());
    let (mut socket, _) = stack
        .client
        .websocket(&to_rtc(&stack, "/rtc?access_token=idle"))
        .await
        .map_err(&fail)?;
    echo_once(&mut socket, Message::text("before"))
        .await
        .map_err(&fail)?;
    let started = std::time::Instant::now();
    tokio::time::sleep(idle).await;
    echo_once(&mut socket, Message::text("after the silence"))
        .await
        .map_err(|e| fail(format!("after {:?} idle: {e}", started.elapsed())))?;
    echo_once(&mut socket, Message::binary(vec![0u8, 255]))
        .await
        .map_err(&fail)?;
    socket.close(None).await.map_err(|e| fail(e.to_string()))?;
    let upgrades = stack.livekit.as_ref().unwrap().upgrades().len();
    if upgrades != 1 {
        return Err(fail(format!(
            "{upgrades} handshakes reached LiveKit: the socket was not the same one throughout"
        )));
    }
    Ok(())
}
