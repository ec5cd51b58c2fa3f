//! Several daemons on one PostgreSQL database share the work: three daemons watch 200 feeds
//! on a loopback server while a food-safety crisis spreads over fifty of them. Every item
//! is stored once, the crisis opens exactly one incident, its notice reaches the webhook
//! once, and the feeds are polled about as often as one daemon would poll them, not three
//! times as often. Then one daemon dies without a word: the other two take over its feeds
//! when its leases end and store what arrives next.
//!
//! Runs when `TOCSIN_TEST_DATABASE_URL` is set (CI sets it), in a schema of its own.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{FeedServer, Format, Item, WebhookReceiver, wait_until};
use tocsin::analyze::RuleSet;
use tocsin::api::Tokens;
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::daemon::{self, RunningDaemon};
use tocsin::store::{IncidentFilter, Store};

const FEEDS: usize = 200;
const CRISIS_FEEDS: usize = 50;

fn config(url: &str, feeds: &FeedServer, hook: &str) -> Config {
    let mut text = format!(
        "[store]\nurl = \"{url}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n[poll]\ndefault_interval = \"1s\"\ntimeout = \"2s\"\n\n\
         [delivery]\nclaim_lease = \"5s\"\n\n[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{hook}\"\n\n\
         [[escalation]]\nname = \"default\"\nlevels = [{{ after = \"0m\", notify = [\"hook\"] }}]\n"
    );
    for n in 0..FEEDS {
        text.push_str(&format!("\n[[feed]]\nname = \"f{n}\"\nurl = \"{}\"\n", feeds.url(&format!("f{n}"))));
    }
    Config::parse("multi.toml", &text).expect("config")
}

fn item(feed: usize, round: usize) -> Item {
    let guid = format!("f{feed}-{round}");
    if feed < CRISIS_FEEDS && round == 0 {
        Item::new(
            &guid,
            "Sick after Acme yogurt",
            &format!("My kid got food poisoning after eating Acme yogurt, report {feed}"),
        )
    } else {
        Item::new(&guid, "Acme kettle", &format!("Acme kettle review {feed}-{round}: it boils water fine"))
    }
}

async fn start(url: &str, feeds: &FeedServer, hook: &str) -> RunningDaemon {
    let tokens = Tokens::parse("ops:ops-token").expect("tokens");
    daemon::start(config(url, feeds, hook), RuleSet::bundled(), Clock::default(), tokens).await.expect("daemon")
}

fn polls(feeds: &FeedServer) -> u64 {
    (0..FEEDS).map(|n| feeds.full(&format!("f{n}")) + feeds.not_modified(&format!("f{n}"))).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_daemons_share_the_feeds_store_each_item_once_and_take_over_from_a_dead_one() {
    let Some(scratch) = common::Scratch::new().await else { return };
    let feeds = FeedServer::start().await;
    for n in 0..FEEDS {
        feeds.set(&format!("f{n}"), Format::Rss, vec![item(n, 0)]);
    }
    let receiver = WebhookReceiver::start().await;
    let daemons = vec![
        start(&scratch.url, &feeds, &receiver.url()).await,
        start(&scratch.url, &feeds, &receiver.url()).await,
        start(&scratch.url, &feeds, &receiver.url()).await,
    ];
    let store = daemons[0].store.clone();
    wait_until(Duration::from_secs(60), || async {
        store.mention_count().await.unwrap_or(0) == FEEDS as i64 && store.pending_notices().await.unwrap_or(1) == 0
    })
    .await
    .expect("the first round is stored and its notices delivered");

    let incidents = store.incidents(&IncidentFilter { limit: 10, ..IncidentFilter::default() }).await.expect("list");
    let crisis: Vec<_> = incidents.iter().filter(|i| i.rule == "food-safety").collect();
    assert_eq!(crisis.len(), 1, "fifty reports from three daemons open one incident: {incidents:?}");
    assert_eq!(crisis[0].mentions, CRISIS_FEEDS as i64, "every report attached once");
    let ids: Vec<String> = receiver.received().iter().map(|r| r.header("webhook-id")).collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "no notice delivered twice: {ids:?}");
    assert!(!ids.is_empty(), "the incident was notified");

    // Shared, not tripled: over a few seconds of steady polling (each feed every second),
    // three daemons make about as many requests as one would; without leases each daemon
    // would poll every feed, three times as many. This measures a rate of real daemons, so
    // it watches the real clock.
    let (before, window) = (polls(&feeds), Instant::now());
    tokio::time::sleep(Duration::from_secs(4)).await;
    let per_second = (polls(&feeds) - before) as f64 / window.elapsed().as_secs_f64();
    assert!(
        per_second < FEEDS as f64 * 1.5,
        "{per_second:.0} polls a second for {FEEDS} feeds polled every second: the daemons are not sharing them"
    );
    assert!(per_second > FEEDS as f64 * 0.5, "{per_second:.0} polls a second: the feeds are not all being polled");

    // One daemon dies mid-way (its tasks are dropped: no shutdown, leases left behind); new
    // items arrive on every feed, and the survivors store them all.
    let mut daemons = daemons.into_iter();
    let dead = daemons.next().expect("three daemons");
    drop(dead);
    for n in 0..FEEDS {
        feeds.push(&format!("f{n}"), item(n, 1));
    }
    let survivors: Vec<RunningDaemon> = daemons.collect();
    let store = survivors[0].store.clone();
    // The lease is twice the poll timeout plus ten seconds: 14 s here.
    wait_until(Duration::from_secs(45), || async { store.mention_count().await.unwrap_or(0) == 2 * FEEDS as i64 })
        .await
        .expect("the survivors take over the dead daemon's feeds after its leases end");
    for daemon in survivors {
        daemon.shutdown().await;
    }
    // Three daemons wrote into the same timelines: each is still one unbroken chain.
    let incidents = store.incidents(&IncidentFilter { limit: 100, ..IncidentFilter::default() }).await.expect("list");
    for incident in &incidents {
        let events = store.timeline(incident.id).await.expect("timeline");
        assert!(tocsin::incident::timeline::verify(&events).is_ok(), "incident {} verifies", incident.id);
    }
    scratch.drop_schema().await;
}

/// `tocsin migrate` from several processes at once on a fresh database: all succeed, and
/// the schema is there once.
#[tokio::test]
async fn migrate_is_safe_from_several_processes_at_once() {
    let Some(scratch) = common::Scratch::new().await else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("tocsin.toml"), format!("[store]\nurl = \"{}\"\n", scratch.url)).expect("write");
    let runs: Vec<_> = (0..3)
        .map(|_| {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin")).arg("migrate").current_dir(dir.path()).output()
        })
        .collect();
    for out in futures_util::future::join_all(runs).await {
        let out = out.expect("run tocsin migrate");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let store = tocsin::store::open(&scratch.url).await.expect("open");
    assert_eq!(store.mention_count().await.expect("the schema is there"), 0);
    scratch.drop_schema().await;
}
