//! Bearer-token authentication and the staff directory it reads.
//!
//! Tokens are 32 random bytes, hex-encoded (64 characters), shown once when issued; the log only
//! ever holds their SHA-256 (`StaffEvent::TokenIssued`). The [`Directory`] is folded from the
//! log's `staff.*` events (registered, updated, token issued/revoked) and follows the log live,
//! so a revoked token stops working as soon as the revocation is durable. The staff member a
//! token belongs to is the actor of every event its requests cause.

use std::net::SocketAddr;
use std::sync::RwLock;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use motcua_engine::domain::events::Event;
use motcua_engine::domain::types::{Field, Role, Staff, StaffId, UnitCode};
use motcua_engine::log::EventLog;
use rand::RngCore;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use motcua_engine::recorded::decode_event;
use sha2::{Digest, Sha256};

use crate::errors::ApiError;
use crate::state::AppState;

/// A freshly issued token: the secret (shown once) and what the log records.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub token_id: String,
    pub sha256: [u8; 32],
}

/// Generates a new random token.
pub fn new_token() -> IssuedToken {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    token_from_bytes(bytes)
}

/// The token for given random bytes (the demo derives them from its seed).
pub fn token_from_bytes(bytes: [u8; 32]) -> IssuedToken {
    let token = hex::encode(bytes);
    let sha256 = sha256(token.as_bytes());
    IssuedToken {
        token_id: hex::encode(&sha256[..6]),
        token,
        sha256,
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Equality that takes the same time wherever the inputs differ (secret comparisons).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[derive(Debug, Default)]
struct DirectoryInner {
    /// The domain's fold of units and staff (tokens, revocations, deactivations).
    fold: motcua_engine::domain::directory::Directory,
    applied_seq: u64,
}

/// Staff and tokens as of the log's `staff.*` events.
#[derive(Debug)]
pub struct Directory {
    inner: RwLock<DirectoryInner>,
    seq_tx: watch::Sender<u64>,
}

impl Default for Directory {
    fn default() -> Self {
        Directory {
            inner: RwLock::default(),
            seq_tx: watch::channel(0).0,
        }
    }
}

impl Directory {
    /// Folds one event (any event: non-staff events only advance the position).
    pub fn apply(&self, seq: u64, event: Option<&Event>) {
        let Ok(mut d) = self.inner.write() else {
            return;
        };
        if seq <= d.applied_seq {
            return;
        }
        d.applied_seq = seq;
        self.seq_tx.send_replace(seq);
        match event {
            Some(Event::Staff(e)) => d.fold.apply_staff(e),
            Some(Event::Unit(e)) => d.fold.apply_unit(e),
            _ => {}
        }
    }

    /// Waits until the directory folded `seq`; false on timeout.
    pub async fn wait_for(&self, seq: u64, timeout: std::time::Duration) -> bool {
        let mut rx = self.seq_tx.subscribe();
        let reached = matches!(
            tokio::time::timeout(timeout, rx.wait_for(|s| *s >= seq)).await,
            Ok(Ok(_))
        );
        reached
    }

    /// Follows `log` from the directory's position until `stop` is cancelled.
    pub fn spawn_follower(
        self: &std::sync::Arc<Self>,
        log: EventLog,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let dir = self.clone();
        tokio::spawn(async move {
            let mut sub = log.subscribe(dir.applied_seq());
            loop {
                let next = tokio::select! {
                    _ = stop.cancelled() => return,
                    n = sub.next() => n,
                };
                match next {
                    Ok(env) => {
                        // Only staff events are decoded; the rest only advance the position.
                        let ev = if env.event_type.starts_with("staff.") {
                            match decode_event(&env) {
                                Ok(ev) => Some(ev),
                                Err(e) => {
                                    tracing::error!(seq = env.seq, error = %e, "undecodable staff event");
                                    None
                                }
                            }
                        } else {
                            None
                        };
                        dir.apply(env.seq, ev.as_ref());
                    }
                    Err(e) => {
                        tracing::info!(error = %e, "directory follower stopped");
                        return;
                    }
                }
            }
        })
    }

    /// Last log seq folded.
    pub fn applied_seq(&self) -> u64 {
        self.inner.read().map(|d| d.applied_seq).unwrap_or(0)
    }

    pub fn staff(&self, id: &StaffId) -> Option<Staff> {
        self.inner.read().ok()?.fold.staff(id).cloned()
    }

    /// Every staff member, by id.
    pub fn all_staff(&self) -> Vec<Staff> {
        self.inner
            .read()
            .map(|d| d.fold.all_staff().cloned().collect())
            .unwrap_or_default()
    }

    /// The staff member holding `token`, if the token is known, not revoked and its holder active.
    pub fn authenticate(&self, token: &str) -> Result<(Staff, String), &'static str> {
        let hash = sha256(token.as_bytes());
        let d = self.inner.read().map_err(|_| "directory unavailable")?;
        d.fold
            .authenticate(&hash)
            .map(|(staff, token_id)| (staff.clone(), token_id.to_owned()))
            .map_err(|r| r.as_str())
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub staff: Staff,
    pub token_id: String,
}

impl Caller {
    pub fn id(&self) -> &StaffId {
        &self.staff.id
    }
    pub fn unit(&self) -> &UnitCode {
        &self.staff.unit
    }
    pub fn has(&self, role: Role) -> bool {
        self.staff.has_role(role)
    }
    /// The first of `roles` the caller holds, or 403 naming them.
    pub fn require_any(&self, roles: &[Role]) -> Result<Role, ApiError> {
        roles.iter().copied().find(|r| self.has(*r)).ok_or_else(|| {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            ApiError::Forbidden(format!(
                "requires one of the roles [{}]; {} holds [{}]",
                names.join(", "),
                self.staff.id,
                self.staff
                    .roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
    /// 403 unless the caller belongs to `unit` (admins and auditors see every unit).
    pub fn require_unit(&self, unit: &UnitCode) -> Result<(), ApiError> {
        if &self.staff.unit == unit || self.has(Role::Admin) || self.has(Role::Auditor) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{} belongs to unit {}, not {unit}",
                self.staff.id, self.staff.unit
            )))
        }
    }
    /// 403 unless the caller (as a specialist) handles `field`.
    pub fn require_field(&self, field: &Field) -> Result<(), ApiError> {
        if self.staff.has_field(field) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{} does not handle the field {field}",
                self.staff.id
            )))
        }
    }
}

/// The client address (from the connection; tests and the binary serve with connect info).
pub fn client_ip(parts: &Parts) -> std::net::IpAddr {
    client_ip_from(
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0),
    )
}

/// The client address, or 0.0.0.0 when the server runs without connect info.
pub fn client_ip_from(addr: Option<SocketAddr>) -> std::net::IpAddr {
    addr.map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))
}

/// The client's address as an extractor (never rejects).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = match header.and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        }) {
            Some(t) => t.trim(),
            None => {
                return Err(ApiError::Unauthorized(
                    "missing `Authorization: Bearer <token>`".into(),
                ))
            }
        };
        match state.directory().authenticate(token) {
            Ok((staff, token_id)) => Ok(Caller { staff, token_id }),
            Err(why) => {
                // Failed attempts are rate-limited per address: guessing tokens gets slow.
                if let Err(retry_after_s) = state.auth_limiter().check(client_ip(parts)) {
                    return Err(ApiError::RateLimited { retry_after_s });
                }
                Err(ApiError::Unauthorized(why.into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use motcua_engine::domain::events::StaffEvent;
    use motcua_engine::domain::types::Timestamp;

    #[test]
    fn issued_tokens_authenticate_until_revoked() {
        let dir = Directory::default();
        let staff = Staff {
            id: "tn-01".parse().unwrap(),
            name: "Nguyễn Thị Lan".into(),
            unit: "000.33.22.H05".parse().unwrap(),
            roles: vec![Role::Reception],
            fields: vec![],
            active: true,
        };
        dir.apply(
            1,
            Some(&Event::Staff(StaffEvent::Registered(staff.clone()))),
        );
        let t = new_token();
        assert_eq!(t.token.len(), 64);
        dir.apply(
            2,
            Some(&Event::Staff(StaffEvent::TokenIssued {
                staff: staff.id.clone(),
                token_id: t.token_id.clone(),
                token_sha256: t.sha256,
                at: Timestamp(0),
            })),
        );
        assert_eq!(dir.authenticate(&t.token).unwrap().0.id, staff.id);
        assert_eq!(dir.authenticate("nope"), Err("unknown token"));
        dir.apply(
            3,
            Some(&Event::Staff(StaffEvent::TokenRevoked {
                staff: staff.id.clone(),
                token_id: t.token_id.clone(),
                at: Timestamp(0),
            })),
        );
        assert_eq!(dir.authenticate(&t.token), Err("token revoked"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
    }
}
