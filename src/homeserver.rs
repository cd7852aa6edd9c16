//! What differs between homeservers. One place, so templates and the plan never hard-code
//! a port or an image.

use crate::setup::{ByteSize, Homeserver};

pub struct Facts {
    pub display_name: &'static str,
    /// Port the homeserver is told to listen on. Conduit's code default is 8000, but its
    /// docs, example config and compose files all use 6167, so mxproxy sets it explicitly
    /// (timokoesters/conduit src/config/mod.rs vs docs/deploying/docker-compose.yml).
    pub port: u16,
    /// Path prefixes to forward; everything else stays unreachable.
    pub prefixes: &'static [&'static str],
    /// Prefixes below `prefixes` that only other servers use (server-server API and
    /// server keys); not forwarded when federation is off.
    pub federation_prefixes: &'static [&'static str],
    /// Conduit's `max_request_size` default is 20 MiB (src/config/mod.rs).
    pub default_max_upload: ByteSize,
    /// Conduit's own image is Nix-built and sets no ENV, EXPOSE or VOLUME, so the compose
    /// stack sets every setting (nix/pkgs/oci-image/default.nix).
    pub image: &'static str,
    pub data_dir: &'static str,
}

pub fn facts(homeserver: Homeserver) -> Facts {
    match homeserver {
        Homeserver::Conduit => Facts {
            display_name: "Conduit",
            port: 6167,
            prefixes: &["/_matrix/"],
            federation_prefixes: &["/_matrix/federation/", "/_matrix/key/"],
            default_max_upload: ByteSize::from_bytes_unchecked(20 * 1024 * 1024),
            image: "registry.gitlab.com/famedly/conduit/matrix-conduit:latest",
            data_dir: "/var/lib/matrix-conduit/",
        },
    }
}
