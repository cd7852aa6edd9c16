use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::setup::{
    ByteSize, Email, GatewayRef, HomeserverName, Host, IngressClass, KubeName, ListenAddress,
    Namespace, Port, Proxy, SafePath, ServerName, TlsMode, Upstream,
};

/// Reverse-proxy configs for a Matrix homeserver that work on the first try.
///
/// mxproxy turns a server name (the part after `:` in `@alice:example.com`) and a few
/// choices into nginx, Apache, Caddy and Traefik configs, the `.well-known/matrix`
/// delegation files and, if asked, a docker-compose stack.
#[derive(Debug, Parser)]
#[command(name = "mxproxy", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the proxy configs, well-known files and (optionally) a compose stack.
    #[command(
        after_help = "Examples:\n  mxproxy generate --server-name example.com\n  \
                      mxproxy generate --config setup.yaml --proxy caddy\n  \
                      mxproxy generate --server-name example.com --federation-port 8448 --tls files \\\n    \
                      --tls-cert /etc/ssl/matrix/fullchain.pem --tls-key /etc/ssl/matrix/privkey.pem\n\n\
                      Every flag has a YAML key of the same name with `_` for `-` (server_name: example.com).\n\
                      Flags override the file; the file overrides the defaults."
    )]
    Generate(GenerateArgs),
    /// Ask for the setup one question at a time, then write it, save it as YAML or quit.
    /// Flags and --config given here pre-fill the answers. Needs a terminal.
    #[command(
        after_help = "Without a terminal (CI, provisioning scripts) use `mxproxy generate` with flags;
                      the wizard prints the exact command for the answers it was given."
    )]
    Wizard(GenerateArgs),
}

/// The inputs of `generate`. Each field is `Option` so that `setup::merge` can tell a
/// flag that was given from one that was not, and let the config file fill the gap.
#[derive(Debug, Default, Clone, Args)]
pub struct GenerateArgs {
    /// Read the setup from a YAML file with the same keys as the flags [e.g. setup.yaml]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The domain in your user ids: @alice:example.com -> example.com. Chosen once, forever [required]
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<ServerName>,

    /// Public host where the homeserver's APIs answer; may equal the server name [default: matrix.<server-name>]
    #[arg(long, value_name = "HOST")]
    pub homeserver_host: Option<Host>,

    /// Homeserver software: conduit, synapse, continuwuity, tuwunel or dendrite; decides the default upstream port, path prefixes and upload limit [default: conduit]
    #[arg(long, value_name = "NAME")]
    pub homeserver: Option<HomeserverName>,

    /// Also forward the homeserver's admin API (Synapse /_synapse/admin/, Dendrite /_dendrite/, tuwunel /_synapse/admin/) to the internet; prints a warning
    #[arg(long)]
    pub expose_admin: bool,

    /// Where the homeserver listens for the proxy [default: 127.0.0.1:<its port>, 6167 for Conduit, 8008 for the others; homeserver:<port> with --compose]
    #[arg(long, value_name = "HOST:PORT")]
    pub upstream: Option<Upstream>,

    /// Port other homeservers use to reach the homeserver host; published in /.well-known/matrix/server. Other than 443 adds a listener [default: 443]
    #[arg(long, value_name = "PORT")]
    pub federation_port: Option<Port>,

    /// Turn federation off everywhere: no server well-known, no federation listener
    #[arg(long)]
    pub no_federation: bool,

    /// acme: certificates from Let's Encrypt (certbot paths for nginx/apache); files: --tls-cert/--tls-key; none: plain HTTP behind another TLS terminator [default: acme]
    #[arg(long, value_name = "MODE")]
    pub tls: Option<TlsMode>,

    /// Certificate chain (PEM) for every generated site, with --tls files [e.g. /etc/ssl/matrix/fullchain.pem]
    #[arg(long, value_name = "PATH")]
    pub tls_cert: Option<SafePath>,

    /// Private key (PEM) for --tls-cert, with --tls files [e.g. /etc/ssl/matrix/privkey.pem]
    #[arg(long, value_name = "PATH")]
    pub tls_key: Option<SafePath>,

    /// Contact address for the ACME account, with --tls acme [e.g. admin@example.com]
    #[arg(long, value_name = "EMAIL")]
    pub acme_email: Option<Email>,

    /// Largest request body (uploads): bytes, or K/M/G in binary units; every proxy and the homeserver enforce it [default: the homeserver's own: 20M Conduit and continuwuity, 50M Synapse, 24M tuwunel, 10M Dendrite]
    #[arg(long, value_name = "SIZE")]
    pub max_upload: Option<ByteSize>,

    /// Directory the proxies serve ACME challenges and (Apache) the well-known files from [default: /var/www/mxproxy]
    #[arg(long, value_name = "PATH")]
    pub webroot: Option<SafePath>,

    /// Listen only on these IP addresses; repeat or separate with commas [default: every address]
    #[arg(long, value_name = "IP", value_delimiter = ',')]
    pub listen_address: Vec<ListenAddress>,

    /// Proxies to write configs for; repeat or separate with commas (nginx, apache, caddy, traefik, haproxy) [default: nginx,apache,caddy,traefik]
    #[arg(long, value_name = "PROXY", value_delimiter = ',')]
    pub proxy: Vec<Proxy>,

    /// Also write docker-compose.yml: the homeserver plus the first --proxy
    #[arg(long)]
    pub compose: bool,

    /// Write Kubernetes manifests (DIR/kubernetes/, for `kubectl apply -k`) instead of proxy configs; needs --ingress-class or --gateway
    #[arg(long)]
    pub kubernetes: bool,

    /// With --kubernetes: the cluster's ingress controller, nginx (ingress-nginx) or traefik
    #[arg(long, value_name = "CLASS")]
    pub ingress_class: Option<IngressClass>,

    /// With --kubernetes: attach Gateway API HTTPRoutes to this existing Gateway instead of writing an Ingress [e.g. gateway-system/public]
    #[arg(long, value_name = "[NAMESPACE/]NAME")]
    pub gateway: Option<GatewayRef>,

    /// With --kubernetes and --tls acme: the cert-manager ClusterIssuer that signs the Ingress certificate [e.g. letsencrypt]
    #[arg(long, value_name = "NAME")]
    pub cluster_issuer: Option<KubeName>,

    /// With --kubernetes: the namespace of every object [default: matrix]
    #[arg(long, value_name = "NAME")]
    pub namespace: Option<Namespace>,

    /// Output folder [default: ./mxproxy-out]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Replace existing files whose content differs
    #[arg(long)]
    pub force: bool,

    /// Print what would be written, as a diff against the files on disk, and write nothing
    #[arg(long)]
    pub dry_run: bool,
}
