//! What a generated config costs every request (issue 9): requests/s, p50/p99 latency,
//! a 10 MiB upload and the upstream connections opened, through each generated config
//! (nginx, Apache, Caddy, HAProxy, Traefik), next to the homeserver docs' own config for the same
//! proxy (benches/reference/) and the upstream asked directly.
//!
//! `sudo -E cargo bench --bench dataplane` (root: it runs in a private network namespace).
//! How to read and tune it: benches/README.md.
//!
//! Everything runs inside `unshare --net --mount`: only loopback exists, so no packet can
//! leave the machine, ports 443/8448 are free, and `/etc/hosts` is replaced for this
//! process tree only. Every load run is a `wrk` bounded by `-d` and killed if it overruns.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// The worker table against one upstream (issue 18).
#[path = "dataplane/workers.rs"]
mod workers;

mod netns;
use netns::find_tool;

/// Conduit's port: the generated configs and the Conduit docs' examples both use it.
const UPSTREAM: &str = "127.0.0.1:6167";
/// The same upstream over TLS (rustls): "direct TLS", the baseline a TLS-terminating proxy
/// is compared with (one extra hop, the same TLS work).
const UPSTREAM_TLS: &str = "127.0.0.1:6443";
/// The host every proxy serves; /etc/hosts in the namespace points it at 127.0.0.1.
const HOST: &str = "matrix.example.com";
const VERSIONS_PATH: &str = "/_matrix/client/versions";
const UPLOAD_PATH: &str = "/_matrix/media/v3/upload";
/// The size of `/_matrix/client/versions` from a current homeserver, roughly.
const VERSIONS_BODY: &[u8] = br#"{"versions":["r0.5.0","r0.6.0","r0.6.1","v1.1","v1.2","v1.3","v1.4","v1.5","v1.6","v1.7","v1.8","v1.9","v1.10","v1.11"],"unstable_features":{"org.matrix.msc2285.stable":true,"org.matrix.msc3916.stable":true}}"#;
const UPLOAD_REPLY: &[u8] = br#"{"content_uri":"mxc://example.com/bench"}"#;
const UPLOAD_BYTES: usize = 10 * 1024 * 1024;

fn main() {
    netns::enter(
        "dataplane",
        &["mount", "wrk"],
        "apt-get install wrk iproute2 util-linux mount",
    );
    inside();
}

/// Knobs, from the environment; the defaults are what benches/README.md reports.
struct Settings {
    seconds: u64,
    rounds: usize,
    concurrency: Vec<usize>,
    /// Only the targets whose name contains one of these (all when empty).
    only: Vec<String>,
    /// `--templates` folders, each with a label: the templates from before a change, or
    /// variants of one to attribute a cost. Their configs run as extra targets in the same
    /// rounds, named `<proxy> mxproxy <label>`.
    variants: Vec<(String, PathBuf)>,
    out: PathBuf,
}

impl Settings {
    fn from_env() -> Settings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let list = |name: &str| -> Vec<String> {
            var(name)
                .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default()
        };
        // Every load run must stop by itself well within two minutes.
        let seconds = var("MXPROXY_BENCH_SECONDS").map_or(4, |v| v.parse().unwrap());
        assert!(
            (1..=60).contains(&seconds),
            "MXPROXY_BENCH_SECONDS: 1 to 60"
        );
        let concurrency = list("MXPROXY_BENCH_CONCURRENCY");
        Settings {
            seconds,
            rounds: var("MXPROXY_BENCH_ROUNDS").map_or(3, |v| v.parse().unwrap()),
            concurrency: if concurrency.is_empty() {
                vec![8, 64, 256]
            } else {
                concurrency.iter().map(|c| c.parse().unwrap()).collect()
            },
            only: list("MXPROXY_BENCH_ONLY"),
            // `DIR` (labelled `before`) or `label=DIR`, comma-separated.
            variants: list("MXPROXY_BENCH_BEFORE")
                .into_iter()
                .map(|v| match v.split_once('=') {
                    Some((label, dir)) => (label.to_string(), PathBuf::from(dir)),
                    None => ("before".to_string(), PathBuf::from(v)),
                })
                .collect(),
            out: var("MXPROXY_BENCH_OUT").map_or_else(
                || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench/dataplane.md"),
                PathBuf::from,
            ),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Proxy {
    Nginx,
    Apache,
    Caddy,
    Haproxy,
    Traefik,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Role {
    Direct,
    Generated,
    Variant,
    /// Which docs: "Conduit" or "Synapse".
    Reference(&'static str),
}

#[derive(Clone, Debug)]
struct Target {
    name: String,
    proxy: Option<Proxy>,
    role: Role,
    /// The config the server runs (site file for nginx/Apache, Traefik's static file,
    /// whole file otherwise).
    config: PathBuf,
}

// ---------------------------------------------------------------------------------------
// The upstream: a fast stand-in homeserver that counts the connections it accepts.

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    requests: AtomicU64,
}

/// The stand-in on `UPSTREAM`, `UPSTREAM_TLS` and, plain, on every worker address of
/// `workers`: one runtime, one set of counters, whichever address a proxy picks.
fn start_upstream(tls_acceptor: tokio_rustls::TlsAcceptor) -> Arc<Counters> {
    let counters = Arc::new(Counters::default());
    let bind = |address: &str| {
        let listener = std::net::TcpListener::bind(address)
            .unwrap_or_else(|e| panic!("bind the upstream on {address}: {e}"));
        listener.set_nonblocking(true).unwrap();
        listener
    };
    let mut listeners = vec![
        (bind(UPSTREAM), None),
        (bind(UPSTREAM_TLS), Some(tls_acceptor)),
    ];
    for address in workers::worker_addresses() {
        listeners.push((bind(&address), None));
    }
    let task_counters = counters.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            for (listener, acceptor) in listeners {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::spawn(accept_loop(listener, acceptor, task_counters.clone()));
            }
            std::future::pending::<()>().await
        });
    });
    counters
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    tls_acceptor: Option<tokio_rustls::TlsAcceptor>,
    counters: Arc<Counters>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        counters.connections.fetch_add(1, Ordering::Relaxed);
        let counters = counters.clone();
        let acceptor = tls_acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                None => serve(TokioIo::new(stream), counters).await,
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        serve(TokioIo::new(stream), counters).await
                    }
                }
            }
        });
    }
}

async fn serve<I>(io: I, counters: Arc<Counters>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let counters = counters.clone();
        async move {
            counters.requests.fetch_add(1, Ordering::Relaxed);
            let upload = request.method() == hyper::Method::POST;
            // Read the whole body, as a homeserver storing media would.
            let mut body = request.into_body();
            while let Some(Ok(_frame)) = body.frame().await {}
            let reply = if upload { UPLOAD_REPLY } else { VERSIONS_BODY };
            Ok::<_, Infallible>(
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from_static(reply)))
                    .unwrap(),
            )
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

fn tls_acceptor(files: &Files) -> tokio_rustls::TlsAcceptor {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![files.cert_der.clone()], files.key_der.clone_key())
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

// ---------------------------------------------------------------------------------------
// Configs: generated by the built binary, and the docs' references with paths filled in.

struct Files {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    /// Chain and key in one file, for HAProxy; alone in `pem_dir` for `crt <dir>`.
    pem: PathBuf,
    pem_dir: PathBuf,
    cert_der: rustls::pki_types::CertificateDer<'static>,
    key_der: rustls::pki_types::PrivateKeyDer<'static>,
}

fn write_certificate(dir: &Path) -> Files {
    let names = vec![HOST.to_string(), "example.com".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let pem_dir = dir.join("haproxy-certs");
    std::fs::create_dir_all(&pem_dir).unwrap();
    let pem = pem_dir.join(format!("{HOST}.pem"));
    let cert_pem = certified.cert.pem();
    let key_pem = certified.signing_key.serialize_pem();
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, &key_pem).unwrap();
    std::fs::write(&pem, format!("{cert_pem}{key_pem}")).unwrap();
    Files {
        dir: dir.to_path_buf(),
        cert,
        key,
        pem,
        pem_dir,
        cert_der: certified.cert.der().clone(),
        key_der: rustls::pki_types::PrivateKeyDer::Pkcs8(
            certified.signing_key.serialize_der().into(),
        ),
    }
}

/// `mxproxy generate` for the five proxies, as a user would run it with `--tls files`.
fn generate(files: &Files, out: &Path, templates: Option<&Path>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mxproxy"));
    command
        .args(["generate", "--server-name", "example.com", "--quiet"])
        .args(["--proxy", "nginx,apache,caddy,haproxy,traefik"])
        .args(["--upstream", UPSTREAM, "--tls", "files", "--tls-cert"])
        .arg(&files.cert)
        .arg("--tls-key")
        .arg(&files.key)
        .arg("--webroot")
        .arg(files.dir.join("www"))
        .arg("--out")
        .arg(out);
    if let Some(templates) = templates {
        command.arg("--templates").arg(templates);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "mxproxy generate failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The combined PEM goes where the summary says; here it is the benchmark's file.
    let haproxy = out.join("haproxy/haproxy.cfg");
    let text = std::fs::read_to_string(&haproxy).unwrap().replace(
        &format!("/etc/haproxy/certs/{HOST}.pem"),
        files.pem.to_str().unwrap(),
    );
    std::fs::write(haproxy, text).unwrap();
    // Traefik's static file reads the dynamic one from where the summary copies it.
    traefik_static(
        &out.join("traefik/traefik.yml"),
        &out.join("traefik/dynamic"),
    );
}

/// What every Traefik here runs with, generated or reference, beside its static file:
/// the folder of its dynamic file, and no version check (it would try to leave loopback).
/// Logging stays at Traefik's default (ERROR, to stdout), and there is no access log.
fn traefik_static(config: &Path, dynamic: &Path) {
    let text = std::fs::read_to_string(config)
        .unwrap()
        .replace("/etc/traefik/dynamic", dynamic.to_str().unwrap())
        .replace("@DYNAMIC@", dynamic.to_str().unwrap());
    std::fs::write(
        config,
        format!("{text}\nglobal:\n  checkNewVersion: false\n"),
    )
    .unwrap();
}

fn generated_targets(out: &Path, role: Role, suffix: &str) -> Vec<Target> {
    let target = |proxy, name: &str, file: String| Target {
        name: format!("{name} {suffix}"),
        proxy: Some(proxy),
        role: role.clone(),
        config: out.join(file),
    };
    vec![
        target(Proxy::Nginx, "nginx", format!("nginx/{HOST}.conf")),
        target(Proxy::Apache, "apache", format!("apache/{HOST}.conf")),
        target(Proxy::Caddy, "caddy", "caddy/Caddyfile".into()),
        target(Proxy::Haproxy, "haproxy", "haproxy/haproxy.cfg".into()),
        target(Proxy::Traefik, "traefik", "traefik/traefik.yml".into()),
    ]
}

fn reference_targets(files: &Files) -> Vec<Target> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference");
    let references = [
        (Proxy::Nginx, "Conduit", "nginx-conduit.conf"),
        (Proxy::Nginx, "Synapse", "nginx-synapse.conf"),
        (Proxy::Apache, "Conduit", "apache-conduit.conf"),
        (Proxy::Caddy, "Conduit", "caddy-conduit.Caddyfile"),
        (Proxy::Haproxy, "Synapse", "haproxy-synapse.cfg"),
        (Proxy::Traefik, "Conduit", "traefik-conduit.yml"),
    ];
    let dir = files.dir.join("reference");
    std::fs::create_dir_all(&dir).unwrap();
    references
        .into_iter()
        .map(|(proxy, docs, file)| {
            let text = std::fs::read_to_string(source.join(file))
                .unwrap()
                .replace("@CERT@", files.cert.to_str().unwrap())
                .replace("@KEY@", files.key.to_str().unwrap())
                .replace("@PEM_DIR@", files.pem_dir.to_str().unwrap())
                .replace("@PEM@", files.pem.to_str().unwrap());
            let mut config = dir.join(file);
            if proxy == Proxy::Traefik {
                // The docs' routers are a dynamic file, alone in the folder the static
                // file (benches/reference/traefik-static.yml) names; Traefik runs that.
                let dynamic = dir.join("traefik-dynamic");
                std::fs::create_dir_all(&dynamic).unwrap();
                std::fs::write(dynamic.join(file), text).unwrap();
                config = dir.join("traefik-static.yml");
                std::fs::copy(source.join("traefik-static.yml"), &config).unwrap();
                traefik_static(&config, &dynamic);
            } else {
                std::fs::write(&config, text).unwrap();
            }
            let name = file.split('-').next().unwrap();
            Target {
                name: format!("{name} {} docs", docs),
                proxy: Some(proxy),
                role: Role::Reference(docs),
                config,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Servers: the same main config for a generated and a reference site (Debian's defaults,
// access logs off), started in the foreground and stopped by pid.

const APACHE_MODULES: &[&str] = &[
    "mpm_event",
    "authz_core",
    "mime",
    "alias",
    "headers",
    "proxy",
    "proxy_http",
    "ssl",
    "socache_shmcb",
    "http2",
];

struct Server {
    child: Child,
    log: PathBuf,
}

fn start(target: &Target, files: &Files) -> Server {
    let proxy = target.proxy.expect("direct has no server");
    let dir = files
        .dir
        .join("run")
        .join(target.name.replace([' ', '\''], "-"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Workers run as www-data and must reach their temp folders.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let log = dir.join("error.log");
    let d = dir.display();
    let site = target.config.display();
    let mut command = match proxy {
        Proxy::Nginx => {
            // Debian's nginx.conf, with logs in the temp dir and no access log.
            let main = dir.join("nginx.conf");
            std::fs::write(
                &main,
                format!(
                    "user www-data;\nworker_processes auto;\npid {d}/nginx.pid;\ndaemon off;\n\
                     error_log {log} warn;\nevents {{\n    worker_connections 768;\n}}\n\
                     http {{\n    sendfile on;\n    tcp_nopush on;\n    types_hash_max_size 2048;\n    \
                     include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n    \
                     ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;\n    ssl_prefer_server_ciphers on;\n    \
                     access_log off;\n    gzip on;\n    client_body_temp_path {d}/body;\n    \
                     proxy_temp_path {d}/proxy;\n    include {site};\n}}\n",
                    log = log.display()
                ),
            )
            .unwrap();
            let mut command = Command::new(find_tool("nginx").unwrap());
            command.arg("-c").arg(&main).arg("-e").arg(&log);
            command
        }
        Proxy::Apache => {
            // Debian's apache2.conf, ports.conf and mpm_event.conf, without access logs.
            let main = dir.join("apache2.conf");
            let mut text = format!(
                "ServerRoot {d}\nPidFile {d}/apache.pid\nDefaultRuntimeDir {d}\nServerName localhost\n\
                 TypesConfig /etc/mime.types\nErrorLog {log}\nLogLevel warn\nUser www-data\nGroup www-data\n\
                 Timeout 300\nKeepAlive On\nMaxKeepAliveRequests 100\nKeepAliveTimeout 5\n\
                 Listen 80\nListen 443\n\
                 StartServers 2\nMinSpareThreads 25\nMaxSpareThreads 75\nThreadLimit 64\n\
                 ThreadsPerChild 25\nMaxRequestWorkers 150\nMaxConnectionsPerChild 0\n",
                log = log.display()
            );
            for module in APACHE_MODULES {
                writeln!(
                    text,
                    "LoadModule {module}_module /usr/lib/apache2/modules/mod_{module}.so"
                )
                .unwrap();
            }
            writeln!(text, "Include {site}").unwrap();
            std::fs::write(&main, text).unwrap();
            let mut command = Command::new(find_tool("apache2").unwrap());
            command.arg("-DFOREGROUND").arg("-f").arg(&main);
            command
        }
        Proxy::Caddy => {
            let mut command = Command::new(find_tool("caddy").unwrap());
            command
                .args(["run", "--adapter", "caddyfile", "--config"])
                .arg(&target.config)
                .env("HOME", &dir)
                .env("XDG_DATA_HOME", dir.join("data"))
                .env("XDG_CONFIG_HOME", dir.join("config"));
            command
        }
        Proxy::Haproxy => {
            let mut command = Command::new(find_tool("haproxy").unwrap());
            command.arg("-db").arg("-f").arg(&target.config);
            command
        }
        Proxy::Traefik => {
            let mut command = Command::new(find_tool("traefik").unwrap());
            command.arg(format!("--configfile={site}"));
            command
        }
    };
    // Server output (HAProxy's request log included) goes to a file, as to a journal.
    let output = std::fs::File::create(dir.join("output.log")).unwrap();
    let child = command
        .stdin(Stdio::null())
        .stdout(output.try_clone().unwrap())
        .stderr(output)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", target.name));
    let server = Server {
        child,
        log: dir.join("output.log"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", 443)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{} does not listen on 443 after 20 s:\n{}{}",
            target.name,
            std::fs::read_to_string(&log).unwrap_or_default(),
            std::fs::read_to_string(&server.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    if proxy == Proxy::Traefik {
        // Traefik opens its entry points before the file provider's routers exist and
        // answers 404 until then: wait for a 2xx, 20 s at most.
        let url = format!("https://{HOST}{VERSIONS_PATH}");
        while !answers(&url) {
            assert!(
                Instant::now() < deadline,
                "{} routes nothing after 20 s:\n{}",
                target.name,
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    server
}

/// One request (wrk, one connection, one thread, a few ms) answered with a 2xx.
fn answers(url: &str) -> bool {
    let output = Command::new(find_tool("wrk").unwrap())
        .args(["-t", "1", "-c", "1", "-d", "1s", "--timeout", "1s"])
        .arg(url)
        .output();
    output.is_ok_and(|o| {
        let stdout = String::from_utf8_lossy(&o.stdout);
        o.status.success() && stdout.contains("Requests/sec") && !stdout.contains("Non-2xx")
    })
}

impl Drop for Server {
    /// SIGTERM to the one pid started (nginx's master and Apache's parent take their
    /// workers with them), SIGKILL after 10 s; then port 443 is free for the next.
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", 443)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Load: wrk, with a Lua `done` that prints one parseable line.

#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Upstream connections accepted per 10,000 requests the upstream answered.
    connections_per_10k: f64,
    /// Requests wrk lost to a connection the server closed, per 10,000 answered.
    errors_per_10k: f64,
    /// Upload throughput, MiB/s (upload runs only).
    mib_per_second: f64,
}

fn wrk_script(dir: &Path, upload: bool) -> PathBuf {
    let path = dir.join(if upload { "upload.lua" } else { "get.lua" });
    let setup = if upload {
        format!(
            "wrk.method = \"POST\"\nwrk.body = string.rep(\"m\", {UPLOAD_BYTES})\n\
             wrk.headers[\"Content-Type\"] = \"application/octet-stream\"\n"
        )
    } else {
        String::new()
    };
    let text = format!(
        "{setup}function done(summary, latency, requests)\n  local e = summary.errors\n  \
         io.write(string.format(\"MXBENCH %d %d %d %d %d %d %d %d %d %d\\n\", summary.requests, \
         summary.duration, e.status, latency:percentile(50), latency:percentile(99), \
         e.connect, e.read, e.write, e.timeout, 0))\nend\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

struct Load {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors_per_10k: f64,
}

/// One bounded wrk run. `None` (and a printed reason) when an answer was wrong.
fn wrk(url: &str, connections: usize, seconds: u64, script: &Path) -> Option<Load> {
    let mut child = Command::new(find_tool("wrk").unwrap())
        .args(["-t", &connections.min(2).to_string()])
        .args(["-c", &connections.to_string()])
        .args(["-d", &format!("{seconds}s"), "--timeout", "10s", "-s"])
        .arg(script)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run wrk");
    // wrk stops itself after -d; a hung wrk is killed 30 s later.
    let deadline = Instant::now() + Duration::from_secs(seconds + 30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            eprintln!("  wrk overran its {seconds} s run against {url}: killed");
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix("MXBENCH "));
    let Some(line) = line else {
        eprintln!(
            "  wrk gave no result for {url}:\n{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    };
    let n: Vec<u64> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let (requests, duration_us, status_errors) = (n[0], n[1], n[2]);
    let (connect, read, write, timeout) = (n[5], n[6], n[7], n[8]);
    let socket_errors = connect + read + write + timeout;
    // A wrong answer voids the run. A connection the server closed under a request wrk had
    // sent (Apache's event MPM closes idle keep-alive connections while it starts more
    // children) is counted and reported: a real client retries it, wrk does not.
    if status_errors > 0 || requests == 0 || socket_errors * 10 > requests {
        eprintln!(
            "  {url}: {requests} requests, {status_errors} non-2xx answers, socket errors: \
             {connect} connect, {read} read, {write} write, {timeout} timeout: not counted"
        );
        return None;
    }
    let seconds = duration_us as f64 / 1e6;
    Some(Load {
        requests_per_second: requests as f64 / seconds,
        p50_ms: n[3] as f64 / 1000.0,
        p99_ms: n[4] as f64 / 1000.0,
        errors_per_10k: socket_errors as f64 * 10_000.0 / requests as f64,
    })
}

fn measure(
    url: &str,
    connections: usize,
    settings: &Settings,
    script: &Path,
    counters: &Counters,
) -> Option<Sample> {
    // Warm-up: TLS sessions, worker start-up, upstream pools.
    wrk(url, connections, 1, script)?;
    let before = (
        counters.connections.load(Ordering::Relaxed),
        counters.requests.load(Ordering::Relaxed),
    );
    let load = wrk(url, connections, settings.seconds, script)?;
    let opened = counters.connections.load(Ordering::Relaxed) - before.0;
    let answered = counters.requests.load(Ordering::Relaxed) - before.1;
    Some(Sample {
        requests_per_second: load.requests_per_second,
        p50_ms: load.p50_ms,
        p99_ms: load.p99_ms,
        connections_per_10k: opened as f64 * 10_000.0 / answered.max(1) as f64,
        errors_per_10k: load.errors_per_10k,
        mib_per_second: 0.0,
    })
}

// ---------------------------------------------------------------------------------------

/// (target name, concurrency or 0 for the upload) → one sample per round.
type Samples = BTreeMap<(String, usize), Vec<Sample>>;

fn inside() {
    let settings = Settings::from_env();
    let scratch = tempfile::Builder::new()
        .prefix("mxproxy-bench")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    // Only this process tree sees this hosts file (the mount namespace is private).
    let hosts = scratch.path().join("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1 localhost {HOST} example.com\n::1 localhost\n"),
    )
    .unwrap();
    let mounted = Command::new(find_tool("mount").unwrap())
        .arg("--bind")
        .arg(&hosts)
        .arg("/etc/hosts")
        .status()
        .unwrap();
    assert!(
        mounted.success(),
        "cannot bind-mount the namespace's /etc/hosts"
    );

    let files = write_certificate(scratch.path());
    let counters = start_upstream(tls_acceptor(&files));
    let generated = scratch.path().join("generated");
    generate(&files, &generated, None);
    let direct = |name: &str| Target {
        name: name.into(),
        proxy: None,
        role: Role::Direct,
        config: PathBuf::new(),
    };
    let mut targets = vec![direct("direct"), direct("direct TLS")];
    for target in generated_targets(&generated, Role::Generated, "mxproxy") {
        let refs: Vec<Target> = reference_targets(&files)
            .into_iter()
            .filter(|r| r.proxy == target.proxy)
            .collect();
        targets.push(target);
        targets.extend(refs);
    }
    for (label, dir) in &settings.variants {
        let out = scratch.path().join("variants").join(label);
        generate(&files, &out, Some(dir));
        // Only the proxies whose templates the folder replaces.
        let changed = |proxy: Proxy| {
            let file = match proxy {
                Proxy::Nginx => "nginx/site.conf.j2",
                Proxy::Apache => "apache/site.conf.j2",
                Proxy::Caddy => "caddy/Caddyfile.j2",
                Proxy::Haproxy => "haproxy/haproxy.cfg.j2",
                Proxy::Traefik => "traefik/dynamic.yml.j2",
            };
            let file2 = (proxy == Proxy::Traefik).then(|| dir.join("traefik/traefik.yml.j2"));
            dir.join(file).is_file() || file2.is_some_and(|f| f.is_file())
        };
        for target in generated_targets(&out, Role::Variant, &format!("mxproxy {label}")) {
            if changed(target.proxy.unwrap()) {
                // After the generated config and the variants before it.
                let at = targets
                    .iter()
                    .rposition(|t| {
                        t.proxy == target.proxy && matches!(t.role, Role::Generated | Role::Variant)
                    })
                    .unwrap();
                targets.insert(at + 1, target);
            }
        }
    }
    targets.retain(|t| {
        settings.only.is_empty()
            || t.role == Role::Direct
            || settings.only.iter().any(|o| t.name.contains(o.as_str()))
    });

    // `MXPROXY_BENCH_ONLY=workers`: the worker table's comparison alone.
    let workers_only = !settings.only.is_empty() && settings.only.iter().all(|o| o == "workers");
    if workers_only {
        targets.clear();
    }
    let get = wrk_script(scratch.path(), false);
    let upload = wrk_script(scratch.path(), true);
    let mut samples = Samples::new();
    eprintln!(
        "dataplane: {} targets × {:?} connections, {} s per run, {} rounds",
        targets.len(),
        settings.concurrency,
        settings.seconds,
        settings.rounds
    );
    for round in (1..=settings.rounds).filter(|_| !targets.is_empty()) {
        eprintln!("round {round}/{}", settings.rounds);
        for target in &targets {
            let (_server, base) = match target.proxy {
                None if target.name == "direct TLS" => (None, format!("https://{UPSTREAM_TLS}")),
                None => (None, format!("http://{UPSTREAM}")),
                Some(_) => (Some(start(target, &files)), format!("https://{HOST}")),
            };
            for &connections in &settings.concurrency {
                let url = format!("{base}{VERSIONS_PATH}");
                if let Some(sample) = measure(&url, connections, &settings, &get, &counters) {
                    eprintln!(
                        "  {:<28} c={connections:<4} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>7.2} ms  {:>7.1} conns/10k",
                        target.name,
                        sample.requests_per_second,
                        sample.p50_ms,
                        sample.p99_ms,
                        sample.connections_per_10k
                    );
                    samples
                        .entry((target.name.clone(), connections))
                        .or_default()
                        .push(sample);
                }
            }
            // One upload at a time: the throughput of a single 10 MiB upload.
            let url = format!("{base}{UPLOAD_PATH}");
            if let Some(load) = wrk(&url, 1, settings.seconds, &upload) {
                let mib = load.requests_per_second * UPLOAD_BYTES as f64 / (1024.0 * 1024.0);
                eprintln!("  {:<28} upload {mib:>7.0} MiB/s", target.name);
                samples
                    .entry((target.name.clone(), 0))
                    .or_default()
                    .push(Sample {
                        mib_per_second: mib,
                        ..Sample::default()
                    });
            }
        }
    }
    let mut table = if workers_only {
        String::new()
    } else {
        report(&targets, &samples, &settings)
    };
    if settings.only.is_empty() || settings.only.iter().any(|o| o == "workers") {
        table.push_str(&workers::run(&files, scratch.path(), &settings, &counters));
    }
    println!("{table}");
    if let Some(parent) = settings.out.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&settings.out, &table).unwrap();
    eprintln!("dataplane: written to {}", settings.out.display());
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// Ratios are taken round by round (both sides measured minutes apart at most), then the
/// median over rounds: a shared machine drifts, the ratio much less.
fn ratio(samples: &Samples, a: &str, b: &str, key: usize, field: fn(&Sample) -> f64) -> f64 {
    let (Some(a), Some(b)) = (samples.get(&(a.into(), key)), samples.get(&(b.into(), key))) else {
        return f64::NAN;
    };
    median(a.iter().zip(b).map(|(a, b)| field(a) / field(b)).collect())
}

/// (max - min) / median over rounds, in percent: how noisy this figure was.
fn spread(values: &[f64]) -> f64 {
    let max = values.iter().cloned().fold(f64::MIN, f64::max);
    let min = values.iter().cloned().fold(f64::MAX, f64::min);
    (max - min) / median(values.to_vec()) * 100.0
}

fn report(targets: &[Target], samples: &Samples, settings: &Settings) -> String {
    let rps = |s: &Sample| s.requests_per_second;
    let mut text = String::new();
    let references = |target: &Target| -> Vec<&Target> {
        targets
            .iter()
            .filter(|r| matches!(r.role, Role::Reference(_)) && r.proxy == target.proxy)
            .collect()
    };
    writeln!(
        text,
        "Requests/s through each config (GET {VERSIONS_PATH}, {} B JSON; HTTP/1.1 over TLS \
         to the proxy or to `direct TLS`, plain HTTP from the proxy to the upstream and to `direct`); median of {} rounds of {} s, ratios per round \
         then median; spread = (max - min) / median of req/s over the rounds.\n",
        VERSIONS_BODY.len(),
        settings.rounds,
        settings.seconds
    )
    .unwrap();
    for &c in &settings.concurrency {
        writeln!(text, "**{c} connections**\n").unwrap();
        writeln!(
            text,
            "| config | req/s | × direct TLS | × docs' config | p50 ms | p99 ms | upstream conns / 10k req | closed under a request / 10k | spread |"
        )
        .unwrap();
        writeln!(
            text,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        )
        .unwrap();
        for target in targets {
            let Some(list) = samples.get(&(target.name.clone(), c)) else {
                writeln!(text, "| {} | failed | | | | | | | |", target.name).unwrap();
                continue;
            };
            let vs_docs = match target.role {
                Role::Generated | Role::Variant => references(target)
                    .iter()
                    .map(|r| {
                        let docs = match r.role {
                            Role::Reference(docs) => docs,
                            _ => unreachable!(),
                        };
                        format!(
                            "{:.2} ({docs})",
                            ratio(samples, &target.name, &r.name, c, rps)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => String::new(),
            };
            let all: Vec<f64> = list.iter().map(rps).collect();
            writeln!(
                text,
                "| {} | {:.0} | {} | {} | {:.2} | {:.2} | {:.0} | {:.0} | {:.0}% |",
                target.name,
                median(all.clone()),
                if target.role == Role::Direct {
                    String::new()
                } else {
                    format!("{:.2}", ratio(samples, &target.name, "direct TLS", c, rps))
                },
                vs_docs,
                median(list.iter().map(|s| s.p50_ms).collect()),
                median(list.iter().map(|s| s.p99_ms).collect()),
                median(list.iter().map(|s| s.connections_per_10k).collect()),
                median(list.iter().map(|s| s.errors_per_10k).collect()),
                spread(&all)
            )
            .unwrap();
        }
        writeln!(text).unwrap();
    }
    writeln!(
        text,
        "**One 10 MiB upload at a time** (POST {UPLOAD_PATH}, the upstream reads the whole body)\n"
    )
    .unwrap();
    writeln!(
        text,
        "| config | MiB/s | × direct TLS | × docs' config | spread |"
    )
    .unwrap();
    writeln!(text, "| --- | ---: | ---: | ---: | ---: |").unwrap();
    let mib = |s: &Sample| s.mib_per_second;
    for target in targets {
        let Some(list) = samples.get(&(target.name.clone(), 0)) else {
            writeln!(text, "| {} | failed | | | |", target.name).unwrap();
            continue;
        };
        let all: Vec<f64> = list.iter().map(mib).collect();
        let vs_docs = match target.role {
            Role::Generated | Role::Variant => references(target)
                .iter()
                .map(|r| format!("{:.2}", ratio(samples, &target.name, &r.name, 0, mib)))
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        };
        writeln!(
            text,
            "| {} | {:.0} | {} | {} | {:.0}% |",
            target.name,
            median(all.clone()),
            if target.role == Role::Direct {
                String::new()
            } else {
                format!("{:.2}", ratio(samples, &target.name, "direct TLS", 0, mib))
            },
            vs_docs,
            spread(&all)
        )
        .unwrap();
    }
    text
}
