//! The checks. Each follows a section of the Matrix spec (matrix-org/matrix-spec):
//! - client-server API, content/client-server-api/_index.md "Server Discovery" (well-known
//!   URI, the IGNORE/FAIL_PROMPT/FAIL_ERROR outcomes, `/versions` as validation) and
//!   "Web Browser Clients" (CORS headers and the OPTIONS preflight);
//! - server-server API, content/server-server-api.md "Server discovery › Resolving server
//!   names" (steps 1–6 as numbered since v1.8, which added `_matrix-fed._tcp`), "Server
//!   implementation" (`/_matrix/federation/v1/version`) and "Retrieving server keys"
//!   (`/_matrix/key/v2/server`), plus its TLS paragraph (certificate for the expected name).
//!
//! Independent probes run concurrently; only what needs an earlier answer waits for it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::{Method, StatusCode};
use url::Url;

use super::fixes::{self, Proxy, generate_cmd};
use super::name::{MatrixName, NameHost};
use super::net::{Endpoint, FetchError, Followed, Net, Reply, TlsFacts, TlsFailure};
use super::report::{CheckId, CheckResult, Status};
use crate::defaults::WELL_KNOWN_MAX_AGE_SECONDS;
use crate::matrix::{FEDERATION_PORT, HTTPS_PORT, PROBE_PATH};

/// The Origin a browser-based client would send; `.invalid` can never be a real site.
const ORIGIN: &str = "https://mxproxy-check.invalid";
/// A certificate closer than this to its end is a renewal that did not happen.
const MIN_CERT_DAYS: i64 = 14;
/// How long the upload probe waits for a refusal before concluding the proxy accepted.
const UPLOAD_WINDOW: Duration = Duration::from_secs(2);

/// One run: the network every probe goes through, the server name under test and the flags
/// that shape the probes.
pub struct Context {
    pub net: Net,
    pub name: MatrixName,
    pub expect_upload: u64,
    pub expect_upload_text: String,
    pub no_federation: bool,
}

impl Context {
    fn server_name(&self) -> String {
        self.name.to_string()
    }

    fn generate(&self, extra: &str) -> String {
        generate_cmd(&self.name.host.authority(), extra)
    }
}

pub async fn run_all(context: &Context) -> (Vec<CheckResult>, Option<String>) {
    let well_known_endpoint = Endpoint {
        connect_host: context.name.host.clone(),
        port: HTTPS_PORT,
        tls_name: context.name.host.clone(),
        host_header: context.name.host.authority(),
    };
    let (tls, client, (federation, target)) = tokio::join!(
        context.net.handshake(&well_known_endpoint),
        client_side(context),
        federation_side(context),
    );
    let mut checks = vec![tls_check(
        CheckId::TlsServerName,
        &well_known_endpoint,
        tls,
        "it serves /.well-known/matrix/*",
    )];
    checks.extend(client);
    checks.extend(federation);
    checks.push(CheckResult::skip(
        CheckId::ProxyForwardedHeaders,
        "X-Forwarded-For and X-Forwarded-Proto reach only the homeserver, so they cannot be \
         seen from outside; compare the client addresses in the homeserver's log with real ones \
         (mxproxy's configs overwrite both headers)",
    ));
    checks.sort_by_key(|c| c.id);
    (checks, target)
}

// ---------------------------------------------------------------------------------------
// Client discovery

/// Client-server API "Server Discovery": `GET https://<hostname>/.well-known/matrix/client`,
/// then `GET <base_url>/_matrix/client/versions`.
async fn client_side(context: &Context) -> Vec<CheckResult> {
    let url = Url::parse(&format!(
        "https://{}/.well-known/matrix/client",
        context.name.host.authority()
    ))
    .expect("a validated host makes a valid URL");
    let endpoint = Endpoint::from_url(&url).expect("https URL");
    let (fetched, preflight) = tokio::join!(
        context.net.get_following(&url, &[("origin", ORIGIN)]),
        context.net.request(
            &endpoint,
            Method::OPTIONS,
            url.path(),
            &[("origin", ORIGIN), ("access-control-request-method", "GET")],
        ),
    );
    let mut out = Vec::new();
    let mut base_url = None;
    let mut proxy = Proxy::Unknown;
    match fetched {
        Err(error) => {
            let fix = fetch_fix(context, &error, "/.well-known/matrix/client");
            out.push(CheckResult::fail(
                CheckId::ClientWellKnown,
                format!("{url}: {error}"),
                fix,
            ));
            for id in [CheckId::ClientContentType, CheckId::ClientCors] {
                out.push(CheckResult::skip(
                    id,
                    "not checked: the document could not be fetched",
                ));
            }
        }
        Ok(followed) => {
            let reply = followed.last();
            proxy = Proxy::of(reply);
            let (check, found) = client_document(context, &followed);
            out.push(check);
            base_url = found;
            out.push(content_type_check(
                context,
                CheckId::ClientContentType,
                reply,
                proxy,
                true,
            ));
            out.push(cors_on_chain(context, &followed, proxy));
        }
    }
    out.push(preflight_check(
        context,
        CheckId::ClientCorsPreflight,
        &url,
        preflight,
        proxy,
        "/.well-known/matrix/client",
    ));
    match base_url {
        Some(base) => out.extend(homeserver_side(context, &base).await),
        None => {
            for id in [
                CheckId::TlsHomeserver,
                CheckId::ClientVersions,
                CheckId::ClientApiCors,
                CheckId::ProxyEncodedPath,
                CheckId::ProxyUploadLimit,
            ] {
                out.push(CheckResult::skip(
                    id,
                    "not checked: no usable m.homeserver.base_url",
                ));
            }
        }
    }
    out
}

/// Validates the client document; returns the base URL when it is usable.
fn client_document(context: &Context, followed: &Followed) -> (CheckResult, Option<Url>) {
    let at = followed.final_url();
    let fix_doc = format!(
        "serve {{\"m.homeserver\": {{\"base_url\": \"https://<homeserver host>\"}}}} at https://{}/.well-known/matrix/client\nor regenerate: {}",
        context.name.host.authority(),
        context.generate("--homeserver-host <homeserver host>")
    );
    let fail = |detail: String| {
        (
            CheckResult::fail(Reader::Clients.id(), detail, &fix_doc),
            None,
        )
    };
    let json = match well_known_json(at, followed.last(), Reader::Clients, &fix_doc) {
        Ok(json) => json,
        Err(check) => return (check, None),
    };
    let base = json
        .get("m.homeserver")
        .and_then(|h| h.get("base_url"))
        .and_then(|b| b.as_str());
    let Some(base) = base else {
        let swapped = if json.get("m.server").is_some() {
            " — it holds `m.server`, the server document's key: the two files look swapped"
        } else {
            ""
        };
        return fail(format!(
            "{at}: no m.homeserver.base_url{swapped} (clients: FAIL_PROMPT)"
        ));
    };
    match Url::parse(base) {
        Ok(url) if url.scheme() == "https" && url.host().is_some() => (
            CheckResult::pass(Reader::Clients.id(), format!("{at}: base_url {base}")),
            Some(url),
        ),
        Ok(url) => fail(format!(
            "{at}: base_url `{base}` is not an https URL (scheme `{}`)",
            url.scheme()
        )),
        Err(e) => fail(format!(
            "{at}: base_url `{base}` is no URL ({e}; clients: FAIL_ERROR)"
        )),
    }
}

/// Who reads a well-known document, and so what a broken one costs.
#[derive(Clone, Copy)]
enum Reader<'a> {
    /// Clients, through `/.well-known/matrix/client` (client-server API "Server Discovery").
    Clients,
    /// Other homeservers, through `/.well-known/matrix/server` (server-server API "Resolving
    /// server names" step 3); without it they go on to SRV and then port 8448 of `host`.
    Peers { host: &'a str },
}

impl Reader<'_> {
    fn id(self) -> CheckId {
        match self {
            Reader::Clients => CheckId::ClientWellKnown,
            Reader::Peers { .. } => CheckId::ServerWellKnown,
        }
    }
}

/// What both documents must be before their keys matter: a 200 whose body is a JSON object.
/// Otherwise the result says what the readers do instead.
fn well_known_json(
    at: &Url,
    reply: &Reply,
    reader: Reader,
    fix: &str,
) -> Result<serde_json::Value, CheckResult> {
    let id = reader.id();
    if reply.status == StatusCode::NOT_FOUND {
        return Err(match reader {
            // "If the returned status code is 404, then IGNORE": clients then ask for the URL.
            Reader::Clients => CheckResult::fail(
                id,
                format!(
                    "{at} answers 404: clients cannot find the homeserver from the user id and ask for its URL"
                ),
                fix,
            ),
            Reader::Peers { host } => CheckResult::warn(
                id,
                format!(
                    "{at} answers 404: no delegation, so peers try SRV records and then {host}:8448"
                ),
                fix,
            ),
        });
    }
    if reply.status != StatusCode::OK {
        let detail = match reader {
            Reader::Clients => format!("{at} answers {} (clients: FAIL_PROMPT)", reply.status),
            Reader::Peers { .. } => format!(
                "{at} answers {}: peers treat it as an error and fall back to SRV and port 8448",
                reply.status
            ),
        };
        return Err(CheckResult::fail(id, detail, fix));
    }
    reply.json().filter(|j| j.is_object()).ok_or_else(|| {
        let detail = match reader {
            Reader::Clients => {
                format!("{at}: the body is not a JSON object (clients: FAIL_PROMPT)")
            }
            Reader::Peers { .. } => format!(
                "{at}: the body is not a JSON object; peers ignore it and fall back to SRV and port 8448"
            ),
        };
        CheckResult::fail(id, detail, fix)
    })
}

/// Exactly one `Content-Type`, and it is `application/json`. Required for the client
/// document (Element X refuses others); a SHOULD for the server document.
fn content_type_check(
    context: &Context,
    id: CheckId,
    reply: &Reply,
    proxy: Proxy,
    required: bool,
) -> CheckResult {
    let values = reply.header_values("content-type");
    let fix = fixes::content_type(&context.name.host.authority()).for_proxy(proxy);
    let problem = match values.as_slice() {
        [] => Some("no Content-Type header".to_string()),
        [one] => {
            let essence = one
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            (essence != "application/json")
                .then(|| format!("Content-Type is `{one}`, not application/json"))
        }
        many => Some(format!(
            "{} Content-Type headers ({}); clients may take either",
            many.len(),
            many.join(" | ")
        )),
    };
    match (problem, required) {
        (None, _) => CheckResult::pass(id, format!("Content-Type: {}", values[0])),
        (Some(problem), true) => CheckResult::fail(id, problem, fix),
        (Some(problem), false) => CheckResult::warn(
            id,
            format!("{problem} (servers parse it anyway, but send application/json)"),
            fix,
        ),
    }
}

fn allows_any_origin(reply: &Reply) -> bool {
    reply
        .header_values("access-control-allow-origin")
        .iter()
        .any(|v| v.trim() == "*" || v.trim() == ORIGIN)
}

/// "Web Browser Clients": `Access-Control-Allow-Origin: *` on the document and, since
/// v1.20, on every redirect on the way to it.
fn cors_on_chain(context: &Context, followed: &Followed, proxy: Proxy) -> CheckResult {
    let missing: Vec<String> = followed
        .hops
        .iter()
        .filter(|(_, reply)| !allows_any_origin(reply))
        .map(|(url, reply)| format!("{url} ({})", reply.status.as_u16()))
        .collect();
    if missing.is_empty() {
        let redirects = followed.hops.len() - 1;
        let note = if redirects > 0 {
            format!(", on all {redirects} redirect(s) too")
        } else {
            String::new()
        };
        return CheckResult::pass(
            CheckId::ClientCors,
            format!("Access-Control-Allow-Origin: *{note}"),
        );
    }
    CheckResult::fail(
        CheckId::ClientCors,
        format!(
            "no Access-Control-Allow-Origin: * on {}; browser clients (Element Web) cannot read the document",
            missing.join(", ")
        ),
        fixes::cors(&context.name.host.authority(), "/.well-known/matrix/*").for_proxy(proxy),
    )
}

/// The OPTIONS preflight a browser sends before a request with an `Authorization`
/// header; "Web Browser Clients" asks servers to answer it with the CORS headers.
fn preflight_check(
    context: &Context,
    id: CheckId,
    url: &Url,
    answer: Result<Reply, FetchError>,
    known_proxy: Proxy,
    location: &str,
) -> CheckResult {
    let reply = match answer {
        Ok(reply) => reply,
        Err(error) => {
            return CheckResult::fail(
                id,
                format!("OPTIONS {url}: {error}"),
                fetch_fix(context, &error, location),
            );
        }
    };
    let proxy = match Proxy::of(&reply) {
        Proxy::Unknown => known_proxy,
        found => found,
    };
    let methods = reply
        .header("access-control-allow-methods")
        .unwrap_or_default();
    let fix = fixes::cors(&context.name.host.authority(), location).for_proxy(proxy);
    if !reply.status.is_success() {
        return CheckResult::fail(
            id,
            format!(
                "OPTIONS {url} answers {}; browsers then refuse the request",
                reply.status
            ),
            fix,
        );
    }
    if !allows_any_origin(&reply) {
        return CheckResult::fail(
            id,
            format!("OPTIONS {url} answers without Access-Control-Allow-Origin: *"),
            fix,
        );
    }
    let lists_get = methods.split(',').any(|m| matches!(m.trim(), "GET" | "*"));
    if !lists_get {
        return CheckResult::warn(
            id,
            format!("OPTIONS {url}: Access-Control-Allow-Methods is `{methods}`, without GET"),
            fix,
        );
    }
    CheckResult::pass(
        id,
        format!(
            "OPTIONS answers {} with Access-Control-Allow-Methods: {methods}",
            reply.status.as_u16()
        ),
    )
}

/// Everything behind the base URL: TLS, `/versions` with CORS, and the proxy probes.
async fn homeserver_side(context: &Context, base: &Url) -> Vec<CheckResult> {
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
    let (tls, versions, preflight, encoded, upload) = tokio::join!(
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
    );
    let proxy = match &versions {
        Ok(followed) => Proxy::of(followed.last()),
        Err(_) => Proxy::Unknown,
    };
    let versions_reply = versions.as_ref().ok().map(Followed::last);
    vec![
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
    ]
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
    proxy: Proxy,
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
fn upload_check(context: &Context, upload: CheckResult, proxy: Proxy) -> CheckResult {
    if upload.status == Status::Pass && proxy == Proxy::Caddy {
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
    let fix = fixes::raw_path(&context.name.host.authority()).for_proxy(Proxy::of(&reply));
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
                    .for_proxy(Proxy::of(&reply)),
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

// ---------------------------------------------------------------------------------------
// Federation

/// Where discovery sent federation traffic, and why.
struct Target {
    endpoint: Endpoint,
    /// "step 3.2 (well-known m.server …)".
    how: String,
    /// The SRV record that decided, if one did: the first suspect when traffic goes astray.
    srv: Option<String>,
    /// Port 8448 chosen by default (steps 3.5 and 6).
    default_port: bool,
    /// Found through the deprecated `_matrix._tcp` SRV record.
    deprecated_srv: bool,
}

async fn federation_side(context: &Context) -> (Vec<CheckResult>, Option<String>) {
    let ids = [
        CheckId::ServerWellKnown,
        CheckId::ServerDiscovery,
        CheckId::TlsFederation,
        CheckId::FederationVersion,
        CheckId::FederationKeys,
    ];
    if context.no_federation {
        return (
            ids.iter()
                .map(|id| CheckResult::skip(*id, "not checked: --no-federation"))
                .collect(),
            None,
        );
    }
    let (mut out, target) = discover(context).await;
    let Some(target) = target else {
        for id in &ids[2..] {
            out.push(CheckResult::skip(
                *id,
                "not checked: discovery found no target",
            ));
        }
        return (out, None);
    };
    let where_to = format!(
        "{} (certificate for {}, Host: {})",
        target.endpoint.describe(),
        target.endpoint.tls_name.authority(),
        target.endpoint.host_header
    );
    let (tls, version, keys) = tokio::join!(
        context.net.handshake(&target.endpoint),
        context.net.request(
            &target.endpoint,
            Method::GET,
            "/_matrix/federation/v1/version",
            &[]
        ),
        context
            .net
            .request(&target.endpoint, Method::GET, "/_matrix/key/v2/server", &[]),
    );
    out.push(tls_check(
        CheckId::TlsFederation,
        &target.endpoint,
        tls,
        "other homeservers connect there",
    ));
    out.push(version_check(context, &target, version));
    out.push(match keys {
        Err(error) => CheckResult::fail(
            CheckId::FederationKeys,
            format!("{}: {error}", target.endpoint.describe()),
            target_fix(context, &target, &error.to_string()),
        ),
        Ok(reply) => keys_check(context, &target, &reply),
    });
    (out, Some(where_to))
}

/// Server-server API "Server implementation": `GET /_matrix/federation/v1/version` at the
/// target names the homeserver software that federation reaches.
fn version_check(
    context: &Context,
    target: &Target,
    answer: Result<Reply, FetchError>,
) -> CheckResult {
    let reply = match answer {
        Ok(reply) => reply,
        Err(error) => {
            return CheckResult::fail(
                CheckId::FederationVersion,
                format!("{}: {error}", target.how),
                target_fix(context, target, &error.to_string()),
            );
        }
    };
    let server = reply.json().and_then(|j| j.get("server").cloned());
    match (reply.status, server) {
        (StatusCode::OK, Some(server)) => CheckResult::pass(
            CheckId::FederationVersion,
            format!(
                "{} [{}]: {} {}",
                target.endpoint.describe(),
                reply.peer,
                server.get("name").and_then(|v| v.as_str()).unwrap_or("?"),
                server.get("version").and_then(|v| v.as_str()).unwrap_or("")
            ),
        ),
        (status, _) => CheckResult::fail(
            CheckId::FederationVersion,
            format!(
                "/_matrix/federation/v1/version on {} answers {status} without a `server` object",
                target.endpoint.describe()
            ),
            target_fix(context, target, "no homeserver answers there"),
        ),
    }
}

fn keys_check(context: &Context, target: &Target, reply: &Reply) -> CheckResult {
    let json = reply.json().unwrap_or_default();
    let server_name = json.get("server_name").and_then(|v| v.as_str());
    let key_count = json
        .get("verify_keys")
        .and_then(|v| v.as_object())
        .map_or(0, |keys| keys.len());
    let expected = context.server_name();
    match server_name {
        _ if reply.status != StatusCode::OK => CheckResult::fail(
            CheckId::FederationKeys,
            format!(
                "/_matrix/key/v2/server on {} answers {}",
                target.endpoint.describe(),
                reply.status
            ),
            target_fix(context, target, "no homeserver keys there"),
        ),
        Some(name) if name == expected && key_count > 0 => CheckResult::pass(
            CheckId::FederationKeys,
            format!("server_name {name}, {key_count} verify key(s)"),
        ),
        Some(name) if name == expected => CheckResult::fail(
            CheckId::FederationKeys,
            format!("server_name {name}, but no verify_keys"),
            "the homeserver publishes no signing key: check its logs and key storage",
        ),
        Some(name) => CheckResult::fail(
            CheckId::FederationKeys,
            format!(
                "federation traffic for {expected} reaches the homeserver of `{name}` at {} ({})",
                target.endpoint.describe(),
                target.how
            ),
            target_fix(
                context,
                target,
                &format!("that homeserver's server_name is `{name}`"),
            ),
        ),
        None => CheckResult::fail(
            CheckId::FederationKeys,
            format!(
                "/_matrix/key/v2/server on {} has no server_name",
                target.endpoint.describe()
            ),
            target_fix(context, target, "no Matrix key document there"),
        ),
    }
}

/// The fix when federation traffic does not reach the right homeserver: the step that
/// sent it there is what to change.
fn target_fix(context: &Context, target: &Target, why: &str) -> String {
    let host = context.name.host.authority();
    let mut lines = vec![format!(
        "federation goes to {} because of {}; {why}",
        target.endpoint.describe(),
        target.how
    )];
    if let Some(record) = &target.srv {
        lines.push(format!(
            "delete or correct the SRV record {record}, or publish an explicit port in m.server (\"matrix.{host}:443\"): an explicit port skips SRV"
        ));
    }
    if target.default_port {
        lines.push(format!(
            "publish m.server with :443 if federation is served on 443 ({}), or listen on 8448 ({})",
            context.generate(""),
            context.generate("--federation-port 8448")
        ));
    }
    lines.push(format!(
        "the homeserver there must answer /_matrix/federation/ and /_matrix/key/ for {}\nor regenerate: {}",
        context.server_name(),
        context.generate("")
    ));
    lines.join("\n")
}

/// Server-server API "Resolving server names", steps 1–6.
async fn discover(context: &Context) -> (Vec<CheckResult>, Option<Target>) {
    let name = &context.name;
    let mut out = Vec::new();
    // Step 1: an IP literal; the certificate must be for the IP, Host is the server name.
    if let NameHost::Ip(ip) = &name.host {
        out.push(CheckResult::skip(
            CheckId::ServerWellKnown,
            "not consulted: the server name is an IP literal (step 1)",
        ));
        let port = name.port.map_or(FEDERATION_PORT, |p| p.get());
        let target = Target {
            endpoint: Endpoint {
                connect_host: NameHost::Ip(*ip),
                port,
                tls_name: NameHost::Ip(*ip),
                host_header: name.host_header(),
            },
            how: "step 1 (IP literal)".into(),
            srv: None,
            default_port: name.port.is_none(),
            deprecated_srv: false,
        };
        out.push(discovery_check(context, &target).await);
        return (out, Some(target));
    }
    // Step 2: a host name with an explicit port: no well-known, no SRV.
    if let Some(port) = name.port {
        out.push(CheckResult::skip(
            CheckId::ServerWellKnown,
            "not consulted: the server name has an explicit port (step 2)",
        ));
        let target = Target {
            endpoint: Endpoint {
                connect_host: name.host.clone(),
                port: port.get(),
                tls_name: name.host.clone(),
                host_header: name.host_header(),
            },
            how: "step 2 (explicit port)".into(),
            srv: None,
            default_port: false,
            deprecated_srv: false,
        };
        out.push(discovery_check(context, &target).await);
        return (out, Some(target));
    }
    // Step 3: /.well-known/matrix/server.
    let url = Url::parse(&format!(
        "https://{}/.well-known/matrix/server",
        name.host.authority()
    ))
    .expect("a validated host makes a valid URL");
    let fetched = context.net.get_following(&url, &[]).await;
    let (check, delegated) = server_document(context, &url, fetched);
    out.push(check);
    let target = match delegated {
        Some(delegated) => delegated_target(context, &delegated).await,
        None => {
            let host = name.host.authority();
            // Steps 4 and 5: SRV on the server name; certificate and Host stay the name.
            match srv_target(context, &host, &name.host, &host, "4", "5").await {
                Ok(Some(target)) => target,
                Ok(None) => Target {
                    endpoint: Endpoint {
                        connect_host: name.host.clone(),
                        port: FEDERATION_PORT,
                        tls_name: name.host.clone(),
                        host_header: host.clone(),
                    },
                    how: "step 6 (no well-known, no SRV: port 8448 of the server name)".into(),
                    srv: None,
                    default_port: true,
                    deprecated_srv: false,
                },
                Err(check) => {
                    out.push(check);
                    return (out, None);
                }
            }
        }
    };
    out.push(discovery_check(context, &target).await);
    (out, Some(target))
}

/// Step 3's sub-steps for a valid `m.server`.
async fn delegated_target(context: &Context, delegated: &MatrixName) -> Target {
    let m_server = delegated.to_string();
    match (&delegated.host, delegated.port) {
        // 3.1: an IP literal; certificate for the IP; Host is the IP (and port).
        (NameHost::Ip(ip), port) => Target {
            endpoint: Endpoint {
                connect_host: NameHost::Ip(*ip),
                port: port.map_or(FEDERATION_PORT, |p| p.get()),
                tls_name: NameHost::Ip(*ip),
                host_header: delegated.host_header(),
            },
            how: format!("step 3.1 (well-known m.server {m_server}, an IP literal)"),
            srv: None,
            default_port: port.is_none(),
            deprecated_srv: false,
        },
        // 3.2: host and port; certificate for the host; Host is `host:port`.
        (host, Some(port)) => Target {
            endpoint: Endpoint {
                connect_host: host.clone(),
                port: port.get(),
                tls_name: host.clone(),
                host_header: delegated.host_header(),
            },
            how: format!("step 3.2 (well-known m.server {m_server})"),
            srv: None,
            default_port: false,
            deprecated_srv: false,
        },
        // 3.3–3.5: SRV on the delegated host, else its port 8448.
        (host, None) => {
            let name = host.authority();
            match srv_target(context, &name, host, &name, "3.3", "3.4").await {
                Ok(Some(mut target)) => {
                    target.how = format!(
                        "{} after well-known m.server {m_server} without a port",
                        target.how
                    );
                    target
                }
                Ok(None) | Err(_) => Target {
                    endpoint: Endpoint {
                        connect_host: host.clone(),
                        port: FEDERATION_PORT,
                        tls_name: host.clone(),
                        host_header: name.clone(),
                    },
                    how: format!(
                        "step 3.5 (well-known m.server {m_server} without a port, no SRV: port 8448)"
                    ),
                    srv: None,
                    default_port: true,
                    deprecated_srv: false,
                },
            }
        }
    }
}

/// `_matrix-fed._tcp.<name>`, then the deprecated `_matrix._tcp.<name>`. The certificate
/// and `Host` stay `tls_name`/`host_header`, whatever the SRV target is.
async fn srv_target(
    context: &Context,
    name: &str,
    tls_name: &NameHost,
    host_header: &str,
    step: &str,
    deprecated_step: &str,
) -> Result<Option<Target>, CheckResult> {
    for (service, step, deprecated) in [
        ("_matrix-fed._tcp", step, false),
        ("_matrix._tcp", deprecated_step, true),
    ] {
        let record = format!("{service}.{name}");
        let found = context.net.srv(&record).await.map_err(|reason| {
            CheckResult::fail(
                CheckId::ServerDiscovery,
                format!("SRV look-up of {record} failed: {reason}"),
                "make DNS answer (other homeservers need SRV look-ups to succeed or to say there is no record); with a private resolver pass --dns-server ADDR:PORT",
            )
        })?;
        let Some((target, port)) = found.into_iter().next() else {
            continue;
        };
        let connect_host =
            target
                .parse()
                .map(NameHost::Dns)
                .map_err(|e: crate::setup::Invalid| {
                    CheckResult::fail(
                        CheckId::ServerDiscovery,
                        format!("SRV {record} points to `{target}`, which {}", e.reason),
                        format!("correct or delete the SRV record {record}"),
                    )
                })?;
        let note = if deprecated {
            ", deprecated: publish _matrix-fed._tcp instead"
        } else {
            ""
        };
        return Ok(Some(Target {
            endpoint: Endpoint {
                connect_host,
                port,
                tls_name: tls_name.clone(),
                host_header: host_header.to_string(),
            },
            how: format!("step {step} (SRV {record} -> {target}:{port}{note})"),
            srv: Some(record),
            default_port: false,
            deprecated_srv: deprecated,
        }));
    }
    Ok(None)
}

/// Reports which step decided and whether the target resolves.
async fn discovery_check(context: &Context, target: &Target) -> CheckResult {
    let endpoint = &target.endpoint;
    match context
        .net
        .resolve(&endpoint.connect_host, endpoint.port)
        .await
    {
        Err(error) => CheckResult::fail(
            CheckId::ServerDiscovery,
            format!("{}: {error}", target.how),
            target_fix(context, target, "its name does not resolve"),
        ),
        Ok(addrs) => {
            let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            let detail = format!(
                "{}: federation goes to {} [{}], certificate for {}, Host: {}",
                target.how,
                endpoint.describe(),
                addrs.join(", "),
                endpoint.tls_name.authority(),
                endpoint.host_header
            );
            if target.deprecated_srv {
                CheckResult::warn(
                    CheckId::ServerDiscovery,
                    detail,
                    "_matrix._tcp is deprecated (its name is not IANA-registered): publish the same record as _matrix-fed._tcp, or better, /.well-known/matrix/server",
                )
            } else {
                CheckResult::pass(CheckId::ServerDiscovery, detail)
            }
        }
    }
}

/// Step 3's document: valid means 200, a JSON object and an `m.server` in the server-name
/// grammar (no scheme, no path). Anything else sends peers to step 4.
fn server_document(
    context: &Context,
    url: &Url,
    fetched: Result<Followed, FetchError>,
) -> (CheckResult, Option<MatrixName>) {
    let host = context.name.host.authority();
    let reader = Reader::Peers { host: &host };
    let fix_doc = format!(
        "serve {{\"m.server\": \"<homeserver host>:443\"}} at {url} (an explicit :443 when federation rides on 443)\nor regenerate: {}",
        context.generate("")
    );
    let fail = |detail: String| (CheckResult::fail(reader.id(), detail, &fix_doc), None);
    let followed = match fetched {
        Ok(followed) => followed,
        Err(error) => {
            return (
                CheckResult::fail(
                    reader.id(),
                    format!("{url}: {error}; peers fall back to SRV and port 8448"),
                    fetch_fix(context, &error, "/.well-known/matrix/server"),
                ),
                None,
            );
        }
    };
    let reply = followed.last();
    let json = match well_known_json(url, reply, reader, &fix_doc) {
        Ok(json) => json,
        Err(check) => return (check, None),
    };
    let Some(m_server) = json.get("m.server").and_then(|v| v.as_str()) else {
        let why = if json.get("m.homeserver").is_some() {
            "it holds `m.homeserver` and no `m.server`: the client and server documents look swapped"
        } else {
            "no `m.server` key"
        };
        return fail(format!(
            "{url}: {why}; peers ignore it and fall back to SRV and port 8448"
        ));
    };
    match m_server.parse::<MatrixName>() {
        Ok(delegated) => (
            delegation_check(context, reply, &delegated),
            Some(delegated),
        ),
        Err(e) => fail(format!("{url}: m.server `{m_server}` {}", e.reason)),
    }
}

/// A usable `m.server`: what is left to judge is how long peers cache it and its
/// Content-Type.
fn delegation_check(context: &Context, reply: &Reply, delegated: &MatrixName) -> CheckResult {
    let max_age = max_age(reply);
    let cache = match max_age {
        Some(secs) => format!(
            "peers cache it for {} (Cache-Control max-age={secs})",
            human_duration(secs)
        ),
        None => "no Cache-Control: peers cache it for the spec's default of 24 h".into(),
    };
    let detail = format!("m.server {delegated}; {cache}");
    let content_type = content_type_check(
        context,
        CheckId::ServerWellKnown,
        reply,
        Proxy::of(reply),
        false,
    );
    if content_type.status != Status::Pass {
        CheckResult {
            detail: format!("{detail}; {}", content_type.detail),
            ..content_type
        }
    } else if max_age.is_some_and(|secs| secs > 48 * 3600) {
        CheckResult::warn(
            CheckId::ServerWellKnown,
            format!(
                "{detail}; the spec recommends at most 48 h, so a fix takes long to reach peers"
            ),
            format!(
                "nginx: add_header Cache-Control \"max-age={WELL_KNOWN_MAX_AGE_SECONDS}\" always; or regenerate: "
            ) + &context.generate(""),
        )
    } else {
        CheckResult::pass(CheckId::ServerWellKnown, detail)
    }
}

/// Peers honour `Cache-Control: max-age` on the server document (default 24 h, at most 48 h
/// recommended).
fn max_age(reply: &Reply) -> Option<u64> {
    reply
        .header_values("cache-control")
        .iter()
        .flat_map(|value| value.split(','))
        .find_map(|directive| directive.trim().strip_prefix("max-age=")?.parse().ok())
}

fn human_duration(secs: u64) -> String {
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

// ---------------------------------------------------------------------------------------
// TLS and shared fixes

/// The certificate must be valid for the name the spec says is checked (the delegated
/// name, not the SRV target or the IP), not expire within 14 days, over TLS ≥ 1.2.
fn tls_check(
    id: CheckId,
    endpoint: &Endpoint,
    result: Result<TlsFacts, FetchError>,
    role: &str,
) -> CheckResult {
    let name = endpoint.tls_name.authority();
    let at = endpoint.describe();
    match result {
        Ok(facts) => {
            let version = facts.version.unwrap_or_else(|| "TLS".into());
            let Some(cert) = facts.cert else {
                return CheckResult::pass(
                    id,
                    format!("{at}: {version}, certificate valid for {name}"),
                );
            };
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let days = (cert.not_after - now) / 86_400;
            if days < MIN_CERT_DAYS {
                return CheckResult::fail(
                    id,
                    format!(
                        "{at}: the certificate for {name} expires in {days} day(s); renewal is not working"
                    ),
                    renew_fix(&name),
                );
            }
            CheckResult::pass(
                id,
                format!("{at}: {version}, certificate valid for {name} ({days} more days)"),
            )
        }
        Err(FetchError::Tls { addr, error, cert }) => {
            let presented = cert
                .as_ref()
                .map(|c| format!(" (it names {})", c.names.join(", ")))
                .unwrap_or_default();
            let fix = match error {
                TlsFailure::Expired | TlsFailure::NotYetValid => renew_fix(&name),
                TlsFailure::WrongName => format!(
                    "use a certificate whose subjectAltName includes {name} ({role}): certbot certonly -d {name} …, or mxproxy generate --tls-cert with such a certificate"
                ),
                TlsFailure::UnknownIssuer => "serve the full chain (fullchain.pem, not cert.pem: nginx ssl_certificate, Apache SSLCertificateFile); a private CA works only with --ca-file here, never for other homeservers".into(),
                TlsFailure::NoCommonVersion => "enable TLS 1.2 and 1.3: nginx `ssl_protocols TLSv1.2 TLSv1.3;`, Apache `SSLProtocol -all +TLSv1.2 +TLSv1.3`".into(),
                TlsFailure::Other(_) => format!("check the TLS setup of {at}"),
            };
            CheckResult::fail(id, format!("{addr} for {name}: {error}{presented}"), fix)
        }
        Err(error) => CheckResult::fail(
            id,
            format!("{at}: {error}"),
            format!("make {at} answer HTTPS ({role})"),
        ),
    }
}

fn renew_fix(name: &str) -> String {
    format!(
        "renew the certificate for {name} (certbot renew; Caddy renews by itself) and reload the proxy; check the renewal timer (systemctl list-timers certbot)"
    )
}

/// A fix for a request that got no answer at all.
fn fetch_fix(context: &Context, error: &FetchError, location: &str) -> String {
    match error {
        FetchError::Resolve { host, .. } => format!(
            "publish an A/AAAA record for {host} (or pass --resolve {host}:443:ADDR to test a host not yet in DNS)"
        ),
        FetchError::Connect { tried, .. } => {
            let tried: Vec<String> = tried.iter().map(ToString::to_string).collect();
            format!(
                "make the proxy listen on {} (firewall, listen directive)\nor regenerate: {}",
                tried.join(", "),
                context.generate("")
            )
        }
        FetchError::Tls { .. } => "fix the certificate first: see the tls.* checks".into(),
        FetchError::TooManyRedirects(_) => format!(
            "serve {location} directly with 200 on the server name (no redirect, or one that ends)"
        ),
        FetchError::TooLarge(_) | FetchError::Timeout(_) => format!(
            "serve {location} as a small JSON document that answers at once; the server sends something else"
        ),
        FetchError::Http(_) | FetchError::BadUrl(_) => format!(
            "serve {location} over HTTPS with HTTP/1.1\nor regenerate: {}",
            context.generate("")
        ),
    }
}
