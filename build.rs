//! Bundles every rule pack, list and playbook under `rules/` into the binary, so `demo`,
//! `score` and `test` work with no rules folder and a file added there can't be forgotten.

use std::fmt::Write as _;
use std::path::Path;

/// The files of `dir` ending in `.ext`, in name order, as paths relative to the crate.
fn files(dir: &str, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|e| e == ext))
        .map(|path| path.to_string_lossy().replace('\\', "/"))
        .collect();
    names.sort();
    names
}

/// `const NAME: &[(&str, &str)] = &[(path, contents), ...];`
fn table(out: &mut String, name: &str, paths: &[String]) {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    writeln!(out, "pub const {name}: &[(&str, &str)] = &[").expect("writing to a String");
    for path in paths {
        let full = Path::new(&root).join(path);
        writeln!(out, "    ({path:?}, include_str!({:?})),", full.to_string_lossy()).expect("writing to a String");
    }
    writeln!(out, "];").expect("writing to a String");
}

fn main() {
    println!("cargo::rerun-if-changed=rules");
    for dir in ["rules", "rules/lists", "rules/playbooks"] {
        println!("cargo::rerun-if-changed={dir}");
    }
    let mut out = String::new();
    table(&mut out, "RULES", &files("rules", "toml"));
    table(&mut out, "LISTS", &files("rules/lists", "txt"));
    table(&mut out, "PLAYBOOKS", &files("rules/playbooks", "toml"));
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("bundled_rules.rs");
    std::fs::write(dest, out).expect("cannot write the bundled rules table");
}
