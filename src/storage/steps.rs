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

/// Appends steps with one binary `COPY` (the cheapest row for PostgreSQL to
/// take: no SQL to plan, no JSON or text to parse; measured in
/// `examples/step_log_insert.rs`). A NUL in any text is stored as U+FFFD
/// (see [`without_nul`]). A step of a tenant deleted meanwhile fails the
/// batch (foreign key): [`insert_steps_of_live_tenants`] then writes it
/// without those steps.
///
/// The funnel counts a step for a call started at most 24 hours before it
/// and at most 1 hour after it: a batch holding a step old enough to touch
/// a rolled-up day is written in a transaction that first makes those days
/// raw again ([`super::reports::mark_days_stale`]).
pub async fn insert_steps(pool: &PgPool, batch: &[NewStep]) -> Result<(), sqlx::Error> {
    write(pool, batch, Method::Copy).await
}

/// Appends steps with one `INSERT`, leaving out those of tenants deleted
/// meanwhile (slower than [`insert_steps`]: for a batch that one refused).
pub async fn insert_steps_of_live_tenants(
    pool: &PgPool,
    batch: &[NewStep],
) -> Result<(), sqlx::Error> {
    write(pool, batch, Method::InsertLive).await
}

#[derive(Clone, Copy)]
enum Method {
    Copy,
    InsertLive,
}

async fn write(pool: &PgPool, batch: &[NewStep], method: Method) -> Result<(), sqlx::Error> {
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
        let mut conn = pool.acquire().await?;
        return method.run(&mut conn, batch).await;
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
    method.run(&mut tx, batch).await?;
    tx.commit().await
}

/// A step more than this many hours old may count in a closed (rolled-up)
/// day's funnel (see [`insert_steps`]), the clocks differing a little.
const LATE_STEP_HOURS: i64 = 22;

impl Method {
    async fn run(
        self,
        conn: &mut sqlx::PgConnection,
        batch: &[NewStep],
    ) -> Result<(), sqlx::Error> {
        match self {
            Method::Copy => copy_steps(conn, batch).await,
            Method::InsertLive => insert_live(conn, batch).await,
        }
    }
}

async fn copy_steps(conn: &mut sqlx::PgConnection, batch: &[NewStep]) -> Result<(), sqlx::Error> {
    let mut copy = conn
        .copy_in_raw(
            "COPY call_steps (tenant_id, call_id, at, did, caller_id, menu, dtmf, from_node, node_key, outcome, action, flow_version, fallback)
             FROM STDIN (FORMAT binary)",
        )
        .await?;
    let mut data = binary_copy(batch);
    // Sent in pieces of at most 1 MiB (one CopyData message each).
    while !data.is_empty() {
        let rest = data.split_off(data.len().min(1 << 20));
        if let Err(error) = copy.send(data).await {
            let _ = copy.abort("sending failed").await;
            return Err(error);
        }
        data = rest;
    }
    copy.finish().await?;
    Ok(())
}

/// PostgreSQL's binary `COPY` format of `steps`, in the column order of
/// [`copy_steps`]'s statement.
fn binary_copy(steps: &[NewStep]) -> Vec<u8> {
    // Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
    const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
    let mut out = Vec::with_capacity(32 + steps.len() * 160);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes()); // flags
    out.extend_from_slice(&0i32.to_be_bytes()); // header extension
    let text = |out: &mut Vec<u8>, value: Option<&str>| match value {
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(value) => {
            out.extend_from_slice(&(value.len() as i32).to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
    };
    for step in steps {
        out.extend_from_slice(&13i16.to_be_bytes());
        out.extend_from_slice(&8i32.to_be_bytes());
        out.extend_from_slice(&step.tenant_id.to_be_bytes());
        text(&mut out, Some(&step.call_id));
        out.extend_from_slice(&8i32.to_be_bytes());
        out.extend_from_slice(&(step.at.timestamp_micros() - PG_EPOCH_MICROS).to_be_bytes());
        for value in [&step.did, &step.caller_id, &step.menu, &step.dtmf] {
            text(&mut out, Some(value));
        }
        text(&mut out, step.from_node.as_deref());
        text(&mut out, step.node_key.as_deref());
        text(&mut out, Some(&step.outcome));
        text(&mut out, Some(&step.action));
        match step.flow_version {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(version) => {
                out.extend_from_slice(&4i32.to_be_bytes());
                out.extend_from_slice(&(version as i32).to_be_bytes());
            }
        }
        text(&mut out, step.fallback);
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

/// One `INSERT` of the steps whose tenant still exists.
async fn insert_live(conn: &mut sqlx::PgConnection, batch: &[NewStep]) -> Result<(), sqlx::Error> {
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

/// Adds dropped-step counts to `step_log_gaps`: (tenant, minute, reason,
/// count); a tenant deleted meanwhile is skipped.
pub async fn add_gaps(
    pool: &PgPool,
    gaps: &[(i64, DateTime<Utc>, &'static str, i64)],
) -> Result<(), sqlx::Error> {
    let tenants: Vec<i64> = gaps.iter().map(|g| g.0).collect();
    let minutes: Vec<DateTime<Utc>> = gaps.iter().map(|g| g.1).collect();
    let reasons: Vec<&str> = gaps.iter().map(|g| g.2).collect();
    let counts: Vec<i64> = gaps.iter().map(|g| g.3).collect();
    sqlx::query(
        "INSERT INTO step_log_gaps (tenant_id, minute, reason, dropped)
         SELECT g.tenant_id, g.minute, g.reason, g.dropped
         FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::bigint[])
              AS g(tenant_id, minute, reason, dropped)
         WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.tenant_id = g.tenant_id)
         ON CONFLICT (tenant_id, minute, reason) DO UPDATE
             SET dropped = step_log_gaps.dropped + EXCLUDED.dropped",
    )
    .bind(&tenants)
    .bind(&minutes)
    .bind(&reasons)
    .bind(&counts)
    .execute(pool)
    .await?;
    Ok(())
}

/// Steps of the tenant the step log dropped in `[from, to)`.
pub async fn dropped_between(
    pool: &PgPool,
    tenant_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(dropped), 0)::bigint FROM step_log_gaps
         WHERE tenant_id = $1 AND minute >= $2 AND minute < $3",
    )
    .bind(tenant_id)
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await
}
