//! The docker-compose stack: the homeserver, one proxy, and certbot where the proxy
//! cannot obtain certificates itself.

use serde::Serialize;

use super::{Decisions, Listener};
use crate::matrix::HTTP_PORT;
use crate::proxy::{self, CertificateForm};
use crate::setup::{Proxy, Tls};

#[derive(Debug, Serialize)]
pub struct Compose {
    pub proxy: Proxy,
    pub service: String,
    /// Host ports published by the proxy container.
    pub ports: Vec<u16>,
    /// The proxy cannot obtain certificates itself, so the stack has a certbot service.
    pub certbot: bool,
    /// With `--tls files`: the host files the proxy container mounts, as the proxy reads
    /// them (HAProxy: chain and key in one file).
    pub certificate_files: Vec<String>,
    /// The stack's named volumes.
    pub volumes: Vec<String>,
}

pub(super) fn compose_plan(decided: &Decisions, matrix_listeners: &[Listener]) -> Compose {
    let setup = decided.setup;
    let proxy = setup.proxies[0];
    let facts = proxy::facts(proxy);
    // 80 for the redirect and ACME, then what the proxy listens on for the homeserver.
    let mut ports = vec![HTTP_PORT];
    for listener in matrix_listeners {
        if !ports.contains(&listener.port) {
            ports.push(listener.port);
        }
    }
    let certbot = decided.acme && !facts.obtains_certificates;
    let certificate_files = match (&setup.tls, facts.certificate_form) {
        (Tls::Files { .. }, CertificateForm::CombinedPem { .. }) => {
            vec![super::tls::combined_pem(&decided.homeserver_host)]
        }
        (Tls::Files { cert, key }, CertificateForm::Pair) => {
            vec![cert.to_string(), key.to_string()]
        }
        _ => Vec::new(),
    };
    let mut volumes = vec!["homeserver-data".to_string(), "certs".to_string()];
    // certbot's deploy hook writes the one-file chain and key HAProxy reads.
    if certbot && matches!(facts.certificate_form, CertificateForm::CombinedPem { .. }) {
        volumes.push("haproxy-certs".into());
    }
    Compose {
        proxy,
        service: proxy.name().into(),
        ports,
        certbot,
        certificate_files,
        volumes,
    }
}
