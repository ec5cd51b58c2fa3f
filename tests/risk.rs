//! Early-warning stories on a simulated clock: mentions arrive at scripted times through the
//! real pipeline into a real SQLite store, and the tests look at which incidents open when.
//! No sleeping: the clock jumps to each mention's time.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tocsin::analyze::RuleSet;
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::daemon::Pipeline;
use tocsin::incident::Incident;
use tocsin::ingest::Mention;
use tocsin::store::{IncidentFilter, IngestOutcome, SqliteStore, Store};
use tokio::sync::Notify;

/// `complaint` is mild on its own (severity 30: a single angry mention stays far below
/// `open_at = 60`), so only volume can open an incident; `explosion` is severe at once.
const RULES: &str = r#"
[[rule]]
id = "complaint"
title = "Complaints about Acme orders"
query = 'acme AND (broken OR refund OR late OR 退款)'
severity = 30
crisis_type = "service_failure"

[[rule]]
id = "explosion"
title = "Explosion at an Acme site"
query = 'acme NEAR/5 (explosion OR exploded)'
severity = 90
crisis_type = "safety_incident"
"#;

const WORDS: [&str; 16] = [
    "parcel",
    "blender",
    "kettle",
    "monday",
    "support",
    "warehouse",
    "courier",
    "invoice",
    "lid",
    "handle",
    "box",
    "receipt",
    "manager",
    "hotline",
    "screen",
    "charger",
];

struct World {
    pipeline: Pipeline<SqliteStore>,
    store: Arc<SqliteStore>,
    clock: Clock,
    start: DateTime<Utc>,
    serial: usize,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new() -> World {
        World::with_rules(RuleSet::from_sources(&[("rules.toml".into(), RULES.into())], &[]).expect("rules")).await
    }

    async fn with_rules(rules: RuleSet) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("risk.db").display());
        let config_text =
            format!("[store]\nurl = \"{url}\"\n\n[risk]\nspike_window = \"15m\"\nspike_min_history = \"2h\"\n");
        let config = Config::parse("risk.toml", &config_text).expect("config");
        let store = Arc::new(SqliteStore::connect(&url).await.expect("open"));
        store.migrate().await.expect("migrate");
        let clock = Clock::default();
        let start = clock.now();
        let pipeline =
            Pipeline::new(store.clone(), Arc::new(rules), Arc::new(config), clock.clone(), Arc::new(Notify::new()));
        World { pipeline, store, clock, start, serial: 0, _dir: dir }
    }

    /// Moves the clock to `start + at` and pushes one mention published then.
    async fn mention_at(&mut self, at: Duration, title: &str, body: &str) -> IngestOutcome {
        let target = self.start + at;
        let now = self.clock.now();
        if target > now {
            self.clock.advance(target - now);
        }
        self.serial += 1;
        let mention = Mention {
            feed: "forum".into(),
            guid: format!("m{}", self.serial),
            title: title.into(),
            body: body.into(),
            author: None,
            url: None,
            published: Some(target),
            fetched_at: self.clock.now(),
            lang: Some("en".into()),
            engagement: None,
        };
        self.pipeline.process(mention).await.expect("process")
    }

    /// One distinct complaint (distinct words, so no two are near-duplicates).
    async fn complaint_at(&mut self, at: Duration) -> IngestOutcome {
        let n = self.serial;
        let body = format!(
            "Order {n}: Acme sent a broken {} and the {} ignored my refund request about the {} {}",
            WORDS[n % 16],
            WORDS[(n / 16) % 16],
            WORDS[(n / 256) % 16],
            n * 7919
        );
        self.mention_at(at, "", &body).await
    }

    /// One distinct, plainly unhappy post about the brand that names no crisis at all.
    async fn grumble_at(&mut self, at: Duration) -> IngestOutcome {
        let n = self.serial;
        let body = format!(
            "Honestly the new Acme {} is awful, I hate it and I am so disappointed with the {} {} #{}",
            WORDS[n % 16],
            WORDS[(n / 16) % 16],
            WORDS[(n / 256) % 16],
            n * 7919
        );
        self.mention_at(at, "", &body).await
    }

    async fn incidents(&self) -> Vec<Incident> {
        let filter = IncidentFilter { limit: 100, ..IncidentFilter::default() };
        self.store.incidents(&filter).await.expect("incidents")
    }
}

/// Mentions at a steady `per_hour` rate from `from` for `hours`, evenly spaced.
fn steady(from: Duration, per_hour: i64, hours: i64) -> Vec<Duration> {
    let step = Duration::seconds(3600 / per_hour);
    (0..per_hour * hours).map(|i| from + step * i as i32).collect()
}

#[tokio::test]
async fn a_slowly_building_complaint_wave_opens_an_incident_before_its_peak() {
    let mut world = World::new().await;
    // Three quiet hours at 5 an hour, then the rate doubles every hour: 10, 20, ... 160,
    // reaching 200 an hour at hour 10, the peak.
    let mut times = steady(Duration::zero(), 5, 3);
    let mut hour = 3;
    let mut rate = 10;
    while hour < 10 {
        times.extend(steady(Duration::hours(hour), rate, 1));
        hour += 1;
        rate = (rate * 2).min(200);
    }
    let peak = Duration::hours(10);
    let mut opened_at = None;
    for at in times {
        world.complaint_at(at).await;
        if opened_at.is_none() && !world.incidents().await.is_empty() {
            opened_at = Some(at);
        }
    }
    let opened_at = opened_at.expect("the wave opened an incident");
    assert!(
        opened_at < peak - Duration::hours(2),
        "opened at {}h, too close to the peak",
        opened_at.num_minutes() / 60
    );
    assert!(opened_at >= Duration::hours(3), "not during the quiet baseline: {}m", opened_at.num_minutes());
    let incidents = world.incidents().await;
    assert_eq!(incidents.len(), 1, "one storm, one incident");
    let incident = &incidents[0];
    assert_eq!(incident.rule, "complaint");
    assert!(incident.level >= tocsin::incident::Level::High, "a spike opens at least high: {incident:?}");
    assert!(incident.why.get("spike").is_some(), "the why names the spike: {}", incident.why);
}

#[tokio::test]
async fn one_severe_mention_opens_an_incident_at_once() {
    let mut world = World::new().await;
    let outcome =
        world.mention_at(Duration::minutes(1), "Explosion at Acme plant", "An Acme plant exploded at dawn").await;
    match outcome {
        IngestOutcome::Stored { opened, .. } => assert_eq!(opened.len(), 1),
        other => panic!("expected an incident: {other:?}"),
    }
    let incidents = world.incidents().await;
    assert_eq!(incidents[0].rule, "explosion");
    assert!(incidents[0].score >= 60, "{:?}", incidents[0]);
    assert!(incidents[0].why.get("spike").is_none(), "no history, no spike: {}", incidents[0].why);
}

#[tokio::test]
async fn a_syndicated_story_counts_once_for_novelty_but_fully_for_volume() {
    let mut world = World::new().await;
    let story = "Residents heard a loud bang when the Acme warehouse exploded late on Sunday, officials said, \
                 and firefighters worked through the night to contain the blaze near the river";
    let first = world.mention_at(Duration::minutes(0), "Acme warehouse exploded", story).await;
    let IngestOutcome::Stored { cluster_id: first_cluster, .. } = first else { panic!("stored") };
    for copy in 1..300 {
        let title = format!("Acme warehouse exploded - Local Paper {copy}");
        let outcome = world.mention_at(Duration::seconds(copy), &title, &format!("{story}. Copy {copy}")).await;
        let IngestOutcome::Stored { cluster_id, .. } = outcome else { panic!("stored") };
        assert_eq!(cluster_id, first_cluster, "copy {copy} joins the story");
    }
    let incidents = world.incidents().await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].mentions, 300, "every copy counts for volume");
    // The next copy is the 301st report of the story: little novelty left.
    let probe = tocsin::analyze::analyze(
        &RuleSet::from_sources(&[("rules.toml".into(), RULES.into())], &[]).expect("rules"),
        Mention {
            feed: "forum".into(),
            guid: "probe".into(),
            title: "Acme warehouse exploded - Late Edition".into(),
            body: format!("{story}. Copy 301"),
            author: None,
            url: None,
            published: None,
            fetched_at: world.clock.now(),
            lang: Some("en".into()),
            engagement: None,
        },
        &Default::default(),
        1.0,
    );
    let copies = world.store.story(&probe).await.expect("story").copies;
    assert_eq!(copies, 300);
    let late = probe.clone().with_copies(copies, &Default::default());
    assert!(late.risk * 3 < probe.risk, "the 301st copy is mostly old news: {} vs {}", late.risk, probe.risk);
    assert_eq!(late.breakdown["copies"], 300);
}

#[tokio::test]
async fn a_brand_new_rule_has_no_spike_before_its_minimum_history() {
    let mut world = World::new().await;
    // 60 complaints in the first 30 minutes of the rule's life: all "above baseline", but
    // there is no baseline yet.
    for i in 0..60 {
        world.complaint_at(Duration::seconds(30 * i)).await;
    }
    assert!(world.incidents().await.is_empty(), "cold start: no verdict yet");
    // Quiet history until hour 4, then the same burst is a spike.
    for at in steady(Duration::hours(1), 2, 3) {
        world.complaint_at(at).await;
    }
    for i in 0..30 {
        world.complaint_at(Duration::hours(4) + Duration::seconds(20 * i)).await;
    }
    assert_eq!(world.incidents().await.len(), 1, "with history the burst spikes");
}

#[tokio::test]
async fn a_steady_high_baseline_opens_nothing() {
    let mut world = World::new().await;
    // A big brand on a normal day: 120 complaints an hour, give or take a fifth, for 5 hours.
    let mut times = Vec::new();
    for hour in 0..5 {
        let rate = [120, 100, 140, 110, 130][hour as usize];
        times.extend(steady(Duration::hours(hour), rate, 1));
    }
    for at in times {
        world.complaint_at(at).await;
    }
    assert!(world.incidents().await.is_empty(), "{:?}", world.incidents().await);
}

#[tokio::test]
async fn a_story_reposted_in_a_burst_spikes_its_rule_and_the_why_names_the_story() {
    let mut world = World::new().await;
    // Four quiet hours of distinct complaints, then one complaint copied 20 times in ten
    // minutes: each copy is mild and mostly old news, only the volume says "crisis".
    for at in steady(Duration::zero(), 2, 4) {
        world.complaint_at(at).await;
    }
    assert!(world.incidents().await.is_empty(), "a quiet baseline opens nothing");
    let post = "Acme sent me a broken kettle and ignored my refund request for three weeks, \
                share this so nobody else orders from them";
    let mut story = None;
    for copy in 0..20 {
        let at = Duration::hours(4) + Duration::seconds(30 * copy);
        let outcome = world.mention_at(at, "", &format!("{post} #{copy}")).await;
        let IngestOutcome::Stored { cluster_id, .. } = outcome else { panic!("stored") };
        assert_eq!(*story.get_or_insert(cluster_id), cluster_id, "copy {copy} joins the story");
    }
    let incidents = world.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let spike = &incidents[0].why["spike"];
    assert_eq!(spike["story"]["id"], story.expect("a story"), "the why names the story: {}", incidents[0].why);
    assert!(spike["story"]["copies_in_window"].as_u64().is_some_and(|n| n >= 5), "{spike}");
}

/// What no pack foresaw still surfaces: the bundled `negative-buzz` rule takes clearly
/// negative posts about the brand that no crisis pack matched. One weighs little (it opens
/// nothing, nor does its ordinary volume); a burst of them over that baseline opens an
/// incident through the spike alone.
#[tokio::test]
async fn an_unforeseen_crisis_surfaces_through_a_spike_of_negative_buzz() {
    let mut world = World::with_rules(RuleSet::bundled()).await;
    let first = world.grumble_at(Duration::zero()).await;
    let IngestOutcome::Stored { opened, .. } = first else { panic!("stored: {first:?}") };
    assert!(opened.is_empty(), "one unhappy post opens nothing");
    for at in steady(Duration::minutes(30), 2, 6) {
        world.grumble_at(at).await;
    }
    assert!(
        world.incidents().await.is_empty(),
        "the ordinary grumbling is the baseline: {:?}",
        world.incidents().await
    );
    for i in 0..30 {
        world.grumble_at(Duration::hours(7) + Duration::seconds(30 * i)).await;
    }
    let incidents = world.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0].rule, "negative-buzz");
    assert!(incidents[0].why.get("spike").is_some(), "opened by the spike: {}", incidents[0].why);
}
