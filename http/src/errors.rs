//! The one error type of the API, [`ApiError`], rendered as RFC 9457 `application/problem+json`.
//!
//! Every variant has a stable `type` URI (`/problems/<slug>`) that clients can switch on; the
//! slug never changes once published, the human `title`/`detail` may. Extras carry what a client
//! needs to recover: the current state and allowed actions for an illegal transition, the
//! current version for a stale `If-Match`, the field and the reason for a validation error.
//! Handlers return `Result<_, ApiError>` and only append after every check passed, so an error
//! response always means nothing was written.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// Media type of problem documents (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Everything an endpoint can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("authentication required: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("illegal transition: {detail}")]
    IllegalTransition {
        detail: String,
        state: String,
        action: String,
        allowed_actions: Vec<String>,
    },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("stale If-Match: current version is {current_version}")]
    PreconditionFailed { current_version: u64 },
    #[error("body too large (limit {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("invalid {field}: {why}")]
    Validation { field: String, why: String },
    #[error("Idempotency-Key reused with a different request body")]
    IdempotencyKeyReused,
    #[error("the writer is overloaded, retry in {retry_after_s} s")]
    Overloaded { retry_after_s: u64 },
    #[error("too many requests from this address, retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("the event log is fail-stopped after a storage error: {0}")]
    FailStopped(String),
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, why: impl Into<String>) -> ApiError {
        ApiError::Validation {
            field: field.into(),
            why: why.into(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(e.to_string())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::IllegalTransition { .. } | ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation { .. } | ApiError::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Overloaded { .. } | ApiError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::ShuttingDown | ApiError::FailStopped(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable slug of the problem type: the last segment of the `type` URI.
    pub fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "malformed-request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::IllegalTransition { .. } => "illegal-transition",
            ApiError::Conflict(_) => "conflict",
            ApiError::PreconditionFailed { .. } => "stale-version",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Validation { .. } => "validation",
            ApiError::IdempotencyKeyReused => "idempotency-key-reused",
            ApiError::Overloaded { .. } => "overloaded",
            ApiError::RateLimited { .. } => "rate-limited",
            ApiError::ShuttingDown => "shutting-down",
            ApiError::FailStopped(_) => "fail-stopped",
            ApiError::NotAcceptable(_) => "not-acceptable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "Malformed request",
            ApiError::Unauthorized(_) => "Authentication required",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound(_) => "Not found",
            ApiError::IllegalTransition { .. } => "Illegal transition",
            ApiError::Conflict(_) => "Conflict",
            ApiError::PreconditionFailed { .. } => "Stale version",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::UnsupportedMediaType(_) => "Unsupported media type",
            ApiError::Validation { .. } => "Validation failed",
            ApiError::IdempotencyKeyReused => "Idempotency key reused",
            ApiError::Overloaded { .. } => "Overloaded",
            ApiError::RateLimited { .. } => "Rate limited",
            ApiError::ShuttingDown => "Shutting down",
            ApiError::FailStopped(_) => "Writer fail-stopped",
            ApiError::NotAcceptable(_) => "Not acceptable",
            ApiError::Internal(_) => "Internal error",
        }
    }

    /// The problem document (without the HTTP framing).
    pub fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!(format!("/problems/{}", self.slug())));
        m.insert("title".into(), json!(self.title()));
        m.insert("status".into(), json!(self.status().as_u16()));
        m.insert("detail".into(), json!(self.to_string()));
        match self {
            ApiError::IllegalTransition {
                state,
                action,
                allowed_actions,
                ..
            } => {
                m.insert("current_state".into(), json!(state));
                m.insert("action".into(), json!(action));
                m.insert("allowed_actions".into(), json!(allowed_actions));
            }
            ApiError::PreconditionFailed { current_version } => {
                m.insert("current_version".into(), json!(current_version));
            }
            ApiError::Validation { field, why } => {
                m.insert("field".into(), json!(field));
                m.insert("why".into(), json!(why));
            }
            ApiError::Overloaded { retry_after_s } | ApiError::RateLimited { retry_after_s } => {
                m.insert("retry_after_s".into(), json!(retry_after_s));
            }
            _ => {}
        }
        Value::Object(m)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if matches!(self, ApiError::Internal(_)) {
            tracing::error!(error = %self, "internal error");
        }
        let status = self.status();
        let body = self.body().to_string();
        let mut resp = (status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            ApiError::Overloaded { retry_after_s } | ApiError::RateLimited { retry_after_s } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                    headers.insert(header::RETRY_AFTER, v);
                }
            }
            ApiError::ShuttingDown => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            ApiError::PreconditionFailed { current_version } => {
                if let Ok(v) = HeaderValue::from_str(&format!("\"{current_version}\"")) {
                    headers.insert(header::ETAG, v);
                }
            }
            ApiError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"motcua\""),
                );
            }
            _ => {}
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_bodies_carry_stable_types_and_extras() {
        let e = ApiError::IllegalTransition {
            detail: "approve from Received".into(),
            state: "Received".into(),
            action: "approve".into(),
            allowed_actions: vec!["assign".into()],
        };
        let b = e.body();
        assert_eq!(b["type"], "/problems/illegal-transition");
        assert_eq!(b["status"], 409);
        assert_eq!(b["current_state"], "Received");
        assert_eq!(b["allowed_actions"][0], "assign");
        let e = ApiError::PreconditionFailed { current_version: 7 };
        assert_eq!(e.body()["current_version"], 7);
        assert_eq!(e.status(), StatusCode::PRECONDITION_FAILED);
        let e = ApiError::validation("applicant.name", "must not be empty");
        assert_eq!(e.body()["field"], "applicant.name");
        assert_eq!(e.status().as_u16(), 422);
    }
}
