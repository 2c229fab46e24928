//! A recorded dossier change judged by the rules `decide` applies: could the engine have decided
//! this change, given the dossier as it stood, the role the envelope records and the reference
//! data of the time? `motcua-replay verify` asks [`check_recorded`] for every dossier event; the
//! rules are [`precondition`]'s, the same functions `decide` calls, so a rule changed in the
//! domain or in a workflow file changes replay's verdict with it.
//!
//! Checked: the dossier's workflow exists and allows the action from the dossier's phase, for
//! the recorded role; a receipt names the rule set in force on its date, and its clock start and
//! due time are what the unit's calendar gives; a supplement request stays within the rule set's
//! limit; an inter-level dossier is signed only after the other agency answered; a signature
//! matches the kind of draft submitted; a resume's paused office time and new due time are what
//! the calendar gives.
//!
//! A desk dossier guided or refused at the counter is recorded as two events of one command: a
//! `SubmittedOnline` of a desk channel ([`opens_desk_intake`]) and then the guidance or refusal
//! ([`closes_desk_intake`]), judged together as that action taken from `Phase::None`.

use crate::domain::calendar::local;
use crate::domain::error::DomainError;
use crate::domain::events::{DossierChange, DossierEvent, DraftKind, Receipt};
use crate::domain::reference::ReferenceData;
use crate::domain::types::{Channel, Role, Timestamp};
use crate::domain::workflow::{Action, Phase, Transition, Workflow};

use super::command::action_of;
use super::precondition;
use super::state::DossierState;

/// Which rule a recorded change breaks. The names are stable: replay's findings use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordedRule {
    /// The dossier's workflow is unknown.
    Workflow,
    /// The action is not allowed from the dossier's phase, or its state forbids it (the draft
    /// kind, the other agency's answer, an unfinished desk intake).
    Transition,
    /// The recorded role may not take the action.
    Role,
    /// The rule set is not the one in force, or unknown.
    RuleSet,
    /// More supplement requests than the rule set allows.
    SupplementLimit,
    /// A stored clock start or due time differs from the calendar's.
    DueDate,
    /// The recorded actor could not have taken the action in the recorded role: unknown to
    /// the staff directory, deactivated, without the role, out of scope, or a citizen's account
    /// in a staff role (`check_recorded_by`).
    Actor,
    /// The business time is later than the time the log recorded the change.
    Time,
}

impl RecordedRule {
    /// Every rule (what a reader of findings derives its list of domain rules from).
    pub const ALL: [RecordedRule; 8] = [
        RecordedRule::Workflow,
        RecordedRule::Transition,
        RecordedRule::Role,
        RecordedRule::RuleSet,
        RecordedRule::SupplementLimit,
        RecordedRule::DueDate,
        RecordedRule::Actor,
        RecordedRule::Time,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordedRule::Workflow => "workflow",
            RecordedRule::Transition => "transition",
            RecordedRule::Role => "role",
            RecordedRule::RuleSet => "rule_set",
            RecordedRule::SupplementLimit => "supplement_limit",
            RecordedRule::DueDate => "due_date",
            RecordedRule::Actor => "actor",
            RecordedRule::Time => "time",
        }
    }
}

/// One rule a recorded change breaks, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    pub rule: RecordedRule,
    pub detail: String,
}

/// What [`check_recorded`] concluded about one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedVerdict {
    /// The action the change is the outcome of.
    pub action: Action,
    /// The phase it is judged from: the dossier's, or `Phase::None` for the second half of a
    /// desk intake.
    pub from: Phase,
    /// The workflow allows the action from `from` (so `apply` must reach
    /// [`expected_phase`](super::expected_phase)`(from, action)`).
    pub legal: bool,
    /// The change stores due times, and they were recomputed.
    pub dues_checked: bool,
    /// Every rule broken, in the order checked.
    pub breaches: Vec<Breach>,
}

/// Whether `change` opens a desk intake on `state`: a desk or postal dossier recorded as a
/// submission, whose guidance or refusal follows in the same command.
pub fn opens_desk_intake(state: &DossierState, change: &DossierChange) -> bool {
    matches!(change, DossierChange::SubmittedOnline(s)
        if s.channel != Channel::Online && state.phase == Phase::None)
}

/// Whether `change` may close a desk intake (the second event of the command).
pub fn closes_desk_intake(change: &DossierChange) -> bool {
    matches!(
        change,
        DossierChange::GuidedToComplete { .. } | DossierChange::RefusedToReceive { .. }
    )
}

/// The phase `action` is judged from: a desk intake's guidance or refusal is the action taken
/// on no dossier (`Phase::None`), its submission being the first half of the same command.
fn judged_from(state: &DossierState, action: Action) -> Phase {
    let desk_submission = state
        .submission
        .as_ref()
        .is_some_and(|s| s.channel != Channel::Online);
    let desk_pair = state.phase == Phase::Submitted
        && desk_submission
        && matches!(action, Action::GuideToComplete | Action::RefuseToReceive);
    if desk_pair {
        Phase::None
    } else {
        state.phase
    }
}

/// The workflow governing the dossier once `change` is recorded on `state`: the receipt's,
/// else the submitted procedure version's, else the default one.
pub fn recorded_workflow<'r>(
    state: &DossierState,
    change: &DossierChange,
    reference: &'r ReferenceData,
) -> Result<&'r Workflow, DomainError> {
    let id = match change {
        DossierChange::Received(r) => Some(&r.workflow),
        DossierChange::SubmittedOnline(s) => {
            reference.catalog.version(&s.procedure).map(|p| &p.workflow)
        }
        _ => state.workflow_ref(reference),
    };
    precondition::workflow(reference, id)
}

/// Judges `ev`, recorded in `role` on a dossier in `state`, with `reference` as it stood when
/// the event was recorded. The first half of a desk intake is judged with its second half.
pub fn check_recorded(
    state: &DossierState,
    ev: &DossierEvent,
    role: Role,
    reference: &ReferenceData,
) -> RecordedVerdict {
    let action = action_of(&ev.change);
    let mut v = RecordedVerdict {
        action,
        from: judged_from(state, action),
        legal: false,
        dues_checked: false,
        breaches: Vec::new(),
    };
    if !opens_desk_intake(state, &ev.change) {
        check_transition(&mut v, state, ev, role, reference);
    }
    v.dues_checked = check_dues(&mut v.breaches, state, ev, reference);
    v
}

/// The workflow, transition, role and state rules of one change.
fn check_transition(
    v: &mut RecordedVerdict,
    state: &DossierState,
    ev: &DossierEvent,
    role: Role,
    reference: &ReferenceData,
) {
    let kind = ev.change.event_type();
    let wf = match recorded_workflow(state, &ev.change, reference) {
        Ok(wf) => wf,
        Err(e) => return v.breach(RecordedRule::Workflow, format!("{kind}: {e}")),
    };
    let t = match precondition::transition(wf, v.from, v.action) {
        Ok(t) => t,
        Err(e) => {
            let detail = transition_detail(kind, wf, &e);
            return v.breach(RecordedRule::Transition, detail);
        }
    };
    v.legal = true;
    if let Err(e) = precondition::role_for(t, v.action, &[role]) {
        let detail = role_detail(kind, wf, role, &e);
        v.breach(RecordedRule::Role, detail);
    }
    if let Err((rule, detail)) = check_state_rules(state, ev, t, reference) {
        v.breach(rule, detail);
    }
}

/// The rules of the change's own command that the state decides: the rule set of a receipt,
/// the supplement limit, the other agency's answer, the draft kind.
fn check_state_rules(
    state: &DossierState,
    ev: &DossierEvent,
    t: &Transition,
    reference: &ReferenceData,
) -> Result<(), (RecordedRule, String)> {
    let kind = ev.change.event_type();
    let transition = |e: DomainError| (RecordedRule::Transition, format!("{kind}: {e}"));
    match &ev.change {
        DossierChange::Received(r) => receipt_rule_set(r, ev.at, reference),
        DossierChange::SupplementRequested { .. } => {
            let rule = precondition::rule_set_of(state, reference).map_err(|e| {
                let detail = format!("{kind} on a dossier without a known rule set: {e}");
                (RecordedRule::RuleSet, detail)
            })?;
            precondition::supplement_within_limit(state, rule).map_err(|e| {
                let detail = format!("{kind}: {e}; rule set {}", rule.id);
                (RecordedRule::SupplementLimit, detail)
            })
        }
        DossierChange::SubmittedForSigning { .. } => {
            precondition::agency_answered(t, state).map_err(transition)
        }
        DossierChange::Approved { .. } => {
            precondition::draft_is(state, DraftKind::Result).map_err(transition)
        }
        DossierChange::RefusalSigned { .. } => {
            precondition::draft_is(state, DraftKind::Refusal).map_err(transition)
        }
        DossierChange::FileAttached(f) => {
            precondition::file_attachable(state, f).map_err(transition)
        }
        _ => Ok(()),
    }
}

/// A receipt names the rule set in force on its date.
fn receipt_rule_set(
    r: &Receipt,
    at: Timestamp,
    reference: &ReferenceData,
) -> Result<(), (RecordedRule, String)> {
    let date = local(at).date();
    match precondition::rule_set_in_force(reference, at) {
        Ok(rs) if rs.id == r.rule_set => Ok(()),
        Ok(rs) => Err((
            RecordedRule::RuleSet,
            format!(
                "received on {date} under rule set {}, but {} was in force",
                r.rule_set, rs.id
            ),
        )),
        Err(e) => Err((RecordedRule::RuleSet, format!("received on {date}: {e}"))),
    }
}

/// Recomputes the due times a change stores; returns whether it stores any.
fn check_dues(
    breaches: &mut Vec<Breach>,
    state: &DossierState,
    ev: &DossierEvent,
    reference: &ReferenceData,
) -> bool {
    match &ev.change {
        DossierChange::Received(r) => check_receipt_dues(breaches, r, ev.at, reference),
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
            // Not paused, or never received: the transition check names it.
            if let Ok(r) = precondition::resume(state, reference, ev.at) {
                if r.paused_office_minutes != *paused_office_minutes || r.new_due != *new_due {
                    breaches.push(Breach {
                        rule: RecordedRule::DueDate,
                        detail: resume_detail(state, ev.at, *paused_office_minutes, *new_due, r),
                    });
                }
            }
        }
        _ => return false,
    }
    true
}

/// A receipt's clock start and due time, recomputed with the unit's calendar and the cutoff of
/// the rule set the receipt names (whether that set was in force is `check_state_rules`'s
/// question).
fn check_receipt_dues(
    breaches: &mut Vec<Breach>,
    r: &Receipt,
    at: Timestamp,
    reference: &ReferenceData,
) {
    let cal = reference.calendar.unit(&r.unit);
    let clock_start = precondition::clock_start(cal, at);
    if clock_start != r.clock_start {
        breaches.push(Breach {
            rule: RecordedRule::DueDate,
            detail: format!(
                "clock start stored {} but the calendar gives {}",
                local_time(r.clock_start),
                local_time(clock_start)
            ),
        });
    }
    let Some(rs) = reference.rules.get(&r.rule_set) else {
        breaches.push(Breach {
            rule: RecordedRule::RuleSet,
            detail: format!("the receipt names an unknown rule set {}", r.rule_set),
        });
        return;
    };
    let due = precondition::due(cal, at, r.processing_time, rs);
    if due != r.due {
        breaches.push(Breach {
            rule: RecordedRule::DueDate,
            detail: format!(
                "due stored {} but the calendar gives {} ({:?} from {})",
                local_time(r.due),
                local_time(due),
                r.processing_time,
                local_time(at)
            ),
        });
    }
}

/// Judges a change recorded on a dossier that had ended in `phase`, a terminal state of `wf`
/// (a checker may drop an ended dossier's state: a terminal state has no exits, so nothing
/// about the state can make a later change legal).
pub fn check_after_end(wf: &Workflow, phase: Phase, change: &DossierChange) -> Option<Breach> {
    let e = precondition::transition(wf, phase, action_of(change)).err()?;
    Some(Breach {
        rule: RecordedRule::Transition,
        detail: transition_detail(change.event_type(), wf, &e),
    })
}

impl RecordedVerdict {
    fn breach(&mut self, rule: RecordedRule, detail: String) {
        self.breaches.push(Breach { rule, detail });
    }
}

fn transition_detail(kind: &str, wf: &Workflow, e: &DomainError) -> String {
    match e {
        DomainError::IllegalTransition {
            state,
            action,
            allowed,
        } if allowed.is_empty() => format!(
            "{kind}: {action} is not allowed from {state}, a terminal state of workflow {}",
            wf.id
        ),
        DomainError::IllegalTransition {
            state,
            action,
            allowed,
        } => format!(
            "{kind}: {action} is not allowed from {state} in workflow {} (allowed: {})",
            wf.id,
            allowed.join(", ")
        ),
        other => format!("{kind}: {other}"),
    }
}

fn role_detail(kind: &str, wf: &Workflow, role: Role, e: &DomainError) -> String {
    match e {
        DomainError::Forbidden {
            action,
            required_roles,
            ..
        } => {
            let names: Vec<&str> = required_roles.iter().map(|r| r.as_str()).collect();
            format!(
                "{kind}: role {role} may not {action} in workflow {} (allowed: {})",
                wf.id,
                names.join(", ")
            )
        }
        other => format!("{kind}: {other}"),
    }
}

fn resume_detail(
    state: &DossierState,
    at: Timestamp,
    stored_minutes: u32,
    stored_due: Timestamp,
    r: precondition::Resumed,
) -> String {
    let since = state.paused_since.map_or_else(String::new, local_time);
    format!(
        "resumed with {stored_minutes} paused office minutes and due {}, but the calendar gives \
         {} minutes (paused {since} - {}) and due {}",
        local_time(stored_due),
        r.paused_office_minutes,
        local_time(at),
        local_time(r.new_due)
    )
}

/// Local wall-clock rendering of an instant: `2023-01-31 17:00`.
fn local_time(t: Timestamp) -> String {
    local(t).format("%Y-%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::RecordedRule;

    #[test]
    fn all_lists_every_rule_once_in_order() {
        for (i, rule) in RecordedRule::ALL.iter().enumerate() {
            // Exhaustive: a new rule does not compile until it has a place in `ALL`.
            let place = match rule {
                RecordedRule::Workflow => 0,
                RecordedRule::Transition => 1,
                RecordedRule::Role => 2,
                RecordedRule::RuleSet => 3,
                RecordedRule::SupplementLimit => 4,
                RecordedRule::DueDate => 5,
                RecordedRule::Actor => 6,
                RecordedRule::Time => 7,
            };
            assert_eq!(place, i, "{}", rule.as_str());
        }
    }
}
