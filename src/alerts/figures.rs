//! The figure a rule watches, over its window, read with the reports' own
//! functions (`reports::aggregates`, `reports::funnel`: the same SQL and the
//! same roll-up routine the reports answer with), so that an alert and the
//! report a person opens to look at it agree.

use chrono::{DateTime, Duration, Utc};

use super::rule::{Metric, RuleSpec};
use super::state::{Observation, change_pct};
use crate::error::ApiError;
use crate::reports::{aggregates, funnel};
use crate::storage::PgPool;
use crate::storage::alerts as store;
use crate::storage::reports::{CdrFilter, Tenants};

/// What a rule saw at `minute`: the value its condition compares (for the
/// change conditions, the change in percent against a week earlier), the
/// figure itself and the sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    pub observation: Observation,
    /// The figure in the window (what events show as `value`).
    pub figure: Option<f64>,
}

/// Observes `rule` of `tenants` over the window ending at `minute`.
pub async fn observe(
    pool: &PgPool,
    tenants: Tenants,
    rule: &RuleSpec,
    minute: DateTime<Utc>,
) -> Result<Seen, ApiError> {
    let now = figure(pool, tenants, rule, minute).await?;
    if !rule.condition.is_change() {
        return Ok(Seen {
            observation: now,
            figure: now.value,
        });
    }
    let week_ago = figure(pool, tenants, rule, minute - Duration::weeks(1)).await?;
    let enough = |seen: &Observation| {
        !rule.metric.needs_sample() || seen.sample >= i64::from(rule.min_calls)
    };
    let change = if enough(&week_ago) {
        change_pct(now.value, week_ago.value)
    } else {
        None
    };
    // A fall is a negative change, a rise a positive one: the state machine
    // reads both from the same number.
    Ok(Seen {
        observation: Observation {
            value: change,
            sample: now.sample,
        },
        figure: now.value,
    })
}

/// The figure and sample of the window `[end - window, end)`.
async fn figure(
    pool: &PgPool,
    tenants: Tenants,
    rule: &RuleSpec,
    end: DateTime<Utc>,
) -> Result<Observation, ApiError> {
    let filter = CdrFilter {
        from: end - rule.window(),
        to: end,
        did: rule.did.clone(),
        status: rule
            .status
            .as_deref()
            .map(crate::voicenter::normalize_status),
        target: rule.target.clone(),
    };
    let share = |part: i64, calls: i64| Observation {
        value: (calls > 0).then(|| part as f64 / calls as f64),
        sample: calls,
    };
    Ok(match rule.metric {
        Metric::Calls | Metric::Asr | Metric::AcdSecs | Metric::P95DialSecs => {
            // The summary's figures, without its count of distinct callers.
            let (figures, p95_dial_secs) =
                aggregates::figures_of(pool, tenants, &filter, end).await?;
            Observation {
                value: match rule.metric {
                    Metric::Calls => Some(figures.calls as f64),
                    Metric::Asr => figures.asr,
                    Metric::AcdSecs => figures.acd_secs,
                    _ => p95_dial_secs,
                },
                sample: figures.calls,
            }
        }
        Metric::StatusShare => {
            let rows = aggregates::status_rows(pool, tenants, &filter, end).await?;
            let calls: i64 = rows.iter().map(|row| row.totals.calls).sum();
            let wanted = rule
                .of_status
                .as_deref()
                .map(crate::voicenter::normalize_status)
                .unwrap_or_default();
            let part = rows
                .iter()
                .filter(|row| row.key == wanted)
                .map(|row| row.totals.calls)
                .sum();
            share(part, calls)
        }
        Metric::CauseShare => {
            let rows = aggregates::cause_rows(pool, tenants, &filter, end).await?;
            let calls: i64 = rows.iter().map(|row| row.calls).sum();
            let part = rows
                .iter()
                .filter(|row| row.cause == rule.of_cause)
                .map(|row| row.calls)
                .sum();
            share(part, calls)
        }
        Metric::SafeAnswers => {
            let reason = rule.reason.map(|reason| reason.as_str());
            let count = store::safe_answers(pool, tenants, filter.from, filter.to, reason).await?;
            Observation {
                value: Some(count as f64),
                sample: count,
            }
        }
        Metric::NodeTimeoutShare | Metric::NodeInvalidShare | Metric::NodeHangupShare => {
            let Tenants::One(tenant_id) = tenants else {
                return Ok(Observation {
                    value: None,
                    sample: 0,
                });
            };
            let funnel = funnel::compute(pool, tenant_id, &filter, rule.flow_version, end).await?;
            let node = rule.node.as_deref().unwrap_or_default();
            match funnel.nodes.iter().find(|n| n.node == node) {
                None => share(0, 0),
                Some(n) => {
                    let part = match rule.metric {
                        Metric::NodeTimeoutShare => n.timeouts.total,
                        Metric::NodeInvalidShare => n.invalid.total,
                        // `ended` counts the calls the caller ended there (the
                        // IVR's own hang-ups are `hung_up_by_ivr`, apart).
                        _ => n.ended,
                    };
                    share(part, n.reached)
                }
            }
        }
    })
}
