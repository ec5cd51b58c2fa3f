//! Text folding shared by rule terms and mention text.
//!
//! Terms and text must fold the same way or a term can never match, so both go through
//! [`fold_char`]. The folded text keeps a map back to the original so a hit can be shown
//! where the reader sees it. Later folds (NFKC, Traditional → Simplified, dropping
//! separators put between CJK characters) belong here, behind the same map.

/// Folded text plus, for every folded byte, the original byte range it came from.
#[derive(Debug, Clone)]
pub struct Folded {
    pub text: String,
    /// `origin[i]` is the original byte range (start, end) of the character or whitespace
    /// run that produced folded byte `i`.
    origin: Vec<(usize, usize)>,
}

impl Folded {
    /// Folds mention text: lower-cased, and every whitespace run read as one space so a
    /// phrase still matches across a line break or a double space.
    pub fn new(original: &str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut origin = Vec::with_capacity(original.len());
        let mut chars = original.char_indices().peekable();
        while let Some((start, c)) = chars.next() {
            if c.is_whitespace() {
                let mut end = start + c.len_utf8();
                while let Some(&(i, next)) = chars.peek() {
                    if !next.is_whitespace() {
                        break;
                    }
                    end = i + next.len_utf8();
                    chars.next();
                }
                text.push(' ');
                origin.push((start, end));
                continue;
            }
            let end = start + c.len_utf8();
            for folded in fold_char(c) {
                let before = text.len();
                text.push(folded);
                origin.extend(std::iter::repeat_n((start, end), text.len() - before));
            }
        }
        Folded { text, origin }
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
    Folded::new(term.trim()).text
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

    #[test]
    fn word_chars_exclude_cjk() {
        assert!(is_word_char('a'));
        assert!(is_word_char('é'));
        assert!(is_word_char('7'));
        assert!(!is_word_char('艾'));
        assert!(!is_word_char('-'));
    }
}
