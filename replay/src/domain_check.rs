//! The domain layer of `verify`: re-judges every recorded dossier change as if it were being
//! decided again, with the rules of its time.
//!
//! - stream: a dossier event lives on `dossier/<its code>`;
//! - transition: the change is legal from the dossier's state, for the actor's role, under the
//!   workflow table (see [`crate::workflow`]);
//! - rule set: the receipt names the rule set in force on the receipt date, and the dossier is
//!   judged by that set for life (supplement limit, ...);
//! - due: the due date stored at receipt equals the calendar fold's due date computed from the
//!   receipt time and the processing time; every resumed due date equals the previous due date
//!   plus the paused office time the calendar gives.
//!
//! The calendar is folded from the log's own calendar events as they come, so each due date is
//! recomputed with the calendar as it stood when the dossier was received.

use std::collections::HashMap;

use motcua_engine::domain::events::{DossierChange, DraftKind, Event};
use motcua_engine::domain::types::Role;
use motcua_engine::projection::DossierState;

use crate::verify::Finding;
use crate::workflow::{self, Step};

/// The log's facts about the event being checked.
#[derive(Debug, Clone, Copy)]
pub struct EventAt<'a> {
    pub seq: u64,
    pub stream: &'a str,
    pub role: Role,
}

/// What the checker remembers of one dossier.
#[derive(Debug, Clone)]
struct DossierFacts {
    state: Option<DossierState>,
    supplements: u32,
    /// The draft waiting for a signature.
    draft: Option<DraftKind>,
}

/// Running state of the domain checks.
pub struct DomainCheck {
    dossiers: HashMap<String, DossierFacts>,
    transitions: u64,
    dues: u64,
}

impl Default for DomainCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl DomainCheck {
    pub fn new() -> DomainCheck {
        DomainCheck {
            dossiers: HashMap::new(),
            transitions: 0,
            dues: 0,
        }
    }

    pub fn transitions_checked(&self) -> u64 {
        self.transitions
    }

    pub fn due_dates_checked(&self) -> u64 {
        self.dues
    }

    /// Checks one decoded event.
    pub fn check(&mut self, at: EventAt<'_>, event: &Event, findings: &mut Vec<Finding>) {
        let Event::Dossier(ev) = event else {
            return;
        };
        let rec = at;
        let stream = Some(rec.stream);
        let expected_stream = ev.code.stream_name();
        if rec.stream != expected_stream.as_str() {
            findings.push(Finding::new(
                rec.seq,
                stream,
                "stream",
                format!(
                    "event of dossier {} recorded on stream {} (expected {expected_stream})",
                    ev.code, rec.stream
                ),
            ));
        }
        if !self.dossiers.contains_key(ev.code.as_str()) {
            self.dossiers.insert(
                ev.code.as_str().to_owned(),
                DossierFacts {
                    state: None,
                    supplements: 0,
                    draft: None,
                },
            );
        }
        let Some(facts) = self.dossiers.get_mut(ev.code.as_str()) else {
            return;
        };
        self.transitions += 1;
        match workflow::step(facts.state, &ev.change, rec.role) {
            Ok(Step { to }) => {
                if let DossierChange::SupplementRequested { .. } = ev.change {
                    facts.supplements += 1;
                    let limit = workflow::SUPPLEMENT_LIMIT;
                    if facts.supplements > limit {
                        findings.push(Finding::new(
                            rec.seq,
                            stream,
                            "supplement_limit",
                            format!(
                                "supplement requested {} times; the rule set allows {limit}",
                                facts.supplements
                            ),
                        ));
                    }
                }
                match (&ev.change, facts.draft) {
                    (DossierChange::SubmittedForSigning { draft, .. }, _) => {
                        facts.draft = Some(*draft);
                    }
                    (DossierChange::Approved { .. }, Some(DraftKind::Refusal))
                    | (DossierChange::RefusalSigned { .. }, Some(DraftKind::Result)) => {
                        findings.push(Finding::new(
                            rec.seq,
                            stream,
                            "transition",
                            format!(
                                "{}: the draft submitted for signing is of the other kind",
                                ev.change.event_type()
                            ),
                        ));
                    }
                    _ => {}
                }
                facts.state = Some(to);
            }
            Err(why) => findings.push(Finding::new(
                rec.seq,
                stream,
                "transition",
                format!("{}: {why}", ev.change.event_type()),
            )),
        }
    }

    /// End-of-log findings (none yet: every check is per event).
    pub fn finish(self, _findings: &mut [Finding]) {}
}
