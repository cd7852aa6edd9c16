//! The network benchmarks (dataplane, longpoll) run inside a private network namespace:
//! only loopback exists, so no packet can leave the machine and ports 80, 443 and 8448 are
//! free. `enter` re-runs the benchmark there.

use std::path::PathBuf;
use std::process::Command;

/// Set in the re-run inside the namespace.
const INSIDE: &str = "MXPROXY_BENCH_NETNS";

/// Returns at once in the re-run inside the namespace. Otherwise checks for root and for
/// `tools` (beside `unshare` and `ip`; `install` says how to get them), re-runs this
/// binary under `unshare --net --mount` with loopback up, and exits with its status.
pub fn enter(bench: &str, tools: &[&str], install: &str) {
    if std::env::var_os(INSIDE).is_some() {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "{bench}: needs root for `unshare --net --mount` (a private network namespace); \
             run `sudo -E cargo bench --bench {bench}`"
        );
        std::process::exit(1);
    }
    for tool in ["unshare", "ip"].iter().chain(tools) {
        if find_tool(tool).is_none() {
            eprintln!("{bench}: `{tool}` is not installed ({install})");
            std::process::exit(1);
        }
    }
    let status = Command::new(find_tool("unshare").unwrap())
        .args(["--net", "--mount", "--", "sh", "-c"])
        .arg(r#"PATH="$PATH:/usr/sbin:/sbin"; ip link set lo up && exec "$0""#)
        .arg(std::env::current_exe().unwrap())
        .env(INSIDE, "1")
        .status()
        .expect("cannot run unshare");
    std::process::exit(status.code().unwrap_or(1));
}

/// `name` on PATH or in the sbin directories a root shell has.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from));
    dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
}
