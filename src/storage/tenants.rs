//! Tenants and the DID directory.

use sqlx::PgPool;

use crate::voicenter::types::Language;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenant<'a> {
    pub name: &'a str,
    pub time_zone: &'a str,
    pub language: Language,
}

/// Creates the tenant, or returns the id of the one with that name.
pub async fn ensure_tenant(pool: &PgPool, tenant: &NewTenant<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "WITH t AS (
            INSERT INTO tenants (name, time_zone, language) VALUES ($1, $2, $3)
            ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
            RETURNING tenant_id
         ), draft AS (
            INSERT INTO flow_drafts (tenant_id) SELECT tenant_id FROM t ON CONFLICT DO NOTHING
         )
         -- The announcement (super::notify_flow_changed), in this statement.
         SELECT tenant_id FROM t, LATERAL (SELECT pg_notify($4, t.tenant_id::text)) AS n",
    )
    .bind(tenant.name)
    .bind(tenant.time_zone)
    .bind(tenant.language.as_str())
    .bind(crate::flow_cache::CHANNEL)
    .fetch_one(pool)
    .await
}

pub async fn set_tenant_active(
    pool: &PgPool,
    tenant_id: i64,
    active: bool,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE tenants SET status = $2, updated_at = now() WHERE tenant_id = $1")
        .bind(tenant_id)
        .bind(if active { "active" } else { "disabled" })
        .execute(&mut *tx)
        .await?;
    super::notify_flow_changed(&mut tx, tenant_id).await?;
    tx.commit().await
}

/// Points `did` at `entry_node` of `tenant_id` (platform-level: a DID belongs
/// to one tenant). Re-assigning a DID the same tenant owns updates it; one
/// owned by another tenant is left alone and `false` is returned.
pub async fn assign_did<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    tenant_id: i64,
    entry: &crate::flow::model::EntryPoint,
) -> Result<bool, sqlx::Error> {
    // The announcement (super::notify_flow_changed) in this statement.
    let assigned: Option<i64> = sqlx::query_scalar(
        "WITH a AS (
             INSERT INTO dids (did, tenant_id, entry_node, language) VALUES ($1, $2, $3, $4)
             ON CONFLICT (did) DO UPDATE SET entry_node = EXCLUDED.entry_node, language = EXCLUDED.language
             WHERE dids.tenant_id = EXCLUDED.tenant_id
             RETURNING tenant_id
         )
         SELECT a.tenant_id FROM a, LATERAL (SELECT pg_notify($5, a.tenant_id::text)) AS n",
    )
    .bind(&entry.did)
    .bind(tenant_id)
    .bind(&entry.entry_node)
    .bind(entry.language.map(Language::as_str))
    .bind(crate::flow_cache::CHANNEL)
    .fetch_optional(conn)
    .await?;
    Ok(assigned.is_some())
}

#[derive(Debug, Clone, sqlx::FromRow, PartialEq, Eq)]
pub struct TenantRow {
    pub tenant_id: i64,
    pub name: String,
    pub time_zone: String,
    pub language: String,
    pub status: String,
    /// Whole months of CDRs kept before the current one; `None`: for good.
    pub cdr_retention_months: Option<i32>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The columns of a row, in `concat!`-able form (sqlx takes only literal SQL).
macro_rules! tenant_columns {
    () => {
        "tenant_id, name, time_zone, language, status, cdr_retention_months, created_at, updated_at"
    };
}

pub async fn tenant(pool: &PgPool, tenant_id: i64) -> Result<Option<TenantRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        tenant_columns!(),
        " FROM tenants WHERE tenant_id = $1"
    ))
    .bind(tenant_id)
    .fetch_optional(pool)
    .await
}

/// Platform-level (the command line): the tenant whose name is `name`.
pub async fn tenant_by_name(pool: &PgPool, name: &str) -> Result<Option<TenantRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        tenant_columns!(),
        " FROM tenants WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(pool)
    .await
}

pub async fn list_tenants(
    pool: &PgPool,
    after: i64,
    limit: i64,
) -> Result<Vec<TenantRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        tenant_columns!(),
        " FROM tenants WHERE tenant_id > $1 ORDER BY tenant_id LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn insert_tenant(
    conn: &mut sqlx::PgConnection,
    tenant: &NewTenant<'_>,
) -> Result<TenantRow, sqlx::Error> {
    // With its draft (revision 0): a tenant without one is from before versions.
    let row: TenantRow = sqlx::query_as(concat!(
        "WITH t AS (INSERT INTO tenants (name, time_zone, language) VALUES ($1, $2, $3) RETURNING *),
              draft AS (INSERT INTO flow_drafts (tenant_id) SELECT tenant_id FROM t)
         SELECT ",
        tenant_columns!(),
        " FROM t"
    ))
    .bind(tenant.name)
    .bind(tenant.time_zone)
    .bind(tenant.language.as_str())
    .fetch_one(&mut *conn)
    .await?;
    super::notify_flow_changed(conn, row.tenant_id).await?;
    Ok(row)
}

/// The changes a tenant update may carry; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct TenantChanges<'a> {
    pub name: Option<&'a str>,
    pub time_zone: Option<&'a str>,
    pub language: Option<Language>,
    pub active: Option<bool>,
    /// `Some(None)`: CDRs kept for good.
    pub cdr_retention_months: Option<Option<i32>>,
}

/// A tenant's CDR retention, whole months (`None`: for good, or no such
/// tenant).
pub async fn cdr_retention_months(
    pool: &PgPool,
    tenant_id: i64,
) -> Result<Option<i32>, sqlx::Error> {
    let months: Option<Option<i32>> =
        sqlx::query_scalar("SELECT cdr_retention_months FROM tenants WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(pool)
            .await?;
    Ok(months.flatten())
}

pub async fn update_tenant(
    conn: &mut sqlx::PgConnection,
    tenant_id: i64,
    changes: &TenantChanges<'_>,
) -> Result<Option<TenantRow>, sqlx::Error> {
    let row = sqlx::query_as(concat!(
        "UPDATE tenants SET name = coalesce($2, name), time_zone = coalesce($3, time_zone),
                language = coalesce($4, language), status = coalesce($5, status),
                cdr_retention_months = CASE WHEN $6 THEN $7 ELSE cdr_retention_months END,
                updated_at = now()
         WHERE tenant_id = $1 RETURNING ",
        tenant_columns!(),
        ""
    ))
    .bind(tenant_id)
    .bind(changes.name)
    .bind(changes.time_zone)
    .bind(changes.language.map(Language::as_str))
    .bind(
        changes
            .active
            .map(|active| if active { "active" } else { "disabled" }),
    )
    .bind(changes.cdr_retention_months.is_some())
    .bind(changes.cdr_retention_months.flatten())
    .fetch_optional(&mut *conn)
    .await?;
    if row.is_some() {
        super::notify_flow_changed(conn, tenant_id).await?;
    }
    Ok(row)
}

/// Deletes a tenant with its flows, DIDs and users. CDRs and call steps are
/// kept for ever, so a tenant that has any cannot be deleted (disable it).
pub async fn delete_tenant(
    conn: &mut sqlx::PgConnection,
    tenant_id: i64,
) -> Result<Option<TenantRow>, sqlx::Error> {
    let row = sqlx::query_as(concat!(
        "DELETE FROM tenants WHERE tenant_id = $1 RETURNING ",
        tenant_columns!(),
        ""
    ))
    .bind(tenant_id)
    .fetch_optional(&mut *conn)
    .await?;
    if row.is_some() {
        super::notify_flow_changed(conn, tenant_id).await?;
    }
    Ok(row)
}

/// A number of the DID directory.
#[derive(Debug, Clone, sqlx::FromRow, PartialEq, Eq)]
pub struct DidRow {
    pub did: String,
    pub tenant_id: i64,
    pub entry_node: Option<String>,
    pub language: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

macro_rules! did_columns {
    () => {
        "did, tenant_id, entry_node, language, created_at"
    };
}

/// Platform-level: the directory's numbers after `after` in number order,
/// of one tenant or (`None`) of all.
pub async fn list_directory(
    pool: &PgPool,
    tenant_id: Option<i64>,
    after: &str,
    limit: i64,
) -> Result<Vec<DidRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        did_columns!(),
        " FROM dids WHERE ($1::bigint IS NULL OR tenant_id = $1) AND did > $2 ORDER BY did LIMIT $3"
    ))
    .bind(tenant_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Platform-level: a number of the directory, whoever owns it.
pub async fn directory_did<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    did: &str,
) -> Result<Option<DidRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        did_columns!(),
        " FROM dids WHERE did = $1"
    ))
    .bind(did)
    .fetch_optional(conn)
    .await
}

/// Platform-level: gives `did` to `tenant_id`. A unique violation when the
/// number already belongs to a tenant (this one included).
pub async fn insert_directory_did(
    conn: &mut sqlx::PgConnection,
    tenant_id: i64,
    did: &str,
    entry_node: Option<&str>,
    language: Option<Language>,
) -> Result<DidRow, sqlx::Error> {
    let row: DidRow = sqlx::query_as(concat!(
        "INSERT INTO dids (did, tenant_id, entry_node, language) VALUES ($1, $2, $3, $4) RETURNING ",
        did_columns!(),
        ""
    ))
    .bind(did)
    .bind(tenant_id)
    .bind(entry_node)
    .bind(language.map(Language::as_str))
    .fetch_one(&mut *conn)
    .await?;
    super::notify_flow_changed(conn, tenant_id).await?;
    Ok(row)
}

/// Platform-level: takes a number away from its tenant.
pub async fn delete_directory_did(
    conn: &mut sqlx::PgConnection,
    did: &str,
) -> Result<Option<DidRow>, sqlx::Error> {
    let row: Option<DidRow> = sqlx::query_as(concat!(
        "DELETE FROM dids WHERE did = $1 RETURNING ",
        did_columns!(),
        ""
    ))
    .bind(did)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = &row {
        super::notify_flow_changed(conn, row.tenant_id).await?;
    }
    Ok(row)
}
