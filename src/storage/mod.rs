//! The only module that talks SQL. Every function over tenant data takes the
//! tenant first; the platform-level exceptions (the DID directory, CDRs of
//! unknown numbers, the whole-cache reload) say so in their names.

pub mod accounts;
pub mod alerts;
pub mod audit;
pub mod cdrs;
pub mod flow_tests;
pub mod flows;
pub mod reports;
pub mod steps;
pub mod tenants;
pub mod versions;

pub use sqlx::PgPool;

// The same SQL runs on a single PostgreSQL and on Citus (src/citus.rs). What
// Citus asks of it, and so every statement here keeps to:
// * an upsert's `DO UPDATE SET` calls no function that is not IMMUTABLE:
//   `updated_at = EXCLUDED.updated_at` (the column's default, now(), in the
//   proposed row) rather than `now()`;
// * no correlated subquery joins a reference table (tenants, dids) to a
//   distributed one: a set difference or a join instead;
// * an advisory lock is the coordinator's: every ivrhub node talks to it.

/// Announces that what callers hear of `tenant_id` changed (its settings,
/// its numbers, its live version): every node's flow cache, listening on
/// [`crate::flow_cache::CHANNEL`], reloads the tenant. Sent in the caller's
/// transaction, so it is delivered when (and only if) the change commits.
/// The application sends it, not a trigger (V14): on Citus a trigger would
/// fire on a worker, whose notifications the nodes listening on the
/// coordinator never hear.
pub async fn notify_flow_changed(
    conn: &mut sqlx::PgConnection,
    tenant_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(crate::flow_cache::CHANNEL)
        .bind(tenant_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// True when the database refused a statement because of the data of some
/// row (SQLSTATE classes 22 "data exception", 23 "integrity constraint
/// violation", 54 "program limit exceeded", e.g. an index row too large), as
/// opposed to the database itself failing, where retrying the rows one by one
/// would only repeat the failure.
pub fn blames_a_row(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(error) = error else {
        return false;
    };
    error.code().is_some_and(|code| {
        ["22", "23", "54"]
            .iter()
            .any(|class| code.starts_with(class))
    })
}
