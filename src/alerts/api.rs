//! `/alerts/…`: rules (tenant admins write, every role reads), their events,
//! their deliveries, the signing secret. A platform admin without
//! `?tenant_id=` manages the platform-wide rules (over every tenant's
//! calls); with it, that tenant's. Another tenant's rule, event or delivery
//! answers 404.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::rule::{MAX_RULES, RuleSpec};
use super::state::{EventKind, RuleState};
use crate::admin::extract::{Caller, TenantQuery, tenant_asked};
use crate::admin::json::ApiJson;
use crate::admin::pagination::{Page, PageQuery, page};
use crate::admin::state::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::storage::alerts::{self as store, EventFilter, Owner, RuleRow};

/// The `alerts` tag's description in the OpenAPI document.
pub const TAG_DESCRIPTION: &str = "Rules that watch a figure of your calls over a sliding window and tell your webhooks when it goes wrong. \
**Example:** tell `https://ops.example.com/hooks/ivrhub` when the answer rate of 0733000001 falls below 50 % over 15 minutes \
(with at least 20 calls, 2 of the last 3 minutes), and again when it is back above 60 %: \
`POST /api/v1/alerts/rules` with `{\"name\": \"Sales answer rate\", \"metric\": \"asr\", \"did\": \"0733000001\", \"window_minutes\": 15, \
\"condition\": \"below\", \"threshold\": 0.5, \"clear_threshold\": 0.6, \"min_calls\": 20, \"fire_after\": 2, \"of_last\": 3, \
\"webhook_urls\": [\"https://ops.example.com/hooks/ivrhub\"]}`. \
Rules are evaluated once a minute (by one node of the cluster); each change of state is an event (`/alerts/events`): \
`firing`, `renotified` (with `renotify_minutes`), `resolved`. Each event is POSTed to the rule's URLs as JSON signed per \
[Standard Webhooks](https://www.standardwebhooks.com/): headers `webhook-id`, `webhook-timestamp`, `webhook-signature` \
(`v1,` + base64 of HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, keyed by the base64-decoded part of your \
secret after `whsec_`; `GET /alerts/secret`). A delivery that fails (no 2xx within 10 s) is retried for about 32 hours; \
every attempt is listed in `/alerts/deliveries`. `POST /alerts/rules/{rule_id}/test` sends a sample now. \
URLs must reach a public address (no loopback, private or link-local addresses), and redirects are not followed. \
At most 50 rules per tenant, and at most 12 notifications per rule per hour (further events are stored, `notified: false`).";

/// Test messages a rule may send a minute (one per URL each).
const MAX_TESTS_PER_MINUTE: i64 = 10;

/// Whose alerts a request is about, and who asks.
pub struct AlertScope {
    pub owner: Owner,
    pub caller: Caller,
}

impl AlertScope {
    fn require_admin(&self) -> Result<(), ApiError> {
        if self.caller.role.can_administer_tenant() {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "only tenant admins may change alert rules and secrets",
            ))
        }
    }
}

impl FromRequest for AlertScope {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<AlertScope, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(request, payload);
        let asked = web::Query::<TenantQuery>::from_query(request.query_string())
            .map(|query| query.into_inner().tenant_id)
            .map_err(|e| ApiError::bad_field("tenant_id", e.to_string()));
        let state = request.app_data::<web::Data<ApiState>>().cloned();
        Box::pin(async move {
            let caller = caller.await?;
            // A platform admin who names no tenant: the platform-wide rules.
            let owner = tenant_asked(&caller, asked?, state.as_ref().map(|s| s.get_ref())).await?;
            Ok(AlertScope { owner, caller })
        })
    }
}

/// `?tenant_id=`: platform admins name a tenant, or leave it out for the platform-wide rules.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertTenantQuery {
    /// Platform admins: the tenant whose alerts; absent: the platform-wide ones.
    /// Everyone else: their own tenant (the default).
    pub tenant_id: Option<i64>,
}

/// A rule with its state.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertRule {
    /// The rule's id.
    pub rule_id: i64,
    /// `null`: a platform-wide rule.
    pub tenant_id: Option<i64>,
    #[serde(flatten)]
    pub spec: RuleSpec,
    /// `ok`, `firing`, or `resolved` (fired, then cleared).
    pub state: RuleState,
    /// The minute last evaluated (the window's end).
    pub last_evaluated_at: Option<DateTime<Utc>>,
    /// The figure at the last evaluation (`null`: nothing to judge).
    pub last_value: Option<f64>,
    /// Calls (or callers at the node) in the window at the last evaluation.
    pub last_calls: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// The last change of the rule (its state then started again from `ok`).
    pub updated_at: DateTime<Utc>,
}

impl From<RuleRow> for AlertRule {
    fn from(row: RuleRow) -> AlertRule {
        AlertRule {
            state: RuleState::parse(&row.state).unwrap_or(RuleState::Ok),
            rule_id: row.rule_id,
            tenant_id: row.tenant_id,
            spec: row.definition.0,
            last_evaluated_at: row.evaluated_at,
            last_value: row.last_value,
            last_calls: row.last_calls,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

fn checked(state: &ApiState, scope: &AlertScope, spec: &RuleSpec) -> Result<(), ApiError> {
    let problems = spec.check(scope.owner.is_none(), state.alerts.allow_private_urls);
    if problems.is_empty() {
        return Ok(());
    }
    let summary = match problems.as_slice() {
        [one] => format!("{}: {}", one.path, one.message),
        many => format!("the rule has {} problems", many.len()),
    };
    Err(ApiError::validation(summary, problems))
}

/// List the alert rules, in id order.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(AlertTenantQuery, PageQuery),
    responses(
        (status = 200, description = "A page of rules", body = Page<AlertRule>),
        (status = 400, description = "Bad `limit`, `cursor` or `tenant_id`", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[get("/alerts/rules")]
pub async fn list_rules(
    state: web::Data<ApiState>,
    scope: AlertScope,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<AlertRule>>, ApiError> {
    let limit = query.limit()?;
    let rows = store::rules(
        &state.pool,
        scope.owner,
        query.after_id()?,
        i64::from(limit) + 1,
    )
    .await?;
    Ok(web::Json(page(
        rows,
        limit,
        |row| row.rule_id.to_string(),
        AlertRule::from,
    )))
}

/// Create an alert rule (tenant admins; platform admins for the platform-wide rules).
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(AlertTenantQuery),
    request_body = RuleSpec,
    responses(
        (status = 201, description = "Created; evaluated from the next minute on", body = AlertRule),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Only tenant admins may change alert rules", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 409, description = "The tenant has 50 rules already", body = ErrorBody),
        (status = 422, description = "An unknown metric, a window outside 5 minutes to 24 hours, a threshold of the wrong kind, a clear threshold on the wrong side, an unsafe URL...: each problem with its path in `details`", body = ErrorBody),
    )
)]
#[post("/alerts/rules")]
pub async fn create_rule(
    state: web::Data<ApiState>,
    scope: AlertScope,
    body: ApiJson<RuleSpec>,
) -> Result<HttpResponse, ApiError> {
    scope.require_admin()?;
    let spec = body.0;
    checked(&state, &scope, &spec)?;
    let row = store::insert_rule(
        &state.pool,
        scope.owner,
        &spec,
        MAX_RULES,
        &scope.caller.actor(),
    )
    .await?
    .ok_or_else(|| {
        ApiError::conflict(format!(
            "at most {MAX_RULES} alert rules: delete one to add another"
        ))
    })?;
    Ok(HttpResponse::Created().json(AlertRule::from(row)))
}

fn rule_id(path: web::Path<String>) -> Result<i64, ApiError> {
    path.into_inner()
        .parse()
        .map_err(|_| ApiError::not_found("alert rule"))
}

/// Read an alert rule with its state.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(("rule_id" = i64, Path, description = "The rule's id"), AlertTenantQuery),
    responses(
        (status = 200, description = "The rule", body = AlertRule),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such rule (or not yours)", body = ErrorBody),
    )
)]
#[get("/alerts/rules/{rule_id}")]
pub async fn get_rule(
    state: web::Data<ApiState>,
    scope: AlertScope,
    path: web::Path<String>,
) -> Result<web::Json<AlertRule>, ApiError> {
    let row = store::rule(&state.pool, scope.owner, rule_id(path)?)
        .await?
        .ok_or_else(|| ApiError::not_found("alert rule"))?;
    Ok(web::Json(row.into()))
}

/// Replace an alert rule (tenant admins). Its state starts again from `ok`.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(("rule_id" = i64, Path, description = "The rule's id"), AlertTenantQuery),
    request_body = RuleSpec,
    responses(
        (status = 200, description = "Replaced", body = AlertRule),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Only tenant admins may change alert rules", body = ErrorBody),
        (status = 404, description = "No such rule (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid rule: each problem with its path in `details`", body = ErrorBody),
    )
)]
#[put("/alerts/rules/{rule_id}")]
pub async fn put_rule(
    state: web::Data<ApiState>,
    scope: AlertScope,
    path: web::Path<String>,
    body: ApiJson<RuleSpec>,
) -> Result<web::Json<AlertRule>, ApiError> {
    scope.require_admin()?;
    let id = rule_id(path)?;
    let spec = body.0;
    checked(&state, &scope, &spec)?;
    let row = store::replace_rule(&state.pool, scope.owner, id, &spec, &scope.caller.actor())
        .await?
        .ok_or_else(|| ApiError::not_found("alert rule"))?;
    Ok(web::Json(row.into()))
}

/// Delete an alert rule (tenant admins). Its events and deliveries stay.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(("rule_id" = i64, Path, description = "The rule's id"), AlertTenantQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Only tenant admins may change alert rules", body = ErrorBody),
        (status = 404, description = "No such rule (or not yours)", body = ErrorBody),
    )
)]
#[delete("/alerts/rules/{rule_id}")]
pub async fn delete_rule(
    state: web::Data<ApiState>,
    scope: AlertScope,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    scope.require_admin()?;
    let id = rule_id(path)?;
    if !store::delete_rule(&state.pool, scope.owner, id, &scope.caller.actor()).await? {
        return Err(ApiError::not_found("alert rule"));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Send a sample message (`type: alert.test`) to each of the rule's URLs
/// now, signed like real ones (tenant admins). The answer holds each
/// delivery with its first attempt; failed ones are retried as usual.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(("rule_id" = i64, Path, description = "The rule's id"), AlertTenantQuery),
    responses(
        (status = 200, description = "One delivery per URL, with its first attempt", body = Vec<Delivery>),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Only tenant admins may send tests", body = ErrorBody),
        (status = 404, description = "No such rule (or not yours)", body = ErrorBody),
        (status = 422, description = "The rule has no webhook URL", body = ErrorBody),
        (status = 429, description = "10 test messages in the last minute already", body = ErrorBody),
    )
)]
#[post("/alerts/rules/{rule_id}/test")]
pub async fn test_rule(
    state: web::Data<ApiState>,
    scope: AlertScope,
    path: web::Path<String>,
) -> Result<web::Json<Vec<Delivery>>, ApiError> {
    scope.require_admin()?;
    let row = store::rule(&state.pool, scope.owner, rule_id(path)?)
        .await?
        .ok_or_else(|| ApiError::not_found("alert rule"))?;
    // A test costs its receivers' retries too: a few a minute.
    if store::tests_since(&state.pool, row.rule_id, 60.0).await? >= MAX_TESTS_PER_MINUTE {
        return Err(ApiError::too_many_requests(60));
    }
    let ids = super::send_test(&state.pool, &state.alerts.sender, &row)
        .await?
        .ok_or_else(|| {
            ApiError::invalid_field("webhook_urls", "the rule has no webhook URL to test")
        })?;
    let rows = store::deliveries(
        &state.pool,
        scope.owner,
        Some(row.rule_id),
        None,
        i64::MAX,
        50,
    )
    .await?;
    Ok(web::Json(
        rows.into_iter()
            .filter(|(delivery, _)| ids.contains(&delivery.delivery_id))
            .map(Delivery::from)
            .collect(),
    ))
}

/// An event: a rule changed state (or notified again).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 12, "tenant_id": 7, "rule_id": 3, "rule_name": "Sales answer rate", "metric": "asr", "state": "firing", "at": "2026-12-01T08:07:00Z", "value": 0.21, "threshold": 0.5, "clear_threshold": 0.6, "calls": 40, "window_minutes": 15, "notified": true}))]
pub struct AlertEvent {
    /// The event's id.
    pub id: i64,
    pub tenant_id: Option<i64>,
    /// `null` once the rule was deleted.
    pub rule_id: Option<i64>,
    pub rule_name: String,
    pub metric: String,
    /// `firing`, `renotified` (still firing, notified again), `resolved`.
    pub state: EventKind,
    /// The minute evaluated: the end of the window.
    pub at: DateTime<Utc>,
    /// The figure over the window (`null`: nothing to judge).
    pub value: Option<f64>,
    pub threshold: f64,
    pub clear_threshold: f64,
    /// Calls (or callers at the node) in the window.
    pub calls: i64,
    pub window_minutes: i32,
    /// Sent to the rule's URLs (false: no URL, or over 12 notifications in the hour).
    pub notified: bool,
}

impl From<store::EventRow> for AlertEvent {
    fn from(row: store::EventRow) -> AlertEvent {
        AlertEvent {
            id: row.event_id,
            tenant_id: row.tenant_id,
            rule_id: row.rule_id,
            rule_name: row.rule_name,
            metric: row.metric,
            state: EventKind::parse(&row.state).unwrap_or(EventKind::Firing),
            at: row.at,
            value: row.value,
            threshold: row.threshold,
            clear_threshold: row.clear_threshold,
            calls: row.calls,
            window_minutes: row.window_secs / 60,
            notified: row.notified,
        }
    }
}

/// Filters of `/alerts/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only this rule's events.
    pub rule_id: Option<i64>,
    /// Only events of this state: `firing`, `renotified`, `resolved`.
    pub state: Option<String>,
    /// Only events at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Only events before this instant (RFC 3339).
    pub to: Option<String>,
}

fn instant(name: &str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| {
                ApiError::bad_field(
                    name,
                    "an instant with its offset, e.g. 2026-12-01T10:00:00+02:00 (encode + as %2B)",
                )
            })
    })
    .transpose()
}

/// The alert events, newest first.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(AlertTenantQuery, EventQuery, PageQuery),
    responses(
        (status = 200, description = "A page of events, newest first", body = Page<AlertEvent>),
        (status = 400, description = "A malformed filter (`details[].path` names it)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[get("/alerts/events")]
pub async fn list_events(
    state: web::Data<ApiState>,
    scope: AlertScope,
    request: HttpRequest,
) -> Result<web::Json<Page<AlertEvent>>, ApiError> {
    let (query, limit, before) = AlertListQuery::read(&request)?;
    let filter = EventFilter {
        rule_id: query.rule_id,
        state: query
            .state
            .as_deref()
            .map(|text| {
                EventKind::parse(text).ok_or_else(|| {
                    ApiError::bad_field("state", "one of firing, renotified, resolved")
                })
            })
            .transpose()?,
        from: instant("from", query.from.as_deref())?,
        to: instant("to", query.to.as_deref())?,
    };
    let rows = store::events(
        &state.pool,
        scope.owner,
        &filter,
        before,
        i64::from(limit) + 1,
    )
    .await?;
    Ok(web::Json(page(
        rows,
        limit,
        |row| row.event_id.to_string(),
        AlertEvent::from,
    )))
}

/// Every query parameter the lists take (unknown ones are refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertListQuery {
    #[allow(dead_code)]
    tenant_id: Option<i64>,
    rule_id: Option<i64>,
    event_id: Option<i64>,
    state: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

impl AlertListQuery {
    /// The query, the page size, and the id the page starts before (newest first).
    fn read(request: &HttpRequest) -> Result<(AlertListQuery, u32, i64), ApiError> {
        let query = web::Query::<AlertListQuery>::from_query(request.query_string())
            .map_err(|error| ApiError::bad_request(error.to_string()))?
            .into_inner();
        let page = PageQuery {
            limit: query.limit,
            cursor: query.cursor.clone(),
        };
        let before = match page.after_id()? {
            0 => i64::MAX,
            id => id,
        };
        Ok((query, page.limit()?, before))
    }
}

/// One attempt to deliver a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attempt {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status (`null`: none came).
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    /// Why the attempt failed (`null`: delivered).
    pub error: Option<String>,
}

/// A message to one URL, with its attempts.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 40, "rule_id": 3, "event_id": 12, "test": false, "url": "https://ops.example.com/hooks/ivrhub", "message_id": "msg_2Kx9aQ0mZbT4r8LcVw1yPnEe", "status": "pending", "attempts": [{"attempt": 1, "at": "2026-12-01T08:07:01Z", "status_code": 500, "latency_ms": 84, "error": "the receiver answered 500"}], "next_attempt_at": "2026-12-01T08:07:06Z", "created_at": "2026-12-01T08:07:00Z", "finished_at": null}))]
pub struct Delivery {
    pub id: i64,
    pub rule_id: Option<i64>,
    /// `null` for a test message.
    pub event_id: Option<i64>,
    /// A test message (`POST /alerts/rules/{rule_id}/test`).
    pub test: bool,
    pub url: String,
    /// The `webhook-id` header: the same on every attempt.
    pub message_id: String,
    /// `pending` (retries left), `delivered`, `failed` (retries spent).
    pub status: store::DeliveryStatus,
    pub attempts: Vec<Attempt>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<(store::DeliveryRow, Vec<store::AttemptRow>)> for Delivery {
    fn from((row, attempts): (store::DeliveryRow, Vec<store::AttemptRow>)) -> Delivery {
        Delivery {
            id: row.delivery_id,
            rule_id: row.rule_id,
            event_id: row.event_id,
            test: row.event_id.is_none(),
            url: row.url,
            message_id: row.message_id,
            status: store::DeliveryStatus::parse(&row.status)
                .unwrap_or(store::DeliveryStatus::Pending),
            attempts: attempts
                .into_iter()
                .map(|a| Attempt {
                    attempt: a.attempt,
                    at: a.at,
                    status_code: a.status_code,
                    latency_ms: a.latency_ms,
                    error: a.error,
                })
                .collect(),
            next_attempt_at: row.next_attempt_at,
            created_at: row.created_at,
            finished_at: row.finished_at,
        }
    }
}

/// Filters of `/alerts/deliveries`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only this rule's deliveries.
    pub rule_id: Option<i64>,
    /// Only this event's deliveries.
    pub event_id: Option<i64>,
}

/// The webhook deliveries, newest first, each with its attempts.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(AlertTenantQuery, DeliveryQuery, PageQuery),
    responses(
        (status = 200, description = "A page of deliveries, newest first", body = Page<Delivery>),
        (status = 400, description = "A malformed filter", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[get("/alerts/deliveries")]
pub async fn list_deliveries(
    state: web::Data<ApiState>,
    scope: AlertScope,
    request: HttpRequest,
) -> Result<web::Json<Page<Delivery>>, ApiError> {
    let (query, limit, before) = AlertListQuery::read(&request)?;
    let rows = store::deliveries(
        &state.pool,
        scope.owner,
        query.rule_id,
        query.event_id,
        before,
        i64::from(limit) + 1,
    )
    .await?;
    Ok(web::Json(page(
        rows,
        limit,
        |(row, _)| row.delivery_id.to_string(),
        Delivery::from,
    )))
}

/// The signing secrets.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=", "previous": []}))]
pub struct Secrets {
    /// Signs every message (`whsec_` + base64 of the key).
    pub secret: String,
    /// After a rotation: the previous secret, which signs too (a second
    /// signature in `webhook-signature`) until it expires 24 hours later.
    pub previous: Vec<String>,
}

/// The secret that signs your alert webhooks (tenant admins).
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(AlertTenantQuery),
    responses(
        (status = 200, description = "The current secret, and the previous one while it still signs", body = Secrets),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Only tenant admins may read the secret", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[get("/alerts/secret")]
pub async fn get_secret(
    state: web::Data<ApiState>,
    scope: AlertScope,
) -> Result<web::Json<Secrets>, ApiError> {
    scope.require_admin()?;
    let mut secrets = store::signing_secrets(&state.pool, scope.owner).await?;
    let secret = secrets.remove(0);
    Ok(web::Json(Secrets {
        secret,
        previous: secrets,
    }))
}

/// Rotate the signing secret (tenant admins): a new one signs from now on;
/// the old one signs too for 24 hours, so receivers can switch.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(AlertTenantQuery),
    responses(
        (status = 200, description = "The new secret, and the old one while it still signs", body = Secrets),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Only tenant admins may rotate the secret", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[post("/alerts/secret/rotate")]
pub async fn rotate_secret(
    state: web::Data<ApiState>,
    scope: AlertScope,
) -> Result<web::Json<Secrets>, ApiError> {
    scope.require_admin()?;
    store::signing_secrets(&state.pool, scope.owner).await?;
    store::rotate_secret(&state.pool, scope.owner, 86_400.0, &scope.caller.actor()).await?;
    let mut secrets = store::signing_secrets(&state.pool, scope.owner).await?;
    let secret = secrets.remove(0);
    Ok(web::Json(Secrets {
        secret,
        previous: secrets,
    }))
}
