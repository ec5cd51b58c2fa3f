//! `tocsin demo`: the whole product offline in one command. A loopback server publishes a
//! scripted crisis as RSS feeds, the real daemon monitors them with the bundled rules, email
//! lands in a local mailbox folder, the DingTalk chat message and the on-call webhook in
//! receivers inside the demo, and the demo then plays the on-call through to the review.

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
use crate::incident::review::{Delivery, Elapsed, Review};
use crate::incident::{Action, Level};
use crate::notify::webhook;
use crate::store::{AnyStore, Entry, IncidentFilter, Store};

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

/// When a scripted item appears, in scenario seconds.
#[derive(Clone, Copy)]
enum Appears {
    /// At this second of the scenario; negative seconds are history the feed already
    /// holds when monitoring starts.
    At(i64),
    /// This many seconds after the on-call publishes the official statement.
    AfterStatement(i64),
}

/// One scripted item: when it appears, on which feed, and what it says.
struct ScriptItem {
    appears: Appears,
    feed: &'static str,
    title: &'static str,
    body: &'static str,
}

const HOUR: i64 = 3600;
/// Longest the demo waits for each feed's first poll before the scenario speeds up.
const FIRST_POLLS_WAIT: Duration = Duration::from_secs(30);

const SCRIPT: &[ScriptItem] = &[
    // Days before: now and then a forum or Weibo post asks about Acme and food safety. Each
    // weighs little (the feeds' weight is 0.5), but together they are the rule's baseline,
    // against which the crisis below is a spike. Older than a day, they are not part of it.
    ScriptItem {
        appears: Appears::At(-72 * HOUR),
        feed: "forum",
        title: "Is Acme yogurt safe?",
        body: "Our class is discussing food poisoning risks in dairy and Acme came up.",
    },
    ScriptItem {
        appears: Appears::At(-60 * HOUR),
        feed: "weibo",
        title: "艾克米酸奶会导致食物中毒吗？",
        body: "有没有人知道",
    },
    ScriptItem {
        appears: Appears::At(-48 * HOUR),
        feed: "forum",
        title: "Old thread: Acme yogurt and food poisoning",
        body: "Any truth to it?",
    },
    ScriptItem {
        appears: Appears::At(-36 * HOUR),
        feed: "weibo",
        title: "艾克米酸奶的食品安全检测怎么做的？",
        body: "会不会有李斯特菌",
    },
    ScriptItem {
        appears: Appears::At(-30 * HOUR),
        feed: "forum",
        title: "Food poisoning from Acme yogurt?",
        body: "A friend swears by it, another says it made her sick.",
    },
    ScriptItem {
        appears: Appears::At(-26 * HOUR), feed: "weibo", title: "艾克米酸奶喝完拉肚子", body: "是不是变质了"
    },
    // The day of the crisis: ordinary news first.
    ScriptItem {
        appears: Appears::At(0),
        feed: "news",
        title: "Acme opens a new distribution centre in Ohio",
        body: "The centre will employ 300 people and serve the Midwest.",
    },
    ScriptItem {
        appears: Appears::At(5),
        feed: "weibo",
        title: "艾克米新品发布会在上海举行",
        body: "艾克米今天发布了新口味酸奶，现场气氛热烈。",
    },
    ScriptItem {
        appears: Appears::At(12),
        feed: "news",
        title: "Acme yogurt overnight oats recipe",
        body: "A quick breakfast recipe with Acme yogurt, oats and berries.",
    },
    // A factual first report opens the incident at `high`; posts in both languages follow
    // within minutes, each too light to raise it, together a spike that makes it `critical`.
    ScriptItem {
        appears: Appears::At(30),
        feed: "news",
        title: "Parents link children's vomiting to Acme yogurt",
        body: "Parents at a Springfield school say several children were vomiting after a lunch that included Acme yogurt.",
    },
    ScriptItem {
        appears: Appears::At(40),
        feed: "forum",
        title: "My son threw up all night after Acme yogurt. Anyone else?",
        body: "My son ate Acme strawberry yogurt at school and threw up all night.",
    },
    ScriptItem {
        appears: Appears::At(50),
        feed: "weibo",
        title: "网友称喝了艾克米酸奶后食物中毒",
        body: "多名网友反映，饮用艾克米酸奶后出现呕吐腹泻，疑似食物中毒，已就医。",
    },
    ScriptItem {
        appears: Appears::At(60),
        feed: "forum",
        title: "Acme yogurt made me sick too",
        body: "Same batch from last week, vomiting and fever.",
    },
    ScriptItem {
        appears: Appears::At(70),
        feed: "weibo",
        title: "艾克米酸奶食物中毒事件持续发酵",
        body: "更多消费者表示喝了艾克米酸奶后身体不适，要求公司尽快回应。",
    },
    ScriptItem {
        appears: Appears::At(90),
        feed: "news",
        title: "Health officials look into Acme yogurt food poisoning reports",
        body: "The county health department said it is collecting samples after food poisoning reports.",
    },
    // The reaction to the statement, for the review's before/after comparison.
    ScriptItem {
        appears: Appears::AfterStatement(10),
        feed: "news",
        title: "Acme says food poisoning cases trace to one batch, offers refunds",
        body: "Acme said the affected batch came from one plant and has been pulled from shelves; customers get full refunds.",
    },
    ScriptItem {
        appears: Appears::AfterStatement(20),
        feed: "weibo",
        title: "艾克米食物中毒声明：一个批次受影响",
        body: "网友：退款到账了，但孩子还在拉肚子。",
    },
    ScriptItem {
        appears: Appears::AfterStatement(30),
        feed: "forum",
        title: "Acme's statement on the food poisoning reports",
        body: "Seems clear and fair, refund already received.",
    },
];

/// Scenario seconds by which the crisis has been told: the last item before the statement,
/// then the 2-minute escalation of the incident opened at about 30 s. The demo waits up to
/// twice this for the escalation, in case a slow machine detects late.
const CRISIS_END_SECS: u64 = 170;
/// Scenario seconds the on-call takes from acknowledging to publishing the statement.
const STATEMENT_AFTER_ACK_SECS: u64 = 15;
/// Scenario seconds the demo watches the reaction to the statement before resolving: the
/// last reaction, with a margin for the poll that fetches it.
const REACTION_SECS: u64 = 60;
/// Scenario seconds the demo waits at most for the outbox to deliver the resolution.
const OUTBOX_DRAIN_SECS: u64 = 30;
/// The playbook step (of the `product_quality` playbook) that is the official statement.
const STATEMENT_STEP: &str = "publish-statement";
/// Who the demo's on-call acts as, on the timeline.
const ON_CALL: &str = "demo:on-call";

#[derive(Clone)]
struct FeedServer {
    /// The daemon's clock, so the feeds, escalation delays and the on-call's actions all
    /// run on one compressed timeline.
    clock: Clock,
    base: DateTime<Utc>,
    /// The scenario second the statement was published at, once it was.
    statement_at: Arc<Mutex<Option<i64>>>,
    webhook_key: Vec<u8>,
    webhooks: Arc<Mutex<Vec<String>>>,
    chats: Arc<Mutex<Vec<String>>>,
}

impl FeedServer {
    fn scenario_secs(&self) -> i64 {
        (self.clock.now() - self.base).num_seconds()
    }

    /// When `item` appears, in scenario seconds; `None` while it waits for the statement.
    fn appears_at(&self, item: &ScriptItem) -> Option<i64> {
        match item.appears {
            Appears::At(secs) => Some(secs),
            Appears::AfterStatement(delay) => {
                self.statement_at.lock().ok().and_then(|statement| statement.map(|at| at + delay))
            }
        }
    }

    fn webhook_count(&self) -> usize {
        self.webhooks.lock().map(|w| w.len()).unwrap_or(0)
    }

    fn chat_count(&self) -> usize {
        self.chats.lock().map(|c| c.len()).unwrap_or(0)
    }
}

fn rss_for(server: &FeedServer, feed: &str) -> String {
    let now = server.scenario_secs();
    let items: Vec<rss::Item> = SCRIPT
        .iter()
        .enumerate()
        .filter(|(_, item)| item.feed == feed)
        .filter_map(|(index, item)| server.appears_at(item).filter(|at| *at <= now).map(|at| (index, item, at)))
        .map(|(index, item, at)| {
            let published = server.base + chrono::Duration::seconds(at);
            rss::ItemBuilder::default()
                .title(Some(item.title.to_owned()))
                .description(Some(item.body.to_owned()))
                .link(Some(format!("https://example.com/{feed}/{index}")))
                .guid(Some(rss::GuidBuilder::default().value(format!("demo-{feed}-{index}")).permalink(false).build()))
                .pub_date(Some(published.to_rfc2822()))
                .build()
        })
        .collect();
    let (title, language) = match feed {
        "weibo" => ("微博搜索：艾克米", "zh-cn"),
        "forum" => ("Parents' forum: Acme", "en"),
        _ => ("Acme in the news", "en"),
    };
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
    if let Ok(mut webhooks) = server.webhooks.lock() {
        webhooks.push(line);
    }
    if valid { StatusCode::NO_CONTENT } else { StatusCode::UNAUTHORIZED }
}

/// How many lines of a chat message's text the demo prints.
const CHAT_LINES_SHOWN: usize = 4;

/// The PR team's DingTalk group robot: prints the markdown message's title and first lines,
/// and answers as DingTalk does.
async fn receive_chat(State(server): State<FeedServer>, body: Bytes) -> impl IntoResponse {
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let title = parsed["markdown"]["title"].as_str().unwrap_or("?");
    let text = parsed["markdown"]["text"].as_str().unwrap_or_default();
    println!("  → DingTalk chat: {title}");
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()).take(CHAT_LINES_SHOWN) {
        println!("      {line}");
    }
    if let Ok(mut chats) = server.chats.lock() {
        chats.push(title.to_owned());
    }
    axum::Json(serde_json::json!({ "errcode": 0, "errmsg": "ok" }))
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
# The [risk] spike settings are the defaults: a 15m window against a baseline of days.
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
# A local paper: its first report of children falling ill opens at `high`, and the storm
# of posts that follows is what makes it `critical`.
weight = 0.8

[[feed]]
name = "forum"
url = "http://{feeds}/feeds/forum.xml"
lang = "en"
tags = ["social"]
weight = 0.5

[[feed]]
name = "weibo"
url = "http://{feeds}/feeds/weibo.xml"
lang = "zh"
tags = ["social"]
weight = 0.5

[mailbox]
dir = "mailbox"

[[channel]]
name = "pr-team"
kind = "email"
to = ["pr-team@acme.example"]

[[channel]]
name = "pr-dingtalk"
kind = "dingtalk"
url = "http://{feeds}/hooks/dingtalk"
lang = "zh"

[[channel]]
name = "oncall"
kind = "webhook"
url = "http://{feeds}/hooks/oncall"
secret_env = "{secret_env}"

[[escalation]]
name = "default"
levels = [
  {{ after = "0m", notify = ["pr-team", "pr-dingtalk"] }},
  {{ after = "2m", notify = ["oncall"] }},
]
"#,
        dir = dir.display(),
        secret_env = WEBHOOK_SECRET_ENV,
    )
}

/// Sleeps for `secs` scenario seconds.
async fn pause(secs: u64, speed: f64) {
    tokio::time::sleep(Duration::from_secs(secs).div_f64(speed)).await;
}

/// Prints incidents as they open and levels as they rise, with the spike that raised one.
#[derive(Default)]
struct IncidentWatch {
    levels: std::collections::HashMap<i64, Level>,
}

impl IncidentWatch {
    async fn report(&mut self, store: &AnyStore, dashboard: SocketAddr) -> Result<(), DemoError> {
        let incidents = store.incidents(&IncidentFilter { limit: 50, ..IncidentFilter::default() }).await?;
        for incident in incidents {
            match self.levels.insert(incident.id, incident.level) {
                None => println!(
                    "  ! incident #{} opened [{}] {} — http://{dashboard}/incidents/{}",
                    incident.id,
                    incident.level.as_str(),
                    incident.title,
                    incident.id
                ),
                Some(before) if before != incident.level => {
                    let spike = &incident.why["spike"];
                    let reason = if spike.is_object() {
                        format!(
                            "volume spike: {} mentions in the window, {} expected (p = {:.1e})",
                            spike["in_window"],
                            spike["expected_per_window"],
                            spike["p"].as_f64().unwrap_or(f64::NAN)
                        )
                    } else {
                        format!("a mention scored {}", incident.score)
                    };
                    println!(
                        "  ↑ incident #{} level {} → {} ({reason})",
                        incident.id,
                        before.as_str(),
                        incident.level.as_str()
                    );
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
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

    // The daemon's clock runs `speed` times faster, so the 2-minute escalation is compressed too.
    let clock = Clock::default();
    let server = FeedServer {
        clock: clock.clone(),
        base: clock.now(),
        statement_at: Arc::new(Mutex::new(None)),
        webhook_key,
        webhooks: Arc::new(Mutex::new(Vec::new())),
        chats: Arc::new(Mutex::new(Vec::new())),
    };
    let app = Router::new()
        .route("/feeds/{feed}", get(serve_feed))
        .route("/hooks/oncall", post(receive_webhook))
        .route("/hooks/dingtalk", post(receive_chat))
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

    let running = daemon::start(config, RuleSet::bundled(), clock.clone(), tokens).await?;
    // The scenario runs fast only once every feed was read once: on a busy machine a feed
    // first read after the crisis began would hand its days-old history to the open
    // incident, and the story would differ from run to run.
    let first_polls = Instant::now();
    while first_polls.elapsed() < FIRST_POLLS_WAIT {
        let states = running.store.feed_states().await?;
        if !states.is_empty() && states.iter().all(|feed| feed.last_success_at.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let speed = options.speed;
    let ticking = clock.clone();
    tokio::spawn(async move {
        let mut last = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let real = last.elapsed();
            last = Instant::now();
            let extra = real.mul_f64(speed - 1.0);
            ticking.advance(chrono::Duration::from_std(extra).unwrap_or_default());
        }
    });

    println!("tocsin demo: a food-safety rumour about the brand Acme / 艾克米, in English and Chinese");
    println!(
        "  feeds:      http://{feeds_addr}/feeds/news.xml, /feeds/forum.xml and /feeds/weibo.xml (scenario at {speed}x speed)"
    );
    println!("  dashboard:  http://{}/login  (token: {token})", running.addr);
    println!("  mailbox:    {}", mailbox.display());
    println!("  config:     {}", config_path.display());

    let store = running.store.as_ref();
    let mut watch = IncidentWatch::default();
    let crisis_end = Duration::from_secs(CRISIS_END_SECS).div_f64(speed);
    let started = Instant::now();
    while started.elapsed() < crisis_end || (server.webhook_count() == 0 && started.elapsed() < crisis_end * 2) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        watch.report(store, running.addr).await?;
    }

    let crisis = store
        .incidents(&IncidentFilter { limit: 50, ..IncidentFilter::default() })
        .await?
        .into_iter()
        .find(|incident| incident.rule == "food-safety");
    let review = match crisis {
        Some(incident) => {
            Some(respond(&server, store, &mut watch, running.addr, incident.id, speed, &options.dir).await?)
        }
        None => {
            println!("\nNo incident opened: nothing for the on-call to review.");
            None
        }
    };

    println!("\nScenario over. What happened:");
    let incidents = store.incidents(&IncidentFilter { limit: 50, ..IncidentFilter::default() }).await?;
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
    println!("  {} DingTalk chat message(s) received", server.chat_count());
    println!("  {} on-call webhook(s) received", server.webhook_count());
    println!("  mentions stored: {}", store.mention_count().await?);
    if let Some(paths) = review {
        println!("  review:     {} and {}", paths.markdown.display(), paths.html.display());
    }

    if !options.once {
        println!("\nThe dashboard stays up at http://{}/ (token: {token}). Ctrl-C to stop.", running.addr);
        tokio::signal::ctrl_c().await.map_err(DemoError::Signal)?;
    }
    running.shutdown().await;
    Ok(())
}

/// Where the post-incident review was written.
struct ReviewFiles {
    markdown: PathBuf,
    html: PathBuf,
}

/// The on-call's part, as the CLI would do it: acknowledge, publish the statement (its
/// playbook step done), watch the reaction arrive, resolve, and export the review.
async fn respond(
    server: &FeedServer,
    store: &AnyStore,
    watch: &mut IncidentWatch,
    dashboard: SocketAddr,
    id: i64,
    speed: f64,
    dir: &std::path::Path,
) -> Result<ReviewFiles, DemoError> {
    let clock = &server.clock;
    println!("\nThe on-call responds:");
    store.transition(id, Action::Acknowledge, ON_CALL, clock.now()).await?;
    println!("  ✓ incident #{id} acknowledged: escalation stops");
    pause(STATEMENT_AFTER_ACK_SECS, speed).await;
    let note = "Statement on acme.example and Weibo: one batch affected, refunds for all. 声明已发布。".to_owned();
    store
        .record(id, &Entry::StepDone { step: STATEMENT_STEP.to_owned(), note: Some(note) }, ON_CALL, clock.now())
        .await?;
    if let Ok(mut statement_at) = server.statement_at.lock() {
        *statement_at = Some(server.scenario_secs());
    }
    println!("  ✓ step {STATEMENT_STEP} done: the official statement is out; watching the reaction");
    let reaction_end = Instant::now() + Duration::from_secs(REACTION_SECS).div_f64(speed);
    while Instant::now() < reaction_end {
        tokio::time::sleep(Duration::from_millis(250)).await;
        watch.report(store, dashboard).await?;
    }
    store.transition(id, Action::Resolve, ON_CALL, clock.now()).await?;
    println!("  ✓ incident #{id} resolved");
    // The review lists every notification's outcome: let the resolution's go out first.
    let drain_end = Instant::now() + Duration::from_secs(OUTBOX_DRAIN_SECS).div_f64(speed);
    while store.pending_notices().await? > 0 && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let review = Review::build(store.review_input(id).await?, clock.now());
    let files =
        ReviewFiles { markdown: dir.join(format!("review-{id}.md")), html: dir.join(format!("review-{id}.html")) };
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text).map_err(|source| DemoError::Folder { dir: path.display().to_string(), source })
    };
    write(&files.markdown, review.to_markdown())?;
    write(&files.html, review.to_html())?;
    let shown = |elapsed: Option<Elapsed>| elapsed.map_or_else(|| "—".to_owned(), |e| e.to_string());
    let delivered = review.notifications.iter().filter(|n| n.result == Delivery::Delivered).count();
    println!("\nPost-incident review of #{id} ({}):", files.markdown.display());
    println!("  time to detect       {}", shown(review.times.to_detect));
    println!("  time to acknowledge  {}", shown(review.times.to_acknowledge));
    println!("  time to statement    {}", shown(review.times.to_statement));
    println!("  time to resolve      {}", shown(review.times.to_resolve));
    println!("  mentions             {}", review.incident.mentions);
    if let Some(statement) = &review.statement {
        let sentiment = |s: Option<f64>| s.map_or_else(|| "—".to_owned(), |s| format!("{s:+.2}"));
        println!(
            "  before the statement {} mention(s), sentiment {}; after {} mention(s), sentiment {}",
            statement.before.volume,
            sentiment(statement.before.mean_sentiment),
            statement.after.volume,
            sentiment(statement.after.mean_sentiment)
        );
    }
    println!("  notifications        {delivered} delivered of {}", review.notifications.len());
    Ok(files)
}
