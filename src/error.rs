//! One error type for the REST API: every failure is answered as
//! `{"error": {"code", "message", "details": [{"path", "message"}]}}` with the
//! right status. Internal errors are logged with their cause and answered
//! with an opaque 500.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "validation_failed", "message": "the flow has 1 problem", "details": [{"path": "nodes.main.routes[0].target", "message": "node \"salse\" does not exist"}]}}))]
pub struct ErrorBody {
    pub error: ErrorContent,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorContent {
    /// Stable, machine-readable: see the table in the API description.
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// Per-field problems, when there are any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
    /// `tests_failed`: each failing flow test with its failures and the
    /// transcript of its simulated call.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<crate::flow_tests::TestResult>>)]
    pub failed_tests: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct ErrorDetail {
    /// Where the problem is, e.g. `routes[2].target` or `email`.
    pub path: String,
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<ErrorDetail>,
    retry_after_secs: Option<u64>,
    failed_tests: Option<serde_json::Value>,
}

/// The error codes of the API, with their statuses.
pub const ERROR_CODES: [(&str, u16, &str); 16] = [
    (
        "bad_request",
        400,
        "The request is malformed: a body that is not JSON (or not the Content-Type asked for), a bad query parameter or header.",
    ),
    (
        "unauthenticated",
        401,
        "No valid access token: missing, expired, tampered with, or for another audience.",
    ),
    (
        "invalid_credentials",
        401,
        "Wrong email or password, or a disabled account.",
    ),
    (
        "invalid_refresh_token",
        401,
        "The refresh token is unknown, expired, revoked or was already used.",
    ),
    ("forbidden", 403, "Your role may not do this."),
    ("not_found", 404, "No such object (or not yours)."),
    (
        "method_not_allowed",
        405,
        "This path does not take this method.",
    ),
    (
        "conflict",
        409,
        "The object already exists, or is still referenced.",
    ),
    (
        "stale_revision",
        409,
        "The flow's draft changed since the revision you sent (`If-Match` or `draft_revision`): read it again, then retry.",
    ),
    (
        "nothing_to_publish",
        409,
        "The draft (or the version to roll back to) is exactly the live version: no version was made.",
    ),
    ("payload_too_large", 413, "The body is too large."),
    (
        "validation_failed",
        422,
        "The body is JSON but breaks a rule: a missing, unknown or mistyped field, a value out of its form (`25:00`), a flow that would not work; `details` gives each path.",
    ),
    (
        "tests_failed",
        422,
        "Flow tests fail on the draft: nothing was published (`details` per test, `failed_tests` with transcripts); fix them, or publish with `force`.",
    ),
    (
        "too_many_requests",
        429,
        "Too many failed attempts: wait `Retry-After` seconds.",
    ),
    (
        "unavailable",
        503,
        "Busy for a moment (a diagram being drawn): retry shortly.",
    ),
    (
        "internal",
        500,
        "Something broke on our side; it has been logged.",
    ),
];

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after_secs: None,
            failed_tests: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// A JSON body that parses but whose field at `path` is wrong (a
    /// missing or unknown field, a wrong type, a value out of its form):
    /// 422, like every other rule a well-formed body breaks.
    pub fn invalid_field(path: impl Into<String>, message: impl Into<String>) -> ApiError {
        let message = message.into();
        let path = path.into();
        let summary = if path.is_empty() {
            message.clone()
        } else {
            format!("{path}: {message}")
        };
        ApiError::validation(summary, vec![ErrorDetail { path, message }])
    }

    pub fn bad_field(path: impl Into<String>, message: impl Into<String>) -> ApiError {
        let message = message.into();
        let mut error = ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message.clone());
        error.details.push(ErrorDetail {
            path: path.into(),
            message,
        });
        error
    }

    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn invalid_credentials() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong email or password",
        )
    }

    pub fn invalid_refresh_token() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_refresh_token",
            "the refresh token is not valid; log in again",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn conflict_with(message: impl Into<String>, details: Vec<ErrorDetail>) -> ApiError {
        ApiError {
            details,
            ..ApiError::conflict(message)
        }
    }

    pub fn stale_revision(sent: i64, current: i64) -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            "stale_revision",
            format!(
                "the draft is at revision {current}, not {sent}: read it again (GET /flow) and retry"
            ),
        )
    }

    pub fn nothing_to_publish(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "nothing_to_publish", message)
    }

    pub fn validation(message: impl Into<String>, details: Vec<ErrorDetail>) -> ApiError {
        ApiError {
            details,
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message,
            )
        }
    }

    pub fn tests_failed(results: &[crate::flow_tests::TestResult]) -> ApiError {
        let failing: Vec<&crate::flow_tests::TestResult> =
            results.iter().filter(|r| !r.passed).collect();
        let count = failing.len();
        let plural = if count == 1 {
            "test fails"
        } else {
            "tests fail"
        };
        ApiError {
            details: crate::flow_tests::failure_details(results),
            // The transcripts of the first ten (a body of bounded size).
            failed_tests: serde_json::to_value(failing.iter().take(10).collect::<Vec<_>>()).ok(),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "tests_failed",
                format!(
                    "{count} flow {plural} on the draft; nothing was published (or publish with force)"
                ),
            )
        }
    }

    pub fn too_many_requests(retry_after_secs: u64) -> ApiError {
        ApiError {
            retry_after_secs: Some(retry_after_secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many failed attempts; try again later",
            )
        }
    }

    pub fn payload_too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {limit} bytes"),
        )
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this path does not take this method",
        )
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// Logs the cause; the client sees nothing of it.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn details(&self) -> &[ErrorDetail] {
        &self.details
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = ErrorBody {
            error: ErrorContent {
                code: self.code,
                message: self.message.clone(),
                details: self.details.clone(),
                failed_tests: self.failed_tests.clone(),
            },
        };
        let mut response = HttpResponse::build(self.status).json(body);
        if let Some(value) = self
            .retry_after_secs
            .and_then(|secs| HeaderValue::from_str(&secs.to_string()).ok())
        {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        response
    }
}

/// Database errors: unique and foreign-key violations are the client's
/// conflict; anything else is ours.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> ApiError {
        if let sqlx::Error::Database(db) = &error {
            match db.code().as_deref() {
                Some("23505") => {
                    return ApiError::conflict("an object with this name already exists");
                }
                Some("23503") => {
                    return ApiError::conflict(
                        "the object is still referenced, or refers to something missing",
                    );
                }
                _ => {}
            }
        }
        ApiError::internal(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code the constructors give is in the table, with its status:
    /// the table (which the API description shows) is the one list.
    #[test]
    fn every_error_is_in_the_code_table() {
        let errors = [
            ApiError::bad_request("x"),
            ApiError::bad_field("p", "x"),
            ApiError::unauthenticated("x"),
            ApiError::invalid_credentials(),
            ApiError::invalid_refresh_token(),
            ApiError::forbidden("x"),
            ApiError::not_found("x"),
            ApiError::method_not_allowed(),
            ApiError::conflict("x"),
            ApiError::stale_revision(1, 2),
            ApiError::nothing_to_publish("x"),
            ApiError::payload_too_large(1),
            ApiError::validation("x", Vec::new()),
            ApiError::too_many_requests(1),
            ApiError::tests_failed(&[]),
            ApiError::unavailable("x"),
            ApiError::internal("x"),
        ];
        for error in &errors {
            assert!(
                ERROR_CODES.iter().any(
                    |(code, status, _)| *code == error.code && *status == error.status.as_u16()
                ),
                "{} ({}) is not in ERROR_CODES",
                error.code,
                error.status
            );
        }
        for (code, _, _) in ERROR_CODES {
            assert!(
                errors.iter().any(|e| e.code == code),
                "{code} is given by nothing"
            );
        }
    }
}
