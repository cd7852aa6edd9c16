//! Feeds generated files to the real servers' own checkers, and the Traefik and compose
//! files to the JSON schemas in `../shared/schemas/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use mxproxy::output::Rendered;
use mxproxy::plan::Plan;

use super::pki::TestCa;
use super::{in_ci, require_tool};

/// Writes `files` below `dir`, with the plan's certificate paths (certbot's, or the
/// scenario's) pointing at a test certificate: `nginx -t` and friends load the files.
pub fn materialize(plan: &Plan, files: &[Rendered], dir: &Path) -> PathBuf {
    let out = dir.join("out");
    let cert = TestCa::new().issue(dir, &plan.tls.names);
    for file in files {
        let mut content = file.content.clone();
        if let (Some(plan_cert), Some(plan_key)) = (&plan.tls.cert, &plan.tls.key) {
            content = content
                .replace(plan_cert.as_str(), cert.cert.to_str().unwrap())
                .replace(plan_key.as_str(), cert.key.to_str().unwrap());
        }
        if let Some(combined) = &plan.tls.combined_pem {
            content = content.replace(combined.as_str(), cert.combined.to_str().unwrap());
        }
        let path = out.join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    out
}

fn run_checker(mut command: Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        output.status.success(),
        "{what} rejected the config ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// How a main config around a generated site file is used.
pub enum MainConfig<'a> {
    /// Only loaded by the checker (`nginx -t`, `apache2 -t`).
    Check,
    /// Served by the real server in the foreground: logs and runtime files in `dir`, the
    /// listeners a distribution's main config would open, bound to `listen` only.
    Serve {
        listen: &'a [std::net::IpAddr],
        log: &'a Path,
        /// The summary's main-config lines for `--clients`; None: the test's own small
        /// settings.
        tuning: Option<&'a Tuning>,
    },
}

/// The main config's limits: Debian's packaged values, or what the summary tells an admin
/// to set for `--clients` (issue 23). The other proxies' limits are in the generated files
/// themselves.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// `worker_processes`: `auto`, as Debian's nginx.conf has it.
    pub nginx_worker_processes: &'static str,
    pub nginx_worker_connections: u64,
    pub nginx_worker_rlimit_nofile: Option<u64>,
    /// The Apache MPM loaded (`event`, Debian's, or the one the summary prescribes).
    pub apache_mpm: &'static str,
    /// The generated `mxproxy-capacity.conf`, included after Debian's mpm_*.conf values as
    /// `a2enconf` has apache2.conf read it; None: Debian's values alone.
    pub apache_capacity: Option<PathBuf>,
    /// The descriptor limit (soft, hard) the proxy's unit gives it, set in the proxy's
    /// process alone; None: inherited from the test.
    pub nofile: Option<(u64, u64)>,
}

/// mods-available/mpm_event.conf and mpm_worker.conf as Debian 12 ships them (the same
/// values in both).
const DEBIAN_APACHE_MPM_LINES: &str = "StartServers 2\nMinSpareThreads 25\nMaxSpareThreads 75\n\
    ThreadLimit 64\nThreadsPerChild 25\nMaxRequestWorkers 150\nMaxConnectionsPerChild 0\n";

impl Tuning {
    /// nginx.conf and the MPM as Debian 12's packages install them.
    pub fn debian() -> Tuning {
        Tuning {
            nginx_worker_processes: "auto",
            nginx_worker_connections: 768,
            nginx_worker_rlimit_nofile: None,
            apache_mpm: "event",
            apache_capacity: None,
            nofile: None,
        }
    }

    fn nginx_main_lines(&self) -> String {
        let rlimit = self
            .nginx_worker_rlimit_nofile
            .map(|n| format!("worker_rlimit_nofile {n};\n"))
            .unwrap_or_default();
        format!(
            "worker_processes {};\n{rlimit}events {{\n    worker_connections {};\n}}",
            self.nginx_worker_processes, self.nginx_worker_connections
        )
    }

    fn apache_main_lines(&self) -> String {
        let mut lines = DEBIAN_APACHE_MPM_LINES.to_string();
        if let Some(capacity) = &self.apache_capacity {
            lines.push_str(&format!("Include {}\n", capacity.display()));
        }
        lines
    }
}

/// The http-context main config Debian's nginx.conf amounts to, including `site`.
pub fn nginx_main(dir: &Path, site: &Path, mode: &MainConfig) -> String {
    let mut main = format!("pid {}/nginx.pid;\n", dir.display());
    match mode {
        MainConfig::Check => main.push_str("error_log stderr;\nevents {}\nhttp {\n"),
        MainConfig::Serve { log, tuning, .. } => main.push_str(&format!(
            // Workers run as Debian's www-data, so a body spooled to disk or a file that
            // only root can read fails here as it would on a real server.
            "user www-data;\ndaemon off;\nerror_log {log} info;\n\
             {events}\nhttp {{\n    access_log off;\n    \
             client_body_temp_path {dir}/nginx-body;\n    proxy_temp_path {dir}/nginx-proxy;\n",
            log = log.display(),
            dir = dir.display(),
            events = match tuning {
                None => "worker_processes 1;\nevents {}".to_string(),
                Some(tuning) => tuning.nginx_main_lines(),
            }
        )),
    }
    main.push_str(&format!(
        "    include /etc/nginx/mime.types;\n    include {site};\n}}\n",
        site = site.display()
    ));
    main
}

/// `nginx -t` on a main config that includes the generated file in the http context,
/// as Debian's nginx.conf includes sites-enabled/.
pub fn nginx(out: &Path, site: &Path) -> bool {
    let Some(nginx) = require_tool("nginx") else {
        return false;
    };
    let main = out.join("nginx-test.conf");
    std::fs::write(&main, nginx_main(out, site, &MainConfig::Check)).unwrap();
    let mut command = Command::new(nginx);
    command
        .arg("-t")
        .arg("-q")
        .arg("-c")
        .arg(&main)
        .arg("-e")
        .arg("stderr");
    run_checker(command, "nginx -t");
    true
}

/// The compose stack's own nginx.conf (the official image's, with `--clients`' limits),
/// checked by Debian's nginx with the image's paths pointed here: its `nginx` user (the
/// host has www-data), its log and pid files, and its conf.d, where the stack mounts the
/// site as default.conf.
pub fn nginx_image(out: &Path, nginx_conf: &Path, site: &Path) -> bool {
    let Some(nginx) = require_tool("nginx") else {
        return false;
    };
    let original = std::fs::read_to_string(nginx_conf).unwrap();
    for needle in [
        "user  nginx;\n",
        "/var/log/nginx/",
        "/var/run/nginx.pid",
        "include /etc/nginx/conf.d/*.conf;",
    ] {
        assert!(original.contains(needle), "nginx.conf has no {needle:?}");
    }
    let logs = out.join("nginx-image-logs");
    std::fs::create_dir_all(&logs).unwrap();
    let main = original
        .replace("user  nginx;\n", "user  www-data;\n")
        .replace("/var/log/nginx/", &format!("{}/", logs.display()))
        .replace(
            "/var/run/nginx.pid",
            &out.join("nginx.pid").display().to_string(),
        )
        .replace(
            "include /etc/nginx/conf.d/*.conf;",
            &format!("include {};", site.display()),
        );
    let path = out.join("nginx-image.conf");
    std::fs::write(&path, main).unwrap();
    let mut command = Command::new(nginx);
    command
        .arg("-t")
        .arg("-q")
        .arg("-c")
        .arg(&path)
        .arg("-e")
        .arg("stderr");
    run_checker(command, "nginx -t (nginx image layout)");
    true
}

/// Debian's module directory; the main config loads exactly what the site comments list.
const APACHE_MODULES: &str = "/usr/lib/apache2/modules";
const APACHE_SITE_MODULES: &[&str] = &[
    "authz_core",
    "mime",
    "dir",
    "alias",
    "rewrite",
    "headers",
    "proxy",
    "proxy_http",
    "ssl",
    "socache_shmcb",
    "http2",
];

/// The main config Debian's apache2.conf and ports.conf amount to: the modules the site's
/// header names, listeners on 80 and 443, and `site`.
pub fn apache_main(dir: &Path, site: &Path, mode: &MainConfig) -> String {
    let mut main = format!(
        "ServerRoot {dir}\nPidFile {dir}/apache.pid\nDefaultRuntimeDir {dir}\nServerName localhost\nTypesConfig /etc/mime.types\n",
        dir = dir.display()
    );
    match mode {
        MainConfig::Check => main.push_str("ErrorLog /dev/stderr\nListen 80\nListen 443\n"),
        MainConfig::Serve { listen, log, .. } => {
            // Children run as Debian's www-data, as with the packaged apache2.conf.
            main.push_str(&format!(
                "ErrorLog {}\nLogLevel warn\nUser www-data\nGroup www-data\n",
                log.display()
            ));
            for address in listen.iter() {
                let host = match address {
                    std::net::IpAddr::V4(ip) => ip.to_string(),
                    std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                };
                main.push_str(&format!("Listen {host}:80\nListen {host}:443\n"));
            }
        }
    }
    // And what the site's `a2enmod` line asks for beyond them (remoteip with
    // --trusted-proxy): a module the site needs but does not name fails here.
    let text = std::fs::read_to_string(site).unwrap_or_default();
    let asked = text
        .lines()
        .find_map(|line| line.split_once("a2enmod "))
        .map(|(_, rest)| rest.split("&&").next().unwrap_or_default())
        .unwrap_or_default();
    let mpm = match mode {
        MainConfig::Serve {
            tuning: Some(tuning),
            ..
        } => format!("mpm_{}", tuning.apache_mpm),
        _ => "mpm_event".to_string(),
    };
    let mut modules: Vec<&str> = vec![&mpm];
    modules.extend(APACHE_SITE_MODULES);
    modules.extend(
        asked
            .split_whitespace()
            .filter(|m| !APACHE_SITE_MODULES.contains(m)),
    );
    for module in modules {
        main.push_str(&format!(
            "LoadModule {module}_module {APACHE_MODULES}/mod_{module}.so\n"
        ));
    }
    if let MainConfig::Serve {
        tuning: Some(tuning),
        ..
    } = mode
    {
        main.push_str(&tuning.apache_main_lines());
    } else if let MainConfig::Serve { .. } = mode {
        // One child (25 threads, plenty for a test): each child pools its own upstream
        // connections, and the idle-connection rule must see the one pool a request would
        // reuse, not a sibling's empty one.
        main.push_str("StartServers 1\nServerLimit 1\nMaxRequestWorkers 25\n");
    }
    main.push_str(&format!("Include {}\n", site.display()));
    main
}

/// `apache2 -t` on a main config that loads the modules the site's header names and
/// listens on 80 and 443, as Debian's apache2.conf and ports.conf do.
pub fn apache(out: &Path, site: &Path) -> bool {
    let Some(apache) = require_tool("apache2") else {
        return false;
    };
    let main_path = out.join("apache-test.conf");
    std::fs::write(&main_path, apache_main(out, site, &MainConfig::Check)).unwrap();
    let mut command = Command::new(apache);
    command.arg("-t").arg("-f").arg(&main_path);
    run_checker(command, "apache2 -t");
    true
}

/// The compose stack's own httpd.conf, checked by Debian's apache2 with a server root
/// laid out like the official image's (/usr/local/apache2: modules/, conf/, logs/).
pub fn apache_image(out: &Path, httpd_conf: &Path, site: &Path) -> bool {
    let Some(apache) = require_tool("apache2") else {
        return false;
    };
    let root = out.join("apache-image-root");
    std::fs::create_dir_all(root.join("conf")).unwrap();
    std::fs::create_dir_all(root.join("logs")).unwrap();
    let _ = std::os::unix::fs::symlink(APACHE_MODULES, root.join("modules"));
    std::fs::copy("/etc/mime.types", root.join("conf/mime.types")).unwrap();
    std::fs::copy(site, root.join("conf/matrix.conf")).unwrap();
    std::fs::copy(httpd_conf, root.join("conf/httpd.conf")).unwrap();
    let mut command = Command::new(apache);
    command
        .arg("-t")
        .arg("-d")
        .arg(&root)
        .arg("-f")
        .arg(root.join("conf/httpd.conf"));
    run_checker(command, "apache2 -t (httpd image layout)");
    true
}

/// `caddy validate` on the Caddyfile, which adapts it and provisions every module.
pub fn caddy(caddyfile: &Path) -> bool {
    let Some(caddy) = require_tool("caddy") else {
        return false;
    };
    let mut command = Command::new(&caddy);
    command
        .arg("validate")
        .arg("--adapter")
        .arg("caddyfile")
        .arg("--config")
        .arg(caddyfile);
    caddy_home(&mut command, caddyfile.parent().unwrap());
    run_checker(command, "caddy validate");
    // Caddy warns "Caddyfile input is not formatted" on every start otherwise.
    // Its own HOME as for `validate`: two caddy processes of parallel tests must not share
    // the invoking user's config and data folders.
    let mut fmt = Command::new(caddy);
    fmt.arg("fmt").arg(caddyfile);
    caddy_home(&mut fmt, caddyfile.parent().unwrap());
    let formatted = fmt.output().unwrap();
    assert!(
        formatted.status.success(),
        "caddy fmt {}: {}",
        caddyfile.display(),
        String::from_utf8_lossy(&formatted.stderr)
    );
    let text = std::fs::read(caddyfile).unwrap();
    if formatted.stdout != text {
        panic!(
            "{} is not as `caddy fmt` writes it:\n{}",
            caddyfile.display(),
            similar::TextDiff::from_lines(
                String::from_utf8_lossy(&text),
                String::from_utf8_lossy(&formatted.stdout)
            )
            .unified_diff()
        );
    }
    true
}

/// `haproxy -c`: the generated file is a complete haproxy.cfg.
pub fn haproxy(config: &Path) -> bool {
    let Some(haproxy) = require_tool("haproxy") else {
        return false;
    };
    let mut command = Command::new(haproxy);
    command.arg("-c").arg("-f").arg(config);
    run_checker(command, "haproxy -c");
    true
}

/// Caddy's storage and config go to a temp HOME, not the user's.
pub fn caddy_home(command: &mut Command, dir: &Path) {
    command
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"));
}

/// `../shared/schemas/` beside the repository (CI lays a copy of shared/ there).
pub fn schema_path(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/schemas")
        .join(name);
    if path.is_file() {
        return Some(path);
    }
    if in_ci() {
        panic!(
            "schema {} is missing, and CI=true forbids skipping",
            path.display()
        );
    }
    eprintln!(
        "SKIPPED: schema {} is missing; this schema check did not run",
        path.display()
    );
    None
}

/// Settings the real servers accept that a vendored schema lacks, added to it here, each
/// proven by the real server: SchemaStore's Traefik v3 static schema has no entry point
/// `http.sanitizePath` (doc.traefik.io/traefik/routing/entrypoints, "sanitizePath",
/// default true), which Traefik 3.7 reads (`traefik_serves` and the real-traffic rules run
/// it on that file; the raw-target rule fails without it).
fn fill_schema_gaps(schema_name: &str, schema: &mut serde_json::Value) {
    if schema_name == "traefik-v3.json" {
        let properties = &mut schema["$defs"]["staticHTTPConfig"]["properties"];
        assert!(
            properties.is_object() && properties.get("sanitizePath").is_none(),
            "traefik-v3.json changed: drop or adjust the sanitizePath addition"
        );
        properties["sanitizePath"] = serde_json::json!({"type": "boolean"});
    }
}

/// Validates a YAML document against a JSON schema file; the errors, if any, name the
/// instance path.
pub fn yaml_against_schema(yaml: &str, schema_name: &str) -> bool {
    let Some(schema_path) = schema_path(schema_name) else {
        return false;
    };
    let mut schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    fill_schema_gaps(schema_name, &mut schema);
    let instance: serde_json::Value = serde_yaml::from_str(yaml).expect("generated YAML parses");
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("schema {schema_name} does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "does not match {schema_name}:\n{}\n--- document ---\n{yaml}",
        errors.join("\n")
    );
    true
}

/// Synapse's own configuration schema, vendored in `tests/schemas/` (see SOURCES.md there).
/// Its `$schema` names Synapse's documentation meta-schema, which only adds annotation
/// keywords; the validation keywords are draft 2020-12.
fn synapse_schema() -> serde_json::Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/synapse-config.schema.yaml");
    let mut schema: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    schema.as_object_mut().unwrap().remove("$schema");
    schema
}

/// The Synapse fragment: every key one Synapse knows (the schema allows unknown keys, so
/// that is checked on its own), and every value of the type Synapse expects.
pub fn synapse_fragment(yaml: &str) -> bool {
    let schema = synapse_schema();
    let instance: serde_json::Value = serde_yaml::from_str(yaml).expect("generated YAML parses");
    let known = schema["properties"].as_object().unwrap();
    for key in instance.as_object().expect("a mapping").keys() {
        if key == "experimental_features" {
            experimental_features(&instance[key], yaml);
            continue;
        }
        assert!(
            known.contains_key(key),
            "`{key}` is not a Synapse setting\n--- document ---\n{yaml}"
        );
    }
    // The schema leaves `worker_listeners`' items open; Synapse reads them "in the same way
    // as the `listeners` option" (its description), so they are checked against that too.
    let mut schema = schema;
    let listeners = schema["properties"]["listeners"].clone();
    schema["properties"]["worker_listeners"] = listeners;
    multi_writer_streams(&mut schema);
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap_or_else(|e| panic!("Synapse's schema does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "does not match Synapse's config schema:\n{}\n--- document ---\n{yaml}",
        errors.join("\n")
    );
    true
}

/// The streams Synapse lets several workers write: the schema types every stream of
/// `stream_writers` as one name, but Synapse reads each as a name or a list of names
/// (synapse/config/workers.py `WriterLocations`, `_instance_to_list_converter`, v1.157.1)
/// and docs/workers.md §"Stream writers" says "The `receipts` stream supports multiple
/// writers" (and `device_lists`, and experimentally `events`), with a list in its own
/// example ("configuration with multiple writers"), which the schema would refuse. Only
/// these take a list here; every other stream "can only have a single writer" and stays
/// one name, so a list for `typing` still fails.
fn multi_writer_streams(schema: &mut serde_json::Value) {
    const MULTI_WRITER: [&str; 3] = ["events", "receipts", "device_lists"];
    let streams = &mut schema["properties"]["stream_writers"]["properties"];
    for stream in MULTI_WRITER {
        let one = streams[stream].clone();
        assert_eq!(
            one["type"], "string",
            "stream_writers.{stream} in the schema"
        );
        streams[stream] = serde_json::json!({
            "anyOf": [one, {"type": "array", "items": {"type": "string"}, "minItems": 1}]
        });
    }
}

/// `experimental_features`, which Synapse's schema leaves out (they come and go without
/// notice): each flag one Synapse reads and a boolean. Read in synapse/config/
/// experimental.py at element-hq/synapse a58ad44 (2026-07), but msc3266_enabled, read until
/// its stabilisation in 1.153.0 (7fc937b) and still asked for by Element Call's
/// docs/self_hosting.md for older releases.
fn experimental_features(value: &serde_json::Value, yaml: &str) {
    const READ: [&str; 3] = ["msc3266_enabled", "msc4143_enabled", "msc4222_enabled"];
    let flags = value
        .as_object()
        .expect("experimental_features is a mapping");
    for (flag, on) in flags {
        assert!(
            READ.contains(&flag.as_str()) && on.is_boolean(),
            "experimental_features.{flag}: {on} is not a flag Synapse reads\n--- document ---\n{yaml}"
        );
    }
}

/// The Kubernetes releases the core manifests are checked against, with the schemas the
/// pinned kubernetes-validate package ships (.ci/run installs it): the newest it knows and
/// an older one still common in managed clusters, so a field that is too new fails too.
pub const KUBERNETES_VERSIONS: &[&str] = &["1.30.0", "1.37.0"];

/// Core objects (v1, apps/v1, networking.k8s.io/v1) against Kubernetes' own OpenAPI
/// schemas, strict: an unknown field fails as the API server's strict field validation
/// would reject it.
pub fn kubernetes_core(path: &Path) -> bool {
    let Some(validator) = require_tool("kubernetes-validate") else {
        return false;
    };
    for version in KUBERNETES_VERSIONS {
        let mut command = Command::new(&validator);
        command
            .args(["--strict", "--quiet", "--kubernetes-version", version])
            .arg(path);
        run_checker(command, &format!("kubernetes-validate {version}"));
    }
    true
}

/// A CustomResourceDefinition vendored in `tests/schemas/` (see SOURCES.md there).
fn crd(file: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schemas")
        .join(file);
    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Closes every object schema that lists its properties, as the API server's strict field
/// validation does for custom resources: a CRD's OpenAPI schema leaves
/// `additionalProperties` out, but unknown fields are pruned or (strict) refused, never kept.
fn strict(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(map) => {
            let open = map
                .get("x-kubernetes-preserve-unknown-fields")
                .is_some_and(|v| v == true);
            if map.contains_key("properties") && !map.contains_key("additionalProperties") && !open
            {
                map.insert("additionalProperties".into(), false.into());
            }
            map.values_mut().for_each(strict);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

/// The schema a CRD gives for the `apiVersion` an object names.
fn crd_schema(crd: &serde_json::Value, api_version: &str) -> serde_json::Value {
    let (group, version) = api_version.split_once('/').unwrap();
    assert_eq!(crd["spec"]["group"], group, "CRD group for {api_version}");
    let served = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == version && v["served"] == true)
        .unwrap_or_else(|| panic!("the CRD does not serve {api_version}"));
    let mut schema = served["schema"]["openAPIV3Schema"].clone();
    strict(&mut schema);
    schema
}

/// A custom resource against its vendored CRD, strict, and its metadata against what
/// mxproxy may set there.
pub fn custom_resource(yaml: &str, crd_file: &str) -> bool {
    let instance: serde_json::Value = serde_yaml::from_str(yaml).expect("generated YAML parses");
    let crd = crd(crd_file);
    assert_eq!(
        instance["kind"], crd["spec"]["names"]["kind"],
        "{crd_file} is not the CRD of this object"
    );
    let schema = crd_schema(&crd, instance["apiVersion"].as_str().unwrap());
    // OpenAPI v3 schemas of CRDs are draft-04 style (`nullable`, `x-kubernetes-*` aside).
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{crd_file} does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "does not match {crd_file}:\n{}\n--- document ---\n{yaml}",
        errors.join("\n")
    );
    object_metadata(&instance);
    true
}

/// ObjectMeta as mxproxy writes it: a DNS-subdomain name, and nothing but name,
/// namespace, labels and annotations (CRD schemas leave `metadata` open).
fn object_metadata(object: &serde_json::Value) {
    let metadata = object["metadata"]
        .as_object()
        .expect("metadata is a mapping");
    for key in metadata.keys() {
        assert!(
            ["name", "namespace", "labels", "annotations"].contains(&key.as_str()),
            "unexpected metadata key `{key}`"
        );
    }
    let name = metadata["name"].as_str().expect("metadata.name");
    assert!(
        !name.is_empty()
            && name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'),
        "`{name}` is not a valid object name"
    );
}

/// The kustomization against SchemaStore's schema, and the folder around it: every listed
/// resource exists and holds exactly one object, in one namespace, and every generated
/// manifest is listed, so `kubectl apply -k` applies all of them.
pub fn kustomization(path: &Path) -> bool {
    let yaml = std::fs::read_to_string(path).unwrap();
    let schema_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/kustomization.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    let instance: serde_json::Value = serde_yaml::from_str(&yaml).expect("kustomization parses");
    let validator = jsonschema::validator_for(&schema).expect("kustomization schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "does not match kustomization.json:\n{}\n--- document ---\n{yaml}",
        errors.join("\n")
    );
    let dir = path.parent().unwrap();
    let listed: Vec<String> = instance["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != "kustomization.yaml")
        .collect();
    on_disk.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        on_disk,
        "kustomization resources vs the files in {}",
        dir.display()
    );
    let mut namespaces = Vec::new();
    for resource in &listed {
        let text = std::fs::read_to_string(dir.join(resource))
            .unwrap_or_else(|e| panic!("resource {resource}: {e}"));
        let documents: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&text)
            .map(|d| {
                serde_yaml::Value::deserialize(d).unwrap_or_else(|e| panic!("{resource}: {e}"))
            })
            .collect();
        assert_eq!(documents.len(), 1, "{resource} holds one object");
        let object = &documents[0];
        for key in ["apiVersion", "kind"] {
            assert!(object[key].as_str().is_some(), "{resource}: no {key}");
        }
        let metadata = &object["metadata"];
        assert!(metadata["name"].as_str().is_some(), "{resource}: no name");
        namespaces.push(if object["kind"] == "Namespace" {
            metadata["name"].as_str().unwrap().to_string()
        } else {
            metadata["namespace"]
                .as_str()
                .unwrap_or_else(|| panic!("{resource}: no namespace"))
                .to_string()
        });
    }
    namespaces.dedup();
    assert_eq!(
        namespaces.len(),
        1,
        "one namespace for everything: {namespaces:?}"
    );
    true
}

/// Which check a file below `kubernetes/` gets, by the kind of the object in it.
fn kubernetes_file(path: &Path, content: &str) -> bool {
    if path.file_name().unwrap() == "kustomization.yaml" {
        return kustomization(path);
    }
    let object: serde_json::Value = serde_yaml::from_str(content).expect("manifest parses");
    match object["kind"].as_str().unwrap() {
        "HTTPRoute" => custom_resource(content, "gateway-api-v1.6.1-httproutes.yaml"),
        "Middleware" => custom_resource(content, "traefik-v3.7.9-middlewares.yaml"),
        _ => kubernetes_core(path),
    }
}

/// Real Traefik on the static and dynamic files `validate_all` wrote below `dir`: it
/// must open every entry point, build the homeserver's routers from the dynamic file and
/// log no error (an invalid rule, middleware or TLS file is an `ERR` line, not a refusal
/// to start). Traefik has no check mode, so it is started for this: only inside a test's
/// network namespace, on the plan's loopback address (127.0.0.1 where the plan binds every
/// address, as the compose stack does). Nothing without Traefik in the plan.
pub fn traefik_serves(plan: &Plan, dir: &Path) -> bool {
    let Some(traefik) = &plan.traefik else {
        return false;
    };
    if require_tool("traefik").is_none() {
        return false;
    }
    let out = dir.join("out");
    let config = out.join("traefik/traefik.yml");
    super::proxy::traefik_static_here(&config, &out.join("traefik/dynamic"), dir);
    let listen: std::net::IpAddr = match plan.bind.first() {
        Some(bind) if !traefik.address_host.is_empty() => bind.ip.parse().unwrap(),
        _ => {
            let text = std::fs::read_to_string(&config).unwrap();
            let here = text.replace("address: \":", "address: \"127.0.0.1:");
            std::fs::write(&config, here).unwrap();
            std::net::IpAddr::from([127, 0, 0, 1])
        }
    };
    let ports: Vec<u16> = plan
        .redirect
        .iter()
        .map(|r| r.port)
        .chain(plan.listeners.iter().map(|l| l.port))
        .collect();
    let running =
        super::proxy::Running::start(super::proxy::Proxy::Traefik, dir, &config, listen, &ports)
            .expect("Traefik is installed");
    let errors: Vec<String> = running
        .output()
        .lines()
        .filter(|line| line.contains(" ERR ") || line.contains(" FTL "))
        // The ACME resolver's CA is a closed port here (`traefik_static_here`).
        .filter(|line| !line.contains(super::proxy::TRAEFIK_TEST_ACME_CA))
        .map(String::from)
        .collect();
    assert!(
        errors.is_empty(),
        "Traefik logged errors on the generated files:\n{}\n{}",
        errors.join("\n"),
        running.logs()
    );
    true
}

/// MAS's configuration schema, vendored in `tests/schemas/` (see SOURCES.md there), with
/// every object that lists its properties closed: MAS ignores a key it does not know, so a
/// misspelt one would otherwise pass (as `strict` does for CRDs).
fn mas_schema() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/mas-config.schema.json");
    let mut schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    strict(&mut schema);
    schema
}

/// The `secrets` section `mas-cli config generate` writes and mxproxy leaves to it
/// (crates/config/src/sections/secrets.rs `SecretsConfig::generate`: an `encryption` key of
/// 32 bytes in hex and a list of private keys). The schema requires `secrets` (and
/// `matrix`), so the fragment is validated the way MAS reads it: merged with this.
const MAS_GENERATED_SECRETS: &str = "secrets:
  encryption: 0000111122223333444455556666777788889999aaaabbbbccccddddeeeeffff
  keys:
    - key: |
        -----BEGIN RSA PRIVATE KEY-----
        -----END RSA PRIVATE KEY-----
";

/// The MAS fragment as MAS reads it, merged with the sections `mas-cli config generate`
/// writes that the fragment leaves out (`MAS_GENERATED_SECRETS`; the fragment's own
/// sections replace the generated ones whole, as the summary says), against MAS's published
/// configuration schema with formats (`uri`) checked. Also: no secret in a generated file.
pub fn mas_fragment(yaml: &str) -> bool {
    let mut instance: serde_json::Value =
        serde_yaml::from_str(yaml).expect("the MAS fragment parses");
    assert!(
        instance["matrix"].get("secret").is_none()
            && instance["database"].get("password").is_none()
            && instance.get("secrets").is_none(),
        "a secret in a generated file: {yaml}"
    );
    let generated: serde_json::Value = serde_yaml::from_str(MAS_GENERATED_SECRETS).unwrap();
    for (key, value) in generated.as_object().unwrap() {
        instance[key] = value.clone();
    }
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(&mas_schema())
        .unwrap_or_else(|e| panic!("MAS's schema does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "does not match MAS's config schema:\n{}\n--- document ---\n{yaml}",
        errors.join("\n")
    );
    // The schema's `ip` format is MAS's own (an address or a network); the proxy's are
    // networks in CIDR notation.
    for network in instance["http"]["trusted_proxies"].as_array().unwrap() {
        let (ip, bits) = network
            .as_str()
            .unwrap()
            .split_once('/')
            .expect("a CIDR network");
        ip.parse::<std::net::IpAddr>().unwrap();
        bits.parse::<u8>().unwrap();
    }
    true
}

/// Element Web's config.json: Element publishes no JSON schema for it (its keys are a
/// TypeScript interface), so the check is docs/config.md's: only documented keys, and
/// `default_server_config` in the form of the client well-known, naming the same homeserver.
fn element_web_config(plan: &Plan, content: &str) -> bool {
    let config: serde_json::Value = serde_json::from_str(content).expect("config.json is JSON");
    // docs/config.md's keys, and those ESS writes with calls or MAS (src/plan/web.rs).
    let documented = [
        "default_server_config",
        "features",
        "element_call",
        "setting_defaults",
        "embedded_pages",
        "sso_redirect_options",
    ];
    for key in config.as_object().expect("an object").keys() {
        assert!(documented.contains(&key.as_str()), "config.json: {key}");
    }
    let homeserver = &config["default_server_config"]["m.homeserver"];
    assert_eq!(
        homeserver.as_object().unwrap().len(),
        2,
        "config.json: {content}"
    );
    assert_eq!(
        homeserver["base_url"],
        plan.well_known.client.homeserver.base_url.as_str()
    );
    assert_eq!(homeserver["server_name"], plan.server_name.as_str());
    true
}

/// Every check that applies to one rendered scenario. Returns how many checks ran.
pub fn validate_all(plan: &Plan, files: &[Rendered], dir: &Path) -> usize {
    let out = materialize(plan, files, dir);
    let mut ran = 0;
    for file in files {
        let path = out.join(&file.path);
        let name = file.path.to_str().unwrap();
        let checked = if name == "nginx/nginx.conf" {
            let site = out.join(format!("nginx/{}.conf", plan.file_stem));
            nginx_image(&out, &path, &site)
        } else if name.starts_with("nginx/") {
            nginx(&out, &path)
        } else if name == "apache/httpd.conf" {
            let site = out.join(format!("apache/{}.conf", plan.file_stem));
            apache_image(&out, &path, &site)
        } else if name.starts_with("apache/") {
            apache(&out, &path)
        } else if name == "haproxy/haproxy.cfg" {
            haproxy(&path)
        } else if name == "caddy/Caddyfile" {
            caddy(&path)
        } else if name == "traefik/traefik.yml" {
            yaml_against_schema(&file.content, "traefik-v3.json")
        } else if name.starts_with("traefik/plugins-local/") {
            traefik_plugin_file(&out, name)
        } else if name.starts_with("traefik/dynamic/") {
            yaml_against_schema(&file.content, "traefik-v3-file-provider.json")
        } else if name == "docker-compose.yml" {
            yaml_against_schema(&file.content, "compose-spec.json")
                && yaml_against_schema(&file.content, "compose-spec.compose-go.json")
        } else if name == "synapse/mxproxy.yaml"
            || (name.starts_with("synapse/workers/") && name.ends_with(".yaml"))
        {
            // A worker's file is validated as the shared fragment is: the schema has the
            // worker keys (worker_app, worker_name, worker_listeners).
            synapse_fragment(&file.content)
        } else if name == "mas/mxproxy.yaml" {
            mas_fragment(&file.content)
        } else if name == "livekit/livekit.yaml" {
            livekit_config(&file.content)
        } else if name.starts_with("kubernetes/") {
            kubernetes_file(&path, &file.content)
        } else if name == "element-web/config.json" {
            element_web_config(plan, &file.content)
        } else if name.starts_with("well-known/") {
            serde_json::from_str::<serde_json::Value>(&file.content)
                .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
            true
        } else {
            panic!("no validator for generated file {name}");
        };
        ran += usize::from(checked);
    }
    ran
}

/// The client-address plugin's files. Their reader is Traefik itself, which loads the
/// plugin at start and runs it on every request: traffic::front::*::traefik are its real
/// check (no Go toolchain here). This checks that the three agree with each other and with
/// traefik.yml, so that a renamed module fails here with a clear message.
fn traefik_plugin_file(out: &Path, name: &str) -> bool {
    let dir = out.join("traefik/plugins-local/src/mxproxy/clientaddress");
    let read = |file: &str| {
        std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
    };
    let module = "mxproxy/clientaddress";
    let manifest: serde_yaml::Value = serde_yaml::from_str(&read(".traefik.yml")).unwrap();
    assert_eq!(manifest["type"].as_str(), Some("middleware"), "{name}");
    assert_eq!(manifest["import"].as_str(), Some(module), "{name}");
    assert!(manifest["testData"].is_mapping(), "{name}: testData");
    assert!(
        read("go.mod").contains(&format!("\nmodule {module}\n")),
        "{name}: go.mod"
    );
    let source = read("clientaddress.go");
    for needle in [
        "\npackage clientaddress\n",
        "func CreateConfig() *Config",
        "func New(ctx context.Context, next http.Handler, config *Config, name string) (http.Handler, error)",
    ] {
        assert!(source.contains(needle), "{name}: no {needle:?}");
    }
    let static_file = std::fs::read_to_string(out.join("traefik/traefik.yml")).unwrap();
    assert!(
        static_file.contains(&format!("moduleName: {module}\n")),
        "{name}: traefik.yml does not load {module}"
    );
    true
}

/// LiveKit's config file. LiveKit publishes no schema, and no package registry carries
/// livekit-server to run `--config` against, so this is the honest part that can run here:
/// the file is YAML, every key is one config-sample.yaml documents (livekit/livekit v1.13.5,
/// the pinned image's release; keys listed below as it writes them, commented-out ones
/// included), each value has the type LiveKit's `Config` reads, and the UDP mux is not set
/// together with a port range ("port_range_start & end must not be set for this config to
/// take effect"). Panics on anything else.
pub fn livekit_config(content: &str) -> bool {
    const TOP: [&str; 17] = [
        "audio",
        "debug_handler_port",
        "ingress",
        "keys",
        "limit",
        "logging",
        "node_selector",
        "port",
        "prometheus_port",
        "psrpc",
        "redis",
        "region",
        "room",
        "rtc",
        "signal_relay",
        "turn",
        "webhook",
    ];
    const RTC: [&str; 26] = [
        "advertise_internal_ip",
        "allow_tcp_fallback",
        "allow_udp_unstable_fallback",
        "batch_io",
        "congestion_control",
        "data_channel_max_buffered_amount",
        "datachannel_data_track_target_latency",
        "enable_loopback_candidate",
        "interfaces",
        "ips",
        "node_ip",
        "packet_buffer_size_audio",
        "packet_buffer_size_video",
        "pli_throttle",
        "port_range_end",
        "port_range_start",
        "skip_external_ip_validation",
        "strict_acks",
        "stun_servers",
        "tcp_fallback_rtt_threshold",
        "tcp_port",
        "turn_servers",
        "udp_port",
        "use_external_ip",
        "use_ice_lite",
        "use_mdns",
    ];
    const ROOM: [&str; 8] = [
        "auto_create",
        "departure_timeout",
        "empty_timeout",
        "enable_remote_unmute",
        "enabled_codecs",
        "max_participants",
        "playout_delay",
        "sync_streams",
    ];
    let config: serde_yaml::Value =
        serde_yaml::from_str(content).unwrap_or_else(|e| panic!("livekit.yaml is not YAML: {e}"));
    let keys = |value: &serde_yaml::Value, section: &str| -> Vec<String> {
        value
            .as_mapping()
            .unwrap_or_else(|| panic!("livekit.yaml: {section} is not a mapping"))
            .keys()
            .map(|k| k.as_str().expect("string keys").to_string())
            .collect()
    };
    for (section, value, documented) in [
        ("top level", &config, &TOP[..]),
        ("rtc", &config["rtc"], &RTC[..]),
        ("room", &config["room"], &ROOM[..]),
    ] {
        if value.is_null() {
            continue;
        }
        for key in keys(value, section) {
            assert!(
                documented.contains(&key.as_str()),
                "livekit.yaml: {section} key {key} is not in config-sample.yaml"
            );
        }
    }
    let port = |value: &serde_yaml::Value, key: &str| {
        if !value.is_null() {
            let port = value
                .as_u64()
                .unwrap_or_else(|| panic!("livekit.yaml: {key} is no number"));
            assert!((1..=65535).contains(&port), "livekit.yaml: {key} {port}");
        }
    };
    port(&config["port"], "port");
    port(&config["rtc"]["tcp_port"], "rtc.tcp_port");
    let udp = &config["rtc"]["udp_port"];
    if !udp.is_null() {
        // One port, or a range "7882-7892" (config-sample.yaml).
        if udp.as_u64().is_none() {
            let range = udp.as_str().expect("rtc.udp_port is a port or a range");
            let (a, b) = range.split_once('-').expect("rtc.udp_port range a-b");
            assert!(
                a.parse::<u16>().unwrap() <= b.parse::<u16>().unwrap(),
                "{range}"
            );
        }
        assert!(
            config["rtc"]["port_range_start"].is_null()
                && config["rtc"]["port_range_end"].is_null(),
            "livekit.yaml: rtc.udp_port with a port range, which disables the mux"
        );
    }
    for (value, key) in [
        (&config["rtc"]["use_external_ip"], "rtc.use_external_ip"),
        (&config["room"]["auto_create"], "room.auto_create"),
    ] {
        assert!(
            value.is_null() || value.is_bool(),
            "livekit.yaml: {key} is no boolean"
        );
    }
    true
}

impl Tuning {
    /// Debian's main config with the summary's lines for `site`'s `--clients`: nginx.conf's
    /// `worker_rlimit_nofile` and `worker_connections`; for Apache the MPM it names and the
    /// generated `mxproxy-capacity.conf` itself, read after Debian's MPM values.
    pub fn for_site(site: &super::proxy::Site) -> Tuning {
        let capacity = site.plan().capacity;
        let apache_capacity = (site.proxy == super::proxy::Proxy::Apache).then(|| {
            let file = site.out.join("apache/mxproxy-capacity.conf");
            assert!(file.is_file(), "generate wrote no {}", file.display());
            file
        });
        Tuning {
            nginx_worker_connections: capacity.nginx.worker_connections.into(),
            nginx_worker_rlimit_nofile: Some(capacity.nginx.worker_rlimit_nofile.into()),
            apache_mpm: capacity.apache.mpm,
            apache_capacity,
            ..Tuning::debian()
        }
    }
}
