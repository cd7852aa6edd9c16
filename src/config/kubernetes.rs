//! `--kubernetes` and its flags. Every value that means nothing in a cluster is refused
//! with the reason, so no flag is silently ignored.

use super::layer::{Layers, SetupLayer, Source};
use super::merge::DEFAULT_FEDERATION_PORT;
use crate::defaults;
use crate::error::Error;
use crate::homeserver;
use crate::setup::{
    GatewayRef, Homeserver, IngressClass, KubeName, Kubernetes, KubernetesRouting, Port,
    ServerName, Tls,
};

/// The Kubernetes part of the setup, or `None` without `--kubernetes`.
pub(super) fn kubernetes(
    layers: &Layers,
    server_name: &ServerName,
    federation_port: Option<Port>,
    tls: &Tls,
    homeserver: Homeserver,
) -> Result<Option<Kubernetes>, Error> {
    let ingress_class = layers.pick(|l| &l.ingress_class);
    let gateway = layers.pick(|l| &l.gateway);
    let cluster_issuer = layers.pick(|l| &l.cluster_issuer);
    if !layers.on(|l| &l.kubernetes) {
        stray_kubernetes_flags(layers)?;
        return Ok(None);
    }
    let working = working_command(server_name, tls, &ingress_class, &gateway, &cluster_issuer);
    refuse_host_only_flags(layers, server_name, federation_port, homeserver, &working)?;
    let routing = routing(ingress_class, gateway, &working)?;
    let cluster_issuer = cluster_issuer_for(layers, tls, &routing, cluster_issuer, &working)?;
    Ok(Some(Kubernetes {
        routing,
        cluster_issuer,
        namespace: layers.get(|l| &l.namespace).unwrap_or_else(|| {
            defaults::NAMESPACE
                .parse()
                .expect("the default namespace is valid")
        }),
    }))
}

/// Kubernetes flags without `--kubernetes`.
fn stray_kubernetes_flags(layers: &Layers) -> Result<(), Error> {
    let given = |key: fn(&SetupLayer) -> bool| key(layers.flags) || key(layers.file);
    let stray = [
        (
            given(|l| l.ingress_class.is_some()),
            "--ingress-class",
            "--ingress-class nginx",
        ),
        (
            given(|l| l.gateway.is_some()),
            "--gateway",
            "--gateway gateway-system/public",
        ),
        (
            given(|l| l.cluster_issuer.is_some()),
            "--cluster-issuer",
            "--ingress-class nginx --cluster-issuer letsencrypt",
        ),
        (
            given(|l| l.namespace.is_some()),
            "--namespace",
            "--ingress-class nginx --namespace matrix",
        ),
    ];
    match stray.iter().find(|(given, ..)| *given) {
        Some((_, flag, example)) => Err(Error::KubernetesOnly { flag, example }),
        None => Ok(()),
    }
}

/// A working command to show with each refusal: the same setup, the refused part left out.
fn working_command(
    server_name: &ServerName,
    tls: &Tls,
    ingress_class: &Option<(IngressClass, Source)>,
    gateway: &Option<(GatewayRef, Source)>,
    cluster_issuer: &Option<(KubeName, Source)>,
) -> String {
    let routing = match (gateway, ingress_class) {
        (Some((gateway, _)), _) => format!("--gateway {gateway}"),
        (None, Some((class, _))) => format!("--ingress-class {class}"),
        (None, None) => "--ingress-class nginx".into(),
    };
    let issuer = match (cluster_issuer, tls, gateway) {
        (Some((issuer, _)), Tls::Acme { .. }, None) => format!(" --cluster-issuer {issuer}"),
        (None, Tls::Acme { .. }, None) => " --cluster-issuer letsencrypt".into(),
        _ => String::new(),
    };
    format!("mxproxy generate --server-name {server_name} --kubernetes {routing}{issuer}")
}

/// What a host install reads and a cluster does not: a port of its own for federation, the
/// compose stack, listen addresses, proxies, an upstream, a webroot, an ACME e-mail, and
/// homeservers that need a config file.
fn refuse_host_only_flags(
    layers: &Layers,
    server_name: &ServerName,
    federation_port: Option<Port>,
    homeserver: Homeserver,
    working: &str,
) -> Result<(), Error> {
    if let Some(port) = federation_port.filter(|p| *p != DEFAULT_FEDERATION_PORT) {
        // An Ingress routes HTTP and HTTPS on the controller's ports 80 and 443 only
        // (networking.k8s.io/v1 has no port field per rule); a port of its own needs a
        // TCP service on the controller, outside the Ingress. Federation on 443 through
        // /.well-known/matrix/server works with every controller.
        return Err(Error::KubernetesFederationPort {
            port,
            server_name: server_name.clone(),
            example: working.into(),
        });
    }
    let given = |key: fn(&SetupLayer) -> bool| key(layers.flags) || key(layers.file);
    let refused = [
        (
            layers.on(|l| &l.compose),
            "--compose",
            "the cluster runs the homeserver, not docker compose",
        ),
        (
            given(|l| l.listen_address.is_some()),
            "--listen-address",
            "the ingress controller decides where the cluster listens",
        ),
        (
            given(|l| l.proxy.is_some()),
            "--proxy",
            "the cluster's ingress controller is the proxy; choose it with --ingress-class or --gateway",
        ),
        (
            given(|l| l.upstream.is_some()),
            "--upstream",
            "the Ingress reaches the homeserver through the Service mxproxy writes",
        ),
        (
            given(|l| l.webroot.is_some()),
            "--webroot",
            "no files are served from a host folder in a cluster",
        ),
        (
            given(|l| l.livekit_upstream.is_some()),
            "--livekit-upstream",
            "the routes reach LiveKit through the Service mxproxy writes",
        ),
        (
            given(|l| l.rtc_auth_upstream.is_some()),
            "--rtc-auth-upstream",
            "the routes reach the calls authorization service through the Service mxproxy writes",
        ),
    ];
    if let Some((_, flag, why)) = refused.iter().find(|(given, ..)| *given) {
        return Err(Error::KubernetesRefuses {
            flag: flag.to_string(),
            why: why.to_string(),
            example: working.into(),
        });
    }
    let facts = homeserver::facts(homeserver);
    if facts.env_prefix.is_none() {
        // Synapse and Dendrite need a generated config file with secrets and a signing
        // key before their first start (their compose steps); the StatefulSet sets
        // environment variables only.
        return Err(Error::KubernetesHomeserver {
            homeserver,
            display_name: facts.display_name,
            example: format!("{working} --homeserver tuwunel"),
        });
    }
    Ok(())
}

/// An Ingress of a class, or HTTPRoutes on a Gateway: a flag overrides the file's choice,
/// two in one layer conflict.
fn routing(
    ingress_class: Option<(IngressClass, Source)>,
    gateway: Option<(GatewayRef, Source)>,
    working: &str,
) -> Result<KubernetesRouting, Error> {
    match (ingress_class, gateway) {
        (Some((class, Source::Flag)), Some((_, Source::File))) => {
            Ok(KubernetesRouting::Ingress(class))
        }
        (Some((_, Source::File)), Some((gateway, Source::Flag))) => {
            Ok(KubernetesRouting::Gateway(gateway))
        }
        (Some((class, _)), Some((gateway, _))) => Err(Error::TwoRoutings { class, gateway }),
        (Some((class, _)), None) => Ok(KubernetesRouting::Ingress(class)),
        (None, Some((gateway, _))) => Ok(KubernetesRouting::Gateway(gateway)),
        (None, None) => Err(Error::KubernetesRouting {
            example: working.into(),
        }),
    }
}

/// The ClusterIssuer that signs the Ingress certificate: needed with `--tls acme` and an
/// Ingress, refused where the certificate comes from elsewhere.
fn cluster_issuer_for(
    layers: &Layers,
    tls: &Tls,
    routing: &KubernetesRouting,
    cluster_issuer: Option<(KubeName, Source)>,
    working: &str,
) -> Result<Option<KubeName>, Error> {
    let gateway = matches!(routing, KubernetesRouting::Gateway(_));
    // A file's issuer for its Ingress means nothing once a --gateway flag replaces the
    // Ingress: overridden, not contradicted (as a --tls flag overrides file certificates).
    let cluster_issuer = match cluster_issuer {
        Some((_, Source::File)) if gateway && layers.flags.gateway.is_some() => None,
        other => other.map(|(issuer, _)| issuer),
    };
    if let Tls::Acme { email: Some(email) } = tls {
        return Err(Error::KubernetesRefuses {
            flag: format!("--acme-email {email}"),
            why: "cert-manager's ClusterIssuer holds the ACME account and its e-mail".into(),
            example: working.into(),
        });
    }
    let example = working.to_string();
    match (tls, gateway, cluster_issuer) {
        (Tls::Acme { .. }, false, Some(issuer)) => Ok(Some(issuer)),
        (Tls::Acme { .. }, false, None) => Err(Error::KubernetesIssuer { example }),
        (_, true, Some(issuer)) => Err(Error::GatewayHoldsCertificate {
            flag: format!("--cluster-issuer {issuer}"),
            why: "so the cert-manager annotation belongs on the Gateway",
            example,
        }),
        (Tls::Files { .. } | Tls::None, false, Some(issuer)) => Err(Error::OnlyWith {
            flag: format!("--cluster-issuer {issuer}"),
            needs: format!("--tls acme, not --tls {}", tls.mode()),
            example,
        }),
        (Tls::Files { .. }, true, None) => Err(Error::GatewayHoldsCertificate {
            flag: "--tls files".into(),
            why: "not the routes",
            example,
        }),
        (_, _, None) => Ok(None),
    }
}
