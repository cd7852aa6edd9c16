//! `--worker`: which requests go to which of Synapse's worker processes, printed by the
//! proxies from `homeserver::workers::TABLE` (none has a pattern of its own).

use serde::Serialize;

use super::Decisions;
use crate::homeserver::workers::{self, Balance};
use crate::setup::{Upstream, WorkerGroup};

#[derive(Debug, Serialize)]
pub struct WorkersPlan {
    /// In the order a proxy tries them: the first group whose pattern matches takes the
    /// request; a request no group takes stays on the main process (`upstream`).
    pub groups: Vec<WorkerGroupPlan>,
}

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
    Some(WorkersPlan { groups })
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
