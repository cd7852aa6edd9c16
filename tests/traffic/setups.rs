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

/// Known-good IDN A-labels (each decodes as Punycode, as `DnsName` checks).
const IDN_LABELS: &[&str] = &[
    "xn--universitt-p8a",
    "xn--bcher-kva",
    "xn--mnchen-3ya",
    "xn--80ak6aa92e",
    "xn--fiqs8s",
];

/// One DNS label across its whole range: 1 to 63 letters, digits and inner hyphens, or an
/// IDN A-label.
fn label() -> impl Strategy<Value = String> {
    let ldh = (
        prop::sample::select(vec!['a', 'm', 'x', 'z', '0', '9']),
        prop::collection::vec(prop::sample::select(vec!['a', 'k', '0', '9', '-']), 0..=61),
        prop::sample::select(vec!['b', 'q', '7']),
        any::<bool>(),
    )
        .prop_map(|(first, middle, last, single)| {
            if single {
                return first.to_string();
            }
            let mut label: String = std::iter::once(first).chain(middle).collect();
            label.push(last);
            label
        });
    prop_oneof![
        6 => ldh,
        // The longest label, so that long names come up often, not once in a while.
        2 => prop::sample::select(vec!['a', 'q', '7']).prop_map(|c| c.to_string().repeat(63)),
        1 => prop::sample::select(IDN_LABELS).prop_map(String::from),
    ]
}

/// Labels joined, the leading ones dropped until the name fits 253 characters.
fn dns_name(labels: Vec<String>, tld: &str) -> String {
    let mut labels = labels;
    loop {
        let name = format!("{}.{tld}", labels.join("."));
        if name.len() <= 253 || labels.len() == 1 {
            return name;
        }
        labels.remove(0);
    }
}

/// From one short label to 253 characters, with 63-character and xn-- labels.
fn server_name() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(label(), 1..=5),
        prop::sample::select(vec!["com", "org", "example", "chat", "xn--p1ai"]),
    )
        .prop_map(|(labels, tld)| dns_name(labels, tld))
}

/// From the smallest limit (1024 bytes) to 10 GiB, as bytes and in each unit.
fn size() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u64..=10_240, prop::sample::select(vec!["K", "M"]))
            .prop_map(|(n, unit)| format!("{n}{unit}")),
        (1u64..=10).prop_map(|n| format!("{n}G")),
        (1024u64..=10 << 30).prop_map(|n| n.to_string()),
        Just("1024".to_string()),
        Just((10u64 << 30).to_string()),
    ]
}

fn loopback_addresses() -> impl Strategy<Value = Option<Vec<String>>> {
    let v4 = (0u8..=255, 0u8..=255, 1u8..=254).prop_map(|(a, b, c)| format!("127.{a}.{b}.{c}"));
    prop_oneof![
        Just(None),
        v4.clone().prop_map(|a| Some(vec![a])),
        Just(Some(vec!["::1".to_string()])),
        v4.prop_map(|a| Some(vec![a, "::1".to_string()])),
    ]
}

/// Where the homeserver is: loopback, another machine, IPv4 or IPv6.
fn upstream_host() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "127.0.0.1",
        "[::1]",
        "192.0.2.10",
        "[2001:db8::5]",
        "[fd00:1234:5678::8]",
    ])
    .prop_map(String::from)
}

/// Across the whole accepted range, in each unit.
fn timeout() -> impl Strategy<Value = String> {
    prop_oneof![
        (60u32..=86_400).prop_map(|n| n.to_string()),
        (1u32..=1440).prop_map(|n| format!("{n}m")),
        (1u32..=24).prop_map(|n| format!("{n}h")),
    ]
}

/// The homeserver host: the default, the server name, a prefix of it, or a name of its own.
fn homeserver_host() -> impl Strategy<Value = Option<HostKind>> {
    prop_oneof![
        Just(None),
        Just(Some(HostKind::Same)),
        Just(Some(HostKind::Prefixed)),
        server_name().prop_map(|name| Some(HostKind::Own(name))),
    ]
}

#[derive(Clone, Debug)]
enum HostKind {
    Same,
    Prefixed,
    Own(String),
}

fn case() -> impl Strategy<Value = Case> {
    (
        (server_name(), homeserver_host()),
        // None: the default proxy list, with every homeserver.
        prop::option::of(prop::sample::subsequence(
            vec!["nginx", "apache", "caddy", "traefik", "haproxy"],
            1..=5,
        )),
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
        (1024u16..=65535, upstream_host()),
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
                (name, host),
                proxies,
                compose,
                federation,
                no_federation,
                tls,
                (max_upload, read_timeout),
                listen,
                (port, upstream_host),
                homeserver,
            )| {
                let mut args = vec!["--server-name".to_string(), name.clone()];
                let mut switches = Vec::new();
                let mut flag = |flag: &str, value: String| {
                    args.push(flag.into());
                    args.push(value);
                };
                match host {
                    None => {}
                    Some(HostKind::Same) => flag("--homeserver-host", name.clone()),
                    // `hs.` where it still fits 253 characters.
                    Some(HostKind::Prefixed) if name.len() + 3 <= 253 => {
                        flag("--homeserver-host", format!("hs.{name}"))
                    }
                    Some(HostKind::Prefixed) => flag("--homeserver-host", name.clone()),
                    Some(HostKind::Own(host)) => flag("--homeserver-host", host),
                }
                if let Some(proxies) = proxies {
                    flag("--proxy", proxies.join(","));
                }
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
                        flag("--acme-email", "admin@example.org".into());
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
                if compose {
                    flag("--upstream", format!("homeserver:{port}"));
                    switches.push("--compose");
                } else {
                    if let Some(listen) = listen {
                        flag("--listen-address", listen.join(","));
                    }
                    flag("--upstream", format!("{upstream_host}:{port}"));
                }
                // --mas (Synapse only), on its own host or below /auth, on a host or in
                // the compose stack.
                if homeserver == "synapse" && port % 3 != 0 {
                    if port % 3 == 2 {
                        flag("--mas-path", "/auth".into());
                    }
                    switches.push("--mas");
                }
                // The admin APIs forwarded (MAS's too with --mas); refused, so filtered out
                // below, for a homeserver without one.
                if port % 5 == 0 {
                    switches.push("--expose-admin");
                }
                // --rtc (host installs): LiveKit and its authorization service on
                // rtc.<server name>, with the focus in the well-known.
                if !compose && port % 2 == 1 {
                    switches.push("--rtc");
                }
                // Trusted fronts, from the same draw: a load balancer's blocks, Cloudflare
                // (whose refusal of a federation port it does not forward filters below), both.
                match port % 7 {
                    1 => flag("--trusted-proxy", "10.0.0.0/8,2001:db8::/32".into()),
                    2 => flag("--cdn", "cloudflare".into()),
                    3 => {
                        flag("--trusted-proxy", "192.0.2.10".into());
                        flag("--cdn", "cloudflare".into());
                    }
                    _ => {}
                }
                // --element-web on web.<server name> where that fits: from a folder, or
                // through Element's own server (on a host install by --element-web-upstream,
                // in the compose stack its image by default); with the base redirect to it,
                // or to a URL without it. Refused (and so filtered out below) where the
                // server name is the homeserver host or a named proxy cannot serve files.
                if port % 5 < 2 && name.len() + 4 <= 253 {
                    flag("--element-web", format!("web.{name}"));
                    if !compose && port % 7 < 3 {
                        flag("--element-web-upstream", "127.0.0.1:8081".into());
                    }
                    if port % 5 == 0 {
                        flag("--base-redirect", "element-web".into());
                    }
                } else if port % 5 == 2 {
                    flag("--base-redirect", "https://www.example.org/".into());
                }
                args.extend(switches.into_iter().map(String::from));
                Case { args }
            },
        )
        // Combinations mxproxy refuses with a usage error (Traefik asked for by name with
        // two listen addresses, Conduit above 4 GiB - 1, --cdn with a port the CDN does
        // not forward) are not setups; the CLI tests cover those messages.
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
