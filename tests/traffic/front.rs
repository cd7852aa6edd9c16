//! The client's address behind trusted proxies and a CDN (`--trusted-proxy`, `--cdn`):
//! what `X-Forwarded-For` the homeserver gets, for requests that come from a trusted
//! source and from any other, over HTTP/1.1 and HTTP/2, IPv4 and IPv6. Sources are
//! loopback addresses of the test's own namespace: 127.0.0.2 and 127.0.0.4 play the
//! trusted proxies, 127.0.0.3 (and 127.0.0.1) a client that reaches the proxy directly.
//! The addresses inside the headers are documentation ranges (RFC 5737, RFC 3849); they
//! are text, never connected to.

use std::net::IpAddr;

use super::client::Request;
use super::rules::per_server;
use super::stack::Stack;
use crate::common::homeserver::Homeserver;
use crate::common::proxy::{MasOptions, Options, Proxy, RtcOptions};

per_server!(client_address_from_trusted_proxies);
per_server!(client_address_over_ipv6);
per_server!(client_address_from_a_cdn);
per_server!(client_address_behind_a_tls_terminator);
per_server!(client_address_reaches_mas);
per_server!(client_address_reaches_rtc);

const TRUSTED: &str = "127.0.0.2";
const SECOND_TRUSTED: &str = "127.0.0.4";
const UNTRUSTED: &str = "127.0.0.3";

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Sends `request` (as HTTP/1.1 and, over TLS, as HTTP/2) and checks that the homeserver
/// got exactly one `X-Forwarded-For`, `expected`.
async fn arrives_as(stack: &Stack, request: Request, expected: &str, what: &str) {
    let path = "/_matrix/client/versions";
    arrives_at(stack, &stack.upstream, path, request, expected, what).await;
}

/// The same for `path` on `upstream` (the homeserver's or MAS's stand-in).
async fn arrives_at(
    stack: &Stack,
    upstream: &Homeserver,
    path: &str,
    request: Request,
    expected: &str,
    what: &str,
) {
    let h2_too = request.tls.is_some();
    for h2 in [false, true].into_iter().filter(|&h2| !h2 || h2_too) {
        let marker = format!("{path}?client-address={what}-{h2}").replace(' ', "-");
        let mut request = request.clone();
        request.target = marker.clone();
        if h2 {
            request = request.h2();
        }
        let response = stack
            .client
            .send(&request)
            .await
            .unwrap_or_else(|e| panic!("{:?} {what}: {e}", stack.server));
        let what = format!("{:?} {what} (h2: {h2})", stack.server);
        assert_eq!(
            response.status,
            200,
            "{what}: {response:?}\n{}",
            stack.logs()
        );
        let arrived = upstream.with_target(&marker);
        assert_eq!(arrived.len(), 1, "{what}: arrived {arrived:?}");
        assert_eq!(
            arrived[0].header("x-forwarded-for"),
            [expected.to_string()],
            "{what}: the homeserver must see exactly the client's address\n{}",
            stack.logs()
        );
    }
}

fn get(stack: &Stack, source: &str) -> Request {
    Request::get(stack.site_address(), &stack.homeserver_host, "/").from(ip(source))
}

pub async fn client_address_from_trusted_proxies(server: Proxy) {
    let stack = Stack::start(
        server,
        Options {
            trusted_proxies: vec!["127.0.0.2/32", "127.0.0.4/32"],
            ..Options::default()
        },
    )
    .await;
    let forged = "203.0.113.66, 198.51.100.7";
    // From a trusted proxy: the rightmost address it reports; what the client wrote
    // before it (203.0.113.66) is never taken.
    let request = get(&stack, TRUSTED).header("X-Forwarded-For", forged);
    arrives_as(&stack, request, "198.51.100.7", "trusted chain").await;
    // The same from a trusted proxy that reports an IPv6 client.
    let request = get(&stack, TRUSTED).header("X-Forwarded-For", "203.0.113.66, 2001:db8::7");
    arrives_as(&stack, request, "2001:db8::7", "trusted v6 client").await;
    // The chain in two header lines is one list (RFC 9110 §5.3): its last entry counts.
    let request = get(&stack, TRUSTED)
        .header("X-Forwarded-For", "203.0.113.66")
        .header("X-Forwarded-For", "198.51.100.7");
    arrives_as(&stack, request, "198.51.100.7", "trusted two lines").await;
    // A trusted proxy that tells nothing, or nothing that is an address: its own address.
    arrives_as(&stack, get(&stack, TRUSTED), TRUSTED, "trusted no header").await;
    let request = get(&stack, TRUSTED).header("X-Forwarded-For", "unknown");
    arrives_as(&stack, request, TRUSTED, "trusted malformed").await;
    // Two trusted proxies in a row: the first address that is not one of them.
    let chain = format!("{forged}, {SECOND_TRUSTED}");
    let request = get(&stack, TRUSTED).header("X-Forwarded-For", &chain);
    // Caddy 2.6 has no trusted_proxies server option: its file takes the one address the
    // trusted peer reports (see its template), here the second proxy's; never the client's.
    let expected = if server == Proxy::Caddy {
        SECOND_TRUSTED
    } else {
        "198.51.100.7"
    };
    arrives_as(&stack, request, expected, "two trusted hops").await;
    // From any other address: that address, whatever the headers say.
    let request = get(&stack, UNTRUSTED)
        .header("X-Forwarded-For", forged)
        .header("X-Real-IP", "203.0.113.66")
        .header("Forwarded", "for=203.0.113.66");
    arrives_as(&stack, request, UNTRUSTED, "untrusted forged").await;
    arrives_as(&stack, get(&stack, UNTRUSTED), UNTRUSTED, "untrusted plain").await;
}

pub async fn client_address_over_ipv6(server: Proxy) {
    let v6 = |trusted: &'static str| Options {
        listen: ip("::1"),
        trusted_proxies: vec![trusted],
        ..Options::default()
    };
    let stack = Stack::start(server, v6("::1/128")).await;
    let request = get(&stack, "::1").header("X-Forwarded-For", "2001:db8::66, 2001:db8::7");
    arrives_as(&stack, request, "2001:db8::7", "v6 trusted chain").await;
    let request = get(&stack, "::1").header("X-Forwarded-For", "2001:db8::66, 198.51.100.7");
    arrives_as(&stack, request, "198.51.100.7", "v6 trusted v4 client").await;
    drop(stack);
    // ::1 is the only IPv6 loopback address: it plays the untrusted client of a proxy
    // that trusts another block.
    let stack = Stack::start(server, v6("127.0.0.2/32")).await;
    let request = get(&stack, "::1").header("X-Forwarded-For", "2001:db8::66, 2001:db8::7");
    arrives_as(&stack, request, "::1", "v6 untrusted forged").await;
}

/// `--cdn cloudflare`: the CDN's header from its ranges. The CDN's published ranges are
/// no loopback addresses, so 127.0.0.2 joins them with `--trusted-proxy` to play an edge
/// server of the CDN; the header and the refusal of everyone else are the CDN's.
pub async fn client_address_from_a_cdn(server: Proxy) {
    let stack = Stack::start(
        server,
        Options {
            trusted_proxies: vec!["127.0.0.2/32"],
            cdn: Some("cloudflare"),
            ..Options::default()
        },
    )
    .await;
    let request = get(&stack, TRUSTED)
        .header("CF-Connecting-IP", "198.51.100.7")
        .header("X-Forwarded-For", "203.0.113.66, 198.51.100.7");
    arrives_as(&stack, request, "198.51.100.7", "cdn edge").await;
    let request = get(&stack, TRUSTED)
        .header("CF-Connecting-IP", "2001:db8::7")
        .header("X-Forwarded-For", "203.0.113.66");
    arrives_as(&stack, request, "2001:db8::7", "cdn edge v6 client").await;
    // Straight to the origin with the CDN's header: ignored.
    let request = get(&stack, UNTRUSTED)
        .header("CF-Connecting-IP", "203.0.113.66")
        .header("X-Forwarded-For", "203.0.113.66");
    arrives_as(&stack, request, UNTRUSTED, "cdn header from elsewhere").await;
}

/// `--tls none` behind a trusted TLS terminator: the terminator's client.
pub async fn client_address_behind_a_tls_terminator(server: Proxy) {
    let stack = Stack::start(
        server,
        Options {
            plain: true,
            trusted_proxies: vec!["127.0.0.2/32"],
            ..Options::default()
        },
    )
    .await;
    let request = get(&stack, TRUSTED)
        .plain_http()
        .header("X-Forwarded-For", "198.51.100.7");
    arrives_as(&stack, request, "198.51.100.7", "terminator's client").await;
    let request = get(&stack, UNTRUSTED)
        .plain_http()
        .header("X-Forwarded-For", "198.51.100.7");
    arrives_as(&stack, request, UNTRUSTED, "past the terminator").await;
}

/// `--mas`: MAS gets the recovered address too, on its own host and on the compatibility
/// paths of the homeserver host. (MAS itself trusts X-Forwarded-For from the proxy's own
/// address only: http.trusted_proxies in the MAS fragment.)
pub async fn client_address_reaches_mas(server: Proxy) {
    let stack = Stack::start(
        server,
        Options {
            // The server name as homeserver host: Traefik routes well-known to Synapse.
            homeserver_host: Some("example.com".into()),
            mas: Some(MasOptions::default()),
            trusted_proxies: vec!["127.0.0.2/32"],
            ..Options::default()
        },
    )
    .await;
    let mas = stack.mas.as_ref().expect("a --mas stack");
    let forged = "203.0.113.66, 198.51.100.7";
    for (host, path) in [
        ("auth.example.com", "/oauth2/token"),
        ("example.com", "/_matrix/client/v3/login"),
    ] {
        let get = |source: &str| {
            Request::get(stack.site_address(), host, "/")
                .from(ip(source))
                .header("X-Forwarded-For", forged)
        };
        let what = format!("{host} trusted");
        arrives_at(&stack, mas, path, get(TRUSTED), "198.51.100.7", &what).await;
        let what = format!("{host} untrusted");
        arrives_at(&stack, mas, path, get(UNTRUSTED), UNTRUSTED, &what).await;
    }
}

/// `--rtc`: the authorization service (lk-jwt-service's stand-in: in no package registry)
/// gets the recovered address on each of its paths, as the homeserver does. LiveKit's
/// routes carry the same directives (see the rtc-trusted-proxy snapshots); the WebSocket
/// client here cannot pick its source address, so they are not measured on the wire.
pub async fn client_address_reaches_rtc(server: Proxy) {
    let stack = Stack::start(
        server,
        Options {
            homeserver: Some("synapse"),
            rtc: Some(RtcOptions::default()),
            trusted_proxies: vec!["127.0.0.2/32"],
            ..Options::default()
        },
    )
    .await;
    let auth = stack.rtc_auth.as_ref().expect("an --rtc stack");
    let host = stack.options.rtc_host().expect("an --rtc stack");
    let forged = "203.0.113.66, 198.51.100.7";
    for path in ["/sfu/get", "/get_token", "/delegate_delayed_leave"] {
        let post = |source: &str| {
            Request::get(stack.site_address(), &host, "/")
                .method("POST")
                .from(ip(source))
                .header("X-Forwarded-For", forged)
        };
        let what = format!("rtc {path} trusted");
        arrives_at(&stack, auth, path, post(TRUSTED), "198.51.100.7", &what).await;
        let what = format!("rtc {path} untrusted");
        arrives_at(&stack, auth, path, post(UNTRUSTED), UNTRUSTED, &what).await;
    }
}
