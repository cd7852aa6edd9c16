//! The docker-compose stack: the homeserver, one proxy, and certbot where the proxy
//! cannot obtain certificates itself.

use serde::Serialize;

use super::{Decisions, Listener};
use crate::defaults::{
    CERTBOT_RENEW_INTERVAL_SECONDS, CERTBOT_SERVICE, CERTBOT_STANDALONE_PORT,
    CERTIFICATE_CHECK_SECONDS,
};
use crate::matrix::HTTP_PORT;
use crate::proxy::{
    self, CertificateForm, Challenge, ComposeHealthcheck, ComposeRuntime, ProxyFacts,
};
use crate::setup::{Proxy, Tls};

/// certbot's official image, pinned: a new release is taken on purpose, not on restart
/// (hub.docker.com/r/certbot/certbot; tags `v<version>`, tools/docker/deploy_images.sh).
const CERTBOT_IMAGE: &str = "docker.io/certbot/certbot:v5.6.0";
/// The named volume certbot's webroot plugin writes challenge files to and the proxy
/// serves them from.
const CHALLENGE_VOLUME: &str = "acme-challenge";

#[derive(Debug, Serialize)]
pub struct Compose {
    pub proxy: Proxy,
    pub service: String,
    /// The homeserver's service: `--upstream`'s host (`Upstream::compose_service`).
    pub homeserver_service: String,
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
    /// `--rtc`: LiveKit and its authorization service in the stack; null without it.
    pub rtc: Option<ComposeRtc>,
    /// `--worker`: Synapse's worker services, Redis and Synapse's PostgreSQL; null without.
    pub workers: Option<super::workers::ComposeWorkers>,
    /// With certbot: the script of the proxy's service command (`sh -c`), one line each,
    /// as written in docker-compose.yml (`$$` is a `$` to compose). It starts the server
    /// and reloads it whenever certbot renewed the certificate it reads.
    pub proxy_script: Option<Vec<String>>,
    /// With certbot and a proxy that serves the challenge files: the volume certbot writes
    /// them to, mounted read-only where the proxy serves `/.well-known/acme-challenge/`.
    pub challenge_volume: Option<String>,
    /// The proxy's health check, with a tool its image ships (`proxy::ComposeHealthcheck`).
    pub proxy_healthcheck: Healthcheck,
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

/// LiveKit and the MatrixRTC authorization service (element-hq/lk-jwt-service) in the stack.
/// Facts and their sources: `homeserver::rtc`, and below.
#[derive(Debug, Serialize)]
pub struct ComposeRtc {
    pub livekit_service: String,
    /// livekit/livekit-server at a release: .github/workflows/docker.yaml tags each
    /// `v*.*.*` tag `v{{version}}` (docker/metadata-action `type=semver,pattern=v{{version}}`);
    /// v1.13.5 is tagged 3b9f118 (2026-07-31). Its runtime stage is Alpine
    /// (`FROM alpine:3.24.1`, Dockerfile), so busybox's wget is there for the health check.
    pub livekit_image: String,
    /// LiveKit's config file in the stack, and where the container reads it
    /// (`--config`, cmd/server/main.go).
    pub livekit_config_file: String,
    pub livekit_config_path: String,
    /// `port`: HTTP and the signalling WebSocket, reached by the proxy only.
    pub livekit_port: u16,
    /// `rtc.tcp_port` and `rtc.udp_port` (config-sample.yaml): ICE/TCP and every UDP media
    /// stream on one port, published directly on the host.
    pub ice_tcp_port: u16,
    pub udp_port: u16,
    /// `ports:` of the LiveKit service, the same number outside as inside: LiveKit announces
    /// its own port numbers in its ICE candidates, so a remapped port is never reached.
    pub media_ports: Vec<String>,
    /// `rtc.use_external_ip`: inside the container LiveKit sees only its address on the
    /// stack's network, which no client can reach; this has it find the host's public
    /// address over STUN and announce that ("useful for cloud environments … where hosts
    /// have an internal IP that maps to an external one", config-sample.yaml).
    pub use_external_ip: bool,
    /// `room.auto_create`: false, so only the authorization service creates rooms, for
    /// users of the homeservers it serves in full (Element Call's docs/self_hosting.md;
    /// lk-jwt-service README, "Restricting room creation").
    pub room_auto_create: bool,
    /// The health check's command: `/` answers 200 "OK" once the node is up, 406 before
    /// (pkg/service/server.go `healthCheck`), and busybox's wget fails on anything but 2xx.
    pub livekit_healthcheck: Vec<String>,
    pub auth_service: String,
    /// ghcr.io/element-hq/lk-jwt-service at a release: .github/workflows/build.yaml tags each
    /// release `X.Y.Z` (`type=semver,pattern={{version}}`); v0.5.0 is tagged 199ac87
    /// (2026-06-01). It is `FROM scratch` with the service alone (Dockerfile), so no health
    /// check can run in it: the `lk-jwt-service-healthcheck` binary came to main after
    /// v0.5.0. v0.5.0 serves /sfu/get, /get_token and /healthz (main.go); the routed
    /// /delegate_delayed_leave answers 404 until a release has it, and LiveKit gets no
    /// webhook, since v0.5.0 has no /sfu_webhook to receive it.
    pub auth_image: String,
    /// Its environment (README.md "Configuration"; main.go `readConfig` in v0.5.0):
    /// `LIVEKIT_JWT_BIND` (the deprecated `LIVEKIT_JWT_PORT` must not be set with it),
    /// `LIVEKIT_URL`, the URL it hands clients, and `LIVEKIT_FULL_ACCESS_HOMESERVERS`, the
    /// homeservers whose users may create rooms.
    pub auth_bind: String,
    pub livekit_url: String,
    pub full_access_homeservers: String,
    /// `.env` variables with LiveKit's API key and secret: LiveKit reads them as
    /// `LIVEKIT_KEYS` ("key: secret", cmd/server/main.go, pkg/config/config.go
    /// `unmarshalKeys`), lk-jwt-service as `LIVEKIT_KEY` and `LIVEKIT_SECRET`.
    pub key_env: String,
    pub secret_env: String,
}

const LIVEKIT_IMAGE: &str = "docker.io/livekit/livekit-server:v1.13.5";
const LIVEKIT_CONFIG_FILE: &str = "livekit/livekit.yaml";
const LIVEKIT_CONFIG_PATH: &str = "/etc/livekit/livekit.yaml";
const RTC_AUTH_IMAGE: &str = "ghcr.io/element-hq/lk-jwt-service:0.5.0";
const LIVEKIT_KEY_ENV: &str = "LIVEKIT_KEY";
const LIVEKIT_SECRET_ENV: &str = "LIVEKIT_SECRET";

/// The stack's certbot service, for a proxy that reads certbot's files.
#[derive(Debug, Serialize)]
pub struct Certbot {
    /// A second volume certbot writes to (`volume:path`): the one-file certificates of a
    /// proxy that reads chain and key from one file.
    pub volume: Option<String>,
    /// `--deploy-hook` command that assembles that file after each issue or renewal,
    /// as written in docker-compose.yml (`$$` is a `$` to compose).
    pub deploy_hook: Option<String>,
    pub image: &'static str,
    /// The long-running service's name.
    pub service: &'static str,
    /// The long-running service's volumes (`volume:path`): certbot's state, then the
    /// one-file certificates' and the challenge files' volumes where there are.
    pub volumes: Vec<String>,
    /// How `certbot renew` answers the challenges. The first certificate was obtained in
    /// standalone mode on port 80; "the same plugin and options that were used at the time
    /// the certificate was originally issued will be used for the renewal attempt, unless
    /// you specify other plugins or options" (certbot/docs/using.rst, "Renewing
    /// certificates"; certbot/_internal/renewal.py restores a value only if not
    /// `set_by_user`).
    pub renew_args: Vec<String>,
    /// The script of the service's entrypoint (`sh -c`; the image's own is `certbot`),
    /// one line each, as written in docker-compose.yml: `certbot renew` now and every
    /// `CERTBOT_RENEW_INTERVAL_SECONDS`.
    pub script: Vec<String>,
}

/// A compose `healthcheck`: `test` is `command` followed by `script` where there is one.
#[derive(Debug, Serialize)]
pub struct Healthcheck {
    /// What healthy means, the comment above it.
    pub comment: &'static str,
    pub command: Vec<&'static str>,
    pub script: Option<String>,
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
    let runtime = facts
        .compose_runtime
        .as_ref()
        .filter(|_| decided.acme && !facts.obtains_certificates);
    let certbot = runtime.map(|runtime| certbot(decided, facts, runtime));
    let certificate_files = match (&setup.tls, facts.certificate_form) {
        (Tls::Files { .. }, CertificateForm::CombinedPem { .. }) => {
            vec![super::tls::combined_pem(&decided.file_stem)]
        }
        (Tls::Files { cert, key }, CertificateForm::Pair) => {
            vec![cert.to_string(), key.to_string()]
        }
        _ => Vec::new(),
    };
    let homeserver_service = setup
        .upstream
        .compose_service(crate::defaults::COMPOSE_SERVICE);
    let mas = setup.mas.as_ref().map(compose_mas);
    let rtc = setup.rtc.as_ref().map(|rtc| compose_rtc(decided, rtc));
    let mut volumes = vec!["homeserver-data".to_string(), "certs".to_string()];
    let mut proxy_depends_on = vec![homeserver_service.clone()];
    if let Some(mas) = &mas {
        volumes.push(mas.database_volume.clone());
        proxy_depends_on.push(mas.service.clone());
    }
    if let Some(rtc) = &rtc {
        proxy_depends_on.push(rtc.livekit_service.clone());
        proxy_depends_on.push(rtc.auth_service.clone());
    }
    let workers = super::workers::compose_workers(setup);
    if let Some(workers) = &workers {
        volumes.push(workers.database_volume.into());
        proxy_depends_on.extend(workers.services.iter().map(|w| w.service.clone()));
    }
    if certbot
        .as_ref()
        .is_some_and(|certbot| certbot.volume.is_some())
    {
        volumes.push(COMBINED_PEM_VOLUME.into());
    }
    let challenge_volume = runtime
        .filter(|runtime| runtime.challenge == Challenge::Webroot)
        .map(|_| format!("{}:ro", challenge_mount(decided)));
    if challenge_volume.is_some() {
        volumes.push(CHALLENGE_VOLUME.into());
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
        homeserver_service,
        service_template: facts.compose_service_template,
        next_steps_template: facts.compose_next_steps_template,
        ports,
        certbot,
        certificate_volume,
        certificate_files,
        volumes,
        proxy_script: runtime.map(|runtime| reload_on_renewal(decided, facts, runtime)),
        challenge_volume,
        proxy_healthcheck: healthcheck(facts.compose_healthcheck),
        proxy_depends_on,
        mas,
        rtc,
        workers,
    }
}

fn compose_rtc(decided: &Decisions, rtc: &crate::setup::Rtc) -> ComposeRtc {
    use crate::homeserver::rtc as facts;
    let livekit_port = rtc.livekit.port.get();
    ComposeRtc {
        livekit_service: rtc
            .livekit
            .compose_service(crate::defaults::LIVEKIT_COMPOSE_SERVICE),
        livekit_image: LIVEKIT_IMAGE.into(),
        livekit_config_file: LIVEKIT_CONFIG_FILE.into(),
        livekit_config_path: LIVEKIT_CONFIG_PATH.into(),
        livekit_port,
        ice_tcp_port: facts::LIVEKIT_ICE_TCP_PORT,
        udp_port: facts::LIVEKIT_UDP_MUX_PORT,
        media_ports: vec![
            format!("{0}:{0}/tcp", facts::LIVEKIT_ICE_TCP_PORT),
            format!("{0}:{0}/udp", facts::LIVEKIT_UDP_MUX_PORT),
        ],
        use_external_ip: true,
        room_auto_create: false,
        livekit_healthcheck: [
            "CMD",
            "wget",
            "-q",
            "-O",
            "/dev/null",
            &format!("http://127.0.0.1:{livekit_port}/"),
        ]
        .map(String::from)
        .to_vec(),
        auth_service: rtc
            .auth
            .compose_service(crate::defaults::RTC_AUTH_COMPOSE_SERVICE),
        auth_image: RTC_AUTH_IMAGE.into(),
        auth_bind: format!(":{}", rtc.auth.port),
        livekit_url: format!("wss://{}", rtc.host),
        full_access_homeservers: decided.setup.server_name.to_string(),
        key_env: LIVEKIT_KEY_ENV.into(),
        secret_env: LIVEKIT_SECRET_ENV.into(),
    }
}

fn compose_mas(mas: &crate::setup::Mas) -> ComposeMas {
    ComposeMas {
        service: mas
            .upstream
            .compose_service(crate::defaults::MAS_COMPOSE_SERVICE),
        image: MAS_IMAGE.into(),
        config_path: MAS_CONFIG_PATH.into(),
        config_file: MAS_CONFIG_FILE.into(),
        database_service: crate::defaults::MAS_DATABASE_SERVICE.into(),
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
        host: crate::defaults::MAS_DATABASE_SERVICE.into(),
        username: MAS_DATABASE_NAME.into(),
        database: MAS_DATABASE_NAME.into(),
        password_env: MAS_DATABASE_PASSWORD_ENV.into(),
    }
}

/// Where certbot writes challenge files and the proxy serves them (`volume:path`):
/// `<webroot>/.well-known/acme-challenge`, so `certbot --webroot -w <webroot>` writes into
/// the volume and the proxies' existing webroot locations serve it unchanged.
fn challenge_mount(decided: &Decisions) -> String {
    format!(
        "{CHALLENGE_VOLUME}:{}/.well-known/acme-challenge",
        decided.setup.webroot
    )
}

/// A compose file reads `$` as the start of a variable; `$$` is a literal one.
fn compose_literal(lines: &[String]) -> Vec<String> {
    lines.iter().map(|line| line.replace('$', "$$")).collect()
}

/// The proxy cannot see certbot renew a file in another container, and no tool of its
/// image watches files: a background loop compares the certificate every
/// `CERTIFICATE_CHECK_SECONDS` with what it was and reloads the server when it changed,
/// then the shell execs into the image's own foreground command. certbot points the
/// chain's link at the new file last (storage.py `ALL_FOUR`: cert, privkey, chain,
/// fullchain), so a changed chain comes with its key already in place.
fn reload_on_renewal(
    decided: &Decisions,
    facts: &ProxyFacts,
    runtime: &ComposeRuntime,
) -> Vec<String> {
    let watched = match facts.certificate_form {
        CertificateForm::Pair => super::tls::letsencrypt_fullchain(&decided.file_stem),
        CertificateForm::CombinedPem { .. } => super::tls::combined_pem(&decided.file_stem),
    };
    compose_literal(&[
        format!("cert={watched}"),
        "seen=$(cksum < \"$cert\")".into(),
        format!("while sleep {CERTIFICATE_CHECK_SECONDS}; do"),
        "  now=$(cksum < \"$cert\")".into(),
        format!(
            "  if [ \"$now\" != \"$seen\" ]; then {} && seen=$now; fi",
            runtime.reload
        ),
        "done &".into(),
        format!("exec {}", runtime.foreground),
    ])
}

/// The health check `kind` names, as compose's `test`: a command, and for the bash probe
/// its script.
fn healthcheck(kind: ComposeHealthcheck) -> Healthcheck {
    match kind {
        ComposeHealthcheck::BashHttp => Healthcheck {
            comment: "Healthy once an HTTP status line comes back on port 80, with the image's own bash.",
            command: vec!["CMD", "bash", "-c"],
            script: Some(format!(
                "exec 3<>/dev/tcp/127.0.0.1/{HTTP_PORT} && printf 'HEAD / HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q '^HTTP/1'"
            )),
        },
        // A flag would be ignored: with a configuration file found, `traefik` reads its
        // static configuration from the file alone (measured with Traefik 3.7:
        // `healthcheck --ping` with a file lacking `ping` fails "please enable `ping`").
        ComposeHealthcheck::TraefikPing => Healthcheck {
            comment: "Traefik's own check asks /ping on the loopback-only `ping` entry point of traefik.yml.",
            command: vec!["CMD", "traefik", "healthcheck"],
            script: None,
        },
        ComposeHealthcheck::CaddyAdmin => Healthcheck {
            comment: "busybox wget (the image is Alpine) asks Caddy's admin endpoint on localhost:2019.",
            command: vec!["CMD", "wget", "-q", "-O", "/dev/null", CADDY_ADMIN_PROBE],
            script: None,
        },
    }
}

/// Caddy's admin endpoint, where it listens by default (caddyserver.com/docs, global
/// option `admin`: "Default: localhost:2019"): `/config/` answers 200 with the config.
const CADDY_ADMIN_PROBE: &str = "http://127.0.0.1:2019/config/";

/// certbot writes to the `certs` volume; for a proxy that reads one file, its deploy
/// hook also writes chain and key into that file on a volume of its own.
fn certbot(decided: &Decisions, facts: &ProxyFacts, runtime: &ComposeRuntime) -> Certbot {
    let (volume, hook) = match facts.certificate_form {
        CertificateForm::Pair => (None, None),
        CertificateForm::CombinedPem { dir } => (
            Some(format!("{COMBINED_PEM_VOLUME}:{dir}")),
            // Written aside and renamed: HAProxy, reloading, never reads half a file.
            Some(format!(
                "cat \"$RENEWED_LINEAGE/fullchain.pem\" \"$RENEWED_LINEAGE/privkey.pem\" > {pem}.new && mv {pem}.new {pem}",
                pem = super::tls::combined_pem(&decided.file_stem)
            )),
        ),
    };
    let mut volumes = vec!["certs:/etc/letsencrypt".to_string()];
    volumes.extend(volume.clone());
    let renew_args: Vec<String> = match runtime.challenge {
        Challenge::Webroot => {
            volumes.push(challenge_mount(decided));
            vec![
                "--webroot".into(),
                "-w".into(),
                decided.setup.webroot.to_string(),
            ]
        }
        Challenge::Standalone => vec![
            "--standalone".into(),
            "--http-01-port".into(),
            CERTBOT_STANDALONE_PORT.to_string(),
        ],
    };
    let hook_arg = hook
        .as_ref()
        .map(|hook| format!(" --deploy-hook '{hook}'"))
        .unwrap_or_default();
    // `trap`: as PID 1 the shell ignores SIGTERM unless it handles it, and `docker compose
    // stop` would wait 10 s and kill it; `wait` returns as soon as the signal arrives.
    let script = compose_literal(&[
        "trap exit TERM".into(),
        "while :; do".into(),
        format!(
            "  certbot renew --non-interactive {}{hook_arg}",
            renew_args.join(" ")
        ),
        format!("  sleep {CERTBOT_RENEW_INTERVAL_SECONDS} & wait $!"),
        "done".into(),
    ]);
    Certbot {
        volume,
        deploy_hook: hook.map(|hook| hook.replace('$', "$$")),
        image: CERTBOT_IMAGE,
        service: CERTBOT_SERVICE,
        volumes,
        renew_args,
        script,
    }
}
