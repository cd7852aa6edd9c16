//! What `generate` tells its caller: the human summary, or one JSON object for scripts
//! (`--format json`, schema in `schema/generate-output.schema.json`).

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::output::{Change, FileStatus, Rendered};
use crate::render::Step;

/// Bumped on any change a consumer could trip over (a field removed, renamed or retyped);
/// new optional fields keep the version.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub mxproxy_version: &'static str,
    pub server_name: String,
    pub homeserver_host: String,
    pub out: String,
    pub layout: &'static str,
    pub dry_run: bool,
    pub files: Vec<FileReport>,
    pub next_steps: Vec<Step>,
    pub warnings: Vec<String>,
    /// With `--dry-run`: the unified diff against the files on disk, else null.
    pub diff: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FileReport {
    /// Below `out`, with `/`.
    pub path: String,
    /// `out` joined with `path`: where the file is (or, with `--dry-run`, would be).
    pub written_to: String,
    /// `created`, `updated` or `unchanged`; with `--dry-run`, what would happen.
    pub status: Change,
    /// Of the generated content, lower-case hex.
    pub sha256: String,
    pub bytes: usize,
    /// The template's name (`nginx/site.conf.j2`).
    pub template: String,
    /// `built-in`, or the user's file it was read from (`--templates`).
    pub template_source: String,
}

pub fn sha256_hex(content: &[u8]) -> String {
    Sha256::digest(content)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// One entry per generated file, in layout order.
pub fn file_reports(
    out: &std::path::Path,
    files: &[Rendered],
    statuses: &[FileStatus],
    templates: &[(&'static str, String)],
) -> Vec<FileReport> {
    files
        .iter()
        .zip(statuses)
        .zip(templates)
        .map(|((file, status), (template, source))| FileReport {
            path: status.path.clone(),
            written_to: out.join(&file.path).display().to_string(),
            status: status.status,
            sha256: sha256_hex(file.content.as_bytes()),
            bytes: file.content.len(),
            template: template.to_string(),
            template_source: source.clone(),
        })
        .collect()
}
