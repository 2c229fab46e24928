//! The projection runner behind the read models, and read-your-writes over it.
//!
//! The runner is shared as an `Arc`: a wait clones it under a short lock and awaits without
//! any guard, so a slow wait never holds up `stop` or another request. `stop` takes the runner
//! out; a wait still holding a clone keeps it alive until that wait ends, and the runner stops
//! when the last clone goes (`Projections` signals its task on drop).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use motcua_engine::log::EventLog;
use motcua_engine::projection::{ProjectionError, Projections, ReadModels};

/// The running projections and their read models.
pub struct ProjectionRunner {
    read_models: ReadModels,
    running: Mutex<Option<Arc<Projections>>>,
}

impl ProjectionRunner {
    /// Starts the projections over `log` (they catch up in the background).
    pub fn start(log: &EventLog) -> Result<ProjectionRunner, ProjectionError> {
        let projections = Projections::start(log)?;
        Ok(ProjectionRunner {
            read_models: projections.read_models(),
            running: Mutex::new(Some(Arc::new(projections))),
        })
    }

    /// The live read models.
    pub fn read_models(&self) -> &ReadModels {
        &self.read_models
    }

    /// The runner, if not stopped (the lock is released before this returns).
    fn current(&self) -> Option<Arc<Projections>> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Last log seq the projections have folded (0 once stopped).
    pub fn applied_seq(&self) -> u64 {
        self.current().map_or(0, |p| p.applied_seq())
    }

    /// Waits until the projections reached `seq`; false on timeout or once stopped.
    pub async fn wait_for(&self, seq: u64, timeout: Duration) -> bool {
        match self.current() {
            Some(p) => p.wait_for(seq, timeout).await,
            None => false,
        }
    }

    /// Stops the runner after its current batch.
    pub async fn stop(&self) {
        let taken = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let Some(shared) = taken else {
            return;
        };
        match Arc::try_unwrap(shared) {
            Ok(p) => {
                if let Err(e) = p.stop().await {
                    tracing::warn!(error = %e, "projection runner ended with an error");
                }
            }
            // A request still waits on it (the drain timed out): it stops when that wait ends.
            Err(_) => tracing::warn!("projection runner still awaited; it stops when released"),
        }
    }
}
