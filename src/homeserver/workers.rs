//! Synapse's workers, from the reverse proxy's side: which requests each group of workers
//! takes, and how requests are spread over a group's workers. The one table every proxy's
//! routing is printed from (through `plan::workers`); no template has a regex of its own.
//!
//! Source: element-hq/synapse v1.157.1 (tag; commit a58ad44 is 16 commits later and
//! changes neither file): docs/workers.md, §`synapse.app.generic_worker` (the lists of
//! regular expressions, "Load balancing"), §"Stream writers" (one list per stream),
//! §`synapse.app.media_repository`, §"Updating the User Directory"; and
//! docker/configure_workers_and_start.py, `WORKERS_CONFIG` (`endpoint_patterns`) and
//! `is_sharding_allowed_for_worker_type`. Where the two differ, the docs' lists are used
//! (they are what Synapse promises a worker can serve; `WORKERS_CONFIG` leaves out e.g.
//! `keys/query` and `room_keys/`, and lists `createRoom` nowhere), and each pattern is
//! copied verbatim from the docs.
//!
//! Run for real on Synapse 1.163.2 (tests/traffic/synapse_workers.rs: a main process and
//! sync, client-reader, event-creator, federation-inbound and media workers on the
//! generated files). Its client servlets against the v1.157.1 tag (the wheel's
//! `register_servlets` functions, the docs are not in it): one new servlet any worker may
//! serve, `GET …/org.matrix.msc4140/delayed_events/{delay_id}`, which this table leaves on
//! the main process (which serves every servlet; v1.157.1's docs do not list it, and
//! 1.163.2's docs were not at hand to check), and `AuthIssuerServlet` removed; no servlet
//! moved between the main process and the workers.
//!
//! Every pattern is a PCRE-style regular expression matched against the decoded path
//! without the query string (nginx `$uri`, HAProxy `path`, Caddy `path_regexp`), as nginx
//! `location ~` matches it in Synapse's own docker image. They use only `^`, `$`, `.`,
//! `.*`, `[^/]+`, groups and alternation, which PCRE (nginx, HAProxy), RE2 (Caddy) and
//! Rust's `regex` read alike; an unescaped `.` matches any character in all of them, as
//! in Synapse's docs (`org.matrix.msc4140` also matches `orgXmatrix…`).

use crate::setup::WorkerGroup;

/// How a group's requests are spread over its workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Balance {
    /// A consistent hash of the whole access token: the `Authorization` header, or the
    /// `access_token` query parameter without one. "For `/sync` and `/initialSync`
    /// requests it will be more efficient if all requests from a particular user are
    /// routed to a single instance" (docs/workers.md, "Load balancing"). The docs' nginx
    /// example hashes the localpart cut out of a `syt_<localpart>_…` token; tokens that
    /// MAS issues (`mat_…`, `mct_…`) carry none, so the whole token is the key, which
    /// keeps each of a user's devices on one worker.
    Token,
    /// A consistent hash of the client's address: "The inbound federation transaction
    /// request `^/_matrix/federation/v1/send/` should be balanced by source IP so that
    /// transactions from the same remote server go to the same process."
    Source,
    /// A consistent hash of the request URI: identical federation reads (`state_ids`
    /// of one event) meet on one worker and its cache (ESS does the same, `balance uri`);
    /// "Federation and client requests can be balanced via simple round robin", so this
    /// is an optimisation, never a correctness rule.
    Uri,
    /// A consistent hash of the room id in the path (the component after `/rooms/`),
    /// round robin for paths without one: "Pagination requests [`/rooms/.*/messages`] can
    /// also be handled, but all requests for a given room must be routed to the same
    /// instance"; "event sending requests can be balanced by the room ID in the URI".
    Room,
    /// Any worker of the group: the stream writers that may have several writers
    /// (`receipts`, `device_lists`: "The `receipts` stream supports multiple writers").
    RoundRobin,
    /// One worker only: the group cannot be sharded, so a second address is refused.
    Single,
}

/// One group of the table.
#[derive(Debug)]
pub struct WorkerRoute {
    pub group: WorkerGroup,
    /// The paths the group takes, for every method.
    pub patterns: &'static [&'static str],
    /// Paths the group takes for GET only ("the following REST endpoints can be handled
    /// for GET requests"); other methods go to the main process.
    pub get_only_patterns: &'static [&'static str],
    pub balance: Balance,
    /// Whether the main process may answer the group's requests while none of its
    /// workers does. Not for media (with workers, `enable_media_repo: false` on the main
    /// process: "doing so will prevent the main process from being able to handle the
    /// above endpoints") nor SSO ("Ensure that all SSO logins go to a single process":
    /// a callback on another process than the redirect fails the login).
    pub falls_back_to_main: bool,
}

/// `(api/v1|r0|v3|unstable)` and its narrower forms appear verbatim in each pattern, as
/// Synapse lists them, so that each line can be compared with the docs by eye.
pub const TABLE: &[WorkerRoute] = &[
    // §"Stream writers": "should be routed directly to the worker configured as the
    // stream writer". First: their paths are the most specific (`.*/tags` would
    // otherwise be a client-reader's or an event creator's under `/rooms/`).
    WorkerRoute {
        group: WorkerGroup::Typing,
        patterns: &["^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/typing"],
        get_only_patterns: &[],
        balance: Balance::Single,
        falls_back_to_main: true,
    },
    WorkerRoute {
        group: WorkerGroup::ToDevice,
        patterns: &["^/_matrix/client/(r0|v3|unstable)/sendToDevice/"],
        get_only_patterns: &[],
        balance: Balance::Single,
        falls_back_to_main: true,
    },
    WorkerRoute {
        group: WorkerGroup::AccountData,
        patterns: &[
            "^/_matrix/client/(r0|v3|unstable)/.*/tags",
            "^/_matrix/client/(r0|v3|unstable)/.*/account_data",
        ],
        get_only_patterns: &[],
        balance: Balance::Single,
        falls_back_to_main: true,
    },
    WorkerRoute {
        group: WorkerGroup::Receipts,
        patterns: &[
            "^/_matrix/client/(r0|v3|unstable)/rooms/.*/receipt",
            "^/_matrix/client/(r0|v3|unstable)/rooms/.*/read_markers",
        ],
        get_only_patterns: &[],
        balance: Balance::RoundRobin,
        falls_back_to_main: true,
    },
    WorkerRoute {
        group: WorkerGroup::Presence,
        patterns: &["^/_matrix/client/(api/v1|r0|v3|unstable)/presence/"],
        get_only_patterns: &[],
        balance: Balance::Single,
        falls_back_to_main: true,
    },
    WorkerRoute {
        group: WorkerGroup::PushRules,
        patterns: &["^/_matrix/client/(api/v1|r0|v3|unstable)/pushrules/"],
        get_only_patterns: &[],
        balance: Balance::Single,
        falls_back_to_main: true,
    },
    WorkerRoute {
        group: WorkerGroup::DeviceLists,
        patterns: &[
            "^/_matrix/client/(r0|v3)/delete_devices$",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/devices(/|$)",
            "^/_matrix/client/(r0|v3|unstable)/keys/upload",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/keys/device_signing/upload$",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/keys/signatures/upload$",
        ],
        get_only_patterns: &[],
        balance: Balance::RoundRobin,
        falls_back_to_main: true,
    },
    // §"Updating the User Directory": "This work cannot be load-balanced".
    WorkerRoute {
        group: WorkerGroup::UserDirectory,
        patterns: &["^/_matrix/client/(r0|v3|unstable)/user_directory/search$"],
        get_only_patterns: &[],
        balance: Balance::Single,
        falls_back_to_main: true,
    },
    // §generic_worker, "if Synapse is configured to use SSO"; every provider's paths.
    WorkerRoute {
        group: WorkerGroup::SsoLogin,
        patterns: &[
            "^/_matrix/client/(api/v1|r0|v3|unstable)/login/sso/redirect",
            "^/_synapse/client/pick_idp$",
            "^/_synapse/client/pick_username",
            "^/_synapse/client/new_user_consent$",
            "^/_synapse/client/sso_register$",
            "^/_synapse/client/oidc/callback$",
            "^/_synapse/client/saml2/authn_response$",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/login/cas/ticket$",
        ],
        get_only_patterns: &[],
        balance: Balance::Single,
        falls_back_to_main: false,
    },
    // §`synapse.app.media_repository`. Several media workers "must be on the same
    // server" with one `media_instance_running_background_jobs`: one for now.
    WorkerRoute {
        group: WorkerGroup::Media,
        patterns: &[
            "^/_matrix/media/",
            "^/_matrix/client/v1/media/",
            "^/_matrix/federation/v1/media/",
            "^/_synapse/admin/v1/purge_media_cache$",
            "^/_synapse/admin/v1/room/.*/media.*$",
            "^/_synapse/admin/v1/user/.*/media.*$",
            "^/_synapse/admin/v1/media/.*$",
            "^/_synapse/admin/v1/quarantine_media/.*$",
            "^/_synapse/admin/v1/users/.*/media$",
        ],
        get_only_patterns: &[],
        balance: Balance::Single,
        falls_back_to_main: false,
    },
    // The optional initial-sync split (ESS's `initial-synchrotron`: element-hq/ess-helm
    // 83c7981, charts/matrix-stack/configs/synapse/partial-haproxy.cfg.tpl): `/sync` without
    // `since`, the expensive first sync of a device, and the legacy `initialSync`, on
    // workers of their own so that they do not hold up the incremental syncs; hashed on the
    // token like sync. A `/sync` with `since` goes on to the sync group (or the main
    // process), see `without_query`. Not taken over from ESS: `/sync?full_state=true` and
    // `/events` without `from` (another parameter each) stay with sync.
    WorkerRoute {
        group: WorkerGroup::InitialSync,
        patterns: &[
            "^/_matrix/client/(r0|v3)/sync$",
            "^/_matrix/client/(api/v1|r0|v3)/initialSync$",
            "^/_matrix/client/(api/v1|r0|v3)/rooms/[^/]+/initialSync$",
        ],
        get_only_patterns: &[],
        balance: Balance::Token,
        falls_back_to_main: true,
    },
    // §generic_worker, "# Sync requests".
    WorkerRoute {
        group: WorkerGroup::Sync,
        patterns: &[
            "^/_matrix/client/(r0|v3)/sync$",
            "^/_matrix/client/(api/v1|r0|v3)/events$",
            "^/_matrix/client/(api/v1|r0|v3)/initialSync$",
            "^/_matrix/client/(api/v1|r0|v3)/rooms/[^/]+/initialSync$",
        ],
        get_only_patterns: &[],
        balance: Balance::Token,
        falls_back_to_main: true,
    },
    // §generic_worker, "# Event sending requests".
    WorkerRoute {
        group: WorkerGroup::EventCreator,
        patterns: &[
            "^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/redact",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/send",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state/",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/(join|invite|leave|ban|unban|kick)$",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/join/",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/knock/",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/profile/",
        ],
        get_only_patterns: &[],
        balance: Balance::Room,
        falls_back_to_main: true,
    },
    // §generic_worker: "# Client API requests", "# Admin API requests", "# Encryption
    // requests" (those that are not the device_lists stream's), "# Registration/login
    // requests", "# Unstable MSC4140 support", the GET-only admin API and pagination
    // (`/messages`, which makes the balance per room).
    WorkerRoute {
        group: WorkerGroup::ClientReader,
        patterns: &[
            "^/_matrix/client/(api/v1|r0|v3|unstable)/createRoom$",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/publicRooms$",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/joined_members$",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/context/.*$",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/members$",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state$",
            "^/_matrix/client/v1/rooms/.*/hierarchy$",
            "^/_matrix/client/(v1|unstable)/rooms/.*/relations/",
            "^/_matrix/client/v1/rooms/.*/threads$",
            "^/_matrix/client/unstable/im.nheko.summary/summary/.*$",
            "^/_matrix/client/v1/room_summary/.*$",
            "^/_matrix/client/(r0|v3|unstable)/account/3pid$",
            "^/_matrix/client/(r0|v3|unstable)/account/whoami$",
            "^/_matrix/client/(r0|v3|unstable)/account/deactivate$",
            "^/_matrix/client/versions$",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/voip/turnServer$",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/event/",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/joined_rooms$",
            "^/_matrix/client/v1/rooms/.*/timestamp_to_event$",
            "^/_matrix/client/(api/v1|r0|v3|unstable/.*)/rooms/.*/aliases",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/search$",
            "^/_matrix/client/(r0|v3|unstable)/user/.*/filter(/|$)",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/directory/room/.*$",
            "^/_matrix/client/(r0|v3|unstable)/capabilities$",
            "^/_matrix/client/(r0|v3|unstable)/notifications$",
            "^/_synapse/admin/v1/rooms/[^/]+$",
            "^/_matrix/client/(r0|v3|unstable)/keys/query$",
            "^/_matrix/client/(r0|v3|unstable)/keys/changes$",
            "^/_matrix/client/(r0|v3|unstable)/keys/claim$",
            "^/_matrix/client/(r0|v3|unstable)/room_keys/",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/login$",
            "^/_matrix/client/(r0|v3|unstable)/register$",
            "^/_matrix/client/(r0|v3|unstable)/register/available$",
            "^/_matrix/client/v1/register/m.login.registration_token/validity$",
            "^/_matrix/client/(r0|v3|unstable)/password_policy$",
            "^/_matrix/client/unstable/org.matrix.msc4140/delayed_events(/.*/restart)?$",
            "^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/messages$",
        ],
        get_only_patterns: &["^/_synapse/admin/v2/users/[^/]+$"],
        balance: Balance::Room,
        falls_back_to_main: true,
    },
    // §generic_worker, "# Inbound federation transaction request".
    WorkerRoute {
        group: WorkerGroup::FederationInbound,
        patterns: &["^/_matrix/federation/v1/send/"],
        get_only_patterns: &[],
        balance: Balance::Source,
        falls_back_to_main: true,
    },
    // §generic_worker, "# Federation requests".
    WorkerRoute {
        group: WorkerGroup::FederationReader,
        patterns: &[
            "^/_matrix/federation/v1/version$",
            "^/_matrix/federation/v1/event/",
            "^/_matrix/federation/v1/state/",
            "^/_matrix/federation/v1/state_ids/",
            "^/_matrix/federation/v1/backfill/",
            "^/_matrix/federation/v1/get_missing_events/",
            "^/_matrix/federation/v1/publicRooms",
            "^/_matrix/federation/v1/query/",
            "^/_matrix/federation/v1/make_join/",
            "^/_matrix/federation/v1/make_leave/",
            "^/_matrix/federation/(v1|v2)/send_join/",
            "^/_matrix/federation/(v1|v2)/send_leave/",
            "^/_matrix/federation/v1/make_knock/",
            "^/_matrix/federation/v1/send_knock/",
            "^/_matrix/federation/(v1|v2)/invite/",
            "^/_matrix/federation/v1/event_auth/",
            "^/_matrix/federation/v1/timestamp_to_event/",
            "^/_matrix/federation/v1/exchange_third_party_invite/",
            "^/_matrix/federation/v1/user/devices/",
            "^/_matrix/key/v2/query",
            "^/_matrix/federation/v1/hierarchy/",
        ],
        get_only_patterns: &[],
        balance: Balance::Uri,
        falls_back_to_main: true,
    },
];

/// The row of `group`.
pub fn route(group: WorkerGroup) -> &'static WorkerRoute {
    TABLE
        .iter()
        .find(|route| route.group == group)
        .expect("every worker group has a row in the table")
}

/// The query parameter whose presence takes a request out of the group: `since` for the
/// initial syncs (a `/sync` with it is incremental, client-server spec `GET /sync`:
/// "since: A point in time to continue a sync from"). The proxies test it after the path.
pub fn without_query(group: WorkerGroup) -> Option<&'static str> {
    (group == WorkerGroup::InitialSync).then_some("since")
}

/// Whether a group may have more than one worker: not where the balance is `Single`.
/// Synapse refuses several writers of the typing, to_device, account_data and presence
/// streams ("unless otherwise documented, each stream can only have a single writer";
/// `is_sharding_allowed_for_worker_type`), push_rules has one writer too (not
/// "otherwise documented"), the user directory "cannot be load-balanced", SSO must stay
/// on "a single process".
pub fn shardable(group: WorkerGroup) -> bool {
    route(group).balance != Balance::Single
}

/// The stream a group's workers write, as `stream_writers` names it: docs/workers.md
/// §"Stream writers" (one heading per stream) and config_documentation.md `stream_writers`
/// (Synapse v1.157.1). `events` is no group's: an event creator is not an event persister
/// ("An `event_persister` should not be mistaken for an `event_creator`"), it hands its
/// events to the persisters or the main process over replication.
pub fn stream(group: WorkerGroup) -> Option<&'static str> {
    Some(match group {
        WorkerGroup::Typing => "typing",
        WorkerGroup::ToDevice => "to_device",
        WorkerGroup::AccountData => "account_data",
        WorkerGroup::Receipts => "receipts",
        WorkerGroup::Presence => "presence",
        WorkerGroup::PushRules => "push_rules",
        WorkerGroup::DeviceLists => "device_lists",
        _ => return None,
    })
}

/// The resources of a worker's HTTP listener (`worker_listeners[].resources[].names`):
/// `media` for the media repository (docs/workers.md §`synapse.app.media_repository`,
/// "configure the HTTP listener to expose the `media` resource"), `federation` for the
/// federation groups, `client` for the rest (§generic_worker: a listener "with `client`
/// and `federation` `resources`"; each group needs only the half its paths are under).
/// A stream writer adds `replication`: it "must have an HTTP `replication` listener" and be
/// in `instance_map` (§"Stream writers"); Synapse's docker image serves it on the same
/// listener (configure_workers_and_start.py), and no proxy forwards `/_synapse/replication`.
pub fn listener_resources(group: WorkerGroup) -> Vec<&'static str> {
    let public = match group {
        WorkerGroup::Media => "media",
        WorkerGroup::FederationInbound | WorkerGroup::FederationReader => "federation",
        _ => "client",
    };
    let mut names = vec![public];
    if stream(group).is_some() {
        names.push("replication");
    }
    names
}

/// The main process's HTTP replication listener, on loopback: docs/workers.md §"Shared
/// configuration" (its example's port; "Under **no circumstances** should the replication
/// listener be exposed to the public internet"). No default of mxproxy uses the port.
pub const MAIN_REPLICATION_PORT: u16 = 9093;

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    /// The seven single-writer and sharded streams of docs/workers.md §"Stream writers"
    /// each have one group, and only their workers get a replication listener.
    #[test]
    fn stream_writers_and_only_they_listen_for_replication() {
        let streams: Vec<&str> = WorkerGroup::ALL.iter().filter_map(|g| stream(*g)).collect();
        assert_eq!(
            streams,
            [
                "typing",
                "to_device",
                "account_data",
                "receipts",
                "presence",
                "push_rules",
                "device_lists"
            ]
        );
        for group in WorkerGroup::ALL {
            let resources = listener_resources(*group);
            assert_eq!(
                resources.contains(&"replication"),
                stream(*group).is_some(),
                "{group}"
            );
        }
        assert_eq!(listener_resources(WorkerGroup::Media), ["media"]);
        assert_eq!(
            listener_resources(WorkerGroup::FederationInbound),
            ["federation"]
        );
        assert_eq!(listener_resources(WorkerGroup::Sync), ["client"]);
        assert_eq!(
            listener_resources(WorkerGroup::Typing),
            ["client", "replication"]
        );
    }

    /// The first group whose pattern matches, in table order, as the proxies try them.
    fn group_of(method: &str, path: &str) -> Option<WorkerGroup> {
        // Without a query: the initial-sync split takes only what its query test lets through
        // (traffic::workers checks it on the wire).
        TABLE
            .iter()
            .map(|route| route.group)
            .filter(|&group| without_query(group).is_none())
            .find(|&group| {
                let route = route(group);
                let matches = |patterns: &[&str]| {
                    patterns
                        .iter()
                        .any(|p| Regex::new(p).expect("pattern compiles").is_match(path))
                };
                matches(route.patterns) || (method == "GET" && matches(route.get_only_patterns))
            })
    }

    /// Paths from Synapse's docs and the client-server spec, each with the group that
    /// must take it.
    const SAMPLES: &[(&str, WorkerGroup)] = &[
        (
            "/_matrix/client/v3/rooms/!r:example.org/typing/@a:example.org",
            WorkerGroup::Typing,
        ),
        (
            "/_matrix/client/v3/sendToDevice/m.room.encrypted/txn1",
            WorkerGroup::ToDevice,
        ),
        (
            "/_matrix/client/v3/user/@a:example.org/rooms/!r:example.org/tags",
            WorkerGroup::AccountData,
        ),
        (
            "/_matrix/client/v3/user/@a:example.org/account_data/m.direct",
            WorkerGroup::AccountData,
        ),
        (
            "/_matrix/client/v3/rooms/!r:example.org/receipt/m.read/$e",
            WorkerGroup::Receipts,
        ),
        (
            "/_matrix/client/r0/rooms/!r:example.org/read_markers",
            WorkerGroup::Receipts,
        ),
        (
            "/_matrix/client/v3/presence/@a:example.org/status",
            WorkerGroup::Presence,
        ),
        (
            "/_matrix/client/v3/pushrules/global/override/rule",
            WorkerGroup::PushRules,
        ),
        (
            "/_matrix/client/v3/delete_devices",
            WorkerGroup::DeviceLists,
        ),
        ("/_matrix/client/v3/devices", WorkerGroup::DeviceLists),
        (
            "/_matrix/client/v3/devices/ABCDEF",
            WorkerGroup::DeviceLists,
        ),
        ("/_matrix/client/v3/keys/upload", WorkerGroup::DeviceLists),
        (
            "/_matrix/client/v3/keys/device_signing/upload",
            WorkerGroup::DeviceLists,
        ),
        (
            "/_matrix/client/v3/user_directory/search",
            WorkerGroup::UserDirectory,
        ),
        (
            "/_matrix/client/v3/login/sso/redirect/oidc-github",
            WorkerGroup::SsoLogin,
        ),
        ("/_synapse/client/oidc/callback", WorkerGroup::SsoLogin),
        ("/_synapse/client/pick_idp", WorkerGroup::SsoLogin),
        ("/_matrix/client/v3/login/cas/ticket", WorkerGroup::SsoLogin),
        (
            "/_matrix/media/v3/download/example.org/abc",
            WorkerGroup::Media,
        ),
        (
            "/_matrix/client/v1/media/download/example.org/abc",
            WorkerGroup::Media,
        ),
        (
            "/_matrix/federation/v1/media/download/abc",
            WorkerGroup::Media,
        ),
        ("/_synapse/admin/v1/purge_media_cache", WorkerGroup::Media),
        ("/_matrix/client/v3/sync", WorkerGroup::Sync),
        ("/_matrix/client/r0/sync", WorkerGroup::Sync),
        ("/_matrix/client/v3/events", WorkerGroup::Sync),
        ("/_matrix/client/v3/initialSync", WorkerGroup::Sync),
        (
            "/_matrix/client/v3/rooms/!r:example.org/initialSync",
            WorkerGroup::Sync,
        ),
        (
            "/_matrix/client/v3/rooms/!r:example.org/send/m.room.message/txn1",
            WorkerGroup::EventCreator,
        ),
        (
            "/_matrix/client/v3/rooms/!r:example.org/state/m.room.name/",
            WorkerGroup::EventCreator,
        ),
        (
            "/_matrix/client/v3/rooms/!r:example.org/redact/$e/txn1",
            WorkerGroup::EventCreator,
        ),
        (
            "/_matrix/client/v3/rooms/!r:example.org/join",
            WorkerGroup::EventCreator,
        ),
        (
            "/_matrix/client/v3/join/%23room:example.org",
            WorkerGroup::EventCreator,
        ),
        (
            "/_matrix/client/v3/profile/@a:example.org/displayname",
            WorkerGroup::EventCreator,
        ),
        ("/_matrix/client/v3/createRoom", WorkerGroup::ClientReader),
        ("/_matrix/client/v3/publicRooms", WorkerGroup::ClientReader),
        (
            "/_matrix/client/v3/rooms/!r:example.org/messages",
            WorkerGroup::ClientReader,
        ),
        (
            "/_matrix/client/v3/rooms/!r:example.org/state",
            WorkerGroup::ClientReader,
        ),
        (
            "/_matrix/client/v3/rooms/!r:example.org/event/$e",
            WorkerGroup::ClientReader,
        ),
        ("/_matrix/client/versions", WorkerGroup::ClientReader),
        ("/_matrix/client/v3/login", WorkerGroup::ClientReader),
        ("/_matrix/client/v3/keys/query", WorkerGroup::ClientReader),
        (
            "/_matrix/client/v3/account/whoami",
            WorkerGroup::ClientReader,
        ),
        (
            "/_matrix/client/v1/register/m.login.registration_token/validity",
            WorkerGroup::ClientReader,
        ),
        (
            "/_matrix/federation/v1/send/txn1",
            WorkerGroup::FederationInbound,
        ),
        (
            "/_matrix/federation/v1/version",
            WorkerGroup::FederationReader,
        ),
        (
            "/_matrix/federation/v1/state_ids/!r:example.org",
            WorkerGroup::FederationReader,
        ),
        (
            "/_matrix/federation/v2/send_join/!r:example.org/$e",
            WorkerGroup::FederationReader,
        ),
        (
            "/_matrix/federation/v2/invite/!r:example.org/$e",
            WorkerGroup::FederationReader,
        ),
        ("/_matrix/key/v2/query", WorkerGroup::FederationReader),
    ];

    /// Paths one character or one segment away from a pattern, which the main process
    /// must keep: `sync` with a suffix, an API version a pattern leaves out, v2 of a
    /// v1-only federation path, a prefix no pattern names.
    const NEAR_MISSES: &[&str] = &[
        "/_matrix/client/v3/syncx",
        "/_matrix/client/unstable/sync",
        "/_matrix/client/v3/sync/",
        "/_matrix/client/v3/initialSyncx",
        "/_matrix/client/v3/rooms/!r:example.org/a/b/initialSync",
        "/_matrix/client/v3/createRoomx",
        "/_matrix/client/v3/versions",
        "/_matrix/client/v3/login/get_token",
        "/_matrix/client/v1/login/get_token",
        "/_matrix/client/v3/logout",
        "/_matrix/client/v3/user_directory/searchx",
        "/_matrix/client/api/v1/user_directory/search",
        "/_matrix/client/v3/keys/queryx",
        "/_matrix/federation/v2/send/txn1",
        "/_matrix/federation/v1/sendx/txn1",
        "/_matrix/federation/v2/state_ids/!r:example.org",
        "/_matrix/federation/v1/versionx",
        "/_matrix/key/v2/server",
        "/_matrix/mediax/download/example.org/abc",
        "/_matrix/client/v3/media/download/example.org/abc",
        "/_synapse/client/oidc/callbackx",
        "/_synapse/client/password_reset/email/submit_token",
        "/_synapse/admin/v1/rooms/!r:example.org/members",
        "/_synapse/admin/v2/users/@a:example.org/devices",
        "/.well-known/matrix/server",
    ];

    #[test]
    fn each_sample_reaches_its_group() {
        for (path, group) in SAMPLES {
            assert_eq!(group_of("POST", path), Some(*group), "{path}");
        }
    }

    #[test]
    fn near_misses_stay_on_the_main_process() {
        for path in NEAR_MISSES {
            assert_eq!(group_of("POST", path), None, "{path}");
        }
    }

    #[test]
    fn the_get_only_admin_api_is_a_client_readers_for_get_only() {
        let path = "/_synapse/admin/v2/users/@a:example.org";
        assert_eq!(group_of("GET", path), Some(WorkerGroup::ClientReader));
        assert_eq!(group_of("PUT", path), None);
    }

    #[test]
    fn every_group_has_one_row_and_table_order_is_group_order() {
        let groups: Vec<WorkerGroup> = TABLE.iter().map(|route| route.group).collect();
        assert_eq!(groups, WorkerGroup::ALL);
        for route in TABLE {
            assert!(
                route.patterns.iter().all(|p| p.starts_with('^')),
                "{:?}",
                route.group
            );
        }
    }

    /// The split takes a subset of sync's paths, and only it tests the query: a request it
    /// leaves (`/sync` with `since`) must still match the sync group after it.
    #[test]
    fn the_initial_sync_split_is_a_subset_of_sync() {
        let initial = route(WorkerGroup::InitialSync);
        let sync = route(WorkerGroup::Sync);
        assert!(initial.patterns.iter().all(|p| sync.patterns.contains(p)));
        assert_eq!(initial.balance, sync.balance);
        for group in WorkerGroup::ALL {
            assert_eq!(
                without_query(*group).is_some(),
                *group == WorkerGroup::InitialSync,
                "{group}"
            );
        }
    }

    #[test]
    fn single_writer_streams_are_not_shardable() {
        for group in [
            WorkerGroup::Typing,
            WorkerGroup::ToDevice,
            WorkerGroup::AccountData,
            WorkerGroup::Presence,
            WorkerGroup::PushRules,
            WorkerGroup::UserDirectory,
            WorkerGroup::SsoLogin,
            WorkerGroup::Media,
        ] {
            assert!(!shardable(group), "{group}");
        }
        for group in [
            WorkerGroup::Sync,
            WorkerGroup::ClientReader,
            WorkerGroup::FederationInbound,
            WorkerGroup::Receipts,
            WorkerGroup::DeviceLists,
        ] {
            assert!(shardable(group), "{group}");
        }
    }
}
