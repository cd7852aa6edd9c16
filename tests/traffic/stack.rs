//! One real proxy in front of the recording stand-in homeserver, with a client that trusts
//! the test CA: the shared pieces of `common` put together for one rule.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::common::homeserver::{Answers, Homeserver};
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
    pub client: Client,
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
            client: Client::new(&ca.cert_der),
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
