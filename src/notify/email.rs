//! Email delivery: composing an incident notice as a threaded multipart message, and sending
//! it over SMTP or into a local mailbox directory when no `[smtp]` is configured.
//!
//! Threading: every message has its own Message-ID (`<{notice id}@{domain}>`, stable across
//! retries so a resend is recognisably the same mail) and points In-Reply-To and References at
//! a synthetic root `<incident-{id}@{domain}>`. Mail clients group on that shared reference,
//! so all notices of one incident land in one thread even though the root is never sent.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::address::AddressError;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use maud::{DOCTYPE, Markup, html};
use serde::{Deserialize, Serialize};

use super::webhook::{Delivery, error_chain};
use super::{Notice, NoticeKind};
use crate::incident::present::{safe_href, why_lines};
use crate::incident::{Incident, Level, MentionSummary, Status};
use crate::lang::Lang;

/// How the SMTP connection is secured (`[smtp] tls`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS, which must succeed (usually port 587).
    #[default]
    Starttls,
    /// TLS from the first byte, "implicit TLS" (usually port 465).
    Tls,
    /// No encryption: only for a relay on the same host or a trusted network.
    None,
}

/// Where composed emails go.
#[derive(Debug, Clone)]
pub enum EmailTransport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Writes each message as an `.eml` file into a directory; used when no `[smtp]` is
    /// configured (e.g. `tocsin demo`), so alerts are still there to open in a mail client.
    Mailbox(AsyncFileTransport<Tokio1Executor>),
}

/// Problems building a transport or composing a message; each says what to change.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("[smtp] host is empty; set it to your mail server, e.g. `smtp.example.com`")]
    EmptyHost,
    #[error("cannot set up TLS for SMTP host `{host}`: {reason}; check [smtp] host and tls")]
    SmtpTls { host: String, reason: String },
    #[error("cannot create the local mailbox directory {}: {source}; choose a writable directory", dir.display())]
    Mailbox { dir: PathBuf, source: std::io::Error },
    #[error(
        "invalid {role} address `{address}`: {source}; write it as `user@example.com` or \
         `Name <user@example.com>`"
    )]
    Address { role: &'static str, address: String, source: AddressError },
    #[error("the email channel has no recipients; list at least one address in its `to`")]
    NoRecipients,
    #[error(
        "`{0}` cannot be used as the domain of Message-IDs; use a host name such as the one in \
         [http] public_url"
    )]
    ThreadDomain(String),
    #[error("cannot build the email: {0}")]
    Build(#[from] lettre::error::Error),
}

impl EmailTransport {
    /// An SMTP transport with pooled connections. `timeout` bounds each SMTP command, so a
    /// hung server turns into a retry instead of a stuck worker.
    pub fn smtp(
        host: &str,
        port: u16,
        tls: TlsMode,
        credentials: Option<(String, String)>,
        timeout: Duration,
    ) -> Result<EmailTransport, EmailError> {
        let host = host.trim();
        if host.is_empty() {
            return Err(EmailError::EmptyHost);
        }
        let tls_parameters = || {
            TlsParameters::new(host.to_owned())
                .map_err(|err| EmailError::SmtpTls { host: host.to_owned(), reason: error_chain(&err) })
        };
        let tls = match tls {
            TlsMode::Starttls => Tls::Required(tls_parameters()?),
            TlsMode::Tls => Tls::Wrapper(tls_parameters()?),
            TlsMode::None => Tls::None,
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port).tls(tls).timeout(Some(timeout));
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(EmailTransport::Smtp(builder.build()))
    }

    /// A transport that writes `.eml` files into `dir`, creating it if needed.
    pub fn mailbox(dir: &Path) -> Result<EmailTransport, EmailError> {
        std::fs::create_dir_all(dir).map_err(|source| EmailError::Mailbox { dir: dir.to_owned(), source })?;
        Ok(EmailTransport::Mailbox(AsyncFileTransport::new(dir)))
    }
}

/// Sends one message and classifies the outcome. SMTP 4xx and connection trouble are retried,
/// SMTP 5xx is permanent; a mailbox that cannot be written is retried (disk full, permissions
/// fixed later).
pub async fn send(transport: &EmailTransport, message: Message) -> Delivery {
    match transport {
        EmailTransport::Smtp(smtp) => match smtp.send(message).await {
            Ok(response) => {
                let text: Vec<&str> = response.message().collect();
                Delivery::Delivered { status: format!("{} {}", response.code(), text.join(" ")).trim_end().to_owned() }
            }
            Err(err) => classify_smtp_error(&err),
        },
        EmailTransport::Mailbox(mailbox) => match mailbox.send(message).await {
            Ok(id) => Delivery::Delivered { status: format!("saved to the local mailbox as {id}.eml") },
            Err(err) => Delivery::Retry {
                error: format!("cannot write to the local mailbox: {}", error_chain(&err)),
                retry_after: None,
            },
        },
    }
}

fn classify_smtp_error(err: &lettre::transport::smtp::Error) -> Delivery {
    let error = error_chain(err);
    if err.is_permanent() {
        Delivery::Permanent { error: format!("the SMTP server refused: {error}") }
    } else if err.is_transient() {
        Delivery::Retry { error: format!("the SMTP server asked to try later: {error}"), retry_after: None }
    } else if err.is_timeout() {
        Delivery::Retry { error: format!("SMTP timed out: {error}"), retry_after: None }
    } else {
        // Connection, TLS and protocol trouble: often a restart or network blip away.
        Delivery::Retry { error: format!("SMTP connection failed: {error}"), retry_after: None }
    }
}

/// Builds the alert email for `notice`: threaded per incident, text and HTML alternatives.
///
/// `from` and `to` are addresses as configured (`Name <user@host>` or `user@host`);
/// `thread_domain` is the right-hand side of the Message-IDs, e.g. the public host name.
pub fn compose(notice: &Notice, from: &str, to: &[String], thread_domain: &str) -> Result<Message, EmailError> {
    let domain = thread_domain.trim();
    if !valid_id_domain(domain) {
        return Err(EmailError::ThreadDomain(thread_domain.to_owned()));
    }
    if to.is_empty() {
        return Err(EmailError::NoRecipients);
    }
    let incident = &notice.incident;
    let root = format!("<incident-{}@{domain}>", incident.id);
    let mut builder = Message::builder()
        .from(parse_mailbox("from", from)?)
        .subject(subject(notice))
        .message_id(Some(format!("<{}@{domain}>", id_local_part(&notice.id))))
        .in_reply_to(root.clone())
        .references(root)
        // RFC 3834: tells vacation responders and ticket systems not to answer an alert,
        // which would otherwise start a mail loop with the alerting address.
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".to_owned()))
        // Lets teams write mail filters on the incident without parsing the subject.
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("X-Tocsin-Incident"), incident.id.to_string()));
    for address in to {
        builder = builder.to(parse_mailbox("to", address)?);
    }
    let message =
        builder.multipart(MultiPart::alternative_plain_html(render_text(notice), render_html(notice).into_string()))?;
    Ok(message)
}

fn parse_mailbox(role: &'static str, address: &str) -> Result<Mailbox, EmailError> {
    address.trim().parse::<Mailbox>().map_err(|source| EmailError::Address {
        role,
        address: address.to_owned(),
        source,
    })
}

/// A dot-atom host name, or a bracketed address literal, as RFC 5322 allows in a msg-id.
fn valid_id_domain(domain: &str) -> bool {
    if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        return !literal.is_empty() && literal.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '[' | ']' | '\\'));
    }
    !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// The notice id made safe for the left side of a Message-ID; ids are generated by the outbox
/// and normally pass through unchanged.
fn id_local_part(id: &str) -> String {
    let cleaned: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) { c } else { '-' })
        .collect();
    let cleaned = cleaned.trim_matches('.').replace("..", ".");
    if cleaned.is_empty() { "notice".to_owned() } else { cleaned }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Low => "low",
        Level::Medium => "medium",
        Level::High => "high",
        Level::Critical => "critical",
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Open => "open",
        Status::Acknowledged => "acknowledged",
        Status::Resolved => "resolved",
    }
}

pub(crate) fn kind_label(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::Opened => "Opened",
        NoticeKind::Escalated => "Escalated",
        NoticeKind::LevelChanged => "Level raised",
        NoticeKind::Acknowledged => "Acknowledged",
        NoticeKind::Resolved => "Resolved",
        NoticeKind::Reopened => "Reopened",
        NoticeKind::Repeat => "Still open",
        NoticeKind::StepOverdue => "Playbook step overdue",
        NoticeKind::StatusUpdate => "Status update",
    }
}

/// Feed titles can carry newlines and control characters; a subject must be one clean line.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

fn subject(notice: &Notice) -> String {
    let incident = &notice.incident;
    format!(
        "[tocsin]{}[{}] {}: {} (#{})",
        if incident.drill { "[DRILL]" } else { "" },
        level_name(incident.level).to_ascii_uppercase(),
        kind_label(notice.kind),
        one_line(&incident.title),
        incident.id
    )
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub(crate) const DRILL_NOTE: &str = "DRILL: a rehearsal started with `tocsin drill`, not a real crisis.";

const ACK_NOTE: &str = "opens a confirmation page; nothing is acknowledged until you confirm there";

fn render_text(notice: &Notice) -> String {
    let incident = &notice.incident;
    let mut out = String::new();
    // Writing into a String cannot fail, so the fmt::Results below are safely ignored.
    let _ = writeln!(out, "{}", subject(notice));
    let _ = writeln!(out);
    if incident.drill {
        let _ = writeln!(out, "{DRILL_NOTE}\n");
    }
    if let Some(update) = &notice.update {
        let _ = writeln!(out, "{}\n", update.trim());
    }
    write_facts_text(&mut out, incident);
    if !notice.overdue_steps.is_empty() {
        let _ = writeln!(out, "\nOverdue playbook steps");
        for step in &notice.overdue_steps {
            let _ = writeln!(out, "  - {}", one_line(step));
        }
    }
    let why = why_lines(&incident.why, Lang::En);
    if !why.is_empty() {
        let _ = writeln!(out, "\nWhy");
        for (key, value) in why {
            let _ = writeln!(out, "  {key}: {value}");
        }
    }
    if !notice.top_mentions.is_empty() {
        let _ = writeln!(out, "\nTop mentions");
        for (n, mention) in notice.top_mentions.iter().enumerate() {
            write_mention_text(&mut out, n + 1, mention);
        }
    }
    let _ = writeln!(out, "\nDashboard: {}", notice.links.dashboard);
    if let Some(ack) = &notice.links.ack {
        let _ = writeln!(out, "Acknowledge: {ack}\n  ({ACK_NOTE})");
    }
    out
}

fn write_facts_text(out: &mut String, incident: &Incident) {
    let _ = writeln!(out, "Incident:  #{} {}", incident.id, one_line(&incident.title));
    let _ = writeln!(out, "Status:    {}", status_name(incident.status));
    let _ = writeln!(out, "Level:     {}", level_name(incident.level));
    let _ = writeln!(out, "Score:     {}/100", incident.score);
    let _ = writeln!(out, "Rule:      {}", incident.rule);
    let _ = writeln!(out, "Opened:    {}", time(incident.opened_at));
    if let Some(at) = incident.acknowledged_at {
        let _ = writeln!(out, "Acknowledged: {}", time(at));
    }
    if let Some(at) = incident.resolved_at {
        let _ = writeln!(out, "Resolved:  {}", time(at));
    }
    let _ = writeln!(out, "Mentions:  {}", incident.mentions);
}

fn write_mention_text(out: &mut String, n: usize, mention: &MentionSummary) {
    let _ = writeln!(out, "\n{n}. {}", one_line(&mention.title));
    let published = mention.published.map(time);
    let _ = writeln!(
        out,
        "   {} · {} · risk {} · sentiment {}",
        mention.feed,
        published.as_deref().unwrap_or("publication time unknown"),
        mention.risk,
        mention.sentiment_label()
    );
    if let Some(url) = &mention.url {
        let _ = writeln!(out, "   {}", url.trim());
    }
    if !mention.excerpt.trim().is_empty() {
        let _ = writeln!(out, "   {}", one_line(&mention.excerpt));
    }
    if !mention.terms.is_empty() {
        let _ = writeln!(out, "   Matched: {}", mention.terms.join(", "));
    }
}

fn link(url: &str, label: &str) -> Markup {
    match safe_href(url) {
        Some(href) => html! { a href=(href) { (label) } },
        None => html! { code { (url) } },
    }
}

fn render_html(notice: &Notice) -> Markup {
    let incident = &notice.incident;
    let why = why_lines(&incident.why, Lang::En);
    let cell = "padding:2px 12px 2px 0;vertical-align:top;";
    html! {
        (DOCTYPE)
        html {
            head {
                meta charset="utf-8";
                title { (subject(notice)) }
            }
            body style="font-family:sans-serif;font-size:14px;line-height:1.4;color:#222;" {
                @if incident.drill {
                    p style="background:#fff3cd;padding:6px;font-weight:bold;" { (DRILL_NOTE) }
                }
                h2 style="margin:0 0 8px 0;" {
                    "[" (level_name(incident.level).to_ascii_uppercase()) "] "
                    (kind_label(notice.kind)) ": " (incident.title)
                }
                @if let Some(update) = &notice.update {
                    p style="white-space:pre-wrap;border-left:3px solid #1a5fb4;padding:4px 10px;margin:8px 0 12px 0;" {
                        (update.trim())
                    }
                }
                @if !notice.overdue_steps.is_empty() {
                    h3 style="margin:16px 0 4px 0;" { "Overdue playbook steps" }
                    ul { @for step in &notice.overdue_steps { li { (step) } } }
                }
                table style="border-collapse:collapse;" {
                    tr { th style=(cell) align="left" { "Incident" } td style=(cell) { "#" (incident.id) } }
                    tr { th style=(cell) align="left" { "Status" } td style=(cell) { (status_name(incident.status)) } }
                    tr { th style=(cell) align="left" { "Level" } td style=(cell) { (level_name(incident.level)) } }
                    tr { th style=(cell) align="left" { "Score" } td style=(cell) { (incident.score) "/100" } }
                    tr { th style=(cell) align="left" { "Rule" } td style=(cell) { (incident.rule) } }
                    tr { th style=(cell) align="left" { "Opened" } td style=(cell) { (time(incident.opened_at)) } }
                    @if let Some(at) = incident.acknowledged_at {
                        tr { th style=(cell) align="left" { "Acknowledged" } td style=(cell) { (time(at)) } }
                    }
                    @if let Some(at) = incident.resolved_at {
                        tr { th style=(cell) align="left" { "Resolved" } td style=(cell) { (time(at)) } }
                    }
                    tr { th style=(cell) align="left" { "Mentions" } td style=(cell) { (incident.mentions) } }
                }
                p {
                    @if let Some(ack) = &notice.links.ack {
                        strong { (link(ack, "Acknowledge")) }
                        " (" (ACK_NOTE) ") · "
                    }
                    (link(&notice.links.dashboard, "Open in dashboard"))
                }
                @if !why.is_empty() {
                    h3 style="margin:16px 0 4px 0;" { "Why" }
                    table style="border-collapse:collapse;" {
                        @for (key, value) in &why {
                            tr { th style=(cell) align="left" { (key) } td style=(cell) { (value) } }
                        }
                    }
                }
                @if !notice.top_mentions.is_empty() {
                    h3 style="margin:16px 0 4px 0;" { "Top mentions" }
                    ol style="padding-left:20px;" {
                        @for mention in &notice.top_mentions {
                            li style="margin-bottom:10px;" {
                                strong {
                                    @match mention.url.as_deref().and_then(safe_href) {
                                        Some(href) => a href=(href) { (mention.title) },
                                        None => (mention.title),
                                    }
                                }
                                br;
                                small style="color:#666;" {
                                    (mention.feed) " · "
                                    @match mention.published {
                                        Some(at) => (time(at)),
                                        None => "publication time unknown",
                                    }
                                    " · risk " (mention.risk)
                                    " · sentiment " (mention.sentiment_label())
                                }
                                @if let Some(url) = &mention.url {
                                    @if safe_href(url).is_none() {
                                        br;
                                        small { "link (not opened, not http): " code { (url) } }
                                    }
                                }
                                @if !mention.excerpt.trim().is_empty() {
                                    br;
                                    (mention.excerpt)
                                }
                                @if !mention.terms.is_empty() {
                                    br;
                                    small { "Matched: " (mention.terms.join(", ")) }
                                }
                            }
                        }
                    }
                }
                p style="color:#666;font-size:12px;" {
                    "Sent by tocsin. Replies to this address are not read."
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Links;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use chrono::TimeZone;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    fn notice(title: &str) -> Notice {
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
                title: title.into(),
                opened_at: Utc.with_ymd_and_hms(2025, 3, 1, 8, 30, 0).unwrap(),
                first_mention_at: Some(Utc.with_ymd_and_hms(2025, 3, 1, 8, 12, 0).unwrap()),
                acknowledged_at: None,
                resolved_at: None,
                mentions: 12,
                why: serde_json::json!({
                    "rule": "food-safety", "severity": 70, "sentiment": -0.6, "negativity": 1.1800000000000002,
                    "source_weight": 1.5, "engagement": 1.0, "novelty": 1.0, "copies": 0, "score": 72,
                    "spike": {"in_window": 14, "expected_per_window": 0.31, "p": 1.2e-9},
                }),
                assignee: None,
                crisis_type: None,
                drill: false,
                brand: None,
            },
            top_mentions: vec![
                MentionSummary {
                    feed: "rsshub:weibo".into(),
                    title: "<script>alert(1)</script>".into(),
                    url: Some("javascript:alert(document.cookie)".into()),
                    published: Some(Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()),
                    excerpt: "孩子喝了艾克米酸奶后食物中毒 <img src=x onerror=alert(2)>".into(),
                    terms: vec!["艾克米".into(), "食物中毒".into()],
                    risk: 72,
                    sentiment: Some(-0.8),
                    story: None,
                },
                MentionSummary {
                    feed: "gnews-acme".into(),
                    title: "Kids sick after Acme yogurt".into(),
                    url: Some("https://news.example.com/a?x=1&y=2".into()),
                    published: None,
                    excerpt: "Several parents report…".into(),
                    terms: vec!["acme".into()],
                    risk: 64,
                    sentiment: None,
                    story: None,
                },
            ],
            links: Links {
                dashboard: "http://localhost:8080/incidents/42".into(),
                ack: Some("http://localhost:8080/ack/42?sig=abc".into()),
            },
            overdue_steps: Vec::new(),
            update: None,
            acted_by: None,
        }
    }

    fn to() -> Vec<String> {
        vec!["PR team <pr@example.com>".into(), "oncall@example.com".into()]
    }

    /// Header block of a formatted message, with folded lines joined back.
    fn headers(raw: &str) -> Vec<(String, String)> {
        let head = raw.split("\r\n\r\n").next().unwrap();
        let mut out: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                out.last_mut().unwrap().1.push_str(line);
            } else if let Some((name, value)) = line.split_once(':') {
                out.push((name.to_owned(), value.trim().to_owned()));
            }
        }
        out
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    /// RFC 2047 decoding of the `=?utf-8?b?...?=` words lettre writes; whitespace between
    /// adjacent encoded words is dropped, as the RFC says.
    fn decode_words(value: &str) -> String {
        let mut out = String::new();
        let mut last_was_word = false;
        for token in value.split_whitespace() {
            let lower = token.to_ascii_lowercase();
            let word = lower.starts_with("=?utf-8?b?") && token.ends_with("?=");
            let joins_previous_word = word && last_was_word;
            if !out.is_empty() && !joins_previous_word {
                out.push(' ');
            }
            if word {
                let b64 = &token[10..token.len() - 2];
                out.push_str(&String::from_utf8(BASE64.decode(b64).unwrap()).unwrap());
            } else {
                out.push_str(token);
            }
            last_was_word = word;
        }
        out
    }

    fn decode_qp(body: &str) -> String {
        let body = body.replace("=\r\n", "");
        let bytes = body.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// The decoded body of the part with the given content type.
    fn part(raw: &str, content_type: &str) -> String {
        let head = headers(raw);
        let ct = header(&head, "Content-Type");
        let boundary = ct.split("boundary=").nth(1).unwrap().trim_matches('"').to_owned();
        for chunk in raw.split(&format!("--{boundary}")) {
            let Some((part_head, body)) = chunk.split_once("\r\n\r\n") else {
                continue;
            };
            let part_headers = headers(&format!("{}\r\n\r\n", part_head.trim_start()));
            let Some((_, ct)) = part_headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("Content-Type")) else {
                continue;
            };
            if !ct.starts_with(content_type) {
                continue;
            }
            let cte = part_headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("Content-Transfer-Encoding"))
                .map(|(_, v)| v.to_ascii_lowercase())
                .unwrap_or_default();
            let body = body.trim_end_matches("\r\n");
            return match cte.as_str() {
                "base64" => {
                    let compact: String = body.split_whitespace().collect();
                    String::from_utf8(BASE64.decode(compact).unwrap()).unwrap()
                }
                "quoted-printable" => decode_qp(body),
                _ => body.to_owned(),
            };
        }
        panic!("no {content_type} part in:\n{raw}")
    }

    fn formatted(message: &Message) -> String {
        String::from_utf8(message.formatted()).unwrap()
    }

    #[test]
    fn every_notice_of_an_incident_threads_under_one_root() {
        let raw = formatted(
            &compose(&notice("Acme yogurt"), "tocsin <alerts@example.com>", &to(), "alerts.example.com").unwrap(),
        );
        let h = headers(&raw);
        assert_eq!(header(&h, "Message-ID"), "<ntc_01HZX@alerts.example.com>");
        assert_eq!(header(&h, "In-Reply-To"), "<incident-42@alerts.example.com>");
        assert_eq!(header(&h, "References"), "<incident-42@alerts.example.com>");
        assert_eq!(header(&h, "Auto-Submitted"), "auto-generated");
        assert_eq!(header(&h, "X-Tocsin-Incident"), "42");
        assert!(header(&h, "Content-Type").starts_with("multipart/alternative"));
        assert!(header(&h, "To").contains("pr@example.com"));
        assert!(header(&h, "To").contains("oncall@example.com"));
        assert_eq!(header(&h, "Subject"), "[tocsin][HIGH] Opened: Acme yogurt (#42)");

        // A later notice of the same incident: its own id, the same root.
        let mut later = notice("Acme yogurt");
        later.id = "ntc_01HZY".into();
        later.kind = NoticeKind::Escalated;
        let raw = formatted(&compose(&later, "alerts@example.com", &to(), "alerts.example.com").unwrap());
        let h = headers(&raw);
        assert_eq!(header(&h, "Message-ID"), "<ntc_01HZY@alerts.example.com>");
        assert_eq!(header(&h, "References"), "<incident-42@alerts.example.com>");
    }

    #[test]
    fn a_chinese_title_survives_the_subject_encoding() {
        let title = "艾克米酸奶被曝食物中毒，多名儿童送医";
        let raw =
            formatted(&compose(&notice(title), "告警 <alerts@example.com>", &to(), "alerts.example.com").unwrap());
        let h = headers(&raw);
        let encoded = header(&h, "Subject");
        assert!(encoded.to_ascii_lowercase().contains("=?utf-8?"), "{encoded}");
        assert!(encoded.is_ascii());
        assert_eq!(decode_words(encoded), format!("[tocsin][HIGH] Opened: {title} (#42)"));
        assert!(part(&raw, "text/plain").contains(title));
        assert!(part(&raw, "text/html").contains(title));
    }

    #[test]
    fn feed_content_is_escaped_and_unsafe_urls_are_not_links() {
        let raw = formatted(&compose(&notice("Acme"), "alerts@example.com", &to(), "alerts.example.com").unwrap());
        let html = part(&raw, "text/html");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<img"));
        assert!(!html.to_ascii_lowercase().contains("href=\"javascript:"));
        assert!(html.contains("javascript:alert(document.cookie)"), "shown as text");
        assert!(html.contains(r#"href="https://news.example.com/a?x=1&amp;y=2""#));
        assert!(html.contains(r#"href="http://localhost:8080/ack/42?sig=abc""#));
        assert!(html.contains("confirmation page"));
    }

    #[test]
    fn a_status_update_is_the_first_thing_both_parts_say_with_its_text_escaped() {
        let mut update = notice("Acme yogurt");
        update.kind = NoticeKind::StatusUpdate;
        update.update = Some("Statement is live.\nNext update <b>at 15:00</b>".into());
        let raw = formatted(&compose(&update, "alerts@example.com", &to(), "alerts.example.com").unwrap());
        assert_eq!(decode_words(header(&headers(&raw), "Subject")), "[tocsin][HIGH] Status update: Acme yogurt (#42)");
        let text = part(&raw, "text/plain");
        let said = text.find("Statement is live.").expect("the update in the text part");
        assert!(said < text.find("Status:").expect("the facts"), "{text}");
        assert!(text.contains("Next update <b>at 15:00</b>"), "{text}");
        let html = part(&raw, "text/html");
        assert!(
            html.contains("Statement is live.") && html.contains("Next update &lt;b&gt;at 15:00&lt;/b&gt;"),
            "{html}"
        );
    }

    #[test]
    fn both_parts_carry_the_facts_the_why_and_the_mentions() {
        let raw =
            formatted(&compose(&notice("Acme yogurt"), "alerts@example.com", &to(), "alerts.example.com").unwrap());
        let text = part(&raw, "text/plain");
        for expected in [
            "Status:    open",
            "Level:     high",
            "Score:     72/100",
            "Rule:      food-safety",
            "Opened:    2025-03-01 08:30 UTC",
            "Mentions:  12",
            "Rule: food-safety, severity 70",
            "Sentiment: -0.60 negative, risk ×1.18",
            "Source weight: ×1.5",
            "Novelty: ×1 (first report of its story)",
            "Spike: 14 in the window, 0.31 expected (p = 1.2e-9)",
            "Kids sick after Acme yogurt",
            "rsshub:weibo · 2025-03-01 08:00 UTC · risk 72",
            "https://news.example.com/a?x=1&y=2",
            "Matched: 艾克米, 食物中毒",
            "Dashboard: http://localhost:8080/incidents/42",
            "Acknowledge: http://localhost:8080/ack/42?sig=abc",
            "confirmation page",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        let html = part(&raw, "text/html");
        for expected in ["72/100", "food-safety", "Source weight", "Matched: 艾克米, 食物中毒", "Top mentions"] {
            assert!(html.contains(expected), "missing {expected:?} in:\n{html}");
        }
    }

    #[test]
    fn bad_input_is_an_error_that_says_what_to_fix() {
        let n = notice("Acme");
        let err = compose(&n, "not an address", &to(), "alerts.example.com").unwrap_err();
        assert!(err.to_string().contains("invalid from address `not an address`"), "{err}");
        let err = compose(&n, "alerts@example.com", &["x@".into()], "alerts.example.com").unwrap_err();
        assert!(err.to_string().contains("invalid to address"), "{err}");
        assert!(matches!(compose(&n, "alerts@example.com", &[], "alerts.example.com"), Err(EmailError::NoRecipients)));
        assert!(matches!(compose(&n, "alerts@example.com", &to(), "bad domain>"), Err(EmailError::ThreadDomain(_))));
        assert!(compose(&n, "alerts@example.com", &to(), "[127.0.0.1]").is_ok());
        // A header-injection attempt in a title stays inside the subject.
        let raw = formatted(&compose(&notice("x\r\nBcc: evil@example.com"), "alerts@example.com", &to(), "h").unwrap());
        assert!(!headers(&raw).iter().any(|(n, _)| n.eq_ignore_ascii_case("Bcc")));
        assert!(matches!(
            EmailTransport::smtp(" ", 25, TlsMode::None, None, Duration::from_secs(1)),
            Err(EmailError::EmptyHost)
        ));
    }

    #[test]
    fn tls_mode_reads_as_configured() {
        #[derive(Deserialize)]
        struct Smtp {
            tls: TlsMode,
        }
        for (text, mode) in [("starttls", TlsMode::Starttls), ("tls", TlsMode::Tls), ("none", TlsMode::None)] {
            let parsed: Smtp = serde_json::from_str(&format!(r#"{{"tls":"{text}"}}"#)).unwrap();
            assert_eq!(parsed.tls, mode);
        }
        assert!(serde_json::from_str::<Smtp>(r#"{"tls":"ssl"}"#).is_err());
    }

    #[tokio::test]
    async fn without_smtp_alerts_land_in_a_local_mailbox() {
        let dir = tempfile::tempdir().unwrap();
        let mailbox_dir = dir.path().join("mail/outbox");
        let transport = EmailTransport::mailbox(&mailbox_dir).unwrap();
        let message = compose(&notice("Acme yogurt"), "alerts@example.com", &to(), "localhost").unwrap();
        let got = send(&transport, message).await;
        assert!(got.is_delivered(), "{got:?}");
        let files: Vec<_> = std::fs::read_dir(&mailbox_dir).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].extension().unwrap(), "eml");
        let raw = std::fs::read_to_string(&files[0]).unwrap();
        assert!(raw.contains("<ntc_01HZX@localhost>"));
    }

    /// A scripted SMTP server on loopback: answers RCPT TO with `rcpt_reply`.
    async fn fake_smtp(rcpt_reply: &'static str) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
                    let mut in_data = false;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if in_data {
                            if line == "." {
                                in_data = false;
                                write.write_all(b"250 2.0.0 Ok: queued as F00D\r\n").await.unwrap();
                            }
                            continue;
                        }
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let reply: &str = match verb.as_str() {
                            "EHLO" | "HELO" => "250 fake\r\n",
                            "MAIL" | "RSET" | "NOOP" => "250 2.0.0 Ok\r\n",
                            "RCPT" => rcpt_reply,
                            "DATA" => {
                                in_data = true;
                                "354 End data with <CR><LF>.<CR><LF>\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 Bye\r\n").await;
                                break;
                            }
                            _ => "502 5.5.2 Error: command not recognized\r\n",
                        };
                        if write.write_all(reply.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        port
    }

    async fn send_via(port: u16) -> Delivery {
        let transport = EmailTransport::smtp("127.0.0.1", port, TlsMode::None, None, Duration::from_secs(5)).unwrap();
        let message = compose(&notice("Acme"), "alerts@example.com", &to(), "localhost").unwrap();
        send(&transport, message).await
    }

    #[tokio::test]
    async fn smtp_replies_are_classified_per_spec() {
        let ok = send_via(fake_smtp("250 2.1.5 Ok\r\n").await).await;
        assert_eq!(ok, Delivery::Delivered { status: "250 2.0.0 Ok: queued as F00D".into() });
        let busy = send_via(fake_smtp("451 4.3.0 Mailbox temporarily unavailable\r\n").await).await;
        assert!(matches!(&busy, Delivery::Retry { error, .. } if error.contains("451")), "{busy:?}");
        let refused = send_via(fake_smtp("550 5.1.1 No such user\r\n").await).await;
        assert!(matches!(&refused, Delivery::Permanent { error } if error.contains("No such user")), "{refused:?}");

        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let down = send_via(closed).await;
        assert!(matches!(down, Delivery::Retry { .. }), "{down:?}");
    }
}
