//! The menu funnel: per node, how many calls reached it, what they pressed
//! there, how often nothing or something invalid was pressed, and how many
//! calls ended there with which CDR status.
//!
//! Closed UTC days (ended more than 24 hours ago) are read from the daily
//! roll-up (V5); the rest of the range from the raw tables, with the same
//! query. A closed day a report needed and found missing is rolled up in the
//! background, for the next report.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::aggregates::{asked, report};
use super::params::{CompareParam, FunnelTenantParam, RangeParams};
use super::rollup;
use super::scope::ReportScope;
use super::views::{Report, StatusCount};
use crate::admin::state::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::storage::PgPool;
use crate::storage::reports::{self as sql, CdrFilter, FunnelRow, Tenants};

/// Steps from a menu that ended without a match, by what the menu did next.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Misses {
    /// All such steps.
    pub total: i64,
    /// The menu took its timeout / invalid route.
    pub route: i64,
    /// The menu played itself again.
    pub retry: i64,
    /// No retry was left: the menu's final fallback (or a hang-up) — the caller gave up or was given up on.
    pub exhausted: i64,
}

/// Digits pressed in a menu that matched one of its routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Pressed {
    #[schema(example = "1")]
    pub digits: String,
    /// Steps (presses), not calls: a caller who pressed 1 twice counts twice.
    pub steps: i64,
}

/// One node of the flow, as the calls of the range went through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"node": "main", "reached": 1000, "pressed": [{"digits": "1", "steps": 600}, {"digits": "2", "steps": 250}], "timeouts": {"total": 170, "route": 0, "retry": 150, "exhausted": 20}, "invalid": {"total": 12, "route": 0, "retry": 12, "exhausted": 0}, "ended": 60, "hung_up_by_ivr": 20, "ended_by_status": [{"status": "CANCEL", "calls": 60}]}))]
pub struct FunnelNode {
    /// The node's key (what Voicenter sees as MENU).
    pub node: String,
    /// Calls that reached the node: distinct calls with a step answered
    /// with this node's action, or a step from this menu (keys pressed or
    /// none) — a menu Voicenter plays by itself, such as a CALL node's
    /// failover `NEXT_MENU`, is reached without being answered with.
    pub reached: i64,
    /// What was pressed here (a menu), most presses first.
    pub pressed: Vec<Pressed>,
    /// Steps from this menu where nothing was pressed.
    pub timeouts: Misses,
    /// Steps from this menu whose digits matched no route.
    pub invalid: Misses,
    /// Calls whose last logged step answered with this node: where the
    /// caller left the flow (or the flow hung up / handed the call on).
    pub ended: i64,
    /// Calls the IVR itself hung up on at this menu: the retries ran out
    /// with no `on_exhausted` (or the flow was broken there), and the call's
    /// last step was ivrhub's own HANGUP. Voicenter reports these calls as
    /// ANSWER (the IVR answered them): this figure, from the call steps, is
    /// how they are told apart from calls that reached someone. Not part
    /// of `ended` (no node answered).
    pub hung_up_by_ivr: i64,
    /// `ended` by the CDR's CALL_STATUS.
    pub ended_by_status: Vec<StatusCount>,
}

/// The funnel of a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Funnel {
    /// Every node the calls' steps were answered with, or pressed digits
    /// in; most calls reached first (ties by key).
    pub nodes: Vec<FunnelNode>,
    /// How the figures were read: closed UTC days from the daily roll-up
    /// (a speed detail; the figures are the same either way).
    pub rolled_up_days: usize,
    /// How many parts of the range (those not in `rolled_up_days`) were
    /// read from the raw tables (a speed detail, like `rolled_up_days`).
    pub raw_ranges: usize,
    /// Steps of the range the step log could not write (its queue was
    /// full, the database refused them or was down; see
    /// `ivrhub_steps_dropped_total`): when above 0, the figures miss that
    /// many steps and are lower than the calls were.
    pub dropped_steps: i64,
}

/// The menu funnel of a tenant's flow, from the call steps joined to the CDRs.
///
/// A call counts when its CDR is in the range and matches the filters; its
/// steps are those the webhook logged for the same IVR_UNIQUE_ID from one
/// hour before its start to 24 hours after. Calls without a CDR yet are not
/// counted. Platform admins must name the tenant (`tenant_id`).
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(FunnelTenantParam, RangeParams, CompareParam),
    responses(
        (status = 200, description = "One entry per node that calls reached, most first", body = Report<Funnel>),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 400, description = "A missing or malformed parameter (platform admins: tenant_id missing)", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 422, description = "`from` not before `to`, or a range over 400 days", body = ErrorBody),
    )
)]
#[get("/reports/funnel")]
pub async fn funnel(
    state: web::Data<ApiState>,
    scope: ReportScope,
    request: HttpRequest,
) -> Result<web::Json<Report<Funnel>>, ApiError> {
    let asked = asked(&scope, &request, &["compare", "version"])?;
    let version = asked.params.flow_version()?;
    let tenant_id = asked.tenant_id.ok_or_else(|| {
        ApiError::bad_field(
            "tenant_id",
            "a funnel is one tenant's flow: platform admins must name the tenant",
        )
    })?;
    let report = report(&asked, |filter| {
        let pool = state.pool.clone();
        async move { compute(&pool, tenant_id, &filter, version, Utc::now()).await }
    })
    .await?;
    Ok(web::Json(report))
}

/// The funnel of `filter` (and of the steps on `version`, when given), from
/// the roll-up where it can and the raw tables elsewhere. The roll-ups do
/// not keep versions: a version's funnel is read raw.
pub async fn compute(
    pool: &PgPool,
    tenant_id: i64,
    filter: &CdrFilter,
    version: Option<i32>,
    now: DateTime<Utc>,
) -> Result<Funnel, ApiError> {
    let status = filter.status.as_deref();
    let (plan, rows) = rollup::rolled_and_raw(
        pool,
        Tenants::One(tenant_id),
        filter,
        now,
        rollup::Grain::Funnel { version },
        |tenant, days| async move { sql::funnel_rolled_up(pool, tenant, &days, status).await },
        |part| async move { sql::funnel(pool, tenant_id, &part, version).await },
    )
    .await?;
    let dropped_steps =
        crate::storage::steps::dropped_between(pool, tenant_id, filter.from, filter.to).await?;
    Ok(Funnel {
        nodes: assemble(rows.into_iter()),
        rolled_up_days: plan.rolled.len(),
        raw_ranges: plan.raw.len(),
        dropped_steps,
    })
}

/// Sums the rows (per status, per part of the range) into one entry per node.
fn assemble(rows: impl Iterator<Item = FunnelRow>) -> Vec<FunnelNode> {
    let mut nodes: BTreeMap<String, FunnelNode> = BTreeMap::new();
    let mut pressed: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut ended: BTreeMap<(String, String), i64> = BTreeMap::new();
    for row in rows {
        let node = nodes.entry(row.node.clone()).or_insert_with(|| FunnelNode {
            node: row.node.clone(),
            reached: 0,
            pressed: Vec::new(),
            timeouts: Misses::default(),
            invalid: Misses::default(),
            ended: 0,
            hung_up_by_ivr: 0,
            ended_by_status: Vec::new(),
        });
        match row.kind.as_str() {
            "reached" => node.reached += row.count,
            "pressed" => {
                *pressed
                    .entry((row.node, row.detail.unwrap_or_default()))
                    .or_default() += row.count
            }
            "ended" if row.detail.as_deref() == Some(sql::IVR_HUNG_UP) => {
                node.hung_up_by_ivr += row.count;
            }
            "ended" => {
                node.ended += row.count;
                *ended.entry((row.node, row.status)).or_default() += row.count;
            }
            "timeout" | "invalid" => {
                let misses = if row.kind == "timeout" {
                    &mut node.timeouts
                } else {
                    &mut node.invalid
                };
                misses.total += row.count;
                match row.detail.as_deref() {
                    Some("route") => misses.route += row.count,
                    Some("retry") => misses.retry += row.count,
                    Some("exhausted") => misses.exhausted += row.count,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    for ((node, digits), steps) in pressed {
        if let Some(node) = nodes.get_mut(&node) {
            node.pressed.push(Pressed { digits, steps });
        }
    }
    for ((node, status), calls) in ended {
        if let Some(node) = nodes.get_mut(&node) {
            node.ended_by_status.push(StatusCount { status, calls });
        }
    }
    let mut nodes: Vec<FunnelNode> = nodes.into_values().collect();
    for node in &mut nodes {
        node.pressed
            .sort_by(|a, b| b.steps.cmp(&a.steps).then(a.digits.cmp(&b.digits)));
        node.ended_by_status
            .sort_by(|a, b| b.calls.cmp(&a.calls).then(a.status.cmp(&b.status)));
    }
    nodes.sort_by(|a, b| b.reached.cmp(&a.reached).then(a.node.cmp(&b.node)));
    nodes
}
