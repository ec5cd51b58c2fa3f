//! Retention on a simulated clock, through the real pipeline into a real store (SQLite
//! always; PostgreSQL too, each story in a schema of its own, when
//! `TOCSIN_TEST_DATABASE_URL` names a database).
//!
//! Two months ago a food-poisoning report opened an incident, a recall report was stored
//! under a silence, and fifteen hundred ordinary items went by. With a 30-day retention the
//! ordinary items and the silenced report go, in batches, and two daemons can prune at once;
//! the incident keeps its mentions as fetched, their matched terms and a verifying
//! timeline, and last week's items stay. A daemon left running prunes on its own.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tocsin::analyze::RuleSet;
use tocsin::api::Tokens;
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::daemon::{self, PRUNE_BATCH, prune_expired};
use tocsin::incident::review::{ChainStatus, Review};
use tocsin::incident::silence::{NewSilence, Scope};
use tocsin::incident::timeline;
use tocsin::ingest::Mention;
use tocsin::ingest::poller::MentionSink;
use tocsin::pipeline::{Pipeline, retention_cutoff};
use tocsin::store::{self, AnyStore, IngestOutcome, MentionFilter, Pruned, Store};
use tokio::sync::{Notify, watch};

const POLICY: &str = r#"
retention = "30d"

[[channel]]
name = "pr-team"
kind = "webhook"
url = "http://127.0.0.1:9/pr"

[[escalation]]
name = "default"
levels = [{ after = "0m", notify = ["pr-team"] }]
"#;

/// More ordinary items than one prune batch removes.
const OLD_PLAIN: usize = PRUNE_BATCH as usize + 500;
const RECENT_PLAIN: usize = 5;
/// Items forty days old: past the retention today, not twenty days ago.
const LATER_PLAIN: usize = PRUNE_BATCH as usize + 200;

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `story` with the URL of a fresh, empty database on `backend`.
async fn run<F, Fut>(backend: Backend, story: F)
where
    F: FnOnce(String, Backend) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            story(format!("sqlite://{}", dir.path().join("retention.db").display()), backend).await;
        }
        Backend::Postgres => {
            let Some(scratch) = common::Scratch::new().await else { return };
            story(scratch.url.clone(), backend).await;
            scratch.drop_schema().await;
        }
    }
}

/// Each story as two tests, `STORY::sqlite` and `STORY::postgres`.
macro_rules! on_every_backend {
    ($($story:ident),* $(,)?) => {
        $(
            mod $story {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::run(super::Backend::Sqlite, super::$story).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::run(super::Backend::Postgres, super::$story).await;
                }
            }
        )*
    };
}

on_every_backend!(
    old_unattached_mentions_go_in_batches_and_incidents_keep_what_the_team_saw,
    a_running_daemon_prunes_on_its_own_when_its_clock_passes_the_retention,
    a_pruned_undated_item_does_not_come_back_while_its_feed_serves_it,
);

fn config(url: &str) -> Config {
    let text = format!("[http]\nlisten = \"127.0.0.1:0\"\n\n[store]\nurl = \"{url}\"\n{POLICY}");
    Config::parse("retention.toml", &text).expect("config")
}

/// Whole seconds: the store keeps microseconds, and the stories count in days.
fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).expect("a valid time")
}

/// One column of strings or one count, read the way each backend spells it.
async fn strings(url: &str, backend: Backend, sql: &str) -> Vec<String> {
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.expect("pool");
            let rows = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&pool).await.expect("query");
            pool.close().await;
            rows
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.expect("pool");
            let rows = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&pool).await.expect("query");
            pool.close().await;
            rows
        }
    }
}

async fn count(url: &str, backend: Backend, table_and_filter: &str) -> i64 {
    let sql = format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table_and_filter}");
    let rows = strings(url, backend, &sql).await;
    rows.first().and_then(|n| n.parse().ok()).expect("a count")
}

struct Desk {
    pipeline: Pipeline<AnyStore>,
    serial: usize,
}

impl Desk {
    async fn store(&mut self, at: DateTime<Utc>, title: &str, body: &str) -> IngestOutcome {
        self.serial += 1;
        let mention = Mention::text("news", &format!("m{}", self.serial), title, body, at);
        let scored = self.pipeline.score(mention);
        let arrival = store::Arrival::new(scored, at);
        self.pipeline.record(vec![arrival]).await.expect("record").remove(0)
    }

    async fn store_plain(&mut self, at: DateTime<Utc>, how_many: usize) {
        let mentions: Vec<Mention> = (0..how_many)
            .map(|i| {
                self.serial += 1;
                let body = format!("Acme opens its store number {i} in Springfield this weekend");
                Mention::text("news", &format!("m{}", self.serial), "", &body, at)
            })
            .collect();
        self.pipeline.process_all(mentions).await.expect("plain mentions");
    }
}

async fn old_unattached_mentions_go_in_batches_and_incidents_keep_what_the_team_saw(url: String, backend: Backend) {
    let config = config(&url);
    let store = Arc::new(store::open(&url).await.expect("open"));
    store.migrate().await.expect("migrate");
    let clock = Clock::default();
    let now = whole_seconds(clock.now());
    let pipeline = Pipeline::new(
        store.clone(),
        Arc::new(RuleSet::bundled()),
        Arc::new(config.clone()),
        clock,
        Arc::new(Notify::new()),
    )
    .expect("the rules compile");
    let mut desk = Desk { pipeline, serial: 0 };

    // Two months ago.
    let then = now - Duration::days(60);
    let first = desk
        .store(
            then,
            "Acme yogurt made my kid sick",
            "My kid got food poisoning after eating Acme yogurt, a night in the ER",
        )
        .await;
    let IngestOutcome::Stored { opened, .. } = first else { panic!("stored: {first:?}") };
    let [incident] = opened[..] else { panic!("one incident opens: {opened:?}") };
    let second = desk
        .store(
            then + Duration::minutes(5),
            "Second family sick",
            "Our daughter has food poisoning from Acme yogurt too",
        )
        .await;
    assert!(matches!(second, IngestOutcome::Stored { ref attached, .. } if attached == &[incident]), "{second:?}");
    let silence = NewSilence {
        scope: Scope::Rule,
        value: "product-recall".into(),
        reason: "a drill by the supplier".into(),
        created_by: "lead".into(),
        created_at: then,
        ends_at: then + Duration::hours(1),
        brand: None,
    };
    store.add_silence(&silence).await.expect("silence");
    let recall =
        desk.store(then + Duration::minutes(10), "", "Acme recalls 20,000 baby strollers over a faulty brake").await;
    assert!(
        matches!(recall, IngestOutcome::Stored { ref opened, ref attached, .. } if opened.is_empty() && attached.is_empty()),
        "the silenced recall report is stored and attached to nothing: {recall:?}"
    );
    desk.store_plain(then + Duration::minutes(20), OLD_PLAIN).await;
    desk.store_plain(now - Duration::days(40), LATER_PLAIN).await;
    // Last week, and today.
    desk.store_plain(now - Duration::days(7), RECENT_PLAIN).await;
    desk.store_plain(now, 1).await;

    let kept_matches =
        count(&url, backend, "rule_matches WHERE mention_id IN (SELECT mention_id FROM incident_mentions)").await;
    let stories = count(&url, backend, "stories").await;
    assert!(stories >= 2, "the poisoning and the recall reports are stories: {stories}");
    let groups_sql =
        "SELECT group_key || '|' || CAST(mass AS TEXT) || '|' || CAST(first_at AS TEXT) FROM groups ORDER BY group_key";
    let groups = strings(&url, backend, groups_sql).await;
    let review_before = Review::build(store.review_input(incident).await.expect("review input"), now);

    // Twenty days ago the worker pruned what was fifty days old then, in several batches.
    let (_stop, stop) = watch::channel(false);
    let earlier = retention_cutoff(&config, now - Duration::days(20)).expect("a cutoff");
    assert_eq!(earlier, now - Duration::days(50));
    let pruned = prune_expired(store.as_ref(), earlier, &stop).await.expect("prune");
    assert_eq!(pruned.mentions, OLD_PLAIN as u64 + 1, "the old items and the silenced report, not the incident's");
    // Some of the plain items read negative (VADER scores the numbers 86, 182 and 187 as
    // slang), so the general rule gives them stories too, the later ones younger than the cutoff.
    let cutoff = earlier.format("%Y-%m-%dT%H:%M:%S%.6fZ");
    assert_eq!(
        count(&url, backend, &format!("stories WHERE last_at < '{cutoff}'")).await,
        0,
        "every story of two months ago"
    );
    let left = count(&url, backend, "stories").await;
    assert_eq!(pruned.stories, u64::try_from(stories - left).expect("a count"), "and no younger one");
    assert!(left < stories, "{left} of {stories}");

    // Today two daemons' workers prune at once, each through its own store.
    let other = store::open(&url).await.expect("a second daemon's store");
    let before = retention_cutoff(&config, now).expect("a cutoff");
    assert_eq!(before, now - Duration::days(30));
    let (a, b) = tokio::join!(prune_expired(store.as_ref(), before, &stop), prune_expired(&other, before, &stop));
    let (a, b) = (a.expect("first daemon prunes"), b.expect("second daemon prunes"));
    assert_eq!(a.mentions + b.mentions, LATER_PLAIN as u64, "each item past retention, once: {a:?} {b:?}");

    let remaining = store.mention_count().await.expect("count");
    assert_eq!(remaining, 2 + RECENT_PLAIN as i64 + 1, "the incident's two mentions, last week's and today's");
    let recalls = MentionFilter { rule: Some("product-recall".into()), limit: 10, ..MentionFilter::default() };
    assert!(store.mentions(&recalls).await.expect("search").is_empty(), "the silenced report is gone");
    assert_eq!(count(&url, backend, "rule_matches").await, kept_matches, "only the kept mentions' matches remain");
    assert_eq!(count(&url, backend, "story_bands").await, 0, "no band key outlives its story");
    assert_eq!(strings(&url, backend, groups_sql).await, groups, "each group's baseline is untouched");

    // The incident is as the team saw it.
    let held = store.incident(incident).await.expect("read").expect("the incident stays");
    assert_eq!(held.mentions, 2);
    let events = store.timeline(incident).await.expect("timeline");
    assert!(timeline::verify(&events).is_ok(), "the timeline still verifies");
    let review = Review::build(store.review_input(incident).await.expect("review input"), now);
    assert_eq!(review.chain, ChainStatus::Verified);
    assert_eq!(review.to_json().expect("json"), review_before.to_json().expect("json"), "the review is unchanged");
    assert!(review.to_markdown().contains("Second family sick"));
    let top = store.top_mentions(incident, 10).await.expect("top mentions");
    assert_eq!(top.len(), 2);
    assert!(top.iter().all(|m| !m.terms.is_empty()), "alerts and the dashboard still show the matched terms: {top:?}");

    // Nothing is left to prune, and the pipeline goes on: today's report joins the incident.
    let again = prune_expired(store.as_ref(), before, &stop).await.expect("prune again");
    assert_eq!(again, Pruned::default(), "a second prune removes nothing");
    let today = desk.store(now, "Third family", "Acme yogurt gave my son food poisoning as well").await;
    assert!(matches!(today, IngestOutcome::Stored { ref attached, .. } if attached == &[incident]), "{today:?}");
}

async fn a_running_daemon_prunes_on_its_own_when_its_clock_passes_the_retention(url: String, _: Backend) {
    let config = config(&url);
    let clock = Clock::default();
    let tokens = Tokens::parse("ops:ops-token").expect("tokens");
    let running = daemon::start(config, RuleSet::bundled(), clock.clone(), tokens).await.expect("daemon");
    let now = whole_seconds(clock.now());
    let old: Vec<Mention> = (0..3)
        .map(|i| Mention::text("news", &format!("old{i}"), "", &format!("Acme store {i} opens downtown"), now))
        .collect();
    running.pipeline.process_all(old).await.expect("old mentions");
    let fresh = Mention::text("news", "fresh", "", "Acme store opens uptown", now + Duration::days(31));
    running.pipeline.process(fresh).await.expect("fresh mention");
    assert_eq!(running.store.mention_count().await.expect("count"), 4);

    clock.advance(Duration::days(31));
    let store = running.store.clone();
    common::wait_until(std::time::Duration::from_secs(20), || async {
        store.mention_count().await.is_ok_and(|n| n == 1)
    })
    .await
    .expect("the worker prunes the three month-old mentions");
    let metrics = reqwest::get(format!("http://{}/metrics", running.addr)).await.expect("metrics").text().await;
    let metrics = metrics.expect("metrics body");
    let pruned = metrics
        .lines()
        .find_map(|line| line.strip_prefix("tocsin_mentions_pruned_total "))
        .and_then(|value| value.trim().parse::<f64>().ok());
    assert!(pruned.is_some_and(|n| n >= 3.0), "the prune is counted: {metrics}");

    // A feed still serving the pruned items does not bring them back as new; its new item is
    // stored.
    let served: Vec<Mention> = (0..3)
        .map(|i| Mention::text("news", &format!("old{i}"), "", &format!("Acme store {i} opens downtown"), now))
        .chain([Mention::text("news", "new", "", "Acme store opens on the harbour", now + Duration::days(31))])
        .collect();
    let stored = running.pipeline.accept(served).await.expect("a poll's items");
    assert_eq!(stored, 1, "only the item published within the retention is new");
    assert_eq!(running.store.mention_count().await.expect("count"), 2);
    running.shutdown().await;
}

/// An item with no publication date has nothing but its stored row to say it is old: once
/// retention prunes the row, the feed that still serves it must not bring it back as new.
async fn a_pruned_undated_item_does_not_come_back_while_its_feed_serves_it(url: String, _: Backend) {
    let config = config(&url);
    let store = Arc::new(store::open(&url).await.expect("open"));
    store.migrate().await.expect("migrate");
    let clock = Clock::default();
    let now = whole_seconds(clock.now());
    let then = now - Duration::days(40);
    clock.set(then);
    let pipeline = Pipeline::new(
        store.clone(),
        Arc::new(RuleSet::bundled()),
        Arc::new(config),
        clock.clone(),
        Arc::new(Notify::new()),
    )
    .expect("the rules compile");
    let undated = |guid: &str, at: DateTime<Utc>| Mention {
        published: None,
        ..Mention::text("forum", guid, "", &format!("Acme kettle thread {guid}: still going strong"), at)
    };
    let served = |at: DateTime<Utc>| vec![undated("sticky-1", at), undated("sticky-2", at)];
    assert_eq!(pipeline.accept(served(then)).await.expect("accept"), 2, "new forty days ago");
    clock.set(now);
    let fresh = Mention::text("forum", "fresh", "", "Acme kettle thread fresh today", now);
    assert_eq!(pipeline.accept(vec![fresh]).await.expect("accept"), 1);
    let (_, stop) = watch::channel(false);
    let before = now - Duration::days(30);
    let pruned = prune_expired(store.as_ref(), before, &stop).await.expect("prune");
    assert_eq!(pruned.mentions, 2, "the two undated items were past the retention");

    // The feed still serves both: neither comes back.
    assert_eq!(pipeline.accept(served(now)).await.expect("accept"), 0, "pruned, not new");
    assert_eq!(pipeline.accept(served(now + Duration::hours(1))).await.expect("accept"), 0, "nor on the next poll");
    // The feed drops the first; when it serves it again later, it is a new post.
    assert_eq!(pipeline.accept(vec![undated("sticky-2", now)]).await.expect("accept"), 0);
    assert_eq!(pipeline.accept(served(now + Duration::hours(2))).await.expect("accept"), 1, "sticky-1 is back as new");
}
