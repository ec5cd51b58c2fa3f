//! Message text for chat alerts: a title and a Markdown-ish body rendered from templates,
//! with bundled defaults in English and Chinese and optional user templates.
//!
//! Templates are MiniJinja with strict undefined (a misspelt field is an error, not an empty
//! string). Feed text is untrusted and chat services read Markdown, so the bundled templates
//! pass every free-text value through the `md` filter, which escapes Markdown specials and
//! `<`, `>`, `&` and breaks `@` mentions; `link(url, text)` writes a link only for plain
//! http(s) URLs. HTML auto-escaping is off: it would not stop Markdown links or mentions.
//!
//! The context a template sees:
//! `kind` (`incident.opened`, …), `kind_label` (localized), `lang` (`en`/`zh`), `format`
//! (`markdown`, `slack` or `plain`, for `md` and `link`), `drill`, `drill_note`, `incident` {`id`,
//! `title`, `status`, `level` (localized), `level_key`, `score`, `rule`, `opened`,
//! `acknowledged`, `resolved`, `mentions`, `owner`, `crisis_type`}, `why` [{`label`,
//! `value`}], `mentions` [{`title`, `feed`, `url`, `risk`, `sentiment`, `published`,
//! `excerpt`}], `more_mentions` (how many were left out), `links` {`dashboard`, `ack`},
//! `overdue_steps` [text], `update` [the lines of a status update's text].

use chrono::{DateTime, Utc};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, State, UndefinedBehavior, Value};
use serde::Serialize;

use super::email::{DRILL_NOTE, kind_label};
use super::{Notice, NoticeKind};
use crate::incident::present::{safe_href, why_lines};
use crate::incident::{Level, MentionSummary, Status};
use crate::lang::Lang;

/// A user template that does not compile; the message says where and why.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("the {part} template does not compile: {source}; fix its syntax or remove it to use the bundled one")]
    Syntax {
        part: &'static str,
        #[source]
        source: minijinja::Error,
    },
}

/// Which template produced a part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The bundled template for the language.
    Bundled,
    /// The user's own template.
    User,
    /// The user's template failed while rendering (the error says why); the bundled one was used.
    Fallback { error: String },
}

/// A rendered alert: a one-line title, a Markdown-ish body, and where each came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line, e.g. `[HIGH] Opened: <incident title> (#7)`.
    pub title: String,
    /// Markdown-ish text: the facts, the why, overdue steps, mentions, links.
    pub body: String,
    /// Which template made the title.
    pub title_source: Source,
    /// Which template made the body.
    pub body_source: Source,
}

/// Which chat markup the text is for: escaping and link syntax differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// Markdown as DingTalk, WeCom and Feishu read it: `[text](url)`, backslash escapes.
    Markdown,
    /// Slack mrkdwn: `<url|text>`, only `&`, `<`, `>` can be escaped.
    Slack,
    /// Plain-text fields (a card or block header, a notification preview): no markup is
    /// read there, so nothing is escaped, but mentions are still broken.
    Plain,
}

impl Flavor {
    fn key(self) -> &'static str {
        match self {
            Flavor::Markdown => "markdown",
            Flavor::Slack => "slack",
            Flavor::Plain => "plain",
        }
    }
}

const EN_TITLE: &str = "{% if drill %}[DRILL] {% endif %}[{{ incident.level | upper }}] {{ kind_label }}: \
{{ incident.title | md }} (#{{ incident.id }})";

const ZH_TITLE: &str = "{% if drill %}【演练】{% endif %}【{{ incident.level }}】{{ kind_label }}：\
{{ incident.title | md }} (#{{ incident.id }})";

const EN_BODY: &str = r#"{% if drill %}
**{{ drill_note | md }}**

{% endif %}
**{{ kind_label }}: {{ incident.title | md }}** (#{{ incident.id }})
{% if update %}

{% for line in update %}
{{ line | md }}
{% endfor %}
{% endif %}

- Status: {{ incident.status }}
- Level: {{ incident.level }}
- Score: {{ incident.score }}/100
- Rule: {{ incident.rule | md }}
- Opened: {{ incident.opened }}
{% if incident.acknowledged %}
- Acknowledged: {{ incident.acknowledged }}
{% endif %}
{% if incident.resolved %}
- Resolved: {{ incident.resolved }}
{% endif %}
- Mentions: {{ incident.mentions }}
{% if incident.owner %}
- Owner: {{ incident.owner | md }}
{% endif %}
{% if why %}

**Why**
{% for line in why %}
- {{ line.label | md }}: {{ line.value | md }}
{% endfor %}
{% endif %}
{% if overdue_steps %}

**Overdue playbook steps**
{% for step in overdue_steps %}
- {{ step | md }}
{% endfor %}
{% endif %}
{% if mentions %}

**Top mentions**
{% for m in mentions %}
{{ loop.index }}. {{ link(m.url, m.title) }} · {{ m.feed | md }} · {{ m.published or "publication time unknown" }} · risk {{ m.risk }} · sentiment {{ m.sentiment }}
{% endfor %}
{% endif %}
{% if more_mentions %}
… and {{ more_mentions }} more mentions in the dashboard
{% endif %}

{{ link(links.dashboard, "Open in dashboard") }}
{% if links.ack %}
{{ link(links.ack, "Acknowledge") }} (opens a confirmation page; nothing is acknowledged until you confirm)
{% endif %}
"#;

const ZH_BODY: &str = r#"{% if drill %}
**演练：由 tocsin drill 发起的预演，不是真实危机。**

{% endif %}
**{{ kind_label }}：{{ incident.title | md }}** (#{{ incident.id }})
{% if update %}

{% for line in update %}
{{ line | md }}
{% endfor %}
{% endif %}

- 状态：{{ incident.status }}
- 级别：{{ incident.level }}
- 分数：{{ incident.score }}/100
- 规则：{{ incident.rule | md }}
- 开启：{{ incident.opened }}
{% if incident.acknowledged %}
- 确认：{{ incident.acknowledged }}
{% endif %}
{% if incident.resolved %}
- 解决：{{ incident.resolved }}
{% endif %}
- 提及数：{{ incident.mentions }}
{% if incident.owner %}
- 负责人：{{ incident.owner | md }}
{% endif %}
{% if why %}

**原因**
{% for line in why %}
- {{ line.label | md }}：{{ line.value | md }}
{% endfor %}
{% endif %}
{% if overdue_steps %}

**逾期的预案步骤**
{% for step in overdue_steps %}
- {{ step | md }}
{% endfor %}
{% endif %}
{% if mentions %}

**主要提及**
{% for m in mentions %}
{{ loop.index }}. {{ link(m.url, m.title) }} · {{ m.feed | md }} · {{ m.published or "发布时间未知" }} · 风险 {{ m.risk }} · 情感 {{ m.sentiment }}
{% endfor %}
{% endif %}
{% if more_mentions %}
… 另有 {{ more_mentions }} 条提及，请在仪表盘查看
{% endif %}

{{ link(links.dashboard, "在仪表盘中打开") }}
{% if links.ack %}
{{ link(links.ack, "确认事件") }}（打开确认页面，确认后才生效）
{% endif %}
"#;

const USER_TITLE: &str = "user/title";
const USER_BODY: &str = "user/body";

/// The compiled templates: bundled title and body per [`Lang`], and the user's, if any.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    user_title: bool,
    user_body: bool,
}

impl Default for Templates {
    fn default() -> Self {
        Templates::bundled()
    }
}

impl Templates {
    /// Only the bundled templates.
    pub fn bundled() -> Templates {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // Block tags on their own lines leave no blank lines behind, so templates can be
        // laid out readably.
        let syntax = SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build();
        // The default delimiters with whitespace options always form a valid syntax.
        env.set_syntax(syntax.expect("the default syntax with trim options is valid"));
        env.add_filter("md", md_filter);
        env.add_function("link", link_function);
        for (name, source) in
            [("en/title", EN_TITLE), ("zh/title", ZH_TITLE), ("en/body", EN_BODY), ("zh/body", ZH_BODY)]
        {
            // Constants, compiled by a unit test on every build.
            env.add_template(name, source).expect("the bundled templates compile");
        }
        Templates { env, user_title: false, user_body: false }
    }

    /// The bundled templates plus the user's own title and/or body, compiled now so a syntax
    /// error is reported when the configuration loads.
    pub fn with_overrides(title: Option<&str>, body: Option<&str>) -> Result<Templates, TemplateError> {
        let mut templates = Templates::bundled();
        if let Some(source) = title {
            templates
                .env
                .add_template_owned(USER_TITLE, source.to_owned())
                .map_err(|source| TemplateError::Syntax { part: "title", source })?;
            templates.user_title = true;
        }
        if let Some(source) = body {
            templates
                .env
                .add_template_owned(USER_BODY, source.to_owned())
                .map_err(|source| TemplateError::Syntax { part: "body", source })?;
            templates.user_body = true;
        }
        Ok(templates)
    }

    /// Title and body for `notice` in `lang`, listing at most `max_mentions` mentions (the
    /// incident facts are always complete).
    pub fn render(&self, notice: &Notice, lang: Lang, max_mentions: usize) -> Rendered {
        self.render_flavored(notice, lang, max_mentions, Flavor::Markdown)
    }

    pub(crate) fn render_flavored(&self, notice: &Notice, lang: Lang, max_mentions: usize, flavor: Flavor) -> Rendered {
        let context = Value::from(Serde(view(notice, lang, max_mentions, flavor)));
        let (title, title_source) = self.render_part("title", self.user_title.then_some(USER_TITLE), lang, &context);
        let (body, body_source) = self.render_part("body", self.user_body.then_some(USER_BODY), lang, &context);
        // A title is one line whatever a template does, or chat previews break.
        let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
        Rendered { title, body, title_source, body_source }
    }

    fn render_part(&self, part: &str, user: Option<&str>, lang: Lang, context: &Value) -> (String, Source) {
        let mut source = Source::Bundled;
        if let Some(name) = user {
            match self.env.get_template(name).and_then(|t| t.render(context)) {
                Ok(text) => return (text, Source::User),
                Err(err) => {
                    let error = err.to_string();
                    tracing::warn!(part, %error, "the user's {part} template failed; using the bundled one");
                    source = Source::Fallback { error };
                }
            }
        }
        let name = format!("{}/{part}", lang.key());
        match self.env.get_template(&name).and_then(|t| t.render(context)) {
            Ok(text) => (text, source),
            // The bundled templates only use fields the view always has; should one still
            // fail, the alert goes out with the error rather than not at all.
            Err(err) => (format!("({name} failed: {err})"), source),
        }
    }
}

#[derive(Serialize)]
struct View {
    kind: NoticeKind,
    kind_label: &'static str,
    lang: &'static str,
    format: &'static str,
    drill: bool,
    drill_note: &'static str,
    incident: IncidentView,
    why: Vec<WhyLine>,
    mentions: Vec<MentionView>,
    more_mentions: usize,
    links: LinksView,
    overdue_steps: Vec<String>,
    update: Vec<String>,
}

#[derive(Serialize)]
struct IncidentView {
    id: i64,
    title: String,
    status: &'static str,
    level: &'static str,
    level_key: &'static str,
    score: u8,
    rule: String,
    opened: String,
    acknowledged: Option<String>,
    resolved: Option<String>,
    mentions: i64,
    owner: Option<String>,
    crisis_type: Option<String>,
}

#[derive(Serialize)]
struct WhyLine {
    label: String,
    value: String,
}

#[derive(Serialize)]
struct MentionView {
    title: String,
    feed: String,
    url: Option<String>,
    risk: u8,
    sentiment: String,
    published: Option<String>,
    excerpt: String,
}

#[derive(Serialize)]
struct LinksView {
    dashboard: String,
    ack: Option<String>,
}

fn view(notice: &Notice, lang: Lang, max_mentions: usize, flavor: Flavor) -> View {
    let incident = &notice.incident;
    let shown = notice.top_mentions.len().min(max_mentions);
    View {
        kind: notice.kind,
        kind_label: kind_name(notice.kind, lang),
        lang: lang.key(),
        format: flavor.key(),
        drill: incident.drill,
        drill_note: DRILL_NOTE,
        incident: IncidentView {
            id: incident.id,
            title: incident.title.clone(),
            status: status_name(incident.status, lang),
            level: level_name(incident.level, lang),
            level_key: incident.level.as_str(),
            score: incident.score,
            rule: incident.rule.clone(),
            opened: time(incident.opened_at),
            acknowledged: incident.acknowledged_at.map(time),
            resolved: incident.resolved_at.map(time),
            mentions: incident.mentions,
            owner: incident.assignee.clone(),
            crisis_type: incident.crisis_type.clone(),
        },
        why: why_lines(&incident.why, lang).into_iter().map(|(label, value)| WhyLine { label, value }).collect(),
        mentions: notice.top_mentions[..shown].iter().map(|m| mention_view(m, lang)).collect(),
        more_mentions: notice.top_mentions.len() - shown,
        links: LinksView { dashboard: notice.links.dashboard.clone(), ack: notice.links.ack.clone() },
        overdue_steps: notice.overdue_steps.clone(),
        update: notice
            .update
            .iter()
            .flat_map(|text| text.lines())
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect(),
    }
}

fn mention_view(mention: &MentionSummary, lang: Lang) -> MentionView {
    MentionView {
        title: mention.title.clone(),
        feed: mention.feed.clone(),
        url: mention.url.as_deref().and_then(link_target),
        risk: mention.risk,
        sentiment: match lang {
            Lang::En => mention.sentiment_label(),
            Lang::Zh => match mention.sentiment {
                None => "未知".to_owned(),
                Some(s) if s <= -0.05 => format!("{s:+.2} 负面"),
                Some(s) if s >= 0.05 => format!("{s:+.2} 正面"),
                Some(s) => format!("{s:+.2} 中性"),
            },
        },
        published: mention.published.map(time),
        excerpt: mention.excerpt.clone(),
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn kind_name(kind: NoticeKind, lang: Lang) -> &'static str {
    match lang {
        Lang::En => kind_label(kind),
        Lang::Zh => match kind {
            NoticeKind::Opened => "新事件",
            NoticeKind::Escalated => "已升级",
            NoticeKind::LevelChanged => "级别提升",
            NoticeKind::Acknowledged => "已确认",
            NoticeKind::Resolved => "已解决",
            NoticeKind::Reopened => "重新打开",
            NoticeKind::Repeat => "仍未解决",
            NoticeKind::StepOverdue => "预案步骤逾期",
            NoticeKind::StatusUpdate => "状态通报",
        },
    }
}

fn level_name(level: Level, lang: Lang) -> &'static str {
    match lang {
        Lang::En => level.as_str(),
        Lang::Zh => match level {
            Level::Low => "低",
            Level::Medium => "中",
            Level::High => "高",
            Level::Critical => "严重",
        },
    }
}

fn status_name(status: Status, lang: Lang) -> &'static str {
    match lang {
        Lang::En => status.as_str(),
        Lang::Zh => match status {
            Status::Open => "待处理",
            Status::Acknowledged => "已确认",
            Status::Resolved => "已解决",
        },
    }
}

/// A URL fit to be a link target in chat markup: plain http(s) (see [`safe_href`]) with the
/// characters that close a Markdown link or a Slack `<url|text>` percent-encoded, so a feed
/// URL cannot end the link early and start another.
fn link_target(url: &str) -> Option<String> {
    let href = safe_href(url)?;
    let mut out = String::with_capacity(href.len());
    for c in href.chars() {
        match c {
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '[' => out.push_str("%5B"),
            ']' => out.push_str("%5D"),
            '|' => out.push_str("%7C"),
            '`' => out.push_str("%60"),
            '\'' => out.push_str("%27"),
            c => out.push(c),
        }
    }
    Some(out)
}

fn flavor_of(state: &State) -> Flavor {
    match state.lookup("format") {
        Some(value) if value.as_str() == Some("slack") => Flavor::Slack,
        Some(value) if value.as_str() == Some("plain") => Flavor::Plain,
        _ => Flavor::Markdown,
    }
}

/// Untrusted text made inert for chat markup, on one line.
///
/// Markdown: `\`-escapes the characters that start emphasis, code, links, headings and
/// tables; `<`, `>`, `&` become entities so no HTML, `<at id=all>` (Feishu) or `<@user>`
/// (WeCom) survives. Slack mrkdwn has no backslash escapes: `&`, `<`, `>` become entities
/// (which stops `<!channel>` and `<url|text>`), and a zero-width space before `*`, `_`, `~`
/// and `` ` `` keeps them from pairing into formatting. In all flavors, a word joiner after
/// `@` stops `@all` and `@channel` from notifying anyone; in plain text one after `<` stops
/// `<!channel>` and `<at id=all>` from being read as tags.
pub(crate) fn escape(text: &str, flavor: Flavor) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut words = text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).peekable();
    while let Some(word) = words.next() {
        for c in word.chars() {
            match (flavor, c) {
                (_, '@') => out.push_str("@\u{2060}"),
                (Flavor::Plain, '<') => out.push_str("<\u{2060}"),
                (Flavor::Plain, c) => out.push(c),
                (_, '&') => out.push_str("&amp;"),
                (_, '<') => out.push_str("&lt;"),
                (_, '>') => out.push_str("&gt;"),
                (Flavor::Markdown, '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '~' | '!') => {
                    out.push('\\');
                    out.push(c);
                }
                (Flavor::Slack, '`' | '*' | '_' | '~') => {
                    out.push('\u{200B}');
                    out.push(c);
                }
                (_, c) => out.push(c),
            }
        }
        if words.peek().is_some() {
            out.push(' ');
        }
    }
    out
}

fn md_filter(state: &State, value: Value) -> String {
    if value.is_none() || value.is_undefined() {
        return String::new();
    }
    let text = match value.as_str() {
        Some(text) => text.to_owned(),
        None => value.to_string(),
    };
    escape(&text, flavor_of(state))
}

/// `link(url, text)`: a link when `url` is plain http(s), else just the escaped text.
fn link_function(state: &State, url: Option<String>, text: String) -> String {
    let flavor = flavor_of(state);
    let label = escape(&text, flavor);
    match url.as_deref().and_then(link_target) {
        Some(href) => match flavor {
            Flavor::Markdown => format!("[{label}]({href})"),
            Flavor::Slack => format!("<{href}|{label}>"),
            Flavor::Plain => format!("{label} ({href})"),
        },
        None => label,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::incident::Incident;
    use crate::notify::Links;
    use chrono::TimeZone;

    pub(crate) fn mention(n: usize, title: &str) -> MentionSummary {
        MentionSummary {
            feed: "gnews-acme".into(),
            title: title.into(),
            url: Some(format!("https://news.example.com/a/{n}")),
            published: Some(Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()),
            excerpt: "Several parents report…".into(),
            terms: vec!["acme".into()],
            risk: 72,
            sentiment: Some(-0.6),
            story: None,
        }
    }

    pub(crate) fn notice(mentions: Vec<MentionSummary>) -> Notice {
        Notice {
            id: "ntc_01HZX".into(),
            kind: NoticeKind::Opened,
            incident: Incident {
                id: 7,
                status: Status::Open,
                level: Level::High,
                score: 72,
                rule: "food-safety".into(),
                group: "rule:food-safety".into(),
                title: "Food safety complaint about Acme yogurt".into(),
                opened_at: Utc.with_ymd_and_hms(2025, 3, 1, 8, 30, 0).unwrap(),
                first_mention_at: None,
                acknowledged_at: None,
                resolved_at: None,
                mentions: 3,
                why: serde_json::json!({"rule": "food-safety", "severity": 70, "sentiment": -0.6, "score": 72}),
                assignee: Some("lin".into()),
                crisis_type: None,
                drill: false,
                brand: None,
            },
            top_mentions: mentions,
            links: Links {
                dashboard: "http://localhost:8080/incidents/7".into(),
                ack: Some("http://localhost:8080/ack/xyz".into()),
            },
            overdue_steps: Vec::new(),
            update: None,
            acted_by: None,
        }
    }

    #[test]
    fn english_renders_the_facts_and_the_why() {
        let n = notice(vec![mention(1, "Kids sick after Acme yogurt")]);
        let r = Templates::bundled().render(&n, Lang::En, 10);
        assert_eq!(r.title, "[HIGH] Opened: Food safety complaint about Acme yogurt (#7)");
        for fact in [
            "- Status: open",
            "- Level: high",
            "- Score: 72/100",
            "- Rule: food-safety",
            "- Opened: 2025-03-01 08:30 UTC",
            "- Mentions: 3",
            "- Owner: lin",
            "- Rule: food-safety, severity 70",
            "- Sentiment: -0.60 negative",
            "[Kids sick after Acme yogurt](https://news.example.com/a/1)",
            "[Open in dashboard](http://localhost:8080/incidents/7)",
            "[Acknowledge](http://localhost:8080/ack/xyz)",
        ] {
            assert!(r.body.contains(fact), "{fact} missing from\n{}", r.body);
        }
        assert_eq!((r.title_source, r.body_source), (Source::Bundled, Source::Bundled));
        assert!(!r.body.contains("more mentions"));
    }

    #[test]
    fn chinese_renders_the_facts_the_why_and_the_level_in_the_title() {
        let mut n = notice(vec![mention(1, "酸奶致儿童不适")]);
        n.incident.drill = true;
        let r = Templates::bundled().render(&n, Lang::Zh, 10);
        assert_eq!(r.title, "【演练】【高】新事件：Food safety complaint about Acme yogurt (#7)");
        for fact in [
            "- 状态：待处理",
            "- 级别：高",
            "- 分数：72/100",
            "- 负责人：lin",
            "**原因**",
            "- 规则：food-safety，严重度 70",
            "- 情感：-0.60 负面",
            "演练",
            "[在仪表盘中打开](",
        ] {
            assert!(r.body.contains(fact), "{fact} missing from\n{}", r.body);
        }
    }

    #[test]
    fn a_status_update_leads_the_message_line_by_line_and_escaped() {
        let mut n = notice(vec![mention(1, "Acme yogurt recall")]);
        n.kind = NoticeKind::StatusUpdate;
        n.update = Some("Statement published on acme.com.\n\n*Next*: call with @all regulators at 15:00".into());
        let r = Templates::bundled().render(&n, Lang::En, 10);
        assert!(r.title.contains("Status update: Food safety complaint"), "{}", r.title);
        let update = r.body.find("Statement published on acme.com.").expect("the update's first line");
        assert!(update < r.body.find("- Status:").expect("the facts"), "{}", r.body);
        assert!(r.body.contains("\n\\*Next\\*: call with @\u{2060}all regulators at 15:00\n"), "{}", r.body);
        let zh = Templates::bundled().render(&n, Lang::Zh, 10);
        assert!(zh.title.contains("状态通报："), "{}", zh.title);
        assert!(zh.body.contains("Statement published on acme.com."), "{}", zh.body);
    }

    #[test]
    fn max_mentions_cuts_the_list_and_says_how_many_are_left() {
        let n = notice((0..5).map(|i| mention(i, &format!("story {i}"))).collect());
        let r = Templates::bundled().render(&n, Lang::En, 2);
        assert!(r.body.contains("story 1") && !r.body.contains("story 2"));
        assert!(r.body.contains("… and 3 more mentions in the dashboard"));
    }

    #[test]
    fn a_user_template_is_used() {
        let t =
            Templates::with_overrides(Some("{{ incident.level_key }}!"), Some("{{ kind }} {{ incident.title | md }}"))
                .unwrap();
        let r = t.render(&notice(vec![]), Lang::En, 5);
        assert_eq!(r.title, "high!");
        assert_eq!(r.body, "incident.opened Food safety complaint about Acme yogurt");
        assert_eq!((r.title_source, r.body_source), (Source::User, Source::User));
    }

    #[test]
    fn a_user_template_that_does_not_compile_is_refused_at_load() {
        let err = Templates::with_overrides(None, Some("{% for m in mentions %}")).unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("the body template does not compile"), "{message}");
    }

    #[test]
    fn a_user_template_that_fails_at_render_falls_back_and_says_why() {
        let t = Templates::with_overrides(Some("{{ incident.nope.deeper }}"), None).unwrap();
        let r = t.render(&notice(vec![]), Lang::En, 5);
        assert!(r.title.starts_with("[HIGH] Opened:"), "{}", r.title);
        match r.title_source {
            Source::Fallback { error } => assert!(error.contains("undefined"), "{error}"),
            other => panic!("expected a fallback, got {other:?}"),
        }
        assert_eq!(r.body_source, Source::Bundled);
    }

    #[test]
    fn hostile_feed_text_renders_inert() {
        let mut hostile = mention(1, "<!channel> [x](javascript:alert(1)) @all");
        hostile.url = Some("https://a.example/x)[y](javascript:alert(1)".into());
        let mut n = notice(vec![hostile, mention(2, "plain")]);
        n.top_mentions[1].url = Some("javascript:alert(1)".into());
        for flavor in [Flavor::Markdown, Flavor::Slack] {
            let r = Templates::bundled().render_flavored(&n, Lang::En, 10, flavor);
            let body = &r.body;
            assert!(!body.contains("<!channel>"), "{body}");
            assert!(!body.contains("@all"), "{body}");
            assert!(!body.contains("<javascript") && !body.contains("|javascript"), "{body}");
            if flavor == Flavor::Markdown {
                // Slack does not read `[text](url)` as a link; Markdown does.
                assert!(!body.contains("](javascript") && !body.contains("(javascript:alert(1))"), "{body}");
            }
            assert!(body.contains("&lt;") && body.contains("channel&gt;"), "{body}");
        }
        let r = Templates::bundled().render(&n, Lang::En, 10);
        assert!(r.body.contains(r"\[x\]\(javascript:alert\(1\)\)"), "{}", r.body);
        assert!(r.body.contains("(https://a.example/x%29%5By%5D%28javascript:alert%281%29)"), "{}", r.body);
        // A URL that is not http(s) is not a link at all.
        assert!(r.body.contains("2. plain ·"), "{}", r.body);

        // Plain-text headers keep the text as written but break the mentions.
        let mut n = notice(vec![]);
        n.incident.title = "<!channel> @all".into();
        let plain = Templates::bundled().render_flavored(&n, Lang::En, 0, Flavor::Plain);
        assert_eq!(plain.title, "[HIGH] Opened: <\u{2060}!channel> @\u{2060}all (#7)");
    }
}
