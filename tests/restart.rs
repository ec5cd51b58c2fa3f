//! Crash safety: the daemon is killed (SIGKILL) in the middle of a burst of items while the
//! on-call receiver is down. Started again, it stores every item exactly once and delivers
//! every notification it had committed, each with the id it was first written with. Then
//! SIGTERM stops it cleanly with exit status 0.

mod common;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::StatusCode;
use common::{FeedServer, Format, Item, WebhookReceiver, wait_until};
use tocsin::store::{SqliteStore, Store};

const BURST: usize = 1500;
const CRISES: [&str; 6] = [
    "My kid got food poisoning after eating Acme yogurt",
    "Acme recalls 20,000 baby strollers over a faulty brake",
    "Acme CEO arrested for drunk driving",
    "Acme e-bike battery caught fire in a garage, two injured",
    "Acme confirms a data breach affecting 2 million customers",
    "Acme fined $2M by regulators over misleading ads",
];

fn burst() -> Vec<Item> {
    (0..BURST)
        .map(|i| {
            if i % 250 == 0 {
                Item::new(&format!("item-{i}"), CRISES[i / 250], "Reported by several readers.")
            } else {
                Item::new(&format!("item-{i}"), &format!("Acme news roundup number {i}"), "Nothing unusual today.")
            }
        })
        .collect()
}

/// The daemon process, killed if the test fails before it stops it.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_daemon(config: &std::path::Path) -> Daemon {
    let child = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(["run", "-c"])
        .arg(config)
        .env("TOCSIN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tocsin run");
    Daemon(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_daemon_loses_no_item_and_no_notification() {
    let dir = tempfile::tempdir().expect("tempdir");
    let feeds = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    receiver.fail_with(Some(StatusCode::SERVICE_UNAVAILABLE));
    feeds.set("burst", Format::Rss, burst());

    let db = dir.path().join("tocsin.db");
    let config = dir.path().join("tocsin.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[store]
url = "sqlite://{db}"
[http]
listen = "127.0.0.1:{port}"
[poll]
default_interval = "1s"
[[feed]]
name = "burst"
url = "{feed}"
[[channel]]
name = "oncall"
kind = "webhook"
url = "{hook}"
[[escalation]]
name = "default"
levels = [{{ after = "0m", notify = ["oncall"] }}]
[delivery]
first_retry = "1s"
max_retry = "2s"
claim_lease = "2s"
"#,
            db = db.display(),
            port = common::free_port(),
            feed = feeds.url("burst"),
            hook = receiver.url(),
        ),
    )
    .expect("write config");

    let mut first = start_daemon(&config);
    wait_until(Duration::from_secs(60), || async { db.exists() }).await.expect("database created");
    let store = SqliteStore::connect(&format!("sqlite://{}", db.display())).await.expect("open store");
    wait_until(Duration::from_secs(60), || async { store.mention_count().await.unwrap_or(0) >= 300 })
        .await
        .expect("the burst is being stored");
    first.0.kill().expect("SIGKILL the daemon");
    first.0.wait().expect("reap");
    let stored_at_kill = store.mention_count().await.expect("count");
    assert!(stored_at_kill < BURST as i64, "killed mid-burst ({stored_at_kill} of {BURST} stored)");

    receiver.fail_with(None);
    let mut second = start_daemon(&config);
    wait_until(Duration::from_secs(120), || async {
        store.mention_count().await.unwrap_or(0) == BURST as i64 && store.pending_notices().await.unwrap_or(1) == 0
    })
    .await
    .expect("the restarted daemon finishes the burst and the outbox");

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.expect("pool");
    let (mentions, distinct): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT guid) FROM mentions").fetch_one(&pool).await.expect("count");
    assert_eq!((mentions, distinct), (BURST as i64, BURST as i64), "every item stored exactly once");
    let incidents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM incidents").fetch_one(&pool).await.expect("count");
    assert_eq!(incidents, CRISES.len() as i64, "one incident per crisis");
    let written: Vec<String> =
        sqlx::query_scalar("SELECT notice_id FROM outbox").fetch_all(&pool).await.expect("notice ids");
    let states: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT state FROM outbox").fetch_all(&pool).await.expect("states");
    assert_eq!(states, vec!["delivered".to_owned()], "every committed notice was delivered");
    let received: HashSet<String> = receiver.received().iter().map(|r| r.header("webhook-id")).collect();
    let written: HashSet<String> = written.into_iter().collect();
    assert_eq!(received, written, "the receiver saw every notice, under the id it was written with");
    assert_eq!(written.len(), CRISES.len());

    let status = Command::new("kill").args(["-TERM", &second.0.id().to_string()]).status().expect("send SIGTERM");
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || second.0.wait()).await.expect("join").expect("wait");
    assert_eq!(exit.code(), Some(0), "SIGTERM drains and exits 0");
}
