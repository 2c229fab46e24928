//! Erasing personal data (xoá dữ liệu cá nhân), admin only: one person at their request, or a
//! retention sweep. The answer names the people erased by pseudonym only (the subject ids the
//! log records); the identity number sent is never echoed, stored or logged.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::idempotency::KeySpace;
use crate::app::personal::Erased;
use crate::app::Caller;
use crate::errors::ApiError;
use crate::extract::HashedJson;
use crate::reply::{self, Reply};
use crate::routes::roles::ADMINS;
use crate::state::AppState;

/// The longest identity number accepted (a CCCD has 12 digits, a passport 9 characters).
const MAX_ID_NUMBER_CHARS: usize = 20;

/// A person's request to erase their data.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureBody {
    /// The person's identity number (CCCD), as on their dossiers.
    #[schema(max_length = 20)]
    pub id_number: String,
    /// Why, under which request (one line, at most 500 characters; no personal data).
    #[serde(default)]
    pub note: String,
}

/// A retention sweep.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepBody {
    /// Erase everyone whose last dossier was sealed before this local day (today minus the
    /// retention period of the unit's records list; not after today).
    #[schema(value_type = String, format = Date)]
    pub sealed_before: NaiveDate,
    #[serde(default)]
    pub note: String,
}

fn erased_json(e: &Erased) -> serde_json::Value {
    serde_json::json!({
        "erased": e.subjects.iter().map(|s| s.to_hex()).collect::<Vec<_>>(),
        "count": e.subjects.len(),
        "last_seq": e.last_seq,
        "more": e.more,
    })
}

/// Erase one person's personal data at their request (Decree 13/2023/NĐ-CP), admin only.
#[utoipa::path(post, path = "/v1/personal/erasures", tag = "personal", request_body = ErasureBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403), (status = 404),
        (status = 422)))]
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: HashedJson<ErasureBody>,
) -> Result<Response, ApiError> {
    caller.require_any(&ADMINS)?;
    state.check_writable()?;
    let b = body.value()?;
    let id = b.id_number.trim().to_owned();
    if id.is_empty()
        || id.chars().count() > MAX_ID_NUMBER_CHARS
        || !id.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(ApiError::Validation {
            field: "id_number".into(),
            why: format!("1 to {MAX_ID_NUMBER_CHARS} letters or digits"),
        });
    }
    let app = state.app();
    let key = reply::idempotency_key(&headers)?;
    let caller = &caller;
    reply::run(
        app.idempotency(),
        caller,
        KeySpace::Staff,
        key,
        body.sha256,
        |_key| async move {
            let e = app.personal().erase_person(caller, &id, &b.note).await?;
            Ok(Reply::ok(erased_json(&e)))
        },
    )
    .await
}

/// Erase everyone whose retention period ended, admin only.
#[utoipa::path(post, path = "/v1/personal/retention-sweeps", tag = "personal",
    request_body = SweepBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403), (status = 422)))]
pub async fn sweep(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: HashedJson<SweepBody>,
) -> Result<Response, ApiError> {
    caller.require_any(&ADMINS)?;
    state.check_writable()?;
    let b = body.value()?;
    let app = state.app();
    let key = reply::idempotency_key(&headers)?;
    let caller = &caller;
    reply::run(
        app.idempotency(),
        caller,
        KeySpace::Staff,
        key,
        body.sha256,
        |_key| async move {
            let e = app
                .personal()
                .sweep(caller, b.sealed_before, &b.note)
                .await?;
            Ok(Reply::ok(erased_json(&e)))
        },
    )
    .await
}
