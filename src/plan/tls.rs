//! Where the certificates come from and where the proxies read them.

use serde::Serialize;

use super::Decisions;
use crate::proxy;
use crate::setup::Tls;

/// Certbot's standard layout; one certificate named after the homeserver host covers
/// every generated site.
const LETSENCRYPT_LIVE: &str = "/etc/letsencrypt/live";

#[derive(Debug, Serialize)]
pub struct TlsPlan {
    pub mode: String,
    pub enabled: bool,
    pub acme: bool,
    /// The proxies read certificate and key from the user's files (`--tls files`).
    pub files: bool,
    /// Certificate and key for proxies that read files (certbot's paths with acme).
    pub cert: Option<String>,
    pub key: Option<String>,
    pub acme_email: Option<String>,
    /// Certificate chain and key in one PEM, for proxies that read them from one file
    /// (HAProxy's `crt`); the summary says how it is assembled.
    pub combined_pem: Option<String>,
    /// The folder `combined_pem` is in, to create before writing it.
    pub combined_pem_dir: Option<String>,
    /// Host names one certificate must cover.
    pub names: Vec<String>,
    pub certbot_cert_name: String,
}

/// Where HAProxy's `crt` reads chain and key from, one file (the summary says how it is
/// assembled from certbot's or the user's two files).
pub(super) fn combined_pem(file_stem: &str) -> String {
    format!("{}/{file_stem}.pem", proxy::HAPROXY_CERTS)
}

/// certbot's chain file for the one certificate, named after `file_stem` (`--cert-name`).
pub(super) fn letsencrypt_fullchain(file_stem: &str) -> String {
    format!("{LETSENCRYPT_LIVE}/{file_stem}/fullchain.pem")
}

pub(super) fn tls_plan(decided: &Decisions, names: Vec<String>) -> TlsPlan {
    let setup = decided.setup;
    // certbot names the lineage folder and renewal/<name>.conf after --cert-name.
    let stem = &decided.file_stem;
    let (cert, key) = match &setup.tls {
        Tls::Files { cert, key } => (Some(cert.to_string()), Some(key.to_string())),
        Tls::Acme { .. } => (
            Some(letsencrypt_fullchain(stem)),
            Some(format!("{LETSENCRYPT_LIVE}/{stem}/privkey.pem")),
        ),
        Tls::None => (None, None),
    };
    TlsPlan {
        mode: setup.tls.mode().to_string(),
        enabled: decided.tls_enabled,
        acme: decided.acme,
        files: matches!(setup.tls, Tls::Files { .. }),
        cert,
        key,
        acme_email: match &setup.tls {
            Tls::Acme { email } => email.as_ref().map(ToString::to_string),
            _ => None,
        },
        combined_pem: decided.tls_enabled.then(|| combined_pem(stem)),
        combined_pem_dir: decided
            .tls_enabled
            .then(|| proxy::HAPROXY_CERTS.to_string()),
        names,
        certbot_cert_name: stem.clone(),
    }
}
