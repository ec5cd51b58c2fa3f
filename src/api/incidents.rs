//! Incidents and their response workflow: list, read, acknowledge, resolve, reopen,
//! assign, note, playbook steps, checklist and review.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiState, Caller, ErrorBody, Page, Responder, body, next_page, page_limit, query_time};
use crate::incident::review::Review;
use crate::incident::timeline::Event;
use crate::incident::{Action, Incident, Level, Status};
use crate::store::{Checklist, Entry, IncidentFilter, Store};

/// Filters and paging for the incident list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// Only incidents in this status.
    #[param(value_type = Option<Status>)]
    status: Option<String>,
    /// Only incidents of this rule (its id).
    rule: Option<String>,
    /// Only incidents of this brand (its `[[brand]]` name).
    brand: Option<String>,
    /// Only incidents at this level.
    #[param(value_type = Option<Level>)]
    level: Option<String>,
    /// Opened at or after this time (RFC 3339).
    #[param(format = DateTime)]
    since: Option<String>,
    /// Opened before this time (RFC 3339).
    #[param(format = DateTime)]
    until: Option<String>,
    /// The `next` of the previous page.
    cursor: Option<i64>,
    /// Page size, 1..500; 50 when not given.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Incidents, newest first: by status, rule, level and opening time, paged by cursor.
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    tag = "incidents",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of incidents", body = Page<Incident>),
        (status = 400, description = "A filter or the page size is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
pub(super) async fn list_incidents<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<Incident>>, ApiError> {
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
        brands: caller.brands.narrowed(query.brand.as_deref()),
    };
    let mut items = state.store.incidents(&filter).await?;
    let next = next_page(&mut items, limit, |i| i.id);
    Ok(Json(Page { items, next }))
}

/// One incident.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The incident", body = Incident),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
    )
)]
pub(super) async fn get_incident<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Incident>, ApiError> {
    Ok(Json(caller.incident(&state, id).await?))
}

/// An incident's timeline and whether its hash chain verifies.
#[derive(Serialize, ToSchema)]
pub(super) struct Timeline {
    /// Every event, oldest first.
    items: Vec<Event>,
    /// Whether each event's hash covers it and the one before: no event was edited, dropped
    /// or reordered.
    verified: bool,
}

/// An incident's timeline, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/timeline",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The timeline", body = Timeline),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
    )
)]
pub(super) async fn get_timeline<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Timeline>, ApiError> {
    caller.incident(&state, id).await?;
    let items = state.store.timeline(id).await?;
    let verified = crate::incident::timeline::verify(&items).is_ok();
    Ok(Json(Timeline { items, verified }))
}

/// Applies a workflow action to an incident as the caller, and wakes the outbox for the
/// notices it queued.
pub(super) async fn act<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: i64,
    action: Action,
) -> Result<Json<Incident>, ApiError> {
    caller.incident(state, id).await?;
    let actor = &caller.name;
    let incident = state.store.transition(id, action, actor, state.clock.now()).await?;
    tracing::info!(incident = id, %actor, action = action.past_tense(), "incident updated");
    state.wake_outbox.notify_one();
    Ok(Json(incident))
}

/// Acknowledges an open incident: escalation stops.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/ack",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The incident, acknowledged", body = Incident),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident's status does not allow it", body = ErrorBody),
    )
)]
pub(super) async fn acknowledge<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path(id): Path<i64>,
) -> Result<Json<Incident>, ApiError> {
    act(&state, &caller, id, Action::Acknowledge).await
}

/// Resolves an incident.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/resolve",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The incident, resolved", body = Incident),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident's status does not allow it", body = ErrorBody),
    )
)]
pub(super) async fn resolve<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path(id): Path<i64>,
) -> Result<Json<Incident>, ApiError> {
    act(&state, &caller, id, Action::Resolve).await
}

/// Reopens a resolved incident.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/reopen",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The incident, open again", body = Incident),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident's status does not allow it", body = ErrorBody),
    )
)]
pub(super) async fn reopen<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path(id): Path<i64>,
) -> Result<Json<Incident>, ApiError> {
    act(&state, &caller, id, Action::Reopen).await
}

/// Who to assign an incident to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AssignBody {
    /// The assignee's name; not empty.
    to: String,
}

/// A note for an incident's timeline.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NoteBody {
    /// The note; not empty.
    text: String,
}

/// A written status update for the people following an incident.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusUpdateBody {
    /// The update as it is sent; not empty, at most 2,000 characters.
    text: String,
}

/// A playbook step marked done, with an optional note.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StepBody {
    note: Option<String>,
}

pub(super) async fn record<S: Store>(
    state: &ApiState<S>,
    id: i64,
    entry: Entry,
    caller: &Caller,
) -> Result<Json<Incident>, ApiError> {
    caller.incident(state, id).await?;
    let incident = state.store.record(id, &entry, &caller.name, state.clock.now()).await?;
    // A status update queued notices; the other entries queue none and the wake costs nothing.
    state.wake_outbox.notify_one();
    Ok(Json(incident))
}

/// Assigns an incident to someone.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/assign",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    request_body = AssignBody,
    responses(
        (status = 200, description = "The incident, assigned", body = Incident),
        (status = 400, description = "The body is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 422, description = "No assignee given", body = ErrorBody),
    )
)]
pub(super) async fn assign<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path(id): Path<i64>,
    bytes: axum::body::Bytes,
) -> Result<Json<Incident>, ApiError> {
    let AssignBody { to } = body(&bytes)?;
    record(&state, id, Entry::Assign(to), &caller).await
}

/// Adds a note to an incident's timeline.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/note",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    request_body = NoteBody,
    responses(
        (status = 200, description = "The incident", body = Incident),
        (status = 400, description = "The body is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 422, description = "The note is empty or too long", body = ErrorBody),
    )
)]
pub(super) async fn note<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path(id): Path<i64>,
    bytes: axum::body::Bytes,
) -> Result<Json<Incident>, ApiError> {
    let NoteBody { text } = body(&bytes)?;
    record(&state, id, Entry::Note(text), &caller).await
}

/// Posts a written status update: it goes on the timeline and, as an
/// `incident.status_update` notice, to every channel the incident's escalation told so far
/// (its policy's first level when none was told yet).
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/update",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    request_body = StatusUpdateBody,
    responses(
        (status = 200, description = "The incident; the update is on its timeline and queued for its channels", body = Incident),
        (status = 400, description = "The body is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 422, description = "The update is empty or too long", body = ErrorBody),
    )
)]
pub(super) async fn status_update<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path(id): Path<i64>,
    bytes: axum::body::Bytes,
) -> Result<Json<Incident>, ApiError> {
    let StatusUpdateBody { text } = body(&bytes)?;
    record(&state, id, Entry::StatusUpdate(text), &caller).await
}

/// Marks a step of the incident's playbook done; the body may be empty.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/steps/{step}",
    tag = "incidents",
    params(
        ("id" = i64, Path, description = "The incident's id"),
        ("step" = String, Path, description = "The step's id in the incident's playbook"),
    ),
    request_body = Option<StepBody>,
    responses(
        (status = 200, description = "The incident", body = Incident),
        (status = 400, description = "The body is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 422, description = "No playbook, no such step, or the step is already done", body = ErrorBody),
    )
)]
pub(super) async fn step_done<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path((id, step)): Path<(i64, String)>,
    bytes: axum::body::Bytes,
) -> Result<Json<Incident>, ApiError> {
    let StepBody { note } = if bytes.is_empty() { StepBody::default() } else { body(&bytes)? };
    record(&state, id, Entry::StepDone { step, note }, &caller).await
}

/// An incident's playbook as a checklist: each step, when it is due, and who did it.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/checklist",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The checklist", body = Checklist),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
    )
)]
pub(super) async fn checklist<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Checklist>, ApiError> {
    caller.incident(&state, id).await?;
    Ok(Json(state.store.checklist(id).await?))
}

/// The review's format.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ReviewQuery {
    /// `json` (the default), `md` or `html`.
    format: Option<String>,
}

/// The post-incident review: JSON by default, `?format=md` or `?format=html`.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/review",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id"), ReviewQuery),
    responses(
        (status = 200, description = "The review: the incident, its key times, chart, playbook progress and \
                                      timeline", content(
            (Object = "application/json"),
            (String = "text/markdown"),
            (String = "text/html"),
        )),
        (status = 400, description = "The format is not json, md or html", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
    )
)]
pub(super) async fn review<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    Path(id): Path<i64>,
    query: Result<Query<ReviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    caller.incident(&state, id).await?;
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
