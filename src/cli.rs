use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::config::SetupLayer;
use crate::setup::Layout;

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

/// The inputs of `generate` and the wizard: the setup as flags (see `SetupLayer`), the
/// file to read the rest from, and how to write.
#[derive(Debug, Default, Clone, Args)]
pub struct GenerateArgs {
    /// Read the setup from a YAML file with the same keys as the flags [e.g. setup.yaml]
    #[arg(long, value_name = "FILE", env = "MXPROXY_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub layer: SetupLayer,

    /// Replace existing files whose content differs
    #[arg(long, env = "MXPROXY_FORCE", value_parser = BoolishValueParser::new())]
    pub force: bool,

    /// Print what would be written, as a diff against the files on disk, and write nothing
    #[arg(long, env = "MXPROXY_DRY_RUN", value_parser = BoolishValueParser::new())]
    pub dry_run: bool,
}

/// The flags are a layer of the setup: `config::merge(&args, file)`.
impl std::ops::Deref for GenerateArgs {
    type Target = SetupLayer;
    fn deref(&self) -> &SetupLayer {
        &self.layer
    }
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
