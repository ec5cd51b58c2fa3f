//! What every backend shares: the pure parts of storing (fingerprints and story choice,
//! group volume, the batched attach log, the workflow read from the timeline, the checks
//! on workflow entries, reminders, checklists) and the constants that shape them. A
//! backend only says how its rows are read and written.

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Checklist, ChecklistStep, Entry, IngestOutcome, StoreError, Story};
use crate::incident::escalation::{EscalationState, Fired, Policy};
use crate::incident::grouping::Candidate;
use crate::incident::playbook::Playbook;
use crate::incident::review::{Delivery, StepDone};
use crate::incident::spike::{self, HOURS, Mass, SpikeSettings, Volume};
use crate::incident::timeline::{EventKind, NewEvent};
use crate::incident::{Action, Status};
use crate::ingest::{Mention, dedup};
use crate::notify::NoticeKind;

/// How much of a mention's body an incident's top mentions show.
pub(super) const EXCERPT_CHARS: usize = 280;

/// How far back a copy's story is looked for, and how many stories sharing a band with it
/// are compared at most (the most recently active first).
pub(super) const STORY_LOOKBACK: chrono::Duration = chrono::Duration::hours(48);
pub(super) const STORY_CANDIDATES: i64 = 64;
/// Most stories one band key offers as candidates, the newest first. A true copy shares
/// many bands with its story, so it is found through one of its rarer ones; without the
/// bound, a band common to many stories (a template of reviews, a syndicated boilerplate
/// line) makes every lookup read all of them.
pub(super) const STORIES_PER_BAND: i64 = 16;

/// How far back the first mention of a storm is looked for: time-to-detect counts from
/// the first matching mention of the day before the incident opened.
pub(super) const STORM_LOOKBACK: chrono::Duration = chrono::Duration::hours(24);

/// How many of a storm's earlier mentions an incident takes when it opens: the latest; a
/// storm of a hundred thousand posts is told by its sample, not copied whole.
pub(super) const STORM_ATTACHED: i64 = 1000;

/// How many attached mentions an event describes in full; the rest are listed by id.
const ATTACHED_DESCRIBED: usize = 20;

/// Longest note the timeline takes, in characters.
const NOTE_CHARS: usize = 10_000;
/// A status update goes out as one chat message with the incident's facts around it: 2,000
/// characters leave room for those within the smallest text block a channel takes (a Slack
/// section holds 3,000).
const STATUS_UPDATE_CHARS: usize = 2_000;

/// A time as the timeline's details and the SQLite columns write it: fixed-width RFC 3339
/// UTC with microseconds, so text order is time order.
pub(super) fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(super) fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("bad stored JSON: {e}")))
}

pub(super) fn from_value<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|e| StoreError::Corrupt(format!("bad stored JSON: {e}")))
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serializing our own plain data types cannot fail; an empty object keeps the row valid if it ever did.
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

pub(super) fn to_value<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_else(|_| serde_json::json!({}))
}

/// A feed's pruned undated items (`known`) split into those its current list still serves,
/// which stay old, and those it no longer serves, which can be forgotten.
pub(super) fn still_served(known: Vec<String>, served: &[String]) -> (Vec<String>, Vec<String>) {
    let served: std::collections::HashSet<&str> = served.iter().map(String::as_str).collect();
    known.into_iter().partition(|guid| served.contains(guid.as_str()))
}

pub(super) fn new_notice_id() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::random();
    format!("ntf_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A mention's MinHash signature and its band keys.
#[derive(Debug, Clone)]
pub(super) struct Fingerprint {
    pub signature: dedup::Signature,
    pub bands: Vec<i64>,
}

impl Fingerprint {
    pub fn of(mention: &Mention) -> Fingerprint {
        let signature = dedup::signature(&mention.title, &mention.body);
        let bands = dedup::bands(&signature);
        Fingerprint { signature, bands }
    }

    /// The story among `stories` (id, stored signature, size; those sharing a band with
    /// this fingerprint) that it repeats: the most similar one.
    pub fn closest(&self, stories: impl IntoIterator<Item = (i64, Vec<u8>, i64)>) -> Story {
        let mut best: Option<(f64, i64, i64)> = None;
        for (id, stored, size) in stories {
            let Some(other) = dedup::from_bytes(&stored) else { continue };
            let similarity = dedup::similarity(&self.signature, &other);
            if dedup::is_same_story(&self.signature, &other) && best.is_none_or(|(s, ..)| similarity > s) {
                best = Some((similarity, id, size));
            }
        }
        match best {
            Some((_, id, size)) => Story { cluster: Some(id), copies: u64::try_from(size).unwrap_or(0) },
            None => Story { cluster: None, copies: 0 },
        }
    }
}

/// When a storm began, from its group's matches per spike window back from `at` (window
/// index, count, first match in it): the first match of the run of busy windows ending at
/// `at` (see [`spike::storm_windows`]), `at` itself when none came before.
pub(super) fn storm_start_of(
    buckets: &[(i64, i64, DateTime<Utc>)],
    at: DateTime<Utc>,
    volume: &Volume,
    spike: &SpikeSettings,
) -> DateTime<Utc> {
    let deepest = buckets.iter().map(|(back, ..)| *back).max().unwrap_or(0).max(0);
    let mut counts = vec![0u64; usize::try_from(deepest).unwrap_or(0) + 1];
    for (back, count, _) in buckets {
        if let (Ok(back), Ok(count)) = (usize::try_from(*back), u64::try_from(*count))
            && let Some(slot) = counts.get_mut(back)
        {
            *slot = count;
        }
    }
    let reach = spike::storm_windows(&counts, spike::expected_of(&spike::judge(volume, spike)));
    buckets
        .iter()
        .filter(|(back, ..)| usize::try_from(*back).is_ok_and(|back| back < reach))
        .map(|(.., first)| *first)
        .min()
        .map_or(at, |first| first.min(at))
}

/// A group's mass as its row stores it: the total, its instant and its hours of day (a JSON
/// array of 24 numbers; NULL in a row written before they were kept).
pub(super) fn stored_mass(
    value: Option<f64>,
    at: Option<DateTime<Utc>>,
    hours: Option<&str>,
) -> Result<Option<Mass>, StoreError> {
    let (Some(value), Some(at)) = (value, at) else {
        return Ok(None);
    };
    let Some(hours) = hours else {
        return Ok(Some(Mass::without_hours(value, at)));
    };
    let hours: [f64; HOURS] =
        serde_json::from_str(hours).map_err(|e| StoreError::Corrupt(format!("group mass hours {hours:?}: {e}")))?;
    Ok(Some(Mass { value, hours, at }))
}

/// A mass's hours of day as its row stores them (see [`stored_mass`]).
pub(super) fn mass_hours_text(mass: &Mass) -> String {
    serde_json::Value::from(mass.hours.to_vec()).to_string()
}

/// A group's row as stored (`groups`), and the counts of its matches in the spike window.
pub(super) struct StoredGroup {
    pub first_at: Option<DateTime<Utc>>,
    pub mass: Option<Mass>,
    pub last_spike_at: Option<DateTime<Utc>>,
    pub in_window: i64,
    pub story_in_window: i64,
}

/// A group's stored volume state (the `groups` row) with the mention at hand counted.
pub(super) struct GroupVolume {
    pub volume: Volume,
    pub first_at: DateTime<Utc>,
    pub mass: Mass,
}

impl GroupVolume {
    /// The group's volume around `at` (see [`Volume`]), the mention at `at` of `story` counted.
    pub fn of(stored: StoredGroup, at: DateTime<Utc>, story: i64, spike: &SpikeSettings) -> GroupVolume {
        let mass = stored.mass.unwrap_or(Mass::empty(at)).add(at, spike.baseline);
        let volume = Volume {
            at,
            in_window: u64::try_from(stored.in_window).unwrap_or(0),
            mass: mass.decayed(at, spike.baseline),
            story: Some((story, u64::try_from(stored.story_in_window).unwrap_or(0))),
            first_at: stored.first_at,
            last_spike_at: stored.last_spike_at,
        };
        GroupVolume { volume, first_at: stored.first_at.map_or(at, |first| first.min(at)), mass }
    }
}

/// The mentions a batch attached to incidents, logged as one `mentions_attached` event per
/// incident: a storm of 10,000 mentions makes a readable timeline, not 10,000 events.
#[derive(Default)]
pub(super) struct AttachLog {
    /// Per incident, in order of first attachment: the time of the latest attachment and
    /// the mentions.
    pending: Vec<(i64, DateTime<Utc>, Vec<serde_json::Value>)>,
}

impl AttachLog {
    pub fn add(&mut self, incident_id: i64, mention_id: i64, mention: &Mention, now: DateTime<Utc>) {
        let described = serde_json::json!({
            "id": mention_id, "feed": mention.feed, "title": mention.title, "url": mention.url,
        });
        match self.pending.iter_mut().find(|(id, ..)| *id == incident_id) {
            Some((_, at, mentions)) => {
                *at = now;
                mentions.push(described);
            }
            None => self.pending.push((incident_id, now, vec![described])),
        }
    }

    /// The pending event of one incident, taken out of the log: the backend writes it
    /// before another event of that incident, so the timeline keeps the order things
    /// happened in.
    pub fn take(&mut self, incident_id: i64) -> Option<NewEvent> {
        let index = self.pending.iter().position(|(id, ..)| *id == incident_id)?;
        let (_, at, mentions) = self.pending.remove(index);
        Some(attached_event(at, mentions))
    }

    /// Every pending event, by incident, in order of first attachment.
    pub fn drain(self) -> Vec<(i64, NewEvent)> {
        self.pending.into_iter().map(|(id, at, mentions)| (id, attached_event(at, mentions))).collect()
    }
}

fn attached_event(at: DateTime<Utc>, mentions: Vec<serde_json::Value>) -> NewEvent {
    let ids: Vec<serde_json::Value> = mentions.iter().map(|m| m["id"].clone()).collect();
    let details = serde_json::json!({
        "count": mentions.len(),
        "mention_ids": ids,
        "mentions": mentions.into_iter().take(ATTACHED_DESCRIBED).collect::<Vec<_>>(),
    });
    NewEvent::system(at, EventKind::MentionsAttached, details)
}

/// The details of an `opened` event: what opened the incident, at what level and why, and
/// who escalated the mention when a person did.
pub(super) fn opened_details(
    candidate: &Candidate,
    first_mention_at: DateTime<Utc>,
    mention_id: i64,
    mention: &Mention,
    escalated_by: Option<&str>,
) -> serde_json::Value {
    let mut details = serde_json::json!({
        "rule": candidate.rule,
        "brand": candidate.brand,
        "level": candidate.level,
        "score": candidate.score,
        "why": candidate.why,
        "policy": candidate.policy.name,
        "crisis_type": candidate.crisis_type,
        "playbook": candidate.playbook.as_ref().map(|p| p.title.clone()),
        "drill": candidate.drill,
        "first_mention_at": ts(first_mention_at),
        "mention": mention_details(mention_id, mention),
    });
    if let Some(who) = escalated_by {
        details["escalated_by"] = who.into();
    }
    details
}

/// How an escalation (a person opening an incident for a mention) starts: the policy's
/// first level fires at once when it is due now, as for an incident a rule opens.
pub(super) fn escalation_start(policy: &Policy, now: DateTime<Utc>) -> (EscalationState, Option<Fired>) {
    let escalation = policy.start(now);
    let fired = policy.fire(now, escalation, now);
    (fired.as_ref().map_or(escalation, |f| f.next), fired)
}

/// The `mentions_attached` event of a mention a person escalated into a live incident.
pub(super) fn escalated_attach_event(mention_id: i64, mention: &Mention, actor: &str, at: DateTime<Utc>) -> NewEvent {
    let mut described = mention_details(mention_id, mention);
    described["id"] = mention_id.into();
    let details = serde_json::json!({
        "count": 1, "mention_ids": [mention_id], "mentions": [described], "escalated_by": actor,
    });
    NewEvent { at, actor: actor.to_owned(), kind: EventKind::MentionsAttached, details }
}

pub(super) fn mention_details(mention_id: i64, mention: &Mention) -> serde_json::Value {
    serde_json::json!({
        "mention_ids": [mention_id],
        "feed": mention.feed,
        "title": mention.title,
        "url": mention.url,
    })
}

/// An incident's workflow state: its playbook copy and the steps done so far.
pub(super) struct Workflow {
    pub status: Status,
    pub opened_at: DateTime<Utc>,
    pub assignee: Option<String>,
    pub crisis_type: Option<String>,
    pub playbook: Option<Playbook>,
    pub policy: Policy,
    pub escalation: EscalationState,
    /// Step completions from the timeline, oldest first; only the first of a step counts.
    pub done: Vec<StepDone>,
    /// Steps a reminder already went out for.
    pub reminded: Vec<String>,
}

/// The steps done and reminded of, from an incident's `step_done` and `step_overdue`
/// events (kind, actor, time, details), oldest first.
pub(super) fn steps_from_events(
    events: impl IntoIterator<Item = (String, String, DateTime<Utc>, serde_json::Value)>,
) -> (Vec<StepDone>, Vec<String>) {
    let (mut done, mut reminded): (Vec<StepDone>, Vec<String>) = (Vec::new(), Vec::new());
    for (kind, actor, at, details) in events {
        if kind == "step_done" {
            let step = details["step"].as_str().unwrap_or_default().to_owned();
            if !done.iter().any(|d| d.step == step) {
                let note = details["note"].as_str().map(str::to_owned);
                done.push(StepDone { step, actor, at, note });
            }
        } else if let Some(steps) = details["steps"].as_array() {
            reminded.extend(steps.iter().filter_map(|s| s["id"].as_str().map(str::to_owned)));
        }
    }
    (done, reminded)
}

/// What recording a workflow entry writes: the event, and the columns it changes.
pub(super) struct EntryChange {
    pub kind: EventKind,
    pub details: serde_json::Value,
    /// The new assignee, for an assignment.
    pub assignee: Option<String>,
    /// The new time of the next reminder, when a step is done.
    pub next_reminder: Option<Option<DateTime<Utc>>>,
    /// For a status update: its text, and the channels it is sent to.
    pub send: Option<(String, Vec<String>)>,
}

impl Workflow {
    /// Steps no reminder is needed for any more: done, or reminded of.
    pub fn settled(&self) -> Vec<String> {
        self.done.iter().map(|d| d.step.clone()).chain(self.reminded.iter().cloned()).collect()
    }

    /// Checks a workflow entry against this state and says what it changes.
    pub fn entry(&self, incident_id: i64, entry: &Entry) -> Result<EntryChange, StoreError> {
        match entry {
            Entry::Assign(who) => {
                let who = who.trim();
                if who.is_empty() {
                    return Err(StoreError::Refused("say who to assign the incident to".into()));
                }
                Ok(EntryChange {
                    kind: EventKind::Assigned,
                    details: serde_json::json!({ "assignee": who, "previous": self.assignee }),
                    assignee: Some(who.to_owned()),
                    next_reminder: None,
                    send: None,
                })
            }
            Entry::Note(text) => {
                let text = text.trim();
                if text.is_empty() {
                    return Err(StoreError::Refused("a note needs some text".into()));
                }
                if text.chars().count() > NOTE_CHARS {
                    return Err(StoreError::Refused(format!("a note holds at most {NOTE_CHARS} characters")));
                }
                Ok(EntryChange {
                    kind: EventKind::Note,
                    details: serde_json::json!({ "text": text }),
                    assignee: None,
                    next_reminder: None,
                    send: None,
                })
            }
            Entry::StepDone { step, note } => {
                let Some(playbook) = &self.playbook else {
                    return Err(StoreError::Refused(format!(
                        "incident {incident_id} has no playbook (no playbook for its crisis type {})",
                        self.crisis_type.as_deref().unwrap_or("(none)")
                    )));
                };
                let Some(found) = playbook.step(step) else {
                    let ids: Vec<&str> = playbook.steps.iter().map(|s| s.id.as_str()).collect();
                    return Err(StoreError::Refused(format!(
                        "no step `{step}` in the {} playbook; its steps are: {}",
                        playbook.crisis_type,
                        ids.join(", ")
                    )));
                };
                if let Some(done) = self.done.iter().find(|d| d.step == found.id) {
                    return Err(StoreError::Refused(format!(
                        "step `{}` was already done by {} at {}",
                        found.id,
                        done.actor,
                        done.at.format("%Y-%m-%d %H:%M UTC")
                    )));
                }
                let note = note.as_deref().map(str::trim).filter(|n| !n.is_empty());
                let mut settled = self.settled();
                settled.push(found.id.clone());
                let details = serde_json::json!({
                    "step": found.id, "title": found.title, "statement": found.statement, "note": note,
                });
                Ok(EntryChange {
                    kind: EventKind::StepDone,
                    details,
                    assignee: None,
                    next_reminder: Some(playbook.next_reminder(self.opened_at, &settled)),
                    send: None,
                })
            }
            Entry::StatusUpdate(text) => {
                let text = text.trim();
                if text.is_empty() {
                    return Err(StoreError::Refused("a status update needs some text".into()));
                }
                if text.chars().count() > STATUS_UPDATE_CHARS {
                    return Err(StoreError::Refused(format!(
                        "a status update holds at most {STATUS_UPDATE_CHARS} characters (it goes out as one chat message)"
                    )));
                }
                let channels = self.update_channels();
                Ok(EntryChange {
                    kind: EventKind::StatusUpdate,
                    details: serde_json::json!({ "text": text, "channels": channels }),
                    assignee: None,
                    next_reminder: None,
                    send: Some((text.to_owned(), channels)),
                })
            }
        }
    }

    /// Who a status update goes to: everyone the escalation told so far, or the policy's
    /// first level when nobody was told yet (the team that runs the response).
    fn update_channels(&self) -> Vec<String> {
        let told = self.policy.notified_channels(self.escalation);
        if told.is_empty() { self.policy.levels.first().map(|l| l.notify.clone()).unwrap_or_default() } else { told }
    }

    /// The reminder due at `now`, if the incident has a playbook and is not resolved: the
    /// steps overdue now and not yet settled, the next reminder's time after them, and
    /// the channels told (the policy's first level, who run the playbook).
    pub fn reminder(&self, now: DateTime<Utc>) -> Option<Reminder> {
        let playbook = self.playbook.as_ref().filter(|_| self.status != Status::Resolved)?;
        let mut settled = self.settled();
        let overdue: Vec<serde_json::Value> = playbook
            .overdue(self.opened_at, &settled, now)
            .iter()
            .map(|step| {
                let due_at = step.due.map(|due| ts(self.opened_at + due));
                serde_json::json!({ "id": step.id, "title": step.title, "due_at": due_at })
            })
            .collect();
        settled.extend(overdue.iter().filter_map(|s| s["id"].as_str().map(str::to_owned)));
        // The playbook is the first level's to run (the PR team); the later levels are
        // escalation tiers, paged about the incident, not about its checklist.
        let channels = self.policy.levels.first().map(|l| l.notify.clone()).unwrap_or_default();
        Some(Reminder { next_at: playbook.next_reminder(self.opened_at, &settled), overdue, channels })
    }

    /// The playbook copy as a checklist.
    pub fn checklist(self) -> Checklist {
        let Some(playbook) = self.playbook else {
            return Checklist {
                crisis_type: self.crisis_type,
                title: None,
                title_zh: None,
                strategy: None,
                strategy_zh: None,
                steps: Vec::new(),
            };
        };
        let steps = playbook
            .steps
            .iter()
            .map(|step| ChecklistStep {
                step: step.clone(),
                due_at: step.due.map(|due| self.opened_at + due),
                done: self.done.iter().find(|d| d.step == step.id).cloned(),
            })
            .collect();
        Checklist {
            crisis_type: self.crisis_type,
            title: Some(playbook.title),
            title_zh: playbook.title_zh,
            strategy: playbook.strategy,
            strategy_zh: playbook.strategy_zh,
            steps,
        }
    }
}

/// An overdue-steps reminder (see [`Workflow::reminder`]).
pub(super) struct Reminder {
    pub next_at: Option<DateTime<Utc>>,
    /// The steps overdue, as the event lists them; empty when none is.
    pub overdue: Vec<serde_json::Value>,
    pub channels: Vec<String>,
}

impl Reminder {
    pub fn details(&self) -> serde_json::Value {
        serde_json::json!({ "steps": self.overdue, "channels": self.channels })
    }
}

/// The notice and the timeline event of a transition.
pub(super) fn transition_kinds(action: Action) -> (NoticeKind, EventKind) {
    match action {
        Action::Acknowledge => (NoticeKind::Acknowledged, EventKind::Acknowledged),
        Action::Resolve => (NoticeKind::Resolved, EventKind::Resolved),
        Action::Reopen => (NoticeKind::Reopened, EventKind::Reopened),
    }
}

/// An outbox row's state as the review reports it.
pub(super) fn delivery(state: &str) -> Delivery {
    match state {
        "delivered" => Delivery::Delivered,
        "failed" => Delivery::Failed,
        _ => Delivery::Retrying,
    }
}

/// The distinct terms of a rule match's stored terms, in order.
pub(super) fn unique_terms(terms: &[serde_json::Value]) -> Vec<String> {
    terms.iter().filter_map(|t| t.get("term").and_then(|t| t.as_str()).map(str::to_owned)).fold(
        Vec::new(),
        |mut unique, term| {
            if !unique.contains(&term) {
                unique.push(term);
            }
            unique
        },
    )
}

/// What the store tests of both backends script: a scored mention, a candidate of a fixed
/// score, and a judge that never sees spikes.
/// The (mention id, brand, time) rows to store for a batch: each stored mention with each
/// brand it is about; `about` holds each arrival's brands and time, in arrival order, as
/// `outcomes` does.
pub fn mention_brand_rows<'a>(
    outcomes: &'a [IngestOutcome],
    about: &'a [(Vec<String>, DateTime<Utc>)],
) -> impl Iterator<Item = (i64, &'a str, DateTime<Utc>)> + 'a {
    outcomes.iter().zip(about).flat_map(|(outcome, (brands, at))| {
        let id = match outcome {
            IngestOutcome::Stored { mention_id, .. } => Some(*mention_id),
            IngestOutcome::Duplicate => None,
        };
        brands.iter().filter_map(move |brand| Some((id?, brand.as_str(), *at)))
    })
}

#[cfg(test)]
pub(crate) mod fixtures {
    use chrono::{DateTime, Utc};

    use crate::analyze::Scored;
    use crate::incident::Level;
    use crate::incident::escalation::{Policy, PolicyLevel};
    use crate::incident::grouping::{self, Candidate, GroupState, Judged};
    use crate::incident::spike::{SpikeSettings, Verdict, Volume};
    use crate::ingest::Mention;
    use crate::store::{Arrival, Decide, IngestOutcome, Store, Story};

    pub fn scored(guid: &str, severity: u8) -> Scored {
        let mention = Mention {
            feed: "news".into(),
            guid: guid.into(),
            title: format!("item {guid}"),
            body: "Acme yogurt food poisoning".into(),
            author: None,
            url: None,
            published: None,
            fetched_at: DateTime::from_timestamp(1_700_000_000, 0).expect("valid"),
            lang: None,
            engagement: None,
        };
        Scored {
            mention,
            lang: "en".into(),
            brands: Vec::new(),
            sentiment: crate::analyze::sentiment::score("Acme yogurt food poisoning", "en"),
            matches: vec![crate::analyze::RuleMatch {
                rule: "food-safety".into(),
                severity,
                terms: Vec::new(),
                brand: None,
            }],
            harm: crate::analyze::harm::Harm::default(),
            crisis: 0.0,
            risk: severity,
            breakdown: serde_json::json!({ "severity": severity }),
            inputs: crate::analyze::risk::RiskInputs {
                severity,
                sentiment: 0.0,
                harm: 0.0,
                crisis: 0.0,
                source_weight: 1.0,
                engagement: None,
                copies: 0,
            },
        }
    }

    /// `n` event details drawn from a fixed seed: objects and arrays nested three deep of
    /// floats of every magnitude, integers at the ends of their ranges, any Unicode text
    /// (control characters, quotes, U+2028, a BOM), booleans and nulls: the values a JSON
    /// round trip is most likely to change.
    pub fn awkward_details(n: usize) -> Vec<serde_json::Value> {
        use proptest::prelude::*;
        use proptest::strategy::ValueTree;
        use serde_json::Value;
        let leaf = prop_oneof![
            any::<f64>().prop_filter("JSON holds finite numbers only", |f| f.is_finite()).prop_map(Value::from),
            (-1e-300f64..1e-300).prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
            "[\\x00-\\x1f\"\\\\\u{2028}\u{feff}\u{10ffff}艾克米]{0,8}".prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
        ];
        let value = leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..6)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        });
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        (0..n)
            .map(|_| serde_json::json!({ "value": value.new_tree(&mut runner).expect("a value").current() }))
            .collect()
    }

    pub fn candidate(score: u8) -> Candidate {
        Candidate {
            group_key: "rule:food-safety".into(),
            rule: "food-safety".into(),
            brand: None,
            title: "Food safety".into(),
            score,
            volume_only: false,
            level: Level::High,
            why: serde_json::json!({}),
            policy: Policy {
                name: "default".into(),
                levels: vec![PolicyLevel { after_secs: 0, notify: vec!["pr".into()] }],
                repeat_every_secs: None,
                max_repeats: 0,
                group_wait_secs: 0,
                ack_timeout_secs: None,
                fallback: None,
            },
            mention_at: DateTime::from_timestamp(1_700_000_000, 0).expect("valid"),
            crisis_type: None,
            playbook: None,
            silenced_by: None,
            drill: false,
        }
    }

    /// One candidate of a fixed score for every mention, and no spike verdicts.
    pub struct FixedScore(pub u8);

    impl Decide for FixedScore {
        fn candidates(&self, scored: Scored, _: &Story, _: DateTime<Utc>) -> (Scored, Vec<Candidate>) {
            (scored, vec![candidate(self.0)])
        }
        fn judge(&self, c: &Candidate, live: Option<&GroupState>, _: &Volume, now: DateTime<Utc>) -> Judged {
            grouping::judge(c, live, &Verdict::ColdStart, 60, now)
        }
        fn spike(&self) -> SpikeSettings {
            crate::config::RiskConfig::default().spike()
        }
        fn reopen_within(&self) -> chrono::Duration {
            chrono::Duration::hours(24)
        }
    }

    /// Stores `scored` alone with one candidate of `score` and the clock at `now`.
    pub async fn ingest<S: Store>(store: &S, scored: &Scored, score: u8, now: DateTime<Utc>) -> IngestOutcome {
        let batch = vec![Arrival::new(scored.clone(), now)];
        store.ingest(batch, &FixedScore(score)).await.expect("ingest").remove(0)
    }
}
