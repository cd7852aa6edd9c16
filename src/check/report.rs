//! What `check` prints: one line per check, or one JSON document whose shape is fixed by
//! `docs/check-output.schema.json` (a test validates real output against it).

use std::fmt;
use std::io::Write;

use anstyle::{AnsiColor, Effects, Style};
use serde::Serialize;

/// Skipped checks and the fix lines: present, but not what the eye should land on.
const DIM: Style = Style::new().effects(Effects::DIMMED);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works as homeservers and clients need it.
    Pass,
    /// Breaks federation or clients: exit code 1.
    Fail,
    /// Works, but is fragile or deprecated.
    Warn,
    /// Not checked: cannot be seen from outside, not wanted, or a step before it failed.
    Skip,
}

impl Status {
    fn symbol(self) -> &'static str {
        match self {
            Status::Pass => "✔",
            Status::Fail => "✘",
            Status::Warn => "!",
            Status::Skip => "-",
        }
    }

    fn style(self) -> Style {
        match self {
            Status::Pass => AnsiColor::Green.on_default(),
            Status::Fail => AnsiColor::Red.on_default(),
            Status::Warn => AnsiColor::Yellow.on_default(),
            Status::Skip => DIM,
        }
    }
}

/// Every check, in the order they are printed: the derived `Ord` is that order. The dotted
/// ids are stable: docs/check-output.schema.json lists them, and `--json` users match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckId {
    TlsServerName,
    ClientWellKnown,
    ClientContentType,
    ClientCors,
    ClientCorsPreflight,
    TlsHomeserver,
    ClientVersions,
    ClientApiCors,
    ServerWellKnown,
    ServerDiscovery,
    TlsFederation,
    FederationVersion,
    FederationKeys,
    ProxyEncodedPath,
    ProxyUploadLimit,
    ProxyForwardedHeaders,
    ProxyCdn,
    MasAuthMetadata,
    MasOpenidConfiguration,
    MasCompatLogin,
    MasInternalApi,
    RtcFocus,
    TlsRtc,
    RtcAuthCors,
    RtcWebsocket,
    RtcOpenidUserinfo,
}

impl CheckId {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::TlsServerName => "tls.server-name",
            CheckId::ClientWellKnown => "client.well-known",
            CheckId::ClientContentType => "client.content-type",
            CheckId::ClientCors => "client.cors",
            CheckId::ClientCorsPreflight => "client.cors-preflight",
            CheckId::TlsHomeserver => "tls.homeserver",
            CheckId::ClientVersions => "client.versions",
            CheckId::ClientApiCors => "client.api-cors",
            CheckId::ServerWellKnown => "server.well-known",
            CheckId::ServerDiscovery => "server.discovery",
            CheckId::TlsFederation => "tls.federation",
            CheckId::FederationVersion => "federation.version",
            CheckId::FederationKeys => "federation.keys",
            CheckId::ProxyEncodedPath => "proxy.encoded-path",
            CheckId::ProxyUploadLimit => "proxy.upload-limit",
            CheckId::ProxyForwardedHeaders => "proxy.forwarded-headers",
            CheckId::ProxyCdn => "proxy.cdn",
            CheckId::MasAuthMetadata => "mas.auth-metadata",
            CheckId::MasOpenidConfiguration => "mas.openid-configuration",
            CheckId::MasCompatLogin => "mas.compat-login",
            CheckId::MasInternalApi => "mas.internal-api",
            CheckId::RtcFocus => "rtc.focus",
            CheckId::TlsRtc => "tls.rtc",
            CheckId::RtcAuthCors => "rtc.auth-cors",
            CheckId::RtcWebsocket => "rtc.websocket",
            CheckId::RtcOpenidUserinfo => "rtc.openid-userinfo",
        }
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`: the lines align ids with `{:width$}`.
        f.pad(self.as_str())
    }
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One named check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: CheckId,
    pub status: Status,
    pub detail: String,
    /// The directive or `mxproxy generate` flag that fixes a failure or warning.
    pub fix: Option<String>,
}

impl CheckResult {
    pub fn pass(id: CheckId, detail: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn fail(id: CheckId, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn warn(id: CheckId, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn skip(id: CheckId, detail: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Skip,
            detail: detail.into(),
            fix: None,
        }
    }
}

/// The whole run: the JSON document, and the source of the lines.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Bumped only when a field changes meaning or disappears.
    pub schema_version: u32,
    pub server_name: String,
    /// Where other homeservers send federation traffic, if discovery got that far.
    pub federation_target: Option<String>,
    /// False when any check failed; the exit code is 1 then.
    pub ok: bool,
    pub checks: Vec<CheckResult>,
}

impl Report {
    pub fn new(
        server_name: String,
        federation_target: Option<String>,
        checks: Vec<CheckResult>,
    ) -> Report {
        let ok = checks.iter().all(|c| c.status != Status::Fail);
        Report {
            schema_version: 1,
            server_name,
            federation_target,
            ok,
            checks,
        }
    }

    pub fn write_json(&self, out: &mut impl Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }

    pub fn write_lines(&self, out: &mut impl Write, colour: bool) -> std::io::Result<()> {
        let width = self
            .checks
            .iter()
            .map(|c| c.id.as_str().len())
            .max()
            .unwrap_or(0);
        // A plain Style writes nothing, neither itself nor its reset.
        let paint = |style: Style| if colour { style } else { Style::new() };
        let dim = paint(DIM);
        writeln!(out, "mxproxy check {}", self.server_name)?;
        for check in &self.checks {
            let style = paint(check.status.style());
            writeln!(
                out,
                "{style}{}{style:#} {:width$}  {}",
                check.status.symbol(),
                check.id,
                check.detail
            )?;
            if let Some(fix) = &check.fix {
                for (i, line) in fix.lines().enumerate() {
                    let label = if i == 0 { "fix:" } else { "    " };
                    writeln!(out, "  {:width$}  {dim}{label} {line}{dim:#}", "")?;
                }
            }
        }
        let count = |status| self.checks.iter().filter(|c| c.status == status).count();
        writeln!(
            out,
            "summary: {} ok, {} failing, {} warnings, {} not checked",
            count(Status::Pass),
            count(Status::Fail),
            count(Status::Warn),
            count(Status::Skip)
        )
    }
}

/// Colour where anstream would keep it, so that `check` follows `generate`'s policy: on a
/// terminal unless NO_COLOR is set (https://no-color.org), anywhere with CLICOLOR_FORCE.
/// The lines are then written as they are, not through anstream, whose stripping would also
/// take escape sequences out of what a server sent and a detail quotes.
pub fn use_colour(stdout: &std::io::Stdout) -> bool {
    anstream::AutoStream::choice(stdout) != anstream::ColorChoice::Never
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Set for the child that `colour_with` starts.
    const COLOUR_PROBE: &str = "MXPROXY_COLOUR_PROBE";

    /// `use_colour` reads the environment, which a threaded test binary cannot change safely:
    /// each case runs `colour_probe` in a child process of this binary, its stdout a pipe.
    fn colour_with(env: &[(&str, &str)]) -> bool {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "check::report::tests::colour_probe",
                "--exact",
                "--nocapture",
            ])
            .env(COLOUR_PROBE, "1");
        for name in ["NO_COLOR", "CLICOLOR_FORCE", "CLICOLOR"] {
            command.env_remove(name);
        }
        let output = command.envs(env.iter().copied()).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout}");
        if stdout.contains("colour: yes") {
            true
        } else {
            assert!(
                stdout.contains("colour: no"),
                "the probe did not run:\n{stdout}"
            );
            false
        }
    }

    #[test]
    fn colour_probe() {
        if std::env::var_os(COLOUR_PROBE).is_some() {
            let colour = use_colour(&std::io::stdout());
            println!("colour: {}", if colour { "yes" } else { "no" });
        }
    }

    /// Colour only on a terminal, and never when NO_COLOR is set to anything non-empty. The
    /// child's stdout is a pipe, so CLICOLOR_FORCE stands in for a terminal.
    #[test]
    fn colour_rules() {
        assert!(!colour_with(&[]));
        assert!(colour_with(&[("CLICOLOR_FORCE", "1")]));
        assert!(colour_with(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")]));
        assert!(!colour_with(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]));
    }

    /// The schema's description is where users read the ids; the enum must print the same
    /// words in the same order.
    #[test]
    fn ids_match_the_schema_in_print_order() {
        let ids = [
            CheckId::TlsServerName,
            CheckId::ClientWellKnown,
            CheckId::ClientContentType,
            CheckId::ClientCors,
            CheckId::ClientCorsPreflight,
            CheckId::TlsHomeserver,
            CheckId::ClientVersions,
            CheckId::ClientApiCors,
            CheckId::ServerWellKnown,
            CheckId::ServerDiscovery,
            CheckId::TlsFederation,
            CheckId::FederationVersion,
            CheckId::FederationKeys,
            CheckId::ProxyEncodedPath,
            CheckId::ProxyUploadLimit,
            CheckId::ProxyForwardedHeaders,
            CheckId::ProxyCdn,
            CheckId::MasAuthMetadata,
            CheckId::MasOpenidConfiguration,
            CheckId::MasCompatLogin,
            CheckId::MasInternalApi,
            CheckId::RtcFocus,
            CheckId::TlsRtc,
            CheckId::RtcAuthCors,
            CheckId::RtcWebsocket,
            CheckId::RtcOpenidUserinfo,
        ];
        assert!(ids.is_sorted_by(|a, b| a < b));
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/check-output.schema.json")).unwrap();
        let description = schema["description"].as_str().unwrap();
        let listed = description
            .split_once("Check ids: ")
            .unwrap()
            .1
            .trim_end_matches('.');
        let printed: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
        assert_eq!(listed, printed.join(", "));
        assert_eq!(
            serde_json::to_string(&CheckId::ClientCorsPreflight).unwrap(),
            "\"client.cors-preflight\""
        );
        assert_eq!(format!("{:16}|", CheckId::ClientCors), "client.cors     |");
    }

    #[test]
    fn lines_carry_fix_and_no_escapes_without_colour() {
        let report = Report::new(
            "example.com".into(),
            None,
            vec![
                CheckResult::pass(CheckId::ClientWellKnown, "fine"),
                CheckResult::fail(CheckId::ClientCors, "no header", "add it"),
            ],
        );
        assert!(!report.ok);
        let mut out = Vec::new();
        report.write_lines(&mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("✘ client.cors"), "{text}");
        assert!(text.contains("fix: add it"), "{text}");
        assert!(!text.contains('\x1b'), "{text}");
        let mut out = Vec::new();
        report.write_lines(&mut out, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("\x1b[32m✔\x1b[0m client.well-known"),
            "{text:?}"
        );
        assert!(text.contains("\x1b[31m✘\x1b[0m client.cors"), "{text:?}");
        assert!(text.contains("\x1b[2mfix: add it\x1b[0m"), "{text:?}");
    }
}
