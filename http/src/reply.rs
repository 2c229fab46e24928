//! A write's answer before it becomes an HTTP response ([`Reply`]), and running a write under
//! the request's `Idempotency-Key` ([`run`]): a replay answers the stored first response byte
//! for byte (with `Idempotent-Replayed: true`) without running the write; a fresh key runs it
//! with the key (so the application derives its event ids) and stores a successful answer.
//! Errors are not stored: a refusal wrote nothing, so a retry may legitimately succeed, and after
//! a 503 `fail-stopped` (outcome unknown) the retry with the same key is answered from the log
//! if the write was recorded after all. The store itself is the application's
//! (`app::idempotency`).
//!
//! A write sent without a key gets one ([`server_key`]): the server chooses it before the
//! handler runs and returns it in the `Idempotency-Key` header of every answer to a `POST`,
//! success or error, so a client whose answer was lost or said "outcome unknown" can still retry
//! safely.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;

use crate::app::idempotency::{IdempotencyKey, IdempotencyStore, KeySpace, Lookup, StoredResponse};
use crate::app::Caller;
use crate::errors::ApiError;

/// A successful write's answer, before it becomes an HTTP response (so it can be stored).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: serde_json::Value,
    /// Stream version for the `ETag`.
    pub etag: Option<u64>,
    pub location: Option<String>,
}

impl Reply {
    /// 200 with `body`, no `ETag`, no `Location`.
    pub fn ok(body: serde_json::Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            body,
            etag: None,
            location: None,
        }
    }

    /// `status` with `body` and a `Location`.
    pub fn at(status: StatusCode, body: serde_json::Value, location: String) -> Reply {
        Reply {
            status,
            body,
            etag: None,
            location: Some(location),
        }
    }
}

fn to_response(
    status: u16,
    body: Vec<u8>,
    etag: Option<&str>,
    location: Option<&str>,
    replayed: bool,
) -> Response {
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    let h = resp.headers_mut();
    if let Some(v) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        h.insert(header::LOCATION, v);
    }
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

/// The name of the request and response header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The prefix of a key the server chose (a client may use the same form: it is only a key).
const SERVER_KEY_PREFIX: &str = "srv-";
/// Random bytes in a server-chosen key: 128 bits, never chosen twice.
const SERVER_KEY_BYTES: usize = 16;

/// Middleware on every `POST` (every write accepts `Idempotency-Key`): a request without the
/// header gets a key chosen here, as if the client had sent it, and every answer carries the
/// key in use (the client's or the server's) in its `Idempotency-Key` header.
pub async fn server_key(mut req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let key = match req.headers().get(IDEMPOTENCY_KEY) {
        Some(sent) => sent.clone(),
        None => {
            let chosen = format!(
                "{SERVER_KEY_PREFIX}{}",
                hex::encode(&crate::crypto::random_bytes()[..SERVER_KEY_BYTES])
            );
            // Hex is always a valid header value; should it not be, the write runs unkeyed.
            let Ok(v) = HeaderValue::from_str(&chosen) else {
                return next.run(req).await;
            };
            req.headers_mut().insert(IDEMPOTENCY_KEY, v.clone());
            v
        }
    };
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(IDEMPOTENCY_KEY, key);
    resp
}

/// The request's `Idempotency-Key`, if it sent one (422 if it is not a valid key).
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(v) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .map_err(|_| ApiError::validation("Idempotency-Key", "not ASCII"))?;
    Ok(Some(IdempotencyKey::parse(key)?))
}

/// Runs `write` for `caller` under the request's `key` (see [`idempotency_key`]), if any, with
/// the key filed in `space` (the caller's own, or online submissions' apart).
/// `request_sha256` identifies the request (its body, and its path where one key may name
/// several resources): the same key with another request is refused with 422.
pub async fn run<F, Fut>(
    store: &IdempotencyStore,
    caller: &Caller,
    space: KeySpace,
    key: Option<IdempotencyKey>,
    request_sha256: [u8; 32],
    write: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Option<IdempotencyKey>) -> Fut,
    Fut: std::future::Future<Output = Result<Reply, ApiError>>,
{
    let Some(key) = key else {
        let reply = write(None).await?;
        let etag = reply.etag.map(|v| format!("\"{v}\""));
        let body = serde_json::to_vec(&reply.body).map_err(ApiError::internal)?;
        return Ok(to_response(
            reply.status.as_u16(),
            body,
            etag.as_deref(),
            reply.location.as_deref(),
            false,
        ));
    };
    match store.begin(caller, space, &key, request_sha256)? {
        Lookup::Replay(s) => Ok(to_response(
            s.status,
            s.body,
            s.etag.as_deref(),
            s.location.as_deref(),
            true,
        )),
        Lookup::Fresh(guard) => {
            // The write records the request's fingerprint with its events: after a crash
            // that loses the stored answer, the answer rebuilt from the log still refuses
            // this key sent with another request.
            let reply = write(Some(key.for_request(request_sha256))).await?;
            let etag = reply.etag.map(|v| format!("\"{v}\""));
            let body = serde_json::to_vec(&reply.body).map_err(ApiError::internal)?;
            let stored = StoredResponse {
                body_sha256: request_sha256,
                status: reply.status.as_u16(),
                etag: etag.clone(),
                location: reply.location.clone(),
                body: body.clone(),
                stored_at_ms: chrono::Utc::now().timestamp_millis(),
            };
            store.finish(guard, &stored);
            Ok(to_response(
                stored.status,
                body,
                etag.as_deref(),
                reply.location.as_deref(),
                false,
            ))
        }
    }
}
