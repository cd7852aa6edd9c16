//! What differs between homeservers. One place, so templates and the plan never hard-code
//! a port, a path prefix or an image.
//!
//! Sources, read at these revisions: timokoesters/conduit d058dab; element-hq/synapse
//! a58ad44 (2026-07); continuwuity/continuwuity 0907323 (2026-08);
//! matrix-construct/tuwunel 5b36691 (2026-08); element-hq/dendrite 08cac1c (2026-05).

use serde::Serialize;

use crate::setup::{ByteSize, Homeserver, Port, UploadCeiling};

pub mod mas;
pub mod rtc;
pub mod settings;
pub mod workers;

pub struct Facts {
    pub display_name: &'static str,
    /// Port the homeserver is told to listen on, and the default upstream port.
    pub port: u16,
    /// Path prefixes to forward; everything else stays unreachable.
    pub prefixes: &'static [&'static str],
    /// Admin API prefixes, forwarded only with `--expose-admin`.
    pub admin_prefixes: &'static [&'static str],
    /// The homeserver's own upload limit when left unset; the proxies default to it.
    pub default_max_upload: ByteSize,
    /// The largest upload limit its own setting holds, where that is less than any size
    /// mxproxy accepts (`ByteSize::MAX`); `None`: any.
    pub upload_ceiling: Option<UploadCeiling>,
    pub image: &'static str,
    /// Where the image keeps its data (the compose volume).
    pub data_dir: &'static str,
    /// The file a host install sets the settings in, as the summary names it.
    pub config_file: &'static str,
    pub config_syntax: ConfigSyntax,
    /// How it is set up: picks its compose service and its summary steps.
    pub kind: HomeserverKind,
    /// Prefix of the environment variables that configure it; `None` when only a
    /// config file does (Synapse, Dendrite).
    pub env_prefix: Option<&'static str>,
    pub well_known: WellKnownSupport,
    /// Seconds after which the homeserver closes an idle keep-alive connection; `None`:
    /// never. A proxy must drop its idle upstream connections sooner
    /// (defaults::UPSTREAM_IDLE_TIMEOUT_SECONDS).
    pub idle_close_seconds: Option<u32>,
    /// How the compose stack learns its container is healthy.
    pub compose_healthcheck: HomeserverHealthcheck,
}

/// A homeserver container's health check: the image's own, one with a tool the image
/// ships, or none because nothing in the image could ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomeserverHealthcheck {
    /// The image declares a HEALTHCHECK, which compose runs as it is.
    Image,
    /// The image ships curl: it asks this path on the homeserver's port.
    Curl(&'static str),
    /// Nothing in the image could ask: why, the compose service's comment.
    Impossible(&'static str),
}

/// How a homeserver is set up; serialized as the template names use it
/// (`compose/<kind>.yml.j2`, `homeserver/<kind>.txt.j2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HomeserverKind {
    /// Configured by environment variables (Conduit family).
    Environment,
    Synapse,
    Dendrite,
}

impl HomeserverKind {
    /// Its service in docker-compose.yml.
    pub fn compose_template(self) -> &'static str {
        match self {
            HomeserverKind::Environment => "compose/environment.yml.j2",
            HomeserverKind::Synapse => "compose/synapse.yml.j2",
            HomeserverKind::Dendrite => "compose/dendrite.yml.j2",
        }
    }

    /// Its step in the summary.
    pub fn steps_template(self) -> &'static str {
        match self {
            HomeserverKind::Environment => "homeserver/environment.txt.j2",
            HomeserverKind::Synapse => "homeserver/synapse.txt.j2",
            HomeserverKind::Dendrite => "homeserver/dendrite.txt.j2",
        }
    }
}

/// How a setting is written in the homeserver's config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSyntax {
    /// `key = value` below `[global]`; dotted keys are sub-tables (`well_known.client`).
    Toml,
    /// `key: value`; a dotted key names a nested mapping (`media_api.max_file_size_bytes`).
    Yaml,
}

/// Whether the homeserver can answer `/.well-known/matrix/*` with the documents mxproxy
/// plans: Traefik cannot serve a fixed body and routes them to the homeserver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WellKnownSupport {
    /// Both documents, with any value the config names.
    Any,
    /// Synapse: the client document from `public_baseurl`, but the server document only
    /// ever as `<server_name>:443` (synapse/rest/well_known.py, `ServerWellKnownResource`).
    ServerNameOn443,
}

impl WellKnownSupport {
    /// Whether the homeserver's own `/.well-known/matrix/server` is the document the plan
    /// announces, for a setup that federates on `federation_port`.
    pub fn serves_planned_server_document(self, delegated: bool, federation_port: Port) -> bool {
        match self {
            WellKnownSupport::Any => true,
            WellKnownSupport::ServerNameOn443 => {
                !delegated && federation_port.get() == crate::matrix::HTTPS_PORT
            }
        }
    }
}

/// "Synapse /_synapse/admin/, Dendrite /_dendrite/ and /_synapse/admin/, …": the homeservers
/// that have an admin API to keep closed, and its paths.
pub fn admin_prefixes_described() -> String {
    Homeserver::ALL
        .iter()
        .map(|&homeserver| facts(homeserver))
        .filter(|facts| !facts.admin_prefixes.is_empty())
        .map(|facts| {
            format!(
                "{} {}",
                facts.display_name,
                facts.admin_prefixes.join(" and ")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn facts(homeserver: Homeserver) -> Facts {
    match homeserver {
        Homeserver::Conduit => CONDUIT,
        Homeserver::Synapse => SYNAPSE,
        Homeserver::Continuwuity => CONTINUWUITY,
        Homeserver::Tuwunel => TUWUNEL,
        Homeserver::Dendrite => DENDRITE,
    }
}

pub const CONDUIT: Facts = Facts {
    display_name: "Conduit",
    // Code default 8000, but docs, example config and compose files all use 6167,
    // so mxproxy sets it explicitly (src/config/mod.rs vs
    // docs/deploying/docker-compose.yml).
    port: 6167,
    // Its proxy examples forward /_matrix/ only (docs/deploying/generic.md).
    prefixes: &["/_matrix/"],
    admin_prefixes: &[],
    // `max_request_size` defaults to 20 MiB (src/config/mod.rs).
    default_max_upload: ByteSize::from_bytes_unchecked(20 * 1024 * 1024),
    // `pub max_request_size: u32` (src/config/mod.rs): a larger number fails to
    // deserialize and Conduit does not start.
    upload_ceiling: Some(UploadCeiling {
        bytes: u32::MAX as u64,
        setting: "max_request_size",
        why: "is a 32-bit number, so Conduit would not start",
    }),
    // Nix-built; sets no ENV, EXPOSE or VOLUME, so the compose stack sets every
    // setting (nix/pkgs/oci-image/default.nix).
    image: "registry.gitlab.com/famedly/conduit/matrix-conduit:latest",
    data_dir: "/var/lib/matrix-conduit/",
    config_file: "conduit.toml, [global]",
    config_syntax: ConfigSyntax::Toml,
    kind: HomeserverKind::Environment,
    // `CONDUIT_<KEY>`, `CONDUIT_WELL_KNOWN_<KEY>` for [global.well_known] (src/main.rs).
    env_prefix: Some("CONDUIT_"),
    well_known: WellKnownSupport::Any,
    // axum_server::bind(..).serve(app) (src/main.rs); axum-server never gives hyper
    // a timer (src/server.rs), and without one hyper closes no idle connection.
    idle_close_seconds: None,
    // registry.gitlab.com/famedly/conduit: nix/pkgs/oci-image/default.nix builds the image
    // from tini, Conduit and the CA certificates alone.
    compose_healthcheck: HomeserverHealthcheck::Impossible(
        "No health check: the image has only tini, Conduit and CA certificates, no curl or wget.",
    ),
};

pub const SYNAPSE: Facts = Facts {
    display_name: "Synapse",
    // "set `x_forwarded: true` in the port 8008 section" (docs/reverse_proxy.md);
    // the image's generate step listens there too (docker/README.md,
    // SYNAPSE_HTTP_PORT "Defaults to 8008").
    port: 8008,
    // "forward requests to `/_matrix` or `/_synapse/client` to Synapse"
    // (docs/reverse_proxy.md).
    prefixes: &["/_matrix/", "/_synapse/client/"],
    // "we do not recommend exposing them to the public internet without good
    // reason" (docs/reverse_proxy.md, "Synapse administration endpoints").
    admin_prefixes: &["/_synapse/admin/"],
    // `max_upload_size` "Defaults to "50M"", and Synapse's M is MiB
    // (docs/usage/configuration/config_documentation.md; synapse/config/_base.py
    // `parse_size`).
    default_max_upload: ByteSize::from_bytes_unchecked(50 * 1024 * 1024),
    // `parse_size` returns a Python int: no ceiling (synapse/config/_base.py).
    upload_ceiling: None,
    // docker/README.md: `matrixdotorg/synapse:latest`, one volume at /data.
    image: "docker.io/matrixdotorg/synapse:latest",
    data_dir: "/data",
    config_file: "homeserver.yaml",
    config_syntax: ConfigSyntax::Yaml,
    kind: HomeserverKind::Synapse,
    // "The docker image used to support creating a dynamic configuration file
    // based on environment variables. This is no longer supported"
    // (docker/README.md): settings go into a YAML file.
    env_prefix: None,
    well_known: WellKnownSupport::ServerNameOn443,
    // Twisted's HTTPFactory(timeout=60) (synapse/http/site.py `_REQUEST_TIMEOUT`
    // up to 1.139; twisted/web/http.py restarts the timer after each response):
    // an idle connection is closed after 60 s.
    idle_close_seconds: Some(60),
    // docker/Dockerfile: HEALTHCHECK ... CMD curl -fSs http://localhost:8008/health.
    compose_healthcheck: HomeserverHealthcheck::Image,
};

pub const CONTINUWUITY: Facts = Facts {
    display_name: "continuwuity",
    // `#port = 8008` (conduwuit-example.toml; src/core/config/mod.rs
    // `default_port`), and CONTINUWUITY_PORT: 8008 in
    // docs/public/deploying/docker-compose.yml.
    port: 8008,
    // "proxy everything under these following routes: `/_matrix/` ...
    // `/_continuwuity/` - Continuwuity's integrated account management interface
    // and authentication path for OAuth-compatible clients"
    // (docs/deploying/generic.mdx). No `/_conduwuit/` route exists any more
    // (src/api/router.rs, src/web/mod.rs). Its admin API lives inside
    // /_continuwuity/ and is guarded by admin access tokens; there is no separate
    // prefix to keep closed.
    prefixes: &["/_matrix/", "/_continuwuity/"],
    admin_prefixes: &[],
    // `#max_request_size = 20971520` "Defaults to 20MB" (conduwuit-example.toml;
    // `default_max_request_size` = 20 * 1024 * 1024).
    default_max_upload: ByteSize::from_bytes_unchecked(20 * 1024 * 1024),
    // `pub max_request_size: usize` (src/core/config/mod.rs): 64 bits.
    upload_ceiling: None,
    // docs/deploying/docker.mdx: forgejo.ellis.link/continuwuation/continuwuity:latest
    // "(recommended)".
    image: "forgejo.ellis.link/continuwuation/continuwuity:latest",
    // CONTINUWUITY_DATABASE_PATH: /var/lib/continuwuity, volume db:/var/lib/continuwuity
    // (docs/public/deploying/docker-compose.yml); `database_path` has no default.
    data_dir: "/var/lib/continuwuity",
    config_file: "continuwuity.toml, [global]",
    config_syntax: ConfigSyntax::Toml,
    kind: HomeserverKind::Environment,
    // Env::prefixed("CONTINUWUITY_").split("__") (src/core/config/mod.rs `load`).
    env_prefix: Some("CONTINUWUITY_"),
    // [global.well_known] client/server (conduwuit-example.toml).
    well_known: WellKnownSupport::Any,
    // axum_server::bind (src/router/serve/plain.rs), no hyper timer: as Conduit.
    idle_close_seconds: None,
    // docker/Dockerfile: the image is `FROM scratch` with the conduwuit binary, its
    // libraries and CA certificates, and no HEALTHCHECK.
    compose_healthcheck: HomeserverHealthcheck::Impossible(
        "No health check: the image is FROM scratch, the server alone, no curl or wget.",
    ),
};

pub const TUWUNEL: Facts = Facts {
    display_name: "tuwunel",
    // `default_port` is 8008 (src/core/config/mod.rs, tuwunel-example.toml
    // `#port = 8008`); its compose files set TUWUNEL_PORT: 6167 and publish
    // 8008:6167, mxproxy keeps the code default and sets it explicitly.
    port: 8008,
    // "Reverse proxy the following routes: `/_matrix/` ... `/_tuwunel/`"
    // (docs/deploying/generic.md, "Quick Overview").
    prefixes: &["/_matrix/", "/_tuwunel/"],
    // "Optionally reverse proxy ... `/_synapse/admin/` if you use administration
    // dashboards ... Restrict this path to trusted networks" (same page).
    admin_prefixes: &["/_synapse/admin/"],
    // `default_max_request_size` = 24 * 1024 * 1024 (src/core/config/mod.rs;
    // tuwunel-example.toml `#max_request_size = 24 MiB`).
    default_max_upload: ByteSize::from_bytes_unchecked(24 * 1024 * 1024),
    // `pub max_request_size: usize` (src/core/config/mod.rs): 64 bits.
    upload_ceiling: None,
    // docs/deploying/docker.md: ghcr.io/matrix-construct/tuwunel:latest, "Most
    // recent tagged release" (also docker.io/jevolk/tuwunel:latest).
    image: "ghcr.io/matrix-construct/tuwunel:latest",
    // `default_database_path` "/var/lib/tuwunel"; compose volume db:/var/lib/tuwunel.
    data_dir: "/var/lib/tuwunel",
    config_file: "tuwunel.toml, [global]",
    config_syntax: ConfigSyntax::Toml,
    kind: HomeserverKind::Environment,
    // ENV_PREFIXES ["CONDUIT_", "CONDUWUIT_", "TUWUNEL_"], split("__")
    // (src/core/config/mod.rs `merge_environment`).
    env_prefix: Some("TUWUNEL_"),
    // [global.well_known] client/server (tuwunel-example.toml).
    well_known: WellKnownSupport::Any,
    // axum_server::from_tcp (src/router/serve/plain.rs), no hyper timer: as Conduit.
    idle_close_seconds: None,
    // docker/bake.hcl target "docker": `FROM scratch` with HEALTHCHECK CMD ["tuwunel",
    // "--health-check"] (since v1.8.2; src/main/health.rs asks /_tuwunel/server_version
    // on the listeners of the same configuration, here its environment).
    compose_healthcheck: HomeserverHealthcheck::Image,
};

pub const DENDRITE: Facts = Facts {
    display_name: "Dendrite",
    // `-http-bind-address` default ":8008" (cmd/dendrite/main.go); its nginx
    // sample proxies to 127.0.0.1:8008 (docs/nginx/dendrite-sample.conf).
    port: 8008,
    // Its nginx and Caddy samples forward /_matrix only
    // (docs/nginx/dendrite-sample.conf, docs/caddy/Caddyfile).
    prefixes: &["/_matrix/"],
    // DendriteAdminPathPrefix "/_dendrite/" and SynapseAdminPathPrefix
    // "/_synapse/" (internal/httputil/paths.go) carry only admin routes
    // (clientapi/routing/routing.go: /admin/..., /admin/v1/register).
    admin_prefixes: &["/_dendrite/", "/_synapse/admin/"],
    // "if max_file_size_bytes is not set, it will default to 10485760 (10MB)"
    // (setup/config/config_mediaapi.go).
    default_max_upload: ByteSize::from_bytes_unchecked(10 * 1024 * 1024),
    // `MaxFileSizeBytes FileSizeBytes`, checked as `int64(c.MaxFileSizeBytes)`
    // (setup/config/config_mediaapi.go): 64 bits, as ByteSize::MAX.
    upload_ceiling: None,
    // build/docker/docker-compose.yml: ghcr.io/element-hq/dendrite-monolith:latest.
    image: "ghcr.io/element-hq/dendrite-monolith:latest",
    // generate-config -dir /var/dendrite/ (docs/installation/docker/1_docker.md).
    data_dir: "/var/dendrite",
    config_file: "dendrite.yaml",
    config_syntax: ConfigSyntax::Yaml,
    kind: HomeserverKind::Dendrite,
    // Configured by dendrite.yaml only (setup/flags.go `-config`).
    env_prefix: None,
    // global.well_known_server_name / well_known_client_name are served as given
    // (federationapi/routing/routing.go, clientapi/routing/routing.go).
    well_known: WellKnownSupport::Any,
    // http.Server{WriteTimeout: 5 min} without IdleTimeout or ReadTimeout
    // (setup/base/base.go): Go then closes no idle connection.
    idle_close_seconds: None,
    // Dockerfile (which docker.yml pushes as dendrite-monolith): `FROM alpine:latest`,
    // `apk add curl`; setup/base/base.go answers 200 on /_dendrite/monitor/up once it
    // serves requests.
    compose_healthcheck: HomeserverHealthcheck::Curl("/_dendrite/monitor/up"),
};
