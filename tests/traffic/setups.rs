//! Random valid setups, rendered and fed to the real validators (`validate_all`: nginx -t,
//! apache2 -t, caddy validate, the Traefik and compose schemas; then real Traefik started
//! on its files, `traefik_serves`). 200 cases unless
//! `MXPROXY_PROPTEST_CASES` asks for more; a failure is shrunk and shown as the exact
//! `mxproxy generate …` command. Runs in a network namespace of its own because
//! `nginx -t` binds the listen addresses.

use clap::Parser;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::common::netns::netns_test;
use crate::common::validators;

/// A setup as command-line flags; shown as the command that reproduces it.
#[derive(Clone)]
struct Case {
    args: Vec<String>,
}

impl Case {
    fn try_setup(&self) -> Result<mxproxy::setup::Setup, String> {
        let cli = mxproxy::cli::Cli::try_parse_from(
            ["mxproxy", "generate"]
                .into_iter()
                .map(String::from)
                .chain(self.args.iter().cloned()),
        )
        .map_err(|e| e.to_string())?;
        let Some(mxproxy::cli::Command::Generate(args)) = cli.command else {
            return Err("not parsed as generate".into());
        };
        mxproxy::config::merge(&args.setup, Default::default()).map_err(|e| e.to_string())
    }

    fn setup(&self) -> mxproxy::setup::Setup {
        self.try_setup()
            .unwrap_or_else(|e| panic!("invalid setup {:?}: {e}", self.args))
    }

    /// The command, as `to_args` writes it for the regenerate header.
    fn command(&self) -> String {
        let args = match self.try_setup() {
            Ok(setup) => mxproxy::config::to_args(&setup, false),
            Err(_) => self.args.clone(),
        };
        format!(
            "mxproxy generate {}",
            shlex::try_join(args.iter().map(String::as_str)).unwrap()
        )
    }
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.command())
    }
}

fn label() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!['a', 'm', 'x', 'z']),
        prop::collection::vec(prop::sample::select(vec!['a', 'k', '0', '9', '-']), 0..8),
        prop::sample::select(vec!['b', 'q', '7']),
    )
        .prop_map(|(first, middle, last)| {
            let mut label: String = std::iter::once(first).chain(middle).collect();
            label.push(last);
            label
        })
}

fn server_name() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(label(), 1..3),
        prop::sample::select(vec!["com", "org", "example", "chat"]),
    )
        .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")))
}

fn size() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u64..1024, prop::sample::select(vec!["K", "M", "G"]))
            .prop_map(|(n, unit)| format!("{n}{unit}")),
        (1024u64..100_000_000).prop_map(|n| n.to_string()),
    ]
}

fn loopback_addresses() -> impl Strategy<Value = Vec<String>> {
    let v4 = (0u8..=255, 0u8..=255, 1u8..=254).prop_map(|(a, b, c)| format!("127.{a}.{b}.{c}"));
    prop_oneof![
        v4.clone().prop_map(|a| vec![a]),
        Just(vec!["::1".to_string()]),
        v4.prop_map(|a| vec![a, "::1".to_string()]),
    ]
}

/// Across the whole accepted range, in each unit.
fn timeout() -> impl Strategy<Value = String> {
    prop_oneof![
        (60u32..=86_400).prop_map(|n| n.to_string()),
        (1u32..=1440).prop_map(|n| format!("{n}m")),
        (1u32..=24).prop_map(|n| format!("{n}h")),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        server_name(),
        0u8..3,
        prop::sample::subsequence(
            vec!["nginx", "apache", "caddy", "traefik", "haproxy"],
            1..=5,
        ),
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some(8448u16)),
            (1024u16..=65535).prop_map(Some)
        ],
        any::<bool>(),
        0u8..4,
        (prop::option::of(size()), prop::option::of(timeout())),
        loopback_addresses(),
        (1024u16..=65535, any::<bool>()),
        prop::sample::select(vec![
            "conduit",
            "synapse",
            "continuwuity",
            "tuwunel",
            "dendrite",
        ]),
    )
        .prop_map(
            |(
                name,
                host_kind,
                proxies,
                compose,
                federation,
                no_federation,
                tls,
                (max_upload, read_timeout),
                listen,
                (port, v6),
                homeserver,
            )| {
                let mut args = vec!["--server-name".to_string(), name.clone()];
                let mut switches = Vec::new();
                let mut flag = |flag: &str, value: String| {
                    args.push(flag.into());
                    args.push(value);
                };
                match host_kind {
                    0 => {}
                    1 => flag("--homeserver-host", name.clone()),
                    _ => flag("--homeserver-host", format!("hs.{name}")),
                }
                flag("--proxy", proxies.join(","));
                flag("--homeserver", homeserver.to_string());
                if no_federation {
                    switches.push("--no-federation");
                } else if let Some(port) = federation {
                    flag("--federation-port", port.to_string());
                }
                match tls {
                    0 => flag("--tls", "acme".into()),
                    1 => {
                        flag("--tls", "acme".into());
                        flag("--acme-email", format!("admin@{name}"));
                    }
                    2 => {
                        flag("--tls", "files".into());
                        flag("--tls-cert", "/etc/ssl/matrix/fullchain.pem".into());
                        flag("--tls-key", "/etc/ssl/matrix/privkey.pem".into());
                    }
                    _ => flag("--tls", "none".into()),
                }
                if let Some(size) = max_upload {
                    flag("--max-upload", size);
                }
                if let Some(timeout) = read_timeout {
                    flag("--read-timeout", timeout);
                }
                flag("--listen-address", listen.join(","));
                if compose {
                    flag("--upstream", format!("homeserver:{port}"));
                    switches.push("--compose");
                } else if v6 {
                    flag("--upstream", format!("[::1]:{port}"));
                } else {
                    flag("--upstream", format!("127.0.0.1:{port}"));
                }
                // --mas (Synapse on a host only), on its own host or below /auth.
                if homeserver == "synapse" && !compose && port % 3 != 0 {
                    if port % 3 == 2 {
                        flag("--mas-path", "/auth".into());
                    }
                    switches.push("--mas");
                }
                args.extend(switches.into_iter().map(String::from));
                Case { args }
            },
        )
        // Combinations mxproxy refuses with a usage error (e.g. Traefik with two listen
        // addresses) are not setups; the CLI tests cover those messages.
        .prop_filter("mxproxy refuses this combination", |case| {
            case.try_setup().is_ok()
        })
}

fn cases() -> u32 {
    let asked = std::env::var("MXPROXY_PROPTEST_CASES")
        .ok()
        .map(|v| v.parse().expect("MXPROXY_PROPTEST_CASES is a number"));
    asked.unwrap_or(200).max(200)
}

netns_test! {
    fn every_random_setup_passes_the_real_validators() {
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&case(), |case| {
            let setup = case.setup();
            let rendering = mxproxy::pipeline::render(
                &setup,
                &mxproxy::render::Templates::builtin(),
                mxproxy::setup::Layout::Folder,
            )
            .map_err(|e| TestCaseError::fail(format!("render: {e}")))?;
            let dir = tempfile::tempdir().unwrap();
            validators::validate_all(&rendering.plan, &rendering.files, dir.path());
            validators::traefik_serves(&rendering.plan, dir.path());
            Ok(())
        });
        if let Err(error) = result {
            panic!("{error}");
        }
    }
}
