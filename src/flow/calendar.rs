//! Built-in holiday calendars: today one, `israel`.
//!
//! The Israeli public holidays as Israel keeps them (one day of Yom Tov, not
//! the diaspora's two; Rosh Hashana both days), each with its Hebrew and
//! English name and its [`DayKind`]:
//!
//! * **rest** days: Rosh Hashana 1–2, Yom Kippur, Sukkot, Shemini Atzeret /
//!   Simchat Torah, Pesach, the seventh day of Pesach, Shavuot, Yom HaAtzmaut;
//! * **eves**: the day before a rest day that has one — erev Rosh Hashana,
//!   erev Yom Kippur, erev Sukkot, Hoshana Rabba (erev Shemini Atzeret), erev
//!   Pesach, erev the seventh day of Pesach (the last day of Chol HaMoed),
//!   erev Shavuot;
//! * **other** days a business may treat specially: Chol HaMoed (Sukkot and
//!   Pesach), Chanukah, the fast days, Purim, Shushan Purim, Yom HaShoah,
//!   Yom HaZikaron, Lag BaOmer, Yom Yerushalayim, Tisha B'Av.
//!
//! Hebrew dates come from `icu_calendar` (Unicode-3.0 licence); only the
//! rules below are ours:
//!
//! * a fast day that falls on Shabbat is kept on Sunday (17 Tammuz, 9 Av,
//!   the fast of Gedaliah), the fast of Esther on the Thursday before;
//! * Yom HaShoah (27 Nisan) moves to Thursday from a Friday and to Monday
//!   from a Sunday;
//! * Yom HaAtzmaut (5 Iyar) moves to Thursday from a Friday or a Shabbat
//!   (4 or 3 Iyar), and to Tuesday from a Monday (since 2004); Yom HaZikaron
//!   is always the day before it.
//!
//! One date has at most one holiday here. The days are computed once for
//! 2000–2100 ([`FIRST_YEAR`]..=[`LAST_YEAR`]) and looked up: pure, no IO.
//! `tests/fixtures/israel_holidays.json` (made by an independent program,
//! see `tests/fixtures/make_israel_holidays.py`) checks every one of them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use icu_calendar::Date;
use icu_calendar::types::Month;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The first and last Gregorian years the calendars cover.
pub const FIRST_YEAR: i32 = 2000;
pub const LAST_YEAR: i32 = 2100;

/// A built-in calendar a schedule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CalendarName {
    /// The Israeli public holidays.
    Israel,
}

impl CalendarName {
    pub fn as_str(self) -> &'static str {
        match self {
            CalendarName::Israel => "israel",
        }
    }

    pub fn parse(text: &str) -> Option<CalendarName> {
        match text {
            "israel" => Some(CalendarName::Israel),
            _ => None,
        }
    }

    /// The calendar's day on `date`, if it is one of its days.
    pub fn day(self, date: NaiveDate) -> Option<Occasion> {
        match self {
            CalendarName::Israel => israel().get(&date).copied(),
        }
    }

    /// The calendar's days from `from` to `to` (exclusive), in order.
    pub fn days(self, from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, Occasion)> {
        match self {
            CalendarName::Israel => israel()
                .range(from..to)
                .map(|(date, holiday)| (*date, *holiday))
                .collect(),
        }
    }
}

/// What a calendar day is to a business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A day of rest: offices close (by default, a schedule naming the
    /// calendar is closed all day).
    Rest,
    /// The day before a rest day: offices often close early.
    Eve,
    /// A day some businesses treat specially (a memorial day, a fast, Chol
    /// HaMoed…): business as usual unless the schedule says otherwise.
    Other,
}

macro_rules! holidays {
    ($($variant:ident $key:literal $kind:ident $he:literal $en:literal;)*) => {
        /// A day of the `israel` calendar.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
        pub enum Occasion {
            $(#[serde(rename = $key)] $variant,)*
        }

        impl Occasion {
            pub const ALL: &'static [Occasion] = &[$(Occasion::$variant),*];

            /// Its key, as schedules and the API write it (`yom_kippur`).
            pub fn key(self) -> &'static str {
                match self { $(Occasion::$variant => $key,)* }
            }

            pub fn kind(self) -> DayKind {
                match self { $(Occasion::$variant => DayKind::$kind,)* }
            }

            pub fn name_he(self) -> &'static str {
                match self { $(Occasion::$variant => $he,)* }
            }

            pub fn name_en(self) -> &'static str {
                match self { $(Occasion::$variant => $en,)* }
            }
        }
    };
}

holidays! {
    ErevRoshHashana "erev_rosh_hashana" Eve "ערב ראש השנה" "Erev Rosh Hashana";
    RoshHashana1 "rosh_hashana_1" Rest "ראש השנה א׳" "Rosh Hashana (day 1)";
    RoshHashana2 "rosh_hashana_2" Rest "ראש השנה ב׳" "Rosh Hashana (day 2)";
    TzomGedaliah "tzom_gedaliah" Other "צום גדליה" "Fast of Gedaliah";
    ErevYomKippur "erev_yom_kippur" Eve "ערב יום כיפור" "Erev Yom Kippur";
    YomKippur "yom_kippur" Rest "יום כיפור" "Yom Kippur";
    ErevSukkot "erev_sukkot" Eve "ערב סוכות" "Erev Sukkot";
    Sukkot "sukkot" Rest "סוכות" "Sukkot";
    CholHamoedSukkot "chol_hamoed_sukkot" Other "חול המועד סוכות" "Chol HaMoed Sukkot";
    HoshanaRabba "hoshana_rabba" Eve "הושענא רבה" "Hoshana Rabba (Erev Simchat Torah)";
    SheminiAtzeret "shemini_atzeret" Rest "שמיני עצרת / שמחת תורה" "Shemini Atzeret / Simchat Torah";
    Chanukah "chanukah" Other "חנוכה" "Chanukah";
    AsaraBTevet "asara_btevet" Other "עשרה בטבת" "Fast of the Tenth of Tevet";
    TaanitEsther "taanit_esther" Other "תענית אסתר" "Fast of Esther";
    Purim "purim" Other "פורים" "Purim";
    ShushanPurim "shushan_purim" Other "שושן פורים" "Shushan Purim";
    ErevPesach "erev_pesach" Eve "ערב פסח" "Erev Pesach";
    Pesach "pesach" Rest "פסח" "Pesach";
    CholHamoedPesach "chol_hamoed_pesach" Other "חול המועד פסח" "Chol HaMoed Pesach";
    ErevPesach7 "erev_pesach_7" Eve "ערב שביעי של פסח" "Erev the seventh day of Pesach";
    Pesach7 "pesach_7" Rest "שביעי של פסח" "Seventh day of Pesach";
    YomHashoah "yom_hashoah" Other "יום השואה" "Yom HaShoah";
    YomHazikaron "yom_hazikaron" Other "יום הזיכרון" "Yom HaZikaron";
    YomHaatzmaut "yom_haatzmaut" Rest "יום העצמאות" "Yom HaAtzmaut";
    LagBaomer "lag_baomer" Other "ל״ג בעומר" "Lag BaOmer";
    YomYerushalayim "yom_yerushalayim" Other "יום ירושלים" "Yom Yerushalayim";
    ErevShavuot "erev_shavuot" Eve "ערב שבועות" "Erev Shavuot";
    Shavuot "shavuot" Rest "שבועות" "Shavuot";
    TzomTammuz "tzom_tammuz" Other "י״ז בתמוז" "Fast of the Seventeenth of Tammuz";
    TishaBav "tisha_bav" Other "תשעה באב" "Tisha B'Av";
}

impl Occasion {
    pub fn parse(key: &str) -> Option<Occasion> {
        Occasion::ALL.iter().copied().find(|h| h.key() == key)
    }
}

impl<'de> Deserialize<'de> for Occasion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Occasion, D::Error> {
        let key = String::deserialize(deserializer)?;
        Occasion::parse(&key).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown day {key:?} of the calendar: GET /api/v1/calendars/israel lists them (yom_kippur, erev_pesach, purim…)"
            ))
        })
    }
}

/// Hebrew months by their number in the civil year (Tishrei is 1; Adar is 6,
/// Adar II in a leap year, whose Adar I is the leap month 5).
mod month {
    pub const TISHREI: u8 = 1;
    pub const KISLEV: u8 = 3;
    pub const TEVET: u8 = 4;
    pub const ADAR: u8 = 6;
    pub const NISAN: u8 = 7;
    pub const IYAR: u8 = 8;
    pub const SIVAN: u8 = 9;
    pub const TAMMUZ: u8 = 10;
    pub const AV: u8 = 11;
    pub const ELUL: u8 = 12;
}

/// The Gregorian date of `day` `month` of Hebrew year `year`.
fn hebrew(year: i32, month: u8, day: u8) -> NaiveDate {
    let iso = Date::try_new_hebrew_v2(year, Month::new(month), day)
        .map(|date| date.to_calendar(icu_calendar::Iso))
        .unwrap_or_else(|error| panic!("{day}/{month}/{year} is a Hebrew date: {error:?}"));
    NaiveDate::from_ymd_opt(
        iso.year().extended_year(),
        u32::from(iso.month().ordinal),
        u32::from(iso.day_of_month().0),
    )
    .expect("an ISO date is a valid date")
}

/// The Hebrew year a Gregorian date is in.
fn hebrew_year(date: NaiveDate) -> i32 {
    let month = u8::try_from(date.month()).unwrap_or(1);
    let day = u8::try_from(date.day()).unwrap_or(1);
    Date::try_new_iso(date.year(), month, day)
        .map(|iso| {
            iso.to_calendar(icu_calendar::cal::Hebrew)
                .year()
                .extended_year()
        })
        .unwrap_or_default()
}

fn plus(date: NaiveDate, days: u64) -> NaiveDate {
    date + Days::new(days)
}

fn minus(date: NaiveDate, days: u64) -> NaiveDate {
    date - Days::new(days)
}

/// The days of Hebrew year `year` (Tishrei to Elul).
fn israel_year(year: i32) -> Vec<(NaiveDate, Occasion)> {
    use Occasion::*;
    use month::*;
    let mut days = Vec::new();
    let rosh_hashana = hebrew(year, TISHREI, 1);
    days.push((minus(rosh_hashana, 1), ErevRoshHashana));
    days.push((rosh_hashana, RoshHashana1));
    days.push((plus(rosh_hashana, 1), RoshHashana2));
    let gedaliah = hebrew(year, TISHREI, 3);
    days.push((shabbat_to_sunday(gedaliah), TzomGedaliah));
    days.push((hebrew(year, TISHREI, 9), ErevYomKippur));
    days.push((hebrew(year, TISHREI, 10), YomKippur));
    days.push((hebrew(year, TISHREI, 14), ErevSukkot));
    days.push((hebrew(year, TISHREI, 15), Sukkot));
    for day in 16..=20 {
        days.push((hebrew(year, TISHREI, day), CholHamoedSukkot));
    }
    days.push((hebrew(year, TISHREI, 21), HoshanaRabba));
    days.push((hebrew(year, TISHREI, 22), SheminiAtzeret));
    let chanukah = hebrew(year, KISLEV, 25);
    for day in 0..8 {
        days.push((plus(chanukah, day), Chanukah));
    }
    days.push((hebrew(year, TEVET, 10), AsaraBTevet));
    let purim = hebrew(year, ADAR, 14);
    let esther = minus(purim, 1);
    days.push((
        if esther.weekday() == Weekday::Sat {
            minus(esther, 2)
        } else {
            esther
        },
        TaanitEsther,
    ));
    days.push((purim, Purim));
    days.push((plus(purim, 1), ShushanPurim));
    days.push((hebrew(year, NISAN, 14), ErevPesach));
    days.push((hebrew(year, NISAN, 15), Pesach));
    for day in 16..=19 {
        days.push((hebrew(year, NISAN, day), CholHamoedPesach));
    }
    days.push((hebrew(year, NISAN, 20), ErevPesach7));
    days.push((hebrew(year, NISAN, 21), Pesach7));
    let shoah = hebrew(year, NISAN, 27);
    days.push((
        match shoah.weekday() {
            Weekday::Fri => minus(shoah, 1),
            Weekday::Sun => plus(shoah, 1),
            _ => shoah,
        },
        YomHashoah,
    ));
    let five_iyar = hebrew(year, IYAR, 5);
    let atzmaut = match five_iyar.weekday() {
        Weekday::Fri => minus(five_iyar, 1),
        Weekday::Sat => minus(five_iyar, 2),
        // Moved from Monday since 2004 (5764), so that Yom HaZikaron does
        // not begin as Shabbat ends.
        Weekday::Mon if year >= 5764 => plus(five_iyar, 1),
        _ => five_iyar,
    };
    days.push((minus(atzmaut, 1), YomHazikaron));
    days.push((atzmaut, YomHaatzmaut));
    days.push((hebrew(year, IYAR, 18), LagBaomer));
    days.push((hebrew(year, IYAR, 28), YomYerushalayim));
    days.push((hebrew(year, SIVAN, 5), ErevShavuot));
    days.push((hebrew(year, SIVAN, 6), Shavuot));
    days.push((shabbat_to_sunday(hebrew(year, TAMMUZ, 17)), TzomTammuz));
    days.push((shabbat_to_sunday(hebrew(year, AV, 9)), TishaBav));
    // Elul has no day of its own here; erev Rosh Hashana is next year's.
    let _ = ELUL;
    days
}

fn shabbat_to_sunday(date: NaiveDate) -> NaiveDate {
    if date.weekday() == Weekday::Sat {
        plus(date, 1)
    } else {
        date
    }
}

/// Every day of the `israel` calendar from [`FIRST_YEAR`] to [`LAST_YEAR`].
fn israel() -> &'static BTreeMap<NaiveDate, Occasion> {
    static DAYS: OnceLock<BTreeMap<NaiveDate, Occasion>> = OnceLock::new();
    DAYS.get_or_init(|| {
        let first = NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1).unwrap_or_default();
        let last = NaiveDate::from_ymd_opt(LAST_YEAR, 12, 31).unwrap_or_default();
        let mut days = BTreeMap::new();
        for year in hebrew_year(first)..=hebrew_year(last) + 1 {
            for (date, holiday) in israel_year(year) {
                if (first..=last).contains(&date) {
                    let previous = days.insert(date, holiday);
                    debug_assert!(previous.is_none(), "{date}: {previous:?} and {holiday:?}");
                }
            }
        }
        days
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn known_days_of_5786_and_5787() {
        let israel = CalendarName::Israel;
        for (day, holiday) in [
            ("2026-04-01", Occasion::ErevPesach),
            ("2026-04-02", Occasion::Pesach),
            ("2026-04-08", Occasion::Pesach7),
            ("2026-04-14", Occasion::YomHashoah),
            ("2026-04-21", Occasion::YomHazikaron),
            ("2026-04-22", Occasion::YomHaatzmaut),
            ("2026-05-22", Occasion::Shavuot),
            ("2026-09-12", Occasion::RoshHashana1),
            ("2026-09-13", Occasion::RoshHashana2),
            ("2026-09-21", Occasion::YomKippur),
            ("2026-10-03", Occasion::SheminiAtzeret),
        ] {
            assert_eq!(israel.day(date(day)), Some(holiday), "{day}");
        }
        assert_eq!(israel.day(date("2026-04-23")), None);
        // 2024: 5 Iyar was a Monday: Yom HaAtzmaut moved to Tuesday.
        assert_eq!(israel.day(date("2024-05-13")), Some(Occasion::YomHazikaron));
        assert_eq!(israel.day(date("2024-05-14")), Some(Occasion::YomHaatzmaut));
        // 2022: 5 Iyar was a Friday: moved to Thursday 4 Iyar.
        assert_eq!(israel.day(date("2022-05-05")), Some(Occasion::YomHaatzmaut));
        assert_eq!(israel.day(date("2022-05-06")), None);
    }

    #[test]
    fn keys_parse_back_and_every_kind_is_used() {
        for holiday in Occasion::ALL {
            assert_eq!(Occasion::parse(holiday.key()), Some(*holiday));
            let json = serde_json::to_value(holiday).unwrap();
            assert_eq!(json, holiday.key());
        }
        let days = CalendarName::Israel.days(date("2026-01-01"), date("2027-01-01"));
        for kind in [DayKind::Rest, DayKind::Eve, DayKind::Other] {
            assert!(days.iter().any(|(_, h)| h.kind() == kind), "{kind:?}");
        }
        // Every rest day but Yom HaAtzmaut has its eve the day before.
        for (day, holiday) in &days {
            if holiday.kind() == DayKind::Rest
                && !matches!(holiday, Occasion::YomHaatzmaut | Occasion::RoshHashana2)
            {
                let eve = CalendarName::Israel.day(*day - Days::new(1));
                assert_eq!(
                    eve.map(Occasion::kind),
                    Some(DayKind::Eve),
                    "{day} {holiday:?}"
                );
            }
        }
    }

    /// Every day from 2000 to 2100, both ways, against the days an
    /// independent implementation computed (`tests/fixtures`).
    #[test]
    fn every_day_equals_the_independent_reference() {
        #[derive(Deserialize)]
        struct Fixture {
            days: Vec<(NaiveDate, String)>,
        }
        let text = include_str!("../../tests/fixtures/israel_holidays.json");
        let fixture: Fixture = serde_json::from_str(text).expect("the fixture parses");
        assert!(fixture.days.len() > 4000, "{}", fixture.days.len());
        let expected: BTreeMap<NaiveDate, &str> = fixture
            .days
            .iter()
            .map(|(date, key)| (*date, key.as_str()))
            .collect();
        let ours: BTreeMap<NaiveDate, &str> = israel()
            .iter()
            .map(|(date, holiday)| (*date, holiday.key()))
            .collect();
        let differences: Vec<String> = expected
            .keys()
            .chain(ours.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter(|date| expected.get(date) != ours.get(date))
            .map(|date| {
                format!(
                    "{date}: reference {:?}, ours {:?}",
                    expected.get(date),
                    ours.get(date)
                )
            })
            .collect();
        assert!(
            differences.is_empty(),
            "{} differences: {differences:#?}",
            differences.len()
        );
    }

    #[test]
    fn the_whole_range_is_covered_and_nothing_outside() {
        let all = CalendarName::Israel.days(date("1900-01-01"), date("2200-01-01"));
        assert_eq!(all.first().map(|d| d.0.year()), Some(FIRST_YEAR));
        assert_eq!(all.last().map(|d| d.0.year()), Some(LAST_YEAR));
        let yom_kippurs = all.iter().filter(|d| d.1 == Occasion::YomKippur).count();
        assert_eq!(yom_kippurs, 101);
    }
}
