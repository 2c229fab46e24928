//! [`AppError`]: why a command or query of the application layer did not happen. The engine's
//! refusals travel unchanged (the HTTP layer maps each to its problem type in `errors.rs`); the
//! application's own refusals (not found, out of the caller's scope, a conflicting request) are
//! the other variants. Either way nothing was written, except after `FailStopped` on a write:
//! its batch may still be on disk after a restart (the outcome is unknown).

use motcua_engine::log::LogError;
use motcua_engine::plan_service::PlanServiceError;
use motcua_engine::projection::ProjectionError;
use motcua_engine::service::ServiceError;

/// Everything the application layer can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The command service refused or failed (dossier and reference commands).
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The plan service refused or failed.
    #[error(transparent)]
    Plan(#[from] PlanServiceError),
    /// A read model could not be read.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// The log could not be read.
    #[error(transparent)]
    Log(#[from] LogError),
    /// No such dossier, staff member, token, calendar, plan ...
    #[error("not found: {0}")]
    NotFound(String),
    /// The caller may not do this (role, unit).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The request conflicts with the state or with a request in progress.
    #[error("conflict: {0}")]
    Conflict(String),
    /// An input refused by the application (the engine's own validation is `Service`).
    #[error("invalid {field}: {why}")]
    Invalid { field: String, why: String },
    /// An `Idempotency-Key` seen before with another request.
    #[error("Idempotency-Key reused with a different request body")]
    KeyReused,
    /// The log writer fail-stopped after a storage error: no write is accepted.
    #[error("the event log is fail-stopped after a storage error: {0}")]
    FailStopped(String),
    /// An upload went past its limit in bytes (nothing was kept).
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// An upload's bytes are of no accepted type (nothing was kept).
    #[error("unsupported file type: {0}")]
    UnsupportedType(String),
    /// A fault of this server, not of the request.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(field: impl Into<String>, why: impl Into<String>) -> AppError {
        AppError::Invalid {
            field: field.into(),
            why: why.into(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }
}
