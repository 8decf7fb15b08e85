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

impl NewCdr {
    /// When the report says the call started (`started_at` without the
    /// fallback to its arrival, which only the database's clock gives).
    fn reported_start(&self) -> Option<DateTime<Utc>> {
        self.call_start.or(self.call_time)
    }

    fn has_nul(&self) -> bool {
        [
            &self.call_id,
            &self.did,
            &self.caller_id,
            &self.target,
            &self.status,
        ]
        .iter()
        .any(|text| text.contains('\0'))
            || json_has_nul(&self.raw)
    }

    fn without_nul(mut self) -> NewCdr {
        for text in [
            &mut self.call_id,
            &mut self.did,
            &mut self.caller_id,
            &mut self.target,
            &mut self.status,
        ] {
            without_nul(text);
        }
        json_without_nul(&mut self.raw);
        self
    }
}

/// PostgreSQL's `text` and `jsonb` cannot hold U+0000 (a request can: JSON
/// `"\u0000"`, a raw NUL byte in XML). A NUL is stored as U+FFFD, the
/// replacement character, rather than have the database refuse the row (and
/// with it, in a batch statement, every row it travels with).
pub(crate) fn without_nul(text: &mut String) {
    if text.contains('\0') {
        *text = text.replace('\0', "\u{FFFD}");
    }
}

fn json_has_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(json_has_nul),
        Value::Object(members) => members
            .iter()
            .any(|(name, value)| name.contains('\0') || json_has_nul(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// [`without_nul`] for every string of a JSON document, member names included.
fn json_without_nul(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(text) => without_nul(text),
        Value::Array(items) => items.iter_mut().for_each(json_without_nul),
        Value::Object(members) => {
            if members.keys().any(|name| name.contains('\0')) {
                *members = std::mem::take(members)
                    .into_iter()
                    .map(|(mut name, value)| {
                        without_nul(&mut name);
                        (name, value)
                    })
                    .collect();
            }
            members.values_mut().for_each(json_without_nul);
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Inserts a batch in one statement (one commit). Each call is first claimed
/// in `cdr_claims` (platform-wide, by call id); only calls claimed now are
/// written, to the tenant owning the DID or to `orphan_cdrs`. So duplicates,
/// within the batch or with rows already stored, are skipped whatever
/// happened to the DID meanwhile: retries never double-count. Claims are
/// kept [`CLAIM_DAYS`]; a retry arriving later than that is still skipped by
/// the tables' keys (tenant, call id, start) when its report has a start
/// (`CALL_START` or `CALL_TIME`) and its DID still routes where it did.
///
/// `started_at`, the instant a CDR counts at in reports and the month
/// partition it lands in (V15), is the call flow's start as Voicenter
/// reported it, else the call time, else when the report was received.
/// Rows go in in key order, so that concurrent batches holding the same calls
/// wait for each other instead of deadlocking (each holding a key the other
/// needs).
///
/// A batch holding a late CDR (one that may belong to a report day already
/// rolled up) is written in a transaction that first makes those days raw
/// again ([`super::reports::mark_days_stale`]); every other batch is the one
/// statement alone.
pub async fn insert_cdrs(pool: &PgPool, batch: &[NewCdr]) -> Result<(), sqlx::Error> {
    let cleaned: Vec<NewCdr>;
    let batch = if batch.iter().any(NewCdr::has_nul) {
        cleaned = batch.iter().cloned().map(NewCdr::without_nul).collect();
        &cleaned[..]
    } else {
        batch
    };
    // The database's clock decides (below); ours only spares the on-time
    // batches a round trip, with an hour to spare for clocks that differ.
    let late_before = Utc::now() - chrono::Duration::hours(LATE_CDR_HOURS - 1);
    let late: Vec<&NewCdr> = batch
        .iter()
        .filter(|cdr| cdr.reported_start().is_some_and(|at| at < late_before))
        .collect();
    // On Citus the claim table is distributed by call id: a batch claims its
    // calls shard by shard, in parallel, so key order no longer orders the
    // locks of two batches holding the same calls; Citus finds the
    // distributed deadlock and cancels one, which then goes again here (the
    // other has its locks by then). On a single PostgreSQL key order keeps
    // deadlocks away and this never loops.
    //
    // A row that meets a stored one although its call was claimed just now
    // (its claim expired, yet it started less than FRESH_DAYS ago: a clock
    // gone wrong) makes the batch go again with every row checked, instead
    // of failing it for good.
    let mut attempt = 1;
    let mut check_all = false;
    loop {
        match insert_cdrs_once(pool, batch, &late, check_all).await {
            Err(error) if attempt < DEADLOCK_ATTEMPTS && is_deadlock(&error) => {
                tracing::warn!(%error, attempt, "CDR batch deadlocked; again");
                attempt += 1;
            }
            Err(error)
                if !check_all
                    && error
                        .as_database_error()
                        .is_some_and(|error| error.is_unique_violation()) =>
            {
                tracing::warn!(%error, "a CDR batch met stored rows of calls claimed anew; again, every row checked");
                check_all = true;
            }
            result => return result,
        }
    }
}

/// How many times a CDR batch is tried when it deadlocks (see [`insert_cdrs`]).
const DEADLOCK_ATTEMPTS: u32 = 3;

/// SQLSTATE 40P01 (deadlock detected; also Citus's distributed deadlocks).
fn is_deadlock(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(error) if error.code().as_deref() == Some("40P01"))
}

/// One attempt of [`insert_cdrs`]: `late` are the batch's late rows.
async fn insert_cdrs_once(
    pool: &PgPool,
    batch: &[NewCdr],
    late: &[&NewCdr],
    check_all: bool,
) -> Result<(), sqlx::Error> {
    if late.is_empty() {
        return insert_cdrs_statement(pool, batch, check_all).await;
    }
    let mut tx = pool.begin().await?;
    let days: Vec<(i64, chrono::NaiveDate, Option<i32>)> = sqlx::query_as(
        "SELECT DISTINCT d.tenant_id, (l.started_at AT TIME ZONE 'UTC')::date, t.cdr_retention_months
         FROM unnest($1::text[], $2::timestamptz[]) AS l (did, started_at)
         JOIN dids d ON d.did = l.did
         JOIN tenants t ON t.tenant_id = d.tenant_id
         WHERE l.started_at < now() - make_interval(hours => $3)",
    )
    .bind(late.iter().map(|cdr| cdr.did.clone()).collect::<Vec<_>>())
    .bind(
        late.iter()
            .map(|cdr| cdr.reported_start())
            .collect::<Vec<_>>(),
    )
    .bind(LATE_CDR_HOURS as i32)
    .fetch_all(&mut *tx)
    .await?;
    // A day before the tenant's retention keeps its roll-up: its raw rows
    // are gone, and rolling it up again would replace its figures by the
    // late row's alone.
    let now = Utc::now();
    let days: Vec<(i64, chrono::NaiveDate)> = days
        .into_iter()
        .filter(|(_, day, months)| {
            crate::maintenance::cdrs_kept_from(now, *months)
                .is_none_or(|kept| day.and_time(chrono::NaiveTime::MIN).and_utc() >= kept)
        })
        .map(|(tenant, day, _)| (tenant, day))
        .collect();
    super::reports::mark_days_stale(&mut tx, &days).await?;
    insert_cdrs_statement(&mut *tx, batch, check_all).await?;
    tx.commit().await
}

/// A CDR that started more than this many hours ago may belong to a closed
/// (rolled-up) report day: no call lasts 24 hours, and the clocks of the
/// servers that close days and of the database may differ a little.
const LATE_CDR_HOURS: i64 = 23;

/// How long a call's claim is kept (the maintenance task removes older ones):
/// far beyond Voicenter's retries, which stop within hours.
pub const CLAIM_DAYS: u32 = 30;

/// A CDR that started at most this many days ago cannot be a retry whose
/// claim expired (a claim outlives its call's start by [`CLAIM_DAYS`], less
/// a day for clocks that differ), so its row needs no conflict check: on
/// time, the claim alone deduplicates, and `ON CONFLICT` costs ~7 % of the
/// statement (bench/reports' ingestion, 2026-12-01). Older ones take the
/// key's check.
const FRESH_DAYS: i32 = CLAIM_DAYS as i32 - 1;

/// [`insert_cdrs`]'s one statement.
async fn insert_cdrs_statement<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    batch: &[NewCdr],
    check_all: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH input AS (
             SELECT * FROM jsonb_to_recordset($1) AS t(
                 call_id text, did text, caller_id text, target text,
                 call_time timestamptz, call_start timestamptz,
                 duration_secs bigint, dial_secs bigint, status text, cause smallint, raw jsonb)
         ), routed AS (
             SELECT DISTINCT ON (i.call_id) i.*, d.tenant_id, s.started_at,
                    coalesce($2::integer IS NOT NULL
                             AND s.started_at >= now() - make_interval(days => $2), false) AS fresh
             FROM input i LEFT JOIN dids d ON d.did = i.did,
                  LATERAL (SELECT coalesce(i.call_start, i.call_time, now()) AS started_at) s
             ORDER BY i.call_id
         ), claimed AS (
             INSERT INTO cdr_claims (call_id, tenant_id)
             SELECT call_id, tenant_id FROM routed ORDER BY call_id
             ON CONFLICT (call_id) DO NOTHING
             RETURNING call_id
         ), owned AS (
             INSERT INTO cdrs (tenant_id, call_id, did, caller_id, target, call_time, call_start,
                               duration_secs, dial_secs, status, cause, raw, started_at)
             SELECT r.tenant_id, r.call_id, r.did, r.caller_id, r.target, r.call_time, r.call_start,
                    r.duration_secs, r.dial_secs, r.status, r.cause, r.raw, r.started_at
             FROM routed r JOIN claimed c USING (call_id)
             WHERE r.tenant_id IS NOT NULL AND r.fresh
             ORDER BY r.tenant_id, r.call_id
         ), owned_late AS (
             INSERT INTO cdrs (tenant_id, call_id, did, caller_id, target, call_time, call_start,
                               duration_secs, dial_secs, status, cause, raw, started_at)
             SELECT r.tenant_id, r.call_id, r.did, r.caller_id, r.target, r.call_time, r.call_start,
                    r.duration_secs, r.dial_secs, r.status, r.cause, r.raw, r.started_at
             FROM routed r JOIN claimed c USING (call_id)
             WHERE r.tenant_id IS NOT NULL AND NOT r.fresh
             ORDER BY r.tenant_id, r.call_id
             ON CONFLICT DO NOTHING
         )
         INSERT INTO orphan_cdrs (call_id, did, caller_id, target, call_time, call_start,
                                  duration_secs, dial_secs, status, cause, raw, started_at)
         SELECT r.call_id, r.did, r.caller_id, r.target, r.call_time, r.call_start,
                r.duration_secs, r.dial_secs, r.status, r.cause, r.raw, r.started_at
         FROM routed r JOIN claimed c USING (call_id)
         WHERE r.tenant_id IS NULL
         ORDER BY r.call_id
         ON CONFLICT DO NOTHING",
    )
    .bind(sqlx::types::Json(batch))
    .bind((!check_all).then_some(FRESH_DAYS))
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_become_replacement_characters_everywhere() {
        let cdr = NewCdr {
            call_id: "a\0b".into(),
            did: "073".into(),
            caller_id: "\0".into(),
            target: String::new(),
            call_time: None,
            call_start: None,
            duration_secs: None,
            dial_secs: None,
            status: "ANSWER".into(),
            cause: Some(16),
            raw: serde_json::json!({"K\0": ["x\0", {"y": "\0\0"}], "n": 1}),
        };
        assert!(cdr.has_nul());
        let clean = cdr.without_nul();
        assert!(!clean.has_nul());
        assert_eq!(
            (clean.call_id.as_str(), clean.caller_id.as_str()),
            ("a\u{FFFD}b", "\u{FFFD}")
        );
        assert_eq!(
            clean.raw,
            serde_json::json!({"K\u{FFFD}": ["x\u{FFFD}", {"y": "\u{FFFD}\u{FFFD}"}], "n": 1})
        );
    }
}
