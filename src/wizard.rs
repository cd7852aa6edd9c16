//! `mxproxy wizard`: the setup asked one question at a time.
//!
//! The answers fill a `GenerateArgs`, exactly as flags would. Each answer goes through the
//! `FromStr` of its flag and then through `config::merge`, so the wizard has no validation,
//! defaults or templates of its own, and what it writes is what `generate` writes for the
//! printed command. The terminal sits behind `Prompter`, so `interview` and `review` run in
//! tests from a script of answers; `TerminalPrompter` is the thin dialoguer layer.

use std::fmt;
use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::str::FromStr;

use console::{Key, Term, measure_text_width, style};
use dialoguer::theme::{ColorfulTheme, Theme};
use dialoguer::{Confirm, MultiSelect, Select};
use serde::Serialize;

use crate::cli::GenerateArgs;
use crate::config::{self, FileSetup};
use crate::defaults::{self, COMPOSE_SERVICE};
use crate::error::Error;
use crate::homeserver;
use crate::matrix;
use crate::output;
use crate::output::{Change, FileStatus};
use crate::pipeline;
use crate::render::Templates;
use crate::setup::{
    ByteSize, Email, GatewayRef, Homeserver, Host, IngressClass, KubeName, KubernetesRouting,
    Layout, ListenAddress, Namespace, Port, Proxy, SafePath, ServerName, Setup, Tls, TlsMode,
    Upstream, shown,
};

/// The port servers try when a server name has no well-known file and no SRV record.
const MATRIX_FEDERATION_PORT: Port = Port::new_unchecked(matrix::FEDERATION_PORT);
const DEFAULT_FEDERATION_PORT: Port = Port::new_unchecked(defaults::FEDERATION_PORT);
/// Where "save the answers" writes by default; the name the generated headers suggest.
/// What the wizard prints when it cannot ask: the README's flags example.
const FLAGS_EXAMPLE: &str =
    "mxproxy generate --server-name example.com --proxy nginx --upstream 127.0.0.1:6167";

/// One question: `key` is the YAML key (or a name for the wizard's own questions), `help`
/// the one line shown above the prompt.
#[derive(Debug, Clone)]
pub struct Question {
    pub key: &'static str,
    pub prompt: &'static str,
    pub help: String,
}

fn question(key: &'static str, prompt: &'static str, help: impl Into<String>) -> Question {
    Question {
        key,
        prompt,
        help: help.into(),
    }
}

/// Why the questions ended early.
#[derive(Debug)]
pub enum Stop {
    /// Esc (or `q` in a list). Ctrl-C ends the process in the SIGINT handler instead.
    Cancelled,
    Terminal(io::Error),
}

impl From<Stop> for Error {
    fn from(stop: Stop) -> Error {
        match stop {
            Stop::Cancelled => Error::Cancelled,
            Stop::Terminal(source) => Error::Terminal { source },
        }
    }
}

impl From<io::Error> for Stop {
    fn from(err: io::Error) -> Stop {
        Stop::Terminal(err)
    }
}

impl From<dialoguer::Error> for Stop {
    fn from(err: dialoguer::Error) -> Stop {
        match err {
            dialoguer::Error::IO(err) if err.kind() == io::ErrorKind::Interrupted => {
                Stop::Cancelled
            }
            dialoguer::Error::IO(err) => Stop::Terminal(err),
        }
    }
}

/// Where answers come from: the terminal, or a script in tests.
pub trait Prompter {
    /// Text that is no question: the summary, the command, what was saved.
    fn say(&mut self, text: &str);
    /// Why the last answer was refused; the same question comes next.
    fn refuse(&mut self, message: &str);
    /// A line of text, asked until `check` accepts it, showing each refusal (as
    /// dialoguer's `validate_with` does). The empty line stands for `default`; `check`
    /// fills it in itself. Returns the line as typed.
    fn text(
        &mut self,
        question: &Question,
        default: Option<&str>,
        check: &mut dyn FnMut(&str) -> Result<(), String>,
    ) -> Result<String, Stop>;
    fn select(
        &mut self,
        question: &Question,
        items: &[String],
        default: usize,
    ) -> Result<usize, Stop>;
    /// The indices of the checked items, in `items` order.
    fn multi_select(
        &mut self,
        question: &Question,
        items: &[String],
        checked: &[bool],
    ) -> Result<Vec<usize>, Stop>;
    fn confirm(&mut self, question: &Question, default: bool) -> Result<bool, Stop>;
}

/// The defaults the questions offer: flags over the `--config` file, field by field.
/// `config::merge` cannot give these, because it needs a complete and consistent setup
/// (a server name above all) and the wizard is where that setup is still being made.
pub fn prefill(flags: &GenerateArgs, file: FileSetup) -> GenerateArgs {
    let no_federation = flags.no_federation
        || (flags.federation_port.is_none() && file.no_federation == Some(true));
    GenerateArgs {
        config: None,
        server_name: flags.server_name.clone().or(file.server_name),
        homeserver_host: flags.homeserver_host.clone().or(file.homeserver_host),
        homeserver: flags.homeserver.or(file.homeserver),
        expose_admin: flags.expose_admin || file.expose_admin.unwrap_or(false),
        upstream: flags.upstream.clone().or(file.upstream),
        federation_port: if no_federation {
            None
        } else {
            flags.federation_port.or(file.federation_port)
        },
        no_federation,
        tls: flags.tls.or(file.tls),
        tls_cert: flags.tls_cert.clone().or(file.tls_cert),
        tls_key: flags.tls_key.clone().or(file.tls_key),
        acme_email: flags.acme_email.clone().or(file.acme_email),
        max_upload: flags.max_upload.or(file.max_upload),
        webroot: flags.webroot.clone().or(file.webroot),
        listen_address: if flags.listen_address.is_empty() {
            file.listen_address.unwrap_or_default()
        } else {
            flags.listen_address.clone()
        },
        proxy: if flags.proxy.is_empty() {
            file.proxy.map(|list| list.0).unwrap_or_default()
        } else {
            flags.proxy.clone()
        },
        compose: flags.compose || file.compose.unwrap_or(false),
        // `run` refuses Kubernetes setups before asking anything.
        kubernetes: false,
        ingress_class: None,
        gateway: None,
        cluster_issuer: None,
        namespace: None,
        out: flags.out.clone().or(file.out),
        force: flags.force,
        dry_run: flags.dry_run,
    }
}

/// Asks until `check` accepts the answer, with the default filled in for an empty line.
fn ask_text<T>(
    prompter: &mut dyn Prompter,
    question: &Question,
    default: Option<&str>,
    mut check: impl FnMut(&str) -> Result<T, String>,
) -> Result<T, Stop> {
    let mut accepted = None;
    prompter.text(question, default, &mut |typed| {
        let text = match default {
            Some(default) if typed.is_empty() => default,
            _ => typed,
        };
        accepted = Some(check(text)?);
        Ok(())
    })?;
    accepted.ok_or_else(|| {
        Stop::Terminal(io::Error::other(format!(
            "the prompt for `{}` returned an answer it did not check",
            question.key
        )))
    })
}

/// The flag's own `FromStr`; the message has the form of the YAML one
/// (`"value": reason, e.g. example`).
fn parse<T>(text: &str) -> Result<T, String>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    text.parse()
        .map_err(|err| format!("\"{}\": {err}", shown(text)))
}

fn ask_parsed<T>(
    prompter: &mut dyn Prompter,
    question: &Question,
    default: Option<&str>,
) -> Result<T, Stop>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    ask_text(prompter, question, default, parse)
}

/// Like `ask_parsed`, but an empty answer without a default means "none".
fn ask_optional<T>(
    prompter: &mut dyn Prompter,
    question: &Question,
    default: Option<&str>,
) -> Result<Option<T>, Stop>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    ask_text(prompter, question, default, |text| {
        if text.is_empty() {
            Ok(None)
        } else {
            parse(text).map(Some)
        }
    })
}

/// Keeps `trial` if `merge` accepts it, else shows merge's own message: the checks across
/// answers (federation on port 80, a loopback upstream in the compose stack, …) are the
/// flags' checks, word for word.
fn accept(prompter: &mut dyn Prompter, answers: &mut GenerateArgs, trial: GenerateArgs) -> bool {
    match config::merge(&trial, FileSetup::default()) {
        Ok(_) => {
            *answers = trial;
            true
        }
        Err(err) => {
            prompter.refuse(&err.to_string());
            false
        }
    }
}

/// A text question whose answer must pass both `FromStr` and `merge`.
fn ask_checked<T>(
    prompter: &mut dyn Prompter,
    answers: &mut GenerateArgs,
    question: &Question,
    default: Option<&str>,
    set: impl Fn(&mut GenerateArgs, T),
) -> Result<(), Stop>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    let before = answers.clone();
    *answers = ask_text(prompter, question, default, |text| {
        let mut trial = before.clone();
        set(&mut trial, parse(text)?);
        config::merge(&trial, FileSetup::default()).map_err(|err| err.to_string())?;
        Ok(trial)
    })?;
    Ok(())
}

fn chosen_homeserver(answers: &GenerateArgs) -> Homeserver {
    answers
        .homeserver
        .map(|name| name.homeserver)
        .unwrap_or_default()
}

fn homeserver_port(answers: &GenerateArgs) -> u16 {
    homeserver::facts(chosen_homeserver(answers)).port
}

/// The upstream `merge` picks when none is given; it follows the compose answer.
fn implicit_upstream(answers: &GenerateArgs) -> String {
    config::default_upstream(chosen_homeserver(answers), answers.compose).to_string()
}

/// Asks every question in the order of the issue and returns the answers as flags.
/// `prefill` supplies each default; the result has no `--config`, so `merge` of it alone
/// is the setup.
pub fn interview(
    prompter: &mut dyn Prompter,
    prefill: &GenerateArgs,
) -> Result<GenerateArgs, Stop> {
    // Only what was answered so far, plus what no question asks about (webroot; listen
    // addresses join at the proxies question, the first answer they can conflict with),
    // so that a refusal always concerns the answer just given.
    let mut answers = GenerateArgs {
        webroot: prefill.webroot.clone(),
        compose: prefill.compose,
        force: prefill.force,
        dry_run: prefill.dry_run,
        ..GenerateArgs::default()
    };

    let default = prefill.server_name.as_ref().map(ToString::to_string);
    ask_checked(
        prompter,
        &mut answers,
        &question(
            "server_name",
            "Server name",
            "The name in user ids: @alice:example.com -> example.com. Chosen for good.",
        ),
        default.as_deref(),
        |a, v: ServerName| a.server_name = Some(v),
    )?;

    let server_name = answers
        .server_name
        .clone()
        .expect("the first question sets the server name");
    let default = match &prefill.homeserver_host {
        Some(host) => Some(host.to_string()),
        // A name too long for `matrix.` in front gets no default; the user names the host.
        None => server_name
            .host()
            .prefixed("matrix")
            .ok()
            .map(|h| h.to_string()),
    };
    ask_checked(
        prompter,
        &mut answers,
        &question(
            "homeserver_host",
            "Homeserver host",
            "Where the APIs answer. A subdomain keeps the server name free for a website.",
        ),
        default.as_deref(),
        |a, v: Host| a.homeserver_host = Some(v),
    )?;

    let items: Vec<String> = Homeserver::ALL
        .iter()
        .map(|h| format!("{} ({h})", homeserver::facts(*h).display_name))
        .collect();
    let current = chosen_homeserver(prefill);
    let picked = prompter.select(
        &question(
            "homeserver",
            "Homeserver",
            "The homeserver software; it sets the upstream port, paths and upload limit.",
        ),
        &items,
        Homeserver::ALL
            .iter()
            .position(|h| *h == current)
            .unwrap_or(0),
    )?;
    answers.homeserver = Some(Homeserver::ALL[picked].into());

    ask_upstream(prompter, &mut answers, prefill.upstream.as_ref())?;
    ask_federation(prompter, &mut answers, prefill)?;
    ask_tls(prompter, &mut answers, prefill)?;

    let default = prefill
        .max_upload
        .unwrap_or(homeserver::facts(chosen_homeserver(&answers)).default_max_upload)
        .to_string();
    ask_checked(
        prompter,
        &mut answers,
        &question(
            "max_upload",
            "Upload limit",
            "Largest upload the proxies and homeserver accept; K, M, G are binary units.",
        ),
        Some(&default),
        |a, v: ByteSize| a.max_upload = Some(v),
    )?;

    answers.listen_address = prefill.listen_address.clone();
    ask_proxies(prompter, &mut answers, prefill)?;
    ask_compose(prompter, &mut answers)?;

    let default = prefill
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(defaults::OUT))
        .display()
        .to_string();
    ask_checked(
        prompter,
        &mut answers,
        &question(
            "out",
            "Output folder",
            "Where the files go, relative to here; nothing is written before you confirm.",
        ),
        Some(&default),
        |a, v: PathBuf| a.out = Some(v),
    )?;
    Ok(answers)
}

fn ask_upstream(
    prompter: &mut dyn Prompter,
    answers: &mut GenerateArgs,
    given: Option<&Upstream>,
) -> Result<(), Stop> {
    let implicit = implicit_upstream(answers);
    let port = homeserver_port(answers);
    let (default, help) = match given {
        Some(upstream) => (
            upstream.to_string(),
            "The homeserver's plain-HTTP address the proxy forwards to, as HOST:PORT.".to_string(),
        ),
        None => (
            implicit.clone(),
            format!(
                "The homeserver's HTTP address (HOST:PORT); {COMPOSE_SERVICE}:{port} with compose."
            ),
        ),
    };
    let explicit = given.is_some();
    ask_checked(
        prompter,
        answers,
        &question("upstream", "Upstream", help),
        Some(&default),
        // Taking the offered default leaves the flag unset, so that it keeps following
        // the compose answer, as it does for `generate` without --upstream.
        move |a, v: Upstream| {
            a.upstream = (explicit || v.to_string() != implicit).then_some(v);
        },
    )
}

fn ask_federation(
    prompter: &mut dyn Prompter,
    answers: &mut GenerateArgs,
    prefill: &GenerateArgs,
) -> Result<(), Stop> {
    const DEFAULT_PORT: usize = 0;
    const MATRIX_PORT: usize = 1;
    const OTHER_PORT: usize = 2;
    const OFF: usize = 3;
    let items = [
        "443, announced in /.well-known/matrix/server (no extra port)".to_string(),
        "8448, the Matrix federation port (one more listener)".to_string(),
        "another port".to_string(),
        "off: no federation, a server on its own".to_string(),
    ];
    let current = match (prefill.no_federation, prefill.federation_port) {
        (true, _) => OFF,
        (false, None) => DEFAULT_PORT,
        (false, Some(port)) if port == DEFAULT_FEDERATION_PORT => DEFAULT_PORT,
        (false, Some(port)) if port == MATRIX_FEDERATION_PORT => MATRIX_PORT,
        (false, Some(_)) => OTHER_PORT,
    };
    let choice = question(
        "federation_port",
        "Federation",
        "How other servers reach you: 443 via .well-known, or Matrix's own port 8448.",
    );
    loop {
        let picked = prompter.select(&choice, &items, current)?;
        let mut trial = answers.clone();
        trial.no_federation = picked == OFF;
        trial.federation_port = match picked {
            DEFAULT_PORT => Some(DEFAULT_FEDERATION_PORT),
            MATRIX_PORT => Some(MATRIX_FEDERATION_PORT),
            OFF => None,
            _ => {
                let default = prefill
                    .federation_port
                    .filter(|_| current == OTHER_PORT)
                    .map(|p| p.to_string());
                *answers = trial;
                return ask_checked(
                    prompter,
                    answers,
                    &question(
                        "federation_port",
                        "Federation port",
                        "The port other servers connect to; published in /.well-known/matrix/server.",
                    ),
                    default.as_deref(),
                    |a, v: Port| a.federation_port = Some(v),
                );
            }
        };
        if accept(prompter, answers, trial) {
            return Ok(());
        }
    }
}

fn ask_tls(
    prompter: &mut dyn Prompter,
    answers: &mut GenerateArgs,
    prefill: &GenerateArgs,
) -> Result<(), Stop> {
    const MODES: [TlsMode; 3] = [TlsMode::Acme, TlsMode::Files, TlsMode::None];
    let items = [
        "acme: from Let's Encrypt, renewed automatically".to_string(),
        "files: a certificate and key you have".to_string(),
        "none: plain HTTP behind another TLS terminator".to_string(),
    ];
    let current = prefill.tls.unwrap_or_default();
    let choice = question(
        "tls",
        "TLS certificates",
        "Matrix speaks HTTPS only; where do the certificates come from?",
    );
    loop {
        let picked = prompter.select(
            &choice,
            &items,
            MODES.iter().position(|m| *m == current).unwrap_or(0),
        )?;
        let mode = MODES[picked];
        let mut trial = answers.clone();
        trial.tls = Some(mode);
        trial.tls_cert = None;
        trial.tls_key = None;
        trial.acme_email = None;
        match mode {
            TlsMode::Acme => {
                let default = prefill.acme_email.as_ref().map(ToString::to_string);
                trial.acme_email = ask_optional::<Email>(
                    prompter,
                    &question(
                        "acme_email",
                        "ACME e-mail (optional)",
                        "Let's Encrypt mails here before a certificate expires; empty for none.",
                    ),
                    default.as_deref(),
                )?;
            }
            TlsMode::Files => {
                let default = prefill.tls_cert.as_ref().map(ToString::to_string);
                trial.tls_cert = Some(ask_parsed::<SafePath>(
                    prompter,
                    &question(
                        "tls_cert",
                        "Certificate chain",
                        "Absolute path of the PEM chain, e.g. /etc/ssl/matrix/fullchain.pem.",
                    ),
                    default.as_deref(),
                )?);
                let default = prefill.tls_key.as_ref().map(ToString::to_string);
                trial.tls_key = Some(ask_parsed::<SafePath>(
                    prompter,
                    &question(
                        "tls_key",
                        "Private key",
                        "Absolute path of its PEM private key, e.g. /etc/ssl/matrix/privkey.pem.",
                    ),
                    default.as_deref(),
                )?);
            }
            TlsMode::None => {}
        }
        if accept(prompter, answers, trial) {
            return Ok(());
        }
    }
}

fn ask_proxies(
    prompter: &mut dyn Prompter,
    answers: &mut GenerateArgs,
    prefill: &GenerateArgs,
) -> Result<(), Stop> {
    // Listed in the given order first, because the compose stack runs the first proxy.
    let mut order: Vec<Proxy> = Vec::new();
    for proxy in prefill.proxy.iter().chain(Proxy::ALL) {
        if !order.contains(proxy) {
            order.push(*proxy);
        }
    }
    // Every proxy is offered; the ones `generate` writes without --proxy come checked.
    let given = if prefill.proxy.is_empty() {
        Proxy::DEFAULT
    } else {
        &prefill.proxy
    };
    let checked: Vec<bool> = order.iter().map(|p| given.contains(p)).collect();
    let items: Vec<String> = order.iter().map(|p| p.to_string()).collect();
    let choice = question(
        "proxy",
        "Proxies",
        "Space toggles, Enter accepts. The compose stack runs the first one checked.",
    );
    loop {
        let picked = prompter.multi_select(&choice, &items, &checked)?;
        if picked.is_empty() {
            // An empty --proxy list means "all" to merge, so this one is the wizard's own.
            prompter.refuse("no proxy is checked; check at least one with space, then enter");
            continue;
        }
        let mut trial = answers.clone();
        trial.proxy = picked.iter().map(|i| order[*i]).collect();
        if accept(prompter, answers, trial) {
            return Ok(());
        }
    }
}

fn ask_compose(prompter: &mut dyn Prompter, answers: &mut GenerateArgs) -> Result<(), Stop> {
    let choice = question(
        "compose",
        "Also write a docker-compose stack?",
        "docker-compose.yml with the homeserver and the first proxy, ready to run.",
    );
    let mut yes = prompter.confirm(&choice, answers.compose)?;
    loop {
        let mut trial = answers.clone();
        trial.compose = yes;
        match config::merge(&trial, FileSetup::default()) {
            Ok(_) => {
                *answers = trial;
                return Ok(());
            }
            Err(err) => {
                prompter.refuse(&err.to_string());
                if yes
                    && trial
                        .upstream
                        .as_ref()
                        .is_some_and(|u| u.host.is_loopback())
                {
                    // The fix is another upstream, so that question comes back; the
                    // compose answer stands and is checked again with it.
                    answers.upstream = Some(ask_compose_upstream(prompter, answers)?);
                } else {
                    yes = prompter.confirm(&choice, answers.compose)?;
                }
            }
        }
    }
}

/// The upstream again, checked on its own against the compose stack: other conflicts
/// (listen addresses) are the compose question's and must not block this one.
fn ask_compose_upstream(
    prompter: &mut dyn Prompter,
    answers: &GenerateArgs,
) -> Result<Upstream, Stop> {
    let default = config::default_upstream(chosen_homeserver(answers), true).to_string();
    let ask = question(
        "upstream",
        "Upstream",
        "The homeserver's address inside the compose stack, as HOST:PORT.",
    );
    ask_text(prompter, &ask, Some(&default), |text| {
        let upstream: Upstream = parse(text)?;
        let alone = GenerateArgs {
            server_name: answers.server_name.clone(),
            homeserver: answers.homeserver,
            upstream: Some(upstream.clone()),
            compose: true,
            ..GenerateArgs::default()
        };
        config::merge(&alone, FileSetup::default()).map_err(|err| err.to_string())?;
        Ok(upstream)
    })
}

/// What the user decided after the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Write; `force` when files with other content exist, which the summary listed.
    Write {
        force: bool,
    },
    Quit,
}

/// Shows the setup, the files and the equivalent command, then asks what to do. Saving
/// the answers returns to the same choice, so that one can save and then write.
pub fn review(
    prompter: &mut dyn Prompter,
    setup: &Setup,
    dry_run: bool,
) -> Result<Decision, Error> {
    let rendering = pipeline::render(setup, &Templates::builtin(), Layout::Folder)?;
    let statuses = pipeline::preview(&setup.out, &rendering.files)?;
    let replaced = statuses.iter().any(|s| s.status == Change::Updated);
    prompter.say(&describe(setup, &statuses));
    let command = command_line(setup, replaced, dry_run)?;
    prompter.say(&format!(
        "The same without questions (for a script):\n  {command}\n"
    ));

    let write = if dry_run {
        "Show what would change (--dry-run); write nothing"
    } else if replaced {
        "Write the files, replacing the ones marked above"
    } else {
        "Write the files"
    };
    let items = [
        write.to_string(),
        "Save the answers as YAML for --config".to_string(),
        "Quit without writing".to_string(),
    ];
    let choice = question("action", "What now?", "Nothing has been written yet.");
    loop {
        match prompter.select(&choice, &items, 0)? {
            0 => return Ok(Decision::Write { force: replaced }),
            1 => save(prompter, setup)?,
            _ => return Ok(Decision::Quit),
        }
    }
}

/// The exact `generate` command for `setup`, shell-quoted for pasting into a script.
pub fn command_line(setup: &Setup, force: bool, dry_run: bool) -> Result<String, Error> {
    let mut args = config::to_args(setup, true);
    if force {
        args.push("--force".into());
    }
    if dry_run {
        args.push("--dry-run".into());
    }
    let quoted = shlex::try_join(args.iter().map(String::as_str)).map_err(|_| Error::Conflict {
        // Every other value is validated; only a path can carry a NUL (from YAML "\0").
        message: format!(
            "--out \"{}\" contains a NUL byte, which no shell command can pass",
            shown(&setup.out.display().to_string())
        ),
        example: format!("--out {}", defaults::OUT),
    })?;
    Ok(format!("mxproxy generate {quoted}"))
}

fn describe(setup: &Setup, statuses: &[FileStatus]) -> String {
    let facts = homeserver::facts(setup.homeserver);
    let federation = match setup.federation_port {
        None => "off".to_string(),
        Some(port) => format!("port {port} (well-known: {}:{port})", setup.homeserver_host),
    };
    let tls = match &setup.tls {
        Tls::Acme { email: None } => "acme (Let's Encrypt), no contact e-mail".to_string(),
        Tls::Acme { email: Some(email) } => format!("acme (Let's Encrypt), contact {email}"),
        Tls::Files { cert, key } => format!("files: {cert} and {key}"),
        Tls::None => "none: plain HTTP behind another TLS terminator".to_string(),
    };
    let listen = if setup.listen_addresses.is_empty() {
        "every address".to_string()
    } else {
        join(&setup.listen_addresses)
    };
    let compose = if setup.compose {
        format!("yes: {} and {}", facts.display_name, setup.proxies[0])
    } else {
        "no".to_string()
    };
    let mut text = format!(
        "\nThe setup:\n\
         \x20 server name       {server_name} (users are @name:{server_name})\n\
         \x20 homeserver host   {host}\n\
         \x20 homeserver        {display_name}, at {upstream}\n\
         \x20 federation        {federation}\n\
         \x20 TLS               {tls}\n\
         \x20 upload limit      {max_upload}\n\
         \x20 proxies           {proxies}\n\
         \x20 compose stack     {compose}\n\
         \x20 webroot           {webroot}\n\
         \x20 listen on         {listen}\n\
         \nFiles in {out}/:\n",
        server_name = setup.server_name,
        host = setup.homeserver_host,
        display_name = facts.display_name,
        upstream = setup.upstream,
        max_upload = setup.max_upload,
        proxies = join(&setup.proxies),
        webroot = setup.webroot,
        out = setup.out.display(),
    );
    for file in statuses {
        let mark = match file.status {
            Change::Created => "new     ",
            Change::Updated => "REPLACE ",
            _ => "same    ",
        };
        text.push_str(&format!("  {mark} {}\n", file.path));
    }
    if statuses.iter().any(|s| s.status == Change::Updated) {
        text.push_str("  (REPLACE: the file exists with other content and would be replaced)\n");
    }
    text
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The saved answers: every key written out, so the file documents the whole setup and
/// reads back through `--config` to the same setup.
#[derive(Serialize)]
struct SavedSetup<'a> {
    server_name: &'a ServerName,
    homeserver_host: &'a Host,
    homeserver: Homeserver,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    expose_admin: bool,
    /// Left out with Kubernetes, which refuses them: the Service is the upstream, the
    /// ingress controller the proxy, and no host folder is served.
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream: Option<&'a Upstream>,
    #[serde(skip_serializing_if = "Option::is_none")]
    federation_port: Option<Port>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    no_federation: bool,
    tls: TlsMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_cert: Option<&'a SafePath>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_key: Option<&'a SafePath>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acme_email: Option<&'a Email>,
    max_upload: ByteSize,
    #[serde(skip_serializing_if = "Option::is_none")]
    webroot: Option<&'a SafePath>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    listen_address: &'a [ListenAddress],
    #[serde(skip_serializing_if = "Option::is_none")]
    proxy: Option<&'a [Proxy]>,
    compose: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    kubernetes: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    ingress_class: Option<IngressClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<&'a GatewayRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_issuer: Option<&'a KubeName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a Namespace>,
    out: String,
}

/// The YAML for `--config` that gives `setup` back.
pub fn saved_yaml(setup: &Setup) -> String {
    let (tls_cert, tls_key, acme_email) = match &setup.tls {
        Tls::Files { cert, key } => (Some(cert), Some(key), None),
        Tls::Acme { email } => (None, None, email.as_ref()),
        Tls::None => (None, None, None),
    };
    let kubernetes = setup.kubernetes.as_ref();
    let (ingress_class, gateway) = match kubernetes.map(|k| &k.routing) {
        Some(KubernetesRouting::Ingress(class)) => (Some(*class), None),
        Some(KubernetesRouting::Gateway(gateway)) => (None, Some(gateway)),
        None => (None, None),
    };
    let host_install = kubernetes.is_none();
    let saved = SavedSetup {
        server_name: &setup.server_name,
        homeserver_host: &setup.homeserver_host,
        homeserver: setup.homeserver,
        expose_admin: setup.expose_admin,
        upstream: host_install.then_some(&setup.upstream),
        federation_port: setup.federation_port,
        no_federation: setup.federation_port.is_none(),
        tls: setup.tls.mode(),
        tls_cert,
        tls_key,
        acme_email,
        max_upload: setup.max_upload,
        webroot: host_install.then_some(&setup.webroot),
        listen_address: &setup.listen_addresses,
        proxy: host_install.then_some(&setup.proxies[..]),
        compose: setup.compose,
        kubernetes: !host_install,
        ingress_class,
        gateway,
        cluster_issuer: kubernetes.and_then(|k| k.cluster_issuer.as_ref()),
        namespace: kubernetes.map(|k| &k.namespace),
        out: setup.out.display().to_string(),
    };
    let body = serde_yaml::to_string(&saved).expect("plain strings, numbers and lists serialize");
    format!(
        "# mxproxy setup, saved by `mxproxy wizard`. Keys are the flag names with `_` for `-`.\n\
         # Write the files with: mxproxy generate --config <this file>\n{body}"
    )
}

fn save(prompter: &mut dyn Prompter, setup: &Setup) -> Result<(), Error> {
    let path: PathBuf = ask_parsed(
        prompter,
        &question(
            "save_path",
            "Save the answers as",
            "YAML with one key per flag, for `mxproxy generate --config FILE`.",
        ),
        Some(defaults::SAVE_PATH),
    )?;
    let yaml = saved_yaml(setup);
    match std::fs::read(&path) {
        Ok(old) if old == yaml.as_bytes() => {}
        Ok(_) => {
            let replace = prompter.confirm(
                &question(
                    "replace_saved",
                    "Replace it?",
                    format!("{} exists with other content.", path.display()),
                ),
                false,
            )?;
            if !replace {
                prompter.say("Not saved.");
                return Ok(());
            }
            output::write_atomic(&path, yaml.as_bytes())?;
        }
        Err(_) => output::write_atomic(&path, yaml.as_bytes())?,
    }
    let quoted = shlex::try_quote(&path.display().to_string())
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| path.display().to_string());
    prompter.say(&format!(
        "Saved {}. The same files later, without questions:\n  mxproxy generate --config {quoted}\n",
        path.display()
    ));
    Ok(())
}

/// Both ends a person uses: the wizard needs to read keys and to draw prompts.
pub fn on_terminal() -> bool {
    redirected().is_none()
}

fn redirected() -> Option<&'static str> {
    if !io::stdin().is_terminal() {
        Some("stdin")
    } else if !io::stdout().is_terminal() {
        Some("stdout")
    } else {
        None
    }
}

/// The flags form of what was given, for the refusal without a terminal: the exact
/// command when flags and file make a setup (a missing server name filled in with the
/// example one), else the README's example.
fn flags_example(flags: &GenerateArgs) -> String {
    let setup = match pipeline::setup_from(flags) {
        Err(Error::Missing { .. }) => {
            let mut filled = flags.clone();
            filled.server_name = "example.com".parse().ok();
            pipeline::setup_from(&filled)
        }
        other => other,
    };
    setup
        .and_then(|setup| command_line(&setup, flags.force, flags.dry_run))
        .unwrap_or_else(|_| FLAGS_EXAMPLE.into())
}

/// `mxproxy wizard` and bare `mxproxy` on a terminal.
/// The questions cover proxies and compose stacks; a Kubernetes setup is given as flags.
fn kubernetes_refused() -> Error {
    Error::Conflict {
        message: "the wizard asks about proxies and compose stacks, not Kubernetes; \
                  write Kubernetes manifests with `mxproxy generate --kubernetes`"
            .into(),
        example: "mxproxy generate --server-name example.com --kubernetes --ingress-class nginx \
                  --cluster-issuer letsencrypt"
            .into(),
    }
}

pub fn run(flags: &GenerateArgs) -> Result<(), Error> {
    if flags.kubernetes {
        return Err(kubernetes_refused());
    }
    if let Some(stream) = redirected() {
        return Err(Error::NotATerminal {
            stream,
            example: flags_example(flags),
        });
    }
    let file = match &flags.config {
        Some(path) => config::read_file(path)?,
        None => FileSetup::default(),
    };
    if file.kubernetes == Some(true) {
        return Err(kubernetes_refused());
    }
    let prefill = prefill(flags, file);
    interrupt::install();
    let mut prompter = TerminalPrompter::new();
    prompter.say(
        "mxproxy wizard: Enter keeps the default shown in brackets.\n\
         Nothing is written before the last question; Esc or Ctrl-C quits at any time.\n",
    );
    let answers = interview(&mut prompter, &prefill)?;
    let setup = config::merge(&answers, FileSetup::default())?;
    match review(&mut prompter, &setup, flags.dry_run)? {
        Decision::Write { force } => {
            // A Ctrl-C from here on would leave half a folder; the writing takes moments.
            interrupt::ignore();
            pipeline::write_setup(
                &setup,
                output::Options {
                    force: force || flags.force,
                    dry_run: flags.dry_run,
                },
            )
        }
        Decision::Quit => {
            prompter.say("Nothing was written.");
            Ok(())
        }
    }
}

/// The dialoguer layer: prompts on stdout, keys from the terminal.
pub struct TerminalPrompter {
    term: Term,
    theme: ColorfulTheme,
}

impl Default for TerminalPrompter {
    fn default() -> Self {
        Self::new()
    }
}

impl TerminalPrompter {
    pub fn new() -> Self {
        TerminalPrompter {
            term: Term::stdout(),
            theme: ColorfulTheme::default(),
        }
    }

    fn help(&self, question: &Question) -> io::Result<()> {
        self.term
            .write_line(&style(format!("  {}", question.help)).dim().to_string())
    }
}

impl Prompter for TerminalPrompter {
    fn say(&mut self, text: &str) {
        // A terminal that cannot be written to fails the next prompt, which reports it.
        let _ = self.term.write_line(text);
    }

    fn refuse(&mut self, message: &str) {
        let mut line = String::new();
        let _ = self.theme.format_error(&mut line, message);
        let _ = self.term.write_line(&line);
    }

    /// dialoguer's `Input` ignores Esc, so text is read here, key by key, in the same
    /// theme: Esc cancels, Backspace deletes, Enter ends the line.
    fn text(
        &mut self,
        question: &Question,
        default: Option<&str>,
        check: &mut dyn FnMut(&str) -> Result<(), String>,
    ) -> Result<String, Stop> {
        self.help(question)?;
        loop {
            let mut prompt = String::new();
            let _ = self
                .theme
                .format_input_prompt(&mut prompt, question.prompt, default);
            self.term.write_str(&prompt)?;
            self.term.flush()?;
            let mut typed = String::new();
            loop {
                match self.term.read_key()? {
                    Key::Enter => break,
                    Key::Escape => {
                        self.term.write_line("")?;
                        return Err(Stop::Cancelled);
                    }
                    Key::Backspace if !typed.is_empty() => {
                        typed.pop();
                        self.term.clear_chars(1)?;
                    }
                    Key::Char(c) if !c.is_control() => {
                        typed.push(c);
                        self.term.write_str(c.encode_utf8(&mut [0; 4]))?;
                    }
                    _ => {}
                }
                self.term.flush()?;
            }
            match check(&typed) {
                Ok(()) => {
                    // The prompt line becomes the answer, as dialoguer's lists do.
                    let width = measure_text_width(&prompt) + measure_text_width(&typed);
                    let columns = usize::from(self.term.size().1).max(1);
                    self.term.clear_line()?;
                    self.term
                        .clear_last_lines(width.saturating_sub(1) / columns)?;
                    let answer = match default {
                        Some(default) if typed.is_empty() => default,
                        _ if typed.is_empty() => "none",
                        _ => &typed,
                    };
                    let mut line = String::new();
                    let _ = self.theme.format_input_prompt_selection(
                        &mut line,
                        question.prompt,
                        answer,
                    );
                    self.term.write_line(&line)?;
                    return Ok(typed);
                }
                Err(message) => {
                    // The refused line stays, so the message has its value in view.
                    self.term.write_line("")?;
                    self.refuse(&message);
                }
            }
        }
    }

    fn select(
        &mut self,
        question: &Question,
        items: &[String],
        default: usize,
    ) -> Result<usize, Stop> {
        self.help(question)?;
        Select::with_theme(&self.theme)
            .with_prompt(question.prompt)
            .items(items)
            .default(default)
            .interact_on_opt(&self.term)?
            .ok_or(Stop::Cancelled)
    }

    fn multi_select(
        &mut self,
        question: &Question,
        items: &[String],
        checked: &[bool],
    ) -> Result<Vec<usize>, Stop> {
        self.help(question)?;
        MultiSelect::with_theme(&self.theme)
            .with_prompt(question.prompt)
            .items_checked(items.iter().zip(checked.iter().copied()))
            .interact_on_opt(&self.term)?
            .ok_or(Stop::Cancelled)
    }

    fn confirm(&mut self, question: &Question, default: bool) -> Result<bool, Stop> {
        self.help(question)?;
        Confirm::with_theme(&self.theme)
            .with_prompt(question.prompt)
            .default(default)
            .interact_on_opt(&self.term)?
            .ok_or(Stop::Cancelled)
    }
}

/// Ctrl-C. console reads keys in raw mode and, on Ctrl-C, restores the terminal and
/// raises SIGINT itself; a Ctrl-C between keys arrives as SIGINT from the kernel. Either
/// way this handler ends the wizard: terminal settings as they were at the start, cursor
/// visible (dialoguer hides it in lists), the message, exit 130.
mod interrupt {
    use std::sync::OnceLock;

    static SAVED: OnceLock<libc::termios> = OnceLock::new();

    fn write_all(fd: libc::c_int, bytes: &[u8]) {
        // SAFETY: write(2) is async-signal-safe and reads only `bytes`.
        unsafe {
            libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        }
    }

    extern "C" fn on_interrupt(_: libc::c_int) {
        // Only async-signal-safe calls here: tcsetattr, write, _exit.
        if let Some(saved) = SAVED.get() {
            // SAFETY: `saved` is a termios that tcgetattr filled for this same fd.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
            }
        }
        write_all(libc::STDOUT_FILENO, b"\x1b[?25h\n");
        write_all(libc::STDERR_FILENO, b"error: ");
        write_all(libc::STDERR_FILENO, crate::error::CANCELLED.as_bytes());
        write_all(libc::STDERR_FILENO, b"\n");
        // SAFETY: _exit ends the process without running anything else.
        unsafe { libc::_exit(130) }
    }

    pub fn install() {
        let mut termios = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr fills `termios` when it returns 0, and only then is it read.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, termios.as_mut_ptr()) } == 0 {
            let _ = SAVED.set(unsafe { termios.assume_init() });
        }
        // SAFETY: the handler only makes async-signal-safe calls.
        unsafe {
            libc::signal(
                libc::SIGINT,
                on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }

    pub fn ignore() {
        // SAFETY: SIG_IGN installs no code.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
        }
    }
}
