//! The sentence on top of an incident page: where it stands, how much is being said about
//! it and how fast, and what is due next, in the reader's language.

use chrono::{DateTime, Utc};

use crate::incident::timeline::Event;
use crate::incident::{Incident, Level, Pulse, Status};
use crate::lang::Lang;
use crate::store::Checklist;

/// What the sentence is made of, besides the incident itself.
pub struct Facts<'a> {
    pub events: &'a [Event],
    pub pulse: Pulse,
    /// The span `pulse.recent` counts over (the spike window, so "usual" compares).
    pub recent: chrono::Duration,
    pub checklist: &'a Checklist,
    pub now: DateTime<Utc>,
}

fn level_word(lang: Lang, level: Level) -> &'static str {
    match (lang, level) {
        (Lang::En, Level::Critical) => "critical",
        (Lang::En, Level::High) => "high",
        (Lang::En, Level::Medium) => "medium",
        (Lang::En, Level::Low) => "low",
        (Lang::Zh, Level::Critical) => "严重级",
        (Lang::Zh, Level::High) => "高级",
        (Lang::Zh, Level::Medium) => "中级",
        (Lang::Zh, Level::Low) => "低级",
    }
}

/// A span as a reader says it: minutes up to two hours, then hours, then days.
fn span(lang: Lang, length: chrono::Duration) -> String {
    let minutes = length.num_minutes().max(1);
    let (n, en, zh) = match minutes {
        m if m < 120 => (m, "minute", "分钟"),
        m if m < 48 * 60 => (m / 60, "hour", "小时"),
        m => (m / (24 * 60), "day", "天"),
    };
    match lang {
        Lang::En if n == 1 => format!("1 {en}"),
        Lang::En => format!("{n} {en}s"),
        Lang::Zh => format!("{n} {zh}"),
    }
}

/// When the incident reached the level it is at: its last level change to it, else its
/// opening.
fn level_since(incident: &Incident, events: &[Event]) -> DateTime<Utc> {
    events
        .iter()
        .rev()
        .find(|e| e.kind == "level_changed" && e.details["to"].as_str() == Some(incident.level.as_str()))
        .map_or(incident.opened_at, |e| e.at)
}

/// "critical since 10:42 — 37 mentions in 2 languages from 5 sources, 12 in the last 15
/// minutes against 0.5 usual, sentiment −0.60; next step: publish the statement, due in 20
/// minutes".
pub fn summary(lang: Lang, incident: &Incident, facts: &Facts<'_>) -> String {
    let level = level_word(lang, incident.level);
    let hm = |at: DateTime<Utc>| at.format("%H:%M UTC").to_string();
    let since = hm(level_since(incident, facts.events));
    let standing = match (lang, incident.status) {
        (Lang::En, Status::Open) => format!("{level} since {since}"),
        (Lang::En, Status::Acknowledged) => format!(
            "{level} since {since}, acknowledged{}",
            incident.acknowledged_at.map(|at| format!(" at {}", hm(at))).unwrap_or_default()
        ),
        (Lang::En, Status::Resolved) => format!(
            "resolved{}, was {level}",
            incident.resolved_at.map(|at| format!(" at {}", hm(at))).unwrap_or_default()
        ),
        (Lang::Zh, Status::Open) => format!("{level}，自 {since} 起"),
        (Lang::Zh, Status::Acknowledged) => format!(
            "{level}，自 {since} 起，{}已确认",
            incident.acknowledged_at.map(|at| format!("{} ", hm(at))).unwrap_or_default()
        ),
        (Lang::Zh, Status::Resolved) => {
            format!("{}已解决，曾为{level}", incident.resolved_at.map(|at| format!("{} ", hm(at))).unwrap_or_default())
        }
    };
    let pulse = facts.pulse;
    let window = span(lang, facts.recent);
    let usual = incident.why["spike"]["expected_per_window"].as_f64();
    let volume = match lang {
        Lang::En => {
            let plural = |n: i64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
            let mut text = format!(
                "{} in {} from {}, {} in the last {window}",
                plural(pulse.mentions, "mention"),
                plural(pulse.languages, "language"),
                plural(pulse.sources, "source"),
                pulse.recent
            );
            if let Some(usual) = usual {
                text.push_str(&format!(" against {usual:.1} usual"));
            }
            if let Some(sentiment) = pulse.sentiment {
                text.push_str(&format!(", sentiment {sentiment:+.2}"));
            }
            text
        }
        Lang::Zh => {
            let mut text = format!(
                "{} 种语言、{} 个来源共 {} 条提及，最近 {window} {} 条",
                pulse.languages, pulse.sources, pulse.mentions, pulse.recent
            );
            if let Some(usual) = usual {
                text.push_str(&format!("（通常 {usual:.1} 条）"));
            }
            if let Some(sentiment) = pulse.sentiment {
                text.push_str(&format!("，情绪 {sentiment:+.2}"));
            }
            text
        }
    };
    let next = facts.checklist.steps.iter().find(|step| step.done.is_none()).map(|step| {
        let title = match lang {
            Lang::Zh => step.step.title_zh.as_deref().unwrap_or(&step.step.title),
            Lang::En => &step.step.title,
        };
        let due = step.due_at.map(|due| {
            let left = due - facts.now;
            match (lang, left > chrono::Duration::zero()) {
                (Lang::En, true) => format!(", due in {}", span(lang, left)),
                (Lang::En, false) => format!(", overdue by {}", span(lang, -left)),
                (Lang::Zh, true) => format!("，{}后到期", span(lang, left)),
                (Lang::Zh, false) => format!("，已逾期 {}", span(lang, -left)),
            }
        });
        match lang {
            Lang::En => format!("; next step: {title}{}", due.unwrap_or_default()),
            Lang::Zh => format!("；下一步：{title}{}", due.unwrap_or_default()),
        }
    });
    format!("{standing} — {volume}{}", next.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::incident::playbook::Step;
    use crate::store::ChecklistStep;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, m, 0).single().expect("a time")
    }

    fn incident() -> Incident {
        let mut incident: Incident = serde_json::from_value(serde_json::json!({
            "id": 7, "status": "open", "level": "critical", "score": 97, "rule": "food-safety",
            "group": "rule:food-safety", "title": "Acme yogurt", "opened_at": "2026-03-01T10:30:00Z",
            "first_mention_at": null, "acknowledged_at": null, "resolved_at": null, "mentions": 37,
            "why": {"spike": {"in_window": 12, "expected_per_window": 0.5, "p": 1e-9}},
            "assignee": null, "crisis_type": "food_safety", "drill": false, "brand": null
        }))
        .expect("an incident");
        incident.level = Level::Critical;
        incident
    }

    fn raised_at_10_42() -> Event {
        serde_json::from_value(serde_json::json!({
            "id": 3, "incident_id": 7, "at": "2026-03-01T10:42:00Z", "actor": "tocsin",
            "kind": "level_changed", "details": {"from": "high", "to": "critical"},
            "prev_hash": "", "hash": ""
        }))
        .expect("an event")
    }

    fn checklist() -> Checklist {
        let step = |id: &str, title: &str, zh: &str, due: i64| ChecklistStep {
            step: Step {
                id: id.into(),
                title: title.into(),
                title_zh: Some(zh.into()),
                due: Some(chrono::Duration::minutes(due)),
                statement: id == "statement",
            },
            due_at: Some(at(10, 30) + chrono::Duration::minutes(due)),
            done: None,
        };
        Checklist {
            crisis_type: None,
            title: None,
            title_zh: None,
            strategy: None,
            strategy_zh: None,
            steps: vec![step("statement", "publish the statement", "发布声明", 50)],
        }
    }

    #[test]
    fn the_sentence_has_the_story_figures_in_both_languages() {
        let events = [raised_at_10_42()];
        let checklist = checklist();
        let facts = Facts {
            events: &events,
            pulse: Pulse { mentions: 37, languages: 2, sources: 5, recent: 12, sentiment: Some(-0.6) },
            recent: chrono::Duration::minutes(15),
            checklist: &checklist,
            now: at(11, 0),
        };
        assert_eq!(
            summary(Lang::En, &incident(), &facts),
            "critical since 10:42 UTC — 37 mentions in 2 languages from 5 sources, 12 in the last 15 minutes \
             against 0.5 usual, sentiment -0.60; next step: publish the statement, due in 20 minutes"
        );
        assert_eq!(
            summary(Lang::Zh, &incident(), &facts),
            "严重级，自 10:42 UTC 起 — 2 种语言、5 个来源共 37 条提及，最近 15 分钟 12 条（通常 0.5 条），情绪 -0.60；\
             下一步：发布声明，20 分钟后到期"
        );
        let late = Facts { now: at(11, 25), ..facts };
        assert!(summary(Lang::En, &incident(), &late).ends_with("overdue by 5 minutes"));
    }
}
