//! The crisis model: how likely a mention of the brand reports a crisis, told in any words.
//!
//! The packs' lists catch the crises they name; a crisis told in words no list foresaw
//! ("three kids in hospital after eating Acme formula", "my Acme phone melted on the
//! nightstand") matches none of them. This model reads the whole text: an L2 logistic
//! regression over words, word pairs, five-letter word stems and CJK character 1–3-grams,
//! learned from tocsin's own detection corpus (`tests/fixtures/detection/`, the blind files
//! left out) by `bench/train_crisis_model.py`, whose doc says exactly how text is read. A
//! rule uses it through `crisis_above` (the bundled `crisis-signal` rule); every mention's
//! "why" shows its probability.
//!
//! The brand's own names (the `brand` list) are read as one placeholder, so the model
//! learns "⟨brand⟩ recalls" and reads any brand alike; the rest of the text is folded as
//! the script folds it (NFKC, lower case; Traditional to Simplified as everywhere).
//!
//! Retrain with `python3 bench/train_crisis_model.py`; `--check` verifies that the committed
//! `crisis_model.bin` is exactly what a retrain produces.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use unicode_normalization::UnicodeNormalization;

use super::text::is_cjk;

/// The trained model, exactly as `bench/train_crisis_model.py` writes it.
static MODEL_FILE: &[u8] = include_bytes!("crisis_model.bin");

static MODEL: LazyLock<Model> = LazyLock::new(|| match Model::parse(MODEL_FILE) {
    Ok(model) => model,
    // The file is compiled in and a unit test parses it, so this is a build defect, not input.
    Err(e) => panic!("crisis_model.bin is malformed ({e}); rerun bench/train_crisis_model.py"),
});

const MAGIC: &[u8; 4] = b"TCRM";
const VERSION: u32 = 1;
/// Words longer than this (in characters) also give their first this-many as a stem.
const STEM: usize = 5;
/// Stands for the brand's names in the folded text; never produced by folding.
const BRAND: char = '\u{0}';
/// Another configured brand's name: a word of its own the model has no weight for.
const OTHER_BRAND: char = '\u{1}';
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

struct Model {
    bias: f32,
    /// Sorted by key.
    keys: Vec<u64>,
    weights: Vec<f32>,
}

impl Model {
    fn parse(bytes: &[u8]) -> Result<Model, String> {
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], String> {
            let slice = bytes.get(at..at + n).ok_or_else(|| format!("cut short at byte {at}"))?;
            at += n;
            Ok(slice)
        };
        if take(4)? != MAGIC {
            return Err("not a crisis model".into());
        }
        let u32_at = |b: &[u8]| b.try_into().map(u32::from_le_bytes).map_err(|_| "bad u32".to_owned());
        let version = u32_at(take(4)?)?;
        if version != VERSION {
            return Err(format!("version {version}, expected {VERSION}"));
        }
        let bias = f32::from_le_bytes(take(4)?.try_into().map_err(|_| "bad bias")?);
        let count = u32_at(take(4)?)? as usize;
        let mut keys = Vec::with_capacity(count);
        let mut weights = Vec::with_capacity(count);
        for _ in 0..count {
            let key = u64::from_le_bytes(take(8)?.try_into().map_err(|_| "bad key")?);
            let weight = f32::from_le_bytes(take(4)?.try_into().map_err(|_| "bad weight")?);
            if keys.last().is_some_and(|&last| last >= key) {
                return Err("keys out of order".into());
            }
            keys.push(key);
            weights.push(weight);
        }
        if take(1).is_ok() {
            return Err("bytes after the last weight".into());
        }
        Ok(Model { bias, keys, weights })
    }

    fn weight(&self, key: u64) -> f64 {
        self.keys.binary_search(&key).map_or(0.0, |i| f64::from(self.weights[i]))
    }
}

/// Reads mentions with the brand's names known, so it can stand them for one placeholder.
#[derive(Debug, Clone)]
pub struct CrisisReader {
    /// The brand's names and, after them, other brands' names (see
    /// [`CrisisReader::for_brand`]), found leftmost-longest.
    names: Option<AhoCorasick>,
    /// How many of the patterns, from the first, are the brand's own.
    own: usize,
}

impl CrisisReader {
    pub fn new<'a>(brand: impl IntoIterator<Item = &'a str>) -> CrisisReader {
        CrisisReader::for_brand(brand, [])
    }

    /// A reader for one of several configured brands: its names are the brand, and the
    /// others' names read as a placeholder the model never saw, so a name the corpus happens
    /// to use for rivals (whose weight is that of benign text about someone else's trouble)
    /// neither clears nor condemns a mention that names two clients.
    pub fn for_brand<'a>(
        brand: impl IntoIterator<Item = &'a str>,
        others: impl IntoIterator<Item = &'a str>,
    ) -> CrisisReader {
        let folded = |names: Vec<String>| {
            let mut names: Vec<String> = names.into_iter().filter(|name| !name.is_empty()).collect();
            names.sort();
            names.dedup();
            names
        };
        let own = folded(brand.into_iter().map(fold).collect());
        let others: Vec<String> =
            folded(others.into_iter().map(fold).collect()).into_iter().filter(|name| !own.contains(name)).collect();
        let patterns: Vec<&String> = own.iter().chain(&others).collect();
        let names = (!patterns.is_empty())
            .then(|| AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&patterns).ok())
            .flatten();
        CrisisReader { names, own: own.len() }
    }

    pub fn probability(&self, text: &str) -> f64 {
        let model = &*MODEL;
        let folded = fold(text);
        let masked = match &self.names {
            Some(names) => {
                let mut masked = String::with_capacity(folded.len());
                names.replace_all_with(&folded, &mut masked, |found, _, out| {
                    out.push(if found.pattern().as_usize() < self.own { BRAND } else { OTHER_BRAND });
                    true
                });
                masked
            }
            None => folded,
        };
        let z = f64::from(model.bias) + features(&masked).into_iter().map(|key| model.weight(key)).sum::<f64>();
        1.0 / (1.0 + (-z.clamp(-30.0, 30.0)).exp())
    }
}

/// NFKC (a character at a time), lower case, Traditional to Simplified: exactly what the
/// training script does. Not [`super::text::Folded`], whose other folds (whitespace runs,
/// separators dropped between CJK characters) the model was not trained with.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(std::iter::once(c).nfkc().flat_map(char::to_lowercase));
        }
    }
    fast2s::convert(&out)
}

fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF)
}

#[derive(Debug, PartialEq)]
enum Token {
    /// A word, the brand placeholder or an emoji.
    Word(String),
    Cjk(char),
    /// Punctuation or a symbol: no n-gram crosses it.
    Break,
}

fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Token>| {
        if !word.is_empty() {
            let taken = std::mem::take(word);
            out.push(Token::Word(if taken.bytes().all(|b| b.is_ascii_digit()) { "0".to_owned() } else { taken }));
        }
    };
    for c in text.chars() {
        if c == BRAND {
            flush(&mut word, &mut out);
            out.push(Token::Word("<brand>".to_owned()));
        } else if c == OTHER_BRAND {
            flush(&mut word, &mut out);
            out.push(Token::Word("<other brand>".to_owned()));
        } else if is_cjk(c) {
            flush(&mut word, &mut out);
            out.push(Token::Cjk(c));
        } else if c.is_alphanumeric() {
            word.push(c);
        } else if is_emoji(c) {
            flush(&mut word, &mut out);
            out.push(Token::Word(c.to_string()));
        } else {
            flush(&mut word, &mut out);
            if !c.is_whitespace() {
                out.push(Token::Break);
            }
        }
    }
    flush(&mut word, &mut out);
    out
}

fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash = FNV_OFFSET;
    for byte in parts.iter().flat_map(|part| part.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// The keys of the text's features, each once.
fn features(text: &str) -> Vec<u64> {
    let tokens = tokens(text);
    let mut keys = Vec::with_capacity(tokens.len() * 3);
    let mut buf = [0u8; 4];
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Break => {}
            Token::Word(word) => {
                keys.push(fnv1a(&["w|", word]));
                if let Some((cut, _)) = word.char_indices().nth(STEM) {
                    keys.push(fnv1a(&["p|", &word[..cut]]));
                }
                if let Some(Token::Word(next)) = tokens.get(i + 1) {
                    keys.push(fnv1a(&["b|", word, " ", next]));
                }
            }
            Token::Cjk(c) => {
                let mut run = String::from(c.encode_utf8(&mut buf) as &str);
                keys.push(fnv1a(&["c|", &run]));
                for next in tokens[i + 1..].iter().take(2) {
                    let Token::Cjk(next) = next else { break };
                    run.push(*next);
                    keys.push(fnv1a(&["c|", &run]));
                }
            }
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader() -> CrisisReader {
        CrisisReader::new(["Acme", "艾克米"])
    }

    #[test]
    fn the_committed_model_parses() {
        let model = Model::parse(MODEL_FILE).expect("parses");
        assert!(model.keys.len() > 10_000, "{} weights", model.keys.len());
        assert!(Model::parse(&MODEL_FILE[..MODEL_FILE.len() - 1]).is_err());
        assert!(Model::parse(b"TCRM").is_err());
    }

    /// The probabilities `python3 bench/train_crisis_model.py --golden` prints: the script
    /// and this reader read text the same way.
    #[test]
    fn it_reads_text_as_the_training_script_does() {
        let golden = [
            (0.997241, "Acme recalls 40,000 tins of baby formula over possible contamination"),
            (0.000529, "Acme opens its first store in Lisbon"),
            (0.887529, "三名儿童食用艾克米奶粉后住院"),
            (0.000131, "艾克米新品发布会圆满成功"),
        ];
        for (expected, text) in golden {
            let got = reader().probability(text);
            assert!((got - expected).abs() < 1e-5, "{text}: {got} vs {expected}");
        }
    }

    #[test]
    fn any_brand_reads_alike_and_traditional_folds() {
        let acme = reader().probability("Acme recalls 40,000 tins of baby formula over possible contamination");
        let globex = CrisisReader::new(["Globex"])
            .probability("GLOBEX recalls 40,000 tins of baby formula over possible contamination");
        assert!((acme - globex).abs() < 1e-9, "{acme} vs {globex}");
        let simplified = reader().probability("艾克米数据泄露，上百万用户信息被贩卖");
        let traditional = reader().probability("艾克米數據洩露，上百萬用戶信息被販賣");
        assert!((simplified - traditional).abs() < 1e-9, "{simplified} vs {traditional}");
    }

    /// A rival name the corpus often uses weighs as benign; read as another configured
    /// brand it weighs nothing, exactly like a word the model never saw.
    #[test]
    fn another_configured_brand_weighs_nothing() {
        let text = "Food poisoning at a school: Acme and Globex yogurt both served, 30 sick";
        let with_others = CrisisReader::for_brand(["Acme"], ["Globex"]).probability(text);
        let unseen = CrisisReader::new(["Acme"]).probability(&text.replace("Globex", "Qzxqv"));
        assert!((with_others - unseen).abs() < 1e-9, "{with_others} vs {unseen}");
        let both_named = CrisisReader::for_brand(["Globex"], ["Acme"]).probability(text);
        assert!(
            with_others > 0.5 && both_named > 0.5,
            "each client's view of one school outbreak: {with_others} {both_named}"
        );
    }

    #[test]
    fn punctuation_breaks_and_digits_read_as_one_token() {
        assert_eq!(
            tokens("a1 22, 食物。B"),
            vec![
                Token::Word("a1".into()),
                Token::Word("0".into()),
                Token::Break,
                Token::Cjk('食'),
                Token::Cjk('物'),
                Token::Break,
                Token::Word("B".into()),
            ]
        );
    }
}
