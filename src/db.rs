//! Database plumbing: the pool, creating a database, applying migrations.
//!
//! Migrations are SQL files in `migrations/`, embedded at build time and
//! applied by refinery through tokio-postgres (refinery has no sqlx driver).

use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio_postgres::NoTls;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// How long a request may wait for a connection: short, so that a database
/// that is down turns into a fast, defined answer rather than a hang.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

pub async fn connect_pool(url: &str, size: u32) -> Result<PgPool> {
    let options: PgConnectOptions = url.parse().context("parsing the database URL")?;
    // No statement may hang a connection (and a batch writer) for good.
    let options = options
        .application_name("ivrhub")
        .options([("statement_timeout", "10s")]);
    Ok(PgPoolOptions::new()
        .max_connections(size)
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options))
}

/// The advisory lock key migrations are applied under ("ivrhub m").
const MIGRATION_LOCK: i64 = 0x6976_7268_7562_206d;

/// Applies every pending migration, then, on Citus, distributes the tables
/// ([`crate::citus::distribute`], as `IVRHUB_CITUS` says: by default when
/// the database has the extension).
pub async fn migrate(url: &str) -> Result<()> {
    migrate_with(url, None, crate::citus::CitusMode::from_env()?).await
}

/// Applies the pending migrations up to `version` (`None`: all of them):
/// tests of an upgrade start from an older schema. Distributes nothing.
pub async fn migrate_to(url: &str, version: Option<i32>) -> Result<()> {
    migrate_with(url, version, crate::citus::CitusMode::Off).await
}

/// [`migrate_to`], then [`crate::citus::distribute`] in `citus` mode, under
/// the same lock (so that nodes started together distribute once).
pub async fn migrate_with(
    url: &str,
    version: Option<i32>,
    citus: crate::citus::CitusMode,
) -> Result<()> {
    let (mut client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .context("connecting to apply migrations")?;
    let driver = tokio::spawn(connection);
    // Nodes started together would otherwise apply the same migration at
    // once (refinery takes no lock): the first one applies them, the others
    // wait — however long that takes, so no role-level timeout may cut the
    // wait — and then find nothing left to do. The lock is held by this
    // session and released when it ends.
    client
        .batch_execute("SET statement_timeout = 0; SET lock_timeout = 0")
        .await
        .context("preparing to migrate")?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .context("waiting for another node's migrations")?;
    let mut runner = embedded::migrations::runner();
    if let Some(version) = version {
        runner = runner.set_target(refinery::Target::Version(version));
    }
    let report = runner
        .run_async(&mut client)
        .await
        .context("applying migrations")?;
    for migration in report.applied_migrations() {
        tracing::info!(migration = %migration, "applied migration");
    }
    if let Some(done) = crate::citus::distribute(&mut client, citus).await?
        && !done.converted.is_empty()
    {
        tracing::info!(tables = ?done.converted, "distributed the tables on Citus");
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}

/// A fingerprint of the embedded migrations (names and checksums): names the
/// tests' template database, so a changed migration gets a fresh template.
pub fn migrations_fingerprint() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for migration in embedded::migrations::runner().get_migrations() {
        migration.name().hash(&mut hasher);
        migration.checksum().hash(&mut hasher);
    }
    hasher.finish()
}

/// Creates `name` on the server behind `maintenance_url` unless it exists,
/// optionally as a copy of `template`.
pub async fn create_database(
    maintenance_url: &str,
    name: &str,
    template: Option<&str>,
) -> Result<()> {
    let (client, connection) = tokio_postgres::connect(maintenance_url, NoTls)
        .await
        .context("connecting to the maintenance database")?;
    let driver = tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        let mut sql = format!("CREATE DATABASE {}", quote_ident(name));
        if let Some(template) = template {
            sql.push_str(&format!(" TEMPLATE {}", quote_ident(template)));
        }
        client
            .batch_execute(&sql)
            .await
            .with_context(|| format!("creating database {name}"))?;
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
