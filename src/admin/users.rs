//! `/users`: a tenant's accounts (tenant admins for their tenant, platform
//! admins for any tenant with `?tenant_id=`).

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit_api::{Event, record};
use super::checks::Problems;
use super::extract::{TenantQuery, TenantScope};
use super::json::ApiJson;
use super::pagination::{Page, PageQuery, page};
use super::state::ApiState;
use crate::auth::{Role, password};
use crate::error::{ApiError, ErrorBody};
use crate::storage::accounts::{self, NewUser, UserChanges, UserRow};
use crate::storage::audit::AuditAction;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub user_id: i64,
    /// Absent for platform admins.
    pub tenant_id: Option<i64>,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// `active` or `disabled`.
    #[schema(example = "active")]
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserRow> for UserView {
    fn from(row: UserRow) -> UserView {
        UserView {
            user_id: row.user_id,
            tenant_id: row.tenant_id,
            email: row.email,
            name: row.name,
            role: Role::parse(&row.role).unwrap_or(Role::Viewer),
            status: row.status,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(example = "dana@acme.example")]
    pub email: String,
    #[serde(default)]
    #[schema(example = "Dana Levi")]
    pub name: String,
    /// `tenant_admin`, `editor` or `viewer`.
    pub role: Role,
    /// 10 to 256 characters.
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub name: Option<String>,
    pub role: Option<Role>,
    /// `active` or `disabled`; disabling ends every session of the user at once.
    #[schema(example = "disabled")]
    pub status: Option<String>,
    /// A new password (10 to 256 characters); ends every session of the user.
    pub password: Option<String>,
}

fn check_role(problems: &mut Problems, role: Option<Role>) {
    if role == Some(Role::PlatformAdmin) {
        problems.add(
            "role",
            "a tenant's user cannot be a platform admin (`tenant_admin`, `editor` or `viewer`)",
        );
    }
}

fn check_password(problems: &mut Problems, password: Option<&str>) {
    if let Some(Err(message)) = password.map(password::check_strength) {
        problems.add("password", message);
    }
}

/// List the tenant's users.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(TenantQuery, PageQuery),
    responses(
        (status = 200, description = "A page of users", body = Page<UserView>),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<ApiState>,
    scope: TenantScope,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<UserView>>, ApiError> {
    scope.require_admin()?;
    let limit = query.limit()?;
    let rows = accounts::list_users(
        &state.pool,
        Some(scope.tenant_id),
        query.after_id()?,
        i64::from(limit) + 1,
    )
    .await?;
    Ok(web::Json(page(
        rows,
        limit,
        |row| row.user_id.to_string(),
        UserView::from,
    )))
}

/// Create a user of the tenant.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(TenantQuery),
    request_body = CreateUser,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "The email is taken", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<ApiState>,
    scope: TenantScope,
    body: ApiJson<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    scope.require_admin()?;
    let CreateUser {
        email,
        name,
        role,
        password: given,
    } = body.0;
    let email = email.trim().to_lowercase();
    let mut problems = Problems::default();
    problems.email("email", &email);
    problems.length("name", &name, 0, 200);
    check_role(&mut problems, Some(role));
    check_password(&mut problems, Some(&given));
    problems.finish("the user")?;
    let hash = password::hash(given).await.map_err(ApiError::internal)?;
    let mut tx = state.pool.begin().await?;
    let new = NewUser {
        tenant_id: Some(scope.tenant_id),
        email: &email,
        name: name.trim(),
        role: role.as_str(),
        password_hash: &hash,
    };
    let row = accounts::insert_user(&mut tx, &new)
        .await
        .map_err(|e| email_taken(e, &email))?;
    let view = UserView::from(row);
    let id = view.user_id.to_string();
    record(
        &mut tx,
        &scope.caller,
        Some(scope.tenant_id),
        Event {
            action: AuditAction::Create,
            object_type: "user",
            object_id: &id,
            before: None,
            after: Some(&view),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(view))
}

/// Read a user of the tenant.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("user_id" = i64, Path), TenantQuery),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 404, description = "No such user (or not yours)", body = ErrorBody),
    )
)]
#[get("/users/{user_id}")]
pub async fn get_user(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<web::Json<UserView>, ApiError> {
    scope.require_admin()?;
    let row = accounts::tenant_user(&state.pool, scope.tenant_id, path.into_inner())
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(web::Json(row.into()))
}

/// Change a user of the tenant: name, role, status, password.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("user_id" = i64, Path), TenantQuery),
    request_body = UpdateUser,
    responses(
        (status = 200, description = "Changed", body = UserView),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
#[patch("/users/{user_id}")]
pub async fn update_user(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<i64>,
    body: ApiJson<UpdateUser>,
) -> Result<web::Json<UserView>, ApiError> {
    scope.require_admin()?;
    let user_id = path.into_inner();
    let UpdateUser {
        name,
        role,
        status,
        password: given,
    } = body.0;
    let mut problems = Problems::default();
    if let Some(name) = &name {
        problems.length("name", name, 0, 200);
    }
    check_role(&mut problems, role);
    check_password(&mut problems, given.as_deref());
    if status
        .as_deref()
        .is_some_and(|s| s != "active" && s != "disabled")
    {
        problems.add("status", "must be `active` or `disabled`");
    }
    problems.finish("the user")?;
    let hash = match given {
        Some(given) => Some(password::hash(given).await.map_err(ApiError::internal)?),
        None => None,
    };
    let before = accounts::tenant_user(&state.pool, scope.tenant_id, user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let changes = UserChanges {
        name: name.as_deref().map(str::trim),
        role: role.map(Role::as_str),
        status: status.as_deref(),
        password_hash: hash.as_deref(),
    };
    let mut tx = state.pool.begin().await?;
    let row = accounts::update_user(&mut tx, Some(scope.tenant_id), user_id, &changes)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let (before, after) = (UserView::from(before), UserView::from(row));
    let id = user_id.to_string();
    record(
        &mut tx,
        &scope.caller,
        Some(scope.tenant_id),
        Event {
            action: AuditAction::Update,
            object_type: "user",
            object_id: &id,
            before: Some(&before),
            after: Some(&after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(web::Json(after))
}

/// Delete a user of the tenant.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("user_id" = i64, Path), TenantQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user (or not yours)", body = ErrorBody),
    )
)]
#[delete("/users/{user_id}")]
pub async fn delete_user(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    scope.require_admin()?;
    let user_id = path.into_inner();
    let mut tx = state.pool.begin().await?;
    let row = accounts::delete_user(&mut tx, Some(scope.tenant_id), user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let before = UserView::from(row);
    let id = user_id.to_string();
    record(
        &mut tx,
        &scope.caller,
        Some(scope.tenant_id),
        Event {
            action: AuditAction::Delete,
            object_type: "user",
            object_id: &id,
            before: Some(&before),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

fn email_taken(error: sqlx::Error, email: &str) -> ApiError {
    match ApiError::from(error) {
        conflict if conflict.code() == "conflict" => {
            ApiError::conflict(format!("{email} already has an account"))
        }
        other => other,
    }
}
