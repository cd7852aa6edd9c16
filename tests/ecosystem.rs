//! Fitting the ecosystem, run as a user runs the binary: completions, man pages, MXPROXY_*
//! variables, `--format json`, quiet/verbose/colour, own templates, the Debian layout.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clap::CommandFactory;

use crate::common::{mxproxy, render_scenario, require_tool, scenario_names, validators};

/// A temp dir to run in, with `out/` as the default output folder.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = mxproxy();
        command.current_dir(self.dir.path()).args(args);
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().unwrap()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[track_caller]
fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

fn run_tool(tool: &Path, args: &[&str], input: &Path) -> Output {
    Command::new(tool).args(args).arg(input).output().unwrap()
}

// ---- completions and man pages ----

#[test]
fn completions_for_every_shell_name_the_subcommands_and_flags() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = env.run(&["completions", shell], &[]);
        assert_code(&output, 0);
        let script = stdout(&output);
        for word in [
            "generate",
            "completions",
            "templates",
            "server-name",
            "layout",
        ] {
            assert!(script.contains(word), "{shell}: no `{word}` in\n{script}");
        }
        env.write(&format!("mxproxy.{shell}"), &script);
    }
    // Each shell that can check syntax without running the script does so.
    for (shell, check) in [("bash", "-n"), ("zsh", "-n"), ("fish", "--no-execute")] {
        let Some(tool) = require_tool(shell) else {
            continue;
        };
        let output = run_tool(&tool, &[check], &env.path(&format!("mxproxy.{shell}")));
        assert_code(&output, 0);
    }
}

#[test]
fn completions_for_an_unknown_shell_are_a_usage_error() {
    let output = Env::new().run(&["completions", "tcsh"], &[]);
    assert_code(&output, 2);
    assert!(stderr(&output).contains("tcsh"), "{}", stderr(&output));
}

#[test]
fn man_pages_render_without_warnings_and_list_the_variables() {
    let env = Env::new();
    for (args, name, expect) in [
        (
            vec!["man"],
            "mxproxy.1",
            vec!["completions", "templates", "generate"],
        ),
        (
            vec!["man", "generate"],
            "mxproxy-generate.1",
            vec![
                "--server-name",
                "MXPROXY_SERVER_NAME",
                "--layout",
                "--format",
            ],
        ),
    ] {
        let output = env.run(&args, &[]);
        assert_code(&output, 0);
        let page = env.write(name, &stdout(&output));
        assert!(stdout(&output).starts_with(".ie"), "{name} is not roff");
        let Some(groff) = require_tool("groff") else {
            continue;
        };
        // -ww: every warning; -z: no output, only the parse.
        let checked = run_tool(&groff, &["-man", "-ww", "-z"], &page);
        assert_code(&checked, 0);
        assert_eq!(stderr(&checked), "", "groff warns about {name}");
        let text = Command::new(&groff)
            .args(["-man", "-Tutf8", "-P", "-cbou"])
            .arg(&page)
            .output()
            .unwrap();
        // groff hyphenates at the line end; undo it before looking for words.
        let text = stdout(&text).replace("‐\n", "").replace("-\n", "");
        let words: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for word in expect {
            assert!(words.contains(word), "{name}: no `{word}` in\n{text}");
        }
    }
}

#[test]
fn man_for_an_unknown_subcommand_names_the_pages_there_are() {
    let output = Env::new().run(&["man", "frobnicate"], &[]);
    assert_code(&output, 2);
    let err = stderr(&output);
    assert!(
        err.contains("`frobnicate`")
            && err.contains("generate")
            && err.contains("mxproxy man generate"),
        "{err}"
    );
}

// ---- environment variables ----

#[test]
fn every_generate_flag_reads_an_mxproxy_variable_and_help_shows_it() {
    let command = mxproxy::cli::Cli::command();
    let generate = command.find_subcommand("generate").unwrap();
    let help = stdout(&Env::new().run(&["generate", "--help"], &[]));
    let mut flags = 0;
    for arg in generate.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if long == "help" {
            continue;
        }
        flags += 1;
        let expected = format!("MXPROXY_{}", long.to_uppercase().replace('-', "_"));
        assert_eq!(
            arg.get_env().and_then(|e| e.to_str()),
            Some(expected.as_str()),
            "--{long}"
        );
        assert!(
            help.contains(&format!("[env: {expected}=]")),
            "--help does not show {expected}"
        );
    }
    assert!(flags >= 20, "only {flags} flags");
}

const FILE_SETUP: &str = "server_name: file.example\nfederation_port: 8448\nproxy: [nginx]\n";

fn server_well_known(env: &Env, out: &str) -> Option<String> {
    std::fs::read_to_string(env.path(&format!("{out}/well-known/matrix/server"))).ok()
}

#[test]
fn environment_overrides_the_file_and_flags_override_the_environment() {
    let env = Env::new();
    env.write("setup.yaml", FILE_SETUP);

    let from_file = env.run(&["generate", "--config", "setup.yaml", "--out", "a"], &[]);
    assert_code(&from_file, 0);
    assert!(
        env.read("a/nginx/matrix.file.example.conf")
            .contains("file.example")
    );

    let from_env = env.run(
        &["generate", "--config", "setup.yaml", "--out", "b"],
        &[("MXPROXY_SERVER_NAME", "env.example")],
    );
    assert_code(&from_env, 0);
    assert!(env.path("b/nginx/matrix.env.example.conf").is_file());
    // The rest of the file still applies.
    assert!(
        server_well_known(&env, "b")
            .unwrap()
            .contains("matrix.env.example:8448")
    );

    let from_flag = env.run(
        &[
            "generate",
            "--config",
            "setup.yaml",
            "--out",
            "c",
            "--server-name",
            "flag.example",
        ],
        &[("MXPROXY_SERVER_NAME", "env.example")],
    );
    assert_code(&from_flag, 0);
    assert!(env.path("c/nginx/matrix.flag.example.conf").is_file());
    assert!(!env.path("c/nginx/matrix.env.example.conf").exists());
}

#[test]
fn the_config_file_and_out_folder_can_come_from_the_environment() {
    let env = Env::new();
    env.write("setup.yaml", FILE_SETUP);
    let output = env.run(
        &["generate"],
        &[
            ("MXPROXY_CONFIG", "setup.yaml"),
            ("MXPROXY_OUT", "from-env"),
        ],
    );
    assert_code(&output, 0);
    assert!(
        env.path("from-env/nginx/matrix.file.example.conf")
            .is_file()
    );
}

#[test]
fn on_off_variables_read_the_usual_spellings_and_beat_the_file() {
    let env = Env::new();
    env.write("setup.yaml", "server_name: example.com\nproxy: [nginx]\n");
    for (value, federation) in [
        ("1", false),
        ("yes", false),
        ("on", false),
        ("0", true),
        ("false", true),
    ] {
        let out = format!("out-{value}");
        let output = env.run(
            &["generate", "--config", "setup.yaml", "--out", &out],
            &[("MXPROXY_NO_FEDERATION", value)],
        );
        assert_code(&output, 0);
        assert_eq!(
            server_well_known(&env, &out).is_some(),
            federation,
            "MXPROXY_NO_FEDERATION={value}"
        );
    }
}

#[test]
fn a_bad_value_from_the_environment_names_the_variable() {
    let env = Env::new();
    let output = env.run(
        &["generate", "--server-name", "example.com", "--dry-run"],
        &[("MXPROXY_UPSTREAM", "localhost")],
    );
    assert_code(&output, 2);
    let err = stderr(&output);
    assert!(
        err.contains("--upstream") && err.contains("127.0.0.1:6167"),
        "{err}"
    );
    assert!(err.contains("MXPROXY_UPSTREAM=localhost"), "{err}");

    // Given on the command line, the same value is not blamed on the environment.
    let output = env.run(
        &[
            "generate",
            "--server-name",
            "example.com",
            "--upstream",
            "localhost",
        ],
        &[("MXPROXY_UPSTREAM", "localhost")],
    );
    assert_code(&output, 2);
    assert!(
        !stderr(&output).contains("environment"),
        "{}",
        stderr(&output)
    );
}

// ---- --format json, -q, -v, colour ----

fn schema() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/generate-output.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[track_caller]
fn assert_matches_schema(json: &serde_json::Value) {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(json)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}\n{json:#}", errors.join("\n"));
}

fn json_run(env: &Env, args: &[&str]) -> serde_json::Value {
    let output = env.run(args, &[]);
    assert_code(&output, 0);
    serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("{e}:\n{}", stdout(&output)))
}

#[test]
fn json_output_matches_its_schema_and_the_files_on_disk() {
    let env = Env::new();
    let json = json_run(
        &env,
        &[
            "generate",
            "--server-name",
            "example.com",
            "--out",
            "out",
            "--format",
            "json",
        ],
    );
    assert_matches_schema(&json);
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["dry_run"], false);
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 8, "{json:#}");
    for file in files {
        let path = env.path(file["written_to"].as_str().unwrap());
        let content = std::fs::read(&path).unwrap();
        assert_eq!(
            file["sha256"],
            mxproxy::report::sha256_hex(&content),
            "{path:?}"
        );
        assert_eq!(file["bytes"], content.len());
        assert_eq!(file["status"], "created");
    }
    let ids: Vec<&str> = json["next_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "dns",
            "firewall",
            "homeserver",
            "nginx",
            "apache",
            "caddy",
            "traefik",
            "check"
        ]
    );
    let nginx = &json["next_steps"][3];
    let commands: Vec<&str> = nginx["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "command")
        .map(|i| i["text"].as_str().unwrap())
        .collect();
    assert!(
        commands.contains(&"nginx -t && systemctl reload nginx"),
        "{commands:?}"
    );
    // A command continued over two lines with `\` is one command.
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("certbot certonly") && c.contains("--post-hook")),
        "{commands:?}"
    );

    // Run again: the same object, every file unchanged.
    let again = json_run(
        &env,
        &[
            "generate",
            "--server-name",
            "example.com",
            "--out",
            "out",
            "--format",
            "json",
        ],
    );
    assert!(
        again["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] == "unchanged")
    );
    assert_eq!(again["next_steps"], json["next_steps"]);
}

#[test]
fn json_dry_run_carries_the_diff_and_writes_nothing() {
    let env = Env::new();
    let json = json_run(
        &env,
        &[
            "generate",
            "--server-name",
            "example.com",
            "--proxy",
            "caddy",
            "--out",
            "out",
            "--format",
            "json",
            "--dry-run",
        ],
    );
    assert_matches_schema(&json);
    assert_eq!(json["dry_run"], true);
    assert!(
        json["diff"]
            .as_str()
            .unwrap()
            .contains("+++ out/caddy/Caddyfile")
    );
    assert!(!env.path("out").exists());
}

#[test]
fn each_json_step_is_printed_in_the_human_summary() {
    let env = Env::new();
    for args in [
        vec!["--compose", "--proxy", "nginx"],
        vec![
            "--no-federation",
            "--tls",
            "none",
            "--proxy",
            "haproxy,caddy",
        ],
        vec!["--layout", "debian"],
    ] {
        let base = ["generate", "--server-name", "example.com", "--dry-run"];
        let all: Vec<&str> = base.iter().copied().chain(args.iter().copied()).collect();
        let human = stdout(&env.run(&all, &[]));
        let mut json_args = all.clone();
        json_args.extend(["--format", "json"]);
        let json = json_run(&env, &json_args);
        assert_matches_schema(&json);
        // The markup that structures the steps never reaches a reader.
        assert!(!human.contains("@step") && !human.contains("$ "), "{human}");
        let flat = human.replace(" \\\n   ", "");
        for step in json["next_steps"].as_array().unwrap() {
            assert!(
                human.contains(step["title"].as_str().unwrap()),
                "{args:?}: {step}"
            );
            for item in step["items"].as_array().unwrap() {
                let text = item["text"].as_str().unwrap();
                assert!(
                    human.contains(text) || flat.contains(text),
                    "{args:?}: `{text}` is not in\n{human}"
                );
            }
        }
    }
}

#[test]
fn quiet_prints_only_errors_and_verbose_names_the_templates() {
    let env = Env::new();
    let quiet = env.run(&["generate", "--server-name", "example.com", "-q"], &[]);
    assert_code(&quiet, 0);
    assert_eq!(stdout(&quiet), "");
    assert_eq!(stderr(&quiet), "");
    assert!(env.path("mxproxy-out/caddy/Caddyfile").is_file());

    let failing = env.run(&["generate", "-q"], &[]);
    assert_code(&failing, 2);
    assert!(stderr(&failing).contains("--server-name is required"));

    let verbose = env.run(&["generate", "--server-name", "example.com", "-v"], &[]);
    assert_code(&verbose, 0);
    assert!(
        stderr(&verbose).contains("caddy/Caddyfile <- built-in caddy/Caddyfile.j2 sha256:"),
        "{}",
        stderr(&verbose)
    );
    let both = env.run(
        &["generate", "--server-name", "example.com", "-q", "-v"],
        &[],
    );
    assert_code(&both, 2);
}

#[test]
fn colour_only_when_asked_and_never_with_no_color() {
    const ESC: char = '\u{1b}';
    let env = Env::new();
    let args = ["generate", "--server-name", "example.com", "--dry-run"];
    // Not a terminal: plain text.
    assert!(!stdout(&env.run(&args, &[])).contains(ESC));
    // CLICOLOR_FORCE stands in for a terminal.
    assert!(stdout(&env.run(&args, &[("CLICOLOR_FORCE", "1")])).contains(ESC));
    let no_color = env.run(&args, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!stdout(&no_color).contains(ESC));
    let error = env.run(&["generate"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!stderr(&error).contains(ESC), "{}", stderr(&error));
    let error = env.run(&["generate"], &[("CLICOLOR_FORCE", "1")]);
    assert!(stderr(&error).contains(ESC), "{}", stderr(&error));
    // JSON is never coloured.
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    assert!(!stdout(&env.run(&json_args, &[("CLICOLOR_FORCE", "1")])).contains(ESC));
}

// ---- own templates ----

#[test]
fn exported_templates_render_the_same_files_as_the_built_in_ones() {
    let env = Env::new();
    let export = env.run(&["templates", "export", "tpl"], &[]);
    assert_code(&export, 0);
    let names: Vec<String> = mxproxy::render::builtin_templates()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert!(names.len() >= 15, "{names:?}");
    for name in &names {
        assert!(
            env.path(&format!("tpl/{name}")).is_file(),
            "{name} not exported"
        );
    }
    let builtin = env.run(
        &[
            "generate",
            "--server-name",
            "example.com",
            "--out",
            "a",
            "--compose",
        ],
        &[],
    );
    let own = env.run(
        &[
            "generate",
            "--server-name",
            "example.com",
            "--out",
            "b",
            "--compose",
            "--templates",
            "tpl",
        ],
        &[],
    );
    assert_code(&builtin, 0);
    assert_code(&own, 0);
    for file in [
        "nginx/matrix.example.com.conf",
        "docker-compose.yml",
        "well-known/matrix/server",
    ] {
        assert_eq!(
            env.read(&format!("a/{file}")),
            env.read(&format!("b/{file}")),
            "{file}"
        );
    }

    // A second export leaves an edited copy alone unless --force.
    env.write("tpl/nginx/site.conf.j2", "edited\n");
    let again = env.run(&["templates", "export", "tpl"], &[]);
    assert_code(&again, 1);
    assert!(
        stderr(&again).contains("nginx/site.conf.j2"),
        "{}",
        stderr(&again)
    );
    assert_eq!(env.read("tpl/nginx/site.conf.j2"), "edited\n");
    assert_code(&env.run(&["templates", "export", "tpl", "--force"], &[]), 0);
    assert_ne!(env.read("tpl/nginx/site.conf.j2"), "edited\n");
}

#[test]
fn a_users_template_replaces_only_its_own_file_and_sees_the_plan() {
    let env = Env::new();
    // Only the one file the user changes; the rest come from the built-in set.
    env.write(
        "tpl/nginx/site.conf.j2",
        "# mine for {{ server_name }} via {{ homeserver_host }}, {{ limits.max_upload_bytes }} bytes\n",
    );
    let output = env.run(
        &[
            "generate",
            "--server-name",
            "example.com",
            "--proxy",
            "nginx,caddy",
            "--templates",
            "tpl",
            "-v",
        ],
        &[],
    );
    assert_code(&output, 0);
    assert_eq!(
        env.read("mxproxy-out/nginx/matrix.example.com.conf"),
        "# mine for example.com via matrix.example.com, 20971520 bytes\n"
    );
    assert!(
        env.read("mxproxy-out/caddy/Caddyfile")
            .contains("reverse_proxy")
    );
    let err = stderr(&output);
    assert!(
        err.contains("warning: rendered with your own templates (nginx/site.conf.j2)"),
        "{err}"
    );
    assert!(err.contains("tpl/nginx/site.conf.j2 sha256:"), "{err}");
}

#[test]
fn template_errors_name_the_users_file_and_line() {
    let env = Env::new();
    let generate = |env: &Env| {
        env.run(
            &[
                "generate",
                "--server-name",
                "example.com",
                "--proxy",
                "nginx",
                "--templates",
                "tpl",
            ],
            &[],
        )
    };
    // A syntax error, found when the folder is read.
    env.write("tpl/nginx/site.conf.j2", "line one\n{% if %}\n");
    let output = generate(&env);
    assert_code(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("`tpl/nginx/site.conf.j2:2`"), "{err}");
    assert!(err.contains("syntax error"), "{err}");

    // A field the plan does not have: strict undefined stops the render.
    env.write(
        "tpl/nginx/site.conf.j2",
        "one\ntwo\n{{ no_such_field.name }}\n",
    );
    let output = generate(&env);
    assert_code(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("tpl/nginx/site.conf.j2:3"), "{err}");
    assert!(err.contains("undefined"), "{err}");
    assert!(
        !env.path("mxproxy-out").exists(),
        "nothing is written after a failed render"
    );
}

#[test]
fn a_template_file_that_replaces_nothing_is_refused() {
    let env = Env::new();
    env.write("tpl/ngnix/site.conf.j2", "typo\n");
    env.write("tpl/README.md", "not a template, ignored\n");
    let output = env.run(
        &[
            "generate",
            "--server-name",
            "example.com",
            "--templates",
            "tpl",
        ],
        &[],
    );
    assert_code(&output, 2);
    let err = stderr(&output);
    assert!(
        err.contains("ngnix/site.conf.j2") && err.contains("templates export"),
        "{err}"
    );
}

// ---- the Debian layout ----

const DEBIAN_FILES: &[&str] = &[
    "etc/nginx/sites-available/matrix.example.com.conf",
    "etc/apache2/sites-available/matrix.example.com.conf",
    // Read after mods-enabled/mpm_*.conf, whose values it overrides.
    "etc/apache2/conf-available/mxproxy-capacity.conf",
    "etc/caddy/Caddyfile",
    "etc/traefik/traefik.yml",
    "etc/traefik/dynamic/matrix.example.com.yml",
    "var/www/mxproxy/.well-known/matrix/server",
    "var/www/mxproxy/.well-known/matrix/client",
];

#[test]
fn debian_layout_puts_files_where_the_packages_read_them() {
    let env = Env::new();
    let output = env.run(
        &[
            "generate",
            "--server-name",
            "example.com",
            "--layout",
            "debian",
            "--out",
            "root",
        ],
        &[],
    );
    assert_code(&output, 0);
    for file in DEBIAN_FILES {
        assert!(env.path(&format!("root/{file}")).is_file(), "{file}");
    }
    let summary = stdout(&output);
    for command in [
        "cp root/etc/nginx/sites-available/matrix.example.com.conf /etc/nginx/sites-available/",
        "ln -s ../sites-available/matrix.example.com.conf /etc/nginx/sites-enabled/",
        "nginx -t && systemctl reload nginx",
        "a2enmod ssl http2 proxy proxy_http headers alias && a2ensite matrix.example.com",
        "a2dismod mpm_event && a2enmod mpm_worker && a2enconf mxproxy-capacity",
        "apache2ctl configtest && systemctl restart apache2",
        "certbot certonly --standalone --cert-name matrix.example.com -d example.com -d matrix.example.com",
    ] {
        assert!(summary.contains(command), "no `{command}` in\n{summary}");
    }
    assert!(stderr(&output).contains("etc/caddy/Caddyfile is caddy's whole configuration"));
    // The same content as the folder layout, only elsewhere.
    let folder = env.run(
        &[
            "generate",
            "--server-name",
            "example.com",
            "--out",
            "folder",
        ],
        &[],
    );
    assert_code(&folder, 0);
    assert_eq!(
        env.read("folder/nginx/matrix.example.com.conf"),
        env.read("root/etc/nginx/sites-available/matrix.example.com.conf")
    );
}

#[test]
fn debian_layout_dry_run_against_the_live_system_prints_no_copy_steps() {
    // A dry run only reads `/`, so it needs no --force; it shows what would change in /etc.
    let output = Env::new().run(
        &[
            "generate",
            "--server-name",
            "example.com",
            "--layout",
            "debian",
            "--proxy",
            "nginx",
            "--out",
            "/",
            "--dry-run",
        ],
        &[],
    );
    assert_code(&output, 0);
    let summary = stdout(&output);
    assert!(
        summary.contains("nginx (/etc/nginx/sites-available/matrix.example.com.conf):"),
        "{summary}"
    );
    assert!(
        summary
            .contains("ln -s ../sites-available/matrix.example.com.conf /etc/nginx/sites-enabled/")
    );
    assert!(!summary.contains("cp /etc/nginx"), "{summary}");
}

#[test]
fn out_root_is_refused_without_force() {
    let env = Env::new();
    for out in ["/", "//", "/etc/.."] {
        for layout in ["debian", "folder"] {
            let output = env.run(
                &[
                    "generate",
                    "--server-name",
                    "example.com",
                    "--layout",
                    layout,
                    "--out",
                    out,
                ],
                &[],
            );
            assert_code(&output, 2);
            let err = stderr(&output);
            assert!(
                err.contains(&format!("--out {out}")) && err.contains("--force"),
                "{err}"
            );
        }
    }
}

#[test]
fn debian_layout_and_compose_do_not_mix() {
    let output = Env::new().run(
        &[
            "generate",
            "--server-name",
            "example.com",
            "--layout",
            "debian",
            "--compose",
        ],
        &[],
    );
    assert_code(&output, 2);
    assert!(
        stderr(&output).contains("--layout debian"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn debian_layout_is_accepted_by_the_real_servers() {
    let env = Env::new();
    let root = env.path("root");
    let cert = crate::common::pki::TestCa::new().issue(
        env.dir.path(),
        &["example.com".to_string(), "matrix.example.com".to_string()],
    );
    let output = env.run(
        &[
            "generate",
            "--server-name",
            "example.com",
            "--layout",
            "debian",
            "--proxy",
            "nginx,apache,caddy,haproxy",
            "--tls",
            "files",
            "--tls-cert",
            cert.cert.to_str().unwrap(),
            "--tls-key",
            cert.key.to_str().unwrap(),
            "--out",
            root.to_str().unwrap(),
        ],
        &[],
    );
    assert_code(&output, 0);
    // The test main configs include the written paths the way Debian's do: a glob over
    // sites-available stands in for the sites-enabled symlinks.
    let checks = env.path("checks");
    std::fs::create_dir_all(&checks).unwrap();
    validators::nginx(&checks, &root.join("etc/nginx/sites-available/*.conf"));
    validators::apache(&checks, &root.join("etc/apache2/sites-available/*.conf"));
    validators::caddy(&root.join("etc/caddy/Caddyfile"));
    // HAProxy reads certificate and key from one file at a fixed path below /etc/haproxy.
    let haproxy = std::fs::read_to_string(root.join("etc/haproxy/haproxy.cfg")).unwrap();
    let combined = "/etc/haproxy/certs/matrix.example.com.pem";
    assert!(haproxy.contains(combined), "{haproxy}");
    let haproxy_cfg = env.write(
        "checks/haproxy.cfg",
        &haproxy.replace(combined, cert.combined.to_str().unwrap()),
    );
    validators::haproxy(&haproxy_cfg);
    // The Apache site serves the well-known files from the webroot they were written to.
    let apache =
        std::fs::read_to_string(root.join("etc/apache2/sites-available/matrix.example.com.conf"))
            .unwrap();
    assert!(apache.contains("Alias /.well-known/matrix/ /var/www/mxproxy/.well-known/matrix/"));
    assert!(
        root.join("var/www/mxproxy/.well-known/matrix/server")
            .is_file()
    );
}

// ---- the README documents the template context ----

fn field_paths(value: &serde_json::Value, prefix: &str, paths: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                paths.insert(path.clone());
                field_paths(inner, &path, paths);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                field_paths(item, &format!("{prefix}[]"), paths);
            }
        }
        _ => {}
    }
}

#[test]
fn readme_lists_every_field_a_template_sees() {
    let mut actual = BTreeSet::new();
    for name in scenario_names() {
        let (plan, _) = render_scenario(&name);
        field_paths(&serde_json::to_value(&plan).unwrap(), "", &mut actual);
    }
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("<!-- plan-fields:start -->")
        .expect("start marker");
    let end = readme.find("<!-- plan-fields:end -->").expect("end marker");
    let documented: BTreeSet<String> = readme[start..end]
        .lines()
        .filter_map(|line| line.strip_prefix("- `"))
        .filter_map(|rest| rest.split('`').next())
        .map(String::from)
        .collect();
    let missing: Vec<&String> = actual.difference(&documented).collect();
    let stale: Vec<&String> = documented.difference(&actual).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README template context: undocumented {missing:?}, no longer in the plan {stale:?}"
    );
}
