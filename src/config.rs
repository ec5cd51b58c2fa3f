//! `tocsin.toml` into typed configuration, with every error located as `file:line:col`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::analyze::risk::RiskWeights;
use crate::incident::spike::SpikeSettings;
use crate::lang::Lang;
use crate::notify::breaker::BreakerSettings;
use crate::notify::chat::ChatKind;
use crate::notify::template::Templates;
use toml::Spanned;

/// A configuration problem a user can fix, located in the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}:{line}:{col}: {message}")]
    Invalid { path: String, line: usize, col: usize, message: String },
}

/// A duration written like `90s`, `5m`, `2h`, `180d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for HumanDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(text)
            .map(HumanDuration)
            .map_err(|e| format!("bad duration {text:?}: {e} (write e.g. 90s, 5m, 2h, 7d)"))
    }
}

impl HumanDuration {
    pub fn chrono(self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }
}

/// A size written like `10MB` or `512KiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        bytesize::ByteSize::from_str(&text)
            .map(|size| ByteSize(size.as_u64()))
            .map_err(|e| serde::de::Error::custom(format!("bad size {text:?}: {e} (write e.g. 10MB)")))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub poll: PollConfig,
    #[serde(default, rename = "feed")]
    pub feeds: Vec<FeedConfig>,
    /// Brand queries turned into search feeds; expanded into `feeds` when the file loads.
    #[serde(default, rename = "watch")]
    pub watches: Vec<WatchConfig>,
    /// The brands (clients and competitors) watched; none means the one brand of
    /// `rules/lists/brand.txt`, as before brands existed.
    #[serde(default, rename = "brand")]
    pub brands: Vec<BrandConfig>,
    #[serde(default)]
    pub sources: SourcesConfig,
    #[serde(default)]
    pub rules: RulesConfig,
    #[serde(default)]
    pub risk: RiskConfig,
    pub smtp: Option<SmtpConfig>,
    #[serde(default)]
    pub mailbox: MailboxConfig,
    #[serde(default, rename = "channel")]
    pub channels: Vec<ChannelConfig>,
    #[serde(default, rename = "escalation")]
    pub escalations: Vec<EscalationPolicy>,
    #[serde(default)]
    pub delivery: DeliveryConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    #[serde(default = "default_store_url")]
    pub url: Spanned<String>,
    #[serde(default = "default_retention")]
    pub retention: HumanDuration,
}

fn default_store_url() -> Spanned<String> {
    Spanned::new(0..0, "sqlite://tocsin.db".to_owned())
}
fn default_retention() -> HumanDuration {
    HumanDuration(Duration::from_secs(180 * 86_400))
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { url: default_store_url(), retention: default_retention() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Base of the links inside alerts; defaults to `http://` + `listen`.
    pub public_url: Option<String>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { listen: default_listen(), public_url: None }
    }
}

impl HttpConfig {
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollConfig {
    #[serde(default = "default_interval")]
    pub default_interval: HumanDuration,
    #[serde(default = "default_concurrency")]
    pub max_concurrency: usize,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    #[serde(default = "default_max_bytes")]
    pub max_bytes: ByteSize,
    #[serde(default = "default_redirects")]
    pub max_redirects: usize,
}

fn default_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}
fn default_concurrency() -> usize {
    64
}
fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(20))
}
fn default_max_bytes() -> ByteSize {
    ByteSize(10_000_000)
}
fn default_redirects() -> usize {
    5
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            default_interval: default_interval(),
            max_concurrency: default_concurrency(),
            timeout: default_timeout(),
            max_bytes: default_max_bytes(),
            max_redirects: default_redirects(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LangSetting {
    #[default]
    Auto,
    En,
    Zh,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    pub name: Spanned<String>,
    pub url: Spanned<String>,
    pub interval: Option<HumanDuration>,
    #[serde(default = "default_weight")]
    pub weight: f64,
    #[serde(default)]
    pub lang: LangSetting,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The `[[brand]]` this feed is about: set on the feeds a brand derives, and may be set
    /// on a hand-written feed (a client's own forum).
    pub brand: Option<Spanned<String>>,
}

fn default_weight() -> f64 {
    1.0
}

/// A brand query watched on several search sources at once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    pub name: Spanned<String>,
    pub query: Spanned<String>,
    pub sources: Vec<Spanned<String>>,
    pub interval: Option<HumanDuration>,
    #[serde(default = "default_weight")]
    pub weight: f64,
    #[serde(default)]
    pub lang: LangSetting,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// One brand watched: a client whose incidents are worked, or a competitor watched and
/// counted for share of voice.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandConfig {
    /// Its id in group keys, the API, tokens and the CLI: letters, digits, `-` and `_`.
    pub name: Spanned<String>,
    /// Its names and aliases in every language: its rules' `@brand` and its search query.
    pub names: Option<Spanned<Vec<String>>>,
    /// Look-alikes that are not the brand (`Acme Corp of Ohio`).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Search and hot-list sources, as `[[watch]]` takes them, searched for its names.
    #[serde(default)]
    pub sources: Vec<Spanned<String>>,
    pub interval: Option<HumanDuration>,
    #[serde(default = "default_weight")]
    pub weight: f64,
    #[serde(default)]
    pub lang: LangSetting,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The policy its incidents follow, over the rule's.
    pub escalation: Option<Spanned<String>>,
    /// Channels of the policy replaced by this brand's own (`{ pr-team = "acme-pr" }`), so
    /// one policy's timing serves every client, each told on its own channels.
    #[serde(default)]
    pub channels: BTreeMap<String, Spanned<String>>,
    /// Watched, counted and charted, never the subject of an incident.
    #[serde(default)]
    pub competitor: bool,
    /// Where its `name` is in the file, for errors found once the rules are known.
    #[serde(skip)]
    pub place: Place,
}

/// A place in the config file, kept for errors found after it was parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub path: String,
    pub line: usize,
    pub col: usize,
}

impl Place {
    /// An error at this place.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { path: self.path.clone(), line: self.line, col: self.col, message: message.into() }
    }
}

impl BrandConfig {
    /// Its names, trimmed, without empty ones.
    pub fn names(&self) -> Vec<String> {
        let names = self.names.as_ref().map(|names| names.get_ref().as_slice()).unwrap_or_default();
        names.iter().map(|name| name.trim().to_owned()).filter(|name| !name.is_empty()).collect()
    }

    /// The search query for its names: `"Acme" OR "艾克米" -"Acme Corp of Ohio"`.
    fn search_query(&self) -> String {
        let names: Vec<String> = self.names().iter().map(|name| format!("\"{name}\"")).collect();
        let mut query = names.join(" OR ");
        for look_alike in &self.exclude {
            query.push_str(&format!(" -\"{}\"", look_alike.trim()));
        }
        query
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    /// Base URL of a public or self-hosted RSSHub, for the `rsshub:` sources.
    pub rsshub: Option<String>,
}

/// A web search source: its name in `[[watch]] sources`, its RSS endpoint, and the fixed
/// query parameters beside `q`.
type SearchSource = (&'static str, &'static str, &'static [(&'static str, &'static str)]);

/// The web search sources a watch can name (the query goes in `q`).
const SEARCH_SOURCES: &[SearchSource] = &[
    ("google-news", "https://news.google.com/rss/search", &[]),
    ("bing-news", "https://www.bing.com/news/search", &[("format", "rss")]),
    ("reddit", "https://www.reddit.com/search.rss", &[("sort", "new")]),
    ("hackernews", "https://hnrss.org/newest", &[]),
];

/// RSSHub keyword routes by source name; the keyword is the last path segment.
const RSSHUB_ROUTES: &[(&str, &[&str])] = &[("weibo", &["weibo", "keyword"]), ("bilibili", &["bilibili", "vsearch"])];

/// The alternatives of a boolean `a OR b OR "c d"` query, for sources that take one keyword.
fn keywords(query: &str) -> Vec<String> {
    query.split(" OR ").map(|k| k.trim().trim_matches('"').trim().to_owned()).filter(|k| !k.is_empty()).collect()
}

/// The feeds (name suffix, URL) one watch source derives from a query.
pub fn watch_feeds(query: &str, source: &str, rsshub: Option<&str>) -> Result<Vec<(String, String)>, String> {
    if let Some((name, base, extra)) = SEARCH_SOURCES.iter().find(|(name, ..)| *name == source) {
        let mut params = vec![("q", query)];
        params.extend(extra.iter().copied());
        let url =
            reqwest::Url::parse_with_params(base, &params).map_err(|e| format!("cannot build {name} url: {e}"))?;
        return Ok(vec![((*name).to_owned(), url.to_string())]);
    }
    let Some(route) = source.strip_prefix("rsshub:") else {
        let known: Vec<&str> = SEARCH_SOURCES.iter().map(|(n, ..)| *n).collect();
        return Err(format!(
            "unknown watch source {source:?}: use one of {}, rsshub:weibo, rsshub:bilibili or rsshub:/any/route/{{q}}",
            known.join(", ")
        ));
    };
    let base = rsshub.ok_or_else(|| format!("source {source:?} needs [sources] rsshub = \"https://your-rsshub\""))?;
    let base = reqwest::Url::parse(base).map_err(|e| format!("bad [sources] rsshub url: {e}"))?;
    let mut feeds = Vec::new();
    for (index, keyword) in keywords(query).iter().enumerate() {
        let mut url = base.clone();
        let suffix = if let Some(template) = route.strip_prefix('/') {
            let mut segments = url.path_segments_mut().map_err(|_| "the rsshub url cannot take a path".to_owned())?;
            segments.pop_if_empty();
            for part in template.split('/').filter(|p| !p.is_empty()) {
                segments.push(if part == "{q}" { keyword } else { part });
            }
            drop(segments);
            template.split('/').find(|p| !p.is_empty()).unwrap_or("rsshub").to_owned()
        } else {
            let (_, path) = RSSHUB_ROUTES.iter().find(|(name, _)| *name == route).ok_or_else(|| {
                format!(
                    "RSSHub has no keyword search route known for {route:?}: use rsshub:weibo, rsshub:bilibili, or a \
                     route template like rsshub:/{route}/search/{{q}}"
                )
            })?;
            let mut segments = url.path_segments_mut().map_err(|_| "the rsshub url cannot take a path".to_owned())?;
            segments.pop_if_empty().extend(path.iter().copied()).push(keyword);
            drop(segments);
            route.to_owned()
        };
        feeds.push((format!("{suffix}-{}", index + 1), url.to_string()));
    }
    Ok(feeds)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    #[serde(default = "default_rules_dir")]
    pub dir: PathBuf,
}

fn default_rules_dir() -> PathBuf {
    PathBuf::from("rules")
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig { dir: default_rules_dir() }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Levels {
    pub low: u8,
    pub medium: u8,
    pub high: u8,
    pub critical: u8,
}

impl Default for Levels {
    fn default() -> Self {
        Levels { low: 0, medium: 40, high: 60, critical: 80 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskConfig {
    #[serde(default = "default_open_at")]
    pub open_at: Spanned<u8>,
    #[serde(default = "default_levels")]
    pub levels: Spanned<Levels>,
    #[serde(default = "default_spike_window")]
    pub spike_window: Spanned<HumanDuration>,
    #[serde(default = "default_spike_history")]
    pub spike_min_history: HumanDuration,
    #[serde(default = "default_reopen_within")]
    pub reopen_within: HumanDuration,
    /// The time constant of a group's exponentially weighted baseline volume.
    #[serde(default = "default_spike_baseline")]
    pub spike_baseline: HumanDuration,
    /// After a spike, no new spike verdict for this long.
    #[serde(default = "default_spike_cooldown")]
    pub spike_cooldown: HumanDuration,
    /// A window is a spike when its volume is rarer than this under the baseline rate.
    #[serde(default = "default_spike_p_value")]
    pub spike_p_value: Spanned<f64>,
    /// And holds at least this many mentions.
    #[serde(default = "default_spike_min_count")]
    pub spike_min_count: u64,
    /// No spike verdict before this many mentions came before the window.
    #[serde(default = "default_spike_min_baseline")]
    pub spike_min_baseline: u64,
    /// The weights of the per-mention risk formula (`[risk.weights]`).
    #[serde(default = "default_weights")]
    pub weights: Spanned<RiskWeights>,
}

fn default_weights() -> Spanned<RiskWeights> {
    Spanned::new(0..0, RiskWeights::default())
}
fn default_spike_baseline() -> HumanDuration {
    HumanDuration(Duration::from_secs(7 * 24 * 3600))
}
fn default_spike_cooldown() -> HumanDuration {
    HumanDuration(Duration::from_secs(3600))
}
fn default_spike_p_value() -> Spanned<f64> {
    Spanned::new(0..0, 0.001)
}
fn default_spike_min_count() -> u64 {
    5
}
fn default_spike_min_baseline() -> u64 {
    5
}

fn default_open_at() -> Spanned<u8> {
    Spanned::new(0..0, 60)
}
fn default_levels() -> Spanned<Levels> {
    Spanned::new(0..0, Levels::default())
}
fn default_spike_window() -> Spanned<HumanDuration> {
    Spanned::new(0..0, HumanDuration(Duration::from_secs(15 * 60)))
}
/// A full daily cycle: a group's first morning is all "above" its first night.
fn default_spike_history() -> HumanDuration {
    HumanDuration(Duration::from_secs(24 * 3600))
}
fn default_reopen_within() -> HumanDuration {
    HumanDuration(Duration::from_secs(24 * 3600))
}

impl Default for RiskConfig {
    fn default() -> Self {
        RiskConfig {
            open_at: default_open_at(),
            levels: default_levels(),
            spike_window: default_spike_window(),
            spike_min_history: default_spike_history(),
            reopen_within: default_reopen_within(),
            spike_baseline: default_spike_baseline(),
            spike_cooldown: default_spike_cooldown(),
            spike_p_value: default_spike_p_value(),
            spike_min_count: default_spike_min_count(),
            spike_min_baseline: default_spike_min_baseline(),
            weights: default_weights(),
        }
    }
}

impl RiskConfig {
    pub fn open_at(&self) -> u8 {
        *self.open_at.get_ref()
    }

    /// The spike detector's settings.
    pub fn spike(&self) -> SpikeSettings {
        let chrono = |d: &HumanDuration| chrono::Duration::from_std(d.0).unwrap_or(chrono::Duration::MAX);
        SpikeSettings {
            window: chrono(self.spike_window.get_ref()),
            min_history: chrono(&self.spike_min_history),
            baseline: chrono(&self.spike_baseline),
            cooldown: chrono(&self.spike_cooldown),
            p_value: *self.spike_p_value.get_ref(),
            min_count: self.spike_min_count,
            min_baseline: self.spike_min_baseline as f64,
        }
    }

    /// The level a risk score falls in.
    pub fn level_for(&self, score: u8) -> crate::incident::Level {
        use crate::incident::Level;
        let levels = self.levels.get_ref();
        if score >= levels.critical {
            Level::Critical
        } else if score >= levels.high {
            Level::High
        } else if score >= levels.medium {
            Level::Medium
        } else {
            Level::Low
        }
    }
}

pub use crate::notify::email::TlsMode;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default = "default_tls")]
    pub tls: TlsMode,
    pub username: Option<String>,
    /// Name of the environment variable holding the password (never the password itself).
    pub password_env: Option<String>,
    pub from: String,
    #[serde(default = "default_smtp_timeout")]
    pub timeout: HumanDuration,
}

fn default_smtp_port() -> u16 {
    587
}
fn default_tls() -> TlsMode {
    TlsMode::Starttls
}
fn default_smtp_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

/// Where email goes when no `[smtp]` is configured: one `.eml` file per message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    #[serde(default = "default_mailbox_dir")]
    pub dir: PathBuf,
    #[serde(default = "default_mailbox_from")]
    pub from: String,
}

fn default_mailbox_dir() -> PathBuf {
    PathBuf::from("mailbox")
}
fn default_mailbox_from() -> String {
    "tocsin <tocsin@localhost>".to_owned()
}

impl Default for MailboxConfig {
    fn default() -> Self {
        MailboxConfig { dir: default_mailbox_dir(), from: default_mailbox_from() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Email,
    Webhook,
    Slack,
    DingTalk,
    WeCom,
    Feishu,
    Telegram,
    Ntfy,
    Teams,
    #[serde(rename = "pagerduty")]
    PagerDuty,
    Opsgenie,
}

impl ChannelKind {
    /// The chat service a chat channel posts to; `None` for email and webhooks.
    pub fn chat(self) -> Option<ChatKind> {
        match self {
            ChannelKind::Email | ChannelKind::Webhook | ChannelKind::PagerDuty | ChannelKind::Opsgenie => None,
            ChannelKind::Slack => Some(ChatKind::Slack),
            ChannelKind::DingTalk => Some(ChatKind::DingTalk),
            ChannelKind::WeCom => Some(ChatKind::WeCom),
            ChannelKind::Feishu => Some(ChatKind::Feishu),
            ChannelKind::Telegram => Some(ChatKind::Telegram),
            ChannelKind::Ntfy => Some(ChatKind::Ntfy),
            ChannelKind::Teams => Some(ChatKind::Teams),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub name: Spanned<String>,
    pub kind: ChannelKind,
    #[serde(default)]
    pub to: Vec<String>,
    pub url: Option<Spanned<String>>,
    /// Environment variable with the webhook secret; several names (space-separated values
    /// in one variable) sign with each key, so secrets can be rotated. For DingTalk and
    /// Feishu: the robot's signing secret.
    pub secret_env: Option<String>,
    /// Telegram: the chat the bot posts to (a group's `-100…` id, or `@channelname`).
    pub chat_id: Option<String>,
    /// PagerDuty: the variable holding the webhook subscription's signing secret; Opsgenie:
    /// the shared token its webhook integration sends in `X-Tocsin-Token` (several
    /// space-separated while one rotates), for acknowledgements and resolutions coming back.
    pub webhook_secret_env: Option<String>,
    /// The language of chat messages (`en` or `zh`).
    #[serde(default)]
    pub lang: Lang,
    /// Chat message templates (minijinja) replacing the bundled title and body; a template
    /// that fails to render falls back to the bundled one and logs why.
    pub title_template: Option<Spanned<String>>,
    pub body_template: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationLevel {
    pub after: HumanDuration,
    pub notify: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationPolicy {
    pub name: Spanned<String>,
    pub levels: Vec<EscalationLevel>,
    pub repeat_every: Option<HumanDuration>,
    #[serde(default)]
    pub max_repeats: u32,
    #[serde(default = "zero_duration")]
    pub group_wait: HumanDuration,
    pub ack_timeout: Option<HumanDuration>,
    pub fallback: Option<Spanned<String>>,
}

fn zero_duration() -> HumanDuration {
    HumanDuration(Duration::ZERO)
}

/// How the outbox retries (SPEC §6).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    #[serde(default = "default_first_retry")]
    pub first_retry: HumanDuration,
    #[serde(default = "default_max_retry")]
    pub max_retry: HumanDuration,
    #[serde(default = "default_give_up")]
    pub give_up_after: HumanDuration,
    #[serde(default = "default_delivery_timeout")]
    pub timeout: HumanDuration,
    /// How long a worker owns a claimed notice; after a crash, another worker (or the
    /// restarted daemon) retries it once this has passed.
    #[serde(default = "default_claim_lease")]
    pub claim_lease: HumanDuration,
    /// Consecutive failed attempts on one channel that open its breaker.
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: u32,
    /// How long an open breaker sends a channel's notices to the fallback.
    #[serde(default = "default_breaker_cooldown")]
    pub breaker_cooldown: HumanDuration,
}

impl DeliveryConfig {
    pub fn breaker(&self) -> BreakerSettings {
        BreakerSettings { failures: self.breaker_failures.max(1), cooldown: self.breaker_cooldown.chrono() }
    }
}

fn default_breaker_failures() -> u32 {
    5
}
fn default_breaker_cooldown() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}

fn default_first_retry() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
fn default_max_retry() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}
fn default_give_up() -> HumanDuration {
    HumanDuration(Duration::from_secs(24 * 3600))
}
fn default_claim_lease() -> HumanDuration {
    HumanDuration(Duration::from_secs(120))
}
fn default_delivery_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(15))
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            first_retry: default_first_retry(),
            max_retry: default_max_retry(),
            give_up_after: default_give_up(),
            timeout: default_delivery_timeout(),
            claim_lease: default_claim_lease(),
            breaker_failures: default_breaker_failures(),
            breaker_cooldown: default_breaker_cooldown(),
        }
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

impl Config {
    /// Reads and validates a config file; relative paths in it are taken from its folder.
    pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| vec![ConfigError::Read { path: path.display().to_string(), source }])?;
        let mut config = Config::parse(&path.display().to_string(), &text)?;
        if let Some(base) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            config.rebase(base);
        }
        Ok(config)
    }

    fn rebase(&mut self, base: &Path) {
        if self.rules.dir.is_relative() {
            self.rules.dir = base.join(&self.rules.dir);
        }
        if self.mailbox.dir.is_relative() {
            self.mailbox.dir = base.join(&self.mailbox.dir);
        }
        let url = self.store.url.get_ref();
        if let Some(file) = url.strip_prefix("sqlite://")
            && !file.starts_with('/')
            && !file.starts_with(':')
        {
            let span = self.store.url.span();
            self.store.url = Spanned::new(span, format!("sqlite://{}", base.join(file).display()));
        }
    }

    /// Parses config text; `path` only labels the errors.
    pub fn parse(path: &str, text: &str) -> Result<Config, Vec<ConfigError>> {
        let at = |span: std::ops::Range<usize>, message: String| {
            let (line, col) = line_col(text, span.start);
            ConfigError::Invalid { path: path.to_owned(), line, col, message }
        };
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            vec![at(span, e.message().trim().to_owned())]
        })?;
        for brand in &mut config.brands {
            let (line, col) = line_col(text, brand.name.span().start);
            brand.place = Place { path: path.to_owned(), line, col };
        }
        let mut problems = config.expand_watches();
        problems.extend(config.expand_brands());
        problems.extend(config.problems());
        let errors: Vec<ConfigError> = problems.into_iter().map(|(span, message)| at(span, message)).collect();
        if errors.is_empty() { Ok(config) } else { Err(errors) }
    }

    /// Cross-field checks serde cannot express, each with the span it is about.
    fn problems(&self) -> Vec<(std::ops::Range<usize>, String)> {
        let mut problems = Vec::new();
        let url = self.store.url.get_ref();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            problems
                .push((self.store.url.span(), format!("store url {url:?} must start with sqlite:// or postgres://")));
        }
        let mut feed_names = HashSet::new();
        for feed in &self.feeds {
            if !feed_names.insert(feed.name.get_ref().as_str()) {
                problems.push((feed.name.span(), format!("feed {:?} is defined twice", feed.name.get_ref())));
            }
            match reqwest::Url::parse(feed.url.get_ref()) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
                Ok(parsed) => problems
                    .push((feed.url.span(), format!("feed url scheme {:?} is not http or https", parsed.scheme()))),
                Err(e) => problems.push((feed.url.span(), format!("bad feed url: {e}"))),
            }
            if !(feed.weight > 0.0 && feed.weight.is_finite()) {
                problems.push((feed.name.span(), "feed weight must be a positive number".to_owned()));
            }
        }
        problems.extend(self.brand_problems());
        let levels = self.risk.levels.get_ref();
        if !(levels.low <= levels.medium && levels.medium <= levels.high && levels.high <= levels.critical) {
            problems.push((self.risk.levels.span(), "risk levels must rise: low <= medium <= high <= critical".into()));
        }
        if *self.risk.open_at.get_ref() > 100 {
            problems.push((self.risk.open_at.span(), "open_at must be within 0..100".to_owned()));
        }
        if let Some(problem) = self.risk.weights.get_ref().problem() {
            problems.push((self.risk.weights.span(), problem));
        }
        let p = *self.risk.spike_p_value.get_ref();
        if !(p > 0.0 && p <= 0.5) {
            problems.push((self.risk.spike_p_value.span(), format!("spike_p_value must be in (0, 0.5], not {p}")));
        }
        let window = self.risk.spike_window.get_ref().0;
        if window.is_zero() || self.risk.spike_baseline.0 <= window {
            problems.push((
                self.risk.spike_window.span(),
                "spike_window must be longer than zero and shorter than spike_baseline".to_owned(),
            ));
        }
        let mut channel_names = HashSet::new();
        for channel in &self.channels {
            if !channel_names.insert(channel.name.get_ref().as_str()) {
                problems.push((channel.name.span(), format!("channel {:?} is defined twice", channel.name.get_ref())));
            }
            match channel.kind {
                ChannelKind::Email if channel.to.is_empty() => {
                    problems.push((channel.name.span(), "an email channel needs `to` addresses".to_owned()))
                }
                ChannelKind::Email => {
                    for address in &channel.to {
                        if address.parse::<lettre::message::Mailbox>().is_err() {
                            problems.push((channel.name.span(), format!("bad email address {address:?}")));
                        }
                    }
                }
                ChannelKind::Telegram => {
                    if channel.secret_env.is_none() {
                        problems.push((
                            channel.name.span(),
                            "a telegram channel needs `secret_env`: the variable holding the bot token".to_owned(),
                        ));
                    }
                    if channel.chat_id.as_deref().is_none_or(|id| id.trim().is_empty()) {
                        problems.push((
                            channel.name.span(),
                            "a telegram channel needs `chat_id`: the chat the bot posts to".to_owned(),
                        ));
                    }
                    if let Some(url) = &channel.url
                        && reqwest::Url::parse(url.get_ref()).is_err()
                    {
                        problems.push((url.span(), format!("bad url {:?}", url.get_ref())));
                    }
                }
                ChannelKind::PagerDuty | ChannelKind::Opsgenie => {
                    if channel.secret_env.is_none() {
                        let what = if channel.kind == ChannelKind::Opsgenie {
                            "an opsgenie channel needs `secret_env`: the variable holding the integration's API key"
                        } else {
                            "a pagerduty channel needs `secret_env`: the variable holding the integration's routing key"
                        };
                        problems.push((channel.name.span(), what.to_owned()));
                    }
                    if let Some(url) = &channel.url
                        && reqwest::Url::parse(url.get_ref()).is_err()
                    {
                        problems.push((url.span(), format!("bad url {:?}", url.get_ref())));
                    }
                }
                ChannelKind::Ntfy => match &channel.url {
                    None => problems.push((
                        channel.name.span(),
                        "an ntfy channel needs `url`: the topic's URL, such as https://ntfy.sh/acme-alerts".to_owned(),
                    )),
                    Some(url) => match reqwest::Url::parse(url.get_ref()) {
                        Ok(parsed)
                            if parsed
                                .path_segments()
                                .and_then(|mut s| s.next_back())
                                .is_some_and(|t| !t.is_empty()) => {}
                        Ok(_) => problems
                            .push((url.span(), format!("{:?} names no topic: end it with /TOPIC", url.get_ref()))),
                        Err(_) => problems.push((url.span(), format!("bad url {:?}", url.get_ref()))),
                    },
                },
                ChannelKind::Webhook
                | ChannelKind::Slack
                | ChannelKind::DingTalk
                | ChannelKind::WeCom
                | ChannelKind::Feishu
                | ChannelKind::Teams => match &channel.url {
                    None => problems.push((channel.name.span(), "this channel needs `url`".to_owned())),
                    Some(url) => {
                        if reqwest::Url::parse(url.get_ref()).is_err() {
                            problems.push((url.span(), format!("bad url {:?}", url.get_ref())));
                        }
                    }
                },
            }
            if let Err(e) = Templates::with_overrides(
                channel.title_template.as_ref().map(|t| t.get_ref().as_str()),
                channel.body_template.as_ref().map(|t| t.get_ref().as_str()),
            ) {
                let span = channel.body_template.as_ref().or(channel.title_template.as_ref()).map(Spanned::span);
                problems.push((span.unwrap_or_else(|| channel.name.span()), e.to_string()));
            }
        }
        if let Some(smtp) = &self.smtp
            && smtp.from.parse::<lettre::message::Mailbox>().is_err()
        {
            problems.push((0..0, format!("smtp.from {:?} is not an email address", smtp.from)));
        }
        for brand in &self.brands {
            if let Some(policy) = &brand.escalation
                && !self.escalations.iter().any(|p| p.name.get_ref() == policy.get_ref())
            {
                problems.push((policy.span(), format!("no [[escalation]] named {:?}", policy.get_ref())));
            }
            for (from, to) in &brand.channels {
                let used = self.escalations.iter().any(|p| {
                    p.levels.iter().flat_map(|l| l.notify.iter()).chain(p.fallback.iter()).any(|c| c.get_ref() == from)
                });
                if !used {
                    problems.push((to.span(), format!("no escalation policy notifies a channel {from:?} to replace")));
                }
                if !channel_names.contains(to.get_ref().as_str()) {
                    problems.push((to.span(), format!("no [[channel]] named {:?}", to.get_ref())));
                }
            }
        }
        let mut policy_names = HashSet::new();
        for policy in &self.escalations {
            if !policy_names.insert(policy.name.get_ref().as_str()) {
                problems.push((policy.name.span(), format!("escalation {:?} is defined twice", policy.name.get_ref())));
            }
            if policy.levels.is_empty() {
                problems.push((policy.name.span(), "an escalation policy needs at least one level".to_owned()));
            }
            let referenced = policy.levels.iter().flat_map(|l| l.notify.iter()).chain(policy.fallback.iter());
            for name in referenced {
                if !channel_names.contains(name.get_ref().as_str()) {
                    problems.push((name.span(), format!("no [[channel]] named {:?}", name.get_ref())));
                }
            }
            if policy.levels.windows(2).any(|pair| pair[0].after > pair[1].after) {
                problems.push((policy.name.span(), "escalation levels must be in order of `after`".to_owned()));
            }
        }
        problems
    }

    /// The brands' own checks: names that can be ids, no brand twice, feeds about a brand
    /// that exists.
    fn brand_problems(&self) -> Vec<(std::ops::Range<usize>, String)> {
        let mut problems = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for brand in &self.brands {
            let name = brand.name.get_ref();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                problems.push((
                    brand.name.span(),
                    format!("brand name {name:?} may hold only ASCII letters, digits, `-` and `_`"),
                ));
            }
            if let Some(first_line) = seen.insert(name.to_lowercase(), brand.place.line) {
                problems
                    .push((brand.name.span(), format!("brand {name:?} is defined twice (first on line {first_line})")));
            }
            for written in brand.names.iter().flat_map(|names| names.get_ref()).chain(&brand.exclude) {
                if written.contains('"') {
                    let span = brand.names.as_ref().map_or_else(|| brand.name.span(), Spanned::span);
                    problems.push((span, format!("brand name {written:?} may not hold a double quote")));
                }
            }
            if !(brand.weight > 0.0 && brand.weight.is_finite()) {
                problems.push((brand.name.span(), "brand weight must be a positive number".to_owned()));
            }
            if !brand.sources.is_empty() && brand.names().is_empty() {
                problems.push((brand.name.span(), format!("brand {name:?} has sources but no `names` to search for")));
            }
        }
        for feed in &self.feeds {
            if let Some(brand) = &feed.brand
                && self.brand(brand.get_ref()).is_none()
            {
                problems.push((brand.span(), format!("no [[brand]] named {:?}", brand.get_ref())));
            }
        }
        problems
    }

    /// Adds the search feeds every `[[watch]]` derives (see docs/sources.md); returns the
    /// sources it could not derive.
    fn expand_watches(&mut self) -> Vec<(std::ops::Range<usize>, String)> {
        let mut problems = Vec::new();
        let mut derived = Vec::new();
        for watch in &self.watches {
            for source in &watch.sources {
                match watch_feeds(watch.query.get_ref(), source.get_ref(), self.sources.rsshub.as_deref()) {
                    Ok(feeds) => {
                        for (suffix, url) in feeds {
                            derived.push(FeedConfig {
                                name: Spanned::new(source.span(), format!("{}-{suffix}", watch.name.get_ref())),
                                url: Spanned::new(source.span(), url),
                                interval: watch.interval,
                                weight: watch.weight,
                                lang: watch.lang,
                                tags: watch.tags.clone(),
                                brand: None,
                            });
                        }
                    }
                    Err(message) => problems.push((source.span(), message)),
                }
            }
        }
        self.feeds.extend(derived);
        problems
    }

    /// Adds the search feeds every `[[brand]]` derives from its names, each named
    /// `<brand>-<source>` and about the brand; returns the sources it could not derive.
    fn expand_brands(&mut self) -> Vec<(std::ops::Range<usize>, String)> {
        let mut problems = Vec::new();
        let mut derived = Vec::new();
        for brand in &self.brands {
            let names = brand.names();
            if names.is_empty() {
                continue;
            }
            for source in &brand.sources {
                // A one-keyword source (RSSHub) takes each name; look-alikes are the rules' to drop.
                let query = if source.get_ref().starts_with("rsshub:") {
                    names.iter().map(|name| format!("\"{name}\"")).collect::<Vec<_>>().join(" OR ")
                } else {
                    brand.search_query()
                };
                match watch_feeds(&query, source.get_ref(), self.sources.rsshub.as_deref()) {
                    Ok(feeds) => {
                        for (suffix, url) in feeds {
                            derived.push(FeedConfig {
                                name: Spanned::new(source.span(), format!("{}-{suffix}", brand.name.get_ref())),
                                url: Spanned::new(source.span(), url),
                                interval: brand.interval,
                                weight: brand.weight,
                                lang: brand.lang,
                                tags: brand.tags.clone(),
                                brand: Some(brand.name.clone()),
                            });
                        }
                    }
                    Err(message) => problems.push((source.span(), message)),
                }
            }
        }
        self.feeds.extend(derived);
        problems
    }

    /// The brands as the rules see them, in config order.
    pub fn brand_specs(&self) -> Vec<crate::analyze::BrandSpec> {
        self.brands
            .iter()
            .map(|brand| crate::analyze::BrandSpec {
                name: brand.name.get_ref().clone(),
                names: brand.names(),
                exclude: brand.exclude.iter().map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()).collect(),
                competitor: brand.competitor,
            })
            .collect()
    }

    /// Each brand's compiled view of `rules`, with the brand each brand feed is about;
    /// `None` without `[[brand]]`.
    pub fn brand_rules(
        &self,
        rules: &crate::analyze::RuleSet,
    ) -> Result<Option<crate::analyze::Brands>, crate::analyze::matcher::BuildError> {
        if self.brands.is_empty() {
            return Ok(None);
        }
        let feed_brands = self.feed_brands();
        let feeds = feed_brands.iter().map(|(feed, brand)| (feed.as_str(), brand.as_str()));
        crate::analyze::Brands::new(rules, &self.brand_specs(), feeds).map(Some)
    }

    /// The brand each feed is about, by feed name.
    pub fn feed_brands(&self) -> HashMap<String, String> {
        self.feeds
            .iter()
            .filter_map(|feed| Some((feed.name.get_ref().clone(), feed.brand.as_ref()?.get_ref().clone())))
            .collect()
    }

    pub fn brand(&self, name: &str) -> Option<&BrandConfig> {
        self.brands.iter().find(|b| b.name.get_ref() == name)
    }

    /// The brand existing data without one is filed under when brands are configured:
    /// the first client brand. `None` without `[[brand]]`.
    pub fn adopting_brand(&self) -> Option<&str> {
        self.brands.iter().find(|b| !b.competitor).map(|b| b.name.get_ref().as_str())
    }

    pub fn feed(&self, name: &str) -> Option<&FeedConfig> {
        self.feeds.iter().find(|f| f.name.get_ref() == name)
    }

    pub fn channel(&self, name: &str) -> Option<&ChannelConfig> {
        self.channels.iter().find(|c| c.name.get_ref() == name)
    }

    /// The named escalation policy, else the one called "default", else the first.
    pub fn escalation(&self, name: Option<&str>) -> Option<&EscalationPolicy> {
        let by_name = |wanted: &str| self.escalations.iter().find(|p| p.name.get_ref() == wanted);
        name.and_then(by_name).or_else(|| by_name("default")).or_else(|| self.escalations.first())
    }
}

impl fmt::Display for LangSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LangSetting::Auto => "auto",
            LangSetting::En => "en",
            LangSetting::Zh => "zh",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        match Config::parse("t.toml", text) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn push_channels_say_what_they_are_missing() {
        let found = errors(
            "[[channel]]\nname = \"tg\"\nkind = \"telegram\"\n\n\
             [[channel]]\nname = \"phones\"\nkind = \"ntfy\"\nurl = \"https://ntfy.sh/\"\n\n\
             [[channel]]\nname = \"teams\"\nkind = \"teams\"\n",
        );
        let said = found.join("\n");
        for expected in [
            "a telegram channel needs `secret_env`: the variable holding the bot token",
            "a telegram channel needs `chat_id`",
            "\"https://ntfy.sh/\" names no topic: end it with /TOPIC",
            "this channel needs `url`",
        ] {
            assert!(said.contains(expected), "{expected} missing from:\n{said}");
        }
        let fine = "[[channel]]\nname = \"tg\"\nkind = \"telegram\"\nsecret_env = \"T\"\nchat_id = \"-100\"\n\n\
                    [[channel]]\nname = \"phones\"\nkind = \"ntfy\"\nurl = \"https://ntfy.sh/acme\"\n";
        assert_eq!(errors(fine), Vec::<String>::new());
    }

    #[test]
    fn empty_config_takes_documented_defaults() {
        let config = Config::parse("t.toml", "").expect("empty config is valid");
        assert_eq!(config.store.url.get_ref(), "sqlite://tocsin.db");
        assert_eq!(config.poll.default_interval.0, Duration::from_secs(300));
        assert_eq!(config.poll.max_bytes.0, 10_000_000);
        assert_eq!(config.risk.open_at(), 60);
        assert_eq!(config.http.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn risk_weights_and_spike_settings_are_checked_where_written() {
        let config = Config::parse("t.toml", "").expect("defaults");
        let spike = config.risk.spike();
        assert_eq!((spike.window, spike.min_history), (chrono::Duration::minutes(15), chrono::Duration::days(1)));
        assert_eq!((spike.baseline, spike.p_value, spike.min_count), (chrono::Duration::days(7), 0.001, 5));
        assert_eq!(spike.min_baseline, 5.0);
        assert_eq!(*config.risk.weights.get_ref(), RiskWeights::default());

        let text = "[risk]\nspike_p_value = 0.9\nspike_window = \"8d\"\n\n[risk.weights]\nnegativity_gain = 2.0\n";
        let found = errors(text);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.iter().any(|e| e.starts_with("t.toml:2:17: spike_p_value must be in (0, 0.5]")), "{found:?}");
        assert!(found.iter().any(|e| e.starts_with("t.toml:3:16: spike_window must be longer")), "{found:?}");
        assert!(found.iter().any(|e| e.contains("negativity_gain must be between 0 and 1, not 2")), "{found:?}");
        let found = errors("[risk.weights]\nnovelty = 1\n");
        assert!(found[0].starts_with("t.toml:2:1: unknown field `novelty`"), "{found:?}");
    }

    #[test]
    fn unknown_key_is_located() {
        let found = errors("[poll]\ndefault_interval = \"5m\"\nintervall = \"1m\"\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("t.toml:3:1: "), "{found:?}");
        assert!(found[0].contains("intervall"), "{found:?}");
    }

    #[test]
    fn bad_duration_is_located_at_the_value() {
        let found = errors("[poll]\ntimeout = \"soon\"\n");
        assert!(found[0].starts_with("t.toml:2:11: "), "{found:?}");
        assert!(found[0].contains("bad duration"), "{found:?}");
    }

    #[test]
    fn escalation_to_unknown_channel_and_bad_feed_url_are_both_reported() {
        let text = r#"
[[feed]]
name = "a"
url = "ftp://example.com/feed"

[[channel]]
name = "pr"
kind = "email"
to = ["pr@example.com"]

[[escalation]]
name = "default"
levels = [{ after = "0m", notify = ["pr", "nobody"] }]
"#;
        let found = errors(text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().any(|e| e.starts_with("t.toml:4:7: ") && e.contains("ftp")), "{found:?}");
        assert!(found.iter().any(|e| e.starts_with("t.toml:13:43: ") && e.contains("nobody")), "{found:?}");
    }

    #[test]
    fn a_watch_derives_encoded_search_feeds_and_one_rsshub_feed_per_keyword() {
        let text = r#"
[sources]
rsshub = "https://rsshub.example.org/"

[[watch]]
name = "acme"
query = 'Acme OR 艾克米'
sources = ["google-news", "reddit", "hackernews", "rsshub:weibo", "rsshub:/zhihu/search/{q}"]
"#;
        let config = Config::parse("t.toml", text).expect("valid");
        let urls: Vec<(&str, &str)> =
            config.feeds.iter().map(|f| (f.name.get_ref().as_str(), f.url.get_ref().as_str())).collect();
        assert_eq!(
            urls,
            vec![
                ("acme-google-news", "https://news.google.com/rss/search?q=Acme+OR+%E8%89%BE%E5%85%8B%E7%B1%B3"),
                ("acme-reddit", "https://www.reddit.com/search.rss?q=Acme+OR+%E8%89%BE%E5%85%8B%E7%B1%B3&sort=new"),
                ("acme-hackernews", "https://hnrss.org/newest?q=Acme+OR+%E8%89%BE%E5%85%8B%E7%B1%B3"),
                ("acme-weibo-1", "https://rsshub.example.org/weibo/keyword/Acme"),
                ("acme-weibo-2", "https://rsshub.example.org/weibo/keyword/%E8%89%BE%E5%85%8B%E7%B1%B3"),
                ("acme-zhihu-1", "https://rsshub.example.org/zhihu/search/Acme"),
                ("acme-zhihu-2", "https://rsshub.example.org/zhihu/search/%E8%89%BE%E5%85%8B%E7%B1%B3"),
            ]
        );
    }

    #[test]
    fn watch_sources_that_cannot_be_derived_are_located() {
        let text = "[[watch]]\nname = \"a\"\nquery = \"Acme\"\nsources = [\"rsshub:weibo\", \"myspace\"]\n";
        let found = errors(text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("t.toml:4:12: ") && found[0].contains("[sources] rsshub"), "{found:?}");
        assert!(found[1].starts_with("t.toml:4:28: ") && found[1].contains("unknown watch source"), "{found:?}");
    }

    #[test]
    fn level_boundaries_follow_config() {
        let config = Config::default();
        use crate::incident::Level;
        assert_eq!(config.risk.level_for(39), Level::Low);
        assert_eq!(config.risk.level_for(40), Level::Medium);
        assert_eq!(config.risk.level_for(60), Level::High);
        assert_eq!(config.risk.level_for(80), Level::Critical);
    }
}
