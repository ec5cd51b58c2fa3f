//! The response workflow on a simulated clock, through the real pipeline into a real store
//! (SQLite always; PostgreSQL too, each story in a schema of its own, when
//! `TOCSIN_TEST_DATABASE_URL` names a database): escalation steps fire at their times, stop on acknowledge and come back when the
//! acknowledgement times out; a restart in the middle of a policy loses and doubles
//! nothing; the playbook is a checklist with reminders; silences hold back; drills are kept
//! apart; and the review is built from what happened. The clock jumps, nothing sleeps.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tocsin::analyze::RuleSet;
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::daemon::run_due_steps;
use tocsin::incident::review::Review;
use tocsin::incident::silence::{NewSilence, Scope};
use tocsin::incident::{Action, Incident, Level, Status};
use tocsin::ingest::Mention;
use tocsin::pipeline::Pipeline;
use tocsin::store::{self, AnyStore, Arrival, Entry, IncidentFilter, IngestOutcome, Store, StoreError};
use tokio::sync::Notify;

/// Two webhook channels nobody listens on (the tests read the outbox, not a receiver), and
/// a forum that weighs less than the news: the same story there opens at a lower level.
const POLICY: &str = r#"
[[feed]]
name = "forum"
url = "http://127.0.0.1:9/forum"
weight = 0.8

[[feed]]
name = "news"
url = "http://127.0.0.1:9/news"

[[channel]]
name = "pr-team"
kind = "webhook"
url = "http://127.0.0.1:9/pr"

[[channel]]
name = "oncall"
kind = "webhook"
url = "http://127.0.0.1:9/oncall"

[[escalation]]
name = "default"
levels = [
  { after = "0m", notify = ["pr-team"] },
  { after = "15m", notify = ["oncall"] },
]
repeat_every = "30m"
max_repeats = 2
ack_timeout = "1h"
"#;

const POISONING: &str = "My kid got food poisoning after eating Acme yogurt, we spent the night in the ER";

/// The databases a story runs on.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `story` on a fresh desk on `backend`.
async fn run<F, Fut>(backend: Backend, story: F)
where
    F: FnOnce(Desk) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("workflow.db").display());
            story(Desk::new(url, backend, Some(dir)).await).await;
        }
        Backend::Postgres => {
            let Some(scratch) = common::Scratch::new().await else { return };
            story(Desk::new(scratch.url.clone(), backend, None).await).await;
            scratch.drop_schema().await;
        }
    }
}

/// Each story as two tests, `STORY::sqlite` and `STORY::postgres`.
macro_rules! on_every_backend {
    ($($story:ident),* $(,)?) => {
        $(
            mod $story {
                #[tokio::test]
                async fn sqlite() {
                    super::run(super::Backend::Sqlite, super::$story).await;
                }

                #[tokio::test]
                async fn postgres() {
                    super::run(super::Backend::Postgres, super::$story).await;
                }
            }
        )*
    };
}

on_every_backend!(
    escalation_fires_on_time_stops_on_ack_and_comes_back_when_the_ack_times_out,
    a_restart_in_the_middle_of_a_policy_loses_no_step_and_doubles_none,
    every_transition_the_workflow_refuses_is_refused_and_leaves_no_trace,
    the_playbook_is_a_checklist_with_owners_notes_and_reminders_for_overdue_steps,
    a_status_update_goes_to_every_channel_told_so_far_with_its_words_and_onto_the_timeline,
    a_silence_holds_back_openings_and_rises_and_says_so_on_the_timeline,
    a_drill_runs_the_real_chain_in_a_group_of_its_own,
    the_story_going_on_soon_after_resolution_reopens_its_incident_and_later_opens_a_new_one,
    a_hostile_item_with_nul_characters_is_stored_and_does_not_stop_its_batch,
);

struct Desk {
    pipeline: Pipeline<AnyStore>,
    store: Arc<AnyStore>,
    url: String,
    backend: Backend,
    clock: Clock,
    start: DateTime<Utc>,
    serial: usize,
    _dir: Option<tempfile::TempDir>,
}

impl Desk {
    async fn new(url: String, backend: Backend, dir: Option<tempfile::TempDir>) -> Desk {
        let config = Config::parse("workflow.toml", &format!("[store]\nurl = \"{url}\"\n{POLICY}")).expect("config");
        let store = Arc::new(store::open(&url).await.expect("open"));
        store.migrate().await.expect("migrate");
        let clock = Clock::default();
        // Whole seconds: the store keeps microseconds, and the tests count in minutes.
        let start = DateTime::from_timestamp(clock.now().timestamp(), 0).expect("a valid time");
        let pipeline = Pipeline::new(
            store.clone(),
            Arc::new(RuleSet::bundled()),
            Arc::new(config),
            clock.clone(),
            Arc::new(Notify::new()),
        )
        .expect("the rules compile");
        Desk { pipeline, store, url, backend, clock, start, serial: 0, _dir: dir }
    }

    fn at(&self, minutes: i64) -> DateTime<Utc> {
        self.start + Duration::minutes(minutes)
    }

    /// Sets the clock to `minutes` after the start.
    fn go_to(&self, minutes: i64) -> DateTime<Utc> {
        let target = self.at(minutes);
        self.clock.set(target);
        target
    }

    async fn mention(&mut self, minutes: i64, feed: &str, body: &str) -> IngestOutcome {
        let now = self.go_to(minutes);
        self.serial += 1;
        let mention = Mention::text(feed, &format!("m{}", self.serial), "", body, now);
        // Stored at exactly `now`: the clock itself ticks on in real time between steps.
        let arrival = Arrival::new(self.pipeline.score(mention), now);
        self.pipeline.record(vec![arrival]).await.expect("record").remove(0)
    }

    /// Runs the escalation and reminder worker's pass at `minutes`.
    async fn tick(&self, minutes: i64) -> usize {
        run_due_steps(self.store.as_ref(), self.go_to(minutes)).await.expect("due steps")
    }

    /// Every notice in the outbox, as (channel, webhook type), oldest first.
    async fn outbox(&self) -> Vec<(String, String)> {
        let rows: Vec<(String, String)> = match self.backend {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&self.url).await.expect("pool");
                sqlx::query_as("SELECT channel, kind FROM outbox ORDER BY id").fetch_all(&pool).await.expect("outbox")
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&self.url).await.expect("pool");
                let rows = sqlx::query_as("SELECT channel, kind::TEXT FROM outbox ORDER BY id")
                    .fetch_all(&pool)
                    .await
                    .expect("outbox");
                pool.close().await;
                rows
            }
        };
        rows.into_iter().map(|(channel, kind)| (channel, kind.trim_matches('"').to_owned())).collect()
    }

    /// The outbox without playbook reminders: the pages the escalation policy sent.
    async fn pages(&self) -> Vec<(String, String)> {
        self.outbox().await.into_iter().filter(|(_, kind)| kind != "incident.step_overdue").collect()
    }

    async fn kinds(&self, id: i64) -> Vec<String> {
        self.store.timeline(id).await.expect("timeline").into_iter().map(|e| e.kind).collect()
    }

    async fn incidents(&self) -> Vec<Incident> {
        let filter = IncidentFilter { limit: 100, ..IncidentFilter::default() };
        self.store.incidents(&filter).await.expect("incidents")
    }
}

fn opened(outcome: &IngestOutcome) -> i64 {
    match outcome {
        IngestOutcome::Stored { opened, .. } if opened.len() == 1 => opened[0],
        other => panic!("expected one incident to open: {other:?}"),
    }
}

fn pair(channel: &str, kind: &str) -> (String, String) {
    (channel.to_owned(), kind.to_owned())
}

async fn escalation_fires_on_time_stops_on_ack_and_comes_back_when_the_ack_times_out(mut desk: Desk) {
    let id = opened(&desk.mention(0, "forum", POISONING).await);
    assert_eq!(desk.store.incident(id).await.expect("read").map(|i| i.level), Some(Level::High));
    assert_eq!(desk.pages().await, vec![pair("pr-team", "incident.opened")], "level 0 pages at once");
    // Pages after each pass of the worker (playbook reminders are counted apart, below).
    let mut seen = Vec::new();
    for (minute, expected) in [(14, 1), (15, 2), (15, 2), (44, 2), (45, 3), (75, 4), (200, 4)] {
        desk.tick(minute).await;
        seen.push((minute, desk.pages().await.len()));
        assert_eq!(seen.last(), Some(&(minute, expected)), "level 1 at 15m, two repeats 30m apart: {seen:?}");
    }
    assert_eq!(
        desk.pages().await,
        vec![
            pair("pr-team", "incident.opened"),
            pair("oncall", "incident.escalated"),
            pair("oncall", "incident.repeat"),
            pair("oncall", "incident.repeat"),
        ]
    );

    // Acknowledged at 3h20: paging stops, and with ack_timeout = 1h it starts again at 4h20
    // if nobody resolved it.
    desk.go_to(200);
    let acked = desk.store.transition(id, Action::Acknowledge, "alice", desk.at(200)).await.expect("ack");
    assert_eq!(acked.status, Status::Acknowledged);
    let told = vec![pair("pr-team", "incident.acknowledged"), pair("oncall", "incident.acknowledged")];
    assert_eq!(desk.pages().await[4..], told, "everyone paged hears of the acknowledgement");
    desk.tick(259).await;
    assert_eq!(desk.pages().await.len(), 6, "quiet while acknowledged");
    desk.tick(260).await;
    assert_eq!(desk.pages().await[6..], [pair("oncall", "incident.repeat")], "the ack timed out: paging resumes");
    let incident = desk.store.incident(id).await.expect("read").expect("incident");
    assert_eq!(incident.status, Status::Open);
    assert_eq!(incident.acknowledged_at, None);
    let kinds = desk.kinds(id).await;
    assert_eq!(kinds[kinds.len() - 2..], ["ack_expired", "escalated"], "{kinds:?}");

    // Acknowledged again, then the situation gets worse: everyone told so far hears of it
    // at once, acknowledged or not.
    desk.go_to(270);
    desk.store.transition(id, Action::Acknowledge, "alice", desk.at(270)).await.expect("ack");
    let before = desk.pages().await.len();
    for n in 0..3 {
        desk.mention(
            275 + n,
            "news",
            &format!("Acme yogurt food poisoning: {n} more children in hospital, county says"),
        )
        .await;
    }
    let incident = desk.store.incident(id).await.expect("read").expect("incident");
    assert_eq!(incident.status, Status::Acknowledged, "a rise does not undo the acknowledgement");
    assert_eq!(incident.level, Level::Critical, "the news weighs more than the forum");
    let raised: Vec<_> = desk.pages().await.split_off(before);
    assert_eq!(
        raised,
        vec![pair("pr-team", "incident.level_changed"), pair("oncall", "incident.level_changed")],
        "one rise, one page to each channel"
    );
    // Resolved: nothing more fires, whatever the clock says.
    desk.store.transition(id, Action::Resolve, "alice", desk.at(280)).await.expect("resolve");
    assert_eq!(desk.tick(100_000).await, 0);
    let reminders = desk.outbox().await.iter().filter(|(_, kind)| kind == "incident.step_overdue").count();
    assert!(reminders >= 1, "the playbook's overdue steps were reminded of along the way");
}

async fn a_restart_in_the_middle_of_a_policy_loses_no_step_and_doubles_none(mut desk: Desk) {
    let id = opened(&desk.mention(0, "forum", POISONING).await);
    // The daemon dies before 15m and comes back at 50m: a new store on the same database.
    let restarted = store::open(&desk.url).await.expect("reopen");
    let escalations = || async { desk.kinds(id).await.iter().filter(|k| *k == "escalated").count() };
    let now = desk.go_to(50);
    run_due_steps(&restarted, now).await.expect("due");
    assert_eq!(escalations().await, 1, "the missed level fires once, late");
    // Two workers racing on the same due work (passes of the old and the new process).
    let (a, b) = tokio::join!(run_due_steps(&restarted, now), run_due_steps(desk.store.as_ref(), now));
    assert_eq!(a.expect("a") + b.expect("b"), 0, "nothing is due twice");
    // The repeat schedule counts from the late step, not from the missed due time.
    run_due_steps(&restarted, desk.go_to(79)).await.expect("due");
    assert_eq!(escalations().await, 1);
    run_due_steps(&restarted, desk.go_to(80)).await.expect("due");
    assert_eq!(escalations().await, 2, "one escalation and one repeat, each once");
    let reminders = desk.kinds(id).await.iter().filter(|k| *k == "step_overdue").count();
    assert!(reminders >= 1, "the overdue playbook steps were reminded of too");
}

async fn every_transition_the_workflow_refuses_is_refused_and_leaves_no_trace(mut desk: Desk) {
    let id = opened(&desk.mention(0, "forum", POISONING).await);
    let try_action = |action: Action| {
        let store = desk.store.clone();
        let now = desk.at(1);
        async move { store.transition(id, action, "bob", now).await }
    };
    let refused = |result: Result<Incident, StoreError>, message: &str| match result {
        Err(StoreError::Transition(e)) => assert_eq!(e.to_string(), message),
        other => panic!("expected a refusal, got {other:?}"),
    };
    refused(try_action(Action::Reopen).await, "cannot reopen an incident that is open");
    assert_eq!(try_action(Action::Acknowledge).await.expect("ack").status, Status::Acknowledged);
    refused(try_action(Action::Acknowledge).await, "cannot acknowledge an incident that is acknowledged");
    refused(try_action(Action::Reopen).await, "cannot reopen an incident that is acknowledged");
    assert_eq!(try_action(Action::Resolve).await.expect("resolve").status, Status::Resolved);
    refused(try_action(Action::Resolve).await, "cannot resolve an incident that is resolved");
    refused(try_action(Action::Acknowledge).await, "cannot acknowledge an incident that is resolved");
    assert_eq!(try_action(Action::Reopen).await.expect("reopen").status, Status::Open);
    assert_eq!(try_action(Action::Resolve).await.expect("resolve from open").status, Status::Resolved);
    assert!(matches!(
        desk.store.transition(999, Action::Acknowledge, "bob", desk.at(1)).await,
        Err(StoreError::NoIncident(999))
    ));
    let kinds = desk.kinds(id).await;
    assert_eq!(kinds, ["opened", "acknowledged", "resolved", "reopened", "resolved"], "refusals write nothing");
}

async fn the_playbook_is_a_checklist_with_owners_notes_and_reminders_for_overdue_steps(mut desk: Desk) {
    let id = opened(&desk.mention(0, "forum", POISONING).await);
    let checklist = desk.store.checklist(id).await.expect("checklist");
    assert_eq!(checklist.crisis_type.as_deref(), Some("product_quality"));
    let ids: Vec<&str> = checklist.steps.iter().map(|s| s.step.id.as_str()).collect();
    assert!(ids.len() >= 7 && ids.contains(&"publish-statement"), "{ids:?}");
    let first = &checklist.steps[0];
    let first_due = first.due_at.expect("the first step has a due time");

    let record = |entry: Entry, minutes: i64| {
        let store = desk.store.clone();
        let now = desk.at(minutes);
        async move { store.record(id, &entry, "alice", now).await }
    };
    assert_eq!(record(Entry::Assign("alice".into()), 1).await.expect("assign").assignee.as_deref(), Some("alice"));
    record(Entry::Note("Called the plant manager; batch 42 on hold".into()), 2).await.expect("note");
    record(Entry::StepDone { step: ids[0].into(), note: Some("confirmed with QA".into()) }, 3).await.expect("step");
    let unknown = record(Entry::StepDone { step: "pray".into(), note: None }, 4).await;
    assert!(
        matches!(&unknown, Err(StoreError::Refused(m)) if m.starts_with("no step `pray` in the product_quality playbook; its steps are: ")),
        "{unknown:?}"
    );
    let twice = record(Entry::StepDone { step: ids[0].into(), note: None }, 5).await;
    assert!(matches!(&twice, Err(StoreError::Refused(m)) if m.contains("already done by alice")), "{twice:?}");
    assert!(matches!(record(Entry::Note("   ".into()), 5).await, Err(StoreError::Refused(_))));

    // Reminders: the done first step never reminds; the next due step does, once.
    let second_due = checklist.steps[1].due_at.expect("the second step has a due time");
    assert!(second_due > first_due);
    let minutes = |at: DateTime<Utc>| (at - desk.start).num_minutes();
    let fired = desk.tick(minutes(second_due) - 1).await;
    assert_eq!(fired, 1, "level 1 of the policy (15m) may be due, no reminder yet");
    let before = desk.outbox().await.len();
    desk.tick(minutes(second_due)).await;
    let reminders: Vec<_> = desk.outbox().await.split_off(before);
    assert!(
        reminders.iter().all(|(_, kind)| kind == "incident.step_overdue") && !reminders.is_empty(),
        "{reminders:?}"
    );
    let overdue = desk.store.timeline(id).await.expect("timeline");
    let overdue = overdue.iter().rev().find(|e| e.kind == "step_overdue").expect("a reminder on the timeline");
    assert_eq!(overdue.details["steps"][0]["id"], ids[1], "{}", overdue.details);
    let before = desk.outbox().await.len();
    desk.tick(minutes(second_due) + 1).await;
    assert_eq!(desk.outbox().await.len(), before, "each step is reminded of once");

    // The official statement's time feeds the review.
    record(Entry::StepDone { step: "publish-statement".into(), note: Some("on the website".into()) }, 150)
        .await
        .expect("statement");
    desk.store.transition(id, Action::Resolve, "alice", desk.at(300)).await.expect("resolve");
    let review = Review::build(desk.store.review_input(id).await.expect("review input"), desk.at(301));
    let json: serde_json::Value = serde_json::from_str(&review.to_json().expect("json")).expect("parse");
    assert_eq!(json["times"]["to_statement"]["seconds"], 150 * 60, "{}", json["times"]);
    assert_eq!(json["chain"]["status"], "verified");
    let markdown = review.to_markdown();
    for expected in ["alice", "confirmed with QA", "Called the plant manager"] {
        assert!(markdown.contains(expected), "the review shows {expected:?}:\n{markdown}");
    }
}

async fn a_status_update_goes_to_every_channel_told_so_far_with_its_words_and_onto_the_timeline(mut desk: Desk) {
    let id = opened(&desk.mention(0, "forum", POISONING).await);
    let update = |text: &str, minutes: i64| {
        let (store, now, entry) = (desk.store.clone(), desk.at(minutes), Entry::StatusUpdate(text.to_owned()));
        async move { store.record(id, &entry, "alice", now).await }
    };
    let updates = || async {
        desk.pages().await.into_iter().filter(|(_, kind)| kind == "incident.status_update").collect::<Vec<_>>()
    };
    update("  Batch 42 recalled; statement at 11:00.\n", 5).await.expect("first update");
    assert_eq!(updates().await, [pair("pr-team", "incident.status_update")], "only the PR team was told so far");
    desk.tick(15).await;
    update("Regulator informed; next update 13:00.", 20).await.expect("second update");
    assert_eq!(
        updates().await[1..],
        [pair("pr-team", "incident.status_update"), pair("oncall", "incident.status_update")],
        "after the escalation, both levels hear the update"
    );

    // Refused, and nothing written: empty, or longer than one chat message holds.
    let before = desk.kinds(id).await.len();
    let empty = update(" \n ", 21).await;
    assert!(matches!(&empty, Err(StoreError::Refused(m)) if m.contains("needs some text")), "{empty:?}");
    let long = update(&"x".repeat(2001), 21).await;
    assert!(matches!(&long, Err(StoreError::Refused(m)) if m.contains("at most 2000 characters")), "{long:?}");
    assert_eq!(desk.kinds(id).await.len(), before);
    assert_eq!(updates().await.len(), 3);

    // The notices carry the words as written (trimmed), and so does the timeline.
    let claimed = desk.store.claim_notices(desk.at(22), Duration::minutes(1), 100).await.expect("claim");
    let mut words: Vec<(String, Option<String>)> = claimed
        .into_iter()
        .filter(|item| item.kind == tocsin::incident::NoticeKind::StatusUpdate)
        .map(|item| (item.channel, item.message))
        .collect();
    words.sort();
    assert_eq!(
        words,
        [
            ("oncall".to_owned(), Some("Regulator informed; next update 13:00.".to_owned())),
            ("pr-team".to_owned(), Some("Batch 42 recalled; statement at 11:00.".to_owned())),
            ("pr-team".to_owned(), Some("Regulator informed; next update 13:00.".to_owned())),
        ]
    );
    let events = desk.store.timeline(id).await.expect("timeline");
    let posted: Vec<_> = events.iter().filter(|e| e.kind == "status_update").collect();
    assert_eq!(posted.len(), 2);
    assert_eq!(posted[1].actor, "alice");
    assert_eq!(posted[1].details["text"], "Regulator informed; next update 13:00.");
    assert_eq!(posted[1].details["channels"], serde_json::json!(["pr-team", "oncall"]));
}

async fn a_silence_holds_back_openings_and_rises_and_says_so_on_the_timeline(mut desk: Desk) {
    let silence = desk
        .store
        .add_silence(&NewSilence {
            scope: Scope::Feed,
            value: "forum".into(),
            reason: "known troll campaign on the forum".into(),
            created_by: "alice".into(),
            created_at: desk.at(0),
            ends_at: desk.at(120),
            brand: None,
        })
        .await
        .expect("silence");
    let held = desk.mention(1, "forum", POISONING).await;
    assert!(matches!(held, IngestOutcome::Stored { ref opened, .. } if opened.is_empty()), "{held:?}");
    assert!(desk.incidents().await.is_empty(), "stored and scored, nothing opened");

    // The same story from the news opens an incident; more from the forum attaches to it
    // without raising it, and the silence shows on its timeline once.
    let id = opened(&desk.mention(2, "news", "Acme yogurt food poisoning reported by parents").await);
    for n in 0..3 {
        desk.mention(3 + n, "forum", &format!("{POISONING}, third child now, {n}")).await;
    }
    let kinds = desk.kinds(id).await;
    assert_eq!(kinds.iter().filter(|k| *k == "silenced").count(), 1, "{kinds:?}");
    assert!(!kinds.contains(&"level_changed".to_owned()), "{kinds:?}");
    let listed = desk.store.silences(Some(desk.at(5))).await.expect("silences");
    assert_eq!(listed[0].id, silence.id);
    assert!(listed[0].held >= 1, "the held mentions are counted: {}", listed[0].held);

    // Ended early: the forum opens incidents again.
    desk.store.end_silence(silence.id, "bob", desk.at(10)).await.expect("end");
    assert!(desk.store.silences(Some(desk.at(11))).await.expect("silences").is_empty());
    assert!(matches!(desk.store.end_silence(silence.id, "bob", desk.at(12)).await, Err(StoreError::Refused(_))));
}

async fn a_drill_runs_the_real_chain_in_a_group_of_its_own(mut desk: Desk) {
    let rules = RuleSet::bundled();
    let now = desk.go_to(0);
    let drill = tocsin::drill::run(&desk.pipeline, &rules, Some("food-safety"), None, now).await.expect("drill");
    let incident = desk.store.incident(drill.incident_id).await.expect("read").expect("incident");
    assert!(incident.drill && incident.title.starts_with("[DRILL] "), "{incident:?}");
    assert_eq!(incident.group, "drill:rule:food-safety");
    assert_eq!(desk.outbox().await, vec![pair("pr-team", "incident.opened")], "the real policy pages");
    // A real crisis of the same rule is not swallowed by the drill.
    let real = opened(&desk.mention(1, "forum", POISONING).await);
    assert_ne!(real, drill.incident_id);
    // One drill of a rule at a time.
    let again = tocsin::drill::run(&desk.pipeline, &rules, Some("food-safety"), None, desk.go_to(2)).await;
    assert!(matches!(again, Err(tocsin::drill::DrillError::AlreadyOpen(_, id)) if id == drill.incident_id));
    let unknown = tocsin::drill::run(&desk.pipeline, &rules, Some("nope"), None, desk.go_to(3)).await;
    assert!(matches!(unknown, Err(tocsin::drill::DrillError::NoRule(_))));
}

async fn the_story_going_on_soon_after_resolution_reopens_its_incident_and_later_opens_a_new_one(mut desk: Desk) {
    let id = opened(&desk.mention(0, "forum", POISONING).await);
    desk.store.transition(id, Action::Resolve, "alice", desk.at(60)).await.expect("resolve");
    let before = desk.pages().await.len();
    // Within reopen_within (24h by default): the same incident, paged from the start again.
    let again = opened(&desk.mention(120, "news", "Another family reports food poisoning after Acme yogurt").await);
    assert_eq!(again, id, "the resolved incident reopens");
    let incident = desk.store.incident(id).await.expect("read").expect("incident");
    assert_eq!((incident.status, incident.resolved_at), (Status::Open, None));
    assert_eq!(desk.pages().await[before..], [pair("pr-team", "incident.reopened")]);
    let reopened = desk.store.timeline(id).await.expect("timeline");
    let reopened = reopened.iter().rev().find(|e| e.kind == "reopened").expect("reopened on the timeline");
    assert_eq!(reopened.actor, "system");
    // After a day: a new incident.
    desk.store.transition(id, Action::Resolve, "alice", desk.at(180)).await.expect("resolve");
    let later = opened(&desk.mention(180 + 25 * 60, "news", POISONING).await);
    assert_ne!(later, id);
    assert_eq!(desk.incidents().await.len(), 2);
}

/// A NUL character (which PostgreSQL refuses in text) in an item must not stop the item, nor
/// the rest of its feed's batch, from being stored on any backend.
async fn a_hostile_item_with_nul_characters_is_stored_and_does_not_stop_its_batch(mut desk: Desk) {
    let id = opened(&desk.mention(0, "forum", "My kid got food\0 poisoning after eating Acme yogurt\0").await);
    let incident = desk.store.incident(id).await.expect("read").expect("incident");
    assert!(!incident.title.contains('\0'));
    let stored = desk.mention(1, "forum", "Acme kettle review: fine").await;
    assert!(matches!(stored, IngestOutcome::Stored { .. }), "the next item is stored too: {stored:?}");
}
