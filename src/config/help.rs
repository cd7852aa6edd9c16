//! `--help` texts that name a default or a list kept in Rust, built from it: a hand-written
//! "127.0.0.1:7880" stays in the help when the constant moves, and a new worker group or
//! homeserver would be missing from it.

use std::net::Ipv4Addr;

use crate::defaults;
use crate::homeserver::{self, mas, rtc};
use crate::setup::{Homeserver, Proxy, Timeout, WorkerGroup, alternatives};

/// Where a service listens when the admin names no upstream: loopback, its port.
fn on_loopback(port: u16) -> String {
    format!("{}:{port}", Ipv4Addr::LOCALHOST)
}

/// Values in first-seen order, each with the names that share it: `[(8008, [Synapse, …])]`.
fn grouped<V: PartialEq>(
    items: impl Iterator<Item = (V, &'static str)>,
) -> Vec<(V, Vec<&'static str>)> {
    let mut groups: Vec<(V, Vec<&'static str>)> = Vec::new();
    for (value, name) in items {
        match groups.iter_mut().find(|(seen, _)| *seen == value) {
            Some((_, names)) => names.push(name),
            None => groups.push((value, vec![name])),
        }
    }
    groups
}

pub fn homeserver() -> String {
    let names: Vec<&str> = Homeserver::ALL.iter().map(|h| h.name()).collect();
    format!(
        "Homeserver software: {}; decides the default upstream port, path prefixes and upload limit [default: {}]",
        alternatives(&names),
        Homeserver::default()
    )
}

pub fn proxy() -> String {
    let names = |proxies: &[Proxy]| proxies.iter().map(|p| p.name()).collect::<Vec<_>>();
    format!(
        "Proxies to write configs for; repeat or separate with commas ({}) [default: {}]",
        names(Proxy::ALL).join(", "),
        names(Proxy::DEFAULT).join(",")
    )
}

pub fn upstream() -> String {
    let by_port = grouped(Homeserver::ALL.iter().map(|&homeserver| {
        let facts = homeserver::facts(homeserver);
        (facts.port, facts.display_name)
    }));
    // The port most of them share is "the others'"; each other one is named.
    let common = by_port
        .iter()
        .max_by_key(|(_, names)| names.len())
        .map(|(port, _)| *port)
        .expect("there are homeservers");
    let named: Vec<String> = by_port
        .iter()
        .filter(|(port, _)| *port != common)
        .map(|(port, names)| format!("{port} for {}", names.join(" and ")))
        .collect();
    format!(
        "Where the homeserver listens for the proxy [default: {}:<its port>, {}, {common} for the others; {}:<port> with --compose]",
        Ipv4Addr::LOCALHOST,
        named.join(", "),
        defaults::COMPOSE_SERVICE,
    )
}

pub fn max_upload() -> String {
    let by_size = grouped(Homeserver::ALL.iter().map(|&homeserver| {
        let facts = homeserver::facts(homeserver);
        (facts.default_max_upload.to_string(), facts.display_name)
    }));
    let sizes: Vec<String> = by_size
        .iter()
        .map(|(size, names)| format!("{size} {}", names.join(" and ")))
        .collect();
    format!(
        "Largest request body (uploads): bytes, or K/M/G in binary units; every proxy and the homeserver enforce it [default: the homeserver's own: {}]",
        sizes.join(", ")
    )
}

pub fn federation_port() -> String {
    format!(
        "Port other homeservers use to reach the homeserver host; published in /.well-known/matrix/server. Other than {0} adds a listener [default: {0}]",
        defaults::FEDERATION_PORT
    )
}

pub fn mas_upstream() -> String {
    format!(
        "With --mas: where MAS listens for the proxy [default: {}, MAS's own port]",
        on_loopback(mas::LISTENER_PORT)
    )
}

pub fn livekit_upstream() -> String {
    format!(
        "With --rtc: where LiveKit's HTTP/WebSocket port listens for the proxy [default: {}, LiveKit's own]",
        on_loopback(rtc::LIVEKIT_PORT)
    )
}

pub fn rtc_auth_upstream() -> String {
    // The service's own default port is MAS's (see `rtc::AUTH_PORT`).
    format!(
        "With --rtc: where the MatrixRTC authorization service (lk-jwt-service) listens [default: {}; its own {} is MAS's]",
        on_loopback(rtc::AUTH_PORT),
        mas::LISTENER_PORT
    )
}

pub fn element_web_upstream() -> String {
    format!(
        "With --element-web: forward its host to Element Web's own server (its Docker image) instead of serving the files; HAProxy and Traefik can then serve it too [default with --compose: {}:{}, the stack's service]",
        defaults::ELEMENT_WEB_SERVICE,
        defaults::ELEMENT_WEB_IMAGE_PORT
    )
}

pub fn workers() -> String {
    let groups: Vec<&str> = WorkerGroup::ALL.iter().map(|group| group.name()).collect();
    format!(
        "Synapse only: send a group of requests to a worker process, GROUP=HOST:PORT; repeat for more workers and groups ({}); the rest stays on --upstream [e.g. sync=127.0.0.1:8083]",
        groups.join(", ")
    )
}

pub fn read_timeout() -> String {
    format!(
        "How long every proxy waits for the homeserver's answer and the client's body: seconds, or with m/h; at least {} (/sync long-polls), at most {}h [default: {}]",
        Timeout::MIN_SECONDS,
        Timeout::MAX_SECONDS / 3600,
        defaults::READ_TIMEOUT_SECONDS
    )
}

pub fn clients() -> String {
    format!(
        "Clients syncing at once, each holding one /sync long-poll open: sizes the proxies' connection limits, worker counts, file descriptors and upstream pools (1 to {}) [default: {}]",
        crate::setup::Clients::MAX,
        defaults::CLIENTS
    )
}

pub fn webroot() -> String {
    format!(
        "Directory the proxies serve ACME challenges and (Apache) the well-known files from [default: {}]",
        defaults::WEBROOT
    )
}

pub fn namespace() -> String {
    format!(
        "With --kubernetes: the namespace of every object [default: {}]",
        defaults::NAMESPACE
    )
}

pub fn element_web_root() -> String {
    format!(
        "With --element-web: the folder holding the unpacked Element Web release (in the compose stack the official image serves it) [default: {}, where Element's Debian package puts it]",
        defaults::ELEMENT_WEB_ROOT
    )
}

pub fn out() -> String {
    format!("Output folder [default: ./{}]", defaults::OUT)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    /// `generate --help` on one line: the help wraps long lines, and the values are looked
    /// for across the breaks.
    fn generate_help() -> String {
        let mut cli = Cli::command();
        cli.find_subcommand_mut("generate")
            .expect("generate is a subcommand")
            .render_long_help()
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn the_help_names_the_default_ports_of_the_constants() {
        let help = generate_help();
        for expected in [
            format!("127.0.0.1:{}, LiveKit's own", rtc::LIVEKIT_PORT),
            format!(
                "127.0.0.1:{}; its own {}",
                rtc::AUTH_PORT,
                mas::LISTENER_PORT
            ),
            format!("127.0.0.1:{}, MAS's own port", mas::LISTENER_PORT),
            format!("{} for Conduit", homeserver::CONDUIT.port),
            format!("{} for the others", homeserver::SYNAPSE.port),
            format!("{}:<port> with --compose", defaults::COMPOSE_SERVICE),
            format!("[default: {}]", defaults::FEDERATION_PORT),
            format!("{} Synapse", homeserver::SYNAPSE.default_max_upload),
            format!("[default: {}]", defaults::WEBROOT),
            format!("[default: ./{}]", defaults::OUT),
            format!("[default: {}]", defaults::NAMESPACE),
            format!("[default: {}]", defaults::READ_TIMEOUT_SECONDS),
            format!("[default: {},", defaults::ELEMENT_WEB_ROOT),
            format!(
                "{}:{}, the stack's service",
                defaults::ELEMENT_WEB_SERVICE,
                defaults::ELEMENT_WEB_IMAGE_PORT
            ),
        ] {
            assert!(
                help.contains(&expected),
                "`generate --help` names {expected}"
            );
        }
    }

    #[test]
    fn the_help_lists_every_homeserver_and_proxy_and_their_defaults() {
        let help = generate_help();
        let names = |proxies: &[Proxy]| proxies.iter().map(|p| p.name()).collect::<Vec<_>>();
        for expected in [
            format!(
                "({}) [default: {}]",
                names(Proxy::ALL).join(", "),
                names(Proxy::DEFAULT).join(",")
            ),
            format!("[default: {}]", Homeserver::default()),
        ] {
            assert!(
                help.contains(&expected),
                "`generate --help` names {expected}"
            );
        }
        for homeserver in Homeserver::ALL {
            assert!(
                help.contains(homeserver.name()),
                "`generate --help` names {homeserver}"
            );
        }
    }

    #[test]
    fn the_worker_help_names_every_group_in_order() {
        let names: Vec<&str> = WorkerGroup::ALL.iter().map(|group| group.name()).collect();
        let listed = format!("groups ({})", names.join(", "));
        assert!(
            generate_help().contains(&listed),
            "`--worker` help lists {listed}"
        );
    }
}
