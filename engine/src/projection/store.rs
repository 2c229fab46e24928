//! The keyspace abstraction the folds and queries run against: a read-only ordered byte map
//! ([`KvRead`]), the write set a batch produces ([`Writes`]), and the in-memory backend
//! ([`MemStore`]) used by "as of T" folds and tests. The sled backend lives in `runner`.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::ProjectionError;

/// Key of the checkpoint (last applied log seq, u64 big-endian) in every projection keyspace.
/// Starts with 0x00 so it sorts before every read-model key (those start with a letter tag).
pub const CHECKPOINT_KEY: &[u8] = b"\x00checkpoint";

/// One key/value pair out of a scan.
pub type KvPair = (Vec<u8>, Vec<u8>);

/// A boxed scan over a keyspace.
pub type KvIter<'a> = Box<dyn Iterator<Item = Result<KvPair, ProjectionError>> + 'a>;

/// Read access to a projection keyspace.
pub trait KvRead {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError>;
    /// Keys in `[start, end)` (unbounded above when `end` is `None`), ascending or descending.
    fn range<'a>(&'a self, start: &[u8], end: Option<&[u8]>, reverse: bool) -> KvIter<'a>;

    /// All keys starting with `prefix`, ascending.
    fn scan_prefix<'a>(&'a self, prefix: &[u8]) -> KvIter<'a> {
        let end = prefix_end(prefix);
        self.range(prefix, end.as_deref(), false)
    }
}

/// The smallest key greater than every key starting with `prefix` (None: no such bound).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The writes one batch produces: the last write to a key wins. Ordered, so two folds of the
/// same events produce the same write sequence.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Writes {
    ops: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl Writes {
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.insert(key, Some(value));
    }
    pub fn delete(&mut self, key: Vec<u8>) {
        self.ops.insert(key, None);
    }
    /// The pending value of a key: `Some(None)` when it is being deleted, `None` when untouched.
    pub fn pending(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.ops.get(key).map(|v| v.as_deref())
    }
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    /// The writes in key order (`None` = delete).
    pub fn into_ops(self) -> impl Iterator<Item = (Vec<u8>, Option<Vec<u8>>)> {
        self.ops.into_iter()
    }
}

/// In-memory keyspace: the "as of T" backend and the reference in tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MemStore {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemStore {
    pub fn new() -> MemStore {
        MemStore::default()
    }
    /// Applies a batch's writes (atomic by construction: nothing else can observe a half).
    pub fn commit(&mut self, writes: Writes) {
        for (k, v) in writes.into_ops() {
            match v {
                Some(v) => {
                    self.map.insert(k, v);
                }
                None => {
                    self.map.remove(&k);
                }
            }
        }
    }
    /// Every key/value pair in key order (used to compare keyspaces byte for byte).
    pub fn dump(&self) -> Vec<KvPair> {
        self.map
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl KvRead for MemStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError> {
        Ok(self.map.get(key).cloned())
    }
    fn range<'a>(&'a self, start: &[u8], end: Option<&[u8]>, reverse: bool) -> KvIter<'a> {
        let upper = match end {
            Some(e) => Bound::Excluded(e.to_vec()),
            None => Bound::Unbounded,
        };
        if let Bound::Excluded(e) = &upper {
            if e.as_slice() <= start {
                return Box::new(std::iter::empty());
            }
        }
        let it = self
            .map
            .range((Bound::Included(start.to_vec()), upper))
            .map(|(k, v)| Ok((k.clone(), v.clone())));
        if reverse {
            Box::new(it.rev())
        } else {
            Box::new(it)
        }
    }
}

/// Reads through a batch's pending writes to the committed state below them.
pub struct Overlay<'a> {
    pub base: &'a dyn KvRead,
    pub writes: &'a Writes,
}

impl Overlay<'_> {
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError> {
        match self.writes.pending(key) {
            Some(v) => Ok(v.map(<[u8]>::to_vec)),
            None => self.base.get(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_handles_ff() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }

    #[test]
    fn mem_range_and_prefix() {
        let mut m = MemStore::new();
        let mut w = Writes::default();
        for k in ["a1", "a2", "b1"] {
            w.put(k.as_bytes().to_vec(), vec![1]);
        }
        m.commit(w);
        let keys: Vec<_> = m.scan_prefix(b"a").map(|r| r.unwrap().0).collect();
        assert_eq!(keys, vec![b"a1".to_vec(), b"a2".to_vec()]);
        let rev: Vec<_> = m.range(b"a", None, true).map(|r| r.unwrap().0).collect();
        assert_eq!(rev, vec![b"b1".to_vec(), b"a2".to_vec(), b"a1".to_vec()]);
        assert_eq!(m.range(b"b", Some(b"a"), false).count(), 0);
    }
}
