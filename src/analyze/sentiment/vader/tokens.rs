//! Text to words the way the reference reads it: emoji spelled out, split on whitespace,
//! ASCII punctuation trimmed, with Python's ideas of whitespace, upper case and lower case.

use std::borrow::Cow;

use super::lexicon::{EMOJI_WORDS, KNOWN};
use super::words::{Degree, Tag};

/// One whitespace-separated word of the text, in 16 bytes so that a text's words copy cheaply.
#[derive(Debug)]
pub(super) struct Token {
    /// Lexicon valence of the word, or 0 if it is not an entry.
    value: f64,
    /// Whether the word is a lexicon entry.
    rated: bool,
    /// Which of the words the rules test by name this is, if any.
    pub tag: Tag,
    /// Set if the word is a degree adverb.
    pub degree: Option<Degree>,
    /// Whether the word negates what follows: a listed negation or a word with "n't".
    pub negates: bool,
    /// Whether the word is in capitals (Python's `str.isupper`: some upper-case letter, no
    /// lower-case or title-case one), which emphasises it when the text mixes case.
    pub shouted: bool,
}

impl Token {
    /// Lexicon valence of the word, if it is an entry.
    pub(super) fn valence(&self) -> Option<f64> {
        self.rated.then_some(self.value)
    }
}

/// Replaces every single-code-point emoji by its description. The description is set off
/// by a space from the text before it unless that was a space already, but not from the
/// text after it ("😀x" reads "grinning facex"), as in the reference.
pub(super) fn spell_out_emoji(text: &str) -> Cow<'_, str> {
    if text.is_ascii() || !text.chars().any(|c| !c.is_ascii() && EMOJI_WORDS.contains_key(&c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 32);
    let mut after_space = true;
    for c in text.chars() {
        if let Some(description) = EMOJI_WORDS.get(&c) {
            if !after_space {
                out.push(' ');
            }
            out.push_str(description);
            after_space = false;
        } else {
            out.push(c);
            after_space = c == ' ';
        }
    }
    Cow::Owned(out)
}

/// The words of the text, in order. `lowered` is `text` with its ASCII letters lower-cased
/// (see [`lower_ascii`]), so ASCII words need no copy of their own for the lookup.
pub(super) fn tokens(text: &str, lowered: &str) -> Vec<Token> {
    // Room for a typical post up front; longer texts grow the vector as usual.
    let mut tokens = Vec::with_capacity(32);
    let ascii = text.is_ascii();
    for_each_word(text, ascii, |start, end| {
        if let Some(token) = token(text, lowered, start, end, ascii) {
            tokens.push(token);
        }
    });
    tokens
}

/// Calls `word` with the byte range of each whitespace-separated word of `text`, in order,
/// punctuation trimmed (see [`trim_punctuation`]).
fn for_each_word(text: &str, ascii: bool, mut word: impl FnMut(usize, usize)) {
    let mut push = |start: usize, end: usize| {
        if let Some(range) = text.get(start..end) {
            let (start, end) = trim_punctuation(range.as_bytes(), start, end, ascii);
            word(start, end);
        }
    };
    let mut start = None;
    // Splitting on bytes is only right when every character is one byte.
    if ascii {
        for (i, &b) in text.as_bytes().iter().enumerate() {
            match (is_ascii_space(b), start) {
                (true, Some(s)) => {
                    push(s, i);
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
    } else {
        for (i, c) in text.char_indices() {
            match (is_python_space(c), start) {
                (true, Some(s)) => {
                    push(s, i);
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
    }
    if let Some(s) = start {
        push(s, text.len());
    }
}

/// `text` with its ASCII letters lower-cased and every byte where it was, so a word's byte
/// range in `text` is also its range here; borrowed when there is nothing to lower-case.
pub(super) fn lower_ascii(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// The token for the word at `start..end` of `text` (`lowered` is its ASCII lower-casing),
/// or nothing if the range is not a word of `text`.
fn token(text: &str, lowered: &str, start: usize, end: usize, ascii: bool) -> Option<Token> {
    let word = text.get(start..end)?;
    let (lower, shouted) = if ascii || word.is_ascii() {
        (Cow::Borrowed(lowered.get(start..end)?), is_shouted_ascii(word.as_bytes()))
    } else {
        (Cow::Owned(word.to_lowercase()), is_shouted(word))
    };
    let known = KNOWN.get(lower.as_ref()).unwrap_or_default();
    // A byte window beats `contains`, whose substring searcher costs more to set up than
    // scanning a word.
    let negates = known.negation || lower.as_bytes().windows(3).any(|w| w == b"n't");
    Some(Token {
        value: known.valence.unwrap_or(0.0),
        rated: known.valence.is_some(),
        tag: known.tag,
        degree: known.degree,
        negates,
        shouted,
    })
}

/// Python's `str.isspace` on one ASCII byte.
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t'..=b'\r' | 0x1c..=0x1f)
}

/// Python's `str.isspace`: Unicode White_Space plus the four ASCII information separators.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Trims ASCII punctuation from both ends of `word`, the bytes at `start..end` of the text,
/// and returns the new range, unless that leaves two characters or fewer: then the token was
/// most likely an emoticon (":)", ":-(") and stays as written.
fn trim_punctuation(word: &[u8], start: usize, end: usize, ascii: bool) -> (usize, usize) {
    // Punctuation is ASCII, so the cuts fall on character boundaries.
    let Some(first) = word.iter().position(|b| !b.is_ascii_punctuation()) else {
        return (start, end);
    };
    let last = word.iter().rposition(|b| !b.is_ascii_punctuation()).unwrap_or(first);
    let kept = &word[first..=last];
    // Fewer than three bytes are fewer than three characters; in ASCII each byte is one.
    let long = kept.len() > 2 && (ascii || std::str::from_utf8(kept).is_ok_and(|s| s.chars().nth(2).is_some()));
    if long { (start + first, start + last + 1) } else { (start, end) }
}

/// Python's `str.isupper` on an ASCII word: some upper-case letter and no lower-case one.
fn is_shouted_ascii(word: &[u8]) -> bool {
    !word.iter().any(u8::is_ascii_lowercase) && word.iter().any(u8::is_ascii_uppercase)
}

/// Python's `str.isupper`: some upper-case letter and no lower-case or title-case one.
fn is_shouted(word: &str) -> bool {
    let mut upper = false;
    for c in word.chars() {
        if c.is_lowercase() || is_title_case(c) {
            return false;
        }
        upper |= c.is_uppercase();
    }
    upper
}

/// General category Lt: digraphs and Greek letters with a capital first part ("ǅ", "ᾈ"),
/// which Python counts as cased but neither upper nor lower.
fn is_title_case(c: char) -> bool {
    matches!(c, '\u{1c5}' | '\u{1c8}' | '\u{1cb}' | '\u{1f2}' | '\u{1f88}'..='\u{1f8f}' | '\u{1f98}'..='\u{1f9f}' | '\u{1fa8}'..='\u{1faf}' | '\u{1fbc}' | '\u{1fcc}' | '\u{1ffc}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let mut words = Vec::new();
        for_each_word(text, text.is_ascii(), |start, end| words.push(text[start..end].to_lowercase()));
        words
    }

    #[test]
    fn punctuation_is_trimmed_from_words_but_emoticons_survive() {
        assert_eq!(words("Great, (really) :) :-( ok!!"), ["great", "really", ":)", ":-(", "ok!!"]);
        assert_eq!(words("'tis...  \"quoted\"\u{1f}x"), ["tis", "quoted", "x"]);
    }

    #[test]
    fn emoji_become_their_description_glued_to_what_follows() {
        assert_eq!(spell_out_emoji("a😀b"), "a grinning faceb");
        assert_eq!(spell_out_emoji("😀😀"), "grinning face grinning face");
        assert_eq!(spell_out_emoji("plain ascii"), "plain ascii");
        assert!(matches!(spell_out_emoji("café"), Cow::Borrowed(_)));
    }

    #[test]
    fn tokens_are_small_and_carry_the_rules_names() {
        assert_eq!(std::mem::size_of::<Token>(), 16);
        let tags: Vec<Tag> = tokens("But KIND of", &lower_ascii("But KIND of")).iter().map(|t| t.tag).collect();
        assert_eq!(tags, [Tag::But, Tag::Kind, Tag::Of]);
    }

    #[test]
    fn capitals_follow_python_isupper() {
        assert!(is_shouted("GOOD"));
        assert!(is_shouted("A1!"));
        assert!(is_shouted("ÉTÉ"));
        assert!(!is_shouted("Good"));
        assert!(!is_shouted("123"));
        assert!(!is_shouted("ǅA"));
        assert!(!is_shouted(":)"));
    }
}
