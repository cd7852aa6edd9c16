//! The docker-compose stack: the homeserver, one proxy, and certbot where the proxy
//! cannot obtain certificates itself.

use serde::Serialize;

use super::{Decisions, Listener};
use crate::matrix::HTTP_PORT;
use crate::proxy::{self, CertificateForm, ProxyFacts};
use crate::setup::{Proxy, Tls};

#[derive(Debug, Serialize)]
pub struct Compose {
    pub proxy: Proxy,
    pub service: String,
    /// The template of the proxy's service.
    pub service_template: &'static str,
    /// Summary lines the proxy adds for the stack, or none.
    pub next_steps_template: Option<&'static str>,
    /// Host ports published by the proxy container.
    pub ports: Vec<u16>,
    /// The proxy cannot obtain certificates itself, so the stack has a certbot service.
    pub certbot: Option<Certbot>,
    /// The named volume the proxy container reads or keeps its certificates in,
    /// `volume:path[:ro]`.
    pub certificate_volume: Option<String>,
    /// With `--tls files`: the host files the proxy container mounts, as the proxy reads
    /// them (HAProxy: chain and key in one file).
    pub certificate_files: Vec<String>,
    /// The stack's named volumes.
    pub volumes: Vec<String>,
}

/// The stack's certbot service, for a proxy that reads certbot's files.
#[derive(Debug, Serialize)]
pub struct Certbot {
    /// A second volume certbot writes to (`volume:path`): the one-file certificates of a
    /// proxy that reads chain and key from one file.
    pub volume: Option<String>,
    /// `--deploy-hook` command that assembles that file after each issue or renewal,
    /// as written in docker-compose.yml (`$$` is a `$` to compose).
    pub deploy_hook: Option<String>,
}

/// The volume certbot writes HAProxy's one-file certificates to.
const COMBINED_PEM_VOLUME: &str = "haproxy-certs";

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
    let certbot = (decided.acme && !facts.obtains_certificates).then(|| certbot(decided, facts));
    let certificate_files = match (&setup.tls, facts.certificate_form) {
        (Tls::Files { .. }, CertificateForm::CombinedPem { .. }) => {
            vec![super::tls::combined_pem(&decided.file_stem)]
        }
        (Tls::Files { cert, key }, CertificateForm::Pair) => {
            vec![cert.to_string(), key.to_string()]
        }
        _ => Vec::new(),
    };
    let mut volumes = vec!["homeserver-data".to_string(), "certs".to_string()];
    if certbot
        .as_ref()
        .is_some_and(|certbot| certbot.volume.is_some())
    {
        volumes.push(COMBINED_PEM_VOLUME.into());
    }
    let certificate_volume = match (facts.certificate_store, &certbot) {
        (Some(store), _) => {
            (store.every_mode || decided.acme).then(|| format!("certs:{}", store.path))
        }
        (None, Some(_)) => Some(match facts.certificate_form {
            CertificateForm::Pair => "certs:/etc/letsencrypt:ro".to_string(),
            CertificateForm::CombinedPem { dir } => format!("{COMBINED_PEM_VOLUME}:{dir}:ro"),
        }),
        (None, None) => None,
    };
    Compose {
        proxy,
        service: proxy.name().into(),
        service_template: facts.compose_service_template,
        next_steps_template: facts.compose_next_steps_template,
        ports,
        certbot,
        certificate_volume,
        certificate_files,
        volumes,
    }
}

/// certbot writes to the `certs` volume; for a proxy that reads one file, its deploy
/// hook also writes chain and key into that file on a volume of its own.
fn certbot(decided: &Decisions, facts: &ProxyFacts) -> Certbot {
    match facts.certificate_form {
        CertificateForm::Pair => Certbot {
            volume: None,
            deploy_hook: None,
        },
        CertificateForm::CombinedPem { dir } => Certbot {
            volume: Some(format!("{COMBINED_PEM_VOLUME}:{dir}")),
            deploy_hook: Some(format!(
                "cat \"$$RENEWED_LINEAGE/fullchain.pem\" \"$$RENEWED_LINEAGE/privkey.pem\" > {}",
                super::tls::combined_pem(&decided.file_stem)
            )),
        },
    }
}
