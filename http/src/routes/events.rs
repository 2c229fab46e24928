//! The log over HTTP (auditor, admin): a page of events and a resumable Server-Sent Events
//! stream. SSE ids are log seqs, so `Last-Event-ID` resumes exactly after the last event seen.
//! Streams end when shutdown begins (axum #2673: an open stream would block graceful shutdown).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Json;
use futures::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::decode::LoggedEvent;
use crate::app::Caller;
use crate::errors::ApiError;
use crate::extract::ApiQuery;
use crate::routes::roles::LOG_READERS;
use crate::state::AppState;

/// Largest page of `GET /v1/events`.
pub const MAX_PAGE: usize = 1000;

/// One envelope of the log, with its decoded domain event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventJson {
    pub seq: u64,
    pub stream: String,
    pub version: u64,
    pub event_id: String,
    pub event_type: String,
    pub schema_version: u16,
    pub recorded_at: String,
    pub recorded_at_ms: i64,
    pub actor: String,
    pub role: String,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    /// Hex SHA-256 of the previous event (hash chain).
    pub prev_hash: String,
    pub hash: String,
    /// The domain event as JSON (null if this build cannot decode it).
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
}

impl From<&LoggedEvent> for EventJson {
    fn from(e: &LoggedEvent) -> EventJson {
        let env = &e.envelope;
        EventJson {
            seq: env.seq,
            stream: env.stream.to_string(),
            version: env.version,
            event_id: env.event_id.to_string(),
            event_type: env.event_type.clone(),
            schema_version: env.schema_version,
            recorded_at: env
                .recorded_at()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            recorded_at_ms: env.recorded_at_ms,
            actor: env.actor.staff.clone(),
            role: env.actor.role.clone(),
            correlation_id: env.correlation_id.map(|c| c.to_string()),
            causation_id: env.causation_id.map(|c| c.to_string()),
            prev_hash: hex::encode(env.prev_hash),
            hash: hex::encode(env.hash),
            event: e
                .event
                .as_ref()
                .and_then(|ev| serde_json::to_value(ev).ok())
                .unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Return events with seq > after (default 0).
    pub after: Option<u64>,
    /// At most this many (default 100, max 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// A page of the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventJson>,
    /// Pass as `after` for the next page (absent at the head).
    pub next_after: Option<u64>,
    pub head_seq: u64,
}

/// Read the log (đọc nhật ký sự kiện): events after a seq.
#[utoipa::path(get, path = "/v1/events", tag = "log", params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = EventPage), (status = 401), (status = 403)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<EventPage>, ApiError> {
    caller.require_any(&LOG_READERS)?;
    let after = q.after.unwrap_or(0);
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::validation(
            "limit",
            format!("must be 1..={MAX_PAGE}"),
        ));
    }
    let page = state.app().events().page(after, limit)?;
    let head_seq = page.head_seq;
    let next_after = page
        .events
        .last()
        .map(|e| e.envelope.seq)
        .filter(|s| *s < head_seq);
    Ok(Json(EventPage {
        events: page.events.iter().map(EventJson::from).collect(),
        next_after,
        head_seq,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Start after this seq (overridden by a `Last-Event-ID` header).
    pub after: Option<u64>,
}

/// Follow the log live (theo dõi nhật ký): Server-Sent Events, `id` = seq, resumable with
/// `Last-Event-ID`.
#[utoipa::path(get, path = "/v1/events/stream", tag = "log", params(StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this seq")),
    security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", body = String),
        (status = 401), (status = 403), (status = 422)))]
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    caller.require_any(&LOG_READERS)?;
    let after = match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| ApiError::validation("Last-Event-ID", "must be a log seq"))?,
        None => q.after.unwrap_or(0),
    };
    let follower = state.app().events().follow(after);
    let stop = state.shutdown_token().clone();
    let guard = state.sse_opened();
    let s = futures::stream::unfold(
        (follower, stop, guard),
        |(mut follower, stop, guard)| async move {
            let logged = tokio::select! {
                _ = stop.cancelled() => return None,
                n = follower.next() => n?,
            };
            let env = &logged.envelope;
            let ev = SseEvent::default()
                .id(env.seq.to_string())
                .event(env.event_type.clone())
                .json_data(EventJson::from(&logged))
                .unwrap_or_else(|_| SseEvent::default().comment("unencodable"));
            Some((Ok(ev), (follower, stop, guard)))
        },
    );
    Ok(Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
