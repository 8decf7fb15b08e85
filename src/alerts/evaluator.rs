//! The evaluator: on the one node holding the `alerts` lease, every tick,
//! each enabled rule not yet evaluated this minute is evaluated once for
//! the window ending at the minute (the decide clock's: `IVRHUB_DECIDE_AT`
//! and the tests move it). Its figure comes from [`figures`], its next
//! state from [`state::evaluate`], and the two are stored together with the
//! event and its deliveries (`storage::alerts::store_evaluation`, which
//! stores a minute once even if two nodes evaluate it). Sending is the
//! delivery worker's: evaluation never waits for a receiver.

use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::json;
use tokio::sync::Notify;

use super::figures;
use super::rule::RuleSpec;
use super::state::{self, EventKind};
use crate::clock::Clock;
use crate::config::AlertSettings;
use crate::metrics::Metrics;
use crate::storage::PgPool;
use crate::storage::alerts::{self as store, NewEvent, RuleRow};
use crate::storage::reports::Tenants;

/// The lease's name in `leases`.
pub const LEASE: &str = "alerts";
/// At most this many notifications per rule per hour; further events are
/// stored, not sent (`notified: false`).
pub const MAX_NOTIFICATIONS_PER_HOUR: i64 = 12;

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub evaluated: usize,
    pub events: usize,
    pub errors: usize,
}

/// Runs the evaluator loop of this node: try the lease, evaluate if held.
pub fn spawn(
    pool: PgPool,
    settings: AlertSettings,
    clock: Clock,
    metrics: Arc<Metrics>,
    wake_deliveries: Arc<Notify>,
    node: String,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(settings.tick());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match crate::lease::try_hold(&pool, LEASE, &node, settings.lease()).await {
                Ok(true) => {
                    metrics.alert_leader.set(1);
                    let lease = Lease {
                        node: &node,
                        ttl: settings.lease(),
                    };
                    match evaluate_due_holding(&pool, clock.now(), &metrics, Some(lease)).await {
                        Ok(pass) => {
                            if pass.events > 0 {
                                wake_deliveries.notify_one();
                            }
                        }
                        Err(error) => tracing::warn!(%error, "alert evaluation pass failed"),
                    };
                }
                Ok(false) => {
                    metrics.alert_leader.set(0);
                }
                Err(error) => {
                    metrics.alert_leader.set(0);
                    tracing::warn!(%error, "alert lease not taken");
                }
            }
        }
    })
}

/// Evaluates every rule due at the minute of `now`. One rule's failure (a
/// slow query) is counted and logged, not the others'.
pub async fn evaluate_due(
    pool: &PgPool,
    now: DateTime<Utc>,
    metrics: &Metrics,
) -> Result<Pass, sqlx::Error> {
    evaluate_due_holding(pool, now, metrics, None).await
}

/// The lease a pass runs under: renewed as the pass goes, so that a long
/// pass does not let it lapse (and another node start the same work).
#[derive(Clone, Copy)]
struct Lease<'a> {
    node: &'a str,
    ttl: std::time::Duration,
}

async fn evaluate_due_holding(
    pool: &PgPool,
    now: DateTime<Utc>,
    metrics: &Metrics,
    lease: Option<Lease<'_>>,
) -> Result<Pass, sqlx::Error> {
    let minute = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
    let mut pass = Pass::default();
    let mut renewed = std::time::Instant::now();
    for rule in store::due_rules(pool, minute).await? {
        if let Some(lease) = lease
            && renewed.elapsed() > lease.ttl / 3
        {
            if !crate::lease::try_hold(pool, LEASE, lease.node, lease.ttl).await? {
                tracing::warn!("alert lease lost during a pass; another node goes on");
                break;
            }
            renewed = std::time::Instant::now();
        }
        match evaluate_rule(pool, &rule, minute).await {
            Ok(event) => {
                pass.evaluated += 1;
                metrics.count_evaluation(event.map_or("ok", EventKind::as_str));
                pass.events += usize::from(event.is_some());
            }
            Err(error) => {
                pass.errors += 1;
                metrics.count_evaluation("error");
                tracing::warn!(rule_id = rule.rule_id, tenant_id = rule.tenant_id, %error, "alert rule not evaluated");
            }
        }
    }
    Ok(pass)
}

#[tracing::instrument(skip_all, fields(rule_id = rule.rule_id, tenant_id = rule.tenant_id))]
async fn evaluate_rule(
    pool: &PgPool,
    rule: &RuleRow,
    minute: DateTime<Utc>,
) -> Result<Option<EventKind>, String> {
    let spec = &rule.definition.0;
    let tenants = rule.tenant_id.map_or(Tenants::All, Tenants::One);
    let seen = figures::observe(pool, tenants, spec, minute)
        .await
        .map_err(|error| format!("{error:?}"))?;
    let step = state::evaluate(spec, &rule.memory(), seen.observation, minute);
    let event = match step.event {
        None => None,
        Some(kind) => {
            let notified = !spec.webhook_urls.is_empty()
                && should_notify(pool, rule.rule_id, kind, minute)
                    .await
                    .map_err(|error| error.to_string())?;
            Some(NewEvent {
                kind,
                threshold: spec.threshold,
                clear_threshold: spec.clear(),
                window_secs: (spec.window_minutes * 60) as i32,
                messages: if notified {
                    spec.webhook_urls
                        .iter()
                        .map(|url| (url.clone(), super::delivery::message_id()))
                        .collect()
                } else {
                    Vec::new()
                },
                notified,
                payload: payload(
                    rule,
                    spec,
                    kind,
                    minute,
                    seen.figure,
                    seen.observation.sample,
                ),
            })
        }
    };
    let kind = event.as_ref().map(|event| event.kind);
    let stored = store::store_evaluation(
        pool,
        rule,
        minute,
        &step.memory,
        seen.figure,
        seen.observation.sample,
        event,
    )
    .await
    .map_err(|error| error.to_string())?;
    if let (Some(kind), Some(event_id)) = (kind, stored) {
        tracing::info!(event_id, state = kind.as_str(), value = ?seen.figure, "alert event");
    }
    Ok(kind.filter(|_| stored.is_some()))
}

/// Whether an event is sent. Receivers are told of changes against what
/// they were last told: a `resolved` is sent when the last event sent was
/// a firing one (even past the hourly rate: a receiver must not stay
/// firing for good), and never when the firing was not sent; `firing` and
/// `renotified` are sent within [`MAX_NOTIFICATIONS_PER_HOUR`].
async fn should_notify(
    pool: &PgPool,
    rule_id: i64,
    kind: EventKind,
    minute: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    if kind == EventKind::Resolved {
        let last = store::last_notified(pool, rule_id).await?;
        return Ok(matches!(
            last,
            Some(EventKind::Firing | EventKind::Renotified)
        ));
    }
    let sent = store::notifications_since(pool, rule_id, minute - Duration::hours(1)).await?;
    if sent >= MAX_NOTIFICATIONS_PER_HOUR {
        tracing::warn!(
            sent,
            "alert rule over its notification rate: event stored, not sent"
        );
        return Ok(false);
    }
    Ok(true)
}

/// The message sent for an event (`data.event_id` is added when stored).
pub fn payload(
    rule: &RuleRow,
    spec: &RuleSpec,
    kind: EventKind,
    minute: DateTime<Utc>,
    figure: Option<f64>,
    calls: i64,
) -> serde_json::Value {
    json!({
        "type": format!("alert.{}", kind.as_str()),
        "timestamp": minute.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": {
            "rule_id": rule.rule_id,
            "rule_name": spec.name.trim(),
            "tenant_id": rule.tenant_id,
            "state": kind.as_str(),
            "metric": spec.metric.as_str(),
            "condition": spec.condition,
            "value": figure,
            "threshold": spec.threshold,
            "clear_threshold": spec.clear(),
            "calls": calls,
            "window": {
                "from": (minute - spec.window()).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "to": minute.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "minutes": spec.window_minutes,
            },
            "filters": {
                "did": spec.did, "target": spec.target, "status": spec.status,
                "node": spec.node, "flow_version": spec.flow_version,
            },
        }
    })
}
