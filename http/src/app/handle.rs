//! The application handle [`App`]: what every command and query shares (the log, the command
//! and plan services, the projections, the live staff directory, the idempotency store, the
//! append metrics), how it starts and stops, the writable check and read-your-writes.
//!
//! Its parts are visible to the application layer only (`pub(super)`): the HTTP layer asks
//! for typed commands and queries (`app.dossiers()`, `app.views()` ...), never for the engine.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use motcua_engine::domain::ReferenceData;
use motcua_engine::log::{EventLog, LogError, WriterStats};
use motcua_engine::plan_service::PlanService;
use motcua_engine::projection::ReadModels;
use motcua_engine::service::CommandService;
use motcua_engine::storage::{KvTree, StorageError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::accounts::{self, AccountStore};
use crate::app::caller::Caller;
use crate::app::citizens;
use crate::app::directory::Directory;
use crate::app::error::AppError;
use crate::app::files::{self, FileStore};
use crate::app::idempotency::{self, IdempotencyStore};
use crate::app::projections::ProjectionRunner;
use crate::app::sessions::SessionStore;
use crate::metrics::Metrics;

/// What the application takes from the server's configuration.
#[derive(Debug, Clone, Copy)]
pub struct AppConfig {
    /// How long a write waits for the read models to reach its seq before answering anyway.
    pub read_your_writes_timeout: Duration,
    /// Daily codes online submissions may not take (`CommandService::with_desk_reserve`).
    pub desk_reserve: u16,
}

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("engine: {0}")]
    Engine(String),
}

/// The log's condition, for readiness and metrics.
#[derive(Debug, Clone, Copy)]
pub struct LogStatus {
    pub head_seq: u64,
    pub failed: bool,
    pub writer: WriterStats,
}

struct Inner {
    log: EventLog,
    service: Arc<CommandService>,
    plans: PlanService,
    projections: ProjectionRunner,
    directory: Arc<Directory>,
    idempotency: IdempotencyStore,
    accounts: AccountStore,
    files: FileStore,
    sessions: SessionStore,
    citizens: KvTree,
    citizen_sessions: SessionStore<String>,
    metrics: Arc<Metrics>,
    config: AppConfig,
    stop_follower: CancellationToken,
    follower: Mutex<Option<JoinHandle<()>>>,
}

/// The application. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

impl App {
    /// Folds the staff directory, starts the command service and the projections over `log`
    /// (they catch up in the background) and follows the log with the directory.
    pub async fn open(
        log: EventLog,
        config: AppConfig,
        metrics: Arc<Metrics>,
    ) -> Result<App, OpenError> {
        let directory =
            Arc::new(Directory::fold_log(&log).map_err(|e| OpenError::Engine(e.to_string()))?);
        let reference = ReferenceData::builtin()
            .map_err(|e| OpenError::Engine(format!("command service: {e}")))?;
        let l = log.clone();
        let reserve = config.desk_reserve;
        let service = tokio::task::spawn_blocking(move || {
            CommandService::new(l, reference).map(|s| s.with_desk_reserve(reserve))
        })
        .await
        .map_err(|e| OpenError::Engine(format!("command service: {e}")))?
        .map_err(|e| OpenError::Engine(format!("command service: {e}")))?;
        let projections = ProjectionRunner::start(&log)
            .map_err(|e| OpenError::Engine(format!("projections: {e}")))?;
        let idempotency =
            IdempotencyStore::new(log.store().tree(idempotency::TREE)?).map_err(|e| {
                OpenError::Engine(format!(
                    "the stored answers (tree {}) are damaged ({e}): restore the data directory \
                     from a backup (motcua restore)",
                    idempotency::TREE
                ))
            })?;
        let accounts = AccountStore::new(
            log.store().tree(accounts::TREE)?,
            log.store().tree(accounts::AUDIT_TREE)?,
        )?;
        let trail = log.store().tree(files::DOWNLOADS_TREE)?;
        let l = log.clone();
        let files = tokio::task::spawn_blocking(move || FileStore::open(&l, trail))
            .await
            .map_err(|e| OpenError::Engine(format!("content store: {e}")))??;
        let citizens = log.store().tree(citizens::TREE)?;
        let stop_follower = CancellationToken::new();
        let follower = directory.spawn_follower(log.clone(), stop_follower.clone());
        Ok(App {
            inner: Arc::new(Inner {
                plans: PlanService::new(log.clone()),
                log,
                service: Arc::new(service),
                projections,
                directory,
                idempotency,
                accounts,
                files,
                sessions: SessionStore::default(),
                citizens,
                citizen_sessions: SessionStore::default(),
                metrics,
                config,
                stop_follower,
                follower: Mutex::new(Some(follower)),
            }),
        })
    }

    /// Stops following the log, stops the projections, then closes the log (the writer
    /// finishes its batch and flushes durably before the database closes).
    pub async fn shutdown(&self) -> Result<(), LogError> {
        self.inner.stop_follower.cancel();
        let follower = self
            .inner
            .follower
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(f) = follower {
            let _ = f.await;
        }
        self.inner.projections.stop().await;
        self.inner.log.clone().close().await
    }

    /// `FailStopped` when the log writer refuses appends after a storage error.
    pub fn check_writable(&self) -> Result<(), AppError> {
        if self.inner.log.is_failed() {
            return Err(AppError::FailStopped(
                "appends are refused until an operator restarts motcua; reads keep working".into(),
            ));
        }
        Ok(())
    }

    /// The caller holding `token`, or why the token is refused.
    pub fn authenticate(&self, token: &str) -> Result<Caller, &'static str> {
        self.inner.directory.authenticate(token)
    }

    /// The log's head, whether it fail-stopped, and the writer's counters.
    pub fn log_status(&self) -> LogStatus {
        LogStatus {
            head_seq: self.inner.log.head().seq,
            failed: self.inner.log.is_failed(),
            writer: self.inner.log.writer_stats(),
        }
    }

    /// Last log seq the projections have folded.
    pub fn projection_seq(&self) -> u64 {
        self.inner.projections.applied_seq()
    }

    /// Last log seq every read model (directory and projections) has folded.
    pub fn read_models_seq(&self) -> u64 {
        self.inner
            .directory
            .applied_seq()
            .min(self.projection_seq())
    }

    /// Waits until every read model reached `seq` (read-your-writes), at most the configured
    /// time; false on timeout.
    pub async fn wait_for_read_models(&self, seq: u64) -> bool {
        let timeout = self.inner.config.read_your_writes_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        if !self.inner.projections.wait_for(seq, timeout).await {
            return false;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.inner.directory.wait_for(seq, left).await
    }

    /// Waits until the projections reached `seq`, at most `timeout` (the demo's first fold).
    pub async fn wait_for_projections(&self, seq: u64, timeout: Duration) -> bool {
        self.inner.projections.wait_for(seq, timeout).await
    }

    pub(super) fn log(&self) -> &EventLog {
        &self.inner.log
    }

    pub(super) fn service(&self) -> &CommandService {
        &self.inner.service
    }

    pub(super) fn plan_service(&self) -> &PlanService {
        &self.inner.plans
    }

    pub(super) fn read_models(&self) -> &ReadModels {
        self.inner.projections.read_models()
    }

    pub(super) fn directory(&self) -> &Directory {
        &self.inner.directory
    }

    /// The stored first answers of keyed requests (the HTTP layer stores and replays them).
    pub fn idempotency(&self) -> &IdempotencyStore {
        &self.inner.idempotency
    }

    pub(super) fn account_store(&self) -> &AccountStore {
        &self.inner.accounts
    }

    pub(super) fn file_store(&self) -> &FileStore {
        &self.inner.files
    }

    pub(super) fn session_store(&self) -> &SessionStore {
        &self.inner.sessions
    }

    pub(super) fn citizen_tree(&self) -> &KvTree {
        &self.inner.citizens
    }

    pub(super) fn citizen_session_store(&self) -> &SessionStore<String> {
        &self.inner.citizen_sessions
    }

    pub(super) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}
