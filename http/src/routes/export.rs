//! `GET /v1/export` (auditor, admin): the log as a motcua archive, streamed.
//!
//! The range is fixed when the request arrives (the durable head then), so the archive is
//! consistent at one seq however long the download takes while dossiers keep moving. The archive
//! is written by a blocking task into a bounded channel that feeds the response body: memory
//! stays at a few chunks whatever the log's size, and a slow client slows the writer down
//! instead of piling bytes up. If the client goes away the writer stops at its next chunk; if
//! the export fails midway (or the server starts shutting down) the body ends with an error, so
//! the client sees a broken transfer, never a short file that looks complete (and the archive's
//! trailer would expose one anyway).

use std::io::{self, BufWriter, Write};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use utoipa::IntoParams;

use crate::app::export::ExportError;
use crate::app::Caller;
use crate::errors::ApiError;
use crate::extract::ApiQuery;
use crate::routes::roles::LOG_READERS;
use crate::state::AppState;

/// Bytes per body chunk.
pub const EXPORT_CHUNK_BYTES: usize = 64 * 1024;
/// Chunks buffered between the archive writer and the connection: bounds an export's memory
/// to about 1 MiB.
pub const EXPORT_CHANNEL_CHUNKS: usize = 16;
/// Response header: the last seq in the archive (fixed when the request arrived).
pub const LAST_SEQ_HEADER: &str = "x-motcua-last-seq";
/// Response header: the hash of that event (hex), which the archive's trailer must repeat.
pub const HEAD_HASH_HEADER: &str = "x-motcua-head-hash";

#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// First seq (default 1).
    pub from: Option<u64>,
    /// Last seq (default and at most: the durable head when the request arrives).
    pub to: Option<u64>,
}

/// Export the log (xuất nhật ký): a motcua archive (docs/archive-format.md) of events
/// `from..=to`, streamed; the same bytes as `motcua export` of the same log and range.
#[utoipa::path(get, path = "/v1/export", tag = "log", params(ExportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, content_type = "application/octet-stream", body = String,
            description = "the archive; headers x-motcua-last-seq and x-motcua-head-hash"),
        (status = 401), (status = 403), (status = 422),
        (status = 429, description = "too many exports running; retry after Retry-After")))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    caller.require_any(&LOG_READERS)?;
    // Held until the archive is written (moved into the writer task).
    let permit = state
        .exports()
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Overloaded { retry_after_s: 10 })?;
    let job = state.app().export(q.from, q.to)?;
    let plan = &job.plan;
    let (tx, mut rx) = mpsc::channel::<io::Result<Bytes>>(EXPORT_CHANNEL_CHUNKS);
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("attachment; filename=\"{}\"", plan.file_name()))
                .map_err(ApiError::internal)?,
        ),
        (
            header::HeaderName::from_static(LAST_SEQ_HEADER),
            HeaderValue::from(plan.last_seq),
        ),
        (
            header::HeaderName::from_static(HEAD_HASH_HEADER),
            HeaderValue::from_str(&hex::encode(plan.head_hash)).map_err(ApiError::internal)?,
        ),
    ];
    let shutdown = state.shutdown_token().clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let sink = ChannelWriter {
            tx: tx.clone(),
            shutdown,
        };
        let mut w = BufWriter::with_capacity(EXPORT_CHUNK_BYTES, sink);
        let result = job
            .write(&mut w)
            .and_then(|_| w.flush().map_err(|e| ExportError::Internal(e.to_string())));
        if let Err(e) = result {
            tracing::warn!(error = %e, "export stopped before its end");
            // Ends the body with an error (if the client is still there to see it).
            let _ = tx.blocking_send(Err(io::Error::other(e.to_string())));
        }
    });
    let body = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok((headers, Body::from_stream(body)).into_response())
}

/// The archive writer's sink: each write becomes one body chunk.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    shutdown: CancellationToken,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.shutdown.is_cancelled() {
            // An export must not hold up a graceful shutdown (the drain waits for responses).
            return Err(io::Error::other("the server is shutting down"));
        }
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
