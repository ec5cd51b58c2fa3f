//! Event negativity: how bad what happened is, whatever the tone it is told in.
//!
//! Sentiment reads how a text is said; a factual headline (`Acme oil spill fouls 100 miles of
//! coastline`, `艾克米门店发生火灾，造成三人死亡`) says a disaster in neutral words, and a
//! sentiment model trained on reviews may even read it as positive. The risk therefore also
//! reads the harm events a text reports: deaths, fires, explosions, leaks, fraud, recalls,
//! arrests, lawsuits, `死亡 火灾 爆炸 泄露 造假 暴雷 召回 被捕 立案`, each weighted 0..1 in
//! `harm_events.txt`, in both languages.
//!
//! - Terms match as rule terms do (one automaton, folded text, whole Latin words, `stem*`
//!   prefixes, CJK substrings, ` -longer` exceptions).
//! - A hit shortly after a negator in its own clause does not count: up to four words back
//!   in English (`no one was hurt`, `without injuries`, `wasn't recalled`), up to six
//!   characters back in Chinese (`并未造成人员伤亡`, `无人受伤`, `否认造假`). Chinese `不` alone is
//!   not taken as a negator, because `不少人中毒` (many were poisoned) is the common case.
//! - The harm is `1 − Π(1 − weight)` over the distinct terms that count, so two events weigh
//!   more than one and nothing passes 1.
//!
//! The risk's negativity then reads the worse of the two signals (see [`super::risk`]);
//! sentiment itself, and the rules' `sentiment_below`/`sentiment_above`, are untouched.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Serialize;

use super::matcher::{Literal, Matcher, TermHit};
use super::query::{Field, Query, Term, TermKind};
use super::text::{is_cjk, is_word_char};

/// The weighted terms, as shipped.
const HARM_EVENTS: &str = include_str!("harm_events.txt");

/// The lexicon compiled once: one query per weight, each a list of that weight's terms.
struct Lexicon {
    matcher: Matcher,
    /// The weight of each query, in query order.
    weights: Vec<f64>,
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let mut by_weight: Vec<(u32, Vec<Literal>)> = Vec::new();
    for line in HARM_EVENTS.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let Some((weight, term)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        // Hundredths, so equal weights share a list; a malformed weight is a build defect
        // a unit test catches, not input.
        let Ok(weight) = weight.parse::<f64>() else {
            continue;
        };
        let hundredths = (weight.clamp(0.0, 1.0) * 100.0).round() as u32;
        let mut pieces = term.split(" -");
        let main = pieces.next().unwrap_or_default().trim();
        let except: Vec<String> = pieces.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
        let literal = match main.strip_suffix('*') {
            Some(stem) => Literal::prefix(stem),
            None => Literal::word(main),
        }
        .except(except);
        match by_weight.iter_mut().find(|(w, _)| *w == hundredths) {
            Some((_, terms)) => terms.push(literal),
            None => by_weight.push((hundredths, vec![literal])),
        }
    }
    let lists: HashMap<String, Vec<Literal>> =
        by_weight.iter().map(|(w, terms)| (format!("harm{w}"), terms.clone())).collect();
    let queries: Vec<Query> = by_weight
        .iter()
        .map(|(w, _)| Query::Term(Term { field: None, kind: TermKind::List(format!("harm{w}")), span: 0..0 }))
        .collect();
    let refs: Vec<&Query> = queries.iter().collect();
    let matcher = match Matcher::build(&refs, &lists) {
        Ok(matcher) => matcher,
        // A few hundred compiled-in literals: a unit test builds it.
        Err(e) => panic!("the harm event lexicon does not compile: {e}"),
    };
    Lexicon { matcher, weights: by_weight.iter().map(|(w, _)| f64::from(*w) / 100.0).collect() }
});

/// One harm event a text reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HarmEvent {
    pub term: String,
    pub weight: f64,
}

/// The harm events of a text and how bad they are together.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Harm {
    /// 0 (nothing happened) .. 1.
    pub score: f64,
    /// The counted events, heaviest first.
    pub events: Vec<HarmEvent>,
}

/// The harm a title and body report (see the module docs).
pub fn harm(title: &str, body: &str) -> Harm {
    let lexicon = &*LEXICON;
    let texts = [(Field::Title, title), (Field::Body, body)];
    let mut hits: Vec<(f64, TermHit)> = lexicon
        .matcher
        .scan(&texts)
        .into_iter()
        .flat_map(|(query, hits)| {
            let weight = lexicon.weights.get(query).copied().unwrap_or(0.0);
            hits.into_iter().map(move |hit| (weight, hit))
        })
        .collect();
    // Longest first: a term inside a longer one's hit is the same event told once
    // (`poisoning` in `food poisoning`, `泄露` in `数据泄露`).
    hits.sort_by(|(_, a), (_, b)| (b.end - b.start).cmp(&(a.end - a.start)).then(a.start.cmp(&b.start)));
    let mut counted: Vec<&TermHit> = Vec::new();
    let mut events: Vec<HarmEvent> = Vec::new();
    for (weight, hit) in &hits {
        let inside = counted.iter().any(|c| c.field == hit.field && c.start <= hit.start && hit.end <= c.end);
        let text = if hit.field == Field::Title { title } else { body };
        if inside || negated(&text[..hit.start]) {
            continue;
        }
        counted.push(hit);
        if !events.iter().any(|e| e.term == hit.term) {
            events.push(HarmEvent { term: hit.term.clone(), weight: *weight });
        }
    }
    events.sort_by(|a, b| b.weight.total_cmp(&a.weight).then_with(|| a.term.cmp(&b.term)));
    let unharmed: f64 = events.iter().map(|e| 1.0 - e.weight).product();
    Harm { score: ((1.0 - unharmed) * 1000.0).round() / 1000.0, events }
}

const EN_NEGATORS: &[&str] =
    &["no", "not", "never", "without", "zero", "nobody", "none", "neither", "nor", "denies", "denied", "deny"];
const ZH_NEGATORS: &[&str] = &["未", "没有", "没", "无", "零", "否认", "不是", "不会", "不存在", "并非"];
/// Words that start with a negator character but negate nothing (`无数人中毒`: countless).
const ZH_NOT_NEGATORS: &[&str] = &["无数", "无法", "无良", "无辜", "无奈", "没想到"];

/// Whether the clause before a hit (`before` ends where the hit starts) negates it.
fn negated(before: &str) -> bool {
    let clause_start = before
        .char_indices()
        .rev()
        .find(|&(_, c)| matches!(c, ',' | '.' | ';' | '!' | '?' | ':' | '\n' | '，' | '。' | '；' | '！' | '？' | '：'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let clause = &before[clause_start..];
    // Chinese: the last six characters.
    let tail_start = clause.char_indices().rev().take_while(|&(_, c)| is_cjk(c)).take(6).last().map(|(i, _)| i);
    if let Some(start) = tail_start {
        let tail = &clause[start..];
        let cleaned = ZH_NOT_NEGATORS.iter().fold(tail.to_owned(), |t, w| t.replace(w, "　"));
        if ZH_NEGATORS.iter().any(|n| cleaned.contains(n)) {
            return true;
        }
    }
    // English: the last four words.
    let words: Vec<String> = clause
        .split(|c: char| !(is_word_char(c) || c == '\'' || c == '’'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    words.iter().rev().take(4).any(|w| EN_NEGATORS.contains(&w.as_str()) || w.ends_with("n't") || w.ends_with("n’t"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(text: &str) -> f64 {
        harm("", text).score
    }

    #[test]
    fn every_line_of_the_lexicon_is_read() {
        let lines = HARM_EVENTS.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
        for line in lines {
            let (weight, term) = line.split_once(char::is_whitespace).unwrap_or_else(|| panic!("{line}"));
            let weight: f64 = weight.parse().unwrap_or_else(|_| panic!("weight of {line}"));
            assert!((0.0..=1.0).contains(&weight), "{line}");
            assert!(!term.trim().is_empty(), "{line}");
        }
        assert!(LEXICON.weights.len() >= 5);
    }

    #[test]
    fn disasters_told_flatly_read_as_harm_in_both_languages() {
        for text in [
            "Acme oil spill fouls 100 miles of coastline",
            "Acme jet crashes minutes after takeoff, no survivors reported",
            "艾克米门店发生火灾，造成三人死亡",
            "艾克米数据泄露，上百万用户信息被贩卖",
            "艾克米理财产品暴雷，投资者血本无归",
            "艾克米疫苗生产记录造假",
            "艾克米門店發生火災",
        ] {
            assert!(score(text) >= 0.7, "{text}: {:?}", harm("", text));
        }
        assert!(score("艾克米门店发生火灾，造成三人死亡") > score("艾克米门店发生火灾"), "two events weigh more");
    }

    #[test]
    fn negated_events_do_not_count() {
        for text in [
            "Small fire at an Acme warehouse, no one was hurt",
            "Acme says no injuries were reported",
            "The product wasn't recalled",
            "艾克米仓库起火，并未造成人员伤亡",
            "艾克米否认造假",
        ] {
            let h = harm("", text);
            assert!(
                !h.events.iter().any(|e| ["hurt", "injuries", "recalled", "伤亡", "造假"].contains(&e.term.as_str())),
                "{text}: {h:?}"
            );
        }
        // 不少 (many) and 无数 (countless) negate nothing.
        assert!(score("不少顾客食用后中毒") > 0.7);
        assert!(score("无数人中毒") > 0.7);
    }

    #[test]
    fn a_term_inside_a_longer_one_is_one_event() {
        let h = harm("", "Acme yogurt linked to food poisoning");
        assert_eq!(h.events.iter().map(|e| e.term.as_str()).collect::<Vec<_>>(), ["food poisoning"], "{h:?}");
        let h = harm("", "艾克米数据泄露");
        assert_eq!(h.events.iter().map(|e| e.term.as_str()).collect::<Vec<_>>(), ["数据泄露"], "{h:?}");
        // Apart, each counts.
        assert!(score("Acme kitchen fire, then food poisoning") > score("Acme food poisoning"));
    }

    #[test]
    fn ordinary_news_reports_no_harm() {
        assert_eq!(score("Acme opens a new store in Berlin"), 0.0);
        assert_eq!(score("艾克米新品发布会圆满成功"), 0.0);
        assert_eq!(score("艾克米生意火爆"), 0.0);
    }
}
