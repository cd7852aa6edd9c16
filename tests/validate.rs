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
    // Synapse reads several writers for these streams (see `multi_writer_streams`).
    assert!(synapse_fragment(
        "stream_writers:\n  receipts: [receipts1, receipts2]\n  device_lists: [d1, d2]\n  typing: typing1\n"
    ));
    for bad in [
        "max_upload_sise: 1048576\n",
        "listeners:\n  - port: \"eighty\"\n    type: http\n",
        "serve_server_wellknown: maybe\n",
        "stream_writers:\n  typing: [typing1, typing2]\n",
        "stream_writers:\n  receipts: [1, 2]\n",
    ] {
        let refused = std::panic::catch_unwind(|| synapse_fragment(bad)).is_err();
        assert!(refused, "accepted: {bad}");
    }
}

/// The LiveKit check is only worth something if it refuses a key LiveKit does not know, a
/// port that is no number, and the UDP mux together with a port range.
#[test]
fn the_livekit_config_check_refuses_unknown_keys_and_wrong_types() {
    use crate::common::validators::livekit_config;
    let good = "port: 7880\nrtc:\n  tcp_port: 7881\n  udp_port: 7882\n  use_external_ip: true\nroom:\n  auto_create: false\n";
    assert!(livekit_config(good));
    for (from, to) in [
        ("port: 7880", "prot: 7880"),
        ("  tcp_port: 7881", "  tcp_prot: 7881"),
        ("auto_create: false", "auto_create: nope"),
        ("port: 7880", "port: eighty"),
        (
            "  udp_port: 7882\n",
            "  udp_port: 7882\n  port_range_start: 50000\n",
        ),
        ("room:\n", "rooms:\n"),
    ] {
        let bad = good.replace(from, to);
        assert_ne!(bad, good, "{from}");
        let refused = std::panic::catch_unwind(|| livekit_config(&bad)).is_err();
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

/// What no validator sees in a compose stack with MAS, checked across its files: MAS trusts
/// exactly the proxy's fixed address, which lies in the network's subnet and outside the
/// range Docker hands out; the services wait for what they need; every secret is a `.env`
/// variable that stops compose when unset; Synapse and MAS reach each other by service name.
#[test]
fn the_compose_stack_with_mas_fits_together() {
    let mut checked = 0;
    for name in crate::common::scenario_names() {
        let (plan, files) = render_scenario(&name);
        let (Some(compose), Some(mas)) = (&plan.compose, &plan.mas) else {
            continue;
        };
        let yaml = |path: &str| -> serde_yaml::Value {
            let file = files
                .iter()
                .find(|f| f.path.to_str() == Some(path))
                .unwrap();
            serde_yaml::from_str(&file.content).unwrap()
        };
        let stack = yaml("docker-compose.yml");
        let fragment = yaml("mas/mxproxy.yaml");
        let synapse = yaml("synapse/mxproxy.yaml");
        let services = &stack["services"];
        let proxy = &services[compose.service.as_str()];
        let address: std::net::Ipv4Addr = proxy["networks"]["default"]["ipv4_address"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let ipam = &stack["networks"]["default"]["ipam"]["config"][0];
        let within = |network: &str| {
            let (base, bits) = network.split_once('/').unwrap();
            let (base, bits): (std::net::Ipv4Addr, u32) =
                (base.parse().unwrap(), bits.parse().unwrap());
            let mask = u32::MAX << (32 - bits);
            u32::from(address) & mask == u32::from(base) & mask
        };
        assert!(within(ipam["subnet"].as_str().unwrap()), "{name}");
        assert!(!within(ipam["ip_range"].as_str().unwrap()), "{name}");
        assert_eq!(
            fragment["http"]["trusted_proxies"],
            serde_yaml::Value::from(vec![format!("{address}/32")]),
            "{name}"
        );
        // Ordering: the proxy after the homeserver and MAS, MAS after a healthy database.
        let depends: Vec<&str> = proxy["depends_on"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        // The services as the plan names them (after their upstreams' hosts), which every
        // reference below must use.
        let (homeserver_service, mas_name) = (
            &compose.homeserver_service,
            &compose.mas.as_ref().unwrap().service,
        );
        assert!(
            depends.starts_with(&[homeserver_service.as_str(), mas_name.as_str()]),
            "{name}: {depends:?}"
        );
        let mas_service = &services[mas_name.as_str()];
        let database = mas_service["depends_on"].as_mapping().unwrap();
        assert_eq!(database.len(), 1, "{name}");
        let (database, condition) = database.iter().next().unwrap();
        assert_eq!(condition["condition"], "service_healthy", "{name}");
        assert!(
            services[database.as_str().unwrap()]["healthcheck"]["test"].is_sequence(),
            "{name}"
        );
        assert_eq!(
            fragment["database"]["host"], *database,
            "{name}: MAS's database host"
        );
        // Secrets: `${VAR:?…}` wherever a variable is read, so compose stops when it is unset.
        let text = &files
            .iter()
            .find(|f| f.path.to_str() == Some("docker-compose.yml"))
            .unwrap()
            .content;
        for (at, _) in text.match_indices("${") {
            let variable = &text[at + 2..];
            let end = variable.find('}').unwrap();
            assert!(
                variable[..end].contains(":?"),
                "{name}: {}",
                &variable[..end]
            );
        }
        let secret = stack["secrets"]
            .as_mapping()
            .unwrap()
            .keys()
            .next()
            .unwrap();
        assert_eq!(
            synapse["matrix_authentication_service"]["secret_path"],
            serde_yaml::Value::from(format!("/run/secrets/{}", secret.as_str().unwrap())),
            "{name}"
        );
        assert_eq!(
            services[homeserver_service.as_str()]["secrets"][0],
            *secret,
            "{name}"
        );
        assert!(fragment["matrix"].get("secret_file").is_none(), "{name}");
        // Each reaches the other by its service name, on the port the other listens on.
        assert_eq!(
            fragment["matrix"]["endpoint"],
            serde_yaml::Value::from(format!(
                "http://{homeserver_service}:{}/",
                plan.homeserver.listen.port
            )),
            "{name}"
        );
        let listener = &fragment["http"]["listeners"][0];
        assert_eq!(listener["binds"][0]["host"], "0.0.0.0", "{name}");
        let endpoint = synapse["matrix_authentication_service"]["endpoint"]
            .as_str()
            .unwrap();
        assert!(
            endpoint.starts_with(&format!(
                "http://{mas_name}:{}/",
                listener["binds"][0]["port"].as_u64().unwrap()
            )),
            "{name}: {endpoint}"
        );
        assert_eq!(
            mas.address,
            format!("{mas_name}:{}", mas.listen_port),
            "{name}"
        );
        checked += 1;
    }
    assert!(checked >= 3, "compose scenarios with MAS: {checked}");
}

/// What no validator sees in a compose stack with calls, checked across its files: the
/// proxy reaches LiveKit and its authorization service by the names and ports the services
/// have; LiveKit's media ports are published with the same number outside as inside and
/// are the ones its config names; both read the same `.env` key and secret, which stop
/// compose when unset; the authorization service hands out the RTC host's URL and serves
/// the server name's users in full.
#[test]
fn the_compose_stack_with_calls_fits_together() {
    let mut checked = 0;
    for name in crate::common::scenario_names() {
        let (plan, files) = render_scenario(&name);
        let (Some(compose), Some(rtc)) = (&plan.compose, &plan.rtc) else {
            continue;
        };
        let stack = compose
            .rtc
            .as_ref()
            .expect("--rtc --compose has its services");
        let yaml = |path: &str| -> serde_yaml::Value {
            let file = files
                .iter()
                .find(|f| f.path.to_str() == Some(path))
                .unwrap_or_else(|| panic!("{name}: no {path}"));
            serde_yaml::from_str(&file.content).unwrap()
        };
        let stack_file = yaml("docker-compose.yml");
        let livekit_config = yaml(&stack.livekit_config_file);
        let services = &stack_file["services"];
        let livekit = &services[stack.livekit_service.as_str()];
        let auth = &services[stack.auth_service.as_str()];
        let port = |address: &str| address.rsplit_once(':').unwrap().1.parse::<u64>().unwrap();
        // The proxy's upstreams are the services, by name and port.
        assert_eq!(
            rtc.livekit_address,
            format!(
                "{}:{}",
                stack.livekit_service,
                livekit_config["port"].as_u64().unwrap()
            ),
            "{name}"
        );
        let bind = auth["environment"]["LIVEKIT_JWT_BIND"].as_str().unwrap();
        assert_eq!(
            rtc.auth_address,
            format!("{}:{}", stack.auth_service, port(bind)),
            "{name}"
        );
        assert!(rtc.resolver.is_some(), "{name}: names resolved per request");
        let depends: Vec<&str> = services[compose.service.as_str()]["depends_on"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        for service in [&stack.livekit_service, &stack.auth_service] {
            assert!(depends.contains(&service.as_str()), "{name}: {depends:?}");
        }
        // Media ports: published 1:1, and the ones LiveKit's config names.
        let published: Vec<&str> = livekit["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        let expected = [
            format!(
                "{0}:{0}/tcp",
                livekit_config["rtc"]["tcp_port"].as_u64().unwrap()
            ),
            format!(
                "{0}:{0}/udp",
                livekit_config["rtc"]["udp_port"].as_u64().unwrap()
            ),
        ];
        assert_eq!(published, expected, "{name}");
        for media in &rtc.media_ports {
            let (number, protocol) = media.ports.split_once('/').unwrap();
            assert!(
                published.contains(&format!("{number}:{number}/{protocol}").as_str()),
                "{name}: the summary's {} is not published",
                media.ports
            );
        }
        assert!(
            !published
                .iter()
                .any(|p| p.starts_with(&format!("{}:", port(&rtc.livekit_address)))),
            "{name}: LiveKit's HTTP port is the proxy's to reach, not published"
        );
        // The health check asks LiveKit's own port.
        let test = livekit["healthcheck"]["test"].as_sequence().unwrap();
        let url = test.last().unwrap().as_str().unwrap();
        assert_eq!(
            url,
            format!("http://127.0.0.1:{}/", port(&rtc.livekit_address)),
            "{name}"
        );
        // One key and secret, from .env, for both.
        let key = format!("${{{0}:?set {0} in .env}}", stack.key_env);
        let secret = format!("${{{0}:?set {0} in .env}}", stack.secret_env);
        assert_eq!(
            livekit["environment"]["LIVEKIT_KEYS"].as_str(),
            Some(format!("{key}: {secret}").as_str()),
            "{name}"
        );
        assert_eq!(
            auth["environment"]["LIVEKIT_KEY"].as_str(),
            Some(key.as_str()),
            "{name}"
        );
        assert_eq!(
            auth["environment"]["LIVEKIT_SECRET"].as_str(),
            Some(secret.as_str()),
            "{name}"
        );
        assert_eq!(
            auth["environment"]["LIVEKIT_URL"].as_str(),
            Some(format!("wss://{}", rtc.host).as_str()),
            "{name}"
        );
        assert_eq!(
            auth["environment"]["LIVEKIT_FULL_ACCESS_HOMESERVERS"].as_str(),
            Some(plan.server_name.as_str()),
            "{name}"
        );
        assert_eq!(livekit_config["room"]["auto_create"], false, "{name}");
        checked += 1;
    }
    assert!(checked >= 2, "scenarios with --rtc --compose: {checked}");
}

/// What no validator sees in a compose stack with Synapse's workers, checked across its
/// files: every worker is a service that runs Synapse's generic worker with its own file
/// mounted and is the address the proxy and `instance_map` name; the main process waits
/// for a healthy PostgreSQL and Redis, the workers for a healthy main process, the proxy
/// for all of them; the fragment names the services, not loopback, and holds no password.
#[test]
fn the_compose_stack_with_workers_fits_together() {
    let mut checked = 0;
    for name in crate::common::scenario_names() {
        let (plan, files) = render_scenario(&name);
        let (Some(compose), Some(workers)) = (&plan.compose, &plan.workers) else {
            continue;
        };
        let stack = compose.workers.as_ref().expect("--worker --compose");
        let text = |path: &str| -> &str {
            &files
                .iter()
                .find(|f| f.path.to_str() == Some(path))
                .unwrap_or_else(|| panic!("{name}: no {path}"))
                .content
        };
        let yaml = |path: &str| -> serde_yaml::Value { serde_yaml::from_str(text(path)).unwrap() };
        let stack_file = yaml("docker-compose.yml");
        let fragment = yaml("synapse/mxproxy.yaml");
        let services = &stack_file["services"];
        let healthy = |service: &serde_yaml::Value, needs: &str| {
            assert_eq!(
                service["depends_on"][needs]["condition"], "service_healthy",
                "{name}: waits for {needs}"
            );
            assert!(
                services[needs]["healthcheck"]["test"].is_sequence(),
                "{name}: {needs}"
            );
        };
        let main = &services["homeserver"];
        healthy(main, stack.database_service);
        healthy(main, stack.redis_service);
        let proxy_depends: Vec<&str> = services[compose.service.as_str()]["depends_on"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        let servers: Vec<&String> = workers.groups.iter().flat_map(|g| &g.servers).collect();
        assert_eq!(
            workers.synapse.processes.len(),
            stack.services.len(),
            "{name}"
        );
        for (process, service) in workers.synapse.processes.iter().zip(&stack.services) {
            let container = &services[service.service.as_str()];
            healthy(container, "homeserver");
            assert!(proxy_depends.contains(&service.service.as_str()), "{name}");
            let command: Vec<&str> = container["command"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect();
            assert_eq!(
                command[..3],
                ["run", "-m", "synapse.app.generic_worker"],
                "{name}"
            );
            let mount = format!("./{}:{}:ro", process.file, service.config_path);
            assert!(
                container["volumes"]
                    .as_sequence()
                    .unwrap()
                    .contains(&mount.as_str().into()),
                "{name}: {mount}"
            );
            assert!(command.contains(&format!("--config-path={}", service.config_path).as_str()));
            let worker = yaml(&process.file);
            assert_eq!(worker["worker_name"], process.name.as_str(), "{name}");
            let address = format!("{}:{}", service.service, process.port);
            assert!(
                servers.contains(&&address),
                "{name}: the proxy names {address}"
            );
            assert_eq!(
                container["environment"]["PGPASSWORD"],
                main["environment"]["PGPASSWORD"]
            );
        }
        // The fragment: the stack's services, no loopback, no password.
        assert_eq!(fragment["redis"]["host"], stack.redis_service, "{name}");
        assert_eq!(
            fragment["database"]["args"]["host"], stack.database_service,
            "{name}"
        );
        assert!(
            fragment["database"]["args"].get("password").is_none(),
            "{name}"
        );
        for (instance, at) in fragment["instance_map"].as_mapping().unwrap() {
            let host = at["host"].as_str().unwrap();
            assert!(
                !host.starts_with("127.") && host != "localhost",
                "{name}: {instance:?}"
            );
            assert!(services[host].is_mapping(), "{name}: {host} is a service");
        }
        assert!(text("docker-compose.yml").contains(&format!(
            "${{{0}:?set {0} in .env}}",
            stack.database_password_env
        )));
        checked += 1;
    }
    assert!(checked >= 1, "compose scenarios with workers: {checked}");
}
