//! The poller: one worker per feed that fetches on its schedule, parses, and hands the items
//! to the next stage. A failing feed backs off and logs one clear error per poll; it never
//! stops the others.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, watch};

use super::Mention;
use super::fetch::{self, FetchError, FetchLimits, FetchOutcome, Validators};
use super::parse;
use crate::store::{PollRecord, Store, StoreError};

/// Longest wait between polls of a failing feed.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Where polled items go: the next stage of the pipeline. Returns how many were new.
pub trait MentionSink: Send + Sync + 'static {
    fn accept(&self, mentions: Vec<Mention>) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

/// What the poller needs to know about one feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedTask {
    pub name: String,
    pub url: String,
    pub interval: Duration,
    pub lang: Option<String>,
}

/// Why one poll of a feed failed.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Parse(#[from] parse::ParseError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Poller<S, K> {
    pub store: Arc<S>,
    pub sink: Arc<K>,
    pub client: reqwest::Client,
    pub limits: FetchLimits,
    pub concurrency: Arc<Semaphore>,
    /// This daemon, as feed leases name it.
    pub holder: String,
}

/// How often a feed another daemon holds (or just polled) is looked at again.
const LEASE_RECHECK: Duration = Duration::from_secs(5);

/// The wait before the next poll: the interval after a success; after `failures` failures in
/// a row, the interval doubled per failure up to an hour, or longer if the server asked.
pub fn next_delay(interval: Duration, failures: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
    let base = if failures == 0 {
        interval
    } else {
        interval.saturating_mul(2u32.saturating_pow(failures.min(16))).min(MAX_BACKOFF.max(interval))
    };
    // ±10% so feeds configured alike drift apart instead of polling in lockstep.
    let jittered = base.mul_f64(1.0 + jitter.clamp(-1.0, 1.0) * 0.1);
    retry_after.map_or(jittered, |asked| jittered.max(asked))
}

impl<S: Store, K: MentionSink> Poller<S, K> {
    /// Polls one feed once: fetch, parse, hand over. Returns the feed's validators, how many
    /// items were new, and what the parser recovered from (`None` when nothing was fetched).
    pub async fn poll_once(
        &self,
        feed: &FeedTask,
        validators: &Validators,
    ) -> Result<(Validators, usize, Option<Vec<String>>), PollError> {
        let _slot = self.concurrency.acquire().await;
        let fetched_at = Utc::now();
        let outcome = fetch::fetch(&self.client, &feed.url, validators, &self.limits).await?;
        let FetchOutcome::Fetched { body, content_type, validators, final_url } = outcome else {
            return Ok((validators.clone(), 0, None));
        };
        // Parsing a feed of many megabytes takes a while; on a blocking thread it does not
        // hold up the runtime's workers, which serve the API and the other feeds' fetches.
        let name = feed.name.clone();
        let parsed = tokio::task::spawn_blocking(move || {
            parse::parse_feed(&name, &body, content_type.as_deref(), Some(&final_url), fetched_at)
        })
        .await
        .map_err(|_| parse::ParseError::Malformed("the feed parser stopped unexpectedly".to_owned()))??;
        for problem in &parsed.problems {
            tracing::info!(feed = %feed.name, %problem, "feed recovered from a problem");
        }
        let problems = parsed.problems;
        let items = parsed
            .items
            .into_iter()
            .map(|mut mention| {
                // The user's `lang` for the feed beats what the document declares: CMS
                // templates often declare a default language whatever the text is.
                if feed.lang.is_some() {
                    mention.lang.clone_from(&feed.lang);
                }
                mention
            })
            .collect();
        let new = self.sink.accept(items).await?;
        Ok((validators, new, Some(problems)))
    }

    /// Polls a feed on its schedule until `shutdown` turns true. A poll in progress finishes
    /// before the worker stops.
    ///
    /// The feed's state lives in the store, shared by every daemon on it: before each poll
    /// the worker takes the feed's lease, which also tells it what another daemon did since.
    pub async fn run_feed(&self, feed: FeedTask, mut shutdown: watch::Receiver<bool>) {
        let mut next_at: Option<DateTime<Utc>> = match self.store.feed_state(&feed.name).await {
            Ok(state) => state.and_then(|s| s.next_poll_at),
            Err(e) => {
                tracing::error!(feed = %feed.name, error = %e, "cannot read feed state");
                None
            }
        };
        // Long enough for a fetch that runs to its timeout and the ingest after it; short
        // enough that a dead daemon's feeds are soon taken over.
        let lease = chrono_delay(self.limits.timeout.saturating_mul(2).saturating_add(Duration::from_secs(10)));
        loop {
            let wait = next_at.map_or(Duration::ZERO, |at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            let now = Utc::now();
            let state = match self.store.lease_feed(&feed.name, &self.holder, now, now + lease).await {
                Ok(Some(state)) => state,
                Ok(None) => {
                    // Another daemon holds it or just polled it: look again when it is due.
                    let due = self.store.feed_state(&feed.name).await.ok().flatten().and_then(|s| s.next_poll_at);
                    next_at = Some(due.filter(|due| *due > now).unwrap_or(now + chrono_delay(LEASE_RECHECK)));
                    continue;
                }
                Err(e) => {
                    tracing::error!(feed = %feed.name, error = %e, "cannot lease feed");
                    next_at = Some(now + chrono_delay(LEASE_RECHECK));
                    continue;
                }
            };
            let validators = state.validators.clone();
            let mut failures = u32::try_from(state.consecutive_failures).unwrap_or(u32::MAX);
            let jitter = rand::random::<f64>() * 2.0 - 1.0;
            let record = match self.poll_once(&feed, &validators).await {
                Ok((fresh, new_items, problems)) => {
                    metrics::counter!("tocsin_polls_total", "result" => "ok").increment(1);
                    tracing::debug!(feed = %feed.name, new_items, "polled");
                    let next = now + chrono_delay(next_delay(feed.interval, 0, None, jitter));
                    PollRecord::Success {
                        validators: fresh,
                        new_items: i64::try_from(new_items).unwrap_or(i64::MAX),
                        next_poll_at: next,
                        problems,
                    }
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let retry_after = match &error {
                        PollError::Fetch(FetchError::Status { retry_after, .. }) => *retry_after,
                        _ => None,
                    };
                    metrics::counter!("tocsin_polls_total", "result" => "error").increment(1);
                    tracing::warn!(feed = %feed.name, url = %feed.url, failures, error = %error, "poll failed");
                    let next = now + chrono_delay(next_delay(feed.interval, failures, retry_after, jitter));
                    PollRecord::Failure { error: error.to_string(), next_poll_at: next }
                }
            };
            next_at = Some(match &record {
                PollRecord::Success { next_poll_at, .. } | PollRecord::Failure { next_poll_at, .. } => *next_poll_at,
            });
            if let Err(e) = self.store.record_poll(&feed.name, &record, now).await {
                tracing::error!(feed = %feed.name, error = %e, "cannot record poll");
            }
        }
    }
}

fn chrono_delay(delay: Duration) -> chrono::Duration {
    chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_exponentially_to_an_hour_and_honour_retry_after() {
        let minute = Duration::from_secs(60);
        assert_eq!(next_delay(minute, 0, None, 0.0), minute);
        assert_eq!(next_delay(minute, 3, None, 0.0), minute * 8);
        assert_eq!(next_delay(minute, 12, None, 0.0), MAX_BACKOFF);
        assert_eq!(next_delay(minute, 1, Some(minute * 10), 0.0), minute * 10);
        assert_eq!(next_delay(minute, 0, None, 1.0), Duration::from_secs(66));
    }
}
