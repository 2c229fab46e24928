//! Runs the projections against the log: one tokio task for the whole projection set follows
//! the durable log from the lowest checkpoint, folds events in bounded batches, and commits
//! each projection's read-model writes together with its checkpoint in one atomic
//! `KvTree::apply`. Also: read-your-writes (`wait_for`), `rebuild`, and the "as of T" fold.
//!
//! Crash safety: a batch and its checkpoint are one sled batch, so after a crash a projection
//! resumes exactly after the last batch that landed. A rebuild first writes a marker
//! (atomically with dropping the checkpoint); a start that finds the marker finishes clearing
//! the tree before folding from zero, so a crash mid-clear cannot mix old and new rows.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::domain::events::{Event, Recorded};
use crate::domain::types::Timestamp;
use crate::log::{Envelope, EventLog};
use crate::recorded::{decode_recorded, DecodeError, EnvelopeBatch};
use crate::storage::{Batch, KvTree, StorageError};

use super::store::{pack_writes, FastSet, KvIter, KvRead, MemStore, PackedView, Writes};
use super::views::ReadModels;
use super::{
    checkpoint, fold_batch, CatalogProjection, DossierProjection, Projection, ProjectionError,
    LIVE_BATCH_MAX_EVENTS, REBUILD_BATCH_MAX_EVENTS,
};

/// Key marking a rebuild in progress (sorts with the checkpoint, before read-model keys).
const REBUILD_MARKER: &[u8] = b"\x00rebuilding";

/// Keys removed per batch while clearing a tree.
const CLEAR_CHUNK: usize = 10_000;

/// Decoded batches the rebuild reader may run ahead of the fold (bounds its memory): enough
/// for it to keep decoding while the fold thread commits.
const PIPELINE_DEPTH: usize = 32;

/// Events per batch the catch-up reader hands to the fold thread. Small enough that a batch's
/// allocations are reused soon after they are freed.
const PIPELINE_BATCH_EVENTS: usize = 8_192;

/// Events a catch-up folds before it commits. Committing every couple of read chunks lets the
/// fold thread write while the reader decodes (the fold thread otherwise idles waiting for the
/// reader), and costs few extra writes: a dossier's lifecycle is short next to 131,072 events,
/// and the packed buckets follow time, so a commit mostly writes new buckets. Also bounds the
/// memory of the pending records.
pub const CATCH_UP_COMMIT_MAX_EVENTS: usize = 1 << 17;

/// Most operations per sled batch when a commit is split (see [`commit_large`]). sled slows
/// down on huge batches (measured: 500,000 sorted inserts take 7.6 s in batches of 1,000 and
/// 16.2 s in one batch), so a large commit goes in batches of this size.
const COMMIT_CHUNK_OPS: usize = 16_384;

/// How long the runner sleeps waiting for new events before re-checking for a stop.
const IDLE_WAIT: Duration = Duration::from_millis(500);

impl From<StorageError> for ProjectionError {
    fn from(e: StorageError) -> Self {
        ProjectionError::Storage(e.to_string())
    }
}

impl KvRead for KvTree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError> {
        Ok(KvTree::get(self, key)?)
    }
    fn range<'a>(&'a self, start: &[u8], end: Option<&[u8]>, reverse: bool) -> KvIter<'a> {
        let start = start.to_vec();
        let map = |r: Result<(Vec<u8>, Vec<u8>), StorageError>| r.map_err(ProjectionError::from);
        match end {
            Some(e) if e <= start.as_slice() => Box::new(std::iter::empty()),
            Some(e) => {
                let it = KvTree::range(self, start..e.to_vec());
                if reverse {
                    Box::new(it.rev().map(map))
                } else {
                    Box::new(it.map(map))
                }
            }
            None => {
                let it = KvTree::range(self, start..);
                if reverse {
                    Box::new(it.rev().map(map))
                } else {
                    Box::new(it.map(map))
                }
            }
        }
    }
}

impl From<DecodeError> for ProjectionError {
    fn from(e: DecodeError) -> Self {
        ProjectionError::Event {
            seq: e.seq,
            why: e.problem.to_string(),
        }
    }
}

/// Turns a log envelope into what folds see ([`crate::recorded::decode_recorded`], with the
/// projections' error).
pub fn decode_envelope(env: &Envelope) -> Result<Recorded, ProjectionError> {
    Ok(decode_recorded(env)?)
}

/// Reads envelopes from `events` into `batch` until it holds `max_events` or `target` is
/// reached. The catch-up's reader thread does this; the payloads are decoded on the fold thread
/// right before the fold (see [`EnvelopeBatch`]).
fn fill(
    batch: &mut EnvelopeBatch,
    max_events: usize,
    events: &mut impl Iterator<Item = Result<Envelope, crate::log::LogError>>,
    target: u64,
) -> Result<(), ProjectionError> {
    for env in events {
        let env = env.map_err(|e| ProjectionError::Log(e.to_string()))?;
        batch.push(&env);
        if env.seq >= target || batch.len() >= max_events {
            break;
        }
    }
    Ok(())
}

fn to_batch(writes: Writes) -> Batch {
    let mut b = Batch::new();
    for (k, v) in writes.into_ops() {
        match v {
            Some(v) => b.insert(k, v),
            None => b.remove(k),
        }
    }
    b
}

/// Folds `events` (seq order) into one projection's tree, skipping what its checkpoint covers,
/// and commits the rows with the new checkpoint atomically.
pub fn apply_to_tree<P: Projection>(
    projection: &P,
    tree: &KvTree,
    events: &[Recorded],
) -> Result<u64, ProjectionError> {
    let done = checkpoint(tree)?;
    let start = events.partition_point(|r| r.seq <= done);
    if start == events.len() {
        return Ok(done);
    }
    let writes = fold_batch(projection, tree, &events[start..])?;
    tree.apply(to_batch(writes))?;
    Ok(events.last().map_or(done, |r| r.seq))
}

/// Removes every key of a tree (the rebuild marker last), in chunks.
fn finish_clear(tree: &KvTree) -> Result<(), ProjectionError> {
    loop {
        let mut batch = Batch::new();
        for kv in tree.iter() {
            let (k, _) = kv?;
            if k != REBUILD_MARKER {
                batch.remove(k);
            }
            if batch.len() >= CLEAR_CHUNK {
                break;
            }
        }
        if batch.is_empty() {
            break;
        }
        tree.apply(batch)?;
    }
    tree.remove(REBUILD_MARKER)?;
    Ok(())
}

/// Starts a rebuild of one tree: marker + checkpoint removal atomically, then the clear.
fn clear_tree(tree: &KvTree) -> Result<(), ProjectionError> {
    let mut start = Batch::new();
    start.insert(REBUILD_MARKER.to_vec(), Vec::new());
    start.remove(super::CHECKPOINT_KEY.to_vec());
    tree.apply(start)?;
    finish_clear(tree)
}

/// The committed state a catch-up folds against. When the tree held no rows at the start (a
/// rebuild), every key it holds was written by this catch-up, so a read of any other key is
/// answered "absent" without asking sled: most reads of a rebuild are for dossiers not seen
/// yet, and each would otherwise be a sled miss.
struct CatchUpBase<'t> {
    tree: &'t KvTree,
    /// Physical keys committed so far, when the tree started empty (`None`: it did not).
    written: Option<FastSet<Vec<u8>>>,
}

impl KvRead for CatchUpBase<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError> {
        match &self.written {
            Some(w) if !w.contains(key) => Ok(None),
            _ => KvRead::get(self.tree, key),
        }
    }
    fn range<'a>(&'a self, start: &[u8], end: Option<&[u8]>, reverse: bool) -> KvIter<'a> {
        KvRead::range(self.tree, start, end, reverse)
    }
}

/// One projection's fold state during [`ProjectionTrees::catch_up`]: folded but not yet
/// committed events, against the tree's committed state.
struct CatchUp<'t, P: Projection> {
    projection: P,
    base: CatchUpBase<'t>,
    /// Last seq committed (the tree's checkpoint).
    committed: u64,
    /// Last seq folded into `pending`.
    folded: u64,
    pending_events: usize,
    pending: P::Pending,
    /// Events folded between commits ([`CATCH_UP_COMMIT_MAX_EVENTS`]; smaller in tests).
    commit_every: usize,
}

impl<'t, P: Projection> CatchUp<'t, P> {
    fn new(
        projection: P,
        tree: &'t KvTree,
        commit_every: usize,
    ) -> Result<CatchUp<'t, P>, ProjectionError> {
        let committed = checkpoint(tree)?;
        let fresh = committed == 0 && tree.iter().next().is_none();
        Ok(CatchUp {
            projection,
            base: CatchUpBase {
                tree,
                written: fresh.then(FastSet::default),
            },
            committed,
            folded: committed,
            pending_events: 0,
            pending: P::Pending::default(),
            commit_every: commit_every.max(1),
        })
    }

    /// Folds one event (skipping what is already folded); commits when enough are pending.
    fn fold_one(&mut self, rec: &Recorded) -> Result<(), ProjectionError> {
        if rec.seq <= self.folded {
            return Ok(());
        }
        let view = PackedView::new(&self.base, P::PACKING);
        self.projection.apply(&view, &mut self.pending, rec)?;
        self.folded = rec.seq;
        self.pending_events += 1;
        if self.pending_events >= self.commit_every {
            self.commit()?;
        }
        Ok(())
    }

    /// Commits what was folded (read-model rows and checkpoint); returns the checkpoint.
    fn commit(&mut self) -> Result<u64, ProjectionError> {
        if self.folded == self.committed {
            return Ok(self.committed);
        }
        let pending = std::mem::take(&mut self.pending);
        let mut logical = Writes::packed(P::PACKING);
        self.projection.finish(
            &PackedView::new(&self.base, P::PACKING),
            pending,
            &mut logical,
        )?;
        let writes = pack_writes(&self.base, logical, P::PACKING)?;
        let keys: Option<Vec<Vec<u8>>> = self
            .base
            .written
            .as_ref()
            .map(|_| writes.keys().map(std::borrow::Cow::into_owned).collect());
        commit_large(self.base.tree, writes, self.folded)?;
        if let (Some(w), Some(keys)) = (self.base.written.as_mut(), keys) {
            w.extend(keys);
        }
        self.committed = self.folded;
        self.pending_events = 0;
        Ok(self.committed)
    }
}

/// Commits a write set and the checkpoint `seq` as one change, even when it is too large for
/// one sled batch: then the first batch also sets the rebuild marker and the last one carries
/// the checkpoint and removes the marker. A crash in between leaves the marker, and
/// [`ProjectionTrees::open`] then clears the tree so the projection folds again from zero: half
/// a commit is never taken for a whole one.
fn commit_large(tree: &KvTree, writes: Writes, seq: u64) -> Result<(), ProjectionError> {
    let split = writes.len() >= COMMIT_CHUNK_OPS;
    let mut batch = Batch::new();
    if split {
        batch.insert(REBUILD_MARKER.to_vec(), Vec::new());
    }
    for (k, v) in writes.into_ops() {
        match v {
            Some(v) => batch.insert(k, v),
            None => batch.remove(k),
        }
        if batch.len() >= COMMIT_CHUNK_OPS {
            tree.apply(std::mem::take(&mut batch))?;
        }
    }
    batch.insert(super::CHECKPOINT_KEY.to_vec(), seq.to_be_bytes().to_vec());
    if split {
        batch.remove(REBUILD_MARKER.to_vec());
    }
    tree.apply(batch)?;
    Ok(())
}

/// Trees of read-model layouts this release no longer reads.
const RETIRED_TREES: [&str; 2] = ["proj.dossiers", "proj.dossiers.2"];

/// The projection set's trees.
#[derive(Clone)]
pub struct ProjectionTrees {
    pub dossiers: KvTree,
    pub catalog: KvTree,
}

impl ProjectionTrees {
    /// Opens `proj.dossiers.3` and `proj.catalog` in the log's store, finishing any interrupted
    /// rebuild; drops the trees of earlier layouts (their read models are folded again from the
    /// log into the new trees).
    pub fn open(log: &EventLog) -> Result<ProjectionTrees, ProjectionError> {
        let store = log.store();
        for old in RETIRED_TREES {
            store.drop_tree(old)?;
        }
        let trees = ProjectionTrees {
            dossiers: store.tree(&format!("proj.{}", DossierProjection::NAME))?,
            catalog: store.tree(&format!("proj.{}", CatalogProjection::NAME))?,
        };
        for t in [&trees.dossiers, &trees.catalog] {
            if t.get(REBUILD_MARKER)?.is_some() {
                finish_clear(t)?;
            }
        }
        Ok(trees)
    }

    /// The lowest checkpoint of the set: every event up to it is applied everywhere.
    pub fn applied(&self) -> Result<u64, ProjectionError> {
        Ok(checkpoint(&self.dossiers)?.min(checkpoint(&self.catalog)?))
    }

    /// Clears both trees (checkpoints included).
    pub fn clear(&self) -> Result<(), ProjectionError> {
        clear_tree(&self.dossiers)?;
        clear_tree(&self.catalog)
    }

    /// Applies decoded events to both projections.
    pub fn apply(&self, events: &[Recorded]) -> Result<u64, ProjectionError> {
        let a = apply_to_tree(&DossierProjection, &self.dossiers, events)?;
        let b = apply_to_tree(&CatalogProjection, &self.catalog, events)?;
        Ok(a.min(b))
    }

    /// One catch-up step: reads up to a batch of events after the applied position (larger
    /// batches when far behind) and applies them. Returns the new applied seq.
    pub fn step(&self, log: &EventLog) -> Result<u64, ProjectionError> {
        let applied = self.applied()?;
        let behind = log.head().seq.saturating_sub(applied);
        let max = if behind as usize > LIVE_BATCH_MAX_EVENTS {
            REBUILD_BATCH_MAX_EVENTS
        } else {
            LIVE_BATCH_MAX_EVENTS
        };
        let envs = log
            .read_all(applied, max)
            .map_err(|e| ProjectionError::Log(e.to_string()))?;
        if envs.is_empty() {
            return Ok(applied);
        }
        let events = envs
            .iter()
            .map(decode_envelope)
            .collect::<Result<Vec<_>, _>>()?;
        self.apply(&events)
    }

    /// Applies everything up to the log's current head, synchronously; returns the applied seq.
    ///
    /// The path of a rebuild and of any start far behind the log. A reader thread reads and
    /// decodes the log in chunks while this thread folds them; unlike the live path, the fold
    /// state is carried across chunks and committed only every [`CATCH_UP_COMMIT_MAX_EVENTS`]
    /// events (and at the end). A dossier's whole lifecycle therefore usually folds into one
    /// record write and one set of index rows, instead of one write per chunk that touched it:
    /// sled applying writes was ~70% of a rebuild. On an empty tree (a rebuild) the fold reads
    /// its committed state from an empty in-memory keyspace instead of sled (it is empty
    /// either way), so the fold does no sled reads at all until its first commit.
    pub fn catch_up(&self, log: &EventLog) -> Result<u64, ProjectionError> {
        self.catch_up_sized(log, PIPELINE_BATCH_EVENTS, CATCH_UP_COMMIT_MAX_EVENTS)
    }

    /// [`ProjectionTrees::catch_up`] with the reader's batch size and the commit interval given
    /// (the tests make both tiny, so that a small log crosses many of each; the answer must not
    /// depend on them).
    pub fn catch_up_sized(
        &self,
        log: &EventLog,
        batch_events: usize,
        commit_every: usize,
    ) -> Result<u64, ProjectionError> {
        let batch_events = batch_events.max(1);
        let target = log.head().seq;
        let start = self.applied()?;
        if start >= target {
            return Ok(start);
        }
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<Result<EnvelopeBatch, ProjectionError>>(PIPELINE_DEPTH);
        // Folded batches go back to the reader to be refilled: no buffer is ever freed by the
        // other thread, and none is allocated after the first few batches.
        let (done_tx, done_rx) = std::sync::mpsc::channel::<EnvelopeBatch>();
        let reader_log = log.clone();
        let reader = std::thread::Builder::new()
            .name("motcua-proj-reader".into())
            .spawn(move || {
                let mut events = reader_log.scan(start);
                loop {
                    let mut batch = done_rx.try_recv().unwrap_or_default();
                    batch.clear();
                    if let Err(e) = fill(&mut batch, batch_events, &mut events, target) {
                        let _ = tx.send(Err(e));
                        break;
                    }
                    let Some(last) = batch.last_seq() else {
                        break;
                    };
                    if tx.send(Ok(batch)).is_err() || last >= target {
                        break;
                    }
                }
            })
            .map_err(|e| ProjectionError::Storage(format!("spawn reader: {e}")))?;
        let mut dossiers = CatchUp::new(DossierProjection, &self.dossiers, commit_every)?;
        let mut catalog = CatchUp::new(CatalogProjection, &self.catalog, commit_every)?;
        let mut folded = || {
            while let Ok(batch) = rx.recv() {
                let batch = batch?;
                for view in batch.iter() {
                    // Decoded here and dropped right after its fold, on this thread: the
                    // allocator reuses the same few blocks for every event, as in the bare scan.
                    let rec = view.recorded()?;
                    dossiers.fold_one(&rec)?;
                    catalog.fold_one(&rec)?;
                }
                // The reader may have finished: then the batch is dropped here.
                let _ = done_tx.send(batch);
            }
            Ok::<(), ProjectionError>(())
        };
        let folded = folded();
        // Join the reader before reporting any error (it stops once the channel is dropped).
        let joined = reader
            .join()
            .map_err(|_| ProjectionError::Storage("reader thread panicked".into()));
        folded?;
        joined?;
        Ok(dossiers.commit()?.min(catalog.commit()?))
    }

    pub fn read_models(&self) -> ReadModels {
        ReadModels::new(
            Arc::new(self.dossiers.clone()),
            Arc::new(self.catalog.clone()),
        )
    }
}

/// The running projection set: a task following the log, the trees it writes, and the applied
/// position for read-your-writes.
pub struct Projections {
    log: EventLog,
    trees: ProjectionTrees,
    applied_rx: watch::Receiver<u64>,
    stop_tx: watch::Sender<bool>,
    task: Option<JoinHandle<Result<(), ProjectionError>>>,
}

async fn run(
    log: EventLog,
    trees: ProjectionTrees,
    applied_tx: watch::Sender<u64>,
    mut stop_rx: watch::Receiver<bool>,
) -> Result<(), ProjectionError> {
    loop {
        if *stop_rx.borrow() {
            return Ok(());
        }
        let (l, t) = (log.clone(), trees.clone());
        let before = *applied_tx.borrow();
        let applied = tokio::task::spawn_blocking(move || {
            // Far behind (start-up, rebuild): the pipelined catch-up; else one live batch.
            let behind = l.head().seq.saturating_sub(t.applied()?);
            if behind as usize > LIVE_BATCH_MAX_EVENTS {
                t.catch_up(&l)
            } else {
                t.step(&l)
            }
        })
        .await
        .map_err(|e| ProjectionError::Storage(format!("fold task: {e}")))??;
        applied_tx.send_replace(applied);
        if applied == before {
            tokio::select! {
                _ = log.wait_for_seq(applied + 1, IDLE_WAIT) => {}
                _ = stop_rx.changed() => {}
            }
        }
    }
}

impl Projections {
    /// Opens the projection trees in the log's store and starts following the log from their
    /// checkpoints. Must run inside a tokio runtime.
    pub fn start(log: &EventLog) -> Result<Projections, ProjectionError> {
        let trees = ProjectionTrees::open(log)?;
        let applied = trees.applied()?;
        let (applied_tx, applied_rx) = watch::channel(applied);
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(log.clone(), trees.clone(), applied_tx, stop_rx));
        Ok(Projections {
            log: log.clone(),
            trees,
            applied_rx,
            stop_tx,
            task: Some(task),
        })
    }

    /// The live read models.
    pub fn read_models(&self) -> ReadModels {
        self.trees.read_models()
    }

    pub fn trees(&self) -> &ProjectionTrees {
        &self.trees
    }

    /// The seq every projection has applied.
    pub fn applied_seq(&self) -> u64 {
        *self.applied_rx.borrow()
    }

    /// Read-your-writes: waits until every projection has applied `seq` (the caller's append
    /// position); false on timeout or if the runner stopped.
    pub async fn wait_for(&self, seq: u64, timeout: Duration) -> bool {
        let mut rx = self.applied_rx.clone();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|a| *a >= seq))
            .await
            .map(|r| r.is_ok());
        reached.unwrap_or(false)
    }

    /// Stops the runner after its current batch. Returns the error that stopped it, if any.
    pub async fn stop(mut self) -> Result<(), ProjectionError> {
        self.halt().await
    }

    async fn halt(&mut self) -> Result<(), ProjectionError> {
        self.stop_tx.send_replace(true);
        match self.task.take() {
            Some(t) => t
                .await
                .map_err(|e| ProjectionError::Storage(format!("runner task: {e}")))?,
            None => Ok(()),
        }
    }

    /// Stops the runner, clears every projection tree and restarts it from seq 0.
    pub async fn rebuild(&mut self) -> Result<(), ProjectionError> {
        self.halt().await?;
        let trees = self.trees.clone();
        tokio::task::spawn_blocking(move || trees.clear())
            .await
            .map_err(|e| ProjectionError::Storage(format!("clear task: {e}")))??;
        let (applied_tx, applied_rx) = watch::channel(0);
        let (stop_tx, stop_rx) = watch::channel(false);
        self.applied_rx = applied_rx;
        self.stop_tx = stop_tx;
        self.task = Some(tokio::spawn(run(
            self.log.clone(),
            self.trees.clone(),
            applied_tx,
            stop_rx,
        )));
        Ok(())
    }
}

impl Drop for Projections {
    fn drop(&mut self) {
        self.stop_tx.send_replace(true);
    }
}

/// Read models folded in memory from the log up to a moment.
pub struct AsOf {
    pub dossiers: MemStore,
    pub catalog: MemStore,
    /// Events folded.
    pub events: u64,
}

impl AsOf {
    pub fn read_models(self) -> ReadModels {
        ReadModels::new(Arc::new(self.dossiers), Arc::new(self.catalog))
    }
}

/// Whether an event belongs to the history "as of `t`": dossier events by their business time
/// `at`, every other event by when the log recorded it.
pub fn happened_by(rec: &Recorded, t: Timestamp) -> bool {
    match &rec.event {
        Event::Dossier(d) => d.at <= t,
        _ => rec.recorded_at <= t,
    }
}

/// Folds the log (in seq order) up to moment `t` into in-memory read models: the same fold and
/// the same queries as the live ones, on the in-memory backend.
pub fn fold_as_of(
    events: impl Iterator<Item = Result<Recorded, ProjectionError>>,
    t: Timestamp,
) -> Result<AsOf, ProjectionError> {
    let mut out = AsOf {
        dossiers: MemStore::new(),
        catalog: MemStore::new(),
        events: 0,
    };
    let mut chunk = Vec::with_capacity(REBUILD_BATCH_MAX_EVENTS);
    let flush = |chunk: &mut Vec<Recorded>, out: &mut AsOf| -> Result<(), ProjectionError> {
        let w = fold_batch(&DossierProjection, &out.dossiers, chunk)?;
        out.dossiers.commit(w);
        let w = fold_batch(&CatalogProjection, &out.catalog, chunk)?;
        out.catalog.commit(w);
        chunk.clear();
        Ok(())
    };
    for rec in events {
        let rec = rec?;
        if !happened_by(&rec, t) {
            continue;
        }
        out.events += 1;
        chunk.push(rec);
        if chunk.len() >= REBUILD_BATCH_MAX_EVENTS {
            flush(&mut chunk, &mut out)?;
        }
    }
    flush(&mut chunk, &mut out)?;
    Ok(out)
}
