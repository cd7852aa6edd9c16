//! Hostile and malformed values, each refused with exit 2, a message naming the flag, and
//! nothing written. What the Matrix server-name grammar allows is accepted or refused with
//! a reason, never mangled.

use crate::common::mxproxy;

/// (flag, value, text the message must contain)
const CASES: &[(&str, &str, &str)] = &[
    // Config injection through names.
    ("--server-name", "example.com;", "`;`"),
    (
        "--server-name",
        "example.com\nserver_name evil.com",
        "newline",
    ),
    ("--server-name", "example.com { }", "space"),
    ("--server-name", "example.com}", "`}`"),
    ("--server-name", "example.com#", "`#`"),
    ("--server-name", "\"example.com\"", "`\"`"),
    ("--server-name", "example.com'", "`'`"),
    ("--server-name", "ex$ample.com", "`$`"),
    ("--server-name", "exa`mple.com", "backtick"),
    ("--server-name", "example.com\r", "carriage return"),
    ("--server-name", "example.com\t", "tab"),
    // DNS rules.
    ("--server-name", "", "empty"),
    ("--server-name", "-example.com", "hyphen"),
    ("--server-name", "example-.com", "hyphen"),
    ("--server-name", "my_host.example.com", "underscore"),
    ("--server-name", "example..com", "empty label"),
    ("--server-name", ".example.com", "empty label"),
    ("--server-name", "example.com.", "trailing dot"),
    ("--server-name", "Example.com", "example.com"),
    ("--server-name", "localhost", "no dot"),
    ("--server-name", "bücher.example", "xn--bcher-kva.example"),
    (
        "--server-name",
        "a123456789012345678901234567890123456789012345678901234567890123.com",
        "at most 63",
    ),
    // Matrix grammar forms that skip .well-known delegation: refused with the reason.
    ("--server-name", "example.com:8448", "explicit port"),
    ("--server-name", "203.0.113.7", "IP literal"),
    ("--server-name", "[2001:db8::1]", "IP literal"),
    // Homeserver host.
    (
        "--homeserver-host",
        "matrix.example.com:8448",
        "bare DNS name",
    ),
    (
        "--homeserver-host",
        "https://matrix.example.com",
        "bare DNS name",
    ),
    ("--homeserver-host", "matrix", "no dot"),
    (
        "--homeserver-host",
        "matrix.example.com;include /etc/passwd",
        "`;`",
    ),
    // Ports.
    ("--federation-port", "0", "1-65535"),
    ("--federation-port", "65536", "1-65535"),
    ("--federation-port", "-1", "a number from 1 to 65535"),
    ("--federation-port", "84 48", "a number from 1 to 65535"),
    ("--federation-port", "", "a number from 1 to 65535"),
    // Upstream.
    ("--upstream", "localhost", "HOST:PORT"),
    ("--upstream", "http://127.0.0.1:6167", "without a scheme"),
    ("--upstream", "127.0.0.1:0", "1-65535"),
    ("--upstream", "::1:6167", "brackets"),
    ("--upstream", "127.0.0.1:6167;", "`;`"),
    ("--upstream", "[::zz]:6167", "IPv6"),
    // Sizes.
    ("--max-upload", "-1", "not a size"),
    ("--max-upload", "1.5Q", "not a size"),
    ("--max-upload", "1.5M", "not a size"),
    ("--max-upload", "20MB", "ambiguous"),
    ("--max-upload", "0", "below"),
    ("--max-upload", "9223372036854775808", "8 EiB - 1"),
    ("--max-upload", "99999999999999999999999", "8 EiB - 1"),
    ("--read-timeout", "30", "shorter than 60 seconds"),
    ("--read-timeout", "2d", "not a duration"),
    ("--read-timeout", "600;", "not a duration"),
    ("--read-timeout", "25h", "longer than 86400 seconds"),
    // Clients syncing at once.
    (
        "--clients",
        "0",
        "is zero: the proxies are sized for the clients syncing at once",
    ),
    ("--clients", "many", "not a number of clients"),
    ("--clients", "-5", "not a number of clients"),
    ("--clients", "1e4", "not a number of clients"),
    ("--clients", "1000;", "not a number of clients"),
    ("--clients", "100001", "more than 100000 clients"),
    // Paths.
    ("--webroot", "relative/path", "absolute"),
    ("--webroot", "/var/www/a b", "space"),
    ("--webroot", "/var/www/x;y", "`;`"),
    ("--webroot", "/var/www/../../etc", "`..`"),
    ("--webroot", "/var/www/{x}", "`{`"),
    // Others.
    ("--acme-email", "not-an-email", "no @"),
    ("--acme-email", "a b@example.com", "local part"),
    ("--acme-email", "admin@localhost", "without a dot"),
    ("--tls", "letsencrypt", "acme, files or none"),
    ("--homeserver", "synapse-ng", "supported"),
    ("--proxy", "iis", "supported proxy"),
    ("--listen-address", "0.0.0.0.0", "IP address"),
    // Trusted fronts: a value that lands in set_real_ip_from, RemoteIP*Proxy, an HAProxy
    // acl, a Caddy matcher or Traefik's YAML must be a block and nothing else.
    ("--trusted-proxy", "10.0.0.0/8;", "address block"),
    ("--trusted-proxy", "10.0.0.0/8 0.0.0.0/0", "address block"),
    (
        "--trusted-proxy",
        "10.0.0.0/8\nreal_ip_header X",
        "address block",
    ),
    ("--trusted-proxy", "::/0", "trusts every address"),
    ("--cdn", "cloudflare ", "not a CDN"),
];

#[test]
fn hostile_values_are_refused_before_anything_is_written() {
    assert!(CASES.len() >= 40);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (flag, value, needle) in CASES {
        let mut args = vec!["generate", "--out", out.to_str().unwrap()];
        if *flag != "--server-name" {
            args.extend(["--server-name", "example.com"]);
        }
        // `--flag=value`, so that values starting with `-` reach the validator.
        let output = mxproxy()
            .args(&args)
            .arg(format!("{flag}={value}"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{flag} {value:?} was not refused:\n{stderr}"
        );
        assert!(
            stderr.contains(flag),
            "{flag} {value:?}: message does not name the flag:\n{stderr}"
        );
        assert!(
            stderr.contains(needle),
            "{flag} {value:?}: expected {needle:?} in:\n{stderr}"
        );
        assert!(
            stderr.contains("e.g."),
            "{flag} {value:?}: no example in:\n{stderr}"
        );
        assert!(!out.exists(), "{flag} {value:?} wrote files");
    }
}

#[test]
fn huge_values_are_refused_with_a_short_message() {
    let dir = tempfile::tempdir().unwrap();
    let huge = "a".repeat(10_000);
    for flag in [
        "--server-name",
        "--homeserver-host",
        "--upstream",
        "--webroot",
        "--max-upload",
        "--clients",
    ] {
        let output = mxproxy()
            .args(["generate", "--server-name", "example.com", "--out"])
            .arg(dir.path().join("out"))
            .arg(flag)
            .arg(&huge)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag}");
        assert!(
            output.stderr.len() < 20_000,
            "{flag}: {} bytes of error",
            output.stderr.len()
        );
    }
}

#[test]
fn the_same_checks_apply_to_config_file_values() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("setup.yaml");
    for (key, value) in [
        ("server_name", "\"example.com;\""),
        ("upstream", "\"127.0.0.1:6167 ; evil\""),
        ("webroot", "\"/var/www/x{y}\""),
        ("tls_cert", "\"/etc/ssl/a\\nb\""),
        ("federation_port", "0"),
        ("max_upload", "-5"),
        ("read_timeout", "\"1d\""),
        ("clients", "0"),
    ] {
        let yaml = if key == "server_name" {
            format!("{key}: {value}\n")
        } else {
            format!("server_name: example.com\ntls: files\ntls_key: /k.pem\ntls_cert: /c.pem\n{key}: {value}\n")
                .replace("tls_cert: /c.pem\ntls_cert", "tls_cert")
        };
        std::fs::write(&config, &yaml).unwrap();
        let output = mxproxy()
            .args(["generate", "--out"])
            .arg(dir.path().join("out"))
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{yaml}\n{stderr}");
        assert!(stderr.contains(&format!("key `{key}`")), "{yaml}\n{stderr}");
        assert!(!dir.path().join("out").exists());
    }
}

#[test]
fn grammar_forms_that_are_valid_are_accepted_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value, expect) in [
        // The nginx upstream block's server line.
        ("--upstream", "[::1]:6167", "server [::1]:6167;"),
        (
            "--upstream",
            "homeserver.internal:8008",
            "server homeserver.internal:8008;",
        ),
        (
            "--server-name",
            "xn--bcher-kva.example",
            "xn--bcher-kva.example",
        ),
        ("--server-name", "a-b.c0.example", "a-b.c0.example"),
        ("--listen-address", "[::1]", "listen [::1]:443"),
    ] {
        let out = dir.path().join(format!("out-{}", value.len()));
        let mut command = mxproxy();
        command
            .args(["generate", "--proxy", "nginx", "--out"])
            .arg(&out);
        if flag != "--server-name" {
            command.args(["--server-name", "example.com"]);
        }
        let output = command.arg(flag).arg(value).output().unwrap();
        assert!(
            output.status.success(),
            "{flag} {value}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let site = std::fs::read_dir(out.join("nginx"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let text = std::fs::read_to_string(site).unwrap();
        assert!(
            text.contains(expect),
            "{flag} {value}: {expect:?} not in\n{text}"
        );
    }
}
