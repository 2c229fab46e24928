//! Operational endpoints: liveness, readiness, Prometheus metrics and the OpenAPI document.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::MetricsReader;
use crate::state::AppState;

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Readiness: the read models caught up with the log and the writer accepts appends.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub log_head_seq: u64,
    pub read_models_seq: u64,
    pub log_failed: bool,
    pub shutting_down: bool,
}

/// Liveness probe (sống): 200 while the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness probe (sẵn sàng): 200 when projections caught up and the writer is not
/// fail-stopped, else 503.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let g = state.gauges();
    let ready = !g.log_failed && !g.shutting_down && g.projection_seq >= g.log_head_seq;
    let body = Readiness {
        ready,
        log_head_seq: g.log_head_seq,
        read_models_seq: g.projection_seq,
        log_failed: g.log_failed,
        shutting_down: g.shutting_down,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Prometheus metrics (chỉ số vận hành), text format 0.0.4: an auditor's or admin's token, or
/// the metrics token the server was started with (`--metrics-token`).
#[utoipa::path(get, path = "/metrics", tag = "ops",
    security(("bearer" = [])),
    responses((status = 200, content_type = "text/plain", body = String), (status = 401),
        (status = 403)))]
pub async fn metrics(State(state): State<AppState>, _reader: MetricsReader) -> Response {
    let text = state.metrics().render(state.gauges());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// This API's OpenAPI 3.1 document (tài liệu API), generated from the code.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "ops",
    responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn openapi(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi_json().to_string(),
    )
        .into_response()
}
