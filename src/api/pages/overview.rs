//! The overview the dashboard opens on: what is burning (open incidents), how much is being
//! said and how it reads, where and in which language, the day's stories, what is rising,
//! and the share of voice against competitors.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Session, Watch, charts, level_badge, live_page, status_name, tr, voice_table};
use crate::api::{ApiState, OverviewAsk, overview, share_of_voice};
use crate::figures::{Overview, Slice};
use crate::lang::Lang;
use crate::store::Store;

#[derive(Debug, Deserialize)]
pub(super) struct OverviewForm {
    period: Option<String>,
    brand: Option<String>,
    rule: Option<String>,
}

/// How long ago `since` was, in the reader's language: "3 h 20 min".
pub(super) fn age(lang: Lang, since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - since).num_minutes().max(0);
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (lang, days, hours) {
        (Lang::En, 0, 0) => format!("{minutes} min"),
        (Lang::En, 0, _) => format!("{hours} h {minutes} min"),
        (Lang::En, _, _) => format!("{days} d {hours} h"),
        (Lang::Zh, 0, 0) => format!("{minutes} 分钟"),
        (Lang::Zh, 0, _) => format!("{hours} 小时 {minutes} 分钟"),
        (Lang::Zh, _, _) => format!("{days} 天 {hours} 小时"),
    }
}

fn signed(value: Option<f64>) -> String {
    value.map_or("–".to_owned(), |v| format!("{v:+.2}"))
}

/// A share of the period's mentions as a table with a bar per row.
fn slice_table(lang: Lang, heading: &str, slices: &[Slice], total: i64, class: &str) -> Markup {
    html! {
        section class=(class) {
            h2 { (heading) }
            table.wide {
                tr {
                    th { (heading) } th { (tr(lang, "Mentions", "提及")) } th { (tr(lang, "Share", "占比")) }
                    th { (tr(lang, "Mean sentiment", "平均情感")) }
                }
                @for slice in slices {
                    @let share = if total > 0 { slice.mentions as f64 / total as f64 } else { 0.0 };
                    tr {
                        td data-label=(heading) { (slice.key) }
                        td.count data-label=(tr(lang, "Mentions", "提及")) { (slice.mentions) }
                        td data-label=(tr(lang, "Share", "占比")) {
                            span.share style={ "width:" (format!("{:.1}", share * 6.0)) "rem" } {} " "
                            (format!("{:.0}%", share * 100.0))
                        }
                        td data-label=(tr(lang, "Mean sentiment", "平均情感")) { (signed(slice.sentiment)) }
                    }
                }
            }
        }
    }
}

fn rising_kind(lang: Lang, kind: &str) -> &'static str {
    match kind {
        "rule" => tr(lang, "rule", "规则"),
        "source" => tr(lang, "source", "来源"),
        _ => tr(lang, "language", "语言"),
    }
}

/// The overview's body: every figure of `overview`, charts first.
fn overview_body(lang: Lang, overview: &Overview, now: DateTime<Utc>, links: &PeriodLinks<'_>) -> Markup {
    let window_minutes = overview.window_seconds / 60;
    html! {
        section.incidents {
            h2 { (tr(lang, "Open incidents", "未关闭的事件")) }
            @if overview.incidents.is_empty() {
                p { (tr(lang, "No open incident. Quiet is good.", "没有未关闭的事件。平静是好事。")) }
            }
            ul.open {
                @for incident in &overview.incidents {
                    li {
                        (level_badge(lang, incident)) " "
                        a href={ "/incidents/" (incident.id) } { (incident.title) } " "
                        small {
                            (status_name(lang, incident.status)) " · "
                            (tr(lang, "open for", "已持续")) " " (age(lang, incident.opened_at, now)) " · "
                            (incident.mentions) " " (tr(lang, "mentions", "条提及"))
                        }
                    }
                }
            }
        }
        p.periods {
            @for period in ["24h", "7d", "30d"] {
                @if period == overview.period { strong { (period) } " " } @else { a href=(links.href(period)) { (period) } " " }
            }
            @if let Some(rule) = links.rule { " · " (tr(lang, "rule", "规则")) " " code { (rule) } " " a href=(links.without_rule()) { (tr(lang, "all rules", "全部规则")) } }
        }
        p.totals {
            strong.total { (overview.mentions) } " " (tr(lang, "mentions", "条提及")) " · "
            (tr(lang, "mean sentiment", "平均情感")) " " strong { (signed(overview.sentiment)) }
            " · " (overview.from.format("%Y-%m-%d %H:%M")) " – " (overview.to.format("%Y-%m-%d %H:%M UTC"))
            @if overview.truncated { " · " em { (tr(lang, "only the newest mentions counted", "仅统计了最新的提及")) } }
        }
        section.charts {
            h2 { (tr(lang, "Volume", "声量")) }
            (charts::volume(lang, &overview.series, overview.bucket_seconds))
            h2 { (tr(lang, "Sentiment", "情感")) }
            (charts::sentiment(lang, &overview.series, overview.bucket_seconds))
            (charts::series_table(lang, &overview.series, overview.bucket_seconds))
            @if !overview.rules.is_empty() {
                h2 { (tr(lang, "Per rule", "按规则")) }
                (charts::rules(lang, &overview.rules, overview.bucket_seconds))
                p.rule-links {
                    @for rule in &overview.rules {
                        a href=(links.with_rule(&rule.rule)) { (tr(lang, "only", "只看")) " " (rule.rule) } " "
                    }
                }
            }
        }
        section.rising {
            h2 { (tr(lang, "Rising now", "正在上升")) }
            p { small {
                (tr(lang, "The last", "最近")) " " (window_minutes) " " (tr(lang, "minutes against the usual for as long a window earlier in the period.", "分钟，与本时段内同样长的窗口的常态相比。"))
            } }
            @if overview.rising.is_empty() { p { (tr(lang, "Nothing is rising.", "没有正在上升的内容。")) } }
            ul {
                @for rise in &overview.rising {
                    li {
                        (rising_kind(lang, &rise.kind)) " " strong { (rise.key) } ": "
                        @match lang {
                            Lang::En => { (rise.recent) " against " (format!("{:.1}", rise.usual)) " usual" }
                            Lang::Zh => { (rise.recent) "，常态 " (format!("{:.1}", rise.usual)) }
                        }
                    }
                }
            }
        }
        div.grid {
            (slice_table(lang, tr(lang, "Source", "来源"), &overview.sources, overview.mentions, "sources"))
            (slice_table(lang, tr(lang, "Language", "语言"), &overview.languages, overview.mentions, "languages"))
        }
        section.stories {
            h2 { (tr(lang, "Top stories", "热门话题")) }
            @if overview.stories.is_empty() { p { (tr(lang, "No mention in this period.", "本时段没有提及。")) } }
            ol {
                @for story in &overview.stories {
                    li.story {
                        strong { (story.headline) } br;
                        small {
                            (story.copies) " " (if story.copies == 1 { tr(lang, "copy", "篇") } else { tr(lang, "copies", "篇") }) " · "
                            (story.sources.join(", ")) " · "
                            (story.first_seen.format("%m-%d %H:%M")) " – " (story.last_seen.format("%m-%d %H:%M UTC")) " · "
                            (tr(lang, "sentiment", "情感")) " " (signed(story.sentiment))
                            @for rule in &story.rules { " · " a href={ "/rules/" (rule) } { (rule) } }
                        }
                    }
                }
            }
        }
    }
}

/// Links to the same overview at another period, or of one rule.
struct PeriodLinks<'a> {
    brand: Option<&'a str>,
    rule: Option<&'a str>,
    period: &'a str,
}

impl PeriodLinks<'_> {
    fn link(period: &str, brand: Option<&str>, rule: Option<&str>) -> String {
        let mut query = vec![("period", period)];
        query.extend(brand.map(|b| ("brand", b)));
        query.extend(rule.map(|r| ("rule", r)));
        format!("/?{}", serde_urlencoded::to_string(query).unwrap_or_default())
    }

    fn href(&self, period: &str) -> String {
        Self::link(period, self.brand, self.rule)
    }

    fn with_rule(&self, rule: &str) -> String {
        Self::link(self.period, self.brand, Some(rule))
    }

    fn without_rule(&self) -> String {
        Self::link(self.period, self.brand, None)
    }
}

/// `/`: the overview of the brands the session sees, or of the one the switcher picked.
pub(super) async fn overview_page<S: Store>(
    State(state): State<ApiState<S>>,
    session: Session,
    Query(form): Query<OverviewForm>,
) -> Response {
    let lang = session.lang;
    let now = state.clock.now();
    let period = form.period.as_deref().unwrap_or("24h");
    let brand = form.brand.as_deref().filter(|b| !b.is_empty());
    let rule = form.rule.as_deref().filter(|r| !r.is_empty());
    let asked = OverviewAsk { period, brand, rule };
    let figures = match overview(&state, &session.brands, &asked, now).await {
        Ok(figures) => figures,
        Err(e) => return e.into_response(),
    };
    let configured = &state.pipeline.config().brands;
    let voice = if configured.is_empty() {
        None
    } else {
        match share_of_voice(&state, &session.brands, period, now).await {
            Ok(voice) => Some(voice),
            Err(e) => return e.into_response(),
        }
    };
    let switchable: Vec<&str> = configured
        .iter()
        .filter(|b| !b.competitor && session.brands.sees(Some(b.name.get_ref())))
        .map(|b| b.name.get_ref().as_str())
        .collect();
    let links = PeriodLinks { brand, rule, period: &figures.period };
    live_page(
        &session,
        tr(lang, "Overview", "概览"),
        Watch::Overview,
        html! {
            h1 { (tr(lang, "Overview", "概览")) }
            @if !switchable.is_empty() {
                nav.brands {
                    (tr(lang, "Brand:", "品牌：")) " "
                    @if session.brands.limit().is_none() {
                        @if brand.is_none() { strong { (tr(lang, "all", "全部")) } " " }
                        @else { a href=(PeriodLinks::link(period, None, rule)) { (tr(lang, "all", "全部")) } " " }
                    }
                    @for name in &switchable {
                        @if Some(*name) == brand { strong { (name) } " " }
                        @else { a href=(PeriodLinks::link(period, Some(name), rule)) { (name) } " " }
                    }
                }
            }
            div data-live="overview" {
                (overview_body(lang, &figures, now, &links))
                @if let Some(voice) = &voice { (voice_table(lang, voice)) }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_both_languages() {
        let now = DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z").expect("time").to_utc();
        assert_eq!(age(Lang::En, now - chrono::Duration::minutes(7), now), "7 min");
        assert_eq!(age(Lang::En, now - chrono::Duration::minutes(200), now), "3 h 20 min");
        assert_eq!(age(Lang::Zh, now - chrono::Duration::hours(50), now), "2 天 2 小时");
    }
}
