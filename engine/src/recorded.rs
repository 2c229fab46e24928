//! Between the log and the domain: what a stored [`Envelope`] means to the domain.
//!
//! The log stores a payload's bytes under an event type and a schema version and knows nothing
//! of dossiers; the domain folds [`Recorded`] events and knows nothing of the log. This module is
//! the one place that turns the first into the second, for every reader (the command services,
//! the projection runner, the HTTP layer, the auditor's replay): the schema version is checked,
//! the payload decoded with the codec's limits, the actor's role parsed, and any failure is one
//! [`DecodeError`] naming the seq.
//!
//! [`decode_payload`] and [`decode_role`] are the two halves, for readers that hold an
//! envelope's parts rather than the envelope (the projection runner and `verify` copy them into
//! reusable buffers before decoding on another thread). [`encode_events`] is the way in: a
//! command's events as the log appends them.

use thiserror::Error;

use crate::codec::{self, CodecError};
use crate::domain::events::{Event, Recorded, SCHEMA_VERSION};
use crate::domain::types::{Role, Timestamp};
use crate::idempotency::CommandKey;
use crate::log::{Actor, Envelope, NewEvent};

/// A stored event the domain cannot read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("event seq {seq}: {problem}")]
pub struct DecodeError {
    pub seq: u64,
    pub problem: DecodeProblem,
}

/// What is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeProblem {
    /// A schema version this build has no decoder for.
    #[error("unknown schema version {0}")]
    SchemaVersion(u16),
    /// The payload does not decode to an [`Event`].
    #[error("{0}")]
    Payload(CodecError),
    /// The envelope's actor role is not one of the domain's roles.
    #[error("{0}")]
    Role(String),
}

/// The domain event of a payload written with `schema_version`.
pub fn decode_payload(seq: u64, schema_version: u16, payload: &[u8]) -> Result<Event, DecodeError> {
    let problem = if schema_version != SCHEMA_VERSION {
        DecodeProblem::SchemaVersion(schema_version)
    } else {
        match codec::decode::<Event>(payload) {
            Ok(event) => return Ok(event),
            Err(e) => DecodeProblem::Payload(e),
        }
    };
    Err(DecodeError { seq, problem })
}

/// The role an envelope's actor acted in.
pub fn decode_role(seq: u64, role: &str) -> Result<Role, DecodeError> {
    role.parse()
        .map_err(|e: crate::domain::types::ParseError| DecodeError {
            seq,
            problem: DecodeProblem::Role(e.to_string()),
        })
}

/// The domain event an envelope holds.
pub fn decode_event(env: &Envelope) -> Result<Event, DecodeError> {
    decode_payload(env.seq, env.schema_version, &env.payload)
}

/// An envelope as the domain's folds see it.
pub fn decode_recorded(env: &Envelope) -> Result<Recorded, DecodeError> {
    let event = decode_event(env)?;
    Ok(Recorded {
        seq: env.seq,
        stream: env.stream.as_str().to_owned(),
        version: env.version,
        recorded_at: Timestamp(env.recorded_at_ms),
        actor: env.actor.staff.clone(),
        role: decode_role(env.seq, &env.actor.role)?,
        event,
    })
}

/// A command's events as the log appends them, in today's schema: under the ids `key` derives
/// (the i-th event gets `key.event_id(i)`; each names the first as its correlation id), or
/// under ids the log assigns when there is no key.
pub fn encode_events(events: &[Event], actor: &Actor, key: Option<&CommandKey>) -> Vec<NewEvent> {
    let correlation_id = key.map(|k| k.event_id(0));
    events
        .iter()
        .zip(0u32..)
        .map(|(e, i)| NewEvent {
            event_id: key.map(|k| k.event_id(i)),
            event_type: e.event_type().to_owned(),
            schema_version: SCHEMA_VERSION,
            actor: actor.clone(),
            correlation_id,
            causation_id: None,
            payload: codec::encode(e),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::{CalendarEvent, YearCalendar};
    use crate::log::{Actor, EventId, StreamId};

    fn envelope(event: &Event, role: &str, schema_version: u16) -> Envelope {
        Envelope {
            seq: 12,
            stream: StreamId::calendar_year(2024),
            version: 3,
            event_id: EventId([1; 16]),
            event_type: event.event_type().to_owned(),
            schema_version,
            recorded_at_ms: 1_700_000_000_000,
            actor: Actor {
                staff: "qt-01".into(),
                role: role.into(),
            },
            correlation_id: None,
            causation_id: None,
            payload: codec::encode(event),
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    fn calendar() -> Event {
        Event::Calendar(CalendarEvent::YearPublished(YearCalendar {
            year: 2024,
            days_off: vec![],
            makeup_working_days: vec![],
            note: String::new(),
        }))
    }

    #[test]
    fn a_valid_envelope_decodes_into_its_recorded_event() {
        let rec = decode_recorded(&envelope(&calendar(), "admin", SCHEMA_VERSION)).unwrap();
        assert_eq!(rec.seq, 12);
        assert_eq!(rec.stream, "calendar/2024");
        assert_eq!((rec.version, rec.recorded_at.0), (3, 1_700_000_000_000));
        assert_eq!((rec.actor.as_str(), rec.role), ("qt-01", Role::Admin));
        assert_eq!(rec.event, calendar());
    }

    #[test]
    fn each_problem_names_the_seq() {
        let e = decode_event(&envelope(&calendar(), "admin", 2)).unwrap_err();
        assert_eq!(e.problem, DecodeProblem::SchemaVersion(2));
        assert_eq!(e.to_string(), "event seq 12: unknown schema version 2");
        let e = decode_recorded(&envelope(&calendar(), "mayor", SCHEMA_VERSION)).unwrap_err();
        assert!(matches!(e.problem, DecodeProblem::Role(_)), "{e}");
        let mut env = envelope(&calendar(), "admin", SCHEMA_VERSION);
        env.payload.truncate(3);
        let e = decode_recorded(&env).unwrap_err();
        assert!(matches!(e.problem, DecodeProblem::Payload(_)), "{e}");
        assert_eq!(e.seq, 12);
    }
}
