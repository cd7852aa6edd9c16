//! mxproxy: reverse-proxy configs for a Matrix homeserver, from one validated setup.

mod check;
pub mod cli;
pub mod config;
pub mod defaults;
pub mod error;
pub mod homeserver;
mod manual;
mod matrix;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod proxy;
pub mod render;
pub mod report;
pub mod setup;
mod template_files;
pub mod wizard;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, GenerateArgs, TemplatesCommand};

/// Parses `args`, runs the command and prints any error once. The returned code is the
/// process's exit status: 0 done, 1 runtime failure, 2 usage error.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            if let Some(note) = manual::env_source_note(&err, &args) {
                eprintln!("{note}");
            }
            return ExitCode::from(err.exit_code() as u8);
        }
    };
    let result = match cli.command {
        Some(Command::Generate(args)) => pipeline::generate(&args),
        Some(Command::Wizard(args)) => wizard::run(&args),
        // On a terminal the bare command is the way in for a first-time user; anywhere
        // else (a script, CI) it stays the usage error it always was.
        None if wizard::on_terminal() => wizard::run(&GenerateArgs::default()),
        Some(Command::Check(args)) => match check::run(&args) {
            Ok(code) => return code,
            Err(err) => Err(err),
        },
        Some(Command::Completions { shell }) => {
            manual::completions(shell, &mut std::io::stdout());
            Ok(())
        }
        Some(Command::Man { command }) => manual::man(command.as_deref(), &mut std::io::stdout()),
        Some(Command::Templates(TemplatesCommand::Export(args))) => {
            pipeline::export_templates(&args)
        }
        None => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let _ = command.print_help();
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Red only on a terminal and never with NO_COLOR: anstream strips the codes.
            let style = anstyle::AnsiColor::Red.on_default().bold();
            anstream::eprintln!("{style}error:{style:#} {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
