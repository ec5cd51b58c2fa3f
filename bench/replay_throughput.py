#!/usr/bin/env python3
"""Replay throughput: N generated mentions through `tocsin replay` into SQLite, end to end.

Generates a JSONL history (standard library only, fixed seed) of N mentions of the brand
Acme, three seconds apart: 5% outage complaints, 3% food-safety complaints, the rest
ordinary brand chatter that matches no rule. Runs `target/release/tocsin replay FILE --json
--db SCRATCH`, and reports mentions/s (wall clock, parsing and reading included), the peak
RSS of the tocsin process, and the incidents the replay opened.

Its peer, run side by side on the same file: Python's sqlite3 loading the JSONL into a
table of the same columns and unique (feed, guid) key, 2,000 rows per transaction, with no
analysis at all: the cost of just getting the rows into SQLite. The ratio says what the
rules, sentiment, risk, stories, groups and incidents add on top.

    cargo build --release
    python3 bench/replay_throughput.py [--mentions 1000000]

Run from the project root. The goal (>= 20,000 mentions/s) is printed, not enforced.
"""

import argparse
import datetime
import json
import sqlite3
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

WORDS = (
    "parcel blender kettle monday support warehouse courier invoice lid handle box receipt manager hotline screen charger"
).split()


def generate(path, count):
    rng = random.Random(7)
    start = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            published = (start + datetime.timedelta(seconds=3 * i)).isoformat()
            r = rng.random()
            word = rng.choice(WORDS)
            if r < 0.05:
                body = f"Acme app is down again, can't log in, order {i} {word}"
            elif r < 0.08:
                body = f"My kid got sick after eating Acme yogurt {i} {word}"
            else:
                body = f"Acme {word} review number {i}: the {rng.choice(WORDS)} and the {rng.choice(WORDS)} were fine"
            out.write(json.dumps({"id": str(i), "feed": "bench", "body": body, "published": published}) + "\n")


def bulk_load(history, db):
    """The peer: the rows alone, as fast as Python's sqlite3 writes them."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(
        "CREATE TABLE mentions (id INTEGER PRIMARY KEY, feed TEXT NOT NULL, guid TEXT NOT NULL, title TEXT NOT NULL, "
        "body TEXT NOT NULL, published_at TEXT, fetched_at TEXT NOT NULL, UNIQUE (feed, guid))"
    )
    con.execute("CREATE INDEX mentions_fetched_at ON mentions (fetched_at)")
    batch = []

    def flush():
        with con:
            con.executemany(
                "INSERT INTO mentions (feed, guid, title, body, published_at, fetched_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                batch,
            )
        batch.clear()

    with open(history, encoding="utf-8") as lines:
        for line in lines:
            m = json.loads(line)
            batch.append((m["feed"], m["id"], m.get("title", ""), m["body"], m["published"], m["published"]))
            if len(batch) == 2000:
                flush()
    flush()
    con.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--binary", default="target/release/tocsin")
    parser.add_argument(
        "--db-url",
        help="replay into this database instead of a scratch SQLite file, e.g. postgres://postgres@127.0.0.1:5432/test "
        "(the schema is emptied first: use a scratch database)",
    )
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} not found: run `cargo build --release` first")
    with tempfile.TemporaryDirectory() as scratch:
        history = os.path.join(scratch, "history.jsonl")
        t = time.monotonic()
        generate(history, args.mentions)
        print(f"generated {args.mentions} mentions ({os.path.getsize(history) / 1e6:.1f} MB) in {time.monotonic() - t:.1f} s")
        db = os.path.join(scratch, "replay.db")
        if args.db_url:
            # A schema of its own, emptied first, with psql (Debian's postgresql-client).
            schema = "tocsin_replay_bench"
            subprocess.run(
                ["psql", args.db_url, "-q", "-c", f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"],
                check=True,
            )
            separator = "&" if "?" in args.db_url else "?"
            db = f"{args.db_url}{separator}options=-c%20search_path%3D{schema}"
        t = time.monotonic()
        done = subprocess.run(
            [args.binary, "replay", history, "--json", "--db", db],
            cwd=scratch,
            capture_output=True,
            text=True,
            env={**os.environ, "TOCSIN_LOG": "error"},
        )
        seconds = time.monotonic() - t
        if done.returncode != 0:
            sys.exit(f"replay failed ({done.returncode}): {done.stderr[-2000:]}")
        report = json.loads(done.stdout)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        rate = args.mentions / seconds
        t = time.monotonic()
        bulk_load(history, os.path.join(scratch, "peer.db"))
        peer_seconds = time.monotonic() - t
        peer_rate = args.mentions / peer_seconds
        print(f"machine: {os.cpu_count()} cores")
        print(f"replayed {report['mentions']} mentions in {seconds:.1f} s: {rate:,.0f} mentions/s (goal >= 20,000)")
        print(f"peer (Python sqlite3 bulk load, no analysis): {peer_seconds:.1f} s, {peer_rate:,.0f} mentions/s; "
              f"tocsin's full pipeline runs at {rate / peer_rate:.2f}x the bare load")
        size = f"database {os.path.getsize(db) / 1e6:.0f} MB; " if not args.db_url else ""
        print(f"peak RSS {peak_mb:.0f} MB; {size}incidents {len(report['incidents'])}")
        print(
            f"RESULT mentions={args.mentions} seconds={seconds:.3f} mentions_per_s={rate:.1f} "
            f"peak_rss_mb={peak_mb:.1f} peer_mentions_per_s={peer_rate:.1f} ratio={rate / peer_rate:.3f}"
        )


if __name__ == "__main__":
    main()
