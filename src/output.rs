//! Writing the rendered files: atomically, never over a user's changes without `--force`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;

/// One generated file: its path below `--out` and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub path: PathBuf,
    pub content: String,
}

/// What writing a file did to it (with `--dry-run`: what it would do). Serialized as the
/// word the summary prints and `--format json` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

impl Change {
    pub fn word(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `{:<10}` pads the word, as the summary's columns need.
        f.pad(self.word())
    }
}

/// A written file and what happened to it.
#[derive(Debug, Clone, Serialize)]
pub struct FileStatus {
    pub path: String,
    pub status: Change,
}

pub struct Options {
    pub force: bool,
    pub dry_run: bool,
}

fn existing(path: &Path) -> Result<Option<String>, Error> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Write {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Compares every file first, so that a refusal leaves the folder exactly as it was.
/// With `dry_run`, prints a unified diff of each change to `diff` instead of writing.
pub fn write_all(
    out: &Path,
    files: &[Rendered],
    options: &Options,
    diff: &mut dyn Write,
) -> Result<Vec<FileStatus>, Error> {
    let mut planned = Vec::with_capacity(files.len());
    for file in files {
        let path = out.join(&file.path);
        let before = existing(&path)?;
        let change = match &before {
            None => Change::Created,
            Some(old) if *old == file.content => Change::Unchanged,
            Some(_) => Change::Updated,
        };
        planned.push((file, path, before, change));
    }

    if options.dry_run {
        for (file, path, before, change) in &planned {
            if *change == Change::Unchanged {
                continue;
            }
            let old = before.as_deref().unwrap_or("");
            let old_name = if before.is_some() {
                path.display().to_string()
            } else {
                "/dev/null".to_string()
            };
            let text = similar::TextDiff::from_lines(old, file.content.as_str())
                .unified_diff()
                .header(&old_name, &path.display().to_string())
                .to_string();
            let _ = diff.write_all(text.as_bytes());
        }
    } else {
        let refused: Vec<PathBuf> = planned
            .iter()
            .filter(|(.., change)| *change == Change::Updated)
            .map(|(_, path, ..)| path.clone())
            .collect();
        if !refused.is_empty() && !options.force {
            return Err(Error::WouldOverwrite { paths: refused });
        }
        for (file, path, _, change) in &planned {
            if *change != Change::Unchanged {
                write_atomic(path, file.content.as_bytes())?;
            }
        }
    }

    Ok(planned
        .into_iter()
        .map(|(file, _, _, change)| FileStatus {
            path: file.path.display().to_string(),
            status: change,
        })
        .collect())
}

/// Temp file in the same directory, then `rename`: readers see the old file or the new
/// one, never half of one.
pub(crate) fn write_atomic(path: &Path, content: &[u8]) -> Result<(), Error> {
    let failed = |source: io::Error| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(failed)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".mxproxy-")
        .tempfile_in(dir)
        .map_err(failed)?;
    temp.write_all(content).map_err(failed)?;
    temp.as_file().sync_all().map_err(failed)?;
    // Proxies often run as their own user (caddy, www-data): the file must be readable.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(failed)?;
    }
    temp.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}
