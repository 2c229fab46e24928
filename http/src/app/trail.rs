//! A bounded trail, once: records of type `T` in a sled tree under a big-endian sequence,
//! appended by the request that did what they record, pruned in tenths past a named bound, read
//! newest first. The sign-in trail (`app::accounts`) and the download trail (`app::files`) are
//! two of them.
//!
//! A trail that cannot be written is logged, not fatal: the desk still needs to sign in and to
//! read its files; the trail is for the auditor, who sees the gap in the log.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use motcua_engine::codec;
use motcua_engine::storage::{Batch, KvTree, StorageError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::app::error::AppError;

/// A trail of `T` records kept to at most `max` (plus the tenth pruned at once).
pub struct BoundedTrail<T> {
    tree: KvTree,
    next: AtomicU64,
    max: u64,
    /// What the trail is, for the error log ("sign-in", "download").
    name: &'static str,
    records: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> BoundedTrail<T> {
    /// The trail in `tree`, continuing after its last record.
    pub fn open(tree: KvTree, max: u64, name: &'static str) -> Result<Self, StorageError> {
        let next = match tree.last()? {
            Some((k, _)) => {
                k.get(..8)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, u64::from_be_bytes)
                    + 1
            }
            None => 0,
        };
        Ok(BoundedTrail {
            tree,
            next: AtomicU64::new(next),
            max,
            name,
            records: PhantomData,
        })
    }

    /// Appends one record; past the bound, the oldest records are pruned in tenths, so a storm
    /// costs one scan per tenth, not per line.
    pub fn append(&self, record: &T) {
        let seq = self.next.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = self
            .tree
            .insert(seq.to_be_bytes(), codec::encode_record(record))
        {
            tracing::error!(error = %e, "the {} trail could not be written", self.name);
        }
        if seq >= self.max && seq % (self.max / 10).max(1) == 0 {
            let keep_from = seq.saturating_sub(self.max * 9 / 10);
            let mut batch = Batch::new();
            for kv in self.tree.range(..keep_from.to_be_bytes().to_vec()) {
                match kv {
                    Ok((k, _)) => batch.remove(k.to_vec()),
                    Err(_) => break,
                }
            }
            if let Err(e) = self.tree.apply(batch) {
                tracing::error!(error = %e, "the {} trail could not be pruned", self.name);
            }
        }
    }

    /// The newest `limit` records, newest first.
    pub fn newest(&self, limit: usize) -> Result<Vec<T>, AppError> {
        let mut out = Vec::new();
        for kv in self.tree.iter().rev().take(limit) {
            let (_, v) = kv.map_err(AppError::internal)?;
            out.push(codec::decode_record(&v).map_err(AppError::internal)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use motcua_engine::storage::Store;

    #[test]
    fn a_trail_keeps_its_bound_reads_newest_first_and_continues_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let trail = BoundedTrail::<u64>::open(store.tree("t").unwrap(), 20, "test").unwrap();
        for i in 0..=100u64 {
            trail.append(&i);
        }
        // Pruned at 100 (a tenth of 20 divides it): seq 82 to 100 are kept.
        assert_eq!(store.tree("t").unwrap().iter().count(), 19);
        assert_eq!(trail.newest(3).unwrap(), vec![100, 99, 98]);
        drop(trail);
        let trail = BoundedTrail::<u64>::open(store.tree("t").unwrap(), 20, "test").unwrap();
        trail.append(&101);
        assert_eq!(trail.newest(2).unwrap(), vec![101, 100]);
    }
}
