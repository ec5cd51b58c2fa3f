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
pub(super) fn degree_pair(first: Tag, second: Tag) -> Option<Degree> {
    match (first, second) {
        (Tag::Just, Tag::Enough) | (Tag::Kind, Tag::Of) | (Tag::Sort, Tag::Of) => Some(Damp),
        _ => None,
    }
}

/// The words the rules test by name, so that they compare one byte instead of a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Tag {
    /// Any word the rules do not name.
    #[default]
    Other,
    But,
    Kind,
    Of,
    No,
    Or,
    Nor,
    Least,
    At,
    Very,
    Never,
    So,
    This,
    Without,
    Doubt,
    The,
    Shit,
    Bomb,
    To,
    Die,
    For,
    Bad,
    Ass,
    Bus,
    Stop,
    Yeah,
    Right,
    Kiss,
    Death,
    Beating,
    Heart,
    Just,
    Enough,
    Sort,
}

/// The lower-case spelling of each named word.
pub(super) const TAGS: &[(&str, Tag)] = &[
    ("but", Tag::But),
    ("kind", Tag::Kind),
    ("of", Tag::Of),
    ("no", Tag::No),
    ("or", Tag::Or),
    ("nor", Tag::Nor),
    ("least", Tag::Least),
    ("at", Tag::At),
    ("very", Tag::Very),
    ("never", Tag::Never),
    ("so", Tag::So),
    ("this", Tag::This),
    ("without", Tag::Without),
    ("doubt", Tag::Doubt),
    ("the", Tag::The),
    ("shit", Tag::Shit),
    ("bomb", Tag::Bomb),
    ("to", Tag::To),
    ("die", Tag::Die),
    ("for", Tag::For),
    ("bad", Tag::Bad),
    ("ass", Tag::Ass),
    ("bus", Tag::Bus),
    ("stop", Tag::Stop),
    ("yeah", Tag::Yeah),
    ("right", Tag::Right),
    ("kiss", Tag::Kiss),
    ("death", Tag::Death),
    ("beating", Tag::Beating),
    ("heart", Tag::Heart),
    ("just", Tag::Just),
    ("enough", Tag::Enough),
    ("sort", Tag::Sort),
];

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
pub(super) fn special_phrase(words: &[Tag]) -> Option<f64> {
    use Tag::*;
    match words {
        [The, Shit] | [The, Bomb] | [To, Die, For] => Some(3.0),
        [Bad, Ass] => Some(1.5),
        [Bus, Stop] => Some(0.0),
        [Yeah, Right] => Some(-2.0),
        [Kiss, Of, Death] => Some(-1.5),
        [Beating, Heart] => Some(3.5),
        _ => None,
    }
}
