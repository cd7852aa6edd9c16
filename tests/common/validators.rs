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
    },
}

/// The http-context main config Debian's nginx.conf amounts to, including `site`.
pub fn nginx_main(dir: &Path, site: &Path, mode: &MainConfig) -> String {
    let mut main = format!("pid {}/nginx.pid;\n", dir.display());
    match mode {
        MainConfig::Check => main.push_str("error_log stderr;\nevents {}\nhttp {\n"),
        MainConfig::Serve { log, .. } => main.push_str(&format!(
            // Workers run as Debian's www-data, so a body spooled to disk or a file that
            // only root can read fails here as it would on a real server.
            "user www-data;\ndaemon off;\nworker_processes 1;\nerror_log {log} info;\n\
             events {{}}\nhttp {{\n    access_log off;\n    \
             client_body_temp_path {dir}/nginx-body;\n    proxy_temp_path {dir}/nginx-proxy;\n",
            log = log.display(),
            dir = dir.display()
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

/// Debian's module directory; the main config loads exactly what the site comments list.
const APACHE_MODULES: &str = "/usr/lib/apache2/modules";
const APACHE_SITE_MODULES: &[&str] = &[
    "mpm_event",
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
        MainConfig::Serve { listen, log } => {
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
    for module in APACHE_SITE_MODULES {
        main.push_str(&format!(
            "LoadModule {module}_module {APACHE_MODULES}/mod_{module}.so\n"
        ));
    }
    if let MainConfig::Serve { .. } = mode {
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
        assert!(
            known.contains_key(key),
            "`{key}` is not a Synapse setting\n--- document ---\n{yaml}"
        );
    }
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

/// The MAS fragment: YAML with the keys MAS's configuration reference names, each of the
/// type it takes (docs/reference/configuration.md). Not yet against MAS's published JSON
/// schema, which is not vendored.
pub fn mas_fragment(yaml: &str) -> bool {
    let doc: serde_yaml::Value = serde_yaml::from_str(yaml).expect("the MAS fragment parses");
    let text = |path: &[&str]| {
        let mut value = &doc;
        for key in path {
            value = &value[*key];
        }
        value
            .as_str()
            .unwrap_or_else(|| panic!("MAS fragment: {path:?} is not a string:\n{yaml}"))
            .to_string()
    };
    for path in [
        &["http", "public_base"][..],
        &["matrix", "homeserver"],
        &["matrix", "endpoint"],
        &["matrix", "secret_file"],
    ] {
        text(path);
    }
    assert!(text(&["http", "public_base"]).ends_with('/'), "{yaml}");
    assert!(
        doc["matrix"].get("secret").is_none(),
        "a secret in a generated file: {yaml}"
    );
    for network in doc["http"]["trusted_proxies"]
        .as_sequence()
        .expect("trusted_proxies")
    {
        let network = network.as_str().unwrap();
        let (ip, bits) = network.split_once('/').expect("a CIDR network");
        ip.parse::<std::net::IpAddr>().unwrap();
        bits.parse::<u8>().unwrap();
    }
    for listener in doc["http"]["listeners"].as_sequence().expect("listeners") {
        assert!(listener["name"].as_str().is_some(), "{yaml}");
        assert!(listener["resources"].as_sequence().is_some(), "{yaml}");
        assert!(listener["binds"].as_sequence().is_some(), "{yaml}");
    }
    true
}

/// Element Web's config.json: Element publishes no JSON schema for it (its keys are a
/// TypeScript interface), so the check is docs/config.md's: only documented keys, and
/// `default_server_config` in the form of the client well-known, naming the same homeserver.
fn element_web_config(plan: &Plan, content: &str) -> bool {
    let config: serde_json::Value = serde_json::from_str(content).expect("config.json is JSON");
    let documented = ["default_server_config"];
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
        let checked = if name.starts_with("nginx/") {
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
        } else if name.starts_with("traefik/dynamic/") {
            yaml_against_schema(&file.content, "traefik-v3-file-provider.json")
        } else if name == "docker-compose.yml" {
            yaml_against_schema(&file.content, "compose-spec.json")
                && yaml_against_schema(&file.content, "compose-spec.compose-go.json")
        } else if name == "synapse/mxproxy.yaml" {
            synapse_fragment(&file.content)
        } else if name == "mas/mxproxy.yaml" {
            mas_fragment(&file.content)
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
