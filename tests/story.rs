//! The end-to-end story, against real parts: a loopback feed server (RSS and Atom) whose
//! items change during the test, a real SMTP server, a real webhook receiver and SQLite.
//!
//! A PR team watches the brand Acme. Ordinary news opens nothing. A food-poisoning report
//! appears on a forum: the team gets an email at once. Nobody reacts for 15 minutes (on the
//! daemon's simulated clock), so on-call gets a signed webhook. The lead opens the email's
//! acknowledge link: looking at it changes nothing, confirming it stops escalation, and the
//! timeline says who did what. Broken feeds log a clear error each while the rest go on.

mod common;

use std::time::Duration;

use common::{FeedServer, Format, Item, SmtpServer, WebhookReceiver, wait_until};
use tocsin::analyze::RuleSet;
use tocsin::api::Tokens;
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::daemon;
use tocsin::incident::Status;
use tocsin::incident::timeline;
use tocsin::notify::webhook;
use tocsin::store::{IncidentFilter, Store};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WAIT: Duration = Duration::from_secs(30);

fn config_text(store_url: &str, feeds: &FeedServer, smtp_port: u16, hook: &str) -> String {
    format!(
        r#"
[store]
url = "{store_url}"

[http]
listen = "127.0.0.1:0"

[poll]
default_interval = "1s"
timeout = "3s"

[[feed]]
name = "news"
url = "{news}"

[[feed]]
name = "forum"
url = "{forum}"

[[feed]]
name = "unreachable"
url = "http://127.0.0.1:{closed}/feed"

[[feed]]
name = "server-error"
url = "http://{feeds_addr}/broken/500"

[[feed]]
name = "login-page"
url = "http://{feeds_addr}/broken/html"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
from = "tocsin <alerts@acme.example>"

[[channel]]
name = "pr-team"
kind = "email"
to = ["pr@acme.example"]

[[channel]]
name = "oncall"
kind = "webhook"
url = "{hook}"
secret_env = "TOCSIN_STORY_WEBHOOK_SECRET"

[[escalation]]
name = "default"
levels = [
  {{ after = "0m", notify = ["pr-team"] }},
  {{ after = "15m", notify = ["oncall"] }},
]
repeat_every = "10m"
max_repeats = 3
"#,
        news = feeds.url("news"),
        forum = feeds.url("forum"),
        closed = common::free_port(),
        feeds_addr = feeds.addr,
    )
}

fn ack_link(email: &str) -> String {
    let message = mail_parser::MessageParser::default().parse(email.as_bytes()).expect("parse email");
    let text = message.body_text(0).expect("text part").into_owned();
    let start = text.find("/ack/").expect("email has an ack link");
    let begin = text[..start].rfind("http").expect("link start");
    text[begin..].split_whitespace().next().expect("link").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forum_crisis_emails_then_escalates_until_the_ack_link_is_confirmed_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    story(dir.path(), &format!("sqlite://{}", dir.path().join("tocsin.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forum_crisis_emails_then_escalates_until_the_ack_link_is_confirmed_on_postgres() {
    let Some(scratch) = common::Scratch::new().await else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    story(dir.path(), &scratch.url).await;
    scratch.drop_schema().await;
}

/// The story, on the store `store_url` names, with scratch files in `dir`.
async fn story(dir: &std::path::Path, store_url: &str) {
    let feeds = FeedServer::start().await;
    let smtp = SmtpServer::start(dir).await;
    let receiver = WebhookReceiver::start().await;
    feeds.set(
        "news",
        Format::Rss,
        vec![
            Item::new("n1", "Acme opens a new distribution centre", "300 jobs in Ohio."),
            Item::new("n2", "Acme yogurt overnight oats recipe", "Breakfast with Acme yogurt and oats."),
        ],
    );
    feeds.set("forum", Format::Atom, vec![Item::new("f1", "Anyone tried the new Acme flavour?", "Tastes great.")]);

    // SAFETY: no other thread of this test binary reads or writes this variable concurrently.
    unsafe { std::env::set_var("TOCSIN_STORY_WEBHOOK_SECRET", SECRET) };
    let config = Config::parse("story.toml", &config_text(store_url, &feeds, smtp.port, &receiver.url()))
        .expect("story config is valid");
    let tokens = Tokens::parse("lead:lead-token").expect("tokens");
    let running = daemon::start(config, RuleSet::bundled(), Clock::default(), tokens).await.expect("daemon starts");
    let store = running.store.clone();
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();

    // Benign items are stored and open nothing.
    wait_until(WAIT, || async { store.mention_count().await.unwrap_or(0) >= 3 }).await.expect("benign items stored");
    // Conditional GET: unchanged feeds are answered 304 on the next polls.
    wait_until(WAIT, || async { feeds.not_modified("news") >= 1 && feeds.not_modified("forum") >= 1 })
        .await
        .expect("re-polls use If-None-Match");
    assert!(store.incidents(&IncidentFilter { limit: 10, ..Default::default() }).await.expect("list").is_empty());
    assert!(smtp.messages().is_empty(), "benign items send no email");

    // A crisis item appears on the Atom forum.
    feeds.push(
        "forum",
        Item::new(
            "f2",
            "My kids got food poisoning after eating Acme yogurt",
            "Both threw up all night after Acme strawberry yogurt. <script>alert('x')</script>",
        ),
    );
    wait_until(WAIT, || async { !smtp.messages().is_empty() }).await.expect("the crisis emails the PR team");
    let incidents = store.incidents(&IncidentFilter { limit: 10, ..Default::default() }).await.expect("list");
    assert_eq!(incidents.len(), 1, "one incident for the crisis");
    let incident = &incidents[0];
    assert_eq!((incident.rule.as_str(), incident.status), ("food-safety", Status::Open));

    let email = smtp.messages().remove(0);
    let parsed = mail_parser::MessageParser::default().parse(email.as_bytes()).expect("parse email");
    let subject = parsed.subject().expect("subject");
    // Severity 70, lifted by the complaint's negativity past the critical threshold (80).
    assert!(subject.contains("CRITICAL") && subject.contains("food poisoning"), "subject: {subject}");
    let text = parsed.body_text(0).expect("text part");
    assert!(text.contains("food-safety"), "email names the rule");
    assert!(text.to_lowercase().contains("food poisoning"), "email shows the matched terms");
    assert!(text.contains("My kids got food poisoning after eating Acme yogurt"), "email shows the mention");
    assert!(text.contains("negative"), "email shows the mention's sentiment: {text}");
    let html = parsed.body_html(0).expect("html part");
    assert!(!html.contains("<script>alert"), "feed text is escaped in the HTML part");
    assert!(parsed.message_id().is_some_and(|id| id.starts_with("ntf_")), "stable notification id");

    // No webhook before the 15-minute level, then a signed one once the clock passes it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(receiver.received().is_empty(), "on-call is not paged before 15 minutes");
    running.clock.advance(chrono::Duration::minutes(15));
    wait_until(WAIT, || async { !receiver.received().is_empty() }).await.expect("level-1 webhook arrives");
    let hook = receiver.received().remove(0);
    let key = webhook::standard_webhooks_key(SECRET).expect("key");
    let timestamp: i64 = hook.header("webhook-timestamp").parse().expect("timestamp");
    assert!(
        webhook::verify(&[key], &hook.header("webhook-id"), timestamp, &hook.body, &hook.header("webhook-signature")),
        "webhook signature verifies"
    );
    let body = hook.json();
    assert_eq!(body["type"], "incident.escalated");
    assert_eq!(body["incident"]["id"], incident.id);
    assert!(body["links"]["dashboard"].as_str().is_some_and(|l| l.ends_with(&format!("/incidents/{}", incident.id))));

    // The acknowledge link: a GET (a mail scanner, a preview) only shows a confirm page.
    let link = ack_link(&email);
    assert!(link.starts_with(&base), "the link points at this daemon: {link}");
    let page = http.get(&link).send().await.expect("GET ack link");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("page").contains("<form method=\"post\""));
    let still = store.incident(incident.id).await.expect("load").expect("exists");
    assert_eq!(still.status, Status::Open, "a GET does not acknowledge");

    let confirmed = http.post(&link).send().await.expect("POST ack link");
    assert_eq!(confirmed.status(), 200);
    let acked = store.incident(incident.id).await.expect("load").expect("exists");
    assert_eq!(acked.status, Status::Acknowledged);
    let events = store.timeline(incident.id).await.expect("timeline");
    let ack_event = events.iter().find(|e| e.kind == "acknowledged").expect("ack on the timeline");
    assert_eq!(ack_event.actor, "email-link");
    assert!(events.iter().any(|e| e.kind == "notified" && e.details["channel"] == "pr-team"));
    assert!(events.iter().any(|e| e.kind == "escalated"));
    assert!(timeline::verify(&events).is_ok(), "the timeline's hash chain verifies");

    // Escalation stopped: hours later on-call hears only that it was acknowledged.
    running.clock.advance(chrono::Duration::hours(2));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let kinds: Vec<String> =
        receiver.received().iter().map(|r| r.json()["type"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(kinds, vec!["incident.escalated", "incident.acknowledged"], "no repeats after the ack");

    // A second ack is refused with a clear message through the API.
    let again = http
        .post(format!("{base}/api/v1/incidents/{}/ack", incident.id))
        .bearer_auth("lead-token")
        .send()
        .await
        .expect("API ack");
    assert_eq!(again.status(), 409);
    let error: serde_json::Value = again.json().await.expect("JSON error");
    assert_eq!(error["error"], "cannot acknowledge an incident that is acknowledged");

    // Broken feeds each carry one clear error; the good ones keep succeeding.
    wait_until(WAIT, || async {
        let states = store.feed_states().await.unwrap_or_default();
        ["unreachable", "server-error", "login-page"]
            .iter()
            .all(|name| states.iter().any(|s| s.name == *name && s.consecutive_failures >= 1))
    })
    .await
    .expect("broken feeds record failures");
    let states = store.feed_states().await.expect("feed states");
    let error_of =
        |name: &str| states.iter().find(|s| s.name == name).and_then(|s| s.last_error.clone()).unwrap_or_default();
    assert!(error_of("unreachable").contains("connect"), "{}", error_of("unreachable"));
    assert!(error_of("server-error").contains("500"), "{}", error_of("server-error"));
    assert!(error_of("login-page").to_lowercase().contains("html"), "{}", error_of("login-page"));
    for good in ["news", "forum"] {
        let state = states.iter().find(|s| s.name == good).expect("good feed");
        assert_eq!(state.consecutive_failures, 0, "{good} keeps working");
        assert!(state.last_success_at.is_some());
    }
    assert_eq!(store.mention_count().await.expect("count"), 4, "every polled item stored exactly once");

    // The API wants a known token; the dashboard shows hostile feed text as inert text.
    let anonymous = http.get(format!("{base}/api/v1/incidents")).send().await.expect("API");
    assert_eq!(anonymous.status(), 401);
    let wrong = http.get(format!("{base}/api/v1/incidents")).bearer_auth("nope").send().await.expect("API");
    assert_eq!(wrong.status(), 401);
    let listed: serde_json::Value = http
        .get(format!("{base}/api/v1/incidents?status=acknowledged"))
        .bearer_auth("lead-token")
        .send()
        .await
        .expect("API")
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed["items"][0]["id"], incident.id);
    assert_eq!(listed["items"][0]["status"], "acknowledged");
    let bad = http.get(format!("{base}/api/v1/incidents?status=panicking")).bearer_auth("lead-token").send().await;
    assert_eq!(bad.expect("API").status(), 400);
    let page = http.get(format!("{base}/incidents/{}", incident.id)).bearer_auth("lead-token").send().await;
    let page = page.expect("dashboard");
    assert!(
        page.headers()
            .get("content-security-policy")
            .is_some_and(|v| v.to_str().is_ok_and(|v| v.contains("default-src 'none'")))
    );
    let html = page.text().await.expect("page");
    assert!(html.contains("My kids got food poisoning"), "the incident page lists the mention");
    assert!(!html.contains("<script>"), "no feed markup reaches the page");
    assert!(html.contains("email-link"), "the timeline shows who acknowledged");
    for why in ["<th>Rule</th><td>food-safety, severity", "<th>Sentiment</th>", "<th>Novelty</th>"] {
        assert!(html.contains(why), "the page explains the score ({why}):\n{html}");
    }

    // Other tools push mentions into the same pipeline, with the same dedup.
    let push = |body: &'static str| {
        http.post(format!("{base}/api/v1/mentions"))
            .bearer_auth("lead-token")
            .header("content-type", "application/json")
            .body(body)
    };
    let pushed = r#"[{"id": "wb-1", "feed": "weibo-push", "title": "艾克米酸奶数据泄露", "body": "艾克米用户数据泄露，涉及两百万人"},
                     {"title": "Acme picnic photos"}]"#;
    let first: serde_json::Value = push(pushed).send().await.expect("push").json().await.expect("JSON");
    assert_eq!((first["stored"].as_i64(), first["duplicates"].as_i64()), (Some(2), Some(0)), "{first}");
    assert_eq!(first["opened"].as_array().map(Vec::len), Some(1), "the Chinese data-breach mention opens one: {first}");
    let again: serde_json::Value = push(pushed).send().await.expect("push").json().await.expect("JSON");
    assert_eq!((again["stored"].as_i64(), again["duplicates"].as_i64()), (Some(0), Some(2)), "{again}");
    let bad = push(r#"{"title": "x", "titel": "y"}"#).send().await.expect("push");
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.expect("text").contains("bad mention JSON"));
    let empty = push(r#"{"author": "someone"}"#).send().await.expect("push");
    assert_eq!(empty.status(), 400);
    assert!(empty.text().await.expect("text").contains("needs a title or a body"));
    let feeds_api: serde_json::Value = http
        .get(format!("{base}/api/v1/feeds"))
        .bearer_auth("lead-token")
        .send()
        .await
        .expect("feeds API")
        .json()
        .await
        .expect("JSON");
    let unreachable = feeds_api["items"].as_array().expect("items").iter().find(|f| f["name"] == "unreachable");
    assert!(unreachable.is_some_and(|f| f["consecutive_failures"].as_i64() >= Some(1) && f["last_error"].is_string()));

    assert_eq!(http.get(format!("{base}/healthz")).send().await.expect("healthz").status(), 200);
    let metrics = http.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("tocsin_mentions_stored_total"), "{metrics}");
    assert!(metrics.contains("tocsin_incidents_opened_total"), "{metrics}");

    running.shutdown().await;
}
