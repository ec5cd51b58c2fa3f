//! The outbox worker: claims due notifications, renders and delivers each to its channel,
//! and records the attempt. Delivery is at least once: a worker that dies mid-send leaves
//! the row claimed only until its lease ends, and the retry carries the same notice id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::breaker::{AttemptOutcome, Availability};
use super::chat::{self, ChatChannel, ChatKind};
use super::email::{self, EmailTransport};
use super::template::{Lang, Templates};
use super::webhook::{self, Delivery};
use super::{Links, Notice, NoticeKind};
use crate::config::{ChannelKind, Config, DeliveryConfig};
use crate::incident::ack_link::AckLinks;
use crate::store::{Attempt, AttemptResult, OutboxItem, Store, StoreError};

/// How many mentions an alert lists.
pub const TOP_MENTIONS: i64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("channel {channel:?}: environment variable {var} is not set")]
    MissingSecret { channel: String, var: String },
    #[error("channel {channel:?}: {message}")]
    Invalid { channel: String, message: String },
}

/// A configured channel, ready to send.
enum Target {
    Email { transport: Arc<EmailTransport>, from: String, to: Vec<String> },
    Webhook { url: String, keys: Vec<Vec<u8>> },
    Chat { kind: ChatKind, url: String, secret: Option<String>, lang: Lang, templates: Box<Templates> },
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
                ChannelKind::Slack | ChannelKind::DingTalk | ChannelKind::WeCom | ChannelKind::Feishu => {
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
                    Target::Chat { kind, url, secret, lang: channel.lang, templates: Box::new(templates) }
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
            Some(Target::Chat { kind, url, secret, lang, templates }) => {
                let channel = ChatChannel { kind: *kind, url, secret: secret.as_deref(), lang: *lang };
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

    /// Delivers every notice due at `now`; returns how many were attempted.
    pub async fn run_due(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let claimed = self.store.claim_notices(now, self.policy.claim_lease.chrono(), 32).await?;
        for item in &claimed {
            self.deliver_one(item, now).await?;
        }
        Ok(claimed.len())
    }

    async fn notice(&self, item: &OutboxItem, now: DateTime<Utc>) -> Result<Option<Notice>, StoreError> {
        let Some(incident) = self.store.incident(item.incident_id).await? else {
            return Ok(None);
        };
        let top_mentions = self.store.top_mentions(item.incident_id, TOP_MENTIONS).await?;
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
        // Rendered at delivery time from the incident as it stands, so a late retry shows the
        // current status; the id stays the outbox row's, so the receiver can deduplicate.
        Ok(Some(Notice { id: item.notice_id.clone(), kind: item.kind, incident, top_mentions, links, overdue_steps }))
    }

    async fn deliver_one(&self, item: &OutboxItem, now: DateTime<Utc>) -> Result<(), StoreError> {
        let health = self.store.channel_health(&item.channel).await?;
        let why_out = match health.availability(now) {
            Availability::Up => None,
            Availability::Tripped { until } => Some((
                format!(
                    "channel {} failed {} times in a row; its breaker is open until {until}",
                    item.channel, health.failures
                ),
                Some(until),
            )),
            Availability::Disabled { reason } => {
                Some((format!("channel {} is disabled: {reason}", item.channel), None))
            }
        };
        if let Some((why, reopens_at)) = why_out {
            return self.send_elsewhere(item, &why, reopens_at, now).await;
        }
        let started = Instant::now();
        let delivery = match self.notice(item, now).await? {
            Some(notice) => self.channels.deliver(&item.channel, &notice, now).await,
            None => Delivery::Permanent { error: format!("incident {} no longer exists", item.incident_id) },
        };
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let mut detail = delivery.describe();
        let result = match &delivery {
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
        let outcome = match &delivery {
            Delivery::Delivered { .. } => AttemptOutcome::Delivered,
            Delivery::Gone { .. } => AttemptOutcome::Gone,
            Delivery::Retry { .. } | Delivery::Permanent { .. } => AttemptOutcome::Failed,
        };
        let after = health.after(outcome, now, &self.policy.breaker());
        if after.availability(now) != health.availability(now) {
            tracing::warn!(channel = %item.channel, availability = ?after.availability(now), "channel health changed");
        }
        self.store.save_channel_health(&after).await?;
        self.store.finish_notice(item, &Attempt { result, detail, duration_ms }, now).await
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
                self.store.finish_notice(item, &attempt, now).await
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
