//! Shared test fixtures: real event logs in temporary directories, filled with the testkit's
//! synthetic (valid) desk histories, and archives written from them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use motcua_engine::codec;
use motcua_engine::domain::events::Event;
use motcua_engine::log::{Envelope, EventLog, ExpectedVersion, LogConfig, ManualClock};
use motcua_replay::archive::{self, ArchiveMeta, ArchiveReader};
use motcua_testkit::synth::{self, SynthConfig, SynthEvent};

/// 2023-01-03 08:00 +07:00.
pub const T0: i64 = 1_672_707_600_000;

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Opens a log in `dir` with a manual clock starting at T0.
pub fn open_log(dir: &Path) -> (EventLog, ManualClock) {
    let clock = ManualClock::new(T0);
    let config = LogConfig {
        clock: Arc::new(clock.clone()),
        ..LogConfig::default()
    };
    (EventLog::open(dir, config).unwrap(), clock)
}

/// Appends events one by one (the clock follows each dossier event's business time, so
/// `recorded_at` is deterministic and never decreases).
pub fn append_all(
    rt: &tokio::runtime::Runtime,
    log: &EventLog,
    clock: &ManualClock,
    events: &[SynthEvent],
) {
    for e in events {
        if let Event::Dossier(d) = &e.event {
            clock.set(clock.get().max(d.at.0));
        }
        rt.block_on(log.append(&e.stream, ExpectedVersion::Any, vec![e.new_event()]))
            .unwrap();
    }
}

/// The synthetic history of `dossiers` dossiers on one unit, its due dates made to follow the
/// calendar (`motcua_testkit::calendarise`).
pub fn history(dossiers: usize) -> Vec<SynthEvent> {
    let mut events = synth::history(&SynthConfig::demo(1), 7, dossiers);
    motcua_testkit::calendarise::calendarise(&mut events).unwrap();
    events
}

/// A data directory holding a synthetic history, and an archive of it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub archive: PathBuf,
    pub events: u64,
}

pub fn fixture(dossiers: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let archive_path = dir.path().join("log.motcua");
    let rt = runtime();
    let (log, clock) = open_log(&data);
    append_all(&rt, &log, &clock, &history(dossiers));
    let events = log.head().seq;
    export(&log, &archive_path);
    rt.block_on(log.close()).unwrap();
    Fixture {
        dir,
        data,
        archive: archive_path,
        events,
    }
}

pub fn export(log: &EventLog, path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let meta = ArchiveMeta {
        unit: "000.00.00.G10".into(),
        created_at_ms: T0,
    };
    archive::write_archive(log, 1, None, &meta, std::io::BufWriter::new(file)).unwrap();
}

/// (offset, length incl. the 4-byte prefix, envelope) of every record of an archive.
pub fn records(bytes: &[u8]) -> Vec<(usize, usize, Envelope)> {
    let mut r = ArchiveReader::open(bytes).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        let env = archive::decode_record(&rec.bytes).unwrap();
        out.push((rec.offset as usize, rec.bytes.len() + 4, env));
    }
    out
}

/// Replaces the record at `index` with the encoding of `env`.
pub fn replace_record(
    bytes: &[u8],
    recs: &[(usize, usize, Envelope)],
    index: usize,
    env: &Envelope,
) -> Vec<u8> {
    let (off, len, _) = &recs[index];
    let rec = codec::encode_record(env);
    let mut out = bytes[..*off].to_vec();
    out.extend((rec.len() as u32).to_be_bytes());
    out.extend(rec);
    out.extend_from_slice(&bytes[off + len..]);
    out
}

/// Recomputes the archive's trailing SHA-256 (what a careful forger would do).
pub fn reseal(bytes: &mut [u8]) {
    use sha2::Digest;
    let n = bytes.len();
    let sha: [u8; 32] = sha2::Sha256::digest(&bytes[..n - 32]).into();
    bytes[n - 32..].copy_from_slice(&sha);
}
