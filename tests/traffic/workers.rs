//! `--worker`: real traffic through nginx, HAProxy and Caddy to one recording upstream per
//! worker. Every group's sample paths (Synapse v1.157.1 docs/workers.md) reach that
//! group's workers, near misses the main process, and the hashed groups stick: one
//! token, one room, one federation origin, one worker. `traffic::workers::<rule>::<server>`.

use super::client::{Request, Response};
use super::stack::Stack;
use crate::common::homeserver::Homeserver;
use crate::common::proxy::{Options, Proxy};
use crate::common::worker_groups::EVERY_GROUP;

/// `mod <rule> { #[test] fn nginx, haproxy, caddy }`: the proxies that route to workers.
macro_rules! worker_servers {
    ($rule:ident) => {
        mod $rule {
            use crate::common::netns::netns_test;
            netns_test! {
                fn nginx() {
                    let server = crate::common::proxy::Proxy::Nginx;
                    if server.installed() {
                        crate::traffic::block_on(super::$rule(server))
                    }
                }
            }
            netns_test! {
                fn haproxy() {
                    let server = crate::common::proxy::Proxy::Haproxy;
                    if server.installed() {
                        crate::traffic::block_on(super::$rule(server))
                    }
                }
            }
            netns_test! {
                fn caddy() {
                    let server = crate::common::proxy::Proxy::Caddy;
                    if server.installed() {
                        crate::traffic::block_on(super::$rule(server))
                    }
                }
            }
        }
    };
}

worker_servers!(each_group_reaches_its_workers_and_near_misses_the_main_process);
worker_servers!(one_token_one_sync_worker);
worker_servers!(one_room_one_client_reader_and_one_origin_one_inbound_worker);

/// A worker for every group, two for the groups that hash.
fn every_group() -> Options {
    Options {
        workers: EVERY_GROUP.iter().map(|group| (*group, None)).collect(),
        ..Options::default()
    }
}

/// Paths from Synapse's docs/workers.md (and the client-server spec's shapes of them),
/// each with the group that must take it.
const SAMPLES: &[(&str, &str)] = &[
    (
        "/_matrix/client/v3/rooms/!r:example.org/typing/@a:example.org",
        "typing",
    ),
    (
        "/_matrix/client/v3/sendToDevice/m.room.encrypted/txn1",
        "to-device",
    ),
    (
        "/_matrix/client/v3/user/@a:example.org/rooms/!r:example.org/tags",
        "account-data",
    ),
    (
        "/_matrix/client/v3/user/@a:example.org/account_data/m.direct",
        "account-data",
    ),
    (
        "/_matrix/client/v3/rooms/!r:example.org/receipt/m.read/$e",
        "receipts",
    ),
    (
        "/_matrix/client/r0/rooms/!r:example.org/read_markers",
        "receipts",
    ),
    (
        "/_matrix/client/v3/presence/@a:example.org/status",
        "presence",
    ),
    (
        "/_matrix/client/v3/pushrules/global/override/rule",
        "push-rules",
    ),
    ("/_matrix/client/v3/delete_devices", "device-lists"),
    ("/_matrix/client/v3/devices/ABCDEF", "device-lists"),
    ("/_matrix/client/v3/keys/upload", "device-lists"),
    ("/_matrix/client/v3/user_directory/search", "user-directory"),
    (
        "/_matrix/client/v3/login/sso/redirect/oidc-github",
        "sso-login",
    ),
    ("/_synapse/client/oidc/callback", "sso-login"),
    ("/_synapse/client/pick_idp", "sso-login"),
    ("/_matrix/media/v3/download/example.org/abc", "media"),
    ("/_matrix/client/v1/media/download/example.org/abc", "media"),
    ("/_matrix/federation/v1/media/download/abc", "media"),
    ("/_matrix/client/v3/sync", "sync"),
    ("/_matrix/client/r0/sync", "sync"),
    ("/_matrix/client/v3/events", "sync"),
    (
        "/_matrix/client/v3/rooms/!r:example.org/initialSync",
        "sync",
    ),
    (
        "/_matrix/client/v3/rooms/!r:example.org/send/m.room.message/txn1",
        "event-creator",
    ),
    (
        "/_matrix/client/v3/rooms/!r:example.org/state/m.room.name/",
        "event-creator",
    ),
    (
        "/_matrix/client/v3/rooms/!r:example.org/join",
        "event-creator",
    ),
    (
        "/_matrix/client/v3/profile/@a:example.org/displayname",
        "event-creator",
    ),
    ("/_matrix/client/v3/createRoom", "client-reader"),
    (
        "/_matrix/client/v3/rooms/!r:example.org/messages",
        "client-reader",
    ),
    (
        "/_matrix/client/v3/rooms/!r:example.org/state",
        "client-reader",
    ),
    ("/_matrix/client/versions", "client-reader"),
    ("/_matrix/client/v3/login", "client-reader"),
    ("/_matrix/client/v3/keys/query", "client-reader"),
    ("/_matrix/federation/v1/send/txn1", "federation-inbound"),
    ("/_matrix/federation/v1/version", "federation-reader"),
    (
        "/_matrix/federation/v1/state_ids/!r:example.org",
        "federation-reader",
    ),
    (
        "/_matrix/federation/v2/send_join/!r:example.org/$e",
        "federation-reader",
    ),
    ("/_matrix/key/v2/query", "federation-reader"),
];

/// One character or one segment away from a pattern: the main process keeps them.
const NEAR_MISSES: &[&str] = &[
    "/_matrix/client/v3/syncx",
    "/_matrix/client/unstable/sync",
    "/_matrix/client/v3/sync/",
    "/_matrix/client/v3/createRoomx",
    "/_matrix/client/v3/versions",
    "/_matrix/client/v3/logout",
    "/_matrix/client/v3/user_directory/searchx",
    "/_matrix/federation/v2/send/txn1",
    "/_matrix/federation/v1/versionx",
    "/_matrix/key/v2/server",
    "/_matrix/client/v3/media/download/example.org/abc",
    "/_synapse/client/oidc/callbackx",
];

async fn send(stack: &Stack, request: &Request) -> Response {
    stack
        .client
        .send(request)
        .await
        .unwrap_or_else(|e| panic!("{:?}: {e}", stack.server))
}

fn request(stack: &Stack, target: &str) -> Request {
    Request::get(stack.site_address(), &stack.homeserver_host, target)
}

/// Which upstream recorded `marker` (exactly one must): a worker's group and index, or
/// `main`.
fn receiver(stack: &Stack, marker: &str) -> String {
    let mut hits: Vec<String> = stack
        .workers
        .iter()
        .enumerate()
        .filter(|(_, (_, worker))| !worker.with_target(marker).is_empty())
        .map(|(index, (group, _))| format!("{group}#{index}"))
        .collect();
    if !stack.upstream.with_target(marker).is_empty() {
        hits.push("main".into());
    }
    assert_eq!(hits.len(), 1, "{marker} reached {hits:?}\n{}", stack.logs());
    hits.remove(0)
}

fn group_of(receiver: &str) -> &str {
    receiver.split('#').next().unwrap()
}

pub async fn each_group_reaches_its_workers_and_near_misses_the_main_process(server: Proxy) {
    let stack = Stack::start(server, every_group()).await;
    let cases = SAMPLES
        .iter()
        .copied()
        .chain(NEAR_MISSES.iter().map(|path| (*path, "main")));
    for (index, (path, group)) in cases.enumerate() {
        let marker = format!("mxproxy-sample-{index}");
        for method in ["GET", "POST"] {
            let target = format!("{path}?m={marker}-{method}");
            let response = send(&stack, &request(&stack, &target).method(method)).await;
            assert_eq!(response.status, 200, "{server:?} {method} {target}");
            let reached = receiver(&stack, &format!("{marker}-{method}"));
            assert_eq!(group_of(&reached), group, "{server:?} {method} {path}");
        }
    }
}

/// The worker indices of `group`'s workers in `stack.workers`.
fn workers_of<'a>(stack: &'a Stack, group: &str) -> Vec<(usize, &'a Homeserver)> {
    stack
        .workers
        .iter()
        .enumerate()
        .filter(|(_, (g, _))| *g == group)
        .map(|(index, (_, worker))| (index, worker))
        .collect()
}

pub async fn one_token_one_sync_worker(server: Proxy) {
    let stack = Stack::start(server, every_group()).await;
    assert_eq!(workers_of(&stack, "sync").len(), 2);
    // One token, 100 requests, in each of the two forms a client may send it.
    for form in ["header", "query"] {
        let mut reached = std::collections::BTreeSet::new();
        for round in 0..100 {
            let marker = format!("mxproxy-{form}-{round}-");
            let token = "mct_0123456789abcdefABCDEF_token";
            let mut target = format!("/_matrix/client/v3/sync?since=s{round}&m={marker}");
            let mut sent = request(&stack, &target);
            if form == "header" {
                sent = sent.header("Authorization", &format!("Bearer {token}"));
            } else {
                target = format!("{target}&access_token={token}");
                sent = request(&stack, &target);
            }
            assert_eq!(send(&stack, &sent).await.status, 200);
            reached.insert(receiver(&stack, &marker));
        }
        assert_eq!(
            reached.len(),
            1,
            "{server:?} {form}: one token reached {reached:?}"
        );
        assert_eq!(group_of(reached.first().unwrap()), "sync");
    }
    // 50 users' tokens, twice each: every token keeps its worker, and the tokens spread
    // over both workers.
    let mut used = std::collections::BTreeSet::new();
    for user in 0..50 {
        let token = format!("syt_dXNlcg{user}_ABCDEFGHIJKLMNOPQRST_{user:04}");
        let mut reached = std::collections::BTreeSet::new();
        for round in 0..2 {
            let marker = format!("mxproxy-user-{user}-{round}-");
            let sent = request(&stack, &format!("/_matrix/client/v3/sync?m={marker}"))
                .header("Authorization", &format!("Bearer {token}"));
            assert_eq!(send(&stack, &sent).await.status, 200);
            reached.insert(receiver(&stack, &marker));
        }
        assert_eq!(
            reached.len(),
            1,
            "{server:?} token {token} reached {reached:?}"
        );
        used.extend(reached);
    }
    assert_eq!(used.len(), 2, "{server:?}: 50 tokens reached {used:?}");
}

pub async fn one_room_one_client_reader_and_one_origin_one_inbound_worker(server: Proxy) {
    let stack = Stack::start(server, every_group()).await;
    // Pagination: "all requests for a given room must be routed to the same instance",
    // whatever the page (the `from` token changes with every page).
    let mut rooms_used = std::collections::BTreeSet::new();
    for room in 0..20 {
        let mut reached = std::collections::BTreeSet::new();
        for page in 0..5 {
            let marker = format!("mxproxy-room-{room}-{page}-");
            let target = format!(
                "/_matrix/client/v3/rooms/!room{room}:example.org/messages?from=t{page}&m={marker}"
            );
            assert_eq!(send(&stack, &request(&stack, &target)).await.status, 200);
            reached.insert(receiver(&stack, &marker));
        }
        assert_eq!(
            reached.len(),
            1,
            "{server:?} room {room} reached {reached:?}"
        );
        rooms_used.extend(reached);
    }
    assert_eq!(
        rooms_used.len(),
        2,
        "{server:?}: 20 rooms reached {rooms_used:?}"
    );
    // One origin server (one source address here), 100 transactions: one inbound worker.
    let mut reached = std::collections::BTreeSet::new();
    for transaction in 0..100 {
        let marker = format!("mxproxy-txn-{transaction}-");
        let target = format!("/_matrix/federation/v1/send/{marker}");
        let sent = request(&stack, &target).method("PUT");
        assert_eq!(send(&stack, &sent).await.status, 200);
        reached.insert(receiver(&stack, &marker));
    }
    assert_eq!(
        reached.len(),
        1,
        "{server:?}: one origin reached {reached:?}"
    );
    assert_eq!(group_of(reached.first().unwrap()), "federation-inbound");
}

worker_servers!(the_main_process_takes_over_where_it_can);

/// A group whose workers are all down: sync falls back to the main process, media does
/// not (with workers the main process does not serve media: `enable_media_repo: false`).
/// HAProxy notices a dead worker by its health check (`check`: 3 failed checks 2 s apart
/// by default), so its first requests may fail; the loop waits at most 20 s for it.
pub async fn the_main_process_takes_over_where_it_can(server: Proxy) {
    let options = Options {
        workers: vec![("sync", None), ("media", None)],
        ..Options::default()
    };
    let mut stack = Stack::start(server, options).await;
    // Stopped before any request: no connection to them is open or pooled.
    stack.workers.clear();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut attempt = 0;
    let sync_status = loop {
        attempt += 1;
        let marker = format!("mxproxy-fallback-{attempt}-");
        let target = format!("/_matrix/client/v3/sync?m={marker}");
        let response = send(&stack, &request(&stack, &target)).await;
        if response.status == 200 || std::time::Instant::now() > deadline {
            if response.status == 200 {
                assert_eq!(stack.upstream.with_target(&marker).len(), 1);
            }
            break response.status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert_eq!(
        sync_status,
        200,
        "{server:?}: sync with its worker down\n{}",
        stack.logs()
    );
    if server == Proxy::Nginx {
        assert_eq!(attempt, 1, "nginx falls back on the first request");
    }
    for attempt in 0..5 {
        let marker = format!("mxproxy-media-{attempt}-");
        let target = format!("/_matrix/client/v1/media/download/example.org/abc?m={marker}");
        let response = send(&stack, &request(&stack, &target)).await;
        assert!(
            response.status == 502 || response.status == 503,
            "{server:?}: media with its worker down answered {}",
            response.status
        );
        assert!(
            stack.upstream.with_target(&marker).is_empty(),
            "{server:?}: media reached main"
        );
    }
}

worker_servers!(with_mas_login_goes_to_mas_not_to_a_client_reader);

/// `--mas` with a client reader: the compatibility login paths, which the table gives the
/// client reader, stay MAS's (each proxy tries MAS's routes first); the rest of the
/// client reader's paths reach it.
pub async fn with_mas_login_goes_to_mas_not_to_a_client_reader(server: Proxy) {
    let options = Options {
        mas: Some(crate::common::proxy::MasOptions::default()),
        workers: vec![("client-reader", None), ("sync", None)],
        ..Options::default()
    };
    let stack = Stack::start(server, options).await;
    let mas = stack.mas.as_ref().expect("a --mas stack");
    for (index, (path, to_mas)) in [
        ("/_matrix/client/v3/login", true),
        ("/_matrix/client/r0/login", true),
        ("/_matrix/client/v3/login/sso/redirect", true),
        ("/_matrix/client/v3/account/whoami", false),
        ("/_matrix/client/v3/sync", false),
    ]
    .into_iter()
    .enumerate()
    {
        let marker = format!("mxproxy-mas-{index}-");
        let target = format!("{path}?m={marker}");
        assert_eq!(send(&stack, &request(&stack, &target)).await.status, 200);
        let at_mas = mas.with_target(&marker).len();
        if to_mas {
            assert_eq!(at_mas, 1, "{server:?} {path}: not at MAS\n{}", stack.logs());
        } else {
            assert_eq!(at_mas, 0, "{server:?} {path} reached MAS");
            let reached = receiver(&stack, &marker);
            assert_ne!(
                reached, "main",
                "{server:?} {path} stayed on the main process"
            );
        }
    }
}

worker_servers!(origins_spread_over_inbound_workers_and_workers_get_the_client_address);

/// Twenty origin servers (source addresses 127.0.0.10–29): each keeps its inbound worker
/// over five transactions, and they spread over both. With `--trusted-proxy`, a worker
/// gets the client's address in `X-Forwarded-For` as the main process would: the one a
/// trusted front reports, the connecting one otherwise.
pub async fn origins_spread_over_inbound_workers_and_workers_get_the_client_address(server: Proxy) {
    let options = Options {
        trusted_proxies: vec!["127.0.0.2/32"],
        workers: vec![
            ("federation-inbound", None),
            ("federation-inbound", None),
            ("sync", None),
        ],
        ..Options::default()
    };
    let stack = Stack::start(server, options).await;
    let source = |last: u8| std::net::IpAddr::from([127, 0, 0, last]);
    let mut used = std::collections::BTreeSet::new();
    for origin in 10..30u8 {
        let mut reached = std::collections::BTreeSet::new();
        for transaction in 0..5 {
            let marker = format!("mxproxy-origin-{origin}-{transaction}-");
            let target = format!("/_matrix/federation/v1/send/{marker}");
            let sent = request(&stack, &target).method("PUT").from(source(origin));
            assert_eq!(send(&stack, &sent).await.status, 200);
            reached.insert(receiver(&stack, &marker));
        }
        assert_eq!(
            reached.len(),
            1,
            "{server:?} origin {origin} reached {reached:?}"
        );
        used.extend(reached);
    }
    assert_eq!(used.len(), 2, "{server:?}: 20 origins reached {used:?}");
    for (from, expected) in [(2, "198.51.100.7"), (3, "127.0.0.3")] {
        let marker = format!("mxproxy-xff-{from}-");
        let sent = request(&stack, &format!("/_matrix/client/v3/sync?m={marker}"))
            .from(source(from))
            .header("X-Forwarded-For", "198.51.100.7");
        assert_eq!(send(&stack, &sent).await.status, 200);
        let (_, sync) = stack
            .workers
            .iter()
            .find(|(_, w)| !w.with_target(&marker).is_empty())
            .unwrap_or_else(|| panic!("{server:?}: {marker} reached no worker"));
        let recorded = &sync.with_target(&marker)[0];
        assert_eq!(
            recorded.header("X-Forwarded-For"),
            [expected],
            "{server:?}: from 127.0.0.{from}"
        );
    }
}

worker_servers!(initial_syncs_reach_their_own_workers_and_stick_to_the_token);

/// `--worker initial-sync=…`: a `/sync` without `since` (and `initialSync`) reaches the
/// initial-sync workers, one with `since` the sync workers; both hash the whole token, so
/// one token stays on one worker of each group, and 30 tokens spread over both
/// initial-sync workers.
pub async fn initial_syncs_reach_their_own_workers_and_stick_to_the_token(server: Proxy) {
    let options = Options {
        workers: ["initial-sync", "initial-sync", "sync", "sync"]
            .iter()
            .map(|group| (*group, None))
            .collect(),
        ..Options::default()
    };
    let stack = Stack::start(server, options).await;
    let mut initial_used = std::collections::BTreeSet::new();
    for user in 0..30 {
        let token = format!("mat_user{user}_0123456789abcdef");
        for (since, group) in [("", "initial-sync"), ("&since=s72594_4483_1934", "sync")] {
            let mut reached = std::collections::BTreeSet::new();
            for round in 0..3 {
                let marker = format!("mxproxy-initial-{user}-{group}-{round}-");
                let sent = request(
                    &stack,
                    &format!("/_matrix/client/v3/sync?m={marker}{since}"),
                )
                .header("Authorization", &format!("Bearer {token}"));
                assert_eq!(send(&stack, &sent).await.status, 200);
                reached.insert(receiver(&stack, &marker));
            }
            assert_eq!(reached.len(), 1, "{server:?} {token} {group}: {reached:?}");
            let worker = reached.pop_first().unwrap();
            assert_eq!(
                group_of(&worker),
                group,
                "{server:?} {token} since={since:?}"
            );
            if group == "initial-sync" {
                initial_used.insert(worker);
            }
        }
    }
    assert_eq!(
        initial_used.len(),
        2,
        "{server:?}: 30 tokens reached {initial_used:?}"
    );
    // The legacy initial syncs too; the other sync paths stay with sync.
    for (index, (path, group)) in [
        ("/_matrix/client/v3/initialSync", "initial-sync"),
        (
            "/_matrix/client/r0/rooms/!r:example.org/initialSync",
            "initial-sync",
        ),
        ("/_matrix/client/v3/events", "sync"),
        ("/_matrix/client/v3/syncx", "main"),
    ]
    .into_iter()
    .enumerate()
    {
        let marker = format!("mxproxy-initial-path-{index}-");
        let sent = request(&stack, &format!("{path}?m={marker}"));
        assert_eq!(send(&stack, &sent).await.status, 200);
        assert_eq!(
            group_of(&receiver(&stack, &marker)),
            group,
            "{server:?} {path}"
        );
    }
}

worker_servers!(without_sync_workers_an_incremental_sync_stays_on_the_main_process);

/// `initial-sync` alone: the split sends a `/sync` with `since` to the main process (nginx's
/// second map names it; HAProxy and Caddy find no later group).
pub async fn without_sync_workers_an_incremental_sync_stays_on_the_main_process(server: Proxy) {
    let options = Options {
        workers: vec![("initial-sync", None)],
        ..Options::default()
    };
    let stack = Stack::start(server, options).await;
    for (index, (query, receiving)) in [("", "initial-sync"), ("&since=s1_2_3", "main")]
        .into_iter()
        .enumerate()
    {
        let marker = format!("mxproxy-alone-{index}-");
        let target = format!("/_matrix/client/v3/sync?m={marker}{query}");
        let sent = request(&stack, &target).header("Authorization", "Bearer mat_alone");
        assert_eq!(send(&stack, &sent).await.status, 200);
        assert_eq!(
            group_of(&receiver(&stack, &marker)),
            receiving,
            "{server:?} {target}"
        );
    }
}
