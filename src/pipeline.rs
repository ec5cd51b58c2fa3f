//! The analyze → incident stage: scores each mention, groups it into stories and
//! incidents, and records what it decides in one transaction per batch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::analyze::matcher::BuildError;
use crate::analyze::rules::QueryFilter;
use crate::analyze::{self, Brands, RuleSet, Scored};
use crate::clock::Clock;
use crate::config::{BrandConfig, Config};
use crate::incident::escalation::Policy;
use crate::incident::grouping::{self, Candidate, GroupState, Judged};
use crate::incident::playbook::Playbooks;
use crate::incident::silence::{NewSilence, Scope, Silence};
use crate::incident::spike::{self, SpikeSettings, Volume};
use crate::ingest::Mention;
use crate::ingest::poller::MentionSink;
use crate::store::{self, Arrival, Decide, Escalated, IngestOutcome, Store, StoreError, StoredMention, Story};

/// The feed name `tocsin drill` injects its simulated mentions under.
pub const DRILL_FEED: &str = "tocsin-drill";
/// Most mentions stored in one transaction: a big feed's items are written in a few
/// transactions rather than one per item, and none holds the write lock long enough to
/// delay an acknowledgement.
pub const BATCH: usize = 100;
/// The rule an incident a person opened for an unmatched mention is filed under.
pub const MANUAL_RULE: &str = "manual";
/// The playbook such an incident follows.
const MANUAL_CRISIS_TYPE: &str = "general";
/// Longest an incident title taken from a mention may be.
const TITLE_CHARS: usize = 140;

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

    /// A person escalates a stored mention to an incident: read again with the rules of now,
    /// it joins or opens (whatever its score, silences aside: a person decided) the incident
    /// of its most severe match; a mention no rule matched opens an incident of its own under
    /// the general playbook and the default policy, since that is the miss the person caught.
    pub async fn escalate(&self, stored: &StoredMention, actor: &str) -> Result<Escalated, StoreError> {
        let now = self.clock.now();
        let mention = Mention {
            feed: stored.feed.clone(),
            guid: stored.guid.clone(),
            title: stored.title.clone(),
            body: stored.body.clone(),
            author: stored.author.clone(),
            url: stored.url.clone(),
            published: stored.published,
            fetched_at: stored.fetched_at,
            lang: stored.lang.clone(),
            engagement: None,
        };
        let scored = self.score(mention);
        let story = self.store.story(&scored).await?;
        let decider = Decider {
            rules: self.rules(),
            playbooks: self.playbooks(),
            config: &self.config,
            feed_tags: &self.feed_tags,
            silences: Vec::new(),
        };
        let (scored, candidates) = decider.candidates(scored, &story, now);
        let open_at = self.config.risk.open_at();
        let taken = candidates.into_iter().filter(|c| !c.volume_only).max_by_key(|c| c.score);
        let mut candidate = match taken {
            Some(candidate) => candidate,
            None => {
                let brand = stored.brands.first().and_then(|name| self.config.brand(name)).filter(|b| !b.competitor);
                Candidate {
                    group_key: format!("manual:mention:{}", stored.id),
                    rule: MANUAL_RULE.to_owned(),
                    brand: brand.map(|b| b.name.get_ref().clone()),
                    title: shorten(&format!("Escalated by {actor}: {}", scored.mention.title)),
                    score: scored.risk,
                    level: self.config.risk.level_for(scored.risk),
                    why: scored.breakdown.clone(),
                    policy: decider.policy_for(brand, None),
                    mention_at: scored.mention.effective_time(),
                    crisis_type: Some(MANUAL_CRISIS_TYPE.to_owned()),
                    playbook: decider.playbooks.get(MANUAL_CRISIS_TYPE).cloned(),
                    silenced_by: None,
                    drill: false,
                    volume_only: false,
                }
            }
        };
        candidate.score = candidate.score.max(open_at);
        candidate.level = self.config.risk.level_for(candidate.score);
        candidate.silenced_by = None;
        if let serde_json::Value::Object(why) = &mut candidate.why {
            why.insert("score".into(), candidate.score.into());
            why.insert("escalated_by".into(), actor.into());
        }
        let escalated = self.store.escalate_mention(stored.id, &scored, &candidate, actor, now).await?;
        tracing::warn!(mention = stored.id, incident = escalated.incident.id, %actor, opened = escalated.opened, "mention escalated");
        if escalated.opened {
            metrics::counter!("tocsin_incidents_opened_total").increment(1);
        }
        self.wake_outbox.notify_one();
        Ok(escalated)
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
    /// The escalation policy an incident copies: the brand's, else the rule's, else the
    /// default one, with the brand's channel replacements.
    fn policy_for(&self, brand: Option<&BrandConfig>, rule_policy: Option<&str>) -> Policy {
        let policy_name = brand.and_then(|b| b.escalation.as_ref()).map(|p| p.get_ref().as_str());
        let policy = self.config.escalation(policy_name.or(rule_policy)).map(Policy::from).unwrap_or_else(Policy::none);
        match brand {
            Some(brand) => policy
                .with_channels(&brand.channels.iter().map(|(from, to)| (from.clone(), to.get_ref().clone())).collect()),
            None => policy,
        }
    }

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
                let policy = self.policy_for(brand, rule.escalation.as_deref());
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

/// Mentions fetched before this are past `store.retention` at `now`; `None` when the
/// retention reaches back before time itself. Never newer than the pipeline reads back
/// (see [`store::shortest_retention`]), whatever the configured retention.
pub fn retention_cutoff(config: &Config, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let retention = config.store.retention.chrono().max(store::shortest_retention(config.risk.spike().window));
    now.checked_sub_signed(retention)
}
