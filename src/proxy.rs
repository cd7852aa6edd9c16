//! What differs between the reverse proxies: the files each one reads, where Debian's
//! package reads them, and how it gets its certificates. One place, the mirror of
//! `crate::homeserver`, so the plan, the renderer and the warnings never match on a
//! proxy's name.

use crate::setup::Proxy;

pub struct ProxyFacts {
    pub display_name: &'static str,
    /// The files written for the proxy, below its folder (`nginx/`) in the folder layout
    /// and below `debian_dir` in the Debian one.
    pub files: &'static [FileSpec],
    /// Files the compose stack adds for the proxy's container (Apache: the main config the
    /// official image lacks); they have no Debian place.
    pub compose_files: &'static [FileSpec],
    /// Files only a host install gets, each with its own Debian place (Apache: the
    /// MPM limits of `--clients`, which the compose stack's httpd.conf carries).
    pub host_files: &'static [HostFile],
    /// The summary's steps for installing it on the host.
    pub next_steps_template: &'static str,
    /// Its service in docker-compose.yml.
    pub compose_service_template: &'static str,
    /// More summary lines for the compose stack (HAProxy: assembling the one-file certificate).
    pub compose_next_steps_template: Option<&'static str>,
    /// Where Debian's package reads the files, below the root: the site folder its main
    /// config includes, or the folder of its one config file.
    pub debian_dir: &'static str,
    /// The proxy obtains and renews ACME certificates itself (Caddy, Traefik); the others
    /// read certbot's files.
    pub obtains_certificates: bool,
    /// The longest host name it can obtain a certificate for, where its certificate store
    /// puts the name in a file name: Caddy's lock file `issue_cert_<name>.lock` must fit
    /// 255 bytes (measured: Caddy 2.6 obtains one for 239 characters and fails at 240 with
    /// "creating lock file: ... file name too long").
    pub longest_certificate_name: Option<usize>,
    /// How the proxy reads a certificate and its key.
    pub certificate_form: CertificateForm,
    /// Where a proxy that obtains certificates itself keeps them in its container (the
    /// compose stack's `certs` volume).
    pub certificate_store: Option<CertificateStore>,
    /// The proxy takes one listen address, not a list (Traefik's entry point `address`).
    pub single_listen_address: bool,
    /// The proxy can answer with a fixed body, so it serves the well-known documents
    /// itself (all but Traefik, which routes them to the homeserver).
    pub serves_fixed_documents: bool,
    /// Its file is the whole configuration, not a site included by a main config (Caddy,
    /// HAProxy): in the Debian layout it replaces the package's default one.
    pub whole_config: bool,
    /// The proxy serves a folder of static files (Element Web's release): nginx, Apache
    /// and Caddy. HAProxy only answers with a file it loaded at start (`http-request
    /// return ... file`), not a folder of thousands; Traefik serves no files at all.
    pub serves_files: bool,
    /// More files, written only with a trusted front (`--trusted-proxy`, `--cdn`): what
    /// the proxy needs to recover the client's address (Traefik: its plugin).
    pub client_address_files: &'static [FileSpec],
    /// How its official image runs in the compose stack where certbot renews the
    /// certificate it reads; None for a proxy that renews its own.
    pub compose_runtime: Option<ComposeRuntime>,
    /// How the compose stack asks its official image whether it is healthy.
    pub compose_healthcheck: ComposeHealthcheck,
}

/// A health check run inside the proxy's official image, with a tool that image ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComposeHealthcheck {
    /// The Debian-based nginx, httpd and haproxy images: bash (whose /dev/tcp opens a
    /// connection), head and grep are there, curl and wget are not in all of them
    /// (docker-library/httpd and haproxy Dockerfiles purge their build tools). Healthy
    /// when an HTTP status line comes back on port 80, whatever the status.
    BashHttp,
    /// Traefik's own `traefik healthcheck`, which reads the same static configuration
    /// (/etc/traefik/traefik.yml, found by default) and asks `/ping` on the entry point
    /// `ping.entryPoint` names; exit 0 only on 200 (doc.traefik.io, "CLI & Ping").
    TraefikPing,
    /// The Caddy image is Alpine (caddyserver/caddy-docker `FROM alpine`), whose busybox
    /// has wget; Caddy's admin endpoint listens on localhost:2019 unless the Caddyfile's
    /// `admin` option moves it, which the generated one never sets. Measured with Caddy
    /// 2.6.2 and busybox wget: `GET http://127.0.0.1:2019/config/` passes the admin
    /// endpoint's Host check (exit 0), and exits 1 with Caddy stopped.
    CaddyAdmin,
}

/// What the compose stack needs to know of a proxy's official image to reload it when
/// certbot renews its certificate. Every command is one the image itself ships.
pub struct ComposeRuntime {
    /// The image's own foreground command, which the service's command ends with (`exec`,
    /// so the server stays PID 1 and receives the image's STOPSIGNAL).
    pub foreground: &'static str,
    /// A graceful reload run inside the container: open connections finish on the old
    /// workers, new ones get the new certificate.
    pub reload: &'static str,
    /// How certbot's ACME HTTP-01 challenges are answered through it.
    pub challenge: Challenge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// The proxy serves `<webroot>/.well-known/acme-challenge/` as files, which certbot's
    /// webroot plugin writes.
    Webroot,
    /// The proxy serves no files: it forwards `/.well-known/acme-challenge/` to certbot's
    /// own standalone server.
    Standalone,
}

/// A file of a proxy's host install: its path below the proxy's folder, its place below
/// the root in the Debian layout, and its template.
pub struct HostFile {
    pub path: &'static str,
    pub debian_path: &'static str,
    pub template: &'static str,
}

/// One file of a proxy: its path below the proxy's folder, `{host}` standing for the
/// plan's file stem (the homeserver host unless that is too long for a file name), and the
/// template that writes it.
pub struct FileSpec {
    pub path: &'static str,
    pub template: &'static str,
}

impl FileSpec {
    /// The path below the proxy's folder, for `file_stem`.
    pub fn path_for(&self, file_stem: &str) -> String {
        self.path.replace("{host}", file_stem)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertificateStore {
    pub path: &'static str,
    /// Mounted whatever the TLS mode, not only with `--tls acme`.
    pub every_mode: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateForm {
    /// A certificate chain file and a key file.
    Pair,
    /// Chain and key in one PEM file, in `dir` (HAProxy's `crt`).
    CombinedPem { dir: &'static str },
}

/// Where HAProxy reads its one-file certificates from; the plan names the file there
/// whichever proxies are asked for, since the summary says how to assemble it.
pub const HAPROXY_CERTS: &str = "/etc/haproxy/certs";

pub const NGINX: ProxyFacts = ProxyFacts {
    display_name: "nginx",
    files: &[FileSpec {
        path: "{host}.conf",
        template: "nginx/site.conf.j2",
    }],
    // The image's nginx.conf with the connection limits of `--clients`, which only the
    // main config's `events` block and main context take.
    compose_files: &[FileSpec {
        path: "nginx.conf",
        template: "nginx/nginx.conf.j2",
    }],
    host_files: &[],
    next_steps_template: "nginx/next-steps.txt.j2",
    compose_service_template: "nginx/compose-service.yml.j2",
    compose_next_steps_template: None,
    debian_dir: "etc/nginx/sites-available",
    obtains_certificates: false,
    longest_certificate_name: None,
    certificate_form: CertificateForm::Pair,
    certificate_store: None,
    single_listen_address: false,
    serves_fixed_documents: true,
    whole_config: false,
    client_address_files: &[],
    // docker-nginx stable/debian/Dockerfile: CMD ["nginx", "-g", "daemon off;"]. `-s reload`
    // signals the master named in the image's nginx.conf `pid` file. A command that starts
    // with `sh` skips the entrypoint's /docker-entrypoint.d scripts; none acts on this
    // stack (they need a templates folder or an NGINX_ENTRYPOINT_* variable, or edit the
    // image's default.conf, which the stack replaces).
    compose_runtime: Some(ComposeRuntime {
        foreground: "nginx -g 'daemon off;'",
        reload: "nginx -s reload",
        challenge: Challenge::Webroot,
    }),
    serves_files: true,
    compose_healthcheck: ComposeHealthcheck::BashHttp,
};

pub const APACHE: ProxyFacts = ProxyFacts {
    display_name: "Apache",
    files: &[FileSpec {
        path: "{host}.conf",
        template: "apache/site.conf.j2",
    }],
    // The official httpd image enables none of the modules a Matrix proxy needs.
    compose_files: &[FileSpec {
        path: "httpd.conf",
        template: "apache/httpd.conf.j2",
    }],
    // A snippet rather than an edit of mods-available/mpm_*.conf, which are the
    // package's: apache2.conf reads conf-enabled/ after mods-enabled/, and for each of
    // these directives worker.c and event.c keep the last value read (set_server_limit
    // and the others assign it).
    host_files: &[HostFile {
        path: "mxproxy-capacity.conf",
        debian_path: "etc/apache2/conf-available/mxproxy-capacity.conf",
        template: "apache/capacity.conf.j2",
    }],
    next_steps_template: "apache/next-steps.txt.j2",
    compose_service_template: "apache/compose-service.yml.j2",
    compose_next_steps_template: None,
    debian_dir: "etc/apache2/sites-available",
    obtains_certificates: false,
    longest_certificate_name: None,
    certificate_form: CertificateForm::Pair,
    certificate_store: None,
    single_listen_address: false,
    serves_fixed_documents: true,
    whole_config: false,
    client_address_files: &[],
    // docker-library/httpd 2.4/Dockerfile: CMD ["httpd-foreground"] (which runs
    // `httpd -DFOREGROUND`), and $HTTPD_PREFIX/bin, apachectl's folder, is on PATH.
    // `-k graceful` signals the parent named in the PidFile (logs/httpd.pid by default).
    compose_runtime: Some(ComposeRuntime {
        foreground: "httpd-foreground",
        reload: "apachectl -k graceful",
        challenge: Challenge::Webroot,
    }),
    serves_files: true,
    compose_healthcheck: ComposeHealthcheck::BashHttp,
};

pub const CADDY: ProxyFacts = ProxyFacts {
    display_name: "Caddy",
    files: &[FileSpec {
        path: "Caddyfile",
        template: "caddy/Caddyfile.j2",
    }],
    compose_files: &[],
    host_files: &[],
    next_steps_template: "caddy/next-steps.txt.j2",
    compose_service_template: "caddy/compose-service.yml.j2",
    compose_next_steps_template: None,
    debian_dir: "etc/caddy",
    obtains_certificates: true,
    longest_certificate_name: Some(255 - "issue_cert_".len() - ".lock".len()),
    certificate_form: CertificateForm::Pair,
    certificate_store: Some(CertificateStore {
        // Its data folder: certificates, the ACME account and the rest of its state.
        path: "/data",
        every_mode: true,
    }),
    single_listen_address: false,
    serves_fixed_documents: true,
    whole_config: true,
    client_address_files: &[],
    compose_runtime: None,
    serves_files: true,
    compose_healthcheck: ComposeHealthcheck::CaddyAdmin,
};

pub const TRAEFIK: ProxyFacts = ProxyFacts {
    display_name: "Traefik",
    files: &[
        FileSpec {
            path: "traefik.yml",
            template: "traefik/traefik.yml.j2",
        },
        FileSpec {
            path: "dynamic/{host}.yml",
            template: "traefik/dynamic.yml.j2",
        },
    ],
    compose_files: &[],
    host_files: &[],
    next_steps_template: "traefik/next-steps.txt.j2",
    compose_service_template: "traefik/compose-service.yml.j2",
    compose_next_steps_template: None,
    debian_dir: "etc/traefik",
    obtains_certificates: true,
    longest_certificate_name: None,
    certificate_form: CertificateForm::Pair,
    // An entry point has one `address` (doc.traefik.io, "EntryPoints").
    certificate_store: Some(CertificateStore {
        // acme.json of the letsencrypt resolver.
        path: "/etc/traefik/acme",
        every_mode: false,
    }),
    single_listen_address: true,
    // No middleware answers with a fixed body: /.well-known/matrix/ goes to the homeserver.
    serves_fixed_documents: false,
    whole_config: false,
    // forwardedHeaders.trustedIPs keeps the X-Forwarded-For a trusted peer sent and
    // appends the peer (measured with Traefik 3.7: "203.0.113.66, 198.51.100.7,
    // 127.0.0.2"), and Synapse takes the leftmost entry, which the client wrote
    // (matrix-org/synapse#9471). No setting or built-in middleware replaces the chain with
    // one address, so a local plugin (Go, run by Traefik's Yaegi interpreter) sets the
    // request's remote address to the recovered one; Traefik's proxy then writes
    // X-Forwarded-For from it. Traefik reads local plugins from ./plugins-local below its
    // working directory (traefik/plugindemo README, "Local Mode").
    client_address_files: &[
        FileSpec {
            path: "plugins-local/src/mxproxy/clientaddress/clientaddress.go",
            template: "traefik/clientaddress.go.j2",
        },
        FileSpec {
            path: "plugins-local/src/mxproxy/clientaddress/go.mod",
            template: "traefik/go.mod.j2",
        },
        FileSpec {
            path: "plugins-local/src/mxproxy/clientaddress/.traefik.yml",
            template: "traefik/plugin.traefik.yml.j2",
        },
    ],
    compose_runtime: None,
    serves_files: false,
    compose_healthcheck: ComposeHealthcheck::TraefikPing,
};

pub const HAPROXY: ProxyFacts = ProxyFacts {
    display_name: "HAProxy",
    files: &[FileSpec {
        path: "haproxy.cfg",
        template: "haproxy/haproxy.cfg.j2",
    }],
    compose_files: &[],
    host_files: &[],
    next_steps_template: "haproxy/next-steps.txt.j2",
    compose_service_template: "haproxy/compose-service.yml.j2",
    compose_next_steps_template: Some("haproxy/compose-next-steps.txt.j2"),
    debian_dir: "etc/haproxy",
    obtains_certificates: false,
    // `crt` reads chain and key from one file.
    longest_certificate_name: None,
    certificate_form: CertificateForm::CombinedPem { dir: HAPROXY_CERTS },
    certificate_store: None,
    single_listen_address: false,
    serves_fixed_documents: true,
    whole_config: true,
    client_address_files: &[],
    // docker-library/haproxy docker-entrypoint.sh turns `haproxy …` into
    // `haproxy -W -db …`: master-worker mode, where SIGUSR2 to the master reloads
    // ("allows for reload via SIGUSR2"). `$$` is the shell that execs into that master
    // (a background subshell's `$$` is its parent's), so no PID is assumed.
    compose_runtime: Some(ComposeRuntime {
        foreground: "haproxy -W -db -f /usr/local/etc/haproxy/haproxy.cfg",
        reload: "kill -USR2 $$",
        challenge: Challenge::Standalone,
    }),
    serves_files: false,
    compose_healthcheck: ComposeHealthcheck::BashHttp,
};

pub fn facts(proxy: Proxy) -> &'static ProxyFacts {
    match proxy {
        Proxy::Nginx => &NGINX,
        Proxy::Apache => &APACHE,
        Proxy::Caddy => &CADDY,
        Proxy::Traefik => &TRAEFIK,
        Proxy::Haproxy => &HAPROXY,
    }
}
