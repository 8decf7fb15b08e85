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
use super::flow_validation::{Draft, Issue, nullable, path_text, text_cursor};
use super::json::ApiJson;
use super::pagination::{Page, PageQuery, page};
use super::state::ApiState;
use crate::auth::Role;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::flow::model::DidEntry;
use crate::storage::tenants::{self, DidRow};
use crate::voicenter::types::Language;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DidView {
    /// The number, as Voicenter sends it in `DID`.
    #[schema(example = "0733000000")]
    pub did: String,
    pub tenant_id: i64,
    /// Where calls to the number enter the tenant's flow; absent: nowhere
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
    pub did: DidView,
    /// The tenant's flow issues with this entry: warnings (e.g. nodes no
    /// DID's entry leads to), and errors the flow already had.
    pub issues: Vec<Issue>,
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
    /// An existing node of that tenant; leave out to set it later.
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

/// The DID entries of the draft with `did`'s entry replaced (or added).
fn set_entry(
    draft: &mut Draft,
    row: &DidRow,
    entry_node: Option<&str>,
    language: Option<Language>,
) {
    let entry = DidEntry {
        tenant_id: row.tenant_id,
        entry_node: entry_node.unwrap_or_default().to_owned(),
        language,
    };
    match draft.dids.iter_mut().find(|(did, _)| *did == row.did) {
        Some((_, existing)) => *existing = entry,
        None => draft.dids.push((row.did.clone(), entry)),
    }
}

fn missing_entry(key: &str) -> ApiError {
    ApiError::validation(
        "the entry node does not exist",
        vec![ErrorDetail {
            path: "entry_node".into(),
            message: format!("no node {key:?} in the tenant's flow"),
        }],
    )
}

async fn audit_did(
    conn: &mut sqlx::PgConnection,
    caller: &Caller,
    action: &'static str,
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

/// Give a number to a tenant (platform admins).
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
    let mut tx = state.pool.begin().await?;
    if tenants::directory_did(&mut *tx, &did).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "{did} already belongs to a tenant: delete it first to move it"
        )));
    }
    let mut draft = Draft::open(&mut tx, tenant_id).await?;
    if let Some(key) = &entry_node
        && !draft.flow.nodes.contains_key(key)
    {
        return Err(missing_entry(key));
    }
    let row =
        tenants::insert_directory_did(&mut tx, tenant_id, &did, entry_node.as_deref(), language)
            .await
            .map_err(|error| match ApiError::from(error) {
                conflict if conflict.code() == "conflict" => {
                    ApiError::conflict(format!("{did} already belongs to a tenant"))
                }
                other => other,
            })?;
    set_entry(&mut draft, &row, entry_node.as_deref(), language);
    let issues = draft.check()?;
    let view = DidView::from(row);
    audit_did(&mut tx, &caller, "create", None, Some(&view)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(DidWritten { did: view, issues }))
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
/// tenant, platform admins). The entry node must exist.
#[utoipa::path(
    tag = "dids",
    security(("bearer" = [])),
    params(("did" = String, Path, description = "The number"), TenantQuery),
    request_body = UpdateDid,
    responses(
        (status = 200, description = "Changed", body = DidWritten),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such number (or not yours)", body = ErrorBody),
        (status = 422, description = "No such entry node (`details`: `entry_node`)", body = ErrorBody),
    )
)]
#[patch("/dids/{did}")]
pub async fn update_did(
    state: web::Data<ApiState>,
    caller: Caller,
    tenant: web::Query<TenantQuery>,
    path: web::Path<String>,
    body: ApiJson<UpdateDid>,
) -> Result<web::Json<DidWritten>, ApiError> {
    if !caller.role.can_edit_flows() {
        return Err(ApiError::forbidden("viewers may not change flows"));
    }
    let UpdateDid {
        entry_node,
        language,
    } = body.0;
    let mut tx = state.pool.begin().await?;
    let found = visible_did(&mut tx, &caller, tenant.tenant_id, &path_text(path)?).await?;
    let mut draft = Draft::open(&mut tx, found.tenant_id).await?;
    // Again under the tenant's lock: it may have moved meanwhile.
    let before = tenants::tenant_did(&mut *tx, found.tenant_id, &found.did)
        .await?
        .ok_or_else(|| ApiError::not_found("DID"))?;
    if let Some(Some(key)) = &entry_node
        && !draft.flow.nodes.contains_key(key)
    {
        return Err(missing_entry(key));
    }
    let row = tenants::update_did(
        &mut tx,
        before.tenant_id,
        &before.did,
        entry_node.as_ref().map(Option::as_deref),
        language,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("DID"))?;
    let language = row.language.as_deref().and_then(Language::parse);
    set_entry(
        &mut draft,
        &row,
        row.entry_node.clone().as_deref(),
        language,
    );
    let issues = draft.check()?;
    let (before, after) = (DidView::from(before), DidView::from(row));
    audit_did(&mut tx, &caller, "update", Some(&before), Some(&after)).await?;
    tx.commit().await?;
    Ok(web::Json(DidWritten { did: after, issues }))
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
    let mut tx = state.pool.begin().await?;
    let row = tenants::delete_directory_did(&mut tx, &path_text(path)?)
        .await?
        .ok_or_else(|| ApiError::not_found("DID"))?;
    let before = DidView::from(row);
    audit_did(&mut tx, &caller, "delete", Some(&before), None).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
