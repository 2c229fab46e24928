//! Makes a synthetic history's recorded dates follow the calendar, so that the benches and the
//! tests verify a history `motcua-replay verify` finds clean.

use std::collections::HashMap;

use motcua_engine::domain::calendar::{local_date, UnitCalendar};
use motcua_engine::domain::events::{DossierChange, Event};
use motcua_engine::domain::reference::ReferenceError;
use motcua_engine::domain::{apply, DossierState, ReferenceData};

use crate::synth::SynthEvent;

/// Rewrites the rule sets and due dates of a synthetic history ([`crate::synth`]) as the
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

/// The dossier unit's calendar (the default office hours before a receipt).
fn unit_calendar<'r>(reference: &'r ReferenceData, state: &DossierState) -> UnitCalendar<'r> {
    match &state.receipt {
        Some(r) => reference.calendar.unit(&r.unit),
        None => reference.calendar.default_unit(),
    }
}
