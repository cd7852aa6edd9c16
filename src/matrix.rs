//! Facts of the Matrix specification and of HTTP that every layer relies on: ports,
//! discovery paths and API prefixes. Nothing here is mxproxy's choice; mxproxy's own
//! defaults live in `defaults.rs`. Bottom of the module graph: imports nothing of the crate.

/// Plain HTTP: ACME HTTP-01 challenges and the redirect to HTTPS.
pub const HTTP_PORT: u16 = 80;
/// HTTPS: clients, and federation when the server well-known (or SRV) points here.
pub const HTTPS_PORT: u16 = 443;
/// Where other servers connect when the server name has no well-known and no SRV record
/// (server-server API, "Resolving server names", step 5).
pub const FEDERATION_PORT: u16 = 8448;
/// The prefixes only other servers use: the server-server API and server keys
/// (server-server API spec). With federation off, proxies answer 404 there.
pub const FEDERATION_PREFIXES: &[&str] = &["/_matrix/federation/", "/_matrix/key/"];
/// Both discovery documents, `client` and `server`, live below this path on the server
/// name (client-server API "Well-known URIs"; server-server API "Resolving server names").
pub const WELL_KNOWN_PATH: &str = "/.well-known/matrix/";
/// What every client may ask for without credentials; the homeserver answers it once it
/// serves requests (client-server API, `GET /_matrix/client/versions`).
pub const PROBE_PATH: &str = "/_matrix/client/versions";
