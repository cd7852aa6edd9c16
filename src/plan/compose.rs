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
    /// The services the proxy's waits for: the homeserver, and MAS with `--mas`.
    pub proxy_depends_on: Vec<String>,
    /// `--mas`: MAS and its database in the stack; null without it.
    pub mas: Option<ComposeMas>,
}

/// The Matrix Authentication Service in the stack, with the PostgreSQL it needs
/// (MAS docs/setup/database.md: "The service uses a PostgreSQL database to store all of its
/// state"; there is no other backend).
#[derive(Debug, Serialize)]
pub struct ComposeMas {
    pub service: String,
    /// ghcr.io/element-hq/matrix-authentication-service at a release: build.yaml tags each
    /// release `X.Y.Z` (docker/metadata-action `type=semver,pattern={{version}}`); v1.22.0
    /// is tagged f28451c4 (2026-08-04). Its runtime stage is distroless (no shell, no HTTP
    /// client, Dockerfile `FROM gcr.io/distroless/cc-debian12:nonroot`), so the service has
    /// no health check: nothing inside the image could ask /health (the `health` resource,
    /// crates/router/src/endpoints.rs `Healthcheck`, mounted by crates/cli/src/server.rs
    /// `HttpResource::Health`; the MAS fragment puts it on the internal listener).
    pub image: String,
    /// Where the stack mounts MAS's config.yaml (the file `mas-cli config generate` writes,
    /// with the fragment's sections in it), and the host file.
    pub config_path: String,
    pub config_file: String,
    /// PostgreSQL: service, image, role and database, its volume and data directory.
    pub database_service: String,
    pub database_image: String,
    pub database_name: String,
    pub database_volume: String,
    pub database_data_dir: String,
    /// `.env` variables: the database password (PostgreSQL and MAS read it), and the secret
    /// MAS and Synapse share.
    pub database_password_env: String,
    pub shared_secret_env: String,
    /// MAS takes any config key from `MAS_<SECTION>_<KEY>` (crates/cli/src/commands/mod.rs
    /// `Env::prefixed("MAS_").split("_")`): the password and the shared secret reach it so,
    /// never through a file mxproxy writes.
    pub database_password_mas_env: String,
    pub shared_secret_mas_env: String,
    /// The compose secret Synapse reads the shared secret from (`/run/secrets/<name>`).
    pub shared_secret_name: String,
    /// The stack's network, with a fixed subnet: MAS trusts `X-Forwarded-For` only from the
    /// proxy (`http.trusted_proxies`), and on a network Docker numbers itself the proxy's
    /// address is not known in advance. Addresses Docker hands out stay in `ip_range`, so the
    /// proxy's fixed one below it is never taken by a container that started first.
    pub subnet: String,
    pub ip_range: String,
    pub proxy_address: String,
}

/// MAS's service name comes from `defaults` (the merge makes it the upstream); the rest of
/// the stack's MAS parts are named here.
const MAS_IMAGE: &str = "ghcr.io/element-hq/matrix-authentication-service:1.22.0";
const MAS_CONFIG_FILE: &str = "mas/config.yaml";
const MAS_CONFIG_PATH: &str = "/etc/mas/config.yaml";
const MAS_DATABASE_SERVICE: &str = "mas-database";
/// MAS recommends PostgreSQL 13 or later (docs/setup/database.md); the official image's
/// data directory up to 17 is /var/lib/postgresql/data (18 moved it).
const MAS_DATABASE_IMAGE: &str = "docker.io/library/postgres:17";
const MAS_DATABASE_DATA_DIR: &str = "/var/lib/postgresql/data";
const MAS_DATABASE_NAME: &str = "mas";
const MAS_DATABASE_VOLUME: &str = "mas-database";
const MAS_DATABASE_PASSWORD_ENV: &str = "MAS_DATABASE_PASSWORD";
const MAS_SHARED_SECRET_ENV: &str = "MAS_SYNAPSE_SECRET";
const MAS_SHARED_SECRET_NAME: &str = "mas-synapse-secret";
/// MAS's own names for `database.password` and `matrix.secret` in its environment.
const MAS_DATABASE_PASSWORD_MAS_ENV: &str = "MAS_DATABASE_PASSWORD";
pub(super) const MAS_SHARED_SECRET_MAS_ENV: &str = "MAS_MATRIX_SECRET";
/// A private range Docker's default address pools reach last (they start at 172.17/16)
/// and home networks rarely use; the proxy's address lies below the range Docker assigns.
const MAS_SUBNET: &str = "172.30.116.0/24";
const MAS_IP_RANGE: &str = "172.30.116.128/25";
pub(super) const MAS_PROXY_ADDRESS: &str = "172.30.116.2";

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
    let mas = setup.mas.as_ref().map(|_| compose_mas());
    let mut volumes = vec!["homeserver-data".to_string(), "certs".to_string()];
    let mut proxy_depends_on = vec![crate::defaults::COMPOSE_SERVICE.to_string()];
    if let Some(mas) = &mas {
        volumes.push(mas.database_volume.clone());
        proxy_depends_on.push(mas.service.clone());
    }
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
        proxy_depends_on,
        mas,
    }
}

fn compose_mas() -> ComposeMas {
    ComposeMas {
        service: crate::defaults::MAS_COMPOSE_SERVICE.into(),
        image: MAS_IMAGE.into(),
        config_path: MAS_CONFIG_PATH.into(),
        config_file: MAS_CONFIG_FILE.into(),
        database_service: MAS_DATABASE_SERVICE.into(),
        database_image: MAS_DATABASE_IMAGE.into(),
        database_name: MAS_DATABASE_NAME.into(),
        database_volume: MAS_DATABASE_VOLUME.into(),
        database_data_dir: MAS_DATABASE_DATA_DIR.into(),
        database_password_env: MAS_DATABASE_PASSWORD_ENV.into(),
        shared_secret_env: MAS_SHARED_SECRET_ENV.into(),
        database_password_mas_env: MAS_DATABASE_PASSWORD_MAS_ENV.into(),
        shared_secret_mas_env: MAS_SHARED_SECRET_MAS_ENV.into(),
        shared_secret_name: MAS_SHARED_SECRET_NAME.into(),
        subnet: MAS_SUBNET.into(),
        ip_range: MAS_IP_RANGE.into(),
        proxy_address: MAS_PROXY_ADDRESS.into(),
    }
}

/// Where Synapse reads the secret it shares with MAS in the stack: the compose secret.
pub(super) fn mas_shared_secret_path() -> String {
    format!("/run/secrets/{MAS_SHARED_SECRET_NAME}")
}

/// MAS's database as the MAS fragment names it for the stack: the password is not in it.
pub(super) fn mas_database() -> super::mas::MasDatabase {
    super::mas::MasDatabase {
        host: MAS_DATABASE_SERVICE.into(),
        username: MAS_DATABASE_NAME.into(),
        database: MAS_DATABASE_NAME.into(),
        password_env: MAS_DATABASE_PASSWORD_ENV.into(),
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
