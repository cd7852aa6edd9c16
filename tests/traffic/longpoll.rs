//! Thousands of clients at once (issue 23): with `--clients 2000` and the main-config lines
//! the summary prescribes for it, each real proxy holds 2,000 `/sync` long-polls of 30 s at
//! once, each on a TLS connection of its own, answers each client's second poll on the same
//! keep-alive connection (as every sync loop re-polls), and a short request on a new
//! connection beside them is answered at once instead of queueing behind them. The same load at up to 10,000
//! clients, and the packaged defaults' ceilings, are measured in benches/longpoll.rs.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::longpoll::{self, Load, Outcome, SyncServer};
use crate::common::pki::TestCa;
use crate::common::proxy::{Options, Proxy, Running, Site};
use crate::common::validators::Tuning;

use super::rules::per_server;

const CLIENTS: usize = 2000;
/// Two: the re-poll on a connection kept alive while the proxy is full of long-polls is
/// where Apache's mpm_event closed connections (capacity.rs, `APACHE_MPM`).
const POLLS: usize = 2;
/// What every Matrix client asks `/sync` to wait for.
const HOLD: Duration = Duration::from_secs(30);
/// A short request that waits this long has queued behind the long-polls (a fifth of a
/// hold); unqueued it takes milliseconds, even on a busy CI machine.
const SHORT_REQUEST_LIMIT: Duration = Duration::from_secs(6);

per_server!(long_polls_at_two_thousand_clients);

async fn long_polls_at_two_thousand_clients(server: Proxy) {
    let fds = longpoll::raise_fd_limit(1 << 16);
    assert!(
        fds >= 4 * CLIENTS as u64,
        "{CLIENTS} clients need {} file descriptors in this process (the clients' and the \
         stand-in's sockets); the hard limit allows {fds}",
        4 * CLIENTS
    );
    let dir = tempfile::tempdir().unwrap();
    let upstream = SyncServer::start("127.0.0.1:0".parse().unwrap()).await;
    let ca = TestCa::new();
    let options = Options {
        clients: Some(CLIENTS),
        ..Options::default()
    };
    let cert = ca.issue(dir.path(), &options.names());
    let site = Site::generate(dir.path(), server, &options, upstream.address, &cert);
    let tuning = Tuning::for_site(&site);
    let running = tokio::task::block_in_place(|| {
        Running::start_tuned(
            server,
            dir.path(),
            &site.config,
            options.listen,
            &options.ports(),
            Some(&tuning),
        )
    })
    .expect("the caller checked Proxy::installed");
    let load = Load {
        proxy: SocketAddr::new(options.listen, 443),
        host: options.homeserver_host(),
        tls: longpoll::client_tls(std::slice::from_ref(&ca.cert_der)),
        connections: CLIENTS,
        polls: POLLS,
        hold: HOLD,
        ramp_per_second: 1000,
        sources: vec![IpAddr::from([127, 0, 0, 1])],
        probe_source: IpAddr::from([127, 0, 0, 2]),
        probe_every: Duration::from_millis(250),
        connect_timeout: Duration::from_secs(10),
        grace: Duration::from_secs(10),
        deadline: Duration::from_secs(90),
    };
    let (outcome, ()) = load.run(|| ()).await;
    let logs = || format!("{}{}", running.logs(), site.files());
    assert_eq!(
        (outcome.completed, outcome.failed()),
        (CLIENTS * POLLS, 0),
        "{server:?}: long-polls completed of {}, failed: {}\n{}",
        CLIENTS * POLLS,
        Outcome::failure_summary(&outcome.failures),
        logs()
    );
    let held = upstream.counters.most_holding.load(Ordering::Relaxed);
    assert_eq!(
        held,
        CLIENTS as u64,
        "{server:?}: the homeserver held at most {held} of the {CLIENTS} long-polls at once: \
         the proxy queued the rest\n{}",
        logs()
    );
    assert!(
        outcome.probe_failures.is_empty() && outcome.probes.len() >= 40,
        "{server:?}: short requests beside the long-polls: {} answered, failed: {}\n{}",
        outcome.probes.len(),
        Outcome::failure_summary(&outcome.probe_failures),
        logs()
    );
    let slowest = outcome.probe_quantile(1.0).unwrap();
    assert!(
        slowest < SHORT_REQUEST_LIMIT,
        "{server:?}: a short request waited {slowest:?} for its first byte beside {CLIENTS} \
         long-polls (p99 {:?}): it queued behind them\n{}",
        outcome.probe_quantile(0.99),
        logs()
    );
}
