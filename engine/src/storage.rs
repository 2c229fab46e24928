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

/// How long [`Store::open`] waits for a locked database directory to be released.
pub const OPEN_LOCK_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

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
    /// Blob files already made durable (see [`Store::flush_durable`]).
    synced_blobs: Mutex<std::collections::HashSet<std::ffi::OsString>>,
}

/// sled's directory for values (really: serialized pages) too large for its log segments.
pub const SLED_BLOBS_DIR: &str = "blobs";

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
    ///
    /// If the directory is locked (another `Db` on it), retries for up to
    /// [`OPEN_LOCK_RETRY`]: right after the last handle of a database is dropped, sled's
    /// background I/O jobs can still hold the file (and its lock) for a moment, so an immediate
    /// reopen in the same process would fail spuriously.
    pub fn open(dir: &Path) -> Result<Store, StorageError> {
        let deadline = std::time::Instant::now() + OPEN_LOCK_RETRY;
        let db = loop {
            match sled::Config::new()
                .path(dir)
                .cache_capacity(CACHE_CAPACITY_BYTES)
                .open()
            {
                Ok(db) => break db,
                Err(sled::Error::Io(ref io)) if io.kind() == io::ErrorKind::WouldBlock => {
                    if std::time::Instant::now() >= deadline {
                        return Err(StorageError::AlreadyOpen(dir.to_path_buf()));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(other) => return Err(other.into()),
            }
        };
        let path = dir.join(SLED_DATA_FILE);
        let data_file = File::open(&path).map_err(|source| StorageError::Io { path, source })?;
        // The data file's directory entry must be durable too (it may have just been created).
        sync_dir(dir)?;
        Ok(Store {
            inner: Arc::new(StoreInner {
                db,
                dir: dir.to_path_buf(),
                data_file,
                faults: Arc::new(FaultInjector::default()),
                synced_blobs: Mutex::new(Default::default()),
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
    ///
    /// sled writes a page too large for a log segment (> 1/4 of its 512 KiB segments, e.g. a
    /// leaf holding many large events) to its own file under `blobs/`, with a plain `write` and
    /// no sync; so new blob files (and the `blobs/` directory entry) are fsynced here as well.
    /// With small events there are none, and this costs one `readdir`.
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
            })?;
        self.sync_new_blobs()
    }

    fn sync_new_blobs(&self) -> Result<(), StorageError> {
        let blobs = self.inner.dir.join(SLED_BLOBS_DIR);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StorageError::Io { path, source }
        };
        let entries = match std::fs::read_dir(&blobs) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(&blobs)(e)),
        };
        let Ok(mut synced) = self.inner.synced_blobs.lock() else {
            return Err(StorageError::Sled("blob sync state poisoned".into()));
        };
        let mut present = std::collections::HashSet::new();
        let mut new_files = false;
        for entry in entries {
            let entry = entry.map_err(io(&blobs))?;
            let name = entry.file_name();
            if !synced.contains(&name) {
                let path = entry.path();
                match File::open(&path) {
                    Ok(f) => f.sync_data().map_err(io(&path))?,
                    // sled may garbage-collect a blob between readdir and open.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io(&path)(e)),
                }
                new_files = true;
            }
            present.insert(name);
        }
        if new_files {
            sync_dir(&blobs)?;
        }
        *synced = present;
        Ok(())
    }

    /// Bytes used on disk by the database (sled's estimate).
    pub fn size_on_disk(&self) -> Result<u64, StorageError> {
        Ok(self.inner.db.size_on_disk()?)
    }
}

/// fsyncs a directory so entries created in it are durable.
fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StorageError::Io {
            path: dir.to_path_buf(),
            source,
        })
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
        // sled copies keys and values into its own IVecs either way.
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

    /// Applies a batch atomically (a projection writes its rows and its checkpoint this way):
    /// after a crash either every operation of the batch is there or none. Not durable until
    /// [`Store::flush_durable`].
    pub fn apply(&self, batch: Batch) -> Result<(), StorageError> {
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
    fn projection_style_batch_and_scans() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let rm = store.tree("rm_dossiers").expect("tree");
        let mut b = Batch::new();
        for i in 0u8..5 {
            b.insert([b'd', i], vec![i]);
        }
        b.insert(&b"checkpoint"[..], 5u64.to_be_bytes());
        assert_eq!(b.len(), 6);
        rm.apply(b).expect("apply");
        let mut b = Batch::new();
        b.remove([b'd', 0]);
        rm.apply(b).expect("apply");
        assert_eq!(rm.len(), 5);
        let keys: Vec<Vec<u8>> = rm.scan_prefix(b"d").map(|p| p.expect("pair").0).collect();
        assert_eq!(
            keys,
            vec![vec![b'd', 1], vec![b'd', 2], vec![b'd', 3], vec![b'd', 4]]
        );
        assert_eq!(rm.range([b'd', 2]..[b'd', 4]).count(), 2);
        assert_eq!(rm.iter_from([b'd', 3]).count(), 2); // 'checkpoint' sorts before 'd'
        assert_eq!(
            rm.get_lt([b'd', 3]).expect("get_lt").map(|p| p.0),
            Some(vec![b'd', 2])
        );
        assert_eq!(rm.last().expect("last").map(|p| p.0), Some(vec![b'd', 4]));
        rm.remove(b"checkpoint").expect("remove");
        assert_eq!(rm.get(b"checkpoint").expect("get"), None);
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

/// Cost of the 4-tree transaction against plain per-tree batches, for BENCHMARKS.md:
/// `cargo test --release -p motcua-engine -- --ignored --nocapture transaction_cost`.
#[cfg(test)]
mod cost {
    use super::*;
    use std::time::Instant;

    #[test]
    #[ignore]
    fn transaction_cost() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let trees: Vec<KvTree> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| store.tree(n).expect("tree"))
            .collect();
        let make = |round: u64, t: usize| {
            let mut b = Batch::new();
            for i in 0..32u64 {
                let k = (round * 32 + i).to_be_bytes().to_vec();
                let v = if t == 0 { vec![7u8; 330] } else { vec![1u8; 8] };
                b.insert(k, v);
            }
            b
        };
        let rounds = 2000u64;
        let t0 = Instant::now();
        for r in 0..rounds {
            let bs: Vec<Batch> = (0..4).map(|t| make(r, t)).collect();
            store
                .commit(&[
                    (&trees[0], &bs[0]),
                    (&trees[1], &bs[1]),
                    (&trees[2], &bs[2]),
                    (&trees[3], &bs[3]),
                ])
                .expect("commit");
        }
        let tx = t0.elapsed();
        let t0 = Instant::now();
        for r in rounds..2 * rounds {
            for (t, tree) in trees.iter().enumerate() {
                tree.apply(make(r, t)).expect("apply");
            }
        }
        let plain = t0.elapsed();
        println!(
            "32 events x 4 trees per round: transaction {:.3} ms/round, 4 x apply_batch {:.3} ms/round",
            tx.as_secs_f64() * 1000.0 / rounds as f64,
            plain.as_secs_f64() * 1000.0 / rounds as f64
        );
    }
}
