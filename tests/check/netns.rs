//! Real servers for `check` tests run only on loopback inside a private network namespace:
//! the outer test re-runs one `#[ignore]`d inner test of this same binary under
//! `unshare --net`, after `ip link set lo up`. The namespace has no other interface, so
//! nothing a test starts can reach beyond 127.0.0.0/8 and ::1, and port 443 is free.
//! (A multi-threaded test process cannot `unshare` itself, hence the re-exec.)

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{in_ci, require_tool};

/// Set in the inner process; the inner test refuses to run without it.
const MARKER: &str = "MXPROXY_CHECK_NETNS";

/// Runs the inner test `inner` (its path without the crate name) in a fresh namespace.
/// Not root and not CI: one loud line and a skip. In CI a skip is a failure.
pub fn run_inside(inner: &str) {
    let is_root = unsafe_free_is_root();
    if !is_root {
        if in_ci() {
            panic!("check tests need root for `unshare --net`, and CI=true forbids skipping");
        }
        eprintln!("SKIPPED: {inner}: not root, so no private network namespace for real servers");
        return;
    }
    if require_tool("unshare").is_none() || require_tool("ip").is_none() {
        return;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let started = Instant::now();
    let output = Command::new("unshare")
        .arg("--net")
        .arg("sh")
        .arg("-c")
        .arg("ip link set lo up && exec \"$0\" \"$@\"")
        .arg(&exe)
        .args([
            inner,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MARKER, "1")
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{inner} failed in its namespace ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // libtest prints "1 passed"; anything else means the filter matched nothing.
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{inner} did not run exactly once:\n{stdout}\n{stderr}"
    );
    eprintln!("{inner}: {:.1} s", started.elapsed().as_secs_f64());
}

/// The inner half: refuse to start servers on the host's own network.
pub fn assert_inside() {
    assert!(
        std::env::var_os(MARKER).is_some(),
        "this test starts real servers and runs only inside the namespace its twin creates"
    );
}

fn unsafe_free_is_root() -> bool {
    // `id -u` keeps the test free of libc calls.
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Waits (bounded) until something accepts TCP connections on `addr`.
pub fn wait_for_port(addr: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{what} did not listen on {addr} within 15 s");
}

/// Defines the outer test `$outer` and its inner twin `$inner`, which the outer one runs
/// in a namespace. The inner one is `#[ignore]`d so that a plain `cargo test` skips it.
macro_rules! netns_test {
    ($outer:ident, $inner:ident, $body:block) => {
        #[test]
        fn $outer() {
            let module = module_path!().split_once("::").map_or("", |(_, rest)| rest);
            $crate::check::netns::run_inside(&format!("{module}::{}", stringify!($inner)));
        }

        #[test]
        #[ignore = "starts real servers; run by its twin inside a network namespace"]
        fn $inner() {
            $crate::check::netns::assert_inside();
            $body
        }
    };
}
