//! `LogStore`: what the log needs from the place its events are kept, and nothing more, so the
//! same writer and readers run on sled (`SledLogStore`, here) or on PostgreSQL
//! (`engine/src/log/postgres.rs`).
//!
//! The writer keeps every decision (seq from its own counter, stream versions, event ids,
//! `recorded_at`, the hash chain) in `writer.rs`; a store only persists a decided batch and
//! answers lookups. Reads take the durable head seq as `max_seq`, so nothing committed but not
//! yet acknowledged is ever visible.

use std::collections::HashMap;

use super::envelope::{Envelope, EventId, Position, StreamId};
use super::error::LogError;
use super::reader::{be_u64, decode_event, seq_key, MetaHead, Trees};
use super::verify::{self, VerifyReport};
use crate::storage::{StorageError, Store};

/// The envelopes a lazy scan yields, in seq order.
pub(crate) type EnvelopeIter<'a> = Box<dyn Iterator<Item = Result<Envelope, LogError>> + 'a>;

/// What a store looked up at once for the writer's batch: the recorded events among the
/// batch's event ids, and the current version of each stream asked that exists.
pub(crate) struct Prefetched {
    pub events: HashMap<EventId, Envelope>,
    pub versions: HashMap<StreamId, u64>,
}

/// The event log's storage, shaped by what the writer thread and the readers ask.
pub(crate) trait LogStore: Send + Sync + 'static {
    /// Looks up every one of `ids` and the versions of `streams` in one go, counting every
    /// committed event, for a store where each lookup is a round trip; `None` (sled, whose
    /// lookups are local): the writer asks key by key.
    fn prefetch(
        &self,
        _ids: &[EventId],
        _streams: &[StreamId],
    ) -> Result<Option<Prefetched>, LogError> {
        Ok(None)
    }

    /// Persists a decided batch (events, their stream and event-id index entries, the new
    /// head) atomically: all of it or none. Durable once [`LogStore::make_durable`] returns.
    fn commit(&self, envelopes: &[Envelope], head: &MetaHead) -> Result<(), LogError>;

    /// Makes every committed batch durable. Acknowledgements wait for it.
    fn make_durable(&self) -> Result<(), StorageError>;

    /// The event recorded under `id`, if its seq is <= `max_seq`.
    fn find_event(&self, id: &EventId, max_seq: u64) -> Result<Option<Envelope>, LogError>;

    /// The stream's version counting only events with seq <= `max_seq` (0 = no stream).
    fn stream_version(&self, stream: &StreamId, max_seq: u64) -> Result<u64, LogError>;

    /// The stream's events from `from_version` (0 or 1 = from its start), up to `max_seq`.
    fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_seq: u64,
    ) -> Result<Vec<Envelope>, LogError>;

    /// Up to `limit` events with `after_seq < seq <= max_seq`, in seq order.
    fn read_all(
        &self,
        after_seq: u64,
        limit: usize,
        max_seq: u64,
    ) -> Result<Vec<Envelope>, LogError>;

    /// Every event with `after_seq < seq <= max_seq`, read lazily.
    fn scan(&self, after_seq: u64, max_seq: u64) -> EnvelopeIter<'_>;

    /// The highest stream id starting with `prefix` (byte order) with an event <= `max_seq`.
    fn last_stream_with_prefix(
        &self,
        prefix: &str,
        max_seq: u64,
    ) -> Result<Option<StreamId>, LogError>;

    /// Walks the whole log and whatever indexes the store keeps beside it.
    fn verify(&self, head: Position) -> Result<VerifyReport, LogError>;
}

/// The log on sled: the four trees of `engine/src/log/reader.rs` in one `Store`.
pub(crate) struct SledLogStore {
    pub store: Store,
    pub trees: Trees,
}

impl LogStore for SledLogStore {
    fn commit(&self, envelopes: &[Envelope], head: &MetaHead) -> Result<(), LogError> {
        Ok(self
            .trees
            .commit_envelopes(&self.store, envelopes, head, None)?)
    }

    fn make_durable(&self) -> Result<(), StorageError> {
        // sled flush + fdatasync: the point after which a batch survives a crash.
        self.store.flush_durable()
    }

    fn find_event(&self, id: &EventId, max_seq: u64) -> Result<Option<Envelope>, LogError> {
        self.trees.find_event(id, max_seq)
    }

    fn stream_version(&self, stream: &StreamId, max_seq: u64) -> Result<u64, LogError> {
        self.trees.stream_version(stream, max_seq)
    }

    fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_seq: u64,
    ) -> Result<Vec<Envelope>, LogError> {
        self.trees.read_stream(stream, from_version, max_seq)
    }

    fn read_all(
        &self,
        after_seq: u64,
        limit: usize,
        max_seq: u64,
    ) -> Result<Vec<Envelope>, LogError> {
        self.trees.read_all(after_seq, limit, max_seq)
    }

    fn scan(&self, after_seq: u64, max_seq: u64) -> EnvelopeIter<'_> {
        let start = after_seq.saturating_add(1);
        let iter =
            (start <= max_seq).then(|| self.trees.events.range(seq_key(start)..=seq_key(max_seq)));
        Box::new(iter.into_iter().flatten().map(|item| {
            let (key, value) = item?;
            let seq = be_u64(&key, "events key")?;
            decode_event(seq, &value)
        }))
    }

    fn last_stream_with_prefix(
        &self,
        prefix: &str,
        max_seq: u64,
    ) -> Result<Option<StreamId>, LogError> {
        self.trees.last_stream_with_prefix(prefix, max_seq)
    }

    fn verify(&self, head: Position) -> Result<VerifyReport, LogError> {
        verify::verify(&self.trees, head)
    }
}
