//! Chat delivery: an alert as Slack, DingTalk, WeCom or Feishu's own message, kept within
//! each service's size limit, signed where the service signs, and the service's answer
//! classified into a [`Delivery`].
//!
//! What each service requires:
//! - Slack incoming webhook: `{"text", "blocks"}`; at most 50 blocks, a section's text at
//!   most 3,000 characters, a header's at most 150. Messages whose blocks hold much more than
//!   about 13,000 characters in all are refused (`msg_blocks_too_long`) although no documented
//!   limit is reached, so the blocks here hold at most 12,000. Answers `200 ok`; errors come
//!   as HTTP statuses (429 when rate limited).
//! - DingTalk custom robot: `{"msgtype": "markdown", "markdown": {"title", "text"}}`, at most
//!   20,000 bytes. With signing on, the URL carries `timestamp` (milliseconds) and `sign`:
//!   HMAC-SHA256 keyed with the secret over `"{timestamp}\n{secret}"`, base64, URL-encoded.
//!   Answers HTTP 200 with `{"errcode", "errmsg"}`; 130101 means sending too fast.
//! - WeCom group robot: `{"msgtype": "markdown", "markdown": {"content"}}`, the content at
//!   most 4,096 bytes of UTF-8. No signing: the key in the URL is the credential. Answers
//!   HTTP 200 with `{"errcode", "errmsg"}`; 45009 means the API frequency limit was hit.
//! - Feishu custom bot: an interactive card, `{"msg_type": "interactive", "card": {...}}`,
//!   the request body at most 20 KB (the custom bot guide; cards alone may be 30 KB, and the
//!   smaller limit is the one that applies). With signing on, the body carries `timestamp`
//!   (seconds, as a string) and `sign`: HMAC-SHA256 keyed with `"{timestamp}\n{secret}"`
//!   over an empty message, base64. Answers with `{"code", "msg"}` (older: `{"StatusCode",
//!   "StatusMessage"}`); 11232 and 9499 mean frequency limited.
//!
//! - Telegram Bot API `sendMessage`: `{"chat_id", "text", "parse_mode": "MarkdownV2"}` posted
//!   to `/bot<token>/sendMessage`, the text at most 4,096 characters. MarkdownV2 reserves
//!   `_*[]()~`>#+-=|{}.!` and `\`: each must be escaped with `\` outside an entity, or the
//!   whole message is refused (400 "can't parse entities"). The text here is the plain
//!   rendering with every reserved character escaped and the templates' `**bold**` spans made
//!   `*bold*`. Answers `{"ok", "error_code", "description", "parameters": {"retry_after"}}`,
//!   the status the error code; a 429's wait is in `parameters.retry_after`.
//! - ntfy: JSON published to the server's root, `{"topic", "title", "message", "priority",
//!   "tags", "click", "actions", "markdown"}` (actions: `view` opens a URL, `http` has the app
//!   send a request); the topic is the last segment of the channel's
//!   URL. Priority 5 (urgent, breaks through do-not-disturb on phones) for critical, 4 high, 3
//!   medium, 2 low. A message over 4,096 bytes would be turned into an attachment, so it is
//!   kept under that; at most three actions. An access token goes in `Authorization:
//!   Bearer`. Errors are HTTP statuses (429 when the visitor limit is reached).
//! - Microsoft Teams (a Workflows "when a Teams webhook request is received" flow, or an
//!   incoming webhook): `{"type": "message", "attachments": [{"contentType":
//!   "application/vnd.microsoft.card.adaptive", "content": <Adaptive Card 1.4>}]}`, at most
//!   28 KB. Answers 202 (Workflows) or 200; errors, 429 included, are HTTP statuses.
//!
//! Sizes are met by listing fewer mentions, with a line saying how many more the dashboard
//! has; the incident facts are never cut. Should the facts alone not fit, the incident
//! title (the one free-text fact) is shortened with an ellipsis.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use super::Notice;
use super::template::{Flavor, Rendered, Templates};
use super::webhook::{Delivery, classify_request_error, retry_after, status_line};
use crate::incident::Level;
use crate::incident::present::safe_href;
use crate::lang::Lang;

type HmacSha256 = Hmac<Sha256>;

const SLACK_MAX_BLOCKS: usize = 50;
const SLACK_SECTION_CHARS: usize = 3_000;
const SLACK_HEADER_CHARS: usize = 150;
const SLACK_TOTAL_CHARS: usize = 12_000;
const DINGTALK_BODY_BYTES: usize = 20_000;
const WECOM_CONTENT_BYTES: usize = 4_096;
const FEISHU_BODY_BYTES: usize = 20_000;
const TELEGRAM_TEXT_CHARS: usize = 4_096;
const NTFY_MESSAGE_BYTES: usize = 4_096;
const NTFY_TITLE_CHARS: usize = 250;
const TEAMS_BODY_BYTES: usize = 28_000;
/// Where Telegram's Bot API is when a channel names no `url`.
pub const TELEGRAM_API: &str = "https://api.telegram.org";
/// What MarkdownV2 reserves: each must be escaped outside an entity.
const MARKDOWN_V2_RESERVED: &str = "_*[]()~`>#+-=|{}.!\\";

/// How much of a service's answer is read: its JSON result with room to spare, not whatever
/// page a proxy sends.
const ANSWER_READ_LIMIT: usize = 16 * 1024;

/// How much of an answer goes into an error on the timeline.
const ERROR_DETAIL_CHARS: usize = 512;

/// Which chat service a channel posts to (`kind` in a channel's config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    /// A Slack incoming webhook.
    Slack,
    /// A DingTalk (钉钉) custom robot.
    DingTalk,
    /// A WeCom (企业微信) group robot.
    WeCom,
    /// A Feishu (飞书) custom bot.
    Feishu,
    /// A Telegram bot posting to one chat.
    Telegram,
    /// An ntfy topic (ntfy.sh or a self-hosted server): push to phones.
    Ntfy,
    /// A Microsoft Teams channel's webhook (Workflows or incoming webhook).
    Teams,
}

impl ChatKind {
    fn name(self) -> &'static str {
        match self {
            ChatKind::Slack => "Slack",
            ChatKind::DingTalk => "DingTalk",
            ChatKind::WeCom => "WeCom",
            ChatKind::Feishu => "Feishu",
            ChatKind::Telegram => "Telegram",
            ChatKind::Ntfy => "ntfy",
            ChatKind::Teams => "Teams",
        }
    }
}

/// One chat channel as the outbox delivers to it.
#[derive(Debug, Clone, Copy)]
pub struct ChatChannel<'a> {
    /// Which service, and so which message format, signing and limits.
    pub kind: ChatKind,
    /// The webhook URL the service issued (it is itself a credential).
    pub url: &'a str,
    /// The signing secret (DingTalk and Feishu), the bot token (Telegram) or the access token
    /// (ntfy), read from the environment by the caller; `None` or blank when the robot does
    /// not sign or the topic is open. WeCom, Slack and Teams ignore it.
    pub secret: Option<&'a str>,
    /// The chat a Telegram bot posts to.
    pub chat_id: Option<&'a str>,
    /// The language of the bundled templates.
    pub lang: Lang,
}

/// The HTTP request for one alert: where to POST and the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The channel's URL, with DingTalk's `timestamp` and `sign` appended when signed.
    pub url: String,
    /// The service's native JSON message.
    pub body: Value,
    /// An `Authorization: Bearer` token (ntfy's access token).
    pub bearer: Option<String>,
}

/// What a message needs beyond the notice: the Feishu signature, the Telegram chat, the
/// ntfy topic.
#[derive(Default)]
struct Addressing {
    feishu_signature: Option<(String, String)>,
    chat_id: Option<String>,
    topic: Option<String>,
}

/// The request that delivers `notice` to `channel`, within the service's size limit and
/// signed with `now` as the timestamp when the channel has a secret.
pub fn request(channel: &ChatChannel, notice: &Notice, templates: &Templates, now: DateTime<Utc>) -> ChatRequest {
    let secret = channel.secret.map(str::trim).filter(|s| !s.is_empty());
    let feishu_signature = match (channel.kind, secret) {
        (ChatKind::Feishu, Some(secret)) => {
            let timestamp = now.timestamp();
            Some((timestamp.to_string(), feishu_sign(secret, timestamp)))
        }
        _ => None,
    };
    let (root, topic) = match channel.kind {
        ChatKind::Ntfy => ntfy_topic(channel.url),
        _ => (channel.url.to_owned(), None),
    };
    let addressing = Addressing { feishu_signature, chat_id: channel.chat_id.map(str::to_owned), topic };
    let body = fitted(channel.kind, notice, templates, channel.lang, &addressing);
    let url = match (channel.kind, secret) {
        (ChatKind::DingTalk, Some(secret)) => {
            let timestamp = now.timestamp_millis();
            let separator = if channel.url.contains('?') { '&' } else { '?' };
            format!("{}{separator}timestamp={timestamp}&sign={}", channel.url, dingtalk_sign(secret, timestamp))
        }
        (ChatKind::Telegram, token) => {
            let api = if channel.url.trim().is_empty() { TELEGRAM_API } else { channel.url.trim_end_matches('/') };
            format!("{api}/bot{}/sendMessage", token.unwrap_or_default())
        }
        (ChatKind::Ntfy, _) => root,
        _ => channel.url.to_owned(),
    };
    let bearer = match channel.kind {
        ChatKind::Ntfy => secret.map(str::to_owned),
        _ => None,
    };
    ChatRequest { url, body, bearer }
}

/// An ntfy topic URL (`https://ntfy.sh/acme-alerts`) as the server root JSON is published
/// to and the topic: its last path segment.
fn ntfy_topic(url: &str) -> (String, Option<String>) {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return (url.to_owned(), None);
    };
    let topic = parsed.path_segments().and_then(|mut segments| segments.next_back()).filter(|t| !t.is_empty());
    let Some(topic) = topic.map(str::to_owned) else {
        return (url.to_owned(), None);
    };
    if let Ok(mut segments) = parsed.path_segments_mut() {
        segments.pop().push("");
    }
    (parsed.to_string(), Some(topic))
}

/// Posts `notice` to `channel` and classifies the answer. Timeouts and the user agent come
/// from `client`.
pub async fn send(
    client: &reqwest::Client,
    channel: &ChatChannel<'_>,
    notice: &Notice,
    templates: &Templates,
    now: DateTime<Utc>,
) -> Delivery {
    let ChatRequest { url, body, bearer } = request(channel, notice, templates, now);
    // A robot's URL is its credential (Slack's path, DingTalk's access_token, Telegram's bot
    // token): keep it out of the error text, which goes to the log and the timeline.
    let mut post = client.post(&url).json(&body);
    if let Some(token) = bearer {
        post = post.bearer_auth(token);
    }
    let mut response = match post.send().await {
        Ok(response) => response,
        Err(err) => return classify_request_error(err),
    };
    let status = response.status();
    let hint = retry_after(response.headers(), now);
    let mut bytes = Vec::new();
    while bytes.len() < ANSWER_READ_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    match classify(channel.kind, status, &String::from_utf8_lossy(&bytes)) {
        Delivery::Retry { error, retry_after: None } => Delivery::Retry { error, retry_after: hint },
        other => other,
    }
}

/// What a service's answer means. DingTalk, WeCom and Feishu answer HTTP 200 with an error
/// code in the JSON body, so a 200 is not yet a delivery; their rate-limit codes are retried
/// (whatever the status), other codes are permanent. HTTP statuses follow the webhook rules:
/// 408, 429 and 5xx retried, 410 gone, other 4xx (and 3xx) permanent.
pub fn classify(kind: ChatKind, status: StatusCode, body: &str) -> Delivery {
    let detail = one_line(body);
    let service = kind.name();
    if kind == ChatKind::Telegram {
        return classify_telegram(status, body);
    }
    let code = match kind {
        ChatKind::Slack | ChatKind::Ntfy | ChatKind::Teams => None,
        _ => serde_json::from_str::<Value>(body).ok().and_then(|answer| service_code(kind, &answer)),
    };
    if let Some((code, message)) = &code
        && rate_limited(kind, *code)
    {
        return Delivery::Retry { error: format!("{service} is rate limiting: {code} {message}"), retry_after: None };
    }
    if !status.is_success() {
        let error = if detail.is_empty() {
            format!("HTTP {}", status_line(status))
        } else {
            format!("HTTP {}: {detail}", status_line(status))
        };
        return match status {
            StatusCode::GONE => Delivery::Gone { error },
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => Delivery::Retry { error, retry_after: None },
            s if s.is_server_error() => Delivery::Retry { error, retry_after: None },
            _ => Delivery::Permanent { error },
        };
    }
    match (kind, code) {
        // Slack's success is the status (its body is the word `ok`), and so are ntfy's and
        // Teams'.
        (ChatKind::Slack | ChatKind::Ntfy | ChatKind::Teams, _) | (_, Some((0, _))) => {
            Delivery::Delivered { status: status_line(status) }
        }
        (_, Some((code, message))) => Delivery::Permanent { error: format!("{service} refused: {code} {message}") },
        // A 200 without the service's JSON came from something in between; the notice may
        // not have arrived, and a duplicate is better than a lost alert.
        (_, None) => Delivery::Retry {
            error: format!("{service} answered {} without a result code: {detail}", status_line(status)),
            retry_after: None,
        },
    }
}

/// Telegram's answer: `ok` says whether it was sent; a 429 says in `parameters.retry_after`
/// how many seconds to wait, other errors follow the HTTP rules.
fn classify_telegram(status: StatusCode, body: &str) -> Delivery {
    let answer: Option<Value> = serde_json::from_str(body).ok();
    let field = |key: &str| answer.as_ref().and_then(|a| a.get(key));
    let description = field("description").and_then(Value::as_str).map(one_line).unwrap_or_else(|| one_line(body));
    if status.is_success() && field("ok").and_then(Value::as_bool) == Some(true) {
        return Delivery::Delivered { status: status_line(status) };
    }
    let error = format!("Telegram answered HTTP {}: {description}", status_line(status));
    match status {
        StatusCode::TOO_MANY_REQUESTS => {
            let wait = field("parameters").and_then(|p| p.get("retry_after")).and_then(Value::as_u64);
            Delivery::Retry { error, retry_after: wait.map(std::time::Duration::from_secs) }
        }
        StatusCode::GONE => Delivery::Gone { error },
        s if s == StatusCode::REQUEST_TIMEOUT || s.is_server_error() => Delivery::Retry { error, retry_after: None },
        // A 200 without `ok: true` came from something in between: better twice than lost.
        s if s.is_success() => Delivery::Retry { error, retry_after: None },
        _ => Delivery::Permanent { error },
    }
}

/// The result code and message in a service's JSON answer.
fn service_code(kind: ChatKind, answer: &Value) -> Option<(i64, String)> {
    let field = |code: &str, message: &str| {
        let code = answer.get(code)?.as_i64()?;
        let message = answer.get(message).and_then(Value::as_str).unwrap_or_default().to_owned();
        Some((code, message))
    };
    match kind {
        ChatKind::Slack | ChatKind::Telegram | ChatKind::Ntfy | ChatKind::Teams => None,
        ChatKind::DingTalk | ChatKind::WeCom => field("errcode", "errmsg"),
        ChatKind::Feishu => field("code", "msg").or_else(|| field("StatusCode", "StatusMessage")),
    }
}

fn rate_limited(kind: ChatKind, code: i64) -> bool {
    matches!((kind, code), (ChatKind::DingTalk, 130101) | (ChatKind::WeCom, 45009) | (ChatKind::Feishu, 9499 | 11232))
}

fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    ellipsize(&line, ERROR_DETAIL_CHARS)
}

/// `text` cut to at most `chars` characters, the last of them an ellipsis when cut.
pub(crate) fn ellipsize(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn hmac_base64(key: &[u8], message: &[u8]) -> String {
    // HMAC pads or hashes keys of any length, so this cannot fail for any input.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    BASE64.encode(mac.finalize().into_bytes())
}

/// DingTalk's `sign`: HMAC-SHA256 keyed with the secret over `"{timestamp_ms}\n{secret}"`,
/// base64, then URL-encoded for the query string.
fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let signature = hmac_base64(secret.as_bytes(), format!("{timestamp_ms}\n{secret}").as_bytes());
    // Base64 uses only letters, digits and these three outside the unreserved set.
    signature.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
}

/// Feishu's `sign`: HMAC-SHA256 keyed with `"{timestamp_s}\n{secret}"` over an empty message,
/// base64.
fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    hmac_base64(format!("{timestamp_s}\n{secret}").as_bytes(), b"")
}

/// The service's message for `notice`, re-rendered with fewer mentions until it fits, then
/// with a shorter incident title if the facts alone do not.
fn fitted(kind: ChatKind, notice: &Notice, templates: &Templates, lang: Lang, addressing: &Addressing) -> Value {
    let flavor = match kind {
        ChatKind::Slack => Flavor::Slack,
        // Telegram's text is the plain rendering escaped for MarkdownV2 as a whole.
        ChatKind::Telegram => Flavor::Plain,
        _ => Flavor::Markdown,
    };
    // The plain title does not depend on the mentions: rendered once per incident title.
    let plain_title = |notice: &Notice| templates.render_flavored(notice, lang, 0, Flavor::Plain).title;
    let build = |notice: &Notice, plain_title: &str, mentions: usize| {
        let rendered = templates.render_flavored(notice, lang, mentions, flavor);
        let message = message(kind, notice, &rendered, plain_title, addressing, lang);
        let fits = fits(kind, &message);
        (message, fits)
    };
    let title = plain_title(notice);
    let all = notice.top_mentions.len();
    let (message, fits) = build(notice, &title, all);
    if fits {
        return message;
    }
    // The size grows with the number of mentions, so bisect on it: a few renders find the
    // most that fit even among hundreds. Counts below `lo` fit, counts from `hi` do not.
    let (mut lo, mut hi, mut best) = (0, all, None);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let (message, fits) = build(notice, &title, mid);
        if fits {
            best = Some(message);
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if let Some(message) = best {
        return message;
    }
    let mut shorter = notice.clone();
    let mut keep = notice.incident.title.chars().count();
    loop {
        keep /= 2;
        shorter.incident.title = ellipsize(&notice.incident.title, keep.max(1));
        let (message, fits) = build(&shorter, &plain_title(&shorter), 0);
        // With a one-character title the facts are as short as they get; send that.
        if fits || keep <= 1 {
            return message;
        }
    }
}

fn message(
    kind: ChatKind,
    notice: &Notice,
    rendered: &Rendered,
    plain_title: &str,
    addressing: &Addressing,
    lang: Lang,
) -> Value {
    let dashboard = safe_href(&notice.links.dashboard).map(str::to_owned);
    let ack = notice.links.ack.as_deref().and_then(safe_href).map(str::to_owned);
    let open_label = lang.pick("Open in dashboard", "在仪表盘中打开");
    let ack_label = lang.pick("Acknowledge", "确认事件");
    match kind {
        ChatKind::Slack => {
            let mut blocks = vec![json!({
                "type": "header",
                "text": {"type": "plain_text", "text": ellipsize(plain_title, SLACK_HEADER_CHARS)},
            })];
            blocks.extend(
                sections(&rendered.body)
                    .into_iter()
                    .map(|text| json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})),
            );
            json!({"text": rendered.title, "blocks": blocks})
        }
        ChatKind::DingTalk => json!({
            "msgtype": "markdown",
            "markdown": {"title": plain_title, "text": rendered.body},
        }),
        ChatKind::WeCom => json!({"msgtype": "markdown", "markdown": {"content": rendered.body}}),
        ChatKind::Feishu => {
            let color = match (notice.incident.drill, notice.incident.level) {
                (true, _) => "grey",
                (false, Level::Critical) => "red",
                (false, Level::High) => "orange",
                (false, Level::Medium) => "yellow",
                (false, Level::Low) => "blue",
            };
            let mut body = json!({
                "msg_type": "interactive",
                "card": {
                    "config": {"wide_screen_mode": true},
                    "header": {"title": {"tag": "plain_text", "content": plain_title}, "template": color},
                    "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": rendered.body}}],
                },
            });
            if let (Some((timestamp, sign)), Some(object)) = (&addressing.feishu_signature, body.as_object_mut()) {
                object.insert("timestamp".into(), json!(timestamp));
                object.insert("sign".into(), json!(sign));
            }
            body
        }
        ChatKind::Telegram => json!({
            "chat_id": addressing.chat_id,
            "text": markdown_v2(&rendered.body),
            "parse_mode": "MarkdownV2",
            "link_preview_options": {"is_disabled": true},
        }),
        ChatKind::Ntfy => {
            let (priority, tag) = match (notice.incident.drill, notice.incident.level) {
                (true, _) => (3, "construction"),
                (false, Level::Critical) => (5, "rotating_light"),
                (false, Level::High) => (4, "warning"),
                (false, Level::Medium) => (3, "loudspeaker"),
                (false, Level::Low) => (2, "information_source"),
            };
            let mut actions = Vec::new();
            if let Some(url) = &dashboard {
                actions.push(json!({"action": "view", "label": open_label, "url": url}));
            }
            if let Some(url) = &ack {
                // One tap on the notification acknowledges: the app itself POSTs the signed
                // link, as the confirm page's button does (a link scanner never POSTs).
                actions
                    .push(json!({"action": "http", "label": ack_label, "url": url, "method": "POST", "clear": true}));
            }
            json!({
                "topic": addressing.topic,
                "title": ellipsize(plain_title, NTFY_TITLE_CHARS),
                "message": rendered.body,
                "markdown": true,
                "priority": priority,
                "tags": [tag],
                "click": dashboard,
                "actions": actions,
            })
        }
        ChatKind::Teams => {
            let color = match (notice.incident.drill, notice.incident.level) {
                (true, _) | (false, Level::Low) => "Default",
                (false, Level::Critical) => "Attention",
                (false, Level::High) => "Warning",
                (false, Level::Medium) => "Accent",
            };
            let mut body = vec![json!({
                "type": "TextBlock", "text": plain_title, "weight": "Bolder", "size": "Medium", "wrap": true,
                "color": color,
            })];
            body.extend(
                rendered
                    .body
                    .split("\n\n")
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|paragraph| json!({"type": "TextBlock", "text": paragraph, "wrap": true})),
            );
            let mut actions = Vec::new();
            if let Some(url) = &dashboard {
                actions.push(json!({"type": "Action.OpenUrl", "title": open_label, "url": url}));
            }
            if let Some(url) = &ack {
                actions.push(json!({"type": "Action.OpenUrl", "title": ack_label, "url": url}));
            }
            json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": null,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": body,
                        "actions": actions,
                        "msteams": {"width": "Full"},
                    },
                }],
            })
        }
    }
}

/// Plain text as Telegram MarkdownV2: every reserved character escaped, and the `**bold**`
/// spans the bundled templates write (balanced on a line) as MarkdownV2's `*bold*`.
fn markdown_v2(text: &str) -> String {
    let escape = |part: &str| {
        let mut out = String::with_capacity(part.len() + 8);
        for c in part.chars() {
            if MARKDOWN_V2_RESERVED.contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    };
    let lines: Vec<String> = text
        .trim()
        .lines()
        .map(|line| {
            let spans: Vec<&str> = line.split("**").collect();
            if spans.len() < 3 || spans.len().is_multiple_of(2) {
                return escape(line);
            }
            spans
                .iter()
                .enumerate()
                .map(|(n, span)| match (n % 2, span.trim().is_empty()) {
                    (1, false) => format!("*{}*", escape(span)),
                    (1, true) => String::new(),
                    _ => escape(span),
                })
                .collect()
        })
        .collect();
    lines.join("\n")
}

/// The body as Slack sections: paragraphs packed into sections of at most 3,000 characters,
/// a paragraph longer than that split at line ends, a line longer than that split anywhere.
fn sections(body: &str) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    for paragraph in body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if paragraph.chars().count() <= SLACK_SECTION_CHARS {
            pieces.push(paragraph.to_owned());
            continue;
        }
        for line in paragraph.lines() {
            let chars: Vec<char> = line.chars().collect();
            pieces.extend(chars.chunks(SLACK_SECTION_CHARS).map(|chunk| chunk.iter().collect::<String>()));
        }
    }
    let mut out: Vec<String> = Vec::new();
    for piece in pieces {
        match out.last_mut() {
            Some(last) if last.chars().count() + 2 + piece.chars().count() <= SLACK_SECTION_CHARS => {
                last.push_str("\n\n");
                last.push_str(&piece);
            }
            _ => out.push(piece),
        }
    }
    out
}

fn fits(kind: ChatKind, message: &Value) -> bool {
    let bytes = || serde_json::to_vec(message).map_or(usize::MAX, |b| b.len());
    match kind {
        ChatKind::Slack => {
            let blocks = message["blocks"].as_array().map_or(&[][..], Vec::as_slice);
            let texts: Vec<usize> = blocks
                .iter()
                .filter(|b| b["type"] == "section")
                .map(|b| b["text"]["text"].as_str().map_or(0, |t| t.chars().count()))
                .collect();
            blocks.len() <= SLACK_MAX_BLOCKS
                && texts.iter().all(|&n| n <= SLACK_SECTION_CHARS)
                && texts.iter().sum::<usize>() <= SLACK_TOTAL_CHARS
        }
        ChatKind::DingTalk => bytes() <= DINGTALK_BODY_BYTES,
        ChatKind::WeCom => message["markdown"]["content"].as_str().map_or(0, str::len) <= WECOM_CONTENT_BYTES,
        ChatKind::Feishu => bytes() <= FEISHU_BODY_BYTES,
        ChatKind::Telegram => message["text"].as_str().map_or(0, |t| t.chars().count()) <= TELEGRAM_TEXT_CHARS,
        ChatKind::Ntfy => message["message"].as_str().map_or(0, str::len) <= NTFY_MESSAGE_BYTES,
        ChatKind::Teams => bytes() <= TEAMS_BODY_BYTES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::template::tests::{mention, notice};
    use chrono::TimeZone;

    const SECRET: &str = "SECtest0123456789abcdef";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap()
    }

    fn channel<'a>(kind: ChatKind, url: &'a str, secret: Option<&'a str>) -> ChatChannel<'a> {
        ChatChannel { kind, url, secret, chat_id: None, lang: Lang::En }
    }

    fn sorted_keys(value: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    /// The recipe as the services document it, written out separately from the code under test.
    fn hmac_sha256_base64(key: &str, message: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(key.as_bytes()).unwrap();
        mac.update(message.as_bytes());
        BASE64.encode(mac.finalize().into_bytes())
    }

    fn url_encode(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    #[test]
    fn slack_gets_text_and_header_and_section_blocks() {
        let n = notice(vec![mention(1, "Kids sick after Acme yogurt")]);
        let r = request(
            &channel(ChatKind::Slack, "https://hooks.slack.com/services/T/B/X", Some(SECRET)),
            &n,
            &Templates::bundled(),
            now(),
        );
        assert_eq!(r.url, "https://hooks.slack.com/services/T/B/X");
        assert_eq!(sorted_keys(&r.body), ["blocks", "text"]);
        assert!(r.body["text"].as_str().unwrap().starts_with("[HIGH] Opened: Food safety complaint"));
        let blocks = r.body["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert!(blocks[1..].iter().all(|b| b["type"] == "section" && b["text"]["type"] == "mrkdwn"));
        let text: String = blocks[1..].iter().map(|b| b["text"]["text"].as_str().unwrap()).collect();
        assert!(text.contains("<https://news.example.com/a/1|Kids sick after Acme yogurt>"), "{text}");
        assert!(text.contains("<http://localhost:8080/incidents/7|Open in dashboard>"), "{text}");
    }

    #[test]
    fn dingtalk_gets_markdown_and_a_signed_url() {
        let n = notice(vec![mention(1, "Kids sick")]);
        let ts = now().timestamp_millis();
        let expected = url_encode(&hmac_sha256_base64(SECRET, &format!("{ts}\n{SECRET}")));

        let url = "https://oapi.dingtalk.com/robot/send?access_token=abc";
        let r = request(&channel(ChatKind::DingTalk, url, Some(SECRET)), &n, &Templates::bundled(), now());
        assert_eq!(r.url, format!("{url}&timestamp={ts}&sign={expected}"));
        assert_eq!(sorted_keys(&r.body), ["markdown", "msgtype"]);
        assert_eq!(r.body["msgtype"], "markdown");
        assert_eq!(sorted_keys(&r.body["markdown"]), ["text", "title"]);
        assert_eq!(r.body["markdown"]["title"], "[HIGH] Opened: Food safety complaint about Acme yogurt (#7)");
        assert!(r.body["markdown"]["text"].as_str().unwrap().contains("- Score: 72/100"));

        // No query yet: the signature starts one; no secret: the URL is left alone.
        let r = request(
            &channel(ChatKind::DingTalk, "https://ding.example/send", Some(SECRET)),
            &n,
            &Templates::bundled(),
            now(),
        );
        assert_eq!(r.url, format!("https://ding.example/send?timestamp={ts}&sign={expected}"));
        let r = request(&channel(ChatKind::DingTalk, url, Some("  ")), &n, &Templates::bundled(), now());
        assert_eq!(r.url, url);
    }

    #[test]
    fn wecom_gets_markdown_content() {
        let r = request(
            &channel(ChatKind::WeCom, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", Some(SECRET)),
            &notice(vec![mention(1, "Kids sick")]),
            &Templates::bundled(),
            now(),
        );
        assert_eq!(r.url, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k");
        assert_eq!(sorted_keys(&r.body), ["markdown", "msgtype"]);
        assert_eq!(r.body["msgtype"], "markdown");
        assert_eq!(sorted_keys(&r.body["markdown"]), ["content"]);
        assert!(r.body["markdown"]["content"].as_str().unwrap().contains("**Opened: Food safety complaint"));
    }

    #[test]
    fn feishu_gets_an_interactive_card_signed_in_the_body() {
        let n = notice(vec![mention(1, "Kids sick")]);
        let url = "https://open.feishu.cn/open-apis/bot/v2/hook/x";
        let r = request(&channel(ChatKind::Feishu, url, Some(SECRET)), &n, &Templates::bundled(), now());
        assert_eq!(r.url, url);
        assert_eq!(sorted_keys(&r.body), ["card", "msg_type", "sign", "timestamp"]);
        assert_eq!(r.body["msg_type"], "interactive");
        let ts = now().timestamp();
        assert_eq!(r.body["timestamp"], ts.to_string());
        assert_eq!(r.body["sign"], hmac_sha256_base64(&format!("{ts}\n{SECRET}"), ""));
        let card = &r.body["card"];
        assert_eq!(card["header"]["title"]["tag"], "plain_text");
        assert!(card["header"]["title"]["content"].as_str().unwrap().starts_with("[HIGH] Opened:"));
        assert_eq!(card["header"]["template"], "orange");
        assert_eq!(card["elements"][0]["tag"], "div");
        assert_eq!(card["elements"][0]["text"]["tag"], "lark_md");
        assert!(
            card["elements"][0]["text"]["content"]
                .as_str()
                .unwrap()
                .contains("[Kids sick](https://news.example.com/a/1)")
        );

        let unsigned = request(&channel(ChatKind::Feishu, url, None), &n, &Templates::bundled(), now());
        assert_eq!(sorted_keys(&unsigned.body), ["card", "msg_type"]);
    }

    /// Telegram's MarkdownV2 rule, checked on its own: outside an entity every reserved
    /// character is escaped with a backslash; the only entity used here is `*bold*`, so
    /// unescaped `*` come in pairs on a line and nothing else is unescaped.
    fn assert_valid_markdown_v2(text: &str) {
        for line in text.lines() {
            let mut chars = line.chars();
            let mut stars = 0;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        let next = chars.next();
                        assert!(
                            next.is_some_and(|n| "_*[]()~`>#+-=|{}.!\\".contains(n)),
                            "stray backslash in {line:?}"
                        );
                    }
                    '*' => stars += 1,
                    c if "_[]()~`>#+-=|{}.!".contains(c) => panic!("unescaped {c:?} in {line:?}"),
                    _ => {}
                }
            }
            assert_eq!(stars % 2, 0, "unbalanced bold in {line:?}");
        }
    }

    /// MarkdownV2 text as the reader sees it.
    fn without_escapes(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.extend(chars.next()),
                '*' => {}
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn telegram_text_escapes_every_reserved_character_and_bolds_the_headings() {
        let hostile = "Acme (yogurt) #1 - *bold* _x_ [link](http://x) ~s~ `c` >q +=|{}.! back\\slash";
        let mut n = notice(vec![mention(1, hostile)]);
        n.incident.title = hostile.to_owned();
        let c = ChatChannel {
            kind: ChatKind::Telegram,
            url: "",
            secret: Some("123:abc"),
            chat_id: Some("-100"),
            lang: Lang::En,
        };
        let r = request(&c, &n, &Templates::bundled(), now());
        assert_eq!(r.url, "https://api.telegram.org/bot123:abc/sendMessage");
        assert_eq!((&r.body["chat_id"], &r.body["parse_mode"]), (&json!("-100"), &json!("MarkdownV2")));
        let text = r.body["text"].as_str().unwrap();
        assert_valid_markdown_v2(text);
        assert!(text.starts_with("*Opened: Acme \\(yogurt\\) \\#1"), "the heading is bold: {text}");
        assert!(without_escapes(text).contains(hostile), "the title reads as written: {text}");
    }

    #[test]
    fn ntfy_publishes_to_the_server_root_with_the_topic_priority_and_actions() {
        let n = notice(vec![mention(1, "Acme yogurt")]);
        let c = ChatChannel {
            kind: ChatKind::Ntfy,
            url: "https://ntfy.example/alerts/acme-pr",
            secret: Some("tk_1"),
            chat_id: None,
            lang: Lang::Zh,
        };
        let r = request(&c, &n, &Templates::bundled(), now());
        assert_eq!((r.url.as_str(), r.bearer.as_deref()), ("https://ntfy.example/alerts/", Some("tk_1")));
        assert_eq!((&r.body["topic"], &r.body["priority"]), (&json!("acme-pr"), &json!(4)), "high is priority 4");
        assert_eq!(r.body["click"], "http://localhost:8080/incidents/7");
        let labels: Vec<&str> =
            r.body["actions"].as_array().unwrap().iter().map(|a| a["label"].as_str().unwrap()).collect();
        assert_eq!(labels, ["在仪表盘中打开", "确认事件"]);
    }

    #[test]
    fn two_hundred_long_mentions_are_cut_to_each_limit_and_the_facts_stay() {
        let long = "Parents report children fell ill after eating Acme yogurt bought last week ".repeat(8);
        let n = notice((0..200).map(|i| mention(i, &format!("{i}: {long}"))).collect());
        let kinds = [
            ChatKind::Slack,
            ChatKind::DingTalk,
            ChatKind::WeCom,
            ChatKind::Feishu,
            ChatKind::Telegram,
            ChatKind::Ntfy,
            ChatKind::Teams,
        ];
        for kind in kinds {
            for lang in [Lang::En, Lang::Zh] {
                let c = ChatChannel {
                    kind,
                    url: "https://chat.example/hook",
                    secret: Some(SECRET),
                    chat_id: Some("-100"),
                    lang,
                };
                let r = request(&c, &n, &Templates::bundled(), now());
                let bytes = serde_json::to_vec(&r.body).unwrap().len();
                let text = match kind {
                    ChatKind::Slack => {
                        let blocks = r.body["blocks"].as_array().unwrap();
                        assert!(blocks.len() <= SLACK_MAX_BLOCKS);
                        let sections: Vec<&str> =
                            blocks[1..].iter().map(|b| b["text"]["text"].as_str().unwrap()).collect();
                        assert!(sections.iter().all(|s| s.chars().count() <= SLACK_SECTION_CHARS));
                        assert!(sections.iter().map(|s| s.chars().count()).sum::<usize>() <= SLACK_TOTAL_CHARS);
                        sections.join("\n\n")
                    }
                    ChatKind::DingTalk => {
                        assert!(bytes <= DINGTALK_BODY_BYTES, "{bytes}");
                        r.body["markdown"]["text"].as_str().unwrap().to_owned()
                    }
                    ChatKind::WeCom => {
                        let content = r.body["markdown"]["content"].as_str().unwrap();
                        assert!(content.len() <= WECOM_CONTENT_BYTES, "{}", content.len());
                        content.to_owned()
                    }
                    ChatKind::Feishu => {
                        assert!(bytes <= FEISHU_BODY_BYTES, "{bytes}");
                        r.body["card"]["elements"][0]["text"]["content"].as_str().unwrap().to_owned()
                    }
                    ChatKind::Telegram => {
                        let text = r.body["text"].as_str().unwrap();
                        assert!(text.chars().count() <= TELEGRAM_TEXT_CHARS, "{}", text.chars().count());
                        assert_valid_markdown_v2(text);
                        without_escapes(text)
                    }
                    ChatKind::Ntfy => {
                        let message = r.body["message"].as_str().unwrap();
                        assert!(message.len() <= NTFY_MESSAGE_BYTES, "{}", message.len());
                        message.to_owned()
                    }
                    ChatKind::Teams => {
                        assert!(bytes <= TEAMS_BODY_BYTES, "{bytes}");
                        let blocks = r.body["attachments"][0]["content"]["body"].as_array().unwrap();
                        blocks.iter().map(|b| b["text"].as_str().unwrap()).collect::<Vec<_>>().join("\n\n")
                    }
                };
                let (level, score, more) = match lang {
                    Lang::En => ("- Level: high", "- Score: 72/100", " more mentions in the dashboard"),
                    Lang::Zh => ("- 级别：高", "- 分数：72/100", " 条提及，请在仪表盘查看"),
                };
                assert!(text.contains("Food safety complaint about Acme yogurt"), "{kind:?}");
                assert!(text.contains(level) && text.contains(score), "{kind:?} {lang:?}\n{text}");
                assert!(text.contains("http://localhost:8080/incidents/7"), "{kind:?}");
                let shown = text.matches(" · gnews-acme · ").count();
                assert!(shown > 0 && shown < 200, "{kind:?} shows {shown}");
                assert!(text.contains(&format!("{}{more}", 200 - shown)), "{kind:?} {lang:?} {shown}\n{text}");
            }
        }
    }

    #[test]
    fn facts_that_alone_exceed_the_limit_shorten_the_incident_title() {
        let mut n = notice(vec![mention(1, "Kids sick")]);
        n.incident.title = "Acme yogurt recall spreads ".repeat(400);
        let r =
            request(&channel(ChatKind::WeCom, "https://wecom.example/hook", None), &n, &Templates::bundled(), now());
        let content = r.body["markdown"]["content"].as_str().unwrap();
        assert!(content.len() <= WECOM_CONTENT_BYTES, "{}", content.len());
        assert!(content.contains("Acme yogurt recall spreads"));
        assert!(content.contains('…'));
        assert!(content.contains("- Score: 72/100") && content.contains("http://localhost:8080/incidents/7"));
    }

    #[test]
    fn answers_are_classified_per_service() {
        use Delivery::*;
        let ok = StatusCode::OK;
        assert_eq!(classify(ChatKind::Slack, ok, "ok"), Delivered { status: "200 OK".into() });
        assert_eq!(
            classify(ChatKind::DingTalk, ok, r#"{"errcode":0,"errmsg":"ok"}"#),
            Delivered { status: "200 OK".into() }
        );
        assert_eq!(
            classify(ChatKind::WeCom, ok, r#"{"errcode":0,"errmsg":"ok"}"#),
            Delivered { status: "200 OK".into() }
        );
        assert_eq!(
            classify(ChatKind::Feishu, ok, r#"{"code":0,"data":{},"msg":"success"}"#),
            Delivered { status: "200 OK".into() }
        );
        assert_eq!(
            classify(ChatKind::Feishu, ok, r#"{"StatusCode":0,"StatusMessage":"success"}"#),
            Delivered { status: "200 OK".into() }
        );

        for (kind, answer) in [
            (ChatKind::DingTalk, r#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#),
            (ChatKind::WeCom, r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#),
            (ChatKind::Feishu, r#"{"code":11232,"msg":"frequency limited"}"#),
            (ChatKind::Feishu, r#"{"code":9499,"msg":"too many request"}"#),
        ] {
            assert!(
                matches!(classify(kind, ok, answer), Retry { ref error, .. } if error.contains("rate limiting")),
                "{answer}"
            );
            // Said with a 4xx status, it is still a rate limit.
            assert!(matches!(classify(kind, StatusCode::BAD_REQUEST, answer), Retry { .. }), "{answer}");
        }

        assert_eq!(
            classify(ChatKind::DingTalk, ok, r#"{"errcode":310000,"errmsg":"sign not match"}"#),
            Permanent { error: "DingTalk refused: 310000 sign not match".into() }
        );
        assert_eq!(
            classify(ChatKind::WeCom, ok, r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#),
            Permanent { error: "WeCom refused: 93000 invalid webhook url".into() }
        );
        assert_eq!(
            classify(
                ChatKind::Feishu,
                ok,
                r#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}"#
            ),
            Permanent {
                error: "Feishu refused: 19021 sign match fail or timestamp is not within one hour from current time"
                    .into()
            }
        );
        assert!(matches!(classify(ChatKind::DingTalk, ok, "<html>proxy</html>"), Retry { .. }));

        assert!(matches!(classify(ChatKind::Slack, StatusCode::TOO_MANY_REQUESTS, "rate_limited"), Retry { .. }));
        assert!(matches!(classify(ChatKind::WeCom, StatusCode::REQUEST_TIMEOUT, ""), Retry { .. }));
        assert!(matches!(classify(ChatKind::Feishu, StatusCode::BAD_GATEWAY, ""), Retry { .. }));
        assert_eq!(
            classify(ChatKind::Slack, StatusCode::GONE, "channel_is_archived"),
            Gone { error: "HTTP 410 Gone: channel_is_archived".into() }
        );
        assert_eq!(
            classify(ChatKind::Slack, StatusCode::BAD_REQUEST, "invalid_payload"),
            Permanent { error: "HTTP 400 Bad Request: invalid_payload".into() }
        );
        assert!(matches!(classify(ChatKind::DingTalk, StatusCode::NOT_FOUND, ""), Permanent { .. }));
    }

    #[tokio::test]
    async fn send_posts_the_request_and_reads_the_answer() {
        use axum::Router;
        use axum::response::IntoResponse;
        use axum::routing::post;
        use std::sync::{Arc, Mutex};

        let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let record = seen.clone();
        let app = Router::new()
            .route(
                "/ding",
                post(move |uri: axum::http::Uri, body: axum::Json<Value>| {
                    let record = record.clone();
                    async move {
                        record.lock().unwrap().push((uri.to_string(), body.0));
                        axum::Json(json!({"errcode": 0, "errmsg": "ok"}))
                    }
                }),
            )
            .route(
                "/busy",
                post(|| async {
                    ([("retry-after", "30")], axum::Json(json!({"errcode": 45009, "errmsg": "api freq out of limit"})))
                        .into_response()
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().unwrap();
        let n = notice(vec![mention(1, "Kids sick")]);

        let url = format!("{base}/ding?access_token=t");
        let got =
            send(&client, &channel(ChatKind::DingTalk, &url, Some(SECRET)), &n, &Templates::bundled(), now()).await;
        assert_eq!(got, Delivery::Delivered { status: "200 OK".into() });
        let (uri, body) = seen.lock().unwrap().pop().unwrap();
        assert!(
            uri.starts_with(&format!("/ding?access_token=t&timestamp={}&sign=", now().timestamp_millis())),
            "{uri}"
        );
        assert_eq!(body["msgtype"], "markdown");

        let url = format!("{base}/busy");
        let got = send(&client, &channel(ChatKind::WeCom, &url, None), &n, &Templates::bundled(), now()).await;
        assert!(
            matches!(got, Delivery::Retry { retry_after: Some(after), .. } if after == std::time::Duration::from_secs(30)),
            "{got:?}"
        );
    }
}
