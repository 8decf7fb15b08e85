//! Running the schema distributed on Citus (DESIGN §9, issue 13).
//!
//! A single PostgreSQL is the default and nothing here touches it. When the
//! database has the `citus` extension (or when asked: `ivrhub migrate
//! --distribute`, `IVRHUB_CITUS=true`), [`distribute`] runs after the
//! migrations and turns the plain tables they made into Citus tables,
//! idempotently (what is already distributed is skipped):
//!
//! * [`REFERENCE_TABLES`]: platform tables every node reads, copied to every
//!   node (the tenants, the DID directory, the causes, the accounts);
//! * [`TENANT_TABLES`]: distributed by `tenant_id`, all co-located (a
//!   tenant's rows of every table live in the same shard group, so every
//!   query and foreign key of one tenant stays on one worker);
//! * [`CALL_TABLES`]: distributed by `call_id` and co-located with each other
//!   (the platform-wide claim of a CDR, and the CDRs of numbers no tenant
//!   owns, which have no tenant);
//! * [`COORDINATOR_TABLES`]: left on the coordinator (Citus makes those with
//!   a foreign key to a reference table "Citus local tables"): the alert
//!   tables, whose platform-wide rows have no tenant (tenant_id NULL), the
//!   audit log (the same), the leases and refinery's history. They are
//!   small, written by one node at a time, and read by the coordinator only.
//!
//! Citus cannot distribute a table that a plain table still references, nor
//! make a reference table that references a plain one, so the foreign keys
//! between the tables it converts are dropped first and added back after, in
//! one transaction; Citus then enforces them shard by shard. The ones it
//! cannot enforce at all are in [`DROPPED_FOREIGN_KEYS`], with why.
//!
//! What else differs on Citus (the README's "Running on Citus" has the whole
//! list): triggers became statements of the application (V14), advisory
//! locks and LISTEN/NOTIFY work because every node of ivrhub talks to the
//! coordinator (they are the coordinator's, not the cluster's), and
//! statements over several tenants become multi-shard statements (two-phase
//! commit on writes).

use anyhow::{Context, Result, bail};
use tokio_postgres::Client;

/// Platform tables made reference tables, in the order they are made (a
/// table after those it references).
pub const REFERENCE_TABLES: &[&str] = &[
    "tenants",
    "users",
    "refresh_tokens",
    "dids",
    "hangup_causes",
];

/// The anchor of the tenant tables' co-location group.
const TENANT_ANCHOR: &str = "flow_drafts";

/// Tenant-owned tables: distributed by `tenant_id`, co-located with
/// [`TENANT_ANCHOR`] (the first).
pub const TENANT_TABLES: &[&str] = &[
    "flow_drafts",
    "flow_nodes",
    "node_links",
    "schedules",
    "schedule_hours",
    "schedule_holidays",
    "node_schedule_links",
    "recordings",
    "flow_versions",
    "flow_tests",
    "cdrs",
    "call_steps",
    "step_log_gaps",
    "report_rollup_days",
    "report_funnel_daily",
    "report_cdr_hourly",
    "report_did_daily",
    "report_dial_daily",
    "report_callers",
];

/// Tables distributed by `call_id`, co-located with the first.
pub const CALL_TABLES: &[&str] = &["cdr_claims", "orphan_cdrs"];

/// Tables that stay on the coordinator, and why (see the module's text).
pub const COORDINATOR_TABLES: &[(&str, &str)] = &[
    (
        "alert_rules",
        "platform-wide rules have no tenant (tenant_id NULL)",
    ),
    (
        "alert_events",
        "events of platform-wide rules have no tenant",
    ),
    (
        "alert_deliveries",
        "deliveries of platform-wide rules have no tenant",
    ),
    (
        "alert_delivery_attempts",
        "belongs to a delivery (no tenant_id of its own)",
    ),
    (
        "alert_secrets",
        "the platform's signing secret has no tenant",
    ),
    (
        "audit_log",
        "platform-level changes have no tenant; append-only, read by admins",
    ),
    ("leases", "one row per cluster-wide task, not tenant data"),
    ("refinery_schema_history", "the migrations' own bookkeeping"),
];

/// Foreign keys that Citus cannot enforce, dropped when distributing, with
/// what takes their place.
pub const DROPPED_FOREIGN_KEYS: &[(&str, &str, &str)] = &[(
    "dids",
    "dids_tenant_id_entry_node_fkey",
    "a reference table cannot reference a distributed one (the entry node of a \
     DID's draft, in flow_nodes); the flow service validates the entry node of \
     every DID against the draft before it writes it, and a live call only \
     follows published versions",
)];

/// Whether to distribute, from `IVRHUB_CITUS` (or `migrate --distribute`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CitusMode {
    /// Distribute when the database has the `citus` extension (the default).
    Auto,
    /// Distribute, and fail when the database has no `citus` extension.
    Required,
    /// Leave the tables as they are, even on Citus.
    Off,
}

impl CitusMode {
    /// `IVRHUB_CITUS`: unset or `auto` → [`CitusMode::Auto`], `true`/`1` →
    /// [`CitusMode::Required`], `false`/`0` → [`CitusMode::Off`].
    pub fn from_env() -> Result<CitusMode> {
        match std::env::var("IVRHUB_CITUS") {
            Err(_) => Ok(CitusMode::Auto),
            Ok(value) => match value.trim().to_ascii_lowercase().as_str() {
                "" | "auto" => Ok(CitusMode::Auto),
                "true" | "1" | "yes" | "on" => Ok(CitusMode::Required),
                "false" | "0" | "no" | "off" => Ok(CitusMode::Off),
                other => bail!("IVRHUB_CITUS must be true, false or auto, not {other:?}"),
            },
        }
    }
}

/// What [`distribute`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Distribution {
    /// Tables converted by this call (empty: everything was done already).
    pub converted: Vec<String>,
}

/// Makes the migrated tables Citus tables (see the module's text), when
/// `mode` and the database say so. `Ok(None)`: not a Citus database (or
/// [`CitusMode::Off`]), nothing done.
pub async fn distribute(client: &mut Client, mode: CitusMode) -> Result<Option<Distribution>> {
    if mode == CitusMode::Off {
        return Ok(None);
    }
    let has_citus = client
        .query_opt("SELECT 1 FROM pg_extension WHERE extname = 'citus'", &[])
        .await
        .context("looking for the citus extension")?
        .is_some();
    if !has_citus {
        if mode == CitusMode::Required {
            bail!(
                "IVRHUB_CITUS=true (or --distribute) but the database has no citus extension: \
                 CREATE EXTENSION citus on the coordinator first (README, Running on Citus)"
            );
        }
        return Ok(None);
    }
    // Kind of each table now: 'n' reference (or Citus local: repmodel 's'),
    // 'h' hash-distributed; absent: a plain table.
    let rows = client
        .query(
            "SELECT logicalrelid::regclass::text, partmethod::text, repmodel::text
             FROM pg_dist_partition",
            &[],
        )
        .await
        .context("reading Citus's tables")?;
    let kind_of = |table: &str| -> Option<(String, String)> {
        rows.iter()
            .find(|row| row.get::<_, String>(0) == table)
            .map(|row| (row.get(1), row.get(2)))
    };
    let is_reference =
        |table: &str| kind_of(table).is_some_and(|(method, model)| method == "n" && model == "t");
    let is_distributed = |table: &str| kind_of(table).is_some_and(|(method, _)| method == "h");
    let to_reference: Vec<&str> = REFERENCE_TABLES
        .iter()
        .copied()
        .filter(|t| !is_reference(t))
        .collect();
    let to_distribute: Vec<(&str, &str, &str)> = TENANT_TABLES
        .iter()
        .map(|t| (*t, "tenant_id", TENANT_ANCHOR))
        .chain(CALL_TABLES.iter().map(|t| (*t, "call_id", CALL_TABLES[0])))
        .filter(|(t, _, _)| !is_distributed(t))
        .collect();
    if to_reference.is_empty() && to_distribute.is_empty() {
        return Ok(Some(Distribution::default()));
    }
    let converting: Vec<&str> = to_reference
        .iter()
        .copied()
        .chain(to_distribute.iter().map(|(t, _, _)| *t))
        .collect();

    let tx = client.transaction().await?;
    // Shards of one statement are then created over one connection per
    // worker, which a transaction that goes on to use them needs.
    tx.batch_execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
        .await?;
    for (table, constraint, _) in DROPPED_FOREIGN_KEYS {
        tx.batch_execute(&format!(
            "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
            quote(table),
            quote(constraint)
        ))
        .await
        .with_context(|| format!("dropping {constraint}"))?;
    }
    // The foreign keys from or to a table being converted, between the
    // tables Citus manages for us (the coordinator tables keep theirs).
    let managed: Vec<String> = REFERENCE_TABLES
        .iter()
        .chain(TENANT_TABLES)
        .chain(CALL_TABLES)
        .map(|t| t.to_string())
        .collect();
    let converting_names: Vec<String> = converting.iter().map(|t| t.to_string()).collect();
    let keys = tx
        .query(
            "SELECT c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid)
             FROM pg_constraint c
             WHERE c.contype = 'f'
               AND c.connamespace = 'public'::regnamespace
               AND c.conrelid::regclass::text = ANY($1)
               AND c.confrelid::regclass::text = ANY($1)
               AND (c.conrelid::regclass::text = ANY($2) OR c.confrelid::regclass::text = ANY($2))
             ORDER BY c.oid",
            &[&managed, &converting_names],
        )
        .await
        .context("reading the foreign keys")?;
    for row in &keys {
        let (table, name): (String, String) = (row.get(0), row.get(1));
        tx.batch_execute(&format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            quote(&table),
            quote(&name)
        ))
        .await
        .with_context(|| format!("dropping {name} for a while"))?;
    }
    for table in &to_reference {
        tx.execute(
            "SELECT create_reference_table($1::text::regclass)",
            &[table],
        )
        .await
        .with_context(|| format!("making {table} a reference table"))?;
    }
    for (table, column, anchor) in &to_distribute {
        // The anchor of a group comes first in its list: it starts the group.
        let colocate = if table == anchor { "none" } else { anchor };
        tx.execute(
            "SELECT create_distributed_table($1::text::regclass, $2::text, colocate_with => $3::text)",
            &[table, column, &colocate],
        )
        .await
        .with_context(|| format!("distributing {table} by {column}"))?;
    }
    for row in &keys {
        let (table, name, definition): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        tx.batch_execute(&format!(
            "ALTER TABLE {} ADD CONSTRAINT {} {definition}",
            quote(&table),
            quote(&name)
        ))
        .await
        .with_context(|| format!("adding {name} back on Citus"))?;
    }
    tx.commit().await.context("committing the distribution")?;
    Ok(Some(Distribution {
        converted: converting.iter().map(|t| t.to_string()).collect(),
    }))
}

fn quote(name: &str) -> String {
    crate::db::quote_ident(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_one_place() {
        let mut all: Vec<&str> = REFERENCE_TABLES
            .iter()
            .chain(TENANT_TABLES)
            .chain(CALL_TABLES)
            .copied()
            .chain(COORDINATOR_TABLES.iter().map(|(t, _)| *t))
            .collect();
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "a table is listed twice");
        assert_eq!(TENANT_TABLES[0], TENANT_ANCHOR);
    }
}
