//! Where the events come from: an archive file, or a data directory. Either way the tool never
//! writes to what it was handed.
//!
//! A data directory is copied into a temporary directory first and sled opens the copy: sled
//! writes on open (its recovery, its config and snapshot files), so even "just reading" the
//! original would modify the inspector's evidence. The copy is read raw (the `events` and `meta`
//! trees), not through `EventLog::open`, because the log's own open check refuses a damaged
//! tail, and a damaged log is exactly what an auditor needs to see finding by finding.
//!
//! The copy must not outlive the run, even an interrupted one (a data directory's copy is as
//! large as the directory): it is named `motcua-replay-copy-<pid>-…` in the temporary
//! directory; it is removed when the source is dropped, on SIGINT, SIGTERM and SIGHUP
//! ([`remove_copies_on_signals`]), and a run that was killed outright (SIGKILL, a power cut)
//! leaves one that the next run sweeps at its start ([`sweep_stale_copies`]: a copy whose owner
//! pid is no longer running).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use motcua_engine::codec;
use motcua_engine::content::FILES_DIR;
use motcua_engine::log::{MetaHead, TREE_EVENTS, TREE_META};
use motcua_engine::storage::{KvTree, StorageError, Store};
use thiserror::Error;

use crate::archive::{ArchiveError, ArchiveHeader, ArchiveReader, Trailer};

#[derive(Debug, Error)]
pub enum SourceError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("archive: {0}")]
    Archive(#[from] ArchiveError),
    #[error("data directory: {0}")]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Other(String),
    /// A signal arrived while a data directory was being copied.
    #[error("interrupted")]
    Interrupted,
}

/// One stored record: the bytes the log wrote for one envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// The seq the container files it under (the sled key of a data directory; None for an
    /// archive, whose records are positional).
    pub key_seq: Option<u64>,
    pub bytes: Vec<u8>,
}

/// What the source says about its own end, compared with what was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceEnd {
    /// The archive's trailer (read completely).
    Trailer(Trailer),
    /// A data directory's `meta/head` record (None if absent or undecodable: a finding).
    MetaHead(Option<MetaHead>),
    /// The source ended abnormally (truncation, bad trailer, trailing garbage, ...).
    Broken(String),
}

/// What every copy of a data directory is named with, before the owner's pid.
pub const COPY_PREFIX: &str = "motcua-replay-copy-";

/// The copies this process holds, for the signal handler to remove.
static LIVE_COPIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Held while a copy is made and opened. sled creates a missing directory when it opens one,
/// so a copy removed just before its open would come back: the signal thread takes this lock
/// before removing anything (the copying stops early, at the next file, once it is asked to).
static OPENING: Mutex<()> = Mutex::new(());

/// Set by the signal thread: the copying stops at the next file.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// A data directory's copy: registered for removal on a signal while it lives, removed when
/// dropped.
struct DirCopy {
    dir: Option<tempfile::TempDir>,
}

impl DirCopy {
    fn new(in_dir: &Path) -> Result<DirCopy, SourceError> {
        // Created and registered under the lock, so the list always names it. (A poisoned
        // lock only means a panic elsewhere while it was held: the list is intact.)
        let mut live = LIVE_COPIES.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::Builder::new()
            .prefix(&format!("{COPY_PREFIX}{}-", std::process::id()))
            .tempdir_in(in_dir)
            .map_err(|source| SourceError::Io {
                path: in_dir.to_path_buf(),
                source,
            })?;
        live.push(dir.path().to_path_buf());
        Ok(DirCopy { dir: Some(dir) })
    }

    fn path(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }
}

impl Drop for DirCopy {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            LIVE_COPIES
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|p| p != dir.path());
            // Removal errors cannot be reported from a drop; the next run's sweep retries.
            let _ = dir.close();
        }
    }
}

/// Removes every copy this process holds (called on a signal, with [`OPENING`] held, just before
/// exiting). The lock is kept to the end: no new copy starts meanwhile.
fn remove_live_copies() {
    let live = LIVE_COPIES.lock().unwrap_or_else(|p| p.into_inner());
    for dir in live.iter() {
        // The reading thread may still be copying files into it: a removal that meets a file
        // created meanwhile fails, and is tried again. Once the directory is gone nothing can
        // be created in it.
        for _ in 0..100 {
            match std::fs::remove_dir_all(dir) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
    }
}

/// Is process `pid` running? (Unknown counts as running: a copy is only removed when its
/// owner is known to be gone.)
fn pid_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return true;
        };
        // SAFETY: signal 0 sends nothing; kill only checks that the process exists.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Removes the copies earlier runs left in `tmp` when killed outright: those named
/// [`COPY_PREFIX`]`<pid>-…` whose pid is not running. Returns what was removed. (A pid reused
/// by another process keeps its copy until that process ends.)
pub fn sweep_stale_copies(tmp: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return Vec::new();
    };
    let own = std::process::id();
    let mut removed = Vec::new();
    for entry in entries.map_while(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(COPY_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own || pid_alive(pid) {
            continue;
        }
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) && std::fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

/// Removes this process's copies on SIGINT, SIGTERM or SIGHUP, then exits with 128 + the
/// signal's number (the shell's convention). Call once, first thing in `main`, before any
/// other thread starts: the signals are blocked in the calling thread, which every later
/// thread inherits, and one thread waits for them (`sigwait`), so the removal runs as
/// ordinary code rather than in a signal handler.
#[cfg(unix)]
pub fn remove_copies_on_signals() -> std::io::Result<()> {
    // SAFETY: plain libc calls on a sigset_t owned here; no handler is installed.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        set
    };
    std::thread::Builder::new()
        .name("motcua-replay-signals".into())
        .spawn(move || loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: `set` is an initialised signal set; `sig` a valid out pointer.
            if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
                INTERRUPTED.store(true, Ordering::SeqCst);
                // Never released: the process exits below.
                let _opening = OPENING.lock().unwrap_or_else(|p| p.into_inner());
                remove_live_copies();
                std::process::exit(128 + sig);
            }
        })?;
    Ok(())
}

/// Without Unix signals there is nothing to install; the sweep at the next start remains.
#[cfg(not(unix))]
pub fn remove_copies_on_signals() -> std::io::Result<()> {
    Ok(())
}

/// The raw key/value iterator of the copied `events` tree.
type KvIter = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StorageError>> + Send>;

enum Inner {
    Archive(Box<ArchiveReader<BufReader<File>>>),
    DataDir {
        // Dropped after the store (fields drop in order): sled closes its files first, then
        // the copy is removed.
        _store: Store,
        meta: KvTree,
        iter: KvIter,
        _copy: DirCopy,
    },
}

/// An opened source, read once from the first record to the end.
pub struct Source {
    inner: Inner,
    path: PathBuf,
    expected: Option<u64>,
    broken: Option<String>,
    done: bool,
}

impl Source {
    /// Opens `path`: a directory is a data directory (copied first), anything else an archive.
    pub fn open(path: &Path) -> Result<Source, SourceError> {
        if path.is_dir() {
            Self::open_data_dir(path)
        } else {
            let file = File::open(path).map_err(|source| SourceError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            let reader = ArchiveReader::open(BufReader::with_capacity(1 << 20, file))?;
            let expected = Some(reader.header().expected_count());
            Ok(Source {
                inner: Inner::Archive(Box::new(reader)),
                path: path.to_path_buf(),
                expected,
                broken: None,
                done: false,
            })
        }
    }

    fn open_data_dir(path: &Path) -> Result<Source, SourceError> {
        let tmp = std::env::temp_dir();
        sweep_stale_copies(&tmp);
        let opening = OPENING.lock().unwrap_or_else(|p| p.into_inner());
        let copy = DirCopy::new(&tmp)?;
        // The files are read where they are (`crate::files`), never copied: sled only needs
        // its own.
        if let Err(e) = copy_dir(path, copy.path(), &[FILES_DIR]) {
            if matches!(e, SourceError::Interrupted) {
                drop(copy);
                drop(opening);
                // The signal thread exits the process with the signal's status; returning
                // would race it with an ordinary error's.
                loop {
                    std::thread::park();
                }
            }
            return Err(e);
        }
        let store = Store::open(copy.path())?;
        drop(opening);
        let events = store.tree(TREE_EVENTS)?;
        let meta = store.tree(TREE_META)?;
        // Counting stops at the first damaged page (the scan below then reports it as the
        // source's broken end) instead of spinning on sled's repeated error.
        let expected = events.count().ok().map(|n| n as u64);
        let iter = Box::new(events.iter());
        Ok(Source {
            inner: Inner::DataDir {
                _store: store,
                meta,
                iter,
                _copy: copy,
            },
            path: path.to_path_buf(),
            expected,
            broken: None,
            done: false,
        })
    }

    /// The path given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// "archive" or "data-dir".
    pub fn kind(&self) -> &'static str {
        match self.inner {
            Inner::Archive(_) => "archive",
            Inner::DataDir { .. } => "data-dir",
        }
    }

    /// The archive header (None for a data directory).
    pub fn header(&self) -> Option<&ArchiveHeader> {
        match &self.inner {
            Inner::Archive(r) => Some(r.header()),
            Inner::DataDir { .. } => None,
        }
    }

    /// Records the source announces (for the progress bar).
    pub fn expected_records(&self) -> Option<u64> {
        self.expected
    }

    /// The next record. A structural error of the container ends the stream: it is kept for
    /// [`end`](Self::end) rather than returned, so the caller still judges every record before it.
    pub fn next_record(&mut self) -> Option<SourceRecord> {
        if self.done {
            return None;
        }
        let item = match &mut self.inner {
            Inner::Archive(r) => match r.next_record() {
                Ok(Some(rec)) => Ok(Some(SourceRecord {
                    key_seq: None,
                    bytes: rec.bytes,
                })),
                Ok(None) => Ok(None),
                Err(e) => Err(e.to_string()),
            },
            Inner::DataDir { iter, .. } => match iter.next() {
                Some(Ok((k, v))) => Ok(Some(SourceRecord {
                    key_seq: <[u8; 8]>::try_from(k.as_slice())
                        .ok()
                        .map(u64::from_be_bytes)
                        .or(Some(0)),
                    bytes: v,
                })),
                Some(Err(e)) => Err(e.to_string()),
                None => Ok(None),
            },
        };
        match item {
            Ok(Some(r)) => Some(r),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.broken = Some(e);
                self.done = true;
                None
            }
        }
    }

    /// The source's own account of its end; call after [`next_record`](Self::next_record)
    /// returned None.
    pub fn end(&self) -> SourceEnd {
        if let Some(b) = &self.broken {
            return SourceEnd::Broken(b.clone());
        }
        match &self.inner {
            Inner::Archive(r) => match r.trailer() {
                Some(t) => SourceEnd::Trailer(t.clone()),
                None => SourceEnd::Broken("archive not read to its end".into()),
            },
            Inner::DataDir { meta, .. } => SourceEnd::MetaHead(
                meta.get(b"head")
                    .ok()
                    .flatten()
                    .and_then(|b| codec::decode::<MetaHead>(&b).ok()),
            ),
        }
    }

    /// The archive reader's last complete seq (for truncation findings).
    pub fn last_good_seq(&self) -> Option<u64> {
        match &self.inner {
            Inner::Archive(r) => r.last_good_seq(),
            Inner::DataDir { .. } => None,
        }
    }
}

/// Copies a directory tree (regular files and subdirectories; symlinks are refused: a data
/// directory has none, and following one could read outside what was handed over).
fn copy_dir(from: &Path, to: &Path, skip: &[&str]) -> Result<(), SourceError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SourceError::Io { path, source }
    };
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err(SourceError::Interrupted);
        }
        let entry = entry.map_err(io(from))?;
        if skip.iter().any(|s| entry.file_name() == *s) {
            continue;
        }
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let ty = entry.file_type().map_err(io(&src))?;
        if ty.is_dir() {
            std::fs::create_dir(&dst).map_err(io(&dst))?;
            copy_dir(&src, &dst, &[])?;
        } else if ty.is_file() {
            std::fs::copy(&src, &dst).map_err(io(&src))?;
        } else {
            return Err(SourceError::Other(format!(
                "{}: not a regular file or directory",
                src.display()
            )));
        }
    }
    Ok(())
}
