//! The state every handler shares: the application ([`App`]) and what only the HTTP server
//! has (its configuration, metrics, rate limiters (the console's sign-in throttles too), online quotas, the shutdown signal, open SSE streams, the
//! export permits and the OpenAPI document). Cheap to clone (one `Arc`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::app::checkpoints::Checkpoints;
use crate::app::App;
use crate::config::{
    ServeConfig, SIGNIN_ACCOUNT_REFILL_PER_SECOND, SIGNIN_ADDRESS_REFILL_PER_SECOND,
    SIGNIN_FAILURES_PER_ACCOUNT, SIGNIN_FAILURES_PER_ADDRESS,
};
use crate::errors::ApiError;
use crate::metrics::{Gauges, Metrics};
use crate::quota::OnlineQuota;
use crate::ratelimit::RateLimiter;

/// Exports running at once: each holds a blocking thread and reads the whole range, so a few
/// auditors downloading cannot starve the desk's requests.
pub const MAX_CONCURRENT_EXPORTS: usize = 2;
/// Client addresses a rate limiter keeps buckets for.
const RATE_LIMITED_CLIENTS: usize = 10_000;

struct Inner {
    config: ServeConfig,
    app: App,
    metrics: Arc<Metrics>,
    lookup_limiter: RateLimiter,
    auth_limiter: RateLimiter,
    /// Failed console sign-ins per client address and per username.
    signin_address_limiter: RateLimiter,
    signin_account_limiter: RateLimiter<String>,
    online_quota: OnlineQuota,
    /// Cancelled when shutdown begins: ends SSE streams and stops accepting.
    shutdown: CancellationToken,
    shutting_down: AtomicBool,
    /// Cancelled a grace after shutdown began: bodies still arriving are cut
    /// (`server::cut_stalled_uploads`).
    uploads_cut: CancellationToken,
    sse_streams: AtomicU64,
    /// Exports in progress: each holds a blocking thread and a log scan.
    exports: Arc<Semaphore>,
    /// The OpenAPI document, as served.
    openapi_json: Arc<str>,
    /// The signed checkpoints of the log's head (`docs/checkpoints.md`).
    checkpoints: Checkpoints,
}

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl AppState {
    pub(crate) fn new(
        config: ServeConfig,
        app: App,
        metrics: Arc<Metrics>,
        openapi_json: Arc<str>,
    ) -> AppState {
        let lookup_limiter = RateLimiter::new(
            config.lookup_burst,
            config.lookup_per_second,
            RATE_LIMITED_CLIENTS,
        );
        let auth_limiter = RateLimiter::new(
            config.auth_fail_burst,
            config.auth_fail_per_second,
            RATE_LIMITED_CLIENTS,
        );
        let signin_address_limiter = RateLimiter::new(
            SIGNIN_FAILURES_PER_ADDRESS,
            SIGNIN_ADDRESS_REFILL_PER_SECOND,
            RATE_LIMITED_CLIENTS,
        );
        let signin_account_limiter = RateLimiter::new(
            SIGNIN_FAILURES_PER_ACCOUNT,
            SIGNIN_ACCOUNT_REFILL_PER_SECOND,
            RATE_LIMITED_CLIENTS,
        );
        let online_quota = OnlineQuota::new(
            config.online_quota_per_account,
            config.online_quota_per_address,
        );
        let checkpoints = app.checkpoints(&config.data_dir, config.checkpoint_keys.clone());
        AppState {
            inner: Arc::new(Inner {
                checkpoints,
                config,
                app,
                metrics,
                lookup_limiter,
                auth_limiter,
                signin_address_limiter,
                signin_account_limiter,
                online_quota,
                shutdown: CancellationToken::new(),
                shutting_down: AtomicBool::new(false),
                uploads_cut: CancellationToken::new(),
                sse_streams: AtomicU64::new(0),
                exports: Arc::new(Semaphore::new(MAX_CONCURRENT_EXPORTS)),
                openapi_json,
            }),
        }
    }

    /// The application: every command and query.
    pub fn app(&self) -> &App {
        &self.inner.app
    }

    pub fn config(&self) -> &ServeConfig {
        &self.inner.config
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

    /// Failed console sign-ins per client address.
    pub fn signin_address_limiter(&self) -> &RateLimiter {
        &self.inner.signin_address_limiter
    }

    /// Failed console sign-ins per username.
    pub fn signin_account_limiter(&self) -> &RateLimiter<String> {
        &self.inner.signin_account_limiter
    }

    /// The daily quotas of online submissions.
    pub fn online_quota(&self) -> &OnlineQuota {
        &self.inner.online_quota
    }

    /// Permits for concurrent exports (see [`MAX_CONCURRENT_EXPORTS`]).
    pub fn exports(&self) -> &Arc<Semaphore> {
        &self.inner.exports
    }

    /// The signed checkpoints of the log's head.
    pub fn checkpoints(&self) -> &Checkpoints {
        &self.inner.checkpoints
    }

    /// The OpenAPI document of this server.
    pub fn openapi_json(&self) -> &Arc<str> {
        &self.inner.openapi_json
    }

    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Cancelled when request bodies still arriving are to be cut.
    pub fn uploads_cut(&self) -> &CancellationToken {
        &self.inner.uploads_cut
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
        Ok(self.inner.app.check_writable()?)
    }

    /// The values sampled at scrape time.
    pub fn gauges(&self) -> Gauges {
        let log = self.inner.app.log_status();
        Gauges {
            log_head_seq: log.head_seq,
            projection_seq: self.inner.app.read_models_seq(),
            log_failed: log.failed,
            shutting_down: self.is_shutting_down(),
            sse_streams: self.inner.sse_streams.load(Ordering::Relaxed),
            writer: Some(log.writer),
        }
    }

    /// Counts an SSE stream as open until the guard is dropped.
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
