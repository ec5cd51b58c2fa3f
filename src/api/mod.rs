//! HTTP: health, metrics, the JSON API under `/api/v1`, acknowledge links and the dashboard.

mod auth;
mod channels;
mod feeds;
mod incidents;
mod integrations;
mod live;
mod mentions;
mod overview;
mod pages;
mod quality;
mod silences;

pub use auth::{
    Admin, BrandScope, Caller, Csrf, FAILURES_ALLOWED, Responder, Role, SESSION_COOKIE, SESSION_IDLE, SESSION_LIFETIME,
    THROTTLE_WINDOW, Throttle, Tokens, TokensError, brand_refusal,
};
pub use overview::{BrandShare, OverviewAsk, ShareOfVoice, overview, share_of_voice};

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use tokio::sync::Notify;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{OpenApi, ToSchema};

use crate::clock::Clock;
use crate::incident::ack_link::AckLinks;
use crate::notify::breaker::Availability;
use crate::pipeline::Pipeline;
use crate::store::{Store, StoreError};

pub struct ApiState<S> {
    pub store: Arc<S>,
    /// The analyze → incident stage, for pushed mentions.
    pub pipeline: Arc<Pipeline<S>>,
    pub links: AckLinks,
    pub tokens: Arc<Tokens>,
    pub throttle: Arc<Throttle>,
    pub clock: Clock,
    pub metrics: PrometheusHandle,
    pub public_url: String,
    /// Poked when an action queued notifications, so they go out at once.
    pub wake_outbox: Arc<Notify>,
    /// The configured channels, for the channel endpoints.
    pub channel_names: Arc<Vec<String>>,
    pub csrf: Csrf,
    /// Poked by `POST /api/v1/reload`; the daemon's runner reloads as on SIGHUP.
    pub reload_requested: Arc<Notify>,
    /// Turns true when the daemon stops: live streams end so the server can finish.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

impl<S> Clone for ApiState<S> {
    fn clone(&self) -> Self {
        ApiState {
            store: self.store.clone(),
            pipeline: self.pipeline.clone(),
            links: self.links.clone(),
            tokens: self.tokens.clone(),
            throttle: self.throttle.clone(),
            clock: self.clock.clone(),
            metrics: self.metrics.clone(),
            public_url: self.public_url.clone(),
            wake_outbox: self.wake_outbox.clone(),
            channel_names: self.channel_names.clone(),
            csrf: self.csrf.clone(),
            reload_requested: self.reload_requested.clone(),
            stopping: self.stopping.clone(),
        }
    }
}

/// An error answered as JSON `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// Seconds to wait, sent as `Retry-After`.
    retry_after: Option<i64>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), retry_after: None }
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

/// The body of every API error.
#[derive(Serialize, ToSchema)]
struct ErrorBody {
    /// What is wrong, in words a user can act on.
    error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(ErrorBody { error: self.message })).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// The OpenAPI document of the `/api/v1` routes, generated from the handlers' annotations
/// and the types they take and return.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tocsin",
        version = env!("CARGO_PKG_VERSION"),
        description = "Crisis monitoring: incidents opened from feed mentions, their response workflow \
                       (acknowledge, assign, notes, playbook steps, review), silences, notification \
                       channels, feeds and mentions. Every route except this document takes \
                       `Authorization: Bearer <token>`; errors are `{\"error\": message}`."
    ),
    paths(
        incidents::list_incidents,
        incidents::get_incident,
        incidents::get_timeline,
        incidents::acknowledge,
        incidents::resolve,
        incidents::reopen,
        incidents::assign,
        incidents::note,
        incidents::status_update,
        incidents::step_done,
        incidents::checklist,
        incidents::review,
        live::events,
        integrations::pagerduty_webhook,
        integrations::opsgenie_webhook,
        silences::list_silences,
        silences::add_silence,
        silences::end_silence,
        channels::list_channels,
        channels::enable_channel,
        channels::disable_channel,
        feeds::list_feeds,
        mentions::search_mentions,
        mentions::push_mentions,
        quality::triage_mention,
        quality::escalate_mention,
        quality::get_rule_quality,
        reload,
        overview::get_share_of_voice,
        overview::get_overview,
        openapi_json,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "incidents", description = "Incidents and their response workflow"),
        (name = "silences", description = "Silences that hold back matching mentions"),
        (name = "channels", description = "Notification channels and their health"),
        (name = "feeds", description = "Polled feeds and their health"),
        (name = "mentions", description = "Stored mentions, and mentions pushed by other tools"),
        (name = "meta", description = "This document, and reloading the daemon's configuration"),
        (name = "integrations", description = "Other tools acting on incidents: PagerDuty's and Opsgenie's acknowledgements and resolutions"),
        (name = "live", description = "A Server-Sent Events stream of changes, for pages that update themselves"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the document's `security` names: an API token
/// from `TOCSIN_API_TOKENS`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An API token from TOCSIN_API_TOKENS; the dashboard's session cookie also works"))
            .build();
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
        let signed = ApiKeyValue::with_description(
            "X-PagerDuty-Signature",
            "v1=<hex HMAC-SHA256 of the body> by a pagerduty channel's webhook secret",
        );
        components.add_security_scheme("pagerduty_signature", SecurityScheme::ApiKey(ApiKey::Header(signed)));
        let token = ApiKeyValue::with_description(
            "X-Tocsin-Token",
            "the shared secret of an opsgenie channel's webhook_secret_env, set as a custom header of the integration",
        );
        components.add_security_scheme("opsgenie_token", SecurityScheme::ApiKey(ApiKey::Header(token)));
    }
}

pub fn router<S: Store>(state: ApiState<S>) -> Router {
    Router::new()
        .route("/healthz", get(healthz::<S>))
        .route("/metrics", get(metrics::<S>))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/incidents", get(incidents::list_incidents::<S>))
        .route("/api/v1/incidents/{id}", get(incidents::get_incident::<S>))
        .route("/api/v1/incidents/{id}/timeline", get(incidents::get_timeline::<S>))
        .route("/api/v1/incidents/{id}/ack", post(incidents::acknowledge::<S>))
        .route("/api/v1/incidents/{id}/resolve", post(incidents::resolve::<S>))
        .route("/api/v1/incidents/{id}/reopen", post(incidents::reopen::<S>))
        .route("/api/v1/incidents/{id}/assign", post(incidents::assign::<S>))
        .route("/api/v1/incidents/{id}/note", post(incidents::note::<S>))
        .route("/api/v1/incidents/{id}/update", post(incidents::status_update::<S>))
        .route("/api/v1/incidents/{id}/steps/{step}", post(incidents::step_done::<S>))
        .route("/api/v1/incidents/{id}/checklist", get(incidents::checklist::<S>))
        .route("/api/v1/incidents/{id}/review", get(incidents::review::<S>))
        .route("/api/v1/events", get(live::events::<S>))
        .route("/api/v1/integrations/pagerduty", post(integrations::pagerduty_webhook::<S>))
        .route("/api/v1/integrations/opsgenie", post(integrations::opsgenie_webhook::<S>))
        .route("/api/v1/silences", get(silences::list_silences::<S>).post(silences::add_silence::<S>))
        .route("/api/v1/silences/{id}/end", post(silences::end_silence::<S>))
        .route("/api/v1/channels", get(channels::list_channels::<S>))
        .route("/api/v1/channels/{name}/enable", post(channels::enable_channel::<S>))
        .route("/api/v1/channels/{name}/disable", post(channels::disable_channel::<S>))
        .route("/api/v1/feeds", get(feeds::list_feeds::<S>))
        .route("/api/v1/mentions", get(mentions::search_mentions::<S>).post(mentions::push_mentions::<S>))
        .route("/api/v1/reload", post(reload::<S>))
        .route("/api/v1/share-of-voice", get(overview::get_share_of_voice::<S>))
        .route("/api/v1/overview", get(overview::get_overview::<S>))
        .route("/api/v1/mentions/{id}/triage", post(quality::triage_mention::<S>))
        .route("/api/v1/mentions/{id}/escalate", post(quality::escalate_mention::<S>))
        .route("/api/v1/rules/{id}/quality", get(quality::get_rule_quality::<S>))
        .merge(pages::routes())
        .with_state(state)
}

/// The OpenAPI document. Served without a token, unlike the routes it describes: it holds
/// only the routes and the shapes of their bodies, which the source shows anyway, and no
/// data, token or configuration.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "This document", body = Object))
)]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// How long `/healthz` waits for the database: a check that hangs tells a load balancer
/// nothing, and the image's `HEALTHCHECK` gives up after 5s.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// `ok` while the database answers a one-row read, else 503 with a short reason (the
/// error itself goes to the log: this route takes no token).
async fn healthz<S: Store>(State(state): State<ApiState<S>>) -> Response {
    let problem = match tokio::time::timeout(HEALTH_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => return "ok\n".into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health check: the database failed");
            "the database failed a read\n"
        }
        Err(_) => {
            tracing::error!("health check: the database did not answer in time");
            "the database did not answer within 3s\n"
        }
    };
    (StatusCode::SERVICE_UNAVAILABLE, problem).into_response()
}

async fn metrics<S: Store>(State(state): State<ApiState<S>>) -> Response {
    if let Ok(pending) = state.store.pending_notices().await {
        ::metrics::gauge!("tocsin_outbox_pending").set(pending as f64);
    }
    if let Ok(count) = state.store.mention_count().await {
        ::metrics::gauge!("tocsin_mentions").set(count as f64);
    }
    // Read from the store at each scrape, like the gauges above: with several daemons
    // sharing a database, whichever one is scraped reports the breakers and feeds as they
    // are, not as it last saw them.
    if let Ok(healths) = state.store.channel_healths().await {
        let now = state.clock.now();
        for name in state.channel_names.iter() {
            let tripped = healths
                .iter()
                .find(|health| &health.name == name)
                .is_some_and(|health| matches!(health.availability(now), Availability::Tripped { .. }));
            ::metrics::gauge!("tocsin_channel_breaker_open", "channel" => name.clone())
                .set(f64::from(u8::from(tripped)));
        }
    }
    if let Ok(feeds) = state.store.feed_states().await {
        for feed in feeds.into_iter().filter(|feed| state.pipeline.is_configured_feed(&feed.name)) {
            ::metrics::gauge!("tocsin_feed_consecutive_failures", "feed" => feed.name)
                .set(feed.consecutive_failures as f64);
        }
    }
    let mut response = state.metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// One page of a list, newest first.
#[derive(Serialize, ToSchema)]
struct Page<T> {
    items: Vec<T>,
    /// The `cursor` of the next page; `null` on the last page (and for lists not paged).
    next: Option<i64>,
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

/// The start of `period` (`24h`, `7d` or `30d`) ending at `to`; 400 for any other.
fn period_start(period: &str, to: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    crate::figures::period_start(period, to).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
}

/// A JSON body, or a 400 that says what is wrong with it.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad JSON body: {e}")))
}

/// What `POST /api/v1/reload` answers.
#[derive(Serialize, ToSchema)]
struct ReloadAccepted {
    /// What happens next.
    status: String,
}

/// Reloads the config, rules and playbooks as SIGHUP does: read and checked together; a
/// rules-only change is swapped in, a changed config restarts the daemon in its process,
/// and a broken file is refused with every error in the log while what runs stays. The
/// answer comes before the reload is done: the log says how it went.
#[utoipa::path(
    post,
    path = "/api/v1/reload",
    tag = "meta",
    responses(
        (status = 202, description = "The reload is under way", body = ReloadAccepted),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 403, description = "The token is not an admin's", body = ErrorBody),
    )
)]
async fn reload<S: Store>(
    State(state): State<ApiState<S>>,
    Admin(caller): Admin,
) -> Result<(StatusCode, Json<ReloadAccepted>), ApiError> {
    caller.require_every_brand("a reload")?;
    tracing::info!(by = %caller.name, "reload requested over the API");
    state.reload_requested.notify_one();
    let status = "reload requested: the config, rules and playbooks are read again; the log says how it went";
    Ok((StatusCode::ACCEPTED, Json(ReloadAccepted { status: status.into() })))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The document as JSON, as the route serves it.
    fn document() -> serde_json::Value {
        serde_json::to_value(ApiDoc::openapi()).expect("the document serializes")
    }

    /// Every (method, path) the document lists.
    fn documented() -> BTreeSet<(String, String)> {
        let document = document();
        let paths = document["paths"].as_object().expect("paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .into_iter()
                    .flat_map(|item| item.keys())
                    .filter(|key| ["get", "post", "put", "patch", "delete"].contains(&key.as_str()))
                    .map(move |method| (method.clone(), path.clone()))
            })
            .collect()
    }

    /// Every (method, path) under `/api/v1` that [`router`] registers, read from this file's
    /// source: one `.route("/api/v1/...", get(..).post(..))` per line.
    fn routed() -> BTreeSet<(String, String)> {
        let mut found = BTreeSet::new();
        for line in include_str!("mod.rs").lines().map(str::trim) {
            let Some(rest) = line.strip_prefix(".route(\"/api/v1") else { continue };
            let Some((tail, handlers)) = rest.split_once('"') else { continue };
            for method in ["get", "post", "put", "patch", "delete"] {
                let call = format!("{method}(");
                let called = handlers
                    .match_indices(&call)
                    .any(|(at, _)| handlers[..at].chars().last().is_none_or(|c| !(c.is_alphanumeric() || c == '_')));
                if called {
                    found.insert((method.to_owned(), format!("/api/v1{tail}")));
                }
            }
        }
        found
    }

    #[test]
    fn the_document_is_openapi_3_named_versioned_and_declares_the_bearer_scheme() {
        let document = document();
        assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", document["openapi"]);
        assert_eq!(document["info"]["title"], "tocsin");
        assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(document["info"]["description"].as_str().is_some_and(|d| !d.is_empty()));
        assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        assert_eq!(document["security"], serde_json::json!([{"bearer": []}]), "every route needs a token");
        assert_eq!(
            document["paths"]["/api/v1/openapi.json"]["get"]["security"],
            serde_json::json!([{}]),
            "except the document itself"
        );
    }

    #[test]
    fn every_api_route_the_router_serves_is_documented_and_no_other() {
        let routed = routed();
        assert!(routed.len() > 20, "the source scan found the routes: {routed:?}");
        assert_eq!(routed, documented());
    }

    #[test]
    fn the_incident_schema_has_the_fields_spec_2_fixes() {
        let document = document();
        let incident = &document["components"]["schemas"]["Incident"]["properties"];
        for field in [
            "id",
            "status",
            "level",
            "score",
            "rule",
            "title",
            "opened_at",
            "acknowledged_at",
            "resolved_at",
            "mentions",
            "why",
        ] {
            assert!(incident.get(field).is_some(), "Incident lacks {field}: {incident}");
        }
        assert_eq!(incident["opened_at"]["format"], "date-time", "times are RFC 3339 strings");
        assert_eq!(
            document["components"]["schemas"]["Status"]["enum"],
            serde_json::json!(["open", "acknowledged", "resolved"])
        );
    }

    #[test]
    fn every_error_is_documented_as_the_error_body() {
        let document = document();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                for (status, response) in operation["responses"].as_object().expect("responses") {
                    if status.starts_with('4') {
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
    }
}
