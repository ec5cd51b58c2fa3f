//! Spike detection: is a group's volume in the last `spike_window` far above its own normal?
//!
//! The baseline is the group's rate before the current window, averaged with exponentially
//! falling weights (an EWMA of the count): a mention `age` old weighs e^(−age/τ), with the
//! time constant τ = `spike_baseline`. The store keeps that weighted count, the group's
//! "mass", in one row it updates per mention, so a baseline costs the same whether the
//! group saw ten mentions last week or a million. Volume is taken to be Poisson around the
//! baseline rate, and the window is a spike when seeing at least this many mentions would
//! be rarer than `spike_p_value` (one in a thousand by default), with at least
//! `spike_min_count` mentions in the window so a quiet group going from 0 to 2 is not a
//! crisis. A big brand with 200 mentions every quarter hour is not spiking at 220; a niche
//! rule going from 1 to 12 is.
//!
//! No verdict before the group has `spike_min_history` of data (a new rule's first hour is
//! all "above baseline"), and none within `spike_cooldown` of the group's last spike (one
//! storm raises the level once, not on every mention of it).
//!
//! A group is a rule; within it, each near-duplicate story (one article syndicated or
//! reposted) is a group of its own for volume. A new story has no history, so its copies
//! in the window are held against the rule's baseline: a story that alone makes a spike is
//! named in the verdict, so the "why" says which story is exploding.

use chrono::{DateTime, Duration, Utc};

/// The spike settings (`[risk]` in the config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeSettings {
    pub window: Duration,
    pub min_history: Duration,
    /// The baseline's time constant τ: a mention this old weighs 1/e.
    pub baseline: Duration,
    pub cooldown: Duration,
    pub p_value: f64,
    pub min_count: u64,
}

/// A group's exponentially weighted count of mentions, as of an instant (see the module
/// docs). Updating and reading it is O(1), and the order mentions arrive in does not matter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mass {
    pub value: f64,
    pub at: DateTime<Utc>,
}

impl Mass {
    /// The mass with one more mention at `at`: decayed forward to `at` first when that is
    /// later; a late mention (published before the last one counted) weighs its age instead.
    pub fn add(self, at: DateTime<Utc>, tau: Duration) -> Mass {
        if at >= self.at {
            Mass { value: self.decayed_to(at, tau) + 1.0, at }
        } else {
            Mass { value: self.value + decay(self.at - at, tau), at: self.at }
        }
    }

    /// The mass as of `at`; asked for an earlier instant, the latest value (the mentions
    /// after `at` then count too, which errs toward a higher baseline: fewer alarms).
    pub fn decayed_to(self, at: DateTime<Utc>, tau: Duration) -> f64 {
        if at > self.at { self.value * decay(at - self.at, tau) } else { self.value }
    }
}

/// e^(−age/τ): the weight of a mention `age` old.
fn decay(age: Duration, tau: Duration) -> f64 {
    (-(age.num_milliseconds() as f64) / tau.num_milliseconds().max(1) as f64).exp()
}

/// A group's volume around the mention being decided, as the store counts it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Volume {
    /// The time the window ends at (the mention's time).
    pub at: DateTime<Utc>,
    /// Mentions in `(at - window, at]`, this one included.
    pub in_window: u64,
    /// The group's mass at `at` (this mention counted), window included.
    pub mass: f64,
    /// Copies of this mention's story in the window, this one included, and the story's id.
    pub story: Option<(i64, u64)>,
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
        /// Mentions in the window.
        in_window: u64,
        expected: f64,
        p: f64,
        /// The story whose copies alone make a spike, with its copies in the window.
        story: Option<(i64, u64)>,
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
    // The weighted count before the window: the window's mentions weigh e^(−age/τ) ≥
    // e^(−window/τ), nearly 1, and are taken off at full weight.
    let before_window = (volume.mass - volume.in_window as f64).max(0.0);
    // What a steady rate of one mention per window would have built up over the history
    // before the window: the same integral of e^(−age/τ), from the window back to the first
    // mention, in windows.
    let tau = settings.baseline.num_milliseconds().max(1) as f64;
    let window = settings.window.num_milliseconds().max(1) as f64;
    let history_ms = history.num_milliseconds() as f64;
    let windows = tau * ((-window / tau).exp() - (-history_ms / tau).exp()) / window;
    // Half a mention over the whole history when there was none: a group that has been
    // silent for days still needs a real burst, not one mention, to spike.
    let expected = before_window.max(0.5) / windows.max(1.0);
    let p = poisson_tail(expected, volume.in_window);
    if volume.in_window >= settings.min_count && p < settings.p_value {
        let story = volume
            .story
            .filter(|(_, copies)| *copies >= settings.min_count && poisson_tail(expected, *copies) < settings.p_value);
        Verdict::Spike { in_window: volume.in_window, expected, p, story }
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

    /// The volume a group reaches at `at(minutes)` after `before` mentions spread evenly
    /// over the history before the window and `in_window` in the last window, accumulated
    /// through [`Mass::add`] as the store does.
    fn volume(minutes: i64, before: u64, in_window: u64) -> Volume {
        let tau = settings().baseline;
        let window_start = minutes - 15;
        let mut mass = Mass { value: 0.0, at: at(0) };
        for i in 0..before {
            mass = mass.add(at(i as i64 * window_start / before.max(1) as i64), tau);
        }
        for i in 0..in_window {
            mass = mass.add(at(window_start + 1 + (i as i64 * 14) / in_window.max(1) as i64), tau);
        }
        Volume {
            at: at(minutes),
            in_window,
            mass: mass.decayed_to(at(minutes), tau),
            story: None,
            first_at: Some(at(0)),
            last_spike_at: None,
        }
    }

    #[test]
    fn the_mass_decays_by_e_every_time_constant_whatever_the_arrival_order() {
        let tau = Duration::days(7);
        let one = Mass { value: 0.0, at: at(0) }.add(at(0), tau);
        assert!((one.decayed_to(at(7 * 24 * 60), tau) - (-1.0f64).exp()).abs() < 1e-12);
        let in_order = one.add(at(60), tau).add(at(120), tau);
        let late = one.add(at(120), tau).add(at(60), tau);
        assert!((in_order.decayed_to(at(180), tau) - late.decayed_to(at(180), tau)).abs() < 1e-12);
    }

    #[test]
    fn no_verdict_before_the_minimum_history() {
        let young = volume(60, 1, 50);
        assert_eq!(judge(&young, &settings()), Verdict::ColdStart);
        let brand_new = Volume { first_at: None, ..young };
        assert_eq!(judge(&brand_new, &settings()), Verdict::ColdStart);
    }

    #[test]
    fn a_burst_over_a_quiet_baseline_is_a_spike_and_names_the_story_that_makes_it() {
        // 8 mentions in 24 hours (96 windows), then 12 in one window.
        let burst = volume(24 * 60, 8, 12);
        match judge(&burst, &settings()) {
            Verdict::Spike { expected, story: None, .. } => {
                // 8 mentions over ~95 windows, barely decayed in a day of a week's constant.
                assert!((expected - 8.0 / 95.0).abs() < 0.01, "{expected}");
            }
            other => panic!("expected a spike, got {other:?}"),
        }
        let one_story = Volume { story: Some((7, 10)), ..burst };
        assert!(matches!(judge(&one_story, &settings()), Verdict::Spike { story: Some((7, 10)), .. }));
        let many_stories = Volume { story: Some((7, 2)), ..burst };
        assert!(matches!(judge(&many_stories, &settings()), Verdict::Spike { story: None, .. }));
    }

    #[test]
    fn a_steady_high_baseline_is_normal() {
        // 200 per window for a day, then 230.
        let steady = volume(24 * 60, 200 * 95, 230);
        match judge(&steady, &settings()) {
            Verdict::Normal { expected, .. } => assert!((expected - 200.0).abs() < 3.0, "{expected}"),
            other => panic!("expected normal, got {other:?}"),
        }
    }

    #[test]
    fn a_few_mentions_in_a_silent_group_are_not_a_spike() {
        assert!(matches!(judge(&volume(24 * 60, 0, 4), &settings()), Verdict::Normal { .. }));
    }

    #[test]
    fn a_group_that_spiked_cools_down_first() {
        let volume = Volume { last_spike_at: Some(at(24 * 60 - 30)), ..volume(24 * 60, 8, 40) };
        assert_eq!(judge(&volume, &settings()), Verdict::CoolingDown);
        let later = Volume { last_spike_at: Some(at(24 * 60 - 61)), ..volume };
        assert!(judge(&later, &settings()).is_spike());
    }
}
