//! Errors of the log: [`LogError`] for opening and reading, [`AppendError`] for appends (the
//! caller-facing outcomes a command service must distinguish: conflict, retry later, give up).

use thiserror::Error;

use super::envelope::{EventId, ExpectedVersion};
use crate::codec::CodecError;
use crate::storage::StorageError;

#[derive(Debug, Error)]
pub enum LogError {
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
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
