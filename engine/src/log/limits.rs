//! Every limit of the log, as a named constant with the reason for its value, and [`LogConfig`]
//! which carries the tunable ones (defaults = these constants).

use std::sync::Arc;

use super::clock::{Clock, SystemClock};

/// Longest stream id in bytes. Dossier codes are ~30 bytes; 128 leaves room without letting
/// index keys grow unboundedly.
pub const MAX_STREAM_ID_BYTES: usize = 128;

/// Default bound of the writer's request queue (appends, not events). When full, `append`
/// answers `Overloaded` at once instead of queueing unbounded work: callers see backpressure.
pub const DEFAULT_QUEUE_DEPTH: usize = 4096;

/// Default maximum size of one event (payload + type + actor strings): 64 KiB. Dossier events
/// are a few hundred bytes; attachments live elsewhere. Must stay well below `codec::DECODE_LIMIT`.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 64 * 1024;

/// Default maximum number of events in one append (one decision rarely emits more than a few).
pub const DEFAULT_MAX_EVENTS_PER_APPEND: usize = 100;

/// Default maximum number of events the writer commits in one group-commit batch. Bounds the
/// transaction size (and its memory) and the latency one batch adds to the next: 2048 events of
/// 300 bytes is ~1 MB per sled transaction.
pub const DEFAULT_MAX_BATCH_EVENTS: usize = 2048;

/// Committed batches the writer may queue for the flusher beyond the one being flushed.
/// 0 (a rendezvous) lets the writer prepare and commit exactly one batch while the previous
/// one is being flushed, then wait: requests meanwhile pile up in the queue and form the next,
/// larger batch. Measured with 64 writers (BENCHMARKS.md): 0 gave ~21k events/s and p99 6 ms,
/// 1 gave 17k / 10 ms, 2 gave 14-16k / 12 ms (smaller batches, more per-commit overhead, and
/// concurrent commits slow the flush).
pub const FLUSH_QUEUE_BATCHES: usize = 0;

/// Streams whose current version the writer keeps in memory (about 100 bytes each); the cache
/// is simply cleared when it would grow past this, and refilled from the `streams` index.
pub const STREAM_VERSION_CACHE_MAX: usize = 1_000_000;

/// Number of tail events whose hashes and links are re-checked on open.
pub const OPEN_VERIFY_TAIL: u64 = 64;

/// How often the acknowledged head is copied into the directory marker (`MOTCUA_DIR`), which
/// every later open must reach: sled opens a `db` damaged in its middle as a shorter, consistent
/// log, so only events acknowledged in the last interval can go missing unnoticed. Each write
/// costs two fsyncs and a rename, off the append path; 2 s keeps that under 1 % of a disk.
pub const MARKER_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Events fetched per read by a catching-up subscription.
pub const SUBSCRIPTION_CHUNK: usize = 512;

const _: () = assert!(DEFAULT_MAX_EVENT_BYTES * 2 < crate::codec::DECODE_LIMIT);
const _: () = assert!(DEFAULT_MAX_EVENTS_PER_APPEND <= DEFAULT_MAX_BATCH_EVENTS);

/// Configuration of an [`EventLog`](super::EventLog).
#[derive(Clone)]
pub struct LogConfig {
    /// Source of `recorded_at`.
    pub clock: Arc<dyn Clock>,
    /// Writer queue bound (requests); see [`DEFAULT_QUEUE_DEPTH`].
    pub queue_depth: usize,
    /// See [`DEFAULT_MAX_EVENT_BYTES`].
    pub max_event_bytes: usize,
    /// See [`DEFAULT_MAX_EVENTS_PER_APPEND`].
    pub max_events_per_append: usize,
    /// See [`DEFAULT_MAX_BATCH_EVENTS`]. An append is never split: a batch may exceed this by
    /// at most one append's events.
    pub max_batch_events: usize,
    /// true: one durable flush per batch of queued appends (group commit). false: one durable
    /// flush per append (for the benchmark comparison).
    pub group_commit: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            clock: Arc::new(SystemClock),
            queue_depth: DEFAULT_QUEUE_DEPTH,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            max_events_per_append: DEFAULT_MAX_EVENTS_PER_APPEND,
            max_batch_events: DEFAULT_MAX_BATCH_EVENTS,
            group_commit: true,
        }
    }
}

impl std::fmt::Debug for LogConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogConfig")
            .field("queue_depth", &self.queue_depth)
            .field("max_event_bytes", &self.max_event_bytes)
            .field("max_events_per_append", &self.max_events_per_append)
            .field("max_batch_events", &self.max_batch_events)
            .field("group_commit", &self.group_commit)
            .finish()
    }
}
