//! Real parts for the story tests: a loopback feed server whose items change during a test,
//! a real SMTP server (aiosmtpd) and a webhook receiver.

#![allow(dead_code)] // each test binary uses its own subset of these parts

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

/// One item a test feed serves.
#[derive(Debug, Clone)]
pub struct Item {
    pub guid: String,
    pub title: String,
    pub body: String,
}

impl Item {
    pub fn new(guid: &str, title: &str, body: &str) -> Item {
        Item { guid: guid.into(), title: title.into(), body: body.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rss,
    Atom,
}

/// A feed the test controls: its items, and how the server answers for it.
#[derive(Debug, Clone)]
pub struct Feed {
    pub format: Format,
    pub items: Vec<Item>,
    /// Bumped on every change, served as the ETag.
    pub version: u64,
}

#[derive(Default)]
pub struct FeedServerState {
    pub feeds: Mutex<std::collections::HashMap<String, Feed>>,
    /// Requests answered 304 Not Modified, per feed.
    pub not_modified: Mutex<std::collections::HashMap<String, u64>>,
    /// Requests answered in full, per feed.
    pub full: Mutex<std::collections::HashMap<String, u64>>,
}

pub struct FeedServer {
    pub addr: SocketAddr,
    pub state: Arc<FeedServerState>,
}

impl FeedServer {
    pub async fn start() -> FeedServer {
        let state = Arc::new(FeedServerState::default());
        let app = Router::new()
            .route("/feeds/{name}", get(serve_feed))
            .route("/broken/500", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }))
            .route(
                "/broken/html",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html")],
                        "<!DOCTYPE html><html><head><title>Login</title></head><body>Please log in</body></html>",
                    )
                }),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind feed server");
        let addr = listener.local_addr().expect("feed server address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("feed server") });
        FeedServer { addr, state }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://{}/feeds/{name}", self.addr)
    }

    pub fn set(&self, name: &str, format: Format, items: Vec<Item>) {
        let mut feeds = self.state.feeds.lock().expect("lock");
        let version = feeds.get(name).map_or(1, |f| f.version + 1);
        feeds.insert(name.to_owned(), Feed { format, items, version });
    }

    pub fn push(&self, name: &str, item: Item) {
        let mut feeds = self.state.feeds.lock().expect("lock");
        let feed = feeds.get_mut(name).expect("feed exists");
        feed.items.insert(0, item);
        feed.version += 1;
    }

    pub fn not_modified(&self, name: &str) -> u64 {
        self.state.not_modified.lock().expect("lock").get(name).copied().unwrap_or(0)
    }

    pub fn full(&self, name: &str) -> u64 {
        self.state.full.lock().expect("lock").get(name).copied().unwrap_or(0)
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn render(feed: &Feed) -> (String, &'static str) {
    match feed.format {
        Format::Rss => {
            let items: Vec<rss::Item> = feed
                .items
                .iter()
                .map(|item| {
                    rss::ItemBuilder::default()
                        .title(Some(item.title.clone()))
                        .description(Some(item.body.clone()))
                        .link(Some(format!("https://news.example/{}", item.guid)))
                        .guid(Some(rss::GuidBuilder::default().value(item.guid.clone()).permalink(false).build()))
                        .pub_date(Some(chrono::Utc::now().to_rfc2822()))
                        .build()
                })
                .collect();
            let channel = rss::ChannelBuilder::default()
                .title("test news")
                .link("https://news.example/")
                .description("a test feed")
                .items(items)
                .build();
            (channel.to_string(), "application/rss+xml; charset=utf-8")
        }
        Format::Atom => {
            let now = chrono::Utc::now().to_rfc3339();
            let entries: String = feed
                .items
                .iter()
                .map(|item| {
                    format!(
                        "<entry><id>urn:test:{}</id><title>{}</title><updated>{now}</updated>\
                         <link href=\"https://forum.example/{}\"/><summary>{}</summary></entry>",
                        escape(&item.guid),
                        escape(&item.title),
                        escape(&item.guid),
                        escape(&item.body)
                    )
                })
                .collect();
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">\
                 <title>test forum</title><id>urn:test:forum</id><updated>{now}</updated>{entries}</feed>"
            );
            (xml, "application/atom+xml; charset=utf-8")
        }
    }
}

async fn serve_feed(
    State(state): State<Arc<FeedServerState>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some(feed) = state.feeds.lock().expect("lock").get(&name).cloned() else {
        return (StatusCode::NOT_FOUND, "no such feed").into_response();
    };
    let etag = format!("\"v{}\"", feed.version);
    let presented = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    if presented == Some(etag.as_str()) {
        *state.not_modified.lock().expect("lock").entry(name).or_default() += 1;
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    *state.full.lock().expect("lock").entry(name).or_default() += 1;
    let (body, content_type) = render(&feed);
    ([(header::CONTENT_TYPE, content_type.to_owned()), (header::ETAG, etag)], body).into_response()
}

/// One request a webhook receiver saw.
#[derive(Debug, Clone)]
pub struct Received {
    /// Path and query, as requested.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
}

#[derive(Default)]
pub struct ReceiverState {
    pub received: Mutex<Vec<Received>>,
    /// Every request, accepted or not, in order.
    pub attempts: Mutex<Vec<Received>>,
    /// While set, the receiver answers this status instead of accepting.
    pub failing_with: Mutex<Option<StatusCode>>,
    /// Answers to give first, one per request: a status, an optional Retry-After and body.
    pub script: Mutex<std::collections::VecDeque<(StatusCode, Option<String>, String)>>,
    /// The body of an accepting answer (chat services answer 200 with a JSON result).
    pub accept_body: Mutex<String>,
}

pub struct WebhookReceiver {
    pub addr: SocketAddr,
    pub state: Arc<ReceiverState>,
}

impl WebhookReceiver {
    pub async fn start() -> WebhookReceiver {
        let state = Arc::new(ReceiverState::default());
        // Any path: services put more than a fixed hook path in their URLs (Telegram's
        // `/bot<token>/sendMessage`, ntfy's server root).
        let app = Router::new().fallback(post(receive)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let addr = listener.local_addr().expect("receiver address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver") });
        WebhookReceiver { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("lock").clone()
    }

    pub fn fail_with(&self, status: Option<StatusCode>) {
        *self.state.failing_with.lock().expect("lock") = status;
    }

    /// Answers the next requests with these replies (status, Retry-After), then as before.
    pub fn script(&self, replies: &[(u16, Option<&str>)]) {
        let mut script = self.state.script.lock().expect("lock");
        for (status, retry_after) in replies {
            let status = StatusCode::from_u16(*status).expect("status");
            script.push_back((status, retry_after.map(str::to_owned), String::new()));
        }
    }

    /// Answers the next request with this status and body, then as before.
    pub fn script_body(&self, status: u16, body: &str) {
        let status = StatusCode::from_u16(status).expect("status");
        self.state.script.lock().expect("lock").push_back((status, None, body.to_owned()));
    }

    /// The body of accepting answers from now on.
    pub fn accept_with(&self, body: &str) {
        *self.state.accept_body.lock().expect("lock") = body.to_owned();
    }

    pub fn attempts(&self) -> Vec<Received> {
        self.state.attempts.lock().expect("lock").clone()
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let uri = uri.to_string();
    state.attempts.lock().expect("lock").push(Received {
        uri: uri.clone(),
        headers: headers.clone(),
        body: body.clone(),
    });
    if let Some((status, retry_after, body)) = state.script.lock().expect("lock").pop_front() {
        return match retry_after {
            Some(after) => (status, [("retry-after", after)], body).into_response(),
            None => (status, body).into_response(),
        };
    }
    if let Some(status) = *state.failing_with.lock().expect("lock") {
        return status.into_response();
    }
    state.received.lock().expect("lock").push(Received { uri, headers, body });
    let accepted = state.accept_body.lock().expect("lock").clone();
    (StatusCode::OK, accepted).into_response()
}

/// A real SMTP server: aiosmtpd writing every message it accepts into a maildir.
pub struct SmtpServer {
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
}

impl SmtpServer {
    pub async fn start(dir: &Path) -> SmtpServer {
        SmtpServer::start_on(dir, free_port()).await
    }

    /// On a given port: a server that comes up where tocsin has been failing to connect.
    pub async fn start_on(dir: &Path, port: u16) -> SmtpServer {
        let maildir = dir.join("maildir");
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start aiosmtpd (python3 -m pip install aiosmtpd)");
        wait_until(Duration::from_secs(20), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        })
        .await
        .expect("aiosmtpd listens");
        SmtpServer { port, dir: maildir, child }
    }

    /// Every message received so far, as raw RFC 5322 text.
    pub fn messages(&self) -> Vec<String> {
        let mut messages = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.dir.join(sub)) {
                for entry in entries.flatten() {
                    if let Ok(text) = std::fs::read_to_string(entry.path()) {
                        messages.push(text);
                    }
                }
            }
        }
        messages
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("address").port()
}

/// Polls `condition` until it holds or `limit` passes. Returns whether it held.
pub async fn wait_until<F, Fut>(limit: Duration, mut condition: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if condition().await {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("condition not met within {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Decodes a quoted-printable or plain text body enough to find links and phrases in it.
pub fn decoded_email(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}

/// A PostgreSQL schema of its own for one story, in the database `TOCSIN_TEST_DATABASE_URL`
/// names; dropped when the story ends.
pub struct Scratch {
    admin: sqlx::PgPool,
    schema: String,
    /// The test database's URL with the schema as the search path.
    pub url: String,
}

impl Scratch {
    /// `None`, with a note, when `TOCSIN_TEST_DATABASE_URL` is unset; a database that
    /// cannot be reached fails the story.
    pub async fn new() -> Option<Scratch> {
        let Ok(base) = std::env::var("TOCSIN_TEST_DATABASE_URL") else {
            eprintln!("TOCSIN_TEST_DATABASE_URL is not set: skipping this story on PostgreSQL");
            return None;
        };
        let admin = sqlx::PgPool::connect(&base).await.expect("the test database is reachable");
        let schema = format!("t_{:016x}", rand::random::<u64>());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await.expect("schema");
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        Some(Scratch { admin, schema, url })
    }

    pub async fn drop_schema(self) {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {} CASCADE", self.schema)))
            .execute(&self.admin)
            .await
            .expect("drop schema");
    }
}

/// The store, pipeline and outbox worker of a daemon, without its timers: a delivery story
/// drives them at the times it chooses. The store is the one `config` names, migrated;
/// alert links point at `public_url`.
pub async fn post_office(
    config: tocsin::config::Config,
    public_url: &str,
) -> (
    Arc<tocsin::store::SqliteStore>,
    tocsin::pipeline::Pipeline<tocsin::store::SqliteStore>,
    tocsin::notify::outbox::Deliverer<tocsin::store::SqliteStore>,
) {
    use tocsin::store::Store;
    let store = Arc::new(tocsin::store::SqliteStore::connect(config.store.url.get_ref()).await.expect("open"));
    store.migrate().await.expect("migrate");
    tocsin::ingest::fetch::install_crypto_provider();
    let channels = tocsin::notify::outbox::Channels::from_config(&config, reqwest::Client::new()).expect("channels");
    let deliverer = tocsin::notify::outbox::Deliverer::new(
        store.clone(),
        channels,
        tocsin::incident::ack_link::AckLinks::new(b"key".to_vec()),
        public_url.to_owned(),
        config.delivery.clone(),
    );
    let pipeline = tocsin::pipeline::Pipeline::new(
        store.clone(),
        Arc::new(tocsin::analyze::RuleSet::bundled()),
        Arc::new(config),
        tocsin::clock::Clock::default(),
        Arc::new(tokio::sync::Notify::new()),
    )
    .expect("the rules compile");
    (store, pipeline, deliverer)
}
