//! A citizen's rating of their handed-over dossier (đánh giá mức độ hài lòng): a citizen
//! account with the dossier's lookup secret, once per dossier. The rule is the domain's
//! (`engine/src/domain/rating.rs`); this route parses the body and calls `app.ratings()`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use motcua_engine::domain::rating::SatisfactionLevel;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::idempotency::KeySpace;
use crate::app::Caller;
use crate::errors::ApiError;
use crate::extract::{ApiPath, HashedJson};
use crate::reply::{self, Reply};
use crate::routes::parse;
use crate::routes::roles::RATERS;
use crate::state::AppState;

/// A rating.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingBody {
    /// `very_satisfied` (Rất hài lòng), `satisfied` (Hài lòng) or `dissatisfied` (Không hài lòng).
    pub level: String,
    /// An optional comment: one line, at most 300 characters.
    #[serde(default)]
    pub comment: String,
    /// The dossier's lookup secret, printed on its receipt.
    pub lookup_secret: String,
}

/// Rate a handed-over dossier (đánh giá mức độ hài lòng), citizen role with the dossier's
/// lookup secret; once per dossier.
#[utoipa::path(post, path = "/v1/dossiers/{code}/rating", tag = "dossiers", request_body = RatingBody,
    params(("code" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409), (status = 415), (status = 422), (status = 503)))]
pub async fn rate(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(code): ApiPath<String>,
    body: HashedJson<RatingBody>,
) -> Result<Response, ApiError> {
    caller.require_any(&RATERS)?;
    let code = parse::code(&code)?;
    state.check_writable()?;
    let b = body.value()?;
    let level = SatisfactionLevel::parse(&b.level).ok_or_else(|| ApiError::Validation {
        field: "level".into(),
        why: "one of very_satisfied, satisfied, dissatisfied".into(),
    })?;
    let request = parse::fingerprint(body.sha256, &[code.as_str(), "rating"]);
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
            let r = app
                .ratings()
                .rate(
                    caller,
                    &code,
                    level,
                    &b.comment,
                    &b.lookup_secret,
                    key.as_ref(),
                )
                .await?;
            Ok(Reply {
                status: StatusCode::CREATED,
                body: serde_json::json!({
                    "code": r.code.to_string(),
                    "level": r.level.as_str(),
                    "seq": r.seq,
                    "deduplicated": r.deduplicated,
                }),
                etag: None,
                location: None,
            })
        },
    )
    .await
}
