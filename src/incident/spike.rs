//! Spike detection: is a group's volume in the last `spike_window` far above its own normal?
//!
//! The baseline is the group's average rate over its history before the current window
//! (up to `spike_baseline` back). Volume is taken to be Poisson around that rate, and the
//! window is a spike when seeing at least this many mentions would be rarer than
//! `spike_p_value` (one in a thousand by default), with at least `spike_min_count`
//! mentions in the window so a quiet group going from 0 to 2 is not a crisis. A big brand
//! with 200 mentions every quarter hour is not spiking at 220; a niche rule going from 1 to
//! 12 is.
//!
//! No verdict before the group has `spike_min_history` of data (a new rule's first hour is
//! all "above baseline"), and none within `spike_cooldown` of the group's last spike (one
//! storm raises the level once, not on every mention of it).

use chrono::{DateTime, Duration, Utc};

/// The spike settings (`[risk]` in the config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeSettings {
    pub window: Duration,
    pub min_history: Duration,
    /// How far back the baseline looks.
    pub baseline: Duration,
    pub cooldown: Duration,
    pub p_value: f64,
    pub min_count: u64,
}

/// A group's volume around the mention being decided, as the store counts it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Volume {
    /// The time the window ends at (the mention's time).
    pub at: DateTime<Utc>,
    /// Mentions in `(at - window, at]`, this one included.
    pub in_window: u64,
    /// Mentions in `[at - baseline, at - window]`.
    pub before_window: u64,
    /// The group's first mention, if any came before this one.
    pub first_at: Option<DateTime<Utc>>,
    /// When the group last spiked.
    pub last_spike_at: Option<DateTime<Utc>>,
}

/// What the detector says about a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Not enough history yet to call anything a spike.
    ColdStart,
    /// Spiked recently; quiet until the cool-down ends.
    CoolingDown,
    Normal {
        expected: f64,
        p: f64,
    },
    Spike {
        expected: f64,
        p: f64,
    },
}

impl Verdict {
    pub fn is_spike(&self) -> bool {
        matches!(self, Verdict::Spike { .. })
    }
}

/// Judges one window (see the module docs).
pub fn judge(volume: &Volume, settings: &SpikeSettings) -> Verdict {
    let Some(first_at) = volume.first_at else {
        return Verdict::ColdStart;
    };
    let history = volume.at - first_at;
    if history < settings.min_history {
        return Verdict::ColdStart;
    }
    if volume.last_spike_at.is_some_and(|last| volume.at - last < settings.cooldown) {
        return Verdict::CoolingDown;
    }
    // The baseline spans the history before the window, at most `baseline` of it.
    let span = (history - settings.window).min(settings.baseline - settings.window);
    let windows = span.num_milliseconds() as f64 / settings.window.num_milliseconds().max(1) as f64;
    // Half a mention over the whole history when there was none: a group that has been
    // silent for days still needs a real burst, not one mention, to spike.
    let expected = (volume.before_window as f64).max(0.5) / windows.max(1.0);
    let p = poisson_tail(expected, volume.in_window);
    if volume.in_window >= settings.min_count && p < settings.p_value {
        Verdict::Spike { expected, p }
    } else {
        Verdict::Normal { expected, p }
    }
}

/// P(X ≥ k) for X ~ Poisson(λ), summed term by term in log space so large counts neither
/// overflow nor lose a tiny tail to rounding.
pub fn poisson_tail(lambda: f64, k: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if !(lambda > 0.0 && lambda.is_finite()) {
        return 0.0;
    }
    let ln_lambda = lambda.ln();
    if lambda < k as f64 {
        // The terms fall from i = k on: sum the tail itself, since 1 − head would round a
        // tiny tail to zero.
        let ln_k_factorial: f64 = (1..=k).map(|i| (i as f64).ln()).sum();
        let mut log_term = -lambda + k as f64 * ln_lambda - ln_k_factorial;
        let (mut tail, mut i) = (0.0f64, k);
        loop {
            let term = log_term.exp();
            tail += term;
            if term <= tail * 1e-16 {
                break;
            }
            i += 1;
            log_term += ln_lambda - (i as f64).ln();
        }
        tail.min(1.0)
    } else {
        // The k head terms rise towards the mode at λ ≥ k, so 1 − head is well conditioned.
        let (mut log_term, mut head) = (-lambda, 0.0f64);
        for i in 0..k {
            head += log_term.exp();
            log_term += ln_lambda - ((i + 1) as f64).ln();
        }
        (1.0 - head).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SpikeSettings {
        SpikeSettings {
            window: Duration::minutes(15),
            min_history: Duration::hours(2),
            baseline: Duration::days(7),
            cooldown: Duration::hours(1),
            p_value: 0.001,
            min_count: 5,
        }
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid") + Duration::minutes(minutes)
    }

    #[test]
    fn the_poisson_tail_matches_known_values() {
        assert_eq!(poisson_tail(3.0, 0), 1.0);
        // P(X >= 1) = 1 - e^-3
        assert!((poisson_tail(3.0, 1) - (1.0 - (-3.0f64).exp())).abs() < 1e-12);
        // P(X >= 10 | λ = 2) = 4.6498e-5
        assert!((poisson_tail(2.0, 10) - 4.6498e-5).abs() < 1e-8, "{}", poisson_tail(2.0, 10));
        // The two cases docs/risk.md quotes.
        assert!((poisson_tail(30.0, 36) - 0.1574).abs() < 1e-3, "{}", poisson_tail(30.0, 36));
        assert!((poisson_tail(2.0, 12) - 1.3646e-6).abs() < 1e-9, "{}", poisson_tail(2.0, 12));
        // Huge counts neither overflow nor lose the tail.
        let p = poisson_tail(100.0, 200);
        assert!(p > 0.0 && p < 1e-15, "{p}");
        assert!((poisson_tail(1000.0, 1000) - 0.50421).abs() < 1e-4, "{}", poisson_tail(1000.0, 1000));
    }

    #[test]
    fn no_verdict_before_the_minimum_history() {
        let volume = Volume { at: at(60), in_window: 50, before_window: 1, first_at: Some(at(0)), last_spike_at: None };
        assert_eq!(judge(&volume, &settings()), Verdict::ColdStart);
        let brand_new = Volume { first_at: None, ..volume };
        assert_eq!(judge(&brand_new, &settings()), Verdict::ColdStart);
    }

    #[test]
    fn a_burst_over_a_quiet_baseline_is_a_spike() {
        // 8 mentions in 24 hours (96 windows), then 12 in one window.
        let volume =
            Volume { at: at(24 * 60), in_window: 12, before_window: 8, first_at: Some(at(0)), last_spike_at: None };
        assert!(judge(&volume, &settings()).is_spike(), "{:?}", judge(&volume, &settings()));
    }

    #[test]
    fn a_steady_high_baseline_is_normal() {
        // 200 per window for a day, then 230.
        let volume = Volume {
            at: at(24 * 60),
            in_window: 230,
            before_window: 200 * 95,
            first_at: Some(at(0)),
            last_spike_at: None,
        };
        assert!(matches!(judge(&volume, &settings()), Verdict::Normal { .. }), "{:?}", judge(&volume, &settings()));
    }

    #[test]
    fn a_few_mentions_in_a_silent_group_are_not_a_spike() {
        let volume =
            Volume { at: at(24 * 60), in_window: 4, before_window: 0, first_at: Some(at(0)), last_spike_at: None };
        assert!(matches!(judge(&volume, &settings()), Verdict::Normal { .. }));
    }

    #[test]
    fn a_group_that_spiked_cools_down_first() {
        let volume = Volume {
            at: at(24 * 60),
            in_window: 40,
            before_window: 8,
            first_at: Some(at(0)),
            last_spike_at: Some(at(24 * 60 - 30)),
        };
        assert_eq!(judge(&volume, &settings()), Verdict::CoolingDown);
        let later = Volume { last_spike_at: Some(at(24 * 60 - 61)), ..volume };
        assert!(judge(&later, &settings()).is_spike());
    }
}
