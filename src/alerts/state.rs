//! The pure core of alerting: one evaluation of one rule, from its state
//! and the figure observed, to its next state and the event to store.
//!
//! Rules (each a property tested below):
//! * An evaluation *breaches* when the figure is past `threshold` and the
//!   sample is big enough (`min_calls`, for figures that need a sample); an
//!   evaluation without a figure (no calls, no week-earlier figure to
//!   compare with) or with too small a sample does not breach.
//! * `ok`/`resolved` → `firing` when at least `fire_after` of the last
//!   `of_last` evaluations breached: event `firing`. The history is then
//!   cleared, so that a rule that resolves needs `fire_after` new breaches
//!   to fire again.
//! * `firing` → `resolved` when the figure is back on the clear side of
//!   `clear_threshold` with a big enough sample: event `resolved`. Between
//!   the two thresholds, with too small a sample, or with no figure, the
//!   rule keeps firing (hysteresis: no flapping around one threshold).
//! * While firing, with `renotify_minutes`, event `renotified` once that
//!   long has passed since the last notification.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rule::{Condition, RuleSpec};

/// A rule's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleState {
    /// Never fired, or not since it was last changed.
    Ok,
    Firing,
    /// Fired, then cleared.
    Resolved,
}

impl RuleState {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleState::Ok => "ok",
            RuleState::Firing => "firing",
            RuleState::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<RuleState> {
        [RuleState::Ok, RuleState::Firing, RuleState::Resolved]
            .into_iter()
            .find(|state| state.as_str() == text)
    }
}

/// What an event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Firing,
    /// Still firing: notified again after `renotify_minutes`.
    Renotified,
    Resolved,
}

impl EventKind {
    pub const ALL: [EventKind; 3] = [
        EventKind::Firing,
        EventKind::Renotified,
        EventKind::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Firing => "firing",
            EventKind::Renotified => "renotified",
            EventKind::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// What the evaluator keeps of a rule between evaluations.
#[derive(Debug, Clone, PartialEq)]
pub struct Memory {
    pub state: RuleState,
    /// Breached or not, the last evaluations, oldest first (at most `of_last`).
    pub recent: Vec<bool>,
    pub notified_at: Option<DateTime<Utc>>,
}

/// The figure of one evaluation: the value compared with the thresholds
/// (for the change conditions: the change in percent) and the sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// `None`: nothing to judge (no calls; no week-earlier figure).
    pub value: Option<f64>,
    /// Calls in the window (callers reaching the node, for node figures).
    pub sample: i64,
}

/// One evaluation's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub memory: Memory,
    pub event: Option<EventKind>,
}

/// Evaluates `rule` at `now` with what was observed. Pure.
pub fn evaluate(rule: &RuleSpec, memory: &Memory, seen: Observation, now: DateTime<Utc>) -> Step {
    let judged = seen
        .value
        .filter(|_| !rule.metric.needs_sample() || seen.sample >= i64::from(rule.min_calls));
    let breached = judged.is_some_and(|value| past(rule.condition, value, rule.threshold));
    let cleared =
        judged.is_some_and(|value| !past_or_at_clear(rule.condition, value, rule.clear()));
    let mut recent = memory.recent.clone();
    recent.push(breached);
    let keep = usize::from(rule.of_last.max(1));
    if recent.len() > keep {
        recent.drain(..recent.len() - keep);
    }
    let mut next = Memory {
        state: memory.state,
        recent,
        notified_at: memory.notified_at,
    };
    let event = match memory.state {
        RuleState::Ok | RuleState::Resolved => {
            let breaches = next.recent.iter().filter(|b| **b).count();
            (breaches >= usize::from(rule.fire_after)).then(|| {
                next.state = RuleState::Firing;
                next.recent.clear();
                next.notified_at = Some(now);
                EventKind::Firing
            })
        }
        RuleState::Firing if cleared => {
            next.state = RuleState::Resolved;
            next.recent.clear();
            next.notified_at = Some(now);
            Some(EventKind::Resolved)
        }
        RuleState::Firing => {
            let due = rule.renotify_minutes.is_some_and(|minutes| {
                memory
                    .notified_at
                    .is_none_or(|at| now - at >= Duration::minutes(i64::from(minutes)))
            });
            due.then(|| {
                next.notified_at = Some(now);
                EventKind::Renotified
            })
        }
    };
    Step {
        memory: next,
        event,
    }
}

/// Is `value` past the fire threshold?
fn past(condition: Condition, value: f64, threshold: f64) -> bool {
    match condition {
        Condition::Above | Condition::RisesByPct => value > threshold,
        Condition::Below => value < threshold,
        // A fall is a negative change: past when it fell by more.
        Condition::FallsByPct => -value > threshold,
    }
}

/// Is `value` still on the firing side of the clear threshold?
fn past_or_at_clear(condition: Condition, value: f64, clear: f64) -> bool {
    match condition {
        Condition::Above | Condition::RisesByPct => value > clear,
        Condition::Below => value < clear,
        Condition::FallsByPct => -value > clear,
    }
}

/// The change from `before` to `now`, percent; `None` without a base.
pub fn change_pct(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    match (now, before) {
        (Some(now), Some(before)) if before != 0.0 => Some((now - before) / before.abs() * 100.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule(fire_after: u8, of_last: u8, renotify: Option<u32>) -> RuleSpec {
        serde_json::from_value(serde_json::json!({
            "name": "asr", "metric": "asr", "window_minutes": 15,
            "condition": "below", "threshold": 0.5, "clear_threshold": 0.6,
            "min_calls": 10, "fire_after": fire_after, "of_last": of_last,
            "renotify_minutes": renotify,
        }))
        .unwrap()
    }

    fn fresh() -> Memory {
        Memory {
            state: RuleState::Ok,
            recent: Vec::new(),
            notified_at: None,
        }
    }

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::minutes(minute)
    }

    fn seen(value: f64, sample: i64) -> Observation {
        Observation {
            value: Some(value),
            sample,
        }
    }

    /// Runs the rule over the observations, one a minute; the events.
    fn run(rule: &RuleSpec, observations: &[Observation]) -> Vec<(usize, EventKind)> {
        let mut memory = fresh();
        let mut events = Vec::new();
        for (minute, observation) in observations.iter().enumerate() {
            let step = evaluate(rule, &memory, *observation, at(minute as i64));
            if let Some(event) = step.event {
                events.push((minute, event));
            }
            memory = step.memory;
        }
        events
    }

    #[test]
    fn fires_once_and_resolves_once_across_a_collapse() {
        let rule = rule(2, 3, None);
        let observations = [
            seen(0.9, 50),
            seen(0.3, 50), // 1 of 3
            seen(0.2, 50), // 2 of 3: fires
            seen(0.1, 50),
            seen(0.55, 50), // between the thresholds: still firing
            seen(0.45, 50),
            seen(0.58, 50),
            seen(0.8, 50), // cleared
            seen(0.9, 50),
        ];
        assert_eq!(
            run(&rule, &observations),
            vec![(2, EventKind::Firing), (7, EventKind::Resolved)]
        );
    }

    #[test]
    fn too_few_calls_neither_fire_nor_resolve() {
        let rule = rule(1, 1, None);
        assert!(run(&rule, &[seen(0.0, 9), seen(0.0, 9)]).is_empty());
        let events = run(&rule, &[seen(0.0, 10), seen(0.9, 3), seen(0.9, 10)]);
        assert_eq!(
            events,
            vec![(0, EventKind::Firing), (2, EventKind::Resolved)]
        );
    }

    #[test]
    fn renotifies_while_firing_at_its_interval() {
        let rule = rule(1, 1, Some(5));
        let observations = vec![seen(0.1, 50); 12];
        assert_eq!(
            run(&rule, &observations),
            vec![
                (0, EventKind::Firing),
                (5, EventKind::Renotified),
                (10, EventKind::Renotified)
            ]
        );
    }

    #[test]
    fn changes_compare_with_the_week_before() {
        assert_eq!(change_pct(Some(30.0), Some(60.0)), Some(-50.0));
        assert_eq!(change_pct(Some(30.0), Some(0.0)), None);
        assert_eq!(change_pct(None, Some(1.0)), None);
        assert!(past(Condition::FallsByPct, -50.0, 40.0));
        assert!(!past(Condition::FallsByPct, 50.0, 40.0));
        assert!(past(Condition::RisesByPct, 50.0, 40.0));
    }

    proptest! {
        /// Around one threshold the figure may wander as it likes between
        /// the thresholds: once fired, a rule resolves only on the clear
        /// side, and events alternate firing, resolved, firing...
        #[test]
        fn events_alternate_and_never_flap(
            values in proptest::collection::vec(0.0f64..1.0, 1..80),
            fire_after in 1u8..4,
            extra in 0u8..4,
        ) {
            let rule = rule(fire_after, fire_after + extra, None);
            let observations: Vec<Observation> = values.iter().map(|v| seen(*v, 50)).collect();
            let events = run(&rule, &observations);
            for pair in events.windows(2) {
                prop_assert_ne!(pair[0].1, pair[1].1);
            }
            if let Some((_, first)) = events.first() {
                prop_assert_eq!(*first, EventKind::Firing);
            }
            for (minute, event) in &events {
                let value = values[*minute];
                match event {
                    EventKind::Firing => prop_assert!(value < 0.5),
                    EventKind::Resolved => prop_assert!(value >= 0.6),
                    EventKind::Renotified => prop_assert!(false, "no renotify set"),
                }
            }
        }

        /// A rule fires exactly when `fire_after` of the last `of_last`
        /// evaluations since it last changed state breached.
        #[test]
        fn fires_on_m_of_the_last_n(
            breaches in proptest::collection::vec(any::<bool>(), 1..40),
            fire_after in 1u8..4,
            extra in 0u8..4,
        ) {
            let of_last = fire_after + extra;
            // Breaches only: the rule never resolves (0.55 is between the thresholds).
            let observations: Vec<Observation> = breaches
                .iter()
                .map(|b| seen(if *b { 0.1 } else { 0.55 }, 50))
                .collect();
            let rule = rule(fire_after, of_last, None);
            let events = run(&rule, &observations);
            let expected = (0..breaches.len()).find(|&n| {
                let from = (n + 1).saturating_sub(usize::from(of_last));
                breaches[from..=n].iter().filter(|b| **b).count() >= usize::from(fire_after)
            });
            prop_assert_eq!(events.first().map(|e| e.0), expected);
            prop_assert!(events.len() <= 1);
        }
    }
}
