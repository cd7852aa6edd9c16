//! The fixed choices: homeserver software, proxies, TLS mode, output layout.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Invalid;

/// The homeserver software behind the proxy. The facts that differ between them live in
/// `crate::homeserver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(into = "String")]
pub enum Homeserver {
    #[default]
    Conduit,
    Synapse,
    Continuwuity,
    Tuwunel,
    Dendrite,
}

impl Homeserver {
    pub const ALL: &[Homeserver] = &[
        Homeserver::Conduit,
        Homeserver::Synapse,
        Homeserver::Continuwuity,
        Homeserver::Tuwunel,
        Homeserver::Dendrite,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Homeserver::Conduit => "conduit",
            Homeserver::Synapse => "synapse",
            Homeserver::Continuwuity => "continuwuity",
            Homeserver::Tuwunel => "tuwunel",
            Homeserver::Dendrite => "dendrite",
        }
    }
}

impl FromStr for Homeserver {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        Homeserver::ALL
            .iter()
            .copied()
            .find(|h| h.name() == value)
            .ok_or_else(|| {
                Invalid::new(
                    "is not a supported homeserver (supported: conduit, synapse, continuwuity, \
                     tuwunel, dendrite)",
                    "synapse",
                )
            })
    }
}

impl fmt::Display for Homeserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
string_serde!(Homeserver);

impl From<Homeserver> for String {
    fn from(value: Homeserver) -> String {
        value.to_string()
    }
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
string_serde!(HomeserverName);

/// The reverse proxies mxproxy renders for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub enum Proxy {
    Nginx,
    Apache,
    Caddy,
    Traefik,
    Haproxy,
}

impl Proxy {
    pub const ALL: &[Proxy] = &[
        Proxy::Nginx,
        Proxy::Apache,
        Proxy::Caddy,
        Proxy::Traefik,
        Proxy::Haproxy,
    ];
    /// Without `--proxy`: the four that most single-machine installs choose between.
    pub const DEFAULT: &[Proxy] = &[Proxy::Nginx, Proxy::Apache, Proxy::Caddy, Proxy::Traefik];

    pub fn name(self) -> &'static str {
        match self {
            Proxy::Nginx => "nginx",
            Proxy::Apache => "apache",
            Proxy::Caddy => "caddy",
            Proxy::Traefik => "traefik",
            Proxy::Haproxy => "haproxy",
        }
    }
}

impl FromStr for Proxy {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        Proxy::ALL
            .iter()
            .copied()
            .find(|p| p.name() == value)
            .ok_or_else(|| {
                Invalid::new(
                    "is not a supported proxy (supported: nginx, apache, caddy, traefik, haproxy)",
                    "nginx",
                )
            })
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
string_serde!(Proxy);

impl From<Proxy> for String {
    fn from(value: Proxy) -> String {
        value.to_string()
    }
}

/// How the proxies get their certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(into = "String")]
pub enum TlsMode {
    #[default]
    Acme,
    Files,
    None,
}

impl TlsMode {
    pub fn name(self) -> &'static str {
        match self {
            TlsMode::Acme => "acme",
            TlsMode::Files => "files",
            TlsMode::None => "none",
        }
    }
}

impl FromStr for TlsMode {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        match value {
            "acme" => Ok(TlsMode::Acme),
            "files" => Ok(TlsMode::Files),
            "none" => Ok(TlsMode::None),
            _ => Err(Invalid::new(
                "is not a TLS mode (acme, files or none)",
                "acme",
            )),
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
string_serde!(TlsMode);

impl From<TlsMode> for String {
    fn from(value: TlsMode) -> String {
        value.to_string()
    }
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
