//! May this actor take this action on this dossier now? [`authorize`] answers it in one place,
//! before any rule of the command itself: the dossier's workflow allows the action from its
//! state; the actor holds one of the roles the transition names; the command names the dossier
//! (an existing one, or a new code with its intake); and the actor is in scope: staff of the
//! dossier's unit (a specialist also of its field), or the citizen holding the dossier's lookup
//! secret. Also what a caller may do next ([`allowed_actions`]).

use crate::domain::calendar::local_date;
use crate::domain::directory::check_scope;
use crate::domain::error::DomainError;
use crate::domain::events::Procedure;
use crate::domain::reference::ReferenceData;
use crate::domain::types::{DossierCode, Field, ProcedureId, Role, Staff, Timestamp, UnitCode};
use crate::domain::workflow::{Action, Phase, Transition, Workflow};

use super::command::{ActorRef, Command, Context, Intake};
use super::precondition;
use super::state::DossierState;
use super::DEFAULT_WORKFLOW;

/// What [`authorize`] established about a command it lets through.
#[derive(Debug, Clone)]
pub struct Authorized<'r> {
    /// The workflow's transition the command takes.
    pub transition: &'r Transition,
    /// The role the actor acts in (recorded in the envelope).
    pub role: Role,
    /// The dossier: its code, or the new code for a command that creates it.
    pub code: DossierCode,
    /// The dossier's unit and field (the intake's for a new dossier).
    pub unit: UnitCode,
    pub field: Field,
    /// The procedure version in force for a command that creates the dossier.
    pub new_procedure: Option<&'r Procedure>,
}

/// Checks the workflow transition, the actor's role and the actor's scope, in that order (the
/// first refusal is the one reported).
pub fn authorize<'r>(
    state: &DossierState,
    cmd: &Command,
    ctx: &Context<'r>,
) -> Result<Authorized<'r>, DomainError> {
    let action = cmd.action();
    let wf = resolve_workflow(state, cmd, ctx)?;
    let transition = precondition::transition(wf, state.phase, action)?;
    let role = precondition::role_for(transition, action, &ctx.actor.roles())?;
    let code = dossier_code(state, ctx)?;
    let new_procedure = new_procedure(state, cmd.intake(), ctx)?;
    let (unit, field) = match (cmd.intake(), new_procedure) {
        (Some(i), Some(p)) => (i.unit.clone(), p.field.clone()),
        _ => match state.unit_and_field() {
            Some((u, f)) => (u.clone(), f.clone()),
            None => {
                return Err(DomainError::validation(
                    "dossier",
                    "has neither submission nor receipt",
                ))
            }
        },
    };
    check_actor_scope(state, ctx.actor, role, &unit, &field)?;
    Ok(Authorized {
        transition,
        role,
        code,
        unit,
        field,
        new_procedure,
    })
}

/// The dossier's code, or the code allocated for a new one.
fn dossier_code(state: &DossierState, ctx: &Context<'_>) -> Result<DossierCode, DomainError> {
    match (&state.code, ctx.new_code) {
        (Some(c), _) | (None, Some(c)) => Ok(c.clone()),
        (None, None) => Err(DomainError::validation(
            "code",
            "a new dossier needs a code",
        )),
    }
}

/// The procedure version a creating command's intake names; an intake exactly when the
/// command creates the dossier.
fn new_procedure<'r>(
    state: &DossierState,
    intake: Option<&Intake>,
    ctx: &Context<'r>,
) -> Result<Option<&'r Procedure>, DomainError> {
    match (state.phase == Phase::None, intake) {
        (true, None) => Err(DomainError::validation(
            "intake",
            "a new dossier needs its procedure, applicant and documents",
        )),
        (false, Some(_)) => Err(DomainError::validation(
            "intake",
            "the dossier exists: it is handled as submitted",
        )),
        (_, Some(i)) => procedure_in_force(ctx.reference, &i.procedure, ctx.now).map(Some),
        (false, None) => Ok(None),
    }
}

/// Staff act within their unit (a specialist within their fields, and on an assigned dossier
/// only if it is assigned to them). Whoever acts as a citizen
/// (the citizen role) acts on an existing dossier only by proving it is theirs with its lookup
/// secret: a citizen actor carrying a proof of the dossier's secret (a [`SecretProof`] of its
/// digest, which only checking the secret makes), never a staff actor (whose account proves
/// nothing about the dossier) and never a citizen without it. Creating a dossier online needs
/// no secret: the command brings the new one.
///
/// [`SecretProof`]: crate::domain::secret::SecretProof
pub(crate) fn check_actor_scope(
    state: &DossierState,
    actor: &ActorRef,
    role: Role,
    unit: &UnitCode,
    field: &Field,
) -> Result<(), DomainError> {
    let exists = state.phase != Phase::None;
    match actor {
        ActorRef::Staff(staff) => check_staff_scope(state, staff, role, unit, field),
        ActorRef::Citizen { .. } if !exists => Ok(()),
        ActorRef::Citizen {
            lookup_proof: Some(proof),
            ..
        } if state.lookup_secret().is_some_and(|d| proof.proves(d)) => Ok(()),
        ActorRef::Citizen { .. } => Err(DomainError::WrongSecret),
    }
}

/// The scope of a staff member acting in `role` on a dossier of `unit` and `field` in `state`:
/// never as a citizen on an existing dossier (their account proves nothing about it), within
/// their unit (a specialist within their fields), and on an assigned dossier in the specialist
/// role only as its assignee. [`check_actor_scope`] asks it before a decision, and
/// `check_recorded_by` of a recorded change, so both judge the one rule.
pub(super) fn check_staff_scope(
    state: &DossierState,
    staff: &Staff,
    role: Role,
    unit: &UnitCode,
    field: &Field,
) -> Result<(), DomainError> {
    if role == Role::Citizen && state.phase != Phase::None {
        return Err(DomainError::WrongSecret);
    }
    check_scope(staff, role, unit, field)?;
    check_assignee(state, staff, role)
}

/// A dossier assigned to a specialist is handled in the specialist role by that specialist
/// alone; the desk reassigns it if a colleague is to take over.
fn check_assignee(state: &DossierState, staff: &Staff, role: Role) -> Result<(), DomainError> {
    match &state.specialist {
        Some(assignee) if role == Role::Specialist && assignee != &staff.id => {
            Err(DomainError::NotAssigned {
                staff: staff.id.clone(),
                assignee: assignee.clone(),
            })
        }
        _ => Ok(()),
    }
}

/// The workflow governing `state` (for a new dossier: the intake's procedure's; for a dossier
/// that does not exist yet and a command without intake: the default one, to explain the
/// refusal).
fn resolve_workflow<'r>(
    state: &DossierState,
    cmd: &Command,
    ctx: &Context<'r>,
) -> Result<&'r Workflow, DomainError> {
    let reference = ctx.reference;
    let id = match (state.workflow_ref(reference), state.phase, cmd.intake()) {
        (Some(id), _, _) => Some(id),
        (None, Phase::None, Some(intake)) => {
            Some(&procedure_in_force(reference, &intake.procedure, ctx.now)?.workflow)
        }
        (None, _, _) => None,
    };
    precondition::workflow(reference, id)
}

/// The version of procedure `id` in force on the local date of `now`.
fn procedure_in_force<'r>(
    reference: &'r ReferenceData,
    id: &ProcedureId,
    now: Timestamp,
) -> Result<&'r Procedure, DomainError> {
    let date = local_date(now);
    reference
        .catalog
        .procedure_as_of(id, date)
        .ok_or_else(|| DomainError::UnknownProcedure {
            id: id.clone(),
            date: date.to_string(),
        })
}

/// The role in which `actor` may take `action` from `phase` in `wf`: the first role of the
/// transition the actor holds.
pub fn acting_role(wf: &Workflow, phase: Phase, action: Action, actor: &ActorRef) -> Option<Role> {
    let t = wf.transition(phase, action)?;
    precondition::role_for(t, action, &actor.roles()).ok()
}

/// Actions the caller may take on the dossier now (by workflow and role only; a command can
/// still be refused by its content, e.g. a second supplement request).
pub fn allowed_actions(
    state: &DossierState,
    roles: &[Role],
    reference: &ReferenceData,
) -> Vec<Action> {
    let id = state
        .workflow_id(reference)
        .or_else(|| DEFAULT_WORKFLOW.parse().ok());
    id.and_then(|id| reference.workflows.get(&id))
        .map(|wf| wf.allowed_actions(state.phase, roles))
        .unwrap_or_default()
}
