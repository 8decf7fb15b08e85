//! `POST /flow/simulate`: a scripted call walked through the draft, the
//! live flow or a version, by the very code the webhook answers with
//! (`crate::simulate`). Writes no call step and no CDR.

use actix_web::{post, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{TenantQuery, TenantScope};
use super::json::ApiJson;
use super::state::ApiState;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::flow_service::{self, Selector};
use crate::simulate::{Input, MAX_INPUTS, Script, Transcript, simulate};
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
    #[serde(default)]
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

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SimulatedEncoding {
    Json,
    XmlRpc,
}

impl SimulateRequest {
    /// The script and the flow selector, checked.
    pub fn script(&self) -> Result<(Selector, Script, Encoding), ApiError> {
        let selector = match &self.flow {
            None => Selector::Draft,
            Some(text) => Selector::parse("flow", text)?,
        };
        let at = match &self.at {
            None => Utc::now(),
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map_err(|_| {
                    ApiError::bad_field(
                        "at",
                        "an instant with its offset, e.g. 2026-12-01T10:00:00+02:00 (or Z for UTC)",
                    )
                })?
                .with_timezone(&Utc),
        };
        if self.inputs.len() > MAX_INPUTS {
            return Err(ApiError::validation(
                "too many inputs",
                vec![ErrorDetail {
                    path: "inputs".into(),
                    message: format!("at most {MAX_INPUTS} inputs ({} sent)", self.inputs.len()),
                }],
            ));
        }
        let mut problems = super::checks::Problems::default();
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for (index, text) in self.inputs.iter().enumerate() {
            match Input::parse(text) {
                Some(input) => inputs.push(input),
                None => problems.add(
                    format!("inputs[{index}]"),
                    "digits (1 to 20 of 0-9 * #), `silence` or `no_answer`",
                ),
            }
        }
        problems.finish("the inputs")?;
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
        (status = 400, description = "Malformed body: unknown field, `flow` not `draft`/`live`/a number, `at` without an offset", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such number of the tenant, no such version, or nothing published (`flow=live`)", body = ErrorBody),
        (status = 422, description = "More than 200 inputs, or an input that is not digits, `silence` or `no_answer` (`details`: `inputs[i]`)", body = ErrorBody),
    )
)]
#[post("/flow/simulate")]
pub async fn simulate_call(
    state: web::Data<ApiState>,
    scope: TenantScope,
    body: ApiJson<SimulateRequest>,
) -> Result<web::Json<Transcript>, ApiError> {
    let (selector, script, encoding) = body.0.script()?;
    let (flow, entry) =
        flow_service::simulation(&state.pool, scope.tenant_id, selector, &script.did).await?;
    Ok(web::Json(simulate(
        &flow,
        &entry,
        &script,
        encoding,
        &state.safe,
    )))
}
