//! `/nodes`: the nodes of a tenant's flow, by key. A node's JSON is exactly
//! `flow::model::Node` (what `GET` answers can be sent back by `PUT`).
//! Writes go to the draft through `flow_service` (validated against the
//! whole draft); reads show the draft, or with `?flow=` the live flow or a
//! version.

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{TenantQuery, TenantScope};
use super::flow_api::FlowQuery;
use super::flow_validation::{
    IfMatch, IfMatchHeader, NodeBody, deleted, keyed_page, path_text, read_answer,
    replaced_or_created, same_key, with_revision, write_draft,
};
use super::pagination::{Page, PageQuery};
use super::state::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::flow::FlowIssue;
use crate::flow::model::Node;
use crate::flow_service::{self, Change};

/// The answer of a node write.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeWritten {
    pub node: Node,
    /// The draft's issues after the write: warnings (e.g. a node no DID's
    /// entry leads to yet), and errors the draft already had before the
    /// write (a write may not add any).
    pub issues: Vec<FlowIssue>,
    /// The draft's revision after the write (also the `ETag`).
    pub draft_revision: i64,
}

/// List the tenant's nodes in key order.
#[utoipa::path(
    tag = "nodes",
    security(("bearer" = [])),
    params(TenantQuery, FlowQuery, PageQuery),
    responses(
        (status = 200, description = "A page of nodes", body = Page<Node>),
        (status = 400, description = "Bad `limit`, `cursor`, `flow` or `tenant_id`", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such tenant or version (or not yours)", body = ErrorBody),
    )
)]
#[get("/nodes")]
pub async fn list_nodes(
    state: web::Data<ApiState>,
    scope: TenantScope,
    flow: FlowQuery,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (content, revision) =
        flow_service::read_with_revision(&state.pool, scope.tenant_id, flow.0).await?;
    let page = keyed_page(content.nodes, &query)?;
    Ok(read_answer(flow.0, revision, &page))
}

/// Read a node.
#[utoipa::path(
    tag = "nodes",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The node's key"), TenantQuery, FlowQuery),
    responses(
        (status = 200, description = "The node", body = Node),
        (status = 400, description = "Malformed query parameter (`flow`, `tenant_id`)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such node or version (or not yours)", body = ErrorBody),
    )
)]
#[get("/nodes/{key}")]
pub async fn get_node(
    state: web::Data<ApiState>,
    scope: TenantScope,
    flow: FlowQuery,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = path_text(path)?;
    let (mut content, revision) =
        flow_service::read_with_revision(&state.pool, scope.tenant_id, flow.0).await?;
    let node = content
        .nodes
        .remove(&key)
        .ok_or_else(|| ApiError::not_found("node"))?;
    Ok(read_answer(flow.0, revision, &node))
}

/// Create a node (editors). Every node it names must exist already (create
/// the targets first, or several nodes at once with `POST /flow/changes`).
#[utoipa::path(
    tag = "nodes",
    security(("bearer" = [])),
    params(TenantQuery, IfMatchHeader),
    request_body = Node,
    responses(
        (status = 201, description = "Created; `issues` lists the flow's warnings", body = NodeWritten),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 409, description = "A node with this key exists (`conflict`), or the draft changed since `If-Match` (`stale_revision`)", body = ErrorBody),
        (status = 422, description = "A malformed node (unknown field, wrong type: `details` says where), or the flow would have errors (dangling target, rule loop, out-of-range field, missing recording...): every one in `details`; nothing was written", body = ErrorBody),
    )
)]
#[post("/nodes")]
pub async fn create_node(
    state: web::Data<ApiState>,
    scope: TenantScope,
    if_match: IfMatch,
    body: NodeBody,
) -> Result<HttpResponse, ApiError> {
    let node = body.0;
    let change = Change::CreateNode(node.clone());
    let edited = write_draft(&state, &scope, if_match, change).await?;
    Ok(answer(HttpResponse::Created(), node, edited))
}

fn answer(
    status: actix_web::HttpResponseBuilder,
    node: Node,
    edited: flow_service::Edited,
) -> HttpResponse {
    let written = NodeWritten {
        node,
        issues: edited.issues,
        draft_revision: edited.revision,
    };
    with_revision(status, edited.revision, &written)
}

/// Create or replace a node (editors). The body is the whole node; its
/// `key` must be the key in the path (a node cannot be renamed: create the
/// new one and point its referrers at it). 201 when created, 200 when replaced.
#[utoipa::path(
    tag = "nodes",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The node's key"), TenantQuery, IfMatchHeader),
    request_body = Node,
    responses(
        (status = 200, description = "Replaced", body = NodeWritten),
        (status = 201, description = "Created", body = NodeWritten),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 409, description = "The draft changed since `If-Match` (`stale_revision`)", body = ErrorBody),
        (status = 422, description = "A malformed node (unknown field, wrong type), the key differs from the path's, or the flow would have errors: every one in `details`; nothing was written", body = ErrorBody),
    )
)]
#[put("/nodes/{key}")]
pub async fn put_node(
    state: web::Data<ApiState>,
    scope: TenantScope,
    if_match: IfMatch,
    path: web::Path<String>,
    body: NodeBody,
) -> Result<HttpResponse, ApiError> {
    let key = path_text(path)?;
    let node = body.0;
    same_key("node", &node.key, &key)?;
    let change = Change::PutNode(node.clone());
    let edited = write_draft(&state, &scope, if_match, change).await?;
    let status = replaced_or_created(edited.before.nodes.contains_key(&key));
    Ok(answer(status, node, edited))
}

/// Delete a node (editors). Refused while other nodes lead to it or DIDs
/// enter the flow there: the 409's `details` names every one of them.
#[utoipa::path(
    tag = "nodes",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The node's key"), TenantQuery, IfMatchHeader),
    responses(
        (status = 204, description = "Deleted from the draft"),
        (status = 400, description = "Malformed query parameter (e.g. `?tenant_id=`)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such node (or not yours)", body = ErrorBody),
        (status = 409, description = "`stale_revision`: the draft changed since `If-Match`. `conflict`: still referenced: `details` lists the nodes (`nodes.<key>`) and DIDs (`dids.<number>.entry_node`)", body = ErrorBody,
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
    if_match: IfMatch,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = path_text(path)?;
    let change = Change::DeleteNode {
        key,
        at: String::new(),
    };
    let edited = write_draft(&state, &scope, if_match, change).await?;
    Ok(deleted(edited.revision))
}
