//! The worker table the worker tests and the worker benchmark both generate: a worker for
//! every group, two for the groups that hash (sync by token, client-reader by room,
//! federation-inbound by origin), so that hashing has more than one worker to choose.
//! Standalone, so that benches/dataplane/workers.rs can include it as a module of its own.

/// `--worker` groups in the table's order; `initial-sync` left out: it takes the `/sync`
/// requests without `since` from the sync workers, a split tested on its own.
pub const EVERY_GROUP: &[&str] = &[
    "typing",
    "to-device",
    "account-data",
    "receipts",
    "presence",
    "push-rules",
    "device-lists",
    "user-directory",
    "sso-login",
    "media",
    "sync",
    "sync",
    "event-creator",
    "client-reader",
    "client-reader",
    "federation-inbound",
    "federation-inbound",
    "federation-reader",
];
