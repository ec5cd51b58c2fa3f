//! Live updates: a Server-Sent Events stream of what changed in the store, for the
//! dashboard's pages (they refresh their live parts and announce new critical incidents)
//! and for any client that would rather listen than poll.
//!
//! The stream reads the store, not this process's memory, so a change made by another
//! daemon on the same PostgreSQL database, or by the CLI, reaches every open page too.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiState, BrandScope, Caller, ErrorBody};
use crate::incident::Incident;
use crate::store::Store;

/// How often the stream looks at the store: a page shows a change within this.
const LOOK_EVERY: Duration = Duration::from_secs(2);

/// Timeline events read back behind the newest one seen. Ids are handed out when a
/// transaction writes, not when it commits, so on PostgreSQL a slow transaction can commit
/// an id below one already read; looking back this far catches it, and ids already sent are
/// skipped.
const LOOK_BACK: i64 = 256;

/// Events read per look; more wait for the next one.
const EVENTS_PER_LOOK: i64 = 500;

/// Which changes to stream.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct EventsQuery {
    /// Only this incident's changes (and no `mentions` events).
    incident: Option<i64>,
}

/// An `incident` event: the incident as it stands now, and what happened to it since the
/// last event (timeline kinds, oldest first: `opened`, `level_changed`, `acknowledged`...).
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentChange {
    pub incident: Incident,
    pub kinds: Vec<String>,
}

/// A `mentions` event: mentions were stored since the last one.
#[derive(Debug, Serialize, ToSchema)]
pub struct MentionsStored {
    /// The newest mention's id.
    pub last: i64,
    /// Mentions stored since the last event (by id; a pushed batch counts whole).
    pub new: i64,
}

/// A live stream of changes, as `text/event-stream`: an `incident` event
/// ([`IncidentChange`]) for each incident whose timeline grew, and a `mentions` event
/// ([`MentionsStored`]) when mentions were stored (only to callers who see every brand: it
/// counts all of them). Each `incident` event's SSE id is the newest timeline event it
/// covers; a client that reconnects with `Last-Event-ID` (as browsers do) gets what it missed.
/// A brand-limited caller gets only its brands' incidents.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "live",
    params(EventsQuery),
    responses(
        (status = 200, description = "The stream: `incident` and `mentions` events", content_type = "text/event-stream", body = IncidentChange),
        (status = 400, description = "A filter is not valid", body = ErrorBody),
        (status = 401, description = "No token or session, or an unknown one", body = ErrorBody),
        (status = 403, description = "The incident is another brand's", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
    )
)]
pub(super) async fn events<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    if let Some(id) = query.incident {
        caller.incident(&state, id).await?;
    }
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    let start = match state.store.activity().await {
        Ok(activity) => activity,
        Err(e) => {
            tracing::warn!(error = %e, "live stream: cannot read the store's activity; starting from nothing");
            crate::store::Activity::default()
        }
    };
    let watcher = Watcher {
        stopping: state.stopping.clone(),
        mentions: query.incident.is_none() && caller.brands.limit().is_none(),
        only: query.incident,
        scope: caller.brands,
        cursor: resume.unwrap_or(start.last_event),
        before: resume.unwrap_or(start.last_event),
        sent: BTreeSet::new(),
        last_mention: start.last_mention,
        pending: VecDeque::new(),
        state,
    };
    let stream = stream::unfold(watcher, |mut watcher| async move {
        loop {
            if let Some(event) = watcher.pending.pop_front() {
                return Some((Ok(event), watcher));
            }
            let mut stopping = watcher.stopping.clone();
            tokio::select! {
                _ = tokio::time::sleep(LOOK_EVERY) => {}
                // The daemon is stopping: end the stream so the server can finish.
                _ = stopping.wait_for(|stop| *stop) => return None,
            }
            watcher.look().await;
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One client's view of the store: what it was sent so far.
struct Watcher<S> {
    state: ApiState<S>,
    stopping: watch::Receiver<bool>,
    scope: BrandScope,
    only: Option<i64>,
    /// Whether this client gets `mentions` events.
    mentions: bool,
    /// The newest timeline event seen.
    cursor: i64,
    /// Where the stream started: events up to here are the page's own starting point.
    before: i64,
    /// Events sent within [`LOOK_BACK`] of the cursor.
    sent: BTreeSet<i64>,
    last_mention: i64,
    pending: VecDeque<Event>,
}

impl<S: Store> Watcher<S> {
    /// Reads what changed since the last look and queues an event for each.
    async fn look(&mut self) {
        let marks = match self.state.store.events_after(self.cursor.saturating_sub(LOOK_BACK), EVENTS_PER_LOOK).await {
            Ok(marks) => marks,
            Err(e) => {
                tracing::warn!(error = %e, "live stream: cannot read the timeline");
                return;
            }
        };
        let mut changed: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for mark in marks {
            if mark.id <= self.before || !self.sent.insert(mark.id) {
                continue;
            }
            self.cursor = self.cursor.max(mark.id);
            if self.only.is_none_or(|only| only == mark.incident_id) {
                changed.entry(mark.incident_id).or_default().push(mark.kind);
            }
        }
        let floor = self.cursor.saturating_sub(LOOK_BACK);
        self.sent = self.sent.split_off(&floor);
        for (id, kinds) in changed {
            match self.state.store.incident(id).await {
                Ok(Some(incident)) if self.scope.sees(incident.brand.as_deref()) => {
                    let change = IncidentChange { incident, kinds };
                    if let Ok(event) = Event::default().event("incident").id(self.cursor.to_string()).json_data(&change)
                    {
                        self.pending.push_back(event);
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, incident = id, "live stream: cannot read an incident"),
            }
        }
        if self.mentions {
            match self.state.store.activity().await {
                Ok(activity) if activity.last_mention > self.last_mention => {
                    let stored =
                        MentionsStored { last: activity.last_mention, new: activity.last_mention - self.last_mention };
                    self.last_mention = activity.last_mention;
                    if let Ok(event) = Event::default().event("mentions").json_data(&stored) {
                        self.pending.push_back(event);
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "live stream: cannot read the store's activity"),
            }
        }
    }
}
