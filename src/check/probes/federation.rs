//! What other homeservers reach at the discovered target: TLS, "Server implementation"
//! (`/_matrix/federation/v1/version`) and "Retrieving server keys" (`/_matrix/key/v2/server`).

use hyper::{Method, StatusCode};

use super::Context;
use super::discovery::{Target, discover};
use super::tls::tls_check;
use crate::check::net::{FetchError, Reply};
use crate::check::report::{CheckId, CheckResult};

pub(super) async fn federation_side(context: &Context) -> (Vec<CheckResult>, Option<String>) {
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
pub(super) fn target_fix(context: &Context, target: &Target, why: &str) -> String {
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
