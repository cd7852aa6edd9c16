//! Every scenario's every file, accepted by the real server or schema that will read it.

use crate::common::{in_ci, render_scenario, scenario_names, validators};

#[test]
fn every_scenario_is_accepted_by_the_real_servers() {
    let names = scenario_names();
    assert!(names.len() >= 10, "scenarios: {names:?}");
    for name in names {
        let (plan, files) = render_scenario(&name);
        let dir = tempfile::tempdir().unwrap();
        let ran = validators::validate_all(&plan, &files, dir.path());
        eprintln!("{name}: {ran} of {} files checked", files.len());
        // Each validator panics in CI when its tool is missing; this also catches one that
        // would quietly report "not checked".
        if in_ci() {
            assert_eq!(ran, files.len(), "{name}: not every file was checked in CI");
        }
    }
}

/// The Synapse check is only worth something if it refuses what Synapse would refuse.
#[test]
fn the_synapse_fragment_check_refuses_unknown_keys_and_wrong_types() {
    use crate::common::validators::synapse_fragment;
    let good = "max_upload_size: 1048576\nlisteners:\n  - port: 8008\n    type: http\n    x_forwarded: true\n";
    assert!(synapse_fragment(good));
    for bad in [
        "max_upload_sise: 1048576\n",
        "listeners:\n  - port: \"eighty\"\n    type: http\n",
        "serve_server_wellknown: maybe\n",
    ] {
        let refused = std::panic::catch_unwind(|| synapse_fragment(bad)).is_err();
        assert!(refused, "accepted: {bad}");
    }
}
