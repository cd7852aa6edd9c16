//! The setup's inputs: one `SetupLayer` type for flags, `MXPROXY_*` variables and the
//! YAML file (layer.rs), merged into one valid `Setup`: flags > file > defaults
//! (merge.rs, kubernetes.rs), and the way back to flags and YAML (args.rs).

mod args;
mod kubernetes;
mod layer;
mod merge;

pub use args::{FLAG_ORDER, to_args};
pub use layer::{FILE_ONLY_KEYS, SetupLayer, parse_file, read_file};
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
}
