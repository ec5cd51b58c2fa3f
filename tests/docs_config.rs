//! The configuration the docs show is the configuration tocsin loads: every `toml` block of
//! docs/configuration.md and the README, `tocsin.example.toml` and the compose config go
//! through the real loader, and the reference names every key the loader knows.
//!
//! Convention: a block fenced as `toml` is a whole config file and must load; a block fenced
//! as `toml-error` must fail, and the `text` block after it holds the exact errors.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use tocsin::config::Config;

/// A key no config struct has, put into each table to make the loader list the keys it takes.
const PROBE: &str = "zz_probe";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// One fenced block of a Markdown file.
struct Block {
    /// The info string after the opening fence: `toml`, `toml-error`, `text`, ...
    info: String,
    text: String,
    /// Line of the opening fence, 1-based.
    line: usize,
}

/// The fenced blocks of a Markdown document, with the indentation of list items removed.
fn blocks(markdown: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<(Block, usize)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        match open.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let block = Block { info: info.trim().to_owned(), text: String::new(), line: index + 1 };
                    open = Some((block, line.len() - trimmed.len()));
                }
            }
            Some((block, _)) if trimmed == "```" => found.push(block),
            Some((mut block, indent)) => {
                block.text.push_str(line.get(indent..).unwrap_or(trimmed));
                block.text.push('\n');
                open = Some((block, indent));
            }
        }
    }
    assert!(open.is_none(), "a fenced block is never closed");
    found
}

/// Loads `text` as `tocsin.toml` in a fresh folder with the real loader; errors come back
/// with the folder left out of their `file:line:col`.
fn load(text: &str) -> Result<Config, Vec<String>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tocsin.toml");
    std::fs::write(&path, text).expect("write config");
    let folder = format!("{}/", dir.path().display());
    Config::load(&path).map_err(|errors| errors.iter().map(|e| e.to_string().replace(&folder, "")).collect())
}

fn tocsin(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tocsin"));
    command.args(args).env_remove("TOCSIN_DATABASE_URL").env_remove("TOCSIN_LOG");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run tocsin")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_config_block_of_the_reference_and_the_readme_loads_and_every_error_block_fails_as_shown() {
    let mut loaded = 0;
    let mut refused = 0;
    for file in ["docs/configuration.md", "docs/delivery.md", "README.md"] {
        let found = blocks(&read(file));
        for (index, block) in found.iter().enumerate() {
            match block.info.as_str() {
                "toml" => {
                    if let Err(errors) = load(&block.text) {
                        panic!("{file}:{}: the example does not load:\n{}", block.line, errors.join("\n"));
                    }
                    loaded += 1;
                }
                "toml-error" => {
                    let Err(errors) = load(&block.text) else {
                        panic!("{file}:{}: the example meant to fail loads", block.line);
                    };
                    let shown = found
                        .get(index + 1)
                        .filter(|next| next.info == "text")
                        .unwrap_or_else(|| panic!("{file}:{}: no ```text block with the errors follows", block.line));
                    assert_eq!(shown.text.trim_end(), errors.join("\n"), "{file}:{}", shown.line);
                    refused += 1;
                }
                _ => {}
            }
        }
    }
    assert!(loaded >= 2, "the reference shows whole files ({loaded} found)");
    assert!(refused >= 1, "the reference shows an error ({refused} found)");
}

#[test]
fn the_example_config_and_the_compose_config_load_and_pass_check() {
    let example = load(&read("tocsin.example.toml")).unwrap_or_else(|e| panic!("{}", e.join("\n")));
    let feeds: Vec<&str> = example.feeds.iter().map(|f| f.name.get_ref().as_str()).collect();
    assert_eq!(feeds, ["acme-google-news", "acme-bing-news", "acme-reddit", "acme-hackernews"]);
    let kinds: Vec<String> = example.channels.iter().map(|c| format!("{:?}", c.kind)).collect();
    assert_eq!(kinds, ["Email", "DingTalk"], "an email and a chat channel");
    assert!(example.smtp.is_some(), "email goes out through SMTP");
    assert_eq!(example.escalation(None).map(|p| p.name.get_ref().as_str()), Some("default"));

    let agency = load(&read("tocsin.agency.example.toml")).unwrap_or_else(|e| panic!("{}", e.join("\n")));
    let brands: Vec<(&str, bool)> = agency.brands.iter().map(|b| (b.name.get_ref().as_str(), b.competitor)).collect();
    assert_eq!(brands, [("acme", false), ("globex", false), ("initech", true)], "two clients and a competitor");
    let acme_feeds: Vec<&str> = agency
        .feeds
        .iter()
        .filter(|f| f.brand.as_ref().is_some_and(|b| b.get_ref() == "acme"))
        .map(|f| f.name.get_ref().as_str())
        .collect();
    assert_eq!(acme_feeds, ["acme-forum", "acme-google-news", "acme-bing-news"], "its own feed and its searches");
    let acme = agency.brand("acme").expect("acme");
    assert_eq!(acme.channels.get("pr-team").map(|c| c.get_ref().as_str()), Some("acme-pr"));

    let compose = load(&read("deploy/tocsin.compose.toml")).unwrap_or_else(|e| panic!("{}", e.join("\n")));
    assert_eq!(compose.http.listen.to_string(), "0.0.0.0:8080", "reachable from outside its container");
    assert_eq!(compose.smtp.as_ref().map(|s| (s.host.as_str(), s.port)), Some(("mail", 1025)));

    // `check` as a user runs it: the example against the repository's rules folder.
    for file in ["tocsin.example.toml", "tocsin.agency.example.toml", "deploy/tocsin.compose.toml"] {
        let path = root().join(file);
        let out = tocsin(&["check", "-c", &path.display().to_string()], &[]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}{}", text(&out.stdout), text(&out.stderr));
        assert!(text(&out.stdout).contains(": ok ("), "{file}: {}", text(&out.stdout));
    }
}

#[test]
fn the_database_url_in_the_environment_replaces_the_configured_one() {
    // The compose config names a PostgreSQL host that only exists inside compose; the
    // environment's URL is the one used.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("tocsin.toml");
    std::fs::write(&config, read("deploy/tocsin.compose.toml")).expect("write config");
    let db = dir.path().join("from-env.db");
    let url = format!("sqlite://{}", db.display());
    let out = tocsin(&["migrate", "-c", &config.display().to_string()], &[("TOCSIN_DATABASE_URL", &url)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("from-env.db"), "{}", text(&out.stdout));
    assert!(db.exists(), "the database the environment names was created");
}

/// Where a table sits in a config: keys and array indexes from the top.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Tables whose keys are the user's own names, not keys of the loader (a brand's channel
/// replacements are keyed by channel name): documented by their parent's row.
const NAMED_BY_USER: &[&str] = &["brand.channels"];

/// Every table in `value` (array elements included) with its location and dotted path.
fn tables(value: &toml::Value, at: Vec<Step>, path: &str, found: &mut Vec<(Vec<Step>, String)>) {
    match value {
        toml::Value::Table(_) if NAMED_BY_USER.contains(&path) => {}
        toml::Value::Table(table) => {
            found.push((at.clone(), path.to_owned()));
            for (key, inner) in table {
                let mut next = at.clone();
                next.push(Step::Key(key.clone()));
                let dotted = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                tables(inner, next, &dotted, found);
            }
        }
        toml::Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                let mut next = at.clone();
                next.push(Step::Index(index));
                tables(inner, next, path, found);
            }
        }
        _ => {}
    }
}

fn table_at<'a>(mut value: &'a mut toml::Value, at: &[Step]) -> &'a mut toml::Table {
    for step in at {
        value = match (step, value) {
            (Step::Key(key), toml::Value::Table(table)) => table.get_mut(key).expect("key on the walked path"),
            (Step::Index(index), toml::Value::Array(items)) => items.get_mut(*index).expect("index on the walked path"),
            (step, _) => panic!("{step:?} does not lead to a table"),
        };
    }
    match value {
        toml::Value::Table(table) => table,
        _ => panic!("not a table"),
    }
}

/// The keys in backticks after "expected" in serde's unknown-field message.
fn expected_keys(message: &str) -> BTreeSet<String> {
    let Some((_, list)) = message.split_once("expected") else { return BTreeSet::new() };
    list.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

#[test]
fn the_reference_example_sets_every_key_the_loader_knows_and_the_tables_describe_each_one() {
    let doc = read("docs/configuration.md");
    let reference = blocks(&doc).into_iter().find(|b| b.info == "toml").expect("the reference example");
    let parsed: toml::Value = toml::from_str(&reference.text).expect("the reference is TOML");

    let mut found = Vec::new();
    tables(&parsed, Vec::new(), "", &mut found);
    // The keys the example sets under each dotted path, over every element of an array.
    let mut written: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (at, path) in &found {
        let mut copy = parsed.clone();
        written.entry(path.clone()).or_default().extend(table_at(&mut copy, at).keys().cloned());
    }

    // Ask the loader, table by table, which keys it takes: a key added to a config struct
    // but missing from the reference fails here, with no list of keys kept by hand.
    for (at, path) in &found {
        let mut probed = parsed.clone();
        table_at(&mut probed, at).insert(PROBE.to_owned(), toml::Value::Integer(1));
        let errors = load(&toml::to_string(&probed).expect("serialize")).expect_err("an unknown key is refused");
        let message = errors
            .iter()
            .find(|e| e.contains(&format!("unknown field `{PROBE}`")))
            .unwrap_or_else(|| panic!("[{path}]: the probe is not what was refused: {errors:?}"));
        assert!(message.starts_with("tocsin.toml:"), "located as file:line:col: {message}");
        let known = expected_keys(message);
        assert!(!known.is_empty(), "[{path}]: the loader lists its keys: {message}");
        let missing: Vec<&String> = known.difference(&written[path]).collect();
        assert!(missing.is_empty(), "[{path}] takes keys the reference example does not set: {missing:?}");
    }

    // The tables: one row per key, written as its dotted path.
    let documented: BTreeSet<String> = doc
        .lines()
        .filter(|line| line.starts_with("| `"))
        .filter_map(|row| row.split('|').nth(1))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned).collect::<Vec<_>>())
        .filter(|key| key.contains('.'))
        .collect();
    let keys: BTreeSet<String> = written
        .iter()
        .filter(|(path, _)| !path.is_empty())
        .flat_map(|(path, keys)| keys.iter().map(move |key| format!("{path}.{key}")))
        .collect();
    let undocumented: Vec<&String> = keys.difference(&documented).collect();
    let unknown: Vec<&String> = documented.difference(&keys).collect();
    assert!(undocumented.is_empty(), "keys without a row in a table: {undocumented:?}");
    assert!(unknown.is_empty(), "rows naming keys the loader does not have (misspelled?): {unknown:?}");
    for section in &written[""] {
        let heading = if matches!(parsed.get(section), Some(toml::Value::Array(_))) {
            format!("### `[[{section}]]`")
        } else {
            format!("### `[{section}]`")
        };
        assert!(doc.lines().any(|l| l == heading), "no heading {heading}");
    }
}

#[test]
fn the_commands_the_deploy_files_run_are_ones_the_binary_accepts() {
    let unit = read("deploy/tocsin.service");
    let exec_start = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("ExecStart in the unit");
    let unit_args: Vec<String> = exec_start.split_whitespace().skip(1).map(str::to_owned).collect();

    let dockerfile = read("deploy/Dockerfile");
    let cmd = dockerfile.lines().find_map(|l| l.strip_prefix("CMD ")).expect("CMD in the Dockerfile");
    let image_args: Vec<String> = serde_json::from_str(cmd).expect("CMD is an exec-form JSON array");

    for (file, args) in [("deploy/tocsin.service", unit_args), ("deploy/Dockerfile", image_args)] {
        assert_eq!(args.first().map(String::as_str), Some("run"), "{file}: {args:?}");
        assert!(args.windows(2).any(|w| w == ["--log-format", "json"]), "{file} logs JSON: {args:?}");
        // `--help` after the real arguments: clap refuses an unknown flag or value before it
        // prints help, and no config file is needed.
        let mut with_help: Vec<&str> = args.iter().map(String::as_str).collect();
        with_help.push("--help");
        let out = tocsin(&with_help, &[]);
        assert_eq!(out.status.code(), Some(0), "{file}: {args:?}: {}", text(&out.stderr));
    }
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"), "reload is SIGHUP");
}
