//! Hash chaining: each envelope's hash covers its content and the previous event's hash, so
//! any change to a stored event (or a removed/reordered one) breaks the chain at that seq.

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
}
