//! Thousands of clients at once (issue 23): N concurrent `/sync` long-polls, each on a TLS
//! connection of its own and re-polled as soon as it returns, through each generated config
//! (nginx, Apache, Caddy, HAProxy, Traefik), under the host's packaged main config as an
//! admin has it and under the tuning mxproxy prescribes for `--clients N`; a short request
//! on a new connection every 100 ms beside them must not queue behind them.
//!
//! `sudo -E cargo bench --bench longpoll` (root: a private network namespace). How to read
//! and tune it: benches/README.md, "Long-polls".
//!
//! Everything runs inside `unshare --net --mount`: only loopback exists, so no packet can
//! leave the machine and ports 80/443 are free. The proxies, the configs and the load
//! client are the real-traffic tests' own (tests/common): what CI proves at 2,000 clients,
//! measured here up to 10,000. The stand-in homeserver runs in a process of its own (this
//! binary again), so that the clients' sockets and the stand-in's each fit a process's
//! descriptor limit. Every run stops by itself within two minutes.

#[allow(unused_imports, unused_macros)]
#[path = "../tests/common/mod.rs"]
mod common;
mod netns;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::longpoll::{self, Footprint, Load, Outcome, SyncServer};
use common::pki::TestCa;
use common::proxy::{Options, Proxy, Running, Site};
use common::validators::Tuning;

/// Set in the stand-in homeserver's process.
const STAND_IN: &str = "MXPROXY_BENCH_STAND_IN";
/// How long each `/sync` is held: the `timeout` every Matrix client sends.
const HOLD: Duration = Duration::from_secs(30);
/// New client connections per second while ramping up: a reconnect storm after a restart
/// is faster, a busy evening slower.
const RAMP_PER_SECOND: usize = 1000;
const DEADLINE: Duration = Duration::from_secs(120);
/// systemd's default for a unit that sets no `LimitNOFILE` (Debian 12: soft 1024, the hard
/// limit the plan knows): what nginx, Apache and HAProxy start with from their packaged units.
const SYSTEMD_NOFILE: (u64, u64) = (1024, mxproxy::plan::SYSTEMD_HARD_NOFILE as u64);
/// Debian's caddy.service, as the plan knows it.
const CADDY_UNIT_NOFILE: u64 = mxproxy::plan::DEBIAN_CADDY_UNIT_NOFILE as u64;

fn main() {
    // The stand-in is this binary again, started by the run inside the namespace.
    if std::env::var_os(STAND_IN).is_some() {
        return stand_in();
    }
    netns::enter("longpoll", &[], "apt-get install iproute2 util-linux");
    inside();
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Main {
    /// The packaged main config (Debian 12) and the generated file without `--clients`.
    Packaged,
    /// `--clients N`, and the summary's lines for the main config and the unit.
    Tuned,
}

impl Main {
    fn label(self) -> &'static str {
        match self {
            Main::Packaged => "packaged",
            Main::Tuned => "tuned",
        }
    }
}

struct Settings {
    proxies: Vec<Proxy>,
    clients: Vec<usize>,
    mains: Vec<Main>,
    polls: usize,
    out: PathBuf,
}

impl Settings {
    fn from_env() -> Settings {
        let list = |name: &str| -> Vec<String> {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default()
        };
        let all = [
            Proxy::Nginx,
            Proxy::Apache,
            Proxy::Caddy,
            Proxy::Haproxy,
            Proxy::Traefik,
        ];
        let only = list("MXPROXY_BENCH_ONLY");
        let clients = list("MXPROXY_BENCH_CLIENTS");
        let mains = list("MXPROXY_BENCH_MAIN");
        let polls = std::env::var("MXPROXY_BENCH_POLLS").map_or(2, |v| v.parse().unwrap());
        // Every run must end within the two-minute deadline.
        assert!((1..=3).contains(&polls), "MXPROXY_BENCH_POLLS: 1 to 3");
        Settings {
            proxies: all
                .into_iter()
                .filter(|p| only.is_empty() || only.iter().any(|o| o == p.flag()))
                .collect(),
            clients: if clients.is_empty() {
                vec![1000, 5000, 10_000]
            } else {
                clients.iter().map(|c| c.parse().unwrap()).collect()
            },
            mains: [Main::Packaged, Main::Tuned]
                .into_iter()
                .filter(|m| mains.is_empty() || mains.iter().any(|o| o == m.label()))
                .collect(),
            polls,
            out: std::env::var("MXPROXY_BENCH_OUT").map_or_else(
                |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench/longpoll.md"),
                PathBuf::from,
            ),
        }
    }
}

/// One run's row.
struct Row {
    proxy: Proxy,
    main: Main,
    clients: usize,
    outcome: Outcome,
    peak: Footprint,
    upstream_most_open: u64,
    upstream_most_holding: u64,
    /// Why the proxy did not start (HAProxy refuses a `maxconn` whose descriptors pass the
    /// hard limit); the run measured nothing.
    not_started: Option<String>,
}

fn inside() {
    let settings = Settings::from_env();
    // The clients' sockets live in this process, one per client; the stand-in's in its own.
    let have = longpoll::raise_fd_limit(1 << 20);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for &proxy in &settings.proxies {
        for &clients in &settings.clients {
            if clients as u64 + 1024 > have {
                eprintln!(
                    "longpoll: NOT MEASURED {} at {clients} clients: this process may open \
                     {have} descriptors (hard limit), the load needs {}",
                    proxy.flag(),
                    clients + 1024
                );
                continue;
            }
            for &main in &settings.mains {
                eprintln!(
                    "longpoll: {} {} {clients} clients…",
                    proxy.flag(),
                    main.label()
                );
                let row = runtime.block_on(run(proxy, main, clients, settings.polls));
                eprintln!("  {}", line(&row));
                rows.push(row);
            }
        }
    }
    let report = report(&rows, &settings);
    std::fs::create_dir_all(settings.out.parent().unwrap()).unwrap();
    std::fs::write(&settings.out, &report).unwrap();
    print!("{report}");
}

async fn run(proxy: Proxy, main: Main, clients: usize, polls: usize) -> Row {
    let dir = tempfile::Builder::new()
        .prefix("mxproxy-longpoll")
        .tempdir()
        .unwrap();
    let mut upstream = StandIn::start();
    let ca = TestCa::new();
    let options = Options {
        clients: (main == Main::Tuned).then_some(clients),
        ..Options::default()
    };
    let cert = ca.issue(dir.path(), &options.names());
    let site = Site::generate(dir.path(), proxy, &options, upstream.address, &cert);
    let plan = site.plan();
    let (tuning, nofile) = match main {
        Main::Packaged => (Tuning::debian(), unit_nofile(proxy, None)),
        Main::Tuned => (Tuning::for_site(&site), unit_nofile(proxy, Some(&plan))),
    };
    let tuning = Tuning {
        nofile: Some(nofile),
        // nginx's master runs as root and raises its workers' hard limit to
        // worker_rlimit_nofile on a host; a container without CAP_SYS_RESOURCE (this
        // machine: hard limit 20000) cannot, and the worker would keep 1024.
        nginx_worker_rlimit_nofile: tuning
            .nginx_worker_rlimit_nofile
            .map(|n| n.min(longpoll::fd_limit().1)),
        ..tuning
    };
    let started = tokio::task::block_in_place(|| {
        // A proxy that refuses to start is a row of the table, not the end of the run.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Running::start_tuned(
                proxy,
                dir.path(),
                &site.config,
                options.listen,
                &options.ports(),
                Some(&tuning),
            )
        }))
    });
    let running = match started {
        Ok(running) => running.expect("the proxy is installed"),
        Err(panic) => {
            return Row {
                proxy,
                main,
                clients,
                outcome: Outcome::default(),
                peak: Footprint::default(),
                upstream_most_open: 0,
                upstream_most_holding: 0,
                not_started: Some(why_not_started(&panic)),
            };
        }
    };
    let load = Load {
        proxy: SocketAddr::new(options.listen, 443),
        host: options.homeserver_host(),
        tls: longpoll::client_tls(std::slice::from_ref(&ca.cert_der)),
        connections: clients,
        polls,
        hold: HOLD,
        ramp_per_second: RAMP_PER_SECOND,
        // Addresses of their own, apart from the proxy's connections to the stand-in (from
        // 127.0.0.1): a socket bound before connecting holds its port exclusively, and
        // 10,000 of them with the last run's TIME_WAITs pass one address's 28,232 ephemeral
        // ports (measured: "bind: address in use" from 7,600 clients on).
        sources: vec![
            IpAddr::from([127, 0, 1, 1]),
            IpAddr::from([127, 0, 1, 2]),
            IpAddr::from([127, 0, 1, 3]),
        ],
        probe_source: IpAddr::from([127, 0, 0, 2]),
        probe_every: Duration::from_millis(100),
        connect_timeout: Duration::from_secs(10),
        grace: Duration::from_secs(10),
        deadline: DEADLINE,
    };
    let group = running.group();
    let (outcome, peak) = load.run(move || longpoll::footprint(group)).await;
    let (upstream_most_open, upstream_most_holding) = upstream.most();
    let row = Row {
        proxy,
        main,
        clients,
        outcome,
        peak,
        upstream_most_open,
        upstream_most_holding,
        not_started: None,
    };
    if let Ok(path) = std::env::var("MXPROXY_BENCH_LOGS") {
        std::fs::write(format!("{path}-{}-{clients}", proxy.flag()), running.logs()).unwrap();
    }
    drop(running);
    row
}

/// The descriptor limit the proxy's service starts with: systemd's default unless its
/// packaged unit (Caddy) or the summary (Traefik, `--clients`) sets `LimitNOFILE`.
fn unit_nofile(proxy: Proxy, plan: Option<&mxproxy::plan::Plan>) -> (u64, u64) {
    match (proxy, plan) {
        (Proxy::Caddy, _) => (CADDY_UNIT_NOFILE, CADDY_UNIT_NOFILE),
        (Proxy::Traefik, Some(plan)) => (plan.capacity.nofile.into(), plan.capacity.nofile.into()),
        _ => SYSTEMD_NOFILE,
    }
}

/// The stand-in homeserver in its own process: this binary with `STAND_IN` set.
struct StandIn {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    address: SocketAddr,
}

impl StandIn {
    fn start() -> StandIn {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(STAND_IN, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot start the stand-in homeserver");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let address = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the stand-in said {line:?}, not its address"));
        StandIn {
            child,
            stdin,
            stdout,
            address,
        }
    }

    /// The most connections it had open at once, and the most `/sync`s it held at once.
    fn most(&mut self) -> (u64, u64) {
        writeln!(self.stdin).unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let mut numbers = line.split_whitespace().map(|n| n.parse().unwrap());
        (numbers.next().unwrap(), numbers.next().unwrap())
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The stand-in's process: prints its address, then its high-water marks for each line
/// read, until its input ends (the bench closed it or died).
fn stand_in() {
    longpoll::raise_fd_limit(1 << 20);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The runtime's worker threads serve; this thread answers the bench.
    let server = runtime.block_on(SyncServer::start("127.0.0.1:0".parse().unwrap()));
    println!("{}", server.address);
    for _ in std::io::stdin().lines().map_while(Result::ok) {
        let counters = &server.counters;
        println!(
            "{} {}",
            counters.most_open.load(Ordering::Relaxed),
            counters.most_holding.load(Ordering::Relaxed)
        );
    }
}

/// The line of a failed start that says why: the server's own complaint where its log has
/// one, else the first line of the message.
fn why_not_started(panic: &Box<dyn std::any::Any + Send>) -> String {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    let complaint = message.lines().find(|line| {
        let line = line.to_ascii_lowercase();
        ["alert", "emerg", "cannot", "error:"]
            .iter()
            .any(|word| line.contains(word))
    });
    complaint
        .or_else(|| message.lines().next())
        .unwrap_or("no message")
        .trim()
        .replace('|', "/")
}

fn millis(duration: Option<Duration>) -> String {
    duration.map_or("–".into(), |d| format!("{}", d.as_millis()))
}

fn line(row: &Row) -> String {
    if let Some(why) = &row.not_started {
        return format!("did not start: {why}");
    }
    let o = &row.outcome;
    format!(
        "{}/{} completed, {} failed ({}), probes p99 {} ms max {} ms ({} failed: {}), \
         proxy {} MiB in {} processes, {} fds; upstream {} open / {} held at most",
        o.completed,
        o.expected,
        o.failed(),
        Outcome::failure_summary(&o.failures),
        millis(o.probe_quantile(0.99)),
        millis(o.probe_quantile(1.0)),
        o.probe_failures.values().sum::<usize>(),
        Outcome::failure_summary(&o.probe_failures),
        row.peak.rss_kib / 1024,
        row.peak.processes,
        row.peak.descriptors,
        row.upstream_most_open,
        row.upstream_most_holding,
    )
}

fn report(rows: &[Row], settings: &Settings) -> String {
    let mut text = format!(
        "Long-polls: {} per client of {} s, clients opened at {RAMP_PER_SECOND}/s, a short \
         request on a new connection every 100 ms beside them.\n\n\
         | proxy | main config | clients | long-polls completed | failed | short request p99 / max (ms) | short requests failed | proxy RSS (MiB) | proxy fds | upstream conns held |\n\
         | --- | --- | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: |\n",
        settings.polls,
        HOLD.as_secs()
    );
    for row in rows {
        let measured = match &row.not_started {
            Some(why) => format!("did not start: {why} | | | | | |"),
            None => measured_cells(row),
        };
        writeln!(
            text,
            "| {} | {} | {} | {measured} |",
            row.proxy.flag(),
            row.main.label(),
            row.clients,
        )
        .unwrap();
    }
    text
}

/// A measured row's cells after the proxy, main config and clients.
fn measured_cells(row: &Row) -> String {
    let o = &row.outcome;
    let failed = if o.failed() == 0 {
        "0".to_string()
    } else {
        format!("{} ({})", o.failed(), Outcome::failure_summary(&o.failures))
    };
    let probes_failed: usize = o.probe_failures.values().sum();
    let probes_failed = if probes_failed == 0 {
        format!("0 of {}", o.probes.len())
    } else {
        format!(
            "{probes_failed} of {} ({})",
            o.probes.len() + probes_failed,
            Outcome::failure_summary(&o.probe_failures)
        )
    };
    format!(
        "{} of {} | {failed} | {} / {} | {probes_failed} | {} | {} | {}",
        o.completed,
        o.expected,
        millis(o.probe_quantile(0.99)),
        millis(o.probe_quantile(1.0)),
        row.peak.rss_kib / 1024,
        row.peak.descriptors,
        row.upstream_most_open,
    )
}
