//! The call-steps log: every answered step of every call, for the menu funnel.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::cdrs::without_nul;

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

impl NewStep {
    fn texts(&mut self) -> [&mut String; 7] {
        [
            &mut self.call_id,
            &mut self.did,
            &mut self.caller_id,
            &mut self.menu,
            &mut self.dtmf,
            &mut self.outcome,
            &mut self.action,
        ]
    }

    fn has_nul(&self) -> bool {
        [
            &self.call_id,
            &self.did,
            &self.caller_id,
            &self.menu,
            &self.dtmf,
            &self.outcome,
            &self.action,
        ]
        .iter()
        .any(|text| text.contains('\0'))
            || self.node_key.as_ref().is_some_and(|key| key.contains('\0'))
    }

    fn without_nul(mut self) -> NewStep {
        for text in self.texts() {
            without_nul(text);
        }
        if let Some(key) = &mut self.node_key {
            without_nul(key);
        }
        self
    }
}

/// Appends steps in one statement. A NUL in any text is stored as U+FFFD
/// (see [`without_nul`]).
pub async fn insert_steps(pool: &PgPool, batch: &[NewStep]) -> Result<(), sqlx::Error> {
    let cleaned: Vec<NewStep>;
    let batch = if batch.iter().any(NewStep::has_nul) {
        cleaned = batch.iter().cloned().map(NewStep::without_nul).collect();
        &cleaned[..]
    } else {
        batch
    };
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
