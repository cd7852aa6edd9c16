use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::error::Error;
use crate::output::{FileStatus, Rendered};
use crate::plan::{Middleware, Plan, Route, SynapseWorker};
use crate::proxy;
use crate::setup::Layout;
use crate::template_files;

/// The built-in templates by name (`nginx/site.conf.j2`), sorted by name: build.rs embeds
/// `templates/`.
static BUILTIN_TEMPLATES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/templates.rs"));

fn builtin_source(name: &str) -> Option<&'static str> {
    BUILTIN_TEMPLATES
        .binary_search_by_key(&name, |(n, _)| n)
        .ok()
        .map(|i| BUILTIN_TEMPLATES[i].1)
}

/// The built-in templates, as `generate` uses them without `--templates`. Each is compiled
/// when first rendered, so a run pays only for the templates its setup needs (compiling
/// all of them cost about a quarter of a whole `generate` process; benches/README.md).
fn make_env() -> Environment<'static> {
    let mut env = base_env();
    env.set_loader(|name| Ok(builtin_source(name)));
    env
}

fn base_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    // `.yml.j2` would otherwise get JSON escaping; JSON is asked for with `| tojson`.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.add_filter("paint", paint);
    env
}

/// `{{ text | paint("created") }}`: colours a word of the summary. The codes are always
/// written; the terminal writer (anstream) strips them when stdout is no terminal or
/// NO_COLOR is set, so the text is the same either way.
fn paint(text: String, style: String) -> String {
    use anstyle::{AnsiColor, Effects, Style};
    let style = match style.as_str() {
        "created" => AnsiColor::Green.on_default(),
        "updated" => AnsiColor::Yellow.on_default(),
        "unchanged" => Style::new().effects(Effects::DIMMED),
        _ => return text,
    };
    format!("{style}{text}{style:#}")
}

/// The built-in templates, by name (`nginx/site.conf.j2`), in name order.
pub fn builtin_templates() -> Vec<(String, String)> {
    BUILTIN_TEMPLATES
        .iter()
        .map(|(name, source)| (name.to_string(), source.to_string()))
        .collect()
}

/// The source of a template that was not replaced with `--templates`.
pub const BUILTIN: &str = "built-in";

/// The templates `generate` renders with: the built-in set, each one replaced by the file of
/// the same name in the user's `--templates` folder if there is one.
pub struct Templates {
    env: Environment<'static>,
    /// Template name → the user's file it was read from.
    overrides: BTreeMap<String, PathBuf>,
}

impl Templates {
    pub fn builtin() -> Templates {
        Templates {
            env: make_env(),
            overrides: BTreeMap::new(),
        }
    }

    /// Reads every `*.j2` below `dir`. A file that names no built-in template is refused:
    /// a typo (`ngnix/site.conf.j2`) would otherwise be ignored without a word.
    pub fn with_overrides(dir: &Path) -> Result<Templates, Error> {
        let files = template_files::collect(dir)
            .map_err(|(path, source)| Error::TemplateRead { path, source })?;
        let mut templates = Templates::builtin();
        for (name, path) in files {
            if builtin_source(&name).is_none() {
                return Err(Error::UnknownTemplate {
                    dir: dir.to_path_buf(),
                    path,
                    name,
                });
            }
            let source = std::fs::read_to_string(&path).map_err(|source| Error::TemplateRead {
                path: path.clone(),
                source,
            })?;
            templates
                .env
                .add_template_owned(name.clone(), source)
                .map_err(|err| render_error(&templates.overrides_with(&name, &path), &name, err))?;
            templates.overrides.insert(name, path);
        }
        Ok(templates)
    }

    fn overrides_with(&self, name: &str, path: &Path) -> BTreeMap<String, PathBuf> {
        let mut overrides = self.overrides.clone();
        overrides.insert(name.to_string(), path.to_path_buf());
        overrides
    }

    /// Where a template's text came from: the user's file, or `built-in`.
    pub fn source_of(&self, name: &str) -> String {
        match self.overrides.get(name) {
            Some(path) => path.display().to_string(),
            None => BUILTIN.to_string(),
        }
    }

    pub fn render(&self, template: &str, context: impl Serialize) -> Result<String, Error> {
        self.env
            .get_template(template)
            .and_then(|t| t.render(Serde(context)))
            .map_err(|err| render_error(&self.overrides, template, err))
    }

    /// Every file of `layout(plan, layout)`, rendered.
    pub fn render_files(&self, plan: &Plan, layout: Layout) -> Result<Vec<Rendered>, Error> {
        layout_for(plan, layout)
            .into_iter()
            .map(|(path, template)| {
                Ok(Rendered {
                    content: self.render(template, FileContext::new(plan, &path))?,
                    path,
                })
            })
            .collect()
    }
}

/// Names the file and line the error is in: the user's file if it came from `--templates`,
/// else the built-in template.
fn render_error(
    overrides: &BTreeMap<String, PathBuf>,
    template: &str,
    err: minijinja::Error,
) -> Error {
    let name = err.name().unwrap_or(template).to_string();
    let file = match overrides.get(&name) {
        Some(path) => path.display().to_string(),
        None => name.clone(),
    };
    Error::Render {
        template: match err.line() {
            Some(line) => format!("{file}:{line}"),
            None => file,
        },
        message: {
            let mut message = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            message
        },
    }
}

/// The plan's files at the paths the chosen layout puts them, each with its template.
pub fn layout_for(plan: &Plan, layout: Layout) -> Vec<(PathBuf, &'static str)> {
    plan.files
        .iter()
        .map(|file| {
            let path = match layout {
                Layout::Folder => &file.path,
                Layout::Debian => &file.debian_path,
            };
            (PathBuf::from(path), file.template)
        })
        .collect()
}

/// What a template sees: the plan, and for a file made once per route or middleware
/// (Kubernetes) the one it is made for.
#[derive(Serialize)]
struct FileContext<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    route: Option<&'a Route>,
    middleware: Option<&'a Middleware>,
    /// A Synapse worker's config file: the worker it is for.
    worker: Option<&'a SynapseWorker>,
}

impl<'a> FileContext<'a> {
    fn new(plan: &'a Plan, path: &Path) -> FileContext<'a> {
        let file = path.file_name().and_then(|name| name.to_str());
        let kubernetes = plan.kubernetes.as_ref();
        FileContext {
            plan,
            route: kubernetes.and_then(|k| k.routes.iter().find(|r| Some(r.file.as_str()) == file)),
            middleware: kubernetes
                .and_then(|k| k.middlewares.iter().find(|m| Some(m.file.as_str()) == file)),
            worker: plan.workers.as_ref().and_then(|w| {
                let in_worker_dir = path.parent().is_some_and(|dir| dir.ends_with("workers"));
                w.synapse.processes.iter().find(|p| {
                    in_worker_dir && file.is_some_and(|f| f.strip_suffix(".yaml") == Some(&p.name))
                })
            }),
        }
    }
}

#[derive(Serialize)]
struct SummaryContext<'a> {
    plan: &'a Plan,
    out: String,
    files: &'a [FileStatus],
    dry_run: bool,
    /// `folder` or `debian`.
    layout: &'a str,
    /// `out` without a trailing `/`, so `{{ root }}/etc/nginx` is `/etc/nginx` for `--out /`.
    root: String,
    /// The files were written where the servers read them (`--layout debian --out /`), so
    /// nothing needs copying.
    in_place: bool,
    /// The files are not yet where the servers read them: the steps copy them there.
    copy: bool,
    /// Each written file by its template's name (`nginx/site.conf.j2`), as the steps name it.
    written: BTreeMap<&'static str, WrittenFile>,
}

/// A generated file as the next steps name it.
#[derive(Serialize)]
struct WrittenFile {
    /// Where it was written: `<out>/nginx/<host>.conf`, `<out>/etc/nginx/sites-available/<host>.conf`.
    path: String,
    /// The folder of `path`.
    dir: String,
    /// It replaces the package's whole configuration (Caddy, HAProxy in the Debian layout),
    /// which the step's heading says.
    replaces_package_config: bool,
}

/// Every planned file at its place in `layout`, below `out` as the summary writes it.
fn written_files(plan: &Plan, out: &str, layout: Layout) -> BTreeMap<&'static str, WrittenFile> {
    let whole_configs: Vec<&str> = plan
        .proxies
        .iter()
        .map(|&proxy| proxy::facts(proxy))
        .filter(|facts| facts.whole_config)
        .flat_map(|facts| facts.files.iter().map(|file| file.template))
        .collect();
    plan.files
        .iter()
        .map(|file| {
            // The folder layout's paths follow `--out` as given (`out//nginx` for `out/`),
            // the Debian layout's the root without its trailing `/`.
            let path = match layout {
                Layout::Folder => format!("{out}/{}", file.path),
                Layout::Debian => format!("{}/{}", out.trim_end_matches('/'), file.debian_path),
            };
            let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir).to_string();
            let written = WrittenFile {
                path,
                dir,
                replaces_package_config: layout == Layout::Debian
                    && whole_configs.contains(&file.template),
            };
            (file.template, written)
        })
        .collect()
}

/// The summary as printed, and its next steps as data for `--format json`.
#[derive(Debug)]
pub struct Summary {
    pub text: String,
    pub steps: Vec<Step>,
}

/// One next step: a heading and what to do, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Stable for scripts: `dns`, `firewall`, `homeserver`, `stack`, a proxy name, `check`.
    pub id: String,
    pub title: String,
    pub items: Vec<StepItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepItem {
    pub kind: StepKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// A shell command to run as it is.
    Command,
    /// Text for a person.
    Note,
}

/// The summary templates mark their structure for `--format json` with two things a reader
/// never sees: a line `@step <id>` starts a step (its next line is the title), and `$ `
/// before a command marks it as one. Both are removed from the printed text.
fn parse_summary(raw: &str) -> Summary {
    let mut text = String::with_capacity(raw.len());
    let mut steps: Vec<Step> = Vec::new();
    let mut wants_title = false;
    let mut continues = false;
    for line in raw.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(id) = trimmed.strip_prefix("@step ") {
            steps.push(Step {
                id: id.trim().to_string(),
                title: String::new(),
                items: Vec::new(),
            });
            wants_title = true;
            continues = false;
            continue;
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        let (shown, command) = match line.trim_start().strip_prefix("$ ") {
            Some(rest) => (format!("{indent}{rest}"), Some(rest.trim_end())),
            None => (line.to_string(), None),
        };
        text.push_str(&shown);
        let plain = anstream::adapter::strip_str(trimmed).to_string();
        let Some(step) = steps.last_mut() else {
            continue;
        };
        if plain.is_empty() {
            continues = false;
            continue;
        }
        if wants_title {
            step.title = plain;
            wants_title = false;
            continue;
        }
        if continues && let Some(last) = step.items.last_mut() {
            // A command continued with `\` is one command for a script.
            last.text.push(' ');
            last.text.push_str(plain.trim_end_matches('\\').trim());
            continues = plain.ends_with('\\');
            continue;
        }
        match command {
            Some(command) => {
                let command = anstream::adapter::strip_str(command).to_string();
                continues = command.ends_with('\\');
                step.items.push(StepItem {
                    kind: StepKind::Command,
                    text: command.trim_end_matches('\\').trim().to_string(),
                });
            }
            None => step.items.push(StepItem {
                kind: StepKind::Note,
                text: plain,
            }),
        }
    }
    Summary { text, steps }
}

impl Templates {
    pub fn summary(
        &self,
        plan: &Plan,
        out: &Path,
        files: &[FileStatus],
        dry_run: bool,
        layout: Layout,
    ) -> Result<Summary, Error> {
        let out_text = out.display().to_string();
        let root = out_text.trim_end_matches('/').to_string();
        let in_place = layout == Layout::Debian && root.is_empty();
        let raw = self.render(
            "summary.txt.j2",
            SummaryContext {
                plan,
                in_place,
                copy: !in_place,
                written: written_files(plan, &out_text, layout),
                out: out_text,
                files,
                dry_run,
                layout: layout.name(),
                root,
            },
        )?;
        Ok(parse_summary(&raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Built-in templates are compiled only when a setup renders them; a syntax error in one
    /// that no tested setup reaches must still fail here.
    #[test]
    fn every_builtin_template_compiles() {
        let env = make_env();
        assert!(BUILTIN_TEMPLATES.len() > 40);
        assert!(BUILTIN_TEMPLATES.windows(2).all(|w| w[0].0 < w[1].0));
        for (name, _) in BUILTIN_TEMPLATES {
            if let Err(err) = env.get_template(name) {
                panic!("{name}: {err:#}");
            }
        }
        assert!(builtin_source("nginx/site.conf.j2").is_some());
        assert!(builtin_source("nginx/nope.j2").is_none());
    }
}
