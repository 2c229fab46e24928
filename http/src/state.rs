//! The state every handler shares: the log, the engine adapter, the staff directory, metrics,
//! rate limiters, the idempotency store and the shutdown signal. Cheap to clone (one `Arc`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use motcua_engine::log::EventLog;
use tokio_util::sync::CancellationToken;

use crate::auth::Directory;
use crate::config::ServeConfig;
use crate::engine::Engine;
use crate::errors::ApiError;
use crate::idempotency::IdempotencyStore;
use crate::metrics::{Gauges, Metrics};
use crate::ratelimit::RateLimiter;

pub(crate) struct Inner {
    pub config: ServeConfig,
    pub log: EventLog,
    pub engine: Engine,
    pub directory: Arc<Directory>,
    pub metrics: Metrics,
    pub lookup_limiter: RateLimiter,
    pub auth_limiter: RateLimiter,
    pub idempotency: IdempotencyStore,
    /// Cancelled when shutdown begins: ends SSE streams and stops accepting.
    pub shutdown: CancellationToken,
    pub shutting_down: AtomicBool,
    pub sse_streams: AtomicU64,
    pub plans: Arc<motcua_engine::plan_service::PlanService>,
    /// Exports in progress: each holds a blocking thread and a log scan.
    pub exports: Arc<tokio::sync::Semaphore>,
}

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

impl AppState {
    pub(crate) fn new(
        config: ServeConfig,
        log: EventLog,
        engine: Engine,
        directory: Arc<Directory>,
        idempotency: IdempotencyStore,
    ) -> AppState {
        let lookup_limiter =
            RateLimiter::new(config.lookup_burst, config.lookup_per_second, 10_000);
        let auth_limiter =
            RateLimiter::new(config.auth_fail_burst, config.auth_fail_per_second, 10_000);
        let plans = Arc::new(motcua_engine::plan_service::PlanService::new(log.clone()));
        AppState {
            inner: Arc::new(Inner {
                config,
                log,
                engine,
                directory,
                metrics: Metrics::default(),
                lookup_limiter,
                auth_limiter,
                idempotency,
                shutdown: CancellationToken::new(),
                shutting_down: AtomicBool::new(false),
                sse_streams: AtomicU64::new(0),
                plans,
                exports: Arc::new(tokio::sync::Semaphore::new(
                    crate::routes::export::MAX_CONCURRENT_EXPORTS,
                )),
            }),
        }
    }

    /// Permits for concurrent exports (see `routes::export::MAX_CONCURRENT_EXPORTS`).
    pub fn exports(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.inner.exports
    }

    pub fn plans(&self) -> &motcua_engine::plan_service::PlanService {
        &self.inner.plans
    }

    pub fn config(&self) -> &ServeConfig {
        &self.inner.config
    }
    pub fn log(&self) -> &EventLog {
        &self.inner.log
    }
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }
    pub fn directory(&self) -> &Directory {
        &self.inner.directory
    }
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
    pub fn lookup_limiter(&self) -> &RateLimiter {
        &self.inner.lookup_limiter
    }
    pub fn auth_limiter(&self) -> &RateLimiter {
        &self.inner.auth_limiter
    }
    pub fn idempotency(&self) -> &IdempotencyStore {
        &self.inner.idempotency
    }
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }
    pub(crate) fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        self.inner.shutdown.cancel();
    }

    /// 503 when writes cannot be accepted: draining, or the writer fail-stopped.
    pub fn check_writable(&self) -> Result<(), ApiError> {
        if self.is_shutting_down() {
            return Err(ApiError::ShuttingDown);
        }
        if self.inner.log.is_failed() {
            return Err(ApiError::FailStopped(
                "appends are refused until an operator restarts motcua; reads keep working".into(),
            ));
        }
        Ok(())
    }

    /// Last log seq every read model (directory and projections) has folded.
    pub fn read_models_seq(&self) -> u64 {
        self.inner
            .directory
            .applied_seq()
            .min(self.inner.engine.projection_seq())
    }

    /// Waits until every read model reached `seq` (read-your-writes); false on timeout.
    pub async fn wait_for_read_models(&self, seq: u64) -> bool {
        let deadline = tokio::time::Instant::now() + self.inner.config.read_your_writes_timeout;
        if !self
            .inner
            .engine
            .wait_for(seq, self.inner.config.read_your_writes_timeout)
            .await
        {
            return false;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !self.inner.directory.wait_for(seq, left).await {
            return false;
        }
        true
    }

    /// Executes a dossier command for `caller`, then waits for the read models (read-your-
    /// writes) and reports the new state.
    pub async fn execute(
        &self,
        caller: &crate::auth::Caller,
        code: Option<&motcua_engine::domain::types::DossierCode>,
        cmd: motcua_engine::domain::Command,
        expected: Option<u64>,
        key: Option<&motcua_engine::idempotency::CommandKey>,
    ) -> Result<crate::engine::WriteOutcome, ApiError> {
        let timer = self.metrics().append_started();
        let o = self
            .engine()
            .execute(
                &caller.staff,
                code,
                cmd,
                crate::routes::views::now(),
                expected,
                key,
            )
            .await
            .map_err(crate::engine::map_service_error)?;
        timer.succeeded(o.events.len() as u64);
        let caught_up = self.wait_for_read_models(o.seq).await;
        let view = if caught_up {
            self.engine().read_models().dossier(&o.code).ok().flatten()
        } else {
            None
        };
        Ok(crate::engine::WriteOutcome {
            state: view.as_ref().map(|v| v.state.as_str().to_owned()),
            due: view.as_ref().and_then(|v| v.due),
            event_types: o
                .events
                .iter()
                .map(|e| e.change.event_type().to_owned())
                .collect(),
            code: o.code,
            version: o.version,
            seq: o.seq,
            deduplicated: o.deduplicated,
        })
    }

    /// The lookup secret printed on a receipt: random, or (with an `Idempotency-Key`) derived
    /// from the key and this server's salt so a retried receipt prints the same secret.
    pub fn lookup_secret(&self, staff: &str, key: Option<&str>) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let bytes: [u8; 32] = match key {
            Some(k) => {
                let mut input = self.inner.idempotency.salt().to_vec();
                input.extend_from_slice(staff.as_bytes());
                input.push(0);
                input.extend_from_slice(k.as_bytes());
                crate::auth::sha256(&input)
            }
            None => {
                let mut b = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
                b
            }
        };
        // 10 characters of a 32-letter alphabet: 50 bits, unambiguous to read aloud.
        bytes[..10]
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
            .collect()
    }

    pub fn gauges(&self) -> Gauges {
        Gauges {
            log_head_seq: self.inner.log.head().seq,
            projection_seq: self.read_models_seq(),
            log_failed: self.inner.log.is_failed(),
            shutting_down: self.is_shutting_down(),
            sse_streams: self.inner.sse_streams.load(Ordering::Relaxed),
            writer: Some(self.inner.log.writer_stats()),
        }
    }

    pub(crate) fn sse_opened(&self) -> SseGuard {
        self.inner.sse_streams.fetch_add(1, Ordering::Relaxed);
        SseGuard {
            state: self.clone(),
        }
    }
}

/// Counts an open SSE stream while alive.
pub(crate) struct SseGuard {
    state: AppState,
}

impl Drop for SseGuard {
    fn drop(&mut self) {
        self.state.inner.sse_streams.fetch_sub(1, Ordering::Relaxed);
    }
}
