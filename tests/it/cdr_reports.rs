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
