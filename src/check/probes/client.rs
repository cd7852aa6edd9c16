//! Client discovery as a client does it (client-server API "Server Discovery"), and the
//! CORS headers a browser-based client needs on the way ("Web Browser Clients").

use hyper::Method;
use url::Url;

use super::homeserver::homeserver_side;
use super::well_known::{client_document, content_type_check};
use super::{Context, ORIGIN, fetch_fix};
use crate::check::fixes::{self, proxy_in_front};
use crate::check::net::{Endpoint, FetchError, Followed, Reply};
use crate::check::report::{CheckId, CheckResult};
use crate::setup::Proxy;

/// Client-server API "Server Discovery": `GET https://<hostname>/.well-known/matrix/client`,
/// then `GET <base_url>/_matrix/client/versions`.
pub(super) async fn client_side(context: &Context) -> Vec<CheckResult> {
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
    let mut proxy = None;
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
            proxy = proxy_in_front(reply);
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
                CheckId::MasAuthMetadata,
                CheckId::MasOpenidConfiguration,
                CheckId::MasCompatLogin,
                CheckId::MasInternalApi,
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

/// "Web Browser Clients": `Access-Control-Allow-Origin: *` on the document and, since
/// v1.20, on every redirect on the way to it.
fn cors_on_chain(context: &Context, followed: &Followed, proxy: Option<Proxy>) -> CheckResult {
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

pub(super) fn allows_any_origin(reply: &Reply) -> bool {
    reply
        .header_values("access-control-allow-origin")
        .iter()
        .any(|v| v.trim() == "*" || v.trim() == ORIGIN)
}

/// The OPTIONS preflight a browser sends before a request with an `Authorization`
/// header; "Web Browser Clients" asks servers to answer it with the CORS headers.
pub(super) fn preflight_check(
    context: &Context,
    id: CheckId,
    url: &Url,
    answer: Result<Reply, FetchError>,
    known_proxy: Option<Proxy>,
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
    let proxy = proxy_in_front(&reply).or(known_proxy);
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
