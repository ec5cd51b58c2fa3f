//! Playbooks: `rules/playbooks/*.toml` to the response steps for each crisis type.
//!
//! A playbook file names its `crisis_type` (the value rules give in `crisis_type`) and lists
//! `[[step]]` tables in the order the team works through them. Problems are reported like
//! rule problems, as `file:line:col: message` with the line and a caret, and all of them
//! are collected before giving up.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::analyze::rules::{RuleError, RuleErrors, RuleSet};
use crate::config::HumanDuration;

/// The response steps for one crisis type. Serialized, it is the copy an incident keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Playbook {
    /// The crisis type rules name in `crisis_type`.
    pub crisis_type: String,
    pub title: String,
    /// The title in Chinese, for the Chinese dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_zh: Option<String>,
    /// How to respond to this kind of crisis, for the people choosing the strategy.
    pub strategy: Option<String>,
    /// The strategy in Chinese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_zh: Option<String>,
    /// In the order the team works through them; never empty.
    pub steps: Vec<Step>,
}

impl Playbook {
    /// The step marked `statement = true`: publishing the official statement.
    pub fn statement_step(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.statement)
    }

    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Steps with a due time at or before `now` (counted from `opened_at`) that are not
    /// `settled` (done, or already reminded of).
    pub fn overdue(&self, opened_at: DateTime<Utc>, settled: &[String], now: DateTime<Utc>) -> Vec<&Step> {
        self.unsettled(opened_at, settled)
            .into_iter()
            .filter(|(_, due_at)| *due_at <= now)
            .map(|(step, _)| step)
            .collect()
    }

    /// When the next reminder is due: the earliest due time of a step not `settled`.
    pub fn next_reminder(&self, opened_at: DateTime<Utc>, settled: &[String]) -> Option<DateTime<Utc>> {
        self.unsettled(opened_at, settled).into_iter().map(|(_, due_at)| due_at).min()
    }

    fn unsettled(&self, opened_at: DateTime<Utc>, settled: &[String]) -> Vec<(&Step, DateTime<Utc>)> {
        self.steps
            .iter()
            .filter(|step| !settled.contains(&step.id))
            .filter_map(|step| Some((step, opened_at + step.due?)))
            .collect()
    }
}

/// One response step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Step {
    /// A slug (`publish-statement`), unique in its playbook; what `incident step` takes.
    pub id: String,
    pub title: String,
    /// The title for Chinese-language teams.
    pub title_zh: Option<String>,
    /// How long after the incident opens the step should be done, in seconds; overdue steps
    /// remind.
    #[serde(serialize_with = "serialize_due", deserialize_with = "deserialize_due")]
    #[schema(value_type = Option<i64>)]
    pub due: Option<chrono::Duration>,
    /// Whether this step is publishing the official statement, whose time feeds the review.
    pub statement: bool,
}

fn serialize_due<S: serde::Serializer>(due: &Option<chrono::Duration>, s: S) -> Result<S::Ok, S::Error> {
    match due {
        Some(d) => s.serialize_some(&d.num_seconds()),
        None => s.serialize_none(),
    }
}

fn deserialize_due<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<chrono::Duration>, D::Error> {
    Ok(Option::<i64>::deserialize(d)?.map(chrono::Duration::seconds))
}

/// The playbooks by crisis type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Playbooks {
    by_type: BTreeMap<String, Playbook>,
}

impl Playbooks {
    /// Reads `dir/*.toml` in name order. A folder that is missing or unreadable, or holds
    /// no `*.toml` file, is an error at `dir:1:1`; a caller that treats a missing folder
    /// as "use the defaults" checks for it first and takes [`Playbooks::bundled`].
    pub fn load_dir(dir: &Path) -> Result<Playbooks, RuleErrors> {
        let shown = dir.display().to_string();
        let folder_error = |message: String| RuleErrors(vec![RuleError::whole_file(&shown, message)]);
        let mut paths = Vec::new();
        let entries =
            std::fs::read_dir(dir).map_err(|e| folder_error(format!("cannot read the playbooks folder: {e}")))?;
        for entry in entries {
            let path = entry.map_err(|e| folder_error(format!("cannot read the playbooks folder: {e}")))?.path();
            if path.is_file() && path.extension().is_some_and(|e| e == "toml") {
                paths.push(path);
            }
        }
        if paths.is_empty() {
            return Err(folder_error("no playbook files (*.toml) in this folder".to_string()));
        }
        // Name order keeps the "first defined in" of a duplicate stable.
        paths.sort();
        let mut errors = Vec::new();
        let mut sources = Vec::new();
        for path in paths {
            let shown = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(content) => sources.push((shown, content)),
                Err(e) => errors.push(RuleError::whole_file(&shown, format!("cannot read: {e}"))),
            }
        }
        match Playbooks::from_sources(&sources) {
            Ok(playbooks) if errors.is_empty() => Ok(playbooks),
            Ok(_) => Err(RuleErrors(errors)),
            Err(RuleErrors(more)) => {
                errors.extend(more);
                Err(RuleErrors(errors))
            }
        }
    }

    /// The default playbooks shipped inside the binary.
    pub fn bundled() -> Playbooks {
        let sources: Vec<(String, String)> =
            crate::bundled::PLAYBOOKS.iter().map(|(path, content)| (path.to_string(), content.to_string())).collect();
        match Playbooks::from_sources(&sources) {
            Ok(playbooks) => playbooks,
            // Compiled-in data, not user input; `the_bundled_playbooks_cover_every_default_type` guards it.
            Err(e) => panic!("the bundled playbooks are broken:\n{e}"),
        }
    }

    /// Builds the playbooks from file contents given as (path for errors, content).
    pub fn from_sources(files: &[(String, String)]) -> Result<Playbooks, RuleErrors> {
        let mut errors = Vec::new();
        let mut by_type = BTreeMap::new();
        let mut first_seen: HashMap<String, String> = HashMap::new();
        for (path, content) in files {
            let Some((crisis_type_at, playbook)) = load_file(path, content, &mut errors) else {
                continue;
            };
            let here = RuleError::at(path, content, crisis_type_at, "");
            if let Some(first) = first_seen.get(&playbook.crisis_type) {
                errors.push(RuleError::at(
                    path,
                    content,
                    crisis_type_at,
                    format!("a playbook for crisis type `{}` is already defined at {first}", playbook.crisis_type),
                ));
                continue;
            }
            first_seen.insert(playbook.crisis_type.clone(), format!("{}:{}:{}", here.file, here.line, here.column));
            by_type.insert(playbook.crisis_type.clone(), playbook);
        }
        if errors.is_empty() { Ok(Playbooks { by_type }) } else { Err(RuleErrors(errors)) }
    }

    /// The playbooks of a rules folder: `dir/playbooks/*.toml` when that folder exists, else
    /// the bundled ones.
    pub fn for_rules_dir(dir: &Path) -> Result<Playbooks, RuleErrors> {
        let folder = dir.join("playbooks");
        if folder.is_dir() { Playbooks::load_dir(&folder) } else { Ok(Playbooks::bundled()) }
    }

    /// The playbook for a crisis type.
    pub fn get(&self, crisis_type: &str) -> Option<&Playbook> {
        self.by_type.get(crisis_type)
    }

    /// Every playbook, by crisis type in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Playbook> {
        self.by_type.values()
    }

    /// One message per rule whose crisis type has no playbook: its incidents would have no
    /// steps to follow.
    pub fn check_rules(&self, rules: &RuleSet) -> Vec<String> {
        rules
            .rules()
            .iter()
            .filter(|rule| self.get(&rule.crisis_type).is_none())
            .map(|rule| {
                format!(
                    "{}: rule `{}` has crisis_type `{}`, which no playbook covers",
                    rule.file, rule.id, rule.crisis_type
                )
            })
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaybook {
    crisis_type: Spanned<String>,
    title: String,
    #[serde(default)]
    title_zh: Option<String>,
    #[serde(default)]
    strategy: Option<String>,
    #[serde(default)]
    strategy_zh: Option<String>,
    #[serde(default)]
    step: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: Spanned<String>,
    title: String,
    #[serde(default)]
    title_zh: Option<String>,
    #[serde(default)]
    due: Option<HumanDuration>,
    #[serde(default)]
    statement: Option<Spanned<bool>>,
}

/// One file to a playbook and where its `crisis_type` value is written, or `None` with
/// its problems pushed to `errors`.
fn load_file(path: &str, content: &str, errors: &mut Vec<RuleError>) -> Option<(usize, Playbook)> {
    let raw: RawPlaybook = match toml::from_str(content) {
        Ok(raw) => raw,
        Err(e) => {
            errors.push(RuleError::at(path, content, e.span().map_or(0, |s| s.start), e.message()));
            return None;
        }
    };
    let before = errors.len();
    let crisis_type_at = raw.crisis_type.span().start;
    if raw.crisis_type.get_ref().trim().is_empty() {
        errors.push(RuleError::at(path, content, crisis_type_at, "crisis_type must not be empty"));
    }
    if raw.step.is_empty() {
        errors.push(RuleError::at(path, content, crisis_type_at, "a playbook needs at least one [[step]]"));
    }
    let mut seen_ids: HashMap<&str, usize> = HashMap::new();
    let mut statement_at: Option<usize> = None;
    for step in &raw.step {
        let id_at = step.id.span().start;
        let id = step.id.get_ref().as_str();
        if !is_slug(id) {
            errors.push(RuleError::at(
                path,
                content,
                id_at,
                format!("step id `{id}` must be a slug: lower-case letters and digits joined by single `-`"),
            ));
        }
        if let Some(first) = seen_ids.get(id) {
            let first = RuleError::at(path, content, *first, "");
            errors.push(RuleError::at(
                path,
                content,
                id_at,
                format!("duplicate step id `{id}` (first at line {})", first.line),
            ));
        } else {
            seen_ids.insert(id, id_at);
        }
        if let Some(statement) = step.statement.as_ref().filter(|s| *s.get_ref()) {
            if let Some(first) = statement_at {
                let first = RuleError::at(path, content, first, "");
                errors.push(RuleError::at(
                    path,
                    content,
                    statement.span().start,
                    format!("only one step may be the official statement (`statement = true` at line {})", first.line),
                ));
            } else {
                statement_at = Some(statement.span().start);
            }
        }
    }
    if errors.len() > before {
        return None;
    }
    let steps = raw
        .step
        .into_iter()
        .map(|s| Step {
            id: s.id.into_inner(),
            title: s.title,
            title_zh: s.title_zh,
            due: s.due.map(HumanDuration::chrono),
            statement: s.statement.is_some_and(|s| s.into_inner()),
        })
        .collect();
    let playbook = Playbook {
        crisis_type: raw.crisis_type.into_inner(),
        title: raw.title,
        title_zh: raw.title_zh,
        strategy: raw.strategy,
        strategy_zh: raw.strategy_zh,
        steps,
    };
    Some((crisis_type_at, playbook))
}

/// Lower-case ASCII letters and digits in words joined by single hyphens: `notify-regulator`.
fn is_slug(id: &str) -> bool {
    !id.is_empty()
        && id
            .split('-')
            .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT_TYPES: [&str; 13] = [
        "product_quality",
        "service_failure",
        "safety_incident",
        "rumor_or_attack",
        "legal_regulatory",
        "data_breach",
        "executive_conduct",
        "offensive_content",
        "labour",
        "consumer_rights",
        "financial_fraud",
        "environmental",
        "general",
    ];

    /// The classic response cycle (SPEC §4): every default playbook has these steps in
    /// this order, with steps of its own in between.
    const CYCLE: [&str; 7] = [
        "confirm-facts",
        "assess-impact",
        "choose-strategy",
        "publish-statement",
        "respond-affected",
        "track-sentiment",
        "post-incident-review",
    ];

    fn errors(content: &str) -> Vec<String> {
        let err = Playbooks::from_sources(&[("p.toml".to_string(), content.to_string())]).expect_err("should fail");
        err.0.iter().map(|e| format!("{}:{}: {}", e.line, e.column, e.message)).collect()
    }

    const GOOD: &str = "crisis_type = \"x\"\ntitle = \"X\"\n\n[[step]]\nid = \"confirm-facts\"\ntitle = \"Confirm\"\n";

    #[test]
    fn the_bundled_playbooks_cover_every_default_type() {
        let playbooks = Playbooks::bundled();
        assert_eq!(playbooks.iter().count(), DEFAULT_TYPES.len());
        for crisis_type in DEFAULT_TYPES {
            let playbook = playbooks.get(crisis_type).unwrap_or_else(|| panic!("no playbook for {crisis_type}"));
            assert!(playbook.strategy.as_deref().is_some_and(|s| !s.trim().is_empty()), "{crisis_type}");
            let statements: Vec<&Step> = playbook.steps.iter().filter(|s| s.statement).collect();
            assert_eq!(statements.len(), 1, "{crisis_type}");
            assert_eq!(statements[0].id, "publish-statement", "{crisis_type}");
            // The statement is due within 1 to 4 hours: the first hours decide the story.
            let due = statements[0].due.unwrap_or_else(|| panic!("{crisis_type}: statement has no due time"));
            assert!(due >= chrono::Duration::hours(1) && due <= chrono::Duration::hours(4), "{crisis_type}: {due}");
            let positions: Vec<usize> = CYCLE
                .iter()
                .map(|id| {
                    playbook.steps.iter().position(|s| s.id == *id).unwrap_or_else(|| panic!("{crisis_type}: no {id}"))
                })
                .collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{crisis_type}: steps out of cycle order");
            for step in &playbook.steps {
                assert!(step.title_zh.as_deref().is_some_and(|t| !t.is_empty()), "{crisis_type}/{}", step.id);
            }
            // The Chinese dashboard shows the playbook in Chinese.
            assert!(playbook.title_zh.as_deref().is_some_and(|t| !t.is_empty()), "{crisis_type}: title_zh");
            assert!(playbook.strategy_zh.as_deref().is_some_and(|t| !t.is_empty()), "{crisis_type}: strategy_zh");
        }
        let breach = playbooks.get("data_breach").expect("data_breach");
        let regulator = breach.steps.iter().find(|s| s.id == "notify-regulator").expect("notify-regulator");
        assert_eq!(regulator.due, Some(chrono::Duration::hours(72)));
        let safety = playbooks.get("safety_incident").expect("safety_incident");
        assert!(safety.steps.iter().any(|s| s.id == "coordinate-authorities"));
    }

    #[test]
    fn the_playbooks_folder_matches_the_bundled_set() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/playbooks");
        let on_disk = Playbooks::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        // The build bundles every file of the folder, so the two are the same set.
        assert_eq!(on_disk, Playbooks::bundled());
    }

    #[test]
    fn every_bundled_rule_has_a_playbook() {
        assert_eq!(Playbooks::bundled().check_rules(&RuleSet::bundled()), Vec::<String>::new());
    }

    #[test]
    fn a_rule_whose_crisis_type_has_no_playbook_is_reported() {
        let rules = "[[rule]]\nid = \"a\"\ntitle = \"t\"\nquery = \"acme\"\nseverity = 50\ncrisis_type = \"x\"\n\n\
                     [[rule]]\nid = \"b\"\ntitle = \"t\"\nquery = \"acme\"\nseverity = 50\ncrisis_type = \"supply_chain\"\n";
        let rules = RuleSet::from_sources(&[("r.toml".to_string(), rules.to_string())], &[]).expect("rules load");
        let playbooks = Playbooks::from_sources(&[("p.toml".to_string(), GOOD.to_string())]).expect("playbook loads");
        assert_eq!(
            playbooks.check_rules(&rules),
            vec!["r.toml: rule `b` has crisis_type `supply_chain`, which no playbook covers"]
        );
    }

    #[test]
    fn a_playbook_loads_with_due_times_and_its_statement_step() {
        let content = "crisis_type = \"x\"\ntitle = \"X\"\nstrategy = \"Say sorry.\"\n\n\
                       [[step]]\nid = \"confirm-facts\"\ntitle = \"Confirm\"\ntitle_zh = \"核实\"\ndue = \"90m\"\n\n\
                       [[step]]\nid = \"publish-statement\"\ntitle = \"Publish\"\ndue = \"2h\"\nstatement = true\n\n\
                       [[step]]\nid = \"review\"\ntitle = \"Review\"\nstatement = false\n";
        let playbooks = Playbooks::from_sources(&[("p.toml".to_string(), content.to_string())]).expect("loads");
        let playbook = playbooks.get("x").expect("x");
        assert_eq!(playbook.strategy.as_deref(), Some("Say sorry."));
        let dues: Vec<Option<i64>> = playbook.steps.iter().map(|s| s.due.map(|d| d.num_minutes())).collect();
        assert_eq!(dues, vec![Some(90), Some(120), None]);
        assert_eq!(playbook.statement_step().map(|s| s.id.as_str()), Some("publish-statement"));
        assert_eq!(playbook.steps[0].title_zh.as_deref(), Some("核实"));
    }

    #[test]
    fn an_unknown_key_is_reported_where_it_is_written() {
        let shown =
            errors("crisis_type = \"x\"\ntitle = \"X\"\n\n[[step]]\nid = \"a\"\ntitle = \"A\"\nowner = \"pr\"\n");
        assert_eq!(shown.len(), 1, "{shown:#?}");
        assert!(shown[0].starts_with("7:1: unknown field `owner`"), "{shown:#?}");
        let shown = errors("crisis_type = \"x\"\ntitel = \"X\"\n");
        assert!(shown[0].starts_with("2:1: unknown field `titel`"), "{shown:#?}");
    }

    #[test]
    fn a_bad_due_time_points_at_its_value() {
        let shown =
            errors("crisis_type = \"x\"\ntitle = \"X\"\n\n[[step]]\nid = \"a\"\ntitle = \"A\"\ndue = \"soon\"\n");
        assert_eq!(shown.len(), 1, "{shown:#?}");
        assert!(shown[0].starts_with("7:7: bad duration \"soon\""), "{shown:#?}");
    }

    #[test]
    fn duplicate_step_ids_and_bad_slugs_are_reported_at_the_id() {
        let content = "crisis_type = \"x\"\ntitle = \"X\"\n\n\
                       [[step]]\nid = \"confirm\"\ntitle = \"A\"\n\n\
                       [[step]]\nid = \"Publish Statement\"\ntitle = \"B\"\n\n\
                       [[step]]\nid = \"confirm\"\ntitle = \"C\"\n\n\
                       [[step]]\nid = \"trailing-\"\ntitle = \"D\"\n";
        assert_eq!(
            errors(content),
            vec![
                "9:6: step id `Publish Statement` must be a slug: lower-case letters and digits joined by single `-`",
                "13:6: duplicate step id `confirm` (first at line 5)",
                "17:6: step id `trailing-` must be a slug: lower-case letters and digits joined by single `-`",
            ]
        );
    }

    #[test]
    fn a_second_statement_step_is_refused() {
        let content = "crisis_type = \"x\"\ntitle = \"X\"\n\n\
                       [[step]]\nid = \"a\"\ntitle = \"A\"\nstatement = true\n\n\
                       [[step]]\nid = \"b\"\ntitle = \"B\"\n  statement = true\n";
        assert_eq!(
            errors(content),
            vec!["12:15: only one step may be the official statement (`statement = true` at line 7)"]
        );
    }

    #[test]
    fn a_playbook_without_steps_is_refused() {
        assert_eq!(
            errors("title = \"X\"\ncrisis_type = \"x\"\n"),
            vec!["2:15: a playbook needs at least one [[step]]"]
        );
    }

    #[test]
    fn a_crisis_type_defined_twice_names_the_first_file() {
        let err = Playbooks::from_sources(&[("a.toml".into(), GOOD.into()), ("b.toml".into(), GOOD.into())])
            .expect_err("duplicate");
        assert_eq!(err.0.len(), 1);
        assert!(
            err.to_string()
                .starts_with("b.toml:1:15: a playbook for crisis type `x` is already defined at a.toml:1:15"),
            "{err}"
        );
    }

    #[test]
    fn toml_syntax_errors_are_located() {
        let shown = errors("crisis_type = \"x\"\ntitle = \n");
        assert!(shown[0].starts_with("2:"), "{shown:#?}");
    }

    #[test]
    fn a_missing_folder_is_an_error_for_the_caller_to_handle() {
        let err = Playbooks::load_dir(Path::new("/no/such/playbooks")).expect_err("missing folder");
        assert!(err.to_string().starts_with("/no/such/playbooks:1:1: cannot read the playbooks folder"), "{err}");
    }

    #[test]
    fn overdue_steps_and_the_next_reminder_count_from_the_opening_and_skip_settled_steps() {
        let playbooks = Playbooks::bundled();
        let playbook = playbooks.get("service_failure").expect("bundled");
        let opened = DateTime::from_timestamp(1_700_000_000, 0).expect("valid");
        let minutes = |m: i64| opened + chrono::Duration::minutes(m);
        assert_eq!(playbook.next_reminder(opened, &[]), Some(minutes(15)));
        let overdue: Vec<&str> = playbook.overdue(opened, &[], minutes(31)).iter().map(|s| s.id.as_str()).collect();
        assert_eq!(overdue, ["confirm-facts", "assess-impact"]);
        let settled = vec!["confirm-facts".to_owned(), "assess-impact".to_owned()];
        assert!(playbook.overdue(opened, &settled, minutes(31)).is_empty());
        assert_eq!(playbook.next_reminder(opened, &settled), Some(minutes(45)));
    }
}
