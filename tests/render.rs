//! One insta snapshot per scenario × generated file. They guard against regressions; the
//! real-server checks in validate.rs are what prove the files work.

use std::path::Path;

use mxproxy::output::{Change, FileStatus};
use mxproxy::render::Templates;
use mxproxy::setup::Layout;

use crate::common::{render_scenario, scenario_names, scenario_path};

fn settings(scenario: &str) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(scenario_path(scenario));
    settings.set_omit_expression(true);
    settings
}

/// `nginx/matrix.example.com.conf` → `nginx__matrix.example.com.conf`.
fn snapshot_name(scenario: &str, path: &std::path::Path) -> String {
    let group = path
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_str()
        .unwrap();
    let file = path.file_name().unwrap().to_str().unwrap();
    if group == file {
        format!("{scenario}__{file}")
    } else {
        format!("{scenario}__{group}__{file}")
    }
}

#[test]
fn every_scenario_file_matches_its_snapshot() {
    let mut expected = std::collections::BTreeSet::new();
    for scenario in scenario_names() {
        let (plan, files) = render_scenario(&scenario);
        let statuses: Vec<FileStatus> = files
            .iter()
            .map(|file| FileStatus {
                path: file.path.display().to_string(),
                status: Change::Created,
            })
            .collect();
        // What `generate` prints: the summary of the same layout, its colour stripped as
        // anstream strips it on a pipe.
        let summary = Templates::builtin()
            .summary(
                &plan,
                Path::new("mxproxy-out"),
                &statuses,
                false,
                Layout::Folder,
            )
            .unwrap();
        let summary = anstream::adapter::strip_str(&summary.text).to_string();
        expected.extend(
            files
                .iter()
                .map(|file| snapshot_name(&scenario, &file.path))
                .chain([format!("{scenario}__summary.txt")]),
        );
        settings(&scenario).bind(|| {
            for file in &files {
                insta::assert_snapshot!(snapshot_name(&scenario, &file.path), file.content);
            }
            insta::assert_snapshot!(format!("{scenario}__summary.txt"), summary);
        });
    }
    // A snapshot no scenario produces any more is never compared, only left to mislead.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots");
    let stale: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".snap").map(String::from))
        .filter(|name| !expected.contains(name))
        .collect();
    assert!(
        stale.is_empty(),
        "snapshots no scenario produces: {stale:?}"
    );
}
