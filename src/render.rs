use std::path::PathBuf;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::error::Error;
use crate::plan::Plan;

/// One generated file: its path below `--out` and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub path: PathBuf,
    pub content: String,
}

pub fn make_env() -> Environment<'static> {
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
    minijinja_embed::load_templates!(&mut env);
    env
}

fn render(env: &Environment<'_>, template: &str, context: impl Serialize) -> Result<String, Error> {
    let failed = |err: minijinja::Error| Error::Render {
        template: template.to_string(),
        message: {
            let mut message = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            message
        },
    };
    env.get_template(template)
        .map_err(failed)?
        .render(Serde(context))
        .map_err(failed)
}

/// The output layout, which scripts and docs rely on: each file and its template.
pub fn layout(plan: &Plan) -> Vec<(PathBuf, &'static str)> {
    let host = &plan.homeserver_host;
    let mut files: Vec<(PathBuf, &'static str)> = Vec::new();
    for proxy in &plan.proxies {
        match proxy.as_str() {
            "nginx" => files.push((format!("nginx/{host}.conf").into(), "nginx/site.conf.j2")),
            "apache" => files.push((format!("apache/{host}.conf").into(), "apache/site.conf.j2")),
            "caddy" => files.push(("caddy/Caddyfile".into(), "caddy/Caddyfile.j2")),
            "traefik" => {
                files.push(("traefik/traefik.yml".into(), "traefik/traefik.yml.j2"));
                files.push((
                    format!("traefik/dynamic/{host}.yml").into(),
                    "traefik/dynamic.yml.j2",
                ));
            }
            "haproxy" => files.push(("haproxy/haproxy.cfg".into(), "haproxy/haproxy.cfg.j2")),
            other => unreachable!("proxy `{other}` has no layout"),
        }
    }
    if plan.well_known.server.is_some() {
        files.push(("well-known/matrix/server".into(), "well-known/server.j2"));
    }
    files.push(("well-known/matrix/client".into(), "well-known/client.j2"));
    if let Some(fragment) = &plan.homeserver.config_fragment {
        files.push((fragment.into(), "synapse/mxproxy.yaml.j2"));
    }
    if let Some(compose) = &plan.compose {
        files.push(("docker-compose.yml".into(), "compose/docker-compose.yml.j2"));
        if compose.proxy == "apache" {
            files.push(("apache/httpd.conf".into(), "apache/httpd.conf.j2"));
        }
    }
    files
}

pub fn render_all(plan: &Plan) -> Result<Vec<Rendered>, Error> {
    let env = make_env();
    layout(plan)
        .into_iter()
        .map(|(path, template)| {
            Ok(Rendered {
                path,
                content: render(&env, template, plan)?,
            })
        })
        .collect()
}

#[derive(Serialize)]
struct SummaryContext<'a> {
    plan: &'a Plan,
    out: String,
    files: &'a [FileStatus],
    dry_run: bool,
}

#[derive(Debug, Serialize)]
pub struct FileStatus {
    pub path: String,
    /// `created`, `updated` or `unchanged` (with `--dry-run`: what would happen).
    pub status: String,
}

pub fn render_summary(
    plan: &Plan,
    out: &std::path::Path,
    files: &[FileStatus],
    dry_run: bool,
) -> Result<String, Error> {
    render(
        &make_env(),
        "summary.txt.j2",
        SummaryContext {
            plan,
            out: out.display().to_string(),
            files,
            dry_run,
        },
    )
}
