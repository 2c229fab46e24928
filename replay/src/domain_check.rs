//! The domain layer of `verify`: re-judges every recorded dossier change with the engine's own
//! domain code and the reference data of its time. Nothing here restates a rule: the workflow
//! table, the rule sets, the calendar arithmetic and the state fold are the domain's.
//!
//! - reference: the catalog, directory and calendar events are folded with
//!   [`ReferenceData::apply`] as they come, so each dossier event is judged with the reference
//!   data as it stood when it was recorded; rule sets and workflows are the shipped ones
//!   ([`ReferenceData::builtin`]), as the server loads them;
//! - stream: a dossier event lives on `dossier/<its code>`;
//! - transition: the dossier's workflow ([`Workflow::transition`]) allows the event's action
//!   ([`action_of`]) from the dossier's phase, for the role the envelope records; the phase the
//!   domain's [`apply`] gives afterwards is the one the transition promises
//!   ([`expected_phase`]); a signature matches the kind of draft submitted; an inter-level
//!   dossier is signed only after the other agency answered;
//! - rule set: the receipt names the rule set in force on the receipt date
//!   ([`RuleSets::in_force`](motcua_engine::domain::rules::RuleSets::in_force)), and the dossier
//!   is judged by that set for life (supplement limit);
//! - due dates: the receipt's `clock_start` and `due` equal what the unit's calendar gives
//!   ([`UnitCalendar::clock_start`], [`UnitCalendar::due`] with the rule set's same-day cutoff);
//!   each resume's `paused_office_minutes` and `new_due` equal the office time since the pause
//!   began and the due time moved by it.
//!
//! The dossier state is the domain's [`DossierState`], folded by the domain's [`apply`].

use motcua_engine::domain::calendar::{local_date, UnitCalendar};
use motcua_engine::domain::dossier::{action_of, apply, expected_phase, DEFAULT_WORKFLOW};
use motcua_engine::domain::events::{DossierChange, DossierEvent, DraftKind, Event};
use motcua_engine::domain::types::{Channel, ProcedureRef, Role, Timestamp, WorkflowId};
use motcua_engine::domain::workflow::{Action, Phase, Workflow};
use motcua_engine::domain::{DossierState, ReferenceData};
/// The engine's FxHash map: the keys (dossier codes, stream names) come from the archive under
/// audit and are few per event, so SipHash's flooding resistance buys nothing here either.
pub use motcua_engine::projection::store::FastMap;

use crate::replay::local_time;
use crate::verify::Finding;

/// The log's facts about the event being checked.
#[derive(Debug, Clone, Copy)]
pub struct EventAt<'a> {
    pub seq: u64,
    pub stream: &'a str,
    pub role: Role,
}

/// What the checker remembers of one dossier.
#[derive(Debug, Clone, Default)]
struct DossierFacts {
    state: DossierState,
    /// Set once the dossier reached a terminal state of its workflow (phase, workflow): the
    /// state is then dropped, since no event may follow (a workflow's terminal states have no
    /// exits), which keeps the checker's memory to the open dossiers.
    ended: Option<(Phase, WorkflowId)>,
    /// Seq of a desk intake recorded as `SubmittedOnline` whose guidance or refusal (the second
    /// event of the same command) has not been seen yet.
    desk_intake: Option<u64>,
}

/// Running state of the domain checks.
pub struct DomainCheck {
    reference: ReferenceData,
    dossiers: FastMap<String, DossierFacts>,
    transitions: u64,
    dues: u64,
}

/// Where a check failed: the finding's rule and its detail.
type Breach = (&'static str, String);

impl DomainCheck {
    /// A checker judging with `reference`'s rule sets and workflows (its catalog, directory and
    /// calendar are extended by the log's own reference events as they come).
    pub fn new(reference: ReferenceData) -> DomainCheck {
        DomainCheck {
            reference,
            dossiers: FastMap::default(),
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
        let ev = match event {
            Event::Dossier(ev) => ev,
            other => {
                self.reference.apply(other);
                return;
            }
        };
        let stream = Some(at.stream);
        // `DossierCode::stream_name` without its allocation.
        if at.stream.strip_prefix("dossier/") != Some(ev.code.as_str()) {
            findings.push(Finding::new(
                at.seq,
                stream,
                "stream",
                format!(
                    "event of dossier {} recorded on stream {} (expected {})",
                    ev.code,
                    at.stream,
                    motcua_engine::log::StreamId::dossier(&ev.code)
                ),
            ));
        }
        // get_mut first: no key allocation for a known dossier.
        if !self.dossiers.contains_key(ev.code.as_str()) {
            self.dossiers
                .insert(ev.code.as_str().to_owned(), DossierFacts::default());
        }
        let Some(facts) = self.dossiers.get_mut(ev.code.as_str()) else {
            return;
        };
        self.transitions += 1;
        if let Some((phase, wf)) = &facts.ended {
            findings.push(Finding::new(
                at.seq,
                stream,
                "transition",
                format!(
                    "{}: {} is not allowed from {phase}, a terminal state of workflow {wf}",
                    ev.change.event_type(),
                    action_of(&ev.change)
                ),
            ));
            return;
        }
        let mut breaches: Vec<Breach> = Vec::new();
        if let Some(pending) = facts.desk_intake.take() {
            if !matches!(
                ev.change,
                DossierChange::GuidedToComplete { .. } | DossierChange::RefusedToReceive { .. }
            ) {
                findings.push(Finding::new(
                    pending,
                    stream,
                    "transition",
                    "a desk intake recorded as a submission must be followed by its guidance \
                     or refusal"
                        .into(),
                ));
            }
        }
        let desk_intake = matches!(&ev.change, DossierChange::SubmittedOnline(s)
            if s.channel != Channel::Online && facts.state.phase == Phase::None);
        if desk_intake {
            // Judged with the guidance or refusal that follows (one command, two events).
            facts.desk_intake = Some(at.seq);
        }
        let before = std::mem::take(&mut facts.state);
        let checked = judge(
            &self.reference,
            &before,
            ev,
            at.role,
            desk_intake,
            &mut breaches,
        );
        let due_checked = check_dues(&self.reference, &before, ev, &mut breaches);
        if due_checked {
            self.dues += 1;
        }
        let from = if before.phase == Phase::Submitted && checked.desk_pair {
            Phase::None
        } else {
            before.phase
        };
        let after = apply(before, ev);
        if let Some(action) = checked.legal {
            let promised = expected_phase(from, action);
            if after.phase != promised {
                breaches.push((
                    "transition",
                    format!(
                        "{}: the fold reaches {} where the workflow promises {promised}",
                        ev.change.event_type(),
                        after.phase
                    ),
                ));
            }
        }
        match workflow_of(&self.reference, &after, ev) {
            Ok(wf) if wf.is_terminal(after.phase) => {
                facts.ended = Some((after.phase, wf.id.clone()));
            }
            _ => facts.state = after,
        }
        for (rule, detail) in breaches {
            findings.push(Finding::new(at.seq, stream, rule, detail));
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
            findings.push(Finding::new(
                seq,
                Some(&format!("dossier/{code}")),
                "transition",
                "a desk intake recorded as a submission is not followed by its guidance or \
                 refusal"
                    .into(),
            ));
        }
    }
}

/// What [`judge`] concluded.
struct Judged {
    /// The action, when the workflow allows it from the dossier's phase.
    legal: Option<Action>,
    /// The event is the second half of a desk intake (judged from `Phase::None`).
    desk_pair: bool,
}

/// The workflow governing the dossier after `ev` (receipt, else the submitted procedure): the
/// domain's `DossierState::workflow_id`, borrowed rather than cloned (it runs once per event).
fn workflow_of<'r>(
    reference: &'r ReferenceData,
    before: &DossierState,
    ev: &DossierEvent,
) -> Result<&'r Workflow, String> {
    let by_procedure = |p: &ProcedureRef| reference.catalog.version(p).map(|p| &p.workflow);
    let id: Option<&WorkflowId> = match (&ev.change, &before.receipt, &before.submission) {
        (DossierChange::Received(r), _, _) => Some(&r.workflow),
        (DossierChange::SubmittedOnline(s), _, _) => by_procedure(&s.procedure),
        (_, Some(r), _) => Some(&r.workflow),
        (_, None, Some(s)) => by_procedure(&s.procedure),
        (_, None, None) => None,
    };
    let found = match id {
        Some(id) => reference.workflows.get(id),
        None => DEFAULT_WORKFLOW
            .parse::<WorkflowId>()
            .ok()
            .and_then(|id| reference.workflows.get(&id)),
    };
    found.ok_or_else(|| match id {
        Some(id) => format!("unknown workflow {id}"),
        None => format!("no workflow {DEFAULT_WORKFLOW}"),
    })
}

/// Workflow, role, rule set and draft checks of one event.
fn judge(
    reference: &ReferenceData,
    before: &DossierState,
    ev: &DossierEvent,
    role: Role,
    desk_intake: bool,
    breaches: &mut Vec<Breach>,
) -> Judged {
    let action = action_of(&ev.change);
    let desk_pair = before.phase == Phase::Submitted
        && before
            .submission
            .as_ref()
            .is_some_and(|s| s.channel != Channel::Online)
        && matches!(action, Action::GuideToComplete | Action::RefuseToReceive);
    let mut out = Judged {
        legal: None,
        desk_pair,
    };
    if desk_intake {
        // The role and the transition are judged on the second event.
        return out;
    }
    let wf = match workflow_of(reference, before, ev) {
        Ok(wf) => wf,
        Err(why) => {
            breaches.push(("workflow", format!("{}: {why}", ev.change.event_type())));
            return out;
        }
    };
    let from = if desk_pair { Phase::None } else { before.phase };
    let Some(t) = wf.transition(from, action) else {
        let allowed: Vec<&str> = wf.actions_from(from).iter().map(|a| a.as_str()).collect();
        breaches.push((
            "transition",
            format!(
                "{}: {action} is not allowed from {from} in workflow {} (allowed: {})",
                ev.change.event_type(),
                wf.id,
                allowed.join(", ")
            ),
        ));
        return out;
    };
    out.legal = Some(action);
    if !t.roles.contains(&role) {
        let names: Vec<&str> = t.roles.iter().map(|r| r.as_str()).collect();
        breaches.push((
            "role",
            format!(
                "{}: role {role} may not {action} in workflow {} (allowed: {})",
                ev.change.event_type(),
                wf.id,
                names.join(", ")
            ),
        ));
    }
    match &ev.change {
        DossierChange::Received(r) => {
            let date = local_date(ev.at);
            match reference.rules.in_force(date) {
                Some(rs) if rs.id == r.rule_set => {}
                Some(rs) => breaches.push((
                    "rule_set",
                    format!(
                        "received on {date} under rule set {}, but {} was in force",
                        r.rule_set, rs.id
                    ),
                )),
                None => breaches.push((
                    "rule_set",
                    format!("received on {date}: no rule set was in force"),
                )),
            }
        }
        DossierChange::SupplementRequested { .. } => {
            match before
                .receipt
                .as_ref()
                .and_then(|r| reference.rules.get(&r.rule_set))
            {
                Some(rs) if before.supplements_requested >= rs.supplement_limit => breaches.push((
                    "supplement_limit",
                    format!(
                        "supplement requested {} times; rule set {} allows {}",
                        u32::from(before.supplements_requested) + 1,
                        rs.id,
                        rs.supplement_limit
                    ),
                )),
                Some(_) => {}
                None => breaches.push((
                    "rule_set",
                    "supplement requested on a dossier without a known rule set".into(),
                )),
            }
        }
        DossierChange::SubmittedForSigning { .. }
            if t.requires_agency_answer && !before.agency_answered =>
        {
            breaches.push((
                "transition",
                format!(
                    "{}: workflow {} signs only after the other agency answered",
                    ev.change.event_type(),
                    wf.id
                ),
            ))
        }
        DossierChange::Approved { .. } if before.draft != Some(DraftKind::Result) => {
            breaches.push((
                "transition",
                format!(
                    "{}: the draft submitted for signing is not a result",
                    ev.change.event_type()
                ),
            ))
        }
        DossierChange::RefusalSigned { .. } if before.draft != Some(DraftKind::Refusal) => breaches
            .push((
                "transition",
                format!(
                    "{}: the draft submitted for signing is not a refusal",
                    ev.change.event_type()
                ),
            )),
        _ => {}
    }
    out
}

/// Recomputes the due dates an event stores; returns whether it stores any.
fn check_dues(
    reference: &ReferenceData,
    before: &DossierState,
    ev: &DossierEvent,
    breaches: &mut Vec<Breach>,
) -> bool {
    match &ev.change {
        DossierChange::Received(r) => {
            let cal = reference.calendar.unit(&r.unit);
            let clock_start = cal.clock_start(ev.at);
            if clock_start != r.clock_start {
                breaches.push((
                    "due_date",
                    format!(
                        "clock start stored {} but the calendar gives {}",
                        local_time(r.clock_start),
                        local_time(clock_start)
                    ),
                ));
            }
            // The cutoff of the rule set the receipt names (its own check is `judge`'s).
            match reference.rules.get(&r.rule_set) {
                Some(rs) => {
                    let due = cal.due(ev.at, r.processing_time, rs.same_day_cutoff_minute);
                    if due != r.due {
                        breaches.push((
                            "due_date",
                            format!(
                                "due stored {} but the calendar gives {} ({:?} from {})",
                                local_time(r.due),
                                local_time(due),
                                r.processing_time,
                                local_time(ev.at)
                            ),
                        ));
                    }
                }
                None => breaches.push((
                    "rule_set",
                    format!("the receipt names an unknown rule set {}", r.rule_set),
                )),
            }
            true
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
            let (Some(since), Some(due)) = (before.paused_since, before.due) else {
                // Not paused, or never received: the transition check names it.
                return true;
            };
            let cal = unit_calendar(reference, before);
            let paused = cal.office_minutes_between(since, ev.at);
            let expected_due = cal.add_office_minutes(due, paused);
            if paused != *paused_office_minutes || expected_due != *new_due {
                breaches.push((
                    "due_date",
                    format!(
                        "resumed with {} paused office minutes and due {}, but the calendar \
                         gives {paused} minutes (paused {} - {}) and due {}",
                        paused_office_minutes,
                        local_time(*new_due),
                        local_time(since),
                        local_time(ev.at),
                        local_time(expected_due)
                    ),
                ));
            }
            true
        }
        _ => false,
    }
}

/// The dossier unit's calendar (the default office hours before a receipt).
pub fn unit_calendar<'r>(reference: &'r ReferenceData, state: &DossierState) -> UnitCalendar<'r> {
    match &state.receipt {
        Some(r) => reference.calendar.unit(&r.unit),
        None => reference.calendar.default_unit(),
    }
}

/// Office minutes a dossier has used from its clock start to `end`, its pauses excluded.
pub fn office_minutes_used(
    reference: &ReferenceData,
    state: &DossierState,
    end: Timestamp,
) -> Option<u32> {
    let start = state.receipt.as_ref()?.clock_start;
    let cal = unit_calendar(reference, state);
    let mut used = cal
        .office_minutes_between(start, end)
        .saturating_sub(state.paused_office_minutes);
    // A pause still running at `end` is not time used either.
    if let Some(since) = state.paused_since {
        used = used.saturating_sub(cal.office_minutes_between(since, end));
    }
    Some(used)
}
