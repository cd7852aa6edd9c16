//! Beside the real-traffic rules (which run real Traefik on a few setups), every scenario's
//! dynamic file is read back as YAML and its routers checked against the plan: hosts,
//! paths, entry points, upstream and body limit.

use std::collections::BTreeSet;

use crate::common::{render_scenario, scenario_names};

/// The matchers of a router rule: `Host(`…`)`, `Path(`…`)` (exact: the RTC service's paths,
/// Element Web's never-cached files), `PathPrefix(`…`)`, `!PathPrefix(`…`)`,
/// `PathRegexp(`…`)` (MAS's compatibility paths), `!PathRegexp(`…`)`.
#[derive(Debug, Default)]
struct Rule {
    hosts: BTreeSet<String>,
    paths: BTreeSet<String>,
    prefixes: BTreeSet<String>,
    excluded_prefixes: BTreeSet<String>,
    regexps: BTreeSet<String>,
    excluded_regexps: BTreeSet<String>,
}

fn parse_rule(rule: &str) -> Rule {
    let mut parsed = Rule::default();
    let mut rest = rule;
    while let Some(open) = rest.find("(`") {
        let name_start = rest[..open]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '!'))
            .map_or(0, |i| i + 1);
        let matcher = &rest[name_start..open];
        let close = rest[open + 2..].find("`)").expect("closed matcher") + open + 2;
        let value = rest[open + 2..close].to_string();
        match matcher {
            "Host" => parsed.hosts.insert(value),
            "Path" => parsed.paths.insert(value),
            "PathPrefix" => parsed.prefixes.insert(value),
            "!PathPrefix" => parsed.excluded_prefixes.insert(value),
            "PathRegexp" => parsed.regexps.insert(value),
            "!PathRegexp" => parsed.excluded_regexps.insert(value),
            other => panic!("unexpected matcher {other} in {rule}"),
        };
        rest = &rest[close + 2..];
    }
    parsed
}

#[test]
fn traefik_routers_cover_the_plan() {
    let mut checked = 0;
    for name in scenario_names() {
        let (plan, files) = render_scenario(&name);
        let Some(dynamic) = files
            .iter()
            .find(|f| f.path.to_str().unwrap().starts_with("traefik/dynamic/"))
        else {
            continue;
        };
        let yaml: serde_yaml::Value = serde_yaml::from_str(&dynamic.content).unwrap();
        let routers = yaml["http"]["routers"].as_mapping().expect("routers");
        let rules: Vec<(Rule, &serde_yaml::Value)> = routers
            .values()
            .map(|router| (parse_rule(router["rule"].as_str().unwrap()), router))
            .collect();
        assert!(plan.traefik.is_some(), "a Traefik file, a Traefik plan");
        // Every router refuses `..` segments: the entry points do not clean paths.
        let dot_segment = BTreeSet::from([plan.paths.dot_segment_regexp.clone()]);
        for site in &plan.sites {
            let entry_points: BTreeSet<String> =
                site.listeners.iter().map(|l| l.id.clone()).collect();
            if site.well_known {
                assert!(
                    rules.iter().any(|(rule, _)| rule.hosts.contains(&site.host)
                        && rule.prefixes.contains("/.well-known/matrix/")
                        && rule.excluded_regexps == dot_segment),
                    "{name}: no router serves the well-known documents on {}",
                    site.host
                );
            }
            if site.matrix {
                let (rule, router) = rules
                    .iter()
                    .find(|(rule, _)| {
                        rule.hosts.contains(&site.host)
                            && plan
                                .homeserver
                                .prefixes
                                .iter()
                                .all(|p| rule.prefixes.contains(p))
                    })
                    .unwrap_or_else(|| panic!("{name}: no router forwards {}", site.host));
                let excluded: BTreeSet<String> =
                    plan.homeserver.blocked_prefixes.iter().cloned().collect();
                assert_eq!(
                    rule.excluded_prefixes, excluded,
                    "{name}: excluded prefixes"
                );
                let excluded_regexps: BTreeSet<String> = dot_segment
                    .iter()
                    .chain(&plan.paths.blocked_regexps)
                    .cloned()
                    .collect();
                assert_eq!(
                    rule.excluded_regexps, excluded_regexps,
                    "{name}: excluded paths"
                );
                let routed: BTreeSet<String> = router["entryPoints"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_string())
                    .collect();
                assert_eq!(
                    routed, entry_points,
                    "{name}: entry points of {}",
                    site.host
                );
                let service = router["service"].as_str().unwrap();
                let servers = &yaml["http"]["services"][service]["loadBalancer"]["servers"];
                assert_eq!(
                    servers[0]["url"].as_str(),
                    Some(plan.upstream.url.as_str()),
                    "{name}: upstream"
                );
                let limited = router["middlewares"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .any(|m| {
                        yaml["http"]["middlewares"][m.as_str().unwrap()]["buffering"]
                            ["maxRequestBodyBytes"]
                            .as_u64()
                            == Some(plan.limits.max_upload_bytes)
                    });
                assert!(
                    limited,
                    "{name}: no body limit of {} bytes",
                    plan.limits.max_upload_bytes
                );
            }
        }
        // The authorization service's paths, each matched whole on the RTC host.
        if let Some(rtc) = &plan.rtc {
            let auth: BTreeSet<String> = rtc.auth_paths.iter().cloned().collect();
            assert!(
                rules
                    .iter()
                    .any(|(rule, _)| rule.hosts.contains(&rtc.host) && rule.paths == auth),
                "{name}: no router takes {auth:?} on {}",
                rtc.host
            );
        }
        if let Some(mas) = &plan.mas {
            let (_, router) = rules
                .iter()
                .find(|(rule, _)| rule.regexps.contains(&mas.compat_regex))
                .unwrap_or_else(|| panic!("{name}: no router sends login to MAS"));
            let service = router["service"].as_str().unwrap();
            assert_eq!(
                yaml["http"]["services"][service]["loadBalancer"]["servers"][0]["url"].as_str(),
                Some(mas.url.as_str()),
                "{name}: MAS upstream"
            );
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} scenarios have a Traefik file");
}
