//! Notification channels: their health, and turning one off and on.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Admin, ApiError, ApiState, Caller, ErrorBody, Page, body};
use crate::notify::breaker::{Availability, ChannelHealth};
use crate::store::Store;

/// A channel and whether it takes notices now.
#[derive(Serialize, ToSchema)]
pub(super) struct ChannelStatus {
    availability: Availability,
    health: ChannelHealth,
}

/// The configured channels with their health; not paged.
#[utoipa::path(
    get,
    path = "/api/v1/channels",
    tag = "channels",
    responses(
        (status = 200, description = "Every configured channel (`next` is always null)", body = Page<ChannelStatus>),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
pub(super) async fn list_channels<S: Store>(
    State(state): State<ApiState<S>>,
    _caller: Caller,
) -> Result<Json<Page<ChannelStatus>>, ApiError> {
    let now = state.clock.now();
    let mut items = Vec::new();
    for name in state.channel_names.iter() {
        let health = state.store.channel_health(name).await?;
        items.push(ChannelStatus { availability: health.availability(now), health });
    }
    Ok(Json(Page { items, next: None }))
}

pub(super) fn known_channel<S>(state: &ApiState<S>, name: &str) -> Result<(), ApiError> {
    if state.channel_names.iter().any(|n| n == name) {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, format!("no channel named {name:?}")))
    }
}

/// Re-enables a channel disabled by hand or by a 410 Gone.
#[utoipa::path(
    post,
    path = "/api/v1/channels/{name}/enable",
    tag = "channels",
    params(("name" = String, Path, description = "The channel's name in the config")),
    responses(
        (status = 200, description = "The channel's health, enabled", body = ChannelHealth),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No channel of that name", body = ErrorBody),
    )
)]
pub(super) async fn enable_channel<S: Store>(
    State(state): State<ApiState<S>>,
    Admin(caller): Admin,
    Path(name): Path<String>,
) -> Result<Json<ChannelHealth>, ApiError> {
    known_channel(&state, &name)?;
    caller.require_every_brand("a channel")?;
    let actor = &caller.name;
    tracing::info!(channel = %name, %actor, "channel enabled");
    Ok(Json(state.store.set_channel_enabled(&name, true, "", state.clock.now()).await?))
}

/// Why a channel is disabled by hand.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DisableBody {
    /// Recorded as "disabled by <caller>: <reason>".
    reason: String,
}

/// Disables a channel: its notices go to the fallback until it is enabled again.
#[utoipa::path(
    post,
    path = "/api/v1/channels/{name}/disable",
    tag = "channels",
    params(("name" = String, Path, description = "The channel's name in the config")),
    request_body = DisableBody,
    responses(
        (status = 200, description = "The channel's health, disabled", body = ChannelHealth),
        (status = 400, description = "The body is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No channel of that name", body = ErrorBody),
    )
)]
pub(super) async fn disable_channel<S: Store>(
    State(state): State<ApiState<S>>,
    Admin(caller): Admin,
    Path(name): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<ChannelHealth>, ApiError> {
    known_channel(&state, &name)?;
    caller.require_every_brand("a channel")?;
    let actor = &caller.name;
    let DisableBody { reason } = body(&bytes)?;
    let reason = format!("disabled by {actor}: {}", reason.trim());
    Ok(Json(state.store.set_channel_enabled(&name, false, &reason, state.clock.now()).await?))
}
