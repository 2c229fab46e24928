//! Building and running the server: open the log, seed the demo if asked, fold the staff
//! directory, start the projections, bind, serve with graceful shutdown.
//!
//! Shutdown order (why): cancel the token (axum stops accepting and SSE streams end, since an
//! open stream would block the drain forever, axum #2673) -> wait for in-flight requests (bounded
//! by `drain_timeout`) -> stop followers -> `log.close()`, which lets the writer finish its
//! batch and flush durably before the database closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use motcua_engine::log::{EventLog, LogConfig, LogError};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Directory;
use crate::config::ServeConfig;
use crate::engine::Engine;
use crate::errors::ApiError;
use crate::idempotency::{self, IdempotencyStore};
use crate::openapi::ApiDoc;
use crate::routes;
use crate::state::AppState;
use motcua_engine::recorded::decode_event;

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{}", crate::datadir::describe_open_error(std::path::Path::new(.dir), .source, &format!("cannot open the event log in {dir}")))]
    OpenLog { dir: String, source: LogError },
    #[error("cannot create the data directory {dir}: {source}")]
    DataDir { dir: String, source: std::io::Error },
    #[error("storage: {0}")]
    Storage(#[from] motcua_engine::storage::StorageError),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("demo seeding failed: {0}")]
    Demo(String),
    #[error("engine: {0}")]
    Engine(String),
    #[error("closing the log: {0}")]
    Close(LogError),
}

/// Every documented route. Registering a handler here also documents it.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::ops::healthz))
        .routes(routes!(routes::ops::readyz))
        .routes(routes!(routes::ops::metrics))
        .routes(routes!(routes::ops::openapi))
        .routes(routes!(routes::events::list))
        .routes(routes!(routes::views::list_dossiers))
        .routes(routes!(routes::views::get_dossier))
        .routes(routes!(routes::views::queues))
        .routes(routes!(routes::views::inbox))
        .routes(routes!(routes::views::worklist))
        .routes(routes!(routes::views::stats))
        .routes(routes!(routes::views::stats_codes))
        .routes(routes!(routes::views::catalog))
        .routes(routes!(routes::views::lookup))
        .routes(routes!(routes::dossiers::receive))
        .routes(routes!(routes::dossiers::submit))
        .routes(routes!(routes::dossiers::act))
        .routes(routes!(routes::slips::slip))
        .routes(routes!(routes::reference::calendar))
        .routes(routes!(routes::reference::publish_calendar))
        .routes(routes!(routes::reference::issue_procedure))
        .routes(routes!(routes::staff::list, routes::staff::create))
        .routes(routes!(routes::staff::revoke))
        .routes(routes!(routes::events::stream))
        .routes(routes!(routes::export::export))
        .routes(routes!(routes::plans::list, routes::plans::issue))
        .routes(routes!(routes::plans::get_plan))
        .routes(routes!(routes::plans::dashboard))
        .routes(routes!(routes::plans::add_task))
        .routes(routes!(routes::plans::task_action))
}

/// The complete router with its middleware, for `state`.
pub fn router(state: AppState) -> Router {
    let (api, _doc) = api_router().split_for_parts();
    let x_request_id = HeaderName::from_static("x-request-id");
    let body_limit = state.config().body_limit;
    api.route_layer(middleware::from_fn_with_state(state.clone(), track))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(x_request_id.clone(), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
                        let id = req
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
                    })
                    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(x_request_id)),
        )
        .with_state(state)
}

async fn no_route(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

// The problem's own `status` must be the response's (it said 400 on a 405; schemathesis).
async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

/// Records request count and latency by matched route.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    state
        .metrics()
        .record_request(&method, &route, resp.status().as_u16(), start.elapsed());
    resp
}

/// 503 for requests arriving while the server drains (kept-alive connections may still send).
async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.is_shutting_down() && req.uri().path() != "/healthz" {
        return ApiError::ShuttingDown.into_response();
    }
    next.run(req).await
}

/// A demo token printed at first start.
#[derive(Debug, Clone)]
pub struct DemoToken {
    pub role: String,
    pub staff: String,
    pub token: String,
}

/// A started server.
pub struct RunningServer {
    /// The bound address (the real port when bound to port 0).
    pub addr: SocketAddr,
    /// Tokens of the demo staff, when this start seeded the demo.
    pub demo_tokens: Vec<DemoToken>,
    state: AppState,
    serve: tokio::task::JoinHandle<std::io::Result<()>>,
    follower: tokio::task::JoinHandle<()>,
    stop_followers: tokio_util::sync::CancellationToken,
}

impl RunningServer {
    /// The shared state (tests use it to inspect the log).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The log the server writes.
    pub fn log(&self) -> &EventLog {
        self.state.log()
    }

    /// Graceful shutdown: stop accepting, end SSE streams, drain, flush and close the log.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        self.state.begin_shutdown();
        let drain = self.state.config().drain_timeout;
        match tokio::time::timeout(drain, self.serve).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "server ended with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "server task failed"),
            Err(_) => tracing::warn!(?drain, "drain timed out; closing anyway"),
        }
        self.stop_followers.cancel();
        let _ = self.follower.await;
        self.state.engine().stop().await;
        self.state
            .log()
            .clone()
            .close()
            .await
            .map_err(ServerError::Close)
    }
}

/// Opens everything and starts serving on `config.bind`.
pub async fn start(config: ServeConfig) -> Result<RunningServer, ServerError> {
    // Only a missing directory is created here: an existing path (even a file) is the log's to
    // judge, so that it gets the log's data-directory error.
    if !config.data_dir.exists() {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| ServerError::DataDir {
            dir: config.data_dir.display().to_string(),
            source,
        })?;
    }
    let log_config = LogConfig {
        queue_depth: config.log_queue_depth,
        ..LogConfig::default()
    };
    let log =
        EventLog::open(&config.data_dir, log_config).map_err(|source| ServerError::OpenLog {
            dir: config.data_dir.display().to_string(),
            source,
        })?;

    let mut demo_tokens = Vec::new();
    let seeding = config.demo && log.head().seq == 0;
    if seeding {
        let t0 = Instant::now();
        demo_tokens = crate::demo::seed(&log)
            .await
            .map_err(|e| ServerError::Demo(e.to_string()))?;
        tracing::info!(
            elapsed_ms = t0.elapsed().as_millis() as u64,
            events = log.head().seq,
            "demo seeded"
        );
    }

    // The directory is folded before serving so the first request can authenticate.
    let directory = Arc::new(Directory::default());
    for env in log.scan(0) {
        let env = env.map_err(|e| ServerError::Engine(e.to_string()))?;
        let ev = if env.event_type.starts_with("staff.") {
            decode_event(&env).ok()
        } else {
            None
        };
        directory.apply(env.seq, ev.as_ref());
    }
    let stop_followers = tokio_util::sync::CancellationToken::new();
    let follower = directory.spawn_follower(log.clone(), stop_followers.clone());

    let engine = Engine::start(log.clone())
        .await
        .map_err(|e| ServerError::Engine(e.to_string()))?;
    if seeding {
        // The figures of the commune's report, recomputed from the projections: fail loudly.
        let head = log.head().seq;
        if !engine
            .wait_for(head, std::time::Duration::from_secs(120))
            .await
        {
            return Err(ServerError::Demo("projections did not catch up".into()));
        }
        crate::demo::verify(engine.read_models()).map_err(|e| ServerError::Demo(e.to_string()))?;
        tracing::info!(
            "demo figures verified: desk 342/342 (216 early, 126 on time), online e-copy 187"
        );
    }
    let idem = IdempotencyStore::new(log.store().tree(idempotency::TREE)?)?;
    let state = AppState::new(config.clone(), log, engine, directory, idem);

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.bind,
        source,
    })?;
    let app = router(state.clone());
    let token = state.shutdown_token().clone();
    let serve = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(token.cancelled_owned())
        .await
    });
    tracing::info!(%addr, "listening");
    Ok(RunningServer {
        addr,
        demo_tokens,
        state,
        serve,
        follower,
        stop_followers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    #[tokio::test]
    async fn requests_arriving_while_draining_get_503() {
        let tmp = tempfile::tempdir().unwrap();
        let config = ServeConfig::new(tmp.path().join("d"), "127.0.0.1:0".parse().unwrap());
        let running = start(config).await.unwrap();
        let state = running.state().clone();
        let app = router(state.clone());
        let ok = app
            .clone()
            .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        state.begin_shutdown();
        let resp = app
            .oneshot(Request::get("/v1/staff").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        assert!(resp.headers().contains_key("retry-after"));
        running.shutdown().await.unwrap();
    }
}
