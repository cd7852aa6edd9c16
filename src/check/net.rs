//! Every byte `check` exchanges with a deployment goes through here: name resolution
//! (`--resolve`, hickory-resolver for SRV and `--dns-server`), TLS (rustls with the ring
//! provider, verified against webpki-roots plus `--ca-file`) and HTTP/1.1 (hyper).
//!
//! One request is one connection, so that the TLS facts of the exact endpoint a request went
//! to (version, certificate) come back with its answer, and a hostile server cannot keep a
//! pooled connection busy. Every request runs under one timeout that covers resolving,
//! connecting, the handshake, the headers and the body; bodies are capped in size.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName as TlsName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::name::NameHost;
use crate::matrix::HTTPS_PORT;
use crate::setup::DnsName;

/// Documents, versions and keys are a few kB; anything past this is hostile or broken.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Redirects followed before giving up (the spec asks to follow 30x and avoid loops).
pub const MAX_REDIRECTS: usize = 5;
/// Sent with every request so that logs show who asked.
const USER_AGENT: &str = concat!("mxproxy-check/", env!("CARGO_PKG_VERSION"));

/// Where one request goes: the name to resolve and connect to, the name the certificate
/// must be valid for, and the `Host` header. They differ after SRV delegation.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub connect_host: NameHost,
    pub port: u16,
    pub tls_name: NameHost,
    pub host_header: String,
}

impl Endpoint {
    /// The endpoint a plain `https://` URL names: one host for all three roles.
    pub fn from_url(url: &url::Url) -> Result<Endpoint, FetchError> {
        if url.scheme() != "https" {
            return Err(FetchError::BadUrl(format!(
                "`{url}` is not an https URL; Matrix clients and servers only use HTTPS here"
            )));
        }
        let host = match url.host() {
            Some(url::Host::Domain(name)) => NameHost::Dns(
                name.parse::<DnsName>()
                    .map_err(|e| FetchError::BadUrl(format!("host `{name}` {}", e.reason)))?,
            ),
            Some(url::Host::Ipv4(ip)) => NameHost::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => NameHost::Ip(IpAddr::V6(ip)),
            None => return Err(FetchError::BadUrl(format!("`{url}` has no host"))),
        };
        let port = url.port_or_known_default().unwrap_or(HTTPS_PORT);
        let host_header = match url.port() {
            Some(port) => format!("{}:{port}", host.authority()),
            None => host.authority(),
        };
        Ok(Endpoint {
            connect_host: host.clone(),
            port,
            tls_name: host,
            host_header,
        })
    }

    pub fn describe(&self) -> String {
        format!("{}:{}", self.connect_host.authority(), self.port)
    }
}

/// What the TLS handshake showed about the peer.
#[derive(Debug, Clone, Default)]
pub struct TlsFacts {
    /// `TLSv1_3` or `TLSv1_2`: rustls speaks nothing older, so a handshake proves ≥ 1.2.
    pub version: Option<String>,
    pub cert: Option<CertFacts>,
}

#[derive(Debug, Clone)]
pub struct CertFacts {
    /// DNS and IP subject alternative names.
    pub names: Vec<String>,
    /// Seconds since the Unix epoch.
    pub not_after: i64,
}

impl CertFacts {
    fn parse(der: &[u8]) -> Option<CertFacts> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let mut names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    x509_parser::extensions::GeneralName::DNSName(dns) => {
                        names.push(dns.to_string())
                    }
                    x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                        let ip = match bytes.len() {
                            4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                            16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                            _ => None,
                        };
                        names.extend(ip.map(|ip| ip.to_string()));
                    }
                    _ => {}
                }
            }
        }
        Some(CertFacts {
            names,
            not_after: cert.validity().not_after.timestamp(),
        })
    }
}

/// Why a request produced no answer. `Display` says it in one line.
#[derive(Debug, Clone)]
pub enum FetchError {
    BadUrl(String),
    Resolve {
        host: String,
        reason: String,
    },
    Connect {
        tried: Vec<SocketAddr>,
        reason: String,
    },
    Tls {
        addr: SocketAddr,
        error: TlsFailure,
        cert: Option<CertFacts>,
    },
    Http(String),
    Timeout(Duration),
    TooLarge(usize),
    TooManyRedirects(Vec<String>),
}

/// The handshake failures an admin can fix, kept apart so the fix can name the cure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    Expired,
    WrongName,
    UnknownIssuer,
    NotYetValid,
    /// The peer offers no TLS 1.2 or 1.3 (or nothing rustls and it share).
    NoCommonVersion,
    Other(String),
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsFailure::Expired => f.write_str("the certificate has expired"),
            TlsFailure::WrongName => f.write_str("the certificate is not valid for this name"),
            TlsFailure::UnknownIssuer => f.write_str(
                "the certificate is not signed by a trusted CA (or the chain is incomplete)",
            ),
            TlsFailure::NotYetValid => f.write_str("the certificate is not valid yet"),
            TlsFailure::NoCommonVersion => {
                f.write_str("the server offers neither TLS 1.2 nor TLS 1.3")
            }
            TlsFailure::Other(reason) => f.write_str(reason),
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::BadUrl(reason) => f.write_str(reason),
            FetchError::Resolve { host, reason } => write!(f, "cannot resolve {host}: {reason}"),
            FetchError::Connect { tried, reason } => {
                let tried: Vec<String> = tried.iter().map(ToString::to_string).collect();
                write!(f, "cannot connect to {}: {reason}", tried.join(", "))
            }
            FetchError::Tls { addr, error, cert } => {
                write!(f, "TLS with {addr} failed: {error}")?;
                if let Some(cert) = cert {
                    write!(
                        f,
                        " (it presents a certificate for {})",
                        cert.names.join(", ")
                    )?;
                }
                Ok(())
            }
            FetchError::Http(reason) => write!(f, "HTTP error: {reason}"),
            FetchError::Timeout(limit) => write!(
                f,
                "no complete answer within {} s (slow or stalled server)",
                limit.as_secs()
            ),
            FetchError::TooLarge(limit) => {
                write!(
                    f,
                    "the answer is larger than {limit} bytes; stopped reading"
                )
            }
            FetchError::TooManyRedirects(chain) => write!(
                f,
                "more than {MAX_REDIRECTS} redirects (a loop?): {}",
                chain.join(" -> ")
            ),
        }
    }
}

/// One HTTP answer with the facts of the connection it came over.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The address that answered, after `--resolve`, DNS and SRV.
    pub peer: SocketAddr,
}

impl Reply {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The Matrix `errcode` of an error answer, if the body is one.
    pub fn errcode(&self) -> Option<String> {
        Some(self.json()?.get("errcode")?.as_str()?.to_string())
    }

    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.header_values(name).into_iter().next()
    }
}

/// A redirect chain: every answer on the way, the last one last.
#[derive(Debug, Clone)]
pub struct Followed {
    pub hops: Vec<(url::Url, Reply)>,
}

impl Followed {
    pub fn last(&self) -> &Reply {
        &self.hops.last().expect("a chain has at least one answer").1
    }

    pub fn final_url(&self) -> &url::Url {
        &self.hops.last().expect("a chain has at least one answer").0
    }
}

/// Resolves, connects and speaks; built once per `check` run.
pub struct Net {
    overrides: HashMap<(String, u16), IpAddr>,
    /// Set by `--dns-server`: then A/AAAA come from it too, so SRV targets are resolved
    /// where the SRV records came from.
    custom_dns: Option<TokioResolver>,
    srv: Result<TokioResolver, String>,
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    pub timeout: Duration,
}

impl Net {
    pub fn new(
        overrides: impl IntoIterator<Item = (String, u16, IpAddr)>,
        extra_roots: Vec<CertificateDer<'static>>,
        dns_server: Option<SocketAddr>,
        timeout: Duration,
    ) -> Result<Net, String> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in extra_roots {
            roots
                .add(cert)
                .expect("read_ca_file accepts only usable trust anchors");
        }
        let (custom_dns, srv) = match dns_server {
            Some(server) => {
                let resolver = custom_resolver(server, timeout)?;
                (Some(resolver.clone()), Ok(resolver))
            }
            None => (
                None,
                TokioResolver::builder_tokio()
                    .and_then(|builder| builder.build())
                    .map_err(|e| format!("no system DNS configuration: {e}")),
            ),
        };
        Ok(Net {
            overrides: overrides
                .into_iter()
                .map(|(host, port, addr)| ((host, port), addr))
                .collect(),
            custom_dns,
            srv,
            roots: Arc::new(roots),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            timeout,
        })
    }

    /// The addresses `host:port` resolves to: `--resolve` first (as curl does), then the
    /// `--dns-server`, then the system resolver.
    pub async fn resolve(&self, host: &NameHost, port: u16) -> Result<Vec<SocketAddr>, FetchError> {
        let name = match host {
            NameHost::Ip(ip) => return Ok(vec![SocketAddr::new(*ip, port)]),
            NameHost::Dns(name) => name.as_str(),
        };
        if let Some(addr) = self.overrides.get(&(name.to_string(), port)) {
            return Ok(vec![SocketAddr::new(*addr, port)]);
        }
        let failed = |reason: String| FetchError::Resolve {
            host: name.to_string(),
            reason,
        };
        let addrs: Vec<SocketAddr> = match &self.custom_dns {
            Some(resolver) => {
                let lookup = tokio::time::timeout(self.timeout, resolver.lookup_ip(name))
                    .await
                    .map_err(|_| failed("the DNS server did not answer in time".into()))?
                    .map_err(|e| failed(e.to_string()))?;
                lookup.iter().map(|ip| SocketAddr::new(ip, port)).collect()
            }
            None => tokio::time::timeout(self.timeout, tokio::net::lookup_host((name, port)))
                .await
                .map_err(|_| failed("the system resolver did not answer in time".into()))?
                .map_err(|e| failed(e.to_string()))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(failed("no A or AAAA record".into()));
        }
        Ok(addrs)
    }

    /// SRV records of `name`, best first (lowest priority, then highest weight; RFC 2782).
    /// `Ok(empty)` when the name has none.
    pub async fn srv(&self, name: &str) -> Result<Vec<(String, u16)>, String> {
        let resolver = self.srv.as_ref().map_err(Clone::clone)?;
        let lookup = match tokio::time::timeout(self.timeout, resolver.srv_lookup(name)).await {
            Err(_) => return Err("the DNS server did not answer in time".into()),
            Ok(Err(e)) if e.is_no_records_found() || e.is_nx_domain() => return Ok(Vec::new()),
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(lookup)) => lookup,
        };
        let mut records: Vec<(u16, u16, String, u16)> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                hickory_resolver::proto::rr::RData::SRV(srv) => Some((
                    srv.priority,
                    srv.weight,
                    srv.target.to_string().trim_end_matches('.').to_string(),
                    srv.port,
                )),
                _ => None,
            })
            .collect();
        records.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        Ok(records
            .into_iter()
            .map(|(_, _, target, port)| (target, port))
            .collect())
    }

    /// A TLS handshake and nothing else: what `tls.*` checks report.
    pub async fn handshake(&self, endpoint: &Endpoint) -> Result<TlsFacts, FetchError> {
        let work = async {
            let (stream, _) = self.connect(endpoint).await?;
            Ok(tls_facts(&stream))
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| FetchError::Timeout(self.timeout))?
    }

    /// One request with an empty body; the answer's body is read up to `MAX_BODY_BYTES`.
    pub async fn request(
        &self,
        endpoint: &Endpoint,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Reply, FetchError> {
        let work = async {
            let (stream, peer) = self.connect(endpoint).await?;
            let request = build_request(endpoint, method, path, headers, Empty::<Bytes>::new())?;
            let (parts, mut body, _driver) = send(stream, request).await?;
            let mut collected = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| FetchError::Http(e.to_string()))?;
                if let Ok(data) = frame.into_data() {
                    if collected.len() + data.len() > MAX_BODY_BYTES {
                        return Err(FetchError::TooLarge(MAX_BODY_BYTES));
                    }
                    collected.extend_from_slice(&data);
                }
            }
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body: Bytes::from(collected),
                peer,
            })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| FetchError::Timeout(self.timeout))?
    }

    /// GET `url`, following up to `MAX_REDIRECTS` redirects to other https URLs; every
    /// answer on the way is kept, because CORS headers must be on each (client-server API,
    /// "Server Discovery": since v1.20 redirects SHOULD carry them too).
    pub async fn get_following(
        &self,
        url: &url::Url,
        headers: &[(&str, &str)],
    ) -> Result<Followed, FetchError> {
        let mut hops: Vec<(url::Url, Reply)> = Vec::new();
        let mut next = url.clone();
        loop {
            let endpoint = Endpoint::from_url(&next)?;
            let path = match next.query() {
                Some(query) => format!("{}?{query}", next.path()),
                None => next.path().to_string(),
            };
            let reply = self.request(&endpoint, Method::GET, &path, headers).await?;
            let location = reply
                .status
                .is_redirection()
                .then(|| reply.header("location"))
                .flatten();
            hops.push((next.clone(), reply));
            let Some(location) = location else {
                return Ok(Followed { hops });
            };
            if hops.len() > MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects(
                    hops.iter().map(|(url, _)| url.to_string()).collect(),
                ));
            }
            next = next.join(&location).map_err(|e| {
                FetchError::BadUrl(format!("redirect to `{location}` is no URL: {e}"))
            })?;
        }
    }

    /// Sends the headers of an upload of `size` bytes and no body, then waits `window` for
    /// an answer. A proxy that refuses by Content-Length answers 413 at once; one that
    /// accepts waits for the body (or passes the request on). Nothing close to `size` is
    /// ever sent. `Ok(None)`: no answer within the window.
    pub async fn announce_upload(
        &self,
        endpoint: &Endpoint,
        path: &str,
        size: u64,
        window: Duration,
    ) -> Result<Option<Reply>, FetchError> {
        let connected = tokio::time::timeout(self.timeout, self.connect(endpoint))
            .await
            .map_err(|_| FetchError::Timeout(self.timeout))??;
        let (stream, peer) = connected;
        let request = build_request(
            endpoint,
            Method::POST,
            path,
            &[("content-type", "application/octet-stream")],
            AnnouncedBody { size },
        )?;
        let answer = tokio::time::timeout(window, async {
            let (parts, mut body, _driver) = send(stream, request).await?;
            // A refusal page is small; a short read is enough to tell proxy from homeserver.
            let mut collected = Vec::new();
            while let Ok(Some(Ok(frame))) =
                tokio::time::timeout(Duration::from_millis(500), body.frame()).await
            {
                if let Ok(data) = frame.into_data() {
                    collected.extend_from_slice(&data);
                    if collected.len() > 64 * 1024 {
                        break;
                    }
                }
            }
            Ok::<_, FetchError>(Reply {
                status: parts.status,
                headers: parts.headers,
                body: Bytes::from(collected),
                peer,
            })
        })
        .await;
        match answer {
            Err(_) => Ok(None),
            Ok(reply) => reply.map(Some),
        }
    }

    async fn connect(
        &self,
        endpoint: &Endpoint,
    ) -> Result<(TlsStream<TcpStream>, SocketAddr), FetchError> {
        let addrs = self.resolve(&endpoint.connect_host, endpoint.port).await?;
        let mut last_error = String::new();
        let mut tcp = None;
        for addr in &addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    tcp = Some((stream, *addr));
                    break;
                }
                Err(e) => last_error = e.to_string(),
            }
        }
        let Some((tcp, addr)) = tcp else {
            return Err(FetchError::Connect {
                tried: addrs,
                reason: last_error,
            });
        };
        let verifier = Arc::new(RecordingVerifier {
            inner: WebPkiServerVerifier::builder_with_provider(
                self.roots.clone(),
                self.provider.clone(),
            )
            .build()
            .map_err(|e| FetchError::Http(format!("no usable root certificates: {e}")))?,
            seen: Mutex::new(None),
        });
        let config = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| FetchError::Http(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        // rustls sends no SNI for an IP address, as the spec asks ("Server implementation"
        // / TLS: "unless that certificate is expected to be an IP address").
        let name = match &endpoint.tls_name {
            NameHost::Dns(name) => TlsName::try_from(name.as_str().to_string())
                .map_err(|e| FetchError::BadUrl(e.to_string()))?,
            NameHost::Ip(ip) => TlsName::IpAddress((*ip).into()),
        };
        match TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
        {
            Ok(stream) => Ok((stream, addr)),
            Err(e) => {
                let cert = verifier
                    .seen
                    .lock()
                    .ok()
                    .and_then(|seen| seen.as_ref().and_then(|der| CertFacts::parse(der)));
                Err(FetchError::Tls {
                    addr,
                    error: classify_tls(&e),
                    cert,
                })
            }
        }
    }
}

fn custom_resolver(server: SocketAddr, timeout: Duration) -> Result<TokioResolver, String> {
    let mut udp = ConnectionConfig::udp();
    udp.port = server.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = server.port();
    let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
        server.ip(),
        true,
        vec![udp, tcp],
    )]);
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    builder.options_mut().timeout = timeout;
    builder.options_mut().attempts = 1;
    builder
        .build()
        .map_err(|e| format!("--dns-server {server}: {e}"))
}

fn tls_facts(stream: &TlsStream<TcpStream>) -> TlsFacts {
    let (_, connection) = stream.get_ref();
    TlsFacts {
        version: connection.protocol_version().map(|v| format!("{v:?}")),
        cert: connection
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|der| CertFacts::parse(der)),
    }
}

fn classify_tls(error: &std::io::Error) -> TlsFailure {
    use rustls::{AlertDescription, CertificateError, Error};
    let Some(inner) = error.get_ref().and_then(|e| e.downcast_ref::<Error>()) else {
        return TlsFailure::Other(error.to_string());
    };
    match inner {
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => TlsFailure::Expired,
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => TlsFailure::WrongName,
        Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => TlsFailure::NotYetValid,
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => TlsFailure::UnknownIssuer,
        Error::AlertReceived(AlertDescription::ProtocolVersion) | Error::PeerIncompatible(_) => {
            TlsFailure::NoCommonVersion
        }
        other => TlsFailure::Other(other.to_string()),
    }
}

fn build_request<B>(
    endpoint: &Endpoint,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: B,
) -> Result<Request<B>, FetchError> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .body(body)
        .map_err(|e| FetchError::BadUrl(format!("`{path}`: {e}")))?;
    let map = request.headers_mut();
    // hyper's connection-level client sets no Host: the spec decides it per step.
    let host = HeaderValue::from_str(&endpoint.host_header)
        .map_err(|e| FetchError::BadUrl(e.to_string()))?;
    map.insert(hyper::header::HOST, host);
    map.insert(
        hyper::header::USER_AGENT,
        HeaderValue::from_static(USER_AGENT),
    );
    // One request per connection, except where the caller asks for an upgrade: two
    // Connection headers ("close" and "Upgrade") would leave the upgrade to each proxy's taste.
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("connection"))
    {
        map.insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| FetchError::BadUrl(e.to_string()))?;
        let value = HeaderValue::from_str(value).map_err(|e| FetchError::BadUrl(e.to_string()))?;
        map.append(name, value);
    }
    Ok(request)
}

/// Aborts the connection task when the request is done or abandoned.
struct Driver(tokio::task::JoinHandle<()>);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn send<B>(
    stream: TlsStream<TcpStream>,
    request: Request<B>,
) -> Result<(hyper::http::response::Parts, hyper::body::Incoming, Driver), FetchError>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let driver = Driver(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let (parts, body) = response.into_parts();
    Ok((parts, body, driver))
}

/// A request body that announces `size` bytes and never produces one.
struct AnnouncedBody {
    size: u64,
}

impl Body for AnnouncedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Pending
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.size)
    }
}

/// Keeps the end-entity certificate the server presented, so that a failed verification
/// can still say which names the certificate does cover; then defers to webpki.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    seen: Mutex<Option<CertificateDer<'static>>>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &TlsName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(end_entity.clone().into_owned());
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Reads the CA certificates of `--ca-file`.
pub fn read_ca_file(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    // Refused here, where the error is reported against --ca-file, not later in Net::new.
    let mut store = RootCertStore::empty();
    for cert in &certs {
        store
            .add(cert.clone())
            .map_err(|e| format!("holds a certificate that cannot be a trust anchor: {e}"))?;
    }
    Ok(certs)
}
