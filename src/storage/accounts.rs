//! Users and refresh tokens. `users` is platform-level (login is by email
//! before any tenant is known); every function that lists or changes a
//! tenant's users takes the tenant first.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool};

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct UserRow {
    pub user_id: i64,
    pub tenant_id: Option<i64>,
    pub email: String,
    pub name: String,
    pub role: String,
    pub status: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns of a row, in `concat!`-able form (sqlx takes only literal SQL).
macro_rules! user_columns {
    () => {
        "user_id, tenant_id, email, name, role, status, password_hash, created_at, updated_at"
    };
}

pub struct NewUser<'a> {
    pub tenant_id: Option<i64>,
    pub email: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub password_hash: &'a str,
}

pub async fn user_by_email(pool: &PgPool, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE email = $1"
    ))
    .bind(email)
    .fetch_optional(pool)
    .await
}

pub async fn user_by_id(pool: &PgPool, user_id: i64) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE user_id = $1"
    ))
    .bind(user_id)
    .fetch_optional(pool)
    .await
}

/// A user of `tenant_id`, or `None` (also when the user belongs to another tenant).
pub async fn tenant_user(
    pool: &PgPool,
    tenant_id: i64,
    user_id: i64,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE tenant_id = $1 AND user_id = $2"
    ))
    .bind(tenant_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await
}

/// Users of one tenant, or platform admins when `tenant_id` is `None`,
/// ordered by id, after `after`.
pub async fn list_users(
    pool: &PgPool,
    tenant_id: Option<i64>,
    after: i64,
    limit: i64,
) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE tenant_id IS NOT DISTINCT FROM $1 AND user_id > $2
         ORDER BY user_id LIMIT $3"
    ))
    .bind(tenant_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn insert_user(
    conn: &mut PgConnection,
    user: &NewUser<'_>,
) -> Result<UserRow, sqlx::Error> {
    sqlx::query_as(concat!("INSERT INTO users (tenant_id, email, name, role, password_hash) VALUES ($1, $2, $3, $4, $5)
         RETURNING ", user_columns!(), ""))
    .bind(user.tenant_id)
    .bind(user.email)
    .bind(user.name)
    .bind(user.role)
    .bind(user.password_hash)
    .fetch_one(conn)
    .await
}

/// The changes a user update may carry; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserChanges<'a> {
    pub name: Option<&'a str>,
    pub role: Option<&'a str>,
    pub status: Option<&'a str>,
    pub password_hash: Option<&'a str>,
}

/// Updates a user of `tenant_id` (`None`: a platform admin). Disabling a user
/// or changing its password revokes every refresh token it has (run it in a
/// transaction).
pub async fn update_user(
    conn: &mut PgConnection,
    tenant_id: Option<i64>,
    user_id: i64,
    changes: &UserChanges<'_>,
) -> Result<Option<UserRow>, sqlx::Error> {
    let updated: Option<UserRow> = sqlx::query_as(concat!("UPDATE users SET name = coalesce($3, name), role = coalesce($4, role), status = coalesce($5, status),
                password_hash = coalesce($6, password_hash), updated_at = now()
         WHERE tenant_id IS NOT DISTINCT FROM $1 AND user_id = $2
         RETURNING ", user_columns!(), ""))
    .bind(tenant_id)
    .bind(user_id)
    .bind(changes.name)
    .bind(changes.role)
    .bind(changes.status)
    .bind(changes.password_hash)
    .fetch_optional(&mut *conn)
    .await?;
    if updated.is_some() && (changes.status == Some("disabled") || changes.password_hash.is_some())
    {
        sqlx::query("UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(updated)
}

pub async fn delete_user(
    conn: &mut PgConnection,
    tenant_id: Option<i64>,
    user_id: i64,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "DELETE FROM users WHERE tenant_id IS NOT DISTINCT FROM $1 AND user_id = $2 RETURNING ",
        user_columns!(),
        ""
    ))
    .bind(tenant_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

pub async fn count_platform_admins(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'platform_admin'")
        .fetch_one(pool)
        .await
}

/// Stores a refresh token; `family` `None` starts a new family (a login).
pub async fn insert_refresh_token(
    pool: &PgPool,
    user_id: i64,
    hash: &[u8],
    family: Option<i64>,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, user_id, family, expires_at)
         VALUES ($1, $2, coalesce($3, nextval('refresh_token_families')), $4)",
    )
    .bind(hash)
    .bind(user_id)
    .bind(family)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// Valid: it is now replaced; issue the next one in `family` for `user_id`.
    Rotated { user_id: i64, family: i64 },
    /// Already replaced: a stolen copy; the whole family is now revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

/// Marks a refresh token as used, atomically: of two concurrent uses of the
/// same token, one rotates and the other is seen as a reuse.
pub async fn rotate_refresh_token(pool: &PgPool, hash: &[u8]) -> Result<Rotation, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let row: Option<(i64, i64, bool, bool, bool)> = sqlx::query_as(
        "SELECT user_id, family, replaced_at IS NOT NULL, revoked_at IS NOT NULL, expires_at <= now()
         FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(hash)
    .fetch_optional(&mut *tx)
    .await?;
    let rotation = match row {
        None => Rotation::Invalid,
        Some((_, family, true, _, _)) => {
            sqlx::query("UPDATE refresh_tokens SET revoked_at = now() WHERE family = $1 AND revoked_at IS NULL")
                .bind(family)
                .execute(&mut *tx)
                .await?;
            Rotation::Reused
        }
        Some((_, _, _, true, _)) | Some((_, _, _, _, true)) => Rotation::Invalid,
        Some((user_id, family, false, false, false)) => {
            sqlx::query("UPDATE refresh_tokens SET replaced_at = now() WHERE token_hash = $1")
                .bind(hash)
                .execute(&mut *tx)
                .await?;
            Rotation::Rotated { user_id, family }
        }
    };
    tx.commit().await?;
    Ok(rotation)
}

/// Revokes the token's whole family (logout). `false` if the token is unknown.
pub async fn revoke_refresh_family(pool: &PgPool, hash: &[u8]) -> Result<bool, sqlx::Error> {
    let revoked = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now()
         WHERE family = (SELECT family FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL",
    )
    .bind(hash)
    .execute(pool)
    .await?;
    Ok(revoked.rows_affected() > 0)
}
