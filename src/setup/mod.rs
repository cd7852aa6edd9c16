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

/// The text form of a validated value: `From<T> for String` through `Display` (what
/// `#[serde(into = "String")]` writes), and a `Deserialize` that reads any YAML scalar (ports
/// and sizes may be written as numbers) through the same `FromStr` as the flag. The check
/// runs inside the visitor so that serde_yaml reports the key and line of the offending value.
///
/// - `string_serde!(T)`: `Display` is written beside the type.
/// - `string_serde!(T(String))`: a newtype over text, shown as that text.
/// - `string_serde!(T(Inner))`: a newtype shown as the value it wraps.
/// - `string_serde!(read_only T)`: only `Deserialize`, for a value written in another form.
macro_rules! string_serde {
    (read_only $ty:ident) => {
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
    ($ty:ident(String)) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        string_serde!($ty);
    };
    ($ty:ident($inner:ty)) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                <$inner as std::fmt::Display>::fmt(&self.0, f)
            }
        }
        string_serde!($ty);
    };
    ($ty:ident) => {
        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.to_string()
            }
        }
        string_serde!(read_only $ty);
    };
}

/// A choice among fixed names, each name written once: the enum, `ALL` in the order
/// written, `name()`, `FromStr`, `Display` and `string_serde!`. An unknown name is refused
/// with `unknown(names) => ..`, which gets the names to list, so that a new choice cannot
/// be missing from the message.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $ty:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $name:literal,)+
        }
        unknown($names:ident) => $refusal:expr;
    ) => {
        $(#[$meta])*
        pub enum $ty {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $ty {
            pub const ALL: &[$ty] = &[$($ty::$variant),+];

            /// The flag and YAML value that selects it.
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::setup::Invalid;
            fn from_str(value: &str) -> Result<Self, $crate::setup::Invalid> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|choice| choice.name() == value)
                    .ok_or_else(|| {
                        let $names: &[&str] = &[$($name),+];
                        $refusal
                    })
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
        string_serde!($ty);
    };
}

// Declared after the macros: a `macro_rules!` macro is only visible in the items that
// follow it.
mod choice;
mod clients;
mod dns;
mod email;
mod front;
mod kube;
mod mas;
mod net;
mod path;
mod rtc;
mod size;
mod time;
mod web;
mod worker;

pub use choice::{Homeserver, HomeserverName, Layout, Proxy, TlsMode};
pub use clients::Clients;
pub use dns::{DnsName, Host, ServerName};
pub use email::Email;
pub use front::{Cdn, TrustedProxy};
pub use kube::{GatewayRef, IngressClass, KubeName, Namespace};
pub use mas::{Mas, MasPublic, UrlPrefix};
pub use net::{ListenAddress, Port, Upstream, UpstreamHost};
pub use path::SafePath;
pub use rtc::Rtc;
pub use size::{ByteSize, UploadCeiling};
pub use time::Timeout;
pub use web::{BASE_REDIRECT_ELEMENT_WEB, BaseRedirect, ElementWeb, ElementWebServed, RedirectUrl};
pub use worker::{WorkerAddress, WorkerGroup, Workers};

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

/// `a, b or c`: the accepted names, as a refusal lists them.
pub(crate) fn alternatives(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [only] => (*only).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
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
    /// How long a proxy waits on a request in flight (`--read-timeout`).
    pub read_timeout: Timeout,
    /// How many clients sync at once (`--clients`): what the connection limits are sized from.
    pub clients: Clients,
    pub webroot: SafePath,
    /// Empty: every address of the machine.
    pub listen_addresses: Vec<ListenAddress>,
    pub proxies: Vec<Proxy>,
    pub compose: bool,
    /// `--kubernetes`: write manifests to `kubernetes/` instead of proxy configs.
    pub kubernetes: Option<Kubernetes>,
    /// Forward the homeserver's admin API prefixes too (`--expose-admin`).
    pub expose_admin: bool,
    /// `--mas`: login goes to the Matrix Authentication Service (Synapse only).
    pub mas: Option<Mas>,
    /// `--rtc`: the MatrixRTC backend (LiveKit, its authorization service) on its own host.
    pub rtc: Option<Rtc>,
    /// `--trusted-proxy`: who may tell the client's address in `X-Forwarded-For`.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// `--cdn`: a CDN in front, trusted from its published ranges in its own header.
    pub cdn: Option<Cdn>,
    /// `--worker`: Synapse's workers by group; empty without.
    pub workers: Workers,
    /// `--element-web`: Element Web on a host of its own.
    pub element_web: Option<ElementWeb>,
    /// `--base-redirect`: where the server name's host sends every other path.
    pub base_redirect: Option<BaseRedirect>,
    /// Printed on stderr before anything is written: choices that work but deserve a
    /// second look (a retired homeserver name, an exposed admin API).
    pub warnings: Vec<String>,
    pub out: PathBuf,
}

/// Shared by the tables in each submodule's tests.
#[cfg(test)]
mod testing {
    use std::fmt::Debug;
    use std::str::FromStr;

    use super::Invalid;

    #[track_caller]
    pub(super) fn accepts<T: FromStr<Err = Invalid>>(value: &str) -> T {
        value
            .parse()
            .unwrap_or_else(|invalid| panic!("{value:?} was refused: {invalid}"))
    }

    /// The whole message, reason and example, so that a reworded refusal fails here
    /// before it fails the integration tests that look for a few words of it.
    #[track_caller]
    pub(super) fn refuses<T: FromStr<Err = Invalid> + Debug>(
        value: &str,
        reason: &str,
        example: &str,
    ) {
        match value.parse::<T>() {
            Ok(accepted) => panic!("{value:?} was accepted as {accepted:?}"),
            Err(invalid) => assert_eq!(
                (invalid.reason.as_str(), invalid.example.as_str()),
                (reason, example),
                "{value:?}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_value_reads_as_reason_then_example() {
        let invalid = Invalid::new("is empty", "example.com");
        assert_eq!(invalid.to_string(), "is empty, e.g. example.com");
    }

    #[test]
    fn shown_escapes_and_cuts_long_values() {
        for (value, expected) in [
            ("example.com", "example.com".to_string()),
            ("a\nb", "a\\nb".to_string()),
            ("\"x\"", "\\\"x\\\"".to_string()),
            ("a\u{7}", "a\\u{7}".to_string()),
            (&"a".repeat(80), "a".repeat(80)),
            (
                &"a".repeat(81),
                format!("{}… (81 characters)", "a".repeat(80)),
            ),
            // The cut counts escaped characters; the length given is the value's own.
            (&"\n".repeat(40), "\\n".repeat(40)),
            (
                &"\n".repeat(41),
                format!("{}… (41 characters)", "\\n".repeat(40)),
            ),
            (
                &"ü".repeat(81),
                format!("{}… (81 characters)", "ü".repeat(80)),
            ),
        ] {
            assert_eq!(shown(value), expected, "{value:?}");
        }
    }

    #[test]
    fn alternatives_are_listed_with_a_final_or() {
        for (names, listed) in [
            (&[][..], ""),
            (&["nginx"][..], "nginx"),
            (&["nginx", "traefik"][..], "nginx or traefik"),
            (&["acme", "files", "none"][..], "acme, files or none"),
        ] {
            assert_eq!(alternatives(names), listed, "{names:?}");
        }
    }

    #[test]
    fn characters_that_can_break_a_config_line_are_found_and_named() {
        for (value, name) in [
            ("a b", "a space"),
            ("a\nb", "a newline"),
            ("a\rb", "a carriage return"),
            ("a\tb", "a tab"),
            ("a`b", "a backtick"),
            ("a\u{0}b", "the control character U+0000"),
            ("a\u{7f}b", "the control character U+007F"),
            ("a\u{85}b", "the control character U+0085"),
            ("a\u{a0}b", "`\u{a0}`"),
            ("a;b", "`;`"),
            ("a{b", "`{`"),
            ("a}b", "`}`"),
            ("a\"b", "`\"`"),
            ("a'b", "`'`"),
            ("a#b", "`#`"),
            ("a$b", "`$`"),
            ("a\\b", "`\\`"),
            ("a<b", "`<`"),
            ("a>b", "`>`"),
            ("a|b", "`|`"),
            ("a&b", "`&`"),
            ("a*b", "`*`"),
            // The first one is named, not the worst.
            ("a;b c", "`;`"),
        ] {
            let found = first_unsafe_char(value);
            assert_eq!(
                found.map(describe_char),
                Some(name.to_string()),
                "{value:?}"
            );
        }
        for value in [
            "example.com",
            "127.0.0.1:6167",
            "[::1]:6167",
            "/var/www/a-b_c+d@e=f,g",
            "bücher",
        ] {
            assert_eq!(first_unsafe_char(value), None, "{value:?}");
        }
    }

    #[test]
    fn tls_names_its_mode() {
        let path: SafePath = "/etc/ssl/a.pem".parse().unwrap();
        for (tls, mode) in [
            (Tls::Acme { email: None }, TlsMode::Acme),
            (
                Tls::Files {
                    cert: path.clone(),
                    key: path,
                },
                TlsMode::Files,
            ),
            (Tls::None, TlsMode::None),
        ] {
            assert_eq!(tls.mode(), mode, "{tls:?}");
        }
    }

    /// A YAML value goes through the same `FromStr` as the flag, whatever scalar it is
    /// written as, and the message quotes the value as it was read.
    #[test]
    fn yaml_scalars_are_read_through_from_str() {
        assert_eq!(serde_yaml::from_str::<Port>("8448").unwrap().get(), 8448);
        assert_eq!(serde_yaml::from_str::<Port>("'8448'").unwrap().get(), 8448);
        assert_eq!(
            serde_yaml::from_str::<ByteSize>("1048576")
                .unwrap()
                .to_string(),
            "1M"
        );
        assert_eq!(
            serde_yaml::from_str::<ByteSize>("20M").unwrap().bytes(),
            20 << 20
        );
        assert_eq!(
            serde_yaml::from_str::<TlsMode>("none").unwrap(),
            TlsMode::None
        );
        for (yaml, message) in [
            ("0", "\"0\" is out of range (1-65535), e.g. 8448"),
            ("-1", "\"-1\" is not a number from 1 to 65535, e.g. 8448"),
            (
                "84.48",
                "\"84.48\" is not a number from 1 to 65535, e.g. 8448",
            ),
            (
                "true",
                "\"true\" is not a number from 1 to 65535, e.g. 8448",
            ),
            (
                "'a\tb'",
                "\"a\\tb\" is not a number from 1 to 65535, e.g. 8448",
            ),
            (
                "[8448]",
                "invalid type: sequence, expected a single value (a string or a number)",
            ),
        ] {
            let error = serde_yaml::from_str::<Port>(yaml).unwrap_err().to_string();
            assert!(error.starts_with(message), "{yaml:?}: {error}");
        }
        let error = serde_yaml::from_str::<ByteSize>(&"9".repeat(10_000))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&format!(
                "\"{}… (10000 characters)\" is above",
                "9".repeat(80)
            )),
            "{error}"
        );
    }

    #[test]
    fn values_are_written_to_yaml_in_the_form_they_are_read() {
        let written_and_expected: [(String, &str); 9] = [
            (
                serde_yaml::to_string(&"example.com".parse::<ServerName>().unwrap()).unwrap(),
                "example.com\n",
            ),
            (
                serde_yaml::to_string(&"matrix.example.com".parse::<Host>().unwrap()).unwrap(),
                "matrix.example.com\n",
            ),
            (
                serde_yaml::to_string(&Port::new_unchecked(8448)).unwrap(),
                "8448\n",
            ),
            (
                serde_yaml::to_string(&"[::1]:6167".parse::<Upstream>().unwrap()).unwrap(),
                "'[::1]:6167'\n",
            ),
            (
                serde_yaml::to_string(&ByteSize::from_bytes_unchecked(20 << 20)).unwrap(),
                "20M\n",
            ),
            (serde_yaml::to_string(&Proxy::Haproxy).unwrap(), "haproxy\n"),
            (serde_yaml::to_string(&TlsMode::Files).unwrap(), "files\n"),
            (
                serde_yaml::to_string(&"gateway-system/public".parse::<GatewayRef>().unwrap())
                    .unwrap(),
                "gateway-system/public\n",
            ),
            (
                serde_yaml::to_string(&"matrix".parse::<Namespace>().unwrap()).unwrap(),
                "matrix\n",
            ),
        ];
        for (written, expected) in written_and_expected {
            assert_eq!(written, expected);
        }
    }
}
