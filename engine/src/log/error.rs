//! Errors of the log: [`LogError`] for opening and reading, [`AppendError`] for appends (the
//! caller-facing outcomes a command service must distinguish: conflict, retry later, give up).

use std::path::PathBuf;

use thiserror::Error;

use super::envelope::{EventId, ExpectedVersion};
use crate::codec::CodecError;
use crate::storage::{DataDirKind, DataDirProblem, StorageError};

#[derive(Debug, Error)]
pub enum LogError {
    #[error("storage: {0}")]
    Storage(StorageError),
    /// The data directory is not usable as it is (see [`DataDirProblem`]): not transient.
    #[error("data directory {path}: {problem}")]
    DataDir {
        path: PathBuf,
        problem: DataDirProblem,
    },
    #[error("corrupt record at seq {seq}: {detail}")]
    Corrupt { seq: u64, detail: String },
    #[error("corrupt log metadata: {0}")]
    CorruptMeta(String),
    #[error("the log was written by format version {found}, newer than this build's {supported}: upgrade motcua")]
    NewerFormat { found: u8, supported: u8 },
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    #[error("invalid stream id: {0}")]
    InvalidStreamId(String),
    #[error("invalid event id: {0}")]
    InvalidEventId(String),
    #[error("the log is closed")]
    Closed,
    /// PostgreSQL refused a write by one of the log's constraints (see docs/postgres.md): the
    /// rows would have broken the chain, left a gap, skipped a stream version or repeated an
    /// event id. Nothing of the batch was written.
    #[error("PostgreSQL refused the write by constraint {constraint}: {detail}")]
    Constraint { constraint: String, detail: String },
    /// PostgreSQL could not be reached or answered with an error other than a constraint.
    #[error("PostgreSQL: {0}")]
    Postgres(String),
}

impl From<StorageError> for LogError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::DataDir { path, problem } => LogError::DataDir { path, problem },
            other => LogError::Storage(other),
        }
    }
}

impl LogError {
    /// What kind of data-directory problem this is, if it is one: `Corrupt` and `CorruptMeta`
    /// count as damage. `None` for transient or caller errors (I/O, a locked directory, a
    /// closed log) and for `NewerFormat` (the fix is a newer build, not a restore).
    pub fn data_dir_problem(&self) -> Option<DataDirKind> {
        match self {
            LogError::DataDir { problem, .. } => Some(problem.kind()),
            LogError::Corrupt { .. } | LogError::CorruptMeta(_) => Some(DataDirKind::Damaged),
            _ => None,
        }
    }

    /// True if the directory's contents are damaged or not a motcua log at all: retrying will
    /// not help; the way out is a restore from a backup into a new directory.
    pub fn is_damaged(&self) -> bool {
        matches!(
            self.data_dir_problem(),
            Some(DataDirKind::Damaged | DataDirKind::Foreign)
        )
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AppendError {
    #[error("wrong expected version for {stream}: expected {expected}, actual {actual}")]
    WrongExpectedVersion {
        stream: String,
        expected: ExpectedVersion,
        actual: u64,
    },
    #[error("event id {event_id} already exists with different content")]
    IdempotencyConflict { event_id: EventId },
    #[error("the log's write queue is full, retry later")]
    Overloaded,
    #[error("event of {size} bytes exceeds the limit of {limit}")]
    EventTooLarge { size: usize, limit: usize },
    #[error("{count} events in one append exceed the limit of {limit}")]
    TooManyEvents { count: usize, limit: usize },
    #[error("an append needs at least one event")]
    Empty,
    #[error("the log is fail-stopped after a storage error: {0}")]
    Failed(String),
    #[error("the log is closed")]
    Closed,
    #[error("storage: {0}")]
    Storage(String),
}
