//! Projections: pure folds of the log into read models, checkpointed in their own trees.
//!
//! Design (why it is shaped like this):
//! - A projection is a pure fold over [`Recorded`] events. It never reads a clock; queries that
//!   depend on "now" take it as a parameter.
//! - Each projection owns ONE ordered key/value keyspace (a sled tree `proj.<name>` when live, a
//!   `BTreeMap` when folding "as of T"). Its checkpoint (the last applied log seq) is a key in
//!   that same keyspace, so the read-model changes of a batch and the checkpoint land in one
//!   atomic write: a crash never double-applies or skips an event.
//! - The fold of a batch ([`fold_batch`]) only produces a [`Writes`] set against a read-only
//!   view of the committed state; the two backends only differ in how they commit it. The live
//!   read models and an "as of T" fold therefore share every line of fold and query code.
//! - Every secondary index entry of the dossier read model is a pure function of the dossier's
//!   record ([`dossier::derived_entries`]): applying a batch rewrites the index entries of the
//!   dossiers it touched as a diff (old entries minus new ones are removed). Incremental
//!   application in any batch sizes and a rebuild from zero therefore end in the same bytes,
//!   which the property tests check key by key.

pub mod catalog;
pub mod dossier;
pub mod keys;
pub mod plan;
pub mod runner;
pub mod stats;
pub mod store;
pub mod views;

use crate::domain::events::Recorded;

pub use catalog::CatalogProjection;
pub use dossier::{DossierProjection, DossierRecord, DossierState, Verdict};
pub use runner::{decode_envelope, fold_as_of, AsOf, Projections};
pub use stats::{Figure, Figures, Group, GroupBy, Satisfaction, StatsFilter, StatsReport};
pub use store::{KvRead, MemStore, Writes, CHECKPOINT_KEY};
pub use views::ReadModels;

/// Most events one live batch folds before it commits: bounds the latency a single commit adds
/// to read-your-writes and the memory of a batch's pending records.
pub const LIVE_BATCH_MAX_EVENTS: usize = 1_024;

/// Events a catch-up (rebuild) reads and decodes per chunk; the fold carries its state across
/// chunks and commits every `runner::CATCH_UP_COMMIT_MAX_EVENTS`.
pub const REBUILD_BATCH_MAX_EVENTS: usize = 65_536;

/// Why a projection could not fold or answer.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("storage: {0}")]
    Storage(String),
    #[error("corrupt read-model value under key {key}: {source}")]
    Corrupt {
        key: String,
        source: crate::codec::CodecError,
    },
    #[error("cannot decode event seq {seq}: {why}")]
    Event { seq: u64, why: String },
    #[error("log: {0}")]
    Log(String),
    #[error("projection runner stopped")]
    Stopped,
}

/// A pure fold of events into one keyspace.
///
/// `apply` folds one event into the batch's pending state, reading the committed state through
/// `base` (never writing it); `finish` turns the pending state into key writes. The runner adds
/// the checkpoint and commits the whole [`Writes`] atomically.
pub trait Projection: Send + Sync + 'static {
    /// The read model's name; its sled tree is `proj.<NAME>`. The name carries the layout's
    /// version when there was more than one (`dossiers.2`): a release that changes what the
    /// tree stores renames it, so a data directory of an older release folds the new tree from
    /// the log on its first start and drops the old one (`ProjectionTrees::open`).
    const NAME: &'static str;
    /// Per-batch working state.
    type Pending: Default + Send;
    /// How the keyspace packs logical rows into physical keys ([`store::Packing`]); `apply`
    /// and `finish` only see logical keys.
    const PACKING: store::Packing = store::no_packing;
    fn apply(
        &self,
        base: &dyn KvRead,
        pending: &mut Self::Pending,
        rec: &Recorded,
    ) -> Result<(), ProjectionError>;
    fn finish(
        &self,
        base: &dyn KvRead,
        pending: Self::Pending,
        out: &mut Writes,
    ) -> Result<(), ProjectionError>;
}

/// Folds `events` (in seq order, all after the checkpoint) against the committed (physical)
/// state `base` and returns the (physical) writes to commit, checkpoint included. The single fold code path of both
/// backends.
pub fn fold_batch<P: Projection>(
    projection: &P,
    base: &dyn KvRead,
    events: &[Recorded],
) -> Result<Writes, ProjectionError> {
    let view = store::PackedView::new(base, P::PACKING);
    let mut pending = P::Pending::default();
    for rec in events {
        projection.apply(&view, &mut pending, rec)?;
    }
    let mut logical = Writes::packed(P::PACKING);
    projection.finish(&view, pending, &mut logical)?;
    let mut out = store::pack_writes(base, logical, P::PACKING)?;
    if let Some(last) = events.last() {
        out.put(CHECKPOINT_KEY.to_vec(), last.seq.to_be_bytes().to_vec());
    }
    Ok(out)
}

/// Reads a keyspace's checkpoint (0 when nothing was applied yet).
pub fn checkpoint(base: &dyn KvRead) -> Result<u64, ProjectionError> {
    match base.get(CHECKPOINT_KEY)? {
        None => Ok(0),
        Some(v) => {
            let bytes: [u8; 8] = v
                .as_slice()
                .try_into()
                .map_err(|_| ProjectionError::Corrupt {
                    key: "checkpoint".into(),
                    source: crate::codec::CodecError::TrailingBytes(v.len().saturating_sub(8)),
                })?;
            Ok(u64::from_be_bytes(bytes))
        }
    }
}

/// Folds events into an in-memory keyspace in batches of `batch` events (the in-memory backend
/// of [`fold_batch`]); `events` are in seq order and those at or below the keyspace's
/// checkpoint are skipped.
pub fn fold_into_mem<P: Projection>(
    projection: &P,
    store: &mut MemStore,
    events: &[Recorded],
    batch: usize,
) -> Result<(), ProjectionError> {
    let done = checkpoint(store)?;
    let start = events.partition_point(|r| r.seq <= done);
    for chunk in events[start..].chunks(batch.max(1)) {
        let writes = fold_batch(projection, store, chunk)?;
        store.commit(writes);
    }
    Ok(())
}
