//! A stand-in for the homeserver on the `--upstream` address. Written on raw TCP rather
//! than an HTTP server library, so that it records the request target exactly as the proxy
//! sent it (bytes, no parsing or normalising on the way) and every header line as sent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

pub struct Upstream {
    pub address: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    /// Listens on 127.0.0.1 (a free port). Requests whose target contains `/sync` are
    /// answered after `sync_delay`, the others at once.
    pub async fn start(sync_delay: Duration) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, task_log.clone(), sync_delay));
            }
        });
        Upstream { address, log, task }
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

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Largest request head accepted: the 4 kB paths of the corpus plus headers fit easily.
const MAX_HEAD: usize = 64 * 1024;

async fn serve(stream: TcpStream, log: Arc<Mutex<Vec<Recorded>>>, sync_delay: Duration) {
    let mut reader = BufReader::new(stream);
    loop {
        let Some(head) = read_head(&mut reader).await else {
            return;
        };
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
            });
            log.len() - 1
        };
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
        let body = if chunked {
            read_chunked(&mut reader, &log, index).await
        } else {
            read_exact_counted(&mut reader, length, &log, index).await
        };
        if body.is_none() {
            return;
        }
        log.lock().unwrap()[index].body_complete = true;

        let response_body = if target.windows(5).any(|w| w == b"/sync") {
            tokio::time::sleep(sync_delay).await;
            sync_body()
        } else {
            format!(
                "{{\"upstream\":\"ok\",\"received\":{}}}",
                log.lock().unwrap()[index].body_len
            )
            .into_bytes()
        };
        let close = value("connection").is_some_and(|v| v.contains("close"));
        let mut response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n",
            response_body.len(),
            if close { "Connection: close\r\n" } else { "" }
        )
        .into_bytes();
        if method != "HEAD" {
            response.extend_from_slice(&response_body);
        }
        let stream = reader.get_mut();
        if stream.write_all(&response).await.is_err() || close {
            return;
        }
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
