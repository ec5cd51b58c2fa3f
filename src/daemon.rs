//! The daemon: wires the stages together, runs their workers and owns shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use crate::analyze::{self, RuleSet};
use crate::api::{self, ApiState, Tokens};
use crate::clock::Clock;
use crate::config::{Config, LangSetting};
use crate::incident::ack_link::AckLinks;
use crate::incident::escalation::Policy;
use crate::incident::grouping::{self, Candidate, GroupState};
use crate::incident::spike::{self, Volume};
use crate::ingest::Mention;
use crate::ingest::fetch::{self, FetchLimits};
use crate::ingest::poller::{FeedTask, MentionSink, Poller};
use crate::notify::outbox::{ChannelError, Channels, Deliverer};
use crate::store::{self, IngestOutcome, SqliteStore, Store, StoreError};

/// How often the escalation and delivery workers look for due work.
const TICK: Duration = Duration::from_millis(500);
/// Longest an incident title taken from a mention may be.
const TITLE_CHARS: usize = 140;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] fetch::FetchError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
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
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed; ours then just stays empty.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The analyze → incident stage: scores each mention and records what it decides.
pub struct Pipeline<S> {
    store: Arc<S>,
    /// Swapped whole on reload; a mention in flight keeps the set it started with.
    rules: RwLock<Arc<RuleSet>>,
    config: Arc<Config>,
    /// Each configured feed's `weight`, by name: looked up for every mention, and a
    /// daemon may watch ten thousand feeds.
    source_weights: HashMap<String, f64>,
    clock: Clock,
    wake_outbox: Arc<Notify>,
}

impl<S: Store> Pipeline<S> {
    pub fn new(
        store: Arc<S>,
        rules: Arc<RuleSet>,
        config: Arc<Config>,
        clock: Clock,
        wake_outbox: Arc<Notify>,
    ) -> Self {
        let source_weights = config.feeds.iter().map(|f| (f.name.get_ref().clone(), f.weight)).collect();
        Pipeline { store, rules: RwLock::new(rules), config, source_weights, clock, wake_outbox }
    }

    /// The rule set mentions are analyzed with now.
    pub fn rules(&self) -> Arc<RuleSet> {
        // A poisoned lock only means a panic elsewhere mid-swap; the Arc inside is whole.
        self.rules.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Replaces the rule set for every mention analyzed from now on.
    pub fn replace_rules(&self, rules: RuleSet) {
        *self.rules.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(rules);
    }

    /// The configured weight of a source: the feed's `weight`, else 1.
    fn source_weight(&self, feed: &str) -> f64 {
        self.source_weights.get(feed).copied().unwrap_or(1.0)
    }

    /// Analyzes one mention and stores it with every incident change it causes.
    pub async fn process(&self, mention: Mention) -> Result<IngestOutcome, StoreError> {
        let now = self.clock.now();
        let rules = self.rules();
        let weights = self.config.risk.weights.get_ref();
        let source_weight = self.source_weight(&mention.feed);
        let mut scored = analyze::analyze(&rules, mention, weights, source_weight);
        let story = self.store.story(&scored).await?;
        if story.copies > 0 {
            scored = scored.with_copies(story.copies, weights);
        }
        let candidates: Vec<Candidate> = scored
            .matches
            .iter()
            .filter_map(|found| {
                let rule = rules.rule(&found.rule)?;
                let policy =
                    self.config.escalation(rule.escalation.as_deref()).map(Policy::from).unwrap_or_else(Policy::none);
                let title: String =
                    format!("{}: {}", rule.title, scored.mention.title).chars().take(TITLE_CHARS).collect();
                let score = scored.risk_for(found.severity, weights);
                let mut why = scored.breakdown.clone();
                if let serde_json::Value::Object(why) = &mut why {
                    why.insert("rule".into(), rule.id.clone().into());
                    why.insert("severity".into(), found.severity.into());
                    why.insert("score".into(), score.into());
                    why.insert("terms".into(), serde_json::json!(found.terms));
                }
                Some(Candidate {
                    group_key: format!("rule:{}", rule.id),
                    rule: rule.id.clone(),
                    title,
                    score,
                    level: self.config.risk.level_for(score),
                    why,
                    policy,
                    mention_at: scored.mention.effective_time(),
                })
            })
            .collect();
        let open_at = self.config.risk.open_at();
        let spike = self.config.risk.spike();
        let judge = |candidate: &Candidate, live: Option<&GroupState>, volume: &Volume| {
            grouping::judge(candidate, live, &spike::judge(volume, &spike), open_at, now)
        };
        let outcome = self.store.ingest(&scored, &story, &candidates, &spike, judge, now).await?;
        if let IngestOutcome::Stored { opened, .. } = &outcome {
            metrics::counter!("tocsin_mentions_stored_total").increment(1);
            for id in opened {
                metrics::counter!("tocsin_incidents_opened_total").increment(1);
                tracing::warn!(incident = id, title = %scored.mention.title, "incident opened");
            }
            self.wake_outbox.notify_one();
        }
        Ok(outcome)
    }
}

impl<S: Store> MentionSink for Pipeline<S> {
    async fn accept(&self, mentions: Vec<Mention>) -> Result<usize, StoreError> {
        let mut new = 0;
        for mention in mentions {
            if matches!(self.process(mention).await?, IngestOutcome::Stored { .. }) {
                new += 1;
            }
        }
        Ok(new)
    }
}

/// A daemon running in this process.
pub struct RunningDaemon {
    /// Where the HTTP server listens (useful when configured with port 0).
    pub addr: SocketAddr,
    pub clock: Clock,
    pub store: Arc<SqliteStore>,
    pub pipeline: Arc<Pipeline<SqliteStore>>,
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
pub async fn start(config: Config, rules: RuleSet, clock: Clock, tokens: Tokens) -> Result<RunningDaemon, DaemonError> {
    fetch::install_crypto_provider();
    let config = Arc::new(config);
    let store = Arc::new(store::open(config.store.url.get_ref()).await?);
    store.migrate().await?;
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

    let pipeline =
        Arc::new(Pipeline::new(store.clone(), Arc::new(rules), config.clone(), clock.clone(), wake_outbox.clone()));
    let poller = Arc::new(Poller {
        store: store.clone(),
        sink: pipeline.clone(),
        client,
        limits,
        concurrency: Arc::new(Semaphore::new(config.poll.max_concurrency.max(1))),
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
            let now = escalator_clock.now();
            match escalator_store.due_escalations(now).await {
                Ok(due) => {
                    for id in due {
                        match escalator_store
                            .escalate(id, |policy, opened, state| policy.fire(opened, state, now), now)
                            .await
                        {
                            Ok(true) => escalator_wake.notify_one(),
                            Ok(false) => {}
                            Err(e) => {
                                tracing::error!(incident = id, error = %e, "escalation failed")
                            }
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read due escalations"),
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });

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

    let state = ApiState {
        store: store.clone(),
        pipeline: pipeline.clone(),
        links,
        tokens: Arc::new(tokens),
        clock: clock.clone(),
        metrics: metrics_handle(),
        public_url,
        wake_outbox,
    };
    let app = api::router(state);
    let mut stop = shutdown_rx.clone();
    tasks.spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });
    tracing::info!(%addr, feeds = feed_rows.len(), "tocsin is running");
    Ok(RunningDaemon { addr, clock, store, pipeline, shutdown, tasks })
}
