//! The settings each homeserver needs to match a setup, one function per family: set on
//! the compose service or in the written config fragment, printed in the summary for a
//! host install.

use serde::Serialize;

use super::{ConfigSyntax, Facts};
use crate::setup::{Homeserver, Setup};

#[derive(Debug, Serialize)]
pub struct Setting {
    /// Environment variable; empty where the homeserver reads no environment (Synapse,
    /// Dendrite) or for a key only its config file has.
    pub env: String,
    /// The value of the environment variable.
    pub value: String,
    /// The line for the homeserver's config file (`port = 6167`, `max_upload_size:
    /// 20971520`, `media_api.max_file_size_bytes: 10485760`); empty for container
    /// plumbing that a host install does not need.
    pub config_line: String,
    /// One of the settings that make the homeserver answer `/.well-known/matrix/*`.
    pub well_known: bool,
}

/// What the settings are made from, decided by the plan.
pub struct SettingsInput<'a> {
    pub setup: &'a Setup,
    /// The bare address the homeserver binds.
    pub listen_address: &'a str,
    pub listen_port: u16,
    /// `host:port` of the server well-known document; `None` without federation.
    pub federation_authority: Option<&'a str>,
    /// `https://<homeserver host>`, the client well-known document's base URL.
    pub client_base_url: &'a str,
    pub delegated: bool,
    /// A proxy forwards `/.well-known/matrix/` to the homeserver (Traefik), and routes
    /// federation to it on every host the homeserver's own answer can name.
    pub forwards_well_known: bool,
}

pub fn settings(input: &SettingsInput) -> Vec<Setting> {
    let facts = super::facts(input.setup.homeserver);
    let specs = match input.setup.homeserver {
        Homeserver::Conduit => conduit(input, &facts),
        Homeserver::Continuwuity | Homeserver::Tuwunel => conduwuit_family(input, &facts),
        Homeserver::Synapse => synapse(input, &facts),
        Homeserver::Dendrite => dendrite(input),
    };
    specs
        .into_iter()
        .map(|spec| spec.into_setting(&facts))
        .collect()
}

/// Conduit reads `CONDUIT_<KEY>` for each top-level key and `CONDUIT_WELL_KNOWN_<KEY>` for
/// [global.well_known] (src/main.rs). Code defaults that would break this setup (address
/// 127.0.0.1, port 8000, federation off, no database backend) are all set.
fn conduit(input: &SettingsInput, facts: &Facts) -> Vec<SettingSpec> {
    let setup = input.setup;
    let mut specs = vec![
        // Unset, Conduit panics at start; empty means "environment only".
        quoted("", "").env("CONDUIT_CONFIG"),
        quoted("server_name", setup.server_name.to_string()),
        quoted("database_backend", "rocksdb"),
        quoted("database_path", facts.data_dir),
        quoted("address", input.listen_address),
        bare("port", input.listen_port.to_string()),
        bare("max_request_size", setup.max_upload.bytes().to_string()),
        // Code default false, which also turns off its server well-known.
        bare("allow_federation", federates(input).to_string()),
        bare("trusted_servers", r#"["matrix.org"]"#),
        quoted("well_known.client", input.client_base_url)
            .env("CONDUIT_WELL_KNOWN_CLIENT")
            .well_known(),
    ];
    if let Some(server) = input.federation_authority {
        specs.push(
            quoted("well_known.server", server)
                .env("CONDUIT_WELL_KNOWN_SERVER")
                .well_known(),
        );
    }
    specs
}

/// continuwuity and tuwunel read `<PREFIX><KEY>`, `__` for sub-tables
/// (Env::prefixed(..).split("__") in src/core/config/mod.rs of each), so
/// [global.well_known] client is `<PREFIX>WELL_KNOWN__CLIENT`.
fn conduwuit_family(input: &SettingsInput, facts: &Facts) -> Vec<SettingSpec> {
    let setup = input.setup;
    let mut specs = vec![
        quoted("server_name", setup.server_name.to_string()),
        quoted("database_path", facts.data_dir),
        // "If you are using Docker or a container NAT networking setup, this
        // must be "0.0.0.0"" (tuwunel-example.toml / conduwuit-example.toml).
        quoted("address", input.listen_address),
        bare("port", input.listen_port.to_string()),
        bare("max_request_size", setup.max_upload.bytes().to_string()),
        bare("allow_federation", federates(input).to_string()),
    ];
    // Every proxy mxproxy writes replaces X-Forwarded-For with the client
    // address, so its rightmost value is the client. continuwuity:
    // `request_ip_source` "x_forwarded_for" - rightmost value of the
    // `X-Forwarded-For` header (conduwuit-example.toml); tuwunel: "Caddy, Nginx,
    // and Traefik usually use `ip_source = "rightmost_x_forwarded_for"`"
    // (docs/deploying/generic.md, "Client IP source").
    specs.push(if setup.homeserver == Homeserver::Tuwunel {
        quoted("ip_source", "rightmost_x_forwarded_for")
    } else {
        quoted("request_ip_source", "x_forwarded_for")
    });
    specs.push(quoted("well_known.client", input.client_base_url).well_known());
    if let Some(server) = input.federation_authority {
        specs.push(quoted("well_known.server", server).well_known());
    }
    if let (Homeserver::Tuwunel, Some(rtc)) = (setup.homeserver, &setup.rtc) {
        // `--rtc`: tuwunel then names the focus in its own client well-known
        // (docs/calls/matrix_rtc.md, "3.1 .well-known served by Tuwunel").
        specs.push(
            quoted("well_known.livekit_url", super::rtc::service_url(&rtc.host)).well_known(),
        );
    }
    specs
}

/// Written into synapse/mxproxy.yaml, which is read after homeserver.yaml; the listener is
/// written there in full from the plan's `homeserver.listen`.
fn synapse(input: &SettingsInput, facts: &Facts) -> Vec<SettingSpec> {
    // Synapse only ever announces `<server_name>:443`: on where that is the document
    // mxproxy plans, or where a proxy forwards well-known to Synapse and routes federation
    // on <server_name>:443 to it too (Traefik), so that its answer is right.
    let serves_server_document = input.federation_authority.is_some()
        && input.setup.federation_port.is_some_and(|port| {
            input.forwards_well_known
                || facts
                    .well_known
                    .serves_planned_server_document(input.delegated, port)
        });
    vec![
        // "If you use Synapse with a reverse proxy, this should be the URL to reach
        // Synapse via the proxy"; it also turns on its /.well-known/matrix/client
        // (config_documentation.md `public_baseurl`; synapse/config/server.py).
        quoted("public_baseurl", format!("{}/", input.client_base_url)).well_known(),
        bare("serve_server_wellknown", serves_server_document.to_string()).well_known(),
        // An integer is a byte count to `parse_size` (synapse/config/_base.py).
        bare(
            "max_upload_size",
            input.setup.max_upload.bytes().to_string(),
        ),
    ]
}

/// dendrite.yaml keys (dendrite-sample.yaml); Dendrite reads no environment.
fn dendrite(input: &SettingsInput) -> Vec<SettingSpec> {
    let setup = input.setup;
    let mut specs = vec![
        quoted("global.server_name", setup.server_name.to_string()),
        bare("global.disable_federation", (!federates(input)).to_string()),
        bare(
            "media_api.max_file_size_bytes",
            setup.max_upload.bytes().to_string(),
        ),
        // "This option controls which HTTP header to inspect to find the real
        // remote IP address of the client ... likely required if Dendrite is
        // running behind a reverse proxy" (dendrite-sample.yaml, sync_api).
        quoted("sync_api.real_ip_header", "X-Forwarded-For"),
        quoted("global.well_known_client_name", input.client_base_url).well_known(),
    ];
    if let Some(server) = input.federation_authority {
        specs.push(quoted("global.well_known_server_name", server).well_known());
    }
    specs
}

fn federates(input: &SettingsInput) -> bool {
    input.setup.federation_port.is_some()
}

/// One setting: `key` is the config-file key (dotted for nested sections, empty for
/// container plumbing), `env` the environment variable for homeservers configured by
/// environment (derived from `key` unless given).
struct SettingSpec {
    key: &'static str,
    env: Option<String>,
    value: String,
    syntax: ValueSyntax,
    well_known: bool,
}

/// How a value is written in the config file.
#[derive(Clone, Copy)]
enum ValueSyntax {
    /// As a quoted string.
    Quoted,
    /// As it is: numbers, booleans, lists.
    Bare,
}

/// A setting whose value the config file quotes.
fn quoted(key: &'static str, value: impl Into<String>) -> SettingSpec {
    SettingSpec::new(key, value.into(), ValueSyntax::Quoted)
}

/// A setting whose value the config file writes as it is.
fn bare(key: &'static str, value: impl Into<String>) -> SettingSpec {
    SettingSpec::new(key, value.into(), ValueSyntax::Bare)
}

impl SettingSpec {
    fn new(key: &'static str, value: String, syntax: ValueSyntax) -> SettingSpec {
        SettingSpec {
            key,
            env: None,
            value,
            syntax,
            well_known: false,
        }
    }

    fn env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }

    fn well_known(mut self) -> Self {
        self.well_known = true;
        self
    }

    /// The config-file line and the environment variable, as the homeserver reads them.
    fn into_setting(self, facts: &Facts) -> Setting {
        let written = match self.syntax {
            ValueSyntax::Quoted => serde_json::Value::String(self.value.clone()).to_string(),
            ValueSyntax::Bare => self.value.clone(),
        };
        let config_line = match (self.key, facts.config_syntax) {
            ("", _) => String::new(),
            (key, ConfigSyntax::Toml) => format!("{key} = {written}"),
            (key, ConfigSyntax::Yaml) => format!("{key}: {written}"),
        };
        let env = match (self.env, facts.env_prefix) {
            (Some(env), _) => env,
            (None, Some(prefix)) => {
                format!(
                    "{prefix}{}",
                    self.key.replace('.', "__").to_ascii_uppercase()
                )
            }
            (None, None) => String::new(),
        };
        Setting {
            env,
            value: self.value,
            config_line,
            well_known: self.well_known,
        }
    }
}
