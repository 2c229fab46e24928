//! What handlers take from a request, with rejections that are problem documents instead of
//! axum's plain-text bodies: [`HashedJson`] (a JSON body and its hash: malformed JSON 400, wrong
//! content type 415, body over the limit 413, a well-formed body of the wrong shape 422 with
//! the offending field), [`ApiQuery`], [`ApiPath`], the authenticated [`Caller`] (401, and 429
//! for an address that keeps failing), the [`MetricsReader`] and the [`ClientIp`].

use std::net::IpAddr;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};

use crate::listener::Peer;
use axum::http::header;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::app::Caller;
use crate::config::DEFAULT_BODY_LIMIT;
use crate::crypto::sha256;
use crate::errors::ApiError;
use crate::proxy::client_addr;
use crate::state::AppState;

fn json_rejection(rej: JsonRejection) -> ApiError {
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

fn path_rejection(rej: PathRejection) -> ApiError {
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
        let sha256 = sha256(&bytes);
        Ok(HashedJson {
            bytes,
            is_json,
            sha256,
            _t: std::marker::PhantomData,
        })
    }
}

/// The client address: the connection's peer (tests and the binary serve with connect info;
/// 0.0.0.0 without), or behind a trusted proxy the address it forwarded for
/// (`crate::proxy::client_addr`).
fn client_ip(parts: &Parts, state: &AppState) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<Peer>>()
        .map(|c| c.0 .0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    client_addr(peer, &parts.headers, &state.config().trusted_proxies)
}

/// The client's address as an extractor (never rejects).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, state)))
    }
}

/// Who may read `/metrics`: the configured metrics token (compared by digest), or an auditor's
/// or admin's staff token (401 without a valid token, 403 for another role).
#[derive(Debug, Clone, Copy)]
pub struct MetricsReader;

impl FromRequestParts<AppState> for MetricsReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(expected) = &state.config().metrics_token {
            let sent = bearer(parts).unwrap_or_default();
            // Digests of equal length: the comparison's time does not depend on the secret.
            if sha256(sent.as_bytes()) == sha256(expected.as_bytes()) {
                return Ok(MetricsReader);
            }
        }
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_any(&crate::routes::roles::METRICS_READERS)?;
        Ok(MetricsReader)
    }
}

/// The token of `Authorization: Bearer <token>`, if the header has that form.
fn bearer(parts: &Parts) -> Option<&str> {
    let h = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?;
    h.strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))
        .map(str::trim)
}

/// `Authorization: Bearer <token>`: the staff member holding the token. Failed attempts are
/// rate-limited per address, so guessing tokens gets slow.
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = match bearer(parts) {
            Some(t) => t,
            None => {
                return Err(ApiError::Unauthorized(
                    "missing `Authorization: Bearer <token>`".into(),
                ))
            }
        };
        state.app().authenticate(token).map_err(|why| {
            match state.auth_limiter().check(client_ip(parts, state)) {
                Err(retry_after_s) => ApiError::RateLimited { retry_after_s },
                Ok(()) => ApiError::Unauthorized(why.into()),
            }
        })
    }
}
