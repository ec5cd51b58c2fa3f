//! Rule packs: `rules/*.toml` and `rules/lists/*.txt` to a [`RuleSet`].
//!
//! Every problem is reported as `file:line:col: message` with the offending line and a
//! caret, and all of them are collected before giving up, so one `tocsin test` run shows
//! everything to fix. A query error points at the exact character inside the TOML string.

use std::cell::LazyCell;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue, ValueDeserializer};

use super::crisis::CrisisReader;
use super::matcher::{BuildError, Literal, Matcher, RuleMatch, TermHit};
use super::query::{self, Field, Query, TermKind};
use super::sentiment;
use super::text::display_width;
use crate::bundled;
use crate::ingest::Mention;

/// One problem in the rule files, at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}{excerpt}")]
pub struct RuleError {
    pub file: String,
    /// 1-based; a problem with a whole file (it can't be read) is at 1:1.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
    /// The line shown with a caret under the spot, on lines of their own; may be empty.
    pub excerpt: String,
}

impl RuleError {
    pub(crate) fn whole_file(file: &str, message: impl Into<String>) -> Self {
        RuleError { file: file.to_string(), line: 1, column: 1, message: message.into(), excerpt: String::new() }
    }

    /// A problem at byte `at` of `content`, the text of `file`.
    pub(crate) fn at(file: &str, content: &str, at: usize, message: impl Into<String>) -> Self {
        let at = floor_char_boundary(content, at.min(content.len()));
        let line_start = content[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = content[at..].find('\n').map_or(content.len(), |i| at + i);
        let line_text = content[line_start..line_end].trim_end_matches('\r');
        let before = &content[line_start..at];
        let pad: String =
            before.chars().map(|c| if c == '\t' { "\t".to_string() } else { " ".repeat(display_width(c)) }).collect();
        RuleError {
            file: file.to_string(),
            line: content[..at].matches('\n').count() + 1,
            column: before.chars().count() + 1,
            message: message.into(),
            excerpt: format!("\n    {line_text}\n    {pad}^"),
        }
    }
}

fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// All the problems found while loading rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleErrors(pub Vec<RuleError>);

impl fmt::Display for RuleErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleErrors {}

/// A loaded, validated rule.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: String,
    pub title: String,
    /// The query as written.
    pub query: String,
    #[serde(skip)]
    pub ast: Query,
    /// 0..=100: base risk of a match.
    pub severity: u8,
    /// Picks the playbook; [`GENERAL_CRISIS_TYPE`] when the rule names none.
    pub crisis_type: String,
    /// Only when the mention's sentiment is strictly below this.
    pub sentiment_below: Option<f64>,
    /// Only when the mention's sentiment is strictly above this.
    pub sentiment_above: Option<f64>,
    /// Only when the crisis model's probability for the mention is strictly above this.
    pub crisis_above: Option<f64>,
    /// A net for what the other rules miss: it matches only a mention no rule that is not
    /// a net matched, so a storm a pack names is not also counted as the net's.
    pub net: bool,
    /// Escalation policy name; `None` means the default one.
    pub escalation: Option<String>,
    pub examples: Vec<Example>,
    /// The file it came from.
    pub file: String,
}

impl Rule {
    /// Whether the query names the list `@list`.
    pub fn names_list(&self, list: &str) -> bool {
        self.ast.terms().iter().any(|term| matches!(&term.kind, TermKind::List(name) if name == list))
    }

    /// Whether a mention with this sentiment score and crisis probability may match the
    /// rule; `crisis` is read only when the rule bounds it.
    pub fn admits(&self, sentiment: f64, crisis: impl FnOnce() -> f64) -> bool {
        self.sentiment_below.is_none_or(|below| sentiment < below)
            && self.sentiment_above.is_none_or(|above| sentiment > above)
            && self.crisis_above.is_none_or(|above| crisis() > above)
    }
}

/// A `[[rule.example]]`: a mention the rule must (or must not) match.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    pub title: String,
    pub body: String,
    pub feed: Option<String>,
    pub author: Option<String>,
    #[serde(rename = "match")]
    pub expect_match: bool,
}

impl Example {
    /// The mention the example stands for; a fixed time keeps runs reproducible.
    pub fn mention(&self, rule: &str, index: usize) -> Mention {
        Mention {
            feed: self.feed.clone().unwrap_or_else(|| "example".to_string()),
            guid: format!("{rule}#example-{index}"),
            title: self.title.clone(),
            body: self.body.clone(),
            author: self.author.clone(),
            url: None,
            published: None,
            fetched_at: DateTime::<Utc>::UNIX_EPOCH,
            lang: None,
            engagement: None,
        }
    }

    fn describe(&self) -> String {
        let text = match (self.title.is_empty(), self.body.is_empty()) {
            (false, false) => format!("{} — {}", self.title, self.body),
            (false, true) => self.title.clone(),
            _ => self.body.clone(),
        };
        const MAX: usize = 80;
        if text.chars().count() > MAX {
            let cut: String = text.chars().take(MAX - 1).collect();
            format!("{cut}…")
        } else {
            text
        }
    }
}

/// The result of running one rule example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExampleOutcome {
    pub rule: String,
    /// 0-based position among the rule's examples.
    pub index: usize,
    /// Short description of the example text.
    pub text: String,
    pub expected: bool,
    pub got: bool,
    pub passed: bool,
}

/// Rules plus their compiled matcher.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    matcher: Matcher,
    /// The lists' terms, for queries compiled later against the same lists (silences).
    lists: HashMap<String, Vec<Literal>>,
    /// The crisis model, reading the `brand` list's names as the brand.
    crisis: CrisisReader,
}

/// One query compiled on its own, with the rule set's lists (a silence's `--query`).
#[derive(Debug)]
pub struct QueryFilter {
    matcher: Matcher,
}

impl QueryFilter {
    /// Whether the query is true for the mention, fields and folding as in rules.
    pub fn matches(&self, mention: &Mention) -> bool {
        !self.matcher.scan(&field_texts(mention)).is_empty()
    }
}

/// The list whose names the crisis model reads as the brand.
pub const BRAND_LIST: &str = "brand";

/// The crisis type of a rule that names none: its incidents get the `general` playbook.
pub const GENERAL_CRISIS_TYPE: &str = "general";

/// A mention's fields as the matcher reads them.
pub(super) fn field_texts(mention: &Mention) -> [(Field, &str); 4] {
    [
        (Field::Title, mention.title.as_str()),
        (Field::Body, mention.body.as_str()),
        (Field::Author, mention.author.as_deref().unwrap_or("")),
        (Field::Source, mention.feed.as_str()),
    ]
}

impl RuleSet {
    /// Reads `dir/*.toml` and `dir/lists/*.txt` (in name order). Other folders, such as
    /// `dir/playbooks`, are not rules and are left alone.
    pub fn load_dir(dir: &Path) -> Result<RuleSet, RuleErrors> {
        let shown = dir.display().to_string();
        let rule_files = read_files(dir, "toml").map_err(|e| {
            RuleErrors(vec![RuleError::whole_file(&shown, format!("cannot read the rules folder: {e}"))])
        })?;
        let mut errors = Vec::new();
        if rule_files.is_empty() {
            errors.push(RuleError::whole_file(&shown, "no rule files (*.toml) in this folder"));
        }
        let lists_dir = dir.join("lists");
        let lists = if lists_dir.is_dir() {
            match read_files(&lists_dir, "txt") {
                Ok(files) => files,
                Err(e) => {
                    errors.push(RuleError::whole_file(
                        &lists_dir.display().to_string(),
                        format!("cannot read the lists folder: {e}"),
                    ));
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let mut sources = Vec::new();
        let mut list_sources = Vec::new();
        for (path, content) in rule_files {
            match content {
                Ok(content) => sources.push((path, content)),
                Err(e) => errors.push(RuleError::whole_file(&path, format!("cannot read: {e}"))),
            }
        }
        for (path, content) in lists {
            let name = Path::new(&path).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            match content {
                Ok(content) => list_sources.push((name, path, content)),
                Err(e) => errors.push(RuleError::whole_file(&path, format!("cannot read: {e}"))),
            }
        }
        match RuleSet::from_sources(&sources, &list_sources) {
            Ok(set) if errors.is_empty() => Ok(set),
            Ok(_) => Err(RuleErrors(errors)),
            Err(RuleErrors(more)) => {
                errors.extend(more);
                Err(RuleErrors(errors))
            }
        }
    }

    /// The default packs shipped inside the binary, so `tocsin score`, `test` and `demo`
    /// work with no files on disk.
    pub fn bundled() -> RuleSet {
        let rules: Vec<(String, String)> =
            bundled::RULES.iter().map(|(path, content)| (path.to_string(), content.to_string())).collect();
        let lists: Vec<(String, String, String)> = bundled::LISTS
            .iter()
            .map(|(path, content)| (bundled::list_name(path).to_string(), path.to_string(), content.to_string()))
            .collect();
        match RuleSet::from_sources(&rules, &lists) {
            Ok(set) => set,
            // Compiled-in data, not user input; `bundled_rules_load_and_pass` guards it.
            Err(e) => panic!("the bundled rules are broken:\n{e}"),
        }
    }

    /// Builds a rule set from file contents: `rule_files` as (path for errors, content),
    /// `lists` as (list name, path for errors, content). Rules keep file order.
    pub fn from_sources(
        rule_files: &[(String, String)],
        lists: &[(String, String, String)],
    ) -> Result<RuleSet, RuleErrors> {
        let mut errors = Vec::new();
        let mut list_terms: HashMap<String, Vec<Literal>> = HashMap::new();
        let mut list_paths: HashMap<&str, &str> = HashMap::new();
        for (name, path, content) in lists {
            if let Some(first) = list_paths.insert(name, path) {
                errors.push(RuleError::whole_file(path, format!("list `{name}` is defined twice (also in {first})")));
                continue;
            }
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                errors.push(RuleError::whole_file(
                    path,
                    format!("list name `{name}` may hold only letters, digits, `_` and `-`"),
                ));
            }
            list_terms.insert(name.clone(), parse_list(path, content, &mut errors));
        }

        let mut rules = Vec::new();
        let mut first_seen: HashMap<String, String> = HashMap::new();
        for (path, content) in rule_files {
            let loader = FileLoader { path, content, lists: &list_terms };
            for rule in loader.load(&mut errors) {
                let RuleWithSpan { id, id_span, rule } = rule;
                let here = RuleError::at(path, content, id_span.start, "");
                let place = format!("{}:{}:{}", here.file, here.line, here.column);
                if let Some(first) = first_seen.get(&id) {
                    errors.push(RuleError::at(
                        path,
                        content,
                        id_span.start,
                        format!("duplicate rule id `{id}` (first defined at {first})"),
                    ));
                    continue;
                }
                first_seen.insert(id, place);
                rules.extend(rule);
            }
        }
        if !errors.is_empty() {
            // Rules are checked a field at a time; readers fix a file top to bottom.
            let mut order: HashMap<&str, usize> = HashMap::new();
            let paths = lists.iter().map(|(_, path, _)| path.as_str());
            for path in paths.chain(rule_files.iter().map(|(path, _)| path.as_str())) {
                let next = order.len();
                order.entry(path).or_insert(next);
            }
            errors.sort_by_key(|e| (order.get(e.file.as_str()).copied(), e.line, e.column));
            return Err(RuleErrors(errors));
        }
        let queries: Vec<&Query> = rules.iter().map(|r| &r.ast).collect();
        let matcher = Matcher::build(&queries, &list_terms).map_err(|e| {
            let file = rule_files.first().map_or("rules", |(p, _)| p.as_str());
            RuleErrors(vec![RuleError::whole_file(file, e.to_string())])
        })?;
        let crisis = CrisisReader::new(list_terms.get(BRAND_LIST).into_iter().flatten().map(|term| term.text.as_str()));
        Ok(RuleSet { rules, matcher, lists: list_terms, crisis })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Compiles a query in the rule language on its own, its `@lists` resolved in this set;
    /// the error says what is wrong, with the character it is at.
    pub fn query_filter(&self, text: &str) -> Result<QueryFilter, String> {
        let ast = query::parse(text).map_err(|e| format!("bad query at character {}: {}", e.byte + 1, e.message))?;
        for term in ast.terms() {
            if let TermKind::List(name) = &term.kind
                && !self.lists.contains_key(name)
            {
                return Err(format!("unknown list `@{name}`: no lists/{name}.txt"));
            }
        }
        let matcher = Matcher::build(&[&ast], &self.lists).map_err(|e| e.to_string())?;
        Ok(QueryFilter { matcher })
    }

    /// The words of a list as written (`Acme`, `艾克米`); empty for an unknown list.
    pub fn list_words(&self, list: &str) -> Vec<&str> {
        self.lists.get(list).map(|terms| terms.iter().map(|t| t.text.as_str()).collect()).unwrap_or_default()
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The crisis model's probability that the mention reports a crisis (title and body).
    pub fn crisis_probability(&self, mention: &Mention) -> f64 {
        self.crisis_with(&self.crisis, mention)
    }

    /// [`RuleSet::crisis_probability`] read with another brand's names as the brand.
    pub(super) fn crisis_with(&self, reader: &CrisisReader, mention: &Mention) -> f64 {
        match (mention.title.trim(), mention.body.trim()) {
            ("", body) => reader.probability(body),
            (title, "") => reader.probability(title),
            // The bar keeps the title's last words and the body's first from reading as a pair.
            (title, body) => reader.probability(&format!("{title} | {body}")),
        }
    }

    /// The rules compiled again with the list `list` holding `terms` (one brand's names).
    pub(super) fn matcher_with_list(&self, list: &str, terms: Vec<Literal>) -> Result<Matcher, BuildError> {
        let mut lists = self.lists.clone();
        lists.insert(list.to_owned(), terms);
        let queries: Vec<&Query> = self.rules.iter().map(|r| &r.ast).collect();
        Matcher::build(&queries, &lists)
    }

    /// The rules whose query is true for the mention and whose sentiment bounds hold for
    /// its `sentiment` score, in file order; the crisis model reads it if a rule asks.
    pub fn scan(&self, mention: &Mention, sentiment: f64) -> Vec<RuleMatch> {
        let crisis = LazyCell::new(|| self.crisis_probability(mention));
        self.scan_with(mention, sentiment, || *crisis)
    }

    /// [`RuleSet::scan`] with the crisis probability already read (`crisis` is called only
    /// when a rule has a `crisis_above` bound).
    pub fn scan_with(&self, mention: &Mention, sentiment: f64, crisis: impl Fn() -> f64) -> Vec<RuleMatch> {
        self.scan_on(&self.matcher, mention, sentiment, crisis)
    }

    /// [`RuleSet::scan_with`] on these rules as `matcher` compiled them (one brand's).
    pub(super) fn scan_on(
        &self,
        matcher: &Matcher,
        mention: &Mention,
        sentiment: f64,
        crisis: impl Fn() -> f64,
    ) -> Vec<RuleMatch> {
        let mut matched: Vec<(&Rule, Vec<TermHit>)> = matcher
            .scan(&field_texts(mention))
            .into_iter()
            .filter_map(|(i, terms)| {
                let rule = self.rules.get(i).filter(|rule| rule.admits(sentiment, &crisis))?;
                Some((rule, terms))
            })
            .collect();
        if matched.iter().any(|(rule, _)| !rule.net) {
            matched.retain(|(rule, _)| !rule.net);
        }
        matched
            .into_iter()
            .map(|(rule, terms)| RuleMatch { rule: rule.id.clone(), severity: rule.severity, terms, brand: None })
            .collect()
    }

    /// Runs every rule's examples against that rule.
    pub fn run_examples(&self) -> Vec<ExampleOutcome> {
        let mut outcomes = Vec::new();
        for rule in &self.rules {
            for (index, example) in rule.examples.iter().enumerate() {
                let mention = example.mention(&rule.id, index);
                let (_, sentiment) = sentiment::of_mention(&mention);
                let got = self.scan(&mention, sentiment.score).iter().any(|m| m.rule == rule.id);
                outcomes.push(ExampleOutcome {
                    rule: rule.id.clone(),
                    index,
                    text: example.describe(),
                    expected: example.expect_match,
                    got,
                    passed: got == example.expect_match,
                });
            }
        }
        outcomes
    }
}

type FileContents = Vec<(String, std::io::Result<String>)>;

/// Files in `dir` with extension `ext`, sorted by name so rule order is stable.
fn read_files(dir: &Path, ext: &str) -> std::io::Result<FileContents> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == ext) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths.into_iter().map(|p| (p.display().to_string(), std::fs::read_to_string(&p))).collect())
}

/// One term per line; `#` starts a comment line (a term starting with `#`, like a
/// hashtag, is written quoted). A quoted line or a line with spaces is a phrase; `word*`
/// is a prefix. ` -longer` after the term (a space, then `-`) excepts longer terms the
/// term must not lie inside, like `EXCEPT` in a query: `成功 -郑成功 -成功人士`.
fn parse_list(path: &str, content: &str, errors: &mut Vec<RuleError>) -> Vec<Literal> {
    let mut terms = Vec::new();
    let mut offset = 0;
    for raw_line in content.split_inclusive('\n') {
        let line_start = offset;
        offset += raw_line.len();
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = line_start + (raw_line.len() - raw_line.trim_start().len());
        let mut pieces = split_excepts(line).into_iter();
        let Some((_, main)) = pieces.next() else {
            continue;
        };
        let mut except = Vec::new();
        let mut ok = true;
        for (piece_at, piece) in pieces {
            let body = piece[1..].trim();
            if body.is_empty() {
                errors.push(RuleError::at(path, content, at + piece_at, "expected a term after `-`"));
                ok = false;
                continue;
            }
            match unquote(body) {
                Ok(term) => except.push(term.to_string()),
                Err(message) => {
                    errors.push(RuleError::at(path, content, at + piece_at + 1, message));
                    ok = false;
                }
            }
        }
        let literal = if main.starts_with('"') {
            match unquote(main) {
                Ok(phrase) => Some(Literal::word(phrase)),
                Err(message) => {
                    errors.push(RuleError::at(path, content, at, message));
                    None
                }
            }
        } else if let Some(stem) = main.strip_suffix('*').filter(|s| !s.contains(char::is_whitespace)) {
            if stem.is_empty() || stem.contains('*') {
                errors.push(RuleError::at(path, content, at, "`*` is only allowed at the end of a word"));
                None
            } else {
                Some(Literal::prefix(stem))
            }
        } else {
            Some(Literal::word(main))
        };
        if let Some(literal) = literal.filter(|_| ok) {
            terms.push(literal.except(except));
        }
    }
    terms
}

/// Splits a list line at every ` -` outside quotes: the term, then each `-excepted`
/// piece, with their byte offsets in the line.
fn split_excepts(line: &str) -> Vec<(usize, &str)> {
    let mut pieces = Vec::new();
    let mut piece_start = 0;
    let mut in_quotes = false;
    let mut prev_space = false;
    for (i, c) in line.char_indices() {
        if c == '"' {
            in_quotes = !in_quotes;
        } else if c == '-' && prev_space && !in_quotes && i > 0 {
            pieces.push((piece_start, line[piece_start..i].trim()));
            piece_start = i;
        }
        prev_space = c.is_whitespace();
    }
    pieces.push((piece_start, line[piece_start..].trim()));
    pieces
}

/// A term written `"quoted"` or bare, without its quotes.
fn unquote(term: &str) -> Result<&str, &'static str> {
    let Some(rest) = term.strip_prefix('"') else {
        return Ok(term);
    };
    match rest.strip_suffix('"') {
        Some(phrase) if !phrase.trim().is_empty() => Ok(phrase.trim()),
        Some(_) => Err("empty phrase"),
        None => Err("unterminated phrase: missing closing `\"`"),
    }
}

/// The keys of [`RawRule`] and [`RawExample`], for reporting every unknown key at once.
const RULE_KEYS: &[&str] = &[
    "id",
    "title",
    "query",
    "severity",
    "crisis_type",
    "sentiment_below",
    "sentiment_above",
    "crisis_above",
    "net",
    "escalation",
    "example",
];
const EXAMPLE_KEYS: &[&str] = &["text", "title", "body", "feed", "author", "match"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    title: String,
    query: Spanned<String>,
    severity: Spanned<i64>,
    #[serde(default)]
    crisis_type: Option<Spanned<String>>,
    #[serde(default)]
    sentiment_below: Option<Spanned<f64>>,
    #[serde(default)]
    sentiment_above: Option<Spanned<f64>>,
    #[serde(default)]
    crisis_above: Option<Spanned<f64>>,
    #[serde(default)]
    net: bool,
    #[serde(default)]
    escalation: Option<String>,
    #[serde(default)]
    example: Vec<Spanned<RawExample>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExample {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    feed: Option<String>,
    #[serde(default)]
    author: Option<String>,
    /// Optional only so that a missing `match` is reported with the other problems.
    #[serde(default, rename = "match")]
    expect_match: Option<bool>,
}

/// A rule as read from its file, with where its id is written. `rule` is `None` when the
/// rule has errors; its id still counts, so a later rule reusing it is reported as well.
struct RuleWithSpan {
    id: String,
    id_span: Range<usize>,
    rule: Option<Rule>,
}

struct FileLoader<'a> {
    path: &'a str,
    content: &'a str,
    lists: &'a HashMap<String, Vec<Literal>>,
}

impl FileLoader<'_> {
    fn error(&self, at: usize, message: impl Into<String>) -> RuleError {
        RuleError::at(self.path, self.content, at, message)
    }

    fn load(&self, errors: &mut Vec<RuleError>) -> Vec<RuleWithSpan> {
        let (doc, syntax) = DeTable::parse_recoverable(self.content);
        if !syntax.is_empty() {
            // What follows a syntax error is guesswork; more errors from it would mislead.
            errors.extend(syntax.iter().map(|e| self.error(e.span().map_or(0, |s| s.start), e.message())));
            return Vec::new();
        }
        let mut rules = Vec::new();
        for (key, value) in doc.into_inner() {
            if key.get_ref().as_ref() != "rule" {
                errors.push(self.error(
                    key.span().start,
                    format!("unknown key `{}`; a rule file holds only [[rule]] tables", key.get_ref()),
                ));
                continue;
            }
            let DeValue::Array(items) = value.get_ref() else {
                errors.push(self.error(value.span().start, "`rule` must be an array of tables: write [[rule]]"));
                continue;
            };
            for item in items.iter() {
                if let Some(rule) = self.rule(item.clone(), errors) {
                    rules.push(rule);
                }
            }
        }
        rules
    }

    fn rule(&self, item: Spanned<DeValue<'_>>, errors: &mut Vec<RuleError>) -> Option<RuleWithSpan> {
        let table_start = item.span().start;
        let item = self.known_keys_only(item, RULE_KEYS, "rule", errors);
        let query = match item.get_ref().get("query").map(|q| (q.span(), q.get_ref())) {
            Some((span, DeValue::String(q))) => Some(Spanned::new(span, q.to_string())),
            _ => None,
        };
        let raw = match RawRule::deserialize(ValueDeserializer::from(item)) {
            Ok(raw) => raw,
            Err(e) => {
                errors.push(self.error(e.span().map_or(table_start, |s| s.start), e.message()));
                // The query is checked anyway: its errors are the ones worth seeing at once.
                if let Some(query) = query {
                    self.query(&query, errors);
                }
                return None;
            }
        };
        let before = errors.len();
        let id = raw.id.get_ref();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            errors.push(
                self.error(raw.id.span().start, "a rule id may hold only ASCII letters, digits, `-`, `_` and `.`"),
            );
        }
        let severity = u8::try_from(*raw.severity.get_ref()).ok().filter(|s| *s <= 100);
        if severity.is_none() {
            errors.push(self.error(
                raw.severity.span().start,
                format!("severity must be between 0 and 100, not {}", raw.severity.get_ref()),
            ));
        }
        if let Some(crisis_type) = raw.crisis_type.as_ref().filter(|c| c.get_ref().trim().is_empty()) {
            errors.push(self.error(crisis_type.span().start, "crisis_type must not be empty"));
        }
        for (name, bound) in [("sentiment_below", &raw.sentiment_below), ("sentiment_above", &raw.sentiment_above)] {
            if let Some(v) = bound
                && !(-1.0..=1.0).contains(v.get_ref())
            {
                errors
                    .push(self.error(v.span().start, format!("{name} must be between -1 and 1, not {}", v.get_ref())));
            }
        }
        if let (Some(below), Some(above)) = (&raw.sentiment_below, &raw.sentiment_above)
            && above.get_ref() >= below.get_ref()
        {
            errors.push(self.error(
                above.span().start,
                "sentiment_above must be less than sentiment_below, or no mention could match",
            ));
        }
        if let Some(v) = &raw.crisis_above
            && !(0.0..1.0).contains(v.get_ref())
        {
            errors.push(self.error(
                v.span().start,
                format!("crisis_above must be at least 0 and below 1 (a probability), not {}", v.get_ref()),
            ));
        }
        let ast = self.query(&raw.query, errors);
        let mut examples = Vec::new();
        for example in &raw.example {
            let e = example.get_ref();
            let body = match (&e.text, &e.body) {
                (Some(_), Some(_)) => {
                    errors.push(self.error(example.span().start, "an example gives `text` or `body`, not both"));
                    continue;
                }
                (Some(b), None) | (None, Some(b)) => b.clone(),
                (None, None) if e.title.is_some() => String::new(),
                (None, None) => {
                    errors.push(self.error(example.span().start, "an example needs `text`, or `title` and/or `body`"));
                    continue;
                }
            };
            let Some(expect_match) = e.expect_match else {
                errors.push(self.error(example.span().start, "an example needs `match = true` or `match = false`"));
                continue;
            };
            examples.push(Example {
                title: e.title.clone().unwrap_or_default(),
                body,
                feed: e.feed.clone(),
                author: e.author.clone(),
                expect_match,
            });
        }
        let id_span = raw.id.span();
        if errors.len() > before {
            return Some(RuleWithSpan { id: raw.id.into_inner(), id_span, rule: None });
        }
        // A missing query or severity has pushed an error above, so both are here.
        let rule = ast.zip(severity).map(|(ast, severity)| Rule {
            id: raw.id.get_ref().clone(),
            title: raw.title,
            query: raw.query.get_ref().clone(),
            ast,
            severity,
            crisis_type: raw.crisis_type.map_or_else(|| GENERAL_CRISIS_TYPE.to_owned(), Spanned::into_inner),
            sentiment_below: raw.sentiment_below.map(Spanned::into_inner),
            sentiment_above: raw.sentiment_above.map(Spanned::into_inner),
            crisis_above: raw.crisis_above.map(Spanned::into_inner),
            net: raw.net,
            escalation: raw.escalation,
            examples,
            file: self.path.to_string(),
        });
        Some(RuleWithSpan { id: raw.id.into_inner(), id_span, rule })
    }

    /// Reports every key `keys` doesn't know (serde would stop at the first) and drops
    /// them, so the remaining checks still run. Examples inside a rule get the same.
    fn known_keys_only<'i>(
        &self,
        value: Spanned<DeValue<'i>>,
        keys: &[&str],
        what: &str,
        errors: &mut Vec<RuleError>,
    ) -> Spanned<DeValue<'i>> {
        let span = value.span();
        let table = match value.into_inner() {
            DeValue::Table(table) => table,
            // Not a table: serde says what is wrong with it.
            other => return Spanned::new(span, other),
        };
        let mut kept = DeTable::new();
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            if !keys.contains(&name) {
                errors.push(self.error(
                    key.span().start,
                    format!("unknown key `{name}` in a {what}; expected one of {}", keys.join(", ")),
                ));
                continue;
            }
            let value = match (what, name, value.get_ref()) {
                ("rule", "example", DeValue::Array(examples)) => {
                    let mut cleaned = DeArray::new();
                    for example in examples.iter() {
                        cleaned.push(self.known_keys_only(example.clone(), EXAMPLE_KEYS, "rule example", errors));
                    }
                    Spanned::new(value.span(), DeValue::Array(cleaned))
                }
                _ => value,
            };
            kept.insert(key, value);
        }
        Spanned::new(span, DeValue::Table(kept))
    }

    /// Parses the query and checks its lists, reporting at the character in the file.
    fn query(&self, query: &Spanned<String>, errors: &mut Vec<RuleError>) -> Option<Query> {
        let span = query.span();
        let raw = self.content.get(span.clone()).unwrap_or("");
        let in_file = |byte: usize| span.start + toml_string_offset(raw, byte);
        let ast = match query::parse(query.get_ref()) {
            Ok(ast) => ast,
            Err(e) => {
                errors.push(self.error(in_file(e.byte), format!("bad query: {}", e.message)));
                return None;
            }
        };
        let mut ok = true;
        for term in ast.terms() {
            if let TermKind::List(name) = &term.kind {
                let problem = match self.lists.get(name) {
                    None => Some(format!("unknown list `@{name}`: no lists/{name}.txt")),
                    Some(terms) if terms.is_empty() => Some(format!("list `@{name}` has no terms")),
                    Some(_) => None,
                };
                if let Some(message) = problem {
                    errors.push(self.error(in_file(term.span.start), message));
                    ok = false;
                }
            }
        }
        ok.then_some(ast)
    }
}

/// Maps a byte offset in a decoded TOML string to an offset in its source text `raw`
/// (quotes included), stepping over escapes so the caret lands on the right character.
fn toml_string_offset(raw: &str, target: usize) -> usize {
    let (delim, literal) = if raw.starts_with("'''") {
        ("'''", true)
    } else if raw.starts_with("\"\"\"") {
        ("\"\"\"", false)
    } else if raw.starts_with('\'') {
        ("'", true)
    } else if raw.starts_with('"') {
        ("\"", false)
    } else {
        return 0;
    };
    let mut pos = delim.len();
    if delim.len() == 3 {
        // A newline right after the opening quotes is not part of the string.
        if raw[pos..].starts_with("\r\n") {
            pos += 2;
        } else if raw[pos..].starts_with('\n') {
            pos += 1;
        }
    }
    if literal {
        return (pos + target).min(raw.len());
    }
    let mut decoded = 0;
    let mut chars = raw[pos..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let continues_line = c == '\\' && chars.peek().is_some_and(|(_, n)| n.is_whitespace());
        if decoded >= target && !continues_line {
            return pos + i;
        }
        if c != '\\' {
            decoded += c.len_utf8();
            continue;
        }
        match chars.next() {
            Some((_, kind @ ('u' | 'U' | 'x'))) => {
                let digits = match kind {
                    'u' => 4,
                    'U' => 8,
                    _ => 2,
                };
                let hex: String = (0..digits).filter_map(|_| chars.next().map(|(_, h)| h)).collect();
                decoded += u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32).map_or(1, char::len_utf8);
            }
            // A line-ending backslash swallows the newline and the indentation after it.
            Some((_, w)) if w.is_whitespace() => {
                while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                    chars.next();
                }
            }
            Some(_) => decoded += 1,
            None => {}
        }
    }
    raw.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(rules: &str, lists: &[(&str, &str)]) -> Result<RuleSet, RuleErrors> {
        let lists: Vec<(String, String, String)> =
            lists.iter().map(|(n, c)| (n.to_string(), format!("lists/{n}.txt"), c.to_string())).collect();
        RuleSet::from_sources(&[("r.toml".to_string(), rules.to_string())], &lists)
    }

    fn errors(rules: &str, lists: &[(&str, &str)]) -> Vec<RuleError> {
        load(rules, lists).expect_err("should fail").0
    }

    const GOOD: &str = r#"
[[rule]]
id = "food-safety"
title = "Food safety complaint"
query = '@brand AND (@food_safety OR "food poisoning" OR 食物中毒) AND NOT (recipe OR 菜谱)'
severity = 70
crisis_type = "product_quality"
sentiment_below = 0.3
escalation = "default"

[[rule.example]]
text = "My kid got food poisoning after eating Acme yogurt"
match = true

[[rule.example]]
text = "Acme yogurt cured my food poisoning worries, best breakfast ever, love it!"
match = false

[[rule.example]]
title = "Acme yogurt overnight oats recipe"
match = false

[[rule.example]]
title = "艾克米酸奶"
body = "孩子食物中毒了"
match = true
"#;

    fn mention(title: &str, body: &str) -> Mention {
        Example { title: title.into(), body: body.into(), feed: None, author: None, expect_match: true }.mention("t", 0)
    }

    #[test]
    fn a_rule_file_loads_and_its_examples_run() {
        let set = load(
            GOOD,
            &[("brand", "# demo brand\nAcme\n艾克米\n"), ("food_safety", "salmonella\n\"made me sick\"\nmold*\n")],
        )
        .unwrap();
        let rule = set.rule("food-safety").unwrap();
        assert_eq!(rule.severity, 70);
        assert_eq!(rule.sentiment_below, Some(0.3));
        assert_eq!(rule.escalation.as_deref(), Some("default"));
        assert_eq!(rule.examples.len(), 4);
        let outcomes = set.run_examples();
        assert!(outcomes.iter().all(|o| o.passed), "{outcomes:#?}");
        let found = set.scan(&mention("", "Acme yogurt made me  sick, moldy lid"), -0.5);
        assert_eq!(found.len(), 1);
        let terms: Vec<&str> = found[0].terms.iter().map(|t| t.term.as_str()).collect();
        assert_eq!(terms, vec!["Acme", "made me sick", "mold*"]);
    }

    #[test]
    fn sentiment_bounds_are_strict_and_both_must_hold() {
        let rules = "[[rule]]\nid = \"a\"\ntitle = \"t\"\nquery = \"acme\"\nseverity = 50\ncrisis_type = \"x\"\n\
                     sentiment_below = 0.5\nsentiment_above = -0.5\n\n\
                     [[rule]]\nid = \"b\"\ntitle = \"t\"\nquery = \"acme\"\nseverity = 50\ncrisis_type = \"x\"\n";
        let set = load(rules, &[]).unwrap();
        let ids = |sentiment| -> Vec<String> {
            set.scan(&mention("", "acme"), sentiment).into_iter().map(|m| m.rule).collect()
        };
        assert_eq!(ids(0.0), ["a", "b"]);
        assert_eq!(ids(0.5), ["b"]);
        assert_eq!(ids(-0.5), ["b"]);
        assert_eq!(ids(-0.49), ["a", "b"]);
    }

    #[test]
    fn a_net_matches_only_what_no_other_rule_matched_and_nets_do_not_hide_each_other() {
        let rules = "[[rule]]\nid = \"pack\"\ntitle = \"t\"\nquery = \"acme AND recall\"\nseverity = 75\n\n\
                     [[rule]]\nid = \"net-a\"\ntitle = \"t\"\nquery = \"acme\"\nseverity = 25\nnet = true\n\n\
                     [[rule]]\nid = \"net-b\"\ntitle = \"t\"\nquery = \"acme\"\nseverity = 60\nnet = true\n";
        let set = load(rules, &[]).unwrap();
        let ids = |text| -> Vec<String> { set.scan(&mention("", text), 0.0).into_iter().map(|m| m.rule).collect() };
        assert_eq!(ids("acme recall"), ["pack"]);
        assert_eq!(ids("acme outage"), ["net-a", "net-b"]);
        assert!(ids("globex recall").is_empty());
    }

    #[test]
    fn a_crisis_bound_is_strict_reads_the_model_only_when_asked_and_must_be_a_probability() {
        let rules = "[[rule]]\nid = \"a\"\ntitle = \"t\"\nquery = \"acme\"\nseverity = 60\ncrisis_above = 0.9\n";
        let bounded = load(rules, &[]).unwrap();
        assert!(bounded.rules()[0].admits(0.0, || 0.91));
        assert!(!bounded.rules()[0].admits(0.0, || 0.9));
        let unbounded = load(GOOD, &[("brand", "acme\n"), ("food_safety", "mold*\n")]).unwrap();
        assert!(unbounded.rules()[0].admits(0.0, || panic!("a rule without crisis_above does not read the model")));
        for bad in ["1.0", "-0.1"] {
            let errs = errors(&rules.replace("0.9", bad), &[]);
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert!(errs[0].message.starts_with("crisis_above must be at least 0 and below 1"), "{errs:?}");
        }
    }

    #[test]
    fn a_failing_example_is_reported() {
        let rules = r#"
[[rule]]
id = "x"
title = "x"
query = "acme"
severity = 50
crisis_type = "rumor_or_attack"
[[rule.example]]
text = "nothing here"
match = true
"#;
        let outcomes = load(rules, &[]).unwrap().run_examples();
        assert_eq!(outcomes.len(), 1);
        assert!(!outcomes[0].passed && !outcomes[0].got && outcomes[0].expected);
    }

    #[test]
    fn query_errors_point_at_the_character_in_the_file() {
        let rules = "[[rule]]\nid = \"a\"\ntitle = \"t\"\nquery = 'acme AND (recall OR sued'\nseverity = 50\ncrisis_type = \"x\"\n";
        let errs = errors(rules, &[]);
        assert_eq!(errs.len(), 1);
        let e = &errs[0];
        // `(` is at column 19 of `query = 'acme AND (recall OR sued'`.
        assert_eq!((e.file.as_str(), e.line, e.column), ("r.toml", 4, 19));
        assert!(e.message.contains("unclosed"), "{e}");
        let shown = e.to_string();
        assert!(shown.starts_with("r.toml:4:19: bad query: unclosed `(`"), "{shown}");
        assert!(shown.ends_with("\n    query = 'acme AND (recall OR sued'\n                      ^"), "{shown}");
    }

    #[test]
    fn query_offsets_step_over_escapes_and_cjk() {
        // In a basic string `\"` is two characters in the file but one in the query.
        let rules = "[[rule]]\nid = \"a\"\ntitle = \"t\"\nquery = \"\\\"食物 中毒\\\" 召回\"\nseverity = 50\ncrisis_type = \"x\"\n";
        let e = &errors(rules, &[])[0];
        let line = rules.lines().nth(3).unwrap();
        let col = line.find("召回").map(|b| line[..b].chars().count() + 1).unwrap();
        assert_eq!((e.line, e.column), (4, col), "{e}");
        assert!(e.message.contains("expected AND or OR"), "{e}");
        // The caret sits under 召回: CJK characters are two columns wide.
        let caret_line = e.excerpt.lines().last().unwrap();
        let width: usize = line[..line.find("召回").unwrap()].chars().map(display_width).sum();
        assert_eq!(caret_line.len() - 4, width + 1);
    }

    #[test]
    fn every_error_is_collected_with_its_place() {
        let rules = r#"[[rule]]
id = "a"
title = "t"
query = "@nope AND acme"
severity = 150
crisis_type = "x"

[[rule]]
id = "b"
title = "t"
query = "acme"
severity = 50
crisis_type = "x"
colour = "red"

[[rule]]
id = "a"
title = "t"
query = "acme"
severity = 50
crisis_type = "x"
sentiment_above = 2.0

[[rule]]
id = "c"
title = "t"
query = "acme"
severity = 50
crisis_type = "x"
[[rule.example]]
text = "acme"
body = "acme"
match = true
"#;
        let errs = errors(rules, &[]);
        let shown: Vec<String> = errs.iter().map(|e| format!("{}:{}: {}", e.line, e.column, e.message)).collect();
        assert_eq!(errs.len(), 6, "{shown:#?}");
        assert!(shown[0].starts_with("4:10: unknown list `@nope`"), "{shown:#?}");
        assert!(shown[1].starts_with("5:12: severity must be between 0 and 100"), "{shown:#?}");
        assert!(shown[2].starts_with("14:1: unknown key `colour` in a rule"), "{shown:#?}");
        // The first rule `a` has errors, but its id is taken all the same.
        assert!(shown[3].starts_with("17:6: duplicate rule id `a` (first defined at r.toml:2:6)"), "{shown:#?}");
        assert!(shown[4].starts_with("22:19: sentiment_above must be between -1 and 1"), "{shown:#?}");
        assert!(shown[5].starts_with("30:1: an example gives `text` or `body`"), "{shown:#?}");
        let all = RuleErrors(errs).to_string();
        assert!(all.lines().any(|l| l.starts_with("r.toml:14:1: ")), "{all}");
    }

    #[test]
    fn one_rule_with_many_problems_reports_them_all() {
        let rules = r#"[[rule]]
id = "a"
title = "t"
query = "acme recall"
severity = 101
crisis_type = "x"
owner = "pr-team"
[[rule.example]]
text = "acme"
matches = true
"#;
        let shown: Vec<String> =
            errors(rules, &[]).iter().map(|e| format!("{}:{}: {}", e.line, e.column, e.message)).collect();
        assert_eq!(shown.len(), 5, "{shown:#?}");
        assert!(shown[0].starts_with("4:15: bad query: expected AND or OR"), "{shown:#?}");
        assert!(shown[1].starts_with("5:12: severity"), "{shown:#?}");
        assert!(shown[2].starts_with("7:1: unknown key `owner`"), "{shown:#?}");
        assert!(shown[3].starts_with("8:1: an example needs `match"), "{shown:#?}");
        assert!(shown[4].starts_with("10:1: unknown key `matches`"), "{shown:#?}");
    }

    #[test]
    fn duplicate_ids_across_files_name_the_first() {
        let rule = "[[rule]]\nid = \"dup\"\ntitle = \"t\"\nquery = \"acme\"\nseverity = 50\ncrisis_type = \"x\"\n";
        let err =
            RuleSet::from_sources(&[("a.toml".into(), rule.into()), ("b.toml".into(), rule.into())], &[]).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert!(
            err.to_string().starts_with("b.toml:2:6: duplicate rule id `dup` (first defined at a.toml:2:6)"),
            "{err}"
        );
    }

    #[test]
    fn a_duplicate_id_is_reported_even_when_the_first_rule_has_errors() {
        let bad = "[[rule]]\nid = \"dup\"\ntitle = \"t\"\nquery = \"acme acme\"\nseverity = 50\ncrisis_type = \"x\"\n";
        let good = "[[rule]]\nid = \"dup\"\ntitle = \"t\"\nquery = \"acme\"\nseverity = 50\ncrisis_type = \"x\"\n";
        let err =
            RuleSet::from_sources(&[("a.toml".into(), bad.into()), ("b.toml".into(), good.into())], &[]).unwrap_err();
        let shown: Vec<String> = err.0.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:#?}");
        assert!(shown[0].starts_with("a.toml:4:15: bad query"), "{shown:#?}");
        assert!(
            shown[1].starts_with("b.toml:2:6: duplicate rule id `dup` (first defined at a.toml:2:6)"),
            "{shown:#?}"
        );
    }

    #[test]
    fn toml_syntax_errors_and_unknown_top_level_keys() {
        let errs = errors("[[rule]]\nid = \"a\"\ntitle = \n", &[]);
        assert_eq!((errs[0].line, errs[0].file.as_str()), (3, "r.toml"));
        let errs = errors("rules = 1\n", &[]);
        assert_eq!((errs[0].line, errs[0].column), (1, 1));
        assert!(errs[0].message.contains("unknown key `rules`"), "{}", errs[0]);
        let errs = errors("[rule]\nid = \"a\"\n", &[]);
        assert!(errs[0].message.contains("[[rule]]"), "{}", errs[0]);
    }

    #[test]
    fn list_errors_and_empty_lists() {
        let rules =
            "[[rule]]\nid = \"a\"\ntitle = \"t\"\nquery = \"@empty OR @broken\"\nseverity = 50\ncrisis_type = \"x\"\n";
        let errs = errors(rules, &[("empty", "# nothing yet\n\n"), ("broken", "ok\n  \"open phrase\n")]);
        let shown: Vec<String> = errs.iter().map(|e| format!("{}:{}:{}", e.file, e.line, e.column)).collect();
        assert_eq!(shown, vec!["lists/broken.txt:2:3", "r.toml:4:10"], "{errs:#?}");
    }

    #[test]
    fn list_lines_may_except_longer_terms() {
        let rules = "[[rule]]\nid = \"a\"\ntitle = \"t\"\nquery = \"@win\"\nseverity = 50\ncrisis_type = \"x\"\n";
        let set = load(rules, &[("win", "成功 -郑成功 -\"成功人士\"\nco-founder\n\"a -b\"\n")]).unwrap();
        assert!(set.scan(&mention("", "郑成功收复台湾"), 0.0).is_empty());
        assert!(set.scan(&mention("", "成功人士"), 0.0).is_empty());
        assert_eq!(set.scan(&mention("", "发布会很成功"), 0.0).len(), 1);
        // A hyphen inside a word, or inside quotes, is not an except.
        assert_eq!(set.scan(&mention("", "the co-founder"), 0.0).len(), 1);
        assert_eq!(set.scan(&mention("", "a -b"), 0.0).len(), 1);
        let errs = errors(rules, &[("win", "ok\n成功 -\n成功 -\"open\n")]);
        let shown: Vec<String> =
            errs.iter().map(|e| format!("{}:{}:{}: {}", e.file, e.line, e.column, e.message)).collect();
        assert_eq!(
            shown,
            vec![
                "lists/win.txt:2:4: expected a term after `-`",
                "lists/win.txt:3:5: unterminated phrase: missing closing `\"`",
            ],
            "{errs:#?}"
        );
    }

    #[test]
    fn near_and_except_errors_point_into_the_file() {
        let rules = "[[rule]]\nid = \"a\"\ntitle = \"t\"\nquery = 'acme NEAR/x recall'\nseverity = 50\ncrisis_type = \"x\"\n\n[[rule]]\nid = \"b\"\ntitle = \"t\"\nquery = '成功 EXCEPT (郑成功 OR @nope)'\nseverity = 50\ncrisis_type = \"x\"\n";
        let errs = errors(rules, &[]);
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 2, "{shown:#?}");
        assert!(
            shown[0].starts_with("r.toml:4:20: bad query: expected a number of tokens after `NEAR/`"),
            "{shown:#?}"
        );
        assert!(shown[0].ends_with("\n    query = 'acme NEAR/x recall'\n                       ^"), "{shown:#?}");
        assert!(shown[1].starts_with("r.toml:11:28: unknown list `@nope`"), "{shown:#?}");
    }

    #[test]
    fn field_scoped_example_uses_feed_and_author() {
        let rules = r#"
[[rule]]
id = "weibo"
title = "t"
query = "source:weibo AND author:@vips AND acme"
severity = 60
crisis_type = "x"
[[rule.example]]
text = "acme again"
feed = "weibo"
author = "Big V"
match = true
[[rule.example]]
text = "acme again"
author = "Big V"
match = false
"#;
        let set = load(rules, &[("vips", "big v\n")]).unwrap();
        let outcomes = set.run_examples();
        assert!(outcomes.iter().all(|o| o.passed), "{outcomes:#?}");
    }

    #[test]
    fn string_offsets_in_every_toml_string_kind() {
        assert_eq!(toml_string_offset("'abc'", 1), 2);
        assert_eq!(toml_string_offset("'''\nabc'''", 1), 5);
        assert_eq!(toml_string_offset(r#""a\tb""#, 2), 4);
        assert_eq!(toml_string_offset(r#""\u00e9b""#, 2), 7);
        assert_eq!(toml_string_offset("\"\"\"a \\\n    b\"\"\"", 2), 11);
    }

    #[test]
    fn bundled_rules_load_and_pass() {
        let set = RuleSet::bundled();
        let types: std::collections::BTreeSet<&str> = set.rules().iter().map(|r| r.crisis_type.as_str()).collect();
        for t in [
            "product_quality",
            "service_failure",
            "safety_incident",
            "rumor_or_attack",
            "legal_regulatory",
            "data_breach",
            "executive_conduct",
        ] {
            assert!(types.contains(t), "no bundled rule for {t}");
        }
        for rule in set.rules() {
            if rule.id == "negative-buzz" {
                // The net for the unforeseen opens nothing alone, even at its most negative.
                assert!(f64::from(rule.severity) * 1.3 < 60.0, "{}", rule.severity);
            } else {
                assert!((50..=90).contains(&rule.severity), "{}", rule.id);
            }
            // Two examples each way, in English and in Chinese.
            for chinese in [false, true] {
                for expect in [true, false] {
                    let n = rule
                        .examples
                        .iter()
                        .filter(|e| e.expect_match == expect)
                        .filter(|e| format!("{}{}", e.title, e.body).chars().any(super::super::text::is_cjk) == chinese)
                        .count();
                    assert!(n >= 2, "{}: {n} examples with match = {expect}, chinese = {chinese}", rule.id);
                }
            }
        }
        let failed: Vec<_> = set.run_examples().into_iter().filter(|o| !o.passed).collect();
        assert!(failed.is_empty(), "{failed:#?}");
    }

    #[test]
    fn bundled_rules_on_disk_load_from_the_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let set = RuleSet::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.rules().len(), RuleSet::bundled().rules().len());
        // The build bundles every file of the folder: a list on disk is a list in the binary.
        let on_disk: std::collections::BTreeSet<String> = read_files(&dir.join("lists"), "txt")
            .unwrap()
            .into_iter()
            .map(|(p, _)| Path::new(&p).file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        let in_binary: std::collections::BTreeSet<String> =
            bundled::LISTS.iter().map(|(path, _)| bundled::list_name(path).to_string()).collect();
        assert_eq!(on_disk, in_binary);
        let rule_files: Vec<String> = read_files(&dir, "toml").unwrap().into_iter().map(|(p, _)| p).collect();
        assert_eq!(rule_files.len(), bundled::RULES.len(), "{rule_files:?}");
    }

    #[test]
    fn a_missing_folder_is_an_error_not_a_panic() {
        let err = RuleSet::load_dir(Path::new("/no/such/rules")).unwrap_err();
        assert!(err.to_string().starts_with("/no/such/rules:1:1: cannot read the rules folder"), "{err}");
    }
}
