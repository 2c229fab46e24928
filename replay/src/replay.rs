//! Replaying a source: decode every record into the events the folds see and fold them "as of"
//! an instant with the projections' own code (`projection::fold_as_of`), so the figures, queues
//! and inboxes an auditor recomputes are computed by exactly the code the server runs.
//!
//! Replay assumes a sound log: an undecodable record stops it with the seq named (run `verify`
//! to see every finding).

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use motcua_engine::codec;
use motcua_engine::domain::events::Recorded;
use motcua_engine::domain::types::Timestamp;
use motcua_engine::log::Envelope;
use motcua_engine::projection::{decode_envelope, fold_as_of, AsOf, ProjectionError};
use thiserror::Error;

use crate::progress::Progress;
use crate::source::{Source, SourceEnd, SourceError};

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error("record after seq {after} does not decode ({why}); run `motcua-replay verify`")]
    Decode { after: u64, why: String },
    #[error("{0}; run `motcua-replay verify`")]
    Projection(#[from] ProjectionError),
    #[error("the source is damaged: {0}; run `motcua-replay verify`")]
    Broken(String),
    #[error("{0}")]
    Usage(String),
}

/// Asia/Ho_Chi_Minh: UTC+7, no daylight saving since 1975.
pub fn local_offset() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600)
        .unwrap_or_else(|| FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!()))
}

/// Local wall-clock rendering of an instant: `2023-01-31 17:00`.
pub fn local_time(t: Timestamp) -> String {
    local_offset()
        .timestamp_millis_opt(t.0)
        .single()
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| t.0.to_string())
}

/// Parses `--as-of`: RFC 3339 (`2023-08-31T17:00:00+07:00`), local `YYYY-MM-DDTHH:MM[:SS]`, or a
/// local date `YYYY-MM-DD`, which means the end of that day (everything that happened on it).
pub fn parse_instant(s: &str) -> Result<Timestamp, ReplayError> {
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(Timestamp(dt.timestamp_millis()));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
            if let Some(dt) = local_offset().from_local_datetime(&naive).single() {
                return Ok(Timestamp(dt.timestamp_millis()));
            }
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let next = date.succ_opt().unwrap_or(date);
        if let Some(dt) = local_offset()
            .from_local_datetime(&next.and_time(chrono::NaiveTime::MIN))
            .single()
        {
            return Ok(Timestamp(dt.timestamp_millis() - 1));
        }
    }
    Err(ReplayError::Usage(format!(
        "cannot read the instant {s:?}: use YYYY-MM-DD, YYYY-MM-DDTHH:MM (local) or RFC 3339"
    )))
}

/// An iterator over the decoded events of a source, in log order. Ends with an error item if a
/// record does not decode or the container is damaged.
pub struct Events<'a> {
    source: Source,
    progress: &'a Progress,
    last_seq: u64,
    failed: bool,
}

impl<'a> Events<'a> {
    pub fn new(source: Source, progress: &'a Progress) -> Events<'a> {
        Events {
            source,
            progress,
            last_seq: 0,
            failed: false,
        }
    }

    fn next_envelope(&mut self) -> Option<Result<Envelope, ReplayError>> {
        if self.failed {
            return None;
        }
        match self.source.next_record() {
            Some(rec) => {
                self.progress.inc(1);
                match codec::decode_record::<Envelope>(&rec.bytes) {
                    Ok(env) => {
                        self.last_seq = env.seq;
                        Some(Ok(env))
                    }
                    Err(e) => {
                        self.failed = true;
                        Some(Err(ReplayError::Decode {
                            after: self.last_seq,
                            why: e.to_string(),
                        }))
                    }
                }
            }
            None => match self.source.end() {
                SourceEnd::Broken(why) => {
                    self.failed = true;
                    Some(Err(ReplayError::Broken(why)))
                }
                _ => None,
            },
        }
    }

    /// The raw envelopes (for `diff`).
    pub fn envelopes(self) -> impl Iterator<Item = Result<Envelope, ReplayError>> + 'a {
        let mut me = self;
        std::iter::from_fn(move || me.next_envelope())
    }
}

impl Iterator for Events<'_> {
    type Item = Result<Recorded, ReplayError>;
    fn next(&mut self) -> Option<Self::Item> {
        let env = match self.next_envelope()? {
            Ok(env) => env,
            Err(e) => return Some(Err(e)),
        };
        Some(decode_envelope(&env).map_err(|e| {
            self.failed = true;
            ReplayError::Projection(e)
        }))
    }
}

/// Folds the source's events that had happened by `t` into in-memory read models, showing each
/// event to `tap` on the way (decoded, before the as-of filter).
pub fn fold(
    source: Source,
    t: Timestamp,
    progress: &Progress,
    mut tap: impl FnMut(&Recorded),
) -> Result<AsOf, ReplayError> {
    let mut failure: Option<ReplayError> = None;
    let events = Events::new(source, progress).map_while(|r| match r {
        Ok(rec) => {
            tap(&rec);
            Some(Ok(rec))
        }
        Err(e) => {
            failure = Some(e);
            None
        }
    });
    let as_of = fold_as_of(events, t)?;
    progress.finish();
    match failure {
        Some(e) => Err(e),
        None => Ok(as_of),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_in_local_time() {
        // 2023-01-31 17:00 +07:00 = 10:00 UTC.
        let t = parse_instant("2023-01-31T17:00").unwrap();
        assert_eq!(local_time(t), "2023-01-31 17:00");
        assert_eq!(parse_instant("2023-01-31T10:00:00Z").unwrap(), t);
        let end = parse_instant("2023-01-31").unwrap();
        assert_eq!(local_time(end), "2023-01-31 23:59");
        assert!(parse_instant("31/01/2023").is_err());
    }
}
