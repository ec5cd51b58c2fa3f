//! The SQLite store: one file, WAL, write transactions taken with `BEGIN IMMEDIATE` so two
//! writers queue on the busy timeout instead of failing on a lock upgrade.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqliteConnection, SqlitePool, Transaction};

use super::common::{
    AttachLog, EXCERPT_CHARS, Fingerprint, GroupVolume, STORIES_PER_BAND, STORM_ATTACHED, STORM_LOOKBACK,
    STORY_CANDIDATES, STORY_LOOKBACK, StoredGroup, Workflow, delivery, escalated_attach_event, escalation_start, json,
    mass_hours_text, mention_brand_rows, mention_details, new_notice_id, opened_details, steps_from_events,
    still_served, stored_mass, storm_start_of, to_json, transition_kinds, ts, unique_terms,
};
use super::{
    ADOPTED_KEY, Activity, Arrival, Attempt, AttemptResult, BrandVoice, Checklist, Decide, Entry, Escalated, EventMark,
    FeedState, IncidentFilter, IngestOutcome, MentionFilter, OVERVIEW_TITLE_CHARS, OutboxItem, OverviewRow, PollRecord,
    Pruned, RuleMatchTerms, Store, StoreError, StoredMention, StoredSession, Story, Triage, TriagedMatch, Verdict,
    VoiceCounts, VoiceRow,
};
use crate::analyze::Scored;
use crate::incident::escalation::{EscalationState, Fired, Policy};
use crate::incident::grouping::{Candidate, Decision, GroupState};
use crate::incident::review::{ChainStatus, NotificationOutcome, ReviewInput, ReviewMention};
use crate::incident::silence::{NewSilence, Scope, Silence};
use crate::incident::spike::SpikeSettings;
use crate::incident::timeline::{Event, EventKind, HashScheme, NewEvent, StoredText};
use crate::incident::{Action, Incident, Level, MentionSummary, Pulse, Status};
use crate::ingest::fetch::Validators;
use crate::ingest::{Mention, dedup};
use crate::notify::NoticeKind;
use crate::notify::breaker::ChannelHealth;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn parse_ts(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("bad time {text:?}: {e}")))
}

fn opt_ts(text: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    text.as_deref().map(parse_ts).transpose()
}

const INCIDENT_COLUMNS: &str = "id, rule, group_key, title, status, level, score, why, opened_at, first_mention_at, acknowledged_at, resolved_at, \
     assignee, crisis_type, drill, brand, \
     (SELECT COUNT(*) FROM incident_mentions im WHERE im.incident_id = incidents.id) AS mention_count";

fn incident_from_row(row: &SqliteRow) -> Result<Incident, StoreError> {
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
        opened_at: parse_ts(row.try_get("opened_at")?)?,
        first_mention_at: opt_ts(row.try_get("first_mention_at")?)?,
        acknowledged_at: opt_ts(row.try_get("acknowledged_at")?)?,
        resolved_at: opt_ts(row.try_get("resolved_at")?)?,
        mentions: row.try_get("mention_count")?,
        why: json(row.try_get("why")?)?,
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

async fn load_escalation(
    tx: &mut Transaction<'static, Sqlite>,
    incident_id: i64,
) -> Result<Option<EscalationRow>, StoreError> {
    let row = sqlx::query(
        "SELECT status, level, score, opened_at, policy, escalation_step, escalation_repeats, next_escalation_at \
         FROM incidents WHERE id = ?",
    )
    .bind(incident_id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| escalation_from_row(&row)).transpose()
}

fn escalation_from_row(row: &SqliteRow) -> Result<EscalationRow, StoreError> {
    let status: String = row.try_get("status")?;
    let level: String = row.try_get("level")?;
    let score: i64 = row.try_get("score")?;
    let step: i64 = row.try_get("escalation_step")?;
    let repeats: i64 = row.try_get("escalation_repeats")?;
    Ok(EscalationRow {
        status: Status::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
        level: Level::parse(&level).ok_or_else(|| StoreError::Corrupt(format!("level {level:?}")))?,
        score: u8::try_from(score).unwrap_or(100),
        opened_at: parse_ts(row.try_get("opened_at")?)?,
        policy: json(row.try_get("policy")?)?,
        state: EscalationState {
            step: u32::try_from(step).unwrap_or(0),
            repeats: u32::try_from(repeats).unwrap_or(0),
            next_at: opt_ts(row.try_get("next_escalation_at")?)?,
        },
    })
}

/// Appends an event to an incident's timeline, chained to the one before it.
async fn append_event(
    tx: &mut Transaction<'static, Sqlite>,
    incident_id: i64,
    event: &NewEvent,
) -> Result<(), StoreError> {
    let prev: Option<String> =
        sqlx::query_scalar("SELECT hash FROM timeline WHERE incident_id = ? ORDER BY id DESC LIMIT 1")
            .bind(incident_id)
            .fetch_optional(&mut **tx)
            .await?;
    let sealed = event.seal(incident_id, &prev.unwrap_or_default());
    sqlx::query(
        "INSERT INTO timeline (incident_id, at, actor, kind, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(incident_id)
    .bind(&sealed.at_text)
    .bind(&event.actor)
    .bind(event.kind.as_str())
    .bind(&sealed.details)
    .bind(&sealed.prev_hash)
    .bind(&sealed.hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues one notice per channel, due at `due_at`.
async fn enqueue(
    tx: &mut Transaction<'static, Sqlite>,
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
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new_notice_id())
        .bind(incident_id)
        .bind(channel)
        .bind(to_json(&kind))
        .bind(i64::from(level))
        .bind(ts(now))
        .bind(ts(due_at))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn attach(
    tx: &mut Transaction<'static, Sqlite>,
    incident_id: i64,
    mention_id: i64,
    scored: &Scored,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let attached = Attached { risk: i64::from(scored.risk), sentiment: Some(scored.sentiment.score) };
    attach_snapshot(tx, incident_id, mention_id, &scored.mention, attached, now).await
}

/// A mention's risk and sentiment as an incident keeps them.
struct Attached {
    risk: i64,
    sentiment: Option<f64>,
}

async fn attach_snapshot(
    tx: &mut Transaction<'static, Sqlite>,
    incident_id: i64,
    mention_id: i64,
    mention: &Mention,
    attached: Attached,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO incident_mentions (incident_id, mention_id, risk, attached_at, snapshot, sentiment) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(incident_id)
    .bind(mention_id)
    .bind(attached.risk)
    .bind(ts(now))
    .bind(to_json(mention))
    .bind(attached.sentiment)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Attaches to a just-opened incident the earlier mentions of its storm: its rule's matches
/// from the storm's first mention on that no incident holds yet, each too light to open one
/// alone, so the team reads the whole story and not only the mention that tipped it. The
/// latest [`STORM_ATTACHED`] of them; logged as one `mentions_attached` event.
async fn attach_storm(
    tx: &mut Transaction<'static, Sqlite>,
    incident_id: i64,
    candidate: &Candidate,
    storm_start: DateTime<Utc>,
    opener: i64,
    now: DateTime<Utc>,
    log: &mut AttachLog,
) -> Result<(), StoreError> {
    let rows = sqlx::query(
        "SELECT m.id, m.feed, m.guid, m.title, m.body, m.author, m.url, m.published_at, m.fetched_at, m.lang, \
         m.risk, m.sentiment FROM rule_matches r JOIN mentions m ON m.id = r.mention_id \
         WHERE r.brand = ? AND r.rule = ? AND r.at >= ? AND r.at <= ? AND r.mention_id <> ? \
         AND NOT EXISTS (SELECT 1 FROM incident_mentions im WHERE im.mention_id = r.mention_id) \
         ORDER BY r.at DESC, m.id DESC LIMIT ?",
    )
    .bind(candidate.brand.as_deref().unwrap_or_default())
    .bind(&candidate.rule)
    .bind(ts(storm_start))
    .bind(ts(candidate.mention_at))
    .bind(opener)
    .bind(STORM_ATTACHED)
    .fetch_all(&mut **tx)
    .await?;
    for row in rows.iter().rev() {
        let mention_id: i64 = row.try_get("id")?;
        let mention = Mention {
            feed: row.try_get("feed")?,
            guid: row.try_get("guid")?,
            title: row.try_get("title")?,
            body: row.try_get("body")?,
            author: row.try_get("author")?,
            url: row.try_get("url")?,
            published: opt_ts(row.try_get("published_at")?)?,
            fetched_at: parse_ts(row.try_get("fetched_at")?)?,
            lang: row.try_get("lang")?,
            engagement: None,
        };
        let attached = Attached { risk: row.try_get("risk")?, sentiment: row.try_get("sentiment")? };
        attach_snapshot(tx, incident_id, mention_id, &mention, attached, now).await?;
        log.add(incident_id, mention_id, &mention, now);
    }
    Ok(())
}

/// The story of the last [`STORY_LOOKBACK`] before `at` that `fingerprint` repeats: the
/// most similar one among those sharing a band with it.
async fn find_story(
    conn: &mut SqliteConnection,
    fingerprint: &Fingerprint,
    at: DateTime<Utc>,
) -> Result<Story, StoreError> {
    if fingerprint.bands.is_empty() {
        return Ok(Story { cluster: None, copies: 0 });
    }
    let rows: Vec<(i64, Vec<u8>, i64)> = sqlx::query_as(
        "SELECT id, signature, size FROM stories WHERE id IN \
         (SELECT story_id FROM (SELECT story_id, ROW_NUMBER() OVER (PARTITION BY band ORDER BY story_id DESC) AS nth \
          FROM story_bands WHERE band IN (SELECT value FROM json_each(?))) WHERE nth <= ?) \
         AND last_at >= ? ORDER BY last_at DESC LIMIT ?",
    )
    .bind(to_json(&fingerprint.bands))
    .bind(STORIES_PER_BAND)
    .bind(ts(at - STORY_LOOKBACK))
    .bind(STORY_CANDIDATES)
    .fetch_all(&mut *conn)
    .await?;
    Ok(fingerprint.closest(rows))
}

/// Files a stored mention under its story: one more copy of a known story, or the first
/// of a new one (its id the story's, its band keys indexed). Returns the story's id.
async fn file_under_story(
    tx: &mut Transaction<'static, Sqlite>,
    mention_id: i64,
    story: &Story,
    fingerprint: &Fingerprint,
    at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    if let Some(id) = story.cluster {
        sqlx::query("UPDATE stories SET size = size + 1, last_at = MAX(last_at, ?) WHERE id = ?")
            .bind(ts(at))
            .bind(id)
            .execute(&mut **tx)
            .await?;
        return Ok(id);
    }
    sqlx::query("UPDATE mentions SET cluster_id = id WHERE id = ?").bind(mention_id).execute(&mut **tx).await?;
    sqlx::query("INSERT INTO stories (id, signature, first_at, last_at, size) VALUES (?, ?, ?, ?, 1)")
        .bind(mention_id)
        .bind(dedup::to_bytes(&fingerprint.signature))
        .bind(ts(at))
        .bind(ts(at))
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT OR IGNORE INTO story_bands (band, story_id) SELECT value, ? FROM json_each(?)")
        .bind(mention_id)
        .bind(to_json(&fingerprint.bands))
        .execute(&mut **tx)
        .await?;
    Ok(mention_id)
}

/// When the storm a candidate opens an incident for began: the first mention of the run of
/// busy spike windows ending at it (see [`spike::storm_windows`]), within
/// [`STORM_LOOKBACK`] and after the group's last incident was resolved.
async fn storm_start(
    tx: &mut Transaction<'static, Sqlite>,
    candidate: &Candidate,
    group: &GroupVolume,
    spike: &SpikeSettings,
) -> Result<DateTime<Utc>, StoreError> {
    let window_ms = spike.window.num_milliseconds().max(1);
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT CAST((julianday(?) - julianday(at)) * 86400000.0 / ? AS INTEGER) AS back, COUNT(*), MIN(at) \
         FROM rule_matches WHERE brand = ? AND rule = ? AND at >= ? AND at <= ? \
         AND at > COALESCE((SELECT MAX(resolved_at) FROM incidents WHERE group_key = ?), '') \
         GROUP BY back ORDER BY back",
    )
    .bind(ts(candidate.mention_at))
    .bind(window_ms)
    .bind(candidate.brand.as_deref().unwrap_or_default())
    .bind(&candidate.rule)
    .bind(ts(candidate.mention_at - STORM_LOOKBACK))
    .bind(ts(candidate.mention_at))
    .bind(&candidate.group_key)
    .fetch_all(&mut **tx)
    .await?;
    let buckets = rows
        .into_iter()
        .map(|(back, count, first)| Ok((back, count, parse_ts(&first)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(storm_start_of(&buckets, candidate.mention_at, &group.volume, spike))
}

/// A candidate's group as stored: its live incident, if any, and its volume around the
/// candidate's time (see [`Volume`]; the mention being ingested, already in
/// `rule_matches`, is counted), read with one query.
async fn load_group(
    tx: &mut Transaction<'static, Sqlite>,
    candidate: &Candidate,
    story: i64,
    spike: &SpikeSettings,
    reopen_after: DateTime<Utc>,
) -> Result<(Option<GroupState>, GroupVolume), StoreError> {
    let at = candidate.mention_at;
    let (from, to) = (ts(at - spike.window), ts(at));
    let row = sqlx::query(
        "SELECT i.id, i.status, i.level, i.score, i.opened_at, i.policy, i.escalation_step, i.escalation_repeats, \
         i.next_escalation_at, g.first_at, g.mass, g.mass_at, g.mass_hours, g.last_spike_at, \
         (SELECT COUNT(*) FROM rule_matches WHERE brand = ? AND rule = ? AND at > ? AND at <= ?) AS in_window, \
         (SELECT COUNT(*) FROM rule_matches WHERE brand = ? AND rule = ? AND story = ? AND at > ? AND at <= ?) \
         AS story_in_window \
         FROM (SELECT 1) \
         LEFT JOIN incidents i ON i.id = (SELECT id FROM incidents WHERE group_key = ? \
             AND (status <> 'resolved' OR resolved_at >= ?) ORDER BY status = 'resolved', id DESC LIMIT 1) \
         LEFT JOIN groups g ON g.group_key = ?",
    )
    .bind(candidate.brand.as_deref().unwrap_or_default())
    .bind(&candidate.rule)
    .bind(&from)
    .bind(&to)
    .bind(candidate.brand.as_deref().unwrap_or_default())
    .bind(&candidate.rule)
    .bind(story)
    .bind(&from)
    .bind(&to)
    .bind(&candidate.group_key)
    .bind(ts(reopen_after))
    .bind(&candidate.group_key)
    .fetch_one(&mut **tx)
    .await?;
    let live = match row.try_get::<Option<i64>, _>("id")? {
        Some(incident_id) => {
            let esc = escalation_from_row(&row)?;
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
    let stored = StoredGroup {
        first_at: opt_ts(row.try_get("first_at")?)?,
        mass: stored_mass(
            row.try_get("mass")?,
            opt_ts(row.try_get("mass_at")?)?,
            row.try_get::<Option<&str>, _>("mass_hours")?,
        )?,
        last_spike_at: opt_ts(row.try_get("last_spike_at")?)?,
        in_window: row.try_get("in_window")?,
        story_in_window: row.try_get("story_in_window")?,
    };
    Ok((live, GroupVolume::of(stored, at, story, spike)))
}

/// Writes a group's volume state back, with `spiked_at` starting its cool-down.
async fn save_group(
    tx: &mut Transaction<'static, Sqlite>,
    group_key: &str,
    group: &GroupVolume,
    spiked_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO groups (group_key, first_at, mass, mass_at, mass_hours, last_spike_at) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (group_key) DO UPDATE SET first_at = excluded.first_at, mass = excluded.mass, \
         mass_at = excluded.mass_at, mass_hours = excluded.mass_hours, \
         last_spike_at = COALESCE(excluded.last_spike_at, groups.last_spike_at)",
    )
    .bind(group_key)
    .bind(ts(group.first_at))
    .bind(group.mass.value)
    .bind(ts(group.mass.at))
    .bind(mass_hours_text(&group.mass))
    .bind(spiked_at.map(ts))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes the pending `mentions_attached` event of one incident, if any.
async fn flush_attached(
    tx: &mut Transaction<'static, Sqlite>,
    log: &mut AttachLog,
    incident_id: i64,
) -> Result<(), StoreError> {
    match log.take(incident_id) {
        Some(event) => append_event(tx, incident_id, &event).await,
        None => Ok(()),
    }
}

async fn load_workflow(tx: &mut Transaction<'static, Sqlite>, incident_id: i64) -> Result<Workflow, StoreError> {
    let row = sqlx::query(
        "SELECT status, level, score, opened_at, policy, escalation_step, escalation_repeats, next_escalation_at, \
         assignee, crisis_type, playbook FROM incidents WHERE id = ?",
    )
    .bind(incident_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NoIncident(incident_id))?;
    let esc = escalation_from_row(&row)?;
    let playbook: Option<String> = row.try_get("playbook")?;
    let events: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT kind, actor, at, details FROM timeline WHERE incident_id = ? AND kind IN ('step_done', 'step_overdue') \
         ORDER BY id",
    )
    .bind(incident_id)
    .fetch_all(&mut **tx)
    .await?;
    let events = events
        .into_iter()
        .map(|(kind, actor, at, details)| Ok((kind, actor, parse_ts(&at)?, json(&details)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let (done, reminded) = steps_from_events(events);
    Ok(Workflow {
        status: esc.status,
        opened_at: esc.opened_at,
        assignee: row.try_get("assignee")?,
        crisis_type: row.try_get("crisis_type")?,
        playbook: playbook.as_deref().map(json).transpose()?,
        policy: esc.policy,
        escalation: esc.state,
        done,
        reminded,
    })
}

async fn fetch_incident(tx: &mut Transaction<'static, Sqlite>, incident_id: i64) -> Result<Incident, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?")))
        .bind(incident_id)
        .fetch_one(&mut **tx)
        .await?;
    incident_from_row(&row)
}

/// Puts a silence on the timeline of an incident it covers mentions of, once.
async fn note_silence(
    tx: &mut Transaction<'static, Sqlite>,
    silence_id: i64,
    incident_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let first = sqlx::query("INSERT OR IGNORE INTO silence_hits (silence_id, incident_id) VALUES (?, ?)")
        .bind(silence_id)
        .bind(incident_id)
        .execute(&mut **tx)
        .await?;
    if first.rows_affected() == 0 {
        return Ok(());
    }
    let silence = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SILENCE_COLUMNS} FROM silences WHERE id = ?")))
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

fn health_from_row(row: &SqliteRow) -> Result<ChannelHealth, StoreError> {
    let failures: i64 = row.try_get("failures")?;
    Ok(ChannelHealth {
        name: row.try_get("name")?,
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        open_until: opt_ts(row.try_get("open_until")?)?,
        disabled_at: opt_ts(row.try_get("disabled_at")?)?,
        disabled_reason: row.try_get("disabled_reason")?,
    })
}

const SILENCE_COLUMNS: &str =
    "id, scope, value, reason, created_by, created_at, ends_at, ended_at, ended_by, held, brand";

fn silence_from_row(row: &SqliteRow) -> Result<Silence, StoreError> {
    let scope: String = row.try_get("scope")?;
    Ok(Silence {
        id: row.try_get("id")?,
        scope: Scope::parse(&scope).ok_or_else(|| StoreError::Corrupt(format!("silence scope {scope:?}")))?,
        value: row.try_get("value")?,
        reason: row.try_get("reason")?,
        created_by: row.try_get("created_by")?,
        created_at: parse_ts(row.try_get("created_at")?)?,
        ends_at: parse_ts(row.try_get("ends_at")?)?,
        ended_at: opt_ts(row.try_get("ended_at")?)?,
        ended_by: row.try_get("ended_by")?,
        held: row.try_get("held")?,
        brand: row.try_get("brand")?,
    })
}

/// A mention row as `insert_plain` hands it to SQLite, inside a JSON array.
#[derive(serde::Serialize)]
struct PlainRow<'a> {
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
    breakdown: String,
    analyzed_lang: &'a str,
    sentiment: f64,
    sentiment_detail: String,
}

/// Stores mentions that matched no rule, in order, with one statement; each is its own
/// story and touches no group.
async fn insert_plain(
    tx: &mut Transaction<'static, Sqlite>,
    plain: Vec<Arrival>,
) -> Result<Vec<IngestOutcome>, StoreError> {
    if plain.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<PlainRow> = plain
        .iter()
        .map(|Arrival { scored, .. }| {
            let m = &scored.mention;
            PlainRow {
                feed: &m.feed,
                guid: &m.guid,
                title: &m.title,
                body: &m.body,
                author: m.author.as_deref(),
                url: m.url.as_deref(),
                published_at: m.published.map(ts),
                fetched_at: ts(m.fetched_at),
                lang: m.lang.as_deref(),
                risk: scored.risk,
                breakdown: scored.breakdown.to_string(),
                analyzed_lang: &scored.lang,
                sentiment: scored.sentiment.score,
                sentiment_detail: to_json(&scored.sentiment),
            }
        })
        .collect();
    // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT.
    let inserted: Vec<(i64, String, String)> = sqlx::query_as(
        "INSERT INTO mentions (feed, guid, title, body, author, url, published_at, fetched_at, lang, risk, breakdown, \
         analyzed_lang, sentiment, sentiment_detail) \
         SELECT value ->> 'feed', value ->> 'guid', value ->> 'title', value ->> 'body', value ->> 'author', \
         value ->> 'url', value ->> 'published_at', value ->> 'fetched_at', value ->> 'lang', value ->> 'risk', \
         value ->> 'breakdown', value ->> 'analyzed_lang', value ->> 'sentiment', value ->> 'sentiment_detail' \
         FROM json_each(?) WHERE true ON CONFLICT (feed, guid) DO NOTHING RETURNING id, feed, guid",
    )
    .bind(to_json(&rows))
    .fetch_all(&mut **tx)
    .await?;
    let mut ids: HashMap<(String, String), i64> =
        inserted.into_iter().map(|(id, feed, guid)| ((feed, guid), id)).collect();
    Ok(plain
        .into_iter()
        .map(|Arrival { scored, .. }| {
            // The first of two arrivals with one (feed, guid) took the row; the second is a duplicate.
            match ids.remove(&(scored.mention.feed, scored.mention.guid)) {
                Some(mention_id) => IngestOutcome::Stored {
                    mention_id,
                    cluster_id: mention_id,
                    opened: Vec::new(),
                    attached: Vec::new(),
                },
                None => IngestOutcome::Duplicate,
            }
        })
        .collect())
}

/// Stores one mention of a batch that matched a rule (see [`Store::ingest`]).
/// Writes a new open incident for `candidate`, its escalation and playbook copied on.
async fn insert_incident(
    tx: &mut Transaction<'static, Sqlite>,
    candidate: &Candidate,
    escalation: EscalationState,
    first_mention_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let next_reminder = candidate.playbook.as_ref().and_then(|p| p.next_reminder(now, &[]));
    Ok(sqlx::query_scalar(
        "INSERT INTO incidents (group_key, rule, brand, title, status, level, score, why, opened_at, \
         first_mention_at, policy, escalation_step, escalation_repeats, next_escalation_at, \
         crisis_type, playbook, drill, next_reminder_at) \
         VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&candidate.group_key)
    .bind(&candidate.rule)
    .bind(candidate.brand.as_deref().unwrap_or_default())
    .bind(&candidate.title)
    .bind(candidate.level.as_str())
    .bind(i64::from(candidate.score))
    .bind(candidate.why.to_string())
    .bind(ts(now))
    .bind(ts(first_mention_at))
    .bind(to_json(&candidate.policy))
    .bind(i64::from(escalation.step))
    .bind(i64::from(escalation.repeats))
    .bind(escalation.next_at.map(ts))
    .bind(&candidate.crisis_type)
    .bind(candidate.playbook.as_ref().map(to_json))
    .bind(candidate.drill)
    .bind(next_reminder.map(ts))
    .fetch_one(&mut **tx)
    .await?)
}

async fn ingest_one<D: Decide>(
    tx: &mut Transaction<'static, Sqlite>,
    arrival: Arrival,
    decide: &D,
    spike: &SpikeSettings,
    log: &mut AttachLog,
) -> Result<IngestOutcome, StoreError> {
    let fingerprint = arrival.fingerprint().into_owned();
    let Arrival { scored, now, .. } = arrival;
    let at = scored.mention.effective_time();
    let story = find_story(tx, &fingerprint, at).await?;
    let (scored, candidates) = decide.candidates(scored, &story, now);
    let mention = &scored.mention;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO mentions (feed, guid, title, body, author, url, published_at, fetched_at, lang, risk, breakdown, \
         analyzed_lang, sentiment, sentiment_detail, cluster_id) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feed, guid) DO NOTHING RETURNING id",
    )
    .bind(&mention.feed)
    .bind(&mention.guid)
    .bind(&mention.title)
    .bind(&mention.body)
    .bind(&mention.author)
    .bind(&mention.url)
    .bind(mention.published.map(ts))
    .bind(ts(mention.fetched_at))
    .bind(&mention.lang)
    .bind(i64::from(scored.risk))
    .bind(scored.breakdown.to_string())
    .bind(&scored.lang)
    .bind(scored.sentiment.score)
    .bind(to_json(&scored.sentiment))
    .bind(story.cluster)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(mention_id) = inserted else {
        return Ok(IngestOutcome::Duplicate);
    };
    let cluster_id = file_under_story(tx, mention_id, &story, &fingerprint, at).await?;
    for found in &scored.matches {
        sqlx::query(
            "INSERT INTO rule_matches (mention_id, brand, rule, severity, terms, at, story) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(mention_id)
        .bind(found.brand.as_deref().unwrap_or_default())
        .bind(&found.rule)
        .bind(i64::from(found.severity))
        .bind(to_json(&found.terms))
        .bind(ts(at))
        .bind(cluster_id)
        .execute(&mut **tx)
        .await?;
    }

    let (mut opened, mut attached) = (Vec::new(), Vec::new());
    for candidate in &candidates {
        let (live, group) = load_group(tx, candidate, cluster_id, spike, now - decide.reopen_within()).await?;
        if candidate.volume_only {
            save_group(tx, &candidate.group_key, &group, None).await?;
            continue;
        }
        let judged = decide.judge(candidate, live.as_ref(), &group.volume, now);
        save_group(tx, &candidate.group_key, &group, judged.spiked.then_some(at)).await?;
        if let Some(silence) = judged.held_by {
            sqlx::query("UPDATE silences SET held = held + 1 WHERE id = ?").bind(silence).execute(&mut **tx).await?;
        }
        let candidate = &judged.candidate;
        match judged.decision {
            Decision::Nothing => {}
            Decision::Open { escalation, fired } => {
                let first_mention_at = storm_start(tx, candidate, &group, spike).await?;
                let incident_id = insert_incident(tx, candidate, escalation, first_mention_at, now).await?;
                attach(tx, incident_id, mention_id, &scored, now).await?;
                let details = opened_details(candidate, first_mention_at, mention_id, mention, None);
                append_event(tx, incident_id, &NewEvent::system(now, EventKind::Opened, details)).await?;
                attach_storm(tx, incident_id, candidate, first_mention_at, mention_id, now, log).await?;
                if let Some(fired) = fired {
                    enqueue(tx, incident_id, &fired.channels, fired.kind, fired.level, now, now).await?;
                }
                opened.push(incident_id);
            }
            Decision::Reopen { incident_id, escalation, fired } => {
                flush_attached(tx, log, incident_id).await?;
                sqlx::query(
                    "UPDATE incidents SET status = 'open', acknowledged_at = NULL, resolved_at = NULL, level = ?, \
                     score = ?, why = ?, escalation_step = ?, escalation_repeats = ?, next_escalation_at = ? \
                     WHERE id = ? AND status = 'resolved'",
                )
                .bind(candidate.level.as_str())
                .bind(i64::from(candidate.score))
                .bind(candidate.why.to_string())
                .bind(i64::from(escalation.step))
                .bind(i64::from(escalation.repeats))
                .bind(escalation.next_at.map(ts))
                .bind(incident_id)
                .execute(&mut **tx)
                .await?;
                attach(tx, incident_id, mention_id, &scored, now).await?;
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
                attach(tx, incident_id, mention_id, &scored, now).await?;
                log.add(incident_id, mention_id, mention, now);
                if let Some(silence) = candidate.silenced_by {
                    flush_attached(tx, log, incident_id).await?;
                    note_silence(tx, silence, incident_id, now).await?;
                }
                if let Some(raise) = raised {
                    flush_attached(tx, log, incident_id).await?;
                    sqlx::query("UPDATE incidents SET level = ?, score = ?, why = ? WHERE id = ?")
                        .bind(raise.to.as_str())
                        .bind(i64::from(raise.score))
                        .bind(candidate.why.to_string())
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

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        Ok(SqliteStore { pool })
    }

    async fn write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let fresh: [u8; 32] = rand::random();
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING")
            .bind(name)
            .bind(fresh.as_slice())
            .execute(&mut *tx)
            .await?;
        let value: Vec<u8> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?").bind(name).fetch_one(&mut *tx).await?;
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
        sqlx::query("DELETE FROM sessions WHERE last_seen_at < ?").bind(ts(forget_before)).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO sessions (id_digest, token_digest, created_at, last_seen_at) VALUES (?, ?, ?, ?)")
            .bind(id_digest)
            .bind(token_digest)
            .bind(ts(now))
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(&self, id_digest: &[u8]) -> Result<Option<StoredSession>, StoreError> {
        let row: Option<(Vec<u8>, String, String)> =
            sqlx::query_as("SELECT token_digest, created_at, last_seen_at FROM sessions WHERE id_digest = ?")
                .bind(id_digest)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(token_digest, created_at, last_seen_at)| {
            Ok(StoredSession {
                token_digest,
                created_at: parse_ts(&created_at)?,
                last_seen_at: parse_ts(&last_seen_at)?,
            })
        })
        .transpose()
    }

    async fn touch_session(&self, id_digest: &[u8], now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE id_digest = ?")
            .bind(ts(now))
            .bind(id_digest)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn end_session(&self, id_digest: &[u8]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM sessions WHERE id_digest = ?").bind(id_digest).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pruned_undated(&self, feed: &str, served: &[String]) -> Result<Vec<String>, StoreError> {
        // A read on every poll; the writer is taken only when the feed stopped serving some.
        let known: Vec<String> = sqlx::query_scalar("SELECT guid FROM pruned_undated WHERE feed = ?")
            .bind(feed)
            .fetch_all(&self.pool)
            .await?;
        let (still_served, gone) = still_served(known, served);
        if !gone.is_empty() {
            let mut tx = self.write().await?;
            sqlx::query("DELETE FROM pruned_undated WHERE feed = ? AND guid IN (SELECT value FROM json_each(?))")
                .bind(feed)
                .bind(to_json(&gone))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(still_served)
    }

    async fn sync_feeds(&self, feeds: &[(String, String)]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        for (name, url) in feeds {
            // A changed URL is a different source: its validators no longer apply.
            sqlx::query(
                "INSERT INTO feeds (name, url) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET url = excluded.url, \
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
        let row = sqlx::query("SELECT * FROM feeds WHERE name = ?").bind(name).fetch_optional(&self.pool).await?;
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
        let row = sqlx::query(
            "UPDATE feeds SET leased_by = ?, lease_until = ? WHERE name = ? \
             AND (next_poll_at IS NULL OR next_poll_at <= ?) \
             AND (lease_until IS NULL OR lease_until < ? OR leased_by = ?) RETURNING *",
        )
        .bind(holder)
        .bind(ts(until))
        .bind(name)
        .bind(ts(now))
        .bind(ts(now))
        .bind(holder)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| feed_from_row(&row)).transpose()
    }

    async fn record_poll(&self, name: &str, record: &PollRecord, now: DateTime<Utc>) -> Result<(), StoreError> {
        let query = match record {
            PollRecord::Success { validators, new_items, next_poll_at, problems } => sqlx::query(
                "UPDATE feeds SET etag = ?, last_modified = ?, last_success_at = ?, consecutive_failures = 0, \
                 items_seen = items_seen + ?, next_poll_at = ?, last_problems = COALESCE(?, last_problems), \
                 leased_by = NULL, lease_until = NULL WHERE name = ?",
            )
            .bind(validators.etag.clone())
            .bind(validators.last_modified.clone())
            .bind(ts(now))
            .bind(*new_items)
            .bind(ts(*next_poll_at))
            .bind(problems.as_ref().map(|problems| serde_json::json!(problems).to_string())),
            PollRecord::Failure { error, next_poll_at } => sqlx::query(
                "UPDATE feeds SET last_error = ?, last_error_at = ?, consecutive_failures = consecutive_failures + 1, \
                 next_poll_at = ?, leased_by = NULL, lease_until = NULL WHERE name = ?",
            )
            .bind(error.clone())
            .bind(ts(now))
            .bind(ts(*next_poll_at)),
        };
        query.bind(name).execute(&self.pool).await?;
        Ok(())
    }

    async fn ingest<D: Decide>(&self, batch: Vec<Arrival>, decide: &D) -> Result<Vec<IngestOutcome>, StoreError> {
        let spike = decide.spike();
        let mut tx = self.write().await?;
        let mut log = AttachLog::default();
        let mut outcomes = Vec::with_capacity(batch.len());
        // Mentions that matched no rule only need their row: runs of them are written with
        // one statement. A matching mention writes the run before it first, so ids and
        // duplicate checks follow arrival order exactly.
        let about: Vec<(Vec<String>, DateTime<Utc>)> =
            batch.iter().map(|a| (a.scored.brands.clone(), a.scored.mention.effective_time())).collect();
        let mut plain = Vec::new();
        for arrival in batch {
            if arrival.scored.matches.is_empty() {
                plain.push(arrival);
                continue;
            }
            outcomes.extend(insert_plain(&mut tx, std::mem::take(&mut plain)).await?);
            outcomes.push(ingest_one(&mut tx, arrival, decide, &spike, &mut log).await?);
        }
        outcomes.extend(insert_plain(&mut tx, plain).await?);
        let brand_rows: Vec<(i64, &str, String)> =
            mention_brand_rows(&outcomes, &about).map(|(id, brand, at)| (id, brand, ts(at))).collect();
        if !brand_rows.is_empty() {
            sqlx::query(
                "INSERT INTO mention_brands (mention_id, brand, at) \
                 SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true ON CONFLICT DO NOTHING",
            )
            .bind(to_json(&brand_rows))
            .execute(&mut *tx)
            .await?;
        }
        for (incident_id, event) in log.drain() {
            append_event(&mut tx, incident_id, &event).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
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
             AND next_escalation_at <= ? ORDER BY next_escalation_at",
        )
        .bind(ts(now))
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
                    "UPDATE incidents SET status = 'open', acknowledged_at = NULL, next_escalation_at = ? \
                     WHERE id = ? AND status = 'acknowledged'",
                )
                .bind(ts(now))
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
            "UPDATE incidents SET escalation_step = ?, escalation_repeats = ?, next_escalation_at = ? \
             WHERE id = ? AND status = 'open' AND escalation_step = ? AND escalation_repeats = ?",
        )
        .bind(i64::from(fired.next.step))
        .bind(i64::from(fired.next.repeats))
        .bind(fired.next.next_at.map(ts))
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
                    "UPDATE incidents SET status = ?, acknowledged_at = ?, next_escalation_at = ? WHERE id = ?",
                )
                .bind(next.as_str())
                .bind(ts(now))
                .bind(expires.map(ts))
                .bind(incident_id)
                .execute(&mut *tx)
                .await?;
            }
            Action::Resolve => {
                sqlx::query("UPDATE incidents SET status = ?, resolved_at = ?, next_escalation_at = NULL WHERE id = ?")
                    .bind(next.as_str())
                    .bind(ts(now))
                    .bind(incident_id)
                    .execute(&mut *tx)
                    .await?;
            }
            Action::Reopen => {
                // Escalation starts over from the copied policy, as for a new incident.
                let restart = row.policy.start(now);
                sqlx::query(
                    "UPDATE incidents SET status = ?, acknowledged_at = NULL, resolved_at = NULL, \
                     escalation_step = 0, escalation_repeats = 0, next_escalation_at = ? WHERE id = ?",
                )
                .bind(next.as_str())
                .bind(restart.next_at.map(ts))
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
        let workflow = load_workflow(&mut tx, incident_id).await?;
        let change = workflow.entry(incident_id, entry)?;
        if let Some(who) = &change.assignee {
            sqlx::query("UPDATE incidents SET assignee = ? WHERE id = ?")
                .bind(who)
                .bind(incident_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(next_reminder) = change.next_reminder {
            sqlx::query("UPDATE incidents SET next_reminder_at = ? WHERE id = ?")
                .bind(next_reminder.map(ts))
                .bind(incident_id)
                .execute(&mut *tx)
                .await?;
        }
        let (kind, details) = (change.kind, change.details);
        append_event(&mut tx, incident_id, &NewEvent { at: now, actor: actor.to_owned(), kind, details }).await?;
        if let Some((text, channels)) = &change.send {
            for channel in channels {
                sqlx::query(
                    "INSERT INTO outbox (notice_id, incident_id, channel, kind, level, created_at, due_at, message) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(new_notice_id())
                .bind(incident_id)
                .bind(channel)
                .bind(to_json(&NoticeKind::StatusUpdate))
                .bind(i64::from(workflow.escalation.step))
                .bind(ts(now))
                .bind(ts(now))
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
        let workflow = load_workflow(&mut tx, incident_id).await?;
        tx.commit().await?;
        Ok(workflow.checklist())
    }

    async fn due_reminders(&self, now: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM incidents WHERE status <> 'resolved' AND next_reminder_at IS NOT NULL \
             AND next_reminder_at <= ? ORDER BY next_reminder_at",
        )
        .bind(ts(now))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn remind(&self, incident_id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let workflow = load_workflow(&mut tx, incident_id).await?;
        let Some(reminder) = workflow.reminder(now) else {
            return Ok(false);
        };
        sqlx::query("UPDATE incidents SET next_reminder_at = ? WHERE id = ?")
            .bind(reminder.next_at.map(ts))
            .bind(incident_id)
            .execute(&mut *tx)
            .await?;
        if reminder.overdue.is_empty() {
            tx.commit().await?;
            return Ok(false);
        }
        let (channels, details) = (&reminder.channels, reminder.details());
        append_event(&mut tx, incident_id, &NewEvent::system(now, EventKind::StepOverdue, details)).await?;
        enqueue(&mut tx, incident_id, channels, NoticeKind::StepOverdue, workflow.escalation.step, now, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn review_input(&self, incident_id: i64) -> Result<ReviewInput, StoreError> {
        let incident = self.incident(incident_id).await?.ok_or(StoreError::NoIncident(incident_id))?;
        let timeline = self.timeline(incident_id).await?;
        let mut tx = self.pool.begin().await?;
        let workflow = load_workflow(&mut tx, incident_id).await?;
        let rows: Vec<(String, i64, Option<f64>, String)> = sqlx::query_as(
            "SELECT snapshot, risk, sentiment, attached_at FROM incident_mentions WHERE incident_id = ? \
             ORDER BY attached_at, mention_id",
        )
        .bind(incident_id)
        .fetch_all(&mut *tx)
        .await?;
        let mentions = rows
            .into_iter()
            .map(|(snapshot, risk, sentiment, attached_at)| {
                let mention: Mention = json(&snapshot)?;
                Ok(ReviewMention {
                    feed: mention.feed,
                    title: mention.title,
                    url: mention.url,
                    published: mention.published,
                    attached_at: parse_ts(&attached_at)?,
                    risk: u8::try_from(risk).unwrap_or(100),
                    sentiment,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let rows: Vec<(String, String, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT channel, kind, attempts, state, last_error FROM outbox WHERE incident_id = ? ORDER BY id",
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
                    kind: json(&kind)?,
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
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {SILENCE_COLUMNS}"
        )))
        .bind(silence.scope.as_str())
        .bind(&silence.value)
        .bind(&silence.reason)
        .bind(&silence.created_by)
        .bind(ts(silence.created_at))
        .bind(ts(silence.ends_at))
        .bind(&silence.brand)
        .fetch_one(&self.pool)
        .await?;
        silence_from_row(&row)
    }

    async fn silence(&self, id: i64) -> Result<Option<Silence>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SILENCE_COLUMNS} FROM silences WHERE id = ?")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(silence_from_row).transpose()
    }

    async fn silences(&self, active_at: Option<DateTime<Utc>>) -> Result<Vec<Silence>, StoreError> {
        let rows =
            match active_at {
                Some(at) => sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {SILENCE_COLUMNS} FROM silences WHERE ends_at > ? AND (ended_at IS NULL OR ended_at > ?) \
                     ORDER BY id DESC"
                )))
                .bind(ts(at))
                .bind(ts(at))
                .fetch_all(&self.pool)
                .await?,
                None => {
                    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SILENCE_COLUMNS} FROM silences ORDER BY id DESC")))
                        .fetch_all(&self.pool)
                        .await?
                }
            };
        rows.iter().map(silence_from_row).collect()
    }

    async fn end_silence(&self, id: i64, actor: &str, now: DateTime<Utc>) -> Result<Silence, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE silences SET ended_at = ?, ended_by = ? WHERE id = ? AND ended_at IS NULL AND ends_at > ? \
             RETURNING {SILENCE_COLUMNS}"
        )))
        .bind(ts(now))
        .bind(actor)
        .bind(id)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => silence_from_row(&row),
            None => {
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM silences WHERE id = ?")
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
        let mut tx = self.write().await?;
        let rows = sqlx::query(
            "UPDATE outbox SET due_at = ? WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND due_at <= ? \
             ORDER BY due_at, id LIMIT ?) \
             RETURNING id, notice_id, incident_id, channel, kind, created_at, attempts, rerouted_from, message",
        )
        .bind(ts(now + lease))
        .bind(ts(now))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut items = rows
            .iter()
            .map(|row| {
                Ok(OutboxItem {
                    id: row.try_get("id")?,
                    notice_id: row.try_get("notice_id")?,
                    incident_id: row.try_get("incident_id")?,
                    channel: row.try_get("channel")?,
                    kind: json(row.try_get("kind")?)?,
                    created_at: parse_ts(row.try_get("created_at")?)?,
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
        for (item, attempt) in attempts {
            let (state, due_at, delivered_at, result) = match &attempt.result {
                AttemptResult::Delivered => ("delivered", now, Some(ts(now)), "delivered"),
                AttemptResult::RetryAt(at) => ("pending", *at, None, "retrying"),
                AttemptResult::Failed => ("failed", now, None, "failed"),
            };
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, state = ?, due_at = ?, last_error = ?, delivered_at = ? \
                 WHERE id = ?",
            )
            .bind(state)
            .bind(ts(due_at))
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
        sqlx::query("UPDATE outbox SET due_at = ? WHERE id IN (SELECT value FROM json_each(?)) AND state = 'pending'")
            .bind(ts(now))
            .bind(to_json(&ids))
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
        sqlx::query("UPDATE outbox SET state = 'failed', last_error = ? WHERE id = ?")
            .bind(detail)
            .bind(item.id)
            .execute(&mut *tx)
            .await?;
        if let Some(fallback) = fallback {
            sqlx::query(
                "INSERT INTO outbox (notice_id, incident_id, channel, kind, level, created_at, due_at, rerouted_from, \
                 message) SELECT ?, incident_id, ?, kind, level, ?, ?, channel, message FROM outbox WHERE id = ?",
            )
            .bind(new_notice_id())
            .bind(fallback)
            .bind(ts(now))
            .bind(ts(now))
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
        let policy: Option<String> = sqlx::query_scalar("SELECT policy FROM incidents WHERE id = ?")
            .bind(incident_id)
            .fetch_optional(&self.pool)
            .await?;
        json(&policy.ok_or(StoreError::NoIncident(incident_id))?)
    }

    async fn channel_health(&self, name: &str) -> Result<ChannelHealth, StoreError> {
        let row =
            sqlx::query("SELECT * FROM channel_health WHERE name = ?").bind(name).fetch_optional(&self.pool).await?;
        row.map_or_else(|| Ok(ChannelHealth::healthy(name)), |row| health_from_row(&row))
    }

    async fn channel_healths(&self) -> Result<Vec<ChannelHealth>, StoreError> {
        let rows = sqlx::query("SELECT * FROM channel_health ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter().map(health_from_row).collect()
    }

    async fn save_channel_health(&self, health: &ChannelHealth) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO channel_health (name, failures, open_until, disabled_at, disabled_reason) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET failures = excluded.failures, open_until = excluded.open_until, \
             disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason",
        )
        .bind(&health.name)
        .bind(i64::from(health.failures))
        .bind(health.open_until.map(ts))
        .bind(health.disabled_at.map(ts))
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
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| incident_from_row(&row)).transpose()
    }

    async fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR rule = ?2) \
             AND (?3 IS NULL OR id < ?3) AND (?5 IS NULL OR level = ?5) AND (?6 IS NULL OR opened_at >= ?6) \
             AND (?7 IS NULL OR opened_at < ?7) \
             AND (?8 IS NULL OR brand IN (SELECT value FROM json_each(?8))) ORDER BY id DESC LIMIT ?4"
        )))
        .bind(filter.status.map(Status::as_str))
        .bind(filter.rule.as_deref())
        .bind(filter.before_id)
        .bind(filter.limit)
        .bind(filter.level.map(Level::as_str))
        .bind(filter.since.map(ts))
        .bind(filter.until.map(ts))
        .bind(filter.brands.as_ref().map(to_json))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(incident_from_row).collect()
    }

    async fn timeline(&self, incident_id: i64) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query("SELECT * FROM timeline WHERE incident_id = ? ORDER BY id")
            .bind(incident_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                // Read as text, never refused: an edited event is for `verify` to name.
                let at: String = row.try_get("at")?;
                let details: String = row.try_get("details")?;
                Ok(Event {
                    id: row.try_get("id")?,
                    incident_id: row.try_get("incident_id")?,
                    at: parse_ts(&at).unwrap_or_default(),
                    actor: row.try_get("actor")?,
                    kind: row.try_get("kind")?,
                    details: StoredText::parse_details(&details),
                    prev_hash: row.try_get("prev_hash")?,
                    hash: row.try_get("hash")?,
                    stored: StoredText { at, details, scheme: HashScheme::StoredBytes },
                })
            })
            .collect()
    }

    async fn pulse(&self, incident_id: i64, recent_since: DateTime<Utc>) -> Result<Pulse, StoreError> {
        let (mentions, languages, sources, recent, sentiment): (i64, i64, i64, i64, Option<f64>) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(DISTINCT COALESCE(m.analyzed_lang, json_extract(im.snapshot, '$.lang'))), \
             COUNT(DISTINCT json_extract(im.snapshot, '$.feed')), COALESCE(SUM(im.attached_at >= ?), 0), \
             AVG(im.sentiment) FROM incident_mentions im LEFT JOIN mentions m ON m.id = im.mention_id \
             WHERE im.incident_id = ?",
        )
        .bind(ts(recent_since))
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
             WHERE im.incident_id = ? ORDER BY im.risk DESC, im.mention_id LIMIT ?",
        )
        .bind(incident_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let mention: Mention = json(row.try_get("snapshot")?)?;
                let terms: Option<String> = row.try_get("terms")?;
                let terms: Vec<serde_json::Value> = terms.as_deref().map(json).transpose()?.unwrap_or_default();
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
             (SELECT json_group_array(DISTINCT rule) FROM rule_matches WHERE mention_id = m.id) AS rules, \
             (SELECT json_group_array(brand) FROM mention_brands WHERE mention_id = m.id) AS brands, \
             (SELECT verdict FROM mention_triage WHERE mention_id = m.id) AS triage \
             FROM mentions m WHERE (?1 IS NULL OR instr(lower(m.title || ' ' || m.body), lower(?1)) > 0) \
             AND (?2 IS NULL OR EXISTS (SELECT 1 FROM rule_matches rm WHERE rm.mention_id = m.id AND rm.rule = ?2)) \
             AND (?3 IS NULL OR m.feed = ?3) AND (?4 IS NULL OR m.fetched_at >= ?4) AND (?5 IS NULL OR m.fetched_at < ?5) \
             AND (?6 IS NULL OR m.id < ?6) AND (?8 IS NULL OR EXISTS (SELECT 1 FROM mention_brands mb \
             WHERE mb.mention_id = m.id AND mb.brand IN (SELECT value FROM json_each(?8)))) \
             ORDER BY m.id DESC LIMIT ?7",
        )
        .bind(filter.text.as_deref())
        .bind(filter.rule.as_deref())
        .bind(filter.feed.as_deref())
        .bind(filter.since.map(ts))
        .bind(filter.until.map(ts))
        .bind(filter.before_id)
        .bind(filter.limit)
        .bind(filter.brands.as_ref().map(to_json))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let risk: i64 = row.try_get("risk")?;
                let rules: String = row.try_get("rules")?;
                let brands: String = row.try_get("brands")?;
                Ok(StoredMention {
                    id: row.try_get("id")?,
                    feed: row.try_get("feed")?,
                    guid: row.try_get("guid")?,
                    title: row.try_get("title")?,
                    body: row.try_get("body")?,
                    author: row.try_get("author")?,
                    url: row.try_get("url")?,
                    published: opt_ts(row.try_get("published_at")?)?,
                    fetched_at: parse_ts(row.try_get("fetched_at")?)?,
                    lang: row.try_get("analyzed_lang")?,
                    sentiment: row.try_get("sentiment")?,
                    risk: u8::try_from(risk).unwrap_or(100),
                    breakdown: json(row.try_get("breakdown")?)?,
                    rules: json(&rules)?,
                    brands: json(&brands)?,
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
        let live: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM incidents WHERE group_key = ? AND status <> 'resolved' ORDER BY id DESC LIMIT 1",
        )
        .bind(&candidate.group_key)
        .fetch_optional(&mut *tx)
        .await?;
        let (incident_id, opened) = match live {
            Some(incident_id) => {
                let held: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM incident_mentions WHERE incident_id = ? AND mention_id = ?)",
                )
                .bind(incident_id)
                .bind(mention_id)
                .fetch_one(&mut *tx)
                .await?;
                if !held {
                    attach(&mut tx, incident_id, mention_id, scored, now).await?;
                    let event = escalated_attach_event(mention_id, &scored.mention, actor, now);
                    append_event(&mut tx, incident_id, &event).await?;
                }
                (incident_id, false)
            }
            None => {
                let (escalation, fired) = escalation_start(&candidate.policy, now);
                let first_mention_at = candidate.mention_at.min(now);
                let incident_id = insert_incident(&mut tx, candidate, escalation, first_mention_at, now).await?;
                attach(&mut tx, incident_id, mention_id, scored, now).await?;
                let details = opened_details(candidate, first_mention_at, mention_id, &scored.mention, Some(actor));
                let event = NewEvent { at: now, actor: actor.to_owned(), kind: EventKind::Opened, details };
                append_event(&mut tx, incident_id, &event).await?;
                if let Some(fired) = fired {
                    enqueue(&mut tx, incident_id, &fired.channels, fired.kind, fired.level, now, now).await?;
                }
                (incident_id, true)
            }
        };
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
            sqlx::query_as("SELECT id, incident_id, kind FROM timeline WHERE id > ? ORDER BY id LIMIT ?")
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
            sqlx::query_as::<_, (String, String)>("SELECT title, body FROM mentions WHERE id = ?")
                .bind(mention_id)
                .fetch_optional(&mut *tx)
                .await?
        else {
            return Ok(None);
        };
        let rows = sqlx::query("SELECT rule, brand, terms FROM rule_matches WHERE mention_id = ? ORDER BY rule, brand")
            .bind(mention_id)
            .fetch_all(&mut *tx)
            .await?;
        let matches = rows
            .iter()
            .map(|row| {
                let terms: Vec<serde_json::Value> = json(row.try_get("terms")?)?;
                Ok(TriagedMatch {
                    rule: row.try_get("rule")?,
                    brand: row.try_get("brand")?,
                    terms: unique_terms(&terms),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        sqlx::query(
            "INSERT INTO mention_triage (mention_id, verdict, actor, at, title, body, matches) VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (mention_id) DO UPDATE SET verdict = excluded.verdict, actor = excluded.actor, at = excluded.at, \
             title = excluded.title, body = excluded.body, matches = excluded.matches",
        )
        .bind(mention_id)
        .bind(verdict.as_str())
        .bind(actor)
        .bind(ts(now))
        .bind(&title)
        .bind(&body)
        .bind(to_json(&matches))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(Triage { mention_id, verdict, actor: actor.to_owned(), at: now, title, body, matches }))
    }

    async fn triaged(&self, since: DateTime<Utc>) -> Result<Vec<Triage>, StoreError> {
        let rows = sqlx::query(
            "SELECT mention_id, verdict, actor, at, title, body, matches FROM mention_triage WHERE at >= ? \
             ORDER BY at DESC, mention_id DESC",
        )
        .bind(ts(since))
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
                    at: parse_ts(row.try_get("at")?)?,
                    title: row.try_get("title")?,
                    body: row.try_get("body")?,
                    matches: json(row.try_get("matches")?)?,
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
            "SELECT mention_id, brand, terms FROM rule_matches WHERE rule = ? AND at >= ? ORDER BY at DESC LIMIT ?",
        )
        .bind(rule)
        .bind(ts(since))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let terms: Vec<serde_json::Value> = json(row.try_get("terms")?)?;
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
                "SELECT COUNT(*), AVG(m.sentiment), COALESCE(SUM(m.sentiment < -0.05), 0), \
                 COALESCE(SUM(EXISTS (SELECT 1 FROM rule_matches rm \
                 WHERE rm.mention_id = mb.mention_id AND rm.brand = mb.brand)), 0) \
                 FROM mention_brands mb JOIN mentions m ON m.id = mb.mention_id \
                 WHERE mb.brand = ? AND mb.at >= ? AND mb.at < ?",
            )
            .bind(brand)
            .bind(ts(from))
            .bind(ts(to))
            .fetch_one(&self.pool)
            .await?;
            let stories: Vec<VoiceRow> = sqlx::query_as(
                "SELECT s.story, COALESCE(first.title, ''), s.mentions, \
                 (SELECT rm.rule FROM rule_matches rm JOIN mention_brands b ON b.mention_id = rm.mention_id \
                  JOIN mentions x ON x.id = rm.mention_id WHERE rm.brand = ?1 AND b.brand = ?1 \
                  AND COALESCE(x.cluster_id, x.id) = s.story AND b.at >= ?2 AND b.at < ?3 \
                  ORDER BY rm.severity DESC, rm.rule LIMIT 1) \
                 FROM (SELECT COALESCE(m.cluster_id, m.id) AS story, COUNT(*) AS mentions \
                       FROM mention_brands mb JOIN mentions m ON m.id = mb.mention_id \
                       WHERE mb.brand = ?1 AND mb.at >= ?2 AND mb.at < ?3 GROUP BY story) s \
                 LEFT JOIN mentions first ON first.id = s.story \
                 ORDER BY s.mentions DESC, s.story DESC LIMIT ?4",
            )
            .bind(brand)
            .bind(ts(from))
            .bind(ts(to))
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
             COALESCE(m.cluster_id, m.id) AS story, substr(m.title, 1, ?5) AS title, m.id, \
             (SELECT json_group_array(DISTINCT rule) FROM rule_matches WHERE mention_id = m.id) AS rules \
             FROM mentions m WHERE m.fetched_at >= ?1 AND (?3 IS NULL OR EXISTS (SELECT 1 FROM mention_brands mb \
             WHERE mb.mention_id = m.id AND mb.brand IN (SELECT value FROM json_each(?3))))) \
             WHERE at >= ?1 AND at < ?2 ORDER BY at DESC, id DESC LIMIT ?4",
        )
        .bind(ts(from))
        .bind(ts(to))
        .bind(brands.map(|brands| to_json(&brands)))
        .bind(limit)
        .bind(OVERVIEW_TITLE_CHARS)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let rules: String = row.try_get("rules")?;
                Ok(OverviewRow {
                    at: parse_ts(row.try_get("at")?)?,
                    feed: row.try_get("feed")?,
                    lang: row.try_get("analyzed_lang")?,
                    sentiment: row.try_get("sentiment")?,
                    story: row.try_get("story")?,
                    title: row.try_get("title")?,
                    rules: json(&rules)?,
                })
            })
            .collect()
    }

    async fn adopt_unbranded(&self, brand: &str) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let marked = sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING")
            .bind(ADOPTED_KEY)
            .bind(brand.as_bytes())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if marked == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE rule_matches SET brand = ? WHERE brand = ''").bind(brand).execute(&mut *tx).await?;
        let filed = "CASE WHEN group_key LIKE 'drill:rule:%' THEN 'drill:brand:' || ?1 || ':' || substr(group_key, 7) \
                     ELSE 'brand:' || ?1 || ':' || group_key END";
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE incidents SET brand = ?1, group_key = {filed} WHERE brand = ''"
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
            "INSERT INTO mention_brands (mention_id, brand, at) SELECT id, ?, \
             CASE WHEN published_at IS NOT NULL AND published_at <= fetched_at THEN published_at ELSE fetched_at END \
             FROM mentions WHERE true ON CONFLICT DO NOTHING",
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
        // The newest mention stays too, however old: SQLite gives a new row the highest id
        // plus one, so removing it would hand its id (and its story's id) to the next mention.
        let doomed: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, fetched_at FROM mentions m WHERE fetched_at < ? AND fetched_at >= ? \
             AND id < (SELECT MAX(id) FROM mentions) \
             AND NOT EXISTS (SELECT 1 FROM incident_mentions im WHERE im.mention_id = m.id) \
             ORDER BY fetched_at LIMIT ?",
        )
        .bind(ts(before))
        .bind(from.map(ts).unwrap_or_default())
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let ids = to_json(&doomed.iter().map(|(id, _)| *id).collect::<Vec<_>>());
        sqlx::query(
            "INSERT INTO pruned_undated (feed, guid) SELECT feed, guid FROM mentions \
             WHERE id IN (SELECT value FROM json_each(?)) AND published_at IS NULL ON CONFLICT DO NOTHING",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM rule_matches WHERE mention_id IN (SELECT value FROM json_each(?))")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM mention_brands WHERE mention_id IN (SELECT value FROM json_each(?))")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        let mentions = sqlx::query("DELETE FROM mentions WHERE id IN (SELECT value FROM json_each(?))")
            .bind(&ids)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let stories: Vec<i64> = sqlx::query_scalar("SELECT id FROM stories WHERE last_at < ? ORDER BY last_at LIMIT ?")
            .bind(ts(before))
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let stories = to_json(&stories);
        sqlx::query("DELETE FROM story_bands WHERE story_id IN (SELECT value FROM json_each(?))")
            .bind(&stories)
            .execute(&mut *tx)
            .await?;
        let stories = sqlx::query("DELETE FROM stories WHERE id IN (SELECT value FROM json_each(?))")
            .bind(&stories)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        let resume_at = doomed.last().map(|(_, at)| parse_ts(at)).transpose()?;
        Ok(Pruned { mentions, stories, resume_at })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT id FROM incidents LIMIT 1").fetch_optional(&self.pool).await?;
        Ok(())
    }
}

fn feed_from_row(row: &SqliteRow) -> Result<FeedState, StoreError> {
    Ok(FeedState {
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        validators: Validators { etag: row.try_get("etag")?, last_modified: row.try_get("last_modified")? },
        last_success_at: opt_ts(row.try_get("last_success_at")?)?,
        last_error: row.try_get("last_error")?,
        last_error_at: opt_ts(row.try_get("last_error_at")?)?,
        consecutive_failures: row.try_get("consecutive_failures")?,
        next_poll_at: opt_ts(row.try_get("next_poll_at")?)?,
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

    async fn store(dir: &std::path::Path) -> SqliteStore {
        let store = SqliteStore::connect(&format!("sqlite://{}", dir.join("t.db").display())).await.expect("open");
        store.migrate().await.expect("migrate");
        store
    }

    #[tokio::test]
    async fn the_database_itself_refuses_to_edit_or_delete_timeline_events() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(dir.path()).await;
        let now = Utc::now();
        let outcome = ingest(&store, &scored("a", 70), 70, now).await;
        assert!(matches!(outcome, IngestOutcome::Stored { ref opened, .. } if opened.len() == 1));
        assert_eq!(store.pending_notices().await.expect("pending"), 1, "the notice is written with the incident");

        let update = sqlx::query("UPDATE timeline SET actor = 'mallory'").execute(&store.pool).await;
        assert!(update.is_err_and(|e| e.to_string().contains("append-only")));
        let delete = sqlx::query("DELETE FROM timeline").execute(&store.pool).await;
        assert!(delete.is_err_and(|e| e.to_string().contains("append-only")));
    }

    /// The demo's level change carries a spike's p-value, a float that reads back as
    /// another number once parsed: the chain is checked over the stored text, so it holds,
    /// and an edit that leaves the text unreadable as JSON is still named, not an error.
    #[tokio::test]
    async fn the_chain_holds_over_the_stored_bytes_and_names_an_unreadable_edit() {
        use crate::incident::timeline::{Break, verify};
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(dir.path()).await;
        let now = Utc::now();
        ingest(&store, &scored("a", 70), 70, now).await;
        let mut tx = store.pool.begin().await.expect("begin");
        let spike = serde_json::json!({ "from": "high", "to": "critical", "p_value": 2.453062177135147e-11 });
        append_event(&mut tx, 1, &NewEvent::system(now, EventKind::LevelChanged, spike.clone())).await.expect("append");
        tx.commit().await.expect("commit");
        let timeline = store.timeline(1).await.expect("timeline");
        assert_eq!(timeline[1].details, spike);
        assert_eq!(verify(&timeline).map(|i| (i.events, i.reserialized)), Ok((2, 0)));

        sqlx::query("DROP TRIGGER timeline_refuses_update").execute(&store.pool).await.expect("drop trigger");
        sqlx::query("UPDATE timeline SET details = substr(details, 2) WHERE id = 2")
            .execute(&store.pool)
            .await
            .expect("edit");
        let timeline = store.timeline(1).await.expect("an unreadable event is still read");
        assert_eq!(timeline[1].details, serde_json::Value::Null);
        let broken = verify(&timeline).expect_err("the edit is seen");
        assert_eq!((broken.event.id, broken.why), (2, Break::Altered));
    }

    /// Whatever the details hold, the chain verifies as read back and the details read back
    /// as written.
    #[tokio::test]
    async fn any_details_appended_verify_and_read_back_as_written() {
        use crate::incident::timeline::verify;
        use crate::store::common::fixtures::awkward_details;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(dir.path()).await;
        let now = Utc::now();
        ingest(&store, &scored("a", 70), 70, now).await;
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
    }

    #[tokio::test]
    async fn a_syndicated_copy_joins_the_first_story_s_cluster_and_a_new_story_starts_its_own() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(dir.path()).await;
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
        let first = cluster(ingest(&store, &with_text("a", "Acme yogurt made kids sick", story), 70, now).await);
        assert_eq!(first.0, first.1, "the first of a story is its own cluster");
        let herald =
            with_text("b", "Acme yogurt made kids sick - Herald", &format!("{story} Read more at the Herald."));
        let copy = cluster(ingest(&store, &herald, 70, now).await);
        assert_eq!(copy.1, first.0, "the syndicated copy joins the first story");
        let strollers = with_text("c", "Acme recalls strollers", "A faulty brake led Acme to recall 20,000 strollers.");
        let other = cluster(ingest(&store, &strollers, 70, now).await);
        assert_eq!(other.1, other.0, "another story starts its own cluster");
    }

    #[tokio::test]
    async fn a_refetched_item_is_stored_once_and_attaches_to_the_live_incident() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(dir.path()).await;
        let now = Utc::now();
        ingest(&store, &scored("a", 70), 70, now).await;
        let again = ingest(&store, &scored("a", 70), 70, now).await;
        assert_eq!(again, IngestOutcome::Duplicate);
        let second = ingest(&store, &scored("b", 65), 65, now).await;
        assert!(
            matches!(second, IngestOutcome::Stored { ref opened, ref attached, .. } if opened.is_empty() && attached.len() == 1)
        );
        assert_eq!(store.mention_count().await.expect("count"), 2);
        let incidents = store.incidents(&IncidentFilter { limit: 10, ..Default::default() }).await.expect("list");
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0].mentions, 2);
    }

    #[tokio::test]
    async fn a_batch_keeps_arrival_order_and_logs_its_attachments_as_one_event_per_incident() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(dir.path()).await;
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
        let ids: Vec<Option<i64>> = outcomes
            .iter()
            .map(|o| match o {
                IngestOutcome::Stored { mention_id, .. } => Some(*mention_id),
                IngestOutcome::Duplicate => None,
            })
            .collect();
        assert_eq!(ids, vec![Some(1), Some(2), None, Some(3), Some(4), Some(5), None], "{outcomes:?}");
        assert!(matches!(&outcomes[1], IngestOutcome::Stored { opened, .. } if opened.len() == 1));
        assert!(matches!(&outcomes[3], IngestOutcome::Stored { attached, .. } if attached.len() == 1));

        let kinds: Vec<(String, serde_json::Value)> =
            store.timeline(1).await.expect("timeline").into_iter().map(|e| (e.kind, e.details)).collect();
        assert_eq!(kinds.len(), 2, "opened, then one event for both attachments: {kinds:?}");
        assert_eq!(kinds[0].0, "opened");
        assert_eq!(kinds[1].0, "mentions_attached");
        assert_eq!(kinds[1].1["mention_ids"], serde_json::json!([3, 5]));
        assert_eq!(kinds[1].1["count"], 2);
    }

    #[tokio::test]
    async fn upgrading_starts_each_group_s_mass_from_its_last_week_of_matches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("old.db").display());
        // The database as the previous release left it: migrations 1 to 3 only.
        let old = dir.path().join("old-migrations");
        std::fs::create_dir(&old).expect("mkdir");
        for entry in std::fs::read_dir("migrations/sqlite").expect("migrations") {
            let path = entry.expect("entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if name.as_str() < "0004" {
                std::fs::copy(&path, old.join(&name)).expect("copy");
            }
        }
        let pool = SqliteStore::connect(&url).await.expect("open").pool;
        sqlx::migrate::Migrator::new(old.as_path()).await.expect("old set").run(&pool).await.expect("old migrate");
        let latest = DateTime::from_timestamp(1_700_000_000, 0).expect("valid");
        // One match now, one 3.5 days ago, one 10 days ago (beyond the week: not counted).
        for (id, days) in [(1, 0.0), (2, 3.5), (3, 10.0)] {
            let at = latest - chrono::Duration::milliseconds((days * 86_400_000.0) as i64);
            sqlx::query(
                "INSERT INTO mentions (id, feed, guid, title, body, fetched_at, risk, breakdown) \
                 VALUES (?, 'f', ?, 't', 'b', ?, 10, '{}')",
            )
            .bind(id)
            .bind(id.to_string())
            .bind(ts(at))
            .execute(&pool)
            .await
            .expect("mention");
            sqlx::query(
                "INSERT INTO rule_matches (mention_id, rule, severity, terms, at) VALUES (?, 'r', 10, '[]', ?)",
            )
            .bind(id)
            .bind(ts(at))
            .execute(&pool)
            .await
            .expect("match");
        }
        sqlx::query("INSERT INTO group_spikes (group_key, last_spike_at) VALUES ('rule:r', ?)")
            .bind(ts(latest))
            .execute(&pool)
            .await
            .expect("spike");
        MIGRATOR.run(&pool).await.expect("upgrade");
        let (first_at, mass, mass_at, last_spike_at): (String, f64, String, Option<String>) =
            sqlx::query_as("SELECT first_at, mass, mass_at, last_spike_at FROM groups WHERE group_key = 'rule:r'")
                .fetch_one(&pool)
                .await
                .expect("group row");
        let expected = 1.0 + (-0.5f64).exp();
        assert!((mass - expected).abs() < 0.01, "mass {mass}, expected {expected}");
        assert_eq!(parse_ts(&mass_at).expect("time"), latest);
        assert_eq!(parse_ts(&first_at).expect("time"), latest - chrono::Duration::days(10));
        assert_eq!(last_spike_at.as_deref().map(parse_ts).transpose().expect("time"), Some(latest));
    }
}
