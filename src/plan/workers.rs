//! `--worker`: which requests go to which of Synapse's worker processes, printed by the
//! proxies from `homeserver::workers::TABLE` (none has a pattern of its own).

use serde::Serialize;

use super::Decisions;
use crate::homeserver::workers::{self, Balance};
use crate::setup::{Upstream, UpstreamHost, WorkerGroup, Workers};

#[derive(Debug, Serialize)]
pub struct WorkersPlan {
    /// In the order a proxy tries them: the first group whose pattern matches takes the
    /// request; a request no group takes stays on the main process (`upstream`).
    pub groups: Vec<WorkerGroupPlan>,
    /// Synapse's side: the shared settings and one config file per worker.
    pub synapse: SynapseWorkers,
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
}

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
    let groups = workers
        .groups
        .iter()
        .map(|(group, servers)| group_plan(*group, servers, &decided.prefixes))
        .filter(|group| !group.patterns.is_empty())
        .collect();
    Some(WorkersPlan {
        groups,
        synapse: synapse_workers(workers),
    })
}

fn synapse_workers(workers: &Workers) -> SynapseWorkers {
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
    let replication_host = "127.0.0.1";
    let mut instance_map = vec![Instance {
        name: "main".into(),
        host: replication_host.into(),
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
    }
}
