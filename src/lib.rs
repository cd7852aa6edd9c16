//! mxproxy: reverse-proxy configs for a Matrix homeserver, from one validated setup.

pub mod check;
pub mod cli;
pub mod config;
pub mod defaults;
pub mod error;
pub mod homeserver;
pub mod manual;
pub mod matrix;
pub mod output;
pub mod plan;
pub mod render;
pub mod report;
pub mod setup;
pub mod wizard;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{
    Cli, Command, ExportArgs, Format, GenerateArgs, GenerateCommand, TemplatesCommand,
};
use crate::error::Error;
use crate::setup::Layout;

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
        Some(Command::Generate(args)) => generate(&args),
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
        Some(Command::Templates(TemplatesCommand::Export(args))) => export_templates(&args),
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

/// Flags and file merged into one setup; everything is validated before anything is written.
pub fn setup_from(args: &GenerateArgs) -> Result<setup::Setup, Error> {
    let file = match &args.config {
        Some(path) => config::read_file(path)?,
        None => config::FileSetup::default(),
    };
    config::merge(args, file)
}

fn generate(command: &GenerateCommand) -> Result<(), Error> {
    let (args, output_args) = (&command.setup, &command.output);
    let file = match &args.config {
        Some(path) => config::read_file(path)?,
        None => config::FileSetup::default(),
    };
    let layout = output_args.layout.or(file.layout).unwrap_or_default();
    let templates_dir = output_args.templates.clone().or(file.templates.clone());
    let setup = config::merge(args, file)?;
    check_output_place(&setup, layout, args.force || args.dry_run)?;
    let templates = match &templates_dir {
        Some(dir) => render::Templates::with_overrides(dir)?,
        None => render::Templates::builtin(),
    };
    let plan = plan::plan(&setup);
    let files = templates.render_files(&plan, layout)?;
    let sources: Vec<(&'static str, String)> = render::layout_for(&plan, layout)
        .into_iter()
        .map(|(_, template)| (template, templates.source_of(template)))
        .collect();
    let mut warnings = setup.warnings.clone();
    warnings.extend(output_warnings(&plan, layout, &sources));
    // Before anything is written, so a warning is seen even when writing fails.
    if output_args.format.unwrap_or_default() == Format::Human && !output_args.quiet {
        for warning in &warnings {
            let style = anstyle::AnsiColor::Yellow.on_default().bold();
            anstream::eprintln!("{style}warning:{style:#} {warning}");
        }
    }

    let mut diff = Vec::new();
    let statuses = output::write_all(
        &setup.out,
        &files,
        &output::Options {
            force: args.force,
            dry_run: args.dry_run,
        },
        &mut diff,
    )?;
    let summary = templates.summary(&plan, &setup.out, &statuses, args.dry_run, layout)?;
    let file_reports = report::file_reports(&setup.out, &files, &statuses, &sources);

    if output_args.verbose {
        for file in &file_reports {
            eprintln!(
                "{} <- {} sha256:{}",
                file.path,
                if file.template_source == render::BUILTIN {
                    format!("built-in {}", file.template)
                } else {
                    file.template_source.clone()
                },
                file.sha256
            );
        }
    }
    match output_args.format.unwrap_or_default() {
        Format::Human => {
            if !output_args.quiet {
                let mut stdout = anstream::stdout().lock();
                let _ = stdout.write_all(&diff);
                let _ = stdout.write_all(summary.text.as_bytes());
            }
        }
        // The JSON object is the output asked for, so `-q` does not hide it.
        Format::Json => {
            let report = report::Report {
                schema_version: report::SCHEMA_VERSION,
                mxproxy_version: env!("CARGO_PKG_VERSION"),
                server_name: plan.server_name.clone(),
                homeserver_host: plan.homeserver_host.clone(),
                out: setup.out.display().to_string(),
                layout: layout.name(),
                dry_run: args.dry_run,
                files: file_reports,
                next_steps: summary.steps,
                warnings,
                diff: args
                    .dry_run
                    .then(|| String::from_utf8_lossy(&diff).into_owned()),
            };
            let mut stdout = std::io::stdout().lock();
            let _ = serde_json::to_writer_pretty(&mut stdout, &report);
            let _ = stdout.write_all(b"\n");
        }
    }
    Ok(())
}

/// `--out /` writes into the running system (a dry run only reads it, so it may), and the
/// compose stack has no Debian place.
fn check_output_place(setup: &setup::Setup, layout: Layout, allow_root: bool) -> Result<(), Error> {
    if layout == Layout::Debian && setup.kubernetes.is_some() {
        return Err(Error::Conflict {
            message: "--layout debian places files for the host's own servers; Kubernetes \
                      manifests are applied with kubectl from one folder"
                .into(),
            example: "--kubernetes --layout folder".into(),
        });
    }
    if layout == Layout::Debian && setup.compose {
        return Err(Error::Conflict {
            message:
                "--layout debian places files for the host's own servers; the --compose stack \
                      keeps its files together in one folder"
                    .into(),
            example: "--compose --layout folder --out ./matrix-stack".into(),
        });
    }
    // `/`, `//`, `/etc/..`: whatever resolves to the root.
    let is_root = setup
        .out
        .canonicalize()
        .is_ok_and(|path| path.parent().is_none());
    if is_root && !allow_root {
        return Err(Error::Conflict {
            message: format!(
                "--out {} writes straight into the system's /etc and webroot; \
                 check the files under a staging prefix first, or add --force",
                setup.out.display()
            ),
            example: "--layout debian --out ./staging (then --out / --force)".into(),
        });
    }
    Ok(())
}

/// Things that are allowed but worth a second look; printed on stderr, and in the JSON.
fn output_warnings(
    plan: &plan::Plan,
    layout: Layout,
    sources: &[(&'static str, String)],
) -> Vec<String> {
    let mut warnings = Vec::new();
    if layout == Layout::Debian {
        for (proxy, file) in [
            ("caddy", "etc/caddy/Caddyfile"),
            ("haproxy", "etc/haproxy/haproxy.cfg"),
        ] {
            if plan.proxies.iter().any(|p| p == proxy) {
                warnings.push(format!(
                    "{file} is {proxy}'s whole configuration: it replaces Debian's default \
                     one and anything else in it"
                ));
            }
        }
    }
    let mut own: Vec<&str> = sources
        .iter()
        .filter(|(_, source)| source != render::BUILTIN)
        .map(|(template, _)| *template)
        .collect();
    own.dedup();
    if !own.is_empty() {
        warnings.push(format!(
            "rendered with your own templates ({}); the built-in ones are the ones checked by nginx -t, apache2 -t and caddy validate",
            own.join(", ")
        ));
    }
    warnings
}

/// `templates export DIR`: the built-in templates, written like generated files (atomic,
/// no clobber without `--force`).
fn export_templates(args: &ExportArgs) -> Result<(), Error> {
    let files: Vec<render::Rendered> = render::builtin_templates()
        .into_iter()
        .map(|(name, content)| render::Rendered {
            path: name.into(),
            content,
        })
        .collect();
    let statuses = output::write_all(
        &args.dir,
        &files,
        &output::Options {
            force: args.force,
            dry_run: false,
        },
        &mut std::io::sink(),
    )?;
    let mut stdout = anstream::stdout().lock();
    let _ = writeln!(stdout, "Wrote {}/:", args.dir.display());
    for status in statuses {
        let _ = writeln!(stdout, "  {:<10} {}", status.status, status.path);
    }
    let _ = writeln!(
        stdout,
        "\nEdit the ones to change and delete the rest: a template missing from the folder comes\n\
         from the built-in set. Then: mxproxy generate --templates {} ...",
        args.dir.display()
    );
    Ok(())
}

/// Plan, render, write and print the next steps with the built-in templates in the folder
/// layout: the wizard's way from a setup to files (it has no output flags).
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
