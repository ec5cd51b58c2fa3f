#!/usr/bin/env python3
"""Replay throughput: N generated mentions through `tocsin replay` into SQLite, end to end.

Generates a JSONL history (standard library only, fixed seed) of N mentions of the brand
Acme, three seconds apart: 5% outage complaints, 3% food-safety complaints, the rest
ordinary brand chatter (only the crisis-signal net rule matches it, about one in eight).
Runs `target/release/tocsin replay FILE --json --db SCRATCH`, and reports mentions/s (wall
clock, parsing and reading included), the peak RSS of the tocsin process, and the
incidents the replay opened.

With `--brands N` (2 to 8; default 1, no `[[brand]]` at all) it writes a scratch
tocsin.toml declaring N brands (acme, globex, initech, ...; each with a Latin and a Chinese
name; the last one `competitor = true`), passes it with `-c`, and spreads the same mix of
mentions over the brands' names (one brand each, uniformly; 4% name a second brand too;
one chatter mention in ten uses the Chinese name).

Before printing a figure it checks the work was done, and exits 1 otherwise: the report
counts every mention generated, the store holds that many mention rows, and with brands,
every mention's brands are recorded, every client brand with crisis mentions has an
incident and the competitor has none.

Its peer, run side by side on the same file: Python's sqlite3 loading the JSONL into a
table of the same columns and unique (feed, guid) key, 2,000 rows per transaction, with no
analysis at all: the cost of just getting the rows into SQLite. The ratio says what the
rules, sentiment, risk, stories, groups and incidents add on top.

    cargo build --release
    python3 bench/replay_throughput.py [--mentions 1000000] [--brands 5] [--db-url URL]

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


# (id, Latin name, Chinese name): the first N are declared; the N-th is the competitor.
BRANDS = (
    ("acme", "Acme", "艾克米"),
    ("globex", "Globex", "吉博"),
    ("initech", "Initech", "英科"),
    ("umbrella", "Umbrella", "保护伞"),
    ("hooli", "Hooli", "胡里"),
    ("stark", "Stark", "斯塔克"),
    ("wayne", "Wayne", "韦恩"),
    ("wonka", "Wonka", "旺卡"),
)
TWO_BRANDS = 0.04  # share of mentions naming a second brand (with --brands > 1)


def brand_config(count):
    """The `[[brand]]` tables of `count` brands, the last a competitor."""
    tables = []
    for n, (name, latin, chinese) in enumerate(BRANDS[:count]):
        competitor = "true" if n == count - 1 else "false"
        tables.append(f'[[brand]]\nname = "{name}"\nnames = ["{latin}", "{chinese}"]\ncompetitor = {competitor}\n')
    return "\n".join(tables)


def generate(path, count, brands=1):
    """Writes the history; returns what it holds: {"crisis": {brand: n}, "pairs": n}, where
    pairs counts (mention, brand named) pairs."""
    rng = random.Random(7)
    # Brands are drawn from a generator of their own, so the mix of mentions (and, with one
    # brand, the whole file) is the same for every --brands.
    pick = random.Random(11)
    start = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)
    crisis = {}
    pairs = 0
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            published = (start + datetime.timedelta(seconds=3 * i)).isoformat()
            r = rng.random()
            word = rng.choice(WORDS)
            if brands == 1:
                named = [BRANDS[0]]
            else:
                named = [pick.choice(BRANDS[:brands])]
                if pick.random() < TWO_BRANDS:
                    named.append(pick.choice([b for b in BRANDS[:brands] if b != named[0]]))
            pairs += len(named)
            first = named[0][1]
            if r < 0.05:
                if len(named) == 1:
                    body = f"{first} app is down again, can't log in, order {i} {word}"
                else:
                    body = f"{first} and {named[1][1]} apps are down again, can't log in, order {i} {word}"
            elif r < 0.08:
                if len(named) == 1:
                    body = f"My kid got sick after eating {first} yogurt {i} {word}"
                else:
                    body = f"My kid got sick after eating {first} yogurt and {named[1][1]} yogurt {i} {word}"
            else:
                if brands > 1 and pick.random() < 0.1:
                    first = named[0][2]
                body = f"{first} {word} review number {i}: the {rng.choice(WORDS)} and the {rng.choice(WORDS)} were fine"
                if len(named) > 1:
                    body += f", so was {named[1][1]}"
            if r < 0.08:
                for brand in named:
                    crisis[brand[0]] = crisis.get(brand[0], 0) + 1
            out.write(json.dumps({"id": str(i), "feed": "bench", "body": body, "published": published}, ensure_ascii=False) + "\n")
    return {"crisis": crisis, "pairs": pairs}


def count_rows(table, db, db_url, schema):
    """Rows of `table` in the replay's database."""
    if db_url:
        done = subprocess.run(
            ["psql", db_url, "-tAq", "-c", f"SELECT count(*) FROM {schema}.{table}"],
            check=True,
            capture_output=True,
            text=True,
        )
        return int(done.stdout.strip())
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def check(args, generated, report, db, schema):
    """The replay did the work: every mention counted and stored, each brand's incidents
    opened. Returns the problems found."""
    problems = []
    if report["mentions"] != args.mentions:
        problems.append(f"the report counts {report['mentions']} mentions, {args.mentions} were generated")
    stored = count_rows("mentions", db, args.db_url, schema)
    if stored != args.mentions:
        problems.append(f"the store holds {stored} mentions, {args.mentions} were generated")
    incidents = report["incidents"]
    if args.brands == 1:
        if generated["crisis"] and not incidents:
            problems.append("no incident opened, though the history holds crisis mentions")
        return problems
    named = count_rows("mention_brands", db, args.db_url, schema)
    if named != generated["pairs"]:
        problems.append(f"the store records {named} (mention, brand) pairs, the history names {generated['pairs']}")
    competitor = BRANDS[args.brands - 1][0]
    opened = {}
    for incident in incidents:
        brand = incident.get("brand")
        if brand is None:
            problems.append(f"incident {incident['group']} carries no brand")
        opened[brand] = opened.get(brand, 0) + 1
    for name, _, _ in BRANDS[: args.brands - 1]:
        if generated["crisis"].get(name) and not opened.get(name):
            problems.append(f"client brand {name} had {generated['crisis'][name]} crisis mentions but no incident")
    if opened.get(competitor):
        problems.append(f"competitor {competitor} opened {opened[competitor]} incident(s)")
    return problems


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
    parser.add_argument(
        "--brands",
        type=int,
        default=1,
        help=f"brands declared with [[brand]] (1 to {len(BRANDS)}; 1: none declared, the one brand of the rules' list; "
        "the last one a competitor)",
    )
    args = parser.parse_args()
    if not 1 <= args.brands <= len(BRANDS):
        parser.error(f"--brands must be 1 to {len(BRANDS)}")
    args.binary = os.path.abspath(args.binary)
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} not found: run `cargo build --release` first")
    with tempfile.TemporaryDirectory() as scratch:
        history = os.path.join(scratch, "history.jsonl")
        t = time.monotonic()
        generated = generate(history, args.mentions, args.brands)
        print(f"generated {args.mentions} mentions ({os.path.getsize(history) / 1e6:.1f} MB) in {time.monotonic() - t:.1f} s")
        db = os.path.join(scratch, "replay.db")
        config = []
        if args.brands > 1:
            config_path = os.path.join(scratch, "tocsin.toml")
            with open(config_path, "w", encoding="utf-8") as out:
                out.write(brand_config(args.brands))
            config = ["-c", config_path]
        schema = "tocsin_replay_bench"
        if args.db_url:
            # A schema of its own, emptied first, with psql (Debian's postgresql-client).
            subprocess.run(
                ["psql", args.db_url, "-q", "-c", f"SET client_min_messages = warning; DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"],
                check=True,
            )
            separator = "&" if "?" in args.db_url else "?"
            db = f"{args.db_url}{separator}options=-c%20search_path%3D{schema}"
        t = time.monotonic()
        done = subprocess.run(
            [args.binary, *config, "replay", history, "--json", "--db", db],
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
        problems = check(args, generated, report, db, schema)
        if problems:
            print("replay did not do the work; no figure:", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
            sys.exit(1)
        t = time.monotonic()
        bulk_load(history, os.path.join(scratch, "peer.db"))
        peer_seconds = time.monotonic() - t
        peer_rate = args.mentions / peer_seconds
        print(f"machine: {os.cpu_count()} cores")
        if args.brands > 1:
            per_brand = {}
            for incident in report["incidents"]:
                per_brand[incident["brand"]] = per_brand.get(incident["brand"], 0) + 1
            print(
                f"brands {args.brands} ({', '.join(b[0] for b in BRANDS[: args.brands])}; competitor "
                f"{BRANDS[args.brands - 1][0]}), {generated['pairs']} (mention, brand) pairs; incidents per brand "
                + ", ".join(f"{b}={n}" for b, n in sorted(per_brand.items()))
            )
        print(f"replayed {report['mentions']} mentions in {seconds:.1f} s: {rate:,.0f} mentions/s (goal >= {'10,000' if args.db_url else '20,000'})")
        print(f"peer (Python sqlite3 bulk load, no analysis): {peer_seconds:.1f} s, {peer_rate:,.0f} mentions/s; "
              f"tocsin's full pipeline runs at {rate / peer_rate:.2f}x the bare load")
        size = f"database {os.path.getsize(db) / 1e6:.0f} MB; " if not args.db_url else ""
        print(f"peak RSS {peak_mb:.0f} MB; {size}incidents {len(report['incidents'])}")
        print(
            f"RESULT mentions={args.mentions} brands={args.brands} seconds={seconds:.3f} mentions_per_s={rate:.1f} "
            f"peak_rss_mb={peak_mb:.1f} peer_mentions_per_s={peer_rate:.1f} ratio={rate / peer_rate:.3f}"
        )


if __name__ == "__main__":
    main()
