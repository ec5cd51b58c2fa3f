//! The `rules/` folder as shipped inside the binary: every pack, list and playbook, as
//! (path, contents) in name order. `build.rs` lists the files, so nothing added to the
//! folder can be left out.

include!(concat!(env!("OUT_DIR"), "/bundled_rules.rs"));

/// A list's `@name`: its file name without `.txt`.
pub fn list_name(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.strip_suffix(".txt").unwrap_or(file)
}
