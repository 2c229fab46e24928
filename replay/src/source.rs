//! Where the events come from: an archive file, or a data directory. Either way the tool never
//! writes to what it was handed.
//!
//! A data directory is copied into a temporary directory first and sled opens the copy: sled
//! writes on open (its recovery, its config and snapshot files), so even "just reading" the
//! original would modify the inspector's evidence. The copy is read raw (the `events` and `meta`
//! trees), not through `EventLog::open`, because the log's own open check refuses a damaged
//! tail, and a damaged log is exactly what an auditor needs to see finding by finding.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use motcua_engine::codec;
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

/// The raw key/value iterator of the copied `events` tree.
type KvIter = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StorageError>> + Send>;

enum Inner {
    Archive(Box<ArchiveReader<BufReader<File>>>),
    DataDir {
        // Held so the copy lives as long as the source and is removed afterwards.
        _copy: tempfile::TempDir,
        _store: Store,
        meta: KvTree,
        iter: KvIter,
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
        let copy = tempfile::Builder::new()
            .prefix("motcua-replay-")
            .tempdir()
            .map_err(|source| SourceError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        copy_dir(path, copy.path())?;
        let store = Store::open(copy.path())?;
        let events = store.tree(TREE_EVENTS)?;
        let meta = store.tree(TREE_META)?;
        // Counting stops at the first damaged page (the scan below then reports it as the
        // source's broken end) instead of spinning on sled's repeated error.
        let expected = events.count().ok().map(|n| n as u64);
        let iter = Box::new(events.iter());
        Ok(Source {
            inner: Inner::DataDir {
                _copy: copy,
                _store: store,
                meta,
                iter,
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
fn copy_dir(from: &Path, to: &Path) -> Result<(), SourceError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SourceError::Io { path, source }
    };
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let ty = entry.file_type().map_err(io(&src))?;
        if ty.is_dir() {
            std::fs::create_dir(&dst).map_err(io(&dst))?;
            copy_dir(&src, &dst)?;
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
