//! The dashboard's mention triage and rule-quality pages.

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::super::quality::{escalate, give_verdict, quality_of};
use super::super::{ApiError, ApiState, Role, period_start};
use super::{Session, app_page, error_page, forged, tr};
use crate::store::{MentionFilter, Store, Verdict};

/// Mentions listed per page.
const MENTIONS_PER_PAGE: i64 = 50;

fn api_error_page(error: ApiError) -> Response {
    error_page(error.status, &error.message)
}

/// The mention page's search and filters, as the form sends them (empty fields are unset).
#[derive(Debug, Default, Deserialize)]
pub(super) struct MentionSearch {
    q: Option<String>,
    rule: Option<String>,
    feed: Option<String>,
    lang: Option<String>,
    /// `negative` (below −0.05), `neutral` or `positive` (above 0.05).
    sentiment: Option<String>,
    /// Least risk, 0–100.
    risk: Option<String>,
    /// `24h`, `7d` or `30d`.
    period: Option<String>,
    cursor: Option<i64>,
}

fn set(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Search, filters and triage over stored mentions, newest first: each with its risk, its
/// rules and the why, and buttons to mark it relevant or not relevant.
pub(super) async fn mentions_page<S: Store>(
    State(state): State<ApiState<S>>,
    session: Session,
    Query(search): Query<MentionSearch>,
) -> Response {
    let lang = session.lang;
    let now = state.clock.now();
    let since = match set(&search.period).map(|period| period_start(period, now)).transpose() {
        Ok(since) => since,
        Err(e) => return api_error_page(e),
    };
    let least_risk = match set(&search.risk).map(str::parse::<u8>) {
        None => 0,
        Some(Ok(risk)) if risk <= 100 => risk,
        Some(_) => return error_page(StatusCode::BAD_REQUEST, "risk is a number from 0 to 100"),
    };
    let tone = set(&search.sentiment);
    if tone.is_some_and(|t| !["negative", "neutral", "positive"].contains(&t)) {
        return error_page(StatusCode::BAD_REQUEST, "sentiment is negative, neutral or positive");
    }
    // The store filters by text, rule, feed and time; language, tone and risk are read off
    // the page's rows, so a page may hold fewer than its size.
    let filter = MentionFilter {
        text: set(&search.q).map(str::to_owned),
        rule: set(&search.rule).map(str::to_owned),
        feed: set(&search.feed).map(str::to_owned),
        since,
        before_id: search.cursor,
        limit: MENTIONS_PER_PAGE,
        brands: session.brands.narrowed(None),
        ..MentionFilter::default()
    };
    let found = match state.store.mentions(&filter).await {
        Ok(found) => found,
        Err(e) => return api_error_page(e.into()),
    };
    let next = (found.len() as i64 == MENTIONS_PER_PAGE).then(|| found.last().map(|m| m.id)).flatten();
    let wanted_lang = set(&search.lang);
    let shown: Vec<_> = found
        .iter()
        .filter(|m| wanted_lang.is_none_or(|l| m.lang.as_deref() == Some(l)))
        .filter(|m| m.risk >= least_risk)
        .filter(|m| match (tone, m.sentiment) {
            (None, _) => true,
            (Some("negative"), Some(s)) => s < -0.05,
            (Some("positive"), Some(s)) => s > 0.05,
            (Some("neutral"), Some(s)) => (-0.05..=0.05).contains(&s),
            _ => false,
        })
        .collect();
    let rules: Vec<String> = state.pipeline.rules().rules().iter().map(|r| r.id.clone()).collect();
    let value = |field: &Option<String>| set(field).unwrap_or("").to_owned();
    let may_triage = session.may(Role::Responder);
    let next_href = next.map(|cursor| {
        let mut pairs: Vec<(&str, String)> = [
            ("q", &search.q),
            ("rule", &search.rule),
            ("feed", &search.feed),
            ("lang", &search.lang),
            ("sentiment", &search.sentiment),
            ("risk", &search.risk),
            ("period", &search.period),
        ]
        .into_iter()
        .filter_map(|(key, field)| Some((key, set(field)?.to_owned())))
        .collect();
        pairs.push(("cursor", cursor.to_string()));
        format!("/mentions?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    });
    app_page(
        &session,
        tr(lang, "Mentions", "提及"),
        html! {
            h1 { (tr(lang, "Mentions", "提及")) }
            form.search method="get" action="/mentions" {
                label { (tr(lang, "Search", "搜索")) " " input type="search" name="q" value=(value(&search.q)); } " "
                label { (tr(lang, "Rule", "规则")) " "
                    select name="rule" {
                        option value="" { (tr(lang, "any", "全部")) }
                        @for rule in &rules {
                            option value=(rule) selected[set(&search.rule) == Some(rule.as_str())] { (rule) }
                        }
                    }
                } " "
                label { (tr(lang, "Source", "来源")) " " input type="text" name="feed" size="12" value=(value(&search.feed)); } " "
                label { (tr(lang, "Language", "语言")) " "
                    select name="lang" {
                        option value="" { (tr(lang, "any", "全部")) }
                        option value="en" selected[wanted_lang == Some("en")] { "English" }
                        option value="zh" selected[wanted_lang == Some("zh")] { "中文" }
                    }
                } " "
                label { (tr(lang, "Sentiment", "情绪")) " "
                    select name="sentiment" {
                        option value="" { (tr(lang, "any", "全部")) }
                        option value="negative" selected[tone == Some("negative")] { (tr(lang, "negative", "负面")) }
                        option value="neutral" selected[tone == Some("neutral")] { (tr(lang, "neutral", "中性")) }
                        option value="positive" selected[tone == Some("positive")] { (tr(lang, "positive", "正面")) }
                    }
                } " "
                label { (tr(lang, "Risk at least", "风险不低于")) " " input type="number" name="risk" min="0" max="100" size="4" value=(value(&search.risk)); } " "
                label { (tr(lang, "Period", "时段")) " "
                    select name="period" {
                        option value="" { (tr(lang, "any", "全部")) }
                        @for period in ["24h", "7d", "30d"] {
                            option value=(period) selected[set(&search.period) == Some(period)] { (period) }
                        }
                    }
                } " "
                button { (tr(lang, "Find", "查找")) }
            }
            @if shown.is_empty() { p { (tr(lang, "No mention matches.", "没有符合条件的提及。")) } }
            ol.mentions {
                @for mention in &shown {
                    li.mention id={ "mention-" (mention.id) } {
                        strong { (mention.title) } " "
                        small {
                            (tr(lang, "risk", "风险")) " " (mention.risk)
                            " · " (mention.feed)
                            @if let Some(l) = &mention.lang { " · " (l) }
                            @if let Some(s) = mention.sentiment { " · " (tr(lang, "sentiment", "情绪")) " " (format!("{s:+.2}")) }
                            " · " (mention.fetched_at.format("%Y-%m-%d %H:%M UTC"))
                        }
                        @if !mention.body.is_empty() && mention.body != mention.title {
                            p { (mention.body.chars().take(400).collect::<String>()) }
                        }
                        p.rules {
                            @for rule in &mention.rules {
                                a href={ "/rules/" (rule) } { (rule) } " "
                            }
                            @if let Some(why) = mention.breakdown.get("rule").and_then(|r| r.as_str()) {
                                small { (tr(lang, "scored by", "评分规则")) " " (why) }
                            }
                        }
                        p.triage {
                            @match mention.triage {
                                Some(Verdict::Relevant) => { strong.verdict { (tr(lang, "Marked relevant", "已标记：相关")) } " " }
                                Some(Verdict::NotRelevant) => { strong.verdict { (tr(lang, "Marked not relevant", "已标记：不相关")) } " " }
                                None => {}
                            }
                            @if may_triage && !mention.rules.is_empty() {
                                form.inline method="post" action={ "/mentions/" (mention.id) "/triage" } {
                                    (session.field())
                                    input type="hidden" name="verdict" value="relevant";
                                    button { (tr(lang, "Relevant", "相关")) }
                                }
                                form.inline method="post" action={ "/mentions/" (mention.id) "/triage" } {
                                    (session.field())
                                    input type="hidden" name="verdict" value="not_relevant";
                                    button { (tr(lang, "Not relevant", "不相关")) }
                                }
                            }
                            @if may_triage {
                                form.inline method="post" action={ "/mentions/" (mention.id) "/escalate" } {
                                    (session.field())
                                    button { (tr(lang, "Escalate to incident", "升级为事件")) }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(href) = next_href { p { a href=(href) { (tr(lang, "Older", "更早")) } } }
        },
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct TriageForm {
    csrf: Option<String>,
    verdict: String,
}

/// A triage button: records the verdict and returns to the mention in the list.
pub(super) async fn triage_form<S: Store>(
    State(state): State<ApiState<S>>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<TriageForm>,
) -> Response {
    if !session.accepts(&state, form.csrf.as_deref()) {
        return forged();
    }
    if let Some(refused) = session.refuses(Role::Responder) {
        return refused;
    }
    let Some(verdict) = Verdict::parse(&form.verdict) else {
        return error_page(StatusCode::BAD_REQUEST, "verdict is relevant or not_relevant");
    };
    match give_verdict(&state, &session.brands, &session.actor, id, verdict).await {
        Ok(_) => Redirect::to(&format!("/mentions#mention-{id}")).into_response(),
        Err(e) => api_error_page(e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct EscalateForm {
    csrf: Option<String>,
}

/// The escalate button: opens or joins the incident, and shows it.
pub(super) async fn escalate_form<S: Store>(
    State(state): State<ApiState<S>>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<EscalateForm>,
) -> Response {
    if !session.accepts(&state, form.csrf.as_deref()) {
        return forged();
    }
    if let Some(refused) = session.refuses(Role::Responder) {
        return refused;
    }
    match escalate(&state, &session.brands, &session.actor, id).await {
        Ok(escalated) => Redirect::to(&format!("/incidents/{}", escalated.incident.id)).into_response(),
        Err(e) => api_error_page(e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct PeriodQuery {
    period: Option<String>,
}

/// A rule's quality: matches, verdicts, the terms behind false positives, and the verdicts
/// as `[[rule.example]]` blocks to paste into the rule file.
pub(super) async fn rule_page<S: Store>(
    State(state): State<ApiState<S>>,
    session: Session,
    Path(rule): Path<String>,
    Query(query): Query<PeriodQuery>,
) -> Response {
    let lang = session.lang;
    let period = query.period.as_deref().unwrap_or("7d");
    let quality = match quality_of(&state, &session.brands, &rule, period).await {
        Ok(quality) => quality,
        Err(e) => return api_error_page(e),
    };
    let share = quality.not_relevant_share.map_or("–".to_owned(), |s| format!("{:.0}%", s * 100.0));
    app_page(
        &session,
        &rule,
        html! {
            h1 { (tr(lang, "Rule", "规则")) " " code { (rule) } }
            p {
                @for p in ["24h", "7d", "30d"] {
                    @if p == period { strong { (p) } " " } @else { a href={ "/rules/" (rule) "?period=" (p) } { (p) } " " }
                }
                a href={ "/mentions?rule=" (rule) } { (tr(lang, "its mentions", "查看提及")) }
            }
            table.quality {
                tr { th { (tr(lang, "Matches", "命中")) } td.matches { (quality.matches) } }
                tr { th { (tr(lang, "Marked relevant", "标记为相关")) } td.relevant { (quality.relevant) } }
                tr { th { (tr(lang, "Marked not relevant", "标记为不相关")) } td.not-relevant { (quality.not_relevant) } }
                tr { th { (tr(lang, "Share not relevant", "不相关占比")) } td.share { (share) } }
            }
            h2 { (tr(lang, "Terms behind the matches", "命中背后的词")) }
            table.terms {
                tr {
                    th { (tr(lang, "Term", "词")) } th { (tr(lang, "Matches", "命中")) }
                    th { (tr(lang, "Relevant", "相关")) } th { (tr(lang, "Not relevant", "不相关")) }
                }
                @for term in &quality.terms {
                    tr { td { (term.term) } td { (term.matches) } td { (term.relevant) } td { (term.not_relevant) } }
                }
            }
            h2 { (tr(lang, "Examples for the rule file", "可加入规则文件的示例")) }
            @if quality.examples.is_empty() {
                p { (tr(lang, "No verdicts yet: mark mentions on the Mentions page.", "还没有标记：请在“提及”页标记。")) }
            } @else {
                p { (tr(lang, "Paste under the rule in its file; tocsin check then holds the rule to them.", "粘贴到规则文件中该规则之下；tocsin check 会据此检验规则。")) }
                pre.examples { (quality.examples) }
            }
        },
    )
}
