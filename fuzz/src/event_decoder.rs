//! `event_decoder`: arbitrary bytes through every decoder that reads bytes from disk or from an
//! archive: a stored record ([`codec::decode_record`] of an [`Envelope`], its payload under its
//! schema version), a domain [`Event`] payload ([`codec::decode`]: today's schema, else version
//! 1's, upcast) and the log's `meta/head` record ([`MetaHead`]).
//!
//! Property: decoding never panics and never allocates beyond the codec's limit (the fuzzer
//! runs with `-malloc_limit_mb`, the replay test with a counting allocator); a value that
//! decodes re-encodes to bytes that decode to the same value and re-encode to themselves (the
//! canonical form).
//!
//! Why not "re-encodes to exactly the input": one value has several decodable encodings, found
//! by this target within seconds. bincode 2 accepts over-long variable-length integers (`fd` +
//! 8 bytes for a value that fits `fc` + 4 or one byte; regression input
//! `corpus/event_decoder/noncanonical-varint-payload`), and chrono's `NaiveDate` parser accepts
//! `"2022- 1-01"` for `"2022-01-01"` (`noncanonical-date-payload`). That is not an integrity
//! hole here: an envelope's hash is computed over the canonical re-encoding of its decoded
//! fields, so an over-long envelope encoding hashes the same; a payload is hashed as its raw
//! bytes, so changing them in any way, canonical or not, breaks the chain at that seq; and
//! payloads only ever come from `codec::encode`. [`Outcome::canonical`] reports it so tests can
//! pin it.

use motcua_engine::codec::{self, CodecError};
use motcua_engine::domain::events::{Event, SCHEMA_VERSION};
use motcua_engine::domain::events_v1::EventV1;
use motcua_engine::log::{Envelope, MetaHead};

/// What each decoder made of one input (kept for the replay test's assertions).
#[derive(Debug)]
pub struct Outcome {
    pub envelope: Result<Envelope, CodecError>,
    /// The envelope's payload decoded as a domain event, when the envelope decoded.
    pub payload_event: Option<Result<Event, CodecError>>,
    pub event: Result<Event, CodecError>,
    pub head: Result<MetaHead, CodecError>,
    /// False if some decoder accepted the input but re-encodes it differently (over-long
    /// integers); true if every successful decode re-encoded to exactly the input.
    pub canonical: bool,
}

/// Runs every decoder over `data`; panics if a decoded value has no stable canonical form.
pub fn check(data: &[u8]) -> Outcome {
    let mut canonical = true;
    let envelope = codec::decode_record::<Envelope>(data);
    let mut payload_event = None;
    if let Ok(env) = &envelope {
        let again = codec::encode_record(env);
        canonical &= stable(&again, data, codec::decode_record::<Envelope>, env);
        // What readers do with a decoded envelope next: none of it may panic.
        let _ = env.compute_hash();
        let _ = env.recorded_at();
        let _ = env.stream.category();
        let (ev, c) = payload(env.schema_version, &env.payload);
        canonical &= c;
        payload_event = Some(ev);
    }
    // A bare payload: today's shape, else schema version 1's (an old log's, upcast).
    let (event, c) = match payload(SCHEMA_VERSION, data) {
        (Err(_), _) => payload(1, data),
        today => today,
    };
    canonical &= c;
    let head = codec::decode::<MetaHead>(data);
    if let Ok(h) = &head {
        canonical &= stable(&codec::encode(h), data, codec::decode::<MetaHead>, h);
    }
    Outcome {
        envelope,
        payload_event,
        event,
        head,
        canonical,
    }
}

/// A payload decoded as readers decode it (`schema_version` chooses the shape; version 1 is
/// upcast, `engine/src/recorded.rs`), and whether its bytes are the canonical encoding of that
/// shape (an upcast event re-encodes in today's shape, so version 1 is compared in its own).
fn payload(schema_version: u16, data: &[u8]) -> (Result<Event, CodecError>, bool) {
    if schema_version == 1 {
        return match codec::decode::<EventV1>(data) {
            Ok(v1) => {
                let c = stable(&codec::encode(&v1), data, codec::decode::<EventV1>, &v1);
                let ev = Event::from(v1);
                let _ = ev.event_type();
                (Ok(ev), c)
            }
            Err(e) => (Err(e), true),
        };
    }
    match codec::decode_payload::<Event>(schema_version, data) {
        Ok(ev) => {
            let _ = ev.event_type();
            let c = stable(&codec::encode(&ev), data, codec::decode::<Event>, &ev);
            (Ok(ev), c)
        }
        Err(e) => (Err(e), true),
    }
}

/// Checks that `again` (the re-encoding of `value`, decoded from `data`) is a canonical form:
/// it decodes to the same value (so re-encoding it again gives it back). Returns whether it
/// equals `data`.
fn stable<T: PartialEq + std::fmt::Debug>(
    again: &[u8],
    data: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, CodecError>,
    value: &T,
) -> bool {
    assert_eq!(
        decode(again).as_ref(),
        Ok(value),
        "re-encoded value decodes differently"
    );
    again == data
}
