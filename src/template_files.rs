//! Which files of a folder are templates, and the name each is rendered by. Shared by the
//! build script (which embeds `templates/`) and `--templates DIR`, so that a user's folder
//! is read exactly as the built-in one: names are paths below the folder joined with `/`,
//! dotfiles and files other than `*.j2` are skipped, and the order is by name.
//! Imports nothing of the crate: build.rs includes this file on its own.

use std::io;
use std::path::{Path, PathBuf};

/// Every template below `root`, as (name, path), sorted by name. An error names the folder
/// that could not be read.
pub fn collect(root: &Path) -> Result<Vec<(String, PathBuf)>, (PathBuf, io::Error)> {
    let mut found = Vec::new();
    walk(root, root, &mut found)?;
    found.sort();
    Ok(found)
}

fn walk(
    root: &Path,
    dir: &Path,
    found: &mut Vec<(String, PathBuf)>,
) -> Result<(), (PathBuf, io::Error)> {
    let failed = |source| (dir.to_path_buf(), source);
    let entries = std::fs::read_dir(dir)
        .map_err(failed)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed)?;
    for entry in entries {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, found)?;
        } else if path.extension().is_some_and(|ext| ext == "j2") {
            let relative = path.strip_prefix(root).expect("below the root");
            let name: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            found.push((name.join("/"), path));
        }
    }
    Ok(())
}
