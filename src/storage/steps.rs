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
///
/// The funnel counts a step for a call started at most 24 hours before it
/// and at most 1 hour after it: a batch holding a step old enough to touch
/// a rolled-up day is written in a transaction that first makes those days
/// raw again ([`super::reports::mark_days_stale`]).
pub async fn insert_steps(pool: &PgPool, batch: &[NewStep]) -> Result<(), sqlx::Error> {
    let cleaned: Vec<NewStep>;
    let batch = if batch.iter().any(NewStep::has_nul) {
        cleaned = batch.iter().cloned().map(NewStep::without_nul).collect();
        &cleaned[..]
    } else {
        batch
    };
    // The database's clock decides (below); ours only spares the on-time
    // batches a round trip, with an hour to spare for clocks that differ.
    let late_before = Utc::now() - chrono::Duration::hours(LATE_STEP_HOURS - 1);
    let late: Vec<&NewStep> = batch.iter().filter(|step| step.at < late_before).collect();
    if late.is_empty() {
        return insert_steps_statement(pool, batch).await;
    }
    let mut tx = pool.begin().await?;
    let days: Vec<(i64, chrono::NaiveDate)> = sqlx::query_as(
        "SELECT DISTINCT l.tenant_id, day::date
         FROM unnest($1::bigint[], $2::timestamptz[]) AS l (tenant_id, at),
              generate_series(((l.at - interval '24 hours') AT TIME ZONE 'UTC')::date,
                              ((l.at + interval '1 hour') AT TIME ZONE 'UTC')::date,
                              interval '1 day') AS day
         WHERE l.at < now() - make_interval(hours => $3)",
    )
    .bind(late.iter().map(|step| step.tenant_id).collect::<Vec<_>>())
    .bind(late.iter().map(|step| step.at).collect::<Vec<_>>())
    .bind(LATE_STEP_HOURS as i32)
    .fetch_all(&mut *tx)
    .await?;
    super::reports::mark_days_stale(&mut tx, &days).await?;
    insert_steps_statement(&mut *tx, batch).await?;
    tx.commit().await
}

/// A step more than this many hours old may count in a closed (rolled-up)
/// day's funnel (see [`insert_steps`]), the clocks differing a little.
const LATE_STEP_HOURS: i64 = 22;

/// [`insert_steps`]'s one statement.
async fn insert_steps_statement<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    batch: &[NewStep],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO call_steps (tenant_id, call_id, at, did, caller_id, menu, dtmf, from_node, node_key, outcome, action, flow_version, fallback)
         SELECT s.tenant_id, s.call_id, s.at, s.did, s.caller_id, s.menu, s.dtmf, s.from_node, s.node_key, s.outcome, s.action, s.flow_version, s.fallback
         FROM jsonb_array_elements($1) WITH ORDINALITY AS e(step, position),
              jsonb_to_record(e.step) AS s(
                  tenant_id bigint, call_id text, at timestamptz, did text, caller_id text,
                  menu text, dtmf text, from_node text, node_key text, outcome text, action text,
                  flow_version integer, fallback text)
         -- A tenant deleted meanwhile: its steps have nowhere to go. (A join,
         -- not a correlated EXISTS, which Citus cannot plan here.)
         JOIN tenants t ON t.tenant_id = s.tenant_id
         ORDER BY e.position",
    )
    .bind(sqlx::types::Json(batch))
    .execute(conn)
    .await?;
    Ok(())
}
