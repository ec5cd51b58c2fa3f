//! Stored mentions: search, and mentions pushed by other tools.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Admin, ApiError, ApiState, Caller, ErrorBody, Page, next_page, page_limit, query_time};
use crate::ingest::push::PushBody;
use crate::store::{IngestOutcome, MentionFilter, Store, StoredMention};

/// Filters and paging for the mention search.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct MentionQuery {
    /// Text in the title or body.
    q: Option<String>,
    /// Only mentions that matched this rule (its id).
    rule: Option<String>,
    /// Only mentions from this feed (its name).
    feed: Option<String>,
    /// Only mentions about this brand (its `[[brand]]` name).
    brand: Option<String>,
    /// Fetched at or after this time (RFC 3339).
    #[param(format = DateTime)]
    since: Option<String>,
    /// Fetched before this time (RFC 3339).
    #[param(format = DateTime)]
    until: Option<String>,
    /// The `next` of the previous page.
    cursor: Option<i64>,
    /// Page size, 1..500; 50 when not given.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Stored mentions, newest first: by text, rule, feed and fetch time, paged by cursor.
#[utoipa::path(
    get,
    path = "/api/v1/mentions",
    tag = "mentions",
    params(MentionQuery),
    responses(
        (status = 200, description = "A page of mentions", body = Page<StoredMention>),
        (status = 400, description = "A filter or the page size is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
pub(super) async fn search_mentions<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    query: Result<Query<MentionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<StoredMention>>, ApiError> {
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
        brands: caller.brands.narrowed(query.brand.as_deref()),
    };
    let mut items = state.store.mentions(&filter).await?;
    let next = next_page(&mut items, limit, |m| m.id);
    Ok(Json(Page { items, next }))
}

/// What a push did.
#[derive(Serialize, ToSchema)]
pub(super) struct Pushed {
    /// Mentions already stored (same feed and id): nothing was written for them.
    duplicates: u64,
    /// Incidents the pushed mentions opened or reopened.
    opened: Vec<i64>,
    /// Mentions stored.
    stored: u64,
}

/// Mentions pushed by other tools go through the same pipeline (and dedup) as polled ones.
#[utoipa::path(
    post,
    path = "/api/v1/mentions",
    tag = "mentions",
    request_body(content = PushBody, description = "One mention or a list of them"),
    responses(
        (status = 200, description = "The mentions were processed", body = Pushed),
        (status = 400, description = "The body is not mention JSON, or a mention has neither title nor body", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
pub(super) async fn push_mentions<S: Store>(
    State(state): State<ApiState<S>>,
    Admin(caller): Admin,
    body: axum::body::Bytes,
) -> Result<Json<Pushed>, ApiError> {
    caller.require_every_brand("a pushed mention is judged for every brand it names, so pushing")?;
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
    let mut outcome = Pushed { duplicates: 0, opened: Vec::new(), stored: 0 };
    for ingested in state.pipeline.process_all(mentions).await? {
        match ingested {
            IngestOutcome::Duplicate => outcome.duplicates += 1,
            IngestOutcome::Stored { opened, .. } => {
                outcome.stored += 1;
                outcome.opened.extend(opened);
            }
        }
    }
    Ok(Json(outcome))
}
