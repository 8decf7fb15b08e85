//! `/schedules`: weekly opening hours and holiday dates, by key, used by
//! the `open` / `holiday` conditions of rule nodes. The JSON is exactly
//! `flow::model::Schedule`. Every write is validated against the whole flow.

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{TenantQuery, TenantScope};
use super::flow_validation::{Draft, Issue, audit, path_text, text_cursor};
use super::json::ApiJson;
use super::pagination::{Page, PageQuery, page};
use super::state::ApiState;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::flow::model::Schedule;
use crate::storage::flows;

/// The answer of a schedule write.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleWritten {
    pub schedule: Schedule,
    /// The flow's issues after the write: warnings, and errors the flow
    /// already had before the write (a write may not add any).
    pub issues: Vec<Issue>,
}

/// List the tenant's schedules in key order.
#[utoipa::path(
    tag = "schedules",
    security(("bearer" = [])),
    params(TenantQuery, PageQuery),
    responses(
        (status = 200, description = "A page of schedules", body = Page<Schedule>),
        (status = 400, description = "Bad `limit`, `cursor` or `tenant_id`", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[get("/schedules")]
pub async fn list_schedules(
    state: web::Data<ApiState>,
    scope: TenantScope,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<Schedule>>, ApiError> {
    let limit = query.limit()?;
    let after = text_cursor(&query)?;
    let rows =
        flows::list_schedules(&state.pool, scope.tenant_id, &after, i64::from(limit) + 1).await?;
    Ok(web::Json(page(rows, limit, |s| s.key.clone(), |s| s)))
}

/// Read a schedule.
#[utoipa::path(
    tag = "schedules",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The schedule's key"), TenantQuery),
    responses(
        (status = 200, description = "The schedule", body = Schedule),
        (status = 400, description = "Malformed query parameter (e.g. `?tenant_id=`)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such schedule (or not yours)", body = ErrorBody),
    )
)]
#[get("/schedules/{key}")]
pub async fn get_schedule(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<String>,
) -> Result<web::Json<Schedule>, ApiError> {
    let schedule = flows::schedule(&state.pool, scope.tenant_id, &path_text(path)?)
        .await?
        .ok_or_else(|| ApiError::not_found("schedule"))?;
    Ok(web::Json(schedule))
}

/// Create a schedule (editors).
#[utoipa::path(
    tag = "schedules",
    security(("bearer" = [])),
    params(TenantQuery),
    request_body = Schedule,
    responses(
        (status = 201, description = "Created", body = ScheduleWritten),
        (status = 400, description = "Malformed schedule (`details` says where)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 409, description = "A schedule with this key exists", body = ErrorBody),
        (status = 422, description = "Invalid schedule (bad key, empty hours, a holiday twice...): every problem in `details`", body = ErrorBody),
    )
)]
#[post("/schedules")]
pub async fn create_schedule(
    state: web::Data<ApiState>,
    scope: TenantScope,
    body: ApiJson<Schedule>,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let schedule = body.0;
    let mut tx = state.pool.begin().await?;
    let mut draft = Draft::open(&mut tx, scope.tenant_id).await?;
    if draft.flow.schedules.contains_key(&schedule.key) {
        return Err(ApiError::conflict(format!(
            "a schedule {:?} exists: change it with PUT /schedules/{}",
            schedule.key, schedule.key
        )));
    }
    draft
        .flow
        .schedules
        .insert(schedule.key.clone(), schedule.clone());
    let issues = draft.check()?;
    flows::save_schedule(&mut tx, scope.tenant_id, &schedule).await?;
    audit(
        &mut tx,
        &scope,
        "schedule",
        &schedule.key,
        None,
        Some(&schedule),
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(ScheduleWritten { schedule, issues }))
}

/// Create or replace a schedule (editors): the body is the whole schedule,
/// its `key` the key in the path. 201 when created, 200 when replaced.
#[utoipa::path(
    tag = "schedules",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The schedule's key"), TenantQuery),
    request_body = Schedule,
    responses(
        (status = 200, description = "Replaced", body = ScheduleWritten),
        (status = 201, description = "Created", body = ScheduleWritten),
        (status = 400, description = "Malformed schedule (`details` says where)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 422, description = "The key differs from the path's, or the schedule is invalid: every problem in `details`", body = ErrorBody),
    )
)]
#[put("/schedules/{key}")]
pub async fn put_schedule(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<String>,
    body: ApiJson<Schedule>,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let key = path_text(path)?;
    let schedule = body.0;
    if schedule.key != key {
        return Err(ApiError::validation(
            "the body's key differs from the path's",
            vec![ErrorDetail {
                path: "key".into(),
                message: format!(
                    "must be {key:?}, the key in the path (schedules cannot be renamed)"
                ),
            }],
        ));
    }
    let mut tx = state.pool.begin().await?;
    let mut draft = Draft::open(&mut tx, scope.tenant_id).await?;
    let before = draft.flow.schedules.insert(key.clone(), schedule.clone());
    let issues = draft.check()?;
    flows::save_schedule(&mut tx, scope.tenant_id, &schedule).await?;
    audit(
        &mut tx,
        &scope,
        "schedule",
        &key,
        before.as_ref(),
        Some(&schedule),
    )
    .await?;
    tx.commit().await?;
    let written = ScheduleWritten { schedule, issues };
    Ok(match before {
        Some(_) => HttpResponse::Ok().json(written),
        None => HttpResponse::Created().json(written),
    })
}

/// Delete a schedule (editors). Refused while rule nodes use it: the 409's
/// `details` names every one.
#[utoipa::path(
    tag = "schedules",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The schedule's key"), TenantQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed query parameter (e.g. `?tenant_id=`)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such schedule (or not yours)", body = ErrorBody),
        (status = 409, description = "Still used: `details` lists the nodes (`nodes.<key>`)", body = ErrorBody),
    )
)]
#[delete("/schedules/{key}")]
pub async fn delete_schedule(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let key = path_text(path)?;
    let mut tx = state.pool.begin().await?;
    let mut draft = Draft::open(&mut tx, scope.tenant_id).await?;
    let Some(before) = draft.flow.schedules.remove(&key) else {
        return Err(ApiError::not_found("schedule"));
    };
    let referrers = draft.schedule_referrers(&key);
    if !referrers.is_empty() {
        return Err(ApiError::conflict_with(
            format!("schedule {key:?} is still in use"),
            referrers,
        ));
    }
    draft.check()?;
    flows::delete_schedule(&mut tx, scope.tenant_id, &key).await?;
    audit(&mut tx, &scope, "schedule", &key, Some(&before), None).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
