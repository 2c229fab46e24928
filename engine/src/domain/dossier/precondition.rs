//! The rules a dossier decision checks, one public function each, so that [`decide`] and the
//! check of a recorded history ([`check_recorded`], which `motcua-replay verify` runs) judge
//! with the same code: the workflow and its transition, the role, the rule set in force, the
//! supplement limit, the other agency's answer, the draft awaiting signature, the apology
//! window, and the clock arithmetic of a receipt and of a resume.
//!
//! Each function reads the state and the reference data and answers `Ok` or the refusal a
//! caller gets; none builds an event.
//!
//! [`decide`]: super::decide
//! [`check_recorded`]: super::check_recorded

use crate::domain::calendar::{local_date, UnitCalendar};
use crate::domain::error::DomainError;
use crate::domain::events::DraftKind;
use crate::domain::files::{
    is_clean_file_name, is_sha256_hex, AttachedFile, MAX_BYTES_PER_DOSSIER, MAX_FILES_PER_DOSSIER,
    MAX_FILE_BYTES,
};
use crate::domain::reference::ReferenceData;
use crate::domain::rules::RuleSet;
use crate::domain::types::{Role, Timestamp, WorkflowId, WorkingTime};
use crate::domain::workflow::{Action, Phase, Transition, Workflow};

use super::state::{unit_calendar, DossierState};
use super::DEFAULT_WORKFLOW;

/// The workflow `id`, or the default one for a dossier that names none yet.
pub fn workflow<'r>(
    reference: &'r ReferenceData,
    id: Option<&WorkflowId>,
) -> Result<&'r Workflow, DomainError> {
    let default: WorkflowId;
    let id = match id {
        Some(id) => id,
        None => {
            default = DEFAULT_WORKFLOW
                .parse()
                .map_err(|_| DomainError::validation("workflow", "no default workflow"))?;
            &default
        }
    };
    reference
        .workflows
        .get(id)
        .ok_or_else(|| DomainError::UnknownWorkflow(id.clone()))
}

/// The transition of `wf` taking `action` from `from`, or the refusal naming what is allowed
/// there (nothing, from a terminal state).
pub fn transition(wf: &Workflow, from: Phase, action: Action) -> Result<&Transition, DomainError> {
    wf.transition(from, action)
        .ok_or_else(|| DomainError::IllegalTransition {
            state: from.to_string(),
            action: action.to_string(),
            allowed: wf
                .actions_from(from)
                .iter()
                .map(|a| a.to_string())
                .collect(),
        })
}

/// The role in which someone holding `roles` takes transition `t`: the first of the
/// transition's roles they hold, or the refusal naming the roles required.
pub fn role_for(t: &Transition, action: Action, roles: &[Role]) -> Result<Role, DomainError> {
    t.roles
        .iter()
        .copied()
        .find(|r| roles.contains(r))
        .ok_or_else(|| DomainError::Forbidden {
            action: action.to_string(),
            required_roles: t.roles.clone(),
            actor_roles: roles.to_vec(),
        })
}

/// The rule set in force on the local date of `at`: a dossier received then is judged by it
/// for life.
pub fn rule_set_in_force(
    reference: &ReferenceData,
    at: Timestamp,
) -> Result<&RuleSet, DomainError> {
    let date = local_date(at);
    reference
        .rules
        .in_force(date)
        .ok_or_else(|| DomainError::NoRuleSet(date.to_string()))
}

/// The rule set the dossier's receipt names.
pub fn rule_set_of<'r>(
    state: &DossierState,
    reference: &'r ReferenceData,
) -> Result<&'r RuleSet, DomainError> {
    let r = state
        .receipt
        .as_ref()
        .ok_or_else(|| DomainError::validation("receipt", "the dossier was never received"))?;
    reference
        .rules
        .get(&r.rule_set)
        .ok_or_else(|| DomainError::NoRuleSet(r.rule_set.to_string()))
}

/// When the processing clock of a dossier received at `received_at` starts.
pub fn clock_start(cal: UnitCalendar<'_>, received_at: Timestamp) -> Timestamp {
    cal.clock_start(received_at)
}

/// When a dossier received at `received_at` with processing time `time` is due, under `rule`'s
/// same-day cutoff.
pub fn due(
    cal: UnitCalendar<'_>,
    received_at: Timestamp,
    time: WorkingTime,
    rule: &RuleSet,
) -> Timestamp {
    cal.due(received_at, time, rule.same_day_cutoff_minute)
}

/// Another supplement request is within the rule set's limit per dossier.
pub fn supplement_within_limit(state: &DossierState, rule: &RuleSet) -> Result<(), DomainError> {
    if state.supplements_requested >= rule.supplement_limit {
        return Err(DomainError::SupplementLimit {
            limit: rule.supplement_limit,
            used: state.supplements_requested,
        });
    }
    Ok(())
}

/// An inter-level dossier (a transition that requires it) is signed only after the other agency
/// answered.
pub fn agency_answered(t: &Transition, state: &DossierState) -> Result<(), DomainError> {
    if t.requires_agency_answer && !state.agency_answered {
        return Err(DomainError::validation(
            "agency_answer",
            "an inter-level dossier is signed only after the other agency answered",
        ));
    }
    Ok(())
}

/// The draft awaiting signature is of the kind being signed.
pub fn draft_is(state: &DossierState, kind: DraftKind) -> Result<(), DomainError> {
    if state.draft == Some(kind) {
        return Ok(());
    }
    Err(DomainError::validation(
        "draft",
        match kind {
            DraftKind::Result => {
                "the draft awaiting signature is a refusal: sign the refusal or send it back"
            }
            DraftKind::Refusal => {
                "the draft awaiting signature is a result: approve it or send it back"
            }
        },
    ))
}

/// The clock resuming at `now` after a pause (supplement or payment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resumed {
    /// Office minutes paused since the pause began.
    pub paused_office_minutes: u32,
    /// The due time moved by them.
    pub new_due: Timestamp,
}

/// The office time a pause took and the due time it moves to, when the clock resumes at `now`.
pub fn resume(
    state: &DossierState,
    reference: &ReferenceData,
    now: Timestamp,
) -> Result<Resumed, DomainError> {
    let since = state
        .paused_since
        .ok_or_else(|| DomainError::validation("pause", "the clock is not stopped"))?;
    let due = state
        .due
        .ok_or_else(|| DomainError::validation("due", "the dossier has no due time"))?;
    let cal = unit_calendar(reference, state);
    let paused = cal.office_minutes_between(since, now);
    Ok(Resumed {
        paused_office_minutes: paused,
        new_due: cal.add_office_minutes(due, paused),
    })
}

/// An apology at `now` comes once the due time has passed or at most the rule set's window of
/// office time remains, and names a new appointment later than both now and the due time.
pub fn apology_allowed(
    state: &DossierState,
    reference: &ReferenceData,
    now: Timestamp,
    new_appointment: Timestamp,
) -> Result<(), DomainError> {
    let due = state
        .due
        .ok_or_else(|| DomainError::validation("due", "the dossier has no due time"))?;
    let rule = rule_set_of(state, reference)?;
    let cal = unit_calendar(reference, state);
    let window = rule.apology_window_office_minutes;
    let remaining = cal.office_minutes_between(now, due);
    if now < due && remaining > window {
        // The earliest instant with at most the window left before the due time.
        let allowed_from = cal.add_office_minutes(now, remaining.saturating_sub(window));
        return Err(DomainError::ApologyTooEarly {
            due: due.to_string(),
            allowed_from: allowed_from.to_string(),
        });
    }
    if new_appointment <= now || new_appointment <= due {
        return Err(DomainError::validation(
            "new_appointment",
            "must be later than now and than the due time",
        ));
    }
    Ok(())
}

/// The dossier's checklist: the documents its receipt (else its submission) lists.
pub fn checklist(state: &DossierState) -> &[String] {
    match (&state.receipt, &state.submission) {
        (Some(r), _) => &r.documents,
        (None, Some(s)) => &s.documents,
        (None, None) => &[],
    }
}

/// A file may be attached: a digest, a size within [`MAX_FILE_BYTES`], a clean name, one of
/// the dossier's checklist documents, and room left within [`MAX_FILES_PER_DOSSIER`] and
/// [`MAX_BYTES_PER_DOSSIER`].
pub fn file_attachable(state: &DossierState, file: &AttachedFile) -> Result<(), DomainError> {
    if !is_sha256_hex(&file.sha256) {
        return Err(DomainError::validation(
            "sha256",
            "must be 64 lower-case hex digits",
        ));
    }
    if file.size == 0 || file.size > MAX_FILE_BYTES {
        return Err(DomainError::validation(
            "size",
            format!("a file holds 1 to {MAX_FILE_BYTES} bytes"),
        ));
    }
    if !is_clean_file_name(&file.file_name) {
        return Err(DomainError::validation("file_name", "not a cleaned name"));
    }
    if !checklist(state).iter().any(|d| d == &file.document) {
        return Err(DomainError::validation(
            "document",
            format!(
                "not a document of this dossier's checklist: {}",
                checklist(state).join("; ")
            ),
        ));
    }
    if state.files_attached >= MAX_FILES_PER_DOSSIER {
        return Err(DomainError::validation(
            "files",
            format!("a dossier holds at most {MAX_FILES_PER_DOSSIER} files"),
        ));
    }
    if state.file_bytes.saturating_add(file.size) > MAX_BYTES_PER_DOSSIER {
        return Err(DomainError::validation(
            "files",
            format!("a dossier's files add up to at most {MAX_BYTES_PER_DOSSIER} bytes"),
        ));
    }
    Ok(())
}
