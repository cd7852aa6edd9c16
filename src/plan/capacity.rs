//! How many connections, worker threads and file descriptors the proxies need for
//! `--clients` clients syncing at once. Every number the generated files and the summary
//! prescribe for load is computed here, from the client count alone, so that a
//! measurement that changes a formula changes it in one place.
//!
//! The unit: a Matrix client keeps one `/sync` long-poll open all the time (Element asks
//! for `timeout=30000`), so each syncing client is one proxied request in flight at every
//! moment, holding a client connection and an upstream connection.

use serde::Serialize;

use crate::setup::Clients;

/// Requests beside the long-polls, per four clients: sends, media, key uploads and idle
/// keep-alive connections of clients between polls (a quarter; the lead's benchmark sends
/// short requests alongside the long-polls and measures them).
const OTHER_PER_FOUR_CLIENTS: u32 = 1;
/// Connection counts are rounded up to this: sizes that read as deliberate, and Apache's
/// processes hold `APACHE_THREADS_PER_CHILD` each.
const CONNECTION_STEP: u32 = 64;
/// The idle pool toward the homeserver keeps at least this many (nginx `keepalive`, Caddy
/// `keepalive_idle_conns_per_host`, Traefik `maxIdleConnsPerHost`): below it even a few
/// busy clients churn connections.
const MIN_UPSTREAM_IDLE: u32 = 64;
/// Idle upstream connections per four clients: the pool absorbs the short requests (the
/// long-polls hold their connection busy, not idle). For the default 1000 clients this is
/// the 256 the templates kept before `--clients`, measured against Caddy's default of 32,
/// where 64 busy clients made it open about 1,400 new connections per 10,000 requests.
const UPSTREAM_IDLE_PER_FOUR_CLIENTS: u32 = 1;
/// nginx's and the descriptor limits' sizes are rounded up to this (nginx's own default
/// `worker_connections` is 512, Debian's 768, the image's 1024).
const DESCRIPTOR_STEP: u32 = 1024;
/// Apache mpm_worker and mpm_event: threads per child process. Debian's mpm_*.conf have 25 with
/// `ThreadLimit 64`; 64 keeps `ThreadLimit` where Debian has it and needs fewer processes.
/// A proxied request in flight holds one thread for its whole length (mod_proxy reads the
/// backend's answer synchronously), so long-polls need one thread each.
const APACHE_THREADS_PER_CHILD: u32 = 64;
/// The MPM prescribed for a homeserver's Apache: `worker`, where a connection keeps its
/// thread between requests. Debian enables `event`, whose listener thread takes keep-alive
/// connections from their threads and, when a request arrives on one while the child has
/// no idle thread, shuts the connection down (server/mpm/event/event.c, `get_worker`
/// without blocking, then `shutdown_connection`). Long-polls fill a child's threads, so the
/// re-poll after each answered `/sync` meets exactly that: measured (benches/longpoll.rs,
/// 2 polls each) 10 and 43 of 10,000 polls lost with `event` at 5,000 clients, none with
/// `worker` at 5,000 or 10,000. What `event` saves, threads for idle keep-alive
/// connections, long-polling clients never give it: their connection is in a request
/// almost all the time. Measured over HTTP/1.1; HTTP/2 clients (mod_http2) are not.
const APACHE_MPM: &str = "worker";
/// Debian 12's apache2 package enables `mpm_event`; the capacity file tunes it too, for an
/// admin who keeps it.
const APACHE_PACKAGED_MPM: &str = "event";

/// Debian's caddy.service (package caddy 2.6): `LimitNOFILE=1048576`.
pub const DEBIAN_CADDY_UNIT_NOFILE: u32 = 1_048_576;
/// systemd's default hard descriptor limit for services since v240 (`DefaultLimitNOFILE=`
/// 1024:524288, systemd-system.conf(5)). Go programs (Caddy, Traefik) raise their soft
/// limit to the hard one at start since Go 1.19 (release notes, os package), so a unit
/// without `LimitNOFILE=` gives them this many.
pub const SYSTEMD_HARD_NOFILE: u32 = 524_288;

/// ingress-nginx's ConfigMap default `max-worker-connections` (docs/user-guide/
/// nginx-configuration/configmap.md). Its `max-worker-open-files` defaults to 0, "max
/// open files (system's limit) - 1024".
const INGRESS_NGINX_WORKER_CONNECTIONS: u32 = 16_384;

/// The plan's `capacity` section: what `--clients` clients need of each proxy.
#[derive(Debug, Serialize)]
pub struct CapacityPlan {
    /// `--clients`.
    pub clients: u32,
    /// Proxied requests in flight at once: a long-poll per client and the other requests
    /// beside them, rounded up to a multiple of 64.
    pub concurrent: u32,
    /// Idle connections each proxy keeps open to the homeserver for reuse.
    pub upstream_idle: u32,
    /// File descriptors a process that holds every connection needs (compose `ulimits`,
    /// systemd `LimitNOFILE=`).
    pub nofile: u32,
    pub nginx: NginxCapacity,
    pub apache: ApacheCapacity,
    pub haproxy: HaproxyCapacity,
    /// Debian's caddy.service already allows `nofile` descriptors: the summary needs no
    /// drop-in for Caddy.
    pub caddy_unit_suffices: bool,
    /// A Go proxy under a systemd unit without `LimitNOFILE=` gets `nofile` descriptors
    /// (Traefik, whose unit is the admin's).
    pub systemd_default_suffices: bool,
    /// ingress-nginx's default `max-worker-connections` (16384) holds
    /// `nginx.worker_connections`: the Kubernetes summary prescribes no lower value.
    pub ingress_nginx_default_suffices: bool,
}

#[derive(Debug, Serialize)]
pub struct NginxCapacity {
    /// `events { worker_connections }`: per worker, client and upstream connections alike.
    pub worker_connections: u32,
    /// `worker_rlimit_nofile` (main context): the workers' descriptor limit, which nginx
    /// sets itself while still root, so a host needs no systemd drop-in. Without
    /// CAP_SYS_RESOURCE (a container) it cannot pass the hard limit: measured, nginx 1.22
    /// logs "setrlimit(RLIMIT_NOFILE, 55296) failed (1: Operation not permitted)" and runs
    /// with the old limit; the compose stack's `ulimits` are `nofile` for that reason.
    pub worker_rlimit_nofile: u32,
}

#[derive(Debug, Serialize)]
pub struct ApacheCapacity {
    /// The MPM to run (`mpm_<name>`): see `APACHE_MPM`.
    pub mpm: &'static str,
    /// The MPM Debian enables, which the capacity file sets the same numbers for.
    pub packaged_mpm: &'static str,
    /// `ThreadsPerChild` and `ThreadLimit`.
    pub threads_per_child: u32,
    /// `ServerLimit`: child processes, and `StartServers`: every child from the start. A
    /// restart brings every client back at once, and Apache spawns missing children at a
    /// rate that doubles each second up to 32 (MAX_SPAWN_RATE in event.c and worker.c):
    /// with Debian's 2, short requests waited up to 2.1 s behind 5,000 reconnecting
    /// clients, with all children started 5 ms.
    pub server_limit: u32,
    /// `MaxRequestWorkers`: threads over all children, each a request in flight.
    pub max_request_workers: u32,
    /// `MaxSpareThreads`: as many as `MaxRequestWorkers`, so Apache never stops a child.
    /// Every 30 s thousands of long-polls return at once, the threads are idle for an
    /// instant, and with Debian's 75 Apache stops children, closing their keep-alive
    /// connections under the clients' next poll: measured (benches/longpoll.rs) 81 of
    /// 10,000 polls lost at 5,000 clients, 87 of 15,000 at 7,500.
    pub max_spare_threads: u32,
}

#[derive(Debug, Serialize)]
pub struct HaproxyCapacity {
    /// Global `maxconn`.
    pub maxconn: u32,
}

fn round_up(value: u32, step: u32) -> u32 {
    value.div_ceil(step) * step
}

pub fn capacity_plan(clients: Clients) -> CapacityPlan {
    let clients = clients.get();
    let concurrent = round_up(
        clients + (clients * OTHER_PER_FOUR_CLIENTS).div_ceil(4),
        CONNECTION_STEP,
    );
    let upstream_idle = round_up(
        (clients * UPSTREAM_IDLE_PER_FOUR_CLIENTS).div_ceil(4),
        CONNECTION_STEP,
    )
    .max(MIN_UPSTREAM_IDLE);
    // A proxied request holds two connections, the client's and the upstream one, and the
    // idle pool holds its own. nginx's accept_mutex is off by default since 1.11.3
    // (nginx.org/en/docs/ngx_core_module.html#accept_mutex), so the kernel may hand most
    // new connections to one busy worker: one worker must be able to hold them all.
    let worker_connections = round_up(2 * concurrent + upstream_idle, DESCRIPTOR_STEP);
    // Twice the connections: a descriptor per connection, and as many again for what the
    // estimate leaves out (log files, listeners, files served, a burst past `concurrent`),
    // so that the proxy's own limit (worker_connections, maxconn) is reached first and
    // logged, rather than EMFILE ("Too many open files") on accept.
    let nofile = 2 * worker_connections;
    let max_request_workers = round_up(concurrent, APACHE_THREADS_PER_CHILD);
    CapacityPlan {
        clients,
        concurrent,
        upstream_idle,
        nofile,
        nginx: NginxCapacity {
            worker_connections,
            worker_rlimit_nofile: nofile,
        },
        apache: ApacheCapacity {
            mpm: APACHE_MPM,
            packaged_mpm: APACHE_PACKAGED_MPM,
            threads_per_child: APACHE_THREADS_PER_CHILD,
            server_limit: max_request_workers / APACHE_THREADS_PER_CHILD,
            max_request_workers,
            max_spare_threads: max_request_workers,
        },
        // HAProxy 2.6 configuration.txt, global `maxconn`: "the maximum per-process number
        // of concurrent connections", accepted ones (the frontends stop accepting at it);
        // a frontend's `maxconn` "0, which is the default, the global maxconn value is
        // used"; and "ulimit-n is automatically adjusted according to this value" (when
        // started as root, as Debian's unit does; the compose image's haproxy user gets
        // `ulimits` instead). Measured here (HAProxy 2.6.12, hard limit 20000, no
        // CAP_SYS_RESOURCE): maxconn 12544 wants 25105 descriptors and HAProxy exits with
        // "Cannot raise FD limit" (strict-limits is on by default), so `nofile` must stay
        // above 2 × maxconn, which it does (see the test).
        haproxy: HaproxyCapacity {
            maxconn: concurrent,
        },
        caddy_unit_suffices: nofile <= DEBIAN_CADDY_UNIT_NOFILE,
        systemd_default_suffices: nofile <= SYSTEMD_HARD_NOFILE,
        ingress_nginx_default_suffices: worker_connections <= INGRESS_NGINX_WORKER_CONNECTIONS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(clients: u32) -> CapacityPlan {
        capacity_plan(clients.to_string().parse().unwrap())
    }

    #[test]
    fn the_default_keeps_the_pool_of_256() {
        let capacity = plan(crate::defaults::CLIENTS);
        assert_eq!(capacity.upstream_idle, 256);
        assert_eq!(capacity.concurrent, 1280);
        assert_eq!(capacity.nginx.worker_connections, 3072);
        assert_eq!(capacity.nginx.worker_rlimit_nofile, 6144);
        assert_eq!(capacity.apache.max_request_workers, 1280);
        assert_eq!(capacity.apache.server_limit, 20);
        assert_eq!(capacity.haproxy.maxconn, 1280);
        assert_eq!(capacity.nofile, 6144);
        assert!(capacity.caddy_unit_suffices && capacity.systemd_default_suffices);
        assert!(capacity.ingress_nginx_default_suffices);
    }

    #[test]
    fn ten_thousand_clients() {
        let capacity = plan(10_000);
        assert_eq!(capacity.concurrent, 12_544);
        assert_eq!(capacity.upstream_idle, 2560);
        assert_eq!(capacity.nginx.worker_connections, 27_648);
        assert_eq!(capacity.apache.server_limit, 196);
        assert_eq!(capacity.haproxy.maxconn, 12_544);
        assert!(capacity.caddy_unit_suffices && capacity.systemd_default_suffices);
        assert!(!capacity.ingress_nginx_default_suffices);
        let most = plan(Clients::MAX);
        assert!(most.caddy_unit_suffices && !most.systemd_default_suffices);
    }

    #[test]
    fn every_size_holds_what_it_must_at_every_scale() {
        for clients in [1, 2, 63, 64, 255, 1000, 1001, 4096, 10_000, 54_321, 100_000] {
            let c = plan(clients);
            assert!(c.concurrent >= clients + clients / 4, "{clients}");
            assert_eq!(c.concurrent % CONNECTION_STEP, 0, "{clients}");
            assert!(c.upstream_idle >= MIN_UPSTREAM_IDLE, "{clients}");
            // One nginx worker holds every request's two connections and the pool.
            assert!(
                c.nginx.worker_connections >= 2 * c.concurrent + c.upstream_idle,
                "{clients}"
            );
            assert!(c.nginx.worker_rlimit_nofile >= c.nginx.worker_connections);
            assert!(c.nofile >= 2 * c.concurrent + c.upstream_idle, "{clients}");
            assert!(c.apache.max_request_workers >= c.concurrent, "{clients}");
            assert_eq!(
                c.apache.server_limit * c.apache.threads_per_child,
                c.apache.max_request_workers,
                "{clients}"
            );
            // The MPMs' compiled-in ceiling (MAX_SERVER_LIMIT in worker.c and event.c).
            assert!(c.apache.server_limit <= 20_000, "{clients}");
            assert!(c.haproxy.maxconn >= c.concurrent, "{clients}");
            // HAProxy's own need (measured: 25105 for maxconn 12544) fits the ulimits.
            assert!(c.nofile >= 2 * c.haproxy.maxconn + 1024, "{clients}");
            // Linux's default fs.nr_open: no process's descriptor limit goes higher.
            assert!(c.nofile <= 1_048_576, "{clients}");
        }
    }
}
