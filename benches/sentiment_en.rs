//! English sentiment throughput over the VADER authors' rated sentences.
//!
//! Reads the 4,200 tweets and 10,605 movie snippets under `../shared/data/sentiment/en`,
//! then scores the whole set `ITERS` times on one thread with `vader::polarity` and prints
//! texts/s, plus what loading the lexicons costs in resident memory (VmRSS from
//! `/proc/self/status` before and after the first call, which parses them). Throughput is
//! given per wall-clock second and per CPU second of this process (`/proc/self/stat`), since
//! the second one holds up on a machine that is busy with other work.
//!
//! ```text
//! cargo bench --bench sentiment_en                        # 50 passes
//! TOCSIN_BENCH_ITERS=200 cargo bench --bench sentiment_en
//! TOCSIN_BENCH_DATA=path/to/dir cargo bench --bench sentiment_en
//! ```
//!
//! The last line is machine-readable for `bench/sentiment_en_vs_vader.sh`:
//! `RESULT texts=.. bytes=.. iters=.. seconds=.. cpu_seconds=.. texts_per_s=.. texts_per_cpu_s=..
//! lexicon_rss_kb=.. compound_sum=..`
//! (`compound_sum` is the sum of one pass's compound scores, to check both sides did the same work).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tocsin::analyze::sentiment::vader::polarity;

const SETS: [&str; 2] = ["tweets_GroundTruth.txt", "movieReviewSnippets_GroundTruth.txt"];

/// Resident set size of this process in kB, if the platform reports it.
fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User plus system CPU time of this process in seconds, if the platform reports it.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name start at field 3; utime and stime are
    // fields 14 and 15, in USER_HZ (100 per second on Linux).
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn main() {
    let data = std::env::var_os("TOCSIN_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/sentiment/en"));
    let iters: u32 = std::env::var("TOCSIN_BENCH_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);

    // Rows are `id<TAB>mean rating<TAB>text` with CRLF ends.
    let mut texts = Vec::new();
    for set in SETS {
        let path = data.join(set);
        let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        texts.extend(raw.split("\r\n").filter_map(|row| row.splitn(3, '\t').nth(2)).map(str::to_owned));
    }
    assert!(!texts.is_empty(), "no texts under {}", data.display());
    let total_bytes: usize = texts.iter().map(String::len).sum();

    // The first call parses both lexicons; it needs a word and an emoji to reach both.
    let before = rss_kb();
    black_box(polarity(black_box("good 😀")));
    let lexicon_kb = before.zip(rss_kb()).map_or(0, |(b, a)| a.saturating_sub(b));

    // One untimed pass: warms caches and gives the checksum.
    let compound_sum: f64 = texts.iter().map(|t| polarity(t).compound).sum();

    let cpu_start = cpu_seconds();
    let start = Instant::now();
    for _ in 0..iters {
        for text in &texts {
            black_box(polarity(black_box(text)));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_start.zip(cpu_seconds()).map_or(seconds, |(a, b)| b - a);

    let scored = texts.len() as f64 * f64::from(iters);
    println!("corpus      {} texts, {:.2} MB", texts.len(), total_bytes as f64 / 1e6);
    println!("lexicons    {lexicon_kb} kB resident after loading");
    println!("passes      {iters}");
    println!("{:<12}{:>12}{:>12}{:>12}{:>14}", "", "seconds", "texts/s", "cpu s", "texts/cpu s");
    println!("{:<12}{:>12.3}{:>12.0}{:>12.2}{:>14.0}", "tocsin", seconds, scored / seconds, cpu, scored / cpu);
    println!(
        "RESULT texts={} bytes={} iters={} seconds={:.6} cpu_seconds={:.2} texts_per_s={:.1} texts_per_cpu_s={:.1} \
         lexicon_rss_kb={} compound_sum={:.4}",
        texts.len(),
        total_bytes,
        iters,
        seconds,
        cpu,
        scored / seconds,
        scored / cpu,
        lexicon_kb,
        compound_sum
    );
}
