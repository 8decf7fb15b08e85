//! The aggregate reports: summary, by status, by cause, by DID, by target,
//! by tenant, time series.

use std::collections::BTreeMap;
use std::future::Future;

use actix_web::{HttpRequest, get, web};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::params::{
    BucketParam, CompareParam, DEFAULT_TOP, MAX_TOP, Params, RangeParams, TenantParam, TopParam,
    previous_period,
};
use super::range::{BucketSize, buckets, hour_start};
use super::scope::ReportScope;
use super::views::{
    CauseMeaning, CauseRow, DidRow, Figures, Point, Report, Series, StatusCount, StatusRow,
    Summary, TargetRow, TenantRow, TopTargets, local,
};
use crate::admin::state::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::storage::PgPool;
use crate::storage::reports::{
    self as sql, CauseStatusRow, CdrFilter, GroupRow, HourRow, Tenants, Totals,
};
use futures_util::future::try_join;

use super::rollup::{self, Grain};

/// The parameters every report takes.
pub(super) const FILTER_PARAMS: [&str; 7] =
    ["tenant_id", "from", "to", "tz", "did", "status", "target"];

/// A report request, read and checked.
pub(super) struct Asked {
    pub tenants: Tenants,
    pub tenant_id: Option<i64>,
    pub tz: Tz,
    pub filter: CdrFilter,
    pub compare: bool,
    pub params: Params,
}

/// Reads the range, filters and `compare`, plus `extra` parameters.
pub(super) fn asked(
    scope: &ReportScope,
    request: &HttpRequest,
    extra: &[&str],
) -> Result<Asked, ApiError> {
    let allowed: Vec<&str> = FILTER_PARAMS.iter().chain(extra).copied().collect();
    let params = Params::parse(request.query_string(), &allowed)?;
    let tz = params.time_zone(scope.default_time_zone())?;
    let filter = params.filter(tz)?;
    let compare = if extra.contains(&"compare") {
        params.compare()?
    } else {
        false
    };
    Ok(Asked {
        tenants: scope.tenants(),
        tenant_id: scope.tenant.map(|tenant| tenant.tenant_id),
        tz,
        filter,
        compare,
        params,
    })
}

/// Runs `compute` on the range and, with `compare=previous`, on the previous
/// period too (at the same time, on two connections).
pub(super) async fn report<T, F, Fut>(asked: &Asked, compute: F) -> Result<Report<T>, ApiError>
where
    F: Fn(CdrFilter) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let (figures, previous) = if asked.compare {
        let previous_filter = previous_period(&asked.filter);
        let (figures, previous) = futures_util::future::try_join(
            compute(asked.filter.clone()),
            compute(previous_filter.clone()),
        )
        .await?;
        (figures, Some((previous_filter, previous)))
    } else {
        (compute(asked.filter.clone()).await?, None)
    };
    Ok(Report::new(
        asked.tenant_id,
        asked.tz,
        &asked.filter,
        figures,
        previous,
    ))
}

/// Calls, answered, ASR, ACD, talk minutes, dial times, unique callers.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(TenantParam, RangeParams, CompareParam),
    responses(
        (status = 200, description = "The summary of the range", body = Report<Summary>),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 400, description = "A missing or malformed parameter (`details[].path` names it)", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 422, description = "`from` not before `to`, or a range over 400 days", body = ErrorBody),
    )
)]
#[get("/reports/summary")]
pub async fn summary(
    state: web::Data<ApiState>,
    scope: ReportScope,
    request: HttpRequest,
) -> Result<web::Json<Report<Summary>>, ApiError> {
    let asked = asked(&scope, &request, &["compare"])?;
    let report = report(&asked, |filter| {
        let pool = state.pool.clone();
        let tenants = asked.tenants;
        async move { summary_of(&pool, tenants, &filter, Utc::now()).await }
    })
    .await?;
    Ok(web::Json(report))
}

fn share(calls: i64, total: i64) -> f64 {
    if total > 0 {
        calls as f64 / total as f64
    } else {
        0.0
    }
}

/// Calls per CALL_STATUS: every status that arrived, including ones the spec does not list.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(TenantParam, RangeParams, CompareParam),
    responses(
        (status = 200, description = "One row per status, most calls first", body = Report<Vec<StatusRow>>),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 400, description = "A missing or malformed parameter", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 422, description = "`from` not before `to`, or a range over 400 days", body = ErrorBody),
    )
)]
#[get("/reports/by-status")]
pub async fn by_status(
    state: web::Data<ApiState>,
    scope: ReportScope,
    request: HttpRequest,
) -> Result<web::Json<Report<Vec<StatusRow>>>, ApiError> {
    let asked = asked(&scope, &request, &["compare"])?;
    let report = report(&asked, |filter| {
        let pool = state.pool.clone();
        let tenants = asked.tenants;
        async move {
            let rows = status_rows(&pool, tenants, &filter, Utc::now()).await?;
            let total: i64 = rows.iter().map(|row| row.totals.calls).sum();
            Ok(rows
                .into_iter()
                .map(|row| StatusRow {
                    status: row.key,
                    share: share(row.totals.calls, total),
                    figures: row.totals.into(),
                })
                .collect())
        }
    })
    .await?;
    Ok(web::Json(report))
}

/// Calls per Q.850/ISUP cause, with the spec's description and SIP equivalent.
///
/// The cause of a call is derived from its CALL_STATUS when the CDR is
/// stored, as Asterisk sets it with that status (`cdr::cause_for_status`):
/// ANSWER 16 (normal clearing), BUSY 17 (user busy), NOANSWER 19 (no answer
/// from the user), CANCEL 16 (the caller hung up before the answer: normal
/// clearing, SIP "BYE or CANCEL"), CONGESTION 34 (no circuit available:
/// Asterisk's congestion cause), CHANUNAVAIL 20 (subscriber absent),
/// DONTCALL and TORTURE 21 (call rejected); INVALIDARGS (a dial-argument
/// error, not a network cause) and any other status have no cause
/// (`cause: null`, never dropped).
///
/// The causes ivrhub itself sends (a HANGUP node's cause; 1, 21 or 41 of a
/// safe answer) are not counted here: Voicenter's end-of-call report does
/// not carry them, and the call-step log records that a step answered HANGUP
/// and from which node, not with which cause (the node may have been edited
/// since). A call the IVR itself hung up on (retries used up with no
/// `on_exhausted`) is reported by Voicenter as ANSWER, so it counts under 16
/// here: the menu funnel tells them apart (`hung_up_by_ivr` per menu, from
/// the call steps), and `ended` says where the other calls left the flow.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(TenantParam, RangeParams, CompareParam),
    responses(
        (status = 200, description = "One row per cause, most calls first", body = Report<Vec<CauseRow>>),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 400, description = "A missing or malformed parameter", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 422, description = "`from` not before `to`, or a range over 400 days", body = ErrorBody),
    )
)]
#[get("/reports/by-cause")]
pub async fn by_cause(
    state: web::Data<ApiState>,
    scope: ReportScope,
    request: HttpRequest,
) -> Result<web::Json<Report<Vec<CauseRow>>>, ApiError> {
    let asked = asked(&scope, &request, &["compare"])?;
    let mut meanings: BTreeMap<i16, Vec<CauseMeaning>> = BTreeMap::new();
    for cause in sql::hangup_causes(&state.pool).await? {
        meanings.entry(cause.cause).or_default().push(CauseMeaning {
            description: cause.description,
            sip: cause.sip,
        });
    }
    let meanings = &meanings;
    let report = report(&asked, |filter| {
        let pool = state.pool.clone();
        let tenants = asked.tenants;
        async move {
            let rows = cause_rows(&pool, tenants, &filter, Utc::now()).await?;
            let total: i64 = rows.iter().map(|row| row.calls).sum();
            let mut causes: Vec<CauseRow> = Vec::new();
            for row in rows {
                let index = match causes.iter().position(|c| c.cause == row.cause) {
                    Some(index) => index,
                    None => {
                        causes.push(CauseRow {
                            cause: row.cause,
                            meanings: row
                                .cause
                                .and_then(|cause| meanings.get(&cause).cloned())
                                .unwrap_or_default(),
                            calls: 0,
                            share: 0.0,
                            statuses: Vec::new(),
                        });
                        causes.len() - 1
                    }
                };
                let cause = &mut causes[index];
                cause.calls += row.calls;
                cause.statuses.push(StatusCount {
                    status: row.status,
                    calls: row.calls,
                });
            }
            for cause in &mut causes {
                cause.share = share(cause.calls, total);
            }
            causes.sort_by(|a, b| {
                b.calls
                    .cmp(&a.calls)
                    .then(a.cause.is_none().cmp(&b.cause.is_none()))
                    .then(a.cause.cmp(&b.cause))
            });
            Ok(causes)
        }
    })
    .await?;
    Ok(web::Json(report))
}

/// Calls per DID called.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(TenantParam, RangeParams, CompareParam),
    responses(
        (status = 200, description = "One row per DID, most calls first", body = Report<Vec<DidRow>>),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 400, description = "A missing or malformed parameter", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 422, description = "`from` not before `to`, or a range over 400 days", body = ErrorBody),
    )
)]
#[get("/reports/by-did")]
pub async fn by_did(
    state: web::Data<ApiState>,
    scope: ReportScope,
    request: HttpRequest,
) -> Result<web::Json<Report<Vec<DidRow>>>, ApiError> {
    let asked = asked(&scope, &request, &["compare"])?;
    let report = report(&asked, |filter| {
        let pool = state.pool.clone();
        let tenants = asked.tenants;
        async move {
            let rows = did_rows(&pool, tenants, &filter, Utc::now()).await?;
            Ok(rows
                .into_iter()
                .map(|row| DidRow {
                    did: row.key,
                    figures: row.totals.into(),
                })
                .collect())
        }
    })
    .await?;
    Ok(web::Json(report))
}

/// The targets (numbers dialled) with the most calls.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(TenantParam, RangeParams, TopParam, CompareParam),
    responses(
        (status = 200, description = "The top targets", body = Report<TopTargets>),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 400, description = "A missing or malformed parameter (e.g. limit 0 or 101)", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 422, description = "`from` not before `to`, or a range over 400 days", body = ErrorBody),
    )
)]
#[get("/reports/by-target")]
pub async fn by_target(
    state: web::Data<ApiState>,
    scope: ReportScope,
    request: HttpRequest,
) -> Result<web::Json<Report<TopTargets>>, ApiError> {
    let asked = asked(&scope, &request, &["compare", "limit"])?;
    let limit = asked.params.limit(DEFAULT_TOP, MAX_TOP)?;
    let report = report(&asked, |filter| {
        let pool = state.pool.clone();
        let tenants = asked.tenants;
        async move {
            let top = sql::by_target(&pool, tenants, &filter, limit).await?;
            Ok(TopTargets {
                targets: top.targets,
                calls_without_target: top.calls_without_target,
                top: top
                    .rows
                    .into_iter()
                    .map(|row| TargetRow {
                        target: row.key,
                        figures: row.totals.into(),
                    })
                    .collect(),
            })
        }
    })
    .await?;
    Ok(web::Json(report))
}

/// Calls per tenant (platform admins; with `tenant_id`, that tenant's row alone).
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(TenantParam, RangeParams, CompareParam),
    responses(
        (status = 200, description = "One row per tenant with calls, most first", body = Report<Vec<TenantRow>>),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 400, description = "A missing or malformed parameter", body = ErrorBody),
        (status = 403, description = "Not a platform admin", body = ErrorBody),
        (status = 422, description = "`from` not before `to`, or a range over 400 days", body = ErrorBody),
    )
)]
#[get("/reports/by-tenant")]
pub async fn by_tenant(
    state: web::Data<ApiState>,
    scope: ReportScope,
    request: HttpRequest,
) -> Result<web::Json<Report<Vec<TenantRow>>>, ApiError> {
    scope.require_platform_admin()?;
    let asked = asked(&scope, &request, &["compare"])?;
    let report = report(&asked, |filter| {
        let pool = state.pool.clone();
        let tenants = asked.tenants;
        async move {
            let rows = sql::by_tenant(&pool, tenants, &filter).await?;
            Ok(rows
                .into_iter()
                .map(|row| TenantRow {
                    tenant_id: row.tenant_id,
                    name: row.name,
                    figures: row.totals.into(),
                })
                .collect())
        }
    })
    .await?;
    Ok(web::Json(report))
}

/// The figures per hour or per day of the zone's clock, every bucket present.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(TenantParam, RangeParams, BucketParam, CompareParam),
    responses(
        (status = 200, description = "One point per bucket, in order, empty ones with zeros", body = Report<Series>),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 400, description = "A missing or malformed parameter (e.g. bucket=week)", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 422, description = "`from` not before `to`, or a range over 400 days", body = ErrorBody),
    )
)]
#[get("/reports/series")]
pub async fn series(
    state: web::Data<ApiState>,
    scope: ReportScope,
    request: HttpRequest,
) -> Result<web::Json<Report<Series>>, ApiError> {
    let asked = asked(&scope, &request, &["compare", "bucket"])?;
    let size = asked.params.bucket()?;
    let tz = asked.tz;
    let report = report(&asked, |filter| {
        let pool = state.pool.clone();
        let tenants = asked.tenants;
        async move {
            let cut = buckets(filter.from, filter.to, tz, size);
            let mut totals = vec![Totals::default(); cut.len()];
            // Buckets cut on the clock's hours (every zone whose offsets are
            // whole hours apart, e.g. Asia/Jerusalem, Asia/Kolkata): group
            // by hour, then sum hours into buckets. Otherwise, bucket by bounds.
            let origin = hour_start(filter.from, tz);
            let on_grid = |at: DateTime<Utc>| (at - origin).num_seconds() % 3600 == 0;
            if cut.iter().skip(1).all(|bucket| on_grid(bucket.start)) {
                for row in hour_rows(&pool, tenants, &filter, origin, Utc::now()).await? {
                    let at = row.hour.max(filter.from);
                    let index = cut.partition_point(|bucket| bucket.start <= at);
                    if let Some(slot) = index.checked_sub(1).and_then(|i| totals.get_mut(i)) {
                        slot.add(&row.totals);
                    }
                }
            } else {
                let starts: Vec<_> = cut.iter().map(|bucket| bucket.start).collect();
                for row in sql::series_by_bounds(&pool, tenants, &filter, &starts).await? {
                    if let Some(slot) = usize::try_from(row.bucket - 1)
                        .ok()
                        .and_then(|index| totals.get_mut(index))
                    {
                        *slot = row.totals;
                    }
                }
            }
            Ok(Series {
                bucket: match size {
                    BucketSize::Hour => "hour",
                    BucketSize::Day => "day",
                }
                .to_owned(),
                points: cut
                    .iter()
                    .zip(totals)
                    .map(|(bucket, totals)| Point {
                        start: local(bucket.start, tz),
                        end: local(bucket.end, tz),
                        hours: (bucket.end - bucket.start).num_seconds() as f64 / 3600.0,
                        figures: totals.into(),
                    })
                    .collect(),
            })
        }
    })
    .await?;
    Ok(web::Json(report))
}

/// Sums rows of the same key; most calls first, ties by key.
fn merge_groups(rows: impl Iterator<Item = GroupRow>) -> Vec<GroupRow> {
    let mut merged: BTreeMap<String, Totals> = BTreeMap::new();
    for row in rows {
        merged.entry(row.key).or_default().add(&row.totals);
    }
    let mut rows: Vec<GroupRow> = merged
        .into_iter()
        .map(|(key, totals)| GroupRow { key, totals })
        .collect();
    rows.sort_by(|a, b| b.totals.calls.cmp(&a.totals.calls).then(a.key.cmp(&b.key)));
    rows
}

/// Totals per status: closed days from the roll-up, the rest raw.
pub async fn status_rows(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
    now: DateTime<Utc>,
) -> Result<Vec<GroupRow>, ApiError> {
    let status = filter.status.as_deref();
    let (_, rows) = rollup::rolled_and_raw(
        pool,
        tenants,
        filter,
        now,
        Grain::Status,
        |tenant, days| async move { sql::rolled_by_status(pool, tenant, &days, status).await },
        |part| async move { sql::by_status(pool, tenants, &part).await },
    )
    .await?;
    Ok(merge_groups(rows.into_iter()))
}

/// Calls per (cause, status): closed days from the roll-up, the rest raw.
pub async fn cause_rows(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
    now: DateTime<Utc>,
) -> Result<Vec<CauseStatusRow>, ApiError> {
    let status = filter.status.as_deref();
    let (_, rows) = rollup::rolled_and_raw(
        pool,
        tenants,
        filter,
        now,
        Grain::Status,
        |tenant, days| async move { sql::rolled_by_cause(pool, tenant, &days, status).await },
        |part| async move { sql::by_cause(pool, tenants, &part).await },
    )
    .await?;
    let mut merged: BTreeMap<(Option<i16>, String), i64> = BTreeMap::new();
    for row in rows {
        *merged.entry((row.cause, row.status)).or_default() += row.calls;
    }
    let mut rows: Vec<CauseStatusRow> = merged
        .into_iter()
        .map(|((cause, status), calls)| CauseStatusRow {
            cause,
            status,
            calls,
        })
        .collect();
    rows.sort_by(|a, b| {
        a.cause
            .is_none()
            .cmp(&b.cause.is_none())
            .then(a.cause.cmp(&b.cause))
            .then(b.calls.cmp(&a.calls))
            .then(a.status.cmp(&b.status))
    });
    Ok(rows)
}

/// Totals per DID: closed days from the roll-up, the rest raw.
pub async fn did_rows(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
    now: DateTime<Utc>,
) -> Result<Vec<GroupRow>, ApiError> {
    let (did, status) = (filter.did.as_deref(), filter.status.as_deref());
    let (_, rows) = rollup::rolled_and_raw(
        pool,
        tenants,
        filter,
        now,
        Grain::Did,
        |tenant, days| async move { sql::rolled_by_did(pool, tenant, &days, did, status).await },
        |part| async move { sql::by_did(pool, tenants, &part).await },
    )
    .await?;
    Ok(merge_groups(rows.into_iter()))
}

/// Totals per hour of the grid through `origin`: closed days from the
/// roll-up (whose hours are UTC hours: used when the grid is too), the rest raw.
pub async fn hour_rows(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
    origin: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<HourRow>, ApiError> {
    let status = filter.status.as_deref();
    let (_, mut rows) = rollup::rolled_and_raw(
        pool,
        tenants,
        filter,
        now,
        Grain::UtcHour { origin },
        |tenant, days| async move { sql::rolled_by_hour(pool, tenant, &days, status).await },
        |part| async move { sql::series_by_hour(pool, tenants, &part, origin).await },
    )
    .await?;
    rows.sort_by_key(|row| row.hour);
    Ok(rows)
}

/// The additive figures and the p95 dial time of a range (closed days from
/// the roll-up, the rest raw): the summary without its distinct callers.
pub async fn figures_of(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
    now: DateTime<Utc>,
) -> Result<(Figures, Option<f64>), ApiError> {
    let plan = rollup::plan(pool, tenants, filter, now, Grain::Status).await?;
    let (figures, p95) = dial_figures(pool, tenants, filter, &plan).await?;
    Ok((figures, p95))
}

async fn dial_figures(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
    plan: &rollup::Plan,
) -> Result<(Figures, Option<f64>), sqlx::Error> {
    let status = filter.status.as_deref();
    let per_dial_time = rollup::read(
        plan,
        |tenant, days| async move { sql::rolled_by_dial_time(pool, tenant, &days, status).await },
        |part| async move { sql::by_dial_time(pool, tenants, &part).await },
    )
    .await?;
    let mut totals = Totals::default();
    let mut histogram: BTreeMap<i64, i64> = BTreeMap::new();
    for row in per_dial_time {
        totals.add(&row.totals);
        if let Some(dial_secs) = row.dial_secs {
            *histogram.entry(dial_secs).or_default() += row.totals.calls;
        }
    }
    let mut histogram: Vec<(i64, i64)> = histogram.into_iter().collect();
    Ok((
        Figures::from(totals),
        sql::percentile_cont(&mut histogram, 0.95),
    ))
}

/// The summary: the additive figures and the dial-time histogram (closed
/// days from the roll-up, the rest raw) while the distinct callers are
/// counted on another connection (from the roll-up of callers for a long
/// unfiltered range, raw otherwise).
pub async fn summary_of(
    pool: &PgPool,
    tenants: Tenants,
    filter: &CdrFilter,
    now: DateTime<Utc>,
) -> Result<Summary, ApiError> {
    let usable = Grain::Status.answers(filter);
    let plan = rollup::plan(pool, tenants, filter, now, Grain::Status).await?;
    let figures = dial_figures(pool, tenants, filter, &plan);
    let raw_kept_from = match tenants {
        Tenants::One(tenant_id) => crate::maintenance::cdrs_kept_from(
            now,
            crate::storage::tenants::cdr_retention_months(pool, tenant_id).await?,
        )
        .map(|kept| kept.date_naive()),
        _ => None,
    };
    let callers = async {
        match rollup::callers_span(&plan, now, raw_kept_from) {
            Some((first, last)) if usable && filter.status.is_none() => {
                sql::unique_callers_rolled(pool, plan.tenant_id, first, last, &plan.raw).await
            }
            _ => sql::unique_callers(pool, tenants, filter).await,
        }
    };
    let ((figures, p95_dial_secs), unique_callers) = try_join(figures, callers).await?;
    Ok(Summary {
        figures,
        p95_dial_secs,
        unique_callers,
    })
}
