//! The way back: a `Setup` as a layer, then as flags (`to_args`, printed in every generated
//! file's "Regenerate:" header and by the wizard) or as YAML (the wizard's saved answers).
//! Both are derived from `SetupLayer`, so a new setting needs no code here beyond its
//! line in `From<&Setup>`.

use std::path::PathBuf;

use serde_yaml::Value;

use super::layer::SetupLayer;
use super::merge::merge;
use crate::setup::{KubernetesRouting, Setup, Tls};

/// The order of the flags `to_args` prints, which every generated file's header shows:
/// values first, then the switches with the values that only apply with them. The field
/// order of `SetupLayer` is the order of `--help` and the saved YAML; a test checks that
/// this names every key once.
pub const FLAG_ORDER: [&str; 22] = [
    "server_name",
    "homeserver_host",
    "homeserver",
    "upstream",
    "federation_port",
    "tls",
    "tls_cert",
    "tls_key",
    "acme_email",
    "max_upload",
    "webroot",
    "listen_address",
    "proxy",
    "out",
    "no_federation",
    "compose",
    "kubernetes",
    "ingress_class",
    "gateway",
    "cluster_issuer",
    "namespace",
    "expose_admin",
];

/// Every setting of `setup`, defaults included, as the wizard saves it. Left out: off
/// switches other than `compose`, and with Kubernetes what it refuses (the Service is the
/// upstream, the ingress controller the proxy, and no host folder is served).
impl From<&Setup> for SetupLayer {
    fn from(setup: &Setup) -> SetupLayer {
        let (tls_cert, tls_key, acme_email) = match &setup.tls {
            Tls::Files { cert, key } => (Some(cert.clone()), Some(key.clone()), None),
            Tls::Acme { email } => (None, None, email.clone()),
            Tls::None => (None, None, None),
        };
        let kubernetes = setup.kubernetes.as_ref();
        let (ingress_class, gateway) = match kubernetes.map(|k| &k.routing) {
            Some(KubernetesRouting::Ingress(class)) => (Some(*class), None),
            Some(KubernetesRouting::Gateway(gateway)) => (None, Some(gateway.clone())),
            None => (None, None),
        };
        let host_install = kubernetes.is_none();
        SetupLayer {
            server_name: Some(setup.server_name.clone()),
            homeserver_host: Some(setup.homeserver_host.clone()),
            homeserver: Some(setup.homeserver.into()),
            expose_admin: setup.expose_admin.then_some(true),
            upstream: host_install.then(|| setup.upstream.clone()),
            federation_port: setup.federation_port,
            no_federation: setup.federation_port.is_none().then_some(true),
            tls: Some(setup.tls.mode()),
            tls_cert,
            tls_key,
            acme_email,
            max_upload: Some(setup.max_upload),
            webroot: host_install.then(|| setup.webroot.clone()),
            listen_address: (!setup.listen_addresses.is_empty())
                .then(|| setup.listen_addresses.clone()),
            proxy: host_install.then(|| setup.proxies.clone()),
            compose: Some(setup.compose),
            kubernetes: (!host_install).then_some(true),
            ingress_class,
            gateway,
            cluster_issuer: kubernetes.and_then(|k| k.cluster_issuer.clone()),
            namespace: kubernetes.map(|k| k.namespace.clone()),
            // As displayed: a path that is not UTF-8 cannot be a YAML string or a flag.
            out: Some(PathBuf::from(setup.out.display().to_string())),
            layout: None,
            templates: None,
        }
    }
}

/// The flags that give `setup` back through `merge`: each setting of `SetupLayer::from`,
/// left out where leaving it out gives the same setup (it is a default).
pub fn to_args(setup: &Setup, with_out: bool) -> Vec<String> {
    let mut layer = SetupLayer::from(setup);
    if !with_out {
        layer.out = None;
    }
    let mut keys = keys_of(&layer);
    if let Ok(target) = merge(&layer, SetupLayer::default()) {
        for key in FLAG_ORDER {
            let mut trial = keys.clone();
            if trial.remove(key).is_some()
                && merge(&layer_of(&trial), SetupLayer::default())
                    .is_ok_and(|again| again == target)
            {
                keys = trial;
            }
        }
    }
    flags_of(&keys)
}

/// A layer as flags, in `FLAG_ORDER`: each key becomes its flag (`max_upload` →
/// `--max-upload`), `true` the bare flag, `false` `--flag=false`, a list one value
/// joined with commas.
pub fn flags(layer: &SetupLayer) -> Vec<String> {
    flags_of(&keys_of(layer))
}

fn flags_of(keys: &serde_yaml::Mapping) -> Vec<String> {
    let mut args = Vec::new();
    for key in FLAG_ORDER {
        let flag = format!("--{}", key.replace('_', "-"));
        match keys.get(key) {
            None => {}
            Some(Value::Bool(true)) => args.push(flag),
            Some(Value::Bool(false)) => args.push(format!("{flag}=false")),
            Some(Value::Sequence(items)) => {
                let items: Vec<String> = items.iter().map(scalar).collect();
                args.extend([flag, items.join(",")]);
            }
            Some(value) => args.extend([flag, scalar(value)]),
        }
    }
    args
}

/// A layer's keys and values as YAML would have them, in field order.
fn keys_of(layer: &SetupLayer) -> serde_yaml::Mapping {
    match serde_yaml::to_value(layer) {
        Ok(Value::Mapping(keys)) => keys,
        other => unreachable!("a layer serializes to a mapping, not {other:?}"),
    }
}

fn layer_of(keys: &serde_yaml::Mapping) -> SetupLayer {
    serde_yaml::from_value(Value::Mapping(keys.clone())).expect("a serialized layer reads back")
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(on) => on.to_string(),
        other => unreachable!("setting values are scalars, not {other:?}"),
    }
}
