//! Drills (演练): a clearly marked simulated crisis sent through the real chain, so a team
//! can rehearse the response and review it like a real one.
//!
//! A drill mention is one of the rule's own matching examples, pushed into the pipeline
//! under the reserved feed [`DRILL_FEED`]. The incident it opens lives in a group of its
//! own (`drill:rule:ID`, never attached to a real incident of the rule), opens whatever the
//! example's score, is titled `[DRILL]`, and every alert about it says DRILL. Escalation,
//! delivery, the playbook and the review are the real ones.

use chrono::{DateTime, Utc};

use crate::analyze::rules::BRAND_LIST;
use crate::analyze::{BrandSpec, RuleSet};
use crate::ingest::Mention;
use crate::pipeline::{DRILL_FEED, Pipeline};
use crate::store::{Arrival, IngestOutcome, Store, StoreError};

/// Why a drill could not start.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("no rule `{0}`")]
    NoRule(String),
    #[error("rule `{0}` has no example that matches it (`[[rule.example]]` with `match = true`) to drill with")]
    NoExample(String),
    #[error("no rule has a matching example to drill with")]
    NoRules,
    #[error("a drill of rule `{0}` is already open (incident {1}): resolve it first")]
    AlreadyOpen(String, i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The incident a drill opened.
#[derive(Debug, Clone, PartialEq)]
pub struct Drill {
    pub rule: String,
    pub incident_id: i64,
}

/// Runs a drill of `rule` (by default the most severe rule with a matching example) at `now`;
/// in an install of several brands, for `brand` (its examples name the rules' own brand,
/// which the drill mention names as `brand` instead).
pub async fn run<S: Store>(
    pipeline: &Pipeline<S>,
    rules: &RuleSet,
    rule: Option<&str>,
    brand: Option<&BrandSpec>,
    now: DateTime<Utc>,
) -> Result<Drill, DrillError> {
    let mut example_names: Vec<&str> = rules.list_words(BRAND_LIST);
    example_names.sort_by_key(|name| std::cmp::Reverse(name.len()));
    let as_brand = |text: &str| match brand.and_then(|b| b.names.first()) {
        Some(name) => example_names.iter().fold(text.to_owned(), |text, example| text.replace(example, name)),
        None => text.to_owned(),
    };
    let candidates: Vec<_> = match rule {
        Some(id) => vec![rules.rule(id).ok_or_else(|| DrillError::NoRule(id.to_owned()))?],
        None => {
            let mut all: Vec<_> = rules.rules().iter().collect();
            all.sort_by_key(|r| std::cmp::Reverse(r.severity));
            all
        }
    };
    for rule in candidates {
        for example in rule.examples.iter().filter(|e| e.expect_match) {
            let mention = Mention {
                feed: DRILL_FEED.to_owned(),
                guid: format!("drill-{}-{}", rule.id, now.timestamp_micros()),
                title: format!("[DRILL] {}", as_brand(&example.title)),
                body: as_brand(&example.body),
                author: example.author.clone(),
                url: None,
                published: Some(now),
                fetched_at: now,
                lang: None,
                engagement: None,
            };
            let scored = pipeline.score(mention);
            let wanted = brand.map(|b| b.name.as_str());
            if !scored.matches.iter().any(|m| m.rule == rule.id && m.brand.as_deref() == wanted) {
                continue;
            }
            let outcome = pipeline.record(vec![Arrival::new(scored, now)]).await?;
            return match outcome.into_iter().next() {
                Some(IngestOutcome::Stored { opened, attached, .. }) => match (opened.first(), attached.first()) {
                    (Some(&incident_id), _) => Ok(Drill { rule: rule.id.clone(), incident_id }),
                    (None, Some(&incident_id)) => Err(DrillError::AlreadyOpen(rule.id.clone(), incident_id)),
                    (None, None) => Err(DrillError::NoExample(rule.id.clone())),
                },
                _ => Err(DrillError::NoExample(rule.id.clone())),
            };
        }
    }
    match rule {
        Some(id) => Err(DrillError::NoExample(id.to_owned())),
        None => Err(DrillError::NoRules),
    }
}
