//! Published flow versions and the draft's revision. Every function takes
//! the tenant first; versions are numbered per tenant (1, 2, 3…) and never
//! change once written. The live version is the newest one: a rollback is a
//! new version restoring an older one's content.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::flow::FlowContent;
use crate::flow::model::{EntryPoint, Node, Schedule};

/// A version without its content.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VersionRow {
    pub version: i32,
    pub sha256: String,
    pub parent: Option<i32>,
    pub restores: Option<i32>,
    pub message: String,
    pub author_id: Option<i64>,
    pub author_email: String,
    pub created_at: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "version, sha256, parent, restores, message, author_id, author_email, created_at"
    };
}

/// A version to store.
pub struct NewVersion<'a> {
    pub content: &'a FlowContent,
    pub parent: Option<i32>,
    pub restores: Option<i32>,
    pub message: &'a str,
    /// `None`: ivrhub itself (the upgrade, the demo).
    pub author_id: Option<i64>,
    pub author_email: &'a str,
}

/// Stores the next version of the tenant (the caller holds the tenant's
/// lock); the primary key refuses a second version with the same number.
pub async fn insert_version(
    conn: &mut PgConnection,
    tenant_id: i64,
    new: NewVersion<'_>,
) -> Result<VersionRow, sqlx::Error> {
    let row: VersionRow = sqlx::query_as(concat!(
        "INSERT INTO flow_versions (tenant_id, version, content, sha256, parent, restores, message, author_id, author_email)
         SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8
         FROM flow_versions WHERE tenant_id = $1
         RETURNING ",
        columns!()
    ))
        .bind(tenant_id)
        .bind(sqlx::types::Json(new.content.canonical_json()))
        .bind(new.content.sha256())
        .bind(new.parent)
        .bind(new.restores)
        .bind(new.message)
        .bind(new.author_id)
        .bind(new.author_email)
        .fetch_one(&mut *conn)
        .await?;
    // Callers now hear this version: every node reloads the tenant.
    super::notify_flow_changed(conn, tenant_id).await?;
    Ok(row)
}

/// The live version: the newest.
pub async fn live<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    tenant_id: i64,
) -> Result<Option<VersionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM flow_versions WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1"
    ))
    .bind(tenant_id)
    .fetch_optional(conn)
    .await
}

pub async fn version<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    tenant_id: i64,
    version: i32,
) -> Result<Option<VersionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM flow_versions WHERE tenant_id = $1 AND version = $2"
    ))
    .bind(tenant_id)
    .bind(version)
    .fetch_optional(conn)
    .await
}

/// The content of a version. A stored item that no longer parses is
/// skipped and logged (the rest keeps answering; the engine treats a
/// skipped node as missing).
pub async fn content<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    tenant_id: i64,
    version: i32,
) -> Result<Option<FlowContent>, sqlx::Error> {
    let stored: Option<sqlx::types::Json<serde_json::Value>> = sqlx::query_scalar(
        "SELECT content FROM flow_versions WHERE tenant_id = $1 AND version = $2",
    )
    .bind(tenant_id)
    .bind(version)
    .fetch_optional(conn)
    .await?;
    Ok(stored.map(|json| parse_stored(tenant_id, version, json.0)))
}

/// The live version of every tenant in scope (`None`: all), with its content.
pub async fn live_contents(
    conn: &mut PgConnection,
    tenant: Option<i64>,
) -> Result<Vec<(i64, i32, FlowContent)>, sqlx::Error> {
    let rows: Vec<(i64, i32, sqlx::types::Json<serde_json::Value>)> = sqlx::query_as(
        "SELECT DISTINCT ON (tenant_id) tenant_id, version, content FROM flow_versions
         WHERE $1::bigint IS NULL OR tenant_id = $1
         ORDER BY tenant_id, version DESC",
    )
    .bind(tenant)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(tenant_id, version, json)| {
            (tenant_id, version, parse_stored(tenant_id, version, json.0))
        })
        .collect())
}

fn parse_stored(tenant_id: i64, version: i32, mut json: serde_json::Value) -> FlowContent {
    fn items<T: serde::de::DeserializeOwned>(
        json: &mut serde_json::Value,
        field: &str,
        tenant_id: i64,
        version: i32,
    ) -> Vec<T> {
        let serde_json::Value::Array(items) = json[field].take() else {
            return Vec::new();
        };
        items
            .into_iter()
            .filter_map(|item| {
                serde_json::from_value(item)
                    .inspect_err(|error| {
                        tracing::error!(tenant_id, version, field, %error, "stored flow item does not parse; skipped")
                    })
                    .ok()
            })
            .collect()
    }
    let nodes: Vec<Node> = items(&mut json, "nodes", tenant_id, version);
    let schedules: Vec<Schedule> = items(&mut json, "schedules", tenant_id, version);
    let entries: Vec<EntryPoint> = items(&mut json, "entries", tenant_id, version);
    let goodbye = json
        .get_mut("goodbye")
        .map(serde_json::Value::take)
        .filter(|goodbye| !goodbye.is_null())
        .and_then(|goodbye| {
            serde_json::from_value(goodbye)
                .inspect_err(|error| {
                    tracing::error!(tenant_id, version, %error, "stored goodbye does not parse; skipped")
                })
                .ok()
        });
    crate::flow::content::ContentJson {
        nodes,
        schedules,
        entries,
        goodbye,
    }
    .into()
}

/// Newest first, those older than `before` (`None`: from the newest).
pub async fn list(
    pool: &PgPool,
    tenant_id: i64,
    before: Option<i32>,
    limit: i64,
) -> Result<Vec<VersionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM flow_versions
         WHERE tenant_id = $1 AND ($2::integer IS NULL OR version < $2)
         ORDER BY version DESC LIMIT $3"
    ))
    .bind(tenant_id)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The versions a call may still be on: the live one, and every one that
/// stopped being live after `since`.
pub async fn in_use_since(
    conn: &mut PgConnection,
    tenant_id: i64,
    since: DateTime<Utc>,
) -> Result<Vec<(i32, FlowContent)>, sqlx::Error> {
    let numbers: Vec<i32> = sqlx::query_scalar(
        "SELECT v.version FROM flow_versions v
         LEFT JOIN flow_versions next ON next.tenant_id = v.tenant_id AND next.version = v.version + 1
         WHERE v.tenant_id = $1 AND (next.version IS NULL OR next.created_at > $2)
         ORDER BY v.version DESC",
    )
    .bind(tenant_id)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    let mut found = Vec::with_capacity(numbers.len());
    for number in numbers {
        if let Some(content) = content(&mut *conn, tenant_id, number).await? {
            found.push((number, content));
        }
    }
    Ok(found)
}

/// The draft's revision (0 before its first write).
pub async fn draft_revision<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    tenant_id: i64,
) -> Result<i64, sqlx::Error> {
    let revision: Option<i64> =
        sqlx::query_scalar("SELECT revision FROM flow_drafts WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(conn)
            .await?;
    Ok(revision.unwrap_or(0))
}

/// Counts one more write of the draft; returns the new revision.
pub async fn bump_revision(conn: &mut PgConnection, tenant_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO flow_drafts (tenant_id, revision) VALUES ($1, 1)
         ON CONFLICT (tenant_id) DO UPDATE SET revision = flow_drafts.revision + 1, updated_at = EXCLUDED.updated_at
         RETURNING revision",
    )
    .bind(tenant_id)
    .fetch_one(conn)
    .await
}

/// Tenants without a draft row: from before versions (or created by a node
/// of the version before); their flow is still to be frozen into version 1.
pub async fn tenants_without_draft(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        // A set difference, not NOT EXISTS: Citus plans no correlated
        // subquery over a reference table (tenants) and a distributed one.
        "SELECT tenant_id FROM tenants
         EXCEPT
         SELECT tenant_id FROM flow_drafts
         ORDER BY tenant_id",
    )
    .fetch_all(pool)
    .await
}

/// Gives the tenant its draft row: `true` when this call did (so the caller
/// freezes its flow), `false` when it had one (another node got there first).
pub async fn create_draft(conn: &mut PgConnection, tenant_id: i64) -> Result<bool, sqlx::Error> {
    let created =
        sqlx::query("INSERT INTO flow_drafts (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(tenant_id)
            .execute(conn)
            .await?;
    Ok(created.rows_affected() == 1)
}
