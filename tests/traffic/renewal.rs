//! The compose stack's unattended renewal (issue #22), proven in parts: no container
//! engine can be installed here, so the containers themselves never run. What runs for
//! real, per proxy that reads certbot's files (nginx, Apache, HAProxy):
//! - `mxproxy generate --compose --tls acme`, and the proxy service's own `command` from
//!   docker-compose.yml, run by `sh` with the real server: the paths of the containers'
//!   volumes moved into a temp folder, the service names `homeserver` and `certbot`
//!   (Docker's DNS) moved to loopback, and the 5-minute check made 1 s;
//! - a challenge file dropped where certbot's `--webroot -w` writes it (the volume the
//!   proxy mounts at the same path), or certbot's standalone listener behind HAProxy,
//!   reached over port 80;
//! - the service's health check (`bash -c …`), passing while the server runs and failing
//!   once it is stopped;
//! - a renewal: the new certificate written as certbot writes it (HAProxy: by the deploy
//!   hook from docker-compose.yml, run by `sh`, its PEM loaded by `haproxy -c`), and the
//!   loop's reload, after which the server presents the new certificate and still serves.
//!
//! Docker's images differ from Debian's packages only in names: the image's `nginx`,
//! `httpd-foreground` and `apachectl` are here small scripts that run Debian's nginx and
//! apache2 on the harness's main config (tests/common/validators.rs) with the generated
//! site, as the images' main configs include it.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::client::{Client, Request};
use crate::common::homeserver::{Answers, Homeserver};
use crate::common::netns::netns_test;
use crate::common::pki::{TestCa, TestCert, Validity};
use crate::common::proxy::Proxy;
use crate::common::{mxproxy, require_tool, validators};

mod compose_renewal {
    use super::*;

    netns_test! {
        fn nginx() {
            if Proxy::Nginx.installed() {
                crate::traffic::block_on(renewal(Proxy::Nginx))
            }
        }
    }

    netns_test! {
        fn apache() {
            if Proxy::Apache.installed() {
                crate::traffic::block_on(renewal(Proxy::Apache))
            }
        }
    }

    netns_test! {
        fn haproxy() {
            if Proxy::Haproxy.installed() {
                crate::traffic::block_on(renewal(Proxy::Haproxy))
            }
        }
    }
}

const SERVER_NAME: &str = "example.com";
const HOMESERVER_HOST: &str = "matrix.example.com";
const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// The generated stack, read back from docker-compose.yml as the containers would see it.
struct Generated {
    /// The file the server loads, below `out`.
    config: PathBuf,
    /// The proxy service's `sh -c` script, `$$` read back as `$`.
    script: String,
    /// The health check's `test`.
    healthcheck: Vec<String>,
    /// The `certbot renew` line of the certbot service's loop.
    renew: String,
    /// The certbot service's `sh -c` loop, `$$` read back as `$`.
    certbot_loop: String,
    /// The first-certificate service's certbot arguments, `$$` read back as `$`.
    first_certificate: Vec<String>,
    /// HAProxy's deploy hook, `$$` read back as `$`.
    deploy_hook: Option<String>,
    /// The proxy's volumes.
    volumes: Vec<String>,
}

fn strings(value: &serde_yaml::Value) -> Vec<String> {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("a list: {value:?}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_string())
        .collect()
}

fn generate(dir: &Path, proxy: Proxy) -> Generated {
    let out = dir.join("out");
    let status = mxproxy()
        .args(["generate", "--server-name", SERVER_NAME, "--compose"])
        .args(["--proxy", proxy.flag(), "--tls", "acme", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "mxproxy generate --compose failed");
    let compose: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(out.join("docker-compose.yml")).unwrap())
            .unwrap();
    let service = &compose["services"][proxy.flag()];
    let command = strings(&service["command"]);
    assert_eq!(command[..2], ["sh", "-c"], "{command:?}");
    let certbot = strings(&compose["services"]["certbot"]["entrypoint"]);
    assert_eq!(certbot[..2], ["sh", "-c"], "{certbot:?}");
    let renew = certbot[2]
        .lines()
        .find(|line| line.contains("certbot renew"))
        .unwrap_or_else(|| panic!("no `certbot renew` in {certbot:?}"))
        .replace("$$", "$");
    let deploy_hook = renew
        .split_once("--deploy-hook '")
        .map(|(_, hook)| hook.trim_end().trim_end_matches('\'').to_string());
    let first_certificate = strings(&compose["services"]["first-certificate"]["command"])
        .iter()
        .map(|arg| arg.replace("$$", "$"))
        .collect();
    Generated {
        certbot_loop: certbot[2].replace("$$", "$"),
        first_certificate,
        config: out.join(proxy.config(HOMESERVER_HOST)),
        script: command[2].replace("$$", "$"),
        healthcheck: strings(&service["healthcheck"]["test"]),
        renew,
        deploy_hook,
        volumes: strings(&service["volumes"]),
    }
}

/// Where the containers' paths and service names are in this test.
struct Moves(Vec<(String, String)>);

impl Moves {
    fn new(dir: &Path, generated: &Generated) -> Moves {
        let at = |name: &str| dir.join(name).to_str().unwrap().to_string();
        Moves(vec![
            ("/etc/letsencrypt".into(), at("letsencrypt")),
            ("/etc/haproxy/certs".into(), at("haproxy-certs")),
            (
                "/usr/local/etc/haproxy/haproxy.cfg".into(),
                generated.config.to_str().unwrap().into(),
            ),
            ("/var/www/mxproxy".into(), at("www")),
            // Docker's DNS finds the services; here they are on loopback.
            ("certbot:".into(), "127.0.0.1:".into()),
            ("homeserver:".into(), "127.0.0.1:".into()),
            (
                format!("sleep {}", mxproxy::defaults::CERTIFICATE_CHECK_SECONDS),
                "sleep 1".into(),
            ),
        ])
    }

    fn apply(&self, text: &str) -> String {
        self.0
            .iter()
            .fold(text.to_string(), |text, (from, to)| text.replace(from, to))
    }
}

/// Installs `cert` as certbot does: the key, then the chain, each by rename (certbot
/// swaps links), so the loop never sees a half-written chain.
fn install_lineage(live: &Path, cert: &TestCert) {
    std::fs::create_dir_all(live).unwrap();
    for (name, pem) in [
        ("privkey.pem", &cert.key_pem),
        ("fullchain.pem", &cert.cert_pem),
    ] {
        let new = live.join(format!("{name}.new"));
        std::fs::write(&new, pem).unwrap();
        std::fs::rename(&new, live.join(name)).unwrap();
    }
}

/// Runs HAProxy's deploy hook from docker-compose.yml with `sh`, as certbot does
/// (`RENEWED_LINEAGE` names the lineage's live folder).
fn run_deploy_hook(hook: &str, live: &Path) {
    let output = Command::new("sh")
        .arg("-c")
        .arg(hook)
        .env("RENEWED_LINEAGE", live)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "deploy hook `{hook}`: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Scripts named as the images' commands, each running the Debian server on the harness's
/// main config.
fn image_commands(dir: &Path, proxy: Proxy, config: &Path, log: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let serve = validators::MainConfig::Serve {
        listen: &[LOOPBACK],
        log,
        tuning: None,
    };
    let mut scripts: Vec<(&str, String)> = Vec::new();
    match proxy {
        Proxy::Nginx => {
            let nginx = require_tool("nginx").unwrap();
            // The image's command passes `-g 'daemon off;'` itself.
            let main = validators::nginx_main(dir, config, &serve).replace("daemon off;\n", "");
            let path = dir.join("nginx.conf");
            std::fs::write(&path, main).unwrap();
            scripts.push((
                "nginx",
                format!(
                    "exec {} -c {} -e {} \"$@\"",
                    nginx.display(),
                    path.display(),
                    log.display()
                ),
            ));
        }
        Proxy::Apache => {
            let apache = require_tool("apache2").unwrap();
            let path = dir.join("apache2.conf");
            std::fs::write(&path, validators::apache_main(dir, config, &serve)).unwrap();
            let run = format!("{} -f {}", apache.display(), path.display());
            scripts.push(("httpd-foreground", format!("exec {run} -DFOREGROUND")));
            // The image's apachectl hands `-k …` to httpd.
            scripts.push(("apachectl", format!("exec {run} \"$@\"")));
        }
        // The image's haproxy is the real binary: nothing to stand in for.
        _ => {}
    }
    for (name, body) in scripts {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// The proxy service's command, running: `sh` execs into the server, whose process group
/// is stopped when dropped.
struct Service {
    child: Child,
    output: PathBuf,
    log: PathBuf,
}

impl Service {
    fn start(script: &str, bin: &Path, dir: &Path, log: &Path) -> Service {
        let output = dir.join("service.out");
        let file = std::fs::File::create(&output).unwrap();
        let path = format!(
            "{}:{}:/usr/sbin:/sbin",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("PATH", path)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        let service = Service {
            child,
            output,
            log: log.to_path_buf(),
        };
        service.wait_until_listening(&[80, 443]);
        service
    }

    fn wait_until_listening(&self, ports: &[u16]) {
        let deadline = Instant::now() + Duration::from_secs(20);
        for &port in ports {
            let address = SocketAddr::new(LOOPBACK, port);
            while std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "nothing listens on {address} after 20 s:\n{}",
                    self.logs()
                );
                std::thread::sleep(Duration::from_millis(25));
            }
        }
    }

    fn logs(&self) -> String {
        let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
        format!(
            "--- output ---\n{}--- error log ---\n{}",
            read(&self.output),
            read(&self.log)
        )
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    fn stop(&mut self) {
        let group = format!("-{}", self.child.id());
        for signal in ["-TERM", "-KILL"] {
            if !self.running() {
                return;
            }
            let _ = Command::new("kill").args([signal, "--", &group]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.running() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
    }
}

/// The health check's `test` (`CMD`, then the command) run as Docker would, in the
/// container's network (here the namespace's loopback).
fn healthy(test: &[String]) -> bool {
    assert_eq!(test[0], "CMD", "{test:?}");
    Command::new(&test[1])
        .args(&test[2..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Whether a handshake for the homeserver host succeeds for a client that trusts only
/// `client`'s CA: which certificate the server presents.
async fn presents(client: &Client) -> bool {
    let request = Request::get(LOOPBACK, HOMESERVER_HOST, "/").timeout(Duration::from_secs(5));
    client.handshake(&request).await.is_ok()
}

/// Port 80 answers a challenge for both names: from the webroot certbot writes to (nginx,
/// Apache), or from certbot's standalone listener (HAProxy).
/// `standalone` is certbot's listener, behind HAProxy (`certbot:8888` in the stack).
async fn serves_challenges(
    proxy: Proxy,
    generated: &Generated,
    moves: &Moves,
    standalone: Option<&Homeserver>,
    round: u32,
) {
    let client = Client::new(&TestCa::new().cert_der);
    let token = format!("t0ken-_{round}");
    let target = format!("/.well-known/acme-challenge/{token}");
    if standalone.is_none() {
        let webroot = challenge_webroot(generated);
        let folder = PathBuf::from(moves.apply(&webroot)).join(".well-known/acme-challenge");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(&token), format!("{token}.thumbprint")).unwrap();
    }
    for host in [SERVER_NAME, HOMESERVER_HOST] {
        let request = Request::get(LOOPBACK, host, &target).plain_http();
        let response = client.send(&request).await.unwrap();
        let what = format!("{proxy:?} http://{host}{target}");
        assert_eq!(response.status, 200, "{what}: {response:?}");
        match standalone {
            Some(certbot) => {
                let arrived = certbot.with_target(&target);
                assert!(
                    arrived
                        .iter()
                        .any(|r| r.header("host") == [host.to_string()]),
                    "{what}: certbot's listener saw {:?}",
                    certbot.requests()
                );
            }
            None => assert_eq!(response.body, format!("{token}.thumbprint").as_bytes()),
        }
    }
}

/// certbot's `-w`, after checking that the proxy mounts the challenge volume where
/// certbot writes into it: `<webroot>/.well-known/acme-challenge`.
fn challenge_webroot(generated: &Generated) -> String {
    let words: Vec<&str> = generated.renew.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "-w").expect("certbot's -w");
    let webroot = words[at + 1].to_string();
    let mount = format!("acme-challenge:{webroot}/.well-known/acme-challenge:ro");
    assert!(
        generated.volumes.contains(&mount),
        "the proxy mounts no {mount}: {:?}",
        generated.volumes
    );
    webroot
}

/// certbot's `--http-01-port`: where its standalone server answers behind HAProxy.
fn standalone_port(generated: &Generated) -> u16 {
    let words: Vec<&str> = generated.renew.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "--http-01-port")
        .unwrap_or_else(|| panic!("no --http-01-port in `{}`", generated.renew));
    words[at + 1].parse().unwrap()
}

async fn renewal(proxy: Proxy) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // The servers' workers run as www-data: they may pass through, not list.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    let generated = generate(dir, proxy);
    if proxy == Proxy::Haproxy {
        // HAProxy passes challenges to the certbot service, on the port certbot renews on.
        let backend = format!("server certbot certbot:{}", standalone_port(&generated));
        let config = std::fs::read_to_string(&generated.config).unwrap();
        assert!(config.contains(&backend), "no `{backend}`:\n{config}");
    }
    let moves = Moves::new(dir, &generated);
    let config = moves.apply(&std::fs::read_to_string(&generated.config).unwrap());
    std::fs::write(&generated.config, config).unwrap();

    let names = [SERVER_NAME, HOMESERVER_HOST];
    let (first_ca, next_ca) = (TestCa::new(), TestCa::new());
    let first = first_ca.leaf(dir, "first", &names, Validity::Current);
    let next = next_ca.leaf(dir, "next", &names, Validity::Current);
    let live = dir.join("letsencrypt/live").join(HOMESERVER_HOST);
    install_lineage(&live, &first);
    if let Some(hook) = &generated.deploy_hook {
        std::fs::create_dir_all(dir.join("haproxy-certs")).unwrap();
        run_deploy_hook(&moves.apply(hook), &live);
        let checked = Command::new(require_tool("haproxy").unwrap())
            .arg("-c")
            .arg("-f")
            .arg(&generated.config)
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "haproxy -c on the deploy hook's PEM: {}",
            String::from_utf8_lossy(&checked.stderr)
        );
    }

    let standalone = match proxy {
        Proxy::Haproxy => Some(
            Homeserver::start(
                SocketAddr::new(LOOPBACK, standalone_port(&generated)),
                Answers::Echo {
                    sync_delay: Duration::ZERO,
                },
            )
            .await,
        ),
        _ => None,
    };
    let log = dir.join("error.log");
    let bin = image_commands(dir, proxy, &generated.config, &log);
    let mut service = Service::start(&moves.apply(&generated.script), &bin, dir, &log);
    serves_challenges(proxy, &generated, &moves, standalone.as_ref(), 0).await;
    assert!(healthy(&generated.healthcheck), "{proxy:?}: health check");
    let (first_client, next_client) = (
        Client::new(&first_ca.cert_der),
        Client::new(&next_ca.cert_der),
    );
    assert!(
        presents(&first_client).await,
        "{proxy:?}: first certificate"
    );
    assert!(
        !presents(&next_client).await,
        "{proxy:?}: the client tells them apart"
    );

    // certbot renews: a new lineage version, and for HAProxy its deploy hook.
    match &generated.deploy_hook {
        Some(hook) => {
            let renewed = dir.join("renewed");
            install_lineage(&renewed, &next);
            run_deploy_hook(&moves.apply(hook), &renewed);
        }
        None => install_lineage(&live, &next),
    }
    // A graceful reload lets the old workers finish: for a moment both certificates may
    // be presented, one per connection. Done when only the new one is.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !presents(&next_client).await || presents(&first_client).await {
        assert!(
            Instant::now() < deadline,
            "{proxy:?} still presents the old certificate 20 s after renewal:\n{}",
            service.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        service.running(),
        "{proxy:?}: the server restarted:\n{}",
        service.logs()
    );
    serves_challenges(proxy, &generated, &moves, standalone.as_ref(), 1).await;
    assert!(
        healthy(&generated.healthcheck),
        "{proxy:?}: health check after reload"
    );

    service.stop();
    assert!(
        !healthy(&generated.healthcheck),
        "{proxy:?}: the health check passes with the server stopped"
    );
}

/// The whole way, with the real certbot (Debian's) against Pebble, Let's Encrypt's ACME
/// test server, with its DNS stand-in answering 127.0.0.1 for every name: the
/// first-certificate service's command on a free port 80, then the proxy service's
/// command, then the certbot service's loop, whose first `certbot renew` (the lineage
/// made due by its `renew_before_expiry`) must pass Pebble's real HTTP-01 validation
/// through the running proxy, after which the proxy presents the new certificate.
mod acme_end_to_end {
    use super::*;

    netns_test! {
        fn nginx() {
            if Proxy::Nginx.installed() {
                end_to_end(Proxy::Nginx)
            }
        }
    }

    netns_test! {
        fn apache() {
            if Proxy::Apache.installed() {
                end_to_end(Proxy::Apache)
            }
        }
    }

    netns_test! {
        fn haproxy() {
            if Proxy::Haproxy.installed() {
                end_to_end(Proxy::Haproxy)
            }
        }
    }
}

/// Pebble and its DNS stand-in, stopped when dropped.
struct Acme {
    children: Vec<Child>,
    /// Pebble's directory URL, and the CA file its HTTPS API is trusted by.
    directory: String,
    ca_file: PathBuf,
}

const PEBBLE_PORT: u16 = 14000;
const PEBBLE_DNS: &str = "127.0.0.1:8053";

impl Acme {
    fn start(dir: &Path) -> Option<Acme> {
        let pebble = require_tool("pebble")?;
        let dns = require_tool("pebble-challtestsrv")?;
        let ca = TestCa::new();
        let api = ca.leaf(dir, "pebble", &["localhost"], Validity::Current);
        let config = dir.join("pebble.json");
        let settings = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{PEBBLE_PORT}"),
            "managementListenAddress": "127.0.0.1:15000",
            "certificate": api.cert, "privateKey": api.key,
            // Where its validation connects: the proxy's port 80.
            "httpPort": 80, "tlsPort": 5001,
        }});
        std::fs::write(&config, settings.to_string()).unwrap();
        let quiet = |command: &mut Command| {
            let log = std::fs::File::create(dir.join("acme.log")).unwrap();
            command
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap()
        };
        let mut children = vec![quiet(
            Command::new(dns)
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
                .args(["-dns01", PEBBLE_DNS, "-management", "127.0.0.1:8055"])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""]),
        )];
        children.push(quiet(
            Command::new(pebble)
                .arg("-config")
                .arg(&config)
                .args(["-dnsserver", PEBBLE_DNS])
                // Validate at once, never reuse an authorization (a renewal must be
                // validated again), never reject a nonce at random.
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_AUTHZREUSE", "0")
                .env("PEBBLE_WFE_NONCEREJECT", "0"),
        ));
        let acme = Acme {
            children,
            directory: format!("https://localhost:{PEBBLE_PORT}/dir"),
            ca_file: ca.write_pem(dir),
        };
        let address = SocketAddr::new(LOOPBACK, PEBBLE_PORT);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Pebble does not listen after 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(acme)
    }
}

impl Drop for Acme {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
        }
    }
}

/// A `certbot` on PATH that is Debian's, on Pebble, with its folders in the test's.
/// Without a terminal `certbot renew` first sleeps up to 8 minutes at random, which the
/// stack keeps (it spreads the load on Let's Encrypt) and the test skips.
fn certbot_command(bin: &Path, dir: &Path, acme: &Acme) {
    let certbot = require_tool("certbot").unwrap();
    let body = format!(
        "#!/bin/sh\nexport REQUESTS_CA_BUNDLE={ca}\nexec {certbot} --server {server} \
         --no-random-sleep-on-renew --config-dir {dir}/letsencrypt --work-dir {dir}/certbot-work --logs-dir {dir}/certbot-logs \"$@\"\n",
        ca = acme.ca_file.display(),
        certbot = certbot.display(),
        server = acme.directory,
        dir = dir.display(),
    );
    let path = bin.join("certbot");
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// SHA-256 fingerprint of the certificate the server presents for the homeserver host,
/// or of a PEM file, by the real openssl.
fn fingerprint(source: Result<SocketAddr, &Path>) -> String {
    let openssl = require_tool("openssl").unwrap();
    let script = match source {
        Ok(address) => format!(
            "{o} s_client -connect {address} -servername {HOMESERVER_HOST} </dev/null 2>/dev/null | {o} x509 -noout -fingerprint -sha256",
            o = openssl.display()
        ),
        Err(file) => format!(
            "{} x509 -noout -fingerprint -sha256 -in {}",
            openssl.display(),
            file.display()
        ),
    };
    let output = Command::new("sh").arg("-c").arg(script).output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn run_ok(command: &mut Command, what: &str) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn end_to_end(proxy: Proxy) {
    let (Some(_), Some(_)) = (require_tool("certbot"), require_tool("openssl")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    let Some(acme) = Acme::start(dir) else {
        return;
    };
    let generated = generate(dir, proxy);
    let moves = Moves::new(dir, &generated);
    let config = moves.apply(&std::fs::read_to_string(&generated.config).unwrap());
    std::fs::write(&generated.config, config).unwrap();
    // The volumes, as Docker creates them.
    for volume in ["www/.well-known/acme-challenge", "haproxy-certs"] {
        std::fs::create_dir_all(dir.join(volume)).unwrap();
    }
    let log = dir.join("error.log");
    let bin = image_commands(dir, proxy, &generated.config, &log);
    certbot_command(&bin, dir, &acme);
    let path = format!("{}:/usr/bin:/bin:/usr/sbin:/sbin", bin.display());

    // docker compose run --rm --service-ports first-certificate
    let first: Vec<String> = generated
        .first_certificate
        .iter()
        .map(|a| moves.apply(a))
        .collect();
    run_ok(
        Command::new(bin.join("certbot"))
            .args(&first)
            .env("PATH", &path),
        "the first-certificate command",
    );
    let live = dir.join("letsencrypt/live").join(HOMESERVER_HOST);
    let issued = fingerprint(Err(&live.join("cert.pem")));
    // Due for renewal now, as it would be two months on.
    let renewal = dir.join(format!("letsencrypt/renewal/{HOMESERVER_HOST}.conf"));
    let conf = std::fs::read_to_string(&renewal).unwrap();
    std::fs::write(
        &renewal,
        format!("renew_before_expiry = 36500 days\n{conf}"),
    )
    .unwrap();

    let service = Service::start(&moves.apply(&generated.script), &bin, dir, &log);
    let served = || fingerprint(Ok(SocketAddr::new(LOOPBACK, 443)));
    assert_eq!(served(), issued, "{proxy:?}: the first certificate");

    // The certbot service's loop: its first `certbot renew` runs at once.
    let mut renewer = Command::new("sh")
        .arg("-c")
        .arg(moves.apply(&generated.certbot_loop))
        .env("PATH", &path)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let renewed = loop {
        let current = fingerprint(Err(&live.join("cert.pem")));
        if current != issued && served() == current {
            break current;
        }
        if Instant::now() > deadline {
            let _ = renewer.kill();
            panic!(
                "{proxy:?}: no renewed certificate presented after 90 s (issued {issued}, \
                 live {current}):\n{}\n{}",
                std::fs::read_to_string(dir.join("certbot-logs/letsencrypt.log"))
                    .unwrap_or_default(),
                service.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_ne!(renewed, issued);

    // `docker compose stop certbot`: SIGTERM, and the loop ends at once, mid-sleep.
    let _ = Command::new("kill")
        .args(["-TERM", &renewer.id().to_string()])
        .status();
    let stopped = Instant::now();
    while renewer.try_wait().unwrap().is_none() {
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "the certbot loop ignores SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // In a container the stopped PID 1 takes its `sleep` with it; here its group does.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", renewer.id())])
        .status();
    // The renewal recorded how it answered, for every renewal after it.
    let conf = std::fs::read_to_string(&renewal).unwrap();
    let expected = match proxy {
        Proxy::Haproxy => "http01_port = 8888",
        _ => "authenticator = webroot",
    };
    assert!(conf.contains(expected), "{proxy:?}: {conf}");
    drop(service);
    drop(acme);
}
