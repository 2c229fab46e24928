//! The baseline `verify --bench` compares against: a bare scan of the same source that only
//! decodes each record's envelope (no hashing, no payload decoding, no domain checks).

use std::time::{Duration, Instant};

use motcua_engine::codec;
use motcua_engine::log::Envelope;

use crate::replay::ReplayError;
use crate::source::Source;

/// Result of a bare scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanRate {
    pub events: u64,
    pub elapsed: Duration,
}

impl ScanRate {
    pub fn events_per_second(&self) -> u64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            (self.events as f64 / s) as u64
        } else {
            0
        }
    }
}

/// Reads and decodes every record of `source`, timing it (opening excluded, like `verify`).
pub fn scan_decode(mut source: Source) -> Result<ScanRate, ReplayError> {
    let start = Instant::now();
    let mut events = 0u64;
    let mut checksum = 0u64;
    while let Some(rec) = source.next_record() {
        let env: Envelope = codec::decode_record(&rec.bytes).map_err(|e| ReplayError::Decode {
            after: events,
            why: e.to_string(),
        })?;
        // Keep the decode from being optimised away.
        checksum = checksum.wrapping_add(env.seq);
        events += 1;
    }
    std::hint::black_box(checksum);
    Ok(ScanRate {
        events,
        elapsed: start.elapsed(),
    })
}
