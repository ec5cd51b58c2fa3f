//! Delivery on a simulated clock against real loopback receivers: every outcome class of
//! SPEC §6 (retry with the same id, Retry-After, permanent, 410 Gone), the breaker that
//! sends a failing channel's notices to the fallback, and re-enabling a channel. The
//! deliverer runs at the times the test chooses; only the HTTP is real.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::WebhookReceiver;
use tocsin::config::Config;
use tocsin::incident::Action;
use tocsin::ingest::Mention;
use tocsin::notify::breaker::Availability;
use tocsin::notify::outbox::Deliverer;
use tocsin::pipeline::Pipeline;
use tocsin::store::{Arrival, IngestOutcome, SqliteStore, Store};

struct Post {
    store: Arc<SqliteStore>,
    pipeline: Pipeline<SqliteStore>,
    deliverer: Deliverer<SqliteStore>,
    main: WebhookReceiver,
    backup: WebhookReceiver,
    start: DateTime<Utc>,
    serial: usize,
    _dir: tempfile::TempDir,
}

impl Post {
    async fn new() -> Post {
        let dir = tempfile::tempdir().expect("tempdir");
        let (main, backup) = (WebhookReceiver::start().await, WebhookReceiver::start().await);
        let url = format!("sqlite://{}", dir.path().join("delivery.db").display());
        let config = Config::parse(
            "delivery.toml",
            &format!(
                r#"
[store]
url = "{url}"

[delivery]
first_retry = "5s"
max_retry = "10m"
breaker_failures = 3
breaker_cooldown = "5m"

[[channel]]
name = "main"
kind = "webhook"
url = "{main}"

[[channel]]
name = "backup"
kind = "webhook"
url = "{backup}"

[[escalation]]
name = "default"
levels = [{{ after = "0m", notify = ["main"] }}]
fallback = "backup"
"#,
                main = main.url(),
                backup = backup.url()
            ),
        )
        .expect("config");
        let (store, pipeline, deliverer) = common::post_office(config, "http://localhost:8080").await;
        let start = DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("valid");
        Post { store, pipeline, deliverer, main, backup, start, serial: 0, _dir: dir }
    }

    fn at(&self, seconds: i64) -> DateTime<Utc> {
        self.start + Duration::seconds(seconds)
    }

    /// A severe mention at `seconds`: opens an incident (one notice to `main`) or attaches.
    async fn crisis(&mut self, seconds: i64, rule_text: &str) -> i64 {
        self.serial += 1;
        let now = self.at(seconds);
        let mention = Mention::text("news", &format!("m{}", self.serial), "", rule_text, now);
        let arrival = Arrival::new(self.pipeline.score(mention), now);
        match self.pipeline.record(vec![arrival]).await.expect("record").remove(0) {
            IngestOutcome::Stored { opened, .. } if opened.len() == 1 => opened[0],
            other => panic!("expected an incident: {other:?}"),
        }
    }

    async fn deliver(&self, seconds: i64) -> usize {
        self.deliverer.run_due(self.at(seconds)).await.expect("deliver")
    }

    async fn notified(&self, incident: i64) -> Vec<serde_json::Value> {
        let events = self.store.timeline(incident).await.expect("timeline");
        events.into_iter().filter(|e| e.kind == "notified").map(|e| e.details).collect()
    }
}

const POISONING: &str = "My kid got food poisoning after eating Acme yogurt";
const EXPLOSION: &str = "Explosion and fire at the Acme plant, several workers injured";
const BREACH: &str = "Acme data breach: hackers leaked customer passwords and card numbers";

#[tokio::test]
async fn a_failing_receiver_gets_the_same_notice_id_until_it_accepts_and_retry_after_is_honoured() {
    let mut post = Post::new().await;
    post.main.script(&[(503, None), (503, None)]);
    let id = post.crisis(0, POISONING).await;
    assert_eq!(post.deliver(0).await, 1);
    assert_eq!(post.deliver(3).await, 0, "the first retry waits about 5s");
    assert_eq!(post.deliver(7).await, 1);
    assert_eq!(post.deliver(30).await, 1);
    let attempts = post.main.attempts();
    assert_eq!(attempts.len(), 3);
    let ids: Vec<String> = attempts.iter().map(|a| a.header("webhook-id")).collect();
    assert!(ids.iter().all(|i| *i == ids[0] && !i.is_empty()), "one notice id every time: {ids:?}");
    assert_eq!(post.main.received().len(), 1, "accepted once");
    let results: Vec<String> =
        post.notified(id).await.iter().map(|d| d["result"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(results, ["retrying", "retrying", "delivered"], "every attempt is on the timeline");

    // 429 with Retry-After: 120 s: not before then, even though the backoff says 5 s.
    post.main.script(&[(429, Some("120"))]);
    post.store.transition(id, Action::Acknowledge, "alice", post.at(100)).await.expect("ack");
    assert_eq!(post.deliver(100).await, 1);
    assert_eq!(post.deliver(200).await, 0, "the receiver asked for two minutes");
    assert_eq!(post.deliver(221).await, 1);
    assert_eq!(post.main.received().len(), 2);
    let last = post.notified(id).await.pop().expect("an attempt");
    assert_eq!(last["type"], "incident.acknowledged");
    assert_eq!(last["result"], "delivered");
}

#[tokio::test]
async fn a_permanent_refusal_is_not_retried_and_410_disables_the_channel_until_re_enabled() {
    let mut post = Post::new().await;
    post.main.script(&[(400, None)]);
    let first = post.crisis(0, POISONING).await;
    post.deliver(0).await;
    assert_eq!(post.deliver(3600).await, 0, "400 is permanent");
    let failed = post.notified(first).await.pop().expect("attempt");
    assert_eq!(failed["result"], "failed");
    assert!(failed["detail"].as_str().is_some_and(|d| d.contains("400")), "{failed}");

    // 410 Gone: the notice is not retried and the channel is disabled; later notices go to
    // the fallback, noted on the timeline.
    post.main.script(&[(410, None)]);
    let second = post.crisis(10, EXPLOSION).await;
    post.deliver(10).await;
    let health = post.store.channel_health("main").await.expect("health");
    assert!(matches!(health.availability(post.at(11)), Availability::Disabled { .. }), "{health:?}");
    let third = post.crisis(20, BREACH).await;
    post.deliver(20).await;
    post.deliver(21).await;
    assert_eq!(post.main.attempts().len(), 2, "a disabled channel is not called");
    assert_eq!(post.backup.received().len(), 1, "the fallback got the third incident's notice");
    assert_eq!(post.backup.received()[0].json()["incident"]["id"], third);
    let rerouted = post.notified(third).await;
    assert_eq!(rerouted[0]["result"], "rerouted", "{rerouted:?}");
    assert_eq!(rerouted[0]["fallback"], "backup");
    assert!(post.notified(second).await.iter().any(|d| d["detail"].as_str().is_some_and(|t| t.contains("410"))));

    // Re-enabled by hand: the channel takes notices again.
    post.store.set_channel_enabled("main", true, "endpoint fixed", post.at(30)).await.expect("enable");
    post.store.transition(third, Action::Acknowledge, "alice", post.at(31)).await.expect("ack");
    post.deliver(31).await;
    assert_eq!(post.main.received().len(), 1, "main delivers again");
    assert_eq!(post.main.received()[0].json()["type"], "incident.acknowledged");
}

#[tokio::test]
async fn a_channel_that_keeps_failing_trips_its_breaker_and_its_notices_go_to_the_fallback() {
    let mut post = Post::new().await;
    post.main.fail_with(Some(reqwest::StatusCode::SERVICE_UNAVAILABLE));
    let first = post.crisis(0, POISONING).await;
    post.deliver(0).await;
    post.deliver(6).await;
    post.deliver(20).await;
    assert_eq!(post.main.attempts().len(), 3);
    let health = post.store.channel_health("main").await.expect("health");
    assert_eq!(health.availability(post.at(21)), Availability::Tripped { until: post.at(20 + 300) });
    // The retry of the first notice and a new incident's notice both go to the fallback.
    let second = post.crisis(30, EXPLOSION).await;
    post.deliver(60).await;
    post.deliver(61).await;
    assert_eq!(post.main.attempts().len(), 3, "no calls while the breaker is open");
    let got: Vec<i64> = post.backup.received().iter().filter_map(|r| r.json()["incident"]["id"].as_i64()).collect();
    assert!(got.contains(&first) && got.contains(&second), "{got:?}");
    // After the cool-down one probe goes through; the receiver is back, the breaker closes.
    post.main.fail_with(None);
    post.store.transition(second, Action::Acknowledge, "alice", post.at(400)).await.expect("ack");
    post.crisis(410, BREACH).await;
    post.deliver(410).await;
    assert_eq!(post.main.received().len(), 1, "one probe first, not the whole queue at a suspect channel");
    post.deliver(411).await;
    let types: Vec<String> =
        post.main.received().iter().map(|r| r.json()["type"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(types, ["incident.acknowledged", "incident.opened"], "the probe went through, and the rest after it");
    assert_eq!(post.store.channel_health("main").await.expect("health").failures, 0);
}

/// One incident, four chat services, each on its own loopback receiver: the notice arrives
/// in each service's own shape, DingTalk and Feishu signed with their robot secrets, in
/// the channel's language; a DingTalk "send too fast" answer is retried.
#[tokio::test]
async fn each_chat_service_gets_its_own_format_signed_and_in_the_channel_s_language() {
    use base64::Engine;
    use hmac::{KeyInit, Mac};
    let dir = tempfile::tempdir().expect("tempdir");
    let receivers = [
        WebhookReceiver::start().await,
        WebhookReceiver::start().await,
        WebhookReceiver::start().await,
        WebhookReceiver::start().await,
    ];
    let [slack, dingtalk, wecom, feishu] = &receivers;
    slack.accept_with("ok");
    dingtalk.accept_with(r#"{"errcode":0,"errmsg":"ok"}"#);
    wecom.accept_with(r#"{"errcode":0,"errmsg":"ok"}"#);
    feishu.accept_with(r#"{"code":0,"msg":"success"}"#);
    dingtalk.script_body(200, r#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#);
    // SAFETY: set before the channels read them; no other thread of this test touches them.
    unsafe {
        std::env::set_var("TOCSIN_TEST_DINGTALK_SECRET", "SECdingtalk");
        std::env::set_var("TOCSIN_TEST_FEISHU_SECRET", "feishu-secret");
    }
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let config = Config::parse(
        "chat.toml",
        &format!(
            r#"
[store]
url = "{url}"

[[channel]]
name = "slack"
kind = "slack"
url = "{slack}"

[[channel]]
name = "dingtalk"
kind = "dingtalk"
url = "{dingtalk}?access_token=abc"
secret_env = "TOCSIN_TEST_DINGTALK_SECRET"
lang = "zh"

[[channel]]
name = "wecom"
kind = "wecom"
url = "{wecom}?key=k"
lang = "zh"

[[channel]]
name = "feishu"
kind = "feishu"
url = "{feishu}"
secret_env = "TOCSIN_TEST_FEISHU_SECRET"
title_template = "ALERT {{{{ incident.title }}}}"

[[escalation]]
name = "default"
levels = [{{ after = "0m", notify = ["slack", "dingtalk", "wecom", "feishu"] }}]
"#,
            slack = slack.url(),
            dingtalk = dingtalk.url(),
            wecom = wecom.url(),
            feishu = feishu.url()
        ),
    )
    .expect("config");
    let (_, pipeline, deliverer) = common::post_office(config, "http://localhost:8080").await;
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("valid");
    let mention = Mention::text("news", "1", "", POISONING, now);
    pipeline.record(vec![Arrival::new(pipeline.score(mention), now)]).await.expect("record");
    deliverer.run_due(now).await.expect("deliver");
    deliverer.run_due(now + Duration::minutes(5)).await.expect("retry");

    let slack_body = slack.received()[0].json();
    assert!(slack_body["text"].is_string() && slack_body["blocks"].is_array(), "{slack_body}");

    assert_eq!(dingtalk.attempts().len(), 2, "send-too-fast is retried");
    let ding = &dingtalk.received()[0];
    assert_eq!(ding.json()["msgtype"], "markdown");
    let markdown = &ding.json()["markdown"];
    assert!(markdown["text"].as_str().is_some_and(|t| t.contains("- 级别：严重")), "Chinese facts: {markdown}");
    assert!(markdown["title"].as_str().is_some_and(|t| t.starts_with("【严重】新事件：")), "Chinese title: {markdown}");
    let query: std::collections::HashMap<String, String> = reqwest::Url::parse(&format!("http://x{}", ding.uri))
        .expect("uri")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let timestamp = query.get("timestamp").expect("a signed DingTalk URL");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"SECdingtalk").expect("key");
    mac.update(format!("{timestamp}\nSECdingtalk").as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(query.get("sign"), Some(&expected), "DingTalk's signature recipe");
    assert_eq!(query.get("access_token").map(String::as_str), Some("abc"));

    let wecom_body = wecom.received()[0].json();
    assert_eq!(wecom_body["msgtype"], "markdown");
    assert!(wecom_body["markdown"]["content"].as_str().is_some_and(|c| c.len() <= 4096));

    let feishu_body = feishu.received()[0].json();
    let seconds = feishu_body["timestamp"].as_str().expect("a signed Feishu body");
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(format!("{seconds}\nfeishu-secret").as_bytes()).expect("key");
    mac.update(b"");
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(feishu_body["sign"], expected, "Feishu's signature recipe");
    assert!(feishu_body.to_string().contains("ALERT "), "the channel's own title template: {feishu_body}");
}

/// Phone push and the chat tools PR teams live in, each on its own loopback receiver that
/// checks the service's published rules itself: a Telegram bot's `sendMessage` in valid
/// MarkdownV2 within 4,096 characters, an ntfy publish with topic, priority from the level,
/// click and actions and the access token, a Teams Adaptive Card. Telegram's 429 (its wait in
/// `parameters.retry_after`) and ntfy's 429 with Retry-After are waited out, not retried
/// sooner; Teams' 400 is permanent, and its next notice goes through.
#[tokio::test]
async fn telegram_ntfy_and_teams_get_their_own_format_and_their_answers_are_honoured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let [telegram, ntfy, teams] =
        [WebhookReceiver::start().await, WebhookReceiver::start().await, WebhookReceiver::start().await];
    telegram.accept_with(r#"{"ok":true,"result":{"message_id":7}}"#);
    telegram.script_body(
        429,
        r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 60","parameters":{"retry_after":60}}"#,
    );
    ntfy.accept_with(r#"{"id":"a1","event":"message"}"#);
    ntfy.script(&[(429, Some("60"))]);
    teams.script_body(400, "Bad payload received by generic incoming webhook.");
    // SAFETY: set before the channels read them; no other thread of this test touches them.
    unsafe {
        std::env::set_var("TOCSIN_TEST_TELEGRAM_TOKEN", "123456:bot-token");
        std::env::set_var("TOCSIN_TEST_NTFY_TOKEN", "tk_ntfy");
    }
    let url = format!("sqlite://{}", dir.path().join("push.db").display());
    let config = Config::parse(
        "push.toml",
        &format!(
            r#"
[store]
url = "{url}"

[delivery]
first_retry = "5s"

[[channel]]
name = "telegram"
kind = "telegram"
url = "http://{telegram}"
secret_env = "TOCSIN_TEST_TELEGRAM_TOKEN"
chat_id = "-1001234567890"

[[channel]]
name = "phones"
kind = "ntfy"
url = "http://{ntfy}/acme-pr"
secret_env = "TOCSIN_TEST_NTFY_TOKEN"
lang = "zh"

[[channel]]
name = "teams"
kind = "teams"
url = "{teams}"

[[escalation]]
name = "default"
levels = [{{ after = "0m", notify = ["telegram", "phones", "teams"] }}]
"#,
            telegram = telegram.addr,
            ntfy = ntfy.addr,
            teams = teams.url()
        ),
    )
    .expect("config");
    let (store, pipeline, deliverer) = common::post_office(config, "http://localhost:8080").await;
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("valid");
    let mention = Mention::text("news", "1", "", POISONING, now);
    let outcome = pipeline.record(vec![Arrival::new(pipeline.score(mention), now)]).await.expect("record");
    let IngestOutcome::Stored { opened, .. } = &outcome[0] else { panic!("{outcome:?}") };
    let id = opened[0];
    let incident = store.incident(id).await.expect("read").expect("the incident");

    deliverer.run_due(now).await.expect("deliver");
    deliverer.run_due(now + Duration::seconds(30)).await.expect("too early for the asked wait");
    assert_eq!((telegram.attempts().len(), ntfy.attempts().len()), (1, 1), "both asked for 60 s and got them");
    deliverer.run_due(now + Duration::seconds(61)).await.expect("after the wait");
    assert_eq!((telegram.received().len(), ntfy.received().len()), (1, 1), "delivered once the wait was over");

    let sent = &telegram.received()[0];
    assert_eq!(sent.uri, "/bot123456:bot-token/sendMessage");
    let body = sent.json();
    assert_eq!(
        (&body["chat_id"], &body["parse_mode"]),
        (&serde_json::json!("-1001234567890"), &serde_json::json!("MarkdownV2"))
    );
    let text = body["text"].as_str().expect("text");
    assert!(text.chars().count() <= 4096, "Telegram takes at most 4,096 characters");
    for line in text.lines() {
        let (mut escaped, mut stars) = (false, 0);
        for c in line.chars() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '*' {
                stars += 1;
            } else {
                assert!(!"_[]()~`>#+-=|{}.!".contains(c), "MarkdownV2 needs {c:?} escaped: {line}");
            }
        }
        assert_eq!(stars % 2, 0, "bold marks pair up: {line}");
    }

    let published = &ntfy.received()[0];
    assert_eq!(published.uri, "/", "JSON is published to the server root");
    assert_eq!(published.header("authorization"), "Bearer tk_ntfy");
    let body = published.json();
    let priority = match incident.level {
        tocsin::incident::Level::Critical => 5,
        tocsin::incident::Level::High => 4,
        tocsin::incident::Level::Medium => 3,
        tocsin::incident::Level::Low => 2,
    };
    assert_eq!((&body["topic"], body["priority"].as_i64()), (&serde_json::json!("acme-pr"), Some(priority)), "{body}");
    assert_eq!(body["click"], format!("http://localhost:8080/incidents/{id}"));
    assert!(body["title"].as_str().is_some_and(|t| t.contains("新事件")), "in the channel's language: {body}");
    assert!(body["message"].as_str().is_some_and(|m| m.len() <= 4096), "a longer one becomes an attachment");
    let actions = body["actions"].as_array().expect("actions");
    assert!(actions.len() <= 3 && actions.iter().all(|a| a["url"].is_string()), "{body}");
    let ack = actions.iter().find(|a| a["action"] == "http").expect("a one-tap acknowledge");
    assert_eq!(ack["method"], "POST", "the signed link acknowledges on POST, never on GET");
    assert!(ack["url"].as_str().is_some_and(|u| u.contains("/ack/")), "{ack}");

    assert_eq!((teams.attempts().len(), teams.received().len()), (1, 0), "a 400 is not retried");
    let failed = store
        .timeline(id)
        .await
        .expect("timeline")
        .into_iter()
        .any(|e| e.kind == "notified" && e.details["channel"] == "teams" && e.details["result"] == "failed");
    assert!(failed, "the permanent failure is on the timeline");
    store.transition(id, Action::Acknowledge, "mei", now + Duration::seconds(90)).await.expect("ack");
    deliverer.run_due(now + Duration::seconds(90)).await.expect("deliver the acknowledgement");
    let card = teams.received()[0].json();
    assert_eq!(card["type"], "message");
    let attachment = &card["attachments"][0];
    assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
    let content = &attachment["content"];
    assert_eq!(
        (&content["type"], &content["version"]),
        (&serde_json::json!("AdaptiveCard"), &serde_json::json!("1.4"))
    );
    let blocks = content["body"].as_array().expect("card body");
    assert!(blocks.iter().all(|b| b["type"] == "TextBlock" && b["text"].is_string()), "{card}");
    assert!(blocks[0]["text"].as_str().is_some_and(|t| t.contains("Acknowledged")), "{card}");
    assert!(content["actions"].as_array().is_some_and(|a| a.iter().all(|a| a["type"] == "Action.OpenUrl")), "{card}");
    assert!(serde_json::to_vec(&card).expect("bytes").len() <= 28_000, "Teams takes at most 28 KB");
}
