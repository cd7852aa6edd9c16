//! The binary as a user runs it: help, errors and exit codes, no clobbering, dry runs,
//! config files and flag precedence, determinism.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

use crate::common::mxproxy;

fn cmd() -> Command {
    Command::from_std(mxproxy())
}

/// A temp dir with `out/` as the output folder.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn out(&self) -> PathBuf {
        self.path("out")
    }

    fn generate(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        cmd()
            .current_dir(self.dir.path())
            .arg("generate")
            .args(args)
            .arg("--out")
            .arg(self.out())
            .assert()
    }

    fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.out().join(rel)).unwrap()
    }
}

/// Every file below `dir`, relative path → content, sorted.
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                files.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut files = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut files);
    }
    files.sort();
    files
}

#[test]
fn help_documents_every_flag_with_an_example() {
    let assert = cmd().args(["generate", "--help"]).assert().success();
    let help = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    for flag in [
        "--server-name",
        "--homeserver-host",
        "--homeserver",
        "--upstream",
        "--federation-port",
        "--no-federation",
        "--tls",
        "--tls-cert",
        "--tls-key",
        "--acme-email",
        "--max-upload",
        "--webroot",
        "--listen-address",
        "--proxy",
        "--compose",
        "--out",
        "--force",
        "--dry-run",
        "--config",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    assert!(help.contains("Examples:"), "{help}");
    cmd()
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("generate"));
}

/// The `--upstream` help names the homeservers' ports, which live in src/homeserver.rs
/// (the `--expose-admin` help is built from them).
#[test]
fn help_agrees_with_the_homeserver_facts() {
    let assert = cmd().args(["generate", "--help"]).assert().success();
    let help = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    let start = help
        .find("\n      --upstream")
        .expect("--upstream in --help")
        + 1;
    let rest = &help[start..];
    let upstream = &rest[..rest.find("\n      --").unwrap_or(rest.len())];
    let upstream = upstream.split_whitespace().collect::<Vec<_>>().join(" ");
    for &homeserver in mxproxy::setup::Homeserver::ALL {
        let facts = mxproxy::homeserver::facts(homeserver);
        assert!(
            upstream.contains(&facts.port.to_string()),
            "--upstream help lacks {}'s port {}: {upstream}",
            facts.display_name,
            facts.port
        );
    }
    assert!(
        help.contains("Dendrite /_dendrite/ and /_synapse/admin/"),
        "{help}"
    );
}

#[test]
fn defaults_write_every_proxy_and_a_summary() {
    let env = Env::new();
    env.generate(&["--server-name", "example.com"])
        .success()
        .stdout(contains("created    nginx/matrix.example.com.conf"))
        .stdout(contains(
            "created    traefik/dynamic/matrix.example.com.yml",
        ))
        .stdout(contains("Firewall: open 80/tcp, 443/tcp"))
        .stdout(contains("certbot certonly"))
        .stdout(contains("a2enmod"));
    let files: Vec<String> = tree(&env.out()).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        files,
        [
            "apache/matrix.example.com.conf",
            "apache/mxproxy-capacity.conf",
            "caddy/Caddyfile",
            "nginx/matrix.example.com.conf",
            "traefik/dynamic/matrix.example.com.yml",
            "traefik/traefik.yml",
            "well-known/matrix/client",
            "well-known/matrix/server",
        ]
    );
    let server: serde_json::Value =
        serde_json::from_str(&env.read("well-known/matrix/server")).unwrap();
    assert_eq!(
        server,
        serde_json::json!({"m.server": "matrix.example.com:443"})
    );
    let client: serde_json::Value =
        serde_json::from_str(&env.read("well-known/matrix/client")).unwrap();
    assert_eq!(
        client,
        serde_json::json!({"m.homeserver": {"base_url": "https://matrix.example.com"}})
    );
}

#[test]
fn missing_server_name_is_a_usage_error() {
    let env = Env::new();
    env.generate(&[])
        .code(2)
        .stderr(contains("--server-name is required"))
        .stderr(contains("server_name"))
        .stderr(contains("e.g. --server-name example.com"));
    assert!(!env.out().exists());
}

#[test]
fn no_federation_drops_the_server_document() {
    let env = Env::new();
    env.generate(&[
        "--server-name",
        "example.com",
        "--no-federation",
        "--proxy",
        "nginx",
    ])
    .success()
    .stdout(contains("Federation is off"));
    assert!(!env.out().join("well-known/matrix/server").exists());
    assert!(
        !env.read("nginx/matrix.example.com.conf")
            .contains("matrix/server")
    );
}

#[test]
fn rerun_is_quiet_and_a_changed_file_is_not_overwritten_without_force() {
    let env = Env::new();
    let args = ["--server-name", "example.com", "--proxy", "nginx"];
    env.generate(&args).success();
    env.generate(&args)
        .success()
        .stdout(contains("unchanged  nginx/matrix.example.com.conf"));

    let site = env.out().join("nginx/matrix.example.com.conf");
    std::fs::write(&site, "# my own edits\n").unwrap();
    env.generate(&args)
        .code(1)
        .stderr(contains("refusing to overwrite 1 existing file"))
        .stderr(contains("nginx/matrix.example.com.conf"))
        .stderr(contains("--force"));
    assert_eq!(std::fs::read_to_string(&site).unwrap(), "# my own edits\n");

    env.generate(&[&args[..], &["--force"]].concat())
        .success()
        .stdout(contains("updated    nginx/matrix.example.com.conf"));
    assert!(
        std::fs::read_to_string(&site)
            .unwrap()
            .contains("proxy_pass")
    );
}

#[test]
fn a_refusal_writes_nothing_at_all() {
    let env = Env::new();
    env.generate(&["--server-name", "example.com", "--proxy", "nginx"])
        .success();
    let site = env.out().join("nginx/matrix.example.com.conf");
    std::fs::write(&site, "# mine\n").unwrap();
    // Adding caddy would create a new file, but the refused nginx file stops everything.
    env.generate(&["--server-name", "example.com", "--proxy", "nginx,caddy"])
        .code(1);
    assert!(!env.out().join("caddy").exists());
}

#[test]
fn dry_run_prints_a_diff_and_writes_nothing() {
    let env = Env::new();
    env.generate(&[
        "--server-name",
        "example.com",
        "--proxy",
        "caddy",
        "--dry-run",
    ])
    .success()
    .stdout(contains("+++ "))
    .stdout(contains("caddy/Caddyfile"))
    .stdout(contains("+\t\treverse_proxy 127.0.0.1:6167"))
    .stdout(contains("Dry run: nothing was written"));
    assert!(!env.out().exists());

    env.generate(&["--server-name", "example.com", "--proxy", "caddy"])
        .success();
    let before = tree(&env.out());
    env.generate(&[
        "--server-name",
        "example.com",
        "--proxy",
        "caddy",
        "--max-upload",
        "50M",
        "--dry-run",
    ])
    .success()
    .stdout(contains("-\t\tmax_size 20971520"))
    .stdout(contains("+\t\tmax_size 52428800"));
    assert_eq!(tree(&env.out()), before);
}

#[test]
fn config_file_with_flags_overriding_it() {
    let env = Env::new();
    let config = env.write(
        "setup.yaml",
        "server_name: example.com\nproxy: [nginx, apache]\nfederation_port: 8448\nmax_upload: 50M\n",
    );
    env.generate(&["--config", config.to_str().unwrap(), "--proxy", "caddy"])
        .success();
    let files: Vec<String> = tree(&env.out()).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        files,
        [
            "caddy/Caddyfile",
            "well-known/matrix/client",
            "well-known/matrix/server"
        ]
    );
    let caddyfile = env.read("caddy/Caddyfile");
    assert!(
        caddyfile.contains("https://matrix.example.com:8448"),
        "{caddyfile}"
    );
    assert!(caddyfile.contains("max_size 52428800"), "{caddyfile}");
    assert!(
        env.read("well-known/matrix/server")
            .contains("matrix.example.com:8448")
    );
}

#[test]
fn flags_and_the_equivalent_config_file_give_the_same_bytes() {
    let flags = Env::new();
    let args = [
        "--server-name",
        "example.org",
        "--homeserver-host",
        "hs.example.org",
        "--federation-port",
        "8448",
        "--tls",
        "files",
        "--tls-cert",
        "/etc/ssl/m/cert.pem",
        "--tls-key",
        "/etc/ssl/m/key.pem",
        "--max-upload",
        "1G",
        "--compose",
        "--proxy",
        "apache,nginx",
    ];
    flags.generate(&args).success();
    let file = Env::new();
    let config = file.write(
        "setup.yaml",
        "server_name: example.org\nhomeserver_host: hs.example.org\nfederation_port: 8448\ntls: files\n\
         tls_cert: /etc/ssl/m/cert.pem\ntls_key: /etc/ssl/m/key.pem\nmax_upload: 1G\ncompose: true\nproxy: apache,nginx\n",
    );
    file.generate(&["--config", config.to_str().unwrap()])
        .success();
    assert_eq!(tree(&flags.out()), tree(&file.out()));
}

#[test]
fn same_inputs_give_byte_identical_output() {
    let (first, second) = (Env::new(), Env::new());
    let args = [
        "--server-name",
        "example.com",
        "--compose",
        "--federation-port",
        "8448",
    ];
    first.generate(&args).success();
    second.generate(&args).success();
    let (a, b) = (tree(&first.out()), tree(&second.out()));
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn header_names_the_command_that_regenerates_the_file() {
    let env = Env::new();
    env.generate(&[
        "--server-name",
        "example.com",
        "--proxy",
        "nginx",
        "--federation-port",
        "8448",
    ])
    .success();
    let site = env.read("nginx/matrix.example.com.conf");
    assert!(site.starts_with(
        "# Generated by mxproxy for example.com. Do not edit by hand.\n\
         # Regenerate: mxproxy generate --server-name example.com --federation-port 8448 --proxy nginx\n"
    ), "{site}");
}

#[test]
fn yaml_errors_name_file_line_key_value_and_example() {
    let env = Env::new();
    let cases: &[(&str, &[&str])] = &[
        (
            "server_name: example.com\nfederation_port: 70000\n",
            &[
                "setup.yaml:2:",
                "key `federation_port`",
                "70000",
                "1-65535",
                "e.g. 8448",
            ],
        ),
        (
            "server_name: example.com\nfederation_prot: 8448\n",
            &[
                "setup.yaml:2:",
                "unknown key `federation_prot`",
                "e.g. server_name: example.com",
            ],
        ),
        (
            "server_name: Example.COM\n",
            &[
                "setup.yaml:1:",
                "server_name",
                "Example.COM",
                "e.g. example.com",
            ],
        ),
        ("server_name: [example.com\n", &["setup.yaml:"]),
        (
            "server_name: example.com\nmax_upload: 1.5Q\n",
            &["setup.yaml:2:", "max_upload", "1.5Q", "e.g. 20M"],
        ),
        (
            "server_name: example.com\nproxy: [nginx, iis]\n",
            &["setup.yaml:2:", "iis", "not a supported proxy"],
        ),
        (
            "server_name: example.com\nserver_name: example.org\n",
            &["setup.yaml:", "duplicate"],
        ),
    ];
    for (yaml, expected) in cases {
        let config = env.write("setup.yaml", yaml);
        let assert = env
            .generate(&["--config", config.to_str().unwrap()])
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        for needle in *expected {
            assert!(
                stderr.contains(needle),
                "for {yaml:?} expected {needle:?} in:\n{stderr}"
            );
        }
        assert!(!env.out().exists(), "{yaml:?} wrote files");
    }
}

#[test]
fn unreadable_config_file_is_reported_with_its_path() {
    let env = Env::new();
    env.generate(&["--config", "does-not-exist.yaml"])
        .code(1)
        .stderr(contains("does-not-exist.yaml"))
        .stderr(contains("No such file"));
}

#[test]
fn conflicting_options_are_usage_errors() {
    let env = Env::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--no-federation", "--federation-port", "8448"],
            "contradict",
        ),
        (
            &["--tls", "files"],
            "--tls files needs both --tls-cert and --tls-key",
        ),
        (
            &["--tls", "files", "--tls-cert", "/c.pem"],
            "--tls files needs both",
        ),
        (
            &["--tls-cert", "/c.pem", "--tls-key", "/k.pem"],
            "only used with --tls files",
        ),
        (
            &["--tls", "none", "--acme-email", "a@example.com"],
            "only used with --tls acme",
        ),
        (&["--compose", "--upstream", "127.0.0.1:6167"], "compose"),
        (&["--federation-port", "80"], "plain-HTTP port"),
        (&["--compose", "--listen-address", "127.0.0.1"], "compose"),
        (
            &["--proxy", "traefik", "--listen-address", "127.0.0.1,::1"],
            "Traefik",
        ),
        (&["--expose-admin"], "Conduit has no admin API prefix"),
        (
            &["--homeserver", "continuwuity", "--expose-admin"],
            "continuwuity has no admin API prefix",
        ),
        (
            &["--cdn", "cloudflare", "--federation-port", "8448"],
            "Cloudflare does not forward port 8448",
        ),
        (&["--trusted-proxy", "0.0.0.0/0"], "trusts every address"),
        (
            &["--trusted-proxy", "10.1.2.3/8"],
            "the block is 10.0.0.0/8",
        ),
        (&["--cdn", "akamai"], "is not a CDN mxproxy knows"),
    ];
    for (args, needle) in cases {
        let all = [&["--server-name", "example.com"], *args].concat();
        env.generate(&all)
            .code(2)
            .stderr(contains(*needle))
            .stderr(contains("e.g."));
        assert!(!env.out().exists(), "{args:?} wrote files");
    }
}

#[test]
fn unwritable_output_exits_1_with_path_and_os_error() {
    let env = Env::new();
    let blocker = env.write("blocker", "a file where a folder should be\n");
    cmd()
        .args(["generate", "--server-name", "example.com", "--out"])
        .arg(blocker.join("out"))
        .assert()
        .code(1)
        .stderr(contains("cannot write"))
        .stderr(contains("blocker/out"));
}

#[test]
fn no_subcommand_prints_usage() {
    cmd().assert().code(2).stdout(contains("generate"));
}

#[test]
fn compose_stack_uses_the_service_name_and_publishes_the_federation_port() {
    let env = Env::new();
    env.generate(&[
        "--server-name",
        "example.com",
        "--compose",
        "--proxy",
        "caddy",
        "--federation-port",
        "8448",
    ])
    .success()
    .stdout(contains("docker compose up -d"));
    let compose = env.read("docker-compose.yml");
    assert!(compose.contains("      - \"8448:8448\""), "{compose}");
    assert!(
        compose.contains("CONDUIT_ADDRESS: \"0.0.0.0\""),
        "{compose}"
    );
    let caddyfile = env.read("caddy/Caddyfile");
    assert!(
        caddyfile.contains("reverse_proxy homeserver:6167"),
        "{caddyfile}"
    );
    assert!(
        predicate::str::contains("127.0.0.1").not().eval(&caddyfile),
        "{caddyfile}"
    );
}

#[test]
fn each_homeserver_gets_its_port_prefixes_and_upload_limit() {
    let cases: &[(&str, &str, &[&str], &str)] = &[
        ("conduit", "6167", &["/_matrix/"], "20971520"),
        (
            "synapse",
            "8008",
            &["/_matrix/", "/_synapse/client/"],
            "52428800",
        ),
        (
            "continuwuity",
            "8008",
            &["/_matrix/", "/_continuwuity/"],
            "20971520",
        ),
        ("tuwunel", "8008", &["/_matrix/", "/_tuwunel/"], "25165824"),
        ("dendrite", "8008", &["/_matrix/"], "10485760"),
    ];
    for (homeserver, port, prefixes, limit) in cases {
        let env = Env::new();
        env.generate(&[
            "--server-name",
            "example.com",
            "--homeserver",
            homeserver,
            "--proxy",
            "nginx",
        ])
        .success()
        .stderr("");
        let nginx = env.read("nginx/matrix.example.com.conf");
        assert!(
            nginx.contains(&format!("server 127.0.0.1:{port};"))
                && nginx.contains("proxy_pass http://mxproxy_matrix.example.com;"),
            "{homeserver}: {nginx}"
        );
        assert!(
            nginx.contains(&format!("client_max_body_size {limit};")),
            "{homeserver}: {nginx}"
        );
        let locations = nginx.matches("    location /_").count();
        assert_eq!(locations, prefixes.len(), "{homeserver}: {nginx}");
        for prefix in *prefixes {
            assert!(
                nginx.contains(&format!("location {prefix} {{")),
                "{homeserver}: {nginx}"
            );
        }
        assert!(!nginx.contains("/_synapse/admin/"), "{homeserver}: {nginx}");
        assert!(!nginx.contains("/_dendrite/"), "{homeserver}: {nginx}");
    }
}

#[test]
fn conduwuit_is_accepted_as_tuwunel_with_a_warning() {
    let env = Env::new();
    env.generate(&["--server-name", "example.com", "--homeserver", "conduwuit"])
        .success()
        .stderr(contains("warning: `conduwuit` is abandoned"))
        .stderr(contains("generating for tuwunel"))
        .stderr(contains("--homeserver continuwuity"));
    let nginx = env.read("nginx/matrix.example.com.conf");
    assert!(nginx.contains("location /_tuwunel/ {"), "{nginx}");
    // The header names the homeserver that was generated for, not the retired name.
    assert!(nginx.contains("--homeserver tuwunel"), "{nginx}");

    let yaml = Env::new();
    let config = yaml.write(
        "setup.yaml",
        "server_name: example.com\nhomeserver: conduwuit\n",
    );
    yaml.generate(&["--config", config.to_str().unwrap()])
        .success()
        .stderr(contains("warning: `conduwuit` is abandoned"));
}

#[test]
fn expose_admin_forwards_the_admin_prefixes_and_warns() {
    let env = Env::new();
    env.generate(&[
        "--server-name",
        "example.com",
        "--homeserver",
        "synapse",
        "--proxy",
        "nginx,caddy",
        "--expose-admin",
    ])
    .success()
    .stderr(contains(
        "warning: --expose-admin: Synapse's admin API (/_synapse/admin/)",
    ))
    .stderr(contains("reachable from the internet"));
    let nginx = env.read("nginx/matrix.example.com.conf");
    assert!(nginx.contains("location /_synapse/admin/ {"), "{nginx}");
    let caddyfile = env.read("caddy/Caddyfile");
    assert!(
        caddyfile.contains("handle /_synapse/admin/* {"),
        "{caddyfile}"
    );
    assert!(
        env.read("nginx/matrix.example.com.conf")
            .contains("--expose-admin"),
        "the header reproduces the flag"
    );

    let dendrite = Env::new();
    dendrite
        .generate(&[
            "--server-name",
            "example.com",
            "--homeserver",
            "dendrite",
            "--proxy",
            "apache",
            "--expose-admin",
        ])
        .success()
        .stderr(contains(
            "Dendrite's admin API (/_dendrite/, /_synapse/admin/)",
        ));
    let apache = dendrite.read("apache/matrix.example.com.conf");
    assert!(apache.contains("ProxyPass /_dendrite/ "), "{apache}");
    assert!(apache.contains("ProxyPass /_synapse/admin/ "), "{apache}");
}

/// Synapse with the default proxies. Traefik forwards well-known to Synapse,
/// which only ever announces example.com:443, so Traefik routes the federation prefixes on
/// example.com to Synapse as well (read back here: host, paths, entry point, service and
/// body limit), and Synapse is told to answer.
#[test]
fn synapse_works_with_the_default_proxies() {
    let env = Env::new();
    env.generate(&["--server-name", "example.com", "--homeserver", "synapse"])
        .success()
        .stdout(contains("Synapse's answer names example.com:443"));
    let dynamic: serde_yaml::Value =
        serde_yaml::from_str(&env.read("traefik/dynamic/matrix.example.com.yml")).unwrap();
    let router = &dynamic["http"]["routers"]["server-name-federation"];
    assert_eq!(
        router["rule"].as_str(),
        Some(
            "Host(`example.com`) && (PathPrefix(`/_matrix/federation/`) || PathPrefix(`/_matrix/key/`)) \
             && !PathRegexp(`^[^?]*/([.]|%2[eE])([.]|%2[eE])([/?]|$)`)"
        )
    );
    assert_eq!(router["entryPoints"][0].as_str(), Some("https"));
    assert_eq!(router["service"].as_str(), Some("homeserver"));
    assert_eq!(router["middlewares"][0].as_str(), Some("upload-limit"));
    assert_eq!(router["tls"]["certResolver"].as_str(), Some("letsencrypt"));
    assert!(
        env.read("synapse/mxproxy.yaml")
            .contains("serve_server_wellknown: true")
    );
    // On the server name with federation on 8448: Synapse's example.com:443 reaches the
    // homeserver router, which listens on 443 as well; no extra router.
    let env = Env::new();
    env.generate(&[
        "--server-name",
        "example.com",
        "--homeserver",
        "synapse",
        "--homeserver-host",
        "example.com",
        "--federation-port",
        "8448",
    ])
    .success();
    let dynamic = env.read("traefik/dynamic/example.com.yml");
    assert!(!dynamic.contains("server-name-federation"), "{dynamic}");
    assert!(
        dynamic.contains("- https\n        - federation"),
        "{dynamic}"
    );
}

/// With the default proxies, two listen addresses leave Traefik (one address per entry
/// point) out with a note; asked for by name, it is still refused.
#[test]
fn the_default_proxies_leave_traefik_out_for_two_listen_addresses() {
    let env = Env::new();
    env.generate(&[
        "--server-name",
        "example.com",
        "--listen-address",
        "127.0.0.1,::1",
    ])
    .success()
    .stderr(contains(
        "Traefik left out of the default proxies: it listens on one address and \
         --listen-address gives 2; to write it, name it with one address, e.g. \
         --proxy traefik --listen-address 127.0.0.1",
    ));
    assert!(!env.out().join("traefik").exists());
    assert!(env.out().join("caddy/Caddyfile").exists());
}

/// Caddy keeps its certificate under file names with the host in them: for a host of more
/// than 239 characters it cannot obtain one, and says so by name.
#[test]
fn caddy_refuses_a_host_too_long_for_its_certificate_store() {
    let label = "a".repeat(63);
    let host = format!("{label}.{label}.{label}.{}", "b".repeat(48));
    let env = Env::new();
    env.generate(&[
        "--server-name",
        "example.com",
        "--homeserver-host",
        &host,
        "--proxy",
        "caddy",
    ])
    .code(2)
    .stderr(format!(
        "error: --proxy caddy cannot obtain a certificate for {host}: Caddy stores it under file \
         names that hold a host name of at most 239 characters, and this one has 240; give it the \
         certificate yourself, or use another proxy, e.g. --tls files --tls-cert \
         /etc/ssl/matrix/fullchain.pem --tls-key /etc/ssl/matrix/privkey.pem\n"
    ));
    assert!(!env.out().exists());
}

/// Uploads over 2 GiB are enforced by every proxy (Apache with its `<If>` on
/// Content-Length, HAProxy with a 64-bit comparison) and every homeserver but Conduit, whose
/// u32 setting is refused by name.
#[test]
fn uploads_over_2_gib_are_refused_only_for_conduit() {
    let env = Env::new();
    env.generate(&[
        "--server-name",
        "example.com",
        "--homeserver",
        "tuwunel",
        "--max-upload",
        "3G",
    ])
    .success();
    let apache = env.read("apache/matrix.example.com.conf");
    assert!(apache.contains("LimitRequestBody 3221225472"), "{apache}");
    assert!(apache.contains("-gt 3221225472\""), "{apache}");
    assert!(
        env.read("nginx/matrix.example.com.conf")
            .contains("client_max_body_size 3221225472;")
    );
    let env = Env::new();
    env.generate(&["--server-name", "example.com", "--max-upload", "5G"])
        .code(2)
        .stderr(
            "error: --max-upload 5G is above 4294967295 bytes, the most Conduit's \
             max_request_size holds: it is a 32-bit number, so Conduit would not start; choose at \
             most that or another homeserver, e.g. --max-upload 4095M\n",
        );
    assert!(!env.out().exists());
    // HAProxy compares Content-Length as a 64-bit integer: past 2 GiB is enforced too.
    let env = Env::new();
    env.generate(&[
        "--server-name",
        "example.com",
        "--homeserver",
        "tuwunel",
        "--proxy",
        "haproxy",
        "--max-upload",
        "3G",
    ])
    .success();
    let config = std::fs::read_to_string(env.out().join("haproxy/haproxy.cfg")).unwrap();
    assert!(
        config.contains("req.hdr(content-length) -m int gt 3221225472 }"),
        "{config}"
    );
}

#[test]
fn synapse_gets_a_config_fragment_and_the_generate_step() {
    let env = Env::new();
    env.generate(&[
        "--server-name",
        "example.com",
        "--homeserver",
        "synapse",
        "--compose",
        "--proxy",
        "nginx",
        "--max-upload",
        "100M",
    ])
    .success()
    .stdout(contains("docker compose run --rm homeserver generate"))
    .stdout(contains("register_new_matrix_user"));
    let fragment = env.read("synapse/mxproxy.yaml");
    assert!(fragment.contains("x_forwarded: true"), "{fragment}");
    assert!(
        fragment.contains("bind_addresses: [\"0.0.0.0\"]"),
        "{fragment}"
    );
    assert!(
        fragment.contains("max_upload_size: 104857600"),
        "{fragment}"
    );
    let nginx = env.read("nginx/matrix.example.com.conf");
    assert!(nginx.contains("client_max_body_size 104857600;"), "{nginx}");
    let compose = env.read("docker-compose.yml");
    assert!(
        compose.contains("./synapse/mxproxy.yaml:/etc/mxproxy/synapse.yaml:ro"),
        "{compose}"
    );
    assert!(
        nginx.contains("set $homeserver http://homeserver:8008;"),
        "{nginx}"
    );
}

#[test]
fn kubernetes_refuses_federation_on_its_own_port_and_shows_the_working_command() {
    let env = Env::new();
    let assert = env
        .generate(&[
            "--server-name",
            "example.com",
            "--kubernetes",
            "--ingress-class",
            "nginx",
            "--cluster-issuer",
            "letsencrypt",
            "--federation-port",
            "8448",
        ])
        .code(2)
        .stderr(contains(
            "--federation-port 8448 cannot be used with --kubernetes",
        ))
        .stderr(contains("/.well-known/matrix/server on port 443"));
    assert!(!env.out().exists());
    // The command the message offers works as printed.
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let working = stderr.trim().rsplit_once("e.g. ").unwrap().1;
    let words = shlex::split(working).unwrap();
    assert_eq!(words[..2], ["mxproxy", "generate"]);
    let words: Vec<&str> = words[2..].iter().map(String::as_str).collect();
    env.generate(&words).code(0);
    assert!(env.out().join("kubernetes/kustomization.yaml").is_file());
    assert!(
        !env.out().join("nginx").exists(),
        "no proxy configs with --kubernetes"
    );
}

#[test]
fn kubernetes_refuses_what_a_cluster_cannot_use() {
    let env = Env::new();
    let ingress: &[&str] = &["--kubernetes", "--ingress-class", "nginx"];
    let issuer: &[&str] = &["--cluster-issuer", "letsencrypt"];
    let cases: &[(&[&[&str]], &str)] = &[
        (
            &[ingress, issuer, &["--compose"]],
            "--compose cannot be used with --kubernetes",
        ),
        (
            &[ingress, issuer, &["--listen-address", "127.0.0.1"]],
            "--listen-address cannot be used with --kubernetes",
        ),
        (
            &[ingress, issuer, &["--proxy", "nginx"]],
            "--proxy cannot be used with --kubernetes",
        ),
        (
            &[ingress, issuer, &["--upstream", "10.0.0.1:6167"]],
            "--upstream cannot be used with --kubernetes",
        ),
        (
            &[ingress, issuer, &["--webroot", "/srv/w"]],
            "--webroot cannot be used",
        ),
        (
            &[ingress, issuer, &["--layout", "debian"]],
            "Kubernetes manifests are applied with kubectl from one folder",
        ),
        (
            &[ingress, issuer, &["--acme-email", "a@example.com"]],
            "ClusterIssuer holds the ACME account",
        ),
        (
            &[ingress, issuer, &["--homeserver", "synapse"]],
            "--homeserver synapse cannot be used with --kubernetes",
        ),
        (
            &[&["--kubernetes"], issuer],
            "--kubernetes needs to know how traffic enters",
        ),
        (&[ingress, &["--gateway", "public"], issuer], "choose one"),
        (&[ingress], "name the ClusterIssuer"),
        (
            &[ingress, issuer, &["--tls", "none"]],
            "--cluster-issuer letsencrypt is only used with --tls acme",
        ),
        (
            &[&["--kubernetes", "--gateway", "public"], issuer],
            "the cert-manager annotation belongs on the Gateway",
        ),
        (
            &[
                &["--kubernetes", "--gateway", "public"],
                &[
                    "--tls",
                    "files",
                    "--tls-cert",
                    "/c.pem",
                    "--tls-key",
                    "/k.pem",
                ],
            ],
            "--tls files cannot be used with --gateway",
        ),
        (
            &[ingress, issuer, &["--rtc"]],
            "--rtc cannot be used with --kubernetes: Conduit answers /.well-known/matrix/ itself",
        ),
        (
            &[
                ingress,
                issuer,
                &[
                    "--homeserver",
                    "tuwunel",
                    "--rtc",
                    "--rtc-auth-upstream",
                    "auth:8070",
                ],
            ],
            "--rtc-auth-upstream cannot be used with --kubernetes",
        ),
        (
            &[&["--ingress-class", "nginx"]],
            "--ingress-class only applies to Kubernetes",
        ),
        (
            &[&["--namespace", "chat"]],
            "--namespace only applies to Kubernetes",
        ),
    ];
    for (parts, needle) in cases {
        let all = [&["--server-name", "example.com"][..], &parts.concat()].concat();
        env.generate(&all)
            .code(2)
            .stderr(contains(*needle))
            .stderr(contains("e.g."));
        assert!(!env.out().exists(), "{all:?} wrote files");
    }
    // Values are checked where they are given.
    for (flag, value, needle) in [
        ("--ingress-class", "haproxy", "not an ingress class"),
        ("--namespace", "Matrix", "contains `M`"),
        ("--namespace", "a.b", "contains `.`"),
        (
            "--gateway",
            "gateway-system/public-",
            "start and end with a letter or digit",
        ),
    ] {
        env.generate(&["--server-name", "example.com", "--kubernetes", flag, value])
            .code(2)
            .stderr(contains(needle));
    }
}

#[test]
fn kubernetes_keys_work_in_the_config_file_and_flags_override_them() {
    let env = Env::new();
    let config = env.write(
        "setup.yaml",
        "server_name: example.com\nkubernetes: true\ningress_class: traefik\ncluster_issuer: letsencrypt\nnamespace: chat\n",
    );
    env.generate(&[
        "--config",
        config.to_str().unwrap(),
        "--gateway",
        "gateway-system/public",
        "--tls",
        "none",
    ])
    .code(0);
    let route = env.read("kubernetes/httproute-homeserver.yaml");
    assert!(route.contains("namespace: chat"), "{route}");
    assert!(route.contains("namespace: gateway-system"), "{route}");
    assert!(
        !env.out()
            .join("kubernetes/ingress-homeserver.yaml")
            .exists()
    );
}

#[test]
fn the_wizard_points_kubernetes_setups_to_generate() {
    cmd()
        .args(["wizard", "--kubernetes"])
        .assert()
        .code(2)
        .stderr(contains(
            "mxproxy generate --server-name example.com --kubernetes",
        ));
}

/// The refusals outside the setup's merge, each once, with its whole message: nothing is
/// written, the exit status is 2, and the message ends in a working example.
#[test]
fn output_and_command_refusals_name_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(templates.join("ngnix.j2"), "x").unwrap();
    let templates = templates.display().to_string();
    for (args, message) in [
        (
            vec!["generate", "--server-name", "example.com", "--layout", "debian", "--compose"],
            "error: --layout debian places files for the host's own servers; the --compose stack \
             keeps its files together in one folder, e.g. --compose --layout folder --out ./matrix-stack\n"
                .to_string(),
        ),
        (
            vec!["generate", "--server-name", "example.com", "--layout", "debian", "--out", "/"],
            "error: --out / writes straight into the system's /etc and webroot; check the files \
             under a staging prefix first, or add --force, e.g. --layout debian --out ./staging \
             (then --out / --force)\n"
                .to_string(),
        ),
        (
            vec!["generate", "--server-name", "example.com", "--templates", &templates],
            format!(
                "error: --templates {templates}: `{templates}/ngnix.j2` replaces no built-in \
                 template (ngnix.j2 is not one of them), e.g. {templates}/nginx/site.conf.j2 \
                 (`mxproxy templates export DIR` writes the names)\n"
            ),
        ),
        (
            vec!["man", "nope"],
            "error: man: `nope` is not a subcommand; there is a page for generate, wizard, check, \
             completions, man, templates, e.g. mxproxy man generate\n"
                .to_string(),
        ),
        (
            vec!["wizard", "--kubernetes"],
            "error: the wizard asks about proxies and compose stacks, not Kubernetes; write \
             Kubernetes manifests with `mxproxy generate --kubernetes`, e.g. mxproxy generate \
             --server-name example.com --kubernetes --ingress-class nginx --cluster-issuer \
             letsencrypt\n"
                .to_string(),
        ),
    ] {
        let out = dir.path().join("out");
        let output = mxproxy()
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), message, "{args:?}");
        assert!(!out.exists() && !dir.path().join("mxproxy-out").exists(), "{args:?}");
    }
}

/// `--worker` refusals, from the value (clap, through `WorkerAddress`) and from the setup
/// (merge): exit 2, the flag and value named, a working example, nothing written.
#[test]
fn worker_refusals_are_usage_errors_with_an_example() {
    let env = Env::new();
    let base = [
        "--server-name",
        "example.com",
        "--homeserver",
        "synapse",
        "--proxy",
        "nginx",
    ];
    let cases: &[(&[&str], &str)] = &[
        (
            &["--worker", "synchrotron=127.0.0.1:8083"],
            "is not a worker group (groups: typing,",
        ),
        (
            &["--worker", "sync="],
            "gives group sync no address, e.g. sync=127.0.0.1:8083",
        ),
        (
            &[
                "--worker",
                "typing=127.0.0.1:8083",
                "--worker",
                "typing=127.0.0.1:8084",
            ],
            "--worker typing=127.0.0.1:8084: typing has one worker only (127.0.0.1:8083)",
        ),
        (
            &["--worker", "sso-login=127.0.0.1:8083", "--mas"],
            "with --mas, MAS handles every login",
        ),
        (
            &["--worker", "sync=127.0.0.1:9093"],
            "--worker sync=127.0.0.1:9093: 127.0.0.1:9093 is where the fragment puts the main process's replication listener",
        ),
    ];
    for (flags, message) in cases {
        env.generate(&[&base[..], flags].concat())
            .code(2)
            .stderr(contains(*message));
        assert!(!env.out().exists(), "{flags:?} wrote files");
    }
    env.generate(&[
        "--server-name",
        "example.com",
        "--proxy",
        "nginx",
        "--worker",
        "sync=127.0.0.1:8083",
    ])
    .code(2)
    .stderr(contains(
        "--homeserver conduit has none, e.g. --homeserver synapse --worker sync=127.0.0.1:8083",
    ));
}

/// `--element-web` and `--base-redirect`: every refusal once, with exit code 2, and the
/// file a working setup adds.
#[test]
fn element_web_and_base_redirect_refusals() {
    let env = Env::new();
    let base = ["--server-name", "example.com"];
    let cases: &[(&[&str], &str)] = &[
        (
            &["--element-web", "matrix.example.com"],
            "--element-web matrix.example.com: that host is already the homeserver host; \
             Element Web needs a host of its own, since a page on the same origin as user \
             content from the Matrix APIs would let that content script the client \
             (cross-site scripting",
        ),
        (
            &["--element-web", "example.com"],
            "that host is already the server name",
        ),
        (
            &[
                "--homeserver",
                "synapse",
                "--mas",
                "--mas-host",
                "auth.example.com",
                "--element-web",
                "auth.example.com",
            ],
            "already the Matrix Authentication Service's host",
        ),
        (
            &["--element-web", "chat.example.com", "--proxy", "haproxy"],
            "--element-web with --proxy haproxy: HAProxy cannot serve Element Web's folder",
        ),
        (
            &[
                "--element-web",
                "chat.example.com",
                "--proxy",
                "nginx,traefik",
            ],
            "--element-web with --proxy traefik: Traefik cannot serve",
        ),
        (
            &[
                "--element-web",
                "chat.example.com",
                "--element-web-root",
                "/srv/element",
                "--element-web-upstream",
                "127.0.0.1:8081",
            ],
            "--element-web-root /srv/element and --element-web-upstream 127.0.0.1:8081",
        ),
        (
            &[
                "--element-web",
                "chat.example.com",
                "--compose",
                "--element-web-root",
                "/srv/e",
            ],
            "--element-web-root /srv/e and --compose",
        ),
        (
            &[
                "--element-web",
                "chat.example.com",
                "--compose",
                "--element-web-upstream",
                "127.0.0.1:8081",
            ],
            "--element-web-upstream 127.0.0.1:8081 points at the proxy container itself",
        ),
        (
            &[
                "--element-web",
                "chat.example.com",
                "--compose",
                "--element-web-upstream",
                "192.0.2.4:80",
            ],
            "--element-web-upstream 192.0.2.4:80 is an IP address, but the compose stack runs that upstream itself, as the service `element-web`",
        ),
        (
            &["--element-web-upstream", "127.0.0.1:8081"],
            "--element-web-upstream 127.0.0.1:8081 is only used with --element-web",
        ),
        (
            &[
                "--element-web",
                "chat.example.com",
                "--kubernetes",
                "--ingress-class",
                "nginx",
                "--tls",
                "none",
            ],
            "--element-web with --kubernetes is not supported yet",
        ),
        (
            &["--base-redirect", "element-web"],
            "--base-redirect element-web is only used with --element-web",
        ),
        (
            &["--element-web-root", "/srv/element"],
            "--element-web-root /srv/element is only used with --element-web",
        ),
        (
            &[
                "--homeserver-host",
                "example.com",
                "--base-redirect",
                "https://w.example.com/",
            ],
            "--base-redirect: the server name example.com is also the homeserver host",
        ),
        (
            &["--base-redirect", "https://w.example.com/a b"],
            "contains a space, which would break the redirect line",
        ),
        (
            &["--base-redirect", "javascript:alert(1)"],
            "is a javascript URL",
        ),
        (
            &[
                "--element-web",
                "chat.example.com",
                "--element-web-root",
                "relative",
            ],
            "is relative",
        ),
    ];
    for (args, message) in cases {
        env.generate(&[&base[..], args].concat())
            .code(2)
            .stderr(contains(*message));
    }
    assert!(!env.out().exists(), "a refusal wrote files");

    // The default proxy list leaves Traefik out with a note instead of failing.
    env.generate(&[&base[..], &["--element-web", "chat.example.com"]].concat())
        .success()
        .stderr(contains(
            "Traefik left out of the default proxies for --element-web: it cannot serve \
             Element Web's folder of files",
        ));
    let config: serde_json::Value =
        serde_json::from_str(&env.read("element-web/config.json")).unwrap();
    assert_eq!(
        config,
        serde_json::json!({"default_server_config": {"m.homeserver": {
            "base_url": "https://matrix.example.com", "server_name": "example.com"}}})
    );
    assert!(!env.out().join("traefik").exists());

    // Through Element's own server every proxy can serve it, HAProxy and Traefik too.
    env.generate(
        &[
            &base[..],
            &[
                "--element-web",
                "chat.example.com",
                "--element-web-upstream",
                "127.0.0.1:8081",
                "--proxy",
                "haproxy,traefik",
                "--force",
            ],
        ]
        .concat(),
    )
    .success();
    assert!(
        env.read("haproxy/haproxy.cfg")
            .contains("server element_web 127.0.0.1:8081")
    );

    // The base redirect alone needs no Element Web, and every proxy writes it.
    env.generate(
        &[
            &base[..],
            &[
                "--base-redirect",
                "https://www.example.com/",
                "--proxy",
                "haproxy,traefik",
                "--force",
            ],
        ]
        .concat(),
    )
    .success();
    assert!(
        env.read("haproxy/haproxy.cfg")
            .contains("http-request redirect location https://www.example.com/ code 301")
    );
}
