//! Every scenario's every file, accepted by the real server or schema that will read it.

use crate::common::{render_scenario, scenario_names, validators};

#[test]
fn every_scenario_is_accepted_by_the_real_servers() {
    let names = scenario_names();
    assert!(names.len() >= 10, "scenarios: {names:?}");
    for name in names {
        let (plan, files) = render_scenario(&name);
        let dir = tempfile::tempdir().unwrap();
        let ran = validators::validate_all(&plan, &files, dir.path());
        eprintln!("{name}: {ran} of {} files checked", files.len());
    }
}
