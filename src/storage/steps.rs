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
    /// The node the request's MENU named (where the digits were pressed);
    /// `None` at the start of the call.
    pub from_node: Option<String>,
    /// The node whose action was answered.
    pub node_key: Option<String>,
    pub outcome: String,
    /// The ACTION answered.
    pub action: String,
    /// The version of the flow the step ran on (`None`: no version, e.g. a
    /// safe answer given without a flow).
    pub flow_version: Option<u32>,
    /// Why the step got the safe answer (`FallbackReason::as_str`); `None`:
    /// the flow answered.
    pub fallback: Option<&'static str>,
}

impl NewStep {
    fn texts(&self) -> impl Iterator<Item = &String> {
        [
            &self.call_id,
            &self.did,
            &self.caller_id,
            &self.menu,
            &self.dtmf,
            &self.outcome,
            &self.action,
        ]
        .into_iter()
        .chain(self.from_node.as_ref())
        .chain(self.node_key.as_ref())
    }

    fn texts_mut(&mut self) -> impl Iterator<Item = &mut String> {
        [
            &mut self.call_id,
            &mut self.did,
            &mut self.caller_id,
            &mut self.menu,
            &mut self.dtmf,
            &mut self.outcome,
            &mut self.action,
        ]
        .into_iter()
        .chain(self.from_node.as_mut())
        .chain(self.node_key.as_mut())
    }

    fn has_nul(&self) -> bool {
        self.texts().any(|text| text.contains('\0'))
    }

    fn without_nul(mut self) -> NewStep {
        self.texts_mut().for_each(without_nul);
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
        "INSERT INTO call_steps (tenant_id, call_id, at, did, caller_id, menu, dtmf, from_node, node_key, outcome, action, flow_version, fallback)
         SELECT s.tenant_id, s.call_id, s.at, s.did, s.caller_id, s.menu, s.dtmf, s.from_node, s.node_key, s.outcome, s.action, s.flow_version, s.fallback
         FROM jsonb_array_elements($1) WITH ORDINALITY AS e(step, position),
              jsonb_to_record(e.step) AS s(
                  tenant_id bigint, call_id text, at timestamptz, did text, caller_id text,
                  menu text, dtmf text, from_node text, node_key text, outcome text, action text,
                  flow_version integer, fallback text)
         -- A tenant deleted meanwhile: its steps have nowhere to go.
         WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.tenant_id = s.tenant_id)
         ORDER BY e.position",
    )
    .bind(sqlx::types::Json(batch))
    .execute(pool)
    .await?;
    Ok(())
}
