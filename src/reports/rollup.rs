//! Which parts of a range the daily roll-ups (V5) answer, and keeping them.
//!
//! A UTC day is *closed* once it ended 24 hours ago or more (no call lasts
//! longer: its steps and CDRs are all in). The closed whole days of a range
//! are read from the roll-ups when they hold them; the rest of the range
//! (partial days at its ends, recent days, days not rolled up yet) from the
//! raw tables, with the same queries. Closed days a report needed and found
//! missing are rolled up in the background, for the next report; a CDR or
//! step arriving later for a rolled-up day un-rolls it (V5's triggers).

use std::collections::HashSet;
use std::sync::Mutex;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use crate::storage::PgPool;
use crate::storage::reports::{self as sql, CdrFilter, Tenants};

/// The last UTC day whose calls are all in: it ended 24 hours ago or more.
pub fn last_closed_day(now: DateTime<Utc>) -> NaiveDate {
    (now - Duration::hours(24))
        .date_naive()
        .pred_opt()
        .unwrap_or(NaiveDate::MIN)
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// How a report reads a range: rolled-up days, and raw parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The tenant whose roll-ups are read (when `rolled` is not empty).
    pub tenant_id: i64,
    pub rolled: Vec<NaiveDate>,
    /// The rest of the range, as maximal parts, each with the filter.
    pub raw: Vec<CdrFilter>,
}

/// Plans `filter` for one tenant, when the roll-up of `grain` answers it
/// ([`Grain::answers`]); otherwise (or for every tenant together) all raw.
/// Starts the background roll-up of the closed days found missing.
pub async fn plan(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
    now: DateTime<Utc>,
    grain: Grain,
) -> Result<Plan, sqlx::Error> {
    let usable = grain.answers(filter);
    let Tenants::One(tenant_id) = tenants else {
        return Ok(Plan {
            tenant_id: 0,
            rolled: Vec::new(),
            raw: vec![filter.clone()],
        });
    };
    // Whole UTC days inside the range, closed.
    let first_whole = {
        let day = filter.from.date_naive();
        if day_start(day) == filter.from {
            day
        } else {
            day.succ_opt().unwrap_or(day)
        }
    };
    let last_candidate = filter
        .to
        .date_naive()
        .pred_opt()
        .unwrap_or(NaiveDate::MIN)
        .min(last_closed_day(now));
    let mut rolled = Vec::new();
    if usable && first_whole <= last_candidate {
        rolled = sql::rolled_days(pool, tenant_id, first_whole, last_candidate).await?;
        let have: HashSet<NaiveDate> = rolled.iter().copied().collect();
        let missing: Vec<NaiveDate> = first_whole
            .iter_days()
            .take_while(|day| *day <= last_candidate)
            .filter(|day| !have.contains(day))
            .collect();
        if !missing.is_empty() {
            roll_up_in_background(pool.clone(), tenant_id, missing);
        }
    }
    let mut raw = Vec::new();
    let mut cursor = filter.from;
    let part = |from, to| CdrFilter {
        from,
        to,
        ..filter.clone()
    };
    for day in &rolled {
        let start = day_start(*day);
        if cursor < start {
            raw.push(part(cursor, start));
        }
        cursor = start + Duration::days(1);
    }
    if cursor < filter.to {
        raw.push(part(cursor, filter.to));
    }
    Ok(Plan {
        tenant_id,
        rolled,
        raw,
    })
}

/// What a roll-up keeps besides the tenant, the UTC day and the CDR status,
/// which decides the filters it can answer. The one rule of when a roll-up
/// is usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    /// Totals per status, cause and dial time (`report_cdr_hourly`,
    /// `report_dial_daily`): no DID, no target.
    Status,
    /// Totals per DID (`report_did_daily`): no target.
    Did,
    /// Totals per UTC hour: no DID, no target, and a grid of whole UTC
    /// hours (`origin` on the hour).
    UtcHour { origin: DateTime<Utc> },
    /// The funnel (`report_funnel_daily`): no DID, no target, and no flow
    /// version (the roll-up keeps none).
    Funnel { version: Option<i32> },
}

impl Grain {
    /// Can the roll-up answer the closed days of `filter`?
    pub fn answers(self, filter: &CdrFilter) -> bool {
        let no_did = filter.did.is_none();
        filter.target.is_none()
            && match self {
                Grain::Status => no_did,
                Grain::Did => true,
                Grain::UtcHour { origin } => no_did && origin.timestamp() % 3600 == 0,
                Grain::Funnel { version } => no_did && version.is_none(),
            }
    }
}

/// The one routine behind every report: plans the range for `grain` (see
/// [`plan`]), then [`read`]s it. Gives the plan and every row, the rolled
/// ones first; callers merge the rows.
pub async fn rolled_and_raw<Row, RolledFut, RawFut>(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
    now: DateTime<Utc>,
    grain: Grain,
    rolled: impl FnOnce(i64, Vec<NaiveDate>) -> RolledFut,
    raw: impl Fn(CdrFilter) -> RawFut,
) -> Result<(Plan, Vec<Row>), sqlx::Error>
where
    RolledFut: std::future::Future<Output = Result<Vec<Row>, sqlx::Error>>,
    RawFut: std::future::Future<Output = Result<Vec<Row>, sqlx::Error>>,
{
    let plan = plan(pool, tenants, filter, now, grain).await?;
    let rows = read(&plan, rolled, raw).await?;
    Ok((plan, rows))
}

/// Reads a plan: its closed days from the roll-up with `rolled` (the
/// tenant and its days), the rest raw with `raw` (each part, concurrently).
pub async fn read<Row, RolledFut, RawFut>(
    plan: &Plan,
    rolled: impl FnOnce(i64, Vec<NaiveDate>) -> RolledFut,
    raw: impl Fn(CdrFilter) -> RawFut,
) -> Result<Vec<Row>, sqlx::Error>
where
    RolledFut: std::future::Future<Output = Result<Vec<Row>, sqlx::Error>>,
    RawFut: std::future::Future<Output = Result<Vec<Row>, sqlx::Error>>,
{
    let rolled_rows = async {
        if plan.rolled.is_empty() {
            Ok(Vec::new())
        } else {
            rolled(plan.tenant_id, plan.rolled.clone()).await
        }
    };
    let raw_rows = futures_util::future::try_join_all(plan.raw.iter().cloned().map(raw));
    let (mut rows, raw_rows) = futures_util::future::try_join(rolled_rows, raw_rows).await?;
    rows.extend(raw_rows.into_iter().flatten());
    Ok(rows)
}

/// The closed days `[first, last]` whose distinct callers a plan reads from
/// the roll-up, when that is the cheaper way: not the rows of the range's
/// calls but the tenant's callers active since `first` are read, so the
/// range must reach near today — its rolled-up days at least a quarter of
/// the days from `first` to the last closed day. (A short range long ago
/// counts its few calls raw.) Whatever it costs, the roll-up answers when
/// the range starts before `raw_kept_from`, the first day whose raw CDRs
/// the tenant's retention keeps: the raw rows may be gone. The caller must
/// not filter by DID, status or target, which the roll-up of callers does
/// not keep.
pub fn callers_span(
    plan: &Plan,
    now: DateTime<Utc>,
    raw_kept_from: Option<NaiveDate>,
) -> Option<(NaiveDate, NaiveDate)> {
    let (first, last) = (*plan.rolled.first()?, *plan.rolled.last()?);
    let since_first = (last_closed_day(now) - first).num_days() + 1;
    let raw_gone = raw_kept_from.is_some_and(|kept| first < kept);
    (raw_gone || plan.rolled.len() as i64 * 4 >= since_first).then_some((first, last))
}

/// Tenants whose roll-up is being written by this process.
static ROLLING: Mutex<Option<HashSet<i64>>> = Mutex::new(None);

/// Rolls up `days` of the tenant in the background, one day per transaction,
/// unless this process is already at it for the tenant.
pub fn roll_up_in_background(pool: PgPool, tenant_id: i64, days: Vec<NaiveDate>) {
    {
        let mut rolling = ROLLING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !rolling.get_or_insert_with(HashSet::new).insert(tenant_id) {
            return;
        }
    }
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let mut done = 0;
        for day in &days {
            match sql::roll_up_day(&pool, tenant_id, *day).await {
                Ok(()) => done += 1,
                Err(error) => {
                    tracing::warn!(%error, tenant_id, %day, "report roll-up failed; the day stays raw");
                    break;
                }
            }
        }
        tracing::info!(
            tenant_id,
            days = done,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "report days rolled up"
        );
        let mut rolling = ROLLING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(rolling) = rolling.as_mut() {
            rolling.remove(&tenant_id);
        }
    });
}

/// How long after start the roller's first pass waits (the server's own
/// start, and short-lived test servers, go first), and between passes.
const ROLLER_FIRST_PASS: std::time::Duration = std::time::Duration::from_secs(60);
const ROLLER_PERIOD: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Rolls up the last two closed days of every tenant as soon as they close,
/// so that reports over "yesterday" and "the last 30 days" find them rolled
/// up instead of rolling them up after the first report that needed them.
/// Older days are still rolled up on demand. Every node runs one: a day two
/// of them roll up at once is rolled up once (see `roll_up_day`).
pub fn spawn_recent_days_roller(pool: PgPool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(ROLLER_FIRST_PASS).await;
        loop {
            match roll_up_recent_days(&pool, Utc::now()).await {
                Ok(RolledUp { days: 0, failed: 0 }) => {}
                Ok(RolledUp { days, failed }) => {
                    tracing::info!(days, failed, "recent report days rolled up")
                }
                Err(error) => tracing::warn!(%error, "rolling up the recent report days"),
            }
            tokio::time::sleep(ROLLER_PERIOD).await;
        }
    })
}

/// One pass of the roller: the two last closed days of every tenant not
/// rolled up yet; a day that fails is logged and left raw for the next pass.
pub async fn roll_up_recent_days(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> Result<RolledUp, sqlx::Error> {
    let last = last_closed_day(now);
    let first = last.pred_opt().unwrap_or(last);
    roll_up_missing(pool, Some(first), first, last).await
}

/// How far back `roll_up_history` goes by default: the longest range a
/// report takes. Older days are rolled up when a report needs them.
const HISTORY_DAYS: i64 = 400;

/// Every closed day not rolled up yet: of every tenant from `since`, or
/// else of each tenant from its first CDR (at most [`HISTORY_DAYS`] back) —
/// `ivrhub rollup`, after a deployment over months of CDRs, so that the
/// first reports do not read them raw.
pub async fn roll_up_history(
    pool: &PgPool,
    since: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<RolledUp, sqlx::Error> {
    let last = last_closed_day(now);
    let floor = last - Duration::days(HISTORY_DAYS);
    roll_up_missing(pool, since, floor, last).await
}

/// Every closed day up to `last` not rolled up yet, of every tenant from
/// its first CDR (however long ago): before raw rows are dropped by
/// retention (`maintenance`), so that their reports outlive them.
pub async fn roll_up_until(
    pool: &PgPool,
    last: NaiveDate,
    now: DateTime<Utc>,
) -> Result<RolledUp, sqlx::Error> {
    let last = last.min(last_closed_day(now));
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    roll_up_missing(pool, None, epoch, last).await
}

/// What a pass of rolling up did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RolledUp {
    /// (tenant, day) pairs rolled up (or found rolled up by another roller).
    pub days: usize,
    /// Pairs whose roll-up failed (logged; they stay raw).
    pub failed: usize,
}

async fn roll_up_missing(
    pool: &PgPool,
    first: Option<NaiveDate>,
    floor: NaiveDate,
    last: NaiveDate,
) -> Result<RolledUp, sqlx::Error> {
    let missing = sql::days_not_rolled_up(pool, first, floor, last).await?;
    let mut outcome = RolledUp::default();
    for (n, (tenant_id, day)) in missing.iter().copied().enumerate() {
        if n > 0 && n % 1000 == 0 {
            tracing::info!(of = missing.len(), done = n, "rolling up report days");
        }
        // One tenant's failure (deleted meanwhile, a timeout) is not the others'.
        match sql::roll_up_day(pool, tenant_id, day).await {
            Ok(()) => outcome.days += 1,
            Err(error) => {
                outcome.failed += 1;
                tracing::warn!(%error, tenant_id, %day, "report roll-up failed; the day stays raw");
            }
        }
    }
    Ok(outcome)
}

/// Rolls up, now, every day of `[first, last]` the tenant lacks (tests; the
/// same work as the background roll-up). Returns how many it rolled up.
pub async fn roll_up_days(
    pool: &PgPool,
    tenant_id: i64,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<usize, sqlx::Error> {
    let have: HashSet<NaiveDate> = sql::rolled_days(pool, tenant_id, first, last)
        .await?
        .into_iter()
        .collect();
    let mut done = 0;
    for day in first.iter_days().take_while(|day| *day <= last) {
        if !have.contains(&day) {
            sql::roll_up_day(pool, tenant_id, day).await?;
            done += 1;
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_roll_up_answers_only_what_it_keeps() {
        let from = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let plain = CdrFilter {
            from,
            to: from + Duration::days(30),
            did: None,
            target: None,
            status: None,
        };
        let with = |did: Option<&str>, target: Option<&str>| CdrFilter {
            did: did.map(str::to_owned),
            target: target.map(str::to_owned),
            ..plain.clone()
        };
        let on_the_hour = Grain::UtcHour { origin: from };
        let half_past = Grain::UtcHour {
            origin: from + Duration::minutes(30),
        };
        let funnel = Grain::Funnel { version: None };
        let version = Grain::Funnel { version: Some(3) };
        for grain in [Grain::Status, Grain::Did, on_the_hour, funnel] {
            assert!(grain.answers(&plain), "{grain:?}");
            assert!(
                !grain.answers(&with(None, Some("050"))),
                "{grain:?}: no target kept"
            );
        }
        assert!(Grain::Did.answers(&with(Some("0733"), None)));
        for grain in [Grain::Status, on_the_hour, funnel] {
            assert!(
                !grain.answers(&with(Some("0733"), None)),
                "{grain:?}: no DID kept"
            );
        }
        assert!(
            !half_past.answers(&plain),
            "UTC hours only for a grid on the hour"
        );
        assert!(!version.answers(&plain), "no flow version kept");
    }

    #[test]
    fn a_day_is_closed_once_it_ended_a_day_ago() {
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc)
        };
        let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
        assert_eq!(
            last_closed_day(at("2026-11-24T00:00:00Z")),
            day("2026-11-22")
        );
        assert_eq!(
            last_closed_day(at("2026-11-23T23:59:59Z")),
            day("2026-11-21")
        );
    }
}
