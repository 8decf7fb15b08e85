//! The audit log of configuration changes, written in the transaction of the
//! change itself so that no change goes unrecorded.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};

/// Who made a change.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub email: String,
}

/// What was done to an object. The names are the values of
/// `audit_log.action`, whose CHECK (migration V7) lists the same ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    Create,
    Update,
    Delete,
    /// A draft made a version (object type `flow`).
    Publish,
    /// An older version's content made a version.
    Rollback,
    /// The draft made the live content again.
    Discard,
}

impl AuditAction {
    pub const ALL: [AuditAction; 6] = [
        AuditAction::Create,
        AuditAction::Update,
        AuditAction::Delete,
        AuditAction::Publish,
        AuditAction::Rollback,
        AuditAction::Discard,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Update => "update",
            AuditAction::Delete => "delete",
            AuditAction::Publish => "publish",
            AuditAction::Rollback => "rollback",
            AuditAction::Discard => "discard",
        }
    }
}

pub struct Change<'a> {
    /// The tenant the change concerns; `None`: platform-level.
    pub tenant_id: Option<i64>,
    pub action: AuditAction,
    pub object_type: &'static str,
    pub object_id: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl Change<'_> {
    /// `create`, `update` or `delete`: what a change from `before` to
    /// `after` of one object is (`None`: the object does not exist).
    pub fn action_of<T>(before: Option<&T>, after: Option<&T>) -> AuditAction {
        match (before, after) {
            (_, None) => AuditAction::Delete,
            (None, Some(_)) => AuditAction::Create,
            (Some(_), Some(_)) => AuditAction::Update,
        }
    }
}

pub async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    change: Change<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, actor_id, actor_email, action, object_type, object_id, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(change.tenant_id)
    .bind(actor.user_id)
    .bind(&actor.email)
    .bind(change.action.as_str())
    .bind(change.object_type)
    .bind(change.object_id)
    .bind(change.before.map(sqlx::types::Json))
    .bind(change.after.map(sqlx::types::Json))
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub audit_id: i64,
    pub tenant_id: Option<i64>,
    pub at: DateTime<Utc>,
    pub actor_id: Option<i64>,
    pub actor_email: String,
    /// `create`, `update`, `delete`; for the flow: `publish`, `rollback`,
    /// `discard`.
    pub action: String,
    /// `tenant`, `user`, `did` (a number, or its entry point in the draft),
    /// `node`, `schedule`, `recording`, `flow` (object id `v<n>` for a
    /// version, `draft` for a discard).
    pub object_type: String,
    pub object_id: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<sqlx::types::Json<serde_json::Value>>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<sqlx::types::Json<serde_json::Value>>,
}

/// The tenant's audit entries (`None`: platform-level ones), newest first,
/// before `before_id`.
pub async fn list(
    pool: &PgPool,
    tenant_id: Option<i64>,
    before_id: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT audit_id, tenant_id, at, actor_id, actor_email, action, object_type, object_id, before, after
         FROM audit_log WHERE tenant_id IS NOT DISTINCT FROM $1 AND audit_id < $2
         ORDER BY audit_id DESC LIMIT $3",
    )
    .bind(tenant_id)
    .bind(before_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}
