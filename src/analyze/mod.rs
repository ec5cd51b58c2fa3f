//! Analyze: decide which rules a [`Mention`] matches and how risky it is.
//!
//! - [`text`] folds text and terms the same way (NFKC, case, Traditional → Simplified,
//!   zero-width characters and separators between CJK characters dropped) and maps hits
//!   back to the original text.
//! - [`query`] parses the rule query language into a [`Query`].
//! - [`rules`] loads `rules/*.toml` and `rules/lists/*.txt` into a [`RuleSet`], with
//!   `file:line:col` errors, and runs the rules' examples.
//! - [`matcher`] compiles every term of every rule into one automaton and evaluates the
//!   queries on the hits.
//! - [`sentiment`] detects the language and scores how negative the text is, on one
//!   scale for English and Chinese; rules may require a sentiment bound.
//! - [`crisis`] reads how likely the text reports a crisis, in words no list names;
//!   rules may require a bound on it (`crisis_above`).
//! - [`harm`] finds the harm events the text reports (deaths, fires, leaks), which raise
//!   the risk's negativity.
//!
//! - [`brands`] judges a mention once for each configured brand it names.
//!
//! [`analyze`] turns a mention into a [`Scored`] one; it is pure, so the same mention and
//! rules always give the same score.

pub mod brands;
pub mod crisis;
pub mod harm;
pub mod matcher;
pub mod query;
pub mod risk;
pub mod rules;
pub mod sentiment;
pub mod text;

use serde::Serialize;
use serde_json::json;

use crate::ingest::Mention;

pub use brands::{BrandSpec, Brands};
pub use matcher::{RuleMatch, TermHit};
pub use query::{Field, Query, QueryError, Term, TermKind};
pub use rules::{Example, ExampleOutcome, Rule, RuleError, RuleErrors, RuleSet};
pub use sentiment::Sentiment;

use risk::{RiskInputs, RiskWeights};

/// A mention with the rules it matched and its risk.
#[derive(Debug, Clone, Serialize)]
pub struct Scored {
    pub mention: Mention,
    /// The language it was read in (see [`sentiment::detect_lang`]).
    pub lang: String,
    pub sentiment: Sentiment,
    /// The configured brands it is about (empty when the config names none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    pub matches: Vec<RuleMatch>,
    /// The harm events it reports (worked out only when a rule matched).
    pub harm: harm::Harm,
    /// The crisis model's probability that it reports a crisis.
    pub crisis: f64,
    /// 0..=100.
    pub risk: u8,
    /// How the risk was reached, for the timeline and the API ("why").
    pub breakdown: serde_json::Value,
    /// What the risk was computed from, kept so novelty can be applied once the store
    /// knows how many copies of the story came before.
    #[serde(skip)]
    pub(crate) inputs: RiskInputs,
}

impl Scored {
    /// The same mention scored as the `copies + 1`-th report of its story.
    pub fn with_copies(mut self, copies: u64, weights: &RiskWeights) -> Scored {
        self.inputs.copies = copies;
        let (risk, breakdown) =
            breakdown(&self.matches, &self.sentiment, &self.harm, self.crisis, self.inputs, weights);
        self.risk = risk;
        self.breakdown = breakdown;
        self
    }

    /// The mention's risk had `severity` been the most severe match's: what the mention
    /// weighs in the group of a less severe rule it also matched.
    pub fn risk_for(&self, severity: u8, weights: &RiskWeights) -> u8 {
        risk::risk(RiskInputs { severity, ..self.inputs }, weights).score
    }
}

/// Matches the mention against the rules and scores it as the first report of its story
/// from a source of `source_weight`, reading the start of a very long text only (see
/// [`crate::ingest::ANALYZED_BYTES`]). Pure: the same inputs always give the same score.
pub fn analyze(rules: &RuleSet, mention: Mention, weights: &RiskWeights, source_weight: f64) -> Scored {
    analyze_brands(rules, None, mention, weights, source_weight)
}

/// [`analyze`] in an install watching several `brands`: the mention is judged for each
/// brand it names (see [`brands`]), its matches tagged with the brand.
pub fn analyze_brands(
    rules: &RuleSet,
    brands: Option<&Brands>,
    mention: Mention,
    weights: &RiskWeights,
    source_weight: f64,
) -> Scored {
    let (lang, sentiment, about, matches, harm, crisis) = {
        let read = mention.for_analysis();
        let (lang, sentiment) = sentiment::of_mention(&read);
        // The crisis model reads every mention, so the tone in the breakdown says how bad
        // any mention's news is, matched or not: it reads a word in its context. The harm
        // lexicon reads words alone (`fire`, `爆炸`) and is trusted only where a rule's guards
        // (someone else's trouble, a recipe, praise) have passed the text.
        let (about, matches, crisis) = match brands {
            Some(brands) => {
                let judgement = brands.judge(rules, &read, sentiment.score);
                (judgement.brands, judgement.matches, judgement.crisis)
            }
            None => {
                let crisis = rules.crisis_probability(&read);
                (Vec::new(), rules.scan_with(&read, sentiment.score, || crisis), crisis)
            }
        };
        let harm = if matches.is_empty() { harm::Harm::default() } else { harm::harm(&read.title, &read.body) };
        (lang, sentiment, about, matches, harm, crisis)
    };
    let inputs = RiskInputs {
        severity: most_severe(&matches).map_or(0, |m| m.severity),
        sentiment: sentiment.score,
        harm: harm.score,
        crisis,
        source_weight,
        engagement: mention.engagement,
        copies: 0,
    };
    let (risk, breakdown) = breakdown(&matches, &sentiment, &harm, crisis, inputs, weights);
    Scored { mention, lang, sentiment, brands: about, matches, harm, crisis, risk, breakdown, inputs }
}

/// The most severe match; the first in file order on a tie.
fn most_severe(matches: &[RuleMatch]) -> Option<&RuleMatch> {
    matches.iter().reduce(|best, m| if m.severity > best.severity { m } else { best })
}

fn breakdown(
    matches: &[RuleMatch],
    sentiment: &Sentiment,
    harm: &harm::Harm,
    crisis: f64,
    inputs: RiskInputs,
    weights: &RiskWeights,
) -> (u8, serde_json::Value) {
    let r = risk::risk(inputs, weights);
    let breakdown = json!({
        "score": r.score,
        "rule": most_severe(matches).map(|m| m.rule.as_str()),
        "severity": r.severity,
        "sentiment": (sentiment.score * 1000.0).round() / 1000.0,
        "harm": harm.score,
        "harm_events": harm.events.iter().map(|e| e.term.as_str()).collect::<Vec<_>>(),
        "crisis": (crisis * 1000.0).round() / 1000.0,
        "tone": r.tone,
        "negativity": r.negativity,
        "source_weight": r.source_weight,
        "engagement": r.engagement,
        "novelty": r.novelty,
        "copies": r.copies,
    });
    (r.score, breakdown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mention(title: &str, body: &str) -> Mention {
        Example { title: title.into(), body: body.into(), feed: None, author: None, expect_match: true }
            .mention("test", 0)
    }

    fn scored(text: &str) -> Scored {
        analyze(&RuleSet::bundled(), mention("", text), &RiskWeights::default(), 1.0)
    }

    #[test]
    fn a_food_poisoning_complaint_scores_its_severity_raised_by_its_negativity() {
        let s = scored("My kid got food poisoning after eating Acme yogurt, he was sick all night");
        assert_eq!(s.breakdown["rule"], "food-safety");
        assert_eq!(s.breakdown["severity"], 75);
        assert!(s.sentiment.score < 0.0, "{:?}", s.sentiment);
        assert!(s.risk > 75, "negativity raises the risk: {}", s.breakdown);
        assert_eq!(s.breakdown["score"], s.risk);
        assert_eq!(s.breakdown["novelty"], 1.0);
    }

    #[test]
    fn a_disaster_told_flatly_weighs_its_harm() {
        let s = scored("Acme jet crashes minutes after takeoff, no survivors reported");
        assert_eq!(s.breakdown["rule"], "safety-incident");
        assert!(s.breakdown["harm"].as_f64().is_some_and(|h| h >= 0.8), "{}", s.breakdown);
        assert!(s.risk >= 90, "{}", s.breakdown);
        let calm = scored("Acme opens a new store in Berlin");
        assert_eq!(calm.breakdown["harm"], 0.0);
    }

    #[test]
    fn a_crisis_no_list_names_opens_through_the_crisis_model_and_a_named_one_stays_its_packs() {
        let s = scored("Acme pilot found drunk in cockpit before transatlantic flight");
        assert_eq!(s.breakdown["rule"], "crisis-signal", "{}", s.breakdown);
        assert!(s.crisis > 0.9, "{}", s.crisis);
        assert!(s.risk >= 60, "opens on its own: {}", s.breakdown);
        assert_eq!(s.breakdown["crisis"], serde_json::json!((s.crisis * 1000.0).round() / 1000.0));
        let named = scored("My kid got food poisoning after eating Acme yogurt");
        let rules: Vec<&str> = named.matches.iter().map(|m| m.rule.as_str()).collect();
        assert_eq!(rules, ["food-safety"], "the net leaves a storm a pack names to the pack");
        assert!(named.crisis > 0.9, "the why still shows the model's reading");
        let unmatched = scored("Sunny all week");
        assert!(unmatched.matches.is_empty());
        assert!(unmatched.crisis < 0.5, "read even when nothing matched: {}", unmatched.crisis);
        assert_eq!(unmatched.breakdown["crisis"], serde_json::json!((unmatched.crisis * 1000.0).round() / 1000.0));
    }

    #[test]
    fn an_unrelated_mention_scores_zero() {
        let s = scored("Sunny all week");
        assert_eq!(s.risk, 0);
        assert!(s.matches.is_empty());
        assert_eq!(s.breakdown["rule"], serde_json::Value::Null);
    }

    #[test]
    fn a_later_copy_of_a_story_scores_lower_and_says_why() {
        let first = scored("Acme recalls its yogurt over listeria fears");
        let copy = first.clone().with_copies(299, &RiskWeights::default());
        assert!(first.risk > 0);
        assert!(copy.risk < first.risk / 2, "{} vs {}", copy.risk, first.risk);
        assert_eq!(copy.breakdown["copies"], 299);
    }

    #[test]
    fn source_weight_multiplies() {
        let text = "The Acme app is down again this morning";
        let plain = analyze(&RuleSet::bundled(), mention("", text), &RiskWeights::default(), 1.0);
        let weighty = analyze(&RuleSet::bundled(), mention("", text), &RiskWeights::default(), 1.2);
        assert!(weighty.risk > plain.risk);
        assert_eq!(weighty.breakdown["source_weight"], 1.2);
    }

    #[test]
    fn the_most_severe_match_wins_and_ties_keep_file_order() {
        let m = |rule: &str, severity| RuleMatch { rule: rule.into(), severity, terms: Vec::new(), brand: None };
        let matches = [m("a", 60), m("b", 80), m("c", 80)];
        assert_eq!(most_severe(&matches).map(|m| m.rule.as_str()), Some("b"));
    }
}
