//! Channel health: a channel that keeps failing trips a breaker, and one whose receiver
//! answered 410 Gone is disabled until someone re-enables it. While a channel is out, its
//! notices go to the policy's `fallback` channel (noted on the incident's timeline) rather
//! than piling up behind a dead endpoint. Pure: the store keeps the state, the outbox calls
//! [`ChannelHealth::after`] with each attempt's outcome.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// When a breaker trips and for how long (`[delivery]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failed attempts that open the breaker.
    pub failures: u32,
    /// How long an open breaker keeps notices away; then one attempt probes the channel.
    pub cooldown: Duration,
}

/// One channel's health as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChannelHealth {
    pub name: String,
    /// Consecutive failed attempts (0 after a delivery).
    pub failures: u32,
    /// The breaker is open until then: notices go to the fallback.
    pub open_until: Option<DateTime<Utc>>,
    /// Disabled (410 Gone, or by hand) since then, until re-enabled.
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
}

/// What one attempt came to, as far as the channel's health goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// A retryable failure or a permanent one: either counts against the channel.
    Failed,
    /// The receiver answered 410 Gone.
    Gone,
}

/// Whether a channel takes notices now; serialized with its `state` beside its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Availability {
    Up,
    /// Breaker open: try again at the time given, or use the fallback meanwhile.
    Tripped {
        until: DateTime<Utc>,
    },
    /// Disabled (410 Gone, or by hand) until re-enabled.
    Disabled {
        reason: String,
    },
}

impl ChannelHealth {
    /// A channel never seen failing.
    pub fn healthy(name: &str) -> ChannelHealth {
        ChannelHealth { name: name.to_owned(), failures: 0, open_until: None, disabled_at: None, disabled_reason: None }
    }

    pub fn availability(&self, now: DateTime<Utc>) -> Availability {
        if self.disabled_at.is_some() {
            return Availability::Disabled {
                reason: self.disabled_reason.clone().unwrap_or_else(|| "disabled".to_owned()),
            };
        }
        match self.open_until {
            Some(until) if until > now => Availability::Tripped { until },
            _ => Availability::Up,
        }
    }

    /// The health after an attempt at `now`. A delivery closes the breaker; the
    /// `failures`-th failure in a row opens it for the cool-down, and a failed probe after
    /// the cool-down opens it again at once; 410 disables the channel.
    pub fn after(&self, outcome: AttemptOutcome, now: DateTime<Utc>, settings: &BreakerSettings) -> ChannelHealth {
        let mut next = self.clone();
        match outcome {
            AttemptOutcome::Delivered => {
                next.failures = 0;
                next.open_until = None;
            }
            AttemptOutcome::Failed => {
                next.failures = self.failures.saturating_add(1);
                if next.failures >= settings.failures.max(1) {
                    next.open_until = Some(now + settings.cooldown);
                }
            }
            AttemptOutcome::Gone => {
                next.failures = self.failures.saturating_add(1);
                next.disabled_at = Some(now);
                next.disabled_reason = Some("the receiver answered 410 Gone".to_owned());
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid") + Duration::minutes(minutes)
    }

    const SETTINGS: BreakerSettings = BreakerSettings { failures: 3, cooldown: Duration::minutes(5) };

    #[test]
    fn failures_in_a_row_trip_the_breaker_a_delivery_resets_it_and_a_failed_probe_trips_it_again() {
        let mut health = ChannelHealth::healthy("oncall");
        for minute in 0..2 {
            health = health.after(AttemptOutcome::Failed, at(minute), &SETTINGS);
            assert_eq!(health.availability(at(minute)), Availability::Up);
        }
        health = health.after(AttemptOutcome::Failed, at(2), &SETTINGS);
        assert_eq!(health.availability(at(3)), Availability::Tripped { until: at(7) });
        assert_eq!(health.availability(at(7)), Availability::Up, "half open: one probe goes through");
        let probe_failed = health.after(AttemptOutcome::Failed, at(7), &SETTINGS);
        assert_eq!(probe_failed.availability(at(8)), Availability::Tripped { until: at(12) });
        let recovered = probe_failed.after(AttemptOutcome::Delivered, at(12), &SETTINGS);
        assert_eq!((recovered.failures, recovered.availability(at(12))), (0, Availability::Up));
    }

    #[test]
    fn gone_disables_the_channel_until_it_is_re_enabled() {
        let gone = ChannelHealth::healthy("slack").after(AttemptOutcome::Gone, at(0), &SETTINGS);
        assert!(matches!(gone.availability(at(60 * 24 * 365)), Availability::Disabled { .. }));
    }
}
