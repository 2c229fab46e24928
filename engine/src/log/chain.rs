//! Hash chaining: each envelope's hash covers its content and the previous event's hash, so
//! any change to a stored event (or a removed/reordered one) breaks the chain at that seq.
//!
//! [`ChainCheck`] is the one checker of a chain, fed envelopes in order: seq contiguity,
//! `prev_hash` linking to the previous hash, the hash recomputing from the content. Every reader
//! that judges a chain uses it: the log's open (its tail) and `verify`, `import_log` (restore),
//! the archive writer, `motcua-replay verify`, and the soak's audit. Each says what it does with
//! a break: stop at the first (open, import, the archive writer) or report every one and go on
//! (the verifiers).

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::envelope::{Actor, Envelope, EventId, StreamId};

/// `prev_hash` of the first event.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// The hash input: the envelope without `hash`, borrowed, in the envelope's field order. serde
/// encodes a borrowed `&str`/`&[u8]` exactly like the owned `String`/`Vec<u8>`, so this is the
/// envelope's own canonical encoding minus its last 32 bytes (pinned by a test).
#[derive(Serialize)]
struct HashInput<'a> {
    seq: u64,
    stream: &'a StreamId,
    version: u64,
    event_id: &'a EventId,
    event_type: &'a str,
    schema_version: u16,
    recorded_at_ms: i64,
    actor: &'a Actor,
    correlation_id: &'a Option<EventId>,
    causation_id: &'a Option<EventId>,
    payload: &'a [u8],
    prev_hash: &'a [u8; 32],
}

/// SHA-256 of the canonical encoding of `env` without its `hash` field.
pub fn hash_envelope(env: &Envelope) -> [u8; 32] {
    let input = HashInput {
        seq: env.seq,
        stream: &env.stream,
        version: env.version,
        event_id: &env.event_id,
        event_type: &env.event_type,
        schema_version: env.schema_version,
        recorded_at_ms: env.recorded_at_ms,
        actor: &env.actor,
        correlation_id: &env.correlation_id,
        causation_id: &env.causation_id,
        payload: &env.payload,
        prev_hash: &env.prev_hash,
    };
    let bytes = crate::codec::encode(&input);
    Sha256::digest(&bytes).into()
}

/// Where and how a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// The next event should be `expected`, `found` came instead: a gap (events missing) when
    /// `found > expected`, an event out of order when it is smaller.
    Seq { expected: u64, found: u64 },
    /// Event `seq` does not link to the previous event's hash.
    PrevHash {
        seq: u64,
        found: [u8; 32],
        expected: [u8; 32],
    },
    /// Event `seq`'s content does not hash to its stored hash.
    Hash {
        seq: u64,
        stored: [u8; 32],
        computed: [u8; 32],
    },
}

impl ChainBreak {
    /// The seq the break is about: the first missing one for a gap, else the event's own.
    pub fn seq(&self) -> u64 {
        match self {
            ChainBreak::Seq { expected, found } if found > expected => *expected,
            ChainBreak::Seq { found, .. } => *found,
            ChainBreak::PrevHash { seq, .. } | ChainBreak::Hash { seq, .. } => *seq,
        }
    }

    /// Short rule name, stable for scripts: `seq`, `prev_hash` or `hash`.
    pub fn rule(&self) -> &'static str {
        match self {
            ChainBreak::Seq { .. } => "seq",
            ChainBreak::PrevHash { .. } => "prev_hash",
            ChainBreak::Hash { .. } => "hash",
        }
    }

    /// True when the break is about the event that revealed it (not a missing one before it).
    pub fn is_about(&self, seq: u64) -> bool {
        self.seq() == seq
    }
}

/// The first 8 bytes of a hash, in hex: enough to tell two hashes apart in a message.
fn short(h: &[u8; 32]) -> String {
    hex::encode(&h[..8])
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainBreak::Seq { expected, found } if found > expected => {
                write!(f, "expected seq {expected}, found seq {found}")
            }
            ChainBreak::Seq { expected, found } => write!(
                f,
                "seq {found} out of order (after seq {})",
                expected.saturating_sub(1)
            ),
            ChainBreak::PrevHash {
                found, expected, ..
            } => write!(
                f,
                "prev_hash {} does not link to the previous event's hash {}",
                short(found),
                short(expected)
            ),
            ChainBreak::Hash {
                stored, computed, ..
            } => write!(
                f,
                "stored hash {} but the content hashes to {}",
                short(stored),
                short(computed)
            ),
        }
    }
}

/// Checks a chain fed in seq order. Every call advances past the event it was given, broken or
/// not, so a verifier can report a break and go on (the next event is judged against this one).
#[derive(Debug, Clone)]
pub struct ChainCheck {
    next_seq: u64,
    /// The hash the next event must link to; `None` when it is not known (the first event of a
    /// tail checked from the middle, or after a record that did not decode).
    prev: Option<[u8; 32]>,
    /// Seq and hash of the last event seen.
    last: Option<(u64, [u8; 32])>,
}

impl Default for ChainCheck {
    fn default() -> ChainCheck {
        ChainCheck::from_genesis()
    }
}

impl ChainCheck {
    /// A whole log: seq 1 first, linking to [`GENESIS_HASH`].
    pub fn from_genesis() -> ChainCheck {
        ChainCheck::anchored(1, GENESIS_HASH)
    }

    /// A range starting at `first_seq` whose first event links to `prev_hash` (an archive's
    /// header gives both).
    pub fn anchored(first_seq: u64, prev_hash: [u8; 32]) -> ChainCheck {
        ChainCheck {
            next_seq: first_seq,
            prev: Some(prev_hash),
            last: None,
        }
    }

    /// A range starting at `first_seq` whose predecessor's hash is not known: the first event's
    /// link is not checked (the log's open re-checks only its tail).
    pub fn resuming_at(first_seq: u64) -> ChainCheck {
        ChainCheck {
            next_seq: first_seq,
            prev: None,
            last: None,
        }
    }

    /// The seq the next event should have.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Seq and hash of the last event checked (the chain's head so far).
    pub fn last(&self) -> Option<(u64, [u8; 32])> {
        self.last
    }

    /// Checks `env` (seq, link, content hash) and returns the first break, if any.
    pub fn check(&mut self, env: &Envelope) -> Result<(), ChainBreak> {
        self.check_all(env).into_iter().next().map_or(Ok(()), Err)
    }

    /// Checks `env` and returns every break it shows, in the order seq, link, hash.
    pub fn check_all(&mut self, env: &Envelope) -> Vec<ChainBreak> {
        self.check_parts(env.seq, &env.prev_hash, &env.hash, Some(env.compute_hash()))
    }

    /// Checks an event given by its chain fields: `computed` is the hash its content gives
    /// (computed by the caller, e.g. over the stored bytes), or `None` when only the position
    /// and the link are to be checked (a writer of already-checked envelopes, or a reader that
    /// sees the hashes but not the content).
    pub fn check_parts(
        &mut self,
        seq: u64,
        prev_hash: &[u8; 32],
        hash: &[u8; 32],
        computed: Option<[u8; 32]>,
    ) -> Vec<ChainBreak> {
        let mut breaks = Vec::new();
        if seq != self.next_seq {
            breaks.push(ChainBreak::Seq {
                expected: self.next_seq,
                found: seq,
            });
        }
        if let Some(expected) = self.prev.filter(|p| p != prev_hash) {
            breaks.push(ChainBreak::PrevHash {
                seq,
                found: *prev_hash,
                expected,
            });
        }
        if let Some(computed) = computed.filter(|c| c != hash) {
            breaks.push(ChainBreak::Hash {
                seq,
                stored: *hash,
                computed,
            });
        }
        self.next_seq = self.next_seq.max(seq.saturating_add(1));
        self.prev = Some(*hash);
        self.last = Some((seq, *hash));
        breaks
    }

    /// A record at `seq` that could not be decoded: its hash is unknown, so the next event's
    /// link cannot be checked. Returns the seq break if `seq` is not the expected one.
    pub fn skip_undecodable(&mut self, seq: u64) -> Option<ChainBreak> {
        let gap = (seq != self.next_seq).then_some(ChainBreak::Seq {
            expected: self.next_seq,
            found: seq,
        });
        self.next_seq = self.next_seq.max(seq.saturating_add(1));
        self.prev = None;
        gap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_input_is_the_envelope_encoding_without_hash() {
        let mut env = Envelope {
            seq: 300,
            stream: StreamId::new("catalog").expect("ok"),
            version: 2,
            event_id: EventId([7; 16]),
            event_type: "T".into(),
            schema_version: 3,
            recorded_at_ms: -5,
            actor: Actor {
                staff: "s".into(),
                role: "r".into(),
            },
            correlation_id: None,
            causation_id: Some(EventId([9; 16])),
            payload: vec![0; 300],
            prev_hash: [4; 32],
            hash: [0; 32],
        };
        env.hash = [0xAB; 32];
        let full = crate::codec::encode(&env);
        let body = &full[..full.len() - 32];
        let expect: [u8; 32] = Sha256::digest(body).into();
        assert_eq!(hash_envelope(&env), expect);
        // Any field change changes the hash.
        let h = hash_envelope(&env);
        env.payload[299] ^= 1;
        assert_ne!(hash_envelope(&env), h);
    }

    /// A chain of `n` events from seq 1, hashed as the writer hashes them.
    fn chain(n: u64) -> Vec<Envelope> {
        let mut prev = GENESIS_HASH;
        (1..=n)
            .map(|seq| {
                let mut env = Envelope {
                    seq,
                    stream: StreamId::new("s/1").expect("ok"),
                    version: seq,
                    event_id: EventId([seq as u8; 16]),
                    event_type: "T".into(),
                    schema_version: 1,
                    recorded_at_ms: 0,
                    actor: Actor {
                        staff: "s".into(),
                        role: "r".into(),
                    },
                    correlation_id: None,
                    causation_id: None,
                    payload: vec![seq as u8],
                    prev_hash: prev,
                    hash: [0; 32],
                };
                env.hash = env.compute_hash();
                prev = env.hash;
                env
            })
            .collect()
    }

    fn breaks(mut check: ChainCheck, envs: &[Envelope]) -> Vec<(u64, &'static str)> {
        envs.iter()
            .flat_map(|e| check.check_all(e))
            .map(|b| (b.seq(), b.rule()))
            .collect()
    }

    #[test]
    fn a_whole_chain_passes_and_ends_on_its_head() {
        let envs = chain(5);
        let mut check = ChainCheck::from_genesis();
        for e in &envs {
            check.check(e).expect("clean");
        }
        assert_eq!(check.last(), Some((5, envs[4].hash)));
        assert_eq!(check.next_seq(), 6);
    }

    #[test]
    fn each_break_is_named_with_its_seq_and_rule() {
        let envs = chain(6);
        // A deleted event: the gap names the missing seq, the next link breaks at the follower.
        let mut gap = envs.clone();
        gap.remove(2);
        assert_eq!(
            breaks(ChainCheck::from_genesis(), &gap),
            [(3, "seq"), (4, "prev_hash")]
        );
        // Two events swapped: out of order, and both links broken.
        let mut swapped = envs.clone();
        swapped.swap(3, 4);
        let found = breaks(ChainCheck::from_genesis(), &swapped);
        assert_eq!(found[0], (4, "seq"));
        assert!(found.contains(&(4, "prev_hash")), "{found:?}");
        // Changed content: only the hash, at that seq.
        let mut changed = envs.clone();
        changed[1].payload.push(0);
        assert_eq!(breaks(ChainCheck::from_genesis(), &changed), [(2, "hash")]);
        // A forged link with a matching hash: only the link.
        let mut forged = envs.clone();
        forged[4].prev_hash = [7; 32];
        forged[4].hash = forged[4].compute_hash();
        let found = breaks(ChainCheck::from_genesis(), &forged);
        assert_eq!(found[0], (5, "prev_hash"));
        // The first break, and its message.
        let mut check = ChainCheck::from_genesis();
        let first = gap
            .iter()
            .find_map(|e| check.check(e).err())
            .expect("break");
        assert_eq!(first.to_string(), "expected seq 3, found seq 4");
    }

    #[test]
    fn ranges_start_where_they_are_anchored() {
        let envs = chain(6);
        let mut anchored = ChainCheck::anchored(3, envs[1].hash);
        assert!(envs[2..].iter().all(|e| anchored.check(e).is_ok()));
        let mut wrong_anchor = ChainCheck::anchored(3, [1; 32]);
        assert_eq!(
            wrong_anchor.check(&envs[2]).unwrap_err().rule(),
            "prev_hash"
        );
        // From the middle without the predecessor's hash: the first link is not judged.
        let mut tail = ChainCheck::resuming_at(4);
        let mut first = envs[3].clone();
        first.prev_hash = [9; 32];
        first.hash = first.compute_hash();
        assert!(tail.check(&first).is_ok());
        assert_eq!(tail.check(&envs[4]).unwrap_err().rule(), "prev_hash");
        // An undecodable record: the next link is not judged, the seq still is.
        let mut check = ChainCheck::from_genesis();
        check.check(&envs[0]).expect("clean");
        assert_eq!(check.skip_undecodable(2), None);
        assert!(check.check(&envs[2]).is_ok());
        assert_eq!(
            check.skip_undecodable(9),
            Some(ChainBreak::Seq {
                expected: 4,
                found: 9
            })
        );
    }
}
