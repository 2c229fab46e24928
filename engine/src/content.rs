//! The content store: a dossier's files, kept by their SHA-256 under `files/` of the data
//! directory (`files/<2 hex>/<64 hex>`), outside the log (`docs/files.md`).
//!
//! Why this order: an upload is written to `files/incoming/` while it is hashed, then fsynced,
//! renamed to its content address and the directory fsynced ([`Upload::finish`]); only then may
//! the event naming it be appended. A crash at any point leaves either a temp file or an
//! unreferenced content file (both swept at the next start, [`ContentStore::sweep`]), never an
//! event whose file is missing. One content file serves every event naming the same bytes;
//! a refused upload's new file is removed only when no other upload took it meanwhile
//! ([`ContentStore::release`]), and otherwise left to the sweep.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::domain::events::{DossierChange, Event};
use crate::domain::files::{is_sha256_hex, AttachedFile, SNIFF_BYTES};
use crate::domain::types::DossierCode;
use crate::log::Envelope;
use crate::recorded::decode_event;

/// The event type of an attachment (`DossierChange::FileAttached`).
pub const FILE_ATTACHED: &str = "dossier.file_attached";

/// A file an event names: the dossier, the seq and what was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReference {
    pub seq: u64,
    pub code: DossierCode,
    pub file: AttachedFile,
}

/// The file `env` names, if it records an attachment (other events are not decoded).
pub fn reference_of(env: &Envelope) -> Option<FileReference> {
    if env.event_type != FILE_ATTACHED {
        return None;
    }
    let event = decode_event(env).ok()?;
    let (code, file) = attached_file(&event)?;
    Some(FileReference {
        seq: env.seq,
        code: code.clone(),
        file: file.clone(),
    })
}

/// The file a decoded event attaches, and its dossier: the one reading of an attachment, for
/// an envelope ([`reference_of`]) and for a history already decoded (a dossier's page).
pub fn attached_file(event: &Event) -> Option<(&DossierCode, &AttachedFile)> {
    match event {
        Event::Dossier(ev) => match &ev.change {
            DossierChange::FileAttached(file) => Some((&ev.code, file)),
            _ => None,
        },
        _ => None,
    }
}

/// The store's directory under the data directory.
pub const FILES_DIR: &str = "files";
/// Uploads in progress, inside the store so that the final rename stays on one file system.
pub const TMP_DIR: &str = "incoming";
/// What a read or a hash reads at a time.
const CHUNK: usize = 64 * 1024;

/// Why the store could not keep or read a file.
#[derive(Debug, Error)]
pub enum ContentError {
    /// The upload went past its limit; nothing is kept.
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The file system refused.
    #[error("content store {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ContentError + '_ {
    move |source| ContentError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A file made durable at its content address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub sha256: String,
    pub size: u64,
    /// The first bytes (at most [`SNIFF_BYTES`]), from which the type is decided.
    pub head: Vec<u8>,
    /// The file did not exist before this upload.
    pub created: bool,
}

/// What [`ContentStore::check`] found for a referenced file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileCheck {
    Present,
    Missing,
    /// Its bytes no longer hash to its name (or its size differs from the recorded one).
    Altered {
        sha256: String,
        size: u64,
    },
}

/// What a sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub temp_files: u64,
    pub unreferenced: u64,
}

/// Uploads holding a hash between their rename and their event: how many, and whether more
/// than one upload took it (then a refusal leaves the file to the sweep).
type Pins = HashMap<String, (u32, bool)>;

/// The content store of one data directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
    pins: Arc<Mutex<Pins>>,
}

impl ContentStore {
    /// The store of data directory `data_dir` (nothing is created before the first upload).
    pub fn new(data_dir: &Path) -> ContentStore {
        ContentStore {
            root: data_dir.join(FILES_DIR),
            pins: Arc::default(),
        }
    }

    /// Where the file of `sha256` lives, if `sha256` is a well-formed digest.
    pub fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        is_sha256_hex(sha256).then(|| self.root.join(&sha256[..2]).join(sha256))
    }

    /// Starts an upload of at most `limit` bytes: a new temp file.
    pub fn begin(&self, limit: u64) -> Result<Upload, ContentError> {
        let tmp = self.root.join(TMP_DIR);
        std::fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        let name: [u8; 16] = rand::random();
        let path = tmp.join(format!("{}.part", hex::encode(name)));
        let file = File::create_new(&path).map_err(io_err(&path))?;
        Ok(Upload {
            store: self.clone(),
            file: Some(file),
            path,
            hasher: Sha256::new(),
            size: 0,
            head: Vec::with_capacity(SNIFF_BYTES),
            limit,
        })
    }

    /// Opens the file of `sha256` for reading.
    pub fn open(&self, sha256: &str) -> Result<Option<File>, ContentError> {
        let Some(path) = self.path_of(sha256) else {
            return Ok(None);
        };
        match File::open(&path) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ContentError::Io { path, source: e }),
        }
    }

    /// Whether the file of `sha256` is there with `size` bytes hashing to its name.
    pub fn check(&self, sha256: &str, size: u64) -> Result<FileCheck, ContentError> {
        let Some(mut f) = self.open(sha256)? else {
            return Ok(FileCheck::Missing);
        };
        let path = self.path_of(sha256).unwrap_or_default();
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut read = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(io_err(&path))?;
            if n == 0 {
                break;
            }
            read += n as u64;
            hasher.update(&buf[..n]);
        }
        let actual = hex::encode(hasher.finalize());
        if actual == sha256 && read == size {
            Ok(FileCheck::Present)
        } else {
            Ok(FileCheck::Altered {
                sha256: actual,
                size: read,
            })
        }
    }

    /// Ends an upload's hold on its file: `recorded` when its event was appended; otherwise
    /// a file this upload created and no other upload took is removed (nothing is kept of a
    /// refused upload), else left to the sweep.
    pub fn release(&self, stored: &Stored, recorded: bool) {
        let Ok(mut pins) = self.pins.lock() else {
            return;
        };
        let shared = match pins.get_mut(&stored.sha256) {
            Some((count, shared)) => {
                *count = count.saturating_sub(1);
                let s = *shared;
                if *count == 0 {
                    pins.remove(&stored.sha256);
                }
                s
            }
            None => true,
        };
        if !recorded && stored.created && !shared {
            if let Some(path) = self.path_of(&stored.sha256) {
                if let Err(e) = std::fs::remove_file(&path) {
                    tracing::warn!(error = %e, "a refused upload's file stays for the sweep");
                }
            }
        }
    }

    fn pin(&self, sha256: &str) {
        if let Ok(mut pins) = self.pins.lock() {
            let e = pins.entry(sha256.to_owned()).or_insert((0, false));
            e.1 |= e.0 > 0;
            e.0 += 1;
        }
    }

    /// Removes every temp file and every content file `referenced` does not name. Run before
    /// the server accepts uploads: a file renamed into place whose event never came is named
    /// by no event.
    /// Whether any content file is stored (temp files aside): when none is, a sweep needs no
    /// list of referenced files, and the server does not read its whole log at start to make
    /// one.
    pub fn holds_content(&self) -> Result<bool, ContentError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => {
                return Err(ContentError::Io {
                    path: self.root.clone(),
                    source: e,
                })
            }
        };
        for entry in entries {
            let entry = entry.map_err(io_err(&self.root))?;
            let dir = entry.path();
            if entry.file_name() == TMP_DIR || !entry.file_type().map_err(io_err(&dir))?.is_dir() {
                continue;
            }
            if std::fs::read_dir(&dir)
                .map_err(io_err(&dir))?
                .next()
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub fn sweep(&self, referenced: &HashSet<String>) -> Result<Swept, ContentError> {
        let mut swept = Swept::default();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(swept),
            Err(e) => {
                return Err(ContentError::Io {
                    path: self.root.clone(),
                    source: e,
                })
            }
        };
        for entry in entries {
            let entry = entry.map_err(io_err(&self.root))?;
            let dir = entry.path();
            if !entry.file_type().map_err(io_err(&dir))?.is_dir() {
                continue;
            }
            let is_tmp = entry.file_name() == TMP_DIR;
            for file in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
                let file = file.map_err(io_err(&dir))?;
                let name = file.file_name().to_string_lossy().into_owned();
                let keep = !is_tmp && referenced.contains(&name);
                if keep || !file.file_type().map_err(io_err(&dir))?.is_file() {
                    continue;
                }
                let path = file.path();
                std::fs::remove_file(&path).map_err(io_err(&path))?;
                if is_tmp {
                    swept.temp_files += 1;
                } else {
                    swept.unreferenced += 1;
                }
            }
        }
        Ok(swept)
    }
}

/// An upload in progress: a temp file being written and hashed. Dropped unfinished, its temp
/// file is removed.
#[derive(Debug)]
pub struct Upload {
    store: ContentStore,
    file: Option<File>,
    path: PathBuf,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
    limit: u64,
}

impl Upload {
    /// Appends `chunk`; past the limit, [`ContentError::TooLarge`] (drop the upload).
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), ContentError> {
        self.size = self.size.saturating_add(chunk.len() as u64);
        if self.size > self.limit {
            return Err(ContentError::TooLarge { limit: self.limit });
        }
        let want = SNIFF_BYTES.saturating_sub(self.head.len()).min(chunk.len());
        self.head.extend_from_slice(&chunk[..want]);
        self.hasher.update(chunk);
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        f.write_all(chunk).map_err(io_err(&self.path))
    }

    /// The first bytes written so far.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Makes the file durable at its content address: fsync, rename (an identical file already
    /// there is kept and the temp removed), fsync the directories. Blocking: call it off the
    /// async workers. The file stays held until [`ContentStore::release`].
    pub fn finish(mut self) -> Result<Stored, ContentError> {
        let Some(file) = self.file.take() else {
            return Err(ContentError::Io {
                path: self.path.clone(),
                source: std::io::Error::other("upload already finished"),
            });
        };
        file.sync_all().map_err(io_err(&self.path))?;
        drop(file);
        let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let Some(dest) = self.store.path_of(&sha256) else {
            return Err(ContentError::Io {
                path: self.path.clone(),
                source: std::io::Error::other("digest"),
            });
        };
        let bucket = dest.parent().map(Path::to_path_buf).unwrap_or_default();
        std::fs::create_dir_all(&bucket).map_err(io_err(&bucket))?;
        // Held before the rename, so a refusal of another upload of the same bytes cannot
        // remove it between the rename and this upload's event.
        self.store.pin(&sha256);
        let created = !dest.exists();
        let moved = if created {
            std::fs::rename(&self.path, &dest).map_err(io_err(&dest))
        } else {
            std::fs::remove_file(&self.path).map_err(io_err(&self.path))
        };
        let synced = moved
            .and_then(|()| sync_dir(&bucket))
            .and_then(|()| sync_dir(&self.store.root));
        let stored = Stored {
            sha256,
            size: self.size,
            head: std::mem::take(&mut self.head),
            created,
        };
        if let Err(e) = synced {
            self.store.release(&stored, false);
            return Err(e);
        }
        Ok(stored)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), ContentError> {
    crate::durable_file::sync_dir(dir).map_err(|e| ContentError::Io {
        path: e.path,
        source: e.source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_stored_by_content_and_swept_when_unreferenced() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::new(dir.path());
        let mut up = store.begin(100).unwrap();
        up.write(b"%PDF-1.7 ").unwrap();
        up.write(b"hello").unwrap();
        let stored = up.finish().unwrap();
        assert_eq!(stored.size, 14);
        assert_eq!(stored.head, b"%PDF-1.7");
        assert!(stored.created);
        let expected = hex::encode(Sha256::digest(b"%PDF-1.7 hello"));
        assert_eq!(stored.sha256, expected);
        assert_eq!(store.check(&expected, 14).unwrap(), FileCheck::Present);
        store.release(&stored, true);

        // The same bytes again: one file, kept.
        let mut again = store.begin(100).unwrap();
        again.write(b"%PDF-1.7 hello").unwrap();
        let second = again.finish().unwrap();
        assert!(!second.created);
        store.release(&second, false);
        assert_eq!(store.check(&expected, 14).unwrap(), FileCheck::Present);

        // Too large: refused, no temp file left.
        let mut big = store.begin(4).unwrap();
        assert!(matches!(
            big.write(b"12345"),
            Err(ContentError::TooLarge { limit: 4 })
        ));
        drop(big);
        let tmp = dir.path().join(FILES_DIR).join(TMP_DIR);
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);

        // Altered bytes are named.
        let path = store.path_of(&expected).unwrap();
        std::fs::write(&path, b"%PDF-1.7 hellO").unwrap();
        assert!(matches!(
            store.check(&expected, 14).unwrap(),
            FileCheck::Altered { .. }
        ));

        // A stray temp file and an unreferenced file go; the referenced one stays.
        std::fs::write(tmp.join("x.part"), b"partial").unwrap();
        let mut other = store.begin(100).unwrap();
        other.write(b"\x89PNG\r\n\x1a\nimage").unwrap();
        let other = other.finish().unwrap();
        store.release(&other, true);
        let referenced: HashSet<String> = [expected.clone()].into();
        let swept = store.sweep(&referenced).unwrap();
        assert_eq!(
            swept,
            Swept {
                temp_files: 1,
                unreferenced: 1
            }
        );
        assert!(path.exists());
        assert_eq!(
            store.check(&other.sha256, other.size).unwrap(),
            FileCheck::Missing
        );
    }

    #[test]
    fn a_refused_upload_keeps_nothing_unless_shared() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::new(dir.path());
        let mut up = store.begin(100).unwrap();
        up.write(b"\xFF\xD8\xFFjpeg").unwrap();
        let stored = up.finish().unwrap();
        store.release(&stored, false);
        assert_eq!(store.check(&stored.sha256, 7).unwrap(), FileCheck::Missing);
    }
}
