//! Time ranges and buckets of the reports, in a time zone: no IO.
//!
//! A bound is an instant (RFC 3339 with an offset) or a local date / local
//! date-time read in the report's time zone. Buckets follow the zone's clock,
//! so a day bucket lasts 23 or 25 hours on a daylight-saving change day and
//! an hour bucket is one of the hours the clock actually showed (the repeated
//! hour of an autumn change gives two buckets, the skipped hour of a spring
//! change none).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// How a bound was written, for error messages.
const BOUND_FORMS: &str = "an instant with an offset (2026-11-01T08:00:00+02:00, or Z), \
     a local date (2026-11-01) or a local date-time (2026-11-01T08:00) in the report's time zone";

/// Reads `from` / `to`: an instant, or a local date or date-time in `tz`.
pub fn parse_bound(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("is empty; expected {BOUND_FORMS}"));
    }
    if let Some(instant) = parse_instant(text) {
        return Ok(instant);
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return day_start(date, tz).ok_or_else(|| format!("{text} is outside the supported dates"));
    }
    for format in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return match tz.from_local_datetime(&local) {
                chrono::LocalResult::Single(at) => Ok(at.with_timezone(&Utc)),
                // The repeated hour of an autumn change: the first of the two.
                chrono::LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
                chrono::LocalResult::None => Err(format!(
                    "{text} did not exist in {tz} (the clock skipped it); give an offset"
                )),
            };
        }
    }
    Err(format!("{text:?} is not a date; expected {BOUND_FORMS}"))
}

/// RFC 3339 with an offset; also without seconds. A `+` of the offset that
/// arrived as a space (an unencoded `+` in a query string) is read as `+`.
fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    let mut owned = text.to_owned();
    if owned.len() > 19 {
        // "2026-11-01T08:00:00 02:00" / "2026-11-01T08:00 02:00"
        if let Some(space) = owned[10..].rfind(' ').map(|i| i + 10) {
            let offset = &owned[space + 1..];
            if offset.len() == 5 && offset.as_bytes()[2] == b':' && space > 11 {
                owned.replace_range(space..=space, "+");
            }
        }
    }
    let text = owned.as_str();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M%#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
    ] {
        if let Ok(at) = DateTime::parse_from_str(text, format) {
            return Some(at.with_timezone(&Utc));
        }
    }
    let zulu = text.strip_suffix('Z').or_else(|| text.strip_suffix('z'))?;
    NaiveDateTime::parse_from_str(zulu, "%Y-%m-%dT%H:%M")
        .ok()
        .map(|local| local.and_utc())
}

/// The first instant of `date` in `tz`: midnight, or the first minute that
/// existed when the clock skipped midnight.
pub fn day_start(date: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    let midnight = date.and_time(NaiveTime::MIN);
    (0..=24 * 60).find_map(|minutes| {
        let local = midnight + Duration::minutes(minutes);
        tz.from_local_datetime(&local)
            .earliest()
            .map(|at| at.with_timezone(&Utc))
    })
}

/// The bucket sizes of the time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSize {
    Hour,
    Day,
}

impl BucketSize {
    pub fn parse(text: &str) -> Option<BucketSize> {
        match text {
            "hour" => Some(BucketSize::Hour),
            "day" => Some(BucketSize::Day),
            _ => None,
        }
    }
}

/// One bucket: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The buckets covering `[from, to)` on `tz`'s clock, the first and last
/// clipped to the range when it does not start or end on a boundary.
pub fn buckets(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz, size: BucketSize) -> Vec<Bucket> {
    let mut buckets = Vec::new();
    if from >= to {
        return buckets;
    }
    match size {
        BucketSize::Day => {
            let mut date = from.with_timezone(&tz).date_naive();
            while let Some(start) = day_start(date, tz) {
                if start >= to {
                    break;
                }
                let Some(next) = date.succ_opt() else { break };
                let end = day_start(next, tz).unwrap_or(to);
                if end > from {
                    buckets.push(Bucket {
                        start: start.max(from),
                        end: end.min(to),
                    });
                }
                date = next;
            }
        }
        BucketSize::Hour => {
            let mut start = hour_start(from, tz);
            while start < to {
                let end = start + Duration::hours(1);
                buckets.push(Bucket {
                    start: start.max(from),
                    end: end.min(to),
                });
                start = end;
            }
        }
    }
    buckets
}

/// The start of the clock hour `at` falls in, on `tz`'s clock (for a zone
/// half an hour off UTC, hours start at :30 UTC).
pub fn hour_start(at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let local = at.with_timezone(&tz);
    let back = Duration::seconds(i64::from(local.minute() * 60 + local.second()))
        + Duration::nanoseconds(i64::from(local.nanosecond()));
    at - back
}

#[cfg(test)]
mod tests {
    use super::*;

    const JERUSALEM: Tz = chrono_tz::Asia::Jerusalem;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn bounds_are_instants_or_local_times() {
        assert_eq!(
            parse_bound("2026-11-01", JERUSALEM).unwrap(),
            utc("2026-10-31T22:00:00Z")
        );
        assert_eq!(
            parse_bound("2026-07-01T08:00", JERUSALEM).unwrap(),
            utc("2026-07-01T05:00:00Z")
        );
        assert_eq!(
            parse_bound("2026-07-01T08:00:00+02:00", JERUSALEM).unwrap(),
            utc("2026-07-01T06:00:00Z")
        );
        assert_eq!(
            parse_bound("2026-07-01T08:00:00 02:00", JERUSALEM).unwrap(),
            utc("2026-07-01T06:00:00Z"),
            "a + sent unencoded in a query string"
        );
        assert_eq!(
            parse_bound("2026-07-01T08:00Z", chrono_tz::UTC).unwrap(),
            utc("2026-07-01T08:00:00Z")
        );
        // 02:30 did not exist in Jerusalem on 2026-03-27 (02:00 -> 03:00).
        assert!(parse_bound("2026-03-27T02:30", JERUSALEM).is_err());
        // 01:30 happened twice on 2026-10-25: the first one (+03:00).
        assert_eq!(
            parse_bound("2026-10-25T01:30", JERUSALEM).unwrap(),
            utc("2026-10-24T22:30:00Z")
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-11-01T25:00",
            "1700000000",
        ] {
            assert!(parse_bound(bad, JERUSALEM).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_day_bucket_follows_the_clock_across_dst() {
        let days = buckets(
            parse_bound("2026-03-26", JERUSALEM).unwrap(),
            parse_bound("2026-03-29", JERUSALEM).unwrap(),
            JERUSALEM,
            BucketSize::Day,
        );
        let hours: Vec<i64> = days.iter().map(|b| (b.end - b.start).num_hours()).collect();
        assert_eq!(hours, vec![24, 23, 24]);
        let days = buckets(
            parse_bound("2026-10-24", JERUSALEM).unwrap(),
            parse_bound("2026-10-26", JERUSALEM).unwrap(),
            JERUSALEM,
            BucketSize::Day,
        );
        let hours: Vec<i64> = days.iter().map(|b| (b.end - b.start).num_hours()).collect();
        assert_eq!(hours, vec![24, 25]);
    }

    #[test]
    fn hour_buckets_are_the_hours_the_clock_showed() {
        let spring = buckets(
            parse_bound("2026-03-27", JERUSALEM).unwrap(),
            parse_bound("2026-03-28", JERUSALEM).unwrap(),
            JERUSALEM,
            BucketSize::Hour,
        );
        assert_eq!(spring.len(), 23);
        let autumn = buckets(
            parse_bound("2026-10-25", JERUSALEM).unwrap(),
            parse_bound("2026-10-26", JERUSALEM).unwrap(),
            JERUSALEM,
            BucketSize::Hour,
        );
        assert_eq!(autumn.len(), 25);
        let kolkata = chrono_tz::Asia::Kolkata;
        let halves = buckets(
            utc("2026-07-01T00:00:00Z"),
            utc("2026-07-01T02:00:00Z"),
            kolkata,
            BucketSize::Hour,
        );
        assert_eq!(
            halves.iter().map(|b| b.start).collect::<Vec<_>>(),
            vec![
                utc("2026-07-01T00:00:00Z"),
                utc("2026-07-01T00:30:00Z"),
                utc("2026-07-01T01:30:00Z")
            ],
            "clipped first bucket, then hours starting at :30 UTC"
        );
    }

    #[test]
    fn a_range_off_the_boundaries_clips_its_first_and_last_bucket() {
        let days = buckets(
            utc("2026-07-01T10:00:00Z"),
            utc("2026-07-03T10:00:00Z"),
            chrono_tz::UTC,
            BucketSize::Day,
        );
        assert_eq!(
            days.iter().map(|b| (b.start, b.end)).collect::<Vec<_>>(),
            vec![
                (utc("2026-07-01T10:00:00Z"), utc("2026-07-02T00:00:00Z")),
                (utc("2026-07-02T00:00:00Z"), utc("2026-07-03T00:00:00Z")),
                (utc("2026-07-03T00:00:00Z"), utc("2026-07-03T10:00:00Z")),
            ]
        );
    }
}
