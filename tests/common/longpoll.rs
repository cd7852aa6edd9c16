//! Thousands of clients at once (issue 23): a stand-in homeserver that holds every
//! `/sync?timeout=MS` for its timeout, and a load client that keeps one long-poll in flight
//! on each of N TLS connections while a probe sends short requests beside them, each on a
//! connection of its own, as a client that just opened the app would.
//!
//! Shared by the CI test (tests/traffic/longpoll.rs, a moderate N, one cycle) and the
//! benchmark (benches/longpoll.rs, up to 10,000): it depends on nothing else in
//! tests/common, so the benchmark can include this file as a module of its own.
//!
//! Everything is bounded: connecting by `Load::connect_timeout`, each poll by its hold plus
//! `Load::grace`, the whole run by `Load::deadline`, the probe by the first cycle.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;

/// What a homeserver answers a short request with: `/_matrix/client/versions`, roughly.
const SHORT_BODY: &[u8] = br#"{"versions":["v1.1","v1.2","v1.3","v1.4","v1.5","v1.6","v1.7","v1.8","v1.9","v1.10","v1.11"]}"#;
/// A `/sync` that timed out with nothing new: what every held poll answers.
const SYNC_BODY: &[u8] =
    br#"{"next_batch":"s72594_4483_1934","rooms":{},"presence":{"events":[]}}"#;
pub const SHORT_PATH: &str = "/_matrix/client/versions";

/// This process's descriptor limit, (soft, hard).
pub fn fd_limit() -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit with a valid pointer to a local struct.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (limit.rlim_cur, limit.rlim_max)
}

/// Sets this process's descriptor limit to (soft, hard), or as close as it may: only
/// CAP_SYS_RESOURCE raises the hard limit (this machine's is 20,000 and it has none), so
/// both are tried first, then each capped at the hard limit.
fn set_fd_limit(soft: u64, hard: u64) {
    let set = |soft: u64, hard: u64| {
        let limit = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard.max(soft),
        };
        // SAFETY: setrlimit with a valid pointer to a local struct.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 }
    };
    if !set(soft, hard) {
        let (_, hard_now) = fd_limit();
        assert!(
            set(soft.min(hard_now), hard.min(hard_now)),
            "setrlimit(RLIMIT_NOFILE) within the hard limit {hard_now}"
        );
    }
}

/// Raises the soft descriptor limit to `wanted` (and the hard one, where the process may):
/// ten thousand connections through a proxy are forty thousand sockets on this machine.
/// Returns the soft limit it got.
pub fn raise_fd_limit(wanted: u64) -> u64 {
    let (soft, hard) = fd_limit();
    set_fd_limit(wanted.max(soft), wanted.max(hard));
    fd_limit().0
}

// ---------------------------------------------------------------------------------------
// The stand-in homeserver.

/// What the stand-in saw, live.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections from the proxy open now, and the most at once.
    pub open: AtomicU64,
    pub most_open: AtomicU64,
    /// Connections accepted in all.
    pub accepted: AtomicU64,
    /// `/sync` requests being held now, and the most at once.
    pub holding: AtomicU64,
    pub most_holding: AtomicU64,
    pub syncs_answered: AtomicU64,
    pub short_answered: AtomicU64,
}

fn raise(current: &AtomicU64, most: &AtomicU64) {
    let now = current.fetch_add(1, Ordering::Relaxed) + 1;
    most.fetch_max(now, Ordering::Relaxed);
}

pub struct SyncServer {
    pub address: SocketAddr,
    pub counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl SyncServer {
    /// Listens on `address` on the current runtime until dropped. A request whose path
    /// ends in `/sync` is answered after its `timeout` query parameter (milliseconds), as a
    /// homeserver with nothing new for that client does; everything else at once.
    pub async fn start(address: SocketAddr) -> SyncServer {
        let socket = match address {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket
            .bind(address)
            .unwrap_or_else(|e| panic!("stand-in homeserver on {address}: {e}"));
        // The kernel caps the backlog at net.core.somaxconn; a proxy opening thousands of
        // connections in a burst must not find it full.
        let listener: TcpListener = socket.listen(8192).unwrap();
        let address = listener.local_addr().unwrap();
        let counters = Arc::new(Counters::default());
        let task_counters = counters.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of descriptors, for a moment: the proxy sees a slow accept.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let counters = task_counters.clone();
                counters.accepted.fetch_add(1, Ordering::Relaxed);
                raise(&counters.open, &counters.most_open);
                tokio::spawn(async move {
                    let service_counters = counters.clone();
                    let service = hyper::service::service_fn(move |request| {
                        answer(request, service_counters.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    counters.open.fetch_sub(1, Ordering::Relaxed);
                });
            }
        });
        SyncServer {
            address,
            counters,
            task,
        }
    }
}

impl Drop for SyncServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `timeout=` of a `/sync` target, in milliseconds.
fn sync_timeout(request: &hyper::Request<Incoming>) -> Option<u64> {
    if !request.uri().path().ends_with("/sync") {
        return None;
    }
    let query = request.uri().query().unwrap_or_default();
    let timeout = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("timeout="))
        .and_then(|value| value.parse().ok());
    Some(timeout.unwrap_or(0))
}

async fn answer(
    request: hyper::Request<Incoming>,
    counters: Arc<Counters>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let body = match sync_timeout(&request) {
        Some(milliseconds) => {
            raise(&counters.holding, &counters.most_holding);
            tokio::time::sleep(Duration::from_millis(milliseconds)).await;
            counters.holding.fetch_sub(1, Ordering::Relaxed);
            counters.syncs_answered.fetch_add(1, Ordering::Relaxed);
            SYNC_BODY
        }
        None => {
            counters.short_answered.fetch_add(1, Ordering::Relaxed);
            SHORT_BODY
        }
    };
    Ok(hyper::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body)))
        .unwrap())
}

// ---------------------------------------------------------------------------------------
// The load client.

/// One load run: `connections` clients, each keeping one `/sync` in flight for
/// `polls` polls in a row, opened at `ramp_per_second`.
#[derive(Clone)]
pub struct Load {
    /// The proxy's TLS listener.
    pub proxy: SocketAddr,
    /// SNI and Host.
    pub host: String,
    pub tls: Arc<rustls::ClientConfig>,
    pub connections: usize,
    pub polls: usize,
    /// The `timeout` each `/sync` asks for, and so how long the stand-in holds it.
    pub hold: Duration,
    pub ramp_per_second: usize,
    /// Local addresses the clients' connections come from, in turn (loopback only); more
    /// than one spreads them over more source ports than one address has.
    pub sources: Vec<IpAddr>,
    /// Where the probe's connections come from.
    pub probe_source: IpAddr,
    pub probe_every: Duration,
    pub connect_timeout: Duration,
    /// How much longer than its hold a poll may take before it counts as failed.
    pub grace: Duration,
    /// Nothing runs past this, measured from the start.
    pub deadline: Duration,
}

/// What a run saw.
#[derive(Debug, Default)]
pub struct Outcome {
    pub expected: usize,
    pub completed: usize,
    /// Failed polls, by what went wrong (a connection that never opened fails all of its
    /// polls under one reason).
    pub failures: BTreeMap<String, usize>,
    /// Time to the first byte of each answered short request, from its connection's start.
    pub probes: Vec<Duration>,
    pub probe_failures: BTreeMap<String, usize>,
    /// The most long-polls in flight at once, as the clients count them.
    pub most_in_flight: u64,
    /// From the first connection to the last poll's end.
    pub elapsed: Duration,
}

impl Outcome {
    pub fn failed(&self) -> usize {
        self.failures.values().sum()
    }

    /// The `q`-quantile of the probes' times to first byte (`q` in 0..=1), or None.
    pub fn probe_quantile(&self, q: f64) -> Option<Duration> {
        let mut sorted = self.probes.clone();
        sorted.sort();
        let last = sorted.len().checked_sub(1)?;
        Some(sorted[((last as f64) * q).ceil() as usize])
    }

    /// Failures as `reason ×count, …`, for messages.
    pub fn failure_summary(failures: &BTreeMap<String, usize>) -> String {
        failures
            .iter()
            .map(|(reason, count)| format!("{reason} ×{count}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Default)]
struct Tally {
    completed: AtomicU64,
    in_flight: AtomicU64,
    most_in_flight: AtomicU64,
    failures: Mutex<BTreeMap<String, usize>>,
}

impl Tally {
    fn fail(&self, reason: String, polls: usize) {
        *self.failures.lock().unwrap().entry(reason).or_default() += polls;
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

impl Load {
    /// Runs the load, calls `at_peak` once every client should have its first poll in
    /// flight (half a hold after the ramp), and returns what it saw.
    pub async fn run<T: Send + 'static>(
        &self,
        at_peak: impl FnOnce() -> T + Send + 'static,
    ) -> (Outcome, T) {
        let start = Instant::now();
        let end = start + self.deadline;
        let tally = Arc::new(Tally::default());
        let ramp = Duration::from_secs_f64(self.connections as f64 / self.ramp_per_second as f64);
        let mut clients = Vec::with_capacity(self.connections);
        for index in 0..self.connections {
            let opens = start + ramp.mul_f64(index as f64 / self.connections as f64);
            tokio::time::sleep_until(opens.into()).await;
            let (load, tally) = (self.clone(), tally.clone());
            clients.push(tokio::spawn(async move {
                load.client(index, end, &tally).await
            }));
        }
        // Probe while the first cycle is held: from the end of the ramp to a little before
        // the first polls return.
        let probe_end = start + ramp + self.hold.saturating_sub(Duration::from_secs(2));
        let probe = tokio::spawn(self.clone().probe(probe_end.min(end)));
        let peak_at = start + ramp + self.hold / 2;
        tokio::time::sleep_until(peak_at.into()).await;
        let peak = tokio::task::spawn_blocking(at_peak).await.unwrap();
        for client in clients {
            client.await.unwrap();
        }
        let (probes, probe_failures) = probe.await.unwrap();
        let failures = tally.failures.lock().unwrap().clone();
        let outcome = Outcome {
            expected: self.connections * self.polls,
            completed: tally.completed.load(Ordering::Relaxed) as usize,
            failures,
            probes,
            probe_failures,
            most_in_flight: tally.most_in_flight.load(Ordering::Relaxed),
            elapsed: start.elapsed(),
        };
        (outcome, peak)
    }

    async fn connect(&self, source: IpAddr) -> Result<Sender, String> {
        let socket = match source {
            IpAddr::V4(_) => TcpSocket::new_v4(),
            IpAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| format!("socket: {e}"))?;
        socket
            .bind(SocketAddr::new(source, 0))
            .map_err(|e| format!("bind: {}", e.kind()))?;
        let tcp: TcpStream = socket
            .connect(self.proxy)
            .await
            .map_err(|e| format!("connect: {}", e.kind()))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(self.host.clone()).unwrap();
        let tls = TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {}", e.kind()))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("HTTP handshake: {e}"))?;
        tokio::spawn(connection);
        Ok(sender)
    }

    fn request(&self, target: &str) -> hyper::Request<Empty<Bytes>> {
        hyper::Request::get(target)
            .header("host", &self.host)
            .header("authorization", "Bearer syt_bG9hZA_longpoll_token")
            .body(Empty::new())
            .unwrap()
    }

    /// One client: connect, then poll `polls` times in a row on the one connection.
    async fn client(&self, index: usize, end: Instant, tally: &Tally) {
        let source = self.sources[index % self.sources.len()];
        let connected = tokio::time::timeout_at(end.into(), async {
            tokio::time::timeout(self.connect_timeout, self.connect(source)).await
        })
        .await;
        let mut sender = match connected {
            Ok(Ok(Ok(sender))) => sender,
            Ok(Ok(Err(reason))) => return tally.fail(reason, self.polls),
            Ok(Err(_)) => return tally.fail("connect or TLS timed out".into(), self.polls),
            Err(_) => return tally.fail("run deadline before connecting".into(), self.polls),
        };
        let target = format!(
            "/_matrix/client/v3/sync?timeout={}&since=s{index}",
            self.hold.as_millis()
        );
        for poll in 0..self.polls {
            raise(&tally.in_flight, &tally.most_in_flight);
            let limit = (Instant::now() + self.hold + self.grace).min(end);
            let result = tokio::time::timeout_at(limit.into(), async {
                let response = sender
                    .send_request(self.request(&target))
                    .await
                    .map_err(|e| format!("request: {e}"))?;
                let status = response.status();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| format!("body: {e}"))?
                    .to_bytes();
                if status != 200 || !body.starts_with(b"{\"next_batch\"") {
                    return Err(format!("answered {status}"));
                }
                Ok(())
            })
            .await;
            tally.in_flight.fetch_sub(1, Ordering::Relaxed);
            match result {
                Ok(Ok(())) => {
                    tally.completed.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Err(reason)) => return tally.fail(reason, self.polls - poll),
                Err(_) => return tally.fail("poll timed out".into(), self.polls - poll),
            }
        }
    }

    /// Short requests beside the long-polls, one new connection each, until `until`.
    async fn probe(self, until: Instant) -> (Vec<Duration>, BTreeMap<String, usize>) {
        let mut times = Vec::new();
        let mut failures = BTreeMap::new();
        let mut next = Instant::now();
        while next < until {
            tokio::time::sleep_until(next.into()).await;
            next += self.probe_every;
            let began = Instant::now();
            // A short request that waits longer than a hold has queued behind the
            // long-polls; it fails here rather than stretching the run.
            let answered = tokio::time::timeout(self.hold, async {
                let mut sender = self.connect(self.probe_source).await?;
                let response = sender
                    .send_request(self.request(SHORT_PATH))
                    .await
                    .map_err(|e| format!("request: {e}"))?;
                let first_byte = began.elapsed();
                let status = response.status();
                response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| format!("body: {e}"))?;
                if status != 200 {
                    return Err(format!("answered {status}"));
                }
                Ok(first_byte)
            })
            .await;
            match answered {
                Ok(Ok(first_byte)) => times.push(first_byte),
                Ok(Err(reason)) => *failures.entry(reason).or_default() += 1,
                Err(_) => {
                    *failures
                        .entry("no answer within a hold".into())
                        .or_default() += 1
                }
            }
        }
        (times, failures)
    }
}

/// A TLS client config trusting exactly `roots` (DER), HTTP/1.1 only: one long-poll per
/// connection, as a client's sync loop has.
pub fn client_tls(
    roots: &[rustls::pki_types::CertificateDer<'static>],
) -> Arc<rustls::ClientConfig> {
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(store)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

// ---------------------------------------------------------------------------------------
// The proxy's footprint.

/// Memory and descriptors of a process group (a proxy's master and its workers).
#[derive(Clone, Copy, Debug, Default)]
pub struct Footprint {
    pub processes: usize,
    pub rss_kib: u64,
    pub descriptors: usize,
}

/// Sums `/proc` over every process whose process group is `group`.
pub fn footprint(group: u32) -> Footprint {
    let mut sum = Footprint::default();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return sum;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command (which may hold spaces) end with `)`: state ppid pgrp.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let pgrp = after
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse::<u32>().ok());
        if pgrp != Some(group) {
            continue;
        }
        sum.processes += 1;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        sum.rss_kib += status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        sum.descriptors += std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    }
    sum
}
