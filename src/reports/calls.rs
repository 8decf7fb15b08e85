//! One call: its CDR and the path its caller took through the menus, step
//! by step (the answer to "where did this caller give up?").

use actix_web::{HttpRequest, get, web};
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use utoipa::ToSchema;

use super::params::{Params, TenantParam, TimeZoneParam};
use super::scope::ReportScope;
use super::views::{CdrView, local};
use crate::admin::state::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::storage::reports as sql;

/// One webhook step of the call, as logged.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StepView {
    /// When ivrhub answered the step.
    #[schema(value_type = String, example = "2026-11-23T09:00:04+02:00")]
    pub at: DateTime<FixedOffset>,
    /// MENU as Voicenter sent it (`-1`: the start of the call; a suffix
    /// such as `~v7~r1` is ivrhub's own call state: flow version, retries).
    #[schema(example = "main~v7")]
    pub menu: String,
    /// The digits pressed (empty: none, or the start of the call).
    #[schema(example = "1")]
    pub dtmf: String,
    /// The node the digits were pressed in; `null` at the start of the call.
    pub from_node: Option<String>,
    /// The node whose action answered the step; `null` when the flow could
    /// not answer (a safe answer was sent instead).
    pub node: Option<String>,
    /// What happened: `entered`, `matched` (digits of a route), `timeout_route`,
    /// `timeout_retry`, `timeout_exhausted`, `invalid_route`, `invalid_retry`,
    /// `invalid_exhausted`, `failover`, `continued` (after an announcement), `unknown_menu`.
    #[schema(example = "matched")]
    pub outcome: String,
    /// The action sent back: MENU, CALL, SAYDIGITS, HANGUP, VO, SILENTRECORD.
    #[schema(example = "CALL")]
    pub action: String,
    /// The version of the tenant's flow the step ran on (`null`: steps
    /// logged before versions).
    #[schema(example = 7)]
    pub flow_version: Option<i32>,
}

/// A call's CDR and its steps, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CallDetail {
    pub cdr: CdrView,
    /// Every step the webhook logged for the call's IVR_UNIQUE_ID. The step
    /// log may drop steps under extreme load (counted in `/metrics`).
    pub steps: Vec<StepView>,
}

/// One call: its CDR and every step of its way through the menus. Times are
/// in the tenant's time zone (UTC for a platform admin without `tenant_id`),
/// or `tz`.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(
        ("call_id" = String, Path, description = "The call's IVR_UNIQUE_ID (as in `/reports/cdrs`)"),
        TenantParam,
        TimeZoneParam,
    ),
    responses(
        (status = 200, description = "The call", body = CallDetail),
        (status = 400, description = "An unknown parameter or time zone", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No CDR with this IVR_UNIQUE_ID (or not yours)", body = ErrorBody),
    )
)]
#[get("/reports/calls/{call_id}")]
pub async fn one_call(
    state: web::Data<ApiState>,
    scope: ReportScope,
    call_id: web::Path<String>,
    request: HttpRequest,
) -> Result<web::Json<CallDetail>, ApiError> {
    let params = Params::parse(request.query_string(), &["tenant_id", "tz"])?;
    let tz = params.time_zone(scope.default_time_zone())?;
    let row = sql::one_cdr(&state.pool, scope.tenants(), &call_id)
        .await?
        .ok_or_else(|| ApiError::not_found("call"))?;
    let tenant_id = row
        .tenant_id
        .ok_or_else(|| ApiError::internal("a tenant's CDR without its tenant"))?;
    let steps = sql::steps_of_call(&state.pool, tenant_id, &call_id)
        .await?
        .into_iter()
        .map(|step| StepView {
            at: local(step.at, tz),
            menu: step.menu,
            dtmf: step.dtmf,
            from_node: step.from_node,
            node: step.node_key,
            outcome: step.outcome,
            action: step.action,
            flow_version: step.flow_version,
        })
        .collect();
    Ok(web::Json(CallDetail {
        cdr: CdrView::new(row, tz),
        steps,
    }))
}
