//! Shared test helpers: scenarios, the CI policy for real tools, running the binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use mxproxy::output::Rendered;
use mxproxy::plan::Plan;
use mxproxy::render::Templates;
use mxproxy::setup::Layout;

pub mod homeserver;
pub mod livekit;
pub mod longpoll;
pub mod netns;
pub mod pki;
pub mod proxy;
pub mod validators;
pub mod worker_groups;

/// `CI=true` turns every "tool missing" skip into a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Finds a real checker on PATH (and in the sbin folders, which a non-root PATH lacks).
/// Missing on a laptop: one loud line and `None`; missing in CI: a failure.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from));
    if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Some(found);
    }
    if in_ci() {
        panic!("`{name}` is not installed, and CI=true forbids skipping: .ci/run must install it");
    }
    eprintln!("SKIPPED: `{name}` is not installed; this real-server check did not run");
    None
}

/// The scenario files in `tests/scenarios/`, by name.
pub fn scenario_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(scenarios_dir())
        .expect("tests/scenarios exists")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "yaml").then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    names
}

pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")
}

pub fn scenario_path(name: &str) -> PathBuf {
    scenarios_dir().join(format!("{name}.yaml"))
}

/// Renders a scenario through the library path `generate` uses: file → setup → plan → files,
/// with the built-in templates in the folder layout. A scenario that names a layout or a
/// template folder is refused: those keys are read by `generate`, not by `merge`, so the
/// snapshots would show the folder layout under a name that says otherwise.
pub fn render_scenario(name: &str) -> (Plan, Vec<Rendered>) {
    let path = scenario_path(name);
    let file = mxproxy::config::read_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        file.layout.is_none() && file.templates.is_none(),
        "{name}: scenarios render the folder layout with the built-in templates; \
         `layout` and `templates` would be ignored"
    );
    let setup =
        mxproxy::config::merge(&Default::default(), file).unwrap_or_else(|e| panic!("{name}: {e}"));
    let rendering = mxproxy::pipeline::render(&setup, &Templates::builtin(), Layout::Folder)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (rendering.plan, rendering.files)
}

/// The built binary, with a clean environment for what mxproxy reads.
pub fn mxproxy() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mxproxy"));
    command.env_remove("NO_COLOR");
    command.env_remove("CLICOLOR_FORCE");
    // Every flag reads MXPROXY_<FLAG>: one left in the developer's shell would change results.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MXPROXY_") {
            command.env_remove(name);
        }
    }
    command
}
