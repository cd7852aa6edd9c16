use std::path::PathBuf;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::error::Error;
use crate::plan::{KubernetesPlan, Middleware, Plan, Route};

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

/// One file of the output layout: where it goes, its template, and for files made once
/// per route or middleware (Kubernetes), which one.
pub struct LayoutFile<'a> {
    pub path: PathBuf,
    pub template: &'static str,
    pub route: Option<&'a Route>,
    pub middleware: Option<&'a Middleware>,
}

fn file(path: impl Into<PathBuf>, template: &'static str) -> LayoutFile<'static> {
    LayoutFile {
        path: path.into(),
        template,
        route: None,
        middleware: None,
    }
}

/// The output layout, which scripts and docs rely on: each file and its template.
pub fn layout(plan: &Plan) -> Vec<LayoutFile<'_>> {
    if let Some(kubernetes) = &plan.kubernetes {
        return kubernetes_layout(kubernetes);
    }
    let host = &plan.homeserver_host;
    let mut files = Vec::new();
    for proxy in &plan.proxies {
        match proxy.as_str() {
            "nginx" => files.push(file(format!("nginx/{host}.conf"), "nginx/site.conf.j2")),
            "apache" => files.push(file(format!("apache/{host}.conf"), "apache/site.conf.j2")),
            "caddy" => files.push(file("caddy/Caddyfile", "caddy/Caddyfile.j2")),
            "traefik" => {
                files.push(file("traefik/traefik.yml", "traefik/traefik.yml.j2"));
                files.push(file(
                    format!("traefik/dynamic/{host}.yml"),
                    "traefik/dynamic.yml.j2",
                ));
            }
            "haproxy" => files.push(file("haproxy/haproxy.cfg", "haproxy/haproxy.cfg.j2")),
            other => unreachable!("proxy `{other}` has no layout"),
        }
    }
    if plan.well_known.server.is_some() {
        files.push(file("well-known/matrix/server", "well-known/server.j2"));
    }
    files.push(file("well-known/matrix/client", "well-known/client.j2"));
    if let Some(fragment) = &plan.homeserver.config_fragment {
        files.push(file(fragment, "synapse/mxproxy.yaml.j2"));
    }
    if let Some(compose) = &plan.compose {
        files.push(file("docker-compose.yml", "compose/docker-compose.yml.j2"));
        if compose.proxy == "apache" {
            files.push(file("apache/httpd.conf", "apache/httpd.conf.j2"));
        }
    }
    files
}

/// `kubernetes/`: the kustomization, then one object per file in the order it lists them.
/// The homeserver serves both well-known documents itself (see the ingress templates), so
/// `well-known/` is not written.
fn kubernetes_layout(kubernetes: &KubernetesPlan) -> Vec<LayoutFile<'_>> {
    let mut files = vec![file(
        "kubernetes/kustomization.yaml",
        "kubernetes/kustomization.yaml.j2",
    )];
    let mut routes = kubernetes.routes.iter();
    let mut middlewares = kubernetes.middlewares.iter();
    for resource in &kubernetes.resources {
        let path = format!("kubernetes/{resource}");
        let entry = if resource.starts_with("ingress-") {
            LayoutFile {
                route: routes.next(),
                ..file(path, "kubernetes/ingress.yaml.j2")
            }
        } else if resource.starts_with("httproute-") {
            LayoutFile {
                route: routes.next(),
                ..file(path, "kubernetes/httproute.yaml.j2")
            }
        } else if resource.starts_with("middleware-") {
            LayoutFile {
                middleware: middlewares.next(),
                ..file(path, "kubernetes/middleware.yaml.j2")
            }
        } else {
            match resource.as_str() {
                "namespace.yaml" => file(path, "kubernetes/namespace.yaml.j2"),
                "service.yaml" => file(path, "kubernetes/service.yaml.j2"),
                "statefulset.yaml" => file(path, "kubernetes/statefulset.yaml.j2"),
                other => unreachable!("kubernetes resource `{other}` has no template"),
            }
        };
        files.push(entry);
    }
    files
}

#[derive(Serialize)]
struct FileContext<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    route: Option<&'a Route>,
    middleware: Option<&'a Middleware>,
}

pub fn render_all(plan: &Plan) -> Result<Vec<Rendered>, Error> {
    let env = make_env();
    layout(plan)
        .into_iter()
        .map(|entry| {
            Ok(Rendered {
                content: render(
                    &env,
                    entry.template,
                    FileContext {
                        plan,
                        route: entry.route,
                        middleware: entry.middleware,
                    },
                )?,
                path: entry.path,
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
