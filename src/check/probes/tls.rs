//! Certificates and TLS versions, as the server-server API's TLS paragraph asks of every
//! endpoint.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::check::net::{Endpoint, FetchError, TlsFacts, TlsFailure};
use crate::check::report::{CheckId, CheckResult};

/// A certificate closer than this to its end is a renewal that did not happen.
const MIN_CERT_DAYS: i64 = 14;

/// The certificate must be valid for the name the spec says is checked (the delegated
/// name, not the SRV target or the IP), not expire within 14 days, over TLS ≥ 1.2.
pub(super) fn tls_check(
    id: CheckId,
    endpoint: &Endpoint,
    result: Result<TlsFacts, FetchError>,
    role: &str,
) -> CheckResult {
    let name = endpoint.tls_name.authority();
    let at = endpoint.describe();
    match result {
        Ok(facts) => {
            let version = facts.version.unwrap_or_else(|| "TLS".into());
            let Some(cert) = facts.cert else {
                return CheckResult::pass(
                    id,
                    format!("{at}: {version}, certificate valid for {name}"),
                );
            };
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let days = (cert.not_after - now) / 86_400;
            if days < MIN_CERT_DAYS {
                return CheckResult::fail(
                    id,
                    format!(
                        "{at}: the certificate for {name} expires in {days} day(s); renewal is not working"
                    ),
                    renew_fix(&name),
                );
            }
            CheckResult::pass(
                id,
                format!("{at}: {version}, certificate valid for {name} ({days} more days)"),
            )
        }
        Err(FetchError::Tls { addr, error, cert }) => {
            let presented = cert
                .as_ref()
                .map(|c| format!(" (it names {})", c.names.join(", ")))
                .unwrap_or_default();
            let fix = match error {
                TlsFailure::Expired | TlsFailure::NotYetValid => renew_fix(&name),
                TlsFailure::WrongName => format!(
                    "use a certificate whose subjectAltName includes {name} ({role}): certbot certonly -d {name} …, or mxproxy generate --tls-cert with such a certificate"
                ),
                TlsFailure::UnknownIssuer => "serve the full chain (fullchain.pem, not cert.pem: nginx ssl_certificate, Apache SSLCertificateFile); a private CA works only with --ca-file here, never for other homeservers".into(),
                TlsFailure::NoCommonVersion => "enable TLS 1.2 and 1.3: nginx `ssl_protocols TLSv1.2 TLSv1.3;`, Apache `SSLProtocol -all +TLSv1.2 +TLSv1.3`".into(),
                TlsFailure::Other(_) => format!("check the TLS setup of {at}"),
            };
            CheckResult::fail(id, format!("{addr} for {name}: {error}{presented}"), fix)
        }
        Err(error) => CheckResult::fail(
            id,
            format!("{at}: {error}"),
            format!("make {at} answer HTTPS ({role})"),
        ),
    }
}

fn renew_fix(name: &str) -> String {
    format!(
        "renew the certificate for {name} (certbot renew; Caddy renews by itself) and reload the proxy; check the renewal timer (systemctl list-timers certbot), in the compose stack the certbot service (docker compose logs certbot)"
    )
}
