//! `/schedules`: weekly opening hours and holiday dates, by key, used by
//! the `open` / `holiday` conditions of rule nodes. The JSON is exactly
//! `flow::model::Schedule`. Writes go to the draft through `flow_service`;
//! reads show the draft, or with `?flow=` the live flow or a version.

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{TenantQuery, TenantScope};
use super::flow_api::FlowQuery;
use super::flow_validation::{
    IfMatch, IfMatchHeader, deleted, keyed_page, path_text, read_answer, replaced_or_created,
    same_key, with_revision, write_draft,
};
use super::json::ApiJson;
use super::pagination::{Page, PageQuery};
use super::state::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::flow::FlowIssue;
use crate::flow::model::Schedule;
use crate::flow_service::{self, Change};

/// The answer of a schedule write.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleWritten {
    pub schedule: Schedule,
    /// The draft's issues after the write: warnings, and errors the draft
    /// already had before the write (a write may not add any).
    pub issues: Vec<FlowIssue>,
    /// The draft's revision after the write (also the `ETag`).
    pub draft_revision: i64,
}

fn answer(
    status: actix_web::HttpResponseBuilder,
    schedule: Schedule,
    edited: flow_service::Edited,
) -> HttpResponse {
    let written = ScheduleWritten {
        schedule,
        issues: edited.issues,
        draft_revision: edited.revision,
    };
    with_revision(status, edited.revision, &written)
}

/// List the tenant's schedules in key order.
#[utoipa::path(
    tag = "schedules",
    security(("bearer" = [])),
    params(TenantQuery, FlowQuery, PageQuery),
    responses(
        (status = 200, description = "A page of schedules", body = Page<Schedule>),
        (status = 400, description = "Bad `limit`, `cursor`, `flow` or `tenant_id`", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such tenant or version (or not yours)", body = ErrorBody),
    )
)]
#[get("/schedules")]
pub async fn list_schedules(
    state: web::Data<ApiState>,
    scope: TenantScope,
    flow: FlowQuery,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (content, revision) =
        flow_service::read_with_revision(&state.pool, scope.tenant_id, flow.0).await?;
    let page = keyed_page(content.schedules, &query)?;
    Ok(read_answer(flow.0, revision, &page))
}

/// Read a schedule.
#[utoipa::path(
    tag = "schedules",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The schedule's key"), TenantQuery, FlowQuery),
    responses(
        (status = 200, description = "The schedule", body = Schedule),
        (status = 400, description = "Malformed query parameter (`flow`, `tenant_id`)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such schedule or version (or not yours)", body = ErrorBody),
    )
)]
#[get("/schedules/{key}")]
pub async fn get_schedule(
    state: web::Data<ApiState>,
    scope: TenantScope,
    flow: FlowQuery,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = path_text(path)?;
    let (mut content, revision) =
        flow_service::read_with_revision(&state.pool, scope.tenant_id, flow.0).await?;
    let schedule = content
        .schedules
        .remove(&key)
        .ok_or_else(|| ApiError::not_found("schedule"))?;
    Ok(read_answer(flow.0, revision, &schedule))
}

/// Create a schedule (editors).
#[utoipa::path(
    tag = "schedules",
    security(("bearer" = [])),
    params(TenantQuery, IfMatchHeader),
    request_body = Schedule,
    responses(
        (status = 201, description = "Created", body = ScheduleWritten),
        (status = 400, description = "Malformed schedule (`details` says where)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 409, description = "A schedule with this key exists (`conflict`), or the draft changed since `If-Match` (`stale_revision`)", body = ErrorBody),
        (status = 422, description = "Invalid schedule (bad key, empty hours, a holiday twice...): every problem in `details`", body = ErrorBody),
    )
)]
#[post("/schedules")]
pub async fn create_schedule(
    state: web::Data<ApiState>,
    scope: TenantScope,
    if_match: IfMatch,
    body: ApiJson<Schedule>,
) -> Result<HttpResponse, ApiError> {
    let schedule = body.0;
    let change = Change::CreateSchedule(schedule.clone());
    let edited = write_draft(&state, &scope, if_match, change).await?;
    Ok(answer(HttpResponse::Created(), schedule, edited))
}

/// Create or replace a schedule (editors): the body is the whole schedule,
/// its `key` the key in the path. 201 when created, 200 when replaced.
#[utoipa::path(
    tag = "schedules",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The schedule's key"), TenantQuery, IfMatchHeader),
    request_body = Schedule,
    responses(
        (status = 200, description = "Replaced", body = ScheduleWritten),
        (status = 201, description = "Created", body = ScheduleWritten),
        (status = 400, description = "Malformed schedule (`details` says where)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 409, description = "The draft changed since `If-Match` (`stale_revision`)", body = ErrorBody),
        (status = 422, description = "The key differs from the path's, or the schedule is invalid: every problem in `details`", body = ErrorBody),
    )
)]
#[put("/schedules/{key}")]
pub async fn put_schedule(
    state: web::Data<ApiState>,
    scope: TenantScope,
    if_match: IfMatch,
    path: web::Path<String>,
    body: ApiJson<Schedule>,
) -> Result<HttpResponse, ApiError> {
    let key = path_text(path)?;
    let schedule = body.0;
    same_key("schedule", &schedule.key, &key)?;
    let change = Change::PutSchedule(schedule.clone());
    let edited = write_draft(&state, &scope, if_match, change).await?;
    let status = replaced_or_created(edited.before.schedules.contains_key(&key));
    Ok(answer(status, schedule, edited))
}

/// Delete a schedule (editors). Refused while rule nodes use it: the 409's
/// `details` names every one.
#[utoipa::path(
    tag = "schedules",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The schedule's key"), TenantQuery, IfMatchHeader),
    responses(
        (status = 204, description = "Deleted from the draft"),
        (status = 400, description = "Malformed query parameter (e.g. `?tenant_id=`)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such schedule (or not yours)", body = ErrorBody),
        (status = 409, description = "`conflict`: still used, `details` lists the nodes (`nodes.<key>`); `stale_revision`: the draft changed since `If-Match`", body = ErrorBody),
    )
)]
#[delete("/schedules/{key}")]
pub async fn delete_schedule(
    state: web::Data<ApiState>,
    scope: TenantScope,
    if_match: IfMatch,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = path_text(path)?;
    let change = Change::DeleteSchedule {
        key,
        at: String::new(),
    };
    let edited = write_draft(&state, &scope, if_match, change).await?;
    Ok(deleted(edited.revision))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CheckQuery {
    /// The instant, with its offset (`2026-12-04T15:30:00+02:00`); default: now.
    pub at: Option<String>,
    /// `draft` (the default), `live` or a version number.
    pub flow: Option<String>,
    /// Platform admins: the tenant.
    pub tenant_id: Option<i64>,
}

/// Open or closed at an instant, and why.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"schedule": "office", "time_zone": "Asia/Jerusalem",
    "local_time": "2026-12-04T15:30:00", "weekday": "Fri", "open": false,
    "why": "no range covers Fri 15:30", "range": null, "holiday": null}))]
pub struct ScheduleCheck {
    pub schedule: String,
    /// The tenant's time zone, in which hours and holidays are read.
    pub time_zone: String,
    /// The instant on the tenant's wall clock.
    pub local_time: String,
    #[schema(example = "Fri")]
    pub weekday: String,
    pub open: bool,
    /// In words: which range opened it, which holiday closed it, or that no range covers it.
    pub why: String,
    /// The range that decided, as in `hours` (with its index).
    pub range: Option<serde_json::Value>,
    /// The holiday that closed it (one of the schedule's own dates).
    pub holiday: Option<crate::flow::model::Holiday>,
    /// The day of the schedule's calendar that decided.
    pub calendar_day: Option<CalendarDayView>,
}

/// A day of a built-in calendar.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"date": "2026-09-21", "key": "yom_kippur", "kind": "rest", "name_he": "יום כיפור", "name_en": "Yom Kippur"}))]
pub struct CalendarDayView {
    pub date: chrono::NaiveDate,
    /// The day's key, as `exceptions` of a schedule's calendar name it.
    #[schema(value_type = String)]
    pub key: crate::flow::calendar::Occasion,
    pub kind: crate::flow::calendar::DayKind,
    pub name_he: &'static str,
    pub name_en: &'static str,
}

impl CalendarDayView {
    pub fn new(
        date: chrono::NaiveDate,
        occasion: crate::flow::calendar::Occasion,
    ) -> CalendarDayView {
        CalendarDayView {
            date,
            key: occasion,
            kind: occasion.kind(),
            name_he: occasion.name_he(),
            name_en: occasion.name_en(),
        }
    }
}

/// Is the schedule open at an instant, and why (every role): which range
/// opened it, which holiday closed it, or that no range covers the time.
#[utoipa::path(
    tag = "schedules",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The schedule's key"), CheckQuery),
    responses(
        (status = 200, description = "Open or closed, and why", body = ScheduleCheck),
        (status = 400, description = "`at` without an offset, a bad `flow`, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such schedule or version (or not yours)", body = ErrorBody),
    )
)]
#[get("/schedules/{key}/check")]
pub async fn check_schedule(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<String>,
    query: web::Query<CheckQuery>,
) -> Result<web::Json<ScheduleCheck>, ApiError> {
    use crate::flow::schedule::{Closure, Verdict, explain};
    use chrono::Datelike;
    let key = path_text(path)?;
    let selector = match &query.flow {
        None => flow_service::Selector::Draft,
        Some(text) => flow_service::Selector::parse("flow", text)?,
    };
    let at = match &query.at {
        None => state.clock.now(),
        Some(text) => crate::simulate::parse_at(text)
            .ok_or_else(|| ApiError::bad_field("at", crate::simulate::AT_FORMAT))?,
    };
    let (schedule, tz) =
        flow_service::schedule(&state.pool, scope.tenant_id, selector, &key).await?;
    let local = at.with_timezone(&tz).naive_local();
    let at_date = local.date();
    let weekday = format!("{:?}", local.weekday());
    let range = |index: usize| {
        serde_json::to_value(&schedule.hours[index])
            .ok()
            .map(|mut value| {
                value["index"] = serde_json::json!(index);
                value
            })
    };
    let verdict = explain(&schedule, tz, at);
    let why = verdict.why(&schedule, local);
    let (range_view, holiday, calendar_day) = match verdict {
        Verdict::Open { index, .. } => (range(index), None, None),
        Verdict::Holiday { index } => (None, Some(schedule.holidays[index].clone()), None),
        Verdict::CalendarClosed { occasion } | Verdict::CalendarHours { occasion, .. } => {
            (None, None, Some(CalendarDayView::new(at_date, occasion)))
        }
        Verdict::ShiftNeverStarted { index, day } => match day {
            Closure::Holiday(holiday) => {
                (range(index), Some(schedule.holidays[holiday].clone()), None)
            }
            Closure::Calendar(occasion) => (
                range(index),
                None,
                Some(CalendarDayView::new(
                    at_date - chrono::Days::new(1),
                    occasion,
                )),
            ),
        },
        Verdict::NoRange => (None, None, None),
    };
    let open = verdict.open();
    Ok(web::Json(ScheduleCheck {
        schedule: key,
        time_zone: tz.name().to_owned(),
        local_time: local.format("%Y-%m-%dT%H:%M:%S").to_string(),
        weekday,
        open,
        why,
        range: range_view,
        holiday,
        calendar_day,
    }))
}
