//! An agency watching two clients and a competitor in one install, on loopback feeds: each
//! client's crisis opens its own incident on its own team's channel, a mention naming both
//! clients opens one for each, the competitor's crisis opens none but shows in share of
//! voice, and a token limited to one client neither sees nor acts on the other's incidents.
//! Then: what a single-brand install stored moves under its brand when `[[brand]]` arrives,
//! on SQLite and PostgreSQL, and `tocsin check` refuses what cannot work.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tocsin::analyze::RuleSet;
use tocsin::api::Tokens;
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::daemon;
use tocsin::ingest::Mention;
use tocsin::pipeline::Pipeline;
use tocsin::store::{AnyStore, IncidentFilter, MentionFilter, Store};
use tokio::sync::Notify;

use common::{FeedServer, Format, Item, Scratch, WebhookReceiver, wait_until};

const WAIT: Duration = Duration::from_secs(30);
const TOKENS: &str = "ada:agency-token:admin,gina:globex-token:responder:globex";

fn agency_config(db: &Path, feeds: &FeedServer, acme_team: &str, globex_team: &str, shared: &str) -> String {
    format!(
        r#"
[store]
url = "sqlite://{db}"

[http]
listen = "127.0.0.1:0"

[poll]
default_interval = "1s"

[[feed]]
name = "news"
url = "{news}"

[[feed]]
name = "acme-forum"
url = "{forum}"
brand = "acme"

[[brand]]
name = "acme"
names = ["Acme", "艾克米"]
exclude = ["Acme Corp of Ohio"]
channels = {{ team = "acme-team" }}

[[brand]]
name = "globex"
names = ["Globex", "吉博"]
channels = {{ team = "globex-team" }}

[[brand]]
name = "initech"
names = ["Initech"]
competitor = true

[[channel]]
name = "team"
kind = "webhook"
url = "{shared}"

[[channel]]
name = "acme-team"
kind = "webhook"
url = "{acme_team}"

[[channel]]
name = "globex-team"
kind = "webhook"
url = "{globex_team}"

[[escalation]]
name = "default"
levels = [{{ after = "0m", notify = ["team"] }}]
"#,
        db = db.display(),
        news = feeds.url("news"),
        forum = feeds.url("acme-forum"),
    )
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(&self, token: &str, method: reqwest::Method, path: &str) -> (StatusCode, Value) {
        let request = self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(token);
        let request = if method == reqwest::Method::POST { request.json(&json!({})) } else { request };
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(token, reqwest::Method::GET, path).await
    }

    async fn post(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(token, reqwest::Method::POST, path).await
    }

    async fn send(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"].as_array().map(|items| items.iter().filter_map(|i| i["id"].as_i64()).collect()).unwrap_or_default()
}

/// The (brand, rule) of every incident stored.
async fn incidents_by_brand(store: &AnyStore) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = store
        .incidents(&IncidentFilter { limit: 100, ..IncidentFilter::default() })
        .await
        .expect("incidents")
        .into_iter()
        .map(|i| (i.brand.unwrap_or_default(), i.rule))
        .collect();
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_works_two_clients_and_watches_a_competitor_in_one_install() {
    let dir = tempfile::tempdir().expect("tempdir");
    let feeds = FeedServer::start().await;
    let (acme_team, globex_team, shared) =
        (WebhookReceiver::start().await, WebhookReceiver::start().await, WebhookReceiver::start().await);
    feeds.set("news", Format::Rss, vec![Item::new("n0", "Globex opens a new store in Berlin", "")]);
    feeds.set("acme-forum", Format::Rss, Vec::new());
    let text =
        agency_config(&dir.path().join("agency.db"), &feeds, &acme_team.url(), &globex_team.url(), &shared.url());
    let config = Config::parse("agency.toml", &text).expect("the agency config loads");
    let tokens = Tokens::parse(TOKENS).expect("tokens");
    let running = daemon::start(config, RuleSet::bundled(), Clock::default(), tokens).await.expect("daemon");
    let store = running.store.clone();
    let api = Api { http: reqwest::Client::new(), base: format!("http://{}", running.addr) };

    // A crisis at Acme: one incident, Acme's, told to Acme's team only.
    feeds.push("news", Item::new("n1", "Acme yogurt gave dozens of children food poisoning, hospital says", ""));
    wait_until(WAIT, || async { !acme_team.received().is_empty() }).await.expect("Acme's team is told");
    assert_eq!(incidents_by_brand(&store).await, [("acme".to_owned(), "food-safety".to_owned())]);
    let told = acme_team.received()[0].json();
    assert_eq!(told["incident"]["brand"], "acme", "the alert carries the brand: {told}");
    assert!(told["incident"]["title"].as_str().is_some_and(|t| t.starts_with("[Acme] ")), "{told}");
    assert!(globex_team.received().is_empty() && shared.received().is_empty(), "nobody else is told");

    // One mention naming both clients: one incident for each, each on its own channel.
    feeds.push(
        "news",
        Item::new(
            "n2",
            "Hackers leaked the customer database of both Acme and Globex: 2 million card numbers exposed",
            "",
        ),
    );
    wait_until(WAIT, || async { !globex_team.received().is_empty() && acme_team.received().len() >= 2 })
        .await
        .expect("both teams are told of the breach");
    assert_eq!(
        incidents_by_brand(&store).await,
        [
            ("acme".to_owned(), "data-breach".to_owned()),
            ("acme".to_owned(), "food-safety".to_owned()),
            ("globex".to_owned(), "data-breach".to_owned()),
        ]
    );
    assert!(shared.received().is_empty(), "the shared policy's own channel is replaced for each client");

    // The competitor's crisis, naming both clients as unaffected: counted, no incident.
    feeds.push(
        "news",
        Item::new(
            "n3",
            "Initech recalls its yogurt after listeria found in a plant; Acme and Globex products are not affected",
            "",
        ),
    );
    feeds.push("news", Item::new("n4", "Initech yogurt sickens 40 in Ohio, recall ordered", ""));
    // A look-alike is no client, and an item of Acme's own forum naming no brand is Acme's.
    feeds.push("news", Item::new("n5", "Acme Corp of Ohio wins a lawn-mower design award", ""));
    feeds.push("acme-forum", Item::new("f1", "The new strawberry flavour is lovely", ""));
    wait_until(WAIT, || async { store.mention_count().await.unwrap_or(0) >= 7 }).await.expect("every item stored");
    assert_eq!(incidents_by_brand(&store).await.len(), 3, "the competitor's crisis opens nothing");

    let (status, voice) = api.get("agency-token", "/api/v1/share-of-voice?period=24h").await;
    assert_eq!(status, StatusCode::OK, "{voice}");
    let row = |brand: &str| {
        voice["brands"].as_array().and_then(|rows| rows.iter().find(|r| r["brand"] == brand)).cloned().expect(brand)
    };
    // Acme: n1, n2, n3 (named), f1 (its own forum); Globex: n0, n2, n3; Initech: n3, n4.
    assert_eq!((row("acme")["mentions"].as_i64(), row("acme")["matched"].as_i64()), (Some(4), Some(2)), "{voice}");
    assert_eq!((row("globex")["mentions"].as_i64(), row("globex")["matched"].as_i64()), (Some(3), Some(1)), "{voice}");
    let initech = row("initech");
    assert_eq!((initech["mentions"].as_i64(), initech["matched"].as_i64()), (Some(2), Some(2)), "{voice}");
    assert_eq!(initech["competitor"], true);
    let shares: f64 = voice["brands"].as_array().expect("rows").iter().filter_map(|r| r["share"].as_f64()).sum();
    assert!((shares - 1.0).abs() < 1e-9, "shares add up: {voice}");
    let stories = initech["top_stories"].as_array().expect("stories");
    assert!(stories.iter().any(|s| s["rule"] == "product-recall" || s["rule"] == "food-safety"), "{initech}");
    let (_, dashboard) = api.get("agency-token", "/").await;
    let page = dashboard.as_str().expect("html");
    assert!(page.contains("Share of voice") && page.contains("(competitor)"), "the overview shows it");

    // A token limited to Globex sees and works Globex's incident only.
    let all = incidents_by_brand(&store).await;
    let listed = store.incidents(&IncidentFilter { limit: 100, ..IncidentFilter::default() }).await.expect("list");
    let of =
        |brand: &str| listed.iter().filter(|i| i.brand.as_deref() == Some(brand)).map(|i| i.id).collect::<Vec<_>>();
    let (acme_ids, globex_ids) = (of("acme"), of("globex"));
    assert_eq!(acme_ids.len() + globex_ids.len(), all.len());
    let (status, page) = api.get("globex-token", "/api/v1/incidents").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&page), globex_ids, "Acme's incidents are absent from Globex's list");
    let (_, asked_for_acme) = api.get("globex-token", "/api/v1/incidents?brand=acme").await;
    assert_eq!(ids(&asked_for_acme), Vec::<i64>::new());
    let acme_id = acme_ids[0];
    for path in [
        format!("/api/v1/incidents/{acme_id}"),
        format!("/api/v1/incidents/{acme_id}/timeline"),
        format!("/api/v1/incidents/{acme_id}/review?format=md"),
    ] {
        let (status, refused) = api.get("globex-token", &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {refused}");
        assert!(refused["error"].as_str().is_some_and(|e| e.contains("only the brands globex")), "{refused}");
    }
    let (status, _) = api.post("globex-token", &format!("/api/v1/incidents/{acme_id}/ack")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api.get("globex-token", &format!("/incidents/{acme_id}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "nor on the dashboard");
    let acme = store.incident(acme_id).await.expect("read").expect("there");
    assert_eq!(acme.status, tocsin::incident::Status::Open, "the refused acknowledgement did nothing");
    let (status, acked) = api.post("globex-token", &format!("/api/v1/incidents/{}/ack", globex_ids[0])).await;
    assert_eq!((status, acked["status"].as_str()), (StatusCode::OK, Some("acknowledged")), "{acked}");
    let (_, mentions) = api.get("globex-token", "/api/v1/mentions").await;
    let about: Vec<Vec<Value>> = mentions["items"]
        .as_array()
        .expect("mentions")
        .iter()
        .map(|m| m["brands"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(about.len(), 3, "n0, n2 and n3 only: {mentions}");
    assert!(about.iter().all(|brands| brands.contains(&json!("globex"))));
    let (_, voice) = api.get("globex-token", "/api/v1/share-of-voice").await;
    let shown: Vec<&str> =
        voice["brands"].as_array().expect("rows").iter().filter_map(|r| r["brand"].as_str()).collect();
    assert_eq!(shown, ["globex", "initech"], "its brand against the competitors, no other client");
    let (status, _) = api.post("globex-token", "/api/v1/reload").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a limited token reaches no setting of every brand");
    let (_, page) = api.get("agency-token", "/incidents?brand=globex").await;
    let page = page.as_str().expect("html").to_owned();
    for id in &globex_ids {
        assert!(page.contains(&format!("href=\"/incidents/{id}\"")), "the switcher shows Globex's incidents");
    }
    assert!(!page.contains(&format!("href=\"/incidents/{acme_id}\"")), "and no other's");

    // A silence of one brand holds back that brand's incidents only.
    let silence = |brand: Option<&str>| {
        let mut body = json!({"rule": "food-safety", "for": "1h", "reason": "a known supplier scare, handled"});
        if let Some(brand) = brand {
            body["brand"] = json!(brand);
        }
        body
    };
    let (status, refused) = api.send("globex-token", "/api/v1/silences", silence(Some("globex"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "silencing is an admin's: {refused}");
    let (status, made) = api.send("agency-token", "/api/v1/silences", silence(Some("globex"))).await;
    assert_eq!((status, made["brand"].as_str()), (StatusCode::CREATED, Some("globex")), "{made}");
    feeds.push("news", Item::new("n6", "Globex recalls all its yogurt over a listeria scare", ""));
    feeds.push("news", Item::new("n7", "Acme recalls all its yogurt over a listeria scare", ""));
    wait_until(WAIT, || async { store.mention_count().await.unwrap_or(0) >= 9 }).await.expect("both stored");
    let now = incidents_by_brand(&store).await;
    assert!(!now.contains(&("globex".to_owned(), "food-safety".to_owned())), "Globex's is held: {now:?}");
    let acme_food = listed
        .iter()
        .find(|i| i.brand.as_deref() == Some("acme") && i.rule == "food-safety")
        .expect("Acme's food-safety incident");
    let acme_food = store.incident(acme_food.id).await.expect("read").expect("there");
    assert_eq!((acme_food.rule.as_str(), acme_food.mentions), ("food-safety", 2), "Acme's goes on in its incident");
    let held = store.silences(None).await.expect("silences");
    assert_eq!(held.iter().map(|s| s.held).sum::<i64>(), 1, "one mention held back");
    running.shutdown().await;
}

#[tokio::test]
async fn a_drill_of_one_brand_names_it_and_stays_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(
        tocsin::store::open(&format!("sqlite://{}", dir.path().join("drill.db").display())).await.expect("open"),
    );
    store.migrate().await.expect("migrate");
    let config = "[[brand]]\nname = \"acme\"\nnames = [\"Acme\"]\n\n[[brand]]\nname = \"globex\"\nnames = [\"Globex\", \"吉博\"]\n";
    let desk = pipeline(&store, config);
    let rules = RuleSet::bundled();
    let spec = Config::parse("tocsin.toml", config).expect("config").brand_specs().remove(1);
    let now = DateTime::from_timestamp(1_790_000_000, 0).expect("valid");
    let drill = tocsin::drill::run(&desk, &rules, Some("food-safety"), Some(&spec), now).await.expect("drill");
    let incident = store.incident(drill.incident_id).await.expect("read").expect("there");
    assert_eq!(incident.brand.as_deref(), Some("globex"));
    assert_eq!(incident.group, "drill:brand:globex:rule:food-safety");
    assert!(incident.title.starts_with("[DRILL] [Globex] "), "{}", incident.title);
    let mentions = store.top_mentions(drill.incident_id, 5).await.expect("mentions");
    assert!(mentions[0].excerpt.contains("Globex") && !mentions[0].excerpt.contains("Acme"), "{mentions:?}");
}

fn mention(guid: &str, body: &str, at: DateTime<Utc>) -> Mention {
    Mention {
        feed: "forum".into(),
        guid: guid.into(),
        title: String::new(),
        body: body.into(),
        author: None,
        url: None,
        published: Some(at),
        fetched_at: at,
        lang: None,
        engagement: None,
    }
}

fn pipeline(store: &Arc<AnyStore>, config_text: &str) -> Pipeline<AnyStore> {
    let config = Config::parse("tocsin.toml", config_text).expect("config");
    Pipeline::new(
        store.clone(),
        Arc::new(RuleSet::bundled()),
        Arc::new(config),
        Clock::default(),
        Arc::new(Notify::new()),
    )
    .expect("the rules compile")
}

/// A single-brand install's incident and mentions move under the brand `[[brand]]` names
/// first, and the next mention of the crisis joins that incident.
async fn adoption_story(url: &str) {
    let store = Arc::new(tocsin::store::open(url).await.expect("open"));
    store.migrate().await.expect("migrate");
    let start = DateTime::from_timestamp(1_790_000_000, 0).expect("valid");
    let before = pipeline(&store, "");
    let first = before
        .process(mention("1", "My kid got food poisoning after eating Acme yogurt, sick all night", start))
        .await
        .expect("stored");
    before.process(mention("2", "Lovely weather today", start)).await.expect("stored");
    let opened = match first {
        tocsin::store::IngestOutcome::Stored { opened, .. } => opened[0],
        other => panic!("expected an incident, got {other:?}"),
    };
    assert_eq!(store.incident(opened).await.expect("read").expect("there").group, "rule:food-safety");

    assert!(store.adopt_unbranded("acme").await.expect("adopt"), "the first time, it files");
    assert!(!store.adopt_unbranded("acme").await.expect("adopt"), "once only");
    let adopted = store.incident(opened).await.expect("read").expect("there");
    assert_eq!((adopted.brand.as_deref(), adopted.group.as_str()), (Some("acme"), "brand:acme:rule:food-safety"));
    let acme = MentionFilter { limit: 10, brands: Some(vec!["acme".into()]), ..MentionFilter::default() };
    assert_eq!(store.mentions(&acme).await.expect("mentions").len(), 2, "every earlier mention is Acme's");

    let after = pipeline(&store, "[[brand]]\nname = \"acme\"\nnames = [\"Acme\"]\n");
    let later = after
        .process(mention(
            "3",
            "Acme yogurt made my whole family sick with food poisoning",
            start + chrono::Duration::minutes(5),
        ))
        .await
        .expect("stored");
    match later {
        tocsin::store::IngestOutcome::Stored { attached, opened: none, .. } => {
            assert_eq!((attached, none), (vec![opened], Vec::new()), "the crisis goes on in its incident");
        }
        other => panic!("expected an attachment, got {other:?}"),
    }
}

#[tokio::test]
async fn a_single_brand_install_moves_under_its_brand_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    adoption_story(&format!("sqlite://{}", dir.path().join("one.db").display())).await;
}

#[tokio::test]
async fn a_single_brand_install_moves_under_its_brand_on_postgres() {
    let Some(scratch) = Scratch::new().await else { return };
    adoption_story(&scratch.url).await;
    scratch.drop_schema().await;
}

fn check(dir: &Path, config: &str, tokens: &str) -> String {
    std::fs::write(dir.join("tocsin.toml"), config).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .current_dir(dir)
        .env("TOCSIN_API_TOKENS", tokens)
        .args(["check"])
        .output()
        .expect("run tocsin");
    assert_eq!(out.status.code(), Some(1), "check refuses: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_refuses_a_nameless_brand_a_brand_twice_and_a_token_of_an_unknown_brand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nameless =
        check(dir.path(), "[[brand]]\nname = \"acme\"\nnames = [\"Acme\"]\n\n[[brand]]\nname = \"globex\"\n", "");
    assert!(nameless.contains("tocsin.toml:6:8: brand \"globex\" has no `names`, but rule"), "{nameless}");
    assert!(nameless.contains("names @brand"), "{nameless}");
    let twice = check(
        dir.path(),
        "[[brand]]\nname = \"acme\"\nnames = [\"Acme\"]\n[[brand]]\nname = \"Acme\"\nnames = [\"A\"]\n",
        "",
    );
    assert!(twice.contains("tocsin.toml:5:8: brand \"Acme\" is defined twice (first on line 2)"), "{twice}");
    let unknown =
        check(dir.path(), "[[brand]]\nname = \"acme\"\nnames = [\"Acme\"]\n", "ada:t1:admin,gina:t2:viewer:acme,globx");
    assert!(
        unknown.contains(
            "TOCSIN_API_TOKENS:1:34: the token of gina is limited to brand \"globx\", which no [[brand]] defines"
        ),
        "{unknown}"
    );
}

/// Copies of one story arriving in one batch (a feed poll that brings the syndication at
/// once) are filed under one story, the first copy's, and each later one knows how many
/// came before: the store reads the batch's candidate stories once and keeps the ones the
/// batch starts.
async fn one_batch_one_story(url: &str) {
    let store = Arc::new(tocsin::store::open(url).await.expect("open"));
    store.migrate().await.expect("migrate");
    let desk = pipeline(&store, "[[brand]]\nname = \"acme\"\nnames = [\"Acme\"]\n");
    let start = DateTime::from_timestamp(1_790_000_000, 0).expect("valid");
    let story = "Residents heard a loud bang when the Acme warehouse exploded late on Sunday, officials said, \
                 and firefighters worked through the night to contain the blaze near the river";
    let copies: Vec<Mention> = (0..40)
        .map(|n| mention(&format!("c{n}"), &format!("{story}. Copy {n}"), start + chrono::Duration::seconds(n)))
        .collect();
    let outcomes = desk.process_all(copies).await.expect("stored");
    let clusters: Vec<i64> = outcomes
        .iter()
        .map(|o| match o {
            tocsin::store::IngestOutcome::Stored { cluster_id, .. } => *cluster_id,
            other => panic!("expected stored, got {other:?}"),
        })
        .collect();
    assert!(clusters.iter().all(|c| *c == clusters[0]), "one story: {clusters:?}");
    let probe = desk.score(mention("probe", &format!("{story}. Copy 41"), start + chrono::Duration::minutes(1)));
    assert_eq!(store.story(&probe).await.expect("story").copies, 40);
}

#[tokio::test]
async fn copies_in_one_batch_are_one_story_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    one_batch_one_story(&format!("sqlite://{}", dir.path().join("batch.db").display())).await;
}

#[tokio::test]
async fn copies_in_one_batch_are_one_story_on_postgres() {
    let Some(scratch) = Scratch::new().await else { return };
    one_batch_one_story(&scratch.url).await;
    scratch.drop_schema().await;
}
