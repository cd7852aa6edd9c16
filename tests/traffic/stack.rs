//! One real proxy in front of the recording stand-in homeserver, with a client that trusts
//! the test CA: the shared pieces of `common` put together for one rule.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::common::homeserver::{Answers, Homeserver};
use crate::common::livekit::LiveKit;
use crate::common::pki::TestCa;
use crate::common::proxy::{Options, Proxy, Running, Site};

use super::client::Client;

pub struct Stack {
    pub server: Proxy,
    pub options: Options,
    pub homeserver_host: String,
    pub upstream: Homeserver,
    /// With `--mas`: the second recording upstream, MAS's stand-in (MAS itself is in no
    /// package registry, so its routing is proven on what reaches this address).
    pub mas: Option<Homeserver>,
    /// With `--rtc`: the stand-ins for LiveKit (a WebSocket echo) and for its
    /// authorization service (a recording upstream with the service's own CORS headers).
    pub livekit: Option<LiveKit>,
    pub rtc_auth: Option<Homeserver>,
    /// With `--worker`: one recording upstream per worker, with its group, in the order
    /// of `Options::workers`.
    pub workers: Vec<(&'static str, Homeserver)>,
    pub client: Client,
    /// The test CA's certificate as PEM, for clients other than `client` (Node).
    pub ca_file: PathBuf,
    pub site: Site,
    running: Running,
    /// With `element_web_upstream`: the stand-in for Element's image.
    _element_image: Option<Running>,
    // Last, so the files outlive the server.
    _dir: tempfile::TempDir,
}

impl Stack {
    /// `server` generated for `options` and started, in front of a stand-in homeserver.
    pub async fn start(server: Proxy, options: Options) -> Stack {
        Stack::with_sync_delay(server, options, Duration::ZERO).await
    }

    /// The same, with a stand-in homeserver that answers `/sync` after `sync_delay`.
    pub async fn with_sync_delay(
        server: Proxy,
        mut options: Options,
        sync_delay: Duration,
    ) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let upstream =
            Homeserver::start("127.0.0.1:0".parse().unwrap(), Answers::Echo { sync_delay }).await;
        let mas = match &mut options.mas {
            Some(mas_options) => {
                let mas = Homeserver::start(
                    "127.0.0.1:0".parse().unwrap(),
                    Answers::Echo {
                        sync_delay: Duration::ZERO,
                    },
                )
                .await;
                mas_options.upstream = Some(mas.address);
                Some(mas)
            }
            None => None,
        };
        let (livekit, rtc_auth) = match &mut options.rtc {
            Some(rtc_options) => {
                let livekit = LiveKit::start().await;
                let auth =
                    Homeserver::start("127.0.0.1:0".parse().unwrap(), Answers::AuthService).await;
                rtc_options.livekit = Some(livekit.address);
                rtc_options.auth = Some(auth.address);
                (Some(livekit), Some(auth))
            }
            None => (None, None),
        };
        let mut workers = Vec::new();
        for (group, address) in &mut options.workers {
            let worker = Homeserver::start(
                "127.0.0.1:0".parse().unwrap(),
                Answers::Echo {
                    sync_delay: Duration::ZERO,
                },
            )
            .await;
            *address = Some(worker.address);
            workers.push((*group, worker));
        }
        let ca = TestCa::new();
        let cert = ca.issue(dir.path(), &options.names());
        let element_root = crate::common::proxy::element_web_root(dir.path());
        if options.element_web {
            super::web::unpack_fake_release(&element_root);
        }
        let site = Site::generate(dir.path(), server, &options, upstream.address, &cert);
        site.publish_documents();
        let element_image = if options.element_web {
            // The summary's step: the generated config.json goes into the release's folder
            // (in the compose stack it is mounted at the image's /app/config.json).
            std::fs::copy(
                site.out.join("element-web/config.json"),
                element_root.join("config.json"),
            )
            .unwrap();
            options
                .element_web_upstream
                .map(|address| super::web::start_image_stand_in(dir.path(), &element_root, address))
        } else {
            None
        };
        if !server.serves_documents() {
            // Traefik cannot answer with a fixed body and routes /.well-known/matrix/ to
            // the homeserver, which the summary tells to serve the generated documents:
            // the stand-in does so, as the configured homeserver would.
            upstream.serve_documents(site.documents());
        }
        // Starting waits for the listeners: off the runtime's own threads.
        let running = tokio::task::block_in_place(|| {
            Running::start(
                server,
                dir.path(),
                &site.config,
                options.listen,
                &options.ports(),
            )
        })
        .expect("the caller checked Proxy::installed");
        Stack {
            _element_image: element_image,
            server,
            homeserver_host: options.homeserver_host(),
            options,
            upstream,
            mas,
            livekit,
            rtc_auth,
            workers,
            client: Client::new(&ca.cert_der),
            ca_file: ca.write_pem(dir.path()),
            site,
            running,
            _dir: dir,
        }
    }

    /// The server's error log and output, and the generated files.
    pub fn logs(&self) -> String {
        format!("{}{}", self.running.logs(), self.site.files())
    }

    pub fn site_address(&self) -> IpAddr {
        self.options.listen
    }

    /// A generated well-known document, parsed.
    pub fn document(&self, name: &str) -> serde_json::Value {
        self.site.document(name)
    }

    pub fn webroot(&self) -> &PathBuf {
        &self.site.webroot
    }

    /// The OpenSSL config the server runs with, which allows every TLS version.
    pub fn openssl_cnf(&self) -> &PathBuf {
        &self.running.openssl_cnf
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // The server's own logs come from `Running`; the generated files from here.
        if std::thread::panicking() {
            eprintln!("{}", self.site.files());
        }
    }
}
