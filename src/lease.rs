//! Work one node of a cluster does at a time (the alert evaluator): a row
//! in `leases` held by the node that renews it before it expires.
//!
//! A lease, not a session advisory lock: it needs no connection held open
//! (a pool connection that dies or a pooler in between would silently drop
//! an advisory lock), it can be read (`SELECT * FROM leases` says who works),
//! and it behaves the same through a Citus coordinator. The database's
//! clock decides expiry, so the nodes' clocks may disagree. A node that dies
//! stops renewing; another takes over once the lease expired, at its next
//! try: within `ttl + period` (60 s + 15 s by default, under two minutes).
//! Work done under a lease must still be safe to do twice (the evaluator
//! stores a minute only once: see `storage::alerts`), since a node that
//! stalls past its lease may finish a pass another node started too.

use std::time::Duration;

use sqlx::PgPool;

/// Takes or renews `name` for `holder` for `ttl`: true when `holder` holds it.
pub async fn try_hold(
    pool: &PgPool,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, sqlx::Error> {
    let held: Option<String> = sqlx::query_scalar(
        "INSERT INTO leases (name, holder, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (name) DO UPDATE
             SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
             WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < now()
         RETURNING holder",
    )
    .bind(name)
    .bind(holder)
    .bind(ttl.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    Ok(held.as_deref() == Some(holder))
}

/// Gives `name` up, if `holder` holds it (a clean shutdown: another node
/// takes over at once instead of after the lease expired).
pub async fn release(pool: &PgPool, name: &str, holder: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(pool)
        .await?;
    Ok(())
}

/// Who holds `name` now, if anyone.
pub async fn holder(pool: &PgPool, name: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT holder FROM leases WHERE name = $1 AND expires_at >= now()")
        .bind(name)
        .fetch_optional(pool)
        .await
}

/// A name for this process among the cluster's nodes: host, process id and
/// a random part (two processes of one host differ; a restart is a new node).
pub fn node_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "node".to_owned());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}
