//! Idempotent commands: one caller-chosen key, one derivation of the event ids it records under.
//!
//! A client that did not get an answer sends the same command again with the same key (HTTP's
//! `Idempotency-Key`). Three layers answer such a retry: the HTTP application's stored
//! responses, the command services' keyed retry (answered from the log), and the writer's
//! event-id index. Which layer answers what, and what a client sees, is described once, in
//! ARCHITECTURE.md ("Idempotency").
//!
//! All three rest on the ids derived here: [`CommandKey::event_id`] is a pure function of the
//! key's scope, the acting staff member, the key, the step and the event's index, so a retry
//! derives the same ids even after a crash lost every answer. The scope keeps command kinds
//! apart: the same key sent for a desk receipt and for an online submission names two
//! different commands.
//!
//! A key may also carry the request's fingerprint ([`CommandKey::for_request`]: the one the
//! stored answers compare). It is recorded with the command's events (the first 16 bytes, as
//! each event's `causation_id`: the request that caused it) and never enters the ids, so the
//! answer rebuilt from the log refuses the key sent with another request exactly as a stored
//! answer does ([`CommandKey::same_request`]). An event recorded without one (older logs, the
//! operator's commands) is answered as before, whatever the request.

use sha2::{Digest, Sha256};

use crate::log::EventId;

/// What kind of command a key was given for. Each scope is its own key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyScope {
    /// A dossier received at the desk (`POST /v1/dossiers`).
    Receipt,
    /// A dossier submitted online (`POST /v1/submissions`).
    Submission,
    /// An action on an existing dossier.
    DossierAction,
    /// A reference-data change (calendar, office hours, procedures, tokens).
    Reference,
    /// A reform-plan command.
    Plan,
    /// A citizen's rating of a handed-over dossier.
    Rating,
}

impl KeyScope {
    /// The scope's name in the id derivation (never change one: recorded ids depend on it).
    fn tag(self) -> &'static str {
        match self {
            KeyScope::Receipt => "receipt",
            KeyScope::Submission => "submission",
            KeyScope::DossierAction => "dossier-action",
            KeyScope::Reference => "reference",
            KeyScope::Plan => "plan",
            KeyScope::Rating => "rating",
        }
    }
}

/// A caller's idempotency key for one command: its scope, who acts, and the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommandKey {
    scope: KeyScope,
    actor: String,
    key: String,
    /// Which of the commands one request records under this key (0 for the first).
    step: u8,
    /// The first 16 bytes of the request's fingerprint, when the caller gave one.
    request: Option<EventId>,
}

/// Prefix of every derivation's input (a domain separator for the hash).
const DERIVATION_TAG: &[u8] = b"motcua-command-key\0";

impl CommandKey {
    pub fn new(scope: KeyScope, actor: impl Into<String>, key: impl Into<String>) -> CommandKey {
        CommandKey {
            scope,
            actor: actor.into(),
            key: key.into(),
            step: 0,
            request: None,
        }
    }

    /// This key for the request whose fingerprint is `fingerprint` (SHA-256 of what makes two
    /// requests the same: the HTTP layer's `request_sha256`).
    pub fn for_request(self, fingerprint: [u8; 32]) -> CommandKey {
        let mut mark = [0u8; 16];
        mark.copy_from_slice(&fingerprint[..16]);
        CommandKey {
            request: Some(EventId(mark)),
            ..self
        }
    }

    /// What the command's events record as their `causation_id`: the request's mark, if any.
    pub fn request_mark(&self) -> Option<EventId> {
        self.request
    }

    /// Can an event recorded with `recorded` (its `causation_id`) be this key's answer? Not if
    /// both carry a request mark and they differ: the key was sent with another request. An
    /// event without one, or a key without one, cannot tell, and is answered as before.
    pub fn same_request(&self, recorded: Option<EventId>) -> bool {
        match (self.request, recorded) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => true,
        }
    }

    /// The key of the `step`-th command a request records under this key (a request that
    /// issues a procedure and then publishes it runs two commands).
    pub fn step(&self, step: u8) -> CommandKey {
        CommandKey {
            step,
            ..self.clone()
        }
    }

    pub fn scope(&self) -> KeyScope {
        self.scope
    }

    /// The id of the `index`-th event the command records: SHA-256 over the scope, the actor,
    /// the key (each length-prefixed), the step and the index, cut to 16 bytes and marked as a
    /// version-8 (custom) UUID so it prints like one.
    pub fn event_id(&self, index: u32) -> EventId {
        let mut h = Sha256::new();
        h.update(DERIVATION_TAG);
        for part in [self.scope.tag(), &self.actor, &self.key] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.update([self.step]);
        h.update(index.to_be_bytes());
        let digest: [u8; 32] = h.finalize().into();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        id[6] = (id[6] & 0x0f) | 0x80;
        id[8] = (id[8] & 0x3f) | 0x80;
        EventId(id)
    }

    /// The ids of a command's events, in order.
    pub fn event_ids(&self) -> impl Iterator<Item = EventId> + '_ {
        (0..).map(|i| self.event_id(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_mark_never_changes_the_ids_and_tells_requests_apart() {
        let plain = CommandKey::new(KeyScope::DossierAction, "tn-01", "k1");
        let a = plain.clone().for_request([1; 32]);
        let b = plain.clone().for_request([2; 32]);
        assert_eq!(a.event_id(0), plain.event_id(0));
        assert_eq!(a.step(1).event_id(0), plain.step(1).event_id(0));
        assert_eq!(a.step(1).request_mark(), a.request_mark());
        assert!(a.same_request(a.request_mark()));
        assert!(!a.same_request(b.request_mark()));
        // Events without a mark (older logs), or a key without one, answer as before.
        assert!(a.same_request(None));
        assert!(plain.same_request(b.request_mark()));
    }

    #[test]
    fn ids_are_stable_and_every_part_tells_them_apart() {
        let k = CommandKey::new(KeyScope::Receipt, "tn-01", "k1");
        assert_eq!(k.event_id(0), k.clone().event_id(0));
        assert_eq!(k.event_ids().nth(3), Some(k.event_id(3)));
        let others = [
            k.event_id(1),
            k.step(1).event_id(0),
            CommandKey::new(KeyScope::Submission, "tn-01", "k1").event_id(0),
            CommandKey::new(KeyScope::Receipt, "tn-02", "k1").event_id(0),
            CommandKey::new(KeyScope::Receipt, "tn-01", "k2").event_id(0),
            // Length prefixes: moving a character between actor and key changes the id.
            CommandKey::new(KeyScope::Receipt, "tn-0", "1k1").event_id(0),
        ];
        for (i, id) in others.iter().enumerate() {
            assert_ne!(*id, k.event_id(0), "{i}");
        }
        // A version-8 UUID.
        let text = k.event_id(0).to_string();
        assert_eq!(text.as_bytes()[14], b'8', "{text}");
    }
}
