//! SIGHUP, or an admin's `POST /api/v1/reload`, reloads rules and lists, and a changed
//! config whole (feeds, channels, policies); a bad reload keeps what runs and says why.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{FeedServer, Format, Item, WebhookReceiver, wait_until};

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const ALPHA: &str = "[[rule]]\nid = \"alpha\"\ntitle = \"Widget recall\"\nquery = '@product AND recall'\nseverity = 90\ncrisis_type = \"product_quality\"\n";
const BETA: &str = "[[rule]]\nid = \"beta\"\ntitle = \"Gadget fire\"\nquery = 'gadget AND fire'\nseverity = 90\ncrisis_type = \"safety_incident\"\n";

async fn push(http: &reqwest::Client, base: &str, id: &str, title: &str) -> serde_json::Value {
    let body = serde_json::json!({ "id": id, "title": title });
    http.post(format!("{base}/api/v1/mentions"))
        .bearer_auth("tok")
        .json(&body)
        .send()
        .await
        .expect("push")
        .json()
        .await
        .expect("JSON")
}

fn hangup(daemon: &Daemon) {
    let status = Command::new("kill").args(["-HUP", &daemon.0.id().to_string()]).status().expect("kill -HUP");
    assert!(status.success());
}

#[tokio::test]
async fn a_bad_rule_edit_is_refused_and_a_good_one_takes_effect_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(rules.join("lists")).expect("mkdir");
    std::fs::write(rules.join("lists/product.txt"), "widget\n").expect("write");
    std::fs::write(rules.join("mine.toml"), ALPHA).expect("write");
    let port = common::free_port();
    std::fs::write(
        dir.path().join("tocsin.toml"),
        format!("[store]\nurl = \"sqlite://t.db\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n[rules]\ndir = \"rules\"\n"),
    )
    .expect("write config");
    let log = dir.path().join("daemon.log");
    let daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .current_dir(dir.path())
            .arg("run")
            .env("TOCSIN_API_TOKENS", "tester:tok,watcher:wtok:viewer")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start daemon"),
    );
    let base = format!("http://127.0.0.1:{port}");
    tocsin::ingest::fetch::install_crypto_provider();
    let http = reqwest::Client::new();
    wait_until(Duration::from_secs(30), || async { http.get(format!("{base}/healthz")).send().await.is_ok() })
        .await
        .expect("daemon up");
    let log_says = |needle: &'static str| {
        let log = log.clone();
        move || {
            let log = log.clone();
            async move { std::fs::read_to_string(&log).unwrap_or_default().contains(needle) }
        }
    };

    assert_eq!(push(&http, &base, "1", "widget recall announced").await["opened"].as_array().map(Vec::len), Some(1));

    // A broken edit: refused, logged with its location, the old rules keep working.
    std::fs::write(rules.join("mine.toml"), "[[rule]]\nid = \"alpha\"\nquery = '@product AND (recall'\n")
        .expect("write");
    hangup(&daemon);
    wait_until(Duration::from_secs(10), log_says("reload refused")).await.expect("reload refused");
    assert!(std::fs::read_to_string(&log).expect("log").contains("mine.toml:3:"), "the log says where");
    let alpha = |http: reqwest::Client, base: String| async move {
        let listed: serde_json::Value = http
            .get(format!("{base}/api/v1/incidents?rule=alpha"))
            .bearer_auth("tok")
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("JSON");
        listed["items"][0]["mentions"].as_i64()
    };
    push(&http, &base, "2", "second widget recall").await;
    assert_eq!(alpha(http.clone(), base.clone()).await, Some(2), "the running rules still match");

    // A good edit (a new rule and a changed list) takes effect on the next SIGHUP.
    std::fs::write(rules.join("mine.toml"), format!("{ALPHA}\n{BETA}")).expect("write");
    std::fs::write(rules.join("lists/product.txt"), "widget\nsprocket\n").expect("write");
    hangup(&daemon);
    wait_until(Duration::from_secs(10), log_says("rules reloaded")).await.expect("reloaded");
    assert_eq!(push(&http, &base, "3", "gadget fire in a warehouse").await["opened"].as_array().map(Vec::len), Some(1));
    push(&http, &base, "4", "sprocket recall").await;
    assert_eq!(alpha(http.clone(), base.clone()).await, Some(3), "the reloaded list matches too");

    // An admin's API call reloads as SIGHUP does; a viewer's is refused.
    std::fs::write(rules.join("lists/product.txt"), "widget\nsprocket\ngizmo\n").expect("write");
    let refused = http.post(format!("{base}/api/v1/reload")).bearer_auth("wtok").send().await.expect("post");
    assert_eq!(refused.status(), reqwest::StatusCode::FORBIDDEN);
    let accepted = http.post(format!("{base}/api/v1/reload")).bearer_auth("tok").send().await.expect("post");
    assert_eq!(accepted.status(), reqwest::StatusCode::ACCEPTED);
    let reloads = || std::fs::read_to_string(&log).unwrap_or_default().matches("rules reloaded").count();
    wait_until(Duration::from_secs(10), || async { reloads() == 2 }).await.expect("reloaded over the API");
    push(&http, &base, "5", "gizmo recall").await;
    assert_eq!(alpha(http.clone(), base.clone()).await, Some(4), "the list reloaded over the API matches");
}

/// The config of the reload story: the named feeds polled every second, a webhook channel
/// per receiver, one policy notifying them all.
fn story_config(port: u16, feeds: &[(&str, String)], hooks: &[(&str, String)]) -> String {
    let mut config = format!(
        "[store]\nurl = \"sqlite://t.db\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n[rules]\ndir = \"rules\"\n\
         [poll]\ndefault_interval = \"1s\"\n"
    );
    for (name, url) in feeds {
        config.push_str(&format!("[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
    }
    for (name, url) in hooks {
        config.push_str(&format!("[[channel]]\nname = \"{name}\"\nkind = \"webhook\"\nurl = \"{url}\"\n"));
    }
    let notify: Vec<String> = hooks.iter().map(|(name, _)| format!("\"{name}\"")).collect();
    config.push_str(&format!(
        "[[escalation]]\nname = \"default\"\nlevels = [{{ after = \"0m\", notify = [{}] }}]\n",
        notify.join(", ")
    ));
    config
}

#[tokio::test]
async fn a_changed_config_reloads_feeds_and_channels_and_a_broken_one_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(rules.join("lists")).expect("mkdir");
    std::fs::write(rules.join("lists/product.txt"), "widget\n").expect("write");
    std::fs::write(rules.join("mine.toml"), ALPHA).expect("write");
    let feeds = FeedServer::start().await;
    feeds.set("old", Format::Rss, vec![Item::new("o1", "Quiet day", "Nothing to see")]);
    feeds.set("new", Format::Rss, vec![Item::new("n1", "Widget recall announced", "A widget recall")]);
    let (first, second) = (WebhookReceiver::start().await, WebhookReceiver::start().await);
    let port = common::free_port();
    let config_path = dir.path().join("tocsin.toml");
    std::fs::write(&config_path, story_config(port, &[("old", feeds.url("old"))], &[("first", first.url())]))
        .expect("write config");
    let log = dir.path().join("daemon.log");
    let daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .current_dir(dir.path())
            .arg("run")
            .env("TOCSIN_API_TOKENS", "tester:tok")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start daemon"),
    );
    let base = format!("http://127.0.0.1:{port}");
    tocsin::ingest::fetch::install_crypto_provider();
    let http = reqwest::Client::new();
    let log_count = |needle: &str| std::fs::read_to_string(&log).unwrap_or_default().matches(needle).count();
    wait_until(Duration::from_secs(30), || async { feeds.full("old") + feeds.not_modified("old") >= 2 })
        .await
        .expect("the first config's feed is polled");
    assert_eq!(feeds.full("new") + feeds.not_modified("new"), 0, "a feed not yet configured is not polled");

    // Add a feed and a channel, remove a feed: after SIGHUP the daemon follows the file.
    std::fs::write(
        &config_path,
        story_config(port, &[("new", feeds.url("new"))], &[("first", first.url()), ("second", second.url())]),
    )
    .expect("write config");
    hangup(&daemon);
    wait_until(Duration::from_secs(30), || async { log_count("config reloaded") == 1 }).await.expect("reloaded");
    wait_until(Duration::from_secs(30), || async { !second.received().is_empty() })
        .await
        .expect("the added feed's recall opens an incident notified on the added channel too");
    assert_eq!(first.received().len(), 1, "the kept channel is notified as before");
    let old_polls = feeds.full("old") + feeds.not_modified("old");
    let new_polls = feeds.full("new") + feeds.not_modified("new");
    wait_until(Duration::from_secs(30), || async { feeds.full("new") + feeds.not_modified("new") >= new_polls + 3 })
        .await
        .expect("the added feed keeps being polled");
    assert_eq!(feeds.full("old") + feeds.not_modified("old"), old_polls, "the removed feed is polled no more");
    let listed: serde_json::Value = http
        .get(format!("{base}/api/v1/feeds"))
        .bearer_auth("tok")
        .send()
        .await
        .expect("feeds")
        .json()
        .await
        .expect("JSON");
    let names: Vec<&str> =
        listed["items"].as_array().into_iter().flatten().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names, ["new"], "the API lists the configured feeds only");
    let metrics = http.get(format!("{base}/metrics")).send().await.expect("scrape").text().await.expect("text");
    assert!(metrics.contains(r#"feed="new""#), "{metrics}");
    assert!(!metrics.contains(r#"feed="old""#), "the removed feed's gauge is gone: {metrics}");

    // A broken config: refused with its errors, and the running one keeps working.
    std::fs::write(&config_path, "[store]\nurl = \"sqlite://t.db\"\n[[feed]]\nname = \"x\"\nurl = 7\n").expect("write");
    hangup(&daemon);
    wait_until(Duration::from_secs(10), || async { log_count("reload refused") == 1 }).await.expect("refused");
    let said = std::fs::read_to_string(&log).expect("log");
    assert!(said.contains("tocsin.toml:5"), "the refusal says where: {said}");
    let polls = feeds.full("new") + feeds.not_modified("new");
    wait_until(Duration::from_secs(30), || async { feeds.full("new") + feeds.not_modified("new") >= polls + 2 })
        .await
        .expect("the running config still polls");
    assert_eq!(log_count("config reloaded"), 1, "nothing restarted on the broken file");
    assert!(http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()));
}
