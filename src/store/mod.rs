//! The store: one trait every backend implements, so the pipeline never knows which
//! database it runs on. The backend is picked from the URL scheme ([`open`]).

pub mod sqlite;

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::analyze::Scored;
use crate::incident::escalation::{EscalationState, Fired, Policy};
use crate::incident::grouping::{Candidate, GroupState, Judged};
use crate::incident::spike::{SpikeSettings, Volume};
use crate::incident::timeline::Event;
use crate::incident::{Action, Incident, MentionSummary, Status, TransitionError};
use crate::ingest::dedup::Signature;
use crate::ingest::fetch::Validators;
use crate::notify::NoticeKind;

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
    #[error("unsupported database url {0:?}: use sqlite://FILE")]
    UnsupportedUrl(String),
}

/// Poll state and health of one feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
}

/// The result of one poll, to record on the feed.
#[derive(Debug, Clone, PartialEq)]
pub enum PollRecord {
    Success { validators: Validators, new_items: i64, next_poll_at: DateTime<Utc> },
    Failure { error: String, next_poll_at: DateTime<Utc> },
}

/// What storing one scored mention did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Seen before (same feed and guid): nothing was written.
    Duplicate,
    Stored {
        mention_id: i64,
        /// The first mention of the same story (near-duplicate cluster); its own id if none.
        cluster_id: i64,
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

/// Which incidents to list, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentFilter {
    pub status: Option<Status>,
    pub rule: Option<String>,
    /// Only incidents with an id below this (the paging cursor).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// The near-duplicate story a mention belongs to.
///
/// Looked up outside the ingest transaction, once per mention: two copies of a new story
/// stored in the same instant may each start a cluster, which costs a little novelty
/// precision and saves a second lookup of up to 500 signatures per matching mention.
#[derive(Debug, Clone, PartialEq)]
pub struct Story {
    /// The mention's MinHash signature (title and body).
    pub signature: Signature,
    /// The cluster of the most similar recent mention of the same rules that tells the same
    /// story; `None` for a new story.
    pub cluster: Option<i64>,
    /// Mentions already in that cluster: 0 for the first report.
    pub copies: u64,
}

/// Everything the pipeline persists. Each method that changes state is one transaction, and
/// writes the timeline events and outbox rows its change causes in that same transaction.
pub trait Store: Send + Sync + 'static {
    fn migrate(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A random secret created on first use and kept in the database (e.g. the key that
    /// signs acknowledge links), so it survives restarts without configuration.
    fn secret(&self, name: &str) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;

    /// Makes sure every configured feed has a row; keeps the state of known ones.
    fn sync_feeds(&self, feeds: &[(String, String)]) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn feed_state(&self, name: &str) -> impl Future<Output = Result<Option<FeedState>, StoreError>> + Send;
    fn feed_states(&self) -> impl Future<Output = Result<Vec<FeedState>, StoreError>> + Send;
    fn record_poll(
        &self,
        name: &str,
        record: &PollRecord,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a scored mention unless its (feed, guid) was seen, and for each candidate
    /// (one per matched rule) asks `judge` what to do given the group's live incident and
    /// its volume around the mention's time (this mention counted, windows as `spike`
    /// says), then writes the incidents, timeline events and outbox rows that follow, all
    /// in one transaction.
    fn ingest<J>(
        &self,
        scored: &Scored,
        story: &Story,
        candidates: &[Candidate],
        spike: &SpikeSettings,
        judge: J,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<IngestOutcome, StoreError>> + Send
    where
        J: Fn(&Candidate, Option<&GroupState>, &Volume) -> Judged + Send + Sync;

    /// The story the mention tells (see [`Story`]), found before it is stored so its
    /// novelty can be scored; [`Store::ingest`] then files the mention under it.
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

    /// Claims due notifications for `lease`; a worker that dies leaves them to be claimed
    /// again when the lease ends.
    fn claim_notices(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<OutboxItem>, StoreError>> + Send;
    /// Records a delivery attempt on the outbox row and on the incident's timeline.
    fn finish_notice(
        &self,
        item: &OutboxItem,
        attempt: &Attempt,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Notifications not yet delivered nor given up.
    fn pending_notices(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    fn incident(&self, id: i64) -> impl Future<Output = Result<Option<Incident>, StoreError>> + Send;
    fn incidents(&self, filter: &IncidentFilter) -> impl Future<Output = Result<Vec<Incident>, StoreError>> + Send;
    fn timeline(&self, incident_id: i64) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
    /// The riskiest mentions attached to an incident, as fetched.
    fn top_mentions(
        &self,
        incident_id: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<MentionSummary>, StoreError>> + Send;
    fn mention_count(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;
}

/// Opens the store a URL names. Only SQLite so far.
pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
    if url.starts_with("sqlite:") {
        SqliteStore::connect(url).await
    } else {
        Err(StoreError::UnsupportedUrl(redact(url)))
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
