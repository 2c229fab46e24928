//! The OpenAPI 3.1 document: its base ([`ApiDoc`]: info, tags, bearer security) and
//! [`complete`], which finishes the document `utoipa-axum` generates from the handlers'
//! `#[utoipa::path]` annotations (a route is registered and documented by the same `routes!`
//! call in `routes::api_router`, so the two cannot drift; a test in `tests/tests/http_openapi.rs`
//! also checks it from the outside).
//!
//! [`ErrorResponses`] completes every operation with the answers that come from shared
//! extractors and middleware rather than from the handler, so no route can forget them: 414 and
//! 431 (a target or headers over the limits) everywhere; 503 (draining, fail-stopped)
//! everywhere but `/healthz`; 401 and 429 (failed-auth rate limit)
//! where a token is required; 400/413/415/422 where a JSON body is read; 422 for query
//! parameters; 404 for path parameters (a segment that names nothing); 409/422 with
//! `Idempotency-Key` (whose every answer also carries the `Idempotency-Key` response header:
//! `reply::server_key`); 412/422 with `If-Match`. Every 4xx/5xx gets the `Problem` schema under
//! `application/problem+json`. schemathesis (`.ci/schemathesis.sh`) checks the result against the
//! running server.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as OpenApiDoc, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::errors::{Problem, PROBLEM_JSON};

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
        (name = "files", description = "Tệp của hồ sơ: upload, list, download, download trail"),
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

/// Adds the answers every route of a kind can give (see the module doc) and the problem schema.
struct ErrorResponses;

/// The status codes an operation can answer besides its own, from what it reads.
fn implied_statuses(path: &str, op: &Operation) -> Vec<u16> {
    // Every request is measured against the target and header limits first.
    let mut codes = vec![414, 431];
    if path != "/healthz" {
        codes.push(503);
    }
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        codes.extend([401, 429]);
    }
    if op.request_body.is_some() {
        codes.extend([400, 413, 415, 422]);
    }
    for p in op.parameters.iter().flatten() {
        match (&p.parameter_in, p.name.to_ascii_lowercase().as_str()) {
            (ParameterIn::Query, _) => codes.push(422),
            (ParameterIn::Path, _) => codes.push(404),
            (ParameterIn::Header, "idempotency-key") => codes.extend([409, 422]),
            (ParameterIn::Header, "if-match") => codes.extend([412, 422]),
            _ => {}
        }
    }
    codes
}

fn reason(code: u16) -> &'static str {
    axum::http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert(Problem::name().into_owned(), Problem::schema());
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                let keyed = op.parameters.iter().flatten().any(|p| {
                    p.parameter_in == ParameterIn::Header
                        && p.name.eq_ignore_ascii_case("idempotency-key")
                });
                for code in implied_statuses(path, op) {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| ResponseBuilder::new().build().into());
                }
                for (code, resp) in op.responses.responses.iter_mut() {
                    let (Ok(n), RefOr::T(resp)) = (code.parse::<u16>(), resp) else {
                        continue;
                    };
                    if keyed {
                        resp.headers.insert(
                            "Idempotency-Key".into(),
                            HeaderBuilder::new()
                                .schema(String::schema())
                                .description(Some(
                                    "The key this write ran under: the one sent, or the one the \
                                     server chose; retry with it to get the recorded outcome",
                                ))
                                .build(),
                        );
                    }
                    if n < 400 {
                        continue;
                    }
                    if resp.description.is_empty() {
                        resp.description = reason(n).to_owned();
                    }
                    resp.content
                        .entry(PROBLEM_JSON.to_owned())
                        .or_insert_with(|| {
                            Content::new(Some(Ref::from_schema_name(Problem::name())))
                        });
                }
            }
        }
    }
}

/// Describes each Server-Sent Event of `/v1/events/stream` (schemathesis validates events one
/// by one against the media type's schema): `id` is the seq, `event` the event type, `data` an
/// `EventJson` (the schema of `routes/events.rs`) as JSON text.
struct EventStream;

impl Modify for EventStream {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let Some(op) = openapi
            .paths
            .paths
            .get_mut("/v1/events/stream")
            .and_then(|i| i.get.as_mut())
        else {
            return;
        };
        let Some(RefOr::T(ok)) = op.responses.responses.get_mut("200") else {
            return;
        };
        let mut data = ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/json")
            .build();
        // utoipa has no `contentSchema` keyword; extensions serialize flat beside the others.
        data.extensions.get_or_insert_with(Default::default).insert(
            "contentSchema".into(),
            serde_json::json!({"$ref": "#/components/schemas/EventJson"}),
        );
        let event = ObjectBuilder::new()
            .property(
                "id",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[0-9]+$")),
            )
            .property("event", ObjectBuilder::new().schema_type(Type::String))
            .property("data", data)
            .required("id")
            .required("event")
            .required("data")
            .description(Some(
                "One event: `id` = log seq, `event` = event type, `data` = the envelope as JSON",
            ))
            .build();
        ok.content.insert(
            "text/event-stream".into(),
            Content::new(Some(RefOr::T(event.into()))),
        );
    }
}

/// The router's generated document `doc`, completed: the answers every route of a kind can
/// give, the problem schema, and the SSE events.
pub fn complete(mut doc: OpenApiDoc) -> OpenApiDoc {
    // After the routes are in: `#[openapi(modifiers)]` ran on the empty base document.
    ErrorResponses.modify(&mut doc);
    EventStream.modify(&mut doc);
    doc
}
