//! The checks. Each follows a section of the Matrix spec (matrix-org/matrix-spec):
//! - client-server API, content/client-server-api/_index.md "Server Discovery" (well-known
//!   URI, the IGNORE/FAIL_PROMPT/FAIL_ERROR outcomes, `/versions` as validation) and
//!   "Web Browser Clients" (CORS headers and the OPTIONS preflight);
//! - server-server API, content/server-server-api.md "Server discovery › Resolving server
//!   names" (steps 1–6 as numbered since v1.8, which added `_matrix-fed._tcp`), "Server
//!   implementation" (`/_matrix/federation/v1/version`) and "Retrieving server keys"
//!   (`/_matrix/key/v2/server`), plus its TLS paragraph (certificate for the expected name);
//! - client-server API "OAuth 2.0 API" (server metadata discovery, `auth_metadata`, v1.15)
//!   for a homeserver that delegates login to the Matrix Authentication Service (`mas`);
//! - MSC4143/MSC4195 and the LiveKit and lk-jwt-service sources for calls (`rtc`).
//!
//! Independent probes run concurrently; only what needs an earlier answer waits for it.

mod cdn;
mod client;
mod discovery;
mod federation;
mod homeserver;
mod mas;
mod rtc;
mod tls;
mod well_known;

use self::cdn::cdn_check;
use self::client::client_side;
use self::federation::federation_side;
use self::rtc::rtc_side;
use self::tls::tls_check;
use super::fixes::generate_cmd;
use super::name::MatrixName;
use super::net::{Endpoint, FetchError, Net};
use super::report::{CheckId, CheckResult};
use crate::matrix::HTTPS_PORT;

/// The Origin a browser-based client would send; `.invalid` can never be a real site.
const ORIGIN: &str = "https://mxproxy-check.invalid";

/// One run: the network every probe goes through, the server name under test and the flags
/// that shape the probes.
pub struct Context {
    pub net: Net,
    pub name: MatrixName,
    pub expect_upload: u64,
    pub expect_upload_text: String,
    pub no_federation: bool,
    /// `--mas`: a homeserver that does not announce MAS fails `mas.auth-metadata`.
    pub expect_mas: bool,
    /// `--rtc`: a client well-known without a calls focus fails `rtc.focus`.
    pub expect_rtc: bool,
}

impl Context {
    fn server_name(&self) -> String {
        self.name.to_string()
    }

    fn generate(&self, extra: &str) -> String {
        generate_cmd(&self.name.host.authority(), extra)
    }
}

/// Every check in print order, and where federation traffic goes when discovery found a
/// target (the report's `federation_target`).
pub async fn run_all(context: &Context) -> (Vec<CheckResult>, Option<String>) {
    let well_known_endpoint = Endpoint {
        connect_host: context.name.host.clone(),
        port: HTTPS_PORT,
        tls_name: context.name.host.clone(),
        host_header: context.name.host.authority(),
    };
    let (tls, client, (federation, target), rtc, cdn) = tokio::join!(
        context.net.handshake(&well_known_endpoint),
        client_side(context),
        federation_side(context),
        rtc_side(context),
        cdn_check(context),
    );
    let mut checks = vec![tls_check(
        CheckId::TlsServerName,
        &well_known_endpoint,
        tls,
        "it serves /.well-known/matrix/*",
    )];
    checks.extend(client);
    checks.extend(federation);
    checks.extend(rtc);
    checks.push(cdn);
    checks.push(CheckResult::skip(
        CheckId::ProxyForwardedHeaders,
        "X-Forwarded-For and X-Forwarded-Proto reach only the homeserver, so they cannot be \
         seen from outside; compare the client addresses in the homeserver's log with real ones \
         (mxproxy's configs overwrite both headers)",
    ));
    checks.sort_by_key(|c| c.id);
    (checks, target)
}

/// A fix for a request that got no answer at all.
fn fetch_fix(context: &Context, error: &FetchError, location: &str) -> String {
    match error {
        FetchError::Resolve { host, .. } => format!(
            "publish an A/AAAA record for {host} (or pass --resolve {host}:443:ADDR to test a host not yet in DNS)"
        ),
        FetchError::Connect { tried, .. } => {
            let tried: Vec<String> = tried.iter().map(ToString::to_string).collect();
            format!(
                "make the proxy listen on {} (firewall, listen directive)\nor regenerate: {}",
                tried.join(", "),
                context.generate("")
            )
        }
        FetchError::Tls { .. } => "fix the certificate first: see the tls.* checks".into(),
        FetchError::TooManyRedirects(_) => format!(
            "serve {location} directly with 200 on the server name (no redirect, or one that ends)"
        ),
        FetchError::TooLarge(_) | FetchError::Timeout(_) => format!(
            "serve {location} as a small JSON document that answers at once; the server sends something else"
        ),
        FetchError::Http(_) | FetchError::BadUrl(_) => format!(
            "serve {location} over HTTPS with HTTP/1.1\nor regenerate: {}",
            context.generate("")
        ),
    }
}
