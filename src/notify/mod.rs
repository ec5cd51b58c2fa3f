//! Notify: the outbox and its delivery workers; email and webhook formats.

pub mod email;
pub mod outbox;
pub mod webhook;

use serde::{Deserialize, Serialize};

use crate::incident::{Incident, MentionSummary};

/// Why a notice is sent; the webhook `type` field.
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
}

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
}
