//! Extractors whose rejections are problem documents instead of axum's plain-text bodies:
//! [`ApiJson`] (malformed JSON 400, wrong content type 415, body over the limit 413, a
//! well-formed body of the wrong shape 422 with the offending field), [`ApiQuery`] and
//! [`ApiPath`].

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::errors::ApiError;

/// Body limit applied to every request (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// `Json<T>` with problem+json rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(json_rejection(rej)),
        }
    }
}

pub(crate) fn json_rejection(rej: JsonRejection) -> ApiError {
    match rej {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("expected Content-Type: application/json".into())
        }
        JsonRejection::JsonDataError(e) => {
            // serde_path_to_error's message is "<path>: <why>"; split it for the problem body.
            let text = e.body_text();
            let inner = text
                .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                .unwrap_or(&text)
                .to_owned();
            match inner.split_once(": ") {
                Some((field, why)) if !field.contains(' ') => ApiError::validation(field, why),
                _ => ApiError::validation("body", inner),
            }
        }
        JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest(e.body_text()),
        JsonRejection::BytesRejection(e) => {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit: DEFAULT_BODY_LIMIT,
                }
            } else {
                ApiError::BadRequest(e.body_text())
            }
        }
        other => {
            if other.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit: DEFAULT_BODY_LIMIT,
                }
            } else {
                ApiError::BadRequest(other.body_text())
            }
        }
    }
}

/// `Query<T>` with problem+json rejections (a bad query parameter is a 422 on that field).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::validation("query", e.body_text()))
            }
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

/// `Path<T>` with problem+json rejections. A segment that does not decode (invalid UTF-8 after
/// percent-decoding, found by schemathesis) names no resource, so it is the same 404 as a
/// well-formed id that names nothing; axum's own rejection was a `text/plain` 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(rej) => Err(path_rejection(rej)),
        }
    }
}

pub(crate) fn path_rejection(rej: PathRejection) -> ApiError {
    match rej {
        PathRejection::FailedToDeserializePathParams(e) => ApiError::NotFound(e.body_text()),
        // The route has no such parameters: a bug of this server, not of the request.
        other => ApiError::internal(other.body_text()),
    }
}

/// A JSON body together with the SHA-256 of its bytes (what `Idempotency-Key` compares).
///
/// Only the size limit (413) is enforced while extracting; the content type (415) and the JSON
/// itself (400/422) are checked by [`HashedJson::value`], which handlers call after their role
/// checks, so a caller without the role gets 403 whatever body it sent.
#[derive(Debug, Clone)]
pub struct HashedJson<T> {
    bytes: axum::body::Bytes,
    is_json: bool,
    pub sha256: [u8; 32],
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> HashedJson<T> {
    /// The parsed body.
    pub fn value(&self) -> Result<T, ApiError> {
        if !self.is_json {
            return Err(ApiError::UnsupportedMediaType(
                "expected Content-Type: application/json".into(),
            ));
        }
        let axum::Json(v) = axum::Json::<T>::from_bytes(&self.bytes).map_err(json_rejection)?;
        Ok(v)
    }
}

impl<S, T> FromRequest<S> for HashedJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json")
                    || (m.starts_with("application/") && m.ends_with("+json"))
            })
            .unwrap_or(false);
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge {
                        limit: DEFAULT_BODY_LIMIT,
                    }
                } else {
                    ApiError::BadRequest(e.body_text())
                }
            })?;
        let sha256 = crate::auth::sha256(&bytes);
        Ok(HashedJson {
            bytes,
            is_json,
            sha256,
            _t: std::marker::PhantomData,
        })
    }
}
