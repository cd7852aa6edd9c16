//! The fixed choices: homeserver software, proxies, TLS mode, output layout.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Invalid, alternatives};

named_enum! {
    /// The homeserver software behind the proxy. The facts that differ between them live in
    /// `crate::homeserver`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
    #[serde(into = "String")]
    pub enum Homeserver {
        #[default]
        Conduit = "conduit",
        Synapse = "synapse",
        Continuwuity = "continuwuity",
        Tuwunel = "tuwunel",
        Dendrite = "dendrite",
    }
    unknown(names) => Invalid::new(
        format!("is not a supported homeserver (supported: {})", names.join(", ")),
        "synapse",
    );
}

/// What `--homeserver` and `homeserver:` accept: a supported homeserver, or the name of
/// an abandoned one that stands for its successor (and earns a warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HomeserverName {
    pub homeserver: Homeserver,
    /// The abandoned name that was given, if it was one.
    pub retired: Option<&'static str>,
}

impl HomeserverName {
    /// conduwuit was archived in 2025. tuwunel's README calls itself "the official
    /// successor to conduwuit" and migration "a binary swap" that still reads
    /// `CONDUWUIT_` variables (matrix-construct/tuwunel README.md, "Migrating from
    /// conduwuit"); continuwuity is the community continuation (continuwuity/continuwuity
    /// README.md). The alias picks tuwunel and the warning names both.
    pub const CONDUWUIT: &str = "conduwuit";

    /// Printed once on stderr when a retired name was given.
    pub fn warning(self) -> Option<String> {
        self.retired.map(|name| {
            format!(
                "`{name}` is abandoned (its repository is archived); generating for {}, its official \
                 successor, which migrates in place. For the community fork use --homeserver continuwuity",
                self.homeserver
            )
        })
    }
}

impl From<Homeserver> for HomeserverName {
    fn from(homeserver: Homeserver) -> Self {
        HomeserverName {
            homeserver,
            retired: None,
        }
    }
}

impl FromStr for HomeserverName {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        if value == Self::CONDUWUIT {
            return Ok(HomeserverName {
                homeserver: Homeserver::Tuwunel,
                retired: Some(Self::CONDUWUIT),
            });
        }
        value.parse::<Homeserver>().map(HomeserverName::from)
    }
}

impl fmt::Display for HomeserverName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.retired.unwrap_or(self.homeserver.name()))
    }
}
string_serde!(read_only HomeserverName);

named_enum! {
    /// The reverse proxies mxproxy renders for.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
    #[serde(into = "String")]
    pub enum Proxy {
        Nginx = "nginx",
        Apache = "apache",
        Caddy = "caddy",
        Traefik = "traefik",
        Haproxy = "haproxy",
    }
    unknown(names) => Invalid::new(
        format!("is not a supported proxy (supported: {})", names.join(", ")),
        "nginx",
    );
}

impl Proxy {
    /// Without `--proxy`: the four that most single-machine installs choose between.
    pub const DEFAULT: &[Proxy] = &[Proxy::Nginx, Proxy::Apache, Proxy::Caddy, Proxy::Traefik];
}

named_enum! {
    /// How the proxies get their certificates.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
    #[serde(into = "String")]
    pub enum TlsMode {
        #[default]
        Acme = "acme",
        Files = "files",
        None = "none",
    }
    unknown(names) => Invalid::new(
        format!("is not a TLS mode ({})", alternatives(names)),
        "acme",
    );
}

/// Where `generate` puts the files below `--out`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// A folder per proxy: nginx/, apache/, caddy/, traefik/, well-known/
    #[default]
    Folder,
    /// Where Debian's packages read them: etc/nginx/sites-available/, etc/apache2/sites-available/, etc/caddy/, the webroot
    Debian,
}

impl Layout {
    /// The `--layout` value that selects it.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Folder => "folder",
            Layout::Debian => "debian",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::testing::{accepts, refuses};

    #[test]
    fn homeservers_are_read_by_name() {
        for (value, homeserver) in [
            ("conduit", Homeserver::Conduit),
            ("synapse", Homeserver::Synapse),
            ("continuwuity", Homeserver::Continuwuity),
            ("tuwunel", Homeserver::Tuwunel),
            ("dendrite", Homeserver::Dendrite),
        ] {
            assert_eq!(accepts::<Homeserver>(value), homeserver, "{value:?}");
            assert_eq!(homeserver.name(), value);
            assert_eq!(homeserver.to_string(), value);
            assert_eq!(String::from(homeserver), value);
        }
        let names: Vec<&str> = Homeserver::ALL.iter().map(|h| h.name()).collect();
        assert_eq!(
            names,
            ["conduit", "synapse", "continuwuity", "tuwunel", "dendrite"]
        );
        assert_eq!(Homeserver::default(), Homeserver::Conduit);
    }

    #[test]
    fn unknown_homeservers_are_refused_with_the_supported_list() {
        // `conduwuit` is only understood by `HomeserverName`.
        for value in ["synapse-ng", "Synapse", "", "conduwuit"] {
            refuses::<Homeserver>(
                value,
                "is not a supported homeserver (supported: conduit, synapse, continuwuity, tuwunel, dendrite)",
                "synapse",
            );
        }
    }

    #[test]
    fn a_retired_homeserver_name_stands_for_its_successor_with_a_warning() {
        let retired: HomeserverName = accepts("conduwuit");
        assert_eq!(retired.homeserver, Homeserver::Tuwunel);
        assert_eq!(retired.retired, Some("conduwuit"));
        assert_eq!(retired.to_string(), "conduwuit");
        assert_eq!(
            retired.warning().unwrap(),
            "`conduwuit` is abandoned (its repository is archived); generating for tuwunel, its \
             official successor, which migrates in place. For the community fork use --homeserver \
             continuwuity"
        );

        for &homeserver in Homeserver::ALL {
            let name: HomeserverName = accepts(homeserver.name());
            assert_eq!(name, HomeserverName::from(homeserver));
            assert_eq!(name.retired, None);
            assert_eq!(name.warning(), None);
            assert_eq!(name.to_string(), homeserver.name());
        }
        refuses::<HomeserverName>(
            "Conduwuit",
            "is not a supported homeserver (supported: conduit, synapse, continuwuity, tuwunel, dendrite)",
            "synapse",
        );
    }

    #[test]
    fn proxies_are_read_by_name() {
        for (value, proxy) in [
            ("nginx", Proxy::Nginx),
            ("apache", Proxy::Apache),
            ("caddy", Proxy::Caddy),
            ("traefik", Proxy::Traefik),
            ("haproxy", Proxy::Haproxy),
        ] {
            assert_eq!(accepts::<Proxy>(value), proxy, "{value:?}");
            assert_eq!(proxy.name(), value);
            assert_eq!(proxy.to_string(), value);
            assert_eq!(String::from(proxy), value);
        }
        let names: Vec<&str> = Proxy::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["nginx", "apache", "caddy", "traefik", "haproxy"]);
        assert_eq!(
            Proxy::DEFAULT,
            [Proxy::Nginx, Proxy::Apache, Proxy::Caddy, Proxy::Traefik]
        );
        // Sorting proxies keeps the order of `ALL`.
        let mut sorted = Proxy::ALL.to_vec();
        sorted.sort();
        assert_eq!(sorted, Proxy::ALL);
    }

    #[test]
    fn unknown_proxies_are_refused_with_the_supported_list() {
        for value in ["iis", "Nginx", "nginx ", ""] {
            refuses::<Proxy>(
                value,
                "is not a supported proxy (supported: nginx, apache, caddy, traefik, haproxy)",
                "nginx",
            );
        }
    }

    #[test]
    fn tls_modes_are_read_by_name() {
        for (value, mode) in [
            ("acme", TlsMode::Acme),
            ("files", TlsMode::Files),
            ("none", TlsMode::None),
        ] {
            assert_eq!(accepts::<TlsMode>(value), mode, "{value:?}");
            assert_eq!(mode.name(), value);
            assert_eq!(mode.to_string(), value);
            assert_eq!(String::from(mode), value);
        }
        assert_eq!(TlsMode::ALL, [TlsMode::Acme, TlsMode::Files, TlsMode::None]);
        assert_eq!(TlsMode::default(), TlsMode::Acme);
        for value in ["letsencrypt", "ACME", "off", ""] {
            refuses::<TlsMode>(value, "is not a TLS mode (acme, files or none)", "acme");
        }
    }

    #[test]
    fn layouts_name_their_flag_value() {
        assert_eq!(Layout::Folder.name(), "folder");
        assert_eq!(Layout::Debian.name(), "debian");
        assert_eq!(Layout::default(), Layout::Folder);
        for layout in [Layout::Folder, Layout::Debian] {
            let yaml: Layout = serde_yaml::from_str(layout.name()).unwrap();
            assert_eq!(yaml, layout);
            let flag = clap::ValueEnum::from_str(layout.name(), false).unwrap();
            assert_eq!(layout, flag);
        }
    }
}
