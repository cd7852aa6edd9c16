//! `mxproxy check` against real nginx, Apache, Caddy, HAProxy and Traefik running configs from
//! `mxproxy generate --tls files --listen-address 127.0.0.1`, with a stand-in homeserver
//! behind them, certificates from a throwaway CA and a local DNS server; plus broken
//! variants (each flagged by the right check with the right fix) and a hostile endpoint.
//! Every server runs on loopback inside a private network namespace (`common::netns`).

mod servers;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::netns::netns_test;
use crate::common::pki::{TestCa, Validity};
use crate::common::proxy::{Federation, MasOptions, Options, Proxy, RtcOptions, Running, Site};
use servers::{Background, DnsRecord};

const SERVER_NAME: &str = "example.test";
const HOMESERVER_HOST: &str = "matrix.example.test";
const UPSTREAM: &str = "127.0.0.1:6167";
const DNS: &str = "127.0.0.1:5353";
/// MAS's default host for the server name (`--mas` without `--mas-host`).
const MAS_HOST: &str = "auth.example.test";
/// Where the MAS stand-in listens (`--mas-upstream`).
const MAS_UPSTREAM: &str = "127.0.0.1:8080";
/// The RTC host `--rtc` defaults to (`rtc.<server name>`).
const RTC_HOST: &str = "rtc.example.test";

enum Cert {
    Good,
    Expired,
    EndsSoon,
    WrongName,
}

/// One deployment: which proxy, which certificate, which edits to the generated files
/// (each must match, so a template change cannot silently turn a variant into the good
/// case) and which DNS records.
struct Variant {
    proxy: Proxy,
    cert: Cert,
    edits: Vec<(String, &'static str, &'static str)>,
    dns: Vec<DnsRecord>,
    /// Also run without --json, for the tests that read the lines.
    lines: bool,
    /// `--homeserver synapse --mas`, with `--mas-path` when `Some(Some(path))`: the
    /// stand-ins answer as Synapse with MAS on and as MAS, and `check` runs with `--mas`.
    mas: Option<Option<&'static str>>,
    /// More flags for `mxproxy check`.
    check_args: Vec<&'static str>,
    /// `--homeserver synapse --rtc` in front of the LiveKit and lk-jwt-service stand-ins.
    rtc: bool,
    /// `generate --no-federation`, checked with `--no-federation`.
    no_federation: bool,
    /// LiveKit answers as a real one does without a token, instead of the WebSocket echo.
    livekit_without_token: bool,
}

impl Variant {
    fn new(proxy: Proxy) -> Variant {
        Variant {
            proxy,
            cert: Cert::Good,
            edits: Vec::new(),
            dns: Vec::new(),
            lines: false,
            mas: None,
            check_args: Vec::new(),
            rtc: false,
            no_federation: false,
            livekit_without_token: false,
        }
    }

    fn livekit_without_token(mut self) -> Variant {
        self.livekit_without_token = true;
        self
    }

    fn no_federation(mut self) -> Variant {
        self.no_federation = true;
        self.check_args.push("--no-federation");
        self
    }

    /// Calls deployed (`generate --rtc`); `check` runs with `--rtc` when `asked`.
    fn rtc(mut self, asked: bool) -> Variant {
        self.rtc = true;
        if asked {
            self.check_args.push("--rtc");
        }
        self
    }

    /// MAS on its own host (`None`) or below `path`.
    fn mas(mut self, path: Option<&'static str>) -> Variant {
        self.mas = Some(path);
        self.check_args.push("--mas");
        self
    }

    fn check_arg(mut self, arg: &'static str) -> Variant {
        self.check_args.push(arg);
        self
    }

    fn lines(mut self) -> Variant {
        self.lines = true;
        self
    }

    fn cert(mut self, cert: Cert) -> Variant {
        self.cert = cert;
        self
    }

    /// Replaces every `from` in the proxy's site file by `to`.
    fn edit(mut self, from: &'static str, to: &'static str) -> Variant {
        let site = self.proxy.config(HOMESERVER_HOST);
        self.edits.push((site, from, to));
        self
    }

    fn edit_file(mut self, file: &str, from: &'static str, to: &'static str) -> Variant {
        self.edits.push((file.to_string(), from, to));
        self
    }

    fn dns(mut self, record: DnsRecord) -> Variant {
        self.dns.push(record);
        self
    }
}

struct Outcome {
    json: Value,
    code: i32,
    text: String,
    /// The same deployment checked without --json (empty for the hostile runs).
    lines: String,
    lines_code: i32,
    /// The deployment runs MAS: its checks must pass too, not be skipped.
    mas: bool,
    /// The deployment has calls (`--rtc`): the rtc checks must pass too.
    rtc: bool,
}

impl Outcome {
    fn check(&self, id: &str) -> &Value {
        self.json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no check `{id}` in:\n{}", self.text))
    }

    /// Asserts the status of `id` and that its detail and fix mention the given words.
    fn expect(&self, id: &str, status: &str, detail_has: &str, fix_has: &str) {
        let check = self.check(id);
        let detail = check["detail"].as_str().unwrap_or_default();
        let fix = check["fix"].as_str().unwrap_or_default();
        assert!(
            check["status"] == status && detail.contains(detail_has) && fix.contains(fix_has),
            "`{id}`: expected {status}, detail with `{detail_has}`, fix with `{fix_has}`; got:\n{}",
            self.text
        );
    }

    fn expect_all_pass(&self) {
        self.expect_all_pass_but(&[]);
    }

    /// Every check passes, except `proxy.forwarded-headers` (never visible) and `skipped`,
    /// which are reported as not checked.
    fn expect_all_pass_but(&self, skipped: &[&str]) {
        let checks = self.json["checks"].as_array().unwrap();
        assert!(
            checks.len() >= 10,
            "only {} checks ran:\n{}",
            checks.len(),
            self.text
        );
        for check in checks {
            let id = check["id"].as_str().unwrap();
            // proxy.cdn: no CDN stands in front of the test deployments but the ones that
            // say so (cdn_* below).
            let expected = if id == "proxy.forwarded-headers"
                || id == "proxy.cdn"
                || skipped.contains(&id)
                || (id.starts_with("mas.") && !self.mas)
                || ((id.starts_with("rtc.") || id == "tls.rtc") && !self.rtc)
            {
                "skip"
            } else {
                "pass"
            };
            assert_eq!(check["status"], expected, "{id}:\n{}", self.text);
        }
        assert_eq!(self.json["ok"], true);
        assert_eq!(self.code, 0, "{}", self.text);
    }
}

/// Generates, edits and starts the variant, runs `mxproxy check --json` against it and
/// validates the output against the shipped JSON schema.
fn deploy_and_check(variant: Variant) -> Option<Outcome> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ca = TestCa::new();
    let ca_file = ca.write_pem(root);
    let mut names: Vec<&str> = match (&variant.cert, variant.mas) {
        (Cert::WrongName, _) => vec!["other.test"],
        (_, Some(None)) => vec![SERVER_NAME, HOMESERVER_HOST, MAS_HOST],
        _ => vec![SERVER_NAME, HOMESERVER_HOST],
    };
    if variant.rtc && !matches!(variant.cert, Cert::WrongName) {
        names.push(RTC_HOST);
    }
    let validity = match variant.cert {
        Cert::Expired => Validity::Expired,
        Cert::EndsSoon => Validity::EndsSoon,
        _ => Validity::Current,
    };
    let cert = ca.leaf(root, "site", &names, validity);
    let background = Background::start();
    let rtc = variant.rtc.then(|| background.rtc());
    let options = Options {
        server_name: SERVER_NAME.into(),
        mas: variant.mas.map(|path| MasOptions {
            path: path.map(String::from),
            upstream: Some(MAS_UPSTREAM.parse().unwrap()),
            expose_admin: false,
        }),
        // Synapse with --rtc: Traefik leaves the well-known to the homeserver, and only
        // Synapse's settings carry the focus there (the stand-in serves them).
        homeserver: variant.rtc.then_some("synapse"),
        federation: if variant.no_federation {
            Federation::Off
        } else {
            Federation::OnHttps
        },
        rtc: rtc.as_ref().map(|(livekit, auth)| RtcOptions {
            livekit: Some(if variant.livekit_without_token {
                background.livekit_without_token()
            } else {
                livekit.address
            }),
            auth: Some(auth.address),
        }),
        ..Options::default()
    };
    assert_eq!(options.homeserver_host(), HOMESERVER_HOST);
    let site = Site::generate(
        root,
        variant.proxy,
        &options,
        UPSTREAM.parse().unwrap(),
        &cert,
    );
    for (file, from, to) in &variant.edits {
        let path = site.out.join(file);
        let content = std::fs::read_to_string(&path).unwrap();
        assert!(content.contains(from), "{file} has no `{from}`:\n{content}");
        std::fs::write(&path, content.replace(from, to)).unwrap();
    }
    site.publish_documents();
    let (homeserver, _mas) = match variant.mas {
        None => (background.homeserver(UPSTREAM, SERVER_NAME), None),
        Some(path) => {
            // MAS's issuer is its http.public_base, which mxproxy's MAS fragment sets.
            let issuer = match path {
                None => format!("https://{MAS_HOST}/"),
                Some(path) => format!("https://{HOMESERVER_HOST}{path}/"),
            };
            (
                background.synapse_mas(UPSTREAM, SERVER_NAME, &issuer),
                Some(background.mas(MAS_UPSTREAM, &issuer, path.unwrap_or_default())),
            )
        }
    };
    if !variant.proxy.serves_documents() {
        // Traefik routes /.well-known/matrix/ to the homeserver, which serves the generated
        // documents from its settings, as the summary tells: the stand-in does so.
        homeserver.serve_documents(site.documents());
    }
    background.dns(DNS, variant.dns);
    let _proxy = Running::start(
        variant.proxy,
        root,
        &site.config,
        options.listen,
        &options.ports(),
    )?;
    let (mut outcome, _) = run_check(SERVER_NAME, &ca_file, 5, &variant.check_args);
    outcome.mas = variant.mas.is_some();
    outcome.rtc = variant.rtc;
    if variant.lines {
        (outcome.lines, outcome.lines_code) = run_lines(SERVER_NAME, &ca_file);
    }
    Some(outcome)
}

/// The same run without `--json`, as a person reads it; stdout is a pipe here, so no colour.
fn run_lines(server_name: &str, ca: &Path) -> (String, i32) {
    let output = mxproxy()
        .args(["check", server_name, "--timeout", "5"])
        .args(["--resolve", &format!("{SERVER_NAME}:443:127.0.0.1")])
        .args(["--resolve", &format!("{MAS_HOST}:443:127.0.0.1")])
        .args(["--resolve", &format!("{RTC_HOST}:443:127.0.0.1")])
        .args(["--resolve", &format!("{HOMESERVER_HOST}:443:127.0.0.1")])
        .args(["--dns-server", DNS])
        .arg("--ca-file")
        .arg(ca)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(!text.contains('\x1b'), "colour on a pipe:\n{text}");
    (text, output.status.code().unwrap_or(-1))
}

/// `mxproxy check NAME --json` with every name resolved to loopback and the test CA.
fn run_check(server_name: &str, ca: &Path, timeout: u64, extra: &[&str]) -> (Outcome, Duration) {
    let started = Instant::now();
    let output = mxproxy()
        .args([
            "check",
            server_name,
            "--json",
            "--timeout",
            &timeout.to_string(),
        ])
        .args(["--resolve", &format!("{SERVER_NAME}:443:127.0.0.1")])
        .args(["--resolve", &format!("{HOMESERVER_HOST}:443:127.0.0.1")])
        .args(["--resolve", &format!("{server_name}:443:127.0.0.1")])
        .args(["--resolve", &format!("{MAS_HOST}:443:127.0.0.1")])
        .args(["--resolve", &format!("{RTC_HOST}:443:127.0.0.1")])
        .args(["--dns-server", DNS])
        .arg("--ca-file")
        .arg(ca)
        .args(extra)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("--json output is no JSON ({e}):\n{text}"));
    validate_schema(&json, &text);
    let code = output.status.code().unwrap_or(-1);
    assert_eq!(
        code,
        if json["ok"] == true { 0 } else { 1 },
        "exit code and `ok` disagree:\n{text}"
    );
    let lines = String::new();
    (
        Outcome {
            json,
            code,
            text,
            lines,
            lines_code: -1,
            mas: false,
            rtc: false,
        },
        elapsed,
    )
}

fn validate_schema(json: &Value, text: &str) {
    let schema_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/check-output.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(json)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "output does not match the schema:\n{}\n{text}",
        errors.join("\n")
    );
}

fn mxproxy() -> Command {
    let mut command = crate::common::mxproxy();
    // Keep the environment from steering the tests' network use.
    command.env_remove("HTTPS_PROXY").env_remove("https_proxy");
    command
}

// ---------------------------------------------------------------------------------------
// Usage errors: exit 2 with the flag named, before anything is contacted.

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("not-a-ca.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["check".into()], "<SERVER-NAME>"),
        (
            vec!["check".into(), "https://example.com".into()],
            "has a scheme",
        ),
        (
            vec![
                "check".into(),
                "example.com".into(),
                "--resolve".into(),
                "example.com:443".into(),
            ],
            "HOST:PORT:ADDR",
        ),
        (
            vec![
                "check".into(),
                "example.com".into(),
                "--timeout".into(),
                "0".into(),
            ],
            "--timeout",
        ),
        (
            vec![
                "check".into(),
                "example.com".into(),
                "--ca-file".into(),
                not_pem.display().to_string(),
            ],
            "--ca-file",
        ),
        (
            vec![
                "check".into(),
                "example.com".into(),
                "--ca-file".into(),
                "/nonexistent/ca.pem".into(),
            ],
            "--ca-file",
        ),
    ];
    for (args, message) in cases {
        let output = mxproxy().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(message),
            "{args:?}: `{message}` not in {stderr}"
        );
        assert!(output.stdout.is_empty(), "{args:?} printed a report");
    }
}

// ---------------------------------------------------------------------------------------
// Good deployments: every check passes.

netns_test! {
    fn nginx_good_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Nginx).lines()) {
            outcome.expect_all_pass();
            outcome.expect("server.discovery", "pass", "step 3.2", "");
        }
    }
}

netns_test! {
    fn apache_good_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Apache)) {
            outcome.expect_all_pass();
        }
    }
}

netns_test! {
    fn caddy_good_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Caddy)) {
            // Caddy applies request_body max_size while reading the body, which the probe
            // never sends: said so, not passed.
            outcome.expect(
                "proxy.upload-limit",
                "skip",
                "make sure max_size is at least 20M",
                "",
            );
            outcome.expect_all_pass_but(&["proxy.upload-limit"]);
        }
    }
}

netns_test! {
    fn haproxy_good_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Haproxy)) {
            outcome.expect_all_pass();
        }
    }
}

netns_test! {
    fn traefik_good_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Traefik).lines()) {
            outcome.expect_all_pass();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Broken variants: the right check fails and names the right fix.

/// nginx answering as if Cloudflare were in front: the CF-Ray header Cloudflare adds to
/// every response it proxies, on the documents and on everything forwarded.
fn behind_cloudflare() -> Variant {
    Variant::new(Proxy::Nginx)
        .edit(
            "        add_header Cache-Control \"max-age=3600\" always;\n",
            "        add_header Cache-Control \"max-age=3600\" always;\n        add_header CF-Ray \"8c1f2d3e4f5a6b7c-AMS\" always;\n",
        )
        .edit(
            "        proxy_set_header X-Forwarded-Proto https;\n",
            "        proxy_set_header X-Forwarded-Proto https;\n        add_header CF-Ray \"8c1f2d3e4f5a6b7c-AMS\" always;\n",
        )
}

netns_test! {
    fn cdn_in_front_with_federation_on_443() {
        if let Some(outcome) = deploy_and_check(behind_cloudflare().lines()) {
            outcome.expect(
                "proxy.cdn",
                "pass",
                "example.test is behind Cloudflare (cf-ray: 8c1f2d3e4f5a6b7c-AMS); federation goes to matrix.example.test:443",
                "",
            );
            assert!(outcome.lines.contains("behind Cloudflare"), "{}", outcome.lines);
            assert_eq!(outcome.json["ok"], true, "{}", outcome.text);
        }
    }
}

netns_test! {
    fn cdn_in_front_with_federation_on_8448() {
        let variant = behind_cloudflare()
            .edit(
                "return 200 '{\"m.server\": \"matrix.example.test:443\"}';",
                "return 200 '{\"m.server\": \"matrix.example.test:8448\"}';",
            )
            .dns(DnsRecord::A {
                name: "matrix.example.test",
                ip: [127, 0, 0, 1],
            });
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect(
                "proxy.cdn",
                "fail",
                "example.test is behind Cloudflare (cf-ray: 8c1f2d3e4f5a6b7c-AMS): federation goes to matrix.example.test:8448 through Cloudflare, which forwards HTTPS only on ports 443",
                "--cdn cloudflare",
            );
            assert_eq!(outcome.json["ok"], false, "{}", outcome.text);
        }
    }
}

netns_test! {
    fn no_cors_on_client_document() {
        let variant = Variant::new(Proxy::Nginx).lines().edit(
            "        add_header Access-Control-Allow-Origin \"*\" always;\n",
            "",
        );
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect(
                "client.cors",
                "fail",
                "no Access-Control-Allow-Origin",
                "add_header Access-Control-Allow-Origin",
            );
            outcome.expect(
                "client.cors-preflight",
                "fail",
                "without Access-Control-Allow-Origin",
                "add_header",
            );
            outcome.expect("client.well-known", "pass", "base_url", "");
        }
    }
}

netns_test! {
    fn content_type_twice() {
    let variant = Variant::new(Proxy::Nginx).edit(
        "        default_type application/json;\n",
        "        default_type application/json;\n        add_header Content-Type application/json always;\n",
    );
    if let Some(outcome) = deploy_and_check(variant) {
        outcome.expect(
            "client.content-type",
            "fail",
            "2 Content-Type headers",
            "no `add_header Content-Type`",
        );
    }
}
}

netns_test! {
    fn content_type_text_plain() {
    let variant = Variant::new(Proxy::Nginx)
        .edit("default_type application/json;", "default_type text/plain;");
    if let Some(outcome) = deploy_and_check(variant) {
        outcome.expect(
            "client.content-type",
            "fail",
            "`text/plain`",
            "default_type application/json",
        );
        // Servers parse the server document whatever its type: a warning there.
        outcome.expect("server.well-known", "warn", "text/plain", "default_type");
    }
}
}

netns_test! {
    fn nginx_proxy_pass_with_uri() {
        let variant = Variant::new(Proxy::Nginx).edit(
            "proxy_pass http://mxproxy_matrix.example.test;",
            "proxy_pass http://mxproxy_matrix.example.test/_matrix/;",
        );
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect(
                "proxy.encoded-path",
                "fail",
                "decoded %2F",
                "proxy_pass http://127.0.0.1:6167; with no URI part",
            );
            outcome.expect("client.versions", "pass", "v1.11", "");
        }
    }
}

netns_test! {
    fn apache_without_nocanon() {
    let variant = Variant::new(Proxy::Apache).edit(" nocanon ", " ");
    if let Some(outcome) = deploy_and_check(variant) {
        outcome.expect("proxy.encoded-path", "fail", "re-encoded", "nocanon");
        outcome.expect("client.versions", "pass", "v1.11", "");
    }
}
}

netns_test! {
    fn one_megabyte_body_limit() {
    let variant = Variant::new(Proxy::Nginx)
        .edit("client_max_body_size 20971520;", "client_max_body_size 1m;");
    if let Some(outcome) = deploy_and_check(variant) {
        outcome.expect(
            "proxy.upload-limit",
            "fail",
            "refuses an upload of 20M with 413",
            "client_max_body_size 20M;",
        );
    }
}
}

netns_test! {
    fn server_document_with_swapped_keys() {
        let variant = Variant::new(Proxy::Nginx).edit(
            "return 200 '{\"m.server\": \"matrix.example.test:443\"}';",
            "return 200 '{\"m.homeserver\": {\"base_url\": \"https://matrix.example.test\"}}';",
        );
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect(
                "server.well-known",
                "fail",
                "look swapped",
                "{\"m.server\": \"<homeserver host>:443\"}",
            );
            // Peers then fall back to step 6: port 8448 of the server name, which the test DNS
            // does not know.
            outcome.expect("server.discovery", "fail", "step 6", "");
        }
    }
}

netns_test! {
    fn expired_certificate() {
    if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Nginx).cert(Cert::Expired)) {
        outcome.expect(
            "tls.server-name",
            "fail",
            "expired",
            "renew the certificate for example.test",
        );
        // Clients and peers stop at the well-known documents, as a real one would.
        outcome.expect("client.well-known", "fail", "expired", "tls.*");
        outcome.expect("server.well-known", "fail", "expired", "tls.*");
        outcome.expect(
            "tls.homeserver",
            "skip",
            "no usable m.homeserver.base_url",
            "",
        );
    }
}
}

netns_test! {
    fn certificate_ending_soon() {
    if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Nginx).cert(Cert::EndsSoon)) {
        for id in ["tls.server-name", "tls.homeserver", "tls.federation"] {
            outcome.expect(id, "fail", "expires in 4 day(s)", "renew the certificate");
        }
        outcome.expect("client.versions", "pass", "v1.11", "");
    }
}
}

netns_test! {
    fn wrong_name_certificate() {
    if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Nginx).cert(Cert::WrongName)) {
        outcome.expect(
            "tls.server-name",
            "fail",
            "it names other.test",
            "subjectAltName includes example.test",
        );
        outcome.expect(
            "client.well-known",
            "fail",
            "not valid for this name",
            "tls.*",
        );
    }
}
}

netns_test! {
    fn srv_points_elsewhere() {
    // m.server without a port sends peers to SRV (step 3.3); the record points at a host
    // where no homeserver listens.
    let variant = Variant::new(Proxy::Nginx)
        .edit(
            "{\"m.server\": \"matrix.example.test:443\"}",
            "{\"m.server\": \"matrix.example.test\"}",
        )
        .edit_file(
            "well-known/matrix/server",
            "matrix.example.test:443",
            "matrix.example.test",
        )
        .dns(DnsRecord::Srv {
            name: "_matrix-fed._tcp.matrix.example.test",
            target: "elsewhere.example.test",
            port: 8448,
        })
        .dns(DnsRecord::A {
            name: "elsewhere.example.test",
            ip: [127, 0, 0, 1],
        });
    if let Some(outcome) = deploy_and_check(variant) {
        outcome.expect(
            "server.discovery",
            "pass",
            "step 3.3 (SRV _matrix-fed._tcp.matrix.example.test -> elsewhere.example.test:8448",
            "",
        );
        outcome.expect(
            "federation.version",
            "fail",
            "elsewhere.example.test",
            "delete or correct the SRV record _matrix-fed._tcp.matrix.example.test",
        );
        assert!(
            outcome.json["federation_target"]
                .as_str()
                .unwrap()
                .starts_with("elsewhere.example.test:8448")
        );
    }
}
}

// ---------------------------------------------------------------------------------------
// The Matrix Authentication Service: `mxproxy generate --homeserver synapse --mas` in front
// of two stand-ins, Synapse with MAS on and MAS itself (no package registry carries MAS,
// so its stand-in answers the two endpoints `check` reads as MAS's source does).

/// A good MAS deployment: the four MAS checks pass with the rest, and name what they saw.
fn expect_good_mas(outcome: &Outcome, issuer: &str, skipped: &[&str]) {
    outcome.expect_all_pass_but(skipped);
    outcome.expect("mas.auth-metadata", "pass", &format!("issuer {issuer}"), "");
    outcome.expect(
        "mas.openid-configuration",
        "pass",
        &format!("{issuer}.well-known/openid-configuration"),
        "",
    );
    outcome.expect(
        "mas.compat-login",
        "pass",
        "answered by MAS (m.login.sso marked org.matrix.msc3824.delegated_oidc_compatibility)",
        "",
    );
    outcome.expect("mas.internal-api", "pass", "refused by the proxy", "");
}

netns_test! {
    fn nginx_good_mas_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Nginx).mas(None).lines()) {
            expect_good_mas(&outcome, "https://auth.example.test/", &[]);
            assert!(outcome.lines.contains("mas.compat-login"), "{}", outcome.lines);
        }
    }
}

netns_test! {
    fn nginx_good_mas_below_a_path_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Nginx).mas(Some("/auth"))) {
            expect_good_mas(&outcome, "https://matrix.example.test/auth/", &[]);
        }
    }
}

netns_test! {
    fn apache_good_mas_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Apache).mas(None)) {
            expect_good_mas(&outcome, "https://auth.example.test/", &[]);
        }
    }
}

netns_test! {
    fn apache_good_mas_below_a_path_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Apache).mas(Some("/auth"))) {
            expect_good_mas(&outcome, "https://matrix.example.test/auth/", &[]);
        }
    }
}

netns_test! {
    fn caddy_good_mas_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Caddy).mas(None)) {
            expect_good_mas(&outcome, "https://auth.example.test/", &["proxy.upload-limit"]);
        }
    }
}

netns_test! {
    fn haproxy_good_mas_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Haproxy).mas(None)) {
            expect_good_mas(&outcome, "https://auth.example.test/", &[]);
        }
    }
}

netns_test! {
    fn traefik_good_mas_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Traefik).mas(None)) {
            expect_good_mas(&outcome, "https://auth.example.test/", &[]);
        }
    }
}

netns_test! {
    fn caddy_good_mas_below_a_path_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Caddy).mas(Some("/auth"))) {
            expect_good_mas(&outcome, "https://matrix.example.test/auth/", &["proxy.upload-limit"]);
        }
    }
}

netns_test! {
    fn haproxy_good_mas_below_a_path_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Haproxy).mas(Some("/auth"))) {
            expect_good_mas(&outcome, "https://matrix.example.test/auth/", &[]);
        }
    }
}

netns_test! {
    fn traefik_good_mas_below_a_path_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Traefik).mas(Some("/auth"))) {
            expect_good_mas(&outcome, "https://matrix.example.test/auth/", &[]);
        }
    }
}

netns_test! {
    fn mas_only_unstable_auth_metadata_warns() {
        let variant = Variant::new(Proxy::Nginx).mas(None).edit(
            "    location /_synapse/client/ {",
            "    location = /_matrix/client/v1/auth_metadata {\n        return 404;\n    }\n\n    location /_synapse/client/ {",
        );
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect(
                "mas.auth-metadata",
                "warn",
                "only the unstable /_matrix/client/unstable/org.matrix.msc2965/auth_metadata names the issuer (https://auth.example.test/); /_matrix/client/v1/auth_metadata: 404",
                "forward all of /_matrix/ on matrix.example.test to Synapse",
            );
            // A warning: the rest still runs and passes, and the exit code is 0.
            outcome.expect("mas.compat-login", "pass", "answered by MAS", "");
            assert_eq!(outcome.code, 0, "{}", outcome.text);
        }
    }
}

netns_test! {
    fn mas_compat_path_to_synapse_fails_with_the_route() {
        let variant = Variant::new(Proxy::Nginx)
            .mas(None)
            .edit("/(login|logout|refresh)(/|$)", "/(logout|refresh)(/|$)");
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect(
                "mas.compat-login",
                "fail",
                "404 M_UNRECOGNIZED: Synapse answered",
                "nginx: location ~ \"^/_matrix/client/(api/v1|r0|v3|unstable)/(login|logout|refresh)(/|$)\"",
            );
            outcome.expect(
                "mas.compat-login",
                "fail",
                "",
                "or regenerate: mxproxy generate --server-name example.test --homeserver synapse --mas",
            );
            outcome.expect("mas.auth-metadata", "pass", "issuer", "");
        }
    }
}

netns_test! {
    fn mas_internal_api_public_fails() {
        let variant = Variant::new(Proxy::Nginx)
            .mas(None)
            .edit("location /_synapse/client/ {", "location /_synapse/ {");
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect(
                "mas.internal-api",
                "fail",
                "reaches Synapse (403 M_UNKNOWN)",
                "nginx: no `location /_synapse/`",
            );
            outcome.expect("mas.compat-login", "pass", "answered by MAS", "");
        }
    }
}

netns_test! {
    fn mas_discovery_without_cors_fails() {
        let variant = Variant::new(Proxy::Nginx).mas(None).edit(
            "server_name auth.example.test;\n",
            "server_name auth.example.test;\n    proxy_hide_header Access-Control-Allow-Origin;\n",
        );
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect(
                "mas.openid-configuration",
                "fail",
                "without Access-Control-Allow-Origin",
                "no proxy_hide_header",
            );
        }
    }
}

netns_test! {
    fn mas_path_not_proxied_fails() {
        // Below a path: the /auth/ location gone, MAS's discovery hits the catch-all 404.
        let variant = Variant::new(Proxy::Nginx)
            .mas(Some("/auth"))
            .edit("location /auth/ {", "location /elsewhere/ {");
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect(
                "mas.openid-configuration",
                "fail",
                "answers 404 Not Found without an `issuer`",
                "--mas-path /auth",
            );
        }
    }
}

netns_test! {
    fn mas_asked_for_but_not_announced_fails() {
        // A homeserver without MAS: skipped by default (the good tests above), a failure
        // with --mas.
        let variant = Variant::new(Proxy::Nginx).check_arg("--mas");
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect(
                "mas.auth-metadata",
                "fail",
                "no issuer announced (/_matrix/client/v1/auth_metadata: 404 M_UNRECOGNIZED",
                "matrix_authentication_service",
            );
            outcome.expect("mas.compat-login", "skip", "announces no MAS", "");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Calls (`generate --homeserver synapse --rtc`): LiveKit and lk-jwt-service are in no package
// registry here, so stand-ins take their place (tests/common/livekit.rs: a WebSocket echo
// that accepts any upgrade; `Answers::AuthService`: lk-jwt-service's own CORS headers). The
// stand-in homeserver answers openid/userinfo as Synapse does without a token.

fn expect_good_rtc(outcome: &Outcome, skipped: &[&str]) {
    outcome.expect(
        "rtc.focus",
        "pass",
        "livekit focus https://rtc.example.test (client well-known)",
        "",
    );
    outcome.expect(
        "tls.rtc",
        "pass",
        "certificate valid for rtc.example.test",
        "",
    );
    outcome.expect(
        "rtc.auth-cors",
        "pass",
        "one Access-Control-Allow-Origin each (/get_token: *, /sfu/get: *)",
        "",
    );
    outcome.expect("rtc.websocket", "pass", "101 Switching Protocols", "");
    outcome.expect("rtc.openid-userinfo", "pass", "401 M_MISSING_TOKEN", "");
    outcome.expect_all_pass_but(skipped);
}

netns_test! {
    fn nginx_good_rtc_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Nginx).rtc(true).lines()) {
            expect_good_rtc(&outcome, &[]);
            assert!(outcome.lines.contains("rtc.websocket"), "{}", outcome.lines);
            assert_eq!(outcome.lines_code, 0, "{}", outcome.lines);
        }
    }
}

netns_test! {
    fn apache_good_rtc_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Apache).rtc(true)) {
            expect_good_rtc(&outcome, &[]);
        }
    }
}

netns_test! {
    fn caddy_good_rtc_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Caddy).rtc(true)) {
            expect_good_rtc(&outcome, &["proxy.upload-limit"]);
        }
    }
}

netns_test! {
    fn haproxy_good_rtc_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Haproxy).rtc(true)) {
            expect_good_rtc(&outcome, &[]);
        }
    }
}

netns_test! {
    fn traefik_good_rtc_deployment_passes() {
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Traefik).rtc(true)) {
            expect_good_rtc(&outcome, &[]);
        }
    }
}

netns_test! {
    fn nginx_good_rtc_without_federation_passes() {
        // openid/userinfo stays open on the host the published server well-known names.
        let variant = Variant::new(Proxy::Nginx).rtc(true).no_federation();
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect("rtc.openid-userinfo", "pass", "matrix.example.test:443/_matrix/federation/v1/openid/userinfo: 401 M_MISSING_TOKEN", "");
            outcome.expect("rtc.websocket", "pass", "101", "");
            assert_eq!(outcome.code, 0, "{}", outcome.text);
        }
    }
}

netns_test! {
    fn livekit_refusing_a_tokenless_upgrade_passes() {
        // What a real LiveKit answers without credentials: 401 proves the upgrade got there.
        let variant = Variant::new(Proxy::Nginx).rtc(true).livekit_without_token();
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect("rtc.websocket", "pass", "wss://rtc.example.test/rtc: 401 without an access token", "");
            assert_eq!(outcome.code, 0, "{}", outcome.text);
        }
    }
}

netns_test! {
    fn upgrade_lost_before_livekit_fails() {
        // Without `Connection: upgrade` nginx sends `Connection: close`: LiveKit sees no
        // upgrade and answers its empty 404.
        let variant = Variant::new(Proxy::Nginx)
            .rtc(true)
            .livekit_without_token()
            .edit("        proxy_set_header Connection \"upgrade\";\n", "");
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect(
                "rtc.websocket",
                "fail",
                "an empty 404, LiveKit's answer to a request that arrives without its Upgrade header",
                "nginx: in the RTC host's `location /`",
            );
        }
    }
}

netns_test! {
    fn no_focus_fails_only_when_calls_are_asked_for() {
        // A deployment without calls: not a question unless --rtc says calls should work.
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Nginx)) {
            outcome.expect("rtc.focus", "skip", "no calls: https://example.test/.well-known/matrix/client names no org.matrix.msc4143.rtc_foci", "");
            outcome.expect("rtc.websocket", "skip", "no calls focus", "");
            assert_eq!(outcome.code, 0, "{}", outcome.text);
        }
        if let Some(outcome) = deploy_and_check(Variant::new(Proxy::Nginx).check_arg("--rtc")) {
            outcome.expect(
                "rtc.focus",
                "fail",
                "MISSING_MATRIX_RTC_FOCUS: https://example.test/.well-known/matrix/client names no org.matrix.msc4143.rtc_foci",
                "\"org.matrix.msc4143.rtc_foci\": [{\"type\": \"livekit\", \"livekit_service_url\": \"https://rtc.example.test\"}]",
            );
            outcome.expect("rtc.focus", "fail", "", "or regenerate: mxproxy generate --server-name example.test --rtc");
            outcome.expect("rtc.auth-cors", "skip", "no calls focus", "");
            assert_eq!(outcome.code, 1, "{}", outcome.text);
        }
    }
}

netns_test! {
    fn focus_dropped_from_the_well_known_fails() {
        // Calls deployed, but the well-known lost its focus (a hand-edited document).
        let variant = Variant::new(Proxy::Nginx)
            .rtc(true)
            .edit("org.matrix.msc4143.rtc_foci", "org.matrix.msc4143.rtc_foci_dropped");
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect("rtc.focus", "fail", "MISSING_MATRIX_RTC_FOCUS", "livekit_service_url");
        }
    }
}

netns_test! {
    fn doubled_cors_origin_on_the_auth_service_fails() {
        let variant = Variant::new(Proxy::Nginx).rtc(true).edit(
            "        # itself: nginx adds no CORS header (browsers refuse a response with two).\n",
            "        # itself: nginx adds no CORS header (browsers refuse a response with two).\n        add_header Access-Control-Allow-Origin \"*\" always;\n",
        );
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect(
                "rtc.auth-cors",
                "fail",
                "answers 2 Access-Control-Allow-Origin headers (* | *)",
                "nginx: no `add_header Access-Control-*` in the RTC host's server block",
            );
            outcome.expect("rtc.websocket", "pass", "101", "");
        }
    }
}

netns_test! {
    fn openid_userinfo_blocked_fails() {
        // --no-federation without the one federation path calls need.
        let variant = Variant::new(Proxy::Nginx).rtc(true).no_federation().edit(
            "location = /_matrix/federation/v1/openid/userinfo {",
            "location = /_matrix/federation/v1/openid/userinfo-gone {",
        );
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect(
                "rtc.openid-userinfo",
                "fail",
                "404 Not Found without a Matrix error body: the proxy refuses it",
                "nginx: `location = /_matrix/federation/v1/openid/userinfo",
            );
            outcome.expect(
                "rtc.openid-userinfo",
                "fail",
                "",
                "--rtc (with --no-federation it keeps openid/userinfo open)",
            );
        }
    }
}

netns_test! {
    fn websocket_upgrade_dropped_fails() {
        let variant = Variant::new(Proxy::Nginx)
            .rtc(true)
            .edit("        proxy_set_header Connection \"upgrade\";\n", "");
        if let Some(outcome) = deploy_and_check(variant) {
            outcome.expect(
                "rtc.websocket",
                "fail",
                "wss://rtc.example.test/rtc",
                "proxy_set_header Connection \"upgrade\"",
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// A hostile endpoint cannot make `check` hang or eat memory.

netns_test! {
    fn hostile_endpoints_end_within_timeouts() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new();
        let ca_file = ca.write_pem(dir.path());
        let leaf = ca.leaf(
            dir.path(),
            "hostile",
            &["endless.test", "drip.test", "loop.test"],
            Validity::Current,
        );
        let background = Background::start();
        background.dns(DNS, Vec::new());
        background.hostile("127.0.0.1:443", &leaf);
        let cases = [
            ("endless.test", "larger than"),
            ("drip.test", "no complete answer within 2 s"),
            ("loop.test", "more than 5 redirects"),
        ];
        // Concurrently, as the three would run on a machine; each must end on its own bound.
        let results: Vec<(Outcome, Duration)> = std::thread::scope(|scope| {
            let handles: Vec<_> = cases
                .iter()
                .map(|(name, _)| {
                    let ca = ca_file.clone();
                    scope.spawn(move || run_check(name, &ca, 2, &[]))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for ((name, why), (outcome, elapsed)) in cases.iter().zip(results) {
            outcome.expect("client.well-known", "fail", why, "");
            outcome.expect("server.well-known", "fail", why, "");
            assert_eq!(outcome.code, 1);
            // drip.test stalls the client document, its preflight and the server document
            // for the full 2 s timeout each: one after the other that is 6 s or more,
            // concurrently about 2 s.
            assert!(
                elapsed < Duration::from_secs(5),
                "{name}: check took {elapsed:?}"
            );
        }
    }
}
