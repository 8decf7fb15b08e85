//! Logging in, refreshing, logging out, and every way a token can be bad.

use chrono::Utc;
use ivrhub::config::{Secret, ServeSettings};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::api_client::{
    PASSWORD, PLATFORM_ADMIN, code, get, patch, platform_admin, post, send, tenant_with_admin,
};
use crate::harness::TestApp;

const KEY: &str = "test-signing-key-test-signing-key-0123";

async fn app_with_known_key() -> TestApp {
    TestApp::spawn_with(ServeSettings {
        jwt_secret: Some(Secret::new(KEY.into())),
        ..ServeSettings::for_tests()
    })
    .await
}

async fn login_body(app: &TestApp, email: &str, password: &str) -> (u16, serde_json::Value) {
    send(
        app,
        reqwest::Method::POST,
        None,
        "/api/v1/auth/login",
        Some(json!({"email": email, "password": password})),
    )
    .await
}

#[tokio::test]
async fn a_login_gives_tokens_that_open_the_api() {
    let app = TestApp::spawn().await;
    platform_admin(&app).await;
    // Email case and surrounding spaces do not matter.
    let (status, tokens) = login_body(&app, "  ROOT@platform.example ", PASSWORD).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        (tokens["token_type"].as_str(), tokens["expires_in"].as_i64()),
        (Some("Bearer"), Some(900))
    );
    let access = tokens["access_token"].as_str().unwrap();
    let (status, me) = get(&app, access, "/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            me["email"].as_str(),
            me["role"].as_str(),
            me["tenant_id"].as_i64()
        ),
        (Some(PLATFORM_ADMIN), Some("platform_admin"), None)
    );
    assert!(me.get("password_hash").is_none(), "never shown");
}

#[tokio::test]
async fn wrong_passwords_and_unknown_accounts_look_the_same() {
    let app = TestApp::spawn().await;
    platform_admin(&app).await;
    let (status, wrong) = login_body(&app, PLATFORM_ADMIN, "not the password").await;
    let (status2, unknown) = login_body(&app, "nobody@platform.example", PASSWORD).await;
    assert_eq!((status, status2), (401, 401));
    assert_eq!(wrong, unknown);
    assert_eq!(code(&wrong), "invalid_credentials");
}

#[tokio::test]
async fn repeated_failures_are_slowed_down_with_retry_after() {
    let app = TestApp::spawn().await;
    platform_admin(&app).await;
    for _ in 0..6 {
        assert_eq!(
            login_body(&app, PLATFORM_ADMIN, "guess guess guess")
                .await
                .0,
            401
        );
    }
    let response = app
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"email": PLATFORM_ADMIN, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        429,
        "even the right password waits"
    );
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(code(&body), "too_many_requests");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family() {
    let app = TestApp::spawn().await;
    platform_admin(&app).await;
    let (_, first) = login_body(&app, PLATFORM_ADMIN, PASSWORD).await;
    let first_refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |token: String| {
        let app = &app;
        async move {
            send(
                app,
                reqwest::Method::POST,
                None,
                "/api/v1/auth/refresh",
                Some(json!({"refresh_token": token})),
            )
            .await
        }
    };
    let (status, second) = refresh(first_refresh.clone()).await;
    assert_eq!(status, 200, "{second}");
    let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(
        get(&app, second["access_token"].as_str().unwrap(), "/api/v1/me")
            .await
            .0,
        200
    );

    // The first token again: stolen. It fails, and so does everything descended from it.
    let (status, body) = refresh(first_refresh).await;
    assert_eq!((status, code(&body)), (401, "invalid_refresh_token"));
    let (status, _) = refresh(second_refresh).await;
    assert_eq!(status, 401);
    let (status, _) = refresh("made-up".into()).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    platform_admin(&app).await;
    let (_, tokens) = login_body(&app, PLATFORM_ADMIN, PASSWORD).await;
    let refresh_token = tokens["refresh_token"].clone();
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        None,
        "/api/v1/auth/logout",
        Some(json!({"refresh_token": refresh_token})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        None,
        "/api/v1/auth/refresh",
        Some(json!({"refresh_token": refresh_token})),
    )
    .await;
    assert_eq!(status, 401);
}

fn forge(claims: serde_json::Value, key: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn every_kind_of_bad_token_is_refused() {
    let app = app_with_known_key().await;
    platform_admin(&app).await;
    let user_id = ivrhub::storage::accounts::user_by_email(&app.pool, PLATFORM_ADMIN)
        .await
        .unwrap()
        .unwrap()
        .user_id
        .to_string();
    let now = Utc::now().timestamp();
    let good = json!({"sub": user_id, "iat": now, "exp": now + 600, "iss": "ivrhub", "aud": "ivrhub-api", "role": "platform_admin", "tenant": null});
    assert_eq!(
        get(&app, &forge(good.clone(), KEY), "/api/v1/me").await.0,
        200,
        "the forging itself is right"
    );

    let with = |field: &str, value: serde_json::Value| {
        let mut claims = good.clone();
        claims[field] = value;
        forge(claims, KEY)
    };
    let without = |field: &str| {
        let mut claims = good.clone();
        claims.as_object_mut().unwrap().remove(field);
        forge(claims, KEY)
    };
    let valid = forge(good.clone(), KEY);
    let (header, rest) = valid.split_once('.').unwrap();
    let (payload, _signature) = rest.split_once('.').unwrap();
    let alg_none = {
        use base64::Engine;
        let none = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"none","typ":"JWT"}"#);
        format!("{none}.{payload}.")
    };
    let tampered = {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value =
            serde_json::from_slice(&engine.decode(payload).unwrap()).unwrap();
        claims["sub"] = json!("999999");
        format!(
            "{header}.{}.{}",
            engine.encode(claims.to_string()),
            valid.rsplit('.').next().unwrap()
        )
    };
    let cases = [
        (
            "expired",
            with("exp", json!(now - 3600)),
            "has expired: get a new one",
        ),
        (
            "wrong audience",
            with("aud", json!("someone-else")),
            "another audience",
        ),
        (
            "wrong issuer",
            with("iss", json!("evil")),
            "issued by someone else",
        ),
        ("no exp", without("exp"), "access token"),
        ("no iat", without("iat"), "access token"),
        ("no sub", without("sub"), "access token"),
        ("no aud", without("aud"), "access token"),
        ("no iss", without("iss"), "access token"),
        (
            "other key",
            forge(good.clone(), "another-key-another-key-another-key-00"),
            "signature does not match",
        ),
        ("alg none", alg_none, "access token"),
        ("tampered", tampered, "signature does not match"),
        ("garbage", "not.a.token".into(), "malformed"),
        (
            "HS512",
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS512),
                &good,
                &EncodingKey::from_secret(KEY.as_bytes()),
            )
            .unwrap(),
            "another algorithm",
        ),
    ];
    for (name, token, says) in cases {
        let (status, body) = get(&app, &token, "/api/v1/me").await;
        assert_eq!(
            (status, code(&body)),
            (401, "unauthenticated"),
            "{name}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{name}: {message}");
        assert!(
            !message.contains("Signature"),
            "{name}: no library jargon: {message}"
        );
    }
    let (status, body) = send(&app, reqwest::Method::GET, None, "/api/v1/me", None).await;
    assert_eq!((status, code(&body)), (401, "unauthenticated"));
    let response = app
        .http
        .get(format!("{}/api/v1/me", app.base))
        .header("authorization", format!("Basic {valid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn disabling_a_user_ends_its_sessions_at_once() {
    let app = TestApp::spawn().await;
    let root = platform_admin(&app).await;
    let (_, admin) = tenant_with_admin(&app, &root, "Disabling").await;
    let (_, tokens) = login_body(&app, "admin@disabling.example", PASSWORD).await;
    let (status, viewer) = post(
        &app,
        &admin,
        "/api/v1/users",
        json!({"email": "v@disabling.example", "role": "viewer", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 201);
    let (_, viewer_tokens) = login_body(&app, "v@disabling.example", PASSWORD).await;
    let viewer_access = viewer_tokens["access_token"].as_str().unwrap();
    assert_eq!(get(&app, viewer_access, "/api/v1/me").await.0, 200);

    let viewer_id = viewer["user_id"].as_i64().unwrap();
    let (status, _) = patch(
        &app,
        &admin,
        &format!("/api/v1/users/{viewer_id}"),
        json!({"status": "disabled"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(&app, viewer_access, "/api/v1/me").await.0,
        401,
        "the access token dies with the account"
    );
    let refresh = json!({"refresh_token": viewer_tokens["refresh_token"]});
    assert_eq!(
        send(
            &app,
            reqwest::Method::POST,
            None,
            "/api/v1/auth/refresh",
            Some(refresh)
        )
        .await
        .0,
        401
    );
    assert_eq!(
        login_body(&app, "v@disabling.example", PASSWORD).await.0,
        401
    );
    assert!(tokens["access_token"].is_string());
}

#[tokio::test]
async fn changing_the_password_needs_the_old_one_and_ends_other_sessions() {
    let app = TestApp::spawn().await;
    platform_admin(&app).await;
    let (_, tokens) = login_body(&app, PLATFORM_ADMIN, PASSWORD).await;
    let access = tokens["access_token"].as_str().unwrap();
    let (status, body) = post(
        &app,
        access,
        "/api/v1/me/password",
        json!({"current_password": "wrong wrong wrong", "new_password": "a brand new password"}),
    )
    .await;
    assert_eq!((status, code(&body)), (403, "forbidden"));
    let (status, body) = post(
        &app,
        access,
        "/api/v1/me/password",
        json!({"current_password": PASSWORD, "new_password": "short"}),
    )
    .await;
    assert_eq!((status, code(&body)), (422, "validation_failed"));
    assert_eq!(body["error"]["details"][0]["path"], "new_password");
    let (status, _) = post(
        &app,
        access,
        "/api/v1/me/password",
        json!({"current_password": PASSWORD, "new_password": "a brand new password"}),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(login_body(&app, PLATFORM_ADMIN, PASSWORD).await.0, 401);
    assert_eq!(
        login_body(&app, PLATFORM_ADMIN, "a brand new password")
            .await
            .0,
        200
    );
    let refresh = json!({"refresh_token": tokens["refresh_token"]});
    assert_eq!(
        send(
            &app,
            reqwest::Method::POST,
            None,
            "/api/v1/auth/refresh",
            Some(refresh)
        )
        .await
        .0,
        401
    );
}

#[tokio::test]
async fn the_first_platform_admin_is_configured_or_generated_once() {
    use ivrhub::admin::bootstrap::{Bootstrap, ensure_first_admin};
    let configured = TestApp::spawn().await;
    let created = ensure_first_admin(
        &configured.pool,
        Some(" Ops@Example.com "),
        Some("configured password"),
    )
    .await
    .unwrap();
    assert!(matches!(created, Bootstrap::Created { ref email } if email == "ops@example.com"));
    crate::api_client::login(&configured, "ops@example.com", "configured password").await;
    assert!(matches!(
        ensure_first_admin(&configured.pool, None, None)
            .await
            .unwrap(),
        Bootstrap::Existing
    ));

    let generated = TestApp::spawn().await;
    let Bootstrap::Generated { email, password } = ensure_first_admin(&generated.pool, None, None)
        .await
        .unwrap()
    else {
        panic!("expected a generated admin");
    };
    assert!(password.len() >= 20);
    let token = crate::api_client::login(&generated, &email, &password).await;
    assert_eq!(
        get(&generated, &token, "/api/v1/me").await.1["role"],
        "platform_admin"
    );
    assert!(matches!(
        ensure_first_admin(&generated.pool, None, None)
            .await
            .unwrap(),
        Bootstrap::Existing
    ));
}
