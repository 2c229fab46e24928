//! A log envelope with its domain event, as the application's log reads (a dossier's history,
//! the event pages and stream) hand them out. Decoding is the engine's one envelope decoder
//! ([`decode_event`]); the staff directory and a published calendar call it directly.

use motcua_engine::domain::events::Event;
use motcua_engine::log::Envelope;
use motcua_engine::recorded::decode_event;

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
