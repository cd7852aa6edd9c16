//! Tests that start real servers run in a private network namespace of their own, so
//! ports 80, 443 and 8448 are free and no packet can leave the machine: the namespace has
//! loopback and nothing else. A multi-threaded test process cannot move itself into a new
//! namespace, so the test re-runs its own binary, filtered to itself, under
//! `unshare --net` with loopback brought up; the variable below tells the re-run that it
//! is the inside, and the inside checks for itself that it has no other interface.

use std::process::Command;
use std::time::Instant;

use super::{in_ci, require_tool};

/// Set to the test's name in the re-run inside the namespace.
const INSIDE: &str = "MXPROXY_NETNS_TEST";
/// Set to the outer run's namespace (`net:[inode]`), which the inside must not be in.
const OUTER: &str = "MXPROXY_NETNS_OUTER";

/// `module_path!()` starts with the test binary's crate name; libtest names tests without it.
pub fn test_name(module_path: &str, function: &str) -> String {
    let module = module_path.split_once("::").map_or("", |(_, rest)| rest);
    format!("{module}::{function}")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            Some(line.split_whitespace().nth(1)? == "0")
        })
        .unwrap_or(false)
}

/// The network interfaces this process sees (`/proc/self/net/dev` follows the namespace).
fn interfaces() -> Vec<String> {
    let dev = std::fs::read_to_string("/proc/self/net/dev").expect("/proc/self/net/dev");
    dev.lines()
        .skip(2)
        .filter_map(|line| Some(line.split_once(':')?.0.trim().to_string()))
        .collect()
}

/// This process's network namespace, as `net:[inode]`.
fn namespace() -> String {
    std::fs::read_link("/proc/self/ns/net")
        .map(|link| link.display().to_string())
        .unwrap_or_else(|e| panic!("/proc/self/ns/net: {e}"))
}

/// The inside half: the variable names this test, the namespace is not the outer run's,
/// and loopback is its only interface. A test that starts servers must never run on the
/// host's own network, even when the variables are set by hand.
fn assert_inside(name: &str) {
    assert_eq!(
        std::env::var(INSIDE).as_deref(),
        Ok(name),
        "{name} starts real servers and runs only in the namespace its outer run creates"
    );
    let outer =
        std::env::var(OUTER).unwrap_or_else(|_| panic!("{name}: {INSIDE} is set without {OUTER}"));
    assert_ne!(
        outer,
        namespace(),
        "{name}: {INSIDE} is set, but this is the outer run's network namespace"
    );
    assert_eq!(
        interfaces(),
        ["lo"],
        "{name}: {INSIDE} is set, but this is not a private network namespace"
    );
}

/// Runs `body` inside a fresh network namespace (see the module comment). Not root and
/// not in CI: one loud line and nothing else. In CI every reason to skip is a failure.
pub fn run(name: &str, body: impl FnOnce()) {
    if std::env::var_os(INSIDE).is_some() {
        assert_inside(name);
        return body();
    }
    if !is_root() {
        assert!(
            !in_ci(),
            "{name}: tests with real servers need root for `unshare --net`, and CI=true forbids skipping"
        );
        eprintln!(
            "SKIPPED: {name}: tests with real servers need root (`unshare --net`, ports 80/443); run them as root, e.g. `sudo -E cargo test --test integration traffic`"
        );
        return;
    }
    let (Some(unshare), Some(_ip)) = (require_tool("unshare"), require_tool("ip")) else {
        return;
    };
    let exe = std::env::current_exe().expect("the test binary's path");
    let started = Instant::now();
    let output = Command::new(unshare)
        .args(["--net", "--", "sh", "-c"])
        .arg(r#"PATH="$PATH:/usr/sbin:/sbin"; ip link set lo up && exec "$0" "$@""#)
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, name)
        .env(OUTER, namespace())
        .output()
        .unwrap_or_else(|e| panic!("{name}: cannot run unshare: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name} failed inside its network namespace ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // A filter that matched nothing also exits 0: require that exactly this test ran.
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{name} did not run exactly once inside its namespace:\n{stdout}\n{stderr}"
    );
    eprint!("{stderr}");
    eprintln!(
        "{name}: {:.1} s in its namespace",
        started.elapsed().as_secs_f64()
    );
}

/// `#[test] fn NAME() BODY`, with BODY run inside a network namespace of its own.
macro_rules! netns_test {
    ($(#[$meta:meta])* fn $name:ident() $body:block) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            $crate::common::netns::run(
                &$crate::common::netns::test_name(module_path!(), stringify!($name)),
                || $body,
            )
        }
    };
}
pub(crate) use netns_test;
