//! The real proxies on generated configs, for the real-traffic and the `check` tests:
//! `mxproxy generate` into a temp dir (with the test CA's certificate), then the server
//! binary in the foreground on the file it loads, in a process group of its own, stopped
//! by that group when dropped; its error log and output are kept for failure messages.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::pki::TestCert;
use super::{mxproxy, require_tool, validators};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proxy {
    Nginx,
    Apache,
    Caddy,
    Haproxy,
    Traefik,
}

impl Proxy {
    /// The proxy as mxproxy names it.
    fn generated(self) -> mxproxy::setup::Proxy {
        match self {
            Proxy::Nginx => mxproxy::setup::Proxy::Nginx,
            Proxy::Apache => mxproxy::setup::Proxy::Apache,
            Proxy::Caddy => mxproxy::setup::Proxy::Caddy,
            Proxy::Haproxy => mxproxy::setup::Proxy::Haproxy,
            Proxy::Traefik => mxproxy::setup::Proxy::Traefik,
        }
    }

    /// The `--proxy` value.
    pub fn flag(self) -> &'static str {
        self.generated().name()
    }

    /// The proxy answers the well-known documents itself; otherwise (Traefik) it routes
    /// `/.well-known/matrix/` to the homeserver, which serves them from its settings.
    pub fn serves_documents(self) -> bool {
        mxproxy::proxy::facts(self.generated()).serves_fixed_documents
    }

    /// Traefik rewrites every request path into its RFC 3986 normal form before routing
    /// (upper-case `%xx`, unreserved characters decoded: RFC 3986 §6.2.2.1 and §2.3) and
    /// offers no setting to turn that off (doc.traefik.io/traefik/security/request-path,
    /// "Path Normalization"; only the sanitizing step is `sanitizePath`). What arrives
    /// is the normal form of what was sent: equivalent, but not the same bytes.
    pub fn normalises_percent_encoding(self) -> bool {
        self == Proxy::Traefik
    }

    /// Installed, or (outside CI) not, after `require_tool`'s loud SKIPPED line; in CI a
    /// missing server is a failure.
    pub fn installed(self) -> bool {
        require_tool(self.binary()).is_some()
    }

    fn binary(self) -> &'static str {
        match self {
            Proxy::Nginx => "nginx",
            Proxy::Apache => "apache2",
            Proxy::Caddy => "caddy",
            Proxy::Haproxy => "haproxy",
            Proxy::Traefik => "traefik",
        }
    }

    /// The generated file the server loads, relative to the output folder: the proxy
    /// facts' first file (the only one, or Traefik's static traefik.yml, which names the
    /// folder of the dynamic one).
    pub fn config(self, homeserver_host: &str) -> String {
        let file = &mxproxy::proxy::facts(self.generated()).files[0];
        format!("{}/{}", self.flag(), file.path_for(homeserver_host))
    }
}

#[derive(Clone, Debug)]
pub enum Federation {
    /// Federation with the clients on 443 (the default).
    OnHttps,
    Port(u16),
    Off,
}

/// What `mxproxy generate` is asked for.
#[derive(Clone, Debug)]
pub struct Options {
    pub server_name: String,
    pub homeserver_host: Option<String>,
    /// `--homeserver`; None: the default (Conduit).
    pub homeserver: Option<&'static str>,
    /// The one loopback address the proxy listens on.
    pub listen: IpAddr,
    pub federation: Federation,
    pub max_upload: Option<String>,
    /// `--tls acme`, with certbot's paths swapped for the test certificate afterwards.
    pub acme: bool,
    /// `--tls none`: plain HTTP only, as behind a TLS terminator.
    pub plain: bool,
    /// `--homeserver synapse --mas`, in front of a second stand-in upstream for MAS.
    pub mas: Option<MasOptions>,
    /// `--element-web chat.<server name>`, serving the fake release `Stack::start` makes.
    pub element_web: bool,
    /// `--base-redirect`: a URL or `element-web`.
    pub base_redirect: Option<String>,
    /// With `element_web`: `--element-web-upstream` to this address, where `Stack::start`
    /// runs a stand-in for Element's image, instead of `--element-web-root`.
    pub element_web_upstream: Option<SocketAddr>,
    /// `--trusted-proxy`, each block.
    pub trusted_proxies: Vec<&'static str>,
    /// `--cdn`.
    pub cdn: Option<&'static str>,
    /// `--rtc`, in front of the stand-ins for LiveKit and its authorization service.
    pub rtc: Option<RtcOptions>,
    /// `--read-timeout`.
    pub read_timeout: Option<&'static str>,
    /// `--homeserver synapse --worker GROUP=HOST:PORT`, one entry per worker: its group
    /// and its address (set by `Stack::start`, which starts a recording upstream for each).
    pub workers: Vec<(&'static str, Option<SocketAddr>)>,
    /// `--clients`: the long-polls the configs are sized for.
    pub clients: Option<usize>,
}

/// `--rtc` on `rtc.<server name>`: LiveKit's and the authorization service's addresses,
/// set by `Stack::start` once the stand-ins listen.
#[derive(Clone, Debug, Default)]
pub struct RtcOptions {
    pub livekit: Option<SocketAddr>,
    pub auth: Option<SocketAddr>,
}

/// `--mas`: MAS on `auth.<server name>` (`path: None`) or below `--mas-path`, listening on
/// `upstream` (set by `Stack::start` once the stand-in listens).
#[derive(Clone, Debug, Default)]
pub struct MasOptions {
    pub path: Option<String>,
    pub upstream: Option<SocketAddr>,
    /// `--expose-admin`: MAS's admin API forwarded too.
    pub expose_admin: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            server_name: "example.com".into(),
            homeserver_host: None,
            homeserver: None,
            listen: IpAddr::from([127, 0, 0, 1]),
            federation: Federation::OnHttps,
            max_upload: None,
            acme: false,
            plain: false,
            mas: None,
            trusted_proxies: Vec::new(),
            cdn: None,
            rtc: None,
            read_timeout: None,
            workers: Vec::new(),
            element_web: false,
            base_redirect: None,
            element_web_upstream: None,
            clients: None,
        }
    }
}

impl Options {
    pub fn homeserver_host(&self) -> String {
        self.homeserver_host
            .clone()
            .unwrap_or_else(|| format!("matrix.{}", self.server_name))
    }

    /// MAS's own host, with `--mas` and no `--mas-path`: the default, `auth.<server name>`.
    pub fn mas_host(&self) -> Option<String> {
        match &self.mas {
            Some(mas) if mas.path.is_none() => Some(format!("auth.{}", self.server_name)),
            _ => None,
        }
    }

    /// The RTC host with `--rtc`: the default, `rtc.<server name>`.
    pub fn rtc_host(&self) -> Option<String> {
        self.rtc
            .as_ref()
            .map(|_| format!("rtc.{}", self.server_name))
    }

    /// The names a certificate for this setup must cover.
    pub fn names(&self) -> Vec<String> {
        let mut names = vec![self.server_name.clone()];
        if self.homeserver_host() != self.server_name {
            names.push(self.homeserver_host());
        }
        names.extend(self.mas_host());
        names.extend(self.rtc_host());
        names.extend(self.element_web_host());
        names
    }

    /// Element Web's host, with `--element-web`.
    pub fn element_web_host(&self) -> Option<String> {
        self.element_web
            .then(|| format!("chat.{}", self.server_name))
    }

    /// The ports the proxy listens on.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports = if self.plain { vec![80] } else { vec![80, 443] };
        if let Federation::Port(port) = self.federation {
            ports.push(port);
        }
        ports
    }
}

/// The generated files of one setup.
pub struct Site {
    pub proxy: Proxy,
    pub out: PathBuf,
    pub webroot: PathBuf,
    /// The file the server loads.
    pub config: PathBuf,
    /// The `generate` command line, for the plan it made.
    args: Vec<std::ffi::OsString>,
}

impl Site {
    /// Runs the built `mxproxy generate` into `dir/out` for `proxy` in front of `upstream`,
    /// with the paths of the certificate (certbot's, HAProxy's combined file) pointing at
    /// `cert`.
    pub fn generate(
        dir: &Path,
        proxy: Proxy,
        options: &Options,
        upstream: SocketAddr,
        cert: &TestCert,
    ) -> Site {
        // The servers' workers run as www-data: they may pass through, not list.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
        let out = dir.join("out");
        let webroot = dir.join("www");
        let homeserver_host = options.homeserver_host();
        let mut generate = mxproxy();
        generate
            .args(["generate", "--server-name", &options.server_name])
            .args(["--proxy", proxy.flag()])
            .args(["--listen-address", &options.listen.to_string()])
            .arg("--webroot")
            .arg(&webroot)
            .args(["--upstream", &upstream.to_string()])
            .arg("--out")
            .arg(&out);
        if let Some(host) = &options.homeserver_host {
            generate.args(["--homeserver-host", host]);
        }
        if let Some(homeserver) = options.homeserver {
            generate.args(["--homeserver", homeserver]);
        }
        if options.plain {
            generate.args(["--tls", "none"]);
        } else if options.acme {
            generate.args(["--tls", "acme"]);
        } else {
            generate
                .args(["--tls", "files", "--tls-cert"])
                .arg(&cert.cert)
                .arg("--tls-key")
                .arg(&cert.key);
        }
        match options.federation {
            Federation::OnHttps => {}
            Federation::Port(port) => {
                generate.args(["--federation-port", &port.to_string()]);
            }
            Federation::Off => {
                generate.arg("--no-federation");
            }
        }
        for block in &options.trusted_proxies {
            generate.args(["--trusted-proxy", block]);
        }
        if let Some(cdn) = options.cdn {
            generate.args(["--cdn", cdn]);
        }
        if let Some(size) = &options.max_upload {
            generate.args(["--max-upload", size]);
        }
        if let Some(timeout) = options.read_timeout {
            generate.args(["--read-timeout", timeout]);
        }
        if let Some(mas) = &options.mas {
            let upstream = mas.upstream.expect("Stack::start sets MAS's upstream");
            generate
                .args(["--homeserver", "synapse", "--mas"])
                .args(["--mas-upstream", &upstream.to_string()]);
            if let Some(path) = &mas.path {
                generate.args(["--mas-path", path]);
            }
            if mas.expose_admin {
                generate.arg("--expose-admin");
            }
        }
        if let Some(rtc) = &options.rtc {
            let livekit = rtc.livekit.expect("Stack::start sets LiveKit's upstream");
            let auth = rtc
                .auth
                .expect("Stack::start sets the auth service's upstream");
            generate
                .arg("--rtc")
                .args(["--livekit-upstream", &livekit.to_string()])
                .args(["--rtc-auth-upstream", &auth.to_string()]);
        }
        if !options.workers.is_empty() && options.homeserver.is_none() && options.mas.is_none() {
            generate.args(["--homeserver", "synapse"]);
        }
        for (group, address) in &options.workers {
            let address = address.expect("Stack::start sets each worker's address");
            generate.args(["--worker", &format!("{group}={address}")]);
        }
        if let Some(host) = options.element_web_host() {
            generate.args(["--element-web", &host]);
            match options.element_web_upstream {
                Some(upstream) => generate.args(["--element-web-upstream", &upstream.to_string()]),
                None => generate
                    .arg("--element-web-root")
                    .arg(element_web_root(dir)),
            };
        }
        if let Some(redirect) = &options.base_redirect {
            generate.args(["--base-redirect", redirect]);
        }
        if let Some(clients) = options.clients {
            generate.args(["--clients", &clients.to_string()]);
        }
        let args: Vec<std::ffi::OsString> = generate.get_args().map(|a| a.to_owned()).collect();
        let generated = generate.output().unwrap();
        assert!(
            generated.status.success(),
            "mxproxy generate failed:\n{}",
            String::from_utf8_lossy(&generated.stderr)
        );
        let config = out.join(proxy.config(&homeserver_host));
        // certbot's paths, as `materialize` does for the checkers; HAProxy's one file
        // sits at a fixed path below /etc/haproxy whatever --tls says.
        let live = format!("/etc/letsencrypt/live/{homeserver_host}");
        let text = std::fs::read_to_string(&config)
            .unwrap()
            .replace(
                &format!("{live}/fullchain.pem"),
                cert.cert.to_str().unwrap(),
            )
            .replace(&format!("{live}/privkey.pem"), cert.key.to_str().unwrap())
            .replace(
                &format!("/etc/haproxy/certs/{homeserver_host}.pem"),
                cert.combined.to_str().unwrap(),
            );
        std::fs::write(&config, text).unwrap();
        if proxy == Proxy::Traefik {
            traefik_static_here(&config, &out.join("traefik/dynamic"), dir);
        }
        Site {
            proxy,
            out,
            webroot,
            config,
            args,
        }
    }

    /// The plan the files were rendered from: the same command line, through the library.
    pub fn plan(&self) -> mxproxy::plan::Plan {
        use clap::Parser;
        let cli = mxproxy::cli::Cli::try_parse_from(
            std::iter::once("mxproxy".into()).chain(self.args.iter().cloned()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let Some(mxproxy::cli::Command::Generate(generate)) = cli.command else {
            panic!("Site::generate runs `mxproxy generate`");
        };
        let setup = mxproxy::pipeline::setup_from(&generate.setup).unwrap();
        mxproxy::plan::plan(&setup)
    }

    /// Copies the generated well-known documents into the webroot, the README's step for
    /// the proxies (Apache) that serve them as files.
    pub fn publish_documents(&self) {
        let documents = self.webroot.join(".well-known/matrix");
        std::fs::create_dir_all(&documents).unwrap();
        for entry in std::fs::read_dir(self.out.join("well-known/matrix")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), documents.join(entry.file_name())).unwrap();
        }
    }

    /// The generated well-known documents: name and bytes.
    pub fn documents(&self) -> Vec<(String, Vec<u8>)> {
        let mut documents: Vec<(String, Vec<u8>)> =
            std::fs::read_dir(self.out.join("well-known/matrix"))
                .unwrap()
                .map(|entry| {
                    let entry = entry.unwrap();
                    let name = entry.file_name().to_str().unwrap().to_string();
                    (name, std::fs::read(entry.path()).unwrap())
                })
                .collect();
        documents.sort();
        documents
    }

    /// A generated well-known document, parsed.
    pub fn document(&self, name: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.out.join("well-known/matrix").join(name))
            .unwrap_or_else(|e| panic!("well-known/matrix/{name}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    /// Every generated file but the documents, for failure messages.
    pub fn files(&self) -> String {
        walk(&self.out)
            .into_iter()
            .filter(|p| !p.starts_with(self.out.join("well-known")))
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                format!("--- {} ---\n{text}", p.display())
            })
            .collect()
    }
}

/// Where the fake Element Web release is unpacked for `--element-web-root`.
pub fn element_web_root(dir: &Path) -> PathBuf {
    dir.join("element")
}

/// The ACME directory Traefik is pointed at in the tests: a closed loopback port.
pub const TRAEFIK_TEST_ACME_CA: &str = "https://127.0.0.1:9/directory";

/// Traefik's static file reads the dynamic folder and keeps acme.json below /etc/traefik:
/// both move to the test's folders. Traefik's version check (on by default) is turned
/// off and an ACME resolver's CA is a closed loopback port, so the server never even
/// tries to leave loopback.
pub fn traefik_static_here(config: &Path, dynamic: &Path, dir: &Path) {
    let text = std::fs::read_to_string(config)
        .unwrap()
        .replace("/etc/traefik/dynamic", dynamic.to_str().unwrap())
        .replace(
            "/etc/traefik/acme/acme.json",
            dir.join("acme.json").to_str().unwrap(),
        )
        .replace(
            "\n    acme:\n",
            &format!("\n    acme:\n      caServer: \"{TRAEFIK_TEST_ACME_CA}\"\n"),
        );
    // At debug level Traefik logs the routers it builds: `wait_until_routed` reads that.
    let extra = "log:\n  level: DEBUG\n  noColor: true\n";
    std::fs::write(config, format!("{text}\n{extra}")).unwrap();
}

/// A TLS library config under which the server's own directives alone decide the TLS
/// versions: Debian's openssl.cnf sets MinProtocol = TLSv1.2 system-wide, which would
/// hide a template that forgot to refuse TLS 1.0 and 1.1.
const PERMISSIVE_OPENSSL_CNF: &str = "openssl_conf = mxproxy_test\n\
[mxproxy_test]\nssl_conf = mxproxy_ssl\n\
[mxproxy_ssl]\nsystem_default = mxproxy_system\n\
[mxproxy_system]\nMinProtocol = TLSv1\nCipherString = DEFAULT:@SECLEVEL=0\n";

/// A real proxy running in the foreground.
pub struct Running {
    pub proxy: Proxy,
    child: Child,
    log: PathBuf,
    output: PathBuf,
    /// The OpenSSL config the server runs with (`PERMISSIVE_OPENSSL_CNF`).
    pub openssl_cnf: PathBuf,
}

impl Running {
    /// Starts `proxy` on `config` with its main config, logs and runtime files in `dir`,
    /// and waits until it accepts connections on every port of `ports` at `listen`.
    /// `None` (after `require_tool`'s loud line) when the server is not installed outside CI.
    pub fn start(
        proxy: Proxy,
        dir: &Path,
        config: &Path,
        listen: IpAddr,
        ports: &[u16],
    ) -> Option<Running> {
        Running::start_tuned(proxy, dir, config, listen, ports, None)
    }

    /// `start`, with the main config carrying the summary's lines for `--clients`.
    pub fn start_tuned(
        proxy: Proxy,
        dir: &Path,
        config: &Path,
        listen: IpAddr,
        ports: &[u16],
        tuning: Option<&validators::Tuning>,
    ) -> Option<Running> {
        let binary = require_tool(proxy.binary())?;
        let log = dir.join("server.log");
        let output = dir.join("server.out");
        let openssl_cnf = dir.join("openssl.cnf");
        std::fs::write(&openssl_cnf, PERMISSIVE_OPENSSL_CNF).unwrap();
        let serve = validators::MainConfig::Serve {
            listen: &[listen],
            log: &log,
            tuning,
        };
        let mut command = Command::new(binary);
        match proxy {
            Proxy::Nginx => {
                let main = dir.join("nginx.conf");
                std::fs::write(&main, validators::nginx_main(dir, config, &serve)).unwrap();
                command.arg("-c").arg(&main).arg("-e").arg(&log);
            }
            Proxy::Apache => {
                let main = dir.join("apache2.conf");
                std::fs::write(&main, validators::apache_main(dir, config, &serve)).unwrap();
                command.arg("-DFOREGROUND").arg("-f").arg(&main);
            }
            Proxy::Caddy => {
                command
                    .args(["run", "--adapter", "caddyfile", "--config"])
                    .arg(config);
                validators::caddy_home(&mut command, dir);
            }
            Proxy::Haproxy => {
                // The generated file is a whole haproxy.cfg; it logs to stdout.
                command.arg("-db").arg("-f").arg(config);
            }
            Proxy::Traefik => {
                // The static file; Traefik logs to stdout. It runs where the summary
                // says, in the static file's folder, which holds plugins-local/.
                command
                    .arg(format!("--configfile={}", config.display()))
                    .current_dir(config.parent().expect("traefik.yml's folder"));
            }
        }
        if let Some((soft, hard)) = tuning.and_then(|tuning| tuning.nofile) {
            // Only CAP_SYS_RESOURCE raises a hard limit: the unit's value, capped at this
            // process's, and set in the child alone, since a lowered hard limit in this
            // process could never be raised again.
            let (_, ceiling) = super::longpoll::fd_limit();
            let limit = libc::rlimit {
                rlim_cur: soft.min(ceiling),
                rlim_max: hard.max(soft).min(ceiling),
            };
            // SAFETY: between fork and exec only setrlimit runs, which is async-signal-safe,
            // on a struct copied into the closure.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let output_file = std::fs::File::create(&output).unwrap();
        command
            .env("OPENSSL_CONF", &openssl_cnf)
            // Master and workers in a group of their own: stopping it stops them all.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(output_file.try_clone().unwrap())
            .stderr(output_file);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", proxy.binary()));
        let running = Running {
            proxy,
            child,
            log,
            output,
            openssl_cnf,
        };
        running.wait_until_listening(listen, ports);
        if proxy == Proxy::Traefik {
            running.wait_until_routed();
        }
        Some(running)
    }

    /// Every port accepts connections, within 20 s.
    fn wait_until_listening(&self, listen: IpAddr, ports: &[u16]) {
        let deadline = Instant::now() + Duration::from_secs(20);
        for &port in ports {
            let address = SocketAddr::new(listen, port);
            while std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "{:?} does not listen on {address} after 20 s:\n{}",
                    self.proxy,
                    self.logs()
                );
                std::thread::sleep(Duration::from_millis(25));
            }
        }
    }

    /// Traefik opens its entry points before the file provider's routers exist, and
    /// answers 404 until then: wait (20 s at most) for the log line of the homeserver's
    /// service being built from the dynamic file, then a little longer for the switch.
    fn wait_until_routed(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let marker = "serviceName=homeserver@file";
        while !std::fs::read_to_string(&self.output)
            .unwrap_or_default()
            .contains(marker)
        {
            assert!(
                Instant::now() < deadline,
                "Traefik built no router from the dynamic file after 20 s:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        std::thread::sleep(Duration::from_millis(300));
    }

    /// What the server wrote to its output so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    /// The server's error log and output.
    pub fn logs(&self) -> String {
        let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
        format!(
            "--- {:?} error log ---\n{}--- {:?} output ---\n{}",
            self.proxy,
            read(&self.log),
            self.proxy,
            read(&self.output)
        )
    }

    /// The process group of the server and its workers (its leader's pid).
    pub fn group(&self) -> u32 {
        self.child.id()
    }

    fn signal_group(&self, signal: &str) {
        // The group id is the child's pid (process_group(0)); only that group is signalled.
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .status();
    }
}

impl Drop for Running {
    /// SIGTERM to the group (nginx's master, Apache's parent and their workers), SIGKILL
    /// after 5 s; the logs when a test failed.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal_group("-TERM");
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            // Only while the leader is unreaped does its pid still name this group.
            if self.child.try_wait().ok().flatten().is_none() {
                self.signal_group("-KILL");
                let _ = self.child.wait();
            }
        }
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
