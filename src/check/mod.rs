//! `mxproxy check <server-name>`: verifies a live deployment the way homeservers and
//! clients see it, and names the fix for each failure. See `probes` for the checks and the
//! spec sections they follow, `net` for how requests are made and bounded.

mod args;
mod fixes;
pub mod name;
mod net;
mod probes;
pub mod report;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

pub use args::CheckArgs;

use crate::error::Error;

/// Runs every check and prints the report. `Ok` carries the exit code: 0 when nothing
/// required failed, 1 otherwise. `Err` is bad input (exit 2) or no runtime (exit 1).
pub fn run(args: &CheckArgs) -> Result<ExitCode, Error> {
    let extra_roots = match &args.ca_file {
        Some(path) => net::read_ca_file(path).map_err(|reason| Error::CheckInput {
            flag: "--ca-file",
            value: path.display().to_string(),
            reason,
        })?,
        None => Vec::new(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime {
            message: format!("cannot start the async runtime: {e}"),
        })?;
    let report = runtime.block_on(async {
        let net = net::Net::new(
            args.resolve
                .iter()
                .map(|r| (r.host.to_string(), r.port.get(), r.addr)),
            extra_roots,
            args.dns_server,
            Duration::from_secs(args.timeout),
        )
        // --ca-file was checked above: only --dns-server is left to fail here.
        .map_err(|reason| Error::CheckInput {
            flag: "--dns-server",
            value: args.dns_server.map(|s| s.to_string()).unwrap_or_default(),
            reason,
        })?;
        let context = probes::Context {
            net,
            name: args.server_name.clone(),
            expect_upload: args.expect_upload.bytes(),
            expect_upload_text: args.expect_upload.to_string(),
            no_federation: args.no_federation,
            expect_mas: args.mas,
            expect_rtc: args.rtc,
        };
        let (checks, target) = probes::run_all(&context).await;
        Ok::<_, Error>(report::Report::new(
            context.name.to_string(),
            target,
            checks,
        ))
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = if args.json {
        report.write_json(&mut out)
    } else {
        report.write_lines(&mut out, report::use_colour(&stdout))
    };
    let _ = written.and_then(|()| out.flush());
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
