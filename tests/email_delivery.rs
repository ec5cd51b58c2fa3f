//! Email through a real SMTP server (aiosmtpd, TLS off) on a simulated clock: the server is
//! down while an incident unfolds, comes up, and every notice arrives exactly once, each
//! message in the incident's thread, the Chinese subject intact and feed text escaped.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::SmtpServer;
use mail_parser::MessageParser;
use tocsin::config::Config;
use tocsin::incident::Action;
use tocsin::ingest::Mention;
use tocsin::store::{Arrival, IngestOutcome, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_queued_while_the_mail_server_is_down_arrive_once_each_in_one_thread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::free_port();
    let url = format!("sqlite://{}", dir.path().join("mail.db").display());
    let config = Config::parse(
        "mail.toml",
        &format!(
            r#"
[store]
url = "{url}"

[http]
public_url = "https://tocsin.acme.example"

[delivery]
first_retry = "5s"

[smtp]
host = "127.0.0.1"
port = {port}
tls = "none"
from = "tocsin <alerts@acme.example>"
timeout = "3s"

[[channel]]
name = "pr-team"
kind = "email"
to = ["pr@acme.example"]

[[escalation]]
name = "default"
levels = [{{ after = "0m", notify = ["pr-team"] }}]
"#
        ),
    )
    .expect("config");
    let (store, pipeline, deliverer) = common::post_office(config, "https://tocsin.acme.example").await;
    let start = DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("valid");
    let at = |s: i64| start + Duration::seconds(s);

    // A Chinese food-safety post with hostile markup in its title opens an incident.
    let mention = Mention {
        feed: "weibo".into(),
        guid: "w1".into(),
        title: "艾克米酸奶食物中毒 <img src=x onerror=alert(1)>".into(),
        body: "网友称喝了艾克米酸奶后食物中毒，孩子已住院".into(),
        author: None,
        url: Some("javascript:alert(1)".into()),
        published: Some(at(0)),
        fetched_at: at(0),
        lang: None,
        engagement: None,
    };
    let outcome = pipeline.record(vec![Arrival::new(pipeline.score(mention), at(0))]).await.expect("record");
    let IngestOutcome::Stored { opened, .. } = &outcome[0] else { panic!("stored") };
    let id = *opened.first().expect("an incident opened");
    store.transition(id, Action::Acknowledge, "mei", at(1)).await.expect("ack");

    // The server is down: both notices fail and are kept for retry.
    deliverer.run_due(at(1)).await.expect("deliver");
    deliverer.run_due(at(20)).await.expect("deliver");
    let failures = store.timeline(id).await.expect("timeline").into_iter().filter(|e| e.kind == "notified").count();
    assert!(failures >= 2, "each attempt is on the timeline");
    assert_eq!(store.pending_notices().await.expect("pending"), 2, "nothing is lost while the server is down");

    let smtp = SmtpServer::start_on(dir.path(), port).await;
    for s in [120, 300, 900, 1800] {
        deliverer.run_due(at(s)).await.expect("deliver");
    }
    assert_eq!(store.pending_notices().await.expect("pending"), 0);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2, "each notice arrives once");

    let parsed: Vec<_> =
        messages.iter().map(|m| MessageParser::default().parse(m.as_bytes()).expect("parse")).collect();
    let ids: Vec<String> = parsed.iter().map(|m| m.message_id().expect("Message-ID").to_owned()).collect();
    assert_ne!(ids[0], ids[1], "one Message-ID per notice");
    let thread = format!("incident-{id}@tocsin.acme.example");
    for message in &parsed {
        assert_eq!(message.in_reply_to().as_text(), Some(thread.as_str()), "in the incident's thread");
        let subject = message.subject().expect("subject");
        assert!(subject.contains("艾克米酸奶食物中毒"), "the Chinese subject survives encoding: {subject}");
        let html = message.body_html(0).expect("an HTML part");
        assert!(!html.contains("<img src=x"), "feed markup is escaped");
        assert!(!html.contains("href=\"javascript:"), "no javascript: link");
        let text = message.body_text(0).expect("a text part");
        assert!(text.contains("Why"), "the why travels with the alert");
    }
}
