//! A real HTTPS client that trusts only the test CA: hyper (HTTP/1.1 and HTTP/2) over
//! rustls, connecting by address with the SNI and Host of the name it pretends to reach.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A request body.
#[derive(Clone, Debug)]
pub enum Body {
    Empty,
    Bytes(Vec<u8>),
    /// `len` bytes sent in 64 KiB frames, with no Content-Length (chunked on HTTP/1.1):
    /// the proxy cannot know the size before it has read it all.
    Streamed {
        len: u64,
    },
}

#[derive(Clone, Debug)]
pub struct Request {
    pub address: SocketAddr,
    /// `None` for plain HTTP.
    pub tls: Option<Tls>,
    /// Sent as `Host` (HTTP/1.1) or `:authority` (HTTP/2).
    pub host: String,
    pub method: String,
    /// The request target, sent exactly as written.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub timeout: Duration,
    /// The local address the connection comes from; `None`: the kernel's choice. Any
    /// 127.0.0.0/8 address is the namespace's own (loopback), so a test can play a
    /// trusted proxy and an untrusted client from one process.
    pub source: Option<std::net::IpAddr>,
}

#[derive(Clone, Debug)]
pub struct Tls {
    pub sni: String,
    pub h2: bool,
    /// Only these TLS versions are offered.
    pub versions: Vec<&'static rustls::SupportedProtocolVersion>,
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub version: hyper::Version,
}

impl Response {
    /// Every value of header `name`, in order.
    pub fn header(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    }
}

impl Request {
    /// A GET over HTTPS (HTTP/1.1, TLS 1.2 or 1.3) to `host` at `address`:443.
    pub fn get(address: std::net::IpAddr, host: &str, target: &str) -> Request {
        Request {
            address: SocketAddr::new(address, 443),
            tls: Some(Tls {
                sni: host.split(':').next().unwrap().to_string(),
                h2: false,
                versions: rustls::ALL_VERSIONS.to_vec(),
            }),
            host: host.to_string(),
            method: "GET".into(),
            target: target.into(),
            headers: Vec::new(),
            body: Body::Empty,
            timeout: Duration::from_secs(30),
            source: None,
        }
    }

    /// Connects from `source` (a loopback address) instead of the kernel's choice.
    pub fn from(mut self, source: std::net::IpAddr) -> Request {
        self.source = Some(source);
        self
    }

    pub fn port(mut self, port: u16) -> Request {
        self.address.set_port(port);
        self
    }

    pub fn plain_http(mut self) -> Request {
        self.tls = None;
        self.address.set_port(80);
        self
    }

    pub fn method(mut self, method: &str) -> Request {
        self.method = method.into();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: Body) -> Request {
        self.body = body;
        self
    }

    pub fn sni(mut self, sni: &str) -> Request {
        self.tls.as_mut().expect("TLS request").sni = sni.into();
        self
    }

    pub fn h2(mut self) -> Request {
        self.tls.as_mut().expect("TLS request").h2 = true;
        self
    }

    pub fn tls_versions(
        mut self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Request {
        self.tls.as_mut().expect("TLS request").versions = versions.to_vec();
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = timeout;
        self
    }
}

pub struct Client {
    roots: Arc<rustls::RootCertStore>,
}

pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

impl Client {
    pub fn new(ca: &CertificateDer<'static>) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).expect("test CA");
        Client {
            roots: Arc::new(roots),
        }
    }

    fn tls_config(&self, tls: &Tls) -> Arc<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&tls.versions)
            .expect("TLS versions")
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = if tls.h2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Arc::new(config)
    }

    /// Connects and, for HTTPS, completes the handshake; returns the negotiated ALPN
    /// protocol and TLS version with the stream.
    async fn connect(
        &self,
        request: &Request,
    ) -> Result<
        (
            Box<dyn Io>,
            Option<Vec<u8>>,
            Option<rustls::ProtocolVersion>,
        ),
        String,
    > {
        let tcp = match request.source {
            None => TcpStream::connect(request.address).await,
            Some(source) => {
                let socket = if source.is_ipv4() {
                    tokio::net::TcpSocket::new_v4()
                } else {
                    tokio::net::TcpSocket::new_v6()
                }
                .map_err(|e| format!("socket: {e}"))?;
                socket
                    .bind(SocketAddr::new(source, 0))
                    .map_err(|e| format!("bind {source}: {e}"))?;
                socket.connect(request.address).await
            }
        }
        .map_err(|e| format!("connect {}: {e}", request.address))?;
        let Some(tls) = &request.tls else {
            return Ok((Box::new(tcp), None, None));
        };
        let connector = TlsConnector::from(self.tls_config(tls));
        let name = ServerName::try_from(tls.sni.clone()).map_err(|e| e.to_string())?;
        let stream = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake (SNI {}): {e}", tls.sni))?;
        let (_, connection) = stream.get_ref();
        let alpn = connection.alpn_protocol().map(<[u8]>::to_vec);
        let version = connection.protocol_version();
        Ok((Box::new(stream), alpn, version))
    }

    /// The TLS version and ALPN protocol a handshake ends with.
    pub async fn handshake(
        &self,
        request: &Request,
    ) -> Result<(rustls::ProtocolVersion, Option<Vec<u8>>), String> {
        let (_, alpn, version) = tokio::time::timeout(request.timeout, self.connect(request))
            .await
            .map_err(|_| "timed out".to_string())??;
        Ok((version.expect("a TLS request"), alpn))
    }

    pub async fn send(&self, request: &Request) -> Result<Response, String> {
        tokio::time::timeout(request.timeout, self.send_inner(request))
            .await
            .map_err(|_| format!("no answer within {:?}", request.timeout))?
    }

    async fn send_inner(&self, request: &Request) -> Result<Response, String> {
        let (stream, alpn, _) = self.connect(request).await?;
        let io = TokioIo::new(stream);
        if alpn.as_deref() == Some(b"h2") {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(|e| format!("HTTP/2 handshake: {e}"))?;
            tokio::spawn(connection);
            let response = sender.send_request(http_request(request, true)?).await;
            read_response(request, response).await
        } else {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|e| format!("HTTP/1.1 handshake: {e}"))?;
            tokio::spawn(connection);
            let response = sender.send_request(http_request(request, false)?).await;
            read_response(request, response).await
        }
    }

    /// Sends `requests` one after the other on one HTTP/1.1 keep-alive connection, made
    /// for the first of them.
    pub async fn send_on_one_connection(
        &self,
        requests: &[Request],
    ) -> Result<Vec<Response>, String> {
        let first = requests.first().expect("at least one request");
        tokio::time::timeout(first.timeout, async {
            let (stream, _, _) = self.connect(first).await?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| format!("HTTP/1.1 handshake: {e}"))?;
            tokio::spawn(connection);
            let mut responses = Vec::new();
            for request in requests {
                sender
                    .ready()
                    .await
                    .map_err(|e| format!("connection closed before {}: {e}", request.target))?;
                let response = sender.send_request(http_request(request, false)?).await;
                responses.push(read_response(request, response).await?);
            }
            Ok(responses)
        })
        .await
        .map_err(|_| format!("no answers within {:?}", first.timeout))?
    }

    /// Sends the head of an HTTP/1.1 request announcing `Content-Length: body_len`, then
    /// the body while reading the answer at the same time: a proxy that refuses the size
    /// may answer (and close) before the body is sent. Returns the status line's code.
    pub async fn send_announced(&self, request: &Request, body_len: u64) -> Result<u16, String> {
        tokio::time::timeout(request.timeout, async {
            let (stream, _, _) = self.connect(request).await?;
            let (mut read, mut write) = tokio::io::split(stream);
            let mut head = format!(
                "{} {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {body_len}\r\n",
                request.method, request.target, request.host
            );
            for (name, value) in &request.headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let writer = tokio::spawn(async move {
                write.write_all(head.as_bytes()).await?;
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = body_len;
                while left > 0 {
                    let n = chunk.len().min(left as usize);
                    write.write_all(&chunk[..n]).await?;
                    left -= n as u64;
                }
                write.flush().await?;
                // Keep the write half open: closing it would end the TLS session.
                Ok::<_, std::io::Error>(write)
            });
            let mut answer = Vec::new();
            let mut buffer = [0u8; 4096];
            while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = read
                    .read(&mut buffer)
                    .await
                    .map_err(|e| format!("reading the answer: {e}"))?;
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buffer[..n]);
            }
            writer.abort();
            let status_line = String::from_utf8_lossy(&answer);
            status_line
                .split_whitespace()
                .nth(1)
                .and_then(|code| code.parse().ok())
                .ok_or_else(|| format!("no status line in {status_line:?}"))
        })
        .await
        .map_err(|_| format!("no answer within {:?}", request.timeout))?
    }
}

/// A hyper body for `Body`, with an exact size hint only where a length is announced.
struct RequestBody {
    remaining: u64,
    bytes: Option<Bytes>,
    chunk: Bytes,
    announced: bool,
}

impl RequestBody {
    fn new(body: &Body) -> RequestBody {
        match body {
            Body::Empty => RequestBody {
                remaining: 0,
                bytes: None,
                chunk: Bytes::new(),
                announced: true,
            },
            Body::Bytes(bytes) => RequestBody {
                remaining: 0,
                bytes: Some(Bytes::from(bytes.clone())),
                chunk: Bytes::new(),
                announced: true,
            },
            Body::Streamed { len } => RequestBody {
                remaining: *len,
                bytes: None,
                chunk: Bytes::from(vec![b'u'; 64 * 1024]),
                announced: false,
            },
        }
    }
}

impl HttpBody for RequestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(bytes) = self.bytes.take() {
            return Poll::Ready((!bytes.is_empty()).then(|| Ok(Frame::data(bytes))));
        }
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.chunk.len().min(self.remaining as usize);
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0 && self.bytes.as_ref().is_none_or(Bytes::is_empty)
    }

    fn size_hint(&self) -> SizeHint {
        if self.announced {
            SizeHint::with_exact(self.remaining + self.bytes.as_ref().map_or(0, |b| b.len() as u64))
        } else {
            SizeHint::default()
        }
    }
}

fn http_request(request: &Request, h2: bool) -> Result<hyper::Request<RequestBody>, String> {
    let scheme = if request.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let uri = if h2 {
        format!("{scheme}://{}{}", request.host, request.target)
    } else {
        request.target.clone()
    };
    let mut builder = hyper::Request::builder()
        .method(request.method.as_str())
        .uri(uri);
    if !h2 {
        builder = builder.header("Host", &request.host);
    }
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(RequestBody::new(&request.body))
        .map_err(|e| format!("bad request {}: {e}", request.target))
}

async fn read_response(
    request: &Request,
    response: hyper::Result<hyper::Response<hyper::body::Incoming>>,
) -> Result<Response, String> {
    let response = response.map_err(|e| format!("{} {}: {e}", request.method, request.target))?;
    let status = response.status().as_u16();
    let version = response.version();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the body of {}: {e}", request.target))?
        .to_bytes()
        .to_vec();
    Ok(Response {
        status,
        headers,
        body,
        version,
    })
}

/// A WebSocket connection through the proxy, over HTTP/1.1 (tokio-tungstenite).
pub type WebSocket = tokio_tungstenite::WebSocketStream<Box<dyn Io>>;

impl Client {
    /// Opens a WebSocket to `request.target` on `request.host` with the HTTP/1.1 upgrade
    /// (RFC 6455 §4.1), over TLS as for any request; the handshake's answer with it.
    pub async fn websocket(
        &self,
        request: &Request,
    ) -> Result<
        (
            WebSocket,
            tokio_tungstenite::tungstenite::handshake::client::Response,
        ),
        String,
    > {
        let scheme = if request.tls.is_some() { "wss" } else { "ws" };
        let url = format!("{scheme}://{}{}", request.host, request.target);
        let connect = async {
            let (stream, _, _) = self.connect(request).await?;
            tokio_tungstenite::client_async(url.as_str(), stream)
                .await
                .map_err(|e| format!("WebSocket handshake for {url}: {e}"))
        };
        tokio::time::timeout(request.timeout, connect)
            .await
            .map_err(|_| format!("no WebSocket within {:?}", request.timeout))?
    }
}

/// What an HTTP/2 connection to a host does with a WebSocket (RFC 8441).
pub enum H2WebSocket {
    /// ALPN settled on something other than h2.
    NoH2,
    /// h2, but the server's SETTINGS lack SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3):
    /// a client must not send an extended CONNECT and opens the WebSocket over HTTP/1.1.
    NotOffered,
    /// Offered, but the extended CONNECT was answered with this status.
    Refused(u16),
    /// Open: the stream carries RFC 6455 frames (tungstenite, as the client's end).
    Open(Box<tokio_tungstenite::WebSocketStream<tokio::io::DuplexStream>>),
}

impl Client {
    /// Opens a WebSocket to `request.target` over HTTP/2 where the server offers it: an
    /// extended CONNECT with `:protocol: websocket` (RFC 8441 §4-5), no Upgrade header.
    pub async fn websocket_h2(&self, request: &Request) -> Result<H2WebSocket, String> {
        let request = request.clone().h2();
        let timeout = request.timeout;
        tokio::time::timeout(timeout, self.websocket_h2_inner(&request))
            .await
            .map_err(|_| format!("no HTTP/2 WebSocket within {timeout:?}"))?
    }

    async fn websocket_h2_inner(&self, request: &Request) -> Result<H2WebSocket, String> {
        let (stream, alpn, _) = self.connect(request).await?;
        if alpn.as_deref() != Some(b"h2") {
            return Ok(H2WebSocket::NoH2);
        }
        let (sender, mut connection) = h2::client::handshake(stream)
            .await
            .map_err(|e| format!("HTTP/2 handshake: {e}"))?;
        let mut ping = connection.ping_pong().expect("taken once");
        tokio::spawn(connection);
        // The server's SETTINGS is the first frame it sends, so it has arrived once a PING
        // is answered: only then does the sender know whether extended CONNECT is on.
        ping.ping(h2::Ping::opaque())
            .await
            .map_err(|e| format!("HTTP/2 PING: {e}"))?;
        let mut sender = sender
            .ready()
            .await
            .map_err(|e| format!("HTTP/2 connection: {e}"))?;
        if !sender.is_extended_connect_protocol_enabled() {
            return Ok(H2WebSocket::NotOffered);
        }
        let mut connect = http::Request::builder()
            .method(http::Method::CONNECT)
            .uri(format!("https://{}{}", request.host, request.target))
            .header("sec-websocket-version", "13")
            .body(())
            .map_err(|e| e.to_string())?;
        connect
            .extensions_mut()
            .insert(h2::ext::Protocol::from_static("websocket"));
        let (response, send) = sender
            .send_request(connect, false)
            .map_err(|e| format!("extended CONNECT: {e}"))?;
        let response = response
            .await
            .map_err(|e| format!("extended CONNECT's answer: {e}"))?;
        if response.status() != http::StatusCode::OK {
            return Ok(H2WebSocket::Refused(response.status().as_u16()));
        }
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        tokio::spawn(pump_h2_stream(theirs, send, response.into_body()));
        let socket = tokio_tungstenite::WebSocketStream::from_raw_socket(
            ours,
            tokio_tungstenite::tungstenite::protocol::Role::Client,
            None,
        )
        .await;
        Ok(H2WebSocket::Open(Box::new(socket)))
    }
}

/// Carries bytes between `io` and one HTTP/2 stream, both ways, until either ends.
async fn pump_h2_stream(
    io: tokio::io::DuplexStream,
    mut send: h2::SendStream<Bytes>,
    mut recv: h2::RecvStream,
) {
    let (mut read, mut write) = tokio::io::split(io);
    let up = async {
        let mut buffer = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = read.read(&mut buffer).await {
            if send
                .send_data(Bytes::copy_from_slice(&buffer[..n]), false)
                .is_err()
            {
                return;
            }
        }
        let _ = send.send_data(Bytes::new(), true);
    };
    let down = async {
        while let Some(Ok(chunk)) = recv.data().await {
            let _ = recv.flow_control().release_capacity(chunk.len());
            if write.write_all(&chunk).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(up, down);
}
