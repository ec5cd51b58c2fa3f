//! Grouping: what one scored rule match does to its group's incident. Pure: the store loads
//! the group's state inside its transaction, calls [`decide`], and writes what it returns.

use chrono::{DateTime, Utc};

use super::escalation::{EscalationState, Fired, Policy};
use super::playbook::Playbook;
use super::spike::Verdict;
use super::{Level, Status};

/// One rule match of a mention, ready to be grouped.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The group the match belongs to (for now: `rule:<id>`).
    pub group_key: String,
    pub rule: String,
    /// The brand it is about, when the config names brands.
    pub brand: Option<String>,
    /// Incident title when this match opens one.
    pub title: String,
    pub score: u8,
    pub level: Level,
    pub why: serde_json::Value,
    pub policy: Policy,
    /// When the mention was published (fetch time when unknown): the time-to-detect origin.
    pub mention_at: DateTime<Utc>,
    /// The rule's crisis type and its playbook, copied onto an incident this opens.
    pub crisis_type: Option<String>,
    pub playbook: Option<Playbook>,
    /// The active silence covering this match: it may attach, never open or raise.
    pub silenced_by: Option<i64>,
    /// From `tocsin drill`: grouped apart from real incidents and marked in every alert.
    pub drill: bool,
    /// The mention also matched this rule, but a more severe one takes it (one mention, one
    /// incident): it counts for this group's volume and opens, attaches or raises nothing.
    pub volume_only: bool,
}

/// The live (open or acknowledged) incident of a group, or its last one when that was
/// resolved within `reopen_within`, as the store holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupState {
    pub incident_id: i64,
    pub status: Status,
    pub level: Level,
    pub score: u8,
    pub opened_at: DateTime<Utc>,
    pub policy: Policy,
    pub escalation: EscalationState,
}

/// What to write for one candidate.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Below the opening threshold and no live incident: the mention is stored, nothing opens.
    Nothing,
    /// Open an incident; `fired` is the first escalation step when it is due at once.
    Open { escalation: EscalationState, fired: Option<Fired> },
    /// Attach the mention to the live incident; a higher level re-notifies at once.
    Attach { incident_id: i64, raised: Option<Raise> },
    /// The group's incident was resolved within `reopen_within` and this match would open
    /// one: reopen it instead (the story goes on), escalation starting over.
    Reopen { incident_id: i64, escalation: EscalationState, fired: Option<Fired> },
}

/// A level rise: the new level and score, and every channel already told about the incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Raise {
    pub from: Level,
    pub to: Level,
    pub score: u8,
    pub notify: Vec<String>,
}

/// A candidate after the spike detector has seen its group's volume: the values to
/// record, what to do, and whether the group spiked (so the store starts its cool-down).
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub candidate: Candidate,
    pub decision: Decision,
    pub spiked: bool,
    /// The silence that held back an opening or a level rise.
    pub held_by: Option<i64>,
}

/// Judges a candidate: a spike in its group's volume raises it to at least `open_at` and
/// at least the `High` level, and one level above the live incident's (a storm on an
/// open incident is worse news); then [`decide`] says what to write.
pub fn judge(
    candidate: &Candidate,
    live: Option<&GroupState>,
    verdict: &Verdict,
    open_at: u8,
    now: DateTime<Utc>,
) -> Judged {
    let mut candidate = candidate.clone();
    let spiked = verdict.is_spike();
    if let Verdict::Spike { in_window, expected, p, story } = *verdict {
        let above_live = live.map_or(Level::Low, |l| l.level.next());
        candidate.level = candidate.level.max(Level::High).max(above_live);
        candidate.score = candidate.score.max(open_at);
        if let serde_json::Value::Object(why) = &mut candidate.why {
            let mut spike = serde_json::json!({
                "in_window": in_window, "expected_per_window": (expected * 100.0).round() / 100.0, "p": p,
            });
            if let Some((id, copies)) = story {
                spike["story"] = serde_json::json!({ "id": id, "copies_in_window": copies });
            }
            why.insert("spike".into(), spike);
        }
    }
    let mut decision = decide(&candidate, live, open_at, now);
    let mut held_by = None;
    if let Some(silence) = candidate.silenced_by {
        match &mut decision {
            Decision::Open { .. } | Decision::Reopen { .. } => {
                decision = Decision::Nothing;
                held_by = Some(silence);
            }
            Decision::Attach { raised, .. } if raised.is_some() => {
                *raised = None;
                held_by = Some(silence);
            }
            Decision::Attach { .. } | Decision::Nothing => {}
        }
    }
    Judged { candidate, decision, spiked, held_by }
}

/// Decides what a match does to its group, given the group's live incident if any.
pub fn decide(candidate: &Candidate, live: Option<&GroupState>, open_at: u8, now: DateTime<Utc>) -> Decision {
    let start = || {
        let escalation = candidate.policy.start(now);
        let fired = candidate.policy.fire(now, escalation, now);
        (fired.as_ref().map_or(escalation, |f| f.next), fired)
    };
    match live {
        Some(state) if state.status == Status::Resolved => {
            if candidate.score >= open_at {
                let (escalation, fired) = start();
                Decision::Reopen { incident_id: state.incident_id, escalation, fired }
            } else {
                Decision::Nothing
            }
        }
        Some(state) => {
            let raised = (candidate.level > state.level).then(|| Raise {
                from: state.level,
                to: candidate.level,
                score: candidate.score.max(state.score),
                notify: state.policy.notified_channels(state.escalation),
            });
            Decision::Attach { incident_id: state.incident_id, raised }
        }
        None if candidate.score >= open_at => {
            let (escalation, fired) = start();
            Decision::Open { escalation, fired }
        }
        None => Decision::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::NoticeKind;
    use crate::incident::escalation::PolicyLevel;

    fn candidate(score: u8, level: Level) -> Candidate {
        Candidate {
            group_key: "rule:food-safety".into(),
            rule: "food-safety".into(),
            brand: None,
            title: "t".into(),
            score,
            level,
            why: serde_json::json!({}),
            policy: Policy {
                name: "default".into(),
                levels: vec![
                    PolicyLevel { after_secs: 0, notify: vec!["pr".into()] },
                    PolicyLevel { after_secs: 600, notify: vec!["oncall".into()] },
                ],
                repeat_every_secs: None,
                max_repeats: 0,
                group_wait_secs: 0,
                ack_timeout_secs: None,
                fallback: None,
            },
            mention_at: now(),
            volume_only: false,
            crisis_type: None,
            playbook: None,
            silenced_by: None,
            drill: false,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid")
    }

    #[test]
    fn below_threshold_opens_nothing_and_at_threshold_opens_and_notifies_level_zero() {
        assert_eq!(decide(&candidate(59, Level::Medium), None, 60, now()), Decision::Nothing);
        match decide(&candidate(60, Level::High), None, 60, now()) {
            Decision::Open { fired: Some(fired), escalation } => {
                assert_eq!(fired.kind, NoticeKind::Opened);
                assert_eq!(fired.channels, vec!["pr".to_owned()]);
                assert_eq!(escalation.step, 1);
            }
            other => panic!("expected an open with a notice, got {other:?}"),
        }
    }

    #[test]
    fn a_higher_level_on_an_acknowledged_incident_re_notifies_everyone_told_so_far() {
        let c = candidate(85, Level::Critical);
        let live = GroupState {
            incident_id: 3,
            status: Status::Acknowledged,
            level: Level::High,
            score: 70,
            opened_at: now(),
            policy: c.policy.clone(),
            escalation: EscalationState { step: 2, repeats: 0, next_at: None },
        };
        match decide(&c, Some(&live), 60, now()) {
            Decision::Attach { incident_id: 3, raised: Some(raise) } => {
                assert_eq!((raise.from, raise.to, raise.score), (Level::High, Level::Critical, 85));
                assert_eq!(raise.notify, vec!["pr".to_owned(), "oncall".to_owned()]);
            }
            other => panic!("expected a raise, got {other:?}"),
        }
        let lower = candidate(10, Level::Low);
        assert_eq!(decide(&lower, Some(&live), 60, now()), Decision::Attach { incident_id: 3, raised: None });
    }

    #[test]
    fn a_silence_holds_back_an_opening_and_a_rise_but_not_the_attachment() {
        let silenced = Candidate { silenced_by: Some(4), ..candidate(90, Level::Critical) };
        let held = judge(&silenced, None, &Verdict::ColdStart, 60, now());
        assert_eq!((held.decision, held.held_by), (Decision::Nothing, Some(4)));
        let live = GroupState {
            incident_id: 3,
            status: Status::Open,
            level: Level::Medium,
            score: 50,
            opened_at: now(),
            policy: silenced.policy.clone(),
            escalation: EscalationState { step: 1, repeats: 0, next_at: None },
        };
        let attached = judge(&silenced, Some(&live), &Verdict::ColdStart, 60, now());
        assert_eq!(attached.decision, Decision::Attach { incident_id: 3, raised: None });
        assert_eq!(attached.held_by, Some(4));
        let quiet = judge(
            &Candidate { silenced_by: Some(4), ..candidate(10, Level::Low) },
            None,
            &Verdict::ColdStart,
            60,
            now(),
        );
        assert_eq!((quiet.decision, quiet.held_by), (Decision::Nothing, None), "nothing to hold back");
    }

    #[test]
    fn a_recently_resolved_incident_reopens_on_a_match_that_would_open_one() {
        let resolved = GroupState {
            incident_id: 9,
            status: Status::Resolved,
            level: Level::High,
            score: 70,
            opened_at: now(),
            policy: candidate(0, Level::Low).policy,
            escalation: EscalationState { step: 2, repeats: 0, next_at: None },
        };
        match decide(&candidate(70, Level::High), Some(&resolved), 60, now()) {
            Decision::Reopen { incident_id: 9, escalation, fired: Some(fired) } => {
                assert_eq!(fired.channels, vec!["pr".to_owned()], "paging starts over");
                assert_eq!(escalation.step, 1);
            }
            other => panic!("expected a reopen, got {other:?}"),
        }
        assert_eq!(decide(&candidate(30, Level::Low), Some(&resolved), 60, now()), Decision::Nothing);
    }
}
