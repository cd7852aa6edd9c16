//! `--worker`: which requests go to which of Synapse's worker processes, printed by the
//! proxies from `homeserver::workers::TABLE` (none has a pattern of its own).

use serde::Serialize;

use super::Decisions;
use crate::homeserver::workers::{self, Balance};
use crate::setup::{Setup, Upstream, UpstreamHost, WorkerGroup};

#[derive(Debug, Serialize)]
pub struct WorkersPlan {
    /// In the order a proxy tries them: the first group whose pattern matches takes the
    /// request; a request no group takes stays on the main process (`upstream`).
    pub groups: Vec<WorkerGroupPlan>,
    /// Synapse's side: the shared settings and one config file per worker.
    pub synapse: SynapseWorkers,
    /// nginx, with an `initial-sync` group: its path pattern also takes a `/sync` with
    /// `since`, which a second map sends on to the sync group's upstream or the main
    /// process. HAProxy and Caddy test `groups[].without_query` in the group's own rule.
    pub nginx_query_split: Option<NginxQuerySplit>,
}

#[derive(Debug, Serialize)]
pub struct NginxQuerySplit {
    /// The group whose requests with the parameter go elsewhere (`initial_sync`).
    pub ident: String,
    /// The query parameter (`since`).
    pub param: &'static str,
    /// The group that takes them instead (`sync`), or null for the main process.
    pub with_param_ident: Option<String>,
}

/// What Synapse's processes need to run as workers (docs/workers.md, Synapse v1.157.1).
#[derive(Debug, Serialize)]
pub struct SynapseWorkers {
    /// Every worker, in `groups` order then address order.
    pub processes: Vec<SynapseWorker>,
    /// Port of the main process's HTTP replication listener, on `replication_host`.
    pub replication_port: u16,
    pub replication_host: &'static str,
    /// `instance_map`: `main`, then each worker that has a replication listener.
    pub instance_map: Vec<Instance>,
    /// `stream_writers`: each stream with its writers' names.
    pub stream_writers: Vec<StreamWriters>,
    /// `media_instance_running_background_jobs` with a media worker (and then
    /// `enable_media_repo: false` on the main process).
    pub media_background: Option<String>,
    /// `update_user_directory_from_worker`.
    pub user_directory: Option<String>,
    /// `--compose`: what the processes share in the stack; null outside it.
    pub stack: Option<SynapseStack>,
}

/// The shared settings the stack's services give every Synapse process: docs/workers.md
/// ("workers only work with PostgreSQL-based Synapse deployments"; Redis "is required to
/// manage the communication between the processes"), by service name.
#[derive(Debug, Serialize)]
pub struct SynapseStack {
    /// `redis.host`: the Redis service.
    pub redis_host: &'static str,
    /// `database.args` for psycopg2: host, user and database. The password is not in the
    /// file: psycopg2 hands the args to libpq, which reads `PGPASSWORD` from the
    /// environment when they name none (postgresql.org/docs/current/libpq-envars.html;
    /// Synapse's docs/postgres.md: the args are libpq's connection keywords), and each
    /// Synapse service sets it from .env.
    pub database_host: &'static str,
    pub database_user: &'static str,
    pub database_name: &'static str,
    /// `worker_replication_secret_path`: the replication listener is reachable from every
    /// container of the stack's network, so its requests are authenticated with a secret
    /// from .env ("unauthenticated, unless worker_replication_secret is configured",
    /// docs/workers.md), read from the compose secret's file (Synapse 1.126.0 and later).
    pub replication_secret_path: String,
}

/// The Synapse services the stack adds for its workers (`--worker --compose`), and the
/// Redis and PostgreSQL they need. Compose's side of `SynapseWorkers`.
#[derive(Debug, Serialize)]
pub struct ComposeWorkers {
    /// One service per worker, in `SynapseWorkers::processes` order.
    pub services: Vec<ComposeWorker>,
    pub redis_service: &'static str,
    /// docker.io/library/redis at a release; `redis-cli` is in the image for the health
    /// check. Nothing is persisted: Synapse uses Redis for replication pub/sub and as a
    /// cache only (docs/workers.md, "Redis").
    pub redis_image: &'static str,
    pub database_service: &'static str,
    pub database_image: &'static str,
    pub database_user: &'static str,
    pub database_name: &'static str,
    pub database_volume: &'static str,
    pub database_data_dir: &'static str,
    /// `POSTGRES_INITDB_ARGS`: Synapse refuses a database whose collation and ctype are not
    /// C (docs/postgres.md, "Set up database"; contrib/docker/docker-compose.yml sets the same).
    pub database_initdb_args: &'static str,
    /// `.env` variables: the database password (PostgreSQL and every Synapse process) and
    /// the replication secret (read as the compose secret `replication_secret_name`).
    pub database_password_env: &'static str,
    pub replication_secret_env: &'static str,
    pub replication_secret_name: &'static str,
    /// The main process's health check, with the image's curl on its own port: the
    /// workers start once it is healthy (the image's own HEALTHCHECK asks port 8008 only).
    pub main_healthcheck: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ComposeWorker {
    /// The service's name: the host of `--worker GROUP=HOST:PORT`.
    pub service: String,
    /// `worker_name`, and its config file below `--out` and where the service mounts it.
    pub name: String,
    pub config_file: String,
    pub config_path: &'static str,
    /// The worker's HTTP listener asked for `/health` (every listener of a generic worker
    /// serves it: synapse/app/generic_worker.py "We always include a health resource").
    pub healthcheck: Vec<String>,
}

/// Synapse's worker services in the stack. docker/README.md ("pass your args directly to
/// synapse using `run` mode": `run -m synapse.app.generic_worker --config-path=…`) and
/// contrib/docker_compose_workers at Synapse v1.157.1: the image's own /start.py with
/// `run`, so a worker runs as the main process does (its user, jemalloc). The media worker
/// too: Synapse's own worker image runs every type, media_repository included, as
/// `synapse.app.generic_worker` (configure_workers_and_start.py, `WORKERS_CONFIG`,
/// `"media_repository": {"app": "synapse.app.generic_worker", …}`).
pub(super) fn compose_workers(setup: &Setup) -> Option<ComposeWorkers> {
    if !setup.compose || setup.workers.is_empty() {
        return None;
    }
    let services = setup
        .workers
        .groups
        .iter()
        .flat_map(|(group, servers)| {
            servers.iter().enumerate().map(move |(index, server)| {
                let name = format!("{}{}", group.ident(), index + 1);
                ComposeWorker {
                    service: server.host.to_string(),
                    config_file: format!("{WORKER_DIR}/{name}.yaml"),
                    config_path: WORKER_CONFIG_PATH,
                    healthcheck: health(server.port.get()),
                    name,
                }
            })
        })
        .collect();
    Some(ComposeWorkers {
        services,
        redis_service: crate::defaults::REDIS_COMPOSE_SERVICE,
        redis_image: REDIS_IMAGE,
        database_service: crate::defaults::SYNAPSE_DATABASE_COMPOSE_SERVICE,
        database_image: DATABASE_IMAGE,
        database_user: DATABASE_USER,
        database_name: DATABASE_NAME,
        database_volume: DATABASE_VOLUME,
        database_data_dir: DATABASE_DATA_DIR,
        database_initdb_args: "--encoding=UTF-8 --lc-collate=C --lc-ctype=C",
        database_password_env: DATABASE_PASSWORD_ENV,
        replication_secret_env: REPLICATION_SECRET_ENV,
        replication_secret_name: REPLICATION_SECRET_NAME,
        main_healthcheck: health(setup.upstream.port.get()),
    })
}

fn health(port: u16) -> Vec<String> {
    [
        "CMD",
        "curl",
        "-fSs",
        &format!("http://localhost:{port}/health"),
    ]
    .map(String::from)
    .to_vec()
}

/// Redis 7.4, the official image (hub.docker.com/_/redis); Synapse needs only pub/sub
/// and plain keys.
const REDIS_IMAGE: &str = "docker.io/library/redis:7.4";
/// As MAS's database (`plan::compose`): 17, whose data directory is still
/// /var/lib/postgresql/data. Synapse supports PostgreSQL 13 and later (docs/postgres.md).
const DATABASE_IMAGE: &str = "docker.io/library/postgres:17";
const DATABASE_DATA_DIR: &str = "/var/lib/postgresql/data";
const DATABASE_USER: &str = "synapse";
const DATABASE_NAME: &str = "synapse";
const DATABASE_VOLUME: &str = "synapse-database";
const DATABASE_PASSWORD_ENV: &str = "SYNAPSE_DATABASE_PASSWORD";
const REPLICATION_SECRET_ENV: &str = "SYNAPSE_REPLICATION_SECRET";
const REPLICATION_SECRET_NAME: &str = "synapse-replication-secret";
/// Where a worker's service mounts its own config file, after the shared two.
const WORKER_CONFIG_PATH: &str = "/etc/mxproxy/worker.yaml";

#[derive(Debug, Serialize)]
pub struct SynapseWorker {
    /// `worker_name`: the group as an identifier and the worker's place in it (`sync1`).
    pub name: String,
    /// The group as `--worker` names it.
    pub group: WorkerGroup,
    /// Below `--out`: `synapse/workers/<name>.yaml`.
    pub file: String,
    /// The listener's port, and its address when the worker's host is an IP address
    /// (a name leaves Synapse's default, every interface).
    pub port: u16,
    pub bind_address: Option<String>,
    /// The host the other processes reach it at (`instance_map`).
    pub host: String,
    /// `worker_listeners[0].resources[0].names`.
    pub resources: Vec<&'static str>,
    /// `enable_media_repo: true` in the worker's own file (the media group): the shared
    /// `enable_media_repo: false` is read by every process, and a `generic_worker` with it
    /// ignores its `media` listener (synapse/config/repository.py, Synapse 1.163.2; the
    /// docker image does the same: configure_workers_and_start.py, `WORKERS_CONFIG`
    /// `media_repository.worker_extra_conf`).
    pub enable_media_repo: bool,
}

#[derive(Debug, Serialize)]
pub struct Instance {
    pub name: String,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Serialize)]
pub struct StreamWriters {
    pub stream: &'static str,
    /// One name, or several where Synapse allows several writers (`receipts`,
    /// `device_lists`).
    pub writers: Vec<String>,
}

/// Where the worker files go below `--out`; Synapse's systemd units read them from
/// /etc/matrix-synapse/workers/<name>.yaml (docs/systemd-with-workers/README.md).
pub const WORKER_DIR: &str = "synapse/workers";
pub const WORKER_DIR_DEBIAN: &str = "etc/matrix-synapse/workers";

#[derive(Debug, Serialize)]
pub struct WorkerGroupPlan {
    /// The flag's name (`client-reader`).
    pub name: &'static str,
    /// As an identifier (`client_reader`): nginx upstream and HAProxy backend names.
    pub ident: String,
    /// `host:port` of each worker, as given.
    pub servers: Vec<String>,
    /// The table's patterns below a prefix the proxies forward (the admin API's only
    /// with `--expose-admin`), for every method. The table's GET-only patterns are left
    /// out: the main process serves every path a generic worker can, so leaving a path
    /// there is never wrong.
    pub patterns: Vec<String>,
    pub balance: Balance,
    /// Why the group is balanced so, for a comment.
    pub balance_why: &'static str,
    /// The main process takes the group's requests while none of its workers answers.
    pub falls_back_to_main: bool,
    /// nginx: the key of `hash … consistent`, none for round robin (one server, or any).
    pub nginx_hash: Option<&'static str>,
    /// HAProxy: the backend's `balance` algorithm.
    pub haproxy_balance: &'static str,
    /// Caddy: `patterns` as one regular expression (a matcher takes one `path_regexp`).
    pub caddy_pattern: String,
    /// Caddy: the `lb_policy` (2.6 hashes a header, the client's address or the URI; the
    /// token and the room id are copied into headers first).
    pub caddy_lb_policy: &'static str,
    /// A query parameter whose presence leaves the request to the groups after this one
    /// (`since` for `initial-sync`), or null.
    pub without_query: Option<&'static str>,
    /// HAProxy in the compose stack: the workers are service names, resolved through
    /// Docker's DNS at run time (as `upstream.resolver`), so HAProxy starts before they do.
    pub resolver: Option<String>,
}

/// The nginx variables and HAProxy transaction variables the hash keys are read from;
/// the templates define them, named here once.
pub const NGINX_TOKEN: &str = "$mxproxy_token";
pub const NGINX_ROOM: &str = "$mxproxy_room";
pub const HAPROXY_TOKEN: &str = "hash var(txn.mxproxy_token)";
pub const HAPROXY_ROOM: &str = "hash var(txn.mxproxy_room)";
pub const CADDY_TOKEN: &str = "header X-Mxproxy-Token";
pub const CADDY_ROOM: &str = "header X-Mxproxy-Room";

pub(super) fn workers_plan(decided: &Decisions) -> Option<WorkersPlan> {
    let workers = &decided.setup.workers;
    if workers.is_empty() {
        return None;
    }
    let resolver = super::upstream_plan(decided.setup).resolver;
    let groups: Vec<WorkerGroupPlan> = workers
        .groups
        .iter()
        .map(|(group, servers)| group_plan(*group, servers, &decided.prefixes))
        .filter(|group| !group.patterns.is_empty())
        .map(|group| WorkerGroupPlan {
            resolver: resolver.clone(),
            ..group
        })
        .collect();
    Some(WorkersPlan {
        nginx_query_split: nginx_query_split(&groups),
        groups,
        synapse: synapse_workers(decided.setup),
    })
}

/// The first group with a query test, and the next group matching the same paths
/// (the sync group after initial-sync), as nginx's second map needs them.
fn nginx_query_split(groups: &[WorkerGroupPlan]) -> Option<NginxQuerySplit> {
    let (index, split) = groups
        .iter()
        .enumerate()
        .find(|(_, group)| group.without_query.is_some())?;
    let with_param_ident = groups[index + 1..]
        .iter()
        .find(|group| group.patterns.iter().any(|p| split.patterns.contains(p)))
        .map(|group| group.ident.clone());
    Some(NginxQuerySplit {
        ident: split.ident.clone(),
        param: split.without_query?,
        with_param_ident,
    })
}

/// In the stack, the main process is reached by its service name (the upstream's host)
/// and its replication listener binds where its main listener does (every address of its
/// container); the port is not published. On a host, both are loopback.
fn synapse_stack(setup: &Setup) -> Option<(String, SynapseStack)> {
    setup.compose.then(|| {
        (
            setup.upstream.host.to_string(),
            SynapseStack {
                redis_host: crate::defaults::REDIS_COMPOSE_SERVICE,
                database_host: crate::defaults::SYNAPSE_DATABASE_COMPOSE_SERVICE,
                database_user: DATABASE_USER,
                database_name: DATABASE_NAME,
                replication_secret_path: format!("/run/secrets/{REPLICATION_SECRET_NAME}"),
            },
        )
    })
}

fn synapse_workers(setup: &Setup) -> SynapseWorkers {
    let workers = &setup.workers;
    let stack = synapse_stack(setup);
    let processes: Vec<SynapseWorker> = workers
        .groups
        .iter()
        .flat_map(|(group, servers)| {
            servers
                .iter()
                .enumerate()
                .map(move |(index, server)| synapse_worker(*group, index + 1, server))
        })
        .collect();
    let (replication_host, main_host) = match &stack {
        Some((main_host, _)) => ("0.0.0.0", main_host.clone()),
        None => ("127.0.0.1", "127.0.0.1".to_string()),
    };
    let mut instance_map = vec![Instance {
        name: "main".into(),
        host: main_host,
        port: workers::MAIN_REPLICATION_PORT,
    }];
    let mut stream_writers: Vec<StreamWriters> = Vec::new();
    for process in &processes {
        let Some(stream) = workers::stream(process.group) else {
            continue;
        };
        instance_map.push(Instance {
            name: process.name.clone(),
            host: process.host.clone(),
            port: process.port,
        });
        match stream_writers.iter_mut().find(|w| w.stream == stream) {
            Some(writers) => writers.writers.push(process.name.clone()),
            None => stream_writers.push(StreamWriters {
                stream,
                writers: vec![process.name.clone()],
            }),
        }
    }
    let first_of = |group: WorkerGroup| {
        processes
            .iter()
            .find(|p| p.group == group)
            .map(|p| p.name.clone())
    };
    SynapseWorkers {
        media_background: first_of(WorkerGroup::Media),
        user_directory: first_of(WorkerGroup::UserDirectory),
        processes,
        replication_port: workers::MAIN_REPLICATION_PORT,
        replication_host,
        instance_map,
        stream_writers,
        stack: stack.map(|(_, stack)| stack),
    }
}

fn synapse_worker(group: WorkerGroup, index: usize, server: &Upstream) -> SynapseWorker {
    let name = format!("{}{index}", group.ident());
    let bind_address = match &server.host {
        UpstreamHost::V4(ip) => Some(ip.to_string()),
        UpstreamHost::V6(ip) => Some(ip.to_string()),
        UpstreamHost::Name(_) => None,
    };
    SynapseWorker {
        file: format!("{WORKER_DIR}/{name}.yaml"),
        group,
        port: u16::from(server.port),
        bind_address,
        host: server.host.to_string().trim_matches(['[', ']']).to_string(),
        resources: workers::listener_resources(group),
        enable_media_repo: group == WorkerGroup::Media,
        name,
    }
}

fn group_plan(group: WorkerGroup, servers: &[Upstream], prefixes: &[String]) -> WorkerGroupPlan {
    let route = workers::route(group);
    let forwarded = |pattern: &&&str| {
        let path = pattern.trim_start_matches('^');
        prefixes
            .iter()
            .any(|prefix| path.starts_with(prefix.as_str()))
    };
    let (nginx_hash, haproxy_balance, caddy_lb_policy, balance_why) = match route.balance {
        Balance::Token => (
            Some(NGINX_TOKEN),
            HAPROXY_TOKEN,
            CADDY_TOKEN,
            "one user's device stays on one worker: a hash of its whole access token",
        ),
        Balance::Source => (
            Some("$remote_addr"),
            "source",
            "ip_hash",
            "one server's transactions stay on one worker: a hash of its address",
        ),
        Balance::Uri => (
            Some("$request_uri"),
            "uri whole",
            "uri_hash",
            "identical requests meet one worker's cache: a hash of the URI",
        ),
        Balance::Room => (
            Some(NGINX_ROOM),
            HAPROXY_ROOM,
            CADDY_ROOM,
            "one room's requests stay on one worker (pagination must): a hash of the room id",
        ),
        Balance::RoundRobin => (None, "roundrobin", "round_robin", "any of its workers"),
        Balance::Single => (None, "roundrobin", "first", "one worker"),
    };
    let patterns: Vec<String> = route
        .patterns
        .iter()
        .filter(forwarded)
        .map(|pattern| pattern.to_string())
        .collect();
    WorkerGroupPlan {
        name: group.name(),
        ident: group.ident(),
        servers: servers.iter().map(ToString::to_string).collect(),
        caddy_pattern: patterns.join("|"),
        patterns,
        balance: route.balance,
        balance_why,
        falls_back_to_main: route.falls_back_to_main,
        nginx_hash: nginx_hash.filter(|_| servers.len() > 1),
        haproxy_balance,
        caddy_lb_policy,
        without_query: workers::without_query(group),
        resolver: None,
    }
}
