//! The Matrix Authentication Service (MAS, "next-generation auth", MSC3861): what a proxy
//! in front of Synapse and MAS must know. Sources, element-hq/matrix-authentication-service:
//! docs/setup/reverse-proxy.md, docs/setup/homeserver.md, docs/reference/configuration.md,
//! crates/router/src/endpoints.rs, crates/config/src/sections/{http,matrix}.rs; Synapse:
//! docs/usage/configuration/config_documentation.md §matrix_authentication_service.

use crate::setup::Homeserver;

/// The client-server API versions MAS's compatibility layer answers under: the route is
/// `/_matrix/client/{version}/…` (endpoints.rs); the four that exist (ESS routes these
/// four to MAS, charts/matrix-stack/templates/synapse/_helpers.tpl).
pub const COMPAT_VERSIONS: [&str; 4] = ["api/v1", "r0", "v3", "unstable"];

/// The compatibility endpoints, each with its sub-paths: endpoints.rs registers `login`,
/// `login/sso/redirect`, `login/sso/redirect/` (Element iOS's trailing slash),
/// `login/sso/redirect/{idp}`, `logout`, `logout/all` and `refresh`, so a proxy matches
/// `<endpoint>` and `<endpoint>/…`, never a longer name (`/loginx`, `/logins`).
/// `login/get_token` (MSC3882) is specified as `/_matrix/client/v1/login/get_token`, and
/// v1 is no compatibility version: it stays on Synapse, as in ESS; MAS registers no route
/// for it (endpoints.rs).
pub const COMPAT_ENDPOINTS: [&str; 3] = ["login", "logout", "refresh"];

/// Synapse's internal API for MAS (provision users, upsert devices, …; synapse/rest/synapse/
/// mas/*.py). MAS calls it on `matrix.endpoint`, the upstream itself, so no proxy forwards
/// it from outside.
pub const SYNAPSE_INTERNAL_PREFIX: &str = "/_synapse/mas/";

/// What MAS serves that the proxy refuses (404), on its host or below its prefix, unless
/// `--expose-admin` asks for the admin API: the admin API (resource `adminapi`:
/// `/api/admin/v1/…` in crates/handlers/src/admin/mod.rs, with its `/api/spec.json` and
/// `/api/doc/`, crates/router/src/endpoints.rs) and the GraphQL playground
/// (`/graphql/playground` with the `graphql` resource's `playground: true`), always.
/// The MAS fragment enables neither unasked, but configuration.md's own example turns the
/// playground on and puts `adminapi` on the public listener, one line away; `/graphql`
/// itself is the API MAS's web frontend uses and stays forwarded.
pub const ADMIN_API_PREFIX: &str = "/api/";
/// The playground is a developer's tool that runs queries with the visitor's session:
/// refused even with `--expose-admin`, whose admin API is the documented way in.
pub const PLAYGROUND_PREFIX: &str = "/graphql/playground";

/// The largest body MAS reads: it sets no limit of its own, so axum's default applies to
/// every body extractor (axum 0.8.9 in MAS's Cargo.lock; axum-core `DefaultBodyLimit`,
/// 2 MB = 2,097,152 bytes). Nothing MAS serves takes uploads; the proxy refuses larger
/// bodies on MAS's host (413) before they are sent on.
pub const MAX_BODY_BYTES: u64 = 2_097_152;

/// MAS's default listener: `web` on `[::]:8080` (http.rs `impl Default`; configuration.md;
/// reverse-proxy.md binds it to localhost:8080).
pub const LISTENER_PORT: u16 = 8080;

/// What a homeserver that MAS does not serve has instead, as `--mas`'s refusal says it:
/// MAS's `matrix.kind` names Synapse only (configuration.md §matrix).
pub fn instead(homeserver: Homeserver) -> &'static str {
    match homeserver {
        Homeserver::Tuwunel => "; tuwunel has an OIDC server of its own built in",
        _ => "",
    }
}

/// Every compatibility prefix: `/_matrix/client/<version>/<endpoint>`.
pub fn compat_prefixes() -> Vec<String> {
    COMPAT_VERSIONS
        .iter()
        .flat_map(|version| {
            COMPAT_ENDPOINTS
                .iter()
                .map(move |endpoint| format!("/_matrix/client/{version}/{endpoint}"))
        })
        .collect()
}

/// One regular expression for the same paths, in the syntax every proxy's engine shares
/// (PCRE, Go's RE2): a prefix, then the end or a `/`.
pub fn compat_regex() -> String {
    format!(
        "^/_matrix/client/({})/({})(/|$)",
        COMPAT_VERSIONS.join("|"),
        COMPAT_ENDPOINTS.join("|")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_prefixes_and_one_regex_name_the_same_paths() {
        let prefixes = compat_prefixes();
        assert_eq!(prefixes.len(), 12);
        assert_eq!(prefixes[0], "/_matrix/client/api/v1/login");
        assert_eq!(prefixes[11], "/_matrix/client/unstable/refresh");
        assert_eq!(
            compat_regex(),
            "^/_matrix/client/(api/v1|r0|v3|unstable)/(login|logout|refresh)(/|$)"
        );
    }
}
