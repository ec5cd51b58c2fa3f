//! How an incident's facts read to a person, the same in alerts, the dashboard and the
//! review: the "why" as labelled lines, and which feed URLs may become links.

use serde_json::Value;

use super::timeline::Event;

/// A link target only for http(s) URLs with nothing that could break out of an attribute:
/// feed content is untrusted, and a `javascript:` or `data:` URL in an alert or a page must
/// not be one click away.
pub fn safe_href(url: &str) -> Option<&str> {
    let url = url.trim();
    let (scheme, _) = url.split_once(':')?;
    let plain = !url.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'));
    ((scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) && plain).then_some(url)
}

/// The "why" of an incident (the risk breakdown of the mention that set its score, and the
/// spike verdict if volume raised it) as (label, explanation) lines, in reading order:
/// rule, matched terms, each factor of the score with what it multiplies by, the score,
/// then the spike and the story that makes it. Keys this version does not know are shown
/// as they are, so nothing the store holds is hidden.
pub fn why_lines(why: &Value) -> Vec<(String, String)> {
    let Value::Object(map) = why else {
        return match why {
            Value::Null => Vec::new(),
            other => vec![("Why".to_owned(), text(other))],
        };
    };
    let get = |key: &str| map.get(key).filter(|v| !v.is_null());
    let number = |key: &str| get(key).and_then(Value::as_f64);
    let mut lines = Vec::new();
    // Keys explained above the rest; whatever else the why holds follows as it is.
    // A harm of 0 is nothing to explain, so both harm keys count as used from the start.
    // The negativity reads the tone: the sentiment, unless what was reported weighs worse
    // (harm, the crisis model), and then its own line says so after them.
    let event_tone = number("tone").filter(|tone| number("sentiment").is_none_or(|s| (tone - s).abs() > 0.0005));
    let mut used: Vec<&str> = vec!["harm", "harm_events"];
    if event_tone.is_none() {
        used.push("tone");
    }
    let mut line = |label: &str, value: String, keys: &[&'static str]| {
        lines.push((label.to_owned(), value));
        used.extend_from_slice(keys);
    };
    let severity = number("severity");
    match (get("rule"), severity) {
        (Some(rule), Some(severity)) => {
            line("Rule", format!("{}, severity {severity}", text(rule)), &["rule", "severity"])
        }
        (Some(rule), None) => line("Rule", text(rule), &["rule"]),
        (None, Some(severity)) => line("Severity", severity.to_string(), &["severity"]),
        (None, None) => {}
    }
    if let Some(Value::Array(terms)) = get("terms") {
        let mut names: Vec<String> = Vec::new();
        for term in terms {
            let name = term.get("term").map_or_else(|| text(term), text);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        line("Matched", names.join(", "), &["terms"]);
    }
    let negativity = number("negativity").map(|n| format!("risk ×{}", round3(n)));
    let (sentiment_factor, event_factor) = if event_tone.is_some() { (None, negativity) } else { (negativity, None) };
    match (number("sentiment"), sentiment_factor) {
        (Some(sentiment), negativity) => {
            let mood = if sentiment <= -0.05 {
                "negative"
            } else if sentiment >= 0.05 {
                "positive"
            } else {
                "neutral"
            };
            let factor = negativity.map(|n| format!(", {n}")).unwrap_or_default();
            line("Sentiment", format!("{sentiment:+.2} {mood}{factor}"), &["sentiment", "negativity"]);
        }
        (None, Some(negativity)) => line("Negativity", negativity, &["negativity"]),
        (None, None) => {}
    }
    if let Some(harm) = number("harm").filter(|h| *h > 0.0) {
        let events: Vec<String> = match get("harm_events") {
            Some(Value::Array(events)) => events.iter().map(text).collect(),
            _ => Vec::new(),
        };
        line("Harm", format!("{} ({})", round3(harm), events.join(", ")), &[]);
    }
    if let Some(crisis) = number("crisis") {
        line("Crisis model", format!("{} sure it reports a crisis", round3(crisis)), &["crisis"]);
    }
    if let Some(tone) = event_tone {
        let factor = event_factor.map(|n| format!(", {n}")).unwrap_or_default();
        line("Tone", format!("{tone:+.2}: what it reports weighs worse than its words{factor}"), &["tone"]);
    }
    if let Some(weight) = number("source_weight") {
        line("Source weight", format!("×{}", round3(weight)), &["source_weight"]);
    }
    if let Some(engagement) = number("engagement") {
        let note = if engagement == 1.0 { " (none reported)" } else { "" };
        line("Engagement", format!("×{}{note}", round3(engagement)), &["engagement"]);
    }
    if let Some(novelty) = number("novelty") {
        let note = match number("copies") {
            Some(copies) if copies >= 1.0 => format!(" ({copies} earlier copies of this story)"),
            _ => " (first report of its story)".to_owned(),
        };
        line("Novelty", format!("×{}{note}", round3(novelty)), &["novelty", "copies"]);
    }
    if let Some(score) = get("score") {
        line("Score", text(score), &["score"]);
    }
    if let Some(spike) = get("spike").filter(|spike| spike.is_object()) {
        let field = |key: &str| spike.get(key).and_then(Value::as_f64);
        let count = field("in_window").map(|n| format!("{n} in the window, ")).unwrap_or_default();
        let expected = field("expected_per_window").map(|e| format!("{} expected", round3(e))).unwrap_or_default();
        let p = field("p").map(|p| format!(" (p = {p:.1e})")).unwrap_or_default();
        line("Spike", format!("{count}{expected}{p}"), &["spike"]);
        if let Some(story) = spike.get("story") {
            let id = story.get("id").map(text).unwrap_or_default();
            let copies = story.get("copies_in_window").map(text).unwrap_or_default();
            line("Story", format!("#{id}: {copies} copies in the window"), &[]);
        }
    }
    for (key, value) in map.iter().filter(|(key, _)| !used.contains(&key.as_str())) {
        flatten(key, value, &mut lines);
    }
    lines
}

/// An unknown entry as `key: value` lines, nested objects as dotted keys.
fn flatten(key: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (inner, value) in map {
                flatten(&format!("{key}.{inner}"), value, out);
            }
        }
        Value::Null => {}
        other => out.push((key.to_owned(), text(other))),
    }
}

/// One line saying what a timeline event records, from the details the store writes.
pub fn describe(event: &Event) -> String {
    let d = &event.details;
    let get = |key: &str| d.get(key).filter(|v| !v.is_null()).map(text);
    let described = match event.kind.as_str() {
        "opened" => get("rule").zip(get("level")).map(|(rule, level)| {
            let score = get("score").map(|s| format!(", score {s}")).unwrap_or_default();
            format!("opened by rule {rule} at level {level}{score}")
        }),
        // One event per incident and ingest batch: the count, and the first mention described.
        "mentions_attached" => d.get("mentions").and_then(|m| m.get(0)).map(|first| {
            let field = |key: &str| first.get(key).filter(|v| !v.is_null()).map(text);
            let title = field("title").unwrap_or_default();
            let from = field("feed").map(|feed| format!(" from {feed}")).unwrap_or_default();
            match d.get("count").and_then(Value::as_u64).unwrap_or(1) {
                1 => format!("mention attached{from}: {title}"),
                n => format!("{n} mentions attached, the first{from}: {title}"),
            }
        }),
        "level_changed" => get("from").zip(get("to")).map(|(from, to)| format!("level {from} → {to}")),
        "notified" => get("channel").zip(get("result")).map(|(channel, result)| {
            let kind = get("type").map(|k| format!(" {k}")).unwrap_or_default();
            let attempt = get("attempt").map(|a| format!(" attempt {a}")).unwrap_or_default();
            let detail = get("detail").map(|d| format!(" ({d})")).unwrap_or_default();
            format!("{channel}{kind}{attempt}: {result}{detail}")
        }),
        "escalated" => get("level").map(|level| match d.get("channels").and_then(Value::as_array) {
            Some(channels) => {
                let names: Vec<String> = channels.iter().map(text).collect();
                format!("escalated to policy level {level}: {}", names.join(", "))
            }
            None => format!("escalated to policy level {level}"),
        }),
        "acknowledged" | "resolved" | "reopened" => {
            get("from").zip(get("to")).map(|(from, to)| format!("{from} → {to}"))
        }
        "ack_expired" => Some("acknowledged but not resolved within the ack timeout: open again".to_owned()),
        "assigned" => get("assignee").map(|who| format!("assigned to {who}")),
        "note" => get("text"),
        "step_done" => get("title").or_else(|| get("step")).map(|step| match get("note") {
            Some(note) => format!("step done: {step} ({note})"),
            None => format!("step done: {step}"),
        }),
        "step_overdue" => d.get("steps").and_then(Value::as_array).map(|steps| {
            let titles: Vec<String> = steps.iter().map(|s| s.get("title").map_or_else(|| text(s), text)).collect();
            format!("overdue, reminder sent: {}", titles.join("; "))
        }),
        "silenced" => get("value").map(|value| {
            let scope = get("scope").unwrap_or_default();
            let reason = get("reason").unwrap_or_default();
            format!("silence on {scope} {value} holds back openings and rises: {reason}")
        }),
        _ => None,
    };
    described.unwrap_or_else(|| if d.is_null() { String::new() } else { d.to_string() })
}

/// A JSON value as a short piece of text: strings bare, floats rounded to three places.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => n.as_f64().map_or_else(|| n.to_string(), |f| round3(f).to_string()),
        other => other.to_string(),
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_why_reads_as_the_factors_of_the_score_then_the_spike() {
        let why = serde_json::json!({
            "score": 82, "rule": "food-safety", "severity": 70, "sentiment": -0.586, "negativity": 1.1758,
            "crisis": 0.9564, "source_weight": 1.0, "engagement": 1.0, "novelty": 0.465, "copies": 9,
            "terms": [{"term": "food poisoning", "start": 10, "end": 24}, {"term": "food poisoning", "start": 40, "end": 54}],
            "spike": {"in_window": 14, "expected_per_window": 0.31, "p": 1.2e-9, "story": {"id": 123, "copies_in_window": 12}},
            "drill": true, "source": {"feed": "gnews-acme", "tier": null},
        });
        let lines = why_lines(&why);
        let labels: Vec<&str> = lines.iter().map(|(label, _)| label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Rule",
                "Matched",
                "Sentiment",
                "Crisis model",
                "Source weight",
                "Engagement",
                "Novelty",
                "Score",
                "Spike",
                "Story",
                "drill",
                "source.feed"
            ]
        );
        let value = |label: &str| lines.iter().find(|(l, _)| l == label).map(|(_, v)| v.as_str());
        assert_eq!(value("Rule"), Some("food-safety, severity 70"));
        assert_eq!(value("Matched"), Some("food poisoning"));
        assert_eq!(value("Sentiment"), Some("-0.59 negative, risk ×1.176"));
        assert_eq!(value("Crisis model"), Some("0.956 sure it reports a crisis"));
        assert_eq!(value("Novelty"), Some("×0.465 (9 earlier copies of this story)"));
        assert_eq!(value("Spike"), Some("14 in the window, 0.31 expected (p = 1.2e-9)"));
        assert_eq!(value("Story"), Some("#123: 12 copies in the window"));
        assert_eq!(value("drill"), Some("true"));
    }

    #[test]
    fn a_tone_set_by_what_was_reported_has_its_own_line_and_the_factor() {
        let why = serde_json::json!({
            "rule": "crisis-signal", "severity": 60, "sentiment": 0.4, "harm": 0.0, "crisis": 0.95,
            "tone": -0.9, "negativity": 1.27, "score": 76,
        });
        let lines = why_lines(&why);
        let value = |label: &str| lines.iter().find(|(l, _)| l == label).map(|(_, v)| v.as_str());
        assert_eq!(value("Sentiment"), Some("+0.40 positive"), "{lines:?}");
        assert_eq!(value("Tone"), Some("-0.90: what it reports weighs worse than its words, risk ×1.27"));
        // A tone that is the sentiment's adds nothing to say.
        let plain = why_lines(&serde_json::json!({"sentiment": -0.5, "tone": -0.5, "negativity": 1.15}));
        assert_eq!(plain, vec![("Sentiment".to_owned(), "-0.50 negative, risk ×1.15".to_owned())]);
    }

    #[test]
    fn a_why_that_is_not_an_object_is_shown_as_it_is() {
        assert!(why_lines(&Value::Null).is_empty());
        assert_eq!(why_lines(&serde_json::json!("spike")), vec![("Why".to_owned(), "spike".to_owned())]);
    }

    #[test]
    fn only_plain_http_urls_become_links() {
        assert_eq!(safe_href(" https://example.com/a?b=1 "), Some("https://example.com/a?b=1"));
        assert_eq!(safe_href("HTTP://example.com"), Some("HTTP://example.com"));
        for hostile in
            ["javascript:alert(1)", "data:text/html,x", "https://a.com/\"onmouseover=x", "http://a b", "/relative"]
        {
            assert_eq!(safe_href(hostile), None, "{hostile}");
        }
    }
}
