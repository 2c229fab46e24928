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
mod postgres;
mod reader;
mod store;
mod subscription;
mod verify;
mod writer;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

pub use chain::{ChainBreak, ChainCheck, GENESIS_HASH};
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
use crate::storage::{catch_sled_panic, Batch, DataDirProblem, DirMarker, Store};
use reader::{seq_key, Trees, META_FORMAT_VERSION, META_HEAD};
use store::{LogStore, SledLogStore};
pub use writer::WriterStats;
use writer::{AppendRequest, Command, Health, Writer};

struct Shared {
    /// The local data directory's store (the log's trees too when the log is on sled).
    store: Store,
    /// Where the log's events are kept: sled or PostgreSQL.
    log: Arc<dyn LogStore>,
    config: LogConfig,
    tx: mpsc::Sender<Command>,
    head_rx: watch::Receiver<Position>,
    health: Arc<Health>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    /// Highest seq recorded in the directory marker (also serialises marker writes).
    marker_seq: Mutex<u64>,
    /// The directory marker records the acknowledged head (the log is in this directory).
    keeps_marker: bool,
}

impl Shared {
    /// Copies the durable head into the directory marker if it moved (see [`DirMarker`]).
    fn record_head(&self) -> Result<(), LogError> {
        if !self.keeps_marker {
            return Ok(());
        }
        let head = *self.head_rx.borrow();
        let Ok(mut recorded) = self.marker_seq.lock() else {
            return Ok(());
        };
        if head.seq <= *recorded {
            return Ok(());
        }
        self.store.write_marker(DirMarker {
            format_version: FORMAT_VERSION,
            acked_head: Some((head.seq, head.hash)),
        })?;
        *recorded = head.seq;
        Ok(())
    }
}

/// Records the acknowledged head in the marker every [`limits::MARKER_INTERVAL`] until the
/// log is gone. Holds only a weak reference between ticks, so it never keeps sled open.
fn spawn_marker_keeper(shared: &Arc<Shared>) {
    let weak = Arc::downgrade(shared);
    let spawned = std::thread::Builder::new()
        .name("motcua-log-marker".into())
        .spawn(move || loop {
            std::thread::sleep(limits::MARKER_INTERVAL);
            let Some(shared) = weak.upgrade() else {
                return;
            };
            if let Err(e) = shared.record_head() {
                tracing::warn!(error = %e, "could not record the head in the directory marker");
            }
        });
    if let Err(e) = spawned {
        // Only the open-time check gets weaker (it falls back to the last clean stop).
        tracing::warn!(error = %e, "could not start the directory-marker thread");
    }
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
    ///
    /// A directory that is not a motcua log, or a damaged one, is refused with
    /// [`LogError::DataDir`] (or `Corrupt`/`CorruptMeta`; see [`LogError::is_damaged`]), never
    /// a panic, and never a fresh log over what was there: see docs/storage.md "Opening a data
    /// directory".
    pub fn open(dir: &Path, config: LogConfig) -> Result<EventLog, LogError> {
        let store = Store::open(dir)?;
        if store.import_unfinished() {
            return Err(dir_problem(
                &store,
                DataDirProblem::Damaged(format!(
                    "an import (motcua restore) into it did not finish ({} is there): it holds \
                     part of a log at most; remove the directory and restore again",
                    crate::storage::IMPORT_MARKER_FILE
                )),
            ));
        }
        // sled reads (and can panic on) damaged pages lazily: the first reads are guarded too.
        let (trees, head) = catch_sled_panic(dir, || open_log(&store))?;
        let marker_seq = match store.read_marker()? {
            Some(DirMarker {
                acked_head: Some((seq, _)),
                ..
            }) => seq,
            _ => 0,
        };

        let log = Arc::new(SledLogStore {
            store: store.clone(),
            trees,
        });
        let shared = start(store, log, head, config, Some(marker_seq))?;
        spawn_marker_keeper(&shared);
        Ok(EventLog { shared })
    }

    /// Opens (creating its schema if needed) the log kept in the PostgreSQL database at `url`,
    /// checks its tail, and starts the writer. `dir` is the local data directory for what is
    /// not the log (read models, personal keys, files): the log's own trees are never created
    /// there. See docs/postgres.md.
    ///
    /// A directory that holds a sled log is refused: its read models follow that log, and
    /// would be taken for the database's.
    pub fn open_postgres(dir: &Path, url: &str, config: LogConfig) -> Result<EventLog, LogError> {
        let store = Store::open(dir)?;
        if store.tree_names().iter().any(|n| n == TREE_META) {
            return Err(dir_problem(
                &store,
                DataDirProblem::Foreign(
                    "it holds a sled event log: its read models follow that log, not the \
                     PostgreSQL one; use another directory for a log on PostgreSQL"
                        .into(),
                ),
            ));
        }
        let pg = postgres::PgLogStore::open(url)?;
        let head = pg.head()?;
        check_tail(&pg, &head)?;
        let shared = start(store, Arc::new(pg), head, config, None)?;
        Ok(EventLog { shared })
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
        self.shared.log.stream_version(stream, self.durable_seq())
    }

    /// The stream's events from `from_version` (inclusive; 0 or 1 = from the start).
    pub fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> Result<Vec<Envelope>, LogError> {
        self.shared
            .log
            .read_stream(stream, from_version, self.durable_seq())
    }

    /// The durable event recorded under `id` (the idempotency index), if any.
    pub fn find_event(&self, id: &EventId) -> Result<Option<Envelope>, LogError> {
        self.shared.log.find_event(id, self.durable_seq())
    }

    /// Up to `limit` events of the global log with seq > `after_seq`.
    pub fn read_all(&self, after_seq: u64, limit: usize) -> Result<Vec<Envelope>, LogError> {
        self.shared
            .log
            .read_all(after_seq, limit, self.durable_seq())
    }

    pub(crate) fn read_range(
        &self,
        after_seq: u64,
        limit: usize,
        max_seq: u64,
    ) -> Result<Vec<Envelope>, LogError> {
        self.shared
            .log
            .read_all(after_seq, limit, max_seq.min(self.durable_seq()))
    }

    /// Streams every event with seq > `after_seq` up to the head at the time of the call.
    pub fn scan(&self, after_seq: u64) -> impl Iterator<Item = Result<Envelope, LogError>> + '_ {
        self.shared.log.scan(after_seq, self.durable_seq())
    }

    /// The durable head: seq and hash of the last acknowledged event.
    pub fn head(&self) -> Position {
        *self.shared.head_rx.borrow()
    }

    /// The highest stream id starting with `prefix` (byte order), e.g. the last dossier of a day.
    pub fn last_stream_with_prefix(&self, prefix: &str) -> Result<Option<StreamId>, LogError> {
        self.shared
            .log
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
        self.shared.log.verify(self.head())
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
        result?;
        // Record the final head: a lower bound every later open must reach.
        self.shared.record_head()
    }
}

/// Starts the writer over `log`, whose durable head is `head`. `marker_seq` is the head
/// recorded in the directory marker, for a store that keeps one (sled).
fn start(
    store: Store,
    log: Arc<dyn LogStore>,
    head: MetaHead,
    config: LogConfig,
    marker_seq: Option<u64>,
) -> Result<Arc<Shared>, LogError> {
    let (tx, rx) = mpsc::channel(config.queue_depth.max(1));
    let (head_tx, head_rx) = watch::channel(Position {
        seq: head.seq,
        hash: head.hash,
    });
    let health = Arc::new(Health::default());
    let writer = Writer {
        log: log.clone(),
        config: config.clone(),
        health: health.clone(),
        head_tx,
        head,
        versions: std::collections::HashMap::new(),
        failed: None,
        prefetched: None,
    };
    let handle = std::thread::Builder::new()
        .name("motcua-log-writer".into())
        .spawn(move || writer.run(rx))
        .map_err(|e| {
            LogError::Storage(crate::storage::StorageError::Sled(format!(
                "spawn writer: {e}"
            )))
        })?;
    Ok(Arc::new(Shared {
        store,
        log,
        config,
        tx,
        head_rx,
        health,
        writer_thread: Mutex::new(Some(handle)),
        keeps_marker: marker_seq.is_some(),
        marker_seq: Mutex::new(marker_seq.unwrap_or(0)),
    }))
}

/// Re-checks the hash links of the last [`limits::OPEN_VERIFY_TAIL`] events up to `head` (a
/// store without sled's own open checks: PostgreSQL).
fn check_tail(log: &dyn LogStore, head: &MetaHead) -> Result<(), LogError> {
    if head.seq == 0 {
        return Ok(());
    }
    let from = head.seq.saturating_sub(limits::OPEN_VERIFY_TAIL - 1).max(1);
    let mut chain = if from == 1 {
        ChainCheck::from_genesis()
    } else {
        ChainCheck::resuming_at(from)
    };
    let mut last = None;
    for env in log.scan(from - 1, head.seq) {
        let env = env?;
        chain.check(&env).map_err(|b| LogError::Corrupt {
            seq: b.seq(),
            detail: b.to_string(),
        })?;
        last = Some(env);
    }
    match last {
        Some(env) if env.seq == head.seq && env.hash == head.hash => Ok(()),
        _ => Err(LogError::CorruptMeta(format!(
            "the tail up to seq {} is not readable",
            head.seq
        ))),
    }
}

/// The log's own trees: any other tree in a database without our metadata is someone else's.
const LOG_TREES: [&str; 4] = [TREE_EVENTS, TREE_STREAMS, TREE_EVENT_IDS, TREE_META];

fn dir_problem(store: &Store, problem: DataDirProblem) -> LogError {
    LogError::DataDir {
        path: store.dir().to_path_buf(),
        problem,
    }
}

/// Opens the log's trees and checks them against the directory's marker.
fn open_log(store: &Store) -> Result<(Trees, MetaHead), LogError> {
    let marker = store.read_marker()?;
    // Before creating our trees: never add them to another application's database.
    if !store.tree_names().iter().any(|n| n == TREE_META) {
        if let Some(what) = foreign_content(store, None)? {
            return Err(match marker {
                Some(_) => dir_problem(
                    store,
                    DataDirProblem::Damaged(format!("the log's trees are gone, {what} remains")),
                ),
                None => dir_problem(
                    store,
                    DataDirProblem::Foreign(format!(
                        "a sled database of another application ({what})"
                    )),
                ),
            });
        }
    }
    let trees = Trees::open(store)?;
    let head = open_check(store, &trees, marker)?;
    match marker {
        None => store.write_marker(DirMarker {
            format_version: FORMAT_VERSION,
            acked_head: None,
        })?,
        Some(m) => check_acked_head(store, &trees, &head, m)?,
    }
    Ok((trees, head))
}

/// Describes data in the database that is not the log's (`meta` counts when given: it holds
/// no format version then), or `None`.
fn foreign_content(store: &Store, meta: Option<&Trees>) -> Result<Option<String>, LogError> {
    let mut others: Vec<String> = store
        .tree_names()
        .into_iter()
        .filter(|n| !LOG_TREES.contains(&n.as_str()))
        .collect();
    others.sort();
    let mut parts = Vec::new();
    if !others.is_empty() {
        parts.push(format!("trees: {}", others.join(", ")));
    }
    if !store.default_tree_is_empty() {
        parts.push("data in sled's default tree".to_owned());
    }
    if let Some(trees) = meta {
        if !trees.meta.is_empty() {
            parts.push("a `meta` tree without motcua's format_version".to_owned());
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("; ")))
}

/// The acknowledged head recorded in the marker must still be there, with the same hash.
fn check_acked_head(
    store: &Store,
    trees: &Trees,
    head: &MetaHead,
    marker: DirMarker,
) -> Result<(), LogError> {
    let Some((seq, hash)) = marker.acked_head else {
        return Ok(());
    };
    if head.seq < seq {
        return Err(dir_problem(
            store,
            DataDirProblem::Damaged(format!(
                "the log ends at seq {} but seq {seq} was acknowledged: \
                 acknowledged events are missing (damaged database or an older copy)",
                head.seq
            )),
        ));
    }
    let stored = match trees.events.get(seq_key(seq))? {
        Some(bytes) => reader::decode_event(seq, &bytes)?.hash,
        None => [0; 32],
    };
    if stored != hash {
        return Err(dir_problem(
            store,
            DataDirProblem::Damaged(format!(
                "event seq {seq} is not the acknowledged one recorded in the marker \
                 (the database was replaced by another log)"
            )),
        ));
    }
    Ok(())
}

/// Checks (or initialises) meta against the tail of `events` and re-verifies the hash links of
/// the last [`limits::OPEN_VERIFY_TAIL`] events. Never panics on bad bytes.
///
/// An empty database is initialised only if nothing says a log was here: with a marker it is a
/// damaged `db` that sled opened as empty; with other data it is another application's.
fn open_check(
    store: &Store,
    trees: &Trees,
    marker: Option<DirMarker>,
) -> Result<MetaHead, LogError> {
    let format = trees.meta.get(META_FORMAT_VERSION)?;
    let last = trees.events.last()?;
    let Some(format) = format else {
        if last.is_some() {
            return Err(LogError::CorruptMeta(
                "events present but no format_version in meta".into(),
            ));
        }
        if let Some(m) = marker {
            let at_close = match m.acked_head {
                Some((seq, _)) => format!(" (up to seq {seq} acknowledged)"),
                None => String::new(),
            };
            return Err(dir_problem(
                store,
                DataDirProblem::Damaged(format!(
                    "the database is empty, but this directory held a motcua log{at_close}: \
                     sled's data file was truncated, overwritten or replaced"
                )),
            ));
        }
        if let Some(what) = foreign_content(store, Some(trees))? {
            return Err(dir_problem(
                store,
                DataDirProblem::Foreign(format!("a sled database of another application ({what})")),
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
    let mut chain = if from == 1 {
        ChainCheck::from_genesis()
    } else {
        ChainCheck::resuming_at(from)
    };
    let mut last_env = None;
    for item in trees.events.range(seq_key(from)..=seq_key(head.seq)) {
        let (k, v) = item?;
        let seq = reader::be_u64(&k, "events key")?;
        let env = reader::decode_event(seq, &v)?;
        chain.check(&env).map_err(|b| LogError::Corrupt {
            seq: b.seq(),
            detail: b.to_string(),
        })?;
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
mod postgres_tests;
#[cfg(test)]
pub(crate) mod tests;
