//! Chinese sentiment throughput on real reviews, one thread.
//!
//! Takes every `TOCSIN_BENCH_STRIDE`-th review (default 20, about 3,100 texts) of
//! `../shared/data/sentiment/zh/online_shopping_10_cats.csv`, the same sample
//! `bench/snownlp_peer.py` scores, and scores it `TOCSIN_BENCH_ITERS` times (default 200)
//! with `zh::score`. Prints texts/s and MB/s, by wall clock and by this thread's CPU time
//! (which a machine busy with other work does not inflate), and the size of the loaded model.
//!
//! ```text
//! cargo bench --bench sentiment_zh
//! TOCSIN_BENCH_ITERS=50 TOCSIN_BENCH_STRIDE=10 cargo bench --bench sentiment_zh
//! ```
//!
//! The last line is machine-readable for `bench/sentiment_zh_vs_snownlp.sh`:
//! `RESULT texts=.. bytes=.. iters=.. seconds=.. cpu_seconds=.. texts_per_s=.. cpu_texts_per_s=.. mb_per_s=..
//! model_file_bytes=.. model_heap_bytes=..`.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use tocsin::analyze::sentiment::zh;

/// Seconds this thread has spent on a CPU, from Linux's schedstat; `None` elsewhere.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse::<f64>().ok().map(|ns| ns / 1e9)
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|&v| v > 0).unwrap_or(default)
}

/// The review field of a `cat,label,review` row, unquoted.
fn review(line: &str) -> Option<String> {
    let (_, rest) = line.split_once(',')?;
    let (_, review) = rest.split_once(',')?;
    Some(match review.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => review.to_string(),
    })
}

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/sentiment/zh/online_shopping_10_cats.csv");
    let iters = env_or("TOCSIN_BENCH_ITERS", 200);
    let stride = env_or("TOCSIN_BENCH_STRIDE", 20);
    let csv = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let texts: Vec<String> = csv.lines().skip(1).step_by(stride).filter_map(review).collect();
    assert!(!texts.is_empty(), "no reviews in {}", path.display());
    let bytes: usize = texts.iter().map(String::len).sum();

    // The untimed pass loads the model and warms caches.
    let load = Instant::now();
    let size = zh::model_size();
    let load_seconds = load.elapsed().as_secs_f64();
    let positive = texts.iter().filter(|t| zh::score(t) >= 0.0).count();

    let cpu_start = thread_cpu_seconds();
    let start = Instant::now();
    for _ in 0..iters {
        for text in &texts {
            black_box(zh::score(black_box(text)));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    // Without schedstat, CPU time is taken to be wall time.
    let cpu_seconds = match (cpu_start, thread_cpu_seconds()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => seconds,
    };

    let n = (texts.len() * iters) as f64;
    let mb = (bytes * iters) as f64 / 1e6;
    println!(
        "sample      {} reviews (every {stride}th), {:.2} MB, {positive} scored >= 0",
        texts.len(),
        bytes as f64 / 1e6
    );
    println!(
        "model       {} features, {} cues, file {} bytes, loaded {} heap bytes in {:.1} ms",
        size.features,
        size.cues,
        size.file_bytes,
        size.heap_bytes,
        load_seconds * 1e3
    );
    println!("passes      {iters}");
    println!("{:<12}{:>12}{:>12}{:>12}", "", "seconds", "texts/s", "MB/s");
    println!("{:<12}{:>12.3}{:>12.0}{:>12.2}", "tocsin wall", seconds, n / seconds, mb / seconds);
    println!("{:<12}{:>12.3}{:>12.0}{:>12.2}", "tocsin cpu", cpu_seconds, n / cpu_seconds, mb / cpu_seconds);
    println!(
        "RESULT texts={} bytes={bytes} iters={iters} seconds={seconds:.6} cpu_seconds={cpu_seconds:.6} texts_per_s={:.1} cpu_texts_per_s={:.1} mb_per_s={:.3} model_file_bytes={} model_heap_bytes={}",
        texts.len(),
        n / seconds,
        n / cpu_seconds,
        mb / seconds,
        size.file_bytes,
        size.heap_bytes
    );
}
