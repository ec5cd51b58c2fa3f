//! Other tools acting on incidents: PagerDuty's acknowledgements and resolutions, taken
//! from its signed webhooks and recorded under PagerDuty's name.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, ApiState, ErrorBody};
use crate::config::ChannelKind;
use crate::incident::Action;
use crate::notify::pagerduty::{self, Inbound};
use crate::store::{Store, StoreError};

/// What a delivery from another tool did.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundResult {
    /// `applied`, `unchanged` (the incident was already there, as when a delivery is
    /// repeated) or `ignored` (nothing tocsin tracks).
    pub result: &'static str,
    pub detail: String,
    /// The incident it acted on.
    pub incident: Option<i64>,
}

/// A PagerDuty v3 webhook: `incident.acknowledged` and `incident.resolved` of an alert
/// tocsin triggered (its `incident_key` is tocsin's `dedup_key`) acknowledge or resolve the
/// incident as `pagerduty`; tocsin does not send that action back to PagerDuty. Signed with
/// `X-PagerDuty-Signature: v1=<hex HMAC-SHA256>` by the secret in a pagerduty channel's
/// `webhook_secret_env`; other event types are answered 200 and ignored, so PagerDuty does
/// not retry them.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/pagerduty",
    tag = "integrations",
    security(("pagerduty_signature" = [])),
    request_body(content = Object, description = "A PagerDuty v3 webhook delivery", content_type = "application/json"),
    responses(
        (status = 200, description = "Applied, unchanged or ignored, and why", body = InboundResult),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No signature by a configured webhook secret", body = ErrorBody),
    )
)]
pub(super) async fn pagerduty_webhook<S: Store>(
    State(state): State<ApiState<S>>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Result<Json<InboundResult>, ApiError> {
    let secrets: Vec<String> = state
        .pipeline
        .config()
        .channels
        .iter()
        .filter(|c| c.kind == ChannelKind::PagerDuty)
        .filter_map(|c| c.webhook_secret_env.as_ref())
        .filter_map(|var| std::env::var(var).ok())
        .flat_map(|value| value.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    let signature = headers.get("x-pagerduty-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !pagerduty::verify(&secrets, &bytes, signature) {
        let why = if secrets.is_empty() {
            "no pagerduty channel has a webhook_secret_env set to a secret"
        } else {
            "X-PagerDuty-Signature is missing or signed by no configured webhook secret"
        };
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, why));
    }
    let payload: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("the body is not JSON: {e}")))?;
    let (incident_id, action) = match pagerduty::inbound(&payload) {
        Inbound::Acknowledge { incident_id } => (incident_id, Action::Acknowledge),
        Inbound::Resolve { incident_id } => (incident_id, Action::Resolve),
        Inbound::Ignored(detail) => return Ok(Json(InboundResult { result: "ignored", detail, incident: None })),
    };
    let answer = match state.store.transition(incident_id, action, pagerduty::ACTOR, state.clock.now()).await {
        Ok(incident) => {
            tracing::info!(incident = incident_id, action = action.past_tense(), "incident updated from PagerDuty");
            state.wake_outbox.notify_one();
            InboundResult {
                result: "applied",
                detail: format!("incident {} is {}", incident.id, incident.status.as_str()),
                incident: Some(incident_id),
            }
        }
        Err(StoreError::Transition(refused)) => {
            InboundResult { result: "unchanged", detail: refused.to_string(), incident: Some(incident_id) }
        }
        Err(StoreError::NoIncident(_)) => {
            InboundResult { result: "ignored", detail: format!("no incident {incident_id}"), incident: None }
        }
        Err(other) => return Err(other.into()),
    };
    Ok(Json(answer))
}
