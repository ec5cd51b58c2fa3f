//! Feeds arbitrary text to the configuration loader's entry point, `Config::parse`.
//!
//! The text goes through the TOML parser, the serde schema (durations, sizes, unknown
//! keys), watch expansion and the cross-section checks, and every error is turned into a
//! `file:line:col` position from a byte span. Any panic, overflow or runaway allocation is a
//! bug: a bad file must become a list of errors, never a crash of `tocsin check` or `run`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(errors) = Config::parse("fuzz.toml", text) {
        for error in errors {
            let _ = error.to_string();
        }
    }
});
