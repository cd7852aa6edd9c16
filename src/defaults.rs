//! mxproxy's own choices where the admin gave none: where files go, what services are
//! called, how long things wait. Each is a policy, not a fact of Matrix (`matrix.rs`), and
//! is defined here once for the flags' help, the merge, the wizard and the planner.
//! Bottom of the module graph: imports only `matrix`.

use crate::matrix;

/// The output folder, relative to where mxproxy runs.
pub const OUT: &str = "mxproxy-out";
/// Where the proxies serve ACME challenges and (Apache) the well-known files from.
pub const WEBROOT: &str = "/var/www/mxproxy";
/// Federation on the HTTPS port, announced by the server well-known: one port to open
/// and one certificate, and it works behind any TLS terminator.
pub const FEDERATION_PORT: u16 = matrix::HTTPS_PORT;
/// The compose service the proxy reaches the homeserver by; also the Kubernetes Service.
pub const COMPOSE_SERVICE: &str = "homeserver";
/// The compose service of the Matrix Authentication Service (`--mas --compose`): the
/// proxy and Synapse reach MAS by this name.
pub const MAS_COMPOSE_SERVICE: &str = "mas";
/// The compose services of LiveKit and its authorization service (`--rtc --compose`): the
/// proxy reaches each by its name.
pub const LIVEKIT_COMPOSE_SERVICE: &str = "livekit";
pub const RTC_AUTH_COMPOSE_SERVICE: &str = "lk-jwt-service";
/// MAS's PostgreSQL service (`--mas --compose`); a name no upstream may take.
pub const MAS_DATABASE_SERVICE: &str = "mas-database";
/// The compose service that renews certificates, which HAProxy reaches by this name.
pub const CERTBOT_SERVICE: &str = "certbot";
/// The compose services Synapse's workers need (`--worker --compose`): Redis, which relays
/// replication between the processes, and Synapse's PostgreSQL.
pub const REDIS_COMPOSE_SERVICE: &str = "redis";
pub const SYNAPSE_DATABASE_COMPOSE_SERVICE: &str = "synapse-database";
/// The Kubernetes namespace of every object.
pub const NAMESPACE: &str = "matrix";
/// Where the wizard offers to save the answers.
pub const SAVE_PATH: &str = "mxproxy.yaml";
/// Longer than any client long-poll (Conduit caps `/sync` at 30 s) and than a slow upload
/// of the largest allowed body; Conduit's docs use 300 s, MDAD 86400 s.
pub const READ_TIMEOUT_SECONDS: u32 = 600;
/// `--clients` unset: a small server's clients syncing at once. The sizes computed from it
/// keep the upstream pools at the 256 idle connections measured to be enough for a busy
/// small server (plan/capacity.rs).
pub const CLIENTS: u32 = 1000;
/// How long a proxy keeps an idle connection to the homeserver for reuse. It must end
/// before the homeserver closes the connection itself (`Facts::idle_close_seconds`, Synapse:
/// 60 s): a request sent on a connection the homeserver is closing fails, and nginx, Caddy
/// and Traefik answer a POST with 502 (they retry idempotent methods only). The proxies'
/// own defaults are nginx 60 s, Traefik 90 s, Caddy 2 min, Apache unlimited. 20 s also stays
/// under hyper's 30 s, which the Rust homeservers get as soon as their server sets a timer
/// (axum's next release does). Reconnecting to the homeserver every 20 s costs nothing.
pub const UPSTREAM_IDLE_TIMEOUT_SECONDS: u32 = 20;
/// Peers cache `/.well-known/matrix/server` for 24 h unless told otherwise
/// (server-server API, "Resolving server names" step 3); an hour lets a fix spread fast.
pub const WELL_KNOWN_MAX_AGE_SECONDS: u32 = 3600;
/// The port certbot's standalone server answers ACME challenges on behind a proxy that
/// serves no files (HAProxy): any free port above 1024, so certbot needs no privilege.
pub const CERTBOT_STANDALONE_PORT: u16 = 8888;
/// How often the compose stack's certbot service runs `certbot renew`, which renews only
/// what is due (since certbot 4.0, "when less than 1/3rd of its lifetime remains"): twice
/// a day, as certbot's docs set it up (certbot/docs/using.rst, "Setting up automated
/// renewal": cron `0 0,12 * * *`).
pub const CERTBOT_RENEW_INTERVAL_SECONDS: u32 = 12 * 60 * 60;
/// How often a compose stack's proxy compares the certificate certbot renews with the one
/// it loaded, to reload once it changed: renewal is due weeks ahead of the end (a third
/// of a 90-day lifetime), so minutes are plenty, and a check is one `cksum` of a few
/// kilobytes.
pub const CERTIFICATE_CHECK_SECONDS: u32 = 5 * 60;
/// Where Element Web's unpacked release is served from on a host install: the webroot of
/// Element's own Debian package (element-hq/element-web docs/install.md, "Debian package":
/// "point your chosen web server ... at the `/usr/share/element-web` webroot"); a release
/// tarball can be unpacked there as well.
pub const ELEMENT_WEB_ROOT: &str = "/usr/share/element-web";
/// The compose stack's Element Web service, which the proxy forwards the client's host to.
pub const ELEMENT_WEB_SERVICE: &str = "element-web";
/// The port Element's image listens on: its Dockerfile's `ENV ELEMENT_WEB_PORT=80`
/// (element-hq/element-web Dockerfile; docs/install.md runs it with `-p 80:80`).
pub const ELEMENT_WEB_IMAGE_PORT: u16 = 80;
