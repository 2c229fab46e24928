//! The one error type of the API, [`ApiError`], rendered as RFC 9457 `application/problem+json`,
//! and every mapping onto it: the application layer's [`AppError`] and the engine's refusals
//! (`ServiceError`, `DomainError`, `AppendError`, `PlanServiceError`, `PlanError`,
//! `ProjectionError`, `LogError`) as `From` impls, so handlers use `?`.
//!
//! Every variant has a stable `type` URI (`/problems/<slug>`) that clients can switch on; the
//! slug never changes once published, the human `title`/`detail` may. Extras carry what a client
//! needs to recover: the current state and allowed actions for an illegal transition, the
//! current version for a stale `If-Match`, the field and the reason for a validation error.
//! Handlers return `Result<_, ApiError>` and every write is one append after every check
//! passed, so a refusal (4xx) means nothing was written. A 503 `fail-stopped` is different: it
//! answers an append whose batch failed to become durable, and the bytes of that batch may still
//! be on disk after a restart, so its body says `outcome: "unknown"` and how to retry safely
//! (ARCHITECTURE.md, "What an error response means").
//!
//! What a client reads never names a file of the server: an internal error's and a fail-stop's
//! cause (an I/O error with the data directory's path, a sled message) goes to the operator's
//! log with the request id; the client gets a generic `detail`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use motcua_engine::domain::plan::{PlanError, PlanRefusal};
use motcua_engine::domain::DomainError;
use motcua_engine::log::{AppendError, LogError};
use motcua_engine::plan_service::PlanServiceError;
use motcua_engine::projection::ProjectionError;
use motcua_engine::retry::Contended;
use motcua_engine::service::ServiceError;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::app::AppError;

/// Media type of problem documents (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The `outcome` of an error answer after which the write may or may not be recorded.
pub const OUTCOME_UNKNOWN: &str = "unknown";

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
    /// `If-Match: *` on a resource that has no current representation (RFC 9110, 13.1.1).
    #[error("If-Match: * but {0} does not exist")]
    NothingToMatch(String),
    #[error("body too large (limit {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("request target too long (limit {limit} bytes)")]
    UriTooLong { limit: usize },
    #[error("request header fields too large (limit {limit} bytes)")]
    HeadersTooLarge { limit: usize },
    #[error("invalid {field}: {why}")]
    Validation { field: String, why: String },
    #[error("Idempotency-Key reused with a different request body")]
    IdempotencyKeyReused,
    #[error("the writer is overloaded, retry in {retry_after_s} s")]
    Overloaded { retry_after_s: u64 },
    #[error("too many requests from this address, retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    /// A daily quota of online submissions is used up (per account, per address, or the share
    /// of the unit's codes kept for the desk).
    #[error("{why}; retry in {retry_after_s} s")]
    QuotaExceeded { why: String, retry_after_s: u64 },
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The cause (which may name a file) is logged, never shown: see [`ApiError::body`].
    #[error("the event log stopped accepting writes after a storage error; this write may or may not have been recorded: retry it with the same Idempotency-Key once the server is back, and the answer will be the recorded one")]
    FailStopped(String),
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    #[error("method {method} not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    /// The cause is logged, never shown (it may name a file of the data directory).
    #[error("internal error; the server's log has the details under this answer's X-Request-Id")]
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
            ApiError::PreconditionFailed { .. } | ApiError::NothingToMatch(_) => {
                StatusCode::PRECONDITION_FAILED
            }
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation { .. } | ApiError::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Overloaded { .. }
            | ApiError::RateLimited { .. }
            | ApiError::QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ShuttingDown | ApiError::FailStopped(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
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
            ApiError::NothingToMatch(_) => "nothing-to-match",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::UriTooLong { .. } => "uri-too-long",
            ApiError::HeadersTooLarge { .. } => "headers-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Validation { .. } => "validation",
            ApiError::IdempotencyKeyReused => "idempotency-key-reused",
            ApiError::Overloaded { .. } => "overloaded",
            ApiError::RateLimited { .. } => "rate-limited",
            ApiError::QuotaExceeded { .. } => "quota-exceeded",
            ApiError::ShuttingDown => "shutting-down",
            ApiError::FailStopped(_) => "fail-stopped",
            ApiError::NotAcceptable(_) => "not-acceptable",
            ApiError::MethodNotAllowed { .. } => "method-not-allowed",
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
            ApiError::NothingToMatch(_) => "Nothing to match",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::UriTooLong { .. } => "URI too long",
            ApiError::HeadersTooLarge { .. } => "Request header fields too large",
            ApiError::UnsupportedMediaType(_) => "Unsupported media type",
            ApiError::Validation { .. } => "Validation failed",
            ApiError::IdempotencyKeyReused => "Idempotency key reused",
            ApiError::Overloaded { .. } => "Overloaded",
            ApiError::RateLimited { .. } => "Rate limited",
            ApiError::QuotaExceeded { .. } => "Quota exceeded",
            ApiError::ShuttingDown => "Shutting down",
            ApiError::FailStopped(_) => "Writer fail-stopped, outcome unknown",
            ApiError::NotAcceptable(_) => "Not acceptable",
            ApiError::MethodNotAllowed { .. } => "Method not allowed",
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
            ApiError::Overloaded { retry_after_s }
            | ApiError::RateLimited { retry_after_s }
            | ApiError::QuotaExceeded { retry_after_s, .. } => {
                m.insert("retry_after_s".into(), json!(retry_after_s));
            }
            ApiError::FailStopped(_) => {
                m.insert("outcome".into(), json!(OUTCOME_UNKNOWN));
            }
            _ => {}
        }
        Value::Object(m)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        match e {
            AppError::Service(e) => e.into(),
            AppError::Plan(e) => e.into(),
            AppError::Projection(e) => e.into(),
            AppError::Log(e) => e.into(),
            AppError::NotFound(why) => ApiError::NotFound(why),
            AppError::Forbidden(why) => ApiError::Forbidden(why),
            AppError::Conflict(why) => ApiError::Conflict(why),
            AppError::Invalid { field, why } => ApiError::Validation { field, why },
            AppError::KeyReused => ApiError::IdempotencyKeyReused,
            AppError::FailStopped(why) => ApiError::FailStopped(why),
            AppError::TooLarge { limit } => ApiError::PayloadTooLarge {
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            },
            AppError::UnsupportedType(why) => ApiError::UnsupportedMediaType(why),
            AppError::Internal(why) => ApiError::Internal(why),
        }
    }
}

/// A refusal of the command service.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        match e {
            ServiceError::Domain(d) => d.into(),
            ServiceError::StaleVersion { current } => ApiError::PreconditionFailed {
                current_version: current,
            },
            ServiceError::NotFound(code) => ApiError::NotFound(format!("no dossier {code}")),
            ServiceError::Contended(Contended { stream, attempts }) => ApiError::Conflict(format!(
                "{stream} kept changing; gave up after {attempts} attempts, retry"
            )),
            ServiceError::SequenceExhausted { unit, date } => ApiError::Conflict(format!(
                "the daily sequence of {unit} on {date} is exhausted"
            )),
            full @ ServiceError::OnlineShareExhausted { .. } => ApiError::QuotaExceeded {
                why: full.to_string(),
                retry_after_s: crate::app::clock::seconds_until_tomorrow(),
            },
            ServiceError::DuplicateEventId => ApiError::IdempotencyKeyReused,
            ServiceError::Append(a) => a.into(),
            other => ApiError::internal(other),
        }
    }
}

/// A daily quota of online submissions used up: available again the next local day.
impl From<crate::quota::QuotaError> for ApiError {
    fn from(e: crate::quota::QuotaError) -> ApiError {
        let retry_after_s = match e {
            crate::quota::QuotaError::Poisoned => crate::ratelimit::POISONED_RETRY_AFTER_S,
            _ => crate::app::clock::seconds_until_tomorrow(),
        };
        ApiError::QuotaExceeded {
            why: e.to_string(),
            retry_after_s,
        }
    }
}

/// A refusal of the domain.
impl From<DomainError> for ApiError {
    fn from(d: DomainError) -> ApiError {
        let detail = d.to_string();
        match d {
            DomainError::IllegalTransition {
                state,
                action,
                allowed,
            } => ApiError::IllegalTransition {
                detail,
                state,
                action,
                allowed_actions: allowed,
            },
            DomainError::Forbidden { .. }
            | DomainError::WrongField { .. }
            | DomainError::WrongUnit { .. }
            | DomainError::NotAssigned { .. }
            | DomainError::WrongSecret => ApiError::Forbidden(detail),
            DomainError::Validation { field, why } => ApiError::Validation { field, why },
            DomainError::UnknownProcedure { .. } => ApiError::validation("procedure", detail),
            DomainError::UnknownStaff(_) => ApiError::validation("specialist", detail),
            DomainError::SupplementLimit { .. } | DomainError::ApologyTooEarly { .. } => {
                ApiError::Conflict(detail)
            }
            // The reference data in force cannot decide this (no rule set for the date, a
            // procedure naming a workflow not loaded): the request may be fine, the state of the
            // reference data is not; nothing was written.
            DomainError::UnknownWorkflow(_) | DomainError::NoRuleSet(_) => {
                ApiError::Conflict(detail)
            }
        }
    }
}

/// A refusal of the log writer.
impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> ApiError {
        match e {
            AppendError::Overloaded => ApiError::Overloaded { retry_after_s: 1 },
            // A storage error on the write path fail-stops the writer (nothing of the batch is
            // acknowledged): the same 503 as every later write gets.
            AppendError::Failed(why) | AppendError::Storage(why) => ApiError::FailStopped(why),
            AppendError::Closed => ApiError::ShuttingDown,
            AppendError::WrongExpectedVersion { actual, .. } => ApiError::PreconditionFailed {
                current_version: actual,
            },
            // The domain bounds every field well under the log's limit; should a write still
            // exceed it, it is refused, not failed.
            AppendError::EventTooLarge { limit, .. } => ApiError::PayloadTooLarge { limit },
            AppendError::IdempotencyConflict { event_id } => ApiError::Conflict(format!(
                "event {event_id} already exists with different content (Idempotency-Key reused?)"
            )),
            other => ApiError::internal(other),
        }
    }
}

/// A refusal of the plan service.
impl From<PlanServiceError> for ApiError {
    fn from(e: PlanServiceError) -> ApiError {
        let detail = e.to_string();
        match e {
            PlanServiceError::Refused(r) => match r {
                PlanRefusal::Forbidden { .. } | PlanRefusal::OutOfScope { .. } => {
                    ApiError::Forbidden(detail)
                }
                PlanRefusal::NotFound(_) => ApiError::NotFound(detail),
                PlanRefusal::Plan(p) => p.into(),
                PlanRefusal::FutureTime { .. } => ApiError::validation("at", detail),
            },
            PlanServiceError::StaleVersion { current } => ApiError::PreconditionFailed {
                current_version: current,
            },
            PlanServiceError::Contended { .. } => ApiError::Conflict(format!("{detail}, retry")),
            PlanServiceError::DuplicateEventId => ApiError::IdempotencyKeyReused,
            PlanServiceError::Append(a) => a.into(),
            other => ApiError::internal(other),
        }
    }
}

/// A refusal of the plan domain.
impl From<PlanError> for ApiError {
    fn from(p: PlanError) -> ApiError {
        let detail = p.to_string();
        match p {
            PlanError::UnknownPlan(_) | PlanError::UnknownTask(_) => ApiError::NotFound(detail),
            PlanError::AlreadyIssued(_)
            | PlanError::DuplicateTask(_)
            | PlanError::TaskCancelled(_)
            | PlanError::Conflict { .. } => ApiError::Conflict(detail),
            PlanError::Invalid { task, why } => ApiError::validation(format!("task {task}"), why),
            PlanError::InvalidPlan(why) => ApiError::validation("plan", why),
        }
    }
}

/// A read model that cannot be read is this server's fault.
impl From<ProjectionError> for ApiError {
    fn from(e: ProjectionError) -> ApiError {
        ApiError::internal(e)
    }
}

/// A log that cannot be read is this server's fault.
impl From<LogError> for ApiError {
    fn from(e: LogError) -> ApiError {
        ApiError::internal(e)
    }
}

/// An RFC 9457 problem document (`application/problem+json`): every 4xx/5xx answer carries one.
/// The extras are present only for the problem types named in their descriptions.
// Only the OpenAPI schema (`openapi.rs` attaches it to every documented 4xx/5xx): `ApiError::body`
// writes the JSON, and a unit test checks every key it writes is a property here.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// `/problems/<slug>`, stable.
    #[schema(rename = "type", pattern = "^/problems/[a-z-]+$")]
    pub problem_type: String,
    pub title: String,
    /// The HTTP status, repeated.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    pub detail: String,
    /// illegal-transition: the dossier's state.
    pub current_state: Option<String>,
    /// illegal-transition: the refused action.
    pub action: Option<String>,
    /// illegal-transition: what the caller may do instead.
    pub allowed_actions: Option<Vec<String>>,
    /// stale-version: the stream's version now (also the `ETag`).
    pub current_version: Option<u64>,
    /// validation: the offending field.
    pub field: Option<String>,
    /// validation: why it was refused.
    pub why: Option<String>,
    /// overloaded, rate-limited, quota-exceeded: seconds to wait (also `Retry-After`).
    pub retry_after_s: Option<u64>,
    /// fail-stopped: `unknown`: the write may or may not have been recorded; retry it with the
    /// same `Idempotency-Key` (the one sent, or the one the server returned in the
    /// `Idempotency-Key` header) and the answer is the recorded outcome, never a second write.
    #[schema(pattern = "^unknown$")]
    pub outcome: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The cause goes to the operator's log (inside the request's span, with its id), never
        // to the client: it may name files of the data directory.
        match &self {
            ApiError::Internal(cause) => tracing::error!(%cause, "internal error"),
            ApiError::FailStopped(cause) => tracing::error!(%cause, "write refused: fail-stopped"),
            _ => {}
        }
        let status = self.status();
        let body = self.body().to_string();
        let mut resp = (status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            ApiError::Overloaded { retry_after_s }
            | ApiError::RateLimited { retry_after_s }
            | ApiError::QuotaExceeded { retry_after_s, .. } => {
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

    #[test]
    fn every_problem_key_is_in_the_documented_schema() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(Problem::schema()).unwrap();
        let props = schema["properties"].as_object().unwrap();
        let errors = [
            ApiError::IllegalTransition {
                detail: "d".into(),
                state: "Received".into(),
                action: "approve".into(),
                allowed_actions: vec![],
            },
            ApiError::PreconditionFailed { current_version: 3 },
            ApiError::validation("f", "w"),
            ApiError::RateLimited { retry_after_s: 1 },
            ApiError::Overloaded { retry_after_s: 1 },
            ApiError::MethodNotAllowed {
                method: "PUT".into(),
                path: "/v1/staff".into(),
            },
            ApiError::ShuttingDown,
            ApiError::FailStopped("fdatasync /data/db: EIO".into()),
            ApiError::QuotaExceeded {
                why: "w".into(),
                retry_after_s: 1,
            },
            ApiError::UriTooLong { limit: 1 },
            ApiError::HeadersTooLarge { limit: 1 },
            ApiError::NothingToMatch("x".into()),
        ];
        for e in errors {
            let body = e.body();
            for key in body.as_object().unwrap().keys() {
                assert!(
                    props.contains_key(key),
                    "{key} of {} undocumented",
                    e.slug()
                );
            }
            assert_eq!(body["status"], e.status().as_u16());
        }
        assert_eq!(
            ApiError::MethodNotAllowed {
                method: "PUT".into(),
                path: "/".into()
            }
            .status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn a_cause_naming_a_file_never_reaches_the_client() {
        for e in [
            ApiError::internal("cannot open /srv/motcua-data/db: Permission denied"),
            ApiError::FailStopped("fdatasync /srv/motcua-data/db: EIO".into()),
        ] {
            let body = e.body().to_string();
            assert!(!body.contains("/srv"), "{body}");
            assert!(!body.contains("EIO"), "{body}");
        }
        let b = ApiError::FailStopped("x".into()).body();
        assert_eq!(b["outcome"], "unknown");
        assert!(b["detail"].as_str().unwrap().contains("Idempotency-Key"));
    }
}
