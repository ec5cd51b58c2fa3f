//! Triage and rule quality over HTTP against a running daemon, on SQLite and PostgreSQL: a
//! responder marks one matched mention relevant and another not relevant, the rule's
//! quality counts both and the terms behind them, and offers the verdicts as
//! `[[rule.example]]` blocks that parse; the dashboard's mention and rule pages show the
//! same, and a viewer may read but not judge.

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tocsin::analyze::RuleSet;
use tocsin::api::Tokens;
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::daemon;

const TOKENS: &str = "vic:viewer-token:viewer,rita:responder-token:responder,ops:admin-token:admin";

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn send(&self, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.send(token, reqwest::Method::GET, path, None).await
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(token, reqwest::Method::POST, path, Some(body)).await
    }

    /// A dashboard page as `token`'s script reads it (a bearer token works on pages too).
    async fn page(&self, token: &str, path: &str) -> (StatusCode, String) {
        let response = self.http.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.expect("page");
        (response.status(), response.text().await.expect("body"))
    }
}

async fn running(store_url: &str) -> (daemon::RunningDaemon, Api) {
    running_with(store_url, "").await
}

/// A daemon on `store_url` with `extra` config after the test's own.
async fn running_with(store_url: &str, extra: &str) -> (daemon::RunningDaemon, Api) {
    let config = Config::parse(
        "triage.toml",
        &format!(
            "[store]\nurl = \"{store_url}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n[[feed]]\nname = \"forum\"\n\
             url = \"http://127.0.0.1:9/forum\"\n{extra}"
        ),
    )
    .expect("config");
    let tokens = Tokens::parse(TOKENS).expect("tokens");
    let running = daemon::start(config, RuleSet::bundled(), Clock::default(), tokens).await.expect("daemon");
    tocsin::ingest::fetch::install_crypto_provider();
    let api = Api { http: reqwest::Client::new(), base: format!("http://{}", running.addr) };
    (running, api)
}

/// The stored mention of the pushed item `guid`.
async fn mention(api: &Api, guid: &str) -> Value {
    let (status, page) = api.get("viewer-token", "/api/v1/mentions?limit=100").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().expect("items").iter().find(|m| m["guid"] == guid).cloned().expect("the mention")
}

async fn triage_story(store_url: &str) {
    let (_running, api) = running(store_url).await;
    let crisis = json!({"id": "real", "feed": "forum", "title": "Three children in hospital with food poisoning after eating Acme yogurt"});
    let joke = json!({"id": "joke", "feed": "forum", "title": "Acme yogurt food poisoning", "body": "the title of my food-poisoning themed cooking show pilot. Acme yogurt sponsors it"});
    let (status, pushed) = api.post("admin-token", "/api/v1/mentions", json!([crisis, joke])).await;
    assert_eq!(status, StatusCode::OK, "{pushed}");
    let (real, joke) = (mention(&api, "real").await, mention(&api, "joke").await);
    for m in [&real, &joke] {
        let rules: Vec<&str> = m["rules"].as_array().expect("rules").iter().filter_map(Value::as_str).collect();
        assert!(rules.contains(&"food-safety"), "the story needs food-safety to match both: {m}");
        assert_eq!(m["triage"], Value::Null, "nobody has judged it yet");
    }
    let (real_id, joke_id) = (real["id"].as_i64().expect("id"), joke["id"].as_i64().expect("id"));

    // A viewer reads but does not judge; bad verdicts and unknown mentions are refused.
    let triage = |id: i64| format!("/api/v1/mentions/{id}/triage");
    let (status, refused) = api.post("viewer-token", &triage(joke_id), json!({"verdict": "not_relevant"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, refused) = api.post("responder-token", &triage(joke_id), json!({"verdict": "meh"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (status, refused) = api.post("responder-token", &triage(999_999), json!({"verdict": "relevant"})).await;
    assert_eq!((status, refused["error"].as_str()), (StatusCode::NOT_FOUND, Some("no mention 999999")));

    // First marked relevant by mistake, then not relevant: the later verdict stands.
    let (status, _) = api.post("responder-token", &triage(joke_id), json!({"verdict": "relevant"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, judged) = api.post("responder-token", &triage(joke_id), json!({"verdict": "not_relevant"})).await;
    assert_eq!(status, StatusCode::OK, "{judged}");
    assert_eq!((judged["verdict"].as_str(), judged["actor"].as_str()), (Some("not_relevant"), Some("rita")));
    let kept = judged["matches"].as_array().expect("matches").iter().find(|m| m["rule"] == "food-safety");
    let kept_terms = kept.expect("the food-safety match is kept")["terms"].as_array().expect("terms").clone();
    assert!(kept_terms.iter().any(|t| t == "food poisoning"), "the matched terms are kept: {judged}");
    let (status, _) = api.post("responder-token", &triage(real_id), json!({"verdict": "relevant"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mention(&api, "joke").await["triage"], "not_relevant");
    assert_eq!(mention(&api, "real").await["triage"], "relevant");

    // The rule's quality: both matches, one verdict each way, the term behind the false
    // positive, and the verdicts as examples for the rule file.
    let (status, quality) = api.get("viewer-token", "/api/v1/rules/food-safety/quality?period=24h").await;
    assert_eq!(status, StatusCode::OK, "{quality}");
    assert_eq!(
        (quality["matches"].as_u64(), quality["relevant"].as_u64(), quality["not_relevant"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{quality}"
    );
    assert_eq!(quality["not_relevant_share"].as_f64(), Some(0.5));
    let poisoning = quality["terms"].as_array().expect("terms").iter().find(|t| t["term"] == "food poisoning");
    let poisoning = poisoning.expect("the term behind both matches");
    assert_eq!((poisoning["matches"].as_u64(), poisoning["not_relevant"].as_u64()), (Some(2), Some(1)), "{quality}");
    let examples: toml::Table = quality["examples"].as_str().expect("examples").parse().expect("the block is TOML");
    let examples = examples["rule"]["example"].as_array().expect("[[rule.example]] tables");
    assert_eq!(examples.len(), 2, "{examples:?}");
    assert_eq!(examples[0]["title"].as_str(), Some("Acme yogurt food poisoning"));
    assert_eq!(examples[0]["match"].as_bool(), Some(false), "the false positive comes first, as match = false");
    assert_eq!(examples[1]["match"].as_bool(), Some(true));

    assert_examples_hold_the_rule_to_the_verdicts(quality["examples"].as_str().expect("examples"));

    let (status, refused) = api.get("viewer-token", "/api/v1/rules/no-such-rule/quality").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{refused}");
    let (status, refused) = api.get("viewer-token", "/api/v1/rules/food-safety/quality?period=1y").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    // The dashboard: the mention list shows the verdicts and offers the buttons to a
    // responder only; the rule page counts and offers the examples.
    let (status, html) = api.page("responder-token", "/mentions?rule=food-safety").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Marked not relevant") && html.contains("Marked relevant"), "{html}");
    assert!(html.contains(&format!("action=\"/mentions/{joke_id}/triage\"")), "a responder gets the buttons");
    let (_, viewer_html) = api.page("viewer-token", "/mentions?rule=food-safety").await;
    assert!(!viewer_html.contains("/triage\""), "a viewer gets no button it could not press");
    let (_, filtered) = api.page("viewer-token", "/mentions?q=cooking+show").await;
    assert!(filtered.contains("cooking show pilot") && !filtered.contains("Three children"), "search filters");
    let (status, rule_page) = api.page("viewer-token", "/rules/food-safety?period=24h").await;
    assert_eq!(status, StatusCode::OK);
    assert!(rule_page.contains("[[rule.example]]") && rule_page.contains("match = false"), "{rule_page}");
    assert!(rule_page.contains("50%"), "the share not relevant: {rule_page}");
}

/// The examples block pasted under the rule in a copy of its file: the rule loads, the
/// relevant example passes, and the false positive fails until the rule is fixed, which is
/// what `tocsin check` reports.
fn assert_examples_hold_the_rule_to_the_verdicts(block: &str) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let dir = tempfile::tempdir().expect("tempdir");
    let lists = dir.path().join("lists");
    std::fs::create_dir(&lists).expect("lists folder");
    for entry in std::fs::read_dir(root.join("lists")).expect("the bundled lists") {
        let path = entry.expect("a list").path();
        std::fs::copy(&path, lists.join(path.file_name().expect("a name"))).expect("copy a list");
    }
    let rule_file = std::fs::read_to_string(root.join("food_safety.toml")).expect("the food-safety pack");
    std::fs::write(dir.path().join("food_safety.toml"), format!("{rule_file}\n{block}")).expect("write the pack");
    let rules = RuleSet::load_dir(dir.path()).expect("the pack with the pasted examples loads");
    let pasted: Vec<_> = rules
        .run_examples()
        .into_iter()
        .filter(|outcome| {
            outcome.rule == "food-safety"
                && outcome.text.contains("food poisoning")
                && outcome.text.contains("Acme yogurt")
        })
        .collect();
    assert!(
        pasted.iter().any(|o| !o.expected && !o.passed),
        "the false positive is an example the rule still fails: {pasted:?}"
    );
    assert!(pasted.iter().any(|o| o.expected && o.passed), "the relevant one passes: {pasted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_feeds_the_rule_quality_page_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    triage_story(&format!("sqlite://{}", dir.path().join("triage.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_feeds_the_rule_quality_page_on_postgres() {
    let Some(scratch) = common::Scratch::new().await else { return };
    triage_story(&scratch.url).await;
    scratch.drop_schema().await;
}

/// The incident page opens on one sentence with its story's figures: its level and since
/// when, how many mentions in how many languages from how many sources, how many lately,
/// their sentiment and the next playbook step, in the reader's language.
async fn summary_story(store_url: &str) {
    let (_running, api) = running(store_url).await;
    let story = json!([
        {"id": "1", "feed": "forum", "title": "My kid got food poisoning after eating Acme yogurt"},
        {"id": "2", "feed": "news", "title": "Parents report food poisoning after Acme yogurt at a school lunch"},
        {"id": "3", "feed": "weibo", "title": "吃了艾克米酸奶后全家食物中毒，上吐下泻"},
    ]);
    let (status, pushed) = api.post("admin-token", "/api/v1/mentions", story).await;
    assert_eq!(status, StatusCode::OK, "{pushed}");
    let (_, incidents) = api.get("viewer-token", "/api/v1/incidents").await;
    let items = incidents["items"].as_array().expect("incidents");
    let incident = items.iter().find(|i| i["rule"] == "food-safety").expect("the food-safety incident");
    assert_eq!((items.len(), &incident["mentions"]), (1, &json!(3)), "one incident holds the story: {incidents}");
    let id = incident["id"].as_i64().expect("id");
    let (status, html) = api.page("viewer-token", &format!("/incidents/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let sentence = html
        .split("<p class=\"summary\"><strong>")
        .nth(1)
        .and_then(|rest| rest.split("</strong>").next())
        .expect("the summary sentence");
    let level = incident["level"].as_str().expect("a level");
    assert!(sentence.starts_with(&format!("{level} since ")), "{sentence}");
    assert!(sentence.contains("3 mentions in 2 languages from 3 sources, 3 in the last "), "{sentence}");
    assert!(sentence.contains("sentiment -0."), "the story reads negative: {sentence}");
    assert!(sentence.contains("; next step: "), "the playbook's first step: {sentence}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_page_says_in_one_sentence_where_the_incident_stands_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    summary_story(&format!("sqlite://{}", dir.path().join("summary.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_page_says_in_one_sentence_where_the_incident_stands_on_postgres() {
    let Some(scratch) = common::Scratch::new().await else { return };
    summary_story(&scratch.url).await;
    scratch.drop_schema().await;
}

/// The overview's figures over HTTP from a scripted set of pushed mentions: counts per
/// source and language, per hour, the story of copies and the open incident; one rule's
/// overview counts only its matches; a bad period is a 400 naming it.
async fn overview_story(store_url: &str) {
    let (running, api) = running(store_url).await;
    let now = running.clock.now();
    let hours_ago = |h: i64| (now - chrono::Duration::hours(h)).to_rfc3339();
    let day = json!([
        {"id": "o1", "feed": "news", "lang": "en", "published": hours_ago(20), "title": "Acme opens a new store in Leeds"},
        {"id": "o2", "feed": "news", "lang": "en", "published": hours_ago(10), "title": "Acme sponsors the city marathon again"},
        {"id": "o3", "feed": "weibo", "lang": "zh", "published": hours_ago(2), "title": "吃了艾克米酸奶后全家食物中毒，上吐下泻"},
        {"id": "o4", "feed": "weibo", "lang": "zh", "published": hours_ago(2), "title": "吃了艾克米酸奶后全家食物中毒，上吐下泻！"},
        {"id": "o5", "feed": "forum", "lang": "en", "published": hours_ago(40), "title": "Old thread, outside the day"},
    ]);
    let (status, pushed) = api.post("admin-token", "/api/v1/mentions", day).await;
    assert_eq!(status, StatusCode::OK, "{pushed}");
    let (status, overview) = api.get("viewer-token", "/api/v1/overview?period=24h").await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    assert_eq!(overview["mentions"], 4, "the post 40 hours old is outside the day: {overview}");
    let counts = |list: &str| -> Vec<(String, i64)> {
        overview[list]
            .as_array()
            .expect("a list")
            .iter()
            .map(|s| (s["key"].as_str().expect("key").to_owned(), s["mentions"].as_i64().expect("count")))
            .collect()
    };
    assert_eq!(counts("sources"), [("news".to_owned(), 2), ("weibo".to_owned(), 2)]);
    assert_eq!(counts("languages"), [("en".to_owned(), 2), ("zh".to_owned(), 2)]);
    let series = overview["series"].as_array().expect("series");
    assert_eq!(overview["bucket_seconds"], 3600);
    assert!((24..=25).contains(&series.len()), "an hour per point: {}", series.len());
    let busy: i64 = series.iter().map(|p| p["mentions"].as_i64().expect("count")).sum();
    assert_eq!(busy, 4, "every mention of the day in a bucket");
    let story = &overview["stories"][0];
    assert_eq!((story["copies"].as_i64(), story["sources"].clone()), (Some(2), json!(["weibo"])), "{overview}");
    assert_eq!(overview["incidents"].as_array().map(Vec::len), Some(1), "the open incident: {overview}");
    let (_, matched) = api.get("viewer-token", "/api/v1/overview?period=24h&rule=food-safety").await;
    assert_eq!(matched["mentions"], 2, "only the rule's matches: {matched}");
    assert_eq!(matched["rules"][0]["rule"], "food-safety");
    let (status, refused) = api.get("viewer-token", "/api/v1/overview?period=1y").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused["error"].as_str().is_some_and(|e| e.contains("1y")), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_counts_a_scripted_day_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    overview_story(&format!("sqlite://{}", dir.path().join("overview.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_counts_a_scripted_day_on_postgres() {
    let Some(scratch) = common::Scratch::new().await else { return };
    overview_story(&scratch.url).await;
    scratch.drop_schema().await;
}

/// A responder escalates what the rules did not open: a match below the opening score opens
/// its rule's incident whatever its score, with the responder on the timeline; a second
/// match joins it; a mention no rule matched opens an incident of its own; escalating again
/// changes nothing, and a viewer may not.
async fn escalation_story(store_url: &str) {
    // Nothing opens below 95: the food-poisoning posts (84 to 91) are stored, not opened.
    let (_running, api) = running_with(store_url, "\n[risk]\nopen_at = 95\n").await;
    let posts = json!([
        {"id": "food-1", "feed": "forum", "title": "Acme yogurt food poisoning"},
        {"id": "food-2", "feed": "forum", "title": "Acme yogurt gave me a mild stomach ache, probably nothing"},
        {"id": "shred", "feed": "forum", "title": "Acme staff seen shredding boxes of documents behind the Leeds office tonight"},
    ]);
    let (status, pushed) = api.post("admin-token", "/api/v1/mentions", posts).await;
    assert_eq!(status, StatusCode::OK, "{pushed}");
    assert_eq!(pushed["opened"], json!([]), "nothing reaches the opening score: {pushed}");
    let [food_1, food_2, shred] =
        [mention(&api, "food-1").await, mention(&api, "food-2").await, mention(&api, "shred").await];
    assert_eq!((&food_1["rules"], &shred["rules"]), (&json!(["food-safety"]), &json!([])));
    let api = &api;
    let escalate = |m: &Value, token: &'static str| {
        let path = format!("/api/v1/mentions/{}/escalate", m["id"]);
        async move { api.post(token, &path, json!({})).await }
    };

    // Two responders escalate the two posts at once: one incident opens, the other joins it.
    let ((status_1, one), (status_2, two)) =
        tokio::join!(escalate(&food_1, "responder-token"), escalate(&food_2, "responder-token"));
    assert_eq!((status_1, status_2), (StatusCode::OK, StatusCode::OK), "{one} {two}");
    let (first, joined) = if one["opened"] == true { (one, two) } else { (two, one) };
    assert_eq!((first["opened"].as_bool(), first["incident"]["rule"].as_str()), (Some(true), Some("food-safety")));
    assert_eq!(first["incident"]["score"], 95, "opened at the opening score whatever its own: {first}");
    let id = first["incident"]["id"].as_i64().expect("id");
    assert_eq!((joined["opened"].as_bool(), joined["incident"]["id"].as_i64()), (Some(false), Some(id)), "{joined}");
    let (_, incident) = api.get("viewer-token", &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(incident["mentions"], 2, "{incident}");
    let (status, again) = escalate(&food_2, "responder-token").await;
    assert_eq!((status, again["incident"]["mentions"].as_i64()), (StatusCode::OK, Some(2)), "again changes nothing");
    let (_, timeline) = api.get("viewer-token", &format!("/api/v1/incidents/{id}/timeline")).await;
    let events: Vec<(String, String)> = timeline["items"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] != "notified")
        .map(|e| (e["kind"].as_str().unwrap_or("").to_owned(), e["actor"].as_str().unwrap_or("").to_owned()))
        .collect();
    let by_rita = |kind: &str| (kind.to_owned(), "rita".to_owned());
    assert_eq!(events, [by_rita("opened"), by_rita("mentions_attached")], "{timeline}");
    assert_eq!(timeline["items"][0]["details"]["escalated_by"], "rita");

    let (status, own) = escalate(&shred, "responder-token").await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!((own["opened"].as_bool(), own["incident"]["rule"].as_str()), (Some(true), Some("manual")));
    assert_eq!(own["incident"]["crisis_type"], "general", "the general playbook: {own}");
    let title = own["incident"]["title"].as_str().expect("title");
    assert!(title.starts_with("Escalated by rita: Acme staff seen shredding"), "{title}");

    let (status, refused) = escalate(&shred, "viewer-token").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, missing) = api.post("responder-token", "/api/v1/mentions/999999/escalate", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    let (_, incidents) = api.get("viewer-token", "/api/v1/incidents").await;
    assert_eq!(incidents["items"].as_array().map(Vec::len), Some(2), "{incidents}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_escalates_what_the_rules_did_not_open_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    escalation_story(&format!("sqlite://{}", dir.path().join("escalate.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_escalates_what_the_rules_did_not_open_on_postgres() {
    let Some(scratch) = common::Scratch::new().await else { return };
    escalation_story(&scratch.url).await;
    scratch.drop_schema().await;
}
