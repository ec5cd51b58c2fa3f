//! The daemon: wires the stages together, runs their workers and owns shutdown.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use crate::analyze::RuleSet;
use crate::analyze::matcher::BuildError;
use crate::api::{self, ApiState, Csrf, Tokens};
use crate::clock::Clock;
use crate::config::{Config, LangSetting};
use crate::incident::ack_link::AckLinks;
use crate::ingest::fetch::{self, FetchLimits};
use crate::ingest::poller::{FeedTask, Poller};
use crate::notify::outbox::{ChannelError, Channels, Deliverer};
use crate::store::{self, AnyStore, Pruned, Store, StoreError};

use crate::pipeline::{Pipeline, retention_cutoff};

/// How often the escalation and delivery workers look for due work.
const TICK: Duration = Duration::from_millis(500);
/// Most mentions (and stories) one prune transaction removes: a prune of months of
/// mentions is many short transactions, none holding SQLite's write lock long enough to
/// delay the pipeline.
pub const PRUNE_BATCH: i64 = 1_000;
/// The pause between prune batches, several times what a SQLite batch takes: a pipeline
/// writer waiting for SQLite's write lock (retrying on its busy timeout) gets it in between.
const PRUNE_PAUSE: Duration = Duration::from_millis(50);
/// How soon after start the retention worker first prunes, and how often after that, by
/// the daemon's clock.
const PRUNE_FIRST_AFTER: chrono::Duration = chrono::Duration::minutes(1);
const PRUNE_EVERY: chrono::Duration = chrono::Duration::hours(1);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] fetch::FetchError),
    #[error("the rules do not compile with the brands' names: {0}")]
    Rules(BuildError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// This daemon's name in feed leases: the host, the process and a random part, so two
/// daemons never share one, even in one process (as tests run them).
fn holder_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    format!("{host}:{}:{:08x}", std::process::id(), rand::random::<u32>())
}

/// The user agent tocsin fetches with, so feed operators can see who polls them.
pub fn user_agent() -> String {
    format!("tocsin/{} (+https://github.com/tocsin-monitor/tocsin)", env!("CARGO_PKG_VERSION"))
}

/// The process-wide Prometheus recorder; installed once, shared by every daemon in the process.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Every gauge is set from the store at each scrape, just before rendering: one
            // not set for a second is of a feed or channel no longer configured (a reload
            // removed it), and leaves the output instead of repeating its last value.
            let recorder = PrometheusBuilder::new()
                .idle_timeout(MetricKindMask::GAUGE, Some(std::time::Duration::from_secs(1)))
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed; ours then just stays empty.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Fires every escalation step, acknowledgement timeout and overdue-step reminder due at
/// `now`, each in its own transaction; returns how many notified someone. The daemon calls
/// it every tick; tests call it at the simulated times they choose.
pub async fn run_due_steps<S: Store>(store: &S, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let mut fired = 0;
    for id in store.due_escalations(now).await? {
        match store.escalate(id, |policy, opened, state| policy.fire(opened, state, now), now).await {
            Ok(true) => fired += 1,
            Ok(false) => {}
            // One broken incident must not stop the others' escalation.
            Err(e) => tracing::error!(incident = id, error = %e, "escalation failed"),
        }
    }
    for id in store.due_reminders(now).await? {
        match store.remind(id, now).await {
            Ok(true) => fired += 1,
            Ok(false) => {}
            Err(e) => tracing::error!(incident = id, error = %e, "reminder failed"),
        }
    }
    Ok(fired)
}

/// Prunes every mention fetched before `before` that no incident holds, and the stories
/// last seen before it, in batches of [`PRUNE_BATCH`] with a pause between them; stops
/// early, between batches, when `stop` turns true. Returns what it removed.
pub async fn prune_expired<S: Store>(
    store: &S,
    before: DateTime<Utc>,
    stop: &watch::Receiver<bool>,
) -> Result<Pruned, StoreError> {
    let mut total = Pruned::default();
    loop {
        let batch = store.prune(before, total.resume_at, PRUNE_BATCH).await?;
        metrics::counter!("tocsin_mentions_pruned_total").increment(batch.mentions);
        metrics::counter!("tocsin_stories_pruned_total").increment(batch.stories);
        total.mentions += batch.mentions;
        total.stories += batch.stories;
        total.resume_at = batch.resume_at.or(total.resume_at);
        let full = batch.mentions >= PRUNE_BATCH.unsigned_abs() || batch.stories >= PRUNE_BATCH.unsigned_abs();
        if !full || *stop.borrow() {
            return Ok(total);
        }
        tokio::time::sleep(PRUNE_PAUSE).await;
    }
}

/// The retention worker: prunes shortly after start and then every [`PRUNE_EVERY`] of the
/// daemon's clock, until `stop` turns true.
async fn run_retention(store: Arc<AnyStore>, config: Arc<Config>, clock: Clock, mut stop: watch::Receiver<bool>) {
    let mut due = clock.now() + PRUNE_FIRST_AFTER;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let now = clock.now();
        if now < due {
            continue;
        }
        due = now + PRUNE_EVERY;
        let Some(before) = retention_cutoff(&config, now) else { continue };
        match prune_expired(store.as_ref(), before, &stop).await {
            Ok(pruned) if pruned.is_empty() => tracing::debug!(before = %before, "nothing past retention"),
            Ok(pruned) => tracing::info!(
                mentions = pruned.mentions,
                stories = pruned.stories,
                before = %before,
                "pruned mentions past retention"
            ),
            Err(e) => tracing::error!(error = %e, "retention prune failed"),
        }
    }
}

/// A daemon running in this process.
pub struct RunningDaemon {
    /// Where the HTTP server listens (useful when configured with port 0).
    pub addr: SocketAddr,
    /// Notified by the admin API's `POST /api/v1/reload`: whoever runs the daemon reloads
    /// as on SIGHUP.
    pub reload_requested: Arc<Notify>,
    pub clock: Clock,
    pub store: Arc<AnyStore>,
    pub pipeline: Arc<Pipeline<AnyStore>>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl RunningDaemon {
    /// Stops accepting new work, lets in-flight polls and deliveries finish, and returns.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

fn feed_tasks(config: &Config) -> Vec<FeedTask> {
    config
        .feeds
        .iter()
        .map(|feed| FeedTask {
            name: feed.name.get_ref().clone(),
            url: feed.url.get_ref().clone(),
            interval: feed.interval.unwrap_or(config.poll.default_interval).0,
            lang: match feed.lang {
                LangSetting::Auto => None,
                other => Some(other.to_string()),
            },
        })
        .collect()
}

/// Starts every worker of the daemon and the HTTP server.
pub async fn start(
    config: Config,
    rules: impl Into<Arc<RuleSet>>,
    clock: Clock,
    tokens: Tokens,
) -> Result<RunningDaemon, DaemonError> {
    fetch::install_crypto_provider();
    let config = Arc::new(config);
    let store = Arc::new(store::open(config.store.url.get_ref()).await?);
    store.migrate().await?;
    if let Some(brand) = config.adopting_brand()
        && store.adopt_unbranded(brand).await?
    {
        tracing::info!(brand, "what was stored before [[brand]] is now filed under the first client brand");
    }
    let tasks_of_feeds = feed_tasks(&config);
    let feed_rows: Vec<(String, String)> = tasks_of_feeds.iter().map(|f| (f.name.clone(), f.url.clone())).collect();
    store.sync_feeds(&feed_rows).await?;

    let limits = FetchLimits {
        timeout: config.poll.timeout.0,
        max_bytes: config.poll.max_bytes.0,
        max_redirects: config.poll.max_redirects,
    };
    let client = fetch::build_client(&user_agent(), &limits)?;
    let delivery_client = reqwest::Client::builder()
        .user_agent(user_agent())
        .timeout(config.delivery.timeout.0)
        // A redirected POST turns into a GET without the body: report it, don't follow it.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| fetch::FetchError::Client(e.to_string()))?;
    let channels = Channels::from_config(&config, delivery_client)?;
    let channel_names: Vec<String> = config.channels.iter().map(|c| c.name.get_ref().clone()).collect();
    let links = AckLinks::new(store.secret("ack_link_key").await?);
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(|source| DaemonError::Bind { addr: config.http.listen, source })?;
    let addr = listener.local_addr().map_err(|source| DaemonError::Bind { addr: config.http.listen, source })?;
    // Links in alerts must reach this daemon: with no public_url, the address actually bound.
    let public_url = match &config.http.public_url {
        Some(_) => config.http.public_url(),
        None => format!("http://{addr}"),
    };
    let wake_outbox = Arc::new(Notify::new());
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();

    let pipeline = Arc::new(
        Pipeline::new(store.clone(), rules.into(), config.clone(), clock.clone(), wake_outbox.clone())
            .map_err(DaemonError::Rules)?,
    );
    let poller = Arc::new(Poller {
        store: store.clone(),
        sink: pipeline.clone(),
        client,
        limits,
        concurrency: Arc::new(Semaphore::new(config.poll.max_concurrency.max(1))),
        holder: holder_name(),
    });
    for feed in tasks_of_feeds {
        let poller = poller.clone();
        let stop = shutdown_rx.clone();
        tasks.spawn(async move { poller.run_feed(feed, stop).await });
    }

    let escalator_store = store.clone();
    let escalator_clock = clock.clone();
    let escalator_wake = wake_outbox.clone();
    let mut stop = shutdown_rx.clone();
    tasks.spawn(async move {
        loop {
            match run_due_steps(escalator_store.as_ref(), escalator_clock.now()).await {
                Ok(0) => {}
                Ok(_) => escalator_wake.notify_one(),
                Err(e) => tracing::error!(error = %e, "cannot read due escalations and reminders"),
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });

    tasks.spawn(run_retention(store.clone(), config.clone(), clock.clone(), shutdown_rx.clone()));

    let deliverer = Deliverer::new(store.clone(), channels, links.clone(), public_url.clone(), config.delivery.clone());
    let deliver_clock = clock.clone();
    let deliver_wake = wake_outbox.clone();
    let mut stop = shutdown_rx.clone();
    tasks.spawn(async move {
        loop {
            if let Err(e) = deliverer.run_due(deliver_clock.now()).await {
                tracing::error!(error = %e, "delivery pass failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = deliver_wake.notified() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });

    let reload_requested = Arc::new(Notify::new());
    let state = ApiState {
        store: store.clone(),
        pipeline: pipeline.clone(),
        links,
        tokens: Arc::new(tokens),
        throttle: Arc::default(),
        clock: clock.clone(),
        metrics: metrics_handle(),
        public_url,
        wake_outbox,
        channel_names: Arc::new(channel_names),
        csrf: Csrf::new(store.secret("csrf_key").await?),
        reload_requested: reload_requested.clone(),
        stopping: shutdown_rx.clone(),
    };
    let app = api::router(state);
    let mut stop = shutdown_rx.clone();
    tasks.spawn(async move {
        // Connection info gives the API each client's address, which failed logins are
        // throttled by.
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });
    tracing::info!(%addr, feeds = feed_rows.len(), "tocsin is running");
    Ok(RunningDaemon { addr, reload_requested, clock, store, pipeline, shutdown, tasks })
}
