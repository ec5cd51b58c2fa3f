//! Matching every rule against a mention in one pass per field.
//!
//! All literal terms of all rules, list entries and `EXCEPT` terms included, go into one
//! Aho-Corasick automaton, deduplicated by their folded text. The search is overlapping
//! with `MatchKind::Standard`: leftmost-longest would let `acme recall` hide `acme` at the
//! same spot, and a rule that only asks for `acme` would then miss its hit. Word
//! boundaries are checked per hit afterwards, because the automaton can't know them.
//! Regexes go into one `RegexSet`. Only rules that some hit touches are evaluated (plus
//! rules that are true with no hits at all, like `NOT spam`), so the cost follows the text
//! and its hits rather than the number of rules.
//!
//! `EXCEPT` drops a hit that lies inside a hit of an excepted term; `NEAR/n` compares the
//! word positions of hits and `SENTENCE` their sentences (see [`Positions`]), which are
//! only worked out for a field with hits, and only when some rule asks.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Regex, RegexSet};
use serde::Serialize;

use super::query::{Field, Query, Term, TermKind, Within, compile_regex};
use super::text::{Folded, Positions, fold_term, is_word_char};

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
    /// The brand it was judged for, when the config names brands (see [`super::brands`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
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
    /// Longer terms a hit must not lie inside (`成功 -郑成功` in a list).
    pub except: Vec<String>,
}

impl Literal {
    pub fn word(text: &str) -> Self {
        Literal { written: text.to_string(), text: text.to_string(), prefix: false, except: Vec::new() }
    }

    pub fn prefix(stem: &str) -> Self {
        Literal { written: format!("{stem}*"), text: stem.to_string(), prefix: true, except: Vec::new() }
    }

    /// The same literal, whose hits inside a hit of one of `except` don't count.
    pub fn except(mut self, except: Vec<String>) -> Self {
        self.except = except;
        self
    }
}

/// The texts of one mention, by field.
pub type FieldTexts<'a> = [(Field, &'a str)];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum AtomKey {
    Pattern(usize),
    Regex(usize),
}

/// An atom's key and whether it is a prefix term.
type Excepted = (AtomKey, bool);

#[derive(Debug)]
struct Atom {
    key: AtomKey,
    written: String,
    prefix: bool,
    /// A hit inside a hit of one of these doesn't count.
    except: Vec<Excepted>,
}

#[derive(Debug)]
struct Leaf {
    field: Option<Field>,
    atoms: Vec<Atom>,
    /// Each atom's key with its index in `atoms`, sorted: a list of hundreds of terms is
    /// looked up from the mention's few hits rather than term by term.
    by_key: Vec<(AtomKey, usize)>,
}

/// Up to this many atoms, a leaf looks each one up among the hits; past it, it looks the
/// hits up among its atoms (a mention has a few dozen hits, a bundled list hundreds of terms).
const FEW_ATOMS: usize = 16;

impl Leaf {
    fn new(field: Option<Field>, atoms: Vec<Atom>) -> Leaf {
        let mut by_key: Vec<(AtomKey, usize)> = atoms.iter().enumerate().map(|(i, atom)| (atom.key, i)).collect();
        by_key.sort_unstable();
        Leaf { field, atoms, by_key }
    }

    /// The atoms that have a hit (counted or not) in `field`, in the leaf's order.
    fn atoms_hit(&self, field: Field, found: &Found) -> Vec<&Atom> {
        if self.atoms.len() <= FEW_ATOMS {
            return self.atoms.iter().filter(|atom| found.of(atom.key, field).next().is_some()).collect();
        }
        let mut hit: Vec<usize> = Vec::new();
        for key in found.atoms_in(field) {
            let from = self.by_key.partition_point(|&(k, _)| k < key);
            hit.extend(self.by_key[from..].iter().take_while(|&&(k, _)| k == key).map(|&(_, i)| i));
        }
        hit.sort_unstable();
        hit.into_iter().filter_map(|i| self.atoms.get(i)).collect()
    }
}

#[derive(Debug)]
enum Expr {
    Leaf(usize),
    Near { left: Box<Expr>, right: Box<Expr>, within: Within },
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

impl RawHit {
    /// The hit as a term with this prefix-ness counts it, or `None` if it doesn't.
    fn counted(&self, prefix: bool) -> Option<(usize, usize)> {
        if prefix {
            Some((self.start, self.word_end))
        } else if self.right_ok {
            Some((self.start, self.end))
        } else {
            None
        }
    }
}

/// The hits of one mention, and where its words and sentences are (only when some rule
/// has NEAR or SENTENCE).
#[derive(Default)]
struct Found {
    /// Every hit, sorted by atom then field once the scan is done (a stable sort, so each
    /// slice stays in text order). A sorted vector rather than a hash map: evaluation looks
    /// atoms up many times per candidate rule, and a binary search over a few dozen hits is
    /// much cheaper than hashing, which showed in the 1,000-rule benchmark.
    hits: Vec<(AtomKey, Field, RawHit)>,
    positions: HashMap<Field, Positions>,
}

impl Found {
    fn push(&mut self, key: AtomKey, field: Field, hit: RawHit) {
        self.hits.push((key, field, hit));
    }

    fn seal(&mut self) {
        self.hits.sort_by_key(|&(key, field, _)| (key, field));
    }

    /// The hits of an atom in a field, in text order.
    fn of(&self, key: AtomKey, field: Field) -> impl Iterator<Item = &RawHit> {
        let from = self.hits.partition_point(|&(k, f, _)| (k, f) < (key, field));
        self.hits[from..].iter().take_while(move |&&(k, f, _)| (k, f) == (key, field)).map(|(_, _, hit)| hit)
    }

    /// The atoms with at least one hit in `field`, each once.
    fn atoms_in(&self, field: Field) -> impl Iterator<Item = AtomKey> + '_ {
        let mut last = None;
        self.hits
            .iter()
            .filter(move |&&(_, f, _)| f == field)
            .filter_map(move |&(key, _, _)| (last.replace(key) != Some(key)).then_some(key))
    }

    /// The atoms with at least one hit, each once.
    fn atoms(&self) -> impl Iterator<Item = AtomKey> {
        let mut last = None;
        self.hits.iter().filter_map(move |&(key, _, _)| (last.replace(key) != Some(key)).then_some(key))
    }
}

/// A hit of one side of a NEAR or SENTENCE: the words and sentences it spans, and the
/// term hits in it.
#[derive(Debug, Clone)]
struct Placed {
    first_word: usize,
    last_word: usize,
    first_sentence: usize,
    last_sentence: usize,
    parts: Vec<TermHit>,
}

impl Placed {
    /// Whether `self` and `other` are close enough for `within`.
    fn close_to(&self, other: &Placed, within: Within) -> bool {
        match within {
            Within::Words(distance) => {
                let after = other.first_word as i64 - self.last_word as i64;
                let before = self.first_word as i64 - other.last_word as i64;
                after.max(before) - 1 <= distance as i64
            }
            Within::Sentence => {
                self.first_sentence == self.last_sentence
                    && other.first_sentence == other.last_sentence
                    && self.first_sentence == other.first_sentence
            }
        }
    }
}

/// The most hits one NEAR passes up to an enclosing NEAR; beyond it a hostile text could
/// make the pairs grow quadratically.
const MAX_PLACED: usize = 4096;

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
    has_near: bool,
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
            has_near: builder.has_near,
        };
        let nothing = Found::default();
        matcher.always = (0..matcher.exprs.len()).filter(|&i| matcher.eval(&matcher.exprs[i], &nothing)).collect();
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
        let mut found = Found::default();
        for &(field, text) in texts {
            if self.needs(field) && !text.is_empty() {
                self.scan_field(field, text, &mut found);
            }
        }
        found.seal();
        let mut candidates = self.always.clone();
        for key in found.atoms() {
            if let Some(rules) = self.rules_by_key.get(&key) {
                candidates.extend(rules);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .filter(|&i| self.eval(&self.exprs[i], &found))
            .map(|i| {
                let mut terms = Vec::new();
                self.collect(&self.exprs[i], &found, &mut terms);
                terms.sort_by(|a, b| (a.field, a.start, a.end, &a.term).cmp(&(b.field, b.start, b.end, &b.term)));
                terms.dedup();
                (i, terms)
            })
            .collect()
    }

    fn scan_field(&self, field: Field, text: &str, found: &mut Found) {
        let hits_before = found.hits.len();
        let mut folded = None;
        if let Some(automaton) = &self.automaton {
            let folded = folded.insert(Folded::new(text));
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
                found.push(AtomKey::Pattern(pattern), field, RawHit { start, end, word_end, right_ok });
            }
        }
        if let Some(set) = &self.regex_set {
            for index in set.matches(text).iter() {
                let Some(regex) = self.regexes.get(index) else {
                    continue;
                };
                for m in regex.find_iter(text).filter(|m| !m.is_empty()) {
                    let hit = RawHit { start: m.start(), end: m.end(), word_end: m.end(), right_ok: true };
                    found.push(AtomKey::Regex(index), field, hit);
                }
            }
        }
        // Positions cost a segmentation of Chinese text; a field without hits needs none.
        if self.has_near && found.hits.len() > hits_before {
            let folded = folded.unwrap_or_else(|| Folded::new(text));
            found.positions.insert(field, Positions::new(text, &folded));
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

    /// The counted hits of an atom in a field, as (start, end) in the original text.
    fn atom_hits<'h>(atom: &'h Atom, field: Field, found: &'h Found) -> impl Iterator<Item = (usize, usize)> + 'h {
        found.of(atom.key, field).filter_map(move |h| {
            let (start, end) = h.counted(atom.prefix)?;
            let inside = atom.except.iter().any(|&(key, prefix)| {
                found
                    .of(key, field)
                    .any(|e| e.counted(prefix).is_some_and(|(e_start, e_end)| e_start <= start && end <= e_end))
            });
            (!inside).then_some((start, end))
        })
    }

    fn leaf_true(&self, leaf: &Leaf, found: &Found) -> bool {
        Self::fields(leaf).iter().any(|&field| {
            leaf.atoms_hit(field, found).into_iter().any(|atom| Self::atom_hits(atom, field, found).next().is_some())
        })
    }

    fn eval(&self, expr: &Expr, found: &Found) -> bool {
        match expr {
            Expr::Leaf(i) => self.leaves.get(*i).is_some_and(|l| self.leaf_true(l, found)),
            Expr::Near { .. } => Field::ALL.iter().any(|&field| !self.placed(expr, field, found).is_empty()),
            Expr::Not(e) => !self.eval(e, found),
            Expr::And(es) => es.iter().all(|e| self.eval(e, found)),
            Expr::Or(es) => es.iter().any(|e| self.eval(e, found)),
        }
    }

    /// The hits of a side of a NEAR or SENTENCE in one field, with their positions.
    fn placed(&self, expr: &Expr, field: Field, found: &Found) -> Vec<Placed> {
        let Some(positions) = found.positions.get(&field) else {
            return Vec::new();
        };
        match expr {
            Expr::Leaf(i) => {
                let Some(leaf) = self.leaves.get(*i).filter(|l| Self::fields(l).contains(&field)) else {
                    return Vec::new();
                };
                let mut out = Vec::new();
                for atom in leaf.atoms_hit(field, found) {
                    out.extend(Self::atom_hits(atom, field, found).map(|(start, end)| {
                        let last = end.saturating_sub(1).max(start);
                        let first_word = positions.word_at(start);
                        let first_sentence = positions.sentence_at(start);
                        Placed {
                            first_word,
                            last_word: positions.word_at(last).max(first_word),
                            first_sentence,
                            last_sentence: positions.sentence_at(last).max(first_sentence),
                            parts: vec![TermHit { term: atom.written.clone(), field, start, end }],
                        }
                    }));
                }
                out
            }
            Expr::Or(es) => es.iter().flat_map(|e| self.placed(e, field, found)).collect(),
            Expr::Near { left, right, within } => {
                let left = self.placed(left, field, found);
                if left.is_empty() {
                    return left;
                }
                let right = self.placed(right, field, found);
                let mut out = Vec::new();
                for a in &left {
                    for b in right.iter().filter(|b| a.close_to(b, *within)) {
                        let mut parts = a.parts.clone();
                        parts.extend(b.parts.iter().cloned());
                        out.push(Placed {
                            first_word: a.first_word.min(b.first_word),
                            last_word: a.last_word.max(b.last_word),
                            first_sentence: a.first_sentence.min(b.first_sentence),
                            last_sentence: a.last_sentence.max(b.last_sentence),
                            parts,
                        });
                        if out.len() >= MAX_PLACED {
                            return out;
                        }
                    }
                }
                out
            }
            // The parser allows only terms, ORs and NEARs on a side of a NEAR.
            Expr::Not(_) | Expr::And(_) => Vec::new(),
        }
    }

    /// Gathers the hits of the parts of a true expression that made it true.
    fn collect(&self, expr: &Expr, found: &Found, out: &mut Vec<TermHit>) {
        match expr {
            Expr::Leaf(i) => {
                let Some(leaf) = self.leaves.get(*i) else {
                    return;
                };
                for &field in Self::fields(leaf) {
                    for atom in leaf.atoms_hit(field, found) {
                        out.extend(Self::atom_hits(atom, field, found).map(|(start, end)| TermHit {
                            term: atom.written.clone(),
                            field,
                            start,
                            end,
                        }));
                    }
                }
            }
            Expr::Near { .. } => {
                for field in Field::ALL {
                    out.extend(self.placed(expr, field, found).into_iter().flat_map(|p| p.parts));
                }
            }
            Expr::Not(_) => {}
            Expr::And(es) => es.iter().for_each(|e| self.collect(e, found, out)),
            Expr::Or(es) => es.iter().filter(|e| self.eval(e, found)).for_each(|e| self.collect(e, found, out)),
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
    has_near: bool,
}

impl Builder {
    fn expr(&mut self, query: &Query, rule: usize, lists: &HashMap<String, Vec<Literal>>) -> Expr {
        match query {
            Query::Not(q) => Expr::Not(Box::new(self.expr(q, rule, lists))),
            Query::And(qs) => Expr::And(qs.iter().map(|q| self.expr(q, rule, lists)).collect()),
            Query::Or(qs) => Expr::Or(qs.iter().map(|q| self.expr(q, rule, lists)).collect()),
            Query::Near { left, right, within } => {
                self.has_near = true;
                Expr::Near {
                    left: Box::new(self.expr(left, rule, lists)),
                    right: Box::new(self.expr(right, rule, lists)),
                    within: *within,
                }
            }
            Query::Term(term) => self.leaf(term, &[], rule, lists),
            Query::Except { term, except } => self.leaf(term, except, rule, lists),
        }
    }

    fn leaf(&mut self, term: &Term, except: &[Term], rule: usize, lists: &HashMap<String, Vec<Literal>>) -> Expr {
        let mut atoms = self.atoms(term, lists);
        let excepted: Vec<Excepted> =
            except.iter().flat_map(|t| self.atoms(t, lists)).map(|a| (a.key, a.prefix)).collect();
        for atom in &mut atoms {
            atom.except.extend(excepted.iter().copied());
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
        self.leaves.push(Leaf::new(term.field, atoms));
        Expr::Leaf(self.leaves.len() - 1)
    }

    fn atoms(&mut self, term: &Term, lists: &HashMap<String, Vec<Literal>>) -> Vec<Atom> {
        match &term.kind {
            TermKind::Word(w) | TermKind::Phrase(w) => self.literal(&Literal::word(w)).into_iter().collect(),
            TermKind::Prefix(stem) => self.literal(&Literal::prefix(stem)).into_iter().collect(),
            TermKind::List(name) => {
                lists.get(name).into_iter().flatten().filter_map(|literal| self.literal(literal)).collect()
            }
            TermKind::Regex { pattern, case_insensitive } => {
                self.regex(pattern, *case_insensitive, &term.to_string()).into_iter().collect()
            }
        }
    }

    /// The automaton pattern for a term's folded text; `None` for a term that folds to
    /// nothing, which could never match.
    fn pattern(&mut self, text: &str) -> Option<AtomKey> {
        let folded = fold_term(text);
        if folded.is_empty() {
            return None;
        }
        let next = self.patterns.len();
        let id = *self.pattern_ids.entry(folded.clone()).or_insert(next);
        if id == next {
            self.patterns.push(folded);
        }
        Some(AtomKey::Pattern(id))
    }

    fn literal(&mut self, literal: &Literal) -> Option<Atom> {
        let key = self.pattern(&literal.text)?;
        let except = literal.except.iter().filter_map(|e| self.pattern(e)).map(|k| (k, false)).collect();
        Some(Atom { key, written: literal.written.clone(), prefix: literal.prefix, except })
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
        Some(Atom { key: AtomKey::Regex(id), written: written.to_string(), prefix: false, except: Vec::new() })
    }
}

#[cfg(test)]
/// The matcher against a plain evaluator: naive substring search on the folded text,
/// then the query evaluated straight from its AST.
mod agreement {
    use proptest::prelude::*;

    use super::super::query::{Field, Query, Term, TermKind, Within, compile_regex, parse};
    use super::super::text::{Folded, Positions, fold_term, is_word_char};
    use super::{Literal, Matcher};

    type Span = (usize, usize);
    type Lists = std::collections::HashMap<String, Vec<Literal>>;

    fn literal_hits(text: &str, term: &str, prefix: bool) -> Vec<Span> {
        let folded = Folded::new(text);
        let term = fold_term(term);
        let f = folded.text.as_str();
        if term.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (i, _) in f.char_indices() {
            if !f[i..].starts_with(&term) {
                continue;
            }
            let end = i + term.len();
            if term.chars().next().is_some_and(is_word_char) && f[..i].chars().next_back().is_some_and(is_word_char) {
                continue;
            }
            let word_end = end + f[end..].chars().take_while(|c| is_word_char(*c)).map(char::len_utf8).sum::<usize>();
            if prefix {
                out.push(folded.to_original(i, word_end));
            } else if !term.chars().next_back().is_some_and(is_word_char) || word_end == end {
                out.push(folded.to_original(i, end));
            }
        }
        out
    }

    fn without_inside(hits: Vec<Span>, except: &[Span]) -> Vec<Span> {
        hits.into_iter().filter(|h| !except.iter().any(|e| e.0 <= h.0 && h.1 <= e.1)).collect()
    }

    fn term_hits(term: &Term, text: &str, lists: &Lists) -> Vec<Span> {
        match &term.kind {
            TermKind::Word(w) | TermKind::Phrase(w) => literal_hits(text, w, false),
            TermKind::Prefix(stem) => literal_hits(text, stem, true),
            TermKind::Regex { pattern, case_insensitive } => compile_regex(pattern, *case_insensitive)
                .map(|r| r.find_iter(text).filter(|m| !m.is_empty()).map(|m| (m.start(), m.end())).collect())
                .unwrap_or_default(),
            TermKind::List(name) => lists
                .get(name)
                .into_iter()
                .flatten()
                .flat_map(|l| {
                    let except: Vec<Span> = l.except.iter().flat_map(|e| literal_hits(text, e, false)).collect();
                    without_inside(literal_hits(text, &l.text, l.prefix), &except)
                })
                .collect(),
        }
    }

    fn in_field(term: &Term, field: Field) -> bool {
        match term.field {
            None => matches!(field, Field::Title | Field::Body),
            Some(f) => f == field,
        }
    }

    fn spans(q: &Query, field: Field, text: &str, lists: &Lists) -> Vec<Span> {
        match q {
            Query::Term(t) if in_field(t, field) => term_hits(t, text, lists),
            Query::Except { term, except } if in_field(term, field) => {
                let ex: Vec<Span> = except.iter().flat_map(|e| term_hits(e, text, lists)).collect();
                without_inside(term_hits(term, text, lists), &ex)
            }
            Query::Or(qs) => qs.iter().flat_map(|q| spans(q, field, text, lists)).collect(),
            Query::Near { left, right, within } => {
                let positions = Positions::new(text, &Folded::new(text));
                let mut out = Vec::new();
                for a in spans(left, field, text, lists) {
                    for b in spans(right, field, text, lists) {
                        let near = match within {
                            // Overlapping hits are near; otherwise count the words wholly between.
                            Within::Words(distance) if a.0 < b.1 && b.0 < a.1 => true,
                            Within::Words(distance) => {
                                let (x, y) = if a.1 <= b.0 { (a, b) } else { (b, a) };
                                let between =
                                    positions.words().iter().filter(|&&(start, end)| x.1 <= start && end <= y.0);
                                between.count() <= *distance
                            }
                            // No sentence starts strictly inside the stretch both hits cover.
                            Within::Sentence => {
                                let (lo, hi) = (a.0.min(b.0), a.1.max(b.1));
                                !positions.sentence_starts().iter().any(|&start| lo < start && start < hi)
                            }
                        };
                        if near {
                            out.push((a.0.min(b.0), a.1.max(b.1)));
                        }
                    }
                }
                out
            }
            _ => Vec::new(),
        }
    }

    fn holds(q: &Query, texts: &[(Field, &str)], lists: &Lists) -> bool {
        match q {
            Query::Not(q) => !holds(q, texts, lists),
            Query::And(qs) => qs.iter().all(|q| holds(q, texts, lists)),
            Query::Or(qs) => qs.iter().any(|q| holds(q, texts, lists)),
            _ => texts.iter().any(|&(field, text)| !spans(q, field, text, lists).is_empty()),
        }
    }

    fn leaf() -> impl Strategy<Value = String> {
        let term = prop_oneof![
            Just("acme"),
            Just("recall"),
            Just("\"acme recall\""),
            Just("rec*"),
            Just("ＡＣＭＥ"),
            Just("食物中毒"),
            Just("中毒"),
            Just("成功"),
            Just("召回"),
            Just("\"食 物\""),
            Just("醜聞"),
            Just("@l"),
            Just("/acme/i"),
        ];
        let except = prop_oneof![
            Just(""),
            Just(" EXCEPT 郑成功"),
            Just(" EXCEPT (acmeville OR \"acme recall\")"),
            Just(" EXCEPT (食物中毒 OR recalled)"),
        ];
        let field = prop_oneof![Just(""), Just(""), Just("title:"), Just("body:")];
        (field, term, except).prop_map(|(f, t, e)| format!("{f}{t}{e}"))
    }

    fn near_side() -> impl Strategy<Value = String> {
        leaf().prop_recursive(2, 6, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
                (inner.clone(), inner.clone(), 0..4usize).prop_map(|(a, b, n)| format!("({a} NEAR/{n} {b})")),
                (inner.clone(), inner).prop_map(|(a, b)| format!("({a} SENTENCE {b})")),
            ]
        })
    }

    fn query() -> impl Strategy<Value = String> {
        let base = prop_oneof![
            leaf(),
            (near_side(), near_side(), 0..5usize).prop_map(|(a, b, n)| format!("{a} NEAR/{n} {b}")),
            (near_side(), near_side()).prop_map(|(a, b)| format!("{a} SENTENCE {b}")),
        ];
        base.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                inner.clone().prop_map(|q| format!("NOT ({q})")),
                proptest::collection::vec(inner.clone(), 2..4).prop_map(|qs| format!("({})", qs.join(" AND "))),
                proptest::collection::vec(inner, 2..4).prop_map(|qs| format!("({})", qs.join(" OR "))),
            ]
        })
    }

    fn text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("acme"),
            Just("Acme"),
            Just("ＡＣＭＥ"),
            Just("acmeville"),
            Just("recall"),
            Just("recalled"),
            Just("RECALLS"),
            Just("fire"),
            Just("食"),
            Just("物"),
            Just("中"),
            Just("毒"),
            Just("食物中毒"),
            Just("郑"),
            Just("鄭"),
            Just("成功"),
            Just("召回"),
            Just("醜"),
            Just("聞"),
            Just("丑闻"),
        ];
        let sep = prop_oneof![
            Just(" "),
            Just(""),
            Just("*"),
            Just("·"),
            Just("/"),
            Just("\u{200B}"),
            Just("\u{FEFF}"),
            Just("  "),
            Just(", "),
            Just("\n"),
            Just("。"),
            Just("！"),
            Just("; "),
            Just(". A"),
            Just(". "),
        ];
        proptest::collection::vec((piece, sep), 0..14)
            .prop_map(|parts| parts.into_iter().flat_map(|(p, s)| [p, s]).collect::<String>())
    }

    fn lists() -> Lists {
        let mut lists = Lists::new();
        lists.insert(
            "l".into(),
            vec![Literal::word("acme"), Literal::word("成功").except(vec!["郑成功".into()]), Literal::prefix("召")],
        );
        lists
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn the_matcher_agrees_with_a_plain_evaluator(
            queries in proptest::collection::vec(query(), 1..6),
            title in text(),
            body in text(),
        ) {
            let parsed: Vec<Query> = queries
                .iter()
                .map(|q| parse(q).map_err(|e| TestCaseError::fail(format!("{q}: {e}"))))
                .collect::<Result<_, _>>()?;
            let refs: Vec<&Query> = parsed.iter().collect();
            let lists = lists();
            let matcher = Matcher::build(&refs, &lists).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let texts = [(Field::Title, title.as_str()), (Field::Body, body.as_str()), (Field::Author, ""), (Field::Source, "")];
            let got: Vec<usize> = matcher.scan(&texts).into_iter().map(|(i, _)| i).collect();
            let want: Vec<usize> = (0..parsed.len()).filter(|&i| holds(&parsed[i], &texts, &lists)).collect();
            prop_assert_eq!(got, want, "queries {:?} title {:?} body {:?}", queries, title, body);
        }

        #[test]
        fn reported_hits_point_at_text_that_folds_to_the_term(
            title in text(),
            body in text(),
        ) {
            let matcher = Matcher::build(&[&parse("@l OR acme OR 食物中毒 OR 丑闻 OR rec*").map_err(|e| TestCaseError::fail(e.to_string()))?], &lists())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let texts = [(Field::Title, title.as_str()), (Field::Body, body.as_str())];
            for (_, hits) in matcher.scan(&texts) {
                for hit in hits {
                    let text = if hit.field == Field::Title { &title } else { &body };
                    let shown = text.get(hit.start..hit.end);
                    prop_assert!(shown.is_some(), "{:?} in {:?}", hit, text);
                    let folded = fold_term(shown.unwrap_or_default());
                    let term = fold_term(hit.term.trim_end_matches('*'));
                    prop_assert!(folded.starts_with(&term), "{:?} shows {:?}", hit, shown);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

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

    fn matcher_with(queries: &[&str], lists: &[(&str, Vec<Literal>)]) -> Matcher {
        let parsed: Vec<Query> = queries.iter().map(|q| parse(q).unwrap()).collect();
        let refs: Vec<&Query> = parsed.iter().collect();
        let lists = lists.iter().map(|(name, terms)| (name.to_string(), terms.clone())).collect();
        Matcher::build(&refs, &lists).unwrap()
    }

    #[test]
    fn near_counts_words_between_hits_in_either_order() {
        let m = matcher(&["acme NEAR/2 recall*", "召回 NEAR/1 艾克米"], &[]);
        assert_eq!(matching(&m, "", "Acme recalls"), vec![0]);
        assert_eq!(matching(&m, "", "Acme has now recalled"), vec![0]);
        assert_eq!(matching(&m, "", "Recall notice: acme"), vec![0]);
        assert!(matching(&m, "", "Acme says it will not recall").is_empty());
        // Chinese counts words, as English does: 宣布 is one, 今天宣布 two.
        assert_eq!(matching(&m, "", "艾克米宣布召回"), vec![1]);
        assert!(matching(&m, "", "艾克米今天宣布召回").is_empty());
        assert_eq!(matching(&m, "", "召回了艾克米"), vec![1]);
        // Both hits must be in the same field.
        assert!(matching(&m, "Acme", "recalled").is_empty());
        // Separators and zero-width characters don't count as tokens.
        assert_eq!(matching(&m, "", "acme -- \u{200B} recall"), vec![0]);
    }

    #[test]
    fn sentence_keeps_both_hits_in_one_sentence_or_clause() {
        let m = matcher(&["acme SENTENCE recall*", "艾克米 SENTENCE 召回"], &[]);
        assert_eq!(
            matching(&m, "", "After weeks of complaints from parents across the country Acme finally recalls"),
            vec![0]
        );
        assert!(matching(&m, "", "Globex recalls 2m cribs; Acme says its models are fine").is_empty());
        assert!(matching(&m, "", "Acme opened a store. Globex recalled a crib.").is_empty());
        assert_eq!(matching(&m, "", "艾克米回应：产品质量问题已召回"), vec![1]);
        assert!(matching(&m, "", "环球乳业宣布召回。艾克米表示产品不受影响").is_empty());
        assert!(matching(&m, "", "环球乳业宣布召回\n艾克米表示产品不受影响").is_empty());
        // A comma is inside a sentence.
        assert_eq!(matching(&m, "", "艾克米奶粉出现质量问题，已经全部召回"), vec![1]);
    }

    /// The same sentence in English and in Chinese, word for word: the pairs every
    /// property below builds sentences from. Each Chinese word is one word to the segmenter.
    const PAIRS: &[(&str, &str)] = &[
        ("parents", "家长"),
        ("angry", "愤怒"),
        ("today", "今天"),
        ("company", "公司"),
        ("customers", "顾客"),
        ("announced", "宣布"),
        ("again", "再次"),
        ("statement", "声明"),
        ("yesterday", "昨天"),
    ];

    proptest! {
        #[test]
        fn a_sentence_and_its_translation_get_the_same_verdict(
            before in proptest::collection::vec(0..PAIRS.len(), 0..4),
            between in proptest::collection::vec(0..PAIRS.len(), 0..8),
            after in proptest::collection::vec(0..PAIRS.len(), 0..4),
            stop_between in proptest::bool::ANY,
            recall_first in proptest::bool::ANY,
            distance in 0..8usize,
        ) {
            let m = matcher(
                &[&format!("@brand NEAR/{distance} @recall"), "@brand SENTENCE @recall"],
                &[("brand", &["Acme", "艾克米"][..]), ("recall", &["recalls", "召回"][..])],
            );
            let words = |ids: &[usize], zh: bool| ids.iter().map(|&i| if zh { PAIRS[i].1 } else { PAIRS[i].0 }).collect::<Vec<_>>();
            let build = |zh: bool| {
                let (brand, recall, space, stop) = if zh { ("艾克米", "召回", "", "。") } else { ("Acme", "recalls", " ", "; ") };
                let (first, second) = if recall_first { (recall, brand) } else { (brand, recall) };
                let mut middle = words(&between, zh);
                if stop_between {
                    middle.insert(middle.len() / 2, stop);
                }
                let mut parts = words(&before, zh);
                parts.push(first);
                parts.extend(middle);
                parts.push(second);
                parts.extend(words(&after, zh));
                parts.join(space)
            };
            let (en, zh) = (build(false), build(true));
            prop_assert_eq!(matching(&m, "", &en), matching(&m, "", &zh), "{} | {}", en, zh);
        }
    }

    #[test]
    fn near_reports_the_hits_of_the_near_pair() {
        let m = matcher(&["acme NEAR/0 (recall OR fire)"], &[]);
        let body = "fire at the plant; acme recall follows";
        let found = m.scan(&[(Field::Title, ""), (Field::Body, body)]);
        let shown: Vec<&str> = found[0].1.iter().map(|h| &body[h.start..h.end]).collect();
        assert_eq!(shown, vec!["acme", "recall"]);
        let m = matcher(&["(a NEAR/0 b) NEAR/0 c"], &[]);
        assert_eq!(matching(&m, "", "a b c"), vec![0]);
        assert_eq!(matching(&m, "", "c a b"), vec![0]);
        assert!(matching(&m, "", "a b x c").is_empty());
    }

    #[test]
    fn except_drops_hits_inside_a_longer_term() {
        let m = matcher(&["成功 EXCEPT (郑成功 OR 成功人士)", "acme EXCEPT \"acme corp of ohio\""], &[]);
        assert!(matching(&m, "", "郑成功收复台湾").is_empty());
        assert!(matching(&m, "", "他是成功人士").is_empty());
        assert_eq!(matching(&m, "", "郑成功的故事讲得很成功"), vec![0]);
        assert_eq!(matching(&m, "", "发布会成功举行"), vec![0]);
        assert!(matching(&m, "", "ACME Corp of Ohio files for bankruptcy").is_empty());
        assert_eq!(matching(&m, "", "Acme Corp of Ohio is not Acme"), vec![1]);
        // Traditional and folded text still hit the excepted term.
        assert!(matching(&m, "", "鄭成功").is_empty());
        let found = m.scan(&[(Field::Title, ""), (Field::Body, "郑成功很成功")]);
        assert_eq!((found[0].1.len(), found[0].1[0].start), (1, "郑成功很".len()));
    }

    #[test]
    fn except_keeps_to_the_field_and_works_with_prefixes_and_lists() {
        let m = matcher(
            &["title:acme* EXCEPT acmeville*", "@brand EXCEPT @rivals"],
            &[("brand", &["acme"]), ("rivals", &["acme rival inc"])],
        );
        assert!(matching(&m, "Acmeville's mayor", "").is_empty());
        assert_eq!(matching(&m, "Acmes everywhere", ""), vec![0]);
        assert!(matching(&m, "", "acme rival inc").is_empty());
        assert_eq!(matching(&m, "", "acme rival inc, acme"), vec![1]);
        // Excepted hits in another field don't hide a hit.
        let m = matcher(&["acme EXCEPT \"acme inc\""], &[]);
        assert_eq!(matching(&m, "acme inc", "acme"), vec![0]);
        assert!(matching(&m, "acme inc", "").is_empty());
    }

    #[test]
    fn list_entries_carry_their_own_excepts() {
        let lists = [("success", vec![Literal::word("成功").except(vec!["郑成功".into(), "成功人士".into()])])];
        let m = matcher_with(&["@success"], &lists);
        assert!(matching(&m, "", "郑成功").is_empty());
        assert_eq!(matching(&m, "", "郑成功，成功"), vec![0]);
    }

    #[test]
    fn obfuscated_and_traditional_text_still_matches() {
        let m = matcher(&["@brand AND 食物中毒", "ＡＣＭＥ AND recall"], &[("brand", &["艾克米", "acme"])]);
        assert_eq!(matching(&m, "", "艾克米酸奶导致食*物 中·毒"), vec![0]);
        assert_eq!(matching(&m, "", "艾克米酸奶導致食/物/中/毒"), vec![0]);
        assert_eq!(matching(&m, "", "艾\u{200B}克米 食\u{FEFF}物中毒"), vec![0]);
        assert_eq!(matching(&m, "", "ＡＣＭＥ ＲＥＣＡＬＬ"), vec![1]);
        assert_eq!(matching(&m, "", "a\u{200D}cme recall"), vec![1]);
        let body = "艾克米：食*物 中·毒";
        let found = m.scan(&[(Field::Title, ""), (Field::Body, body)]);
        let shown: Vec<&str> = found[0].1.iter().map(|h| &body[h.start..h.end]).collect();
        assert_eq!(shown, vec!["艾克米", "食*物 中·毒"]);
    }

    #[test]
    fn regexes_match_on_the_original_text() {
        let m = matcher(&["/recall(ed|s)?/i AND title:/^ACME/"], &[]);
        assert_eq!(matching(&m, "ACME news", "Product RECALLED"), vec![0]);
        assert!(matching(&m, "acme news", "Product RECALLED").is_empty());
    }
}
