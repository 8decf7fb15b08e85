//! Malformed, oversized, unknown and hostile requests: each gets a clear
//! answer in its own encoding, and nothing is stored.

use crate::harness::{Response, TestApp};
use crate::voicenter_client::{DEMO_DID, json_hangup};

/// STATUS, ERROR_CODE of a JSON error answer.
fn json_error(response: &Response) -> (i64, String) {
    let value: serde_json::Value = serde_json::from_str(&response.body)
        .unwrap_or_else(|_| panic!("not JSON: {}", response.body));
    (
        value["STATUS"].as_i64().unwrap(),
        value["ERROR_CODE"].as_str().unwrap().to_owned(),
    )
}

/// True when an XML-RPC error answer carries STATUS 1 and `code`.
fn xml_error_has(response: &Response, code: &str) -> bool {
    let compact: String = response.body.split_whitespace().collect();
    compact.starts_with("<?xml")
        && compact.contains("<name>STATUS</name><value><int>1</int></value>")
        && compact.contains(&format!("<string>{code}</string>"))
}

async fn nothing_stored(app: &TestApp) {
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM cdrs), (SELECT count(*) FROM orphan_cdrs), (SELECT count(*) FROM call_steps)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(counts, (0, 0, 0));
}

#[tokio::test]
async fn malformed_json_and_xml_get_a_400_in_their_encoding() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let json = app
        .post(
            "/voicenter",
            "application/json",
            r#"{"METHOD": "HANGUP_CALL", "DATA": {"#,
        )
        .await;
    assert_eq!(json.status, 400);
    assert!(json.content_type.starts_with("application/json"));
    assert_eq!(json_error(&json), (1, "malformed".into()));

    let xml = app
        .post(
            "/voicenter",
            "text/xml",
            "<?xml version=\"1.0\"?><methodCall><methodName>GET_IVR_ACTION</methodName><params>",
        )
        .await;
    assert_eq!(xml.status, 400);
    assert!(xml.content_type.starts_with("text/xml"));
    assert!(xml_error_has(&xml, "malformed"), "{}", xml.body);

    let garbage = app
        .post(
            "/voicenter",
            "application/octet-stream",
            vec![0xff_u8, 0xfe, 0x00, 0x12],
        )
        .await;
    assert_eq!(garbage.status, 400);
    let empty = app.post("/voicenter", "application/json", "").await;
    assert_eq!(
        (empty.status, json_error(&empty).1.as_str()),
        (400, "malformed")
    );
    nothing_stored(&app).await;
}

#[tokio::test]
async fn unknown_methods_and_missing_fields_are_named() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let unknown = app
        .post(
            "/voicenter",
            "application/json",
            r#"{"METHOD":"DELETE_EVERYTHING","DATA":{"DID":"1","IVR_UNIQUE_ID":"x"}}"#,
        )
        .await;
    assert_eq!(
        (unknown.status, json_error(&unknown).1.as_str()),
        (400, "unknown_method")
    );
    assert!(unknown.body.contains("DELETE_EVERYTHING"));

    let no_did = app
        .post(
            "/voicenter",
            "application/json",
            r#"{"METHOD":"HANGUP_CALL","DATA":{"IVR_UNIQUE_ID":"abc"}}"#,
        )
        .await;
    assert_eq!(
        (no_did.status, json_error(&no_did).1.as_str()),
        (400, "missing_field")
    );
    assert!(no_did.body.contains("DID"));

    let no_id = app
        .post(
            "/voicenter",
            "application/json",
            format!(r#"{{"METHOD":"GET_IVR_ACTION","DATA":{{"DID":"{DEMO_DID}"}}}}"#),
        )
        .await;
    assert_eq!(
        (no_id.status, json_error(&no_id).1.as_str()),
        (400, "missing_field")
    );
    assert!(no_id.body.contains("IVR_UNIQUE_ID"));

    let wrong_type = app.post(
        "/voicenter",
        "application/json",
        r#"{"METHOD":"HANGUP_CALL","DATA":{"DID":"0730000000","IVR_UNIQUE_ID":"t","TARGET":["0501"]}}"#,
    ).await;
    assert_eq!(
        (wrong_type.status, json_error(&wrong_type).1.as_str()),
        (400, "invalid_field")
    );
    assert!(wrong_type.body.contains("TARGET"), "{}", wrong_type.body);
    nothing_stored(&app).await;
}

#[tokio::test]
async fn entity_tricks_are_refused_without_expansion() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<methodCall><methodName>HANGUP_CALL</methodName><params><param><value><struct>
<member><name>DID</name><value>&lol2;</value></member>
<member><name>IVR_UNIQUE_ID</name><value>x</value></member></struct></value></param></params></methodCall>"#;
    let response = app.post("/voicenter", "text/xml", laughs).await;
    assert_eq!(response.status, 400);
    assert!(xml_error_has(&response, "forbidden"), "{}", response.body);

    let external = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><methodCall><methodName>&xxe;</methodName></methodCall>"#;
    let response = app.post("/voicenter", "text/xml", external).await;
    assert_eq!(response.status, 400);
    assert!(xml_error_has(&response, "forbidden"), "{}", response.body);
    assert!(!response.body.contains("root:"));

    let undeclared = "<methodCall><methodName>HANGUP_CALL</methodName><params><param><value><struct><member><name>DID</name><value>&nope;</value></member></struct></value></param></params></methodCall>";
    let response = app.post("/voicenter", "text/xml", undeclared).await;
    assert_eq!(response.status, 400);
    assert!(xml_error_has(&response, "forbidden"), "{}", response.body);
    nothing_stored(&app).await;
}

#[tokio::test]
async fn deep_nesting_is_refused() {
    let app = TestApp::spawn().await;
    let depth = 10_000;
    let json = format!(
        r#"{{"METHOD":"HANGUP_CALL","DATA":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let response = app.post("/voicenter", "application/json", json).await;
    assert_eq!(
        (response.status, json_error(&response).1.as_str()),
        (400, "too_deep")
    );

    let xml = format!(
        "<methodCall><methodName>HANGUP_CALL</methodName><params><param>{}{}</param></params></methodCall>",
        "<value><array><data>".repeat(200),
        "</data></array></value>".repeat(200)
    );
    let response = app.post("/voicenter", "text/xml", xml).await;
    assert_eq!(response.status, 400);
    assert!(xml_error_has(&response, "too_deep"), "{}", response.body);
    nothing_stored(&app).await;
}

#[tokio::test]
async fn oversized_bodies_get_413_and_are_not_read() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let padding = " ".repeat(70 * 1024);
    let body = json_hangup(DEMO_DID, "big00000000000000000000000000001", "ANSWER").replacen(
        '{',
        &format!("{{{padding}"),
        1,
    );
    let response = app.post("/voicenter", "application/json", body).await;
    assert_eq!(
        (response.status, json_error(&response).1.as_str()),
        (413, "too_large")
    );
    nothing_stored(&app).await;
}

#[tokio::test]
async fn only_the_secret_path_and_allowed_addresses_reach_the_webhook() {
    let settings = ivrhub::config::ServeSettings {
        webhook_secret: Some("s3cr3t-path-segment-0123".parse().unwrap()),
        ..ivrhub::config::ServeSettings::for_tests()
    };
    let app = TestApp::spawn_with(settings).await;
    app.with_demo().await;
    let body = json_hangup(DEMO_DID, "secret0000000000000000000000000001", "ANSWER");
    assert_eq!(
        app.post("/voicenter", "application/json", body.clone())
            .await
            .status,
        404
    );
    assert_eq!(
        app.post(
            "/voicenter/wrong-secret-0000000000",
            "application/json",
            body.clone()
        )
        .await
        .status,
        404
    );
    nothing_stored(&app).await;
    assert_eq!(
        app.post(
            "/voicenter/s3cr3t-path-segment-0123",
            "application/json",
            body
        )
        .await
        .status,
        200
    );

    let settings = ivrhub::config::ServeSettings {
        webhook_allow: vec!["192.0.2.0/24".parse().unwrap()],
        ..ivrhub::config::ServeSettings::for_tests()
    };
    let fenced = TestApp::spawn_with(settings).await;
    let refused = fenced
        .post(
            "/voicenter",
            "application/json",
            json_hangup(DEMO_DID, "fenced", "ANSWER"),
        )
        .await;
    assert_eq!(
        (refused.status, json_error(&refused).1.as_str()),
        (403, "forbidden")
    );
}

/// Text that does not compress (a long run of one letter would fit in an index).
fn noise(length: usize) -> String {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..length)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

/// A call id or number of kilobytes cannot be indexed: without a limit such
/// a report was answered 503 for ever (and such a step broke the step log).
#[tokio::test]
async fn overlong_call_ids_and_numbers_are_refused_by_name() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let long_id = noise(60_000);
    let cases = [
        (
            json_hangup(DEMO_DID, &long_id, "ANSWER"),
            "IVR_UNIQUE_ID is longer than 128 characters",
        ),
        (
            json_hangup(
                &noise(60_000),
                "long-did-000000000000000000000001",
                "ANSWER",
            ),
            "DID is longer than 64 characters",
        ),
        (
            crate::voicenter_client::json_step(DEMO_DID, "0540000000", &long_id, "-1", ""),
            "IVR_UNIQUE_ID is longer than 128 characters",
        ),
    ];
    for (body, message) in cases {
        let response = app.post("/voicenter", "application/json", body).await;
        assert_eq!(
            (response.status, json_error(&response).1.as_str()),
            (400, "invalid_field"),
            "{}",
            response.body
        );
        let value: serde_json::Value = serde_json::from_str(&response.body).unwrap();
        assert_eq!(value["ERROR_MESSAGE"], message);
    }
    // The limits themselves are fine, and Hebrew counts in characters.
    let longest = "א".repeat(128);
    let response = app
        .post(
            "/voicenter",
            "application/json",
            json_hangup(DEMO_DID, &longest, "ANSWER"),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    let stored: String = sqlx::query_scalar("SELECT call_id FROM cdrs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, longest);
}

/// PostgreSQL's text and jsonb cannot hold U+0000: a NUL in any field made
/// the report fail (503, retried for ever) and made the whole batch of call
/// steps it was logged with fail. It is stored as U+FFFD instead.
#[tokio::test]
async fn nul_characters_are_stored_as_replacement_characters() {
    let app = TestApp::spawn().await;
    app.with_demo().await;
    let json = r#"{"METHOD":"HANGUP_CALL","DATA":{"DID":"0730000000","IVR_UNIQUE_ID":"nul-json-0000000000000000000001",
        "CALLER_ID":"054\u0000","CALL_STATUS":"ANSWER","EXTRA\u0000":"x\u0000y"}}"#;
    let response = app.post("/voicenter", "application/json", json).await;
    assert_eq!(response.status, 200, "{}", response.body);
    // A raw NUL byte inside an XML-RPC value.
    let xml = "<methodCall><methodName>HANGUP_CALL</methodName><params><param><value><struct>\
        <member><name>DID</name><value>0730000000</value></member>\
        <member><name>IVR_UNIQUE_ID</name><value>nul-xml-00000000000000000000001</value></member>\
        <member><name>TARGET</name><value>05\u{0}5</value></member>\
        </struct></value></param></params></methodCall>";
    let response = app.post("/voicenter", "text/xml", xml).await;
    assert_eq!(response.status, 200, "{}", response.body);

    let rows: Vec<(String, String, String, serde_json::Value)> =
        sqlx::query_as("SELECT call_id, caller_id, target, raw FROM cdrs ORDER BY call_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].1.as_str(), rows[0].2.as_str()),
        ("054\u{FFFD}", "")
    );
    assert_eq!(rows[0].3["EXTRA\u{FFFD}"], "x\u{FFFD}y");
    assert_eq!(rows[1].2, "05\u{FFFD}5");
}
