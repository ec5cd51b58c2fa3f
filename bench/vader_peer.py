#!/usr/bin/env python3
"""Sentiment throughput of Python vaderSentiment over the VADER authors' rated sentences.

Reads the tweets and movie snippets under DATA (tab-separated id, rating, text; CRLF),
then scores the whole set ITERS times on one thread with polarity_scores. Prints the same
table and RESULT line as `cargo bench --bench sentiment_en` (throughput per wall-clock
second and per CPU second of this process); lexicon_rss_kb is the growth of VmRSS while
SentimentIntensityAnalyzer() loads its two lexicon files.

    python3 bench/vader_peer.py [DATA] [ITERS]
"""

import os
import sys
import time

SETS = ("tweets_GroundTruth.txt", "movieReviewSnippets_GroundTruth.txt")


def rss_kb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/sentiment/en"
    iters = int(sys.argv[2]) if len(sys.argv) > 2 else 5

    texts = []
    for name in SETS:
        with open(os.path.join(data, name), encoding="utf-8", newline="") as f:
            for row in f.read().split("\r\n"):
                fields = row.split("\t", 2)
                if len(fields) == 3:
                    texts.append(fields[2])
    total_bytes = sum(len(t.encode("utf-8")) for t in texts)

    # Import first, so the measured growth is the lexicons, not the module.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    before = rss_kb()
    analyzer = SentimentIntensityAnalyzer()
    lexicon_kb = max(rss_kb() - before, 0)

    # One untimed pass: warms caches and gives the checksum.
    compound_sum = sum(analyzer.polarity_scores(t)["compound"] for t in texts)

    cpu_start = time.process_time()
    start = time.perf_counter()
    for _ in range(iters):
        for text in texts:
            analyzer.polarity_scores(text)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start

    scored = len(texts) * iters
    print(f"corpus      {len(texts)} texts, {total_bytes / 1e6:.2f} MB")
    print(f"lexicons    {lexicon_kb} kB resident after loading")
    print(f"passes      {iters}")
    print(f"{'':<12}{'seconds':>12}{'texts/s':>12}{'cpu s':>12}{'texts/cpu s':>14}")
    print(f"{'vader':<12}{seconds:>12.3f}{scored / seconds:>12.0f}{cpu:>12.2f}{scored / cpu:>14.0f}")
    print(
        f"RESULT texts={len(texts)} bytes={total_bytes} iters={iters} seconds={seconds:.6f} cpu_seconds={cpu:.2f} "
        f"texts_per_s={scored / seconds:.1f} texts_per_cpu_s={scored / cpu:.1f} "
        f"lexicon_rss_kb={lexicon_kb} compound_sum={compound_sum:.4f}"
    )


if __name__ == "__main__":
    main()
