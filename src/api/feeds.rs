//! The polled feeds and their health.

use axum::Json;
use axum::extract::State;

use super::{ApiError, ApiState, Caller, ErrorBody, Page};
use crate::store::{FeedState, Store};

/// The configured feeds with their poll state; not paged.
#[utoipa::path(
    get,
    path = "/api/v1/feeds",
    tag = "feeds",
    responses(
        (status = 200, description = "Every feed (`next` is always null)", body = Page<FeedState>),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
pub(super) async fn list_feeds<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
) -> Result<Json<Page<FeedState>>, ApiError> {
    let mut items = state.store.feed_states().await?;
    items.retain(|feed| {
        state.pipeline.is_configured_feed(&feed.name) && caller.brands.sees(state.pipeline.feed_brand(&feed.name))
    });
    Ok(Json(Page { items, next: None }))
}
