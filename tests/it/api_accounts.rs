//! Tenants and users through the API: what each role may do, what another
//! tenant can see (nothing), and what bad input gets.

use serde_json::{Value, json};

use crate::api_client::{
    PASSWORD, code, delete, get, patch, platform_admin, post, send, tenant_with_admin,
    user_with_role,
};
use crate::harness::TestApp;

#[tokio::test]
async fn the_platform_admin_creates_a_tenant_and_its_admin() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (status, tenant) = post(
        &app,
        &root,
        "/api/v1/tenants",
        json!({"name": "Acme", "time_zone": "Europe/London", "language": "en"}),
    )
    .await;
    assert_eq!(status, 201, "{tenant}");
    assert_eq!(
        (
            tenant["name"].as_str(),
            tenant["time_zone"].as_str(),
            tenant["language"].as_str(),
            tenant["status"].as_str()
        ),
        (
            Some("Acme"),
            Some("Europe/London"),
            Some("en"),
            Some("active")
        )
    );
    let id = tenant["tenant_id"].as_i64().unwrap();
    let (status, user) = post(&app, &root, &format!("/api/v1/users?tenant_id={id}"), json!({"email": "Boss@Acme.example", "name": "Boss", "role": "tenant_admin", "password": PASSWORD})).await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(
        (
            user["email"].as_str(),
            user["tenant_id"].as_i64(),
            user["role"].as_str()
        ),
        (Some("boss@acme.example"), Some(id), Some("tenant_admin"))
    );
    let boss = crate::api_client::login(&app, "boss@acme.example", PASSWORD).await;
    let (status, own) = get(&app, &boss, &format!("/api/v1/tenants/{id}")).await;
    assert_eq!((status, own["name"].as_str()), (200, Some("Acme")));
    let (status, listed) = get(&app, &boss, "/api/v1/users").await;
    assert_eq!(
        (status, listed["items"].as_array().unwrap().len()),
        (200, 1)
    );
}

/// (method, path, body, expected status for platform admin, tenant admin, editor, viewer).
/// `{T}` is the tenant's id, `{U}` a user of it (a viewer made for the purpose).
fn role_table() -> Vec<(&'static str, &'static str, Option<Value>, [u16; 4])> {
    vec![
        ("GET", "/api/v1/me", None, [200, 200, 200, 200]),
        ("GET", "/api/v1/tenants", None, [200, 403, 403, 403]),
        (
            "POST",
            "/api/v1/tenants",
            Some(json!({"name": "Made by {R}"})),
            [201, 403, 403, 403],
        ),
        ("GET", "/api/v1/tenants/{T}", None, [200, 200, 200, 200]),
        (
            "PATCH",
            "/api/v1/tenants/{T}",
            Some(json!({"language": "he"})),
            [200, 200, 403, 403],
        ),
        (
            "PATCH",
            "/api/v1/tenants/{T}",
            Some(json!({"status": "active"})),
            [200, 403, 403, 403],
        ),
        (
            "PATCH",
            "/api/v1/tenants/{T}",
            Some(json!({"cdr_retention_months": 24})),
            [200, 200, 403, 403],
        ),
        (
            "GET",
            "/api/v1/users?tenant_id={T}",
            None,
            [200, 200, 403, 403],
        ),
        (
            "POST",
            "/api/v1/users?tenant_id={T}",
            Some(json!({"email": "new-{R}@roles.example", "role": "viewer", "password": PASSWORD})),
            [201, 201, 403, 403],
        ),
        (
            "GET",
            "/api/v1/users/{U}?tenant_id={T}",
            None,
            [200, 200, 403, 403],
        ),
        (
            "PATCH",
            "/api/v1/users/{U}?tenant_id={T}",
            Some(json!({"name": "Renamed"})),
            [200, 200, 403, 403],
        ),
        (
            "GET",
            "/api/v1/audit?tenant_id={T}",
            None,
            [200, 200, 403, 403],
        ),
        (
            "DELETE",
            "/api/v1/users/{U}?tenant_id={T}",
            None,
            [204, 204, 403, 403],
        ),
        ("DELETE", "/api/v1/tenants/{T}", None, [204, 403, 403, 403]),
    ]
}

#[tokio::test]
async fn every_role_gets_exactly_its_rights_on_every_endpoint() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let roles = ["platform_admin", "tenant_admin", "editor", "viewer"];
    for (row, (method, path, body, expected)) in role_table().into_iter().enumerate() {
        for (column, role) in roles.iter().enumerate() {
            // A fresh tenant per cell: deleting it in one cell must not change the next.
            let (tenant_id, admin) =
                tenant_with_admin(&app, &root, &format!("Roles {row} {column}")).await;
            let viewer = format!("target-{row}-{column}@roles.example");
            let (_, target) = post(
                &app,
                &admin,
                "/api/v1/users",
                json!({"email": viewer, "role": "viewer", "password": PASSWORD}),
            )
            .await;
            let token = match *role {
                "platform_admin" => root.clone(),
                "tenant_admin" => admin.clone(),
                other => {
                    user_with_role(
                        &app,
                        &admin,
                        &format!("{other}-{row}-{column}@roles.example"),
                        other,
                    )
                    .await
                }
            };
            let fill = |text: &str| {
                text.replace("{T}", &tenant_id.to_string())
                    .replace("{U}", &target["user_id"].to_string())
                    .replace("{R}", &format!("{row}-{column}"))
            };
            let body = body
                .as_ref()
                .map(|b| serde_json::from_str::<Value>(&fill(&b.to_string())).unwrap());
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let (status, answer) =
                send(&app, method.clone(), Some(&token), &fill(path), body).await;
            assert_eq!(status, expected[column], "{role} {method} {path}: {answer}");
            if status == 403 {
                assert_eq!(code(&answer), "forbidden");
            }
        }
    }
}

#[tokio::test]
async fn another_tenant_sees_nothing_of_mine() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (a, admin_a) = tenant_with_admin(&app, &root, "Tenant A").await;
    let (_, admin_b) = tenant_with_admin(&app, &root, "Tenant B").await;
    let (_, user_a) = post(
        &app,
        &admin_a,
        "/api/v1/users",
        json!({"email": "someone@a.example", "role": "editor", "password": PASSWORD}),
    )
    .await;
    let user_a = user_a["user_id"].as_i64().unwrap();
    let attempts = [
        ("GET", format!("/api/v1/tenants/{a}"), None),
        (
            "PATCH",
            format!("/api/v1/tenants/{a}"),
            Some(json!({"name": "Taken over"})),
        ),
        (
            "PATCH",
            format!("/api/v1/tenants/{a}"),
            Some(json!({"cdr_retention_months": 3})),
        ),
        ("GET", format!("/api/v1/users/{user_a}"), None),
        (
            "PATCH",
            format!("/api/v1/users/{user_a}"),
            Some(json!({"role": "tenant_admin"})),
        ),
        ("DELETE", format!("/api/v1/users/{user_a}"), None),
        ("GET", format!("/api/v1/users?tenant_id={a}"), None),
        (
            "POST",
            format!("/api/v1/users?tenant_id={a}"),
            Some(json!({"email": "mole@b.example", "role": "tenant_admin", "password": PASSWORD})),
        ),
        ("GET", format!("/api/v1/audit?tenant_id={a}"), None),
    ];
    for (method, path, body) in attempts {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let (status, answer) = send(&app, method.clone(), Some(&admin_b), &path, body).await;
        assert_eq!(
            (status, code(&answer)),
            (404, "not_found"),
            "{method} {path}"
        );
    }
    // Nothing changed.
    let (_, tenant) = get(&app, &root, &format!("/api/v1/tenants/{a}")).await;
    assert_eq!(tenant["name"], "Tenant A");
    assert_eq!(tenant["cdr_retention_months"], Value::Null);
    let (_, user) = get(&app, &admin_a, &format!("/api/v1/users/{user_a}")).await;
    assert_eq!(user["role"], "editor");
    assert!(
        ivrhub::storage::accounts::user_by_email(&app.pool, "mole@b.example")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn bad_bodies_get_their_path_and_duplicates_conflict() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let cases = [
        (
            json!({"name": "X", "colour": "red"}),
            422,
            "validation_failed",
            "",
            "unknown field `colour`",
        ),
        (
            json!({"name": 12}),
            422,
            "validation_failed",
            "name",
            "invalid type",
        ),
        (
            json!({"name": "X", "language": "fr"}),
            422,
            "validation_failed",
            "language",
            "unknown variant `fr`",
        ),
        (
            json!({"name": "x".repeat(201)}),
            422,
            "validation_failed",
            "name",
            "1 to 200 characters",
        ),
        (
            json!({"name": "X", "time_zone": "Mars/Olympus"}),
            422,
            "validation_failed",
            "time_zone",
            "not an IANA time zone",
        ),
    ];
    for (body, status, error, path, message) in cases {
        let (got, answer) = post(&app, &root, "/api/v1/tenants", body.clone()).await;
        assert_eq!((got, code(&answer)), (status, error), "{body}: {answer}");
        if !path.is_empty() {
            assert_eq!(answer["error"]["details"][0]["path"], path, "{answer}");
        }
        assert!(answer.to_string().contains(message), "{body}: {answer}");
    }
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        Some(&root),
        "/api/v1/tenants",
        None,
    )
    .await;
    assert_eq!(status, 400, "no body");
    let too_big = json!({"name": "x".repeat(300 * 1024)});
    let (status, answer) = post(&app, &root, "/api/v1/tenants", too_big).await;
    assert_eq!((status, code(&answer)), (413, "payload_too_large"));

    assert_eq!(
        post(&app, &root, "/api/v1/tenants", json!({"name": "Twice"}))
            .await
            .0,
        201
    );
    let (status, answer) = post(&app, &root, "/api/v1/tenants", json!({"name": "Twice"})).await;
    assert_eq!((status, code(&answer)), (409, "conflict"));
    let (_, admin) = tenant_with_admin(&app, &root, "Emails").await;
    let (status, answer) = post(
        &app,
        &admin,
        "/api/v1/users",
        json!({"email": "admin@emails.example", "role": "viewer", "password": PASSWORD}),
    )
    .await;
    assert_eq!((status, code(&answer)), (409, "conflict"), "{answer}");
    let (status, answer) = post(
        &app,
        &admin,
        "/api/v1/users",
        json!({"email": "x@emails.example", "role": "platform_admin", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        (
            status,
            code(&answer),
            answer["error"]["details"][0]["path"].as_str()
        ),
        (422, "validation_failed", Some("role"))
    );
    let (status, answer) = post(
        &app,
        &admin,
        "/api/v1/users",
        json!({"email": "not-an-email", "role": "viewer", "password": "short"}),
    )
    .await;
    assert_eq!(status, 422);
    let paths: Vec<&str> = answer["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["email", "password"]);
}

#[tokio::test]
async fn lists_are_paginated_with_a_capped_page() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    for n in 0..5 {
        assert_eq!(
            post(
                &app,
                &root,
                "/api/v1/tenants",
                json!({"name": format!("Page {n}")})
            )
            .await
            .0,
            201
        );
    }
    let (_, first) = get(&app, &root, "/api/v1/tenants?limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = get(
        &app,
        &root,
        &format!("/api/v1/tenants?limit=2&cursor={cursor}"),
    )
    .await;
    assert_ne!(
        first["items"][0]["tenant_id"],
        second["items"][0]["tenant_id"]
    );
    let (_, last) = get(&app, &root, "/api/v1/tenants?limit=200").await;
    assert_eq!(last["items"].as_array().unwrap().len(), 5);
    assert!(last.get("next_cursor").is_none());
    for bad in [
        "limit=0",
        "limit=201",
        "limit=-1",
        "limit=abc",
        "cursor=%21%21",
    ] {
        let (status, answer) = get(&app, &root, &format!("/api/v1/tenants?{bad}")).await;
        assert_eq!((status, code(&answer)), (400, "bad_request"), "{bad}");
    }
}

#[tokio::test]
async fn the_audit_log_keeps_who_changed_what() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (tenant, admin) = tenant_with_admin(&app, &root, "Audited").await;
    assert_eq!(
        patch(
            &app,
            &admin,
            &format!("/api/v1/tenants/{tenant}"),
            json!({"time_zone": "Europe/Paris"})
        )
        .await
        .0,
        200
    );
    let (status, log) = get(&app, &admin, "/api/v1/audit").await;
    assert_eq!(status, 200);
    let newest = &log["items"][0];
    assert_eq!(
        (
            newest["action"].as_str(),
            newest["object_type"].as_str(),
            newest["actor_email"].as_str()
        ),
        (
            Some("update"),
            Some("tenant"),
            Some("admin@audited.example")
        )
    );
    assert_eq!(newest["before"]["time_zone"], "Asia/Jerusalem");
    assert_eq!(newest["after"]["time_zone"], "Europe/Paris");
    let oldest = log["items"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (oldest["action"].as_str(), oldest["object_type"].as_str()),
        (Some("create"), Some("tenant"))
    );
    assert_eq!(
        delete(&app, &root, &format!("/api/v1/tenants/{tenant}"))
            .await
            .0,
        204
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = TestApp::spawn().await;
    let (status, answer) = send(
        &app,
        reqwest::Method::GET,
        None,
        "/api/v1/nothing-here",
        None,
    )
    .await;
    assert_eq!((status, code(&answer)), (404, "not_found"));
    let (status, answer) = send(&app, reqwest::Method::GET, None, "/voicenter", None).await;
    assert_eq!(status, 405, "{answer}");
    assert_eq!(
        (answer["STATUS"].as_i64(), answer["ERROR_CODE"].as_str()),
        (Some(1), Some("method_not_allowed")),
        "the webhook's own shape"
    );
    let (status, answer) = send(
        &app,
        reqwest::Method::GET,
        None,
        "/api/v1/users/not-a-number",
        None,
    )
    .await;
    assert_eq!(
        (status, code(&answer)),
        (401, "unauthenticated"),
        "{answer}"
    );
    let docs = app
        .http
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status().as_u16(), 200);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "the Swagger UI is served"
    );
    let spec: Value = app
        .http
        .get(format!("{}/api/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["info"]["title"], "ivrhub API");
    assert_eq!(
        spec,
        serde_json::to_value(ivrhub::admin::openapi()).unwrap()
    );
}
