//! What the worker table costs (issue 18): the nginx config `mxproxy generate --homeserver
//! synapse` writes with a worker in every group (`--worker`, two for the groups that hash)
//! against the same command with one upstream, in the same rounds. Two requests: the small
//! JSON GET (`/_matrix/client/versions`, a client-reader's path with workers) and `GET
//! /_matrix/client/v3/sync` with one of 64 access tokens (hashed onto a sync worker). Every
//! worker address is a listener of the same stand-in upstream, on the same runtime, so
//! both configs meet the same upstream and only the routing differs. Target: the worker
//! config at least 0.9× the single upstream's requests/s.

use std::fmt::Write as _;
use std::path::Path;

use super::{
    Counters, Files, Proxy, Role, Samples, Settings, Target, UPSTREAM, VERSIONS_PATH, measure,
    median, ratio, spread, start,
};

const SYNC_PATH: &str = "/_matrix/client/v3/sync";

#[path = "../../tests/common/worker_groups.rs"]
mod worker_groups;
use worker_groups::EVERY_GROUP as GROUPS;

/// The workers' addresses: listeners of the stand-in upstream (`start_upstream`).
pub fn worker_addresses() -> Vec<String> {
    (0..GROUPS.len())
        .map(|i| format!("127.0.0.1:{}", 6201 + i))
        .collect()
}

/// `mxproxy generate --proxy nginx --homeserver synapse`, with or without the workers.
fn generate(files: &Files, out: &Path, workers: bool) -> Target {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mxproxy"));
    command
        .args(["generate", "--server-name", "example.com", "--quiet"])
        .args(["--proxy", "nginx", "--homeserver", "synapse"])
        .args(["--upstream", UPSTREAM, "--tls", "files", "--tls-cert"])
        .arg(&files.cert)
        .arg("--tls-key")
        .arg(&files.key)
        .arg("--webroot")
        .arg(files.dir.join("www"))
        .arg("--out")
        .arg(out);
    if workers {
        for (group, address) in GROUPS.iter().zip(worker_addresses()) {
            command.args(["--worker", &format!("{group}={address}")]);
        }
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "mxproxy generate failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Target {
        name: if workers {
            "nginx synapse workers".into()
        } else {
            "nginx synapse single".into()
        },
        proxy: Some(Proxy::Nginx),
        role: Role::Generated,
        config: out.join("nginx/matrix.example.com.conf"),
    }
}

/// The GET script with a different access token per request, from 64.
fn sync_script(dir: &Path, get: &Path) -> std::path::PathBuf {
    let path = dir.join("sync.lua");
    let done = std::fs::read_to_string(get).unwrap();
    let text = format!(
        "local tokens = {{}}\nfor i = 1, 64 do tokens[i] = \"Bearer syt_bench_\" .. i end\n\
         local n = 0\nrequest = function()\n  n = n + 1\n  \
         return wrk.format(\"GET\", nil, {{[\"Authorization\"] = tokens[(n % 64) + 1]}})\nend\n{done}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the comparison and returns its table.
pub fn run(files: &Files, scratch: &Path, settings: &Settings, counters: &Counters) -> String {
    let get = super::wrk_script(scratch, false);
    let sync = sync_script(scratch, &get);
    let targets = [
        generate(files, &scratch.join("workers-single"), false),
        generate(files, &scratch.join("workers-table"), true),
    ];
    let paths = [
        ("versions", VERSIONS_PATH, &get),
        ("sync", SYNC_PATH, &sync),
    ];
    let mut samples = Samples::new();
    for round in 1..=settings.rounds {
        eprintln!("workers round {round}/{}", settings.rounds);
        for target in &targets {
            let _server = start(target, files);
            for &connections in &settings.concurrency {
                for (label, path, script) in paths {
                    let url = format!("https://{}{path}", super::HOST);
                    let name = format!("{} {label}", target.name);
                    if let Some(sample) = measure(&url, connections, settings, script, counters) {
                        eprintln!(
                            "  {name:<34} c={connections:<4} {:>8.0} req/s  {:>7.1} conns/10k",
                            sample.requests_per_second, sample.connections_per_10k
                        );
                        samples.entry((name, connections)).or_default().push(sample);
                    }
                }
            }
        }
    }
    report(&samples, settings)
}

fn report(samples: &Samples, settings: &Settings) -> String {
    let rps = |s: &super::Sample| s.requests_per_second;
    let mut text = format!(
        "\n**The worker table** (nginx, `--homeserver synapse`: a worker in every group, {} \
         workers, against one upstream; same stand-in upstream; `sync` sends one of 64 access \
         tokens; median of {} rounds of {} s, ratio per round then median)\n\n",
        GROUPS.len(),
        settings.rounds,
        settings.seconds
    );
    text.push_str(
        "| request | connections | single upstream req/s | worker table req/s | × single | \
         spread (single, table) | upstream conns / 10k (single, table) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for label in ["versions", "sync"] {
        for &c in &settings.concurrency {
            let single = format!("nginx synapse single {label}");
            let table = format!("nginx synapse workers {label}");
            let (Some(a), Some(b)) = (
                samples.get(&(single.clone(), c)),
                samples.get(&(table.clone(), c)),
            ) else {
                writeln!(text, "| {label} | {c} | failed | | | | |").unwrap();
                continue;
            };
            let all = |list: &[super::Sample]| list.iter().map(rps).collect::<Vec<f64>>();
            let conns = |list: &[super::Sample]| {
                median(list.iter().map(|s| s.connections_per_10k).collect())
            };
            writeln!(
                text,
                "| {label} | {c} | {:.0} | {:.0} | {:.2} | {:.0}%, {:.0}% | {:.0}, {:.0} |",
                median(all(a)),
                median(all(b)),
                ratio(samples, &table, &single, c, rps),
                spread(&all(a)),
                spread(&all(b)),
                conns(a),
                conns(b)
            )
            .unwrap();
        }
    }
    text
}
