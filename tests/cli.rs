//! The command line as a user runs it, and the docs' examples checked against the product.

use std::path::Path;
use std::process::{Command, Output};

use tocsin::config::Config;

fn tocsin(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tocsin")).current_dir(dir).args(args).output().expect("run tocsin")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_reports_every_config_and_rule_error_with_its_location_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("tocsin.toml"), "[poll]\ndefault_interval = \"5m\"\nintervall = \"1m\"\n")
        .expect("write");
    let out = tocsin(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("tocsin.toml:3:1: unknown field `intervall`"), "{err}");

    std::fs::write(dir.path().join("tocsin.toml"), "[rules]\ndir = \"rules\"\n").expect("write");
    std::fs::create_dir_all(dir.path().join("rules/lists")).expect("mkdir");
    std::fs::write(dir.path().join("rules/lists/brand.txt"), "Acme\n").expect("write");
    std::fs::write(
        dir.path().join("rules/mine.toml"),
        "[[rule]]\nid = \"a\"\ntitle = \"A\"\nquery = '@brand AND (recall'\nseverity = 50\ncrisis_type = \"product_quality\"\n\n\
         [[rule]]\nid = \"b\"\ntitle = \"B\"\nquery = '@nolist'\nseverity = 50\ncrisis_type = \"product_quality\"\n",
    )
    .expect("write");
    let out = tocsin(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("2 problem(s)"), "both rule errors are reported: {err}");
    assert!(err.contains("mine.toml:4:"), "{err}");
    assert!(err.contains("mine.toml:11:"), "{err}");
    assert!(err.contains('^'), "a caret points at the spot: {err}");

    std::fs::write(dir.path().join("rules/mine.toml"), "").expect("write");
    let out = tocsin(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn test_runs_the_bundled_examples_and_score_prints_offsets_into_the_original_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tocsin(dir.path(), &["test"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let summary = stdout.lines().last().expect("summary line");
    assert!(summary.ends_with("passed, 0 failed"), "{summary}");
    assert!(stdout.lines().filter(|l| l.starts_with("ok")).count() >= 16);

    let input = "孩子喝了艾克米酸奶后食物中毒";
    let out = tocsin(dir.path(), &["score", input]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["matches"][0]["rule"], "food-safety");
    let breakdown = &json["risk"]["breakdown"];
    assert_eq!(breakdown["severity"], 75);
    let negativity = breakdown["negativity"].as_f64().expect("negativity");
    assert_eq!(json["risk"]["score"].as_f64(), Some((75.0 * negativity).round().min(100.0)), "{breakdown}");
    assert_eq!(json["lang"], "zh");
    assert_eq!(json["sentiment"]["model"], "zh");
    for term in json["matches"][0]["terms"].as_array().expect("terms") {
        let (start, end) =
            (term["start"].as_u64().expect("start") as usize, term["end"].as_u64().expect("end") as usize);
        assert!(["艾克米", "食物中毒"].contains(&&input[start..end]), "offsets point at {:?}", &input[start..end]);
    }
}

#[test]
fn incident_commands_refuse_unknown_ids_as_user_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("tocsin.toml"), "[store]\nurl = \"sqlite://t.db\"\n").expect("write");
    let out = tocsin(dir.path(), &["incident", "ack", "42"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no incident 42"), "{}", text(&out.stderr));
}

/// Every `toml` block in the README and docs/ is a valid tocsin.toml, rule file or playbook.
#[test]
fn config_examples_in_the_docs_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    if let Ok(entries) = std::fs::read_dir(root.join("docs")) {
        files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "md")));
    }
    let mut checked = 0;
    for file in files {
        let content = std::fs::read_to_string(&file).expect("read doc");
        for block in content.split("```toml\n").skip(1) {
            let example = block.split("\n```").next().expect("block end");
            if example.contains("[[rule]]") {
                // A rule file: checked against the bundled lists.
                let lists: Vec<(String, String, String)> = ["brand", "food_safety"]
                    .iter()
                    .map(|name| {
                        let path = root.join(format!("rules/lists/{name}.txt"));
                        let content = std::fs::read_to_string(&path).expect("bundled list");
                        ((*name).to_owned(), path.display().to_string(), content)
                    })
                    .collect();
                let rules =
                    tocsin::analyze::RuleSet::from_sources(&[(file.display().to_string(), example.to_owned())], &lists)
                        .unwrap_or_else(|e| panic!("{e}"));
                assert!(rules.run_examples().iter().all(|o| o.passed), "{}: rule examples pass", file.display());
                checked += 1;
                continue;
            }
            if example.contains("[[step]]") {
                // A playbook file.
                tocsin::incident::playbook::Playbooks::from_sources(&[(
                    file.display().to_string(),
                    example.to_owned(),
                )])
                .unwrap_or_else(|e| panic!("{e}"));
                checked += 1;
                continue;
            }
            if let Err(errors) = Config::parse(&file.display().to_string(), example) {
                panic!("{}: {}", file.display(), errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
            }
            checked += 1;
        }
    }
    assert!(checked >= 1, "the README shows a config example");
}

/// Someone with write access to the database file drops the append-only trigger and edits
/// an event: `tocsin incident verify` notices and names the event.
#[tokio::test]
async fn verify_finds_an_edited_timeline_event() {
    use chrono::{DateTime, Utc};
    use tocsin::analyze::risk::RiskWeights;
    use tocsin::analyze::{RuleSet, Scored, analyze};
    use tocsin::incident::Level;
    use tocsin::incident::escalation::Policy;
    use tocsin::incident::grouping::{self, Candidate, GroupState, Judged};
    use tocsin::incident::spike::{SpikeSettings, Verdict, Volume};
    use tocsin::ingest::Mention;
    use tocsin::store::{Arrival, Decide, SqliteStore, Store, Story};

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("tocsin.toml"), "[store]\nurl = \"sqlite://t.db\"\n").expect("write");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::connect(&url).await.expect("open");
    store.migrate().await.expect("migrate");
    let now = chrono::Utc::now();
    let mention = Mention {
        feed: "news".into(),
        guid: "1".into(),
        title: "Acme yogurt food poisoning".into(),
        body: String::new(),
        author: None,
        url: None,
        published: None,
        fetched_at: now,
        lang: None,
        engagement: None,
    };
    let scored = analyze(&RuleSet::bundled(), mention, &RiskWeights::default(), 1.0);
    let candidate = Candidate {
        group_key: "rule:food-safety".into(),
        rule: "food-safety".into(),
        title: "Food safety".into(),
        score: 70,
        level: Level::High,
        why: serde_json::json!({}),
        policy: Policy::none(),
        mention_at: now,
        crisis_type: None,
        playbook: None,
        silenced_by: None,
        drill: false,
        brand: None,
        volume_only: false,
    };
    /// Opens an incident for whatever arrives, spikes aside.
    struct OpenAlways(Candidate);
    impl Decide for OpenAlways {
        fn candidates(&self, scored: Scored, _: &Story, _: DateTime<Utc>) -> (Scored, Vec<Candidate>) {
            (scored, vec![self.0.clone()])
        }
        fn judge(&self, c: &Candidate, live: Option<&GroupState>, _: &Volume, now: DateTime<Utc>) -> Judged {
            grouping::judge(c, live, &Verdict::ColdStart, 60, now)
        }
        fn spike(&self) -> SpikeSettings {
            tocsin::config::RiskConfig::default().spike()
        }
        fn reopen_within(&self) -> chrono::Duration {
            chrono::Duration::hours(24)
        }
    }
    store.ingest(vec![Arrival::new(scored, now)], &OpenAlways(candidate)).await.expect("ingest");
    let out = tocsin(dir.path(), &["incident", "ack", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = tocsin(dir.path(), &["incident", "verify", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 timeline events, hash chain intact"), "{}", text(&out.stdout));

    let pool = sqlx::SqlitePool::connect(&url).await.expect("pool");
    sqlx::query("DROP TRIGGER timeline_refuses_update").execute(&pool).await.expect("drop trigger");
    sqlx::query("UPDATE timeline SET actor = 'someone-else' WHERE kind = 'acknowledged'")
        .execute(&pool)
        .await
        .expect("tamper");
    let out = tocsin(dir.path(), &["incident", "verify", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("altered at event 2 (acknowledged"), "{}", text(&out.stderr));

    // An edit that leaves the stored details unreadable as JSON is named like any other.
    sqlx::query("UPDATE timeline SET details = substr(details, 2) WHERE kind = 'opened'")
        .execute(&pool)
        .await
        .expect("tamper");
    let out = tocsin(dir.path(), &["incident", "verify", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("altered at event 1 (opened"), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no longer match its hash"), "{}", text(&out.stderr));
}

#[test]
fn feed_parse_prints_every_item_field_and_refuses_a_web_page_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rss = "<?xml version=\"1.0\" encoding=\"gb2312\"?><rss version=\"2.0\"><channel><title>\u{827e}\u{514b}\u{7c73}</title>\
               <link>https://forum.example/</link><language>zh-cn</language><item><title>Stray & ampersand</title>\
               <link>/t/1</link><description>&lt;b&gt;bold&lt;/b&gt; text&nbsp;here</description>\
               <pubDate>Tue, 24 Nov 2026 08:00:00 +0800</pubDate></item></channel></rss>";
    let (bytes, _, _) = encoding_rs::GBK.encode(rss);
    std::fs::write(dir.path().join("feed.xml"), &bytes).expect("write");
    let out = tocsin(dir.path(), &["feed", "parse", "feed.xml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["title"], "\u{827e}\u{514b}\u{7c73}", "decoded from GB2312");
    assert_eq!(json["language"], "zh-cn");
    assert!(json["problems"].as_array().is_some_and(|p| !p.is_empty()), "the stray & is reported: {json}");
    let item = &json["items"][0];
    for key in ["id", "title", "link", "summary", "content", "author", "published", "updated", "language"] {
        assert!(item.get(key).is_some(), "item has {key}: {item}");
    }
    assert_eq!(item["title"], "Stray & ampersand");
    assert_eq!(item["published"], "2026-11-24T00:00:00Z");

    std::fs::write(dir.path().join("page.html"), "<!DOCTYPE html><html><body>Log in</body></html>").expect("write");
    let out = tocsin(dir.path(), &["feed", "parse", "page.html"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not a feed: got an HTML page"), "{}", text(&out.stderr));
}

#[test]
fn feeds_lists_configured_and_watch_derived_feeds_with_their_health() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("tocsin.toml"),
        "[store]\nurl = \"sqlite://t.db\"\n[[feed]]\nname = \"forum\"\nurl = \"https://forum.example/feed\"\n\
         [[watch]]\nname = \"acme\"\nquery = \"Acme\"\nsources = [\"hackernews\"]\n",
    )
    .expect("write");
    let out = tocsin(dir.path(), &["feeds"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(listing.lines().next().is_some_and(|h| h.contains("last success") && h.contains("next poll")), "{listing}");
    assert!(listing.lines().any(|l| l.starts_with("forum ") && l.contains(" 0 ")), "{listing}");
    assert!(listing.lines().any(|l| l.starts_with("acme-hackernews ")), "{listing}");
}

/// Every row of the examples table in docs/rules.md holds.
#[test]
fn the_query_examples_in_docs_rules_md_hold() {
    use tocsin::analyze::RuleSet;
    use tocsin::ingest::Mention;

    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md")).expect("read");
    let table = doc.split("## Examples").nth(1).expect("examples section");
    let rows: Vec<Vec<String>> = table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.trim_matches('|').split(" | ").map(|c| c.trim().replace("\\*", "*").replace("\\|", "|")).collect())
        .collect();
    assert!(rows.len() >= 10, "the table has examples");
    let lists = [("brand".to_owned(), "brand.txt".to_owned(), "Acme\n艾克米\n".to_owned())];
    for row in rows {
        let (query, text, expected) = (row[0].trim_matches('`'), &row[1], row[2] == "yes");
        let rule = format!(
            "[[rule]]\nid = \"r\"\ntitle = \"r\"\nquery = '{query}'\nseverity = 50\ncrisis_type = \"product_quality\"\n"
        );
        let rules =
            RuleSet::from_sources(&[("doc.toml".to_owned(), rule)], &lists).unwrap_or_else(|e| panic!("{query}: {e}"));
        let mention = Mention {
            feed: "docs".into(),
            guid: "1".into(),
            title: text.clone(),
            body: String::new(),
            author: None,
            url: None,
            published: None,
            fetched_at: chrono::Utc::now(),
            lang: None,
            engagement: None,
        };
        assert_eq!(!rules.scan(&mention, 0.0).is_empty(), expected, "{query} on {text:?}");
    }
}

/// Every row of the sentiment table in docs/rules.md holds, through `tocsin score --lines`
/// (one process, one JSON object per input line, in order).
#[test]
fn the_sentiment_examples_in_docs_rules_md_hold() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md")).expect("read");
    let section = doc.split("## Sentiment").nth(1).and_then(|s| s.split("\n## ").next()).expect("sentiment section");
    let rows: Vec<Vec<String>> = section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| text"))
        .map(|l| l.trim_matches('|').split(" | ").map(|c| c.trim().to_owned()).collect())
        .collect();
    assert!(rows.len() >= 6, "the table has examples");
    let input: String = rows.iter().map(|r| format!("{}\n", r[0])).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .current_dir(dir.path())
        .args(["score", "--lines"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert_eq!(lines.len(), rows.len());
    for (row, scored) in rows.iter().zip(&lines) {
        let score = scored["sentiment"]["score"].as_f64().expect("score");
        let reads = if score >= 0.05 {
            "positive"
        } else if score <= -0.05 {
            "negative"
        } else {
            "neutral"
        };
        assert_eq!((scored["lang"].as_str(), reads), (Some(row[1].as_str()), row[2].as_str()), "{}: {scored}", row[0]);
    }
}

/// The worked example in docs/risk.md is what `tocsin score` prints.
#[test]
fn the_worked_risk_example_in_docs_risk_md_holds() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/risk.md")).expect("read");
    let example = doc.split("### Worked example").nth(1).expect("worked example");
    let command = example.split("```sh\n").nth(1).and_then(|s| s.split('\n').next()).expect("command");
    let text = command.trim_start_matches("tocsin score ").trim_matches('"');
    let shown: serde_json::Value = serde_json::from_str(
        example.split("```json\n").nth(1).and_then(|s| s.split("\n```").next()).expect("json block"),
    )
    .expect("the doc's JSON parses");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tocsin(dir.path(), &["score", text]);
    assert_eq!(out.status.code(), Some(0));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("score JSON");
    assert_eq!(printed["risk"], shown);
}

/// `tocsin replay` on history: the first outage report opens the incident at once (the
/// service pack weighs one first-hand outage report enough), the angry one twenty minutes
/// later joins it, and time-to-detect counts from the first report.
#[test]
fn replay_reports_the_incidents_history_would_have_opened_with_time_to_detect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let history = [
        r#"{"id": "1", "feed": "forum", "body": "Acme app is down again, can't log in since this morning", "published": "2026-03-01T08:00:00Z"}"#,
        r#"{"id": "2", "feed": "forum", "body": "Weather is fine today", "published": "2026-03-01T08:05:00Z"}"#,
        r#"{"id": "3", "feed": "forum", "body": "Acme app is down again, this is terrible, worst service ever", "published": "2026-03-01T08:20:00Z"}"#,
    ];
    std::fs::write(dir.path().join("history.jsonl"), history.join("\n")).expect("write");
    let db = dir.path().join("replay.db");
    let out = tocsin(dir.path(), &["replay", "history.jsonl", "--json", "--db", db.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["mentions"], 3);
    let incidents = report["incidents"].as_array().expect("incidents");
    assert_eq!(incidents.len(), 1, "{report}");
    assert_eq!(incidents[0]["group"], "rule:service-outage");
    assert_eq!(incidents[0]["first_mention_at"], "2026-03-01T08:00:00Z");
    assert_eq!(incidents[0]["time_to_detect_s"], 0);
    assert_eq!(incidents[0]["mentions"], 2, "{report}");
    assert!(incidents[0]["opened_at"].as_str().is_some_and(|t| t.starts_with("2026-03-01T08:00:00")));
    assert!(db.exists(), "--db keeps the results");

    // The same history as a table, from a saved RSS file too.
    let rss = r#"<rss version="2.0"><channel><title>forum</title>
<item><guid>a</guid><title>Acme app is down again, this is terrible, worst service ever</title><pubDate>Sun, 01 Mar 2026 09:00:00 GMT</pubDate></item>
<item><guid>b</guid><title>Acme app is down, no date given</title></item>
</channel></rss>"#;
    std::fs::write(dir.path().join("forum.xml"), rss).expect("write");
    let out = tocsin(dir.path(), &["replay", "forum.xml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("1 mentions replayed, 1 undated feed items skipped"), "{table}");
    assert!(table.contains("rule:service-outage") && table.contains("detected after 0s"), "{table}");

    std::fs::write(
        dir.path().join("bad.jsonl"),
        "{\"body\": \"Acme\", \"published\": \"2026-03-01T08:00:00Z\"}\n{oops\n",
    )
    .expect("write");
    let out = tocsin(dir.path(), &["replay", "bad.jsonl"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("bad.jsonl:2:"), "{}", text(&out.stderr));
}

/// A rehearsal from the terminal: a drill opens an incident, the team works its playbook,
/// silences a rule for a while and exports the review; mistakes exit 1 with one clear line.
#[test]
fn a_drill_is_worked_and_reviewed_from_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("tocsin.toml"), "[store]\nurl = \"sqlite://t.db\"\n").expect("write");
    let run = |args: &[&str]| tocsin(dir.path(), args);
    let ok = |args: &[&str]| {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "tocsin {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let refused = |args: &[&str], message: &str| {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "tocsin {args:?} should fail: {}", text(&out.stdout));
        assert!(text(&out.stderr).contains(message), "tocsin {args:?}: {}", text(&out.stderr));
    };

    assert!(ok(&["check"]).contains("13 playbooks"));
    let drilled = ok(&["drill", "--rule", "food-safety"]);
    assert!(drilled.starts_with("drill incident 1 opened for rule food-safety"), "{drilled}");
    refused(&["drill", "--rule", "food-safety"], "a drill of rule `food-safety` is already open (incident 1)");
    refused(&["drill", "--rule", "nope"], "no rule `nope`");

    let shown: serde_json::Value = serde_json::from_str(&ok(&["incident", "show", "1"])).expect("show is JSON");
    assert_eq!(shown["incident"]["drill"], true);
    assert_eq!(shown["checklist"]["crisis_type"], "product_quality");
    let first = shown["checklist"]["steps"][0]["id"].as_str().expect("a first step").to_owned();

    ok(&["incident", "assign", "1", "mei"]);
    ok(&["incident", "note", "1", "Rehearsal of the yogurt scenario"]);
    assert!(
        ok(&["incident", "step", "1", &first, "--note", "checked with QA"]).contains(&format!("step {first} done"))
    );
    refused(&["incident", "step", "1", &first], "already done");
    refused(&["incident", "step", "1", "dance"], "its steps are: ");
    refused(&["incident", "note", "7", "hello"], "no incident 7");

    ok(&["silence", "add", "--rule", "food-safety", "--for", "2h", "--reason", "the drill runs until noon"]);
    refused(&["silence", "add", "--rule", "food-safetyy", "--for", "2h", "--reason", "x"], "no rule `food-safetyy`");
    refused(&["silence", "add", "--feed", "forum", "--for", "forever", "--reason", "x"], "--for: bad duration");
    refused(&["silence", "add", "--for", "2h", "--reason", "x"], "required");
    assert!(ok(&["silence", "list"]).contains("food-safety"));
    ok(&["silence", "end", "1"]);
    refused(&["silence", "end", "1"], "silence 1 is already over");
    assert!(!ok(&["silence", "list"]).contains("food-safety"), "ended silences leave the list");
    assert!(ok(&["silence", "list", "--all"]).contains("food-safety"));

    let review: serde_json::Value =
        serde_json::from_str(&ok(&["incident", "export", "1", "--format", "json"])).expect("review JSON");
    assert_eq!(review["incident"]["drill"], true);
    assert_eq!(review["chain"]["status"], "verified");
    ok(&["incident", "export", "1", "--format", "html", "--output", "review.html"]);
    let html = std::fs::read_to_string(dir.path().join("review.html")).expect("review written");
    assert!(html.contains("[DRILL]") && html.contains("checked with QA"));
    let markdown = ok(&["incident", "export", "1"]);
    assert!(markdown.contains("Rehearsal of the yogurt scenario"), "{markdown}");
    refused(&["incident", "export", "9"], "no incident 9");

    refused(&["channel", "disable", "pager", "--reason", "x"], "no channel named \"pager\"");
}

/// The rehearsal in docs/workflow.md runs, line by line, as written.
#[test]
fn the_rehearsal_in_docs_workflow_md_runs_as_written() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/workflow.md")).expect("read");
    let block = doc.split("```sh\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a sh block");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("tocsin.toml"), "[store]\nurl = \"sqlite://tocsin.db\"\n").expect("write");
    let mut ran = 0;
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let words = shell_words(line);
        assert_eq!(words.first().map(String::as_str), Some("tocsin"), "{line}");
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let out = tocsin(dir.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{line}: {}", text(&out.stderr));
        ran += 1;
    }
    assert!(ran >= 10, "the rehearsal has its steps: {ran}");
    assert!(std::fs::read_to_string(dir.path().join("review.html")).expect("review").contains("posted on the website"));
    // The playbook example in the same page is a valid playbook.
    let example = doc.split("```toml\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a toml block");
    let playbooks = tocsin::incident::playbook::Playbooks::from_sources(&[("workflow.md".into(), example.into())])
        .expect("the documented playbook loads");
    assert!(playbooks.get("service_failure").and_then(|p| p.statement_step()).is_some());
}

/// Splits a documented command line into words: spaces separate, double quotes group.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// `tocsin digest` prints a period's report from the store: the day's mentions by source,
/// the incident and whether it was answered, in English and Chinese and as JSON; a period it
/// does not know is the user's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_prints_the_day_s_figures_and_incidents_in_both_languages() {
    use std::sync::Arc;
    use tocsin::analyze::RuleSet;
    use tocsin::ingest::Mention;
    use tocsin::store::{SqliteStore, Store};

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("tocsin.toml"), "[store]\nurl = \"sqlite://t.db\"\n").expect("write");
    let config = Config::parse("tocsin.toml", "[store]\nurl = \"sqlite://t.db\"\n").expect("config");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = Arc::new(SqliteStore::connect(&url).await.expect("open"));
    store.migrate().await.expect("migrate");
    let pipeline = tocsin::pipeline::Pipeline::new(
        store.clone(),
        Arc::new(RuleSet::bundled()),
        Arc::new(config),
        tocsin::clock::Clock::default(),
        Arc::new(tokio::sync::Notify::new()),
    )
    .expect("pipeline");
    let now = chrono::Utc::now();
    let day = [
        ("news", "Acme opens its new store in Leeds with a family day", 20),
        ("news", "Acme opens a second store in York", 15),
        ("news", "Acme sponsors the city marathon", 10),
        ("weibo", "孩子喝了艾克米酸奶后食物中毒，家长要求艾克米给个说法", 3),
        ("forum", "My kid got food poisoning after eating Acme yogurt", 2),
    ];
    let mentions: Vec<Mention> = day
        .iter()
        .enumerate()
        .map(|(n, (feed, title, hours))| {
            Mention::text(feed, &n.to_string(), title, title, now - chrono::Duration::hours(*hours))
        })
        .collect();
    pipeline.process_all(mentions).await.expect("store the day");
    let incidents =
        store.incidents(&tocsin::store::IncidentFilter { limit: 10, ..Default::default() }).await.expect("list");
    assert_eq!(incidents.len(), 1, "the food-poisoning posts are one incident");

    let out = tocsin(dir.path(), &["digest", "--period", "24h"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for expected in [
        "Daily report: ",
        "Mentions: 5, mean sentiment ",
        "By source: news 3",
        "weibo 1",
        "forum 1",
        "Incidents: 1",
        "not acknowledged",
    ] {
        assert!(report.contains(expected), "{expected:?} missing from:\n{report}");
    }
    assert!(report.contains(&format!("#{} [", incidents[0].id)), "{report}");

    let out = tocsin(dir.path(), &["digest", "--period", "24h", "--lang", "zh"]);
    let report = text(&out.stdout);
    for expected in ["舆情日报：", "提及：5，平均情绪 ", "按来源：", "事件：1", "尚未确认"] {
        assert!(report.contains(expected), "{expected:?} missing from:\n{report}");
    }
    let out = tocsin(dir.path(), &["digest", "--period", "7d", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (&json["figures"]["period"], &json["figures"]["mentions"]),
        (&serde_json::json!("7d"), &serde_json::json!(5))
    );
    assert_eq!(json["incidents"].as_array().map(Vec::len), Some(1));

    let out = tocsin(dir.path(), &["digest", "--period", "1y"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("period \"1y\" is not 24h, 7d or 30d"), "{}", text(&out.stderr));
}
