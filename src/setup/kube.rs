//! Kubernetes names and routing: object names, namespaces, Gateways, ingress classes.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::{Invalid, alternatives, describe_char};

named_enum! {
    /// The ingress controller a Kubernetes cluster routes with; it decides the annotations
    /// and, for Traefik, the middleware objects.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
    #[serde(into = "String")]
    pub enum IngressClass {
        /// ingress-nginx (kubernetes/ingress-nginx), IngressClass `nginx`.
        Nginx = "nginx",
        /// Traefik's Kubernetes Ingress provider, IngressClass `traefik`.
        Traefik = "traefik",
    }
    unknown(names) => Invalid::new(
        format!(
            "is not an ingress class mxproxy writes annotations for ({}); \
             for another controller use --gateway with its Gateway",
            alternatives(names)
        ),
        "nginx",
    );
}

/// A Kubernetes object name. Namespaces must be RFC 1123 labels (at most 63 characters);
/// most other objects (ClusterIssuer, Gateway) RFC 1123 subdomains (at most 253, dots
/// allowed). Both: lower-case letters, digits and `-`, starting and ending alphanumeric
/// (kubernetes.io/docs/concepts/overview/working-with-objects/names/).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct KubeName(String);

impl KubeName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parse(value: &str, max: usize, dots: bool, example: &str) -> Result<KubeName, Invalid> {
        let what = if dots {
            "a Kubernetes object name"
        } else {
            "a Kubernetes namespace name"
        };
        if value.is_empty() {
            return Err(Invalid::new("is empty", example));
        }
        if value.len() > max {
            return Err(Invalid::new(
                format!(
                    "is {} characters long; {what} has at most {max}",
                    value.len()
                ),
                example,
            ));
        }
        if !dots && value.contains('.') {
            return Err(Invalid::new(
                format!("contains `.`; {what} has only lower-case letters, digits and `-`"),
                example,
            ));
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        for label in value.split('.') {
            if let Some(c) = label.chars().find(|c| !allowed(*c)) {
                return Err(Invalid::new(
                    format!(
                        "contains {}; {what} has only lower-case letters, digits and `-`{}",
                        describe_char(c),
                        if dots { " (and `.`)" } else { "" }
                    ),
                    example,
                ));
            }
            let alphanumeric = |c: Option<char>| c.is_some_and(|c| c != '-');
            if !alphanumeric(label.chars().next()) || !alphanumeric(label.chars().last()) {
                return Err(Invalid::new(
                    format!("must start and end with a letter or digit to be {what}"),
                    example,
                ));
            }
        }
        Ok(KubeName(value.to_string()))
    }

    /// A namespace: an RFC 1123 label.
    pub fn namespace(value: &str) -> Result<KubeName, Invalid> {
        Self::parse(value, 63, false, "matrix")
    }
}

impl FromStr for KubeName {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        Self::parse(value, 253, true, "letsencrypt")
    }
}

string_serde!(KubeName(String));

/// `--namespace`: a [`KubeName`] held to the namespace rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Namespace(pub KubeName);

impl FromStr for Namespace {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        KubeName::namespace(value).map(Namespace)
    }
}

string_serde!(Namespace(KubeName));

/// `--gateway [NAMESPACE/]NAME`: an existing Gateway API Gateway, often in a namespace of
/// its own, that the HTTPRoutes attach to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct GatewayRef {
    pub namespace: Option<KubeName>,
    pub name: KubeName,
}

impl FromStr for GatewayRef {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        let example = |e: Invalid| Invalid::new(e.reason, "gateway-system/public");
        match value.split_once('/') {
            Some((namespace, name)) => Ok(GatewayRef {
                namespace: Some(KubeName::namespace(namespace).map_err(example)?),
                name: name.parse().map_err(example)?,
            }),
            None => Ok(GatewayRef {
                namespace: None,
                name: value.parse().map_err(example)?,
            }),
        }
    }
}

impl fmt::Display for GatewayRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{namespace}/{}", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}
string_serde!(GatewayRef);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::testing::{accepts, refuses};

    #[test]
    fn ingress_classes_are_read_by_name() {
        for (value, class) in [
            ("nginx", IngressClass::Nginx),
            ("traefik", IngressClass::Traefik),
        ] {
            assert_eq!(accepts::<IngressClass>(value), class, "{value:?}");
            assert_eq!(class.name(), value);
            assert_eq!(class.to_string(), value);
            assert_eq!(String::from(class), value);
        }
        assert_eq!(
            IngressClass::ALL,
            [IngressClass::Nginx, IngressClass::Traefik]
        );
        for value in ["haproxy", "istio", "Nginx", ""] {
            refuses::<IngressClass>(
                value,
                "is not an ingress class mxproxy writes annotations for (nginx or traefik); for \
                 another controller use --gateway with its Gateway",
                "nginx",
            );
        }
    }

    #[test]
    fn object_names_are_rfc_1123_subdomains() {
        for value in [
            "letsencrypt",
            "letsencrypt-prod",
            "cert.issuer.example",
            "a",
            "0abc",
            "a--b",
            &"a".repeat(253),
        ] {
            let name: KubeName = accepts(value);
            assert_eq!(name.as_str(), value);
            assert_eq!(name.to_string(), value);
            assert_eq!(String::from(name), value);
        }
    }

    #[test]
    fn malformed_object_names_are_refused_with_the_reason() {
        const CHARACTERS: &str =
            "a Kubernetes object name has only lower-case letters, digits and `-` (and `.`)";
        const ENDS: &str =
            "must start and end with a letter or digit to be a Kubernetes object name";
        for (value, reason) in [
            ("", "is empty".to_string()),
            (
                &"a".repeat(254),
                "is 254 characters long; a Kubernetes object name has at most 253".into(),
            ),
            ("LetsEncrypt", format!("contains `L`; {CHARACTERS}")),
            ("lets_encrypt", format!("contains `_`; {CHARACTERS}")),
            ("lets encrypt", format!("contains a space; {CHARACTERS}")),
            ("issuer/prod", format!("contains `/`; {CHARACTERS}")),
            ("-issuer", ENDS.into()),
            ("issuer-", ENDS.into()),
            ("issuer.-prod", ENDS.into()),
            ("issuer..prod", ENDS.into()),
            (".issuer", ENDS.into()),
            ("issuer.", ENDS.into()),
        ] {
            refuses::<KubeName>(value, &reason, "letsencrypt");
        }
    }

    #[test]
    fn namespaces_are_rfc_1123_labels() {
        for value in ["matrix", "matrix-prod", "0", &"a".repeat(63)] {
            let namespace: Namespace = accepts(value);
            assert_eq!(namespace.0.as_str(), value);
            assert_eq!(namespace.to_string(), value);
            assert_eq!(String::from(namespace), value);
        }
        const CHARACTERS: &str =
            "a Kubernetes namespace name has only lower-case letters, digits and `-`";
        for (value, reason) in [
            ("", "is empty".to_string()),
            (
                &"a".repeat(64),
                "is 64 characters long; a Kubernetes namespace name has at most 63".into(),
            ),
            // Length is checked before the dot.
            (
                &format!("{}.b", "a".repeat(62)),
                "is 64 characters long; a Kubernetes namespace name has at most 63".into(),
            ),
            ("matrix.prod", format!("contains `.`; {CHARACTERS}")),
            ("Matrix", format!("contains `M`; {CHARACTERS}")),
            ("matrix_prod", format!("contains `_`; {CHARACTERS}")),
            (
                "-matrix",
                "must start and end with a letter or digit to be a Kubernetes namespace name"
                    .into(),
            ),
        ] {
            refuses::<Namespace>(value, &reason, "matrix");
        }
    }

    #[test]
    fn gateway_refs_are_a_name_with_an_optional_namespace() {
        for (value, namespace, name) in [
            ("public", None, "public"),
            ("gateway-system/public", Some("gateway-system"), "public"),
            ("gw/my.gateway", Some("gw"), "my.gateway"),
        ] {
            let gateway: GatewayRef = accepts(value);
            assert_eq!(
                gateway.namespace.as_ref().map(KubeName::as_str),
                namespace,
                "{value:?}"
            );
            assert_eq!(gateway.name.as_str(), name, "{value:?}");
            assert_eq!(gateway.to_string(), value);
            assert_eq!(String::from(gateway), value);
        }
    }

    /// The namespace and name keep their own reasons; the example shows the whole form.
    #[test]
    fn malformed_gateway_refs_are_refused_with_the_reason() {
        for (value, reason) in [
            ("", "is empty"),
            ("/public", "is empty"),
            ("gateway-system/", "is empty"),
            (
                "gateway.system/public",
                "contains `.`; a Kubernetes namespace name has only lower-case letters, digits and `-`",
            ),
            (
                "gateway-system/Public",
                "contains `P`; a Kubernetes object name has only lower-case letters, digits and `-` (and `.`)",
            ),
            (
                "Public",
                "contains `P`; a Kubernetes object name has only lower-case letters, digits and `-` (and `.`)",
            ),
            (
                "a/b/c",
                "contains `/`; a Kubernetes object name has only lower-case letters, digits and `-` (and `.`)",
            ),
            (
                "-gw/public",
                "must start and end with a letter or digit to be a Kubernetes namespace name",
            ),
        ] {
            refuses::<GatewayRef>(value, reason, "gateway-system/public");
        }
    }
}
