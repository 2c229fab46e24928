//! Signed checkpoints of the log's head (`docs/checkpoints.md`): the list and one file for
//! auditors and admins (to copy them away from the server), and `POST /v1/checkpoints` for an
//! admin to sign now. Signing reads the whole log on a blocking thread; it is safe to retry (a
//! head already signed answers 200 with `signed: false` and the checkpoint that holds it).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::checkpoints::{CheckpointsError, MAX_LISTED};
use crate::app::Caller;
use crate::errors::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::roles::{ADMINS, LOG_READERS};
use crate::state::AppState;

/// Checkpoints a list answer holds when the query does not say.
pub const DEFAULT_LISTED: usize = 30;

impl From<CheckpointsError> for ApiError {
    fn from(e: CheckpointsError) -> ApiError {
        match e {
            CheckpointsError::EmptyLog | CheckpointsError::Moved => {
                ApiError::Conflict(e.to_string())
            }
            other => ApiError::internal(other),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// How many, newest first (1 to 100, default 30).
    pub limit: Option<usize>,
}

/// The newest signed checkpoints (mốc kiểm chứng), newest first, and the unit's public keys
/// (current first; retired ones still verify old checkpoints). Auditor, admin.
#[utoipa::path(get, path = "/v1/checkpoints", tag = "log", params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403), (status = 422)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    caller.require_any(&LOG_READERS)?;
    let limit = q.limit.unwrap_or(DEFAULT_LISTED);
    if limit == 0 || limit > MAX_LISTED {
        return Err(ApiError::validation(
            "limit",
            format!("from 1 to {MAX_LISTED}"),
        ));
    }
    let cps = state.checkpoints().clone();
    let (checkpoints, keys) = tokio::task::spawn_blocking(move || {
        Ok::<_, CheckpointsError>((cps.list(limit)?, cps.keys().public_keys()?))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(serde_json::json!({ "checkpoints": checkpoints, "keys": keys })).into_response())
}

/// One signed checkpoint, exactly the file `checkpoints/<seq>.json` (auditor, admin).
#[utoipa::path(get, path = "/v1/checkpoints/{seq}", tag = "log",
    params(("seq" = u64, Path, description = "The seq the checkpoint was signed at")),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(seq): ApiPath<String>,
) -> Result<Response, ApiError> {
    caller.require_any(&LOG_READERS)?;
    let not_found = || ApiError::NotFound(format!("no checkpoint at seq {seq}"));
    let n: u64 = seq.parse().map_err(|_| not_found())?;
    let cps = state.checkpoints().clone();
    let cp = tokio::task::spawn_blocking(move || cps.get(n))
        .await
        .map_err(ApiError::internal)??
        .ok_or_else(not_found)?;
    Ok(Json(cp).into_response())
}

/// Sign the log's head now (admin): 201 with the new checkpoint, or 200 with `signed: false`
/// and the last checkpoint when it already holds this head; 409 on an empty log.
#[utoipa::path(post, path = "/v1/checkpoints", tag = "log",
    security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 200, body = Object), (status = 401),
        (status = 403), (status = 409)))]
pub async fn sign(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_any(&ADMINS)?;
    let signed = state.checkpoints().sign().await?;
    let status = if signed.signed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(signed)).into_response())
}
