//! Validation of every flow write, and `/flow/validate` and `/flow/changes`.
//!
//! A write (a node, a schedule, a DID's entry) is checked against the
//! tenant's whole flow as it would be after it: in the write's transaction,
//! under an advisory lock of the tenant (so two concurrent writes cannot each
//! pass against the state before the other), the flow is loaded, the change
//! applied in memory, and the result validated — `flow::validate` plus the
//! recordings catalogue and a few size limits. A write that brings in an
//! error the flow did not already have is refused (422 `validation_failed`,
//! every new error in `details`) and nothing is written. Errors that were
//! already there do not block a write that leaves them as they are (so that a
//! flow broken by other means can be repaired one write at a time); they are
//! returned, with the warnings, in the write's `issues`.

use std::collections::{HashMap, HashSet};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, post, web};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::audit_api::{Event, record};
use super::extract::{TenantQuery, TenantScope};
use super::json::ApiJson;
use super::state::ApiState;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::flow::model::{DidEntry, Flow, Menu, Node, NodeKind, Schedule};
use crate::flow::validate::{referenced_nodes, referenced_schedules};
use crate::flow::{FlowIssue, Severity, validate};
use crate::storage::flows;

/// The longest text of any field of a node or a schedule.
pub const MAX_TEXT: usize = 200;
/// The most items of any list of a node or a schedule.
pub const MAX_ITEMS: usize = 1000;

/// A problem of the flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"severity": "error", "path": "nodes.main.routes[0].target", "message": "no node \"salse\""}))]
pub struct Issue {
    pub severity: IssueSeverity,
    /// Where, in the JSON shape of the flow: `nodes.<key>.<field>`,
    /// `schedules.<key>.<field>`, `dids.<number>.entry_node`.
    pub path: String,
    pub message: String,
}

/// `error`: calls would fail there, the flow is not valid. `warning`: legal
/// but probably unintended (e.g. a node no DID's entry leads to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IssueSeverity {
    Error,
    Warning,
}

impl From<FlowIssue> for Issue {
    fn from(issue: FlowIssue) -> Issue {
        Issue {
            severity: match issue.severity {
                Severity::Error => IssueSeverity::Error,
                Severity::Warning => IssueSeverity::Warning,
            },
            path: issue.path,
            message: issue.message,
        }
    }
}

/// Every problem of a tenant's flow: [`validate`] with the entries of the
/// tenant's DIDs, then the checks only the API can make (DIDs pointing at
/// no node, recordings missing from the catalogue, sizes).
pub fn check_flow(
    flow: &Flow,
    dids: &[(String, DidEntry)],
    recordings: &HashSet<String>,
) -> Vec<FlowIssue> {
    let error = |path: String, message: String| FlowIssue {
        severity: Severity::Error,
        path,
        message,
    };
    let entries: Vec<&str> = dids
        .iter()
        .map(|(_, entry)| entry.entry_node.as_str())
        .filter(|key| flow.nodes.contains_key(*key))
        .collect();
    let mut issues = validate(flow, &entries);
    for (did, entry) in dids {
        if !entry.entry_node.is_empty() && !flow.nodes.contains_key(&entry.entry_node) {
            issues.push(error(
                format!("dids.{did}.entry_node"),
                format!("no node {:?}", entry.entry_node),
            ));
        }
    }
    let mut keys: Vec<&String> = flow.nodes.keys().collect();
    keys.sort_unstable();
    for key in keys {
        let node = &flow.nodes[key];
        for (field, name) in recording_refs(node) {
            if !name.trim().is_empty() && !recordings.contains(name) {
                issues.push(error(
                    format!("nodes.{key}.{field}"),
                    format!("no recording {name:?} in the tenant's catalogue (see /recordings)"),
                ));
            }
        }
        if let Ok(value) = serde_json::to_value(node) {
            sizes(&format!("nodes.{key}"), &value, &mut issues);
        }
    }
    let mut keys: Vec<&String> = flow.schedules.keys().collect();
    keys.sort_unstable();
    for key in keys {
        let schedule = &flow.schedules[key];
        let at = format!("schedules.{key}");
        if let Ok(value) = serde_json::to_value(schedule) {
            sizes(&at, &value, &mut issues);
        }
        for (index, hours) in schedule.hours.iter().enumerate() {
            for (field, time) in [("opens", hours.opens), ("closes", hours.closes)] {
                if chrono::Timelike::nanosecond(&time) != 0 {
                    issues.push(error(
                        format!("{at}.hours[{index}].{field}"),
                        "whole seconds only: HH:MM or HH:MM:SS".into(),
                    ));
                }
            }
        }
        let mut seen = HashSet::new();
        for (index, holiday) in schedule.holidays.iter().enumerate() {
            if !seen.insert(holiday.date) {
                issues.push(error(
                    format!("{at}.holidays[{index}].date"),
                    format!("{} is listed twice", holiday.date),
                ));
            }
        }
    }
    issues
}

/// Strings longer than [`MAX_TEXT`] or holding NUL (which PostgreSQL
/// cannot store), and lists longer than [`MAX_ITEMS`].
fn sizes(at: &str, value: &serde_json::Value, issues: &mut Vec<FlowIssue>) {
    let mut error = |path: String, message: String| {
        issues.push(FlowIssue {
            severity: Severity::Error,
            path,
            message,
        })
    };
    let mut todo = vec![(at.to_owned(), value)];
    while let Some((path, value)) = todo.pop() {
        match value {
            serde_json::Value::String(text) if text.chars().count() > MAX_TEXT => {
                error(path, format!("longer than {MAX_TEXT} characters"))
            }
            serde_json::Value::String(text) if text.contains('\0') => {
                error(path, "must not contain NUL characters".into())
            }
            serde_json::Value::Array(items) => {
                if items.len() > MAX_ITEMS {
                    error(path.clone(), format!("more than {MAX_ITEMS} items"));
                }
                for (index, item) in items.iter().enumerate().rev() {
                    todo.push((format!("{path}[{index}]"), item));
                }
            }
            serde_json::Value::Object(fields) => {
                for (field, item) in fields.iter().rev() {
                    todo.push((format!("{path}.{field}"), item));
                }
            }
            _ => {}
        }
    }
}

/// Every recording `node` plays, with its path relative to the node.
pub fn recording_refs(node: &Node) -> Vec<(String, &str)> {
    fn menu<'a>(prefix: &str, menu: &'a Menu, refs: &mut Vec<(String, &'a str)>) {
        refs.push((format!("{prefix}prompt.rec"), &menu.prompt.rec));
        if let Some(rec) = &menu.retry_rec {
            refs.push((format!("{prefix}retry_rec"), rec));
        }
    }
    let mut refs = Vec::new();
    match &node.kind {
        NodeKind::Menu(m) => menu("", m, &mut refs),
        NodeKind::SayDigits(say) => {
            refs.push(("intro_rec".to_owned(), say.intro_rec.as_str()));
            menu("menu.", &say.menu, &mut refs);
        }
        NodeKind::Call(call) => {
            for (field, rec) in [
                ("caller_rec", &call.caller_rec),
                ("target_rec", &call.target_rec),
            ] {
                if let Some(rec) = rec {
                    refs.push((field.to_owned(), rec.as_str()));
                }
            }
        }
        NodeKind::Hangup(hangup) => {
            if let Some(rec) = &hangup.rec {
                refs.push(("rec".to_owned(), rec.as_str()));
            }
        }
        NodeKind::Vo(vo) => refs.push(("prompt.rec".to_owned(), vo.prompt.rec.as_str())),
        NodeKind::SilentRecord(record) => {
            if let Some(rec) = &record.rec {
                refs.push(("rec".to_owned(), rec.as_str()));
            }
        }
        NodeKind::Rules(_) => {}
    }
    refs
}

/// A tenant's flow being changed, inside the write's transaction.
pub struct Draft {
    pub tenant_id: i64,
    pub flow: Flow,
    /// The tenant's DIDs, by number; an entry node `""` is no entry.
    pub dids: Vec<(String, DidEntry)>,
    pub recordings: HashSet<String>,
    before: Vec<FlowIssue>,
}

impl Draft {
    /// Locks the tenant's flow until the end of the transaction and loads it.
    pub async fn open(conn: &mut PgConnection, tenant_id: i64) -> Result<Draft, ApiError> {
        flows::lock_tenant(conn, tenant_id).await?;
        Draft::load(conn, tenant_id).await
    }

    /// Loads the flow without locking (for reading only).
    pub async fn load(conn: &mut PgConnection, tenant_id: i64) -> Result<Draft, ApiError> {
        let (tenant, dids) = flows::load_tenant_flow(conn, tenant_id)
            .await?
            .ok_or_else(|| ApiError::not_found("tenant"))?;
        let recordings = flows::recording_names(conn, tenant_id).await?;
        let before = check_flow(&tenant.flow, &dids, &recordings);
        Ok(Draft {
            tenant_id,
            flow: tenant.flow,
            dids,
            recordings,
            before,
        })
    }

    pub fn issues(&self) -> Vec<FlowIssue> {
        check_flow(&self.flow, &self.dids, &self.recordings)
    }

    /// The flow as changed so far: refused when it has an error it did not
    /// have when loaded; else every issue it has.
    pub fn check(&self) -> Result<Vec<Issue>, ApiError> {
        let after = self.issues();
        let mut old: HashMap<(&str, &str), usize> = HashMap::new();
        for issue in self.before.iter().filter(|issue| issue.is_error()) {
            *old.entry((&issue.path, &issue.message)).or_default() += 1;
        }
        let mut new = Vec::new();
        for issue in after.iter().filter(|issue| issue.is_error()) {
            match old.get_mut(&(issue.path.as_str(), issue.message.as_str())) {
                Some(count) if *count > 0 => *count -= 1,
                _ => new.push(ErrorDetail {
                    path: issue.path.clone(),
                    message: issue.message.clone(),
                }),
            }
        }
        if !new.is_empty() {
            let count = new.len();
            let plural = if count == 1 { "problem" } else { "problems" };
            return Err(ApiError::validation(
                format!("the change would break the flow: {count} {plural}; nothing was written"),
                new,
            ));
        }
        Ok(after.into_iter().map(Issue::from).collect())
    }

    /// The nodes that lead to `key` (itself excepted) and the DIDs that
    /// enter the flow there, as the details of a 409.
    pub fn node_referrers(&self, key: &str) -> Vec<ErrorDetail> {
        let mut details: Vec<ErrorDetail> = sorted_nodes(&self.flow)
            .filter(|node| node.key != key && referenced_nodes(node).contains(&key))
            .map(|node| ErrorDetail {
                path: format!("nodes.{}", node.key),
                message: format!("node {:?} leads to {key:?}", node.key),
            })
            .collect();
        details.extend(
            self.dids
                .iter()
                .filter(|(_, entry)| entry.entry_node == key)
                .map(|(did, _)| ErrorDetail {
                    path: format!("dids.{did}.entry_node"),
                    message: format!("DID {did} enters the flow at {key:?}"),
                }),
        );
        details
    }

    /// The nodes whose rules use schedule `key`.
    pub fn schedule_referrers(&self, key: &str) -> Vec<ErrorDetail> {
        sorted_nodes(&self.flow)
            .filter(|node| referenced_schedules(node).contains(&key))
            .map(|node| ErrorDetail {
                path: format!("nodes.{}", node.key),
                message: format!("node {:?} uses schedule {key:?}", node.key),
            })
            .collect()
    }

    /// The node fields that play recording `name`.
    pub fn recording_referrers(&self, name: &str) -> Vec<ErrorDetail> {
        sorted_nodes(&self.flow)
            .flat_map(|node| {
                recording_refs(node)
                    .into_iter()
                    .filter(|(_, rec)| *rec == name)
                    .map(|(field, _)| ErrorDetail {
                        path: format!("nodes.{}.{field}", node.key),
                        message: format!("node {:?} plays {name:?}", node.key),
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

fn sorted_nodes(flow: &Flow) -> impl Iterator<Item = &Node> {
    let mut nodes: Vec<&Node> = flow.nodes.values().collect();
    nodes.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    nodes.into_iter()
}

/// Parses a node from JSON. Acceptance is exactly `Node`'s serde; when it
/// fails, the kind's own struct is parsed on its own to find where (serde
/// loses the path inside the flattened kind). `at`: the path of the node in
/// the body (`""` when it is the body).
pub fn parse_node(value: serde_json::Value, at: &str) -> Result<Node, ApiError> {
    match serde_json::from_value::<Node>(value.clone()) {
        Ok(node) => Ok(node),
        Err(error) => Err(locate_node_error(value, at)
            .unwrap_or_else(|| ApiError::bad_field(at, error.to_string()))),
    }
}

fn locate_node_error(value: serde_json::Value, at: &str) -> Option<ApiError> {
    let join = |field: &str| {
        if at.is_empty() {
            field.to_owned()
        } else if field.is_empty() {
            at.to_owned()
        } else {
            format!("{at}.{field}")
        }
    };
    let serde_json::Value::Object(mut fields) = value else {
        return Some(ApiError::bad_field(at, "expected a node (a JSON object)"));
    };
    let field =
        |fields: &mut serde_json::Map<String, serde_json::Value>, name: &str| fields.remove(name);
    match field(&mut fields, "key") {
        None => return Some(ApiError::bad_field(at, "missing field `key`")),
        Some(serde_json::Value::String(_)) => {}
        Some(other) => {
            return Some(ApiError::bad_field(
                join("key"),
                format!("expected a string, found {other}"),
            ));
        }
    }
    if let Some(language) = field(&mut fields, "language")
        && let Err(error) =
            serde_json::from_value::<Option<crate::voicenter::types::Language>>(language)
    {
        return Some(ApiError::bad_field(join("language"), error.to_string()));
    }
    let kind = match field(&mut fields, "kind") {
        None => return Some(ApiError::bad_field(at, "missing field `kind`")),
        Some(serde_json::Value::String(kind)) => kind,
        Some(other) => {
            return Some(ApiError::bad_field(
                join("kind"),
                format!("expected a string, found {other}"),
            ));
        }
    };
    let rest = serde_json::Value::Object(fields);
    let located = |result: Result<(), serde_path_to_error::Error<serde_json::Error>>| {
        result.err().map(|error| {
            let path = error.path().to_string();
            let path = if path == "." { String::new() } else { path };
            ApiError::bad_field(join(&path), error.into_inner().to_string())
        })
    };
    use crate::flow::model as m;
    fn parse<T: serde::de::DeserializeOwned>(
        rest: serde_json::Value,
    ) -> Result<(), serde_path_to_error::Error<serde_json::Error>> {
        serde_path_to_error::deserialize::<_, T>(rest).map(drop)
    }
    match kind.as_str() {
        "menu" => located(parse::<m::Menu>(rest)),
        "say_digits" => located(parse::<m::SayDigits>(rest)),
        "call" => located(parse::<m::Call>(rest)),
        "hangup" => located(parse::<m::Hangup>(rest)),
        "vo" => located(parse::<m::Vo>(rest)),
        "silent_record" => located(parse::<m::SilentRecord>(rest)),
        "rules" => located(parse::<m::Rules>(rest)),
        other => Some(ApiError::bad_field(
            join("kind"),
            format!(
                "unknown kind {other:?}: one of menu, say_digits, call, hangup, vo, silent_record, rules"
            ),
        )),
    }
}

/// A key or a name from the path. PostgreSQL cannot hold NUL in text, so
/// nothing is named by one: 404 without asking it.
pub fn path_text(path: web::Path<String>) -> Result<String, ApiError> {
    let text = path.into_inner();
    if text.contains('\0') {
        return Err(ApiError::not_found("object"));
    }
    Ok(text)
}

/// The key after which a page of a text-keyed list starts (`""`: the first page).
pub fn text_cursor(query: &super::pagination::PageQuery) -> Result<String, ApiError> {
    let after = query.after()?.unwrap_or_default();
    if after.contains('\0') {
        return Err(ApiError::bad_field(
            "cursor",
            "not a cursor this API gave out",
        ));
    }
    Ok(after)
}

/// A node as a request body: `Node`, with the errors located.
pub struct NodeBody(pub Node);

impl FromRequest for NodeBody {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<NodeBody, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = ApiJson::<serde_json::Value>::from_request(request, payload);
        Box::pin(async move { parse_node(json.await?.0, "").map(NodeBody) })
    }
}

/// Changes to a tenant's flow: nodes and schedules to create or replace
/// (whole objects, by key), and keys to delete. Applied in memory over the
/// tenant's current flow by `/flow/validate`, and written by `/flow/changes`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "nodes": [
        {"key": "main", "kind": "menu", "prompt": {"rec": "main_menu"},
         "routes": [{"digits": "1", "target": "sales"}], "on_exhausted": "goodbye"},
        {"key": "sales", "kind": "call", "target": "0501234567", "failover": "main"},
        {"key": "goodbye", "kind": "hangup", "rec": "goodbye", "cause": 16}
    ],
    "schedules": [],
    "delete_nodes": ["old_menu"]
}))]
pub struct FlowChanges {
    /// Nodes to create or replace.
    #[serde(default)]
    #[schema(value_type = Vec<Node>)]
    pub nodes: Vec<serde_json::Value>,
    /// Schedules to create or replace.
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    /// Keys of nodes to delete.
    #[serde(default)]
    pub delete_nodes: Vec<String>,
    /// Keys of schedules to delete.
    #[serde(default)]
    pub delete_schedules: Vec<String>,
}

/// `FlowChanges` parsed and checked for consistency.
struct ParsedChanges {
    nodes: Vec<Node>,
    schedules: Vec<Schedule>,
    delete_nodes: Vec<String>,
    delete_schedules: Vec<String>,
}

impl FlowChanges {
    fn parse(self) -> Result<ParsedChanges, ApiError> {
        let nodes = self
            .nodes
            .into_iter()
            .enumerate()
            .map(|(index, value)| parse_node(value, &format!("nodes[{index}]")))
            .collect::<Result<Vec<Node>, ApiError>>()?;
        let mut problems = super::checks::Problems::default();
        let mut seen = HashSet::new();
        for (index, node) in nodes.iter().enumerate() {
            if !seen.insert(node.key.as_str()) {
                problems.add(
                    format!("nodes[{index}].key"),
                    format!("{:?} is listed twice", node.key),
                );
            }
        }
        for (index, key) in self.delete_nodes.iter().enumerate() {
            if !seen.insert(key.as_str()) {
                problems.add(
                    format!("delete_nodes[{index}]"),
                    format!("{key:?} is listed twice (or also written)"),
                );
            }
        }
        let mut seen = HashSet::new();
        for (index, schedule) in self.schedules.iter().enumerate() {
            if !seen.insert(schedule.key.as_str()) {
                problems.add(
                    format!("schedules[{index}].key"),
                    format!("{:?} is listed twice", schedule.key),
                );
            }
        }
        for (index, key) in self.delete_schedules.iter().enumerate() {
            if !seen.insert(key.as_str()) {
                problems.add(
                    format!("delete_schedules[{index}]"),
                    format!("{key:?} is listed twice (or also written)"),
                );
            }
        }
        problems.finish("the changes")?;
        Ok(ParsedChanges {
            nodes,
            schedules: self.schedules,
            delete_nodes: self.delete_nodes,
            delete_schedules: self.delete_schedules,
        })
    }
}

impl ParsedChanges {
    /// Applies the changes to the draft in memory; deleting what does not exist is an error.
    fn apply(&self, draft: &mut Draft) -> Result<(), ApiError> {
        let mut problems = super::checks::Problems::default();
        for (index, key) in self.delete_nodes.iter().enumerate() {
            if draft.flow.nodes.remove(key).is_none() {
                problems.add(format!("delete_nodes[{index}]"), format!("no node {key:?}"));
            }
        }
        for (index, key) in self.delete_schedules.iter().enumerate() {
            if draft.flow.schedules.remove(key).is_none() {
                problems.add(
                    format!("delete_schedules[{index}]"),
                    format!("no schedule {key:?}"),
                );
            }
        }
        problems.finish("the changes")?;
        for node in &self.nodes {
            draft.flow.nodes.insert(node.key.clone(), node.clone());
        }
        for schedule in &self.schedules {
            draft
                .flow
                .schedules
                .insert(schedule.key.clone(), schedule.clone());
        }
        Ok(())
    }
}

/// A JSON body that may be left out (no body, no `Content-Type`): `T::default()`.
pub struct OptionalJson<T>(pub T);

impl<T: serde::de::DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<OptionalJson<T>, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = request.headers();
        let no_type = !headers.contains_key(actix_web::http::header::CONTENT_TYPE);
        let no_length = headers
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.trim() == "0");
        let chunked = headers.contains_key(actix_web::http::header::TRANSFER_ENCODING);
        if no_type && no_length && !chunked {
            return Box::pin(async { Ok(OptionalJson(T::default())) });
        }
        let json = ApiJson::<T>::from_request(request, payload);
        Box::pin(async move { Ok(OptionalJson(json.await?.0)) })
    }
}

/// The answer of `/flow/validate`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Validation {
    /// No issue of severity `error`.
    pub valid: bool,
    pub issues: Vec<Issue>,
}

/// The answer of `/flow/changes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesApplied {
    /// The flow's issues after the changes: warnings, and errors the flow
    /// already had before (the changes added none).
    pub issues: Vec<Issue>,
}

/// Check the tenant's flow, or the flow as the proposed changes would make
/// it (nothing is written). Open to every role.
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(TenantQuery),
    request_body(
        content = Option<FlowChanges>,
        description = "Optional: changes to apply in memory before checking (no body, or `null`: the current flow)",
        content_type = "application/json"
    ),
    responses(
        (status = 200, description = "Every issue of the (proposed) flow", body = Validation,
         example = json!({"valid": false, "issues": [
            {"severity": "error", "path": "nodes.main.routes[0].target", "message": "no node \"salse\""},
            {"severity": "warning", "path": "nodes.old_menu", "message": "no DID's entry node leads here"}
         ]})),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 422, description = "The changes contradict themselves or delete what does not exist", body = ErrorBody),
    )
)]
#[post("/flow/validate")]
pub async fn validate_flow(
    state: web::Data<ApiState>,
    scope: TenantScope,
    body: OptionalJson<Option<FlowChanges>>,
) -> Result<web::Json<Validation>, ApiError> {
    let changes = body.0.unwrap_or_default().parse()?;
    // A consistent snapshot: every query of the load sees the same flow.
    let mut tx = state.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let mut draft = Draft::load(&mut tx, scope.tenant_id).await?;
    tx.commit().await?;
    changes.apply(&mut draft)?;
    let issues: Vec<Issue> = draft.issues().into_iter().map(Issue::from).collect();
    Ok(web::Json(Validation {
        valid: !issues.iter().any(|i| i.severity == IssueSeverity::Error),
        issues,
    }))
}

/// Write several nodes and schedules at once (editors): every change is
/// applied, or none. The flow is validated as a whole after all of them, so
/// nodes that refer to each other (a menu and the menu it goes back to) can
/// be created together.
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(TenantQuery),
    request_body = FlowChanges,
    responses(
        (status = 200, description = "Written", body = ChangesApplied),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 422, description = "The flow would have new errors (every one in `details`); nothing was written", body = ErrorBody),
    )
)]
#[post("/flow/changes")]
pub async fn apply_changes(
    state: web::Data<ApiState>,
    scope: TenantScope,
    body: ApiJson<FlowChanges>,
) -> Result<web::Json<ChangesApplied>, ApiError> {
    scope.require_editor()?;
    let changes = body.0.parse()?;
    let mut tx = state.pool.begin().await?;
    let mut draft = Draft::open(&mut tx, scope.tenant_id).await?;
    let old = (draft.flow.nodes.clone(), draft.flow.schedules.clone());
    changes.apply(&mut draft)?;
    let issues = draft.check()?;
    let tenant = scope.tenant_id;
    for schedule in &changes.schedules {
        flows::save_schedule(&mut tx, tenant, schedule).await?;
        let before = old.1.get(&schedule.key);
        audit(
            &mut tx,
            &scope,
            "schedule",
            &schedule.key,
            before,
            Some(schedule),
        )
        .await?;
    }
    for node in &changes.nodes {
        flows::save_node(&mut tx, tenant, node).await?;
        let before = old.0.get(&node.key);
        audit(&mut tx, &scope, "node", &node.key, before, Some(node)).await?;
    }
    for key in &changes.delete_nodes {
        flows::delete_node(&mut *tx, tenant, key).await?;
        audit::<Node>(&mut tx, &scope, "node", key, old.0.get(key), None).await?;
    }
    for key in &changes.delete_schedules {
        flows::delete_schedule(&mut tx, tenant, key).await?;
        audit::<Schedule>(&mut tx, &scope, "schedule", key, old.1.get(key), None).await?;
    }
    tx.commit().await?;
    Ok(web::Json(ChangesApplied { issues }))
}

/// For `Option<Option<T>>` fields of a PATCH body: absent is `None` (with
/// `#[serde(default)]`), `null` is `Some(None)`, a value is `Some(Some(v))`.
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Records the change of one flow object: `after` is `None` for a deletion,
/// `before` is `None` for a creation.
pub async fn audit<T: Serialize>(
    conn: &mut PgConnection,
    scope: &TenantScope,
    object_type: &'static str,
    object_id: &str,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<(), ApiError> {
    let action = match (before, after) {
        (_, None) => "delete",
        (None, Some(_)) => "create",
        (Some(_), Some(_)) => "update",
    };
    record(
        conn,
        &scope.caller,
        Some(scope.tenant_id),
        Event {
            action,
            object_type,
            object_id,
            before,
            after,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn recordings(names: &[&str]) -> HashSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    fn flow(nodes: serde_json::Value) -> Flow {
        let nodes: Vec<Node> = serde_json::from_value(nodes).expect("test nodes");
        Flow {
            time_zone: chrono_tz::Asia::Jerusalem,
            language: crate::voicenter::types::Language::He,
            nodes: nodes.into_iter().map(|n| (n.key.clone(), n)).collect(),
            schedules: HashMap::new(),
        }
    }

    #[test]
    fn missing_recordings_are_errors_at_their_fields() {
        let flow = flow(json!([
            {"key": "m", "kind": "menu", "prompt": {"rec": "welcome"}, "retry_rec": "again",
             "routes": [{"digits": "1", "target": "s"}]},
            {"key": "s", "kind": "say_digits", "digits": {"from": "caller_id"}, "intro_rec": "your_number",
             "menu": {"prompt": {"rec": "welcome"}}},
            {"key": "c", "kind": "call", "target": "1", "caller_rec": "wait", "target_rec": "whisper"},
            {"key": "h", "kind": "hangup", "rec": "bye"},
            {"key": "v", "kind": "vo", "layer": 1, "prompt": {"rec": "transfer"}},
            {"key": "r", "kind": "silent_record", "rec": "beep"}
        ]));
        let issues = check_flow(&flow, &[], &recordings(&["welcome"]));
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "nodes.c.caller_rec",
                "nodes.c.target_rec",
                "nodes.h.rec",
                "nodes.m.retry_rec",
                "nodes.r.rec",
                "nodes.s.intro_rec",
                "nodes.v.prompt.rec",
            ]
        );
        assert!(issues.iter().all(FlowIssue::is_error));
        assert!(
            issues[2].message.contains("no recording \"bye\""),
            "{issues:?}"
        );
    }

    #[test]
    fn dids_pointing_nowhere_and_oversized_fields() {
        let long = "x".repeat(MAX_TEXT + 1);
        let flow = flow(json!([{"key": "c", "kind": "call", "target": "1", "caller_name": long}]));
        let dids = vec![(
            "0731".to_owned(),
            DidEntry {
                tenant_id: 1,
                entry_node: "gone".into(),
                language: None,
            },
        )];
        let issues = check_flow(&flow, &dids, &HashSet::new());
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["dids.0731.entry_node", "nodes.c.caller_name"]);
    }

    #[test]
    fn the_demo_flow_passes_with_its_recordings() {
        let nodes = crate::demo::nodes();
        let recordings: HashSet<String> = crate::demo::RECORDINGS
            .iter()
            .map(|(name, _)| (*name).to_owned())
            .collect();
        let flow = Flow {
            time_zone: chrono_tz::Asia::Jerusalem,
            language: crate::voicenter::types::Language::He,
            nodes: nodes.into_iter().map(|n| (n.key.clone(), n)).collect(),
            schedules: HashMap::new(),
        };
        let missing: Vec<_> = check_flow(&flow, &[], &recordings)
            .into_iter()
            .filter(|issue| issue.message.contains("recording"))
            .collect();
        assert!(missing.is_empty(), "{missing:#?}");
    }

    #[test]
    fn node_errors_name_their_path() {
        let error = |value: serde_json::Value| {
            let error = parse_node(value, "").unwrap_err();
            (
                error.details()[0].path.clone(),
                error.details()[0].message.clone(),
            )
        };
        let (path, message) = error(json!({"key": "m", "kind": "menu", "prompt": {"rec": "x"},
            "routes": [{"digits": "1", "target": "a", "colour": "red"}]}));
        assert_eq!(path, "routes[0].colour");
        assert!(message.contains("unknown field `colour`"), "{message}");
        let (path, _) =
            error(json!({"key": "m", "kind": "menu", "prompt": {"rec": "x", "loops": "2"}}));
        assert_eq!(path, "prompt.loops");
        let (path, message) =
            error(json!({"key": "m", "kind": "menu", "prompt": {"rec": "x"}, "size": 2}));
        assert_eq!(path, "size");
        assert!(message.contains("unknown field `size`"), "{message}");
        let (path, _) = error(json!({"key": "m", "kind": "dance"}));
        assert_eq!(path, "kind");
        let (path, _) = error(json!({"key": 5, "kind": "hangup"}));
        assert_eq!(path, "key");
        let (path, _) = error(json!({"key": "h", "kind": "hangup", "language": "fr"}));
        assert_eq!(path, "language");
        let error = parse_node(json!({"key": "m", "kind": "menu"}), "nodes[3]").unwrap_err();
        assert_eq!(error.details()[0].path, "nodes[3]");
        assert!(
            error.details()[0]
                .message
                .contains("missing field `prompt`")
        );
        assert!(parse_node(json!({"key": "h", "kind": "hangup"}), "").is_ok());
    }
}
