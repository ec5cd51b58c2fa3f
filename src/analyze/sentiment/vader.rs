//! English sentiment: the VADER algorithm (Hutto & Gilbert, ICWSM 2014), scoring exactly as
//! the reference vaderSentiment 3.3.2 does, quirks included.
//!
//! Each word of the text gets a valence: its lexicon rating, shifted by the degree adverbs up
//! to three words before it ("very", "kind of"), flipped by negations ("not", "never", "no"),
//! raised when it alone is in capitals, with fixed phrases ("the shit", "bus stop") and "but"
//! (what follows it weighs more than what precedes it) on top. The sum, raised by "!" and
//! "??", is squashed into [-1, 1] as the compound score; pos, neu and neg are the shares of
//! positive, neutral and negative words.

mod lexicon;
mod tokens;
mod words;

use tokens::Token;
use words::Tag;

/// VADER's four outputs for one text.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Polarity {
    /// Overall sentiment in [-1, 1], rounded to 4 decimals; ±0.05 is the usual neutral band.
    pub compound: f64,
    /// Share of the text that is positive, rounded to 3 decimals.
    pub pos: f64,
    /// Share of the text that is neutral, rounded to 3 decimals.
    pub neu: f64,
    /// Share of the text that is negative, rounded to 3 decimals.
    pub neg: f64,
}

/// Factor for a negated word ("not good" is about three quarters as bad as "good" is good).
const NEGATION: f64 = -0.74;
/// Added to the magnitude of a word in capitals in a text that is not all capitals.
const CAPS: f64 = 0.733;
/// Added per exclamation mark, for up to four of them.
const EXCLAMATION: f64 = 0.292;
/// Added per question mark when there are two or three of them.
const QUESTION: f64 = 0.18;
/// Added for four question marks or more.
const QUESTIONS_MAX: f64 = 0.96;
/// The sum of valences `s` maps to `s / sqrt(s² + ALPHA)`.
const ALPHA: f64 = 15.0;

/// Scores English text. Any input is accepted; text without words scores all zeros.
pub fn polarity(text: &str) -> Polarity {
    let text = tokens::spell_out_emoji(text);
    let lowered = tokens::lower_ascii(&text);
    let words = tokens::tokens(&text, &lowered);
    // Capitals only stand out when some words are in capitals and some are not.
    let shouted = words.iter().filter(|w| w.shouted).count();
    let mixed_case = shouted > 0 && shouted < words.len();

    // Most texts are short enough for the stack; the heap takes the rest.
    let mut stack = [0.0; 64];
    let mut heap = Vec::new();
    let valences = if words.len() <= stack.len() {
        &mut stack[..words.len()]
    } else {
        heap.resize(words.len(), 0.0);
        &mut heap[..]
    };
    for (i, v) in valences.iter_mut().enumerate() {
        *v = valence(&words, i, mixed_case);
    }
    if let Some(but) = words.iter().position(|w| w.tag == Tag::But) {
        contrast(valences, but);
    }
    score(valences, emphasis(&text))
}

/// Valence of word `i` in its context.
fn valence(words: &[Token], i: usize, mixed_case: bool) -> f64 {
    let word = &words[i];
    // A degree adverb only acts on the word it modifies.
    if word.degree.is_some() {
        return 0.0;
    }
    let next = words.get(i + 1);
    if word.tag == Tag::Kind && next.is_some_and(|n| n.tag == Tag::Of) {
        return 0.0;
    }
    let Some(rated) = word.valence() else {
        return 0.0;
    };
    // `back(k)` is the word k places before word i.
    let back = |k: usize| words[i - k].tag;

    // "no" before a lexicon word negates that word instead of counting as negative itself.
    let mut v = if word.tag == Tag::No && next.is_some_and(|n| n.valence().is_some()) { 0.0 } else { rated };
    if (i >= 1 && back(1) == Tag::No)
        || (i >= 2 && back(2) == Tag::No)
        || (i >= 3 && back(3) == Tag::No && matches!(back(1), Tag::Or | Tag::Nor))
    {
        v = rated * NEGATION;
    }
    if word.shouted && mixed_case {
        v = if v > 0.0 { v + CAPS } else { v - CAPS };
    }

    // Up to three words back: degree adverbs (weaker with distance), negations, phrases.
    // A word that is itself a lexicon entry neither modifies nor negates.
    for distance in 1..=3 {
        if i < distance || words[i - distance].valence().is_some() {
            continue;
        }
        let scalar = degree(&words[i - distance], v, mixed_case);
        v += match distance {
            2 if scalar != 0.0 => scalar * 0.95,
            3 if scalar != 0.0 => scalar * 0.9,
            _ => scalar,
        };
        v = negation(v, words, i, distance);
        if distance == 3 {
            v = phrases(v, words, i);
        }
    }

    // "least good" is negated, "at least good" and "the very least good" are not.
    if i >= 1 && back(1) == Tag::Least && (i == 1 || !matches!(back(2), Tag::At | Tag::Very)) {
        v *= NEGATION;
    }
    v
}

/// What a degree adverb adds to a word of valence `v`: it pushes away from zero (boosters) or
/// towards it (dampeners), more so when it alone is in capitals.
fn degree(adverb: &Token, v: f64, mixed_case: bool) -> f64 {
    let Some(base) = adverb.degree.map(words::Degree::scalar) else {
        return 0.0;
    };
    let scalar = if v < 0.0 { -base } else { base };
    if adverb.shouted && mixed_case { if v > 0.0 { scalar + CAPS } else { scalar - CAPS } } else { scalar }
}

/// Applies the negation found `distance` words back, with the reference's exceptions:
/// "never so/this good" is emphatic rather than negated, and "without doubt" does not negate.
/// At distance 3 a "so" or "this" right before the word also emphasises it.
fn negation(v: f64, words: &[Token], i: usize, distance: usize) -> f64 {
    let back = |k: usize| words[i - k].tag;
    let negates = |k: usize| words[i - k].negates;
    let so_or_this = |w: Tag| matches!(w, Tag::So | Tag::This);
    match distance {
        1 if negates(1) => v * NEGATION,
        2 if back(2) == Tag::Never && so_or_this(back(1)) => v * 1.25,
        2 if back(2) == Tag::Without && back(1) == Tag::Doubt => v,
        2 if negates(2) => v * NEGATION,
        3 if (back(3) == Tag::Never && so_or_this(back(2))) || so_or_this(back(1)) => v * 1.25,
        3 if back(3) == Tag::Without && (back(2) == Tag::Doubt || back(1) == Tag::Doubt) => v,
        3 if negates(3) => v * NEGATION,
        _ => v,
    }
}

/// Fixed phrases around word `i` (which has three words before it): a phrase ending at or
/// just before the word sets its valence (the first match in the reference's order wins),
/// then a phrase starting at the word overrides that, then "kind of" and the like before it
/// dampen.
fn phrases(mut v: f64, words: &[Token], i: usize) -> f64 {
    let w = |j: usize| words[j].tag;
    let (w3, w2, w1, w0) = (w(i - 3), w(i - 2), w(i - 1), w(i));
    let before: [&[Tag]; 5] = [&[w1, w0], &[w2, w1, w0], &[w2, w1], &[w3, w2, w1], &[w3, w2]];
    if let Some(fixed) = before.iter().find_map(|phrase| words::special_phrase(phrase)) {
        v = fixed;
    }
    if i + 1 < words.len()
        && let Some(fixed) = words::special_phrase(&[w0, w(i + 1)])
    {
        v = fixed;
    }
    if i + 2 < words.len()
        && let Some(fixed) = words::special_phrase(&[w0, w(i + 1), w(i + 2)])
    {
        v = fixed;
    }
    for (first, second) in [(w3, w2), (w2, w1)] {
        if let Some(degree) = words::degree_pair(first, second) {
            v += degree.scalar();
        }
    }
    v
}

/// The "but" rule: valences before the first "but" are halved, those after it grow by half.
///
/// The reference locates each valence by value rather than by position (it rewrites the
/// first element equal to the one it is visiting), so when a value repeats, an earlier word
/// can be scaled twice and a later one not at all. This replays that walk; tracking where
/// each value first occurs keeps it linear-logarithmic on long texts.
fn contrast(valences: &mut [f64], but: usize) {
    use std::collections::{BTreeSet, HashMap};

    // Positions already visited, by value. Zero never changes, so it is not tracked.
    let mut seen: HashMap<u64, BTreeSet<usize>> = HashMap::new();
    for k in 0..valences.len() {
        let value = valences[k];
        if value == 0.0 {
            continue;
        }
        let first = seen.get_mut(&value.to_bits()).and_then(|at| at.pop_first()).unwrap_or(k);
        let scaled = match first.cmp(&but) {
            std::cmp::Ordering::Less => value * 0.5,
            std::cmp::Ordering::Greater => value * 1.5,
            std::cmp::Ordering::Equal => value,
        };
        valences[first] = scaled;
        seen.entry(scaled.to_bits()).or_default().insert(first);
        if first != k {
            seen.entry(value.to_bits()).or_default().insert(k);
        }
    }
}

/// Emphasis from punctuation: each "!" up to four, and "?" when there are two or more.
fn emphasis(text: &str) -> f64 {
    // Byte-wide counts per chunk of at most 255 bytes, which cannot overflow, vectorise four
    // times wider than word-wide counts over the whole text.
    let (exclamations, questions) = text.as_bytes().chunks(255).fold((0usize, 0usize), |(e, q), chunk| {
        let (ce, cq) = chunk.iter().fold((0u8, 0u8), |(e, q), &b| (e + u8::from(b == b'!'), q + u8::from(b == b'?')));
        (e + usize::from(ce), q + usize::from(cq))
    });
    let exclamation = exclamations.min(4) as f64 * EXCLAMATION;
    let question = match questions {
        0 | 1 => 0.0,
        n @ 2..=3 => n as f64 * QUESTION,
        _ => QUESTIONS_MAX,
    };
    exclamation + question
}

/// Compound score and shares from the word valences and the punctuation emphasis, which
/// strengthens whichever side dominates.
fn score(valences: &[f64], emphasis: f64) -> Polarity {
    if valences.is_empty() {
        return Polarity::default();
    }
    let sum: f64 = valences.iter().fold(0.0, |acc, v| acc + v);
    let sum = if sum > 0.0 {
        sum + emphasis
    } else if sum < 0.0 {
        sum - emphasis
    } else {
        sum
    };
    let compound = (sum / (sum * sum + ALPHA).sqrt()).clamp(-1.0, 1.0);

    // Each sentiment-bearing word also counts once as a word, as neutral ones do.
    let (mut pos, mut neg, mut neu) = (0.0, 0.0, 0.0);
    for &v in valences {
        if v > 0.0 {
            pos += v + 1.0;
        } else if v < 0.0 {
            neg += v - 1.0;
        } else {
            neu += 1.0;
        }
    }
    if pos > neg.abs() {
        pos += emphasis;
    } else if pos < neg.abs() {
        neg -= emphasis;
    }
    let total = pos + neg.abs() + neu;
    Polarity {
        compound: round(compound, 4),
        pos: round((pos / total).abs(), 3),
        neu: round((neu / total).abs(), 3),
        neg: round((neg / total).abs(), 3),
    }
}

/// Rounds to `digits` decimals as Python's `round` does: to the nearest decimal of the exact
/// binary value, ties to even, then back to the nearest `f64`.
fn round(x: f64, digits: u8) -> f64 {
    let scale = (0..digits).fold(1.0, |scale, _| scale * 10.0);
    let scaled = x * scale;
    // The product carries a rounding error of half an ulp; only near a tie can that change
    // the result, and there the exact decimal expansion decides.
    if ((scaled - scaled.trunc()).abs() - 0.5).abs() > 1e-6 {
        return scaled.round() / scale;
    }
    format!("{x:.prec$}", prec = usize::from(digits)).parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_python_on_ties_and_near_ties() {
        assert_eq!(round(0.0625, 3), 0.062);
        assert_eq!(round(0.1875, 3), 0.188);
        assert_eq!(round(2.675, 2), 2.67);
        assert_eq!(round(0.12345, 4), 0.1235);
        assert_eq!(round(-0.95715, 4), -0.9571);
        assert_eq!(round(0.5, 3), 0.5);
    }

    #[test]
    fn the_but_rule_scales_by_value_like_the_reference() {
        // Python ends with [0.5, 0.5, 0.5, 0, 1.0]: the first 1 rewrites the halved 2, the
        // second 1 the first 1, and the 1 after "but" the second 1 before it.
        let mut v = [2.0, 1.0, 1.0, 0.0, 1.0];
        contrast(&mut v, 3);
        assert_eq!(v, [0.5, 0.5, 0.5, 0.0, 1.0]);
    }
}
