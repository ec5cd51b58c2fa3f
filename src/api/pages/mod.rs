//! The dashboard and the acknowledge-link pages: server-rendered HTML where every piece of
//! feed text goes through maud's escaping, under a strict Content-Security-Policy.

use axum::Router;
use axum::extract::{Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

mod charts;
mod mentions;
mod overview;
mod summary;

use super::auth::{ClientAddress, Credential, Refusal, authenticate, client_address, cookie, digest, open_session};
use super::{ApiState, BrandScope, Role, SESSION_COOKIE, SESSION_LIFETIME, ShareOfVoice, brand_refusal};
use crate::config::HumanDuration;
use crate::incident::present::{describe, group_by_story, kind_name, safe_href, why_lines};
use crate::incident::review::Review;
use crate::incident::silence::{NewSilence, Scope};
use crate::incident::timeline::{self, Event};
use crate::incident::{Action, Incident, Level, MentionSummary, Status};
use crate::lang::Lang;
use crate::store::{Checklist, Entry, IncidentFilter, Store, StoreError};

/// Only tocsin's own script file (the live updates), no inline script, nothing remote: a
/// mention that smuggles markup past escaping still cannot run or load anything.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; \
                   img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;overflow-wrap:anywhere}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}\
.critical{color:#fff;background:#b00020}.high{background:#f57c00}.medium{background:#ffd54f}.low{background:#e0e0e0}\
.level{padding:.1rem .4rem;border-radius:.2rem}button{margin-right:.5rem}pre{white-space:pre-wrap}\
form{margin:.4rem 0}button.primary{font-weight:bold;padding:.3rem 1rem}\
form.update textarea{display:block;width:100%;max-width:40rem;box-sizing:border-box;margin:.2rem 0}\
svg{max-width:100%;height:auto}svg.chart{width:100%;height:auto;max-width:48rem;display:block}.scroll{overflow-x:auto}\
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}\
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.8rem}.swatch{display:inline-block;width:.8rem;height:.8rem}\
.share{display:inline-block;height:.7rem;background:#0072b2;vertical-align:middle}\
.overdue{background:#fde0e0}.due{background:#fff4d6}.announce{border:2px solid #b00020;padding:.5rem;margin:.5rem 0}\
:focus-visible{outline:3px solid #0072b2;outline-offset:2px}\
@media (max-width:40rem){body{margin:.6rem}table.wide,table.wide tbody,table.wide tr,table.wide td{display:block;width:auto}\
table.wide tr:first-child{display:none}table.wide tr{border-bottom:1px solid #ccc;padding:.3rem 0}\
table.wide td{border:0;padding:.1rem 0}table.wide td[data-label]::before{content:attr(data-label) \": \";color:#555}}";

pub fn routes<S: Store>() -> Router<ApiState<S>> {
    Router::new()
        .route("/", get(overview::overview_page::<S>))
        .route("/incidents", get(incident_list::<S>))
        .route("/lang/{code}", get(set_lang))
        .route("/feeds", get(feeds_page::<S>))
        .route("/silences", get(silences_page::<S>).post(add_silence_form::<S>))
        .route("/silences/{id}/end", axum::routing::post(end_silence_form::<S>))
        .route("/login", get(login_page).post(login))
        .route(LIVE_SCRIPT_PATH.as_str(), get(live_script))
        .route("/logout", axum::routing::post(logout::<S>))
        .route("/incidents/{id}", get(incident_page::<S>))
        .route("/incidents/{id}/assign", axum::routing::post(assign_form::<S>))
        .route("/incidents/{id}/note", axum::routing::post(note_form::<S>))
        .route("/incidents/{id}/update", axum::routing::post(status_update_form::<S>))
        .route("/incidents/{id}/steps/{step}", axum::routing::post(step_form::<S>))
        .route("/incidents/{id}/{action}", axum::routing::post(incident_action::<S>))
        .route("/ack/{token}", get(ack_confirm::<S>).post(ack_by_link::<S>))
        .route("/mentions", get(mentions::mentions_page::<S>))
        .route("/mentions/{id}/triage", axum::routing::post(mentions::triage_form::<S>))
        .route("/mentions/{id}/escalate", axum::routing::post(mentions::escalate_form::<S>))
        .route("/rules/{id}", get(mentions::rule_page::<S>))
}

/// A logged-in dashboard user: who, and the form token their pages carry.
pub(super) struct Session {
    pub(super) actor: String,
    /// What the token may do: the pages offer only that, and the form posts check it.
    role: Role,
    /// The brands the token is limited to: the pages show nothing of another's.
    pub(super) brands: BrandScope,
    /// The UI language, from the `tocsin_lang` cookie (English by default).
    pub(super) lang: Lang,
    csrf: String,
    /// How the request said who it is: a browser's session, or a script's bearer token.
    credential: Credential,
}

impl<S: Store> FromRequestParts<ApiState<S>> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState<S>) -> Result<Self, Self::Rejection> {
        let to_login = || Redirect::to("/login").into_response();
        let credential = Credential::of(&parts.headers).ok_or_else(to_login)?;
        let holder =
            authenticate(state, &credential, client_address(parts)).await.map_err(|refusal| match refusal {
                Refusal::Unknown => to_login(),
                Refusal::Throttled(wait) => throttled_page(wait),
                Refusal::Failed(e) => store_error(e),
            })?;
        let lang =
            cookie(&parts.headers, LANG_COOKIE).map_or(Lang::En, |v| if v == "zh" { Lang::Zh } else { Lang::En });
        let csrf = state.csrf.token_for(credential.secret());
        Ok(Session { actor: holder.name, role: holder.role, brands: holder.brands, lang, csrf, credential })
    }
}

impl Session {
    /// Whether a form post carries this session's token; scripts with a bearer header need none.
    pub(super) fn accepts<S>(&self, state: &ApiState<S>, presented: Option<&str>) -> bool {
        match &self.credential {
            Credential::Bearer(_) => true,
            Credential::Session(id) => presented.is_some_and(|p| state.csrf.verify(id, p)),
        }
    }

    /// Whether the session's role reaches `role`.
    pub(super) fn may(&self, role: Role) -> bool {
        self.role >= role
    }

    /// `None` when the session may act as `role`, else the page that refuses it.
    pub(super) fn refuses(&self, role: Role) -> Option<Response> {
        (!self.may(role)).then(|| {
            let message = format!("this needs the {} role; {} is a {}", role.as_str(), self.actor, self.role.as_str());
            error_page(StatusCode::FORBIDDEN, &message)
        })
    }

    /// `None` when the session's brands take in the incident, else the page that refuses it.
    fn refuses_incident(&self, incident: &Incident) -> Option<Response> {
        brand_refusal(&self.brands, &self.actor, incident).map(|message| error_page(StatusCode::FORBIDDEN, &message))
    }

    /// Loads the incident for an action on it, refused when it is another brand's.
    async fn incident_for<S: Store>(&self, state: &ApiState<S>, id: i64) -> Result<Incident, Response> {
        let incident = match state.store.incident(id).await {
            Ok(Some(incident)) => incident,
            Ok(None) => return Err(store_error(StoreError::NoIncident(id))),
            Err(e) => return Err(store_error(e)),
        };
        match self.refuses_incident(&incident) {
            Some(refused) => Err(refused),
            None => Ok(incident),
        }
    }

    /// The hidden field every form of the session's pages carries.
    pub(super) fn field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }
}

/// Name of the cookie that keeps the dashboard's language.
const LANG_COOKIE: &str = "tocsin_lang";

/// The English or the Chinese text, by the session's language.
pub(super) fn tr(lang: Lang, en: &'static str, zh: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// Which changes on the live stream refresh a page's `data-live` parts (every logged-in
/// page announces a new critical incident whatever it watches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Watch {
    Nothing,
    Overview,
    Incidents,
    Incident(i64),
}

impl Watch {
    fn key(self) -> String {
        match self {
            Watch::Nothing => String::new(),
            Watch::Overview => "overview".to_owned(),
            Watch::Incidents => "incidents".to_owned(),
            Watch::Incident(id) => format!("incident:{id}"),
        }
    }
}

/// A page of the logged-in dashboard: the navigation, in the user's language.
pub(super) fn app_page(session: &Session, title: &str, body: Markup) -> Response {
    live_page(session, title, Watch::Nothing, body)
}

/// A logged-in page that updates itself: its `data-live` parts refresh on the changes it
/// watches, and new critical incidents are announced at the top.
pub(super) fn live_page(session: &Session, title: &str, watch: Watch, body: Markup) -> Response {
    let lang = session.lang;
    let nav = html! {
        nav {
            a href="/" { (tr(lang, "Overview", "概览")) } " · "
            a href="/incidents" { (tr(lang, "Incidents", "事件")) } " · "
            a href="/mentions" { (tr(lang, "Mentions", "提及")) } " · "
            a href="/feeds" { (tr(lang, "Feeds", "信息源")) } " · "
            a href="/silences" { (tr(lang, "Silences", "静默")) } " · "
            @match lang {
                Lang::En => a href="/lang/zh" { "中文" },
                Lang::Zh => a href="/lang/en" { "English" },
            }
            " · " small { (session.actor) " (" (session.role.as_str()) ")" }
            @if matches!(session.credential, Credential::Session(_)) {
                " " form.inline method="post" action="/logout" {
                    (session.field()) button { (tr(lang, "Log out", "退出登录")) }
                }
            }
        }
    };
    let content = html! {
        (nav)
        div #announcements role="status" aria-live="assertive" data-label=(tr(lang, "New critical incident", "新的严重事件")) {}
        main { (body) }
        script src=(LIVE_SCRIPT_PATH.as_str()) defer {}
    };
    document(lang, title, Some(&watch.key()), content)
}

/// Where the live script is served; its name carries a digest of its text, so a browser
/// never runs an older copy against a newer daemon.
static LIVE_SCRIPT_PATH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(LIVE_SCRIPT.as_bytes());
    let short: String = digest.iter().take(6).map(|byte| format!("{byte:02x}")).collect();
    format!("/static/live-{short}.js")
});

const LIVE_SCRIPT: &str = include_str!("live.js");

/// The live script, cached for good: its path changes with its text.
async fn live_script() -> Response {
    let mut response = LIVE_SCRIPT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

pub(super) fn forged() -> Response {
    error_page(StatusCode::FORBIDDEN, "this form is stale or did not come from tocsin: reload the page and try again")
}

fn page(title: &str, body: Markup) -> Response {
    document(Lang::En, title, None, body)
}

fn document(lang: Lang, title: &str, watch: Option<&str>, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang=(tr(lang, "en", "zh-CN")) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · tocsin" }
                style { (STYLE) }
            }
            body data-watch=[watch] { (body) }
        }
    };
    let mut response = axum::response::Html(markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The answer to an address with too many failed logins: 429, and when to come back.
fn throttled_page(wait: chrono::Duration) -> Response {
    let mut response =
        error_page(StatusCode::TOO_MANY_REQUESTS, "too many failed logins from this address; try again later");
    if let Ok(value) = HeaderValue::from_str(&wait.num_seconds().max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

pub(super) fn error_page(status: StatusCode, message: &str) -> Response {
    let mut response = page("Error", html! { h1 { "Error" } p { (message) } p { a href="/" { "Back" } } });
    *response.status_mut() = status;
    response
}

fn level_badge(lang: Lang, incident: &Incident) -> Markup {
    html! { span class={ "level " (incident.level.as_str()) } { (level_name(lang, incident.level)) } }
}

/// A link only for web URLs; anything else (`javascript:`, `data:`) is shown as inert text.
fn safe_link(url: &str, text: &str) -> Markup {
    html! {
        @match safe_href(url) {
            Some(href) => a href=(href) rel="noopener noreferrer nofollow" { (text) },
            None => { (text) " (" (url) ")" }
        }
    }
}

#[derive(Deserialize)]
struct IndexQuery {
    status: Option<String>,
    level: Option<String>,
    /// The brand switcher's choice.
    brand: Option<String>,
}

async fn incident_list<S: Store>(
    State(state): State<ApiState<S>>,
    session: Session,
    Query(query): Query<IndexQuery>,
) -> Response {
    let status = query.status.as_deref().and_then(Status::parse);
    let level = query.level.as_deref().and_then(Level::parse);
    let brand = query.brand.as_deref().filter(|b| !b.is_empty());
    let brands = session.brands.narrowed(brand);
    let filter = IncidentFilter { status, level, limit: 200, brands, ..IncidentFilter::default() };
    let incidents = match state.store.incidents(&filter).await {
        Ok(list) => list,
        Err(e) => return store_error(e),
    };
    let configured = &state.pipeline.config().brands;
    let lang = session.lang;
    let filter_link = |label: &'static str, href: String| html! { a href=(href) { (label) } " " };
    let switchable: Vec<&str> = configured
        .iter()
        .filter(|b| !b.competitor && session.brands.sees(Some(b.name.get_ref())))
        .map(|b| b.name.get_ref().as_str())
        .collect();
    live_page(
        &session,
        tr(lang, "Incidents", "事件"),
        Watch::Incidents,
        html! {
            @if !switchable.is_empty() {
                nav.brands {
                    (tr(lang, "Brand:", "品牌：")) " "
                    @if session.brands.limit().is_none() {
                        a href="/incidents" { (tr(lang, "all", "全部")) } " "
                    }
                    @for name in &switchable {
                        @if Some(*name) == brand { strong { (name) } " " } @else { a href={ "/incidents?brand=" (name) } { (name) } " " }
                    }
                }
            }
            h1 { (tr(lang, "Incidents", "事件")) }
            p {
                (filter_link(tr(lang, "all", "全部"), "/incidents".into()))
                @for s in [Status::Open, Status::Acknowledged, Status::Resolved] {
                    (filter_link(status_name(lang, s), format!("/incidents?status={}", s.as_str())))
                }
                " | "
                @for l in [Level::Critical, Level::High, Level::Medium, Level::Low] {
                    (filter_link(level_name(lang, l), format!("/incidents?level={}", l.as_str())))
                }
            }
            div data-live="incident-list" {
            table.wide {
                tr {
                    th { "#" } th { (tr(lang, "Status", "状态")) } th { (tr(lang, "Level", "级别")) }
                    th { (tr(lang, "Score", "分数")) } th { (tr(lang, "Rule", "规则")) }
                    @if !configured.is_empty() { th { (tr(lang, "Brand", "品牌")) } }
                    th { (tr(lang, "Title", "标题")) }
                    th { (tr(lang, "Opened", "开启时间")) } th { (tr(lang, "Mentions", "提及")) }
                }
                @for incident in &incidents {
                    tr {
                        td data-label="#" { a href={ "/incidents/" (incident.id) } { (incident.id) } }
                        td data-label=(tr(lang, "Status", "状态")) { (status_name(lang, incident.status)) }
                        td data-label=(tr(lang, "Level", "级别")) { (level_badge(lang, incident)) }
                        td data-label=(tr(lang, "Score", "分数")) { (incident.score) }
                        td data-label=(tr(lang, "Rule", "规则")) { (incident.rule) }
                        @if !configured.is_empty() { td data-label=(tr(lang, "Brand", "品牌")) { (incident.brand.as_deref().unwrap_or("–")) } }
                        td data-label=(tr(lang, "Title", "标题")) { a href={ "/incidents/" (incident.id) } { (incident.title) } }
                        td data-label=(tr(lang, "Opened", "开启时间")) { (incident.opened_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                        td data-label=(tr(lang, "Mentions", "提及")) { (incident.mentions) }
                    }
                }
            }
            @if incidents.is_empty() { p { (tr(lang, "No incidents. Quiet is good.", "没有事件。平静是好事。")) } }
            }
        },
    )
}

/// Share of voice: each brand's and competitor's volume, sentiment and top stories, side
/// by side, with links to the other periods.
fn voice_table(lang: Lang, voice: &ShareOfVoice) -> Markup {
    html! {
        h1 { (tr(lang, "Share of voice", "声量份额")) }
        p {
            @for period in ["24h", "7d", "30d"] {
                @if period == voice.period { strong { (period) } " " } @else { a href={ "/?period=" (period) } { (period) } " " }
            }
            small { (voice.from.format("%Y-%m-%d %H:%M")) " – " (voice.to.format("%Y-%m-%d %H:%M UTC")) }
        }
        table.voice {
            tr {
                th { (tr(lang, "Brand", "品牌")) } th { (tr(lang, "Mentions", "提及")) } th { (tr(lang, "Share", "份额")) }
                th { (tr(lang, "Mean sentiment", "平均情绪")) } th { (tr(lang, "Negative", "负面")) }
                th { (tr(lang, "Rule matches", "规则命中")) } th { (tr(lang, "Top stories", "热门报道")) }
            }
            @for row in &voice.brands {
                tr {
                    td {
                        (row.voice.brand)
                        @if row.competitor { " " small { (tr(lang, "(competitor)", "（竞争对手）")) } }
                    }
                    td { (row.voice.mentions) }
                    td { (format!("{:.0}%", row.share * 100.0)) }
                    td { (row.voice.sentiment.map_or("–".to_owned(), |s| format!("{s:+.2}"))) }
                    td { (row.voice.negative) }
                    td { (row.voice.matched) }
                    td {
                        @for story in &row.voice.top_stories {
                            (story.title) " ×" (story.mentions)
                            @if let Some(rule) = &story.rule { " " code { (rule) } }
                            br;
                        }
                    }
                }
            }
        }
    }
}

fn status_name(lang: Lang, status: Status) -> &'static str {
    match status {
        Status::Open => tr(lang, "open", "待处理"),
        Status::Acknowledged => tr(lang, "acknowledged", "已确认"),
        Status::Resolved => tr(lang, "resolved", "已解决"),
    }
}

fn level_name(lang: Lang, level: Level) -> &'static str {
    match level {
        Level::Critical => tr(lang, "critical", "严重"),
        Level::High => tr(lang, "high", "高"),
        Level::Medium => tr(lang, "medium", "中"),
        Level::Low => tr(lang, "low", "低"),
    }
}

/// Switches the dashboard's language and goes back to the incident list.
async fn set_lang(Path(code): Path<String>) -> Response {
    let lang = if code == "zh" { "zh" } else { "en" };
    let mut response = Redirect::to("/").into_response();
    let cookie = format!("{LANG_COOKIE}={lang}; SameSite=Strict; Path=/; Max-Age=31536000");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Feed health: when each feed last worked, what failed, when it polls next.
async fn feeds_page<S: Store>(State(state): State<ApiState<S>>, session: Session) -> Response {
    let feeds = match state.store.feed_states().await {
        Ok(feeds) => feeds
            .into_iter()
            .filter(|feed| {
                state.pipeline.is_configured_feed(&feed.name)
                    && session.brands.sees(state.pipeline.feed_brand(&feed.name))
            })
            .collect::<Vec<_>>(),
        Err(e) => return store_error(e),
    };
    let lang = session.lang;
    let time = |t: Option<DateTime<Utc>>| t.map_or("–".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string());
    app_page(
        &session,
        tr(lang, "Feeds", "信息源"),
        html! {
            meta http-equiv="refresh" content="60";
            h1 { (tr(lang, "Feeds", "信息源")) }
            table.wide {
                tr {
                    th { (tr(lang, "Feed", "信息源")) } th { (tr(lang, "Last success", "上次成功")) }
                    th { (tr(lang, "Failures in a row", "连续失败")) } th { (tr(lang, "Last error", "最近错误")) }
                    th { (tr(lang, "Next poll", "下次抓取")) } th { (tr(lang, "Items seen", "已见条目")) }
                    th { (tr(lang, "Recovered from", "已修复的问题")) }
                }
                @for feed in &feeds {
                    tr.(if feed.consecutive_failures > 0 { "failing" } else { "" }) {
                        td { strong { (feed.name) } br; small { (feed.url) } }
                        td data-label=(tr(lang, "Last success", "上次成功")) { (time(feed.last_success_at)) }
                        td data-label=(tr(lang, "Failures in a row", "连续失败")) { (feed.consecutive_failures) }
                        td data-label=(tr(lang, "Last error", "最近错误")) { (feed.last_error.as_deref().unwrap_or("")) }
                        td data-label=(tr(lang, "Next poll", "下次抓取")) { (time(feed.next_poll_at)) }
                        td data-label=(tr(lang, "Items seen", "已见条目")) { (feed.items_seen) }
                        td data-label=(tr(lang, "Recovered from", "已修复的问题")) { @for problem in &feed.problems { small { (problem) } br; } }
                    }
                }
            }
        },
    )
}

/// Silences in force, with a form to add one and a button to end each.
async fn silences_page<S: Store>(State(state): State<ApiState<S>>, session: Session) -> Response {
    let now = state.clock.now();
    let silences = match state.store.silences(Some(now)).await {
        Ok(silences) => silences
            .into_iter()
            .filter(|silence| silence.brand.is_none() || session.brands.sees(silence.brand.as_deref()))
            .collect::<Vec<_>>(),
        Err(e) => return store_error(e),
    };
    let lang = session.lang;
    app_page(
        &session,
        tr(lang, "Silences", "静默"),
        html! {
            h1 { (tr(lang, "Silences", "静默")) }
            p { (tr(lang, "Mentions a silence covers are stored and scored but open nothing and raise nothing.", "被静默覆盖的提及仍会保存和评分，但不会开启或升级事件。")) }
            table.wide {
                tr {
                    th { "#" } th { (tr(lang, "Covers", "范围")) } th { (tr(lang, "Until", "截止")) }
                    th { (tr(lang, "Held back", "已拦截")) } th { (tr(lang, "Reason", "原因")) } th {}
                }
                @for silence in &silences {
                    tr {
                        td data-label="#" { (silence.id) }
                        td data-label=(tr(lang, "Covers", "范围")) {
                            (match silence.scope {
                                Scope::Rule => tr(lang, "rule", "规则"),
                                Scope::Feed => tr(lang, "feed", "信息源"),
                                Scope::Tag => tr(lang, "tag", "标签"),
                                Scope::Query => tr(lang, "query", "查询"),
                            }) " " code { (silence.value) }
                            @if let Some(brand) = &silence.brand { " · " (brand) }
                        }
                        td data-label=(tr(lang, "Until", "截止")) { (silence.ends_at.format("%Y-%m-%d %H:%M UTC")) }
                        td data-label=(tr(lang, "Held back", "已拦截")) { (silence.held) }
                        td data-label=(tr(lang, "Reason", "原因")) { (silence.reason) br; small { (silence.created_by) } }
                        td {
                            @if session.may(Role::Admin) {
                                form method="post" action={ "/silences/" (silence.id) "/end" } {
                                    (session.field()) button { (tr(lang, "End now", "立即结束")) }
                                }
                            }
                        }
                    }
                }
            }
            @if session.may(Role::Admin) {
                h2 { (tr(lang, "Add a silence", "添加静默")) }
                form method="post" action="/silences" {
                    (session.field())
                    select name="scope" {
                        option value="rule" { (tr(lang, "rule", "规则")) }
                        option value="feed" { (tr(lang, "feed", "信息源")) }
                        option value="tag" { (tr(lang, "tag", "标签")) }
                        option value="query" { (tr(lang, "query", "查询")) }
                    }
                    " " input name="value" required maxlength="2000" placeholder="service-outage";
                    " " label { (tr(lang, "for", "时长")) " " input name="for" required value="2h" size="6"; }
                    " " input name="reason" required maxlength="2000" size="40" placeholder=(tr(lang, "why", "原因"));
                    @if !state.pipeline.config().brands.is_empty() {
                        " " select name="brand" {
                            @if session.brands.limit().is_none() { option value="" { (tr(lang, "every brand", "所有品牌")) } }
                            @for brand in &state.pipeline.config().brands {
                                @if !brand.competitor && session.brands.sees(Some(brand.name.get_ref())) {
                                    option value=(brand.name.get_ref()) { (brand.name.get_ref()) }
                                }
                            }
                        }
                    }
                    " " button { (tr(lang, "Silence", "静默")) }
                }
            }
        },
    )
}

#[derive(Deserialize)]
struct SilenceForm {
    scope: String,
    value: String,
    #[serde(rename = "for")]
    duration: String,
    reason: String,
    /// Only this brand's incidents (empty: every brand's).
    brand: Option<String>,
    csrf: Option<String>,
}

async fn add_silence_form<S: Store>(
    State(state): State<ApiState<S>>,
    session: Session,
    Form(form): Form<SilenceForm>,
) -> Response {
    if !session.accepts(&state, form.csrf.as_deref()) {
        return forged();
    }
    if let Some(refused) = session.refuses(Role::Admin) {
        return refused;
    }
    let Some(scope) = Scope::parse(&form.scope) else {
        return error_page(StatusCode::BAD_REQUEST, "scope is rule, feed, tag or query");
    };
    let length: HumanDuration = match form.duration.parse() {
        Ok(length) => length,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    let brand = form.brand.map(|b| b.trim().to_owned()).filter(|b| !b.is_empty());
    if let Some(refusal) = session.brands.silence_refusal(&session.actor, brand.as_deref()) {
        return error_page(StatusCode::FORBIDDEN, &refusal);
    }
    let now = state.clock.now();
    let silence = NewSilence {
        scope,
        value: form.value.trim().to_owned(),
        reason: form.reason.trim().to_owned(),
        created_by: session.actor.clone(),
        created_at: now,
        ends_at: now + length.chrono(),
        brand,
    };
    if let Err(e) = state.pipeline.check_silence(&silence) {
        return error_page(StatusCode::BAD_REQUEST, &e);
    }
    match state.store.add_silence(&silence).await {
        Ok(_) => Redirect::to("/silences").into_response(),
        Err(e) => store_error(e),
    }
}

async fn end_silence_form<S: Store>(
    State(state): State<ApiState<S>>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !session.accepts(&state, form.csrf.as_deref()) {
        return forged();
    }
    if let Some(refused) = session.refuses(Role::Admin) {
        return refused;
    }
    match state.store.silence(id).await {
        Ok(Some(silence)) => {
            if let Some(refusal) = session.brands.silence_refusal(&session.actor, silence.brand.as_deref()) {
                return error_page(StatusCode::FORBIDDEN, &refusal);
            }
        }
        Ok(None) => {}
        Err(e) => return store_error(e),
    }
    match state.store.end_silence(id, &session.actor, state.clock.now()).await {
        Ok(_) => Redirect::to("/silences").into_response(),
        Err(e) => store_error(e),
    }
}

fn store_error(error: StoreError) -> Response {
    match error {
        StoreError::NoIncident(_) => error_page(StatusCode::NOT_FOUND, &error.to_string()),
        StoreError::Transition(_) => error_page(StatusCode::CONFLICT, &error.to_string()),
        StoreError::Refused(_) => error_page(StatusCode::UNPROCESSABLE_ENTITY, &error.to_string()),
        StoreError::NoSilence(_) => error_page(StatusCode::NOT_FOUND, &error.to_string()),
        other => {
            tracing::error!(error = %other, "store error in dashboard");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the daemon log")
        }
    }
}

/// Mentions an incident page groups into stories: its riskiest, which is where the story
/// is told; the rest are counted.
const PAGE_MENTIONS: i64 = 200;

/// Copies listed under each story; the rest are counted.
const COPIES_LISTED: usize = 5;

/// The incident's mentions as stories: each near-duplicate cluster once, with its copies,
/// sources, first and last publication and mean sentiment, its riskiest copies below.
fn story_sections(lang: Lang, mentions: &[MentionSummary], total: i64) -> Markup {
    let stories = group_by_story(mentions);
    let shown = i64::try_from(mentions.len()).unwrap_or(i64::MAX);
    let when = |at: Option<DateTime<Utc>>| at.map(|t| t.format("%m-%d %H:%M UTC").to_string());
    html! {
        p {
            (match lang {
                Lang::En => format!("{} stories among the {} riskiest mentions", stories.len(), mentions.len()),
                Lang::Zh => format!("风险最高的 {} 条提及分属 {} 个事件线索", mentions.len(), stories.len()),
            })
            @if total > shown {
                (match lang {
                    Lang::En => format!(" (of {total})."),
                    Lang::Zh => format!("（共 {total} 条）。"),
                })
            } @else { (tr(lang, ".", "。")) }
        }
        @for story in &stories {
            section.story {
                h3 {
                    @match &story.lead().url {
                        Some(url) => { (safe_link(url, &story.lead().title)) }
                        None => { (story.lead().title) }
                    }
                }
                p.story-facts {
                    @let copies = story.mentions.len();
                    (match lang {
                        Lang::En if copies == 1 => "1 copy".to_owned(),
                        Lang::En => format!("{copies} copies"),
                        Lang::Zh => format!("{copies} 条"),
                    })
                    " · " (tr(lang, "sources ", "来源 ")) (story.sources.join(", "))
                    @if let (Some(first), Some(last)) = (when(story.first), when(story.last)) {
                        " · " (tr(lang, "published ", "发布 ")) (first)
                        @if first != last { " – " (last) }
                    }
                    @if let Some(sentiment) = story.sentiment {
                        " · " (tr(lang, "sentiment ", "情感 ")) (format!("{sentiment:+.2}"))
                    }
                    " · " (tr(lang, "risk up to ", "最高风险 ")) (story.lead().risk)
                }
                @let listed = story.mentions.len().min(COPIES_LISTED);
                (mention_rows(lang, &story.mentions[..listed]))
                @if story.mentions.len() > listed {
                    @let left = story.mentions.len() - listed;
                    p { small {
                        (match lang {
                            Lang::En => format!("… and {left} more copies"),
                            Lang::Zh => format!("……另有 {left} 条"),
                        })
                    } }
                }
            }
        }
    }
}

fn mention_rows(lang: Lang, mentions: &[&MentionSummary]) -> Markup {
    html! {
        table.wide {
            tr {
                th { (tr(lang, "Risk", "风险")) } th { (tr(lang, "Sentiment", "情感")) } th { (tr(lang, "Source", "来源")) }
                th { (tr(lang, "Mention", "提及")) } th { (tr(lang, "Terms", "命中词")) }
            }
            @for mention in mentions {
                tr {
                    td data-label=(tr(lang, "Risk", "风险")) { (mention.risk) }
                    td data-label=(tr(lang, "Sentiment", "情感")) {
                        @match (lang, mention.sentiment) {
                            (Lang::En, _) => (mention.sentiment_label()),
                            (Lang::Zh, Some(s)) => (format!("{s:+.2}")),
                            (Lang::Zh, None) => "–",
                        }
                    }
                    td data-label=(tr(lang, "Source", "来源")) { (mention.feed) }
                    td {
                        @match &mention.url {
                            Some(url) => { (safe_link(url, &mention.title)) }
                            None => { (mention.title) }
                        }
                        br;
                        small { (mention.excerpt) }
                    }
                    td data-label=(tr(lang, "Terms", "命中词")) { (mention.terms.join(", ")) }
                }
            }
        }
    }
}

/// Owner and notes: who runs the response, and what the team learns along the way.
fn workflow_forms(incident: &Incident, session: &Session) -> Markup {
    let id = incident.id;
    let lang = session.lang;
    html! {
        p {
            (tr(lang, "Owner: ", "负责人：")) strong { (incident.assignee.as_deref().unwrap_or(tr(lang, "nobody yet", "尚无"))) }
            @if incident.drill { " · " strong { (tr(lang, "DRILL", "演练")) } }
        }
        @if session.may(Role::Responder) {
            form method="post" action={ "/incidents/" (id) "/assign" } {
                (session.field())
                label { (tr(lang, "Assign to ", "指派给 ")) input name="to" required maxlength="200"; } " "
                button { (tr(lang, "Assign", "指派")) }
            }
            form method="post" action={ "/incidents/" (id) "/note" } {
                (session.field())
                label { (tr(lang, "Note ", "备注 ")) input name="text" required maxlength="10000" size="40"; } " "
                button { (tr(lang, "Add note", "添加备注")) }
            }
            form.update method="post" action={ "/incidents/" (id) "/update" } {
                (session.field())
                label for="status-update" {
                    (tr(lang, "Status update (sent to the incident's channels)", "状态通报（发送到本事件的通知渠道）"))
                }
                textarea id="status-update" name="text" required maxlength="2000" rows="3" {}
                button { (tr(lang, "Send update", "发送通报")) }
            }
        }
    }
}

/// The playbook copied onto the incident, step by step, with who did what and when.
fn checklist_table(id: i64, checklist: &Checklist, now: DateTime<Utc>, session: &Session) -> Markup {
    let lang = session.lang;
    html! {
        @if let Some(title) = &checklist.title {
            // In Chinese, the playbook's own Chinese words where it has them.
            @let (title, strategy) = match lang {
                Lang::Zh => (checklist.title_zh.as_ref().unwrap_or(title), checklist.strategy_zh.as_ref().or(checklist.strategy.as_ref())),
                Lang::En => (title, checklist.strategy.as_ref()),
            };
            h2 { (tr(lang, "Playbook: ", "预案：")) (title) }
            @if let Some(strategy) = strategy { p { (strategy) } }
            table.wide.playbook {
                tr { th { (tr(lang, "Step", "步骤")) } th { (tr(lang, "Due", "截止")) } th { (tr(lang, "Done", "完成")) } }
                @for item in &checklist.steps {
                    @let overdue = item.done.is_none() && item.due_at.is_some_and(|due| due <= now);
                    @let due_soon = item.done.is_none() && !overdue && item.due_at.is_some_and(|due| due <= now + chrono::Duration::minutes(30));
                    tr class=(if overdue { "overdue" } else if due_soon { "due" } else { "" }) {
                        td data-label=(tr(lang, "Step", "步骤")) {
                            @match (lang, &item.step.title_zh) {
                                (Lang::Zh, Some(zh)) => { (zh) }
                                (_, Some(zh)) => { (item.step.title) br; small { (zh) } }
                                (_, None) => { (item.step.title) }
                            }
                            @if item.step.statement { " " strong { (tr(lang, "(official statement)", "（官方声明）")) } }
                        }
                        td data-label=(tr(lang, "Due", "截止")) {
                            @if let Some(due) = item.due_at {
                                (due.format("%Y-%m-%d %H:%M UTC"))
                                @if overdue { " " strong { (tr(lang, "overdue", "已逾期")) } }
                                @if due_soon { " " strong { (tr(lang, "due soon", "即将到期")) } }
                            }
                        }
                        td data-label=(tr(lang, "Done", "完成")) {
                            @match &item.done {
                                Some(done) => {
                                    (done.actor) " · " (done.at.format("%Y-%m-%d %H:%M UTC"))
                                    @if let Some(note) = &done.note { br; small { (note) } }
                                }
                                None if session.may(Role::Responder) => form method="post" action={ "/incidents/" (id) "/steps/" (item.step.id) } {
                                    (session.field())
                                    input name="note" placeholder=(tr(lang, "note (optional)", "备注（可选）")) maxlength="10000";
                                    " " button { (tr(lang, "Done", "完成")) }
                                },
                                None => (tr(lang, "not yet", "尚未")),
                            }
                        }
                    }
                }
            }
        }
    }
}

fn timeline_rows(lang: Lang, events: &[Event]) -> Markup {
    html! {
        table.wide {
            tr {
                th { (tr(lang, "Time", "时间")) } th { (tr(lang, "Actor", "执行者")) } th { (tr(lang, "Event", "事件")) }
                th { (tr(lang, "Details", "详情")) }
            }
            @for event in events {
                tr {
                    td data-label=(tr(lang, "Time", "时间")) { (event.at.format("%Y-%m-%d %H:%M:%S UTC")) }
                    td data-label=(tr(lang, "Actor", "执行者")) { (event.actor) }
                    td data-label=(tr(lang, "Event", "事件")) title=(event.kind) { (kind_name(&event.kind, lang)) }
                    td data-label=(tr(lang, "Details", "详情")) { (describe(event, lang)) }
                }
            }
        }
    }
}

/// What opened the incident and what raised it, from its timeline: the rule, level and
/// score it opened at, then each level change with its score and the reading behind it.
fn course(lang: Lang, events: &[Event]) -> Vec<(DateTime<Utc>, String)> {
    let field = |event: &Event, key: &str| event.details.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let score = |event: &Event| event.details.get("score").and_then(serde_json::Value::as_i64);
    let level = |text: Option<String>| text.and_then(|l| Level::parse(&l)).map(|l| level_name(lang, l)).unwrap_or("–");
    events
        .iter()
        .filter_map(|event| {
            let step = match event.kind.as_str() {
                "opened" => format!(
                    "{} {} {} {}, {} {}",
                    tr(lang, "opened by rule", "由规则"),
                    field(event, "rule").unwrap_or_default(),
                    tr(lang, "at", "开启，级别"),
                    level(field(event, "level")),
                    tr(lang, "score", "分数"),
                    score(event).map_or("–".to_owned(), |s| s.to_string()),
                ),
                "level_changed" => {
                    let reading = event.details.get("why").map(|why| why_lines(why, lang)).unwrap_or_default();
                    let behind: Vec<String> =
                        reading.into_iter().take(3).map(|(label, value)| format!("{label}: {value}")).collect();
                    format!(
                        "{} {} → {}, {} {}{}",
                        tr(lang, "raised", "级别提升"),
                        level(field(event, "from")),
                        level(field(event, "to")),
                        tr(lang, "score", "分数"),
                        score(event).map_or("–".to_owned(), |s| s.to_string()),
                        if behind.is_empty() { String::new() } else { format!(" ({})", behind.join("; ")) },
                    )
                }
                "reopened" => tr(lang, "reopened", "重新打开").to_owned(),
                _ => return None,
            };
            Some((event.at, step))
        })
        .collect()
}

async fn incident_page<S: Store>(State(state): State<ApiState<S>>, session: Session, Path(id): Path<i64>) -> Response {
    // "In the last …" counts over the spike window, so it compares with the usual rate.
    let recent = state.pipeline.config().risk.spike().window;
    let loaded = async {
        let incident = state.store.incident(id).await?.ok_or(StoreError::NoIncident(id))?;
        let mentions = state.store.top_mentions(id, PAGE_MENTIONS).await?;
        let events = state.store.timeline(id).await?;
        let checklist = state.store.checklist(id).await?;
        let review = Review::build(state.store.review_input(id).await?, state.clock.now());
        let pulse = state.store.pulse(id, state.clock.now() - recent).await?;
        Ok::<_, StoreError>((incident, mentions, events, checklist, review, pulse))
    };
    let (incident, mentions, events, checklist, review, pulse) = match loaded.await {
        Ok(loaded) => loaded,
        Err(e) => return store_error(e),
    };
    if let Some(refused) = session.refuses_incident(&incident) {
        return refused;
    }
    let chain = timeline::verify(&events).map_err(|broken| (broken.event.id, broken.why.describe()));
    let facts = summary::Facts { events: &events, pulse, recent, checklist: &checklist, now: state.clock.now() };
    let sentence = summary::summary(session.lang, &incident, &facts);
    let lang = session.lang;
    live_page(
        &session,
        &format!("#{id} {}", incident.title),
        Watch::Incident(id),
        html! {
            p { a href="/incidents" { (tr(lang, "← All incidents", "← 全部事件")) } }
            div data-live="head" {
            h1 { "#" (incident.id) " " (incident.title) }
            p.summary { strong { (sentence) } }
            p {
                (level_badge(session.lang, &incident)) " "
                strong { (status_name(lang, incident.status)) } " · " (tr(lang, "score", "分数")) " " (incident.score)
                " · " (tr(lang, "rule", "规则")) " " code { (incident.rule) }
                @if let Some(brand) = &incident.brand { " · " (tr(lang, "brand", "品牌")) " " strong { (brand) } }
                " · " (tr(lang, "opened", "开启于")) " " (incident.opened_at.format("%Y-%m-%d %H:%M:%S UTC"))
            }
            @if !session.may(Role::Responder) {
                p { small { (tr(session.lang, "Your token may read; working incidents needs the responder role.", "你的令牌只能查看；处理事件需要 responder 角色。")) } }
            } @else if incident.status == Status::Open {
                form method="post" action={ "/incidents/" (id) "/ack" } {
                    (session.field())
                    button.primary { (tr(lang, "Acknowledge", "确认")) }
                }
            }
            @if session.may(Role::Responder) {
                @if incident.status != Status::Resolved {
                    // Resolving ends escalation and the reminders: the box makes it a deliberate act.
                    form method="post" action={ "/incidents/" (id) "/resolve" } {
                        (session.field())
                        label { input type="checkbox" name="confirm" required; " " (tr(session.lang, "the situation is over", "事态已经结束")) }
                        " " button { (tr(lang, "Resolve", "解决")) }
                    }
                } @else {
                    form method="post" action={ "/incidents/" (id) "/reopen" } {
                        (session.field())
                        button { (tr(lang, "Reopen", "重新打开")) }
                    }
                }
            }
            }
            div data-live="course" {
            h2 { (tr(lang, "How it got here", "事件经过")) }
            ol.course {
                @for (at, step) in course(lang, &events) { li { (at.format("%H:%M:%S UTC")) " · " (step) } }
            }
            h2 { (tr(lang, "Why, as last scored", "最近一次评分的依据")) }
            table.why {
                @for (label, value) in why_lines(&incident.why, lang) {
                    tr { th { (label) } td { (value) } }
                }
            }
            }
            div data-live="workflow" { (workflow_forms(&incident, &session)) }
            div data-live="playbook" { (checklist_table(id, &checklist, state.clock.now(), &session)) }
            div data-live="mentions" {
            h2 { (tr(session.lang, "Volume and sentiment", "声量与情绪")) }
            (review.svg_chart())
            p { small { (tr(session.lang,
                "Bars: mentions per period. Line: mean sentiment (−1 to +1). Dashed: the official statement.",
                "柱：每个时段的提及数。线：平均情绪（−1 到 +1）。虚线：官方声明。")) } }
            p { a href={ "/api/v1/incidents/" (id) "/review?format=html" } { (tr(session.lang, "Post-incident review", "事后复盘")) } }
            h2 { (tr(lang, "Mentions", "提及")) " (" (incident.mentions) ")" }
            (story_sections(lang, &mentions, incident.mentions))
            }
            div data-live="timeline" {
            h2 { (tr(lang, "Timeline", "时间线")) }
            p {
                @match chain {
                    Ok(_) => { (tr(lang, "Hash chain verified: no event was edited or removed.", "哈希链校验通过：没有事件被修改或删除。")) }
                    Err((event, reason)) => { strong { (tr(lang, "Hash chain broken at event ", "哈希链在事件处断开：")) (event) ": " (reason) "." } }
                }
            }
            (timeline_rows(lang, &events))
            }
        },
    )
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn incident_action<S: Store>(
    State(state): State<ApiState<S>>,
    session: Session,
    Path((id, action)): Path<(i64, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !session.accepts(&state, form.csrf.as_deref()) {
        return forged();
    }
    if let Some(refused) = session.refuses(Role::Responder) {
        return refused;
    }
    if let Err(refused) = session.incident_for(&state, id).await {
        return refused;
    }
    let actor = session.actor;
    let action = match action.as_str() {
        "ack" => Action::Acknowledge,
        "resolve" => Action::Resolve,
        "reopen" => Action::Reopen,
        _ => return error_page(StatusCode::NOT_FOUND, "no such action"),
    };
    match state.store.transition(id, action, &actor, state.clock.now()).await {
        Ok(_) => {
            state.wake_outbox.notify_one();
            Redirect::to(&format!("/incidents/{id}")).into_response()
        }
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
struct AssignForm {
    to: String,
    csrf: Option<String>,
}

/// A note or a status update: its text.
#[derive(Deserialize)]
struct TextForm {
    text: String,
    csrf: Option<String>,
}

#[derive(Deserialize)]
struct StepForm {
    note: Option<String>,
    csrf: Option<String>,
}

async fn record_entry<S: Store>(
    state: &ApiState<S>,
    session: Session,
    csrf: Option<&str>,
    id: i64,
    entry: Entry,
) -> Response {
    if !session.accepts(state, csrf) {
        return forged();
    }
    if let Some(refused) = session.refuses(Role::Responder) {
        return refused;
    }
    if let Err(refused) = session.incident_for(state, id).await {
        return refused;
    }
    match state.store.record(id, &entry, &session.actor, state.clock.now()).await {
        Ok(_) => {
            state.wake_outbox.notify_one();
            Redirect::to(&format!("/incidents/{id}")).into_response()
        }
        Err(e) => store_error(e),
    }
}

async fn assign_form<S: Store>(
    State(state): State<ApiState<S>>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<AssignForm>,
) -> Response {
    record_entry(&state, session, form.csrf.as_deref(), id, Entry::Assign(form.to)).await
}

async fn note_form<S: Store>(
    State(state): State<ApiState<S>>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<TextForm>,
) -> Response {
    record_entry(&state, session, form.csrf.as_deref(), id, Entry::Note(form.text)).await
}

async fn status_update_form<S: Store>(
    State(state): State<ApiState<S>>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<TextForm>,
) -> Response {
    record_entry(&state, session, form.csrf.as_deref(), id, Entry::StatusUpdate(form.text)).await
}

async fn step_form<S: Store>(
    State(state): State<ApiState<S>>,
    session: Session,
    Path((id, step)): Path<(i64, String)>,
    Form(form): Form<StepForm>,
) -> Response {
    record_entry(&state, session, form.csrf.as_deref(), id, Entry::StepDone { step, note: form.note }).await
}

async fn login_page() -> Response {
    page(
        "Log in",
        html! {
            h1 { "tocsin" }
            form method="post" action="/login" {
                label { "API token " input type="password" name="token" autocomplete="current-password"; }
                " " button { "Log in" }
            }
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login<S: Store>(
    State(state): State<ApiState<S>>,
    ClientAddress(address): ClientAddress,
    Form(form): Form<LoginForm>,
) -> Response {
    let token = form.token.trim();
    match state.throttle.check(&state.tokens, token, address, state.clock.now()) {
        Ok(_) => {}
        Err(Refusal::Unknown) => return error_page(StatusCode::UNAUTHORIZED, "unknown token"),
        Err(Refusal::Throttled(wait)) => return throttled_page(wait),
        Err(Refusal::Failed(e)) => return store_error(e),
    }
    let id = match open_session(&state, token).await {
        Ok(id) => id,
        Err(e) => return store_error(e),
    };
    let lifetime = SESSION_LIFETIME.num_seconds();
    session_cookie(&state, &format!("{SESSION_COOKIE}={id}; Max-Age={lifetime}"), Redirect::to("/").into_response())
}

/// Sets the session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind https) on a response.
fn session_cookie<S>(state: &ApiState<S>, cookie: &str, mut response: Response) -> Response {
    let secure = if state.public_url.starts_with("https://") { "; Secure" } else { "" };
    match HeaderValue::from_str(&format!("{cookie}; HttpOnly; SameSite=Strict; Path=/{secure}")) {
        Ok(value) => {
            response.headers_mut().insert(header::SET_COOKIE, value);
            response
        }
        Err(_) => error_page(StatusCode::INTERNAL_SERVER_ERROR, "the session cookie could not be written"),
    }
}

/// Ends the browser's session: its row is deleted, so the id is worthless even if copied.
async fn logout<S: Store>(State(state): State<ApiState<S>>, session: Session, Form(form): Form<CsrfForm>) -> Response {
    if !session.accepts(&state, form.csrf.as_deref()) {
        return forged();
    }
    if let Credential::Session(id) = &session.credential
        && let Err(e) = state.store.end_session(&digest(id)).await
    {
        return store_error(e);
    }
    session_cookie(&state, &format!("{SESSION_COOKIE}=; Max-Age=0"), Redirect::to("/login").into_response())
}

async fn ack_confirm<S: Store>(State(state): State<ApiState<S>>, Path(token): Path<String>) -> Response {
    // A GET never acknowledges: mail scanners and link previews fetch links on their own.
    let id = match state.links.verify(&token, state.clock.now()) {
        Ok(id) => id,
        Err(e) => return error_page(StatusCode::FORBIDDEN, &e.to_string()),
    };
    let incident = match state.store.incident(id).await {
        Ok(Some(incident)) => incident,
        Ok(None) => {
            return error_page(StatusCode::NOT_FOUND, &StoreError::NoIncident(id).to_string());
        }
        Err(e) => return store_error(e),
    };
    page(
        "Acknowledge",
        html! {
            h1 { "Acknowledge incident #" (incident.id) "?" }
            p { (level_badge(Lang::En, &incident)) " " (incident.title) }
            p { "Status: " strong { (incident.status.as_str()) } }
            @if incident.status == Status::Open {
                form method="post" { button { "Acknowledge and stop escalation" } }
            }
        },
    )
}

async fn ack_by_link<S: Store>(State(state): State<ApiState<S>>, Path(token): Path<String>) -> Response {
    let now = state.clock.now();
    let id = match state.links.verify(&token, now) {
        Ok(id) => id,
        Err(e) => return error_page(StatusCode::FORBIDDEN, &e.to_string()),
    };
    match state.store.transition(id, Action::Acknowledge, "email-link", now).await {
        Ok(incident) => {
            state.wake_outbox.notify_one();
            page(
                "Acknowledged",
                html! {
                    h1 { "Incident #" (incident.id) " acknowledged" }
                    p { "Escalation stopped. " a href={ "/incidents/" (incident.id) } { "Open the incident" } }
                },
            )
        }
        Err(e) => store_error(e),
    }
}
