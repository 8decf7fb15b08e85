//! `POST /voicenter[/{secret}]`: one call step or one end-of-call report.

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use tokio::time::Instant;

use super::WebhookState;
use super::body::{BodyError, read_limited};
use super::fallback::flow_answer;
use super::guard::{self, Refusal};
use crate::flow::model::Rec;
use crate::flow::state::parse_menu;
use crate::flow_cache::Lookup;
use crate::metrics::FallbackReason;
use crate::storage::steps::NewStep;
use crate::voicenter::types::{
    DecodeError, DecodeErrorCode, Encoding, HangupReport, IvrActionRequest, IvrAnswer, Language,
    Request,
};
use crate::voicenter::{
    decode_request_sent_as, detect_encoding, encode_answer, encode_error, encode_hangup_ack,
};

/// The longest `IVR_UNIQUE_ID` accepted, in characters (the spec's are 32).
/// It is the key of CDRs and of the step log: a value of kilobytes cannot be
/// indexed, and such a report would be answered 503 (retry) for ever.
pub const MAX_CALL_ID_CHARS: usize = 128;
/// The longest `DID` accepted, in characters (the DID directory holds at most 32).
pub const MAX_DID_CHARS: usize = 64;

/// What `/metrics` files a webhook answer under, set by the code that
/// answers (a `Cell` on the stack: nothing allocated per request); left
/// as it starts, the request was refused.
#[derive(Debug, Clone, Copy)]
struct Measured {
    method: &'static str,
    outcome: &'static str,
}

const REFUSED: Measured = Measured {
    method: "refused",
    outcome: "refused",
};

type Measure = std::cell::Cell<Measured>;

pub async fn voicenter(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<WebhookState>,
) -> HttpResponse {
    let started = std::time::Instant::now();
    let measure = Measure::new(REFUSED);
    let response = answer(request, payload, &state, &measure).await;
    let Measured { method, outcome } = measure.get();
    state.metrics.observe_webhook(
        crate::metrics::WebhookLabels { method, outcome },
        started.elapsed().as_secs_f64(),
    );
    response
}

async fn answer(
    request: HttpRequest,
    payload: web::Payload,
    state: &WebhookState,
    measure: &Measure,
) -> HttpResponse {
    // The deadline covers the whole request, reading the body included: a
    // body that trickles in (or never ends) must not hold the request open.
    let deadline = Instant::now() + state.settings.step_deadline();
    let guessed = guessed_encoding(&request);
    if let Some(refused) = refusal(&request, state) {
        return refused;
    }
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let limit = state.settings.max_body_bytes;
    let body = match tokio::time::timeout_at(deadline, read_limited(payload, declared, limit)).await
    {
        Ok(Ok(body)) => body,
        Ok(Err(BodyError::TooLarge)) => {
            let message = format!("the body is larger than {limit} bytes");
            return reject(
                state,
                guessed,
                StatusCode::PAYLOAD_TOO_LARGE,
                DecodeErrorCode::TooLarge.as_str(),
                &message,
            );
        }
        Ok(Err(BodyError::Broken)) => {
            return reject(
                state,
                guessed,
                StatusCode::BAD_REQUEST,
                DecodeErrorCode::Malformed.as_str(),
                "the body could not be read",
            );
        }
        Err(_) => {
            tracing::info!(peer = ?request.peer_addr(), "webhook body not received within the deadline");
            let message = format!(
                "the body did not arrive within {} ms",
                state.settings.step_deadline_ms
            );
            let mut response = reject(
                state,
                guessed,
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                &message,
            );
            // The rest of the body may still be on its way: this connection is done.
            response
                .head_mut()
                .set_connection_type(ConnectionType::Close);
            return response;
        }
    };
    let decoded = decode_request_sent_as(&body, guessed_content_type(&request), limit).and_then(
        |(encoding, request)| {
            within_limits(&request)
                .map(|()| (encoding, request))
                .map_err(|error| (encoding, error))
        },
    );
    match decoded {
        Ok((encoding, Request::IvrAction(step))) => {
            answer_step(state, encoding, step, deadline, measure).await
        }
        Ok((encoding, Request::Hangup(report))) => {
            store_report(state, encoding, report, deadline, measure).await
        }
        Err((encoding, error)) => {
            tracing::info!(code = %error.code, message = %error.message, "webhook request refused");
            let status = match error.code {
                DecodeErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            reject(state, encoding, status, error.code.as_str(), &error.message)
        }
    }
}

fn guessed_content_type(request: &HttpRequest) -> Option<&str> {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// The encoding of an answer given before the body is read: from `Content-Type`.
fn guessed_encoding(request: &HttpRequest) -> Encoding {
    detect_encoding(&[], guessed_content_type(request))
}

/// The secret and the allow-list: the refusal to send, if any.
fn refusal(request: &HttpRequest, state: &WebhookState) -> Option<HttpResponse> {
    let peer = request.peer_addr().map(|addr| addr.ip());
    let guessed = guessed_encoding(request);
    match guard::check(&state.settings, request.match_info().get("secret"), peer) {
        Ok(()) => None,
        Err(Refusal::NotFound) => Some(reject(
            state,
            guessed,
            StatusCode::NOT_FOUND,
            "not_found",
            "no webhook here",
        )),
        Err(Refusal::Forbidden) => {
            tracing::warn!(?peer, "webhook call from an address not allowed");
            Some(reject(
                state,
                guessed,
                StatusCode::FORBIDDEN,
                "forbidden",
                "this address may not call the webhook",
            ))
        }
    }
}

/// Identifiers that are keys in the database must fit its indexes.
fn within_limits(request: &Request) -> Result<(), DecodeError> {
    let (did, call_id) = match request {
        Request::IvrAction(step) => (&step.did, &step.call_id),
        Request::Hangup(report) => (&report.did, &report.call_id),
    };
    for (name, value, max) in [
        ("IVR_UNIQUE_ID", call_id, MAX_CALL_ID_CHARS),
        ("DID", did, MAX_DID_CHARS),
    ] {
        if value.chars().nth(max).is_some() {
            return Err(DecodeError::new(
                DecodeErrorCode::InvalidField,
                format!("{name} is longer than {max} characters"),
            ));
        }
    }
    Ok(())
}

/// Anything but POST: 405 with `Allow: POST`, in the webhook's own error
/// shape and the encoding `Content-Type` names. The secret and the
/// allow-list are checked first, so a wrong method tells a stranger no more
/// than a wrong secret does.
pub async fn wrong_method(request: HttpRequest, state: web::Data<WebhookState>) -> HttpResponse {
    if let Some(refused) = refusal(&request, &state) {
        return refused;
    }
    let mut response = reject(
        &state,
        guessed_encoding(&request),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "the webhook takes POST only",
    );
    response.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static("POST"),
    );
    response
}

/// `GET_IVR_ACTION`: always a 200 with a valid action, within the deadline.
async fn answer_step(
    state: &WebhookState,
    encoding: Encoding,
    step: IvrActionRequest,
    deadline: Instant,
    measure: &Measure,
) -> HttpResponse {
    // The version the call is on travels in its MENU identifier.
    let version = parse_menu(&step.menu).and_then(|(_, call)| call.version);
    let lookup = state.cache.lookup(&step.did, version, deadline);
    let (answer, outcome) = match tokio::time::timeout_at(deadline, lookup).await {
        Ok(Lookup::Found(entry, flow)) => {
            let (decision, answer) = flow_answer(
                &flow.flow,
                &entry,
                &step,
                state.settings.clock.now(),
                &state.safe,
            );
            let mut outcome = "flow";
            if let Some(problem) = &decision.problem {
                tracing::error!(tenant_id = entry.tenant_id, call_id = %step.call_id, menu = %step.menu, ?problem, "flow could not answer");
                state.metrics.count_fallback(FallbackReason::BrokenFlow);
                outcome = FallbackReason::BrokenFlow.as_str();
            }
            state.steps.record(NewStep {
                tenant_id: entry.tenant_id,
                call_id: step.call_id.clone(),
                at: Utc::now(),
                did: step.did.clone(),
                caller_id: step.caller_id.clone(),
                menu: step.menu.clone(),
                dtmf: step.dtmf.clone(),
                from_node: decision.from.clone(),
                node_key: decision.node.clone(),
                outcome: decision.outcome.as_str().to_owned(),
                action: answer.action.name().to_owned(),
                flow_version: flow.flow.version,
                fallback: decision
                    .problem
                    .as_ref()
                    .map(|_| FallbackReason::BrokenFlow.as_str()),
            });
            (answer, outcome)
        }
        Ok(Lookup::Disabled(tenant)) => {
            tracing::warn!(tenant_id = tenant.tenant_id, did = %step.did, "call to a disabled tenant");
            let reason = FallbackReason::TenantDisabled;
            fallback(
                state,
                &step,
                Some(tenant.tenant_id),
                tenant.language,
                reason,
                None,
            )
        }
        Ok(Lookup::NotPublished(tenant)) => {
            tracing::warn!(tenant_id = tenant.tenant_id, did = %step.did, "call to a tenant that has published no flow");
            let reason = FallbackReason::NotPublished;
            fallback(
                state,
                &step,
                Some(tenant.tenant_id),
                tenant.language,
                reason,
                None,
            )
        }
        Ok(Lookup::UnknownVersion(tenant, goodbye)) => {
            tracing::warn!(tenant_id = tenant.tenant_id, call_id = %step.call_id, menu = %step.menu, "MENU names a flow version the tenant does not have");
            let language = call_language(&step, tenant.language);
            let reason = FallbackReason::UnknownVersion;
            let tenant_id = Some(tenant.tenant_id);
            fallback(state, &step, tenant_id, language, reason, goodbye.as_ref())
        }
        Ok(Lookup::VersionUnavailable(tenant, goodbye)) => {
            let language = call_language(&step, tenant.language);
            let reason = FallbackReason::VersionUnavailable;
            let tenant_id = Some(tenant.tenant_id);
            fallback(state, &step, tenant_id, language, reason, goodbye.as_ref())
        }
        Ok(Lookup::UnknownDid) => {
            tracing::warn!(did = %step.did, call_id = %step.call_id, "call to a number no tenant owns");
            let reason = FallbackReason::UnknownDid;
            fallback(state, &step, None, Default::default(), reason, None)
        }
        Ok(Lookup::Unavailable) | Err(_) => {
            tracing::error!(did = %step.did, call_id = %step.call_id, "flows unavailable; safe answer");
            let language = call_language(&step, Default::default());
            let reason = FallbackReason::Unavailable;
            fallback(state, &step, None, language, reason, None)
        }
    };
    state.metrics.steps_answered.inc();
    measure.set(Measured {
        method: "GET_IVR_ACTION",
        outcome,
    });
    respond(StatusCode::OK, encoding, encode_answer(encoding, &answer))
}

/// The safe answer, counted in the metrics and, when the tenant is known,
/// logged as the call's step (with its reason: alerts on safe answers read it).
fn fallback(
    state: &WebhookState,
    step: &IvrActionRequest,
    tenant_id: Option<i64>,
    language: Language,
    reason: FallbackReason,
    goodbye: Option<&Rec>,
) -> (IvrAnswer, &'static str) {
    state.metrics.count_fallback(reason);
    let answer = state.safe.answer(step, language, reason, goodbye);
    if let Some(tenant_id) = tenant_id {
        state.steps.record(NewStep {
            tenant_id,
            call_id: step.call_id.clone(),
            at: Utc::now(),
            did: step.did.clone(),
            caller_id: step.caller_id.clone(),
            menu: step.menu.clone(),
            dtmf: step.dtmf.clone(),
            from_node: None,
            node_key: None,
            outcome: SAFE_ANSWER_OUTCOME.to_owned(),
            action: answer.action.name().to_owned(),
            flow_version: None,
            fallback: Some(reason.as_str()),
        });
    }
    (answer, reason.as_str())
}

/// The step log's outcome of a step the flow did not answer (see `fallback`).
pub const SAFE_ANSWER_OUTCOME: &str = "safe_answer";

/// The language the call is in, as its MENU identifier says (the
/// caller's choice), else `otherwise`.
fn call_language(step: &IvrActionRequest, otherwise: Language) -> Language {
    parse_menu(&step.menu)
        .and_then(|(_, call)| call.language)
        .unwrap_or(otherwise)
}

/// `HANGUP_CALL`: `STATUS 0` once the CDR is committed (or was already), else
/// `STATUS 1` with 503 so that Voicenter retries.
async fn store_report(
    state: &WebhookState,
    encoding: Encoding,
    report: HangupReport,
    deadline: Instant,
    measure: &Measure,
) -> HttpResponse {
    let call_id = report.call_id.clone();
    if !report.unreadable.is_empty() {
        tracing::warn!(%call_id, fields = ?report.unreadable, "CDR numbers that are not integers stored as null (kept in raw)");
    }
    let budget = deadline.saturating_duration_since(Instant::now());
    match state.cdrs.store(report.into(), budget).await {
        Ok(()) => {
            state.metrics.cdrs_stored.inc();
            let ack = respond(StatusCode::OK, encoding, encode_hangup_ack(encoding));
            measure.set(Measured {
                method: "HANGUP_CALL",
                outcome: "stored",
            });
            ack
        }
        Err(error) => {
            state.metrics.cdrs_failed.inc();
            tracing::error!(%call_id, %error, "CDR not stored; asking the sender to retry");
            let mut response = respond(
                StatusCode::SERVICE_UNAVAILABLE,
                encoding,
                encode_error(
                    encoding,
                    "unavailable",
                    "the report could not be stored; retry later",
                ),
            );
            response.headers_mut().insert(
                RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("1"),
            );
            measure.set(Measured {
                method: "HANGUP_CALL",
                outcome: "failed",
            });
            response
        }
    }
}

fn reject(
    state: &WebhookState,
    encoding: Encoding,
    status: StatusCode,
    code: &str,
    message: &str,
) -> HttpResponse {
    state.metrics.requests_rejected.inc();
    respond(status, encoding, encode_error(encoding, code, message))
}

fn respond(status: StatusCode, encoding: Encoding, body: Vec<u8>) -> HttpResponse {
    let content_type = match encoding {
        Encoding::XmlRpc => "text/xml; charset=utf-8",
        Encoding::Json => "application/json",
    };
    HttpResponse::build(status)
        .content_type(content_type)
        .body(body)
}
