//! Webhook delivery: the SPEC §6 JSON body, Standard Webhooks signing and verification, and
//! the classification of a receiver's answer into a [`Delivery`] outcome the outbox acts on.
//!
//! Signing follows <https://www.standardwebhooks.com/>: the signed content is
//! `{webhook-id}.{webhook-timestamp}.{body}`, the MAC is HMAC-SHA256, and the header carries
//! `v1,<base64>` once per active key so a receiver can rotate its secret without downtime.

use std::error::Error as StdError;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde::Serialize;
use sha2::Sha256;

use super::{Links, Notice, NoticeKind};
use crate::incident::{Incident, MentionSummary};

type HmacSha256 = Hmac<Sha256>;

/// The prefix that marks a Standard Webhooks secret whose remainder is the base64 key.
const SECRET_PREFIX: &str = "whsec_";

/// How much of a failing receiver's response body goes into the error, so the timeline shows
/// the receiver's own explanation without storing whatever page a proxy returned in full.
const ERROR_BODY_LIMIT: usize = 512;

/// What one delivery attempt came to; the outbox decides what happens next from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver accepted the notice (`status` as it answered, e.g. `200 OK`).
    Delivered { status: String },
    /// Worth trying again later; `retry_after` is the receiver's own hint, if it gave one.
    Retry { error: String, retry_after: Option<Duration> },
    /// Retrying the same notice cannot succeed (bad request, rejected recipient, bad URL).
    Permanent { error: String },
    /// HTTP 410: the receiver says this endpoint is gone for good; the notice is not retried.
    Gone { error: String },
}

impl Delivery {
    /// One line for the incident timeline.
    pub fn describe(&self) -> String {
        match self {
            Delivery::Delivered { status } => format!("delivered ({status})"),
            Delivery::Retry { error, retry_after: Some(after) } => {
                format!("failed, will retry (receiver asked to wait {}s): {error}", after.as_secs())
            }
            Delivery::Retry { error, retry_after: None } => format!("failed, will retry: {error}"),
            Delivery::Permanent { error } => format!("failed permanently: {error}"),
            Delivery::Gone { error } => {
                format!("receiver is gone (HTTP 410), not retried: {error}")
            }
        }
    }

    /// Whether the notice reached its receiver.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Delivery::Delivered { .. })
    }
}

/// Problems with a webhook channel's configuration.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook secret is empty; set the variable named by `secret_env` to a secret")]
    EmptySecret,
    #[error(
        "the webhook secret starts with `whsec_` but the rest is not valid base64 ({0}); \
         paste the secret exactly as the receiver issued it, or drop the `whsec_` prefix to use \
         the text itself as the key"
    )]
    SecretNotBase64(base64::DecodeError),
}

/// The HMAC key for a configured secret: `whsec_<base64>` decodes to the key, as Standard
/// Webhooks says; any other text is the key as its UTF-8 bytes.
pub fn standard_webhooks_key(secret: &str) -> Result<Vec<u8>, WebhookError> {
    let secret = secret.trim();
    let key = match secret.strip_prefix(SECRET_PREFIX) {
        Some(encoded) => BASE64.decode(encoded).map_err(WebhookError::SecretNotBase64)?,
        None => secret.as_bytes().to_vec(),
    };
    if key.is_empty() {
        return Err(WebhookError::EmptySecret);
    }
    Ok(key)
}

fn mac(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC pads or hashes keys of any length, so this cannot fail for any input.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// One `v1,<base64 HMAC-SHA256>` signature over `{msg_id}.{timestamp}.{body}`.
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(key, msg_id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", BASE64.encode(tag))
}

/// Whether any `v1` signature in a `webhook-signature` header matches any of `keys`.
///
/// Compares in constant time. It does not judge the timestamp's age: a receiver should also
/// refuse timestamps far from its own clock to stop replays.
pub fn verify(keys: &[Vec<u8>], msg_id: &str, timestamp: i64, body: &[u8], signature_header: &str) -> bool {
    let tags: Vec<Vec<u8>> = signature_header
        .split_whitespace()
        .filter_map(|sig| sig.strip_prefix("v1,"))
        .filter_map(|b64| BASE64.decode(b64).ok())
        .collect();
    keys.iter().any(|key| {
        let expected = mac(key, msg_id, timestamp, body);
        tags.iter().any(|tag| expected.clone().verify_slice(tag).is_ok())
    })
}

/// The notice as a webhook receiver sees it: the notice minus its id, which travels in the
/// `webhook-id` header instead.
#[derive(Serialize)]
struct WireBody<'a> {
    #[serde(rename = "type")]
    kind: NoticeKind,
    incident: &'a Incident,
    top_mentions: &'a [MentionSummary],
    links: &'a Links,
    /// The text of an `incident.status_update`; absent for every other type.
    #[serde(skip_serializing_if = "Option::is_none")]
    update: Option<&'a str>,
}

/// The JSON body of SPEC §6: `{"type", "incident", "top_mentions", "links"}`, and `update`
/// for a status update.
pub fn body(notice: &Notice) -> Vec<u8> {
    let wire = WireBody {
        kind: notice.kind,
        incident: &notice.incident,
        top_mentions: &notice.top_mentions,
        links: &notice.links,
        update: notice.update.as_deref(),
    };
    // Every field has string map keys and plain data, which serde_json always serializes.
    serde_json::to_vec(&wire).expect("a notice always serializes to JSON")
}

/// Posts `notice` to `url`, signed with every key in `keys` (none: unsigned), and classifies
/// the answer. Timeouts and the user agent come from `client`.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    keys: &[Vec<u8>],
    notice: &Notice,
    now: DateTime<Utc>,
) -> Delivery {
    let payload = body(notice);
    let timestamp = now.timestamp();
    let mut request = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header("webhook-id", notice.id.as_str())
        .header("webhook-timestamp", timestamp.to_string());
    if !keys.is_empty() {
        let signatures: Vec<String> = keys.iter().map(|key| sign(key, &notice.id, timestamp, &payload)).collect();
        request = request.header("webhook-signature", signatures.join(" "));
    }
    exchange(request.body(payload), now).await
}

/// Sends a request to a receiver whose HTTP status says it all (webhooks, PagerDuty,
/// Opsgenie) and classifies the outcome by SPEC §6's rules.
pub(crate) async fn exchange(request: reqwest::RequestBuilder, now: DateTime<Utc>) -> Delivery {
    match request.send().await {
        Ok(response) => classify_response(response, now).await,
        Err(err) => classify_request_error(err),
    }
}

/// A request that got no answer: permanent when it could not be built, else retried.
pub(crate) fn classify_request_error(err: reqwest::Error) -> Delivery {
    // reqwest names the URL in its errors, and a webhook's URL may carry a credential (a
    // chat robot's token); this text goes to the log and the timeline.
    let err = err.without_url();
    let error = error_chain(&err);
    // A request that could not even be built (bad URL, bad header) fails the same way on
    // every attempt; everything else (timeouts, refused connections, TLS, resets) may pass.
    if err.is_builder() {
        Delivery::Permanent { error: format!("cannot build the request, check the channel's url: {error}") }
    } else if err.is_timeout() {
        Delivery::Retry { error: format!("timed out: {error}"), retry_after: None }
    } else {
        Delivery::Retry { error, retry_after: None }
    }
}

async fn classify_response(response: reqwest::Response, now: DateTime<Utc>) -> Delivery {
    let status = response.status();
    let status_text = status_line(status);
    if status.is_success() {
        return Delivery::Delivered { status: status_text };
    }
    let retry_after = retry_after(response.headers(), now);
    let location = response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let detail = error_body(response).await;
    let error = match detail {
        Some(detail) => format!("HTTP {status_text}: {detail}"),
        None => format!("HTTP {status_text}"),
    };
    match status {
        StatusCode::GONE => Delivery::Gone { error },
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => Delivery::Retry { error, retry_after },
        s if s.is_server_error() => Delivery::Retry { error, retry_after },
        // The client does not follow redirects for us, or gave up following them: a moved
        // endpoint needs the channel's url updated, and resending will not change that.
        s if s.is_redirection() => Delivery::Permanent {
            error: match location {
                Some(to) => format!("{error} (redirects to {to}; set the channel's url to it)"),
                None => error,
            },
        },
        _ => Delivery::Permanent { error },
    }
}

pub(crate) fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// The start of a failing receiver's body, on one line, or `None` if empty or unreadable.
async fn error_body(mut response: reqwest::Response) -> Option<String> {
    let mut bytes = Vec::new();
    while bytes.len() < ERROR_BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return None;
    }
    let mut cut: String = one_line.chars().take(ERROR_BODY_LIMIT).collect();
    if cut.len() < one_line.len() {
        cut.push('…');
    }
    Some(cut)
}

/// `Retry-After` as delay-seconds or an HTTP-date (relative to `now`); a date in the past
/// means "now".
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    parse_retry_after(value, now)
}

fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is RFC 2822 syntax with a GMT zone.
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// An error and its causes on one line; reqwest and lettre keep the useful part ("connection
/// refused", "certificate expired") in the sources, not in the top-level message.
pub(crate) fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{Level, Status};
    use axum::Router;
    use axum::http::{HeaderMap as AxumHeaders, StatusCode as AxumStatus};
    use axum::response::IntoResponse;
    use axum::routing::post;
    use chrono::TimeZone;
    use std::sync::{Arc, Mutex};

    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1614265330;
    const SPEC_PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn notice() -> Notice {
        Notice {
            id: "ntc_01HZX".into(),
            kind: NoticeKind::Opened,
            incident: Incident {
                id: 42,
                status: Status::Open,
                level: Level::High,
                score: 72,
                rule: "food-safety".into(),
                group: "rule:food-safety".into(),
                title: "Food safety complaint about Acme yogurt".into(),
                opened_at: Utc.with_ymd_and_hms(2025, 3, 1, 8, 30, 0).unwrap(),
                first_mention_at: Some(Utc.with_ymd_and_hms(2025, 3, 1, 8, 12, 0).unwrap()),
                acknowledged_at: None,
                resolved_at: None,
                mentions: 3,
                why: serde_json::json!({"rule_severity": 70, "negativity": 0.8}),
                assignee: None,
                crisis_type: None,
                drill: false,
                brand: None,
            },
            top_mentions: vec![MentionSummary {
                feed: "gnews-acme".into(),
                title: "Kids sick after Acme yogurt".into(),
                url: Some("https://news.example.com/a".into()),
                published: Some(Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()),
                excerpt: "Several parents report…".into(),
                terms: vec!["acme".into(), "food poisoning".into()],
                risk: 72,
                sentiment: Some(-0.6),
                story: None,
            }],
            links: Links {
                dashboard: "http://localhost:8080/incidents/42".into(),
                ack: Some("http://localhost:8080/ack/xyz".into()),
            },
            overdue_steps: Vec::new(),
            update: None,
            acted_by: None,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap()
    }

    fn client(timeout: Duration) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .user_agent("tocsin-test")
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    #[test]
    fn signature_matches_the_standard_webhooks_test_vector() {
        let key = standard_webhooks_key(SPEC_SECRET).unwrap();
        assert_eq!(sign(&key, SPEC_ID, SPEC_TS, SPEC_PAYLOAD), SPEC_SIG);
        assert!(verify(&[key], SPEC_ID, SPEC_TS, SPEC_PAYLOAD, SPEC_SIG));
    }

    #[test]
    fn a_receiver_that_rotated_its_secret_verifies_with_either_key() {
        let old = vec![standard_webhooks_key(SPEC_SECRET).unwrap()];
        let new = vec![standard_webhooks_key("a plain shared secret").unwrap()];
        assert_eq!(new[0], b"a plain shared secret");
        // The sender signs with both keys while the rotation is in progress.
        let header = format!(
            "{} {}",
            sign(&old[0], SPEC_ID, SPEC_TS, SPEC_PAYLOAD),
            sign(&new[0], SPEC_ID, SPEC_TS, SPEC_PAYLOAD)
        );
        assert!(verify(&new, SPEC_ID, SPEC_TS, SPEC_PAYLOAD, &header));
        assert!(verify(&old, SPEC_ID, SPEC_TS, SPEC_PAYLOAD, &header));
        // A receiver already on the new key rejects a sender that still signs with the old only.
        assert!(!verify(&new, SPEC_ID, SPEC_TS, SPEC_PAYLOAD, SPEC_SIG));
        // Anything altered fails.
        assert!(!verify(&old, SPEC_ID, SPEC_TS + 1, SPEC_PAYLOAD, &header));
        assert!(!verify(&old, "msg_other", SPEC_TS, SPEC_PAYLOAD, &header));
        assert!(!verify(&old, SPEC_ID, SPEC_TS, b"{}", &header));
        assert!(!verify(&old, SPEC_ID, SPEC_TS, SPEC_PAYLOAD, "v1,bm90IGEgbWFj v2,xyz"));
    }

    #[test]
    fn bad_secrets_are_refused_with_a_reason() {
        assert!(matches!(standard_webhooks_key("whsec_not*base64"), Err(WebhookError::SecretNotBase64(_))));
        assert!(matches!(standard_webhooks_key("  "), Err(WebhookError::EmptySecret)));
        assert!(matches!(standard_webhooks_key("whsec_"), Err(WebhookError::EmptySecret)));
    }

    #[test]
    fn body_has_exactly_the_spec_keys() {
        let value: serde_json::Value = serde_json::from_slice(&body(&notice())).unwrap();
        let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["incident", "links", "top_mentions", "type"]);
        assert_eq!(value["type"], "incident.opened");
        assert_eq!(value["incident"]["id"], 42);
        assert_eq!(value["incident"]["status"], "open");
        assert_eq!(value["incident"]["level"], "high");
        assert_eq!(value["top_mentions"][0]["feed"], "gnews-acme");
        assert_eq!(value["links"]["ack"], "http://localhost:8080/ack/xyz");
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        assert_eq!(parse_retry_after("120", now()), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Sat, 01 Mar 2025 09:01:30 GMT", now()), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after("Sat, 01 Mar 2025 08:00:00 GMT", now()), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("-5", now()), None);
    }

    #[test]
    fn describe_reads_as_a_timeline_line() {
        let d =
            Delivery::Retry { error: "HTTP 429 Too Many Requests".into(), retry_after: Some(Duration::from_secs(30)) };
        assert_eq!(d.describe(), "failed, will retry (receiver asked to wait 30s): HTTP 429 Too Many Requests");
        assert!(Delivery::Gone { error: "x".into() }.describe().contains("gone (HTTP 410), not retried"));
    }

    type Seen = Arc<Mutex<Vec<(AxumHeaders, Vec<u8>)>>>;

    async fn receiver(seen: Seen) -> String {
        async fn ok(
            axum::extract::State(seen): axum::extract::State<Seen>,
            headers: AxumHeaders,
            body: axum::body::Bytes,
        ) -> AxumStatus {
            seen.lock().unwrap().push((headers, body.to_vec()));
            AxumStatus::OK
        }
        let app = Router::new()
            .route("/ok", post(ok))
            .route("/broken", post(|| async { AxumStatus::INTERNAL_SERVER_ERROR }))
            .route(
                "/busy",
                post(|| async {
                    (AxumStatus::TOO_MANY_REQUESTS, [("retry-after", "30")], "slow down").into_response()
                }),
            )
            .route("/gone", post(|| async { AxumStatus::GONE }))
            .route("/bad", post(|| async { (AxumStatus::BAD_REQUEST, "missing field `text`") }))
            .route(
                "/slow",
                post(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    AxumStatus::OK
                }),
            )
            .with_state(seen);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn receiver_answers_are_classified_per_spec() {
        let seen = Seen::default();
        let base = receiver(seen.clone()).await;
        let client = client(Duration::from_millis(500));
        let keys = vec![standard_webhooks_key(SPEC_SECRET).unwrap(), b"rotated-in".to_vec()];
        let n = notice();
        let send_to = |path: &str| {
            let url = format!("{base}{path}");
            let (client, keys, n) = (client.clone(), keys.clone(), n.clone());
            async move { send(&client, &url, &keys, &n, now()).await }
        };

        assert_eq!(send_to("/ok").await, Delivery::Delivered { status: "200 OK".into() });
        {
            let seen = seen.lock().unwrap();
            let (headers, body) = &seen[0];
            assert_eq!(headers["content-type"], "application/json");
            assert_eq!(headers["user-agent"], "tocsin-test");
            assert_eq!(headers["webhook-id"], "ntc_01HZX");
            assert_eq!(headers["webhook-timestamp"], now().timestamp().to_string());
            let sig = headers["webhook-signature"].to_str().unwrap();
            assert_eq!(sig.split(' ').count(), 2);
            assert!(verify(&keys[1..], "ntc_01HZX", now().timestamp(), body, sig));
            assert_eq!(body, &super::body(&n));
        }

        assert!(matches!(
            send_to("/broken").await,
            Delivery::Retry { retry_after: None, ref error } if error.starts_with("HTTP 500")
        ));
        assert_eq!(
            send_to("/busy").await,
            Delivery::Retry {
                error: "HTTP 429 Too Many Requests: slow down".into(),
                retry_after: Some(Duration::from_secs(30)),
            }
        );
        assert!(matches!(send_to("/gone").await, Delivery::Gone { .. }));
        assert_eq!(
            send_to("/bad").await,
            Delivery::Permanent { error: "HTTP 400 Bad Request: missing field `text`".into() }
        );
        assert!(matches!(
            send_to("/slow").await,
            Delivery::Retry { ref error, .. } if error.starts_with("timed out")
        ));
    }

    #[tokio::test]
    async fn an_unreachable_receiver_is_retried_and_a_bad_url_is_not() {
        // Bind then drop, so the port is (almost certainly) closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let client = client(Duration::from_secs(2));
        let got = send(&client, &format!("http://127.0.0.1:{port}/hook"), &[], &notice(), now()).await;
        assert!(matches!(got, Delivery::Retry { .. }), "{got:?}");

        let got = send(&client, "not a url", &[], &notice(), now()).await;
        assert!(matches!(got, Delivery::Permanent { .. }), "{got:?}");
    }
}
