//! In-process servers for `check` tests, on one background tokio runtime: the shared
//! stand-in homeserver (plain HTTP behind the real proxy), a DNS server (hickory-server)
//! and a hostile HTTPS endpoint. Dropping `Background` stops them all.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::rr::rdata::{A, SOA, SRV};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::common::homeserver::{Answers, Homeserver};
use crate::common::livekit::LiveKit;
use crate::common::pki::TestCert;

pub struct Background {
    runtime: tokio::runtime::Runtime,
}

pub enum DnsRecord {
    Srv {
        name: &'static str,
        target: &'static str,
        port: u16,
    },
    A {
        name: &'static str,
        ip: [u8; 4],
    },
}

impl Background {
    pub fn start() -> Background {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        Background { runtime }
    }

    /// The stand-in homeserver for `server_name` on `addr` (plain HTTP, as behind a
    /// proxy), answering as Conduit does; it stops when dropped.
    pub fn homeserver(&self, addr: &str, server_name: &str) -> Homeserver {
        let answers = Answers::Conduit {
            server_name: server_name.to_string(),
        };
        self.runtime
            .block_on(Homeserver::start(addr.parse().unwrap(), answers))
    }

    /// The stand-in Synapse with MAS on, announcing `issuer` (see `Answers::SynapseMas`).
    pub fn synapse_mas(&self, addr: &str, server_name: &str, issuer: &str) -> Homeserver {
        let answers = Answers::SynapseMas {
            server_name: server_name.to_string(),
            issuer: issuer.to_string(),
        };
        self.runtime
            .block_on(Homeserver::start(addr.parse().unwrap(), answers))
    }

    /// The stand-in MAS below `prefix` (MAS is in no package registry; see `Answers::Mas`).
    pub fn mas(&self, addr: &str, issuer: &str, prefix: &str) -> Homeserver {
        let answers = Answers::Mas {
            issuer: issuer.to_string(),
            prefix: prefix.to_string(),
        };
        self.runtime
            .block_on(Homeserver::start(addr.parse().unwrap(), answers))
    }

    /// The stand-ins behind `--rtc` on free loopback ports: LiveKit's WebSocket port (an
    /// echo that accepts any upgrade) and lk-jwt-service with its own CORS headers. Neither
    /// is in a package registry this environment installs from.
    pub fn rtc(&self) -> (LiveKit, Homeserver) {
        self.runtime.block_on(async {
            (
                LiveKit::start().await,
                Homeserver::start("127.0.0.1:0".parse().unwrap(), Answers::AuthService).await,
            )
        })
    }

    /// LiveKit's HTTP port as a real LiveKit answers a client without an access token
    /// (livekit/livekit pkg/service/server.go, rtcservice.go `ServeHTTP`): on `/rtc`, an
    /// empty 404 to a request that is no WebSocket upgrade (gorilla/websocket
    /// `IsWebSocketUpgrade`: `Connection` lists `upgrade` and `Upgrade` lists `websocket`)
    /// and 401 to one that is, before any handshake (`validateInternal` finds no grants);
    /// elsewhere its health check's 200 `OK`. LiveKit is in no package registry here; this
    /// is what `check` can see of it without credentials. Returns the address.
    pub fn livekit_without_token(&self) -> SocketAddr {
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        self.runtime.spawn(async move {
            for _ in 0..10_000 {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(|request: Request<Incoming>| async move {
                            Ok::<_, Infallible>(livekit_answer(&request))
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        address
    }

    /// An authoritative DNS server for the zone `test.` on `addr` (UDP and TCP).
    pub fn dns(&self, addr: &str, records: Vec<DnsRecord>) {
        let addr: SocketAddr = addr.parse().unwrap();
        let origin = Name::from_ascii("test.").unwrap();
        let mut zone = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
            origin.clone(),
            ZoneType::Primary,
            AxfrPolicy::Deny,
        );
        let soa = SOA::new(
            Name::from_ascii("ns.test.").unwrap(),
            Name::from_ascii("admin.test.").unwrap(),
            1,
            3600,
            600,
            86400,
            60,
        );
        zone.upsert_mut(Record::from_rdata(origin.clone(), 60, RData::SOA(soa)), 1);
        for record in records {
            let record = match record {
                DnsRecord::Srv { name, target, port } => Record::from_rdata(
                    Name::from_ascii(format!("{name}.")).unwrap(),
                    60,
                    RData::SRV(SRV::new(
                        10,
                        5,
                        port,
                        Name::from_ascii(format!("{target}.")).unwrap(),
                    )),
                ),
                DnsRecord::A { name, ip } => Record::from_rdata(
                    Name::from_ascii(format!("{name}.")).unwrap(),
                    60,
                    RData::A(A::new(ip[0], ip[1], ip[2], ip[3])),
                ),
            };
            assert!(zone.upsert_mut(record, 1));
        }
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![Arc::new(zone)]);
        let (udp, tcp) = self.runtime.block_on(async {
            (
                tokio::net::UdpSocket::bind(addr).await.unwrap(),
                tokio::net::TcpListener::bind(addr).await.unwrap(),
            )
        });
        self.runtime.spawn(async move {
            let mut server = Server::new(catalog);
            server.register_socket(udp);
            server.register_listener(tcp, Duration::from_secs(5), 4096);
            let _ = server.block_until_done().await;
        });
    }

    /// An HTTPS server that misbehaves by `Host`: `endless.test` sends a body without end,
    /// `drip.test` one byte every 300 ms, `loop.test` redirects to itself.
    pub fn hostile(&self, addr: &str, leaf: &TestCert) {
        let addr: SocketAddr = addr.parse().unwrap();
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .unwrap();
        self.runtime.spawn(async move {
            for _ in 0..10_000 {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service =
                        hyper::service::service_fn(|request: Request<Incoming>| async move {
                            Ok::<_, Infallible>(hostile_answer(&request))
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    }
}

fn livekit_answer(request: &Request<Incoming>) -> Response<String> {
    let lists = |name: &str, token: &str| {
        request.headers().get_all(name).iter().any(|value| {
            String::from_utf8_lossy(value.as_bytes())
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        })
    };
    let (status, body) = if request.uri().path() != "/rtc" {
        (StatusCode::OK, "OK")
    } else if lists("connection", "upgrade") && lists("upgrade", "websocket") {
        (StatusCode::UNAUTHORIZED, "permissions denied\n")
    } else {
        (StatusCode::NOT_FOUND, "")
    };
    Response::builder()
        .status(status)
        .body(body.to_string())
        .unwrap()
}

fn hostile_answer(request: &Request<Incoming>) -> Response<Chunks> {
    let host = request
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let builder = Response::builder().header("content-type", "application/json");
    match host.as_str() {
        // 1 GiB in 16 KiB chunks, as fast as the client reads: endless for any sane cap.
        "endless.test" => builder
            .body(Chunks::spawn(65_536, 16 * 1024, Duration::ZERO))
            .unwrap(),
        // One byte every 300 ms, announced as 1000 bytes: five minutes for the document.
        "drip.test" => builder
            .header("content-length", "1000")
            .body(Chunks::spawn(1000, 1, Duration::from_millis(300)))
            .unwrap(),
        _ => builder
            .status(StatusCode::FOUND)
            .header("location", format!("https://{host}{}", request.uri()))
            .body(Chunks::spawn(0, 0, Duration::ZERO))
            .unwrap(),
    }
}

/// A response body fed by a task: `count` chunks of `size` bytes, `pause` apart. The task
/// ends when the count is reached or the client goes away.
struct Chunks {
    receiver: tokio::sync::mpsc::Receiver<Bytes>,
}

impl Chunks {
    fn spawn(count: usize, size: usize, pause: Duration) -> Chunks {
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        tokio::spawn(async move {
            let chunk = Bytes::from(vec![b' '; size]);
            for _ in 0..count {
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                if sender.send(chunk.clone()).await.is_err() {
                    return;
                }
            }
        });
        Chunks { receiver }
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.receiver
            .poll_recv(cx)
            .map(|chunk| chunk.map(|data| Ok(Frame::data(data))))
    }
}
