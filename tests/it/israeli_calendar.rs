//! The Israeli calendar in schedules (issue 11): holidays and eves computed,
//! heard through the real webhook at an injected instant and through the
//! simulator; the calendar listed; bad calendars refused with nothing stored.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use ivrhub::clock::Clock;
use ivrhub::config::ServeSettings;
use ivrhub::voicenter::types::{Action, Encoding, IvrAnswer};

use crate::api_client::{get, platform_admin, post, put, tenant_with_admin};
use crate::api_flows::assert_detail;
use crate::harness::TestApp;
use crate::voicenter_client::{Call, DEMO_DID};

fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// What a caller hears first: the main menu's recording, or the hang-up's.
fn heard(answer: &IvrAnswer) -> String {
    match &answer.action {
        Action::Menu(menu) => menu.rec.clone(),
        Action::Hangup(hangup) => format!("HANGUP {}", hangup.rec.as_deref().unwrap_or("-")),
        other => format!("{other:?}"),
    }
}

/// (instant, what the demo's callers hear, why) — Israeli week with the
/// `israel` calendar: rest days closed, eves 08:00–13:00.
const DAYS: [(&str, &str, &str); 8] = [
    ("2026-09-21T10:00:00+03:00", "HANGUP closed", "Yom Kippur"),
    (
        "2027-04-21T12:00:00+03:00",
        "main_menu_he",
        "erev Pesach, before 13:00",
    ),
    (
        "2027-04-21T14:00:00+03:00",
        "HANGUP closed",
        "erev Pesach, after 13:00",
    ),
    (
        "2027-04-20T14:00:00+03:00",
        "main_menu_he",
        "the Tuesday before erev Pesach",
    ),
    (
        "2024-05-14T10:00:00+03:00",
        "HANGUP closed",
        "Yom HaAtzmaut, moved from Monday",
    ),
    (
        "2024-05-13T10:00:00+03:00",
        "main_menu_he",
        "5 Iyar 5784: Yom HaZikaron, open",
    ),
    (
        "2022-05-05T10:00:00+03:00",
        "HANGUP closed",
        "Yom HaAtzmaut, moved from Friday",
    ),
    (
        "2022-05-06T10:00:00+03:00",
        "main_menu_he",
        "5 Iyar 5782, a Friday morning",
    ),
];

#[tokio::test]
async fn holidays_and_eves_are_heard_through_the_webhook_and_the_simulator() {
    let clock = Clock::fixed(ivrhub::config::test_instant());
    let app = TestApp::spawn_with(ServeSettings {
        clock: clock.clone(),
        ..ServeSettings::for_tests()
    })
    .await;
    app.with_demo().await;
    let admin = crate::simulate::demo_admin(&app).await;
    for (index, (at, expected, why)) in DAYS.iter().enumerate() {
        // The real webhook, its clock set to the instant.
        assert!(clock.set(instant(at)));
        let call = Call::new(&app, Encoding::XmlRpc, &format!("calendar-{index:027}"));
        let answer = call.step("-1", "").await;
        assert_eq!(heard(&answer), *expected, "{why} ({at}) on the webhook");
        // The simulator, at the same instant.
        let (status, transcript) = post(
            &app,
            &admin,
            "/api/v1/flow/simulate",
            json!({"did": DEMO_DID, "at": at, "flow": "live"}),
        )
        .await;
        assert_eq!(status, 200, "{transcript}");
        let answer: Value =
            serde_json::from_str(transcript["steps"][0]["answer"].as_str().unwrap()).unwrap();
        let simulated = match answer["ACTION"].as_str() {
            Some("MENU") => answer["DATA"]["REC"].as_str().unwrap().to_owned(),
            _ => format!("HANGUP {}", answer["DATA"]["HANGUP_REC"].as_str().unwrap()),
        };
        assert_eq!(simulated, *expected, "{why} ({at}) simulated");
    }
    // The simulator's and the check's default instant is the clock's.
    clock.set(instant("2026-09-21T10:00:00+03:00"));
    let (_, check) = get(&app, &admin, "/api/v1/schedules/office/check").await;
    assert_eq!(check["open"], false, "{check}");
    assert_eq!(
        check["why"],
        "closed: Yom Kippur (rest day of the israel calendar)"
    );
    assert_eq!(check["calendar_day"]["key"], "yom_kippur");
    assert_eq!(check["calendar_day"]["name_he"], "יום כיפור");
    let (_, eve) = get(
        &app,
        &admin,
        "/api/v1/schedules/office/check?at=2027-04-21T14:00:00%2B03:00",
    )
    .await;
    assert_eq!(
        eve["why"],
        "closed: Erev Pesach (eve of the israel calendar), open only 08:00–13:00"
    );
}

#[tokio::test]
async fn the_calendar_is_listed_and_bad_calendars_are_refused_with_nothing_stored() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (_, admin) = tenant_with_admin(&app, &platform, "Calendar").await;

    // The days, for any signed-in user.
    let (status, listed) = get(
        &app,
        &admin,
        "/api/v1/calendars/israel?from=2026-09-10&to=2026-09-23",
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    let days: Vec<(&str, &str, &str)> = listed["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap(),
                d["key"].as_str().unwrap(),
                d["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2026-09-11", "erev_rosh_hashana", "eve"),
            ("2026-09-12", "rosh_hashana_1", "rest"),
            ("2026-09-13", "rosh_hashana_2", "rest"),
            ("2026-09-14", "tzom_gedaliah", "other"),
            ("2026-09-20", "erev_yom_kippur", "eve"),
            ("2026-09-21", "yom_kippur", "rest"),
        ]
    );
    assert_eq!(listed["days"][5]["name_en"], "Yom Kippur");
    let (status, platform_view) = get(&app, &platform, "/api/v1/calendars/israel").await;
    assert_eq!(status, 200, "{platform_view}");
    for (path, expected) in [
        ("/api/v1/calendars/mars", 404),
        ("/api/v1/calendars/israel?from=2026-13-01", 400),
        (
            "/api/v1/calendars/israel?from=2026-10-01&to=2026-09-01",
            422,
        ),
        (
            "/api/v1/calendars/israel?from=2026-01-01&to=2040-01-01",
            422,
        ),
        (
            "/api/v1/calendars/israel?from=1990-01-01&to=1991-01-01",
            422,
        ),
        ("/api/v1/calendars/israel?colour=red", 400),
    ] {
        let (status, body) = get(&app, &admin, path).await;
        assert_eq!(status, expected, "{path}: {body}");
    }
    let unauthenticated = app
        .http
        .get(format!("{}/api/v1/calendars/israel", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    // "Closed on Israeli holidays, short on eves", in one request.
    let office = json!({"key": "office", "name": "Office",
        "hours": [{"day": "Sun", "opens": "08:00", "closes": "17:00"},
                  {"day": "Fri", "opens": "08:00", "closes": "12:00"}],
        "calendar": {"name": "israel", "eves": {"hours": [{"opens": "08:00", "closes": "13:00"}]},
                     "exceptions": {"yom_hazikaron": "closed"}}});
    let mut refused: Vec<(Value, &str, &str)> = Vec::new();
    let mut bad = office.clone();
    bad["calendar"]["name"] = json!("mars");
    refused.push((bad, "calendar.name", "unknown variant `mars`"));
    let mut bad = office.clone();
    bad["calendar"]["eves"] = json!({"hours": [{"opens": "13:00", "closes": "08:00"}]});
    refused.push((
        bad,
        "schedules.office.calendar.eves.hours[0]",
        "closes (08:00) before it opens (13:00)",
    ));
    let mut bad = office.clone();
    bad["calendar"]["exceptions"] = json!({"christmas": "closed"});
    refused.push((
        bad,
        "calendar.exceptions.christmas",
        "unknown day \"christmas\" of the calendar: GET /api/v1/calendars/israel lists them",
    ));
    let mut bad = office.clone();
    bad["calendar"]["rest_days"] = json!({"hours": []});
    refused.push((bad, "schedules.office.calendar.rest_days.hours", "no range"));
    let mut bad = office.clone();
    bad["calendar"]["eves"] = json!("sometimes");
    refused.push((bad, "calendar.eves", "unknown variant `sometimes`"));
    for (schedule, path, message) in refused {
        let (status, body) = post(&app, &admin, "/api/v1/schedules", schedule.clone()).await;
        assert_eq!(status, 422, "{schedule}: {body}");
        assert_detail(&body, path, message);
    }
    let (_, schedules) = get(&app, &admin, "/api/v1/schedules").await;
    assert_eq!(schedules["items"], json!([]), "nothing stored");

    let (status, body) = post(&app, &admin, "/api/v1/schedules", office.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["issues"], json!([]), "{body}");
    let (_, stored) = get(&app, &admin, "/api/v1/schedules/office").await;
    assert_eq!(
        stored["calendar"]["rest_days"], "closed",
        "the default, written out"
    );
    assert_eq!(
        stored["calendar"]["exceptions"],
        json!({"yom_hazikaron": "closed"})
    );
    // Without the calendar: written, with a warning that rest days are open.
    let mut plain = office.clone();
    plain.as_object_mut().unwrap().remove("calendar");
    let (status, body) = put(&app, &admin, "/api/v1/schedules/office", plain).await;
    assert_eq!(status, 200, "{body}");
    let warning = &body["issues"][0];
    assert_eq!(warning["severity"], "warning", "{body}");
    assert_eq!(warning["path"], "schedules.office.hours");
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("Israeli rest day"),
        "{warning}"
    );
    // Another tenant sees neither the schedule nor its check.
    let (_, other) = tenant_with_admin(&app, &platform, "Elsewhere").await;
    let (status, _) = get(&app, &other, "/api/v1/schedules/office/check").await;
    assert_eq!(status, 404);
}
