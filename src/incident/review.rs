//! The post-incident review (SPEC §7): what happened, how fast the team moved, whether the
//! official statement changed the conversation, and the full timeline with its hash-chain
//! check, as Markdown, self-contained HTML or JSON.
//!
//! [`Review::build`] is a pure function of the data the store hands over and a clock, so
//! the figures can be checked on a scripted incident. The JSON format is [`Review`]'s serde
//! form. Every piece of feed text is escaped in both Markdown and HTML: a review is opened
//! by people with access to the whole incident, and a mention title is attacker-controlled.

use std::fmt::{self, Write as _};

use chrono::{DateTime, Duration, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::Incident;
use super::NoticeKind;
use super::playbook::Playbook;
use super::present::{describe, safe_href, why_lines};
use super::timeline::{self, Event};
use crate::lang::Lang;

/// A mention attached to the incident, as the review needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewMention {
    pub feed: String,
    pub title: String,
    pub url: Option<String>,
    /// When the source published it; `None` when the feed did not say.
    pub published: Option<DateTime<Utc>>,
    /// When it was attached to the incident.
    pub attached_at: DateTime<Utc>,
    pub risk: u8,
    /// In [-1, 1]; `None` for mentions stored before sentiment was.
    pub sentiment: Option<f64>,
}

impl ReviewMention {
    /// When the mention entered the conversation: published, or attached when the feed gave
    /// no time.
    pub fn at(&self) -> DateTime<Utc> {
        self.published.unwrap_or(self.attached_at)
    }
}

/// A playbook step someone marked done.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StepDone {
    /// The step's id in the incident's playbook.
    pub step: String,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

/// How a notification's delivery ended (or stands, while it is still retried).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    Delivered,
    Retrying,
    Failed,
}

impl Delivery {
    fn as_str(self) -> &'static str {
        match self {
            Delivery::Delivered => "delivered",
            Delivery::Retrying => "retrying",
            Delivery::Failed => "failed",
        }
    }
}

/// One notification to one channel and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotificationOutcome {
    pub channel: String,
    pub kind: NoticeKind,
    pub attempts: u32,
    pub result: Delivery,
    /// The last attempt's status or error, as the delivery worker logged it.
    pub detail: Option<String>,
}

/// Whether the timeline's hash chain verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChainStatus {
    Verified,
    /// The first event that does not verify, and why.
    Broken {
        first_broken_event: i64,
        reason: &'static str,
    },
}

impl ChainStatus {
    /// Checks the chain of `events` (the whole timeline, in order).
    pub fn of(events: &[Event]) -> ChainStatus {
        match timeline::verify(events) {
            Ok(_) => ChainStatus::Verified,
            Err(broken) => ChainStatus::Broken { first_broken_event: broken.event.id, reason: broken.why.describe() },
        }
    }
}

/// Everything the review is built from; the store gathers it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewInput {
    pub incident: Incident,
    /// The whole timeline, oldest first.
    pub timeline: Vec<Event>,
    pub mentions: Vec<ReviewMention>,
    /// The playbook of the rule's crisis type, when there is one.
    pub playbook: Option<Playbook>,
    /// Step completions, oldest first; the first completion of a step counts.
    pub steps_done: Vec<StepDone>,
    pub notifications: Vec<NotificationOutcome>,
    pub chain: ChainStatus,
}

/// A length of time, shown as `2h 5m` and serialized as `{"seconds", "text"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(pub Duration);

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.num_seconds();
        if total < 0 {
            f.write_str("-")?;
        }
        let total = total.unsigned_abs();
        let units = [(total / 86_400, "d"), (total % 86_400 / 3600, "h"), (total % 3600 / 60, "m"), (total % 60, "s")];
        // The two largest units say enough: "1d 3h", "2h 5m", "4m 10s".
        let shown: Vec<String> = units
            .iter()
            .skip_while(|(n, _)| *n == 0)
            .take(2)
            .filter(|(n, _)| *n > 0)
            .map(|(n, unit)| format!("{n}{unit}"))
            .collect();
        if shown.is_empty() { f.write_str("0s") } else { f.write_str(&shown.join(" ")) }
    }
}

impl Serialize for Elapsed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("Elapsed", 2)?;
        out.serialize_field("seconds", &self.0.num_seconds())?;
        out.serialize_field("text", &self.to_string())?;
        out.end()
    }
}

/// How fast the team moved, each counted to its end from the start named.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Times {
    /// First matching mention published → incident opened.
    pub to_detect: Option<Elapsed>,
    /// Opened → acknowledged.
    pub to_acknowledge: Option<Elapsed>,
    /// Opened → resolved.
    pub to_resolve: Option<Elapsed>,
    /// Opened → the official statement step done.
    pub to_statement: Option<Elapsed>,
}

/// Mentions in one slice of time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub volume: u32,
    /// Over the mentions with a sentiment; `None` when none had one.
    pub mean_sentiment: Option<f64>,
}

/// Volume and sentiment over the incident's span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    /// 5m, 15m, 1h, 6h or 1d (whole days beyond), so there are at most about 60 buckets.
    pub bucket: Elapsed,
    /// Consecutive, from the first mention (or the opening) to resolution (or now).
    pub buckets: Vec<Bucket>,
}

/// Mentions in a stretch of time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub volume: u32,
    /// `None` when the window has no length.
    pub per_hour: Option<f64>,
    pub mean_sentiment: Option<f64>,
}

/// The conversation before and after the official statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementEffect {
    pub at: DateTime<Utc>,
    pub before: Window,
    /// From the statement on, the statement's own moment included.
    pub after: Window,
}

/// A step of the playbook, or a completion of a step the playbook does not list (kept so no
/// record of work done is lost), with who did it and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepProgress {
    pub id: String,
    pub title: String,
    pub title_zh: Option<String>,
    pub statement: bool,
    pub due_at: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
    pub actor: Option<String>,
    pub note: Option<String>,
    /// Done after its due time, or not done and past due.
    pub overdue: bool,
}

/// The playbook and how far the team got through it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaybookProgress {
    /// `None` when the incident's crisis type has no playbook.
    pub crisis_type: Option<String>,
    pub title: Option<String>,
    pub strategy: Option<String>,
    pub steps: Vec<StepProgress>,
}

/// The post-incident review; its serde form is the JSON export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    pub generated_at: DateTime<Utc>,
    /// The summary: title, rule, level, status, score, why and the key times.
    pub incident: Incident,
    pub times: Times,
    pub chart: Chart,
    /// `None` until the statement step is done.
    pub statement: Option<StatementEffect>,
    pub notifications: Vec<NotificationOutcome>,
    pub playbook: PlaybookProgress,
    /// The ten riskiest mentions, riskiest first.
    pub top_mentions: Vec<ReviewMention>,
    pub timeline: Vec<Event>,
    pub chain: ChainStatus,
}

/// How many mentions the review lists.
const TOP_MENTIONS: usize = 10;
/// About how many buckets the chart may have.
const MAX_BUCKETS: i64 = 60;

impl Review {
    /// Builds the review of `input` as it stands at `now`.
    pub fn build(input: ReviewInput, now: DateTime<Utc>) -> Review {
        let ReviewInput { incident, timeline, mut mentions, playbook, steps_done, notifications, chain } = input;
        let opened = incident.opened_at;
        let since_open = |at: DateTime<Utc>| Elapsed(at - opened);
        let playbook = progress(playbook.as_ref(), &steps_done, opened, now);
        let statement_at = playbook.steps.iter().find(|s| s.statement).and_then(|s| s.done_at);
        let times = Times {
            to_detect: incident.first_mention_at.map(|first| Elapsed(opened - first)),
            to_acknowledge: incident.acknowledged_at.map(since_open),
            to_resolve: incident.resolved_at.map(since_open),
            to_statement: statement_at.map(since_open),
        };

        let first = mentions.iter().map(ReviewMention::at).chain(incident.first_mention_at).fold(opened, DateTime::min);
        let last = mentions.iter().map(ReviewMention::at).fold(incident.resolved_at.unwrap_or(now), DateTime::max);
        let chart = chart(&mentions, first, last);
        let statement = statement_at.map(|at| StatementEffect {
            at,
            before: window(&mentions, first, at),
            after: window(&mentions, at, last),
        });

        // Stable: equal risks keep the order the conversation had.
        mentions.sort_by_key(|m| (std::cmp::Reverse(m.risk), m.at()));
        mentions.truncate(TOP_MENTIONS);
        Review {
            generated_at: now,
            incident,
            times,
            chart,
            statement,
            notifications,
            playbook,
            top_mentions: mentions,
            timeline,
            chain,
        }
    }

    /// The review as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}

fn progress(
    playbook: Option<&Playbook>,
    done: &[StepDone],
    opened: DateTime<Utc>,
    now: DateTime<Utc>,
) -> PlaybookProgress {
    let first_done = |id: &str| done.iter().find(|d| d.step == id);
    let mut steps: Vec<StepProgress> = playbook
        .map(|p| p.steps.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|step| {
            let completion = first_done(&step.id);
            let due_at = step.due.and_then(|due| opened.checked_add_signed(due));
            let done_at = completion.map(|d| d.at);
            StepProgress {
                id: step.id.clone(),
                title: step.title.clone(),
                title_zh: step.title_zh.clone(),
                statement: step.statement,
                due_at,
                done_at,
                actor: completion.map(|d| d.actor.clone()),
                note: completion.and_then(|d| d.note.clone()),
                overdue: due_at.is_some_and(|due| done_at.unwrap_or(now) > due),
            }
        })
        .collect();
    for d in done {
        if !steps.iter().any(|s| s.id == d.step) {
            steps.push(StepProgress {
                id: d.step.clone(),
                title: d.step.clone(),
                title_zh: None,
                statement: false,
                due_at: None,
                done_at: Some(d.at),
                actor: Some(d.actor.clone()),
                note: d.note.clone(),
                overdue: false,
            });
        }
    }
    PlaybookProgress {
        crisis_type: playbook.map(|p| p.crisis_type.clone()),
        title: playbook.map(|p| p.title.clone()),
        strategy: playbook.and_then(|p| p.strategy.clone()),
        steps,
    }
}

/// The bucket sizes tried, smallest first.
const BUCKET_SIZES: [i64; 5] = [5 * 60, 15 * 60, 3600, 6 * 3600, 86_400];

/// `at` rounded down to a multiple of `size` seconds since the epoch, so buckets start on
/// round times (:00, :15, midnight).
fn floor_to(at: DateTime<Utc>, size: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp().div_euclid(size) * size, 0).unwrap_or(at)
}

/// The smallest bucket size that covers `first..=last` in at most [`MAX_BUCKETS`] buckets,
/// with the aligned start and the bucket count.
fn bucket_size(first: DateTime<Utc>, last: DateTime<Utc>) -> (i64, DateTime<Utc>, i64) {
    let fits = |size: i64| {
        let start = floor_to(first, size);
        let count = (last - start).num_seconds().max(0) / size + 1;
        (size, start, count)
    };
    BUCKET_SIZES.iter().map(|size| fits(*size)).find(|(_, _, count)| *count <= MAX_BUCKETS).unwrap_or_else(|| {
        // Longer than 60 days: whole days, as many as it takes.
        let days = (last - first).num_seconds().max(0) / (MAX_BUCKETS * 86_400) + 1;
        fits(days * 86_400)
    })
}

fn chart(mentions: &[ReviewMention], first: DateTime<Utc>, last: DateTime<Utc>) -> Chart {
    let (size, start, count) = bucket_size(first, last);
    let mut sums: Vec<(u32, f64, u32)> = vec![(0, 0.0, 0); usize::try_from(count).unwrap_or(1)];
    for mention in mentions {
        let index =
            usize::try_from((mention.at() - start).num_seconds() / size).unwrap_or(0).min(sums.len().saturating_sub(1));
        if let Some((volume, sum, with_sentiment)) = sums.get_mut(index) {
            *volume += 1;
            if let Some(s) = mention.sentiment {
                *sum += s;
                *with_sentiment += 1;
            }
        }
    }
    let buckets = sums
        .into_iter()
        .zip(0..)
        .map(|((volume, sum, n), i)| Bucket {
            start: start.checked_add_signed(Duration::seconds(size * i)).unwrap_or(start),
            volume,
            mean_sentiment: mean(sum, n),
        })
        .collect();
    Chart { bucket: Elapsed(Duration::seconds(size)), buckets }
}

fn window(mentions: &[ReviewMention], from: DateTime<Utc>, to: DateTime<Utc>) -> Window {
    let inside: Vec<&ReviewMention> = mentions.iter().filter(|m| m.at() >= from && m.at() < to).collect();
    let volume = u32::try_from(inside.len()).unwrap_or(u32::MAX);
    let sentiments: Vec<f64> = inside.iter().filter_map(|m| m.sentiment).collect();
    let hours = (to - from).num_seconds() as f64 / 3600.0;
    Window {
        from,
        to,
        volume,
        per_hour: (hours > 0.0).then(|| round3(f64::from(volume) / hours)),
        mean_sentiment: mean(sentiments.iter().sum(), u32::try_from(sentiments.len()).unwrap_or(u32::MAX)),
    }
}

fn mean(sum: f64, n: u32) -> Option<f64> {
    (n > 0).then(|| round3(sum / f64::from(n)))
}

/// Three decimals are all a reader can use, and keep the JSON free of float noise.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn kind_name(kind: NoticeKind) -> String {
    match serde_json::to_value(kind) {
        Ok(Value::String(name)) => name,
        _ => format!("{kind:?}"),
    }
}

fn sentiment_text(sentiment: Option<f64>) -> String {
    sentiment.map_or_else(|| "–".to_owned(), |s| format!("{s:+.2}"))
}

fn opt_time(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "–".to_owned(), time)
}

fn opt_elapsed(elapsed: Option<Elapsed>) -> String {
    elapsed.map_or_else(|| "–".to_owned(), |e| e.to_string())
}

/// Feed text made inert in Markdown: HTML characters become entities, and everything that
/// could make a link, an image, emphasis, code or a table cell is backslash-escaped; line
/// breaks become spaces so a table row stays one row. Text is only ever placed mid-line,
/// where `#`, `-` and `1.` start nothing.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A Markdown link to `url` when it is a safe http(s) one, else the label and the URL as text.
fn md_link(label: &str, url: Option<&str>) -> String {
    match url.map(|u| (u, safe_href(u))) {
        Some((_, Some(href))) => format!("[{}](<{href}>)", md(label)),
        Some((raw, None)) => format!("{} ({})", md(label), md(raw)),
        None => md(label),
    }
}

impl Review {
    /// The review as a Markdown document.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail, so the fmt::Results below are safely ignored.
        let i = &self.incident;
        let _ = writeln!(out, "# Post-incident review: incident #{} — {}\n", i.id, md(&i.title));
        let _ = writeln!(out, "Generated {}.\n", time(self.generated_at));

        let _ = writeln!(out, "## Summary\n");
        let _ = writeln!(out, "| | |\n|---|---|");
        for (key, value) in self.summary_rows() {
            let _ = writeln!(out, "| {key} | {} |", md(&value));
        }
        let why = why_lines(&i.why, Lang::En);
        if !why.is_empty() {
            let _ = writeln!(out, "\nWhy:\n");
            for (key, value) in why {
                let _ = writeln!(out, "- {}: {}", md(&key), md(&value));
            }
        }

        let _ = writeln!(out, "\n## Response times\n");
        for (label, value) in self.time_rows() {
            let _ = writeln!(out, "- {label}: {value}");
        }

        let _ = writeln!(out, "\n## Volume and sentiment\n");
        let _ = writeln!(out, "Mentions per {} (empty buckets left out).\n", self.chart.bucket);
        let _ = writeln!(out, "| From | Mentions | Mean sentiment |\n|---|---:|---:|");
        for b in self.chart.buckets.iter().filter(|b| b.volume > 0) {
            let _ = writeln!(out, "| {} | {} | {} |", time(b.start), b.volume, sentiment_text(b.mean_sentiment));
        }

        let _ = writeln!(out, "\n## Before and after the official statement\n");
        match &self.statement {
            Some(effect) => {
                let _ = writeln!(out, "Statement published {}.\n", time(effect.at));
                let _ = writeln!(out, "| | Before | After |\n|---|---:|---:|");
                for (label, before, after) in effect_rows(effect) {
                    let _ = writeln!(out, "| {label} | {before} | {after} |");
                }
            }
            None => {
                let _ = writeln!(out, "No official statement has been recorded.");
            }
        }

        let _ = writeln!(out, "\n## Notifications\n");
        if self.notifications.is_empty() {
            let _ = writeln!(out, "None sent.");
        } else {
            let _ = writeln!(out, "| Channel | Type | Attempts | Result | Detail |\n|---|---|---:|---|---|");
            for n in &self.notifications {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    md(&n.channel),
                    md(&kind_name(n.kind)),
                    n.attempts,
                    n.result.as_str(),
                    md(n.detail.as_deref().unwrap_or("")),
                );
            }
        }

        let p = &self.playbook;
        match (&p.title, &p.crisis_type) {
            (Some(title), Some(crisis_type)) => {
                let _ = writeln!(out, "\n## Playbook: {} ({})\n", md(title), md(crisis_type));
            }
            _ => {
                let _ = writeln!(out, "\n## Playbook\n\nNo playbook covers this incident's crisis type.\n");
            }
        }
        if let Some(strategy) = &p.strategy {
            let _ = writeln!(out, "Strategy: {}\n", md(strategy.trim()));
        }
        if !p.steps.is_empty() {
            let _ = writeln!(out, "| Step | Due | Done | By | Note |\n|---|---|---|---|---|");
            for s in &p.steps {
                let mut title = md(&s.title);
                if let Some(zh) = &s.title_zh {
                    let _ = write!(title, " / {}", md(zh));
                }
                if s.statement {
                    title.push_str(" (official statement)");
                }
                let done = match (s.done_at, s.overdue) {
                    (Some(at), true) => format!("{} **overdue**", time(at)),
                    (Some(at), false) => time(at),
                    (None, true) => "**overdue**".to_owned(),
                    (None, false) => "–".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "| {title} | {} | {done} | {} | {} |",
                    opt_time(s.due_at),
                    md(s.actor.as_deref().unwrap_or("–")),
                    md(s.note.as_deref().unwrap_or("")),
                );
            }
        }

        let _ = writeln!(out, "\n## Top mentions\n");
        if self.top_mentions.is_empty() {
            let _ = writeln!(out, "None attached.");
        }
        for (n, m) in self.top_mentions.iter().enumerate() {
            let _ = writeln!(
                out,
                "{}. {} — {}, risk {}, sentiment {}, {}",
                n + 1,
                md_link(&m.title, m.url.as_deref()),
                md(&m.feed),
                m.risk,
                sentiment_text(m.sentiment),
                time(m.at()),
            );
        }

        let _ = writeln!(out, "\n## Timeline\n");
        let _ = writeln!(out, "| # | Time | Actor | Event | Details |\n|---:|---|---|---|---|");
        for e in &self.timeline {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                e.id,
                time(e.at),
                md(&e.actor),
                md(&e.kind),
                md(&describe(e, Lang::En))
            );
        }
        let _ = writeln!(out, "\n{}", chain_text(self.chain));
        out
    }

    fn summary_rows(&self) -> Vec<(&'static str, String)> {
        let i = &self.incident;
        vec![
            ("Rule", i.rule.clone()),
            ("Level", i.level.as_str().to_owned()),
            ("Status", i.status.as_str().to_owned()),
            ("Score", format!("{}/100", i.score)),
            ("First mention", opt_time(i.first_mention_at)),
            ("Opened", time(i.opened_at)),
            ("Acknowledged", opt_time(i.acknowledged_at)),
            ("Resolved", opt_time(i.resolved_at)),
            ("Mentions", i.mentions.to_string()),
        ]
    }

    fn time_rows(&self) -> [(&'static str, String); 4] {
        let t = &self.times;
        [
            ("Time to detect (first mention → opened)", opt_elapsed(t.to_detect)),
            ("Time to acknowledge", opt_elapsed(t.to_acknowledge)),
            ("Time to the official statement", opt_elapsed(t.to_statement)),
            ("Time to resolve", opt_elapsed(t.to_resolve)),
        ]
    }
}

fn effect_rows(effect: &StatementEffect) -> [(&'static str, String, String); 4] {
    let per_hour = |w: &Window| w.per_hour.map_or_else(|| "–".to_owned(), |p| format!("{p:.1}"));
    let (b, a) = (&effect.before, &effect.after);
    [
        ("Span", Elapsed(b.to - b.from).to_string(), Elapsed(a.to - a.from).to_string()),
        ("Mentions", b.volume.to_string(), a.volume.to_string()),
        ("Mentions per hour", per_hour(b), per_hour(a)),
        ("Mean sentiment", sentiment_text(b.mean_sentiment), sentiment_text(a.mean_sentiment)),
    ]
}

fn chain_text(chain: ChainStatus) -> String {
    match chain {
        ChainStatus::Verified => "Timeline hash chain verified: no event was edited, dropped or reordered.".to_owned(),
        ChainStatus::Broken { first_broken_event, reason } => {
            format!("TIMELINE HASH CHAIN BROKEN at event #{first_broken_event}: {reason}.")
        }
    }
}

const CSS: &str = "body{font-family:system-ui,sans-serif;font-size:14px;line-height:1.45;color:#222;\
max-width:960px;margin:24px auto;padding:0 16px}h1{font-size:22px}h2{font-size:17px;margin-top:28px;\
border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 10px 3px 0;\
text-align:left;vertical-align:top;border-bottom:1px solid #eee}td.n{text-align:right}.overdue{color:#b00;\
font-weight:bold}.broken{color:#fff;background:#b00;padding:8px}.verified{color:#060}.muted{color:#777}\
.zh{color:#555}";

/// Chart geometry, in SVG user units.
const CHART_W: f64 = 720.0;
const CHART_H: f64 = 220.0;
const PAD_L: f64 = 40.0;
/// Room on the right for the sentiment scale.
const PAD_R: f64 = 32.0;
const PAD_B: f64 = 24.0;

impl Review {
    /// The review as one HTML page: inline CSS and an inline SVG chart, no scripts and
    /// nothing fetched from the network, so it can be mailed or archived as it is.
    pub fn to_html(&self) -> String {
        let i = &self.incident;
        let page = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    title { "Post-incident review: incident #" (i.id) " — " (i.title) }
                    style { (PreEscaped(CSS)) }
                }
                body {
                    h1 { "Post-incident review: incident #" (i.id) " — " (i.title) }
                    p.muted { "Generated " (time(self.generated_at)) "." }
                    h2 { "Summary" }
                    table {
                        @for (key, value) in self.summary_rows() {
                            tr { th { (key) } td { (value) } }
                        }
                    }
                    @let why = why_lines(&i.why, Lang::En);
                    @if !why.is_empty() {
                        p { "Why:" }
                        ul { @for (key, value) in &why { li { (key) ": " (value) } } }
                    }
                    h2 { "Response times" }
                    table { @for (label, value) in self.time_rows() { tr { th { (label) } td { (value) } } } }
                    h2 { "Volume and sentiment" }
                    (self.svg_chart())
                    p.muted { "Bars: mentions per " (self.chart.bucket) " (left scale). Line: mean sentiment (right scale, −1 to +1), broken where a period has none. "
                        @if self.statement.is_some() { "Dashed: the official statement." } }
                    h2 { "Before and after the official statement" }
                    @match &self.statement {
                        Some(effect) => {
                            p { "Statement published " (time(effect.at)) "." }
                            table {
                                tr { th {} th { "Before" } th { "After" } }
                                @for (label, before, after) in effect_rows(effect) {
                                    tr { th { (label) } td.n { (before) } td.n { (after) } }
                                }
                            }
                        }
                        None => p { "No official statement has been recorded." }
                    }
                    h2 { "Notifications" }
                    @if self.notifications.is_empty() {
                        p { "None sent." }
                    } @else {
                        table {
                            tr { th { "Channel" } th { "Type" } th { "Attempts" } th { "Result" } th { "Detail" } }
                            @for n in &self.notifications {
                                tr {
                                    td { (n.channel) } td { (kind_name(n.kind)) } td.n { (n.attempts) }
                                    td { (n.result.as_str()) } td { (n.detail.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                    (self.html_playbook())
                    h2 { "Top mentions" }
                    @if self.top_mentions.is_empty() { p { "None attached." } }
                    ol {
                        @for m in &self.top_mentions {
                            li {
                                @match m.url.as_deref().and_then(safe_href) {
                                    Some(href) => { a href=(href) rel="noopener noreferrer" { (m.title) } }
                                    None => { (m.title) }
                                }
                                " — " (m.feed) ", risk " (m.risk) ", sentiment " (sentiment_text(m.sentiment))
                                ", " (time(m.at()))
                                @if let Some(url) = m.url.as_deref().filter(|u| safe_href(u).is_none()) {
                                    " " code { (url) }
                                }
                            }
                        }
                    }
                    h2 { "Timeline" }
                    table {
                        tr { th { "#" } th { "Time" } th { "Actor" } th { "Event" } th { "Details" } }
                        @for e in &self.timeline {
                            tr { td.n { (e.id) } td { (time(e.at)) } td { (e.actor) } td { (e.kind) } td { (describe(e, Lang::En)) } }
                        }
                    }
                    @match self.chain {
                        ChainStatus::Verified => p.verified { (chain_text(self.chain)) },
                        ChainStatus::Broken { .. } => p.broken { (chain_text(self.chain)) },
                    }
                }
            }
        };
        page.into_string()
    }

    fn html_playbook(&self) -> Markup {
        let p = &self.playbook;
        html! {
            @match (&p.title, &p.crisis_type) {
                (Some(title), Some(crisis_type)) => h2 { "Playbook: " (title) " (" (crisis_type) ")" },
                _ => { h2 { "Playbook" } p { "No playbook covers this incident's crisis type." } },
            }
            @if let Some(strategy) = &p.strategy { p { strong { "Strategy: " } (strategy.trim()) } }
            @if !p.steps.is_empty() {
                table {
                    tr { th { "Step" } th { "Due" } th { "Done" } th { "By" } th { "Note" } }
                    @for s in &p.steps {
                        tr {
                            td {
                                (s.title)
                                @if let Some(zh) = &s.title_zh { br; span.zh lang="zh" { (zh) } }
                                @if s.statement { " " em { "(official statement)" } }
                            }
                            td { (opt_time(s.due_at)) }
                            td {
                                (opt_time(s.done_at))
                                @if s.overdue { " " span.overdue { "overdue" } }
                            }
                            td { (s.actor.as_deref().unwrap_or("–")) }
                            td { (s.note.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }

    /// Volume as bars, mean sentiment as a line on a −1..1 scale, and the statement as a
    /// dashed vertical line.
    pub fn svg_chart(&self) -> Markup {
        let buckets = &self.chart.buckets;
        let n = buckets.len().max(1) as f64;
        let max_volume = buckets.iter().map(|b| b.volume).max().unwrap_or(0).max(1);
        let plot_w = CHART_W - PAD_L - PAD_R;
        let plot_h = CHART_H - PAD_B;
        let slot = plot_w / n;
        let x_of = |index: f64| PAD_L + index * slot;
        let y_of_sentiment = |s: f64| plot_h * (1.0 - (s.clamp(-1.0, 1.0) + 1.0) / 2.0);
        let bars: Vec<(f64, f64, f64)> = buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| b.volume > 0)
            .map(|(i, b)| {
                let h = plot_h * f64::from(b.volume) / f64::from(max_volume);
                (x_of(i as f64) + slot * 0.1, plot_h - h, h)
            })
            .collect();
        // One line per run of periods with a sentiment: a period without one breaks the line
        // rather than being bridged as if the mood were known there.
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut run: Vec<(f64, f64)> = Vec::new();
        for (i, bucket) in buckets.iter().enumerate() {
            match bucket.mean_sentiment {
                Some(sentiment) => run.push((x_of(i as f64 + 0.5), y_of_sentiment(sentiment))),
                None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                None => {}
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
        let runs: Vec<(Vec<(f64, f64)>, String)> = runs
            .into_iter()
            .map(|points| {
                let line = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ");
                (points, line)
            })
            .collect();
        let span = self.chart.bucket.0.num_seconds().max(1) as f64;
        let statement_x = match (&self.statement, buckets.first()) {
            (Some(effect), Some(first)) => Some(x_of((effect.at - first.start).num_seconds() as f64 / span)),
            _ => None,
        };
        let first_label = buckets.first().map(|b| time(b.start)).unwrap_or_default();
        // The right edge is where the last period ends.
        let last_label =
            buckets.last().and_then(|b| b.start.checked_add_signed(self.chart.bucket.0)).map(time).unwrap_or_default();
        let zero_y = y_of_sentiment(0.0);
        let right = PAD_L + plot_w;
        html! {
            svg xmlns="http://www.w3.org/2000/svg" width=(CHART_W) height=(CHART_H)
                viewBox=(format!("0 0 {CHART_W} {CHART_H}")) role="img"
                aria-label="Mentions and mean sentiment over time" {
                rect x=(PAD_L) y="0" width=(plot_w) height=(plot_h) fill="#fafafa" stroke="#ddd" {}
                line x1=(PAD_L) y1=(format!("{zero_y:.1}")) x2=(right) y2=(format!("{zero_y:.1}"))
                    stroke="#ccc" {}
                @for (x, y, h) in &bars {
                    rect x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{:.1}", slot * 0.8))
                        height=(format!("{h:.1}")) fill="#7aa6d8" {}
                }
                @for (points, line) in &runs {
                    @if let [(x, y)] = points.as_slice() {
                        // One point draws no line; a dot shows it.
                        circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="3" fill="#c0392b" {}
                    } @else {
                        polyline points=(line) fill="none" stroke="#c0392b" stroke-width="2" {}
                    }
                }
                @if let Some(x) = statement_x {
                    line x1=(format!("{x:.1}")) y1="0" x2=(format!("{x:.1}")) y2=(plot_h) stroke="#333"
                        stroke-dasharray="4 3" {}
                }
                text x=(PAD_L - 4.0) y="12" font-size="11" text-anchor="end" { (max_volume) }
                text x=(PAD_L - 4.0) y=(plot_h) font-size="11" text-anchor="end" { "0" }
                text x=(right + 4.0) y="12" font-size="11" fill="#c0392b" { "+1" }
                text x=(right + 4.0) y=(format!("{:.1}", zero_y + 4.0)) font-size="11" fill="#c0392b" { "0" }
                text x=(right + 4.0) y=(plot_h) font-size="11" fill="#c0392b" { "−1" }
                text x=(PAD_L) y=(CHART_H - 6.0) font-size="11" { (first_label) }
                text x=(right) y=(CHART_H - 6.0) font-size="11" text-anchor="end" { (last_label) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::SecondsFormat;

    use super::*;
    use crate::incident::playbook::Step;
    use crate::incident::{Level, Status};

    fn at(hh_mm: &str) -> DateTime<Utc> {
        at_on("2026-03-02", hh_mm)
    }

    fn at_on(day: &str, hh_mm: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("{day}T{hh_mm}:00Z")).expect("test time").with_timezone(&Utc)
    }

    fn mention(
        published: Option<&str>,
        attached: &str,
        risk: u8,
        sentiment: Option<f64>,
        title: &str,
    ) -> ReviewMention {
        ReviewMention {
            feed: if title.is_ascii() { "news".to_owned() } else { "weibo".to_owned() },
            title: title.to_owned(),
            url: Some(format!("https://news.example/{risk}")),
            published: published.map(at),
            attached_at: at(attached),
            risk,
            sentiment,
        }
    }

    fn step(id: &str, title: &str, due_minutes: i64, statement: bool) -> Step {
        Step {
            id: id.to_owned(),
            title: title.to_owned(),
            title_zh: None,
            due: Some(Duration::minutes(due_minutes)),
            statement,
        }
    }

    fn chained(events: &[(&str, &str, &str, Value)]) -> Vec<Event> {
        let mut prev = String::new();
        let mut out = Vec::new();
        for (n, (time, actor, kind, details)) in events.iter().enumerate() {
            let (at_text, text) = (at(time).to_rfc3339_opts(SecondsFormat::Micros, true), details.to_string());
            let hash = timeline::event_hash(&prev, 7, &at_text, actor, kind, &text);
            out.push(Event {
                id: 100 + n as i64,
                incident_id: 7,
                at: at(time),
                actor: (*actor).to_owned(),
                kind: (*kind).to_owned(),
                details: details.clone(),
                prev_hash: prev.clone(),
                hash: hash.clone(),
                stored: timeline::StoredText { at: at_text, details: text, scheme: timeline::HashScheme::StoredBytes },
            });
            prev = hash;
        }
        out
    }

    /// A food-safety story: a parent's Weibo post at 08:35, the incident opens at 09:00, the
    /// on-call acknowledges at 09:12, the statement goes out at 10:40 and the mood turns; the
    /// incident is resolved at 15:30 and reviewed the next day.
    fn scripted() -> ReviewInput {
        let mut evil = mention(Some("09:05"), "09:06", 81, Some(-0.8), "<script>alert(1)</script>");
        evil.url = Some("javascript:alert(1)".to_owned());
        let mentions = vec![
            mention(Some("08:35"), "09:00", 62, Some(-0.6), "My kid got food poisoning after Acme yogurt"),
            mention(Some("08:50"), "09:00", 70, Some(-0.7), "艾克米酸奶导致食物中毒"),
            evil,
            mention(Some("09:40"), "09:41", 75, Some(-0.5), "Acme recall? [click](http://evil.example) *now*"),
            // No published time: it counts from when it was attached.
            mention(None, "10:12", 66, None, "Acme silent on yogurt complaints | day 1"),
            mention(Some("10:50"), "10:51", 55, Some(-0.2), "Acme pulls yogurt batch, offers refunds"),
            mention(Some("11:30"), "11:31", 40, Some(0.1), "Acme's quick response"),
            mention(Some("13:00"), "13:01", 35, Some(0.3), "退款已到账"),
        ];
        let incident = Incident {
            id: 7,
            status: Status::Resolved,
            level: Level::High,
            score: 81,
            rule: "food-safety".to_owned(),
            group: "rule:food-safety".to_owned(),
            title: "Food safety complaint about our brand".to_owned(),
            opened_at: at("09:00"),
            first_mention_at: Some(at("08:35")),
            acknowledged_at: Some(at("09:12")),
            resolved_at: Some(at("15:30")),
            mentions: 8,
            why: serde_json::json!({"severity": 70, "negativity": 0.30000000000000004, "source_weight": 1.0}),
            assignee: None,
            crisis_type: None,
            drill: false,
            brand: None,
        };
        let timeline = chained(&[
            (
                "09:00",
                "system",
                "opened",
                serde_json::json!({"rule": "food-safety", "level": "medium", "score": 70, "policy": "default"}),
            ),
            (
                "09:01",
                "system",
                "notified",
                serde_json::json!({"channel": "email", "type": "incident.opened", "attempt": 1, "result": "delivered", "detail": "250 OK"}),
            ),
            (
                "09:06",
                "system",
                "mentions_attached",
                serde_json::json!({"count": 2, "mention_ids": [3, 4], "mentions": [
                    {"id": 3, "feed": "news", "title": "<script>alert(1)</script>", "url": "javascript:alert(1)"},
                    {"id": 4, "feed": "weibo", "title": "转发", "url": null},
                ]}),
            ),
            (
                "09:10",
                "system",
                "escalated",
                serde_json::json!({"level": 1, "channels": ["dingtalk", "sms"], "type": "incident.escalated"}),
            ),
            ("09:12", "alice", "acknowledged", serde_json::json!({"from": "open", "to": "acknowledged"})),
            ("09:41", "system", "level_changed", serde_json::json!({"from": "medium", "to": "high", "score": 81})),
            ("15:30", "alice", "resolved", serde_json::json!({"from": "acknowledged", "to": "resolved"})),
        ]);
        let playbook = Playbook {
            crisis_type: "product_quality".to_owned(),
            title: "Product quality complaint".to_owned(),
            title_zh: None,
            strategy: Some("Corrective action: recall and compensate.".to_owned()),
            strategy_zh: None,
            steps: vec![
                Step {
                    title_zh: Some("核实事实与信息来源".to_owned()),
                    ..step("confirm-facts", "Confirm the facts", 30, false)
                },
                step("hold-batches", "Hold the affected batches", 60, false),
                step("publish-statement", "Publish the official statement", 120, true),
                step("respond-affected", "Respond to affected customers", 8 * 60, false),
                step("post-incident-review", "Post-incident summary", 7 * 24 * 60, false),
            ],
        };
        let done = |step: &str, actor: &str, time: &str, note: Option<&str>| StepDone {
            step: step.to_owned(),
            actor: actor.to_owned(),
            at: at(time),
            note: note.map(str::to_owned),
        };
        ReviewInput {
            incident,
            timeline: timeline.clone(),
            mentions,
            playbook: Some(playbook),
            steps_done: vec![
                done("confirm-facts", "alice", "09:20", None),
                done("publish-statement", "bob", "10:40", Some("Posted on Weibo and the website")),
                // Done twice: the first completion counts.
                done("publish-statement", "carol", "10:55", None),
                done("hold-batches", "carol", "11:30", None),
                done("call-regulator", "dave", "12:00", Some("Called the market regulator")),
            ],
            notifications: vec![
                NotificationOutcome {
                    channel: "email".to_owned(),
                    kind: NoticeKind::Opened,
                    attempts: 1,
                    result: Delivery::Delivered,
                    detail: Some("250 OK".to_owned()),
                },
                NotificationOutcome {
                    channel: "ops-webhook".to_owned(),
                    kind: NoticeKind::Opened,
                    attempts: 5,
                    result: Delivery::Failed,
                    detail: Some("HTTP 500 <html>".to_owned()),
                },
                NotificationOutcome {
                    channel: "dingtalk".to_owned(),
                    kind: NoticeKind::LevelChanged,
                    attempts: 2,
                    result: Delivery::Retrying,
                    detail: Some("timeout".to_owned()),
                },
            ],
            chain: ChainStatus::of(&timeline),
        }
    }

    fn now() -> DateTime<Utc> {
        at_on("2026-03-03", "12:00")
    }

    #[test]
    fn the_review_measures_how_fast_the_team_moved() {
        let review = Review::build(scripted(), now());
        let t = &review.times;
        let minutes = |e: Option<Elapsed>| e.map(|e| e.0.num_minutes());
        assert_eq!(minutes(t.to_detect), Some(25));
        assert_eq!(minutes(t.to_acknowledge), Some(12));
        assert_eq!(minutes(t.to_statement), Some(100));
        assert_eq!(minutes(t.to_resolve), Some(390));
        assert_eq!(t.to_statement.map(|e| e.to_string()).as_deref(), Some("1h 40m"));
        assert_eq!(t.to_resolve.map(|e| e.to_string()).as_deref(), Some("6h 30m"));
        assert_eq!(review.chain, ChainStatus::Verified);
    }

    #[test]
    fn a_seven_hour_incident_is_charted_in_quarter_hours() {
        let chart = Review::build(scripted(), now()).chart;
        // 08:35 to 15:30 is 84 five-minute buckets, too many; quarter hours from 08:30 fit.
        assert_eq!(chart.bucket.to_string(), "15m");
        assert_eq!(chart.buckets.len(), 29);
        assert_eq!(chart.buckets[0].start, at("08:30"));
        assert_eq!(chart.buckets[28].start, at("15:30"));
        let volumes: u32 = chart.buckets.iter().map(|b| b.volume).sum();
        assert_eq!(volumes, 8);
        assert_eq!((chart.buckets[0].volume, chart.buckets[0].mean_sentiment), (1, Some(-0.6)));
        // The mention without a published time sits where it was attached (10:12), with no sentiment.
        assert_eq!((chart.buckets[6].start, chart.buckets[6].volume), (at("10:00"), 1));
        assert_eq!(chart.buckets[6].mean_sentiment, None);
    }

    #[test]
    fn bucket_sizes_keep_the_chart_near_sixty_bars() {
        let start = at("00:07");
        let size_for = |span: Duration| {
            let (size, aligned, count) = bucket_size(start, start + span);
            assert!(count <= MAX_BUCKETS + 1, "{span}: {count} buckets");
            assert!(aligned <= start);
            Elapsed(Duration::seconds(size)).to_string()
        };
        assert_eq!(size_for(Duration::minutes(40)), "5m");
        assert_eq!(size_for(Duration::hours(3)), "5m");
        assert_eq!(size_for(Duration::hours(6)), "15m");
        assert_eq!(size_for(Duration::hours(40)), "1h");
        assert_eq!(size_for(Duration::days(10)), "6h");
        assert_eq!(size_for(Duration::days(45)), "1d");
        assert_eq!(size_for(Duration::days(200)), "4d");
    }

    #[test]
    fn the_statement_splits_volume_and_sentiment() {
        let effect = Review::build(scripted(), now()).statement.expect("statement done");
        assert_eq!(effect.at, at("10:40"));
        let (before, after) = (&effect.before, &effect.after);
        assert_eq!(
            (before.from, before.to, after.from, after.to),
            (at("08:35"), at("10:40"), at("10:40"), at("15:30"))
        );
        assert_eq!(before.volume, 5);
        // 5 mentions in 2h 5m; the four with sentiment average -0.65.
        assert_eq!(before.per_hour, Some(2.4));
        assert_eq!(before.mean_sentiment, Some(-0.65));
        assert_eq!(after.volume, 3);
        assert_eq!(after.per_hour, Some(0.621));
        assert_eq!(after.mean_sentiment, Some(0.067));
    }

    #[test]
    fn steps_show_who_and_when_and_which_are_overdue() {
        let steps = Review::build(scripted(), now()).playbook.steps;
        let shown: Vec<(&str, Option<&str>, bool)> =
            steps.iter().map(|s| (s.id.as_str(), s.actor.as_deref(), s.overdue)).collect();
        assert_eq!(
            shown,
            vec![
                ("confirm-facts", Some("alice"), false),
                // Due 10:00, done 11:30.
                ("hold-batches", Some("carol"), true),
                ("publish-statement", Some("bob"), false),
                // Due 17:00, not done by the next day.
                ("respond-affected", None, true),
                // Due in a week.
                ("post-incident-review", None, false),
                // Not in the playbook, kept all the same.
                ("call-regulator", Some("dave"), false),
            ]
        );
        assert_eq!(steps[0].due_at, Some(at("09:30")));
    }

    #[test]
    fn top_mentions_are_the_riskiest_ten() {
        let mut input = scripted();
        let extra = (0..10).map(|n| mention(Some("12:00"), "12:00", 10 + n, Some(0.0), "minor"));
        input.mentions.extend(extra);
        let top: Vec<u8> = Review::build(input, now()).top_mentions.iter().map(|m| m.risk).collect();
        assert_eq!(top, vec![81, 75, 70, 66, 62, 55, 40, 35, 19, 18]);
    }

    #[test]
    fn feed_text_cannot_inject_markup() {
        let review = Review::build(scripted(), now());
        let html = review.to_html();
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
        assert!(!html.to_lowercase().contains("<script"), "{html}");
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(html.contains("HTTP 500 &lt;html&gt;"));
        // Self-contained: nothing is loaded from elsewhere.
        assert!(!html.contains(" src="), "{html}");
        assert!(html.contains("<svg"));
        let md = review.to_markdown();
        assert!(md.contains("&lt;script&gt;alert\\(1\\)&lt;/script&gt;"), "{md}");
        assert!(!md.contains("<script"), "{md}");
        assert!(!md.contains("](javascript"), "{md}");
        assert!(md.contains("Acme recall? \\[click\\]\\(http://evil.example\\) \\*now\\*"), "{md}");
        // A `|` in a title stays inside its table cell.
        assert!(md.contains("Acme silent on yogurt complaints \\| day 1"), "{md}");
        assert!(md.contains("[Acme pulls yogurt batch, offers refunds](<https://news.example/55>)"), "{md}");
    }

    #[test]
    fn an_altered_timeline_is_shown_as_broken() {
        let mut input = scripted();
        input.timeline[2].stored.details = r#"{"title":"nothing to see"}"#.to_owned();
        input.chain = ChainStatus::of(&input.timeline);
        let review = Review::build(input, now());
        let reason = timeline::Break::Altered.describe();
        assert_eq!(review.chain, ChainStatus::Broken { first_broken_event: 102, reason });
        assert!(review.to_markdown().contains("TIMELINE HASH CHAIN BROKEN at event #102: its stored"));
        assert!(review.to_html().contains("class=\"broken\""));
        let json: Value = serde_json::from_str(&review.to_json().expect("json")).expect("valid json");
        assert_eq!(json["chain"], serde_json::json!({"status": "broken", "first_broken_event": 102, "reason": reason}));
    }

    #[test]
    fn an_incident_without_playbook_or_statement_still_reviews() {
        let mut input = scripted();
        input.playbook = None;
        input.steps_done.clear();
        input.mentions.clear();
        let review = Review::build(input, now());
        assert_eq!(review.statement, None);
        assert_eq!(review.times.to_statement, None);
        assert!(review.chart.buckets.iter().all(|b| b.volume == 0));
        let md = review.to_markdown();
        assert!(md.contains("No official statement has been recorded."), "{md}");
        assert!(md.contains("No playbook covers this incident's crisis type."), "{md}");
    }

    #[test]
    fn durations_read_like_people_say_them() {
        let shown = |secs: i64| Elapsed(Duration::seconds(secs)).to_string();
        assert_eq!(shown(0), "0s");
        assert_eq!(shown(45), "45s");
        assert_eq!(shown(250), "4m 10s");
        assert_eq!(shown(7500), "2h 5m");
        assert_eq!(shown(7200), "2h");
        assert_eq!(shown(86_400 + 3 * 3600 + 59), "1d 3h");
        assert_eq!(shown(-1500), "-25m");
    }

    /// Compares `rendered` with the golden file, or rewrites it when `TOCSIN_BLESS=1`.
    fn golden(name: &str, rendered: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
        if std::env::var("TOCSIN_BLESS").is_ok_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().expect("golden folder")).expect("create golden folder");
            std::fs::write(&path, rendered).expect("write golden file");
            return;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with TOCSIN_BLESS=1 to write it)", path.display()));
        assert!(
            expected == rendered,
            "{} differs from the rendered review; run with TOCSIN_BLESS=1 if the change is intended",
            path.display()
        );
    }

    #[test]
    fn golden_markdown() {
        golden("review.md", &Review::build(scripted(), now()).to_markdown());
    }

    #[test]
    fn golden_html() {
        golden("review.html", &Review::build(scripted(), now()).to_html());
    }

    #[test]
    fn golden_json() {
        golden("review.json", &Review::build(scripted(), now()).to_json().expect("json"));
    }
}
