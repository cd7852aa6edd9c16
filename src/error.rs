use std::fmt;
use std::io;
use std::path::PathBuf;

/// Every failure mxproxy reports. Printed once, in `run()`; `exit_code` is the only
/// place that decides how the process ends.
#[derive(Debug)]
pub enum Error {
    /// A YAML key whose value was refused, or a file that is not valid YAML.
    Config {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    ConfigRead {
        path: PathBuf,
        source: io::Error,
    },
    /// A required value given neither as flag nor as key.
    Missing {
        flag: &'static str,
        key: &'static str,
        example: &'static str,
    },
    /// Values that are each valid but cannot be used together.
    Conflict {
        message: String,
        example: String,
    },
    /// Existing files with other content, left alone because `--force` was not given.
    WouldOverwrite {
        paths: Vec<PathBuf>,
    },
    Write {
        path: PathBuf,
        source: io::Error,
    },
    Render {
        template: String,
        message: String,
    },
    /// The wizard was started where nobody can answer: `stream` is redirected.
    NotATerminal {
        stream: &'static str,
        example: String,
    },
    /// Esc or Ctrl-C in the wizard.
    Cancelled,
    /// The wizard's terminal failed (closed, or reading a key failed).
    Terminal {
        source: io::Error,
    },
    /// A `check` flag whose value cannot be used (an unreadable --ca-file, say).
    CheckInput {
        flag: &'static str,
        value: String,
        reason: String,
    },
    /// The machinery itself failed (no async runtime).
    Runtime {
        message: String,
    },
    /// A file or folder below `--templates` that cannot be read.
    TemplateRead {
        path: PathBuf,
        source: io::Error,
    },
}

/// Also written by the wizard's SIGINT handler, which cannot format.
pub const CANCELLED: &str = "wizard cancelled; nothing was written";

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config { .. }
            | Error::Missing { .. }
            | Error::Conflict { .. }
            | Error::NotATerminal { .. }
            | Error::CheckInput { .. } => 2,
            // What a shell reports for a command ended by Ctrl-C (128 + SIGINT).
            Error::Cancelled => 130,
            Error::ConfigRead { .. }
            | Error::WouldOverwrite { .. }
            | Error::Write { .. }
            | Error::Render { .. }
            | Error::Terminal { .. }
            | Error::Runtime { .. } => 1,
            Error::TemplateRead { .. } => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config {
                path,
                line: Some(line),
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
            Error::Config {
                path,
                line: None,
                message,
            } => write!(f, "{}: {message}", path.display()),
            Error::ConfigRead { path, source } => {
                write!(f, "cannot read config file `{}`: {source}", path.display())
            }
            Error::Missing { flag, key, example } => write!(
                f,
                "{flag} is required (or `{key}` in the --config file), e.g. {flag} {example}"
            ),
            Error::Conflict { message, example } => write!(f, "{message}, e.g. {example}"),
            Error::WouldOverwrite { paths } => {
                writeln!(
                    f,
                    "refusing to overwrite {} existing file(s) whose content differs:",
                    paths.len()
                )?;
                for path in paths {
                    writeln!(f, "  {}", path.display())?;
                }
                write!(
                    f,
                    "nothing was written; see the changes with --dry-run, replace them with --force"
                )
            }
            Error::Write { path, source } => {
                write!(f, "cannot write `{}`: {source}", path.display())
            }
            Error::Render { template, message } => {
                write!(f, "template `{template}` failed to render: {message}")
            }
            Error::NotATerminal { stream, example } => write!(
                f,
                "`mxproxy wizard` asks its questions on a terminal, but {stream} is not one \
                 (redirected, as in CI or a provisioning script); give the setup as flags instead, e.g.\n  {example}"
            ),
            Error::Cancelled => f.write_str(CANCELLED),
            Error::Terminal { source } => write!(f, "the wizard's terminal failed: {source}"),
            Error::CheckInput {
                flag,
                value,
                reason,
            } => write!(f, "{flag} `{value}`: {reason}"),
            Error::Runtime { message } => f.write_str(message),
            Error::TemplateRead { path, source } => {
                write!(f, "--templates: cannot read `{}`: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for Error {}
