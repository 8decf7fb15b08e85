//! The audit log: recording a change (in the change's own transaction), and
//! `GET /audit` to read a tenant's.

use actix_web::{get, web};
use serde::Serialize;

use super::extract::{Caller, TenantQuery, TenantScope};
use super::pagination::{Page, PageQuery, page};
use super::state::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::storage::audit::{self, AuditAction, AuditEntry, Change};

/// A change to one object, as the API sees it.
pub struct Event<'a, T> {
    pub action: AuditAction,
    pub object_type: &'static str,
    pub object_id: &'a str,
    pub before: Option<&'a T>,
    pub after: Option<&'a T>,
}

/// Records an event of `tenant_id` (`None`: platform-level).
pub async fn record<T: Serialize>(
    conn: &mut sqlx::PgConnection,
    caller: &Caller,
    tenant_id: Option<i64>,
    event: Event<'_, T>,
) -> Result<(), ApiError> {
    let to_json = |value: &T| serde_json::to_value(value).map_err(ApiError::internal);
    let change = Change {
        tenant_id,
        action: event.action,
        object_type: event.object_type,
        object_id: event.object_id,
        before: event.before.map(to_json).transpose()?,
        after: event.after.map(to_json).transpose()?,
    };
    audit::record(conn, &caller.actor(), change).await?;
    Ok(())
}

/// Records the change of one object of the scope's tenant: `after` `None`
/// for a deletion, `before` `None` for a creation.
pub async fn record_object<T: Serialize>(
    conn: &mut sqlx::PgConnection,
    scope: &TenantScope,
    object_type: &'static str,
    object_id: &str,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<(), ApiError> {
    let event = Event {
        action: Change::action_of(before, after),
        object_type,
        object_id,
        before,
        after,
    };
    record(conn, &scope.caller, Some(scope.tenant_id), event).await
}

/// The tenant's configuration changes, newest first (tenant admins and platform admins).
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    params(TenantQuery, PageQuery),
    responses(
        (status = 200, description = "A page of changes, newest first", body = Page<AuditEntry>),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[get("/audit")]
pub async fn list_audit(
    state: web::Data<ApiState>,
    scope: TenantScope,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<AuditEntry>>, ApiError> {
    scope.require_admin()?;
    let limit = query.limit()?;
    let before = match query.after_id()? {
        0 => i64::MAX,
        id => id,
    };
    let rows = audit::list(
        &state.pool,
        Some(scope.tenant_id),
        before,
        i64::from(limit) + 1,
    )
    .await?;
    Ok(web::Json(page(
        rows,
        limit,
        |row| row.audit_id.to_string(),
        |row| row,
    )))
}
