//! A dossier's files: an upload streamed into the engine's content store and recorded as a
//! `dossier.file_attached` event, a download streamed back from it, the bounded download trail
//! an auditor reads, and the sweep at start (`docs/files.md`).
//!
//! The order is the invariant "a file is durable before the event that names it": the bytes
//! are written to a temp file while hashed (never held whole), checked against
//! [`MAX_FILE_BYTES`] as they come, typed by their first bytes, fsynced and renamed to their
//! content address ([`Upload::finish`], on a blocking thread); only then is the command
//! decided and appended. A refusal at any step keeps nothing (the temp file is removed, a file
//! the refused upload created is released).

use std::collections::HashSet;

use futures::{Stream, StreamExt};
use motcua_engine::content::{
    attached_file, reference_of, ContentError, ContentStore, Stored, Upload,
};
use motcua_engine::domain::dossier::precondition::checklist;
use motcua_engine::domain::files::{clean_file_name, AttachedFile, MediaType, MAX_FILE_BYTES};
use motcua_engine::domain::types::{DossierCode, Role, Timestamp};
use motcua_engine::domain::Command;
use motcua_engine::log::EventLog;
use motcua_engine::storage::{KvTree, StorageError};
use serde::{Deserialize, Serialize};
use tokio_util::bytes::Bytes;

use crate::app::caller::Caller;
use crate::app::clock;
use crate::app::dossiers::WriteOutcome;
use crate::app::error::AppError;
use crate::app::handle::App;
use crate::app::trail::BoundedTrail;

/// The sled tree of the download trail: big-endian sequence -> [`DownloadRecord`].
pub const DOWNLOADS_TREE: &str = "http.downloads";
/// Most records the download trail keeps; beyond it the oldest tenth is pruned.
pub const MAX_DOWNLOAD_ENTRIES: u64 = 200_000;
/// Most trail lines one read returns.
pub const MAX_TRAIL_PAGE: usize = 1_000;

/// One download, as the trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadRecord {
    pub at: Timestamp,
    pub staff: String,
    pub code: String,
    pub sha256: String,
    pub document: String,
}

/// Which checklist document an upload is: its name, or its number in the checklist (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentRef {
    Name(String),
    Number(usize),
}

impl DocumentRef {
    /// A number when `raw` is all digits, else a name.
    pub fn parse(raw: &str) -> DocumentRef {
        match raw.trim().parse::<usize>() {
            Ok(n) => DocumentRef::Number(n),
            Err(_) => DocumentRef::Name(raw.trim().to_owned()),
        }
    }
}

/// The content store and the download trail of one [`App`].
pub struct FileStore {
    content: ContentStore,
    trail: BoundedTrail<DownloadRecord>,
}

impl FileStore {
    /// The store of `log`'s data directory; sweeps it first: every temp file and every file
    /// no event names (an upload cut by a crash between its rename and its event).
    pub fn open(log: &EventLog, trail: KvTree) -> Result<FileStore, StorageError> {
        let content = ContentStore::new(log.store().dir());
        let mut referenced = HashSet::new();
        // Without a stored file there is nothing an event could keep: the sweep removes temp
        // files only, and the log is not read (most starts, on a desk that stores no scans).
        let scan_from = match content.holds_content() {
            Ok(false) => None,
            _ => Some(0),
        };
        for env in scan_from.into_iter().flat_map(|from| log.scan(from)) {
            match env {
                Ok(env) => {
                    if let Some(r) = reference_of(&env) {
                        referenced.insert(r.file.sha256);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "files not swept: the log could not be read");
                    return FileStore::new(content, trail);
                }
            }
        }
        match content.sweep(&referenced) {
            Ok(s) => tracing::info!(
                temp_files = s.temp_files,
                unreferenced = s.unreferenced,
                referenced = referenced.len(),
                "content store swept"
            ),
            Err(e) => tracing::error!(error = %e, "the content store could not be swept"),
        }
        FileStore::new(content, trail)
    }

    fn new(content: ContentStore, trail: KvTree) -> Result<FileStore, StorageError> {
        Ok(FileStore {
            content,
            trail: BoundedTrail::open(trail, MAX_DOWNLOAD_ENTRIES, "download")?,
        })
    }
}

/// A file found for download: what was recorded, and the open file.
#[derive(Debug)]
pub struct Download {
    pub file: AttachedFile,
    pub content: std::fs::File,
}

/// The file commands and reads of an [`App`].
pub struct Files<'a> {
    app: &'a App,
}

impl App {
    /// A dossier's files.
    pub fn files(&self) -> Files<'_> {
        Files { app: self }
    }
}

fn content_error(e: ContentError) -> AppError {
    match e {
        ContentError::TooLarge { limit } => AppError::TooLarge { limit },
        ContentError::Io { .. } => AppError::internal(e),
    }
}

/// The digest of the stand-in file an upload's preconditions are decided on.
const STAND_IN_SHA256: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Files<'_> {
    /// Streams `body` into the content store and records it against document `document` of
    /// dossier `code` as `caller`. Refused before any byte is read: an unknown dossier, another
    /// unit, a document not in the checklist; while reading: more than `limit` bytes (at most
    /// [`MAX_FILE_BYTES`]); after: bytes of no accepted type; then the domain decides.
    pub async fn attach<S, E>(
        &self,
        caller: &Caller,
        code: &DossierCode,
        document: &DocumentRef,
        file_name: Option<&str>,
        limit: u64,
        body: S,
    ) -> Result<(WriteOutcome, AttachedFile), AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.app.check_writable()?;
        let (state, _) = self.app.service().load_dossier(code)?;
        if let Some((unit, _)) = state.unit_and_field() {
            caller.require_unit(unit)?;
        }
        let list = checklist(&state);
        let document = match document {
            DocumentRef::Number(n) => n
                .checked_sub(1)
                .and_then(|i| list.get(i))
                .cloned()
                .ok_or_else(|| {
                    AppError::invalid(
                        "document",
                        format!(
                            "the checklist has {} documents, numbered from 1",
                            list.len()
                        ),
                    )
                })?,
            DocumentRef::Name(name) => {
                list.iter().find(|d| *d == name).cloned().ok_or_else(|| {
                    AppError::invalid(
                        "document",
                        format!("not in this dossier's checklist: {}", list.join("; ")),
                    )
                })?
            }
        };
        let file_name = clean_file_name(file_name.unwrap_or_default());
        // The domain's own decision on a one-byte stand-in, before any byte is read: a caller
        // out of role or scope, a dossier closed to attachments or without room left is
        // refused without the body being streamed to disk. The real file is decided again.
        let stand_in = AttachedFile {
            sha256: STAND_IN_SHA256.to_owned(),
            size: 1,
            media_type: MediaType::Pdf,
            document: document.clone(),
            file_name: file_name.clone(),
        };
        self.app.service().would_accept(
            &state,
            &Command::AttachFile(stand_in),
            &caller.actor_proving(None),
            clock::now(),
        )?;
        let upload = self.receive(limit.min(MAX_FILE_BYTES), body).await?;
        let media_type = MediaType::sniff(upload.head()).ok_or_else(|| {
            AppError::UnsupportedType(
                "accepted: PDF, JPEG, PNG (decided by the file's bytes)".into(),
            )
        })?;
        let stored: Stored = tokio::task::spawn_blocking(move || upload.finish())
            .await
            .map_err(AppError::internal)?
            .map_err(content_error)?;
        let file = AttachedFile {
            sha256: stored.sha256.clone(),
            size: stored.size,
            media_type,
            document,
            file_name,
        };
        let cmd = Command::AttachFile(file.clone());
        let outcome = self
            .app
            .dossiers()
            .act(caller, code, cmd, None, None, None)
            .await;
        self.app
            .file_store()
            .content
            .release(&stored, outcome.is_ok());
        Ok((outcome?, file))
    }

    /// Writes `body` to a new temp file, hashing it; the temp file goes if anything fails.
    async fn receive<S, E>(&self, limit: u64, mut body: S) -> Result<Upload, AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut upload = self
            .app
            .file_store()
            .content
            .begin(limit)
            .map_err(content_error)?;
        while let Some(chunk) = body.next().await {
            let chunk = chunk
                .map_err(|e| AppError::invalid("body", format!("the upload broke off: {e}")))?;
            upload.write(&chunk).map_err(content_error)?;
        }
        if upload.size() == 0 {
            return Err(AppError::invalid("body", "the file is empty"));
        }
        Ok(upload)
    }

    /// The files attached to dossier `code`, oldest first, with the seq of each event.
    pub fn list(
        &self,
        caller: &Caller,
        code: &DossierCode,
    ) -> Result<Vec<(u64, AttachedFile)>, AppError> {
        // One read and fold of the dossier: its recorded events name the files.
        let (state, recorded) = self.app.service().load_dossier(code)?;
        if let Some((unit, _)) = state.unit_and_field() {
            caller.require_unit(unit)?;
        }
        Ok(recorded
            .iter()
            .filter_map(|r| attached_file(&r.event).map(|(_, f)| (r.seq, f.clone())))
            .collect())
    }

    /// File `sha256` of dossier `code` for `caller`, recorded in the download trail.
    pub fn download(
        &self,
        caller: &Caller,
        code: &DossierCode,
        sha256: &str,
    ) -> Result<Download, AppError> {
        let file = self
            .list(caller, code)?
            .into_iter()
            .map(|(_, f)| f)
            .find(|f| f.sha256 == sha256)
            .ok_or_else(|| AppError::NotFound(format!("dossier {code} has no file {sha256}")))?;
        let content = self
            .app
            .file_store()
            .content
            .open(sha256)
            .map_err(content_error)?
            .ok_or_else(|| {
                AppError::internal(format!("the file {sha256} of dossier {code} is missing"))
            })?;
        self.record(caller, code, &file);
        Ok(Download { file, content })
    }

    /// Appends one line to the download trail. A trail that cannot be written is logged, not
    /// fatal, as the sign-in trail's: the desk still needs the file.
    fn record(&self, caller: &Caller, code: &DossierCode, file: &AttachedFile) {
        let store = self.app.file_store();
        let rec = DownloadRecord {
            at: clock::now(),
            staff: caller.id().to_string(),
            code: code.to_string(),
            sha256: file.sha256.clone(),
            document: file.document.clone(),
        };
        store.trail.append(&rec);
    }

    /// The newest `limit` downloads, newest first (auditors and admins).
    pub fn downloads(
        &self,
        caller: &Caller,
        limit: usize,
    ) -> Result<Vec<DownloadRecord>, AppError> {
        caller.require_any(&[Role::Auditor, Role::Admin])?;
        self.app
            .file_store()
            .trail
            .newest(limit.min(MAX_TRAIL_PAGE))
    }
}

/// The files a dossier's history names, for its page: (seq, file) oldest first.
pub fn files_of(history: &[crate::app::decode::LoggedEvent]) -> Vec<(u64, AttachedFile)> {
    history
        .iter()
        .filter_map(|e| {
            let (_, file) = attached_file(e.event.as_ref()?)?;
            Some((e.envelope.seq, file.clone()))
        })
        .collect()
}
