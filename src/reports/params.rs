//! The reports' query parameters: read by name from the query string, each
//! checked with its own path in the error, an unknown or repeated one refused
//! (a typo such as `?form=` must not silently report on something else).
//!
//! The `*Params` structs only describe the parameters in the OpenAPI
//! document; [`Params`] is what reads them.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use utoipa::IntoParams;

use crate::error::{ApiError, ErrorDetail};
use crate::storage::reports::CdrFilter;

use super::range::{BucketSize, parse_bound};

/// The longest range a report covers.
pub const MAX_SPAN_DAYS: i64 = 400;
/// `limit` of the top-N reports.
pub const DEFAULT_TOP: i64 = 10;
pub const MAX_TOP: i64 = 100;

/// `tenant_id`: whose calls.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TenantParam {
    /// Platform admins: the tenant to report on; without it, every tenant
    /// together. Everyone else: their own tenant (the default); naming
    /// another gives 404.
    tenant_id: Option<i64>,
}

/// `tz` alone (a report of one call, without a range).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TimeZoneParam {
    /// IANA time zone the times are shown in (`Asia/Jerusalem`, `UTC`).
    /// Default: the tenant's time zone; for a platform admin without
    /// `tenant_id`, UTC.
    #[param(example = "Asia/Jerusalem")]
    tz: Option<String>,
}

/// `tenant_id` of the funnel: one tenant's flow.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FunnelTenantParam {
    /// Platform admins: the tenant whose flow (required: a funnel is one
    /// tenant's menus). Everyone else: their own tenant (the default);
    /// naming another gives 404.
    tenant_id: Option<i64>,
    /// Only the steps that ran on this version of the flow (see
    /// `/flow/versions`): compare how callers moved through version 7 and
    /// version 8. Always read from the raw step log.
    version: Option<i32>,
}

/// The range and filters every report takes.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RangeParams {
    /// Start of the range, inclusive. An instant with an offset
    /// (`2026-11-23T00:00:00+02:00`, `2026-11-22T22:00:00Z`; send `+` as
    /// `%2B`), or a local date (`2026-11-23`: its midnight) or local
    /// date-time (`2026-11-23T08:00`) in the report's time zone.
    #[param(required = true, example = "2026-11-23")]
    from: String,
    /// End of the range, exclusive; same forms as `from`. `from=2026-11-23&to=2026-11-24`
    /// is the whole local day of 23 November. At most 400 days after `from`.
    #[param(required = true, example = "2026-11-24")]
    to: String,
    /// IANA time zone in which local dates and times are read and buckets
    /// cut (`Asia/Jerusalem`, `UTC`). Default: the tenant's time zone; for
    /// every tenant together, UTC.
    #[param(example = "Asia/Jerusalem")]
    tz: Option<String>,
    /// Only calls to this DID (exact).
    did: Option<String>,
    /// Only calls with this CALL_STATUS, read as statuses are stored:
    /// trimmed and upper-cased, ANSWERED as ANSWER (`busy` finds BUSY).
    status: Option<String>,
    /// Only calls dialled to this TARGET (exact).
    target: Option<String>,
}

/// `compare=previous`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CompareParam {
    /// `previous`: also report the period of the same length just before
    /// `from` (`[from - (to - from), from)`), in `previous`.
    #[param(example = "previous")]
    compare: Option<String>,
}

/// `bucket=hour|day` of the time series.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct BucketParam {
    /// `hour` or `day`, on the clock of the report's time zone: a day bucket
    /// lasts 23 or 25 hours on a daylight-saving change day; an hour skipped
    /// by the clock has no bucket, an hour it repeats has two.
    #[param(required = true, example = "day")]
    bucket: String,
}

/// `limit` of a top-N report.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TopParam {
    /// How many rows, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// The query string, by name.
#[derive(Debug)]
pub struct Params {
    values: Vec<(String, String)>,
}

impl Params {
    /// Reads the query string; refuses a parameter not in `allowed` or given twice.
    pub fn parse(query: &str, allowed: &[&str]) -> Result<Params, ApiError> {
        let values = actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
            .map_err(|e| ApiError::bad_request(format!("unreadable query string: {e}")))?
            .into_inner();
        for (index, (name, _)) in values.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::bad_field(
                    name.clone(),
                    format!(
                        "unknown parameter; this report takes {}",
                        allowed.join(", ")
                    ),
                ));
            }
            if values[..index].iter().any(|(earlier, _)| earlier == name) {
                return Err(ApiError::bad_field(name.clone(), "given more than once"));
            }
        }
        Ok(Params { values })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A text filter: absent, or a non-empty exact value.
    fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) if value.contains('\0') => {
                Err(ApiError::bad_field(name, "must not contain NUL"))
            }
            Some(value) if value.chars().count() > 200 => {
                Err(ApiError::bad_field(name, "is longer than 200 characters"))
            }
            Some(value) => Ok(Some(value.to_owned())),
        }
    }

    /// `tz`, or `default`.
    pub fn time_zone(&self, default: Tz) -> Result<Tz, ApiError> {
        match self.get("tz") {
            None => Ok(default),
            Some(name) => name.parse::<Tz>().map_err(|_| {
                ApiError::bad_field(
                    "tz",
                    format!("{name:?} is not an IANA time zone (e.g. Asia/Jerusalem, UTC)"),
                )
            }),
        }
    }

    /// `from`, `to` (required, read in `tz`), `did`, `status`, `target`.
    pub fn filter(&self, tz: Tz) -> Result<CdrFilter, ApiError> {
        let bound = |name: &str| -> Result<DateTime<Utc>, ApiError> {
            let text = self.get(name).ok_or_else(|| {
                ApiError::bad_field(
                    name,
                    "is required (e.g. 2026-11-23, or 2026-11-23T08:00:00+02:00)",
                )
            })?;
            parse_bound(text, tz).map_err(|message| ApiError::bad_field(name, message))
        };
        let (from, to) = (bound("from")?, bound("to")?);
        let mut problems = Vec::new();
        if from >= to {
            problems.push(ErrorDetail {
                path: "to".into(),
                message: format!("must be after from (from {from} is not before to {to})"),
            });
        } else if to - from > Duration::days(MAX_SPAN_DAYS) {
            problems.push(ErrorDetail {
                path: "to".into(),
                message: format!("the range may span at most {MAX_SPAN_DAYS} days"),
            });
        }
        if !problems.is_empty() {
            return Err(ApiError::validation("the range is not valid", problems));
        }
        Ok(CdrFilter {
            from,
            to,
            did: self.text("did")?,
            status: self
                .text("status")?
                .map(|status| crate::voicenter::normalize_status(&status)),
            target: self.text("target")?,
        })
    }

    /// `compare`: absent, or `previous`.
    /// `version`: a published flow version (a positive integer), or absent.
    pub fn flow_version(&self) -> Result<Option<i32>, ApiError> {
        self.get("version")
            .map(|text| {
                let number = crate::flow_service::version_number("version", text)?;
                // Above any stored version: no step ran on it.
                Ok(i32::try_from(number).unwrap_or(i32::MAX))
            })
            .transpose()
    }

    pub fn compare(&self) -> Result<bool, ApiError> {
        match self.get("compare") {
            None => Ok(false),
            Some("previous") => Ok(true),
            Some(_) => Err(ApiError::bad_field(
                "compare",
                "the only comparison is `previous`",
            )),
        }
    }

    pub fn bucket(&self) -> Result<BucketSize, ApiError> {
        let text = self
            .get("bucket")
            .ok_or_else(|| ApiError::bad_field("bucket", "is required: `hour` or `day`"))?;
        BucketSize::parse(text)
            .ok_or_else(|| ApiError::bad_field("bucket", "must be `hour` or `day`"))
    }

    /// `limit` between 1 and `max`, or `default`.
    pub fn limit(&self, default: i64, max: i64) -> Result<i64, ApiError> {
        match self.get("limit") {
            None => Ok(default),
            Some(text) => match text.parse::<i64>() {
                Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
                _ => Err(ApiError::bad_field(
                    "limit",
                    format!("must be a number between 1 and {max}"),
                )),
            },
        }
    }
}

/// The period of the same length just before `filter`'s.
pub fn previous_period(filter: &CdrFilter) -> CdrFilter {
    let span = filter.to - filter.from;
    CdrFilter {
        from: filter.from - span,
        to: filter.from,
        ..filter.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[&str] = &[
        "from", "to", "tz", "did", "status", "target", "compare", "limit",
    ];

    fn detail(error: ApiError) -> (String, u16) {
        let status = actix_web::ResponseError::status_code(&error).as_u16();
        (error.details()[0].path.clone(), status)
    }

    #[test]
    fn every_bad_parameter_names_itself() {
        let tz = chrono_tz::UTC;
        let filter = |query: &str| Params::parse(query, ALL).and_then(|p| p.filter(tz));
        assert_eq!(
            detail(filter("to=2026-01-02").unwrap_err()),
            ("from".into(), 400)
        );
        assert_eq!(
            detail(filter("from=x&to=2026-01-02").unwrap_err()),
            ("from".into(), 400)
        );
        assert_eq!(
            detail(filter("from=2026-01-02&to=2026-01-02").unwrap_err()),
            ("to".into(), 422)
        );
        assert_eq!(
            detail(filter("from=2025-01-01&to=2026-03-01").unwrap_err()),
            ("to".into(), 422)
        );
        assert!(filter("from=2025-01-01&to=2026-02-05").is_ok(), "400 days");
        assert_eq!(
            detail(Params::parse("form=2026-01-01", ALL).unwrap_err()),
            ("form".into(), 400)
        );
        assert_eq!(
            detail(Params::parse("did=1&did=2", ALL).unwrap_err()),
            ("did".into(), 400)
        );
        let params = Params::parse("limit=0&tz=Mars/Olympus&compare=next", ALL).unwrap();
        assert_eq!(
            detail(params.limit(10, 100).unwrap_err()),
            ("limit".into(), 400)
        );
        assert_eq!(
            detail(params.time_zone(tz).unwrap_err()),
            ("tz".into(), 400)
        );
        assert_eq!(
            detail(params.compare().unwrap_err()),
            ("compare".into(), 400)
        );
    }
}
