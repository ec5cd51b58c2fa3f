//! The two data files of vaderSentiment 3.3.2 (MIT, see `LICENSE-vader.txt`), compiled into the
//! binary and parsed once on first use.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use super::words::{DEGREE, Degree, NEGATIONS, TAGS, Tag};

/// Word → mean valence (-4..=4) rated by ten people: `word<TAB>mean<TAB>sd<TAB>ratings`.
const WORDS: &str = include_str!("../vader_lexicon.txt");
/// Emoji → English description: `emoji<TAB>description`.
const EMOJI: &str = include_str!("../emoji_utf8_lexicon.txt");

/// What VADER knows about a word, from one lookup: the lexicon (emoticons, slang and
/// initialisms included, keyed as written in the file), the degree adverbs and the negations.
pub(super) static KNOWN: LazyLock<Known> = LazyLock::new(|| {
    // Sized up front: growing by doubling rehashes and leaves the outgrown tables in the heap.
    let mut known = Known {
        short: HashMap::with_capacity_and_hasher(WORDS.lines().count() + DEGREE.len(), FastHash::default()),
        long: HashMap::default(),
    };
    for (word, valence) in parse_valences(WORDS) {
        known.update(word, |entry| *entry = Entry { valence: Some(valence), ..Entry::default() });
    }
    for &(word, degree) in DEGREE {
        known.update(word, |entry| entry.degree = Some(degree));
    }
    for &word in NEGATIONS {
        known.update(word, |entry| entry.negation = true);
    }
    for &(word, tag) in TAGS {
        known.update(word, |entry| entry.tag = tag);
    }
    known
});

/// The lexicon keyed for speed: nearly every word fits in 15 bytes, and packed with its length
/// into one integer it hashes in two steps and compares in one, with no call to `memcmp`.
pub(super) struct Known {
    /// Words of up to 15 bytes, by [`short_key`].
    short: HashMap<u128, Packed, FastHash>,
    /// Longer words ("can't stand", multi-word emoticons, long slang).
    long: HashMap<&'static str, Entry, FastHash>,
}

impl Known {
    /// What VADER knows about the lower-case `word`, if anything.
    pub(super) fn get(&self, word: &str) -> Option<Entry> {
        match short_key(word) {
            Some(key) => self.short.get(&key).map(|&packed| Entry::from(packed)),
            None => self.long.get(word).copied(),
        }
    }

    /// Changes the entry for `word`, which starts empty if there is none.
    fn update(&mut self, word: &'static str, change: impl FnOnce(&mut Entry)) {
        match short_key(word) {
            Some(key) => {
                let packed = self.short.entry(key).or_insert_with(|| Packed::from(Entry::default()));
                let mut entry = Entry::from(*packed);
                change(&mut entry);
                *packed = Packed::from(entry);
            }
            None => change(self.long.entry(word).or_default()),
        }
    }

    /// Every entry, in no particular order.
    #[cfg(test)]
    fn values(&self) -> impl Iterator<Item = Entry> {
        self.short.values().map(|&packed| Entry::from(packed)).chain(self.long.values().copied())
    }
}

/// An [`Entry`] in 16 bytes rather than 24, so that more of the lexicon stays in cache.
#[derive(Clone, Copy)]
struct Packed {
    /// The valence, or 0 if there is none.
    valence: f64,
    /// [`Packed::VALENCE`], [`Packed::BOOST`], [`Packed::DAMP`] and [`Packed::NEGATION`].
    flags: u8,
    /// The word's name for the rules.
    tag: Tag,
}

impl Packed {
    const VALENCE: u8 = 1;
    const BOOST: u8 = 2;
    const DAMP: u8 = 4;
    const NEGATION: u8 = 8;
}

impl From<Entry> for Packed {
    fn from(entry: Entry) -> Self {
        let flag = |set: bool, flag: u8| if set { flag } else { 0 };
        let flags = flag(entry.valence.is_some(), Packed::VALENCE)
            | flag(entry.degree == Some(Degree::Boost), Packed::BOOST)
            | flag(entry.degree == Some(Degree::Damp), Packed::DAMP)
            | flag(entry.negation, Packed::NEGATION);
        Packed { valence: entry.valence.unwrap_or(0.0), flags, tag: entry.tag }
    }
}

impl From<Packed> for Entry {
    fn from(packed: Packed) -> Self {
        let has = |flag: u8| packed.flags & flag != 0;
        let degree = if has(Packed::BOOST) {
            Some(Degree::Boost)
        } else if has(Packed::DAMP) {
            Some(Degree::Damp)
        } else {
            None
        };
        Entry {
            valence: has(Packed::VALENCE).then_some(packed.valence),
            degree,
            negation: has(Packed::NEGATION),
            tag: packed.tag,
        }
    }
}

/// `word`'s bytes in the low 15 bytes of an integer and its length in the top byte, which keeps
/// words that differ only by trailing NUL bytes apart; `None` for words longer than 15 bytes.
fn short_key(word: &str) -> Option<u128> {
    let bytes = word.as_bytes();
    if bytes.len() > 15 {
        return None;
    }
    let packed = bytes.iter().rev().fold(0u128, |key, &b| key << 8 | u128::from(b));
    Some(packed | (bytes.len() as u128) << 120)
}

/// What VADER knows about one lower-case word.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Entry {
    /// Valence from the lexicon, if the word is a lexicon entry.
    pub valence: Option<f64>,
    /// Set if the word is a degree adverb ("very", "slightly").
    pub degree: Option<Degree>,
    /// Whether the word is a listed negation ("not", "never", ...).
    pub negation: bool,
    /// Which of the words the rules test by name this is, if any.
    pub tag: Tag,
}

/// Description of each emoji that is a single code point. The reference looks emoji up one
/// code point at a time, so entries made of several code points (flags, skin tones, keycaps,
/// ZWJ sequences) can never match and are not loaded.
pub(super) static EMOJI_WORDS: LazyLock<HashMap<char, &'static str, FastHash>> = LazyLock::new(|| {
    let mut emoji = parse_emoji(EMOJI);
    // Most lines are multi-code-point entries that are dropped, so the map overshoots.
    emoji.shrink_to_fit();
    emoji
});

/// Fields of a data line: the reference trims the line (the files have CRLF ends) and splits
/// on tabs. Lines without a second field are skipped (the shipped files have none).
fn fields(line: &str) -> Option<(&str, &str)> {
    let mut parts = line.trim().split('\t');
    Some((parts.next()?, parts.next()?))
}

/// Entries in file order; collected into a map, later duplicates win, as they do when the
/// reference fills its dict.
fn parse_valences(data: &'static str) -> impl Iterator<Item = (&'static str, f64)> {
    data.lines().filter_map(fields).filter_map(|(word, mean)| Some((word, mean.trim().parse::<f64>().ok()?)))
}

fn parse_emoji(data: &'static str) -> HashMap<char, &'static str, FastHash> {
    data.lines()
        .filter_map(fields)
        .filter_map(|(emoji, description)| {
            let mut chars = emoji.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some((c, description)),
                _ => None,
            }
        })
        .collect()
}

/// Hasher for the lexicon maps: a multiply-rotate hash over 8-byte words (the FxHash scheme).
/// The maps are fixed at build time, so hostile input cannot grow their collision chains, and
/// the lookup per word is the hot path of scoring.
pub(super) type FastHash = BuildHasherDefault<MulRotHasher>;

/// State of [`FastHash`].
#[derive(Default)]
pub(super) struct MulRotHasher(u64);

impl MulRotHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for MulRotHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // Shifting the bytes in avoids a variable-length copy on every short word.
            self.add(rest.iter().rev().fold(0, |word, &b| word << 8 | u64::from(b)));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u128(&mut self, n: u128) {
        // Truncation intended: the low and the high half are mixed in one after the other.
        self.add(n as u64);
        self.add((n >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_lexicon_loads_every_distinct_entry() {
        // 7,520 lines in the file, a few words listed twice: the reference's dict holds 7,506.
        let valences: HashMap<_, _> = parse_valences(WORDS).collect();
        assert_eq!(valences.len(), 7506);
        let valence = |w: &str| KNOWN.get(w).and_then(|e| e.valence);
        assert_eq!(valence("good"), Some(1.9));
        assert_eq!(valence(":)"), Some(2.0));
        assert_eq!(valence("can't stand"), Some(-2.0));
        assert_eq!(KNOWN.values().filter(|e| e.valence.is_some()).count(), 7506);
        // Packed keys carry the length, so trailing NUL bytes do not reach an entry.
        assert_eq!(valence("good\0"), None);
        assert_eq!(valence("fifteen-bytes!!"), None);
    }

    #[test]
    fn single_code_point_emoji_load_with_their_description() {
        assert_eq!(EMOJI_WORDS.len(), 1212);
        assert_eq!(EMOJI_WORDS.get(&'😀'), Some(&"grinning face"));
        // Text that is all ASCII skips the emoji pass, which is only right if no key is ASCII.
        assert!(EMOJI_WORDS.keys().all(|c| !c.is_ascii()));
    }

    #[test]
    fn words_that_the_rules_treat_as_function_words_are_not_lexicon_entries() {
        // The "least" and "but" rules and the tokens' negation checks rely on this.
        for word in ["least", "but", "never", "without", "so", "this", "at", "very", "of", "or", "nor"] {
            assert!(KNOWN.get(word).is_none_or(|e| e.valence.is_none()), "{word}");
        }
    }

    #[test]
    fn degree_adverbs_and_negations_share_the_lookup() {
        assert_eq!(KNOWN.get("very").and_then(|e| e.degree), Some(Degree::Boost));
        assert_eq!(KNOWN.get("slightly").and_then(|e| e.degree), Some(Degree::Damp));
        assert!(KNOWN.get("never").is_some_and(|e| e.negation));
        // Some words are both: "no" is not a listed negation but a lexicon word with its own rule.
        assert!(KNOWN.get("no").is_some_and(|e| !e.negation && e.valence.is_some()));
    }
}
