//! `Idempotency-Key` for every POST.
//!
//! This is the stored-response layer of the engine's idempotency scheme (which layer answers
//! what: `motcua_engine::idempotency`): a small bounded store (sled tree `http.idempotency`)
//! maps (staff, key) to the SHA-256 of the first request's body and its response, so a retry
//! gets the first response byte for byte, and the same key with another body is refused with
//! 422. Handlers turn the key into the engine's `CommandKey` (scope, staff, key) for the
//! command they run, so the events it records carry ids derived from it.
//!
//! A key in flight is held in memory: a concurrent duplicate gets 409 instead of racing.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::response::{IntoResponse, Response};
use motcua_engine::codec;
use motcua_engine::storage::KvTree;
use serde::{Deserialize, Serialize};

use crate::errors::ApiError;

/// Name of the sled tree holding the stored responses.
pub const TREE: &str = "http.idempotency";
/// Most stored responses; beyond it the oldest are pruned.
pub const MAX_ENTRIES: usize = 100_000;
const SALT_KEY: &[u8] = b"\xffsalt";
/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 200;

/// The first response to a keyed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub body_sha256: [u8; 32],
    pub status: u16,
    pub etag: Option<String>,
    pub location: Option<String>,
    pub body: Vec<u8>,
    pub stored_at_ms: i64,
}

/// Outcome of looking a key up.
#[derive(Debug)]
pub enum Lookup {
    /// First time: go ahead; the key is released when the guard is dropped.
    Fresh(InFlight),
    /// Seen with the same body: answer this.
    Replay(StoredResponse),
}

type InFlightSet = Arc<Mutex<HashSet<Vec<u8>>>>;

/// The store.
pub struct IdempotencyStore {
    tree: KvTree,
    in_flight: InFlightSet,
    /// Approximate entry count (sled's `len` is a full scan).
    count: AtomicUsize,
    /// Per-data-directory random salt (derived lookup secrets).
    salt: [u8; 32],
}

impl std::fmt::Debug for IdempotencyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyStore").finish_non_exhaustive()
    }
}

fn store_key(staff: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(staff.len() + key.len() + 1);
    k.extend_from_slice(staff.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

/// Checks an `Idempotency-Key` header value.
pub fn validate_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::validation(
            "Idempotency-Key",
            format!("1-{MAX_KEY_LEN} printable ASCII characters"),
        ));
    }
    Ok(())
}

impl IdempotencyStore {
    pub fn new(tree: KvTree) -> Result<IdempotencyStore, motcua_engine::storage::StorageError> {
        let count = AtomicUsize::new(tree.len());
        // The salt lives under a key no (staff, key) pair can produce (staff ids never start
        // with 0xff).
        let salt = match tree.get(SALT_KEY)? {
            Some(v) if v.len() == 32 => {
                let mut s = [0u8; 32];
                s.copy_from_slice(&v);
                s
            }
            _ => {
                let mut s = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut s);
                tree.insert(SALT_KEY, s.to_vec())?;
                s
            }
        };
        Ok(IdempotencyStore {
            tree,
            in_flight: Arc::new(Mutex::new(HashSet::new())),
            count,
            salt,
        })
    }

    pub fn salt(&self) -> &[u8; 32] {
        &self.salt
    }

    /// Looks (staff, key) up for a request whose body hashes to `body_sha256`.
    pub fn begin(&self, staff: &str, key: &str, body_sha256: [u8; 32]) -> Result<Lookup, ApiError> {
        validate_key(key)?;
        let k = store_key(staff, key);
        {
            let mut set = self
                .in_flight
                .lock()
                .map_err(|_| ApiError::internal("idempotency lock poisoned"))?;
            if !set.insert(k.clone()) {
                return Err(ApiError::Conflict(
                    "a request with this Idempotency-Key is still in progress".into(),
                ));
            }
        }
        // From here on the guard releases the key on every path (including `?`).
        let guard = InFlight {
            key: k,
            set: self.in_flight.clone(),
        };
        let stored = match self.tree.get(&guard.key).map_err(ApiError::internal)? {
            Some(bytes) => {
                Some(codec::decode::<StoredResponse>(&bytes).map_err(ApiError::internal)?)
            }
            None => None,
        };
        match stored {
            Some(s) if s.body_sha256 == body_sha256 => Ok(Lookup::Replay(s)),
            Some(_) => Err(ApiError::IdempotencyKeyReused),
            None => Ok(Lookup::Fresh(guard)),
        }
    }

    /// Records the first response for the key held by `guard`; the key is released after.
    pub fn finish(&self, guard: InFlight, response: &StoredResponse) {
        if let Err(e) = self.tree.insert(&guard.key, codec::encode(response)) {
            tracing::warn!(error = %e, "could not store idempotent response");
        }
        if self.count.fetch_add(1, Ordering::Relaxed) + 1 > MAX_ENTRIES {
            self.prune();
            self.count.store(self.tree.len(), Ordering::Relaxed);
        }
        drop(guard);
    }

    /// Drops the oldest tenth of the entries.
    fn prune(&self) {
        let mut ages: Vec<(i64, Vec<u8>)> = self
            .tree
            .iter()
            .filter_map(Result::ok)
            .filter_map(|(k, v)| {
                codec::decode::<StoredResponse>(&v)
                    .ok()
                    .map(|s| (s.stored_at_ms, k))
            })
            .collect();
        ages.sort();
        for (_, k) in ages.into_iter().take(MAX_ENTRIES / 10) {
            let _ = self.tree.remove(&k);
        }
    }
}

/// A key held by one in-flight request; released when dropped (also when the handler fails or
/// the client goes away, so a retry can proceed and the log's event-id index dedups it).
#[derive(Debug)]
pub struct InFlight {
    key: Vec<u8>,
    set: InFlightSet,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut set) = self.set.lock() {
            set.remove(&self.key);
        }
    }
}

/// A successful write's answer, before it becomes an HTTP response (so it can be stored).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: axum::http::StatusCode,
    pub body: serde_json::Value,
    /// Stream version for the `ETag`.
    pub etag: Option<u64>,
    pub location: Option<String>,
}

impl Reply {
    pub fn ok(body: serde_json::Value) -> Reply {
        Reply {
            status: axum::http::StatusCode::OK,
            body,
            etag: None,
            location: None,
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
    use axum::http::{header, HeaderValue, StatusCode};
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

/// Runs a write under the request's `Idempotency-Key` (if any): a replay returns the stored
/// first response without calling `write`; a fresh key runs `write` with the key (so it can
/// derive its event ids) and stores a successful answer. Errors are not stored: nothing was
/// written, so a retry may legitimately succeed.
pub async fn run<F, Fut>(
    store: &IdempotencyStore,
    staff: &str,
    headers: &axum::http::HeaderMap,
    body_sha256: [u8; 32],
    write: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Reply, ApiError>>,
{
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::validation("Idempotency-Key", "not ASCII"))?
                .to_owned(),
        ),
    };
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
    match store.begin(staff, &key, body_sha256)? {
        Lookup::Replay(s) => Ok(to_response(
            s.status,
            s.body,
            s.etag.as_deref(),
            s.location.as_deref(),
            true,
        )),
        Lookup::Fresh(guard) => {
            let reply = write(Some(key)).await?;
            let etag = reply.etag.map(|v| format!("\"{v}\""));
            let body = serde_json::to_vec(&reply.body).map_err(ApiError::internal)?;
            let stored = StoredResponse {
                body_sha256,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii() {
        assert!(validate_key("abc-123").is_ok());
        assert!(validate_key("has space").is_err());
        assert!(validate_key("").is_err());
    }
}
