//! Feeds arbitrary bytes to the push API's body handling and the analysis behind it.
//!
//! As `POST /api/v1/mentions` does: the bytes are parsed as a `PushBody` (one mention or a
//! list), each input becomes a `Mention` (identity from id, url or a hash of the text), and
//! each mention is analyzed against the bundled rules (language, sentiment, rule scan, risk),
//! the pure part of the pipeline before the store. Any panic, overflow or runaway allocation
//! is a bug: a hostile body must be a 400 or a scored mention.

#![no_main]

use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use tocsin::analyze::risk::RiskWeights;
use tocsin::analyze::{RuleSet, analyze};
use tocsin::ingest::push::PushBody;

fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(RuleSet::bundled)
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<PushBody>(data) else {
        return;
    };
    let now = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
    let weights = RiskWeights::default();
    for (index, input) in body.into_inputs().into_iter().enumerate() {
        if let Ok(mention) = input.into_mention(index, now) {
            let scored = analyze(rules(), mention, &weights, 1.0);
            assert!(scored.risk <= 100, "risk {} out of range", scored.risk);
        }
    }
});
