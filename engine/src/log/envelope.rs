//! The envelope and its parts: what one stored event looks like, and the value types callers
//! use to append (stream ids, event ids, actors, expected versions, results).
//!
//! These types are stored with bincode (see `codec`), so they stay plain: no serde attribute
//! that bincode cannot decode. Field order is part of the on-disk format and of the hash input.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::error::LogError;
use super::limits::MAX_STREAM_ID_BYTES;

/// A stream identifier such as `dossier/000.00.00.G10-230126-0001`, `catalog`, `staff/s-01`.
///
/// 1..=[`MAX_STREAM_ID_BYTES`] bytes of printable ASCII without whitespace. The restriction is
/// load-bearing: the `streams` index key is `stream ++ 0x00 ++ version`, so a stream id must never
/// contain 0x00, and ASCII keeps byte order equal to the visible order for prefix scans.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct StreamId(String);

impl StreamId {
    pub fn new(s: impl Into<String>) -> Result<StreamId, LogError> {
        let s = s.into();
        if s.is_empty() || s.len() > MAX_STREAM_ID_BYTES {
            return Err(LogError::InvalidStreamId(format!(
                "length {} not in 1..={MAX_STREAM_ID_BYTES}",
                s.len()
            )));
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(LogError::InvalidStreamId(format!(
                "{s:?}: only printable ASCII without whitespace is allowed"
            )));
        }
        Ok(StreamId(s))
    }

    /// A stream id the engine spells from parts that are valid by construction (the typed
    /// constructors in `crate::streams`: ASCII codes and slugs far below the length limit).
    pub(crate) fn from_valid(s: String) -> StreamId {
        debug_assert!(StreamId::new(s.as_str()).is_ok(), "invalid stream id {s:?}");
        StreamId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the first '/' (`dossier` for `dossier/X`; the whole id if there is none).
    pub fn category(&self) -> &str {
        self.0.split('/').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for StreamId {
    type Err = LogError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StreamId::new(s)
    }
}

// Validates on decode too: a corrupt record cannot smuggle an invalid stream id in.
impl<'de> Deserialize<'de> for StreamId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        StreamId::new(s).map_err(serde::de::Error::custom)
    }
}

/// A 16-byte event id (a UUID): the idempotency key of an event. Encoded as its 16 raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventId(pub [u8; 16]);

impl EventId {
    pub fn random() -> EventId {
        EventId(*uuid::Uuid::new_v4().as_bytes())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&uuid::Uuid::from_bytes(self.0).hyphenated(), f)
    }
}

impl FromStr for EventId {
    type Err = LogError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s)
            .map(|u| EventId(*u.as_bytes()))
            .map_err(|e| LogError::InvalidEventId(format!("{s:?}: {e}")))
    }
}

/// Who recorded an event and in which role. The log knows nothing of the domain's roles.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub staff: String,
    pub role: String,
}

/// Optimistic concurrency: what the caller believes the stream's version is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet (version 0).
    NoStream,
    /// The stream's current version must be exactly this (0 = no stream).
    Exact(u64),
}

impl ExpectedVersion {
    pub(crate) fn matches(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(n) => actual == n,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(n) => write!(f, "{n}"),
        }
    }
}

/// An event to append. `event_id: None` lets the log generate one (no idempotency then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_id: Option<EventId>,
    pub event_type: String,
    pub schema_version: u16,
    pub actor: Actor,
    pub correlation_id: Option<EventId>,
    pub causation_id: Option<EventId>,
    pub payload: Vec<u8>,
}

impl NewEvent {
    /// Size counted against `max_event_bytes`: payload plus the variable-length header strings.
    pub fn size(&self) -> usize {
        self.payload.len() + self.event_type.len() + self.actor.staff.len() + self.actor.role.len()
    }
}

/// One stored event. Field order is the on-disk order and the hash input order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Global position, gapless from 1.
    pub seq: u64,
    pub stream: StreamId,
    /// Position within the stream, contiguous from 1.
    pub version: u64,
    pub event_id: EventId,
    pub event_type: String,
    pub schema_version: u16,
    /// UTC unix milliseconds from the log's clock at commit; never decreasing along the log.
    pub recorded_at_ms: i64,
    pub actor: Actor,
    pub correlation_id: Option<EventId>,
    pub causation_id: Option<EventId>,
    pub payload: Vec<u8>,
    /// `hash` of the previous event (`[0; 32]` for seq 1).
    pub prev_hash: [u8; 32],
    /// SHA-256 of the canonical encoding of every field above (see [`Envelope::compute_hash`]).
    pub hash: [u8; 32],
}

impl Envelope {
    pub fn recorded_at(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.recorded_at_ms)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// SHA-256 over the canonical codec encoding of every field except `hash`.
    pub fn compute_hash(&self) -> [u8; 32] {
        super::chain::hash_envelope(self)
    }

    /// True if `other` records the same event content (everything the caller supplied), so a
    /// retried append can be recognised as a duplicate rather than a conflict.
    pub(crate) fn same_content(&self, stream: &StreamId, ev: &NewEvent) -> bool {
        &self.stream == stream
            && self.event_type == ev.event_type
            && self.schema_version == ev.schema_version
            && self.actor == ev.actor
            && self.correlation_id == ev.correlation_id
            && self.causation_id == ev.causation_id
            && self.payload == ev.payload
    }
}

/// A position in the global log: the seq and hash of its last event (seq 0 = empty log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub seq: u64,
    pub hash: [u8; 32],
}

/// Result of a successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub first_seq: u64,
    pub last_seq: u64,
    pub first_version: u64,
    pub last_version: u64,
    pub recorded_at_ms: i64,
    /// True if every event already existed with identical content: nothing was written.
    pub deduplicated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids() {
        for ok in [
            "dossier/000.00.00.G10-230126-0001",
            "catalog",
            "calendar/2023",
            "staff/s-01",
        ] {
            assert_eq!(StreamId::new(ok).expect(ok).as_str(), ok);
        }
        assert_eq!(
            StreamId::new("dossier/x").expect("ok").category(),
            "dossier"
        );
        assert_eq!(StreamId::new("catalog").expect("ok").category(), "catalog");
        for bad in ["", "a b", "a\0b", "xã", &"x".repeat(129)] {
            assert!(StreamId::new(bad).is_err(), "{bad:?}");
        }
        assert!(StreamId::new("x".repeat(128)).is_ok());
    }

    #[test]
    fn event_id_text_round_trip() {
        let id = EventId::random();
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(text.parse::<EventId>().expect("parse"), id);
        assert!("nope".parse::<EventId>().is_err());
    }
}
