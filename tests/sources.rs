//! Saved samples of every source a `[[watch]]` derives parse into mentions the rules can read.

use std::path::Path;

use tocsin::analyze::{RuleSet, analyze};
use tocsin::ingest::parse::parse_feed;

#[test]
fn each_watch_source_format_parses_and_its_crisis_item_matches_a_rule() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sources");
    let rules = RuleSet::bundled();
    let expected = [
        ("google-news.xml", "Acme yogurt linked to food poisoning cases in Ohio - Daily Herald", "food-safety"),
        ("bing-news.xml", "Acme recalls 20,000 strollers over faulty brake", "product-recall"),
        ("reddit.xml", "Acme yogurt gave my kids food poisoning", "food-safety"),
        ("hackernews.xml", "Acme confirms data breach affecting 2M customers", "data-breach"),
        ("rsshub-weibo.xml", "网友称喝了艾克米酸奶后食物中毒，孩子上吐下泻", "food-safety"),
    ];
    for (file, title, rule) in expected {
        let bytes = std::fs::read(dir.join(file)).expect("sample");
        let parsed =
            parse_feed("watch", &bytes, None, None, chrono::Utc::now()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(parsed.items.len(), 1, "{file}");
        let mention = parsed.items[0].clone();
        assert_eq!(mention.title, title, "{file}");
        assert!(mention.url.as_deref().is_some_and(|u| u.starts_with("http")), "{file}: {:?}", mention.url);
        assert!(mention.published.is_some(), "{file}: date read");
        assert!(!mention.body.contains('<'), "{file}: HTML removed from the body: {}", mention.body);
        let scored = analyze(&rules, mention, &Default::default(), 1.0);
        assert!(scored.matches.iter().any(|m| m.rule == rule), "{file}: expected {rule}, got {:?}", scored.matches);
    }
}
