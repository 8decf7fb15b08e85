//! Call detail records: the durable, idempotent end-of-call reports.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

/// One CDR ready to insert. The tenant is not known yet: the DID directory
/// decides it inside the insert, so a report for a number no tenant owns
/// lands in `orphan_cdrs` instead of being lost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewCdr {
    pub call_id: String,
    pub did: String,
    pub caller_id: String,
    pub target: String,
    pub call_time: Option<DateTime<Utc>>,
    pub call_start: Option<DateTime<Utc>>,
    pub duration_secs: Option<i64>,
    pub dial_secs: Option<i64>,
    pub status: String,
    pub cause: Option<i16>,
    pub raw: serde_json::Value,
}

/// Inserts a batch in one statement (one commit). Duplicates, within the batch
/// or with rows already stored, are skipped: retries never double-count.
pub async fn insert_cdrs(pool: &PgPool, batch: &[NewCdr]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH input AS (
             SELECT * FROM jsonb_to_recordset($1) AS t(
                 call_id text, did text, caller_id text, target text,
                 call_time timestamptz, call_start timestamptz,
                 duration_secs bigint, dial_secs bigint, status text, cause smallint, raw jsonb)
         ), owned AS (
             INSERT INTO cdrs (tenant_id, call_id, did, caller_id, target, call_time, call_start,
                               duration_secs, dial_secs, status, cause, raw)
             SELECT d.tenant_id, i.call_id, i.did, i.caller_id, i.target, i.call_time, i.call_start,
                    i.duration_secs, i.dial_secs, i.status, i.cause, i.raw
             FROM input i JOIN dids d ON d.did = i.did
             ON CONFLICT (tenant_id, call_id) DO NOTHING
         )
         INSERT INTO orphan_cdrs (call_id, did, caller_id, target, call_time, call_start,
                                  duration_secs, dial_secs, status, cause, raw)
         SELECT i.call_id, i.did, i.caller_id, i.target, i.call_time, i.call_start,
                i.duration_secs, i.dial_secs, i.status, i.cause, i.raw
         FROM input i WHERE NOT EXISTS (SELECT 1 FROM dids d WHERE d.did = i.did)
         ON CONFLICT (call_id) DO NOTHING",
    )
    .bind(sqlx::types::Json(batch))
    .execute(pool)
    .await?;
    Ok(())
}
