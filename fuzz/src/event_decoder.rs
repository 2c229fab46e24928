//! `event_decoder`: arbitrary bytes through every decoder that reads bytes from disk or from an
//! archive: a stored record ([`codec::decode_record`] of an [`Envelope`]), a domain [`Event`]
//! payload ([`codec::decode`]) and the log's `meta/head` record ([`MetaHead`]).
//!
//! Property: decoding never panics and never allocates beyond the codec's limit (the fuzzer
//! runs with `-malloc_limit_mb`, the replay test with a counting allocator); a value that
//! decodes re-encodes to exactly the input bytes (the encoding is canonical, so one value has one
//! hash) and decodes again to the same value.

use motcua_engine::codec::{self, CodecError};
use motcua_engine::domain::events::Event;
use motcua_engine::log::{Envelope, MetaHead};

/// What each decoder made of one input (kept for the replay test's assertions).
#[derive(Debug)]
pub struct Outcome {
    pub envelope: Result<Envelope, CodecError>,
    /// The envelope's payload decoded as a domain event, when the envelope decoded.
    pub payload_event: Option<Result<Event, CodecError>>,
    pub event: Result<Event, CodecError>,
    pub head: Result<MetaHead, CodecError>,
}

/// Runs every decoder over `data`; panics if a decoded value does not round-trip.
pub fn check(data: &[u8]) -> Outcome {
    let envelope = codec::decode_record::<Envelope>(data);
    let mut payload_event = None;
    if let Ok(env) = &envelope {
        assert_eq!(
            codec::encode_record(env),
            data,
            "envelope does not re-encode to its input bytes"
        );
        // What readers do with a decoded envelope next: none of it may panic.
        let _ = env.compute_hash();
        let _ = env.recorded_at();
        let _ = env.stream.category();
        let ev = codec::decode::<Event>(&env.payload);
        if let Ok(ev) = &ev {
            round_trip(ev, &env.payload);
        }
        payload_event = Some(ev);
    }
    let event = codec::decode::<Event>(data);
    if let Ok(ev) = &event {
        round_trip(ev, data);
    }
    let head = codec::decode::<MetaHead>(data);
    if let Ok(h) = &head {
        assert_eq!(
            codec::encode(h),
            data,
            "head does not re-encode to its input"
        );
    }
    Outcome {
        envelope,
        payload_event,
        event,
        head,
    }
}

fn round_trip(ev: &Event, data: &[u8]) {
    let _ = ev.event_type();
    let again = codec::encode(ev);
    assert_eq!(again, data, "event does not re-encode to its input bytes");
    assert_eq!(
        codec::decode::<Event>(&again).as_ref(),
        Ok(ev),
        "re-encoded event decodes differently"
    );
}
