//! Rule matching throughput: 1,000 generated rules over 20,000 terms (half Chinese) on a
//! generated mix of English, Chinese and mixed mentions, against a regex-per-rule baseline.
//!
//! Everything is generated from a fixed seed with a small xorshift PRNG, so two runs see the
//! same rules and the same mentions.
//!
//! - Terms: 10,000 Chinese terms of 2-4 characters drawn from ~500 common simplified
//!   characters, and 10,000 English terms (pseudo-words built from syllables; one in ten is
//!   a quoted two-word phrase). All 20,000 are distinct and none is an English filler word.
//! - Rules: rule `i` uses terms `20i..20i+20` of the shuffled term list, as
//!   `(a1 OR ... OR a17) AND (b1 OR b2) AND NOT c1`.
//! - Mentions: 2,000, title plus a 200-2,000 byte body; 40% English, 40% Chinese, 20% mixed
//!   (Latin words inside Chinese sentences, sometimes with no space). Half of them have
//!   1-3 "topical" insertions: a term of group `a` of a random rule, usually a term of its
//!   group `b`, sometimes its `NOT` term. Chinese filler also hits short Chinese terms by
//!   chance, as real text does.
//! - Baseline: per rule, one `regex::Regex` per group (`(?i)(?:t1|t2|...)`, Latin terms
//!   wrapped in ASCII word boundaries, CJK terms as substrings), evaluated like the rule with
//!   short-circuit: group `a` on title then body, `b` only if `a` matched, the `NOT` group
//!   only if both did. That is a stronger baseline than one regex per rule: each group can
//!   use `is_match`, which stops at the first hit, and no capture groups are needed.
//! - The bundled packs (`rules/`, with their `NEAR` and `SENTENCE` queries) run on the same
//!   mentions with the brand written into every body, so every body has hits, its
//!   positions are worked out and Chinese text goes through the word segmenter: the
//!   per-mention cost a real crisis pack adds, for English and for Chinese text; beside
//!   them, the crisis model alone on the same mentions, since every analysed mention is
//!   read by it.
//! - Each measurement is a full pass over all mentions, repeated `TOCSIN_BENCH_PASSES`
//!   times (default 3) after one untimed pass; the fastest pass is reported.
//!
//! ```text
//! cargo bench --bench rules
//! TOCSIN_BENCH_PASSES=5 cargo bench --bench rules
//! ```
//!
//! The last line is machine-readable: `RESULT key=value ...`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use regex::Regex;
use tocsin::analyze::{BrandSpec, Brands, RuleSet};
use tocsin::ingest::Mention;

const SEED: u64 = 0x7_0c51_2024;
const RULES: usize = 1_000;
const FEW_RULES: usize = 10;
/// The generated rules have no sentiment bounds, so the score passed to `scan` is moot:
/// the bench measures matching alone.
const NO_SENTIMENT: f64 = 0.0;
const TERMS_PER_RULE: usize = 20;
const GROUP_A: usize = 17;
const GROUP_B: usize = 2;
const MENTIONS: usize = 2_000;

/// Common simplified characters, roughly by frequency (filler favours the front).
const COMMON_HAN: &str = "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从知现长但己力外意些正新想开样问很最实体全回高部重做明等由老些把条门物间相手题常何通头真美活总比已向做给利北期问南放提路展接金议强建品程西东位车各员特政度性务先区元反况再制便团安目百直报象造各线色况教感该受反比身建次整连近众布思全件入代质合器平入影院世果变务信况界并料运加产计战";

const CN_PUNCT: [&str; 5] = ["，", "。", "！", "？", "、"];
const EN_STOP: [&str; 24] = [
    "the", "a", "of", "and", "to", "in", "is", "was", "for", "on", "with", "that", "it", "as", "at", "by", "this",
    "from", "we", "they", "our", "after", "about", "their",
];

/// xorshift64*: small, fast and good enough to shuffle test data reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (the modulo bias is irrelevant here).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, lo: usize, hi_inclusive: usize) -> usize {
        lo + self.below(hi_inclusive - lo + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// Skewed towards 0: the square of a uniform number, for frequency-like picks.
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u) * n as f64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[derive(Clone)]
struct BenchTerm {
    /// The text to find: a word, a two-word phrase or a Chinese string.
    text: String,
    latin: bool,
}

impl BenchTerm {
    fn in_query(&self) -> String {
        if self.text.contains(' ') { format!("\"{}\"", self.text) } else { self.text.clone() }
    }

    fn in_regex(&self) -> String {
        let escaped = regex::escape(&self.text);
        if self.latin { format!(r"(?-u:\b){escaped}(?-u:\b)") } else { escaped }
    }
}

struct BenchRule {
    a: Vec<BenchTerm>,
    b: Vec<BenchTerm>,
    not: BenchTerm,
}

impl BenchRule {
    fn query(&self) -> String {
        let group = |terms: &[BenchTerm]| terms.iter().map(BenchTerm::in_query).collect::<Vec<_>>().join(" OR ");
        format!("({}) AND ({}) AND NOT {}", group(&self.a), group(&self.b), self.not.in_query())
    }
}

fn pseudo_word(rng: &mut Rng) -> String {
    const ONSETS: [&str; 22] = [
        "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "st", "tr",
        "gl",
    ];
    const VOWELS: [&str; 7] = ["a", "e", "i", "o", "u", "ai", "ou"];
    const CODAS: [&str; 7] = ["", "", "n", "r", "s", "t", "l"];
    let mut word = String::new();
    for _ in 0..rng.range(2, 3) {
        word.push_str(ONSETS[rng.below(ONSETS.len())]);
        word.push_str(VOWELS[rng.below(VOWELS.len())]);
        word.push_str(CODAS[rng.below(CODAS.len())]);
    }
    word
}

fn is_reserved(word: &str) -> bool {
    // Operators are upper-case only, but keep clear of them anyway.
    ["and", "or", "not", "near", "except"].contains(&word) || EN_STOP.contains(&word)
}

struct World {
    han: Vec<char>,
    filler_words: Vec<String>,
    rules: Vec<BenchRule>,
    term_count: usize,
}

fn generate_world(rng: &mut Rng) -> World {
    let mut han: Vec<char> = Vec::new();
    for c in COMMON_HAN.chars() {
        if !han.contains(&c) {
            han.push(c);
        }
    }

    let mut seen: HashSet<String> = HashSet::new();
    let mut filler_words = Vec::new();
    while filler_words.len() < 3_000 {
        let w = pseudo_word(rng);
        if !is_reserved(&w) && seen.insert(w.clone()) {
            filler_words.push(w);
        }
    }

    let half = RULES * TERMS_PER_RULE / 2;
    let mut terms: Vec<BenchTerm> = Vec::with_capacity(2 * half);
    let mut english_words: HashSet<String> = HashSet::new();
    while terms.len() < half {
        let w = pseudo_word(rng);
        if is_reserved(&w) || seen.contains(&w) {
            continue;
        }
        let text = if rng.chance(10) {
            let second = pseudo_word(rng);
            if is_reserved(&second) || seen.contains(&second) {
                continue;
            }
            english_words.insert(second.clone());
            format!("{w} {second}")
        } else {
            w.clone()
        };
        english_words.insert(w);
        if seen.insert(text.clone()) {
            terms.push(BenchTerm { text, latin: true });
        }
    }
    // A filler word must never be a term word, or filler would hit phrases' halves too;
    // the words of phrases only ever appear as part of their phrase.
    filler_words.retain(|w| !english_words.contains(w));
    while terms.len() < 2 * half {
        let len = rng.range(2, 4);
        let text: String = (0..len).map(|_| han[rng.below(han.len())]).collect();
        if seen.insert(text.clone()) {
            terms.push(BenchTerm { text, latin: false });
        }
    }
    rng.shuffle(&mut terms);

    let rules = terms
        .chunks(TERMS_PER_RULE)
        .map(|chunk| BenchRule {
            a: chunk[..GROUP_A].to_vec(),
            b: chunk[GROUP_A..GROUP_A + GROUP_B].to_vec(),
            not: chunk[GROUP_A + GROUP_B].clone(),
        })
        .collect();
    World { han, filler_words, rules, term_count: terms.len() }
}

#[derive(Clone, Copy, PartialEq)]
enum Lang {
    English,
    Chinese,
    Mixed,
}

impl World {
    fn english_sentence(&self, rng: &mut Rng, out: &mut String) {
        let words = rng.range(6, 16);
        for i in 0..words {
            if i > 0 {
                out.push(' ');
            }
            let word = if rng.chance(40) {
                EN_STOP[rng.skewed(EN_STOP.len())]
            } else {
                &self.filler_words[rng.skewed(self.filler_words.len())]
            };
            if i == 0 {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(chars.as_str());
                }
            } else {
                out.push_str(word);
            }
        }
        out.push_str(if rng.chance(85) { ". " } else { "! " });
    }

    fn chinese_sentence(&self, rng: &mut Rng, out: &mut String, mixed: bool) {
        let chars = rng.range(8, 30);
        for i in 0..chars {
            if mixed && rng.chance(8) {
                // Latin words in Chinese text come with or without surrounding spaces.
                let spaced = rng.chance(50);
                if spaced {
                    out.push(' ');
                }
                out.push_str(&self.filler_words[rng.skewed(self.filler_words.len())]);
                if spaced {
                    out.push(' ');
                }
            }
            out.push(self.han[rng.skewed(self.han.len())]);
            if i + 1 < chars && rng.chance(6) {
                out.push('，');
            }
        }
        out.push_str(CN_PUNCT[rng.below(2) + 1]);
    }

    fn sentence(&self, rng: &mut Rng, lang: Lang, out: &mut String) {
        match lang {
            Lang::English => self.english_sentence(rng, out),
            Lang::Chinese => self.chinese_sentence(rng, out, false),
            Lang::Mixed => {
                if rng.chance(30) {
                    self.english_sentence(rng, out);
                } else {
                    self.chinese_sentence(rng, out, true);
                }
            }
        }
    }

    /// Puts a term at a sentence boundary of `text`, spaced so Latin terms stay whole words.
    fn insert_term(&self, rng: &mut Rng, text: &mut String, term: &BenchTerm) {
        let bounds: Vec<usize> = text
            .char_indices()
            .filter(|&(_, c)| c == ' ' || c == '。' || c == '，')
            .map(|(i, c)| i + c.len_utf8())
            .collect();
        let at = if bounds.is_empty() { text.len() } else { bounds[rng.below(bounds.len())] };
        let piece = if term.latin { format!(" {} ", term.text) } else { term.text.clone() };
        text.insert_str(at, &piece);
    }

    fn mention(&self, rng: &mut Rng, index: usize) -> Mention {
        let lang = match rng.below(10) {
            0..=3 => Lang::English,
            4..=7 => Lang::Chinese,
            _ => Lang::Mixed,
        };
        let mut title = String::new();
        self.sentence(rng, lang, &mut title);
        title.truncate(title.char_indices().map(|(i, _)| i).nth(60).unwrap_or(title.len()));
        let target = rng.range(200, 2_000);
        let mut body = String::new();
        while body.len() < target {
            self.sentence(rng, lang, &mut body);
        }
        if rng.chance(50) {
            for _ in 0..rng.range(1, 3) {
                let rule = &self.rules[rng.below(self.rules.len())];
                let a = &rule.a[rng.below(rule.a.len())];
                let into_title = rng.chance(20);
                self.insert_term(rng, if into_title { &mut title } else { &mut body }, a);
                if rng.chance(70) {
                    let b = &rule.b[rng.below(rule.b.len())];
                    self.insert_term(rng, &mut body, b);
                }
                if rng.chance(20) {
                    self.insert_term(rng, &mut body, &rule.not);
                }
            }
        }
        let fetched_at = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        Mention {
            feed: "bench".to_string(),
            guid: format!("bench-{index}"),
            title,
            body,
            author: None,
            url: None,
            published: Some(fetched_at),
            fetched_at,
            lang: Some(match lang {
                Lang::English => "en".to_string(),
                Lang::Chinese | Lang::Mixed => "zh".to_string(),
            }),
            engagement: None,
        }
    }
}

fn rule_file(rules: &[BenchRule]) -> String {
    let mut toml = String::new();
    for (i, rule) in rules.iter().enumerate() {
        // Queries hold double quotes (phrases) but never single quotes: a literal string fits.
        let _ = writeln!(
            toml,
            "[[rule]]\nid = \"r{i:04}\"\ntitle = \"bench rule {i}\"\nquery = '{}'\nseverity = 50\ncrisis_type = \"product_quality\"\n",
            rule.query()
        );
    }
    toml
}

fn build_ruleset(rules: &[BenchRule]) -> RuleSet {
    let sources = [("bench.toml".to_string(), rule_file(rules))];
    RuleSet::from_sources(&sources, &[]).unwrap_or_else(|e| panic!("generated rules do not load:\n{e}"))
}

struct Baseline {
    /// Per rule: group `a`, group `b`, the `NOT` term.
    rules: Vec<[Regex; 3]>,
}

impl Baseline {
    fn build(rules: &[BenchRule]) -> Baseline {
        let group = |terms: &[BenchTerm]| {
            let alternation = terms.iter().map(BenchTerm::in_regex).collect::<Vec<_>>().join("|");
            Regex::new(&format!("(?i)(?:{alternation})")).expect("baseline regex")
        };
        let rules = rules.iter().map(|r| [group(&r.a), group(&r.b), group(std::slice::from_ref(&r.not))]).collect();
        Baseline { rules }
    }

    fn scan(&self, mention: &Mention) -> Vec<usize> {
        let hit = |re: &Regex| re.is_match(&mention.title) || re.is_match(&mention.body);
        let mut out = Vec::new();
        for (i, [a, b, not]) in self.rules.iter().enumerate() {
            if hit(a) && hit(b) && !hit(not) {
                out.push(i);
            }
        }
        out
    }
}

/// The mention with the bundled brand written into its body at a random word boundary.
fn with_brand(rng: &mut Rng, mention: &Mention) -> Mention {
    let brand = if mention.lang.as_deref() == Some("en") { " Acme " } else { "艾克米" };
    let mut body = mention.body.clone();
    let boundaries: Vec<usize> =
        body.char_indices().map(|(i, _)| i).filter(|&i| body[..i].ends_with([' ', '，', '。'])).collect();
    let at = if boundaries.is_empty() { 0 } else { boundaries[rng.below(boundaries.len())] };
    body.insert_str(at, brand);
    Mention { body, ..mention.clone() }
}

fn engine_matches(set: &RuleSet, mention: &Mention) -> Vec<usize> {
    set.scan(mention, NO_SENTIMENT).iter().map(|m| m.rule[1..].parse::<usize>().expect("bench rule id")).collect()
}

/// Runs `scan` over every mention `passes` times after one untimed pass; returns the fastest
/// pass in seconds and the number of matches seen in a pass.
fn measure(passes: u32, mentions: &[Mention], mut scan: impl FnMut(&Mention) -> usize) -> (f64, usize) {
    let matches: usize = mentions.iter().map(&mut scan).sum();
    let mut best = f64::INFINITY;
    for _ in 0..passes {
        let start = Instant::now();
        for m in mentions {
            black_box(scan(black_box(m)));
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    (best, matches)
}

fn main() {
    let passes: u32 = std::env::var("TOCSIN_BENCH_PASSES").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let mut rng = Rng(SEED);

    let t = Instant::now();
    let world = generate_world(&mut rng);
    let mentions: Vec<Mention> = (0..MENTIONS).map(|i| world.mention(&mut rng, i)).collect();
    let bytes: usize = mentions.iter().map(|m| m.title.len() + m.body.len()).sum();
    let generate_s = t.elapsed().as_secs_f64();
    let count = |lang: &str| mentions.iter().filter(|m| m.lang.as_deref() == Some(lang)).count();
    println!(
        "data        {} rules, {} distinct terms ({} per rule), {} mentions ({} en, {} zh or mixed), {:.2} MB, generated in {:.2}s",
        world.rules.len(),
        world.term_count,
        TERMS_PER_RULE,
        mentions.len(),
        count("en"),
        count("zh"),
        bytes as f64 / 1e6,
        generate_s,
    );

    let t = Instant::now();
    let full = build_ruleset(&world.rules);
    let build_full_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let few = build_ruleset(&world.rules[..FEW_RULES]);
    let build_few_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let baseline = Baseline::build(&world.rules);
    let build_baseline_s = t.elapsed().as_secs_f64();

    // Agreement: the generated text has no case tricks beyond capitals, no full-width forms
    // and no Traditional characters, so both should find the same (mention, rule) pairs.
    let mut disagree = 0usize;
    let mut first_disagreement = None;
    for (i, m) in mentions.iter().enumerate() {
        let ours = engine_matches(&full, m);
        let theirs = baseline.scan(m);
        if ours != theirs {
            disagree += 1;
            if first_disagreement.is_none() {
                first_disagreement = Some((i, ours, theirs));
            }
        }
    }

    let (full_s, full_matches) = measure(passes, &mentions, |m| full.scan(m, NO_SENTIMENT).len());
    let (few_s, few_matches) = measure(passes, &mentions, |m| few.scan(m, NO_SENTIMENT).len());
    let (base_s, base_matches) = measure(passes, &mentions, |m| baseline.scan(m).len());

    let n = mentions.len() as f64;
    let mb = bytes as f64 / 1e6;
    println!("passes      {passes} timed (+1 untimed) per row, fastest pass shown");
    println!();
    println!(
        "{:<28} {:>6} {:>9} {:>9} {:>10} {:>12} {:>12} {:>8}",
        "matcher", "rules", "build s", "pass s", "MB/s", "mentions/s", "us/mention", "matches"
    );
    let row = |name: &str, rules: usize, build: f64, pass: f64, matches: usize| {
        println!(
            "{:<28} {:>6} {:>9.3} {:>9.4} {:>10.2} {:>12.0} {:>12.2} {:>8}",
            name,
            rules,
            build,
            pass,
            mb / pass,
            n / pass,
            pass / n * 1e6,
            matches
        );
    };
    row("tocsin RuleSet::scan", RULES, build_full_s, full_s, full_matches);
    row("tocsin RuleSet::scan", FEW_RULES, build_few_s, few_s, few_matches);
    row("regex per rule group", RULES, build_baseline_s, base_s, base_matches);
    println!();
    let speedup = base_s / full_s;
    let rule_ratio = full_s / few_s;
    println!("speed-up    tocsin vs regex baseline, 1,000 rules: {speedup:.1}x   (goal >= 50x)");
    println!("scaling     time per mention, 1,000 rules / 10 rules: {rule_ratio:.2}x   (goal <= 2x)");
    println!(
        "agreement   {disagree} of {} mentions where tocsin and the baseline match different rules",
        mentions.len()
    );
    if let Some((i, ours, theirs)) = first_disagreement {
        println!("            first: mention {i}: tocsin {ours:?}, baseline {theirs:?}");
        let m = &mentions[i];
        for hit in
            full.scan(m, NO_SENTIMENT).iter().filter(|r| !theirs.contains(&r.rule[1..].parse().unwrap_or(usize::MAX)))
        {
            for t in &hit.terms {
                let text = if t.field == tocsin::analyze::Field::Title { &m.title } else { &m.body };
                let lo = text.floor_char_boundary(t.start.saturating_sub(12));
                let hi = text.ceil_char_boundary((t.end + 12).min(text.len()));
                println!(
                    "            {} {:?} {} at {}..{}: {:?}",
                    hit.rule,
                    t.term,
                    t.field,
                    t.start,
                    t.end,
                    &text[lo..hi]
                );
            }
        }
    }
    println!();
    let packs = RuleSet::bundled();
    let branded: Vec<Mention> = mentions.iter().map(|m| with_brand(&mut rng, m)).collect();
    let english: Vec<Mention> = branded.iter().filter(|m| m.lang.as_deref() == Some("en")).cloned().collect();
    let chinese: Vec<Mention> = branded.iter().filter(|m| m.lang.as_deref() == Some("zh")).cloned().collect();
    let (packs_en_s, packs_en_matches) = measure(passes, &english, |m| packs.scan(m, NO_SENTIMENT).len());
    let (packs_zh_s, packs_zh_matches) = measure(passes, &chinese, |m| packs.scan(m, NO_SENTIMENT).len());
    let packs_en_us = packs_en_s / english.len() as f64 * 1e6;
    let packs_zh_us = packs_zh_s / chinese.len() as f64 * 1e6;
    println!(
        "packs       bundled, {} rules, brand in every body: English {packs_en_us:.1} us/mention ({} mentions, {packs_en_matches} matches), Chinese and mixed {packs_zh_us:.1} us/mention ({} mentions, {packs_zh_matches} matches, segmented)",
        packs.rules().len(),
        english.len(),
        chinese.len(),
    );
    // The crisis model reads every mention analysed (the packs' veto, the tone), so its cost
    // is beside theirs; the count above even odds shows it read the text.
    let (crisis_en_s, crisis_en_above) = measure(passes, &english, |m| usize::from(packs.crisis_probability(m) > 0.5));
    let (crisis_zh_s, crisis_zh_above) = measure(passes, &chinese, |m| usize::from(packs.crisis_probability(m) > 0.5));
    let crisis_en_us = crisis_en_s / english.len() as f64 * 1e6;
    let crisis_zh_us = crisis_zh_s / chinese.len() as f64 * 1e6;
    println!(
        "crisis      model alone: English {crisis_en_us:.1} us/mention ({crisis_en_above} above 0.5), Chinese and mixed {crisis_zh_us:.1} us/mention ({crisis_zh_above} above 0.5)"
    );
    // Five configured brands: each mention names one of them, so it is judged once (the
    // spotter finds which), and costs what one brand's packs and model cost, plus the spotter.
    let specs: Vec<BrandSpec> = [
        ("acme", "Acme", "艾克米"),
        ("globex", "Globex", "吉博"),
        ("initech", "Initech", "英尼泰"),
        ("umbrella", "Umbrella", "安布雷拉"),
        ("hooli", "Hooli", "胡力"),
    ]
    .iter()
    .map(|(name, en, zh)| BrandSpec {
        name: (*name).into(),
        names: vec![(*en).into(), (*zh).into()],
        exclude: Vec::new(),
        competitor: false,
    })
    .collect();
    let brands = Brands::new(&packs, &specs, []).expect("the packs compile for five brands");
    let single = |m: &Mention| {
        let crisis = packs.crisis_probability(m);
        packs.scan_with(m, NO_SENTIMENT, || crisis).len()
    };
    let (single_s, single_matches) = measure(passes, &branded, single);
    let (brands_s, brands_matches) = measure(passes, &branded, |m| brands.judge(&packs, m, NO_SENTIMENT).matches.len());
    assert_eq!(brands_matches, single_matches, "five brands judge a mention naming one as one brand does");
    let brands_ratio = brands_s / single_s;
    println!(
        "brands      5 configured, each mention naming one: {:.1} us/mention against {:.1} with no [[brand]] ({brands_ratio:.2}x, {brands_matches} matches in both)",
        brands_s / branded.len() as f64 * 1e6,
        single_s / branded.len() as f64 * 1e6,
    );
    println!(
        "RESULT rules={RULES} terms={} mentions={} bytes={bytes} passes={passes} tocsin_s={full_s:.6} tocsin_mb_s={:.3} tocsin_mentions_s={:.1} few_rules_s={few_s:.6} baseline_s={base_s:.6} baseline_mb_s={:.3} speedup={speedup:.2} rule_ratio={rule_ratio:.3} disagree={disagree} packs_en_us={packs_en_us:.2} packs_zh_us={packs_zh_us:.2} crisis_en_us={crisis_en_us:.2} crisis_zh_us={crisis_zh_us:.2} brands_ratio={brands_ratio:.3}",
        world.term_count,
        mentions.len(),
        mb / full_s,
        n / full_s,
        mb / base_s,
    );
}
