//! Delivery throughput: 10,000 notices queued in the outbox, delivered by tocsin's outbox
//! worker to a webhook receiver on loopback (signed, recorded on the timeline, each attempt
//! in the store), against its peer in the same run: a bare loop posting the same 10,000
//! signed bodies with the same HTTP client and no store at all, the floor of "just send
//! them". Peak RSS is read from the kernel after tocsin's phase.
//!
//! ```text
//! cargo bench --bench delivery
//! TOCSIN_BENCH_NOTICES=50000 cargo bench --bench delivery
//! ```
//!
//! The last line is machine-readable: `RESULT key=value ...`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::routing::post;
use chrono::Utc;
use tocsin::analyze::RuleSet;
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::incident::ack_link::AckLinks;
use tocsin::ingest::Mention;
use tocsin::notify::outbox::{Channels, Deliverer};
use tocsin::notify::webhook;
use tocsin::pipeline::Pipeline;
use tocsin::store::{Arrival, IngestOutcome, SqliteStore, Store};
use tokio::sync::Notify;

fn kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let notices: u64 = std::env::var("TOCSIN_BENCH_NOTICES").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let app = Router::new().route(
        "/hook",
        post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver") });

    let dir = std::env::temp_dir().join(format!("tocsin-bench-delivery-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let config = Config::parse(
        "bench.toml",
        &format!(
            "[store]\nurl = \"{url}\"\n\n[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{hook}\"\n\
             secret_env = \"TOCSIN_BENCH_SECRET\"\n\n[[escalation]]\nname = \"default\"\n\
             levels = [{{ after = \"0m\", notify = [\"hook\"] }}]\n"
        ),
    )
    .expect("config");
    // SAFETY: set before any other thread of this process reads the environment.
    unsafe { std::env::set_var("TOCSIN_BENCH_SECRET", "whsec_c2VjcmV0LWtleS1mb3ItYmVuY2g=") };
    tocsin::ingest::fetch::install_crypto_provider();
    let store = Arc::new(SqliteStore::connect(&url).await.expect("open"));
    store.migrate().await.expect("migrate");
    let pipeline = Pipeline::new(
        store.clone(),
        Arc::new(RuleSet::bundled()),
        Arc::new(config.clone()),
        Clock::default(),
        Arc::new(Notify::new()),
    )
    .expect("the rules compile");
    let now = Utc::now();
    let mention = Mention::text("news", "1", "", "My kid got food poisoning after eating Acme yogurt", now);
    let outcome = pipeline.record(vec![Arrival::new(pipeline.score(mention), now)]).await.expect("record");
    let IngestOutcome::Stored { opened, .. } = &outcome[0] else { panic!("stored") };
    let incident = *opened.first().expect("an incident");
    // The queue: `notices` more outbox rows for the same incident, as a long storm leaves.
    let pool = sqlx::SqlitePool::connect(&url).await.expect("pool");
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
         INSERT INTO outbox (notice_id, incident_id, channel, kind, level, created_at, due_at) \
         SELECT 'bench-' || i, ?, 'hook', '\"incident.repeat\"', 0, created_at, due_at FROM n, \
         (SELECT created_at, due_at FROM outbox LIMIT 1)",
    )
    .bind(i64::try_from(notices).unwrap_or(i64::MAX) - 1)
    .bind(incident)
    .execute(&pool)
    .await
    .expect("queue");
    let queued = store.pending_notices().await.expect("pending");

    let deliverer = Deliverer::new(
        store.clone(),
        Channels::from_config(&config, reqwest::Client::new()).expect("channels"),
        AckLinks::new(b"bench".to_vec()),
        "http://localhost:8080".into(),
        config.delivery.clone(),
    );
    let rss_before = kib("VmRSS:");
    let started = Instant::now();
    while store.pending_notices().await.expect("pending") > 0 {
        deliverer.run_due(Utc::now()).await.expect("deliver");
    }
    let tocsin_seconds = started.elapsed().as_secs_f64();
    let peak_kib = kib("VmHWM:");
    let delivered = received.load(Ordering::Relaxed);
    assert_eq!(delivered, u64::try_from(queued).unwrap_or(0), "every queued notice arrived once");

    // The peer: the same number of signed bodies, one after another, no store.
    let client = reqwest::Client::new();
    let key = webhook::standard_webhooks_key("whsec_c2VjcmV0LWtleS1mb3ItYmVuY2g=").expect("key");
    let body = serde_json::to_vec(&serde_json::json!({"type": "incident.repeat", "incident": {"id": incident}}))
        .expect("body");
    let started = Instant::now();
    for i in 0..notices {
        let id = format!("peer-{i}");
        let timestamp = Utc::now().timestamp();
        let response = client
            .post(&hook)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", webhook::sign(&key, &id, timestamp, &body))
            .body(body.clone())
            .send()
            .await
            .expect("peer post");
        assert!(response.status().is_success());
    }
    let peer_seconds = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);

    let rate = delivered as f64 / tocsin_seconds;
    let peer_rate = notices as f64 / peer_seconds;
    println!("machine: {} cores", std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!(
        "tocsin outbox: {delivered} notices in {tocsin_seconds:.2} s = {rate:.0}/s (signed, each attempt stored and on the timeline)"
    );
    println!("peer (bare signed POST loop, no store): {notices} in {peer_seconds:.2} s = {peer_rate:.0}/s");
    println!(
        "ratio {:.2}x the bare loop; RSS {} MB before, peak {} MB",
        rate / peer_rate,
        rss_before / 1024,
        peak_kib / 1024
    );
    println!(
        "RESULT notices={delivered} seconds={tocsin_seconds:.3} per_s={rate:.1} peer_per_s={peer_rate:.1} ratio={:.3} \
         rss_before_mb={} peak_rss_mb={}",
        rate / peer_rate,
        rss_before / 1024,
        peak_kib / 1024
    );
}
