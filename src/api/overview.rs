//! The brand overview: volume and sentiment over time, by rule, source and language, the
//! day's stories, what is rising against its baseline, and share of voice against
//! competitors.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiState, BrandScope, Caller, ErrorBody, period_start, query_time};
use crate::figures::{OVERVIEW_INCIDENTS, OVERVIEW_MENTIONS, Overview, bucket_of, summarize};
use crate::incident::Status;
use crate::store::{IncidentFilter, Store};

/// Stories listed per brand.
const VOICE_STORIES: i64 = 5;

/// Share of voice over a period: each configured brand's and competitor's mentions side by
/// side, in config order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareOfVoice {
    /// `24h`, `7d` or `30d`.
    pub period: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub brands: Vec<BrandShare>,
}

/// One brand's row of the share of voice.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrandShare {
    #[serde(flatten)]
    pub voice: crate::store::BrandVoice,
    /// Watched for comparison; its crises open no incident.
    pub competitor: bool,
    /// Its mentions over all the rows' mentions, 0..1.
    pub share: f64,
}

/// Share of voice over the `period` ending at `to`, for the brands `scope` sees and every
/// competitor (market data, no client's).
pub async fn share_of_voice<S: Store>(
    state: &ApiState<S>,
    scope: &BrandScope,
    period: &str,
    to: DateTime<Utc>,
) -> Result<ShareOfVoice, ApiError> {
    let from = period_start(period, to)?;
    let shown: Vec<&crate::config::BrandConfig> = state
        .pipeline
        .config()
        .brands
        .iter()
        .filter(|brand| brand.competitor || scope.sees(Some(brand.name.get_ref())))
        .collect();
    let names: Vec<String> = shown.iter().map(|brand| brand.name.get_ref().clone()).collect();
    let voices = state.store.share_of_voice(&names, from, to, VOICE_STORIES).await?;
    let total: i64 = voices.iter().map(|voice| voice.mentions).sum();
    let brands = voices
        .into_iter()
        .zip(&shown)
        .map(|(voice, brand)| BrandShare {
            share: if total > 0 { voice.mentions as f64 / total as f64 } else { 0.0 },
            competitor: brand.competitor,
            voice,
        })
        .collect();
    Ok(ShareOfVoice { period: period.to_owned(), from, to, brands })
}

/// The period of a share-of-voice request.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct VoiceQuery {
    /// `24h` (the default), `7d` or `30d`.
    period: Option<String>,
    /// The end of the period (RFC 3339); now when not given.
    #[param(format = DateTime)]
    until: Option<String>,
}

/// Share of voice: per brand and competitor, mention volume, its share, mean sentiment,
/// negative mentions, rule matches and top stories over a period.
#[utoipa::path(
    get,
    path = "/api/v1/share-of-voice",
    tag = "mentions",
    params(VoiceQuery),
    responses(
        (status = 200, description = "Each brand the token sees, and every competitor", body = ShareOfVoice),
        (status = 400, description = "The period or time is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
pub(super) async fn get_share_of_voice<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    query: Result<Query<VoiceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ShareOfVoice>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let to = query_time("until", query.until.as_deref())?.unwrap_or_else(|| state.clock.now());
    Ok(Json(share_of_voice(&state, &caller.brands, query.period.as_deref().unwrap_or("24h"), to).await?))
}

/// The overview over the `period` ending at `to`, of the brands `scope` sees (narrowed to
/// `brand`), of one rule's matches when `rule` is given.
pub async fn overview<S: Store>(
    state: &ApiState<S>,
    scope: &BrandScope,
    asked: &OverviewAsk<'_>,
    to: DateTime<Utc>,
) -> Result<Overview, ApiError> {
    let from = period_start(asked.period, to)?;
    let brands = scope.narrowed(asked.brand);
    let mut rows = state.store.overview_rows(from, to, brands.as_deref(), OVERVIEW_MENTIONS).await?;
    let truncated = rows.len() >= usize::try_from(OVERVIEW_MENTIONS).unwrap_or(usize::MAX);
    if let Some(rule) = asked.rule {
        rows.retain(|row| row.rules.iter().any(|matched| matched == rule));
    }
    let window = state.pipeline.config().risk.spike().window;
    let mut overview = summarize(&rows, from, to, bucket_of(asked.period), window);
    overview.period = asked.period.to_owned();
    overview.truncated = truncated;
    for status in [Status::Open, Status::Acknowledged] {
        let filter = IncidentFilter {
            status: Some(status),
            limit: OVERVIEW_INCIDENTS,
            brands: brands.clone(),
            ..IncidentFilter::default()
        };
        overview.incidents.extend(state.store.incidents(&filter).await?);
    }
    overview.incidents.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| b.opened_at.cmp(&a.opened_at)));
    Ok(overview)
}

/// What an overview is asked for.
pub struct OverviewAsk<'a> {
    /// `24h`, `7d` or `30d`.
    pub period: &'a str,
    pub brand: Option<&'a str>,
    pub rule: Option<&'a str>,
}

/// The period, brand and rule of an overview request.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct OverviewQuery {
    /// `24h` (the default), `7d` or `30d`.
    period: Option<String>,
    /// The end of the period (RFC 3339); now when not given.
    #[param(format = DateTime)]
    until: Option<String>,
    /// Only this brand's mentions (its `[[brand]]` name).
    brand: Option<String>,
    /// Only this rule's matches (its id).
    rule: Option<String>,
}

/// The brand overview: mention volume and mean sentiment over time, overall and per rule,
/// by source and language, the largest stories, what is rising and the open incidents.
#[utoipa::path(
    get,
    path = "/api/v1/overview",
    tag = "mentions",
    params(OverviewQuery),
    responses(
        (status = 200, description = "The overview of the brands the token sees", body = Overview),
        (status = 400, description = "The period or time is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
pub(super) async fn get_overview<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    query: Result<Query<OverviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Overview>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let to = query_time("until", query.until.as_deref())?.unwrap_or_else(|| state.clock.now());
    let asked = OverviewAsk {
        period: query.period.as_deref().unwrap_or("24h"),
        brand: query.brand.as_deref(),
        rule: query.rule.as_deref(),
    };
    Ok(Json(overview(&state, &caller.brands, &asked, to).await?))
}
