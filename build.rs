//! Embeds `templates/**/*.j2` as a sorted table of (name, source) pairs. The templates are
//! compiled only when first rendered (a minijinja loader over this table): a run compiles
//! the few it needs instead of every built-in template.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "src/template_files.rs"]
mod template_files;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    println!("cargo:rerun-if-changed=templates");
    let found = template_files::collect(&root)
        .unwrap_or_else(|(path, err)| panic!("{}: {err}", path.display()));
    let mut table = String::from("&[\n");
    for (name, path) in found {
        writeln!(table, "    ({name:?}, include_str!({:?})),", path.display()).unwrap();
    }
    table.push_str("]\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("templates.rs"), table).expect("OUT_DIR is writable");
}
