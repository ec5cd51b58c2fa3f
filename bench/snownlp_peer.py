"""SnowNLP's sentiment throughput on the sample benches/sentiment_zh.rs scores.

    python bench/snownlp_peer.py CSV [STRIDE]

Takes every STRIDE-th review (default 20) of online_shopping_10_cats.csv, scores each once
with SnowNLP(text).sentiments after one untimed call that loads SnowNLP's models, and prints
texts/s and MB/s by wall clock and by this thread's CPU time (which a machine busy with other
work does not inflate), and the process's peak resident memory. The last line is
machine-readable: RESULT texts=.. bytes=.. seconds=.. cpu_seconds=.. texts_per_s=..
cpu_texts_per_s=.. mb_per_s=.. max_rss_kb=..
"""

import csv
import resource
import sys
import time

from snownlp import SnowNLP


def main():
    path = sys.argv[1]
    stride = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))[1:]
    texts = [row[2] for row in rows[::stride]]
    size = sum(len(t.encode("utf-8")) for t in texts)

    SnowNLP("加载模型").sentiments
    positive = 0
    cpu_start = time.thread_time()
    start = time.perf_counter()
    for text in texts:
        # SnowNLP rejects an empty document; the Rust side scores it 0 in no time, so skipping
        # it here can only flatter SnowNLP.
        if text and SnowNLP(text).sentiments >= 0.5:
            positive += 1
    seconds = time.perf_counter() - start
    cpu = time.thread_time() - cpu_start

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"sample      {len(texts)} reviews (every {stride}th), {size / 1e6:.2f} MB, {positive} scored >= 0.5")
    print(f"{'':<12}{'seconds':>12}{'texts/s':>12}{'MB/s':>12}")
    print(f"{'snownlp wall':<12}{seconds:>12.3f}{len(texts) / seconds:>12.1f}{size / 1e6 / seconds:>12.4f}")
    print(f"{'snownlp cpu':<12}{cpu:>12.3f}{len(texts) / cpu:>12.1f}{size / 1e6 / cpu:>12.4f}")
    print(f"peak RSS    {rss} kB (the whole Python process)")
    print(f"RESULT texts={len(texts)} bytes={size} seconds={seconds:.6f} cpu_seconds={cpu:.6f} "
          f"texts_per_s={len(texts) / seconds:.3f} cpu_texts_per_s={len(texts) / cpu:.3f} "
          f"mb_per_s={size / 1e6 / seconds:.5f} max_rss_kb={rss}")


if __name__ == "__main__":
    main()
