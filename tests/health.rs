//! What an operator's monitoring sees: `/metrics` names the channel whose breaker is open
//! and the feed that keeps failing, and `/healthz` turns 503 when the database stops
//! answering. A real daemon on SQLite, a feed server and a webhook receiver on loopback.

mod common;

use std::time::Duration;

use common::{FeedServer, WebhookReceiver};
use tocsin::analyze::RuleSet;
use tocsin::api::Tokens;
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::daemon;

const TOKEN: &str = "ops-token";

/// The value of the sample `series` (name and labels as Prometheus prints them).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_name_the_open_breaker_and_the_failing_feed_and_healthz_fails_without_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let feeds = FeedServer::start().await;
    let (main, backup) = (WebhookReceiver::start().await, WebhookReceiver::start().await);
    main.fail_with(Some(reqwest::StatusCode::SERVICE_UNAVAILABLE));
    let db = dir.path().join("health.db");
    let config = Config::parse(
        "health.toml",
        &format!(
            r#"
[store]
url = "sqlite://{db}"

[http]
listen = "127.0.0.1:0"

[poll]
default_interval = "1h"

[[feed]]
name = "gone-forum"
url = "{gone}"

[delivery]
breaker_failures = 1
breaker_cooldown = "5m"

[[channel]]
name = "main"
kind = "webhook"
url = "{main}"

[[channel]]
name = "backup"
kind = "webhook"
url = "{backup}"

[[escalation]]
name = "default"
levels = [{{ after = "0m", notify = ["main"] }}]
fallback = "backup"
"#,
            db = db.display(),
            // The feed server answers 404 for a feed it does not serve.
            gone = feeds.url("gone-forum"),
            main = main.url(),
            backup = backup.url(),
        ),
    )
    .expect("config");
    let clock = Clock::default();
    let tokens = Tokens::parse(&format!("ops:{TOKEN}")).expect("tokens");
    let running = daemon::start(config, RuleSet::bundled(), clock.clone(), tokens).await.expect("daemon");
    tocsin::ingest::fetch::install_crypto_provider();
    let http = reqwest::Client::new();
    let base = format!("http://{}", running.addr);
    let scrape = || async {
        http.get(format!("{base}/metrics")).send().await.expect("scrape").text().await.expect("metrics text")
    };

    let healthy = http.get(format!("{base}/healthz")).send().await.expect("healthz");
    assert_eq!(healthy.status(), reqwest::StatusCode::OK);
    assert_eq!(healthy.text().await.expect("body"), "ok\n");

    // A crisis whose notice `main` refuses: one failure trips its breaker.
    let pushed = http
        .post(format!("{base}/api/v1/mentions"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "id": "m1", "feed": "news", "body": "My kid got food poisoning after eating Acme yogurt" }))
        .send()
        .await
        .expect("push a mention");
    assert!(pushed.status().is_success(), "{:?}", pushed.text().await);
    let open_breaker = r#"tocsin_channel_breaker_open{channel="main"}"#;
    let failing_feed = r#"tocsin_feed_consecutive_failures{feed="gone-forum"}"#;
    let reported = common::wait_until(Duration::from_secs(10), || async {
        let metrics = scrape().await;
        sample(&metrics, open_breaker) == Some(1.0) && sample(&metrics, failing_feed) == Some(1.0)
    })
    .await;
    if let Err(e) = reported {
        panic!("{e}: {}", scrape().await);
    }
    let metrics = scrape().await;
    assert_eq!(sample(&metrics, r#"tocsin_channel_breaker_open{channel="backup"}"#), Some(0.0), "{metrics}");

    // Past the cool-down the breaker lets a probe through: no longer reported open, though
    // no notice has gone to `main` since.
    clock.advance(chrono::Duration::minutes(6));
    assert_eq!(sample(&scrape().await, open_breaker), Some(0.0));

    // The database stops answering (here: the table the health check reads is gone).
    use sqlx::Connection;
    let mut connection =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.expect("open the database");
    // Off for this connection only, so the table goes although other rows refer to it.
    sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut connection).await.expect("pragma");
    sqlx::query("DROP TABLE incidents").execute(&mut connection).await.expect("drop");
    let unhealthy = http.get(format!("{base}/healthz")).send().await.expect("healthz");
    assert_eq!(unhealthy.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(unhealthy.text().await.expect("body"), "the database failed a read\n");
    running.shutdown().await;
}

#[tokio::test]
async fn healthz_fails_when_the_postgresql_schema_is_gone() {
    let Some(scratch) = common::Scratch::new().await else { return };
    let config = Config::parse(
        "health.toml",
        &format!("[store]\nurl = \"{}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n", scratch.url),
    )
    .expect("config");
    let tokens = Tokens::parse(&format!("ops:{TOKEN}")).expect("tokens");
    let running = daemon::start(config, RuleSet::bundled(), Clock::default(), tokens).await.expect("daemon");
    tocsin::ingest::fetch::install_crypto_provider();
    let http = reqwest::Client::new();
    let url = format!("http://{}/healthz", running.addr);
    assert_eq!(http.get(&url).send().await.expect("healthz").status(), reqwest::StatusCode::OK);
    scratch.drop_schema().await;
    let unhealthy = http.get(&url).send().await.expect("healthz");
    assert_eq!(unhealthy.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(unhealthy.text().await.expect("body"), "the database failed a read\n");
    running.shutdown().await;
}
