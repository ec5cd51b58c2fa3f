//! Other tools acting on incidents: PagerDuty's and Opsgenie's acknowledgements and
//! resolutions, taken from their webhooks and recorded under the tool's name.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{ApiError, ApiState, ErrorBody};
use crate::config::ChannelKind;
use crate::incident::Action;
use crate::notify::opsgenie;
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
    let secrets = webhook_secrets(&state, ChannelKind::PagerDuty);
    let signature = headers.get("x-pagerduty-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !pagerduty::verify(&secrets, &bytes, signature) {
        return Err(unauthorized(
            &secrets,
            "X-PagerDuty-Signature is missing or signed by no configured webhook secret",
        ));
    }
    let payload: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("the body is not JSON: {e}")))?;
    let (incident_id, action) = match pagerduty::inbound(&payload) {
        Inbound::Acknowledge { incident_id } => (incident_id, Action::Acknowledge),
        Inbound::Resolve { incident_id } => (incident_id, Action::Resolve),
        Inbound::Ignored(detail) => return Ok(Json(InboundResult { result: "ignored", detail, incident: None })),
    };
    apply(&state, incident_id, action, pagerduty::ACTOR).await
}

/// An Opsgenie Webhook integration: `Acknowledge` and `Close` of an alert tocsin created
/// (its alias is `tocsin-incident-ID`) acknowledge or resolve the incident as `opsgenie`;
/// tocsin does not send that action back. Opsgenie signs nothing, so the integration sends
/// the shared secret from an opsgenie channel's `webhook_secret_env` in the custom header
/// `X-Tocsin-Token`; actions that tocsin's own requests caused, and other actions, are
/// answered 200 and ignored.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/opsgenie",
    tag = "integrations",
    security(("opsgenie_token" = [])),
    request_body(content = Object, description = "An Opsgenie webhook delivery", content_type = "application/json"),
    responses(
        (status = 200, description = "Applied, unchanged or ignored, and why", body = InboundResult),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No X-Tocsin-Token matching a configured secret", body = ErrorBody),
    )
)]
pub(super) async fn opsgenie_webhook<S: Store>(
    State(state): State<ApiState<S>>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Result<Json<InboundResult>, ApiError> {
    let secrets = webhook_secrets(&state, ChannelKind::Opsgenie);
    let token = headers.get(opsgenie::TOKEN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    // Compared as digests, so the time taken says nothing about how much of a guess matched.
    let presented = Sha256::digest(token.trim().as_bytes());
    if token.is_empty() || !secrets.iter().any(|s| Sha256::digest(s.as_bytes()) == presented) {
        return Err(unauthorized(&secrets, "X-Tocsin-Token is missing or matches no configured secret"));
    }
    let payload: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("the body is not JSON: {e}")))?;
    let (incident_id, action) = match opsgenie::inbound(&payload) {
        opsgenie::Inbound::Acknowledge { incident_id } => (incident_id, Action::Acknowledge),
        opsgenie::Inbound::Close { incident_id } => (incident_id, Action::Resolve),
        opsgenie::Inbound::Ignored(detail) => {
            return Ok(Json(InboundResult { result: "ignored", detail, incident: None }));
        }
    };
    apply(&state, incident_id, action, opsgenie::ACTOR).await
}

/// The secrets the channels of `kind` name in `webhook_secret_env`, read now (a rotated
/// secret takes effect without a restart).
fn webhook_secrets<S: Store>(state: &ApiState<S>, kind: ChannelKind) -> Vec<String> {
    state
        .pipeline
        .config()
        .channels
        .iter()
        .filter(|c| c.kind == kind)
        .filter_map(|c| c.webhook_secret_env.as_ref())
        .filter_map(|var| std::env::var(var).ok())
        .flat_map(|value| value.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

fn unauthorized(secrets: &[String], why: &str) -> ApiError {
    let why = if secrets.is_empty() { "no channel of this tool has a webhook_secret_env set to a secret" } else { why };
    ApiError::new(StatusCode::UNAUTHORIZED, why)
}

/// Applies a tool's action under its name: repeated deliveries change nothing, an incident
/// tocsin no longer has is ignored (answered 200, so the tool does not retry).
async fn apply<S: Store>(
    state: &ApiState<S>,
    incident_id: i64,
    action: Action,
    actor: &str,
) -> Result<Json<InboundResult>, ApiError> {
    let answer = match state.store.transition(incident_id, action, actor, state.clock.now()).await {
        Ok(incident) => {
            tracing::info!(incident = incident_id, action = action.past_tense(), %actor, "incident updated by another tool");
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
