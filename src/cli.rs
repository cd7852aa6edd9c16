use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::setup::{
    ByteSize, Email, GatewayRef, HomeserverName, Host, IngressClass, KubeName, Layout,
    ListenAddress, Namespace, Port, Proxy, SafePath, ServerName, TlsMode, Upstream,
};

/// Reverse-proxy configs for a Matrix homeserver that work on the first try.
///
/// mxproxy turns a server name (the part after `:` in `@alice:example.com`) and a few
/// choices into nginx, Apache, Caddy, Traefik and HAProxy configs, the `.well-known/matrix`
/// delegation files and, if asked, a docker-compose stack or Kubernetes manifests.
#[derive(Debug, Parser)]
#[command(name = "mxproxy", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

// Parsed once per run: boxing `GenerateArgs` would save nothing worth the noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the proxy configs, well-known files and (optionally) a compose stack or Kubernetes manifests.
    #[command(
        after_help = "Examples:\n  mxproxy generate --server-name example.com\n  \
                      mxproxy generate --config setup.yaml --proxy caddy\n  \
                      mxproxy generate --server-name example.com --federation-port 8448 --tls files \\\n    \
                      --tls-cert /etc/ssl/matrix/fullchain.pem --tls-key /etc/ssl/matrix/privkey.pem\n\n\
                      Every flag has a YAML key of the same name with `_` for `-` (server_name: example.com)\n\
                      and an environment variable MXPROXY_<FLAG> (MXPROXY_SERVER_NAME=example.com).\n\
                      Flags override the environment, the environment overrides the file, the file\n\
                      overrides the defaults. On/off flags read 1/0, true/false, yes/no, on/off."
    )]
    Generate(GenerateCommand),

    /// Ask for the setup one question at a time, then write it, save it as YAML or quit.
    /// Flags and --config given here pre-fill the answers. Needs a terminal.
    #[command(
        after_help = "Without a terminal (CI, provisioning scripts) use `mxproxy generate` with flags; \
                      the wizard prints the exact command for the answers it was given."
    )]
    Wizard(GenerateArgs),
    /// Verify a live deployment as homeservers and clients see it, and name the fix.
    #[command(
        after_help = "Examples:\n  mxproxy check example.com\n  mxproxy check example.com --json\n  \
                      mxproxy check example.com --resolve matrix.example.com:443:127.0.10.1 --ca-file test-ca.pem\n\n\
                      Exit status: 0 every required check passed, 1 a check failed, 2 bad usage."
    )]
    Check(crate::check::CheckArgs),

    /// Print a completion script for SHELL to standard output.
    #[command(after_help = "Install, e.g.:\n  \
                      mxproxy completions bash > /etc/bash_completion.d/mxproxy\n  \
                      mxproxy completions zsh > /usr/local/share/zsh/site-functions/_mxproxy\n  \
                      mxproxy completions fish > ~/.config/fish/completions/mxproxy.fish")]
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },

    /// Print a man page (roff) to standard output: mxproxy(1), or mxproxy-COMMAND(1).
    #[command(after_help = "Install, e.g.:\n  \
                      mxproxy man > /usr/local/share/man/man1/mxproxy.1\n  \
                      mxproxy man generate > /usr/local/share/man/man1/mxproxy-generate.1")]
    Man {
        /// The subcommand to document [default: the top-level page]
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },

    /// Export the built-in templates, to adapt them and generate with `--templates DIR`.
    #[command(subcommand)]
    Templates(TemplatesCommand),
}

#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// Write every built-in template below DIR (the layout `generate --templates DIR` reads).
    #[command(after_help = "Example:\n  mxproxy templates export ./my-templates\n  \
                      $EDITOR ./my-templates/nginx/site.conf.j2    # delete the files you keep as they are\n  \
                      mxproxy generate --server-name example.com --templates ./my-templates")]
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Folder to write the templates to; created if missing
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Replace existing files whose content differs
    #[arg(long, env = "MXPROXY_FORCE", value_parser = BoolishValueParser::new())]
    pub force: bool,
}

/// How `generate` reports what it did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The summary and next steps as text
    #[default]
    Human,
    /// One JSON object (schema/generate-output.schema.json)
    Json,
}

/// The inputs of `generate`. Each field is `Option` so that `config::merge` can tell a
/// flag that was given from one that was not, and let the config file fill the gap.
#[derive(Debug, Default, Clone, Args)]
pub struct GenerateArgs {
    /// Read the setup from a YAML file with the same keys as the flags [e.g. setup.yaml]
    #[arg(long, value_name = "FILE", env = "MXPROXY_CONFIG")]
    pub config: Option<PathBuf>,

    /// The domain in your user ids: @alice:example.com -> example.com. Chosen once, forever [required]
    #[arg(long, value_name = "NAME", env = "MXPROXY_SERVER_NAME")]
    pub server_name: Option<ServerName>,

    /// Public host where the homeserver's APIs answer; may equal the server name [default: matrix.<server-name>]
    #[arg(long, value_name = "HOST", env = "MXPROXY_HOMESERVER_HOST")]
    pub homeserver_host: Option<Host>,

    /// Homeserver software: conduit, synapse, continuwuity, tuwunel or dendrite; decides the default upstream port, path prefixes and upload limit [default: conduit]
    #[arg(long, value_name = "NAME", env = "MXPROXY_HOMESERVER")]
    pub homeserver: Option<HomeserverName>,

    // The paths come from src/homeserver.rs, so the help cannot drift from what is forwarded.
    #[arg(
        long,
        env = "MXPROXY_EXPOSE_ADMIN",
        value_parser = BoolishValueParser::new(),
        help = format!(
            "Also forward the homeserver's admin API ({}) to the internet; prints a warning",
            crate::homeserver::admin_prefixes_described()
        )
    )]
    pub expose_admin: bool,

    /// Where the homeserver listens for the proxy [default: 127.0.0.1:<its port>, 6167 for Conduit, 8008 for the others; homeserver:<port> with --compose]
    #[arg(long, value_name = "HOST:PORT", env = "MXPROXY_UPSTREAM")]
    pub upstream: Option<Upstream>,

    /// Port other homeservers use to reach the homeserver host; published in /.well-known/matrix/server. Other than 443 adds a listener [default: 443]
    #[arg(long, value_name = "PORT", env = "MXPROXY_FEDERATION_PORT")]
    pub federation_port: Option<Port>,

    /// Turn federation off everywhere: no server well-known, no federation listener
    #[arg(long, env = "MXPROXY_NO_FEDERATION", value_parser = BoolishValueParser::new())]
    pub no_federation: bool,

    /// acme: certificates from Let's Encrypt (certbot paths for nginx/apache); files: --tls-cert/--tls-key; none: plain HTTP behind another TLS terminator [default: acme]
    #[arg(long, value_name = "MODE", env = "MXPROXY_TLS")]
    pub tls: Option<TlsMode>,

    /// Certificate chain (PEM) for every generated site, with --tls files [e.g. /etc/ssl/matrix/fullchain.pem]
    #[arg(long, value_name = "PATH", env = "MXPROXY_TLS_CERT")]
    pub tls_cert: Option<SafePath>,

    /// Private key (PEM) for --tls-cert, with --tls files [e.g. /etc/ssl/matrix/privkey.pem]
    #[arg(long, value_name = "PATH", env = "MXPROXY_TLS_KEY")]
    pub tls_key: Option<SafePath>,

    /// Contact address for the ACME account, with --tls acme [e.g. admin@example.com]
    #[arg(long, value_name = "EMAIL", env = "MXPROXY_ACME_EMAIL")]
    pub acme_email: Option<Email>,

    /// Largest request body (uploads): bytes, or K/M/G in binary units; every proxy and the homeserver enforce it [default: the homeserver's own: 20M Conduit and continuwuity, 50M Synapse, 24M tuwunel, 10M Dendrite]
    #[arg(long, value_name = "SIZE", env = "MXPROXY_MAX_UPLOAD")]
    pub max_upload: Option<ByteSize>,

    /// Directory the proxies serve ACME challenges and (Apache) the well-known files from [default: /var/www/mxproxy]
    #[arg(long, value_name = "PATH", env = "MXPROXY_WEBROOT")]
    pub webroot: Option<SafePath>,

    /// Listen only on these IP addresses; repeat or separate with commas [default: every address]
    #[arg(
        long,
        value_name = "IP",
        value_delimiter = ',',
        env = "MXPROXY_LISTEN_ADDRESS"
    )]
    pub listen_address: Vec<ListenAddress>,

    /// Proxies to write configs for; repeat or separate with commas (nginx, apache, caddy, traefik, haproxy) [default: nginx,apache,caddy,traefik]
    #[arg(
        long,
        value_name = "PROXY",
        value_delimiter = ',',
        env = "MXPROXY_PROXY"
    )]
    pub proxy: Vec<Proxy>,

    /// Also write docker-compose.yml: the homeserver plus the first --proxy
    #[arg(long, env = "MXPROXY_COMPOSE", value_parser = BoolishValueParser::new())]
    pub compose: bool,

    /// Write Kubernetes manifests (DIR/kubernetes/, for `kubectl apply -k`) instead of proxy configs; needs --ingress-class or --gateway
    #[arg(long, env = "MXPROXY_KUBERNETES", value_parser = BoolishValueParser::new())]
    pub kubernetes: bool,

    /// With --kubernetes: the cluster's ingress controller, nginx (ingress-nginx) or traefik
    #[arg(long, value_name = "CLASS", env = "MXPROXY_INGRESS_CLASS")]
    pub ingress_class: Option<IngressClass>,

    /// With --kubernetes: attach Gateway API HTTPRoutes to this existing Gateway instead of writing an Ingress [e.g. gateway-system/public]
    #[arg(long, value_name = "[NAMESPACE/]NAME", env = "MXPROXY_GATEWAY")]
    pub gateway: Option<GatewayRef>,

    /// With --kubernetes and --tls acme: the cert-manager ClusterIssuer that signs the Ingress certificate [e.g. letsencrypt]
    #[arg(long, value_name = "NAME", env = "MXPROXY_CLUSTER_ISSUER")]
    pub cluster_issuer: Option<KubeName>,

    /// With --kubernetes: the namespace of every object [default: matrix]
    #[arg(long, value_name = "NAME", env = "MXPROXY_NAMESPACE")]
    pub namespace: Option<Namespace>,

    /// Output folder [default: ./mxproxy-out]
    #[arg(long, value_name = "DIR", env = "MXPROXY_OUT")]
    pub out: Option<PathBuf>,

    /// Replace existing files whose content differs
    #[arg(long, env = "MXPROXY_FORCE", value_parser = BoolishValueParser::new())]
    pub force: bool,

    /// Print what would be written, as a diff against the files on disk, and write nothing
    #[arg(long, env = "MXPROXY_DRY_RUN", value_parser = BoolishValueParser::new())]
    pub dry_run: bool,
}

/// `generate`: the setup, and how to write and report it. The wizard takes only the setup.
#[derive(Debug, Default, Args)]
pub struct GenerateCommand {
    #[command(flatten)]
    pub setup: GenerateArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where and how `generate` writes and reports; none of it changes a file's content.
#[derive(Debug, Default, Args)]
pub struct OutputArgs {
    /// Where the files go below --out; debian is install-ready (with --out /: in place) [default: folder]
    #[arg(long, value_name = "LAYOUT", env = "MXPROXY_LAYOUT")]
    pub layout: Option<Layout>,

    /// Read templates from DIR first; a file missing there comes from the built-in set (see `mxproxy templates export`)
    #[arg(long, value_name = "DIR", env = "MXPROXY_TEMPLATES")]
    pub templates: Option<PathBuf>,

    /// human: the summary as text; json: one JSON object for scripts [default: human]
    #[arg(long, value_name = "FORMAT", env = "MXPROXY_FORMAT")]
    pub format: Option<Format>,

    /// Print only errors
    #[arg(short, long, env = "MXPROXY_QUIET", value_parser = BoolishValueParser::new(), conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also say which template each file came from, and its sha256 (on standard error)
    #[arg(short, long, env = "MXPROXY_VERBOSE", value_parser = BoolishValueParser::new())]
    pub verbose: bool,
}
