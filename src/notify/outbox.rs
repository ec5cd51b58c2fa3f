//! The outbox worker: claims due notifications, renders and delivers each to its channel,
//! and records the attempt. Delivery is at least once: a worker that dies mid-send leaves
//! the row claimed only until its lease ends, and the retry carries the same notice id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use futures_util::StreamExt;

use super::breaker::{AttemptOutcome, Availability, ChannelHealth};
use super::chat::{self, ChatChannel, ChatKind};
use super::email::{self, EmailTransport};
use super::template::Templates;
use super::webhook::{self, Delivery};
use super::{Links, Notice, NoticeKind};
use super::{opsgenie, pagerduty};
use crate::config::{ChannelKind, Config, DeliveryConfig};
use crate::incident::ack_link::AckLinks;
use crate::incident::{Incident, MentionSummary};
use crate::lang::Lang;
use crate::store::{Attempt, AttemptResult, OutboxItem, Store, StoreError};

/// How many mentions an alert lists.
pub const TOP_MENTIONS: i64 = 5;
/// Notices claimed per pass, and how many of them are in flight at once.
const CLAIM_BATCH: i64 = 64;
const SEND_CONCURRENCY: usize = 16;

/// What an attempt means for its channel's health.
fn outcome(delivery: &Delivery) -> AttemptOutcome {
    match delivery {
        Delivery::Delivered { .. } => AttemptOutcome::Delivered,
        Delivery::Gone { .. } => AttemptOutcome::Gone,
        Delivery::Retry { .. } | Delivery::Permanent { .. } => AttemptOutcome::Failed,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("channel {channel:?}: environment variable {var} is not set")]
    MissingSecret { channel: String, var: String },
    #[error("channel {channel:?}: {message}")]
    Invalid { channel: String, message: String },
}

/// A configured channel, ready to send.
enum Target {
    Email {
        transport: Arc<EmailTransport>,
        from: String,
        to: Vec<String>,
    },
    Webhook {
        url: String,
        keys: Vec<Vec<u8>>,
    },
    PagerDuty {
        url: String,
        routing_key: String,
    },
    Opsgenie {
        url: String,
        key: String,
    },
    Chat {
        kind: ChatKind,
        url: String,
        secret: Option<String>,
        chat_id: Option<String>,
        lang: Lang,
        templates: Box<Templates>,
    },
}

/// Every configured channel by name, with its transport built once.
pub struct Channels {
    targets: HashMap<String, Target>,
    http: reqwest::Client,
    thread_domain: String,
}

impl Channels {
    /// Builds the channels of a config, reading secrets from the environment.
    pub fn from_config(config: &Config, http: reqwest::Client) -> Result<Channels, ChannelError> {
        let email_transport = || -> Result<(Arc<EmailTransport>, String), ChannelError> {
            let invalid =
                |e: email::EmailError| ChannelError::Invalid { channel: "email".into(), message: e.to_string() };
            match &config.smtp {
                Some(smtp) => {
                    let credentials = match (&smtp.username, &smtp.password_env) {
                        (Some(user), Some(var)) => {
                            let password = std::env::var(var).map_err(|_| ChannelError::MissingSecret {
                                channel: "smtp".into(),
                                var: var.clone(),
                            })?;
                            Some((user.clone(), password))
                        }
                        _ => None,
                    };
                    let transport = EmailTransport::smtp(&smtp.host, smtp.port, smtp.tls, credentials, smtp.timeout.0)
                        .map_err(invalid)?;
                    Ok((Arc::new(transport), smtp.from.clone()))
                }
                None => Ok((
                    Arc::new(EmailTransport::mailbox(&config.mailbox.dir).map_err(invalid)?),
                    config.mailbox.from.clone(),
                )),
            }
        };
        let mut shared_email = None;
        let mut targets = HashMap::new();
        for channel in &config.channels {
            let name = channel.name.get_ref().clone();
            let target = match channel.kind {
                ChannelKind::Email => {
                    if shared_email.is_none() {
                        shared_email = Some(email_transport()?);
                    }
                    let Some((transport, from)) = shared_email.clone() else {
                        continue;
                    };
                    Target::Email { transport, from, to: channel.to.clone() }
                }
                ChannelKind::Webhook => {
                    let url = channel.url.as_ref().map(|u| u.get_ref().clone()).unwrap_or_default();
                    let keys = match &channel.secret_env {
                        Some(var) => {
                            let value = std::env::var(var)
                                .map_err(|_| ChannelError::MissingSecret { channel: name.clone(), var: var.clone() })?;
                            value
                                .split_whitespace()
                                .map(webhook::standard_webhooks_key)
                                .collect::<Result<Vec<_>, _>>()
                                .map_err(|e| ChannelError::Invalid { channel: name.clone(), message: e.to_string() })?
                        }
                        None => Vec::new(),
                    };
                    Target::Webhook { url, keys }
                }
                ChannelKind::PagerDuty => {
                    let var = channel.secret_env.clone().unwrap_or_default();
                    let routing_key = std::env::var(&var)
                        .map_err(|_| ChannelError::MissingSecret { channel: name.clone(), var: var.clone() })?;
                    let url =
                        channel.url.as_ref().map_or_else(|| pagerduty::EVENTS_API.to_owned(), |u| u.get_ref().clone());
                    Target::PagerDuty { url, routing_key: routing_key.trim().to_owned() }
                }
                ChannelKind::Opsgenie => {
                    let var = channel.secret_env.clone().unwrap_or_default();
                    let key = std::env::var(&var)
                        .map_err(|_| ChannelError::MissingSecret { channel: name.clone(), var: var.clone() })?;
                    let url =
                        channel.url.as_ref().map_or_else(|| opsgenie::ALERT_API.to_owned(), |u| u.get_ref().clone());
                    Target::Opsgenie { url, key: key.trim().to_owned() }
                }
                ChannelKind::Slack
                | ChannelKind::DingTalk
                | ChannelKind::WeCom
                | ChannelKind::Feishu
                | ChannelKind::Telegram
                | ChannelKind::Ntfy
                | ChannelKind::Teams => {
                    let Some(kind) = channel.kind.chat() else { continue };
                    let secret = match &channel.secret_env {
                        Some(var) => Some(
                            std::env::var(var)
                                .map_err(|_| ChannelError::MissingSecret { channel: name.clone(), var: var.clone() })?,
                        ),
                        None => None,
                    };
                    let templates = Templates::with_overrides(
                        channel.title_template.as_ref().map(|t| t.get_ref().as_str()),
                        channel.body_template.as_ref().map(|t| t.get_ref().as_str()),
                    )
                    .map_err(|e| ChannelError::Invalid { channel: name.clone(), message: e.to_string() })?;
                    let url = channel.url.as_ref().map(|u| u.get_ref().clone()).unwrap_or_default();
                    let chat_id = channel.chat_id.clone();
                    Target::Chat { kind, url, secret, chat_id, lang: channel.lang, templates: Box::new(templates) }
                }
            };
            targets.insert(name, target);
        }
        let public = config.http.public_url();
        let thread_domain = reqwest::Url::parse(&public)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".to_owned());
        Ok(Channels { targets, http, thread_domain })
    }

    async fn deliver(&self, channel: &str, notice: &Notice, now: DateTime<Utc>) -> Delivery {
        match self.targets.get(channel) {
            None => Delivery::Permanent { error: format!("no channel named {channel:?} is configured") },
            Some(Target::Webhook { url, keys }) => webhook::send(&self.http, url, keys, notice, now).await,
            Some(Target::PagerDuty { url, routing_key }) => {
                pagerduty::send(&self.http, url, routing_key, notice, now).await
            }
            Some(Target::Opsgenie { url, key }) => opsgenie::send(&self.http, url, key, notice, now).await,
            Some(Target::Chat { kind, url, secret, chat_id, lang, templates }) => {
                let (secret, chat_id) = (secret.as_deref(), chat_id.as_deref());
                let channel = ChatChannel { kind: *kind, url, secret, chat_id, lang: *lang };
                chat::send(&self.http, &channel, notice, templates, now).await
            }
            Some(Target::Email { transport, from, to }) => {
                match email::compose(notice, from, to, &self.thread_domain) {
                    Ok(message) => email::send(transport, message).await,
                    Err(e) => Delivery::Permanent { error: e.to_string() },
                }
            }
        }
    }
}

/// The next try after `attempts` failures: exponential from `first`, capped at `max`, with
/// ±20% jitter so many failing notices don't retry in lockstep; never sooner than the
/// receiver asked.
pub fn retry_delay(policy: &DeliveryConfig, attempts: i64, retry_after: Option<Duration>, jitter: f64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 30)).unwrap_or(30);
    let base = policy.first_retry.0.saturating_mul(2u32.saturating_pow(exponent)).min(policy.max_retry.0);
    let jittered = base.mul_f64((1.0 + jitter.clamp(-1.0, 1.0) * 0.2).max(0.0));
    retry_after.map_or(jittered, |asked| jittered.max(asked))
}

/// Delivers due notices from the outbox.
pub struct Deliverer<S> {
    store: Arc<S>,
    channels: Channels,
    links: AckLinks,
    public_url: String,
    policy: DeliveryConfig,
}

impl<S: Store> Deliverer<S> {
    pub fn new(store: Arc<S>, channels: Channels, links: AckLinks, public_url: String, policy: DeliveryConfig) -> Self {
        Deliverer { store, channels, links, public_url, policy }
    }

    /// Delivers every notice due at `now` (a batch claimed at a time, sent concurrently,
    /// recorded in one transaction); returns how many were attempted or rerouted.
    pub async fn run_due(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let claimed = self.store.claim_notices(now, self.policy.claim_lease.chrono(), CLAIM_BATCH).await?;
        let mut healths: HashMap<String, ChannelHealth> = HashMap::new();
        let mut rendered: HashMap<i64, Option<(Incident, Vec<MentionSummary>)>> = HashMap::new();
        let (mut sendable, mut held_back) = (Vec::new(), Vec::new());
        for item in &claimed {
            if !healths.contains_key(&item.channel) {
                let health = self.store.channel_health(&item.channel).await?;
                healths.insert(item.channel.clone(), health);
            }
            let Some(health) = healths.get(&item.channel) else { continue };
            match health.availability(now) {
                Availability::Up => {}
                Availability::Tripped { until } => {
                    let why = format!(
                        "channel {} failed {} times in a row; its breaker is open until {until}",
                        item.channel, health.failures
                    );
                    self.send_elsewhere(item, &why, Some(until), now).await?;
                    continue;
                }
                Availability::Disabled { reason } => {
                    let why = format!("channel {} is disabled: {reason}", item.channel);
                    self.send_elsewhere(item, &why, None, now).await?;
                    continue;
                }
            }
            // A channel that failed last time is probed with one notice, not flooded.
            if health.failures > 0 && sendable.iter().any(|(i, _): &(OutboxItem, _)| i.channel == item.channel) {
                held_back.push(item.id);
                continue;
            }
            if let std::collections::hash_map::Entry::Vacant(entry) = rendered.entry(item.incident_id) {
                let incident = self.store.incident(item.incident_id).await?;
                let top = match &incident {
                    Some(_) => self.store.top_mentions(item.incident_id, TOP_MENTIONS).await?,
                    None => Vec::new(),
                };
                entry.insert(incident.map(|incident| (incident, top)));
            }
            let notice = match rendered.get(&item.incident_id) {
                Some(Some((incident, top))) => Some(self.notice(item, incident.clone(), top.clone(), now).await?),
                _ => None,
            };
            sendable.push((item.clone(), notice));
        }
        self.store.release_notices(&held_back, now).await?;
        let sent: Vec<(OutboxItem, Delivery, i64)> = futures_util::stream::iter(sendable)
            .map(|(item, notice)| self.send(item, notice, now))
            .buffered(SEND_CONCURRENCY)
            .collect()
            .await;
        let before = healths.clone();
        let mut finished = Vec::with_capacity(sent.len());
        for (item, delivery, duration_ms) in sent {
            if let Some(health) = healths.get_mut(&item.channel) {
                let after = health.after(outcome(&delivery), now, &self.policy.breaker());
                if after.availability(now) != health.availability(now) {
                    tracing::warn!(channel = %item.channel, availability = ?after.availability(now), "channel health changed");
                }
                *health = after;
            }
            let attempt = self.attempt(&item, &delivery, duration_ms, now);
            finished.push((item, attempt));
        }
        self.store.finish_notices(&finished, now).await?;
        // Only what the attempts changed: a healthy channel delivering stays one row untouched.
        for (name, health) in &healths {
            if before.get(name) != Some(health) {
                self.store.save_channel_health(health).await?;
            }
        }
        Ok(claimed.len() - held_back.len())
    }

    /// One attempt: the notice to its channel, timed.
    async fn send(&self, item: OutboxItem, notice: Option<Notice>, now: DateTime<Utc>) -> (OutboxItem, Delivery, i64) {
        let started = Instant::now();
        let delivery = match notice {
            Some(notice) => self.channels.deliver(&item.channel, &notice, now).await,
            None => Delivery::Permanent { error: format!("incident {} no longer exists", item.incident_id) },
        };
        (item, delivery, i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX))
    }

    /// The notice for an outbox row, rendered now from the incident as it stands (a late
    /// retry shows the current status); the id stays the row's, so receivers can deduplicate.
    async fn notice(
        &self,
        item: &OutboxItem,
        incident: Incident,
        top_mentions: Vec<MentionSummary>,
        now: DateTime<Utc>,
    ) -> Result<Notice, StoreError> {
        let links = Links {
            dashboard: format!("{}/incidents/{}", self.public_url, incident.id),
            ack: (incident.status == crate::incident::Status::Open)
                .then(|| format!("{}/ack/{}", self.public_url, self.links.token(incident.id, now))),
        };
        let overdue_steps = if item.kind == NoticeKind::StepOverdue {
            let checklist = self.store.checklist(item.incident_id).await?;
            checklist
                .steps
                .into_iter()
                .filter(|s| s.done.is_none() && s.due_at.is_some_and(|due| due <= now))
                .map(|s| s.step.title)
                .collect()
        } else {
            Vec::new()
        };
        let acted_by = match item.kind {
            NoticeKind::Acknowledged | NoticeKind::Resolved | NoticeKind::Reopened => {
                let kind = match item.kind {
                    NoticeKind::Acknowledged => "acknowledged",
                    NoticeKind::Resolved => "resolved",
                    _ => "reopened",
                };
                let events = self.store.timeline(item.incident_id).await?;
                events.into_iter().rev().find(|e| e.kind == kind && e.at <= item.created_at).map(|e| e.actor)
            }
            _ => None,
        };
        Ok(Notice {
            id: item.notice_id.clone(),
            kind: item.kind,
            incident,
            top_mentions,
            links,
            overdue_steps,
            update: item.message.clone(),
            acted_by,
        })
    }

    /// What to record for one attempt: delivered, retry when (backoff, Retry-After, give-up
    /// age), or failed.
    fn attempt(&self, item: &OutboxItem, delivery: &Delivery, duration_ms: i64, now: DateTime<Utc>) -> Attempt {
        let mut detail = delivery.describe();
        let result = match delivery {
            Delivery::Delivered { .. } => AttemptResult::Delivered,
            Delivery::Permanent { .. } | Delivery::Gone { .. } => AttemptResult::Failed,
            Delivery::Retry { retry_after, .. } => {
                let jitter = rand::random::<f64>() * 2.0 - 1.0;
                let delay = retry_delay(&self.policy, item.attempts, *retry_after, jitter);
                let next = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                if next - item.created_at > self.policy.give_up_after.chrono() {
                    detail =
                        format!("gave up after {}: {detail}", humantime::format_duration(self.policy.give_up_after.0));
                    AttemptResult::Failed
                } else {
                    AttemptResult::RetryAt(next)
                }
            }
        };
        match &result {
            AttemptResult::Delivered => {
                tracing::info!(notice = %item.notice_id, channel = %item.channel, incident = item.incident_id, "delivered");
                metrics::counter!("tocsin_notices_delivered_total").increment(1);
            }
            _ => {
                tracing::warn!(notice = %item.notice_id, channel = %item.channel, incident = item.incident_id, %detail, "delivery failed");
                metrics::counter!("tocsin_notice_failures_total").increment(1);
            }
        }
        Attempt { result, detail, duration_ms }
    }

    /// A notice for a channel that is out: to the incident policy's fallback when there is
    /// a usable one (once: a rerouted notice is not passed on again), else it waits for the
    /// breaker to close, or fails when the channel is disabled.
    async fn send_elsewhere(
        &self,
        item: &OutboxItem,
        why: &str,
        reopens_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let fallback = match &item.rerouted_from {
            Some(_) => None,
            None => self.store.policy(item.incident_id).await?.fallback.filter(|f| *f != item.channel),
        };
        let fallback = match fallback {
            Some(name) => match self.store.channel_health(&name).await?.availability(now) {
                Availability::Up => Some(name),
                Availability::Tripped { .. } | Availability::Disabled { .. } => None,
            },
            None => None,
        };
        match (fallback, reopens_at) {
            (Some(fallback), _) => {
                tracing::warn!(notice = %item.notice_id, channel = %item.channel, %fallback, "sent to the fallback channel");
                self.store.reroute(item, Some(&fallback), &format!("{why}; sent to fallback {fallback}"), now).await
            }
            (None, Some(until)) => {
                let attempt = Attempt {
                    result: AttemptResult::RetryAt(until),
                    detail: format!("{why}; no usable fallback, waiting"),
                    duration_ms: 0,
                };
                self.store.finish_notices(&[(item.clone(), attempt)], now).await
            }
            (None, None) => self.store.reroute(item, None, &format!("{why}; no usable fallback"), now).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HumanDuration;

    #[test]
    fn retries_back_off_exponentially_up_to_the_cap_and_honour_retry_after() {
        let policy = DeliveryConfig {
            first_retry: HumanDuration(Duration::from_secs(5)),
            max_retry: HumanDuration(Duration::from_secs(60)),
            ..DeliveryConfig::default()
        };
        assert_eq!(retry_delay(&policy, 0, None, 0.0), Duration::from_secs(5));
        assert_eq!(retry_delay(&policy, 2, None, 0.0), Duration::from_secs(20));
        assert_eq!(retry_delay(&policy, 10, None, 0.0), Duration::from_secs(60));
        assert_eq!(retry_delay(&policy, 0, None, 1.0), Duration::from_secs(6));
        assert_eq!(retry_delay(&policy, 0, Some(Duration::from_secs(30)), 0.0), Duration::from_secs(30));
    }
}
