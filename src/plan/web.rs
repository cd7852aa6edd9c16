//! `--element-web`: the web client's own host, the headers on every one of its responses,
//! what is never cached and what is cached for good, and its `config.json`; and
//! `--base-redirect`, the server name's host sending browsers elsewhere.
//!
//! Sources: element-hq/element-web apps/web/README.md ("Separate domains", "Configuration
//! best practices", "Caching requirements"), docs/config.md (`default_server_config`),
//! docs/install.md (the Debian package's paths, the image's `/app/config.json`),
//! webpack.config.js (`bundles/[hash]/[name].js`); element-hq/ess-helm
//! charts/matrix-stack/configs/element-web/{security_headers.conf,default.conf.tpl,config.json.tpl}
//! and configs/well-known/partial-haproxy.cfg.tpl (`baseDomainRedirect`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::sites::Listener;
use crate::defaults::ELEMENT_WEB_SERVICE;
use crate::setup::{BaseRedirect, ElementWeb, ElementWebServed, UpstreamHost};

/// The generated `config.json`, in the folder layout and where Element's Debian package
/// reads it (docs/install.md: "Configure the app by modifying /etc/element-web/config.json").
pub const CONFIG_FILE: &str = "element-web/config.json";
pub const CONFIG_DEBIAN: &str = "etc/element-web/config.json";
/// `Cache-Control` where a browser must ask again on every load.
const NO_CACHE: &str = "no-cache";
/// `Cache-Control` for the hashed bundles: a new release has new names, so a copy never
/// goes stale (a year, RFC 9111's practical maximum, and `immutable`, RFC 8246).
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// ESS's redirect code for `baseDomainRedirect`.
const BASE_REDIRECT_STATUS: u16 = 301;

#[derive(Debug, Serialize)]
pub struct ElementWebPlan {
    pub host: String,
    /// The main listener (443, or 80 without TLS), as the homeserver's.
    pub listener: Listener,
    /// The folder of the unpacked release the proxy serves, or null where it forwards.
    pub root: Option<String>,
    /// Element's own server (its image) the proxy forwards to, or null where it serves
    /// the folder; the headers and caching above replace whatever it sends.
    pub upstream: Option<super::UpstreamPlan>,
    /// The headers the proxy takes out of the upstream's answers before adding its own, so
    /// each is sent once: the security headers and `Cache-Control` (Element's image sets
    /// `no-cache` itself on some paths, docker/nginx-templates/default.conf.template).
    pub replaced_headers: Vec<String>,
    /// The compose stack's service and image, or null on a host install.
    pub compose_service: Option<String>,
    pub image: String,
    /// Sent on every response of the host, each once, 404s included: Element Web's
    /// README's four ("Configuration best practices": X-Frame-Options,
    /// `Content-Security-Policy: frame-ancestors 'self'`, X-Content-Type-Options,
    /// X-XSS-Protection) and ESS's X-Robots-Tag (security_headers.conf). One CSP header:
    /// the README says to merge `frame-ancestors` into an existing one, never add a second.
    pub headers: Vec<HeaderLine>,
    pub no_cache: String,
    /// Paths answered with `no_cache`, exactly (`/` is the index page; README "Caching
    /// requirements" asks for `/index.html`, `/version` and recommends `/`).
    pub no_cache_paths: Vec<String>,
    /// Prefixes answered with `no_cache`: `/config` covers `config.json` and the
    /// `config.<hostname>.json` Element asks for first (as Element's own image matches it),
    /// `/i18n` the translations.
    pub no_cache_prefixes: Vec<String>,
    /// The same paths and prefixes as one regular expression (PCRE: Apache).
    pub no_cache_regex: String,
    /// Where the hashed bundles live (`bundles/<build hash>/<name>.js`, webpack.config.js
    /// `output.filename`), and their `Cache-Control`.
    pub immutable_prefix: String,
    pub immutable: String,
    /// `config.json`, written to `config_file` and served from the root.
    pub config: ClientConfig,
    pub config_file: String,
}

#[derive(Debug, Serialize)]
pub struct HeaderLine {
    pub name: String,
    pub value: String,
}

/// Element Web's `config.json`: `default_server_config`, "the same as returned by
/// https://<server_name>/.well-known/matrix/client, with added support for a
/// `server_name` under the `m.homeserver` section" (docs/config.md). Element discovers MAS
/// from the homeserver (MSC2965, docs/oidc.md) and the calls focus from the well-known, so
/// the rest is what Element's own ESS writes when those are on (ess-helm
/// configs/element-web/config.json.tpl): with `--rtc` the group-call features and Element
/// Call as the only call type; with `--mas` the welcome page as the login page and no
/// registration, password reset or deactivation in the client, which MAS handles. ESS's
/// other keys (a rageshake URL, a map style with its key) are Element's company choices,
/// not the admin's.
#[derive(Debug, Serialize)]
pub struct ClientConfig {
    pub default_server_config: DefaultServerConfig,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub features: BTreeMap<&'static str, bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element_call: Option<ElementCallConfig>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub setting_defaults: BTreeMap<&'static str, bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded_pages: Option<EmbeddedPages>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso_redirect_options: Option<SsoRedirectOptions>,
}

/// `element_call`: calls in rooms go through Element Call only (no Jitsi, no legacy 1:1).
#[derive(Debug, Serialize)]
pub struct ElementCallConfig {
    pub use_exclusively: bool,
}

#[derive(Debug, Serialize)]
pub struct EmbeddedPages {
    pub login_for_welcome: bool,
}

#[derive(Debug, Serialize)]
pub struct SsoRedirectOptions {
    pub immediate: bool,
}

impl ClientConfig {
    fn new(base_url: &str, server_name: &str, rtc: bool, mas: bool) -> ClientConfig {
        let mut features = BTreeMap::new();
        let mut setting_defaults = BTreeMap::new();
        if rtc {
            features.extend([
                ("feature_video_rooms", true),
                ("feature_group_calls", true),
                ("feature_new_room_decoration_ui", true),
                ("feature_element_call_video_rooms", true),
            ]);
            setting_defaults.insert("feature_group_calls", true);
        }
        if mas {
            setting_defaults.extend([
                ("UIFeature.registration", false),
                ("UIFeature.passwordReset", false),
                ("UIFeature.deactivate", false),
            ]);
        }
        ClientConfig {
            default_server_config: DefaultServerConfig {
                homeserver: HomeserverConfig {
                    base_url: base_url.into(),
                    server_name: server_name.into(),
                },
            },
            features,
            element_call: rtc.then_some(ElementCallConfig {
                use_exclusively: true,
            }),
            setting_defaults,
            embedded_pages: mas.then_some(EmbeddedPages {
                login_for_welcome: true,
            }),
            sso_redirect_options: mas.then_some(SsoRedirectOptions { immediate: false }),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DefaultServerConfig {
    #[serde(rename = "m.homeserver")]
    pub homeserver: HomeserverConfig,
}

#[derive(Debug, Serialize)]
pub struct HomeserverConfig {
    pub base_url: String,
    pub server_name: String,
}

#[derive(Debug, Serialize)]
pub struct BaseRedirectPlan {
    /// Where every path but `/.well-known/matrix/*` of the server name's host goes.
    pub location: String,
    pub status: u16,
    /// The same paths the other way round, as one regular expression (Apache's
    /// `RedirectMatch`): every path that does not begin `/.well-known/matrix/`.
    pub unless_regex: String,
}

/// Element's image, as its docs/install.md names it (`docker run -p 80:80 vectorim/element-web`).
const IMAGE: &str = "docker.io/vectorim/element-web:latest";

pub(super) fn element_web_plan(
    web: &ElementWeb,
    listener: &Listener,
    base_url: &str,
    server_name: &str,
    (compose, rtc, mas): (bool, bool, bool),
) -> ElementWebPlan {
    let header = |name: &str, value: &str| HeaderLine {
        name: name.into(),
        value: value.into(),
    };
    let headers = vec![
        header("X-Frame-Options", "SAMEORIGIN"),
        header("Content-Security-Policy", "frame-ancestors 'self'"),
        header("X-Content-Type-Options", "nosniff"),
        header("X-XSS-Protection", "1; mode=block"),
        header("X-Robots-Tag", "noindex, nofollow, noarchive, noimageindex"),
    ];
    let (root, upstream) = match &web.served {
        ElementWebServed::Files(root) => (Some(root.to_string()), None),
        ElementWebServed::Upstream(upstream) => (
            None,
            Some(super::UpstreamPlan {
                address: upstream.to_string(),
                url: format!("http://{upstream}"),
                resolver: (compose && matches!(upstream.host, UpstreamHost::Name(_)))
                    .then(|| super::DOCKER_DNS.to_string()),
            }),
        ),
    };
    ElementWebPlan {
        host: web.host.to_string(),
        listener: listener.clone(),
        root,
        upstream,
        replaced_headers: headers
            .iter()
            .map(|header| header.name.clone())
            .chain(["Cache-Control".to_string()])
            .collect(),
        compose_service: compose.then(|| ELEMENT_WEB_SERVICE.to_string()),
        image: IMAGE.into(),
        headers,
        no_cache: NO_CACHE.into(),
        no_cache_paths: ["/", "/index.html", "/version"].map(String::from).to_vec(),
        no_cache_prefixes: ["/config", "/i18n"].map(String::from).to_vec(),
        no_cache_regex: r"^/(index\.html|version|config.*|i18n.*)?$".into(),
        immutable_prefix: "/bundles/".into(),
        immutable: IMMUTABLE.into(),
        config: ClientConfig::new(base_url, server_name, rtc, mas),
        config_file: CONFIG_FILE.into(),
    }
}

pub(super) fn base_redirect_plan(
    redirect: &BaseRedirect,
    element_web: Option<&ElementWebPlan>,
) -> BaseRedirectPlan {
    let location = match (redirect, element_web) {
        (BaseRedirect::Url(url), _) => url.to_string(),
        // https even with `--tls none`: a terminator in front speaks TLS to browsers.
        (BaseRedirect::ElementWeb, Some(web)) => format!("https://{}/", web.host),
        (BaseRedirect::ElementWeb, None) => {
            unreachable!("merge refuses --base-redirect element-web without --element-web")
        }
    };
    BaseRedirectPlan {
        location,
        status: BASE_REDIRECT_STATUS,
        unless_regex: "^/(?!\\.well-known/matrix/)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::ClientConfig;

    /// Calls and MAS each add only their own keys; without either, config.json is the
    /// well-known's homeserver alone, as before.
    #[test]
    fn config_json_gains_what_calls_and_mas_need() {
        let json = |rtc, mas| {
            serde_json::to_value(ClientConfig::new(
                "https://m.example.com",
                "example.com",
                rtc,
                mas,
            ))
            .unwrap()
        };
        let keys = |value: serde_json::Value| -> Vec<String> {
            value.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(keys(json(false, false)), ["default_server_config"]);
        let calls = json(true, false);
        assert_eq!(calls["element_call"]["use_exclusively"], true);
        assert_eq!(calls["features"]["feature_group_calls"], true);
        assert_eq!(calls["setting_defaults"].as_object().unwrap().len(), 1);
        assert!(calls.get("embedded_pages").is_none());
        let mas = json(false, true);
        assert_eq!(mas["setting_defaults"]["UIFeature.registration"], false);
        assert_eq!(mas["embedded_pages"]["login_for_welcome"], true);
        assert!(mas.get("element_call").is_none() && mas.get("features").is_none());
    }
}
