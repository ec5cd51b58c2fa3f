//! Feeds arbitrary bytes to the poller's parse path, with and without an HTTP content type.
//!
//! The first byte picks the `Content-Type` (none, a plain XML type, a charset the XML
//! declaration may contradict, JSON) and whether a base URL is given; the rest is the body.
//! Any panic, overflow or runaway allocation is a bug: `parse_feed` must return `Ok` or `Err`.
//!
//! `parse_feed` runs the feed libraries under `catch_unwind`, because feed-rs and quick-xml
//! panic on some inputs (see docs/BENCHMARKS.md). libFuzzer's panic hook aborts before any
//! unwinding, which would report those contained panics as crashes; so the target puts back
//! a quiet hook, and only a panic that escapes `parse_feed` reaches libFuzzer's own
//! `catch_unwind`, which aborts: the fuzzer judges what the poller would live through.

#![no_main]

use std::sync::Once;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&str>; 8] = [
    None,
    Some("text/xml; charset=gbk"),
    Some("application/rss+xml"),
    Some("application/atom+xml; charset=utf-8"),
    Some("text/xml; charset=big5"),
    Some("application/xml; charset=utf-16"),
    Some("application/feed+json"),
    Some("text/html; charset=shift_jis"),
];

static QUIET_PANICS: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    QUIET_PANICS.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let fetched_at = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
    // Every input is also tried as-is, with no content type and no base URL, so corpus
    // files (real feeds) exercise the plain path whatever their first byte is.
    let _ = tocsin::ingest::parse::parse_feed("fuzz", data, None, None, fetched_at);
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let base_url = (selector & 0x80 != 0).then_some("http://example.com/feeds/a/");
    let _ = tocsin::ingest::parse::parse_feed("fuzz", body, content_type, base_url, fetched_at);
    let _ = tocsin::ingest::parse::parse_feed("fuzz", data, Some("text/xml; charset=gbk"), None, fetched_at);
});
