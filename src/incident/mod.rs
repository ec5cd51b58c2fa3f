//! Incidents: grouping scored mentions, the open → acknowledged → resolved state machine,
//! escalation and the append-only timeline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an incident stands in the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Acknowledged,
    Resolved,
}

/// How serious an incident is; levels only rise until the incident is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    /// The level above this one; `Critical` stays.
    pub fn next(self) -> Level {
        match self {
            Level::Low => Level::Medium,
            Level::Medium => Level::High,
            Level::High | Level::Critical => Level::Critical,
        }
    }
}

/// Why a notice is sent (the webhook `type` field): made here, by escalation and the
/// workflow, and delivered by `notify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoticeKind {
    #[serde(rename = "incident.opened")]
    Opened,
    #[serde(rename = "incident.escalated")]
    Escalated,
    #[serde(rename = "incident.level_changed")]
    LevelChanged,
    #[serde(rename = "incident.acknowledged")]
    Acknowledged,
    #[serde(rename = "incident.resolved")]
    Resolved,
    #[serde(rename = "incident.reopened")]
    Reopened,
    #[serde(rename = "incident.repeat")]
    Repeat,
    /// A playbook step passed its due time and is not done.
    #[serde(rename = "incident.step_overdue")]
    StepOverdue,
    /// A written status update for the people following the incident.
    #[serde(rename = "incident.status_update")]
    StatusUpdate,
}

/// An incident as the API, the dashboard and every notification show it (SPEC §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Incident {
    pub id: i64,
    pub status: Status,
    pub level: Level,
    /// Highest risk score seen in the group, 0..100.
    pub score: u8,
    pub rule: String,
    /// The group it tracks (`rule:<id>`): one live incident per group.
    pub group: String,
    pub title: String,
    pub opened_at: DateTime<Utc>,
    /// When the first mention of the group was published (fetched, when unknown): where
    /// time-to-detect counts from.
    pub first_mention_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Number of mentions attached.
    pub mentions: i64,
    /// The risk breakdown of the mention that set the score: why this incident exists.
    pub why: serde_json::Value,
    /// Who owns the response, once someone is assigned.
    pub assignee: Option<String>,
    /// The rule's crisis type, which picked the playbook.
    pub crisis_type: Option<String>,
    /// A rehearsal (`tocsin drill`), not a real crisis: every alert says DRILL.
    pub drill: bool,
    /// The brand it is about, when the config names brands.
    pub brand: Option<String>,
}

/// An incident's mentions at a glance: how many, in how many languages and from how many
/// sources, how many arrived lately, and their mean sentiment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Pulse {
    pub mentions: i64,
    pub languages: i64,
    pub sources: i64,
    /// Attached since the `recent` instant the store was asked about.
    pub recent: i64,
    /// Mean sentiment of the attached mentions; `None` when none has one.
    pub sentiment: Option<f64>,
}

/// A mention attached to an incident, as alerts list it ("top mentions").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MentionSummary {
    pub feed: String,
    pub title: String,
    pub url: Option<String>,
    pub published: Option<DateTime<Utc>>,
    /// First few hundred characters of the body, as fetched (escape before showing).
    pub excerpt: String,
    /// The rule terms that matched, in the order found.
    pub terms: Vec<String>,
    pub risk: u8,
    /// In [-1, 1], negative is bad news; `None` for mentions stored before sentiment was.
    pub sentiment: Option<f64>,
    /// The near-duplicate story it belongs to (the id of the story's first mention; a
    /// mention without copies is a story of its own); `None` once the mention was pruned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<i64>,
}

impl MentionSummary {
    /// The sentiment as a reader sees it; the sign words use VADER's ±0.05 neutral band,
    /// which the Chinese model is calibrated to as well.
    pub fn sentiment_label(&self) -> String {
        match self.sentiment {
            None => "unknown".to_owned(),
            Some(s) if s <= -0.05 => format!("{s:+.2} negative"),
            Some(s) if s >= 0.05 => format!("{s:+.2} positive"),
            Some(s) => format!("{s:+.2} neutral"),
        }
    }
}

pub mod ack_link;
pub mod escalation;
pub mod grouping;
pub mod playbook;
pub mod present;
pub mod review;
pub mod silence;
pub mod spike;
pub mod timeline;

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "open" => Some(Status::Open),
            "acknowledged" => Some(Status::Acknowledged),
            "resolved" => Some(Status::Resolved),
            _ => None,
        }
    }

    /// The status an action leads to from this one, or why the action is refused.
    pub fn apply(self, action: Action) -> Result<Status, TransitionError> {
        match (self, action) {
            (Status::Open, Action::Acknowledge) => Ok(Status::Acknowledged),
            (Status::Open | Status::Acknowledged, Action::Resolve) => Ok(Status::Resolved),
            (Status::Resolved, Action::Reopen) => Ok(Status::Open),
            (from, action) => Err(TransitionError { from, action }),
        }
    }
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "low" => Some(Level::Low),
            "medium" => Some(Level::Medium),
            "high" => Some(Level::High),
            "critical" => Some(Level::Critical),
            _ => None,
        }
    }
}

/// A workflow action a person takes on an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Acknowledge,
    Resolve,
    Reopen,
}

impl Action {
    pub fn past_tense(self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledged",
            Action::Resolve => "resolved",
            Action::Reopen => "reopened",
        }
    }
}

/// An action that the incident's current status does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} an incident that is {}", action_verb(*.action), .from.as_str())]
pub struct TransitionError {
    pub from: Status,
    pub action: Action,
}

fn action_verb(action: Action) -> &'static str {
    match action {
        Action::Acknowledge => "acknowledge",
        Action::Resolve => "resolve",
        Action::Reopen => "reopen",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_workflow_transitions_are_allowed() {
        assert_eq!(Status::Open.apply(Action::Acknowledge), Ok(Status::Acknowledged));
        assert_eq!(Status::Acknowledged.apply(Action::Resolve), Ok(Status::Resolved));
        assert_eq!(Status::Open.apply(Action::Resolve), Ok(Status::Resolved));
        assert_eq!(Status::Resolved.apply(Action::Reopen), Ok(Status::Open));
        let refused = Status::Acknowledged.apply(Action::Acknowledge).unwrap_err();
        assert_eq!(refused.to_string(), "cannot acknowledge an incident that is acknowledged");
        assert!(Status::Resolved.apply(Action::Acknowledge).is_err());
        assert!(Status::Open.apply(Action::Reopen).is_err());
    }
}
