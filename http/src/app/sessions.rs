//! Console sessions: server-side, in memory, each named by a random 256-bit id that only the
//! browser holds (its cookie); the server keeps the id's SHA-256, so a memory dump of the map
//! does not hand out live sessions.
//!
//! Why in memory and not in a tree: a session is worth less than the cost of keeping it
//! durable. A restart signs everyone out (they sign in again in seconds), and no session id
//! ever reaches the disk or a backup. Each session holds its CSRF token (the synchronizer
//! token every console form carries). A session ends on sign-out, after
//! [`SESSION_IDLE_TIMEOUT`] without a request, after [`SESSION_MAX_LIFETIME`] whatever
//! happens, when its holder changes their password (every other session), and at the next
//! request once the holder is deactivated (the caller is checked against the live directory on
//! every request, `App::authenticate_session`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use motcua_engine::domain::types::StaffId;

use crate::app::caller::Caller;
use crate::app::handle::App;
use crate::crypto::{random_bytes, sha256};

/// A session unused this long ends (a desk PC left signed in over lunch).
pub const SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// A session ends this long after sign-in whatever happens: one working day.
pub const SESSION_MAX_LIFETIME: Duration = Duration::from_secs(10 * 60 * 60);
/// Sessions kept at once; when full, the least recently used one ends first.
pub const MAX_SESSIONS: usize = 10_000;
/// Sessions one staff member keeps at once (a few PCs and a phone); the oldest ends first.
pub const MAX_SESSIONS_PER_STAFF: usize = 8;

#[derive(Debug, Clone)]
struct Session<P> {
    staff: P,
    csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// A new session: the id for the cookie (shown once, never stored) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub csrf: String,
}

/// The sessions of the console, of staff members (`P` = [`StaffId`]) or of citizens' portal
/// accounts (`P` = the account id, `app::citizens`): two instances, so that a session of one
/// kind never names a principal of the other.
#[derive(Debug)]
pub struct SessionStore<P = StaffId> {
    map: Mutex<HashMap<[u8; 32], Session<P>>>,
}

impl<P> Default for SessionStore<P> {
    fn default() -> Self {
        SessionStore {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<P: Clone + PartialEq> SessionStore<P> {
    /// Opens a session for `staff` at `now`.
    pub(super) fn create(&self, staff: &P, now: Instant) -> NewSession {
        let id = hex::encode(random_bytes());
        let csrf = hex::encode(random_bytes());
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| live(s, now));
        let mut own: Vec<([u8; 32], Instant)> = map
            .iter()
            .filter(|(_, s)| &s.staff == staff)
            .map(|(k, s)| (*k, s.created))
            .collect();
        own.sort_by_key(|(_, created)| *created);
        while own.len() >= MAX_SESSIONS_PER_STAFF {
            let (k, _) = own.remove(0);
            map.remove(&k);
        }
        while map.len() >= MAX_SESSIONS {
            let Some(k) = map.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| *k) else {
                break;
            };
            map.remove(&k);
        }
        map.insert(
            sha256(id.as_bytes()),
            Session {
                staff: staff.clone(),
                csrf: csrf.clone(),
                created: now,
                last_seen: now,
            },
        );
        NewSession { id, csrf }
    }

    /// The staff member and CSRF token of the live session `id`, touching it.
    pub(super) fn resolve(&self, id: &str, now: Instant) -> Option<(P, String)> {
        let key = sha256(id.as_bytes());
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.get_mut(&key)?;
        if !live(s, now) {
            map.remove(&key);
            return None;
        }
        s.last_seen = now;
        Some((s.staff.clone(), s.csrf.clone()))
    }

    /// Ends session `id` (sign-out); the staff member it belonged to, if it was live.
    pub fn end(&self, id: &str) -> Option<P> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&sha256(id.as_bytes())).map(|s| s.staff)
    }

    /// Ends every session of `staff` but `keep` (after a password change: the other PCs).
    pub fn end_all_of_except(&self, staff: &P, keep: Option<&str>) {
        let keep = keep.map(|k| sha256(k.as_bytes()));
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|k, s| &s.staff != staff || Some(*k) == keep);
    }

    /// Ends every session of `staff` (deactivation).
    pub fn end_all_of(&self, staff: &P) {
        self.end_all_of_except(staff, None);
    }

    /// Sessions open now (tests, metrics).
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn live<P>(s: &Session<P>, now: Instant) -> bool {
    now.saturating_duration_since(s.last_seen) < SESSION_IDLE_TIMEOUT
        && now.saturating_duration_since(s.created) < SESSION_MAX_LIFETIME
}

/// A console request's caller: who, and the CSRF token their forms must carry.
#[derive(Debug, Clone)]
pub struct SessionCaller {
    pub caller: Caller,
    pub csrf: String,
}

impl App {
    /// The console's sessions.
    pub fn sessions(&self) -> &SessionStore {
        self.session_store()
    }

    /// Opens a session for `staff` (after a successful sign-in).
    pub fn open_session(&self, staff: &StaffId) -> NewSession {
        self.session_store().create(staff, Instant::now())
    }

    /// The caller of session `id`: live, and its holder still active in the directory (a
    /// deactivated account's sessions stop at their next request, and are ended then).
    pub fn authenticate_session(&self, id: &str) -> Option<SessionCaller> {
        let (staff_id, csrf) = self.session_store().resolve(id, Instant::now())?;
        match self.directory().staff(&staff_id) {
            Some(staff) if staff.active => Some(SessionCaller {
                caller: Caller {
                    staff,
                    token_id: "session".into(),
                },
                csrf,
            }),
            _ => {
                self.session_store().end_all_of(&staff_id);
                None
            }
        }
    }
}

/// A portal request's citizen: their account id, and the CSRF token their forms must carry.
#[derive(Debug, Clone)]
pub struct CitizenSession {
    pub account: String,
    pub csrf: String,
}

impl App {
    /// The citizens' sessions (a store apart from the staff's).
    pub fn citizen_sessions(&self) -> &SessionStore<String> {
        self.citizen_session_store()
    }

    /// Opens a session for the portal account `account` (after sign-up or sign-in).
    pub fn open_citizen_session(&self, account: &str) -> NewSession {
        self.citizen_session_store()
            .create(&account.to_owned(), Instant::now())
    }

    /// The citizen of portal session `id`, if live.
    pub fn authenticate_citizen_session(&self, id: &str) -> Option<CitizenSession> {
        let (account, csrf) = self.citizen_session_store().resolve(id, Instant::now())?;
        Some(CitizenSession { account, csrf })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_are_bounded_per_staff_and_end() {
        let store = SessionStore::default();
        let t0 = Instant::now();
        let a: StaffId = "tn-01".parse().unwrap();
        let s = store.create(&a, t0);
        assert_eq!(s.id.len(), 64);
        assert_eq!(store.resolve(&s.id, t0).map(|x| x.1), Some(s.csrf.clone()));
        assert!(store.resolve("0".repeat(64).as_str(), t0).is_none());
        let idle = t0 + SESSION_IDLE_TIMEOUT + Duration::from_secs(1);
        assert!(store.resolve(&s.id, idle).is_none(), "idle too long");
        // Each a millisecond after the previous one: the oldest is the first.
        let ids: Vec<String> = (0..MAX_SESSIONS_PER_STAFF as u64 + 2)
            .map(|i| store.create(&a, t0 + Duration::from_millis(i)).id)
            .collect();
        assert_eq!(store.len(), MAX_SESSIONS_PER_STAFF);
        assert!(store.resolve(&ids[0], t0).is_none(), "the oldest ended");
        assert!(
            store.resolve(&ids[1], t0).is_none(),
            "the second oldest ended"
        );
        let last = ids.last().unwrap();
        assert!(store.resolve(last, t0).is_some());
        let late = t0 + SESSION_MAX_LIFETIME;
        let mut now = t0;
        while now < late {
            now += SESSION_IDLE_TIMEOUT / 2;
            let _ = store.resolve(last, now);
        }
        let after = late + Duration::from_secs(1);
        assert!(
            store.resolve(last, after).is_none(),
            "a working day at most"
        );
        let s = store.create(&a, t0);
        store.end_all_of_except(&a, Some(&s.id));
        assert_eq!(store.len(), 1);
        assert_eq!(store.end(&s.id), Some(a));
        assert!(store.is_empty());
    }
}
