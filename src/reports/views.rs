//! What the reports answer, and the definition of every figure (the doc
//! comments here are the OpenAPI descriptions). Ratios and means are `null`
//! when there is nothing to divide: never NaN or infinity.

use chrono::{DateTime, FixedOffset, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

use crate::storage::reports::{CdrFilter, CdrRow, Totals};

/// A report: what it covers, its figures, and optionally the same figures
/// for the previous period.
#[derive(Debug, Serialize, ToSchema)]
pub struct Report<T> {
    /// The tenant reported on; `null`: every tenant together (platform admins).
    pub tenant_id: Option<i64>,
    /// The IANA time zone local dates were read in and buckets cut in.
    #[schema(example = "Asia/Jerusalem")]
    pub time_zone: String,
    /// Start of the range (inclusive), in `time_zone`'s offset.
    #[schema(value_type = String, example = "2026-11-23T00:00:00+02:00")]
    pub from: DateTime<FixedOffset>,
    /// End of the range (exclusive).
    #[schema(value_type = String, example = "2026-11-24T00:00:00+02:00")]
    pub to: DateTime<FixedOffset>,
    /// The `did` filter, if any.
    pub did: Option<String>,
    /// The `status` filter, if any.
    pub status: Option<String>,
    /// The `target` filter, if any.
    pub target: Option<String>,
    pub figures: T,
    /// With `compare=previous`: the same report for `[from - (to - from), from)`.
    // Inline: utoipa names `Previous<Vec<X>>` "Previous_Vec" whatever X is,
    // so the row lists of different reports would share one (wrong) schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(inline)]
    pub previous: Option<Previous<T>>,
}

/// The same report over the previous period.
#[derive(Debug, Serialize, ToSchema)]
pub struct Previous<T> {
    #[schema(value_type = String, example = "2026-11-22T00:00:00+02:00")]
    pub from: DateTime<FixedOffset>,
    #[schema(value_type = String, example = "2026-11-23T00:00:00+02:00")]
    pub to: DateTime<FixedOffset>,
    pub figures: T,
}

pub fn local(at: DateTime<Utc>, tz: Tz) -> DateTime<FixedOffset> {
    at.with_timezone(&tz).fixed_offset()
}

impl<T> Report<T> {
    pub fn new(
        tenant_id: Option<i64>,
        tz: Tz,
        filter: &CdrFilter,
        figures: T,
        previous: Option<(CdrFilter, T)>,
    ) -> Report<T> {
        Report {
            tenant_id,
            time_zone: tz.name().to_owned(),
            from: local(filter.from, tz),
            to: local(filter.to, tz),
            did: filter.did.clone(),
            status: filter.status.clone(),
            target: filter.target.clone(),
            figures,
            previous: previous.map(|(filter, figures)| Previous {
                from: local(filter.from, tz),
                to: local(filter.to, tz),
                figures,
            }),
        }
    }
}

/// The figures of a set of calls. A call is a CDR whose start (the call's
/// start as Voicenter reported it, else its call time, else when the report
/// arrived) lies in the range and that matches the filters; a call reported
/// several times (Voicenter's retries) is one CDR.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({"calls": 1200, "answered": 900, "asr": 0.75, "acd_secs": 95.5, "talk_minutes": 1432.5, "mean_dial_secs": 9.25}))]
pub struct Figures {
    /// Number of calls.
    pub calls: i64,
    /// Calls whose CALL_STATUS is ANSWER (Voicenter's ANSWERED is stored as ANSWER).
    pub answered: i64,
    /// Answer-seizure ratio: `answered / calls`, a fraction from 0 to 1;
    /// `null` when there are no calls.
    pub asr: Option<f64>,
    /// Average call duration, seconds: the mean CALL_DURATION of the
    /// answered calls that reported one; `null` when there are none.
    pub acd_secs: Option<f64>,
    /// Total talk time, minutes: the sum of CALL_DURATION over answered calls, / 60.
    pub talk_minutes: f64,
    /// Mean dial time, seconds: the mean CALL_DAILTIME over the calls (any
    /// status) that reported one; `null` when none did.
    pub mean_dial_secs: Option<f64>,
}

fn ratio(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

impl From<Totals> for Figures {
    fn from(totals: Totals) -> Figures {
        Figures {
            calls: totals.calls,
            answered: totals.answered,
            asr: ratio(totals.answered, totals.calls),
            acd_secs: ratio(totals.talk_secs, totals.answered_with_duration),
            talk_minutes: totals.talk_secs as f64 / 60.0,
            mean_dial_secs: ratio(totals.dial_secs_sum, totals.with_dial_time),
        }
    }
}

/// The summary of a range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({"calls": 1200, "answered": 900, "asr": 0.75, "acd_secs": 95.5, "talk_minutes": 1432.5, "mean_dial_secs": 9.25, "p95_dial_secs": 31.0, "unique_callers": 811}))]
pub struct Summary {
    #[serde(flatten)]
    pub figures: Figures,
    /// 95th percentile of dial time, seconds, over the calls that reported
    /// one: continuous (PostgreSQL's `percentile_cont(0.95)`: linear
    /// interpolation between the two nearest ranks); `null` when none did.
    pub p95_dial_secs: Option<f64>,
    /// Distinct CALLER_IDs among the calls (an empty caller id counts as one caller).
    pub unique_callers: i64,
}

/// Calls of one CALL_STATUS.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({"status": "BUSY", "share": 0.1, "calls": 120, "answered": 0, "asr": 0.0, "acd_secs": null, "talk_minutes": 0.0, "mean_dial_secs": 1.5}))]
pub struct StatusRow {
    /// CALL_STATUS as Voicenter sent it (ANSWERED stored as ANSWER); any
    /// status, including ones the spec does not list.
    pub status: String,
    /// This status's calls / all calls of the range, 0 to 1.
    pub share: f64,
    #[serde(flatten)]
    pub figures: Figures,
}

/// One meaning of a cause code in the spec's table (cause 22 has two).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CauseMeaning {
    #[schema(example = "user busy")]
    pub description: String,
    /// The SIP response that corresponds.
    #[schema(example = "486 Busy here")]
    pub sip: String,
}

/// How many calls of one status had a cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusCount {
    #[schema(example = "BUSY")]
    pub status: String,
    pub calls: i64,
}

/// Calls that ended with one Q.850/ISUP cause.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({"cause": 17, "meanings": [{"description": "user busy", "sip": "486 Busy here"}], "calls": 120, "share": 0.1, "statuses": [{"status": "BUSY", "calls": 120}]}))]
pub struct CauseRow {
    /// The Q.850/ISUP cause code; `null` for calls whose status has no
    /// cause (a status the spec does not list).
    pub cause: Option<i16>,
    /// The cause's description and SIP equivalent from the spec's table
    /// (empty when the code is not in it).
    pub meanings: Vec<CauseMeaning>,
    pub calls: i64,
    /// This cause's calls / all calls of the range, 0 to 1.
    pub share: f64,
    /// The CALL_STATUSes these calls had (one cause can come from several, e.g. 16).
    pub statuses: Vec<StatusCount>,
}

/// Calls to one DID.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DidRow {
    #[schema(example = "0730000000")]
    pub did: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// Calls dialled to one target.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TargetRow {
    #[schema(example = "0501234567")]
    pub target: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The targets called most.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TopTargets {
    /// Distinct non-empty targets among the calls.
    pub targets: i64,
    /// Calls with an empty TARGET: no dial was made (e.g. the caller hung up in a menu).
    pub calls_without_target: i64,
    /// The `limit` targets with the most calls, most first (ties by target).
    pub top: Vec<TargetRow>,
}

/// Calls of one tenant (platform admins).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TenantRow {
    pub tenant_id: i64,
    pub name: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// One bucket of a time series: `[start, end)` on the zone's clock.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({"start": "2026-03-27T00:00:00+03:00", "end": "2026-03-28T00:00:00+03:00", "hours": 23.0, "calls": 0, "answered": 0, "asr": null, "acd_secs": null, "talk_minutes": 0.0, "mean_dial_secs": null}))]
pub struct Point {
    #[schema(value_type = String)]
    pub start: DateTime<FixedOffset>,
    #[schema(value_type = String)]
    pub end: DateTime<FixedOffset>,
    /// Length of the bucket in hours (a day bucket on a daylight-saving
    /// change day is 23 or 25; the first and last bucket are clipped to the range).
    pub hours: f64,
    #[serde(flatten)]
    pub figures: Figures,
}

/// A time series: every bucket of the range, empty ones with zeros.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Series {
    /// `hour` or `day`.
    #[schema(example = "day")]
    pub bucket: String,
    pub points: Vec<Point>,
}

/// A CDR as stored.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CdrView {
    /// `null` for a CDR of a number no tenant owns.
    pub tenant_id: Option<i64>,
    /// IVR_UNIQUE_ID.
    pub call_id: String,
    pub did: String,
    pub caller_id: String,
    pub target: String,
    /// When the call counts in reports: `call_start`, else `call_time`, else `received_at`.
    #[schema(value_type = String)]
    pub started_at: DateTime<FixedOffset>,
    /// CALL_START_EPOCH.
    #[schema(value_type = Option<String>)]
    pub call_start: Option<DateTime<FixedOffset>>,
    /// CALL_TIME_EPOCH.
    #[schema(value_type = Option<String>)]
    pub call_time: Option<DateTime<FixedOffset>>,
    /// CALL_DURATION, seconds (`null`: not sent, or negative).
    pub duration_secs: Option<i64>,
    /// CALL_DAILTIME, seconds.
    pub dial_secs: Option<i64>,
    pub status: String,
    /// The Q.850 cause derived from the status.
    pub cause: Option<i16>,
    /// When ivrhub stored the report.
    #[schema(value_type = String)]
    pub received_at: DateTime<FixedOffset>,
}

impl CdrView {
    pub fn new(row: CdrRow, tz: Tz) -> CdrView {
        CdrView {
            tenant_id: row.tenant_id,
            call_id: row.call_id,
            did: row.did,
            caller_id: row.caller_id,
            target: row.target,
            started_at: local(row.started_at, tz),
            call_start: row.call_start.map(|at| local(at, tz)),
            call_time: row.call_time.map(|at| local(at, tz)),
            duration_secs: row.duration_secs,
            dial_secs: row.dial_secs,
            status: row.status,
            cause: row.cause,
            received_at: local(row.received_at, tz),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_divide_is_null_not_nan() {
        let figures = Figures::from(Totals::default());
        assert_eq!(
            serde_json::to_value(figures).unwrap(),
            serde_json::json!({"calls": 0, "answered": 0, "asr": null, "acd_secs": null, "talk_minutes": 0.0, "mean_dial_secs": null})
        );
    }
}
