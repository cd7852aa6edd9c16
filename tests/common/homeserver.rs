//! The stand-in for the homeserver on the `--upstream` address, for the real-traffic and
//! the `check` tests. Written on raw TCP rather than an HTTP server library, so that it
//! records the request target exactly as the proxy sent it (bytes, no parsing or
//! normalising on the way) and every header line as sent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What reached the upstream, per request, in arrival order.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub target: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body_len: u64,
    /// The whole body arrived (by Content-Length or the final chunk).
    pub body_complete: bool,
    /// Which connection it came on: its index in `Homeserver::connections`.
    pub connection: usize,
}

/// A connection the proxy opened to the upstream.
#[derive(Clone, Debug)]
pub struct Connection {
    pub opened: Instant,
    /// When it ended: the proxy closed it, or the upstream after `Connection: close`.
    pub closed: Option<Instant>,
}

impl Recorded {
    /// Every value of header `name`, in order.
    pub fn header(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    pub fn target_lossy(&self) -> String {
        String::from_utf8_lossy(&self.target).into_owned()
    }
}

/// The body a slow `/sync` answers with: large enough to span several TCP segments and
/// proxy buffers, and checkable byte for byte.
pub fn sync_body() -> Vec<u8> {
    let mut body = b"{\"next_batch\":\"s72594_4483_1934\",\"padding\":\"".to_vec();
    body.extend((0..200_000u32).map(|i| b'a' + (i % 26) as u8));
    body.extend_from_slice(b"\"}");
    body
}

/// How the stand-in answers.
#[derive(Clone, Debug)]
pub enum Answers {
    /// 200 and a small JSON body for every request, once the whole body has arrived;
    /// requests whose target contains `/sync` only after `sync_delay`.
    Echo { sync_delay: Duration },
    /// What Conduit answers for `server_name`, for the endpoints `check` probes (see
    /// `conduit_answer`).
    Conduit { server_name: String },
    /// Synapse with `matrix_authentication_service` enabled, for `check`: Conduit's answers
    /// plus what Synapse adds or drops with MAS on (see `synapse_mas_answer`).
    SynapseMas { server_name: String, issuer: String },
    /// The Matrix Authentication Service below `prefix` (`""` on its own host), for
    /// `check`: its discovery document and its compatibility layer's login flows (see
    /// `mas_answer`). A stand-in, because no package registry carries MAS.
    Mas { issuer: String, prefix: String },
    /// What the MatrixRTC authorization service (lk-jwt-service) puts on its client
    /// endpoints, OPTIONS included: its own CORS headers (handler.go `corsJSON`), so a
    /// proxy that adds one more shows as two. It is in no package registry, hence this.
    AuthService,
}

/// The well-known documents a homeserver serves from its settings: path and body.
type Documents = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

pub struct Homeserver {
    pub address: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
    documents: Documents,
    connections: Arc<Mutex<Vec<Connection>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Homeserver {
    /// Listens on `address` (port 0: a free one) on the current runtime until dropped.
    pub async fn start(address: SocketAddr, answers: Answers) -> Homeserver {
        let listener = TcpListener::bind(address)
            .await
            .unwrap_or_else(|e| panic!("stand-in homeserver on {address}: {e}"));
        let address = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let documents: Documents = Arc::new(Mutex::new(Vec::new()));
        let (task_log, task_connections, task_documents) =
            (log.clone(), connections.clone(), documents.clone());
        let answers = Arc::new(answers);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let connection = {
                    let mut connections = task_connections.lock().unwrap();
                    connections.push(Connection {
                        opened: Instant::now(),
                        closed: None,
                    });
                    connections.len() - 1
                };
                let (log, connections, answers, documents) = (
                    task_log.clone(),
                    task_connections.clone(),
                    answers.clone(),
                    task_documents.clone(),
                );
                tokio::spawn(async move {
                    serve(stream, &log, &answers, &documents, connection).await;
                    connections.lock().unwrap()[connection].closed = Some(Instant::now());
                });
            }
        });
        Homeserver {
            address,
            log,
            documents,
            connections,
            task,
        }
    }

    /// Answers `GET /.well-known/matrix/<name>` with each of `documents` (name, body) as
    /// a homeserver does that was given them in its settings (Conduit's
    /// `[global.well_known]`, the summary's step for Traefik, which routes the documents
    /// to the homeserver), with the CORS headers Conduit puts on every answer; any other
    /// `/.well-known/matrix/` path is a 404, as for a document left unset.
    pub fn serve_documents(&self, documents: Vec<(String, Vec<u8>)>) {
        *self.documents.lock().unwrap() = documents
            .into_iter()
            .map(|(name, body)| (format!("/.well-known/matrix/{name}"), body))
            .collect();
    }

    /// Every connection opened so far, in order.
    pub fn connections(&self) -> Vec<Connection> {
        self.connections.lock().unwrap().clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    /// The requests whose target contains `marker`.
    pub fn with_target(&self, marker: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| {
                r.target
                    .windows(marker.len())
                    .any(|w| w == marker.as_bytes())
            })
            .collect()
    }
}

impl Drop for Homeserver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Largest request head accepted: the 4 kB paths of the corpus plus headers fit easily.
const MAX_HEAD: usize = 64 * 1024;

/// Serves one connection, request after request, until the client or an error ends it.
async fn serve(
    stream: TcpStream,
    log: &Mutex<Vec<Recorded>>,
    answers: &Answers,
    documents: &Documents,
    connection: usize,
) {
    let _ = serve_requests(BufReader::new(stream), log, answers, documents, connection).await;
}

async fn serve_requests(
    mut reader: BufReader<TcpStream>,
    log: &Mutex<Vec<Recorded>>,
    answers: &Answers,
    documents: &Documents,
    connection: usize,
) -> Option<()> {
    loop {
        let head = read_head(&mut reader).await?;
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.splitn(3, |&b| b == b' ');
        let method = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        let target = parts.next().unwrap_or_default().to_vec();
        let headers: Vec<(String, Vec<u8>)> = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| {
                let colon = l.iter().position(|&b| b == b':')?;
                let value = l[colon + 1..].trim_ascii().to_vec();
                Some((String::from_utf8_lossy(&l[..colon]).into_owned(), value))
            })
            .collect();
        let index = {
            let mut log = log.lock().unwrap();
            log.push(Recorded {
                method: method.clone(),
                target: target.clone(),
                headers: headers.clone(),
                body_len: 0,
                body_complete: false,
                connection,
            });
            log.len() - 1
        };
        let conduit = match answers {
            _ if target.starts_with(b"/.well-known/matrix/") => {
                Some(document_answer(&target, documents))
            }
            Answers::Conduit { server_name } => Some(conduit_answer(&method, &target, server_name)),
            Answers::SynapseMas {
                server_name,
                issuer,
            } => Some(synapse_mas_answer(&method, &target, server_name, issuer)),
            Answers::Mas { issuer, prefix } => Some(mas_answer(&method, &target, issuer, prefix)),
            Answers::Echo { .. } | Answers::AuthService => None,
        };
        // Conduit refuses an unauthenticated upload before reading its body: it answers
        // at once and closes, leaving the body unread.
        let refused_early = matches!(conduit, Some((401, _)));
        if !refused_early {
            read_body(&mut reader, &headers, log, index).await?;
            log.lock().unwrap()[index].body_complete = true;
        }
        let (status, cors, body) = match (conduit, answers) {
            (Some((status, body)), _) => (status, CORS, body),
            (None, Answers::Echo { sync_delay }) => {
                let body = if target.windows(5).any(|w| w == b"/sync") {
                    tokio::time::sleep(*sync_delay).await;
                    sync_body()
                } else {
                    let received = log.lock().unwrap()[index].body_len;
                    // A real client's discovery (matrix-js-sdk's AutoDiscovery) takes a
                    // homeserver only if its /versions lists a spec version it supports.
                    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
                    let versions = if path == b"/_matrix/client/versions" {
                        r#","versions":["v1.11","v1.12"]"#
                    } else {
                        ""
                    };
                    format!("{{\"upstream\":\"ok\",\"received\":{received}{versions}}}")
                        .into_bytes()
                };
                (200, &[][..], body)
            }
            (None, Answers::AuthService) => {
                let received = log.lock().unwrap()[index].body_len;
                let body = format!("{{\"auth\":\"ok\",\"received\":{received}}}");
                (200, LK_JWT_CORS, body.into_bytes())
            }
            (None, _) => unreachable!("answered above"),
        };
        let value = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| String::from_utf8_lossy(v).to_ascii_lowercase())
        };
        let close = refused_early || value("connection").is_some_and(|v| v.contains("close"));
        let extra = if close { "Connection: close\r\n" } else { "" };
        write_response(&mut reader, status, cors, extra, &method, &body)
            .await
            .ok()?;
        if close {
            return None;
        }
    }
}

/// The CORS headers Conduit puts on every `/_matrix` answer.
const CORS: &[(&str, &str)] = &[
    ("Access-Control-Allow-Origin", "*"),
    (
        "Access-Control-Allow-Methods",
        "GET, POST, PUT, DELETE, OPTIONS",
    ),
    (
        "Access-Control-Allow-Headers",
        "X-Requested-With, Content-Type, Authorization",
    ),
];

/// lk-jwt-service's `corsJSON` headers but Content-Type, which every answer here has.
const LK_JWT_CORS: &[(&str, &str)] = &[
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "POST"),
    (
        "Access-Control-Allow-Headers",
        "Accept, Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token",
    ),
];

/// Writes a JSON answer (no body for HEAD). `extra` is further header lines, CRLF-ended.
async fn write_response(
    reader: &mut BufReader<TcpStream>,
    status: u16,
    headers: &[(&str, &str)],
    extra: &str,
    method: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Status");
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str(extra);
    response.push_str("\r\n");
    let mut response = response.into_bytes();
    if method != "HEAD" {
        response.extend_from_slice(body);
    }
    reader.get_mut().write_all(&response).await
}

/// A well-known document set with `serve_documents`, or Conduit's 404 for one left unset.
fn document_answer(target: &[u8], documents: &Documents) -> (u16, Vec<u8>) {
    let documents = documents.lock().unwrap();
    match documents.iter().find(|(path, _)| path.as_bytes() == target) {
        Some((_, body)) => (200, body.clone()),
        None => (
            404,
            br#"{"errcode":"M_NOT_FOUND","error":"M_NOT_FOUND"}"#.to_vec(),
        ),
    }
}

/// What Conduit answers: OPTIONS answered without running the endpoint, 404
/// M_UNRECOGNIZED for any path no endpoint matches (routing on the raw, still encoded
/// path, split at `/`). Returns the status and the JSON body.
fn conduit_answer(method: &str, target: &[u8], server_name: &str) -> (u16, Vec<u8>) {
    let json = |status: u16, body: serde_json::Value| (status, body.to_string().into_bytes());
    let error = |status, errcode: &str| {
        json(
            status,
            serde_json::json!({"errcode": errcode, "error": errcode}),
        )
    };
    if method == "OPTIONS" {
        return json(200, serde_json::json!({}));
    }
    let target = String::from_utf8_lossy(target);
    let path = target.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["", "_matrix", "client", "versions"]) => {
            json(200, serde_json::json!({"versions": ["v1.11", "v1.12"]}))
        }
        ("GET", ["", "_matrix", "federation", "v1", "version"]) => json(
            200,
            serde_json::json!({"server": {"name": "stand-in", "version": "0.1"}}),
        ),
        ("GET", ["", "_matrix", "key", "v2", "server"]) => json(
            200,
            serde_json::json!({
                "server_name": server_name,
                "verify_keys": {"ed25519:test": {"key": "dGVzdCBrZXk"}},
                "old_verify_keys": {},
                "valid_until_ts": 4_102_444_800_000u64,
                "signatures": {server_name: {"ed25519:test": "c2lnbmF0dXJl"}}
            }),
        ),
        ("GET", ["", "_matrix", "client", "v3", "directory", "room", alias]) => {
            let alias = percent_encoding::percent_decode_str(alias).decode_utf8_lossy();
            // The appendix "Room Aliases": at most 255 bytes; Conduit (Ruma) enforces it.
            if alias.starts_with('#') && alias.contains(':') && alias.len() <= 255 {
                error(404, "M_NOT_FOUND")
            } else {
                error(400, "M_INVALID_PARAM")
            }
        }
        // The OpenID userinfo lookup without a token, as Synapse's `openid` resource answers
        // it (synapse/federation/transport/server/federation.py `OpenIdUserInfo`).
        ("GET", ["", "_matrix", "federation", "v1", "openid", "userinfo"]) => {
            error(401, "M_MISSING_TOKEN")
        }
        // Refused before the body is read, as an unauthenticated upload is.
        ("POST", ["", "_matrix", "media", "v3", "upload"]) => error(401, "M_MISSING_TOKEN"),
        _ => error(404, "M_UNRECOGNIZED"),
    }
}

/// The OAuth 2.0 server metadata MAS publishes for `issuer` (a few of its fields; Synapse's
/// `auth_metadata` passes the same document on).
fn mas_metadata(issuer: &str) -> serde_json::Value {
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}authorize"),
        "token_endpoint": format!("{issuer}oauth2/token"),
        "jwks_uri": format!("{issuer}oauth2/keys.json"),
        "registration_endpoint": format!("{issuer}oauth2/registration"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
    })
}

/// Synapse with MAS on (element-hq/synapse): `auth_metadata` (v1 and MSC2965's unstable
/// path) and `auth_issuer` name MAS's issuer (synapse/rest/client/auth_metadata.py); the
/// internal API refuses everyone but MAS with 403 M_UNKNOWN (synapse/rest/synapse/mas/
/// _base.py); its own login servlet is not registered, so `/login` falls to Conduit's
/// 404 M_UNRECOGNIZED like any unknown endpoint, as Synapse's does.
fn synapse_mas_answer(
    method: &str,
    target: &[u8],
    server_name: &str,
    issuer: &str,
) -> (u16, Vec<u8>) {
    let text = String::from_utf8_lossy(target);
    let path = text.split('?').next().unwrap_or_default();
    let json = |status: u16, body: serde_json::Value| (status, body.to_string().into_bytes());
    match (method, path) {
        (
            "GET",
            "/_matrix/client/v1/auth_metadata"
            | "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata",
        ) => json(200, mas_metadata(issuer)),
        ("GET", "/_matrix/client/unstable/org.matrix.msc2965/auth_issuer") => {
            json(200, serde_json::json!({ "issuer": issuer }))
        }
        (_, path) if path.starts_with("/_synapse/mas/") => json(
            403,
            serde_json::json!({
                "errcode": "M_UNKNOWN",
                "error": "This endpoint must only be called by MAS"
            }),
        ),
        _ => conduit_answer(method, target, server_name),
    }
}

/// MAS below `prefix`: `/.well-known/openid-configuration` on its discovery resource, and
/// `GET /_matrix/client/<version>/login` answered as its compatibility layer does
/// (crates/handlers/src/compat/login.rs `get`, password login on: the exact body of its
/// test `test_get_login`); anything else 404 with no Matrix error body.
fn mas_answer(method: &str, target: &[u8], issuer: &str, prefix: &str) -> (u16, Vec<u8>) {
    let text = String::from_utf8_lossy(target);
    let path = text.split('?').next().unwrap_or_default();
    let Some(path) = path.strip_prefix(prefix) else {
        return (404, Vec::new());
    };
    let segments: Vec<&str> = path.split('/').collect();
    let json = |body: serde_json::Value| (200, body.to_string().into_bytes());
    match (method, segments.as_slice()) {
        ("GET", ["", ".well-known", "openid-configuration"]) => json(mas_metadata(issuer)),
        (
            "GET",
            ["", "_matrix", "client", "r0" | "v3" | "unstable", "login"]
            | ["", "_matrix", "client", "api", "v1", "login"],
        ) => json(serde_json::json!({
            "flows": [
                {"type": "m.login.password"},
                {"type": "m.login.sso", "org.matrix.msc3824.delegated_oidc_compatibility": true},
                {"type": "m.login.token"}
            ]
        })),
        _ => (404, Vec::new()),
    }
}

/// Reads the body the head announces, counting it into the record at `index`.
async fn read_body(
    reader: &mut BufReader<TcpStream>,
    headers: &[(String, Vec<u8>)],
    log: &Mutex<Vec<Recorded>>,
    index: usize,
) -> Option<()> {
    let value = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).to_ascii_lowercase())
    };
    let chunked = value("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let length: u64 = value("content-length")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if chunked {
        read_chunked(reader, log, index).await
    } else {
        read_exact_counted(reader, length, log, index).await
    }
}

async fn read_head(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let read = reader.read_until(b'\n', &mut head).await.ok()?;
        if read == 0 || head.len() > MAX_HEAD {
            return None;
        }
        let line = &head[before..];
        if (line == b"\r\n" || line == b"\n") && before > 0 {
            return Some(head);
        }
        if before == 0 && (line == b"\r\n" || line == b"\n") {
            // Stray line break between keep-alive requests.
            head.clear();
        }
    }
}

async fn read_exact_counted(
    reader: &mut BufReader<TcpStream>,
    mut remaining: u64,
    log: &Mutex<Vec<Recorded>>,
    index: usize,
) -> Option<()> {
    let mut buffer = vec![0u8; 64 * 1024];
    while remaining > 0 {
        let want = buffer.len().min(remaining as usize);
        let read = reader.read(&mut buffer[..want]).await.ok()?;
        if read == 0 {
            return None;
        }
        remaining -= read as u64;
        log.lock().unwrap()[index].body_len += read as u64;
    }
    Some(())
}

async fn read_chunked(
    reader: &mut BufReader<TcpStream>,
    log: &Mutex<Vec<Recorded>>,
    index: usize,
) -> Option<()> {
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.ok()?;
        let size = line.trim().split(';').next()?;
        let size = u64::from_str_radix(size, 16).ok()?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer).await.ok()? == 0 || trailer.trim().is_empty() {
                    return Some(());
                }
            }
        }
        read_exact_counted(reader, size, log, index).await?;
        let mut crlf = String::new();
        reader.read_line(&mut crlf).await.ok()?;
    }
}
