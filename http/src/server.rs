//! Building and running the server: open the log, seed the demo if asked, open the application
//! (staff directory, command services, projections), bind, serve the router with its middleware,
//! shut down gracefully.
//!
//! Shutdown order (why): cancel the token (axum stops accepting and SSE streams end, since an
//! open stream would block the drain forever, axum #2673) -> after `upload_grace`, cut the
//! bodies still arriving (a stalled upload would hold the drain) -> wait for in-flight requests
//! (bounded by `drain_timeout`) -> `App::shutdown`: stop the directory follower and the projections, then
//! `log.close()`, which lets the writer finish its batch and flush durably before the database
//! closes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::StreamExt;
use motcua_engine::log::{EventLog, LogConfig, LogError};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::app::handle::OpenError;
use crate::app::{App, AppConfig};
use crate::config::{ServeConfig, MAX_HEADER_BYTES, MAX_URI_BYTES};
use crate::demo::{DemoAccount, DemoToken};
use crate::errors::ApiError;
use crate::listener::{self, Peer};
use crate::metrics::Metrics;
use crate::routes::api_router;
use crate::state::AppState;

/// How long a first start waits for the projections to fold the demo commune before it checks
/// the figures.
const DEMO_FOLD_TIMEOUT: Duration = Duration::from_secs(120);

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{}", crate::datadir::describe_open_error(std::path::Path::new(.dir), .source, &format!("cannot open the event log in {dir}")))]
    OpenLog { dir: String, source: LogError },
    #[error("cannot create the data directory {dir}: {source}")]
    DataDir { dir: String, source: std::io::Error },
    #[error(transparent)]
    App(#[from] OpenError),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("demo seeding failed: {0}")]
    Demo(String),
    #[error("closing the log: {0}")]
    Close(LogError),
}

/// The OpenAPI document of the router, rendered once.
fn openapi_json() -> Arc<str> {
    static JSON: OnceLock<Arc<str>> = OnceLock::new();
    JSON.get_or_init(|| {
        let doc = crate::openapi::complete(api_router().split_for_parts().1);
        doc.to_json().unwrap_or_else(|_| "{}".into()).into()
    })
    .clone()
}

/// The complete router with its middleware, for `state`.
pub fn router(state: AppState) -> Router {
    let (api, _doc) = api_router().split_for_parts();
    let x_request_id = HeaderName::from_static("x-request-id");
    let body_limit = state.config().body_limit;
    // The console's HTML pages beside the API (not in its OpenAPI document).
    api.merge(crate::console::router())
        .route_layer(middleware::from_fn_with_state(state.clone(), track))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), cut_stalled_uploads))
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .layer(middleware::from_fn(edge_limits))
        .layer(middleware::from_fn(crate::reply::server_key))
        .layer(middleware::map_response(no_store))
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
                        // The path only: a query may carry a lookup secret (`/tra-cuu?mk=`,
                        // `/v1/lookup/{code}?secret=`), which no log may keep.
                        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                    })
                    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(x_request_id)),
        )
        .with_state(state)
}

/// `Cache-Control: no-store` on every answer that does not set its own: answers carry tokens,
/// lookup secrets and applicants' personal data, which no shared or browser cache may keep.
async fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .entry(axum::http::header::CACHE_CONTROL)
        .or_insert(axum::http::HeaderValue::from_static("no-store"));
    res
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

/// 414 and 431 as problem documents, for a target or headers over this server's limits (hyper's
/// own, higher limits answer bare statuses; see [`MAX_URI_BYTES`], [`MAX_HEADER_BYTES`]).
async fn edge_limits(req: Request, next: Next) -> Response {
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError::UriTooLong {
            limit: MAX_URI_BYTES,
        }
        .into_response();
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return ApiError::HeadersTooLarge {
            limit: MAX_HEADER_BYTES,
        }
        .into_response();
    }
    next.run(req).await
}

/// Cuts a request body still arriving once [`AppState::uploads_cut`] fires (a grace after the
/// shutdown signal): the body ends with an error, the handler gives up reading, and the answer
/// becomes 503 `shutting-down` with `Connection: close`. A body that has arrived is never cut,
/// so a request already deciding or writing completes. Without this, one client holding a
/// half-sent body kept the drain waiting for its whole timeout.
async fn cut_stalled_uploads(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
        return next.run(req).await;
    }
    let cut = Arc::new(AtomicBool::new(false));
    let (parts, body) = req.into_parts();
    let signal = state.uploads_cut().clone();
    let flag = cut.clone();
    let data = body.into_data_stream();
    let stream = futures::stream::unfold(Some(data), move |data| {
        let signal = signal.clone();
        let flag = flag.clone();
        async move {
            let mut data = data?;
            tokio::select! {
                biased;
                item = data.next() => item.map(|i| (i, Some(data))),
                () = signal.cancelled() => {
                    flag.store(true, Ordering::SeqCst);
                    let e = std::io::Error::other("shutting down: the body was cut");
                    Some((Err(axum::Error::new(e)), None))
                }
            }
        }
    });
    let req = Request::from_parts(parts, Body::from_stream(stream));
    let resp = next.run(req).await;
    if !cut.load(Ordering::SeqCst) {
        return resp;
    }
    let mut resp = ApiError::ShuttingDown.into_response();
    resp.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    resp
}

/// 503 for requests arriving while the server drains (kept-alive connections may still send).
async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.is_shutting_down() && req.uri().path() != "/healthz" {
        return ApiError::ShuttingDown.into_response();
    }
    next.run(req).await
}

/// A started server.
pub struct RunningServer {
    /// The bound address (the real port when bound to port 0).
    pub addr: SocketAddr,
    /// Tokens of the demo staff, when this start seeded the demo.
    pub demo_tokens: Vec<DemoToken>,
    /// Console accounts of the demo (one per role), when this start seeded the demo.
    pub demo_accounts: Vec<DemoAccount>,
    state: AppState,
    log: EventLog,
    serve: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The application the server serves (tests register staff and wait through it).
    pub fn app(&self) -> &App {
        self.state.app()
    }

    /// The log the server writes.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Graceful shutdown: stop accepting, end SSE streams, drain, flush and close the log.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        self.state.begin_shutdown();
        let cut = self.state.uploads_cut().clone();
        let grace = self.state.config().upload_grace;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            cut.cancel();
        });
        let drain = self.state.config().drain_timeout;
        match tokio::time::timeout(drain, self.serve).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "server ended with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "server task failed"),
            Err(_) => tracing::warn!(?drain, "drain timed out; closing anyway"),
        }
        self.state
            .app()
            .shutdown()
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
    let mut demo_accounts = Vec::new();
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
    let metrics = Arc::new(Metrics::default());
    let app_config = AppConfig {
        read_your_writes_timeout: config.read_your_writes_timeout,
        desk_reserve: config.desk_reserve,
    };
    let app = App::open(log.clone(), app_config, metrics.clone()).await?;
    if seeding {
        // The figures of the commune's report, recomputed from the projections: fail loudly.
        if !app
            .wait_for_projections(log.head().seq, DEMO_FOLD_TIMEOUT)
            .await
        {
            return Err(ServerError::Demo("projections did not catch up".into()));
        }
        crate::demo::verify(|from, to, filter| app.views().stats(from, to, filter))
            .map_err(|e| ServerError::Demo(e.to_string()))?;
        tracing::info!(
            "demo figures verified: desk 342/342 (216 early, 126 on time), online e-copy 187"
        );
        demo_accounts = crate::demo::seed_accounts(&app, &demo_tokens)
            .await
            .map_err(|e| ServerError::Demo(e.to_string()))?;
    }
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
    // Slip 01's QR code needs an address citizens can open; without `--public-url`, the one
    // bound (known only now when the port was 0).
    let mut config = config;
    if config.public_url.is_none() {
        config.public_url = Some(format!("http://{addr}"));
    }
    let state = AppState::new(config.clone(), app, metrics, openapi_json());
    if config.sign_checkpoints {
        crate::app::checkpoints::spawn_daily(
            state.checkpoints().clone(),
            state.shutdown_token().clone(),
        );
    }
    let fd_limit = listener::raise_fd_limit();
    let cap = listener::connection_cap(config.max_connections, fd_limit);
    let door = listener::Door::new(listener, cap, config.idle_timeout);
    let app = router(state.clone());
    let token = state.shutdown_token().clone();
    let serve = tokio::spawn(async move {
        axum::serve(door, app.into_make_service_with_connect_info::<Peer>())
            .with_graceful_shutdown(token.cancelled_owned())
            .await
    });
    tracing::info!(%addr, connections = cap, fd_limit, "listening");
    Ok(RunningServer {
        addr,
        demo_tokens,
        demo_accounts,
        state,
        log,
        serve,
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
