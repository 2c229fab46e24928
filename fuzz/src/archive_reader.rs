//! `archive_reader`: arbitrary bytes as a motcua archive, read fully twice: by the streaming
//! [`ArchiveReader`] (every record decoded with the archive's codec), and by the auditor's whole
//! `verify` pass (container, chain and domain layers) over a [`Source`] opened on a file.
//!
//! Property: neither panics; memory stays bounded (a record is at most
//! [`archive::MAX_RECORD_BYTES`], checked here; the fuzzer runs with `-malloc_limit_mb`); every
//! structural error past the header names a byte offset inside the input; a trailer is only
//! reported once the whole input was consumed, with the number of records actually read.

use std::path::{Path, PathBuf};

use motcua_replay::archive::{self, ArchiveError, ArchiveReader, Trailer};
use motcua_replay::progress::Progress;
use motcua_replay::source::Source;
use motcua_replay::verify::{verify, VerifyOptions, VerifyReport};

/// What reading one input produced (kept for the replay test's assertions).
#[derive(Debug)]
pub struct Outcome {
    /// Records the streaming reader yielded.
    pub records: u64,
    /// Of those, records whose envelope decoded.
    pub decoded: u64,
    /// How the stream ended: the trailer, or the error that ended it (`open` included).
    pub end: Result<Trailer, ArchiveError>,
    /// The `verify` report (None if the archive's header did not open).
    pub report: Option<VerifyReport>,
}

/// A scratch file for the `verify` pass, unique per process and thread (tests run in parallel).
pub fn scratch_path() -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    std::env::temp_dir().join(format!(
        "motcua-fuzz-archive-{}-{thread}.motcua",
        std::process::id()
    ))
}

/// Reads `data` as an archive; panics if a property above does not hold. `scratch` is a file
/// path the `verify` pass may overwrite.
pub fn check(data: &[u8], scratch: &Path) -> Outcome {
    let len = data.len() as u64;
    let mut records = 0u64;
    let mut decoded = 0u64;
    let mut opened = false;
    let end = match ArchiveReader::open(data) {
        Err(e) => Err(e),
        Ok(mut reader) => loop {
            opened = true;
            match reader.next_record() {
                Ok(Some(rec)) => {
                    assert!(
                        rec.offset < len,
                        "record offset {} past the input",
                        rec.offset
                    );
                    assert!(rec.bytes.len() as u64 <= u64::from(archive::MAX_RECORD_BYTES));
                    records += 1;
                    if archive::decode_record(&rec.bytes).is_ok() {
                        decoded += 1;
                    }
                }
                Ok(None) => {
                    let trailer = reader.trailer().cloned().expect("trailer after the end");
                    assert_eq!(reader.offset(), len, "trailer before the end of the input");
                    assert_eq!(trailer.records_read, records);
                    break Ok(trailer);
                }
                Err(e) => break Err(e),
            }
        },
    };
    if let Err(e) = &end {
        check_error(e, len);
    }

    let report = if !opened {
        None
    } else {
        std::fs::write(scratch, data).expect("scratch file");
        let source = Source::open(scratch).expect("the header opened from memory");
        let report = verify(source, &VerifyOptions::default(), &Progress::hidden());
        let _ = std::fs::remove_file(scratch);
        assert_eq!(
            report.events, records,
            "verify read another number of records"
        );
        if end.is_err() || decoded < records {
            assert!(
                !report.findings.is_empty(),
                "a damaged archive verified clean"
            );
        }
        Some(report)
    };
    Outcome {
        records,
        decoded,
        end,
        report,
    }
}

/// Every error past the fixed header names an offset within the input.
fn check_error(e: &ArchiveError, len: u64) {
    let _ = e.to_string();
    match e {
        ArchiveError::Truncated { offset, .. }
        | ArchiveError::RecordTooLarge { offset, .. }
        | ArchiveError::BadTrailer { offset }
        | ArchiveError::TrailingGarbage { offset, .. } => {
            assert!(
                *offset <= len,
                "error offset {offset} past the input ({len} bytes): {e}"
            )
        }
        ArchiveError::BadMagic { .. }
        | ArchiveError::UnsupportedVersion { .. }
        | ArchiveError::BadHeader(_) => {}
        other => panic!("unexpected error reading from memory: {other}"),
    }
}
