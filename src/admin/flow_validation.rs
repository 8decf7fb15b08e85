//! Request bodies of flow writes (nodes located to the field that is
//! wrong, change sets, the draft revision a write is based on), and
//! `/flow/validate` and `/flow/changes`. Every write goes through
//! `flow_service` (see there for the rules).

use std::collections::HashSet;

use actix_web::dev::Payload;
use actix_web::http::header::{ETAG, IF_MATCH};
use actix_web::{FromRequest, HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::checks::Problems;
use super::extract::{TenantQuery, TenantScope};
use super::json::ApiJson;
use super::state::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::flow::model::{Node, Schedule};
use crate::flow::{FlowIssue, Severity};
use crate::flow_service::{self, Change};

/// `If-Match: "<draft revision>"` (as `ETag` gives it; the quotes may be
/// left out): the write is refused with 409 `stale_revision` if the draft
/// changed since. Absent (or `*`): not checked.
pub struct IfMatch(pub Option<i64>);

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<IfMatch, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(if_match(request))
    }
}

fn if_match(request: &HttpRequest) -> Result<IfMatch, ApiError> {
    let Some(value) = request.headers().get(IF_MATCH) else {
        return Ok(IfMatch(None));
    };
    let bad = || {
        ApiError::bad_field(
            "If-Match",
            "must be the draft revision as ETag gives it, e.g. \"12\"",
        )
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    if text == "*" {
        return Ok(IfMatch(None));
    }
    let unquoted = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    match unquoted.parse::<i64>() {
        Ok(revision) if revision >= 0 && !unquoted.starts_with('+') => Ok(IfMatch(Some(revision))),
        _ => Err(bad()),
    }
}

/// One change of the draft by an editor of the scope's tenant.
pub async fn write_draft(
    state: &ApiState,
    scope: &TenantScope,
    if_match: IfMatch,
    change: Change,
) -> Result<flow_service::Edited, ApiError> {
    scope.require_editor()?;
    let actor = scope.caller.actor();
    flow_service::edit(
        &state.pool,
        scope.tenant_id,
        if_match.0,
        &actor,
        vec![change],
    )
    .await
}

/// A PUT's body must name the object of its path (`what`s cannot be renamed).
pub fn same_key(what: &str, body_key: &str, path_key: &str) -> Result<(), ApiError> {
    if body_key == path_key {
        return Ok(());
    }
    Err(ApiError::validation(
        "the body's key differs from the path's",
        vec![crate::error::ErrorDetail {
            path: "key".into(),
            message: format!(
                "must be {path_key:?}, the key in the path ({what}s cannot be renamed)"
            ),
        }],
    ))
}

/// 200 when a PUT replaced an object, 201 when it created it.
pub fn replaced_or_created(existed: bool) -> actix_web::HttpResponseBuilder {
    if existed {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    }
}

/// A read of `/nodes` or `/schedules`: the draft carries its revision as
/// `ETag` (for the `If-Match` of the next write); a version does not.
pub fn read_answer<T: Serialize>(
    selector: flow_service::Selector,
    revision: i64,
    body: &T,
) -> HttpResponse {
    match selector {
        flow_service::Selector::Draft => with_revision(HttpResponse::Ok(), revision, body),
        _ => HttpResponse::Ok().json(body),
    }
}

/// `204 No Content` with the draft's new revision as `ETag`.
pub fn deleted(revision: i64) -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((ETAG, format!("\"{revision}\"")))
        .finish()
}

/// Documentation of the `If-Match` header of draft writes.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IfMatchHeader {
    /// The draft revision the write is based on, as the `ETag` of a read or
    /// write gives it (`"12"`); if the draft changed since: 409
    /// `stale_revision`, nothing written. Absent: not checked.
    #[serde(rename = "If-Match")]
    if_match: Option<String>,
}

/// An answer carrying the draft's revision as `ETag` (for the next `If-Match`).
pub fn with_revision<T: Serialize>(
    mut response: actix_web::HttpResponseBuilder,
    revision: i64,
    body: &T,
) -> HttpResponse {
    response
        .insert_header((ETAG, format!("\"{revision}\"")))
        .json(body)
}

/// Parses a node from JSON. Acceptance is exactly `Node`'s serde; when it
/// fails, the kind's own struct is parsed on its own to find where (serde
/// loses the path inside the flattened kind). `at`: the path of the node in
/// the body (`""` when it is the body).
pub fn parse_node(value: serde_json::Value, at: &str) -> Result<Node, ApiError> {
    match serde_json::from_value::<Node>(value.clone()) {
        Ok(node) => Ok(node),
        Err(error) => Err(locate_node_error(value, at)
            .unwrap_or_else(|| ApiError::invalid_field(at, error.to_string()))),
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
        return Some(ApiError::invalid_field(
            at,
            "expected a node (a JSON object)",
        ));
    };
    let field =
        |fields: &mut serde_json::Map<String, serde_json::Value>, name: &str| fields.remove(name);
    match field(&mut fields, "key") {
        None => return Some(ApiError::invalid_field(at, "missing field `key`")),
        Some(serde_json::Value::String(_)) => {}
        Some(other) => {
            return Some(ApiError::invalid_field(
                join("key"),
                format!("expected a string, found {other}"),
            ));
        }
    }
    if let Some(language) = field(&mut fields, "language")
        && let Err(error) =
            serde_json::from_value::<Option<crate::voicenter::types::Language>>(language)
    {
        return Some(ApiError::invalid_field(join("language"), error.to_string()));
    }
    let kind = match field(&mut fields, "kind") {
        None => return Some(ApiError::invalid_field(at, "missing field `kind`")),
        Some(serde_json::Value::String(kind)) => kind,
        Some(other) => {
            return Some(ApiError::invalid_field(
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
            ApiError::invalid_field(join(&path), error.into_inner().to_string())
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
        "announcement" => located(parse::<m::Announcement>(rest)),
        "say_digits" => located(parse::<m::SayDigits>(rest)),
        "call" => located(parse::<m::Call>(rest)),
        "hangup" => located(parse::<m::Hangup>(rest)),
        "vo" => located(parse::<m::Vo>(rest)),
        "silent_record" => located(parse::<m::SilentRecord>(rest)),
        "rules" => located(parse::<m::Rules>(rest)),
        other => Some(ApiError::invalid_field(
            join("kind"),
            format!(
                "unknown kind {other:?}: one of {}",
                m::NODE_KINDS.join(", ")
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

/// A page of objects kept by key (a flow's nodes or schedules), in key order.
pub fn keyed_page<T>(
    objects: std::collections::BTreeMap<String, T>,
    query: &super::pagination::PageQuery,
) -> Result<super::pagination::Page<T>, ApiError> {
    let limit = query.limit()?;
    let after = text_cursor(query)?;
    let rows: Vec<(String, T)> = objects
        .into_iter()
        .filter(|(key, _)| *key > after)
        .take(limit as usize + 1)
        .collect();
    Ok(super::pagination::page(
        rows,
        limit,
        |(key, _)| key.clone(),
        |(_, object)| object,
    ))
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

/// Changes to a tenant's draft: recordings to add, schedules and nodes to
/// create or replace (whole objects, by key, in any order: they are checked
/// together), where the tenant's numbers enter, and keys to delete. A whole
/// flow goes in as one change set. Applied in memory over the draft by
/// `/flow/validate`, and written by `/flow/changes`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "recordings": [
        {"name": "main_he", "language": "he", "description": "1 shop, 2 hours, 3 English"},
        {"name": "main_en", "language": "en", "description": "1 shop, 2 hours, 0 Hebrew"},
        {"name": "hours_he", "language": "he", "description": "Sun-Thu 11-23, Fri 11-15"},
        {"name": "hours_en", "language": "en", "description": "Sun-Thu 11-23, Fri 11-15"},
        {"name": "closed_he", "language": "he", "description": "We are closed"},
        {"name": "closed_en", "language": "en", "description": "We are closed"},
        {"name": "bye_he", "language": "he", "description": "Goodbye"},
        {"name": "bye_en", "language": "en", "description": "Goodbye"}
    ],
    "schedules": [
        {"key": "shop", "name": "Shop", "hours": [
            {"day": "Sun", "opens": "11:00", "closes": "23:00"},
            {"day": "Mon", "opens": "11:00", "closes": "23:00"},
            {"day": "Tue", "opens": "11:00", "closes": "23:00"},
            {"day": "Wed", "opens": "11:00", "closes": "23:00"},
            {"day": "Thu", "opens": "11:00", "closes": "23:00"},
            {"day": "Fri", "opens": "11:00", "closes": "15:00"}
        ], "calendar": {"name": "israel", "rest_days": "closed",
                        "eves": {"hours": [{"opens": "11:00", "closes": "14:00"}]}}}
    ],
    "nodes": [
        {"key": "entry", "kind": "rules", "rules": [
            {"when": {"type": "open", "schedule": "shop"}, "target": "main"}
        ], "default": "closed"},
        {"key": "main", "kind": "menu", "prompt": {"rec": {"he": "main_he", "en": "main_en"}},
         "routes": [
            {"digits": "1", "target": "shop"},
            {"digits": "2", "target": "hours"},
            {"digits": "3", "target": "main", "set_language": "en"},
            {"digits": "0", "target": "main", "set_language": "he"}
         ]},
        {"key": "hours", "kind": "announcement",
         "prompt": {"rec": {"he": "hours_he", "en": "hours_en"}}, "next": "main"},
        {"key": "shop", "kind": "call", "target": "0501234567", "failover": "voicemail"},
        {"key": "voicemail", "kind": "silent_record", "max_duration_secs": 120},
        {"key": "closed", "kind": "hangup", "rec": {"he": "closed_he", "en": "closed_en"}}
    ],
    "entries": [{"did": "0733000000", "entry_node": "entry"}],
    "goodbye": {"he": "bye_he", "en": "bye_en"}
}))]
pub struct FlowChanges {
    /// Recordings to add to the catalogue (or whose description and
    /// language to set), before the nodes that play them are checked.
    #[serde(default)]
    pub recordings: Vec<RecordingInChanges>,
    /// Where the tenant's numbers enter (each must be one of its numbers).
    #[serde(default)]
    pub entries: Vec<crate::flow::model::EntryPoint>,
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
    /// The flow's goodbye (one recording, or one per language), played by
    /// every hang-up the flow did not design itself and by hangup nodes
    /// with no `rec`; `null`: none (the platform's is played by the former,
    /// if any);
    /// absent: unchanged.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<crate::flow::model::Rec>)]
    pub goodbye: Option<Option<crate::flow::model::Rec>>,
}

/// A field that may be `null`: `Some(None)`; absent: `None` (its default).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A recording in a change set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingInChanges {
    /// The file name REC fields use: 1 to 200 characters.
    pub name: String,
    /// What it says, for people (up to 500 characters).
    #[serde(default)]
    pub description: String,
    /// The language it is spoken in: validation warns when it is played to
    /// calls in another.
    pub language: Option<crate::voicenter::types::Language>,
}

impl FlowChanges {
    /// The change set, checked for consistency (a key twice is refused).
    fn parse(self) -> Result<Vec<Change>, ApiError> {
        let nodes = self
            .nodes
            .into_iter()
            .enumerate()
            .map(|(index, value)| parse_node(value, &format!("nodes[{index}]")))
            .collect::<Result<Vec<Node>, ApiError>>()?;
        let mut problems = Problems::default();
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
        let at = |field: &str, index: usize| format!("{field}[{index}]");
        let deleted_nodes = self
            .delete_nodes
            .into_iter()
            .enumerate()
            .map(|(index, key)| Change::DeleteNode {
                key,
                at: at("delete_nodes", index),
            });
        let deleted_schedules =
            self.delete_schedules
                .into_iter()
                .enumerate()
                .map(|(index, key)| Change::DeleteSchedule {
                    key,
                    at: at("delete_schedules", index),
                });
        let mut problems = Problems::default();
        let mut seen = HashSet::new();
        for (index, recording) in self.recordings.iter().enumerate() {
            problems.length(
                &format!("recordings[{index}].name"),
                &recording.name,
                1,
                200,
            );
            problems.length(
                &format!("recordings[{index}].description"),
                &recording.description,
                0,
                500,
            );
            if recording.name.contains('\0') || recording.description.contains('\0') {
                problems.add(
                    format!("recordings[{index}]"),
                    "must not contain NUL characters",
                );
            }
            if !seen.insert(recording.name.as_str()) {
                problems.add(
                    format!("recordings[{index}].name"),
                    format!("{:?} is listed twice", recording.name),
                );
            }
        }
        let mut seen = HashSet::new();
        for (index, entry) in self.entries.iter().enumerate() {
            if !seen.insert(entry.did.as_str()) {
                problems.add(
                    format!("entries[{index}].did"),
                    format!("{} is listed twice", entry.did),
                );
            }
        }
        problems.finish("the changes")?;
        let recordings = self.recordings.into_iter().map(|r| Change::PutRecording {
            name: r.name,
            description: r.description,
            language: r.language,
        });
        let entries = self
            .entries
            .into_iter()
            .enumerate()
            .map(|(index, entry)| Change::SetEntry {
                did: entry.did,
                entry_node: Some(entry.entry_node),
                language: Some(entry.language),
                at: format!("entries[{index}].did"),
            });
        Ok(deleted_nodes
            .chain(deleted_schedules)
            .chain(recordings)
            .chain(self.schedules.into_iter().map(Change::PutSchedule))
            .chain(nodes.into_iter().map(Change::PutNode))
            .chain(entries)
            .chain(self.goodbye.map(Change::SetGoodbye))
            .collect())
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
    pub issues: Vec<FlowIssue>,
}

/// The answer of `/flow/changes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesApplied {
    /// The draft's issues after the changes: warnings, and errors the draft
    /// already had before (the changes added none).
    pub issues: Vec<FlowIssue>,
    /// The draft's revision after the changes (also the `ETag`).
    pub draft_revision: i64,
}

/// Check the tenant's draft, or the draft as the proposed changes would
/// make it (nothing is written). Open to every role.
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(TenantQuery),
    request_body(
        content = Option<FlowChanges>,
        description = "Optional: changes to apply in memory before checking (no body, or `null`: the draft as it is)",
        content_type = "application/json"
    ),
    responses(
        (status = 200, description = "Every issue of the (proposed) draft", body = Validation,
         example = json!({"valid": false, "issues": [
            {"severity": "error", "path": "nodes.main.routes[0].target", "message": "no node \"salse\""},
            {"severity": "warning", "path": "nodes.old_menu", "message": "no DID's entry node leads here"}
         ]})),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 422, description = "The changes contradict themselves, delete what does not exist, or a field is malformed (an unknown field or language, `25:00`: `details` gives its path); the flow's own problems are the 200's `issues`", body = ErrorBody),
    )
)]
#[post("/flow/validate")]
pub async fn validate_flow(
    state: web::Data<ApiState>,
    scope: TenantScope,
    body: OptionalJson<Option<FlowChanges>>,
) -> Result<web::Json<Validation>, ApiError> {
    let changes = body.0.unwrap_or_default().parse()?;
    let issues = flow_service::try_changes(&state.pool, scope.tenant_id, changes).await?;
    Ok(web::Json(Validation {
        valid: !issues.iter().any(|i| i.severity == Severity::Error),
        issues,
    }))
}

/// Write several nodes and schedules of the draft at once (editors): every
/// change is applied, or none. The draft is validated as a whole after all
/// of them, so nodes that refer to each other (a menu and the menu it goes
/// back to) can be created together. Deleting a node or schedule that the
/// result still uses is refused with 409, as through `DELETE`.
#[utoipa::path(
    tag = "flow",
    security(("bearer" = [])),
    params(TenantQuery, IfMatchHeader),
    request_body = FlowChanges,
    responses(
        (status = 200, description = "Written to the draft", body = ChangesApplied),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 409, description = "`stale_revision`: the draft changed since `If-Match`; `conflict`: a deleted node or schedule is still used (`details` names every user)", body = ErrorBody),
        (status = 422, description = "The draft would have new errors (every one in `details`), or a deletion names nothing; nothing was written", body = ErrorBody),
    )
)]
#[post("/flow/changes")]
pub async fn apply_changes(
    state: web::Data<ApiState>,
    scope: TenantScope,
    if_match: IfMatch,
    body: ApiJson<FlowChanges>,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let changes = body.0.parse()?;
    let edited = flow_service::edit(
        &state.pool,
        scope.tenant_id,
        if_match.0,
        &scope.caller.actor(),
        changes,
    )
    .await?;
    let answer = ChangesApplied {
        issues: edited.issues,
        draft_revision: edited.revision,
    };
    Ok(with_revision(HttpResponse::Ok(), edited.revision, &answer))
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
