//! The reports: exact figures on small hand-computed data sets, every report
//! checked against a direct SQL computation, time zones and daylight saving,
//! retries counted once, tenants kept apart, bad parameters refused.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::api_client::{code, get, platform_admin, post, tenant_with_admin, user_with_role};
use crate::harness::TestApp;
use crate::voicenter_client::{DEMO_DID, json_hangup};

/// A CDR as inserted directly (what the webhook would have stored).
struct Cdr<'a> {
    call_id: &'a str,
    did: &'a str,
    caller: &'a str,
    target: &'a str,
    /// RFC 3339.
    start: &'a str,
    duration: Option<i64>,
    dial: Option<i64>,
    status: &'a str,
}

async fn insert_cdr(app: &TestApp, tenant: i64, cdr: &Cdr<'_>) {
    insert_cdr_with_cause(app, tenant, cdr, ivrhub::cdr::cause_for_status(cdr.status)).await;
}

/// Stores the CDR for `tenant` whoever owns its DID (the tests' numbers
/// need not be in the directory), as the CDR writer would
/// (storage::cdrs::insert_cdrs): a CDR more than 23 hours old first makes
/// its report day raw again, under the day's lock, in the same transaction.
async fn insert_cdr_with_cause(app: &TestApp, tenant: i64, cdr: &Cdr<'_>, cause: Option<i16>) {
    let start = DateTime::parse_from_rfc3339(cdr.start).unwrap().to_utc();
    let mut tx = app.pool.begin().await.unwrap();
    if start < Utc::now() - chrono::Duration::hours(23) {
        ivrhub::storage::reports::mark_days_stale(&mut tx, &[(tenant, start.date_naive())])
            .await
            .unwrap();
    }
    sqlx::query(
        "INSERT INTO cdrs (tenant_id, call_id, did, caller_id, target, call_start, call_time,
                           duration_secs, dial_secs, status, cause, raw, started_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6 + make_interval(secs => coalesce($8, 0)),
                 $7, $8, $9, $10, '{}', $6)",
    )
    .bind(tenant)
    .bind(cdr.call_id)
    .bind(cdr.did)
    .bind(cdr.caller)
    .bind(cdr.target)
    .bind(start)
    .bind(cdr.duration)
    .bind(cdr.dial)
    .bind(cdr.status)
    .bind(cause)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// One logged step: (MENU sent, DTMF, from node, node answered, outcome, action).
type Step<'a> = (&'a str, &'a str, Option<&'a str>, &'a str, &'a str, &'a str);

/// Logs the steps of a call, one second apart from its start, as the step
/// log does (storage::steps::insert_steps: late steps unroll their days).
async fn insert_steps(app: &TestApp, tenant: i64, call_id: &str, start: &str, steps: &[Step<'_>]) {
    let start = DateTime::parse_from_rfc3339(start).unwrap().to_utc();
    let batch: Vec<_> = steps
        .iter()
        .enumerate()
        .map(
            |(seq, (menu, dtmf, from, node, outcome, action))| ivrhub::storage::steps::NewStep {
                tenant_id: tenant,
                call_id: call_id.into(),
                at: start + chrono::Duration::seconds(seq as i64),
                did: String::new(),
                caller_id: String::new(),
                menu: menu.to_string(),
                dtmf: dtmf.to_string(),
                from_node: from.map(str::to_owned),
                node_key: Some(node.to_string()),
                outcome: outcome.to_string(),
                action: action.to_string(),
                flow_version: None,
                fallback: None,
            },
        )
        .collect();
    ivrhub::storage::steps::insert_steps(&app.pool, &batch)
        .await
        .unwrap();
}

const DID_1: &str = "0731111111";
const DID_2: &str = "0732222222";

/// The hand-computed day (2026-11-23 in Asia/Jerusalem, UTC+2), and one call
/// on each side of it.
fn november() -> Vec<Cdr<'static>> {
    let cdr = |call_id, did, caller, target, start, duration, dial, status| Cdr {
        call_id,
        did,
        caller,
        target,
        start,
        duration,
        dial,
        status,
    };
    vec![
        cdr(
            "c1",
            DID_1,
            "0541",
            "0501",
            "2026-11-23T09:00:00+02:00",
            Some(100),
            Some(10),
            "ANSWER",
        ),
        cdr(
            "c2",
            DID_1,
            "0541",
            "0501",
            "2026-11-23T09:30:00+02:00",
            Some(200),
            Some(20),
            "ANSWER",
        ),
        cdr(
            "c3",
            DID_1,
            "0542",
            "0502",
            "2026-11-23T10:15:00+02:00",
            Some(0),
            Some(30),
            "NOANSWER",
        ),
        cdr(
            "c4",
            DID_2,
            "0543",
            "0501",
            "2026-11-23T11:00:00+02:00",
            Some(0),
            Some(2),
            "BUSY",
        ),
        cdr(
            "c5",
            DID_2,
            "0542",
            "",
            "2026-11-23T23:59:59+02:00",
            Some(0),
            None,
            "CANCEL",
        ),
        cdr(
            "c6",
            DID_2,
            "=1+2,\"x\"",
            "0503",
            "2026-11-23T14:00:00+02:00",
            Some(60),
            Some(4),
            "FAILED",
        ),
        // Outside the day: its first second after, its last second before.
        cdr(
            "c7",
            DID_1,
            "0541",
            "0501",
            "2026-11-24T00:00:00+02:00",
            Some(30),
            Some(5),
            "ANSWER",
        ),
        cdr(
            "c8",
            DID_1,
            "0549",
            "0501",
            "2026-11-22T23:59:59+02:00",
            Some(50),
            Some(6),
            "ANSWER",
        ),
    ]
}

/// A tenant (Asia/Jerusalem) with the November calls and their steps; returns (tenant, its admin's token).
async fn november_tenant(app: &TestApp, root: &str, name: &str) -> (i64, String) {
    let (tenant, admin) = tenant_with_admin(app, root, name).await;
    for cdr in november() {
        insert_cdr(app, tenant, &cdr).await;
    }
    // c9: a status ivrhub would give no cause, stored with cause 22 (two meanings in the spec).
    insert_cdr_with_cause(
        app,
        tenant,
        &Cdr {
            call_id: "c9",
            did: DID_1,
            caller: "0545",
            target: "0504",
            start: "2026-11-23T15:00:00+02:00",
            duration: Some(0),
            dial: Some(1),
            status: "MOVED",
        },
        Some(22),
    )
    .await;
    let main = Some("main");
    let support = Some("support");
    let steps: [(&str, &str, Vec<Step>); 6] = [
        (
            "c1",
            "2026-11-23T09:00:00+02:00",
            vec![
                ("-1", "", None, "main", "entered", "MENU"),
                ("main", "1", main, "sales", "matched", "CALL"),
            ],
        ),
        (
            "c2",
            "2026-11-23T09:30:00+02:00",
            vec![
                ("-1", "", None, "main", "entered", "MENU"),
                ("main", "", main, "main", "timeout_retry", "MENU"),
                ("main~r1", "1", main, "sales", "matched", "CALL"),
            ],
        ),
        (
            "c3",
            "2026-11-23T10:15:00+02:00",
            vec![
                ("-1", "", None, "main", "entered", "MENU"),
                ("main", "2", main, "support", "matched", "MENU"),
                ("support", "9", support, "support", "invalid_retry", "MENU"),
                ("support~r1", "1", support, "tech", "matched", "CALL"),
            ],
        ),
        (
            "c4",
            "2026-11-23T11:00:00+02:00",
            vec![
                ("-1", "", None, "main", "entered", "MENU"),
                ("main", "1", main, "sales", "matched", "CALL"),
            ],
        ),
        (
            "c5",
            "2026-11-23T23:59:59+02:00",
            vec![
                ("-1", "", None, "main", "entered", "MENU"),
                ("main", "", main, "main", "timeout_retry", "MENU"),
                (
                    "main~r1",
                    "",
                    main,
                    "goodbye",
                    "timeout_exhausted",
                    "HANGUP",
                ),
            ],
        ),
        (
            "c6",
            "2026-11-23T14:00:00+02:00",
            vec![("-1", "", None, "main", "entered", "MENU")],
        ),
    ];
    for (call_id, start, steps) in steps {
        insert_steps(app, tenant, call_id, start, &steps).await;
    }
    (tenant, admin)
}

fn assert_close(actual: &Value, expected: f64, what: &str) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {actual}"));
    assert!(
        (actual - expected).abs() < 1e-9,
        "{what}: {actual} != {expected}"
    );
}

const DAY: &str = "from=2026-11-23&to=2026-11-24";

#[tokio::test]
async fn the_summary_of_a_hand_computed_day() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, admin) = november_tenant(&app, &root, "Summary").await;
    let (status, body) = get(
        &app,
        &admin,
        &format!("/api/v1/reports/summary?{DAY}&compare=previous"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tenant_id"], json!(tenant));
    assert_eq!(body["time_zone"], json!("Asia/Jerusalem"));
    assert_eq!(body["from"], json!("2026-11-23T00:00:00+02:00"));
    assert_eq!(body["to"], json!("2026-11-24T00:00:00+02:00"));
    let figures = &body["figures"];
    // c1..c6 and c9: c5 at 23:59:59 is in, c7 at midnight is the next day's.
    assert_eq!(figures["calls"], json!(7));
    assert_eq!(figures["answered"], json!(2));
    assert_close(&figures["asr"], 2.0 / 7.0, "asr");
    assert_close(&figures["acd_secs"], 150.0, "acd"); // (100 + 200) / 2
    assert_close(&figures["talk_minutes"], 5.0, "talk minutes"); // 300 s
    // Dial times 10, 20, 30, 2, 4, 1 (c5 has none): mean 67 / 6.
    assert_close(&figures["mean_dial_secs"], 67.0 / 6.0, "mean dial");
    // Sorted 1 2 4 10 20 30: rank 0.95 * 5 = 4.75 -> 20 + 0.75 * (30 - 20).
    assert_close(&figures["p95_dial_secs"], 27.5, "p95 dial");
    assert_eq!(figures["unique_callers"], json!(5));
    // The previous day holds c8 alone.
    let previous = &body["previous"];
    assert_eq!(previous["from"], json!("2026-11-22T00:00:00+02:00"));
    assert_eq!(previous["figures"]["calls"], json!(1));
    assert_close(&previous["figures"]["asr"], 1.0, "previous asr");
    assert_close(&previous["figures"]["p95_dial_secs"], 6.0, "previous p95");
    assert_close(
        &previous["figures"]["talk_minutes"],
        50.0 / 60.0,
        "previous talk",
    );
}

#[tokio::test]
async fn no_calls_give_nulls_not_nan() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (_, admin) = november_tenant(&app, &root, "Empty").await;
    let (status, body) = get(
        &app,
        &admin,
        "/api/v1/reports/summary?from=2020-01-01&to=2020-01-02",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["figures"],
        json!({"calls": 0, "answered": 0, "asr": null, "acd_secs": null, "talk_minutes": 0.0,
               "mean_dial_secs": null, "p95_dial_secs": null, "unique_callers": 0})
    );
    for path in ["by-status", "by-cause", "by-did"] {
        let (status, body) = get(
            &app,
            &admin,
            &format!("/api/v1/reports/{path}?from=2020-01-01&to=2020-01-02"),
        )
        .await;
        assert_eq!((status, &body["figures"]), (200, &json!([])), "{path}");
    }
    let (_, body) = get(
        &app,
        &admin,
        "/api/v1/reports/by-target?from=2020-01-01&to=2020-01-02",
    )
    .await;
    assert_eq!(
        body["figures"],
        json!({"targets": 0, "calls_without_target": 0, "top": []})
    );
    let (_, body) = get(
        &app,
        &admin,
        "/api/v1/reports/series?from=2020-01-01&to=2020-01-03&bucket=day",
    )
    .await;
    let points = body["figures"]["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0]["calls"], json!(0));
    assert_eq!(points[0]["asr"], Value::Null);
}

#[tokio::test]
async fn breakdowns_by_status_cause_did_and_target() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (_, admin) = november_tenant(&app, &root, "Breakdowns").await;

    let (_, body) = get(&app, &admin, &format!("/api/v1/reports/by-status?{DAY}")).await;
    let statuses: Vec<(&str, i64)> = body["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["status"].as_str().unwrap(),
                row["calls"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("ANSWER", 2),
            ("BUSY", 1),
            ("CANCEL", 1),
            ("FAILED", 1),
            ("MOVED", 1),
            ("NOANSWER", 1)
        ]
    );
    assert_close(&body["figures"][0]["share"], 2.0 / 7.0, "share");
    assert_close(&body["figures"][0]["acd_secs"], 150.0, "ANSWER acd");

    let (_, body) = get(&app, &admin, &format!("/api/v1/reports/by-cause?{DAY}")).await;
    let causes = body["figures"].as_array().unwrap();
    let summary: Vec<(Value, i64)> = causes
        .iter()
        .map(|row| (row["cause"].clone(), row["calls"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (json!(16), 3),
            (json!(17), 1),
            (json!(19), 1),
            (json!(22), 1),
            (Value::Null, 1)
        ]
    );
    assert_eq!(
        causes[0]["meanings"],
        json!([{"description": "normal call clearing", "sip": "BYE or CANCEL"}])
    );
    assert_eq!(
        causes[0]["statuses"],
        json!([{"status": "ANSWER", "calls": 2}, {"status": "CANCEL", "calls": 1}])
    );
    assert_eq!(
        causes[1]["meanings"],
        json!([{"description": "user busy", "sip": "486 Busy here"}])
    );
    assert_eq!(
        causes[3]["meanings"].as_array().unwrap().len(),
        2,
        "cause 22 has two rows: {}",
        causes[3]
    );
    assert_eq!(
        causes[4]["statuses"],
        json!([{"status": "FAILED", "calls": 1}])
    );
    assert_eq!(causes[4]["meanings"], json!([]));

    let (_, body) = get(&app, &admin, &format!("/api/v1/reports/by-did?{DAY}")).await;
    let dids = body["figures"].as_array().unwrap();
    assert_eq!(dids.len(), 2);
    assert_eq!(
        (&dids[0]["did"], &dids[0]["calls"], &dids[0]["answered"]),
        (&json!(DID_1), &json!(4), &json!(2))
    );
    assert_close(&dids[0]["asr"], 0.5, "DID 1 asr");
    assert_close(&dids[0]["mean_dial_secs"], 61.0 / 4.0, "DID 1 dial"); // 10 20 30 1
    assert_eq!(
        (&dids[1]["did"], &dids[1]["calls"]),
        (&json!(DID_2), &json!(3))
    );
    assert_close(&dids[1]["asr"], 0.0, "DID 2 asr");
    assert_eq!(dids[1]["acd_secs"], Value::Null);
    assert_close(&dids[1]["mean_dial_secs"], 3.0, "DID 2 dial"); // 2 4

    let (_, body) = get(
        &app,
        &admin,
        &format!("/api/v1/reports/by-target?{DAY}&limit=2"),
    )
    .await;
    let top = &body["figures"];
    assert_eq!(
        (&top["targets"], &top["calls_without_target"]),
        (&json!(4), &json!(1))
    );
    let rows: Vec<(&str, i64)> = top["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["target"].as_str().unwrap(),
                row["calls"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, vec![("0501", 3), ("0502", 1)]);

    // Filters.
    let (_, body) = get(
        &app,
        &admin,
        &format!("/api/v1/reports/summary?{DAY}&did={DID_2}&status=BUSY"),
    )
    .await;
    assert_eq!(body["figures"]["calls"], json!(1));
    assert_eq!(
        (&body["did"], &body["status"]),
        (&json!(DID_2), &json!("BUSY"))
    );
    let (_, body) = get(
        &app,
        &admin,
        &format!("/api/v1/reports/summary?{DAY}&target=0501"),
    )
    .await;
    assert_eq!(body["figures"]["calls"], json!(3));
}

#[tokio::test]
async fn time_series_by_day_and_hour() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (_, admin) = november_tenant(&app, &root, "Series").await;
    let (status, body) = get(
        &app,
        &admin,
        "/api/v1/reports/series?from=2026-11-22&to=2026-11-25&bucket=day",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let days: Vec<(&str, i64)> = body["figures"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["start"].as_str().unwrap(), p["calls"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        days,
        vec![
            ("2026-11-22T00:00:00+02:00", 1), // c8 at 23:59:59
            ("2026-11-23T00:00:00+02:00", 7),
            ("2026-11-24T00:00:00+02:00", 1), // c7 at 00:00:00
        ]
    );
    let (_, body) = get(
        &app,
        &admin,
        &format!("/api/v1/reports/series?{DAY}&bucket=hour"),
    )
    .await;
    let points = body["figures"]["points"].as_array().unwrap();
    assert_eq!(points.len(), 24);
    let calls: Vec<i64> = points
        .iter()
        .map(|p| p["calls"].as_i64().unwrap())
        .collect();
    let mut expected = vec![0; 24];
    expected[9] = 2; // c1, c2
    expected[10] = 1;
    expected[11] = 1;
    expected[14] = 1;
    expected[15] = 1;
    expected[23] = 1; // c5
    assert_eq!(calls, expected);
    assert_eq!(points[9]["answered"], json!(2));
    assert_close(&points[9]["acd_secs"], 150.0, "09:00 acd");
    assert_eq!(points[0]["acd_secs"], Value::Null);
}

#[tokio::test]
async fn day_and_hour_buckets_follow_jerusalem_across_dst() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_admin(&app, &root, "Daylight").await;
    let call = |call_id, start| Cdr {
        call_id,
        did: DID_1,
        caller: "0541",
        target: "0501",
        start,
        duration: Some(10),
        dial: Some(1),
        status: "ANSWER",
    };
    for cdr in [
        // Spring forward, Friday 2026-03-27: 02:00 (+02:00) becomes 03:00 (+03:00).
        call("s1", "2026-03-27T01:30:00+02:00"),
        call("s2", "2026-03-27T03:30:00+03:00"),
        call("s3", "2026-03-27T23:30:00+03:00"),
        call("s4", "2026-03-28T00:30:00+03:00"),
        call("s0", "2026-03-26T23:59:59+02:00"),
        // Fall back, Sunday 2026-10-25: 02:00 (+03:00) becomes 01:00 (+02:00): 01:30 happens twice.
        call("f1", "2026-10-25T01:30:00+03:00"),
        call("f2", "2026-10-25T01:30:00+02:00"),
        call("f3", "2026-10-25T23:59:00+02:00"),
        call("f0", "2026-10-24T23:30:00+03:00"),
    ] {
        insert_cdr(&app, tenant, &cdr).await;
    }
    let series = |query: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let (status, body) = get(app, admin, &format!("/api/v1/reports/series?{query}")).await;
            assert_eq!(status, 200, "{body}");
            body["figures"]["points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["start"].as_str().unwrap().to_owned(),
                        p["hours"].as_f64().unwrap(),
                        p["calls"].as_i64().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let spring = series("from=2026-03-26&to=2026-03-29&bucket=day").await;
    assert_eq!(
        spring,
        vec![
            ("2026-03-26T00:00:00+02:00".into(), 24.0, 1),
            ("2026-03-27T00:00:00+02:00".into(), 23.0, 3),
            ("2026-03-28T00:00:00+03:00".into(), 24.0, 1),
        ]
    );
    let hours = series("from=2026-03-27&to=2026-03-28&bucket=hour").await;
    assert_eq!(hours.len(), 23);
    assert_eq!(hours[1], ("2026-03-27T01:00:00+02:00".into(), 1.0, 1));
    assert_eq!(
        hours[2],
        ("2026-03-27T03:00:00+03:00".into(), 1.0, 1),
        "02:00 never happened"
    );
    assert_eq!(hours[22], ("2026-03-27T23:00:00+03:00".into(), 1.0, 1));
    assert_eq!(hours.iter().map(|h| h.2).sum::<i64>(), 3);

    let autumn = series("from=2026-10-24&to=2026-10-26&bucket=day").await;
    assert_eq!(
        autumn,
        vec![
            ("2026-10-24T00:00:00+03:00".into(), 24.0, 1),
            ("2026-10-25T00:00:00+03:00".into(), 25.0, 3),
        ]
    );
    let hours = series("from=2026-10-25&to=2026-10-26&bucket=hour").await;
    assert_eq!(hours.len(), 25);
    assert_eq!(hours[1], ("2026-10-25T01:00:00+03:00".into(), 1.0, 1));
    assert_eq!(
        hours[2],
        ("2026-10-25T01:00:00+02:00".into(), 1.0, 1),
        "01:00 again"
    );
    assert_eq!(hours[24], ("2026-10-25T23:00:00+02:00".into(), 1.0, 1));

    // The same range read in UTC cuts other days.
    let utc = series("from=2026-10-24&to=2026-10-26&bucket=day&tz=UTC").await;
    assert_eq!(
        utc,
        vec![
            ("2026-10-24T00:00:00Z".into(), 24.0, 3), // f0 20:30Z, f1 22:30Z, f2 23:30Z
            ("2026-10-25T00:00:00Z".into(), 24.0, 1),
        ]
    );
}

fn funnel_nodes(body: &Value) -> Vec<Value> {
    body["figures"]["nodes"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_menu_funnel_of_a_hand_computed_day() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (_, admin) = november_tenant(&app, &root, "Funnel").await;
    let (status, body) = get(&app, &admin, &format!("/api/v1/reports/funnel?{DAY}")).await;
    assert_eq!(status, 200, "{body}");
    let nodes = funnel_nodes(&body);
    let keys: Vec<(&str, i64, i64)> = nodes
        .iter()
        .map(|n| {
            (
                n["node"].as_str().unwrap(),
                n["reached"].as_i64().unwrap(),
                n["ended"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            ("main", 6, 1),
            ("sales", 3, 3),
            ("goodbye", 1, 1),
            ("support", 1, 0),
            ("tech", 1, 1)
        ]
    );
    let main = &nodes[0];
    assert_eq!(
        main["pressed"],
        json!([{"digits": "1", "steps": 3}, {"digits": "2", "steps": 1}])
    );
    assert_eq!(
        main["timeouts"],
        json!({"total": 3, "route": 0, "retry": 2, "exhausted": 1})
    );
    assert_eq!(
        main["invalid"],
        json!({"total": 0, "route": 0, "retry": 0, "exhausted": 0})
    );
    assert_eq!(
        main["ended_by_status"],
        json!([{"status": "FAILED", "calls": 1}])
    );
    assert_eq!(
        nodes[1]["ended_by_status"],
        json!([{"status": "ANSWER", "calls": 2}, {"status": "BUSY", "calls": 1}])
    );
    assert_eq!(
        nodes[2]["ended_by_status"],
        json!([{"status": "CANCEL", "calls": 1}])
    );
    assert_eq!(
        nodes[3]["invalid"],
        json!({"total": 1, "route": 0, "retry": 1, "exhausted": 0})
    );
    assert_eq!(nodes[3]["pressed"], json!([{"digits": "1", "steps": 1}]));
    assert_eq!(
        nodes[4]["ended_by_status"],
        json!([{"status": "NOANSWER", "calls": 1}])
    );
    // Filtered by the CDR's status: the busy call alone.
    let (_, body) = get(
        &app,
        &admin,
        &format!("/api/v1/reports/funnel?{DAY}&status=BUSY"),
    )
    .await;
    let keys: Vec<(String, i64)> = funnel_nodes(&body)
        .iter()
        .map(|n| {
            (
                n["node"].as_str().unwrap().to_owned(),
                n["reached"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys, vec![("main".into(), 1), ("sales".into(), 1)]);
}

#[tokio::test]
async fn one_call_shows_its_cdr_and_its_way_through_the_menus() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, admin) = november_tenant(&app, &root, "Calls").await;
    let (_, other) = tenant_with_admin(&app, &root, "Other").await;
    let viewer = user_with_role(&app, &admin, "viewer@calls.example", "viewer").await;
    // Steps logged before versions: no flow_version.
    let expected_steps = json!([
        {"at": "2026-11-23T10:15:00+02:00", "menu": "-1", "dtmf": "", "from_node": null,
         "node": "main", "outcome": "entered", "action": "MENU", "flow_version": null},
        {"at": "2026-11-23T10:15:01+02:00", "menu": "main", "dtmf": "2", "from_node": "main",
         "node": "support", "outcome": "matched", "action": "MENU", "flow_version": null},
        {"at": "2026-11-23T10:15:02+02:00", "menu": "support", "dtmf": "9", "from_node": "support",
         "node": "support", "outcome": "invalid_retry", "action": "MENU", "flow_version": null},
        {"at": "2026-11-23T10:15:03+02:00", "menu": "support~r1", "dtmf": "1", "from_node": "support",
         "node": "tech", "outcome": "matched", "action": "CALL", "flow_version": null},
    ]);
    for token in [&admin, &viewer] {
        let (status, body) = get(&app, token, "/api/v1/reports/calls/c3").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (
                &body["cdr"]["tenant_id"],
                &body["cdr"]["status"],
                &body["cdr"]["caller_id"],
                &body["cdr"]["started_at"]
            ),
            (
                &json!(tenant),
                &json!("NOANSWER"),
                &json!("0542"),
                &json!("2026-11-23T10:15:00+02:00")
            )
        );
        assert_eq!(body["steps"], expected_steps);
    }
    // A call with a CDR and no logged step.
    let (status, body) = get(&app, &admin, "/api/v1/reports/calls/c7").await;
    assert_eq!((status, &body["steps"]), (200, &json!([])));
    // Another tenant's call, an unknown one: the same 404.
    for (token, path) in [
        (&other, "/api/v1/reports/calls/c3".to_owned()),
        (
            &other,
            format!("/api/v1/reports/calls/c3?tenant_id={tenant}"),
        ),
        (&admin, "/api/v1/reports/calls/no-such-call".to_owned()),
    ] {
        let (status, body) = get(&app, token, &path).await;
        assert_eq!((status, code(&body)), (404, "not_found"), "{path}: {body}");
    }
    // A platform admin finds it among every tenant's calls (times in UTC).
    let (status, body) = get(&app, &root, "/api/v1/reports/calls/c3").await;
    assert_eq!(
        (
            status,
            &body["cdr"]["started_at"],
            &body["steps"][3]["node"]
        ),
        (200, &json!("2026-11-23T08:15:00Z"), &json!("tech"))
    );
}

#[tokio::test]
async fn the_status_filter_reads_statuses_as_they_are_stored() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (_, admin) = november_tenant(&app, &root, "Statuses").await;
    // On the 23rd: c1 and c2 answered, c4 busy.
    for (asked, stored, calls) in [
        ("ANSWER", "ANSWER", 2),
        ("answered", "ANSWER", 2),
        ("%20busy%20", "BUSY", 1),
    ] {
        let (status, body) = get(
            &app,
            &admin,
            &format!("/api/v1/reports/summary?{DAY}&status={asked}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (&body["status"], &body["figures"]["calls"]),
            (&json!(stored), &json!(calls)),
            "{asked}"
        );
    }
}

/// A menu Voicenter plays by itself (a CALL node's failover NEXT_MENU) is
/// never the answer to a step: it is reached by the steps pressed in it.
#[tokio::test]
async fn a_failover_menu_is_reached_by_the_keys_pressed_in_it() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_admin(&app, &root, "Failover").await;
    let start = "2026-11-23T12:00:00+02:00";
    insert_cdr(
        &app,
        tenant,
        &Cdr {
            call_id: "f1",
            did: DID_1,
            caller: "0541",
            target: "0501",
            start,
            duration: Some(20),
            dial: Some(30),
            status: "ANSWER",
        },
    )
    .await;
    let main = Some("main");
    insert_steps(
        &app,
        tenant,
        "f1",
        start,
        &[
            ("-1", "", None, "main", "entered", "MENU"),
            ("main", "1", main, "sales", "matched", "CALL"),
            // Nobody answered sales: Voicenter played sales_busy, 1 was pressed.
            (
                "sales_busy",
                "1",
                Some("sales_busy"),
                "voicemail",
                "matched",
                "SILENTRECORD",
            ),
        ],
    )
    .await;
    // A MENU the flow has no node for (renamed since, or junk) is no node
    // the call reached: the flow started it again at main.
    insert_cdr(
        &app,
        tenant,
        &Cdr {
            call_id: "f2",
            did: DID_1,
            caller: "0542",
            target: "",
            start,
            duration: Some(0),
            dial: None,
            status: "CANCEL",
        },
    )
    .await;
    insert_steps(
        &app,
        tenant,
        "f2",
        start,
        &[("ghost", "1", Some("ghost"), "main", "unknown_menu", "MENU")],
    )
    .await;
    let (status, body) = get(&app, &admin, &format!("/api/v1/reports/funnel?{DAY}")).await;
    assert_eq!(status, 200, "{body}");
    let nodes: Vec<(String, i64, Value, i64)> = funnel_nodes(&body)
        .iter()
        .map(|n| {
            (
                n["node"].as_str().unwrap().to_owned(),
                n["reached"].as_i64().unwrap(),
                n["pressed"].clone(),
                n["ended"].as_i64().unwrap(),
            )
        })
        .collect();
    let pressed_1 = json!([{"digits": "1", "steps": 1}]);
    assert_eq!(
        nodes,
        vec![
            ("main".into(), 2, pressed_1.clone(), 1),
            ("sales".into(), 1, json!([]), 0),
            ("sales_busy".into(), 1, pressed_1, 0),
            ("voicemail".into(), 1, json!([]), 1),
        ]
    );
}

#[tokio::test]
async fn roll_ups_give_the_same_figures_as_the_raw_tables_and_follow_late_calls() {
    use ivrhub::reports::{aggregates, funnel, rollup};
    use ivrhub::storage::reports::{CdrFilter, Tenants};
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, _) = november_tenant(&app, &root, "Rollup").await;
    let one = Tenants::One(tenant);
    let long_ago = utc("2026-01-01T00:00:00Z"); // no day closed yet: all raw
    // Every day of the data closed (the last closed day is the 24th).
    let later = utc("2026-11-26T00:00:00Z");
    let rolled = rollup::roll_up_days(&app.pool, tenant, day("2026-11-21"), day("2026-11-23"))
        .await
        .unwrap();
    assert_eq!(rolled, 3);
    let utc_days = all_calls("2026-11-22T00:00:00Z", "2026-11-24T00:00:00Z");
    // Local days in Jerusalem: the 22nd (UTC) rolled up, the ends raw.
    let local_days = CdrFilter {
        from: utc("2026-11-21T22:00:00Z"),
        to: utc("2026-11-23T22:00:00Z"),
        ..utc_days.clone()
    };
    let mut filters = Vec::new();
    for range in [&utc_days, &local_days] {
        filters.push(range.clone());
        filters.push(CdrFilter {
            status: Some("ANSWER".into()),
            ..range.clone()
        });
        filters.push(CdrFilter {
            did: Some(DID_1.into()),
            ..range.clone()
        });
    }
    let plan = rollup::plan(&app.pool, one, &local_days, later, rollup::Grain::Status)
        .await
        .unwrap();
    assert_eq!(
        (plan.rolled.clone(), plan.raw.len()),
        (vec![day("2026-11-22")], 2)
    );
    // `later` has every day of the data closed and is near enough for the
    // distinct callers to come from the roll-up of callers too.
    assert_eq!(
        rollup::callers_span(&plan, later, None),
        Some((day("2026-11-22"), day("2026-11-22")))
    );
    assert_eq!(
        rollup::callers_span(&plan, utc("2027-01-01T00:00:00Z"), None),
        None,
        "a short range long ago counts its callers raw"
    );
    rolled_figures_equal_raw_ones(&app, tenant, &filters, later, long_ago).await;
    let two_days = funnel::compute(&app.pool, tenant, &utc_days, None, later)
        .await
        .unwrap();
    assert_eq!((two_days.rolled_up_days, two_days.raw_ranges), (2, 0));
    // A CDR arriving late (over a day after its call) for a rolled-up day
    // makes that day raw again.
    let late = "2026-11-22T06:00:00+02:00";
    insert_cdr(
        &app,
        tenant,
        &Cdr {
            call_id: "late",
            did: DID_1,
            caller: "0541",
            target: "0501",
            start: late,
            duration: Some(5),
            dial: Some(1),
            status: "ANSWER",
        },
    )
    .await;
    insert_steps(
        &app,
        tenant,
        "late",
        late,
        &[("-1", "", None, "main", "entered", "MENU")],
    )
    .await;
    let after = funnel::compute(&app.pool, tenant, &utc_days, None, later)
        .await
        .unwrap();
    assert_eq!((after.rolled_up_days, after.raw_ranges), (1, 1));
    assert_eq!(
        (after.nodes[0].node.as_str(), after.nodes[0].reached),
        ("main", 7)
    );
    // c1, c2, c7 (22:00Z on the 23rd), c8 and the late one.
    let statuses = aggregates::status_rows(&app.pool, one, &utc_days, later)
        .await
        .unwrap();
    assert_eq!(
        (statuses[0].key.as_str(), statuses[0].totals.calls),
        ("ANSWER", 5)
    );
    // Rolled up again, the 22nd holds 0541, who also called on the 23rd
    // (raw in the local days): counted once.
    rollup::roll_up_days(&app.pool, tenant, day("2026-11-22"), day("2026-11-22"))
        .await
        .unwrap();
    rolled_figures_equal_raw_ones(&app, tenant, &filters, later, long_ago).await;
    for filter in [&local_days, &utc_days] {
        let summary = aggregates::summary_of(&app.pool, one, filter, later)
            .await
            .unwrap();
        // 0541, 0542, 0543, "=1+2,\"x\"", 0545 and 0549.
        assert_eq!(summary.unique_callers, 6, "{filter:?}");
    }
}

#[tokio::test]
async fn rollers_at_the_same_day_at_once_leave_it_rolled_up_once() {
    use ivrhub::reports::aggregates;
    use ivrhub::storage::reports::{self as sql, Tenants};
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, _) = november_tenant(&app, &root, "Rollers").await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    // Several nodes' background rollers (or a report's and another's).
    let rollers = (0..8).map(|_| sql::roll_up_day(&app.pool, tenant, day));
    for outcome in futures_util::future::join_all(rollers).await {
        outcome.expect("a roller running alongside another one");
    }
    let filter = all_calls("2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z");
    let one = Tenants::One(tenant);
    let later = utc("2026-11-26T00:00:00Z");
    let long_ago = utc("2026-01-01T00:00:00Z");
    let rolled = aggregates::summary_of(&app.pool, one, &filter, later)
        .await
        .unwrap();
    assert_eq!(
        rolled,
        aggregates::summary_of(&app.pool, one, &filter, long_ago)
            .await
            .unwrap()
    );
    // c1 to c7 and c9 (c8 was on the 22nd, UTC), by 0541, 0542, 0543,
    // "=1+2,\"x\"" and 0545.
    assert_eq!((rolled.figures.calls, rolled.unique_callers), (8, 5));
}

#[tokio::test]
async fn the_roller_rolls_up_the_last_two_closed_days_of_every_tenant() {
    use ivrhub::reports::{funnel, rollup};
    use ivrhub::storage::reports as sql;
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, _) = november_tenant(&app, &root, "Roller").await;
    let (quiet, _) = tenant_with_admin(&app, &root, "Quiet").await;
    // At noon on the 25th the 23rd (UTC) is the last closed day.
    let now = utc("2026-11-25T12:00:00Z");
    assert_eq!(
        rollup::roll_up_recent_days(&app.pool, now).await.unwrap(),
        rollup::RolledUp { days: 4, failed: 0 }
    );
    assert_eq!(
        rollup::roll_up_recent_days(&app.pool, now).await.unwrap(),
        rollup::RolledUp::default()
    );
    for tenant in [tenant, quiet] {
        assert_eq!(
            sql::rolled_days(&app.pool, tenant, day("2026-11-21"), day("2026-11-24"))
                .await
                .unwrap(),
            vec![day("2026-11-22"), day("2026-11-23")]
        );
    }
    let both_days = all_calls("2026-11-22T00:00:00Z", "2026-11-24T00:00:00Z");
    let report = funnel::compute(&app.pool, tenant, &both_days, None, now)
        .await
        .unwrap();
    assert_eq!((report.rolled_up_days, report.raw_ranges), (2, 0));
}

#[tokio::test]
async fn a_late_cdr_waits_for_the_roll_up_of_its_day_then_unrolls_it() {
    use ivrhub::reports::rollup;
    use ivrhub::storage::reports as sql;
    use std::time::Duration;
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, _) = november_tenant(&app, &root, "Late").await;
    let the_22nd = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    rollup::roll_up_days(&app.pool, tenant, the_22nd, the_22nd)
        .await
        .unwrap();
    // A roll-up of the 22nd under way (it has taken its lock, not committed).
    let mut rolling = app.pool.begin().await.unwrap();
    sql::lock_day_for_roll_up(&mut rolling, tenant, the_22nd)
        .await
        .unwrap();
    let late = Cdr {
        call_id: "late",
        did: DID_1,
        caller: "0541",
        target: "0501",
        start: "2026-11-22T06:00:00+02:00",
        duration: Some(5),
        dial: Some(1),
        status: "ANSWER",
    };
    let insert = insert_cdr(&app, tenant, &late);
    tokio::pin!(insert);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut insert)
            .await
            .is_err(),
        "the late CDR must wait for the roll-up that could miss it"
    );
    rolling.commit().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), insert)
        .await
        .expect("the late CDR goes in once the roll-up committed");
    assert_eq!(
        sql::rolled_days(&app.pool, tenant, the_22nd, the_22nd)
            .await
            .unwrap(),
        vec![],
        "and the day is raw again"
    );
}

#[tokio::test]
async fn a_day_rolled_up_by_an_older_node_is_read_raw_and_rolled_up_again() {
    use ivrhub::reports::{aggregates, rollup};
    use ivrhub::storage::reports::{self as sql, Tenants};
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, _) = november_tenant(&app, &root, "Upgrade").await;
    rollup::roll_up_days(&app.pool, tenant, day("2026-11-22"), day("2026-11-23"))
        .await
        .unwrap();
    // As a node of the version before V6 leaves them: rolled up, no callers.
    sqlx::query("UPDATE report_rollup_days SET with_callers = false")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM report_callers")
        .execute(&app.pool)
        .await
        .unwrap();
    let both_days = all_calls("2026-11-22T00:00:00Z", "2026-11-24T00:00:00Z");
    let one = Tenants::One(tenant);
    let later = utc("2026-11-26T00:00:00Z");
    let plan = rollup::plan(&app.pool, one, &both_days, later, rollup::Grain::Status)
        .await
        .unwrap();
    assert_eq!((plan.rolled.len(), plan.raw.len()), (0, 1), "read raw");
    assert_eq!(rollup::callers_span(&plan, later, None), None);
    let summary = aggregates::summary_of(&app.pool, one, &both_days, later)
        .await
        .unwrap();
    // c1 to c9 by 0541, 0542, 0543, "=1+2,\"x\"", 0545 and 0549: raw.
    assert_eq!(summary.unique_callers, 6);
    // A day without its callers is missing to whoever rolls up (the plan
    // above has started a background roll-up; the roller): rolled up again,
    // with them.
    rollup::roll_up_days(&app.pool, tenant, day("2026-11-22"), day("2026-11-23"))
        .await
        .unwrap();
    assert_eq!(
        sql::rolled_days(&app.pool, tenant, day("2026-11-22"), day("2026-11-23"))
            .await
            .unwrap(),
        vec![day("2026-11-22"), day("2026-11-23")]
    );
    let plan = rollup::plan(&app.pool, one, &both_days, later, rollup::Grain::Status)
        .await
        .unwrap();
    assert!(rollup::callers_span(&plan, later, None).is_some());
    let summary = aggregates::summary_of(&app.pool, one, &both_days, later)
        .await
        .unwrap();
    assert_eq!(summary.unique_callers, 6);
}

#[tokio::test]
async fn a_backfill_rolls_up_every_closed_day_since_each_tenants_first_call() {
    use ivrhub::reports::rollup;
    use ivrhub::storage::reports as sql;
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, _) = november_tenant(&app, &root, "History").await;
    let (quiet, _) = tenant_with_admin(&app, &root, "Quiet").await;
    // The 25th is the last closed day; the first call (c8) was on the 22nd (UTC).
    let now = utc("2026-11-27T00:00:00Z");
    assert_eq!(
        rollup::roll_up_history(&app.pool, None, now)
            .await
            .unwrap()
            .days,
        4
    );
    assert_eq!(
        rollup::roll_up_history(&app.pool, None, now)
            .await
            .unwrap()
            .days,
        0
    );
    let pool = &app.pool;
    let rolled = |tenant| async move {
        sql::rolled_days(pool, tenant, day("2026-11-01"), day("2026-11-30"))
            .await
            .unwrap()
            .into_iter()
            .map(|day| day.to_string())
            .collect::<Vec<_>>()
    };
    let days = |names: &[&str]| {
        names
            .iter()
            .map(|name| name.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        rolled(tenant).await,
        days(&["2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25"])
    );
    assert_eq!(
        rolled(quiet).await,
        days(&[]),
        "no call, nothing to roll up"
    );
    // From a given day: every tenant, calls or not.
    assert_eq!(
        rollup::roll_up_history(&app.pool, Some(day("2026-11-21")), now)
            .await
            .unwrap()
            .days,
        1 + 5
    );
    assert_eq!(
        rolled(quiet).await,
        days(&[
            "2026-11-21",
            "2026-11-22",
            "2026-11-23",
            "2026-11-24",
            "2026-11-25"
        ])
    );
    // A CDR dated 1970 (CALL_START_EPOCH 0) does not send the backfill back
    // 56 years: it stops at the longest report range, 400 days.
    let (old, _) = tenant_with_admin(&app, &root, "Epoch zero").await;
    insert_cdr(
        &app,
        old,
        &Cdr {
            call_id: "zero",
            did: "0731111111",
            caller: "0541",
            target: "",
            start: "1970-01-01T00:00:00Z",
            duration: None,
            dial: None,
            status: "CANCEL",
        },
    )
    .await;
    let outcome = rollup::roll_up_history(&app.pool, None, now).await.unwrap();
    assert_eq!((outcome.days, outcome.failed), (401, 0));
    let first = sql::rolled_days(&app.pool, old, day("1970-01-01"), day("2026-11-30"))
        .await
        .unwrap()[0];
    assert_eq!(first, day("2025-10-21"));
}

/// Every report of `filters` the same whether `now` lets it read the
/// roll-ups (`later`) or has it read everything raw (`long_ago`).
async fn rolled_figures_equal_raw_ones(
    app: &TestApp,
    tenant: i64,
    filters: &[ivrhub::storage::reports::CdrFilter],
    later: DateTime<Utc>,
    long_ago: DateTime<Utc>,
) {
    use ivrhub::reports::{aggregates, funnel};
    use ivrhub::storage::reports::Tenants;
    let one = Tenants::One(tenant);
    for filter in filters {
        let what = format!("{filter:?}");
        let raw = funnel::compute(&app.pool, tenant, filter, None, long_ago)
            .await
            .unwrap();
        let rolled = funnel::compute(&app.pool, tenant, filter, None, later)
            .await
            .unwrap();
        assert_eq!(raw.rolled_up_days, 0);
        assert!(rolled.rolled_up_days > 0 || filter.did.is_some(), "{what}");
        assert_eq!(rolled.nodes, raw.nodes, "funnel {what}");
        assert_eq!(
            aggregates::summary_of(&app.pool, one, filter, later)
                .await
                .unwrap(),
            aggregates::summary_of(&app.pool, one, filter, long_ago)
                .await
                .unwrap(),
            "summary {what}"
        );
        assert_eq!(
            aggregates::status_rows(&app.pool, one, filter, later)
                .await
                .unwrap(),
            aggregates::status_rows(&app.pool, one, filter, long_ago)
                .await
                .unwrap(),
            "by status {what}"
        );
        assert_eq!(
            aggregates::cause_rows(&app.pool, one, filter, later)
                .await
                .unwrap(),
            aggregates::cause_rows(&app.pool, one, filter, long_ago)
                .await
                .unwrap(),
            "by cause {what}"
        );
        assert_eq!(
            aggregates::did_rows(&app.pool, one, filter, later)
                .await
                .unwrap(),
            aggregates::did_rows(&app.pool, one, filter, long_ago)
                .await
                .unwrap(),
            "by DID {what}"
        );
        assert_eq!(
            aggregates::hour_rows(&app.pool, one, filter, filter.from, later)
                .await
                .unwrap(),
            aggregates::hour_rows(&app.pool, one, filter, filter.from, long_ago)
                .await
                .unwrap(),
            "by hour {what}"
        );
    }
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A UTC day, `YYYY-MM-DD`.
fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// Every call of `[from, to)` (RFC 3339), no filter.
fn all_calls(from: &str, to: &str) -> ivrhub::storage::reports::CdrFilter {
    ivrhub::storage::reports::CdrFilter {
        from: utc(from),
        to: utc(to),
        did: None,
        status: None,
        target: None,
    }
}

#[tokio::test]
async fn cdr_search_pages_newest_first_and_exports_csv() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, admin) = november_tenant(&app, &root, "Search").await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => format!("/api/v1/reports/cdrs?{DAY}&limit=3"),
            Some(cursor) => format!("/api/v1/reports/cdrs?{DAY}&limit=3&cursor={cursor}"),
        };
        let (status, body) = get(&app, &admin, &path).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        for item in body["items"].as_array().unwrap() {
            seen.push(item["call_id"].as_str().unwrap().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, vec!["c5", "c9", "c6", "c4", "c3", "c2", "c1"]);
    let (_, body) = get(
        &app,
        &admin,
        &format!("/api/v1/reports/cdrs?{DAY}&status=BUSY"),
    )
    .await;
    let item = &body["items"][0];
    assert_eq!(
        (
            &item["call_id"],
            &item["tenant_id"],
            &item["started_at"],
            &item["cause"],
            &item["dial_secs"]
        ),
        (
            &json!("c4"),
            &json!(tenant),
            &json!("2026-11-23T11:00:00+02:00"),
            &json!(17),
            &json!(2)
        )
    );

    let response = app
        .http
        .get(format!(
            "{}/api/v1/reports/cdrs.csv?{DAY}&did={DID_2}",
            app.base
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines[0], ivrhub::reports::cdrs::CSV_HEADER.trim_end());
    assert_eq!(lines.len(), 5, "{csv}"); // header, c5, c6, c4, and the empty end
    assert_eq!(
        lines[1],
        format!(
            "{tenant},c5,2026-11-23T23:59:59+02:00,{DID_2},0542,,CANCEL,16,0,,2026-11-23T23:59:59+02:00,2026-11-23T23:59:59+02:00,{}",
            received(&app, "c5").await
        )
    );
    assert!(
        lines[2].starts_with(&format!(
            "{tenant},c6,2026-11-23T14:00:00+02:00,{DID_2},\"'=1+2,\"\"x\"\"\",0503,FAILED,,60,4,"
        )),
        "{}",
        lines[2]
    );
    assert_eq!(lines[4], "");
}

async fn received(app: &TestApp, call_id: &str) -> String {
    let at: DateTime<Utc> = sqlx::query_scalar("SELECT received_at FROM cdrs WHERE call_id = $1")
        .bind(call_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    at.with_timezone(&chrono_tz::Asia::Jerusalem)
        .fixed_offset()
        .to_rfc3339()
}

#[tokio::test]
async fn a_report_retried_by_voicenter_is_counted_once() {
    let app = TestApp::spawn().await;
    let tenant = app.with_demo().await;
    let body = json_hangup(DEMO_DID, "retried-call", "BUSY");
    for _ in 0..2 {
        let response = app
            .post("/voicenter", "application/json", body.clone())
            .await;
        assert_eq!(response.status, 200, "{}", response.body);
    }
    let root = platform_admin(&app).await;
    // CALL_START_EPOCH 1700000010 is 2023-11-14T22:13:30Z.
    let range = format!("tenant_id={tenant}&from=2023-11-14T00:00:00Z&to=2023-11-16T00:00:00Z");
    let (status, body) = get(&app, &root, &format!("/api/v1/reports/summary?{range}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["figures"]["calls"], json!(1));
    let (_, body) = get(&app, &root, &format!("/api/v1/reports/by-cause?{range}")).await;
    assert_eq!(body["figures"][0]["cause"], json!(17));
    assert_eq!(body["figures"][0]["calls"], json!(1));
}

#[tokio::test]
async fn a_tenant_never_sees_another_tenants_numbers() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (a, admin_a) = november_tenant(&app, &root, "Tenant A").await;
    let (b, admin_b) = tenant_with_admin(&app, &root, "Tenant B").await;
    insert_cdr(
        &app,
        b,
        &Cdr {
            call_id: "b1",
            did: "0739999999",
            caller: "0541",
            target: "0501",
            start: "2026-11-23T12:00:00+02:00",
            duration: Some(40),
            dial: Some(3),
            status: "ANSWER",
        },
    )
    .await;
    for path in [
        "summary",
        "by-status",
        "by-cause",
        "by-did",
        "by-target",
        "funnel",
        "cdrs",
        "cdrs.csv",
    ] {
        let (status, body) = get(
            &app,
            &admin_b,
            &format!("/api/v1/reports/{path}?{DAY}&tenant_id={a}"),
        )
        .await;
        assert_eq!((status, code(&body)), (404, "not_found"), "{path}");
    }
    let (status, body) = get(
        &app,
        &admin_b,
        &format!("/api/v1/reports/series?{DAY}&bucket=day&tenant_id={a}"),
    )
    .await;
    assert_eq!((status, code(&body)), (404, "not_found"));
    let (_, body) = get(&app, &admin_b, &format!("/api/v1/reports/summary?{DAY}")).await;
    assert_eq!(
        (&body["tenant_id"], &body["figures"]["calls"]),
        (&json!(b), &json!(1))
    );
    let (_, body) = get(&app, &admin_b, &format!("/api/v1/reports/cdrs?{DAY}")).await;
    let ids: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["b1"]);
    let (_, body) = get(&app, &admin_b, &format!("/api/v1/reports/by-did?{DAY}")).await;
    assert_eq!(body["figures"].as_array().unwrap().len(), 1);
    let (_, body) = get(&app, &admin_a, &format!("/api/v1/reports/summary?{DAY}")).await;
    assert_eq!(body["figures"]["calls"], json!(7));
    // Platform admins: every tenant together (local dates in UTC: A's c7 at
    // 22:00Z is in, c5 at 21:59:59Z too), or one.
    let (_, body) = get(&app, &root, &format!("/api/v1/reports/summary?{DAY}")).await;
    assert_eq!(
        (
            &body["tenant_id"],
            &body["time_zone"],
            &body["figures"]["calls"]
        ),
        (&Value::Null, &json!("UTC"), &json!(9))
    );
    let (_, body) = get(
        &app,
        &root,
        &format!("/api/v1/reports/summary?{DAY}&tenant_id={a}"),
    )
    .await;
    assert_eq!(body["figures"]["calls"], json!(7));
    let (_, body) = get(
        &app,
        &root,
        &format!("/api/v1/reports/by-tenant?{DAY}&tz=Asia/Jerusalem"),
    )
    .await;
    let tenants: Vec<(i64, i64)> = body["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tenant_id"].as_i64().unwrap(),
                t["calls"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(tenants, vec![(a, 7), (b, 1)]);
    let (status, _) = get(&app, &admin_a, &format!("/api/v1/reports/by-tenant?{DAY}")).await;
    assert_eq!(status, 403);
    let (status, body) = get(&app, &root, &format!("/api/v1/reports/funnel?{DAY}")).await;
    assert_eq!(
        (status, body["error"]["details"][0]["path"].as_str()),
        (400, Some("tenant_id"))
    );
    let (status, _) = get(
        &app,
        &root,
        &format!("/api/v1/reports/summary?{DAY}&tenant_id=999999"),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn orphan_cdrs_are_listed_for_platform_admins_only() {
    let app = TestApp::spawn().await;
    let _ = app.with_demo().await;
    let response = app
        .post(
            "/voicenter",
            "application/json",
            json_hangup("0739990000", "orphan-call", "ANSWER"),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    let root = platform_admin(&app).await;
    let range = "from=2023-11-14T00:00:00Z&to=2023-11-16T00:00:00Z";
    let (status, body) = get(&app, &root, &format!("/api/v1/reports/orphan-cdrs?{range}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["call_id"], json!("orphan-call"));
    assert_eq!(body["items"][0]["tenant_id"], Value::Null);
    let (status, body) = get(
        &app,
        &root,
        &format!("/api/v1/reports/orphan-cdrs?{range}&tenant_id=1"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["details"][0]["path"].as_str()),
        (400, Some("tenant_id"))
    );
    let (_, admin) = tenant_with_admin(&app, &root, "Not Platform").await;
    let (status, body) = get(
        &app,
        &admin,
        &format!("/api/v1/reports/orphan-cdrs?{range}"),
    )
    .await;
    assert_eq!((status, code(&body)), (403, "forbidden"));
}

#[tokio::test]
async fn a_viewer_reads_reports_but_cannot_change_flows() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (_, admin) = november_tenant(&app, &root, "Viewing").await;
    let viewer = user_with_role(&app, &admin, "viewer@viewing.example", "viewer").await;
    for path in [
        format!("summary?{DAY}"),
        format!("by-status?{DAY}"),
        format!("by-cause?{DAY}"),
        format!("by-did?{DAY}"),
        format!("by-target?{DAY}"),
        format!("series?{DAY}&bucket=hour"),
        format!("funnel?{DAY}"),
        format!("cdrs?{DAY}"),
        format!("cdrs.csv?{DAY}"),
    ] {
        let (status, body) = get(&app, &viewer, &format!("/api/v1/reports/{path}")).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (_, body) = get(&app, &viewer, &format!("/api/v1/reports/summary?{DAY}")).await;
    assert_eq!(body["figures"]["calls"], json!(7));
    let (status, body) = post(
        &app,
        &viewer,
        "/api/v1/nodes",
        json!({"key": "bye", "kind": "hangup"}),
    )
    .await;
    assert_eq!((status, code(&body)), (403, "forbidden"));
    let (status, _) = get(
        &app,
        "not-a-token",
        &format!("/api/v1/reports/summary?{DAY}"),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn bad_parameters_are_refused_with_their_path() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (_, admin) = tenant_with_admin(&app, &root, "Params").await;
    let cases: [(&str, u16, &str); 18] = [
        ("summary?to=2026-11-24", 400, "from"),
        ("summary?from=2026-11-23", 400, "to"),
        ("summary?from=yesterday&to=2026-11-24", 400, "from"),
        ("summary?from=2026-11-24&to=2026-11-24", 422, "to"),
        ("summary?from=2026-11-25&to=2026-11-24", 422, "to"),
        ("summary?from=2025-01-01&to=2026-11-24", 422, "to"),
        ("series?from=2026-11-23&to=2026-11-24", 400, "bucket"),
        (
            "series?from=2026-11-23&to=2026-11-24&bucket=week",
            400,
            "bucket",
        ),
        (
            "by-target?from=2026-11-23&to=2026-11-24&limit=0",
            400,
            "limit",
        ),
        (
            "by-target?from=2026-11-23&to=2026-11-24&limit=101",
            400,
            "limit",
        ),
        (
            "summary?from=2026-11-23&to=2026-11-24&tz=Mars/Olympus",
            400,
            "tz",
        ),
        (
            "summary?from=2026-11-23&to=2026-11-24&compare=next",
            400,
            "compare",
        ),
        ("summary?form=2026-11-23&to=2026-11-24", 400, "form"),
        (
            "summary?from=2026-11-23&to=2026-11-24&did=1&did=2",
            400,
            "did",
        ),
        (
            "cdrs?from=2026-11-23&to=2026-11-24&cursor=nope",
            400,
            "cursor",
        ),
        ("summary?from=2026-03-27T02:30&to=2026-11-24", 400, "from"),
        ("calls/c1?from=2026-11-23", 400, "from"),
        ("calls/c1?tz=Mars/Olympus", 400, "tz"),
    ];
    for (path, expected, field) in cases {
        let (status, body) = get(&app, &admin, &format!("/api/v1/reports/{path}")).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert_eq!(
            body["error"]["details"][0]["path"],
            json!(field),
            "{path}: {body}"
        );
    }
    let (status, body) = get(
        &app,
        &admin,
        "/api/v1/reports/by-target?from=2026-11-23&to=2026-11-24&limit=100",
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Every report against SQL written here, independently, on a few hundred
/// pseudo-random calls and their steps over three days.
#[tokio::test]
async fn every_report_equals_a_direct_sql_computation() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_admin(&app, &root, "Cross Check").await;
    let (other, _) = tenant_with_admin(&app, &root, "Noise").await;
    for (owner, calls) in [(tenant, 400), (other, 50)] {
        sqlx::query(
            "INSERT INTO cdrs (tenant_id, call_id, did, caller_id, target, call_start, duration_secs, dial_secs, status, cause, raw, started_at)
             SELECT $1, $1 || '-' || i, '073' || (i % 3), '05' || (i * 7 % 37),
                    CASE WHEN i % 11 = 0 THEN '' ELSE '050' || (i * 13 % 9) END,
                    timestamptz '2026-11-20T21:30:00Z' + (i * 617 % 259200) * interval '1 second',
                    CASE WHEN i % 5 < 3 THEN i * 37 % 600 ELSE 0 END,
                    CASE WHEN i % 17 = 0 THEN NULL ELSE i * 3 % 41 END,
                    (ARRAY['ANSWER', 'ANSWER', 'ANSWER', 'NOANSWER', 'BUSY', 'CANCEL', 'CONGESTION', 'WEIRD'])[1 + i % 8],
                    (ARRAY[16, 16, 16, 19, 17, 16, 42, NULL])[1 + i % 8],
                    '{}',
                    timestamptz '2026-11-20T21:30:00Z' + (i * 617 % 259200) * interval '1 second'
             FROM generate_series(1, $2) i",
        )
        .bind(owner)
        .bind(calls)
        .execute(&app.pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO call_steps (tenant_id, call_id, at, did, caller_id, menu, dtmf, from_node, node_key, outcome, action)
             SELECT c.tenant_id, c.call_id, c.call_start + s.n * interval '3 seconds', c.did, c.caller_id, 'm', s.dtmf,
                    s.from_node, s.node_key, s.outcome, 'MENU'
             FROM cdrs c
             JOIN LATERAL (VALUES
                 (0, '', NULL, 'main', 'entered'),
                 (1, (length(c.call_id) % 3)::text, 'main', CASE WHEN length(c.call_id) % 2 = 0 THEN 'sales' ELSE 'main' END,
                     CASE WHEN length(c.call_id) % 2 = 0 THEN 'matched' ELSE 'invalid_retry' END),
                 (2, '', CASE WHEN c.duration_secs > 300 THEN 'sales' END, CASE WHEN c.duration_secs > 300 THEN 'sales' END,
                     CASE WHEN c.duration_secs > 300 THEN 'timeout_exhausted' ELSE 'x' END)
             ) AS s(n, dtmf, from_node, node_key, outcome) ON s.node_key IS NOT NULL
             WHERE c.tenant_id = $1",
        )
        .bind(owner)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    // Two local days in Jerusalem, then one in UTC with filters.
    let from = "2026-11-21T00:00:00+02:00";
    let to = "2026-11-23T00:00:00+02:00";
    let query = "from=2026-11-21&to=2026-11-23";
    let scalar = |sql: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, (Option<f64>,)>(sql)
                .bind(tenant)
                .bind(from)
                .bind(to)
                .fetch_one(&pool)
                .await
                .unwrap()
                .0
        }
    };
    let (_, body) = get(&app, &admin, &format!("/api/v1/reports/summary?{query}")).await;
    let f = &body["figures"];
    let expected = [
        ("calls", scalar("SELECT count(*)::float8 FROM cdrs WHERE tenant_id = $1 AND call_start >= $2::timestamptz AND call_start < $3::timestamptz").await),
        ("answered", scalar("SELECT count(*)::float8 FROM cdrs WHERE tenant_id = $1 AND call_start >= $2::timestamptz AND call_start < $3::timestamptz AND status = 'ANSWER'").await),
        ("asr", scalar("SELECT avg((status = 'ANSWER')::int)::float8 FROM cdrs WHERE tenant_id = $1 AND call_start >= $2::timestamptz AND call_start < $3::timestamptz").await),
        ("acd_secs", scalar("SELECT avg(duration_secs)::float8 FROM cdrs WHERE tenant_id = $1 AND call_start >= $2::timestamptz AND call_start < $3::timestamptz AND status = 'ANSWER'").await),
        ("talk_minutes", scalar("SELECT (sum(duration_secs) / 60.0)::float8 FROM cdrs WHERE tenant_id = $1 AND call_start >= $2::timestamptz AND call_start < $3::timestamptz AND status = 'ANSWER'").await),
        ("mean_dial_secs", scalar("SELECT avg(dial_secs)::float8 FROM cdrs WHERE tenant_id = $1 AND call_start >= $2::timestamptz AND call_start < $3::timestamptz").await),
        ("p95_dial_secs", scalar("SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY dial_secs) FROM cdrs WHERE tenant_id = $1 AND call_start >= $2::timestamptz AND call_start < $3::timestamptz").await),
        ("unique_callers", scalar("SELECT count(DISTINCT caller_id)::float8 FROM cdrs WHERE tenant_id = $1 AND call_start >= $2::timestamptz AND call_start < $3::timestamptz").await),
    ];
    assert!(f["calls"].as_i64().unwrap() > 100, "{body}");
    for (name, value) in expected {
        assert_close(&f[name], value.unwrap(), name);
    }

    let rows = |sql: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, (Option<String>, i64)>(sql)
                .bind(tenant)
                .bind(from)
                .bind(to)
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    let pairs = |body: &Value, key: &str, count: &str| -> Vec<(Option<String>, i64)> {
        body["figures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row[key]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| row[key].as_i64().map(|n| n.to_string())),
                    row[count].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let (_, body) = get(&app, &admin, &format!("/api/v1/reports/by-status?{query}")).await;
    assert_eq!(
        pairs(&body, "status", "calls"),
        rows("SELECT status, count(*) FROM cdrs WHERE tenant_id = $1 AND call_start >= $2::timestamptz AND call_start < $3::timestamptz GROUP BY status ORDER BY count(*) DESC, status").await
    );
    let (_, body) = get(&app, &admin, &format!("/api/v1/reports/by-cause?{query}")).await;
    assert_eq!(
        pairs(&body, "cause", "calls"),
        rows("SELECT cause::text, count(*) FROM cdrs WHERE tenant_id = $1 AND call_start >= $2::timestamptz AND call_start < $3::timestamptz GROUP BY cause ORDER BY count(*) DESC, cause NULLS LAST").await
    );
    let (_, body) = get(&app, &admin, &format!("/api/v1/reports/by-did?{query}")).await;
    assert_eq!(
        pairs(&body, "did", "answered"),
        rows("SELECT did, count(*) FILTER (WHERE status = 'ANSWER') FROM cdrs WHERE tenant_id = $1 AND call_start >= $2::timestamptz AND call_start < $3::timestamptz GROUP BY did ORDER BY count(*) DESC, did").await
    );
    let (_, body) = get(
        &app,
        &admin,
        &format!("/api/v1/reports/by-target?{query}&limit=5"),
    )
    .await;
    let top: Vec<(Option<String>, i64)> = body["figures"]["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["target"].as_str().map(str::to_owned),
                row["calls"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        top,
        rows("SELECT target, count(*) FROM cdrs WHERE tenant_id = $1 AND call_start >= $2::timestamptz AND call_start < $3::timestamptz AND target <> '' GROUP BY target ORDER BY count(*) DESC, target LIMIT 5").await
    );
    let (_, body) = get(
        &app,
        &admin,
        &format!("/api/v1/reports/series?{query}&bucket=hour"),
    )
    .await;
    let hours: Vec<(Option<String>, i64)> = body["figures"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["calls"].as_i64().unwrap() > 0)
        .map(|p| {
            (
                p["start"].as_str().map(str::to_owned),
                p["calls"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        hours,
        rows("SELECT to_char(date_trunc('hour', call_start AT TIME ZONE 'Asia/Jerusalem'), 'YYYY-MM-DD\"T\"HH24:MI:SS') || '+02:00', count(*)
              FROM cdrs WHERE tenant_id = $1 AND call_start >= $2::timestamptz AND call_start < $3::timestamptz GROUP BY 1 ORDER BY 1").await
    );
    let (_, body) = get(&app, &admin, &format!("/api/v1/reports/funnel?{query}")).await;
    let reached: Vec<(Option<String>, i64)> = funnel_nodes(&body)
        .iter()
        .map(|n| {
            (
                n["node"].as_str().map(str::to_owned),
                n["reached"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reached,
        rows("SELECT node, count(DISTINCT call_id) FROM (
                  SELECT s.call_id, unnest(ARRAY[s.node_key,
                         CASE WHEN s.outcome <> 'unknown_menu' THEN s.from_node END]) AS node
                  FROM call_steps s JOIN cdrs c USING (tenant_id, call_id)
                  WHERE c.tenant_id = $1 AND c.call_start >= $2::timestamptz AND c.call_start < $3::timestamptz) v
              WHERE node IS NOT NULL GROUP BY node ORDER BY 2 DESC, 1").await
    );
    let mut ended: Vec<(Option<String>, i64)> = funnel_nodes(&body)
        .iter()
        .filter(|n| n["ended"].as_i64().unwrap() > 0)
        .map(|n| {
            (
                n["node"].as_str().map(str::to_owned),
                n["ended"].as_i64().unwrap(),
            )
        })
        .collect();
    ended.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(
        ended,
        rows("SELECT node_key, count(*) FROM (
                  SELECT DISTINCT ON (s.call_id) s.node_key FROM call_steps s JOIN cdrs c USING (tenant_id, call_id)
                  WHERE c.tenant_id = $1 AND c.call_start >= $2::timestamptz AND c.call_start < $3::timestamptz
                  ORDER BY s.call_id, s.at DESC) last
              GROUP BY node_key ORDER BY count(*) DESC, node_key").await
    );
    let (_, body) = get(
        &app,
        &admin,
        &format!("/api/v1/reports/cdrs?{query}&limit=200"),
    )
    .await;
    let listed = body["items"].as_array().unwrap().len() as f64;
    let total = scalar("SELECT count(*)::float8 FROM cdrs WHERE tenant_id = $1 AND call_start >= $2::timestamptz AND call_start < $3::timestamptz").await.unwrap();
    assert_eq!(listed, total.min(200.0));
    let csv = app
        .http
        .get(format!("{}/api/v1/reports/cdrs.csv?{query}", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        csv.matches("\r\n").count() as f64,
        total + 1.0,
        "header + one line per CDR"
    );
}

/// With `compare=previous`, every report's `previous.figures` is documented
/// as what it is: the same schema as its `figures`.
#[test]
fn each_report_documents_its_previous_figures_as_its_own() {
    let spec = serde_json::to_value(ivrhub::admin::openapi()).unwrap();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    let reports: Vec<&String> = schemas
        .keys()
        .filter(|k| k.starts_with("Report_"))
        .collect();
    assert!(reports.len() >= 8, "{reports:?}");
    for name in reports {
        let report = &schemas[name]["properties"];
        let previous = report["previous"]["oneOf"]
            .as_array()
            .and_then(|variants| variants.iter().find(|v| v["type"] == "object"))
            .unwrap_or_else(|| panic!("{name}: {}", report["previous"]));
        assert_eq!(
            previous["properties"]["figures"], report["figures"],
            "{name}"
        );
    }
}

/// A call's steps count from one hour before its start to 24 hours after,
/// as the funnel's documentation says: not to 24 hours after the range.
#[tokio::test]
async fn the_funnel_counts_each_calls_steps_within_a_day_of_its_start() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_admin(&app, &root, "Window").await;
    let cdr = Cdr {
        call_id: "w1",
        did: DID_1,
        caller: "0541",
        target: "",
        start: "2026-11-23T00:30:00+02:00",
        duration: Some(10),
        dial: Some(0),
        status: "ANSWER",
    };
    insert_cdr(&app, tenant, &cdr).await;
    insert_steps(
        &app,
        tenant,
        "w1",
        "2026-11-23T00:30:00+02:00",
        &[("-1", "", None, "main", "entered", "MENU")],
    )
    .await;
    // Logged 34 hours after the call started (still within 24 hours of the range's end).
    insert_steps(
        &app,
        tenant,
        "w1",
        "2026-11-24T10:30:00+02:00",
        &[("main", "1", Some("main"), "late", "matched", "HANGUP")],
    )
    .await;
    let (status, body) = get(&app, &admin, &format!("/api/v1/reports/funnel?{DAY}")).await;
    assert_eq!(status, 200, "{body}");
    let nodes: Vec<&str> = body["figures"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, ["main"], "the late step is not the call's: {body}");
}
