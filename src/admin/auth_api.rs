//! `/auth/login`, `/auth/refresh`, `/auth/logout`, `/me`, `/me/password`.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::Caller;
use super::json::ApiJson;
use super::state::ApiState;
use super::users::UserView;
use crate::auth::tokens::{self, ACCESS_TTL_SECS, REFRESH_TTL_DAYS};
use crate::auth::{Role, password};
use crate::error::{ApiError, ErrorBody};
use crate::storage::accounts::{self, Rotation, UserChanges};
use crate::storage::audit::AuditAction;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "admin@example.com", max_length = 254)]
    pub email: String,
    #[schema(example = "correct horse battery staple", max_length = 256)]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the login (or the previous refresh).
    pub refresh_token: String,
}

/// Tokens: send `access_token` as `Authorization: Bearer …`; trade
/// `refresh_token` at `/auth/refresh` for new ones before the access token
/// expires. Each refresh token works once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: i64,
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// 10 to 256 characters.
    pub new_password: String,
}

/// Log in with email and password.
///
/// After a few failures, further attempts for the same account or from the
/// same address must wait (429 with `Retry-After`), doubling each time.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Wrong email or password (`invalid_credentials`)", body = ErrorBody),
        (status = 429, description = "Too many failures; see `Retry-After`", body = ErrorBody),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<ApiState>,
    request: HttpRequest,
    body: ApiJson<LoginRequest>,
) -> Result<web::Json<TokenPair>, ApiError> {
    let LoginRequest {
        email,
        password: given,
    } = body.0;
    let email = email.trim().to_lowercase();
    let address = request.peer_addr().map(|addr| addr.ip());
    if let Err(wait) = state.throttle.check(&email, address, Instant::now()) {
        return Err(ApiError::too_many_requests(wait));
    }
    if given.len() > password::MAX_LENGTH * 4 {
        return Err(ApiError::invalid_credentials());
    }
    let user = accounts::user_by_email(&state.pool, &email).await?;
    let stored = match &user {
        Some(user) => user.password_hash.clone(),
        None => password::dummy_hash().await.to_owned(),
    };
    let matches = password::verify(given, stored)
        .await
        .map_err(ApiError::internal)?;
    let user = match user {
        Some(user) if matches && user.status == "active" => user,
        _ => {
            state.throttle.failed(&email, address, Instant::now());
            return Err(ApiError::invalid_credentials());
        }
    };
    state.throttle.succeeded(&email);
    let role = Role::parse(&user.role).ok_or_else(|| ApiError::internal("unknown role"))?;
    Ok(web::Json(
        issue(&state, user.user_id, role, user.tenant_id, None).await?,
    ))
}

/// Trade a refresh token for a new pair.
///
/// The old refresh token stops working. Presenting it again (a stolen copy)
/// revokes every token descended from the same login.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenPair),
        (status = 401, description = "`invalid_refresh_token`: unknown, expired, revoked or already used", body = ErrorBody),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<ApiState>,
    body: ApiJson<RefreshRequest>,
) -> Result<web::Json<TokenPair>, ApiError> {
    let hash = tokens::hash_refresh_token(&body.0.refresh_token);
    match accounts::rotate_refresh_token(&state.pool, &hash).await? {
        Rotation::Rotated { user_id, family } => {
            let user = accounts::user_by_id(&state.pool, user_id)
                .await?
                .filter(|user| user.status == "active")
                .ok_or_else(ApiError::invalid_refresh_token)?;
            let role = Role::parse(&user.role).ok_or_else(|| ApiError::internal("unknown role"))?;
            Ok(web::Json(
                issue(&state, user_id, role, user.tenant_id, Some(family)).await?,
            ))
        }
        Rotation::Reused => {
            tracing::warn!("a refresh token was used twice; its family is revoked");
            Err(ApiError::invalid_refresh_token())
        }
        Rotation::Invalid => Err(ApiError::invalid_refresh_token()),
    }
}

/// Log out: the refresh token, and every token descended from the same login, stop working.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Logged out (also when the token was unknown)"))
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<ApiState>,
    body: ApiJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    accounts::revoke_refresh_family(
        &state.pool,
        &tokens::hash_refresh_token(&body.0.refresh_token),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who am I.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The calling user", body = UserView),
        (status = 401, description = "No valid access token", body = ErrorBody),
    )
)]
#[get("/me")]
pub async fn me(
    state: web::Data<ApiState>,
    caller: Caller,
) -> Result<web::Json<UserView>, ApiError> {
    let user = accounts::user_by_id(&state.pool, caller.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(web::Json(user.into()))
}

/// Change my password. Every refresh token of mine stops working.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "The current password is wrong", body = ErrorBody),
        (status = 422, description = "The new password is too weak", body = ErrorBody),
    )
)]
#[post("/me/password")]
pub async fn change_password(
    state: web::Data<ApiState>,
    caller: Caller,
    body: ApiJson<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let PasswordChange {
        current_password,
        new_password,
    } = body.0;
    password::check_strength(&new_password).map_err(|message| {
        ApiError::validation(
            "the new password is refused",
            vec![crate::error::ErrorDetail {
                path: "new_password".into(),
                message,
            }],
        )
    })?;
    let user = accounts::user_by_id(&state.pool, caller.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    if !password::verify(current_password, user.password_hash)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::forbidden("the current password is wrong"));
    }
    let hash = password::hash(new_password)
        .await
        .map_err(ApiError::internal)?;
    let mut tx = state.pool.begin().await?;
    let changes = UserChanges {
        password_hash: Some(&hash),
        ..UserChanges::default()
    };
    accounts::update_user(&mut tx, caller.tenant_id, caller.user_id, &changes).await?;
    crate::storage::audit::record(
        &mut tx,
        &caller.actor(),
        crate::storage::audit::Change {
            tenant_id: caller.tenant_id,
            action: AuditAction::Update,
            object_type: "user",
            object_id: &caller.user_id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "password": "changed" })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn issue(
    state: &ApiState,
    user_id: i64,
    role: Role,
    tenant: Option<i64>,
    family: Option<i64>,
) -> Result<TokenPair, ApiError> {
    let now = Utc::now();
    let access_token = state
        .tokens
        .issue(user_id, role, tenant, now)
        .map_err(ApiError::internal)?;
    let (refresh_token, hash) = tokens::new_refresh_token();
    let refresh_ttl = chrono::Duration::days(REFRESH_TTL_DAYS);
    accounts::insert_refresh_token(&state.pool, user_id, &hash, family, now + refresh_ttl).await?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECS,
        refresh_token,
        refresh_expires_in: refresh_ttl.num_seconds(),
    })
}
