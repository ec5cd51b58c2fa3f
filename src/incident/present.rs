//! How an incident's facts read to a person, the same in alerts, the dashboard and the
//! review: the "why" as labelled lines, and which feed URLs may become links.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::MentionSummary;
use super::timeline::Event;
use crate::lang::Lang;

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
pub fn why_lines(why: &Value, lang: Lang) -> Vec<(String, String)> {
    let t = |en, zh| lang.pick(en, zh);
    let Value::Object(map) = why else {
        return match why {
            Value::Null => Vec::new(),
            other => vec![(t("Why", "原因").to_owned(), text(other))],
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
        (Some(rule), Some(severity)) => line(
            t("Rule", "规则"),
            format!("{}{}{severity}", text(rule), t(", severity ", "，严重度 ")),
            &["rule", "severity"],
        ),
        (Some(rule), None) => line(t("Rule", "规则"), text(rule), &["rule"]),
        (None, Some(severity)) => line(t("Severity", "严重度"), severity.to_string(), &["severity"]),
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
        line(t("Matched", "命中词"), names.join(", "), &["terms"]);
    }
    let negativity = number("negativity").map(|n| format!("{}×{}", t("risk ", "风险 "), round3(n)));
    let (sentiment_factor, event_factor) = if event_tone.is_some() { (None, negativity) } else { (negativity, None) };
    match (number("sentiment"), sentiment_factor) {
        (Some(sentiment), negativity) => {
            let mood = if sentiment <= -0.05 {
                t("negative", "负面")
            } else if sentiment >= 0.05 {
                t("positive", "正面")
            } else {
                t("neutral", "中性")
            };
            let factor = negativity.map(|n| format!("{}{n}", t(", ", "，"))).unwrap_or_default();
            line(t("Sentiment", "情感"), format!("{sentiment:+.2} {mood}{factor}"), &["sentiment", "negativity"]);
        }
        (None, Some(negativity)) => line(t("Negativity", "负面度"), negativity, &["negativity"]),
        (None, None) => {}
    }
    if let Some(harm) = number("harm").filter(|h| *h > 0.0) {
        let events: Vec<String> = match get("harm_events") {
            Some(Value::Array(events)) => events.iter().map(text).collect(),
            _ => Vec::new(),
        };
        let events = events.join(", ");
        line(
            t("Harm", "危害"),
            format!("{} {}", round3(harm), lang.pick(&format!("({events})"), &format!("（{events}）"))),
            &[],
        );
    }
    if let Some(crisis) = number("crisis") {
        let sure = round3(crisis);
        let said = match lang {
            Lang::En => format!("{sure} sure it reports a crisis"),
            Lang::Zh => format!("{sure}（判断其在报道危机的把握）"),
        };
        line(t("Crisis model", "危机模型"), said, &["crisis"]);
    }
    if let Some(tone) = event_tone {
        let factor = event_factor.map(|n| format!("{}{n}", t(", ", "，"))).unwrap_or_default();
        let said = t(": what it reports weighs worse than its words", "：所报道的事比措辞更严重");
        line(t("Tone", "基调"), format!("{tone:+.2}{said}{factor}"), &["tone"]);
    }
    if let Some(weight) = number("source_weight") {
        line(t("Source weight", "来源权重"), format!("×{}", round3(weight)), &["source_weight"]);
    }
    if let Some(engagement) = number("engagement") {
        let note = if engagement == 1.0 { t(" (none reported)", "（未报告）") } else { "" };
        line(t("Engagement", "互动"), format!("×{}{note}", round3(engagement)), &["engagement"]);
    }
    if let Some(novelty) = number("novelty") {
        let note = match (number("copies"), lang) {
            (Some(copies), Lang::En) if copies >= 1.0 => format!(" ({copies} earlier copies of this story)"),
            (Some(copies), Lang::Zh) if copies >= 1.0 => format!("（此前已有 {copies} 条相同报道）"),
            _ => t(" (first report of its story)", "（该报道的首发）").to_owned(),
        };
        line(t("Novelty", "新颖度"), format!("×{}{note}", round3(novelty)), &["novelty", "copies"]);
    }
    if let Some(score) = get("score") {
        line(t("Score", "分数"), text(score), &["score"]);
    }
    if let Some(spike) = get("spike").filter(|spike| spike.is_object()) {
        let field = |key: &str| spike.get(key).and_then(Value::as_f64);
        let count = field("in_window")
            .map(|n| match lang {
                Lang::En => format!("{n} in the window, "),
                Lang::Zh => format!("窗口内 {n} 条，"),
            })
            .unwrap_or_default();
        let expected = field("expected_per_window")
            .map(|e| match lang {
                Lang::En => format!("{} expected", round3(e)),
                Lang::Zh => format!("预期 {} 条", round3(e)),
            })
            .unwrap_or_default();
        let p = field("p").map(|p| format!(" (p = {p:.1e})")).unwrap_or_default();
        line(t("Spike", "突增"), format!("{count}{expected}{p}"), &["spike"]);
        if let Some(story) = spike.get("story") {
            let id = story.get("id").map(text).unwrap_or_default();
            let copies = story.get("copies_in_window").map(text).unwrap_or_default();
            let said = match lang {
                Lang::En => format!("#{id}: {copies} copies in the window"),
                Lang::Zh => format!("#{id}：窗口内 {copies} 条"),
            };
            line(t("Story", "报道"), said, &[]);
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

/// One line saying what a timeline event records, from the details the store writes, in
/// the reader's language (what people wrote, and names, stay as they are).
pub fn describe(event: &Event, lang: Lang) -> String {
    let d = &event.details;
    let get = |key: &str| d.get(key).filter(|v| !v.is_null()).map(text);
    let zh = lang == Lang::Zh;
    let names = |key: &str| {
        d.get(key).and_then(Value::as_array).map(|items| items.iter().map(text).collect::<Vec<_>>().join(", "))
    };
    let described = match event.kind.as_str() {
        "opened" => get("rule").zip(get("level")).map(|(rule, level)| {
            let level = level_word(&level, lang);
            let score = get("score").map(|s| format!("{}{s}", lang.pick(", score ", "，分数 "))).unwrap_or_default();
            if zh {
                format!("由规则 {rule} 开启，级别 {level}{score}")
            } else {
                format!("opened by rule {rule} at level {level}{score}")
            }
        }),
        // One event per incident and ingest batch: the count, and the first mention described.
        "mentions_attached" => d.get("mentions").and_then(|m| m.get(0)).map(|first| {
            let field = |key: &str| first.get(key).filter(|v| !v.is_null()).map(text);
            let title = field("title").unwrap_or_default();
            let feed = field("feed");
            match (d.get("count").and_then(Value::as_u64).unwrap_or(1), zh) {
                (1, false) => {
                    format!("mention attached{}: {title}", feed.map(|f| format!(" from {f}")).unwrap_or_default())
                }
                (n, false) => format!(
                    "{n} mentions attached, the first{}: {title}",
                    feed.map(|f| format!(" from {f}")).unwrap_or_default()
                ),
                (1, true) => format!("新增提及{}：{title}", feed.map(|f| format!("（来自 {f}）")).unwrap_or_default()),
                (n, true) => {
                    format!("新增 {n} 条提及，第一条{}：{title}", feed.map(|f| format!("来自 {f}")).unwrap_or_default())
                }
            }
        }),
        "level_changed" => get("from").zip(get("to")).map(|(from, to)| {
            format!("{}{} → {}", lang.pick("level ", "级别 "), level_word(&from, lang), level_word(&to, lang))
        }),
        "notified" => get("channel").zip(get("result")).map(|(channel, result)| {
            let kind = get("type").map(|k| format!(" {k}")).unwrap_or_default();
            let attempt = get("attempt").map(|a| format!("{}{a}", lang.pick(" attempt ", " 第 "))).unwrap_or_default();
            let attempt = if zh && !attempt.is_empty() { format!("{attempt} 次") } else { attempt };
            // The detail is the delivery's own English account; a delivered notice needs none
            // in Chinese, a failed one keeps it (the receiver's error, as it came).
            let detail =
                get("detail").filter(|_| !(zh && result == "delivered")).map(|d| format!(" ({d})")).unwrap_or_default();
            let result = match (zh, result.as_str()) {
                (true, "delivered") => "已送达".to_owned(),
                (true, "retry") => "将重试".to_owned(),
                (true, "failed") => "失败".to_owned(),
                (true, "rerouted") => "已转至备用渠道".to_owned(),
                _ => result,
            };
            format!("{channel}{kind}{attempt}: {result}{detail}")
        }),
        "escalated" => get("level").map(|level| match (names("channels"), zh) {
            (Some(channels), false) => format!("escalated to policy level {level}: {channels}"),
            (None, false) => format!("escalated to policy level {level}"),
            (Some(channels), true) => format!("升级到策略第 {level} 级：{channels}"),
            (None, true) => format!("升级到策略第 {level} 级"),
        }),
        "acknowledged" | "resolved" | "reopened" => {
            get("from").zip(get("to")).map(|(from, to)| format!("{from} → {to}"))
        }
        "ack_expired" => Some(
            lang.pick(
                "acknowledged but not resolved within the ack timeout: open again",
                "已确认但未在确认时限内解决：重新变为待处理",
            )
            .to_owned(),
        ),
        "assigned" => get("assignee").map(|who| format!("{}{who}", lang.pick("assigned to ", "指派给 "))),
        "note" => get("text"),
        "status_update" => get("text").map(|update| match (names("channels").filter(|c| !c.is_empty()), zh) {
            (Some(channels), false) => format!("status update to {channels}: {update}"),
            (None, false) => format!("status update (no channel to send it to): {update}"),
            (Some(channels), true) => format!("状态通报发送至 {channels}：{update}"),
            (None, true) => format!("状态通报（没有可发送的渠道）：{update}"),
        }),
        "step_done" => get("title").or_else(|| get("step")).map(|step| match (get("note"), zh) {
            (Some(note), false) => format!("step done: {step} ({note})"),
            (None, false) => format!("step done: {step}"),
            (Some(note), true) => format!("步骤完成：{step}（{note}）"),
            (None, true) => format!("步骤完成：{step}"),
        }),
        "step_overdue" => d.get("steps").and_then(Value::as_array).map(|steps| {
            let titles: Vec<String> = steps.iter().map(|s| s.get("title").map_or_else(|| text(s), text)).collect();
            format!("{}{}", lang.pick("overdue, reminder sent: ", "已逾期，已发送提醒："), titles.join("; "))
        }),
        "silenced" => get("value").map(|value| {
            let scope = get("scope").unwrap_or_default();
            let reason = get("reason").unwrap_or_default();
            if zh {
                format!("{scope} {value} 的静默暂缓了开启与升级：{reason}")
            } else {
                format!("silence on {scope} {value} holds back openings and rises: {reason}")
            }
        }),
        _ => None,
    };
    described.unwrap_or_else(|| if d.is_null() { String::new() } else { d.to_string() })
}

/// A stored level (`low` … `critical`) in the reader's words.
fn level_word(level: &str, lang: Lang) -> String {
    let zh = match (lang, level) {
        (Lang::Zh, "low") => "低",
        (Lang::Zh, "medium") => "中",
        (Lang::Zh, "high") => "高",
        (Lang::Zh, "critical") => "严重",
        _ => level,
    };
    zh.to_owned()
}

/// A timeline event's kind as a reader names it: the stored key in English (what the API
/// and the CLI show), a word in Chinese.
pub fn kind_name(kind: &str, lang: Lang) -> &str {
    if lang == Lang::En {
        return kind;
    }
    match kind {
        "opened" => "开启",
        "mentions_attached" => "新增提及",
        "level_changed" => "级别变化",
        "notified" => "通知",
        "escalated" => "升级",
        "acknowledged" => "确认",
        "resolved" => "解决",
        "reopened" => "重新打开",
        "ack_expired" => "确认超时",
        "assigned" => "指派",
        "note" => "备注",
        "step_done" => "步骤完成",
        "step_overdue" => "步骤逾期",
        "silenced" => "静默",
        "status_update" => "状态通报",
        other => other,
    }
}

/// One story of an incident: its mentions that are copies of each other, riskiest first.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryGroup<'a> {
    pub mentions: Vec<&'a MentionSummary>,
    /// The sources that carried it, in the order first seen in `mentions`.
    pub sources: Vec<&'a str>,
    /// Earliest and latest publication time among its dated copies.
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    /// Mean sentiment of the copies that have one.
    pub sentiment: Option<f64>,
}

impl StoryGroup<'_> {
    /// The riskiest copy, whose title heads the story.
    pub fn lead(&self) -> &MentionSummary {
        self.mentions[0]
    }
}

/// The mentions (riskiest first, as the store gives them) grouped by near-duplicate story;
/// stories in the order of their riskiest copy, so the worst story leads. A mention whose
/// story is unknown (pruned since) is a story of its own.
pub fn group_by_story(mentions: &[MentionSummary]) -> Vec<StoryGroup<'_>> {
    let mut order: Vec<Vec<&MentionSummary>> = Vec::new();
    let mut index: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    for mention in mentions {
        match mention.story.and_then(|story| index.get(&story).copied()) {
            Some(at) => order[at].push(mention),
            None => {
                if let Some(story) = mention.story {
                    index.insert(story, order.len());
                }
                order.push(vec![mention]);
            }
        }
    }
    order
        .into_iter()
        .map(|mentions| {
            let mut sources: Vec<&str> = Vec::new();
            for mention in &mentions {
                if !sources.contains(&mention.feed.as_str()) {
                    sources.push(&mention.feed);
                }
            }
            let dated = mentions.iter().filter_map(|m| m.published);
            let (first, last) = (dated.clone().min(), dated.max());
            let read: Vec<f64> = mentions.iter().filter_map(|m| m.sentiment).collect();
            let sentiment = (!read.is_empty()).then(|| read.iter().sum::<f64>() / read.len() as f64);
            StoryGroup { mentions, sources, first, last, sentiment }
        })
        .collect()
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
        let lines = why_lines(&why, Lang::En);
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
        let lines = why_lines(&why, Lang::En);
        let value = |label: &str| lines.iter().find(|(l, _)| l == label).map(|(_, v)| v.as_str());
        assert_eq!(value("Sentiment"), Some("+0.40 positive"), "{lines:?}");
        assert_eq!(value("Tone"), Some("-0.90: what it reports weighs worse than its words, risk ×1.27"));
        // A tone that is the sentiment's adds nothing to say.
        let plain = why_lines(&serde_json::json!({"sentiment": -0.5, "tone": -0.5, "negativity": 1.15}), Lang::En);
        assert_eq!(plain, vec![("Sentiment".to_owned(), "-0.50 negative, risk ×1.15".to_owned())]);
    }

    #[test]
    fn a_why_that_is_not_an_object_is_shown_as_it_is() {
        assert!(why_lines(&Value::Null, Lang::En).is_empty());
        assert_eq!(why_lines(&serde_json::json!("spike"), Lang::En), vec![("Why".to_owned(), "spike".to_owned())]);
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

    fn copy(feed: &str, title: &str, story: Option<i64>, risk: u8, hour: u32, sentiment: f64) -> MentionSummary {
        MentionSummary {
            feed: feed.into(),
            title: title.into(),
            url: None,
            published: chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, 1, hour, 0, 0).single(),
            excerpt: String::new(),
            terms: Vec::new(),
            risk,
            sentiment: Some(sentiment),
            story,
        }
    }

    #[test]
    fn mentions_group_into_stories_led_by_their_riskiest_copy() {
        let mentions = vec![
            copy("news", "Acme yogurt recalled", Some(7), 90, 10, -0.6),
            copy("weibo", "艾克米酸奶食物中毒", Some(3), 80, 9, -0.2),
            copy("forum", "Acme yogurt recalled!", Some(7), 70, 8, -0.4),
            copy("news", "Acme yogurt recall widens", None, 60, 11, -0.5),
            copy("weibo", "艾克米酸奶食物中毒，家长维权", Some(3), 50, 12, 0.0),
            copy("news", "Acme yogurt recalled", Some(7), 40, 13, -0.8),
        ];
        let stories = group_by_story(&mentions);
        let heads: Vec<(&str, usize)> = stories.iter().map(|s| (s.lead().title.as_str(), s.mentions.len())).collect();
        assert_eq!(
            heads,
            [("Acme yogurt recalled", 3), ("艾克米酸奶食物中毒", 2), ("Acme yogurt recall widens", 1)],
            "riskiest story first; a pruned mention is a story of its own"
        );
        assert_eq!(stories[0].sources, ["news", "forum"]);
        assert_eq!(stories[0].first.map(|t| t.format("%H").to_string()).as_deref(), Some("08"));
        assert_eq!(stories[0].last.map(|t| t.format("%H").to_string()).as_deref(), Some("13"));
        assert!((stories[0].sentiment.expect("read") + 0.6).abs() < 1e-9);
    }

    #[test]
    fn the_reading_and_the_timeline_speak_chinese_to_a_chinese_reader() {
        let why = serde_json::json!({
            "score": 82, "rule": "food-safety", "severity": 70, "sentiment": -0.586, "negativity": 1.1758,
            "crisis": 0.9564, "source_weight": 1.0, "engagement": 1.0, "novelty": 0.465, "copies": 9,
            "spike": {"in_window": 14, "expected_per_window": 0.31, "p": 1.2e-9, "story": {"id": 123, "copies_in_window": 12}},
        });
        let lines = why_lines(&why, Lang::Zh);
        let labels: Vec<&str> = lines.iter().map(|(label, _)| label.as_str()).collect();
        assert_eq!(labels, ["规则", "情感", "危机模型", "来源权重", "互动", "新颖度", "分数", "突增", "报道"]);
        let said: String = lines.iter().map(|(label, value)| format!("{label}：{value}\n")).collect();
        for english in ["severity", "negative", "sure", "none reported", "earlier copies", "in the window", "expected"]
        {
            assert!(!said.contains(english), "{english} left in:\n{said}");
        }
        assert!(said.contains("规则：food-safety，严重度 70") && said.contains("此前已有 9 条相同报道"), "{said}");

        let event = |kind: &str, details: serde_json::Value| Event {
            id: 1,
            incident_id: 1,
            kind: kind.to_owned(),
            actor: "system".to_owned(),
            at: chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, 1, 8, 0, 0).single().expect("a time"),
            details,
            prev_hash: String::new(),
            hash: String::new(),
            stored: Default::default(),
        };
        let cases = [
            (
                event("opened", serde_json::json!({"rule": "food-safety", "level": "high", "score": 72})),
                "由规则 food-safety 开启，级别 高，分数 72",
            ),
            (event("escalated", serde_json::json!({"level": 1, "channels": ["oncall"]})), "升级到策略第 1 级：oncall"),
            (
                event("status_update", serde_json::json!({"text": "已下架", "channels": ["pr", "oncall"]})),
                "状态通报发送至 pr, oncall：已下架",
            ),
            (
                event("notified", serde_json::json!({"channel": "pr", "result": "delivered", "attempt": 1})),
                "pr 第 1 次: 已送达",
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(describe(&event, Lang::Zh), expected);
        }
        assert_eq!(kind_name("status_update", Lang::Zh), "状态通报");
        assert_eq!(kind_name("status_update", Lang::En), "status_update");
    }
}
