//! Risk of one mention: how much a PR team should care about it on its own, 0..=100.
//!
//! ```text
//! risk = severity × negativity × source weight × engagement × novelty   (rounded, capped at 100)
//! negativity = 1 − negativity_gain × tone
//! tone       = min(sentiment, −event)   (sentiment alone when event = 0)
//! event      = max(harm, 2 × crisis − 1, 0)
//!              sentiment in [-1, 1] is how the text is said; harm in [0, 1] how bad the events
//!              it reports are by the harm lexicon (see `analyze::harm`), crisis in [0, 1] how
//!              sure the crisis model is that it reports a crisis (see `analyze::crisis`): a
//!              flat "three dead in store fire" is as negative as its harm, a first report the
//!              model is sure of as negative as its certainty past even odds, a happy post
//!              about nothing bad as positive as its tone
//! engagement = min(1 + engagement_gain × log10(1 + n), engagement_cap)   1 when the source gives none
//! novelty    = max(1 / (1 + novelty_decay × ln(1 + copies)), novelty_floor)
//! ```
//!
//! `severity` is the most severe matching rule's; `copies` is how many mentions of the same
//! story (near-duplicate cluster) came before this one, so the first report of a story
//! scores in full and its 300th syndicated copy a fraction, while every copy still counts
//! for volume (see `incident::spike`). Each factor is kept in the breakdown, which is what
//! alerts, the API and the dashboard show as "why". docs/risk.md has a worked example.

use serde::{Deserialize, Serialize};

/// The weights of the risk formula (`[risk]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskWeights {
    /// How far sentiment moves risk: ±this at sentiment ∓1.
    pub negativity_gain: f64,
    /// Risk gained per tenfold engagement (likes + shares + comments).
    pub engagement_gain: f64,
    /// The most engagement can multiply risk by.
    pub engagement_cap: f64,
    /// How fast copies of a story lose novelty.
    pub novelty_decay: f64,
    /// The least novelty a copy keeps.
    pub novelty_floor: f64,
}

impl Default for RiskWeights {
    fn default() -> Self {
        RiskWeights {
            negativity_gain: 0.3,
            engagement_gain: 0.1,
            engagement_cap: 1.5,
            novelty_decay: 0.5,
            novelty_floor: 0.25,
        }
    }
}

impl RiskWeights {
    /// Why a set of weights is unusable, if it is.
    pub fn problem(&self) -> Option<String> {
        let in_range = |v: f64, lo: f64, hi: f64| v.is_finite() && (lo..=hi).contains(&v);
        if !in_range(self.negativity_gain, 0.0, 1.0) {
            return Some(format!("negativity_gain must be between 0 and 1, not {}", self.negativity_gain));
        }
        if !in_range(self.engagement_gain, 0.0, 10.0) {
            return Some(format!("engagement_gain must be between 0 and 10, not {}", self.engagement_gain));
        }
        if !in_range(self.engagement_cap, 1.0, 10.0) {
            return Some(format!("engagement_cap must be between 1 and 10, not {}", self.engagement_cap));
        }
        if !in_range(self.novelty_decay, 0.0, 10.0) {
            return Some(format!("novelty_decay must be between 0 and 10, not {}", self.novelty_decay));
        }
        if !in_range(self.novelty_floor, 0.0, 1.0) {
            return Some(format!("novelty_floor must be between 0 and 1, not {}", self.novelty_floor));
        }
        None
    }
}

/// What the risk of a mention is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskInputs {
    /// The most severe matching rule's severity, 0..=100; 0 when no rule matched.
    pub severity: u8,
    /// In [-1, 1].
    pub sentiment: f64,
    /// In [0, 1]: the harm of the events the text reports.
    pub harm: f64,
    /// In [0, 1]: the crisis model's probability that the text reports a crisis; 0 when it
    /// was not read.
    pub crisis: f64,
    /// The source's `weight` (1 when not configured).
    pub source_weight: f64,
    /// Likes + shares + comments, when the source reports them.
    pub engagement: Option<f64>,
    /// Earlier mentions of the same story.
    pub copies: u64,
}

/// A risk and the factors it was made of.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Risk {
    pub score: u8,
    pub severity: u8,
    /// What the negativity read: the sentiment, or the reported event's badness when worse.
    pub tone: f64,
    pub negativity: f64,
    pub source_weight: f64,
    pub engagement: f64,
    pub novelty: f64,
    /// The copies of the story seen before this mention.
    pub copies: u64,
}

/// Computes the risk of a mention (see the module docs).
pub fn risk(inputs: RiskInputs, weights: &RiskWeights) -> Risk {
    let finite_or = |v: f64, fallback: f64| if v.is_finite() { v } else { fallback };
    let sentiment = finite_or(inputs.sentiment, 0.0).clamp(-1.0, 1.0);
    let harm = finite_or(inputs.harm, 0.0).clamp(0.0, 1.0);
    // Sentiment models read how a text is said, and a crisis told in calm or even upbeat
    // words (a recall "out of caution", a fraud "under review") reads neutral or positive;
    // the crisis model reads what it reports, so past even odds its certainty counts as an
    // event as bad as the harm lexicon's.
    let crisis = finite_or(inputs.crisis, 0.0).clamp(0.0, 1.0);
    let event = harm.max(2.0 * crisis - 1.0);
    // A reported event makes the text at least that negative; none leaves the tone alone.
    let tone = if event > 0.0 { sentiment.min(-event) } else { sentiment };
    let negativity = 1.0 - weights.negativity_gain * tone;
    let source_weight = finite_or(inputs.source_weight, 1.0).max(0.0);
    let engagement = match inputs.engagement.map(|n| finite_or(n, 0.0).max(0.0)) {
        Some(n) => (1.0 + weights.engagement_gain * (1.0 + n).log10()).min(weights.engagement_cap),
        None => 1.0,
    };
    // u64 → f64 loses precision only beyond 2^53 copies.
    let novelty = (1.0 / (1.0 + weights.novelty_decay * (1.0 + inputs.copies as f64).ln())).max(weights.novelty_floor);
    let raw = f64::from(inputs.severity) * negativity * source_weight * engagement * novelty;
    // Rounded and capped, so the cast cannot truncate or wrap.
    let score = raw.round().clamp(0.0, 100.0) as u8;
    let round3 = |v: f64| (v * 1000.0).round() / 1000.0;
    Risk {
        score,
        severity: inputs.severity,
        tone: round3(tone),
        negativity: round3(negativity),
        source_weight: round3(source_weight),
        engagement: round3(engagement),
        novelty: round3(novelty),
        copies: inputs.copies,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(severity: u8, sentiment: f64) -> RiskInputs {
        RiskInputs { severity, sentiment, harm: 0.0, crisis: 0.0, source_weight: 1.0, engagement: None, copies: 0 }
    }

    #[test]
    fn a_neutral_first_report_from_a_plain_source_scores_its_severity() {
        let r = risk(inputs(70, 0.0), &RiskWeights::default());
        assert_eq!((r.score, r.negativity, r.engagement, r.novelty), (70, 1.0, 1.0, 1.0));
    }

    #[test]
    fn negativity_raises_and_praise_lowers() {
        let w = RiskWeights::default();
        assert_eq!(risk(inputs(70, -1.0), &w).score, 91);
        assert_eq!(risk(inputs(70, 1.0), &w).score, 49);
        assert!(risk(inputs(70, -0.5), &w).score > risk(inputs(70, -0.1), &w).score);
    }

    #[test]
    fn reported_harm_reads_as_negative_as_it_is_bad_whatever_the_tone() {
        let w = RiskWeights::default();
        let flat_disaster = RiskInputs { harm: 0.9, ..inputs(70, 0.0) };
        assert_eq!(risk(flat_disaster, &w).score, 89);
        // A disaster a model misreads as upbeat still weighs its harm.
        let misread = RiskInputs { harm: 0.9, ..inputs(70, 0.6) };
        assert_eq!(risk(misread, &w).score, 89);
        // Harm never makes an angrier text milder.
        let angry = RiskInputs { harm: 0.2, ..inputs(70, -0.8) };
        assert_eq!(risk(angry, &w).score, risk(inputs(70, -0.8), &w).score);
    }

    #[test]
    fn a_crisis_the_model_is_sure_of_reads_negative_past_even_odds_only() {
        let w = RiskWeights::default();
        // A calm, even upbeat, first report the model is 95% sure of: an event of 0.9.
        let upbeat = risk(RiskInputs { crisis: 0.95, ..inputs(60, 0.4) }, &w);
        assert_eq!((upbeat.tone, upbeat.score), (-0.9, 76));
        // At even odds or below the model says nothing, and the tone stays the text's.
        let unsure = risk(RiskInputs { crisis: 0.5, ..inputs(60, 0.4) }, &w);
        assert_eq!((unsure.tone, unsure.score), (0.4, 53));
        // The worse of the lexicon's harm and the model's reading counts, never their sum.
        let both = risk(RiskInputs { harm: 0.9, crisis: 0.75, ..inputs(70, 0.0) }, &w);
        assert_eq!(both.tone, -0.9);
        let junk = risk(RiskInputs { crisis: f64::NAN, ..inputs(60, 0.0) }, &w);
        assert_eq!(junk.score, 60);
    }

    #[test]
    fn source_weight_and_engagement_multiply_and_the_result_is_capped() {
        let w = RiskWeights::default();
        let weighty = RiskInputs { source_weight: 1.5, ..inputs(60, 0.0) };
        assert_eq!(risk(weighty, &w).score, 90);
        let viral = RiskInputs { engagement: Some(99_999.0), ..inputs(60, 0.0) };
        assert_eq!(risk(viral, &w).engagement, 1.5);
        assert_eq!(risk(viral, &w).score, 90);
        let everything = RiskInputs { source_weight: 3.0, engagement: Some(1e9), ..inputs(90, -1.0) };
        assert_eq!(risk(everything, &w).score, 100);
    }

    #[test]
    fn the_three_hundredth_copy_of_a_story_keeps_little_novelty() {
        let w = RiskWeights::default();
        let first = risk(inputs(80, 0.0), &w);
        let tenth = risk(RiskInputs { copies: 9, ..inputs(80, 0.0) }, &w);
        let late = risk(RiskInputs { copies: 299, ..inputs(80, 0.0) }, &w);
        assert_eq!(first.score, 80);
        assert!(tenth.score < first.score && late.score < tenth.score, "{first:?} {tenth:?} {late:?}");
        assert_eq!(late.novelty, 0.26);
        let forever = risk(RiskInputs { copies: u64::MAX, ..inputs(80, 0.0) }, &w);
        assert_eq!(forever.novelty, w.novelty_floor);
    }

    #[test]
    fn the_worked_example_of_docs_risk_md_holds() {
        let w = RiskWeights::default();
        let report = inputs(70, -0.586);
        assert_eq!(risk(report, &w).score, 82);
        let loud = risk(RiskInputs { source_weight: 1.2, engagement: Some(500.0), ..report }, &w);
        assert_eq!(loud.engagement, 1.27);
        assert_eq!(loud.score, 100, "125 before the cap");
        let tenth_copy = risk(RiskInputs { copies: 9, ..report }, &w);
        assert_eq!((tenth_copy.novelty, tenth_copy.score), (0.465, 38));
    }

    #[test]
    fn junk_inputs_do_not_poison_the_score() {
        let w = RiskWeights::default();
        let junk = RiskInputs {
            severity: 50,
            sentiment: f64::NAN,
            harm: f64::NAN,
            crisis: f64::INFINITY,
            source_weight: f64::INFINITY,
            engagement: Some(-3.0),
            copies: 0,
        };
        let r = risk(junk, &w);
        assert_eq!((r.negativity, r.source_weight, r.engagement), (1.0, 1.0, 1.0));
        assert_eq!(r.score, 50);
        assert_eq!(risk(inputs(0, -1.0), &w).score, 0);
    }

    #[test]
    fn bad_weights_are_named() {
        assert!(RiskWeights::default().problem().is_none());
        let bad = RiskWeights { engagement_cap: 0.5, ..RiskWeights::default() };
        assert_eq!(bad.problem().as_deref(), Some("engagement_cap must be between 1 and 10, not 0.5"));
    }
}
