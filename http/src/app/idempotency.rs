//! `Idempotency-Key`: the application's side, the stored-response layer of the engine's scheme
//! (which layer answers what: `motcua_engine::idempotency`, and ARCHITECTURE.md
//! "Idempotency").
//!
//! - A keyed request's command runs under the engine's [`CommandKey`] ([`command_key`]): its
//!   scope (receipt, submission, dossier action, reference, plan), the caller and the key; the
//!   events it records carry ids derived from it, so the command service answers a retry whose
//!   first attempt is in the log from the log, and the log's event-id index refuses to record
//!   it twice, even after a crash that lost everything else.
//! - A small bounded store (sled tree [`TREE`]) maps (space, key) to the SHA-256 of the first
//!   request and its answer ([`StoredResponse`]), so a retry gets the first answer byte for
//!   byte (including what is shown once: a lookup secret, a token), and the same key with
//!   another request is refused. A caller's requests share one space, except online
//!   submissions ([`KeySpace`]).
//!
//! A key in flight is held in memory: a concurrent duplicate is a conflict instead of a race.
//! What an answer is (status, headers, body bytes) is the HTTP layer's business (`reply.rs`);
//! this store keeps it opaque.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use motcua_engine::codec;
use motcua_engine::domain::types::StaffId;
use motcua_engine::idempotency::{CommandKey, KeyScope};
use motcua_engine::storage::{KvTree, StorageError};
use serde::{Deserialize, Serialize};

use crate::app::caller::Caller;
use crate::app::error::AppError;
use crate::crypto::{random_bytes, sha256};

/// Name of the sled tree holding the stored responses.
pub const TREE: &str = "http.idempotency";
/// Most stored responses; beyond it the oldest are pruned.
pub const MAX_ENTRIES: usize = 100_000;
const SALT_KEY: &[u8] = b"\xffsalt";
/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 200;

/// A client's `Idempotency-Key`: 1 to [`MAX_KEY_LEN`] printable ASCII characters, and, once
/// `reply::run` runs the write, the fingerprint of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    key: String,
    /// The request's fingerprint (what [`StoredResponse::body_sha256`] holds): recorded with
    /// the command's events, so an answer rebuilt from the log compares the request as the
    /// stored answer does.
    request: Option<[u8; 32]>,
}

impl IdempotencyKey {
    pub fn parse(key: &str) -> Result<IdempotencyKey, AppError> {
        if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AppError::invalid(
                "Idempotency-Key",
                format!("1-{MAX_KEY_LEN} printable ASCII characters"),
            ));
        }
        Ok(IdempotencyKey {
            key: key.to_owned(),
            request: None,
        })
    }

    /// This key, sent with the request whose fingerprint is `request_sha256`.
    pub fn for_request(self, request_sha256: [u8; 32]) -> IdempotencyKey {
        IdempotencyKey {
            request: Some(request_sha256),
            ..self
        }
    }

    pub fn as_str(&self) -> &str {
        &self.key
    }
}

/// The stored-response space a key is filed in: a key names one request of its caller within
/// one space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpace {
    /// Every request of a staff member but online submissions (the layout stored responses
    /// have always had: `<staff>`).
    Staff,
    /// Online submissions, filed under `<staff>/submission` (no staff id holds a '/'): a
    /// receipt at the desk and a submission sent with one key are two requests, with two
    /// dossier codes and two lookup secrets.
    Submissions,
}

impl KeySpace {
    /// The owner stored responses of `staff` in this space are filed under.
    pub fn owner(self, staff: &StaffId) -> String {
        match self {
            KeySpace::Staff => staff.as_str().to_owned(),
            KeySpace::Submissions => format!("{staff}/submission"),
        }
    }
}

/// The engine's key for the command `caller` runs in `scope` under the request's `key` (`None`
/// without a key: the writer assigns fresh event ids).
pub fn command_key(
    caller: &Caller,
    scope: KeyScope,
    key: Option<&IdempotencyKey>,
) -> Option<CommandKey> {
    key.map(|k| {
        let command = CommandKey::new(scope, caller.id().as_str(), k.as_str());
        match k.request {
            Some(fingerprint) => command.for_request(fingerprint),
            None => command,
        }
    })
}

/// The first answer to a keyed request.
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
    /// Seen with the same request: answer this.
    Replay(StoredResponse),
}

type InFlightSet = Arc<Mutex<HashSet<Vec<u8>>>>;

/// The store.
pub struct IdempotencyStore {
    tree: KvTree,
    in_flight: InFlightSet,
    /// The stored answers' keys, oldest first (read once at start, then kept as answers are
    /// stored): the oldest is dropped as a new one is stored past [`MAX_ENTRIES`], one removal
    /// per answer, instead of a periodic scan of the whole tree that stalled a request.
    order: Mutex<VecDeque<Vec<u8>>>,
    /// Most stored answers ([`MAX_ENTRIES`]; smaller in tests).
    max_entries: usize,
    /// Per-data-directory random salt (derived lookup secrets and tokens).
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

impl IdempotencyStore {
    pub fn new(tree: KvTree) -> Result<IdempotencyStore, StorageError> {
        IdempotencyStore::with_limit(tree, MAX_ENTRIES)
    }

    /// A store keeping at most `max_entries` answers.
    fn with_limit(tree: KvTree, max_entries: usize) -> Result<IdempotencyStore, StorageError> {
        let order = Mutex::new(oldest_first(&tree)?);
        // The salt lives under a key no (staff, key) pair can produce (staff ids never start
        // with 0xff).
        let salt = match tree.get(SALT_KEY)? {
            Some(v) if v.len() == 32 => {
                let mut s = [0u8; 32];
                s.copy_from_slice(&v);
                s
            }
            _ => {
                let s = random_bytes();
                tree.insert(SALT_KEY, s.to_vec())?;
                s
            }
        };
        Ok(IdempotencyStore {
            tree,
            in_flight: Arc::new(Mutex::new(HashSet::new())),
            order,
            max_entries: max_entries.max(1),
            salt,
        })
    }

    /// SHA-256 of this server's salt followed by `parts` (each ended by a zero byte but the
    /// last): a value a retry with the same key derives again, and nobody else can.
    pub fn salted(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut input = self.salt.to_vec();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                input.push(0);
            }
            input.extend_from_slice(p);
        }
        sha256(&input)
    }

    /// Looks `caller`'s `key` up in `space` for a request whose fingerprint is
    /// `request_sha256`.
    pub fn begin(
        &self,
        caller: &Caller,
        space: KeySpace,
        key: &IdempotencyKey,
        request_sha256: [u8; 32],
    ) -> Result<Lookup, AppError> {
        let k = store_key(&space.owner(caller.id()), key.as_str());
        {
            let mut set = self
                .in_flight
                .lock()
                .map_err(|_| AppError::internal("idempotency lock poisoned"))?;
            if !set.insert(k.clone()) {
                return Err(AppError::Conflict(
                    "a request with this Idempotency-Key is still in progress".into(),
                ));
            }
        }
        // From here on the guard releases the key on every path (including `?`).
        let guard = InFlight {
            key: k,
            set: self.in_flight.clone(),
        };
        let stored = match self.tree.get(&guard.key).map_err(AppError::internal)? {
            Some(bytes) => {
                Some(codec::decode::<StoredResponse>(&bytes).map_err(AppError::internal)?)
            }
            None => None,
        };
        match stored {
            Some(s) if s.body_sha256 == request_sha256 => Ok(Lookup::Replay(s)),
            Some(_) => Err(AppError::KeyReused),
            None => Ok(Lookup::Fresh(guard)),
        }
    }

    /// Records the first answer for the key held by `guard`; the key is released after.
    pub fn finish(&self, guard: InFlight, response: &StoredResponse) {
        if let Err(e) = self.tree.insert(&guard.key, codec::encode(response)) {
            tracing::warn!(error = %e, "could not store idempotent response");
        }
        let oldest = {
            let Ok(mut order) = self.order.lock() else {
                // Poisoned by a panic elsewhere: the answer is stored; only the bound waits.
                return;
            };
            order.push_back(guard.key.clone());
            if order.len() > self.max_entries {
                order.pop_front()
            } else {
                None
            }
        };
        if let Some(k) = oldest {
            if let Err(e) = self.tree.remove(&k) {
                tracing::warn!(error = %e, "could not drop the oldest stored response");
            }
        }
        drop(guard);
    }
}

/// The keys of the stored answers in `tree`, oldest first; stops at the first damaged page
/// (sled repeats a bad page's error forever).
fn oldest_first(tree: &KvTree) -> Result<VecDeque<Vec<u8>>, StorageError> {
    let mut ages: Vec<(i64, Vec<u8>)> = Vec::new();
    for kv in tree.iter() {
        let (k, v) = kv?;
        // The salt and anything else that is not a stored answer is not counted.
        if let Ok(stored) = codec::decode::<StoredResponse>(&v) {
            ages.push((stored.stored_at_ms, k));
        }
    }
    ages.sort();
    Ok(ages.into_iter().map(|(_, k)| k).collect())
}

/// A key held by one in-flight request; released when dropped (also when the request fails or
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_and_submissions_have_their_own_space() {
        assert!(IdempotencyKey::parse("abc-123").is_ok());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
        let staff: StaffId = "tn-01".parse().unwrap();
        assert_eq!(KeySpace::Staff.owner(&staff), "tn-01");
        assert_eq!(KeySpace::Submissions.owner(&staff), "tn-01/submission");
        assert_ne!(
            store_key(&KeySpace::Staff.owner(&staff), "k1"),
            store_key(&KeySpace::Submissions.owner(&staff), "k1")
        );
    }

    /// Past the limit each new answer drops exactly the oldest one, and the order is read back
    /// after a restart.
    #[test]
    fn the_oldest_answer_goes_as_a_new_one_is_stored_and_the_order_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let db = motcua_engine::storage::Store::open(dir.path()).unwrap();
        let tree = db.tree(TREE).unwrap();
        let store_one = |s: &IdempotencyStore, i: i64| {
            let key = format!("tn-01\0k{i:03}").into_bytes();
            s.in_flight.lock().unwrap().insert(key.clone());
            let guard = InFlight {
                key,
                set: s.in_flight.clone(),
            };
            let answer = StoredResponse {
                body_sha256: [0; 32],
                status: 201,
                etag: None,
                location: None,
                body: Vec::new(),
                stored_at_ms: 1_000 + i,
            };
            s.finish(guard, &answer);
        };
        let answers = |tree: &KvTree| -> Vec<String> {
            tree.iter()
                .map(|kv| kv.unwrap())
                .filter(|(k, _)| k.as_slice() != SALT_KEY)
                .map(|(k, _)| String::from_utf8(k).unwrap())
                .collect()
        };
        let s = IdempotencyStore::with_limit(tree.clone(), 10).unwrap();
        for i in 0..25 {
            store_one(&s, i);
        }
        let kept: Vec<String> = (15..25).map(|i| format!("tn-01\0k{i:03}")).collect();
        assert_eq!(answers(&tree), kept);
        drop(s);
        let s = IdempotencyStore::with_limit(tree.clone(), 10).unwrap();
        store_one(&s, 25);
        let kept: Vec<String> = (16..26).map(|i| format!("tn-01\0k{i:03}")).collect();
        assert_eq!(answers(&tree), kept);
        assert!(
            tree.get(SALT_KEY).unwrap().is_some(),
            "the salt is never dropped"
        );
    }
}
