//! Feeds arbitrary bytes to the rule query parser and, when a query parses, to the matcher.
//!
//! Every UTF-8 input goes to `query::parse`. The same text is then made the query of a
//! one-rule file, loaded with `RuleSet::from_sources` (with a few small lists, so `@name`
//! terms can resolve) and scanned against a fixed mixed English/Chinese mention, so the
//! automaton build, the regex set and the boolean evaluation are fuzzed too.
//! Any panic, overflow or runaway allocation is a bug: each step must return `Ok`/`Err`
//! or a (possibly empty) list of matches.

#![no_main]

use std::fmt::Write as _;
use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use tocsin::analyze::RuleSet;
use tocsin::analyze::query;
use tocsin::ingest::Mention;

fn lists() -> &'static [(String, String, String)] {
    static LISTS: OnceLock<Vec<(String, String, String)>> = OnceLock::new();
    LISTS.get_or_init(|| {
        [
            ("brand", "acme\nAcme Corp\n艾克美\n# comment\n"),
            ("food_safety", "food poisoning\n食物中毒\n拉肚子\nsalmonella\n"),
            ("names", "成功 -郑成功\nrecall*\n"),
        ]
        .into_iter()
        .map(|(name, content)| (name.to_string(), format!("lists/{name}.txt"), content.to_string()))
        .collect()
    })
}

fn mention() -> &'static Mention {
    static MENTION: OnceLock<Mention> = OnceLock::new();
    MENTION.get_or_init(|| {
        let fetched_at = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        Mention {
            feed: "weibo-hot".to_string(),
            guid: "fuzz-1".to_string(),
            title: "ACME recall: 艾克美酸奶 食物中毒 (Ｆｕｌｌ-ｗｉｄｔｈ) 食品安全".to_string(),
            body: "My kid got food poisoning after eating Acme yogurt. 网友称喝了艾克美酸奶后拉肚子，\
                   食*物 中·毒 疑似沙门氏菌；郑成功 is a historical name, 成功 is success. \
                   Recalled, recalls, re\u{200b}call. 食品質量問題 overnight oats recipe 菜谱 🍜 e\u{301}te\u{301}."
                .to_string(),
            author: Some("李明 (@liming)".to_string()),
            url: Some("https://example.com/a/1".to_string()),
            published: Some(fetched_at),
            fetched_at,
            lang: Some("zh".to_string()),
            engagement: None,
        }
    })
}

/// A TOML basic string holding `s` exactly.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{0}'..='\u{1f}' | '\u{7f}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = query::parse(text);
    let rule_file = format!(
        "[[rule]]\nid = \"fuzz\"\ntitle = \"fuzz\"\nquery = {}\nseverity = 50\ncrisis_type = \"product_quality\"\n",
        toml_string(text)
    );
    let loaded = RuleSet::from_sources(&[("fuzz.toml".to_string(), rule_file)], lists());
    // A query that parses should only fail to load for a reason outside the parser
    // (unknown list, bad regex); one that doesn't parse must never load.
    if parsed.is_err() {
        assert!(loaded.is_err(), "query {text:?} fails to parse but the rule loads");
    }
    if let Ok(set) = loaded {
        let matches = set.scan(mention(), 0.0);
        assert!(matches.len() <= 1);
        for m in &matches {
            for hit in &m.terms {
                assert!(hit.start <= hit.end, "hit {hit:?} for query {text:?}");
            }
        }
    }
});
