//! Typed, validated inputs. Every value that reaches a config file passes through one
//! `FromStr` here, whether it came from a flag, a YAML key or a wizard answer, so the
//! check and its message are the same everywhere.

use std::fmt;
use std::path::PathBuf;

/// Why a value was refused, and a value that would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub reason: String,
    pub example: String,
}

impl Invalid {
    fn new(reason: impl Into<String>, example: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            example: example.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, e.g. {}", self.reason, self.example)
    }
}

impl std::error::Error for Invalid {}

/// Shown values are cut so that a 10 kB argument does not flood the terminal.
pub(crate) fn shown(value: &str) -> String {
    const MAX: usize = 80;
    let escaped: String = value.escape_debug().collect();
    if escaped.chars().count() <= MAX {
        escaped
    } else {
        let head: String = escaped.chars().take(MAX).collect();
        format!("{head}… ({} characters)", value.chars().count())
    }
}

/// Deserializes a validated value from any YAML scalar (ports and sizes may be written as
/// numbers) through the same `FromStr` as the flag. The check runs inside the visitor so
/// that serde_yaml reports the key and line of the offending value.
macro_rules! string_serde {
    ($ty:ident) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl Visitor {
                    fn parse<E: serde::de::Error>(text: &str) -> Result<$ty, E> {
                        text.parse().map_err(|e: $crate::setup::Invalid| {
                            E::custom(format!("\"{}\" {e}", $crate::setup::shown(text)))
                        })
                    }
                }
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a single value (a string or a number)")
                    }
                    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<$ty, E> {
                        Self::parse(&v.to_string())
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$ty, E> {
                        Self::parse(&v.to_string())
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$ty, E> {
                        Self::parse(&v.to_string())
                    }
                    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<$ty, E> {
                        Self::parse(&v.to_string())
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        Self::parse(v)
                    }
                }
                deserializer.deserialize_any(Visitor)
            }
        }
    };
}

// Declared after `string_serde!`: a `macro_rules!` macro is only visible in the items
// that follow it.
mod choice;
mod dns;
mod email;
mod kube;
mod net;
mod path;
mod size;

pub use choice::{Homeserver, HomeserverName, Layout, Proxy, TlsMode};
pub use dns::{DnsName, Host, ServerName};
pub use email::Email;
pub use kube::{GatewayRef, IngressClass, KubeName, Namespace};
pub use net::{ListenAddress, Port, Upstream, UpstreamHost};
pub use path::SafePath;
pub use size::ByteSize;

/// Characters that could end a config token or start a new directive in one of the
/// generated formats (nginx, apache, Caddyfile, YAML), or a comment.
fn first_unsafe_char(value: &str) -> Option<char> {
    value.chars().find(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(
                c,
                ';' | '{' | '}' | '"' | '\'' | '`' | '#' | '$' | '\\' | '<' | '>' | '|' | '&' | '*'
            )
    })
}

fn describe_char(c: char) -> String {
    match c {
        '\n' => "a newline".into(),
        '\r' => "a carriage return".into(),
        '\t' => "a tab".into(),
        ' ' => "a space".into(),
        '`' => "a backtick".into(),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

/// Certificates: obtained automatically, given as files, or left to a terminator in front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    Acme { email: Option<Email> },
    Files { cert: SafePath, key: SafePath },
    None,
}

impl Tls {
    pub fn mode(&self) -> TlsMode {
        match self {
            Tls::Acme { .. } => TlsMode::Acme,
            Tls::Files { .. } => TlsMode::Files,
            Tls::None => TlsMode::None,
        }
    }
}

/// How the cluster routes outside traffic to the homeserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubernetesRouting {
    Ingress(IngressClass),
    Gateway(GatewayRef),
}

/// `--kubernetes`: manifests for a cluster instead of proxy configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kubernetes {
    pub routing: KubernetesRouting,
    /// cert-manager ClusterIssuer for the Ingress certificate (`--tls acme` with an Ingress).
    pub cluster_issuer: Option<KubeName>,
    pub namespace: Namespace,
}

/// One complete, valid setup. Once this exists, every rendering of it is well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub server_name: ServerName,
    pub homeserver_host: Host,
    pub homeserver: Homeserver,
    pub upstream: Upstream,
    /// `None` turns federation off.
    pub federation_port: Option<Port>,
    pub tls: Tls,
    pub max_upload: ByteSize,
    pub webroot: SafePath,
    /// Empty: every address of the machine.
    pub listen_addresses: Vec<ListenAddress>,
    pub proxies: Vec<Proxy>,
    pub compose: bool,
    /// `--kubernetes`: write manifests to `kubernetes/` instead of proxy configs.
    pub kubernetes: Option<Kubernetes>,
    /// Forward the homeserver's admin API prefixes too (`--expose-admin`).
    pub expose_admin: bool,
    /// Printed on stderr before anything is written: choices that work but deserve a
    /// second look (a retired homeserver name, an exposed admin API).
    pub warnings: Vec<String>,
    pub out: PathBuf,
}
