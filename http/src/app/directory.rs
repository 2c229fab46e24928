//! The live staff directory and token authentication.
//!
//! The [`Directory`] is folded from the log's `staff.*` and `unit.*` events (registered,
//! updated, token issued/revoked) and follows the log live, so a revoked token stops working as
//! soon as the revocation is durable. The staff member a token belongs to is the [`Caller`] of
//! its requests, and the actor of every event they cause.

use std::sync::{Arc, RwLock};

use motcua_engine::domain::events::Event;
use motcua_engine::domain::types::{Staff, StaffId};
use motcua_engine::log::{EventLog, LogError};
use motcua_engine::recorded::decode_event;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::app::caller::Caller;
use crate::crypto::sha256;

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

/// The event of `env` if the directory folds it: only staff events are decoded, the rest only
/// advance the position.
fn staff_event(env: &motcua_engine::log::Envelope) -> Option<Event> {
    if !env.event_type.starts_with("staff.") {
        return None;
    }
    match decode_event(env) {
        Ok(ev) => Some(ev),
        Err(e) => {
            tracing::error!(seq = env.seq, error = %e, "undecodable staff event");
            None
        }
    }
}

impl Directory {
    /// The directory folded from the whole of `log` (before serving, so the first request can
    /// authenticate).
    pub fn fold_log(log: &EventLog) -> Result<Directory, LogError> {
        let dir = Directory::default();
        for env in log.scan(0) {
            let env = env?;
            dir.apply(env.seq, staff_event(&env).as_ref());
        }
        Ok(dir)
    }

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
        self: &Arc<Self>,
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
                    Ok(env) => dir.apply(env.seq, staff_event(&env).as_ref()),
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

    /// The caller holding `token`, if the token is known, not revoked and its holder active;
    /// else why not.
    pub fn authenticate(&self, token: &str) -> Result<Caller, &'static str> {
        let hash = sha256(token.as_bytes());
        let d = self.inner.read().map_err(|_| "directory unavailable")?;
        d.fold
            .authenticate(&hash)
            .map(|(staff, token_id)| Caller {
                staff: staff.clone(),
                token_id: token_id.to_owned(),
            })
            .map_err(|r| r.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tokens::new_token;
    use motcua_engine::domain::events::StaffEvent;
    use motcua_engine::domain::types::{Role, Timestamp};

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
        assert_eq!(dir.authenticate(&t.token).unwrap().staff.id, staff.id);
        assert_eq!(dir.authenticate("nope").unwrap_err(), "unknown token");
        dir.apply(
            3,
            Some(&Event::Staff(StaffEvent::TokenRevoked {
                staff: staff.id.clone(),
                token_id: t.token_id.clone(),
                at: Timestamp(0),
            })),
        );
        assert_eq!(dir.authenticate(&t.token).unwrap_err(), "token revoked");
    }
}
