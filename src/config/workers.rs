//! `--worker GROUP=HOST:PORT` into `Setup::workers`, refusing what cannot work. The
//! facts behind each refusal are in `homeserver::workers`.

use super::layer::{Layers, Source};
use crate::error::Error;
use crate::homeserver::workers;
use crate::setup::{
    Homeserver, Proxy, Setup, Upstream, UpstreamHost, WorkerAddress, WorkerGroup, Workers,
};

/// The proxies that route to workers: each hashes on the access token, the room id, the
/// client's address and the URI (see `plan::workers`).
pub const WORKER_PROXIES: [Proxy; 3] = [Proxy::Nginx, Proxy::Haproxy, Proxy::Caddy];

/// What the rest of the setup that the workers depend on says.
struct Context<'a> {
    homeserver: Homeserver,
    upstream: &'a Upstream,
    mas: bool,
    compose: bool,
    kubernetes: bool,
}

/// The workers of `setup` (merged but for them), grouped in table order, or why they
/// cannot be; with the default proxy list, the proxies that cannot route to workers are
/// left out of `setup` (with a warning) rather than refused.
pub fn workers(
    layers: &Layers,
    setup: &mut Setup,
    proxies_defaulted: bool,
) -> Result<Workers, Error> {
    let context = Context {
        homeserver: setup.homeserver,
        upstream: &setup.upstream,
        mas: setup.mas.is_some(),
        compose: setup.compose,
        kubernetes: setup.kubernetes.is_some(),
    };
    let context = &context;
    let Some((given, source)) = layers.pick(|l| &l.workers) else {
        return Ok(Workers::default());
    };
    let Some(first) = given.first() else {
        return Ok(Workers::default());
    };
    let shown = |worker: &WorkerAddress| match source {
        Source::Flag => format!("--worker {worker}"),
        Source::File => format!("workers: {{{}: [{}]}}", worker.group, worker.address),
    };
    let refuse = |worker: &WorkerAddress, why: String, example: String| Error::WorkerRefused {
        given: shown(worker),
        why,
        example,
    };
    refuse_context(first, context).map_err(|(why, example)| refuse(first, why, example))?;
    if context.compose {
        let all: Vec<&WorkerAddress> = given.iter().collect();
        for worker in given.iter() {
            refuse_in_stack(worker, &all).map_err(|(why, example)| refuse(worker, why, example))?;
        }
    }
    let mut workers = Workers::default();
    for group in WorkerGroup::ALL {
        let addresses: Vec<&WorkerAddress> = given.iter().filter(|w| w.group == *group).collect();
        for (index, worker) in addresses.iter().enumerate() {
            refuse_address(worker, &addresses[..index], context)
                .map_err(|(why, example)| refuse(worker, why, example))?;
        }
        if !addresses.is_empty() {
            let list = addresses.iter().map(|w| w.address.clone()).collect();
            workers.groups.push((*group, list));
        }
    }
    worker_proxies(
        first,
        &mut setup.proxies,
        proxies_defaulted,
        &mut setup.warnings,
    )
    .map_err(|(why, example)| refuse(first, why, example))?;
    Ok(workers)
}

/// Refusals of workers as such, named on the first one given.
fn refuse_context(first: &WorkerAddress, context: &Context) -> Result<(), (String, String)> {
    let example = format!("--homeserver synapse --worker {first}");
    if context.homeserver != Homeserver::Synapse {
        return Err((
            format!(
                "workers are Synapse's way to spread its load over processes; \
                 --homeserver {} has none",
                context.homeserver
            ),
            example,
        ));
    }
    if context.kubernetes {
        return Err((
            "--kubernetes does not start Synapse's workers yet; generate the proxy configs \
             for workers you run yourself (without --kubernetes)"
                .into(),
            format!("{example} --proxy nginx"),
        ));
    }
    Ok(())
}

/// The stack's services a worker's service cannot be named: the homeserver's, MAS's and
/// its database's, the calls', certbot's, Element Web's, Redis's and Synapse's database's
/// (`plan::compose` and the compose templates name them), and every proxy's.
const TAKEN_SERVICES: &[&str] = &[
    crate::defaults::COMPOSE_SERVICE,
    crate::defaults::MAS_COMPOSE_SERVICE,
    "mas-database",
    crate::defaults::LIVEKIT_COMPOSE_SERVICE,
    crate::defaults::RTC_AUTH_COMPOSE_SERVICE,
    crate::defaults::CERTBOT_SERVICE,
    "first-certificate",
    crate::defaults::ELEMENT_WEB_SERVICE,
    crate::defaults::REDIS_COMPOSE_SERVICE,
    crate::defaults::SYNAPSE_DATABASE_COMPOSE_SERVICE,
];

/// In the compose stack each worker is a service of its own, and the other containers reach
/// it by the service's name: the host of `GROUP=HOST:PORT` is that name. Loopback would be
/// the proxy's own container, an IP address one Docker hands out itself, and a name with a
/// dot no service's; a name is one worker's (a service runs one process).
fn refuse_in_stack(
    worker: &WorkerAddress,
    others: &[&WorkerAddress],
) -> Result<(), (String, String)> {
    let group = worker.group;
    let example = format!("{group}=synapse-{}1:{}", group.name(), worker.address.port);
    let name = match &worker.address.host {
        host if host.is_loopback() => {
            return Err((
                format!(
                    "{} is loopback, which in the compose stack is the proxy's own container; \
                     each worker is a service of its own, reached by its service name",
                    worker.address
                ),
                example,
            ));
        }
        UpstreamHost::Name(name) if !name.as_str().contains('.') => name.as_str(),
        _ => {
            return Err((
                format!(
                    "in the compose stack the host names the worker's service, which the \
                     other containers reach it by; {} is no service name (one label, no dots)",
                    worker.address.host
                ),
                example,
            ));
        }
    };
    let proxy_names: Vec<&str> = Proxy::ALL.iter().map(|proxy| proxy.name()).collect();
    if TAKEN_SERVICES.contains(&name) || proxy_names.contains(&name) {
        return Err((
            format!("{name} is a service of the stack already; a worker needs one of its own"),
            example,
        ));
    }
    if let Some(other) = others
        .iter()
        .find(|other| other.address.host == worker.address.host && other.address != worker.address)
    {
        return Err((
            format!(
                "{name} is the service of {other} already; a service runs one worker, so \
                 each worker needs a name of its own"
            ),
            example,
        ));
    }
    Ok(())
}

/// Refusals of one address, given the group's addresses before it.
fn refuse_address(
    worker: &WorkerAddress,
    before: &[&WorkerAddress],
    context: &Context,
) -> Result<(), (String, String)> {
    let group = worker.group;
    if group == WorkerGroup::SsoLogin && context.mas {
        return Err((
            "with --mas, MAS handles every login, SSO with upstream providers included \
             (the proxy sends /login and its sub-paths to MAS); Synapse's SSO endpoints \
             are not used"
                .into(),
            "--mas without --worker sso-login=…".into(),
        ));
    }
    if &worker.address == context.upstream {
        return Err((
            format!(
                "{} is --upstream, the main process; a worker is a process of its own \
                 with its own listener",
                worker.address
            ),
            format!("{group}={}:8083", worker.address.host),
        ));
    }
    if worker.address.host.is_loopback()
        && worker.address.port.get() == workers::MAIN_REPLICATION_PORT
    {
        return Err((
            format!(
                "{} is where the fragment puts the main process's replication listener \
                 (loopback, port {})",
                worker.address,
                workers::MAIN_REPLICATION_PORT
            ),
            format!("{group}={}:8083", worker.address.host),
        ));
    }
    if before.iter().any(|w| w.address == worker.address) {
        return Err((
            format!("{} is given twice for {group}", worker.address),
            format!("--worker {group}={}", worker.address),
        ));
    }
    if let Some(first) = before.first().filter(|_| !workers::shardable(group)) {
        return Err((
            format!(
                "{group} has one worker only ({}): {}{}",
                first.address,
                single_reason(group),
                single_stream(group)
            ),
            format!("--worker {}", first),
        ));
    }
    Ok(())
}

/// Why Synapse takes one worker for the group (docs/workers.md, Synapse v1.157.1).
fn single_reason(group: WorkerGroup) -> &'static str {
    match group {
        WorkerGroup::SsoLogin => {
            "Synapse's docs: \"Ensure that all SSO logins go to a single process\""
        }
        WorkerGroup::Media => {
            "several media workers must share one media store and name one of them for \
             the background jobs; mxproxy routes to one for now"
        }
        WorkerGroup::UserDirectory => {
            "the user directory is updated by one worker (\"This work cannot be load-balanced\")"
        }
        _ => "its stream has a single writer (\"each stream can only have a single writer\")",
    }
}

/// The stream a single-writer group writes, for the refusal (`typing has one worker only
/// … stream_writers.to_device takes one name`): Synapse's `WriterLocations` reads a list for
/// every stream but, for these, "Currently can only be a single instance"
/// (synapse/config/workers.py, v1.157.1), and Synapse's schema types each as one name.
fn single_stream(group: WorkerGroup) -> String {
    workers::stream(group)
        .map(|stream| format!("; stream_writers.{stream} takes one name"))
        .unwrap_or_default()
}

/// Apache and Traefik cannot route to workers: neither hashes on the access token (a
/// request header or query parameter) to keep a user's /sync on one worker, and a
/// config that balanced sync round robin would work but silently duplicate Synapse's
/// sync caches.
fn worker_proxies(
    first: &WorkerAddress,
    proxies: &mut Vec<Proxy>,
    defaulted: bool,
    warnings: &mut Vec<String>,
) -> Result<(), (String, String)> {
    let cannot: Vec<Proxy> = proxies
        .iter()
        .copied()
        .filter(|proxy| !WORKER_PROXIES.contains(proxy))
        .collect();
    if cannot.is_empty() {
        return Ok(());
    }
    let named: Vec<&str> = cannot.iter().map(|proxy| proxy.name()).collect();
    let why = format!(
        "mxproxy cannot route to workers with {} (Apache and Traefik have no consistent \
         hash on the access token to keep a user's /sync on one worker); nginx, haproxy and caddy can",
        named.join(", ")
    );
    if defaulted {
        proxies.retain(|proxy| WORKER_PROXIES.contains(proxy));
        warnings.push(format!("--worker: no config for {why}"));
        return Ok(());
    }
    Err((why, format!("--proxy nginx,haproxy,caddy --worker {first}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SetupLayer;
    use crate::setup::Setup;

    fn merged(flags: &[&str]) -> Result<Setup, Error> {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(
            ["mxproxy", "generate", "--server-name", "example.com"]
                .iter()
                .chain(flags),
        )
        .unwrap();
        match cli.command {
            Some(crate::cli::Command::Generate(command)) => {
                crate::config::merge(&command.setup.layer, SetupLayer::default())
            }
            _ => unreachable!(),
        }
    }

    fn refusal(flags: &[&str]) -> String {
        let error = merged(flags).expect_err("refused");
        assert_eq!(error.exit_code(), 2, "{error}");
        error.to_string()
    }

    #[test]
    fn groups_follow_table_order_and_keep_their_addresses() {
        let setup = merged(&[
            "--homeserver",
            "synapse",
            "--proxy",
            "nginx",
            "--worker",
            "federation-inbound=127.0.0.1:8084",
            "--worker",
            "sync=127.0.0.1:8083",
            "--worker",
            "sync=127.0.0.1:8093",
        ])
        .unwrap();
        let groups: Vec<(WorkerGroup, Vec<String>)> = setup
            .workers
            .groups
            .iter()
            .map(|(g, a)| (*g, a.iter().map(ToString::to_string).collect()))
            .collect();
        assert_eq!(
            groups,
            [
                (
                    WorkerGroup::Sync,
                    vec!["127.0.0.1:8083".into(), "127.0.0.1:8093".into()]
                ),
                (
                    WorkerGroup::FederationInbound,
                    vec!["127.0.0.1:8084".into()]
                ),
            ]
        );
    }

    #[test]
    fn the_default_proxies_leave_out_those_that_cannot_hash_on_the_token() {
        let setup =
            merged(&["--homeserver", "synapse", "--worker", "sync=127.0.0.1:8083"]).unwrap();
        assert_eq!(setup.proxies, [Proxy::Nginx, Proxy::Caddy]);
        assert!(setup.warnings.iter().any(|w| w.contains("apache, traefik")));
    }

    #[test]
    fn refusals_say_why_and_show_what_works() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--worker", "sync=127.0.0.1:8083", "--proxy", "nginx"],
                "--worker sync=127.0.0.1:8083: workers are Synapse's way to spread its load over processes; --homeserver conduit has none, e.g. --homeserver synapse --worker sync=127.0.0.1:8083",
            ),
            (
                &[
                    "--homeserver",
                    "synapse",
                    "--proxy",
                    "apache",
                    "--worker",
                    "sync=127.0.0.1:8083",
                ],
                "--worker sync=127.0.0.1:8083: mxproxy cannot route to workers with apache (Apache and Traefik have no consistent hash on the access token to keep a user's /sync on one worker); nginx, haproxy and caddy can, e.g. --proxy nginx,haproxy,caddy --worker sync=127.0.0.1:8083",
            ),
            (
                &[
                    "--homeserver",
                    "synapse",
                    "--proxy",
                    "nginx",
                    "--worker",
                    "typing=127.0.0.1:8083",
                    "--worker",
                    "typing=127.0.0.1:8084",
                ],
                "--worker typing=127.0.0.1:8084: typing has one worker only (127.0.0.1:8083): its stream has a single writer (\"each stream can only have a single writer\"); stream_writers.typing takes one name, e.g. --worker typing=127.0.0.1:8083",
            ),
            (
                &[
                    "--homeserver",
                    "synapse",
                    "--proxy",
                    "nginx",
                    "--worker",
                    "sync=127.0.0.1:8083",
                    "--worker",
                    "sync=127.0.0.1:8083",
                ],
                "--worker sync=127.0.0.1:8083: 127.0.0.1:8083 is given twice for sync, e.g. --worker sync=127.0.0.1:8083",
            ),
            (
                &[
                    "--homeserver",
                    "synapse",
                    "--proxy",
                    "nginx",
                    "--worker",
                    "media=127.0.0.1:8008",
                ],
                "--worker media=127.0.0.1:8008: 127.0.0.1:8008 is --upstream, the main process; a worker is a process of its own with its own listener, e.g. media=127.0.0.1:8083",
            ),
            (
                &[
                    "--homeserver",
                    "synapse",
                    "--proxy",
                    "nginx",
                    "--mas",
                    "--worker",
                    "sso-login=127.0.0.1:8083",
                ],
                "--worker sso-login=127.0.0.1:8083: with --mas, MAS handles every login, SSO with upstream providers included (the proxy sends /login and its sub-paths to MAS); Synapse's SSO endpoints are not used, e.g. --mas without --worker sso-login=…",
            ),
            (
                &[
                    "--homeserver",
                    "synapse",
                    "--compose",
                    "--worker",
                    "sync=127.0.0.1:8083",
                ],
                "--worker sync=127.0.0.1:8083: 127.0.0.1:8083 is loopback, which in the compose stack is the proxy's own container; each worker is a service of its own, reached by its service name, e.g. sync=synapse-sync1:8083",
            ),
            (
                &[
                    "--homeserver",
                    "synapse",
                    "--compose",
                    "--worker",
                    "sync=10.0.0.5:8083",
                ],
                "--worker sync=10.0.0.5:8083: in the compose stack the host names the worker's service, which the other containers reach it by; 10.0.0.5 is no service name (one label, no dots), e.g. sync=synapse-sync1:8083",
            ),
            (
                &[
                    "--homeserver",
                    "synapse",
                    "--compose",
                    "--worker",
                    "media=redis:8085",
                ],
                "--worker media=redis:8085: redis is a service of the stack already; a worker needs one of its own, e.g. media=synapse-media1:8085",
            ),
            (
                &[
                    "--homeserver",
                    "synapse",
                    "--compose",
                    "--worker",
                    "sync=workers:8083",
                    "--worker",
                    "typing=workers:8084",
                ],
                "--worker sync=workers:8083: workers is the service of typing=workers:8084 already; a service runs one worker, so each worker needs a name of its own, e.g. sync=synapse-sync1:8083",
            ),
        ];
        for (flags, message) in cases {
            assert_eq!(refusal(flags), *message, "{flags:?}");
        }
    }

    #[test]
    fn the_file_form_reads_a_map_of_lists_and_names_the_key() {
        let file = crate::config::parse_file(
            std::path::Path::new("setup.yaml"),
            "homeserver: synapse\nproxy: nginx\nserver_name: example.com\n\
             workers:\n  sync: [127.0.0.1:8083, 127.0.0.1:8093]\n  media: 127.0.0.1:8085\n",
        )
        .unwrap();
        let setup = crate::config::merge(&SetupLayer::default(), file).unwrap();
        assert_eq!(setup.workers.addresses().len(), 3);
        let again = SetupLayer::from(&setup);
        let yaml = serde_yaml::to_string(&again).unwrap();
        assert!(
            yaml.contains("workers:\n  media:\n  - 127.0.0.1:8085\n  sync:\n  - 127.0.0.1:8083\n  - 127.0.0.1:8093\n"),
            "{yaml}"
        );
        let args = crate::config::to_args(&setup, false);
        assert!(
            args.windows(2)
                .any(|w| w == ["--worker", "sync=127.0.0.1:8093"]),
            "{args:?}"
        );
        let bad = crate::config::parse_file(
            std::path::Path::new("setup.yaml"),
            "workers:\n  synchrotron: [127.0.0.1:8083]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            bad.contains("synchrotron") && bad.contains("is not a worker group"),
            "{bad}"
        );
    }
}
