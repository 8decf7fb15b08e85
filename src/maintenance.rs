//! The maintenance task: on the one node holding the `maintenance` lease,
//! every `IVRHUB_MAINTENANCE_SECS`, it keeps `call_steps`' monthly
//! partitions (V13) ahead of time and applies the steps' retention.
//!
//! * **Ahead**: the partitions of this month and the next two exist. A
//!   month that cannot be created (permissions, disk, rows of that month
//!   already in the default partition) is logged and counted
//!   (`ivrhub_partitions_total{action="failed"}`); steps keep going into
//!   the default partition meanwhile, so ingestion never stops on it.
//! * **Retention**: a partition whose every step is older than
//!   `IVRHUB_STEP_RETENTION_DAYS` is detached, then dropped — never a mass
//!   `DELETE`. Before the first drop of a pass, every closed day not rolled
//!   up yet is rolled up, so the funnel of those days still answers from
//!   the roll-ups (`report_funnel_daily`), which are kept for good.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use sqlx::PgPool;

use crate::metrics::Metrics;

/// The lease's name in `leases`.
pub const LEASE: &str = "maintenance";
/// Months of partitions kept ahead of the current one.
const MONTHS_AHEAD: u32 = 2;
/// The shortest retention of call steps, days: the reports' longest
/// comparison (`compare=previous` over 30 days reaches 60 days back) must
/// find them raw or rolled up, and a day is rolled up only once closed.
pub const MIN_STEP_RETENTION_DAYS: u32 = 62;

/// One monthly partition, as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    /// `None`: from the beginning of time (the rows from before V13).
    pub from: Option<DateTime<Utc>>,
    /// `None`: the default partition.
    pub to: Option<DateTime<Utc>>,
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    pub created: Vec<String>,
    pub dropped: Vec<String>,
    pub failed: Vec<String>,
}

/// Runs the task on this node: try the lease, work if held.
pub fn spawn(
    pool: PgPool,
    every: Duration,
    retention_days: u32,
    metrics: Arc<Metrics>,
    node: String,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            // Renewed every pass: held while this node lives, free two periods after it died.
            let lease = (every * 2).max(Duration::from_secs(1));
            match crate::lease::try_hold(&pool, LEASE, &node, lease).await {
                Ok(true) => match run(&pool, Utc::now(), retention_days).await {
                    Ok(pass) => {
                        metrics.count_partitions("created", pass.created.len());
                        metrics.count_partitions("dropped", pass.dropped.len());
                        metrics.count_partitions("failed", pass.failed.len());
                        if pass != Pass::default() {
                            tracing::info!(?pass, "maintenance pass");
                        }
                    }
                    Err(error) => {
                        metrics.count_partitions("failed", 1);
                        tracing::warn!(%error, "maintenance pass failed");
                    }
                },
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "maintenance lease not taken"),
            }
        }
    })
}

/// One pass at `now`: partitions ahead, then retention.
pub async fn run(
    pool: &PgPool,
    now: DateTime<Utc>,
    retention_days: u32,
) -> Result<Pass, sqlx::Error> {
    let mut pass = Pass::default();
    let existing = partitions(pool).await?;
    let this_month = month_start(now);
    for n in 0..=MONTHS_AHEAD {
        let from = this_month + Months::new(n);
        let to = from + Months::new(1);
        let covered = existing.iter().any(|p| {
            p.to.is_some()
                && p.from.is_none_or(|start| start < to)
                && p.to.is_some_and(|end| end > from)
        });
        if covered {
            continue;
        }
        let name = format!("call_steps_{}_{:02}", from.year(), from.month());
        let statement = format!(
            "CREATE TABLE {name} PARTITION OF call_steps FOR VALUES FROM ('{}') TO ('{}')",
            from.to_rfc3339(),
            to.to_rfc3339()
        );
        match sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(pool)
            .await
        {
            Ok(_) => pass.created.push(name),
            Err(error) => {
                tracing::error!(%error, partition = name, "a month's partition could not be created: its steps go to the default partition");
                pass.failed.push(name);
            }
        }
    }
    let horizon = now - chrono::Duration::days(i64::from(retention_days));
    let expired: Vec<&Partition> = existing
        .iter()
        .filter(|p| p.to.is_some_and(|end| end <= horizon))
        .collect();
    if let Some(last) = expired.iter().filter_map(|p| p.to).max() {
        // The funnel of those days must outlive them.
        let last_day = (last - chrono::Duration::days(1)).date_naive();
        let rolled = crate::reports::rollup::roll_up_until(pool, last_day, now).await?;
        if rolled.failed > 0 {
            // Dropping would lose what the roll-ups do not have yet.
            tracing::error!(
                failed = rolled.failed,
                "days not rolled up: expired partitions kept for the next pass"
            );
            pass.failed.extend(expired.iter().map(|p| p.name.clone()));
            return Ok(pass);
        }
    }
    for partition in expired {
        let statement = format!(
            "ALTER TABLE call_steps DETACH PARTITION {name}; DROP TABLE {name};",
            name = partition.name
        );
        match sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(pool)
            .await
        {
            Ok(_) => pass.dropped.push(partition.name.clone()),
            Err(error) => {
                tracing::error!(%error, partition = partition.name, "an expired partition could not be dropped");
                pass.failed.push(partition.name.clone());
            }
        }
    }
    Ok(pass)
}

fn month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let day = NaiveDate::from_ymd_opt(at.year(), at.month(), 1).unwrap_or(at.date_naive());
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// `call_steps`' partitions, read from the catalog (bounds in UTC).
pub async fn partitions(pool: &PgPool) -> Result<Vec<Partition>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL TimeZone = 'UTC'")
        .execute(&mut *tx)
        .await?;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid)
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'call_steps'::regclass ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(name, bound)| {
            let (from, to) = parse_bound(&bound);
            Partition { name, from, to }
        })
        .collect())
}

/// `FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')`,
/// `FROM (MINVALUE) TO (…)`, or `DEFAULT` (no bounds).
fn parse_bound(text: &str) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let value = |part: &str| -> Option<DateTime<Utc>> {
        let inner = part
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim();
        let inner = inner.trim_matches('\'');
        DateTime::parse_from_str(inner, "%Y-%m-%d %H:%M:%S%#z")
            .ok()
            .map(|at| at.with_timezone(&Utc))
    };
    let Some(rest) = text.strip_prefix("FOR VALUES FROM ") else {
        return (None, None);
    };
    match rest.split_once(" TO ") {
        Some((from, to)) => (value(from), value(to)),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_bounds_are_read_from_the_catalogs_text() {
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc)
        };
        assert_eq!(
            parse_bound("FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')"),
            (
                Some(at("2026-12-01T00:00:00Z")),
                Some(at("2027-01-01T00:00:00Z"))
            )
        );
        assert_eq!(
            parse_bound("FOR VALUES FROM (MINVALUE) TO ('2027-01-01 00:00:00+00')"),
            (None, Some(at("2027-01-01T00:00:00Z")))
        );
        assert_eq!(parse_bound("DEFAULT"), (None, None));
        assert_eq!(
            month_start(at("2026-12-31T23:59:00Z")),
            at("2026-12-01T00:00:00Z")
        );
    }
}
