//! The PostgreSQL store, for several daemons sharing one database. Each change is one
//! READ COMMITTED transaction that locks what it changes: the incident row (`FOR UPDATE`)
//! in transitions, escalation, workflow entries and reminders; every group a batch may join
//! (transaction advisory locks, taken at the batch's start in one order for all daemons)
//! while its mentions are judged, so two daemons never open one group's incident twice nor
//! lose a count; outbox rows are claimed with `FOR UPDATE SKIP LOCKED`, so no notice goes to
//! two workers. A batch costs a few statements plus two per mention that matched a rule (its
//! story's lookup; its row, story, matches and groups together): round trips, not the
//! database's work, are what a mention costs.

use serde::Serialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};

use super::common::{
    AttachLog, EXCERPT_CHARS, Fingerprint, GroupVolume, STORIES_PER_BAND, STORM_ATTACHED, STORM_LOOKBACK,
    STORY_CANDIDATES, STORY_LOOKBACK, StoredGroup, Workflow, delivery, escalated_attach_event, escalation_start,
    from_value, json, mass_hours_text, mention_brand_rows, mention_details, new_notice_id, opened_details,
    steps_from_events, still_served, stored_mass, storm_start_of, to_value, transition_kinds, ts, unique_terms,
};
use super::{
    ADOPTED_KEY, Activity, Arrival, Attempt, AttemptResult, BrandVoice, Checklist, Decide, Entry, Escalated, EventMark,
    FeedState, IncidentFilter, IngestOutcome, MentionFilter, OVERVIEW_TITLE_CHARS, OutboxItem, OverviewRow, PollRecord,
    Pruned, RuleMatchTerms, Store, StoreError, StoredMention, StoredSession, Story, Triage, TriagedMatch, Verdict,
    VoiceCounts, VoiceRow, redact,
};
use crate::analyze::Scored;
use crate::incident::escalation::{EscalationState, Fired, Policy};
use crate::incident::grouping::{Candidate, Decision, GroupState};
use crate::incident::review::{ChainStatus, NotificationOutcome, ReviewInput, ReviewMention};
use crate::incident::silence::{NewSilence, Scope, Silence};
use crate::incident::spike::{Mass, SpikeSettings};
use crate::incident::timeline::{Event, EventKind, HashScheme, NewEvent, StoredText};
use crate::incident::{Action, Incident, Level, MentionSummary, Pulse, Status};
use crate::ingest::Mention;
use crate::ingest::fetch::Validators;
use crate::notify::NoticeKind;
use crate::notify::breaker::ChannelHealth;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The URL it was opened with, password hidden.
    url: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("url", &self.url).finish_non_exhaustive()
    }
}

type Tx = Transaction<'static, Postgres>;

const INCIDENT_COLUMNS: &str = "id, rule, group_key, title, status, level, score, why, opened_at, first_mention_at, acknowledged_at, resolved_at, \
     assignee, crisis_type, drill, brand, \
     (SELECT COUNT(*) FROM incident_mentions im WHERE im.incident_id = incidents.id) AS mention_count";

fn incident_from_row(row: &PgRow) -> Result<Incident, StoreError> {
    let status: String = row.try_get("status")?;
    let level: String = row.try_get("level")?;
    let score: i64 = row.try_get("score")?;
    Ok(Incident {
        id: row.try_get("id")?,
        status: Status::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
        level: Level::parse(&level).ok_or_else(|| StoreError::Corrupt(format!("level {level:?}")))?,
        score: u8::try_from(score).unwrap_or(100),
        rule: row.try_get("rule")?,
        group: row.try_get("group_key")?,
        title: row.try_get("title")?,
        opened_at: row.try_get("opened_at")?,
        first_mention_at: row.try_get("first_mention_at")?,
        acknowledged_at: row.try_get("acknowledged_at")?,
        resolved_at: row.try_get("resolved_at")?,
        mentions: row.try_get("mention_count")?,
        why: row.try_get("why")?,
        assignee: row.try_get("assignee")?,
        crisis_type: row.try_get("crisis_type")?,
        drill: row.try_get("drill")?,
        brand: Some(row.try_get::<String, _>("brand")?).filter(|brand| !brand.is_empty()),
    })
}

/// The escalation columns of an incident row.
struct EscalationRow {
    status: Status,
    level: Level,
    score: u8,
    opened_at: DateTime<Utc>,
    policy: Policy,
    state: EscalationState,
}

const ESCALATION_COLUMNS: &str =
    "id, status, level, score, opened_at, policy, escalation_step, escalation_repeats, next_escalation_at";

/// An incident's escalation columns, its row locked until the transaction ends.
async fn load_escalation(tx: &mut Tx, incident_id: i64) -> Result<Option<EscalationRow>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ESCALATION_COLUMNS} FROM incidents WHERE id = $1 FOR UPDATE"
    )))
    .bind(incident_id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| escalation_from_row(&row)).transpose()
}

fn escalation_from_row(row: &PgRow) -> Result<EscalationRow, StoreError> {
    let status: String = row.try_get("status")?;
    let level: String = row.try_get("level")?;
    let score: i64 = row.try_get("score")?;
    let step: i64 = row.try_get("escalation_step")?;
    let repeats: i64 = row.try_get("escalation_repeats")?;
    Ok(EscalationRow {
        status: Status::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
        level: Level::parse(&level).ok_or_else(|| StoreError::Corrupt(format!("level {level:?}")))?,
        score: u8::try_from(score).unwrap_or(100),
        opened_at: row.try_get("opened_at")?,
        policy: from_value(row.try_get("policy")?)?,
        state: EscalationState {
            step: u32::try_from(step).unwrap_or(0),
            repeats: u32::try_from(repeats).unwrap_or(0),
            next_at: row.try_get("next_escalation_at")?,
        },
    })
}

/// Appends an event to an incident's timeline, chained to the one before it. The callers
/// hold the incident's row or its group's lock, so two events never chain to one parent.
async fn append_event(tx: &mut Tx, incident_id: i64, event: &NewEvent) -> Result<(), StoreError> {
    let prev: Option<String> =
        sqlx::query_scalar("SELECT hash FROM timeline WHERE incident_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(incident_id)
            .fetch_optional(&mut **tx)
            .await?;
    let sealed = event.seal(incident_id, &prev.unwrap_or_default());
    // JSONB keeps the value for queries but not the bytes; `details_text` keeps the bytes
    // the hash covers, and is what the timeline reads back. JSONB refuses U+0000 (a note
    // pasted with one would lose the whole event), so its copy holds U+FFFD there; the
    // replacement keeps the JSON valid whatever backslashes precede it.
    let queryable = sealed.details.replace("\\u0000", "\\ufffd");
    sqlx::query(
        "INSERT INTO timeline (incident_id, at, actor, kind, details, details_text, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)",
    )
    .bind(incident_id)
    .bind(sealed.at)
    .bind(&event.actor)
    .bind(event.kind.as_str())
    .bind(&queryable)
    .bind(&sealed.details)
    .bind(&sealed.prev_hash)
    .bind(&sealed.hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues one notice per channel, due at `due_at`.
async fn enqueue(
    tx: &mut Tx,
    incident_id: i64,
    channels: &[String],
    kind: NoticeKind,
    level: u32,
    now: DateTime<Utc>,
    due_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    for channel in channels {
        sqlx::query(
            "INSERT INTO outbox (notice_id, incident_id, channel, kind, level, created_at, due_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new_notice_id())
        .bind(incident_id)
        .bind(channel)
        .bind(Json(kind))
        .bind(i64::from(level))
        .bind(now)
        .bind(due_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The story of the last [`STORY_LOOKBACK`] before `at` that `fingerprint` repeats: the
/// most similar one among those sharing a band with it.
async fn find_story(
    conn: &mut PgConnection,
    fingerprint: &Fingerprint,
    at: DateTime<Utc>,
) -> Result<Story, StoreError> {
    if fingerprint.bands.is_empty() {
        return Ok(Story { cluster: None, copies: 0 });
    }
    let rows: Vec<(i64, Vec<u8>, i64)> = sqlx::query_as(
        "SELECT id, signature, size FROM stories WHERE id IN \
         (SELECT newest.story_id FROM UNNEST($1::BIGINT[]) AS wanted(band), \
          LATERAL (SELECT story_id FROM story_bands WHERE band = wanted.band ORDER BY story_id DESC LIMIT $4) AS newest) \
         AND last_at >= $2 ORDER BY last_at DESC LIMIT $3",
    )
    .bind(&fingerprint.bands)
    .bind(at - STORY_LOOKBACK)
    .bind(STORY_CANDIDATES)
    .bind(STORIES_PER_BAND)
    .fetch_all(&mut *conn)
    .await?;
    Ok(fingerprint.closest(rows))
}

/// The stories a batch's matching mentions may repeat, read with one statement before the
/// batch is judged (a lookup per mention was a round trip each), and the stories the batch
/// itself starts or grows as it goes.
/// A stored story as a batch reads it: id, signature, size, last seen.
type StoredStory = (i64, Vec<u8>, i64, DateTime<Utc>);

#[derive(Default)]
struct BatchStories {
    /// Per matching mention of the batch (by its place in the batch): candidate stories as
    /// stored when the batch began (id, signature, size, last seen), newest first.
    stored: HashMap<usize, Vec<StoredStory>>,
    /// Stories the batch started: id, signature, band keys.
    started: Vec<(i64, Vec<u8>, Vec<i64>)>,
    /// Mentions the batch filed under each story so far.
    grown: HashMap<i64, i64>,
}

impl BatchStories {
    /// Reads the candidates of every `(place, fingerprint)`: the newest
    /// [`STORIES_PER_BAND`] stories of each band key, as [`find_story`] would.
    async fn read(tx: &mut Tx, wanted: &[(usize, &Fingerprint)]) -> Result<BatchStories, StoreError> {
        let (mut places, mut bands) = (Vec::new(), Vec::new());
        for (place, fingerprint) in wanted {
            for band in &fingerprint.bands {
                places.push(i64::try_from(*place).unwrap_or(i64::MAX));
                bands.push(*band);
            }
        }
        let mut stories = BatchStories::default();
        if bands.is_empty() {
            return Ok(stories);
        }
        #[allow(clippy::type_complexity)]
        let rows: Vec<(i64, i64, Vec<u8>, i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT DISTINCT wanted.place, s.id, s.signature, s.size, s.last_at \
             FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS wanted(place, band), \
             LATERAL (SELECT story_id FROM story_bands WHERE band = wanted.band ORDER BY story_id DESC LIMIT $3) \
             AS newest JOIN stories s ON s.id = newest.story_id",
        )
        .bind(&places)
        .bind(&bands)
        .bind(STORIES_PER_BAND)
        .fetch_all(&mut **tx)
        .await?;
        for (place, id, signature, size, last_at) in rows {
            let place = usize::try_from(place).unwrap_or(usize::MAX);
            stories.stored.entry(place).or_default().push((id, signature, size, last_at));
        }
        for candidates in stories.stored.values_mut() {
            candidates.sort_by_key(|(id, .., last_at)| std::cmp::Reverse((*last_at, *id)));
        }
        Ok(stories)
    }

    /// The story the mention at `place` repeats, among the stored candidates seen within
    /// [`STORY_LOOKBACK`] of `at` and the stories the batch started that share a band.
    fn find(&self, place: usize, fingerprint: &Fingerprint, at: DateTime<Utc>) -> Story {
        let grown = |id: i64| self.grown.get(&id).copied().unwrap_or(0);
        let stored = self
            .stored
            .get(&place)
            .into_iter()
            .flatten()
            .filter(|(.., last_at)| *last_at >= at - STORY_LOOKBACK)
            .take(usize::try_from(STORY_CANDIDATES).unwrap_or(usize::MAX))
            .map(|(id, signature, size, _)| (*id, signature.clone(), size + grown(*id)));
        let started = self
            .started
            .iter()
            .filter(|(.., bands)| bands.iter().any(|band| fingerprint.bands.contains(band)))
            .map(|(id, signature, _)| (*id, signature.clone(), 1 + grown(*id)));
        fingerprint.closest(stored.chain(started))
    }

    /// Notes that a mention was filed under `cluster_id`: a copy of `story`, or a new one.
    fn filed(&mut self, story: &Story, cluster_id: i64, fingerprint: &Fingerprint) {
        match story.cluster {
            Some(id) => *self.grown.entry(id).or_default() += 1,
            None => self.started.push((
                cluster_id,
                crate::ingest::dedup::to_bytes(&fingerprint.signature),
                fingerprint.bands.clone(),
            )),
        }
    }
}

/// When the storm a candidate opens an incident for began (see the SQLite store's
/// `storm_start`).
async fn storm_start(
    tx: &mut Tx,
    candidate: &Candidate,
    group: &GroupVolume,
    spike: &SpikeSettings,
) -> Result<DateTime<Utc>, StoreError> {
    let rows: Vec<(i64, i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT FLOOR(EXTRACT(EPOCH FROM ($1 - at)) * 1000 / $2)::BIGINT AS back, COUNT(*), MIN(at) \
         FROM rule_matches WHERE rule = $3 AND at >= $4 AND at <= $1 AND brand = $6 \
         AND at > COALESCE((SELECT MAX(resolved_at) FROM incidents WHERE group_key = $5), '-infinity'::TIMESTAMPTZ) \
         GROUP BY back ORDER BY back",
    )
    .bind(candidate.mention_at)
    .bind(spike.window.num_milliseconds().max(1) as f64)
    .bind(&candidate.rule)
    .bind(candidate.mention_at - STORM_LOOKBACK)
    .bind(&candidate.group_key)
    .bind(candidate.brand.as_deref().unwrap_or_default())
    .fetch_all(&mut **tx)
    .await?;
    Ok(storm_start_of(&rows, candidate.mention_at, &group.volume, spike))
}

/// Attaches to a just-opened incident the earlier mentions of its storm (see the SQLite
/// store's `attach_storm`): its rule's matches from the storm's first mention on that no
/// incident holds, in the store or among the batch's pending attachments.
async fn attach_storm(
    tx: &mut Tx,
    incident_id: i64,
    candidate: &Candidate,
    storm_start: DateTime<Utc>,
    opener: i64,
    now: DateTime<Utc>,
    writes: &mut BatchWrites,
) -> Result<(), StoreError> {
    let rows = sqlx::query(
        "SELECT m.id, m.feed, m.guid, m.title, m.body, m.author, m.url, m.published_at, m.fetched_at, m.lang, \
         m.risk, m.sentiment FROM rule_matches r JOIN mentions m ON m.id = r.mention_id \
         WHERE r.rule = $1 AND r.brand = $6 AND r.at >= $2 AND r.at <= $3 AND r.mention_id <> $4 \
         AND NOT EXISTS (SELECT 1 FROM incident_mentions im WHERE im.mention_id = r.mention_id) \
         ORDER BY r.at DESC, m.id DESC LIMIT $5",
    )
    .bind(&candidate.rule)
    .bind(storm_start)
    .bind(candidate.mention_at)
    .bind(opener)
    .bind(STORM_ATTACHED)
    .bind(candidate.brand.as_deref().unwrap_or_default())
    .fetch_all(&mut **tx)
    .await?;
    for row in rows.iter().rev() {
        let mention_id: i64 = row.try_get("id")?;
        if writes.holds(mention_id) {
            continue;
        }
        let mention = Mention {
            feed: row.try_get("feed")?,
            guid: row.try_get("guid")?,
            title: row.try_get("title")?,
            body: row.try_get("body")?,
            author: row.try_get("author")?,
            url: row.try_get("url")?,
            published: row.try_get("published_at")?,
            fetched_at: row.try_get("fetched_at")?,
            lang: row.try_get("lang")?,
            engagement: None,
        };
        let (risk, sentiment) = (row.try_get("risk")?, row.try_get("sentiment")?);
        writes.attach_snapshot(incident_id, mention_id, to_value(&mention), risk, sentiment, now);
        writes.log.add(incident_id, mention_id, &mention, now);
    }
    Ok(())
}

/// A candidate's group as [`insert_matching`] read it: its live incident, its row and its
/// counts in the spike window.
fn stored_group(row: &PgRow) -> Result<(Option<GroupState>, StoredGroup), StoreError> {
    let live = match row.try_get::<Option<i64>, _>("id")? {
        Some(incident_id) => {
            let esc = escalation_from_row(row)?;
            Some(GroupState {
                incident_id,
                status: esc.status,
                level: esc.level,
                score: esc.score,
                opened_at: esc.opened_at,
                policy: esc.policy,
                escalation: esc.state,
            })
        }
        None => None,
    };
    let mass = stored_mass(
        row.try_get("group_mass")?,
        row.try_get("group_mass_at")?,
        row.try_get::<Option<&str>, _>("group_mass_hours")?,
    )?;
    // The statement's snapshot does not hold the rule match it inserted: count it.
    let stored = StoredGroup {
        first_at: row.try_get("group_first_at")?,
        mass,
        last_spike_at: row.try_get("group_last_spike_at")?,
        in_window: row.try_get::<i64, _>("in_window")? + 1,
        story_in_window: row.try_get::<i64, _>("story_in_window")? + 1,
    };
    Ok((live, stored))
}

/// Takes the lock of every group the batch's matching mentions may join, in one order for
/// every daemon (so two batches never wait on each other in a cycle), before any of them is
/// read: a second daemon judging a mention of the same group waits for this batch to
/// commit and then sees its incident and its counts. A group belongs to one rule, so the
/// lock is the rule's (a drill's group shares it with the rule's real group).
async fn lock_groups(tx: &mut Tx, batch: &[Arrival]) -> Result<(), StoreError> {
    let keys: BTreeSet<String> = batch
        .iter()
        .flat_map(|arrival| {
            arrival.scored.matches.iter().map(|found| match &found.brand {
                Some(brand) => format!("brand:{brand}:rule:{}", found.rule),
                None => format!("rule:{}", found.rule),
            })
        })
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    // UNNEST yields the sorted keys in order, and each row takes its lock as it is produced.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended(key, 0)) FROM UNNEST($1::TEXT[]) AS key")
        .bind(keys.into_iter().collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A group's volume state as a batch leaves it (the `groups` row to write).
struct GroupRow {
    first_at: DateTime<Utc>,
    mass: Mass,
    last_spike_at: Option<DateTime<Utc>>,
}

/// What a batch's transaction gathers as it goes and writes with one statement each at its
/// end: nothing in the batch reads them back before then.
#[derive(Default)]
struct BatchWrites {
    /// The `mentions_attached` events, one per incident.
    log: AttachLog,
    /// `incident_mentions` rows, as records for `jsonb_to_recordset`.
    attachments: Vec<serde_json::Value>,
    /// Each group's state after the batch's latest mention of it.
    groups: BTreeMap<String, GroupRow>,
}

impl BatchWrites {
    fn attach(&mut self, incident_id: i64, mention_id: i64, scored: &Scored, now: DateTime<Utc>) {
        let snapshot = to_value(&scored.mention);
        self.attach_snapshot(
            incident_id,
            mention_id,
            snapshot,
            i64::from(scored.risk),
            Some(scored.sentiment.score),
            now,
        );
    }

    fn attach_snapshot(
        &mut self,
        incident_id: i64,
        mention_id: i64,
        snapshot: serde_json::Value,
        risk: i64,
        sentiment: Option<f64>,
        now: DateTime<Utc>,
    ) {
        self.attachments.push(serde_json::json!({
            "incident_id": incident_id, "mention_id": mention_id, "risk": risk, "attached_at": pg_time(now),
            "snapshot": snapshot, "sentiment": sentiment,
        }));
    }

    /// Whether an attachment the batch has yet to write holds this mention.
    fn holds(&self, mention_id: i64) -> bool {
        self.attachments.iter().any(|record| record["mention_id"].as_i64() == Some(mention_id))
    }

    fn keep_group(&mut self, group_key: &str, group: &GroupVolume, spiked_at: Option<DateTime<Utc>>) {
        let row = GroupRow {
            first_at: group.first_at,
            mass: group.mass,
            last_spike_at: spiked_at.or(group.volume.last_spike_at),
        };
        self.groups.insert(group_key.to_owned(), row);
    }

    async fn write(self, tx: &mut Tx) -> Result<(), StoreError> {
        for attachments in in_messages(self.attachments)? {
            sqlx::query(
                "INSERT INTO incident_mentions (incident_id, mention_id, risk, attached_at, snapshot, sentiment) \
                 SELECT * FROM jsonb_to_recordset($1::JSONB) AS r(incident_id BIGINT, mention_id BIGINT, risk BIGINT, \
                 attached_at TIMESTAMPTZ, snapshot JSONB, sentiment DOUBLE PRECISION) ON CONFLICT DO NOTHING",
            )
            .bind(attachments)
            .execute(&mut **tx)
            .await?;
        }
        if !self.groups.is_empty() {
            let groups: Vec<serde_json::Value> = self
                .groups
                .iter()
                .map(|(key, row)| {
                    serde_json::json!({
                        "group_key": key, "first_at": pg_time(row.first_at), "mass": row.mass.value,
                        "mass_at": pg_time(row.mass.at), "mass_hours": mass_hours_text(&row.mass),
                        "last_spike_at": row.last_spike_at.map(pg_time),
                    })
                })
                .collect();
            sqlx::query(
                "INSERT INTO groups (group_key, first_at, mass, mass_at, mass_hours, last_spike_at) \
                 SELECT * FROM jsonb_to_recordset($1) AS r(group_key TEXT, first_at TIMESTAMPTZ, \
                 mass DOUBLE PRECISION, mass_at TIMESTAMPTZ, mass_hours TEXT, last_spike_at TIMESTAMPTZ) \
                 ON CONFLICT (group_key) DO UPDATE SET first_at = excluded.first_at, mass = excluded.mass, \
                 mass_at = excluded.mass_at, mass_hours = excluded.mass_hours, \
                 last_spike_at = COALESCE(excluded.last_spike_at, groups.last_spike_at)",
            )
            .bind(serde_json::Value::Array(groups))
            .execute(&mut **tx)
            .await?;
        }
        for (incident_id, event) in self.log.drain() {
            append_event(tx, incident_id, &event).await?;
        }
        Ok(())
    }
}

/// Writes the pending `mentions_attached` event of one incident, if any.
async fn flush_attached(tx: &mut Tx, log: &mut AttachLog, incident_id: i64) -> Result<(), StoreError> {
    match log.take(incident_id) {
        Some(event) => append_event(tx, incident_id, &event).await,
        None => Ok(()),
    }
}

/// An incident's workflow state; with `lock`, its row stays locked until the transaction ends.
async fn load_workflow(tx: &mut Tx, incident_id: i64, lock: bool) -> Result<Workflow, StoreError> {
    let query = if lock {
        "SELECT status, level, score, opened_at, policy, escalation_step, escalation_repeats, next_escalation_at, \
         assignee, crisis_type, playbook FROM incidents WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT status, level, score, opened_at, policy, escalation_step, escalation_repeats, next_escalation_at, \
         assignee, crisis_type, playbook FROM incidents WHERE id = $1"
    };
    let row = sqlx::query(query)
        .bind(incident_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NoIncident(incident_id))?;
    let esc = escalation_from_row(&row)?;
    let playbook: Option<serde_json::Value> = row.try_get("playbook")?;
    let events: Vec<(String, String, DateTime<Utc>, serde_json::Value)> = sqlx::query_as(
        "SELECT kind, actor, at, details FROM timeline WHERE incident_id = $1 \
         AND kind IN ('step_done', 'step_overdue') ORDER BY id",
    )
    .bind(incident_id)
    .fetch_all(&mut **tx)
    .await?;
    let (done, reminded) = steps_from_events(events);
    Ok(Workflow {
        status: esc.status,
        opened_at: esc.opened_at,
        assignee: row.try_get("assignee")?,
        crisis_type: row.try_get("crisis_type")?,
        playbook: playbook.map(from_value).transpose()?,
        policy: esc.policy,
        escalation: esc.state,
        done,
        reminded,
    })
}

async fn fetch_incident(tx: &mut Tx, incident_id: i64) -> Result<Incident, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1")))
        .bind(incident_id)
        .fetch_one(&mut **tx)
        .await?;
    incident_from_row(&row)
}

/// Puts a silence on the timeline of an incident it covers mentions of, once.
async fn note_silence(tx: &mut Tx, silence_id: i64, incident_id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    let first =
        sqlx::query("INSERT INTO silence_hits (silence_id, incident_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(silence_id)
            .bind(incident_id)
            .execute(&mut **tx)
            .await?;
    if first.rows_affected() == 0 {
        return Ok(());
    }
    let silence = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SILENCE_COLUMNS} FROM silences WHERE id = $1")))
        .bind(silence_id)
        .fetch_one(&mut **tx)
        .await?;
    let silence = silence_from_row(&silence)?;
    let details = serde_json::json!({
        "silence": silence.id, "scope": silence.scope, "value": silence.value, "reason": silence.reason,
        "by": silence.created_by, "ends_at": ts(silence.ends_at),
    });
    append_event(tx, incident_id, &NewEvent::system(now, EventKind::Silenced, details)).await
}

fn health_from_row(row: &PgRow) -> Result<ChannelHealth, StoreError> {
    let failures: i64 = row.try_get("failures")?;
    Ok(ChannelHealth {
        name: row.try_get("name")?,
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        open_until: row.try_get("open_until")?,
        disabled_at: row.try_get("disabled_at")?,
        disabled_reason: row.try_get("disabled_reason")?,
    })
}

const SILENCE_COLUMNS: &str =
    "id, scope, value, reason, created_by, created_at, ends_at, ended_at, ended_by, held, brand";

fn silence_from_row(row: &PgRow) -> Result<Silence, StoreError> {
    let scope: String = row.try_get("scope")?;
    Ok(Silence {
        id: row.try_get("id")?,
        scope: Scope::parse(&scope).ok_or_else(|| StoreError::Corrupt(format!("silence scope {scope:?}")))?,
        value: row.try_get("value")?,
        reason: row.try_get("reason")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        ends_at: row.try_get("ends_at")?,
        ended_at: row.try_get("ended_at")?,
        ended_by: row.try_get("ended_by")?,
        held: row.try_get("held")?,
        brand: row.try_get("brand")?,
    })
}

/// A timestamp as PostgreSQL reads it from JSON, truncated to its microseconds as a bound
/// parameter would be.
fn pg_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The `mentions` columns of a scored mention, as one JSON object for `jsonb_to_recordset`,
/// serialized straight from the mention's fields (a batch writes thousands).
#[derive(Serialize)]
struct MentionRecord<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    feed: &'a str,
    guid: &'a str,
    title: &'a str,
    body: &'a str,
    author: Option<&'a str>,
    url: Option<&'a str>,
    published_at: Option<String>,
    fetched_at: String,
    lang: Option<&'a str>,
    risk: u8,
    breakdown: &'a serde_json::Value,
    analyzed_lang: &'a str,
    sentiment: f64,
    sentiment_detail: &'a crate::analyze::sentiment::Sentiment,
}

fn mention_record(id: Option<i64>, scored: &Scored) -> MentionRecord<'_> {
    let mention = &scored.mention;
    MentionRecord {
        id,
        feed: &mention.feed,
        guid: &mention.guid,
        title: &mention.title,
        body: &mention.body,
        author: mention.author.as_deref(),
        url: mention.url.as_deref(),
        published_at: mention.published.map(pg_time),
        fetched_at: pg_time(mention.fetched_at),
        lang: mention.lang.as_deref(),
        risk: scored.risk,
        breakdown: &scored.breakdown,
        analyzed_lang: &scored.lang,
        sentiment: scored.sentiment.score,
        sentiment_detail: &scored.sentiment,
    }
}

/// The column list `jsonb_to_recordset` reads a [`mention_record`] with.
const MENTION_RECORD: &str = "feed TEXT, guid TEXT, title TEXT, body TEXT, author TEXT, url TEXT, \
     published_at TIMESTAMPTZ, fetched_at TIMESTAMPTZ, lang TEXT, risk BIGINT, breakdown JSONB, analyzed_lang TEXT, \
     sentiment DOUBLE PRECISION, sentiment_detail JSONB";

/// The most JSON one statement of a batch carries, so a batch of long mentions does not
/// build one huge message (one larger record goes alone). The socket sends without Nagle's
/// delay (sqlx 0.9.1 and later set TCP_NODELAY; 0.9.0 did not, and any message over one TLS
/// record then waited about 40 ms for the server's delayed ACK), so one statement can carry a
/// whole batch of ordinary mentions: each statement is a round trip the batch waits on.
const MESSAGE_JSON_BYTES: usize = 4 * 1024 * 1024;

/// `records` as the texts of JSON arrays of at most [`MESSAGE_JSON_BYTES`] each, in order;
/// each record is serialized once, and the statements cast the text to JSONB.
fn in_messages<T: Serialize>(records: impl IntoIterator<Item = T>) -> Result<Vec<String>, StoreError> {
    let mut messages = Vec::new();
    let mut current = String::new();
    for record in records {
        let text = serde_json::to_string(&record).map_err(|e| StoreError::Corrupt(format!("a record: {e}")))?;
        // One byte for the separator before it, one for the closing bracket.
        if !current.is_empty() && current.len() + text.len() + 2 > MESSAGE_JSON_BYTES {
            current.push(']');
            messages.push(std::mem::take(&mut current));
        }
        current.push(if current.is_empty() { '[' } else { ',' });
        current.push_str(&text);
    }
    if !current.is_empty() {
        current.push(']');
        messages.push(current);
    }
    Ok(messages)
}

/// Ids for a batch's mentions, drawn in arrival order so that ids rise in that order (as
/// with row-by-row inserts) even though a batch's plain mentions go in first.
async fn draw_ids(tx: &mut Tx, count: usize) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('mentions', 'id')) FROM generate_series(1, $1::BIGINT)",
    )
    .bind(i64::try_from(count).unwrap_or(i64::MAX))
    .fetch_all(&mut **tx)
    .await?)
}

/// Inserts the mentions of a batch that matched no rule, with their drawn ids, in one
/// statement: they join no story and no group, so nothing else in the batch depends on
/// them. Returns the ids of those inserted; a mention whose (feed, guid) was stored before
/// (or earlier in `plain`) is left out.
async fn insert_plain(tx: &mut Tx, plain: &[(i64, &Scored)]) -> Result<HashSet<i64>, StoreError> {
    if plain.is_empty() {
        return Ok(HashSet::new());
    }
    let records = plain.iter().map(|(id, scored)| mention_record(Some(*id), scored));
    // Rows go in by id, so of two with one (feed, guid) the first to arrive is stored.
    let mut inserted = HashSet::with_capacity(plain.len());
    for message in in_messages(records)? {
        let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "INSERT INTO mentions (id, feed, guid, title, body, author, url, published_at, fetched_at, lang, risk, \
             breakdown, analyzed_lang, sentiment, sentiment_detail) \
             SELECT id, feed, guid, title, body, author, url, published_at, fetched_at, lang, risk, breakdown, \
             analyzed_lang, sentiment, sentiment_detail \
             FROM jsonb_to_recordset($1::JSONB) AS r(id BIGINT, {MENTION_RECORD}) ORDER BY id \
             ON CONFLICT (feed, guid) DO NOTHING RETURNING id"
        )))
        .bind(message)
        .fetch_all(&mut **tx)
        .await?;
        inserted.extend(ids);
    }
    Ok(inserted)
}

/// A mention that matched rules, as [`insert_matching`] stored it: its story's id, and per
/// candidate (in order) the group's live incident and stored volume.
struct Matched {
    cluster_id: i64,
    groups: Vec<(Option<GroupState>, StoredGroup)>,
}

/// Stores a mention that matched rules under its drawn id and reads the groups it joins,
/// in one statement: its row, its story (one more copy of a known story, or a new story
/// whose id is the mention's, its band keys indexed), its rule matches, and per candidate
/// the group's live incident (its row locked until the transaction ends, so a transition
/// by a person waits for the batch), its row and its counts in the spike window. The
/// caller holds the groups' locks (see [`lock_groups`]). `None` when the mention's
/// (feed, guid) was stored before.
#[allow(clippy::too_many_arguments)]
async fn insert_matching(
    tx: &mut Tx,
    id: i64,
    scored: &Scored,
    story: &Story,
    fingerprint: &Fingerprint,
    candidates: &[Candidate],
    window: chrono::Duration,
    reopen_after: DateTime<Utc>,
) -> Result<Option<Matched>, StoreError> {
    let at = scored.mention.effective_time();
    let matches: Vec<serde_json::Value> = scored
        .matches
        .iter()
        .map(|found| {
            let brand = found.brand.as_deref().unwrap_or_default();
            serde_json::json!({"brand": brand, "rule": found.rule, "severity": found.severity, "terms": found.terms})
        })
        .collect();
    let groups: Vec<serde_json::Value> = candidates
        .iter()
        .enumerate()
        .map(|(position, c)| {
            let brand = c.brand.as_deref().unwrap_or_default();
            serde_json::json!({"position": position, "group_key": c.group_key, "rule": c.rule, "brand": brand})
        })
        .collect();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH mention AS (INSERT INTO mentions (id, feed, guid, title, body, author, url, published_at, fetched_at, \
         lang, risk, breakdown, analyzed_lang, sentiment, sentiment_detail, cluster_id) \
         SELECT $1, r.*, COALESCE($3, $1) FROM jsonb_to_record($2) AS r({MENTION_RECORD}) \
         ON CONFLICT (feed, guid) DO NOTHING RETURNING id, cluster_id), \
         known_story AS (UPDATE stories SET size = size + 1, last_at = GREATEST(last_at, $4) \
         WHERE id = $3 AND EXISTS (SELECT 1 FROM mention)), \
         new_story AS (INSERT INTO stories (id, signature, first_at, last_at, size) \
         SELECT id, $5, $4, $4, 1 FROM mention WHERE $3 IS NULL), \
         bands AS (INSERT INTO story_bands (band, story_id) SELECT band, mention.id FROM mention, \
         UNNEST($6::BIGINT[]) AS band WHERE $3 IS NULL ON CONFLICT DO NOTHING), \
         rule_match AS (INSERT INTO rule_matches (mention_id, brand, rule, severity, terms, at, story) \
         SELECT mention.id, m.brand, m.rule, m.severity, m.terms, $4, mention.cluster_id \
         FROM mention, jsonb_to_recordset($7) AS m(brand TEXT, rule TEXT, severity BIGINT, terms JSONB)) \
         SELECT mention.cluster_id, c.position, live.*, g.first_at AS group_first_at, g.mass AS group_mass, \
         g.mass_at AS group_mass_at, g.mass_hours AS group_mass_hours, g.last_spike_at AS group_last_spike_at, \
         (SELECT COUNT(*) FROM rule_matches WHERE brand = c.brand AND rule = c.rule AND at > $9 AND at <= $4) \
         AS in_window, \
         (SELECT COUNT(*) FROM rule_matches WHERE brand = c.brand AND rule = c.rule AND story = mention.cluster_id \
         AND at > $9 AND at <= $4) AS story_in_window \
         FROM mention \
         LEFT JOIN LATERAL jsonb_to_recordset($8) AS c(position BIGINT, group_key TEXT, rule TEXT, brand TEXT) ON TRUE \
         LEFT JOIN LATERAL (SELECT {ESCALATION_COLUMNS} FROM incidents WHERE group_key = c.group_key \
         AND (status <> 'resolved' OR resolved_at >= $10) ORDER BY status = 'resolved', id DESC LIMIT 1 \
         FOR UPDATE) AS live ON TRUE \
         LEFT JOIN groups AS g ON g.group_key = c.group_key \
         ORDER BY c.position"
    )))
    .bind(id)
    .bind(sqlx::types::Json(mention_record(None, scored)))
    .bind(story.cluster)
    .bind(at)
    .bind(crate::ingest::dedup::to_bytes(&fingerprint.signature))
    .bind(&fingerprint.bands)
    .bind(serde_json::Value::Array(matches))
    .bind(serde_json::Value::Array(groups))
    .bind(at - window)
    .bind(reopen_after)
    .fetch_all(&mut **tx)
    .await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let cluster_id: i64 = first.try_get("cluster_id")?;
    let groups = rows
        .iter()
        .filter(|row| row.try_get::<Option<i64>, _>("position").is_ok_and(|p| p.is_some()))
        .map(stored_group)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Matched { cluster_id, groups }))
}

/// How many times a batch is tried when PostgreSQL aborts it for a deadlock or a
/// serialization failure.
const INGEST_ATTEMPTS: u32 = 5;

/// Whether PostgreSQL aborted the transaction to break a deadlock or a serialization
/// conflict: nothing was written, and trying again succeeds.
fn is_conflict(error: &sqlx::Error) -> bool {
    error.as_database_error().and_then(|e| e.code()).is_some_and(|code| code == "40P01" || code == "40001")
}

/// Stores one batch in one transaction (see [`Store::ingest`]): ids drawn in arrival
/// order, the group locks taken, the plain mentions inserted together, then each matching
/// mention judged in order, and what the batch gathered written at the end.
async fn ingest_batch<D: Decide>(tx: &mut Tx, batch: &[Arrival], decide: &D) -> Result<Vec<IngestOutcome>, StoreError> {
    let spike = decide.spike();
    let ids = draw_ids(tx, batch.len()).await?;
    lock_groups(tx, batch).await?;
    // A plain mention sharing its (feed, guid) with a matching one of the batch keeps its
    // place in line, so the one that arrived first is the one stored.
    let matching_keys: HashSet<(&str, &str)> = batch
        .iter()
        .filter(|arrival| !arrival.scored.matches.is_empty())
        .map(|arrival| (arrival.scored.mention.feed.as_str(), arrival.scored.mention.guid.as_str()))
        .collect();
    let in_line = |arrival: &Arrival| {
        !arrival.scored.matches.is_empty()
            || matching_keys.contains(&(arrival.scored.mention.feed.as_str(), arrival.scored.mention.guid.as_str()))
    };
    let together: Vec<(i64, &Scored)> = batch
        .iter()
        .zip(&ids)
        .filter(|(arrival, _)| !in_line(arrival))
        .map(|(arrival, id)| (*id, &arrival.scored))
        .collect();
    let inserted = insert_plain(tx, &together).await?;
    let fingerprints: Vec<Option<Cow<Fingerprint>>> =
        batch.iter().map(|arrival| (!arrival.scored.matches.is_empty()).then(|| arrival.fingerprint())).collect();
    let wanted: Vec<(usize, &Fingerprint)> =
        fingerprints.iter().enumerate().filter_map(|(place, f)| Some((place, f.as_deref()?))).collect();
    let mut stories = BatchStories::read(tx, &wanted).await?;
    let mut writes = BatchWrites::default();
    let mut outcomes = Vec::with_capacity(batch.len());
    for (place, (arrival, &id)) in batch.iter().zip(&ids).enumerate() {
        let outcome = if !in_line(arrival) {
            if inserted.contains(&id) {
                IngestOutcome::Stored { mention_id: id, cluster_id: id, opened: Vec::new(), attached: Vec::new() }
            } else {
                IngestOutcome::Duplicate
            }
        } else if arrival.scored.matches.is_empty() {
            match insert_plain(tx, &[(id, &arrival.scored)]).await?.contains(&id) {
                true => {
                    IngestOutcome::Stored { mention_id: id, cluster_id: id, opened: Vec::new(), attached: Vec::new() }
                }
                false => IngestOutcome::Duplicate,
            }
        } else {
            let fingerprint = fingerprints[place]
                .as_deref()
                .ok_or_else(|| StoreError::Corrupt("a matching mention lost its fingerprint".into()))?;
            let story = stories.find(place, fingerprint, arrival.scored.mention.effective_time());
            let outcome = ingest_one(tx, id, arrival, (&story, fingerprint), decide, &spike, &mut writes).await?;
            if let IngestOutcome::Stored { cluster_id, .. } = &outcome {
                stories.filed(&story, *cluster_id, fingerprint);
            }
            outcome
        };
        outcomes.push(outcome);
    }
    writes.write(tx).await?;
    let about: Vec<(Vec<String>, DateTime<Utc>)> =
        batch.iter().map(|a| (a.scored.brands.clone(), a.scored.mention.effective_time())).collect();
    let (mut ids, mut brands, mut ats) = (Vec::new(), Vec::new(), Vec::new());
    for (id, brand, at) in mention_brand_rows(&outcomes, &about) {
        ids.push(id);
        brands.push(brand);
        ats.push(at);
    }
    if !ids.is_empty() {
        sqlx::query(
            "INSERT INTO mention_brands (mention_id, brand, at) \
             SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TIMESTAMPTZ[]) ON CONFLICT DO NOTHING",
        )
        .bind(&ids)
        .bind(&brands)
        .bind(&ats)
        .execute(&mut **tx)
        .await?;
    }
    Ok(outcomes)
}

/// Stores one mention of a batch that matched a rule (see [`Store::ingest`]).
/// Writes a new open incident for `candidate`, its escalation and playbook copied on.
async fn insert_incident(
    tx: &mut Tx,
    candidate: &Candidate,
    escalation: EscalationState,
    first_mention_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let next_reminder = candidate.playbook.as_ref().and_then(|p| p.next_reminder(now, &[]));
    Ok(sqlx::query_scalar(
        "INSERT INTO incidents (group_key, rule, title, status, level, score, why, opened_at, \
         first_mention_at, policy, escalation_step, escalation_repeats, next_escalation_at, \
         crisis_type, playbook, drill, next_reminder_at, brand) \
         VALUES ($1, $2, $3, 'open', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         RETURNING id",
    )
    .bind(&candidate.group_key)
    .bind(&candidate.rule)
    .bind(&candidate.title)
    .bind(candidate.level.as_str())
    .bind(i64::from(candidate.score))
    .bind(&candidate.why)
    .bind(now)
    .bind(first_mention_at)
    .bind(to_value(&candidate.policy))
    .bind(i64::from(escalation.step))
    .bind(i64::from(escalation.repeats))
    .bind(escalation.next_at)
    .bind(&candidate.crisis_type)
    .bind(candidate.playbook.as_ref().map(to_value))
    .bind(candidate.drill)
    .bind(next_reminder)
    .bind(candidate.brand.as_deref().unwrap_or_default())
    .fetch_one(&mut **tx)
    .await?)
}

async fn ingest_one<D: Decide>(
    tx: &mut Tx,
    mention_id: i64,
    arrival: &Arrival,
    (story, fingerprint): (&Story, &Fingerprint),
    decide: &D,
    spike: &SpikeSettings,
    writes: &mut BatchWrites,
) -> Result<IngestOutcome, StoreError> {
    let now = arrival.now;
    let at = arrival.scored.mention.effective_time();
    let story = *story;
    let (scored, candidates) = decide.candidates(arrival.scored.clone(), &story, now);
    let mention = &scored.mention;
    let reopen_after = now - decide.reopen_within();
    let inserted =
        insert_matching(tx, mention_id, &scored, &story, fingerprint, &candidates, spike.window, reopen_after);
    let Some(Matched { cluster_id, groups }) = inserted.await? else {
        return Ok(IngestOutcome::Duplicate);
    };

    let (mut opened, mut attached) = (Vec::new(), Vec::new());
    for (candidate, (live, stored)) in candidates.iter().zip(groups) {
        // A group an earlier mention of the batch joined is as that mention left it.
        let stored = match writes.groups.get(&candidate.group_key) {
            Some(kept) => StoredGroup {
                first_at: Some(kept.first_at),
                mass: Some(kept.mass),
                last_spike_at: kept.last_spike_at,
                ..stored
            },
            None => stored,
        };
        let group = GroupVolume::of(stored, candidate.mention_at, cluster_id, spike);
        if candidate.volume_only {
            writes.keep_group(&candidate.group_key, &group, None);
            continue;
        }
        let judged = decide.judge(candidate, live.as_ref(), &group.volume, now);
        writes.keep_group(&candidate.group_key, &group, judged.spiked.then_some(at));
        if let Some(silence) = judged.held_by {
            sqlx::query("UPDATE silences SET held = held + 1 WHERE id = $1").bind(silence).execute(&mut **tx).await?;
        }
        let candidate = &judged.candidate;
        match judged.decision {
            Decision::Nothing => {}
            Decision::Open { escalation, fired } => {
                let first_mention_at = storm_start(tx, candidate, &group, spike).await?;
                let incident_id = insert_incident(tx, candidate, escalation, first_mention_at, now).await?;
                writes.attach(incident_id, mention_id, &scored, now);
                let details = opened_details(candidate, first_mention_at, mention_id, mention, None);
                append_event(tx, incident_id, &NewEvent::system(now, EventKind::Opened, details)).await?;
                attach_storm(tx, incident_id, candidate, first_mention_at, mention_id, now, writes).await?;
                if let Some(fired) = fired {
                    enqueue(tx, incident_id, &fired.channels, fired.kind, fired.level, now, now).await?;
                }
                opened.push(incident_id);
            }
            Decision::Reopen { incident_id, escalation, fired } => {
                flush_attached(tx, &mut writes.log, incident_id).await?;
                sqlx::query(
                    "UPDATE incidents SET status = 'open', acknowledged_at = NULL, resolved_at = NULL, level = $1, \
                     score = $2, why = $3, escalation_step = $4, escalation_repeats = $5, next_escalation_at = $6 \
                     WHERE id = $7 AND status = 'resolved'",
                )
                .bind(candidate.level.as_str())
                .bind(i64::from(candidate.score))
                .bind(&candidate.why)
                .bind(i64::from(escalation.step))
                .bind(i64::from(escalation.repeats))
                .bind(escalation.next_at)
                .bind(incident_id)
                .execute(&mut **tx)
                .await?;
                writes.attach(incident_id, mention_id, &scored, now);
                let details = serde_json::json!({
                    "from": Status::Resolved, "to": Status::Open, "level": candidate.level, "score": candidate.score,
                    "why": candidate.why, "reason": "new matches soon after it was resolved (reopen_within)",
                    "mention": mention_details(mention_id, mention),
                });
                append_event(tx, incident_id, &NewEvent::system(now, EventKind::Reopened, details)).await?;
                if let Some(fired) = fired {
                    enqueue(tx, incident_id, &fired.channels, NoticeKind::Reopened, fired.level, now, now).await?;
                }
                opened.push(incident_id);
            }
            Decision::Attach { incident_id, raised } => {
                writes.attach(incident_id, mention_id, &scored, now);
                writes.log.add(incident_id, mention_id, mention, now);
                if let Some(silence) = candidate.silenced_by {
                    flush_attached(tx, &mut writes.log, incident_id).await?;
                    note_silence(tx, silence, incident_id, now).await?;
                }
                if let Some(raise) = raised {
                    flush_attached(tx, &mut writes.log, incident_id).await?;
                    sqlx::query("UPDATE incidents SET level = $1, score = $2, why = $3 WHERE id = $4")
                        .bind(raise.to.as_str())
                        .bind(i64::from(raise.score))
                        .bind(&candidate.why)
                        .bind(incident_id)
                        .execute(&mut **tx)
                        .await?;
                    let details = serde_json::json!({
                        "from": raise.from, "to": raise.to, "score": raise.score, "why": candidate.why,
                    });
                    append_event(tx, incident_id, &NewEvent::system(now, EventKind::LevelChanged, details)).await?;
                    enqueue(tx, incident_id, &raise.notify, NoticeKind::LevelChanged, 0, now, now).await?;
                }
                attached.push(incident_id);
            }
        }
    }
    Ok(IngestOutcome::Stored { mention_id, cluster_id, opened, attached })
}

impl PostgresStore {
    /// Connects to `postgres://` or `postgresql://` URL (libpq-style query parameters such
    /// as `sslmode` and `options=-c search_path=...` apply).
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new().max_connections(16).connect_with(options).await?;
        Ok(PostgresStore { pool, url: redact(url) })
    }

    async fn write(&self) -> Result<Tx, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

impl Store for PostgresStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let fresh: [u8; 32] = rand::random();
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(name)
            .bind(fresh.as_slice())
            .execute(&mut *tx)
            .await?;
        let value: Vec<u8> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(name).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(value)
    }

    async fn create_session(
        &self,
        id_digest: &[u8],
        token_digest: &[u8],
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1").bind(forget_before).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO sessions (id_digest, token_digest, created_at, last_seen_at) VALUES ($1, $2, $3, $3)")
            .bind(id_digest)
            .bind(token_digest)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(&self, id_digest: &[u8]) -> Result<Option<StoredSession>, StoreError> {
        let row: Option<(Vec<u8>, DateTime<Utc>, DateTime<Utc>)> =
            sqlx::query_as("SELECT token_digest, created_at, last_seen_at FROM sessions WHERE id_digest = $1")
                .bind(id_digest)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(token_digest, created_at, last_seen_at)| StoredSession { token_digest, created_at, last_seen_at }))
    }

    async fn touch_session(&self, id_digest: &[u8], now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $1) WHERE id_digest = $2")
            .bind(now)
            .bind(id_digest)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn end_session(&self, id_digest: &[u8]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_digest = $1").bind(id_digest).execute(&self.pool).await?;
        Ok(())
    }

    async fn pruned_undated(&self, feed: &str, served: &[String]) -> Result<Vec<String>, StoreError> {
        // A read on every poll; a write only when the feed stopped serving some.
        let known: Vec<String> = sqlx::query_scalar("SELECT guid FROM pruned_undated WHERE feed = $1")
            .bind(feed)
            .fetch_all(&self.pool)
            .await?;
        let (still_served, gone) = still_served(known, served);
        if !gone.is_empty() {
            sqlx::query("DELETE FROM pruned_undated WHERE feed = $1 AND guid = ANY($2)")
                .bind(feed)
                .bind(&gone)
                .execute(&self.pool)
                .await?;
        }
        Ok(still_served)
    }

    async fn sync_feeds(&self, feeds: &[(String, String)]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        for (name, url) in feeds {
            // A changed URL is a different source: its validators no longer apply.
            sqlx::query(
                "INSERT INTO feeds (name, url) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET url = excluded.url, \
                 etag = CASE WHEN feeds.url = excluded.url THEN feeds.etag END, \
                 last_modified = CASE WHEN feeds.url = excluded.url THEN feeds.last_modified END",
            )
            .bind(name)
            .bind(url)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn feed_state(&self, name: &str) -> Result<Option<FeedState>, StoreError> {
        let row = sqlx::query("SELECT * FROM feeds WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        row.map(|row| feed_from_row(&row)).transpose()
    }

    async fn feed_states(&self) -> Result<Vec<FeedState>, StoreError> {
        let rows = sqlx::query("SELECT * FROM feeds ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter().map(feed_from_row).collect()
    }

    async fn lease_feed(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<FeedState>, StoreError> {
        // One conditional UPDATE: PostgreSQL locks the row, so of two daemons racing for a
        // free feed exactly one sees it free and takes it.
        let row = sqlx::query(
            "UPDATE feeds SET leased_by = $1, lease_until = $2 WHERE name = $3 \
             AND (next_poll_at IS NULL OR next_poll_at <= $4) \
             AND (lease_until IS NULL OR lease_until < $4 OR leased_by = $1) RETURNING *",
        )
        .bind(holder)
        .bind(until)
        .bind(name)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| feed_from_row(&row)).transpose()
    }

    async fn record_poll(&self, name: &str, record: &PollRecord, now: DateTime<Utc>) -> Result<(), StoreError> {
        let query = match record {
            PollRecord::Success { validators, new_items, next_poll_at, problems } => sqlx::query(
                "UPDATE feeds SET etag = $1, last_modified = $2, last_success_at = $3, consecutive_failures = 0, \
                 items_seen = items_seen + $4, next_poll_at = $5, last_problems = COALESCE($6, last_problems), \
                 leased_by = NULL, lease_until = NULL WHERE name = $7",
            )
            .bind(validators.etag.clone())
            .bind(validators.last_modified.clone())
            .bind(now)
            .bind(*new_items)
            .bind(*next_poll_at)
            .bind(problems.as_ref().map(|problems| serde_json::json!(problems).to_string())),
            PollRecord::Failure { error, next_poll_at } => sqlx::query(
                "UPDATE feeds SET last_error = $1, last_error_at = $2, \
                 consecutive_failures = consecutive_failures + 1, next_poll_at = $3, leased_by = NULL, \
                 lease_until = NULL WHERE name = $4",
            )
            .bind(error.clone())
            .bind(now)
            .bind(*next_poll_at),
        };
        query.bind(name).execute(&self.pool).await?;
        Ok(())
    }

    async fn ingest<D: Decide>(&self, batch: Vec<Arrival>, decide: &D) -> Result<Vec<IngestOutcome>, StoreError> {
        let mut attempt = 1;
        loop {
            let mut tx = self.write().await?;
            match ingest_batch(&mut tx, &batch, decide).await {
                Ok(outcomes) => {
                    tx.commit().await?;
                    return Ok(outcomes);
                }
                // Two daemons' batches can still meet on rows outside the group locks (a
                // story both are filing copies under); PostgreSQL then aborts one of them,
                // which loses nothing and is tried again.
                Err(StoreError::Database(error)) if attempt < INGEST_ATTEMPTS && is_conflict(&error) => {
                    tracing::warn!(attempt, error = %error, "a batch met another daemon's; storing it again");
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn story(&self, scored: &Scored) -> Result<Story, StoreError> {
        if scored.matches.is_empty() {
            return Ok(Story { cluster: None, copies: 0 });
        }
        let mut conn = self.pool.acquire().await?;
        find_story(&mut conn, &Fingerprint::of(&scored.mention), scored.mention.effective_time()).await
    }

    async fn due_escalations(&self, now: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM incidents WHERE status IN ('open', 'acknowledged') AND next_escalation_at IS NOT NULL \
             AND next_escalation_at <= $1 ORDER BY next_escalation_at",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn escalate<F>(&self, incident_id: i64, fire: F, now: DateTime<Utc>) -> Result<bool, StoreError>
    where
        F: Fn(&Policy, DateTime<Utc>, EscalationState) -> Option<Fired> + Send + Sync,
    {
        let mut tx = self.write().await?;
        let Some(row) = load_escalation(&mut tx, incident_id).await? else {
            return Err(StoreError::NoIncident(incident_id));
        };
        let mut state = row.state;
        match row.status {
            Status::Open => {}
            // Acknowledged and due: the `ack_timeout` passed with nobody resolving it. Back
            // to open, and escalation goes on from where it stopped, at once.
            Status::Acknowledged if state.next_at.is_some_and(|due| due <= now) => {
                sqlx::query(
                    "UPDATE incidents SET status = 'open', acknowledged_at = NULL, next_escalation_at = $1 \
                     WHERE id = $2 AND status = 'acknowledged'",
                )
                .bind(now)
                .bind(incident_id)
                .execute(&mut *tx)
                .await?;
                let details = serde_json::json!({
                    "from": Status::Acknowledged, "to": Status::Open, "ack_timeout_secs": row.policy.ack_timeout_secs,
                });
                append_event(&mut tx, incident_id, &NewEvent::system(now, EventKind::AckExpired, details)).await?;
                state.next_at = Some(now);
            }
            Status::Acknowledged | Status::Resolved => return Ok(false),
        }
        let Some(fired) = fire(&row.policy, row.opened_at, state) else {
            tx.commit().await?;
            return Ok(false);
        };
        let updated = sqlx::query(
            "UPDATE incidents SET escalation_step = $1, escalation_repeats = $2, next_escalation_at = $3 \
             WHERE id = $4 AND status = 'open' AND escalation_step = $5 AND escalation_repeats = $6",
        )
        .bind(i64::from(fired.next.step))
        .bind(i64::from(fired.next.repeats))
        .bind(fired.next.next_at)
        .bind(incident_id)
        .bind(i64::from(state.step))
        .bind(i64::from(state.repeats))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(false);
        }
        if fired.kind != NoticeKind::Opened {
            let details = serde_json::json!({
                "level": fired.level, "channels": fired.channels, "type": fired.kind,
                "next_at": fired.next.next_at.map(ts),
            });
            append_event(&mut tx, incident_id, &NewEvent::system(now, EventKind::Escalated, details)).await?;
        }
        enqueue(&mut tx, incident_id, &fired.channels, fired.kind, fired.level, now, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn transition(
        &self,
        incident_id: i64,
        action: Action,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Incident, StoreError> {
        let mut tx = self.write().await?;
        let row = load_escalation(&mut tx, incident_id).await?.ok_or(StoreError::NoIncident(incident_id))?;
        let next = row.status.apply(action)?;
        let told = row.policy.notified_channels(row.state);
        let (kind, event_kind) = transition_kinds(action);
        match action {
            Action::Acknowledge => {
                // Escalation stops; with an `ack_timeout` the incident comes due again then.
                let expires = row.policy.ack_timeout_secs.map(|secs| now + chrono::Duration::seconds(secs));
                sqlx::query(
                    "UPDATE incidents SET status = $1, acknowledged_at = $2, next_escalation_at = $3 WHERE id = $4",
                )
                .bind(next.as_str())
                .bind(now)
                .bind(expires)
                .bind(incident_id)
                .execute(&mut *tx)
                .await?;
            }
            Action::Resolve => {
                sqlx::query(
                    "UPDATE incidents SET status = $1, resolved_at = $2, next_escalation_at = NULL WHERE id = $3",
                )
                .bind(next.as_str())
                .bind(now)
                .bind(incident_id)
                .execute(&mut *tx)
                .await?;
            }
            Action::Reopen => {
                // Escalation starts over from the copied policy, as for a new incident.
                let restart = row.policy.start(now);
                sqlx::query(
                    "UPDATE incidents SET status = $1, acknowledged_at = NULL, resolved_at = NULL, \
                     escalation_step = 0, escalation_repeats = 0, next_escalation_at = $2 WHERE id = $3",
                )
                .bind(next.as_str())
                .bind(restart.next_at)
                .bind(incident_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        let details = serde_json::json!({ "from": row.status, "to": next });
        append_event(&mut tx, incident_id, &NewEvent { at: now, actor: actor.to_owned(), kind: event_kind, details })
            .await?;
        if action != Action::Reopen {
            enqueue(&mut tx, incident_id, &told, kind, row.state.step, now, now).await?;
        }
        let incident = fetch_incident(&mut tx, incident_id).await?;
        tx.commit().await?;
        Ok(incident)
    }

    async fn record(
        &self,
        incident_id: i64,
        entry: &Entry,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Incident, StoreError> {
        let mut tx = self.write().await?;
        let workflow = load_workflow(&mut tx, incident_id, true).await?;
        let change = workflow.entry(incident_id, entry)?;
        if let Some(who) = &change.assignee {
            sqlx::query("UPDATE incidents SET assignee = $1 WHERE id = $2")
                .bind(who)
                .bind(incident_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(next_reminder) = change.next_reminder {
            sqlx::query("UPDATE incidents SET next_reminder_at = $1 WHERE id = $2")
                .bind(next_reminder)
                .bind(incident_id)
                .execute(&mut *tx)
                .await?;
        }
        let event = NewEvent { at: now, actor: actor.to_owned(), kind: change.kind, details: change.details };
        append_event(&mut tx, incident_id, &event).await?;
        if let Some((text, channels)) = &change.send {
            for channel in channels {
                sqlx::query(
                    "INSERT INTO outbox (notice_id, incident_id, channel, kind, level, created_at, due_at, message) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
                )
                .bind(new_notice_id())
                .bind(incident_id)
                .bind(channel)
                .bind(Json(NoticeKind::StatusUpdate))
                .bind(i64::from(workflow.escalation.step))
                .bind(now)
                .bind(text)
                .execute(&mut *tx)
                .await?;
            }
        }
        let incident = fetch_incident(&mut tx, incident_id).await?;
        tx.commit().await?;
        Ok(incident)
    }

    async fn checklist(&self, incident_id: i64) -> Result<Checklist, StoreError> {
        let mut tx = self.pool.begin().await?;
        let workflow = load_workflow(&mut tx, incident_id, false).await?;
        tx.commit().await?;
        Ok(workflow.checklist())
    }

    async fn due_reminders(&self, now: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM incidents WHERE status <> 'resolved' AND next_reminder_at IS NOT NULL \
             AND next_reminder_at <= $1 ORDER BY next_reminder_at",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn remind(&self, incident_id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let workflow = load_workflow(&mut tx, incident_id, true).await?;
        let Some(reminder) = workflow.reminder(now) else {
            return Ok(false);
        };
        sqlx::query("UPDATE incidents SET next_reminder_at = $1 WHERE id = $2")
            .bind(reminder.next_at)
            .bind(incident_id)
            .execute(&mut *tx)
            .await?;
        if reminder.overdue.is_empty() {
            tx.commit().await?;
            return Ok(false);
        }
        let details = reminder.details();
        append_event(&mut tx, incident_id, &NewEvent::system(now, EventKind::StepOverdue, details)).await?;
        let step = workflow.escalation.step;
        enqueue(&mut tx, incident_id, &reminder.channels, NoticeKind::StepOverdue, step, now, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn review_input(&self, incident_id: i64) -> Result<ReviewInput, StoreError> {
        let incident = self.incident(incident_id).await?.ok_or(StoreError::NoIncident(incident_id))?;
        let timeline = self.timeline(incident_id).await?;
        let mut tx = self.pool.begin().await?;
        let workflow = load_workflow(&mut tx, incident_id, false).await?;
        let rows: Vec<(serde_json::Value, i64, Option<f64>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT snapshot, risk, sentiment, attached_at FROM incident_mentions WHERE incident_id = $1 \
             ORDER BY attached_at, mention_id",
        )
        .bind(incident_id)
        .fetch_all(&mut *tx)
        .await?;
        let mentions = rows
            .into_iter()
            .map(|(snapshot, risk, sentiment, attached_at)| {
                let mention: Mention = from_value(snapshot)?;
                Ok(ReviewMention {
                    feed: mention.feed,
                    title: mention.title,
                    url: mention.url,
                    published: mention.published,
                    attached_at,
                    risk: u8::try_from(risk).unwrap_or(100),
                    sentiment,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let rows: Vec<(String, serde_json::Value, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT channel, kind, attempts, state, last_error FROM outbox WHERE incident_id = $1 ORDER BY id",
        )
        .bind(incident_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let notifications = rows
            .into_iter()
            .map(|(channel, kind, attempts, state, last_error)| {
                Ok(NotificationOutcome {
                    channel,
                    kind: from_value(kind)?,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                    result: delivery(&state),
                    detail: last_error,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let chain = ChainStatus::of(&timeline);
        Ok(ReviewInput {
            incident,
            timeline,
            mentions,
            playbook: workflow.playbook,
            steps_done: workflow.done,
            notifications,
            chain,
        })
    }

    async fn add_silence(&self, silence: &NewSilence) -> Result<Silence, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO silences (scope, value, reason, created_by, created_at, ends_at, brand) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {SILENCE_COLUMNS}"
        )))
        .bind(silence.scope.as_str())
        .bind(&silence.value)
        .bind(&silence.reason)
        .bind(&silence.created_by)
        .bind(silence.created_at)
        .bind(silence.ends_at)
        .bind(&silence.brand)
        .fetch_one(&self.pool)
        .await?;
        silence_from_row(&row)
    }

    async fn silence(&self, id: i64) -> Result<Option<Silence>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SILENCE_COLUMNS} FROM silences WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(silence_from_row).transpose()
    }

    async fn silences(&self, active_at: Option<DateTime<Utc>>) -> Result<Vec<Silence>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SILENCE_COLUMNS} FROM silences WHERE $1::TIMESTAMPTZ IS NULL \
             OR (ends_at > $1 AND (ended_at IS NULL OR ended_at > $1)) ORDER BY id DESC"
        )))
        .bind(active_at)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(silence_from_row).collect()
    }

    async fn end_silence(&self, id: i64, actor: &str, now: DateTime<Utc>) -> Result<Silence, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE silences SET ended_at = $1, ended_by = $2 WHERE id = $3 AND ended_at IS NULL AND ends_at > $1 \
             RETURNING {SILENCE_COLUMNS}"
        )))
        .bind(now)
        .bind(actor)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => silence_from_row(&row),
            None => {
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM silences WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                match exists {
                    Some(_) => Err(StoreError::Refused(format!("silence {id} is already over"))),
                    None => Err(StoreError::NoSilence(id)),
                }
            }
        }
    }

    async fn claim_notices(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        // Rows another worker is claiming right now are skipped, not waited for.
        let rows = sqlx::query(
            "UPDATE outbox SET due_at = $1 WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' \
             AND due_at <= $2 ORDER BY due_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, notice_id, incident_id, channel, kind, created_at, attempts, rerouted_from, message",
        )
        .bind(now + lease)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut items = rows
            .iter()
            .map(|row| {
                Ok(OutboxItem {
                    id: row.try_get("id")?,
                    notice_id: row.try_get("notice_id")?,
                    incident_id: row.try_get("incident_id")?,
                    channel: row.try_get("channel")?,
                    kind: from_value(row.try_get("kind")?)?,
                    created_at: row.try_get("created_at")?,
                    attempts: row.try_get("attempts")?,
                    rerouted_from: row.try_get("rerouted_from")?,
                    message: row.try_get("message")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        items.sort_by_key(|item| item.id);
        Ok(items)
    }

    async fn finish_notices(&self, attempts: &[(OutboxItem, Attempt)], now: DateTime<Utc>) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        // Events of one incident chain one after another: its row is the lock. Taken in
        // id order up front, so two workers finishing notices of the same incidents queue
        // instead of deadlocking.
        let mut incidents: Vec<i64> = attempts.iter().map(|(item, _)| item.incident_id).collect();
        incidents.sort_unstable();
        incidents.dedup();
        sqlx::query("SELECT id FROM incidents WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&incidents)
            .execute(&mut *tx)
            .await?;
        for (item, attempt) in attempts {
            let (state, due_at, delivered_at, result) = match &attempt.result {
                AttemptResult::Delivered => ("delivered", now, Some(now), "delivered"),
                AttemptResult::RetryAt(at) => ("pending", *at, None, "retrying"),
                AttemptResult::Failed => ("failed", now, None, "failed"),
            };
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, state = $1, due_at = $2, last_error = $3, \
                 delivered_at = $4 WHERE id = $5",
            )
            .bind(state)
            .bind(due_at)
            .bind((state != "delivered").then(|| attempt.detail.clone()))
            .bind(delivered_at)
            .bind(item.id)
            .execute(&mut *tx)
            .await?;
            let details = serde_json::json!({
                "notice_id": item.notice_id,
                "channel": item.channel,
                "type": item.kind,
                "attempt": item.attempts + 1,
                "result": result,
                "detail": attempt.detail,
                "duration_ms": attempt.duration_ms,
                "next_attempt_at": matches!(attempt.result, AttemptResult::RetryAt(_)).then(|| ts(due_at)),
            });
            append_event(&mut tx, item.incident_id, &NewEvent::system(now, EventKind::Notified, details)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn release_notices(&self, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query("UPDATE outbox SET due_at = $1 WHERE id = ANY($2) AND state = 'pending'")
            .bind(now)
            .bind(ids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn reroute(
        &self,
        item: &OutboxItem,
        fallback: Option<&str>,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("SELECT id FROM incidents WHERE id = $1 FOR UPDATE")
            .bind(item.incident_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE outbox SET state = 'failed', last_error = $1 WHERE id = $2")
            .bind(detail)
            .bind(item.id)
            .execute(&mut *tx)
            .await?;
        if let Some(fallback) = fallback {
            sqlx::query(
                "INSERT INTO outbox (notice_id, incident_id, channel, kind, level, created_at, due_at, rerouted_from, \
                 message) SELECT $1, incident_id, $2, kind, level, $3, $3, channel, message FROM outbox WHERE id = $4",
            )
            .bind(new_notice_id())
            .bind(fallback)
            .bind(now)
            .bind(item.id)
            .execute(&mut *tx)
            .await?;
        }
        let details = serde_json::json!({
            "notice_id": item.notice_id, "channel": item.channel, "type": item.kind,
            "result": if fallback.is_some() { "rerouted" } else { "failed" }, "fallback": fallback, "detail": detail,
        });
        append_event(&mut tx, item.incident_id, &NewEvent::system(now, EventKind::Notified, details)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn policy(&self, incident_id: i64) -> Result<Policy, StoreError> {
        let policy: Option<serde_json::Value> = sqlx::query_scalar("SELECT policy FROM incidents WHERE id = $1")
            .bind(incident_id)
            .fetch_optional(&self.pool)
            .await?;
        from_value(policy.ok_or(StoreError::NoIncident(incident_id))?)
    }

    async fn channel_health(&self, name: &str) -> Result<ChannelHealth, StoreError> {
        let row =
            sqlx::query("SELECT * FROM channel_health WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        row.map_or_else(|| Ok(ChannelHealth::healthy(name)), |row| health_from_row(&row))
    }

    async fn channel_healths(&self) -> Result<Vec<ChannelHealth>, StoreError> {
        let rows = sqlx::query("SELECT * FROM channel_health ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter().map(health_from_row).collect()
    }

    async fn save_channel_health(&self, health: &ChannelHealth) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO channel_health (name, failures, open_until, disabled_at, disabled_reason) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO UPDATE SET failures = excluded.failures, open_until = excluded.open_until, \
             disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason",
        )
        .bind(&health.name)
        .bind(i64::from(health.failures))
        .bind(health.open_until)
        .bind(health.disabled_at)
        .bind(&health.disabled_reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_channel_enabled(
        &self,
        name: &str,
        enabled: bool,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<ChannelHealth, StoreError> {
        let health = if enabled {
            ChannelHealth::healthy(name)
        } else {
            ChannelHealth {
                disabled_at: Some(now),
                disabled_reason: Some(reason.to_owned()),
                ..self.channel_health(name).await?
            }
        };
        self.save_channel_health(&health).await?;
        Ok(health)
    }

    async fn pending_notices(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetch_one(&self.pool).await?)
    }

    async fn incident(&self, id: i64) -> Result<Option<Incident>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| incident_from_row(&row)).transpose()
    }

    async fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE ($1::TEXT IS NULL OR status = $1) \
             AND ($2::TEXT IS NULL OR rule = $2) AND ($3::BIGINT IS NULL OR id < $3) \
             AND ($5::TEXT IS NULL OR level = $5) AND ($6::TIMESTAMPTZ IS NULL OR opened_at >= $6) \
             AND ($7::TIMESTAMPTZ IS NULL OR opened_at < $7) AND ($8::TEXT[] IS NULL OR brand = ANY($8)) \
             ORDER BY id DESC LIMIT $4"
        )))
        .bind(filter.status.map(Status::as_str))
        .bind(filter.rule.as_deref())
        .bind(filter.before_id)
        .bind(filter.limit)
        .bind(filter.level.map(Level::as_str))
        .bind(filter.since)
        .bind(filter.until)
        .bind(filter.brands.as_deref())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(incident_from_row).collect()
    }

    async fn timeline(&self, incident_id: i64) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query("SELECT * FROM timeline WHERE incident_id = $1 ORDER BY id")
            .bind(incident_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let at: DateTime<Utc> = row.try_get("at")?;
                let text: Option<String> = row.try_get("details_text")?;
                let (details, stored) = match text {
                    Some(text) => (StoredText::parse_details(&text), (text, HashScheme::StoredBytes)),
                    // Written before migration 0004 kept the bytes.
                    None => {
                        let value: serde_json::Value = row.try_get("details")?;
                        let text = value.to_string();
                        (value, (text, HashScheme::Reserialized))
                    }
                };
                Ok(Event {
                    id: row.try_get("id")?,
                    incident_id: row.try_get("incident_id")?,
                    at,
                    actor: row.try_get("actor")?,
                    kind: row.try_get("kind")?,
                    details,
                    prev_hash: row.try_get("prev_hash")?,
                    hash: row.try_get("hash")?,
                    stored: StoredText { at: ts(at), details: stored.0, scheme: stored.1 },
                })
            })
            .collect()
    }

    async fn pulse(&self, incident_id: i64, recent_since: DateTime<Utc>) -> Result<Pulse, StoreError> {
        let (mentions, languages, sources, recent, sentiment): (i64, i64, i64, i64, Option<f64>) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(DISTINCT COALESCE(m.analyzed_lang, im.snapshot->>'lang')), \
             COUNT(DISTINCT im.snapshot->>'feed'), COUNT(*) FILTER (WHERE im.attached_at >= $1), \
             AVG(im.sentiment) FROM incident_mentions im LEFT JOIN mentions m ON m.id = im.mention_id \
             WHERE im.incident_id = $2",
        )
        .bind(recent_since)
        .bind(incident_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(Pulse { mentions, languages, sources, recent, sentiment })
    }

    async fn top_mentions(&self, incident_id: i64, limit: i64) -> Result<Vec<MentionSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT im.snapshot, im.risk, im.sentiment, rm.terms, COALESCE(m.cluster_id, m.id) AS story \
             FROM incident_mentions im JOIN incidents i ON i.id = im.incident_id \
             LEFT JOIN mentions m ON m.id = im.mention_id \
             LEFT JOIN rule_matches rm ON rm.mention_id = im.mention_id AND rm.rule = i.rule AND rm.brand = i.brand \
             WHERE im.incident_id = $1 ORDER BY im.risk DESC, im.mention_id LIMIT $2",
        )
        .bind(incident_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let mention: Mention = from_value(row.try_get("snapshot")?)?;
                let terms: Option<serde_json::Value> = row.try_get("terms")?;
                let terms: Vec<serde_json::Value> = terms.map(from_value).transpose()?.unwrap_or_default();
                let risk: i64 = row.try_get("risk")?;
                Ok(MentionSummary {
                    excerpt: mention.body.chars().take(EXCERPT_CHARS).collect(),
                    feed: mention.feed,
                    title: mention.title,
                    url: mention.url,
                    published: mention.published,
                    terms: unique_terms(&terms),
                    risk: u8::try_from(risk).unwrap_or(100),
                    sentiment: row.try_get("sentiment")?,
                    story: row.try_get("story")?,
                })
            })
            .collect()
    }

    async fn mentions(&self, filter: &MentionFilter) -> Result<Vec<StoredMention>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.id, m.feed, m.guid, m.title, m.body, m.author, m.url, m.published_at, m.fetched_at, \
             m.analyzed_lang, m.sentiment, m.risk, m.breakdown, m.cluster_id, \
             ARRAY(SELECT DISTINCT rule FROM rule_matches WHERE mention_id = m.id ORDER BY rule) AS rules, \
             ARRAY(SELECT brand FROM mention_brands WHERE mention_id = m.id ORDER BY brand) AS brands, \
             (SELECT verdict FROM mention_triage WHERE mention_id = m.id) AS triage \
             FROM mentions m WHERE ($1::TEXT IS NULL OR strpos(lower(m.title || ' ' || m.body), lower($1)) > 0) \
             AND ($2::TEXT IS NULL OR EXISTS (SELECT 1 FROM rule_matches rm WHERE rm.mention_id = m.id AND rm.rule = $2)) \
             AND ($3::TEXT IS NULL OR m.feed = $3) AND ($4::TIMESTAMPTZ IS NULL OR m.fetched_at >= $4) \
             AND ($5::TIMESTAMPTZ IS NULL OR m.fetched_at < $5) AND ($6::BIGINT IS NULL OR m.id < $6) \
             AND ($8::TEXT[] IS NULL OR EXISTS (SELECT 1 FROM mention_brands mb WHERE mb.mention_id = m.id \
             AND mb.brand = ANY($8))) ORDER BY m.id DESC LIMIT $7",
        )
        .bind(filter.text.as_deref())
        .bind(filter.rule.as_deref())
        .bind(filter.feed.as_deref())
        .bind(filter.since)
        .bind(filter.until)
        .bind(filter.before_id)
        .bind(filter.limit)
        .bind(filter.brands.as_deref())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let risk: i64 = row.try_get("risk")?;
                Ok(StoredMention {
                    id: row.try_get("id")?,
                    feed: row.try_get("feed")?,
                    guid: row.try_get("guid")?,
                    title: row.try_get("title")?,
                    body: row.try_get("body")?,
                    author: row.try_get("author")?,
                    url: row.try_get("url")?,
                    published: row.try_get("published_at")?,
                    fetched_at: row.try_get("fetched_at")?,
                    lang: row.try_get("analyzed_lang")?,
                    sentiment: row.try_get("sentiment")?,
                    risk: u8::try_from(risk).unwrap_or(100),
                    breakdown: row.try_get("breakdown")?,
                    rules: row.try_get("rules")?,
                    brands: row.try_get("brands")?,
                    story: row.try_get("cluster_id")?,
                    triage: row.try_get::<Option<String>, _>("triage")?.as_deref().and_then(Verdict::parse),
                })
            })
            .collect()
    }

    async fn mention_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM mentions").fetch_one(&self.pool).await?)
    }

    async fn escalate_mention(
        &self,
        mention_id: i64,
        scored: &Scored,
        candidate: &Candidate,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Escalated, StoreError> {
        let mut tx = self.write().await?;
        // One escalation of a group at a time: two people pressing at once open one incident.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(&candidate.group_key).execute(&mut *tx).await?;
        let live: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM incidents WHERE group_key = $1 AND status <> 'resolved' ORDER BY id DESC LIMIT 1",
        )
        .bind(&candidate.group_key)
        .fetch_optional(&mut *tx)
        .await?;
        let mut writes = BatchWrites::default();
        let (incident_id, opened) = match live {
            Some(incident_id) => {
                let held: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM incident_mentions WHERE incident_id = $1 AND mention_id = $2)",
                )
                .bind(incident_id)
                .bind(mention_id)
                .fetch_one(&mut *tx)
                .await?;
                if !held {
                    writes.attach(incident_id, mention_id, scored, now);
                    let event = escalated_attach_event(mention_id, &scored.mention, actor, now);
                    append_event(&mut tx, incident_id, &event).await?;
                }
                (incident_id, false)
            }
            None => {
                let (escalation, fired) = escalation_start(&candidate.policy, now);
                let first_mention_at = candidate.mention_at.min(now);
                let incident_id = insert_incident(&mut tx, candidate, escalation, first_mention_at, now).await?;
                writes.attach(incident_id, mention_id, scored, now);
                let details = opened_details(candidate, first_mention_at, mention_id, &scored.mention, Some(actor));
                let event = NewEvent { at: now, actor: actor.to_owned(), kind: EventKind::Opened, details };
                append_event(&mut tx, incident_id, &event).await?;
                if let Some(fired) = fired {
                    enqueue(&mut tx, incident_id, &fired.channels, fired.kind, fired.level, now, now).await?;
                }
                (incident_id, true)
            }
        };
        writes.write(&mut tx).await?;
        let incident = fetch_incident(&mut tx, incident_id).await?;
        tx.commit().await?;
        Ok(Escalated { incident, opened })
    }

    async fn activity(&self) -> Result<Activity, StoreError> {
        let (last_event, last_mention): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE((SELECT MAX(id) FROM timeline), 0), COALESCE((SELECT MAX(id) FROM mentions), 0)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Activity { last_event, last_mention })
    }

    async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<EventMark>, StoreError> {
        let rows: Vec<(i64, i64, String)> =
            sqlx::query_as("SELECT id, incident_id, kind FROM timeline WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(id, incident_id, kind)| EventMark { id, incident_id, kind }).collect())
    }

    async fn triage(
        &self,
        mention_id: i64,
        verdict: Verdict,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Triage>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some((title, body)) =
            sqlx::query_as::<_, (String, String)>("SELECT title, body FROM mentions WHERE id = $1")
                .bind(mention_id)
                .fetch_optional(&mut *tx)
                .await?
        else {
            return Ok(None);
        };
        let rows =
            sqlx::query("SELECT rule, brand, terms FROM rule_matches WHERE mention_id = $1 ORDER BY rule, brand")
                .bind(mention_id)
                .fetch_all(&mut *tx)
                .await?;
        let matches = rows
            .iter()
            .map(|row| {
                let terms: Vec<serde_json::Value> = from_value(row.try_get("terms")?)?;
                Ok(TriagedMatch {
                    rule: row.try_get("rule")?,
                    brand: row.try_get("brand")?,
                    terms: unique_terms(&terms),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        sqlx::query(
            "INSERT INTO mention_triage (mention_id, verdict, actor, at, title, body, matches) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (mention_id) DO UPDATE SET verdict = excluded.verdict, actor = excluded.actor, at = excluded.at, \
             title = excluded.title, body = excluded.body, matches = excluded.matches",
        )
        .bind(mention_id)
        .bind(verdict.as_str())
        .bind(actor)
        .bind(now)
        .bind(&title)
        .bind(&body)
        .bind(to_value(&matches))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(Triage { mention_id, verdict, actor: actor.to_owned(), at: now, title, body, matches }))
    }

    async fn triaged(&self, since: DateTime<Utc>) -> Result<Vec<Triage>, StoreError> {
        let rows = sqlx::query(
            "SELECT mention_id, verdict, actor, at, title, body, matches FROM mention_triage WHERE at >= $1 \
             ORDER BY at DESC, mention_id DESC",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let verdict: String = row.try_get("verdict")?;
                Ok(Triage {
                    mention_id: row.try_get("mention_id")?,
                    verdict: Verdict::parse(&verdict)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown verdict {verdict:?}")))?,
                    actor: row.try_get("actor")?,
                    at: row.try_get("at")?,
                    title: row.try_get("title")?,
                    body: row.try_get("body")?,
                    matches: from_value(row.try_get("matches")?)?,
                })
            })
            .collect()
    }

    async fn rule_match_terms(
        &self,
        rule: &str,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<RuleMatchTerms>, StoreError> {
        let rows = sqlx::query(
            "SELECT mention_id, brand, terms FROM rule_matches WHERE rule = $1 AND at >= $2 ORDER BY at DESC LIMIT $3",
        )
        .bind(rule)
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let terms: Vec<serde_json::Value> = from_value(row.try_get("terms")?)?;
                Ok(RuleMatchTerms {
                    mention_id: row.try_get("mention_id")?,
                    brand: row.try_get("brand")?,
                    terms: unique_terms(&terms),
                })
            })
            .collect()
    }

    async fn share_of_voice(
        &self,
        brands: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        top: i64,
    ) -> Result<Vec<BrandVoice>, StoreError> {
        let mut voices = Vec::with_capacity(brands.len());
        for brand in brands {
            let counts: VoiceCounts = sqlx::query_as(
                "SELECT COUNT(*), AVG(m.sentiment), COUNT(*) FILTER (WHERE m.sentiment < -0.05), \
                 COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM rule_matches rm \
                 WHERE rm.mention_id = mb.mention_id AND rm.brand = mb.brand)) \
                 FROM mention_brands mb JOIN mentions m ON m.id = mb.mention_id \
                 WHERE mb.brand = $1 AND mb.at >= $2 AND mb.at < $3",
            )
            .bind(brand)
            .bind(from)
            .bind(to)
            .fetch_one(&self.pool)
            .await?;
            let stories: Vec<VoiceRow> = sqlx::query_as(
                "SELECT s.story, COALESCE(first.title, ''), s.mentions, \
                 (SELECT rm.rule FROM rule_matches rm JOIN mention_brands b ON b.mention_id = rm.mention_id \
                  JOIN mentions x ON x.id = rm.mention_id WHERE rm.brand = $1 AND b.brand = $1 \
                  AND COALESCE(x.cluster_id, x.id) = s.story AND b.at >= $2 AND b.at < $3 \
                  ORDER BY rm.severity DESC, rm.rule LIMIT 1) \
                 FROM (SELECT COALESCE(m.cluster_id, m.id) AS story, COUNT(*) AS mentions \
                       FROM mention_brands mb JOIN mentions m ON m.id = mb.mention_id \
                       WHERE mb.brand = $1 AND mb.at >= $2 AND mb.at < $3 GROUP BY 1) s \
                 LEFT JOIN mentions first ON first.id = s.story \
                 ORDER BY s.mentions DESC, s.story DESC LIMIT $4",
            )
            .bind(brand)
            .bind(from)
            .bind(to)
            .bind(top)
            .fetch_all(&self.pool)
            .await?;
            voices.push(BrandVoice::of(brand, counts, stories));
        }
        Ok(voices)
    }

    async fn overview_rows(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        brands: Option<&[String]>,
        limit: i64,
    ) -> Result<Vec<OverviewRow>, StoreError> {
        // A mention's time is never after its fetch, so the fetch-time index bounds the scan.
        let rows = sqlx::query(
            "SELECT at, feed, analyzed_lang, sentiment, story, title, rules FROM ( \
             SELECT CASE WHEN m.published_at IS NOT NULL AND m.published_at <= m.fetched_at \
             THEN m.published_at ELSE m.fetched_at END AS at, m.feed, m.analyzed_lang, m.sentiment, \
             COALESCE(m.cluster_id, m.id) AS story, left(m.title, $5::INT) AS title, m.id, \
             ARRAY(SELECT DISTINCT rule FROM rule_matches WHERE mention_id = m.id ORDER BY rule) AS rules \
             FROM mentions m WHERE m.fetched_at >= $1 AND ($3::TEXT[] IS NULL OR EXISTS (SELECT 1 \
             FROM mention_brands mb WHERE mb.mention_id = m.id AND mb.brand = ANY($3)))) counted \
             WHERE at >= $1 AND at < $2 ORDER BY at DESC, id DESC LIMIT $4",
        )
        .bind(from)
        .bind(to)
        .bind(brands)
        .bind(limit)
        .bind(OVERVIEW_TITLE_CHARS as i32)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OverviewRow {
                    at: row.try_get("at")?,
                    feed: row.try_get("feed")?,
                    lang: row.try_get("analyzed_lang")?,
                    sentiment: row.try_get("sentiment")?,
                    story: row.try_get("story")?,
                    title: row.try_get("title")?,
                    rules: row.try_get("rules")?,
                })
            })
            .collect()
    }

    async fn adopt_unbranded(&self, brand: &str) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let marked = sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(ADOPTED_KEY)
            .bind(brand.as_bytes())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if marked == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE rule_matches SET brand = $1 WHERE brand = ''").bind(brand).execute(&mut *tx).await?;
        let filed = "CASE WHEN group_key LIKE 'drill:rule:%' THEN 'drill:brand:' || $1 || ':' || substr(group_key, 7) \
                     ELSE 'brand:' || $1 || ':' || group_key END";
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE incidents SET brand = $1, group_key = {filed} WHERE brand = ''"
        )))
        .bind(brand)
        .execute(&mut *tx)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE groups SET group_key = {filed} WHERE group_key LIKE 'rule:%' OR group_key LIKE 'drill:rule:%'"
        )))
        .bind(brand)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO mention_brands (mention_id, brand, at) SELECT id, $1, \
             CASE WHEN published_at IS NOT NULL AND published_at <= fetched_at THEN published_at ELSE fetched_at END \
             FROM mentions ON CONFLICT DO NOTHING",
        )
        .bind(brand)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn prune(
        &self,
        before: DateTime<Utc>,
        from: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<Pruned, StoreError> {
        let mut tx = self.write().await?;
        // Rows another daemon's prune has locked are skipped, not waited for: two daemons
        // pruning at once take disjoint batches and never wait on each other.
        let doomed: Vec<(i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT id, fetched_at FROM mentions m WHERE fetched_at < $1 AND ($2::TIMESTAMPTZ IS NULL OR fetched_at >= $2) \
             AND NOT EXISTS (SELECT 1 FROM incident_mentions im WHERE im.mention_id = m.id) \
             ORDER BY fetched_at LIMIT $3 FOR UPDATE OF m SKIP LOCKED",
        )
        .bind(before)
        .bind(from)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let ids: Vec<i64> = doomed.iter().map(|(id, _)| *id).collect();
        sqlx::query(
            "INSERT INTO pruned_undated (feed, guid) SELECT feed, guid FROM mentions \
             WHERE id = ANY($1) AND published_at IS NULL ON CONFLICT DO NOTHING",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM rule_matches WHERE mention_id = ANY($1)").bind(&ids).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM mention_brands WHERE mention_id = ANY($1)").bind(&ids).execute(&mut *tx).await?;
        let mentions =
            sqlx::query("DELETE FROM mentions WHERE id = ANY($1)").bind(&ids).execute(&mut *tx).await?.rows_affected();
        let stories: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM stories WHERE last_at < $1 ORDER BY last_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM story_bands WHERE story_id = ANY($1)").bind(&stories).execute(&mut *tx).await?;
        let stories = sqlx::query("DELETE FROM stories WHERE id = ANY($1)")
            .bind(&stories)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Pruned { mentions, stories, resume_at: doomed.last().map(|(_, at)| *at) })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT id FROM incidents LIMIT 1").fetch_optional(&self.pool).await?;
        Ok(())
    }
}

fn feed_from_row(row: &PgRow) -> Result<FeedState, StoreError> {
    Ok(FeedState {
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        validators: Validators { etag: row.try_get("etag")?, last_modified: row.try_get("last_modified")? },
        last_success_at: row.try_get("last_success_at")?,
        last_error: row.try_get("last_error")?,
        last_error_at: row.try_get("last_error_at")?,
        consecutive_failures: row.try_get("consecutive_failures")?,
        next_poll_at: row.try_get("next_poll_at")?,
        items_seen: row.try_get("items_seen")?,
        problems: row
            .try_get::<Option<String>, _>("last_problems")?
            .map(|text| json(&text))
            .transpose()?
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::common::fixtures::{FixedScore, ingest, scored};

    #[test]
    fn batch_records_travel_in_messages_under_the_limit_in_order_and_a_big_one_alone() {
        let record = |n: usize, len: usize| serde_json::json!({"n": n, "text": "x".repeat(len)});
        let mut records: Vec<serde_json::Value> = (0..100).map(|n| record(n, MESSAGE_JSON_BYTES / 20)).collect();
        records.insert(50, record(1000, MESSAGE_JSON_BYTES * 2));
        let messages = in_messages(records).expect("JSON values serialize");
        let arrays: Vec<Vec<serde_json::Value>> =
            messages.iter().map(|m| serde_json::from_str(m).expect("each message is a JSON array")).collect();
        let order: Vec<u64> = arrays.iter().flatten().map(|r| r["n"].as_u64().unwrap_or(u64::MAX)).collect();
        let mut expected: Vec<u64> = (0..100).collect();
        expected.insert(50, 1000);
        assert_eq!(order, expected, "every record once, in order");
        for (message, array) in messages.iter().zip(&arrays) {
            let (size, records) = (message.len(), array.len());
            assert!(size <= MESSAGE_JSON_BYTES || records == 1, "{records} records in {size} bytes");
        }
        assert!(messages.len() >= 5, "five limits' worth of small records take several messages: {}", messages.len());
        assert!(in_messages(Vec::<serde_json::Value>::new()).expect("nothing to serialize").is_empty());
    }

    /// A schema of its own in the test database named by `TOCSIN_TEST_DATABASE_URL`, so
    /// tests run side by side; dropped by [`Scratch::drop_schema`]. `None` (with a note)
    /// when the variable is unset; a database that cannot be reached fails the test.
    struct Scratch {
        store: PostgresStore,
        admin: PgPool,
        schema: String,
    }

    impl Scratch {
        async fn new() -> Option<Scratch> {
            let Ok(base) = std::env::var("TOCSIN_TEST_DATABASE_URL") else {
                eprintln!("TOCSIN_TEST_DATABASE_URL is not set: skipping this PostgreSQL test");
                return None;
            };
            let admin = PgPool::connect(&base).await.expect("the test database is reachable");
            let schema = format!("t_{:016x}", rand::random::<u64>());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&admin)
                .await
                .expect("create schema");
            let separator = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
            let store = PostgresStore::connect(&url).await.expect("open");
            store.migrate().await.expect("migrate");
            Some(Scratch { store, admin, schema })
        }

        async fn drop_schema(self) {
            self.store.pool.close().await;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {} CASCADE", self.schema)))
                .execute(&self.admin)
                .await
                .expect("drop schema");
        }
    }

    #[tokio::test]
    async fn the_database_itself_refuses_to_edit_or_delete_timeline_events() {
        let Some(scratch) = Scratch::new().await else { return };
        let store = &scratch.store;
        let now = Utc::now();
        let outcome = ingest(store, &scored("a", 70), 70, now).await;
        assert!(matches!(outcome, IngestOutcome::Stored { ref opened, .. } if opened.len() == 1));
        assert_eq!(store.pending_notices().await.expect("pending"), 1, "the notice is written with the incident");

        let update = sqlx::query("UPDATE timeline SET actor = 'mallory'").execute(&store.pool).await;
        assert!(update.is_err_and(|e| e.to_string().contains("append-only")));
        let delete = sqlx::query("DELETE FROM timeline").execute(&store.pool).await;
        assert!(delete.is_err_and(|e| e.to_string().contains("append-only")));
        let timeline = store.timeline(1).await.expect("timeline");
        assert_eq!(timeline.len(), 1);
        assert!(crate::incident::timeline::verify(&timeline).is_ok(), "the chain verifies as read back");
        scratch.drop_schema().await;
    }

    /// Whatever the details hold, the chain verifies as read back and the details read back
    /// as written.
    #[tokio::test]
    async fn any_details_appended_verify_and_read_back_as_written() {
        use crate::incident::timeline::verify;
        use crate::store::common::fixtures::awkward_details;
        let Some(scratch) = Scratch::new().await else { return };
        let store = &scratch.store;
        let now = Utc::now();
        ingest(store, &scored("a", 70), 70, now).await;
        let details = awkward_details(300);
        let mut tx = store.pool.begin().await.expect("begin");
        for (n, value) in details.iter().enumerate() {
            let at = now + chrono::Duration::microseconds(n as i64);
            append_event(&mut tx, 1, &NewEvent::system(at, EventKind::Note, value.clone())).await.expect("append");
        }
        tx.commit().await.expect("commit");
        let timeline = store.timeline(1).await.expect("timeline");
        assert_eq!(timeline.len(), 301);
        for (event, value) in timeline[1..].iter().zip(&details) {
            assert_eq!(&event.details, value, "event {}", event.id);
        }
        assert_eq!(verify(&timeline).map(|i| (i.events, i.reserialized)), Ok((301, 0)));
        scratch.drop_schema().await;
    }

    /// JSONB rewrites a float on the way in, so the chain is checked over `details_text`:
    /// a spike's p-value verifies, an edit of the kept bytes is named, and an event written
    /// before the bytes were kept is checked over its JSON serialized again, and said so.
    #[tokio::test]
    async fn the_chain_holds_over_the_stored_bytes_and_old_events_are_checked_as_before() {
        use crate::incident::timeline::{Break, HashScheme, event_hash, verify};
        let Some(scratch) = Scratch::new().await else { return };
        let store = &scratch.store;
        let now = Utc::now();
        ingest(store, &scored("a", 70), 70, now).await;
        let mut tx = store.pool.begin().await.expect("begin");
        let spike = serde_json::json!({ "from": "high", "to": "critical", "p_value": 2.453062177135147e-11 });
        append_event(&mut tx, 1, &NewEvent::system(now, EventKind::LevelChanged, spike.clone())).await.expect("append");
        tx.commit().await.expect("commit");
        let timeline = store.timeline(1).await.expect("timeline");
        assert_eq!(timeline[1].details, spike);
        assert_eq!(verify(&timeline).map(|i| (i.events, i.reserialized)), Ok((2, 0)));

        // An event as the store wrote them before migration 0004: JSONB only, no bytes kept.
        let old = serde_json::json!({ "text": "written before the bytes were kept" });
        let at = ts(now);
        let hash = event_hash(&timeline[1].hash, 1, &at, "alice", "note", &old.to_string());
        sqlx::query(
            "INSERT INTO timeline (incident_id, at, actor, kind, details, prev_hash, hash) \
             VALUES (1, $1, 'alice', 'note', $2, $3, $4)",
        )
        .bind(now)
        .bind(&old)
        .bind(&timeline[1].hash)
        .bind(&hash)
        .execute(&store.pool)
        .await
        .expect("insert an old-style event");
        let timeline = store.timeline(1).await.expect("timeline");
        assert_eq!(timeline[2].stored.scheme, HashScheme::Reserialized);
        assert_eq!(verify(&timeline).map(|i| (i.events, i.reserialized)), Ok((3, 1)));

        sqlx::query("DROP TRIGGER timeline_refuses_update ON timeline").execute(&store.pool).await.expect("drop");
        sqlx::query("UPDATE timeline SET details_text = replace(details_text, 'critical', 'high') WHERE id = 2")
            .execute(&store.pool)
            .await
            .expect("edit");
        let broken = store.timeline(1).await.expect("timeline");
        let broken = verify(&broken).expect_err("the edit is seen");
        assert_eq!((broken.event.id, broken.why), (2, Break::Altered));
        scratch.drop_schema().await;
    }

    #[tokio::test]
    async fn a_syndicated_copy_joins_the_first_story_s_cluster_and_a_new_story_starts_its_own() {
        let Some(scratch) = Scratch::new().await else { return };
        let store = &scratch.store;
        let now = Utc::now();
        let story = "Several parents report vomiting and fever after their children ate Acme strawberry yogurt \
                     bought last week. The county health department is collecting samples from stores.";
        let with_text = |guid: &str, title: &str, body: &str| {
            let mut s = scored(guid, 70);
            s.mention.title = title.into();
            s.mention.body = body.into();
            s
        };
        let cluster = |outcome: IngestOutcome| match outcome {
            IngestOutcome::Stored { cluster_id, mention_id, .. } => (mention_id, cluster_id),
            IngestOutcome::Duplicate => panic!("stored"),
        };
        let first = cluster(ingest(store, &with_text("a", "Acme yogurt made kids sick", story), 70, now).await);
        assert_eq!(first.0, first.1, "the first of a story is its own cluster");
        let herald =
            with_text("b", "Acme yogurt made kids sick - Herald", &format!("{story} Read more at the Herald."));
        let copy = cluster(ingest(store, &herald, 70, now).await);
        assert_eq!(copy.1, first.0, "the syndicated copy joins the first story");
        let strollers = with_text("c", "Acme recalls strollers", "A faulty brake led Acme to recall 20,000 strollers.");
        let other = cluster(ingest(store, &strollers, 70, now).await);
        assert_eq!(other.1, other.0, "another story starts its own cluster");
        scratch.drop_schema().await;
    }

    #[tokio::test]
    async fn a_refetched_item_is_stored_once_and_attaches_to_the_live_incident() {
        let Some(scratch) = Scratch::new().await else { return };
        let store = &scratch.store;
        let now = Utc::now();
        ingest(store, &scored("a", 70), 70, now).await;
        let again = ingest(store, &scored("a", 70), 70, now).await;
        assert_eq!(again, IngestOutcome::Duplicate);
        let second = ingest(store, &scored("b", 65), 65, now).await;
        assert!(
            matches!(second, IngestOutcome::Stored { ref opened, ref attached, .. } if opened.is_empty() && attached.len() == 1)
        );
        assert_eq!(store.mention_count().await.expect("count"), 2);
        let incidents = store.incidents(&IncidentFilter { limit: 10, ..Default::default() }).await.expect("list");
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0].mentions, 2);
        scratch.drop_schema().await;
    }

    #[tokio::test]
    async fn a_batch_keeps_arrival_order_and_logs_its_attachments_as_one_event_per_incident() {
        let Some(scratch) = Scratch::new().await else { return };
        let store = &scratch.store;
        let now = Utc::now();
        let plain = |guid: &str| {
            let mut s = scored(guid, 0);
            s.matches.clear();
            Arrival::new(s, now)
        };
        let matched = |guid: &str| {
            let mut s = scored(guid, 70);
            s.mention.body = format!("{guid}: a different story about Acme yogurt each time, number {guid}");
            Arrival::new(s, now)
        };
        let batch = vec![plain("a"), matched("m1"), plain("a"), matched("m2"), plain("b"), matched("m3"), plain("b")];
        let outcomes = store.ingest(batch, &FixedScore(70)).await.expect("ingest");
        // A sequence hands out an id to a row refused as a duplicate too: ids rise in
        // arrival order, with gaps.
        let ids: Vec<Option<i64>> = outcomes
            .iter()
            .map(|o| match o {
                IngestOutcome::Stored { mention_id, .. } => Some(*mention_id),
                IngestOutcome::Duplicate => None,
            })
            .collect();
        let stored: Vec<i64> = ids.iter().flatten().copied().collect();
        assert_eq!(ids.iter().map(Option::is_some).collect::<Vec<_>>(), [true, true, false, true, true, true, false]);
        assert!(stored.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert!(matches!(&outcomes[1], IngestOutcome::Stored { opened, .. } if opened.len() == 1));
        assert!(matches!(&outcomes[3], IngestOutcome::Stored { attached, .. } if attached.len() == 1));

        let kinds: Vec<(String, serde_json::Value)> =
            store.timeline(1).await.expect("timeline").into_iter().map(|e| (e.kind, e.details)).collect();
        assert_eq!(kinds.len(), 2, "opened, then one event for both attachments: {kinds:?}");
        assert_eq!(kinds[0].0, "opened");
        assert_eq!(kinds[1].0, "mentions_attached");
        assert_eq!(kinds[1].1["mention_ids"], serde_json::json!([stored[2], stored[4]]));
        assert_eq!(kinds[1].1["count"], 2);
        scratch.drop_schema().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_daemons_storing_one_group_s_mentions_at_once_open_one_incident_and_claim_each_notice_once() {
        let Some(scratch) = Scratch::new().await else { return };
        let store = &scratch.store;
        let now = Utc::now();
        // Ten mentions of one group, stored by ten writers at once, each on its own connection.
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(10));
        let writers: Vec<_> = (0..10)
            .map(|n| {
                let (store, start) = (store.clone(), start.clone());
                let mut s = scored(&format!("m{n}"), 70);
                s.mention.body = format!("story {n}: a different report about Acme yogurt, number {n}");
                tokio::spawn(async move {
                    let mut tx = store.write().await.expect("tx");
                    sqlx::query("SELECT 1").execute(&mut *tx).await.expect("connected");
                    tx.commit().await.expect("commit");
                    start.wait().await;
                    ingest(&store, &s, 70, now).await
                })
            })
            .collect();
        let outcomes: Vec<IngestOutcome> =
            futures_util::future::join_all(writers).await.into_iter().map(|o| o.expect("writer")).collect();
        let opened: usize = outcomes
            .iter()
            .map(|o| match o {
                IngestOutcome::Stored { opened, .. } => opened.len(),
                IngestOutcome::Duplicate => 0,
            })
            .sum();
        assert_eq!(opened, 1, "{outcomes:?}");
        let incidents = store.incidents(&IncidentFilter { limit: 10, ..Default::default() }).await.expect("list");
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0].mentions, 10);
        let timeline = store.timeline(incidents[0].id).await.expect("timeline");
        assert!(crate::incident::timeline::verify(&timeline).is_ok(), "one chain, no fork: {timeline:?}");

        // More notices, claimed by four workers at once: each goes to one of them.
        for n in 0..20 {
            let mut tx = store.write().await.expect("tx");
            enqueue(&mut tx, incidents[0].id, &[format!("channel-{n}")], NoticeKind::Opened, 0, now, now)
                .await
                .expect("enqueue");
            tx.commit().await.expect("commit");
        }
        let lease = chrono::Duration::minutes(5);
        let workers = (0..4).map(|_| store.claim_notices(now, lease, 8));
        let claimed: Vec<i64> = futures_util::future::join_all(workers)
            .await
            .into_iter()
            .flat_map(|items| items.expect("claim"))
            .map(|item| item.id)
            .collect();
        let mut unique = claimed.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), claimed.len(), "no notice claimed twice: {claimed:?}");
        assert_eq!(claimed.len(), 21, "every due notice claimed");
        scratch.drop_schema().await;
    }

    #[tokio::test]
    async fn delivery_attempts_reroutes_and_releases_land_on_the_outbox_and_the_timeline() {
        let Some(scratch) = Scratch::new().await else { return };
        let store = &scratch.store;
        let now = Utc::now();
        let id = match ingest(store, &scored("a", 70), 70, now).await {
            IngestOutcome::Stored { opened, .. } => opened[0],
            IngestOutcome::Duplicate => panic!("stored"),
        };
        let lease = chrono::Duration::minutes(5);
        let claimed = store.claim_notices(now, lease, 10).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        assert!(store.claim_notices(now, lease, 10).await.expect("claim").is_empty(), "leased");
        let retry = Attempt {
            result: AttemptResult::RetryAt(now + chrono::Duration::minutes(1)),
            detail: "retry: 503".into(),
            duration_ms: 12,
        };
        store.finish_notices(&[(claimed[0].clone(), retry)], now).await.expect("finish");
        let again = store.claim_notices(now + chrono::Duration::minutes(1), lease, 10).await.expect("claim");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 1);
        store.release_notices(&[again[0].id], now).await.expect("release");
        let released = store.claim_notices(now, lease, 10).await.expect("claim");
        store.reroute(&released[0], Some("fallback"), "channel disabled", now).await.expect("reroute");
        let fallback = store.claim_notices(now, lease, 10).await.expect("claim");
        assert_eq!(fallback.len(), 1);
        assert_eq!((fallback[0].channel.as_str(), fallback[0].rerouted_from.as_deref()), ("fallback", Some("pr")));
        let delivered = Attempt { result: AttemptResult::Delivered, detail: "delivered: 200".into(), duration_ms: 5 };
        store.finish_notices(&[(fallback[0].clone(), delivered)], now).await.expect("finish");
        assert_eq!(store.pending_notices().await.expect("pending"), 0);

        let review = store.review_input(id).await.expect("review");
        let results: Vec<_> = review.notifications.iter().map(|n| (n.channel.as_str(), n.attempts)).collect();
        assert_eq!(results, [("pr", 1), ("fallback", 1)]);
        assert!(crate::incident::timeline::verify(&review.timeline).is_ok());
        let kinds: Vec<_> = review.timeline.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["opened", "notified", "notified", "notified"]);

        store.set_channel_enabled("pr", false, "410 Gone", now).await.expect("disable");
        let health = store.channel_health("pr").await.expect("health");
        assert_eq!(health.disabled_reason.as_deref(), Some("410 Gone"));
        assert!(
            health.disabled_at.is_some_and(|at| (at - now).num_microseconds() == Some(0)),
            "kept to the microsecond"
        );
        assert_eq!(store.channel_healths().await.expect("healths").len(), 1);
        scratch.drop_schema().await;
    }

    #[tokio::test]
    async fn its_debug_output_hides_the_password() {
        let url = "postgres://tocsin:hunter2@127.0.0.1:5432/tocsin";
        // A lazy pool: nothing connects.
        let options = PgConnectOptions::from_str(url).expect("options");
        let store = PostgresStore { pool: PgPoolOptions::new().connect_lazy_with(options), url: redact(url) };
        let shown = format!("{store:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }
}
