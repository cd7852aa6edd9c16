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

/// The MAS check refuses what MAS's schema refuses: an unknown key, a resource MAS does not
/// have, a port that is no number, a public base that is no URL, and a key that is missing.
#[test]
fn the_mas_fragment_check_refuses_what_mas_would_refuse() {
    use crate::common::validators::mas_fragment;
    let good = "http:\n  public_base: https://auth.example.com/\n  trusted_proxies: [127.0.0.1/32]\n  listeners:\n    - name: web\n      resources:\n        - name: compat\n      binds:\n        - host: 127.0.0.1\n          port: 8080\nmatrix:\n  homeserver: example.com\n  endpoint: http://127.0.0.1:8008/\n";
    assert!(mas_fragment(good));
    for (from, to) in [
        ("public_base:", "public_bse:"),
        ("name: compat", "name: admin"),
        ("port: 8080", "port: eighty"),
        ("https://auth.example.com/", "auth example"),
        ("  endpoint:", "  endpiont:"),
        (
            "      binds:\n        - host: 127.0.0.1\n          port: 8080\n",
            "",
        ),
    ] {
        let bad = good.replace(from, to);
        assert_ne!(bad, good, "{from}");
        let refused = std::panic::catch_unwind(|| mas_fragment(&bad)).is_err();
        assert!(refused, "accepted: {bad}");
    }
}
