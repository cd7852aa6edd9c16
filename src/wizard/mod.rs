//! `mxproxy wizard`: the setup asked one question at a time.
//!
//! The answers fill a `SetupLayer`, exactly as flags would. Each answer goes through the
//! `FromStr` of its flag and then through `config::merge`, so the wizard has no validation,
//! defaults or templates of its own, and what it writes is what `generate` writes for the
//! printed command. The terminal sits behind `Prompter`, so `interview` and `review` run in
//! tests from a script of answers; `TerminalPrompter` is the thin dialoguer layer.

mod review;
mod terminal;

use std::fmt;
use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::str::FromStr;

use crate::cli::GenerateArgs;
use crate::config::{self, SetupLayer};
use crate::defaults::{self, COMPOSE_SERVICE};
use crate::error::Error;
use crate::homeserver;
use crate::matrix;
use crate::output;
use crate::pipeline;
use crate::setup::{
    ByteSize, Email, Homeserver, Host, MasPublic, Port, Proxy, SafePath, ServerName, TlsMode,
    Upstream, UrlPrefix, shown,
};

pub use review::{Decision, command_line, review, saved_yaml};
pub use terminal::TerminalPrompter;

/// The port servers try when a server name has no well-known file and no SRV record.
const MATRIX_FEDERATION_PORT: Port = Port::new_unchecked(matrix::FEDERATION_PORT);
const DEFAULT_FEDERATION_PORT: Port = Port::new_unchecked(defaults::FEDERATION_PORT);
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
fn accept(prompter: &mut dyn Prompter, answers: &mut SetupLayer, trial: SetupLayer) -> bool {
    match config::merge(&trial, SetupLayer::default()) {
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
    answers: &mut SetupLayer,
    question: &Question,
    default: Option<&str>,
    set: impl Fn(&mut SetupLayer, T),
) -> Result<(), Stop>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    let before = answers.clone();
    *answers = ask_text(prompter, question, default, |text| {
        let mut trial = before.clone();
        set(&mut trial, parse(text)?);
        config::merge(&trial, SetupLayer::default()).map_err(|err| err.to_string())?;
        Ok(trial)
    })?;
    Ok(())
}

fn chosen_homeserver(answers: &SetupLayer) -> Homeserver {
    answers
        .homeserver
        .map(|name| name.homeserver)
        .unwrap_or_default()
}

fn homeserver_port(answers: &SetupLayer) -> u16 {
    homeserver::facts(chosen_homeserver(answers)).port
}

/// The upstream `merge` picks when none is given; it follows the compose answer.
fn implicit_upstream(answers: &SetupLayer) -> String {
    config::default_upstream(chosen_homeserver(answers), answers.compose == Some(true)).to_string()
}

/// Asks every question and returns the answers as a layer of flags. `prefill` (the flags
/// over the `--config` file) supplies each default; `merge` of the answers alone is the setup.
pub fn interview(prompter: &mut dyn Prompter, prefill: &SetupLayer) -> Result<SetupLayer, Stop> {
    // Only what was answered so far, plus what no question asks about (webroot, clients;
    // listen addresses join at the proxies question, the first answer they can conflict
    // with), so that a refusal always concerns the answer just given.
    let mut answers = SetupLayer {
        webroot: prefill.webroot.clone(),
        clients: prefill.clients,
        compose: prefill.compose,
        ..SetupLayer::default()
    };
    ask_server_name(prompter, &mut answers, prefill)?;
    ask_homeserver_host(prompter, &mut answers, prefill)?;
    ask_homeserver(prompter, &mut answers, prefill)?;
    ask_upstream(prompter, &mut answers, prefill.upstream.as_ref())?;
    ask_mas(prompter, &mut answers, prefill)?;
    ask_federation(prompter, &mut answers, prefill)?;
    ask_tls(prompter, &mut answers, prefill)?;
    ask_max_upload(prompter, &mut answers, prefill)?;
    answers.listen_address = prefill.listen_address.clone();
    ask_proxies(prompter, &mut answers, prefill)?;
    ask_compose(prompter, &mut answers)?;
    ask_rtc(prompter, &mut answers, prefill)?;
    ask_element_web(prompter, &mut answers, prefill)?;
    ask_out(prompter, &mut answers, prefill)?;
    Ok(answers)
}

fn ask_server_name(
    prompter: &mut dyn Prompter,
    answers: &mut SetupLayer,
    prefill: &SetupLayer,
) -> Result<(), Stop> {
    let default = prefill.server_name.as_ref().map(ToString::to_string);
    ask_checked(
        prompter,
        answers,
        &question(
            "server_name",
            "Server name",
            "The name in user ids: @alice:example.com -> example.com. Chosen for good.",
        ),
        default.as_deref(),
        |a, v: ServerName| a.server_name = Some(v),
    )
}

fn ask_homeserver_host(
    prompter: &mut dyn Prompter,
    answers: &mut SetupLayer,
    prefill: &SetupLayer,
) -> Result<(), Stop> {
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
        answers,
        &question(
            "homeserver_host",
            "Homeserver host",
            "Where the APIs answer. A subdomain keeps the server name free for a website.",
        ),
        default.as_deref(),
        |a, v: Host| a.homeserver_host = Some(v),
    )
}

fn ask_homeserver(
    prompter: &mut dyn Prompter,
    answers: &mut SetupLayer,
    prefill: &SetupLayer,
) -> Result<(), Stop> {
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
    Ok(())
}

fn ask_max_upload(
    prompter: &mut dyn Prompter,
    answers: &mut SetupLayer,
    prefill: &SetupLayer,
) -> Result<(), Stop> {
    let default = prefill
        .max_upload
        .unwrap_or(homeserver::facts(chosen_homeserver(answers)).default_max_upload)
        .to_string();
    ask_checked(
        prompter,
        answers,
        &question(
            "max_upload",
            "Upload limit",
            "Largest upload the proxies and homeserver accept; K, M, G are binary units.",
        ),
        Some(&default),
        |a, v: ByteSize| a.max_upload = Some(v),
    )
}

/// Element Web on a host of its own, or none (an empty answer). Its folder, its upstream
/// and the base redirect have no question of their own: they come from the flags or the
/// file as given, checked with the host by the same `merge`.
fn ask_element_web(
    prompter: &mut dyn Prompter,
    answers: &mut SetupLayer,
    prefill: &SetupLayer,
) -> Result<(), Stop> {
    let default = prefill.element_web.as_ref().map(ToString::to_string);
    let before = answers.clone();
    *answers = ask_text(
        prompter,
        &question(
            "element_web",
            "Element Web host",
            "Serve the web client on a host of its own, e.g. chat.<server name>; \
             never the homeserver host or the server name. Empty for none.",
        ),
        default.as_deref(),
        |text| {
            let mut trial = before.clone();
            if !text.is_empty() {
                trial.element_web = Some(parse::<Host>(text)?);
                trial.element_web_root = prefill.element_web_root.clone();
                trial.element_web_upstream = prefill.element_web_upstream.clone();
                trial.base_redirect = prefill.base_redirect.clone();
                leave_out_non_file_servers(&mut trial, prefill);
            }
            config::merge(&trial, SetupLayer::default()).map_err(|err| err.to_string())?;
            Ok(trial)
        },
    )?;
    if answers.proxy != before.proxy {
        prompter.say(
            "Left out of the proxies: those that cannot serve Element Web's files (HAProxy, \
             Traefik); nginx, Apache and Caddy can.",
        );
    }
    Ok(())
}

/// As `generate` does with its default proxy list: where no `--proxy` was given, the
/// proxies that cannot serve Element Web's folder are left out rather than refused. Not
/// where Element's own server serves it (compose stack, `--element-web-upstream`).
fn leave_out_non_file_servers(trial: &mut SetupLayer, prefill: &SetupLayer) {
    let forwards = trial.compose == Some(true) || trial.element_web_upstream.is_some();
    if prefill.proxy.is_some() || forwards {
        return;
    }
    if let Some(proxies) = &mut trial.proxy {
        proxies.retain(|&proxy| crate::proxy::facts(proxy).serves_files);
    }
}

fn ask_out(
    prompter: &mut dyn Prompter,
    answers: &mut SetupLayer,
    prefill: &SetupLayer,
) -> Result<(), Stop> {
    let default = prefill
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(defaults::OUT))
        .display()
        .to_string();
    ask_checked(
        prompter,
        answers,
        &question(
            "out",
            "Output folder",
            "Where the files go, relative to here; nothing is written before you confirm.",
        ),
        Some(&default),
        |a, v: PathBuf| a.out = Some(v),
    )
}

fn ask_upstream(
    prompter: &mut dyn Prompter,
    answers: &mut SetupLayer,
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

/// The prefix offered for `--mas-path` when none was given: MDAD's default placement,
/// `https://matrix.example.com/auth` (spantaleev/matrix-docker-ansible-deploy,
/// docs/configuring-playbook-matrix-authentication-service.md). `merge` has no default for
/// it: without `--mas-path` MAS gets a host of its own.
const MAS_PATH_OFFERED: &str = "/auth";

/// `--mas` and its values, asked for Synapse only (MAS's `matrix.kind` names no other
/// homeserver; `merge` refuses the others). Each answer goes through its flag's `FromStr`
/// and `merge`, and an offered default that was taken leaves its flag unset, as `generate`
/// without the flag would.
fn ask_mas(
    prompter: &mut dyn Prompter,
    answers: &mut SetupLayer,
    prefill: &SetupLayer,
) -> Result<(), Stop> {
    if chosen_homeserver(answers) != Homeserver::Synapse {
        return Ok(());
    }
    let choice = question(
        "mas",
        "Log in through the Matrix Authentication Service (MAS)?",
        "OAuth 2.0 login, which Element X's login and QR sign-in expect; MAS runs beside Synapse.",
    );
    loop {
        if !prompter.confirm(&choice, prefill.mas == Some(true))? {
            answers.mas = None;
            return Ok(());
        }
        let mut trial = answers.clone();
        trial.mas = Some(true);
        // Checked with MAS below a path, which no host question follows: a refusal then is
        // of MAS itself with the answers so far (as --mas with --compose, where that is not
        // supported), and belongs to this question. Refusals of MAS's host or upstream come
        // with those answers.
        let mut placed = trial.clone();
        placed.mas_path = MAS_PATH_OFFERED.parse().ok();
        match config::merge(&placed, SetupLayer::default()) {
            Err(err) => prompter.refuse(&err.to_string()),
            Ok(_) => {
                *answers = trial;
                ask_mas_public(prompter, answers, prefill)?;
                return ask_mas_upstream(prompter, answers, prefill.mas_upstream.as_ref());
            }
        }
    }
}

/// MAS's own host (`--mas-host`, `merge`'s default `auth.<server-name>` offered) or a path
/// below the homeserver host (`--mas-path`).
fn ask_mas_public(
    prompter: &mut dyn Prompter,
    answers: &mut SetupLayer,
    prefill: &SetupLayer,
) -> Result<(), Stop> {
    const OWN_HOST: usize = 0;
    let homeserver_host = answers
        .homeserver_host
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    // The host `merge` picks without --mas-host; none when it refuses it (a homeserver host
    // of that name, a server name too long for `auth.` in front).
    let implicit = config::merge(answers, SetupLayer::default())
        .ok()
        .and_then(|setup| match setup.mas.map(|mas| mas.public) {
            Some(MasPublic::Host(host)) => Some(host.to_string()),
            _ => None,
        });
    let items = [
        match &implicit {
            Some(host) => format!("a host of its own, e.g. {host} (one more certificate name)"),
            None => "a host of its own (one more certificate name)".to_string(),
        },
        format!("a path below {homeserver_host}, e.g. {homeserver_host}{MAS_PATH_OFFERED}"),
    ];
    let picked = prompter.select(
        &question(
            "mas_public",
            "Where MAS answers",
            "Its login pages and OAuth 2.0 endpoints: on a host of its own, or below a path.",
        ),
        &items,
        usize::from(prefill.mas_path.is_some() && prefill.mas_host.is_none()),
    )?;
    answers.mas_host = None;
    answers.mas_path = None;
    if picked == OWN_HOST {
        let default = prefill
            .mas_host
            .as_ref()
            .map(ToString::to_string)
            .or(implicit);
        ask_checked(
            prompter,
            answers,
            &question(
                "mas_host",
                "MAS host",
                "MAS's public host, proxied wholesale; it needs a DNS record and a certificate.",
            ),
            default.as_deref(),
            |a, v: Host| a.mas_host = Some(v),
        )
    } else {
        let default = prefill
            .mas_path
            .as_ref()
            .map_or(MAS_PATH_OFFERED.to_string(), ToString::to_string);
        ask_checked(
            prompter,
            answers,
            &question(
                "mas_path",
                "MAS path",
                format!(
                    "The prefix on {homeserver_host} MAS is mounted under (its listener's prefix)."
                ),
            ),
            Some(&default),
            |a, v: UrlPrefix| a.mas_path = Some(v),
        )
    }
}

fn ask_mas_upstream(
    prompter: &mut dyn Prompter,
    answers: &mut SetupLayer,
    given: Option<&Upstream>,
) -> Result<(), Stop> {
    // `merge`'s own default, so that it is written in one place.
    let implicit = config::merge(answers, SetupLayer::default())
        .ok()
        .and_then(|setup| setup.mas)
        .map(|mas| mas.upstream.to_string());
    let default = given.map(ToString::to_string).or(implicit.clone());
    let explicit = given.is_some();
    ask_checked(
        prompter,
        answers,
        &question(
            "mas_upstream",
            "MAS upstream",
            "Where MAS's listener answers the proxy, as HOST:PORT (not the homeserver's).",
        ),
        default.as_deref(),
        move |a, v: Upstream| {
            a.mas_upstream = (explicit || Some(v.to_string()) != implicit).then_some(v);
        },
    )
}

fn ask_federation(
    prompter: &mut dyn Prompter,
    answers: &mut SetupLayer,
    prefill: &SetupLayer,
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
    let current = match (prefill.no_federation == Some(true), prefill.federation_port) {
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
        trial.no_federation = (picked == OFF).then_some(true);
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
    answers: &mut SetupLayer,
    prefill: &SetupLayer,
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
    answers: &mut SetupLayer,
    prefill: &SetupLayer,
) -> Result<(), Stop> {
    // Listed in the given order first, because the compose stack runs the first proxy.
    let mut order: Vec<Proxy> = Vec::new();
    let given = prefill
        .proxy
        .as_deref()
        .filter(|given| !given.is_empty())
        .unwrap_or(Proxy::DEFAULT);
    for proxy in given.iter().chain(Proxy::ALL) {
        if !order.contains(proxy) {
            order.push(*proxy);
        }
    }
    // Every proxy is offered; the ones `generate` writes without --proxy come checked.
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
        trial.proxy = Some(picked.iter().map(|i| order[*i]).collect());
        if accept(prompter, answers, trial) {
            return Ok(());
        }
    }
}

fn ask_compose(prompter: &mut dyn Prompter, answers: &mut SetupLayer) -> Result<(), Stop> {
    let choice = question(
        "compose",
        "Also write a docker-compose stack?",
        "docker-compose.yml with the homeserver and the first proxy, ready to run.",
    );
    let mut yes = prompter.confirm(&choice, answers.compose == Some(true))?;
    loop {
        let mut trial = answers.clone();
        trial.compose = Some(yes);
        match config::merge(&trial, SetupLayer::default()) {
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
                        .is_some_and(|u| u.host.is_loopback() || u.host.is_address())
                {
                    // The fix is another upstream (a service name), so that question comes
                    // back; the compose answer stands and is checked again with it.
                    answers.upstream = Some(ask_compose_upstream(prompter, answers)?);
                } else {
                    yes = prompter.confirm(&choice, answers.compose == Some(true))?;
                }
            }
        }
    }
}

/// Calls (`--rtc`), with the RTC host and upstreams as the flags or file give them (their
/// defaults otherwise): in the compose stack both are services of it.
fn ask_rtc(
    prompter: &mut dyn Prompter,
    answers: &mut SetupLayer,
    prefill: &SetupLayer,
) -> Result<(), Stop> {
    let choice = question(
        "rtc",
        "Add calls (Element Call, Element X)?",
        "LiveKit and its MatrixRTC authorization service on rtc.<server name>, named in the \
         well-known; you run both (see the summary).",
    );
    loop {
        let yes = prompter.confirm(&choice, prefill.rtc == Some(true))?;
        let mut trial = answers.clone();
        trial.rtc = yes.then_some(true);
        if yes {
            trial.rtc_host = prefill.rtc_host.clone();
            trial.livekit_upstream = prefill.livekit_upstream.clone();
            trial.rtc_auth_upstream = prefill.rtc_auth_upstream.clone();
            leave_out_forwarding_proxy(prompter, &mut trial);
        }
        if accept(prompter, answers, trial) {
            return Ok(());
        }
    }
}

/// Traefik (checked among the default proxies) forwards the well-known to a homeserver
/// that may not name the focus: left out, as `generate` leaves it out of the default list,
/// rather than refusing the calls answer; alone, the refusal stands.
fn leave_out_forwarding_proxy(prompter: &mut dyn Prompter, trial: &mut SetupLayer) {
    let Err(Error::RtcWellKnownFromHomeserver { proxy, why, .. }) =
        config::merge(trial, SetupLayer::default())
    else {
        return;
    };
    if let Some(proxies) = trial.proxy.as_mut().filter(|list| list.len() > 1) {
        proxies.retain(|&p| p != proxy);
        prompter.say(&format!(
            "Left out {proxy}: it forwards /.well-known/matrix/ to the homeserver, {why}."
        ));
    }
}

/// The upstream again, checked on its own against the compose stack: other conflicts
/// (listen addresses) are the compose question's and must not block this one.
fn ask_compose_upstream(
    prompter: &mut dyn Prompter,
    answers: &SetupLayer,
) -> Result<Upstream, Stop> {
    let default = config::default_upstream(chosen_homeserver(answers), true).to_string();
    let ask = question(
        "upstream",
        "Upstream",
        "The homeserver's address inside the compose stack, as HOST:PORT.",
    );
    ask_text(prompter, &ask, Some(&default), |text| {
        let upstream: Upstream = parse(text)?;
        let alone = SetupLayer {
            server_name: answers.server_name.clone(),
            homeserver: answers.homeserver,
            upstream: Some(upstream.clone()),
            compose: Some(true),
            ..SetupLayer::default()
        };
        config::merge(&alone, SetupLayer::default()).map_err(|err| err.to_string())?;
        Ok(upstream)
    })
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
            filled.layer.server_name = "example.com".parse().ok();
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
    Error::WizardKubernetes
}

pub fn run(flags: &GenerateArgs) -> Result<(), Error> {
    if flags.kubernetes == Some(true) {
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
        None => SetupLayer::default(),
    };
    if file.kubernetes == Some(true) {
        return Err(kubernetes_refused());
    }
    let prefill = flags.layer.clone().or(file);
    terminal::interrupt::install();
    let mut prompter = TerminalPrompter::new();
    prompter.say(
        "mxproxy wizard: Enter keeps the default shown in brackets.\n\
         Nothing is written before the last question; Esc or Ctrl-C quits at any time.\n",
    );
    let answers = interview(&mut prompter, &prefill)?;
    let setup = config::merge(&answers, SetupLayer::default())?;
    match review(&mut prompter, &setup, flags.dry_run)? {
        Decision::Write { force } => {
            // A Ctrl-C from here on would leave half a folder; the writing takes moments.
            terminal::interrupt::ignore();
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
