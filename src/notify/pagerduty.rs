//! PagerDuty: incidents handed to the on-call system a company already runs, through the
//! Events API v2, and PagerDuty's acknowledgements and resolutions taken back from its
//! webhooks (v3).
//!
//! Outbound: `POST https://events.pagerduty.com/v2/enqueue` with `{"routing_key",
//! "event_action": "trigger" | "acknowledge" | "resolve", "dedup_key", "payload":
//! {"summary" (at most 1,024 characters), "source", "severity": "critical" | "error" |
//! "warning" | "info", "timestamp", "component", "group", "class", "custom_details"},
//! "links", "client", "client_url"}`. One `dedup_key` per incident (`tocsin-incident-ID`), so
//! every notice of an incident updates one PagerDuty alert and an acknowledgement in either
//! system is the same alert's. PagerDuty answers 202 `{"status": "success"}`; 400 is a bad
//! event (permanent), 429 its rate limit and 5xx are retried.
//!
//! Inbound: a v3 webhook subscription signs each delivery with
//! `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>` (several, comma-separated,
//! while a secret rotates); `incident.acknowledged` and `incident.resolved` carry the
//! PagerDuty incident, whose `incident_key` is the `dedup_key` sent.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::chat::ellipsize;
use super::webhook::{Delivery, exchange};
use super::{Notice, NoticeKind};
use crate::incident::Level;
use crate::incident::present::safe_href;

/// Where events go when the channel names no `url`.
pub const EVENTS_API: &str = "https://events.pagerduty.com/v2/enqueue";
/// The actor PagerDuty's acknowledgements and resolutions are recorded under; a notice of
/// an action by this actor is not sent back to PagerDuty.
pub const ACTOR: &str = "pagerduty";
const SUMMARY_CHARS: usize = 1_024;
const DEDUP_PREFIX: &str = "tocsin-incident-";

/// The one `dedup_key` of an incident.
pub fn dedup_key(incident_id: i64) -> String {
    format!("{DEDUP_PREFIX}{incident_id}")
}

/// The incident a `dedup_key` (PagerDuty's `incident_key`) names, when tocsin made it.
pub fn incident_of(dedup_key: &str) -> Option<i64> {
    dedup_key.strip_prefix(DEDUP_PREFIX)?.parse().ok()
}

/// The Events API v2 event for `notice`: an acknowledgement or resolution as such, every
/// other notice a (re)trigger of the incident's one alert with its current facts.
pub fn event(notice: &Notice, routing_key: &str, now: DateTime<Utc>) -> Value {
    let incident = &notice.incident;
    let action = match notice.kind {
        NoticeKind::Acknowledged => "acknowledge",
        NoticeKind::Resolved => "resolve",
        _ => "trigger",
    };
    let dedup = dedup_key(incident.id);
    if action != "trigger" {
        return json!({"routing_key": routing_key, "event_action": action, "dedup_key": dedup});
    }
    let severity = match incident.level {
        Level::Critical => "critical",
        Level::High => "error",
        Level::Medium => "warning",
        Level::Low => "info",
    };
    let summary = format!(
        "{}[{}] {} (#{})",
        if incident.drill { "[DRILL] " } else { "" },
        incident.level.as_str().to_ascii_uppercase(),
        incident.title.split_whitespace().collect::<Vec<_>>().join(" "),
        incident.id
    );
    let dashboard = safe_href(&notice.links.dashboard);
    let mut links = Vec::new();
    if let Some(href) = dashboard {
        links.push(json!({"href": href, "text": "Open in tocsin"}));
    }
    for mention in notice.top_mentions.iter().take(3) {
        if let Some(href) = mention.url.as_deref().and_then(safe_href) {
            links.push(json!({"href": href, "text": ellipsize(&mention.title, 120)}));
        }
    }
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup,
        "payload": {
            "summary": ellipsize(&summary, SUMMARY_CHARS),
            "source": "tocsin",
            "severity": severity,
            "timestamp": now.to_rfc3339(),
            "component": incident.brand.as_deref().unwrap_or("brand"),
            "group": incident.rule,
            "class": incident.crisis_type.as_deref().unwrap_or("reputation"),
            "custom_details": {
                "notice": notice.kind,
                "score": incident.score,
                "status": incident.status.as_str(),
                "mentions": incident.mentions,
                "opened_at": incident.opened_at.to_rfc3339(),
                "why": incident.why,
                "update": notice.update,
            },
        },
        "links": links,
        "client": "tocsin",
        "client_url": dashboard,
    })
}

/// Sends `notice` to PagerDuty, unless it tells of an action PagerDuty itself took: that
/// one is not echoed back (it would only bounce between the two systems).
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    routing_key: &str,
    notice: &Notice,
    now: DateTime<Utc>,
) -> Delivery {
    if notice.acted_by.as_deref() == Some(ACTOR) {
        return Delivery::Delivered { status: "not sent: the action came from PagerDuty".to_owned() };
    }
    let body = event(notice, routing_key, now);
    exchange(client.post(url).json(&body), now).await
}

/// Whether `header` (`X-PagerDuty-Signature`) holds a `v1=` signature of `body` by any of
/// `secrets`, compared in constant time.
pub fn verify(secrets: &[String], body: &[u8], header: &str) -> bool {
    let signatures: Vec<Vec<u8>> = header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(|hex| decode_hex(hex.trim()))
        .collect();
    secrets.iter().filter(|s| !s.is_empty()).any(|secret| {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
        mac.update(body);
        signatures.iter().any(|tag| mac.clone().verify_slice(tag).is_ok())
    })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// What a PagerDuty webhook asks of tocsin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    Acknowledge {
        incident_id: i64,
    },
    Resolve {
        incident_id: i64,
    },
    /// Another event type, or an incident tocsin did not make: nothing to do.
    Ignored(String),
}

/// Reads a v3 webhook delivery.
pub fn inbound(payload: &Value) -> Inbound {
    let event = &payload["event"];
    let kind = event["event_type"].as_str().unwrap_or_default();
    let key = event["data"]["incident_key"].as_str().unwrap_or_default();
    match (kind, incident_of(key)) {
        ("incident.acknowledged", Some(incident_id)) => Inbound::Acknowledge { incident_id },
        ("incident.resolved", Some(incident_id)) => Inbound::Resolve { incident_id },
        (_, None) if kind.starts_with("incident.") => {
            Inbound::Ignored(format!("{kind} of an incident tocsin did not send ({key:?})"))
        }
        _ => Inbound::Ignored(format!("event type {kind:?} needs nothing from tocsin")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::template::tests::{mention, notice};

    #[test]
    fn every_notice_of_an_incident_is_one_alert_triggered_acknowledged_and_resolved() {
        let now = DateTime::from_timestamp(1_740_000_000, 0).expect("a time");
        let mut n = notice(vec![mention(1, "Acme yogurt recall")]);
        let trigger = event(&n, "R0UT1NG", now);
        assert_eq!((&trigger["event_action"], &trigger["dedup_key"]), (&json!("trigger"), &json!("tocsin-incident-7")));
        assert_eq!(trigger["payload"]["severity"], "error", "high is PagerDuty's error");
        assert!(trigger["payload"]["summary"].as_str().is_some_and(|s| s.starts_with("[HIGH] Food safety")));
        n.kind = NoticeKind::Acknowledged;
        let ack = event(&n, "R0UT1NG", now);
        assert_eq!(
            ack,
            json!({"routing_key": "R0UT1NG", "event_action": "acknowledge", "dedup_key": "tocsin-incident-7"})
        );
        n.kind = NoticeKind::Resolved;
        assert_eq!(event(&n, "R0UT1NG", now)["event_action"], "resolve");
        assert_eq!(incident_of("tocsin-incident-7"), Some(7));
        assert_eq!(incident_of("someone-else-7"), None);
    }

    #[test]
    fn a_signature_is_checked_against_each_secret_and_each_v1_value() {
        let body = br#"{"event":{}}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"new-secret").expect("key");
        mac.update(body);
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let header = format!("v1=00ff, v1={hex}");
        assert!(verify(&["old".into(), "new-secret".into()], body, &header));
        assert!(!verify(&["old".into()], body, &header));
        assert!(!verify(&["new-secret".into()], b"tampered", &header));
        assert!(!verify(&["new-secret".into()], body, "v1=zz"));
    }
}
