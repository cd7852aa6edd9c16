//! The flags' layer over the file's over the defaults, into one valid `Setup`. Each
//! refusal names the value as the user wrote it and ends in a working example.

use std::path::PathBuf;

use super::kubernetes;
use super::layer::{Layers, SetupLayer, Source};
use super::rtc;
use crate::defaults::{self, COMPOSE_SERVICE, MAS_COMPOSE_SERVICE};
use crate::error::Error;
use crate::homeserver;
use crate::matrix::HTTP_PORT;
use crate::proxy;
use crate::setup::{
    BaseRedirect, ByteSize, Clients, DnsName, ElementWeb, ElementWebServed, Homeserver, Host, Mas,
    MasPublic, Port, Proxy, SafePath, ServerName, Setup, Timeout, Tls, TlsMode, Upstream,
    UpstreamHost, Workers,
};

pub(super) const DEFAULT_FEDERATION_PORT: Port = Port::new_unchecked(defaults::FEDERATION_PORT);

/// Flags (and their `MXPROXY_*` variables) over `file` over the defaults.
pub fn merge(flags: &SetupLayer, file: SetupLayer) -> Result<Setup, Error> {
    let layers = Layers { flags, file: &file };
    let federation_port = federation(&layers)?;
    let tls = tls(&layers)?;
    let server_name = layers.get(|l| &l.server_name).ok_or(Error::Missing {
        flag: "--server-name",
        key: "server_name",
        example: "example.com",
    })?;
    let (homeserver, expose_admin, mut warnings) = homeserver_and_admin(&layers)?;
    let homeserver_host = match layers.get(|l| &l.homeserver_host) {
        Some(host) => host,
        None => Host::from(default_host(server_name.host(), &mut warnings)),
    };
    let facts = homeserver::facts(homeserver);
    let compose = layers.on(|l| &l.compose);
    let kubernetes =
        kubernetes::kubernetes(&layers, &server_name, federation_port, &tls, homeserver)?;
    let upstream = upstream(&layers, homeserver, compose, kubernetes.is_some())?;
    let mas = mas(
        &layers,
        homeserver,
        &server_name,
        &homeserver_host,
        &upstream,
    )?;
    if expose_admin && mas.is_some() {
        warnings.push(mas_admin_warning());
    }
    if federation_port.map(Port::get) == Some(HTTP_PORT) {
        return Err(Error::FederationOnHttpPort);
    }
    let webroot = layers
        .get(|l| &l.webroot)
        .unwrap_or_else(|| defaults::WEBROOT.parse().expect("default webroot is valid"));
    let (mut proxies, defaulted, listen_addresses) =
        proxies_and_addresses(&layers, kubernetes.is_some(), compose, &mut warnings)?;
    let rtc = rtc::rtc(
        &layers,
        &mut rtc::Taken {
            homeserver,
            server_name: &server_name,
            homeserver_host: &homeserver_host,
            upstream: &upstream,
            mas: mas.as_ref(),
            proxies: &mut proxies,
            defaulted,
            federates: federation_port.is_some(),
            warnings: &mut warnings,
        },
    )?;
    let (trusted_proxies, cdn) = front(&layers, federation_port)?;
    let max_upload = max_upload(&layers, &facts)?;
    let element_web = element_web(&layers, &server_name, &homeserver_host, mas.as_ref())?;
    let base_redirect = base_redirect(&layers, &server_name, &homeserver_host, &element_web)?;
    if element_web
        .as_ref()
        .is_some_and(|web| matches!(web.served, ElementWebServed::Files(_)))
    {
        file_servers(&mut proxies, defaulted, &mut warnings)?;
    }
    if matches!(tls, Tls::Acme { .. }) {
        let mut hosts = vec![server_name.host().as_str(), homeserver_host.name().as_str()];
        // The RTC host and Element Web's are on the certificate too.
        hosts.extend(rtc.as_ref().map(|rtc| rtc.host.name().as_str()));
        hosts.extend(element_web.as_ref().map(|web| web.host.name().as_str()));
        certificate_names(&mut proxies, defaulted, &hosts, &mut warnings)?;
    }
    let mut setup = Setup {
        server_name,
        homeserver_host,
        homeserver,
        upstream,
        federation_port,
        tls,
        max_upload,
        read_timeout: read_timeout(&layers),
        clients: clients(&layers),
        webroot,
        listen_addresses,
        proxies,
        compose,
        kubernetes,
        expose_admin,
        mas,
        rtc,
        trusted_proxies,
        cdn,
        workers: Workers::default(),
        element_web,
        base_redirect,
        warnings,
        out: layers
            .get(|l| &l.out)
            .unwrap_or_else(|| PathBuf::from(defaults::OUT)),
    };
    setup.workers = super::workers::workers(&layers, &mut setup, defaulted)?;
    super::compose::service_names(&layers, &setup)?;
    Ok(setup)
}

/// The proxies and the addresses they listen on: more than one address leaves out of the
/// default list a proxy that listens on one only, and is refused for one named on purpose.
fn proxies_and_addresses(
    layers: &Layers,
    kubernetes: bool,
    compose: bool,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Proxy>, bool, Vec<crate::setup::ListenAddress>), Error> {
    let (mut proxies, defaulted) = proxies(layers, kubernetes)?;
    let listen_addresses = listen_addresses(layers, compose)?;
    if listen_addresses.len() > 1 && defaulted {
        leave_out_single_address_proxies(&mut proxies, &listen_addresses, warnings);
    } else {
        one_listen_address(&listen_addresses, &proxies)?;
    }
    Ok((proxies, defaulted, listen_addresses))
}

/// `--expose-admin` with `--mas`: MAS's admin API is forwarded too. MAS: "It is considered
/// safe to expose the API to the public, as access to it is gated by the `urn:mas:admin`
/// scope" (docs/topics/admin-api.md); still a door more.
fn mas_admin_warning() -> String {
    format!(
        "--expose-admin with --mas: MAS's admin API ({}admin/v1/) is reachable from the \
         internet too; it answers only tokens with the urn:mas:admin scope",
        homeserver::mas::ADMIN_API_PREFIX
    )
}

/// `--read-timeout`, or mxproxy's default.
fn read_timeout(layers: &Layers) -> Timeout {
    layers
        .get(|l| &l.read_timeout)
        .unwrap_or(Timeout::from_seconds_unchecked(
            defaults::READ_TIMEOUT_SECONDS,
        ))
}

/// `--clients`, or a small server's number.
fn clients(layers: &Layers) -> Clients {
    layers
        .get(|l| &l.clients)
        .unwrap_or(Clients::new_unchecked(defaults::CLIENTS))
}

/// `--trusted-proxy` and `--cdn`: who may tell the client's address. A CDN's federation
/// must use a port it forwards.
fn front(
    layers: &Layers,
    federation_port: Option<Port>,
) -> Result<(Vec<crate::setup::TrustedProxy>, Option<crate::setup::Cdn>), Error> {
    let mut trusted = layers.get(|l| &l.trusted_proxy).unwrap_or_default();
    trusted.dedup();
    let cdn = layers.get(|l| &l.cdn);
    if let (Some(cdn), Some(port)) = (cdn, federation_port)
        && !cdn.https_ports().contains(&port.get())
    {
        let source = layers
            .pick(|l| &l.federation_port)
            .map_or(Source::Flag, |(_, source)| source);
        return Err(Error::CdnFederationPort {
            flag: named(source, "--federation-port", "federation_port:"),
            port,
            cdn: cdn.display_name(),
            ports: cdn
                .https_ports()
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok((trusted, cdn))
}

/// `--element-web` and its folder: a host of its own (not the server name's, the
/// homeserver's or MAS's), on a host install or in the compose stack.
fn element_web(
    layers: &Layers,
    server_name: &ServerName,
    homeserver_host: &Host,
    mas: Option<&Mas>,
) -> Result<Option<ElementWeb>, Error> {
    let root = layers.pick(|l| &l.element_web_root);
    let Some((host, source)) = layers.pick(|l| &l.element_web) else {
        let stray = [
            root.as_ref().map(|(root, source)| {
                let flag = named(*source, "--element-web-root", "element_web_root:");
                format!("{flag} {root}")
            }),
            layers
                .pick(|l| &l.element_web_upstream)
                .map(|(upstream, source)| {
                    let flag = named(source, "--element-web-upstream", "element_web_upstream:");
                    format!("{flag} {upstream}")
                }),
        ];
        return match stray.into_iter().flatten().next() {
            Some(flag) => Err(Error::OnlyWith {
                example: format!("--element-web chat.example.com {flag}"),
                flag,
                needs: "--element-web".into(),
            }),
            None => Ok(None),
        };
    };
    let flag = named(source, "--element-web", "element_web:");
    if layers.on(|l| &l.kubernetes) {
        return Err(Error::ElementWebNotYet {
            flag,
            with: "--kubernetes",
        });
    }
    let mas_host = mas.and_then(|mas| match &mas.public {
        MasPublic::Host(host) => Some(host.name()),
        MasPublic::Path(_) => None,
    });
    let taken = [
        (Some(server_name.host()), "server name"),
        (Some(homeserver_host.name()), "homeserver host"),
        (mas_host, "Matrix Authentication Service's host"),
    ];
    for (name, taken_by) in taken {
        if name == Some(host.name()) {
            return Err(Error::ElementWebHostTaken {
                flag,
                host: host.to_string(),
                taken_by,
            });
        }
    }
    let served = element_web_served(layers, root)?;
    Ok(Some(ElementWeb { host, served }))
}

/// The release's folder, or Element's own server: the compose stack's image by default
/// there, the folder on a host install; both at once contradict each other.
fn element_web_served(
    layers: &Layers,
    root: Option<(SafePath, Source)>,
) -> Result<ElementWebServed, Error> {
    let compose = layers.on(|l| &l.compose);
    let upstream = layers.pick(|l| &l.element_web_upstream);
    match (root, upstream) {
        (Some((root, rs)), Some((upstream, us))) => Err(Error::Contradict {
            a: format!(
                "{} {root}",
                named(rs, "--element-web-root", "element_web_root:")
            ),
            b: format!(
                "{} {upstream}",
                named(us, "--element-web-upstream", "element_web_upstream:")
            ),
            example: "--element-web-root /usr/share/element-web (or only --element-web-upstream 127.0.0.1:8081)",
        }),
        (Some((root, source)), None) if compose => Err(Error::Contradict {
            a: format!(
                "{} {root}",
                named(source, "--element-web-root", "element_web_root:")
            ),
            b: "--compose".into(),
            example: "--compose --element-web chat.example.com (Element's image serves the files)",
        }),
        (Some((root, _)), None) => Ok(ElementWebServed::Files(root)),
        (None, Some((upstream, source))) if compose && upstream.host.is_loopback() => {
            Err(Error::ElementWebUpstreamInContainer {
                flag: named(source, "--element-web-upstream", "element_web_upstream:"),
                upstream: upstream.to_string(),
            })
        }
        (None, Some((upstream, source))) if compose && upstream.host.is_address() => {
            Err(address_outside_stack(
                named(source, "--element-web-upstream", "element_web_upstream:"),
                &upstream,
                &upstream.compose_service(defaults::ELEMENT_WEB_SERVICE),
            ))
        }
        (None, Some((upstream, _))) => Ok(ElementWebServed::Upstream(upstream)),
        (None, None) if compose => Ok(ElementWebServed::Upstream(Upstream {
            host: UpstreamHost::Name(
                defaults::ELEMENT_WEB_SERVICE
                    .parse()
                    .expect("the service name is a valid DNS name"),
            ),
            port: Port::new_unchecked(defaults::ELEMENT_WEB_IMAGE_PORT),
        })),
        (None, None) => Ok(ElementWebServed::Files(
            defaults::ELEMENT_WEB_ROOT
                .parse()
                .expect("the default Element Web root is valid"),
        )),
    }
}

/// Element Web from a folder needs a proxy that serves files: one named on purpose that
/// cannot is refused, one from the default list is left out with a note.
fn file_servers(
    proxies: &mut Vec<Proxy>,
    defaulted: bool,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    let cannot = |proxy: &Proxy| !proxy::facts(*proxy).serves_files;
    if !defaulted {
        return match proxies.iter().find(|p| cannot(p)) {
            Some(&proxy) => Err(Error::ElementWebCannotServe {
                proxy,
                display_name: proxy::facts(proxy).display_name,
            }),
            None => Ok(()),
        };
    }
    proxies.retain(|proxy| {
        if cannot(proxy) {
            warnings.push(format!(
                "{} left out of the default proxies for --element-web: it cannot serve \
                 Element Web's folder of files; nginx, Apache and Caddy do (or all five \
                 forward to Element's own server with --element-web-upstream)",
                proxy::facts(*proxy).display_name
            ));
        }
        !cannot(proxy)
    });
    Ok(())
}

/// `--base-redirect`: only where the server name has a host of its own, and `element-web`
/// only with `--element-web`.
fn base_redirect(
    layers: &Layers,
    server_name: &ServerName,
    homeserver_host: &Host,
    element_web: &Option<ElementWeb>,
) -> Result<Option<BaseRedirect>, Error> {
    let Some((redirect, source)) = layers.pick(|l| &l.base_redirect) else {
        return Ok(None);
    };
    let flag = named(source, "--base-redirect", "base_redirect:");
    if layers.on(|l| &l.kubernetes) {
        return Err(Error::ElementWebNotYet {
            flag,
            with: "--kubernetes",
        });
    }
    if server_name.host() == homeserver_host.name() {
        return Err(Error::BaseRedirectOnHomeserver {
            flag,
            server_name: server_name.to_string(),
        });
    }
    if redirect == BaseRedirect::ElementWeb && element_web.is_none() {
        return Err(Error::OnlyWith {
            flag: format!("{flag} {redirect}"),
            needs: "--element-web".into(),
            example: format!("--element-web chat.example.com {flag} {redirect}"),
        });
    }
    Ok(Some(redirect))
}

/// `--mas` and its values: Synapse only (so never in a cluster: `kubernetes::kubernetes`
/// refuses Synapse there first), MAS's host or
/// path (one of them; across layers the flag decides), its upstream.
fn mas(
    layers: &Layers,
    homeserver: Homeserver,
    server_name: &ServerName,
    homeserver_host: &Host,
    upstream: &Upstream,
) -> Result<Option<Mas>, Error> {
    let host = layers.pick(|l| &l.mas_host);
    let path = layers.pick(|l| &l.mas_path);
    let mas_upstream = layers.pick(|l| &l.mas_upstream);
    if !layers.on(|l| &l.mas) {
        let stray = [
            host.as_ref()
                .map(|(h, s)| (named(*s, "--mas-host", "mas_host:"), h.to_string())),
            path.as_ref()
                .map(|(p, s)| (named(*s, "--mas-path", "mas_path:"), p.to_string())),
            mas_upstream
                .as_ref()
                .map(|(u, s)| (named(*s, "--mas-upstream", "mas_upstream:"), u.to_string())),
        ];
        return match stray.into_iter().flatten().next() {
            Some((flag, value)) => Err(Error::OnlyWith {
                flag: format!("{flag} {value}"),
                needs: "--mas".into(),
                example: format!("--homeserver synapse --mas {flag} {value}"),
            }),
            None => Ok(None),
        };
    }
    if homeserver != Homeserver::Synapse {
        return Err(Error::MasHomeserver {
            homeserver,
            display_name: homeserver::facts(homeserver).display_name,
            why: homeserver::mas::instead(homeserver),
        });
    }
    let compose = layers.on(|l| &l.compose);
    let public = mas_public(host, path, server_name, homeserver_host)?;
    let flag = mas_upstream
        .as_ref()
        .map_or("--mas-upstream (default)", |(_, source)| {
            named(*source, "--mas-upstream", "mas_upstream:")
        });
    let mas_upstream = match mas_upstream {
        Some((given, _)) if compose && given.host.is_loopback() => {
            return Err(Error::MasUpstreamInContainer {
                flag,
                upstream: given.to_string(),
            });
        }
        Some((given, _)) if compose && given.host.is_address() => {
            return Err(address_outside_stack(
                flag,
                &given,
                &given.compose_service(MAS_COMPOSE_SERVICE),
            ));
        }
        Some((given, _)) => given,
        // In the compose stack MAS is a service of its own, reached by its name.
        None if compose => Upstream {
            host: UpstreamHost::Name(
                MAS_COMPOSE_SERVICE
                    .parse()
                    .expect("the service name is a valid DNS name"),
            ),
            port: Port::new_unchecked(homeserver::mas::LISTENER_PORT),
        },
        None => Upstream {
            host: UpstreamHost::V4(std::net::Ipv4Addr::LOCALHOST),
            port: Port::new_unchecked(homeserver::mas::LISTENER_PORT),
        },
    };
    // The default too: `--upstream 127.0.0.1:8080` would otherwise send login and
    // everything else to the same process.
    if &mas_upstream == upstream {
        let free = if upstream.port.get() == homeserver::mas::LISTENER_PORT {
            // 8081 is the internal listener (health, metrics) of the config mas-cli writes.
            homeserver::mas::LISTENER_PORT + 2
        } else {
            homeserver::mas::LISTENER_PORT
        };
        return Err(Error::MasUpstreamIsHomeserver {
            flag,
            upstream: mas_upstream.to_string(),
            example: format!("{}:{free}", mas_upstream.host),
        });
    }
    Ok(Some(Mas {
        public,
        upstream: mas_upstream,
    }))
}

/// MAS's own host or its path below the homeserver host: both in one layer contradict
/// each other, across layers the flag decides; neither gives `auth.<server-name>`.
fn mas_public(
    host: Option<(Host, Source)>,
    path: Option<(crate::setup::UrlPrefix, Source)>,
    server_name: &ServerName,
    homeserver_host: &Host,
) -> Result<MasPublic, Error> {
    let host = match (host, path) {
        (Some((host, hs)), Some((path, ps))) if hs == ps => {
            return Err(Error::Contradict {
                a: format!("{} {host}", named(hs, "--mas-host", "mas_host:")),
                b: format!("{} {path}", named(ps, "--mas-path", "mas_path:")),
                example: "--mas --mas-host auth.example.com (or --mas --mas-path /auth)",
            });
        }
        (Some((_, Source::File)), Some((path, Source::Flag))) | (None, Some((path, _))) => {
            return Ok(MasPublic::Path(path));
        }
        (Some((host, source)), _) => (host, named(source, "--mas-host", "mas_host:")),
        (None, None) => (
            Host::from(server_name.host().prefixed("auth").map_err(|_| {
                Error::MasDefaultHostTooLong {
                    server_name: server_name.host().clone(),
                }
            })?),
            "--mas-host (default)",
        ),
    };
    let (host, flag) = host;
    for (taken, taken_by) in [
        (server_name.host(), "server name"),
        (homeserver_host.name(), "homeserver host"),
    ] {
        if host.name() == taken {
            return Err(Error::MasHostTaken {
                flag,
                host: host.to_string(),
                taken_by,
            });
        }
    }
    Ok(MasPublic::Host(host))
}

/// A key as the user wrote it: its flag, or its YAML key.
pub(super) fn named(source: Source, flag: &'static str, key: &'static str) -> &'static str {
    match source {
        Source::Flag => flag,
        Source::File => key,
    }
}

/// The homeserver (a retired name warns) and whether its admin API is forwarded (warns too).
fn homeserver_and_admin(layers: &Layers) -> Result<(Homeserver, bool, Vec<String>), Error> {
    let name = layers
        .get(|l| &l.homeserver)
        .unwrap_or_else(|| Homeserver::default().into());
    let mut warnings: Vec<String> = name.warning().into_iter().collect();
    let homeserver = name.homeserver;
    let facts = homeserver::facts(homeserver);
    let expose_admin = layers.on(|l| &l.expose_admin);
    if expose_admin {
        if facts.admin_prefixes.is_empty() {
            return Err(Error::NoAdminApi {
                homeserver,
                display_name: facts.display_name,
            });
        }
        // Synapse: "we do not recommend exposing them to the public internet without good
        // reason" (docs/reverse_proxy.md); tuwunel: /_synapse/admin/v1/register lets anyone
        // with the shared secret create accounts, "Restrict this path to trusted networks"
        // (docs/deploying/generic.md).
        warnings.push(format!(
            "--expose-admin: {}'s admin API ({}) is reachable from the internet; anyone \
             holding an admin access token or the registration shared secret can use it from \
             anywhere. Prefer reaching it on the upstream, e.g. through an SSH tunnel",
            facts.display_name,
            facts.admin_prefixes.join(", "),
        ));
    }
    Ok((homeserver, expose_admin, warnings))
}

/// The upload limit, or the homeserver's own default; refused above what the homeserver's
/// own setting holds (Conduit's is a u32). Every proxy enforces any size `ByteSize`
/// accepts (measured: nginx, Apache, Caddy, HAProxy with its 64-bit comparison, Traefik).
fn max_upload(layers: &Layers, facts: &homeserver::Facts) -> Result<ByteSize, Error> {
    let Some((value, source)) = layers.pick(|l| &l.max_upload) else {
        return Ok(facts.default_max_upload);
    };
    if let Some(ceiling) = facts.upload_ceiling.filter(|c| value.bytes() > c.bytes) {
        return Err(Error::UploadAboveLimit {
            flag: named(source, "--max-upload", "max_upload:"),
            value,
            display_name: facts.display_name,
            setting: ceiling.setting,
            ceiling: ceiling.bytes,
            why: ceiling.why,
            example: ByteSize::from_bytes_unchecked(ceiling.bytes - ceiling.bytes % (1 << 20)),
        });
    }
    Ok(value)
}

/// The given upstream, or the homeserver's own port where it runs (`default_upstream`).
fn upstream(
    layers: &Layers,
    homeserver: Homeserver,
    compose: bool,
    kubernetes: bool,
) -> Result<Upstream, Error> {
    match layers.pick(|l| &l.upstream) {
        Some((upstream, source)) if compose && upstream.host.is_loopback() => {
            Err(Error::UpstreamInContainer {
                flag: named(source, "--upstream", "upstream:"),
                upstream: upstream.to_string(),
                example: format!(
                    "--upstream {COMPOSE_SERVICE}:{}",
                    homeserver::facts(homeserver).port
                ),
            })
        }
        Some((upstream, source)) if compose && upstream.host.is_address() => {
            Err(address_outside_stack(
                named(source, "--upstream", "upstream:"),
                &upstream,
                &upstream.compose_service(COMPOSE_SERVICE),
            ))
        }
        Some((upstream, _)) => Ok(upstream),
        None => Ok(default_upstream(homeserver, compose || kubernetes)),
    }
}

/// An IP address for an upstream the compose stack runs as `service`.
pub(super) fn address_outside_stack(
    flag: &'static str,
    upstream: &Upstream,
    service: &str,
) -> Error {
    Error::AddressOutsideStack {
        flag,
        upstream: upstream.to_string(),
        service: service.into(),
        example: format!("{service}:{}", upstream.port),
    }
}

/// Where the homeserver listens when `--upstream` is not given: its own port on loopback,
/// or on the compose service inside a container network (in a cluster the Ingress reaches
/// it through its Service, which has the same name).
pub fn default_upstream(homeserver: Homeserver, in_container: bool) -> Upstream {
    Upstream {
        host: if in_container {
            UpstreamHost::Name(
                COMPOSE_SERVICE
                    .parse()
                    .expect("the service name is a valid DNS name"),
            )
        } else {
            UpstreamHost::V4(std::net::Ipv4Addr::LOCALHOST)
        },
        port: Port::new_unchecked(homeserver::facts(homeserver).port),
    }
}

/// The proxies to write, each once, in the order given; none in a cluster, whose ingress
/// controller is the proxy. True with them: the list is the default one, not asked for.
fn proxies(layers: &Layers, kubernetes: bool) -> Result<(Vec<Proxy>, bool), Error> {
    if kubernetes {
        return Ok((Vec::new(), false));
    }
    let asked = layers.get(|l| &l.proxy);
    let defaulted = asked.is_none();
    let given = asked.unwrap_or_else(|| Proxy::DEFAULT.to_vec());
    if given.is_empty() {
        return Err(Error::NoProxy);
    }
    let mut proxies = Vec::new();
    for proxy in given {
        if !proxies.contains(&proxy) {
            proxies.push(proxy);
        }
    }
    Ok((proxies, defaulted))
}

/// A proxy that obtains certificates itself into a store that puts the host name in a
/// file name (Caddy) cannot for a longer name: refused when asked for by name, left out of
/// the default list with a note.
fn certificate_names(
    proxies: &mut Vec<Proxy>,
    defaulted: bool,
    hosts: &[&str],
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    let too_long = |proxy: Proxy| {
        let longest = proxy::facts(proxy).longest_certificate_name?;
        let host = hosts.iter().find(|host| host.len() > longest)?;
        Some(Error::CertificateNameTooLong {
            proxy,
            display_name: proxy::facts(proxy).display_name,
            host: host.to_string(),
            longest,
        })
    };
    if !defaulted {
        return proxies
            .iter()
            .find_map(|&p| too_long(p))
            .map_or(Ok(()), Err);
    }
    proxies.retain(|&p| match too_long(p) {
        Some(refusal) => {
            warnings.push(format!("left out of the default proxies: {refusal}"));
            false
        }
        None => true,
    });
    Ok(())
}

/// Several listen addresses with the default proxy list: a proxy that listens on one
/// address (Traefik) is left out with a note rather than the defaults failing.
fn leave_out_single_address_proxies(
    proxies: &mut Vec<Proxy>,
    addresses: &[crate::setup::ListenAddress],
    warnings: &mut Vec<String>,
) {
    proxies.retain(|&p| {
        let facts = proxy::facts(p);
        if facts.single_listen_address {
            warnings.push(format!(
                "{} left out of the default proxies: it listens on one address and \
                 --listen-address gives {}; to write it, name it with one address, e.g. \
                 --proxy {p} --listen-address {}",
                facts.display_name,
                addresses.len(),
                addresses[0],
            ));
        }
        !facts.single_listen_address
    });
}

fn listen_addresses(
    layers: &Layers,
    compose: bool,
) -> Result<Vec<crate::setup::ListenAddress>, Error> {
    let mut addresses = layers.get(|l| &l.listen_address).unwrap_or_default();
    addresses.dedup();
    if addresses.is_empty() {
        return Ok(addresses);
    }
    if compose {
        return Err(Error::ListenAddressWithCompose);
    }
    Ok(addresses)
}

/// A proxy that listens on one address (a Traefik entry point) cannot take several.
fn one_listen_address(
    addresses: &[crate::setup::ListenAddress],
    proxies: &[Proxy],
) -> Result<(), Error> {
    if addresses.len() > 1
        && proxies
            .iter()
            .any(|p| proxy::facts(*p).single_listen_address)
    {
        return Err(Error::TraefikOneAddress);
    }
    Ok(())
}

/// `matrix.<server name>`, or where that passes DNS's 253 characters, the server name
/// itself (no delegation), with a note: a valid server name never fails for want of a
/// `--homeserver-host`.
fn default_host(server_name: &DnsName, warnings: &mut Vec<String>) -> DnsName {
    server_name.prefixed("matrix").unwrap_or_else(|_| {
        warnings.push(format!(
            "the homeserver answers on {server_name} itself: matrix.{server_name} would be \
             longer than a DNS name may be (253 characters); to delegate, name the host, e.g. \
             --homeserver-host hs.example.org"
        ));
        server_name.clone()
    })
}

/// `federation_port` and `no_federation`: off and a port in one layer contradict each
/// other; across layers the flag decides.
fn federation(layers: &Layers) -> Result<Option<Port>, Error> {
    let off = layers.pick(|l| &l.no_federation);
    let port = layers.pick(|l| &l.federation_port);
    match (off, port) {
        (Some((true, off_source)), Some((port, port_source))) if off_source == port_source => {
            Err(match off_source {
                Source::Flag => Error::Contradict {
                    a: "--no-federation".into(),
                    b: format!("--federation-port {port}"),
                    example: "--federation-port 8448 (or only --no-federation)",
                },
                Source::File => Error::Contradict {
                    a: "`no_federation: true`".into(),
                    b: format!("`federation_port: {port}`"),
                    example: "federation_port: 8448 (or only no_federation: true)",
                },
            })
        }
        (Some((true, Source::Flag)), _) => Ok(None),
        (Some((true, Source::File)), Some((port, Source::Flag))) => Ok(Some(port)),
        (Some((true, Source::File)), _) => Ok(None),
        (_, port) => Ok(Some(port.map_or(DEFAULT_FEDERATION_PORT, |(port, _)| port))),
    }
}

/// The TLS mode and what it reads. A value from the same layer as the mode (or from a
/// flag) that the mode ignores is a mistake worth stopping for; a file value overridden
/// by a `--tls` flag is not.
fn tls(layers: &Layers) -> Result<Tls, Error> {
    let (mode, mode_source) = match layers.pick(|l| &l.tls) {
        Some((mode, source)) => (mode, Some(source)),
        None => (TlsMode::Acme, None),
    };
    let cert = layers.pick(|l| &l.tls_cert);
    let key = layers.pick(|l| &l.tls_key);
    let email = layers.pick(|l| &l.acme_email);
    let stray = |source: Option<Source>| matches!(source, Some(source) if source == Source::Flag || mode_source != Some(Source::Flag));
    if mode != TlsMode::Acme && stray(source_of(&email)) {
        return Err(Error::OnlyWith {
            flag: "--acme-email".into(),
            needs: "--tls acme".into(),
            example: "--tls acme --acme-email admin@example.com".into(),
        });
    }
    match mode {
        TlsMode::Files => match (cert, key) {
            (Some((cert, _)), Some((key, _))) => Ok(Tls::Files { cert, key }),
            _ => Err(Error::TlsFilesIncomplete),
        },
        TlsMode::Acme | TlsMode::None if stray(source_of(&cert)) || stray(source_of(&key)) => {
            Err(Error::TlsFilesOnly { mode })
        }
        TlsMode::None => Ok(Tls::None),
        TlsMode::Acme => Ok(Tls::Acme {
            email: email.map(|(email, _)| email),
        }),
    }
}

fn source_of<T>(value: &Option<(T, Source)>) -> Option<Source> {
    value.as_ref().map(|(_, source)| *source)
}
