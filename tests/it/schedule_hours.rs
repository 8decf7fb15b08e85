//! Hours that mean what they say: 24:00, overnight ranges, overlaps, clear
//! errors for bad times, and "open or closed at this instant, and why".

use serde_json::{Value, json};

use crate::api_client::{get, platform_admin, post, put, tenant_with_admin};
use crate::api_flows::assert_detail;
use crate::harness::TestApp;

fn hours(ranges: &[(&str, &str, &str)]) -> Value {
    json!(
        ranges
            .iter()
            .map(|(day, opens, closes)| json!({"day": day, "opens": opens, "closes": closes}))
            .collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn hours_are_written_as_people_say_them_and_checked_at_an_instant() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_admin(&app, &platform, "Hours").await;
    // Sun–Thu 11–23 (Thursday until 02:00 Friday), Fri 11–15, Sat until midnight.
    let mut ranges = vec![("Sun", "11:00", "23:00"), ("Mon", "11:00", "23:00")];
    ranges.extend([("Tue", "11:00", "23:00"), ("Wed", "11:00", "23:00")]);
    ranges.extend([("Thu", "11:00", "02:00"), ("Fri", "11:00", "15:00")]);
    ranges.push(("Sat", "20:00", "24:00"));
    let schedule = json!({"key": "shop", "name": "Shop", "hours": hours(&ranges),
        "holidays": [{"date": "2026-12-10", "name": "A day off"}],
        "calendar": {"name": "israel"}});
    let (status, body) = post(&app, &admin, "/api/v1/schedules", schedule).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["schedule"]["hours"][6]["closes"], "00:00:00",
        "24:00 is the end of the day"
    );
    assert_eq!(body["issues"], json!([]));

    let check = |at: &str| {
        let (app, admin) = (&app, &admin);
        let path = format!("/api/v1/schedules/shop/check?at={}", at.replace('+', "%2B"));
        async move { get(app, admin, &path).await }
    };
    let (status, friday) = check("2026-12-04T15:30:00+02:00").await;
    assert_eq!(status, 200, "{friday}");
    assert_eq!(
        (&friday["open"], &friday["weekday"], &friday["why"]),
        (
            &json!(false),
            &json!("Fri"),
            &json!("closed: no range covers Fri 15:30")
        )
    );
    let (_, friday_lunch) = check("2026-12-04T14:00:00+02:00").await;
    assert_eq!(friday_lunch["open"], true);
    assert_eq!(friday_lunch["range"]["index"], 5);
    assert_eq!(friday_lunch["why"], "open: hours[5] (Fri 11:00–15:00)");
    let (_, night) = check("2026-12-04T01:30:00+02:00").await;
    assert_eq!(
        night["open"], true,
        "Thursday's range runs past midnight: {night}"
    );
    assert_eq!(
        night["why"],
        "open: hours[4] (Thu 11:00–02:00) runs past midnight"
    );
    let (_, saturday) = check("2026-12-05T23:59:00+02:00").await;
    assert_eq!(saturday["open"], true, "{saturday}");
    let (_, holiday) = check("2026-12-10T12:00:00+02:00").await;
    assert_eq!(holiday["open"], false);
    assert_eq!(holiday["holiday"]["name"], "A day off");
    assert_eq!(holiday["local_time"], "2026-12-10T12:00:00");
    let (_, after_holiday) = check("2026-12-11T01:00:00+02:00").await;
    assert_eq!(after_holiday["open"], false, "{after_holiday}");
    assert!(
        after_holiday["why"]
            .as_str()
            .unwrap()
            .contains("never started")
    );

    // Bad times: the field and the accepted form.
    for (closes, range) in [
        ("25:00", "00:00 to 24:00"),
        ("9:00", "00:00 to 24:00"),
        ("12:00:00.5", "00:00 to 24:00"),
    ] {
        let bad = json!({"key": "bad", "name": "", "hours": hours(&[("Mon", "09:00", closes)])});
        let (status, body) = post(&app, &admin, "/api/v1/schedules", bad).await;
        assert_eq!(status, 422, "{closes}: {body}");
        assert_detail(
            &body,
            "hours[0].closes",
            &format!("is not a time of day: write HH:MM or HH:MM:SS, {range}"),
        );
    }
    let bad = json!({"key": "bad", "name": "", "hours": hours(&[("Mon", "24:00", "10:00")])});
    let (status, body) = post(&app, &admin, "/api/v1/schedules", bad).await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "hours[0].opens", "00:00 to 23:59");

    // Overlapping ranges: written, with a warning.
    let overlapping = json!({"key": "shop", "name": "Shop",
        "hours": hours(&[("Mon", "09:00", "13:00"), ("Mon", "12:00", "18:00"), ("Sun", "22:00", "02:00"), ("Mon", "01:00", "03:00")]),
        "calendar": {"name": "israel"}});
    let (status, body) = put(&app, &admin, "/api/v1/schedules/shop", overlapping).await;
    assert_eq!(status, 200, "{body}");
    let warnings: Vec<&str> = body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["severity"] == "warning")
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        warnings,
        ["schedules.shop.hours[1]", "schedules.shop.hours[3]"],
        "{body}"
    );

    // Refusals and tenants.
    let (status, body) = get(
        &app,
        &admin,
        "/api/v1/schedules/shop/check?at=2026-12-04T15:30:00",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_detail(&body, "at", "offset");
    let (status, _) = get(&app, &admin, "/api/v1/schedules/nope/check").await;
    assert_eq!(status, 404);
    let (status, _) = get(&app, &admin, "/api/v1/schedules/shop/check?flow=live").await;
    assert_eq!(status, 404, "nothing published yet");
    let (_, other) = tenant_with_admin(&app, &platform, "Other").await;
    let (status, _) = get(&app, &other, "/api/v1/schedules/shop/check").await;
    assert_eq!(status, 404);
    let (status, _) = get(
        &app,
        &other,
        &format!("/api/v1/schedules/shop/check?tenant_id={tenant}"),
    )
    .await;
    assert_eq!(status, 404);
}
