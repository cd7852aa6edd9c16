//! The compose stack's health checks of the proxies that obtain their own certificates
//! (Traefik, Caddy): the `test` of the generated docker-compose.yml, run as the container
//! would, against the real server started on the generated file, passes while the server
//! runs and fails once it stopped. (nginx, Apache and HAProxy's check runs in renewal.rs.)

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::netns::netns_test;
use crate::common::proxy::{Proxy, Running, traefik_static_here};
use crate::common::{mxproxy, require_tool};

const HOMESERVER_HOST: &str = "matrix.example.com";
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The generated stack for `proxy`: its output folder and the proxy service's health
/// check `test`.
fn generate(dir: &Path, proxy: Proxy) -> (PathBuf, Vec<String>) {
    let out = dir.join("out");
    let status = mxproxy()
        .args(["generate", "--server-name", "example.com", "--compose"])
        .args(["--proxy", proxy.flag(), "--tls", "acme", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "mxproxy generate --compose failed");
    let compose: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(out.join("docker-compose.yml")).unwrap())
            .unwrap();
    let test = compose["services"][proxy.flag()]["healthcheck"]["test"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{proxy:?}: no healthcheck test in the stack"))
        .iter()
        .map(|arg| arg.as_str().expect("a string").to_string())
        .collect::<Vec<_>>();
    assert_eq!(test[0], "CMD", "{test:?}");
    (out, test)
}

/// Runs `program` with `args` in `dir`: whether it exits 0.
fn healthy(program: &Path, args: &[String], dir: &Path) -> bool {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

netns_test! {
    fn traefik() {
        let Some(traefik) = require_tool("traefik") else { return };
        let dir = tempfile::tempdir().unwrap();
        let (out, test) = generate(dir.path(), Proxy::Traefik);
        assert_eq!(test[1], "traefik", "{test:?}");
        let config = out.join("traefik/traefik.yml");
        traefik_static_here(&config, &out.join("traefik/dynamic"), dir.path());
        // In the image /etc/traefik/traefik.yml is the file `traefik healthcheck` finds
        // first; here it finds ./traefik.yml of its working directory (Traefik's
        // finder: /etc/traefik, $XDG_CONFIG_HOME, $HOME/.config, then ./). A file at the
        // image's place would be read instead.
        assert!(!Path::new("/etc/traefik/traefik.yml").exists());
        let folder = config.parent().unwrap();
        assert!(
            !healthy(&traefik, &test[2..], folder),
            "Traefik's health check passes before Traefik runs"
        );
        // 80 and 443 for Matrix, and the ping entry point on the container's loopback.
        let running = Running::start(Proxy::Traefik, dir.path(), &config, LOOPBACK, &[80, 443, 8082])
            .expect("traefik is installed");
        assert!(
            healthy(&traefik, &test[2..], folder),
            "Traefik's health check fails while it runs:\n{}",
            running.logs()
        );
        drop(running);
        assert!(
            !healthy(&traefik, &test[2..], folder),
            "Traefik's health check passes with Traefik stopped"
        );
    }
}

netns_test! {
    fn caddy() {
        // The image's wget is busybox's (Alpine): the same applet runs the test here.
        let Some(busybox) = require_tool("busybox") else { return };
        let dir = tempfile::tempdir().unwrap();
        let (out, test) = generate(dir.path(), Proxy::Caddy);
        assert_eq!(test[1], "wget", "{test:?}");
        let config = out.join(Proxy::Caddy.config(HOMESERVER_HOST));
        // `busybox wget …`: the test after `CMD`, the applet named first.
        let applet = &test[1..];
        assert!(
            !healthy(&busybox, applet, dir.path()),
            "Caddy's health check passes before Caddy runs"
        );
        let running = Running::start(Proxy::Caddy, dir.path(), &config, LOOPBACK, &[80, 443, 2019])
            .expect("caddy is installed");
        assert!(
            healthy(&busybox, applet, dir.path()),
            "Caddy's health check fails while it runs:\n{}",
            running.logs()
        );
        drop(running);
        assert!(
            !healthy(&busybox, applet, dir.path()),
            "Caddy's health check passes with Caddy stopped"
        );
    }
}
