//! Detection measured like a benchmark: the bundled rule packs score a corpus of realistic
//! crisis and benign items (headlines, tweets, Weibo posts, forum complaints, reviews) in
//! English and Chinese, written for this project, and the test fails when the share of
//! crisis items reaching risk 60 (recall@60: they open an incident on their own) falls
//! below 0.90, or the share of benign ones reaching it (false positives@60) rises above
//! 0.05, in either language: those are the goals, and the report says whether each file
//! meets them. The test itself holds every file to a floor just under what it measures
//! now, so a change that loses recall or gains false alarms fails, and the floors only
//! rise as the packs improve; no floor may sit below the goals.
//!
//! `tests/fixtures/detection/{en,zh}.jsonl`, `train2-` and `train3-{en,zh}.jsonl` (short,
//! plain headlines and one-line posts) are the corpus the packs are tuned on. `holdout-`
//! to `holdout4-{en,zh}.jsonl` were each written apart from the packs by authors who never
//! saw them, and were the blind figure until the next one was written; their misses have
//! since been read. The crisis model (the `crisis-signal` rule, the packs' veto, the tone)
//! is trained on all of these files, so their figures are in-sample: `python3
//! bench/train_crisis_model.py --dev` gives each file's reading by a model trained without
//! it. `holdout5-{en,zh}.jsonl` is blind: written the same way, never trained on, no term
//! was added for its misses. It is the figure to believe. All are held to the same goals.
//!
//! The same corpus measures the risk's negativity (issue 18): a crisis item *reads
//! negative* when the tone its risk read (the breakdown's `tone`: the worse of its
//! sentiment and what it reports, by the crisis model, which reads every mention, or the
//! harm lexicon, which reads those a rule matched) is below the neutral band (−0.05), so
//! negativity raises its risk.
//! The goal is 0.90 of the crisis items in each language; each file is held to a floor as
//! for recall.
//! Run `cargo test --test detection -- --nocapture` for the report and every miss.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Utc;
use serde::Deserialize;
use tocsin::analyze::risk::RiskWeights;
use tocsin::analyze::{RuleSet, analyze};
use tocsin::ingest::Mention;

/// A mention scoring this opens an incident on its own (`[risk] open_at`).
const OPEN_AT: u8 = 60;
/// The goals (issue 17): recall@60 at least this, false positives@60 at most that.
const GOAL_RECALL: f64 = 0.90;
const GOAL_FALSE_POSITIVES: f64 = 0.05;
/// The goal (issue 18): this share of crisis items reads negative.
const GOAL_NEGATIVE: f64 = 0.90;
/// Below this, a signal is negative (the neutral band is ±0.05).
const NEUTRAL_BAND: f64 = 0.05;

/// Per file: (name, least recall@60, most false positives@60, least share of crisis items
/// reading negative) measured today, a little slack below. Each language's test judges the
/// files whose name ends in its code. The blind file (holdout5) sits lowest: nothing was
/// trained on it.
const FLOORS: &[(&str, f64, f64, f64)] = &[
    ("en.jsonl", 0.98, 0.01, 0.98),
    ("zh.jsonl", 0.98, 0.01, 0.98),
    ("train2-en.jsonl", 0.97, 0.01, 0.98),
    ("train2-zh.jsonl", 0.98, 0.01, 0.98),
    ("train3-en.jsonl", 0.97, 0.01, 0.97),
    ("train3-zh.jsonl", 0.98, 0.01, 0.98),
    ("train4-en.jsonl", 0.97, 0.01, 0.98),
    ("train4-zh.jsonl", 0.97, 0.01, 0.98),
    ("train5-en.jsonl", 0.97, 0.01, 0.98),
    ("train5-zh.jsonl", 0.96, 0.01, 0.98),
    ("holdout-en.jsonl", 0.98, 0.01, 0.98),
    ("holdout-zh.jsonl", 0.97, 0.01, 0.97),
    ("holdout2-en.jsonl", 0.98, 0.01, 0.98),
    ("holdout2-zh.jsonl", 0.95, 0.01, 0.96),
    ("holdout3-en.jsonl", 0.96, 0.01, 0.96),
    ("holdout3-zh.jsonl", 0.96, 0.01, 0.98),
    ("holdout4-en.jsonl", 0.98, 0.01, 0.98),
    ("holdout4-zh.jsonl", 0.95, 0.01, 0.96),
    ("holdout5-en.jsonl", 0.90, 0.02, 0.97),
    ("holdout5-zh.jsonl", 0.93, 0.03, 0.97),
];

#[derive(Debug, Deserialize)]
struct Item {
    text: String,
    crisis: bool,
    kind: String,
    form: String,
}

struct Scored {
    item: Item,
    risk: u8,
    rules: Vec<String>,
    /// The risk's tone is below −0.05: its negativity raises it.
    negative: bool,
}

fn corpus(name: &str) -> Vec<Item> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/detection").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}:{}: {e}", n + 1)))
        .collect()
}

/// Scores each item as `tocsin score` does: the text as a mention's body, default weights,
/// a source of weight 1.
fn score(rules: &RuleSet, items: Vec<Item>) -> Vec<Scored> {
    let weights = RiskWeights::default();
    items
        .into_iter()
        .map(|item| {
            let mention = Mention {
                feed: "corpus".into(),
                guid: String::new(),
                title: String::new(),
                body: item.text.clone(),
                author: None,
                url: None,
                published: None,
                fetched_at: Utc::now(),
                lang: None,
                engagement: None,
            };
            let scored = analyze(rules, mention, &weights, 1.0);
            let rules = scored.matches.iter().map(|m| m.rule.clone()).collect();
            // The tone the risk read: the sentiment, or the reported event when worse.
            let tone = scored.breakdown["tone"].as_f64().expect("every breakdown has a tone");
            let negative = tone < -NEUTRAL_BAND;
            Scored { item, risk: scored.risk, rules, negative }
        })
        .collect()
}

/// Recall and false positives of one corpus file, printed with every miss and false alarm.
struct Figures {
    crisis: usize,
    recall: f64,
    matched: f64,
    benign: usize,
    false_positives: f64,
    /// Shares of crisis and benign items that read negative.
    negative: f64,
    benign_negative: f64,
}

fn measure(name: &str, scored: &[Scored]) -> Figures {
    let share = |hits: usize, of: usize| if of == 0 { 0.0 } else { hits as f64 / of as f64 };
    let crisis: Vec<&Scored> = scored.iter().filter(|s| s.item.crisis).collect();
    let benign: Vec<&Scored> = scored.iter().filter(|s| !s.item.crisis).collect();
    let caught = crisis.iter().filter(|s| s.risk >= OPEN_AT).count();
    let matched = crisis.iter().filter(|s| !s.rules.is_empty()).count();
    let alarms = benign.iter().filter(|s| s.risk >= OPEN_AT).count();
    let figures = Figures {
        crisis: crisis.len(),
        recall: share(caught, crisis.len()),
        matched: share(matched, crisis.len()),
        benign: benign.len(),
        false_positives: share(alarms, benign.len()),
        negative: share(crisis.iter().filter(|s| s.negative).count(), crisis.len()),
        benign_negative: share(benign.iter().filter(|s| s.negative).count(), benign.len()),
    };
    let goal = if figures.recall >= GOAL_RECALL && figures.false_positives <= GOAL_FALSE_POSITIVES {
        "goal met"
    } else {
        "goal not met"
    };
    println!(
        "{name}: crisis {} recall@60 {:.3} (any rule {:.3}); benign {} false positives@60 {:.3}; {goal}",
        figures.crisis, figures.recall, figures.matched, figures.benign, figures.false_positives
    );
    let goal = if figures.negative >= GOAL_NEGATIVE { "goal met" } else { "goal not met" };
    println!(
        "{name}: crisis read negative {:.3}; benign read negative {:.3}; {goal}",
        figures.negative, figures.benign_negative
    );
    let mut by_kind: BTreeMap<(bool, &str), (usize, usize)> = BTreeMap::new();
    for s in scored {
        let entry = by_kind.entry((s.item.crisis, s.item.kind.as_str())).or_default();
        entry.0 += 1;
        if s.risk >= OPEN_AT {
            entry.1 += 1;
        }
    }
    for ((crisis, kind), (n, hits)) in &by_kind {
        let label = if *crisis { "crisis" } else { "benign" };
        println!("  {label:6} {kind:20} {hits:3}/{n:<3} at 60+");
    }
    for s in crisis.iter().filter(|s| s.risk < OPEN_AT) {
        println!("  MISS  [{} {} risk {} {:?}] {}", s.item.kind, s.item.form, s.risk, s.rules, s.item.text);
    }
    for s in benign.iter().filter(|s| s.risk >= OPEN_AT) {
        println!("  ALARM [{} {} risk {} {:?}] {}", s.item.kind, s.item.form, s.risk, s.rules, s.item.text);
    }
    figures
}

/// Scores every file of `lang` (its name ends in `{lang}.jsonl`) and holds it to its floors.
fn holds_the_goals(lang: &str) {
    let rules = RuleSet::bundled();
    let mut failures = Vec::new();
    let files: Vec<_> = FLOORS.iter().filter(|(name, ..)| name.ends_with(&format!("{lang}.jsonl"))).collect();
    assert!(files.len() >= 6, "{lang}: {} files", files.len());
    for &&(name, least_recall, most_false_positives, least_negative) in &files {
        let items = corpus(name);
        let figures = measure(name, &score(&rules, items));
        if !name.starts_with("holdout") {
            assert!(
                figures.crisis >= 100 && figures.benign >= 100 && figures.crisis + figures.benign >= 300,
                "{name} is too small to judge by"
            );
        }
        if figures.recall < least_recall {
            failures.push(format!("{name}: recall@60 {:.3} < {least_recall}", figures.recall));
        }
        if figures.false_positives > most_false_positives {
            failures
                .push(format!("{name}: false positives@60 {:.3} > {most_false_positives}", figures.false_positives));
        }
        if figures.negative < least_negative {
            failures.push(format!("{name}: crisis read negative {:.3} < {least_negative}", figures.negative));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_bundled_packs_catch_english_crises_and_stay_quiet_on_benign_text() {
    holds_the_goals("en");
}

#[test]
fn the_bundled_packs_catch_chinese_crises_and_stay_quiet_on_benign_text() {
    holds_the_goals("zh");
}

#[test]
fn every_corpus_file_has_its_floors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/detection");
    for entry in std::fs::read_dir(&dir).expect("the corpus folder") {
        let name = entry.expect("an entry").file_name().to_string_lossy().into_owned();
        assert!(FLOORS.iter().any(|(file, ..)| *file == name), "{name} is in the corpus but judged by no test");
    }
}

/// Every file, the blind one included, meets the goals: a floor may rise, but lowering one
/// below a goal to let a change through fails here.
#[test]
fn no_floor_sits_below_the_goals() {
    for &(name, least_recall, most_false_positives, least_negative) in FLOORS {
        assert!(least_recall >= GOAL_RECALL, "{name}: recall floor {least_recall} < goal {GOAL_RECALL}");
        assert!(
            most_false_positives <= GOAL_FALSE_POSITIVES,
            "{name}: false-positive ceiling {most_false_positives} > goal {GOAL_FALSE_POSITIVES}"
        );
        assert!(least_negative >= GOAL_NEGATIVE, "{name}: negativity floor {least_negative} < goal {GOAL_NEGATIVE}");
    }
}
