//! Staff directory over HTTP: every token holder reads it; admins register staff (the response
//! carries the new bearer token, shown once) and revoke tokens.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use motcua_engine::domain::types::{Field, Role, Staff, StaffId, UnitCode};
use motcua_engine::log::AppendError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::admin;
use crate::auth::{self, Caller};
use crate::engine::map_service_error;
use crate::errors::ApiError;
use crate::extract::{ApiPath, HashedJson};
use crate::idempotency::{self, Reply};
use crate::routes::views::now;
use crate::state::AppState;
use motcua_engine::domain::ActorRef;
use motcua_engine::idempotency::{CommandKey, KeyScope};
use motcua_engine::service::{Authority, ReferenceCommand};

/// A staff member (cán bộ).
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffJson {
    pub id: String,
    pub name: String,
    pub unit: String,
    pub roles: Vec<String>,
    pub fields: Vec<String>,
    pub active: bool,
}

impl From<&Staff> for StaffJson {
    fn from(s: &Staff) -> StaffJson {
        StaffJson {
            id: s.id.to_string(),
            name: s.name.clone(),
            unit: s.unit.to_string(),
            roles: s.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            fields: s.fields.iter().map(|f| f.to_string()).collect(),
            active: s.active,
        }
    }
}

/// List staff (danh sách cán bộ).
#[utoipa::path(get, path = "/v1/staff", tag = "reference",
    security(("bearer" = [])),
    responses((status = 200, body = [StaffJson]), (status = 401)))]
pub async fn list(State(state): State<AppState>, _caller: Caller) -> Json<Vec<StaffJson>> {
    Json(
        state
            .directory()
            .all_staff()
            .iter()
            .map(StaffJson::from)
            .collect(),
    )
}

/// New staff member.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    pub id: String,
    pub name: String,
    /// Unit code (default: the admin's unit).
    pub unit: Option<String>,
    pub roles: Vec<String>,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// A registered staff member and their token (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct NewStaffReply {
    pub staff: StaffJson,
    pub token: String,
    pub token_id: String,
}

pub(crate) fn map_append(e: AppendError) -> ApiError {
    match e {
        AppendError::Overloaded => ApiError::Overloaded { retry_after_s: 1 },
        // A storage error on the write path fail-stops the writer (nothing of the batch is
        // acknowledged): the same 503 as every later write gets.
        AppendError::Failed(why) | AppendError::Storage(why) => ApiError::FailStopped(why),
        AppendError::Closed => ApiError::ShuttingDown,
        AppendError::WrongExpectedVersion { actual, .. } => ApiError::PreconditionFailed {
            current_version: actual,
        },
        AppendError::IdempotencyConflict { event_id } => ApiError::Conflict(format!(
            "event {event_id} already exists with different content (Idempotency-Key reused?)"
        )),
        other => ApiError::internal(other),
    }
}

/// Register a staff member (thêm cán bộ), admin only; returns their bearer token once.
#[utoipa::path(post, path = "/v1/staff", tag = "reference", request_body = NewStaff,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 201, body = NewStaffReply), (status = 401), (status = 403),
        (status = 409), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: HashedJson<NewStaff>,
) -> Result<Response, ApiError> {
    caller.require_any(&[Role::Admin])?;
    state.check_writable()?;
    let b = body.value()?;
    let id: StaffId =
        b.id.parse()
            .map_err(|e| ApiError::validation("id", format!("{e}")))?;
    let unit: UnitCode = match b.unit {
        Some(u) => u
            .parse()
            .map_err(|e| ApiError::validation("unit", format!("{e}")))?,
        None => caller.unit().clone(),
    };
    let roles = b
        .roles
        .iter()
        .map(|r| r.parse::<Role>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::validation("roles", format!("{e}")))?;
    if roles.is_empty() {
        return Err(ApiError::validation("roles", "at least one role"));
    }
    let fields = b
        .fields
        .iter()
        .map(|f| f.parse::<Field>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::validation("fields", format!("{e}")))?;
    if b.name.trim().is_empty() {
        return Err(ApiError::validation("name", "must not be empty"));
    }
    let staff = Staff {
        id,
        name: b.name,
        unit,
        roles,
        fields,
        active: true,
    };
    let who = caller.id().to_string();
    let st = state.clone();
    let owner = who.clone();
    idempotency::run(
        st.idempotency(),
        &owner,
        &headers,
        body.sha256,
        |key| async move {
            // With a key the token is derived from it (and this server's salt), so a retry whose
            // stored response was lost would show the token the log recorded.
            let token = match &key {
                Some(k) => {
                    let mut seed = state.idempotency().salt().to_vec();
                    seed.extend_from_slice(format!("staff-token\0{who}\0{k}").as_bytes());
                    auth::token_from_bytes(auth::sha256(&seed))
                }
                None => auth::new_token(),
            };
            if state.directory().staff(&staff.id).is_some() {
                return Err(ApiError::Conflict(format!(
                    "staff member {} already exists",
                    staff.id
                )));
            }
            let admin = ActorRef::Staff(caller.staff.clone());
            let timer = state.metrics().append_started();
            let seq = admin::add_staff(
                state.engine().service(),
                &staff,
                &token,
                Authority::Admin(&admin),
                now(),
            )
            .await
            .map_err(map_service_error)?;
            timer.succeeded(2);
            state.wait_for_read_models(seq).await;
            Ok(Reply {
                status: StatusCode::CREATED,
                body: serde_json::to_value(NewStaffReply {
                    staff: StaffJson::from(&staff),
                    token: token.token,
                    token_id: token.token_id,
                })
                .map_err(ApiError::internal)?,
                etag: None,
                location: Some(format!("/v1/staff/{}", staff.id)),
            })
        },
    )
    .await
}

/// Revoke a token (thu hồi token), admin only.
#[utoipa::path(post, path = "/v1/staff/{id}/tokens/{token_id}/revoke", tag = "reference",
    params(("id" = String, Path), ("token_id" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403), (status = 404)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((id, token_id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require_any(&[Role::Admin])?;
    state.check_writable()?;
    let id: StaffId = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no staff {id}")))?;
    let staff = state
        .directory()
        .staff(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no staff {id}")))?;
    let who = caller.id().to_string();
    let sha = auth::sha256(format!("{id}\0{token_id}").as_bytes());
    let st = state.clone();
    let owner = who.clone();
    idempotency::run(st.idempotency(), &owner, &headers, sha, |key| async move {
        let admin = ActorRef::Staff(caller.staff.clone());
        let key = key.map(|k| CommandKey::new(KeyScope::Reference, &who, k));
        let o = state
            .engine()
            .service()
            .execute_reference_keyed(
                ReferenceCommand::RevokeToken {
                    staff: staff.id.clone(),
                    token_id: token_id.clone(),
                },
                Authority::Admin(&admin),
                now(),
                key.as_ref(),
            )
            .await
            .map_err(|e| match map_service_error(e) {
                // The path names a token this staff member never had: nothing to revoke, the
                // same 404 as an unknown staff id (it was an undocumented 422; schemathesis).
                ApiError::Validation { field, why } if field == "token_id" => {
                    ApiError::NotFound(format!("no token {token_id} of staff {}: {why}", staff.id))
                }
                other => other,
            })?;
        state.wait_for_read_models(o.seq).await;
        Ok(Reply::ok(
            serde_json::json!({"staff": staff.id, "token_id": token_id, "revoked": true}),
        ))
    })
    .await
}
