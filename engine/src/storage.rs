//! The only module that talks to sled: trees, atomic batches, durable flush.
//!
//! Why a wrapper: sled 0.34 is the embedded store today, but its durability and API have traps
//! (see `docs/dependencies.md`). Keeping it behind [`Store`] / [`KvTree`] / [`Batch`] means the
//! log and the projections never depend on sled types, and the durability rule lives in one
//! place: [`Store::flush_durable`] = sled `flush` (which on Linux ends in `sync_file_range`)
//! followed by `fdatasync` of sled's data file, so an acknowledged write also survives a power
//! cut, not only a process crash.
//!
//! It also hosts the fault-injection seams (`faults`, behind the `fault-injection` feature):
//! tests make a write, flush or fdatasync fail with a chosen errno (EIO, ENOSPC) to exercise the
//! log's fail-stop path.
//!
//! And it guards the data directory itself: [`Store::open`] classifies a directory before sled
//! touches it (a file, unreadable, foreign files, sled files missing) and turns sled's errors and
//! panics on damaged files into [`StorageError::DataDir`]; the [`DirMarker`] file records that a
//! directory holds a motcua log, so a database that sled opens as empty (it does so for a
//! truncated or garbage `db`) is recognised as damaged instead of being silently started afresh.

use std::fs::File;
use std::io;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use thiserror::Error;

#[cfg(any(test, feature = "fault-injection"))]
mod faults;
#[cfg(any(test, feature = "fault-injection"))]
pub use faults::{FaultInjector, FaultPlan, FaultPoint, EIO, ENOSPC};

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
    #[cfg(any(test, feature = "fault-injection"))]
    #[error("injected fault at {point:?}: {source}")]
    Injected {
        point: FaultPoint,
        #[source]
        source: io::Error,
    },
    #[error("database at {0} is locked: another motcua process has it open (or another handle in this process: share the Store/EventLog clone)")]
    AlreadyOpen(PathBuf),
    #[error("data directory {path}: {problem}")]
    DataDir {
        path: PathBuf,
        problem: DataDirProblem,
    },
}

impl StorageError {
    /// The data-directory problem, if this error is one (as opposed to a transient I/O error).
    pub fn data_dir_problem(&self) -> Option<&DataDirProblem> {
        match self {
            StorageError::DataDir { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// What is wrong with a data directory: not transient, retrying the same open will not help.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DataDirProblem {
    /// The path exists but is not a directory.
    #[error("not a directory")]
    NotADirectory,
    /// The directory or one of its files cannot be read (permissions, I/O).
    #[error("cannot be read: {0}")]
    Unreadable(String),
    /// The directory holds something other than a motcua log: refused, left untouched.
    #[error("not a motcua data directory: {0}")]
    Foreign(String),
    /// The directory held a motcua log (or a sled database) that is damaged.
    #[error("damaged: {0}")]
    Damaged(String),
}

/// Coarse classes of [`DataDirProblem`], for callers choosing an exit message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataDirKind {
    NotADirectory,
    Unreadable,
    Foreign,
    Damaged,
}

impl DataDirProblem {
    pub fn kind(&self) -> DataDirKind {
        match self {
            DataDirProblem::NotADirectory => DataDirKind::NotADirectory,
            DataDirProblem::Unreadable(_) => DataDirKind::Unreadable,
            DataDirProblem::Foreign(_) => DataDirKind::Foreign,
            DataDirProblem::Damaged(_) => DataDirKind::Damaged,
        }
    }
}

fn data_dir_error(dir: &Path, problem: DataDirProblem) -> StorageError {
    StorageError::DataDir {
        path: dir.to_path_buf(),
        problem,
    }
}

impl From<sled::Error> for StorageError {
    fn from(e: sled::Error) -> Self {
        StorageError::Sled(e.to_string())
    }
}

/// The fault-injection seam at one store operation: with the `fault-injection` feature (and in
/// the engine's own tests) the store's [`FaultInjector`] may fail it; in a build without the
/// feature (production) the seam is nothing at all.
macro_rules! fault_seam {
    ($faults:expr, $point:ident) => {
        #[cfg(any(test, feature = "fault-injection"))]
        $faults.check(FaultPoint::$point)?;
    };
}

struct StoreInner {
    db: sled::Db,
    dir: PathBuf,
    data_file: File,
    #[cfg(any(test, feature = "fault-injection"))]
    faults: Arc<FaultInjector>,
    /// Blob files already made durable (see [`Store::flush_durable`]).
    synced_blobs: Mutex<std::collections::HashSet<std::ffi::OsString>>,
}

/// sled's directory for values (really: serialized pages) too large for its log segments.
pub const SLED_BLOBS_DIR: &str = "blobs";

/// sled's config file (segment size, version): present in every directory sled has opened.
pub const SLED_CONF_FILE: &str = "conf";

/// The marker file saying "this directory holds a motcua log" (see [`DirMarker`]).
pub const DIR_MARKER_FILE: &str = "MOTCUA_DIR";

/// Present while an import (`motcua restore`) is writing the directory: the import writes plain
/// batches, not one transaction per event batch, so until it has finished and made everything
/// durable the directory is not a log, and `EventLog::open` refuses it. Named after
/// [`DIR_MARKER_FILE`] so the directory checks count it as ours.
pub const IMPORT_MARKER_FILE: &str = "MOTCUA_DIR.importing";

/// sled's background flush period of a store in service (its default).
const BACKGROUND_FLUSH_MS: u64 = 500;

/// Entries a file system may put in any directory (a mount point's `lost+found`): never foreign.
const IGNORED_ENTRIES: &[&str] = &["lost+found"];

/// Contents of [`DIR_MARKER_FILE`], a small text file next to sled's files.
///
/// Why it exists: sled 0.34.7 opens a truncated, zeroed or garbage `db` as an *empty* database
/// (measured: a `db` cut to 80 % of its length opens with no trees), and an empty database looks
/// exactly like a new one. The marker is written (durably) once the log's metadata is, so "the
/// marker is there but the database is empty" means damage, not a fresh directory. Every
/// [`crate::log::limits::MARKER_INTERVAL`] and at each clean close it also records the
/// acknowledged head, a lower bound any later open must reach: a database that comes back
/// shorter (sled opens a `db` damaged in its middle as a consistent prefix), or with another
/// event at that seq, was damaged or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirMarker {
    /// The log's record format version when the marker was written.
    pub format_version: u8,
    /// (seq, hash) of an acknowledged (durable) head, recorded every few seconds and at each
    /// clean close: a lower bound the log must reach at every later open.
    pub acked_head: Option<(u64, [u8; 32])>,
}

const MARKER_TITLE: &str =
    "motcua data directory (do not delete: it tells a damaged log from a new one)";

impl DirMarker {
    fn to_text(self) -> String {
        let mut s = format!("{MARKER_TITLE}\nformat_version={}\n", self.format_version);
        if let Some((seq, hash)) = self.acked_head {
            s.push_str(&format!(
                "acked_head_seq={seq}\nacked_head_hash={}\n",
                hex::encode(hash)
            ));
        }
        s
    }

    fn parse(text: &str) -> Result<DirMarker, String> {
        let mut lines = text.lines();
        if lines.next() != Some(MARKER_TITLE) {
            return Err("unexpected first line".into());
        }
        let mut format_version = None;
        let mut seq = None;
        let mut hash = None;
        for line in lines {
            let Some((k, v)) = line.split_once('=') else {
                return Err(format!("line without '=': {line:?}"));
            };
            match k {
                "format_version" => format_version = v.parse::<u8>().ok(),
                "acked_head_seq" => seq = Some(v.parse::<u64>().map_err(|e| format!("{k}: {e}"))?),
                "acked_head_hash" => {
                    hash = Some(
                        crate::hex_digits::parse_hex::<32>(v)
                            .ok_or_else(|| format!("{k}: not 64 hex digits"))?,
                    );
                }
                // Unknown keys come from a newer build: ignored, the format version rules.
                _ => {}
            }
        }
        let format_version = format_version.ok_or("no format_version")?;
        let acked_head = match (seq, hash) {
            (Some(s), Some(h)) => Some((s, h)),
            (None, None) => None,
            _ => return Err("acked_head_seq without acked_head_hash or the reverse".into()),
        };
        Ok(DirMarker {
            format_version,
            acked_head,
        })
    }
}

/// Looks at a data directory before sled opens it. Returns whether it holds the marker.
///
/// Refuses, without writing anything: a path that is not a directory, an unreadable one, a
/// non-empty directory without sled's files (foreign: sled would create its files among
/// someone else's), and sled files that cannot be a whole database (`conf` without `db`, a
/// zero-length `db` in a marked directory): sled would otherwise silently create a new, empty
/// `db`.
fn precheck_dir(dir: &Path) -> Result<bool, StorageError> {
    let err = |p| data_dir_error(dir, p);
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(err(DataDirProblem::Unreadable(e.to_string()))),
        Ok(m) if !m.is_dir() => return Err(err(DataDirProblem::NotADirectory)),
        Ok(_) => {}
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| err(DataDirProblem::Unreadable(e.to_string())))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| err(DataDirProblem::Unreadable(e.to_string())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !IGNORED_ENTRIES.contains(&name.as_str()) {
            names.push(name);
        }
    }
    names.sort();
    let has = |n: &str| names.iter().any(|x| x == n);
    let marked = has(DIR_MARKER_FILE);
    let is_sled = |n: &str| {
        n == SLED_DATA_FILE || n == SLED_CONF_FILE || n == SLED_BLOBS_DIR || n.starts_with("snap.")
    };
    let is_ours = |n: &str| is_sled(n) || n.starts_with(DIR_MARKER_FILE);
    let foreign: Vec<&String> = names.iter().filter(|n| !is_ours(n)).collect();
    let (has_db, has_conf) = (has(SLED_DATA_FILE), has(SLED_CONF_FILE));
    if !has_db && !has_conf {
        if !foreign.is_empty() {
            let shown: Vec<&str> = foreign.iter().take(5).map(|s| s.as_str()).collect();
            let more = if foreign.len() > 5 {
                format!(" and {} more", foreign.len() - 5)
            } else {
                String::new()
            };
            return Err(err(DataDirProblem::Foreign(format!(
                "it holds other files ({}{more}) and no database; refusing to create one among them",
                shown.join(", ")
            ))));
        }
        if marked {
            return Err(err(DataDirProblem::Damaged(
                "the database files `db` and `conf` are missing (the motcua marker is there)"
                    .into(),
            )));
        }
        let leftovers: Vec<&String> = names
            .iter()
            .filter(|n| n.as_str() != SLED_BLOBS_DIR || !dir_is_empty(&dir.join(n)))
            .collect();
        if !leftovers.is_empty() {
            return Err(err(DataDirProblem::Damaged(format!(
                "sled files ({}) without the database files `db` and `conf`",
                names.join(", ")
            ))));
        }
        // Empty, or only the empty `blobs/` of a first open that died at once: a new database.
        return Ok(false);
    }
    if has_conf && !has_db {
        return Err(err(DataDirProblem::Damaged(
            "sled's data file `db` is missing (its config `conf` is there)".into(),
        )));
    }
    let db = dir.join(SLED_DATA_FILE);
    let meta = std::fs::metadata(&db)
        .map_err(|e| err(DataDirProblem::Unreadable(format!("{}: {e}", db.display()))))?;
    if !meta.is_file() {
        return Err(err(DataDirProblem::Damaged(
            "`db` is not a regular file".into(),
        )));
    }
    if meta.len() == 0 && marked {
        return Err(err(DataDirProblem::Damaged(
            "sled's data file `db` is empty (truncated)".into(),
        )));
    }
    // Other files next to a whole sled database (a README, a backup file) are left alone.
    Ok(marked)
}

fn dir_is_empty(path: &Path) -> bool {
    std::fs::read_dir(path)
        .map(|mut it| it.next().is_none())
        .unwrap_or(false)
}

/// The text of a caught panic payload (sled panics with `String`s and `&str`s).
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "unknown failure".into()
    }
}

/// How many opens are inside [`catch_sled_panic`] right now, process-wide (see
/// [`opening_data_dir`]).
static OPENS_IN_PROGRESS: AtomicU64 = AtomicU64::new(0);

/// True while some thread is opening a data directory. A binary's panic hook can use it to
/// keep the panic message of a damaged database quiet: that panic is caught and returned as
/// [`DataDirProblem::Damaged`]. The engine itself never changes the process-global hook.
pub fn opening_data_dir() -> bool {
    OPENS_IN_PROGRESS.load(Ordering::SeqCst) > 0
}

/// Runs `f` (sled's open and the first reads of a database), turning a panic into
/// [`DataDirProblem::Damaged`]: sled 0.34.7 panics on some damaged files (measured: bytes
/// flipped in the middle of `db` -> "tried to serialize Uninitialized" in snapshot recovery;
/// also sled #1145, #1155, #1387).
pub fn catch_sled_panic<T, E: From<StorageError>>(
    dir: &Path,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            OPENS_IN_PROGRESS.fetch_sub(1, Ordering::SeqCst);
        }
    }
    OPENS_IN_PROGRESS.fetch_add(1, Ordering::SeqCst);
    let _guard = Guard;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(data_dir_error(
            dir,
            DataDirProblem::Damaged(format!(
                "the database could not be recovered (sled failed: {})",
                panic_text(payload.as_ref())
            )),
        )
        .into()),
    }
}

/// sled 0.34.7 reports a held lock as `ErrorKind::Other` with the `WouldBlock` error in its text
/// ("could not acquire lock on ..."), not as `WouldBlock` itself.
fn is_lock_error(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock || e.to_string().contains("could not acquire lock")
}

/// Classifies an error of sled's open: damage (corruption, unreadable config) or transient.
fn classify_open_error(dir: &Path, e: sled::Error) -> StorageError {
    match e {
        sled::Error::Corruption { .. } => data_dir_error(
            dir,
            DataDirProblem::Damaged(format!("sled found corrupt data: {e}")),
        ),
        // Raised for a config file that is not sled's text format, or from another version.
        sled::Error::Unsupported(msg) => data_dir_error(
            dir,
            DataDirProblem::Damaged(format!("sled's config file `conf` is unreadable: {msg}")),
        ),
        sled::Error::ReportableBug(msg) => data_dir_error(
            dir,
            DataDirProblem::Damaged(format!("sled could not recover the database: {msg}")),
        ),
        sled::Error::Io(io) if io.kind() == io::ErrorKind::PermissionDenied => {
            data_dir_error(dir, DataDirProblem::Unreadable(io.to_string()))
        }
        other => other.into(),
    }
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
    ///
    /// Before sled sees the directory, [`precheck_dir`] refuses what sled would silently
    /// "repair" by creating files (a foreign directory, `conf` without `db`, ...); sled's own
    /// errors and panics on damaged files become [`StorageError::DataDir`] with
    /// [`DataDirProblem::Damaged`]. A damaged `db` that sled opens as empty is caught one level
    /// up, by the log, with the [`DirMarker`].
    ///
    /// If the directory is locked (another `Db` on it), retries for up to
    /// [`OPEN_LOCK_RETRY`]: right after the last handle of a database is dropped, sled's
    /// background I/O jobs can still hold the file (and its lock) for a moment, so an immediate
    /// reopen in the same process would fail spuriously.
    pub fn open(dir: &Path) -> Result<Store, StorageError> {
        Store::open_with(dir, Some(BACKGROUND_FLUSH_MS))
    }

    /// [`Store::open`] for a bulk import into a new directory: no background flush (sled's
    /// flusher would write half-built pages every half second for nothing; the import makes
    /// everything durable once, at its end, with [`Store::flush_durable`]).
    pub fn open_for_import(dir: &Path) -> Result<Store, StorageError> {
        Store::open_with(dir, None)
    }

    fn open_with(dir: &Path, flush_every_ms: Option<u64>) -> Result<Store, StorageError> {
        precheck_dir(dir)?;
        let deadline = std::time::Instant::now() + OPEN_LOCK_RETRY;
        let db = loop {
            let opened = catch_sled_panic::<_, StorageError>(dir, || {
                Ok(sled::Config::new()
                    .path(dir)
                    .cache_capacity(CACHE_CAPACITY_BYTES)
                    .flush_every_ms(flush_every_ms)
                    .open())
            })?;
            match opened {
                Ok(db) => break db,
                Err(sled::Error::Io(ref io)) if is_lock_error(io) => {
                    if std::time::Instant::now() >= deadline {
                        return Err(StorageError::AlreadyOpen(dir.to_path_buf()));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(other) => return Err(classify_open_error(dir, other)),
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
                #[cfg(any(test, feature = "fault-injection"))]
                faults: Arc::new(FaultInjector::default()),
                synced_blobs: Mutex::new(Default::default()),
            }),
        })
    }

    /// Names of the trees in the database, sled's own default tree excluded.
    pub fn tree_names(&self) -> Vec<String> {
        self.inner
            .db
            .tree_names()
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .filter(|n| n != "__sled__default")
            .collect()
    }

    /// True if sled's default tree (which motcua never uses) holds no key.
    pub fn default_tree_is_empty(&self) -> bool {
        self.inner.db.is_empty()
    }

    /// Reads the directory's [`DirMarker`]: `None` if there is none (a new directory, or one
    /// written before markers existed); an unparsable marker is damage.
    pub fn read_marker(&self) -> Result<Option<DirMarker>, StorageError> {
        let path = self.inner.dir.join(DIR_MARKER_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                DirMarker::parse(&text).map(Some).map_err(|e| {
                    data_dir_error(
                        &self.inner.dir,
                        DataDirProblem::Damaged(format!(
                            "the marker file {DIR_MARKER_FILE} is unreadable: {e}"
                        )),
                    )
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StorageError::Io { path, source }),
        }
    }

    /// Writes the [`DirMarker`] durably and atomically (temporary file, fsync, rename, fsync of
    /// the directory): a crash leaves the old marker or the new one, never half of one.
    pub fn write_marker(&self, marker: DirMarker) -> Result<(), StorageError> {
        let path = self.inner.dir.join(DIR_MARKER_FILE);
        crate::durable_file::write_durably(&path, marker.to_text().as_bytes(), None)
            .map_err(durable_err)
    }

    /// Marks the directory as holding an unfinished import, durably, before the import writes
    /// anything: until [`Store::finish_import`] removes the mark, the directory holds part of a
    /// log and `EventLog::open` refuses it ([`Store::import_unfinished`]).
    pub fn start_import(&self) -> Result<(), StorageError> {
        let path = self.inner.dir.join(IMPORT_MARKER_FILE);
        File::create(&path)
            .and_then(|f| f.sync_all())
            .map_err(|source| StorageError::Io { path, source })?;
        sync_dir(&self.inner.dir)
    }

    /// Removes the unfinished-import mark, durably. Call only once the imported log is durable.
    pub fn finish_import(&self) -> Result<(), StorageError> {
        let path = self.inner.dir.join(IMPORT_MARKER_FILE);
        std::fs::remove_file(&path).map_err(|source| StorageError::Io { path, source })?;
        sync_dir(&self.inner.dir)
    }

    /// True if an import into this directory started and did not finish.
    pub fn import_unfinished(&self) -> bool {
        self.inner.dir.join(IMPORT_MARKER_FILE).exists()
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
            #[cfg(any(test, feature = "fault-injection"))]
            faults: self.inner.faults.clone(),
        })
    }

    /// Removes a named tree and everything in it; `false` when there was none.
    pub fn drop_tree(&self, name: &str) -> Result<bool, StorageError> {
        Ok(self.inner.db.drop_tree(name)?)
    }

    /// The fault-injection hook (tests arm it; production builds do not have it).
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn faults(&self) -> &FaultInjector {
        &self.inner.faults
    }

    /// Applies batches to several trees atomically (one sled transaction): after a crash either
    /// all of them are visible or none. Not durable until [`Store::flush_durable`].
    pub fn commit(&self, writes: &[(&KvTree, &Batch)]) -> Result<(), StorageError> {
        fault_seam!(self.inner.faults, Write);
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
        fault_seam!(self.inner.faults, Flush);
        self.inner.db.flush()?;
        fault_seam!(self.inner.faults, Fsync);
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
    crate::durable_file::sync_dir(dir).map_err(durable_err)
}

fn durable_err(e: crate::durable_file::DurableFileError) -> StorageError {
    StorageError::Io {
        path: e.path,
        source: e.source,
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
    #[cfg(any(test, feature = "fault-injection"))]
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
        fault_seam!(self.faults, Write);
        self.tree.insert(key.as_ref(), value.into())?;
        Ok(())
    }

    /// Inserts `value` under `key` unless the key holds a value already; the value the key
    /// holds afterwards (ours, or the one another writer put first).
    pub fn insert_if_absent(
        &self,
        key: impl AsRef<[u8]>,
        value: Vec<u8>,
    ) -> Result<Vec<u8>, StorageError> {
        fault_seam!(self.faults, Write);
        match self.tree.compare_and_swap(
            key.as_ref(),
            None as Option<&[u8]>,
            Some(value.as_slice()),
        )? {
            Ok(()) => Ok(value),
            Err(current) => Ok(current.current.map(|v| v.to_vec()).unwrap_or(value)),
        }
    }

    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<(), StorageError> {
        fault_seam!(self.faults, Write);
        self.tree.remove(key)?;
        Ok(())
    }

    /// Writes a batch's operations one by one, in the batch's order: NOT atomic. Only for a bulk
    /// import behind the unfinished-import mark ([`Store::start_import`]), which nobody reads
    /// until it is complete: one key at a time lets two threads write two trees at once (sled
    /// serialises atomic batches behind one process-wide lock).
    pub fn write_unatomic(&self, batch: Batch) -> Result<(), StorageError> {
        for (k, v) in batch.ops {
            fault_seam!(self.faults, Write);
            match v {
                Some(v) => self.tree.insert(k, v)?,
                None => self.tree.remove(k)?,
            };
        }
        Ok(())
    }

    /// Applies a batch atomically (a projection writes its rows and its checkpoint this way):
    /// after a crash either every operation of the batch is there or none. Not durable until
    /// [`Store::flush_durable`].
    pub fn apply(&self, batch: Batch) -> Result<(), StorageError> {
        fault_seam!(self.faults, Write);
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
    /// The number of pairs, or the first storage error met while counting. Never sled's
    /// `Tree::len`: on a damaged page sled's iterator returns the same error again and again
    /// without advancing, so a count that skips errors never ends.
    pub fn count(&self) -> Result<usize, StorageError> {
        let mut n = 0;
        for key in self.tree.iter().keys() {
            key?;
            n += 1;
        }
        Ok(n)
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
        assert_eq!(rm.count().unwrap(), 5);
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
