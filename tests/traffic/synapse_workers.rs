//! `--worker` on a real multi-process Synapse: Synapse from PyPI (`matrix-synapse`, pinned
//! in .ci/run), PostgreSQL and Redis from Debian's packages, all on loopback in the test's
//! private network namespace. The main process and one worker each of sync, client-reader,
//! event-creator, federation-inbound and media run on exactly the files `mxproxy generate`
//! writes (synapse/mxproxy.yaml and synapse/workers/<name>.yaml), read after a minimal
//! homeserver.yaml with what only the test can know (database, secrets, paths). Then,
//! behind the generated nginx, HAProxy and Caddy configs in turn (the proxies that route to
//! workers), a client registers, creates a
//! room, long-polls /sync while it sends a message, uploads and downloads media, and a
//! federation transaction arrives; each worker's own log must show the requests it served,
//! and the main process's log must show none of them.
//!
//! The federation transaction comes from a second server as far as authentication goes
//! (`synapse_origin`: an ed25519 key it serves over HTTPS at 127.0.0.2:8448, signed
//! `X-Matrix` requests): the federation-inbound worker fetches the origin's key, checks
//! the signature and accepts the (empty) transaction with 200; the same request unsigned
//! gets 401 `M_UNAUTHORIZED`. Synapse trusts the test CA for federation and may reach
//! 127.0.0.0/8 (`federation_custom_ca_list`, `ip_range_blacklist: []`): test settings of the
//! hand-written homeserver.yaml, for the namespace's loopback-only network.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::{Body, Client, Request, Response};
use super::synapse_origin::{self, Origin};
use crate::common::netns::netns_test;
use crate::common::pki::TestCa;
use crate::common::proxy::{Options, Proxy, Running, Site};
use crate::common::{in_ci, require_tool};

/// The Synapse release .ci/run installs; the table was taken from v1.157.1's docs.
const SYNAPSE_VERSION: &str = "1.163.2";
/// The namespace is private: fixed ports cannot collide with anything.
const MAIN: &str = "127.0.0.1:8008";
const POSTGRES_PORT: u16 = 5432;
const REDIS_PORT: u16 = 6379;
/// nobody:nogroup, for PostgreSQL, which refuses to run as root (CI runs as root).
const UNPRIVILEGED: u32 = 65534;

/// The workers, as `--worker` names them, with their listeners.
const WORKERS: &[(&str, &str)] = &[
    ("sync", "127.0.0.1:8083"),
    ("client-reader", "127.0.0.1:8084"),
    ("event-creator", "127.0.0.1:8085"),
    ("federation-inbound", "127.0.0.1:8086"),
    ("media", "127.0.0.1:8088"),
];

netns_test! {
    fn behind_nginx_haproxy_and_caddy() {
        if let Some(tools) = Tools::find() {
            crate::traffic::block_on(behind_every_routing_proxy(tools))
        }
    }
}

/// The installed programs the test runs.
struct Tools {
    postgres_bin: PathBuf,
    redis: PathBuf,
    setpriv: PathBuf,
}

impl Tools {
    /// Every program, or (off CI) one loud SKIPPED line and `None`; in CI a missing one
    /// is a failure.
    fn find() -> Option<Tools> {
        let synapse = Command::new("python3")
            .args(["-c", "import synapse; print(synapse.__version__)"])
            .output();
        let version = synapse
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        let Some(version) = version else {
            assert!(
                !in_ci(),
                "matrix-synapse is not installed for python3, and CI=true forbids skipping: .ci/run must install it"
            );
            eprintln!(
                "SKIPPED: matrix-synapse is not installed for python3 (.ci/run's pip line installs it); the real multi-process Synapse test did not run"
            );
            return None;
        };
        eprintln!("Synapse {version}");
        assert!(
            !in_ci() || version.starts_with(SYNAPSE_VERSION),
            "CI runs Synapse {SYNAPSE_VERSION} (.ci/run), not {version}"
        );
        let postgres_bin = postgres_bin()?;
        Some(Tools {
            postgres_bin,
            redis: require_tool("redis-server")?,
            setpriv: require_tool("setpriv")?,
        })
    }
}

/// Debian keeps PostgreSQL's server programs out of PATH, below
/// /usr/lib/postgresql/<major>/bin: the newest there, else PATH's.
fn postgres_bin() -> Option<PathBuf> {
    let mut majors: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| dir.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    majors.retain(|bin| bin.join("initdb").is_file());
    majors.sort_by_key(|bin| {
        let major = bin.parent().and_then(|p| p.file_name()).unwrap_or_default();
        major.to_string_lossy().parse::<u32>().unwrap_or(0)
    });
    match majors.pop() {
        Some(bin) => Some(bin),
        None => Some(require_tool("initdb")?.parent()?.to_path_buf()),
    }
}

/// One started server, in a process group of its own, with its output in `log`.
struct Process {
    name: String,
    child: Child,
    log: PathBuf,
    /// The signal that stops it quickly (PostgreSQL: SIGINT, its "fast" shutdown).
    stop: &'static str,
}

impl Process {
    fn start(name: &str, mut command: Command, log: PathBuf, stop: &'static str) -> Process {
        let file = std::fs::File::create(&log).unwrap();
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Process {
            name: name.into(),
            child,
            log,
            stop,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until `address` accepts connections, failing early if the
    /// process exits.
    fn wait_for_port(&mut self, address: &str, within: Duration) {
        let address: SocketAddr = address.parse().unwrap();
        let deadline = Instant::now() + within;
        while std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}):\n{}", self.name, self.log());
            }
            assert!(
                Instant::now() < deadline,
                "{} does not listen on {address} after {within:?}:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits (bounded) until the log has `line`.
    fn wait_for_log(&mut self, line: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.log().contains(line) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}):\n{}", self.name, self.log());
            }
            assert!(
                Instant::now() < deadline,
                "{} did not log {line:?} within {within:?}:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn signal_group(&self, signal: &str) {
        // The group id is the child's pid (process_group(0)); only that group is signalled.
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .status();
    }
}

impl Drop for Process {
    /// Its stop signal, SIGKILL after 10 s; its log when the test failed.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal_group(self.stop);
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if self.child.try_wait().ok().flatten().is_none() {
                self.signal_group("-KILL");
                let _ = self.child.wait();
            }
        }
        if std::thread::panicking() {
            eprintln!("--- {} ---\n{}", self.name, self.log());
        }
    }
}

/// A `Process` set stopped in reverse start order: workers before the main process,
/// Synapse before Redis and PostgreSQL.
struct Backend {
    processes: Vec<Process>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        while let Some(process) = self.processes.pop() {
            drop(process);
        }
    }
}

impl Backend {
    fn process(&self, name: &str) -> &Process {
        self.processes
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no process {name}"))
    }
}

/// PostgreSQL in `dir/postgres`, as nobody, with a `synapse` role and database in the C
/// locale Synapse requires (docs/postgres.md), on loopback TCP only.
fn start_postgres(tools: &Tools, dir: &Path) -> Process {
    let data = dir.join("postgres");
    let sockets = dir.join("postgres-sockets");
    for folder in [&data, &sockets] {
        std::fs::create_dir(folder).unwrap();
        std::os::unix::fs::chown(folder, Some(UNPRIVILEGED), Some(UNPRIVILEGED)).unwrap();
    }
    let as_nobody = |program: &str| {
        let mut command = Command::new(&tools.setpriv);
        command
            .arg(format!("--reuid={UNPRIVILEGED}"))
            .arg(format!("--regid={UNPRIVILEGED}"))
            .arg("--clear-groups")
            .arg(tools.postgres_bin.join(program));
        command
    };
    let initdb = as_nobody("initdb")
        .args(["--username=synapse", "--auth=trust", "--encoding=UTF8"])
        .args(["--locale=C", "--no-sync", "--pgdata"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        initdb.status.success(),
        "initdb failed:\n{}{}",
        String::from_utf8_lossy(&initdb.stdout),
        String::from_utf8_lossy(&initdb.stderr)
    );
    let mut server = as_nobody("postgres");
    server
        .arg("-D")
        .arg(&data)
        .args(["-h", "127.0.0.1", "-p", &POSTGRES_PORT.to_string(), "-k"])
        .arg(&sockets)
        // Throwaway data: no durability, less disk work on a shared machine.
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off"]);
    let mut postgres = Process::start("postgres", server, dir.join("postgres.log"), "-INT");
    postgres.wait_for_log(
        "database system is ready to accept connections",
        Duration::from_secs(60),
    );
    let createdb = as_nobody("createdb")
        .args(["-h", "127.0.0.1", "-p", &POSTGRES_PORT.to_string()])
        .args(["-U", "synapse", "synapse"])
        .output()
        .unwrap();
    assert!(
        createdb.status.success(),
        "createdb failed:\n{}",
        String::from_utf8_lossy(&createdb.stderr)
    );
    postgres
}

fn start_redis(tools: &Tools, dir: &Path) -> Process {
    let mut command = Command::new(&tools.redis);
    command
        .args(["--port", &REDIS_PORT.to_string()])
        // Synapse's default host is `localhost`: both of loopback's addresses (`-`: ::1
        // only if the namespace has IPv6).
        .args([
            "--bind",
            "127.0.0.1 -::1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir);
    let mut redis = Process::start("redis", command, dir.join("redis.log"), "-TERM");
    redis.wait_for_port(&format!("127.0.0.1:{REDIS_PORT}"), Duration::from_secs(20));
    redis
}

/// What only the test knows, the rest of a homeserver.yaml; mxproxy's files are read
/// after it and override the keys they set (listeners, redis, instance_map, …).
fn homeserver_yaml(dir: &Path, ca: &Path) -> String {
    let config = json!({
        "server_name": "example.com",
        "report_stats": false,
        "signing_key_path": dir.join("signing.key"),
        "media_store_path": dir.join("media"),
        "database": {
            "name": "psycopg2",
            "args": {
                "user": "synapse",
                "dbname": "synapse",
                "host": "127.0.0.1",
                "port": POSTGRES_PORT,
                "cp_min": 1,
                "cp_max": 5,
            },
        },
        "macaroon_secret_key": "mxproxy-test-macaroon-secret",
        "form_secret": "mxproxy-test-form-secret",
        "enable_registration": true,
        "enable_registration_without_verification": true,
        "trusted_key_servers": [],
        "federation_custom_ca_list": [ca],
        // Synapse blocks loopback for outbound federation, and for a server name that is
        // an IP literal regardless of ip_range_whitelist (synapse/http/
        // matrixfederationclient.py wraps its agent in a blocklist without the allowlist):
        // the namespace has nothing but loopback, so the blocklist is emptied.
        "ip_range_blacklist": [],
        "suppress_key_server_warning": true,
        "rc_registration": { "per_second": 100, "burst_count": 100 },
        "rc_message": { "per_second": 100, "burst_count": 100 },
    });
    serde_json::to_string_pretty(&config).unwrap()
}

/// `python3 -m <app>` on homeserver.yaml, then mxproxy.yaml, then `extra` (a worker's file).
fn synapse(app: &str, dir: &Path, synapse_dir: &Path, extra: Option<&Path>) -> Command {
    let mut command = Command::new("python3");
    command
        .args(["-m", app, "--config-path"])
        .arg(dir.join("homeserver.yaml"))
        .arg("--config-path")
        .arg(synapse_dir.join("mxproxy.yaml"));
    if let Some(extra) = extra {
        command.arg("--config-path").arg(extra);
    }
    command.current_dir(dir);
    command
}

/// The worker's name in the generated files: its group as an identifier, first of its group.
fn worker_name(group: &str) -> String {
    format!("{}1", group.replace('-', "_"))
}

/// PostgreSQL, Redis, the main process and the workers, each waited for (bounded).
fn start_backend(tools: &Tools, dir: &Path, synapse_dir: &Path, ca: &Path) -> Backend {
    let mut backend = Backend {
        processes: vec![start_postgres(tools, dir), start_redis(tools, dir)],
    };
    std::fs::write(dir.join("homeserver.yaml"), homeserver_yaml(dir, ca)).unwrap();
    let keys = synapse("synapse.app.homeserver", dir, synapse_dir, None)
        .arg("--generate-keys")
        .output()
        .unwrap();
    assert!(
        keys.status.success(),
        "synapse --generate-keys failed:\n{}",
        String::from_utf8_lossy(&keys.stderr)
    );
    let command = synapse("synapse.app.homeserver", dir, synapse_dir, None);
    let mut main = Process::start("main", command, dir.join("main.log"), "-TERM");
    // The first start creates the schema: the workers wait for it.
    main.wait_for_port(MAIN, Duration::from_secs(120));
    main.wait_for_port("127.0.0.1:9093", Duration::from_secs(10));
    backend.processes.push(main);
    for (group, _) in WORKERS {
        let name = worker_name(group);
        let file = synapse_dir.join(format!("workers/{name}.yaml"));
        let command = synapse("synapse.app.generic_worker", dir, synapse_dir, Some(&file));
        let log = dir.join(format!("{name}.log"));
        backend
            .processes
            .push(Process::start(&name, command, log, "-TERM"));
    }
    for (index, (_, address)) in WORKERS.iter().enumerate() {
        backend.processes[3 + index].wait_for_port(address, Duration::from_secs(90));
    }
    backend
}

fn options() -> Options {
    Options {
        homeserver: Some("synapse"),
        workers: WORKERS
            .iter()
            .map(|(group, address)| (*group, Some(address.parse().unwrap())))
            .collect(),
        ..Options::default()
    }
}

/// Every file below `dir`, relative, with its settings (the header's regenerate line
/// names the proxy and its paths: comments are left out).
fn files_below(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().to_path_buf();
                let text = std::fs::read_to_string(&path).unwrap();
                let settings = text.lines().filter(|l| !l.trim_start().starts_with('#'));
                files.push((relative, settings.collect::<Vec<_>>().join("\n")));
            }
        }
    }
    files.sort();
    files
}

async fn behind_every_routing_proxy(tools: Tools) {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    // PostgreSQL runs as nobody: it must pass through to its folders.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let ca = TestCa::new();
    let options = options();
    let main: SocketAddr = MAIN.parse().unwrap();
    let mut sites = Vec::new();
    for proxy in [Proxy::Nginx, Proxy::Haproxy, Proxy::Caddy] {
        if !proxy.installed() {
            return;
        }
        let proxy_dir = dir.path().join(proxy.flag());
        std::fs::create_dir(&proxy_dir).unwrap();
        let cert = ca.issue(&proxy_dir, &options.names());
        sites.push(Site::generate(&proxy_dir, proxy, &options, main, &cert));
    }
    // One Synapse for every proxy: the Synapse side of the output must not depend on
    // the proxy.
    let synapse_dir = sites[0].out.join("synapse");
    for site in &sites[1..] {
        assert_eq!(
            files_below(&synapse_dir),
            files_below(&site.out.join("synapse")),
            "the Synapse files differ between the nginx and the {:?} output",
            site.proxy
        );
    }
    let ca_pem = ca.write_pem(dir.path());
    let origin = Origin::start(&ca, dir.path()).await;
    let backend =
        tokio::task::block_in_place(|| start_backend(&tools, dir.path(), &synapse_dir, &ca_pem));
    eprintln!("backend up after {:.1} s", started.elapsed().as_secs_f64());
    let client = Client::new(&ca.cert_der);
    for site in &sites {
        let proxy_dir = site.out.parent().unwrap();
        let running = tokio::task::block_in_place(|| {
            Running::start(
                site.proxy,
                proxy_dir,
                &site.config,
                options.listen,
                &options.ports(),
            )
        })
        .expect("checked installed above");
        let matrix = Matrix {
            client: &client,
            address: options.listen,
            host: options.homeserver_host(),
            user: format!("alice-{}", site.proxy.flag()),
            token: None,
        };
        conversation(matrix, &backend, &origin).await;
        drop(running);
    }
    // Once, by the worker: Synapse keeps a fetched key until it expires.
    assert!(
        origin.key_fetches.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "nothing fetched the origin's key"
    );
    report(&backend);
    eprintln!("done after {:.1} s", started.elapsed().as_secs_f64());
}

/// A Matrix client through the proxy.
struct Matrix<'a> {
    client: &'a Client,
    address: IpAddr,
    host: String,
    user: String,
    token: Option<String>,
}

impl Matrix<'_> {
    fn request(&self, method: &str, target: &str) -> Request {
        let request = Request::get(self.address, &self.host, target)
            .method(method)
            .timeout(Duration::from_secs(40));
        match &self.token {
            Some(token) => request.header("Authorization", &format!("Bearer {token}")),
            None => request,
        }
    }

    async fn send(&self, request: Request) -> Response {
        let what = format!("{} {}", request.method, request.target);
        self.client
            .send(&request)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// A JSON request; the answer's status must be `status`, its body JSON.
    async fn json(&self, method: &str, target: &str, body: Option<Value>, status: u16) -> Value {
        let mut request = self.request(method, target);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(Body::Bytes(body.to_string().into_bytes()));
        }
        let response = self.send(request).await;
        let text = String::from_utf8_lossy(&response.body);
        assert_eq!(response.status, status, "{method} {target}: {text}");
        serde_json::from_slice(&response.body)
            .unwrap_or_else(|e| panic!("{method} {target}: not JSON ({e}): {text}"))
    }
}

/// Registers, creates a room, long-polls /sync while sending, uploads and downloads
/// media, and sends an (unsigned) federation transaction; then checks each worker's log.
async fn conversation(mut matrix: Matrix<'_>, backend: &Backend, origin: &Origin) {
    let proxy = matrix.user.clone();
    // User-interactive auth: the first answer names the session, m.login.dummy completes it.
    let register = "/_matrix/client/v3/register";
    let account = json!({ "username": matrix.user, "password": "correct horse battery" });
    let challenge = matrix
        .json("POST", register, Some(account.clone()), 401)
        .await;
    let mut complete = account;
    complete["auth"] = json!({ "type": "m.login.dummy", "session": challenge["session"] });
    let registered = matrix.json("POST", register, Some(complete), 200).await;
    matrix.token = Some(registered["access_token"].as_str().unwrap().to_string());
    let user_id = registered["user_id"].as_str().unwrap().to_string();

    let room = matrix
        .json(
            "POST",
            "/_matrix/client/v3/createRoom",
            Some(json!({})),
            200,
        )
        .await;
    let room_id = room["room_id"].as_str().unwrap().to_string();
    let initial = matrix
        .json("GET", "/_matrix/client/v3/sync?timeout=0", None, 200)
        .await;
    let since = initial["next_batch"].as_str().unwrap().to_string();

    // The long poll waits on the sync worker until the event creator's message, persisted
    // by the main process, reaches it over Redis.
    let text = format!("hello through {proxy}");
    let poll = format!("/_matrix/client/v3/sync?since={since}&timeout=30000");
    let send = format!(
        "/_matrix/client/v3/rooms/{}/send/m.room.message/txn-{proxy}",
        room_id.replace('!', "%21").replace(':', "%3A")
    );
    let polled = Instant::now();
    let poll = async {
        let answer = matrix.json("GET", &poll, None, 200).await;
        (answer, polled.elapsed())
    };
    let send = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let sending = polled.elapsed();
        let body = json!({ "msgtype": "m.text", "body": text });
        (matrix.json("PUT", &send, Some(body), 200).await, sending)
    };
    let ((woken, answered), (sent, sending)) = tokio::join!(poll, send);
    // Still waiting when the message was sent, and woken by it long before its 30 s.
    assert!(
        answered > sending && answered < Duration::from_secs(25),
        "the long poll answered after {answered:?}, the message was sent after {sending:?}"
    );
    let events = &woken["rooms"]["join"][&room_id]["timeline"]["events"];
    let event_id = sent["event_id"].as_str().unwrap();
    assert!(
        events.as_array().is_some_and(|events| events
            .iter()
            .any(|e| e["event_id"] == event_id && e["content"]["body"] == json!(text))),
        "the long poll's answer lacks {event_id}: {woken}"
    );

    media(&matrix, &proxy).await;
    federation(&matrix, &proxy, origin).await;
    assert_logs(backend, &proxy, &user_id);
}

async fn media(matrix: &Matrix<'_>, proxy: &str) {
    let bytes = format!("media through {proxy}").into_bytes();
    let upload = matrix
        .request(
            "POST",
            &format!("/_matrix/media/v3/upload?filename={proxy}.txt"),
        )
        .header("Content-Type", "text/plain")
        .body(Body::Bytes(bytes.clone()));
    let uploaded = matrix.send(upload).await;
    assert_eq!(
        uploaded.status,
        200,
        "upload: {}",
        String::from_utf8_lossy(&uploaded.body)
    );
    let uploaded: Value = serde_json::from_slice(&uploaded.body).unwrap();
    let uri = uploaded["content_uri"].as_str().unwrap();
    let media_id = uri.strip_prefix("mxc://example.com/").unwrap();
    // Authenticated media (Matrix 1.11), as clients fetch it now.
    let download = format!("/_matrix/client/v1/media/download/example.com/{media_id}");
    let downloaded = matrix.send(matrix.request("GET", &download)).await;
    assert_eq!(downloaded.status, 200, "{download}");
    assert_eq!(downloaded.body, bytes, "{download}");
}

/// An empty transaction from the origin, signed (200) and unsigned (401).
async fn federation(matrix: &Matrix<'_>, proxy: &str, origin: &Origin) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let body =
        json!({ "origin": synapse_origin::NAME, "origin_server_ts": now, "pdus": [], "edus": [] });
    for signed in [true, false] {
        let transaction = match signed {
            true => format!("/_matrix/federation/v1/send/signed-{proxy}"),
            false => format!("/_matrix/federation/v1/send/fed-{proxy}"),
        };
        let mut request = Request::get(matrix.address, &matrix.host, &transaction)
            .method("PUT")
            .header("Content-Type", "application/json")
            .body(Body::Bytes(body.to_string().into_bytes()));
        if signed {
            let authorization = origin.authorization("PUT", &transaction, "example.com", &body);
            request = request.header("Authorization", &authorization);
        }
        let answer = matrix.send(request).await;
        let text = String::from_utf8_lossy(&answer.body).to_string();
        let answer_json: Value = serde_json::from_slice(&answer.body)
            .unwrap_or_else(|e| panic!("{transaction}: not JSON ({e}): {text}"));
        if signed {
            assert_eq!(answer.status, 200, "{transaction}: {text}");
            assert_eq!(answer_json, json!({ "pdus": {} }), "{transaction}");
        } else {
            assert_eq!(answer.status, 401, "{transaction}: {text}");
            assert_eq!(
                answer_json["errcode"], "M_UNAUTHORIZED",
                "{transaction}: {text}"
            );
        }
    }
}

/// Synapse's access log (logger `synapse.access.http.<port>`), one line per request:
/// `… Processed request: … <status> "<METHOD> <target> HTTP/1.x" …`.
fn served(log: &str, port: &str, method: &str, path: &str) -> bool {
    let logger = format!("synapse.access.http.{port}");
    let request = format!("\"{method} {path}");
    log.lines()
        .any(|line| line.contains(&logger) && line.contains(&request))
}

/// Each worker's own log has the requests of its share, and the main process's has none.
fn assert_logs(backend: &Backend, proxy: &str, user_id: &str) {
    let room = "/_matrix/client/v3/rooms/";
    let shares: &[(&str, &str, &str)] = &[
        ("client-reader", "POST", "/_matrix/client/v3/register"),
        ("client-reader", "POST", "/_matrix/client/v3/createRoom"),
        ("sync", "GET", "/_matrix/client/v3/sync?since="),
        ("event-creator", "PUT", room),
        (
            "media",
            "POST",
            &format!("/_matrix/media/v3/upload?filename={proxy}.txt"),
        ),
        ("media", "GET", "/_matrix/client/v1/media/download/"),
        (
            "federation-inbound",
            "PUT",
            &format!("/_matrix/federation/v1/send/fed-{proxy}"),
        ),
        (
            "federation-inbound",
            "PUT",
            &format!("/_matrix/federation/v1/send/signed-{proxy}"),
        ),
    ];
    let main = backend.process("main").log();
    for (group, method, path) in shares {
        let (_, address) = WORKERS.iter().find(|(g, _)| g == group).unwrap();
        let port = address.rsplit(':').next().unwrap();
        let log = backend.process(&worker_name(group)).log();
        assert!(
            served(&log, port, method, path),
            "{proxy}: {group}'s log has no {method} {path}:\n{log}"
        );
        assert!(
            !served(&main, "8008", method, path),
            "{proxy}: the main process served {method} {path}:\n{main}"
        );
    }
    // Nothing of the conversation fell through to the main process's public listener;
    // it saw the workers hand it the events to persist, on its replication listener.
    assert!(
        !main.contains("synapse.access.http.8008"),
        "{proxy}: the main process's public listener served requests:\n{main}"
    );
    assert!(
        served(&main, "9093", "POST", "/_synapse/replication/send_events/"),
        "{proxy}: no worker handed the main process an event over replication:\n{main}"
    );
    // The inbound worker accepted the signed transaction as the origin's (its access log
    // names the authenticated server), with the origin's key it fetched itself (once:
    // later requests use the stored key).
    let inbound = backend.process("federation_inbound1").log();
    let accepted = format!("200 \"PUT /_matrix/federation/v1/send/signed-{proxy}");
    let origin = format!("{{{}}}", synapse_origin::NAME);
    assert!(
        inbound
            .lines()
            .any(|l| l.contains(&accepted) && l.contains(&origin)),
        "{proxy}: the federation-inbound worker did not accept the signed transaction:\n{inbound}"
    );
    let fetched = format!("[{}] Completed request: 200", synapse_origin::NAME);
    assert!(
        inbound
            .lines()
            .any(|l| l.contains(&fetched) && l.contains("/_matrix/key/v2/server")),
        "{proxy}: the federation-inbound worker did not fetch the origin's key:\n{inbound}"
    );
    // The sync worker's lines name the user (`{@alice-…:example.com}`): this run's.
    let sync = backend.process("sync1").log();
    assert!(
        sync.lines()
            .any(|l| l.contains(&format!("{{{user_id}}}")) && l.contains("/sync?since=")),
        "{proxy}: the sync worker served no long poll of {user_id}:\n{sync}"
    );
}

/// Each worker's access-log lines, for the test's output.
fn report(backend: &Backend) {
    for process in &backend.processes[2..] {
        let lines: Vec<String> = process
            .log()
            .lines()
            .filter(|l| l.contains("synapse.access.http") || l.contains("Completed request"))
            .map(|l| {
                let request = l.split(" - ").last().unwrap_or(l);
                request.chars().take(160).collect()
            })
            .collect();
        eprintln!("{} logged {} requests:", process.name, lines.len());
        for line in lines {
            eprintln!("  {line}");
        }
    }
}
