//! Silences: a time-bounded "we know, stop paging" for one rule, feed, feed tag or query.
//! Mentions a silence covers are still stored, scored and attached to a live incident;
//! they open nothing and raise nothing, and the silence lands on the timeline of every
//! incident it held back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::analyze::RuleSet;

/// What a silence covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Matches of one rule (its id).
    Rule,
    /// Mentions from one feed (its name).
    Feed,
    /// Mentions from feeds carrying a tag.
    Tag,
    /// Mentions a query in the rule language is true for.
    Query,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Rule => "rule",
            Scope::Feed => "feed",
            Scope::Tag => "tag",
            Scope::Query => "query",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "rule" => Some(Scope::Rule),
            "feed" => Some(Scope::Feed),
            "tag" => Some(Scope::Tag),
            "query" => Some(Scope::Query),
            _ => None,
        }
    }
}

/// A silence as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Silence {
    pub id: i64,
    pub scope: Scope,
    /// The rule id, feed name, tag or query text.
    pub value: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// When someone ended it early, and who.
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<String>,
    /// Mentions it held back from opening or raising an incident.
    pub held: i64,
    /// Only this brand's incidents are held back (`None`: every brand's).
    pub brand: Option<String>,
}

impl Silence {
    /// In force at `now`: started, not past its end, not ended early.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.created_at <= now && now < self.ends_at && self.ended_at.is_none_or(|ended| now < ended)
    }
}

/// A silence about to be added.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSilence {
    pub scope: Scope,
    pub value: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Only this brand's incidents are held back (`None`: every brand's).
    pub brand: Option<String>,
}

/// The longest a silence may run: a silence is for a known, passing situation, and one
/// that is forgotten must not mute a brand for good.
pub const LONGEST: chrono::Duration = chrono::Duration::days(30);

impl NewSilence {
    /// Whether the silence makes sense for these rules and feed tags; the error says what to
    /// fix. A feed is any name (pushed mentions name their own sources).
    pub fn check(&self, rules: &RuleSet, tags: &[&str]) -> Result<(), String> {
        if self.reason.trim().is_empty() {
            return Err("a silence needs a reason (it is shown on every incident it touches)".into());
        }
        let length = self.ends_at - self.created_at;
        if length <= chrono::Duration::zero() || length > LONGEST {
            return Err(format!("a silence lasts more than zero and at most {} days", LONGEST.num_days()));
        }
        let value = self.value.trim();
        if value.is_empty() {
            return Err(format!("say which {} to silence", self.scope.as_str()));
        }
        match self.scope {
            Scope::Rule if rules.rule(value).is_none() => {
                let ids: Vec<&str> = rules.rules().iter().map(|r| r.id.as_str()).collect();
                Err(format!("no rule `{value}`; the rules are: {}", ids.join(", ")))
            }
            Scope::Tag if !tags.contains(&value) => Err(format!("no configured feed has the tag `{value}`")),
            Scope::Query => rules.query_filter(value).map(|_| ()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silence_is_active_from_its_start_until_it_ends_or_is_ended() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).expect("valid");
        let hours = |h: i64| start + chrono::Duration::hours(h);
        let mut silence = Silence {
            id: 1,
            scope: Scope::Rule,
            value: "service-outage".into(),
            reason: "known outage, status page is up".into(),
            created_by: "alice".into(),
            created_at: start,
            ends_at: hours(2),
            ended_at: None,
            ended_by: None,
            held: 0,
            brand: None,
        };
        assert!(!silence.is_active(hours(-1)));
        assert!(silence.is_active(start));
        assert!(silence.is_active(hours(1)));
        assert!(!silence.is_active(hours(2)));
        silence.ended_at = Some(hours(1));
        assert!(!silence.is_active(hours(1)));
        assert_eq!(Scope::parse("tag").map(Scope::as_str), Some("tag"));
        assert_eq!(Scope::parse("everything"), None);
    }

    #[test]
    fn a_silence_must_name_something_real_for_a_bounded_time_with_a_reason() {
        let rules = RuleSet::bundled();
        let start = DateTime::from_timestamp(1_700_000_000, 0).expect("valid");
        let silence = |scope: Scope, value: &str, hours: i64, reason: &str| NewSilence {
            scope,
            value: value.into(),
            reason: reason.into(),
            created_by: "alice".into(),
            created_at: start,
            ends_at: start + chrono::Duration::hours(hours),
            brand: None,
        };
        assert_eq!(silence(Scope::Rule, "service-outage", 2, "known outage").check(&rules, &[]), Ok(()));
        let typo = silence(Scope::Rule, "service-outages", 2, "known outage").check(&rules, &[]);
        assert!(typo.is_err_and(|e| e.starts_with("no rule `service-outages`; the rules are: ")));
        assert!(silence(Scope::Rule, "service-outage", 2, "  ").check(&rules, &[]).is_err());
        assert!(silence(Scope::Rule, "service-outage", 24 * 31, "long").check(&rules, &[]).is_err());
        assert!(silence(Scope::Tag, "forum", 2, "noisy").check(&rules, &["news"]).is_err());
        assert_eq!(silence(Scope::Tag, "news", 2, "noisy").check(&rules, &["news"]), Ok(()));
        assert_eq!(silence(Scope::Query, "acme AND giveaway", 2, "campaign").check(&rules, &[]), Ok(()));
        let bad = silence(Scope::Query, "acme AND (", 2, "campaign").check(&rules, &[]);
        assert!(bad.is_err_and(|e| e.starts_with("bad query")));
        assert_eq!(silence(Scope::Feed, "any-pushed-source", 2, "test feed").check(&rules, &[]), Ok(()));
    }
}
