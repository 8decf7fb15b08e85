//! Flow versions over real HTTP and PostgreSQL: the draft, publishing,
//! rollback, discard, diff and history; stale revisions; every refusal with
//! the stored data intact; roles and tenants; concurrent publishes; calls
//! that keep their version (XML-RPC and JSON), on one node and on two; the
//! upgrade that turns an existing flow into version 1.

use std::time::{Duration, Instant};

use ivrhub::voicenter::types::{Action, Encoding};
use serde_json::{Value, json};

use crate::api_client::{
    code, delete, get, platform_admin, post, put, tenant_with_admin, user_with_role,
};
use crate::api_flows::{ACME_DID, assert_detail, details, menu_of, schedule, tenant_with_flow};
use crate::flow_changes::eventually;
use crate::harness::TestApp;
use crate::voicenter_client::Call;

/// A tenant with the three-level flow, its number entering at `entry`,
/// published as version 1; returns (tenant id, admin token).
async fn published_tenant(app: &TestApp, platform: &str, name: &str, did: &str) -> (i64, String) {
    let (tenant, admin) = tenant_with_flow(app, platform, name).await;
    let (status, body) = post(
        app,
        platform,
        "/api/v1/dids",
        json!({"did": did, "tenant_id": tenant, "entry_node": "entry"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let version = publish(app, &admin, "first").await;
    assert_eq!(version["version"], 1, "{version}");
    // The webhook hears it (NOTIFY, a few ms later).
    let mut call = Call::new(app, Encoding::Json, "warm-up-00000000000000000000001");
    call.did = did.into();
    let answer = eventually(
        || call.step("-1", ""),
        |a| matches!(a.action, Action::Menu(_)),
    )
    .await;
    assert!(matches!(answer.action, Action::Menu(_)), "{answer:?}");
    (tenant, admin)
}

async fn revision(app: &TestApp, token: &str) -> i64 {
    let (status, body) = get(app, token, "/api/v1/flow").await;
    assert_eq!(status, 200, "{body}");
    body["draft_revision"].as_i64().unwrap()
}

/// Asks to publish the draft at `draft_revision`.
async fn try_publish(
    app: &TestApp,
    token: &str,
    message: &str,
    draft_revision: &Value,
) -> (u16, Value) {
    let body = json!({"message": message, "draft_revision": draft_revision});
    post(app, token, "/api/v1/flow/publish", body).await
}

/// Publishes the draft as it is now; returns the new version.
async fn publish(app: &TestApp, token: &str, message: &str) -> Value {
    let draft_revision = json!(revision(app, token).await);
    let (status, body) = try_publish(app, token, message, &draft_revision).await;
    assert_eq!(status, 201, "{body}");
    body
}

/// A request with `If-Match`; returns (status, body, ETag).
async fn with_if_match(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<Value>,
    if_match: &str,
) -> (u16, Value, Option<String>) {
    let mut request = app
        .http
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("if-match", if_match);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, body, etag)
}

/// The sales menu with 1 leading to good-bye instead of dialling.
fn sales_says_goodbye() -> Value {
    let mut sales = crate::api_flows::three_level_nodes()[3].clone();
    sales["routes"][0]["target"] = json!("goodbye");
    sales
}

async fn versions_count(app: &TestApp, tenant: i64) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM flow_versions WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn edit_publish_diff_roll_back_and_discard_through_the_api() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = published_tenant(&app, &platform, "Life", ACME_DID).await;

    let (status, state) = get(&app, &admin, "/api/v1/flow").await;
    assert_eq!(status, 200);
    assert_eq!(state["live"]["version"], 1);
    assert_eq!(state["live"]["message"], "first");
    assert_eq!(state["live"]["author"]["email"], "admin@life.example");
    assert_eq!(state["live"]["live"], true);
    assert_eq!(state["draft_differs_from_live"], false);
    assert_eq!(state["draft_valid"], true);

    // Edit the draft: live is unchanged; reads show the draft unless asked.
    let (status, body) = put(&app, &admin, "/api/v1/nodes/sales", sales_says_goodbye()).await;
    assert_eq!(status, 200, "{body}");
    let (_, draft) = get(&app, &admin, "/api/v1/nodes/sales").await;
    assert_eq!(draft["routes"][0]["target"], "goodbye");
    for flow in ["live", "1"] {
        let (status, live) = get(&app, &admin, &format!("/api/v1/nodes/sales?flow={flow}")).await;
        assert_eq!(status, 200, "{live}");
        assert_eq!(live["routes"][0]["target"], "dial", "?flow={flow}");
    }
    let (_, page) = get(&app, &admin, "/api/v1/schedules?flow=live").await;
    assert_eq!(page["items"][0]["key"], "office");
    let (_, state) = get(&app, &admin, "/api/v1/flow").await;
    assert_eq!(state["draft_differs_from_live"], true);

    // The diff: exactly that route, with its path and both values.
    let (status, diff) = get(&app, &admin, "/api/v1/flow/diff").await;
    assert_eq!(status, 200, "{diff}");
    assert_eq!(
        (&diff["from"], &diff["to"]),
        (&json!("live"), &json!("draft"))
    );
    assert_eq!(
        diff["changes"],
        json!([{"object": "node", "key": "sales", "change": "changed",
                "path": "nodes.sales.routes[0].target", "before": "dial", "after": "goodbye"}])
    );

    // Publish: version 2, parent 1, live.
    let v2 = publish(&app, &admin, "1 in sales says good-bye").await;
    assert_eq!(
        (v2["version"].clone(), v2["parent"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(v2["live"], true);
    assert_eq!(v2["sha256"].as_str().unwrap().len(), 64);
    let (_, diff) = get(&app, &admin, "/api/v1/flow/diff?from=1&to=2").await;
    assert_eq!(diff["changes"].as_array().unwrap().len(), 1);
    let (_, diff) = get(&app, &admin, "/api/v1/flow/diff?from=live&to=draft").await;
    assert_eq!(diff["identical"], true);

    // Roll back to 1: a new version 3 restoring 1; the draft is left alone.
    let (status, v3) = post(
        &app,
        &admin,
        "/api/v1/flow/rollback",
        json!({"version": 1, "message": "callers got lost"}),
    )
    .await;
    assert_eq!(status, 201, "{v3}");
    assert_eq!(
        (&v3["version"], &v3["restores"], &v3["parent"]),
        (&json!(3), &json!(1), &json!(2))
    );
    let (_, v1) = get(&app, &admin, "/api/v1/flow/versions/1").await;
    assert_eq!(v3["sha256"], v1["sha256"], "the same content as version 1");
    let (_, live) = get(&app, &admin, "/api/v1/nodes/sales?flow=live").await;
    assert_eq!(live["routes"][0]["target"], "dial");
    let (_, draft) = get(&app, &admin, "/api/v1/nodes/sales").await;
    assert_eq!(draft["routes"][0]["target"], "goodbye", "the draft is kept");
    // Rolling back to what is live makes nothing.
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/flow/rollback",
        json!({"version": 1, "message": "again"}),
    )
    .await;
    assert_eq!((status, code(&body)), (409, "nothing_to_publish"), "{body}");

    // Discard: the draft is the live content again.
    let (status, body) = post(&app, &admin, "/api/v1/flow/draft/discard", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (_, draft) = get(&app, &admin, "/api/v1/nodes/sales").await;
    assert_eq!(draft["routes"][0]["target"], "dial");
    let (_, state) = get(&app, &admin, "/api/v1/flow").await;
    assert_eq!(state["draft_differs_from_live"], false);
    // ... so there is nothing to publish.
    let (status, body) = try_publish(&app, &admin, "nothing", &state["draft_revision"]).await;
    assert_eq!((status, code(&body)), (409, "nothing_to_publish"), "{body}");

    // History, newest first, paginated; one version whole.
    let (status, page) = get(&app, &admin, "/api/v1/flow/versions?limit=2").await;
    assert_eq!(status, 200);
    let numbers: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2]);
    assert_eq!(page["items"][0]["live"], true);
    assert_eq!(page["items"][1]["live"], false);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = get(
        &app,
        &admin,
        &format!("/api/v1/flow/versions?cursor={cursor}"),
    )
    .await;
    assert_eq!(rest["items"][0]["version"], 1);
    assert_eq!(rest["next_cursor"], Value::Null);
    let (status, v2) = get(&app, &admin, "/api/v1/flow/versions/2").await;
    assert_eq!(status, 200);
    assert_eq!(v2["message"], "1 in sales says good-bye");
    let nodes = v2["content"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 6);
    assert_eq!(
        v2["content"]["entries"],
        json!([{"did": ACME_DID, "entry_node": "entry"}])
    );
    assert_eq!(v2["content"]["schedules"][0]["key"], "office");

    // Audited: who, what, which versions.
    let (_, audit) = get(&app, &admin, "/api/v1/audit?limit=200").await;
    let flow_events: Vec<(String, String)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["object_type"] == "flow")
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["object_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        flow_events,
        [
            ("discard".to_owned(), "draft".to_owned()),
            ("rollback".to_owned(), "v3".to_owned()),
            ("publish".to_owned(), "v2".to_owned()),
            ("publish".to_owned(), "v1".to_owned()),
        ]
    );
    let rollback = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "rollback")
        .unwrap();
    assert_eq!(rollback["after"]["restores"], 1);
    assert_eq!(rollback["after"]["message"], "callers got lost");
    assert_eq!(rollback["before"]["version"], 2);
    assert_eq!(versions_count(&app, tenant).await, 3);
}

#[tokio::test]
async fn stale_revisions_are_refused_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = published_tenant(&app, &platform, "Stale", ACME_DID).await;
    let seen = revision(&app, &admin).await;

    // Editor A writes with the revision it read: accepted, ETag is the next one.
    let (status, body, etag) = with_if_match(
        &app,
        reqwest::Method::PUT,
        &admin,
        "/api/v1/nodes/sales",
        Some(sales_says_goodbye()),
        &format!("\"{seen}\""),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(etag, Some(format!("\"{}\"", seen + 1)));
    assert_eq!(body["draft_revision"], seen + 1);

    // Editor B still holds `seen`: every kind of write is refused, 409.
    let mut sales = sales_says_goodbye();
    sales["routes"][0]["target"] = json!("dial");
    let stale = format!("\"{seen}\"");
    let writes = [
        (
            reqwest::Method::PUT,
            "/api/v1/nodes/sales",
            Some(sales.clone()),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/nodes",
            Some(json!({"key": "x", "kind": "hangup"})),
        ),
        (reqwest::Method::DELETE, "/api/v1/nodes/closed", None),
        (
            reqwest::Method::PUT,
            "/api/v1/schedules/office",
            Some(schedule()),
        ),
        (reqwest::Method::DELETE, "/api/v1/schedules/office", None),
        (
            reqwest::Method::PATCH,
            &format!("/api/v1/dids/{ACME_DID}"),
            Some(json!({"language": "en"})),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/flow/changes",
            Some(json!({"nodes": [sales.clone()]})),
        ),
        (reqwest::Method::POST, "/api/v1/flow/draft/discard", None),
    ];
    for (method, path, body) in writes {
        let (status, answer, _) =
            with_if_match(&app, method.clone(), &admin, path, body, &stale).await;
        assert_eq!(
            (status, code(&answer)),
            (409, "stale_revision"),
            "{method} {path}: {answer}"
        );
    }
    // Unquoted works too; garbage is a 400 naming the header.
    let (status, answer, _) = with_if_match(
        &app,
        reqwest::Method::PUT,
        &admin,
        "/api/v1/nodes/sales",
        Some(sales.clone()),
        &seen.to_string(),
    )
    .await;
    assert_eq!((status, code(&answer)), (409, "stale_revision"));
    let (status, answer, _) = with_if_match(
        &app,
        reqwest::Method::PUT,
        &admin,
        "/api/v1/nodes/sales",
        Some(sales.clone()),
        "\"twelve\"",
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_detail(&answer, "If-Match", "draft revision");

    // Publishing a revision that is not the draft's: 409, nothing published.
    let (status, body) = try_publish(&app, &admin, "stale", &json!(seen)).await;
    assert_eq!((status, code(&body)), (409, "stale_revision"), "{body}");

    // Reads of the draft carry its revision; writing what is stored changes
    // nothing and keeps it (other editors' If-Match stays good).
    let response = app
        .http
        .get(format!("{}/api/v1/nodes/sales", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["etag"].to_str().unwrap(),
        format!("\"{}\"", seen + 1)
    );
    let stored: Value = response.json().await.unwrap();
    let (status, body, etag) = with_if_match(
        &app,
        reqwest::Method::PUT,
        &admin,
        "/api/v1/nodes/sales",
        Some(stored),
        &format!("\"{}\"", seen + 1),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(etag, Some(format!("\"{}\"", seen + 1)), "nothing changed");
    let response = app
        .http
        .get(format!("{}/api/v1/nodes?flow=live", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(
        response.headers().get("etag").is_none(),
        "a version has no draft revision"
    );

    // Nothing of it was written: A's edit stands, revision seen + 1, one version.
    let (_, draft) = get(&app, &admin, "/api/v1/nodes/sales").await;
    assert_eq!(draft["routes"][0]["target"], "goodbye");
    let (_, nodes) = get(&app, &admin, "/api/v1/nodes").await;
    assert_eq!(nodes["items"].as_array().unwrap().len(), 6);
    assert_eq!(revision(&app, &admin).await, seen + 1);
    assert_eq!(versions_count(&app, tenant).await, 1);
}

#[tokio::test]
async fn an_invalid_draft_is_not_published_and_every_error_is_listed() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = published_tenant(&app, &platform, "Broken", ACME_DID).await;
    // A draft broken by other means (writes through the API cannot add errors).
    sqlx::query(
        "UPDATE flow_nodes SET definition = jsonb_set(definition, '{rec}', '\"no_such_rec\"')
         WHERE tenant_id = $1 AND key IN ('goodbye', 'closed')",
    )
    .bind(tenant)
    .execute(&app.pool)
    .await
    .unwrap();
    let (_, state) = get(&app, &admin, "/api/v1/flow").await;
    assert_eq!(state["draft_valid"], false);
    let (status, body) = try_publish(&app, &admin, "broken", &state["draft_revision"]).await;
    assert_eq!((status, code(&body)), (422, "validation_failed"), "{body}");
    assert_eq!(
        details(&body),
        [
            (
                "nodes.closed.rec".to_owned(),
                "no recording \"no_such_rec\" in the tenant's catalogue (see /recordings)"
                    .to_owned()
            ),
            (
                "nodes.goodbye.rec".to_owned(),
                "no recording \"no_such_rec\" in the tenant's catalogue (see /recordings)"
                    .to_owned()
            ),
        ]
    );
    assert_eq!(versions_count(&app, tenant).await, 1);
    let (_, live) = get(&app, &admin, "/api/v1/nodes/goodbye?flow=live").await;
    assert_eq!(live["rec"], "goodbye", "live is untouched");
    // A version message that is too long is refused before anything.
    let long = "x".repeat(1001);
    let (status, body) = try_publish(&app, &admin, &long, &state["draft_revision"]).await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "message", "longer than 1000");
    let (status, body) = try_publish(&app, &admin, "  ", &state["draft_revision"]).await;
    assert_eq!(status, 422, "{body}");
    assert_detail(&body, "message", "say what changed");
}

#[tokio::test]
async fn bad_selectors_unknown_versions_and_unknown_fields_get_clear_answers() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_flow(&app, &platform, "Strict").await;
    // Nothing published yet.
    for path in [
        "/api/v1/nodes?flow=live",
        "/api/v1/flow/diff",
        "/api/v1/flow/versions/1",
        "/api/v1/nodes/main?flow=1",
    ] {
        let (status, body) = get(&app, &admin, path).await;
        assert_eq!((status, code(&body)), (404, "not_found"), "{path}: {body}");
    }
    let (status, body) = post(&app, &admin, "/api/v1/flow/draft/discard", json!({})).await;
    assert_eq!((status, code(&body)), (404, "not_found"), "{body}");
    let (_, state) = get(&app, &admin, "/api/v1/flow").await;
    assert_eq!(state["live"], Value::Null);

    publish(&app, &admin, "one").await;
    for (path, parameter) in [
        ("/api/v1/nodes?flow=drafts", "flow"),
        ("/api/v1/nodes?flow=0", "flow"),
        ("/api/v1/nodes?flow=-1", "flow"),
        ("/api/v1/nodes?flow=%2B1", "flow"),
        ("/api/v1/nodes/main?flow=1.0", "flow"),
        ("/api/v1/schedules?flow=LIVE", "flow"),
        ("/api/v1/nodes?flow=00", "flow"),
        ("/api/v1/flow/diff?from=yesterday", "from"),
        ("/api/v1/flow/diff?to=0", "to"),
        ("/api/v1/flow/diff?colour=red", "colour"),
    ] {
        let (status, body) = get(&app, &admin, path).await;
        assert_eq!(
            (status, code(&body)),
            (400, "bad_request"),
            "{path}: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(parameter)
                || details(&body).iter().any(|(p, _)| p == parameter),
            "{path} names {parameter}: {body}"
        );
    }
    for path in [
        "/api/v1/flow/versions/9",
        "/api/v1/flow/versions/0",
        "/api/v1/flow/versions/abc",
        "/api/v1/flow/versions/99999999999",
        "/api/v1/nodes?flow=9",
        "/api/v1/flow/diff?from=1&to=9",
    ] {
        let (status, body) = get(&app, &admin, path).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let refused = [
        (
            "/api/v1/flow/publish",
            json!({"message": "m", "draft_revision": 0, "urgent": true}),
            422,
        ),
        ("/api/v1/flow/publish", json!({"message": "m"}), 422),
        (
            "/api/v1/flow/publish",
            json!({"message": "m", "draft_revision": "one"}),
            422,
        ),
        (
            "/api/v1/flow/rollback",
            json!({"version": 1, "message": "m", "draft": 2}),
            422,
        ),
        (
            "/api/v1/flow/rollback",
            json!({"version": -1, "message": "m"}),
            422,
        ),
        (
            "/api/v1/flow/rollback",
            json!({"version": 9, "message": "m"}),
            404,
        ),
        (
            "/api/v1/flow/draft/discard",
            json!({"everything": true}),
            422,
        ),
    ];
    for (path, body, expected) in refused {
        let (status, answer) = post(&app, &admin, path, body.clone()).await;
        assert_eq!(status, expected, "{path} {body}: {answer}");
    }
    // Nothing changed.
    assert_eq!(versions_count(&app, tenant).await, 1);
    let (_, state) = get(&app, &admin, "/api/v1/flow").await;
    assert_eq!(state["draft_differs_from_live"], false);
}

#[tokio::test]
async fn viewers_read_versions_and_editors_publish() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (_, admin) = published_tenant(&app, &platform, "Roles", ACME_DID).await;
    let viewer = user_with_role(&app, &admin, "viewer@roles.example", "viewer").await;
    let editor = user_with_role(&app, &admin, "editor@roles.example", "editor").await;
    for path in [
        "/api/v1/flow",
        "/api/v1/flow/versions",
        "/api/v1/flow/versions/1",
        "/api/v1/flow/diff",
        "/api/v1/nodes?flow=live",
    ] {
        let (status, body) = get(&app, &viewer, path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let draft_revision = revision(&app, &viewer).await;
    for (path, body) in [
        (
            "/api/v1/flow/publish",
            json!({"message": "m", "draft_revision": draft_revision}),
        ),
        (
            "/api/v1/flow/rollback",
            json!({"version": 1, "message": "m"}),
        ),
        ("/api/v1/flow/draft/discard", json!({})),
    ] {
        let (status, answer) = post(&app, &viewer, path, body).await;
        assert_eq!(
            (status, code(&answer)),
            (403, "forbidden"),
            "{path}: {answer}"
        );
    }
    let (status, body) = put(&app, &editor, "/api/v1/nodes/sales", sales_says_goodbye()).await;
    assert_eq!(status, 200, "{body}");
    let v2 = publish(&app, &editor, "by the editor").await;
    assert_eq!(v2["author"]["email"], "editor@roles.example");
}

#[tokio::test]
async fn another_tenants_versions_do_not_exist() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant_a, admin_a) = published_tenant(&app, &platform, "Alpha", "0733000001").await;
    publish_a_second_version(&app, &admin_a).await;
    let (tenant_b, admin_b) = tenant_with_flow(&app, &platform, "Beta").await;

    // B has published nothing: A's versions are not B's.
    for path in [
        "/api/v1/flow/versions/1".to_owned(),
        "/api/v1/flow/versions/2".to_owned(),
        "/api/v1/nodes?flow=2".to_owned(),
        "/api/v1/flow/diff?from=1&to=2".to_owned(),
        format!("/api/v1/flow?tenant_id={tenant_a}"),
        format!("/api/v1/flow/versions?tenant_id={tenant_a}"),
        format!("/api/v1/flow/versions/1?tenant_id={tenant_a}"),
        format!("/api/v1/flow/diff?tenant_id={tenant_a}"),
        format!("/api/v1/nodes?flow=live&tenant_id={tenant_a}"),
    ] {
        let (status, body) = get(&app, &admin_b, &path).await;
        assert_eq!((status, code(&body)), (404, "not_found"), "{path}: {body}");
    }
    let (_, versions) = get(&app, &admin_b, "/api/v1/flow/versions").await;
    assert_eq!(versions["items"], json!([]));
    for (path, body) in [
        (
            format!("/api/v1/flow/publish?tenant_id={tenant_a}"),
            json!({"message": "m", "draft_revision": 0}),
        ),
        (
            format!("/api/v1/flow/rollback?tenant_id={tenant_a}"),
            json!({"version": 1, "message": "m"}),
        ),
        (
            format!("/api/v1/flow/draft/discard?tenant_id={tenant_a}"),
            json!({}),
        ),
        (
            "/api/v1/flow/rollback".to_owned(),
            json!({"version": 1, "message": "m"}),
        ),
    ] {
        let (status, answer) = post(&app, &admin_b, &path, body).await;
        assert_eq!(
            (status, code(&answer)),
            (404, "not_found"),
            "{path}: {answer}"
        );
    }
    assert_eq!(versions_count(&app, tenant_a).await, 2);
    assert_eq!(versions_count(&app, tenant_b).await, 0);
    // The platform admin names the tenant.
    let (status, body) = get(
        &app,
        &platform,
        &format!("/api/v1/flow/versions?tenant_id={tenant_a}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
}

async fn publish_a_second_version(app: &TestApp, admin: &str) {
    let (status, body) = put(app, admin, "/api/v1/nodes/sales", sales_says_goodbye()).await;
    assert_eq!(status, 200, "{body}");
    publish(app, admin, "second").await;
}

#[tokio::test]
async fn concurrent_publishes_of_one_draft_make_exactly_one_version() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = published_tenant(&app, &platform, "Race", ACME_DID).await;
    let (status, _) = put(&app, &admin, "/api/v1/nodes/sales", sales_says_goodbye()).await;
    assert_eq!(status, 200);
    let draft_revision = revision(&app, &admin).await;
    let attempts = (0..8).map(|i| {
        let (app, admin) = (&app, &admin);
        async move { try_publish(app, admin, &format!("attempt {i}"), &json!(draft_revision)).await }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let published = answers.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(published, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(status, _)| *status != 201) {
        assert_eq!((*status, code(body)), (409, "nothing_to_publish"), "{body}");
    }
    assert_eq!(versions_count(&app, tenant).await, 2);
}

#[tokio::test]
async fn calls_keep_their_version_and_bad_versions_get_the_safe_answer() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant_a, admin) = published_tenant(&app, &platform, "Calls", ACME_DID).await;
    for encoding in [Encoding::XmlRpc, Encoding::Json] {
        let mut call = Call::new(&app, encoding, &format!("keep-{encoding:?}-000000000001"));
        call.did = ACME_DID.into();
        let start = call.step("-1", "").await;
        assert_eq!(menu_of(&start).1, "main~v1");
    }
    // A call on version 1 is in the sales menu when version 2 is published.
    let mut call = Call::new(&app, Encoding::XmlRpc, "keep-across-publish-000000001");
    call.did = ACME_DID.into();
    let sales = call.step("main~v1", "1").await;
    let sales_menu = menu_of(&sales).1.to_owned();
    assert_eq!(sales_menu, "sales~v1");
    publish_a_second_version(&app, &admin).await;
    let mut fresh = Call::new(&app, Encoding::Json, "keep-fresh-00000000000000001");
    fresh.did = ACME_DID.into();
    let start = eventually(
        || fresh.step("-1", ""),
        |a| matches!(&a.action, Action::Menu(m) if m.menu == "main~v2"),
    )
    .await;
    assert_eq!(menu_of(&start).1, "main~v2");
    assert!(matches!(
        call.step(&sales_menu, "1").await.action,
        Action::Call(_)
    ));
    assert!(matches!(
        fresh.step("sales~v2", "1").await.action,
        Action::Hangup(_)
    ));
    // Identifiers from before versions run on live.
    assert!(matches!(
        fresh.step("sales", "1").await.action,
        Action::Hangup(_)
    ));

    // A node that never had version 1 in memory reads it on demand.
    let other = app.another_node().await;
    let mut on_other = Call::new(&other, Encoding::Json, "keep-other-node-0000000001");
    on_other.did = ACME_DID.into();
    assert!(matches!(
        on_other.step(&sales_menu, "1").await.action,
        Action::Call(_)
    ));

    // Versions that do not exist: the safe answer (HANGUP 41), counted.
    for menu in [
        "sales~v3",
        "sales~v0",
        "main~v99999999999999999999",
        "sales~v2~v7",
    ] {
        let answer = call.step(menu, "1").await;
        assert!(
            matches!(answer.action, Action::Hangup(ref h) if h.cause == Some(41)),
            "{menu}: {answer:?}"
        );
    }
    let metrics = app.get("/metrics").await.body;
    assert!(
        metrics.contains("ivrhub_fallbacks_total{reason=\"unknown_version\"} 4"),
        "{metrics}"
    );
    // Tenant B has only version 1: a MENU naming A's version 2 is not A's flow.
    let (_, _) = published_tenant(&app, &platform, "Other", "0733000002").await;
    let mut b_call = Call::new(&app, Encoding::Json, "keep-b-000000000000000000001");
    b_call.did = "0733000002".into();
    let answer = b_call.step("sales~v2", "1").await;
    assert!(
        matches!(answer.action, Action::Hangup(ref h) if h.cause == Some(41)),
        "{answer:?}"
    );

    // Steps record their version; the funnel compares versions. The safe
    // answers are logged too, with no version and their reason.
    let logged: Vec<(Option<i32>, i64)> = eventually_rows(&app, tenant_a).await;
    let versions: Vec<Option<i32>> = logged.iter().map(|(version, _)| *version).collect();
    assert_eq!(versions, [Some(1), Some(2), None], "{logged:?}");
    let reasons: Vec<(Option<String>, i64)> = sqlx::query_as(
        "SELECT fallback, count(*) FROM call_steps WHERE tenant_id = $1 AND flow_version IS NULL
         GROUP BY fallback",
    )
    .bind(tenant_a)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    // (A step may also have come before the first publish reached the cache: `not_published`.)
    assert!(
        reasons.iter().all(|(reason, _)| reason.is_some()),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&(Some("unknown_version".to_owned()), 4)),
        "the 4 counted in /metrics: {reasons:?}"
    );
}

/// The versions the tenant's logged steps ran on, with their counts (once
/// the step log has written them).
async fn eventually_rows(app: &TestApp, tenant: i64) -> Vec<(Option<i32>, i64)> {
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = sqlx::query_as(
            "SELECT flow_version, count(*) FROM call_steps WHERE tenant_id = $1
             GROUP BY 1 ORDER BY 1",
        )
        .bind(tenant)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        if rows.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rows
}

#[tokio::test]
async fn the_funnel_of_one_version() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (_, admin) = published_tenant(&app, &platform, "Funnel", ACME_DID).await;
    let now = chrono::Utc::now().timestamp();
    let hang_up = |call_id: &str| {
        json!({"METHOD": "HANGUP_CALL", "DATA": {
            "DID": ACME_DID, "CALLER_ID": "0540000000", "IVR_UNIQUE_ID": call_id, "TARGET": "",
            "CALL_TIME_EPOCH": now, "CALL_START_EPOCH": now, "CALL_DURATION": 30,
            "CALL_DAILTIME": 0, "CALL_STATUS": "ANSWER"}})
        .to_string()
    };
    // One call on version 1 presses 1 in main; after version 2, one presses 2.
    let mut first = Call::new(&app, Encoding::Json, "funnel-v1-0000000000000000001");
    first.did = ACME_DID.into();
    first.step("-1", "").await;
    first.step("main~v1", "1").await;
    publish_a_second_version(&app, &admin).await;
    let mut second = Call::new(&app, Encoding::Json, "funnel-v2-0000000000000000001");
    second.did = ACME_DID.into();
    eventually(
        || second.step("-1", ""),
        |a| matches!(&a.action, Action::Menu(m) if m.menu == "main~v2"),
    )
    .await;
    second.step("main~v2", "2").await;
    for call_id in [&first.call_id, &second.call_id] {
        let response = app
            .post(&app.webhook, "application/json", hang_up(call_id))
            .await;
        assert_eq!(response.status, 200, "{}", response.body);
    }
    let today = chrono::Utc::now().date_naive();
    let range = format!(
        "from={}&to={}&tz=UTC",
        today - chrono::Days::new(1),
        today + chrono::Days::new(1)
    );
    let pressed = |report: &Value| -> Value {
        report["figures"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["node"] == "main")
            .map(|n| n["pressed"].clone())
            .unwrap_or(Value::Null)
    };
    let mut reports = Vec::new();
    for version in ["1", "2"] {
        let path = format!("/api/v1/reports/funnel?{range}&version={version}");
        let mut report = Value::Null;
        for _ in 0..100 {
            let (status, body) = get(&app, &admin, &path).await;
            assert_eq!(status, 200, "{body}");
            report = body;
            if pressed(&report).as_array().is_some_and(|p| !p.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        reports.push(report);
    }
    assert_eq!(
        pressed(&reports[0]),
        json!([{"digits": "1", "steps": 1}]),
        "{}",
        reports[0]
    );
    assert_eq!(
        pressed(&reports[1]),
        json!([{"digits": "2", "steps": 1}]),
        "{}",
        reports[1]
    );
    let (status, body) = get(
        &app,
        &admin,
        &format!("/api/v1/reports/funnel?{range}&version=0"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_detail(&body, "version", "a version number");
}

#[tokio::test]
async fn a_recording_a_call_may_still_hear_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (_, admin) = published_tenant(&app, &platform, "Recs", ACME_DID).await;
    // The draft stops playing "closed" (the rule now hangs up with goodbye)...
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/flow/changes",
        json!({"nodes": [{"key": "entry", "kind": "rules", "rules": [
            {"when": {"type": "open", "schedule": "office"}, "target": "main"}
        ], "default": "goodbye"}], "delete_nodes": ["closed"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // ... but version 1, live, still plays it.
    let (status, body) = delete(&app, &admin, "/api/v1/recordings/closed").await;
    assert_eq!((status, code(&body)), (409, "conflict"), "{body}");
    assert_eq!(
        details(&body),
        [(
            "versions.1.nodes.closed.rec".to_owned(),
            "node \"closed\" plays \"closed\"".to_owned()
        )]
    );
    // Published without it, version 1 was live a moment ago: calls may be on it.
    publish(&app, &admin, "no closed").await;
    let (status, body) = delete(&app, &admin, "/api/v1/recordings/closed").await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = get(&app, &admin, "/api/v1/recordings/closed").await;
    assert_eq!(status, 200, "still there");
    // A day later no call can be on version 1 any more.
    // (A constant, not `created_at - interval`: Citus refuses a STABLE
    // expression over a column in a multi-shard UPDATE.)
    sqlx::query("UPDATE flow_versions SET created_at = now() - interval '25 hours'")
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, body) = delete(&app, &admin, "/api/v1/recordings/closed").await;
    assert_eq!(status, 204, "{body}");
}

#[tokio::test]
async fn a_publish_reaches_another_node_within_milliseconds() {
    let app = TestApp::spawn().await;
    let other = app.another_node().await;
    let platform = platform_admin(&app).await;
    let (_, admin) = published_tenant(&app, &platform, "Nodes", ACME_DID).await;
    let mut call = Call::new(&other, Encoding::Json, "two-nodes-0000000000000000001");
    call.did = ACME_DID.into();
    let mut latencies = Vec::new();
    for round in 0..20 {
        // Alternate the good-bye recording between two, publishing each time.
        let rec = if round % 2 == 0 { "closed" } else { "goodbye" };
        let goodbye = json!({"key": "goodbye", "kind": "hangup", "rec": rec, "cause": 16});
        let (status, body) = put(&app, &admin, "/api/v1/nodes/goodbye", goodbye).await;
        assert_eq!(status, 200, "{body}");
        let published = Instant::now();
        let version = publish(&app, &admin, &format!("round {round}")).await;
        let expected = format!("main~v{}", version["version"]);
        loop {
            let answer = call.step("-1", "").await;
            if matches!(&answer.action, Action::Menu(m) if m.menu == expected) {
                break;
            }
            assert!(
                published.elapsed() < Duration::from_secs(5),
                "the other node never saw {expected}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(published.elapsed());
    }
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    // A figure for the README, not a timed assertion (see bench/).
    println!(
        "publish → other node's webhook answers the new version: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} publishes",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
        latencies.len()
    );
}

#[tokio::test]
async fn the_upgrade_turns_each_tenants_flow_into_version_1_and_changes_no_answer() {
    use ivrhub::config::ServeSettings;
    let url = crate::harness::empty_database().await;
    ivrhub::db::migrate_to(&url, Some(6)).await.unwrap();
    // A tenant as it was before versions: nodes, a schedule, a DID.
    let pool = ivrhub::db::connect_pool(&url, 2).await.unwrap();
    let tenant: i64 =
        sqlx::query_scalar("INSERT INTO tenants (name) VALUES ('Old') RETURNING tenant_id")
            .fetch_one(&pool)
            .await
            .unwrap();
    let empty: i64 =
        sqlx::query_scalar("INSERT INTO tenants (name) VALUES ('Empty') RETURNING tenant_id")
            .fetch_one(&pool)
            .await
            .unwrap();
    let nodes = [
        (
            "main",
            "menu",
            json!({"key": "main", "kind": "menu", "prompt": {"rec": "hello"},
            "routes": [{"digits": "1", "target": "bye"}], "max_retries": 2}),
        ),
        (
            "bye",
            "hangup",
            json!({"key": "bye", "kind": "hangup", "rec": "bye", "cause": 16}),
        ),
    ];
    for (key, kind, definition) in nodes {
        sqlx::query(
            "INSERT INTO flow_nodes (tenant_id, key, kind, definition) VALUES ($1, $2, $3, $4)",
        )
        .bind(tenant)
        .bind(key)
        .bind(kind)
        .bind(sqlx::types::Json(definition))
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query("INSERT INTO node_links (tenant_id, from_key, to_key) VALUES ($1, 'main', 'bye')")
        .bind(tenant)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO recordings (tenant_id, name) VALUES ($1, 'hello'), ($1, 'bye')")
        .bind(tenant)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO dids (did, tenant_id, entry_node, language) VALUES ('0735550000', $1, 'main', 'en')")
        .bind(tenant)
        .execute(&pool)
        .await
        .unwrap();
    // The migration runs (a first new node), and a node of the version
    // before, still running, creates a tenant after it.
    ivrhub::db::migrate(&url).await.unwrap();
    let late: i64 =
        sqlx::query_scalar("INSERT INTO tenants (name) VALUES ('Late') RETURNING tenant_id")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;

    // The new version starts on it (twice, as two nodes would).
    let app = TestApp::spawn_on(ServeSettings::for_tests(), url.clone()).await;
    let _second = app.another_node().await;
    let rows: Vec<(i64, i32, Option<i32>, String)> = sqlx::query_as(
        "SELECT tenant_id, version, parent, author_email FROM flow_versions ORDER BY tenant_id, version",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            (tenant, 1, None, "ivrhub".to_owned()),
            (empty, 1, None, "ivrhub".to_owned()),
            (late, 1, None, "ivrhub".to_owned())
        ]
    );
    let drafts: Vec<(i64, i64)> =
        sqlx::query_as("SELECT tenant_id, revision FROM flow_drafts ORDER BY tenant_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(drafts, [(tenant, 0), (empty, 0), (late, 0)]);
    let content: Value =
        sqlx::query_scalar("SELECT content FROM flow_versions WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        content["entries"],
        json!([{"did": "0735550000", "entry_node": "main", "language": "en"}])
    );
    assert_eq!(content["nodes"][1]["routes"][0]["target"], "bye");

    // Calls answer as before, now naming version 1; a call in progress
    // during the upgrade (an identifier without a version) runs on live.
    let mut call = Call::new(&app, Encoding::XmlRpc, "upgrade-00000000000000000000001");
    call.did = "0735550000".into();
    let start = call.step("-1", "").await;
    assert_eq!(menu_of(&start), ("hello", "main~v1"));
    assert_eq!(start.language.as_str(), "en");
    let retry = call.step("main~r1", "").await;
    assert_eq!(menu_of(&retry).1, "main~v1~r2");
    assert!(
        matches!(call.step("main", "1").await.action, Action::Hangup(ref h) if h.rec.as_deref() == Some("bye"))
    );

    // The draft equals version 1.
    let platform = platform_admin(&app).await;
    let (status, state) = get(&app, &platform, &format!("/api/v1/flow?tenant_id={tenant}")).await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["draft_differs_from_live"], false);
    assert_eq!(state["live"]["author"]["user_id"], Value::Null);
    let (_, diff) = get(
        &app,
        &platform,
        &format!("/api/v1/flow/diff?tenant_id={tenant}"),
    )
    .await;
    assert_eq!(diff["identical"], true, "{diff}");
    // A tenant created after the upgrade has no version until it publishes.
    let (new_tenant, _) = tenant_with_admin(&app, &platform, "New").await;
    let (_, state) = get(
        &app,
        &platform,
        &format!("/api/v1/flow?tenant_id={new_tenant}"),
    )
    .await;
    assert_eq!(state["live"], Value::Null);
}

/// A node whose notification of a publish has not arrived yet: a call whose
/// previous step another node answered on the new version is answered from
/// that version (read from the database), not hung up.
#[tokio::test]
async fn a_version_newer_than_this_node_knows_is_read_not_refused() {
    use ivrhub::flow_cache::{FlowCache, Lookup};
    let app = TestApp::spawn().await;
    let tenant = app.with_demo().await;
    // A cache that hears no notification (no listener): it stays on version 1.
    let cache = FlowCache::new(app.pool.clone());
    cache.reload_all().await.unwrap();
    let closed = ivrhub::flow::model::Node {
        key: "closed".into(),
        language: None,
        kind: ivrhub::flow::model::NodeKind::Hangup(ivrhub::flow::model::Hangup {
            rec: Some("goodbye".into()),
            cause: Some(17),
        }),
    };
    let v2 = ivrhub::flow_service::seed(&app.pool, tenant, &[closed], &[], &[], None, "v2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v2.version, 2);
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(2);
    let did = crate::voicenter_client::DEMO_DID;
    match cache.lookup(did, None, deadline()).await {
        Lookup::Found(_, version) => assert_eq!(version.flow.version, Some(1), "live here"),
        _ => panic!("the live version"),
    }
    match cache.lookup(did, Some(2), deadline()).await {
        Lookup::Found(_, version) => assert_eq!(version.flow.version, Some(2)),
        _ => panic!("version 2 is read from the database"),
    }
    assert!(matches!(
        cache.lookup(did, Some(3), deadline()).await,
        Lookup::UnknownVersion(..)
    ));
    assert!(matches!(
        cache.lookup(did, Some(0), deadline()).await,
        Lookup::UnknownVersion(..)
    ));
}

#[tokio::test]
async fn rolling_back_keeps_the_numbers_given_since_and_taking_a_number_is_a_draft_write() {
    let app = TestApp::spawn().await;
    let platform = platform_admin(&app).await;
    let (tenant, admin) = published_tenant(&app, &platform, "Numbers", ACME_DID).await;
    // A second number, entering at main, published as version 2.
    let (status, body) = post(
        &app,
        &platform,
        "/api/v1/dids",
        json!({"did": "0733000009", "tenant_id": tenant, "entry_node": "main"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let mut second = Call::new(&app, Encoding::Json, "numbers-0000000000000000000001");
    second.did = "0733000009".into();
    let answer = eventually(
        || second.step("-1", ""),
        |a| matches!(a.action, Action::Hangup(ref h) if h.cause == Some(41)),
    )
    .await;
    assert!(
        matches!(answer.action, Action::Hangup(ref h) if h.cause == Some(41)),
        "the number is the tenant's, its entry is not published yet: {answer:?}"
    );
    let (status, body) = put(&app, &admin, "/api/v1/nodes/sales", sales_says_goodbye()).await;
    assert_eq!(status, 200, "{body}");
    publish(
        &app,
        &admin,
        "a second number, and 1 in sales says good-bye",
    )
    .await;
    let answer = eventually(
        || second.step("-1", ""),
        |a| matches!(&a.action, Action::Menu(m) if m.menu == "main~v2"),
    )
    .await;
    assert_eq!(menu_of(&answer).1, "main~v2");
    // Rolling back to version 1 keeps the second number working.
    let (status, v3) = post(
        &app,
        &admin,
        "/api/v1/flow/rollback",
        json!({"version": 1, "message": "back"}),
    )
    .await;
    assert_eq!(status, 201, "{v3}");
    let (_, content) = get(&app, &admin, "/api/v1/flow/versions/3").await;
    assert_eq!(
        content["content"]["entries"],
        json!([{"did": ACME_DID, "entry_node": "entry"}, {"did": "0733000009", "entry_node": "main"}])
    );
    let answer = eventually(
        || second.step("-1", ""),
        |a| matches!(&a.action, Action::Menu(m) if m.menu == "main~v3"),
    )
    .await;
    assert_eq!(menu_of(&answer).1, "main~v3");

    // Taking the number away changes the draft: its revision moves on.
    let before = revision(&app, &admin).await;
    let (status, body) = delete(&app, &platform, "/api/v1/dids/0733000009").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(revision(&app, &admin).await, before + 1);
    let (_, diff) = get(&app, &admin, "/api/v1/flow/diff").await;
    let entries: Vec<&Value> = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|change| change["object"] == "entry")
        .collect();
    assert_eq!(
        json!(entries),
        json!([{"object": "entry", "key": "0733000009", "change": "removed",
                "path": "dids.0733000009", "before": {"did": "0733000009", "entry_node": "main"}}])
    );
}

#[tokio::test]
async fn seeding_the_demo_again_leaves_its_published_flow_alone() {
    let app = TestApp::spawn().await;
    let tenant = app.with_demo().await;
    let closed = ivrhub::flow::model::Node {
        key: "closed".into(),
        language: None,
        kind: ivrhub::flow::model::NodeKind::Hangup(ivrhub::flow::model::Hangup {
            rec: Some("goodbye".into()),
            cause: Some(17),
        }),
    };
    ivrhub::flow_service::seed(&app.pool, tenant, &[closed], &[], &[], None, "edited")
        .await
        .unwrap();
    ivrhub::demo::seed(&app.pool).await.unwrap();
    assert_eq!(
        versions_count(&app, tenant).await,
        2,
        "no version from re-seeding"
    );
    let cause: Value = sqlx::query_scalar(
        "SELECT definition->'cause' FROM flow_nodes WHERE tenant_id = $1 AND key = 'closed'",
    )
    .bind(tenant)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(cause, json!(17), "the draft keeps the edit");
}

/// The audit actions of the code are the ones the database's CHECK accepts.
#[tokio::test]
async fn every_audit_action_is_one_the_database_accepts() {
    use ivrhub::storage::audit::{Actor, AuditAction, Change};
    let app = TestApp::spawn().await;
    let actor = Actor {
        user_id: 1,
        email: "someone@example.com".into(),
    };
    let mut conn = app.pool.acquire().await.unwrap();
    for action in AuditAction::ALL {
        let change = Change {
            tenant_id: None,
            action,
            object_type: "flow",
            object_id: "v1",
            before: None,
            after: None,
        };
        ivrhub::storage::audit::record(&mut conn, &actor, change)
            .await
            .unwrap_or_else(|error| panic!("{}: {error}", action.as_str()));
    }
}
