//! SIGHUP reloads rules and lists; a bad reload keeps the running set and says why.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::wait_until;

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
            .env("TOCSIN_API_TOKENS", "tester:tok")
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
    wait_until(Duration::from_secs(10), log_says("rule reload refused")).await.expect("reload refused");
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
}
