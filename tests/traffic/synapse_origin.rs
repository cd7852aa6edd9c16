//! A second Matrix server as far as federation authentication goes: an ed25519 server key,
//! published over HTTPS at `/_matrix/key/v2/server` (signed with itself, as the spec's
//! "Publishing Keys" asks), and `X-Matrix` request signatures made with it
//! (server-server API, "Request Authentication"). Its name is an IP literal with a port,
//! so Synapse reaches it without DNS: https://127.0.0.2:8448.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use ring::signature::{Ed25519KeyPair, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

use crate::common::pki::TestCa;

pub const NAME: &str = "127.0.0.2:8448";
const KEY_ID: &str = "ed25519:mxproxy";

pub struct Origin {
    key: Arc<Ed25519KeyPair>,
    /// How many times a homeserver fetched the key.
    pub key_fetches: Arc<AtomicUsize>,
}

impl Origin {
    /// Listens on `NAME` with a certificate from the test CA (which Synapse is told to
    /// trust for federation) until the runtime ends; at most 1000 connections.
    pub async fn start(ca: &TestCa, dir: &Path) -> Origin {
        let seed: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
        let key = Arc::new(Ed25519KeyPair::from_seed_unchecked(&seed).unwrap());
        let key_fetches = Arc::new(AtomicUsize::new(0));
        let host = NAME.split(':').next().unwrap().to_string();
        let leaf = ca.leaf(
            dir,
            "origin",
            &[host],
            crate::common::pki::Validity::Current,
        );
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        let private = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind(NAME).await.unwrap();
        let document = Arc::new(key_document(&key));
        let fetches = key_fetches.clone();
        tokio::spawn(async move {
            for _ in 0..1000 {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, document, fetches) =
                    (acceptor.clone(), document.clone(), fetches.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let (document, fetches) = (document.clone(), fetches.clone());
                        async move {
                            let found = request.uri().path() == "/_matrix/key/v2/server";
                            if found {
                                fetches.fetch_add(1, Ordering::SeqCst);
                            }
                            let (status, body) = if found {
                                (200, document.to_string())
                            } else {
                                (404, r#"{"errcode":"M_NOT_FOUND"}"#.to_string())
                            };
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .status(status)
                                    .header("content-type", "application/json")
                                    .body(body)
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Origin { key, key_fetches }
    }

    /// The `Authorization` header for a request to `destination`: `X-Matrix` with the
    /// signature of the canonical JSON of method, URI, origin, destination and content.
    pub fn authorization(
        &self,
        method: &str,
        uri: &str,
        destination: &str,
        content: &Value,
    ) -> String {
        let signed = json!({
            "method": method,
            "uri": uri,
            "origin": NAME,
            "destination": destination,
            "content": content,
        });
        let sig = base64(self.key.sign(canonical(&signed).as_bytes()).as_ref());
        format!(
            r#"X-Matrix origin="{NAME}",destination="{destination}",key="{KEY_ID}",sig="{sig}""#
        )
    }
}

/// The server's key document, valid for a day, signed with the key it publishes.
fn key_document(key: &Ed25519KeyPair) -> Value {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let until = (now + Duration::from_secs(86_400)).as_millis() as u64;
    let mut document = json!({
        "server_name": NAME,
        "valid_until_ts": until,
        "verify_keys": { KEY_ID: { "key": base64(key.public_key().as_ref()) } },
        "old_verify_keys": {},
    });
    let sig = base64(key.sign(canonical(&document).as_bytes()).as_ref());
    document["signatures"] = json!({ NAME: { KEY_ID: sig } });
    document
}

/// Matrix's canonical JSON (appendices, "Canonical JSON"): keys sorted by code point, no
/// insignificant whitespace; the values here are ASCII strings, integers and objects.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let members: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::from(k.as_str()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", members.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// Unpadded standard base64, as Matrix writes keys and signatures (appendices, "Unpadded
/// Base64").
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn base64_is_unpadded_standard() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg");
    assert_eq!(base64(b"fo"), "Zm8");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(&[0xfb, 0xff]), "+/8");
}

#[test]
fn canonical_json_sorts_keys_and_drops_whitespace() {
    let value = json!({ "b": { "d": 1, "c": [true, null] }, "a": "x" });
    assert_eq!(
        canonical(&value),
        r#"{"a":"x","b":{"c":[true,null],"d":1}}"#
    );
}
