//! `/dids`: the phone numbers. Platform admins give numbers to tenants and
//! take them back, and see every number; a tenant's users see theirs, and its
//! editors point them at an entry node and choose their language.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit_api::{Event, record};
use super::checks::Problems;
use super::extract::{Caller, TenantQuery};
use super::flow_validation::{
    IfMatch, IfMatchHeader, nullable, path_text, text_cursor, with_revision,
};
use super::json::ApiJson;
use super::pagination::{Page, PageQuery, page};
use super::state::ApiState;
use crate::auth::Role;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::flow::FlowIssue;
use crate::flow::model::EntryPoint;
use crate::flow_service::{Change, Edit};
use crate::storage::audit::AuditAction;
use crate::storage::tenants::{self, DidRow};
use crate::voicenter::types::Language;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DidView {
    /// The number, as Voicenter sends it in `DID`.
    #[schema(example = "0733000000")]
    pub did: String,
    pub tenant_id: i64,
    /// Where calls to the number enter the tenant's *draft* (callers hear
    /// the live version's entry: `GET /flow/versions/{n}`); absent: nowhere
    /// yet (callers get the safe answer, a polite hang-up).
    #[schema(example = "entry")]
    pub entry_node: Option<String>,
    /// LANGUAGE of its calls; absent: the tenant's.
    pub language: Option<Language>,
    pub created_at: DateTime<Utc>,
}

impl From<DidRow> for DidView {
    fn from(row: DidRow) -> DidView {
        DidView {
            did: row.did,
            tenant_id: row.tenant_id,
            entry_node: row.entry_node,
            language: row.language.as_deref().and_then(Language::parse),
            created_at: row.created_at,
        }
    }
}

/// The answer of a DID write.
#[derive(Debug, Serialize, ToSchema)]
pub struct DidWritten {
    /// The number, with its entry point in the tenant's draft.
    pub did: DidView,
    /// The draft's issues with this entry: warnings (e.g. nodes no DID's
    /// entry leads to), and errors the draft already had.
    pub issues: Vec<FlowIssue>,
    /// The draft's revision after the write (also the `ETag`).
    pub draft_revision: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignDid {
    /// 1 to 32 of `0-9 + * #`.
    #[schema(example = "0733000000", pattern = "^[0-9+*#]{1,32}$")]
    pub did: String,
    /// The tenant that gets the number (this body is the one place where a
    /// platform admin names a tenant outside `?tenant_id=`).
    pub tenant_id: i64,
    /// An existing node of that tenant's draft; leave out to set it later.
    /// Callers hear it once the tenant publishes.
    #[schema(example = "entry")]
    pub entry_node: Option<String>,
    pub language: Option<Language>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDid {
    /// An existing node of the tenant; `null`: no entry (calls get the safe answer).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, example = "entry")]
    pub entry_node: Option<Option<String>>,
    /// `null`: the tenant's language.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Language>)]
    pub language: Option<Option<Language>>,
}

/// Whose numbers the caller may see: `None` all (platform admins without
/// `?tenant_id=`), else one tenant's. A tenant's user naming another tenant
/// gets 404, as everywhere.
fn owner_filter(caller: &Caller, asked: Option<i64>) -> Result<Option<i64>, ApiError> {
    match (caller.tenant_id, asked) {
        (None, asked) => Ok(asked),
        (Some(own), None) => Ok(Some(own)),
        (Some(own), Some(asked)) if own == asked => Ok(Some(own)),
        (Some(_), Some(_)) => Err(ApiError::not_found("tenant")),
    }
}

/// The number if the caller may see it (404 otherwise).
async fn visible_did(
    conn: &mut sqlx::PgConnection,
    caller: &Caller,
    asked: Option<i64>,
    did: &str,
) -> Result<DidRow, ApiError> {
    let owner = owner_filter(caller, asked)?;
    tenants::directory_did(conn, did)
        .await?
        .filter(|row| owner.is_none_or(|owner| owner == row.tenant_id))
        .ok_or_else(|| ApiError::not_found("DID"))
}

fn check_did(problems: &mut Problems, did: &str) {
    let well_formed = (1..=32).contains(&did.len())
        && did
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+*#".contains(&b));
    if !well_formed {
        problems.add("did", "must be 1 to 32 of 0-9 + * #");
    }
}

async fn audit_did(
    conn: &mut sqlx::PgConnection,
    caller: &Caller,
    action: AuditAction,
    before: Option<&DidView>,
    after: Option<&DidView>,
) -> Result<(), ApiError> {
    let Some(any) = before.or(after) else {
        return Ok(());
    };
    let (tenant_id, did) = (any.tenant_id, any.did.clone());
    let event = Event {
        action,
        object_type: "did",
        object_id: &did,
        before,
        after,
    };
    record(conn, caller, Some(tenant_id), event).await
}

/// List numbers: platform admins see every number (or one tenant's with
/// `?tenant_id=`), everyone else their tenant's.
#[utoipa::path(
    tag = "dids",
    security(("bearer" = [])),
    params(
        ("tenant_id" = Option<i64>, Query, description = "Platform admins: only this tenant's numbers. Others: their own tenant (the default)."),
        PageQuery
    ),
    responses(
        (status = 200, description = "A page of numbers, in number order", body = Page<DidView>),
        (status = 400, description = "Bad `limit`, `cursor` or `tenant_id`", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[get("/dids")]
pub async fn list_dids(
    state: web::Data<ApiState>,
    caller: Caller,
    tenant: web::Query<TenantQuery>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<DidView>>, ApiError> {
    let owner = owner_filter(&caller, tenant.tenant_id)?;
    let limit = query.limit()?;
    let after = text_cursor(&query)?;
    let rows = tenants::list_directory(&state.pool, owner, &after, i64::from(limit) + 1).await?;
    Ok(web::Json(page(
        rows,
        limit,
        |row| row.did.clone(),
        DidView::from,
    )))
}

/// Give a number to a tenant (platform admins). Its entry point goes to the
/// tenant's draft: callers hear the number once the tenant publishes.
#[utoipa::path(
    tag = "dids",
    security(("bearer" = [])),
    request_body = AssignDid,
    responses(
        (status = 201, description = "Assigned", body = DidWritten),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not a platform admin", body = ErrorBody),
        (status = 409, description = "The number already belongs to a tenant", body = ErrorBody),
        (status = 422, description = "Bad number, no such tenant, or no such entry node in that tenant (`details` says which)", body = ErrorBody),
    )
)]
#[post("/dids")]
pub async fn assign_did(
    state: web::Data<ApiState>,
    caller: Caller,
    body: ApiJson<AssignDid>,
) -> Result<HttpResponse, ApiError> {
    caller.require_platform_admin()?;
    let AssignDid {
        did,
        tenant_id,
        entry_node,
        language,
    } = body.0;
    let mut problems = Problems::default();
    check_did(&mut problems, &did);
    problems.finish("the DID")?;
    if tenants::tenant(&state.pool, tenant_id).await?.is_none() {
        return Err(ApiError::validation(
            "no such tenant",
            vec![ErrorDetail {
                path: "tenant_id".into(),
                message: format!("no tenant {tenant_id}"),
            }],
        ));
    }
    let mut edit = Edit::begin(&state.pool, tenant_id, None).await?;
    if tenants::directory_did(edit.conn(), &did).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "{did} already belongs to a tenant: delete it first to move it"
        )));
    }
    edit.add_did(EntryPoint {
        did: did.clone(),
        entry_node: entry_node.clone(),
        language,
    })?;
    let row = tenants::insert_directory_did(
        edit.conn(),
        tenant_id,
        &did,
        entry_node.as_deref(),
        language,
    )
    .await
    .map_err(|error| match ApiError::from(error) {
        conflict if conflict.code() == "conflict" => {
            ApiError::conflict(format!("{did} already belongs to a tenant"))
        }
        other => other,
    })?;
    let view = DidView::from(row);
    audit_did(edit.conn(), &caller, AuditAction::Create, None, Some(&view)).await?;
    let edited = edit.commit(&caller.actor()).await?;
    let written = DidWritten {
        did: view,
        issues: edited.issues,
        draft_revision: edited.revision,
    };
    Ok(with_revision(
        HttpResponse::Created(),
        edited.revision,
        &written,
    ))
}

/// Read a number (platform admins: any; others: their tenant's).
#[utoipa::path(
    tag = "dids",
    security(("bearer" = [])),
    params(("did" = String, Path, description = "The number"), TenantQuery),
    responses(
        (status = 200, description = "The number", body = DidView),
        (status = 400, description = "Malformed query parameter (e.g. `?tenant_id=`)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such number (or not yours)", body = ErrorBody),
    )
)]
#[get("/dids/{did}")]
pub async fn get_did(
    state: web::Data<ApiState>,
    caller: Caller,
    tenant: web::Query<TenantQuery>,
    path: web::Path<String>,
) -> Result<web::Json<DidView>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let row = visible_did(&mut conn, &caller, tenant.tenant_id, &path_text(path)?).await?;
    Ok(web::Json(row.into()))
}

/// Point a number at an entry node, or change its language (editors of its
/// tenant, platform admins), in the tenant's draft: callers hear it once
/// the draft is published. The entry node must exist in the draft.
#[utoipa::path(
    tag = "dids",
    security(("bearer" = [])),
    params(("did" = String, Path, description = "The number"), TenantQuery, IfMatchHeader),
    request_body = UpdateDid,
    responses(
        (status = 200, description = "Changed", body = DidWritten),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such number (or not yours)", body = ErrorBody),
        (status = 409, description = "The draft changed since `If-Match` (`stale_revision`)", body = ErrorBody),
        (status = 422, description = "No such entry node in the draft (`details`: `entry_node`)", body = ErrorBody),
    )
)]
#[patch("/dids/{did}")]
pub async fn update_did(
    state: web::Data<ApiState>,
    caller: Caller,
    tenant: web::Query<TenantQuery>,
    if_match: IfMatch,
    path: web::Path<String>,
    body: ApiJson<UpdateDid>,
) -> Result<HttpResponse, ApiError> {
    if !caller.role.can_edit_flows() {
        return Err(ApiError::forbidden("viewers may not change flows"));
    }
    let UpdateDid {
        entry_node,
        language,
    } = body.0;
    let mut conn = state.pool.acquire().await?;
    let found = visible_did(&mut conn, &caller, tenant.tenant_id, &path_text(path)?).await?;
    drop(conn);
    let change = Change::SetEntry {
        did: found.did.clone(),
        entry_node,
        language,
        at: String::new(),
    };
    let mut edit = Edit::begin(&state.pool, found.tenant_id, if_match.0).await?;
    edit.apply(vec![change])?;
    let edited = edit.commit(&caller.actor()).await?;
    let entry = edited.draft.entries.get(&found.did);
    let view = DidView {
        entry_node: entry.and_then(|e| e.entry_node.clone()),
        language: entry.and_then(|e| e.language),
        ..DidView::from(found)
    };
    let written = DidWritten {
        did: view,
        issues: edited.issues,
        draft_revision: edited.revision,
    };
    Ok(with_revision(HttpResponse::Ok(), edited.revision, &written))
}

/// Take a number away from its tenant (platform admins). Its call records stay.
#[utoipa::path(
    tag = "dids",
    security(("bearer" = [])),
    params(("did" = String, Path, description = "The number")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed query parameter (e.g. `?tenant_id=`)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not a platform admin", body = ErrorBody),
        (status = 404, description = "No such number", body = ErrorBody),
    )
)]
#[delete("/dids/{did}")]
pub async fn delete_did(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if caller.role != Role::PlatformAdmin {
        return Err(ApiError::forbidden(
            "only platform admins may take numbers away",
        ));
    }
    let did = path_text(path)?;
    let owner = tenants::directory_did(&state.pool, &did)
        .await?
        .ok_or_else(|| ApiError::not_found("DID"))?;
    // Under the owner's flow lock: its draft loses an entry point.
    let mut edit = Edit::begin(&state.pool, owner.tenant_id, None).await?;
    let row = tenants::delete_directory_did(edit.conn(), &did)
        .await?
        .filter(|row| row.tenant_id == owner.tenant_id)
        .ok_or_else(|| ApiError::conflict(format!("{did} moved meanwhile; try again")))?;
    edit.forget_did(&did);
    let before = DidView::from(row);
    audit_did(
        edit.conn(),
        &caller,
        AuditAction::Delete,
        Some(&before),
        None,
    )
    .await?;
    edit.commit(&caller.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}
