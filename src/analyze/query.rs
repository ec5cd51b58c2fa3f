//! The rule query language: text to [`Query`] AST.
//!
//! ```text
//! query   := or
//! or      := and ("OR" and)*
//! and     := near ("AND" near)*
//! near    := unary (("NEAR/" n | "SENTENCE") unary)*   (each side: a term, an EXCEPT, a NEAR or an OR of those)
//! unary   := "NOT" unary | primary
//! primary := field? (term except? | "(" or ")")
//! except  := "EXCEPT" (term | "(" term ("OR" term)* ")")  (no fields: the term's field is used)
//! field   := "title:" | "body:" | "author:" | "source:"      (no space before the term)
//! term    := word | word* | "a phrase" | @list | /regex/flags
//! ```
//!
//! Precedence: `NOT` binds tightest, then `NEAR` and `SENTENCE`, then `AND`, then `OR`;
//! `EXCEPT` belongs to the term before it. Operators are upper-case.
//!
//! - `a NEAR/n b`: a hit of `a` and a hit of `b` in the same field with at most `n` words
//!   between them, in either order. A Latin word is one word; Chinese is segmented into
//!   words (see [`super::text::Positions`]), so a rule reads a sentence and its translation
//!   alike.
//! - `a SENTENCE b`: a hit of each in the same sentence or clause of one field.
//! - `term EXCEPT (longer OR other)`: a hit of `term` lying inside a hit of one of the
//!   excepted terms doesn't count (`成功 EXCEPT 郑成功`, `acme EXCEPT "acme corp of ohio"`).
//!
//! Adjacent terms are an error ("expected AND or OR between terms"), never an implicit
//! `AND`: in a crisis rule, `acme recall` is more likely a phrase missing its quotes than a
//! conjunction, and guessing wrong silently changes what alerts. `NOT` is prefix only, so
//! `a NOT b` is also an error; write `a AND NOT b`.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// Where a term must occur. A term with no field matches the title or the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Body,
    Author,
    /// The feed name the mention came from.
    Source,
}

impl Field {
    pub const ALL: [Field; 4] = [Field::Title, Field::Body, Field::Author, Field::Source];

    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Body => "body",
            Field::Author => "author",
            Field::Source => "source",
        }
    }

    fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    Term(Term),
    /// `term EXCEPT (a OR b)`: hits of `term` inside a hit of `a` or `b` don't count.
    Except {
        term: Term,
        except: Vec<Term>,
    },
    /// `left NEAR/n right` or `left SENTENCE right`: a hit of each side, close enough.
    Near {
        left: Box<Query>,
        right: Box<Query>,
        within: Within,
    },
    Not(Box<Query>),
    And(Vec<Query>),
    Or(Vec<Query>),
}

/// How close the two sides of a [`Query::Near`] must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Within {
    /// `NEAR/n`: at most `n` words between the two hits.
    Words(usize),
    /// `SENTENCE`: both hits in one sentence or clause.
    Sentence,
}

impl fmt::Display for Within {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Within::Words(n) => write!(f, "NEAR/{n}"),
            Within::Sentence => f.write_str("SENTENCE"),
        }
    }
}

/// One leaf of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub field: Option<Field>,
    pub kind: TermKind,
    /// Byte range of the term in the query text (after any field prefix).
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TermKind {
    /// A bare word as written, e.g. `recall` or `食物中毒`.
    Word(String),
    /// A quoted phrase, without its quotes.
    Phrase(String),
    /// `recall*`: the stem, which must start a word but may run on.
    Prefix(String),
    /// `/pattern/flags`, run on the original text.
    Regex { pattern: String, case_insensitive: bool },
    /// `@name`: any term of `rules/lists/name.txt`.
    List(String),
}

impl Query {
    /// Every leaf, in query order.
    pub fn terms(&self) -> Vec<&Term> {
        let mut out = Vec::new();
        self.collect_terms(&mut out);
        out
    }

    fn collect_terms<'a>(&'a self, out: &mut Vec<&'a Term>) {
        match self {
            Query::Term(t) => out.push(t),
            Query::Except { term, except } => {
                out.push(term);
                out.extend(except);
            }
            Query::Near { left, right, .. } => {
                left.collect_terms(out);
                right.collect_terms(out);
            }
            Query::Not(q) => q.collect_terms(out),
            Query::And(qs) | Query::Or(qs) => qs.iter().for_each(|q| q.collect_terms(out)),
        }
    }
}

/// Fully parenthesised, so the parse is visible.
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, qs: &[Query], op: &str| {
            f.write_str("(")?;
            for (i, q) in qs.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{q}")?;
            }
            f.write_str(")")
        };
        match self {
            Query::Term(t) => write!(f, "{t}"),
            Query::Except { term, except } => {
                write!(f, "({term} EXCEPT ")?;
                if let [one] = except.as_slice() {
                    write!(f, "{one}")?;
                } else {
                    f.write_str("(")?;
                    for (i, t) in except.iter().enumerate() {
                        if i > 0 {
                            f.write_str(" OR ")?;
                        }
                        write!(f, "{t}")?;
                    }
                    f.write_str(")")?;
                }
                f.write_str(")")
            }
            Query::Near { left, right, within } => write!(f, "({left} {within} {right})"),
            Query::Not(q) => write!(f, "NOT {q}"),
            Query::And(qs) => join(f, qs, "AND"),
            Query::Or(qs) => join(f, qs, "OR"),
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(field) = self.field {
            write!(f, "{field}:")?;
        }
        match &self.kind {
            TermKind::Word(w) => f.write_str(w),
            TermKind::Phrase(p) => {
                write!(f, "\"{}\"", p.replace('\\', "\\\\").replace('"', "\\\""))
            }
            TermKind::Prefix(p) => write!(f, "{p}*"),
            TermKind::Regex { pattern, case_insensitive } => {
                write!(f, "/{}/{}", pattern.replace('/', "\\/"), if *case_insensitive { "i" } else { "" })
            }
            TermKind::List(name) => write!(f, "@{name}"),
        }
    }
}

/// A query that does not parse, with the place to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at character {offset}: {message}")]
pub struct QueryError {
    /// Character offset (0-based) into the query text.
    pub offset: usize,
    /// The same place as a byte offset, for mapping into the file the query came from.
    pub byte: usize,
    pub message: String,
}

impl QueryError {
    fn new(query: &str, byte: usize, message: impl Into<String>) -> Self {
        QueryError { offset: query.get(..byte).map_or(0, |s| s.chars().count()), byte, message: message.into() }
    }
}

/// Parses a query. See the module docs for the grammar.
pub fn parse(query: &str) -> Result<Query, QueryError> {
    let tokens = lex(query)?;
    let mut parser = Parser { query, tokens, pos: 0, depth: 0 };
    if parser.tokens.is_empty() {
        return Err(QueryError::new(query, 0, "empty query"));
    }
    let ast = parser.or()?;
    match parser.peek() {
        None => Ok(ast),
        Some(tok) if matches!(tok.tok, Tok::RParen) => Err(parser.error_at(tok.start, "unmatched `)`")),
        Some(_) => Err(parser.between_terms_error()),
    }
}

/// Checks a regex the way the matcher will compile it.
pub fn compile_regex(pattern: &str, case_insensitive: bool) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern).case_insensitive(case_insensitive).build().map_err(|e| match e {
        // The syntax error repeats the pattern with a caret; we show our own, so keep
        // only the line that says what is wrong.
        regex::Error::Syntax(text) => {
            text.lines().find_map(|l| l.strip_prefix("error: ")).unwrap_or("invalid regex").to_string()
        }
        other => other.to_string(),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Near(Within),
    Except,
    Field(Field),
    Term(TermKind),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

fn lex(query: &str) -> Result<Vec<Token>, QueryError> {
    let err = |at: usize, msg: &str| QueryError::new(query, at, msg);
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(c) = query[pos..].chars().next() {
        let start = pos;
        if c.is_whitespace() {
            pos += c.len_utf8();
            continue;
        }
        let (tok, end) = match c {
            '(' => (Tok::LParen, pos + 1),
            ')' => (Tok::RParen, pos + 1),
            '"' => {
                let (text, end) = lex_delimited(query, pos, '"')
                    .ok_or_else(|| err(start, "unterminated phrase: missing closing `\"`"))?;
                if text.trim().is_empty() {
                    return Err(err(start, "empty phrase"));
                }
                (Tok::Term(TermKind::Phrase(text)), end)
            }
            '/' => {
                let (pattern, mut end) = lex_delimited(query, pos, '/')
                    .ok_or_else(|| err(start, "unterminated regex: missing closing `/`"))?;
                if pattern.is_empty() {
                    return Err(err(start, "empty regex"));
                }
                let mut case_insensitive = false;
                while let Some(flag) = query[end..].chars().next().filter(|c| !ends_word(*c)) {
                    match flag {
                        'i' => case_insensitive = true,
                        _ => {
                            return Err(err(end, "unknown regex flag; only `i` is supported"));
                        }
                    }
                    end += flag.len_utf8();
                }
                compile_regex(&pattern, case_insensitive)
                    .map_err(|m| err(start + 1, &format!("invalid regex: {m}")))?;
                (Tok::Term(TermKind::Regex { pattern, case_insensitive }), end)
            }
            '@' => {
                let name_len = query[pos + 1..]
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                    .unwrap_or(query.len() - pos - 1);
                let end = pos + 1 + name_len;
                if name_len == 0 {
                    return Err(err(start, "expected a list name after `@`"));
                }
                if query[end..].chars().next().is_some_and(|c| !ends_word(c)) {
                    return Err(err(end, "a list name may hold only letters, digits, `_` and `-`"));
                }
                (Tok::Term(TermKind::List(query[pos + 1..end].to_string())), end)
            }
            _ => {
                let end = query[pos..].find(ends_word).map_or(query.len(), |i| pos + i);
                let word = &query[pos..end];
                if let Some((name, _)) = word.split_once(':') {
                    if let Some(field) = Field::from_name(name) {
                        let end = pos + name.len() + 1;
                        tokens.push(Token { tok: Tok::Field(field), start, end });
                        pos = end;
                        continue;
                    }
                    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic()) {
                        return Err(err(
                            start,
                            &format!(
                                "unknown field `{name}:`; fields are title:, body:, author: and source: (quote the term if the colon belongs to it)"
                            ),
                        ));
                    }
                }
                (lex_word(query, start, word)?, end)
            }
        };
        tokens.push(Token { tok, start, end });
        pos = end;
    }
    Ok(tokens)
}

fn lex_word(query: &str, start: usize, word: &str) -> Result<Tok, QueryError> {
    match word {
        "AND" => return Ok(Tok::And),
        "OR" => return Ok(Tok::Or),
        "NOT" => return Ok(Tok::Not),
        "EXCEPT" => return Ok(Tok::Except),
        "SENTENCE" => return Ok(Tok::Near(Within::Sentence)),
        "NEAR" => return Err(QueryError::new(query, start, "NEAR needs a distance: write `a NEAR/5 b`")),
        _ => {}
    }
    if let Some(n) = word.strip_prefix("NEAR/") {
        let at = start + "NEAR/".len();
        if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
            return Err(QueryError::new(query, at, "expected a number of tokens after `NEAR/`, like `NEAR/5`"));
        }
        return match n.parse::<usize>() {
            Ok(distance) if distance <= MAX_NEAR => Ok(Tok::Near(Within::Words(distance))),
            _ => Err(QueryError::new(query, at, format!("a NEAR distance is at most {MAX_NEAR} tokens"))),
        };
    }
    if let Some(star) = word.find('*') {
        if star + 1 != word.len() {
            return Err(QueryError::new(query, start + star, "`*` is only allowed at the end of a term"));
        }
        if star == 0 {
            return Err(QueryError::new(query, start, "expected a word before `*`"));
        }
        return Ok(Tok::Term(TermKind::Prefix(word[..star].to_string())));
    }
    Ok(Tok::Term(TermKind::Word(word.to_string())))
}

/// Reads `"..."` or `/.../` starting at the opening delimiter; a backslash escapes the
/// delimiter. Returns the contents and the byte after the closing delimiter.
fn lex_delimited(query: &str, open: usize, delim: char) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = query[open + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        if c == delim {
            return Some((out, open + 1 + i + 1));
        }
        if c == '\\' {
            match chars.next() {
                Some((_, next)) if next == delim => out.push(next),
                // In a phrase `\\` is a backslash; in a regex it must stay escaped.
                Some((_, '\\')) if delim == '"' => out.push('\\'),
                Some((_, next)) => {
                    out.push('\\');
                    out.push(next);
                }
                None => return None,
            }
            continue;
        }
        out.push(c);
    }
    None
}

/// The largest `NEAR/n`; further apart, two words are not near in any useful sense.
pub const MAX_NEAR: usize = 1000;

/// Deep enough for any hand-written rule, shallow enough that a hostile one can't
/// overflow the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'q> {
    query: &'q str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let tok = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        tok
    }

    fn error_at(&self, byte: usize, message: impl Into<String>) -> QueryError {
        QueryError::new(self.query, byte, message)
    }

    /// The error for a token that can't follow a complete expression.
    fn between_terms_error(&self) -> QueryError {
        let Some(tok) = self.peek() else {
            return self.error_at(self.query.len(), "unexpected end of query");
        };
        match &tok.tok {
            Tok::Not => self.error_at(tok.start, "expected AND or OR before NOT (write `a AND NOT b`)"),
            Tok::Except => self.error_at(
                tok.start,
                "EXCEPT follows a single term, like `成功 EXCEPT 郑成功` (write `(a EXCEPT x) OR (b EXCEPT x)`)",
            ),
            Tok::Term(TermKind::Word(w))
                if matches!(w.to_ascii_uppercase().as_str(), "AND" | "OR" | "NOT" | "EXCEPT" | "SENTENCE")
                    || w.to_ascii_uppercase().starts_with("NEAR/") =>
            {
                let upper = w.to_ascii_uppercase();
                let op = if upper.starts_with("NEAR/") { "NEAR/n" } else { upper.as_str() };
                self.error_at(tok.start, format!("expected AND or OR between terms (operators are upper-case: `{op}`)"))
            }
            _ => self.error_at(tok.start, "expected AND or OR between terms (quote a phrase: \"a b\")"),
        }
    }

    fn or(&mut self) -> Result<Query, QueryError> {
        let mut parts = vec![self.and()?];
        while self.peek().is_some_and(|t| t.tok == Tok::Or) {
            self.next();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Query::Or(parts) })
    }

    fn and(&mut self) -> Result<Query, QueryError> {
        let mut parts = vec![self.near()?];
        while self.peek().is_some_and(|t| t.tok == Tok::And) {
            self.next();
            parts.push(self.near()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Query::And(parts) })
    }

    fn near(&mut self) -> Result<Query, QueryError> {
        let start = self.here();
        let mut left = self.unary()?;
        let mut chain = 0;
        while let Some(&Token { tok: Tok::Near(within), start: at, .. }) = self.peek() {
            self.next();
            chain += 1;
            if self.depth + chain > MAX_DEPTH {
                return Err(self.error_at(at, "query is nested too deeply"));
            }
            if chain == 1 {
                self.near_operand(&left, start)?;
            }
            let right_start = self.here();
            let right = self.unary()?;
            self.near_operand(&right, right_start)?;
            left = Query::Near { left: Box::new(left), right: Box::new(right), within };
        }
        Ok(left)
    }

    /// Byte offset of the next token, or the end of the query.
    fn here(&self) -> usize {
        self.peek().map_or(self.query.len(), |t| t.start)
    }

    /// A side of `NEAR` needs hits with positions: terms, EXCEPTs, NEARs and ORs of those.
    fn near_operand(&self, query: &Query, at: usize) -> Result<(), QueryError> {
        let first = |q: &Query| q.terms().first().map_or(at, |t| t.span.start);
        match query {
            Query::Term(_) | Query::Except { .. } | Query::Near { .. } => Ok(()),
            Query::Or(qs) => qs.iter().try_for_each(|q| self.near_operand(q, first(q))),
            Query::Not(_) => Err(self.error_at(
                at,
                "NOT cannot be near anything: each side of NEAR is a term, a phrase, a list or an OR group (write `NOT (a NEAR/5 b)`)",
            )),
            Query::And(_) => Err(self.error_at(
                at,
                "AND inside NEAR: each side of NEAR is a term, a phrase, a list or an OR group (write `(a NEAR/5 c) AND (b NEAR/5 c)`)",
            )),
        }
    }

    /// The optional `EXCEPT ...` after a term.
    fn except(&mut self, term: Term) -> Result<Query, QueryError> {
        if !self.peek().is_some_and(|t| t.tok == Tok::Except) {
            return Ok(Query::Term(term));
        }
        self.next();
        let mut except = Vec::new();
        match self.next() {
            Some(Token { tok: Tok::Term(kind), start, end }) => {
                except.push(Term { field: None, kind, span: start..end })
            }
            Some(Token { tok: Tok::LParen, start: open, .. }) => loop {
                match self.next() {
                    Some(Token { tok: Tok::Term(kind), start, end }) => {
                        except.push(Term { field: None, kind, span: start..end })
                    }
                    Some(t) => return Err(self.except_error(&t)),
                    None => return Err(self.error_at(open, "unclosed `(`")),
                }
                match self.next() {
                    Some(Token { tok: Tok::Or, .. }) => {}
                    Some(Token { tok: Tok::RParen, .. }) => break,
                    Some(t) => return Err(self.except_error(&t)),
                    None => return Err(self.error_at(open, "unclosed `(`")),
                }
            },
            Some(t) => return Err(self.except_error(&t)),
            None => return Err(self.error_at(self.query.len(), "expected a term or `(` after EXCEPT")),
        }
        if let Some(t) = self.peek().filter(|t| t.tok == Tok::Except) {
            return Err(self.error_at(t.start, "one EXCEPT per term: write `a EXCEPT (b OR c)`"));
        }
        Ok(Query::Except { term, except })
    }

    fn except_error(&self, tok: &Token) -> QueryError {
        match tok.tok {
            Tok::Field(field) => self.error_at(
                tok.start,
                format!("no `{field}:` after EXCEPT: the excepted terms are looked for where the term is"),
            ),
            _ => self.error_at(tok.start, "EXCEPT takes a term, or terms joined by OR in parentheses"),
        }
    }

    fn unary(&mut self) -> Result<Query, QueryError> {
        if self.peek().is_some_and(|t| t.tok == Tok::Not) {
            let not = self.next();
            self.descend(not.map_or(0, |t| t.start))?;
            let inner = self.unary();
            self.depth -= 1;
            return Ok(Query::Not(Box::new(inner?)));
        }
        self.primary()
    }

    fn descend(&mut self, at: usize) -> Result<(), QueryError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error_at(at, "query is nested too deeply"));
        }
        self.depth += 1;
        Ok(())
    }

    fn primary(&mut self) -> Result<Query, QueryError> {
        let Some(tok) = self.next() else {
            return Err(self.error_at(self.query.len(), "expected a term at the end of the query"));
        };
        match tok.tok {
            Tok::Term(kind) => self.except(Term { field: None, kind, span: tok.start..tok.end }),
            Tok::LParen => self.group(tok.start),
            Tok::Field(field) => {
                let next = self.next();
                match next {
                    Some(Token { tok: Tok::Term(kind), start, end }) if start == tok.end => {
                        self.except(Term { field: Some(field), kind, span: start..end })
                    }
                    Some(Token { tok: Tok::LParen, start, .. }) if start == tok.end => {
                        let mut inner = self.group(start)?;
                        self.scope(&mut inner, field)?;
                        Ok(inner)
                    }
                    _ => {
                        Err(self
                            .error_at(tok.end, format!("expected a term or `(` right after `{field}:`, with no space")))
                    }
                }
            }
            Tok::RParen => Err(self.error_at(tok.start, "expected a term before `)`")),
            Tok::And | Tok::Or => Err(self.error_at(
                tok.start,
                format!("expected a term before {}", if tok.tok == Tok::And { "AND" } else { "OR" }),
            )),
            Tok::Not => Err(self.error_at(tok.start, "unexpected NOT")),
            Tok::Near(within) => Err(self.error_at(tok.start, format!("expected a term before {within}"))),
            Tok::Except => Err(self.error_at(tok.start, "expected a term before EXCEPT")),
        }
    }

    fn group(&mut self, open: usize) -> Result<Query, QueryError> {
        self.descend(open)?;
        let inner = self.or();
        self.depth -= 1;
        let inner = inner?;
        match self.peek() {
            Some(t) if t.tok == Tok::RParen => {
                self.next();
                Ok(inner)
            }
            None => Err(self.error_at(open, "unclosed `(`")),
            Some(_) => Err(self.between_terms_error()),
        }
    }

    /// `title:(a OR b)` means `title:a OR title:b`.
    fn scope(&self, query: &mut Query, field: Field) -> Result<(), QueryError> {
        match query {
            Query::Term(t) | Query::Except { term: t, .. } => match t.field {
                Some(other) if other != field => {
                    Err(self.error_at(t.span.start, format!("`{other}:` inside `{field}:(...)`")))
                }
                _ => {
                    t.field = Some(field);
                    Ok(())
                }
            },
            Query::Near { left, right, .. } => {
                self.scope(left, field)?;
                self.scope(right, field)
            }
            Query::Not(q) => self.scope(q, field),
            Query::And(qs) | Query::Or(qs) => qs.iter_mut().try_for_each(|q| self.scope(q, field)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(q: &str) -> String {
        parse(q).unwrap_or_else(|e| panic!("{q}: {e}")).to_string()
    }

    fn error(q: &str) -> QueryError {
        parse(q).expect_err(q)
    }

    #[test]
    fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
        assert_eq!(shown("a OR b AND c"), "(a OR (b AND c))");
        assert_eq!(shown("a AND b OR c"), "((a AND b) OR c)");
        assert_eq!(shown("NOT a AND b"), "(NOT a AND b)");
        assert_eq!(shown("a OR NOT b AND c"), "(a OR (NOT b AND c))");
        assert_eq!(shown("NOT (a OR b)"), "NOT (a OR b)");
        assert_eq!(shown("a AND b AND c"), "(a AND b AND c)");
        assert_eq!(shown("(a OR b) AND c"), "((a OR b) AND c)");
    }

    #[test]
    fn terms_of_every_kind() {
        assert_eq!(
            shown(r#"@brand AND ("food poisoning" OR 食物中毒 OR recall* OR /recall(ed|s)?/i)"#),
            r#"(@brand AND ("food poisoning" OR 食物中毒 OR recall* OR /recall(ed|s)?/i))"#
        );
        let q = parse("@food_safety").unwrap();
        assert_eq!(q.terms()[0].kind, TermKind::List("food_safety".into()));
        let q = parse(r#""say \"hi\"""#).unwrap();
        assert_eq!(q.terms()[0].kind, TermKind::Phrase("say \"hi\"".into()));
    }

    #[test]
    fn fields_prefix_terms_and_groups() {
        assert_eq!(shown("title:acme AND body:\"x y\""), "(title:acme AND body:\"x y\")");
        assert_eq!(shown("author:(bob OR @vips)"), "(author:bob OR author:@vips)");
        assert_eq!(shown("source:weibo AND NOT title:ad"), "(source:weibo AND NOT title:ad)");
        let q = parse("title:acme").unwrap();
        assert_eq!(q.terms()[0].span, 6..10);
    }

    #[test]
    fn adjacent_terms_are_an_error_not_an_implicit_and() {
        let e = error("acme recall");
        assert_eq!(e.offset, 5);
        assert!(e.message.contains("expected AND or OR between terms"), "{e}");
        let e = error("acme NOT recall");
        assert_eq!(e.offset, 5);
        assert!(e.message.contains("AND NOT"), "{e}");
        let e = error("acme and recall");
        assert!(e.message.contains("upper-case"), "{e}");
    }

    #[test]
    fn errors_carry_character_offsets() {
        // Offsets count characters, not bytes: the CJK term before the error is 4 chars.
        let e = error("食物中毒 AND (a OR b");
        assert_eq!((e.offset, e.byte), (9, 17));
        assert!(e.message.contains("unclosed"), "{e}");
        let e = error("食物中毒 AND");
        assert_eq!(e.offset, 8);
        let e = error("a OR OR b");
        assert_eq!(e.offset, 5);
        assert!(e.message.contains("before OR"), "{e}");
        let e = error("a AND \"open phrase");
        assert_eq!(e.offset, 6);
        let e = error("a)");
        assert_eq!(e.offset, 1);
        assert!(e.message.contains("unmatched"), "{e}");
        let e = error("titel:acme");
        assert!(e.message.contains("unknown field"), "{e}");
        let e = error("title: acme");
        assert_eq!(e.offset, 6);
        let e = error("re*call");
        assert_eq!(e.offset, 2);
        let e = error("a AND /recall(/i");
        assert_eq!(e.offset, 7);
        assert!(e.message.contains("invalid regex"), "{e}");
        let e = error("@");
        assert_eq!(e.offset, 0);
        assert_eq!(error("   ").message, "empty query");
    }

    #[test]
    fn sentence_binds_like_near() {
        assert_eq!(shown("a SENTENCE b"), "(a SENTENCE b)");
        assert_eq!(shown("a AND b SENTENCE c OR d"), "((a AND (b SENTENCE c)) OR d)");
        assert_eq!(shown("a NEAR/2 b SENTENCE (c OR d)"), "((a NEAR/2 b) SENTENCE (c OR d))");
        assert!(error("a SENTENCE NOT b").message.contains("NOT cannot be near"), "{}", error("a SENTENCE NOT b"));
        assert!(error("SENTENCE b").message.contains("before SENTENCE"), "{}", error("SENTENCE b"));
        assert!(error("a sentence b").message.contains("`SENTENCE`"), "{}", error("a sentence b"));
    }

    #[test]
    fn near_binds_between_not_and_and() {
        assert_eq!(shown("a NEAR/5 b"), "(a NEAR/5 b)");
        assert_eq!(shown("a AND b NEAR/3 c"), "(a AND (b NEAR/3 c))");
        assert_eq!(shown("a NEAR/3 b OR c"), "((a NEAR/3 b) OR c)");
        assert_eq!(shown("a NEAR/1 b NEAR/2 c"), "((a NEAR/1 b) NEAR/2 c)");
        assert_eq!(shown("(a OR \"b c\") NEAR/0 @list"), "((a OR \"b c\") NEAR/0 @list)");
        assert_eq!(shown("title:(acme NEAR/4 召回*)"), "(title:acme NEAR/4 title:召回*)");
        assert_eq!(shown("NOT (a NEAR/2 b) AND c"), "(NOT (a NEAR/2 b) AND c)");
        let q = parse("acme NEAR/10 /recall/i").unwrap();
        assert!(matches!(q, Query::Near { within: Within::Words(10), .. }), "{q:?}");
        assert_eq!(q.terms().len(), 2);
    }

    #[test]
    fn except_belongs_to_the_term_before_it() {
        assert_eq!(shown("成功 EXCEPT 郑成功"), "(成功 EXCEPT 郑成功)");
        assert_eq!(shown("acme EXCEPT \"acme corp of ohio\""), "(acme EXCEPT \"acme corp of ohio\")");
        assert_eq!(
            shown("成功 EXCEPT (郑成功 OR 成功人士) AND 艾克米"),
            "((成功 EXCEPT (郑成功 OR 成功人士)) AND 艾克米)"
        );
        assert_eq!(shown("title:acme EXCEPT acmeville"), "(title:acme EXCEPT acmeville)");
        assert_eq!(shown("NOT acme EXCEPT x"), "NOT (acme EXCEPT x)");
        assert_eq!(shown("acme EXCEPT x NEAR/2 recall"), "((acme EXCEPT x) NEAR/2 recall)");
        assert_eq!(shown("body:(@brand EXCEPT @rivals)"), "(body:@brand EXCEPT @rivals)");
        let q = parse("@brand EXCEPT (@rivals OR /acme ?inc/i)").unwrap();
        let kinds: Vec<&TermKind> = q.terms().iter().map(|t| &t.kind).collect();
        assert_eq!(kinds.len(), 3);
        assert_eq!(kinds[1], &TermKind::List("rivals".into()));
    }

    #[test]
    fn near_and_except_misuse_is_reported_at_the_spot() {
        let e = error("a NEAR b");
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("NEAR/5"), "{e}");
        let e = error("a NEAR/x b");
        assert_eq!(e.offset, 7);
        assert!(e.message.contains("number of tokens"), "{e}");
        let e = error("a NEAR/99999 b");
        assert!(e.message.contains("at most 1000"), "{e}");
        let e = error("NOT a NEAR/3 b");
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("NOT cannot be near"), "{e}");
        let e = error("a NEAR/3 NOT b");
        assert_eq!(e.offset, 9);
        let e = error("(a AND b) NEAR/3 c");
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("AND inside NEAR"), "{e}");
        let e = error("c NEAR/3 (x OR (a AND b))");
        assert_eq!(e.offset, 16);
        let e = error("NEAR/3 b");
        assert!(e.message.contains("expected a term before NEAR"), "{e}");
        let e = error("a NEAR/3");
        assert_eq!(e.offset, 8);
        let e = error("a near/3 b");
        assert!(e.message.contains("upper-case: `NEAR/n`"), "{e}");
        let e = error("成功 EXCEPT");
        assert_eq!(e.offset, 9);
        assert!(e.message.contains("after EXCEPT"), "{e}");
        let e = error("成功 EXCEPT (郑成功 AND x)");
        assert_eq!(e.offset, 15);
        assert!(e.message.contains("joined by OR"), "{e}");
        let e = error("成功 EXCEPT (郑成功 OR");
        assert_eq!(e.offset, 10);
        assert!(e.message.contains("unclosed"), "{e}");
        let e = error("成功 EXCEPT title:郑成功");
        assert_eq!(e.offset, 10);
        assert!(e.message.contains("no `title:` after EXCEPT"), "{e}");
        let e = error("(a OR b) EXCEPT c");
        assert_eq!(e.offset, 9);
        assert!(e.message.contains("single term"), "{e}");
        let e = error("a EXCEPT b EXCEPT c");
        assert_eq!(e.offset, 11);
        assert!(e.message.contains("one EXCEPT per term"), "{e}");
        let e = error("EXCEPT b");
        assert!(e.message.contains("expected a term before EXCEPT"), "{e}");
        let e = error("a except b");
        assert!(e.message.contains("upper-case: `EXCEPT`"), "{e}");
        let e = error("a EXCEPT (NOT b)");
        assert_eq!(e.offset, 10);
    }

    #[test]
    fn hostile_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(error(&deep).message.contains("nested too deeply"));
        let nots = format!("{}a", "NOT ".repeat(10_000));
        assert!(error(&nots).message.contains("nested too deeply"));
        let nears = format!("a{}", " NEAR/1 a".repeat(10_000));
        assert!(error(&nears).message.contains("nested too deeply"));
    }

    mod never_panics {
        use proptest::prelude::*;

        use super::super::parse;

        /// Query-shaped noise: operators, quotes, slashes, fields and CJK mixed at random.
        fn noise() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("a"),
                Just("食物"),
                Just("AND"),
                Just("OR"),
                Just("NOT"),
                Just("NEAR/"),
                Just("NEAR/3"),
                Just("NEAR"),
                Just("EXCEPT"),
                Just("("),
                Just(")"),
                Just("\""),
                Just("/"),
                Just("/i"),
                Just("\\"),
                Just("*"),
                Just("@"),
                Just("@l"),
                Just("title:"),
                Just("x:"),
                Just(":"),
                Just(" "),
                Just("\u{200B}"),
                Just("é"),
                Just("ＡＮＤ"),
                Just("["),
                Just("NEAR/99999999999999999999"),
            ];
            proptest::collection::vec(piece, 0..24).prop_map(|p| p.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            #[test]
            fn parse_never_panics_on_any_string(q in any::<String>()) {
                let _ = parse(&q);
            }

            #[test]
            fn parse_never_panics_on_query_shaped_noise(q in noise()) {
                // An error must point inside the query, on a character boundary.
                if let Err(e) = parse(&q) {
                    prop_assert!(e.byte <= q.len() && q.is_char_boundary(e.byte), "{q:?}: {e:?}");
                }
            }

            #[test]
            fn a_parsed_query_prints_to_a_query_that_parses_the_same(q in noise()) {
                if let Ok(ast) = parse(&q) {
                    let shown = ast.to_string();
                    let again = parse(&shown).map_err(|e| TestCaseError::fail(format!("{shown}: {e}")))?;
                    prop_assert_eq!(again.to_string(), shown);
                }
            }
        }
    }
}
