//! Is a schedule open at an instant?
//!
//! Everything is judged on the wall clock of the tenant's time zone, computed
//! from the UTC instant with the zone's rules, so daylight saving changes are
//! handled by construction: on the spring-forward day the skipped hour never
//! happens (an interval lying entirely inside it does not open that day), and
//! on the fall-back day the repeated hour happens twice (an interval covering
//! it is open both times).
//!
//! Weekly hours: open on `day` from `opens` (inclusive) to `closes`
//! (exclusive). `closes` 00:00 is midnight at the end of the day (00:00–00:00
//! is the whole day); `closes` before `opens` runs past midnight into the next
//! day; `closes` equal to any other `opens` is an empty interval, never open
//! (validation reports it).
//!
//! Holidays are local dates. A holiday closes the whole local day, and also
//! the after-midnight part of an interval that opened on it: a night shift
//! that never started does not resume at midnight.
//!
//! A schedule naming a calendar (`calendar`, see `flow::calendar`) treats
//! the calendar's days by their rule: `closed` as a holiday, `hours` as the
//! day's only ranges on a day the week opens (the weekly ones do not apply,
//! nor does a night shift that would have started on it; on a day the week
//! keeps closed, it stays closed), `usual` as any other day. The tenant's
//! own `holidays` win over the calendar. Precedence, in short: the tenant's
//! holiday, then the calendar's day, then the weekly hours.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;

use super::calendar::Occasion;
use super::model::{DayHours, DayRule, OpeningHours, Schedule};

/// Is the schedule open at `now`, in time zone `tz`?
pub fn is_open(schedule: &Schedule, tz: Tz, now: DateTime<Utc>) -> bool {
    explain(schedule, tz, now).open()
}

/// Why a schedule is open or closed at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Open by `hours[index]` (`from_yesterday`: the part after midnight of
    /// a range that opened the day before).
    Open { index: usize, from_yesterday: bool },
    /// Closed all day: `holidays[index]`.
    Holiday { index: usize },
    /// Closed all day: a day of the schedule's calendar whose rule is `closed`.
    CalendarClosed { occasion: Occasion },
    /// A day of the calendar with hours of its own: open by
    /// `hours[index]` of its rule, or (`None`) outside them.
    CalendarHours {
        occasion: Occasion,
        index: Option<usize>,
    },
    /// Closed: the after-midnight part of `hours[index]` opened on a day
    /// that closed or had hours of its own, so it never started.
    ShiftNeverStarted { index: usize, day: Closure },
    /// Closed: no range covers the local time.
    NoRange,
}

/// A day the weekly hours do not apply on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closure {
    /// `holidays[index]`, the tenant's own.
    Holiday(usize),
    /// A day of the schedule's calendar.
    Calendar(Occasion),
}

impl Verdict {
    pub fn open(&self) -> bool {
        matches!(
            self,
            Verdict::Open { .. } | Verdict::CalendarHours { index: Some(_), .. }
        )
    }
}

impl Verdict {
    /// In words, for the schedule it was given for, at local time `local`:
    /// `open: hours[5] (Fri 11:00–15:00)`, `closed: Yom Kippur (rest day of the
    /// israel calendar)`…
    pub fn why(&self, schedule: &Schedule, local: chrono::NaiveDateTime) -> String {
        let range = |index: usize| {
            schedule.hours.get(index).map_or(String::new(), |hours| {
                format!(
                    "hours[{index}] ({:?} {}–{})",
                    hours.day,
                    hours.opens.format("%H:%M"),
                    end(hours.closes)
                )
            })
        };
        let calendar = |occasion: Occasion| {
            let name = schedule.calendar.as_ref().map_or("", |c| c.name.as_str());
            let kind = match occasion.kind() {
                super::calendar::DayKind::Rest => "rest day",
                super::calendar::DayKind::Eve => "eve",
                super::calendar::DayKind::Other => "day",
            };
            format!("{} ({kind} of the {name} calendar)", occasion.name_en())
        };
        match self {
            Verdict::Open {
                index,
                from_yesterday: false,
            } => format!("open: {}", range(*index)),
            Verdict::Open {
                index,
                from_yesterday: true,
            } => format!("open: {} runs past midnight", range(*index)),
            Verdict::Holiday { index } => {
                let holiday = &schedule.holidays[*index];
                format!("closed: {} is a holiday ({})", holiday.date, holiday.name)
            }
            Verdict::CalendarClosed { occasion } => format!("closed: {}", calendar(*occasion)),
            Verdict::CalendarHours { occasion, index } => {
                let ranges = match schedule.calendar.as_ref().map(|c| c.rule(*occasion)) {
                    Some(DayRule::Hours(ranges)) => ranges
                        .iter()
                        .map(|r| format!("{}–{}", r.opens.format("%H:%M"), end(r.closes)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    _ => String::new(),
                };
                match index {
                    Some(_) => format!("open: {}, hours {ranges}", calendar(*occasion)),
                    None => format!("closed: {}, open only {ranges}", calendar(*occasion)),
                }
            }
            Verdict::ShiftNeverStarted { index, day } => {
                let on = match day {
                    Closure::Holiday(holiday) => {
                        format!("{}, a holiday", schedule.holidays[*holiday].date)
                    }
                    Closure::Calendar(occasion) => calendar(*occasion),
                };
                format!(
                    "closed: {} opened on {on}, so it never started",
                    range(*index)
                )
            }
            Verdict::NoRange => format!(
                "closed: no range covers {:?} {}",
                local.weekday(),
                local.format("%H:%M")
            ),
        }
    }
}

/// `HH:MM`, with midnight at the end of a day written `24:00`.
fn end(closes: NaiveTime) -> String {
    if closes == NaiveTime::MIN {
        "24:00".to_owned()
    } else {
        closes.format("%H:%M").to_string()
    }
}

/// The calendar's day on `date` and its rule, when the rule changes the
/// day: `closed`, or its own hours on a day the week opens (an eve that
/// falls on a day the office is closed anyway stays closed).
fn special_day(schedule: &Schedule, date: NaiveDate) -> Option<(Occasion, &DayRule)> {
    let calendar = schedule.calendar.as_ref()?;
    let occasion = calendar.name.day(date)?;
    let rule = calendar.rule(occasion);
    match rule {
        DayRule::Closed => Some((occasion, rule)),
        DayRule::Hours(_) if open_some_time(schedule, date) => Some((occasion, rule)),
        DayRule::Hours(_) | DayRule::Usual => None,
    }
}

/// Why the weekly hours do not apply on `date`, if they do not.
fn closure(schedule: &Schedule, date: NaiveDate) -> Option<Closure> {
    if let Some(index) = holiday_index(schedule, date) {
        return Some(Closure::Holiday(index));
    }
    special_day(schedule, date).map(|(occasion, _)| Closure::Calendar(occasion))
}

/// `time` is within `range` of a calendar day (`closes` 00:00: the end of
/// the day).
fn within(range: &DayHours, time: NaiveTime) -> bool {
    time >= range.opens && (range.closes == NaiveTime::MIN || time < range.closes)
}

/// The verdict at `now`, in time zone `tz` (what `is_open` answers, with
/// its reason): the first range that covers the local time, else why not.
pub fn explain(schedule: &Schedule, tz: Tz, now: DateTime<Utc>) -> Verdict {
    let local = now.with_timezone(&tz).naive_local();
    let (date, time) = (local.date(), local.time());
    if let Some(index) = holiday_index(schedule, date) {
        return Verdict::Holiday { index };
    }
    match special_day(schedule, date) {
        Some((occasion, DayRule::Closed)) => return Verdict::CalendarClosed { occasion },
        Some((occasion, DayRule::Hours(ranges))) => {
            return Verdict::CalendarHours {
                occasion,
                index: ranges.iter().position(|range| within(range, time)),
            };
        }
        Some((_, DayRule::Usual)) | None => {}
    }
    let day = date.weekday();
    let yesterday_holiday = date
        .pred_opt()
        .and_then(|yesterday| closure(schedule, yesterday));
    let mut never_started = None;
    for (index, hours) in schedule.hours.iter().enumerate() {
        let OpeningHours { opens, closes, .. } = *hours;
        let today = if closes == NaiveTime::MIN {
            hours.day == day && time >= opens
        } else if opens < closes {
            hours.day == day && (opens..closes).contains(&time)
        } else {
            closes < opens && hours.day == day && time >= opens
        };
        if today {
            return Verdict::Open {
                index,
                from_yesterday: false,
            };
        }
        let after_midnight =
            closes != NaiveTime::MIN && closes < opens && hours.day.succ() == day && time < closes;
        if after_midnight {
            match yesterday_holiday {
                None => {
                    return Verdict::Open {
                        index,
                        from_yesterday: true,
                    };
                }
                Some(holiday) => never_started = never_started.or(Some((index, holiday))),
            }
        }
    }
    match never_started {
        Some((index, day)) => Verdict::ShiftNeverStarted { index, day },
        None => Verdict::NoRange,
    }
}

/// Is `now`, in time zone `tz`, on one of the schedule's holidays: the
/// tenant's own, or a calendar day the schedule closes all day?
pub fn is_holiday(schedule: &Schedule, tz: Tz, now: DateTime<Utc>) -> bool {
    let date = now.with_timezone(&tz).date_naive();
    is_holiday_on(schedule, date)
        || matches!(special_day(schedule, date), Some((_, DayRule::Closed)))
}

/// Do the weekly hours open at some time on `date` (its own ranges, not
/// a night shift from the day before)?
pub fn open_some_time(schedule: &Schedule, date: NaiveDate) -> bool {
    let day = date.weekday();
    schedule
        .hours
        .iter()
        .any(|hours| hours.day == day && !is_empty_interval(hours))
}

/// An interval that can never be open: `opens` equal to `closes`, other than
/// the whole day 00:00–00:00.
pub fn is_empty_interval(hours: &OpeningHours) -> bool {
    hours.opens == hours.closes && hours.closes != NaiveTime::MIN
}

fn is_holiday_on(schedule: &Schedule, date: NaiveDate) -> bool {
    holiday_index(schedule, date).is_some()
}

fn holiday_index(schedule: &Schedule, date: NaiveDate) -> Option<usize> {
    schedule
        .holidays
        .iter()
        .position(|holiday| holiday.date == date)
}

/// Pairs of ranges of the same day that overlap (`hours[a]`, `hours[b]`):
/// legal, but probably a typo.
pub fn overlapping(hours: &[OpeningHours]) -> Vec<(usize, usize)> {
    // Each range as minutes of the week it covers, [start, end).
    let minutes = |h: &OpeningHours| {
        let day = i64::from(h.day.num_days_from_monday()) * 24 * 60;
        let at = |t: NaiveTime| i64::from(t.hour() * 60 + t.minute());
        let start = day + at(h.opens);
        let end = if h.closes == NaiveTime::MIN {
            day + 24 * 60
        } else if h.closes < h.opens {
            day + 24 * 60 + at(h.closes)
        } else {
            day + at(h.closes)
        };
        (start, end)
    };
    let mut pairs = Vec::new();
    for a in 0..hours.len() {
        for b in a + 1..hours.len() {
            if is_empty_interval(&hours[a]) || is_empty_interval(&hours[b]) {
                continue;
            }
            let (sa, ea) = minutes(&hours[a]);
            let (sb, eb) = minutes(&hours[b]);
            // The week wraps: Sunday night runs into Monday morning.
            const WEEK: i64 = 7 * 24 * 60;
            if [-WEEK, 0, WEEK]
                .iter()
                .any(|shift| sa < eb + shift && sb + shift < ea)
            {
                pairs.push((a, b));
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Weekday};

    use super::*;
    use crate::flow::model::Holiday;

    const JERUSALEM: Tz = chrono_tz::Asia::Jerusalem;

    fn time(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").expect("test time")
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
    }

    fn hours(day: Weekday, opens: &str, closes: &str) -> OpeningHours {
        OpeningHours {
            day,
            opens: time(opens),
            closes: time(closes),
        }
    }

    fn schedule(hours: Vec<OpeningHours>, holidays: &[&str]) -> Schedule {
        Schedule {
            key: "office".into(),
            name: "Office".into(),
            hours,
            holidays: holidays
                .iter()
                .map(|d| Holiday {
                    date: date(d),
                    name: String::new(),
                })
                .collect(),
            calendar: None,
        }
    }

    /// A local wall-clock time in Jerusalem, as a UTC instant (the earlier one when ambiguous).
    fn jerusalem(text: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("test");
        JERUSALEM
            .from_local_datetime(&naive)
            .earliest()
            .expect("existing local time")
            .with_timezone(&Utc)
    }

    fn utc(text: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("test");
        Utc.from_utc_datetime(&naive)
    }

    /// The demo's week (Sun–Thu 08–20, Fri 08–13) with the `israel`
    /// calendar: rest days closed, eves 08:00–13:00, a night shift Thursday.
    fn israeli_office() -> Schedule {
        let mut hours: Vec<OpeningHours> = [Weekday::Sun, Weekday::Mon, Weekday::Tue, Weekday::Wed]
            .into_iter()
            .map(|day| self::hours(day, "08:00", "20:00"))
            .collect();
        hours.push(self::hours(Weekday::Thu, "08:00", "02:00"));
        hours.push(self::hours(Weekday::Fri, "08:00", "13:00"));
        let mut schedule = schedule(hours, &[]);
        schedule.calendar = Some(
            serde_json::from_value(serde_json::json!({
                "name": "israel",
                "eves": {"hours": [{"opens": "08:00", "closes": "13:00"}]},
                "exceptions": {"purim": "closed", "yom_hazikaron": {"hours": [{"opens": "09:00", "closes": "24:00"}]}}
            }))
            .expect("a calendar"),
        );
        schedule
    }

    #[test]
    fn calendar_days_close_shorten_or_leave_the_week_alone() {
        let office = israeli_office();
        let at = |text: &str| explain(&office, JERUSALEM, jerusalem(text));
        // Yom Kippur 2026 (a Monday): closed all day.
        assert_eq!(
            at("2026-09-21 10:00"),
            Verdict::CalendarClosed {
                occasion: Occasion::YomKippur
            }
        );
        assert!(is_holiday(
            &office,
            JERUSALEM,
            jerusalem("2026-09-21 10:00")
        ));
        // Erev Pesach 2027 (a Wednesday): 08:00–13:00 only.
        assert_eq!(
            at("2027-04-21 12:00"),
            Verdict::CalendarHours {
                occasion: Occasion::ErevPesach,
                index: Some(0)
            }
        );
        assert!(!at("2027-04-21 14:00").open());
        assert!(!is_holiday(
            &office,
            JERUSALEM,
            jerusalem("2027-04-21 14:00")
        ));
        assert!(
            at("2027-04-20 14:00").open(),
            "the day before is an ordinary Tuesday"
        );
        // 2024: 5 Iyar was a Monday, Yom HaAtzmaut moved to Tuesday the 14th.
        assert_eq!(
            at("2024-05-14 10:00"),
            Verdict::CalendarClosed {
                occasion: Occasion::YomHaatzmaut
            }
        );
        // Monday the 13th is Yom HaZikaron: its exception opens at 09:00.
        assert!(!at("2024-05-13 08:30").open());
        assert!(at("2024-05-13 21:00").open(), "until the end of the day");
        // Other days follow the week unless excepted: Chol HaMoed is usual, Purim closed.
        assert!(
            at("2026-04-05 10:00").open(),
            "Chol HaMoed Pesach, a Sunday"
        );
        assert_eq!(
            at("2026-03-03 10:00"),
            Verdict::CalendarClosed {
                occasion: Occasion::Purim
            }
        );
        // An eve on a day the week keeps closed stays closed: erev Pesach
        // 5785 was Saturday 2025-04-12.
        assert_eq!(at("2025-04-12 10:00"), Verdict::NoRange);
        // Friday 2027-06-11 is Shavuot, a rest day: closed, night shift or not.
        assert_eq!(
            at("2027-06-11 01:00"),
            Verdict::CalendarClosed {
                occasion: Occasion::Shavuot
            }
        );
        assert_eq!(
            at("2026-12-04 01:00"),
            Verdict::Open {
                index: 4,
                from_yesterday: true
            },
            "an ordinary Thursday night runs into Friday"
        );
        // The tenant's own holiday wins over the calendar.
        let mut closed_on_eve = office.clone();
        closed_on_eve.holidays.push(Holiday {
            date: date("2027-04-21"),
            name: "Inventory".into(),
        });
        assert_eq!(
            explain(&closed_on_eve, JERUSALEM, jerusalem("2027-04-21 12:00")),
            Verdict::Holiday { index: 0 }
        );
    }

    #[test]
    fn a_night_shift_from_a_day_with_its_own_hours_never_starts() {
        // Chanukah 5787 runs from Saturday 2026-12-05 to Saturday the 12th;
        // give other days short hours: Thursday the 10th's 08:00–02:00 is
        // replaced by 10:00–12:00, so 01:00 Friday the 11th is closed.
        let mut office = israeli_office();
        office.calendar.as_mut().unwrap().other_days = DayRule::Hours(vec![DayHours {
            opens: time("10:00"),
            closes: time("12:00"),
        }]);
        assert_eq!(
            explain(&office, JERUSALEM, jerusalem("2026-12-10 11:00")),
            Verdict::CalendarHours {
                occasion: Occasion::Chanukah,
                index: Some(0)
            }
        );
        assert_eq!(
            explain(&office, JERUSALEM, jerusalem("2026-12-11 01:00")),
            Verdict::CalendarHours {
                occasion: Occasion::Chanukah,
                index: None
            }
        );
        // Thursday 2026-12-17 and Friday the 18th are ordinary: the shift runs.
        assert!(explain(&office, JERUSALEM, jerusalem("2026-12-18 01:00")).open());
    }

    #[test]
    fn a_night_shift_from_a_calendar_day_never_starts() {
        // Erev Rosh Hashana 5787 is Friday 2026-09-11; give Friday a night shift.
        let mut office = israeli_office();
        office.hours.push(hours(Weekday::Fri, "22:00", "03:00"));
        office.calendar.as_mut().unwrap().eves = DayRule::Usual;
        office.calendar.as_mut().unwrap().rest_days = DayRule::Usual;
        assert!(explain(&office, JERUSALEM, jerusalem("2026-09-12 01:00")).open());
        office.calendar.as_mut().unwrap().eves = DayRule::Closed;
        assert_eq!(
            explain(&office, JERUSALEM, jerusalem("2026-09-12 01:00")),
            Verdict::ShiftNeverStarted {
                index: 6,
                day: Closure::Calendar(Occasion::ErevRoshHashana)
            }
        );
        let why = explain(&office, JERUSALEM, jerusalem("2026-09-12 01:00")).why(
            &office,
            jerusalem("2026-09-12 01:00")
                .with_timezone(&JERUSALEM)
                .naive_local(),
        );
        assert_eq!(
            why,
            "closed: hours[6] (Fri 22:00–03:00) opened on Erev Rosh Hashana (eve of the israel calendar), so it never started"
        );
    }

    // 2024-06-02 is a Sunday.
    #[test]
    fn weekly_hours_open_inclusive_close_exclusive() {
        let s = schedule(vec![hours(Weekday::Sun, "08:00", "17:00")], &[]);
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-02 07:59")));
        assert!(is_open(&s, JERUSALEM, jerusalem("2024-06-02 08:00")));
        assert!(is_open(&s, JERUSALEM, jerusalem("2024-06-02 16:59")));
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-02 17:00")));
        // Same time on a Monday: closed.
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-03 09:00")));
    }

    #[test]
    fn judged_on_the_tenant_wall_clock_not_utc() {
        let s = schedule(vec![hours(Weekday::Sun, "08:00", "17:00")], &[]);
        // 06:30 UTC is 09:30 in Jerusalem in June (UTC+3).
        assert!(is_open(&s, JERUSALEM, utc("2024-06-02 06:30")));
        assert!(!is_open(&s, chrono_tz::UTC, utc("2024-06-02 06:30")));
        // 22:30 UTC on Saturday is already 01:30 Sunday in Jerusalem.
        let sunday_night = schedule(vec![hours(Weekday::Sun, "00:00", "02:00")], &[]);
        assert!(is_open(&sunday_night, JERUSALEM, utc("2024-06-01 22:30")));
    }

    #[test]
    fn closing_at_midnight_means_end_of_day() {
        let s = schedule(vec![hours(Weekday::Sun, "20:00", "00:00")], &[]);
        assert!(is_open(&s, JERUSALEM, jerusalem("2024-06-02 23:59")));
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-03 00:00")));
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-02 19:59")));
    }

    #[test]
    fn whole_day() {
        let s = schedule(vec![hours(Weekday::Sun, "00:00", "00:00")], &[]);
        assert!(is_open(&s, JERUSALEM, jerusalem("2024-06-02 00:00")));
        assert!(is_open(&s, JERUSALEM, jerusalem("2024-06-02 23:59")));
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-03 00:00")));
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-01 23:59")));
    }

    #[test]
    fn spans_midnight_into_the_next_day() {
        let s = schedule(vec![hours(Weekday::Sun, "22:00", "02:00")], &[]);
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-02 21:59")));
        assert!(is_open(&s, JERUSALEM, jerusalem("2024-06-02 22:00")));
        assert!(is_open(&s, JERUSALEM, jerusalem("2024-06-03 00:00")));
        assert!(is_open(&s, JERUSALEM, jerusalem("2024-06-03 01:59")));
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-03 02:00")));
        // The early hours of Sunday belong to Saturday's interval, which does not exist.
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-02 01:00")));
    }

    #[test]
    fn saturday_night_wraps_to_sunday() {
        let s = schedule(vec![hours(Weekday::Sat, "23:00", "01:00")], &[]);
        assert!(is_open(&s, JERUSALEM, jerusalem("2024-06-02 00:30")));
    }

    #[test]
    fn empty_interval_never_opens() {
        let h = hours(Weekday::Sun, "09:00", "09:00");
        assert!(is_empty_interval(&h));
        assert!(!is_empty_interval(&hours(Weekday::Sun, "00:00", "00:00")));
        assert!(!is_empty_interval(&hours(Weekday::Sun, "09:00", "09:01")));
        let s = schedule(vec![h], &[]);
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-02 09:00")));
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-02 12:00")));
    }

    #[test]
    fn several_intervals_a_day() {
        let s = schedule(
            vec![
                hours(Weekday::Sun, "08:00", "12:00"),
                hours(Weekday::Sun, "13:00", "17:00"),
            ],
            &[],
        );
        assert!(is_open(&s, JERUSALEM, jerusalem("2024-06-02 11:00")));
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-02 12:30")));
        assert!(is_open(&s, JERUSALEM, jerusalem("2024-06-02 13:00")));
    }

    #[test]
    fn no_hours_never_open() {
        let s = schedule(vec![], &[]);
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-02 12:00")));
    }

    #[test]
    fn holiday_closes_the_whole_local_day() {
        let s = schedule(vec![hours(Weekday::Sun, "00:00", "00:00")], &["2024-06-02"]);
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-02 12:00")));
        assert!(is_holiday(&s, JERUSALEM, jerusalem("2024-06-02 00:00")));
        assert!(is_holiday(&s, JERUSALEM, jerusalem("2024-06-02 23:59")));
        assert!(!is_holiday(&s, JERUSALEM, jerusalem("2024-06-03 00:00")));
        assert!(!is_holiday(&s, JERUSALEM, jerusalem("2024-06-01 23:59")));
        // The next Sunday is an ordinary one.
        assert!(is_open(&s, JERUSALEM, jerusalem("2024-06-09 12:00")));
    }

    #[test]
    fn holiday_is_a_local_date() {
        let s = schedule(vec![], &["2024-06-02"]);
        // 21:30 UTC on June 1st is already 00:30 on June 2nd in Jerusalem.
        assert!(is_holiday(&s, JERUSALEM, utc("2024-06-01 21:30")));
        assert!(!is_holiday(&s, chrono_tz::UTC, utc("2024-06-01 21:30")));
    }

    #[test]
    fn holiday_cancels_a_night_shift_that_would_open_on_it() {
        let s = schedule(vec![hours(Weekday::Sun, "22:00", "02:00")], &["2024-06-02"]);
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-02 23:00")));
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-03 01:00")));
    }

    #[test]
    fn holiday_closes_the_after_midnight_part_too() {
        // The shift opened the day before the holiday; the holiday still closes its own day.
        let s = schedule(vec![hours(Weekday::Sun, "22:00", "02:00")], &["2024-06-03"]);
        assert!(is_open(&s, JERUSALEM, jerusalem("2024-06-02 23:00")));
        assert!(!is_open(&s, JERUSALEM, jerusalem("2024-06-03 01:00")));
    }

    #[test]
    fn dst_spring_forward_in_jerusalem() {
        // Friday 2024-03-29: clocks go from 02:00 (UTC+2) to 03:00 (UTC+3).
        assert_eq!(
            utc("2024-03-29 00:00")
                .with_timezone(&JERUSALEM)
                .to_rfc3339(),
            "2024-03-29T03:00:00+03:00"
        );
        let s = schedule(vec![hours(Weekday::Fri, "08:00", "13:00")], &[]);
        // 08:00 local is 05:00 UTC on the change day, 06:00 UTC the Friday before.
        assert!(!is_open(&s, JERUSALEM, utc("2024-03-29 04:59")));
        assert!(is_open(&s, JERUSALEM, utc("2024-03-29 05:00")));
        assert!(is_open(&s, JERUSALEM, utc("2024-03-22 06:00")));
        assert!(!is_open(&s, JERUSALEM, utc("2024-03-22 05:30")));
        // An interval inside the skipped hour never opens that day...
        let skipped = schedule(vec![hours(Weekday::Fri, "02:15", "02:45")], &[]);
        let mut instant = utc("2024-03-28 21:00");
        while instant < utc("2024-03-29 03:00") {
            assert!(!is_open(&skipped, JERUSALEM, instant), "{instant}");
            instant += chrono::Duration::minutes(5);
        }
        // ...but one that covers it closes on time: 01:00-04:00 lasts two real hours.
        let night = schedule(vec![hours(Weekday::Fri, "01:00", "04:00")], &[]);
        assert!(!is_open(&night, JERUSALEM, utc("2024-03-28 22:59")));
        assert!(is_open(&night, JERUSALEM, utc("2024-03-28 23:00")));
        assert!(is_open(&night, JERUSALEM, utc("2024-03-29 00:59")));
        assert!(!is_open(&night, JERUSALEM, utc("2024-03-29 01:00")));
    }

    #[test]
    fn dst_fall_back_in_jerusalem() {
        // Sunday 2024-10-27: clocks go from 02:00 (UTC+3) back to 01:00 (UTC+2).
        assert_eq!(
            utc("2024-10-26 23:00")
                .with_timezone(&JERUSALEM)
                .to_rfc3339(),
            "2024-10-27T01:00:00+02:00"
        );
        let s = schedule(vec![hours(Weekday::Sun, "08:00", "17:00")], &[]);
        // After the change 08:00 local is 06:00 UTC (it was 05:00 the Sunday before).
        assert!(!is_open(&s, JERUSALEM, utc("2024-10-27 05:59")));
        assert!(is_open(&s, JERUSALEM, utc("2024-10-27 06:00")));
        assert!(is_open(&s, JERUSALEM, utc("2024-10-20 05:00")));
        assert!(!is_open(&s, JERUSALEM, utc("2024-10-27 15:00")));
        assert!(is_open(&s, JERUSALEM, utc("2024-10-27 14:59")));
        // The repeated hour 01:00-02:00 happens twice: an interval covering it is open both times.
        let repeated = schedule(vec![hours(Weekday::Sun, "01:00", "02:00")], &[]);
        assert!(is_open(&repeated, JERUSALEM, utc("2024-10-26 22:30")));
        assert!(is_open(&repeated, JERUSALEM, utc("2024-10-26 23:30")));
        assert!(!is_open(&repeated, JERUSALEM, utc("2024-10-27 00:00")));
        assert!(!is_open(&repeated, JERUSALEM, utc("2024-10-26 21:59")));
    }

    #[test]
    fn holiday_across_dst_day() {
        let s = schedule(vec![], &["2024-10-27"]);
        // The local day 2024-10-27 lasts 25 hours: 21:00 UTC on the 26th to 22:00 UTC on the 27th.
        assert!(!is_holiday(&s, JERUSALEM, utc("2024-10-26 20:59")));
        assert!(is_holiday(&s, JERUSALEM, utc("2024-10-26 21:00")));
        assert!(is_holiday(&s, JERUSALEM, utc("2024-10-27 21:59")));
        assert!(!is_holiday(&s, JERUSALEM, utc("2024-10-27 22:00")));
    }
}
