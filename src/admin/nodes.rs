//! `/nodes`: the nodes of a tenant's flow, by key. A node's JSON is exactly
//! `flow::model::Node` (what `GET` answers can be sent back by `PUT`). Every
//! write is validated against the whole flow (see `flow_validation`).

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{TenantQuery, TenantScope};
use super::flow_validation::{Draft, Issue, NodeBody, audit, path_text, text_cursor};
use super::pagination::{Page, PageQuery, page};
use super::state::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::flow::model::Node;
use crate::storage::flows::{self, NodeRow};

/// The answer of a node write.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeWritten {
    pub node: Node,
    /// The flow's issues after the write: warnings (e.g. a node no DID's
    /// entry leads to yet), and errors the flow already had before the
    /// write (a write may not add any).
    pub issues: Vec<Issue>,
}

fn parsed(row: NodeRow) -> Result<Node, ApiError> {
    let key = row.key.clone();
    row.into_node()
        .map_err(|error| ApiError::internal(format!("stored node {key:?} does not parse: {error}")))
}

/// List the tenant's nodes in key order.
#[utoipa::path(
    tag = "nodes",
    security(("bearer" = [])),
    params(TenantQuery, PageQuery),
    responses(
        (status = 200, description = "A page of nodes", body = Page<Node>),
        (status = 400, description = "Bad `limit`, `cursor` or `tenant_id`", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[get("/nodes")]
pub async fn list_nodes(
    state: web::Data<ApiState>,
    scope: TenantScope,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<Node>>, ApiError> {
    let limit = query.limit()?;
    let after = text_cursor(&query)?;
    let rows =
        flows::list_nodes(&state.pool, scope.tenant_id, &after, i64::from(limit) + 1).await?;
    let page = page(rows, limit, |row| row.key.clone(), |row| row);
    let items = page
        .items
        .into_iter()
        .map(parsed)
        .collect::<Result<_, _>>()?;
    Ok(web::Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// Read a node.
#[utoipa::path(
    tag = "nodes",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The node's key"), TenantQuery),
    responses(
        (status = 200, description = "The node", body = Node),
        (status = 400, description = "Malformed query parameter (e.g. `?tenant_id=`)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such node (or not yours)", body = ErrorBody),
    )
)]
#[get("/nodes/{key}")]
pub async fn get_node(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<String>,
) -> Result<web::Json<Node>, ApiError> {
    let row = flows::node(&state.pool, scope.tenant_id, &path_text(path)?)
        .await?
        .ok_or_else(|| ApiError::not_found("node"))?;
    Ok(web::Json(parsed(row)?))
}

/// Create a node (editors). Every node it names must exist already (create
/// the targets first, or several nodes at once with `POST /flow/changes`).
#[utoipa::path(
    tag = "nodes",
    security(("bearer" = [])),
    params(TenantQuery),
    request_body = Node,
    responses(
        (status = 201, description = "Created; `issues` lists the flow's warnings", body = NodeWritten),
        (status = 400, description = "Malformed node: unknown field, wrong type (`details` says where)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 409, description = "A node with this key exists", body = ErrorBody),
        (status = 422, description = "The flow would have errors (dangling target, rule loop, out-of-range field, missing recording...): every one in `details`; nothing was written", body = ErrorBody),
    )
)]
#[post("/nodes")]
pub async fn create_node(
    state: web::Data<ApiState>,
    scope: TenantScope,
    body: NodeBody,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let node = body.0;
    let mut tx = state.pool.begin().await?;
    let mut draft = Draft::open(&mut tx, scope.tenant_id).await?;
    if draft.flow.nodes.contains_key(&node.key)
        || flows::node(&mut *tx, scope.tenant_id, &node.key)
            .await?
            .is_some()
    {
        return Err(ApiError::conflict(format!(
            "a node {:?} exists: change it with PUT /nodes/{}",
            node.key, node.key
        )));
    }
    draft.flow.nodes.insert(node.key.clone(), node.clone());
    let issues = draft.check()?;
    flows::save_node(&mut tx, scope.tenant_id, &node).await?;
    audit(&mut tx, &scope, "node", &node.key, None, Some(&node)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(NodeWritten { node, issues }))
}

/// Create or replace a node (editors). The body is the whole node; its
/// `key` must be the key in the path (a node cannot be renamed: create the
/// new one and point its referrers at it). 201 when created, 200 when replaced.
#[utoipa::path(
    tag = "nodes",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The node's key"), TenantQuery),
    request_body = Node,
    responses(
        (status = 200, description = "Replaced", body = NodeWritten),
        (status = 201, description = "Created", body = NodeWritten),
        (status = 400, description = "Malformed node: unknown field, wrong type (`details` says where)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 422, description = "The key differs from the path's, or the flow would have errors: every one in `details`; nothing was written", body = ErrorBody),
    )
)]
#[put("/nodes/{key}")]
pub async fn put_node(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<String>,
    body: NodeBody,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let key = path_text(path)?;
    let node = body.0;
    if node.key != key {
        return Err(ApiError::validation(
            "the body's key differs from the path's",
            vec![crate::error::ErrorDetail {
                path: "key".into(),
                message: format!("must be {key:?}, the key in the path (nodes cannot be renamed)"),
            }],
        ));
    }
    let mut tx = state.pool.begin().await?;
    let mut draft = Draft::open(&mut tx, scope.tenant_id).await?;
    let before = draft.flow.nodes.insert(key.clone(), node.clone());
    let issues = draft.check()?;
    flows::save_node(&mut tx, scope.tenant_id, &node).await?;
    audit(&mut tx, &scope, "node", &key, before.as_ref(), Some(&node)).await?;
    tx.commit().await?;
    let written = NodeWritten { node, issues };
    Ok(match before {
        Some(_) => HttpResponse::Ok().json(written),
        None => HttpResponse::Created().json(written),
    })
}

/// Delete a node (editors). Refused while other nodes lead to it or DIDs
/// enter the flow there: the 409's `details` names every one of them.
#[utoipa::path(
    tag = "nodes",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The node's key"), TenantQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed query parameter (e.g. `?tenant_id=`)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such node (or not yours)", body = ErrorBody),
        (status = 409, description = "Still referenced: `details` lists the nodes (`nodes.<key>`) and DIDs (`dids.<number>.entry_node`)", body = ErrorBody,
         example = json!({"error": {"code": "conflict", "message": "node \"sales\" is still in use", "details": [
            {"path": "nodes.main", "message": "node \"main\" leads to \"sales\""},
            {"path": "dids.0733000000.entry_node", "message": "DID 0733000000 enters the flow at \"sales\""}
         ]}})),
    )
)]
#[delete("/nodes/{key}")]
pub async fn delete_node(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let key = path_text(path)?;
    let mut tx = state.pool.begin().await?;
    let mut draft = Draft::open(&mut tx, scope.tenant_id).await?;
    if !draft.flow.nodes.contains_key(&key)
        && flows::node(&mut *tx, scope.tenant_id, &key)
            .await?
            .is_none()
    {
        return Err(ApiError::not_found("node"));
    }
    let referrers = draft.node_referrers(&key);
    if !referrers.is_empty() {
        return Err(ApiError::conflict_with(
            format!("node {key:?} is still in use"),
            referrers,
        ));
    }
    let before = draft.flow.nodes.remove(&key);
    draft.check()?;
    if !flows::delete_node(&mut *tx, scope.tenant_id, &key).await? {
        return Err(ApiError::not_found("node"));
    }
    audit::<Node>(&mut tx, &scope, "node", &key, before.as_ref(), None).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
