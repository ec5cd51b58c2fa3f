//! Notify: the outbox and its delivery workers; email, webhook and chat formats, and the
//! templates chat text is rendered from.

pub mod breaker;
pub mod chat;
pub mod email;
pub mod opsgenie;
pub mod outbox;
pub mod pagerduty;
pub mod template;
pub mod webhook;

use serde::{Deserialize, Serialize};

pub use crate::incident::NoticeKind;
use crate::incident::{Incident, MentionSummary};

/// Links an alert carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Links {
    pub dashboard: String,
    /// The signed one-click acknowledge link (a GET shows a confirm page, the POST acknowledges).
    pub ack: Option<String>,
}

/// One notification to one channel, as stored in the outbox and delivered at least once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// Stable notification id: the `webhook-id` header and the email's Message-ID local part.
    /// A retry of the same notice carries the same id.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: NoticeKind,
    pub incident: Incident,
    pub top_mentions: Vec<MentionSummary>,
    pub links: Links,
    /// For `incident.step_overdue`: the playbook steps past their due time and not done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overdue_steps: Vec<String>,
    /// For `incident.status_update`: the update as its author wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<String>,
    /// For an acknowledgement, resolution or reopening: who did it, so a channel that
    /// took the action itself (PagerDuty) is not told of it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acted_by: Option<String>,
}
