//! Text folding shared by rule terms and mention text.
//!
//! Terms and text must fold the same way or a term can never match, so both go through
//! [`Folded::new`]. The folds, in order:
//!
//! 1. zero-width characters (U+200B..U+200D, U+2060, U+FEFF) are dropped;
//! 2. a character and the combining marks after it are put in Unicode NFKC (full-width
//!    `ＡＣＭＥ` becomes `ACME`, `ﬁ` becomes `fi`, `e` + U+0301 becomes `é`);
//! 3. every character is lower-cased (per character, see [`fold_char`]);
//! 4. whitespace runs read as one space;
//! 5. separators (whitespace, punctuation, symbols) put between two CJK characters are
//!    dropped, so `食*物 中·毒` and `食/物/中/毒` read `食物中毒`;
//! 6. Traditional Chinese folds to Simplified (`醜聞` reads `丑闻`, `食物中毒` reads `食物中毒`) with
//!    the character table of the `fast2s` crate, which maps one character to one
//!    character of the same UTF-8 length, so the offsets stay put.
//!
//! The folded text keeps, for every folded byte, the original byte range it came from, so
//! a hit can be shown where the reader sees it.

use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Folded text plus, for every folded byte, the original byte range it came from.
#[derive(Debug, Clone)]
pub struct Folded {
    pub text: String,
    /// `origin[i]` is the original byte range (start, end) of the character, character
    /// with combining marks, or whitespace run that produced folded byte `i`.
    origin: Vec<(usize, usize)>,
}

/// Zero-width characters used to split a word so a filter misses it.
pub fn is_zero_width(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// A folded character that only separates: whitespace, punctuation, symbols. Clause and
/// sentence punctuation is not one: `食物。中毒` is two sentences, not a dodged `食物中毒`.
fn is_separator(c: char) -> bool {
    !c.is_alphanumeric() && !is_cjk(c) && !is_combining_mark(c) && !ends_clause(c)
}

/// Chinese punctuation that ends a clause, a sentence or a list item, as a Chinese input
/// method types it. Judged on the character as written, before NFKC folds the full-width
/// `，！？；：` into ASCII, and kept as written: prose puts `，` between two clauses, where
/// joining them makes false hits across the boundary (`火爆，炸鸡` is not `爆炸`), while an
/// ASCII `,` between two CJK characters is not prose, so that one stays a dodge separator.
fn ends_clause(c: char) -> bool {
    matches!(c, '。' | '、' | '｡' | '､' | '，' | '！' | '？' | '；' | '：')
}

#[derive(Default)]
struct Builder {
    text: String,
    origin: Vec<(usize, usize)>,
    /// Separators after the last content character, held back until we know whether
    /// they sit between two CJK characters.
    pending: Vec<(char, usize, usize)>,
    last_is_cjk: bool,
}

impl Builder {
    fn emit(&mut self, c: char, start: usize, end: usize) {
        let before = self.text.len();
        self.text.push(c);
        self.origin.extend(std::iter::repeat_n((start, end), self.text.len() - before));
    }

    fn push(&mut self, c: char, start: usize, end: usize) {
        if c.is_whitespace() {
            match self.pending.last_mut() {
                Some((' ', _, last_end)) => *last_end = end,
                _ => self.pending.push((' ', start, end)),
            }
            return;
        }
        if is_separator(c) {
            self.pending.push((c, start, end));
            return;
        }
        let cjk = is_cjk(c);
        if !(cjk && self.last_is_cjk) {
            self.flush();
        }
        self.pending.clear();
        self.emit(c, start, end);
        self.last_is_cjk = cjk;
    }

    fn flush(&mut self) {
        for (c, start, end) in std::mem::take(&mut self.pending) {
            self.emit(c, start, end);
        }
    }

    fn finish(mut self) -> Folded {
        self.flush();
        // One character for one character of the same length: the origin map still holds.
        let simplified = fast2s::convert(&self.text);
        let text = if simplified.len() == self.text.len() { simplified } else { self.text };
        Folded { text, origin: self.origin }
    }
}

impl Folded {
    /// Folds mention text (see the module docs).
    pub fn new(original: &str) -> Self {
        let mut out = Builder {
            text: String::with_capacity(original.len()),
            origin: Vec::with_capacity(original.len()),
            ..Builder::default()
        };
        let mut chars = original.char_indices().peekable();
        let mut unit = String::new();
        while let Some((start, c)) = chars.next() {
            if is_zero_width(c) {
                continue;
            }
            let mut end = start + c.len_utf8();
            if c.is_whitespace() {
                while let Some(&(i, next)) = chars.peek() {
                    if !(next.is_whitespace() || is_zero_width(next)) {
                        break;
                    }
                    if !is_zero_width(next) {
                        end = i + next.len_utf8();
                    }
                    chars.next();
                }
                out.push(' ', start, end);
                continue;
            }
            if c.is_ascii() && !chars.peek().is_some_and(|&(_, n)| is_combining_mark(n)) {
                out.push(c.to_ascii_lowercase(), start, end);
                continue;
            }
            if ends_clause(c) {
                out.push(c, start, end);
                continue;
            }
            unit.clear();
            unit.push(c);
            while let Some(&(i, next)) = chars.peek() {
                if !is_combining_mark(next) {
                    break;
                }
                unit.push(next);
                end = i + next.len_utf8();
                chars.next();
            }
            for normal in unit.nfkc() {
                for folded in fold_char(normal) {
                    out.push(folded, start, end);
                }
            }
        }
        out.finish()
    }

    /// Maps a folded byte range back to the original text. A range that ends inside the
    /// expansion of one original character (`İ` folds to two characters) is widened to
    /// that whole character.
    pub fn to_original(&self, start: usize, end: usize) -> (usize, usize) {
        let from = self.origin.get(start).map_or(0, |o| o.0);
        let to = match end.checked_sub(1).and_then(|last| self.origin.get(last)) {
            Some(o) => o.1,
            None => from,
        };
        (from, to.max(from))
    }

    /// The character just before folded byte `at`, if any.
    pub fn char_before(&self, at: usize) -> Option<char> {
        self.text.get(..at).and_then(|s| s.chars().next_back())
    }

    /// The character starting at folded byte `at`, if any.
    pub fn char_at(&self, at: usize) -> Option<char> {
        self.text.get(at..).and_then(|s| s.chars().next())
    }
}

/// Folds a rule term the way [`Folded::new`] folds text, trimmed.
pub fn fold_term(term: &str) -> String {
    Folded::new(term).text.trim().to_string()
}

/// The Chinese word segmenter, built once per process: its dictionary takes about 140 ms
/// and 38 MB to load, so only a process that reads Chinese for `NEAR`/`SENTENCE` pays.
static SEGMENTER: LazyLock<jieba_rs::Jieba> = LazyLock::new(jieba_rs::Jieba::new);

/// Where the words and the sentences of a text are, for `NEAR/n` and `SENTENCE`, in byte
/// offsets of the original text.
///
/// Words are read on the folded text (see [`Folded`]), so a word split by zero-width
/// characters or dodge separators (`re\u{200B}call`, `食*物中毒`) is still one word:
/// - a run of letters and digits outside CJK is one word (`acme's` is two: `acme`, `s`);
/// - a run of CJK characters is cut into words by the jieba segmenter with its HMM for
///   unknown words (`艾克米回应产品质量问题已召回` is `艾克米 / 回应 / 产品质量 / 问题 / 已 / 召回`),
///   so `召回` is one word like `recall` and a rule reads a sentence and its translation
///   alike;
/// - punctuation, symbols and spaces are no word.
///
/// A sentence (or clause) ends after `。！？!?;；｡`, at a line break, and after a `.`
/// followed by a space and a capital letter, unless the word before the `.` is a single
/// letter (`E. Coli`, `U.S. Regulators`) or a title (`Mr.`, `Dr.`, `St.`): a full stop is
/// the one mark English also uses inside abbreviations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Positions {
    /// (start, end) of each word, in text order.
    words: Vec<(usize, usize)>,
    /// Where each sentence starts; the first starts at 0.
    sentences: Vec<usize>,
}

impl Positions {
    pub fn new(original: &str, folded: &Folded) -> Positions {
        Positions { words: words(folded), sentences: sentence_starts(original) }
    }

    /// The words, as (start, end) byte ranges of the original text.
    pub fn words(&self) -> &[(usize, usize)] {
        &self.words
    }

    /// Where each sentence starts, in bytes of the original text.
    pub fn sentence_starts(&self) -> &[usize] {
        &self.sentences
    }

    /// The index of the word holding byte `at` (or the last word before it).
    pub fn word_at(&self, at: usize) -> usize {
        self.words.partition_point(|&(start, _)| start <= at).saturating_sub(1)
    }

    /// The index of the sentence holding byte `at`.
    pub fn sentence_at(&self, at: usize) -> usize {
        self.sentences.partition_point(|&start| start <= at).saturating_sub(1)
    }
}

fn words(folded: &Folded) -> Vec<(usize, usize)> {
    let text = folded.text.as_str();
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let cjk = is_cjk(c);
        if !cjk && !is_word_char(c) {
            continue;
        }
        let mut end = start + c.len_utf8();
        while let Some(&(i, next)) = chars.peek() {
            let same = if cjk { is_cjk(next) } else { is_word_char(next) || is_combining_mark(next) };
            if !same {
                break;
            }
            end = i + next.len_utf8();
            chars.next();
        }
        if cjk {
            for word in SEGMENTER.cut(&text[start..end], true) {
                out.push(folded.to_original(start + word.byte_start, start + word.byte_end));
            }
        } else {
            out.push(folded.to_original(start, end));
        }
    }
    out
}

/// Words after which a `.` does not end a sentence.
const TITLES: &[&str] = &["mr", "mrs", "ms", "dr", "st", "prof", "sen", "rep", "gov", "gen", "no", "vs"];

fn sentence_starts(original: &str) -> Vec<usize> {
    let mut starts = vec![0];
    let mut word_start = None;
    let mut last_word = (0, 0);
    for (i, c) in original.char_indices() {
        let end = i + c.len_utf8();
        if is_word_char(c) {
            word_start.get_or_insert(i);
            continue;
        }
        if let Some(start) = word_start.take() {
            last_word = (start, i);
        }
        let ends = match c {
            '。' | '！' | '？' | '!' | '?' | ';' | '；' | '｡' | '\n' | '\r' => true,
            '.' => {
                let word = &original[last_word.0..last_word.1];
                let abbreviation = last_word.1 != i
                    || word.chars().count() == 1
                    || TITLES.iter().any(|t| word.eq_ignore_ascii_case(t));
                let mut rest = original[end..].chars();
                let spaced = rest.next().is_some_and(char::is_whitespace);
                let capital = rest.find(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '“' | '‘' | '('));
                !abbreviation && spaced && capital.is_some_and(|c| c.is_uppercase() || c.is_numeric() || is_cjk(c))
            }
            _ => false,
        };
        if ends && end < original.len() && starts.last() != Some(&end) {
            starts.push(end);
        }
    }
    starts
}

/// Per-character lower-casing, not `str::to_lowercase`: the latter lower-cases a final
/// sigma by context, which would make a term and the same word in a longer text differ.
fn fold_char(c: char) -> impl Iterator<Item = char> {
    c.to_lowercase()
}

/// Han, kana and Hangul: scripts written without spaces, where a term is a substring.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x2FDF      // radicals
        | 0x3040..=0x30FF    // hiragana, katakana
        | 0x3100..=0x312F    // bopomofo
        | 0x31F0..=0x31FF    // katakana extensions
        | 0x3400..=0x4DBF    // Han extension A
        | 0x4E00..=0x9FFF    // Han
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // Han compatibility
        | 0x20000..=0x3134F  // Han extensions B..G
    )
}

/// A character that continues a word: a Latin-style term must not have one of these
/// right before or after its hit. CJK characters don't count, so `acme` matches in
/// `使用acme产品`, where no space is written between the scripts.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// Display width in a terminal, for putting a caret under the right character.
pub fn display_width(c: char) -> usize {
    let wide = is_cjk(c) || matches!(c as u32, 0x3000..=0x303F | 0xFF01..=0xFF60 | 0xFFE0..=0xFFE6);
    if wide { 2 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_maps_back_across_case_cjk_and_whitespace() {
        let original = "Big  NEWS:\n艾克米 ACME";
        let folded = Folded::new(original);
        assert_eq!(folded.text, "big news: 艾克米 acme");
        let at = folded.text.find("艾克米").unwrap();
        let (s, e) = folded.to_original(at, at + "艾克米".len());
        assert_eq!(&original[s..e], "艾克米");
        let at = folded.text.find("acme").unwrap();
        let (s, e) = folded.to_original(at, at + 4);
        assert_eq!(&original[s..e], "ACME");
        let at = folded.text.find("big news").unwrap();
        let (s, e) = folded.to_original(at, at + "big news".len());
        assert_eq!(&original[s..e], "Big  NEWS");
    }

    #[test]
    fn expanding_lowercase_widens_to_the_whole_character() {
        // 'İ' lower-cases to "i" + U+0307: a hit on just the "i" must still map to the İ.
        let original = "xİy";
        let folded = Folded::new(original);
        let at = folded.text.find('i').unwrap();
        let (s, e) = folded.to_original(at, at + 1);
        assert_eq!(&original[s..e], "İ");
    }

    #[test]
    fn terms_fold_like_text() {
        assert_eq!(fold_term("  Food\tPoisoning "), "food poisoning");
        assert_eq!(fold_term("ΟΔΟΣ"), Folded::new("ΟΔΟΣ").text);
    }

    /// The original text under the first hit of `term` (folded the same way) in `text`.
    fn found<'a>(text: &'a str, term: &str) -> Option<&'a str> {
        let folded = Folded::new(text);
        let term = fold_term(term);
        let at = folded.text.find(&term)?;
        let (s, e) = folded.to_original(at, at + term.len());
        text.get(s..e)
    }

    #[test]
    fn nfkc_folds_full_width_and_compatibility_forms() {
        assert_eq!(Folded::new("ＡＣＭＥ　召回！").text, "acme 召回！");
        assert_eq!(Folded::new("ﬁle №1 ①").text, "file no1 1");
        assert_eq!(found("Big ＡＣＭＥ news", "acme"), Some("ＡＣＭＥ"));
        // A decomposed accent composes, and the hit covers base and mark.
        assert_eq!(Folded::new("cafe\u{301}").text, "café");
        assert_eq!(found("a cafe\u{301} b", "café"), Some("cafe\u{301}"));
        assert_eq!(fold_term("ＣＡＦÉ"), "café");
    }

    #[test]
    fn case_folds_per_character() {
        assert_eq!(Folded::new("ÀÉÎ ΣΟΦΟΣ ACME").text, "àéî σοφοσ acme");
        assert_eq!(found("News: ACME Recall", "acme recall"), Some("ACME Recall"));
    }

    #[test]
    fn traditional_chinese_folds_to_simplified() {
        assert_eq!(Folded::new("艾克米醜聞").text, "艾克米丑闻");
        assert_eq!(fold_term("食物中毒"), "食物中毒");
        assert_eq!(fold_term("數據洩露"), fold_term("数据泄露"));
        assert_eq!(found("網傳：艾克米醜聞曝光", "丑闻"), Some("醜聞"));
        assert_eq!(found("網傳：艾克米醜聞曝光", "艾克米"), Some("艾克米"));
    }

    #[test]
    fn zero_width_characters_are_dropped() {
        let text = "a\u{200B}c\u{200C}m\u{200D}e \u{2060}食\u{FEFF}物中毒";
        assert_eq!(Folded::new(text).text, "acme 食物中毒");
        assert_eq!(found(text, "acme"), Some("a\u{200B}c\u{200C}m\u{200D}e"));
        assert_eq!(found(text, "食物中毒"), Some("食\u{FEFF}物中毒"));
        assert_eq!(fold_term("\u{200B}acme\u{200B}"), "acme");
    }

    #[test]
    fn sentence_punctuation_between_cjk_characters_still_separates_words() {
        for text in ["食物。中毒", "食物、中毒", "食物，中毒", "食物！中毒", "食物？中毒", "食物；中毒", "食物：中毒"]
        {
            assert!(!Folded::new(text).text.contains("食物中毒"), "{text}");
        }
        assert!(!Folded::new("生意火爆，炸鸡店排长队").text.contains("爆炸"));
        for text in ["食*物 中·毒", "食,物,中,毒", "食/物|中~毒"] {
            assert!(Folded::new(text).text.contains("食物中毒"), "{text}");
        }
    }

    #[test]
    fn separators_between_cjk_characters_are_ignored() {
        for text in ["食*物 中·毒", "食/物/中/毒", "食 物 中 毒", "食.物-中_毒", "食　物★中♥毒"]
        {
            assert_eq!(Folded::new(text).text, "食物中毒", "{text}");
            assert_eq!(found(text, "食物中毒"), Some(text), "{text}");
        }
        let text = "孩子吃了艾克米酸奶后食*物 中·毒了";
        assert_eq!(found(text, "食物中毒"), Some("食*物 中·毒"));
        // Terms fold the same way.
        assert_eq!(fold_term("食 物"), "食物");
        // Only between two CJK characters: Latin words keep their spaces and punctuation.
        assert_eq!(Folded::new("acme 食物").text, "acme 食物");
        assert_eq!(Folded::new("食物 acme, 中毒").text, "食物 acme, 中毒");
        assert_eq!(Folded::new("e. coli").text, "e. coli");
        // Digits are not separators.
        assert_eq!(Folded::new("食1物").text, "食1物");
    }

    fn shown_words(text: &str) -> Vec<&str> {
        let positions = Positions::new(text, &Folded::new(text));
        positions.words().iter().map(|&(start, end)| &text[start..end]).collect()
    }

    #[test]
    fn words_are_latin_runs_and_segmented_chinese() {
        assert_eq!(shown_words("Acme 食物中毒, re\u{200B}call!"), vec!["Acme", "食物中毒", "re\u{200B}call"]);
        assert_eq!(
            shown_words("艾克米回应：产品质量问题已召回"),
            vec!["艾克米", "回应", "产品质量", "问题", "已", "召回"]
        );
        // Traditional text is segmented as its Simplified fold, and dodges are one word.
        assert_eq!(shown_words("艾克米門店發生火災"), vec!["艾克米", "門店", "發生", "火災"]);
        assert_eq!(shown_words("吃了食*物中毒"), vec!["吃", "了", "食*物中毒"]);
        assert_eq!(shown_words("Acme's café"), vec!["Acme", "s", "café"]);
    }

    fn shown_sentences(text: &str) -> Vec<&str> {
        let positions = Positions::new(text, &Folded::new(text));
        let starts = positions.sentence_starts();
        let ends = starts.iter().skip(1).copied().chain([text.len()]);
        starts.iter().zip(ends).map(|(&start, end)| text[start..end].trim()).collect()
    }

    #[test]
    fn sentences_end_at_stops_and_line_breaks_but_not_at_abbreviations() {
        assert_eq!(
            shown_sentences("艾克米召回奶粉。家长愤怒！为什么？"),
            vec!["艾克米召回奶粉。", "家长愤怒！", "为什么？"]
        );
        assert_eq!(
            shown_sentences("Globex recalls cribs; Acme is fine"),
            vec!["Globex recalls cribs;", "Acme is fine"]
        );
        assert_eq!(shown_sentences("line one\nline two"), vec!["line one", "line two"]);
        assert_eq!(
            shown_sentences("Acme launched a cake. Globex had a recall."),
            vec!["Acme launched a cake.", "Globex had a recall."]
        );
        assert_eq!(shown_sentences("E. Coli found at Acme"), vec!["E. Coli found at Acme"]);
        assert_eq!(shown_sentences("U.S. Regulators fine Acme"), vec!["U.S. Regulators fine Acme"]);
        assert_eq!(shown_sentences("Mr. Smith sued Acme Inc. over it"), vec!["Mr. Smith sued Acme Inc. over it"]);
        // A comma is no sentence end, in either language.
        assert_eq!(shown_sentences("艾克米回应，已召回"), vec!["艾克米回应，已召回"]);
    }

    #[test]
    fn word_chars_exclude_cjk() {
        assert!(is_word_char('a'));
        assert!(is_word_char('é'));
        assert!(is_word_char('7'));
        assert!(!is_word_char('艾'));
        assert!(!is_word_char('-'));
    }
}
