//! The two documents under `/.well-known/matrix/`: `client` (client-server API "Server
//! Discovery") and `server` (server-server API "Resolving server names" step 3). Both must be
//! a 200 with a JSON object before their keys count.

use hyper::StatusCode;
use url::Url;

use super::{Context, fetch_fix};
use crate::check::fixes::{self, proxy_in_front};
use crate::check::name::MatrixName;
use crate::check::net::{FetchError, Followed, Reply};
use crate::check::report::{CheckId, CheckResult, Status};
use crate::defaults::WELL_KNOWN_MAX_AGE_SECONDS;
use crate::setup::Proxy;

/// Validates the client document; returns the base URL when it is usable.
pub(super) fn client_document(
    context: &Context,
    followed: &Followed,
) -> (CheckResult, Option<Url>) {
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

/// Step 3's document: valid means 200, a JSON object and an `m.server` in the server-name
/// grammar (no scheme, no path). Anything else sends peers to step 4.
pub(super) fn server_document(
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
        proxy_in_front(reply),
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

/// Exactly one `Content-Type`, and it is `application/json`. Required for the client
/// document (Element X refuses others); a SHOULD for the server document.
pub(super) fn content_type_check(
    context: &Context,
    id: CheckId,
    reply: &Reply,
    proxy: Option<Proxy>,
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
