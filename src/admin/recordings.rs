//! `/recordings`: the tenant's catalogue of recordings, the file names that
//! the REC fields of its nodes play. A node naming a recording missing from
//! the catalogue does not validate; a recording still played cannot be deleted.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit_api::record_object;
use super::checks::Problems;
use super::extract::{TenantQuery, TenantScope};
use super::flow_validation::{nullable, path_text, text_cursor};
use super::json::ApiJson;
use super::pagination::{Page, PageQuery, page};
use super::state::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::storage::flows::{self, RecordingRow};
use crate::voicenter::types::Language;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordingView {
    /// The file name Voicenter plays, as written in REC fields.
    #[schema(example = "main_menu")]
    pub name: String,
    #[schema(example = "Welcome: 1 sales, 2 support")]
    pub description: String,
    /// The language spoken; absent: none in particular.
    pub language: Option<Language>,
    pub created_at: DateTime<Utc>,
}

impl From<RecordingRow> for RecordingView {
    fn from(row: RecordingRow) -> RecordingView {
        RecordingView {
            name: row.name,
            description: row.description,
            language: row.language.as_deref().and_then(Language::parse),
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRecording {
    /// 1 to 200 characters, no `/`, no control characters, no surrounding spaces.
    #[schema(
        example = "main_menu",
        min_length = 1,
        max_length = 200,
        pattern = "^[^/\\s\\x00-\\x1f\\x7f-\\x9f]([^/\\x00-\\x1f\\x7f-\\x9f]*[^/\\s\\x00-\\x1f\\x7f-\\x9f])?$"
    )]
    pub name: String,
    /// Up to 500 characters.
    #[serde(default)]
    #[schema(
        example = "Welcome: 1 sales, 2 support",
        max_length = 500,
        pattern = "^[^\\x00]*$"
    )]
    pub description: String,
    #[serde(default)]
    pub language: Option<Language>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRecording {
    /// Up to 500 characters.
    #[schema(max_length = 500, pattern = "^[^\\x00]*$")]
    pub description: Option<String>,
    /// `null` removes the language.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Language>)]
    pub language: Option<Option<Language>>,
}

fn check_name(problems: &mut Problems, name: &str) {
    problems.length("name", name, 1, 200);
    if name.contains('/') || name.chars().any(char::is_control) {
        problems.add("name", "must not contain `/` or control characters");
    }
    if name.trim() != name {
        problems.add("name", "must not start or end with spaces");
    }
}

fn check_description(problems: &mut Problems, description: &str) {
    problems.length("description", description, 0, 500);
    if description.contains('\0') {
        problems.add("description", "must not contain NUL characters");
    }
}

/// List the tenant's recordings by name.
#[utoipa::path(
    tag = "recordings",
    security(("bearer" = [])),
    params(TenantQuery, PageQuery),
    responses(
        (status = 200, description = "A page of recordings", body = Page<RecordingView>),
        (status = 400, description = "Bad `limit`, `cursor` or `tenant_id`", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
    )
)]
#[get("/recordings")]
pub async fn list_recordings(
    state: web::Data<ApiState>,
    scope: TenantScope,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<RecordingView>>, ApiError> {
    let limit = query.limit()?;
    let after = text_cursor(&query)?;
    let rows =
        flows::list_recordings(&state.pool, scope.tenant_id, &after, i64::from(limit) + 1).await?;
    Ok(web::Json(page(
        rows,
        limit,
        |row| row.name.clone(),
        RecordingView::from,
    )))
}

/// Read a recording.
#[utoipa::path(
    tag = "recordings",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The recording's name"), TenantQuery),
    responses(
        (status = 200, description = "The recording", body = RecordingView),
        (status = 400, description = "Malformed query parameter (e.g. `?tenant_id=`)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such recording (or not yours)", body = ErrorBody),
    )
)]
#[get("/recordings/{name}")]
pub async fn get_recording(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<String>,
) -> Result<web::Json<RecordingView>, ApiError> {
    let row = flows::recording(&state.pool, scope.tenant_id, &path_text(path)?)
        .await?
        .ok_or_else(|| ApiError::not_found("recording"))?;
    Ok(web::Json(row.into()))
}

/// Add a recording to the catalogue (editors).
#[utoipa::path(
    tag = "recordings",
    security(("bearer" = [])),
    params(TenantQuery),
    request_body = CreateRecording,
    responses(
        (status = 201, description = "Created", body = RecordingView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such tenant (or not yours)", body = ErrorBody),
        (status = 409, description = "A recording with this name exists", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
#[post("/recordings")]
pub async fn create_recording(
    state: web::Data<ApiState>,
    scope: TenantScope,
    body: ApiJson<CreateRecording>,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let CreateRecording {
        name,
        description,
        language,
    } = body.0;
    let mut problems = Problems::default();
    check_name(&mut problems, &name);
    check_description(&mut problems, &description);
    problems.finish("the recording")?;
    let mut tx = state.pool.begin().await?;
    let row = flows::insert_recording(&mut tx, scope.tenant_id, &name, &description, language)
        .await
        .map_err(|error| match ApiError::from(error) {
            conflict if conflict.code() == "conflict" => {
                ApiError::conflict(format!("a recording {name:?} exists"))
            }
            other => other,
        })?;
    let view = RecordingView::from(row);
    record_object(&mut tx, &scope, "recording", &name, None, Some(&view)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(view))
}

/// Change a recording's description or language (editors).
#[utoipa::path(
    tag = "recordings",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The recording's name"), TenantQuery),
    request_body = UpdateRecording,
    responses(
        (status = 200, description = "Changed", body = RecordingView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such recording (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
#[patch("/recordings/{name}")]
pub async fn update_recording(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<String>,
    body: ApiJson<UpdateRecording>,
) -> Result<web::Json<RecordingView>, ApiError> {
    scope.require_editor()?;
    let name = path_text(path)?;
    let UpdateRecording {
        description,
        language,
    } = body.0;
    let mut problems = Problems::default();
    if let Some(description) = &description {
        check_description(&mut problems, description);
    }
    problems.finish("the recording")?;
    let mut tx = state.pool.begin().await?;
    let before = flows::recording(&mut *tx, scope.tenant_id, &name)
        .await?
        .ok_or_else(|| ApiError::not_found("recording"))?;
    let row = flows::update_recording(
        &mut tx,
        scope.tenant_id,
        &name,
        description.as_deref(),
        language,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("recording"))?;
    let (before, after) = (RecordingView::from(before), RecordingView::from(row));
    record_object(
        &mut tx,
        &scope,
        "recording",
        &name,
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(web::Json(after))
}

/// Remove a recording from the catalogue (editors). Refused while nodes
/// play it: the 409's `details` names every field that does.
#[utoipa::path(
    tag = "recordings",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The recording's name"), TenantQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed query parameter (e.g. `?tenant_id=`)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Viewers may not change flows", body = ErrorBody),
        (status = 404, description = "No such recording (or not yours)", body = ErrorBody),
        (status = 409, description = "Still played by the draft or by a version a call may still be on (the live one, and those replaced in the last 24 hours): `details` lists the node fields (`nodes.<key>.prompt.rec`, `versions.<n>.nodes.<key>.rec`...)", body = ErrorBody),
    )
)]
#[delete("/recordings/{name}")]
pub async fn delete_recording(
    state: web::Data<ApiState>,
    scope: TenantScope,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    scope.require_editor()?;
    let name = path_text(path)?;
    let mut tx = state.pool.begin().await?;
    if flows::recording(&mut *tx, scope.tenant_id, &name)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("recording"));
    }
    // Under the flow's lock: a node write naming this recording either
    // committed before (and is seen here) or waits and then misses it.
    crate::flow_service::refuse_deleting_used_recording(&mut tx, scope.tenant_id, &name).await?;
    let row = flows::delete_recording(&mut tx, scope.tenant_id, &name)
        .await?
        .ok_or_else(|| ApiError::not_found("recording"))?;
    let before = RecordingView::from(row);
    record_object(&mut tx, &scope, "recording", &name, Some(&before), None).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
