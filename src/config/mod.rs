//! The setup's inputs: one `SetupLayer` type for flags, `MXPROXY_*` variables and the
//! YAML file (layer.rs), merged into one valid `Setup`: flags > file > defaults
//! (merge.rs, kubernetes.rs), and the way back to flags and YAML (args.rs).

mod args;
mod compose;
mod help;
mod kubernetes;
mod layer;
mod merge;
mod rtc;
mod workers;

pub use args::{flags, to_args};
pub use layer::{FILE_ONLY_KEYS, FLAG_ORDER, SetupLayer, parse_file, read_file};
pub use merge::{default_upstream, merge};

#[cfg(test)]
mod tests {
    use clap::Parser;

    use std::path::Path;

    use super::*;
    use crate::cli::{Cli, Command, GenerateArgs};
    use crate::setup::{Homeserver, Port, Proxy, Tls};

    fn args(flags: &[&str]) -> GenerateArgs {
        let cli = Cli::try_parse_from(["mxproxy", "generate"].iter().chain(flags)).unwrap();
        match cli.command {
            Some(Command::Generate(command)) => command.setup,
            _ => unreachable!(),
        }
    }

    fn args_of(flags: &[String]) -> GenerateArgs {
        args(&flags.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn file(yaml: &str) -> SetupLayer {
        parse_file(Path::new("setup.yaml"), yaml).unwrap()
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let setup = merge(
            &args(&["--federation-port", "8448"]),
            file("server_name: example.com\nfederation_port: 8000\nmax_upload: 50M\n"),
        )
        .unwrap();
        assert_eq!(setup.federation_port, Some(Port::new_unchecked(8448)));
        assert_eq!(setup.max_upload.bytes(), 50 << 20);
        assert_eq!(setup.homeserver_host.to_string(), "matrix.example.com");
        assert_eq!(setup.upstream.to_string(), "127.0.0.1:6167");
        assert_eq!(setup.proxies, Proxy::DEFAULT);
    }

    #[test]
    fn a_tls_flag_overrides_file_certificates_without_a_conflict() {
        let setup = merge(
            &args(&["--tls", "acme"]),
            file("server_name: example.com\ntls: files\ntls_cert: /c.pem\ntls_key: /k.pem\n"),
        )
        .unwrap();
        assert_eq!(setup.tls, Tls::Acme { email: None });
    }

    #[test]
    fn a_federation_flag_overrides_no_federation_in_the_file() {
        let setup = merge(
            &args(&["--federation-port", "8448"]),
            file("server_name: example.com\nno_federation: true\n"),
        )
        .unwrap();
        assert_eq!(setup.federation_port, Some(Port::new_unchecked(8448)));
    }

    #[test]
    fn compose_defaults_the_upstream_to_the_service() {
        let setup = merge(
            &args(&["--server-name", "example.com", "--compose"]),
            SetupLayer::default(),
        )
        .unwrap();
        assert_eq!(setup.upstream.to_string(), "homeserver:6167");
    }

    #[test]
    fn the_homeserver_decides_the_default_upstream_port_and_upload_limit() {
        let setup = merge(
            &args(&["--compose", "--homeserver", "tuwunel"]),
            file("server_name: example.com\n"),
        )
        .unwrap();
        assert_eq!(setup.upstream.to_string(), "homeserver:8008");
        assert_eq!(setup.max_upload.bytes(), 24 << 20);
        let setup = merge(
            &args(&[]),
            file("server_name: example.com\nhomeserver: synapse\nproxy: nginx\n"),
        )
        .unwrap();
        assert_eq!(setup.upstream.to_string(), "127.0.0.1:8008");
        assert_eq!(setup.max_upload.bytes(), 50 << 20);
        assert!(setup.warnings.is_empty());
    }

    /// A server name of 247+ characters has no room for `matrix.`: the homeserver then
    /// answers on the server name itself, with a note, instead of exit 2.
    #[test]
    fn a_server_name_too_long_for_the_default_host_is_the_host() {
        let label = "a".repeat(63);
        let name = format!("{label}.{label}.{label}.{}", "b".repeat(55));
        assert_eq!(name.len(), 247);
        let setup = merge(&args(&["--server-name", &name]), SetupLayer::default()).unwrap();
        assert_eq!(setup.homeserver_host.to_string(), name);
        assert!(setup.warnings[0].starts_with(&format!("the homeserver answers on {name} itself")));
        let shorter = &name[..name.len() - 1];
        let setup = merge(&args(&["--server-name", shorter]), SetupLayer::default()).unwrap();
        assert_eq!(
            setup.homeserver_host.to_string(),
            format!("matrix.{shorter}")
        );
        assert!(
            !setup
                .warnings
                .iter()
                .any(|w| w.starts_with("the homeserver answers on"))
        );
    }

    /// Caddy cannot store a certificate for a host of more than 239 characters (its lock
    /// file name): named, it is refused; in the default list it is left out with a note;
    /// with `--tls files` it is kept.
    #[test]
    fn caddy_is_kept_from_names_it_cannot_obtain_a_certificate_for() {
        let label = "a".repeat(63);
        let host = format!("{label}.{label}.{label}.{}", "b".repeat(48));
        assert_eq!(host.len(), 240);
        let base = [
            "--server-name",
            "example.com",
            "--homeserver-host",
            host.as_str(),
        ];
        let refused = merge(
            &args(&[&base[..], &["--proxy", "nginx,caddy"]].concat()),
            SetupLayer::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            refused.starts_with(&format!(
                "--proxy caddy cannot obtain a certificate for {host}: Caddy stores it under file \
                 names that hold a host name of at most 239 characters, and this one has 240;"
            )),
            "{refused}"
        );
        let defaults = merge(&args(&base), SetupLayer::default()).unwrap();
        assert_eq!(
            defaults.proxies,
            [Proxy::Nginx, Proxy::Apache, Proxy::Traefik]
        );
        assert!(defaults.warnings[0].starts_with("left out of the default proxies: --proxy caddy"));
        let files = [
            &base[..],
            &[
                "--proxy",
                "caddy",
                "--tls",
                "files",
                "--tls-cert",
                "/c.pem",
                "--tls-key",
                "/k.pem",
            ],
        ]
        .concat();
        assert_eq!(
            merge(&args(&files), SetupLayer::default()).unwrap().proxies,
            [Proxy::Caddy]
        );
        let fits = &host[1..];
        let named = [
            &["--server-name", "example.com", "--homeserver-host", fits][..],
            &["--proxy", "caddy"],
        ]
        .concat();
        assert!(merge(&args(&named), SetupLayer::default()).is_ok());
    }

    /// Uploads over 2 GiB work with every homeserver but Conduit (whose u32 setting stops
    /// at 4 GiB - 1) and every proxy but HAProxy (whose Content-Length check reads an int);
    /// the refusal names the flag or the key as it was given.
    #[test]
    fn the_upload_limit_is_refused_only_where_a_setting_cannot_hold_it() {
        for homeserver in ["synapse", "continuwuity", "tuwunel", "dendrite"] {
            let setup = merge(
                &args(&[
                    "--server-name",
                    "example.com",
                    "--homeserver",
                    homeserver,
                    "--proxy",
                    "nginx,apache,caddy",
                    "--max-upload",
                    "10G",
                ]),
                SetupLayer::default(),
            )
            .unwrap();
            assert_eq!(setup.max_upload.bytes(), 10 << 30, "{homeserver}");
        }
        let at_most = merge(
            &args(&["--server-name", "example.com", "--max-upload", "4294967295"]),
            SetupLayer::default(),
        )
        .unwrap();
        assert_eq!(at_most.max_upload.bytes(), u64::from(u32::MAX));
        let above =
            |flags: &[&str], yaml: &str| merge(&args(flags), file(yaml)).unwrap_err().to_string();
        assert_eq!(
            above(&["--server-name", "example.com", "--max-upload", "4G"], ""),
            "--max-upload 4G is above 4294967295 bytes, the most Conduit's max_request_size holds: \
             it is a 32-bit number, so Conduit would not start; choose at most that or another \
             homeserver, e.g. --max-upload 4095M"
        );
        assert!(
            above(&[], "server_name: example.com\nmax_upload: 5G\n")
                .starts_with("max_upload: 5G is above 4294967295 bytes")
        );
    }

    #[test]
    fn conduwuit_becomes_tuwunel_and_the_regenerate_command_says_so() {
        let setup = merge(
            &args(&["--server-name", "example.com", "--homeserver", "conduwuit"]),
            SetupLayer::default(),
        )
        .unwrap();
        assert_eq!(setup.homeserver, Homeserver::Tuwunel);
        assert_eq!(setup.warnings.len(), 1);
        assert!(to_args(&setup, false).contains(&"tuwunel".to_string()));
    }

    #[test]
    fn duplicate_proxies_are_dropped_in_order() {
        let setup = merge(
            &args(&[
                "--server-name",
                "example.com",
                "--proxy",
                "caddy,nginx,caddy",
            ]),
            SetupLayer::default(),
        )
        .unwrap();
        assert_eq!(setup.proxies, [Proxy::Caddy, Proxy::Nginx]);
    }

    /// `to_args` is what the header, the wizard and the property tests print as "the
    /// command that reproduces this": it must give the same setup back.
    #[test]
    fn to_args_round_trips() {
        for flags in [
            &["--server-name", "example.com"][..],
            &[
                "--server-name",
                "example.com",
                "--homeserver-host",
                "example.com",
                "--no-federation",
            ],
            &[
                "--server-name",
                "chat.example.net",
                "--homeserver-host",
                "hs.example.net",
                "--upstream",
                "[::1]:8008",
                "--federation-port",
                "8448",
                "--tls",
                "files",
                "--tls-cert",
                "/c.pem",
                "--tls-key",
                "/k.pem",
                "--max-upload",
                "1000000",
                "--webroot",
                "/srv/w",
                "--listen-address",
                "127.0.0.1,::1",
                "--proxy",
                "caddy,nginx",
                "--out",
                "/tmp/x",
            ],
            &[
                "--server-name",
                "example.com",
                "--compose",
                "--proxy",
                "traefik",
                "--tls",
                "none",
            ],
            &[
                "--server-name",
                "example.com",
                "--acme-email",
                "a@example.com",
                "--compose",
                "--upstream",
                "hs:1",
            ],
            &[
                "--server-name",
                "example.com",
                "--homeserver",
                "synapse",
                "--expose-admin",
                "--proxy",
                "nginx",
            ],
            &[
                "--server-name",
                "example.com",
                "--homeserver",
                "dendrite",
                "--compose",
            ],
            &[
                "--server-name",
                "example.com",
                "--kubernetes",
                "--ingress-class",
                "traefik",
                "--cluster-issuer",
                "letsencrypt",
                "--namespace",
                "chat",
            ],
            &[
                "--server-name",
                "example.com",
                "--homeserver",
                "tuwunel",
                "--kubernetes",
                "--gateway",
                "gateway-system/public",
                "--no-federation",
            ],
        ] {
            let setup = merge(&args(flags), SetupLayer::default()).unwrap();
            let again_args = to_args(&setup, true);
            let again_refs: Vec<&str> = again_args.iter().map(String::as_str).collect();
            let again = merge(&args(&again_refs), SetupLayer::default()).unwrap();
            assert_eq!(setup, again, "{flags:?} → {again_args:?}");
        }
    }

    /// The inverse of the layer, for every scenario: the saved YAML and the flags of its
    /// every setting read back to the same layer, and `to_args` to the same setup.
    #[test]
    fn every_scenario_round_trips_through_yaml_and_flags() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
        let mut scenarios = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let setup = merge(&SetupLayer::default(), read_file(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let full = SetupLayer::from(&setup);

            let yaml = serde_yaml::to_string(&full).unwrap();
            let from_yaml = parse_file(Path::new("saved.yaml"), &yaml).unwrap();
            assert_eq!(from_yaml, full, "{}:\n{yaml}", path.display());

            let every_flag = flags(&full);
            assert_eq!(args_of(&every_flag).layer, full, "{every_flag:?}");

            let fewest = to_args(&setup, true);
            let again = merge(&args_of(&fewest), SetupLayer::default()).unwrap();
            assert_eq!(again, setup, "{} → {fewest:?}", path.display());
            scenarios += 1;
        }
        assert!(scenarios >= 20, "only {scenarios} scenarios");
    }

    /// The one definition: every field of `SetupLayer` is a flag with its `MXPROXY_*`
    /// variable and a YAML key of the same name, in the same order, and `to_args` knows
    /// where to print it. Only `layout` and `templates` are file keys without a layer flag.
    #[test]
    fn every_setting_is_a_flag_a_variable_and_a_yaml_key() {
        use clap::Args;
        let command = SetupLayer::augment_args(clap::Command::new("layer"));
        let flags: Vec<&str> = command
            .get_arguments()
            .map(|a| a.get_id().as_str())
            .collect();
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            let flag = layer::flag_of(id);
            let long = flag.trim_start_matches("--");
            assert_eq!(arg.get_long(), Some(long));
            let env = format!("MXPROXY_{}", long.replace('-', "_").to_uppercase());
            assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some(env.as_str()));
        }

        // serde lists every key it knows when it meets one it does not.
        let err = serde_yaml::from_str::<SetupLayer>("not_a_key: 1").unwrap_err();
        let message = err.to_string();
        let known = message.split("expected one of ").nth(1).unwrap();
        let keys: Vec<&str> = known
            .split(", ")
            .map(|key| key.trim_matches(|c: char| c == '`' || !c.is_ascii() || c.is_whitespace()))
            .map(|key| key.split('`').next().unwrap())
            .collect();
        let mut expected = flags.clone();
        expected.extend(FILE_ONLY_KEYS);
        assert_eq!(keys, expected, "{message}");

        let mut ordered = FLAG_ORDER.to_vec();
        let mut all = flags.clone();
        ordered.sort_unstable();
        all.sort_unstable();
        assert_eq!(
            ordered, all,
            "FLAG_ORDER names every flag of the layer once"
        );
    }

    #[test]
    fn an_off_flag_overrides_an_on_key_in_the_file() {
        let file = || file("server_name: example.com\ncompose: true\n");
        assert!(merge(&args(&["--compose"]), file()).unwrap().compose);
        assert!(merge(&args(&[]), file()).unwrap().compose);
        assert!(!merge(&args(&["--compose=false"]), file()).unwrap().compose);
        assert!(!merge(&args(&["--compose=no"]), file()).unwrap().compose);
        assert!(Cli::try_parse_from(["mxproxy", "generate", "--compose", "false"]).is_err());
    }

    /// `layer::on_off` gives every `Option<bool>` field the same flag shape; a field it
    /// missed would need a value (`--rtc` alone an error) and read only true/false.
    #[test]
    fn every_on_off_flag_is_on_alone_and_reads_the_same_words() {
        type Switch = fn(&SetupLayer) -> Option<bool>;
        let switches: [(&str, Switch); 6] = [
            ("--expose-admin", |layer| layer.expose_admin),
            ("--no-federation", |layer| layer.no_federation),
            ("--compose", |layer| layer.compose),
            ("--kubernetes", |layer| layer.kubernetes),
            ("--mas", |layer| layer.mas),
            ("--rtc", |layer| layer.rtc),
        ];
        for (flag, value) in switches {
            assert_eq!(value(&args(&[flag])), Some(true), "{flag}");
            assert_eq!(
                value(&args(&[&format!("{flag}=off")])),
                Some(false),
                "{flag}"
            );
            assert_eq!(value(&args(&[&format!("{flag}=1")])), Some(true), "{flag}");
            assert!(
                Cli::try_parse_from(["mxproxy", "generate", flag, "0"]).is_err(),
                "{flag}"
            );
        }
    }

    #[test]
    fn mas_defaults_to_its_own_host_and_port_on_loopback() {
        use crate::setup::MasPublic;
        let setup = merge(
            &args(&[
                "--server-name",
                "example.com",
                "--homeserver",
                "synapse",
                "--proxy",
                "nginx",
                "--mas",
            ]),
            SetupLayer::default(),
        )
        .unwrap();
        let mas = setup.mas.unwrap();
        assert_eq!(
            mas.public,
            MasPublic::Host("auth.example.com".parse().unwrap())
        );
        assert_eq!(mas.upstream.to_string(), "127.0.0.1:8080");
        let path = merge(
            &args(&["--mas-path", "/auth"]),
            file("server_name: example.com\nhomeserver: synapse\nproxy: nginx\nmas: true\nmas_host: id.example.com\n"),
        )
        .unwrap();
        assert_eq!(
            path.mas.unwrap().public,
            MasPublic::Path("/auth".parse().unwrap())
        );
        let off = merge(
            &args(&["--server-name", "example.com"]),
            SetupLayer::default(),
        )
        .unwrap();
        assert_eq!(off.mas, None);
        let compose = merge(
            &args(&[
                "--server-name",
                "example.com",
                "--homeserver",
                "synapse",
                "--proxy",
                "nginx",
                "--compose",
                "--mas",
            ]),
            SetupLayer::default(),
        )
        .unwrap();
        // Its own service in the stack, on MAS's default port; the homeserver's is another.
        assert_eq!(compose.mas.unwrap().upstream.to_string(), "mas:8080");
        assert_eq!(compose.upstream.to_string(), "homeserver:8008");
    }

    #[test]
    fn mas_contradictions_are_refused_with_the_flag_and_value() {
        let base = [
            "--server-name",
            "example.com",
            "--homeserver",
            "synapse",
            "--proxy",
            "nginx",
        ];
        for (flags, message) in [
            (
                &["--mas-host", "id.example.com"][..],
                "--mas-host id.example.com is only used with --mas, e.g. --homeserver synapse --mas --mas-host id.example.com",
            ),
            (
                &[
                    "--mas",
                    "--mas-host",
                    "id.example.com",
                    "--mas-path",
                    "/auth",
                ][..],
                "--mas-host id.example.com and --mas-path /auth contradict each other",
            ),
            (
                &["--compose", "--upstream", "10.0.0.5:8008"][..],
                "--upstream 10.0.0.5:8008 is an IP address, but the compose stack runs that upstream itself, as the service `homeserver` at an address Docker chooses: the proxy would never reach it. Name the service, e.g. --upstream homeserver:8008, or leave out --compose to proxy to another host",
            ),
            (
                &["--compose", "--upstream", "[2001:db8::5]:8008"][..],
                "--upstream [2001:db8::5]:8008 is an IP address, but the compose stack runs that upstream itself, as the service `homeserver`",
            ),
            (
                &["--mas", "--compose", "--mas-upstream", "10.0.0.6:8080"][..],
                "--mas-upstream 10.0.0.6:8080 is an IP address, but the compose stack runs that upstream itself, as the service `mas` at an address Docker chooses: the proxy would never reach it. Name the service, e.g. --mas-upstream mas:8080",
            ),
            (
                &["--mas", "--compose", "--mas-upstream", "127.0.0.1:8080"][..],
                "--mas-upstream 127.0.0.1:8080 points at the proxy container itself in the compose stack; the proxy and Synapse reach MAS by its service name, e.g. --mas-upstream mas:8080",
            ),
            (
                &["--mas", "--mas-host", "matrix.example.com"][..],
                "--mas-host matrix.example.com: that host is already the homeserver host",
            ),
            (
                &["--mas", "--mas-upstream", "127.0.0.1:8008"][..],
                "--mas-upstream 127.0.0.1:8008 is the homeserver's own upstream; MAS listens on a port of its own, e.g. --mas-upstream 127.0.0.1:8080",
            ),
            (
                &["--mas", "--upstream", "127.0.0.1:8080"][..],
                "--mas-upstream (default) 127.0.0.1:8080 is the homeserver's own upstream; MAS listens on a port of its own, e.g. --mas-upstream 127.0.0.1:8082",
            ),
        ] {
            let all: Vec<&str> = base.iter().chain(flags).copied().collect();
            let error = merge(&args(&all), SetupLayer::default()).unwrap_err();
            assert!(error.to_string().starts_with(message), "{flags:?}: {error}");
            assert_eq!(error.exit_code(), 2, "{flags:?}");
        }
        let kubernetes = merge(
            &args(&[
                "--server-name",
                "example.com",
                "--homeserver",
                "synapse",
                "--kubernetes",
                "--ingress-class",
                "nginx",
                "--mas",
            ]),
            SetupLayer::default(),
        )
        .unwrap_err();
        // MAS needs Synapse, which the manifests cannot run yet: that refusal comes first.
        assert!(
            kubernetes
                .to_string()
                .starts_with("--homeserver synapse cannot be used with --kubernetes yet"),
            "{kubernetes}"
        );
        for (homeserver, message) in [
            (
                "tuwunel",
                "; tuwunel has an OIDC server of its own built in, e.g.",
            ),
            ("conduit", "not with Conduit (--homeserver conduit), e.g."),
        ] {
            let error = merge(
                &args(&[
                    "--server-name",
                    "example.com",
                    "--homeserver",
                    homeserver,
                    "--mas",
                ]),
                SetupLayer::default(),
            )
            .unwrap_err();
            assert!(error.to_string().contains(message), "{error}");
        }
    }

    #[test]
    fn trusted_proxies_and_a_cdn_round_trip_and_refuse_what_would_not_work() {
        let flags = [
            "--server-name",
            "example.com",
            "--proxy",
            "nginx,haproxy",
            "--trusted-proxy",
            "10.0.0.0/8,2001:db8::/32",
            "--cdn",
            "cloudflare",
        ];
        let setup = merge(&args(&flags), SetupLayer::default()).unwrap();
        assert_eq!(setup.trusted_proxies.len(), 2);
        assert_eq!(setup.cdn, Some(crate::setup::Cdn::Cloudflare));
        let again = merge(&args_of(&to_args(&setup, true)), SetupLayer::default()).unwrap();
        assert_eq!(again, setup);
        let yaml = serde_yaml::to_string(&SetupLayer::from(&setup)).unwrap();
        assert_eq!(merge(&SetupLayer::default(), file(&yaml)).unwrap(), setup);
        assert!(
            yaml.contains("trusted_proxy:\n- 10.0.0.0/8\n- 2001:db8::/32\n"),
            "{yaml}"
        );
        // The file takes a comma list as a string too, as the flag does.
        let as_string = file("server_name: example.com\ntrusted_proxy: 10.0.0.0/8, ::1\n");
        assert_eq!(
            merge(&SetupLayer::default(), as_string)
                .unwrap()
                .trusted_proxies,
            [
                "10.0.0.0/8".parse().unwrap(),
                "::1/128".parse::<crate::setup::TrustedProxy>().unwrap()
            ]
        );
        let refused = parse_file(
            Path::new("setup.yaml"),
            "trusted_proxy: 10.0.0.0/8, 10.1.0.0/8\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            refused.contains(
                "key `trusted_proxy`: \"10.1.0.0/8\" has bits set past the prefix length"
            ),
            "{refused}"
        );

        for (extra, key_file, message) in [
            (
                &["--cdn", "cloudflare", "--federation-port", "8448"][..],
                None,
                "--federation-port 8448: Cloudflare does not forward port 8448",
            ),
            (
                &["--federation-port", "8448"][..],
                Some("cdn: cloudflare\n"),
                "--federation-port 8448: Cloudflare does not forward port 8448",
            ),
            (
                &["--cdn", "cloudflare"][..],
                Some("federation_port: 8448\n"),
                "federation_port: 8448: Cloudflare does not forward port 8448",
            ),
        ] {
            let all: Vec<&str> = ["--server-name", "example.com"]
                .iter()
                .chain(extra)
                .copied()
                .collect();
            let error = merge(&args(&all), key_file.map(file).unwrap_or_default()).unwrap_err();
            assert!(error.to_string().starts_with(message), "{extra:?}: {error}");
            assert_eq!(error.exit_code(), 2, "{extra:?}");
        }
        // Cloudflare's other HTTPS ports work; so does federation turned off.
        for extra in [&["--federation-port", "8443"][..], &["--no-federation"]] {
            let all: Vec<&str> = ["--server-name", "example.com", "--cdn", "cloudflare"]
                .iter()
                .chain(extra)
                .copied()
                .collect();
            assert!(
                merge(&args(&all), SetupLayer::default()).is_ok(),
                "{extra:?}"
            );
        }
        // Every proxy recovers the address (Traefik with its plugin): the defaults stay.
        let defaults = merge(
            &args(&[
                "--server-name",
                "example.com",
                "--trusted-proxy",
                "10.0.0.0/8",
            ]),
            SetupLayer::default(),
        )
        .unwrap();
        assert_eq!(defaults.proxies, Proxy::DEFAULT);
        assert!(defaults.warnings.is_empty(), "{:?}", defaults.warnings);
    }
}

#[cfg(test)]
mod rtc_tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn merged(flags: &[&str]) -> Result<crate::setup::Setup, crate::error::Error> {
        let all = ["mxproxy", "generate", "--server-name", "example.com"];
        let cli = Cli::try_parse_from(all.iter().chain(flags)).unwrap();
        let Some(Command::Generate(command)) = cli.command else {
            unreachable!()
        };
        merge(&command.setup, SetupLayer::default())
    }

    #[test]
    fn rtc_defaults_to_its_own_host_and_loopback_ports_clear_of_mas() {
        let setup = merged(&["--rtc", "--proxy", "nginx"]).unwrap();
        let rtc = setup.rtc.unwrap();
        assert_eq!(rtc.host.to_string(), "rtc.example.com");
        assert_eq!(rtc.livekit.to_string(), "127.0.0.1:7880");
        assert_eq!(rtc.auth.to_string(), "127.0.0.1:8070");
        // tuwunel names the focus itself (well_known.livekit_url): Traefik may forward to it.
        let tuwunel = merged(&["--rtc", "--homeserver", "tuwunel", "--proxy", "traefik"]);
        assert!(tuwunel.is_ok(), "{tuwunel:?}");
        let both = merged(&[
            "--rtc",
            "--homeserver",
            "synapse",
            "--mas",
            "--proxy",
            "nginx",
        ]);
        assert!(both.is_ok(), "{both:?}");
        assert_eq!(merged(&[]).unwrap().rtc, None);
        // In the compose stack both are services of their own, reached by name.
        let compose = merged(&["--rtc", "--compose", "--proxy", "nginx"]).unwrap();
        let rtc = compose.rtc.unwrap();
        assert_eq!(rtc.livekit.to_string(), "livekit:7880");
        assert_eq!(rtc.auth.to_string(), "lk-jwt-service:8070");
        // The default proxy list keeps what writes the RTC host, and says what it left out.
        let defaulted = merged(&["--rtc"]).unwrap();
        assert_eq!(
            defaulted.proxies,
            [
                crate::setup::Proxy::Nginx,
                crate::setup::Proxy::Apache,
                crate::setup::Proxy::Caddy
            ]
        );
        assert!(defaulted.warnings.iter().any(|w| w.contains("--rtc")));
    }

    #[test]
    fn rtc_contradictions_are_refused_with_the_flag_and_value() {
        for (flags, message) in [
            (
                &["--rtc-host", "call.example.com"][..],
                "--rtc-host call.example.com is only used with --rtc, e.g. --rtc --rtc-host call.example.com",
            ),
            (
                &[
                    "--rtc",
                    "--kubernetes",
                    "--ingress-class",
                    "nginx",
                    "--tls",
                    "none",
                    "--homeserver",
                    "continuwuity",
                ][..],
                "--rtc cannot be used with --kubernetes: continuwuity answers /.well-known/matrix/ \
                 itself in the cluster, and mxproxy does not write its setting for the calls focus \
                 yet, e.g. --server-name example.com --kubernetes --ingress-class nginx \
                 --homeserver tuwunel --rtc",
            ),
            (
                &[
                    "--rtc",
                    "--kubernetes",
                    "--ingress-class",
                    "nginx",
                    "--tls",
                    "none",
                    "--homeserver",
                    "tuwunel",
                    "--livekit-upstream",
                    "livekit:7880",
                ][..],
                "--livekit-upstream cannot be used with --kubernetes: the routes reach LiveKit \
                 through the Service mxproxy writes",
            ),
            (
                &[
                    "--rtc",
                    "--kubernetes",
                    "--ingress-class",
                    "nginx",
                    "--tls",
                    "none",
                    "--homeserver",
                    "tuwunel",
                    "--no-federation",
                ][..],
                "--rtc cannot be used with --kubernetes: tuwunel answers /.well-known/matrix/ \
                 itself in the cluster, which serves no /.well-known/matrix/server with federation \
                 off",
            ),
            (
                &[
                    "--rtc",
                    "--compose",
                    "--proxy",
                    "nginx",
                    "--livekit-upstream",
                    "127.0.0.1:7880",
                ][..],
                "--livekit-upstream 127.0.0.1:7880 points at the proxy container itself in the \
                 compose stack; the proxy reaches LiveKit and its authorization service by their \
                 service names, e.g. --livekit-upstream livekit:7880",
            ),
            (
                &[
                    "--rtc",
                    "--compose",
                    "--proxy",
                    "nginx",
                    "--rtc-auth-upstream",
                    "10.0.0.7:8070",
                ][..],
                "--rtc-auth-upstream 10.0.0.7:8070 is an IP address, but the compose stack runs \
                 that upstream itself, as the service `lk-jwt-service`",
            ),
            (
                &[
                    "--rtc",
                    "--compose",
                    "--proxy",
                    "haproxy",
                    "--rtc-auth-upstream",
                    "[::1]:8070",
                ][..],
                "--rtc-auth-upstream [::1]:8070 points at the proxy container itself in the \
                 compose stack; the proxy reaches LiveKit and its authorization service by their \
                 service names, e.g. --rtc-auth-upstream lk-jwt-service:8070",
            ),
            (
                &[
                    "--rtc",
                    "--proxy",
                    "traefik",
                    "--homeserver",
                    "continuwuity",
                ][..],
                "--rtc with --proxy traefik: traefik forwards /.well-known/matrix/ to continuwuity \
                 (--homeserver continuwuity), and mxproxy does not write its setting for the calls focus yet",
            ),
            (
                &[
                    "--rtc",
                    "--proxy",
                    "traefik",
                    "--homeserver",
                    "synapse",
                    "--no-federation",
                ][..],
                "--rtc with --proxy traefik: traefik forwards /.well-known/matrix/ to Synapse \
                 (--homeserver synapse), which serves no /.well-known/matrix/server with federation off",
            ),
            (
                &["--rtc", "--proxy", "nginx", "--rtc-host", "example.com"][..],
                "--rtc-host example.com: that host is already the server name",
            ),
            (
                &[
                    "--rtc",
                    "--proxy",
                    "nginx",
                    "--rtc-host",
                    "matrix.example.com",
                ][..],
                "--rtc-host matrix.example.com: that host is already the homeserver host",
            ),
            (
                &[
                    "--rtc",
                    "--proxy",
                    "nginx",
                    "--homeserver",
                    "synapse",
                    "--mas",
                    "--rtc-host",
                    "auth.example.com",
                ][..],
                "--rtc-host auth.example.com: that host is already the MAS host",
            ),
            (
                &[
                    "--rtc",
                    "--proxy",
                    "nginx",
                    "--homeserver",
                    "synapse",
                    "--livekit-upstream",
                    "127.0.0.1:8008",
                ][..],
                "--livekit-upstream 127.0.0.1:8008 is the homeserver's upstream",
            ),
            (
                &[
                    "--rtc",
                    "--proxy",
                    "nginx",
                    "--rtc-auth-upstream",
                    "127.0.0.1:7880",
                ][..],
                "--rtc-auth-upstream 127.0.0.1:7880 is LiveKit's upstream",
            ),
            (
                &[
                    "--rtc",
                    "--proxy",
                    "nginx",
                    "--homeserver",
                    "synapse",
                    "--mas",
                    "--rtc-auth-upstream",
                    "127.0.0.1:8080",
                ][..],
                "--rtc-auth-upstream 127.0.0.1:8080 is MAS's upstream",
            ),
        ] {
            let error = merged(flags).unwrap_err();
            assert!(error.to_string().starts_with(message), "{flags:?}: {error}");
            assert_eq!(error.exit_code(), 2, "{flags:?}");
        }
    }

    /// A compose service is named after its upstream's host, so two upstreams, or an
    /// upstream and a service the stack names itself, cannot name the same one.
    #[test]
    fn compose_services_named_twice_are_refused_with_the_flag_and_value() {
        let merged =
            |flags: &[&str]| merged(&[&["--homeserver", "synapse", "--compose"], flags].concat());
        let renamed = [
            "--upstream",
            "synapse:8008",
            "--mas",
            "--mas-upstream",
            "auth:8080",
            "--rtc",
            "--livekit-upstream",
            "sfu:7880",
            "--rtc-auth-upstream",
            "jwt:8070",
        ];
        assert!(merged(&renamed).is_ok());
        for (flags, message) in [
            (
                &["--upstream", "mas:8008", "--mas"][..],
                "--upstream mas:8008 names the compose service mas, which is already MAS's \
                 (--mas-upstream (default) mas:8080): the stack names each service the proxy \
                 reaches after its upstream's host, and two services cannot share a name; e.g. \
                 --upstream homeserver:8008",
            ),
            (
                &["--mas", "--mas-upstream", "nginx:8080"][..],
                "--mas-upstream nginx:8080 names the compose service nginx, which is already the proxy's",
            ),
            (
                &["--rtc", "--livekit-upstream", "mas-database:7880"][..],
                "--livekit-upstream mas-database:7880 names the compose service mas-database, which is already MAS's database's",
            ),
            (
                &[
                    "--rtc",
                    "--livekit-upstream",
                    "sfu:7880",
                    "--rtc-auth-upstream",
                    "sfu:8070",
                ][..],
                "--rtc-auth-upstream sfu:8070 names the compose service sfu, which is already LiveKit's (--livekit-upstream sfu:7880)",
            ),
        ] {
            let error = merged(flags).unwrap_err();
            assert!(error.to_string().starts_with(message), "{flags:?}: {error}");
            assert_eq!(error.exit_code(), 2, "{flags:?}");
        }
    }
}
