//! Alert rules, events, deliveries and signing secrets (V12). Every call
//! takes the owner first: `Some(tenant)`, or `None` for the platform's own
//! rules; a rule of another owner does not exist. The evaluator's and the
//! delivery worker's calls cover every owner and say so (`due_…`, `claim_…`).

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{FromRow, PgPool};

use super::audit::{self, Actor, AuditAction, Change};
use crate::alerts::rule::RuleSpec;
use crate::alerts::state::{EventKind, Memory, RuleState};

/// Whose rules: a tenant's, or (`None`) the platform's.
pub type Owner = Option<i64>;

#[derive(Debug, Clone, FromRow)]
pub struct RuleRow {
    pub rule_id: i64,
    pub tenant_id: Option<i64>,
    pub definition: Json<RuleSpec>,
    pub state: String,
    pub recent: Vec<bool>,
    pub evaluated_at: Option<DateTime<Utc>>,
    pub last_value: Option<f64>,
    pub last_calls: Option<i64>,
    pub notified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RuleRow {
    pub fn memory(&self) -> Memory {
        Memory {
            state: RuleState::parse(&self.state).unwrap_or(RuleState::Ok),
            recent: self.recent.clone(),
            notified_at: self.notified_at,
        }
    }
}

/// The columns of a [`RuleRow`] (a macro: sqlx takes only literal SQL).
macro_rules! rule_columns {
    () => {
        "rule_id, tenant_id, definition, state, recent, evaluated_at, last_value, last_calls, notified_at, created_at, updated_at"
    };
}

pub async fn count_rules(pool: &PgPool, owner: Owner) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM alert_rules WHERE tenant_id IS NOT DISTINCT FROM $1")
        .bind(owner)
        .fetch_one(pool)
        .await
}

/// Creates a rule unless the owner has `limit` already (checked under a
/// lock on the owner's rules, so two creations cannot both pass); audited.
pub async fn insert_rule(
    pool: &PgPool,
    owner: Owner,
    spec: &RuleSpec,
    limit: i64,
    actor: &Actor,
) -> Result<Option<RuleRow>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('alert_rules:' || coalesce($1, 0), 0))",
    )
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM alert_rules WHERE tenant_id IS NOT DISTINCT FROM $1",
    )
    .bind(owner)
    .fetch_one(&mut *tx)
    .await?;
    if count >= limit {
        return Ok(None);
    }
    let row: RuleRow = sqlx::query_as(concat!(
        "INSERT INTO alert_rules (tenant_id, name, definition, enabled)
         VALUES ($1, $2, $3, $4) RETURNING ",
        rule_columns!(),
        ""
    ))
    .bind(owner)
    .bind(spec.name.trim())
    .bind(Json(spec))
    .bind(spec.enabled)
    .fetch_one(&mut *tx)
    .await?;
    audit_rule(&mut tx, actor, owner, row.rule_id, None, Some(spec)).await?;
    tx.commit().await?;
    Ok(Some(row))
}

async fn audit_rule(
    tx: &mut sqlx::PgConnection,
    actor: &Actor,
    owner: Owner,
    rule_id: i64,
    before: Option<&RuleSpec>,
    after: Option<&RuleSpec>,
) -> Result<(), sqlx::Error> {
    let object_id = rule_id.to_string();
    audit::record(
        tx,
        actor,
        Change {
            tenant_id: owner,
            action: Change::action_of(before, after),
            object_type: "alert_rule",
            object_id: &object_id,
            before: before.and_then(|spec| serde_json::to_value(spec).ok()),
            after: after.and_then(|spec| serde_json::to_value(spec).ok()),
        },
    )
    .await
}

pub async fn rule(
    pool: &PgPool,
    owner: Owner,
    rule_id: i64,
) -> Result<Option<RuleRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        rule_columns!(),
        " FROM alert_rules WHERE tenant_id IS NOT DISTINCT FROM $1 AND rule_id = $2"
    ))
    .bind(owner)
    .bind(rule_id)
    .fetch_optional(pool)
    .await
}

/// The owner's rules after `after_id`, in id order.
pub async fn rules(
    pool: &PgPool,
    owner: Owner,
    after_id: i64,
    limit: i64,
) -> Result<Vec<RuleRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        rule_columns!(),
        " FROM alert_rules
         WHERE tenant_id IS NOT DISTINCT FROM $1 AND rule_id > $2 ORDER BY rule_id LIMIT $3"
    ))
    .bind(owner)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Replaces a rule's definition. A firing rule keeps firing (its
/// receivers were told; it resolves, and says so, once the new definition
/// clears it); its history of breaches starts again. Audited.
pub async fn replace_rule(
    pool: &PgPool,
    owner: Owner,
    rule_id: i64,
    spec: &RuleSpec,
    actor: &Actor,
) -> Result<Option<RuleRow>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let before: Option<Json<RuleSpec>> = sqlx::query_scalar(
        "SELECT definition FROM alert_rules
         WHERE tenant_id IS NOT DISTINCT FROM $1 AND rule_id = $2 FOR UPDATE",
    )
    .bind(owner)
    .bind(rule_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before else {
        return Ok(None);
    };
    let row: RuleRow = sqlx::query_as(concat!(
        "UPDATE alert_rules SET name = $3, definition = $4, enabled = $5,
             recent = '{}', updated_at = now()
         WHERE tenant_id IS NOT DISTINCT FROM $1 AND rule_id = $2 RETURNING ",
        rule_columns!(),
        ""
    ))
    .bind(owner)
    .bind(rule_id)
    .bind(spec.name.trim())
    .bind(Json(spec))
    .bind(spec.enabled)
    .fetch_one(&mut *tx)
    .await?;
    audit_rule(&mut tx, actor, owner, rule_id, Some(&before.0), Some(spec)).await?;
    tx.commit().await?;
    Ok(Some(row))
}

/// Deletes a rule (its events stay, with its name). Audited.
pub async fn delete_rule(
    pool: &PgPool,
    owner: Owner,
    rule_id: i64,
    actor: &Actor,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let before: Option<Json<RuleSpec>> = sqlx::query_scalar(
        "DELETE FROM alert_rules WHERE tenant_id IS NOT DISTINCT FROM $1 AND rule_id = $2
         RETURNING definition",
    )
    .bind(owner)
    .bind(rule_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before else {
        return Ok(false);
    };
    audit_rule(&mut tx, actor, owner, rule_id, Some(&before.0), None).await?;
    tx.commit().await?;
    Ok(true)
}

/// Every owner's enabled rules not yet evaluated at `minute` (the evaluator).
pub async fn due_rules(pool: &PgPool, minute: DateTime<Utc>) -> Result<Vec<RuleRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        rule_columns!(),
        " FROM alert_rules
         WHERE enabled AND (evaluated_at IS NULL OR evaluated_at < $1)
         ORDER BY rule_id"
    ))
    .bind(minute)
    .fetch_all(pool)
    .await
}

/// Notifications (events sent) of a rule since `since`: its delivery rate.
pub async fn notifications_since(
    pool: &PgPool,
    rule_id: i64,
    since: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM alert_events WHERE rule_id = $1 AND notified AND at >= $2",
    )
    .bind(rule_id)
    .bind(since)
    .fetch_one(pool)
    .await
}

/// The state of the rule's last event that was sent, if any.
pub async fn last_notified(pool: &PgPool, rule_id: i64) -> Result<Option<EventKind>, sqlx::Error> {
    let state: Option<String> = sqlx::query_scalar(
        "SELECT state FROM alert_events WHERE rule_id = $1 AND notified ORDER BY event_id DESC LIMIT 1",
    )
    .bind(rule_id)
    .fetch_optional(pool)
    .await?;
    Ok(state.as_deref().and_then(EventKind::parse))
}

/// Test messages of a rule created since `since` (the test endpoint's rate).
pub async fn tests_since(pool: &PgPool, rule_id: i64, since_secs: f64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM alert_deliveries
         WHERE rule_id = $1 AND event_id IS NULL AND created_at > now() - make_interval(secs => $2)",
    )
    .bind(rule_id)
    .bind(since_secs)
    .fetch_one(pool)
    .await
}

/// An event to store with an evaluation, and the messages to send for it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventKind,
    pub threshold: f64,
    pub clear_threshold: f64,
    pub window_secs: i32,
    /// One per URL: (url, message id).
    pub messages: Vec<(String, String)>,
    pub notified: bool,
    /// The message sent, but for `data.event_id`, set here once known.
    pub payload: serde_json::Value,
}

/// One evaluation of a rule at `minute`, stored at once: its new memory,
/// the figure, and the event with its deliveries. Stored only if the rule
/// was not evaluated meanwhile (by another node) nor changed; returns the
/// event's id when one was stored, `Ok(None)` otherwise.
#[allow(clippy::too_many_arguments)]
pub async fn store_evaluation(
    pool: &PgPool,
    rule: &RuleRow,
    minute: DateTime<Utc>,
    memory: &Memory,
    value: Option<f64>,
    calls: i64,
    event: Option<NewEvent>,
) -> Result<Option<i64>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let updated = sqlx::query(
        "UPDATE alert_rules SET state = $3, recent = $4, notified_at = $5, evaluated_at = $6,
             last_value = $7, last_calls = $8
         WHERE rule_id = $1 AND evaluated_at IS NOT DISTINCT FROM $2 AND updated_at = $9",
    )
    .bind(rule.rule_id)
    .bind(rule.evaluated_at)
    .bind(memory.state.as_str())
    .bind(&memory.recent)
    .bind(memory.notified_at)
    .bind(minute)
    .bind(value)
    .bind(calls)
    .bind(rule.updated_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(None);
    }
    let mut stored = None;
    if let Some(event) = event {
        let spec = &rule.definition.0;
        let event_id: i64 = sqlx::query_scalar(
            "INSERT INTO alert_events (tenant_id, rule_id, rule_name, metric, state, at, value,
                 threshold, clear_threshold, calls, window_secs, notified)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING event_id",
        )
        .bind(rule.tenant_id)
        .bind(rule.rule_id)
        .bind(spec.name.trim())
        .bind(spec.metric.as_str())
        .bind(event.kind.as_str())
        .bind(minute)
        .bind(value)
        .bind(event.threshold)
        .bind(event.clear_threshold)
        .bind(calls)
        .bind(event.window_secs)
        .bind(event.notified)
        .fetch_one(&mut *tx)
        .await?;
        let mut payload = event.payload;
        payload["data"]["event_id"] = event_id.into();
        let body = payload.to_string();
        for (url, message_id) in &event.messages {
            insert_delivery(
                &mut tx,
                NewDelivery {
                    owner: rule.tenant_id,
                    rule_id: Some(rule.rule_id),
                    event_id: Some(event_id),
                    url,
                    message_id,
                    body: &body,
                    delay_secs: 0.0,
                },
            )
            .await?;
        }
        stored = Some(event_id);
    }
    tx.commit().await?;
    Ok(stored)
}

/// A message to insert: where, which, what, and when it is first due.
struct NewDelivery<'a> {
    owner: Owner,
    rule_id: Option<i64>,
    event_id: Option<i64>,
    url: &'a str,
    message_id: &'a str,
    body: &'a str,
    delay_secs: f64,
}

async fn insert_delivery(
    conn: &mut sqlx::PgConnection,
    delivery: NewDelivery<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO alert_deliveries (tenant_id, rule_id, event_id, url, message_id, body, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7)) RETURNING delivery_id",
    )
    .bind(delivery.owner)
    .bind(delivery.rule_id)
    .bind(delivery.event_id)
    .bind(delivery.url)
    .bind(delivery.message_id)
    .bind(delivery.body)
    .bind(delivery.delay_secs)
    .fetch_one(conn)
    .await
}

/// A test message of a rule, whose first attempt the caller makes now: no
/// worker takes it for `hold_secs` (then it is due, as any delivery).
pub async fn insert_test_delivery(
    pool: &PgPool,
    owner: Owner,
    rule_id: i64,
    url: &str,
    message_id: &str,
    body: &str,
    hold_secs: f64,
) -> Result<i64, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let delivery = NewDelivery {
        owner,
        rule_id: Some(rule_id),
        event_id: None,
        url,
        message_id,
        body,
        delay_secs: hold_secs,
    };
    insert_delivery(&mut conn, delivery).await
}

#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub event_id: i64,
    pub tenant_id: Option<i64>,
    pub rule_id: Option<i64>,
    pub rule_name: String,
    pub metric: String,
    pub state: String,
    pub at: DateTime<Utc>,
    pub value: Option<f64>,
    pub threshold: f64,
    pub clear_threshold: f64,
    pub calls: i64,
    pub window_secs: i32,
    pub notified: bool,
}

/// Filters of the event list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub rule_id: Option<i64>,
    pub state: Option<EventKind>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// The owner's events, newest first, before `before_id`.
pub async fn events(
    pool: &PgPool,
    owner: Owner,
    filter: &EventFilter,
    before_id: i64,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT event_id, tenant_id, rule_id, rule_name, metric, state, at, value, threshold,
                clear_threshold, calls, window_secs, notified
         FROM alert_events
         WHERE tenant_id IS NOT DISTINCT FROM $1 AND event_id < $2
           AND ($3::bigint IS NULL OR rule_id = $3)
           AND ($4::text IS NULL OR state = $4)
           AND ($5::timestamptz IS NULL OR at >= $5)
           AND ($6::timestamptz IS NULL OR at < $6)
         ORDER BY event_id DESC LIMIT $7",
    )
    .bind(owner)
    .bind(before_id)
    .bind(filter.rule_id)
    .bind(filter.state.map(EventKind::as_str))
    .bind(filter.from)
    .bind(filter.to)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    pub delivery_id: i64,
    pub tenant_id: Option<i64>,
    pub rule_id: Option<i64>,
    pub event_id: Option<i64>,
    pub url: String,
    pub message_id: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    pub delivery_id: i64,
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
}

/// The owner's deliveries, newest first, before `before_id`, with their attempts.
pub async fn deliveries(
    pool: &PgPool,
    owner: Owner,
    rule_id: Option<i64>,
    event_id: Option<i64>,
    before_id: i64,
    limit: i64,
) -> Result<Vec<(DeliveryRow, Vec<AttemptRow>)>, sqlx::Error> {
    let rows: Vec<DeliveryRow> = sqlx::query_as(
        "SELECT delivery_id, tenant_id, rule_id, event_id, url, message_id, status, attempts,
                next_attempt_at, created_at, finished_at
         FROM alert_deliveries
         WHERE tenant_id IS NOT DISTINCT FROM $1 AND delivery_id < $2
           AND ($3::bigint IS NULL OR rule_id = $3)
           AND ($4::bigint IS NULL OR event_id = $4)
         ORDER BY delivery_id DESC LIMIT $5",
    )
    .bind(owner)
    .bind(before_id)
    .bind(rule_id)
    .bind(event_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let ids: Vec<i64> = rows.iter().map(|row| row.delivery_id).collect();
    let attempts: Vec<AttemptRow> = sqlx::query_as(
        "SELECT delivery_id, attempt, at, status_code, latency_ms, error
         FROM alert_delivery_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mine = attempts
                .iter()
                .filter(|attempt| attempt.delivery_id == row.delivery_id)
                .cloned()
                .collect();
            (row, mine)
        })
        .collect())
}

/// A delivery claimed for an attempt.
#[derive(Debug, Clone, FromRow)]
pub struct DueDelivery {
    pub delivery_id: i64,
    pub tenant_id: Option<i64>,
    pub url: String,
    pub message_id: String,
    pub body: String,
    pub attempts: i32,
}

/// Claims up to `limit` deliveries that are due, at most `per_owner` of
/// one owner, none of the owners in `full` (0: the platform), oldest
/// first: each is pushed `hold_secs` into the future, so that no other
/// worker takes it while this one tries (a worker that dies leaves it due
/// again then).
pub async fn claim_due_deliveries(
    pool: &PgPool,
    limit: i64,
    per_owner: i64,
    full: &[i64],
    hold_secs: f64,
) -> Result<Vec<DueDelivery>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE alert_deliveries d SET next_attempt_at = now() + make_interval(secs => $2)
         FROM (SELECT delivery_id FROM (
                   SELECT delivery_id, next_attempt_at,
                          row_number() OVER (PARTITION BY tenant_id ORDER BY next_attempt_at) AS n
                   FROM alert_deliveries
                   WHERE status = 'pending' AND next_attempt_at <= now()
                     AND coalesce(tenant_id, 0) <> ALL($4)) ranked
               WHERE n <= $3 ORDER BY next_attempt_at LIMIT $1) fair
         -- A row another worker claimed meanwhile is no longer due: skipped.
         WHERE d.delivery_id = fair.delivery_id AND d.status = 'pending' AND d.next_attempt_at <= now()
         RETURNING d.delivery_id, d.tenant_id, d.url, d.message_id, d.body, d.attempts",
    )
    .bind(limit)
    .bind(hold_secs)
    .bind(per_owner)
    .bind(full)
    .fetch_all(pool)
    .await
}

/// A delivery's status: the values of `alert_deliveries.status` (V12's
/// CHECK lists the same; the claim query and its partial index name
/// `'pending'` literally, as an index predicate must be).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Retries left.
    Pending,
    Delivered,
    /// Retries spent.
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 3] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AfterAttempt {
    Delivered,
    RetryAt(DateTime<Utc>),
    /// Its retries are spent.
    Failed,
}

impl AfterAttempt {
    /// The names `/metrics` counts attempts by.
    pub const OUTCOMES: [&'static str; 3] = ["delivered", "retry", "failed"];

    pub fn outcome(self) -> &'static str {
        match self {
            AfterAttempt::Delivered => Self::OUTCOMES[0],
            AfterAttempt::RetryAt(_) => Self::OUTCOMES[1],
            AfterAttempt::Failed => Self::OUTCOMES[2],
        }
    }
}

/// Records an attempt and the delivery's new status, together; `false`
/// when the delivery moved on meanwhile (another worker attempted it), and
/// nothing was recorded.
pub async fn record_attempt(
    pool: &PgPool,
    delivery: &DueDelivery,
    at: DateTime<Utc>,
    status_code: Option<u16>,
    latency_ms: i32,
    error: Option<&str>,
    after: AfterAttempt,
) -> Result<bool, sqlx::Error> {
    let attempt = delivery.attempts + 1;
    let (status, next, finished) = match after {
        AfterAttempt::Delivered => (DeliveryStatus::Delivered, None, Some(at)),
        AfterAttempt::RetryAt(next) => (DeliveryStatus::Pending, Some(next), None),
        AfterAttempt::Failed => (DeliveryStatus::Failed, None, Some(at)),
    };
    let mut tx = pool.begin().await?;
    // Only the worker whose claim is still the delivery's latest records:
    // one that stalled past its hold, while another attempted, does not
    // overwrite that attempt's outcome.
    let current = sqlx::query(
        "UPDATE alert_deliveries SET attempts = $2, status = $3, next_attempt_at = $4, finished_at = $5
         WHERE delivery_id = $1 AND attempts = $6 AND status = 'pending'",
    )
    .bind(delivery.delivery_id)
    .bind(attempt)
    .bind(status.as_str())
    .bind(next)
    .bind(finished)
    .bind(delivery.attempts)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if current == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO alert_delivery_attempts (delivery_id, attempt, at, status_code, latency_ms, error)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(delivery.delivery_id)
    .bind(attempt)
    .bind(at)
    .bind(status_code.map(i32::from))
    .bind(latency_ms)
    .bind(error)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The secrets that sign the owner's messages now: the current one
/// (created if there is none) and any previous one not expired yet.
pub async fn signing_secrets(pool: &PgPool, owner: Owner) -> Result<Vec<String>, sqlx::Error> {
    let secrets: Vec<String> = sqlx::query_scalar(
        "SELECT secret FROM alert_secrets
         WHERE tenant_id IS NOT DISTINCT FROM $1 AND (expires_at IS NULL OR expires_at > now())
         ORDER BY expires_at IS NULL DESC, secret_id DESC",
    )
    .bind(owner)
    .fetch_all(pool)
    .await?;
    if !secrets.is_empty() {
        return Ok(secrets);
    }
    sqlx::query(
        "INSERT INTO alert_secrets (tenant_id, secret) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(owner)
    .bind(crate::alerts::signing::new_secret())
    .execute(pool)
    .await?;
    sqlx::query_scalar(
        "SELECT secret FROM alert_secrets WHERE tenant_id IS NOT DISTINCT FROM $1 AND expires_at IS NULL",
    )
    .bind(owner)
    .fetch_all(pool)
    .await
}

/// A new current secret; the old one keeps signing for `overlap_secs`.
/// Audited (without the secrets).
pub async fn rotate_secret(
    pool: &PgPool,
    owner: Owner,
    overlap_secs: f64,
    actor: &Actor,
) -> Result<String, sqlx::Error> {
    let secret = crate::alerts::signing::new_secret();
    let mut tx = pool.begin().await?;
    // Two rotations at once: one after the other.
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('alert_secrets:' || coalesce($1, 0), 0))",
    )
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE alert_secrets SET expires_at = now() + make_interval(secs => $2)
         WHERE tenant_id IS NOT DISTINCT FROM $1 AND expires_at IS NULL",
    )
    .bind(owner)
    .bind(overlap_secs)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO alert_secrets (tenant_id, secret) VALUES ($1, $2)")
        .bind(owner)
        .bind(&secret)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            tenant_id: owner,
            action: AuditAction::Update,
            object_type: "alert_secret",
            object_id: "current",
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(secret)
}

/// Safe answers logged in `[from, to)`: of the tenant (`None`: every
/// tenant), of one reason or every reason.
pub async fn safe_answers(
    pool: &PgPool,
    tenants: super::reports::Tenants,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    reason: Option<&str>,
) -> Result<i64, sqlx::Error> {
    let tenant = match tenants {
        super::reports::Tenants::One(tenant) => Some(tenant),
        super::reports::Tenants::All => None,
    };
    sqlx::query_scalar(
        "SELECT count(*) FROM call_steps
         WHERE ($1::bigint IS NULL OR tenant_id = $1) AND at >= $2 AND at < $3
           AND fallback IS NOT NULL AND ($4::text IS NULL OR fallback = $4)",
    )
    .bind(tenant)
    .bind(from)
    .bind(to)
    .bind(reason)
    .fetch_one(pool)
    .await
}
