//! The archive of a range of the log (docs/archive-format.md), as `GET /v1/export` streams it
//! from a running server and `motcua export` writes it from a stopped data directory: both go
//! through [`ExportPlan`], which fixes the range at one seq (the durable head when the plan is
//! made) and derives every header field from the log itself, so the two are byte-identical for
//! the same log and range. The archive format itself is `motcua_replay::archive`.

use std::io::Write;

use motcua_engine::log::{EventLog, LogError, GENESIS_HASH};
use motcua_replay::archive::{write_archive, ArchiveError, ArchiveMeta, ArchiveSummary};
use thiserror::Error;

use crate::app::error::AppError;
use crate::app::handle::App;

/// The first events scanned for the unit registration that names the archive's unit. A
/// commune's log registers its unit among its first events; a log that does not gets an empty
/// unit rather than a full scan before the export starts.
pub const UNIT_SCAN_EVENTS: usize = 1000;

/// Why an export cannot be planned or written.
#[derive(Debug, Error)]
pub enum ExportError {
    #[error("invalid range: {0}")]
    Range(String),
    #[error("log: {0}")]
    Log(#[from] LogError),
    #[error("archive: {0}")]
    Archive(#[from] ArchiveError),
    #[error("internal: {0}")]
    Internal(String),
}

/// What an export will write, fixed when it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPlan {
    pub first_seq: u64,
    pub last_seq: u64,
    /// Hash of event `last_seq` (genesis for an empty log): the trailer's head hash.
    pub head_hash: [u8; 32],
    pub meta: ArchiveMeta,
}

impl ExportPlan {
    /// Fixes the range `from..=to` (defaults: 1 and the durable head; `to` is clamped to the
    /// head) and the header fields. `created_at_ms` is the `recorded_at` of the last event in
    /// range (0 if none): the moment the archive's content is as of, so exporting the same range
    /// twice gives the same bytes. The unit is the first unit registered in the log.
    pub fn new(
        log: &EventLog,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Result<ExportPlan, ExportError> {
        let head = log.head();
        let first_seq = from.unwrap_or(1);
        if first_seq == 0 {
            return Err(ExportError::Range("from must be at least 1".into()));
        }
        if first_seq > head.seq.saturating_add(1) {
            return Err(ExportError::Range(format!(
                "from {first_seq} is beyond the head (seq {})",
                head.seq
            )));
        }
        let last_seq = match to {
            Some(t) if t < first_seq => {
                return Err(ExportError::Range(format!(
                    "to {t} is before from {first_seq}"
                )))
            }
            Some(t) => t.min(head.seq),
            None => head.seq,
        };
        let (head_hash, created_at_ms) = if last_seq == 0 {
            (GENESIS_HASH, 0)
        } else {
            let last = log
                .read_all(last_seq - 1, 1)?
                .into_iter()
                .next()
                .filter(|e| e.seq == last_seq)
                .ok_or_else(|| ExportError::Internal(format!("event {last_seq} not readable")))?;
            (last.hash, last.recorded_at_ms)
        };
        let unit = log
            .read_all(0, UNIT_SCAN_EVENTS.min(last_seq as usize))?
            .into_iter()
            .find_map(|e| e.stream.unit_code())
            .map(|u| u.to_string())
            .unwrap_or_default();
        Ok(ExportPlan {
            first_seq,
            last_seq,
            head_hash,
            meta: ArchiveMeta {
                unit,
                created_at_ms,
            },
        })
    }

    /// Number of events in range.
    pub fn count(&self) -> u64 {
        (self.last_seq + 1).saturating_sub(self.first_seq)
    }

    /// The file name offered for download.
    pub fn file_name(&self) -> String {
        format!("motcua-{}-{}.archive", self.first_seq, self.last_seq)
    }

    /// Writes the archive of the planned range to `out` (blocking: sled reads and `out`).
    pub fn write<W: Write>(&self, log: &EventLog, out: W) -> Result<ArchiveSummary, ExportError> {
        let (summary, _) =
            write_archive(log, self.first_seq, Some(self.last_seq), &self.meta, out)?;
        if summary.count != self.count() || summary.head_hash != self.head_hash {
            return Err(ExportError::Internal(format!(
                "wrote {} events ending on {}, planned {} ending on {}",
                summary.count,
                hex::encode(summary.head_hash),
                self.count(),
                hex::encode(self.head_hash)
            )));
        }
        Ok(summary)
    }
}

/// A planned export of the running server's log.
#[derive(Debug, Clone)]
pub struct ExportJob {
    pub plan: ExportPlan,
    log: EventLog,
}

impl ExportJob {
    /// Writes the archive to `out` (blocking: run it on a blocking thread).
    pub fn write<W: Write>(&self, out: W) -> Result<ArchiveSummary, ExportError> {
        self.plan.write(&self.log, out)
    }
}

impl App {
    /// Plans the archive of `from..=to` of the log (see [`ExportPlan::new`]); an invalid range
    /// is refused on the field `range`.
    pub fn export(&self, from: Option<u64>, to: Option<u64>) -> Result<ExportJob, AppError> {
        let log = self.log().clone();
        let plan = ExportPlan::new(&log, from, to).map_err(|e| match e {
            ExportError::Range(why) => AppError::invalid("range", why),
            other => AppError::internal(other),
        })?;
        Ok(ExportJob { plan, log })
    }
}
