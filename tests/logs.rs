//! What `tocsin run` writes to its terminal while it polls a feed, opens an incident, logs in
//! to SMTP, signs a webhook, fails to reach a chat robot and answers API calls: with `--log-format json` every line is a
//! JSON event, the default format is text for people, and no secret it was given appears in
//! either, at any log level.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{FeedServer, Format, Item, WebhookReceiver, free_port, wait_until};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const SMTP_USER: &str = "alerts@example.com";
const SMTP_PASSWORD: &str = "smtp-pw-Zq7Xk2Lm";
const WEBHOOK_SECRET: &str = "hook-secret-Jv93LwQe";
const API_TOKEN: &str = "api-token-Rt81NsVb";
const DB_PASSWORD: &str = "db-pw-Hc42YeUd";
/// A chat robot's URL is its credential (Slack's path, DingTalk's `access_token`), and it
/// sits in the config file rather than the environment; it must not reach the log either.
const ROBOT_TOKEN: &str = "robot-token-Wd55PaKx";

/// An SMTP server (aiosmtpd) that accepts mail only after a login with the right password,
/// so a delivered message proves tocsin read the password and used it.
const AUTH_SMTP: &str = r#"
import os, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
port, maildir, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]
password = os.environ["SMTP_PASSWORD"]
def check(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() \
        and auth_data.password == password.encode()
    return AuthResult(success=ok)
Controller(Mailbox(maildir), hostname="127.0.0.1", port=port, authenticator=check,
           auth_required=True, auth_require_tls=False).start()
while True:
    time.sleep(3600)
"#;

struct AuthSmtp {
    port: u16,
    maildir: PathBuf,
    child: Child,
}

impl AuthSmtp {
    async fn start(dir: &Path) -> AuthSmtp {
        let port = free_port();
        let maildir = dir.join("maildir");
        let child = Command::new("python3")
            .args(["-W", "ignore", "-c", AUTH_SMTP, &port.to_string()])
            .arg(&maildir)
            .arg(SMTP_USER)
            .env("SMTP_PASSWORD", SMTP_PASSWORD)
            // Quiet: it warns on every login that AUTH without TLS is unsafe, which is the
            // point here (loopback); a server that fails to start fails the wait below.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd (python3 -m pip install aiosmtpd)");
        wait_until(Duration::from_secs(20), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        })
        .await
        .expect("aiosmtpd listens");
        AuthSmtp { port, maildir, child }
    }

    fn delivered(&self) -> usize {
        std::fs::read_dir(self.maildir.join("new")).map_or(0, |entries| entries.count())
    }
}

impl Drop for AuthSmtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one daemon run printed.
struct Printed {
    stdout: String,
    stderr: String,
}

impl Printed {
    fn assert_no_secret(&self, secrets: &[&str], run: &str) {
        for secret in secrets {
            for (stream, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
                if let Some(line) = text.lines().find(|line| line.contains(secret)) {
                    panic!("{run}: a secret is on {stream}: {line}");
                }
            }
        }
    }
}

/// The servers one run talks to.
struct World {
    feeds: FeedServer,
    hooks: WebhookReceiver,
    smtp: AuthSmtp,
    http: reqwest::Client,
}

/// The database URL of a run, with a password in it: a PostgreSQL schema of its own when
/// `TOCSIN_TEST_DATABASE_URL` is set (its trust authentication ignores the password), else a
/// SQLite file, whose URL carries no password.
async fn database_url(dir: &Path) -> (String, Option<common::Scratch>) {
    match common::Scratch::new().await {
        Some(scratch) => {
            let mut url = reqwest::Url::parse(&scratch.url).expect("test database URL");
            url.set_password(Some(DB_PASSWORD)).expect("URL takes a password");
            (url.to_string(), Some(scratch))
        }
        None => (format!("sqlite://{}", dir.join("tocsin.db").display()), None),
    }
}

/// Runs the daemon until it has delivered an incident by email and webhook and answered
/// API calls, stops it with SIGTERM, and returns what it printed.
async fn run_daemon(world: &World, args: &[&str], log_filter: Option<&str>) -> Printed {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db_url, scratch) = database_url(dir.path()).await;
    let port = free_port();
    let config = format!(
        r#"
[store]
url = "sqlite://placeholder.db"   # TOCSIN_DATABASE_URL replaces it

[http]
listen = "127.0.0.1:{port}"

[poll]
default_interval = "1h"

[[feed]]
name = "news"
url = "{feed}"

[smtp]
host = "127.0.0.1"
port = {smtp}
tls = "none"
username = "{SMTP_USER}"
password_env = "TOCSIN_SMTP_PASSWORD"
from = "tocsin <{SMTP_USER}>"

[[channel]]
name = "pr-team"
kind = "email"
to = ["pr@example.com"]

[[channel]]
name = "oncall"
kind = "webhook"
url = "{hook}"
secret_env = "TOCSIN_WEBHOOK_SECRET"

[[channel]]
name = "pr-slack"
kind = "slack"
url = "http://127.0.0.1:{closed}/services/T000/B000/{ROBOT_TOKEN}"

[[escalation]]
name = "default"
levels = [{{ after = "0m", notify = ["pr-team", "oncall", "pr-slack"] }}]
"#,
        closed = free_port(),
        feed = world.feeds.url("news"),
        smtp = world.smtp.port,
        hook = world.hooks.url(),
    );
    std::fs::write(dir.path().join("tocsin.toml"), config).expect("write config");
    let stdout_path = dir.path().join("stdout.log");
    let stderr_path = dir.path().join("stderr.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_tocsin"));
    command
        .current_dir(dir.path())
        .arg("run")
        .args(args)
        .env("TOCSIN_DATABASE_URL", &db_url)
        .env("TOCSIN_SMTP_PASSWORD", SMTP_PASSWORD)
        .env("TOCSIN_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("TOCSIN_API_TOKENS", format!("ops:{API_TOKEN}"))
        .env_remove("TOCSIN_LOG")
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"));
    if let Some(filter) = log_filter {
        command.env("TOCSIN_LOG", filter);
    }
    let (emails, hooks) = (world.smtp.delivered(), world.hooks.received().len());
    let mut child = command.spawn().expect("start tocsin run");
    let base = format!("http://127.0.0.1:{port}");

    // The chat robot's port is closed: its failed attempt is logged.
    let delivered = wait_until(Duration::from_secs(60), || async {
        world.smtp.delivered() > emails
            && world.hooks.received().len() > hooks
            && std::fs::read_to_string(&stderr_path).is_ok_and(|log| log.contains("delivery failed"))
    })
    .await;
    if delivered.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "no email, webhook and failed chat attempt within a minute:\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
    }

    // The token travels in a header and in the login form; neither may reach the log.
    let incidents =
        world.http.get(format!("{base}/api/v1/incidents")).bearer_auth(API_TOKEN).send().await.expect("list incidents");
    assert_eq!(incidents.status(), 200);
    let body: serde_json::Value = incidents.json().await.expect("JSON");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "{body}");
    let login = world
        .http
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={API_TOKEN}"))
        .send()
        .await
        .expect("log in");
    assert_eq!(login.status(), 303, "the dashboard accepts the token");
    let refused = world.http.get(format!("{base}/api/v1/incidents")).bearer_auth("wrong").send().await.expect("send");
    assert_eq!(refused.status(), 401);

    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("send SIGTERM");
    assert!(term.success());
    let stopped = wait_until(Duration::from_secs(30), || {
        let exited = child.try_wait().expect("wait for tocsin").is_some();
        async move { exited }
    })
    .await;
    if stopped.is_err() {
        let _ = child.kill();
    }
    let status = child.wait().expect("tocsin exit status");
    let printed = Printed {
        stdout: std::fs::read_to_string(&stdout_path).expect("read stdout"),
        stderr: std::fs::read_to_string(&stderr_path).expect("read stderr"),
    };
    assert_eq!(status.code(), Some(0), "SIGTERM drains and exits 0:\n{}", printed.stderr);
    if let Some(scratch) = scratch {
        scratch.drop_schema().await;
    }
    printed
}

/// The webhook's `v1,` signature is the HMAC of `id.timestamp.body` under the secret given
/// in the environment.
fn assert_signed_with_the_secret(hook: &common::Received) {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(WEBHOOK_SECRET.as_bytes()).expect("HMAC key");
    mac.update(format!("{}.{}.", hook.header("webhook-id"), hook.header("webhook-timestamp")).as_bytes());
    mac.update(&hook.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(hook.header("webhook-signature"), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_logs_json_or_text_as_asked_and_never_a_secret_even_at_trace_level() {
    tocsin::ingest::fetch::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let world = World {
        feeds: FeedServer::start().await,
        hooks: WebhookReceiver::start().await,
        smtp: AuthSmtp::start(dir.path()).await,
        http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
    };
    world.feeds.set(
        "news",
        Format::Rss,
        vec![Item::new("n1", "Sick after Acme yogurt", "My kid got food poisoning after eating Acme yogurt")],
    );
    let secrets = [SMTP_PASSWORD, WEBHOOK_SECRET, API_TOKEN, DB_PASSWORD, ROBOT_TOKEN];

    for filter in [None, Some("trace")] {
        let run = format!("--log-format json, TOCSIN_LOG={filter:?}");
        let printed = run_daemon(&world, &["--log-format", "json"], filter).await;
        printed.assert_no_secret(&secrets, &run);
        let mut ours = 0;
        for line in printed.stderr.lines() {
            let event: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{run}: not a JSON line ({e}): {line}"));
            assert!(event["level"].is_string(), "{run}: no level: {line}");
            assert!(event["fields"].is_object(), "{run}: no fields: {line}");
            // Library events at trace level may carry only fields; ours always say something.
            if event["target"].as_str().is_some_and(|t| t.starts_with("tocsin")) {
                assert!(event["fields"]["message"].is_string(), "{run}: no message: {line}");
                ours += 1;
            }
        }
        let starts = printed
            .stderr
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|event| event["fields"]["message"] == "tocsin is running")
            .count();
        assert_eq!(starts, 1, "{run}: the start line is there once");
        assert!(ours >= 3, "{run}: start, delivery and stop are logged ({ours} lines)");
    }
    let hooks = world.hooks.received();
    assert_eq!(hooks.len(), 2, "one signed webhook per run");
    hooks.iter().for_each(assert_signed_with_the_secret);

    let printed = run_daemon(&world, &[], Some("debug")).await;
    printed.assert_no_secret(&secrets, "default format, TOCSIN_LOG=debug");
    let first = printed.stderr.lines().next().expect("a log line");
    assert!(serde_json::from_str::<serde_json::Value>(first).is_err(), "text for people, not JSON: {first}");
    assert!(!printed.stderr.contains('\u{1b}'), "no colour codes when stderr is not a terminal: {first:?}");
    assert!(printed.stderr.contains("tocsin is running"), "{}", printed.stderr);
    assert!(printed.stderr.contains("delivered"), "{}", printed.stderr);
    assert_eq!(world.smtp.delivered(), 3, "each run logged in and delivered its email");
}
