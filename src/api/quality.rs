//! Triage and rule quality: a person marks a matched mention relevant or not, and each rule's
//! page counts its matches, the share of verdicts that call them false positives, the terms
//! behind both, and offers the verdicts as `[[rule.example]]` blocks for the rule file, so
//! the rule can be fixed and its fix checked by `tocsin check`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiState, BrandScope, Caller, ErrorBody, Responder, body, period_start};
use crate::store::{Escalated, MentionFilter, RuleMatchTerms, Store, StoredMention, Triage, Verdict};

/// How many of a rule's newest matches its quality is worked out from.
pub const QUALITY_MATCHES: i64 = 20_000;

/// How many verdicts of each kind the examples block offers.
const EXAMPLES_OF_EACH: usize = 5;

/// A verdict on one mention.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageBody {
    pub verdict: Verdict,
}

/// One term of a rule: how often it was behind a match, and behind a match called not
/// relevant.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TermQuality {
    pub term: String,
    pub matches: u64,
    pub relevant: u64,
    pub not_relevant: u64,
}

/// What a rule matched over a period and what people said of it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RuleQuality {
    pub rule: String,
    /// `24h`, `7d` or `30d`.
    pub period: String,
    /// Matches in the period (of the newest 20,000).
    pub matches: u64,
    pub relevant: u64,
    pub not_relevant: u64,
    /// Of the verdicts given, the share that say not relevant; `None` before any.
    pub not_relevant_share: Option<f64>,
    /// The terms behind the matches, those most often behind a false positive first.
    pub terms: Vec<TermQuality>,
    /// The newest verdicts as `[[rule.example]]` blocks to paste into the rule's file:
    /// not relevant ones as `match = false`, relevant ones as `match = true`.
    pub examples: String,
}

/// `rule`'s quality from its stored matches and the verdicts given in the period, counting
/// only what `scope` sees.
pub fn rule_quality(
    rule: &str,
    period: &str,
    matches: &[RuleMatchTerms],
    verdicts: &[Triage],
    scope: &BrandScope,
) -> RuleQuality {
    let seen = |brand: &str| scope.sees((!brand.is_empty()).then_some(brand));
    let mut terms: HashMap<&str, TermQuality> = HashMap::new();
    let mut counted = 0u64;
    for found in matches.iter().filter(|found| seen(&found.brand)) {
        counted += 1;
        for term in &found.terms {
            terms.entry(term).or_insert_with(|| blank(term)).matches += 1;
        }
    }
    let (mut relevant, mut not_relevant) = (0u64, 0u64);
    let mut examples: Vec<(&Triage, bool)> = Vec::new();
    for verdict in verdicts {
        let Some(found) = verdict.matches.iter().find(|m| m.rule == rule && seen(&m.brand)) else { continue };
        let is_relevant = verdict.verdict == Verdict::Relevant;
        match is_relevant {
            true => relevant += 1,
            false => not_relevant += 1,
        }
        for term in &found.terms {
            let quality = terms.entry(term).or_insert_with(|| blank(term));
            match is_relevant {
                true => quality.relevant += 1,
                false => quality.not_relevant += 1,
            }
        }
        if examples.iter().filter(|(_, kind)| *kind == is_relevant).count() < EXAMPLES_OF_EACH {
            examples.push((verdict, is_relevant));
        }
    }
    let mut terms: Vec<TermQuality> = terms.into_values().collect();
    terms.sort_by(|a, b| {
        b.not_relevant.cmp(&a.not_relevant).then(b.matches.cmp(&a.matches)).then_with(|| a.term.cmp(&b.term))
    });
    let given = relevant + not_relevant;
    RuleQuality {
        rule: rule.to_owned(),
        period: period.to_owned(),
        matches: counted,
        relevant,
        not_relevant,
        not_relevant_share: (given > 0).then(|| not_relevant as f64 / given as f64),
        terms,
        examples: examples_block(&examples),
    }
}

fn blank(term: &str) -> TermQuality {
    TermQuality { term: term.to_owned(), matches: 0, relevant: 0, not_relevant: 0 }
}

/// The verdicts as TOML `[[rule.example]]` tables, false positives first, each with the
/// mention's title and body as its fields, so the example reads as the mention did.
fn examples_block(examples: &[(&Triage, bool)]) -> String {
    let quoted = |text: &str| toml::Value::String(text.to_owned()).to_string();
    let mut block = String::new();
    for wanted in [false, true] {
        for (verdict, is_relevant) in examples.iter().filter(|(_, kind)| *kind == wanted) {
            if !block.is_empty() {
                block.push('\n');
            }
            block.push_str(&format!(
                "# mention {} marked {} by {}\n[[rule.example]]\n",
                verdict.mention_id,
                verdict.verdict.as_str().replace('_', " "),
                verdict.actor.replace('\n', " "),
            ));
            for (field, text) in [("title", verdict.title.trim()), ("body", verdict.body.trim())] {
                if !text.is_empty() {
                    block.push_str(&format!("{field} = {}\n", quoted(text)));
                }
            }
            block.push_str(&format!("match = {is_relevant}\n"));
        }
    }
    block
}

/// The mention `id` when it exists and `scope` sees it (a brand-limited reader is told of
/// no mention outside their brands).
pub async fn visible_mention<S: Store>(
    state: &ApiState<S>,
    scope: &BrandScope,
    id: i64,
) -> Result<StoredMention, ApiError> {
    let filter = MentionFilter {
        before_id: id.checked_add(1),
        limit: 1,
        brands: scope.narrowed(None),
        ..MentionFilter::default()
    };
    state
        .store
        .mentions(&filter)
        .await?
        .into_iter()
        .find(|mention| mention.id == id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no mention {id}")))
}

/// Records `actor`'s verdict on mention `id`, when `scope` sees it.
pub async fn give_verdict<S: Store>(
    state: &ApiState<S>,
    scope: &BrandScope,
    actor: &str,
    id: i64,
    verdict: Verdict,
) -> Result<Triage, ApiError> {
    visible_mention(state, scope, id).await?;
    let triage = state.store.triage(id, verdict, actor, state.clock.now()).await?;
    let triage = triage.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no mention {id}")))?;
    tracing::info!(mention = id, %actor, verdict = verdict.as_str(), "mention triaged");
    Ok(triage)
}

/// The quality of rule `rule` over `period` (ending now), as `scope` sees it: 404 for a
/// rule the loaded rules do not hold, 400 for an unknown period.
pub async fn quality_of<S: Store>(
    state: &ApiState<S>,
    scope: &BrandScope,
    rule: &str,
    period: &str,
) -> Result<RuleQuality, ApiError> {
    if state.pipeline.rules().rule(rule).is_none() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no rule {rule:?}")));
    }
    let since = period_start(period, state.clock.now())?;
    let matches = state.store.rule_match_terms(rule, since, QUALITY_MATCHES).await?;
    let verdicts = state.store.triaged(since).await?;
    Ok(rule_quality(rule, period, &matches, &verdicts, scope))
}

/// Marks a mention relevant or not relevant (a false positive). A later verdict replaces an
/// earlier one; the mention's text and matched terms are kept with the verdict, so the
/// rule's quality outlives the mention's retention.
#[utoipa::path(
    post,
    path = "/api/v1/mentions/{id}/triage",
    tag = "mentions",
    params(("id" = i64, Path, description = "The mention's id")),
    request_body = TriageBody,
    responses(
        (status = 200, description = "The verdict as recorded", body = Triage),
        (status = 400, description = "The body is not a verdict", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 403, description = "A viewer token", body = ErrorBody),
        (status = 404, description = "No such mention among the token's brands", body = ErrorBody),
    )
)]
pub(super) async fn triage_mention<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path(id): Path<i64>,
    bytes: axum::body::Bytes,
) -> Result<Json<Triage>, ApiError> {
    let TriageBody { verdict } = body(&bytes)?;
    Ok(Json(give_verdict(&state, &caller.brands, &caller.name, id, verdict).await?))
}

/// Escalates mention `id` to an incident as `actor`, when `scope` sees it: it joins the
/// live incident of its most severe rule, or opens one (see [`Pipeline::escalate`]).
///
/// [`Pipeline::escalate`]: crate::pipeline::Pipeline::escalate
pub async fn escalate<S: Store>(
    state: &ApiState<S>,
    scope: &BrandScope,
    actor: &str,
    id: i64,
) -> Result<Escalated, ApiError> {
    let mention = visible_mention(state, scope, id).await?;
    Ok(state.pipeline.escalate(&mention, actor).await?)
}

/// Escalates a mention to an incident: a person decides it is a crisis the rules did not
/// (yet) open one for. It joins the live incident of its most severe matching rule, or
/// opens one whatever its score, with the responder on the timeline and the policy's
/// first notices sent; a mention no rule matched opens an incident of its own (rule
/// `manual`, the general playbook, the default policy). Escalating it again changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/mentions/{id}/escalate",
    tag = "mentions",
    params(("id" = i64, Path, description = "The mention's id")),
    responses(
        (status = 200, description = "The incident it is on, and whether this opened it", body = Escalated),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 403, description = "A viewer token", body = ErrorBody),
        (status = 404, description = "No such mention among the token's brands", body = ErrorBody),
    )
)]
pub(super) async fn escalate_mention<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path(id): Path<i64>,
) -> Result<Json<Escalated>, ApiError> {
    Ok(Json(escalate(&state, &caller.brands, &caller.name, id).await?))
}

/// The period of a rule-quality request.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct QualityQuery {
    /// `7d` (the default), `24h` or `30d`.
    period: Option<String>,
}

/// A rule's quality: its matches over the period, the verdicts people gave on them, the
/// terms behind false positives, and the verdicts as `[[rule.example]]` blocks for the
/// rule file.
#[utoipa::path(
    get,
    path = "/api/v1/rules/{id}/quality",
    tag = "mentions",
    params(("id" = String, Path, description = "The rule's id"), QualityQuery),
    responses(
        (status = 200, description = "The rule's quality", body = RuleQuality),
        (status = 400, description = "The period is not 24h, 7d or 30d", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such rule is loaded", body = ErrorBody),
    )
)]
pub(super) async fn get_rule_quality<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    Path(rule): Path<String>,
    query: Result<Query<QualityQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RuleQuality>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    Ok(Json(quality_of(&state, &caller.brands, &rule, query.period.as_deref().unwrap_or("7d")).await?))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::store::TriagedMatch;

    fn found(id: i64, brand: &str, terms: &[&str]) -> RuleMatchTerms {
        RuleMatchTerms { mention_id: id, brand: brand.to_owned(), terms: terms.iter().map(|t| t.to_string()).collect() }
    }

    fn verdict(id: i64, verdict: Verdict, brand: &str, terms: &[&str], title: &str) -> Triage {
        Triage {
            mention_id: id,
            verdict,
            actor: "alice".into(),
            at: Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().expect("a time"),
            title: title.into(),
            body: String::new(),
            matches: vec![TriagedMatch {
                rule: "product-recall".into(),
                brand: brand.into(),
                terms: terms.iter().map(|t| t.to_string()).collect(),
            }],
        }
    }

    #[test]
    fn false_positives_are_counted_per_term_and_offered_as_examples_that_parse() {
        let matches = [found(1, "", &["recall"]), found(2, "", &["recall", "exploded"]), found(3, "", &["exploded"])];
        let verdicts = [
            verdict(2, Verdict::NotRelevant, "", &["recall", "exploded"], "Acme blender \"exploded\" with flavour lol"),
            verdict(1, Verdict::Relevant, "", &["recall"], "Acme recalls 40,000 kettles"),
        ];
        let quality = rule_quality("product-recall", "7d", &matches, &verdicts, &BrandScope::default());
        assert_eq!((quality.matches, quality.relevant, quality.not_relevant), (3, 1, 1));
        assert_eq!(quality.not_relevant_share, Some(0.5));
        assert_eq!(quality.terms[0].term, "exploded", "{:?}", quality.terms);
        assert_eq!((quality.terms[0].matches, quality.terms[0].not_relevant), (2, 1));
        let parsed: toml::Table = quality.examples.parse().expect("the examples block is TOML");
        let examples = parsed["rule"]["example"].as_array().expect("an array of examples");
        assert_eq!(examples.len(), 2);
        assert_eq!(examples[0]["title"].as_str(), Some("Acme blender \"exploded\" with flavour lol"));
        assert!(examples[0].get("body").is_none(), "an empty body is left out");
        assert_eq!(examples[0]["match"].as_bool(), Some(false));
        assert_eq!(examples[1]["match"].as_bool(), Some(true));
    }

    #[test]
    fn a_brand_limited_reader_counts_only_their_brands() {
        let matches = [found(1, "acme", &["recall"]), found(2, "globex", &["recall"])];
        let verdicts = [verdict(2, Verdict::NotRelevant, "globex", &["recall"], "Globex joke")];
        let acme = rule_quality("product-recall", "7d", &matches, &verdicts, &BrandScope::only(vec!["acme".into()]));
        assert_eq!((acme.matches, acme.not_relevant), (1, 0));
        assert!(acme.examples.is_empty());
        let everyone = rule_quality("product-recall", "7d", &matches, &verdicts, &BrandScope::default());
        assert_eq!((everyone.matches, everyone.not_relevant), (2, 1));
    }
}
