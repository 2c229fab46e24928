//! The domain layer of `verify`: re-judges every recorded dossier change with the engine's own
//! domain code and the reference data of its time. Nothing here states a rule: each change is
//! judged by the domain's [`check_recorded`], which runs the preconditions `decide` runs
//! (`motcua_engine::domain::dossier::precondition`), and the state is the domain's
//! [`DossierState`], folded by the domain's [`apply`]. A rule changed in the engine, or in a
//! workflow file, changes the verdict here without a change to this file.
//!
//! Who recorded each change and when is judged the same way, by the domain's
//! [`check_recorded_by`]: the envelope's actor against the staff directory as of its seq
//! (exists, active, holds the recorded role, in scope for the dossier), its business time
//! against its `recorded_at`.
//!
//! What this checker adds is bookkeeping over the log:
//! - reference: the catalog, directory and calendar events are folded with
//!   [`ReferenceData::apply`] as they come, so each dossier event is judged with the reference
//!   data (the staff directory included) as it stood when it was recorded; in a range archive
//!   the staff registered before its first seq are unknown, so an unknown actor is not a
//!   finding there; rule sets and workflows are the ones the checker is
//!   given ([`ReferenceData::builtin`] for `verify`, as the server loads them);
//! - stream: a dossier event lives on its dossier's stream (`StreamId::dossier`);
//! - the fold: the phase [`apply`] reaches is the one the transition promises
//!   ([`expected_phase`]);
//! - ended dossiers: once a dossier reaches a terminal state its state is dropped and any later
//!   change is judged by [`check_after_end`];
//! - ratings: a citizen's rating (`rating/<code>`) is judged on the rated dossier as last seen
//!   ([`check_recorded_rating`]);
//! - desk intakes: the two events of one desk intake ([`opens_desk_intake`],
//!   [`closes_desk_intake`]) must follow each other.

use motcua_engine::domain::dossier::{
    apply, check_after_end, check_recorded, check_recorded_by, closes_desk_intake, expected_phase,
    opens_desk_intake, recorded_workflow, Breach, DirectoryAsOf, RecordedBy, RecordedRule,
    RecordedVerdict,
};
/// The domain's office-time helpers, for the checker's callers (history, bench).
pub use motcua_engine::domain::dossier::{office_minutes_used, unit_calendar};
use motcua_engine::domain::events::{DossierEvent, Event};
use motcua_engine::domain::personal::{decide_erasure, PersonalEvent};
use motcua_engine::domain::rating::{check_recorded_rating, RatingEvent};
use motcua_engine::domain::types::{DossierCode, Role, Timestamp, UnitCode, WorkflowId};
use motcua_engine::domain::workflow::Phase;
use motcua_engine::domain::{DossierState, ReferenceData};
use motcua_engine::log::StreamId;
/// The engine's FxHash map: the keys (dossier codes, stream names) come from the archive under
/// audit and are few per event, so SipHash's flooding resistance buys nothing here either.
pub use motcua_engine::projection::store::FastMap;
use motcua_engine::streams::is_dossier_stream_of;

use crate::verify::Finding;

/// The log's facts about the event being checked.
#[derive(Debug, Clone, Copy)]
pub struct EventAt<'a> {
    pub seq: u64,
    pub stream: &'a str,
    /// The event's version in its stream.
    pub version: u64,
    /// The envelope's actor: a staff id, or `citizen:<account>`.
    pub actor: &'a str,
    pub role: Role,
    /// When the log recorded the event.
    pub recorded_at: Timestamp,
}

/// What the checker remembers of one dossier.
#[derive(Debug, Clone, Default)]
struct DossierFacts {
    state: DossierState,
    /// Set once the dossier reached a terminal state of its workflow (phase, workflow, unit):
    /// the state is then dropped, since no dossier event may follow (a workflow's terminal
    /// states have no exits), which keeps the checker's memory to the open dossiers. The unit
    /// stays: a rating, recorded after hand-over on its own stream, names it.
    ended: Option<(Phase, WorkflowId, Option<UnitCode>)>,
    /// Seq of a desk intake recorded as `SubmittedOnline` whose guidance or refusal (the second
    /// event of the same command) has not been seen yet.
    desk_intake: Option<u64>,
}

/// Running state of the domain checks.
pub struct DomainCheck {
    reference: ReferenceData,
    dossiers: FastMap<String, DossierFacts>,
    /// The log starts after seq 1 (a range archive): a dossier first seen after its first
    /// event is not judged (its state before the range is not in the archive).
    mid_log: bool,
    /// Dossiers of a mid-log archive that began before it.
    unjudged: FastMap<String, ()>,
    transitions: u64,
    dues: u64,
}

impl DomainCheck {
    /// A checker judging with `reference`'s rule sets and workflows (its catalog, directory and
    /// calendar are extended by the log's own reference events as they come).
    pub fn new(reference: ReferenceData) -> DomainCheck {
        DomainCheck {
            reference,
            dossiers: FastMap::default(),
            mid_log: false,
            unjudged: FastMap::default(),
            transitions: 0,
            dues: 0,
        }
    }

    /// This checker for a log that starts after seq 1 when `mid_log` (a range archive).
    pub fn starting_mid_log(self, mid_log: bool) -> DomainCheck {
        DomainCheck { mid_log, ..self }
    }

    /// Whether dossier events of `code` at `at` are not judged: a range archive holds only
    /// the end of its life.
    fn begun_before(&mut self, code: &str, at: &EventAt<'_>) -> bool {
        if !self.mid_log || self.dossiers.contains_key(code) {
            return false;
        }
        if self.unjudged.contains_key(code) {
            return true;
        }
        if at.version > 1 {
            self.unjudged.insert(code.to_owned(), ());
            return true;
        }
        false
    }

    pub fn transitions_checked(&self) -> u64 {
        self.transitions
    }

    pub fn due_dates_checked(&self) -> u64 {
        self.dues
    }

    /// Checks one decoded event.
    pub fn check(&mut self, at: EventAt<'_>, event: &Event, findings: &mut Vec<Finding>) {
        let ev = match event {
            Event::Dossier(ev) => ev,
            Event::Personal(p) => return check_erasure(at, p, findings),
            Event::Rating(r) => return self.check_rating(at, r, findings),
            other => {
                self.reference.apply(other);
                return;
            }
        };
        check_stream(at, ev, findings);
        if self.begun_before(ev.code.as_str(), &at) {
            return;
        }
        self.transitions += 1;
        // get_mut first: no key allocation for a known dossier.
        if !self.dossiers.contains_key(ev.code.as_str()) {
            self.dossiers
                .insert(ev.code.as_str().to_owned(), DossierFacts::default());
        }
        let Some(facts) = self.dossiers.get_mut(ev.code.as_str()) else {
            return;
        };
        let breaches = match &facts.ended {
            Some((phase, wf, _)) => self
                .reference
                .workflows
                .get(wf)
                .and_then(|wf| check_after_end(wf, *phase, &ev.change))
                .into_iter()
                .collect(),
            None => {
                pair_desk_intake(facts, at, ev, findings);
                let verdict = judge_and_fold(&self.reference, !self.mid_log, facts, at, ev);
                if verdict.dues_checked {
                    self.dues += 1;
                }
                verdict.breaches
            }
        };
        for b in breaches {
            findings.push(Finding::new(
                at.seq,
                Some(at.stream),
                b.rule.as_str(),
                b.detail,
            ));
        }
    }

    /// End-of-log findings: a desk intake whose second half never came.
    pub fn finish(self, findings: &mut Vec<Finding>) {
        let mut open: Vec<(u64, String)> = self
            .dossiers
            .iter()
            .filter_map(|(code, f)| f.desk_intake.map(|seq| (seq, code.clone())))
            .collect();
        open.sort();
        for (seq, code) in open {
            // The map's keys are the codes of decoded events, so they parse.
            let stream = code
                .parse::<DossierCode>()
                .map_or(code, |c| StreamId::dossier(&c).to_string());
            findings.push(Finding::new(
                seq,
                Some(&stream),
                "transition",
                "a desk intake recorded as a submission is not followed by its guidance or \
                 refusal"
                    .into(),
            ));
        }
    }
}

impl DomainCheck {
    /// A rating is judged by the domain's [`check_recorded_rating`] (the rules of
    /// `decide_rating` less the secret the log never holds) on the rated dossier as this
    /// checker last saw it: handed over, the first event of its `rating/<code>` stream (the
    /// log's stream versions are checked by the chain), by a citizen actor in the citizen role.
    /// In a range archive a dossier whose life began before the range is not judged.
    fn check_rating(&mut self, at: EventAt<'_>, event: &RatingEvent, findings: &mut Vec<Finding>) {
        let RatingEvent::Given { dossier, .. } = event;
        let expected = StreamId::rating(dossier);
        if at.stream != expected.as_str() {
            findings.push(Finding::new(
                at.seq,
                Some(at.stream),
                "stream",
                format!(
                    "rating of dossier {dossier} recorded on stream {} (expected {expected})",
                    at.stream
                ),
            ));
        }
        let code = dossier.as_str();
        let facts = self.dossiers.get(code);
        if self.mid_log && (facts.is_none() || self.unjudged.contains_key(code)) {
            return;
        }
        let phase = facts.map_or(Phase::None, |f| {
            f.ended.as_ref().map_or(f.state.phase, |(p, _, _)| *p)
        });
        let unit = facts.and_then(|f| match &f.ended {
            Some((_, _, unit)) => unit.as_ref(),
            None => f.state.unit_and_field().map(|(u, _)| u),
        });
        if let Err(e) = check_recorded_rating(phase, unit, at.version > 1, at.actor, at.role, event)
        {
            findings.push(Finding::new(
                at.seq,
                Some(at.stream),
                "rating",
                e.to_string(),
            ));
        }
    }
}

/// An erasure is an admin's decision, recorded on the person's own stream: judged by the
/// engine's own decision ([`decide_erasure`]) with the role the envelope records.
fn check_erasure(at: EventAt<'_>, event: &PersonalEvent, findings: &mut Vec<Finding>) {
    let PersonalEvent::Erased {
        subject,
        reason,
        note,
        at: when,
    } = event;
    if let Err(e) = decide_erasure(&[at.role], *subject, *reason, note, *when) {
        findings.push(Finding::new(at.seq, Some(at.stream), "role", e.to_string()));
    }
    let expected = StreamId::personal(subject);
    if at.stream != expected.as_str() {
        findings.push(Finding::new(
            at.seq,
            Some(at.stream),
            "stream",
            format!(
                "erasure of subject {subject} recorded on stream {} (expected {expected})",
                at.stream
            ),
        ));
    }
}

/// A dossier event lives on its dossier's stream ([`StreamId::dossier`]; checked without
/// building the name).
fn check_stream(at: EventAt<'_>, ev: &DossierEvent, findings: &mut Vec<Finding>) {
    if !is_dossier_stream_of(at.stream, &ev.code) {
        findings.push(Finding::new(
            at.seq,
            Some(at.stream),
            "stream",
            format!(
                "event of dossier {} recorded on stream {} (expected {})",
                ev.code,
                at.stream,
                StreamId::dossier(&ev.code)
            ),
        ));
    }
}

/// The two events of a desk intake follow each other: a pending first half must be closed by
/// this event, and this event may open one.
fn pair_desk_intake(
    facts: &mut DossierFacts,
    at: EventAt<'_>,
    ev: &DossierEvent,
    findings: &mut Vec<Finding>,
) {
    if let Some(pending) = facts.desk_intake.take() {
        if !closes_desk_intake(&ev.change) {
            findings.push(Finding::new(
                pending,
                Some(at.stream),
                "transition",
                "a desk intake recorded as a submission must be followed by its guidance or \
                 refusal"
                    .into(),
            ));
        }
    }
    if opens_desk_intake(&facts.state, &ev.change) {
        // Judged with the guidance or refusal that follows (one command, two events).
        facts.desk_intake = Some(at.seq);
    }
}

/// Judges `ev` with the domain's rules on the dossier's state (the transition by the recorded
/// role with [`check_recorded`], the actor and the business time with [`check_recorded_by`],
/// against the staff directory folded up to this seq, complete unless the log starts mid-way),
/// folds it in with the domain's `apply` (which must reach the phase the transition promises),
/// and drops the state once the dossier has ended.
fn judge_and_fold(
    reference: &ReferenceData,
    directory_complete: bool,
    facts: &mut DossierFacts,
    at: EventAt<'_>,
    ev: &DossierEvent,
) -> RecordedVerdict {
    let before = std::mem::take(&mut facts.state);
    let mut verdict = check_recorded(&before, ev, at.role, reference);
    let by = RecordedBy {
        actor: at.actor,
        role: at.role,
        recorded_at: at.recorded_at,
    };
    let directory = DirectoryAsOf {
        directory: &reference.directory,
        complete: directory_complete,
    };
    verdict
        .breaches
        .extend(check_recorded_by(&before, ev, by, directory));
    let after = apply(before, ev);
    let promised = expected_phase(verdict.from, verdict.action);
    if verdict.legal && after.phase != promised {
        verdict.breaches.push(Breach {
            rule: RecordedRule::Transition,
            detail: format!(
                "{}: the fold reaches {} where the workflow promises {promised}",
                ev.change.event_type(),
                after.phase
            ),
        });
    }
    match recorded_workflow(&after, &ev.change, reference) {
        Ok(wf) if wf.is_terminal(after.phase) => {
            let unit = after.unit_and_field().map(|(u, _)| u.clone());
            facts.ended = Some((after.phase, wf.id.clone(), unit));
        }
        _ => facts.state = after,
    }
    verdict
}
