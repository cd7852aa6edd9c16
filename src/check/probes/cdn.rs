//! Whether a CDN stands in front of the server name or the federation host (it shows in
//! its response headers), and whether federation then goes to a port the CDN forwards:
//! Cloudflare forwards HTTPS on a few ports, not 8448, so federation to :8448 through it
//! times out (element-hq/synapse#16228).

use hyper::Method;

use super::Context;
use super::discovery::discover;
use crate::check::net::{Endpoint, Reply};
use crate::check::report::{CheckId, CheckResult};
use crate::matrix::HTTPS_PORT;
use crate::setup::Cdn;

/// The CDN whose marks `reply` carries, with the header that showed it.
fn seen(reply: &Reply) -> Option<(Cdn, String)> {
    Cdn::ALL.iter().find_map(|&cdn| {
        cdn.response_marks().iter().find_map(|&(name, value)| {
            let found = reply.header(name)?;
            match value {
                Some(value) if !found.eq_ignore_ascii_case(value) => None,
                _ => Some((cdn, format!("{name}: {found}"))),
            }
        })
    })
}

async fn front_of(context: &Context, endpoint: &Endpoint, path: &str) -> Option<(Cdn, String)> {
    let reply = context
        .net
        .request(endpoint, Method::GET, path, &[])
        .await
        .ok()?;
    seen(&reply)
}

pub(super) async fn cdn_check(context: &Context) -> CheckResult {
    let host = context.name.host.clone();
    let name_endpoint = Endpoint {
        connect_host: host.clone(),
        port: HTTPS_PORT,
        tls_name: host.clone(),
        host_header: host.authority(),
    };
    let (name_front, discovered) = tokio::join!(
        front_of(context, &name_endpoint, "/.well-known/matrix/client"),
        async {
            match context.no_federation {
                true => None,
                false => discover(context).await.1,
            }
        },
    );
    // The federation host on 443, where a CDN that proxies it answers whatever the port
    // federation was sent to.
    let target_front = match &discovered {
        Some(target) => {
            let on_https = Endpoint {
                port: HTTPS_PORT,
                ..target.endpoint.clone()
            };
            front_of(context, &on_https, "/_matrix/client/versions").await
        }
        None => None,
    };
    let front = match (&name_front, &target_front, &discovered) {
        (Some(seen), _, _) => Some((seen.clone(), host.authority())),
        (None, Some(seen), Some(target)) => {
            Some((seen.clone(), target.endpoint.connect_host.authority()))
        }
        _ => None,
    };
    let Some(((cdn, mark), subject)) = front else {
        return CheckResult::skip(
            CheckId::ProxyCdn,
            format!(
                "no CDN seen in front of {} (no {} header)",
                host.authority(),
                marks_described()
            ),
        );
    };
    let behind = format!("{subject} is behind {} ({mark})", cdn.display_name());
    let Some(target) = discovered else {
        return CheckResult::pass(
            CheckId::ProxyCdn,
            format!("{behind}; federation not checked"),
        );
    };
    let federation = target.endpoint.describe();
    let port = target.endpoint.port;
    match target_front {
        Some(_) if !cdn.https_ports().contains(&port) => CheckResult::fail(
            CheckId::ProxyCdn,
            format!(
                "{behind}: federation goes to {federation} through {cdn_name}, which forwards \
                 HTTPS only on ports {ports}, not {port}: other servers cannot reach it",
                cdn_name = cdn.display_name(),
                ports = ports(cdn),
            ),
            format!(
                "let federation ride on 443 with the clients (m.server: {}:443): {}\n\
                 or make the DNS record of {} DNS-only (not proxied)",
                target
                    .endpoint
                    .host_header
                    .split(':')
                    .next()
                    .unwrap_or_default(),
                context.generate(&format!("--cdn {cdn}")),
                target.endpoint.connect_host.authority(),
            ),
        ),
        Some(_) => CheckResult::pass(
            CheckId::ProxyCdn,
            format!("{behind}; federation goes to {federation} through it, a port it forwards"),
        ),
        None => CheckResult::pass(
            CheckId::ProxyCdn,
            format!("{behind}; federation goes to {federation}, not through it"),
        ),
    }
}

fn ports(cdn: Cdn) -> String {
    let ports: Vec<String> = cdn.https_ports().iter().map(u16::to_string).collect();
    ports.join(", ")
}

fn marks_described() -> String {
    let marks: Vec<String> = Cdn::ALL
        .iter()
        .flat_map(|cdn| cdn.response_marks())
        .map(|(name, value)| match value {
            Some(value) => format!("{name}: {value}"),
            None => name.to_string(),
        })
        .collect();
    marks.join(" or ")
}
