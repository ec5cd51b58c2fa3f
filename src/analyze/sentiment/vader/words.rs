//! The closed word lists of VADER: degree adverbs, negations and fixed phrases, all in
//! lower case.

use Degree::{Boost, Damp};

/// A degree adverb: a booster ("very good" rates higher than "good") or a dampener ("slightly
/// good" rates lower).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Degree {
    Boost,
    Damp,
}

impl Degree {
    /// Intensity the adverb adds to a positive word (the reference's empirical 0.293).
    pub(super) fn scalar(self) -> f64 {
        match self {
            Boost => 0.293,
            Damp => -0.293,
        }
    }
}

/// One-word degree adverbs.
pub(super) const DEGREE: &[(&str, Degree)] = &[
    ("absolutely", Boost),
    ("amazingly", Boost),
    ("awfully", Boost),
    ("completely", Boost),
    ("considerable", Boost),
    ("considerably", Boost),
    ("decidedly", Boost),
    ("deeply", Boost),
    ("effing", Boost),
    ("enormous", Boost),
    ("enormously", Boost),
    ("entirely", Boost),
    ("especially", Boost),
    ("exceptional", Boost),
    ("exceptionally", Boost),
    ("extreme", Boost),
    ("extremely", Boost),
    ("fabulously", Boost),
    ("flipping", Boost),
    ("flippin", Boost),
    ("frackin", Boost),
    ("fracking", Boost),
    ("fricking", Boost),
    ("frickin", Boost),
    ("frigging", Boost),
    ("friggin", Boost),
    ("fully", Boost),
    ("fuckin", Boost),
    ("fucking", Boost),
    ("fuggin", Boost),
    ("fugging", Boost),
    ("greatly", Boost),
    ("hella", Boost),
    ("highly", Boost),
    ("hugely", Boost),
    ("incredible", Boost),
    ("incredibly", Boost),
    ("intensely", Boost),
    ("major", Boost),
    ("majorly", Boost),
    ("more", Boost),
    ("most", Boost),
    ("particularly", Boost),
    ("purely", Boost),
    ("quite", Boost),
    ("really", Boost),
    ("remarkably", Boost),
    ("so", Boost),
    ("substantially", Boost),
    ("thoroughly", Boost),
    ("total", Boost),
    ("totally", Boost),
    ("tremendous", Boost),
    ("tremendously", Boost),
    ("uber", Boost),
    ("unbelievably", Boost),
    ("unusually", Boost),
    ("utter", Boost),
    ("utterly", Boost),
    ("very", Boost),
    ("almost", Damp),
    ("barely", Damp),
    ("hardly", Damp),
    ("kinda", Damp),
    ("kindof", Damp),
    ("kind-of", Damp),
    ("less", Damp),
    ("little", Damp),
    ("marginal", Damp),
    ("marginally", Damp),
    ("occasional", Damp),
    ("occasionally", Damp),
    ("partly", Damp),
    ("scarce", Damp),
    ("scarcely", Damp),
    ("slight", Damp),
    ("slightly", Damp),
    ("somewhat", Damp),
    ("sorta", Damp),
    ("sortof", Damp),
    ("sort-of", Damp),
];

/// Two-word degree adverbs ("kind of good"). Tokens never hold a space, so these only ever
/// match as a pair of consecutive words.
pub(super) fn degree_pair(first: &str, second: &str) -> Option<Degree> {
    match (first, second) {
        ("just", "enough") | ("kind", "of") | ("sort", "of") => Some(Damp),
        _ => None,
    }
}

/// Words that negate what follows them. Any word with "n't" in it negates too, which covers
/// every apostrophe spelling ("can't", "won't", "needn't", ...).
pub(super) const NEGATIONS: &[&str] = &[
    "aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt", "dont", "hadnt", "hasnt", "havent",
    "isnt", "mightnt", "mustnt", "neither", "neednt", "never", "none", "nope", "nor", "not", "nothing", "nowhere",
    "oughtnt", "shant", "shouldnt", "uhuh", "uh-uh", "wasnt", "werent", "without", "wont", "wouldnt", "rarely",
    "seldom", "despite",
];

/// Fixed valence of a phrase whose meaning is not the sum of its words ("the shit" is
/// praise, "bus stop" is not a stop to anything), given as two or three consecutive words.
pub(super) fn special_phrase(words: &[&str]) -> Option<f64> {
    match words {
        ["the", "shit"] | ["the", "bomb"] | ["to", "die", "for"] => Some(3.0),
        ["bad", "ass"] => Some(1.5),
        ["bus", "stop"] => Some(0.0),
        ["yeah", "right"] => Some(-2.0),
        ["kiss", "of", "death"] => Some(-1.5),
        ["beating", "heart"] => Some(3.5),
        _ => None,
    }
}
