//! The append-only event log: envelopes, the group-commit writer, reads, subscriptions,
//! verification.
//!
//! [`EventLog`] is the handle everyone shares (cheap clone). Appends go through one writer
//! thread (`writer`), which makes each batch durable before acknowledging; reads go straight to
//! the sled trees (`reader`) but never past the durable head the writer publishes, so a reader
//! never sees an event that could still be lost. The on-disk format and durability contract
//! are described in docs/storage.md.

mod chain;
mod clock;
mod envelope;
mod error;
mod import;
pub mod limits;
mod reader;
mod subscription;
mod verify;
mod writer;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

pub use chain::GENESIS_HASH;
pub use clock::{Clock, ManualClock, SystemClock};
pub use envelope::{
    Actor, Appended, Envelope, EventId, ExpectedVersion, NewEvent, Position, StreamId,
};
pub use error::{AppendError, LogError};
pub use import::{import_log, ImportError, IMPORT_BATCH_BYTES};
pub use limits::LogConfig;
pub use reader::{MetaHead, TREE_EVENTS, TREE_EVENT_IDS, TREE_META, TREE_STREAMS};
pub use subscription::Subscription;
pub use verify::{Finding, VerifyReport};

use crate::codec::{self, FORMAT_VERSION};
use crate::storage::{Batch, Store};
use reader::{seq_key, Trees, META_FORMAT_VERSION, META_HEAD};
pub use writer::WriterStats;
use writer::{AppendRequest, Command, Health, Writer};

struct Shared {
    store: Store,
    trees: Trees,
    config: LogConfig,
    tx: mpsc::Sender<Command>,
    head_rx: watch::Receiver<Position>,
    health: Arc<Health>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
}

/// The event log handle. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct EventLog {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("dir", &self.shared.store.dir())
            .field("head", &self.head().seq)
            .finish()
    }
}

impl EventLog {
    /// Opens (creating if needed) the log in `dir`, checks its tail, and starts the writer.
    pub fn open(dir: &Path, config: LogConfig) -> Result<EventLog, LogError> {
        let store = Store::open(dir)?;
        let trees = Trees::open(&store)?;
        let head = open_check(&store, &trees)?;

        let (tx, rx) = mpsc::channel(config.queue_depth.max(1));
        let (head_tx, head_rx) = watch::channel(Position {
            seq: head.seq,
            hash: head.hash,
        });
        let health = Arc::new(Health::default());
        let writer = Writer {
            store: store.clone(),
            trees: trees.clone(),
            config: config.clone(),
            health: health.clone(),
            head_tx,
            head,
            versions: std::collections::HashMap::new(),
            failed: None,
        };
        let handle = std::thread::Builder::new()
            .name("motcua-log-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| {
                LogError::Storage(crate::storage::StorageError::Sled(format!(
                    "spawn writer: {e}"
                )))
            })?;
        Ok(EventLog {
            shared: Arc::new(Shared {
                store,
                trees,
                config,
                tx,
                head_rx,
                health,
                writer_thread: Mutex::new(Some(handle)),
            }),
        })
    }

    /// Appends `events` to `stream` if its version matches `expected`; resolves once the events
    /// are durable (sled flush + fdatasync), or with the reason they were refused.
    pub async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError> {
        let cfg = &self.shared.config;
        if events.is_empty() {
            return Err(AppendError::Empty);
        }
        if events.len() > cfg.max_events_per_append {
            return Err(AppendError::TooManyEvents {
                count: events.len(),
                limit: cfg.max_events_per_append,
            });
        }
        if let Some(size) = events
            .iter()
            .map(NewEvent::size)
            .find(|&s| s > cfg.max_event_bytes)
        {
            return Err(AppendError::EventTooLarge {
                size,
                limit: cfg.max_event_bytes,
            });
        }
        if self.shared.health.is_failed() {
            return Err(AppendError::Failed(self.shared.health.reason()));
        }
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Append(AppendRequest {
            stream: stream.clone(),
            expected,
            events,
            reply,
        });
        match self.shared.tx.try_send(cmd) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(AppendError::Overloaded),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(AppendError::Closed),
        }
        rx.await.map_err(|_| AppendError::Closed)?
    }

    /// Durable head seq, as published by the writer.
    fn durable_seq(&self) -> u64 {
        self.shared.head_rx.borrow().seq
    }

    /// The stream's current version (0 = no stream).
    pub fn stream_version(&self, stream: &StreamId) -> Result<u64, LogError> {
        self.shared.trees.stream_version(stream, self.durable_seq())
    }

    /// The stream's events from `from_version` (inclusive; 0 or 1 = from the start).
    pub fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> Result<Vec<Envelope>, LogError> {
        self.shared
            .trees
            .read_stream(stream, from_version, self.durable_seq())
    }

    /// The durable event recorded under `id` (the idempotency index), if any.
    pub fn find_event(&self, id: &EventId) -> Result<Option<Envelope>, LogError> {
        self.shared.trees.find_event(id, self.durable_seq())
    }

    /// Up to `limit` events of the global log with seq > `after_seq`.
    pub fn read_all(&self, after_seq: u64, limit: usize) -> Result<Vec<Envelope>, LogError> {
        self.shared
            .trees
            .read_all(after_seq, limit, self.durable_seq())
    }

    pub(crate) fn read_range(
        &self,
        after_seq: u64,
        limit: usize,
        max_seq: u64,
    ) -> Result<Vec<Envelope>, LogError> {
        self.shared
            .trees
            .read_all(after_seq, limit, max_seq.min(self.durable_seq()))
    }

    /// Streams every event with seq > `after_seq` up to the head at the time of the call.
    pub fn scan(&self, after_seq: u64) -> impl Iterator<Item = Result<Envelope, LogError>> + '_ {
        let max = self.durable_seq();
        let start = after_seq.saturating_add(1);
        let iter = if start <= max {
            Some(
                self.shared
                    .trees
                    .events
                    .range(seq_key(start)..=seq_key(max)),
            )
        } else {
            None
        };
        iter.into_iter().flatten().map(|item| {
            let (key, value) = item?;
            let seq = reader::be_u64(&key, "events key")?;
            reader::decode_event(seq, &value)
        })
    }

    /// The durable head: seq and hash of the last acknowledged event.
    pub fn head(&self) -> Position {
        *self.shared.head_rx.borrow()
    }

    /// The highest stream id starting with `prefix` (byte order), e.g. the last dossier of a day.
    pub fn last_stream_with_prefix(&self, prefix: &str) -> Result<Option<StreamId>, LogError> {
        self.shared
            .trees
            .last_stream_with_prefix(prefix, self.durable_seq())
    }

    /// Follows the log from `after_seq`: catch-up, then live.
    pub fn subscribe(&self, after_seq: u64) -> Subscription {
        Subscription::new(self.clone(), after_seq, self.shared.head_rx.clone())
    }

    /// Waits until the durable head reaches `seq`; false on timeout or if the log closed first.
    pub async fn wait_for_seq(&self, seq: u64, timeout: Duration) -> bool {
        let mut rx = self.shared.head_rx.clone();
        let reached = matches!(
            tokio::time::timeout(timeout, rx.wait_for(|p| p.seq >= seq)).await,
            Ok(Ok(_))
        );
        reached
    }

    /// Walks the whole log and its indexes (see `verify`).
    pub fn verify(&self) -> Result<VerifyReport, LogError> {
        verify::verify(&self.shared.trees, self.head())
    }

    /// The underlying store: projections open their own trees in the same database.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> &LogConfig {
        &self.shared.config
    }

    /// Cumulative writer counters (batches, events, time per phase).
    pub fn writer_stats(&self) -> WriterStats {
        self.shared.health.stats()
    }

    /// True once a storage error fail-stopped the writer.
    pub fn is_failed(&self) -> bool {
        self.shared.health.is_failed()
    }

    /// Lets the writer finish everything queued before this call, flushes, and stops it. Other
    /// clones keep reading; their appends get `Closed`. The database itself closes when the last
    /// clone (including subscriptions) is dropped.
    pub async fn close(self) -> Result<(), LogError> {
        let (reply, rx) = oneshot::channel();
        let result = match self.shared.tx.send(Command::Close(reply)).await {
            Ok(()) => match rx.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(reason)) => Err(LogError::Storage(crate::storage::StorageError::Sled(
                    reason,
                ))),
                Err(_) => Ok(()),
            },
            Err(_) => Ok(()), // writer already stopped
        };
        let handle = self
            .shared
            .writer_thread
            .lock()
            .ok()
            .and_then(|mut h| h.take());
        if let Some(h) = handle {
            // The writer has answered and is returning: the join is immediate.
            let _ = h.join();
        }
        result
    }
}

/// Checks (or initialises) meta against the tail of `events` and re-verifies the hash links of
/// the last [`limits::OPEN_VERIFY_TAIL`] events. Never panics on bad bytes.
fn open_check(store: &Store, trees: &Trees) -> Result<MetaHead, LogError> {
    let format = trees.meta.get(META_FORMAT_VERSION)?;
    let last = trees.events.last()?;
    let Some(format) = format else {
        if last.is_some() {
            return Err(LogError::CorruptMeta(
                "events present but no format_version in meta".into(),
            ));
        }
        let mut meta = Batch::new();
        meta.insert(META_FORMAT_VERSION.to_vec(), vec![FORMAT_VERSION]);
        meta.insert(META_HEAD.to_vec(), codec::encode(&MetaHead::default()));
        trees.meta.apply(meta)?;
        store.flush_durable()?;
        return Ok(MetaHead::default());
    };
    match format.as_slice() {
        [v] if *v > FORMAT_VERSION => {
            return Err(LogError::NewerFormat {
                found: *v,
                supported: FORMAT_VERSION,
            })
        }
        [v] if *v >= 1 => {}
        other => {
            return Err(LogError::CorruptMeta(format!(
                "format_version = {}",
                hex::encode(other)
            )))
        }
    }
    let head: MetaHead = match trees.meta.get(META_HEAD)? {
        Some(bytes) => {
            codec::decode(&bytes).map_err(|e| LogError::CorruptMeta(format!("head: {e}")))?
        }
        None => return Err(LogError::CorruptMeta("no head record".into())),
    };
    let last_seq = match last {
        Some((k, _)) => reader::be_u64(&k, "events key")?,
        None => 0,
    };
    if last_seq != head.seq {
        return Err(LogError::CorruptMeta(format!(
            "meta head seq {} but the last event is seq {last_seq}",
            head.seq
        )));
    }
    if head.seq == 0 {
        return Ok(head);
    }
    let from = head.seq.saturating_sub(limits::OPEN_VERIFY_TAIL - 1).max(1);
    let mut prev: Option<[u8; 32]> = if from == 1 { Some(GENESIS_HASH) } else { None };
    let mut last_env = None;
    for (expect, item) in (from..).zip(trees.events.range(seq_key(from)..=seq_key(head.seq))) {
        let (k, v) = item?;
        let seq = reader::be_u64(&k, "events key")?;
        if seq != expect {
            return Err(LogError::Corrupt {
                seq: expect,
                detail: format!("missing (next stored event is seq {seq})"),
            });
        }
        let env = reader::decode_event(seq, &v)?;
        if env.compute_hash() != env.hash {
            return Err(LogError::Corrupt {
                seq,
                detail: "hash does not match the content".into(),
            });
        }
        if let Some(p) = prev {
            if env.prev_hash != p {
                return Err(LogError::Corrupt {
                    seq,
                    detail: "prev_hash does not link to the previous event".into(),
                });
            }
        }
        prev = Some(env.hash);
        last_env = Some(env);
    }
    match last_env {
        Some(env) if env.hash == head.hash && env.recorded_at_ms == head.recorded_at_ms => Ok(head),
        Some(env) => Err(LogError::Corrupt {
            seq: env.seq,
            detail: "meta head hash/recorded_at differ from the last event".into(),
        }),
        None => Err(LogError::CorruptMeta("tail not readable".into())),
    }
}

#[cfg(test)]
mod tests;
