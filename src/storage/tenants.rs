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
        "INSERT INTO tenants (name, time_zone, language) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
         RETURNING tenant_id",
    )
    .bind(tenant.name)
    .bind(tenant.time_zone)
    .bind(tenant.language.as_str())
    .fetch_one(pool)
    .await
}

pub async fn set_tenant_active(
    pool: &PgPool,
    tenant_id: i64,
    active: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tenants SET status = $2, updated_at = now() WHERE tenant_id = $1")
        .bind(tenant_id)
        .bind(if active { "active" } else { "disabled" })
        .execute(pool)
        .await?;
    Ok(())
}

/// Points `did` at `entry_node` of `tenant_id` (platform-level: a DID belongs
/// to one tenant). Re-assigning a DID the same tenant owns updates it; one
/// owned by another tenant is left alone and `false` is returned.
pub async fn assign_did(
    pool: &PgPool,
    tenant_id: i64,
    did: &str,
    entry_node: &str,
    language: Option<Language>,
) -> Result<bool, sqlx::Error> {
    let assigned = sqlx::query(
        "INSERT INTO dids (did, tenant_id, entry_node, language) VALUES ($1, $2, $3, $4)
         ON CONFLICT (did) DO UPDATE SET entry_node = EXCLUDED.entry_node, language = EXCLUDED.language
         WHERE dids.tenant_id = EXCLUDED.tenant_id",
    )
    .bind(did)
    .bind(tenant_id)
    .bind(entry_node)
    .bind(language.map(Language::as_str))
    .execute(pool)
    .await?;
    Ok(assigned.rows_affected() == 1)
}
