//! The maintenance task: on the one node holding the `maintenance` lease,
//! every `IVRHUB_MAINTENANCE_SECS`, it keeps the monthly partitions of
//! `call_steps` (V13), `cdrs` and `orphan_cdrs` (V15) ahead of time, applies
//! retention, and removes expired CDR claims.
//!
//! * **Ahead**: the partitions of this month and the next two exist. A
//!   month that cannot be created (permissions, disk, rows of that month
//!   already in the default partition) is logged and counted
//!   (`ivrhub_partitions_total{action="failed"}`); rows keep going into
//!   the default partition meanwhile, so ingestion never stops on it.
//! * **Steps**: a partition whose every step is older than
//!   `IVRHUB_STEP_RETENTION_DAYS` is detached, then dropped — never a mass
//!   `DELETE`.
//! * **CDRs**: each tenant's are kept its `cdr_retention_months` whole
//!   months before the current one (unset: for good). A month is shared by
//!   every tenant: when none keeps a row of it, it is dropped; when some
//!   do, it is rewritten with their rows only ([`rewrite_partition`]). The
//!   CDRs of numbers no tenant owns (`orphan_cdrs`) are kept.
//! * **Roll-ups first**: before raw rows go, every closed day up to the
//!   end of their month is rolled up, so the reports of those days answer
//!   from the roll-ups (`report_*_daily`, `report_cdr_hourly`), which are
//!   kept for good.
//! * **Claims**: CDR claims older than `storage::cdrs::CLAIM_DAYS` are
//!   removed, 10 000 at a time (the claim table stays bounded: a month of
//!   calls).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use sqlx::PgPool;

use crate::metrics::Metrics;
use crate::storage::cdrs::CLAIM_DAYS;

/// The lease's name in `leases`.
pub const LEASE: &str = "maintenance";
/// Months of partitions kept ahead of the current one.
const MONTHS_AHEAD: u32 = 2;
/// The shortest retention of call steps, days: the reports' longest
/// comparison (`compare=previous` over 30 days reaches 60 days back) must
/// find them raw or rolled up, and a day is rolled up only once closed.
pub const MIN_STEP_RETENTION_DAYS: u32 = 62;
/// The shortest CDR retention a tenant may set, whole months before the
/// current one: at least 89 days, for the same comparisons as the steps'.
pub const MIN_CDR_RETENTION_MONTHS: u32 = 3;
/// The longest one (longer: leave it unset, kept for good).
pub const MAX_CDR_RETENTION_MONTHS: u32 = 1200;

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
    /// CDR partitions copied without the rows of tenants whose retention
    /// ended.
    pub rewritten: Vec<String>,
    pub failed: Vec<String>,
    /// Expired CDR claims removed.
    pub claims_removed: u64,
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
                        metrics.count_partitions("rewritten", pass.rewritten.len());
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

/// The tables kept in monthly partitions (V13, V15), each by the month of
/// its time column: a step's time, a call's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioned {
    CallSteps,
    Cdrs,
    OrphanCdrs,
}

impl Partitioned {
    pub const ALL: [Partitioned; 3] = [
        Partitioned::CallSteps,
        Partitioned::Cdrs,
        Partitioned::OrphanCdrs,
    ];

    pub fn table(self) -> &'static str {
        match self {
            Partitioned::CallSteps => "call_steps",
            Partitioned::Cdrs => "cdrs",
            Partitioned::OrphanCdrs => "orphan_cdrs",
        }
    }

    /// The column its partitions are ranges of.
    fn time_column(self) -> &'static str {
        match self {
            Partitioned::CallSteps => "at",
            Partitioned::Cdrs | Partitioned::OrphanCdrs => "started_at",
        }
    }

    /// The name of a month's partition: `cdrs_2027_01`.
    fn month_name(self, from: DateTime<Utc>) -> String {
        format!("{}_{}_{:02}", self.table(), from.year(), from.month())
    }
}

/// One pass at `now`: partitions ahead, then retention (call steps after
/// `step_retention_days`, each tenant's CDRs after its
/// `cdr_retention_months`; the CDRs of numbers no tenant owns are kept),
/// then the expired CDR claims.
pub async fn run(
    pool: &PgPool,
    now: DateTime<Utc>,
    step_retention_days: u32,
) -> Result<Pass, sqlx::Error> {
    let mut pass = Pass::default();
    for table in Partitioned::ALL {
        let existing = partitions(pool, table).await?;
        create_ahead(pool, table, &existing, now, &mut pass).await;
        match table {
            Partitioned::CallSteps => {
                let horizon = now - chrono::Duration::days(i64::from(step_retention_days));
                let expired: Vec<&Partition> = existing
                    .iter()
                    .filter(|p| p.to.is_some_and(|end| end <= horizon))
                    .collect();
                if rolled_up_before(pool, &expired, now, &mut pass).await? {
                    for partition in expired {
                        drop_partition(pool, table, partition, None, &mut pass).await;
                    }
                }
            }
            Partitioned::Cdrs => cdr_retention(pool, &existing, now, &mut pass).await?,
            Partitioned::OrphanCdrs => {}
        }
    }
    pass.claims_removed = remove_expired_claims(pool, now).await?;
    Ok(pass)
}

/// The partitions of this month and the next [`MONTHS_AHEAD`]. A month a
/// partition covers only in part (a bound off the month's start, as one
/// computed in another time zone would be) gets a partition for the rest.
/// Rows of the month already in the default partition (a report dated
/// ahead) move into the new one, in the same transaction.
async fn create_ahead(
    pool: &PgPool,
    table: Partitioned,
    existing: &[Partition],
    now: DateTime<Utc>,
    pass: &mut Pass,
) {
    let this_month = month_start(now);
    for n in 0..=MONTHS_AHEAD {
        let month = this_month + Months::new(n);
        let to = month + Months::new(1);
        // Where the month stops being covered: after the partitions that
        // cover its start (partitions never overlap).
        let mut from = month;
        while let Some(end) = existing
            .iter()
            .filter(|p| p.from.is_none_or(|start| start <= from))
            .filter_map(|p| p.to)
            .find(|end| *end > from)
        {
            from = end;
        }
        if from >= to {
            continue;
        }
        let name = table.month_name(month);
        match create_partition(pool, table, &name, from, to).await {
            Ok(()) => pass.created.push(name),
            Err(error) => {
                tracing::error!(%error, partition = name, "a month's partition could not be created: its rows go to the default partition");
                pass.failed.push(name);
            }
        }
    }
}

async fn create_partition(
    pool: &PgPool,
    table: Partitioned,
    name: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // The parent first, as every query takes it (then its partitions):
    // taking the default partition first deadlocks with a reader. `CREATE
    // TABLE … PARTITION OF` locks the parent exclusively anyway.
    let (parent, column) = (table.table(), table.time_column());
    let (from, to) = (from.to_rfc3339(), to.to_rfc3339());
    let mut tx = pool.begin().await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET LOCAL lock_timeout = '5s';
         LOCK TABLE {parent} IN ACCESS EXCLUSIVE MODE;
         LOCK TABLE {parent}_default IN ACCESS EXCLUSIVE MODE;
         CREATE TEMP TABLE moving (LIKE {parent}_default) ON COMMIT DROP;
         WITH moved AS (DELETE FROM {parent}_default
                        WHERE {column} >= '{from}' AND {column} < '{to}' RETURNING *)
             INSERT INTO moving SELECT * FROM moved;
         CREATE TABLE {name} PARTITION OF {parent} FOR VALUES FROM ('{from}') TO ('{to}');
         INSERT INTO {name} SELECT * FROM moving;"
    )))
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Rolls up every closed day up to the end of the last of `expired`, so
/// that the reports of those days outlive their raw rows. False (and the
/// partitions reported failed, to be tried next pass) when a day could
/// not be rolled up: dropping would lose what the roll-ups do not have.
async fn rolled_up_before(
    pool: &PgPool,
    expired: &[&Partition],
    now: DateTime<Utc>,
    pass: &mut Pass,
) -> Result<bool, sqlx::Error> {
    let Some(last) = expired.iter().filter_map(|p| p.to).max() else {
        return Ok(true);
    };
    let last_day = (last - chrono::Duration::days(1)).date_naive();
    let rolled = crate::reports::rollup::roll_up_until(pool, last_day, now).await?;
    if rolled.failed > 0 {
        tracing::error!(
            failed = rolled.failed,
            "days not rolled up: expired partitions kept for the next pass"
        );
        pass.failed.extend(expired.iter().map(|p| p.name.clone()));
        return Ok(false);
    }
    Ok(true)
}

/// Detaches and drops a partition. For CDRs, `unless_kept` names the
/// tenants whose rows in it expired: with writes to the partition stopped
/// (a share lock: reads go on), it is dropped only if still no other
/// tenant has a row in it (a late CDR may have arrived since it was looked
/// at). The detach then locks the parent exclusively for a moment.
async fn drop_partition(
    pool: &PgPool,
    table: Partitioned,
    partition: &Partition,
    unless_kept: Option<&[i64]>,
    pass: &mut Pass,
) {
    let name = &partition.name;
    let dropped = async {
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = '5s';
             LOCK TABLE {name} IN SHARE MODE;"
        )))
        .execute(&mut *tx)
        .await?;
        if let Some(expired) = unless_kept
            && keeps_other_tenants(&mut *tx, name, expired).await?
        {
            return Ok(false);
        }
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} DETACH PARTITION {name}; DROP TABLE {name};",
            table = table.table()
        )))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok::<bool, sqlx::Error>(true)
    };
    match dropped.await {
        Ok(true) => pass.dropped.push(name.clone()),
        // Rewritten at the next pass.
        Ok(false) => {
            tracing::info!(partition = %name, "a late CDR arrived in an expired month: kept for the next pass")
        }
        Err(error) => {
            tracing::error!(%error, partition = %name, "an expired partition could not be dropped");
            pass.failed.push(name.clone());
        }
    }
}

/// Each tenant's CDRs are kept `cdr_retention_months` whole months before
/// the current one (none set: for good). A month's partition is shared by
/// every tenant, so a partition holding expired rows is dropped when no
/// tenant keeps any of its rows, and otherwise rewritten with the rows
/// kept ([`rewrite_partition`]) — never a mass `DELETE`.
async fn cdr_retention(
    pool: &PgPool,
    existing: &[Partition],
    now: DateTime<Utc>,
    pass: &mut Pass,
) -> Result<(), sqlx::Error> {
    let this_month = month_start(now);
    let retention: Vec<(i64, i32)> = sqlx::query_as(
        "SELECT tenant_id, cdr_retention_months FROM tenants
         WHERE cdr_retention_months IS NOT NULL ORDER BY tenant_id",
    )
    .fetch_all(pool)
    .await?;
    let horizons: Vec<(i64, DateTime<Utc>)> = retention
        .into_iter()
        .filter_map(|(tenant, months)| Some((tenant, cdrs_kept_from(now, Some(months))?)))
        .collect();
    let mut work: Vec<(&Partition, Vec<i64>, bool)> = Vec::new();
    for partition in existing {
        let Some(to) = partition.to else { continue };
        if to > this_month {
            continue;
        }
        let candidates: Vec<i64> = horizons
            .iter()
            .filter(|(_, horizon)| to <= *horizon)
            .map(|(tenant, _)| *tenant)
            .collect();
        if candidates.is_empty() {
            continue;
        }
        // Those of them with rows in it: an index probe on (tenant_id,
        // started_at) each (a single-shard query on Citus).
        let mut expired = Vec::new();
        for tenant in candidates {
            let has_rows: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT EXISTS (SELECT 1 FROM {name} WHERE tenant_id = $1)",
                name = partition.name
            )))
            .bind(tenant)
            .fetch_one(pool)
            .await?;
            if has_rows {
                expired.push(tenant);
            }
        }
        if expired.is_empty() {
            continue;
        }
        let kept = keeps_other_tenants(pool, &partition.name, &expired).await?;
        work.push((partition, expired, kept));
    }
    let partitions: Vec<&Partition> = work.iter().map(|(p, _, _)| *p).collect();
    if !rolled_up_before(pool, &partitions, now, pass).await? {
        return Ok(());
    }
    for (partition, expired, kept) in work {
        if kept {
            match rewrite_partition(pool, partition, &expired).await {
                Ok(()) => pass.rewritten.push(partition.name.clone()),
                Err(error) => {
                    tracing::error!(%error, partition = partition.name, "a partition could not be rewritten without its expired CDRs");
                    pass.failed.push(partition.name.clone());
                }
            }
        } else {
            drop_partition(pool, Partitioned::Cdrs, partition, Some(&expired), pass).await;
        }
    }
    Ok(())
}

/// Replaces a month of `cdrs` by a copy without the rows of `expired`
/// tenants, in one transaction: writes to that month wait (a share lock)
/// while the kept rows are copied, reads go on; then the copy takes the
/// partition's place (detach, attach with a bound check that spares the
/// scan), and the old one is dropped. The parent is locked exclusively only
/// for the swap.
async fn rewrite_partition(
    pool: &PgPool,
    partition: &Partition,
    expired: &[i64],
) -> Result<(), sqlx::Error> {
    let name = &partition.name;
    let kept = format!("{name}_kept");
    let bound = match (partition.from, partition.to) {
        (Some(from), Some(to)) => (
            format!(
                "started_at >= '{}' AND started_at < '{}'",
                from.to_rfc3339(),
                to.to_rfc3339()
            ),
            format!("FROM ('{}') TO ('{}')", from.to_rfc3339(), to.to_rfc3339()),
        ),
        (None, Some(to)) => (
            format!("started_at < '{}'", to.to_rfc3339()),
            format!("FROM (MINVALUE) TO ('{}')", to.to_rfc3339()),
        ),
        _ => return Ok(()),
    };
    let (check, values) = bound;
    let mut tx = pool.begin().await?;
    // A month of CDRs takes longer to copy than the pool's statement
    // timeout; the locks are waited for a bounded time (a writer of that
    // month already holding its lock on `cdrs` would otherwise deadlock
    // with the swap: the pass fails, and the next one tries again).
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET LOCAL statement_timeout = 0;
         SET LOCAL lock_timeout = '5s';
         LOCK TABLE {name} IN SHARE MODE;
         CREATE TABLE {kept} (LIKE {name} INCLUDING DEFAULTS INCLUDING CONSTRAINTS);"
    )))
    .execute(&mut *tx)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {kept} SELECT * FROM {name} WHERE tenant_id <> ALL($1)"
    )))
    .bind(expired)
    .execute(&mut *tx)
    .await?;
    // The indexes, the bound and the foreign key after the copy, while only
    // this month's writes wait; ATTACH then finds them all (the indexes
    // become the partitioned indexes' parts, the bound spares its scan, the
    // foreign key its check), so `cdrs` is locked exclusively for the swap
    // alone.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE {kept} ADD CONSTRAINT {kept}_bound CHECK (started_at IS NOT NULL AND {check});
         CREATE UNIQUE INDEX ON {kept} (tenant_id, call_id, started_at);
         CREATE INDEX ON {kept} (tenant_id, started_at)
             INCLUDE (status, duration_secs, dial_secs, cause, caller_id, did, target);
         ALTER TABLE {kept} ADD FOREIGN KEY (tenant_id) REFERENCES tenants (tenant_id);
         ALTER TABLE cdrs DETACH PARTITION {name};
         ALTER TABLE cdrs ATTACH PARTITION {kept} FOR VALUES {values};
         ALTER TABLE {kept} DROP CONSTRAINT {kept}_bound;
         DROP TABLE {name};
         ALTER TABLE {kept} RENAME TO {name};"
    )))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ANALYZE {name}")))
        .execute(pool)
        .await?;
    Ok(())
}

/// Removes the CDR claims older than [`CLAIM_DAYS`], a batch at a time.
async fn remove_expired_claims(pool: &PgPool, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    const BATCH: i64 = 10_000;
    let before = now - chrono::Duration::days(i64::from(CLAIM_DAYS));
    let mut removed = 0;
    loop {
        let done = sqlx::query(
            "DELETE FROM cdr_claims WHERE call_id IN (
                 SELECT call_id FROM cdr_claims WHERE claimed_at < $1 LIMIT $2)",
        )
        .bind(before)
        .bind(BATCH)
        .execute(pool)
        .await?
        .rows_affected();
        removed += done;
        if done < BATCH as u64 {
            return Ok(removed);
        }
    }
}

/// Where the CDRs of a tenant keeping `months` whole months before the
/// current one (`tenants.cdr_retention_months`) begin: older ones are
/// removed. `None`: kept for good.
pub fn cdrs_kept_from(now: DateTime<Utc>, months: Option<i32>) -> Option<DateTime<Utc>> {
    let months = u32::try_from(months?).ok()?;
    Some(
        month_start(now)
            .checked_sub_months(Months::new(months))
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
    )
}

/// Whether a partition holds a row of a tenant other than `expired`.
async fn keeps_other_tenants<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    partition: &str,
    expired: &[i64],
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT EXISTS (SELECT 1 FROM {partition} WHERE tenant_id <> ALL($1))"
    )))
    .bind(expired)
    .fetch_one(conn)
    .await
}

fn month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let day = NaiveDate::from_ymd_opt(at.year(), at.month(), 1).unwrap_or(at.date_naive());
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// A table's partitions, read from the catalog (bounds in UTC).
pub async fn partitions(pool: &PgPool, table: Partitioned) -> Result<Vec<Partition>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL TimeZone = 'UTC'")
        .execute(&mut *tx)
        .await?;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid)
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = $1::regclass ORDER BY 1",
    )
    .bind(table.table())
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
