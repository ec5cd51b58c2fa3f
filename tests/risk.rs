//! Early-warning stories on a simulated clock: mentions arrive at scripted times through the
//! real pipeline into a real SQLite store, and the tests look at which incidents open when.
//! No sleeping: the clock jumps to each mention's time.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::Rng;
use proptest::test_runner::{RngAlgorithm, TestRng};
use tocsin::analyze::RuleSet;
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::incident::Incident;
use tocsin::ingest::Mention;
use tocsin::pipeline::Pipeline;
use tocsin::store::{IncidentFilter, IngestOutcome, PostgresStore, SqliteStore, Store};
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

struct World<S: Store = SqliteStore> {
    pipeline: Pipeline<S>,
    store: Arc<S>,
    clock: Clock,
    start: DateTime<Utc>,
    serial: usize,
    _dir: tempfile::TempDir,
}

/// The spike settings most stories run on: a short minimum history, so a story of hours
/// has a baseline.
const HOURS_OF_HISTORY: &str = "spike_window = \"15m\"\nspike_min_history = \"2h\"\n";

impl World {
    async fn new() -> World {
        World::with_rules(RuleSet::from_sources(&[("rules.toml".into(), RULES.into())], &[]).expect("rules")).await
    }

    async fn with_rules(rules: RuleSet) -> World {
        World::configured(rules, HOURS_OF_HISTORY, None).await
    }

    /// A world on the default spike settings whose clock starts at midnight UTC on a Monday,
    /// so `start + hours` is that hour of the day: the daily cycle's stories.
    async fn at_midnight(risk: &str) -> World {
        let rules = RuleSet::from_sources(&[("rules.toml".into(), RULES.into())], &[]).expect("rules");
        let midnight = DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z").expect("time").to_utc();
        World::configured(rules, risk, Some(midnight)).await
    }

    async fn configured(rules: RuleSet, risk: &str, start: Option<DateTime<Utc>>) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("risk.db").display());
        let store = Arc::new(SqliteStore::connect(&url).await.expect("open"));
        World::on(store, &url, rules, risk, start, dir).await
    }
}

impl World<PostgresStore> {
    /// The default rules and spike settings of [`World::new`] on PostgreSQL.
    async fn on_postgres(url: &str) -> World<PostgresStore> {
        let rules = RuleSet::from_sources(&[("rules.toml".into(), RULES.into())], &[]).expect("rules");
        let store = Arc::new(PostgresStore::connect(url).await.expect("connect"));
        World::on(store, url, rules, HOURS_OF_HISTORY, None, tempfile::tempdir().expect("tempdir")).await
    }
}

impl<S: Store> World<S> {
    async fn on(
        store: Arc<S>,
        url: &str,
        rules: RuleSet,
        risk: &str,
        start: Option<DateTime<Utc>>,
        dir: tempfile::TempDir,
    ) -> World<S> {
        let config_text = format!("[store]\nurl = \"{url}\"\n\n[risk]\n{risk}");
        let config = Config::parse("risk.toml", &config_text).expect("config");
        store.migrate().await.expect("migrate");
        let clock = Clock::default();
        if let Some(start) = start {
            clock.set(start);
        }
        let start = clock.now();
        let pipeline =
            Pipeline::new(store.clone(), Arc::new(rules), Arc::new(config), clock.clone(), Arc::new(Notify::new()))
                .expect("the rules compile");
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

/// The posts that came before the one that opens an incident, each too light alone, are
/// part of its story: they are attached when it opens, and the time to detect counts from
/// the first of them. The group's ordinary mentions hours before are not.
#[tokio::test]
async fn an_incident_opens_with_the_earlier_light_mentions_of_its_storm_on_sqlite() {
    an_incident_opens_with_the_earlier_light_mentions_of_its_storm(World::new().await).await;
}

#[tokio::test]
async fn an_incident_opens_with_the_earlier_light_mentions_of_its_storm_on_postgres() {
    let Some(scratch) = common::Scratch::new().await else { return };
    an_incident_opens_with_the_earlier_light_mentions_of_its_storm(World::on_postgres(&scratch.url).await).await;
    scratch.drop_schema().await;
}

async fn an_incident_opens_with_the_earlier_light_mentions_of_its_storm<S: Store>(mut world: World<S>) {
    for hour in [0, 4, 8, 12, 16, 20] {
        world.complaint_at(Duration::hours(hour)).await;
    }
    // Three complaints in the hour before, one a quarter hour, then five in four minutes.
    let burst = Duration::hours(25);
    for minutes in [-50, -38, -26, -4, -3, -2, -1, 0] {
        world.complaint_at(burst + Duration::minutes(minutes)).await;
    }
    let incidents = world.incidents().await;
    assert_eq!(incidents.len(), 1, "the burst spikes: {incidents:?}");
    assert!(incidents[0].why.get("spike").is_some(), "{}", incidents[0].why);
    assert_eq!(incidents[0].mentions, 8, "the burst and the hour before it, not the day: {:?}", incidents[0]);
    // The clock advances in whole milliseconds: a fetch may land a hair before publication.
    let first = incidents[0].first_mention_at.expect("a storm start");
    let precursor = world.start + burst - Duration::minutes(50);
    assert!((first - precursor).num_milliseconds().abs() < 1000, "time to detect counts from {first}, not {precursor}");
    let timeline = world.store.timeline(incidents[0].id).await.expect("timeline");
    let attached: u64 = timeline
        .iter()
        .filter(|event| event.kind == "mentions_attached")
        .filter_map(|event| event.details["count"].as_u64())
        .sum();
    assert_eq!(attached, 7, "the storm's earlier mentions are logged as attached");
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

/// A brand's ordinary day, in complaints an hour by UTC hour: a quiet night, a morning rise
/// from 07:00, a busy day from 09:00 to 18:00, a calmer evening. Its average (36 an hour,
/// 9 a quarter hour) is less than half the busy hours' 80: held against the day's average,
/// every morning would look like a surge.
fn ordinary_rate(hour: i64) -> i64 {
    match hour {
        7 | 8 => 30,
        9..=17 => 80,
        18..=21 => 20,
        _ => 1,
    }
}

/// `days` ordinary days from `start` (whole days from the world's midnight), each scaled by
/// its entry of `scale`, up to `until` (an offset in the last day).
fn ordinary_days(start: i64, scale: &[f64], until: Duration) -> Vec<Duration> {
    let mut times = Vec::new();
    for (day, factor) in scale.iter().enumerate() {
        for hour in 0..24 {
            let from = Duration::days(start + day as i64) + Duration::hours(hour);
            let per_hour = ((ordinary_rate(hour) as f64 * factor).round() as i64).max(1);
            times.extend(steady(from, per_hour, 1).into_iter().filter(|at| *at < until));
        }
    }
    times
}

#[tokio::test]
async fn three_ordinary_days_teach_the_cycle_so_the_fourth_morning_opens_nothing_and_a_real_surge_does() {
    let mut world = World::at_midnight("").await;
    for at in ordinary_days(0, &[1.0, 0.9, 1.15, 1.05], Duration::days(4)) {
        world.complaint_at(at).await;
    }
    assert!(world.incidents().await.is_empty(), "four ordinary days, mornings included: {:?}", world.incidents().await);
    // Day five starts as usual; at 10:00 the complaints triple.
    let onset = Duration::days(4) + Duration::hours(10);
    for at in ordinary_days(4, &[1.0], onset) {
        world.complaint_at(at).await;
    }
    assert!(world.incidents().await.is_empty(), "an ordinary fifth morning");
    let mut opened_at = None;
    for at in steady(onset, 240, 2) {
        world.complaint_at(at).await;
        if opened_at.is_none() && !world.incidents().await.is_empty() {
            opened_at = Some(at);
        }
    }
    let opened_at = opened_at.expect("the surge opens an incident");
    assert!(
        opened_at - onset <= Duration::minutes(20),
        "opened {}m after the onset",
        (opened_at - onset).num_minutes()
    );
    let incidents = world.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let spike = &incidents[0].why["spike"];
    assert!(spike["expected_per_window"].as_f64().is_some_and(|e| e > 15.0), "held against the morning: {spike}");
    // The surge's complaints before the one that opened it are attached too, and the
    // storm starts at the onset: not the ordinary morning, nor a day back.
    assert!(incidents[0].mentions >= 480, "all 480 of the surge: {}", incidents[0].mentions);
    assert!(incidents[0].mentions <= 490, "and not the ordinary morning: {}", incidents[0].mentions);
    let first = incidents[0].first_mention_at.expect("a storm start");
    assert!(
        first >= world.start + onset - Duration::minutes(15) && first <= world.start + onset,
        "the storm starts at the onset: {first}"
    );
}

#[tokio::test]
async fn a_new_brand_whose_first_day_starts_quiet_then_busy_opens_nothing() {
    let mut world = World::at_midnight("").await;
    for at in ordinary_days(0, &[1.0], Duration::days(1)) {
        world.complaint_at(at).await;
    }
    assert!(world.incidents().await.is_empty(), "{:?}", world.incidents().await);
    // Judged after two hours of history, as the spike settings once were, the first morning
    // was a surge: the day-long history is what holds it.
    let mut hasty = World::at_midnight("spike_min_history = \"2h\"\n").await;
    for at in ordinary_days(0, &[1.0], Duration::hours(9)) {
        hasty.complaint_at(at).await;
    }
    assert_eq!(hasty.incidents().await.len(), 1, "two hours of night are no baseline for a morning");
}

/// Poisson arrivals at `rate(t)` an hour, drawn from a fixed seed by thinning: candidates at
/// the peak rate, each kept with probability rate(t) / peak.
fn poisson_stream(rng: &mut TestRng, until: Duration, peak: f64, rate: impl Fn(Duration) -> f64) -> Vec<Duration> {
    let uniform = |rng: &mut TestRng| ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let mut times = Vec::new();
    let mut at_hours = 0.0;
    loop {
        at_hours += -uniform(rng).ln() / peak;
        let at = Duration::milliseconds((at_hours * 3_600_000.0) as i64);
        if at >= until {
            return times;
        }
        if uniform(rng) < rate(at) / peak {
            times.push(at);
        }
    }
}

/// An airline's complaints as a real stream runs: random arrivals, sparse at night, some
/// days busier than others; the monitoring starts at 04:00 and the surge comes on day five.
#[tokio::test]
async fn an_airline_stream_opens_nothing_before_its_surge_and_opens_on_it() {
    let mut world = World::at_midnight("").await;
    let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let day_scale = [0.85, 1.1, 0.95, 1.2, 1.0, 0.9];
    let onset = Duration::days(4) + Duration::hours(16);
    let rate = |at: Duration| {
        let hour = (at.num_hours() % 24) as usize;
        let day = (at.num_hours() / 24) as usize;
        let ordinary = [
            1.0, 0.5, 0.5, 0.5, 1.0, 3.0, 8.0, 14.0, 18.0, 20.0, 20.0, 19.0, 18.0, 18.0, 19.0, 20.0, 20.0, 18.0, 15.0,
            12.0, 9.0, 6.0, 4.0, 2.0,
        ][hour]
            * day_scale[day.min(day_scale.len() - 1)];
        let surging = at >= onset && at < onset + Duration::hours(8);
        if surging { ordinary * 5.0 } else { ordinary }
    };
    let stream = poisson_stream(&mut rng, Duration::days(6), 130.0, rate);
    let mut opened_at = None;
    for at in stream.into_iter().filter(|at| *at >= Duration::hours(4)) {
        world.complaint_at(at).await;
        if opened_at.is_none() && !world.incidents().await.is_empty() {
            opened_at = Some(at);
        }
    }
    let opened_at = opened_at.expect("the surge opens an incident");
    assert!(
        opened_at >= onset,
        "opened {:.1} h into the history, before the surge",
        opened_at.num_minutes() as f64 / 60.0
    );
    assert!(opened_at - onset <= Duration::hours(3), "opened {}m after the onset", (opened_at - onset).num_minutes());
    assert_eq!(world.incidents().await.len(), 1);
}
