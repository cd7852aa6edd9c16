//! The wizard: its logic driven by a script of answers, and the real binary driven in a
//! pseudo-terminal the way a person types.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession;
use expectrl::{Eof, Expect, Session};

use mxproxy::cli::GenerateArgs;
use mxproxy::config::{self, SetupLayer};
use mxproxy::setup::{ByteSize, Port, ServerName, Upstream};
use mxproxy::wizard::{self, Decision, Prompter, Question, Stop};

use crate::common::{self, mxproxy};

// ---------------------------------------------------------------------------------------
// The logic, from a script.

#[derive(Debug, Clone)]
enum Answer {
    Text(&'static str),
    Pick(usize),
    Picks(&'static [usize]),
    Yes,
    No,
    Esc,
}

/// Each answer names the question it is for, so a test fails at the first question that
/// comes out of order. `log` records what a person would have seen.
struct Script {
    answers: VecDeque<(&'static str, Answer)>,
    log: Vec<String>,
}

impl Script {
    fn new(answers: &[(&'static str, Answer)]) -> Script {
        Script {
            answers: answers.iter().cloned().collect(),
            log: Vec::new(),
        }
    }

    fn next(&mut self, question: &Question) -> Result<Answer, Stop> {
        let (key, answer) = self.answers.pop_front().unwrap_or_else(|| {
            panic!(
                "no answer left for `{}`; so far:\n{}",
                question.key,
                self.log.join("\n")
            )
        });
        assert_eq!(
            key,
            question.key,
            "answer for `{key}` met question `{}`; so far:\n{}",
            question.key,
            self.log.join("\n")
        );
        assert!(!question.help.is_empty(), "`{key}` has no explanation");
        match answer {
            Answer::Esc => Err(Stop::Cancelled),
            answer => Ok(answer),
        }
    }

    fn refusals(&self) -> Vec<&str> {
        self.log
            .iter()
            .filter_map(|line| line.strip_prefix("refused: "))
            .collect()
    }

    fn done(&self) {
        assert!(
            self.answers.is_empty(),
            "answers left over: {:?}",
            self.answers
        );
    }
}

impl Prompter for Script {
    fn say(&mut self, text: &str) {
        self.log.push(format!("said: {text}"));
    }

    fn refuse(&mut self, message: &str) {
        self.log.push(format!("refused: {message}"));
    }

    fn text(
        &mut self,
        question: &Question,
        default: Option<&str>,
        check: &mut dyn FnMut(&str) -> Result<(), String>,
    ) -> Result<String, Stop> {
        loop {
            self.log.push(format!(
                "asked {} [{}]",
                question.key,
                default.unwrap_or("")
            ));
            let text = match self.next(question)? {
                Answer::Text(text) => text,
                other => panic!("`{}` is a text question, got {other:?}", question.key),
            };
            match check(text) {
                Ok(()) => return Ok(text.to_string()),
                Err(message) => self.refuse(&message),
            }
        }
    }

    fn select(
        &mut self,
        question: &Question,
        items: &[String],
        default: usize,
    ) -> Result<usize, Stop> {
        self.log
            .push(format!("asked {} [{}]", question.key, items[default]));
        match self.next(question)? {
            Answer::Pick(index) => {
                assert!(index < items.len());
                Ok(index)
            }
            Answer::Text("") => Ok(default),
            other => panic!("`{}` is a list, got {other:?}", question.key),
        }
    }

    fn multi_select(
        &mut self,
        question: &Question,
        items: &[String],
        checked: &[bool],
    ) -> Result<Vec<usize>, Stop> {
        let shown: Vec<String> = items
            .iter()
            .zip(checked)
            .map(|(item, on)| format!("{}{item}", if *on { "+" } else { "-" }))
            .collect();
        self.log
            .push(format!("asked {} [{}]", question.key, shown.join(" ")));
        match self.next(question)? {
            Answer::Picks(picks) => Ok(picks.to_vec()),
            Answer::Text("") => Ok((0..items.len()).filter(|i| checked[*i]).collect()),
            other => panic!("`{}` is a multi-select, got {other:?}", question.key),
        }
    }

    fn confirm(&mut self, question: &Question, default: bool) -> Result<bool, Stop> {
        self.log
            .push(format!("asked {} [{}]", question.key, default));
        match self.next(question)? {
            Answer::Yes => Ok(true),
            Answer::No => Ok(false),
            Answer::Text("") => Ok(default),
            other => panic!("`{}` is yes/no, got {other:?}", question.key),
        }
    }
}

use Answer::{Esc, No, Pick, Picks, Text, Yes};

/// Enter: the default, whatever kind of question.
const ENTER: Answer = Text("");

fn defaults_after(server_name: &'static str) -> Vec<(&'static str, Answer)> {
    vec![
        ("server_name", Text(server_name)),
        ("homeserver_host", ENTER),
        ("homeserver", ENTER),
        ("upstream", ENTER),
        ("federation_port", ENTER),
        ("tls", ENTER),
        ("acme_email", ENTER),
        ("max_upload", ENTER),
        ("proxy", ENTER),
        ("compose", ENTER),
        ("rtc", ENTER),
        ("element_web", ENTER),
        ("out", ENTER),
    ]
}

fn flags(args: &[&str]) -> GenerateArgs {
    use clap::Parser;
    let cli =
        mxproxy::cli::Cli::try_parse_from(["mxproxy", "generate"].iter().chain(args).copied())
            .unwrap_or_else(|e| panic!("{e}"));
    match cli.command {
        Some(mxproxy::cli::Command::Generate(command)) => command.setup,
        other => panic!("{other:?}"),
    }
}

fn interview(prefill: &SetupLayer, script: &mut Script) -> Result<SetupLayer, Stop> {
    wizard::interview(script, prefill)
}

fn setup_of(answers: &SetupLayer) -> mxproxy::setup::Setup {
    config::merge(answers, SetupLayer::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn script_defaults_give_the_flags_setup() {
    let mut script = Script::new(&defaults_after("example.org"));
    let answers = interview(&SetupLayer::default(), &mut script).unwrap();
    script.done();
    assert!(script.refusals().is_empty(), "{:?}", script.log);
    assert_eq!(
        setup_of(&answers),
        setup_of(&flags(&["--server-name", "example.org"]))
    );
    assert!(
        script
            .log
            .contains(&"asked homeserver_host [matrix.example.org]".to_string()),
        "{:?}",
        script.log
    );
    assert!(
        script
            .log
            .contains(&"asked upstream [127.0.0.1:6167]".to_string())
    );
    assert!(script.log.contains(&"asked max_upload [20M]".to_string()));
    // Every proxy is offered; the default set comes checked, as for `generate`.
    assert!(
        script
            .log
            .contains(&"asked proxy [+nginx +apache +caddy +traefik -haproxy]".to_string()),
        "{:?}",
        script.log
    );
}

#[test]
fn script_bad_answers_are_asked_again_with_the_validators_message() {
    let mut script = Script::new(&[
        ("server_name", Text("Example.org")),
        ("server_name", Text("example.org:8448")),
        ("server_name", Text("example.org")),
        ("homeserver_host", ENTER),
        ("homeserver", ENTER),
        ("upstream", Text("localhost")),
        ("upstream", ENTER),
        // another port: 70000 is no port, 80 is one that merge refuses for federation
        ("federation_port", Pick(2)),
        ("federation_port", Text("70000")),
        ("federation_port", Text("80")),
        ("federation_port", Text("8448")),
        ("tls", ENTER),
        ("acme_email", ENTER),
        ("max_upload", Text("20MB")),
        ("max_upload", Text(" 20M")),
        ("max_upload", Text("9223372036854775808")),
        ("max_upload", Text("100M")),
        ("proxy", ENTER),
        ("compose", ENTER),
        ("rtc", ENTER),
        ("element_web", ENTER),
        ("out", ENTER),
    ]);
    let result = interview(&SetupLayer::default(), &mut script).unwrap();
    script.done();

    let message = |value: &str, err: String| format!("\"{value}\": {err}");
    let expected = vec![
        message(
            "Example.org",
            "Example.org".parse::<ServerName>().unwrap_err().to_string(),
        ),
        message(
            "example.org:8448",
            "example.org:8448"
                .parse::<ServerName>()
                .unwrap_err()
                .to_string(),
        ),
        message(
            "localhost",
            "localhost".parse::<Upstream>().unwrap_err().to_string(),
        ),
        message("70000", "70000".parse::<Port>().unwrap_err().to_string()),
        // merge's own message, as for --federation-port 80
        config::merge(
            &flags(&["--server-name", "a.b", "--federation-port", "80"]),
            SetupLayer::default(),
        )
        .unwrap_err()
        .to_string(),
        message("20MB", "20MB".parse::<ByteSize>().unwrap_err().to_string()),
        message(" 20M", " 20M".parse::<ByteSize>().unwrap_err().to_string()),
        message(
            "9223372036854775808",
            "9223372036854775808"
                .parse::<ByteSize>()
                .unwrap_err()
                .to_string(),
        ),
    ];
    assert_eq!(script.refusals(), expected);
    let setup = setup_of(&result);
    assert_eq!(setup.federation_port.map(Port::get), Some(8448));
    assert_eq!(setup.max_upload.to_string(), "100M");
}

#[test]
fn script_flags_and_config_prefill_every_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("setup.yaml");
    std::fs::write(
        &path,
        "server_name: example.net\nfederation_port: 8448\nmax_upload: 64M\nproxy: [caddy, nginx]\ntls: files\ntls_cert: /c.pem\ntls_key: /k.pem\n",
    )
    .unwrap();
    let given = flags(&[
        "--config",
        path.to_str().unwrap(),
        "--homeserver-host",
        "hs.example.net",
        "--max-upload",
        "32M",
        // No question asks it: carried through from the flags.
        "--clients",
        "5000",
    ]);
    let file = config::read_file(&path).unwrap();
    let prefill = given.layer.clone().or(file);
    let mut script = Script::new(&[
        ("server_name", ENTER),
        ("homeserver_host", ENTER),
        ("homeserver", ENTER),
        ("upstream", ENTER),
        ("federation_port", ENTER),
        ("tls", ENTER),
        ("tls_cert", ENTER),
        ("tls_key", ENTER),
        ("max_upload", ENTER),
        ("proxy", ENTER),
        ("compose", ENTER),
        ("rtc", ENTER),
        ("element_web", ENTER),
        ("out", ENTER),
    ]);
    let answers = interview(&prefill, &mut script).unwrap();
    script.done();
    for line in [
        "asked server_name [example.net]",
        "asked homeserver_host [hs.example.net]",
        "asked federation_port [8448, the Matrix federation port (one more listener)]",
        "asked tls_cert [/c.pem]",
        "asked max_upload [32M]",
        // the file's order first: the compose stack would run caddy
        "asked proxy [+caddy +nginx -apache -traefik -haproxy]",
    ] {
        assert!(
            script.log.contains(&line.to_string()),
            "{line}\n{:#?}",
            script.log
        );
    }
    assert_eq!(
        setup_of(&answers),
        mxproxy::pipeline::setup_from(&given).unwrap(),
        "accepting every default gives what generate gives for the same flags and file"
    );
}

/// `first` as the upstream, yes to the compose stack, then `again` to each upstream
/// question the refusals bring back: the refusals and the setup the interview ends with.
fn compose_with_upstream(
    first: &'static str,
    again: [Answer; 2],
) -> (Vec<String>, mxproxy::setup::Setup) {
    let mut answers = defaults_after("example.org");
    answers[3] = ("upstream", Text(first));
    let at = answers.iter().position(|(k, _)| *k == "compose").unwrap();
    let [second, third] = again;
    answers.splice(
        at..at + 1,
        [("compose", Yes), ("upstream", second), ("upstream", third)],
    );
    let mut script = Script::new(&answers);
    let result = interview(&SetupLayer::default(), &mut script).unwrap();
    script.done();
    let refusals = script.refusals().iter().map(|r| r.to_string()).collect();
    let setup = setup_of(&result);
    assert!(setup.compose);
    (refusals, setup)
}

#[test]
fn script_compose_with_an_address_upstream_asks_for_a_service_name() {
    let (refusals, setup) = compose_with_upstream(
        "10.0.0.5:8008",
        [Text("[2001:db8::5]:8008"), Text("conduit:8008")],
    );
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert!(
        refusals[0].contains("10.0.0.5:8008 is an IP address")
            && refusals[0].contains("never reach it"),
        "{refusals:?}"
    );
    assert_eq!(setup.upstream.to_string(), "conduit:8008");
}

#[test]
fn script_compose_with_a_loopback_upstream_asks_for_the_upstream_again() {
    let (refusals, setup) =
        compose_with_upstream("127.0.0.1:8008", [Text("localhost:8008"), ENTER]);
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert!(refusals[0].contains("points at the proxy container itself"));
    assert_eq!(setup.upstream.to_string(), "homeserver:6167");
}

#[test]
fn script_default_upstream_follows_the_compose_answer() {
    let mut answers = defaults_after("example.org");
    let at = answers.iter().position(|(k, _)| *k == "compose").unwrap();
    answers.splice(at..at + 1, [("compose", Yes)]);
    let mut script = Script::new(&answers);
    let setup = setup_of(&interview(&SetupLayer::default(), &mut script).unwrap());
    assert_eq!(
        setup,
        setup_of(&flags(&["--server-name", "example.org", "--compose"]))
    );
}

/// Calls are asked with the compose stack too, where LiveKit and its authorization service
/// are services reached by name: the same setup as the flags.
#[test]
fn script_calls_in_the_compose_stack_match_the_flags() {
    let mut answers = defaults_after("example.org");
    let at = answers.iter().position(|(k, _)| *k == "compose").unwrap();
    answers.splice(at..at + 2, [("compose", Yes), ("rtc", Yes)]);
    let mut script = Script::new(&answers);
    let setup = setup_of(&interview(&SetupLayer::default(), &mut script).unwrap());
    script.done();
    let mut expected = setup_of(&flags(&[
        "--server-name",
        "example.org",
        "--compose",
        "--rtc",
    ]));
    // The wizard said it left Traefik out as it did so; generate keeps it as a warning.
    expected.warnings.clear();
    assert_eq!(setup, expected);
    let rtc = setup.rtc.expect("calls were answered yes");
    assert_eq!(rtc.livekit.to_string(), "livekit:7880");
    assert_eq!(rtc.auth.to_string(), "lk-jwt-service:8070");
}

#[test]
fn script_listen_addresses_conflict_at_the_question_that_causes_it() {
    let prefill = flags(&["--listen-address", "192.0.2.1,192.0.2.2"]);
    let mut answers = defaults_after("example.org");
    let at = answers.iter().position(|(k, _)| *k == "proxy").unwrap();
    answers.splice(
        at..at + 2,
        [
            ("proxy", Picks(&[])),
            ("proxy", ENTER),
            ("proxy", Picks(&[0, 2])),
            ("compose", Yes),
            ("compose", No),
        ],
    );
    let mut script = Script::new(&answers);
    let setup = setup_of(&interview(&prefill, &mut script).unwrap());
    script.done();
    let refusals = script.refusals();
    assert_eq!(refusals.len(), 3, "{refusals:?}");
    assert!(refusals[0].contains("no proxy is checked"));
    assert!(refusals[1].contains("Traefik entry point listens on one address"));
    assert!(refusals[2].contains("does not apply to the compose stack"));
    assert_eq!(setup.proxies.len(), 2);
    assert!(!setup.compose);
}

#[test]
fn script_tls_answers_replace_the_prefilled_mode() {
    let prefill = flags(&[
        "--tls",
        "files",
        "--tls-cert",
        "/c.pem",
        "--tls-key",
        "/k.pem",
    ]);
    let mut answers = defaults_after("example.org");
    let at = answers.iter().position(|(k, _)| *k == "tls").unwrap();
    answers.splice(
        at..at + 2,
        [
            ("tls", Pick(0)),
            ("acme_email", Text("not-an-address")),
            ("acme_email", Text("admin@example.org")),
        ],
    );
    let mut script = Script::new(&answers);
    let setup = setup_of(&interview(&prefill, &mut script).unwrap());
    script.done();
    assert_eq!(
        setup,
        setup_of(&flags(&[
            "--server-name",
            "example.org",
            "--acme-email",
            "admin@example.org"
        ]))
    );
}

/// The defaults for Synapse, with `mas` answers put in after the upstream question.
fn synapse_with(mas: &[(&'static str, Answer)]) -> Vec<(&'static str, Answer)> {
    let mut answers = defaults_after("example.org");
    answers[2] = ("homeserver", Pick(1));
    answers.splice(4..4, mas.iter().cloned());
    answers
}

#[test]
fn script_mas_on_its_own_host_gives_the_flags_setup() {
    let mut script = Script::new(&synapse_with(&[
        ("mas", Yes),
        ("mas_public", ENTER),
        ("mas_host", ENTER),
        ("mas_upstream", ENTER),
    ]));
    let answers = interview(&SetupLayer::default(), &mut script).unwrap();
    script.done();
    assert!(script.refusals().is_empty(), "{:?}", script.log);
    for line in [
        "asked mas [false]",
        "asked mas_public [a host of its own, e.g. auth.example.org (one more certificate name)]",
        // merge's defaults, offered
        "asked mas_host [auth.example.org]",
        "asked mas_upstream [127.0.0.1:8080]",
    ] {
        assert!(
            script.log.contains(&line.to_string()),
            "{line}\n{:#?}",
            script.log
        );
    }
    let flags = flags(&[
        "--server-name",
        "example.org",
        "--homeserver",
        "synapse",
        "--mas",
    ]);
    assert_eq!(setup_of(&answers), setup_of(&flags));
    // The offered upstream was taken: its flag stays unset, as without --mas-upstream.
    assert_eq!(answers.mas_upstream, None);
}

#[test]
fn script_mas_host_answers_are_checked_like_the_flags() {
    let mut script = Script::new(&synapse_with(&[
        ("mas", Yes),
        ("mas_public", Pick(0)),
        // the homeserver host itself: merge's refusal, word for word
        ("mas_host", Text("matrix.example.org")),
        ("mas_host", Text("login.example.org")),
        ("mas_upstream", Text("127.0.0.1:8008")),
        ("mas_upstream", Text("[::1]:9000")),
    ]));
    let answers = interview(&SetupLayer::default(), &mut script).unwrap();
    script.done();
    let expected = [
        config::merge(
            &flags(&[
                "--server-name",
                "example.org",
                "--homeserver",
                "synapse",
                "--mas",
                "--mas-host",
                "matrix.example.org",
            ]),
            SetupLayer::default(),
        )
        .unwrap_err()
        .to_string(),
        config::merge(
            &flags(&[
                "--server-name",
                "example.org",
                "--homeserver",
                "synapse",
                "--mas",
                "--mas-upstream",
                "127.0.0.1:8008",
            ]),
            SetupLayer::default(),
        )
        .unwrap_err()
        .to_string(),
    ];
    assert_eq!(script.refusals(), expected);
    let same = flags(&[
        "--server-name",
        "example.org",
        "--homeserver",
        "synapse",
        "--mas",
        "--mas-host",
        "login.example.org",
        "--mas-upstream",
        "[::1]:9000",
    ]);
    assert_eq!(setup_of(&answers), setup_of(&same));
}

#[test]
fn script_mas_below_a_path_gives_the_flags_setup() {
    let mut script = Script::new(&synapse_with(&[
        ("mas", Yes),
        ("mas_public", Pick(1)),
        ("mas_path", Text("auth")),
        ("mas_path", Text("/_synapse/auth")),
        ("mas_path", ENTER),
        ("mas_upstream", Text("127.0.0.1:8090")),
    ]));
    let answers = interview(&SetupLayer::default(), &mut script).unwrap();
    script.done();
    assert!(
        script.log.contains(&"asked mas_path [/auth]".to_string()),
        "{:#?}",
        script.log
    );
    let message = |value: &str| {
        format!(
            "\"{value}\": {}",
            value.parse::<mxproxy::setup::UrlPrefix>().unwrap_err()
        )
    };
    assert_eq!(
        script.refusals(),
        [message("auth"), message("/_synapse/auth")]
    );
    let same = flags(&[
        "--server-name",
        "example.org",
        "--homeserver",
        "synapse",
        "--mas",
        "--mas-path",
        "/auth",
        "--mas-upstream",
        "127.0.0.1:8090",
    ]);
    assert_eq!(setup_of(&answers), setup_of(&same));
}

#[test]
fn script_mas_answered_no_and_prefilled_values_are_offered() {
    // No: the setup without MAS, whatever the file said.
    let prefill = flags(&["--homeserver", "synapse", "--mas", "--mas-path", "/id"]);
    let mut answers = synapse_with(&[("mas", No)]);
    answers[2] = ("homeserver", ENTER);
    let mut script = Script::new(&answers);
    let setup = setup_of(&interview(&prefill, &mut script).unwrap());
    script.done();
    assert!(script.log.contains(&"asked mas [true]".to_string()));
    assert_eq!(setup.mas, None);

    // Yes: the prefilled path is the default, and its place the one selected.
    let mut answers = synapse_with(&[
        ("mas", ENTER),
        ("mas_public", ENTER),
        ("mas_path", ENTER),
        ("mas_upstream", ENTER),
    ]);
    answers[2] = ("homeserver", ENTER);
    let mut script = Script::new(&answers);
    let setup = setup_of(&interview(&prefill, &mut script).unwrap());
    script.done();
    assert!(
        script.log.contains(&"asked mas_path [/id]".to_string()),
        "{:#?}",
        script.log
    );
    let same = flags(&[
        "--server-name",
        "example.org",
        "--homeserver",
        "synapse",
        "--mas",
        "--mas-path",
        "/id",
    ]);
    assert_eq!(setup, setup_of(&same));
}

#[test]
fn script_mas_with_a_prefilled_compose_stack_follows_merge() {
    // Whatever merge says of --compose --mas, the wizard says at the MAS question: a
    // refusal there (where "no" is the way on, the compose answer standing), or the same
    // setup as the flags, MAS's upstream following the compose answer.
    let prefill = flags(&["--compose"]);
    let same = config::merge(
        &flags(&[
            "--server-name",
            "example.org",
            "--homeserver",
            "synapse",
            "--compose",
            "--mas",
        ]),
        SetupLayer::default(),
    );
    let mas_answers: &[(&'static str, Answer)] = match &same {
        Err(_) => &[("mas", Yes), ("mas", No)],
        Ok(_) => &[
            ("mas", Yes),
            ("mas_public", ENTER),
            ("mas_host", ENTER),
            ("mas_upstream", ENTER),
        ],
    };
    let answers = synapse_with(mas_answers);
    let mut script = Script::new(&answers);
    let setup = setup_of(&interview(&prefill, &mut script).unwrap());
    script.done();
    assert!(setup.compose);
    match same {
        Err(refused) => {
            assert_eq!(script.refusals(), [refused.to_string()]);
            assert_eq!(setup.mas, None);
        }
        Ok(same) => {
            assert!(script.refusals().is_empty(), "{:?}", script.log);
            assert_eq!(setup, same);
        }
    }
}

#[test]
fn script_mas_is_not_asked_for_other_homeservers() {
    // Every homeserver but Synapse: the script has no MAS answer, so a MAS question would
    // meet the federation answer and fail.
    for (index, name) in ["conduit", "continuwuity", "tuwunel", "dendrite"]
        .iter()
        .enumerate()
    {
        let pick = if index == 0 { 0 } else { index + 1 };
        let mut answers = defaults_after("example.org");
        answers[2] = ("homeserver", Pick(pick));
        let mut script = Script::new(&answers);
        let setup = setup_of(&interview(&SetupLayer::default(), &mut script).unwrap());
        script.done();
        assert_eq!(setup.homeserver.name(), *name);
        assert_eq!(setup.mas, None);
        assert!(
            !script.log.iter().any(|line| line.starts_with("asked mas")),
            "{name}: {:#?}",
            script.log
        );
    }
}

#[test]
fn script_esc_stops_at_once() {
    let mut script = Script::new(&[
        ("server_name", Text("example.org")),
        ("homeserver_host", Esc),
    ]);
    assert!(matches!(
        interview(&SetupLayer::default(), &mut script),
        Err(Stop::Cancelled)
    ));
}

#[test]
fn review_lists_files_marks_replacements_and_saves_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let setup = setup_of(&flags(&[
        "--server-name",
        "example.org",
        "--proxy",
        "caddy",
        "--out",
        out.to_str().unwrap(),
    ]));
    std::fs::create_dir_all(out.join("caddy")).unwrap();
    std::fs::write(out.join("caddy/Caddyfile"), "# edited by hand\n").unwrap();
    let saved = dir.path().join("answers.yaml");
    let saved_text: &'static str = Box::leak(saved.display().to_string().into_boxed_str());
    let mut script = Script::new(&[
        ("action", Pick(1)),
        ("save_path", Text(saved_text)),
        ("action", Pick(0)),
    ]);
    let decision = wizard::review(&mut script, &setup, false).unwrap();
    script.done();
    assert_eq!(decision, Decision::Write { force: true });
    let said = script.log.join("\n");
    assert!(said.contains("REPLACE  caddy/Caddyfile"), "{said}");
    assert!(said.contains("new      well-known/matrix/client"), "{said}");
    let command = wizard::command_line(&setup, true, false).unwrap();
    assert!(said.contains(&format!("  {command}\n")), "{said}");
    assert!(command.ends_with(" --force"), "{command}");

    let file = config::read_file(&saved).unwrap();
    assert_eq!(config::merge(&SetupLayer::default(), file).unwrap(), setup);
    assert!(
        std::fs::read_to_string(out.join("caddy/Caddyfile"))
            .unwrap()
            .contains("edited by hand")
    );
}

#[test]
fn saved_yaml_reads_back_to_the_same_setup_for_every_scenario() {
    for name in common::scenario_names() {
        let file = config::read_file(&common::scenario_path(&name)).unwrap();
        let setup = config::merge(&SetupLayer::default(), file).unwrap();
        let yaml = wizard::saved_yaml(&setup);
        let again = config::parse_file(Path::new("saved.yaml"), &yaml)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{yaml}"));
        assert_eq!(
            config::merge(&SetupLayer::default(), again).unwrap(),
            setup,
            "{name}:\n{yaml}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The real binary in a pseudo-terminal.

const DOWN: &str = "\x1b[B";
const ESC: &str = "\x1b";
const CTRL_C: &str = "\x03";

/// The questions after the server name, in the order the wizard asks them while each
/// answer is the default (others, as MAS's or the certificate files', follow some answers).
const PROMPTS: [&str; 12] = [
    "Homeserver host",
    "Homeserver",
    "Upstream",
    "Federation",
    "TLS certificates",
    "ACME e-mail",
    "Upload limit",
    "Proxies",
    "Also write a docker-compose stack?",
    "Add calls",
    "Element Web host",
    "Output folder",
];

struct Pty {
    session: OsSession,
    /// Everything read so far, for the assertions and for failure messages.
    seen: String,
}

impl Pty {
    fn spawn(dir: &Path, args: &[&str]) -> Pty {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mxproxy"));
        command
            .args(args)
            .current_dir(dir)
            .env("TERM", "xterm-256color")
            // Plain text keeps the needles below free of colour codes.
            .env("NO_COLOR", "1");
        let mut session = Session::spawn(command).expect("spawn in a pty");
        session.set_expect_timeout(Some(Duration::from_secs(30)));
        Pty {
            session,
            seen: String::new(),
        }
    }

    /// Waits for `needle`; returns what came before it.
    fn expect(&mut self, needle: &str) -> String {
        match self.session.expect(needle) {
            Ok(found) => {
                let before = String::from_utf8_lossy(found.before()).into_owned();
                self.seen.push_str(&before);
                self.seen.push_str(needle);
                before
            }
            Err(err) => panic!(
                "waiting for {needle:?}: {err}\n--- seen so far ---\n{}",
                self.seen
            ),
        }
    }

    /// Answers the question whose prompt is `prompt` with `keys`.
    fn answer(&mut self, prompt: &str, keys: &str) {
        self.expect(&format!("? {prompt}"));
        // The prompt is drawn; the keys reach the program in raw mode either way, but
        // waiting keeps the transcript in order.
        self.session.send(keys).expect("send keys");
    }

    fn enter(&mut self, prompt: &str) {
        self.answer(prompt, "\r");
    }

    /// Accepts the default of every question from `first` to `last`, in `PROMPTS` order.
    fn enter_defaults(&mut self, first: &str, last: &str) {
        let at = |prompt: &str| {
            PROMPTS
                .iter()
                .position(|p| *p == prompt)
                .unwrap_or_else(|| panic!("{prompt:?} is not in PROMPTS"))
        };
        for prompt in &PROMPTS[at(first)..=at(last)] {
            self.enter(prompt);
        }
    }

    /// At "What now?": takes its default (write), and returns the transcript of a run that
    /// exited 0.
    fn write(mut self) -> String {
        self.session.send("\r").unwrap();
        let (code, transcript) = self.finish();
        assert_eq!(code, 0, "{transcript}");
        transcript
    }

    fn type_line(&mut self, prompt: &str, text: &str) {
        self.answer(prompt, &format!("{text}\r"));
    }

    /// Reads to the end and returns the exit code (a signal is a failure).
    fn finish(mut self) -> (i32, String) {
        let rest = self
            .session
            .expect(Eof)
            .unwrap_or_else(|e| panic!("waiting for the end: {e}\n{}", self.seen));
        self.seen.push_str(&String::from_utf8_lossy(rest.before()));
        self.seen
            .push_str(&String::from_utf8_lossy(rest.as_bytes()));
        let status = self.session.get_process().wait().expect("wait");
        match status {
            WaitStatus::Exited(_, code) => (code, self.seen),
            other => panic!("ended by {other:?}, not an exit\n{}", self.seen),
        }
    }
}

/// The line `  mxproxy generate …` the wizard printed, as arguments.
fn printed_command(transcript: &str) -> Vec<String> {
    let line = transcript
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .find_map(|l| l.strip_prefix("  mxproxy generate "))
        .unwrap_or_else(|| panic!("no command printed:\n{transcript}"));
    let mut args = shlex::split(line).expect("the command is valid shell");
    args.insert(0, "generate".into());
    args
}

fn run_generate(dir: &Path, args: &[String]) {
    let output = mxproxy()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run mxproxy");
    assert!(
        output.status.success(),
        "mxproxy {args:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every file below `root`, by relative path, with its bytes.
fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.push((path.strip_prefix(root).unwrap().to_path_buf(), bytes));
            }
        }
    }
    let mut files = Vec::new();
    walk(root, root, &mut files);
    files.sort();
    files
}

/// `generate` with `args` in a folder of its own writes `written` (a folder the wizard
/// wrote) byte for byte.
fn assert_the_flags_write(written: &Path, args: &[String]) {
    let flags_dir = tempfile::tempdir().unwrap();
    run_generate(flags_dir.path(), args);
    assert_same_tree(
        written,
        &flags_dir.path().join(written.file_name().unwrap()),
    );
}

fn assert_same_tree(left: &Path, right: &Path) {
    let (a, b) = (tree(left), tree(right));
    assert!(!a.is_empty(), "{} is empty", left.display());
    let names = |t: &[(PathBuf, Vec<u8>)]| t.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&a),
        names(&b),
        "{} vs {}",
        left.display(),
        right.display()
    );
    for ((path, x), (_, y)) in a.iter().zip(&b) {
        assert!(
            x == y,
            "{} differs between {} and {}",
            path.display(),
            left.display(),
            right.display()
        );
    }
}

#[test]
fn pty_defaults_write_what_the_printed_command_writes() {
    let wizard_dir = tempfile::tempdir().unwrap();
    let mut pty = Pty::spawn(wizard_dir.path(), &["wizard"]);
    pty.type_line("Server name", "example.org");
    pty.enter_defaults("Homeserver host", "Output folder");
    let summary = pty.expect("? What now?");
    assert!(
        summary.contains("new      nginx/matrix.example.org.conf"),
        "{summary}"
    );
    let transcript = pty.write();
    assert!(
        transcript.contains("Next steps for example.org"),
        "{transcript}"
    );

    let args = printed_command(&transcript);
    assert_eq!(args, ["generate", "--server-name", "example.org"]);
    assert_the_flags_write(&wizard_dir.path().join("mxproxy-out"), &args);
}

#[test]
fn pty_every_answer_changed_then_saved_yaml_and_printed_command_agree() {
    let wizard_dir = tempfile::tempdir().unwrap();
    let mut pty = Pty::spawn(wizard_dir.path(), &["wizard"]);
    pty.type_line("Server name", "chat.example.net");
    pty.type_line("Homeserver host", "hs.example.net");
    pty.enter("Homeserver");
    // A service name: the compose stack (below) runs the homeserver as that service.
    pty.type_line("Upstream", "conduit:8008");
    pty.answer("Federation", &format!("{DOWN}\r")); // 8448
    pty.answer("TLS certificates", &format!("{DOWN}\r")); // files
    pty.type_line("Certificate chain", "/etc/ssl/chat/fullchain.pem");
    pty.type_line("Private key", "/etc/ssl/chat/privkey.pem");
    pty.type_line("Upload limit", "100M");
    // nginx, apache, caddy, traefik: keep nginx and caddy
    pty.answer("Proxies", &format!("{DOWN} {DOWN}{DOWN} \r"));
    pty.answer("Also write a docker-compose stack?", "y");
    pty.enter("Add calls");
    pty.type_line("Element Web host", "web.example.net");
    pty.type_line("Output folder", "site-out");
    let summary = pty.expect("? What now?");
    for expected in [
        "federation        port 8448",
        "files: /etc/ssl/chat/fullchain.pem and /etc/ssl/chat/privkey.pem",
        "proxies           nginx, caddy",
        "compose stack     yes: Conduit and nginx",
        "Element Web       web.example.net, forwarded to element-web:80",
        "new      docker-compose.yml",
    ] {
        assert!(summary.contains(expected), "{expected}\n{summary}");
    }
    pty.session.send(format!("{DOWN}\r")).unwrap(); // save
    pty.type_line("Save the answers as", "answers.yaml");
    pty.expect("Saved answers.yaml");
    pty.enter("What now?"); // write
    let (code, transcript) = pty.finish();
    assert_eq!(code, 0, "{transcript}");

    let args = printed_command(&transcript);
    for flag in [
        "--federation-port",
        "--tls-cert",
        "--max-upload",
        "--proxy",
        "--compose",
        "--out",
    ] {
        assert!(
            args.contains(&flag.to_string()),
            "{flag} missing from {args:?}"
        );
    }
    let written = wizard_dir.path().join("site-out");
    assert_the_flags_write(&written, &args);

    let yaml_dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        wizard_dir.path().join("answers.yaml"),
        yaml_dir.path().join("answers.yaml"),
    )
    .unwrap();
    run_generate(
        yaml_dir.path(),
        &["generate".into(), "--config".into(), "answers.yaml".into()],
    );
    assert_same_tree(&written, &yaml_dir.path().join("site-out"));
}

#[test]
fn pty_mas_below_a_path_writes_what_the_printed_command_writes() {
    let wizard_dir = tempfile::tempdir().unwrap();
    let mut pty = Pty::spawn(wizard_dir.path(), &["wizard"]);
    pty.type_line("Server name", "example.org");
    pty.enter("Homeserver host");
    pty.answer("Homeserver", &format!("{DOWN}\r")); // synapse
    pty.enter("Upstream");
    pty.answer(
        "Log in through the Matrix Authentication Service (MAS)?",
        "y",
    );
    pty.answer("Where MAS answers", &format!("{DOWN}\r")); // a path
    pty.enter("MAS path");
    pty.type_line("MAS upstream", "127.0.0.1:8090");
    pty.enter_defaults("Federation", "Output folder");
    let summary = pty.expect("? What now?");
    for expected in [
        "login (MAS)       https://matrix.example.org/auth/, at 127.0.0.1:8090",
        "new      mas/mxproxy.yaml",
    ] {
        assert!(summary.contains(expected), "{expected}\n{summary}");
    }
    let transcript = pty.write();

    let args = printed_command(&transcript);
    assert_eq!(
        args,
        [
            "generate",
            "--server-name",
            "example.org",
            "--homeserver",
            "synapse",
            "--mas",
            "--mas-path",
            "/auth",
            "--mas-upstream",
            "127.0.0.1:8090"
        ]
    );
    assert_the_flags_write(&wizard_dir.path().join("mxproxy-out"), &args);
}

#[test]
fn pty_bad_server_name_port_and_size_are_asked_again_then_esc_quits() {
    let dir = tempfile::tempdir().unwrap();
    let mut pty = Pty::spawn(dir.path(), &["wizard"]);
    pty.type_line("Server name", "Example.org");
    let reason = "Example.org".parse::<ServerName>().unwrap_err().to_string();
    pty.expect(&format!("\"Example.org\": {reason}"));
    pty.type_line("Server name", "example.org");
    pty.enter("Homeserver host");
    pty.enter("Homeserver");
    pty.enter("Upstream");
    pty.answer("Federation", &format!("{DOWN}{DOWN}\r")); // another port
    pty.type_line("Federation port", "70000");
    let reason = "70000".parse::<Port>().unwrap_err().to_string();
    pty.expect(&format!("\"70000\": {reason}"));
    pty.type_line("Federation port", "8449");
    pty.enter("TLS certificates");
    pty.enter("ACME e-mail");
    pty.type_line("Upload limit", "20MB");
    let reason = "20MB".parse::<ByteSize>().unwrap_err().to_string();
    pty.expect(&format!("\"20MB\": {reason}"));
    pty.type_line("Upload limit", "20M");
    pty.answer("Proxies", ESC);
    let (code, transcript) = pty.finish();
    assert_eq!(code, 130, "{transcript}");
    assert!(
        transcript.contains(mxproxy::error::CANCELLED),
        "{transcript}"
    );
    assert!(!dir.path().join("mxproxy-out").exists());
    assert_cursor_visible(&transcript);
}

/// After the last "hide cursor", a "show cursor" followed.
fn assert_cursor_visible(transcript: &str) {
    if let Some(hidden) = transcript.rfind("\x1b[?25l") {
        assert!(
            transcript[hidden..].contains("\x1b[?25h"),
            "the cursor stays hidden:\n{transcript:?}"
        );
    }
}

#[test]
fn pty_ctrl_c_in_a_list_exits_130_with_the_terminal_restored() {
    let dir = tempfile::tempdir().unwrap();
    let mut pty = Pty::spawn(dir.path(), &["wizard", "--server-name", "example.org"]);
    pty.enter("Server name");
    pty.enter("Homeserver host");
    pty.enter("Homeserver");
    pty.enter("Upstream");
    // The list hides the cursor while it waits for a key.
    pty.answer("Federation", CTRL_C);
    let pty_file = pty.session.get_process().get_raw_handle().unwrap();
    let (code, transcript) = pty.finish();
    assert_eq!(code, 130, "{transcript}");
    assert!(!dir.path().join("mxproxy-out").exists());
    assert!(
        transcript.contains("\x1b[?25l"),
        "the list hid the cursor: {transcript:?}"
    );
    assert_cursor_visible(&transcript);

    // Raw mode clears ICANON and ISIG; the wizard must have put them back.
    use std::os::fd::AsRawFd;
    let mut termios = std::mem::MaybeUninit::<libc::termios>::uninit();
    // SAFETY: tcgetattr fills the struct on success, checked before reading it.
    let termios = unsafe {
        assert_eq!(
            libc::tcgetattr(pty_file.as_raw_fd(), termios.as_mut_ptr()),
            0
        );
        termios.assume_init()
    };
    assert_ne!(
        termios.c_lflag & libc::ICANON,
        0,
        "left in raw mode (ICANON off)"
    );
    assert_ne!(
        termios.c_lflag & libc::ISIG,
        0,
        "left in raw mode (ISIG off)"
    );
}

#[test]
fn pty_bare_command_on_a_terminal_starts_the_wizard() {
    let dir = tempfile::tempdir().unwrap();
    let mut pty = Pty::spawn(dir.path(), &[]);
    pty.type_line("Server name", "example.org");
    pty.answer("Homeserver host", ESC);
    let (code, transcript) = pty.finish();
    assert_eq!(code, 130, "{transcript}");
    assert!(!dir.path().join("mxproxy-out").exists());
}

#[test]
fn without_a_terminal_the_wizard_refuses_at_once_with_the_flags_form() {
    let dir = tempfile::tempdir().unwrap();
    let output = mxproxy()
        .args(["wizard", "--server-name", "example.org", "--proxy", "caddy"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("stdin is not one"), "{stderr}");
    assert!(
        stderr.contains("\n  mxproxy generate --server-name example.org --proxy caddy\n"),
        "{stderr}"
    );
    assert!(!dir.path().join("mxproxy-out").exists());

    // A config file and a flag: the command has both, spelled out as flags.
    std::fs::write(dir.path().join("setup.yaml"), "server_name: example.net\n").unwrap();
    let output = mxproxy()
        .args(["wizard", "--config", "setup.yaml", "--max-upload", "64M"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("\n  mxproxy generate --server-name example.net --max-upload 64M\n"),
        "{stderr}"
    );

    // No flags: the example server name.
    let output = mxproxy()
        .arg("wizard")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("mxproxy generate --server-name example.com"),
        "{stderr}"
    );
}

#[test]
fn pty_stdout_redirected_is_refused_too() {
    let dir = tempfile::tempdir().unwrap();
    let captured = dir.path().join("stdout.txt");
    // ptyprocess closes every descriptor but 0-2 before exec, so the redirection is
    // made in the child by a shell; stdin and stderr stay on the pseudo-terminal.
    let mut command = Command::new("/bin/sh");
    command
        .args([
            "-c",
            "exec \"$0\" wizard --server-name example.org > stdout.txt",
            env!("CARGO_BIN_EXE_mxproxy"),
        ])
        .current_dir(dir.path());
    let mut session = Session::spawn(command).expect("spawn in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    let rest = session.expect(Eof).expect("the wizard ends by itself");
    let stderr = String::from_utf8_lossy(rest.as_bytes()).into_owned()
        + &String::from_utf8_lossy(rest.before());
    let status = session.get_process().wait().unwrap();
    assert!(
        matches!(status, WaitStatus::Exited(_, 2)),
        "{status:?}\n{stderr}"
    );
    assert!(stderr.contains("stdout is not one"), "{stderr}");
    assert!(
        stderr.contains("mxproxy generate --server-name example.org"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&captured).unwrap(), "");
}

#[test]
fn review_dry_run_and_quit() {
    let dir = tempfile::tempdir().unwrap();
    let setup = setup_of(&flags(&[
        "--server-name",
        "example.org",
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]));
    let mut script = Script::new(&[("action", Pick(2))]);
    assert_eq!(
        wizard::review(&mut script, &setup, true).unwrap(),
        Decision::Quit
    );
    let said = script.log.join("\n");
    assert!(
        said.contains("asked action [Show what would change (--dry-run); write nothing]"),
        "{said}"
    );
    let command = wizard::command_line(&setup, false, true).unwrap();
    assert!(command.ends_with(" --dry-run"), "{command}");
    assert!(said.contains(&command), "{said}");
    assert!(!dir.path().join("out").exists(), "review writes nothing");
}

#[test]
fn script_calls_answer_gives_what_the_rtc_flag_gives() {
    let mut answers = defaults_after("example.org");
    let at = answers.iter().position(|(k, _)| *k == "rtc").unwrap();
    answers[at] = ("rtc", Yes);
    let prefill = flags(&["--rtc-host", "call.example.org"]);
    let mut script = Script::new(&answers);
    let setup = setup_of(&interview(&prefill, &mut script).unwrap());
    script.done();
    assert_eq!(
        setup,
        setup_of(&flags(&[
            "--server-name",
            "example.org",
            "--proxy",
            "nginx,apache,caddy",
            "--rtc",
            "--rtc-host",
            "call.example.org"
        ]))
    );
    // Traefik, checked by default, forwards the well-known to Conduit: left out, said once.
    assert!(script.refusals().is_empty(), "{:?}", script.refusals());
    assert_eq!(setup.rtc.unwrap().host.to_string(), "call.example.org");
}

#[test]
fn pty_calls_write_what_the_printed_command_writes() {
    let wizard_dir = tempfile::tempdir().unwrap();
    let mut pty = Pty::spawn(wizard_dir.path(), &["wizard"]);
    pty.type_line("Server name", "example.org");
    pty.enter_defaults("Homeserver host", "Also write a docker-compose stack?");
    pty.answer("Add calls", "y");
    pty.enter_defaults("Element Web host", "Output folder");
    let summary = pty.expect("? What now?");
    let calls = "calls             https://rtc.example.org, LiveKit at 127.0.0.1:7880, \
                 authorization at 127.0.0.1:8070";
    assert!(summary.contains(calls), "{summary}");
    let transcript = pty.write();
    // Traefik, checked by default, would forward the well-known to Conduit.
    assert!(transcript.contains("Left out traefik"), "{transcript}");
    let args = printed_command(&transcript);
    assert_eq!(
        args,
        [
            "generate",
            "--server-name",
            "example.org",
            "--proxy",
            "nginx,apache,caddy",
            "--rtc"
        ]
    );
    assert_the_flags_write(&wizard_dir.path().join("mxproxy-out"), &args);
}

#[test]
fn script_element_web_on_the_homeserver_host_is_asked_again() {
    let mut answers = defaults_after("example.org");
    let out = answers.pop().unwrap();
    assert_eq!(answers.pop().unwrap().0, "element_web");
    answers.extend([
        ("element_web", Text("matrix.example.org")),
        ("element_web", Text("example.org")),
        ("element_web", Text("chat.example.org")),
        out,
    ]);
    // The file's folder comes along with the host; the default proxies lose Traefik, as
    // generate's default list does.
    let prefill = SetupLayer {
        element_web_root: Some("/srv/element".parse().unwrap()),
        ..SetupLayer::default()
    };
    let mut script = Script::new(&answers);
    let result = interview(&prefill, &mut script).unwrap();
    script.done();
    let refusals = script.refusals();
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert!(
        refusals[0].contains("that host is already the homeserver host")
            && refusals[0].contains("cross-site scripting"),
        "{refusals:?}"
    );
    assert!(
        refusals[1].contains("that host is already the server name"),
        "{refusals:?}"
    );
    assert!(
        script
            .log
            .iter()
            .any(|line| line.contains("Left out of the proxies")),
        "{:#?}",
        script.log
    );
    let setup = setup_of(&result);
    assert_eq!(
        setup.proxies,
        [
            mxproxy::setup::Proxy::Nginx,
            mxproxy::setup::Proxy::Apache,
            mxproxy::setup::Proxy::Caddy
        ]
    );
    let web = setup.element_web.expect("Element Web was asked for");
    assert_eq!(web.host.to_string(), "chat.example.org");
    assert_eq!(
        web.served,
        mxproxy::setup::ElementWebServed::Files("/srv/element".parse().unwrap())
    );
}
