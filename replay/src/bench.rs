//! The baseline `verify --bench` compares against: a bare scan of the same source that only
//! decodes each record's envelope (no hashing, no payload decoding, no domain checks); and
//! [`calendarise`], which makes a synthetic history's due dates follow the calendar so that the
//! bench and the tests verify a history `verify` finds clean.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use motcua_engine::domain::calendar::local_date;
use motcua_engine::domain::events::{DossierChange, Event};
use motcua_engine::domain::reference::ReferenceError;
use motcua_engine::domain::{apply, DossierState, ReferenceData};
use motcua_engine::projection::synth::SynthEvent;

use motcua_engine::codec;
use motcua_engine::log::Envelope;

use crate::domain_check::unit_calendar;
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

/// Rewrites the rule sets and due dates of a synthetic history (`projection::synth`) as the
/// service would have recorded them: the generator names `nd61-2018` even after 1 July 2025
/// and moves due dates by whole days of 24 h, which no working calendar gives, so `verify`
/// would (rightly) flag those receipts and resumes. The rule set is the one in force on the
/// receipt date, the calendar the domain's, folded from the history's own calendar events
/// (weekends only if none).
///
/// Test and bench data only: an archive to verify is never rewritten.
pub fn calendarise(events: &mut [SynthEvent]) -> Result<(), ReferenceError> {
    let mut reference = ReferenceData::builtin()?;
    let mut states: HashMap<String, DossierState> = HashMap::new();
    for e in events.iter_mut() {
        let ev = match &mut e.event {
            Event::Dossier(ev) => ev,
            other => {
                reference.apply(other);
                continue;
            }
        };
        let state = states.entry(ev.code.as_str().to_owned()).or_default();
        match &mut ev.change {
            DossierChange::Received(r) => {
                let cal = reference.calendar.unit(&r.unit);
                if let Some(rs) = reference.rules.in_force(local_date(ev.at)) {
                    r.rule_set = rs.id.clone();
                }
                let cutoff = reference
                    .rules
                    .get(&r.rule_set)
                    .map_or(15 * 60, |rs| rs.same_day_cutoff_minute);
                r.clock_start = cal.clock_start(ev.at);
                r.due = cal.due(ev.at, r.processing_time, cutoff);
            }
            DossierChange::SupplementReceived {
                paused_office_minutes,
                new_due,
                ..
            }
            | DossierChange::PaymentRecorded {
                paused_office_minutes,
                new_due,
                ..
            } => {
                if let (Some(since), Some(due)) = (state.paused_since, state.due) {
                    let cal = unit_calendar(&reference, state);
                    *paused_office_minutes = cal.office_minutes_between(since, ev.at);
                    *new_due = cal.add_office_minutes(due, *paused_office_minutes);
                }
            }
            _ => {}
        }
        *state = apply(std::mem::take(state), ev);
    }
    Ok(())
}
