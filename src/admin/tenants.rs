//! `/tenants`: the platform's customers (platform admins; a tenant's own
//! users may read theirs).

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit_api::{Event, record};
use super::checks::Problems;
use super::extract::Caller;
use super::flow_validation::nullable;
use super::json::ApiJson;
use super::pagination::{Page, PageQuery, page};
use super::state::ApiState;
use crate::auth::Role;
use crate::error::{ApiError, ErrorBody};
use crate::maintenance::{MAX_CDR_RETENTION_MONTHS, MIN_CDR_RETENTION_MONTHS};
use crate::storage::audit::AuditAction;
use crate::storage::tenants::{self, NewTenant, TenantChanges, TenantRow};
use crate::voicenter::types::Language;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantView {
    pub tenant_id: i64,
    pub name: String,
    /// IANA time zone of schedules and reports.
    #[schema(example = "Asia/Jerusalem")]
    pub time_zone: String,
    /// Default LANGUAGE of answers.
    pub language: Language,
    /// `active`, or `disabled`: calls to its numbers are rejected (cause 21).
    #[schema(example = "active")]
    pub status: String,
    /// Whole months of call records (CDRs) kept before the current month;
    /// older ones are removed by the maintenance task (their days stay in
    /// the reports' daily roll-ups). `null`: kept for good (the default).
    #[schema(example = 24)]
    pub cdr_retention_months: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<TenantRow> for TenantView {
    fn from(row: TenantRow) -> TenantView {
        TenantView {
            tenant_id: row.tenant_id,
            name: row.name,
            time_zone: row.time_zone,
            language: Language::parse(&row.language).unwrap_or_default(),
            status: row.status,
            cdr_retention_months: row.cdr_retention_months,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    #[schema(example = "Acme Ltd", min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default = "default_time_zone")]
    #[schema(example = "Asia/Jerusalem")]
    pub time_zone: String,
    #[serde(default)]
    pub language: Language,
}

fn default_time_zone() -> String {
    "Asia/Jerusalem".into()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub language: Option<Language>,
    /// `active` or `disabled` (platform admins only).
    #[schema(example = "disabled")]
    pub status: Option<String>,
    /// Whole months of CDRs kept before the current month, from
    /// `MIN_CDR_RETENTION_MONTHS` (3: the reports compare a period with the
    /// one before it, and a day is rolled up only once closed) to 1200;
    /// `null`: for good. Shortening it removes the older CDRs at the next
    /// maintenance pass, for good.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, example = 24)]
    pub cdr_retention_months: Option<Option<i64>>,
}

fn check_name_and_zone(name: Option<&str>, time_zone: Option<&str>) -> Problems {
    let mut problems = Problems::default();
    if let Some(name) = name {
        problems.length("name", name.trim(), 1, 200);
    }
    if let Some(zone) = time_zone {
        problems.time_zone("time_zone", zone);
    }
    problems
}

/// List tenants (platform admins).
#[utoipa::path(
    tag = "tenants",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of tenants", body = Page<TenantView>),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not a platform admin", body = ErrorBody),
    )
)]
#[get("/tenants")]
pub async fn list_tenants(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<TenantView>>, ApiError> {
    caller.require_platform_admin()?;
    let limit = query.limit()?;
    let rows = tenants::list_tenants(&state.pool, query.after_id()?, i64::from(limit) + 1).await?;
    Ok(web::Json(page(
        rows,
        limit,
        |row| row.tenant_id.to_string(),
        TenantView::from,
    )))
}

/// Create a tenant (platform admins).
#[utoipa::path(
    tag = "tenants",
    security(("bearer" = [])),
    request_body = CreateTenant,
    responses(
        (status = 201, description = "Created", body = TenantView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 403, description = "Not a platform admin", body = ErrorBody),
        (status = 409, description = "A tenant with this name exists", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
#[post("/tenants")]
pub async fn create_tenant(
    state: web::Data<ApiState>,
    caller: Caller,
    body: ApiJson<CreateTenant>,
) -> Result<HttpResponse, ApiError> {
    caller.require_platform_admin()?;
    let CreateTenant {
        name,
        time_zone,
        language,
    } = body.0;
    check_name_and_zone(Some(&name), Some(&time_zone)).finish("the tenant")?;
    let mut tx = state.pool.begin().await?;
    let row = tenants::insert_tenant(
        &mut tx,
        &NewTenant {
            name: name.trim(),
            time_zone: &time_zone,
            language,
        },
    )
    .await
    .map_err(|e| conflict_on_name(e, name.trim()))?;
    let view = TenantView::from(row);
    audit_tenant(&mut tx, &caller, AuditAction::Create, None, Some(&view)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(view))
}

/// Read a tenant (platform admins; a tenant's users: their own).
#[utoipa::path(
    tag = "tenants",
    security(("bearer" = [])),
    params(("tenant_id" = i64, Path)),
    responses(
        (status = 200, description = "The tenant", body = TenantView),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[get("/tenants/{tenant_id}")]
pub async fn get_tenant(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<TenantView>, ApiError> {
    let tenant_id = visible_tenant(&caller, path.into_inner())?;
    let row = tenants::tenant(&state.pool, tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    Ok(web::Json(row.into()))
}

/// Change a tenant. Platform admins may change everything; a tenant admin
/// may change its own tenant's name, time zone and language.
#[utoipa::path(
    tag = "tenants",
    security(("bearer" = [])),
    params(("tenant_id" = i64, Path)),
    request_body = UpdateTenant,
    responses(
        (status = 200, description = "Changed", body = TenantView),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 409, description = "Another tenant has this name", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
#[patch("/tenants/{tenant_id}")]
pub async fn update_tenant(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<i64>,
    body: ApiJson<UpdateTenant>,
) -> Result<web::Json<TenantView>, ApiError> {
    let tenant_id = visible_tenant(&caller, path.into_inner())?;
    let UpdateTenant {
        name,
        time_zone,
        language,
        status,
        cdr_retention_months,
    } = body.0;
    if !caller.role.can_administer_tenant() {
        return Err(ApiError::forbidden("only admins may change a tenant"));
    }
    if status.is_some() && caller.role != Role::PlatformAdmin {
        return Err(ApiError::forbidden(
            "only platform admins may enable or disable a tenant",
        ));
    }
    let mut problems = check_name_and_zone(name.as_deref(), time_zone.as_deref());
    let active = match status.as_deref() {
        None => None,
        Some("active") => Some(true),
        Some("disabled") => Some(false),
        Some(_) => {
            problems.add("status", "must be `active` or `disabled`");
            None
        }
    };
    let retention = cdr_retention_months.map(|months| {
        months.and_then(|months| {
            let allowed = i64::from(MIN_CDR_RETENTION_MONTHS)..=i64::from(MAX_CDR_RETENTION_MONTHS);
            if allowed.contains(&months) {
                i32::try_from(months).ok()
            } else {
                problems.add(
                    "cdr_retention_months",
                    format!(
                        "must be from {MIN_CDR_RETENTION_MONTHS} to {MAX_CDR_RETENTION_MONTHS} whole months, or null to keep CDRs for good"
                    ),
                );
                None
            }
        })
    });
    problems.finish("the tenant")?;
    let mut tx = state.pool.begin().await?;
    let before = tenants::tenant(&state.pool, tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let changes = TenantChanges {
        name: name.as_deref().map(str::trim),
        time_zone: time_zone.as_deref(),
        language,
        active,
        cdr_retention_months: retention,
    };
    let row = tenants::update_tenant(&mut tx, tenant_id, &changes)
        .await
        .map_err(|e| conflict_on_name(e, name.as_deref().unwrap_or_default()))?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let view = TenantView::from(row);
    audit_tenant(
        &mut tx,
        &caller,
        AuditAction::Update,
        Some(&TenantView::from(before)),
        Some(&view),
    )
    .await?;
    tx.commit().await?;
    Ok(web::Json(view))
}

/// Delete a tenant with its flows, numbers and users (platform admins).
/// A tenant that has call records cannot be deleted: disable it instead.
#[utoipa::path(
    tag = "tenants",
    security(("bearer" = [])),
    params(("tenant_id" = i64, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not a platform admin", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 409, description = "The tenant has call records", body = ErrorBody),
    )
)]
#[delete("/tenants/{tenant_id}")]
pub async fn delete_tenant(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require_platform_admin()?;
    let tenant_id = path.into_inner();
    let mut tx = state.pool.begin().await?;
    let row =
        tenants::delete_tenant(&mut tx, tenant_id)
            .await
            .map_err(|error| match ApiError::from(error) {
                conflict if conflict.code() == "conflict" => ApiError::conflict(
                    "the tenant has call records, which are kept for ever; disable it instead",
                ),
                other => other,
            })?;
    let row = row.ok_or_else(|| ApiError::not_found("tenant"))?;
    audit_tenant(
        &mut tx,
        &caller,
        AuditAction::Delete,
        Some(&TenantView::from(row)),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Platform admins see every tenant; anyone else only their own.
fn visible_tenant(caller: &Caller, tenant_id: i64) -> Result<i64, ApiError> {
    match caller.tenant_id {
        None => Ok(tenant_id),
        Some(own) if own == tenant_id => Ok(tenant_id),
        Some(_) => Err(ApiError::not_found("tenant")),
    }
}

fn conflict_on_name(error: sqlx::Error, name: &str) -> ApiError {
    match ApiError::from(error) {
        conflict if conflict.code() == "conflict" => {
            ApiError::conflict(format!("a tenant named {name:?} exists"))
        }
        other => other,
    }
}

async fn audit_tenant(
    conn: &mut sqlx::PgConnection,
    caller: &Caller,
    action: AuditAction,
    before: Option<&TenantView>,
    after: Option<&TenantView>,
) -> Result<(), ApiError> {
    let tenant_id = before.or(after).map(|t| t.tenant_id).unwrap_or_default();
    let object_id = tenant_id.to_string();
    let event = Event {
        action,
        object_type: "tenant",
        object_id: &object_id,
        before,
        after,
    };
    record(conn, caller, Some(tenant_id), event).await
}
