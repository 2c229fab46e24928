//! Staff directory over HTTP: every token holder reads it; admins register staff (the response
//! carries the new bearer token, shown once) and revoke tokens.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use motcua_engine::domain::types::{Staff, StaffId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::idempotency::KeySpace;
use crate::app::staff::StaffDraft;
use crate::app::Caller;
use crate::crypto::sha256;
use crate::errors::ApiError;
use crate::extract::{ApiPath, HashedJson};
use crate::reply::{self, Reply};
use crate::routes::roles::ADMINS;
use crate::state::AppState;

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
    responses((status = 200, body = [StaffJson]), (status = 401), (status = 403)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<StaffJson>>, ApiError> {
    let staff = state.app().staff().list(&caller)?;
    Ok(Json(staff.iter().map(StaffJson::from).collect()))
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
    caller.require_any(&ADMINS)?;
    state.check_writable()?;
    let b = body.value()?;
    let staff = StaffDraft {
        id: b.id,
        name: b.name,
        unit: b.unit,
        roles: b.roles,
        fields: b.fields,
    }
    .parse(&caller)?;
    let app = state.app();
    let key = reply::idempotency_key(&headers)?;
    let caller = &caller;
    reply::run(
        app.idempotency(),
        caller,
        KeySpace::Staff,
        key,
        body.sha256,
        |key| async move {
            let token = app.staff().register(caller, &staff, key.as_ref()).await?;
            let body = NewStaffReply {
                staff: StaffJson::from(&staff),
                token: token.token,
                token_id: token.token_id,
            };
            Ok(Reply::at(
                StatusCode::CREATED,
                serde_json::to_value(body).map_err(ApiError::internal)?,
                format!("/v1/staff/{}", staff.id),
            ))
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
    caller.require_any(&ADMINS)?;
    state.check_writable()?;
    let id: StaffId = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no staff {id}")))?;
    let staff = state
        .app()
        .staff()
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no staff {id}")))?;
    let request = sha256(format!("{id}\0{token_id}").as_bytes());
    let app = state.app();
    let key = reply::idempotency_key(&headers)?;
    let caller = &caller;
    reply::run(
        app.idempotency(),
        caller,
        KeySpace::Staff,
        key,
        request,
        |key| async move {
            app.staff()
                .revoke_token(caller, &staff, &token_id, key.as_ref())
                .await?;
            Ok(Reply::ok(
                serde_json::json!({"staff": staff.id, "token_id": token_id, "revoked": true}),
            ))
        },
    )
    .await
}
