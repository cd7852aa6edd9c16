//! Each real-traffic test runs in a private network namespace of its own, so ports 80, 443
//! and 8448 are free and no packet can leave the machine. A multi-threaded test process
//! cannot move itself into a new namespace, so the test re-runs its own binary, filtered to
//! itself, under `unshare --net` with loopback brought up; the variable below tells the
//! re-run that it is the inside.

use std::process::Command;

use crate::common::{in_ci, require_tool};

/// Set to the test's name in the re-run inside the namespace.
const INSIDE: &str = "MXPROXY_NETNS_TEST";

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

/// Runs `body` inside a fresh network namespace (see the module comment). Not root and
/// not in CI: one loud line and nothing else. In CI every reason to skip is a failure.
pub fn run(name: &str, body: impl FnOnce()) {
    if std::env::var(INSIDE).as_deref() == Ok(name) {
        return body();
    }
    if !is_root() {
        assert!(
            !in_ci(),
            "{name}: real-traffic tests need root for `unshare --net`, and CI=true forbids skipping"
        );
        eprintln!(
            "SKIPPED: {name}: real-traffic tests need root (`unshare --net`, ports 80/443); run them as root, e.g. `sudo -E cargo test --test integration traffic`"
        );
        return;
    }
    let (Some(unshare), Some(_ip)) = (require_tool("unshare"), require_tool("ip")) else {
        return;
    };
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(unshare)
        .args(["--net", "--", "sh", "-c"])
        .arg(r#"PATH="$PATH:/usr/sbin:/sbin"; ip link set lo up && exec "$0" "$@""#)
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, name)
        .output()
        .unwrap_or_else(|e| panic!("{name}: cannot run unshare: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // A filter that matched nothing also exits 0: require that exactly this test ran.
    let ran = stdout.contains("test result: ok. 1 passed");
    assert!(
        output.status.success() && ran,
        "{name} failed inside its network namespace ({}):\n{stdout}\n{stderr}",
        output.status
    );
    eprint!("{stderr}");
}

/// `#[test] fn NAME() BODY`, with BODY run inside a network namespace of its own.
macro_rules! netns_test {
    ($(#[$meta:meta])* fn $name:ident() $body:block) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            $crate::traffic::netns::run(
                &$crate::traffic::netns::test_name(module_path!(), stringify!($name)),
                || $body,
            )
        }
    };
}
pub(crate) use netns_test;
