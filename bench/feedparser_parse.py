#!/usr/bin/env python3
"""Parse throughput of Python feedparser over the shared feedparser corpus.

Reads every file under CORPUS (all folders; LICENSE/README skipped, as the Rust bench
does), then runs feedparser.parse(bytes) over the whole set ITERS times on one thread.
Prints the same table and RESULT line as `cargo bench --bench parse`.

    python3 bench/feedparser_parse.py [CORPUS] [ITERS]
"""

import os
import sys
import time

import feedparser


def collect(root):
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            low = name.lower()
            if low == "license" or low.startswith("readme"):
                continue
            paths.append(os.path.join(dirpath, name))
    return paths


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/feeds/feedparser"
    iters = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    docs = []
    for path in collect(corpus):
        with open(path, "rb") as f:
            docs.append(f.read())
    total_bytes = sum(len(d) for d in docs)

    # One untimed pass: warms imports and caches, counts outcomes.
    bozo = entries = 0
    for doc in docs:
        result = feedparser.parse(doc)
        bozo += bool(result.get("bozo"))
        entries += len(result.get("entries", []))

    start = time.perf_counter()
    for _ in range(iters):
        for doc in docs:
            feedparser.parse(doc)
    seconds = time.perf_counter() - start

    files = len(docs) * iters
    mb = total_bytes * iters / 1e6
    print(f"corpus      {len(docs)} files, {total_bytes / 1e6:.2f} MB")
    print(f"outcome     {len(docs) - bozo} clean, {bozo} bozo ({entries} entries)")
    print(f"passes      {iters}")
    print(f"{'':<12}{'seconds':>12}{'files/s':>12}{'MB/s':>12}")
    print(f"{'feedparser':<12}{seconds:>12.3f}{files / seconds:>12.0f}{mb / seconds:>12.2f}")
    print(
        f"RESULT files={len(docs)} bytes={total_bytes} iters={iters} seconds={seconds:.6f} "
        f"files_per_s={files / seconds:.1f} mb_per_s={mb / seconds:.3f}"
    )


if __name__ == "__main__":
    main()
