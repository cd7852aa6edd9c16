//! The shape ARCHITECTURE.md describes, checked on the source itself: every module imports
//! only modules below it, and every function reads in one screen. A review can miss an
//! upward import or a function that grew; this cannot.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The layers, lowest first. A module may use any module of a lower layer, and none of its
/// own layer or above.
const LAYERS: &[&[&str]] = &[
    // Facts of Matrix, and mxproxy's defaults; which files are templates (also read by
    // build.rs, so it imports nothing).
    &["matrix", "template_files"],
    &["defaults"],
    // Typed, validated values; the one error type, which names them.
    &["setup"],
    &["error"],
    // What each homeserver and each proxy is and does.
    &["homeserver", "proxy"],
    // `mxproxy check`: a live deployment measured against the spec; see CHECK_USES.
    &["check"],
    // The one layer of settings (flags, environment, file), its merge into a setup, and
    // the clap commands around it.
    &["config"],
    &["cli"],
    // What must be served.
    &["plan"],
    // Files: written, rendered, reported.
    &["output"],
    &["render"],
    &["report"],
    // The way from inputs to files, and the two ways in.
    &["pipeline"],
    &["wizard"],
    &["manual"],
];

/// `check` judges any deployment, not only mxproxy's: it knows the spec and the validated
/// values, never how mxproxy plans or renders.
const CHECK_USES: &[&str] = &["matrix", "defaults", "error", "setup"];

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` has no layer in tests/architecture.rs"))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file below src/ with the top-level module it belongs to; the crate root
/// (lib.rs) and the binary (main.rs) are above every layer and are left out.
fn source_files() -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&src(), &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let relative = path.strip_prefix(src()).unwrap();
            let first = relative.components().next()?.as_os_str().to_str()?;
            let module = first.trim_end_matches(".rs").to_string();
            (module != "lib" && module != "main").then_some((module, path))
        })
        .collect()
}

fn parse(path: &Path) -> syn::File {
    let text = std::fs::read_to_string(path).unwrap();
    syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn is_test_module(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Meta>()
                .is_ok_and(|meta| meta.path().is_ident("test"))
    })
}

/// The top-level modules a file names through `crate::…`, with the line of each mention.
#[derive(Default)]
struct CrateUses {
    uses: Vec<(String, usize)>,
}

impl CrateUses {
    fn note(&mut self, first: &syn::Ident, second: Option<&syn::Ident>) {
        if first == "crate"
            && let Some(module) = second
        {
            self.uses
                .push((module.to_string(), module.span().start().line));
        }
    }
}

impl<'ast> Visit<'ast> for CrateUses {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        // Tests may reach anywhere to set up what they test.
        if !is_test_module(&item.attrs) {
            syn::visit::visit_item_mod(self, item);
        }
    }

    fn visit_use_path(&mut self, path: &'ast syn::UsePath) {
        match &*path.tree {
            syn::UseTree::Path(next) => self.note(&path.ident, Some(&next.ident)),
            syn::UseTree::Name(name) => self.note(&path.ident, Some(&name.ident)),
            syn::UseTree::Rename(rename) => self.note(&path.ident, Some(&rename.ident)),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    match tree {
                        syn::UseTree::Path(next) => self.note(&path.ident, Some(&next.ident)),
                        syn::UseTree::Name(name) => self.note(&path.ident, Some(&name.ident)),
                        _ => {}
                    }
                }
            }
            syn::UseTree::Glob(_) => {}
        }
        syn::visit::visit_use_path(self, path);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let mut segments = path.segments.iter();
        if let (Some(first), Some(second)) = (segments.next(), segments.next()) {
            self.note(&first.ident, Some(&second.ident));
        }
        syn::visit::visit_path(self, path);
    }
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let mut upward = Vec::new();
    for (module, path) in source_files() {
        let mut uses = CrateUses::default();
        uses.visit_file(&parse(&path));
        for (used, line) in uses.uses {
            let outside_check =
                module == "check" && used != module && !CHECK_USES.contains(&used.as_str());
            if used != module && (layer_of(&used) >= layer_of(&module) || outside_check) {
                upward.push(format!(
                    "{}:{line}: `{module}` uses `crate::{used}`, which is not below it",
                    path.strip_prefix(src()).unwrap().display()
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the layers:\n{}",
        upward.join("\n")
    );
}

/// Functions allowed past the limit: plain data tables, each with its reason.
const LONG_TABLES: &[(&str, &str)] = &[(
    "error.rs fmt",
    "one arm per error variant: every message's words in one Display, as STYLE.md asks",
)];
/// One screen, as the structure review measured: brace to brace.
const MAX_FUNCTION_LINES: usize = 100;

#[derive(Default)]
struct Lengths {
    long: Vec<(String, usize, usize)>,
}

impl Lengths {
    fn measure(&mut self, name: &syn::Ident, block: &syn::Block) {
        let span = block.brace_token.span;
        let (start, end) = (span.open().start().line, span.close().end().line);
        let lines = end - start + 1;
        if lines > MAX_FUNCTION_LINES {
            self.long.push((name.to_string(), start, lines));
        }
    }
}

impl<'ast> Visit<'ast> for Lengths {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_test_module(&item.attrs) {
            syn::visit::visit_item_mod(self, item);
        }
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.measure(&item.sig.ident, &item.block);
        syn::visit::visit_item_fn(self, item);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.measure(&item.sig.ident, &item.block);
        syn::visit::visit_impl_item_fn(self, item);
    }

    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if let Some(block) = &item.default {
            self.measure(&item.sig.ident, block);
        }
        syn::visit::visit_trait_item_fn(self, item);
    }
}

#[test]
fn every_function_reads_in_one_screen() {
    let mut long = BTreeMap::new();
    let files = source_files()
        .into_iter()
        .map(|(_, path)| path)
        .chain([src().join("lib.rs"), src().join("main.rs")]);
    for path in files {
        let mut lengths = Lengths::default();
        lengths.visit_file(&parse(&path));
        let relative = path.strip_prefix(src()).unwrap().display().to_string();
        for (name, line, lines) in lengths.long {
            let table = format!("{relative} {name}");
            if !LONG_TABLES.iter().any(|(listed, _)| *listed == table) {
                long.insert(format!("{relative}:{line} {name}"), lines);
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines (split them, or list a plain data table in \
         LONG_TABLES with its reason): {long:#?}"
    );
}
