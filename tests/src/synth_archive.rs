//! A synthetic archive for the benches: the testkit's synthetic desk history (valid dossier
//! lifecycles, calendarised so the domain's judgement finds nothing), hash-chained as the log
//! chains it and written in the archive format. `verify-bench` and `restore-bench` share it, so
//! both measure the same bytes.

use std::collections::HashMap;
use std::path::Path;

use motcua_engine::codec;
use motcua_engine::domain::events::{Event, SCHEMA_VERSION};
use motcua_engine::log::{Actor, Envelope, EventId, StreamId, GENESIS_HASH};
use motcua_replay::archive::{write_archive_from, ArchiveError, ArchiveHeader, ArchiveSummary};
use motcua_testkit::synth::{self, SynthConfig};

/// About 6.5 events per dossier in the synthetic lifecycles: generate `events / this` dossiers,
/// then cut the history to exactly the events asked for.
const EVENTS_PER_DOSSIER: u64 = 6;

/// The first `recorded_at` of the archive (3 January 2023, 08:00 in Hanoi).
const FIRST_RECORDED_AT_MS: i64 = 1_672_707_600_000;

/// Why the synthetic archive could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SynthArchiveError {
    #[error("reference data: {0}")]
    Reference(String),
    #[error("archive: {0}")]
    Archive(#[from] ArchiveError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Writes an archive of (at most) `target` events of a synthetic history over `units` units to
/// `path`; returns its summary. Seq-derived event ids, `recorded_at` following the dossiers'
/// business time, never decreasing.
pub fn write_synthetic_archive(
    path: &Path,
    target: u64,
    units: usize,
) -> Result<ArchiveSummary, SynthArchiveError> {
    let cfg = SynthConfig::demo(units);
    let dossiers = (target / EVENTS_PER_DOSSIER).max(1) as usize;
    let mut events = synth::history(&cfg, 42, dossiers);
    motcua_testkit::calendarise::calendarise(&mut events)
        .map_err(|e| SynthArchiveError::Reference(e.to_string()))?;
    let n = events.len().min(target as usize) as u64;
    let mut versions = HashMap::<StreamId, u64>::new();
    let mut prev = GENESIS_HASH;
    let mut recorded = FIRST_RECORDED_AT_MS;
    let envs = events.iter().take(n as usize).enumerate().map(|(i, e)| {
        let v = versions.entry(e.stream.clone()).or_insert(0);
        *v += 1;
        if let Event::Dossier(d) = &e.event {
            recorded = recorded.max(d.at.0);
        }
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
        let mut env = Envelope {
            seq: i as u64 + 1,
            stream: e.stream.clone(),
            version: *v,
            event_id: EventId(id),
            event_type: e.event.event_type().to_owned(),
            schema_version: SCHEMA_VERSION,
            recorded_at_ms: recorded,
            actor: Actor {
                staff: e.actor.clone(),
                role: e.role.as_str().to_owned(),
            },
            correlation_id: None,
            causation_id: None,
            payload: codec::encode(&e.event),
            prev_hash: prev,
            hash: [0; 32],
        };
        env.hash = env.compute_hash();
        prev = env.hash;
        Ok::<_, ArchiveError>(env)
    });
    let header = ArchiveHeader {
        unit: cfg.units[0].to_string(),
        first_seq: 1,
        last_seq: n,
        first_prev_hash: GENESIS_HASH,
        created_at_ms: 0,
        engine_version: motcua_replay::archive::engine_version(),
    };
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let (summary, mut file) = write_archive_from(header, envs, file)?;
    std::io::Write::flush(&mut file)?;
    Ok(summary)
}
