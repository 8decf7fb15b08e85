//! Flow tests and the flow's picture over real HTTP: a saved test guards
//! publishing; tests are refused clearly, audited, per tenant; the diagram.

use serde_json::{Value, json};

use crate::api_client::{
    code, delete, get, login, platform_admin, post, put, tenant_with_admin, user_with_role,
};
use crate::api_flows::{assert_detail, details};
use crate::harness::TestApp;

/// The demo tenant (with its flow tests) and its admin's token.
async fn demo(app: &TestApp) -> (i64, String) {
    let tenant = app.with_demo().await;
    ivrhub::demo::seed_admin(&app.pool, tenant).await.unwrap();
    let token = login(
        app,
        ivrhub::demo::DEMO_ADMIN_EMAIL,
        ivrhub::demo::DEMO_ADMIN_PASSWORD,
    )
    .await;
    (tenant, token)
}

fn names(run: &Value, passed: bool) -> Vec<String> {
    run["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["passed"] == passed)
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_saved_test_guards_publishing_and_shows_the_failing_call() {
    let app = TestApp::spawn().await;
    let (tenant, admin) = demo(&app).await;
    let (status, run) = post(&app, &admin, "/api/v1/flow/tests/run", json!(null)).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(
        (&run["passed"], &run["failed"]),
        (&json!(6), &json!(0)),
        "{run}"
    );
    let (_, live_run) = post(
        &app,
        &admin,
        "/api/v1/flow/tests/run?flow=live",
        json!(null),
    )
    .await;
    assert_eq!(live_run["passed"], 6, "{live_run}");

    // An edit breaks "pressing 1 connects to sales".
    let (_, mut main) = get(&app, &admin, "/api/v1/nodes/main").await;
    main["routes"][0]["target"] = json!("closed");
    let (status, body) = put(&app, &admin, "/api/v1/nodes/main", main.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (_, run) = post(&app, &admin, "/api/v1/flow/tests/run", json!(null)).await;
    assert_eq!(
        names(&run, false),
        ["busy_sales_takes_a_message", "one_reaches_sales"]
    );
    let failing = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "one_reaches_sales")
        .unwrap();
    assert_eq!(
        failing["failures"],
        json!([
            "path: expected main → sales, got main → closed",
            "action: expected CALL, got HANGUP",
            "DATA.TARGET: expected \"0501234567\", got null"
        ])
    );
    assert_eq!(failing["transcript"]["steps"][1]["node"], "closed");

    // Publishing is refused, with the failing test's transcript.
    let (_, state) = get(&app, &admin, "/api/v1/flow").await;
    let revision = state["draft_revision"].clone();
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/flow/publish",
        json!({"message": "1 says good-bye", "draft_revision": revision}),
    )
    .await;
    assert_eq!((status, code(&body)), (422, "tests_failed"), "{body}");
    assert_detail(
        &body,
        "tests.one_reaches_sales",
        "path: expected main → sales",
    );
    assert_eq!(
        body["error"]["failed_tests"][1]["transcript"]["steps"][1]["request"],
        json!({"MENU": "main~v2", "DTMF": "1"})
    );
    let versions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM flow_versions WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(versions, 1, "nothing published");

    // Forced: published, and the audit log says past which tests.
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/flow/publish",
        json!({"message": "on purpose", "draft_revision": revision, "force": true}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (_, audit) = get(&app, &admin, "/api/v1/audit").await;
    let publish = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "publish")
        .unwrap();
    assert_eq!(
        publish["after"]["forced_past"],
        json!(["busy_sales_takes_a_message", "one_reaches_sales"])
    );

    // Fixed: the tests pass and publishing goes through.
    main["routes"][0]["target"] = json!("sales");
    let (status, body) = put(&app, &admin, "/api/v1/nodes/main", main).await;
    assert_eq!(status, 200, "{body}");
    let (_, run) = post(&app, &admin, "/api/v1/flow/tests/run", json!(null)).await;
    assert_eq!(run["failed"], 0, "{run}");
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/flow/publish",
        json!({"message": "1 is sales again", "draft_revision": body["draft_revision"]}),
    )
    .await;
    assert_eq!((status, &body["version"]), (201, &json!(3)), "{body}");
    // Against a version: version 2 (forced) fails them, version 3 passes.
    let (_, run) = post(&app, &admin, "/api/v1/flow/tests/run?flow=2", json!(null)).await;
    assert_eq!(run["failed"], 2, "{run}");
}

#[tokio::test]
async fn tests_are_checked_audited_and_kept_per_tenant() {
    let app = TestApp::spawn().await;
    let (tenant, admin) = demo(&app).await;
    let test = json!({"name": "nine_records", "did": "0730000000", "at": "2026-12-01T10:00:00+02:00",
        "inputs": ["9"], "expect": {"path": ["main", "voicemail"], "ended": "recording"}});
    let (status, body) = post(&app, &admin, "/api/v1/flow/tests", test.clone()).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(&app, &admin, "/api/v1/flow/tests", test.clone()).await;
    assert_eq!((status, code(&body)), (409, "conflict"), "{body}");
    let (status, body) = get(&app, &admin, "/api/v1/flow/tests/nine_records").await;
    let mut stored = test.clone();
    stored["caller_id"] = json!("");
    assert_eq!((status, &body), (200, &stored), "defaults filled in");
    let (_, list) = get(&app, &admin, "/api/v1/flow/tests?limit=2").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(list["next_cursor"].is_string());

    // Refusals, each with its path; nothing stored.
    let mut bad = test.clone();
    bad["name"] = json!("bad");
    bad["expect"]["path"] = json!(["main", "nowhere"]);
    bad["at"] = json!("2026-12-01T10:00:00");
    bad["did"] = json!("0739999999");
    bad["inputs"] = json!(["9", "star"]);
    let (status, body) = post(&app, &admin, "/api/v1/flow/tests", bad).await;
    assert_eq!(status, 422, "{body}");
    let paths: Vec<String> = details(&body).into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["did", "at", "inputs[1]", "expect.path[1]"]);
    let mut unknown = test.clone();
    unknown["colour"] = json!("red");
    let (status, body) = post(&app, &admin, "/api/v1/flow/tests", unknown).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = put(&app, &admin, "/api/v1/flow/tests/other_name", test.clone()).await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "key", "must be \"other_name\"");
    let (status, _) = get(&app, &admin, "/api/v1/flow/tests/bad").await;
    assert_eq!(status, 404);

    // Replace, audited.
    let mut changed = test.clone();
    changed["description"] = json!("9 is voicemail");
    let (status, body) = put(&app, &admin, "/api/v1/flow/tests/nine_records", changed).await;
    assert_eq!(status, 200, "{body}");
    let (_, audit) = get(&app, &admin, "/api/v1/audit").await;
    let entry = &audit["items"][0];
    assert_eq!(
        (&entry["object_type"], &entry["object_id"], &entry["action"]),
        (
            &json!("flow_test"),
            &json!("nine_records"),
            &json!("update")
        )
    );
    assert_eq!(entry["after"]["description"], "9 is voicemail");

    // Viewers read and run; they do not write.
    let viewer = user_with_role(&app, &admin, "viewer@demo.example", "viewer").await;
    let (status, _) = get(&app, &viewer, "/api/v1/flow/tests").await;
    assert_eq!(status, 200);
    let (status, _) = post(&app, &viewer, "/api/v1/flow/tests/run", json!(null)).await;
    assert_eq!(status, 200);
    let (status, body) = delete(&app, &viewer, "/api/v1/flow/tests/nine_records").await;
    assert_eq!((status, code(&body)), (403, "forbidden"));

    // Another tenant sees none of them.
    let platform = platform_admin(&app).await;
    let (_, other) = tenant_with_admin(&app, &platform, "Other").await;
    let (_, list) = get(&app, &other, "/api/v1/flow/tests").await;
    assert_eq!(list["items"], json!([]));
    for path in [
        "/api/v1/flow/tests/nine_records".to_owned(),
        format!("/api/v1/flow/tests?tenant_id={tenant}"),
    ] {
        let (status, body) = get(&app, &other, &path).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, _) = delete(&app, &other, "/api/v1/flow/tests/nine_records").await;
    assert_eq!(status, 404);
    let (status, body) = post(&app, &other, "/api/v1/flow/tests", test.clone()).await;
    assert_eq!(
        status, 422,
        "the demo's number is not the other tenant's: {body}"
    );
    assert_detail(&body, "did", "not one of the tenant's numbers");

    let (status, _) = delete(&app, &admin, "/api/v1/flow/tests/nine_records").await;
    assert_eq!(status, 204);
    let (status, _) = delete(&app, &admin, "/api/v1/flow/tests/nine_records").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_flow_as_a_picture_with_a_simulated_path() {
    let app = TestApp::spawn().await;
    let (tenant, admin) = demo(&app).await;
    let (status, transcript) = post(
        &app,
        &admin,
        "/api/v1/flow/simulate",
        json!({"did": "0730000000", "at": "2026-12-01T10:00:00+02:00", "inputs": ["1", "no_answer", "9"]}),
    )
    .await;
    assert_eq!(status, 200, "{transcript}");
    let path: Vec<&str> = transcript["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["node"].as_str())
        .collect();
    assert_eq!(path, ["main", "sales", "sales_busy"]);
    assert_eq!(
        transcript["route"],
        json!(["entry", "main", "sales", "sales_busy"]),
        "with the rule node on the way"
    );
    let route: Vec<&str> = transcript["route"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let highlight = route.join(",");
    let response = app
        .http
        .get(format!(
            "{}/api/v1/flow/diagram.svg?highlight={highlight}",
            app.base
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let svg = response.text().await.unwrap();
    for label in [
        "main · MENU he:main_menu_he en:main_menu_en",
        "hours · PLAY he:hours_he en:hours_en",
        "sales · CALL 0501234567",
        "DID 0730000000 (he)",
        "no answer",
    ] {
        assert!(svg.contains(label), "{label} not drawn");
    }
    assert!(svg.contains("#d35400"), "the path is drawn");
    let (status, dot) = get(&app, &admin, "/api/v1/flow/diagram.dot?flow=live").await;
    assert_eq!(status, 200);
    let dot = dot.as_str().unwrap().to_owned();
    assert!(dot.starts_with("digraph flow {"), "{dot}");
    assert!(
        dot.contains("\"n:main\" -> \"n:sales\" [label=\"1\"];"),
        "{dot}"
    );

    for (path, status, named) in [
        (
            "/api/v1/flow/diagram.svg?highlight=main,nowhere",
            422,
            "highlight[1]",
        ),
        ("/api/v1/flow/diagram.svg?flow=abc", 400, "flow"),
        ("/api/v1/flow/diagram.dot?flow=9", 404, ""),
        ("/api/v1/flow/diagram.dot?colour=red", 400, "colour"),
    ] {
        let (got, body) = get(&app, &admin, path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body.to_string().contains(named), "{path}: {body}");
    }
    let platform = platform_admin(&app).await;
    let (_, other) = tenant_with_admin(&app, &platform, "Other").await;
    let (status, _) = get(
        &app,
        &other,
        &format!("/api/v1/flow/diagram.svg?tenant_id={tenant}"),
    )
    .await;
    assert_eq!(status, 404);
}
