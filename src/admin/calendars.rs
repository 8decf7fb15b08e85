//! `GET /calendars/{name}`: the days of a built-in calendar, so that a
//! tenant sees what a schedule naming it will do.

use actix_web::{get, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::Caller;
use super::schedules::CalendarDayView;
use crate::error::{ApiError, ErrorBody};
use crate::flow::calendar::{CalendarName, FIRST_YEAR, LAST_YEAR};

/// The longest range listed at once, in days (about ten years).
pub const MAX_DAYS: i64 = 3660;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CalendarQuery {
    /// First day listed (`2026-01-01`); default: today (UTC).
    pub from: Option<String>,
    /// Day after the last one listed; default: a year after `from`.
    pub to: Option<String>,
}

/// The days of a calendar in a range.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarDays {
    #[schema(value_type = String, example = "israel")]
    pub calendar: CalendarName,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: Vec<CalendarDayView>,
}

fn date(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_field(field, "a date: YYYY-MM-DD"))
}

/// A built-in calendar's days (any signed-in user): each with its date, key
/// (as a schedule's `calendar.exceptions` names it), kind (`rest`, `eve`,
/// `other`) and names. Covers 2000 to 2100.
#[utoipa::path(
    tag = "schedules",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The calendar: `israel`"), CalendarQuery),
    responses(
        (status = 200, description = "The calendar's days from `from` to `to` (exclusive), in order", body = CalendarDays),
        (status = 400, description = "A malformed date or an unknown parameter", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such calendar", body = ErrorBody),
        (status = 422, description = "`to` not after `from`, a range over 3660 days, or outside 2000–2100", body = ErrorBody),
    )
)]
#[get("/calendars/{name}")]
pub async fn calendar_days(
    _caller: Caller,
    name: web::Path<String>,
    query: web::Query<CalendarQuery>,
) -> Result<web::Json<CalendarDays>, ApiError> {
    let calendar = CalendarName::parse(&name).ok_or_else(|| ApiError::not_found("calendar"))?;
    let from = match &query.from {
        Some(text) => date("from", text)?,
        None => chrono::Utc::now().date_naive(),
    };
    let to = match &query.to {
        Some(text) => date("to", text)?,
        // A year after `from` (past the end of time: `from`, refused below).
        None => from
            .checked_add_months(chrono::Months::new(12))
            .unwrap_or(from),
    };
    let problem = |path: &str, message: String| {
        ApiError::validation(
            message.clone(),
            vec![crate::error::ErrorDetail {
                path: path.into(),
                message,
            }],
        )
    };
    if to <= from {
        return Err(problem("to", "must be after `from`".into()));
    }
    if (to - from).num_days() > MAX_DAYS {
        return Err(problem(
            "to",
            format!("at most {MAX_DAYS} days after `from`"),
        ));
    }
    let covered =
        |date: NaiveDate| (FIRST_YEAR..=LAST_YEAR + 1).contains(&chrono::Datelike::year(&date));
    if !covered(from) || !covered(to) {
        return Err(problem(
            "from",
            format!("the calendar covers {FIRST_YEAR} to {LAST_YEAR}"),
        ));
    }
    let days = calendar
        .days(from, to)
        .into_iter()
        .map(|(date, occasion)| CalendarDayView::new(date, occasion))
        .collect();
    Ok(web::Json(CalendarDays {
        calendar,
        from,
        to,
        days,
    }))
}
