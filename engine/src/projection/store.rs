//! The keyspace abstraction the folds and queries run against: a read-only ordered byte map
//! ([`KvRead`]), the write set a batch produces ([`Writes`]), and the in-memory backend
//! ([`MemStore`]) used by "as of T" folds and tests. The sled backend lives in `runner`.
//!
//! Packing: sled pays per key written (measured on the build box: 170,000 keys of 300 bytes
//! take 4.5 s, 5,000 keys of 10 KB take 0.33 s), so a projection may store many small logical
//! rows under one physical "bucket" key ([`Packing`]). Folds and queries only ever see logical
//! keys, through [`PackedView`]; [`pack_writes`] turns a batch's logical writes into bucket
//! writes. A bucket's value is a pure function of its members, so packing keeps incremental
//! folds and rebuilds byte-identical.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Bound;

use crate::codec;

use super::ProjectionError;

/// The multiply-rotate hash of rustc (FxHash), for the fold's hash maps: their keys are read
/// model keys and dossier codes (short byte strings the engine generated), hashed once per
/// event and per written row, where SipHash cost a rebuild ~0.3 s of 1,000,000 events. Not
/// resistant to crafted collisions, which these keys never are: they come from the log, that
/// is, from the service that made the codes.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` with [`FxHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
/// A `HashSet` with [`FxHasher`].
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

/// How the rows of one tag are stored (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pack {
    /// Every row under one physical key, the row key's first `n` bytes (the bucket): for tags
    /// whose bucket holds a bounded number of rows by construction (the key's own layout says
    /// so), and that are read row by row (`get` is one physical `get`).
    Bucket(usize),
    /// Rows sharing their first `prefix` bytes, cut into chunks at content-defined boundaries:
    /// a row whose member (the key after the prefix) hashes to 0 modulo `mean` starts a chunk
    /// stored under its own full key; rows before the first boundary sit under the prefix
    /// itself. A chunk's rows are therefore a pure function of the set of rows (a rebuild and
    /// any sequence of incremental batches end in the same bytes), a chunk holds `mean` rows on
    /// average (geometrically distributed: with `mean` 64 a chunk of 1,000 rows has odds below
    /// 1 in 6 million), and a write reads and rewrites only the chunks its rows fall in,
    /// whatever the number of rows under the prefix. For tags read by range (a `get` costs a
    /// reverse seek).
    Chunks { prefix: usize, mean: u64 },
}

impl Pack {
    /// Bytes of a row key that name its bucket or chunk prefix.
    fn prefix(self) -> usize {
        match self {
            Pack::Bucket(n) => n,
            Pack::Chunks { prefix, .. } => prefix,
        }
    }
}

/// For a logical key's first byte (its tag): how its rows are packed, or `None` when rows
/// with that tag are stored one per key. The prefix is a prefix of the logical key and the rest
/// (the member) must be non-empty, so the physical key order (buckets or chunks, each expanded
/// in member order) is exactly the logical key order.
pub type Packing = fn(u8) -> Option<Pack>;

/// No packing: every logical key is a physical key.
pub fn no_packing(_tag: u8) -> Option<Pack> {
    None
}

/// A bucket's value: its members (key suffix after the bucket key, value), ascending.
type Members = Vec<(Vec<u8>, Vec<u8>)>;

/// Writes to a bucket's members (`None` = delete), ascending.
type MemberOps = Vec<(Vec<u8>, Option<Vec<u8>>)>;

fn pack_of(packing: Packing, key: &[u8]) -> Option<Pack> {
    key.first().and_then(|t| packing(*t))
}

fn bucket_len(packing: Packing, key: &[u8]) -> Option<usize> {
    pack_of(packing, key).map(Pack::prefix)
}

/// Whether `member` starts a chunk of a [`Pack::Chunks`] tag with mean chunk size `mean`: its
/// FxHash, mixed by the SplitMix64 finalizer (sequential codes and timestamps differ in their
/// last bytes, which FxHash alone spreads poorly over its low bits), is 0 modulo `mean`.
fn is_boundary(member: &[u8], mean: u64) -> bool {
    let mut h = FxHasher::default();
    h.write(member);
    let mut z = h.finish();
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    mean <= 1 || z % mean == 0
}

/// `key` followed by a zero byte: the smallest key above `key`.
fn just_above(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.extend_from_slice(key);
    k.push(0);
    k
}

/// The physical key of the chunk that holds (or would hold) logical `key` of a chunked tag
/// with prefix length `p`: the greatest physical key in `[key[..p], key]`, if any.
fn chunk_of(inner: &dyn KvRead, key: &[u8], p: usize) -> Result<Option<KvPair>, ProjectionError> {
    last_before(inner, &key[..p], &just_above(key))
}

/// The greatest physical pair in `[from, end)`: one reverse seek.
fn last_before(
    inner: &dyn KvRead,
    from: &[u8],
    end: &[u8],
) -> Result<Option<KvPair>, ProjectionError> {
    inner.range(from, Some(end), true).next().transpose()
}

fn decode_bucket(key: &[u8], bytes: &[u8]) -> Result<Members, ProjectionError> {
    // A bucket grows with its unit's day or period: the large limit (see codec).
    codec::decode_large(bytes).map_err(|source| ProjectionError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })
}

fn unpackable(key: &[u8]) -> ProjectionError {
    ProjectionError::Storage(format!(
        "key {} is too short for its packed tag",
        String::from_utf8_lossy(key)
    ))
}

/// The logical view of a packed keyspace: what folds and queries read.
pub struct PackedView<R> {
    inner: R,
    packing: Packing,
}

impl<R: KvRead> PackedView<R> {
    pub fn new(inner: R, packing: Packing) -> PackedView<R> {
        PackedView { inner, packing }
    }

    /// The logical pairs a physical pair stands for.
    fn expand(&self, k: Vec<u8>, v: Vec<u8>) -> Result<Vec<KvPair>, ProjectionError> {
        let prefix = match pack_of(self.packing, &k) {
            None => return Ok(vec![(k, v)]),
            Some(Pack::Bucket(b)) if k.len() == b => b,
            // A chunk: the head chunk under the prefix, or one under its first row's full key.
            Some(Pack::Chunks { prefix, .. }) if k.len() >= prefix => prefix,
            Some(_) => return Err(unpackable(&k)),
        };
        Ok(decode_bucket(&k, &v)?
            .into_iter()
            .map(|(m, v)| {
                let mut full = k[..prefix].to_vec();
                full.extend_from_slice(&m);
                (full, v)
            })
            .collect())
    }
}

/// The value of `member` among a bucket's or chunk's encoded members.
fn find_member(
    key: &[u8],
    bytes: &[u8],
    member: &[u8],
) -> Result<Option<Vec<u8>>, ProjectionError> {
    let members = decode_bucket(key, bytes)?;
    Ok(members
        .binary_search_by(|(m, _)| m.as_slice().cmp(member))
        .ok()
        .and_then(|i| members.into_iter().nth(i))
        .map(|(_, v)| v))
}

impl<R: KvRead> KvRead for PackedView<R> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError> {
        match pack_of(self.packing, key) {
            Some(Pack::Bucket(b)) if key.len() > b => match self.inner.get(&key[..b])? {
                Some(bytes) => find_member(&key[..b], &bytes, &key[b..]),
                None => Ok(None),
            },
            Some(Pack::Chunks { prefix, .. }) if key.len() > prefix => {
                match chunk_of(&self.inner, key, prefix)? {
                    Some((k, bytes)) => find_member(&k, &bytes, &key[prefix..]),
                    None => Ok(None),
                }
            }
            _ => self.inner.get(key),
        }
    }

    fn range<'a>(&'a self, start: &[u8], end: Option<&[u8]>, reverse: bool) -> KvIter<'a> {
        // Physical bounds covering every bucket or chunk that may hold a logical key in range:
        // a start inside a bucket starts at the bucket, one inside a chunked prefix at the
        // chunk holding it; an end inside a bucket ends after the bucket (a chunk's key is its
        // first row's, so a chunk keyed below the end is the last one that may hold rows below
        // it).
        let phys_start = match pack_of(self.packing, start) {
            Some(Pack::Bucket(b)) if start.len() > b => start[..b].to_vec(),
            Some(Pack::Chunks { prefix, .. }) if start.len() > prefix => {
                match chunk_of(&self.inner, start, prefix) {
                    Ok(Some((k, _))) => k,
                    Ok(None) => start.to_vec(),
                    Err(e) => return Box::new(std::iter::once(Err(e))),
                }
            }
            _ => start.to_vec(),
        };
        let phys_end = end.map(|e| match pack_of(self.packing, e) {
            Some(Pack::Bucket(b)) if e.len() > b => just_above(&e[..b]),
            _ => e.to_vec(),
        });
        let (lo, hi) = (start.to_vec(), end.map(<[u8]>::to_vec));
        let in_range = move |k: &[u8]| k >= lo.as_slice() && hi.as_deref().is_none_or(|h| k < h);
        let it = self
            .inner
            .range(&phys_start, phys_end.as_deref(), reverse)
            .flat_map(move |kv| {
                let expanded = kv.and_then(|(k, v)| self.expand(k, v));
                let items: Vec<Result<KvPair, ProjectionError>> = match expanded {
                    Ok(mut pairs) => {
                        if reverse {
                            pairs.reverse();
                        }
                        pairs.into_iter().map(Ok).collect()
                    }
                    Err(e) => vec![Err(e)],
                };
                items
            })
            .filter(move |kv| kv.as_ref().map_or(true, |(k, _)| in_range(k)));
        Box::new(it)
    }
}

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

impl<T: KvRead + ?Sized> KvRead for &T {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError> {
        (**self).get(key)
    }
    fn range<'a>(&'a self, start: &[u8], end: Option<&[u8]>, reverse: bool) -> KvIter<'a> {
        (**self).range(start, end, reverse)
    }
}

impl<T: KvRead + ?Sized> KvRead for std::sync::Arc<T> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError> {
        (**self).get(key)
    }
    fn range<'a>(&'a self, start: &[u8], end: Option<&[u8]>, reverse: bool) -> KvIter<'a> {
        (**self).range(start, end, reverse)
    }
}

/// The number of pairs `iter` yields, or its first error. Never `Iterator::count`: on a damaged
/// page sled's iterator returns the same error again and again without advancing, so a count
/// that does not stop at an error never ends.
pub fn count_pairs(iter: KvIter<'_>) -> Result<u64, ProjectionError> {
    let mut n = 0;
    for kv in iter {
        kv?;
        n += 1;
    }
    Ok(n)
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

/// The writes one batch produces: the last write to a key wins; [`Writes::into_ops`] yields
/// them in key order, so two folds of the same events produce the same write sequence. Hashed
/// rather than ordered while a batch collects them: a rebuild's commit puts half a million
/// keys, and one sort at the end is far cheaper than keeping them ordered all along.
///
/// A write set made with [`Writes::packed`] files the rows of packed tags under their bucket
/// key as they come (member and value, in write order), so [`pack_writes`] only sorts each
/// bucket's few members instead of hashing and sorting every logical key of the batch.
#[derive(Debug, Clone)]
pub struct Writes {
    ops: FastMap<Vec<u8>, Option<Vec<u8>>>,
    packing: Packing,
    /// Rows of packed tags: bucket key -> (member, value or `None` = delete), in write order.
    buckets: FastMap<Vec<u8>, MemberOps>,
}

impl Default for Writes {
    fn default() -> Writes {
        Writes::packed(no_packing)
    }
}

impl Writes {
    /// An empty write set of logical rows for a keyspace packed by `packing`.
    pub fn packed(packing: Packing) -> Writes {
        Writes {
            ops: FastMap::default(),
            packing,
            buckets: FastMap::default(),
        }
    }

    fn write(&mut self, mut key: Vec<u8>, value: Option<Vec<u8>>) {
        match bucket_len(self.packing, &key) {
            // A key too short for its bucket stays a plain op: `pack_writes` refuses it.
            Some(b) if key.len() > b => {
                if let Some(ops) = self.buckets.get_mut(&key[..b]) {
                    key.drain(..b);
                    ops.push((key, value));
                } else {
                    let bucket = key[..b].to_vec();
                    key.drain(..b);
                    self.buckets.insert(bucket, vec![(key, value)]);
                }
            }
            _ => {
                self.ops.insert(key, value);
            }
        }
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.write(key, Some(value));
    }
    pub fn delete(&mut self, key: Vec<u8>) {
        self.write(key, None);
    }
    /// The pending value of a key: `Some(None)` when it is being deleted, `None` when untouched.
    pub fn pending(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        match bucket_len(self.packing, key) {
            Some(b) if key.len() > b => self.buckets.get(&key[..b]).and_then(|ops| {
                ops.iter()
                    .rev()
                    .find(|(m, _)| m.as_slice() == &key[b..])
                    .map(|(_, v)| v.as_deref())
            }),
            _ => self.ops.get(key).map(|v| v.as_deref()),
        }
    }
    /// Bytes of the keys and values written (a deletion counts its key): what a batch costs
    /// the store, for the flat-cost test and bench.
    pub fn bytes(&self) -> usize {
        let plain = self
            .ops
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len));
        let packed = self.buckets.iter().flat_map(|(b, ops)| {
            ops.iter()
                .map(move |(m, v)| b.len() + m.len() + v.as_ref().map_or(0, Vec::len))
        });
        plain.chain(packed).sum()
    }
    /// Keys written or deleted (counting a row written twice in a bucket twice).
    pub fn len(&self) -> usize {
        self.ops.len() + self.buckets.values().map(Vec::len).sum::<usize>()
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.buckets.is_empty()
    }
    /// The keys written or deleted, in no particular order (a row written twice in a bucket
    /// comes twice).
    pub fn keys(&self) -> impl Iterator<Item = std::borrow::Cow<'_, [u8]>> {
        let plain = self
            .ops
            .keys()
            .map(|k| std::borrow::Cow::Borrowed(k.as_slice()));
        let packed = self.buckets.iter().flat_map(|(b, ops)| {
            ops.iter().map(move |(m, _)| {
                let mut k = b.clone();
                k.extend_from_slice(m);
                std::borrow::Cow::Owned(k)
            })
        });
        plain.chain(packed)
    }
    /// The writes in key order (`None` = delete).
    pub fn into_ops(self) -> impl Iterator<Item = (Vec<u8>, Option<Vec<u8>>)> {
        let mut ops: Vec<_> = self.ops.into_iter().collect();
        for (bucket, members) in self.buckets {
            for (m, v) in last_writes(members) {
                let mut k = bucket.clone();
                k.extend_from_slice(&m);
                ops.push((k, v));
            }
        }
        ops.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        ops.into_iter()
    }
}

/// A bucket's member writes in write order -> the last write of each member, ascending.
fn last_writes(mut ops: MemberOps) -> MemberOps {
    // Stable: writes to one member stay in write order, and the last one wins.
    ops.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: MemberOps = Vec::with_capacity(ops.len());
    for (m, v) in ops {
        match out.last_mut() {
            Some(last) if last.0 == m => last.1 = v,
            _ => out.push((m, v)),
        }
    }
    out
}

/// Turns a batch's logical writes into physical ones against the committed physical state
/// `base`: rows of packed tags are merged into their buckets (an emptied bucket is deleted).
pub fn pack_writes(
    base: &dyn KvRead,
    logical: Writes,
    packing: Packing,
) -> Result<Writes, ProjectionError> {
    let mut out = Writes::default();
    let Writes {
        ops,
        buckets: mut by_bucket,
        ..
    } = logical;
    for (k, v) in ops {
        let Some(b) = bucket_len(packing, &k) else {
            out.ops.insert(k, v);
            continue;
        };
        if k.len() <= b {
            return Err(unpackable(&k));
        }
        // Rows of a write set not made with this packing: filed here (the map is unordered,
        // so they cannot carry an order among themselves; a key appears once).
        let bucket = k[..b].to_vec();
        let mut member = k;
        member.drain(..b);
        by_bucket.entry(bucket).or_default().push((member, v));
    }
    for (bucket, ops) in by_bucket {
        match pack_of(packing, &bucket) {
            Some(Pack::Bucket(b)) if b == bucket.len() => {
                merge_bucket(base, bucket, last_writes(ops), &mut out)?
            }
            Some(Pack::Chunks { prefix, mean }) if prefix == bucket.len() => {
                merge_chunks(base, &bucket, mean, last_writes(ops), &mut out)?
            }
            _ => return Err(unpackable(&bucket)),
        }
    }
    Ok(out)
}

/// Writes the member writes `ops` (ascending) of the chunked prefix `prefix` into its chunks.
/// A write touches the chunk holding the row just below it and the chunk it falls in; the writes
/// are grouped into spans of consecutive chunks (a span ends before the first chunk above its
/// last write), spans that meet are joined, and each is merged on its own ([`merge_span`]). So a
/// batch writing two rows far apart (a dossier's old and new place in a time index) reads and
/// rewrites the chunks around each, not every chunk between them, and a rebuild appending a
/// commit's rows after the last chunk pays two seeks for all of them.
fn merge_chunks(
    base: &dyn KvRead,
    prefix: &[u8],
    mean: u64,
    ops: MemberOps,
    out: &mut Writes,
) -> Result<(), ProjectionError> {
    let full = |m: &[u8]| {
        let mut k = prefix.to_vec();
        k.extend_from_slice(m);
        k
    };
    let prefix_end = prefix_end(prefix);
    // The open span: its first chunk's key, the key of the first chunk above it (`None`: no
    // chunk above), its writes.
    let mut span: Option<(Vec<u8>, Option<Vec<u8>>, MemberOps)> = None;
    for (m, v) in ops {
        let key = full(&m);
        if let Some((_, end, writes)) = &mut span {
            // Below the next chunk: in a chunk the span already holds.
            if end.as_ref().is_none_or(|e| key < *e) {
                writes.push((m, v));
                continue;
            }
        }
        let below = last_before(base, prefix, &key)?.map_or_else(|| prefix.to_vec(), |(k, _)| k);
        let above = base
            .range(&just_above(&key), prefix_end.as_deref(), false)
            .next()
            .transpose()?
            .map(|(k, _)| k);
        match &mut span {
            // The chunk below this write is inside the open span (this write deletes or
            // lands on the chunk right after it): one span.
            Some((_, end, writes)) if end.as_ref().is_some_and(|e| below < *e) => {
                *end = above;
                writes.push((m, v));
            }
            _ => {
                if let Some((first, end, writes)) = span.take() {
                    merge_span(base, prefix, mean, &first, end.as_deref(), writes, out)?;
                }
                span = Some((below, above, vec![(m, v)]));
            }
        }
    }
    if let Some((first, end, writes)) = span {
        merge_span(base, prefix, mean, &first, end.as_deref(), writes, out)?;
    }
    Ok(())
}

/// Merges `ops` (ascending) into the chunks keyed from `first` up to (not including) `end`
/// (`None`: to the end of the prefix), cuts them again at their boundaries, and writes the
/// chunks that changed. The chunks outside are untouched: the one at `end` starts with a
/// boundary row above every write, and `first` is the prefix or a boundary row below them.
fn merge_span(
    base: &dyn KvRead,
    prefix: &[u8],
    mean: u64,
    first: &[u8],
    end: Option<&[u8]>,
    ops: MemberOps,
    out: &mut Writes,
) -> Result<(), ProjectionError> {
    let end = end.map(<[u8]>::to_vec).or_else(|| prefix_end(prefix));
    let mut old: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for kv in base.range(first, end.as_deref(), false) {
        let (k, bytes) = kv?;
        merged.extend(decode_bucket(&k, &bytes)?);
        old.insert(k, bytes);
    }
    apply_ops(&mut merged, ops);
    // Cut again: the span's first chunk (the prefix itself until the first boundary row), then
    // one chunk per boundary row.
    let mut chunks: Vec<(Vec<u8>, Members)> = Vec::new();
    for (m, v) in merged {
        let boundary = is_boundary(&m, mean);
        if chunks.is_empty() || boundary {
            let mut key = prefix.to_vec();
            if boundary {
                key.extend_from_slice(&m);
            }
            chunks.push((key, Vec::new()));
        }
        if let Some((_, members)) = chunks.last_mut() {
            members.push((m, v));
        }
    }
    for (key, members) in chunks {
        let bytes = codec::encode(&members);
        if old.remove(&key).as_ref() != Some(&bytes) {
            out.put(key, bytes);
        }
    }
    for key in old.into_keys() {
        out.delete(key);
    }
    Ok(())
}

/// Writes bucket `bucket` with the member writes `ops` (ascending) applied to its committed
/// members.
fn merge_bucket(
    base: &dyn KvRead,
    bucket: Vec<u8>,
    ops: MemberOps,
    out: &mut Writes,
) -> Result<(), ProjectionError> {
    let members: Members = match base.get(&bucket)? {
        // A new bucket (every bucket of a rebuild): the sorted inserts are its members.
        None => ops
            .into_iter()
            .filter_map(|(m, v)| v.map(|v| (m, v)))
            .collect(),
        Some(bytes) => {
            let mut merged: BTreeMap<Vec<u8>, Vec<u8>> =
                decode_bucket(&bucket, &bytes)?.into_iter().collect();
            apply_ops(&mut merged, ops);
            merged.into_iter().collect()
        }
    };
    if members.is_empty() {
        out.delete(bucket);
    } else {
        out.put(bucket, codec::encode(&members));
    }
    Ok(())
}

/// Applies member writes (`None` = delete) to a bucket's or span's members.
fn apply_ops(members: &mut BTreeMap<Vec<u8>, Vec<u8>>, ops: MemberOps) {
    for (m, v) in ops {
        match v {
            Some(v) => members.insert(m, v),
            None => members.remove(&m),
        };
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

    /// Test packing: tag `p` keys pack under their first 3 bytes, tag `q` keys in chunks of
    /// about 3 rows under their first 2 bytes.
    fn test_packing(tag: u8) -> Option<Pack> {
        match tag {
            b'p' => Some(Pack::Bucket(3)),
            b'q' => Some(Pack::Chunks { prefix: 2, mean: 3 }),
            _ => None,
        }
    }

    /// One batch of puts of `rows` into a packed store.
    fn put_all(store: &mut MemStore, rows: &[(Vec<u8>, Vec<u8>)], packing: Packing) {
        let mut w = Writes::packed(packing);
        for (k, v) in rows {
            w.put(k.clone(), v.clone());
        }
        let physical = pack_writes(&*store, w, packing).unwrap();
        store.commit(physical);
    }

    /// Chunks are a pure function of the rows: 2,000 rows written one per batch (the live
    /// path) and all in one batch (a rebuild) end in the same physical bytes; the largest
    /// chunk stays far below the row count; one more row rewrites one chunk.
    #[test]
    fn chunks_are_a_function_of_the_rows_and_stay_small() {
        fn packing(tag: u8) -> Option<Pack> {
            (tag == b'c').then_some(Pack::Chunks {
                prefix: 3,
                mean: 64,
            })
        }
        let rows: Vec<(Vec<u8>, Vec<u8>)> = (0..2000u32)
            .map(|i| (format!("cuu{i:06}").into_bytes(), vec![1]))
            .collect();
        let mut live = MemStore::new();
        for r in &rows {
            put_all(&mut live, std::slice::from_ref(r), packing);
        }
        let mut rebuilt = MemStore::new();
        put_all(&mut rebuilt, &rows, packing);
        assert_eq!(live.dump(), rebuilt.dump());
        let view = PackedView::new(&live, packing);
        assert_eq!(view.scan_prefix(b"cuu").count(), 2000);
        let largest = live
            .dump()
            .iter()
            .map(|(k, v)| decode_bucket(k, v).unwrap().len())
            .max()
            .unwrap();
        assert!(
            (2..400).contains(&largest) && live.len() > 10,
            "{largest} rows in the largest of {} chunks",
            live.len()
        );
        let mut w = Writes::packed(packing);
        w.put(b"cuu001000x".to_vec(), vec![2]);
        let physical = pack_writes(&live, w, packing).unwrap();
        assert_eq!(physical.len(), 1);
        // Two rows far apart in one batch (a row moving in a time index): the chunks around
        // each, not the ~30 chunks between them.
        let mut w = Writes::packed(packing);
        w.delete(b"cuu000010".to_vec());
        w.put(b"cuu001990x".to_vec(), vec![3]);
        let physical = pack_writes(&live, w, packing).unwrap();
        assert!((2..=4).contains(&physical.len()), "{}", physical.len());
        live.commit(physical);
        let view = PackedView::new(&live, packing);
        assert_eq!(view.get(b"cuu000010").unwrap(), None);
        assert_eq!(view.get(b"cuu001990x").unwrap(), Some(vec![3]));
        let mut rebuilt = rows.clone();
        rebuilt.remove(10);
        rebuilt.push((b"cuu001990x".to_vec(), vec![3]));
        let mut once = MemStore::new();
        put_all(&mut once, &rebuilt, packing);
        assert_eq!(live.dump(), once.dump());
    }

    fn logical_and_packed(keys: &[(Vec<u8>, u8)]) -> (MemStore, MemStore) {
        let mut plain = MemStore::new();
        let mut packed = MemStore::new();
        // Two batches, the second overwriting and deleting some rows of the first.
        for (round, chunk) in keys.chunks(keys.len().div_ceil(2).max(1)).enumerate() {
            let mut w = Writes::default();
            for (k, v) in chunk {
                if round == 1 && v % 3 == 0 {
                    w.delete(k.clone());
                } else {
                    w.put(k.clone(), vec![*v]);
                }
            }
            plain.commit(w.clone());
            let physical = pack_writes(&packed, w, test_packing).unwrap();
            packed.commit(physical);
        }
        (plain, packed)
    }

    /// A bucket bigger than the codec's ordinary 1 MiB decode limit (a busy unit's day: the
    /// SIGKILL soak put 3,000+ dossier records in one) is still read back, row by row and by
    /// range, and still grows.
    #[test]
    fn a_bucket_beyond_the_ordinary_decode_limit_reads_back() {
        let mut packed = MemStore::new();
        let row = |i: u32| {
            (
                format!("pqq{i:05}").into_bytes(),
                vec![(i % 251) as u8; 400],
            )
        };
        for batch in 0..4u32 {
            let mut w = Writes::packed(test_packing);
            for i in batch * 1000..(batch + 1) * 1000 {
                let (k, v) = row(i);
                w.put(k, v);
            }
            let physical = pack_writes(&packed, w, test_packing).unwrap();
            packed.commit(physical);
        }
        let bucket = packed.get(b"pqq").unwrap().unwrap();
        assert!(bucket.len() > codec::DECODE_LIMIT, "{}", bucket.len());
        let view = PackedView::new(&packed, test_packing);
        for i in [0, 1999, 3999] {
            let (k, v) = row(i);
            assert_eq!(view.get(&k).unwrap(), Some(v));
        }
        assert_eq!(view.scan_prefix(b"pqq").count(), 4000);
    }

    proptest::proptest! {
        /// The logical view of a packed keyspace answers every get and range exactly like the
        /// same rows stored one per key.
        #[test]
        fn packed_view_equals_unpacked(
            keys in proptest::collection::vec(
                (proptest::collection::vec(proptest::sample::select(vec![b'a', b'p', b'q', 0u8, 0xff]), 4..7), 0u8..9),
                0..60,
            ),
            bounds in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(vec![b'a', b'p', b'q', 0u8, 0xff]), 0..6),
                2,
            ),
            reverse in proptest::bool::ANY,
        ) {
            let (plain, packed) = logical_and_packed(&keys);
            let view = PackedView::new(&packed, test_packing);
            for (k, _) in &keys {
                proptest::prop_assert_eq!(view.get(k).unwrap(), plain.get(k).unwrap());
            }
            let (lo, hi) = (&bounds[0], &bounds[1]);
            for end in [None, Some(hi.as_slice())] {
                let a: Vec<_> = view.range(lo, end, reverse).map(|r| r.unwrap()).collect();
                let b: Vec<_> = plain.range(lo, end, reverse).map(|r| r.unwrap()).collect();
                proptest::prop_assert_eq!(a, b);
            }
            let a: Vec<_> = view.scan_prefix(lo).map(|r| r.unwrap()).collect();
            let b: Vec<_> = plain.scan_prefix(lo).map(|r| r.unwrap()).collect();
            proptest::prop_assert_eq!(a, b);
            // Packed: at most one physical key per 3-byte bucket of `p` rows.
            let buckets: std::collections::BTreeSet<_> = plain
                .dump()
                .into_iter()
                .filter(|(k, _)| k[0] == b'p')
                .map(|(k, _)| k[..3].to_vec())
                .collect();
            let physical_p = packed.dump().into_iter().filter(|(k, _)| k[0] == b'p').count();
            proptest::prop_assert_eq!(physical_p, buckets.len());
            // Chunked: the same rows written in one batch give the same bytes.
            let mut once = MemStore::new();
            put_all(&mut once, &plain.dump(), test_packing);
            proptest::prop_assert_eq!(once.dump(), packed.dump());
        }
    }
}
