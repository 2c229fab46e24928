//! The only module that talks to sled: trees, atomic batches, durable flush.
//!
//! Why a wrapper: sled 0.34 is the embedded store today, but its durability and API have traps
//! (see `shared/DEPENDENCIES.md`). Keeping it behind [`Store`] / [`KvTree`] / [`Batch`] means the
//! log and the projections never depend on sled types, and the durability rule lives in one
//! place: [`Store::flush_durable`] = sled `flush` (which on Linux ends in `sync_file_range`)
//! followed by `fdatasync` of sled's data file, so an acknowledged write also survives a power
//! cut, not only a process crash.
//!
//! It also hosts the fault-injection seam ([`FaultInjector`]): tests make a write, flush or
//! fdatasync fail with a chosen errno (EIO, ENOSPC) to exercise the log's fail-stop path.

use std::fs::File;
use std::io;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use thiserror::Error;

/// Name of sled 0.34's data file inside the database directory: the file `fdatasync`ed by
/// [`Store::flush_durable`].
pub const SLED_DATA_FILE: &str = "db";

/// sled page cache size (bytes). sled's default is 1 GiB, too much for a commune desk's box;
/// 256 MiB keeps the hot tail of the log and the indexes in memory.
pub const CACHE_CAPACITY_BYTES: u64 = 256 * 1024 * 1024;

/// Errors from the store. sled's error type is turned into text so no sled type leaks out.
#[derive(Debug, Error)]
pub enum StorageError {
    #[error("sled: {0}")]
    Sled(String),
    #[error("io error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("injected fault at {point:?}: {source}")]
    Injected {
        point: FaultPoint,
        #[source]
        source: io::Error,
    },
    #[error("database at {0} is already open in this process (share the Store/EventLog clone)")]
    AlreadyOpen(PathBuf),
}

impl From<sled::Error> for StorageError {
    fn from(e: sled::Error) -> Self {
        StorageError::Sled(e.to_string())
    }
}

/// Where a fault can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// Any write: `KvTree::insert/remove/apply` and `Store::commit`.
    Write,
    /// sled's own flush.
    Flush,
    /// The `fdatasync` of the data file after the flush.
    Fsync,
}

/// A planned fault: after `skip` successful operations at `point`, fail with `errno`
/// (`libc`-style raw OS error, e.g. 5 = EIO, 28 = ENOSPC); once, or every time after if
/// `sticky`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultPlan {
    pub point: FaultPoint,
    pub skip: u64,
    pub errno: i32,
    pub sticky: bool,
}

/// EIO, for fault plans.
pub const EIO: i32 = 5;
/// ENOSPC, for fault plans.
pub const ENOSPC: i32 = 28;

/// Runtime fault-injection hook shared by every clone of a [`Store`]. Disarmed it costs one
/// relaxed atomic load per operation.
#[derive(Debug, Default)]
pub struct FaultInjector {
    armed: AtomicBool,
    plan: Mutex<Option<FaultPlan>>,
    seen: AtomicU64,
}

impl FaultInjector {
    /// Arms a fault plan (replacing any previous one).
    pub fn arm(&self, plan: FaultPlan) {
        if let Ok(mut p) = self.plan.lock() {
            *p = Some(plan);
            self.seen.store(0, Ordering::SeqCst);
            self.armed.store(true, Ordering::SeqCst);
        }
    }

    /// Removes any armed fault.
    pub fn disarm(&self) {
        if let Ok(mut p) = self.plan.lock() {
            *p = None;
            self.armed.store(false, Ordering::SeqCst);
        }
    }

    fn check(&self, point: FaultPoint) -> Result<(), StorageError> {
        if !self.armed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Ok(mut guard) = self.plan.lock() else {
            return Ok(());
        };
        let Some(plan) = *guard else {
            return Ok(());
        };
        if plan.point != point {
            return Ok(());
        }
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        if n < plan.skip {
            return Ok(());
        }
        if !plan.sticky {
            *guard = None;
            self.armed.store(false, Ordering::SeqCst);
        }
        Err(StorageError::Injected {
            point,
            source: io::Error::from_raw_os_error(plan.errno),
        })
    }
}

struct StoreInner {
    db: sled::Db,
    dir: PathBuf,
    data_file: File,
    faults: Arc<FaultInjector>,
}

/// An open database directory. Cheap to clone; every clone shares one sled `Db` (sled allows
/// one open per path per process).
#[derive(Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StorageError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_CAPACITY_BYTES)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io) if io.kind() == io::ErrorKind::WouldBlock => {
                    StorageError::AlreadyOpen(dir.to_path_buf())
                }
                other => other.into(),
            })?;
        let path = dir.join(SLED_DATA_FILE);
        let data_file = File::open(&path).map_err(|source| StorageError::Io { path, source })?;
        Ok(Store {
            inner: Arc::new(StoreInner {
                db,
                dir: dir.to_path_buf(),
                data_file,
                faults: Arc::new(FaultInjector::default()),
            }),
        })
    }

    /// The database directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Opens (creating if needed) a named tree.
    pub fn tree(&self, name: &str) -> Result<KvTree, StorageError> {
        let tree = self.inner.db.open_tree(name)?;
        Ok(KvTree {
            tree,
            faults: self.inner.faults.clone(),
        })
    }

    /// The fault-injection hook (tests arm it; production never does).
    pub fn faults(&self) -> &FaultInjector {
        &self.inner.faults
    }

    /// Applies batches to several trees atomically (one sled transaction): after a crash either
    /// all of them are visible or none. Not durable until [`Store::flush_durable`].
    pub fn commit(&self, writes: &[(&KvTree, &Batch)]) -> Result<(), StorageError> {
        self.inner.faults.check(FaultPoint::Write)?;
        let trees: Vec<&sled::Tree> = writes.iter().map(|(t, _)| &t.tree).collect();
        let batches: Vec<sled::Batch> = writes.iter().map(|(_, b)| b.to_sled()).collect();
        // The closure may re-run on conflict: it only applies prepared batches, no side effects.
        let result: Result<(), TransactionError<()>> = trees.as_slice().transaction(|views| {
            for (view, batch) in views.iter().zip(&batches) {
                view.apply_batch(batch)?;
            }
            Ok::<(), ConflictableTransactionError<()>>(())
        });
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Storage(e)) => Err(e.into()),
            Err(TransactionError::Abort(())) => {
                Err(StorageError::Sled("transaction aborted".into()))
            }
        }
    }

    /// Makes every write so far durable: sled `flush` (writes its buffers, `sync_file_range`),
    /// then `fdatasync` of the data file so the device cache and file size are on stable storage.
    pub fn flush_durable(&self) -> Result<(), StorageError> {
        self.inner.faults.check(FaultPoint::Flush)?;
        self.inner.db.flush()?;
        self.inner.faults.check(FaultPoint::Fsync)?;
        self.inner
            .data_file
            .sync_data()
            .map_err(|source| StorageError::Io {
                path: self.inner.dir.join(SLED_DATA_FILE),
                source,
            })
    }

    /// Bytes used on disk by the database (sled's estimate).
    pub fn size_on_disk(&self) -> Result<u64, StorageError> {
        Ok(self.inner.db.size_on_disk()?)
    }
}

/// A set of inserts and removals applied atomically by [`KvTree::apply`] or [`Store::commit`].
#[derive(Debug, Default, Clone)]
pub struct Batch {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }
    pub fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push((key.into(), Some(value.into())));
    }
    pub fn remove(&mut self, key: impl Into<Vec<u8>>) {
        self.ops.push((key.into(), None));
    }
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    fn to_sled(&self) -> sled::Batch {
        let mut b = sled::Batch::default();
        for (k, v) in &self.ops {
            match v {
                Some(v) => b.insert(k.as_slice(), v.as_slice()),
                None => b.remove(k.as_slice()),
            }
        }
        b
    }
}

/// A key/value pair read from a tree.
pub type KvPair = (Vec<u8>, Vec<u8>);

/// One named, ordered key space (keys compare as bytes).
#[derive(Clone)]
pub struct KvTree {
    tree: sled::Tree,
    faults: Arc<FaultInjector>,
}

fn pair(r: sled::Result<(sled::IVec, sled::IVec)>) -> Result<KvPair, StorageError> {
    let (k, v) = r?;
    Ok((k.to_vec(), v.to_vec()))
}

impl KvTree {
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    /// Inserts one key (atomic on its own, not durable until `flush_durable`).
    pub fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Vec<u8>>,
    ) -> Result<(), StorageError> {
        self.faults.check(FaultPoint::Write)?;
        self.tree.insert(key.as_ref(), value.into())?;
        Ok(())
    }

    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<(), StorageError> {
        self.faults.check(FaultPoint::Write)?;
        self.tree.remove(key)?;
        Ok(())
    }

    /// Applies a batch atomically (a projection writes its rows and its checkpoint this way).
    pub fn apply(&self, batch: &Batch) -> Result<(), StorageError> {
        self.faults.check(FaultPoint::Write)?;
        self.tree.apply_batch(batch.to_sled())?;
        Ok(())
    }

    pub fn scan_prefix(
        &self,
        prefix: impl AsRef<[u8]>,
    ) -> impl DoubleEndedIterator<Item = Result<KvPair, StorageError>> + Send {
        self.tree.scan_prefix(prefix).map(pair)
    }

    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = Result<KvPair, StorageError>> + Send {
        self.tree.range(range).map(pair)
    }

    /// All pairs with key >= `from`, in order.
    pub fn iter_from(
        &self,
        from: impl AsRef<[u8]>,
    ) -> impl DoubleEndedIterator<Item = Result<KvPair, StorageError>> + Send {
        self.tree.range(from.as_ref().to_vec()..).map(pair)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Result<KvPair, StorageError>> + Send {
        self.tree.iter().map(pair)
    }

    /// The pair with the greatest key strictly below `key` (a point lookup, cheaper in sled than
    /// a reverse scan).
    pub fn get_lt(&self, key: impl AsRef<[u8]>) -> Result<Option<KvPair>, StorageError> {
        Ok(self
            .tree
            .get_lt(key)?
            .map(|(k, v)| (k.to_vec(), v.to_vec())))
    }

    pub fn last(&self) -> Result<Option<KvPair>, StorageError> {
        Ok(self.tree.last()?.map(|(k, v)| (k.to_vec(), v.to_vec())))
    }

    /// Number of keys (a full scan in sled: O(n)).
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_tree_commit_and_faults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let a = store.tree("a").expect("tree");
        let b = store.tree("b").expect("tree");
        let mut ba = Batch::new();
        ba.insert(b"k1".to_vec(), b"v1".to_vec());
        let mut bb = Batch::new();
        bb.insert(b"k2".to_vec(), b"v2".to_vec());
        store.commit(&[(&a, &ba), (&b, &bb)]).expect("commit");
        store.flush_durable().expect("flush");
        assert_eq!(a.get(b"k1").expect("get"), Some(b"v1".to_vec()));
        assert_eq!(b.last().expect("last").map(|p| p.0), Some(b"k2".to_vec()));

        store.faults().arm(FaultPlan {
            point: FaultPoint::Fsync,
            skip: 1,
            errno: EIO,
            sticky: false,
        });
        store.flush_durable().expect("first passes");
        let err = store.flush_durable().expect_err("second fails");
        assert!(matches!(
            err,
            StorageError::Injected {
                point: FaultPoint::Fsync,
                ..
            }
        ));
        store.flush_durable().expect("one-shot fault is gone");

        store.faults().arm(FaultPlan {
            point: FaultPoint::Write,
            skip: 0,
            errno: ENOSPC,
            sticky: true,
        });
        assert!(a.insert(b"x", b"y".to_vec()).is_err());
        assert!(store.commit(&[(&a, &ba)]).is_err());
        store.faults().disarm();
        a.insert(b"x", b"y".to_vec()).expect("insert");
    }

    #[test]
    fn second_open_in_process_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _store = Store::open(dir.path()).expect("open");
        match Store::open(dir.path()) {
            Err(StorageError::AlreadyOpen(_)) | Err(StorageError::Sled(_)) => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
}
