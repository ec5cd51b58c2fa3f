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
//!
//! [`analyze`] turns a mention into a [`Scored`] one; it is pure, so the same mention and
//! rules always give the same score.

pub mod matcher;
pub mod query;
pub mod rules;
pub mod text;

use serde::Serialize;
use serde_json::json;

use crate::ingest::Mention;

pub use matcher::{RuleMatch, TermHit};
pub use query::{Field, Query, QueryError, Term, TermKind};
pub use rules::{Example, ExampleOutcome, Rule, RuleError, RuleErrors, RuleSet};

/// A mention with the rules it matched and its risk.
#[derive(Debug, Clone, Serialize)]
pub struct Scored {
    pub mention: Mention,
    pub matches: Vec<RuleMatch>,
    /// 0..=100.
    pub risk: u8,
    /// How the risk was reached, for the timeline and the API.
    pub breakdown: serde_json::Value,
}

/// Matches the mention against the rules and scores it.
pub fn analyze(rules: &RuleSet, mention: Mention) -> Scored {
    let matches = rules.scan(&mention);
    let (risk, breakdown) = risk(&matches);
    Scored { mention, matches, risk, breakdown }
}

/// For now the risk is the severity of the most severe matching rule (the first in file
/// order on a tie); a real model that weighs sentiment and volume replaces this function.
fn risk(matches: &[RuleMatch]) -> (u8, serde_json::Value) {
    let best = matches.iter().reduce(|best, m| if m.severity > best.severity { m } else { best });
    let severity = best.map_or(0, |m| m.severity);
    (severity, json!({ "severity": severity, "rule": best.map(|m| m.rule.as_str()) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mention(title: &str, body: &str) -> Mention {
        Example { title: title.into(), body: body.into(), feed: None, author: None, expect_match: true }
            .mention("test", 0)
    }

    #[test]
    fn a_food_poisoning_complaint_scores_its_rule_severity() {
        let rules = RuleSet::bundled();
        let scored = analyze(&rules, mention("", "My kid got food poisoning after eating Acme yogurt"));
        let food = rules.rule("food-safety").map(|r| r.severity);
        assert_eq!(Some(scored.risk), food);
        assert_eq!(scored.breakdown["rule"], "food-safety");
        assert_eq!(scored.breakdown["severity"], scored.risk);
    }

    #[test]
    fn an_unrelated_mention_scores_zero() {
        let scored = analyze(&RuleSet::bundled(), mention("Weather", "Sunny all week"));
        assert_eq!(scored.risk, 0);
        assert!(scored.matches.is_empty());
        assert_eq!(scored.breakdown, json!({ "severity": 0, "rule": null }));
    }

    #[test]
    fn the_most_severe_match_wins_and_ties_keep_file_order() {
        let m = |rule: &str, severity| RuleMatch { rule: rule.into(), severity, terms: Vec::new() };
        let (risk, breakdown) = risk(&[m("a", 60), m("b", 80), m("c", 80)]);
        assert_eq!(risk, 80);
        assert_eq!(breakdown["rule"], "b");
    }
}
