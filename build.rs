//! Embeds `templates/**/*.j2` as a sorted table of (name, source) pairs. The templates are
//! compiled only when first rendered (a minijinja loader over this table): a run compiles
//! the few it needs instead of every built-in template.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    println!("cargo:rerun-if-changed=templates");
    let mut found = Vec::new();
    collect(&root, &root, &mut found);
    found.sort();
    let mut table = String::from("&[\n");
    for (name, path) in found {
        writeln!(table, "    ({name:?}, include_str!({:?})),", path.display()).unwrap();
    }
    table.push_str("]\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("templates.rs"), table).expect("OUT_DIR is writable");
}

/// Names are paths below `templates/` joined with `/`; dotfiles and files other than `*.j2`
/// are skipped, as `--templates DIR` skips them.
fn collect(root: &Path, dir: &Path, found: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).expect("templates/ is readable") {
        let path = entry.expect("templates/ is readable").path();
        let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
        if file_name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, found);
        } else if file_name.ends_with(".j2") {
            let relative = path.strip_prefix(root).expect("below templates/");
            let name: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            found.push((name.join("/"), path));
        }
    }
}
