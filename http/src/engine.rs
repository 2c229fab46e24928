//! The thin adapter between HTTP handlers and the engine (command service and projections).
//! Handlers speak to [`Engine`] only, so the engine's API can evolve behind one file.

use std::sync::Arc;
use std::time::Duration;

use motcua_engine::domain::types::{DossierCode, Staff, Timestamp};
use motcua_engine::domain::{ActorRef, Command, DomainError, ReferenceData};
use motcua_engine::idempotency::CommandKey;
use motcua_engine::service::{CommandOutcome, CommandService, ServiceError};

use crate::errors::ApiError;
use motcua_engine::log::EventLog;
use motcua_engine::projection::{Projections, ReadModels};
use tokio::sync::RwLock;

/// Failures of the engine below the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("projections: {0}")]
    Projection(String),
    #[error("command service: {0}")]
    Service(String),
}

/// What a dossier write did, as the API reports it.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    pub code: DossierCode,
    pub version: u64,
    pub seq: u64,
    /// State name after the write (from the read model; `None` if it lagged).
    pub state: Option<String>,
    pub due: Option<Timestamp>,
    pub event_types: Vec<String>,
    pub deduplicated: bool,
}

/// Maps a service refusal to the API's problem types.
pub fn map_service_error(e: ServiceError) -> ApiError {
    match e {
        ServiceError::Domain(d) => map_domain_error(d),
        ServiceError::StaleVersion { current } => ApiError::PreconditionFailed {
            current_version: current,
        },
        ServiceError::NotFound(code) => ApiError::NotFound(format!("no dossier {code}")),
        ServiceError::Contended { stream, attempts } => ApiError::Conflict(format!(
            "{stream} kept changing; gave up after {attempts} attempts, retry"
        )),
        ServiceError::SequenceExhausted { unit, date } => ApiError::Conflict(format!(
            "the daily sequence of {unit} on {date} is exhausted"
        )),
        ServiceError::DuplicateEventId => ApiError::IdempotencyKeyReused,
        ServiceError::Append(a) => crate::routes::staff::map_append(a),
        other => ApiError::internal(other),
    }
}

/// Maps a domain refusal to the API's problem types.
pub fn map_domain_error(d: DomainError) -> ApiError {
    let detail = d.to_string();
    match d {
        DomainError::IllegalTransition {
            state,
            action,
            allowed,
        } => ApiError::IllegalTransition {
            detail,
            state,
            action,
            allowed_actions: allowed,
        },
        DomainError::Forbidden { .. }
        | DomainError::WrongField { .. }
        | DomainError::WrongUnit { .. }
        | DomainError::WrongSecret => ApiError::Forbidden(detail),
        DomainError::Validation { field, why } => ApiError::Validation { field, why },
        DomainError::UnknownProcedure { .. } => ApiError::validation("procedure", detail),
        DomainError::UnknownStaff(_) => ApiError::validation("specialist", detail),
        DomainError::SupplementLimit { .. } | DomainError::ApologyTooEarly { .. } => {
            ApiError::Conflict(detail)
        }
        DomainError::UnknownWorkflow(_) | DomainError::NoRuleSet(_) => ApiError::Internal(detail),
    }
}

/// The engine as the server uses it.
#[derive(Clone)]
pub struct Engine {
    log: EventLog,
    service: Arc<CommandService>,
    projections: Arc<RwLock<Option<Projections>>>,
    read_models: ReadModels,
}

impl Engine {
    /// Starts the projections over `log` (they catch up in the background).
    pub async fn start(log: EventLog) -> Result<Engine, EngineError> {
        let reference =
            ReferenceData::builtin().map_err(|e| EngineError::Service(e.to_string()))?;
        let l = log.clone();
        let service = tokio::task::spawn_blocking(move || CommandService::new(l, reference))
            .await
            .map_err(|e| EngineError::Service(e.to_string()))?
            .map_err(|e| EngineError::Service(e.to_string()))?;
        let projections =
            Projections::start(&log).map_err(|e| EngineError::Projection(e.to_string()))?;
        let read_models = projections.read_models();
        Ok(Engine {
            log,
            service: Arc::new(service),
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

    pub fn service(&self) -> &CommandService {
        &self.service
    }

    /// The actions `staff` may take on the dossier now (the workflow's table for its state,
    /// filtered by the caller's roles; a command may still be refused for its content).
    pub fn allowed_actions(&self, code: &DossierCode, staff: &Staff) -> Vec<String> {
        let Ok((state, _)) = self.service.load_dossier(code) else {
            return Vec::new();
        };
        let roles: Vec<_> = staff.roles.clone();
        self.service
            .with_reference(|r| motcua_engine::domain::allowed_actions(&state, &roles, r))
            .map(|v| v.into_iter().map(|a| a.as_str().to_owned()).collect())
            .unwrap_or_default()
    }

    /// Executes a dossier command as `staff` at `now`.
    pub async fn execute(
        &self,
        staff: &Staff,
        code: Option<&DossierCode>,
        cmd: Command,
        now: Timestamp,
        expected: Option<u64>,
        key: Option<&CommandKey>,
    ) -> Result<CommandOutcome, ServiceError> {
        let actor = ActorRef::Staff(staff.clone());
        self.service
            .execute(code, cmd, &actor, now, expected, key)
            .await
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
