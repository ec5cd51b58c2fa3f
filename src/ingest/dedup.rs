//! Near-duplicate fingerprints: the same story syndicated with small edits (a source suffix
//! on the headline, a "read more" line, a reworded sentence) shares most of its words, so
//! the MinHash signatures of the copies agree in most positions and the store can give all
//! copies one cluster id. MinHash rather than SimHash because mentions are short: one added
//! line moves a SimHash of a 40-word item by more bits than separate stories are apart.

/// Number of hash functions in a signature; the Jaccard estimate's standard error is at
/// most 0.5/√64 ≈ 0.06.
pub const SIGNATURE_LEN: usize = 64;
/// Estimated Jaccard similarity of word sets at or above which two mentions are one story.
pub const SAME_STORY: f64 = 0.6;

pub type Signature = [u64; SIGNATURE_LEN];

/// FNV-1a, 64-bit. Written out because signatures are stored: the hash must never change
/// with a compiler or library version, which rules out `std`'s hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

/// splitmix64's finaliser: turns (feature hash, seed) into independent-looking values, one
/// hash function per signature position.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F | 0x3040..=0x30FF | 0xAC00..=0xD7AF)
}

/// The features of a text: lower-cased Latin words, and pairs of adjacent CJK characters
/// (Chinese has no spaces, so character bigrams stand in for words).
fn features(text: &str, out: &mut Vec<u64>) {
    let mut word = String::new();
    let mut previous_cjk: Option<char> = None;
    for c in text.chars() {
        if is_cjk(c) {
            if let Some(before) = previous_cjk {
                out.push(fnv1a(format!("{before}{c}").as_bytes()));
            }
            previous_cjk = Some(c);
        } else {
            previous_cjk = None;
        }
        if c.is_alphanumeric() && !is_cjk(c) {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            out.push(fnv1a(std::mem::take(&mut word).as_bytes()));
        }
    }
    if !word.is_empty() {
        out.push(fnv1a(word.as_bytes()));
    }
}

/// The MinHash signature of a mention's title and body.
pub fn signature(title: &str, body: &str) -> Signature {
    let mut hashes = Vec::new();
    features(title, &mut hashes);
    features(body, &mut hashes);
    let mut signature = [u64::MAX; SIGNATURE_LEN];
    for hash in hashes {
        for (seed, slot) in signature.iter_mut().enumerate() {
            *slot = (*slot).min(mix(hash ^ mix(seed as u64 + 1)));
        }
    }
    signature
}

/// Estimated Jaccard similarity of the two texts' feature sets.
pub fn similarity(a: &Signature, b: &Signature) -> f64 {
    let agree = a.iter().zip(b).filter(|(x, y)| x == y && **x != u64::MAX).count();
    agree as f64 / SIGNATURE_LEN as f64
}

pub fn is_same_story(a: &Signature, b: &Signature) -> bool {
    similarity(a, b) >= SAME_STORY
}

/// Locality-sensitive bands: the signature cut into [`BANDS`] runs of [`BAND_ROWS`] values,
/// each hashed to one key. Two signatures that agree on a whole band share its key, so the
/// store finds a story's earlier copies by a few index lookups instead of comparing with
/// every recent signature. With 21 bands of 3, two texts at the `SAME_STORY` similarity of
/// 0.6 share a band with probability 1 − (1 − 0.6³)²¹ ≈ 0.994; unrelated ones at 0.1 with
/// 0.02 (those are then ruled out by [`is_same_story`]).
pub fn bands(signature: &Signature) -> Vec<i64> {
    signature
        .chunks_exact(BAND_ROWS)
        .take(BANDS)
        .enumerate()
        // An empty text's signature is all `u64::MAX`: its bands would join every other.
        .filter(|(_, rows)| rows.iter().any(|v| *v != u64::MAX))
        .map(|(band, rows)| {
            let mut bytes = Vec::with_capacity(1 + 8 * BAND_ROWS);
            bytes.push(band as u8);
            for value in rows {
                bytes.extend_from_slice(&value.to_le_bytes());
            }
            i64::from_le_bytes(fnv1a(&bytes).to_le_bytes())
        })
        .collect()
}

/// Bands per signature and values per band (see [`bands`]).
pub const BANDS: usize = 21;
pub const BAND_ROWS: usize = 3;

/// A signature as stored: little-endian bytes.
pub fn to_bytes(signature: &Signature) -> Vec<u8> {
    signature.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A stored signature; `None` for bytes of the wrong length.
pub fn from_bytes(bytes: &[u8]) -> Option<Signature> {
    if bytes.len() != SIGNATURE_LEN * 8 {
        return None;
    }
    let mut signature = [0u64; SIGNATURE_LEN];
    for (slot, chunk) in signature.iter_mut().zip(bytes.chunks_exact(8)) {
        *slot = u64::from_le_bytes(chunk.try_into().ok()?);
    }
    Some(signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORY: &str = "Several parents report vomiting and fever after their children ate Acme strawberry yogurt \
        bought last week. The county health department is collecting samples from stores.";

    #[test]
    fn syndicated_copies_with_small_edits_are_one_story_and_other_stories_are_not() {
        let original = signature("Acme yogurt made kids sick", STORY);
        let copy = signature("Acme yogurt made kids sick - Herald", &format!("{STORY} Read more at the Herald."));
        assert!(is_same_story(&original, &copy), "similarity {}", similarity(&original, &copy));
        let other = signature("Acme recalls strollers", "A faulty brake led Acme to recall 20,000 strollers.");
        assert!(similarity(&original, &other) < 0.3, "similarity {}", similarity(&original, &other));
    }

    #[test]
    fn chinese_reposts_are_one_story() {
        let post = "多名网友反映，饮用艾克米酸奶后出现呕吐腹泻，疑似食物中毒，已就医。市场监管部门已介入调查。";
        let a = signature("网友称喝了艾克米酸奶后食物中毒", post);
        let b = signature("转发：网友称喝了艾克米酸奶后食物中毒", &format!("{post}（来源：微博）"));
        assert!(is_same_story(&a, &b), "similarity {}", similarity(&a, &b));
        let c = signature("艾克米新品发布会在上海举行", "艾克米今天发布了新口味酸奶，现场气氛热烈。");
        assert!(!is_same_story(&a, &c), "similarity {}", similarity(&a, &c));
    }

    #[test]
    fn signatures_round_trip_through_storage_and_empty_texts_match_nothing() {
        let a = signature("Acme", STORY);
        assert_eq!(from_bytes(&to_bytes(&a)), Some(a));
        assert_eq!(from_bytes(&[1, 2, 3]), None);
        let empty = signature("", "");
        assert_eq!(similarity(&empty, &empty), 0.0);
        assert!(bands(&empty).is_empty());
    }

    #[test]
    fn copies_share_a_band_and_other_stories_do_not() {
        let original = signature("Acme yogurt made kids sick", STORY);
        let copy = signature("Acme yogurt made kids sick - Herald", &format!("{STORY} Read more at the Herald."));
        let other = signature("Acme recalls strollers", "A faulty brake led Acme to recall 20,000 strollers.");
        let (a, b, c) = (bands(&original), bands(&copy), bands(&other));
        assert_eq!(a.len(), BANDS);
        assert!(a.iter().any(|key| b.contains(key)), "copies share no band");
        assert!(!a.iter().any(|key| c.contains(key)), "unrelated stories share a band");
    }
}
