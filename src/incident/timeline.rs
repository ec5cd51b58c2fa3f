//! The incident timeline: one event per fact, append-only and hash-chained.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What happened. Stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Opened,
    MentionsAttached,
    LevelChanged,
    Notified,
    Escalated,
    Acknowledged,
    Resolved,
    Reopened,
    /// An acknowledged incident nobody resolved within the policy's `ack_timeout`: back to open.
    AckExpired,
    Assigned,
    Note,
    StepDone,
    /// A playbook step passed its due time undone; a reminder went out.
    StepOverdue,
    /// A silence held back mentions that would have raised this incident.
    Silenced,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::MentionsAttached => "mentions_attached",
            EventKind::LevelChanged => "level_changed",
            EventKind::Notified => "notified",
            EventKind::Escalated => "escalated",
            EventKind::Acknowledged => "acknowledged",
            EventKind::Resolved => "resolved",
            EventKind::Reopened => "reopened",
            EventKind::AckExpired => "ack_expired",
            EventKind::Assigned => "assigned",
            EventKind::Note => "note",
            EventKind::StepDone => "step_done",
            EventKind::StepOverdue => "step_overdue",
            EventKind::Silenced => "silenced",
        }
    }
}

/// An event about to be appended; the store chains it to the incident's last event.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: EventKind,
    pub details: serde_json::Value,
}

impl NewEvent {
    pub fn system(at: DateTime<Utc>, kind: EventKind, details: serde_json::Value) -> NewEvent {
        NewEvent { at, actor: "system".to_owned(), kind, details }
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub id: i64,
    pub incident_id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an event, covering the previous event's hash so no event can be edited,
/// dropped or reordered without breaking every hash after it.
pub fn event_hash(
    prev_hash: &str,
    incident_id: i64,
    at: DateTime<Utc>,
    actor: &str,
    kind: &str,
    details: &serde_json::Value,
) -> String {
    let mut hasher = Sha256::new();
    for part in [
        prev_hash,
        &incident_id.to_string(),
        &at.to_rfc3339_opts(SecondsFormat::Micros, true),
        actor,
        kind,
        &details.to_string(),
    ] {
        hasher.update(part.as_bytes());
        // A separator that cannot occur in the parts' encodings keeps "ab"+"c" apart from "a"+"bc".
        hasher.update([0u8]);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a timeline's chain; returns the first event that does not verify.
pub fn verify(events: &[Event]) -> Result<(), &Event> {
    let mut prev = String::new();
    for event in events {
        let expected = event_hash(&prev, event.incident_id, event.at, &event.actor, &event.kind, &event.details);
        if event.prev_hash != prev || event.hash != expected {
            return Err(event);
        }
        prev = event.hash.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(details: &[&str]) -> Vec<Event> {
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("valid");
        let mut prev = String::new();
        let mut events = Vec::new();
        for (i, text) in details.iter().enumerate() {
            let details = serde_json::json!({ "note": text });
            let hash = event_hash(&prev, 7, at, "system", "opened", &details);
            events.push(Event {
                id: i as i64,
                incident_id: 7,
                at,
                actor: "system".into(),
                kind: "opened".into(),
                details,
                prev_hash: prev.clone(),
                hash: hash.clone(),
            });
            prev = hash;
        }
        events
    }

    #[test]
    fn an_edited_event_breaks_the_chain_at_that_event() {
        let mut events = chain(&["a", "b", "c"]);
        assert!(verify(&events).is_ok());
        events[1].details = serde_json::json!({ "note": "edited" });
        assert_eq!(verify(&events).map_err(|e| e.id), Err(1));
    }

    #[test]
    fn a_dropped_event_breaks_the_chain() {
        let mut events = chain(&["a", "b", "c"]);
        events.remove(1);
        assert_eq!(verify(&events).map_err(|e| e.id), Err(2));
    }
}
