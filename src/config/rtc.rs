//! `--rtc` and its values: LiveKit and its authorization service on a host of their own,
//! on a host install or in the compose stack, each on an address no other service of the
//! setup takes.

use super::layer::{Layers, Source};
use super::merge::named;
use crate::defaults::{LIVEKIT_COMPOSE_SERVICE, RTC_AUTH_COMPOSE_SERVICE};
use crate::error::Error;
use crate::homeserver::{self, rtc as facts};
use crate::setup::{
    Homeserver, Host, Mas, MasPublic, Port, Proxy, Rtc, ServerName, Upstream, UpstreamHost,
};

/// What `--rtc` is checked against, decided by `merge` before it.
pub(super) struct Taken<'a> {
    pub homeserver: Homeserver,
    pub server_name: &'a ServerName,
    pub homeserver_host: &'a Host,
    pub upstream: &'a Upstream,
    pub mas: Option<&'a Mas>,
    /// The proxies, and whether they are the default list (then one that cannot carry
    /// the focus is left out with a warning instead of refused).
    pub proxies: &'a mut Vec<Proxy>,
    pub defaulted: bool,
    /// Federation is on (`--no-federation` not given).
    pub federates: bool,
    pub warnings: &'a mut Vec<String>,
}

pub(super) fn rtc(layers: &Layers, taken: &mut Taken) -> Result<Option<Rtc>, Error> {
    let host = layers.pick(|l| &l.rtc_host);
    let livekit = layers.pick(|l| &l.livekit_upstream);
    let auth = layers.pick(|l| &l.rtc_auth_upstream);
    if !layers.on(|l| &l.rtc) {
        let stray = [
            host.as_ref()
                .map(|(h, s)| (named(*s, "--rtc-host", "rtc_host:"), h.to_string())),
            livekit.as_ref().map(|(u, s)| {
                (
                    named(*s, "--livekit-upstream", "livekit_upstream:"),
                    u.to_string(),
                )
            }),
            auth.as_ref().map(|(u, s)| {
                (
                    named(*s, "--rtc-auth-upstream", "rtc_auth_upstream:"),
                    u.to_string(),
                )
            }),
        ];
        return match stray.into_iter().flatten().next() {
            Some((flag, value)) => Err(Error::OnlyWith {
                flag: format!("{flag} {value}"),
                needs: "--rtc".into(),
                example: format!("--rtc {flag} {value}"),
            }),
            None => Ok(None),
        };
    }
    let kubernetes = layers.on(|l| &l.kubernetes);
    // In the compose stack and in a cluster LiveKit and its authorization service are
    // services of their own, reached by name (a Service of that name in the namespace).
    let compose = (layers.on(|l| &l.compose) || kubernetes)
        .then_some((LIVEKIT_COMPOSE_SERVICE, RTC_AUTH_COMPOSE_SERVICE));
    if kubernetes {
        kubernetes_well_known(taken)?;
    } else {
        well_known_from_homeserver(taken)?;
    }
    let host = rtc_host(host, taken)?;
    let livekit = upstream(
        livekit,
        ("--livekit-upstream", "livekit_upstream:"),
        (facts::LIVEKIT_PORT, compose.map(|(livekit, _)| livekit)),
        taken,
        None,
    )?;
    let auth = upstream(
        auth,
        ("--rtc-auth-upstream", "rtc_auth_upstream:"),
        (facts::AUTH_PORT, compose.map(|(_, auth)| auth)),
        taken,
        Some(&livekit),
    )?;
    Ok(Some(Rtc {
        host,
        livekit,
        auth,
    }))
}

/// Traefik cannot answer with a fixed document, so it forwards `/.well-known/matrix/` to
/// the homeserver, whose own answer must then carry the focus. mxproxy writes that
/// setting for Synapse only (`extra_well_known_client_content`, its fragment); the
/// others' settings for it differ by release (continuwuity removed
/// `well_known.rtc_focus_server_urls` for `matrix_rtc.foci`, its CHANGELOG), so they are
/// refused there rather than announced wrongly.
fn well_known_from_homeserver(taken: &mut Taken) -> Result<(), Error> {
    let Some(why) = focus_refusal(taken) else {
        return Ok(());
    };
    let forwards = |p: &Proxy| !crate::proxy::facts(*p).serves_fixed_documents;
    let Some(&proxy) = taken.proxies.iter().find(|p| forwards(p)) else {
        return Ok(());
    };
    let display_name = homeserver::facts(taken.homeserver).display_name;
    if taken.defaulted && taken.proxies.len() > 1 {
        taken.proxies.retain(|p| !forwards(p));
        taken.warnings.push(format!(
            "left out {proxy} for --rtc: it forwards /.well-known/matrix/ to {display_name}, {why}"
        ));
        return Ok(());
    }
    Err(Error::RtcWellKnownFromHomeserver {
        proxy,
        homeserver: taken.homeserver,
        display_name,
        why,
    })
}

/// In a cluster the homeserver answers `/.well-known/matrix/` itself (plan::kubernetes),
/// so it must name the focus, and serve the server well-known the authorization service
/// finds it by: the same condition as a proxy that forwards the well-known.
fn kubernetes_well_known(taken: &Taken) -> Result<(), Error> {
    let why = focus_refusal(taken);
    let Some(why) = why else {
        return Ok(());
    };
    let display_name = homeserver::facts(taken.homeserver).display_name;
    Err(Error::KubernetesRefuses {
        flag: "--rtc".into(),
        why: format!("{display_name} answers /.well-known/matrix/ itself in the cluster, {why}"),
        example: format!(
            "--server-name {} --kubernetes --ingress-class nginx --homeserver tuwunel --rtc",
            taken.server_name
        ),
    })
}

/// Why the homeserver's own client well-known cannot announce the focus; None when it can.
fn focus_refusal(taken: &Taken) -> Option<&'static str> {
    if !facts::ANNOUNCES_FOCUS.contains(&taken.homeserver) {
        Some("and mxproxy does not write its setting for the calls focus yet")
    } else if !taken.federates {
        // The authorization service finds the homeserver for openid/userinfo by the
        // server well-known (plan::well_known), which mxproxy has the homeserver serve with
        // federation only (Synapse's `serve_server_wellknown`, the others' well_known.server).
        Some(
            "which serves no /.well-known/matrix/server with federation off, and the calls \
             authorization service finds the homeserver by it",
        )
    } else {
        None
    }
}

/// `--rtc-host`, or `rtc.<server-name>`: a host no other site of the setup serves, since
/// every path there that is not the authorization service's goes to LiveKit.
fn rtc_host(host: Option<(Host, Source)>, taken: &Taken) -> Result<Host, Error> {
    let (host, flag) = match host {
        Some((host, source)) => (host, named(source, "--rtc-host", "rtc_host:")),
        None => (
            Host::from(taken.server_name.host().prefixed("rtc").map_err(|_| {
                Error::RtcDefaultHostTooLong {
                    server_name: taken.server_name.host().clone(),
                }
            })?),
            "--rtc-host (default)",
        ),
    };
    let mas_host = taken.mas.and_then(|mas| match &mas.public {
        MasPublic::Host(host) => Some(host.name()),
        MasPublic::Path(_) => None,
    });
    for (name, taken_by) in [
        (Some(taken.server_name.host()), "server name"),
        (Some(taken.homeserver_host.name()), "homeserver host"),
        (mas_host, "MAS host"),
    ] {
        if name == Some(host.name()) {
            return Err(Error::RtcHostTaken {
                flag,
                host: host.to_string(),
                taken_by,
            });
        }
    }
    Ok(host)
}

/// One of the two upstreams, or its default: on loopback, or in the compose stack the
/// service's name (`service`). Never an address the homeserver, MAS or the other RTC
/// upstream (`other`) answers on, nor loopback in the stack (the proxy's own container).
fn upstream(
    given: Option<(Upstream, Source)>,
    (flag, key): (&'static str, &'static str),
    (default_port, service): (u16, Option<&'static str>),
    taken: &Taken,
    other: Option<&Upstream>,
) -> Result<Upstream, Error> {
    let port = Port::new_unchecked(default_port);
    let default_host = match service {
        Some(name) => {
            UpstreamHost::Name(name.parse().expect("the service name is a valid DNS name"))
        }
        None => UpstreamHost::V4(std::net::Ipv4Addr::LOCALHOST),
    };
    let (upstream, flag) = match given {
        Some((upstream, source)) => (upstream, named(source, flag, key)),
        None => (
            Upstream {
                host: default_host,
                port,
            },
            flag,
        ),
    };
    if let Some(service) = service.filter(|_| upstream.host.is_loopback()) {
        return Err(Error::RtcUpstreamInContainer {
            flag,
            upstream: upstream.to_string(),
            example: format!("{service}:{default_port}"),
        });
    }
    if let Some(service) = service.filter(|_| upstream.host.is_address()) {
        return Err(super::merge::address_outside_stack(
            flag, &upstream, service,
        ));
    }
    for (address, taken_by) in [
        (Some(taken.upstream), "the homeserver's upstream"),
        (taken.mas.map(|mas| &mas.upstream), "MAS's upstream"),
        (other, "LiveKit's upstream"),
    ] {
        if address == Some(&upstream) {
            return Err(Error::RtcUpstreamTaken {
                flag,
                upstream: upstream.to_string(),
                taken_by,
            });
        }
    }
    Ok(upstream)
}
