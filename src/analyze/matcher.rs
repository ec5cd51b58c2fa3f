//! Matching every rule against a mention in one pass per field.
//!
//! All literal terms of all rules, list entries included, go into one Aho-Corasick
//! automaton, deduplicated by their folded text. The search is overlapping with
//! `MatchKind::Standard`: leftmost-longest would let `acme recall` hide `acme` at the same
//! spot, and a rule that only asks for `acme` would then miss its hit. Word boundaries are
//! checked per hit afterwards, because the automaton can't know them. Regexes go into one
//! `RegexSet`. Only rules that some hit touches are evaluated (plus rules that are true
//! with no hits at all, like `NOT spam`), so the cost follows the text and its hits rather
//! than the number of rules.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Regex, RegexSet};
use serde::Serialize;

use super::query::{Field, Query, TermKind, compile_regex};
use super::text::{Folded, fold_term, is_word_char};

/// Where one term of a matching rule was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TermHit {
    /// The term as written in the rule or the list.
    pub term: String,
    pub field: Field,
    /// Byte offsets into the original field text.
    pub start: usize,
    pub end: usize,
}

/// A rule whose query is true for a mention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleMatch {
    pub rule: String,
    pub severity: u8,
    /// The hits that made the query true (terms under a `NOT`, or in an `OR` branch that
    /// was false, are left out), ordered by field and position.
    pub terms: Vec<TermHit>,
}

/// A literal term from a query or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    /// As written, for reports (`recall*`, `food poisoning`).
    pub written: String,
    /// The text to find, without quotes or `*`.
    pub text: String,
    /// `recall*`: the hit may run on to the end of the word.
    pub prefix: bool,
}

impl Literal {
    pub fn word(text: &str) -> Self {
        Literal { written: text.to_string(), text: text.to_string(), prefix: false }
    }

    pub fn prefix(stem: &str) -> Self {
        Literal { written: format!("{stem}*"), text: stem.to_string(), prefix: true }
    }
}

/// The texts of one mention, by field.
pub type FieldTexts<'a> = [(Field, &'a str)];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AtomKey {
    Pattern(usize),
    Regex(usize),
}

#[derive(Debug)]
struct Atom {
    key: AtomKey,
    written: String,
    prefix: bool,
}

#[derive(Debug)]
struct Leaf {
    field: Option<Field>,
    atoms: Vec<Atom>,
}

#[derive(Debug)]
enum Expr {
    Leaf(usize),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// One occurrence of a pattern, in original byte offsets.
#[derive(Debug, Clone, Copy)]
struct RawHit {
    start: usize,
    end: usize,
    /// Where the word the hit starts in ends; a prefix term reports up to here.
    word_end: usize,
    /// No word character follows, so a whole-word term may count it.
    right_ok: bool,
}

type Hits = HashMap<(Field, AtomKey), Vec<RawHit>>;

/// Compiled queries of a rule set.
#[derive(Debug)]
pub struct Matcher {
    automaton: Option<AhoCorasick>,
    /// Per pattern: must the character before a hit not be a word character?
    left_boundary: Vec<bool>,
    regex_set: Option<RegexSet>,
    regexes: Vec<Regex>,
    leaves: Vec<Leaf>,
    exprs: Vec<Expr>,
    rules_by_key: HashMap<AtomKey, Vec<usize>>,
    always: Vec<usize>,
    scan_author: bool,
    scan_source: bool,
}

/// Why a matcher could not be built; the rule loader has already rejected bad queries and
/// unknown lists, so this is about limits (a huge automaton or regex set).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

impl Matcher {
    /// Compiles one query per rule; `@name` resolves in `lists` (an unknown list matches
    /// nothing; the loader reports it before this point).
    pub fn build(queries: &[&Query], lists: &HashMap<String, Vec<Literal>>) -> Result<Self, BuildError> {
        let mut builder = Builder::default();
        let exprs = queries.iter().enumerate().map(|(rule, q)| builder.expr(q, rule, lists)).collect::<Vec<_>>();
        let automaton = if builder.patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&builder.patterns)
                    .map_err(|e| BuildError(format!("cannot compile the rule terms: {e}")))?,
            )
        };
        let regex_set = if builder.regexes.is_empty() {
            None
        } else {
            Some(
                // `Regex::as_str` drops builder flags, so the set gets them inline.
                RegexSet::new(builder.regex_keys.iter().map(|(pattern, case_insensitive)| {
                    if *case_insensitive { format!("(?i){pattern}") } else { pattern.clone() }
                }))
                .map_err(|e| BuildError(format!("cannot compile the rule regexes: {e}")))?,
            )
        };
        let mut matcher = Matcher {
            automaton,
            left_boundary: builder.patterns.iter().map(|p| p.chars().next().is_some_and(is_word_char)).collect(),
            regex_set,
            regexes: builder.regexes,
            leaves: builder.leaves,
            exprs,
            rules_by_key: builder.rules_by_key,
            always: Vec::new(),
            scan_author: builder.fields_used.contains(&Field::Author),
            scan_source: builder.fields_used.contains(&Field::Source),
        };
        let no_hits = Hits::new();
        matcher.always = (0..matcher.exprs.len()).filter(|&i| matcher.eval(&matcher.exprs[i], &no_hits)).collect();
        Ok(matcher)
    }

    /// Whether author and source text is needed at all; most rule sets never look.
    pub fn needs(&self, field: Field) -> bool {
        match field {
            Field::Title | Field::Body => true,
            Field::Author => self.scan_author,
            Field::Source => self.scan_source,
        }
    }

    /// Indices of the rules whose query is true, in rule order, with their hits.
    pub fn scan(&self, texts: &FieldTexts<'_>) -> Vec<(usize, Vec<TermHit>)> {
        let mut hits = Hits::new();
        for &(field, text) in texts {
            if self.needs(field) && !text.is_empty() {
                self.scan_field(field, text, &mut hits);
            }
        }
        let mut candidates = self.always.clone();
        for (_, key) in hits.keys() {
            if let Some(rules) = self.rules_by_key.get(key) {
                candidates.extend(rules);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .filter(|&i| self.eval(&self.exprs[i], &hits))
            .map(|i| {
                let mut terms = Vec::new();
                self.collect(&self.exprs[i], &hits, &mut terms);
                terms.sort_by(|a, b| (a.field, a.start, a.end, &a.term).cmp(&(b.field, b.start, b.end, &b.term)));
                terms.dedup();
                (i, terms)
            })
            .collect()
    }

    fn scan_field(&self, field: Field, text: &str, hits: &mut Hits) {
        if let Some(automaton) = &self.automaton {
            let folded = Folded::new(text);
            for m in automaton.find_overlapping_iter(folded.text.as_str()) {
                let pattern = m.pattern().as_usize();
                let left_ok = !self.left_boundary.get(pattern).copied().unwrap_or(false)
                    || !folded.char_before(m.start()).is_some_and(is_word_char);
                if !left_ok {
                    continue;
                }
                let last_is_word = folded.text[m.start()..m.end()].chars().next_back().is_some_and(is_word_char);
                let mut word_end = m.end();
                while let Some(c) = folded.char_at(word_end).filter(|c| is_word_char(*c)) {
                    word_end += c.len_utf8();
                }
                let right_ok = !last_is_word || word_end == m.end();
                let (start, end) = folded.to_original(m.start(), m.end());
                let (_, word_end) = folded.to_original(m.start(), word_end);
                hits.entry((field, AtomKey::Pattern(pattern))).or_default().push(RawHit {
                    start,
                    end,
                    word_end,
                    right_ok,
                });
            }
        }
        if let Some(set) = &self.regex_set {
            for index in set.matches(text).iter() {
                let Some(regex) = self.regexes.get(index) else {
                    continue;
                };
                let found = regex.find_iter(text).filter(|m| !m.is_empty()).map(|m| RawHit {
                    start: m.start(),
                    end: m.end(),
                    word_end: m.end(),
                    right_ok: true,
                });
                hits.entry((field, AtomKey::Regex(index))).or_default().extend(found);
            }
        }
    }

    fn fields(leaf: &Leaf) -> &'static [Field] {
        match leaf.field {
            None => &[Field::Title, Field::Body],
            Some(Field::Title) => &[Field::Title],
            Some(Field::Body) => &[Field::Body],
            Some(Field::Author) => &[Field::Author],
            Some(Field::Source) => &[Field::Source],
        }
    }

    fn atom_hits<'h>(atom: &'h Atom, field: Field, hits: &'h Hits) -> impl Iterator<Item = &'h RawHit> + 'h {
        hits.get(&(field, atom.key)).into_iter().flatten().filter(move |h| atom.prefix || h.right_ok)
    }

    fn leaf_true(&self, leaf: &Leaf, hits: &Hits) -> bool {
        Self::fields(leaf)
            .iter()
            .any(|&field| leaf.atoms.iter().any(|atom| Self::atom_hits(atom, field, hits).next().is_some()))
    }

    fn eval(&self, expr: &Expr, hits: &Hits) -> bool {
        match expr {
            Expr::Leaf(i) => self.leaves.get(*i).is_some_and(|l| self.leaf_true(l, hits)),
            Expr::Not(e) => !self.eval(e, hits),
            Expr::And(es) => es.iter().all(|e| self.eval(e, hits)),
            Expr::Or(es) => es.iter().any(|e| self.eval(e, hits)),
        }
    }

    /// Gathers the hits of the parts of a true expression that made it true.
    fn collect(&self, expr: &Expr, hits: &Hits, out: &mut Vec<TermHit>) {
        match expr {
            Expr::Leaf(i) => {
                let Some(leaf) = self.leaves.get(*i) else {
                    return;
                };
                for &field in Self::fields(leaf) {
                    for atom in &leaf.atoms {
                        out.extend(Self::atom_hits(atom, field, hits).map(|h| TermHit {
                            term: atom.written.clone(),
                            field,
                            start: h.start,
                            end: if atom.prefix { h.word_end } else { h.end },
                        }));
                    }
                }
            }
            Expr::Not(_) => {}
            Expr::And(es) => es.iter().for_each(|e| self.collect(e, hits, out)),
            Expr::Or(es) => es.iter().filter(|e| self.eval(e, hits)).for_each(|e| self.collect(e, hits, out)),
        }
    }
}

#[derive(Default)]
struct Builder {
    patterns: Vec<String>,
    pattern_ids: HashMap<String, usize>,
    regexes: Vec<Regex>,
    regex_ids: HashMap<(String, bool), usize>,
    /// Pattern and case-insensitivity of each regex, in `regexes` order.
    regex_keys: Vec<(String, bool)>,
    leaves: Vec<Leaf>,
    rules_by_key: HashMap<AtomKey, Vec<usize>>,
    fields_used: Vec<Field>,
}

impl Builder {
    fn expr(&mut self, query: &Query, rule: usize, lists: &HashMap<String, Vec<Literal>>) -> Expr {
        match query {
            Query::Not(q) => Expr::Not(Box::new(self.expr(q, rule, lists))),
            Query::And(qs) => Expr::And(qs.iter().map(|q| self.expr(q, rule, lists)).collect()),
            Query::Or(qs) => Expr::Or(qs.iter().map(|q| self.expr(q, rule, lists)).collect()),
            Query::Term(term) => {
                let mut atoms = Vec::new();
                match &term.kind {
                    TermKind::Word(w) | TermKind::Phrase(w) => {
                        atoms.extend(self.literal(&Literal::word(w)));
                    }
                    TermKind::Prefix(stem) => atoms.extend(self.literal(&Literal::prefix(stem))),
                    TermKind::List(name) => {
                        for literal in lists.get(name).into_iter().flatten() {
                            atoms.extend(self.literal(literal));
                        }
                    }
                    TermKind::Regex { pattern, case_insensitive } => {
                        atoms.extend(self.regex(pattern, *case_insensitive, &term.to_string()))
                    }
                }
                for atom in &atoms {
                    let rules = self.rules_by_key.entry(atom.key).or_default();
                    if rules.last() != Some(&rule) {
                        rules.push(rule);
                    }
                }
                if let Some(field) = term.field
                    && !self.fields_used.contains(&field)
                {
                    self.fields_used.push(field);
                }
                self.leaves.push(Leaf { field: term.field, atoms });
                Expr::Leaf(self.leaves.len() - 1)
            }
        }
    }

    /// `None` for a term that folds to nothing; it could never match.
    fn literal(&mut self, literal: &Literal) -> Option<Atom> {
        let folded = fold_term(&literal.text);
        if folded.is_empty() {
            return None;
        }
        let next = self.patterns.len();
        let id = *self.pattern_ids.entry(folded.clone()).or_insert(next);
        if id == next {
            self.patterns.push(folded);
        }
        Some(Atom { key: AtomKey::Pattern(id), written: literal.written.clone(), prefix: literal.prefix })
    }

    fn regex(&mut self, pattern: &str, case_insensitive: bool, written: &str) -> Option<Atom> {
        let key = (pattern.to_string(), case_insensitive);
        let id = match self.regex_ids.get(&key) {
            Some(&id) => id,
            None => {
                // The parser already compiled it once, so this only fails on limits; such
                // a term then matches nothing rather than taking the rule set down.
                let regex = compile_regex(pattern, case_insensitive).ok()?;
                self.regexes.push(regex);
                self.regex_keys.push(key.clone());
                self.regex_ids.insert(key, self.regexes.len() - 1);
                self.regexes.len() - 1
            }
        };
        Some(Atom { key: AtomKey::Regex(id), written: written.to_string(), prefix: false })
    }
}

#[cfg(test)]
mod tests {
    use super::super::query::parse;
    use super::*;

    fn matcher(queries: &[&str], lists: &[(&str, &[&str])]) -> Matcher {
        let parsed: Vec<Query> = queries.iter().map(|q| parse(q).unwrap()).collect();
        let refs: Vec<&Query> = parsed.iter().collect();
        let lists = lists
            .iter()
            .map(|(name, terms)| (name.to_string(), terms.iter().map(|t| Literal::word(t)).collect()))
            .collect();
        Matcher::build(&refs, &lists).unwrap()
    }

    fn matching(m: &Matcher, title: &str, body: &str) -> Vec<usize> {
        m.scan(&[(Field::Title, title), (Field::Body, body)]).into_iter().map(|(i, _)| i).collect()
    }

    #[test]
    fn latin_terms_match_whole_words_only() {
        let m = matcher(&["acme"], &[]);
        assert_eq!(matching(&m, "", "welcome to acmeville"), Vec::<usize>::new());
        assert_eq!(matching(&m, "", "notacme"), Vec::<usize>::new());
        assert_eq!(matching(&m, "", "acme's new plant"), vec![0]);
        assert_eq!(matching(&m, "", "#acme"), vec![0]);
        // No space is written between Chinese and a Latin brand name.
        assert_eq!(matching(&m, "", "我买了acme的酸奶"), vec![0]);
    }

    #[test]
    fn cjk_terms_match_as_substrings() {
        let m = matcher(&["食物中毒"], &[]);
        assert_eq!(matching(&m, "", "孩子食物中毒了"), vec![0]);
        assert_eq!(matching(&m, "", "食物很好"), Vec::<usize>::new());
    }

    #[test]
    fn matching_ignores_case_in_terms_and_text() {
        let m = matcher(&["ACME AND \"Food Poisoning\""], &[]);
        assert_eq!(matching(&m, "Acme", "FOOD  poisoning\nagain"), vec![0]);
    }

    #[test]
    fn overlapping_terms_of_two_rules_both_hit() {
        let m = matcher(&["acme", "\"acme recall\"", "@brand AND recall"], &[("brand", &["acme", "acme corp"])]);
        let found = m.scan(&[(Field::Title, ""), (Field::Body, "Acme recall announced")]);
        let rules: Vec<usize> = found.iter().map(|(i, _)| *i).collect();
        assert_eq!(rules, vec![0, 1, 2]);
        assert_eq!(found[0].1[0].term, "acme");
        assert_eq!((found[0].1[0].start, found[0].1[0].end), (0, 4));
        assert_eq!((found[1].1[0].start, found[1].1[0].end), (0, 11));
        let terms: Vec<&str> = found[2].1.iter().map(|h| h.term.as_str()).collect();
        assert_eq!(terms, vec!["acme", "recall"]);
    }

    #[test]
    fn fields_scope_terms() {
        let m = matcher(&["title:acme", "body:acme", "acme", "author:bob", "source:weibo AND acme"], &[]);
        let scan = |title, body, author, source| -> Vec<usize> {
            m.scan(&[(Field::Title, title), (Field::Body, body), (Field::Author, author), (Field::Source, source)])
                .into_iter()
                .map(|(i, _)| i)
                .collect()
        };
        assert_eq!(scan("Acme news", "", "", ""), vec![0, 2]);
        assert_eq!(scan("", "about acme", "", ""), vec![1, 2]);
        // A term without a field doesn't look at the author.
        assert_eq!(scan("", "", "acme", ""), Vec::<usize>::new());
        assert_eq!(scan("", "", "Bob Smith", ""), vec![3]);
        assert_eq!(scan("acme", "", "", "weibo"), vec![0, 2, 4]);
    }

    #[test]
    fn hits_point_into_the_original_text() {
        let m = matcher(&["@brand AND (食物中毒 OR recall*)"], &[("brand", &["acme", "艾克米"])]);
        let title = "ÜBER-News: ACME";
        let body = "孩子吃了艾克米酸奶后食物中毒。ACME Recalled it.";
        let found = m.scan(&[(Field::Title, title), (Field::Body, body)]);
        assert_eq!(found.len(), 1);
        let shown: Vec<(Field, &str, &str)> = found[0]
            .1
            .iter()
            .map(|h| {
                let text = if h.field == Field::Title { title } else { body };
                (h.field, h.term.as_str(), &text[h.start..h.end])
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                (Field::Title, "acme", "ACME"),
                (Field::Body, "艾克米", "艾克米"),
                (Field::Body, "食物中毒", "食物中毒"),
                (Field::Body, "acme", "ACME"),
                (Field::Body, "recall*", "Recalled"),
            ]
        );
    }

    #[test]
    fn not_and_false_branches_report_no_hits() {
        let m = matcher(&["(acme AND recall) OR (acme AND NOT recipe) OR zzz"], &[]);
        let found = m.scan(&[(Field::Title, ""), (Field::Body, "acme recipe zzz")]);
        let terms: Vec<&str> = found[0].1.iter().map(|h| h.term.as_str()).collect();
        assert_eq!(terms, vec!["zzz"]);
        assert!(matching(&m, "", "acme recipe").is_empty());
        assert_eq!(matching(&m, "", "acme"), vec![0]);
    }

    #[test]
    fn rules_true_without_hits_are_still_evaluated() {
        let m = matcher(&["NOT spam", "acme"], &[]);
        assert_eq!(matching(&m, "", "hello"), vec![0]);
        assert_eq!(matching(&m, "", "spam acme"), vec![1]);
    }

    #[test]
    fn regexes_match_on_the_original_text() {
        let m = matcher(&["/recall(ed|s)?/i AND title:/^ACME/"], &[]);
        assert_eq!(matching(&m, "ACME news", "Product RECALLED"), vec![0]);
        assert!(matching(&m, "acme news", "Product RECALLED").is_empty());
    }
}
