//! Parse throughput over the shared feedparser conformance corpus.
//!
//! Reads every file under `../shared/data/feeds/feedparser` (all folders), then parses the
//! whole set `ITERS` times on one thread with `parse_feed` (no content type, no base URL:
//! the same input `feedparser.parse(bytes)` gets) and prints files/s and MB/s.
//!
//! ```text
//! cargo bench --bench parse                       # 20 passes
//! TOCSIN_BENCH_ITERS=50 cargo bench --bench parse
//! TOCSIN_BENCH_CORPUS=path/to/feeds cargo bench --bench parse
//! ```
//!
//! The last line is machine-readable for `bench/parse_vs_feedparser.sh`:
//! `RESULT files=.. bytes=.. iters=.. seconds=.. files_per_s=.. mb_per_s=..`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{TimeZone, Utc};
use tocsin::ingest::parse::parse_feed;

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

fn main() {
    let corpus = std::env::var_os("TOCSIN_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/feeds/feedparser"));
    let iters: u32 = std::env::var("TOCSIN_BENCH_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);

    let mut paths = Vec::new();
    collect(&corpus, &mut paths);
    // The corpus LICENSE and README are not feeds; feedparser's runner skips them too.
    paths.retain(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        !(name.eq_ignore_ascii_case("LICENSE") || name.to_ascii_lowercase().starts_with("readme"))
    });
    let docs: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).expect("read corpus file")).collect();
    let total_bytes: usize = docs.iter().map(Vec::len).sum();
    assert!(!docs.is_empty(), "no files under {}", corpus.display());
    let fetched_at = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();

    // One untimed pass: warms caches and counts outcomes.
    let (mut ok, mut err, mut items) = (0usize, 0usize, 0usize);
    for doc in &docs {
        match parse_feed("bench", doc, None, None, fetched_at) {
            Ok(feed) => {
                ok += 1;
                items += feed.items.len();
            }
            Err(_) => err += 1,
        }
    }

    let start = Instant::now();
    for _ in 0..iters {
        for doc in &docs {
            let _ = black_box(parse_feed("bench", black_box(doc), None, None, fetched_at));
        }
    }
    let seconds = start.elapsed().as_secs_f64();

    let files = docs.len() as f64 * f64::from(iters);
    let mb = total_bytes as f64 * f64::from(iters) / 1e6;
    println!("corpus      {} files, {:.2} MB", docs.len(), total_bytes as f64 / 1e6);
    println!("outcome     {ok} parsed ({items} items), {err} rejected");
    println!("passes      {iters}");
    println!("{:<12}{:>12}{:>12}{:>12}", "", "seconds", "files/s", "MB/s");
    println!("{:<12}{:>12.3}{:>12.0}{:>12.2}", "tocsin", seconds, files / seconds, mb / seconds);
    println!(
        "RESULT files={} bytes={} iters={} seconds={:.6} files_per_s={:.1} mb_per_s={:.3}",
        docs.len(),
        total_bytes,
        iters,
        seconds,
        files / seconds,
        mb / seconds
    );
}
