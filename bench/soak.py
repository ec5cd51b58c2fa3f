#!/usr/bin/env python3
"""Soak run: 1,000 feeds gaining mentions for 30 minutes while the store grows.

Serves FEEDS RSS 2.0 feeds from one loopback asyncio HTTP/1.1 server (as bench/poll_cycle.py
does, whose helpers it uses). A generator appends RATE new items per minute in all, spread
over the feeds at random, each append changing that feed's ETag; every other request whose
If-None-Match matches answers 304. About one item in six matches a bundled crisis rule
(outage complaints in English, food-safety complaints in English and Chinese), so incidents
open, attach mentions, change level and escalate; the rest is brand chatter no rule matches.

Alerts go to two channels: a signed webhook on a loopback receiver that records the
`webhook-id` of every notice it accepts (it answers 503 to a share of first attempts, so
retries are part of the run), and email to an in-process aiosmtpd server when aiosmtpd is
installed (else to the `[mailbox]` folder), recorded by Message-ID. Every few minutes the
script resolves the open incidents through the API, so new matches reopen them and paging
starts again.

Every SAMPLE seconds it records tocsin's VmRSS (/proc/PID/status), the database and WAL
sizes, the mentions stored, failed polls and failing feeds (GET /metrics and
GET /api/v1/feeds), warnings and errors in tocsin's log, the outbox's pending notices and
the notices received. After MINUTES the generator stops, every incident is resolved and the
outbox drains; then it checks that every outbox row is delivered and that the receivers saw
exactly the delivered notice ids.

    cargo build --release
    nice -n 5 python3 bench/soak.py [--minutes 30] [--feeds 1000] [--rate 300] [--interval 30s]

Run from the project root. Exit status 0 when memory stayed within the tolerance
(end RSS <= 1.25 x the RSS after warm-up + 10 MB), errors did not grow, and every alert was
delivered; 1 otherwise.
"""

import argparse
import asyncio
import email
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from email.utils import formatdate
from xml.sax.saxutils import escape

from poll_cycle import cpu_seconds, free_port, proc_status

ITEMS_PER_FEED = 10  # the newest items a feed shows
RSS_FACTOR = 1.25  # end RSS may be this many times the warm-up RSS...
RSS_SLACK_MB = 10  # ...plus this
WEBHOOK_FAIL_SHARE = 0.05  # first attempts the webhook receiver answers with 503
WORDS = (
    "parcel blender kettle support warehouse courier invoice lid handle receipt hotline charger monday "
    "evening refund cart screen password account order delivery tracking update phone laptop store city "
    "manager weekend queue ticket email chat agent driver box label coupon budget family office"
).split()
WORDS_ZH = "快递 包装 客服 发票 门店 会员 优惠券 物流 周末 早上 售后 订单 电话 地址 退款 超市 孩子 老人 同事 邻居".split()
OUTAGE = (
    "Acme app is down again, can't log in, this is terrible",
    "Acme website went down, unable to log in, awful service",
    "Acme is down and not working, horrible, lost my whole order",
    "the Acme app crashed again and I cannot log in, worst outage ever",
)
FOOD_EN = (
    "My kid got food poisoning after eating Acme yogurt",
    "Found mold in my Acme yogurt and threw up all night, disgusting",
    "Acme milk made me sick, vomiting and diarrhea since lunch",
    "salmonella in Acme chicken? my whole family got sick",
)
FOOD_ZH = (
    "喝了艾克米牛奶后孩子上吐下泻，一直拉肚子",
    "艾克米酸奶导致食物中毒，太可怕了",
    "吃了艾克米的面包，全家拉肚子，恶心",
    "艾克米牛奶变质发霉，喝完就吐了",
)


def mention_text(rng, n):
    """Title and body of the n-th generated mention: about 1 in 6 matches a crisis rule.

    Each text ends with a random tail, so reports of the same kind are different stories
    (near-duplicates would lose novelty and stop reopening incidents)."""
    tail = " ".join(rng.sample(WORDS, 8))
    tail_zh = "，".join(rng.sample(WORDS_ZH, 5))
    r = rng.random()
    if r < 0.08:
        return f"Acme outage report {n}", f"{rng.choice(OUTAGE)}. {tail} {n}"
    if r < 0.12:
        return f"艾克米 {n}", f"{rng.choice(FOOD_ZH)}。{tail_zh}，{n}"
    if r < 0.16:
        return f"Acme complaint {n}", f"{rng.choice(FOOD_EN)}. {tail} {n}"
    if r < 0.40:
        return f"艾克米{rng.choice(WORDS_ZH)} {n}", f"艾克米的服务第{n}次体验，还不错：{tail_zh}"
    return f"Acme {rng.choice(WORDS)} review {n}", f"Acme review number {n}: the {tail} were fine"


class Feeds:
    """The served feeds: each a list of its newest items and a version for its ETag."""

    def __init__(self, count):
        self.items = [[] for _ in range(count)]
        self.version = [0] * count
        self.appended = 0
        self.requests = {"200": 0, "304": 0, "other": 0}

    def append(self, rng):
        feed = rng.randrange(len(self.items))
        n = self.appended
        self.appended += 1
        title, body = mention_text(rng, n)
        item = (
            f"<item><title>{escape(title)}</title><link>http://example.com/f{feed}/m{n}</link>"
            f'<guid isPermaLink="false">m{n}</guid><pubDate>{formatdate(usegmt=True)}</pubDate>'
            f"<description>{escape(body)}</description></item>"
        )
        items = self.items[feed]
        items.insert(0, item)
        del items[ITEMS_PER_FEED:]
        self.version[feed] += 1

    def render(self, feed):
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>Soak feed {feed}</title><link>http://example.com/f{feed}</link>"
            f"<description>soak</description>{''.join(self.items[feed])}</channel></rss>\n"
        ).encode()


async def read_request(reader):
    """One HTTP/1.1 request: (method, path, lower-cased headers, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key:
            headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    return parts[0], parts[1] if len(parts) > 1 else "", headers, body


def keep_alive(answer):
    """A connection handler: each request on a kept-alive connection gets answer(path, headers)."""

    async def handle(reader, writer):
        try:
            while True:
                _, path, headers, _ = await read_request(reader)
                writer.write(answer(path, headers))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            return
        finally:
            writer.close()

    return handle


def feed_answer(feeds):
    def answer(path, headers):
        feed = None
        if path.startswith("/feed/") and path.endswith(".xml"):
            try:
                feed = int(path[6:-4])
            except ValueError:
                feed = None
        if feed is None or not 0 <= feed < len(feeds.items):
            feeds.requests["other"] += 1
            return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        tag = f'"f{feed}-v{feeds.version[feed]}"'
        if headers.get("if-none-match") == tag:
            feeds.requests["304"] += 1
            return f"HTTP/1.1 304 Not Modified\r\nETag: {tag}\r\nContent-Length: 0\r\n\r\n".encode()
        feeds.requests["200"] += 1
        body = feeds.render(feed)
        return (
            "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
            f"ETag: {tag}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    return answer


class Webhooks:
    """The webhook receiver's record: notice ids accepted, and ids refused once."""

    def __init__(self, rng):
        self.rng = rng
        self.accepted = set()
        self.refused = set()
        self.posts = 0


def webhook_answer(hooks):
    def answer(_path, headers):
        hooks.posts += 1
        notice = headers.get("webhook-id", "")
        if notice not in hooks.refused and hooks.rng.random() < WEBHOOK_FAIL_SHARE:
            hooks.refused.add(notice)
            return b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
        hooks.accepted.add(notice)
        return b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    return answer


def message_notice_id(raw):
    """The notice id in a message's Message-ID (`<{notice id}@{domain}>`)."""
    found = re.match(r"\s*<([^@>]+)@", email.message_from_bytes(raw).get("Message-ID", ""))
    return found.group(1) if found else None


class Mail:
    """Email as tocsin sends it: to aiosmtpd when installed, else into the mailbox folder."""

    def __init__(self, scratch):
        self.ids = set()
        self.controller = None
        self.mailbox = os.path.join(scratch, "mailbox")
        try:
            from aiosmtpd.controller import Controller
        except ImportError:
            self.port = None
            return
        ids = self.ids

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                notice = message_notice_id(envelope.original_content or envelope.content)
                if notice:
                    ids.add(notice)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def config(self):
        if self.port is None:
            return f'[mailbox]\ndir = "{self.mailbox}"\n\n'
        return f'[smtp]\nhost = "127.0.0.1"\nport = {self.port}\ntls = "none"\nfrom = "tocsin <soak@localhost>"\n\n'

    def received(self):
        if self.port is None and os.path.isdir(self.mailbox):
            for name in os.listdir(self.mailbox):
                with open(os.path.join(self.mailbox, name), "rb") as f:
                    notice = message_notice_id(f.read())
                if notice:
                    self.ids.add(notice)
        return self.ids

    def stop(self):
        if self.controller is not None:
            self.controller.stop()


class Api:
    def __init__(self, port, token):
        self.base = f"http://127.0.0.1:{port}"
        self.token = token

    def call(self, method, path):
        req = urllib.request.Request(
            self.base + path, method=method, headers={"Authorization": f"Bearer {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read()

    def metrics(self):
        """`name{labels}` -> value, from GET /metrics."""
        out = {}
        for line in self.call("GET", "/metrics").decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                try:
                    out[key] = float(value)
                except ValueError:
                    pass
        return out

    def failing_feeds(self):
        return sum(1 for f in json.loads(self.call("GET", "/api/v1/feeds"))["items"] if f.get("consecutive_failures"))

    def resolve_all(self):
        """Resolves every open or acknowledged incident; returns how many."""
        resolved = 0
        for status in ("open", "acknowledged"):
            cursor = None
            while True:
                query = f"/api/v1/incidents?status={status}&limit=100" + (f"&cursor={cursor}" if cursor else "")
                page = json.loads(self.call("GET", query))
                for incident in page["items"]:
                    try:
                        self.call("POST", f"/api/v1/incidents/{incident['id']}/resolve")
                        resolved += 1
                    except urllib.error.HTTPError as e:
                        if e.code != 409:  # 409: its status changed since the listing
                            raise
                cursor = page.get("next")
                if not cursor:
                    break
        return resolved


def parse_seconds(text):
    """Seconds in a duration written as tocsin's config does: "30s", "2m"."""
    units = {"s": 1, "m": 60, "h": 3600}
    return float(text[:-1]) * units[text[-1]]


def file_mb(path):
    return os.path.getsize(path) / 1e6 if os.path.exists(path) else 0.0


def log_levels(path):
    """(warnings, errors) in tocsin's log so far; a line that is not JSON (a panic) is an error."""
    warnings = errors = 0
    with open(path, errors="replace") as f:
        for line in f:
            try:
                level = json.loads(line).get("level")
            except ValueError:
                level = "ERROR"
            warnings += level == "WARN"
            errors += level == "ERROR"
    return warnings, errors


def outbox(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute("SELECT notice_id, channel, state FROM outbox").fetchall()
    finally:
        con.close()


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=300, help="new items per minute over all feeds")
    ap.add_argument("--interval", default="30s", help="every feed's poll interval")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--sample", type=float, default=30, help="seconds between samples")
    ap.add_argument("--resolve-every", type=float, default=120, help="seconds between resolving every incident")
    ap.add_argument("--drain", type=float, default=180, help="longest wait for the outbox to empty at the end")
    ap.add_argument("--binary", default="target/release/tocsin")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (config, db, log)")
    args = ap.parse_args()

    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"{args.binary} not found: run `cargo build --release` first")
    rules = os.path.abspath("rules")
    rng = random.Random(11)

    feeds = Feeds(args.feeds)
    for _ in range(args.feeds):  # every feed starts with one item or more
        feeds.append(rng)
    hooks = Webhooks(random.Random(12))
    feed_server = await asyncio.start_server(keep_alive(feed_answer(feeds)), "127.0.0.1", 0, backlog=1024)
    hook_server = await asyncio.start_server(keep_alive(webhook_answer(hooks)), "127.0.0.1", 0)
    feed_port = feed_server.sockets[0].getsockname()[1]
    hook_port = hook_server.sockets[0].getsockname()[1]
    api_port = free_port()
    api = Api(api_port, "soak-token")

    scratch = tempfile.mkdtemp(prefix="tocsin-soak-")
    db = os.path.join(scratch, "soak.db")
    mail = Mail(scratch)
    config = os.path.join(scratch, "tocsin.toml")
    with open(config, "w") as f:
        f.write(f'[store]\nurl = "sqlite://{db}"\n\n[http]\nlisten = "127.0.0.1:{api_port}"\n\n')
        f.write(f'[rules]\ndir = "{rules}"\n\n')
        f.write(f'[poll]\ndefault_interval = "{args.interval}"\nmax_concurrency = {args.concurrency}\n\n')
        f.write(mail.config())
        f.write(f'[[channel]]\nname = "hook"\nkind = "webhook"\nurl = "http://127.0.0.1:{hook_port}/hook"\n')
        f.write('secret_env = "SOAK_WEBHOOK_SECRET"\n\n')
        f.write('[[channel]]\nname = "mail"\nkind = "email"\nto = ["pr@example.com"]\n\n')
        f.write('[[escalation]]\nname = "default"\nlevels = [\n')
        f.write('  { after = "0m", notify = ["hook", "mail"] },\n  { after = "2m", notify = ["hook"] },\n]\n')
        f.write('repeat_every = "3m"\nmax_repeats = 100\n\n')
        f.write('[delivery]\nfirst_retry = "2s"\nmax_retry = "30s"\n')
        for i in range(args.feeds):
            f.write(f'\n[[feed]]\nname = "soak-{i}"\nurl = "http://127.0.0.1:{feed_port}/feed/{i}.xml"\n')

    env = dict(
        os.environ,
        TOCSIN_API_TOKENS=f"soak:{api.token}",
        TOCSIN_LOG=os.environ.get("TOCSIN_LOG", "warn"),
        SOAK_WEBHOOK_SECRET="soak-secret",
    )
    log_path = os.path.join(scratch, "tocsin.log")
    log = open(log_path, "w")
    duration = args.minutes * 60
    poll_seconds = parse_seconds(args.interval)
    warmup = min(120.0, duration / 4)
    print(
        f"feeds {args.feeds}, {args.rate} new items/min, interval {args.interval}, max_concurrency {args.concurrency}, "
        f"{args.minutes:g} min, email via {'aiosmtpd' if mail.port else 'mailbox folder'}"
    )
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    proc = subprocess.Popen([binary, "--log-format", "json", "run", "-c", config], stdout=log, stderr=subprocess.STDOUT, env=env)
    started = time.monotonic()
    samples = []
    resolved = 0
    slowest_resolve = 0.0
    stop = asyncio.Event()

    async def generate():
        per_second = args.rate / 60
        owed = 0.0
        while not stop.is_set():
            await asyncio.sleep(1)
            owed += per_second
            while owed >= 1:
                feeds.append(rng)
                owed -= 1

    def sample(t):
        began = time.monotonic()
        m = api.metrics()
        row = {
            "t": t,
            "rss": proc_status(proc.pid).get("VmRSS", 0),
            "db": file_mb(db),
            "wal": file_mb(db + "-wal"),
            "mentions": int(m.get("tocsin_mentions", 0)),
            "poll_errors": int(m.get('tocsin_polls_total{result="error"}', 0)),
            "polls": int(m.get('tocsin_polls_total{result="ok"}', 0)),
            "failing": api.failing_feeds(),
            "log": log_levels(log_path),
            "pending": int(m.get("tocsin_outbox_pending", 0)),
            "hook": len(hooks.accepted),
            "mail": len(mail.received()),
            "api_s": time.monotonic() - began,
        }
        samples.append(row)
        print(
            f"{t / 60:5.1f} min  RSS {row['rss']:4d} MB  db {row['db']:5.1f} + WAL {row['wal']:5.1f} MB  mentions {row['mentions']:7d}  "
            f"polls {row['polls']:6d}  poll errors {row['poll_errors']}  failing feeds {row['failing']}  "
            f"log warn/error {row['log'][0]}/{row['log'][1]}  outbox pending {row['pending']}  "
            f"received webhook {row['hook']} email {row['mail']}  API {row['api_s']:.2f} s",
            flush=True,
        )

    ok = True
    generator = asyncio.create_task(generate())
    try:
        next_sample = args.sample
        next_resolve = args.resolve_every
        while True:
            await asyncio.sleep(1)
            t = time.monotonic() - started
            if proc.poll() is not None:
                print(f"tocsin exited early with status {proc.returncode}; see {log_path}")
                ok = False
                break
            if t >= next_sample or t >= duration:
                await asyncio.to_thread(sample, t)
                next_sample = (next_sample // args.sample + 1) * args.sample
            if t >= duration:
                break
            if t >= next_resolve:
                began = time.monotonic()
                resolved += await asyncio.to_thread(api.resolve_all)
                slowest_resolve = max(slowest_resolve, time.monotonic() - began)
                next_resolve += args.resolve_every
        stop.set()
        await generator

        # Drain: no new items; once the feeds have been polled again, every incident is
        # resolved (no more escalations or repeats) and the outbox empties.
        if ok:
            await asyncio.sleep(poll_seconds + 10)
            resolved += await asyncio.to_thread(api.resolve_all)
            drain_start = time.monotonic()
            while time.monotonic() - drain_start < args.drain:
                await asyncio.sleep(5)
                rows = await asyncio.to_thread(outbox, db)
                if rows and all(state != "pending" for _, _, state in rows):
                    break
            await asyncio.sleep(2)  # the last acknowledgements on the wire
            await asyncio.to_thread(sample, time.monotonic() - started)

        cpu = cpu_seconds(proc.pid)
        hwm = proc_status(proc.pid).get("VmHWM", 0)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        feed_server.close()
        hook_server.close()
        mail.stop()
    # Read after tocsin stopped: a notice still pending now was not delivered.
    rows = outbox(db) if os.path.exists(db) else []

    in_run = [s for s in samples if s["t"] <= duration + args.sample / 2]
    if not ok or len(in_run) < 2:
        print("RESULT FAIL: the run did not complete")
        return 1
    first = next(s for s in in_run if s["t"] >= warmup - 1)
    end = in_run[-1]
    mid = min(in_run, key=lambda s: abs(s["t"] - (first["t"] + end["t"]) / 2))
    peak = max(s["rss"] for s in samples)
    rss_ok = end["rss"] <= RSS_FACTOR * first["rss"] + RSS_SLACK_MB
    # Failed polls and logged errors may not grow; warnings are reported (the refused
    # webhook attempts log one each, at random).
    halves = [(a, b) for a, b in ((first, mid), (mid, end))]
    polls_failed = [b["poll_errors"] - a["poll_errors"] for a, b in halves]
    logged = [(b["log"][0] - a["log"][0], b["log"][1] - a["log"][1]) for a, b in halves]
    errors_ok = polls_failed[1] <= polls_failed[0] and logged[1][1] <= logged[0][1] and end["failing"] == 0

    by_state = {}
    for _, _, state in rows:
        by_state[state] = by_state.get(state, 0) + 1
    delivered = {(n, c) for n, c, state in rows if state == "delivered"}
    hook_sent = {n for n, c in delivered if c == "hook"}
    mail_sent = {n for n, c in delivered if c == "mail"}
    mail_seen = mail.received()
    lost = len(rows) - len(delivered)
    alerts_ok = (
        len(rows) > 0 and lost == 0 and hook_sent == hooks.accepted and mail_sent == mail_seen
    )

    print(
        f"mentions stored {end['mentions']:,} ({feeds.appended:,} items served), database {end['db']:.1f} MB "
        f"+ WAL {end['wal']:.1f} MB while running, {file_mb(db):.1f} MB after tocsin stopped, "
        f"incidents resolved by the script {resolved} (slowest round {slowest_resolve:.1f} s), "
        f"slowest sample (GET /metrics and /api/v1/feeds) {max(s['api_s'] for s in samples):.1f} s"
    )
    print(
        f"requests: {feeds.requests['200']:,} x 200, {feeds.requests['304']:,} x 304, {feeds.requests['other']} other; "
        f"CPU {cpu:.0f} s user+sys over {time.monotonic() - started:.0f} s"
    )
    print(
        f"RSS: {first['rss']} MB at {first['t'] / 60:.1f} min (after warm-up), {end['rss']} MB at the end "
        f"({end['t'] / 60:.1f} min), max sampled {peak} MB, VmHWM {hwm} MB; "
        f"limit {RSS_FACTOR} x start + {RSS_SLACK_MB} MB = {RSS_FACTOR * first['rss'] + RSS_SLACK_MB:.0f} MB"
    )
    print(
        f"failed polls: first half {polls_failed[0]}, second half {polls_failed[1]}; log warnings/errors: "
        f"first half {logged[0][0]}/{logged[0][1]}, second half {logged[1][0]}/{logged[1][1]}; "
        f"feeds failing at the end {end['failing']}"
    )
    print(
        f"outbox: {len(rows)} notices {by_state}; webhook: {len(hooks.accepted)} ids accepted "
        f"({hooks.posts} POSTs, {len(hooks.refused)} refused once with 503), equal to the delivered ones: "
        f"{hook_sent == hooks.accepted}; email: {len(mail_seen)} ids received, equal: {mail_sent == mail_seen}"
    )
    verdict = "PASS" if rss_ok and errors_ok and alerts_ok else "FAIL"
    print(
        f"RESULT {verdict}: memory {'flat' if rss_ok else 'GREW'} ({first['rss']} -> {end['rss']} MB, max {peak}), "
        f"errors {'not growing' if errors_ok else 'GREW'}, "
        f"alerts {'all delivered' if alerts_ok else 'LOST'} ({len(delivered)}/{len(rows)})"
    )
    if args.keep:
        print(f"scratch kept: {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
