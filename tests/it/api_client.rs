//! Driving the REST API like a client: log in, then JSON requests with a bearer token.

use serde_json::Value;

use crate::harness::TestApp;

pub const PLATFORM_ADMIN: &str = "root@platform.example";
pub const PASSWORD: &str = "a long enough password";

/// Logs in; returns the access token.
pub async fn login(app: &TestApp, email: &str, password: &str) -> String {
    let (status, body) = send(
        app,
        reqwest::Method::POST,
        None,
        "/api/v1/auth/login",
        Some(serde_json::json!({"email": email, "password": password})),
    )
    .await;
    assert_eq!(status, 200, "login of {email}: {body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// Creates the platform admin (once per app) and logs in.
pub async fn platform_admin(app: &TestApp) -> String {
    if ivrhub::storage::accounts::user_by_email(&app.pool, PLATFORM_ADMIN)
        .await
        .unwrap()
        .is_none()
    {
        ivrhub::admin::bootstrap::create_platform_admin(&app.pool, PLATFORM_ADMIN, PASSWORD)
            .await
            .unwrap();
    }
    login(app, PLATFORM_ADMIN, PASSWORD).await
}

/// A new tenant named `name` with a tenant admin `admin@<name>.example`; returns (tenant id, the admin's token).
pub async fn tenant_with_admin(app: &TestApp, platform_token: &str, name: &str) -> (i64, String) {
    let (status, tenant) = post(
        app,
        platform_token,
        "/api/v1/tenants",
        serde_json::json!({"name": name}),
    )
    .await;
    assert_eq!(status, 201, "{tenant}");
    let tenant_id = tenant["tenant_id"].as_i64().unwrap();
    let email = format!("admin@{}.example", name.to_lowercase().replace(' ', "-"));
    let user = serde_json::json!({"email": email, "role": "tenant_admin", "password": PASSWORD});
    let (status, body) = post(
        app,
        platform_token,
        &format!("/api/v1/users?tenant_id={tenant_id}"),
        user,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (tenant_id, login(app, &email, PASSWORD).await)
}

/// A user of the caller's tenant with `role`; returns its token.
pub async fn user_with_role(app: &TestApp, admin_token: &str, email: &str, role: &str) -> String {
    let user = serde_json::json!({"email": email, "role": role, "password": PASSWORD});
    let (status, body) = post(app, admin_token, "/api/v1/users", user).await;
    assert_eq!(status, 201, "{body}");
    login(app, email, PASSWORD).await
}

pub async fn send(
    app: &TestApp,
    method: reqwest::Method,
    token: Option<&str>,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.http.request(method, format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

pub async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    send(app, reqwest::Method::GET, Some(token), path, None).await
}

pub async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    send(app, reqwest::Method::POST, Some(token), path, Some(body)).await
}

pub async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    send(app, reqwest::Method::PUT, Some(token), path, Some(body)).await
}

pub async fn patch(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    send(app, reqwest::Method::PATCH, Some(token), path, Some(body)).await
}

pub async fn delete(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    send(app, reqwest::Method::DELETE, Some(token), path, None).await
}

/// The `error.code` of an error answer.
pub fn code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error answer: {body}"))
}
