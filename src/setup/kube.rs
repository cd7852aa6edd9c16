//! Kubernetes names and routing: object names, namespaces, Gateways, ingress classes.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::{Invalid, describe_char};

/// The ingress controller a Kubernetes cluster routes with; it decides the annotations
/// and, for Traefik, the middleware objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum IngressClass {
    /// ingress-nginx (kubernetes/ingress-nginx), IngressClass `nginx`.
    Nginx,
    /// Traefik's Kubernetes Ingress provider, IngressClass `traefik`.
    Traefik,
}

impl IngressClass {
    pub fn name(self) -> &'static str {
        match self {
            IngressClass::Nginx => "nginx",
            IngressClass::Traefik => "traefik",
        }
    }
}

impl FromStr for IngressClass {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        match value {
            "nginx" => Ok(IngressClass::Nginx),
            "traefik" => Ok(IngressClass::Traefik),
            _ => Err(Invalid::new(
                "is not an ingress class mxproxy writes annotations for (nginx or traefik); \
                 for another controller use --gateway with its Gateway",
                "nginx",
            )),
        }
    }
}

impl fmt::Display for IngressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
string_serde!(IngressClass);

impl From<IngressClass> for String {
    fn from(value: IngressClass) -> String {
        value.to_string()
    }
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

impl fmt::Display for KubeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
string_serde!(KubeName);

impl From<KubeName> for String {
    fn from(value: KubeName) -> String {
        value.0
    }
}

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

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
string_serde!(Namespace);

impl From<Namespace> for String {
    fn from(value: Namespace) -> String {
        value.0.0
    }
}

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

impl From<GatewayRef> for String {
    fn from(value: GatewayRef) -> String {
        value.to_string()
    }
}
