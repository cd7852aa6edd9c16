//! Server-server API "Server discovery › Resolving server names", steps 1–6 as numbered
//! since v1.8: where federation traffic for the server name goes, and which step sent it.

use url::Url;

use super::Context;
use super::federation::target_fix;
use super::well_known::server_document;
use crate::check::name::{MatrixName, NameHost};
use crate::check::net::Endpoint;
use crate::check::report::{CheckId, CheckResult};
use crate::matrix::FEDERATION_PORT;

/// Where discovery sent federation traffic, and why.
pub(super) struct Target {
    pub(super) endpoint: Endpoint,
    /// "step 3.2 (well-known m.server …)".
    pub(super) how: String,
    /// The SRV record that decided, if one did: the first suspect when traffic goes astray.
    pub(super) srv: Option<String>,
    /// Port 8448 chosen by default (steps 3.5 and 6).
    pub(super) default_port: bool,
    /// Found through the deprecated `_matrix._tcp` SRV record.
    deprecated_srv: bool,
}

/// Server-server API "Resolving server names", steps 1–6.
pub(super) async fn discover(context: &Context) -> (Vec<CheckResult>, Option<Target>) {
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
