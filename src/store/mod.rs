//! The store: one trait every backend implements, so the pipeline never knows which
//! database it runs on. The backend is picked from the URL scheme ([`open`]).

mod common;
pub mod postgres;
pub mod sqlite;

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::analyze::Scored;
use crate::incident::escalation::{EscalationState, Fired, Policy};
use crate::incident::grouping::{Candidate, GroupState, Judged};
use crate::incident::playbook::Step;
use crate::incident::review::{ReviewInput, StepDone};
use crate::incident::silence::{NewSilence, Silence};
use crate::incident::spike::{SpikeSettings, Volume};
use crate::incident::timeline::Event;
use crate::incident::{Action, Incident, Level, MentionSummary, Pulse, Status, TransitionError};
use crate::ingest::fetch::Validators;
use crate::notify::NoticeKind;
use crate::notify::breaker::ChannelHealth;
use common::Fingerprint;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("no incident {0}")]
    NoIncident(i64),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported database url {0:?}: use sqlite://FILE or postgres://USER@HOST/DATABASE")]
    UnsupportedUrl(String),
    /// A request the workflow refuses (an unknown step, one already done, an empty note).
    #[error("{0}")]
    Refused(String),
    #[error("no silence {0}")]
    NoSilence(i64),
}

/// A dashboard login as the store keeps it. The id in the browser's cookie is stored only
/// as its SHA-256; the token that logged in, as its SHA-256 too, so the session ends when
/// that token is no longer configured.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSession {
    pub token_digest: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// Poll state and health of one feed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FeedState {
    pub name: String,
    pub url: String,
    #[serde(skip)]
    pub validators: Validators,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub consecutive_failures: i64,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub items_seen: i64,
    /// What the parser recovered from at the last full fetch (`feed parse` lists the same):
    /// the items were read, but the feed's owner has something to fix.
    pub problems: Vec<String>,
}

/// The result of one poll, to record on the feed.
#[derive(Debug, Clone, PartialEq)]
pub enum PollRecord {
    /// `problems` is `None` when nothing was fetched (Not Modified): the last ones stand.
    Success {
        validators: Validators,
        new_items: i64,
        next_poll_at: DateTime<Utc>,
        problems: Option<Vec<String>>,
    },
    Failure {
        error: String,
        next_poll_at: DateTime<Utc>,
    },
}

/// What storing one scored mention did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Seen before (same feed and guid): nothing was written.
    Duplicate,
    Stored {
        mention_id: i64,
        /// The first mention of the same story (near-duplicate cluster); its own id when it
        /// starts one or matched no rule.
        cluster_id: i64,
        /// Incidents this mention opened, or reopened (resolved within `reopen_within`).
        opened: Vec<i64>,
        attached: Vec<i64>,
    },
}

/// A notification waiting in the outbox, claimed by one worker for a lease.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub id: i64,
    pub notice_id: String,
    pub incident_id: i64,
    pub channel: String,
    pub kind: NoticeKind,
    pub created_at: DateTime<Utc>,
    pub attempts: i64,
    /// The channel this notice was meant for when it was sent to a fallback instead.
    pub rerouted_from: Option<String>,
    /// The written text of a status update.
    pub message: Option<String>,
}

/// What to record after one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub result: AttemptResult,
    /// Human-readable outcome for the timeline ("delivered: 200", "retry: 503 ...").
    pub detail: String,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttemptResult {
    Delivered,
    RetryAt(DateTime<Utc>),
    Failed,
}

/// What escalating a mention did: the incident it is on now, and whether it opened it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Escalated {
    pub incident: Incident,
    /// True when the escalation opened the incident, false when the mention joined a live one.
    pub opened: bool,
}

/// How far the store has got: the newest timeline event's id and the newest mention's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    pub last_event: i64,
    pub last_mention: i64,
}

/// A timeline event, as the live stream needs it: where it is and what it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMark {
    pub id: i64,
    pub incident_id: i64,
    pub kind: String,
}

/// A workflow entry on an incident's timeline that does not change its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Who owns the response now.
    Assign(String),
    Note(String),
    /// A playbook step is done, with an optional note (what was published, where).
    StepDone {
        step: String,
        note: Option<String>,
    },
    /// A written update for the people following the incident: on the timeline, and sent
    /// to every channel told of it so far.
    StatusUpdate(String),
}

/// One step of an incident's playbook and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChecklistStep {
    #[serde(flatten)]
    pub step: Step,
    pub due_at: Option<DateTime<Utc>>,
    pub done: Option<StepDone>,
}

/// An incident's playbook copy as a checklist.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Checklist {
    pub crisis_type: Option<String>,
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_zh: Option<String>,
    pub strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy_zh: Option<String>,
    pub steps: Vec<ChecklistStep>,
}

/// Which incidents to list, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentFilter {
    pub status: Option<Status>,
    pub rule: Option<String>,
    pub level: Option<Level>,
    /// Opened at or after, and before.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only incidents with an id below this (the paging cursor).
    pub before_id: Option<i64>,
    pub limit: i64,
    /// Only incidents of these brands (`""` for an incident of no brand); `None`: all.
    pub brands: Option<Vec<String>>,
}

/// Which stored mentions to find, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MentionFilter {
    /// Text the title or body contains (case-insensitive for Latin letters).
    pub text: Option<String>,
    /// Matched by this rule.
    pub rule: Option<String>,
    pub feed: Option<String>,
    /// Fetched at or after, and before.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only mentions with an id below this (the paging cursor).
    pub before_id: Option<i64>,
    pub limit: i64,
    /// Only mentions about one of these brands; `None`: all.
    pub brands: Option<Vec<String>>,
}

/// A stored mention as the API lists it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredMention {
    pub id: i64,
    pub feed: String,
    pub guid: String,
    pub title: String,
    pub body: String,
    pub author: Option<String>,
    pub url: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub fetched_at: DateTime<Utc>,
    /// The language it was read in.
    pub lang: Option<String>,
    pub sentiment: Option<f64>,
    pub risk: u8,
    /// The risk breakdown ("why").
    pub breakdown: serde_json::Value,
    /// The rules it matched.
    pub rules: Vec<String>,
    /// The configured brands it is about.
    pub brands: Vec<String>,
    /// Its near-duplicate story, when it matched a rule.
    pub story: Option<i64>,
    /// A person's verdict on it, when someone triaged it.
    pub triage: Option<Verdict>,
}

/// A person's verdict on a mention a rule matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// What the rule should have caught.
    Relevant,
    /// A false positive: the rule should not have matched it.
    NotRelevant,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Relevant => "relevant",
            Verdict::NotRelevant => "not_relevant",
        }
    }

    pub fn parse(text: &str) -> Option<Verdict> {
        match text {
            "relevant" => Some(Verdict::Relevant),
            "not_relevant" => Some(Verdict::NotRelevant),
            _ => None,
        }
    }
}

/// One rule's match of a triaged mention, as it stood when the verdict was given.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TriagedMatch {
    pub rule: String,
    /// `""` where the install configures no brands.
    pub brand: String,
    /// The rule's terms found in the mention.
    pub terms: Vec<String>,
}

/// A verdict with a copy of what it was about, kept after the mention is pruned so a rule's
/// quality is judged on every verdict given.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Triage {
    pub mention_id: i64,
    pub verdict: Verdict,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub title: String,
    pub body: String,
    pub matches: Vec<TriagedMatch>,
}

/// One stored match of a rule: its mention, brand and the terms found.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMatchTerms {
    pub mention_id: i64,
    pub brand: String,
    pub terms: Vec<String>,
}

/// One mention as the overview counts it: when, from where, in which language, how it
/// reads, its story and the rules it matched.
#[derive(Debug, Clone, PartialEq)]
pub struct OverviewRow {
    /// The mention's time: its publication, unless that is missing or after its fetch.
    pub at: DateTime<Utc>,
    pub feed: String,
    pub lang: Option<String>,
    pub sentiment: Option<f64>,
    /// Its near-duplicate story (its own id when it is in none).
    pub story: i64,
    /// The first [`OVERVIEW_TITLE_CHARS`] characters of its title, for the story's headline.
    pub title: String,
    /// The rules it matched, by id.
    pub rules: Vec<String>,
}

/// How much of a title the overview reads: a headline, not the whole text.
pub const OVERVIEW_TITLE_CHARS: i64 = 200;

/// One brand's mentions over a period, for share of voice.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BrandVoice {
    pub brand: String,
    pub mentions: i64,
    /// Mean sentiment of its mentions, in [-1, 1]; `None` without mentions.
    pub sentiment: Option<f64>,
    /// Its mentions that read negative (sentiment below -0.05).
    pub negative: i64,
    /// Its mentions that matched a rule for it: its crises, opened or not.
    pub matched: i64,
    /// Its largest stories, most mentions first.
    pub top_stories: Vec<VoiceStory>,
}

/// A brand's counts as a store reads them: mentions, mean sentiment, negative, matched.
pub(crate) type VoiceCounts = (i64, Option<f64>, i64, i64);
/// A story as a store reads it: id, title, mentions, most severe rule.
pub(crate) type VoiceRow = (i64, String, i64, Option<String>);

impl BrandVoice {
    /// A brand's row from what the store read for it.
    pub(crate) fn of(brand: &str, counts: VoiceCounts, stories: Vec<VoiceRow>) -> BrandVoice {
        let (mentions, sentiment, negative, matched) = counts;
        BrandVoice {
            brand: brand.to_owned(),
            mentions,
            sentiment,
            negative,
            matched,
            top_stories: stories
                .into_iter()
                .map(|(story, title, mentions, rule)| VoiceStory { story, title, mentions, rule })
                .collect(),
        }
    }
}

/// A story (near-duplicate cluster) among one brand's mentions.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VoiceStory {
    /// The story's id (its first mention's).
    pub story: i64,
    /// Its first mention's title.
    pub title: String,
    /// Its mentions about the brand in the period.
    pub mentions: i64,
    /// The most severe rule one of them matched for the brand, if any.
    pub rule: Option<String>,
}

/// The settings key that marks unbranded data as filed under a brand.
pub(crate) const ADOPTED_KEY: &str = "unbranded_adopted_by";

/// The near-duplicate story a mention belongs to: the same text syndicated or reposted with
/// small edits. Only mentions that matched a rule are filed under stories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Story {
    /// The story's id (its first mention's) when the mention repeats a story of the last 48
    /// hours; `None` for a new story.
    pub cluster: Option<i64>,
    /// Mentions already in that story: 0 for the first report.
    pub copies: u64,
}

/// One batch of retention pruning: what [`Store::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Mentions removed, with their rule matches.
    pub mentions: u64,
    /// Near-duplicate stories removed, with their band keys.
    pub stories: u64,
    /// The fetch time of the last mention removed: the next batch starts there, so the
    /// mentions an incident holds (kept, however old) are not looked at again.
    pub resume_at: Option<DateTime<Utc>>,
}

impl Pruned {
    pub fn is_empty(&self) -> bool {
        self.mentions == 0 && self.stories == 0
    }
}

/// The shortest retention the pipeline works with: it reads rule matches and stories this
/// far back (a story's copies for 48 hours, a storm's first mention for 24 hours, a group's
/// volume for `spike_window`), so pruning never reaches newer than this.
pub fn shortest_retention(spike_window: chrono::Duration) -> chrono::Duration {
    common::STORY_LOOKBACK.max(common::STORM_LOOKBACK).max(spike_window)
}

/// A scored mention and the instant the pipeline received it.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub scored: Scored,
    pub now: DateTime<Utc>,
    /// The story fingerprint of a mention that matched a rule (only those are filed into
    /// stories), worked out where the mention was scored, off the store's transaction.
    fingerprint: Option<Fingerprint>,
}

impl Arrival {
    pub fn new(scored: Scored, now: DateTime<Utc>) -> Arrival {
        let fingerprint = (!scored.matches.is_empty()).then(|| Fingerprint::of(&scored.mention));
        Arrival { scored, now, fingerprint }
    }

    /// The mention's story fingerprint: the one worked out when it arrived, or now when
    /// its matches were changed after that.
    pub(in crate::store) fn fingerprint(&self) -> std::borrow::Cow<'_, Fingerprint> {
        match &self.fingerprint {
            Some(fingerprint) => std::borrow::Cow::Borrowed(fingerprint),
            None => std::borrow::Cow::Owned(Fingerprint::of(&self.scored.mention)),
        }
    }
}

/// The pipeline's judgement, which the store asks for inside its transaction at the moment
/// each mention's story and groups are known, so a batch of mentions sees its own earlier
/// members (copies, volume, a just-opened incident) exactly as one-by-one ingestion would.
pub trait Decide: Send + Sync {
    /// The mention rescored for its story's novelty, and one candidate per group it joins.
    fn candidates(&self, scored: Scored, story: &Story, now: DateTime<Utc>) -> (Scored, Vec<Candidate>);
    /// What a candidate does, given its group's live incident and volume.
    fn judge(&self, candidate: &Candidate, live: Option<&GroupState>, volume: &Volume, now: DateTime<Utc>) -> Judged;
    fn spike(&self) -> SpikeSettings;
    /// How long after its resolution a group's incident reopens instead of a new one opening.
    fn reopen_within(&self) -> chrono::Duration;
}

/// Everything the pipeline persists. Each method that changes state is one transaction, and
/// writes the timeline events and outbox rows its change causes in that same transaction.
pub trait Store: Send + Sync + 'static {
    fn migrate(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A random secret created on first use and kept in the database (e.g. the key that
    /// signs acknowledge links), so it survives restarts without configuration.
    fn secret(&self, name: &str) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;

    /// Stores a new dashboard session (see [`StoredSession`]), forgetting those last seen
    /// before `forget_before`.
    fn create_session(
        &self,
        id_digest: &[u8],
        token_digest: &[u8],
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session whose id hashes to `id_digest`, if it was not ended.
    fn session(&self, id_digest: &[u8]) -> impl Future<Output = Result<Option<StoredSession>, StoreError>> + Send;

    /// Marks a session seen now, which moves its idle expiry.
    fn touch_session(
        &self,
        id_digest: &[u8],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ends a session (logout).
    fn end_session(&self, id_digest: &[u8]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Of the undated items a feed serves now (`served`: the guids of its whole current
    /// list that carry no publication date), those whose mentions retention pruned: they
    /// are old, however new their fetch looks. The feed's pruned items it no longer serves
    /// are forgotten.
    fn pruned_undated(
        &self,
        feed: &str,
        served: &[String],
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Makes sure every configured feed has a row; keeps the state of known ones.
    fn sync_feeds(&self, feeds: &[(String, String)]) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn feed_state(&self, name: &str) -> impl Future<Output = Result<Option<FeedState>, StoreError>> + Send;
    fn feed_states(&self) -> impl Future<Output = Result<Vec<FeedState>, StoreError>> + Send;
    /// Records a poll and gives up the feed's lease.
    fn record_poll(
        &self,
        name: &str,
        record: &PollRecord,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Takes the lease on a feed for `holder` (one daemon) until `until`, when the feed is
    /// due and nobody else holds it, and returns the feed's state as it is then (another
    /// daemon may have polled it). `None` when it is not due or another daemon's lease runs:
    /// several daemons on one database never poll a feed at once, and a dead daemon's feeds
    /// are taken over when its leases end.
    fn lease_feed(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<FeedState>, StoreError>> + Send;

    /// Stores a batch of scored mentions in one transaction, in order. Each is skipped when
    /// its (feed, guid) was seen; otherwise it is filed under its story, `decide` turns it
    /// into candidates and judges each against its group's live incident and volume (this
    /// mention counted), and the incidents, timeline events and outbox rows that follow are
    /// written. Mentions attached to an incident are logged as one timeline event per
    /// incident and batch. One outcome per arrival, in order.
    fn ingest<D: Decide>(
        &self,
        batch: Vec<Arrival>,
        decide: &D,
    ) -> impl Future<Output = Result<Vec<IngestOutcome>, StoreError>> + Send;

    /// The story a mention would join if stored now (see [`Story`]); read only.
    fn story(&self, scored: &Scored) -> impl Future<Output = Result<Story, StoreError>> + Send;

    /// Ids of open incidents whose next escalation step is due.
    fn due_escalations(&self, now: DateTime<Utc>) -> impl Future<Output = Result<Vec<i64>, StoreError>> + Send;

    /// Fires the due step of one incident if it is still due (a stale or duplicate call
    /// does nothing); returns whether a step fired.
    fn escalate<F>(
        &self,
        incident_id: i64,
        fire: F,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send
    where
        F: Fn(&Policy, DateTime<Utc>, EscalationState) -> Option<Fired> + Send + Sync;

    /// Acknowledges, resolves or reopens an incident on behalf of `actor`.
    fn transition(
        &self,
        incident_id: i64,
        action: Action,
        actor: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Incident, StoreError>> + Send;

    /// Records a workflow entry (assignment, note, playbook step done) on behalf of `actor`.
    fn record(
        &self,
        incident_id: i64,
        entry: &Entry,
        actor: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Incident, StoreError>> + Send;

    /// The incident's playbook copy with each step's due time and completion.
    fn checklist(&self, incident_id: i64) -> impl Future<Output = Result<Checklist, StoreError>> + Send;

    /// Ids of incidents with an overdue playbook step not yet reminded of.
    fn due_reminders(&self, now: DateTime<Utc>) -> impl Future<Output = Result<Vec<i64>, StoreError>> + Send;

    /// Sends one reminder for the incident's steps overdue at `now` (each step is reminded
    /// of once) to the policy's first level, who run the playbook; returns whether one went out.
    fn remind(&self, incident_id: i64, now: DateTime<Utc>) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Everything the post-incident review is built from.
    fn review_input(&self, incident_id: i64) -> impl Future<Output = Result<ReviewInput, StoreError>> + Send;

    fn add_silence(&self, silence: &NewSilence) -> impl Future<Output = Result<Silence, StoreError>> + Send;
    /// One silence, over or not.
    fn silence(&self, id: i64) -> impl Future<Output = Result<Option<Silence>, StoreError>> + Send;
    /// Silences newest first: all of them, or only those not over at `active_at`.
    fn silences(
        &self,
        active_at: Option<DateTime<Utc>>,
    ) -> impl Future<Output = Result<Vec<Silence>, StoreError>> + Send;
    /// Ends a silence early.
    fn end_silence(
        &self,
        id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Silence, StoreError>> + Send;

    /// Claims due notifications for `lease`; a worker that dies leaves them to be claimed
    /// again when the lease ends.
    fn claim_notices(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<OutboxItem>, StoreError>> + Send;
    /// Records delivery attempts on their outbox rows and on the incidents' timelines, in
    /// one transaction.
    fn finish_notices(
        &self,
        attempts: &[(OutboxItem, Attempt)],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Hands claimed notices back, unattempted, due at `now` (a suspect channel is probed
    /// with one notice before the rest are sent).
    fn release_notices(&self, ids: &[i64], now: DateTime<Utc>) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Gives up on a notice for a channel that is out (`detail` says why) and, given a
    /// fallback, queues the same notice for it; both go on the incident's timeline.
    fn reroute(
        &self,
        item: &OutboxItem,
        fallback: Option<&str>,
        detail: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The escalation policy copied onto an incident.
    fn policy(&self, incident_id: i64) -> impl Future<Output = Result<Policy, StoreError>> + Send;
    /// A channel's health; healthy when nothing was recorded.
    fn channel_health(&self, name: &str) -> impl Future<Output = Result<ChannelHealth, StoreError>> + Send;
    /// Every channel with recorded health.
    fn channel_healths(&self) -> impl Future<Output = Result<Vec<ChannelHealth>, StoreError>> + Send;
    fn save_channel_health(&self, health: &ChannelHealth) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Disables a channel (its notices go to fallbacks) or re-enables it, resetting its breaker.
    fn set_channel_enabled(
        &self,
        name: &str,
        enabled: bool,
        reason: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<ChannelHealth, StoreError>> + Send;
    /// Notifications not yet delivered nor given up.
    fn pending_notices(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    fn incident(&self, id: i64) -> impl Future<Output = Result<Option<Incident>, StoreError>> + Send;
    fn incidents(&self, filter: &IncidentFilter) -> impl Future<Output = Result<Vec<Incident>, StoreError>> + Send;
    fn timeline(&self, incident_id: i64) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
    /// The incident's mentions at a glance, those attached at or after `recent_since`
    /// counted apart.
    fn pulse(
        &self,
        incident_id: i64,
        recent_since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Pulse, StoreError>> + Send;
    /// The riskiest mentions attached to an incident, as fetched.
    fn top_mentions(
        &self,
        incident_id: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<MentionSummary>, StoreError>> + Send;
    fn mentions(&self, filter: &MentionFilter) -> impl Future<Output = Result<Vec<StoredMention>, StoreError>> + Send;
    fn mention_count(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// How far the store has got: its newest timeline event and newest mention, by id (0
    /// when there is none). Both only grow; the live event stream watches them.
    fn activity(&self) -> impl Future<Output = Result<Activity, StoreError>> + Send;
    /// A person escalates stored mention `mention_id` (read now as `scored`): it joins the
    /// live incident of `candidate`'s group, or opens one whatever its score, under `actor`
    /// on the timeline, with the policy's first notices queued. Escalating a mention the
    /// incident already holds changes nothing.
    fn escalate_mention(
        &self,
        mention_id: i64,
        scored: &Scored,
        candidate: &Candidate,
        actor: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Escalated, StoreError>> + Send;
    /// Timeline events with an id above `after`, oldest first, at most `limit`: which
    /// incident each is on and its kind.
    fn events_after(&self, after: i64, limit: i64) -> impl Future<Output = Result<Vec<EventMark>, StoreError>> + Send;

    /// Records `actor`'s verdict on a mention (a later verdict replaces an earlier one),
    /// copying its text and rule matches; `None` when there is no such mention.
    fn triage(
        &self,
        mention_id: i64,
        verdict: Verdict,
        actor: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<Triage>, StoreError>> + Send;
    /// Verdicts given at or after `since`, newest first.
    fn triaged(&self, since: DateTime<Utc>) -> impl Future<Output = Result<Vec<Triage>, StoreError>> + Send;
    /// The newest `limit` matches of `rule` at or after `since` (by the mention's time).
    fn rule_match_terms(
        &self,
        rule: &str,
        since: DateTime<Utc>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RuleMatchTerms>, StoreError>> + Send;

    /// Each of `brands`' mentions from `from` to `to` (by the mention's time): volume,
    /// sentiment, rule matches and its `top` largest stories, in the order `brands` gives.
    fn share_of_voice(
        &self,
        brands: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        top: i64,
    ) -> impl Future<Output = Result<Vec<BrandVoice>, StoreError>> + Send;

    /// The newest `limit` mentions from `from` to `to` (by the mention's time), about one of
    /// `brands` when given, as the overview counts them; newest first.
    fn overview_rows(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        brands: Option<&[String]>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<OverviewRow>, StoreError>> + Send;

    /// Files what was stored before the config named brands under `brand`: rule matches,
    /// incidents (their group keys too), group volumes, and every mention as about it.
    /// Runs once per store; `true` when it ran now.
    fn adopt_unbranded(&self, brand: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes, in one short transaction, up to `limit` mentions fetched before `before`
    /// (and at or after `from`, where the previous batch stopped) that no incident holds,
    /// with their rule matches, and up to `limit` stories last seen before `before`, with
    /// their band keys. Safe to run from several daemons at once; call again from
    /// `resume_at` while a batch comes back full.
    ///
    /// Age is the fetch time, when tocsin stored the mention: a published date may be
    /// missing or forged. A mention attached to an incident is kept whole, however old:
    /// the incident's snapshot keeps its text for the review, but alerts and the dashboard
    /// show its matched terms from its rule matches, and the attachment's foreign key
    /// needs the row. Groups (each one's baseline volume) are rows of their own and stay.
    fn prune(
        &self,
        before: DateTime<Utc>,
        from: Option<DateTime<Utc>>,
        limit: i64,
    ) -> impl Future<Output = Result<Pruned, StoreError>> + Send;

    /// Reads one row of one table: proof the database answers, cheap enough for every
    /// health check.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Opens the store a URL names: `sqlite:` for a SQLite file, `postgres://` or
/// `postgresql://` for a PostgreSQL database.
pub async fn open(url: &str) -> Result<AnyStore, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(AnyStore::Sqlite(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(AnyStore::Postgres(PostgresStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(redact(url)))
    }
}

/// The store a URL picked (see [`open`]): every method goes to the backend inside.
#[derive(Debug, Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl From<SqliteStore> for AnyStore {
    fn from(store: SqliteStore) -> AnyStore {
        AnyStore::Sqlite(store)
    }
}

impl From<PostgresStore> for AnyStore {
    fn from(store: PostgresStore) -> AnyStore {
        AnyStore::Postgres(store)
    }
}

/// Implements [`Store`] methods on [`AnyStore`] by handing each call to its backend.
macro_rules! delegate {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $out:ty;)*) => {
        $(
            async fn $name(&self $(, $arg: $ty)*) -> Result<$out, StoreError> {
                match self {
                    AnyStore::Sqlite(store) => store.$name($($arg),*).await,
                    AnyStore::Postgres(store) => store.$name($($arg),*).await,
                }
            }
        )*
    };
}

impl Store for AnyStore {
    delegate! {
        fn migrate(&self) -> ();
        fn secret(&self, name: &str) -> Vec<u8>;
        fn create_session(&self, id_digest: &[u8], token_digest: &[u8], now: DateTime<Utc>, forget_before: DateTime<Utc>) -> ();
        fn session(&self, id_digest: &[u8]) -> Option<StoredSession>;
        fn touch_session(&self, id_digest: &[u8], now: DateTime<Utc>) -> ();
        fn end_session(&self, id_digest: &[u8]) -> ();
        fn pruned_undated(&self, feed: &str, served: &[String]) -> Vec<String>;
        fn sync_feeds(&self, feeds: &[(String, String)]) -> ();
        fn feed_state(&self, name: &str) -> Option<FeedState>;
        fn feed_states(&self) -> Vec<FeedState>;
        fn record_poll(&self, name: &str, record: &PollRecord, now: DateTime<Utc>) -> ();
        fn lease_feed(&self, name: &str, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Option<FeedState>;
        fn story(&self, scored: &Scored) -> Story;
        fn due_escalations(&self, now: DateTime<Utc>) -> Vec<i64>;
        fn transition(&self, incident_id: i64, action: Action, actor: &str, now: DateTime<Utc>) -> Incident;
        fn record(&self, incident_id: i64, entry: &Entry, actor: &str, now: DateTime<Utc>) -> Incident;
        fn checklist(&self, incident_id: i64) -> Checklist;
        fn due_reminders(&self, now: DateTime<Utc>) -> Vec<i64>;
        fn remind(&self, incident_id: i64, now: DateTime<Utc>) -> bool;
        fn review_input(&self, incident_id: i64) -> ReviewInput;
        fn add_silence(&self, silence: &NewSilence) -> Silence;
        fn silence(&self, id: i64) -> Option<Silence>;
        fn silences(&self, active_at: Option<DateTime<Utc>>) -> Vec<Silence>;
        fn end_silence(&self, id: i64, actor: &str, now: DateTime<Utc>) -> Silence;
        fn claim_notices(&self, now: DateTime<Utc>, lease: chrono::Duration, limit: i64) -> Vec<OutboxItem>;
        fn finish_notices(&self, attempts: &[(OutboxItem, Attempt)], now: DateTime<Utc>) -> ();
        fn release_notices(&self, ids: &[i64], now: DateTime<Utc>) -> ();
        fn reroute(&self, item: &OutboxItem, fallback: Option<&str>, detail: &str, now: DateTime<Utc>) -> ();
        fn policy(&self, incident_id: i64) -> Policy;
        fn channel_health(&self, name: &str) -> ChannelHealth;
        fn channel_healths(&self) -> Vec<ChannelHealth>;
        fn save_channel_health(&self, health: &ChannelHealth) -> ();
        fn set_channel_enabled(&self, name: &str, enabled: bool, reason: &str, now: DateTime<Utc>) -> ChannelHealth;
        fn pending_notices(&self) -> i64;
        fn incident(&self, id: i64) -> Option<Incident>;
        fn incidents(&self, filter: &IncidentFilter) -> Vec<Incident>;
        fn timeline(&self, incident_id: i64) -> Vec<Event>;
        fn top_mentions(&self, incident_id: i64, limit: i64) -> Vec<MentionSummary>;
        fn mentions(&self, filter: &MentionFilter) -> Vec<StoredMention>;
        fn pulse(&self, incident_id: i64, recent_since: DateTime<Utc>) -> Pulse;
        fn triage(&self, mention_id: i64, verdict: Verdict, actor: &str, now: DateTime<Utc>) -> Option<Triage>;
        fn triaged(&self, since: DateTime<Utc>) -> Vec<Triage>;
        fn rule_match_terms(&self, rule: &str, since: DateTime<Utc>, limit: i64) -> Vec<RuleMatchTerms>;
        fn mention_count(&self) -> i64;
        fn activity(&self) -> Activity;
        fn escalate_mention(&self, mention_id: i64, scored: &Scored, candidate: &Candidate, actor: &str, now: DateTime<Utc>) -> Escalated;
        fn events_after(&self, after: i64, limit: i64) -> Vec<EventMark>;
        fn share_of_voice(&self, brands: &[String], from: DateTime<Utc>, to: DateTime<Utc>, top: i64) -> Vec<BrandVoice>;
        fn overview_rows(&self, from: DateTime<Utc>, to: DateTime<Utc>, brands: Option<&[String]>, limit: i64) -> Vec<OverviewRow>;
        fn adopt_unbranded(&self, brand: &str) -> bool;
        fn prune(&self, before: DateTime<Utc>, from: Option<DateTime<Utc>>, limit: i64) -> Pruned;
        fn ping(&self) -> ();
    }

    async fn ingest<D: Decide>(&self, batch: Vec<Arrival>, decide: &D) -> Result<Vec<IngestOutcome>, StoreError> {
        match self {
            AnyStore::Sqlite(store) => store.ingest(batch, decide).await,
            AnyStore::Postgres(store) => store.ingest(batch, decide).await,
        }
    }

    async fn escalate<F>(&self, incident_id: i64, fire: F, now: DateTime<Utc>) -> Result<bool, StoreError>
    where
        F: Fn(&Policy, DateTime<Utc>, EscalationState) -> Option<Fired> + Send + Sync,
    {
        match self {
            AnyStore::Sqlite(store) => store.escalate(incident_id, fire, now).await,
            AnyStore::Postgres(store) => store.escalate(incident_id, fire, now).await,
        }
    }
}

/// A database URL with any password replaced, fit for logs and errors.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
