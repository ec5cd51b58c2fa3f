//! Silences that hold back matching mentions.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{Admin, ApiError, ApiState, Caller, ErrorBody, Page, body};
use crate::config::HumanDuration;
use crate::incident::silence::{NewSilence, Scope, Silence};
use crate::store::Store;

/// Which silences to list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct SilenceQuery {
    /// Also list silences that are over; only those in force when not given.
    all: Option<bool>,
}

/// Silences, in force only unless `all=true`; not paged.
#[utoipa::path(
    get,
    path = "/api/v1/silences",
    tag = "silences",
    params(SilenceQuery),
    responses(
        (status = 200, description = "The silences (`next` is always null)", body = Page<Silence>),
        (status = 400, description = "The query is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
pub(super) async fn list_silences<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    query: Result<Query<SilenceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<Silence>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let active_at = (!query.all.unwrap_or(false)).then(|| state.clock.now());
    let mut items = state.store.silences(active_at).await?;
    // A silence of every brand holds back the caller's brands' incidents too: it is theirs to see.
    items.retain(|silence| silence.brand.is_none() || caller.brands.sees(silence.brand.as_deref()));
    Ok(Json(Page { items, next: None }))
}

/// A new silence: exactly one of `rule`, `feed`, `tag` or `query`, how long, and why.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SilenceBody {
    /// Silence matches of this rule (its id).
    rule: Option<String>,
    /// Silence mentions from this feed (its name).
    feed: Option<String>,
    /// Silence mentions from feeds with this tag.
    tag: Option<String>,
    /// Silence mentions this rule-language query is true for.
    query: Option<String>,
    /// Hold back this brand's incidents only (its `[[brand]]` name); a brand-limited
    /// token must name one of its brands.
    brand: Option<String>,
    /// How long, as a human duration (`2h`, `30m`).
    #[serde(rename = "for")]
    duration: String,
    reason: String,
}

/// Adds a silence, in force from now.
#[utoipa::path(
    post,
    path = "/api/v1/silences",
    tag = "silences",
    request_body = SilenceBody,
    responses(
        (status = 201, description = "The silence, as stored", body = Silence),
        (status = 400, description = "The body is not valid: not exactly one scope, a bad duration, an unknown \
                                      rule or a query that does not parse", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
pub(super) async fn add_silence<S: Store>(
    State(state): State<ApiState<S>>,
    Admin(caller): Admin,
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
    let brand = silence.brand.map(|b| b.trim().to_owned()).filter(|b| !b.is_empty());
    if let Some(refusal) = caller.brands.silence_refusal(&caller.name, brand.as_deref()) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, refusal));
    }
    let new = NewSilence {
        scope,
        value: value.trim().to_owned(),
        reason: silence.reason.trim().to_owned(),
        created_by: caller.name,
        created_at: now,
        ends_at: now + length.chrono(),
        brand,
    };
    state.pipeline.check_silence(&new).map_err(bad)?;
    Ok((StatusCode::CREATED, Json(state.store.add_silence(&new).await?)))
}

/// Ends a silence early.
#[utoipa::path(
    post,
    path = "/api/v1/silences/{id}/end",
    tag = "silences",
    params(("id" = i64, Path, description = "The silence's id")),
    responses(
        (status = 200, description = "The silence, ended", body = Silence),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such silence", body = ErrorBody),
        (status = 422, description = "The silence is already over", body = ErrorBody),
    )
)]
pub(super) async fn end_silence<S: Store>(
    State(state): State<ApiState<S>>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
) -> Result<Json<Silence>, ApiError> {
    if let Some(silence) = state.store.silence(id).await?
        && let Some(refusal) = caller.brands.silence_refusal(&caller.name, silence.brand.as_deref())
    {
        return Err(ApiError::new(StatusCode::FORBIDDEN, refusal));
    }
    Ok(Json(state.store.end_silence(id, &caller.name, state.clock.now()).await?))
}
