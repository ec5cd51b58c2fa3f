//! Hostile feeds against the real daemon. One loopback server serves a billion-laughs
//! document, a gigabyte body, a gzip bomb, a response that never ends, a redirect loop,
//! invalid UTF-8, a 100,000-item feed and items of a megabyte each, next to one healthy
//! feed. Each hostile feed ends in a clear error in feed health, or in its items stored
//! with what was wrong noted; each poll takes bounded time; memory stays bounded; and
//! afterwards the daemon still answers and still ingests the healthy feed.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::wait_until;
use futures_util::stream;
use tocsin::analyze::RuleSet;
use tocsin::api::Tokens;
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::daemon;
use tocsin::ingest::ANALYZED_BYTES;
use tocsin::ingest::parse::parse_feed;

const TOKEN: &str = "ops-token";
/// Every fetch's deadline in the test config.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Largest body the test config admits: enough for the 100,000-item feed.
const MAX_BYTES: u64 = 12_000_000;
const MAX_REDIRECTS: usize = 5;
/// Items of the big feed.
const MANY: usize = 100_000;
/// Items of the feed whose items carry a megabyte of text each.
const HEAVY: usize = 5;
const MEGABYTE: usize = 1_000_000;
/// What the gzip bomb inflates to.
const BOMB_INFLATED: u64 = 2 << 30;
/// Resident memory the whole test process may reach, hostile feeds included.
const MEMORY_CEILING_KB: u64 = 500 * 1024;

/// What the loopback server serves, and when each path was asked for.
struct Hostile {
    healthy: Mutex<Vec<(String, String)>>,
    many: Bytes,
    heavy: Bytes,
    bomb: Bytes,
    requests: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Hostile {
    fn saw(&self, path: &str) {
        self.requests.lock().expect("lock").entry(path.to_owned()).or_default().push(Instant::now());
    }

    fn requests(&self, path: &str) -> Vec<Instant> {
        self.requests.lock().expect("lock").get(path).cloned().unwrap_or_default()
    }
}

fn rss(items: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>t</title>\
         <link>https://news.example/</link><description>d</description>{items}</channel></rss>"
    )
}

fn item(guid: &str, title: &str, description: &str) -> String {
    format!(
        "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title><description>{description}</description></item>"
    )
}

/// The classic entity expansion attack: ten entities each ten times the one before, so
/// `&lol9;` stands for 3 × 10⁹ bytes if a parser expands it; and an external entity that
/// would read a file of the daemon's machine.
fn billion_laughs() -> String {
    let mut dtd = String::from("<!DOCTYPE rss [\n<!ENTITY lol \"lol\">\n");
    for level in 1..=9 {
        let previous = if level == 1 { "lol".to_owned() } else { format!("lol{}", level - 1) };
        dtd.push_str(&format!("<!ENTITY lol{level} \"{}\">\n", format!("&{previous};").repeat(10)));
    }
    dtd.push_str("<!ENTITY host SYSTEM \"file:///etc/hostname\">\n]>\n");
    rss(&item("laugh-1", "Acme &lol9;", "&lol9; &host;")).replacen("<rss", &format!("{dtd}<rss"), 1)
}

fn many_items() -> Bytes {
    let items: String = (0..MANY)
        .map(|i| {
            format!("<item><guid>m{i}</guid><title>Acme store {i} opened and they are happy with it</title></item>")
        })
        .collect();
    Bytes::from(rss(&items))
}

/// Items of a megabyte of text each: ordinary complaints that open with a food-safety
/// report a rule matches, and two built to make matching slow, one with a hundred thousand
/// brand names before thirty thousand food-safety terms (a NEAR rule pairs their hits),
/// one a listed term's exception fifty thousand times over (an EXCEPT rule checks each hit
/// against the others).
fn heavy_items() -> Bytes {
    let filler = "The delivery was late again and nobody answered the phone at the store. ";
    let fill = |mut text: String, with: &str| {
        while text.len() < MEGABYTE {
            text.push_str(with);
        }
        text
    };
    let mut items: String = (0..HEAVY - 2)
        .map(|i| {
            let text = fill(format!("Acme yogurt gave my kid food poisoning, letter {i}. "), filler);
            item(&format!("h{i}"), &format!("Long letter {i}"), &text)
        })
        .collect();
    items.push_str(&item("h-near", "Acme", &fill("Acme ".repeat(MEGABYTE / 10), "food poisoning ")));
    items.push_str(&item("h-except", "Acme", &fill(String::new(), "breach of contract ")));
    Bytes::from(rss(&items))
}

/// A feed declared UTF-8 in which some bytes are not UTF-8: a stray 0xFF, a sequence cut
/// short, a Latin-1 byte.
fn invalid_utf8() -> Vec<u8> {
    let mut doc = Vec::new();
    doc.extend_from_slice(rss("@ITEMS@").split("@ITEMS@").next().expect("head").as_bytes());
    doc.extend_from_slice(item("u1", "艾克米酸奶@食物中毒", "正常的文字").replace('@', "\u{1}").as_bytes());
    doc.extend_from_slice(item("u2", "Acme recall@", "第二条消息").replace('@', "\u{2}").as_bytes());
    doc.extend_from_slice(item("u3", "Caf@ Acme", "third").replace('@', "\u{3}").as_bytes());
    doc.extend_from_slice(b"</channel></rss>");
    for (marker, bad) in [(1u8, &b"\xff"[..]), (2, b"\xe8\x89"), (3, b"\xe9")] {
        let at = doc.iter().position(|b| *b == marker).expect("marker");
        doc.splice(at..=at, bad.iter().copied());
    }
    doc
}

/// A valid gzip member of `inflated` zero bytes (a multiple of a MiB): the first MiB
/// compressed, then one sync-flushed block that repeats the window, written again and
/// again. About a thousand times smaller than what it inflates to.
fn gzip_bomb(inflated: u64) -> Vec<u8> {
    use flate2::{Compress, Compression, Crc, FlushCompress};
    const MIB: usize = 1 << 20;
    let zeros = vec![0u8; MIB];
    let mut deflate = Compress::new(Compression::best(), false);
    let mut block = |flush| {
        let mut out = Vec::with_capacity(MIB / 256);
        let before = deflate.total_in();
        let input: &[u8] = if flush == FlushCompress::Finish { &[] } else { &zeros };
        while deflate.total_in() - before < input.len() as u64 || out.is_empty() {
            let consumed = usize::try_from(deflate.total_in() - before).expect("fits");
            out.reserve(MIB / 64);
            deflate.compress_vec(&input[consumed..], &mut out, flush).expect("deflate");
        }
        out
    };
    let first = block(FlushCompress::Sync);
    let repeated = block(FlushCompress::Sync);
    assert_eq!(block(FlushCompress::Sync), repeated, "a MiB of zeros after a window of zeros compresses alike");
    let last = block(FlushCompress::Finish);

    let mebibytes = inflated / MIB as u64;
    let mut crc_of_mib = Crc::new();
    crc_of_mib.update(&zeros);
    let mut crc = Crc::new();
    for _ in 0..mebibytes {
        crc.combine(&crc_of_mib);
    }
    let mut gzip = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff];
    gzip.extend_from_slice(&first);
    for _ in 1..mebibytes {
        gzip.extend_from_slice(&repeated);
    }
    gzip.extend_from_slice(&last);
    gzip.extend_from_slice(&crc.sum().to_le_bytes());
    // The trailer holds the size modulo 2³².
    gzip.extend_from_slice(&(inflated as u32).to_le_bytes());
    gzip
}

async fn healthy(State(state): State<Arc<Hostile>>, headers: HeaderMap) -> Response {
    state.saw("healthy");
    let items = state.healthy.lock().expect("lock").clone();
    let etag = format!("\"{}\"", items.len());
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let body: String = items.iter().map(|(guid, title)| item(guid, title, "")).collect();
    ([(header::CONTENT_TYPE, "application/rss+xml".to_owned()), (header::ETAG, etag)], rss(&body)).into_response()
}

async fn hostile(State(state): State<Arc<Hostile>>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    state.saw(&name);
    let xml = [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")];
    match name.as_str() {
        "billion-laughs" => (xml, billion_laughs()).into_response(),
        "gigabyte" => {
            // A gigabyte of items, chunked, so no Content-Length gives the size away before
            // the body is read.
            let chunk = Bytes::from(item("g", "Acme", &"x".repeat(64 * 1024 - 60)).into_bytes());
            let chunks = (1u64 << 30) / chunk.len() as u64;
            let body = stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
            (xml, Body::from_stream(body)).into_response()
        }
        "gzip-bomb" => {
            ([(header::CONTENT_TYPE, "application/rss+xml"), (header::CONTENT_ENCODING, "gzip")], state.bomb.clone())
                .into_response()
        }
        "slowloris" => {
            let head = stream::once(async { Ok::<_, std::io::Error>(Bytes::from_static(b"<?xml version=\"1.0\"?>")) });
            let trickle = stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((Ok(Bytes::from_static(b" ")), ()))
            });
            (xml, Body::from_stream(futures_util::StreamExt::chain(head, trickle))).into_response()
        }
        "loop-a" | "loop-b" => {
            let next = if name == "loop-a" { "loop-b" } else { "loop-a" };
            (StatusCode::FOUND, [(header::LOCATION, format!("/hostile/{next}"))]).into_response()
        }
        "invalid-utf8" => (xml, invalid_utf8()).into_response(),
        "many" | "heavy" => {
            let body = if name == "many" { state.many.clone() } else { state.heavy.clone() };
            // The second poll is answered in full again, so the store must find every item
            // already there; from the third on the feed is unchanged.
            if headers.contains_key(header::IF_NONE_MATCH) && state.requests(&name).len() > 2 {
                return StatusCode::NOT_MODIFIED.into_response();
            }
            ([(header::CONTENT_TYPE, "application/rss+xml"), (header::ETAG, "\"same\"")], body).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn serve(state: Arc<Hostile>) -> std::net::SocketAddr {
    let app = Router::new().route("/healthy", get(healthy)).route("/hostile/{name}", get(hostile)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("hostile server") });
    addr
}

/// The hostile feeds: name in the config, path on the server (the loop starts at `loop-a`).
const HOSTILE: [&str; 8] =
    ["billion-laughs", "gigabyte", "gzip-bomb", "slowloris", "loop-a", "invalid-utf8", "many", "heavy"];

fn config_text(dir: &std::path::Path, addr: std::net::SocketAddr) -> String {
    let mut text = format!(
        r#"
[store]
url = "sqlite://{db}"
[http]
listen = "127.0.0.1:0"
[poll]
default_interval = "1h"
timeout = "{timeout}s"
max_bytes = "{MAX_BYTES}B"
max_redirects = {MAX_REDIRECTS}
[[feed]]
name = "healthy"
url = "http://{addr}/healthy"
interval = "1s"
"#,
        db = dir.join("tocsin.db").display(),
        timeout = TIMEOUT.as_secs(),
    );
    for name in HOSTILE {
        // The big feeds are polled twice to show nothing is stored again.
        let interval = if matches!(name, "many" | "heavy") { "\ninterval = \"1s\"" } else { "" };
        text.push_str(&format!("[[feed]]\nname = \"{name}\"\nurl = \"http://{addr}/hostile/{name}\"{interval}\n"));
    }
    text
}

/// The process's peak resident memory, in kB.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("proc status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM line");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse().ok()).expect("VmHWM value")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_feeds_each_fail_clearly_and_the_daemon_stays_healthy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bomb = gzip_bomb(BOMB_INFLATED);
    assert!(bomb.len() < 4_000_000, "a small bomb: {} bytes", bomb.len());
    let state = Arc::new(Hostile {
        healthy: Mutex::new(vec![("before".into(), "Acme opens a store".into())]),
        many: many_items(),
        heavy: heavy_items(),
        bomb: Bytes::from(bomb),
        requests: Mutex::default(),
    });
    assert!(state.many.len() as u64 <= MAX_BYTES, "the big feed fits the limit: {}", state.many.len());
    let addr = serve(state.clone()).await;
    let config = Config::parse("hostile.toml", &config_text(dir.path(), addr)).expect("config");
    let tokens = Tokens::parse(&format!("ops:{TOKEN}")).expect("tokens");
    let started = Instant::now();
    let running = daemon::start(config, RuleSet::bundled(), Clock::default(), tokens).await.expect("daemon starts");
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    let feeds = || async {
        let page: serde_json::Value = http
            .get(format!("{base}/api/v1/feeds"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("feeds API")
            .json()
            .await
            .expect("feeds JSON");
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|feed| (feed["name"].as_str().expect("name").to_owned(), feed.clone()))
            .collect::<HashMap<_, _>>()
    };

    // Every hostile feed's first poll ends, in success or failure, and is recorded; how long
    // that took is measured from the server's first answer to the first sight of the record.
    // Meanwhile the API keeps answering.
    let polled = |feed: &serde_json::Value| !feed["last_success_at"].is_null() || !feed["last_error"].is_null();
    let mut took: HashMap<&str, Duration> = HashMap::new();
    let mut slowest_answer = Duration::ZERO;
    while took.len() < HOSTILE.len() {
        assert!(started.elapsed() < Duration::from_secs(120), "polled so far: {took:?}");
        let asked_at = Instant::now();
        let health = feeds().await;
        slowest_answer = slowest_answer.max(asked_at.elapsed());
        for name in HOSTILE.into_iter().filter(|name| polled(&health[*name])) {
            let asked = state.requests(name).first().copied().expect("the server was asked");
            took.entry(name).or_insert_with(|| asked.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("first poll of each hostile feed, request to recorded result: {took:#?}");
    eprintln!("slowest API answer meanwhile: {slowest_answer:?}");
    // Generous bounds for a debug build on a busy machine, each well short of what the
    // unbounded case costs: a read to the end of the stream, or minutes of matching for a
    // megabyte item. The 100,000-item feed is measured below.
    for name in HOSTILE.into_iter().filter(|name| *name != "many") {
        let bound = if name == "heavy" { Duration::from_secs(40) } else { TIMEOUT + Duration::from_secs(10) };
        assert!(took[name] < bound, "{name} took {:?}", took[name]);
    }
    assert!(slowest_answer < Duration::from_secs(10), "the API answered in {slowest_answer:?}");

    let health = feeds().await;
    let error = |name: &str| health[name]["last_error"].as_str().unwrap_or_default().to_owned();
    assert_eq!(error("gigabyte"), format!("response body larger than the limit of {MAX_BYTES} bytes"));
    assert_eq!(error("gzip-bomb"), format!("response body larger than the limit of {MAX_BYTES} bytes"));
    assert_eq!(error("slowloris"), format!("timed out after {}s", TIMEOUT.as_secs()));
    assert_eq!(error("loop-a"), format!("more than {MAX_REDIRECTS} redirects"));
    for name in ["billion-laughs", "invalid-utf8", "many", "heavy"] {
        assert_eq!(health[name]["last_error"], serde_json::Value::Null, "{name}: {}", health[name]);
    }
    // What the parser recovered from is on the feed's health, for its owner to fix.
    let recovered = |name: &str, needle: &str| {
        health[name]["problems"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p.as_str().is_some_and(|p| p.contains(needle)))
    };
    assert!(recovered("billion-laughs", "unknown entity reference(s), kept as text"), "{}", health["billion-laughs"]);
    assert!(recovered("invalid-utf8", "not valid UTF-8"), "{}", health["invalid-utf8"]);
    assert_eq!(health["many"]["problems"], serde_json::json!([]), "a clean feed has none: {}", health["many"]);
    assert!(state.requests("loop-a").len() + state.requests("loop-b").len() <= MAX_REDIRECTS + 1);

    let pool =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("tocsin.db").display())).await.expect("pool");
    let titles = |feed: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT title FROM mentions WHERE feed = ? ORDER BY guid")
                .bind(feed)
                .fetch_all(&pool)
                .await
                .expect("titles")
        }
    };

    // The entities stay unexpanded text: no blow-up, no file read, the item kept.
    let laughs: (String, String) = sqlx::query_as("SELECT title, body FROM mentions WHERE feed = 'billion-laughs'")
        .fetch_one(&pool)
        .await
        .expect("item");
    assert_eq!(laughs, ("Acme &lol9;".to_owned(), "&lol9; &host;".to_owned()));
    let laughs =
        parse_feed("billion-laughs", billion_laughs().as_bytes(), None, None, chrono::Utc::now()).expect("parses");
    assert!(laughs.problems.iter().any(|p| p.contains("unknown entity reference(s), kept as text")), "{laughs:?}");
    // Invalid bytes become U+FFFD; the rest of each item, Chinese included, is kept.
    assert_eq!(
        titles("invalid-utf8").await,
        vec!["艾克米酸奶\u{FFFD}食物中毒".to_owned(), "Acme recall\u{FFFD}".to_owned(), "Caf\u{FFFD} Acme".to_owned()]
    );
    let parsed = parse_feed(
        "invalid-utf8",
        &invalid_utf8(),
        Some("application/rss+xml; charset=utf-8"),
        None,
        chrono::Utc::now(),
    )
    .expect("parses");
    assert!(parsed.problems.iter().any(|p| p.contains("not valid UTF-8")), "{:?}", parsed.problems);

    // The 100,000 items are stored once each, and a second full poll stores none again.
    let count = |feed: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (i64, i64)>("SELECT COUNT(*), COUNT(DISTINCT guid) FROM mentions WHERE feed = ?")
                .bind(feed)
                .fetch_one(&pool)
                .await
                .expect("count")
        }
    };
    wait_until(Duration::from_secs(120), || async {
        state.requests("many").len() >= 3 && state.requests("heavy").len() >= 3
    })
    .await
    .expect("the big feeds were polled a second time");
    // A poll of the feed starts as soon as the one before ends (its interval is shorter).
    let polls = state.requests("many");
    eprintln!("polls of {MANY} items: first {:?}, second {:?}", polls[1] - polls[0], polls[2] - polls[1]);
    assert_eq!(count("many").await, (MANY as i64, MANY as i64));
    assert_eq!(feeds().await["many"]["items_seen"], MANY);
    assert_eq!(count("heavy").await, (HEAVY as i64, HEAVY as i64));

    // The megabyte texts are kept as fetched.
    let lengths: Vec<i64> = sqlx::query_scalar("SELECT LENGTH(body) FROM mentions WHERE feed = 'heavy'")
        .fetch_all(&pool)
        .await
        .expect("lengths");
    assert!(lengths.iter().all(|len| *len as usize >= MEGABYTE - 100), "{lengths:?}");
    // Analysis read the start of each: the ordinary letters match the food-safety rule.
    let matched: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT m.guid) FROM mentions m JOIN rule_matches r ON r.mention_id = m.id \
         WHERE m.feed = 'heavy' AND r.rule = 'food-safety'",
    )
    .fetch_one(&pool)
    .await
    .expect("matches");
    assert_eq!(matched, HEAVY as i64 - 2);
    let parsed = parse_feed("heavy", &state.heavy, None, None, chrono::Utc::now()).expect("parses");
    let note = format!("{HEAVY} item(s) longer than {ANALYZED_BYTES} bytes: rules and sentiment read the first");
    assert!(parsed.problems.iter().any(|p| p.starts_with(&note)), "{:?}", parsed.problems);

    // Afterwards the daemon answers and ingests the healthy feed's news.
    let healthz = http.get(format!("{base}/healthz")).send().await.expect("healthz");
    assert_eq!(healthz.status(), StatusCode::OK);
    state.healthy.lock().expect("lock").push(("after".into(), "Acme opens a second store".into()));
    wait_until(Duration::from_secs(30), || async { titles("healthy").await.len() == 2 })
        .await
        .expect("the healthy feed's new item is stored");

    let peak = peak_rss_kb();
    eprintln!("peak resident memory {} MB; whole story {:?}", peak / 1024, started.elapsed());
    assert!(peak < MEMORY_CEILING_KB, "peak resident memory {peak} kB");
    running.shutdown().await;
}
