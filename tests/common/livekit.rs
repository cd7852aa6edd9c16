//! The stand-in for LiveKit's HTTP and WebSocket port (7880) behind `--rtc`: LiveKit is in
//! no package registry this test environment can install from, so the routing is proven
//! on what reaches this address. It accepts a WebSocket upgrade on any path (LiveKit's
//! signalling connection is `/rtc`), records the handshake, and echoes every text and
//! binary message back; a plain HTTP request is recorded and answered with a 400.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// A handshake as it reached the stand-in.
#[derive(Clone, Debug)]
pub struct Upgrade {
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Upgrade {
    pub fn header(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    }
}

pub struct LiveKit {
    pub address: SocketAddr,
    upgrades: Arc<Mutex<Vec<Upgrade>>>,
    task: tokio::task::JoinHandle<()>,
}

impl LiveKit {
    /// Listens on a free loopback port on the current runtime until dropped.
    // The handshake callback's signature is tungstenite's (`Callback`), its error a whole
    // HTTP response.
    #[allow(clippy::result_large_err)]
    pub async fn start() -> LiveKit {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let upgrades = Arc::new(Mutex::new(Vec::new()));
        let log = upgrades.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let record = |request: &Request, response: Response| {
                        log.lock().unwrap().push(Upgrade {
                            target: request.uri().to_string(),
                            headers: request
                                .headers()
                                .iter()
                                .map(|(n, v)| {
                                    (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into())
                                })
                                .collect(),
                        });
                        Ok(response)
                    };
                    let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, record).await
                    else {
                        return;
                    };
                    while let Some(Ok(message)) = socket.next().await {
                        let echo = match message {
                            Message::Text(_) | Message::Binary(_) => message,
                            Message::Close(_) => break,
                            _ => continue,
                        };
                        if socket.send(echo).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        LiveKit {
            address,
            upgrades,
            task,
        }
    }

    /// Every handshake that reached it, in order.
    pub fn upgrades(&self) -> Vec<Upgrade> {
        self.upgrades.lock().unwrap().clone()
    }
}

impl Drop for LiveKit {
    fn drop(&mut self) {
        self.task.abort();
    }
}
