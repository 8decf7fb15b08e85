//! A tenant's flow tests, stored whole as JSON (the shape `flow_tests`
//! defines). Tenant first in every call.

use sqlx::{PgConnection, PgPool};

/// Every test of the tenant, in name order.
pub async fn list<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    tenant_id: i64,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    let rows: Vec<sqlx::types::Json<serde_json::Value>> =
        sqlx::query_scalar("SELECT definition FROM flow_tests WHERE tenant_id = $1 ORDER BY name")
            .bind(tenant_id)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|json| json.0).collect())
}

pub async fn get(
    pool: &PgPool,
    tenant_id: i64,
    name: &str,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    let row: Option<sqlx::types::Json<serde_json::Value>> =
        sqlx::query_scalar("SELECT definition FROM flow_tests WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|json| json.0))
}

/// Inserts or replaces a test; returns the one it replaced.
pub async fn put(
    conn: &mut PgConnection,
    tenant_id: i64,
    name: &str,
    definition: &serde_json::Value,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    let before: Option<sqlx::types::Json<serde_json::Value>> = sqlx::query_scalar(
        "SELECT definition FROM flow_tests WHERE tenant_id = $1 AND name = $2 FOR UPDATE",
    )
    .bind(tenant_id)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO flow_tests (tenant_id, name, definition) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, name) DO UPDATE SET definition = EXCLUDED.definition, updated_at = EXCLUDED.updated_at",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(sqlx::types::Json(definition))
    .execute(conn)
    .await?;
    Ok(before.map(|json| json.0))
}

/// Deletes a test; returns it.
pub async fn delete(
    conn: &mut PgConnection,
    tenant_id: i64,
    name: &str,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    let row: Option<sqlx::types::Json<serde_json::Value>> = sqlx::query_scalar(
        "DELETE FROM flow_tests WHERE tenant_id = $1 AND name = $2 RETURNING definition",
    )
    .bind(tenant_id)
    .bind(name)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|json| json.0))
}
