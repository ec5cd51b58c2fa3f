//! Sentiment on one scale for every language: a number in [-1, 1], negative is bad news.
//!
//! - [`detect_lang`] picks the language a mention is read in: from its script first (text
//!   that is mostly Chinese characters is Chinese, whatever its metadata says, and English
//!   brand names inside it don't change that), then from what the feed declares, then from
//!   [`whatlang`]'s guess on Latin-script text.
//! - [`vader`] scores English (and text with no words at all, such as emoji or emoticons,
//!   which VADER's lexicon covers) with the VADER algorithm; the score is its `compound`.
//! - [`zh`] scores Chinese with the bundled model, calibrated onto the same scale, so
//!   `sentiment_below = -0.05` means "negative" in both languages.
//! - Other languages have no model: their score is 0 (neutral) and `model` says `none`, so
//!   a `sentiment_below` rule never fires on a language it cannot read.

pub mod vader;
pub mod zh;

use serde::Serialize;

use crate::analyze::text::is_cjk;
use crate::ingest::Mention;

/// Which model scored a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    Vader,
    Zh,
    /// No model reads this language: the score is neutral.
    None,
}

/// The sentiment of one text.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sentiment {
    /// In [-1, 1], negative is bad news; the same scale in every language.
    pub score: f64,
    pub model: Model,
    /// VADER's own outputs, as VADER defines them; `None` unless VADER scored the text.
    pub compound: Option<f64>,
    pub pos: Option<f64>,
    pub neu: Option<f64>,
    pub neg: Option<f64>,
}

impl Sentiment {
    const NEUTRAL: Sentiment =
        Sentiment { score: 0.0, model: Model::None, compound: None, pos: None, neu: None, neg: None };
}

/// The language a mention is read in and its sentiment, from its title and body together.
pub fn of_mention(mention: &Mention) -> (String, Sentiment) {
    let text = match (mention.title.trim(), mention.body.trim()) {
        ("", body) => body.to_owned(),
        (title, "") => title.to_owned(),
        // A title rarely ends in punctuation; VADER reads "!" and "?" near the end, so
        // the body must not run on from it as one sentence.
        (title, body) => format!("{title}.\n{body}"),
    };
    let lang = detect_lang(&text, mention.lang.as_deref());
    let sentiment = score(&text, &lang);
    (lang, sentiment)
}

/// Scores `text`, read in `lang` (as [`detect_lang`] returns it).
pub fn score(text: &str, lang: &str) -> Sentiment {
    match lang {
        "zh" => Sentiment { score: on_scale(zh::score(text)), model: Model::Zh, ..Sentiment::NEUTRAL },
        "en" | UNDETERMINED => {
            let p = vader::polarity(text);
            Sentiment {
                score: on_scale(p.compound),
                model: Model::Vader,
                compound: Some(p.compound),
                pos: Some(p.pos),
                neu: Some(p.neu),
                neg: Some(p.neg),
            }
        }
        _ => Sentiment::NEUTRAL,
    }
}

/// A model's output on the shared scale; a value that is not a number reads as neutral
/// rather than poisoning comparisons with rule bounds.
fn on_scale(score: f64) -> f64 {
    if score.is_finite() { score.clamp(-1.0, 1.0) } else { 0.0 }
}

/// The language code for text with no letters at all (emoji, numbers, punctuation).
pub const UNDETERMINED: &str = "und";

/// Letters of a text by script.
#[derive(Default)]
struct ScriptCounts {
    han: usize,
    kana: usize,
    hangul: usize,
    latin_words: usize,
    other_letters: usize,
}

impl ScriptCounts {
    fn of(text: &str) -> Self {
        let mut counts = ScriptCounts::default();
        let mut in_latin_word = false;
        for c in text.chars() {
            let latin = c.is_alphabetic() && (c.is_ascii() || ('\u{00C0}'..='\u{024F}').contains(&c));
            if latin && !in_latin_word {
                counts.latin_words += 1;
            }
            in_latin_word = latin || (in_latin_word && c.is_ascii_digit());
            if latin {
                continue;
            }
            match c {
                '\u{3040}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' => counts.kana += 1,
                '\u{AC00}'..='\u{D7AF}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}' => counts.hangul += 1,
                c if is_cjk(c) => counts.han += 1,
                c if c.is_alphabetic() => counts.other_letters += 1,
                _ => {}
            }
        }
        counts
    }
}

/// The language to read `text` in, as a lower-case ISO 639-1 code where one exists (`en`,
/// `zh`, `ja`, ...), else ISO 639-3, or [`UNDETERMINED`]. `declared` is what the feed or
/// the item says (`zh-CN`, `en-us`, ...).
///
/// Script wins over metadata, because metadata is often a CMS default (`en-us` on a
/// Chinese news site): a Chinese character weighs as much as a Latin word, so Chinese
/// with a few English brand names is Chinese. Kana makes CJK text Japanese, Hangul Korean.
/// Latin-script text takes the declared language, else whatlang's guess when it is
/// reliable, else English: short English posts are often too short to guess, and VADER is
/// the reader they need.
pub fn detect_lang(text: &str, declared: Option<&str>) -> String {
    let declared = declared
        .map(|d| d.trim().split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase())
        .filter(|d| !d.is_empty() && d != "auto" && d.chars().all(|c| c.is_ascii_alphabetic()));
    let counts = ScriptCounts::of(text);
    let cjk = counts.han + counts.kana + counts.hangul;
    if cjk > 0 && cjk >= counts.latin_words && cjk >= counts.other_letters {
        return if counts.hangul > counts.han + counts.kana {
            "ko".into()
        } else if counts.kana * 10 >= cjk {
            "ja".into()
        } else {
            "zh".into()
        };
    }
    if counts.latin_words == 0 && counts.other_letters == 0 {
        return declared.unwrap_or_else(|| UNDETERMINED.into());
    }
    if let Some(declared) = declared.filter(|d| !matches!(d.as_str(), "zh" | "ja" | "ko")) {
        return declared;
    }
    if reads_as_english(text) {
        return "en".into();
    }
    match whatlang::detect(text) {
        Some(info) if info.is_reliable() => iso_639_1(info.lang()).into(),
        _ if counts.latin_words >= counts.other_letters => "en".into(),
        Some(info) => iso_639_1(info.lang()).into(),
        None => UNDETERMINED.into(),
    }
}

/// Whether Latin-script text is plainly English: at least two different English function
/// words that are not also words in the other Latin-script languages a PR team is likely
/// to see (so no `is`, `was`, `of`, `to`, `on`, `in`, `for`, `my`, `will`), making up at
/// least one word in seven. Most English posts pass, and skip whatlang, whose guess costs
/// about 45 µs on a tweet-sized text: more than the rest of the analysis together.
fn reads_as_english(text: &str) -> bool {
    let (mut words, mut hits, mut seen) = (0usize, 0usize, 0u32);
    for word in text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()) {
        words += 1;
        let bit = match word.to_ascii_lowercase().as_str() {
            "the" => 0,
            "and" => 1,
            "with" => 2,
            "this" => 3,
            "that" => 4,
            "you" | "your" => 5,
            "they" | "their" => 6,
            "are" | "were" | "been" => 7,
            "have" | "has" | "had" => 8,
            "not" => 9,
            "from" => 10,
            "after" | "about" => 11,
            "would" | "could" | "should" => 12,
            "what" | "which" | "when" => 13,
            "there" => 14,
            "it" => 15,
            "our" => 16,
            _ => continue,
        };
        hits += 1;
        seen |= 1 << bit;
    }
    seen.count_ones() >= 2 && hits * 7 >= words
}

/// The two-letter code of the languages a PR team is likely to see, else whatlang's
/// three-letter code.
fn iso_639_1(lang: whatlang::Lang) -> &'static str {
    use whatlang::Lang;
    match lang {
        Lang::Eng => "en",
        Lang::Cmn => "zh",
        Lang::Jpn => "ja",
        Lang::Kor => "ko",
        Lang::Fra => "fr",
        Lang::Deu => "de",
        Lang::Spa => "es",
        Lang::Por => "pt",
        Lang::Ita => "it",
        Lang::Nld => "nl",
        Lang::Rus => "ru",
        Lang::Ara => "ar",
        Lang::Hin => "hi",
        Lang::Vie => "vi",
        Lang::Tha => "th",
        Lang::Ind => "id",
        Lang::Tur => "tr",
        Lang::Pol => "pl",
        Lang::Ukr => "uk",
        other => other.code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_with_english_brand_names_is_chinese() {
        assert_eq!(detect_lang("Acme酸奶导致孩子食物中毒，家长很愤怒", None), "zh");
        assert_eq!(detect_lang("Acme 召回", None), "zh");
        // A CMS that says en-us on a Chinese page does not make it English.
        assert_eq!(detect_lang("艾克米酸奶导致食物中毒", Some("en-us")), "zh");
        assert_eq!(detect_lang("艾克米酸奶導致食物中毒", None), "zh");
    }

    #[test]
    fn kana_and_hangul_are_not_chinese() {
        assert_eq!(detect_lang("アクメのヨーグルトで食中毒が発生しました", None), "ja");
        assert_eq!(detect_lang("애크미 요구르트 식중독", None), "ko");
    }

    #[test]
    fn latin_text_takes_the_declared_language_then_a_reliable_guess_then_english() {
        assert_eq!(detect_lang("Acme recalls yogurt", Some("en-US")), "en");
        assert_eq!(detect_lang("Acme rappelle ses yaourts", Some("fr")), "fr");
        assert_eq!(
            detect_lang(
                "Le fabricant a rappelé tous ses yaourts après plusieurs intoxications alimentaires graves",
                None
            ),
            "fr"
        );
        assert_eq!(detect_lang("Acme recall", None), "en");
        // Plain English skips the guesser; a few English words in French do not.
        assert!(reads_as_english("My kid got sick after eating the yogurt and the bottle was open"));
        assert!(!reads_as_english("Acme rappelle ses yaourts après des plaintes de clients, selon « the Guardian »"));
        assert_eq!(
            detect_lang("Acme rappelle ses yaourts après des plaintes de clients, selon « the Guardian »", None),
            "fr"
        );
        // A Chinese feed's English post is read as English.
        assert_eq!(detect_lang("Acme yogurt made my kid sick, terrible", Some("zh-CN")), "en");
    }

    #[test]
    fn text_without_letters_is_undetermined_unless_declared() {
        assert_eq!(detect_lang("😡😡😡 !!!", None), UNDETERMINED);
        assert_eq!(detect_lang("", Some("zh")), "zh");
        assert_eq!(detect_lang("123", Some("auto")), UNDETERMINED);
    }

    #[test]
    fn each_language_goes_to_its_model() {
        assert_eq!(score("Acme is great", "en").model, Model::Vader);
        assert_eq!(score("艾克米很好", "zh").model, Model::Zh);
        let french = score("Acme est nul", "fr");
        assert_eq!((french.model, french.score, french.compound), (Model::None, 0.0, None));
        assert_eq!(score("😡", UNDETERMINED).model, Model::Vader);
    }
}
