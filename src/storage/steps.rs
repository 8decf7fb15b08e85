//! The call-steps log: every answered step of every call, for the menu funnel.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewStep {
    pub tenant_id: i64,
    pub call_id: String,
    pub at: DateTime<Utc>,
    pub did: String,
    pub caller_id: String,
    /// The MENU identifier Voicenter sent (with its state suffix).
    pub menu: String,
    pub dtmf: String,
    /// The node whose action was answered.
    pub node_key: Option<String>,
    pub outcome: String,
    /// The ACTION answered.
    pub action: String,
}

pub async fn insert_steps(pool: &PgPool, batch: &[NewStep]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO call_steps (tenant_id, call_id, at, did, caller_id, menu, dtmf, node_key, outcome, action)
         SELECT s.tenant_id, s.call_id, s.at, s.did, s.caller_id, s.menu, s.dtmf, s.node_key, s.outcome, s.action
         FROM jsonb_array_elements($1) WITH ORDINALITY AS e(step, position),
              jsonb_to_record(e.step) AS s(
                  tenant_id bigint, call_id text, at timestamptz, did text, caller_id text,
                  menu text, dtmf text, node_key text, outcome text, action text)
         -- A tenant deleted meanwhile: its steps have nowhere to go.
         WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.tenant_id = s.tenant_id)
         ORDER BY e.position",
    )
    .bind(sqlx::types::Json(batch))
    .execute(pool)
    .await?;
    Ok(())
}
