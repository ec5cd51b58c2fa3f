//! `tocsin demo`: the whole product offline in one command. A loopback server publishes a
//! scripted crisis as RSS feeds, the real daemon monitors them with the bundled rules, email
//! lands in a local mailbox folder and the on-call webhook in a receiver inside the demo.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};

use crate::analyze::RuleSet;
use crate::api::Tokens;
use crate::clock::Clock;
use crate::config::Config;
use crate::daemon;
use crate::notify::webhook;
use crate::store::{IncidentFilter, Store};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo folder {dir}: {source}")]
    Folder { dir: String, source: std::io::Error },
    #[error("cannot start the demo feed server: {0}")]
    Serve(std::io::Error),
    #[error("the generated demo config is invalid: {0}")]
    Config(String),
    #[error(transparent)]
    Daemon(#[from] daemon::DaemonError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot wait for Ctrl-C: {0}")]
    Signal(std::io::Error),
}

/// The environment variable the demo's webhook channel reads its secret from, as a
/// production config would.
pub const WEBHOOK_SECRET_ENV: &str = "TOCSIN_DEMO_WEBHOOK_SECRET";

/// Puts a fresh webhook secret into the environment unless one is set. The environment may
/// only be written while the process is single-threaded, so `main` calls this before it
/// starts the async runtime.
pub fn prepare_environment() {
    if std::env::var_os(WEBHOOK_SECRET_ENV).is_none() {
        use base64::Engine;
        let secret = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 24]>()));
        // SAFETY: called from `main` before any other thread exists.
        unsafe { std::env::set_var(WEBHOOK_SECRET_ENV, secret) };
    }
}

pub struct DemoOptions {
    pub speed: f64,
    pub once: bool,
    pub dir: PathBuf,
}

/// One scripted item: when it appears (scenario seconds), on which feed, and what it says.
struct ScriptItem {
    at_secs: u64,
    feed: &'static str,
    title: &'static str,
    body: &'static str,
}

const SCRIPT: &[ScriptItem] = &[
    ScriptItem {
        at_secs: 0,
        feed: "news",
        title: "Acme opens a new distribution centre in Ohio",
        body: "The centre will employ 300 people and serve the Midwest.",
    },
    ScriptItem {
        at_secs: 5,
        feed: "weibo",
        title: "艾克米新品发布会在上海举行",
        body: "艾克米今天发布了新口味酸奶，现场气氛热烈。",
    },
    ScriptItem {
        at_secs: 12,
        feed: "news",
        title: "Acme yogurt overnight oats recipe",
        body: "A quick breakfast recipe with Acme yogurt, oats and berries.",
    },
    ScriptItem {
        at_secs: 30,
        feed: "news",
        title: "Parents say kids got food poisoning after eating Acme yogurt",
        body: "Several parents report vomiting and fever after their children ate Acme yogurt bought last week.",
    },
    ScriptItem {
        at_secs: 45,
        feed: "weibo",
        title: "网友称喝了艾克米酸奶后食物中毒",
        body: "多名网友反映，饮用艾克米酸奶后出现呕吐腹泻，疑似食物中毒，已就医。",
    },
    ScriptItem {
        at_secs: 60,
        feed: "news",
        title: "Health officials look into Acme yogurt food poisoning reports",
        body: "The county health department said it is collecting samples after food poisoning reports.",
    },
    ScriptItem {
        at_secs: 80,
        feed: "weibo",
        title: "艾克米酸奶食物中毒事件持续发酵",
        body: "更多消费者表示喝了艾克米酸奶后身体不适，要求公司尽快回应。",
    },
];

/// Scenario seconds by which the demo should have shown everything: the last item, then
/// the 2-minute escalation of the incident opened at about 30 s. The demo waits up to twice
/// this for the escalation, in case a slow machine detects late.
const SCENARIO_END_SECS: u64 = 170;

#[derive(Clone)]
struct FeedServer {
    started: Instant,
    speed: f64,
    base: DateTime<Utc>,
    webhook_key: Vec<u8>,
    received: Arc<Mutex<Vec<String>>>,
}

impl FeedServer {
    fn scenario_secs(&self) -> u64 {
        self.started.elapsed().mul_f64(self.speed).as_secs()
    }
}

fn rss_for(server: &FeedServer, feed: &str) -> String {
    let now = server.scenario_secs();
    let items: Vec<rss::Item> = SCRIPT
        .iter()
        .enumerate()
        .filter(|(_, item)| item.feed == feed && item.at_secs <= now)
        .map(|(index, item)| {
            let published = server.base + chrono::Duration::seconds(i64::try_from(item.at_secs).unwrap_or(0));
            rss::ItemBuilder::default()
                .title(Some(item.title.to_owned()))
                .description(Some(item.body.to_owned()))
                .link(Some(format!("https://example.com/{feed}/{index}")))
                .guid(Some(rss::GuidBuilder::default().value(format!("demo-{feed}-{index}")).permalink(false).build()))
                .pub_date(Some(published.to_rfc2822()))
                .build()
        })
        .collect();
    let (title, language) =
        if feed == "weibo" { ("微博搜索：艾克米", "zh-cn") } else { ("Acme in the news", "en") };
    rss::ChannelBuilder::default()
        .title(title)
        .link("https://example.com/")
        .description("tocsin demo feed")
        .language(Some(language.to_owned()))
        .items(items)
        .build()
        .to_string()
}

async fn serve_feed(State(server): State<FeedServer>, Path(feed): Path<String>) -> impl IntoResponse {
    let Some(name) = feed.strip_suffix(".xml") else {
        return (StatusCode::NOT_FOUND, "no such feed").into_response();
    };
    ([(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")], rss_for(&server, name)).into_response()
}

/// The on-call webhook receiver: checks the Standard Webhooks signature and prints the event.
async fn receive_webhook(State(server): State<FeedServer>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let id = header_text("webhook-id");
    let timestamp: i64 = header_text("webhook-timestamp").parse().unwrap_or_default();
    let signature = header_text("webhook-signature");
    let valid = webhook::verify(std::slice::from_ref(&server.webhook_key), &id, timestamp, &body, &signature);
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let line = format!(
        "webhook {} for incident #{} ({}), signature {}",
        parsed["type"].as_str().unwrap_or("?"),
        parsed["incident"]["id"],
        parsed["incident"]["title"].as_str().unwrap_or("?"),
        if valid { "valid" } else { "INVALID" }
    );
    println!("  → {line}");
    if let Ok(mut received) = server.received.lock() {
        received.push(line);
    }
    if valid { StatusCode::NO_CONTENT } else { StatusCode::UNAUTHORIZED }
}

fn free_port() -> Result<u16, DemoError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(DemoError::Serve)?;
    Ok(listener.local_addr().map_err(DemoError::Serve)?.port())
}

fn demo_config(dir: &std::path::Path, feeds: SocketAddr, port: u16, speed: f64) -> String {
    // Poll about every 10 scenario seconds, so detection keeps pace with the speed-up.
    let poll_ms = (10_000.0 / speed).clamp(250.0, 2000.0) as u64;
    format!(
        r#"# Written by `tocsin demo`; inspect it with `tocsin -c {dir}/tocsin.toml incident list`.
[store]
url = "sqlite://tocsin.db"

[http]
listen = "127.0.0.1:{port}"

[poll]
default_interval = "{poll_ms}ms"

[[feed]]
name = "news"
url = "http://{feeds}/feeds/news.xml"
lang = "en"
tags = ["news"]

[[feed]]
name = "weibo"
url = "http://{feeds}/feeds/weibo.xml"
lang = "zh"
tags = ["social"]

[mailbox]
dir = "mailbox"

[[channel]]
name = "pr-team"
kind = "email"
to = ["pr-team@acme.example"]

[[channel]]
name = "oncall"
kind = "webhook"
url = "http://{feeds}/hooks/oncall"
secret_env = "{secret_env}"

[[escalation]]
name = "default"
levels = [
  {{ after = "0m", notify = ["pr-team"] }},
  {{ after = "2m", notify = ["oncall"] }},
]
"#,
        dir = dir.display(),
        secret_env = WEBHOOK_SECRET_ENV,
    )
}

pub async fn run(options: DemoOptions) -> Result<(), DemoError> {
    let folder_error = |source| DemoError::Folder { dir: options.dir.display().to_string(), source };
    std::fs::create_dir_all(&options.dir).map_err(folder_error)?;
    // Each run starts from a clean slate: a stale database would hide the scenario.
    for stale in ["tocsin.db", "tocsin.db-wal", "tocsin.db-shm"] {
        let path = options.dir.join(stale);
        if path.exists() {
            std::fs::remove_file(&path).map_err(folder_error)?;
        }
    }
    let mailbox = options.dir.join("mailbox");
    if mailbox.exists() {
        std::fs::remove_dir_all(&mailbox).map_err(folder_error)?;
    }

    let secret =
        std::env::var(WEBHOOK_SECRET_ENV).map_err(|_| DemoError::Config(format!("{WEBHOOK_SECRET_ENV} is not set")))?;
    let webhook_key = webhook::standard_webhooks_key(&secret).map_err(|e| DemoError::Config(e.to_string()))?;

    let server = FeedServer {
        started: Instant::now(),
        speed: options.speed,
        base: Utc::now(),
        webhook_key,
        received: Arc::new(Mutex::new(Vec::new())),
    };
    let app = Router::new()
        .route("/feeds/{feed}", get(serve_feed))
        .route("/hooks/oncall", post(receive_webhook))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(DemoError::Serve)?;
    let feeds_addr = listener.local_addr().map_err(DemoError::Serve)?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "demo feed server stopped");
        }
    });

    let port = free_port()?;
    let config_path = options.dir.join("tocsin.toml");
    std::fs::write(&config_path, demo_config(&options.dir, feeds_addr, port, options.speed)).map_err(folder_error)?;
    let config = Config::load(&config_path)
        .map_err(|errors| DemoError::Config(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?;
    let token = format!("{:032x}", rand::random::<u128>());
    let tokens = Tokens::parse(&format!("demo:{token}")).map_err(|e| DemoError::Config(e.to_string()))?;

    // The daemon's clock runs `speed` times faster, so the 2-minute escalation is compressed too.
    let clock = Clock::default();
    let running = daemon::start(config, RuleSet::bundled(), clock.clone(), tokens).await?;
    let speed = options.speed;
    tokio::spawn(async move {
        let mut last = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let real = last.elapsed();
            last = Instant::now();
            let extra = real.mul_f64(speed - 1.0);
            clock.advance(chrono::Duration::from_std(extra).unwrap_or_default());
        }
    });

    println!("tocsin demo: a food-safety rumour about the brand Acme / 艾克米, in English and Chinese");
    println!("  feeds:      http://{feeds_addr}/feeds/news.xml and /feeds/weibo.xml (scenario at {speed}x speed)");
    println!("  dashboard:  http://{}/login  (token: {token})", running.addr);
    println!("  mailbox:    {}", mailbox.display());
    println!("  config:     {}", config_path.display());

    let end = Duration::from_secs(SCENARIO_END_SECS).div_f64(speed);
    let started = Instant::now();
    let mut reported = std::collections::HashSet::new();
    let escalated = || server.received.lock().map(|r| !r.is_empty()).unwrap_or(false);
    while started.elapsed() < end || (!escalated() && started.elapsed() < end * 2) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let incidents = running.store.incidents(&IncidentFilter { limit: 50, ..IncidentFilter::default() }).await?;
        for incident in incidents {
            if reported.insert(incident.id) {
                println!(
                    "  ! incident #{} opened [{}] {} — http://{}/incidents/{}",
                    incident.id,
                    incident.level.as_str(),
                    incident.title,
                    running.addr,
                    incident.id
                );
            }
        }
    }

    println!("\nScenario over. What happened:");
    let incidents = running.store.incidents(&IncidentFilter { limit: 50, ..IncidentFilter::default() }).await?;
    for incident in &incidents {
        println!(
            "  #{} {} [{}] score {} — {} mention(s): {}",
            incident.id,
            incident.status.as_str(),
            incident.level.as_str(),
            incident.score,
            incident.mentions,
            incident.title
        );
    }
    let emails = std::fs::read_dir(&mailbox).map(|entries| entries.count()).unwrap_or(0);
    println!("  {emails} email(s) in {}", mailbox.display());
    let webhooks = server.received.lock().map(|r| r.len()).unwrap_or(0);
    println!("  {webhooks} on-call webhook(s) received");
    println!("  mentions stored: {}", running.store.mention_count().await?);

    if !options.once {
        println!("\nThe dashboard stays up at http://{}/ (token: {token}). Ctrl-C to stop.", running.addr);
        tokio::signal::ctrl_c().await.map_err(DemoError::Signal)?;
    }
    running.shutdown().await;
    Ok(())
}
