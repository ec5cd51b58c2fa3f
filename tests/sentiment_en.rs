//! English sentiment against the reference: every sentence of the VADER authors' tweet and
//! movie-snippet sets (`../shared/data/sentiment/en`, see `../shared/data/README.md`) scores
//! as vaderSentiment 3.3.2 scored it, and tracks the human ratings as well as the reference.
//!
//! Then the stories behind the numbers: a complaint is negative, shouting and "!!!" make it
//! louder, "but" moves the weight to what follows, and nothing a feed can send makes the
//! scorer panic or leave [-1, 1].

use std::collections::HashMap;
use std::path::Path;

use tocsin::analyze::sentiment::vader::{Polarity, polarity};

const DATA: &str = "../shared/data/sentiment/en";

/// Largest accepted difference from the reference compound (it is rounded to 4 decimals).
const COMPOUND_TOLERANCE: f64 = 1e-4;
/// Share of sentences whose compound must be within tolerance.
const MIN_COMPOUND_AGREEMENT: f64 = 0.999;
/// Largest accepted difference between our and the reference's correlation with humans.
const PEARSON_TOLERANCE: f64 = 0.02;

/// One rated sentence with the reference's scores for it.
struct Case {
    id: String,
    human: f64,
    text: String,
    reference: Polarity,
}

fn read(name: &str) -> String {
    let path = Path::new(DATA).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{}: {e} (the shared test data is required, see ../shared/data/README.md)", path.display())
    })
}

fn number(field: &str, what: &str) -> f64 {
    field.trim().parse().unwrap_or_else(|e| panic!("{what}: {field:?}: {e}"))
}

/// Joins `<set>_GroundTruth.txt` (`id<TAB>mean rating<TAB>text`, CRLF) with
/// `<set>_vaderSentiment-3.3.2.tsv` (a header, then `id compound pos neu neg`) by id.
fn load(set: &str) -> Vec<Case> {
    let reference: HashMap<String, Polarity> = read(&format!("{set}_vaderSentiment-3.3.2.tsv"))
        .lines()
        .skip(1)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 5, "reference row {line:?}");
            let p = Polarity {
                compound: number(f[1], "compound"),
                pos: number(f[2], "pos"),
                neu: number(f[3], "neu"),
                neg: number(f[4], "neg"),
            };
            (f[0].to_owned(), p)
        })
        .collect();
    let cases: Vec<Case> = read(&format!("{set}_GroundTruth.txt"))
        .split("\r\n")
        .filter(|line| !line.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.splitn(3, '\t').collect();
            assert_eq!(f.len(), 3, "ground truth row {line:?}");
            let reference = *reference.get(f[0]).unwrap_or_else(|| panic!("{set}: no reference row for id {}", f[0]));
            Case { id: f[0].to_owned(), human: number(f[1], "rating"), text: f[2].to_owned(), reference }
        })
        .collect();
    assert_eq!(cases.len(), reference.len(), "{set}: ground truth and reference differ in size");
    cases
}

fn pearson(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    sxy / (sxx * syy).sqrt()
}

/// Agreement of one set with the reference, and the correlations with the human ratings.
struct Parity {
    sentences: usize,
    compound_within: usize,
    shares_exact: usize,
    worst: Vec<(f64, String, String, Polarity, Polarity)>,
    r_ours: f64,
    r_reference: f64,
}

fn parity(set: &str) -> Parity {
    let cases = load(set);
    let mut compound_within = 0;
    let mut shares_exact = 0;
    let mut worst = Vec::new();
    let mut ours = Vec::with_capacity(cases.len());
    for case in &cases {
        let got = polarity(&case.text);
        let want = case.reference;
        let diff = (got.compound - want.compound).abs();
        if diff <= COMPOUND_TOLERANCE {
            compound_within += 1;
        }
        if (got.pos, got.neu, got.neg) == (want.pos, want.neu, want.neg) {
            shares_exact += 1;
        }
        let share_diff = [(got.pos, want.pos), (got.neu, want.neu), (got.neg, want.neg)]
            .iter()
            .map(|(a, b)| (a - b).abs())
            .fold(diff, f64::max);
        if share_diff > 0.0 {
            worst.push((share_diff, case.id.clone(), case.text.clone(), got, want));
        }
        ours.push(got.compound);
    }
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    worst.truncate(10);
    let human: Vec<f64> = cases.iter().map(|c| c.human).collect();
    let reference: Vec<f64> = cases.iter().map(|c| c.reference.compound).collect();
    Parity {
        sentences: cases.len(),
        compound_within,
        shares_exact,
        worst,
        r_ours: pearson(&ours, &human),
        r_reference: pearson(&reference, &human),
    }
}

#[test]
fn every_rated_sentence_scores_as_the_reference_scored_it() {
    let mut sentences = 0;
    let mut within = 0;
    let mut exact = 0;
    let mut report = String::new();
    for (set, paper_r) in [("tweets", 0.881), ("movieReviewSnippets", 0.451)] {
        let p = parity(set);
        println!(
            "{set}: {} sentences, compound within {COMPOUND_TOLERANCE}: {}, pos/neu/neg identical: {}; \
             Pearson r with human means: ours {:.4}, reference {:.4} (paper {paper_r})",
            p.sentences, p.compound_within, p.shares_exact, p.r_ours, p.r_reference
        );
        for (diff, id, text, got, want) in &p.worst {
            report.push_str(&format!(
                "  {set} #{id} off by {diff:.4}: ours {got:?}\n    reference {want:?}\n    {text}\n"
            ));
        }
        assert!(
            (p.r_ours - p.r_reference).abs() <= PEARSON_TOLERANCE,
            "{set}: Pearson r {:.4} is not within {PEARSON_TOLERANCE} of the reference's {:.4}",
            p.r_ours,
            p.r_reference
        );
        sentences += p.sentences;
        within += p.compound_within;
        exact += p.shares_exact;
    }
    if !report.is_empty() {
        println!("largest differences:\n{report}");
    }
    assert_eq!(sentences, 14_805, "the two sets hold 4,200 tweets and 10,605 snippets");
    let share = within as f64 / sentences as f64;
    println!("compound within {COMPOUND_TOLERANCE}: {within}/{sentences} ({:.3}%)", share * 100.0);
    assert!(share >= MIN_COMPOUND_AGREEMENT, "only {within} of {sentences} compounds agree:\n{report}");
    assert!(exact as f64 / sentences as f64 >= MIN_COMPOUND_AGREEMENT, "only {exact} of {sentences} pos/neu/neg agree");
}

fn compound(text: &str) -> f64 {
    polarity(text).compound
}

fn assert_sane(text: &str) {
    let p = polarity(text);
    for (name, value, low) in
        [("compound", p.compound, -1.0), ("pos", p.pos, 0.0), ("neu", p.neu, 0.0), ("neg", p.neg, 0.0)]
    {
        assert!((low..=1.0).contains(&value), "{name} = {value} for {:?}", text.chars().take(60).collect::<String>());
    }
}

#[test]
fn text_without_words_scores_zero() {
    for text in ["", "   ", "\t\r\n", "\u{3000}\u{a0}"] {
        assert_eq!(polarity(text), Polarity::default(), "{text:?}");
    }
}

#[test]
fn odd_input_scores_without_panicking() {
    let long_word = "a".repeat(100_000);
    let long_caps = "GOOD".repeat(10_000);
    let odd = [
        "\0\u{1}\u{7f}\u{1b}[31m",
        "!",
        "!!!!",
        "????????",
        "?!",
        ":) :( :D",
        "GOOD BAD TERRIBLE",
        "WORST. SERVICE. EVER!!!",
        "\u{feff}\u{200b}\u{202e}good",
        "ǅ ᾈ İ ΣΑΣ",
        "but but but",
        "no no no",
        "never so",
        "kind of",
        "the shit",
        "😀",
        "😀😢🔛🆙",
        "🏳️‍🌈👍🏽",
        &long_word,
        &long_caps,
    ];
    for text in odd {
        assert_sane(text);
    }
}

#[test]
fn emoji_only_text_is_read_through_their_descriptions() {
    assert!(compound("😀") > 0.0, "grinning face");
    assert!(compound("😢") < 0.0, "crying face");
    assert!(compound("😀😀😀") > compound("😀"));
}

#[test]
fn a_megabyte_of_text_scores_in_bounded_time() {
    let sentence = "The support was NOT helpful but the refund came fast 😀, kind of great!!! ";
    let text = sentence.repeat(1_000_000 / sentence.len() + 1);
    assert!(text.len() >= 1_000_000);
    let started = std::time::Instant::now();
    assert_sane(&text);
    assert!(started.elapsed().as_secs() < 20, "took {:?}", started.elapsed());
}

#[test]
fn a_complaint_is_negative_and_praise_positive() {
    assert!(compound("good") > 0.0);
    assert!(compound("The yogurt made my kid sick, disgusting") < -0.5);
    assert_eq!(compound("The store opens at nine"), 0.0);
}

#[test]
fn negation_flips_the_sentiment() {
    assert!(compound("not good") < 0.0);
    assert!(compound("isn't good") < 0.0);
    assert!(compound("The product is not bad at all") > 0.0);
    assert!(compound("no good") < 0.0);
}

#[test]
fn capitals_and_exclamation_marks_make_it_louder() {
    assert!(compound("good!!!") > compound("good"));
    assert!(compound("The food was GOOD!!!") > compound("The food was good"));
    // A word in capitals only stands out next to words that are not.
    assert!(compound("The food was GOOD") > compound("The food was good"));
    assert_eq!(compound("THE FOOD WAS GOOD"), compound("the food was good"));
    // The reference counts at most four exclamation marks.
    assert_eq!(compound("good!!!!"), compound("good!!!!!!!!"));
}

#[test]
fn degree_adverbs_boost_and_dampen() {
    assert!(compound("very good") > compound("good"));
    // "kind of" only dampens with three words before the rated one, as in the reference.
    assert!(compound("The food was kind of good") < compound("The food was good"));
    assert!(compound("it is kinda good") < compound("it is good"));
    assert!(compound("slightly bad") > compound("bad"));
    assert!(compound("extremely bad") < compound("bad"));
}

#[test]
fn what_follows_but_outweighs_what_precedes_it() {
    assert!(compound("The staff were friendly but the food was terrible") < 0.0);
    assert!(compound("The food was terrible but the staff were friendly") > 0.0);
    let p = polarity("good but bad");
    assert!(p.neg > p.pos, "{p:?}");
}

#[test]
fn idioms_and_exceptions_from_the_paper() {
    assert!(compound("never so good") > compound("so good"), "\"never so\" is emphatic, not a negation");
    assert!(compound("never good") < 0.0);
    assert!(compound("least good") < 0.0);
    assert!(compound("at least good") > 0.0);
    assert!(compound("VADER is the shit") > 0.0);
    assert!(compound("the movie was bad ass") > 0.0);
    assert!(compound("Without a doubt, excellent idea") > 0.0);
}

#[test]
fn scores_reproduce_the_reference_demo() {
    // Values printed by vaderSentiment 3.3.2's own demo.
    let cases = [
        ("VADER is smart, handsome, and funny.", 0.8316),
        ("VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!", 0.9469),
        ("VADER is not smart, handsome, nor funny.", -0.7424),
        ("At least it isn't a horrible book.", 0.431),
        ("Today only kinda sux! But I'll get by, lol", 0.5249),
        ("Make sure you :) or :D today!", 0.8633),
        ("Catch utf-8 emoji such as 💘 and 💋 and 😁", 0.875),
        ("Not bad at all", 0.431),
    ];
    for (text, want) in cases {
        assert_eq!(compound(text), want, "{text}");
    }
}

proptest::proptest! {
    #[test]
    fn any_text_scores_within_bounds(text in "\\PC{0,200}") {
        assert_sane(&text);
        let p = polarity(&text);
        // The shares are rounded separately, so they add up to one within their rounding.
        proptest::prop_assert!(p == Polarity::default() || (p.pos + p.neu + p.neg - 1.0).abs() <= 0.002, "{p:?}");
    }
}
