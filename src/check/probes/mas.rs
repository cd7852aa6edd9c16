//! A homeserver that hands login to the Matrix Authentication Service (MAS, MSC3861): what
//! clients see of it through the proxy. Sources:
//! - client-server API "OAuth 2.0 API › Server metadata discovery" (added in v1.15,
//!   spec.matrix.org/v1.15/client-server-api/#get_matrixclientv1auth_metadata; MSC2965):
//!   `GET /_matrix/client/v1/auth_metadata`; Synapse serves it, and the unstable
//!   `org.matrix.msc2965/auth_metadata` and `auth_issuer`, only when it delegates auth, else
//!   no servlet answers (element-hq/synapse synapse/rest/client/auth_metadata.py);
//! - OpenID Connect Discovery 1.0 §4: `<issuer>/.well-known/openid-configuration`, whose
//!   `issuer` MUST be identical to the issuer it was fetched for (§4.3); MAS answers it on
//!   its `discovery` resource with CORS for browser clients;
//! - MAS's compatibility layer answers `GET /_matrix/client/v3/login` with an `m.login.sso`
//!   flow marked `org.matrix.msc3824.delegated_oidc_compatibility: true`
//!   (element-hq/matrix-authentication-service crates/handlers/src/compat/login.rs), which
//!   Synapse's own login servlet never sends and does not even register while MAS is
//!   enabled (synapse/rest/client/login.py `register_servlets`): it answers 404 M_UNRECOGNIZED;
//! - Synapse's internal API for MAS, `/_synapse/mas/*` (synapse/rest/synapse/mas/), answers
//!   everyone but MAS with 403 and a Matrix error body (`_base.py`
//!   `assert_request_is_from_mas`): from outside a proxy must refuse it itself.

use hyper::{Method, StatusCode};
use url::Url;

use super::client::allows_any_origin;
use super::{Context, ORIGIN, fetch_fix};
use crate::check::fixes::{self, proxy_in_front};
use crate::check::net::{Endpoint, FetchError, Reply};
use crate::check::report::{CheckId, CheckResult};

/// Where clients find the issuer, newest first: the stable path, then MSC2965's unstable
/// ones that older clients still ask (Synapse serves all three from one servlet pair).
const METADATA_PATHS: [&str; 3] = [
    "/_matrix/client/v1/auth_metadata",
    "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata",
    "/_matrix/client/unstable/org.matrix.msc2965/auth_issuer",
];

/// One compatibility path; the proxies route the whole family by one rule.
const COMPAT_LOGIN_PATH: &str = "/_matrix/client/v3/login";

/// MAS's mark on the SSO flow (MSC3824's unstable name, which MAS sends), and the stable
/// name clients also read (`oauth_aware_preferred`), should MAS move to it.
const MAS_FLOW_MARKS: [&str; 2] = [
    "org.matrix.msc3824.delegated_oidc_compatibility",
    "oauth_aware_preferred",
];

/// An endpoint of Synapse's internal API for MAS that only reads
/// (`is_localpart_available`, users.py); a probe from outside changes nothing.
const INTERNAL_PROBE: &str = "/_synapse/mas/is_localpart_available?localpart=mxproxy-check";

const IDS: [CheckId; 4] = [
    CheckId::MasAuthMetadata,
    CheckId::MasOpenidConfiguration,
    CheckId::MasCompatLogin,
    CheckId::MasInternalApi,
];

/// What the homeserver host said about the issuer.
enum Discovery {
    /// `path` answered with `issuer`; `v1_missing` when only an unstable path did.
    Found {
        path: &'static str,
        issuer: String,
        v1_missing: Option<String>,
    },
    /// No path named an issuer: the answers, as `path: status errcode`.
    None(Vec<String>),
    Failed(String, FetchError),
}

/// Every MAS check, below the homeserver's base URL `endpoint` + `base_path`.
pub(super) async fn mas_side(
    context: &Context,
    endpoint: &Endpoint,
    base_path: &str,
) -> Vec<CheckResult> {
    let (path, issuer, v1_missing) = match discover(context, endpoint, base_path).await {
        Discovery::Found {
            path,
            issuer,
            v1_missing,
        } => (path, issuer, v1_missing),
        Discovery::None(answers) => return not_announced(context, &answers),
        Discovery::Failed(path, error) => {
            let mut out = vec![CheckResult::fail(
                CheckId::MasAuthMetadata,
                format!("GET {path}: {error}"),
                fetch_fix(context, &error, "/_matrix/"),
            )];
            out.extend(skipped("not checked: auth_metadata got no answer"));
            return out;
        }
    };
    let generate = context.generate(&mas_flags(
        &context.name.host.authority(),
        &endpoint.host_header,
        &issuer,
    ));
    let metadata = match v1_missing {
        None => CheckResult::pass(
            CheckId::MasAuthMetadata,
            format!("GET {path} on {}: issuer {issuer}", endpoint.host_header),
        ),
        Some(v1) => CheckResult::warn(
            CheckId::MasAuthMetadata,
            format!(
                "only the unstable {path} names the issuer ({issuer}); {v1}: clients of Matrix v1.15 and later ask there first"
            ),
            format!(
                "forward all of /_matrix/ on {} to Synapse, which answers v1/auth_metadata with the unstable paths (one servlet, synapse/rest/client/auth_metadata.py); upgrade a Synapse that does not\nor regenerate: {generate}",
                endpoint.host_header
            ),
        ),
    };
    let (openid, compat, internal) = tokio::join!(
        openid_configuration(context, &issuer, &generate),
        compat_login(context, endpoint, base_path, &generate),
        internal_api(context, endpoint, base_path, &generate),
    );
    vec![metadata, openid, compat, internal]
}

fn skipped(why: &str) -> Vec<CheckResult> {
    IDS[1..]
        .iter()
        .map(|id| CheckResult::skip(*id, why))
        .collect()
}

/// No issuer announced: a homeserver without MAS is fine, unless `--mas` says it has one.
fn not_announced(context: &Context, answers: &[String]) -> Vec<CheckResult> {
    let seen = answers.join("; ");
    let first = if context.expect_mas {
        CheckResult::fail(
            CheckId::MasAuthMetadata,
            format!("no issuer announced ({seen}): clients cannot find MAS"),
            format!(
                "enable `matrix_authentication_service` in Synapse's config, and forward /_matrix/client/v1/auth_metadata to Synapse, not MAS\nor regenerate: {}",
                context.generate("--homeserver synapse --mas")
            ),
        )
    } else {
        CheckResult::skip(
            CheckId::MasAuthMetadata,
            format!("the homeserver does not delegate login ({seen}); pass --mas if it should"),
        )
    };
    let mut out = vec![first];
    out.extend(skipped("not checked: the homeserver announces no MAS"));
    out
}

async fn discover(context: &Context, endpoint: &Endpoint, base_path: &str) -> Discovery {
    let mut answers = Vec::new();
    for path in METADATA_PATHS {
        let full = format!("{base_path}{path}");
        let reply = match context
            .net
            .request(endpoint, Method::GET, &full, &[("origin", ORIGIN)])
            .await
        {
            Ok(reply) => reply,
            Err(error) => return Discovery::Failed(full, error),
        };
        let issuer = reply
            .json()
            .filter(|_| reply.status == StatusCode::OK)
            .and_then(|json| Some(json.get("issuer")?.as_str()?.to_string()));
        match issuer {
            Some(issuer) => {
                return Discovery::Found {
                    path,
                    issuer,
                    v1_missing: answers.first().cloned(),
                };
            }
            None => answers.push(format!(
                "{path}: {} {}",
                reply.status.as_u16(),
                reply.errcode().unwrap_or_default()
            )),
        }
    }
    Discovery::None(
        answers
            .into_iter()
            .map(|a| a.trim_end().to_string())
            .collect(),
    )
}

/// The `generate` flags for the MAS placement the issuer shows: a path below the homeserver
/// host, `auth.<server-name>` (the default), or another host.
fn mas_flags(server_name: &str, homeserver_host: &str, issuer: &str) -> String {
    let Ok(url) = Url::parse(issuer) else {
        return "--homeserver synapse --mas".into();
    };
    let host = url.host_str().unwrap_or_default();
    let path = url.path().trim_end_matches('/');
    if host == homeserver_host && !path.is_empty() {
        format!("--homeserver synapse --mas --mas-path {path}")
    } else if host == format!("auth.{server_name}") {
        "--homeserver synapse --mas".into()
    } else {
        format!("--homeserver synapse --mas --mas-host {host}")
    }
}

/// The issuer's discovery document: reachable, naming the same issuer, readable by browsers.
async fn openid_configuration(context: &Context, issuer: &str, generate: &str) -> CheckResult {
    let id = CheckId::MasOpenidConfiguration;
    let url = match Url::parse(&format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )) {
        Ok(url) if url.scheme() == "https" => url,
        _ => {
            return CheckResult::fail(
                id,
                format!("the issuer `{issuer}` is no https URL"),
                format!(
                    "set MAS's http.public_base to its public https URL\nor regenerate: {generate}"
                ),
            );
        }
    };
    let fix = |reply: Option<&Reply>| {
        fixes::mas_public(issuer, generate.to_string()).for_proxy(reply.and_then(proxy_in_front))
    };
    let followed = match context.net.get_following(&url, &[("origin", ORIGIN)]).await {
        Ok(followed) => followed,
        Err(error) => {
            return CheckResult::fail(
                id,
                format!("{url}: {error}"),
                format!("{}\n{}", fetch_fix(context, &error, issuer), fix(None)),
            );
        }
    };
    let reply = followed.last();
    let named = reply
        .json()
        .and_then(|json| Some(json.get("issuer")?.as_str()?.to_string()));
    if reply.status != StatusCode::OK || named.is_none() {
        return CheckResult::fail(
            id,
            format!(
                "{url} answers {} without an `issuer`: MAS is not behind it",
                reply.status
            ),
            fix(Some(reply)),
        );
    }
    if named.as_deref() != Some(issuer) {
        return CheckResult::fail(
            id,
            format!(
                "{url} names the issuer {}, Synapse announces {issuer}; OpenID Connect clients refuse a mismatch",
                named.unwrap_or_default()
            ),
            format!(
                "make MAS's http.public_base and Synapse's view of it the same URL\nor regenerate: {generate}"
            ),
        );
    }
    if !allows_any_origin(reply) {
        return CheckResult::fail(
            id,
            format!(
                "{url} answers without Access-Control-Allow-Origin; browser clients (Element Web) cannot log in"
            ),
            fix(Some(reply)),
        );
    }
    CheckResult::pass(
        id,
        format!("{url}: issuer {issuer}, Access-Control-Allow-Origin set"),
    )
}

/// A compatibility path answered by MAS: its login flows carry MAS's mark.
async fn compat_login(
    context: &Context,
    endpoint: &Endpoint,
    base_path: &str,
    generate: &str,
) -> CheckResult {
    let id = CheckId::MasCompatLogin;
    let path = format!("{base_path}{COMPAT_LOGIN_PATH}");
    let reply = match context.net.request(endpoint, Method::GET, &path, &[]).await {
        Ok(reply) => reply,
        Err(error) => {
            return CheckResult::fail(
                id,
                format!("GET {path}: {error}"),
                fetch_fix(context, &error, "/_matrix/"),
            );
        }
    };
    let flows: Vec<serde_json::Value> = reply
        .json()
        .and_then(|json| json.get("flows")?.as_array().cloned())
        .unwrap_or_default();
    let marked = flows.iter().any(|flow| {
        flow.get("type").and_then(|t| t.as_str()) == Some("m.login.sso")
            && MAS_FLOW_MARKS
                .iter()
                .any(|mark| flow.get(*mark).and_then(|v| v.as_bool()) == Some(true))
    });
    if reply.status == StatusCode::OK && marked {
        return CheckResult::pass(
            id,
            format!(
                "GET {path} answered by MAS (m.login.sso marked {})",
                MAS_FLOW_MARKS[0]
            ),
        );
    }
    let seen = match (reply.status, reply.errcode()) {
        (StatusCode::NOT_FOUND, Some(code)) if code == "M_UNRECOGNIZED" => {
            "404 M_UNRECOGNIZED: Synapse answered, which has no login of its own while MAS is on"
                .to_string()
        }
        (StatusCode::OK, _) if !flows.is_empty() => {
            "login flows without MAS's mark: a homeserver's own login answered".to_string()
        }
        (status, code) => format!("{status} {}", code.unwrap_or_default()),
    };
    CheckResult::fail(
        id,
        format!("GET {path}: {seen}; password and SSO logins of older clients fail"),
        fixes::mas_compat(generate.to_string()).for_proxy(proxy_in_front(&reply)),
    )
}

/// `/_synapse/mas/` from outside: a Matrix error body is Synapse answering.
async fn internal_api(
    context: &Context,
    endpoint: &Endpoint,
    base_path: &str,
    generate: &str,
) -> CheckResult {
    let id = CheckId::MasInternalApi;
    let path = format!("{base_path}{INTERNAL_PROBE}");
    let reply = match context.net.request(endpoint, Method::GET, &path, &[]).await {
        Ok(reply) => reply,
        Err(error) => {
            return CheckResult::warn(
                id,
                format!("GET {path}: {error}"),
                fetch_fix(context, &error, "/_synapse/mas/"),
            );
        }
    };
    match reply.errcode() {
        None if !reply.status.is_success() => CheckResult::pass(
            id,
            format!(
                "GET /_synapse/mas/… is refused by the proxy ({})",
                reply.status.as_u16()
            ),
        ),
        errcode => {
            let seen = match errcode {
                Some(code) => format!(
                    "reaches Synapse ({} {code}): its internal API for MAS is public, guarded by the shared secret alone",
                    reply.status.as_u16()
                ),
                None => format!(
                    "answers {}: something behind the proxy serves Synapse's internal API path",
                    reply.status.as_u16()
                ),
            };
            CheckResult::fail(
                id,
                format!("GET /_synapse/mas/… {seen}"),
                fixes::mas_internal(generate.to_string()).for_proxy(proxy_in_front(&reply)),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mas_flags;

    #[test]
    fn the_regenerate_flags_follow_where_the_issuer_is() {
        for (issuer, flags) in [
            ("https://auth.example.com/", "--homeserver synapse --mas"),
            (
                "https://matrix.example.com/auth/",
                "--homeserver synapse --mas --mas-path /auth",
            ),
            (
                "https://id.example.org/",
                "--homeserver synapse --mas --mas-host id.example.org",
            ),
            ("not a url", "--homeserver synapse --mas"),
        ] {
            assert_eq!(
                mas_flags("example.com", "matrix.example.com", issuer),
                flags,
                "{issuer}"
            );
        }
    }
}
