//! HANGUP_CALL: every report becomes exactly one durable CDR.

use crate::harness::TestApp;
use crate::voicenter_client::{DEMO_DID, json_hangup};

const SPEC_HANGUP_XML: &str = include_str!("../fixtures/spec/hangup_call_request.xml");
const SPEC_HANGUP_JSON: &str = include_str!("../fixtures/spec/hangup_call_request.json");

fn is_ok_ack(body: &str) -> bool {
    let compact: String = body.split_whitespace().collect();
    compact.contains("<name>STATUS</name><value><int>0</int></value>")
        || compact == r#"{"STATUS":0}"#
}

#[derive(Debug, sqlx::FromRow, PartialEq)]
struct StoredCdr {
    tenant_id: i64,
    did: String,
    caller_id: String,
    target: String,
    call_time_epoch: Option<i64>,
    call_start_epoch: Option<i64>,
    duration_secs: Option<i64>,
    dial_secs: Option<i64>,
    status: String,
    cause: Option<i16>,
    raw_status: String,
}

async fn stored(app: &TestApp, call_id: &str) -> Vec<StoredCdr> {
    sqlx::query_as(
        "SELECT tenant_id, did, caller_id, target,
                extract(epoch FROM call_time)::bigint AS call_time_epoch,
                extract(epoch FROM call_start)::bigint AS call_start_epoch,
                duration_secs, dial_secs, status, cause, raw->>'CALL_STATUS' AS raw_status
         FROM cdrs WHERE call_id = $1",
    )
    .bind(call_id)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_specs_own_reports_are_stored_once() {
    let app = TestApp::spawn().await;
    let tenant = app.with_demo().await;
    let xml = app.post("/voicenter", "text/xml", SPEC_HANGUP_XML).await;
    assert_eq!(xml.status, 200, "{}", xml.body);
    assert!(xml.content_type.starts_with("text/xml"));
    assert!(is_ok_ack(&xml.body), "{}", xml.body);
    let rows = stored(&app, "ced4619f30fc17182d8e41ddf4d6869X").await;
    assert_eq!(
        rows,
        vec![StoredCdr {
            tenant_id: tenant,
            did: "0730000000".into(),
            caller_id: "0540000000".into(),
            target: "0500000555".into(),
            call_time_epoch: Some(15_616_841_651),
            call_start_epoch: Some(15_616_841_612),
            duration_secs: Some(125),
            dial_secs: Some(15),
            status: "ANSWER".into(),
            cause: Some(16),
            raw_status: "ANSWERED".into(),
        }]
    );
    // The JSON example reports the same call: a retry, absorbed.
    let json = app
        .post("/voicenter", "application/json", SPEC_HANGUP_JSON)
        .await;
    assert_eq!(json.status, 200);
    assert!(json.content_type.starts_with("application/json"));
    assert!(is_ok_ack(&json.body), "{}", json.body);
    let rows = stored(&app, "ced4619f30fc17182d8e41ddf4d6869X").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].duration_secs, Some(125), "the first report is kept");
}

#[tokio::test]
async fn fifty_simultaneous_retries_make_one_cdr() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let body = json_hangup(DEMO_DID, "dup00000000000000000000000000050", "BUSY");
    let sends = (0..50).map(|_| app.post("/voicenter", "application/json", body.clone()));
    let responses = futures_util::future::join_all(sends).await;
    for response in &responses {
        assert_eq!(response.status, 200, "{}", response.body);
        assert!(is_ok_ack(&response.body), "{}", response.body);
    }
    let rows = stored(&app, "dup00000000000000000000000000050").await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].status.as_str(), rows[0].cause), ("BUSY", Some(17)));
}

#[tokio::test]
async fn a_report_for_an_unknown_number_is_kept_without_a_tenant() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let body = json_hangup(
        "0799999999",
        "orphan000000000000000000000000001",
        "NOANSWER",
    );
    let response = app.post("/voicenter", "application/json", body).await;
    assert_eq!(response.status, 200);
    assert!(is_ok_ack(&response.body));
    let (did, status, cause): (String, String, Option<i16>) =
        sqlx::query_as("SELECT did, status, cause FROM orphan_cdrs WHERE call_id = 'orphan000000000000000000000000001'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (did.as_str(), status.as_str(), cause),
        ("0799999999", "NOANSWER", Some(19))
    );
    let in_tenants: i64 = sqlx::query_scalar("SELECT count(*) FROM cdrs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(in_tenants, 0);
}

#[tokio::test]
async fn an_unknown_status_is_kept_as_sent() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let body = json_hangup(
        DEMO_DID,
        "new-status-00000000000000000000001",
        " somethingNew ",
    );
    assert_eq!(
        app.post("/voicenter", "application/json", body)
            .await
            .status,
        200
    );
    let rows = stored(&app, "new-status-00000000000000000000001").await;
    assert_eq!(
        (rows[0].status.as_str(), rows[0].cause),
        ("SOMETHINGNEW", None)
    );
}

#[tokio::test]
async fn numbers_sent_as_strings_and_missing_fields_are_accepted() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let body = r#"{"METHOD":"HANGUP_CALL","DATA":{"DID":"0730000000","IVR_UNIQUE_ID":"strings-000000000000000000000001",
        "CALL_DURATION":" 42 ","CALL_DAILTIME":"3","CALL_STATUS":"ANSWER","CALL_START_EPOCH":"1700000000"}}"#;
    let response = app.post("/voicenter", "application/json", body).await;
    assert_eq!(response.status, 200, "{}", response.body);
    let rows = stored(&app, "strings-000000000000000000000001").await;
    assert_eq!(
        (
            rows[0].duration_secs,
            rows[0].dial_secs,
            rows[0].call_start_epoch
        ),
        (Some(42), Some(3), Some(1_700_000_000))
    );
    assert_eq!(
        (
            rows[0].caller_id.as_str(),
            rows[0].target.as_str(),
            rows[0].call_time_epoch
        ),
        ("", "", None)
    );
}

#[derive(Debug, sqlx::FromRow, PartialEq)]
struct Exact {
    call_id: String,
    caller_id: String,
    target: String,
    status: String,
    cause: Option<i16>,
    duration_secs: Option<i64>,
    call_start_epoch: Option<i64>,
    raw: serde_json::Value,
}

/// Every odd input the codec accepts lands in the row exactly as documented.
#[tokio::test]
async fn hebrew_odd_numbers_and_duplicate_keys_are_stored_as_documented() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let post = |body: String| app.post("/voicenter", "application/json", body);
    let accepted = [
        // Hebrew everywhere, whitespace inside the call id.
        r#"{"METHOD":"HANGUP_CALL","DATA":{"DID":"0730000000","IVR_UNIQUE_ID":"heb 00\n01","CALLER_ID":"שלום","TARGET":"יעד","CALL_STATUS":"עונה"}}"#.to_owned(),
        // Duplicate keys: the last one wins, names compared case-insensitively.
        r#"{"METHOD":"HANGUP_CALL","DATA":{"DID":"0730000000","IVR_UNIQUE_ID":"dup-a","IVR_UNIQUE_ID":"dup-b","CALL_STATUS":"BUSY","call_status":"ANSWER"}}"#.to_owned(),
        // -0 is 0; negative durations and epochs are not stored as values (raw keeps them).
        r#"{"METHOD":"HANGUP_CALL","DATA":{"DID":"0730000000","IVR_UNIQUE_ID":"minus-zero","CALL_DURATION":-0}}"#.to_owned(),
        r#"{"METHOD":"HANGUP_CALL","DATA":{"DID":"0730000000","IVR_UNIQUE_ID":"negative","CALL_DURATION":-7,"CALL_START_EPOCH":-5}}"#.to_owned(),
        // A 10 KB status is kept whole.
        format!(r#"{{"METHOD":"HANGUP_CALL","DATA":{{"DID":"0730000000","IVR_UNIQUE_ID":"long-status","CALL_STATUS":"{}"}}}}"#, "b".repeat(10_000)),
    ];
    for body in accepted {
        let response = post(body).await;
        assert_eq!(response.status, 200, "{}", response.body);
    }
    // A number that is no integer is stored truncated or as null, the CDR is
    // kept: a refused report would be retried forever and the call never counted.
    let odd_numbers = ["1e400", "9999999999999999999999", "4.5"];
    for (n, number) in odd_numbers.iter().enumerate() {
        let body = format!(
            r#"{{"METHOD":"HANGUP_CALL","DATA":{{"DID":"0730000000","IVR_UNIQUE_ID":"odd-{n}","CALL_DURATION":{number},"CALL_STATUS":"ANSWER"}}}}"#
        );
        let response = post(body).await;
        assert_eq!(response.status, 200, "{number}: {}", response.body);
        assert!(is_ok_ack(&response.body), "{number}: {}", response.body);
    }
    let rows: Vec<Exact> = sqlx::query_as(
        "SELECT call_id, caller_id, target, status, cause, duration_secs,
                extract(epoch FROM call_start)::bigint AS call_start_epoch, raw
         FROM cdrs ORDER BY call_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let row = |call_id: &str| {
        rows.iter()
            .find(|r| r.call_id == call_id)
            .unwrap_or_else(|| panic!("{call_id} in {rows:?}"))
    };
    assert_eq!(rows.len(), 8, "{rows:?}");
    // Out of range: left out; a fraction: dropped.
    for (n, duration) in [None, None, Some(4)].into_iter().enumerate() {
        let odd = row(&format!("odd-{n}"));
        assert_eq!(
            (odd.status.as_str(), odd.duration_secs),
            ("ANSWER", duration)
        );
    }
    assert_eq!(
        row("odd-2").raw["CALL_DURATION"],
        4.5,
        "raw keeps the number"
    );
    let hebrew = row("heb0001");
    assert_eq!(
        (
            hebrew.caller_id.as_str(),
            hebrew.target.as_str(),
            hebrew.status.as_str(),
            hebrew.cause
        ),
        ("שלום", "יעד", "עונה", None)
    );
    assert_eq!(
        hebrew.raw["IVR_UNIQUE_ID"], "heb 00\n01",
        "raw keeps what was sent"
    );
    let duplicate = row("dup-b");
    assert_eq!(
        (duplicate.status.as_str(), duplicate.cause),
        ("ANSWER", Some(16))
    );
    assert_eq!(row("minus-zero").duration_secs, Some(0));
    let negative = row("negative");
    assert_eq!(
        (negative.duration_secs, negative.call_start_epoch),
        (None, None)
    );
    assert_eq!(
        (
            negative.raw["CALL_DURATION"].as_i64(),
            negative.raw["CALL_START_EPOCH"].as_i64()
        ),
        (Some(-7), Some(-5))
    );
    assert_eq!(row("long-status").status, "B".repeat(10_000));
}

/// The single-statement insert absorbs duplicates inside one batch, across
/// batches, and across concurrent batches.
#[tokio::test]
async fn duplicates_within_and_across_batches_make_one_row() {
    use ivrhub::storage::cdrs::{NewCdr, insert_cdrs};
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let cdr = |call_id: &str, did: &str, status: &str| NewCdr {
        call_id: call_id.into(),
        did: did.into(),
        caller_id: "0540000000".into(),
        target: String::new(),
        call_time: None,
        call_start: None,
        duration_secs: Some(1),
        dial_secs: None,
        status: status.into(),
        cause: None,
        raw: serde_json::json!({}),
    };
    let batch = [
        cdr("same", DEMO_DID, "ANSWER"),
        cdr("same", DEMO_DID, "BUSY"),
        cdr("other", DEMO_DID, "ANSWER"),
        cdr("orphan", "0799999999", "ANSWER"),
        cdr("orphan", "0799999999", "BUSY"),
    ];
    insert_cdrs(&app.pool, &batch).await.unwrap();
    let concurrent = (0..8).map(|_| insert_cdrs(&app.pool, &batch));
    for result in futures_util::future::join_all(concurrent).await {
        result.unwrap();
    }
    let counts: (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM cdrs), (SELECT count(*) FROM orphan_cdrs)")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(counts, (2, 1));
}

/// Two batches holding the same calls in opposite orders used to deadlock:
/// each waits for a key the other inserted; PostgreSQL aborts one after a
/// second, and every report of that batch is answered 503. Rows are now
/// inserted in key order, so concurrent batches take their locks in the
/// same order.
#[tokio::test]
async fn batches_with_the_same_calls_in_another_order_do_not_deadlock() {
    use ivrhub::storage::cdrs::{NewCdr, insert_cdrs};
    let app = TestApp::spawn().await;
    let tenant = app.with_demo().await;
    let cdr = |call_id: &str| NewCdr {
        call_id: call_id.into(),
        did: DEMO_DID.into(),
        caller_id: String::new(),
        target: String::new(),
        call_time: None,
        call_start: None,
        duration_secs: None,
        dial_secs: None,
        status: "ANSWER".into(),
        cause: Some(16),
        raw: serde_json::json!({}),
    };
    // Another writer, claiming and inserting one call at a time.
    let insert_one = "WITH claimed AS (
                          INSERT INTO cdr_claims (call_id, tenant_id) VALUES ($2, $1)
                          ON CONFLICT DO NOTHING RETURNING call_id)
                      INSERT INTO cdrs (tenant_id, call_id, did, caller_id, target, status, raw, started_at)
                      SELECT $1, call_id, $3, '', '', 'BUSY', '{}', now() FROM claimed";
    // Whatever order a batch arrives in (and whatever order the plan
    // produces), it must not deadlock with a batch inserting in key order.
    for (round, reversed) in [("a", false), ("b", true)] {
        let x = format!("deadlock-{round}-x");
        let y = format!("deadlock-{round}-y");
        // The other batch: x inserted, not committed yet.
        let mut other = app.pool.begin().await.unwrap();
        sqlx::query(insert_one)
            .bind(tenant)
            .bind(&x)
            .bind(DEMO_DID)
            .execute(&mut *other)
            .await
            .unwrap();
        let mut calls = vec![cdr(&x), cdr(&y)];
        if reversed {
            calls.reverse();
        }
        let pool = app.pool.clone();
        let batch = tokio::spawn(async move { insert_cdrs(&pool, &calls).await });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        // The other batch goes on with y.
        sqlx::query(insert_one)
            .bind(tenant)
            .bind(&y)
            .bind(DEMO_DID)
            .execute(&mut *other)
            .await
            .unwrap_or_else(|e| panic!("round {round}: the other batch: {e}"));
        other.commit().await.unwrap();
        batch
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("round {round}: this batch: {e}"));
    }
    let statuses: Vec<String> = sqlx::query_scalar(
        "SELECT status FROM cdrs WHERE call_id LIKE 'deadlock-%' ORDER BY call_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        statuses, ["BUSY"; 4],
        "the first committed report of each call is kept"
    );
}

/// Where each copy of `call_id` is stored: (tenant rows, orphan rows).
async fn copies(app: &TestApp, call_id: &str) -> (Vec<i64>, i64) {
    let tenants: Vec<i64> = sqlx::query_scalar("SELECT tenant_id FROM cdrs WHERE call_id = $1")
        .bind(call_id)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let orphans: i64 = sqlx::query_scalar("SELECT count(*) FROM orphan_cdrs WHERE call_id = $1")
        .bind(call_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    (tenants, orphans)
}

#[tokio::test]
async fn a_retry_after_the_number_moved_stays_where_the_first_report_went() {
    let app = TestApp::spawn().await;
    let demo = app.with_demo().await;
    let other = ivrhub::storage::tenants::ensure_tenant(
        &app.pool,
        &ivrhub::storage::tenants::NewTenant {
            name: "Other",
            time_zone: "UTC",
            language: ivrhub::voicenter::types::Language::En,
        },
    )
    .await
    .unwrap();
    let report = |call_id: &str, did: &str| json_hangup(did, call_id, "ANSWER");

    // Owned by the demo when first reported; moved to another tenant; retried.
    let moved = "moved-00000000000000000000000000001";
    assert_eq!(
        app.post("/voicenter", "application/json", report(moved, DEMO_DID))
            .await
            .status,
        200
    );
    sqlx::query("UPDATE dids SET tenant_id = $1, entry_node = NULL WHERE did = $2")
        .bind(other)
        .bind(DEMO_DID)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.post("/voicenter", "application/json", report(moved, DEMO_DID))
            .await
            .status,
        200
    );
    assert_eq!(
        copies(&app, moved).await,
        (vec![demo], 0),
        "the other tenant never sees the demo's call"
    );

    // Unknown when first reported; the number is assigned later; retried.
    let late = "late-assignment-000000000000000000001";
    assert_eq!(
        app.post("/voicenter", "application/json", report(late, "0731234567"))
            .await
            .status,
        200
    );
    sqlx::query(
        "INSERT INTO dids (did, tenant_id) VALUES ('0731234567', $1) ON CONFLICT DO NOTHING",
    )
    .bind(other)
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        app.post("/voicenter", "application/json", report(late, "0731234567"))
            .await
            .status,
        200
    );
    assert_eq!(copies(&app, late).await, (vec![], 1));
}

/// V11 re-derives the causes of CDRs stored before it (CONGESTION was 42,
/// INVALIDARGS 28) and makes the days rolled up with them roll again.
#[tokio::test]
async fn the_cause_migration_re_derives_stored_causes_and_re_rolls_their_days() {
    let url = crate::harness::empty_database().await;
    ivrhub::db::migrate_to(&url, Some(10)).await.unwrap();
    let pool = ivrhub::db::connect_pool(&url, 2).await.unwrap();
    let tenant: i64 =
        sqlx::query_scalar("INSERT INTO tenants (name) VALUES ('Old') RETURNING tenant_id")
            .fetch_one(&pool)
            .await
            .unwrap();
    // As stored before: (call, status, cause, day).
    let stored = [
        ("c1", "CONGESTION", Some(42i16), "2026-11-20"),
        ("c2", "INVALIDARGS", Some(28), "2026-11-20"),
        ("c3", "BUSY", Some(17), "2026-11-21"),
        ("c4", "WEIRD", None, "2026-11-21"),
    ];
    for (call, status, cause, day) in stored {
        sqlx::query(
            "INSERT INTO cdrs (tenant_id, call_id, did, caller_id, target, call_start, call_time, status, cause, raw)
             VALUES ($1, $2, '0733', '054', '050', $3::date, $3::date, $4, $5, '{}')",
        )
        .bind(tenant)
        .bind(call)
        .bind(day)
        .bind(status)
        .bind(cause)
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO orphan_cdrs (call_id, did, caller_id, target, status, cause, raw)
         VALUES ('o1', '0739', '054', '050', 'CONGESTION', 42, '{}')",
    )
    .execute(&pool)
    .await
    .unwrap();
    // Three days rolled up: the 20th with the old causes, the 22nd with a
    // funnel from before it counted the calls the IVR hung up on.
    sqlx::query("INSERT INTO report_rollup_days (tenant_id, day) VALUES ($1, '2026-11-22')")
        .bind(tenant)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO report_funnel_daily (tenant_id, day, status, node, kind, detail, count)
         VALUES ($1, '2026-11-22', 'ANSWER', 'main', 'ended', NULL, 3)",
    )
    .bind(tenant)
    .execute(&pool)
    .await
    .unwrap();
    for (day, status, cause) in [
        ("2026-11-20", "CONGESTION", Some(42i16)),
        ("2026-11-21", "BUSY", Some(17)),
    ] {
        sqlx::query("INSERT INTO report_rollup_days (tenant_id, day) VALUES ($1, $2::date)")
            .bind(tenant)
            .bind(day)
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO report_cdr_hourly (tenant_id, day, hour, status, cause, calls, answered, talk_secs,
                                            answered_with_duration, dial_secs_sum, with_dial_time)
             VALUES ($1, $2::date, $2::date, $3, $4, 1, 0, 0, 0, 0, 0)",
        )
        .bind(tenant)
        .bind(day)
        .bind(status)
        .bind(cause)
        .execute(&pool)
        .await
        .unwrap();
    }

    ivrhub::db::migrate(&url).await.unwrap();
    let causes: Vec<(String, Option<i16>)> =
        sqlx::query_as("SELECT status, cause FROM cdrs ORDER BY call_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    for (status, cause) in &causes {
        let expected = if status == "WEIRD" {
            None
        } else {
            ivrhub::cdr::cause_for_status(status)
        };
        assert_eq!(*cause, expected, "{status}");
    }
    assert_eq!(causes[0], ("CONGESTION".to_owned(), Some(34)));
    assert_eq!(causes[1], ("INVALIDARGS".to_owned(), None));
    let rolled: Vec<String> = sqlx::query_scalar(
        "SELECT day::text FROM report_rollup_days WHERE tenant_id = $1 ORDER BY day",
    )
    .bind(tenant)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rolled,
        ["2026-11-21"],
        "the 20th (old causes) and the 22nd (old funnel) are forgotten, to roll again"
    );
    let orphan: Option<i16> = sqlx::query_scalar("SELECT cause FROM orphan_cdrs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(orphan, Some(34), "orphan reports too");
    let old_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM report_cdr_hourly WHERE cause = 42")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(old_rows, 0);
    pool.close().await;
    crate::harness::drop_database(&url).await;
}
