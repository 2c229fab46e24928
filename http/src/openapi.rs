//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations by
//! `utoipa-axum`: a route is registered and documented by the same `routes!` call, so the two
//! cannot drift (a test in `tests/tests/http_openapi.rs` also checks it from the outside).

use std::sync::OnceLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "motcua API",
        description = "Một cửa: the one-stop desk of a Vietnamese commune (Bộ phận tiếp nhận và trả kết quả). \
Every write is an event in a hash-chained log; errors are application/problem+json; \
POSTs accept `Idempotency-Key`; dossier writes accept `If-Match` (the ETag = stream version).",
        version = "1.0.0"
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "ops", description = "Vận hành: health, readiness, metrics"),
        (name = "dossiers", description = "Hồ sơ: receive, submit, transitions, slips"),
        (name = "views", description = "Hàng đợi, hộp duyệt, danh sách việc, thống kê"),
        (name = "reference", description = "Danh mục TTHC, lịch làm việc, cán bộ"),
        (name = "log", description = "Nhật ký sự kiện (auditor, admin)"),
        (name = "public", description = "Tra cứu hồ sơ cho công dân (no token)")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

static DOCUMENT: OnceLock<OpenApiDoc> = OnceLock::new();

/// The document of the router built by `server::router` (set once at the first build).
pub fn document() -> OpenApiDoc {
    DOCUMENT
        .get_or_init(|| crate::server::api_router().split_for_parts().1)
        .clone()
}
