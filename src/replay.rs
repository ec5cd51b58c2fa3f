//! Replay (backtest): saved mentions run through the full pipeline (analysis, grouping,
//! spikes, incidents) on a simulated clock set to each mention's publication time, so a PR
//! team can tune rules on history and see when each incident would have opened.
//!
//! Inputs are JSONL files of mentions (the shape `POST /api/v1/mentions` takes, one per
//! line, `published` required) or saved RSS/Atom/JSON feed files (items without a date are
//! skipped and counted). Nothing is delivered: notices stay in the replay's outbox.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Notify;

use crate::analyze::RuleSet;
use crate::clock::Clock;
use crate::config::Config;
use crate::incident::Level;
use crate::ingest::Mention;
use crate::ingest::parse::parse_feed;
use crate::ingest::push::MentionInput;
use crate::pipeline::Pipeline;
use crate::store::{self, AnyStore, Arrival, IncidentFilter, Store, StoreError};

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Line { path: PathBuf, line: usize, message: String },
    #[error("{path}: not a feed tocsin can read: {message}")]
    Feed { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("analysis failed: {0}")]
    Analysis(String),
}

/// The mentions of the input files, oldest first, and what was skipped.
#[derive(Debug, Default)]
pub struct History {
    pub mentions: Vec<Mention>,
    /// Feed items with no publication date: a replay cannot place them in time.
    pub undated: usize,
}

/// Reads every file: `.jsonl`/`.json`/`.ndjson` as mentions, anything else as a feed.
pub fn load(paths: &[PathBuf]) -> Result<History, ReplayError> {
    let mut history = History::default();
    for path in paths {
        let bytes = std::fs::read(path).map_err(|source| ReplayError::Read { path: path.clone(), source })?;
        let is_jsonl = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jsonl" | "ndjson" | "json"));
        if is_jsonl {
            read_jsonl(path, &bytes, &mut history.mentions)?;
        } else {
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("replay").to_owned();
            let parsed = parse_feed(&name, &bytes, None, None, Utc::now())
                .map_err(|e| ReplayError::Feed { path: path.clone(), message: e.to_string() })?;
            for mut mention in parsed.items {
                match mention.published {
                    Some(published) => {
                        mention.fetched_at = published;
                        history.mentions.push(mention);
                    }
                    None => history.undated += 1,
                }
            }
        }
    }
    // Stable: mentions published at the same instant keep their file order.
    history.mentions.sort_by_key(|m| m.fetched_at);
    Ok(history)
}

fn read_jsonl(path: &Path, bytes: &[u8], out: &mut Vec<Mention>) -> Result<(), ReplayError> {
    let line_error = |line: usize, message: String| ReplayError::Line { path: path.to_owned(), line, message };
    let text = std::str::from_utf8(bytes).map_err(|e| line_error(1, format!("not UTF-8: {e}")))?;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let input: MentionInput = serde_json::from_str(line).map_err(|e| line_error(number, e.to_string()))?;
        let Some(published) = input.published else {
            return Err(line_error(number, "`published` is required to place a mention in a replay".into()));
        };
        let mention = input.into_mention(index, published).map_err(|e| line_error(number, e.to_string()))?;
        out.push(mention);
    }
    Ok(())
}

/// One incident the replay opened (SPEC §2, `replay --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayIncident {
    pub group: String,
    pub rule: String,
    /// The brand it is about, when the config names brands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    pub title: String,
    pub opened_at: DateTime<Utc>,
    pub first_mention_at: Option<DateTime<Utc>>,
    /// From the group's first matching mention to the opening.
    pub time_to_detect_s: Option<i64>,
    pub level: Level,
    pub mentions: i64,
}

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    pub mentions: usize,
    pub incidents: Vec<ReplayIncident>,
}

/// Mentions per transaction in a replay: large, since nothing else writes to its database.
const REPLAY_BATCH: usize = 2_000;

/// Runs `history` through the pipeline into the database at `db_url`, calling
/// `progress` with the number of mentions done after each batch. Each mention is stored
/// at its own time, as the daemon would have seen it then; the next batch is analyzed on
/// another thread while the store writes this one.
pub async fn run(
    config: Config,
    rules: RuleSet,
    history: History,
    db_url: &str,
    progress: impl Fn(usize),
) -> Result<ReplayReport, ReplayError> {
    let store = Arc::new(store::open(db_url).await?);
    store.migrate().await?;
    let pipeline = Arc::new(
        Pipeline::new(store.clone(), Arc::new(rules), Arc::new(config), Clock::default(), Arc::new(Notify::new()))
            .map_err(|e| ReplayError::Analysis(e.to_string()))?,
    );
    let total = history.mentions.len();
    let mut mentions = history.mentions.into_iter();
    let mut analyze_next = |pipeline: &Arc<Pipeline<AnyStore>>| {
        let chunk: Vec<Mention> = mentions.by_ref().take(REPLAY_BATCH).collect();
        let pipeline = pipeline.clone();
        tokio::task::spawn_blocking(move || {
            chunk
                .into_iter()
                .map(|mention| {
                    let now = mention.fetched_at;
                    Arrival::new(pipeline.score(mention), now)
                })
                .collect::<Vec<_>>()
        })
    };
    let mut next = analyze_next(&pipeline);
    let mut done = 0;
    loop {
        let batch = next.await.map_err(|e| ReplayError::Analysis(e.to_string()))?;
        if batch.is_empty() {
            break;
        }
        next = analyze_next(&pipeline);
        done += batch.len();
        pipeline.record(batch).await?;
        progress(done);
    }
    let mut incidents = Vec::new();
    let mut before_id = None;
    loop {
        let page = store.incidents(&IncidentFilter { before_id, limit: 500, ..IncidentFilter::default() }).await?;
        let Some(last) = page.last() else { break };
        before_id = Some(last.id);
        incidents.extend(page.into_iter().map(|i| ReplayIncident {
            time_to_detect_s: i.first_mention_at.map(|first| (i.opened_at - first).num_seconds().max(0)),
            group: i.group,
            rule: i.rule,
            brand: i.brand,
            title: i.title,
            opened_at: i.opened_at,
            first_mention_at: i.first_mention_at,
            level: i.level,
            mentions: i.mentions,
        }));
    }
    incidents.sort_by_key(|i| i.opened_at);
    Ok(ReplayReport { mentions: total, incidents })
}
