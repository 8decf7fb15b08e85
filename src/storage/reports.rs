//! The reports' SQL: aggregates over a tenant's CDRs (and call steps) in a
//! time range. Every function takes the tenants first: one tenant, or — the
//! platform-level exception, for platform admins — every tenant
//! ([`Tenants::All`]).
//!
//! A CDR counts at its `started_at` (V4: the call's start as Voicenter
//! reported it, else the call time, else when we received it). Every query
//! reads a tenant's time range through `cdrs_tenant_started`, whose INCLUDE
//! columns let most of them run as index-only scans.
//!
//! Sums and counts come from here; ratios and means are computed by the
//! caller from them (so that "nothing to divide" is decided in one place).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use futures_util::Stream;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

/// Whose CDRs a report reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tenants {
    One(i64),
    /// Platform-level: every tenant (platform admins only).
    All,
}

impl Tenants {
    /// `$1` of every query: the tenant, or NULL for all of them.
    fn bind(self) -> Option<Vec<i64>> {
        match self {
            Tenants::One(id) => Some(vec![id]),
            Tenants::All => None,
        }
    }
}

/// Which CDRs: `[from, to)` by `started_at`, and optional exact filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrFilter {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub did: Option<String>,
    pub status: Option<String>,
    pub target: Option<String>,
}

/// `$1`..`$6` of every report query. `$1` NULL means every tenant; the array
/// form lets the index be read one tenant at a time either way. (Macros, so
/// that queries are `concat!`-ed literals: sqlx takes only literal SQL.)
macro_rules! cdr_filter {
    () => {
        cdr_filter_with!(
            "c.tenant_id = ANY(coalesce($1::bigint[], (SELECT array_agg(tenant_id) FROM tenants)))"
        )
    };
}

/// The same for one tenant (`$1` holds it), written as an equality so that
/// the index also gives the rows in time order (`ORDER BY ... LIMIT` stops early).
macro_rules! one_tenant_filter {
    () => {
        cdr_filter_with!("c.tenant_id = ($1::bigint[])[1]")
    };
}

macro_rules! cdr_filter_with {
    ($tenants:literal) => {
        concat!(
            $tenants,
            "
      AND c.started_at >= $2 AND c.started_at < $3
      AND ($4::text IS NULL OR c.did = $4)
      AND ($5::text IS NULL OR c.status = $5)
      AND ($6::text IS NULL OR c.target = $6)"
        )
    };
}

/// The additive figures of a set of calls, from which every ratio and mean
/// of the reports is computed.
macro_rules! totals {
    () => {
        "count(*)::bigint AS calls,
       count(*) FILTER (WHERE c.status = 'ANSWER')::bigint AS answered,
       coalesce(sum(c.duration_secs) FILTER (WHERE c.status = 'ANSWER'), 0)::bigint AS talk_secs,
       count(c.duration_secs) FILTER (WHERE c.status = 'ANSWER')::bigint AS answered_with_duration,
       coalesce(sum(c.dial_secs), 0)::bigint AS dial_secs_sum,
       count(c.dial_secs)::bigint AS with_dial_time"
    };
}

/// The sums of the rolled-up totals columns.
macro_rules! rolled_totals {
    () => {
        "sum(calls)::bigint AS calls, sum(answered)::bigint AS answered,
         sum(talk_secs)::bigint AS talk_secs,
         sum(answered_with_duration)::bigint AS answered_with_duration,
         sum(dial_secs_sum)::bigint AS dial_secs_sum, sum(with_dial_time)::bigint AS with_dial_time"
    };
}

/// Binds `$1`..`$6`. The statement is not kept prepared: PostgreSQL then
/// plans it for these very values. A kept one switches to a generic plan
/// after five runs, which cannot know that a range holds a million rows
/// (measured: the distinct callers of 12 months sorted on disk, 2 s instead
/// of 0.4 s).
macro_rules! bind_filter {
    ($query:expr, $tenants:expr, $filter:expr) => {
        $query
            .persistent(false)
            .bind($tenants.bind())
            .bind($filter.from)
            .bind($filter.to)
            .bind($filter.did.as_deref())
            .bind($filter.status.as_deref())
            .bind($filter.target.as_deref())
    };
}

/// Counts and sums over a set of calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Totals {
    pub calls: i64,
    /// Calls whose status is ANSWER.
    pub answered: i64,
    /// Sum of the durations of answered calls, seconds.
    pub talk_secs: i64,
    /// Answered calls that reported a duration.
    pub answered_with_duration: i64,
    /// Sum of the dial times of the calls that reported one, seconds.
    pub dial_secs_sum: i64,
    pub with_dial_time: i64,
}

impl Totals {
    pub fn add(&mut self, other: &Totals) {
        self.calls += other.calls;
        self.answered += other.answered;
        self.talk_secs += other.talk_secs;
        self.answered_with_duration += other.answered_with_duration;
        self.dial_secs_sum += other.dial_secs_sum;
        self.with_dial_time += other.with_dial_time;
    }
}

/// The additive figures per dial time (`None`: calls without one): the
/// summary's figures, and its percentile read from this histogram.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DialTimeRow {
    pub dial_secs: Option<i64>,
    #[sqlx(flatten)]
    pub totals: Totals,
}

pub async fn by_dial_time(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
) -> Result<Vec<DialTimeRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT c.dial_secs, ",
        totals!(),
        " FROM cdrs c WHERE ",
        cdr_filter!(),
        " GROUP BY c.dial_secs"
    );
    bind_filter!(sqlx::query_as(sql), tenants, filter)
        .fetch_all(pool)
        .await
}

/// Distinct caller ids: a hash of every caller id of the range, given the
/// memory to stay off disk. (Long unfiltered ranges of one tenant read the
/// roll-up instead: [`unique_callers_rolled`].)
pub async fn unique_callers(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
) -> Result<i64, sqlx::Error> {
    let sql = concat!(
        "SELECT count(*)::bigint FROM (SELECT DISTINCT c.caller_id FROM cdrs c WHERE ",
        cdr_filter!(),
        ") callers"
    );
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL work_mem = '64MB'")
        .execute(&mut *tx)
        .await?;
    let callers: i64 = bind_filter!(sqlx::query_scalar(sql), tenants, filter)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(callers)
}

/// PostgreSQL's `percentile_cont(fraction)` over the values of a histogram
/// (value, how many times): linear interpolation between the two nearest
/// ranks, computed as PostgreSQL does. `None` without any value.
pub fn percentile_cont(histogram: &mut [(i64, i64)], fraction: f64) -> Option<f64> {
    histogram.sort_unstable();
    let count: i64 = histogram.iter().map(|(_, n)| n).sum();
    if count == 0 {
        return None;
    }
    let position = fraction * (count - 1) as f64;
    let (first, second) = (position.floor() as i64, position.ceil() as i64);
    let at = |rank: i64| {
        let mut seen = 0;
        for (value, n) in histogram.iter() {
            seen += n;
            if rank < seen {
                return *value as f64;
            }
        }
        histogram.last().map_or(0.0, |(value, _)| *value as f64)
    };
    let (low, high) = (at(first), at(second));
    Some(low + (high - low) * (position - first as f64))
}

/// Totals per value of a column (`status`, `did`, `target`, `tenant_id`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupRow {
    pub key: String,
    #[sqlx(flatten)]
    pub totals: Totals,
}

pub async fn by_status(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
) -> Result<Vec<GroupRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT c.status AS key, ",
        totals!(),
        " FROM cdrs c WHERE ",
        cdr_filter!(),
        "
         GROUP BY c.status ORDER BY calls DESC, key"
    );
    bind_filter!(sqlx::query_as(sql), tenants, filter)
        .fetch_all(pool)
        .await
}

pub async fn by_did(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
) -> Result<Vec<GroupRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT c.did AS key, ",
        totals!(),
        " FROM cdrs c WHERE ",
        cdr_filter!(),
        "
         GROUP BY c.did ORDER BY calls DESC, key"
    );
    bind_filter!(sqlx::query_as(sql), tenants, filter)
        .fetch_all(pool)
        .await
}

/// Per tenant (platform admins), with the tenant's name.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TenantGroupRow {
    pub tenant_id: i64,
    pub name: String,
    #[sqlx(flatten)]
    pub totals: Totals,
}

pub async fn by_tenant(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
) -> Result<Vec<TenantGroupRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT g.*, t.name FROM (
             SELECT c.tenant_id, ",
        totals!(),
        " FROM cdrs c WHERE ",
        cdr_filter!(),
        " GROUP BY c.tenant_id
         ) g JOIN tenants t USING (tenant_id)
         ORDER BY g.calls DESC, g.tenant_id"
    );
    bind_filter!(sqlx::query_as(sql), tenants, filter)
        .fetch_all(pool)
        .await
}

/// The top targets, and how many there were in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopTargets {
    pub rows: Vec<GroupRow>,
    /// Distinct non-empty targets.
    pub targets: i64,
    /// Calls with an empty target (no dial was made).
    pub calls_without_target: i64,
}

pub async fn by_target(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
    limit: i64,
) -> Result<TopTargets, sqlx::Error> {
    let sql = concat!(
        "WITH g AS (
             SELECT c.target AS key, ",
        totals!(),
        " FROM cdrs c WHERE ",
        cdr_filter!(),
        " GROUP BY c.target
         ), top AS (
             SELECT * FROM g WHERE key <> '' ORDER BY calls DESC, key LIMIT $7
         )
         SELECT top.*,
                (SELECT count(*) FROM g WHERE key <> '')::bigint AS targets,
                coalesce((SELECT calls FROM g WHERE key = ''), 0)::bigint AS calls_without_target
         FROM (SELECT 1) one LEFT JOIN top ON true
         ORDER BY top.calls DESC, top.key"
    );
    // One row even when there is no target (then with NULL group columns).
    #[derive(sqlx::FromRow)]
    struct Maybe {
        key: Option<String>,
        calls: Option<i64>,
        answered: Option<i64>,
        talk_secs: Option<i64>,
        answered_with_duration: Option<i64>,
        dial_secs_sum: Option<i64>,
        with_dial_time: Option<i64>,
        targets: i64,
        calls_without_target: i64,
    }
    let rows: Vec<Maybe> = bind_filter!(sqlx::query_as(sql), tenants, filter)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    let mut top = TopTargets::default();
    for row in rows {
        top.targets = row.targets;
        top.calls_without_target = row.calls_without_target;
        if let Some(key) = row.key {
            top.rows.push(GroupRow {
                key,
                totals: Totals {
                    calls: row.calls.unwrap_or(0),
                    answered: row.answered.unwrap_or(0),
                    talk_secs: row.talk_secs.unwrap_or(0),
                    answered_with_duration: row.answered_with_duration.unwrap_or(0),
                    dial_secs_sum: row.dial_secs_sum.unwrap_or(0),
                    with_dial_time: row.with_dial_time.unwrap_or(0),
                },
            });
        }
    }
    Ok(top)
}

/// Calls per (cause, status); the cause is NULL for a status without one.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CauseStatusRow {
    pub cause: Option<i16>,
    pub status: String,
    pub calls: i64,
}

pub async fn by_cause(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
) -> Result<Vec<CauseStatusRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT c.cause, c.status, count(*)::bigint AS calls FROM cdrs c WHERE ",
        cdr_filter!(),
        "
         GROUP BY c.cause, c.status ORDER BY c.cause NULLS LAST, calls DESC, c.status"
    );
    bind_filter!(sqlx::query_as(sql), tenants, filter)
        .fetch_all(pool)
        .await
}

/// A row of the spec's table of causes (reference data).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HangupCause {
    pub cause: i16,
    pub description: String,
    pub sip: String,
}

pub async fn hangup_causes(pool: &PgPool) -> Result<Vec<HangupCause>, sqlx::Error> {
    sqlx::query_as(
        "SELECT cause, description, sip FROM hangup_causes ORDER BY cause, description DESC",
    )
    .fetch_all(pool)
    .await
}

/// Totals per bucket: `bucket` is the 1-based index of the bucket whose
/// start is the greatest of `starts` not after the call's start.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BucketRow {
    pub bucket: i32,
    #[sqlx(flatten)]
    pub totals: Totals,
}

/// `starts` must be sorted, its first element `filter.from`.
pub async fn series_by_bounds(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
    starts: &[DateTime<Utc>],
) -> Result<Vec<BucketRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT width_bucket(c.started_at, $7::timestamptz[]) AS bucket, ",
        totals!(),
        "
         FROM cdrs c WHERE ",
        cdr_filter!(),
        " GROUP BY 1 ORDER BY 1"
    );
    bind_filter!(sqlx::query_as(sql), tenants, filter)
        .bind(starts)
        .fetch_all(pool)
        .await
}

/// Totals per hour of a grid through `origin` (`hour` is the hour's start).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HourRow {
    pub hour: DateTime<Utc>,
    #[sqlx(flatten)]
    pub totals: Totals,
}

pub async fn series_by_hour(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
    origin: DateTime<Utc>,
) -> Result<Vec<HourRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT date_bin('1 hour', c.started_at, $7) AS hour, ",
        totals!(),
        "
         FROM cdrs c WHERE ",
        cdr_filter!(),
        " GROUP BY 1 ORDER BY 1"
    );
    bind_filter!(sqlx::query_as(sql), tenants, filter)
        .bind(origin)
        .fetch_all(pool)
        .await
}

/// One figure of the menu funnel, for the calls of one CDR status: `kind` is
/// `reached` (distinct calls with a step answered with this node), `pressed`
/// (steps from this menu whose digits matched a route; `detail` = the
/// digits), `timeout` / `invalid` (steps from this menu with nothing pressed /
/// digits that matched no route; `detail` = what the menu did: `route`,
/// `retry` or `exhausted`), `ended` (calls whose last logged step answered
/// with this node; or, `detail` = [`IVR_HUNG_UP`], whose last step was a
/// hang-up of ivrhub's own from this menu: retries used up with no
/// `on_exhausted`, or a broken flow).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FunnelRow {
    pub status: String,
    pub node: String,
    pub kind: String,
    pub detail: Option<String>,
    pub count: i64,
}

/// `detail` of an `ended` funnel figure: the IVR hung up on the call (its
/// own HANGUP, not a node's) at this menu. A macro, for `concat!`.
macro_rules! ivr_hung_up {
    () => {
        "ivr_hung_up"
    };
}
pub const IVR_HUNG_UP: &str = ivr_hung_up!();

/// The funnel of the calls of `$1`..`$6` (one tenant), of the steps on
/// flow version `$7` (NULL: all). A call's steps are those logged from 1
/// hour before its start to 24 hours after.
macro_rules! funnel {
    () => {
        concat!(
            "WITH calls AS MATERIALIZED (
        SELECT c.call_id, c.status, c.started_at FROM cdrs c WHERE ",
            cdr_filter!(),
            "
    ), steps AS MATERIALIZED (
        SELECT s.call_id, s.step_id, s.at, s.from_node, s.node_key, s.outcome, s.dtmf, s.action,
               k.status
        FROM call_steps s JOIN calls k ON k.call_id = s.call_id
        WHERE s.tenant_id = $1[1]
          -- the range's window (for the index), then each call's own
          AND s.at >= $2 - interval '1 hour' AND s.at < $3 + interval '24 hours'
          AND s.at >= k.started_at - interval '1 hour' AND s.at < k.started_at + interval '24 hours'
          AND ($7::integer IS NULL OR s.flow_version = $7)
    )
    SELECT status, node, 'reached' AS kind, NULL::text AS detail,
           count(DISTINCT call_id)::bigint AS count
        FROM (SELECT call_id, status, node_key AS node FROM steps WHERE node_key IS NOT NULL
              UNION ALL
              SELECT call_id, status, from_node FROM steps
              WHERE from_node IS NOT NULL AND outcome <> 'unknown_menu') visits
        GROUP BY status, node
    UNION ALL
    SELECT status, from_node, 'pressed', dtmf, count(*)
        FROM steps WHERE outcome = 'matched' AND from_node IS NOT NULL
        GROUP BY status, from_node, dtmf
    UNION ALL
    SELECT status, from_node, split_part(outcome, '_', 1), split_part(outcome, '_', 2), count(*)
        FROM steps
        WHERE (outcome LIKE 'timeout\\_%' OR outcome LIKE 'invalid\\_%') AND from_node IS NOT NULL
        GROUP BY status, from_node, outcome
    UNION ALL
    SELECT status, coalesce(node_key, from_node), 'ended',
           CASE WHEN node_key IS NULL THEN '",
            ivr_hung_up!(),
            "' END, count(*) FROM (
        SELECT DISTINCT ON (call_id) call_id, node_key, from_node, action, status FROM steps
        ORDER BY call_id, at DESC, step_id DESC
    ) last
    -- a node answered; or ivrhub's own HANGUP (`Action::name`) from a menu
    WHERE node_key IS NOT NULL OR (action = 'HANGUP' AND from_node IS NOT NULL)
    GROUP BY 1, 2, 4"
        )
    };
}

/// The funnel computed from the raw tables. Over months never rolled up
/// this takes seconds: it may take up to a minute rather than fail.
pub async fn funnel(
    pool: &PgPool,
    tenant_id: i64,
    filter: &CdrFilter,
    version: Option<i32>,
) -> Result<Vec<FunnelRow>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL statement_timeout = '60s'")
        .execute(&mut *tx)
        .await?;
    let rows = bind_filter!(sqlx::query_as(funnel!()), Tenants::One(tenant_id), filter)
        .bind(version)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Which of the UTC days `[first, last]` the roll-ups hold as this version
/// rolls them up (`with_callers`, V6: the day's callers are in
/// `report_callers` and its funnel counts `reached` as this code does). A
/// day an older node rolled up is not among them: read raw, rolled up again.
pub async fn rolled_days(
    pool: &PgPool,
    tenant_id: i64,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<NaiveDate>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT day FROM report_rollup_days
         WHERE tenant_id = $1 AND day BETWEEN $2 AND $3 AND with_callers ORDER BY day",
    )
    .bind(tenant_id)
    .bind(first)
    .bind(last)
    .fetch_all(pool)
    .await
}

/// Every (tenant, UTC day) from `first` (`None`: each tenant's first CDR,
/// but not before `floor`) to `last` not rolled up by this version, in order.
///
/// Simple statements put together here rather than one query with a
/// correlated subquery per tenant, which Citus cannot plan over a reference
/// table (tenants) and distributed ones: each tenant's first CDR is a
/// single-tenant query (one shard on Citus, the `cdrs_tenant_started` index
/// everywhere), the rolled-up days one scan of the small roll-up table.
pub async fn days_not_rolled_up(
    pool: &PgPool,
    first: Option<NaiveDate>,
    floor: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<(i64, NaiveDate)>, sqlx::Error> {
    let tenants: Vec<i64> = sqlx::query_scalar("SELECT tenant_id FROM tenants ORDER BY tenant_id")
        .fetch_all(pool)
        .await?;
    let mut firsts = Vec::with_capacity(tenants.len());
    for tenant_id in tenants {
        let start = match first {
            Some(first) => Some(first),
            None => sqlx::query_scalar::<_, Option<NaiveDate>>(
                "SELECT (min(started_at) AT TIME ZONE 'UTC')::date FROM cdrs WHERE tenant_id = $1",
            )
            .bind(tenant_id)
            .fetch_one(pool)
            .await?
            .map(|day| day.max(floor)),
        };
        if let Some(start) = start.filter(|start| *start <= last) {
            firsts.push((tenant_id, start));
        }
    }
    let Some(earliest) = firsts.iter().map(|(_, start)| *start).min() else {
        return Ok(Vec::new());
    };
    let rolled: std::collections::HashSet<(i64, NaiveDate)> = sqlx::query_as(
        "SELECT tenant_id, day FROM report_rollup_days
         WHERE with_callers AND day BETWEEN $1 AND $2",
    )
    .bind(earliest)
    .bind(last)
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    Ok(firsts
        .into_iter()
        .flat_map(|(tenant_id, start)| {
            start
                .iter_days()
                .take_while(move |day| *day <= last)
                .map(move |day| (tenant_id, day))
        })
        .filter(|pair| !rolled.contains(pair))
        .collect())
}

/// The funnel of rolled-up `days`, optionally of one status.
pub async fn funnel_rolled_up(
    pool: &PgPool,
    tenant_id: i64,
    days: &[NaiveDate],
    status: Option<&str>,
) -> Result<Vec<FunnelRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, node, kind, detail, sum(count)::bigint AS count
         FROM report_funnel_daily
         WHERE tenant_id = $1 AND day = ANY($2) AND ($3::text IS NULL OR status = $3)
         GROUP BY status, node, kind, detail",
    )
    .bind(tenant_id)
    .bind(days)
    .bind(status)
    .fetch_all(pool)
    .await
}

/// Makes rolled-up days raw again because late rows for them are being
/// written in this transaction (before V14, row triggers on `cdrs` and
/// `call_steps` did this): each `(tenant, day)` is locked shared
/// ([`lock_day_for_roll_up`] takes it exclusive), in one order so that two
/// writers never deadlock, and its roll-up is forgotten (its figures go with
/// it, by cascade). One single-tenant statement per day, so that Citus
/// routes each to one shard. A day whose roll-up runs meanwhile waits for
/// this transaction's commit, then reads the new rows.
pub async fn mark_days_stale(
    connection: &mut PgConnection,
    days: &[(i64, NaiveDate)],
) -> Result<(), sqlx::Error> {
    let mut days = days.to_vec();
    days.sort_unstable();
    days.dedup();
    for (tenant_id, day) in days {
        sqlx::query("SELECT report_rollup_lock($1, $2)")
            .bind(tenant_id)
            .bind(day)
            .execute(&mut *connection)
            .await?;
        sqlx::query("DELETE FROM report_rollup_days WHERE tenant_id = $1 AND day = $2")
            .bind(tenant_id)
            .bind(day)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// Takes the exclusive lock of a day's roll-up for the rest of the
/// transaction: late CDRs and steps for that day wait for its commit, and
/// it for theirs ([`mark_days_stale`] takes the same lock, shared).
pub async fn lock_day_for_roll_up(
    connection: &mut PgConnection,
    tenant_id: i64,
    day: NaiveDate,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT report_rollup_lock($1, $2, exclusive => true)")
        .bind(tenant_id)
        .bind(day)
        .execute(connection)
        .await?;
    Ok(())
}

/// Rolls up one UTC day of the tenant (again, if it was): the funnel, the
/// hourly CDR figures, the per-DID figures, the dial-time histogram and the
/// callers, in one transaction.
pub async fn roll_up_day(pool: &PgPool, tenant_id: i64, day: NaiveDate) -> Result<(), sqlx::Error> {
    let from = day.and_time(NaiveTime::MIN).and_utc();
    let filter = CdrFilter {
        from,
        to: from + chrono::Duration::days(1),
        did: None,
        status: None,
        target: None,
    };
    let tenants = Tenants::One(tenant_id);
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL statement_timeout = '5min'")
        .execute(&mut *tx)
        .await?;
    lock_day_for_roll_up(&mut tx, tenant_id, day).await?;
    sqlx::query("DELETE FROM report_rollup_days WHERE tenant_id = $1 AND day = $2")
        .bind(tenant_id)
        .bind(day)
        .execute(&mut *tx)
        .await?;
    // Another roller (a report's background roll-up, another node) may be
    // at the same day: this waits for its commit, then leaves the day to it.
    let claimed = sqlx::query(
        "INSERT INTO report_rollup_days (tenant_id, day, with_callers) VALUES ($1, $2, true)
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(day)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        return tx.rollback().await;
    }
    let funnel = concat!(
        "INSERT INTO report_funnel_daily (tenant_id, day, status, node, kind, detail, count)
         SELECT $1[1], $8, f.status, f.node, f.kind, f.detail, f.count FROM (",
        funnel!(),
        ") f"
    );
    // $7: every version (the roll-ups do not keep versions).
    bind_filter!(sqlx::query(funnel), tenants, filter)
        .bind(None::<i32>)
        .bind(day)
        .execute(&mut *tx)
        .await?;
    let hourly = concat!(
        "INSERT INTO report_cdr_hourly (tenant_id, day, hour, status, cause, calls, answered,
             talk_secs, answered_with_duration, dial_secs_sum, with_dial_time)
         SELECT $1[1], $7, date_bin('1 hour', c.started_at, $2), c.status, c.cause, ",
        totals!(),
        " FROM cdrs c WHERE ",
        one_tenant_filter!(),
        " GROUP BY 3, 4, 5"
    );
    bind_filter!(sqlx::query(hourly), tenants, filter)
        .bind(day)
        .execute(&mut *tx)
        .await?;
    let per_did = concat!(
        "INSERT INTO report_did_daily (tenant_id, day, did, status, calls, answered,
             talk_secs, answered_with_duration, dial_secs_sum, with_dial_time)
         SELECT $1[1], $7, c.did, c.status, ",
        totals!(),
        " FROM cdrs c WHERE ",
        one_tenant_filter!(),
        " GROUP BY 3, 4"
    );
    bind_filter!(sqlx::query(per_did), tenants, filter)
        .bind(day)
        .execute(&mut *tx)
        .await?;
    let per_dial_time = concat!(
        "INSERT INTO report_dial_daily (tenant_id, day, status, dial_secs, calls, answered,
             talk_secs, answered_with_duration, dial_secs_sum, with_dial_time)
         SELECT $1[1], $7, c.status, c.dial_secs, ",
        totals!(),
        " FROM cdrs c WHERE ",
        one_tenant_filter!(),
        " GROUP BY 3, 4"
    );
    bind_filter!(sqlx::query(per_dial_time), tenants, filter)
        .bind(day)
        .execute(&mut *tx)
        .await?;
    // The day joins each of its callers' sorted list of days (V6), once:
    // rolling a day up again changes nothing. In the order of the key, so
    // that roll-ups of two days sharing callers lock them in the same order
    // (no deadlock).
    let callers = concat!(
        "INSERT INTO report_callers AS r (tenant_id, caller_id, first_day, last_day, days)
         SELECT $1[1], c.caller_id, $7, $7, ARRAY[$7::date] FROM cdrs c WHERE ",
        one_tenant_filter!(),
        " GROUP BY c.caller_id ORDER BY c.caller_id
         ON CONFLICT (tenant_id, caller_id) DO UPDATE
         SET days = CASE WHEN r.last_day < EXCLUDED.last_day THEN r.days || EXCLUDED.last_day
                         ELSE ARRAY(SELECT d FROM unnest(r.days || EXCLUDED.last_day) d ORDER BY d) END,
             first_day = least(r.first_day, EXCLUDED.first_day),
             last_day = greatest(r.last_day, EXCLUDED.last_day)
         WHERE NOT EXCLUDED.last_day = ANY(r.days)"
    );
    bind_filter!(sqlx::query(callers), tenants, filter)
        .bind(day)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Distinct callers of one tenant's unfiltered range whose closed days
/// `[first, last]` are all either rolled up or among the `raw` parts (which
/// hold the rest of the range): the callers whose rolled-up days (V6's
/// `report_callers`) fall in `[first, last]`, plus those of the raw parts
/// that are not among them.
pub async fn unique_callers_rolled(
    pool: &PgPool,
    tenant_id: i64,
    first: NaiveDate,
    last: NaiveDate,
    raw: &[CdrFilter],
) -> Result<i64, sqlx::Error> {
    // A caller whose last day is in [first, last] is one: counted from the
    // index alone. Only those seen again since need their days searched:
    // `width_bucket(d, days)` is how many of the sorted `days` are <= d.
    // Each caller of the raw parts is looked up by its key (a correlated
    // subquery in the aggregate is not turned into a join reading every
    // caller of the tenant).
    let callers: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM report_callers r
                 WHERE r.tenant_id = $1 AND r.last_day BETWEEN $2 AND $3)
              + (SELECT count(*) FROM report_callers r
                 WHERE r.tenant_id = $1 AND r.last_day > $3 AND r.first_day <= $3
                   AND width_bucket($3::date, r.days) > width_bucket($2::date - 1, r.days))
              + (SELECT count(*) FILTER (WHERE NOT EXISTS (
                     SELECT 1 FROM report_callers r
                     WHERE r.tenant_id = $1 AND r.caller_id = raw.caller_id
                       AND r.last_day >= $2 AND r.first_day <= $3
                       AND width_bucket($3::date, r.days) > width_bucket($2::date - 1, r.days)))
                 FROM (SELECT DISTINCT c.caller_id
                       FROM unnest($4::timestamptz[], $5::timestamptz[]) AS part (from_at, to_at)
                       JOIN cdrs c ON c.tenant_id = $1
                                  AND c.started_at >= part.from_at AND c.started_at < part.to_at) raw)",
    )
    .persistent(false)
    .bind(tenant_id)
    .bind(first)
    .bind(last)
    .bind(raw.iter().map(|part| part.from).collect::<Vec<_>>())
    .bind(raw.iter().map(|part| part.to).collect::<Vec<_>>())
    .fetch_one(pool)
    .await?;
    Ok(callers)
}

/// Totals per dial time of rolled-up `days`, optionally of one status.
pub async fn rolled_by_dial_time(
    pool: &PgPool,
    tenant_id: i64,
    days: &[NaiveDate],
    status: Option<&str>,
) -> Result<Vec<DialTimeRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT dial_secs, ",
        rolled_totals!(),
        " FROM report_dial_daily
         WHERE tenant_id = $1 AND day = ANY($2) AND ($3::text IS NULL OR status = $3)
         GROUP BY dial_secs"
    ))
    .bind(tenant_id)
    .bind(days)
    .bind(status)
    .fetch_all(pool)
    .await
}

/// Totals per status of rolled-up `days`, optionally of one status.
pub async fn rolled_by_status(
    pool: &PgPool,
    tenant_id: i64,
    days: &[NaiveDate],
    status: Option<&str>,
) -> Result<Vec<GroupRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT status AS key, ",
        rolled_totals!(),
        " FROM report_cdr_hourly
         WHERE tenant_id = $1 AND day = ANY($2) AND ($3::text IS NULL OR status = $3)
         GROUP BY status"
    ))
    .bind(tenant_id)
    .bind(days)
    .bind(status)
    .fetch_all(pool)
    .await
}

/// Calls per (cause, status) of rolled-up `days`.
pub async fn rolled_by_cause(
    pool: &PgPool,
    tenant_id: i64,
    days: &[NaiveDate],
    status: Option<&str>,
) -> Result<Vec<CauseStatusRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT cause, status, sum(calls)::bigint AS calls FROM report_cdr_hourly
         WHERE tenant_id = $1 AND day = ANY($2) AND ($3::text IS NULL OR status = $3)
         GROUP BY cause, status",
    )
    .bind(tenant_id)
    .bind(days)
    .bind(status)
    .fetch_all(pool)
    .await
}

/// Totals per UTC hour of rolled-up `days`.
pub async fn rolled_by_hour(
    pool: &PgPool,
    tenant_id: i64,
    days: &[NaiveDate],
    status: Option<&str>,
) -> Result<Vec<HourRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT hour, ",
        rolled_totals!(),
        " FROM report_cdr_hourly
         WHERE tenant_id = $1 AND day = ANY($2) AND ($3::text IS NULL OR status = $3)
         GROUP BY hour"
    ))
    .bind(tenant_id)
    .bind(days)
    .bind(status)
    .fetch_all(pool)
    .await
}

/// Totals per DID of rolled-up `days`.
pub async fn rolled_by_did(
    pool: &PgPool,
    tenant_id: i64,
    days: &[NaiveDate],
    did: Option<&str>,
    status: Option<&str>,
) -> Result<Vec<GroupRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT did AS key, ",
        rolled_totals!(),
        " FROM report_did_daily
         WHERE tenant_id = $1 AND day = ANY($2) AND ($3::text IS NULL OR did = $3)
           AND ($4::text IS NULL OR status = $4)
         GROUP BY did"
    ))
    .bind(tenant_id)
    .bind(days)
    .bind(did)
    .bind(status)
    .fetch_all(pool)
    .await
}

/// One CDR as the search and the export show it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CdrRow {
    pub tenant_id: Option<i64>,
    pub call_id: String,
    pub did: String,
    pub caller_id: String,
    pub target: String,
    pub started_at: DateTime<Utc>,
    pub call_start: Option<DateTime<Utc>>,
    pub call_time: Option<DateTime<Utc>>,
    pub duration_secs: Option<i64>,
    pub dial_secs: Option<i64>,
    pub status: String,
    pub cause: Option<i16>,
    pub received_at: DateTime<Utc>,
}

macro_rules! cdr_columns {
    () => {
        "c.call_id, c.did, c.caller_id, c.target, c.started_at, c.call_start,
         c.call_time, c.duration_secs, c.dial_secs, c.status, c.cause, c.received_at"
    };
}

/// The CDR of one call, among the tenants' CDRs.
pub async fn one_cdr(
    pool: &PgPool,
    tenants: Tenants,
    call_id: &str,
) -> Result<Option<CdrRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT c.tenant_id, ",
        cdr_columns!(),
        " FROM cdrs c
         WHERE c.tenant_id = ANY(coalesce($1::bigint[], (SELECT array_agg(tenant_id) FROM tenants)))
           AND c.call_id = $2"
    );
    sqlx::query_as(sql)
        .bind(tenants.bind())
        .bind(call_id)
        .fetch_optional(pool)
        .await
}

/// One logged step of a call.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StepRow {
    pub at: DateTime<Utc>,
    pub menu: String,
    pub dtmf: String,
    pub from_node: Option<String>,
    pub node_key: Option<String>,
    pub outcome: String,
    pub action: String,
    pub flow_version: Option<i32>,
}

/// Every logged step of one call, oldest first.
pub async fn steps_of_call(
    pool: &PgPool,
    tenant_id: i64,
    call_id: &str,
) -> Result<Vec<StepRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at, menu, dtmf, from_node, node_key, outcome, action, flow_version FROM call_steps
         WHERE tenant_id = $1 AND call_id = $2 ORDER BY at, step_id",
    )
    .bind(tenant_id)
    .bind(call_id)
    .fetch_all(pool)
    .await
}

/// Where a page starts: after this (started_at, call_id), newest first.
pub type CdrKey = (DateTime<Utc>, String);

/// CDRs newest first (`started_at` descending, then `call_id` descending),
/// after `after`; at most `limit`.
pub async fn search_cdrs(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
    after: Option<&CdrKey>,
    limit: i64,
) -> Result<Vec<CdrRow>, sqlx::Error> {
    macro_rules! search {
        ($filter:expr) => {
            concat!(
                "SELECT c.tenant_id, ",
                cdr_columns!(),
                " FROM cdrs c WHERE ",
                $filter,
                "
           AND ($7::timestamptz IS NULL OR (c.started_at <= $7 AND (c.started_at, c.call_id) < ($7, $8)))
         ORDER BY c.started_at DESC, c.call_id DESC LIMIT $9"
            )
        };
    }
    let sql = match tenants {
        Tenants::One(_) => search!(one_tenant_filter!()),
        Tenants::All => search!(cdr_filter!()),
    };
    bind_filter!(sqlx::query_as(sql), tenants, filter)
        .bind(after.map(|key| key.0))
        .bind(after.map(|key| key.1.as_str()))
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// A connection of its own for a long export, in a read-only snapshot
/// without the pool's 10 s statement limit (the client's reading speed sets
/// the pace). It is closed when dropped, never returned to the pool: however
/// the export ends (to the last row, the client gone, an error, a panic, the
/// request dropped midway through these statements), no other borrower can
/// get a connection still inside its transaction, and the server abandons a
/// query cut short at once instead of the pool reading its remaining rows.
pub async fn begin_export(pool: &PgPool) -> Result<PoolConnection<Postgres>, sqlx::Error> {
    let mut connection = pool.acquire().await?;
    connection.close_on_drop();
    // Rows in order from the first one: read along the time index (and
    // sort only the rare calls of the same second), never a scan of the
    // table sorted whole before the first row — the plan PostgreSQL picks
    // for a long range when it weighs only the last row.
    for statement in [
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        "SET LOCAL statement_timeout = '30min'",
        "SET LOCAL enable_seqscan = off",
        "SET LOCAL enable_bitmapscan = off",
        "SET LOCAL max_parallel_workers_per_gather = 0",
        "SET LOCAL jit = off",
    ] {
        sqlx::query(statement).execute(&mut *connection).await?;
    }
    Ok(connection)
}

/// Every CDR of the filter, newest first, streamed from the database.
pub fn stream_cdrs<'c>(
    connection: &'c mut PgConnection,
    tenants: Tenants,
    filter: &'c CdrFilter,
) -> impl Stream<Item = Result<CdrRow, sqlx::Error>> + 'c {
    macro_rules! export {
        ($filter:expr) => {
            concat!(
                "SELECT c.tenant_id, ",
                cdr_columns!(),
                " FROM cdrs c WHERE ",
                $filter,
                " ORDER BY c.started_at DESC, c.call_id DESC"
            )
        };
    }
    let sql = match tenants {
        Tenants::One(_) => export!(one_tenant_filter!()),
        Tenants::All => export!(cdr_filter!()),
    };
    bind_filter!(sqlx::query_as(sql), tenants, filter).fetch(connection)
}

/// CDRs for numbers no tenant owns (platform-level), newest first.
pub async fn orphan_cdrs_platform(
    pool: &PgPool,
    filter: &CdrFilter,
    after: Option<&CdrKey>,
    limit: i64,
) -> Result<Vec<CdrRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT NULL::bigint AS tenant_id, ",
        cdr_columns!(),
        " FROM orphan_cdrs c
         WHERE c.started_at >= $1 AND c.started_at < $2
           AND ($3::text IS NULL OR c.did = $3)
           AND ($4::text IS NULL OR c.status = $4)
           AND ($5::text IS NULL OR c.target = $5)
           AND ($6::timestamptz IS NULL OR (c.started_at, c.call_id) < ($6, $7))
         ORDER BY c.started_at DESC, c.call_id DESC LIMIT $8"
    ))
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.did.as_deref())
    .bind(filter.status.as_deref())
    .bind(filter.target.as_deref())
    .bind(after.map(|key| key.0))
    .bind(after.map(|key| key.1.as_str()))
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_percentile_of_a_histogram_is_postgresqls() {
        let mut dial = vec![(10, 1), (20, 1), (30, 1), (2, 1), (4, 1), (1, 1)];
        assert_eq!(percentile_cont(&mut dial, 0.95), Some(27.5));
        assert_eq!(percentile_cont(&mut [(5, 3)], 0.95), Some(5.0));
        assert_eq!(percentile_cont(&mut [(1, 1), (2, 1)], 0.5), Some(1.5));
        // 0.95 * 19 = 18.05 in floating point, as PostgreSQL computes it too.
        assert_eq!(
            percentile_cont(&mut [(0, 19), (100, 1)], 0.95),
            Some(5.000000000000071)
        );
        assert_eq!(percentile_cont(&mut [], 0.95), None);
    }
}
