//! What real traffic through each generated config must show, one test per rule and server:
//! `traffic::rules::<rule>::<server>`.

use std::net::IpAddr;
use std::time::Duration;

use super::client::{Body, Request, Response};
use super::stack::Stack;
pub use super::web::{
    base_redirect_spares_the_well_known, element_web_behind_its_image,
    element_web_config_matches_the_well_known, element_web_on_its_own_host,
    element_web_refuses_foreign_frames,
};
use crate::common::homeserver::{Answers, Homeserver, sync_body};
use crate::common::proxy::{Federation, MasOptions, Options, Proxy};

/// `mod <rule> { #[test] fn nginx/apache/caddy/haproxy/traefik }`, each calling `<rule>(Proxy::…)` inside
/// a network namespace of its own.
macro_rules! per_server {
    ($rule:ident: $($server:ident => $variant:ident),+) => {
        mod $rule {
            use crate::common::netns::netns_test;
            $(
                netns_test! {
                    fn $server() {
                        let server = crate::common::proxy::Proxy::$variant;
                        if server.installed() {
                            crate::traffic::block_on(super::$rule(server))
                        }
                    }
                }
            )+
        }
    };
    ($rule:ident) => {
        per_server!(
            $rule: nginx => Nginx, apache => Apache, caddy => Caddy, haproxy => Haproxy,
            traefik => Traefik
        );
    };
}

// The rules in the sibling modules (front.rs) use it too.
pub(crate) use per_server;

per_server!(well_known_documents);
per_server!(raw_targets_reach_the_upstream);
per_server!(dot_segments_never_leave_the_forwarded_prefixes);
per_server!(forwarded_headers_cannot_be_spoofed);
per_server!(body_limit);
per_server!(plain_http_redirects_to_https);
// Caddy and Traefik answer ACME challenges themselves; only nginx and Apache need the webroot.
per_server!(acme_challenge_served_from_webroot: nginx => Nginx, apache => Apache);
// HAProxy serves no files: certbot's standalone server answers behind it.
per_server!(acme_challenge_reaches_certbot_standalone: haproxy => Haproxy);
// HAProxy measures a body by its Content-Length only.
per_server!(chunked_body_over_the_limit_reaches_the_homeserver: haproxy => Haproxy);
per_server!(unknown_host_never_reaches_the_homeserver);
per_server!(tls_versions_and_http2);
per_server!(federation_listener);
per_server!(no_federation_blocks_federation_paths);
per_server!(closed_admin_api_is_unreachable);
per_server!(same_host_serves_documents_and_api);
per_server!(behind_a_tls_terminator);
// Only Traefik routes well-known to the homeserver, so only it needs federation on the
// server name for Synapse, whose own server document names `<server_name>:443`.
per_server!(synapse_federation_on_the_server_name: traefik => Traefik);
per_server!(mas_on_its_own_host);
per_server!(mas_below_a_path);
per_server!(mas_admin_api_with_expose_admin);
// --rtc (super::rtc). Traefik refuses --rtc --no-federation: the server well-known that
// leads to openid/userinfo would come from Synapse, which serves none without federation.
use super::rtc::{
    rtc_auth_service_paths, rtc_focus_found_by_matrix_js_sdk, rtc_focus_in_the_client_well_known,
    rtc_livekit_websocket, rtc_livekit_websocket_h2, rtc_openid_userinfo_without_federation,
};
per_server!(rtc_auth_service_paths);
per_server!(rtc_livekit_websocket);
per_server!(rtc_livekit_websocket_h2);
per_server!(rtc_focus_in_the_client_well_known);
per_server!(rtc_focus_found_by_matrix_js_sdk);
per_server!(rtc_openid_userinfo_without_federation: nginx => Nginx, apache => Apache, caddy => Caddy, haproxy => Haproxy);
// Element Web needs a proxy that serves files: HAProxy and Traefik are refused (tests/cli.rs).
per_server!(element_web_on_its_own_host: nginx => Nginx, apache => Apache, caddy => Caddy);
per_server!(element_web_config_matches_the_well_known: nginx => Nginx, apache => Apache, caddy => Caddy);
per_server!(base_redirect_spares_the_well_known);
// Through Element's own server (its image), every proxy can.
per_server!(element_web_behind_its_image);
// Headless Chromium: a page on another origin cannot frame the client.
per_server!(element_web_refuses_foreign_frames);

async fn send(stack: &Stack, request: &Request) -> Response {
    stack
        .client
        .send(request)
        .await
        .unwrap_or_else(|e| panic!("{:?}: {e}", stack.server))
}

fn address(stack: &Stack) -> IpAddr {
    stack.site_address()
}

/// What reached the homeserver, but for the well-known documents where the proxy routes
/// them there (Traefik: the homeserver serves them; see `Stack::start`).
fn beyond_documents(stack: &Stack) -> Vec<crate::common::homeserver::Recorded> {
    stack
        .upstream
        .requests()
        .into_iter()
        .filter(|r| {
            stack.server.serves_documents() || !r.target.starts_with(b"/.well-known/matrix/")
        })
        .collect()
}

/// The media type of the one `Content-Type` header, or a panic naming all of them.
fn single_content_type(response: &Response, what: &str) -> String {
    let types = response.header("content-type");
    assert_eq!(types.len(), 1, "{what}: Content-Type headers {types:?}");
    types[0].split(';').next().unwrap().trim().to_string()
}

pub async fn well_known_documents(server: Proxy) {
    let stack = Stack::start(server, Options::default()).await;
    let host = stack.options.server_name.clone();
    for name in ["server", "client"] {
        let target = format!("/.well-known/matrix/{name}");
        let what = format!("{server:?} GET https://{host}{target}");
        let response = send(&stack, &Request::get(address(&stack), &host, &target)).await;
        assert_eq!(response.status, 200, "{what}: {response:?}");
        let body: serde_json::Value = serde_json::from_slice(&response.body)
            .unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {response:?}"));
        assert_eq!(
            body,
            stack.document(name),
            "{what}: not the generated document"
        );
        assert_eq!(single_content_type(&response, &what), "application/json");
        assert_eq!(
            response.header("access-control-allow-origin"),
            ["*"],
            "{what}: {response:?}"
        );

        // A browser's preflight before reading the document with an Authorization header.
        let preflight = send(
            &stack,
            &Request::get(address(&stack), &host, &target)
                .method("OPTIONS")
                .header("Origin", "https://app.element.io")
                .header("Access-Control-Request-Method", "GET")
                .header("Access-Control-Request-Headers", "authorization"),
        )
        .await;
        let what = format!("{server:?} OPTIONS https://{host}{target}");
        assert!(
            matches!(preflight.status, 200 | 204),
            "{what}: {preflight:?}"
        );
        assert_eq!(
            preflight.header("access-control-allow-origin"),
            ["*"],
            "{what}: {preflight:?}"
        );
        let methods = preflight.header("access-control-allow-methods").join(",");
        assert!(methods.contains("GET"), "{what}: {preflight:?}");
        let headers = preflight
            .header("access-control-allow-headers")
            .join(",")
            .to_ascii_lowercase();
        assert!(headers.contains("authorization"), "{what}: {preflight:?}");
    }
    // The preflights are the proxy's to answer; the documents come from the proxy, or
    // (Traefik) from the homeserver with exactly one GET each.
    let arrived: Vec<(String, String)> = stack
        .upstream
        .requests()
        .iter()
        .map(|r| (r.method.clone(), r.target_lossy()))
        .collect();
    let expected: Vec<(String, String)> = if server.serves_documents() {
        Vec::new()
    } else {
        ["server", "client"]
            .map(|name| ("GET".to_string(), format!("/.well-known/matrix/{name}")))
            .to_vec()
    };
    assert_eq!(arrived, expected, "{server:?}: what reached the homeserver");
}

/// Request targets that a proxy must pass on byte for byte: federation requests are
/// signed over them, and ids may contain any of these characters.
pub fn nasty_targets() -> Vec<String> {
    let mut targets: Vec<String> = [
        "/_matrix/client/v3/rooms/%21abc%3Aexample.com/state",
        "/_matrix/client/v3/rooms/!abc:example.com/state",
        "/_matrix/client/v3/directory/room/%23alias%3Aexample.com",
        "/_matrix/client/v3/rooms/!r:example.com/event/$3v3nt_ID-abc+def",
        "/_matrix/client/v3/rooms/!r:example.com/event/%24ev%2Fent%2Bplus",
        "/_matrix/federation/v1/send/txn%2F1",
        "/_matrix/media/v3/download/example.com/a%252Fb",
        "/_matrix/client/v3/user/%40alice%3Aexample.com/account_data/m.tag%3Fx",
        "/_matrix/client/v3/directory/room/%23hash%23/state/%25percent",
        "/_matrix/client/v3/profile/a+b%2Bc",
        "/_matrix/client/v3//double//slashes",
        "/_matrix/client/v3/./dot/./segment",
        "/_matrix/client/v3/rooms/%2F..%2Fadmin/state",
        "/_matrix/client/v3/rooms/..%2F..%2Fetc/state",
        "/_matrix/client/v3/rooms/%2e%2e%2fup/state",
        "/_matrix/client/v3/profile/%E2%98%83%F0%9F%98%80",
        "/_matrix/client/v3/profile/%e2%98%83",
        "/_matrix/client/v3/profile/%C3%A9%c3%a9",
        "/_matrix/client/versions/",
        "/_matrix/client/v3/publicRooms?",
        "/_matrix/client/v3/publicRooms?since=a&since=b&since=",
        "/_matrix/client/v3/search?q=a+b%20c%26d%3De&next_batch=%2F",
        "/_matrix/client/v3/rooms/!r:example.com/messages?dir=b&filter=%7B%22lazy_load_members%22%3Atrue%7D",
        "/_matrix/key/v2/query/example.com?x=%23frag&y=%3F",
        "/_matrix/client/v3/rooms/%21r%3Aex.com/send/m.room.message/txn%3F1?ts=1",
        "/_matrix/client/v3/pushrules/global/override/.m.rule.master",
        "/_matrix/client/v3/rooms/~tilde/%7Etilde",
        "/_matrix/client/v3/rooms/semi;colon/%3Bsemi",
        "/_matrix/client/v3/rooms/%21r%3Aexample.com/state/m.room.member/%40a%3Ab.c/",
    ]
    .map(String::from)
    .to_vec();
    // A 4 kB path of encoded slashes and percents.
    targets.push(format!(
        "/_matrix/media/v3/download/example.com/{}",
        "a%2Fb%25".repeat(500)
    ));
    targets
}

/// Sends every nasty target to `host` on `port` and returns the mismatches, each as a
/// line naming what was sent and what arrived.
async fn send_nasty_targets(stack: &Stack, host: &str, port: u16) -> Vec<String> {
    let mut failures = Vec::new();
    for target in nasty_targets() {
        let expected = if stack.server.normalises_percent_encoding() {
            percent_normal_form(&target)
        } else {
            target.clone()
        };
        let before = stack.upstream.requests().len();
        let request = Request::get(address(stack), host, &target).port(port);
        let response = match stack.client.send(&request).await {
            Ok(response) => response,
            Err(e) => {
                failures.push(format!("{target}\n    no answer: {e}"));
                continue;
            }
        };
        let arrived = stack.upstream.requests();
        match arrived.get(before..) {
            Some([one]) if one.target == expected.as_bytes() && response.status == 200 => {}
            Some([one]) => failures.push(format!(
                "{target}\n    arrived as {} (client got {})",
                one.target_lossy(),
                response.status
            )),
            _ => failures.push(format!(
                "{target}\n    {} requests arrived; client got {} {:?}",
                arrived.len() - before,
                response.status,
                String::from_utf8_lossy(&response.body)
            )),
        }
    }
    failures
}

/// RFC 3986's normal form of a target's path (§6.2.2.1: `%xx` in upper case; §2.3:
/// unreserved characters not encoded), the query as it was: what Traefik forwards for
/// `target`, and exactly that (see `Proxy::normalises_percent_encoding`). Every other
/// byte, `//`, `.` segments and encoded reserved characters included, must be kept.
fn percent_normal_form(target: &str) -> String {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let bytes = path.as_bytes();
    let mut normal = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let escape = (bytes[i] == b'%')
            .then(|| path.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) => {
                normal.push(char::from(byte));
                i += 3;
            }
            Some(byte) => {
                normal.push_str(&format!("%{byte:02X}"));
                i += 3;
            }
            None => {
                normal.push(char::from(bytes[i]));
                i += 1;
            }
        }
    }
    match query {
        Some(query) => format!("{normal}?{query}"),
        None => normal,
    }
}

pub async fn raw_targets_reach_the_upstream(server: Proxy) {
    let stack = Stack::start(server, Options::default()).await;
    let host = stack.homeserver_host.clone();
    let failures = send_nasty_targets(&stack, &host, 443).await;
    assert!(
        failures.is_empty(),
        "{server:?} changed {} of {} request targets:\n{}",
        failures.len(),
        nasty_targets().len(),
        failures.join("\n")
    );
}

/// Targets whose dot segments, once removed (RFC 3986 §5.2.4), leave the forwarded
/// prefixes for the admin API or the root: with the host each is sent to.
fn escaping_targets(stack: &Stack) -> Vec<(String, &'static str)> {
    let (api, documents) = (&stack.homeserver_host, &stack.options.server_name);
    [
        (api, "/_matrix/../_synapse/admin/v1/server_version"),
        (
            api,
            "/_matrix/client/../../_synapse/admin/v1/server_version",
        ),
        (api, "/_matrix/%2e%2e/_synapse/admin/v1/server_version"),
        (api, "/_matrix/client/v3/.%2E/%2e./../../x"),
        (api, "/_matrix/.."),
        (
            documents,
            "/.well-known/matrix/../../_synapse/admin/v1/server_version",
        ),
        (
            documents,
            "/.well-known/matrix/%2E%2E/%2E%2E/_matrix/client/versions",
        ),
    ]
    .into_iter()
    .map(|(host, target)| (host.clone(), target))
    .collect()
}

/// The other half of passing targets raw: a target whose dot segments climb out of the
/// forwarded prefixes never reaches the homeserver, raw or normalised (whatever the
/// proxy answers instead). A proxy that routes on the raw path (Traefik with
/// `sanitizePath: false`, which it needs to keep `//` for federation signatures) would
/// otherwise forward `/_matrix/../_synapse/admin/…` as a `/_matrix/` request.
pub async fn dot_segments_never_leave_the_forwarded_prefixes(server: Proxy) {
    let stack = Stack::start(server, Options::default()).await;
    for (host, target) in escaping_targets(&stack) {
        for h2 in [false, true] {
            let mut request = Request::get(address(&stack), &host, target);
            if h2 {
                request = request.h2();
            }
            // Any answer but the homeserver's will do; a refused connection too.
            let _ = stack.client.send(&request).await;
        }
    }
    assert!(
        stack.upstream.requests().is_empty(),
        "{server:?}: targets that leave the forwarded prefixes reached the homeserver: {:?}",
        stack
            .upstream
            .requests()
            .iter()
            .map(|r| r.target_lossy())
            .collect::<Vec<_>>()
    );
}

/// The upstream saw `Host` = the homeserver host, `X-Forwarded-For` = exactly the client
/// address and `X-Forwarded-Proto: https`, whatever the client claimed.
async fn check_forwarded_headers(stack: &Stack, port: u16, h2: bool) {
    let server = stack.server;
    let host = if port == 443 {
        stack.homeserver_host.clone()
    } else {
        format!("{}:{port}", stack.homeserver_host)
    };
    for (forged, label) in [(false, "plain"), (true, "forged")] {
        let marker = format!("/_matrix/client/versions?check={label}-{port}-{h2}");
        let mut request = Request::get(address(stack), &host, &marker).port(port);
        if h2 {
            request = request.h2();
        }
        if forged {
            request = request
                .header("X-Forwarded-For", "203.0.113.66")
                .header("X-Forwarded-Proto", "http")
                .header("Forwarded", "for=203.0.113.66;proto=http");
        }
        let response = send(stack, &request).await;
        let what = format!("{server:?} {label} request to {host}{marker} (h2: {h2})");
        assert_eq!(response.status, 200, "{what}: {response:?}");
        let arrived = stack.upstream.with_target(&marker);
        assert_eq!(arrived.len(), 1, "{what}: arrived {arrived:?}");
        let arrived = &arrived[0];
        let hosts = arrived.header("host");
        // A Host with the listener's port names the same site.
        assert!(
            hosts == [stack.homeserver_host.clone()] || hosts == [host.clone()],
            "{what}: Host {hosts:?}"
        );
        assert_eq!(
            arrived.header("x-forwarded-for"),
            [stack.site_address().to_string()],
            "{what}: X-Forwarded-For must be exactly the client address"
        );
        assert_eq!(
            arrived.header("x-forwarded-proto"),
            ["https"],
            "{what}: X-Forwarded-Proto"
        );
    }
}

pub async fn forwarded_headers_cannot_be_spoofed(server: Proxy) {
    let stack = Stack::start(server, Options::default()).await;
    check_forwarded_headers(&stack, 443, false).await;
    check_forwarded_headers(&stack, 443, true).await;
}

pub async fn body_limit(server: Proxy) {
    let host = "matrix.example.com";
    {
        let stack = Stack::start(
            server,
            Options {
                max_upload: Some("1M".into()),
                ..Options::default()
            },
        )
        .await;
        let limit = 1024 * 1024;
        let exact = "/_matrix/media/v3/upload?size=exact";
        let response = send(
            &stack,
            &Request::get(address(&stack), host, exact)
                .method("POST")
                .body(Body::Bytes(vec![b'b'; limit])),
        )
        .await;
        assert_eq!(
            response.status, 200,
            "{server:?}: {limit} bytes: {response:?}"
        );
        let arrived = stack.upstream.with_target(exact);
        assert!(
            arrived.len() == 1
                && arrived[0].method == "POST"
                && arrived[0].body_len == limit as u64
                && arrived[0].body_complete,
            "{server:?}: {limit} bytes arrived as {arrived:?}"
        );

        let over = "/_matrix/media/v3/upload?size=over";
        let request = Request::get(address(&stack), host, over).method("POST");
        let status = stack
            .client
            .send_announced(&request, limit as u64 + 1)
            .await
            .unwrap_or_else(|e| panic!("{server:?}: {e}"));
        assert_eq!(status, 413, "{server:?}: {} bytes", limit + 1);
        let arrived = stack.upstream.with_target(over);
        assert!(
            arrived.is_empty(),
            "{server:?}: a body over the limit reached the upstream: {arrived:?}"
        );

        // Announced lengths past 32 and 2^32 bits: a check that reads Content-Length into
        // an int (HAProxy's req.hdr_val) wraps and lets them through.
        for announced in [1u64 << 31, (1 << 32) + 1, 99_999_999_999] {
            let target = format!("/_matrix/media/v3/upload?announced={announced}");
            let request = Request::get(address(&stack), host, &target).method("POST");
            let status = stack
                .client
                .send_announced(&request, announced)
                .await
                .unwrap_or_else(|e| panic!("{server:?}: {e}"));
            assert_eq!(status, 413, "{server:?}: Content-Length {announced}");
            let arrived = stack.upstream.with_target(&target);
            assert!(
                arrived.is_empty(),
                "{server:?}: Content-Length {announced} reached the upstream: {arrived:?}"
            );
        }
    }

    let stack = Stack::start(
        server,
        Options {
            max_upload: Some("50M".into()),
            ..Options::default()
        },
    )
    .await;
    let len = 50 * 1024 * 1024;
    let streamed = "/_matrix/media/v3/upload?size=streamed";
    let response = send(
        &stack,
        &Request::get(address(&stack), host, streamed)
            .method("POST")
            .body(Body::Streamed { len })
            .timeout(Duration::from_secs(120)),
    )
    .await;
    assert_eq!(
        response.status, 200,
        "{server:?}: streamed {len} bytes: {response:?}"
    );
    let arrived = stack.upstream.with_target(streamed);
    assert!(
        arrived.len() == 1 && arrived[0].body_len == len && arrived[0].body_complete,
        "{server:?}: streamed {len} bytes arrived as {arrived:?}"
    );
}

pub async fn plain_http_redirects_to_https(server: Proxy) {
    let stack = Stack::start(server, Options::default()).await;
    for host in [
        stack.options.server_name.clone(),
        stack.homeserver_host.clone(),
    ] {
        for target in [
            "/",
            "/_matrix/client/versions?a=1&b=%2F",
            "/.well-known/matrix/client",
        ] {
            let request = Request::get(address(&stack), &host, target).plain_http();
            let response = send(&stack, &request).await;
            let what = format!("{server:?} http://{host}{target}");
            assert!(matches!(response.status, 301 | 308), "{what}: {response:?}");
            assert_eq!(
                response.header("location"),
                [format!("https://{host}{target}")],
                "{what}"
            );
        }
    }
    assert!(
        stack.upstream.requests().is_empty(),
        "{server:?}: {:?}",
        stack.upstream.requests()
    );
}

pub async fn acme_challenge_served_from_webroot(server: Proxy) {
    let stack = Stack::start(
        server,
        Options {
            acme: true,
            ..Options::default()
        },
    )
    .await;
    let challenges = stack.webroot().join(".well-known/acme-challenge");
    std::fs::create_dir_all(&challenges).unwrap();
    std::fs::write(challenges.join("t0ken-_42"), "t0ken-_42.thumbprint").unwrap();
    for host in [
        stack.options.server_name.clone(),
        stack.homeserver_host.clone(),
    ] {
        let target = "/.well-known/acme-challenge/t0ken-_42";
        let response = send(
            &stack,
            &Request::get(address(&stack), &host, target).plain_http(),
        )
        .await;
        let what = format!("{server:?} http://{host}{target}");
        assert_eq!(response.status, 200, "{what}: {response:?}");
        assert_eq!(response.body, b"t0ken-_42.thumbprint", "{what}");
        let other = send(
            &stack,
            &Request::get(address(&stack), &host, "/_matrix/client/versions").plain_http(),
        )
        .await;
        assert!(
            matches!(other.status, 301 | 308),
            "{server:?} http://{host}/_matrix/…: {other:?}"
        );
    }
}

/// `--tls acme` with HAProxy: certbot runs in standalone mode on 127.0.0.1:8888 (the
/// summary's command) and HAProxy routes `/.well-known/acme-challenge/` on port 80 there.
pub async fn acme_challenge_reaches_certbot_standalone(server: Proxy) {
    let stack = Stack::start(
        server,
        Options {
            acme: true,
            ..Options::default()
        },
    )
    .await;
    let certbot = Homeserver::start(
        "127.0.0.1:8888".parse().unwrap(),
        Answers::Echo {
            sync_delay: Duration::ZERO,
        },
    )
    .await;
    let hosts = [
        stack.options.server_name.clone(),
        stack.homeserver_host.clone(),
    ];
    for (index, host) in hosts.iter().enumerate() {
        let target = format!("/.well-known/acme-challenge/t0ken-_{index}");
        let response = send(
            &stack,
            &Request::get(address(&stack), host, &target).plain_http(),
        )
        .await;
        let what = format!("{server:?} http://{host}{target}");
        assert_eq!(response.status, 200, "{what}: {response:?}");
        let arrived = certbot.with_target(&target);
        assert!(
            arrived.len() == 1 && arrived[0].target == target.as_bytes(),
            "{what}: certbot's listener saw {:?}",
            certbot.requests()
        );
        assert_eq!(
            arrived[0].header("host"),
            std::slice::from_ref(host),
            "{what}"
        );
        let other = send(
            &stack,
            &Request::get(address(&stack), host, "/_matrix/client/versions").plain_http(),
        )
        .await;
        assert!(
            matches!(other.status, 301 | 308),
            "{server:?} http://{host}/_matrix/…: {other:?}"
        );
    }
    assert_eq!(
        certbot.requests().len(),
        hosts.len(),
        "{server:?}: only challenges go to certbot: {:?}",
        certbot.requests()
    );
    assert!(
        stack.upstream.requests().is_empty(),
        "{server:?}: {:?}",
        stack.upstream.requests()
    );
}

/// HAProxy's limit is a rule on the `Content-Length` header: a chunked body announces no
/// size, and HAProxy does not count what it forwards, so one byte over the limit reaches
/// the homeserver whole. The homeserver's own limit (which the summary sets to the same
/// value) is what stops it. This pins the README's note: if HAProxy starts refusing such
/// a body, the test fails and the note must change.
pub async fn chunked_body_over_the_limit_reaches_the_homeserver(server: Proxy) {
    let stack = Stack::start(
        server,
        Options {
            max_upload: Some("1M".into()),
            ..Options::default()
        },
    )
    .await;
    let len = 1024 * 1024 + 1;
    let host = stack.homeserver_host.clone();
    for h2 in [false, true] {
        let target = format!("/_matrix/media/v3/upload?size=chunked-over&h2={h2}");
        let mut request = Request::get(address(&stack), &host, &target)
            .method("POST")
            .body(Body::Streamed { len });
        if h2 {
            // HTTP/2 DATA frames without content-length: no size announced either.
            request = request.h2();
        }
        let response = send(&stack, &request).await;
        let what = format!("{server:?} chunked {len} bytes (h2: {h2})");
        assert_eq!(response.status, 200, "{what}: {response:?}");
        let arrived = stack.upstream.with_target(&target);
        assert!(
            arrived.len() == 1 && arrived[0].body_len == len && arrived[0].body_complete,
            "{what}: arrived as {arrived:?}"
        );
    }
}

/// Closed (444 or a refused handshake), 421 or 404, and never the upstream.
fn refused(result: &Result<Response, String>) -> bool {
    match result {
        Err(_) => true,
        Ok(response) => matches!(response.status, 404 | 421),
    }
}

pub async fn unknown_host_never_reaches_the_homeserver(server: Proxy) {
    let stack = Stack::start(server, Options::default()).await;
    let target = "/_matrix/client/versions";
    let known = stack.homeserver_host.clone();
    let cases = [
        (
            "unknown SNI and Host",
            Request::get(address(&stack), "unknown.example.net", target),
        ),
        (
            "known SNI, unknown Host",
            Request::get(address(&stack), "unknown.example.net", target).sni(&known),
        ),
        (
            "known SNI, unknown Host, HTTP/2",
            Request::get(address(&stack), "unknown.example.net", target)
                .sni(&known)
                .h2(),
        ),
        (
            "plain HTTP, unknown Host",
            Request::get(address(&stack), "unknown.example.net", target).plain_http(),
        ),
    ];
    for (what, request) in cases {
        let result = stack.client.send(&request).await;
        let plain = request.tls.is_none();
        // On port 80 a redirect to HTTPS is no answer from the homeserver either.
        let ok = refused(&result)
            || (plain && matches!(&result, Ok(r) if matches!(r.status, 301 | 308)));
        assert!(ok, "{server:?} {what}: {result:?}");
    }
    assert!(
        stack.upstream.requests().is_empty(),
        "{server:?}: an unknown host reached the homeserver: {:?}",
        stack.upstream.requests()
    );
}

/// Whether `openssl s_client` completes a handshake offering only `version`
/// (`-tls1`, `-tls1_1`, …), with a client config that allows every version.
fn openssl_handshake(address: &str, sni: &str, version: &str, cnf: &std::path::Path) -> bool {
    let output = std::process::Command::new("openssl")
        .args(["s_client", "-connect", address, "-servername", sni, version])
        .args(["-cipher", "DEFAULT:@SECLEVEL=0"])
        .env("OPENSSL_CONF", cnf)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl");
    let stdout = String::from_utf8_lossy(&output.stdout);
    output.status.success() && !stdout.contains("Cipher is (NONE)")
}

pub async fn tls_versions_and_http2(server: Proxy) {
    let stack = Stack::start(server, Options::default()).await;
    let host = stack.homeserver_host.clone();
    let base = Request::get(address(&stack), &host, "/_matrix/client/versions");
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let (negotiated, _) = stack
            .client
            .handshake(&base.clone().tls_versions(&[version]))
            .await
            .unwrap_or_else(|e| panic!("{server:?}: {:?} refused: {e}", version.version));
        assert_eq!(negotiated, version.version, "{server:?}");
    }
    let (_, alpn) = stack.client.handshake(&base.clone().h2()).await.unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]), "{server:?}: ALPN");
    let response = send(&stack, &base.clone().h2()).await;
    assert_eq!(response.version, hyper::Version::HTTP_2, "{server:?}");
    assert_eq!(response.status, 200, "{server:?}: {response:?}");

    // TLS 1.0 and 1.1 need a client that still speaks them: openssl, with every version
    // allowed. A throwaway s_server proves that client really can, so a refusal below is
    // the proxy's.
    let cnf = stack.openssl_cnf().clone();
    let dir = tempfile::tempdir().unwrap();
    let ca = crate::common::pki::TestCa::new();
    let cert = ca.issue(dir.path(), std::slice::from_ref(&host));
    let mut control = std::process::Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            "127.0.0.1:4433",
            "-tls1",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
        ])
        .arg("-cert")
        .arg(&cert.cert)
        .arg("-key")
        .arg(&cert.key)
        .env("OPENSSL_CONF", &cnf)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let mut control_ok = false;
    for _ in 0..100 {
        if openssl_handshake("127.0.0.1:4433", &host, "-tls1", &cnf) {
            control_ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = control.kill();
    let _ = control.wait();
    assert!(
        control_ok,
        "openssl cannot speak TLS 1.0 even to a server that allows it"
    );
    let address = format!("{}:443", stack.site_address());
    for version in ["-tls1", "-tls1_1"] {
        assert!(
            !openssl_handshake(&address, &host, version, &cnf),
            "{server:?} accepted a {version} handshake"
        );
    }
    assert!(
        openssl_handshake(&address, &host, "-tls1_2", &cnf),
        "{server:?}: openssl's TLS 1.2 handshake failed"
    );
}

pub async fn federation_listener(server: Proxy) {
    let stack = Stack::start(
        server,
        Options {
            federation: Federation::Port(8448),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(
        stack.document("server"),
        serde_json::json!({"m.server": format!("{}:8448", stack.homeserver_host)})
    );
    let host = format!("{}:8448", stack.homeserver_host);
    let failures = send_nasty_targets(&stack, &host, 8448).await;
    assert!(
        failures.is_empty(),
        "{server:?} on 8448 changed {} request targets:\n{}",
        failures.len(),
        failures.join("\n")
    );
    check_forwarded_headers(&stack, 8448, false).await;
    check_forwarded_headers(&stack, 8448, true).await;
    let key = "/_matrix/key/v2/server";
    let response = send(
        &stack,
        &Request::get(address(&stack), &host, key).port(8448),
    )
    .await;
    assert_eq!(
        response.status, 200,
        "{server:?}: {key} on 8448: {response:?}"
    );
}

/// Other spellings of the federation prefixes: each names `/_matrix/federation/…` or
/// `/_matrix/key/…` once its `.` and `..` segments are removed (RFC 3986 §5.2.4), its
/// encoded unreserved characters decoded (`%2e`, `%66`: §6.2.2.2), its slashes merged (as
/// nginx, Caddy and many frameworks do), or an encoded slash in the prefix itself read as
/// a slash. A homeserver that normalises any of these would answer it as federation.
fn federation_spellings() -> Vec<&'static str> {
    vec![
        "/_matrix/./federation/v1/version",
        "/_matrix//federation/v1/version",
        "//_matrix/federation/v1/version",
        "/_matrix/.//key/v2/server",
        "/_matrix/%2e/federation/v1/version",
        "/_matrix/%2E/key/v2/server",
        "/_matrix/key/../federation/v1/version",
        "/_matrix/client/%2E%2E/federation/v1/version",
        "/_matrix/client/.%2e/key/v2/server",
        "/_matrix/x/%2e%2E/federation/v1/send/txn1",
        "/_matrix/%66ederation/v1/version",
        "/_matrix/%66ederation/v1/version%zz",
        "/_matrix/%6Bey/v2/server",
        "/_matrix/%2Ffederation/v1/version",
        "/_matrix%2Ffederation/v1/version",
        "/_matrix%2fkey/v2/server",
        "/_matrix/federation%2Fv1/version",
        "/_matrix/key%2fv2/server",
    ]
}

/// Sends each target to `host` over HTTP/1.1 and HTTP/2 and returns a line for each that
/// reached the homeserver or was not refused: with 400, 403 or 404, or on the connection
/// (Go's HTTP/2 server resets a stream whose `:path` has an invalid escape).
async fn refusals(stack: &Stack, host: &str, targets: &[&str]) -> Vec<String> {
    let mut failures = Vec::new();
    for target in targets {
        for h2 in [false, true] {
            let mut request = Request::get(address(stack), host, target);
            if h2 {
                request = request.h2();
            }
            let before = stack.upstream.requests().len();
            let result = stack.client.send(&request).await;
            let reached = stack.upstream.requests().len() - before;
            let refused = match &result {
                Ok(response) => matches!(response.status, 400 | 403 | 404),
                Err(_) => true,
            };
            if !refused || reached > 0 {
                failures.push(format!(
                    "{target} (h2: {h2}): {reached} request(s) reached the homeserver; {}",
                    match &result {
                        Ok(r) => format!("client got {}", r.status),
                        Err(e) => format!("no answer: {e}"),
                    }
                ));
            }
        }
    }
    failures
}

/// Every target is refused (`refusals`), and nothing sent so far reached the homeserver
/// but the well-known documents.
async fn assert_all_refused(stack: &Stack, host: &str, targets: &[&str], setup: &str) {
    let server = stack.server;
    let failures = refusals(stack, host, targets).await;
    assert!(
        failures.is_empty(),
        "{server:?} {setup}:\n{}",
        failures.join("\n")
    );
    let reached: Vec<_> = beyond_documents(stack)
        .iter()
        .map(|r| r.target_lossy())
        .collect();
    assert!(
        reached.is_empty(),
        "{server:?} {setup}: reached the homeserver: {reached:?}"
    );
}

pub async fn no_federation_blocks_federation_paths(server: Proxy) {
    let stack = Stack::start(
        server,
        Options {
            federation: Federation::Off,
            ..Options::default()
        },
    )
    .await;
    let host = stack.homeserver_host.clone();
    for target in [
        "/_matrix/federation/v1/version",
        "/_matrix/federation/v1/send/txn1",
        "/_matrix/key/v2/server",
        "/_matrix/key/v2/query/example.org",
    ] {
        let result = stack
            .client
            .send(&Request::get(address(&stack), &host, target))
            .await;
        assert!(
            matches!(&result, Ok(r) if matches!(r.status, 403 | 404)),
            "{server:?} {target} with --no-federation: {result:?}"
        );
    }
    assert_all_refused(
        &stack,
        &host,
        &federation_spellings(),
        "with --no-federation",
    )
    .await;
    let clients = "/_matrix/client/versions";
    let response = send(&stack, &Request::get(address(&stack), &host, clients)).await;
    assert_eq!(response.status, 200, "{server:?} {clients}: {response:?}");
    let server_document = stack
        .client
        .send(&Request::get(
            address(&stack),
            &stack.options.server_name,
            "/.well-known/matrix/server",
        ))
        .await;
    assert!(
        matches!(&server_document, Ok(r) if r.status == 404),
        "{server:?}: /.well-known/matrix/server with --no-federation: {server_document:?}"
    );
}

/// Targets that name Synapse's admin API (`/_synapse/admin/`, closed without
/// `--expose-admin`) once normalised as in `federation_spellings`, most of them climbing
/// out of `/_synapse/client/` or `/_matrix/`, which Synapse's proxies forward. An encoded
/// slash is data, not a separator (RFC 3986 §2.2): `/_synapse/client/%2F..%2Fadmin` is one
/// segment below `/_synapse/client/`, passed on raw like `raw_targets_reach_the_upstream`'s
/// `rooms/%2F..%2Fadmin`, and Synapse routes on the raw path.
fn admin_spellings() -> Vec<&'static str> {
    vec![
        "/_synapse/admin/v1/server_version",
        "//_synapse/admin/v1/server_version",
        "/_synapse//admin/v1/server_version",
        "/_synapse/./admin/v1/server_version",
        "/_synapse/%61dmin/v1/server_version",
        "/_synapse%2Fadmin/v1/server_version",
        "/_synapse/client/../admin/v1/server_version",
        "/_synapse/client/./../admin/v1/server_version",
        "/_synapse/client/%2e%2e/admin/v1/server_version",
        "/_synapse/client/%2E%2E/admin/v1/server_version",
        "/_synapse/client/.%2E/admin/v1/server_version",
        "/_synapse/client/x/../../admin/v1/server_version",
        "/_synapse/client%2F..%2Fadmin/v1/server_version",
        "/_synapse/client/../../_synapse/admin/v1/server_version",
        "/_matrix/../_synapse/admin/v1/server_version",
        "/_matrix/client/%2e%2e/%2e%2e/_synapse/admin/v1/server_version",
    ]
}

/// With the admin API closed (no `--expose-admin`), no spelling of its prefix reaches the
/// homeserver, while the forwarded `/_synapse/client/` still does. Synapse on its server
/// name: Traefik routes the well-known documents to it, and Synapse writes `m.server`
/// only for its own name.
pub async fn closed_admin_api_is_unreachable(server: Proxy) {
    let stack = Stack::start(
        server,
        Options {
            server_name: "matrix.example.org".into(),
            homeserver_host: Some("matrix.example.org".into()),
            homeserver: Some("synapse"),
            ..Options::default()
        },
    )
    .await;
    let host = stack.homeserver_host.clone();
    assert_all_refused(
        &stack,
        &host,
        &admin_spellings(),
        "with the admin API closed",
    )
    .await;
    let open = "/_synapse/client/new_user_consent";
    let response = send(&stack, &Request::get(address(&stack), &host, open)).await;
    assert_eq!(response.status, 200, "{server:?} {open}: {response:?}");
    assert_eq!(stack.upstream.with_target(open).len(), 1, "{server:?}");
}

/// `--tls none`: plain HTTP on port 80, both documents served, and the homeserver told
/// the scheme its clients really use (https, at the terminator in front), never the
/// proxy's own http; X-Forwarded-For still the address the proxy saw.
pub async fn behind_a_tls_terminator(server: Proxy) {
    let stack = Stack::start(
        server,
        Options {
            plain: true,
            ..Options::default()
        },
    )
    .await;
    let host = stack.homeserver_host.clone();
    let marker = "/_matrix/client/versions?check=behind-terminator";
    let request = Request::get(address(&stack), &host, marker)
        .plain_http()
        .header("X-Forwarded-Proto", "http")
        .header("X-Forwarded-For", "203.0.113.66");
    let response = send(&stack, &request).await;
    assert_eq!(response.status, 200, "{server:?} {marker}: {response:?}");
    let arrived = stack.upstream.with_target(marker);
    assert_eq!(arrived.len(), 1, "{server:?}: arrived {arrived:?}");
    assert_eq!(
        arrived[0].header("x-forwarded-proto"),
        ["https"],
        "{server:?}: X-Forwarded-Proto behind a terminator"
    );
    assert_eq!(
        arrived[0].header("x-forwarded-for"),
        [stack.site_address().to_string()],
        "{server:?}: X-Forwarded-For"
    );
    for document in ["server", "client"] {
        let path = format!("/.well-known/matrix/{document}");
        let response = send(
            &stack,
            &Request::get(address(&stack), &stack.options.server_name, &path).plain_http(),
        )
        .await;
        assert_eq!(
            response.status, 200,
            "{server:?} {path} over plain HTTP: {response:?}"
        );
    }
}

pub async fn same_host_serves_documents_and_api(server: Proxy) {
    let stack = Stack::start(
        server,
        Options {
            server_name: "matrix.example.org".into(),
            homeserver_host: Some("matrix.example.org".into()),
            ..Options::default()
        },
    )
    .await;
    let host = "matrix.example.org";
    for name in ["server", "client"] {
        let target = format!("/.well-known/matrix/{name}");
        let response = send(&stack, &Request::get(address(&stack), host, &target)).await;
        assert_eq!(response.status, 200, "{server:?} {target}: {response:?}");
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body, stack.document(name), "{server:?} {target}");
    }
    let api = "/_matrix/client/versions";
    let response = send(&stack, &Request::get(address(&stack), host, api)).await;
    assert_eq!(response.status, 200, "{server:?} {api}: {response:?}");
    assert_eq!(stack.upstream.with_target(api).len(), 1, "{server:?}");
}

/// Long polls of 70 s through all five servers at once, each in front of an upstream
/// that answers `/sync` only after 70 s: one namespace, one loopback address per server.
mod long_poll {
    use crate::common::netns::netns_test;

    netns_test! {
        fn sync_answered_after_70_seconds_arrives_intact() {
            crate::traffic::block_on(super::on_all_at_once(super::long_poll_one))
        }
    }
}

async fn long_poll_one(server: Proxy, listen: [u8; 4]) -> Result<(), String> {
    let stack = Stack::with_sync_delay(
        server,
        Options {
            listen: IpAddr::from(listen),
            ..Options::default()
        },
        Duration::from_secs(70),
    )
    .await;
    let target = "/_matrix/client/v3/sync?timeout=70000&since=s72594_4483_1934";
    let started = std::time::Instant::now();
    let response = stack
        .client
        .send(
            &Request::get(address(&stack), &stack.homeserver_host, target)
                .timeout(Duration::from_secs(100)),
        )
        .await
        .map_err(|e| format!("{server:?}: {e}\n{}", stack.logs()))?;
    let waited = started.elapsed();
    if response.status != 200 || response.body != sync_body() || waited < Duration::from_secs(70) {
        return Err(format!(
            "{server:?}: status {} after {waited:?}, body of {} bytes (intact: {})\n{}",
            response.status,
            response.body.len(),
            response.body == sync_body(),
            stack.logs()
        ));
    }
    Ok(())
}

/// Runs a slow rule for the five servers at the same time, each on its own loopback
/// address in the one namespace, and fails with every server's failure.
pub(super) async fn on_all_at_once<F, R>(rule: F)
where
    F: Fn(Proxy, [u8; 4]) -> R,
    R: std::future::Future<Output = Result<(), String>>,
{
    let servers = [
        Proxy::Nginx,
        Proxy::Apache,
        Proxy::Caddy,
        Proxy::Haproxy,
        Proxy::Traefik,
    ];
    if !servers.iter().all(|server| server.installed()) {
        return;
    }
    let (nginx, apache, caddy, haproxy, traefik) = tokio::join!(
        rule(Proxy::Nginx, [127, 0, 10, 1]),
        rule(Proxy::Apache, [127, 0, 20, 1]),
        rule(Proxy::Caddy, [127, 0, 30, 1]),
        rule(Proxy::Haproxy, [127, 0, 40, 1]),
        rule(Proxy::Traefik, [127, 0, 50, 1]),
    );
    let failures: Vec<String> = [nginx, apache, caddy, haproxy, traefik]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

mod idle_upstream_connections {
    use crate::common::netns::netns_test;

    netns_test! {
        fn are_not_reused_after_the_idle_timeout() {
            crate::traffic::block_on(super::on_all_at_once(super::idle_upstream_one))
        }
    }
}

/// A proxy keeps idle connections to the homeserver for reuse, and a homeserver closes idle
/// connections too (Synapse after 60 s): a request sent on one as it closes fails (nginx,
/// Caddy and Traefik answer a POST with 502). So the proxy must drop them first: once they
/// have been idle for the plan's upstream idle timeout plus 5 s, new requests reach the
/// homeserver on new connections. Before that, three requests on one client connection
/// must share an upstream connection: the proxy does pool, so the rule cannot pass for want
/// of a pool.
async fn idle_upstream_one(server: Proxy, listen: [u8; 4]) -> Result<(), String> {
    let stack = Stack::start(
        server,
        Options {
            listen: IpAddr::from(listen),
            ..Options::default()
        },
    )
    .await;
    let fail = |what: String| format!("{server:?}: {what}\n{}", stack.logs());
    let request = |n: usize| {
        Request::get(
            address(&stack),
            &stack.homeserver_host,
            &format!("/_matrix/client/versions?idle={n}"),
        )
    };
    let connections_of = |numbers: &[usize]| -> std::collections::BTreeSet<usize> {
        numbers
            .iter()
            .flat_map(|n| stack.upstream.with_target(&format!("idle={n}")))
            .map(|r| r.connection)
            .collect()
    };
    let send_all = |numbers: &'static [usize]| {
        let requests: Vec<Request> = numbers.iter().map(|&n| request(n)).collect();
        let client = &stack.client;
        async move {
            let responses = client.send_on_one_connection(&requests).await?;
            match responses.iter().find(|r| r.status != 200) {
                Some(response) => Err(format!("{numbers:?}: {response:?}")),
                None => Ok(()),
            }
        }
    };

    send_all(&[1, 2, 3]).await.map_err(&fail)?;
    let early = connections_of(&[1, 2, 3]);
    if early.len() == 3 {
        return Err(fail(
            "three requests on one client connection took three upstream connections: no pool"
                .into(),
        ));
    }
    let idle = mxproxy::defaults::UPSTREAM_IDLE_TIMEOUT_SECONDS;
    tokio::time::sleep(Duration::from_secs(u64::from(idle) + 5)).await;
    send_all(&[4, 5]).await.map_err(&fail)?;
    let late = connections_of(&[4, 5]);
    let reused: Vec<&usize> = late.intersection(&early).collect();
    if !reused.is_empty() {
        return Err(fail(format!(
            "upstream connection(s) {reused:?} reused after {} s idle (the plan says {idle} s); \
             connections: {:?}",
            idle + 5,
            stack.upstream.connections()
        )));
    }
    Ok(())
}

/// Synapse behind Traefik with the default delegation (`matrix.example.com`): Traefik
/// routes `/.well-known/matrix/` to Synapse, whose server document always names
/// `example.com:443`, so other servers send federation to the server name's host. Those
/// requests must reach Synapse as sent; the server name's host forwards nothing else.
pub async fn synapse_federation_on_the_server_name(server: Proxy) {
    let stack = Stack::start(
        server,
        Options {
            homeserver: Some("synapse"),
            ..Options::default()
        },
    )
    .await;
    let server_name = stack.options.server_name.clone();
    assert_ne!(server_name, stack.homeserver_host, "the setup is delegated");
    for target in [
        "/_matrix/federation/v1/version",
        "/_matrix/federation/v1/send/txn%2F1//x?a=%2F",
        "/_matrix/key/v2/server",
    ] {
        let before = stack.upstream.requests().len();
        let response = send(&stack, &Request::get(address(&stack), &server_name, target)).await;
        assert_eq!(
            response.status, 200,
            "{server:?}: {target} on {server_name}: {response:?}"
        );
        let requests = stack.upstream.requests();
        assert_eq!(
            requests.len(),
            before + 1,
            "{server:?}: {target} reached Synapse once"
        );
        assert_eq!(
            requests[before].target,
            target.as_bytes(),
            "{server:?}: {target} reached Synapse as sent"
        );
    }
    for target in [
        "/_matrix/client/versions",
        "/_synapse/admin/v1/server_version",
    ] {
        let before = stack.upstream.requests().len();
        let response = send(&stack, &Request::get(address(&stack), &server_name, target)).await;
        assert_eq!(
            response.status, 404,
            "{server:?}: {target} on {server_name}: {response:?}"
        );
        assert_eq!(
            stack.upstream.requests().len(),
            before,
            "{server:?}: {target} on the server name's host reached Synapse"
        );
    }
}

/// `--homeserver synapse --mas` on Synapse's server name itself (so that Traefik, which
/// routes the well-known documents to Synapse, fits too), MAS below `path` or on
/// auth.example.com.
fn mas_options(path: Option<&str>) -> Options {
    Options {
        homeserver_host: Some("example.com".into()),
        mas: Some(MasOptions {
            path: path.map(String::from),
            ..MasOptions::default()
        }),
        ..Options::default()
    }
}

/// Sends `target` to `host` with a forged X-Forwarded-For and checks that exactly one
/// request arrived, at MAS (`to_mas`) or at Synapse, as `expected` (Traefik: its normal
/// form), with `X-Forwarded-For` exactly the client address; the other upstream got none.
async fn arrives_at(stack: &Stack, host: &str, target: &str, expected: &str, to_mas: bool) {
    let server = stack.server;
    let mas = stack.mas.as_ref().expect("a --mas stack");
    let (hit, miss) = if to_mas {
        (mas, &stack.upstream)
    } else {
        (&stack.upstream, mas)
    };
    let expected = if server.normalises_percent_encoding() {
        percent_normal_form(expected)
    } else {
        expected.to_string()
    };
    let (before_hit, before_miss) = (hit.requests().len(), miss.requests().len());
    let request =
        Request::get(address(stack), host, target).header("X-Forwarded-For", "203.0.113.66");
    let response = send(stack, &request).await;
    let what = format!(
        "{server:?} {host}{target} (to {})",
        if to_mas { "MAS" } else { "Synapse" }
    );
    assert_eq!(response.status, 200, "{what}: {response:?}");
    let arrived = hit.requests();
    let [one] = &arrived[before_hit..] else {
        panic!("{what}: {} requests arrived", arrived.len() - before_hit);
    };
    assert_eq!(one.target_lossy(), expected, "{what}: not the same target");
    assert_eq!(
        one.header("x-forwarded-for"),
        [stack.site_address().to_string()],
        "{what}: X-Forwarded-For must be exactly the client address"
    );
    assert_eq!(one.header("host"), [host.to_string()], "{what}: Host");
    assert_eq!(
        miss.requests().len(),
        before_miss,
        "{what}: reached the other upstream too"
    );
}

/// The compatibility paths and their sub-paths (MAS's crates/router/src/endpoints.rs):
/// each version's login, logout and refresh, and the longer routes below them.
fn compat_targets() -> Vec<String> {
    let mut targets = Vec::new();
    for version in ["api/v1", "r0", "v3", "unstable"] {
        for endpoint in ["login", "logout", "refresh"] {
            targets.push(format!("/_matrix/client/{version}/{endpoint}"));
        }
    }
    targets.extend(
        [
            "/_matrix/client/v3/login/sso/redirect",
            "/_matrix/client/v3/login/sso/redirect/",
            "/_matrix/client/r0/login/sso/redirect/oidc-github?redirectUrl=https%3A%2F%2Fapp.example%2F",
            "/_matrix/client/v3/logout/all",
            "/_matrix/client/v3/login?x=%2F..%2F",
        ]
        .map(String::from),
    );
    targets
}

/// Paths that look like the compatibility layer but are not, and Synapse's discovery of
/// MAS (auth_metadata, auth_issuer): all stay on Synapse.
const NEAR_MISSES: &[&str] = &[
    "/_matrix/client/v3/loginx",
    "/_matrix/client/v3/logins",
    "/_matrix/client/v3/login_token",
    "/_matrix/client/r0/refreshed",
    "/_matrix/client/v3/Login",
    "/_matrix/client/v4/login",
    // The spec's login/get_token is under v1, which is no compatibility version.
    "/_matrix/client/v1/login/get_token",
    "/_matrix/client/v3/logoutall",
    "/_matrix/client/v1/auth_metadata",
    "/_matrix/client/unstable/org.matrix.msc2965/auth_issuer",
    "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata",
    "/_matrix/client/versions",
    "/_matrix/client/v3/sync?since=s1",
    "/_matrix/federation/v1/version",
    "/_synapse/client/rendezvous",
];

/// The homeserver host's half: the compatibility layer to MAS (with `prefix` in front),
/// everything else to Synapse, Synapse's API for MAS to nobody.
async fn homeserver_host_splits_login_from_the_rest(stack: &Stack, prefix: &str) {
    let host = stack.homeserver_host.clone();
    for target in compat_targets() {
        arrives_at(stack, &host, &target, &format!("{prefix}{target}"), true).await;
    }
    for target in NEAR_MISSES {
        arrives_at(stack, &host, target, target, false).await;
    }
    let mas = stack.mas.as_ref().unwrap();
    let before = (stack.upstream.requests().len(), mas.requests().len());
    for target in [
        "/_synapse/mas/upsert_device",
        "/_synapse/mas/",
        "/_synapse/mas",
    ] {
        let response = send(stack, &Request::get(address(stack), &host, target)).await;
        // Refused as any unlisted path is (Apache: 403, "Require all denied").
        assert!(
            matches!(response.status, 403 | 404),
            "{:?} {target}: {response:?}",
            stack.server
        );
    }
    assert_eq!(
        (stack.upstream.requests().len(), mas.requests().len()),
        before,
        "{:?}: /_synapse/mas/ reached an upstream from outside",
        stack.server
    );
}

/// MAS's admin API and GraphQL playground (`prefix` in front in path mode) reach no upstream,
/// however MAS's config.yaml is set: refused as any unlisted path is (Apache: 403). The
/// GraphQL API itself, which MAS's web frontend uses, reaches MAS.
async fn mas_admin_and_playground_are_refused(stack: &Stack, host: &str, prefix: &str) {
    let server = stack.server;
    let mas = stack.mas.as_ref().unwrap();
    let before = (stack.upstream.requests().len(), mas.requests().len());
    for target in [
        "/api/admin/v1/users",
        "/api/admin/v1/users?page[first]=10",
        "/api/spec.json",
        "/api/doc/",
        "/graphql/playground",
    ] {
        let target = format!("{prefix}{target}");
        let response = send(stack, &Request::get(address(stack), host, &target)).await;
        assert!(
            matches!(response.status, 403 | 404),
            "{server:?} {host}{target}: {response:?}"
        );
    }
    assert_eq!(
        (stack.upstream.requests().len(), mas.requests().len()),
        before,
        "{server:?}: MAS's admin API or playground reached an upstream"
    );
    let graphql = format!("{prefix}/graphql");
    arrives_at(stack, host, &graphql, &graphql, true).await;
}

/// The body limit on MAS's own host is what MAS reads at most (axum's 2 MiB): a body of
/// exactly that reaches MAS whole, one byte more is refused (413) before it is sent on.
async fn mas_host_takes_bodies_up_to_mas_limit(stack: &Stack, host: &str) {
    let server = stack.server;
    let mas = stack.mas.as_ref().unwrap();
    let limit = 2 * 1024 * 1024;
    let exact = "/oauth2/token?size=exact";
    let response = send(
        stack,
        &Request::get(address(stack), host, exact)
            .method("POST")
            .body(Body::Bytes(vec![b'b'; limit])),
    )
    .await;
    assert_eq!(
        response.status, 200,
        "{server:?}: {limit} bytes: {response:?}"
    );
    let arrived = mas.with_target(exact);
    assert!(
        arrived.len() == 1 && arrived[0].body_len == limit as u64 && arrived[0].body_complete,
        "{server:?}: {limit} bytes arrived as {arrived:?}"
    );
    let over = "/oauth2/token?size=over";
    let request = Request::get(address(stack), host, over).method("POST");
    let status = stack
        .client
        .send_announced(&request, limit as u64 + 1)
        .await
        .unwrap_or_else(|e| panic!("{server:?}: {e}"));
    assert_eq!(status, 413, "{server:?}: {} bytes to MAS", limit + 1);
    assert!(
        mas.with_target(over).is_empty(),
        "{server:?}: a body over MAS's limit reached MAS"
    );
}

pub async fn mas_on_its_own_host(server: Proxy) {
    let stack = Stack::start(server, mas_options(None)).await;
    homeserver_host_splits_login_from_the_rest(&stack, "").await;
    let host = stack.options.mas_host().unwrap();
    for target in [
        "/",
        "/.well-known/openid-configuration",
        "/oauth2/token?a=%2F",
        "/assets/app.js",
        "/_matrix/client/v3/login",
        "/_synapse/mas/upsert_device",
        "/complete-compat-sso/01J",
    ] {
        arrives_at(&stack, &host, target, target, true).await;
    }
    mas_admin_and_playground_are_refused(&stack, &host, "").await;
    mas_host_takes_bodies_up_to_mas_limit(&stack, &host).await;
}

pub async fn mas_below_a_path(server: Proxy) {
    let stack = Stack::start(server, mas_options(Some("/auth"))).await;
    homeserver_host_splits_login_from_the_rest(&stack, "/auth").await;
    let host = stack.homeserver_host.clone();
    for target in [
        "/auth/",
        "/auth/.well-known/openid-configuration",
        "/auth/oauth2/token?a=%2F",
        "/auth/assets/app.js",
    ] {
        arrives_at(&stack, &host, target, target, true).await;
    }
    let mas = stack.mas.as_ref().unwrap();
    let before = mas.requests().len();
    let response = send(&stack, &Request::get(address(&stack), &host, "/authx/")).await;
    assert!(
        matches!(response.status, 403 | 404),
        "{server:?} /authx/: {response:?}"
    );
    assert_eq!(
        mas.requests().len(),
        before,
        "{server:?}: /authx/ reached MAS"
    );
    mas_admin_and_playground_are_refused(&stack, &host, "/auth").await;
}

/// `--expose-admin` asks for MAS's admin API as for the homeserver's: it reaches MAS as sent,
/// on its own host and below `/auth`; the GraphQL playground stays refused.
pub async fn mas_admin_api_with_expose_admin(server: Proxy) {
    for path in [None, Some("/auth")] {
        let mut options = mas_options(path);
        options.mas.as_mut().unwrap().expose_admin = true;
        let stack = Stack::start(server, options).await;
        let host = stack
            .options
            .mas_host()
            .unwrap_or_else(|| stack.homeserver_host.clone());
        let prefix = path.unwrap_or_default();
        for target in [
            "/api/admin/v1/users?page[first]=10",
            "/api/admin/v1/users/01J%2F",
            "/api/spec.json",
        ] {
            let target = format!("{prefix}{target}");
            arrives_at(&stack, &host, &target, &target, true).await;
        }
        let mas = stack.mas.as_ref().unwrap();
        let before = mas.requests().len();
        let playground = format!("{prefix}/graphql/playground");
        let response = send(&stack, &Request::get(address(&stack), &host, &playground)).await;
        assert!(
            matches!(response.status, 403 | 404),
            "{server:?} {host}{playground}: {response:?}"
        );
        assert_eq!(
            mas.requests().len(),
            before,
            "{server:?}: the playground reached MAS"
        );
    }
}
