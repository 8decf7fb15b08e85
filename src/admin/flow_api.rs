//! The flow's lifecycle: its state (`GET /flow`), publishing the draft,
//! versions and their content, rollback, discarding the draft, and the
//! difference between any two of draft, live and a version. Every handler
//! parses, calls `flow_service`, and answers.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{TenantQuery, TenantScope};
use super::flow_validation::{IfMatch, IfMatchHeader, OptionalJson, with_revision};
use super::json::ApiJson;
use super::pagination::{Page, PageQuery, page};
use super::state::ApiState;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::flow::FlowIssue;
use crate::flow::content::ContentJson;
use crate::flow::diff::{Change, diff};
use crate::flow_service::{self, Selector};
use crate::storage::versions::{self, VersionRow};

/// `?flow=`: which flow a read shows: `draft` (the default), `live`, or a
/// version number.
pub struct FlowQuery(pub Selector);

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlowParam {
    /// `draft` (the default: what editors change), `live` (what callers
    /// hear), or a version number.
    #[param(example = "live")]
    pub flow: Option<String>,
}

impl utoipa::IntoParams for FlowQuery {
    fn into_params(
        parameter_in_provider: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        FlowParam::into_params(parameter_in_provider)
    }
}

impl FromRequest for FlowQuery {
    type Error = ApiError;
    type Future = std::future::Ready<Result<FlowQuery, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = web::Query::<FlowParam>::from_query(request.query_string())
            .map_err(|error| ApiError::bad_field("flow", error.to_string()))
            .and_then(|query| match &query.flow {
                None => Ok(FlowQuery(Selector::Draft)),
                Some(text) => Selector::parse("flow", text).map(FlowQuery),
            });
        std::future::ready(parsed)
    }
}

/// Who made a version.
#[derive(Debug, Serialize, ToSchema)]
pub struct Author {
    /// `null` for versions made by ivrhub itself (the upgrade that brought
    /// versions, the demo).
    pub user_id: Option<i64>,
    pub email: String,
}

/// A published version (its content: `GET /flow/versions/{n}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    #[schema(example = 8)]
    pub version: i32,
    /// SHA-256 of the version's canonical content.
    pub sha256: String,
    /// The version that was live when this one was made.
    pub parent: Option<i32>,
    /// A rollback: the version whose content this one made live again.
    pub restores: Option<i32>,
    #[schema(example = "Sales line open on Fridays")]
    pub message: String,
    pub author: Author,
    /// When it was made, which is when it went live.
    pub created_at: DateTime<Utc>,
    /// Is it what callers hear now (new calls; calls in progress stay on
    /// the version they started on)?
    pub live: bool,
}

impl VersionView {
    fn new(row: VersionRow, live: Option<i32>) -> VersionView {
        VersionView {
            live: Some(row.version) == live,
            version: row.version,
            sha256: row.sha256,
            parent: row.parent,
            restores: row.restores,
            message: row.message,
            author: Author {
                user_id: row.author_id,
                email: row.author_email,
            },
            created_at: row.created_at,
        }
    }
}

/// `GET /flow`: where the tenant's flow stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowStateView {
    /// Counts the draft's writes; send it as `If-Match` with a write, and as
    /// `draft_revision` to publish.
    pub draft_revision: i64,
    /// What callers hear; `null`: nothing published yet (calls get the safe answer).
    pub live: Option<VersionView>,
    /// Does the draft differ from the live version (is there anything to publish)?
    pub draft_differs_from_live: bool,
    /// The draft has no error: it can be published.
    pub draft_valid: bool,
    /// The draft's issues: errors block publishing, warnings do not.
    pub draft_issues: Vec<FlowIssue>,
    /// The draft's goodbye: played by every hang-up the flow did not design
    /// itself (retries used up with no `on_exhausted`, a node deleted while
    /// a call was in it, a broken flow) and by hangup nodes with no `rec`,
    /// in the call's language; absent: the platform's (not for hangup
    /// nodes, which then say nothing), else silence. Set it
    /// with `goodbye` in `/flow/changes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goodbye: Option<crate::flow::model::Rec>,
}

/// Where the tenant's flow stands: the draft's revision and issues, the
/// live version. Every role.
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(TenantQuery),
    responses(
        (status = 200, description = "The flow's state; `ETag` is the draft revision", body = FlowStateView),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[get("/flow")]
pub async fn flow_state(
    state: web::Data<ApiState>,
    scope: TenantScope,
) -> Result<HttpResponse, ApiError> {
    let flow = flow_service::state(&state.pool, scope.tenant_id).await?;
    let live_number = flow.live.as_ref().map(|live| live.version);
    let view = FlowStateView {
        draft_revision: flow.draft_revision,
        live: flow.live.map(|row| VersionView::new(row, live_number)),
        draft_differs_from_live: flow.draft_differs,
        draft_valid: !flow.issues.iter().any(FlowIssue::is_error),
        draft_issues: flow.issues,
        goodbye: flow.goodbye,
    };
    Ok(with_revision(
        HttpResponse::Ok(),
        view.draft_revision,
        &view,
    ))
}

/// The longest version message, in characters.
pub const MAX_MESSAGE: usize = 1000;

fn check_message(message: &str) -> Result<(), ApiError> {
    let problem = if message.trim().is_empty() {
        "say what changed and why: the history shows it".to_owned()
    } else if message.chars().count() > MAX_MESSAGE {
        format!("longer than {MAX_MESSAGE} characters")
    } else if message.contains('\0') {
        "must not contain NUL characters".to_owned()
    } else {
        return Ok(());
    };
    Err(ApiError::validation(
        "bad message",
        vec![ErrorDetail {
            path: "message".into(),
            message: problem,
        }],
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// What changed and why, for the history (1 to 1000 characters).
    #[schema(
        example = "Sales line open on Fridays",
        min_length = 1,
        max_length = 1000
    )]
    pub message: String,
    /// The draft revision you reviewed (`GET /flow`): if the draft changed
    /// since, nothing is published (409 `stale_revision`).
    #[schema(example = 14)]
    pub draft_revision: i64,
    /// Publish even if flow tests fail on the draft (audited, with their
    /// names). Default `false`: a failing test refuses the publish (422
    /// `tests_failed`).
    #[serde(default)]
    pub force: bool,
}

/// Publish the draft (editors, tenant admins): it becomes the next version,
/// live on every server within milliseconds; calls already in progress
/// finish on the version they started on.
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(TenantQuery),
    request_body = PublishRequest,
    responses(
        (status = 201, description = "Published: the new live version", body = VersionView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not publish", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 409, description = "`stale_revision`: the draft changed since `draft_revision`; `nothing_to_publish`: the draft is exactly the live version. Nothing was published.", body = ErrorBody),
        (status = 422, description = "`validation_failed`: the draft has errors, every one in `details` (warnings do not block), or the message is empty or too long. `tests_failed`: flow tests fail on the draft (`details` per test, `failed_tests` with each one's transcript); publish with `force` to go ahead anyway. Nothing was published.", body = ErrorBody),
    )
)]
#[post("/flow/publish")]
pub async fn publish(
    state: web::Data<ApiState>,
    scope: TenantScope,
    body: ApiJson<PublishRequest>,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let body = body.0;
    check_message(&body.message)?;
    let actor = scope.caller.actor();
    let request = flow_service::Publish {
        draft_revision: body.draft_revision,
        message: &body.message,
        force: body.force,
    };
    let row =
        flow_service::publish(&state.pool, scope.tenant_id, &actor, request, &state.safe).await?;
    let live = Some(row.version);
    Ok(HttpResponse::Created().json(VersionView::new(row, live)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The version whose content becomes live again.
    #[schema(example = 7)]
    pub version: u32,
    /// Why, for the history (1 to 1000 characters).
    #[schema(
        example = "Back to the Thursday menu: callers got lost",
        min_length = 1,
        max_length = 1000
    )]
    pub message: String,
}

/// Make an older version's content live again (editors, tenant admins). It
/// is recorded as a new version that `restores` the old one, so the history
/// stays a straight line and the live version is always the newest. The
/// draft is left alone.
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(TenantQuery),
    request_body = RollbackRequest,
    responses(
        (status = 201, description = "Rolled back: the new live version", body = VersionView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not roll back", body = ErrorBody),
        (status = 404, description = "No such version (or not yours)", body = ErrorBody),
        (status = 409, description = "`nothing_to_publish`: that content is what is live", body = ErrorBody),
        (status = 422, description = "That version has errors today (e.g. a recording it plays was deleted since); or the message is too long", body = ErrorBody),
    )
)]
#[post("/flow/rollback")]
pub async fn rollback(
    state: web::Data<ApiState>,
    scope: TenantScope,
    body: ApiJson<RollbackRequest>,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let body = body.0;
    check_message(&body.message)?;
    let actor = scope.caller.actor();
    let row = flow_service::rollback(
        &state.pool,
        scope.tenant_id,
        &actor,
        body.version,
        &body.message,
    )
    .await?;
    let live = Some(row.version);
    Ok(HttpResponse::Created().json(VersionView::new(row, live)))
}

/// The answer of a discard.
#[derive(Debug, Serialize, ToSchema)]
pub struct Discarded {
    pub draft_revision: i64,
    pub draft_issues: Vec<FlowIssue>,
}

/// Throw the draft's changes away: the draft becomes the live version's
/// content again (editors, tenant admins). Entry points are kept for the
/// numbers the tenant owns now.
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(TenantQuery, IfMatchHeader),
    responses(
        (status = 200, description = "The draft is the live content again; `ETag` is its revision", body = Discarded),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such tenant, or nothing published yet", body = ErrorBody),
        (status = 409, description = "`stale_revision`: the draft changed since `If-Match`", body = ErrorBody),
    )
)]
#[post("/flow/draft/discard")]
pub async fn discard(
    state: web::Data<ApiState>,
    scope: TenantScope,
    if_match: IfMatch,
    _no_body: OptionalJson<Option<NoFields>>,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let actor = scope.caller.actor();
    let edited = flow_service::discard(&state.pool, scope.tenant_id, if_match.0, &actor).await?;
    let body = Discarded {
        draft_revision: edited.revision,
        draft_issues: edited.issues,
    };
    Ok(with_revision(HttpResponse::Ok(), edited.revision, &body))
}

/// A body with no field (`{}`), or no body at all.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// The tenant's versions, newest first (every role).
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(TenantQuery, PageQuery),
    responses(
        (status = 200, description = "A page of versions, newest first", body = Page<VersionView>),
        (status = 400, description = "Bad `limit` or `cursor`", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[get("/flow/versions")]
pub async fn list_versions(
    state: web::Data<ApiState>,
    scope: TenantScope,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<VersionView>>, ApiError> {
    let limit = query.limit()?;
    let before = match query.after()? {
        None => None,
        Some(text) => Some(
            text.parse::<i32>()
                .map_err(|_| ApiError::bad_field("cursor", "not a cursor this API gave out"))?,
        ),
    };
    let live = versions::live(&state.pool, scope.tenant_id)
        .await?
        .map(|row| row.version);
    let rows = versions::list(&state.pool, scope.tenant_id, before, i64::from(limit) + 1).await?;
    Ok(web::Json(page(
        rows,
        limit,
        |row| row.version.to_string(),
        |row| VersionView::new(row, live),
    )))
}

/// A version and its whole content.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub version: VersionView,
    /// Its nodes, schedules and entry points, in the shapes of `/nodes`,
    /// `/schedules` and `/dids`.
    pub content: ContentJson,
}

/// One version with its whole content (every role).
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(("version" = u32, Path, description = "The version number"), TenantQuery),
    responses(
        (status = 200, description = "The version", body = VersionDetail),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such version (or not yours)", body = ErrorBody),
    )
)]
#[get("/flow/versions/{version}")]
pub async fn get_version(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<u32>,
) -> Result<web::Json<VersionDetail>, ApiError> {
    let number = i32::try_from(path.into_inner()).map_err(|_| ApiError::not_found("version"))?;
    let row = versions::version(&state.pool, scope.tenant_id, number)
        .await?
        .ok_or_else(|| ApiError::not_found("version"))?;
    let content = flow_service::read(
        &state.pool,
        scope.tenant_id,
        Selector::Version(number as u32),
    )
    .await?;
    let live = versions::live(&state.pool, scope.tenant_id)
        .await?
        .map(|row| row.version);
    Ok(web::Json(VersionDetail {
        version: VersionView::new(row, live),
        content: content.into(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// `draft`, `live` (the default) or a version number.
    #[param(example = "live")]
    pub from: Option<String>,
    /// `draft` (the default), `live` or a version number.
    #[param(example = "draft")]
    pub to: Option<String>,
    /// Platform admins: the tenant.
    pub tenant_id: Option<i64>,
}

/// What differs between two flows.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiffView {
    #[schema(example = "live")]
    pub from: String,
    #[schema(example = "draft")]
    pub to: String,
    pub identical: bool,
    /// Nodes, then schedules, then entry points (`dids.<number>`), each in
    /// key order. An object added or removed is one change at its own path
    /// with the whole object; a changed one gives a change per differing field.
    pub changes: Vec<Change>,
}

/// The difference between two of: the draft, the live version, a version
/// (every role). By default, from live to the draft: what publishing would change.
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(DiffQuery),
    responses(
        (status = 200, description = "Every difference", body = DiffView,
         example = json!({"from": "live", "to": "draft", "identical": false, "changes": [
            {"object": "node", "key": "main", "change": "changed", "path": "nodes.main.routes[1].target", "before": "support", "after": "support_new"},
            {"object": "node", "key": "support_new", "change": "added", "path": "nodes.support_new", "after": {"key": "support_new", "kind": "call", "target": "0501112222"}}
         ]})),
        (status = 400, description = "`from` or `to` is not `draft`, `live` or a version number; or an unknown parameter", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such version, or nothing published yet (or not yours)", body = ErrorBody),
    )
)]
#[get("/flow/diff")]
pub async fn flow_diff(
    state: web::Data<ApiState>,
    scope: TenantScope,
    query: web::Query<DiffQuery>,
) -> Result<web::Json<DiffView>, ApiError> {
    let from = query.from.clone().unwrap_or_else(|| "live".into());
    let to = query.to.clone().unwrap_or_else(|| "draft".into());
    let from_selector = Selector::parse("from", &from)?;
    let to_selector = Selector::parse("to", &to)?;
    let before = flow_service::read(&state.pool, scope.tenant_id, from_selector).await?;
    let after = flow_service::read(&state.pool, scope.tenant_id, to_selector).await?;
    let changes = diff(&before, &after);
    Ok(web::Json(DiffView {
        from,
        to,
        identical: changes.is_empty(),
        changes,
    }))
}
