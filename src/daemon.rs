//! The daemon: wires the stages together, runs their workers and owns shutdown.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use crate::analyze::matcher::BuildError;
use crate::analyze::rules::QueryFilter;
use crate::analyze::{self, Brands, RuleSet, Scored};
use crate::api::{self, ApiState, Csrf, Tokens};
use crate::clock::Clock;
use crate::config::{Config, LangSetting};
use crate::incident::ack_link::AckLinks;
use crate::incident::escalation::Policy;
use crate::incident::grouping::{self, Candidate, GroupState, Judged};
use crate::incident::playbook::Playbooks;
use crate::incident::silence::{NewSilence, Scope, Silence};
use crate::incident::spike::{self, SpikeSettings, Volume};
use crate::ingest::Mention;
use crate::ingest::fetch::{self, FetchLimits};
use crate::ingest::poller::{FeedTask, MentionSink, Poller};
use crate::notify::outbox::{ChannelError, Channels, Deliverer};
use crate::store::{self, AnyStore, Arrival, Decide, IngestOutcome, Pruned, Store, StoreError, Story};

/// How often the escalation and delivery workers look for due work.
const TICK: Duration = Duration::from_millis(500);
/// The feed name `tocsin drill` injects its simulated mentions under.
pub const DRILL_FEED: &str = "tocsin-drill";
/// Most mentions stored in one transaction: a big feed's items are written in a few
/// transactions rather than one per item, and none holds the write lock long enough to
/// delay an acknowledgement.
pub const BATCH: usize = 100;
/// Longest an incident title taken from a mention may be.
const TITLE_CHARS: usize = 140;
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

/// The analyze → incident stage: scores each mention and records what it decides.
pub struct Pipeline<S> {
    store: Arc<S>,
    /// Swapped whole on reload; a mention in flight keeps the set it started with.
    rules: RwLock<Judging>,
    config: Arc<Config>,
    /// Each configured feed's `weight`, by name: looked up for every mention, and a
    /// daemon may watch ten thousand feeds.
    source_weights: HashMap<String, f64>,
    /// Each configured feed's tags, by name, for silences by tag.
    feed_tags: HashMap<String, Vec<String>>,
    /// The brand each brand's feed is about, by feed name.
    feed_brands: HashMap<String, String>,
    /// The playbooks new incidents copy; swapped with the rules on reload.
    playbooks: RwLock<Arc<Playbooks>>,
    clock: Clock,
    wake_outbox: Arc<Notify>,
}

/// The rules mentions are judged with, and each configured brand's view of them.
#[derive(Clone)]
struct Judging {
    rules: Arc<RuleSet>,
    /// `None` when the config names no `[[brand]]`: the rules' own `brand` list is the brand.
    brands: Option<Arc<Brands>>,
}

impl Judging {
    fn new(rules: Arc<RuleSet>, config: &Config) -> Result<Judging, BuildError> {
        let brands = config.brand_rules(&rules)?.map(Arc::new);
        Ok(Judging { rules, brands })
    }
}

impl<S: Store> Pipeline<S> {
    /// Fails only when a brand's names make the rules too big to compile.
    pub fn new(
        store: Arc<S>,
        rules: Arc<RuleSet>,
        config: Arc<Config>,
        clock: Clock,
        wake_outbox: Arc<Notify>,
    ) -> Result<Self, BuildError> {
        let source_weights = config.feeds.iter().map(|f| (f.name.get_ref().clone(), f.weight)).collect();
        let feed_tags = config.feeds.iter().map(|f| (f.name.get_ref().clone(), f.tags.clone())).collect();
        Ok(Pipeline {
            rules: RwLock::new(Judging::new(rules, &config)?),
            feed_brands: config.feed_brands(),
            store,
            config,
            source_weights,
            feed_tags,
            playbooks: RwLock::new(Arc::new(Playbooks::bundled())),
            clock,
            wake_outbox,
        })
    }

    /// The playbooks incidents opened from now on copy.
    pub fn playbooks(&self) -> Arc<Playbooks> {
        self.playbooks.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Replaces the playbooks for incidents opened from now on; running incidents keep
    /// the copy they opened with.
    pub fn replace_playbooks(&self, playbooks: Playbooks) {
        *self.playbooks.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(playbooks);
    }

    /// The rule set mentions are analyzed with now.
    pub fn rules(&self) -> Arc<RuleSet> {
        self.judging().rules
    }

    fn judging(&self) -> Judging {
        // A poisoned lock only means a panic elsewhere mid-swap; the value inside is whole.
        self.rules.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Replaces the rule set for every mention analyzed from now on; on an error (a brand's
    /// names make the rules too big) the old set stays.
    pub fn replace_rules(&self, rules: impl Into<Arc<RuleSet>>) -> Result<(), BuildError> {
        let judging = Judging::new(rules.into(), &self.config)?;
        *self.rules.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = judging;
        Ok(())
    }

    /// Whether a silence about to be added names a rule, tag or query these rules and feeds
    /// know (see [`NewSilence::check`]).
    pub fn check_silence(&self, silence: &NewSilence) -> Result<(), String> {
        let tags: Vec<&str> = self.feed_tags.values().flatten().map(String::as_str).collect();
        silence.check(&self.rules(), &tags)
    }

    /// Whether the config names this feed: the store keeps the rows of feeds removed since.
    pub fn is_configured_feed(&self, name: &str) -> bool {
        self.source_weights.contains_key(name)
    }

    /// The brand a configured feed is about, if it is one brand's.
    pub fn feed_brand(&self, feed: &str) -> Option<&str> {
        self.feed_brands.get(feed).map(String::as_str)
    }

    /// The config the pipeline runs on.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The configured weight of a source: the feed's `weight`, else 1.
    fn source_weight(&self, feed: &str) -> f64 {
        self.source_weights.get(feed).copied().unwrap_or(1.0)
    }

    /// Analyzes one mention (pure CPU work: no store, no clock), as the first report of its
    /// story; the store rescores its novelty once the story is known.
    pub fn score(&self, mention: Mention) -> Scored {
        let mention = mention.without_nul();
        let source_weight = self.source_weight(&mention.feed);
        let Judging { rules, brands } = self.judging();
        analyze::analyze_brands(&rules, brands.as_deref(), mention, self.config.risk.weights.get_ref(), source_weight)
    }

    /// Stores scored mentions in one transaction, with every incident change they cause.
    pub async fn record(&self, batch: Vec<Arrival>) -> Result<Vec<IngestOutcome>, StoreError> {
        let rules = self.rules();
        let earliest = batch.iter().map(|a| a.now).min().unwrap_or_else(|| self.clock.now());
        let silences = self
            .store
            .silences(Some(earliest))
            .await?
            .into_iter()
            .map(|silence| {
                let filter = match silence.scope {
                    Scope::Query => match rules.query_filter(&silence.value) {
                        Ok(filter) => Some(filter),
                        Err(error) => {
                            // Alerting errs toward paging: a silence that cannot be read holds nothing back.
                            tracing::warn!(silence = silence.id, %error, "silence query does not compile; ignored");
                            None
                        }
                    },
                    _ => None,
                };
                (silence, filter)
            })
            .collect();
        let decider =
            Decider { rules, playbooks: self.playbooks(), config: &self.config, feed_tags: &self.feed_tags, silences };
        let outcomes = self.store.ingest(batch, &decider).await?;
        let mut stored = 0;
        for outcome in &outcomes {
            if let IngestOutcome::Stored { opened, .. } = outcome {
                stored += 1;
                for id in opened {
                    metrics::counter!("tocsin_incidents_opened_total").increment(1);
                    tracing::warn!(incident = id, "incident opened");
                }
            }
        }
        if stored > 0 {
            metrics::counter!("tocsin_mentions_stored_total").increment(stored);
            self.wake_outbox.notify_one();
        }
        Ok(outcomes)
    }

    /// Analyzes and stores mentions that arrived together (one feed poll, one push), in
    /// transactions of at most [`BATCH`] mentions.
    pub async fn process_all(&self, mentions: Vec<Mention>) -> Result<Vec<IngestOutcome>, StoreError> {
        let now = self.clock.now();
        let mut outcomes = Vec::with_capacity(mentions.len());
        let mut mentions = mentions.into_iter().peekable();
        while mentions.peek().is_some() {
            let batch = mentions.by_ref().take(BATCH).map(|mention| Arrival::new(self.score(mention), now));
            outcomes.extend(self.record(batch.collect()).await?);
        }
        Ok(outcomes)
    }

    /// Analyzes one mention and stores it with every incident change it causes.
    pub async fn process(&self, mention: Mention) -> Result<IngestOutcome, StoreError> {
        let outcomes = self.process_all(vec![mention]).await?;
        outcomes.into_iter().next().ok_or_else(|| StoreError::Corrupt("the store returned no outcome".into()))
    }
}

/// The group a rule's match belongs to: `rule:<id>`, under `brand:<name>:` when the
/// config names brands, and apart under `drill:` for a drill.
pub fn group_key(brand: Option<&str>, rule: &str, drill: bool) -> String {
    let drill = if drill { "drill:" } else { "" };
    match brand {
        Some(brand) => format!("{drill}brand:{brand}:rule:{rule}"),
        None => format!("{drill}rule:{rule}"),
    }
}

/// An incident title of at most [`TITLE_CHARS`] characters, with an ellipsis when cut.
fn shorten(title: &str) -> String {
    if title.chars().count() <= TITLE_CHARS {
        return title.to_owned();
    }
    let mut short: String = title.chars().take(TITLE_CHARS - 1).collect();
    short.push('…');
    short
}

/// The pipeline's judgement for the store: candidates from the rules and the config, and
/// the spike detector's verdict on each.
struct Decider<'a> {
    rules: Arc<RuleSet>,
    playbooks: Arc<Playbooks>,
    config: &'a Config,
    feed_tags: &'a HashMap<String, Vec<String>>,
    /// The silences in force during the batch, a query silence with its compiled query.
    silences: Vec<(Silence, Option<QueryFilter>)>,
}

impl Decider<'_> {
    /// The first silence in force at `now` that covers a match of `rule` for `brand` in
    /// `mention`; a silence of one brand covers no other's.
    fn silence_for(&self, rule: &str, brand: Option<&str>, mention: &Mention, now: DateTime<Utc>) -> Option<i64> {
        let covers = |silence: &Silence, filter: &Option<QueryFilter>| {
            silence.brand.as_deref().is_none_or(|only| Some(only) == brand)
                && self.covers(silence, filter, rule, mention)
        };
        self.silences
            .iter()
            .find(|(silence, filter)| silence.is_active(now) && covers(silence, filter))
            .map(|(silence, _)| silence.id)
    }

    /// Whether the silence's scope takes in a match of `rule` in `mention`.
    fn covers(&self, silence: &Silence, filter: &Option<QueryFilter>, rule: &str, mention: &Mention) -> bool {
        match silence.scope {
            Scope::Rule => silence.value == rule,
            Scope::Feed => silence.value == mention.feed,
            Scope::Tag => self.feed_tags.get(&mention.feed).is_some_and(|tags| tags.contains(&silence.value)),
            // The query reads what the rules read: a megabyte item cannot stall a NEAR query.
            Scope::Query => filter.as_ref().is_some_and(|filter| filter.matches(&mention.for_analysis())),
        }
    }
}

impl Decide for Decider<'_> {
    fn candidates(&self, scored: Scored, story: &Story, now: DateTime<Utc>) -> (Scored, Vec<Candidate>) {
        let weights = self.config.risk.weights.get_ref();
        let scored = if story.copies > 0 { scored.with_copies(story.copies, weights) } else { scored };
        // One mention is one crisis of each brand it names: it joins the group of that
        // brand's most severe matching rule (the first in rule order on a tie), not one
        // incident per pack it happens to touch ("hospitalised after food poisoning" is food
        // safety, not also an accident). Every rule it matched still counts it for volume,
        // as its spike window does. A competitor's matches are counted, never grouped.
        let mut takers: Vec<(Option<&str>, usize)> = Vec::new();
        for (position, found) in scored.matches.iter().enumerate() {
            let brand = found.brand.as_deref();
            match takers.iter_mut().find(|(taken, _)| *taken == brand) {
                Some((_, taker)) if scored.matches[*taker].severity < found.severity => *taker = position,
                Some(_) => {}
                None => takers.push((brand, position)),
            }
        }
        let candidates = scored
            .matches
            .iter()
            .enumerate()
            .filter_map(|(position, found)| {
                let rule = self.rules.rule(&found.rule)?;
                let brand = found.brand.as_deref().and_then(|name| self.config.brand(name));
                if brand.is_some_and(|brand| brand.competitor) {
                    return None;
                }
                let policy_name = brand.and_then(|b| b.escalation.as_ref()).map(|p| p.get_ref().as_str());
                let policy = self
                    .config
                    .escalation(policy_name.or(rule.escalation.as_deref()))
                    .map(Policy::from)
                    .unwrap_or_else(Policy::none);
                let policy = match brand {
                    Some(brand) => policy.with_channels(
                        &brand.channels.iter().map(|(from, to)| (from.clone(), to.get_ref().clone())).collect(),
                    ),
                    None => policy,
                };
                let drill = scored.mention.feed == DRILL_FEED;
                let shown_brand = brand.map(|b| format!("[{}] ", b.names().first().unwrap_or(b.name.get_ref())));
                let title = shorten(&format!(
                    "{}{}{}: {}",
                    if drill { "[DRILL] " } else { "" },
                    shown_brand.unwrap_or_default(),
                    rule.title,
                    scored.mention.title
                ));
                // A drill opens whatever its example scores: rehearsing needs an incident.
                let score = scored.risk_for(found.severity, weights);
                let score = if drill { score.max(self.config.risk.open_at()) } else { score };
                let mut why = scored.breakdown.clone();
                if let serde_json::Value::Object(why) = &mut why {
                    why.insert("rule".into(), rule.id.clone().into());
                    why.insert("severity".into(), found.severity.into());
                    why.insert("score".into(), score.into());
                    why.insert("terms".into(), serde_json::json!(found.terms));
                    if let Some(brand) = &found.brand {
                        why.insert("brand".into(), brand.clone().into());
                    }
                    if drill {
                        why.insert("drill".into(), true.into());
                    }
                }
                let taker = takers.iter().find(|(taken, _)| *taken == found.brand.as_deref()).map(|(_, t)| *t);
                Some(Candidate {
                    // A drill never joins (or is stopped by) a real incident of the same rule.
                    group_key: group_key(found.brand.as_deref(), &rule.id, drill),
                    rule: rule.id.clone(),
                    brand: found.brand.clone(),
                    title,
                    score,
                    level: self.config.risk.level_for(score),
                    why,
                    policy,
                    mention_at: scored.mention.effective_time(),
                    crisis_type: Some(rule.crisis_type.clone()),
                    playbook: self.playbooks.get(&rule.crisis_type).cloned(),
                    silenced_by: if drill {
                        None
                    } else {
                        self.silence_for(&rule.id, found.brand.as_deref(), &scored.mention, now)
                    },
                    drill,
                    volume_only: Some(position) != taker,
                })
            })
            .collect();
        (scored, candidates)
    }

    fn judge(&self, candidate: &Candidate, live: Option<&GroupState>, volume: &Volume, now: DateTime<Utc>) -> Judged {
        let verdict = spike::judge(volume, &self.config.risk.spike());
        grouping::judge(candidate, live, &verdict, self.config.risk.open_at(), now)
    }

    fn spike(&self) -> SpikeSettings {
        self.config.risk.spike()
    }

    fn reopen_within(&self) -> chrono::Duration {
        self.config.risk.reopen_within.chrono()
    }
}

impl<S: Store> MentionSink for Pipeline<S> {
    /// A feed's items published before the retention cutoff are not stored: they would be
    /// pruned within the hour, and once pruned (their identity gone with the row) a search
    /// feed that still serves a months-old article would bring it back as new on every poll.
    /// An undated item has no date to tell: the store remembers which of them it pruned.
    async fn accept(&self, mentions: Vec<Mention>) -> Result<usize, StoreError> {
        let cutoff = retention_cutoff(&self.config, self.clock.now());
        let served = mentions.len();
        let mut undated: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for mention in mentions.iter().filter(|m| m.published.is_none()) {
            undated.entry(mention.feed.as_str()).or_default().push(mention.guid.clone());
        }
        let mut pruned: HashMap<String, HashSet<String>> = HashMap::new();
        for (feed, guids) in &undated {
            pruned.insert((*feed).to_owned(), self.store.pruned_undated(feed, guids).await?.into_iter().collect());
        }
        let mentions: Vec<Mention> = mentions
            .into_iter()
            .filter(|mention| cutoff.is_none_or(|cutoff| mention.published.is_none_or(|at| at >= cutoff)))
            .filter(|mention| !pruned.get(mention.feed.as_str()).is_some_and(|guids| guids.contains(&mention.guid)))
            .collect();
        if mentions.len() < served {
            tracing::debug!(skipped = served - mentions.len(), "items published before the retention cutoff or pruned");
        }
        let outcomes = self.process_all(mentions).await?;
        Ok(outcomes.iter().filter(|o| matches!(o, IngestOutcome::Stored { .. })).count())
    }
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

/// Mentions fetched before this are past `store.retention` at `now`; `None` when the
/// retention reaches back before time itself. Never newer than the pipeline reads back
/// (see [`store::shortest_retention`]), whatever the configured retention.
pub fn retention_cutoff(config: &Config, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let retention = config.store.retention.chrono().max(store::shortest_retention(config.risk.spike().window));
    now.checked_sub_signed(retention)
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
