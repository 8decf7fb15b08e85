//! `POST /voicenter[/{secret}]`: one call step or one end-of-call report.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;

use super::WebhookState;
use super::body::{BodyError, read_limited};
use super::fallback::safe_answer;
use super::guard::{self, Refusal};
use crate::flow::decide;
use crate::flow_cache::Lookup;
use crate::metrics::FallbackReason;
use crate::storage::steps::NewStep;
use crate::voicenter::types::{
    DecodeErrorCode, Encoding, HangupReport, IvrActionRequest, IvrAnswer, Request,
};
use crate::voicenter::{
    decode_request, detect_encoding, encode_answer, encode_error, encode_hangup_ack,
};

pub async fn voicenter(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<WebhookState>,
) -> HttpResponse {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let guessed = detect_encoding(&[], content_type);
    let peer = request.peer_addr().map(|addr| addr.ip());
    match guard::check(&state.settings, request.match_info().get("secret"), peer) {
        Ok(()) => {}
        Err(Refusal::NotFound) => {
            return reject(
                &state,
                guessed,
                StatusCode::NOT_FOUND,
                "not_found",
                "no webhook here",
            );
        }
        Err(Refusal::Forbidden) => {
            tracing::warn!(?peer, "webhook call from an address not allowed");
            return reject(
                &state,
                guessed,
                StatusCode::FORBIDDEN,
                "forbidden",
                "this address may not call the webhook",
            );
        }
    }
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let limit = state.settings.max_body_bytes;
    let body = match read_limited(payload, declared, limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            let message = format!("the body is larger than {limit} bytes");
            return reject(
                &state,
                guessed,
                StatusCode::PAYLOAD_TOO_LARGE,
                DecodeErrorCode::TooLarge.as_str(),
                &message,
            );
        }
        Err(BodyError::Broken) => {
            return reject(
                &state,
                guessed,
                StatusCode::BAD_REQUEST,
                DecodeErrorCode::Malformed.as_str(),
                "the body could not be read",
            );
        }
    };
    let encoding = detect_encoding(&body, content_type);
    match decode_request(&body, limit) {
        Ok((encoding, Request::IvrAction(step))) => answer_step(&state, encoding, step).await,
        Ok((encoding, Request::Hangup(report))) => store_report(&state, encoding, report).await,
        Err((_, error)) => {
            tracing::info!(code = %error.code, message = %error.message, "webhook request refused");
            let status = match error.code {
                DecodeErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            reject(
                &state,
                encoding,
                status,
                error.code.as_str(),
                &error.message,
            )
        }
    }
}

/// Anything but POST: 405 with `Allow: POST`, in the webhook's own error shape.
pub async fn wrong_method(state: web::Data<WebhookState>) -> HttpResponse {
    let mut response = reject(
        &state,
        Encoding::Json,
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
) -> HttpResponse {
    let deadline = state.settings.step_deadline();
    let answer = match tokio::time::timeout(deadline, state.cache.lookup(&step.did)).await {
        Ok(Lookup::Found(entry, tenant)) if tenant.active => {
            let decision = decide(&tenant.flow, &entry, &step, Utc::now());
            let answer = match &decision.problem {
                None => decision.answer,
                Some(problem) => {
                    tracing::error!(tenant_id = entry.tenant_id, call_id = %step.call_id, menu = %step.menu, ?problem, "flow could not answer");
                    fallback(
                        state,
                        &step,
                        decision.answer.language,
                        FallbackReason::BrokenFlow,
                    )
                }
            };
            state.steps.record(NewStep {
                tenant_id: entry.tenant_id,
                call_id: step.call_id.clone(),
                at: Utc::now(),
                did: step.did.clone(),
                caller_id: step.caller_id.clone(),
                menu: step.menu.clone(),
                dtmf: step.dtmf.clone(),
                node_key: decision.node.clone(),
                outcome: decision.outcome.as_str().to_owned(),
                action: answer.action.name().to_owned(),
            });
            answer
        }
        Ok(Lookup::Found(entry, tenant)) => {
            tracing::warn!(tenant_id = entry.tenant_id, did = %step.did, "call to a disabled tenant");
            fallback(
                state,
                &step,
                tenant.flow.language,
                FallbackReason::TenantDisabled,
            )
        }
        Ok(Lookup::UnknownDid) => {
            tracing::warn!(did = %step.did, call_id = %step.call_id, "call to a number no tenant owns");
            fallback(state, &step, Default::default(), FallbackReason::UnknownDid)
        }
        Ok(Lookup::Unavailable) | Err(_) => {
            tracing::error!(did = %step.did, call_id = %step.call_id, "flows unavailable; safe answer");
            fallback(
                state,
                &step,
                Default::default(),
                FallbackReason::Unavailable,
            )
        }
    };
    state
        .metrics
        .steps_answered
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    respond(StatusCode::OK, encoding, encode_answer(encoding, &answer))
}

fn fallback(
    state: &WebhookState,
    step: &IvrActionRequest,
    language: crate::voicenter::types::Language,
    reason: FallbackReason,
) -> IvrAnswer {
    state.metrics.count_fallback(reason);
    safe_answer(&state.settings, step, language, reason)
}

/// `HANGUP_CALL`: `STATUS 0` once the CDR is committed (or was already), else
/// `STATUS 1` with 503 so that Voicenter retries.
async fn store_report(
    state: &WebhookState,
    encoding: Encoding,
    report: HangupReport,
) -> HttpResponse {
    let call_id = report.call_id.clone();
    match state
        .cdrs
        .store(report.into(), state.settings.step_deadline())
        .await
    {
        Ok(()) => {
            state
                .metrics
                .cdrs_stored
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            respond(StatusCode::OK, encoding, encode_hangup_ack(encoding))
        }
        Err(error) => {
            state
                .metrics
                .cdrs_failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
    state
        .metrics
        .requests_rejected
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
