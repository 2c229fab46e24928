//! Between the log and the domain: what a stored [`Envelope`] means to the domain.
//!
//! The log stores a payload's bytes under an event type and a schema version and knows nothing
//! of dossiers; the domain folds [`Recorded`] events and knows nothing of the log. This module is
//! the one place that turns the first into the second, for every reader (the command services,
//! the projection runner, the HTTP layer, the auditor's replay): the schema version is checked,
//! the payload decoded with the codec's limits, the actor's role parsed, and any failure is one
//! [`DecodeError`] naming the seq.
//!
//! Readers that hand envelopes to another thread before decoding them (the projection runner's
//! catch-up, `motcua-replay verify`) copy the fields the domain reads into an
//! [`EnvelopeBatch`]: one reused buffer, so the allocations of a decoded event are made and freed
//! by the thread that folds it. An [`EnvelopeView`] (borrowed from an envelope or a batch) is
//! what both decoders read. [`encode_events`] is the way in: a command's events as the log
//! appends them.

use std::ops::Range;

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

/// The domain event an envelope holds.
pub fn decode_event(env: &Envelope) -> Result<Event, DecodeError> {
    EnvelopeView::of(env).event()
}

/// An envelope as the domain's folds see it.
pub fn decode_recorded(env: &Envelope) -> Result<Recorded, DecodeError> {
    EnvelopeView::of(env).recorded()
}

/// The fields of an envelope the domain reads, borrowed (from an [`Envelope`] or an
/// [`EnvelopeBatch`]).
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeView<'a> {
    pub seq: u64,
    pub stream: &'a str,
    pub version: u64,
    pub event_type: &'a str,
    pub schema_version: u16,
    pub recorded_at_ms: i64,
    /// The actor's staff id.
    pub staff: &'a str,
    /// The actor's role, as stored.
    pub role: &'a str,
    pub payload: &'a [u8],
}

impl<'a> EnvelopeView<'a> {
    pub fn of(env: &'a Envelope) -> EnvelopeView<'a> {
        EnvelopeView {
            seq: env.seq,
            stream: env.stream.as_str(),
            version: env.version,
            event_type: &env.event_type,
            schema_version: env.schema_version,
            recorded_at_ms: env.recorded_at_ms,
            staff: &env.actor.staff,
            role: &env.actor.role,
            payload: &env.payload,
        }
    }

    /// The domain event (schema version checked, payload decoded).
    pub fn event(&self) -> Result<Event, DecodeError> {
        decode_payload(self.seq, self.schema_version, self.payload)
    }

    /// The role the actor acted in.
    pub fn role(&self) -> Result<Role, DecodeError> {
        self.role
            .parse()
            .map_err(|e: crate::domain::types::ParseError| DecodeError {
                seq: self.seq,
                problem: DecodeProblem::Role(e.to_string()),
            })
    }

    /// The event as the domain's folds see it.
    pub fn recorded(&self) -> Result<Recorded, DecodeError> {
        let event = self.event()?;
        Ok(Recorded {
            seq: self.seq,
            stream: self.stream.to_owned(),
            version: self.version,
            recorded_at: Timestamp(self.recorded_at_ms),
            actor: self.staff.to_owned(),
            role: self.role()?,
            event,
        })
    }
}

/// Where one envelope's fields lie in an [`EnvelopeBatch`].
#[derive(Debug)]
struct BatchEntry {
    seq: u64,
    version: u64,
    schema_version: u16,
    recorded_at_ms: i64,
    stream: Range<usize>,
    event_type: Range<usize>,
    staff: Range<usize>,
    role: Range<usize>,
    payload: Range<usize>,
}

/// The fields of many envelopes copied into one reused buffer, to be decoded later (on the
/// thread that folds them). Handing decoded envelopes or events across threads instead kept
/// their many small allocations alive there, and the allocator's cost of freeing them in
/// bursts was as large as the work itself (BENCHMARKS.md, the projections' second round).
#[derive(Debug, Default)]
pub struct EnvelopeBatch {
    bytes: Vec<u8>,
    entries: Vec<BatchEntry>,
}

impl EnvelopeBatch {
    /// Empties the batch, keeping its memory.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Seq of the last envelope pushed.
    pub fn last_seq(&self) -> Option<u64> {
        self.entries.last().map(|e| e.seq)
    }

    fn put(&mut self, b: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        start..self.bytes.len()
    }

    /// Copies the fields of `env` the domain reads.
    pub fn push(&mut self, env: &Envelope) {
        let entry = BatchEntry {
            seq: env.seq,
            version: env.version,
            schema_version: env.schema_version,
            recorded_at_ms: env.recorded_at_ms,
            stream: self.put(env.stream.as_str().as_bytes()),
            event_type: self.put(env.event_type.as_bytes()),
            staff: self.put(env.actor.staff.as_bytes()),
            role: self.put(env.actor.role.as_bytes()),
            payload: self.put(&env.payload),
        };
        self.entries.push(entry);
    }

    /// The `i`-th envelope pushed.
    pub fn get(&self, i: usize) -> Option<EnvelopeView<'_>> {
        self.entries.get(i).map(|e| self.view(e))
    }

    /// The envelopes in the order pushed.
    pub fn iter(&self) -> impl Iterator<Item = EnvelopeView<'_>> {
        self.entries.iter().map(|e| self.view(e))
    }

    fn view(&self, e: &BatchEntry) -> EnvelopeView<'_> {
        // The strings were whole `str`s when copied in, so they are valid UTF-8 within the
        // buffer's bounds; the fallback (an empty string) is unreachable.
        let text = |r: &Range<usize>| {
            self.bytes
                .get(r.clone())
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default()
        };
        EnvelopeView {
            seq: e.seq,
            stream: text(&e.stream),
            version: e.version,
            event_type: text(&e.event_type),
            schema_version: e.schema_version,
            recorded_at_ms: e.recorded_at_ms,
            staff: text(&e.staff),
            role: text(&e.role),
            payload: self.bytes.get(e.payload.clone()).unwrap_or_default(),
        }
    }
}

/// A command's events as the log appends them, in today's schema: under the ids `key` derives
/// (the i-th event gets `key.event_id(i)`; each names the first as its correlation id and the
/// key's request mark, if any, as its causation id), or under ids the log assigns when there
/// is no key.
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
            // The request that caused them (its fingerprint's mark), for a keyed retry
            // answered from the log to recognise another request sent with the same key.
            causation_id: key.and_then(CommandKey::request_mark),
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
    fn a_batch_gives_back_what_was_pushed() {
        let mut batch = EnvelopeBatch::default();
        let envs = [
            envelope(&calendar(), "admin", SCHEMA_VERSION),
            envelope(&calendar(), "leader", 2),
        ];
        for e in &envs {
            batch.push(e);
        }
        assert_eq!((batch.len(), batch.last_seq()), (2, Some(12)));
        for (view, env) in batch.iter().zip(&envs) {
            let direct = EnvelopeView::of(env);
            assert_eq!(
                (
                    view.stream,
                    view.event_type,
                    view.staff,
                    view.role,
                    view.payload
                ),
                (
                    direct.stream,
                    direct.event_type,
                    direct.staff,
                    direct.role,
                    direct.payload
                )
            );
            assert_eq!(view.recorded(), decode_recorded(env));
        }
        assert!(batch.get(2).is_none());
        batch.clear();
        assert!(batch.is_empty());
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
