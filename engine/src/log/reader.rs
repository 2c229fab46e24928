//! The sled layout and the read side: key encodings of the four trees and the lookups both the
//! writer and readers use. Readers pass the durable head seq as `max_seq` so nothing committed
//! but not yet acknowledged (flushed) is ever visible to them.
//!
//! Layout (see docs/storage.md):
//! - `events`:    seq (u64 BE)                          -> `codec::encode_record(Envelope)`
//! - `streams`:   stream bytes ++ 0x00 ++ version (u64 BE) -> seq (u64 BE)
//! - `event_ids`: event id (16 bytes)                   -> seq (u64 BE)
//! - `meta`:      `format_version` -> [u8]; `head` -> `codec::encode(MetaHead)`

use serde::{Deserialize, Serialize};

use super::envelope::{Envelope, EventId, StreamId};
use super::error::LogError;
use crate::codec;
use crate::storage::{Batch, KvTree, StorageError, Store};

pub const TREE_EVENTS: &str = "events";
pub const TREE_STREAMS: &str = "streams";
pub const TREE_EVENT_IDS: &str = "event_ids";
pub const TREE_META: &str = "meta";
pub const META_FORMAT_VERSION: &[u8] = b"format_version";
pub const META_HEAD: &[u8] = b"head";

/// The `meta/head` record, rewritten in the same transaction as every batch of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MetaHead {
    pub seq: u64,
    pub hash: [u8; 32],
    pub recorded_at_ms: i64,
}

/// Handles to the log's four trees.
#[derive(Clone)]
pub(crate) struct Trees {
    pub events: KvTree,
    pub streams: KvTree,
    pub event_ids: KvTree,
    pub meta: KvTree,
}

impl Trees {
    /// Writes `envelopes` and the new `head` in one transaction (atomic, not yet durable): the
    /// one place that spells out which rows an event puts in each tree, so the writer's
    /// batches and an import lay out the same bytes. `format_version` also stamps the log's
    /// format (an import's first batch).
    pub(crate) fn commit_envelopes(
        &self,
        store: &Store,
        envelopes: &[Envelope],
        head: &MetaHead,
        format_version: Option<u8>,
    ) -> Result<(), StorageError> {
        let EventRows {
            events,
            streams,
            ids,
        } = EventRows::of(envelopes);
        let mut meta = Batch::new();
        if let Some(version) = format_version {
            meta.insert(META_FORMAT_VERSION.to_vec(), vec![version]);
        }
        meta.insert(META_HEAD.to_vec(), codec::encode(head));
        store.commit(&[
            (&self.events, &events),
            (&self.streams, &streams),
            (&self.event_ids, &ids),
            (&self.meta, &meta),
        ])
    }
}

/// An event batch's rows in the three event trees (the `meta/head` record apart).
pub(crate) struct EventRows {
    pub events: Batch,
    pub streams: Batch,
    pub ids: Batch,
}

impl EventRows {
    /// The one spelling of which rows an event puts in each tree: the writer's transaction and
    /// the import's batches both come from here.
    pub(crate) fn of(envelopes: &[Envelope]) -> EventRows {
        let mut rows = EventRows {
            events: Batch::new(),
            streams: Batch::new(),
            ids: Batch::new(),
        };
        for env in envelopes {
            let seq = seq_key(env.seq).to_vec();
            rows.events.insert(seq.clone(), codec::encode_record(env));
            rows.streams
                .insert(stream_key(&env.stream, env.version), seq.clone());
            rows.ids.insert(env.event_id.0.to_vec(), seq);
        }
        rows
    }
}

pub(crate) fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub(crate) fn stream_prefix(stream: &StreamId) -> Vec<u8> {
    let mut k = Vec::with_capacity(stream.as_str().len() + 9);
    k.extend_from_slice(stream.as_str().as_bytes());
    k.push(0);
    k
}

pub(crate) fn stream_key(stream: &StreamId, version: u64) -> Vec<u8> {
    let mut k = stream_prefix(stream);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// Parses a u64 stored big-endian (index values, seq keys).
pub(crate) fn be_u64(bytes: &[u8], what: &str) -> Result<u64, LogError> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| {
        LogError::CorruptMeta(format!("{what}: expected 8 bytes, got {}", bytes.len()))
    })?;
    Ok(u64::from_be_bytes(arr))
}

/// Splits a `streams` key into (stream bytes, version).
pub(crate) fn split_stream_key(key: &[u8]) -> Option<(&[u8], u64)> {
    if key.len() < 9 || key[key.len() - 9] != 0 {
        return None;
    }
    let (stream, rest) = key.split_at(key.len() - 9);
    let version = u64::from_be_bytes(rest[1..].try_into().ok()?);
    Some((stream, version))
}

/// Decodes a stored event record, naming the seq on failure.
pub(crate) fn decode_event(seq: u64, bytes: &[u8]) -> Result<Envelope, LogError> {
    let env: Envelope = codec::decode_record(bytes).map_err(|e| LogError::Corrupt {
        seq,
        detail: e.to_string(),
    })?;
    if env.seq != seq {
        return Err(LogError::Corrupt {
            seq,
            detail: format!("record under key {seq} says seq {}", env.seq),
        });
    }
    Ok(env)
}

impl Trees {
    pub fn open(store: &Store) -> Result<Trees, LogError> {
        Ok(Trees {
            events: store.tree(TREE_EVENTS)?,
            streams: store.tree(TREE_STREAMS)?,
            event_ids: store.tree(TREE_EVENT_IDS)?,
            meta: store.tree(TREE_META)?,
        })
    }

    pub fn get_event(&self, seq: u64) -> Result<Option<Envelope>, LogError> {
        match self.events.get(seq_key(seq))? {
            Some(bytes) => decode_event(seq, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The event at `seq`, which an index says exists.
    pub fn must_get_event(&self, seq: u64) -> Result<Envelope, LogError> {
        self.get_event(seq)?.ok_or_else(|| LogError::Corrupt {
            seq,
            detail: "referenced by an index but missing from `events`".into(),
        })
    }

    /// The event recorded under `id`, if its seq is <= `max_seq`.
    pub fn find_event(&self, id: &EventId, max_seq: u64) -> Result<Option<Envelope>, LogError> {
        let Some(value) = self.event_ids.get(id.0)? else {
            return Ok(None);
        };
        let seq = be_u64(&value, "event_ids index value")?;
        if seq > max_seq {
            return Ok(None);
        }
        self.must_get_event(seq).map(Some)
    }

    /// The stream's version counting only events with seq <= `max_seq`.
    pub fn stream_version(&self, stream: &StreamId, max_seq: u64) -> Result<u64, LogError> {
        // Fast path: the greatest key below (stream, MAX) is the stream's last version; if its
        // event is durable (the usual case) we are done without a scan.
        let prefix = stream_prefix(stream);
        match self.streams.get_lt(stream_key(stream, u64::MAX))? {
            Some((key, value)) if key.starts_with(&prefix) => {
                if be_u64(&value, "streams index value")? <= max_seq {
                    return Ok(split_stream_key(&key).map(|(_, v)| v).unwrap_or(0));
                }
            }
            _ => return Ok(0),
        }
        for item in self.streams.scan_prefix(stream_prefix(stream)).rev() {
            let (key, value) = item?;
            let seq = be_u64(&value, "streams index value")?;
            if seq <= max_seq {
                return Ok(split_stream_key(&key).map(|(_, v)| v).unwrap_or(0));
            }
        }
        Ok(0)
    }

    pub fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_seq: u64,
    ) -> Result<Vec<Envelope>, LogError> {
        let start = stream_key(stream, from_version.max(1));
        let end = stream_key(stream, u64::MAX);
        let mut out = Vec::new();
        for item in self.streams.range(start..=end) {
            let (_, value) = item?;
            let seq = be_u64(&value, "streams index value")?;
            if seq > max_seq {
                break;
            }
            out.push(self.must_get_event(seq)?);
        }
        Ok(out)
    }

    pub fn read_all(
        &self,
        after_seq: u64,
        limit: usize,
        max_seq: u64,
    ) -> Result<Vec<Envelope>, LogError> {
        if after_seq >= max_seq || limit == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(limit.min(1024));
        for item in self.events.range(seq_key(after_seq + 1)..=seq_key(max_seq)) {
            let (key, value) = item?;
            let seq = be_u64(&key, "events key")?;
            out.push(decode_event(seq, &value)?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    pub fn last_stream_with_prefix(
        &self,
        prefix: &str,
        max_seq: u64,
    ) -> Result<Option<StreamId>, LogError> {
        for item in self.streams.scan_prefix(prefix.as_bytes()).rev() {
            let (key, value) = item?;
            let seq = be_u64(&value, "streams index value")?;
            if seq > max_seq {
                continue;
            }
            let Some((stream, _)) = split_stream_key(&key) else {
                return Err(LogError::CorruptMeta(format!(
                    "bad streams key {}",
                    hex::encode(&key)
                )));
            };
            let text = std::str::from_utf8(stream)
                .map_err(|e| LogError::CorruptMeta(format!("bad streams key: {e}")))?;
            return StreamId::new(text).map(Some);
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_keys_sort_by_stream_then_version() {
        let a = StreamId::new("dossier/A").expect("ok");
        let ab = StreamId::new("dossier/AB").expect("ok");
        assert!(stream_key(&a, u64::MAX) < stream_key(&ab, 1));
        assert!(stream_key(&a, 2) < stream_key(&a, 256));
        assert_eq!(
            split_stream_key(&stream_key(&ab, 7)),
            Some((&b"dossier/AB"[..], 7))
        );
        assert_eq!(split_stream_key(b"short"), None);
    }
}
