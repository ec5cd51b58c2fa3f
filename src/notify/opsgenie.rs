//! Opsgenie: incidents handed to Opsgenie's alerts, and its acknowledgements and closes
//! taken back from its webhook integration.
//!
//! Outbound (Alert API v2, `Authorization: GenieKey <key>`): a new or raised incident is
//! `POST /v2/alerts` with `{"message" (at most 130 characters), "alias" (the incident's one
//! alias, `tocsin-incident-ID`, at most 512), "description" (at most 15,000), "priority":
//! "P1".."P4", "source", "entity", "tags", "details"}`; Opsgenie folds an alert with the
//! alias of an open one into it. Acknowledging and resolving are `POST
//! /v2/alerts/{alias}/acknowledge` and `/close` with `identifierType=alias`. Opsgenie
//! answers 202 `{"result": "Request will be processed"}`; 429 is its rate limit, 5xx are
//! retried, other 4xx (a bad key, a refused field) are permanent.
//!
//! Inbound: Opsgenie's Webhook integration posts `{"action": "Acknowledge" | "Close" | ...,
//! "alert": {"alias", ...}, "source": {"name", ...}}` and signs nothing, so its custom
//! header `X-Tocsin-Token` carries a shared secret tocsin checks.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::chat::ellipsize;
use super::webhook::{Delivery, exchange};
use super::{Notice, NoticeKind};
use crate::incident::Level;
use crate::incident::present::why_lines;
use crate::lang::Lang;

/// Where alerts go when the channel names no `url` (EU accounts: `https://api.eu.opsgenie.com`).
pub const ALERT_API: &str = "https://api.opsgenie.com";
/// The actor Opsgenie's acknowledgements and closes are recorded under; a notice of an
/// action by this actor is not sent back to Opsgenie.
pub const ACTOR: &str = "opsgenie";
/// The header Opsgenie's webhook integration is set to send the shared secret in.
pub const TOKEN_HEADER: &str = "x-tocsin-token";
/// The `source` tocsin's own requests carry; Opsgenie's webhooks about them are not news.
const SOURCE: &str = "tocsin";
const MESSAGE_CHARS: usize = 130;
const DESCRIPTION_CHARS: usize = 15_000;
const ALIAS_PREFIX: &str = "tocsin-incident-";

/// The one alias of an incident's alert.
pub fn alias(incident_id: i64) -> String {
    format!("{ALIAS_PREFIX}{incident_id}")
}

/// The request for `notice`: the URL under `base` and the body.
pub fn request(base: &str, notice: &Notice) -> (String, Value) {
    let base = base.trim_end_matches('/');
    let incident = &notice.incident;
    let alias = alias(incident.id);
    match notice.kind {
        NoticeKind::Acknowledged | NoticeKind::Resolved => {
            let verb = if notice.kind == NoticeKind::Acknowledged { "acknowledge" } else { "close" };
            let by = notice.acted_by.as_deref().unwrap_or(SOURCE);
            let url = format!("{base}/v2/alerts/{alias}/{verb}?identifierType=alias");
            (url, json!({"source": SOURCE, "user": by, "note": format!("{verb}d in tocsin by {by}")}))
        }
        _ => {
            let priority = match incident.level {
                Level::Critical => "P1",
                Level::High => "P2",
                Level::Medium => "P3",
                Level::Low => "P4",
            };
            let title = incident.title.split_whitespace().collect::<Vec<_>>().join(" ");
            let message = format!("{}[{}] {title}", if incident.drill { "[DRILL] " } else { "" }, priority);
            let mut description = String::new();
            if let Some(update) = &notice.update {
                description.push_str(update.trim());
                description.push_str("\n\n");
            }
            for (label, value) in why_lines(&incident.why, Lang::En) {
                description.push_str(&format!("{label}: {value}\n"));
            }
            for mention in &notice.top_mentions {
                description.push_str(&format!("\n- {} ({})", mention.title, mention.feed));
            }
            description.push_str(&format!("\n\n{}", notice.links.dashboard));
            let body = json!({
                "message": ellipsize(&message, MESSAGE_CHARS),
                "alias": alias,
                "description": ellipsize(&description, DESCRIPTION_CHARS),
                "priority": priority,
                "source": SOURCE,
                "entity": incident.brand.as_deref().unwrap_or("brand"),
                "tags": ["tocsin", incident.rule.as_str(), incident.level.as_str()],
                "details": {
                    "incident": incident.id.to_string(),
                    "notice": notice.kind,
                    "score": incident.score.to_string(),
                    "mentions": incident.mentions.to_string(),
                    "dashboard": notice.links.dashboard,
                },
            });
            (format!("{base}/v2/alerts"), body)
        }
    }
}

/// Sends `notice` to Opsgenie with `key`, unless it tells of an action Opsgenie itself took.
pub async fn send(client: &reqwest::Client, base: &str, key: &str, notice: &Notice, now: DateTime<Utc>) -> Delivery {
    if notice.acted_by.as_deref() == Some(ACTOR) {
        return Delivery::Delivered { status: "not sent: the action came from Opsgenie".to_owned() };
    }
    let (url, body) = request(base, notice);
    exchange(client.post(&url).header("authorization", format!("GenieKey {key}")).json(&body), now).await
}

/// What an Opsgenie webhook asks of tocsin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    Acknowledge { incident_id: i64 },
    Close { incident_id: i64 },
    Ignored(String),
}

/// Reads a webhook delivery: an acknowledgement or close of an alert tocsin made, unless
/// tocsin's own request caused it.
pub fn inbound(payload: &Value) -> Inbound {
    let action = payload["action"].as_str().unwrap_or_default();
    let alias = payload["alert"]["alias"].as_str().unwrap_or_default();
    let incident = alias.strip_prefix(ALIAS_PREFIX).and_then(|id| id.parse().ok());
    if payload["source"]["name"].as_str() == Some(SOURCE) {
        return Inbound::Ignored(format!("{action} came from tocsin itself"));
    }
    match (action, incident) {
        ("Acknowledge", Some(incident_id)) => Inbound::Acknowledge { incident_id },
        ("Close", Some(incident_id)) => Inbound::Close { incident_id },
        (_, None) => Inbound::Ignored(format!("{action} of an alert tocsin did not send ({alias:?})")),
        _ => Inbound::Ignored(format!("action {action:?} needs nothing from tocsin")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::template::tests::{mention, notice};

    #[test]
    fn an_incident_is_one_alias_created_acknowledged_and_closed() {
        let mut n = notice(vec![mention(1, "Acme yogurt recall")]);
        let (url, body) = request("https://api.eu.opsgenie.com/", &n);
        assert_eq!(url, "https://api.eu.opsgenie.com/v2/alerts");
        assert_eq!((&body["alias"], &body["priority"]), (&json!("tocsin-incident-7"), &json!("P2")));
        assert!(body["message"].as_str().is_some_and(|m| m.chars().count() <= 130 && m.starts_with("[P2] ")));
        n.kind = NoticeKind::Acknowledged;
        n.acted_by = Some("mei".into());
        let (url, body) = request("https://api.opsgenie.com", &n);
        assert_eq!(url, "https://api.opsgenie.com/v2/alerts/tocsin-incident-7/acknowledge?identifierType=alias");
        assert_eq!(body["user"], "mei");
        n.kind = NoticeKind::Resolved;
        assert!(request("https://api.opsgenie.com", &n).0.ends_with("/tocsin-incident-7/close?identifierType=alias"));
    }

    #[test]
    fn a_webhook_about_tocsin_s_own_request_or_another_alert_is_ignored() {
        let ack = json!({"action": "Acknowledge", "alert": {"alias": "tocsin-incident-9"}, "source": {"name": "web"}});
        assert_eq!(inbound(&ack), Inbound::Acknowledge { incident_id: 9 });
        let echo =
            json!({"action": "Acknowledge", "alert": {"alias": "tocsin-incident-9"}, "source": {"name": "tocsin"}});
        assert!(matches!(inbound(&echo), Inbound::Ignored(_)));
        let other = json!({"action": "Close", "alert": {"alias": "db-down"}, "source": {"name": "web"}});
        assert!(matches!(inbound(&other), Inbound::Ignored(_)));
    }
}
