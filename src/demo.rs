//! `serve --demo`: a demo tenant owning DID 0730000000 with a small but real
//! flow, published as version 1. Seeding is idempotent: once the demo has a
//! published version, its flow is left as its editors made it.
//!
//! One tree serves Hebrew and English callers: every prompt is given per
//! language, and pressing 3 switches the call to English.
//!
//! ```text
//! entry (rules) ── holiday ──────────────► closed (HANGUP)
//!               ── open ─────────────────► main (MENU)
//!               ── otherwise ────────────► closed
//!   office hours: Sun–Thu 08:00–20:00, Fri 08:00–13:00; the `israel`
//!   calendar: closed on rest days, 08:00–13:00 on their eves
//! main: 1 ► sales (CALL 0501234567, failover ► sales_busy)
//!       2 ► hours (ANNOUNCEMENT of the opening hours, then ► main)
//!       3 ► main, in English (0 ► main, in Hebrew)
//!       4 ► say_number (SAYDIGITS the caller's number, any key ► main)
//!       9 ► voicemail (SILENTRECORD)
//!       silence / invalid: replayed twice, then the flow's goodbye
//! ```

use anyhow::{Result, anyhow};
use chrono::{NaiveTime, Weekday};
use sqlx::PgPool;

use crate::flow::model::*;
use crate::storage::{flows, tenants};

use crate::voicenter::types::Language;

pub const DEMO_TENANT: &str = "Demo";
pub const DEMO_DID: &str = "0730000000";
pub const DEMO_SALES_NUMBER: &str = "0501234567";

/// The demo tenant admin's login (a demo: the password is public).
pub const DEMO_ADMIN_EMAIL: &str = "demo-admin@ivrhub.local";
pub const DEMO_ADMIN_PASSWORD: &str = "demo-password";

/// Creates the demo tenant's admin unless the account exists (its password
/// is then left as it is).
pub async fn seed_admin(pool: &PgPool, tenant_id: i64) -> Result<()> {
    if crate::storage::accounts::user_by_email(pool, DEMO_ADMIN_EMAIL)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let hash = crate::auth::password::hash(DEMO_ADMIN_PASSWORD.into()).await?;
    let user = crate::storage::accounts::NewUser {
        tenant_id: Some(tenant_id),
        email: DEMO_ADMIN_EMAIL,
        name: "Demo admin",
        role: crate::auth::Role::TenantAdmin.as_str(),
        password_hash: &hash,
    };
    crate::storage::accounts::insert_user(&mut *pool.acquire().await?, &user).await?;
    Ok(())
}

/// Seeds the demo tenant; returns its id.
pub async fn seed(pool: &PgPool) -> Result<i64> {
    let tenant_id = tenants::ensure_tenant(
        pool,
        &tenants::NewTenant {
            name: DEMO_TENANT,
            time_zone: "Asia/Jerusalem",
            language: Language::He,
        },
    )
    .await?;
    let recordings: Vec<(&str, &str, Option<Language>)> = RECORDINGS
        .iter()
        .map(|(name, language, text)| (*name, *text, Some(*language)))
        .collect();
    flows::ensure_recordings(pool, tenant_id, &recordings).await?;
    // Once: afterwards the demo flow is the tenant's to edit and publish
    // (re-seeding would overwrite its draft and publish it unreviewed).
    if crate::storage::versions::live(pool, tenant_id)
        .await?
        .is_some()
    {
        return Ok(tenant_id);
    }
    let entry = EntryPoint {
        did: DEMO_DID.to_owned(),
        entry_node: Some("entry".to_owned()),
        language: Some(Language::He),
    };
    crate::flow_service::seed(
        pool,
        tenant_id,
        &nodes(),
        &[schedule()],
        &[entry],
        Some(&goodbye()),
        "the demo flow",
    )
    .await
    .map_err(|error| anyhow!("seeding the demo flow: {error}"))?;
    let mut conn = pool.acquire().await?;
    for test in tests() {
        let name = test["name"].as_str().unwrap_or_default().to_owned();
        crate::storage::flow_tests::put(&mut conn, tenant_id, &name, &test).await?;
    }
    Ok(tenant_id)
}

/// The demo's flow tests: what its callers must hear.
pub fn tests() -> Vec<serde_json::Value> {
    let weekday = "2026-12-01T10:00:00+02:00";
    vec![
        serde_json::json!({"name": "weekday_main_menu",
            "description": "On a weekday, callers hear the main menu",
            "did": DEMO_DID, "caller_id": "0541234567", "at": weekday, "inputs": [],
            "expect": {"path": ["main"], "action": "MENU", "fields": {"REC": "main_menu_he"}}}),
        serde_json::json!({"name": "english_hours",
            "description": "3 then 2: the opening hours in English, then the menu in English",
            "did": DEMO_DID, "caller_id": "0541234567", "at": weekday, "inputs": ["3", "2"],
            "expect": {"path": ["main", "main", "hours", "main"], "action": "MENU", "fields": {"REC": "main_menu_en"}}}),
        serde_json::json!({"name": "one_reaches_sales",
            "description": "Pressing 1 connects to sales",
            "did": DEMO_DID, "caller_id": "0541234567", "at": weekday, "inputs": ["1"],
            "expect": {"path": ["main", "sales"], "action": "CALL", "fields": {"TARGET": DEMO_SALES_NUMBER}}}),
        serde_json::json!({"name": "busy_sales_takes_a_message",
            "description": "When sales does not answer, 1 leaves a message",
            "did": DEMO_DID, "caller_id": "0541234567", "at": weekday, "inputs": ["1", "no_answer", "1"],
            "expect": {"path": ["main", "sales", "voicemail"], "ended": "recording"}}),
        serde_json::json!({"name": "short_on_erev_pesach",
            "description": "On erev Pesach the office closes at 13:00",
            "did": DEMO_DID, "caller_id": "0541234567", "at": "2027-04-21T14:00:00+03:00", "inputs": [],
            "expect": {"path": ["closed"], "ended": "hung_up"}}),
        serde_json::json!({"name": "closed_on_yom_kippur",
            "description": "On a holiday the line is closed",
            "did": DEMO_DID, "caller_id": "0541234567", "at": "2026-09-21T10:00:00+03:00", "inputs": [],
            "expect": {"path": ["closed"], "ended": "hung_up", "fields": {"HANGUP_CAUSE": 16}}}),
    ]
}

/// The demo's recordings: (name, its language, what it says).
pub(crate) const RECORDINGS: [(&str, Language, &str); 19] = [
    (
        "main_menu_he",
        Language::He,
        "Welcome: 1 sales, 2 opening hours, 3 English, 4 your number, 9 voicemail",
    ),
    (
        "main_menu_en",
        Language::En,
        "Welcome: 1 sales, 2 opening hours, 4 your number, 9 voicemail, 0 Hebrew",
    ),
    (
        "invalid_choice_he",
        Language::He,
        "Sorry, that is not an option; the menu again",
    ),
    (
        "invalid_choice_en",
        Language::En,
        "Sorry, that is not an option; the menu again",
    ),
    ("now_calling_he", Language::He, "Connecting you to sales"),
    ("now_calling_en", Language::En, "Connecting you to sales"),
    (
        "sales_busy_he",
        Language::He,
        "Sales is busy: 1 leave a message, 2 main menu",
    ),
    (
        "sales_busy_en",
        Language::En,
        "Sales is busy: 1 leave a message, 2 main menu",
    ),
    (
        "hours_he",
        Language::He,
        "We are open every day; back to the menu",
    ),
    (
        "hours_en",
        Language::En,
        "We are open every day; back to the menu",
    ),
    ("your_number_is_he", Language::He, "Your number is"),
    ("your_number_is_en", Language::En, "Your number is"),
    (
        "press_any_key_he",
        Language::He,
        "Press any key for the main menu",
    ),
    (
        "press_any_key_en",
        Language::En,
        "Press any key for the main menu",
    ),
    (
        "leave_message_he",
        Language::He,
        "Leave a message after the tone",
    ),
    (
        "leave_message_en",
        Language::En,
        "Leave a message after the tone",
    ),
    ("goodbye_he", Language::He, "Thank you for calling, goodbye"),
    ("goodbye_en", Language::En, "Thank you for calling, goodbye"),
    ("closed", Language::He, "We are closed today"),
];

/// A prompt in both languages: `<name>_he`, `<name>_en`.
fn both(name: &str) -> Rec {
    Rec::PerLanguage {
        by_language: [
            (Language::He, format!("{name}_he")),
            (Language::En, format!("{name}_en")),
        ]
        .into(),
        default: None,
    }
}

/// The flow's goodbye: its own hang-ups say it, in the caller's language.
pub(crate) fn goodbye() -> Rec {
    both("goodbye")
}

pub(crate) fn schedule() -> Schedule {
    let time = |text: &str| NaiveTime::parse_from_str(text, "%H:%M").expect("a literal time");
    let range = |day, opens: &str, closes: &str| OpeningHours {
        day,
        opens: time(opens),
        closes: time(closes),
    };
    // The Israeli week: Sunday to Thursday, Friday morning.
    let mut hours: Vec<OpeningHours> = [
        Weekday::Sun,
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
    ]
    .into_iter()
    .map(|day| range(day, "08:00", "20:00"))
    .collect();
    hours.push(range(Weekday::Fri, "08:00", "13:00"));
    Schedule {
        key: "office".into(),
        name: "Office hours".into(),
        hours,
        holidays: Vec::new(),
        // Closed on Israeli rest days, short on their eves: computed, not typed in.
        calendar: Some(ScheduleCalendar {
            name: crate::flow::calendar::CalendarName::Israel,
            rest_days: DayRule::Closed,
            eves: DayRule::Hours(vec![DayHours {
                opens: time("08:00"),
                closes: time("13:00"),
            }]),
            other_days: DayRule::Usual,
            exceptions: Default::default(),
        }),
    }
}

fn prompt(rec: Rec, loops: i64) -> Prompt {
    Prompt {
        rec,
        loops,
        delay: 1,
    }
}

fn route(digits: &str, target: &str, set_language: Option<Language>) -> DtmfRoute {
    DtmfRoute {
        digits: digits.into(),
        target: target.into(),
        set_language,
    }
}

/// A menu in both languages; retries used up: the flow's goodbye.
fn menu(rec: &str, routes: Vec<DtmfRoute>, on_timeout: Option<&str>, max_retries: u32) -> Menu {
    Menu {
        prompt: prompt(both(rec), 2),
        max_digits: 1,
        validation: false,
        routes,
        on_timeout: on_timeout.map(Into::into),
        on_invalid: None,
        retry_rec: Some(both("invalid_choice")),
        max_retries,
        on_exhausted: None,
    }
}

fn node(key: &str, kind: NodeKind) -> Node {
    Node {
        key: key.into(),
        language: None,
        kind,
    }
}

pub(crate) fn nodes() -> Vec<Node> {
    vec![
        node(
            "entry",
            NodeKind::Rules(Rules {
                rules: vec![
                    Rule {
                        when: Condition::Holiday {
                            schedule: "office".into(),
                        },
                        target: "closed".into(),
                    },
                    Rule {
                        when: Condition::Open {
                            schedule: "office".into(),
                        },
                        target: "main".into(),
                    },
                ],
                default: "closed".into(),
            }),
        ),
        node(
            "closed",
            NodeKind::Hangup(Hangup {
                rec: Some("closed".into()),
                cause: Some(16),
            }),
        ),
        node(
            "main",
            NodeKind::Menu(menu(
                "main_menu",
                vec![
                    route("1", "sales", None),
                    route("2", "hours", None),
                    route("3", "main", Some(Language::En)),
                    route("4", "say_number", None),
                    route("9", "voicemail", None),
                    route("0", "main", Some(Language::He)),
                ],
                None,
                2,
            )),
        ),
        node(
            "hours",
            NodeKind::Announcement(Announcement {
                prompt: prompt(both("hours"), 1),
                next: "main".into(),
            }),
        ),
        node(
            "sales",
            NodeKind::Call(Call {
                target: DEMO_SALES_NUMBER.into(),
                caller_id: None,
                caller_name: None,
                caller_rec: Some(both("now_calling")),
                moh_class: Some("hold_music".into()),
                target_rec: None,
                max_dial_secs: 30,
                max_call_secs: 3600,
                record: true,
                dtmf_play: None,
                dialstrings: Vec::new(),
                failover: Some("sales_busy".into()),
            }),
        ),
        node(
            "sales_busy",
            NodeKind::Menu(menu(
                "sales_busy",
                vec![route("1", "voicemail", None), route("2", "main", None)],
                None,
                1,
            )),
        ),
        node(
            "say_number",
            NodeKind::SayDigits(SayDigits {
                digits: DigitsSource::CallerId,
                intro_rec: both("your_number_is"),
                menu: menu("press_any_key", vec![route("_.", "main", None)], None, 0),
            }),
        ),
        node(
            "voicemail",
            NodeKind::SilentRecord(SilentRecord {
                rec: Some(both("leave_message")),
                max_duration_secs: Some(120),
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::validate::{Context, validate};

    #[test]
    fn the_demo_flow_is_valid() {
        let flow = Flow {
            version: None,
            time_zone: chrono_tz::Asia::Jerusalem,
            language: Language::He,
            nodes: nodes().into_iter().map(|n| (n.key.clone(), n)).collect(),
            schedules: [("office".to_string(), schedule())].into_iter().collect(),
            goodbye: Some(goodbye()),
        };
        let recordings: crate::flow::validate::Catalogue = RECORDINGS
            .iter()
            .map(|(name, language, _)| ((*name).to_owned(), Some(*language)))
            .collect();
        let entries = [EntryPoint {
            language: Some(Language::He),
            ..EntryPoint::at(DEMO_DID, "entry")
        }];
        let context = Context {
            entries: &entries,
            recordings: Some(&recordings),
            today: None,
        };
        let issues = validate(&flow, &context);
        // Not even a warning: `closed` (in Hebrew only) is reached before
        // a caller can choose English.
        assert!(issues.is_empty(), "{issues:#?}");
    }
}
