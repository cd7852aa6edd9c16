//! The fix for each failure, named as a directive of the proxy in front (recognised by its
//! `Server` header) or, when it is unknown, for each proxy mxproxy generates, plus the
//! `mxproxy generate` flag that writes a config without the fault.

use super::net::Reply;
use crate::setup::Proxy;

/// The proxy in front, as the start of its `Server` header names it (`nginx/1.26.0`,
/// `Apache/2.4.62 (Debian)`, `Caddy`). Only these three are looked for: `Directives` has
/// no other proxy's words. `None` makes a fix name the directive of each.
pub fn proxy_in_front(reply: &Reply) -> Option<Proxy> {
    let server = reply
        .header("server")
        .unwrap_or_default()
        .to_ascii_lowercase();
    [Proxy::Nginx, Proxy::Apache, Proxy::Caddy]
        .into_iter()
        .find(|proxy| server.starts_with(proxy.name()))
}

/// Per-proxy directives; `None` where a proxy has nothing to change.
pub struct Directives {
    pub nginx: Option<String>,
    pub apache: Option<String>,
    pub caddy: Option<String>,
    /// How `mxproxy generate` avoids it, e.g. "mxproxy generate --server-name example.com".
    pub generate: Option<String>,
}

impl Directives {
    pub fn for_proxy(&self, proxy: Option<Proxy>) -> String {
        let mut lines = Vec::new();
        let mut push = |label: &str, text: &Option<String>| {
            if let Some(text) = text {
                lines.push(format!("{label}: {text}"));
            }
        };
        match proxy {
            Some(Proxy::Nginx) => push("nginx", &self.nginx),
            Some(Proxy::Apache) => push("Apache", &self.apache),
            Some(Proxy::Caddy) => push("Caddy", &self.caddy),
            // `proxy_in_front` never names these two; were it to, there is no directive of
            // theirs here, so the fix stays the one for an unknown proxy.
            None | Some(Proxy::Traefik | Proxy::Haproxy) => {
                push("nginx", &self.nginx);
                push("Apache", &self.apache);
                push("Caddy", &self.caddy);
            }
        }
        if let Some(generate) = &self.generate {
            lines.push(format!("or regenerate: {generate}"));
        }
        lines.join("\n")
    }
}

pub fn generate_cmd(server_name: &str, extra: &str) -> String {
    if extra.is_empty() {
        format!("mxproxy generate --server-name {server_name}")
    } else {
        format!("mxproxy generate --server-name {server_name} {extra}")
    }
}

pub fn cors(server_name: &str, location: &str) -> Directives {
    Directives {
        nginx: Some("add_header Access-Control-Allow-Origin \"*\" always; (plus Allow-Methods and Allow-Headers) in that location".into()),
        apache: Some("Header always set Access-Control-Allow-Origin \"*\" for that path".into()),
        caddy: Some("header Access-Control-Allow-Origin \"*\" in that handle block".into()),
        generate: Some(format!(
            "{} (its {location} blocks carry the CORS headers)",
            generate_cmd(server_name, "")
        )),
    }
}

pub fn content_type(server_name: &str) -> Directives {
    Directives {
        nginx: Some("`types { } default_type application/json;` in the location, and no `add_header Content-Type` (add_header adds a second one)".into()),
        apache: Some("ForceType application/json on the well-known directory (not `Header add Content-Type`)".into()),
        caddy: Some("one `header Content-Type application/json` before `respond`".into()),
        generate: Some(generate_cmd(server_name, "")),
    }
}

pub fn raw_path(server_name: &str) -> Directives {
    Directives {
        nginx: Some("proxy_pass http://127.0.0.1:6167; with no URI part, not even `/` (a URI makes nginx decode and normalise the path)".into()),
        apache: Some("`nocanon` on every `ProxyPass /_matrix ...` and `AllowEncodedSlashes NoDecode` inside each <VirtualHost>".into()),
        caddy: Some("no `uri`/`rewrite` on /_matrix/*; `reverse_proxy` passes the raw path".into()),
        generate: Some(generate_cmd(server_name, "")),
    }
}

pub fn body_limit(server_name: &str, size: &str) -> Directives {
    Directives {
        nginx: Some(format!(
            "client_max_body_size {size}; in the homeserver's server block"
        )),
        apache: Some(format!(
            "LimitRequestBody of at least {size} (in bytes) in the homeserver's <VirtualHost>"
        )),
        caddy: Some(format!(
            "request_body {{ max_size {size} }} in the homeserver's site"
        )),
        generate: Some(generate_cmd(server_name, &format!("--max-upload {size}"))),
    }
}

/// MAS's compatibility layer as mxproxy routes it (the same expression as
/// `homeserver::mas::compat_regex`, which `check` may not import): the four client API
/// versions MAS answers under × login, logout, refresh, each with its sub-paths.
const MAS_COMPAT_REGEX: &str =
    "^/_matrix/client/(api/v1|r0|v3|unstable)/(login|logout|refresh)(/|$)";

/// The compatibility paths reach Synapse instead of MAS on the homeserver host.
pub fn mas_compat(generate: String) -> Directives {
    Directives {
        nginx: Some(format!(
            "location ~ \"{MAS_COMPAT_REGEX}\" {{ proxy_pass http://<MAS's listener, 127.0.0.1:8080 by default>; }} in the homeserver's server block (a regex location wins over `location /_matrix/`)"
        )),
        apache: Some(
            "`ProxyPass /_matrix/client/v3/login http://<MAS's listener>/_matrix/client/v3/login nocanon` (and logout, refresh; api/v1, r0, unstable) before `ProxyPass /_matrix`".into(),
        ),
        caddy: Some(format!(
            "`@mas_compat path_regexp \"{MAS_COMPAT_REGEX}\"` and `handle @mas_compat {{ reverse_proxy <MAS's listener> }}` before `handle /_matrix/*`"
        )),
        generate: Some(generate),
    }
}

/// Synapse's internal API for MAS answers from outside.
pub fn mas_internal(generate: String) -> Directives {
    Directives {
        nginx: Some(
            "no `location /_synapse/` (or /_synapse/mas/) to Synapse: forward only /_matrix/ and /_synapse/client/; MAS calls /_synapse/mas/ on Synapse's own address (matrix.endpoint)".into(),
        ),
        apache: Some(
            "no `ProxyPass /_synapse` to Synapse: only /_matrix and /_synapse/client; MAS calls /_synapse/mas/ on Synapse's own address (matrix.endpoint)".into(),
        ),
        caddy: Some(
            "no `handle /_synapse/*` to Synapse: only /_matrix/* and /_synapse/client/*; MAS calls /_synapse/mas/ on Synapse's own address (matrix.endpoint)".into(),
        ),
        generate: Some(generate),
    }
}

/// MAS's discovery document is not reachable on its public base.
pub fn mas_public(issuer: &str, generate: String) -> Directives {
    Directives {
        nginx: Some(format!(
            "proxy all of {issuer} to MAS's listener (`location / {{ proxy_pass http://127.0.0.1:8080; }}` on its own host, `location /auth/` below a path), and keep MAS's own Access-Control-* headers (no proxy_hide_header)"
        )),
        apache: Some(format!(
            "`ProxyPass / http://127.0.0.1:8080/ nocanon` for {issuer}, and no `Header unset Access-Control-Allow-Origin`"
        )),
        caddy: Some(format!(
            "`reverse_proxy 127.0.0.1:8080` for {issuer}, and no `header -Access-Control-Allow-Origin`"
        )),
        generate: Some(generate),
    }
}

/// Two `Access-Control-Allow-Origin` on the authorization service's answers: the proxy adds
/// one to the service's own (lk-jwt-service handler.go `corsJSON`).
pub fn rtc_cors(generate: String) -> Directives {
    Directives {
        nginx: Some(
            "no `add_header Access-Control-*` in the RTC host's server block or its /sfu/get and /get_token locations (the service sets its own; a server-level add_header is inherited by every location without one)".into(),
        ),
        apache: Some(
            "no `Header set/add Access-Control-Allow-Origin` in the RTC host's <VirtualHost>: the service sends its own".into(),
        ),
        caddy: Some(
            "no `header Access-Control-Allow-Origin` in the RTC host's site: the service sends its own".into(),
        ),
        generate: Some(generate),
    }
}

/// The authorization service's client paths do not reach it.
pub fn rtc_routes(generate: String) -> Directives {
    Directives {
        nginx: Some(
            "`location = /sfu/get`, `location = /get_token` and `location = /delegate_delayed_leave` { proxy_pass http://<lk-jwt-service, LIVEKIT_JWT_BIND>; } on the RTC host, with no proxy_hide_header".into(),
        ),
        apache: Some(
            "`ProxyPassMatch \"^/(sfu/get|get_token|delegate_delayed_leave)$\" http://<lk-jwt-service>` before `ProxyPass /` on the RTC host".into(),
        ),
        caddy: Some(
            "`@auth path /sfu/get /get_token /delegate_delayed_leave` and `handle @auth { reverse_proxy <lk-jwt-service> }` on the RTC host".into(),
        ),
        generate: Some(generate),
    }
}

/// The WebSocket upgrade to LiveKit does not get through.
pub fn rtc_websocket(generate: String) -> Directives {
    Directives {
        nginx: Some(
            "in the RTC host's `location /`: proxy_pass http://<LiveKit, 127.0.0.1:7880>; proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\"; proxy_read_timeout 120s; proxy_buffering off;".into(),
        ),
        apache: Some(
            "`ProxyPass / http://<LiveKit>/ upgrade=websocket` on the RTC host (mod_proxy_http, Apache 2.4.47+; or mod_proxy_wstunnel with ws://)".into(),
        ),
        caddy: Some(
            "`reverse_proxy <LiveKit>` for everything else on the RTC host (it upgrades WebSockets by itself)".into(),
        ),
        generate: Some(generate),
    }
}

/// `/_matrix/federation/v1/openid/userinfo` is refused by the proxy (often with federation
/// switched off): lk-jwt-service validates the callers' OpenID tokens there.
pub fn rtc_openid(generate: String) -> Directives {
    Directives {
        nginx: Some(
            "`location = /_matrix/federation/v1/openid/userinfo { proxy_pass http://<homeserver>; }` on the host the server well-known names, even when the rest of /_matrix/federation/ is closed".into(),
        ),
        apache: Some(
            "`ProxyPassMatch \"^/_matrix/federation/v1/openid/userinfo$\" http://<homeserver> nocanon` before any rule that refuses /_matrix/federation".into(),
        ),
        caddy: Some(
            "`handle /_matrix/federation/v1/openid/userinfo { reverse_proxy <homeserver> }` before any rule that refuses /_matrix/federation/*".into(),
        ),
        generate: Some(format!(
            "{generate} (with --no-federation it keeps openid/userinfo open)"
        )),
    }
}
