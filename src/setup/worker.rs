//! `--worker GROUP=HOST:PORT`: one Synapse worker and the group of requests it serves.
//! Which paths each group takes, and how they are balanced, is `homeserver::workers`.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::{Invalid, Upstream};

named_enum! {
    /// The groups of requests a reverse proxy can send to Synapse workers. The names are
    /// mxproxy's (the flag's value), the groups Synapse's: docs/workers.md and
    /// docker/configure_workers_and_start.py (`WORKERS_CONFIG`), Synapse v1.157.1.
    /// Written in the order a proxy tries them (most specific first), which is also
    /// the order of `--help` and of every generated file.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
    #[serde(into = "String")]
    pub enum WorkerGroup {
        Typing = "typing",
        ToDevice = "to-device",
        AccountData = "account-data",
        Receipts = "receipts",
        Presence = "presence",
        PushRules = "push-rules",
        DeviceLists = "device-lists",
        UserDirectory = "user-directory",
        SsoLogin = "sso-login",
        Media = "media",
        InitialSync = "initial-sync",
        Sync = "sync",
        EventCreator = "event-creator",
        ClientReader = "client-reader",
        FederationInbound = "federation-inbound",
        FederationReader = "federation-reader",
    }
    unknown(names) => Invalid::new(
        format!("is not a worker group (groups: {})", super::alternatives(names)),
        "sync=127.0.0.1:8083",
    );
}

impl WorkerGroup {
    /// The name as an identifier in a generated file (`client_reader`): nginx upstream
    /// names, HAProxy backends and Caddy matchers take `_` everywhere, not always `-`.
    pub fn ident(self) -> String {
        self.name().replace('-', "_")
    }
}

/// `GROUP=HOST:PORT`, as `--worker` and `MXPROXY_WORKER` take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerAddress {
    pub group: WorkerGroup,
    pub address: Upstream,
}

impl FromStr for WorkerAddress {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        const EXAMPLE: &str = "sync=127.0.0.1:8083";
        let Some((group, address)) = value.split_once('=') else {
            return Err(Invalid::new(
                "expected GROUP=HOST:PORT (a worker group, `=`, the worker's address)",
                EXAMPLE,
            ));
        };
        let group: WorkerGroup = group.trim().parse()?;
        if address.trim().is_empty() {
            return Err(Invalid::new(
                format!("gives group {group} no address"),
                format!("{group}=127.0.0.1:8083"),
            ));
        }
        let address = address.trim().parse::<Upstream>().map_err(|invalid| {
            Invalid::new(
                format!("worker address {}", invalid.reason),
                format!("{group}={}", invalid.example),
            )
        })?;
        Ok(WorkerAddress { group, address })
    }
}

impl fmt::Display for WorkerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.group, self.address)
    }
}

/// The validated workers of a setup: each group with its addresses, groups in
/// `WorkerGroup` order, addresses as given. Empty: no workers, the main process takes all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workers {
    pub groups: Vec<(WorkerGroup, Vec<Upstream>)>,
}

impl Workers {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Every `GROUP=HOST:PORT`, in order, as the flags give it back.
    pub fn addresses(&self) -> Vec<WorkerAddress> {
        self.groups
            .iter()
            .flat_map(|(group, addresses)| {
                addresses.iter().map(|address| WorkerAddress {
                    group: *group,
                    address: address.clone(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{accepts, refuses};
    use super::*;

    #[test]
    fn a_group_and_an_address_are_accepted() {
        let worker: WorkerAddress = accepts("sync=127.0.0.1:8083");
        assert_eq!(worker.group, WorkerGroup::Sync);
        assert_eq!(worker.address.to_string(), "127.0.0.1:8083");
        assert_eq!(worker.to_string(), "sync=127.0.0.1:8083");
        let worker: WorkerAddress = accepts("federation-inbound=[::1]:8084");
        assert_eq!(worker.to_string(), "federation-inbound=[::1]:8084");
        let worker: WorkerAddress = accepts("media=synapse-media:8085");
        assert_eq!(worker.group, WorkerGroup::Media);
    }

    #[test]
    fn every_group_reads_back_from_its_name() {
        for group in WorkerGroup::ALL {
            assert_eq!(group.name().parse::<WorkerGroup>(), Ok(*group));
            assert!(!group.ident().contains('-'), "{group}");
        }
    }

    #[test]
    fn refusals_name_the_fault_and_a_working_value() {
        refuses::<WorkerAddress>(
            "127.0.0.1:8083",
            "expected GROUP=HOST:PORT (a worker group, `=`, the worker's address)",
            "sync=127.0.0.1:8083",
        );
        refuses::<WorkerAddress>(
            "synchrotron=127.0.0.1:8083",
            "is not a worker group (groups: typing, to-device, account-data, receipts, \
             presence, push-rules, device-lists, user-directory, sso-login, media, initial-sync, \
             sync, event-creator, client-reader, federation-inbound or federation-reader)",
            "sync=127.0.0.1:8083",
        );
        refuses::<WorkerAddress>(
            "sync=",
            "gives group sync no address",
            "sync=127.0.0.1:8083",
        );
        refuses::<WorkerAddress>(
            "media=http://127.0.0.1:8085",
            "worker address expected HOST:PORT without a scheme",
            "media=127.0.0.1:6167",
        );
        refuses::<WorkerAddress>(
            "typing=127.0.0.1",
            "worker address expected HOST:PORT",
            "typing=127.0.0.1:6167",
        );
    }
}
