//! What clients reach behind `m.homeserver.base_url`: TLS, `/versions` and its CORS, and
//! what the proxy does to requests on the way (encoded paths, upload size).

use std::time::Duration;

use hyper::{Method, StatusCode};
use url::Url;

use super::client::{allows_any_origin, preflight_check};
use super::mas::mas_side;
use super::tls::tls_check;
use super::{Context, ORIGIN, fetch_fix};
use crate::check::fixes::{self, proxy_in_front};
use crate::check::net::{Endpoint, FetchError, Followed, Reply};
use crate::check::report::{CheckId, CheckResult, Status};
use crate::matrix::PROBE_PATH;
use crate::setup::Proxy;

/// How long the upload probe waits for a refusal before concluding the proxy accepted.
const UPLOAD_WINDOW: Duration = Duration::from_secs(2);

/// Everything behind the base URL: TLS, `/versions` with CORS, and the proxy probes.
pub(super) async fn homeserver_side(context: &Context, base: &Url) -> Vec<CheckResult> {
    let base_text = base.as_str().trim_end_matches('/');
    let versions_url =
        Url::parse(&format!("{base_text}{PROBE_PATH}")).expect("base URL plus a path");
    let endpoint = match Endpoint::from_url(base) {
        Ok(endpoint) => endpoint,
        Err(error) => {
            return vec![CheckResult::fail(
                CheckId::ClientVersions,
                error.to_string(),
                format!(
                    "fix m.homeserver.base_url\nor regenerate: {}",
                    context.generate("")
                ),
            )];
        }
    };
    let base_path = base.path().trim_end_matches('/').to_string();
    let versions_path = format!("{base_path}{PROBE_PATH}");
    let (tls, versions, preflight, encoded, upload, mas) = tokio::join!(
        context.net.handshake(&endpoint),
        context
            .net
            .get_following(&versions_url, &[("origin", ORIGIN)]),
        context.net.request(
            &endpoint,
            Method::OPTIONS,
            &versions_path,
            &[
                ("origin", ORIGIN),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "authorization"),
            ],
        ),
        encoded_path(context, &endpoint, &base_path),
        upload_limit(context, &endpoint, &base_path),
        mas_side(context, &endpoint, &base_path),
    );
    let proxy = match &versions {
        Ok(followed) => proxy_in_front(followed.last()),
        Err(_) => None,
    };
    let versions_reply = versions.as_ref().ok().map(Followed::last);
    let mut out = vec![
        tls_check(
            CheckId::TlsHomeserver,
            &endpoint,
            tls,
            "clients reach the homeserver's API there",
        ),
        versions_check(context, &versions_url, &endpoint, &versions),
        api_cors_check(context, &versions_url, versions_reply, preflight, proxy),
        encoded,
        upload_check(context, upload, proxy),
    ];
    out.extend(mas);
    out
}

/// The client-server API's validation step: `GET /_matrix/client/versions` under the base
/// URL answers with a `versions` list.
fn versions_check(
    context: &Context,
    url: &Url,
    endpoint: &Endpoint,
    answer: &Result<Followed, FetchError>,
) -> CheckResult {
    let followed = match answer {
        Ok(followed) => followed,
        Err(error) => {
            return CheckResult::fail(
                CheckId::ClientVersions,
                format!("{url}: {error} (clients: FAIL_ERROR)"),
                fetch_fix(context, error, "/_matrix/"),
            );
        }
    };
    let reply = followed.last();
    let versions: Vec<String> = reply
        .json()
        .and_then(|j| j.get("versions").cloned())
        .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
        .unwrap_or_default();
    if reply.status == StatusCode::OK && !versions.is_empty() {
        return CheckResult::pass(
            CheckId::ClientVersions,
            format!("{url}: {}", versions.join(", ")),
        );
    }
    CheckResult::fail(
        CheckId::ClientVersions,
        format!(
            "{url} answers {} without a `versions` list (clients: FAIL_ERROR)",
            reply.status
        ),
        format!(
            "forward /_matrix/ on {} to the homeserver\nor regenerate: {}",
            endpoint.host_header,
            context.generate("")
        ),
    )
}

/// CORS on the API: the `GET /versions` answer carries `Access-Control-Allow-Origin`, and so
/// does the preflight a browser sends before an authenticated request.
fn api_cors_check(
    context: &Context,
    url: &Url,
    versions: Option<&Reply>,
    preflight: Result<Reply, FetchError>,
    proxy: Option<Proxy>,
) -> CheckResult {
    if versions.is_some_and(|reply| !allows_any_origin(reply)) {
        return CheckResult::fail(
            CheckId::ClientApiCors,
            format!(
                "{url} answers without Access-Control-Allow-Origin: *; browser clients cannot use the API"
            ),
            format!(
                "the homeserver sends the CORS headers itself: do not strip them in the proxy (nginx proxy_hide_header, Apache Header unset)\n{}",
                fixes::cors(&context.name.host.authority(), "/_matrix/").for_proxy(proxy)
            ),
        );
    }
    let mut check = preflight_check(
        context,
        CheckId::ClientApiCors,
        url,
        preflight,
        proxy,
        "/_matrix/",
    );
    if check.status == Status::Pass {
        check.detail = format!(
            "GET and OPTIONS on /_matrix/client/versions: {}",
            check.detail
        );
    }
    check
}

/// Caddy's `request_body { max_size }` is applied while the body is read, not to the
/// Content-Length, so an announced upload says nothing about it (seen on Caddy 2.6).
fn upload_check(context: &Context, upload: CheckResult, proxy: Option<Proxy>) -> CheckResult {
    if upload.status == Status::Pass && proxy == Some(Proxy::Caddy) {
        CheckResult::skip(
            CheckId::ProxyUploadLimit,
            format!(
                "not visible from outside for Caddy: it applies `request_body {{ max_size }}` while reading the body, which this probe never sends; make sure max_size is at least {} in the homeserver's site",
                context.expect_upload_text
            ),
        )
    } else {
        upload
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Federation requests are signed over the raw path (server-server API "Request
/// Authentication"), so a proxy must pass it on byte for byte. The probe asks for a room
/// alias `#mxproxy-check/…:<server>` of exactly 255 bytes, the most the appendix "Room
/// Aliases" allows, with `/`, `#` and `:` encoded. A homeserver that gets the raw path looks
/// the alias up (404 M_NOT_FOUND). If the proxy decoded `%2F` (nginx with a URI in
/// proxy_pass), the path has an extra segment and no endpoint matches (404 M_UNRECOGNIZED,
/// which the spec requires for unknown endpoints). If it re-encoded `%2F` as `%252F`
/// (Apache without `nocanon`), the alias grows past 255 bytes and a homeserver that
/// enforces the limit (Conduit, through Ruma) refuses it as invalid (400).
async fn encoded_path(context: &Context, endpoint: &Endpoint, base_path: &str) -> CheckResult {
    let head = "#mxproxy-check/";
    let tail = format!(":{}", context.server_name());
    let padding = 255usize.saturating_sub(head.len() + tail.len()).max(1);
    let alias = format!("{head}{}{tail}", "x".repeat(padding));
    let path = format!(
        "{base_path}/_matrix/client/v3/directory/room/{}",
        encode_segment(&alias)
    );
    let reply = match context.net.request(endpoint, Method::GET, &path, &[]).await {
        Ok(reply) => reply,
        Err(error) => {
            return CheckResult::fail(
                CheckId::ProxyEncodedPath,
                format!("GET {path}: {error}"),
                fetch_fix(context, &error, "/_matrix/"),
            );
        }
    };
    let errcode = reply.errcode();
    let fix = fixes::raw_path(&context.name.host.authority()).for_proxy(proxy_in_front(&reply));
    match (reply.status, errcode.as_deref()) {
        (StatusCode::OK, _) | (StatusCode::NOT_FOUND, Some("M_NOT_FOUND")) => CheckResult::pass(
            CheckId::ProxyEncodedPath,
            format!(
                "GET …/directory/room/%23mxproxy-check%2Fx…%3A{} reached the homeserver unchanged ({} {})",
                context.server_name(),
                reply.status.as_u16(),
                errcode.unwrap_or_default()
            ),
        ),
        (StatusCode::NOT_FOUND, Some("M_UNRECOGNIZED")) => CheckResult::fail(
            CheckId::ProxyEncodedPath,
            "the homeserver saw an extra path segment: the proxy decoded %2F to `/`; \
             federation requests with encoded characters will fail with `Invalid signature`",
            fix,
        ),
        (StatusCode::BAD_REQUEST, _) => CheckResult::fail(
            CheckId::ProxyEncodedPath,
            format!(
                "the homeserver refused the 255-byte alias as invalid ({}): the proxy re-encoded \
                 the path (%2F as %252F makes it longer); signed federation requests will fail",
                errcode.unwrap_or_else(|| "no errcode".into())
            ),
            fix,
        ),
        (status, Some(code)) => CheckResult::warn(
            CheckId::ProxyEncodedPath,
            format!("inconclusive: the homeserver answered {status} {code} to the probe"),
            fix,
        ),
        (status, None) => CheckResult::fail(
            CheckId::ProxyEncodedPath,
            format!(
                "the answer {status} is no Matrix error: the proxy answered itself or the path no longer matched /_matrix/"
            ),
            fix,
        ),
    }
}

/// Announces an upload of `--expect-upload` bytes (Content-Length only, no body) and tells
/// a refusal by the proxy (413 without a Matrix errcode) from one by the homeserver.
async fn upload_limit(context: &Context, endpoint: &Endpoint, base_path: &str) -> CheckResult {
    let size = &context.expect_upload_text;
    let path = format!("{base_path}/_matrix/media/v3/upload");
    let answer = context
        .net
        .announce_upload(endpoint, &path, context.expect_upload, UPLOAD_WINDOW)
        .await;
    match answer {
        Ok(None) => CheckResult::pass(
            CheckId::ProxyUploadLimit,
            format!(
                "an upload of {size} ({} bytes) was announced and not refused: the proxy waited for the body (only Content-Length was sent; the homeserver's own limit is not tested)",
                context.expect_upload
            ),
        ),
        Ok(Some(reply)) if reply.status == StatusCode::PAYLOAD_TOO_LARGE => match reply.errcode() {
            Some(code) => CheckResult::fail(
                CheckId::ProxyUploadLimit,
                format!("the homeserver refuses an upload of {size} ({code}), not the proxy"),
                format!(
                    "raise the homeserver's limit (Conduit: CONDUIT_MAX_REQUEST_SIZE; Synapse: max_upload_size)\nor regenerate: {}",
                    context.generate(&format!("--max-upload {size}"))
                ),
            ),
            None => CheckResult::fail(
                CheckId::ProxyUploadLimit,
                format!(
                    "the proxy refuses an upload of {size} with 413 before the homeserver sees it"
                ),
                fixes::body_limit(&context.name.host.authority(), size)
                    .for_proxy(proxy_in_front(&reply)),
            ),
        },
        Ok(Some(reply)) => CheckResult::pass(
            CheckId::ProxyUploadLimit,
            format!(
                "the homeserver answered {} {} before the body: the proxy passed an upload of {size} on",
                reply.status.as_u16(),
                reply.errcode().unwrap_or_default()
            ),
        ),
        Err(error) => CheckResult::warn(
            CheckId::ProxyUploadLimit,
            format!("the upload probe got no answer: {error}"),
            fetch_fix(context, &error, "/_matrix/"),
        ),
    }
}
