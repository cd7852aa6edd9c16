//! After the questions: the setup and its files shown, the equivalent command, and the
//! choice to write, save the answers as YAML, or quit.

use std::fmt;
use std::path::PathBuf;

use super::{Prompter, ask_parsed, question};
use crate::config::{self, SetupLayer};
use crate::defaults;
use crate::error::Error;
use crate::homeserver;
use crate::output::{self, Change, FileStatus};
use crate::pipeline;
use crate::render::Templates;
use crate::setup::{ElementWebServed, Layout, MasPublic, Setup, Tls, shown};

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
    // Every other value is validated; only a path can carry a NUL (from YAML "\0").
    let quoted =
        shlex::try_join(args.iter().map(String::as_str)).map_err(|_| Error::OutNotShellSafe {
            out: shown(&setup.out.display().to_string()),
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
    let mas = match &setup.mas {
        None => String::new(),
        Some(mas) => {
            let public = match &mas.public {
                MasPublic::Host(host) => format!("https://{host}/"),
                MasPublic::Path(path) => format!("https://{}{path}/", setup.homeserver_host),
            };
            format!("  login (MAS)       {public}, at {}\n", mas.upstream)
        }
    };
    let calls = match &setup.rtc {
        None => String::new(),
        Some(rtc) => format!(
            "  calls             https://{}, LiveKit at {}, authorization at {}\n",
            rtc.host, rtc.livekit, rtc.auth
        ),
    };
    // Only with --element-web: the review of other setups reads as before.
    let element_web = match setup
        .element_web
        .as_ref()
        .map(|web| (&web.host, &web.served))
    {
        Some((host, ElementWebServed::Files(root))) => {
            format!("\x20 Element Web       {host}, files from {root}\n")
        }
        Some((host, ElementWebServed::Upstream(upstream))) => {
            format!("\x20 Element Web       {host}, forwarded to {upstream}\n")
        }
        None => String::new(),
    };
    let mut text = format!(
        "\nThe setup:\n\
         \x20 server name       {server_name} (users are @name:{server_name})\n\
         \x20 homeserver host   {host}\n\
         \x20 homeserver        {display_name}, at {upstream}\n\
         {mas}\
         \x20 federation        {federation}\n\
         \x20 TLS               {tls}\n\
         \x20 upload limit      {max_upload}\n\
         \x20 proxies           {proxies}\n\
         \x20 compose stack     {compose}\n\
         {calls}\
         {element_web}\
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

/// The YAML for `--config` that gives `setup` back.
pub fn saved_yaml(setup: &Setup) -> String {
    let saved = SetupLayer::from(setup);
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
