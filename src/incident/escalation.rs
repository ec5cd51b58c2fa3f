//! Escalation as a pure function of the incident's copied policy, its state and the clock.
//!
//! The daemon never keeps escalation in memory timers: the incident row stores the next due
//! time, and whichever worker sees it due fires exactly one step, guarded by the step number
//! it read, so a restart resumes and a stale or duplicate step is skipped.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::NoticeKind;
use crate::config::EscalationPolicy;

/// One level of a copied policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyLevel {
    pub after_secs: i64,
    pub notify: Vec<String>,
}

/// The escalation policy as copied onto an incident when it opens, so later config edits
/// do not change a running incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    pub levels: Vec<PolicyLevel>,
    pub repeat_every_secs: Option<i64>,
    pub max_repeats: u32,
    pub group_wait_secs: i64,
    pub ack_timeout_secs: Option<i64>,
    pub fallback: Option<String>,
}

fn secs(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

impl From<&EscalationPolicy> for Policy {
    fn from(policy: &EscalationPolicy) -> Self {
        Policy {
            name: policy.name.get_ref().clone(),
            levels: policy
                .levels
                .iter()
                .map(|level| PolicyLevel {
                    after_secs: secs(level.after.0),
                    notify: level.notify.iter().map(|n| n.get_ref().clone()).collect(),
                })
                .collect(),
            repeat_every_secs: policy.repeat_every.map(|d| secs(d.0)),
            max_repeats: policy.max_repeats,
            group_wait_secs: secs(policy.group_wait.0),
            ack_timeout_secs: policy.ack_timeout.map(|d| secs(d.0)),
            fallback: policy.fallback.as_ref().map(|f| f.get_ref().clone()),
        }
    }
}

impl Policy {
    /// The same policy telling other channels: each channel named in `replace` is told in
    /// its place (a brand's own team on a shared policy's timing).
    pub fn with_channels(mut self, replace: &std::collections::BTreeMap<String, String>) -> Policy {
        let swap = |name: &mut String| {
            if let Some(own) = replace.get(name.as_str()) {
                name.clone_from(own);
            }
        };
        self.levels.iter_mut().flat_map(|level| level.notify.iter_mut()).for_each(swap);
        self.fallback.iter_mut().for_each(swap);
        self
    }
}

/// Where an incident's escalation stands: how many levels have fired, how many repeats of
/// the last one, and when the next step is due (`None`: nothing more will fire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationState {
    pub step: u32,
    pub repeats: u32,
    pub next_at: Option<DateTime<Utc>>,
}

/// What firing one due step does: who to notify, why, and the state after.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub level: u32,
    pub channels: Vec<String>,
    pub kind: NoticeKind,
    pub next: EscalationState,
}

impl Policy {
    /// The policy of a rule with no escalation configured: the incident opens and is shown,
    /// nobody is notified.
    pub fn none() -> Policy {
        Policy {
            name: "none".into(),
            levels: Vec::new(),
            repeat_every_secs: None,
            max_repeats: 0,
            group_wait_secs: 0,
            ack_timeout_secs: None,
            fallback: None,
        }
    }

    /// The state of a freshly opened (or reopened) incident: the first level is due after
    /// its `after`, but never before `group_wait` has gathered the burst.
    pub fn start(&self, opened_at: DateTime<Utc>) -> EscalationState {
        let first_after = self.levels.first().map_or(0, |level| level.after_secs);
        EscalationState {
            step: 0,
            repeats: 0,
            next_at: if self.levels.is_empty() {
                None
            } else {
                Some(opened_at + Duration::seconds(first_after.max(self.group_wait_secs)))
            },
        }
    }

    /// Fires the step that `state` says is due. Returns `None` when nothing is due at `now`.
    pub fn fire(&self, opened_at: DateTime<Utc>, state: EscalationState, now: DateTime<Utc>) -> Option<Fired> {
        let due = state.next_at?;
        if due > now {
            return None;
        }
        let step = usize::try_from(state.step).ok()?;
        if let Some(level) = self.levels.get(step) {
            let next_step = state.step + 1;
            let next_at = match self.levels.get(step + 1) {
                Some(next) => Some((opened_at + Duration::seconds(next.after_secs)).max(now)),
                None => self.repeat_after(now, 0),
            };
            return Some(Fired {
                level: state.step,
                channels: level.notify.clone(),
                kind: if step == 0 { NoticeKind::Opened } else { NoticeKind::Escalated },
                next: EscalationState { step: next_step, repeats: 0, next_at },
            });
        }
        let last = self.levels.last()?;
        let repeats = state.repeats + 1;
        Some(Fired {
            level: state.step.saturating_sub(1),
            channels: last.notify.clone(),
            kind: NoticeKind::Repeat,
            next: EscalationState { step: state.step, repeats, next_at: self.repeat_after(now, repeats) },
        })
    }

    fn repeat_after(&self, now: DateTime<Utc>, repeats_done: u32) -> Option<DateTime<Utc>> {
        let every = self.repeat_every_secs?;
        (repeats_done < self.max_repeats && every > 0).then(|| now + Duration::seconds(every))
    }

    /// Every channel notified by the levels fired so far: who hears about a later change
    /// (level rise, acknowledge, resolve).
    pub fn notified_channels(&self, state: EscalationState) -> Vec<String> {
        let fired = usize::try_from(state.step).unwrap_or(usize::MAX);
        let mut channels: Vec<String> = Vec::new();
        for level in self.levels.iter().take(fired) {
            for channel in &level.notify {
                if !channels.contains(channel) {
                    channels.push(channel.clone());
                }
            }
        }
        channels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            name: "default".into(),
            levels: vec![
                PolicyLevel { after_secs: 0, notify: vec!["pr".into()] },
                PolicyLevel { after_secs: 900, notify: vec!["oncall".into()] },
            ],
            repeat_every_secs: Some(1800),
            max_repeats: 2,
            group_wait_secs: 0,
            ack_timeout_secs: None,
            fallback: None,
        }
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid time") + Duration::minutes(minutes)
    }

    #[test]
    fn levels_fire_at_their_after_then_repeat_up_to_the_limit() {
        let policy = policy();
        let opened = at(0);
        let state = policy.start(opened);
        assert_eq!(state.next_at, Some(opened));

        let first = policy.fire(opened, state, at(0)).expect("level 0 due at open");
        assert_eq!((first.kind, first.channels.clone()), (NoticeKind::Opened, vec!["pr".to_owned()]));
        assert_eq!(first.next.next_at, Some(at(15)));
        assert!(policy.fire(opened, first.next, at(14)).is_none(), "level 1 is not due before 15m");

        let second = policy.fire(opened, first.next, at(15)).expect("level 1 due");
        assert_eq!((second.kind, second.channels.clone()), (NoticeKind::Escalated, vec!["oncall".to_owned()]));
        assert_eq!(second.next.next_at, Some(at(45)));

        let repeat1 = policy.fire(opened, second.next, at(45)).expect("first repeat");
        assert_eq!(repeat1.kind, NoticeKind::Repeat);
        let repeat2 = policy.fire(opened, repeat1.next, at(75)).expect("second repeat");
        assert_eq!(repeat2.next.next_at, None, "max_repeats = 2 ends the repeats");
        assert_eq!(policy.notified_channels(repeat2.next), vec!["pr".to_owned(), "oncall".to_owned()]);
    }

    #[test]
    fn group_wait_delays_the_first_notice() {
        let mut policy = policy();
        policy.group_wait_secs = 120;
        assert_eq!(policy.start(at(0)).next_at, Some(at(2)));
    }

    #[test]
    fn a_late_worker_fires_one_step_and_schedules_from_now() {
        let policy = policy();
        let first = policy.fire(at(0), policy.start(at(0)), at(0)).expect("due");
        // The daemon was down for an hour: level 1 fires once, repeats count from now.
        let late = policy.fire(at(0), first.next, at(60)).expect("due");
        assert_eq!(late.kind, NoticeKind::Escalated);
        assert_eq!(late.next.next_at, Some(at(90)));
    }
}
