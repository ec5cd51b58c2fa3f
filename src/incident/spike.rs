//! Spike detection: is a group's volume in the last `spike_window` far above its own normal?
//!
//! The baseline is the group's rate before the current window, averaged with exponentially
//! falling weights (an EWMA of the count): a mention `age` old weighs e^(−age/τ), with the
//! time constant τ = `spike_baseline`. The store keeps that weighted count, the group's
//! "mass", in one row it updates per mention, so a baseline costs the same whether the
//! group saw ten mentions last week or a million. Volume is taken to be Poisson around a
//! rate that is itself uncertain, a negative binomial: real streams vary from day to day
//! more than a steady Poisson rate does (a Tuesday a fifth busier than Monday is not a
//! crisis), and a rate read from a few mentions is only a guess. The window is a spike when
//! seeing at least this many mentions would be rarer than `spike_p_value` (one in a
//! thousand by default), with at least
//! `spike_min_count` mentions in the window so a quiet group going from 0 to 2 is not a
//! crisis. A big brand with 200 mentions every quarter hour is not spiking at 220; a niche
//! rule going from 1 to 12 is.
//!
//! No verdict before the baseline rests on evidence in time and in events: the group's
//! first mention `spike_min_history` old (a day by default: a new rule's first morning is
//! all "above baseline"), and `spike_min_baseline` mentions before the window (a few posts
//! over a quiet night are not a rate). None either within `spike_cooldown` of the group's
//! last spike (one storm raises the level once, not on every mention of it).
//!
//! Mentions follow the day: a brand quiet at night and busy by day is not spiking every
//! morning. The mass is also kept per UTC hour of day, decayed alike, and once the group has
//! a day of history the window is held against the rate of its own hour of day rather than
//! the day's average: each hour's weighted count over the weighted time the history spent
//! in that hour, shrunk toward the average by one hour's worth of it (an hour seen once says
//! little), the highest of the window's hour and its two neighbours (a morning that starts
//! an hour early, or a clock change, is not a spike). A surge at 3 a.m. is then judged
//! against the night, which is when it is most surprising.
//!
//! A group is a rule; within it, each near-duplicate story (one article syndicated or
//! reposted) is a group of its own for volume. A new story has no history, so its copies
//! in the window are held against the rule's baseline: a story that alone makes a spike is
//! named in the verdict, so the "why" says which story is exploding.

use chrono::{DateTime, Duration, Timelike, Utc};

/// Hours in the daily cycle the baseline learns.
pub const HOURS: usize = 24;

/// How long the history must be before the daily cycle is read from it: a full day, so
/// every hour has been seen once.
const DAY: Duration = Duration::days(1);

/// The weight the day's average rate has in an hour's rate, in mentions: an hour with a few
/// mentions in its history leans on the average, a busy one on its own count.
const HOUR_PRIOR_MENTIONS: f64 = 2.0;

/// The baseline looks back at most this many time constants: older mentions weigh < e^−10.
const LOOKBACK_TAUS: i32 = 10;

/// How much a group's rate wanders from one window to the next beyond Poisson noise, as the
/// shape of a gamma: the rate's coefficient of variation is 1/√shape, about 0.3 here (days
/// busier or quieter by a third, a news cycle, the weekend). The shape of the rate's own
/// uncertainty, the mentions it was read from, adds to it: 1/r = 1/DISPERSION + 1/evidence.
const DISPERSION: f64 = 10.0;

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
    /// Mentions needed before the window.
    pub min_baseline: f64,
}

/// A group's exponentially weighted count of mentions, as of an instant, in total and per
/// UTC hour of day (see the module docs). Updating and reading it is O(1), and the order
/// mentions arrive in does not matter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mass {
    pub value: f64,
    /// The same count split by the hour of day the mentions were published in; sums to
    /// `value`.
    pub hours: [f64; HOURS],
    pub at: DateTime<Utc>,
}

impl Mass {
    /// No mentions yet, as of `at`.
    pub fn empty(at: DateTime<Utc>) -> Mass {
        Mass { value: 0.0, hours: [0.0; HOURS], at }
    }

    /// A mass stored before the hours were kept: spread evenly over the day, which judges as
    /// the average did; the mentions from now on teach the cycle.
    pub fn without_hours(value: f64, at: DateTime<Utc>) -> Mass {
        Mass { value, hours: [value / HOURS as f64; HOURS], at }
    }

    /// The mass with one more mention at `at`: decayed forward to `at` first when that is
    /// later; a late mention (published before the last one counted) weighs its age instead.
    pub fn add(self, at: DateTime<Utc>, tau: Duration) -> Mass {
        let hour = hour_of(at);
        if at >= self.at {
            let mut next = self.decayed(at, tau);
            next.value += 1.0;
            next.hours[hour] += 1.0;
            next
        } else {
            let weight = decay(self.at - at, tau);
            let mut hours = self.hours;
            hours[hour] += weight;
            Mass { value: self.value + weight, hours, at: self.at }
        }
    }

    /// The mass as of `at`; asked for an earlier instant, the latest value (the mentions
    /// after `at` then count too, which errs toward a higher baseline: fewer alarms).
    pub fn decayed_to(self, at: DateTime<Utc>, tau: Duration) -> f64 {
        self.decayed(at, tau).value
    }

    /// [`Mass::decayed_to`] for the total and every hour alike.
    pub fn decayed(self, at: DateTime<Utc>, tau: Duration) -> Mass {
        if at <= self.at {
            return self;
        }
        let factor = decay(at - self.at, tau);
        Mass { value: self.value * factor, hours: self.hours.map(|count| count * factor), at }
    }
}

/// The UTC hour of day of an instant, as an index into [`Mass::hours`].
fn hour_of(at: DateTime<Utc>) -> usize {
    at.hour() as usize % HOURS
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
    /// The group's mass at `at` (this mention counted), window included, with its hours.
    pub mass: Mass,
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
    // The weighted count before the window: the window's mentions weigh e^(−age/τ) ≥
    // e^(−window/τ), nearly 1, and are taken off at full weight.
    let before_window = (volume.mass.value - volume.in_window as f64).max(0.0);
    // What a steady rate of one mention per window would have built up over the history
    // before the window: the same integral of e^(−age/τ), from the window back to the first
    // mention, in windows.
    let tau = settings.baseline.num_milliseconds().max(1) as f64;
    let window = settings.window.num_milliseconds().max(1) as f64;
    let history_ms = history.num_milliseconds() as f64;
    let windows = tau * ((-window / tau).exp() - (-history_ms / tau).exp()) / window;
    // The mentions before the window, counted whole: the weighted count over the mean
    // weight of the time they came in (exact for a steady rate, and near it for any rate
    // over the few days a new group has).
    let counted = before_window * ((history_ms - window).max(window) / window) / windows.max(f64::MIN_POSITIVE);
    if counted.round() < settings.min_baseline {
        return Verdict::ColdStart;
    }
    if volume.last_spike_at.is_some_and(|last| volume.at - last < settings.cooldown) {
        return Verdict::CoolingDown;
    }
    // Half a mention over the whole history when there was none: a group that has been
    // silent for days still needs a real burst, not one mention, to spike.
    let floor = 0.5 / windows.max(1.0);
    let (expected, evidence) = if history >= DAY && settings.window < DAY {
        let (rate, evidence) = hourly_rate(volume, settings, first_at);
        ((rate * window).max(floor), evidence)
    } else {
        (before_window.max(0.5) / windows.max(1.0), before_window.max(0.5))
    };
    let shape = 1.0 / (1.0 / DISPERSION + 1.0 / evidence);
    let tail = |count: u64| negative_binomial_tail(expected, shape, count);
    let p = tail(volume.in_window);
    if volume.in_window >= settings.min_count && p < settings.p_value {
        let story =
            volume.story.filter(|(_, copies)| *copies >= settings.min_count && tail(*copies) < settings.p_value);
        Verdict::Spike { in_window: volume.in_window, expected, p, story }
    } else {
        Verdict::Normal { expected, p }
    }
}

/// The group's weighted rate, in mentions per millisecond, at the window's hour of day:
/// the highest of that hour and its neighbours, each shrunk toward the day's average (see
/// the module docs); with the weighted mentions that rate was read from.
fn hourly_rate(volume: &Volume, settings: &SpikeSettings, first_at: DateTime<Utc>) -> (f64, f64) {
    let window_start = volume.at - settings.window;
    let mut counts = volume.mass.hours;
    // Take the window's own mentions off the hours they fell in, latest first.
    let mut in_window = volume.in_window as f64;
    let mut hour = hour_of(volume.at);
    for _ in 0..HOURS {
        let taken = in_window.min(counts[hour]);
        counts[hour] -= taken;
        in_window -= taken;
        if in_window <= 0.0 {
            break;
        }
        hour = (hour + HOURS - 1) % HOURS;
    }
    let exposure = exposure(first_at, window_start, volume.at, settings.baseline);
    let total_exposure: f64 = exposure.iter().sum();
    let average = counts.iter().sum::<f64>() / total_exposure;
    if !(average > 0.0 && average.is_finite()) {
        return (0.0, HOUR_PRIOR_MENTIONS);
    }
    let rate = |hour: usize| (counts[hour] + HOUR_PRIOR_MENTIONS) / (exposure[hour] + HOUR_PRIOR_MENTIONS / average);
    let hour = hour_of(volume.at);
    [(hour + HOURS - 1) % HOURS, hour, (hour + 1) % HOURS]
        .into_iter()
        .map(|hour| (rate(hour), counts[hour] + HOUR_PRIOR_MENTIONS))
        .fold((0.0, HOUR_PRIOR_MENTIONS), |best, next| if next.0 > best.0 { next } else { best })
}

/// How much time the history from `from` to `to` spent in each UTC hour of day, in
/// milliseconds weighted by e^(−age/τ) as seen from `now`: the denominator of each hour's
/// rate, so an hour the history covered twice is not read as twice as busy.
fn exposure(from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>, tau: Duration) -> [f64; HOURS] {
    const HOUR_MS: f64 = 3_600_000.0;
    let mut exposure = [0.0; HOURS];
    let from = from.max(to - tau * LOOKBACK_TAUS);
    let tau_ms = tau.num_milliseconds().max(1) as f64;
    let mut remaining = (to - from).num_milliseconds() as f64;
    // Walk back slot by slot from `to`, each slot within one hour of day: a slot of length
    // L ending at age a weighs ∫ e^(−age/τ) = τ e^(−a/τ) (1 − e^(−L/τ)). Whole hours share
    // e^(−1h/τ), so a long history costs multiplications, not exponentials.
    let whole_hour = (-HOUR_MS / tau_ms).exp();
    let mut end_weight = decay(now - to, tau);
    let since_top = f64::from(to.minute() * 60 + to.second()) * 1000.0 + f64::from(to.nanosecond() / 1_000_000);
    let (mut hour, mut length) =
        if since_top > 0.0 { (hour_of(to), since_top) } else { ((hour_of(to) + HOURS - 1) % HOURS, HOUR_MS) };
    while remaining > 0.0 {
        let slot = length.min(remaining);
        let shrink = if slot == HOUR_MS { whole_hour } else { (-slot / tau_ms).exp() };
        exposure[hour] += tau_ms * end_weight * (1.0 - shrink);
        end_weight *= shrink;
        remaining -= slot;
        hour = (hour + HOURS - 1) % HOURS;
        length = HOUR_MS;
    }
    exposure
}

/// How many spike windows back a storm reaches: `counts[i]` is the group's mentions in the
/// i-th window before the current one (`counts[0]`, this mention's), and `expected` the
/// baseline's count per window (None without one yet). A CUSUM read oldest first: each
/// window adds what it holds beyond the baseline plus half its Poisson spread (at least
/// half a mention), the sum never below zero, and the storm is what came after the sum
/// was last zero. A steady group's ordinary day is then not "the storm", while a quiet
/// group's few posts in the hour before the burst, each too light alone, are.
pub fn storm_windows(counts: &[u64], expected: Option<f64>) -> usize {
    let expected = expected.unwrap_or(0.0).max(0.0);
    let reference = (expected + 0.5 * expected.sqrt()).max(0.5);
    let mut excess = 0.0f64;
    let mut reach = counts.len();
    for (back, count) in counts.iter().enumerate().rev() {
        excess = (excess + *count as f64 - reference).max(0.0);
        if excess == 0.0 {
            reach = back;
        }
    }
    reach
}

/// The expected count per window a verdict read, if it read one.
pub fn expected_of(verdict: &Verdict) -> Option<f64> {
    match verdict {
        Verdict::Normal { expected, .. } | Verdict::Spike { expected, .. } => Some(*expected),
        Verdict::ColdStart | Verdict::CoolingDown => None,
    }
}

/// P(X ≥ k) for X negative binomial with this mean and shape r: Poisson around a rate drawn
/// from a gamma of shape r (variance mean + mean²/r), the Poisson itself as r grows. Summed
/// term by term in log space like [`poisson_tail`].
pub fn negative_binomial_tail(mean: f64, shape: f64, k: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if !(mean > 0.0 && mean.is_finite()) {
        return 0.0;
    }
    if !(shape > 0.0 && shape < 1e9) {
        return poisson_tail(mean, k);
    }
    // P(X = 0) = (r / (r + mean))^r; P(X = i + 1) = P(X = i) (i + r) / (i + 1) · mean / (r + mean).
    let ln_success = (shape / (shape + mean)).ln();
    let ln_ratio = (mean / (shape + mean)).ln();
    let step = |i: u64| ((i as f64 + shape) / (i + 1) as f64).ln() + ln_ratio;
    let mut log_term = shape * ln_success;
    if mean < k as f64 {
        // Past the mode (below the mean) the terms fall: sum the tail itself.
        for i in 0..k {
            log_term += step(i);
        }
        let (mut tail, mut i) = (0.0f64, k);
        loop {
            let term = log_term.exp();
            tail += term;
            if term <= tail * 1e-16 || i - k > 10_000_000 {
                break;
            }
            log_term += step(i);
            i += 1;
        }
        tail.min(1.0)
    } else {
        let mut head = 0.0f64;
        for i in 0..k {
            head += log_term.exp();
            log_term += step(i);
        }
        (1.0 - head).clamp(0.0, 1.0)
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
            min_baseline: 5.0,
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
        assert!((poisson_tail(30.0, 36) - 0.1574).abs() < 1e-3, "{}", poisson_tail(30.0, 36));
        assert!((poisson_tail(2.0, 12) - 1.3646e-6).abs() < 1e-9, "{}", poisson_tail(2.0, 12));
        // Huge counts neither overflow nor lose the tail.
        let p = poisson_tail(100.0, 200);
        assert!(p > 0.0 && p < 1e-15, "{p}");
        assert!((poisson_tail(1000.0, 1000) - 0.50421).abs() < 1e-4, "{}", poisson_tail(1000.0, 1000));
    }

    #[test]
    fn a_storm_is_what_came_since_the_volume_last_sat_at_its_baseline() {
        // A steady 20 a window, then a surge over the last three.
        assert_eq!(storm_windows(&[60, 55, 40, 21, 18, 22, 19], Some(20.0)), 3);
        // A window back at the baseline inside the surge does not end it.
        assert_eq!(storm_windows(&[60, 40, 20, 35, 19, 18, 17], Some(20.0)), 4);
        // A quiet group: one post a window for three windows, then the burst; the post
        // hours before stands alone.
        assert_eq!(storm_windows(&[5, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0], Some(0.2)), 4);
        // No baseline: a quiet window after two posts does not end the storm, after one
        // it does.
        assert_eq!(storm_windows(&[5, 1, 1, 0, 1, 1, 0, 0], None), 6);
        assert_eq!(storm_windows(&[5, 1, 0, 1, 0, 0], None), 2);
        // An opener in an ordinary window is a storm of itself.
        assert_eq!(storm_windows(&[20, 21, 19], Some(20.0)), 0);
        assert_eq!(storm_windows(&[], None), 0);
    }

    #[test]
    fn the_negative_binomial_tail_matches_known_values_and_tends_to_the_poisson() {
        assert_eq!(negative_binomial_tail(3.0, 2.0, 0), 1.0);
        // r = 1 is geometric: P(X >= k) = (mean / (1 + mean))^k.
        assert!((negative_binomial_tail(3.0, 1.0, 4) - 0.75f64.powi(4)).abs() < 1e-12);
        assert!((negative_binomial_tail(0.5, 1.0, 6) - (1.0f64 / 3.0).powi(6)).abs() < 1e-15);
        // r = 10, mean 5: P(X >= 14) = 0.006193 (one minus the pmf summed to 13).
        let p = negative_binomial_tail(5.0, 10.0, 14);
        assert!((p - 0.006193).abs() < 1e-6, "{p}");
        // A huge shape is Poisson; above the mean the overdispersed tail is the heavier.
        assert!((negative_binomial_tail(2.0, 1e7, 12) - poisson_tail(2.0, 12)).abs() < 1e-9);
        for (mean, k) in [(0.3, 5), (5.0, 14), (200.0, 260), (30.0, 40)] {
            assert!(negative_binomial_tail(mean, 10.0, k) >= poisson_tail(mean, k), "{mean} {k}");
        }
        let p = negative_binomial_tail(100.0, 10.0, 2000);
        assert!(p > 0.0 && p < 1e-15, "{p}");
    }

    #[test]
    fn the_cases_docs_risk_md_quotes_hold() {
        // A big brand at 30 a window for weeks: the shape is the wandering's, 1/(1/10 + 1/2000).
        let shape = 1.0 / (1.0 / DISPERSION + 1.0 / 2000.0);
        for (count, quoted) in [(36, 0.28), (60, 0.012), (75, 0.0009)] {
            let p = negative_binomial_tail(30.0, shape, count);
            assert!((p - quoted).abs() < quoted * 0.05, "{count}: {p} vs {quoted}");
        }
        // A rule at 2 a window, read from 200 mentions, going to 12.
        let p = negative_binomial_tail(2.0, 1.0 / (1.0 / DISPERSION + 1.0 / 200.0), 12);
        assert!((p - 0.00003).abs() < 0.000005, "{p}");
    }

    /// The volume a group reaches at `at(minutes)` after `before` mentions spread evenly
    /// over the history before the window and `in_window` in the last window, accumulated
    /// through [`Mass::add`] as the store does.
    fn volume(minutes: i64, before: u64, in_window: u64) -> Volume {
        let tau = settings().baseline;
        let window_start = minutes - 15;
        let mut mass = Mass::empty(at(0));
        for i in 0..before {
            mass = mass.add(at(i as i64 * window_start / before.max(1) as i64), tau);
        }
        for i in 0..in_window {
            mass = mass.add(at(window_start + 1 + (i as i64 * 14) / in_window.max(1) as i64), tau);
        }
        Volume {
            at: at(minutes),
            in_window,
            mass: mass.decayed(at(minutes), tau),
            story: None,
            first_at: Some(at(0)),
            last_spike_at: None,
        }
    }

    #[test]
    fn the_mass_decays_by_e_every_time_constant_whatever_the_arrival_order() {
        let tau = Duration::days(7);
        let one = Mass::empty(at(0)).add(at(0), tau);
        assert!((one.decayed_to(at(7 * 24 * 60), tau) - (-1.0f64).exp()).abs() < 1e-12);
        let in_order = one.add(at(60), tau).add(at(120), tau);
        let late = one.add(at(120), tau).add(at(60), tau);
        assert!((in_order.decayed_to(at(180), tau) - late.decayed_to(at(180), tau)).abs() < 1e-12);
        let (in_order, late) = (in_order.decayed(at(180), tau), late.decayed(at(180), tau));
        for (a, b) in in_order.hours.iter().zip(late.hours) {
            assert!((a - b).abs() < 1e-12, "{:?} vs {:?}", in_order.hours, late.hours);
        }
        assert!((in_order.hours.iter().sum::<f64>() - in_order.value).abs() < 1e-12, "the hours sum to the total");
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
        // 8 mentions in 20 hours (80 windows), then 12 in one window.
        let burst = volume(20 * 60, 8, 12);
        match judge(&burst, &settings()) {
            Verdict::Spike { expected, story: None, .. } => {
                // 8 mentions over ~79 windows, barely decayed in a day of a week's constant.
                assert!((expected - 8.0 / 79.0).abs() < 0.01, "{expected}");
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
            // A day of history: the busiest of the window's hour and its neighbours, a little high.
            Verdict::Normal { expected, .. } => assert!((expected - 200.0).abs() < 5.0, "{expected}"),
            other => panic!("expected normal, got {other:?}"),
        }
    }

    #[test]
    fn a_few_mentions_in_a_silent_group_are_not_a_spike() {
        assert!(matches!(judge(&volume(24 * 60, 5, 4), &settings()), Verdict::Normal { .. }));
    }

    #[test]
    fn a_baseline_of_a_few_mentions_is_not_a_rate() {
        // Four mentions over a long quiet night, then a busy morning's first window.
        assert_eq!(judge(&volume(30 * 60, 4, 40), &settings()), Verdict::ColdStart);
        assert!(judge(&volume(30 * 60, 5, 40), &settings()).is_spike(), "five are enough");
    }

    /// Midnight UTC, 2023-11-15: the day the diurnal tests' histories start.
    fn midnight() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_006_400, 0).expect("valid")
    }

    /// `days` of a brand that gets 2 mentions an hour at night and `busy` an hour from 09:00
    /// to 17:00 UTC, spread evenly; then the volume of a window ending at `hour` on the next
    /// day holding `in_window` mentions.
    fn daily_cycle(days: i64, busy: u64, hour: i64, in_window: u64) -> Volume {
        let tau = settings().baseline;
        let mut mass = Mass::empty(midnight());
        for day in 0..days {
            for h in 0..24 {
                let per_hour = if (9..17).contains(&h) { busy } else { 2 };
                for i in 0..per_hour {
                    let offset = Duration::hours(day * 24 + h) + Duration::seconds(i as i64 * 3600 / per_hour as i64);
                    mass = mass.add(midnight() + offset, tau);
                }
            }
        }
        let end = midnight() + Duration::hours(days * 24 + hour);
        for i in 0..in_window {
            mass = mass.add(end - Duration::seconds(1 + i as i64 * 600 / in_window as i64), tau);
        }
        Volume {
            at: end,
            in_window,
            mass: mass.decayed(end, tau),
            story: None,
            first_at: Some(midnight()),
            last_spike_at: None,
        }
    }

    #[test]
    fn the_morning_rise_is_held_against_the_morning_not_the_day() {
        // Three days of 160 an hour by day and 2 by night: 40 in a quarter hour at 10:00 is
        // an ordinary morning. Against the day's average (55 an hour, 14 a window) it
        // would be a spike, as it still is for a group whose hours are unknown.
        let morning = daily_cycle(3, 160, 10, 40);
        match judge(&morning, &settings()) {
            Verdict::Normal { expected, .. } => assert!((expected - 40.0).abs() < 3.0, "{expected}"),
            other => panic!("an ordinary morning: {other:?}"),
        }
        let unknown_hours = Volume { mass: Mass::without_hours(morning.mass.value, morning.at), ..morning };
        assert!(judge(&unknown_hours, &settings()).is_spike());
        // The first busy hour, 09:00, is held against its busy neighbour: ordinary.
        assert!(!judge(&daily_cycle(3, 160, 9, 40), &settings()).is_spike());
        // A real surge in the morning still is one: three times the usual.
        assert!(judge(&daily_cycle(3, 160, 10, 120), &settings()).is_spike());
    }

    #[test]
    fn a_burst_at_night_is_held_against_the_night() {
        // 12 in a quarter hour at 03:00, where half a mention is usual; against the day's
        // average (7 a window) it would not be one.
        let night = daily_cycle(3, 80, 3, 12);
        match judge(&night, &settings()) {
            Verdict::Spike { expected, .. } => assert!(expected < 1.0, "{expected}"),
            other => panic!("a night burst: {other:?}"),
        }
        let unknown_hours = Volume { mass: Mass::without_hours(night.mass.value, night.at), ..night };
        assert!(!judge(&unknown_hours, &settings()).is_spike());
    }

    #[test]
    fn the_exposure_splits_the_weighted_history_by_hour() {
        let tau = Duration::days(7);
        let (from, to) = (midnight() + Duration::minutes(30), midnight() + Duration::days(3) + Duration::minutes(30));
        let exposure = exposure(from, to, to, tau);
        let tau_ms = tau.num_milliseconds() as f64;
        let whole = tau_ms * (1.0 - (-(to - from).num_milliseconds() as f64 / tau_ms).exp());
        assert!((exposure.iter().sum::<f64>() - whole).abs() < 1e-3 * whole, "the integral of the weights");
        // Three whole days cover every hour alike, give or take which hour's day is the
        // oldest: 3 hours at most, weighted down toward e^(−3/7) for the first day.
        for (hour, covered) in exposure.iter().enumerate() {
            let share = covered / (whole / 24.0);
            assert!(share > 0.9 && share < 1.1, "hour {hour}: {share} {exposure:?}");
            assert!(*covered < 3.0 * 3_600_000.0, "hour {hour}: {covered}");
        }
    }

    #[test]
    fn a_group_that_spiked_cools_down_first() {
        let volume = Volume { last_spike_at: Some(at(24 * 60 - 30)), ..volume(24 * 60, 8, 40) };
        assert_eq!(judge(&volume, &settings()), Verdict::CoolingDown);
        let later = Volume { last_spike_at: Some(at(24 * 60 - 61)), ..volume };
        assert!(judge(&later, &settings()).is_spike());
    }
}
