//! The daily and weekly report (舆情日报/周报): what a period held for a brand: its
//! mentions and their sentiment, by source and language, the largest stories, what rose
//! against its baseline, and the incidents with how fast they were answered, in the
//! reader's language. `tocsin digest --period 24h` prints one.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::figures::{OVERVIEW_MENTIONS, Overview, UnknownPeriod, bucket_of, period_start, summarize};
use crate::incident::{Incident, Status};
use crate::lang::Lang;
use crate::store::{IncidentFilter, Store, StoreError};

/// Incidents a report lists at the most.
const REPORT_INCIDENTS: i64 = 100;
/// Stories, sources and languages a report lists.
const REPORT_TOP: usize = 5;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Period(#[from] UnknownPeriod),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A period's report.
#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    /// The brand it is about; `None`: every brand.
    pub brand: Option<String>,
    pub figures: Overview,
    /// The incidents opened in the period, and those opened before it still not resolved
    /// at its end, oldest first.
    pub incidents: Vec<Incident>,
}

/// The report of `period` (`24h`, `7d` or `30d`) ending at `to`, for `brand` or every
/// brand; `window` is the spike window "rising" compares.
pub async fn build<S: Store>(
    store: &S,
    period: &str,
    brand: Option<&str>,
    window: chrono::Duration,
    to: DateTime<Utc>,
) -> Result<Digest, DigestError> {
    let from = period_start(period, to)?;
    let brands = brand.map(|b| vec![b.to_owned()]);
    let rows = store.overview_rows(from, to, brands.as_deref(), OVERVIEW_MENTIONS).await?;
    let mut figures = summarize(&rows, from, to, bucket_of(period), window);
    figures.period = period.to_owned();
    figures.truncated = rows.len() >= usize::try_from(OVERVIEW_MENTIONS).unwrap_or(usize::MAX);
    let within = IncidentFilter {
        since: Some(from),
        until: Some(to),
        limit: REPORT_INCIDENTS,
        brands: brands.clone(),
        ..IncidentFilter::default()
    };
    let mut incidents = store.incidents(&within).await?;
    for status in [Status::Open, Status::Acknowledged] {
        let live = IncidentFilter {
            status: Some(status),
            limit: REPORT_INCIDENTS,
            brands: brands.clone(),
            ..IncidentFilter::default()
        };
        for incident in store.incidents(&live).await? {
            if incident.opened_at < from && !incidents.iter().any(|i| i.id == incident.id) {
                incidents.push(incident);
            }
        }
    }
    incidents.sort_by_key(|i| (i.opened_at, i.id));
    Ok(Digest { brand: brand.map(str::to_owned), figures, incidents })
}

impl Digest {
    /// The report as plain text in `lang`.
    pub fn to_text(&self, lang: Lang) -> String {
        let f = &self.figures;
        let t = |en, zh| lang.pick(en, zh);
        let when = |at: DateTime<Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
        let sentiment = |s: Option<f64>| s.map_or("–".to_owned(), |s| format!("{s:+.2}"));
        let (colon, comma) = (t(": ", "："), t(", ", "，"));
        let mut out = String::new();
        let kind = match f.period.as_str() {
            "24h" => t("Daily report", "舆情日报"),
            "7d" => t("Weekly report", "舆情周报"),
            _ => t("Monthly report", "舆情月报"),
        };
        let about = self.brand.as_deref().map(|b| format!(" · {b}")).unwrap_or_default();
        // Writing into a String cannot fail, so the fmt::Results below are safely ignored.
        let _ = writeln!(out, "{kind}{about}{colon}{} → {}", when(f.from), when(f.to));
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}{}{}{}",
            t("Mentions: ", "提及："),
            f.mentions,
            t(", mean sentiment ", "，平均情绪 "),
            sentiment(f.sentiment)
        );
        if f.truncated {
            let _ = writeln!(
                out,
                "{}",
                t("(the period held more mentions than one report counts)", "（本期提及数超出单份报告的统计上限）")
            );
        }
        for (title, slices) in [(t("By source", "按来源"), &f.sources), (t("By language", "按语言"), &f.languages)]
        {
            let listed: Vec<String> = slices
                .iter()
                .take(REPORT_TOP)
                .map(|s| format!("{} {} ({})", s.key, s.mentions, sentiment(s.sentiment)))
                .collect();
            if !listed.is_empty() {
                let _ = writeln!(out, "{title}{colon}{}", listed.join(comma));
            }
        }
        if !f.stories.is_empty() {
            let _ = writeln!(out, "\n{}", t("Top stories", "热点报道"));
            for (n, story) in f.stories.iter().take(REPORT_TOP).enumerate() {
                let copies = match lang {
                    Lang::En => format!("{} copies from {}", story.copies, story.sources.join(", ")),
                    Lang::Zh => format!("{} 条，来源 {}", story.copies, story.sources.join(", ")),
                };
                let _ = writeln!(
                    out,
                    "{}. {} — {copies}{comma}{} {}",
                    n + 1,
                    story.headline,
                    t("sentiment", "情绪"),
                    sentiment(story.sentiment)
                );
            }
        }
        if !f.rising.is_empty() {
            let _ = writeln!(out, "\n{}", t("Rising at the end of the period", "本期末正在上升"));
            for rise in &f.rising {
                let said = match lang {
                    Lang::En => format!(
                        "{} {}: {} in the last window, usually {:.1}",
                        rise.kind, rise.key, rise.recent, rise.usual
                    ),
                    Lang::Zh => {
                        let kind = match rise.kind.as_str() {
                            "rule" => "规则",
                            "source" => "来源",
                            "language" => "语言",
                            other => other,
                        };
                        format!("{kind} {}：最近窗口 {} 条，通常 {:.1} 条", rise.key, rise.recent, rise.usual)
                    }
                };
                let _ = writeln!(out, "- {said}");
            }
        }
        let _ = writeln!(out, "\n{}{}", t("Incidents: ", "事件："), self.incidents.len());
        for incident in &self.incidents {
            let answered = match (incident.acknowledged_at, incident.resolved_at) {
                (_, Some(at)) => {
                    format!("{}{}", t("resolved after ", "解决用时 "), span(at - incident.opened_at, lang))
                }
                (Some(at), None) => {
                    format!("{}{}", t("acknowledged after ", "确认用时 "), span(at - incident.opened_at, lang))
                }
                (None, None) => t("not acknowledged", "尚未确认").to_owned(),
            };
            let _ = writeln!(
                out,
                "- #{} [{}] {} · {} {} · {answered}",
                incident.id,
                incident.level.as_str(),
                incident.title,
                t("opened", "开启"),
                when(incident.opened_at)
            );
        }
        out
    }
}

/// A duration as a reader says it: minutes, or hours and minutes, or days and hours.
fn span(d: chrono::Duration, lang: Lang) -> String {
    let minutes = d.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (lang, days, hours) {
        (Lang::En, 0, 0) => format!("{mins} min"),
        (Lang::En, 0, h) => format!("{h} h {mins} min"),
        (Lang::En, d, h) => format!("{d} d {h} h"),
        (Lang::Zh, 0, 0) => format!("{mins} 分钟"),
        (Lang::Zh, 0, h) => format!("{h} 小时 {mins} 分钟"),
        (Lang::Zh, d, h) => format!("{d} 天 {h} 小时"),
    }
}
