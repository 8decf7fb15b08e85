//! Trying a flow without a phone: `POST /flow/simulate` walks a scripted
//! call through the draft, the live flow or a version, by the very code the
//! webhook answers with (`crate::simulate`), writing no call step and no
//! CDR; `GET /flow/diagram.svg` and `.dot` draw the flow.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{TenantQuery, TenantScope};
use super::flow_validation::{keyed_page, path_text, replaced_or_created, same_key};
use super::json::ApiJson;
use super::pagination::{Page, PageQuery};
use super::state::ApiState;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::flow_service::{self, Selector};
use crate::flow_tests::{FlowTest, TestResult};
use crate::simulate::{AT_FORMAT, Script, Transcript, parse_at, parse_inputs, simulate};
use crate::voicenter::types::Encoding;

/// A call to simulate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"flow": "draft", "did": "0730000000", "caller_id": "0541234567",
    "at": "2026-12-01T10:00:00+02:00", "inputs": ["1", "no_answer", "2"], "encoding": "json"}))]
pub struct SimulateRequest {
    /// `draft` (the default), `live` or a version number. The draft runs
    /// as the version it would become if published now, so its answers are
    /// byte for byte what calls will hear once it is published.
    #[serde(default, deserialize_with = "text_or_number")]
    #[schema(value_type = Option<String>, example = "draft")]
    pub flow: Option<String>,
    /// One of the tenant's numbers.
    pub did: String,
    /// The caller's number (`CALLER_ID`); default empty (a hidden number).
    #[serde(default)]
    pub caller_id: String,
    /// `CALLER_NAME` (a CALL without a caller name of its own shows it); default empty.
    #[serde(default)]
    pub caller_name: String,
    /// The clock of the call, with its offset (`2026-12-01T10:00:00+02:00`):
    /// schedules and holidays are tried at this instant. Default: now.
    #[serde(default)]
    pub at: Option<String>,
    /// What the caller does at each step that waits for it: digits
    /// (`"1"`, `"12#"`, 1 to 20 of `0-9*#`) or `"silence"` at a menu,
    /// `"no_answer"` at a CALL (the dialled number did not answer; its
    /// failover menu then takes the next input). At most 200.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// The encoding of the answers shown (`answer`): `json` (the default) or `xml_rpc`.
    #[serde(default)]
    pub encoding: Option<SimulatedEncoding>,
}

/// `"3"` or `3`: a selector given as text or as a number.
fn text_or_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOrNumber {
        Text(String),
        Number(u64),
    }
    Ok(
        Option::<TextOrNumber>::deserialize(deserializer)?.map(|value| match value {
            TextOrNumber::Text(text) => text,
            TextOrNumber::Number(number) => number.to_string(),
        }),
    )
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SimulatedEncoding {
    Json,
    XmlRpc,
}

impl SimulateRequest {
    /// The script and the flow selector, checked; `now`: the instant when
    /// the request names none.
    pub fn script(&self, now: DateTime<Utc>) -> Result<(Selector, Script, Encoding), ApiError> {
        let selector = match &self.flow {
            None => Selector::Draft,
            Some(text) => Selector::parse("flow", text)?,
        };
        let at = match &self.at {
            None => now,
            Some(text) => parse_at(text).ok_or_else(|| ApiError::bad_field("at", AT_FORMAT))?,
        };
        let inputs = parse_inputs(&self.inputs)
            .map_err(|details| ApiError::validation("bad inputs", details))?;
        if [&self.did, &self.caller_id, &self.caller_name]
            .iter()
            .any(|text| text.contains('\0') || text.chars().count() > 200)
        {
            return Err(ApiError::bad_request(
                "did, caller_id and caller_name: at most 200 characters, no NUL",
            ));
        }
        let encoding = match self.encoding {
            None | Some(SimulatedEncoding::Json) => Encoding::Json,
            Some(SimulatedEncoding::XmlRpc) => Encoding::XmlRpc,
        };
        let script = Script {
            did: self.did.clone(),
            caller_id: self.caller_id.clone(),
            caller_name: self.caller_name.clone(),
            at,
            inputs,
        };
        Ok((selector, script, encoding))
    }
}

/// Walk a scripted call through the draft (or the live flow, or a version)
/// without a phone (every role): each step's request as Voicenter would
/// send it, the exact answer, the node, what happened there and which rules
/// were taken, and how the call ended. Nothing is written.
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(TenantQuery),
    request_body = SimulateRequest,
    responses(
        (status = 200, description = "The call, step by step", body = Transcript),
        (status = 400, description = "Not JSON, or `flow` not `draft`/`live`/a number, `at` without an offset, `did`/`caller_id`/`caller_name` over 200 characters or with NUL (an unknown field or a wrong type: 422 with its path)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such number of the tenant, no such version, or nothing published (`flow=live`)", body = ErrorBody),
        (status = 409, description = "The tenant is disabled: its calls get the safe answer", body = ErrorBody),
        (status = 422, description = "More than 200 inputs, or an input that is not digits, `silence` or `no_answer` (`details`: `inputs[i]`)", body = ErrorBody),
    )
)]
#[post("/flow/simulate")]
pub async fn simulate_call(
    state: web::Data<ApiState>,
    scope: TenantScope,
    body: ApiJson<SimulateRequest>,
) -> Result<web::Json<Transcript>, ApiError> {
    let now = state.clock.now();
    let transcript =
        run_simulation(&state.pool, scope.tenant_id, &body.0, &state.safe, now).await?;
    Ok(web::Json(transcript))
}

/// One simulation, as the API and the command line run it.
pub async fn run_simulation(
    pool: &sqlx::PgPool,
    tenant_id: i64,
    request: &SimulateRequest,
    safe: &crate::webhook::fallback::SafeAnswer,
    now: DateTime<Utc>,
) -> Result<Transcript, ApiError> {
    let (selector, script, encoding) = request.script(now)?;
    let runnable = flow_service::runnable(pool, tenant_id, selector).await?;
    let entry = runnable.entry(&script.did)?;
    if !runnable.active {
        return Err(ApiError::conflict(
            "the tenant is disabled: every call gets the safe answer (a hang-up with cause 21)",
        ));
    }
    Ok(simulate(&runnable.flow, &entry, &script, encoding, safe))
}

/// Layouts run one at a time per node (see `diagram_svg`).
static LAYOUTS: std::sync::LazyLock<std::sync::Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(tokio::sync::Semaphore::new(1)));
/// How long a request waits for its turn, and for its layout.
const LAYOUT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DiagramQuery {
    /// `draft` (the default), `live` or a version number.
    pub flow: Option<String>,
    /// A simulated call's path to draw: node keys, comma-separated, in
    /// order (a transcript's `node`s).
    #[param(example = "entry,main,sales")]
    pub highlight: Option<String>,
    /// Platform admins: the tenant.
    pub tenant_id: Option<i64>,
}

impl DiagramQuery {
    fn selector(&self) -> Result<Selector, ApiError> {
        match &self.flow {
            None => Ok(Selector::Draft),
            Some(text) => Selector::parse("flow", text),
        }
    }
}

/// The DOT of the flow asked for, with its marks.
async fn diagram_dot(
    state: &ApiState,
    scope: &TenantScope,
    query: &DiagramQuery,
    for_layout: bool,
) -> Result<String, ApiError> {
    let selector = query.selector()?;
    let (content, issues) =
        flow_service::with_issues(&state.pool, scope.tenant_id, selector).await?;
    if for_layout && content.nodes.len() > crate::flow::diagram::MAX_SVG_NODES {
        return Err(ApiError::validation(
            "too large to draw here",
            vec![ErrorDetail {
                path: "flow".into(),
                message: format!(
                    "{} nodes: at most {} are drawn as SVG; get diagram.dot and draw it with Graphviz",
                    content.nodes.len(),
                    crate::flow::diagram::MAX_SVG_NODES
                ),
            }],
        ));
    }
    let highlight: Vec<String> = match query.highlight.as_deref().map(str::trim) {
        None | Some("") => Vec::new(),
        Some(text) => text.split(',').map(|key| key.trim().to_owned()).collect(),
    };
    let mut problems = super::checks::Problems::default();
    for (index, key) in highlight.iter().enumerate() {
        if !content.nodes.contains_key(key) {
            problems.add(
                format!("highlight[{index}]"),
                format!("no node {key:?} in this flow"),
            );
        }
    }
    problems.finish("the highlighted path")?;
    let marks = crate::flow::diagram::Marks {
        issues: &issues,
        highlight: &highlight,
        merge_back_arrows: for_layout,
    };
    Ok(crate::flow::diagram::dot(&content, &marks))
}

/// The flow as a picture (SVG, laid out by the server; every role): each
/// node a box, each route a labelled arrow, each number's entry; nodes no
/// entry leads to grey, nodes with errors red, `highlight`'s path orange.
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(DiagramQuery),
    responses(
        (status = 200, description = "The picture", content_type = "image/svg+xml", body = String),
        (status = 400, description = "`flow` not `draft`/`live`/a number, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such version, or nothing published (`flow=live`)", body = ErrorBody),
        (status = 422, description = "`highlight` names a node the flow does not have (`details`: `highlight[i]`), or the flow has more than 120 nodes (get `diagram.dot`)", body = ErrorBody),
        (status = 503, description = "Another diagram is being drawn, or this one takes more than 5 s: try again, or get `diagram.dot`", body = ErrorBody),
    )
)]
#[get("/flow/diagram.svg")]
pub async fn diagram_svg(
    state: web::Data<ApiState>,
    scope: TenantScope,
    query: web::Query<DiagramQuery>,
) -> Result<HttpResponse, ApiError> {
    let dot = diagram_dot(&state, &scope, &query, true).await?;
    // One layout at a time, on a blocking thread that keeps the permit until
    // it is done: a flow whose layout runs long holds one core, never the
    // webhook's workers.
    let busy = || ApiError::unavailable("another diagram is being drawn; try again in a moment");
    let permit = tokio::time::timeout(LAYOUT_WAIT, LAYOUTS.clone().acquire_owned())
        .await
        .map_err(|_| busy())?
        .map_err(ApiError::internal)?;
    let drawing = tokio::task::spawn_blocking(move || {
        let _one_at_a_time = permit;
        crate::flow::diagram::svg(&dot)
    });
    let svg = tokio::time::timeout(LAYOUT_WAIT, drawing)
        .await
        .map_err(|_| ApiError::unavailable("this flow takes too long to lay out here: get diagram.dot and draw it with Graphviz"))?
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().content_type("image/svg+xml").body(svg))
}

/// The flow as Graphviz DOT (every role): the same picture, for your own tools.
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(DiagramQuery),
    responses(
        (status = 200, description = "The graph", content_type = "text/vnd.graphviz", body = String),
        (status = 400, description = "`flow` not `draft`/`live`/a number, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such version, or nothing published (`flow=live`)", body = ErrorBody),
        (status = 422, description = "`highlight` names a node the flow does not have", body = ErrorBody),
    )
)]
#[get("/flow/diagram.dot")]
pub async fn diagram_dot_file(
    state: web::Data<ApiState>,
    scope: TenantScope,
    query: web::Query<DiagramQuery>,
) -> Result<HttpResponse, ApiError> {
    let dot = diagram_dot(&state, &scope, &query, false).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/vnd.graphviz; charset=utf-8")
        .body(dot))
}

/// The outcome of running the flow tests.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestRun {
    /// The flow they ran on: `draft`, `live` or a version number.
    #[schema(example = "draft")]
    pub flow: String,
    pub passed: usize,
    pub failed: usize,
    /// Every test, in name order; a failing one with its failures and transcript.
    pub results: Vec<TestResult>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// `draft` (the default), `live` or a version number.
    pub flow: Option<String>,
    /// Platform admins: the tenant.
    pub tenant_id: Option<i64>,
}

/// Run every flow test on the draft, the live flow or a version (every
/// role). Nothing is written.
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(RunQuery),
    responses(
        (status = 200, description = "Each test's outcome", body = TestRun),
        (status = 400, description = "`flow` not `draft`/`live`/a number, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such version, or nothing published (`flow=live`)", body = ErrorBody),
    )
)]
#[post("/flow/tests/run")]
pub async fn run_tests(
    state: web::Data<ApiState>,
    scope: TenantScope,
    query: web::Query<RunQuery>,
) -> Result<web::Json<TestRun>, ApiError> {
    let flow = query.flow.clone().unwrap_or_else(|| "draft".into());
    let selector = Selector::parse("flow", &flow)?;
    let results =
        flow_service::run_tests(&state.pool, scope.tenant_id, selector, &state.safe).await?;
    let passed = results.iter().filter(|r| r.passed).count();
    Ok(web::Json(TestRun {
        flow,
        passed,
        failed: results.len() - passed,
        results,
    }))
}

/// The tenant's flow tests, in name order (every role).
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(TenantQuery, PageQuery),
    responses(
        (status = 200, description = "A page of tests", body = Page<FlowTest>),
        (status = 400, description = "Bad `limit` or `cursor`", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[get("/flow/tests")]
pub async fn list_tests(
    state: web::Data<ApiState>,
    scope: TenantScope,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<FlowTest>>, ApiError> {
    let tests = flow_service::list_tests(&state.pool, scope.tenant_id).await?;
    let by_name = tests.into_iter().map(|t| (t.name.clone(), t)).collect();
    Ok(web::Json(keyed_page(by_name, &query)?))
}

/// One flow test (every role).
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The test's name"), TenantQuery),
    responses(
        (status = 200, description = "The test", body = FlowTest),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such test (or not yours)", body = ErrorBody),
    )
)]
#[get("/flow/tests/{name}")]
pub async fn get_test(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<String>,
) -> Result<web::Json<FlowTest>, ApiError> {
    let name = path_text(path)?;
    let test = flow_service::test(&state.pool, scope.tenant_id, &name)
        .await?
        .ok_or_else(|| ApiError::not_found("flow test"))?;
    Ok(web::Json(test))
}

/// Add a flow test (editors): checked against the draft (its number must
/// be the tenant's, the nodes of `expect.path` must exist).
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(TenantQuery),
    request_body = FlowTest,
    responses(
        (status = 201, description = "Added", body = FlowTest),
        (status = 400, description = "Not JSON (an unknown field or a wrong type: 422 with its path)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change tests", body = ErrorBody),
        (status = 409, description = "A test with this name exists", body = ErrorBody),
        (status = 422, description = "Every problem with its path: `did`, `at`, `inputs[i]`, `expect.path[i]` (no such node)…", body = ErrorBody),
    )
)]
#[post("/flow/tests")]
pub async fn create_test(
    state: web::Data<ApiState>,
    scope: TenantScope,
    body: ApiJson<FlowTest>,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let actor = scope.caller.actor();
    flow_service::save_test(&state.pool, scope.tenant_id, &actor, &body.0, true).await?;
    Ok(HttpResponse::Created().json(&body.0))
}

/// Add or replace a flow test (editors); its `name` must be the path's.
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The test's name"), TenantQuery),
    request_body = FlowTest,
    responses(
        (status = 200, description = "Replaced", body = FlowTest),
        (status = 201, description = "Added", body = FlowTest),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change tests", body = ErrorBody),
        (status = 422, description = "The name differs from the path's, or every problem with its path", body = ErrorBody),
    )
)]
#[put("/flow/tests/{name}")]
pub async fn put_test(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<String>,
    body: ApiJson<FlowTest>,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let name = path_text(path)?;
    same_key("flow test", &body.0.name, &name)?;
    let actor = scope.caller.actor();
    let before =
        flow_service::save_test(&state.pool, scope.tenant_id, &actor, &body.0, false).await?;
    Ok(replaced_or_created(before.is_some()).json(&body.0))
}

/// Remove a flow test (editors).
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The test's name"), TenantQuery),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change tests", body = ErrorBody),
        (status = 404, description = "No such test (or not yours)", body = ErrorBody),
    )
)]
#[delete("/flow/tests/{name}")]
pub async fn delete_test(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let name = path_text(path)?;
    let actor = scope.caller.actor();
    flow_service::delete_test(&state.pool, scope.tenant_id, &actor, &name).await?;
    Ok(HttpResponse::NoContent().finish())
}
