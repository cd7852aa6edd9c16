//! Shell completions and man pages, generated from the same clap definition as `--help`, so
//! they can never list a flag that does not exist.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;

pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "mxproxy", out);
}

/// `mxproxy man` is mxproxy(1); `mxproxy man generate` is mxproxy-generate(1), as git
/// names its pages, with the subcommand's own flags and their environment variables.
pub fn man(subcommand: Option<&str>, out: &mut dyn Write) -> Result<(), Error> {
    let mut command = Cli::command();
    // Fills in the `mxproxy generate` usage line of each subcommand.
    command.build();
    let source = format!("mxproxy {}", env!("CARGO_PKG_VERSION"));
    let page = match subcommand {
        None => clap_mangen::Man::new(command),
        Some(name) => {
            let Some(sub) = command.find_subcommand(name) else {
                let names: Vec<&str> = command
                    .get_subcommands()
                    .map(|c| c.get_name())
                    .filter(|n| *n != "help")
                    .collect();
                return Err(Error::NoManPage {
                    name: name.to_string(),
                    pages: names.iter().map(ToString::to_string).collect(),
                });
            };
            clap_mangen::Man::new(sub.clone()).title(format!("mxproxy-{name}"))
        }
    };
    // No date: the page is the same for the same version, byte for byte.
    let page = page.source(source).manual("mxproxy manual");
    match page.render(out) {
        // `mxproxy man | head` is fine.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result.map_err(|source| Error::Write {
            path: "<stdout>".into(),
            source,
        }),
    }
}

/// A refused value that came from an `MXPROXY_*` variable rather than the command line:
/// clap names the flag, so say where the value really was.
pub fn env_source_note(err: &clap::Error, args: &[std::ffi::OsString]) -> Option<String> {
    let clap::error::ContextValue::String(invalid) =
        err.get(clap::error::ContextKind::InvalidArg)?
    else {
        return None;
    };
    let long = invalid.split_whitespace().next()?.strip_prefix("--")?;
    let command = Cli::command();
    let arg = command
        .get_subcommands()
        .flat_map(|sub| sub.get_arguments())
        .find(|arg| arg.get_long() == Some(long))?;
    let env = arg.get_env()?;
    let value = std::env::var_os(env)?;
    let on_command_line = args.iter().any(|a| {
        a.to_str()
            .is_some_and(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")))
    });
    (!on_command_line).then(|| {
        format!(
            "note: the value came from the environment: {}={}; unset it or fix it, e.g. unset {}",
            env.to_string_lossy(),
            value.to_string_lossy(),
            env.to_string_lossy()
        )
    })
}
