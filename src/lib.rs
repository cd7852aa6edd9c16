//! mxproxy: reverse-proxy configs for a Matrix homeserver, from one validated setup.

pub mod check;
pub mod cli;
pub mod config;
pub mod error;
pub mod homeserver;
pub mod output;
pub mod plan;
pub mod render;
pub mod setup;
pub mod wizard;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, GenerateArgs};
use crate::error::Error;

/// Parses `args`, runs the command and prints any error once. The returned code is the
/// process's exit status: 0 done, 1 runtime failure, 2 usage error.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(err.exit_code() as u8);
        }
    };
    let result = match cli.command {
        Some(Command::Generate(args)) => generate(&args),
        Some(Command::Wizard(args)) => wizard::run(&args),
        // On a terminal the bare command is the way in for a first-time user; anywhere
        // else (a script, CI) it stays the usage error it always was.
        None if wizard::on_terminal() => wizard::run(&GenerateArgs::default()),
        Some(Command::Check(args)) => match check::run(&args) {
            Ok(code) => return code,
            Err(err) => Err(err),
        },
        None => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let _ = command.print_help();
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// Flags and file merged into one setup; everything is validated before anything is written.
pub fn setup_from(args: &GenerateArgs) -> Result<setup::Setup, Error> {
    let file = match &args.config {
        Some(path) => config::read_file(path)?,
        None => config::FileSetup::default(),
    };
    config::merge(args, file)
}

fn generate(args: &GenerateArgs) -> Result<(), Error> {
    let setup = setup_from(args)?;
    write_setup(
        &setup,
        &output::Options {
            force: args.force,
            dry_run: args.dry_run,
        },
    )
}

/// Plan, render, write and print the next steps: the one way from a setup to files, for
/// `generate` and the wizard alike.
pub(crate) fn write_setup(setup: &setup::Setup, options: &output::Options) -> Result<(), Error> {
    // Before anything is written, so a warning is seen even when writing fails.
    for warning in &setup.warnings {
        eprintln!("warning: {warning}");
    }
    let plan = plan::plan(setup);
    let files = render::render_all(&plan)?;
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let statuses = output::write_all(&setup.out, &files, options, &mut stdout)?;
    let summary = render::render_summary(&plan, &setup.out, &statuses, options.dry_run)?;
    let _ = stdout.write_all(summary.as_bytes());
    Ok(())
}
