#!/usr/bin/env python3
"""Poll-cycle benchmark: 10,000 feeds on one loopback server, 10% changing per cycle.

Serves FEEDS small RSS 2.0 feeds from one asyncio HTTP/1.1 server (keep-alive, standard
library only), each with an ETag. A feed's k-th request belongs to its cycle k; from cycle 2
on, a fixed 10% of the feeds gain a new item (and a new ETag) at the start of their cycle,
and every other feed answers 304 when the request's If-None-Match matches its ETag.

It writes a tocsin config with one [[feed]] per served feed into a scratch directory, starts
`target/release/tocsin run -c CONFIG`, and measures, from the server's side:
  - the time of each full poll cycle (first to last request of cycle k over all feeds),
  - the requests/s and 200 / 304 / other counts of each cycle,
  - the tocsin process's resident memory (VmRSS sampled, VmHWM at the end),
  - per-feed health from GET /api/v1/feeds at the end.

    cargo build --release
    python3 bench/poll_cycle.py [--feeds 10000] [--interval 60s] [--concurrency 64] [--cycles 2]

Run from the project root. Exit status 0 when all cycles completed, 1 otherwise (the
goals are printed, not enforced).
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ITEMS_PER_FEED = 5
CHANGE_SHARE = 10  # one feed in CHANGE_SHARE changes per cycle


def changes(feed, cycle):
    """Whether `feed` gains an item at the start of its `cycle` (exactly 10% per cycle)."""
    return cycle >= 2 and (feed + cycle) % CHANGE_SHARE == 0


def etag(feed, version):
    return f'"f{feed}-v{version}"'


def render(feed, version):
    items = []
    for v in range(version, max(version - ITEMS_PER_FEED, -1), -1):
        items.append(
            f"<item><title>Feed {feed} story {v}: quarterly update on widgets</title>"
            f"<link>http://example.com/f{feed}/s{v}</link>"
            f"<guid isPermaLink=\"false\">f{feed}-s{v}</guid>"
            f"<pubDate>Mon, 0{1 + v % 9} Jan 2024 1{v % 10}:00:00 GMT</pubDate>"
            f"<description>Routine news item {v} of feed {feed}: the company shipped widgets "
            f"on schedule and customers were pleased.</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Bench feed {feed}</title><link>http://example.com/f{feed}</link>"
        f"<description>bench</description><language>en</language>{''.join(items)}"
        "</channel></rss>\n"
    ).encode()


class Stats:
    def __init__(self, feeds):
        self.count = [0] * feeds  # requests seen per feed
        self.version = [ITEMS_PER_FEED - 1] * feeds  # every feed starts with ITEMS_PER_FEED items
        self.cycles = {}  # cycle -> dict(first, last, s200, s304, other, feeds, bytes)
        self.bad = 0

    def cycle(self, k):
        c = self.cycles.get(k)
        if c is None:
            c = self.cycles[k] = {"first": None, "last": None, "s200": 0, "s304": 0, "other": 0, "feeds": 0, "bytes": 0}
        return c

    def completed(self, k):
        return self.cycles.get(k, {}).get("feeds", 0)


def make_handler(stats, feeds):
    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                inm = None
                for line in lines[1:]:
                    if line[:14].lower() == "if-none-match:":
                        inm = line[14:].strip()
                path = parts[1] if len(parts) > 1 else ""
                feed = None
                if path.startswith("/feed/") and path.endswith(".xml"):
                    try:
                        feed = int(path[6:-4])
                    except ValueError:
                        feed = None
                if feed is None or not 0 <= feed < feeds:
                    stats.bad += 1
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                now = time.monotonic()
                stats.count[feed] += 1
                k = stats.count[feed]
                c = stats.cycle(k)
                if c["first"] is None:
                    c["first"] = now
                c["last"] = now
                c["feeds"] += 1
                if changes(feed, k):
                    stats.version[feed] += 1
                tag = etag(feed, stats.version[feed])
                if inm == tag:
                    c["s304"] += 1
                    writer.write(f"HTTP/1.1 304 Not Modified\r\nETag: {tag}\r\nContent-Length: 0\r\n\r\n".encode())
                else:
                    c["s200"] += 1
                    body = render(feed, stats.version[feed])
                    c["bytes"] += len(body)
                    writer.write(
                        (
                            "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
                            f"ETag: {tag}\r\nContent-Length: {len(body)}\r\n\r\n"
                        ).encode()
                        + body
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # Idle keep-alive connections are cancelled when the server shuts down.
            return
        finally:
            writer.close()

    return handle


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0]) // 1024  # MB (MiB)
    except OSError:
        pass
    return out


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=10_000)
    ap.add_argument("--interval", default="60s")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--cycles", type=int, default=2)
    ap.add_argument("--binary", default="target/release/tocsin")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (config, db, log)")
    ap.add_argument("--deadline", type=float, default=600, help="give up after this many seconds")
    args = ap.parse_args()

    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"{args.binary} not found: run `cargo build --release` first")
    rules = os.path.abspath("rules")

    stats = Stats(args.feeds)
    server = await asyncio.start_server(make_handler(stats, args.feeds), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    api_port = free_port()
    token = "bench-token"

    scratch = tempfile.mkdtemp(prefix="tocsin-poll-bench-")
    config = os.path.join(scratch, "tocsin.toml")
    with open(config, "w") as f:
        f.write(f'[store]\nurl = "sqlite://{scratch}/bench.db"\n\n')
        f.write(f'[http]\nlisten = "127.0.0.1:{api_port}"\n\n')
        f.write(f'[rules]\ndir = "{rules}"\n\n')
        f.write(f'[poll]\ndefault_interval = "{args.interval}"\nmax_concurrency = {args.concurrency}\ntimeout = "20s"\n')
        for i in range(args.feeds):
            f.write(f'\n[[feed]]\nname = "bench-{i}"\nurl = "http://127.0.0.1:{port}/feed/{i}.xml"\ninterval = "{args.interval}"\n')

    env = dict(os.environ, TOCSIN_API_TOKENS=f"bench:{token}", RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    log = open(os.path.join(scratch, "tocsin.log"), "w")
    print(f"feeds {args.feeds}, interval {args.interval}, max_concurrency {args.concurrency}, cycles {args.cycles}")
    print(f"machine: {os.cpu_count()} cores")
    started = time.monotonic()
    proc = subprocess.Popen([binary, "run", "-c", config], stdout=log, stderr=subprocess.STDOUT, env=env)
    peak_rss = 0
    ok = False
    reported = set()
    try:
        while time.monotonic() - started < args.deadline:
            await asyncio.sleep(0.5)
            peak_rss = max(peak_rss, proc_status(proc.pid).get("VmRSS", 0))
            if proc.poll() is not None:
                print(f"tocsin exited early with status {proc.returncode}; see the log")
                break
            for k in range(1, args.cycles + 1):
                if k not in reported and stats.completed(k) >= args.feeds:
                    c = stats.cycles[k]
                    reported.add(k)
                    span = c["last"] - c["first"]
                    print(
                        f"cycle {k}: {c['feeds']} requests in {span:.1f} s "
                        f"(first at +{c['first'] - started:.1f} s, last at +{c['last'] - started:.1f} s), "
                        f"{c['feeds'] / max(span, 1e-9):.0f} req/s, 200: {c['s200']}, 304: {c['s304']} "
                        f"({100 * c['s304'] / c['feeds']:.1f}%), RSS now {proc_status(proc.pid).get('VmRSS', 0)} MB",
                        flush=True,
                    )
            if len(reported) == args.cycles:
                ok = True
                break
        if not ok:
            for k in range(1, args.cycles + 1):
                print(f"cycle {k}: only {stats.completed(k)} of {args.feeds} feeds polled before the deadline")

        # Per-feed health, as the API reports it.
        health = None
        try:
            req = urllib.request.Request(
                f"http://127.0.0.1:{api_port}/api/v1/feeds", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(req, timeout=60) as resp:
                health = json.load(resp)["items"]
        except Exception as e:  # noqa: BLE001 - report, do not fail the run
            print(f"GET /api/v1/feeds failed: {e}")
        if health is not None:
            failing = sum(1 for h in health if h.get("consecutive_failures"))
            seen = sum(h.get("items_seen") or 0 for h in health)
            succeeded = sum(1 for h in health if h.get("last_success_at"))
            print(f"API: {len(health)} feeds, {succeeded} with a success, {failing} failing, {seen} items seen")

        status = proc_status(proc.pid)
        cpu = cpu_seconds(proc.pid)
        print(
            f"tocsin memory: VmHWM {status.get('VmHWM', '?')} MB, VmRSS {status.get('VmRSS', '?')} MB "
            f"(max sampled {peak_rss} MB); CPU {cpu:.1f} s user+sys over {time.monotonic() - started:.0f} s"
        )
        if stats.bad:
            print(f"unexpected requests: {stats.bad}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        server.close()
        if args.keep:
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    print("goals: cycle <= 60 s, VmHWM <= 200 MB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
