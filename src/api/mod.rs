//! HTTP: health, metrics, the JSON API under `/api/v1`, acknowledge links and the dashboard.

mod dashboard;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use sha2::Sha256;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::HumanDuration;
use crate::daemon::Pipeline;
use crate::incident::ack_link::AckLinks;
use crate::incident::review::Review;
use crate::incident::silence::{NewSilence, Scope, Silence};
use crate::incident::{Action, Level, Status};
use crate::ingest::push::PushBody;
use crate::notify::breaker::{Availability, ChannelHealth};
use crate::store::{Entry, IncidentFilter, IngestOutcome, MentionFilter, Store, StoreError};

/// Name of the cookie the dashboard keeps the login token in.
pub const SESSION_COOKIE: &str = "tocsin_token";

/// API tokens by secret, each naming the person or tool it belongs to.
#[derive(Clone, Default)]
pub struct Tokens {
    by_secret: HashMap<String, String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("names", &self.by_secret.values().collect::<Vec<_>>()).finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TOCSIN_API_TOKENS entry {0} is not name:token")]
pub struct TokensError(pub usize);

impl Tokens {
    /// Parses `alice:token1,bob:token2`.
    pub fn parse(text: &str) -> Result<Tokens, TokensError> {
        let mut by_secret = HashMap::new();
        for (index, entry) in text.split(',').map(str::trim).filter(|e| !e.is_empty()).enumerate() {
            match entry.split_once(':') {
                Some((name, secret)) if !name.trim().is_empty() && !secret.trim().is_empty() => {
                    by_secret.insert(secret.trim().to_owned(), name.trim().to_owned());
                }
                _ => return Err(TokensError(index + 1)),
            }
        }
        Ok(Tokens { by_secret })
    }

    fn name_of(&self, secret: &str) -> Option<&str> {
        self.by_secret.get(secret).map(String::as_str)
    }
}

/// Cross-site request forgery tokens for the dashboard's forms: an HMAC of the session's
/// token, so a page from another site, which cannot read the session, cannot forge one. A
/// request authenticated with a bearer header needs none (browsers never add that header
/// on their own).
#[derive(Clone)]
pub struct Csrf {
    key: Arc<Vec<u8>>,
}

impl Csrf {
    pub fn new(key: Vec<u8>) -> Csrf {
        Csrf { key: Arc::new(key) }
    }

    fn mac(&self, session: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(b"csrf:");
        mac.update(session.as_bytes());
        mac
    }

    /// The form token for a session.
    pub fn token_for(&self, session: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(session).finalize().into_bytes())
    }

    /// Whether a presented form token belongs to the session (compared in constant time).
    pub fn verify(&self, session: &str, presented: &str) -> bool {
        URL_SAFE_NO_PAD.decode(presented.trim()).is_ok_and(|tag| self.mac(session).verify_slice(&tag).is_ok())
    }
}

pub struct ApiState<S> {
    pub store: Arc<S>,
    /// The analyze → incident stage, for pushed mentions.
    pub pipeline: Arc<Pipeline<S>>,
    pub links: AckLinks,
    pub tokens: Arc<Tokens>,
    pub clock: Clock,
    pub metrics: PrometheusHandle,
    pub public_url: String,
    /// Poked when an action queued notifications, so they go out at once.
    pub wake_outbox: Arc<Notify>,
    /// The configured channels, for the channel endpoints.
    pub channel_names: Arc<Vec<String>>,
    pub csrf: Csrf,
}

impl<S> Clone for ApiState<S> {
    fn clone(&self) -> Self {
        ApiState {
            store: self.store.clone(),
            pipeline: self.pipeline.clone(),
            links: self.links.clone(),
            tokens: self.tokens.clone(),
            clock: self.clock.clone(),
            metrics: self.metrics.clone(),
            public_url: self.public_url.clone(),
            wake_outbox: self.wake_outbox.clone(),
            channel_names: self.channel_names.clone(),
            csrf: self.csrf.clone(),
        }
    }
}

/// An error answered as JSON `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into() }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NoIncident(_) => ApiError::new(StatusCode::NOT_FOUND, error.to_string()),
            StoreError::NoSilence(_) => ApiError::new(StatusCode::NOT_FOUND, error.to_string()),
            StoreError::Transition(_) => ApiError::new(StatusCode::CONFLICT, error.to_string()),
            StoreError::Refused(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string()),
            other => {
                tracing::error!(error = %other, "store error in API");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the daemon log")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}

/// The caller, known by its token's name: from `Authorization: Bearer`, or the dashboard's
/// session cookie.
pub struct Caller(pub String);

fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return value.strip_prefix("Bearer ").map(|t| t.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

impl<S: Store> FromRequestParts<ApiState<S>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState<S>) -> Result<Self, Self::Rejection> {
        let token = presented_token(&parts.headers)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing Authorization: Bearer token"))?;
        let name =
            state.tokens.name_of(&token).ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unknown API token"))?;
        Ok(Caller(name.to_owned()))
    }
}

pub fn router<S: Store>(state: ApiState<S>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics::<S>))
        .route("/api/v1/incidents", get(list_incidents::<S>))
        .route("/api/v1/incidents/{id}", get(get_incident::<S>))
        .route("/api/v1/incidents/{id}/timeline", get(get_timeline::<S>))
        .route("/api/v1/incidents/{id}/ack", post(act::<S, AckAction>))
        .route("/api/v1/incidents/{id}/resolve", post(act::<S, ResolveAction>))
        .route("/api/v1/incidents/{id}/reopen", post(act::<S, ReopenAction>))
        .route("/api/v1/incidents/{id}/assign", post(assign::<S>))
        .route("/api/v1/incidents/{id}/note", post(note::<S>))
        .route("/api/v1/incidents/{id}/steps/{step}", post(step_done::<S>))
        .route("/api/v1/incidents/{id}/checklist", get(checklist::<S>))
        .route("/api/v1/incidents/{id}/review", get(review::<S>))
        .route("/api/v1/silences", get(list_silences::<S>).post(add_silence::<S>))
        .route("/api/v1/silences/{id}/end", post(end_silence::<S>))
        .route("/api/v1/channels", get(list_channels::<S>))
        .route("/api/v1/channels/{name}/enable", post(enable_channel::<S>))
        .route("/api/v1/channels/{name}/disable", post(disable_channel::<S>))
        .route("/api/v1/feeds", get(list_feeds::<S>))
        .route("/api/v1/mentions", get(search_mentions::<S>).post(push_mentions::<S>))
        .merge(dashboard::routes())
        .with_state(state)
}

async fn metrics<S: Store>(State(state): State<ApiState<S>>) -> Response {
    if let Ok(pending) = state.store.pending_notices().await {
        ::metrics::gauge!("tocsin_outbox_pending").set(pending as f64);
    }
    if let Ok(count) = state.store.mention_count().await {
        ::metrics::gauge!("tocsin_mentions").set(count as f64);
    }
    let mut response = state.metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    rule: Option<String>,
    level: Option<String>,
    since: Option<String>,
    until: Option<String>,
    cursor: Option<i64>,
    limit: Option<i64>,
}

/// An RFC 3339 time from a query parameter, or a 400 naming it.
fn query_time(name: &str, value: Option<&str>) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    value
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&chrono::Utc)).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, format!("{name} {text:?} is not an RFC 3339 time: {e}"))
            })
        })
        .transpose()
}

/// Cuts a list fetched with one extra item to `limit`; the cursor of the next page (the
/// last id shown) when the extra item was there, `None` on the last page.
fn next_page<T>(items: &mut Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> Option<i64> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if items.len() > limit {
        items.truncate(limit);
        items.last().map(id)
    } else {
        None
    }
}

/// A page size within 1..500 (50 when not given), or a 400.
fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(50);
    if (1..=500).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::new(StatusCode::BAD_REQUEST, "limit must be within 1..500"))
    }
}

async fn list_incidents<S: Store>(
    State(state): State<ApiState<S>>,
    _caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(Status::parse(text).ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("status {text:?} is not open, acknowledged or resolved"))
        })?),
    };
    let level = match query.level.as_deref() {
        None => None,
        Some(text) => Some(Level::parse(text).ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("level {text:?} is not low, medium, high or critical"))
        })?),
    };
    let limit = page_limit(query.limit)?;
    let filter = IncidentFilter {
        status,
        rule: query.rule,
        level,
        since: query_time("since", query.since.as_deref())?,
        until: query_time("until", query.until.as_deref())?,
        before_id: query.cursor,
        // One more than shown: whether there is a next page at all.
        limit: limit + 1,
    };
    let mut items = state.store.incidents(&filter).await?;
    let next = next_page(&mut items, limit, |i| i.id);
    Ok(Json(serde_json::json!({ "items": items, "next": next })))
}

async fn get_incident<S: Store>(
    State(state): State<ApiState<S>>,
    _caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<crate::incident::Incident>, ApiError> {
    state.store.incident(id).await?.map(Json).ok_or_else(|| StoreError::NoIncident(id).into())
}

async fn get_timeline<S: Store>(
    State(state): State<ApiState<S>>,
    _caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if state.store.incident(id).await?.is_none() {
        return Err(StoreError::NoIncident(id).into());
    }
    let events = state.store.timeline(id).await?;
    let verified = crate::incident::timeline::verify(&events).is_ok();
    Ok(Json(serde_json::json!({ "items": events, "verified": verified })))
}

async fn list_feeds<S: Store>(
    State(state): State<ApiState<S>>,
    _caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let feeds = state.store.feed_states().await?;
    Ok(Json(serde_json::json!({ "items": feeds, "next": null })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MentionQuery {
    /// Text in the title or body.
    q: Option<String>,
    rule: Option<String>,
    feed: Option<String>,
    since: Option<String>,
    until: Option<String>,
    cursor: Option<i64>,
    limit: Option<i64>,
}

/// Stored mentions, newest first: by text, rule, feed and fetch time, paged by cursor.
async fn search_mentions<S: Store>(
    State(state): State<ApiState<S>>,
    _caller: Caller,
    query: Result<Query<MentionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let limit = page_limit(query.limit)?;
    let filter = MentionFilter {
        text: query.q.filter(|q| !q.trim().is_empty()),
        rule: query.rule,
        feed: query.feed,
        since: query_time("since", query.since.as_deref())?,
        until: query_time("until", query.until.as_deref())?,
        before_id: query.cursor,
        limit: limit + 1,
    };
    let mut items = state.store.mentions(&filter).await?;
    let next = next_page(&mut items, limit, |m| m.id);
    Ok(Json(serde_json::json!({ "items": items, "next": next })))
}

/// Mentions pushed by other tools go through the same pipeline (and dedup) as polled ones.
async fn push_mentions<S: Store>(
    State(state): State<ApiState<S>>,
    _caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let pushed: PushBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad mention JSON: {e}")))?;
    let now = state.clock.now();
    let mentions = pushed
        .into_inputs()
        .into_iter()
        .enumerate()
        .map(|(index, input)| input.into_mention(index, now))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let (mut stored, mut duplicates, mut opened) = (0, 0, Vec::new());
    for outcome in state.pipeline.process_all(mentions).await? {
        match outcome {
            IngestOutcome::Duplicate => duplicates += 1,
            IngestOutcome::Stored { opened: new, .. } => {
                stored += 1;
                opened.extend(new);
            }
        }
    }
    Ok(Json(serde_json::json!({ "stored": stored, "duplicates": duplicates, "opened": opened })))
}

/// A workflow action named in the route, so one handler serves all three.
trait RouteAction: Send + 'static {
    const ACTION: Action;
}
struct AckAction;
struct ResolveAction;
struct ReopenAction;
impl RouteAction for AckAction {
    const ACTION: Action = Action::Acknowledge;
}
impl RouteAction for ResolveAction {
    const ACTION: Action = Action::Resolve;
}
impl RouteAction for ReopenAction {
    const ACTION: Action = Action::Reopen;
}

async fn act<S: Store, A: RouteAction>(
    State(state): State<ApiState<S>>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<Json<crate::incident::Incident>, ApiError> {
    let incident = state.store.transition(id, A::ACTION, &actor, state.clock.now()).await?;
    tracing::info!(incident = id, %actor, action = A::ACTION.past_tense(), "incident updated");
    state.wake_outbox.notify_one();
    Ok(Json(incident))
}

/// The configured channels with their health.
async fn list_channels<S: Store>(
    State(state): State<ApiState<S>>,
    _caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let now = state.clock.now();
    let mut items = Vec::new();
    for name in state.channel_names.iter() {
        let health = state.store.channel_health(name).await?;
        let available = match health.availability(now) {
            Availability::Up => serde_json::json!({"state": "up"}),
            Availability::Tripped { until } => serde_json::json!({"state": "tripped", "until": until}),
            Availability::Disabled { reason } => serde_json::json!({"state": "disabled", "reason": reason}),
        };
        items.push(serde_json::json!({"health": health, "availability": available}));
    }
    Ok(Json(serde_json::json!({ "items": items, "next": null })))
}

fn known_channel<S>(state: &ApiState<S>, name: &str) -> Result<(), ApiError> {
    if state.channel_names.iter().any(|n| n == name) {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, format!("no channel named {name:?}")))
    }
}

async fn enable_channel<S: Store>(
    State(state): State<ApiState<S>>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> Result<Json<ChannelHealth>, ApiError> {
    known_channel(&state, &name)?;
    tracing::info!(channel = %name, %actor, "channel enabled");
    Ok(Json(state.store.set_channel_enabled(&name, true, "", state.clock.now()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisableBody {
    reason: String,
}

async fn disable_channel<S: Store>(
    State(state): State<ApiState<S>>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<ChannelHealth>, ApiError> {
    known_channel(&state, &name)?;
    let DisableBody { reason } = body(&bytes)?;
    let reason = format!("disabled by {actor}: {}", reason.trim());
    Ok(Json(state.store.set_channel_enabled(&name, false, &reason, state.clock.now()).await?))
}

/// A JSON body, or a 400 that says what is wrong with it.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad JSON body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepBody {
    note: Option<String>,
}

async fn record<S: Store>(
    state: &ApiState<S>,
    id: i64,
    entry: Entry,
    actor: &str,
) -> Result<Json<crate::incident::Incident>, ApiError> {
    Ok(Json(state.store.record(id, &entry, actor, state.clock.now()).await?))
}

async fn assign<S: Store>(
    State(state): State<ApiState<S>>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
    bytes: axum::body::Bytes,
) -> Result<Json<crate::incident::Incident>, ApiError> {
    let AssignBody { to } = body(&bytes)?;
    record(&state, id, Entry::Assign(to), &actor).await
}

async fn note<S: Store>(
    State(state): State<ApiState<S>>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
    bytes: axum::body::Bytes,
) -> Result<Json<crate::incident::Incident>, ApiError> {
    let NoteBody { text } = body(&bytes)?;
    record(&state, id, Entry::Note(text), &actor).await
}

async fn step_done<S: Store>(
    State(state): State<ApiState<S>>,
    Caller(actor): Caller,
    Path((id, step)): Path<(i64, String)>,
    bytes: axum::body::Bytes,
) -> Result<Json<crate::incident::Incident>, ApiError> {
    let StepBody { note } = if bytes.is_empty() { StepBody::default() } else { body(&bytes)? };
    record(&state, id, Entry::StepDone { step, note }, &actor).await
}

async fn checklist<S: Store>(
    State(state): State<ApiState<S>>,
    _caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<crate::store::Checklist>, ApiError> {
    Ok(Json(state.store.checklist(id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewQuery {
    format: Option<String>,
}

/// The post-incident review: JSON by default, `?format=md` or `?format=html`.
async fn review<S: Store>(
    State(state): State<ApiState<S>>,
    _caller: Caller,
    Path(id): Path<i64>,
    query: Result<Query<ReviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let review = Review::build(state.store.review_input(id).await?, state.clock.now());
    let (content_type, text) = match query.format.as_deref().unwrap_or("json") {
        "json" => (
            "application/json",
            review.to_json().map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
        ),
        "md" => ("text/markdown; charset=utf-8", review.to_markdown()),
        "html" => ("text/html; charset=utf-8", review.to_html()),
        other => {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, format!("format {other:?} is not json, md or html")));
        }
    };
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SilenceQuery {
    all: Option<bool>,
}

async fn list_silences<S: Store>(
    State(state): State<ApiState<S>>,
    _caller: Caller,
    query: Result<Query<SilenceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let active_at = (!query.all.unwrap_or(false)).then(|| state.clock.now());
    let items = state.store.silences(active_at).await?;
    Ok(Json(serde_json::json!({ "items": items, "next": null })))
}

/// `{"rule" | "feed" | "tag" | "query": ..., "for": "2h", "reason": ...}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SilenceBody {
    rule: Option<String>,
    feed: Option<String>,
    tag: Option<String>,
    query: Option<String>,
    #[serde(rename = "for")]
    duration: String,
    reason: String,
}

async fn add_silence<S: Store>(
    State(state): State<ApiState<S>>,
    Caller(actor): Caller,
    bytes: axum::body::Bytes,
) -> Result<(StatusCode, Json<Silence>), ApiError> {
    let silence: SilenceBody = body(&bytes)?;
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, message);
    let (scope, value) = match (silence.rule, silence.feed, silence.tag, silence.query) {
        (Some(v), None, None, None) => (Scope::Rule, v),
        (None, Some(v), None, None) => (Scope::Feed, v),
        (None, None, Some(v), None) => (Scope::Tag, v),
        (None, None, None, Some(v)) => (Scope::Query, v),
        _ => return Err(bad("give exactly one of rule, feed, tag or query".into())),
    };
    let length: HumanDuration = silence.duration.parse().map_err(|e: String| bad(format!("for: {e}")))?;
    let now = state.clock.now();
    let new = NewSilence {
        scope,
        value: value.trim().to_owned(),
        reason: silence.reason.trim().to_owned(),
        created_by: actor,
        created_at: now,
        ends_at: now + length.chrono(),
    };
    state.pipeline.check_silence(&new).map_err(bad)?;
    Ok((StatusCode::CREATED, Json(state.store.add_silence(&new).await?)))
}

async fn end_silence<S: Store>(
    State(state): State<ApiState<S>>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<Json<Silence>, ApiError> {
    Ok(Json(state.store.end_silence(id, &actor, state.clock.now()).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_names_and_refuse_malformed_entries() {
        let tokens = Tokens::parse("alice:s3cret, bob:other").expect("valid");
        assert_eq!(tokens.name_of("s3cret"), Some("alice"));
        assert_eq!(tokens.name_of("other"), Some("bob"));
        assert_eq!(tokens.name_of("alice"), None);
        assert_eq!(Tokens::parse("alice:x,justatoken").unwrap_err(), TokensError(2));
        assert!(!format!("{tokens:?}").contains("s3cret"), "Debug must not print secrets");
    }

    #[test]
    fn a_form_token_belongs_to_one_session() {
        let csrf = Csrf::new(b"key".to_vec());
        let token = csrf.token_for("alice-session");
        assert!(csrf.verify("alice-session", &token));
        assert!(!csrf.verify("bob-session", &token));
        assert!(!csrf.verify("alice-session", "forged"));
        assert!(!Csrf::new(b"other".to_vec()).verify("alice-session", &token));
    }
}
