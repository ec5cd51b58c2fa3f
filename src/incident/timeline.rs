//! The incident timeline: one event per fact, append-only and hash-chained.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
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
    /// A written update sent to the incident's channels.
    StatusUpdate,
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
            EventKind::StatusUpdate => "status_update",
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

    /// The event as the store writes it, chained to `prev_hash`: its time and details are
    /// turned into text once, and the hash covers exactly that text.
    pub fn seal(&self, incident_id: i64, prev_hash: &str) -> SealedEvent {
        // The stores keep microseconds; a finer time would not survive being stored.
        let at = self.at.trunc_subsecs(6);
        let at_text = at.to_rfc3339_opts(SecondsFormat::Micros, true);
        let details = self.details.to_string();
        let hash = event_hash(prev_hash, incident_id, &at_text, &self.actor, self.kind.as_str(), &details);
        SealedEvent { at, at_text, details, prev_hash: prev_hash.to_owned(), hash }
    }
}

/// What the store writes for a [`NewEvent`]: the text the hash was taken over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEvent {
    pub at: DateTime<Utc>,
    /// `at` as RFC 3339 UTC with microseconds, as hashed (and as SQLite stores it).
    pub at_text: String,
    /// The details as compact JSON: the bytes stored and hashed.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// How an event's hash was taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HashScheme {
    /// Over the details' bytes as stored: every SQLite event, and every PostgreSQL event
    /// since its store kept that text beside the JSONB column (migration 0004).
    #[default]
    StoredBytes,
    /// Older PostgreSQL events, whose details only survive as JSONB, which keeps the value
    /// but not the bytes: they are checked against the details serialized again, which a
    /// float may not survive.
    Reserialized,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub id: i64,
    pub incident_id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    /// The stored details, read as JSON; `null` when the stored text is not JSON (it was
    /// edited, and [`verify`] names the event).
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
    /// The stored text the hash is checked against.
    #[serde(skip)]
    pub stored: StoredText,
}

/// An event's time and details exactly as the store holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredText {
    pub at: String,
    pub details: String,
    pub scheme: HashScheme,
}

impl StoredText {
    /// Reads stored details: the value, or `null` for text that is not JSON.
    pub fn parse_details(text: &str) -> serde_json::Value {
        serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
    }
}

/// The hash of an event, covering the previous event's hash so no event can be edited,
/// dropped or reordered without breaking every hash after it.
pub fn event_hash(prev_hash: &str, incident_id: i64, at: &str, actor: &str, kind: &str, details: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [prev_hash, &incident_id.to_string(), at, actor, kind, details] {
        hasher.update(part.as_bytes());
        // A separator that cannot occur in the parts' encodings keeps "ab"+"c" apart from "a"+"bc".
        hasher.update([0u8]);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A timeline whose chain holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intact {
    pub events: usize,
    /// How many of them were checked by [`HashScheme::Reserialized`]: written before the
    /// store kept their bytes.
    pub reserialized: usize,
}

/// Why the chain breaks at an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// Its `prev_hash` is not the hash of the event stored before it: an event was
    /// dropped, inserted or moved.
    Unlinked,
    /// Its stored time, actor, kind or details no longer give its hash: it was edited.
    Altered,
}

impl Break {
    pub fn describe(self) -> &'static str {
        match self {
            Break::Unlinked => {
                "it does not follow the event stored before it (an event was dropped, inserted or moved)"
            }
            Break::Altered => "its stored time, actor, kind or details no longer match its hash (it was edited)",
        }
    }
}

/// The first event at which a chain breaks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Broken<'a> {
    pub event: &'a Event,
    pub why: Break,
}

/// Checks a timeline's chain, re-hashing each event's stored text; names the first event
/// that does not verify.
pub fn verify(events: &[Event]) -> Result<Intact, Broken<'_>> {
    let mut prev = "";
    let mut reserialized = 0;
    for event in events {
        if event.prev_hash != prev {
            return Err(Broken { event, why: Break::Unlinked });
        }
        let stored = &event.stored;
        let expected = event_hash(prev, event.incident_id, &stored.at, &event.actor, &event.kind, &stored.details);
        if event.hash != expected {
            return Err(Broken { event, why: Break::Altered });
        }
        if stored.scheme == HashScheme::Reserialized {
            reserialized += 1;
        }
        prev = &event.hash;
    }
    Ok(Intact { events: events.len(), reserialized })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain as a store would write and read it back.
    fn chain(details: &[serde_json::Value]) -> Vec<Event> {
        let at = DateTime::from_timestamp(1_700_000_000, 123_456_789).expect("valid");
        let mut prev = String::new();
        let mut events = Vec::new();
        for (i, details) in details.iter().enumerate() {
            let new = NewEvent::system(at, EventKind::LevelChanged, details.clone());
            let sealed = new.seal(7, &prev);
            events.push(Event {
                id: i as i64 + 1,
                incident_id: 7,
                at: sealed.at,
                actor: new.actor.clone(),
                kind: new.kind.as_str().to_owned(),
                details: StoredText::parse_details(&sealed.details),
                prev_hash: sealed.prev_hash.clone(),
                hash: sealed.hash.clone(),
                stored: StoredText { at: sealed.at_text, details: sealed.details, scheme: HashScheme::StoredBytes },
            });
            prev = sealed.hash;
        }
        events
    }

    fn notes(texts: &[&str]) -> Vec<Event> {
        chain(&texts.iter().map(|t| serde_json::json!({ "note": t })).collect::<Vec<_>>())
    }

    fn broken_at(events: &[Event]) -> Result<Intact, (i64, Break)> {
        verify(events).map_err(|b| (b.event.id, b.why))
    }

    #[test]
    fn stored_text_that_would_serialize_differently_still_verifies() {
        // As a database may hold it: keys in another order, a number written another way.
        // Parsed and written again it is other bytes, so only the bytes themselves can be checked.
        let mut events = notes(&["a"]);
        let text = r#"{"to":"critical","p_value":2.4530621771351470e-11}"#;
        let event = &mut events[0];
        event.stored.details = text.to_owned();
        event.hash = event_hash("", 7, &event.stored.at, &event.actor, &event.kind, text);
        assert_ne!(StoredText::parse_details(text).to_string(), text);
        assert_eq!(broken_at(&events), Ok(Intact { events: 1, reserialized: 0 }));
    }

    #[test]
    fn an_edited_event_breaks_the_chain_at_that_event() {
        let mut events = notes(&["a", "b", "c"]);
        events[1].stored.details = r#"{"note":"edited"}"#.to_owned();
        assert_eq!(broken_at(&events), Err((2, Break::Altered)));
    }

    #[test]
    fn details_that_are_no_longer_json_name_the_event() {
        let mut events = notes(&["a", "b"]);
        events[1].stored.details = r#"{"note":"b"#.to_owned();
        assert_eq!(broken_at(&events), Err((2, Break::Altered)));
    }

    #[test]
    fn a_changed_time_or_actor_breaks_the_chain() {
        let mut events = notes(&["a", "b"]);
        events[0].stored.at = "2023-11-14T22:13:21.123456Z".to_owned();
        assert_eq!(broken_at(&events), Err((1, Break::Altered)));
        let mut events = notes(&["a", "b"]);
        events[1].actor = "mallory".to_owned();
        assert_eq!(broken_at(&events), Err((2, Break::Altered)));
    }

    #[test]
    fn a_dropped_or_moved_event_breaks_the_chain() {
        let mut events = notes(&["a", "b", "c"]);
        events.remove(1);
        assert_eq!(broken_at(&events), Err((3, Break::Unlinked)));
        let mut events = notes(&["a", "b", "c"]);
        events.swap(1, 2);
        assert_eq!(broken_at(&events), Err((3, Break::Unlinked)));
    }

    #[test]
    fn old_events_checked_by_reserializing_are_counted() {
        let mut events = notes(&["a", "b"]);
        events[0].stored.scheme = HashScheme::Reserialized;
        assert_eq!(broken_at(&events), Ok(Intact { events: 2, reserialized: 1 }));
    }
}
