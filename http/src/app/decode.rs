//! Reading the domain event out of an envelope, for the application layer's one decoder: the
//! staff directory folds what it decodes, and the log reads (a dossier's history, the event
//! pages and stream, a published calendar) hand out [`LoggedEvent`]s.
//
// MERGE: the engine's envelope decoder (issue 12, "one envelope decoder") replaces
// `decode_event` here; every caller in http goes through this function.

use motcua_engine::codec::{self, CodecError};
use motcua_engine::domain::events::Event;
use motcua_engine::log::Envelope;

/// The domain event in `env`.
pub fn decode_event(env: &Envelope) -> Result<Event, CodecError> {
    codec::decode::<Event>(&env.payload)
}

/// An envelope of the log with its domain event (`None` when this build cannot decode it).
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    pub envelope: Envelope,
    pub event: Option<Event>,
}

impl LoggedEvent {
    pub fn new(envelope: Envelope) -> LoggedEvent {
        let event = decode_event(&envelope).ok();
        LoggedEvent { envelope, event }
    }
}
