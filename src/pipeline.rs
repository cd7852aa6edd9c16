//! The one way from inputs to files, for `generate` and the wizard alike: setup → plan →
//! rendered files → written files → the report of what happened.

use std::io::Write;
use std::path::Path;

use crate::cli::{ExportArgs, Format, GenerateArgs, GenerateCommand};
use crate::config;
use crate::error::Error;
use crate::output::{self, FileStatus, Rendered};
use crate::plan::{self, Plan};
use crate::proxy;
use crate::render::{self, Summary, Templates};
use crate::report;
use crate::setup::{Layout, Proxy, Setup};

/// Flags and file merged into one setup; everything is validated before anything is written.
pub fn setup_from(args: &GenerateArgs) -> Result<Setup, Error> {
    let file = match &args.config {
        Some(path) => config::read_file(path)?,
        None => config::SetupLayer::default(),
    };
    config::merge(args, file)
}

/// A setup's plan and files, rendered but not written.
pub struct Rendering {
    pub plan: Plan,
    pub files: Vec<Rendered>,
    /// For each file, its template and where that template's text came from.
    pub sources: Vec<(&'static str, String)>,
}

/// Plans `setup` and renders every file of `layout` with `templates`.
pub fn render(setup: &Setup, templates: &Templates, layout: Layout) -> Result<Rendering, Error> {
    let plan = plan::plan(setup);
    let files = templates.render_files(&plan, layout)?;
    let sources = render::layout_for(&plan, layout)
        .into_iter()
        .map(|(_, template)| (template, templates.source_of(template)))
        .collect();
    Ok(Rendering {
        plan,
        files,
        sources,
    })
}

/// How the files are written and reported; none of it changes a file's content.
pub struct Delivery<'a> {
    pub layout: Layout,
    pub templates: &'a Templates,
    pub write: output::Options,
    pub format: Format,
    pub quiet: bool,
    pub verbose: bool,
}

pub(crate) fn generate(command: &GenerateCommand) -> Result<(), Error> {
    let (args, output_args) = (&command.setup, &command.output);
    let file = match &args.config {
        Some(path) => config::read_file(path)?,
        None => config::SetupLayer::default(),
    };
    let layout = output_args.layout.or(file.layout).unwrap_or_default();
    let templates_dir = output_args.templates.clone().or(file.templates.clone());
    let setup = config::merge(args, file)?;
    check_output_place(&setup, layout, args.force || args.dry_run)?;
    let templates = match &templates_dir {
        Some(dir) => Templates::with_overrides(dir)?,
        None => Templates::builtin(),
    };
    deliver(
        &setup,
        &Delivery {
            layout,
            templates: &templates,
            write: output::Options {
                force: args.force,
                dry_run: args.dry_run,
            },
            format: output_args.format.unwrap_or_default(),
            quiet: output_args.quiet,
            verbose: output_args.verbose,
        },
    )
}

/// The wizard's way from a setup to files: the built-in templates in the folder layout,
/// reported as text (it has no output flags).
pub(crate) fn write_setup(setup: &Setup, options: output::Options) -> Result<(), Error> {
    deliver(
        setup,
        &Delivery {
            layout: Layout::Folder,
            templates: &Templates::builtin(),
            write: options,
            format: Format::Human,
            quiet: false,
            verbose: false,
        },
    )
}

/// Renders, warns, writes and reports `setup`.
fn deliver(setup: &Setup, delivery: &Delivery) -> Result<(), Error> {
    let rendering = render(setup, delivery.templates, delivery.layout)?;
    let mut warnings = setup.warnings.clone();
    warnings.extend(output_warnings(
        &rendering.plan,
        delivery.layout,
        &rendering.sources,
    ));
    // Before anything is written, so a warning is seen even when writing fails.
    if delivery.format == Format::Human && !delivery.quiet {
        print_warnings(&warnings);
    }

    let mut diff = Vec::new();
    let statuses = output::write_all(&setup.out, &rendering.files, &delivery.write, &mut diff)?;
    let summary = delivery.templates.summary(
        &rendering.plan,
        &setup.out,
        &statuses,
        delivery.write.dry_run,
        delivery.layout,
    )?;
    let file_reports =
        report::file_reports(&setup.out, &rendering.files, &statuses, &rendering.sources);
    if delivery.verbose {
        print_verbose(&file_reports);
    }
    match delivery.format {
        Format::Human => {
            if !delivery.quiet {
                let mut stdout = anstream::stdout().lock();
                let _ = stdout.write_all(&diff);
                let _ = stdout.write_all(summary.text.as_bytes());
            }
        }
        // The JSON object is the output asked for, so `-q` does not hide it.
        Format::Json => print_json(
            setup,
            delivery,
            &rendering.plan,
            file_reports,
            summary,
            warnings,
            &diff,
        ),
    }
    Ok(())
}

fn print_warnings(warnings: &[String]) {
    let style = anstyle::AnsiColor::Yellow.on_default().bold();
    for warning in warnings {
        anstream::eprintln!("{style}warning:{style:#} {warning}");
    }
}

fn print_verbose(file_reports: &[report::FileReport]) {
    for file in file_reports {
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

fn print_json(
    setup: &Setup,
    delivery: &Delivery,
    plan: &Plan,
    files: Vec<report::FileReport>,
    summary: Summary,
    warnings: Vec<String>,
    diff: &[u8],
) {
    let dry_run = delivery.write.dry_run;
    let report = report::Report {
        schema_version: report::SCHEMA_VERSION,
        mxproxy_version: env!("CARGO_PKG_VERSION"),
        server_name: plan.server_name.clone(),
        homeserver_host: plan.homeserver_host.clone(),
        out: setup.out.display().to_string(),
        layout: delivery.layout.name(),
        dry_run,
        files,
        next_steps: summary.steps,
        warnings,
        diff: dry_run.then(|| String::from_utf8_lossy(diff).into_owned()),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut stdout, &report);
    let _ = stdout.write_all(b"\n");
}

/// `--out /` writes into the running system (a dry run only reads it, so it may), and the
/// compose stack has no Debian place.
fn check_output_place(setup: &Setup, layout: Layout, allow_root: bool) -> Result<(), Error> {
    if layout == Layout::Debian && setup.kubernetes.is_some() {
        return Err(Error::DebianLayoutRefuses {
            what: "Kubernetes manifests",
            why: "are applied with kubectl from one folder",
            example: "--kubernetes --layout folder",
        });
    }
    if layout == Layout::Debian && setup.compose {
        return Err(Error::DebianLayoutRefuses {
            what: "the --compose stack",
            why: "keeps its files together in one folder",
            example: "--compose --layout folder --out ./matrix-stack",
        });
    }
    // `/`, `//`, `/etc/..`: whatever resolves to the root.
    let is_root = setup
        .out
        .canonicalize()
        .is_ok_and(|path| path.parent().is_none());
    if is_root && !allow_root {
        return Err(Error::OutIsRoot {
            out: setup.out.clone(),
        });
    }
    Ok(())
}

/// Things that are allowed but worth a second look; printed on stderr, and in the JSON.
fn output_warnings(plan: &Plan, layout: Layout, sources: &[(&'static str, String)]) -> Vec<String> {
    let mut warnings = Vec::new();
    if layout == Layout::Debian {
        // In the one order of Proxy::ALL, whatever order --proxy named them in.
        for &proxy in Proxy::ALL.iter().filter(|p| plan.proxies.contains(p)) {
            let facts = proxy::facts(proxy);
            if !facts.whole_config {
                continue;
            }
            for file in facts.files {
                warnings.push(format!(
                    "{}/{} is {proxy}'s whole configuration: it replaces Debian's default \
                     one and anything else in it",
                    facts.debian_dir,
                    file.path_for(&plan.homeserver_host)
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
pub(crate) fn export_templates(args: &ExportArgs) -> Result<(), Error> {
    let files: Vec<Rendered> = render::builtin_templates()
        .into_iter()
        .map(|(name, content)| Rendered {
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

/// What each file's change would be if `files` were written below `out` now.
pub fn preview(out: &Path, files: &[Rendered]) -> Result<Vec<FileStatus>, Error> {
    output::write_all(
        out,
        files,
        &output::Options {
            force: false,
            dry_run: true,
        },
        &mut std::io::sink(),
    )
}
