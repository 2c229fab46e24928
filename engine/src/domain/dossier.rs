//! The dossier (hồ sơ): its state, the commands the desk issues, and the two pure functions
//! of event sourcing: `decide` (state + command -> events, or a refusal saying why) and
//! `apply` (state + event -> state). Neither reads a clock: `now` comes in the [`Context`].
//!
//! Which action is legal from which state and by which role is the dossier's workflow's
//! business (`workflow.rs`); what each action does to the state is fixed here.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::calendar::{local_date, UnitCalendar};
use super::directory::check_scope;
use super::error::DomainError;
use super::events::{
    Applicant, DossierChange, DossierEvent, DraftKind, Procedure, Receipt, Submission,
};
use super::reference::ReferenceData;
use super::rules::RuleSet;
use super::types::{
    Channel, DossierCode, Field, ProcedureId, ProcedureRef, Role, Staff, StaffId, Timestamp,
    UnitCode, Vnd, WorkflowId,
};
use super::workflow::{Action, Phase, Target, Workflow};

/// The workflow used to explain refusals on a dossier that does not exist yet and whose
/// command names no procedure.
pub const DEFAULT_WORKFLOW: &str = "standard";

/// Who issues a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActorRef {
    /// A staff member as the directory knows them (roles, fields, unit).
    Staff(Staff),
    /// A citizen through the online portal. On an existing dossier they prove it is theirs
    /// with the SHA-256 of the lookup secret printed on their receipt.
    Citizen {
        id_number: String,
        lookup_secret_sha256: Option<[u8; 32]>,
    },
}

impl ActorRef {
    /// Roles the actor holds (an inactive staff member holds none).
    pub fn roles(&self) -> Vec<Role> {
        match self {
            ActorRef::Staff(s) if s.active => s.roles.clone(),
            ActorRef::Staff(_) => Vec::new(),
            ActorRef::Citizen { .. } => vec![Role::Citizen],
        }
    }

    /// The id recorded in the envelope: a staff id, or `citizen:<id number>`.
    pub fn id(&self) -> String {
        match self {
            ActorRef::Staff(s) => s.id.to_string(),
            ActorRef::Citizen { id_number, .. } => format!("citizen:{id_number}"),
        }
    }
}

/// What a new dossier is about, as the desk or the portal takes it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intake {
    pub procedure: ProcedureId,
    pub unit: UnitCode,
    pub channel: Channel,
    pub applicant: Applicant,
    pub documents: Vec<String>,
    /// SHA-256 of the lookup secret (the caller generates the secret and gives it to the
    /// citizen; it is never stored).
    pub lookup_secret_sha256: [u8; 32],
}

/// Commands of the transition table (docs/domain/dossier.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    SubmitOnline(Intake),
    /// Receive an online submission (`intake: None`) or a new desk/postal dossier.
    Receive {
        intake: Option<Intake>,
    },
    GuideToComplete {
        intake: Option<Intake>,
        missing: Vec<String>,
        note: String,
    },
    RefuseToReceive {
        intake: Option<Intake>,
        reason: String,
        legal_basis: String,
    },
    Assign {
        specialist: StaffId,
        note: String,
    },
    RequestSupplement {
        items: Vec<String>,
        reason: String,
    },
    RecordSupplement {
        note: String,
    },
    Forward {
        agency: String,
        note: String,
    },
    RecordAgencyAnswer {
        note: String,
    },
    RequestPayment {
        amount: Vnd,
        note: String,
    },
    RecordPayment {
        receipt_number: String,
    },
    SubmitForSigning {
        draft: DraftKind,
        note: String,
    },
    Approve {
        note: String,
    },
    SignRefusal {
        reasons: String,
    },
    SendBack {
        comments: String,
    },
    Apologise {
        reason: String,
        new_appointment: Timestamp,
    },
    HandOver {
        note: String,
    },
    Withdraw {
        reason: String,
    },
    Stop {
        reason: String,
        legal_basis: String,
    },
}

impl Command {
    pub fn action(&self) -> Action {
        match self {
            Command::SubmitOnline(_) => Action::SubmitOnline,
            Command::Receive { .. } => Action::Receive,
            Command::GuideToComplete { .. } => Action::GuideToComplete,
            Command::RefuseToReceive { .. } => Action::RefuseToReceive,
            Command::Assign { .. } => Action::Assign,
            Command::RequestSupplement { .. } => Action::RequestSupplement,
            Command::RecordSupplement { .. } => Action::RecordSupplement,
            Command::Forward { .. } => Action::Forward,
            Command::RecordAgencyAnswer { .. } => Action::RecordAgencyAnswer,
            Command::RequestPayment { .. } => Action::RequestPayment,
            Command::RecordPayment { .. } => Action::RecordPayment,
            Command::SubmitForSigning { .. } => Action::SubmitForSigning,
            Command::Approve { .. } => Action::Approve,
            Command::SignRefusal { .. } => Action::SignRefusal,
            Command::SendBack { .. } => Action::SendBack,
            Command::Apologise { .. } => Action::Apologise,
            Command::HandOver { .. } => Action::HandOver,
            Command::Withdraw { .. } => Action::Withdraw,
            Command::Stop { .. } => Action::Stop,
        }
    }

    /// The intake of a command that may create a dossier.
    pub fn intake(&self) -> Option<&Intake> {
        match self {
            Command::SubmitOnline(i) => Some(i),
            Command::Receive { intake }
            | Command::GuideToComplete { intake, .. }
            | Command::RefuseToReceive { intake, .. } => intake.as_ref(),
            _ => None,
        }
    }
}

/// The action a recorded change is the outcome of (the inverse of [`Command::action`]), so a
/// replay can re-check a recorded event against the workflow's transition table.
///
/// A desk dossier guided or refused at the counter is recorded as `SubmittedOnline` followed by
/// `GuidedToComplete` / `RefusedToReceive` from one command: the first maps to `SubmitOnline`
/// here, and a checker treats the pair as the second action taken from `Phase::None`.
pub fn action_of(change: &DossierChange) -> Action {
    match change {
        DossierChange::SubmittedOnline(_) => Action::SubmitOnline,
        DossierChange::Received(_) => Action::Receive,
        DossierChange::GuidedToComplete { .. } => Action::GuideToComplete,
        DossierChange::RefusedToReceive { .. } => Action::RefuseToReceive,
        DossierChange::Assigned { .. } => Action::Assign,
        DossierChange::SupplementRequested { .. } => Action::RequestSupplement,
        DossierChange::SupplementReceived { .. } => Action::RecordSupplement,
        DossierChange::Forwarded { .. } => Action::Forward,
        DossierChange::OtherAgencyAnswered { .. } => Action::RecordAgencyAnswer,
        DossierChange::PaymentRequested { .. } => Action::RequestPayment,
        DossierChange::PaymentRecorded { .. } => Action::RecordPayment,
        DossierChange::SubmittedForSigning { .. } => Action::SubmitForSigning,
        DossierChange::Approved { .. } => Action::Approve,
        DossierChange::RefusalSigned { .. } => Action::SignRefusal,
        DossierChange::SentBack { .. } => Action::SendBack,
        DossierChange::Apologised { .. } => Action::Apologise,
        DossierChange::HandedOver { .. } => Action::HandOver,
        DossierChange::Withdrawn { .. } => Action::Withdraw,
        DossierChange::Stopped { .. } => Action::Stop,
    }
}

/// Everything a decision reads besides the state and the command.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Business time of the action (the caller's clock, or simulated time in the demo).
    pub now: Timestamp,
    pub actor: &'a ActorRef,
    pub reference: &'a ReferenceData,
    /// The code allocated for a new dossier (ignored when the dossier exists).
    pub new_code: Option<&'a DossierCode>,
}

/// The dossier as its events have made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DossierState {
    pub phase: Phase,
    pub code: Option<DossierCode>,
    /// Number of events applied (the stream version).
    pub version: u64,
    pub submission: Option<Submission>,
    pub submitted_at: Option<Timestamp>,
    pub receipt: Option<Receipt>,
    pub received_at: Option<Timestamp>,
    /// The current due time: the receipt's, plus every pause.
    pub due: Option<Timestamp>,
    pub specialist: Option<StaffId>,
    pub supplements_requested: u8,
    pub payments_requested: u8,
    /// Set while the clock is stopped (supplement or financial obligation).
    pub paused_since: Option<Timestamp>,
    pub paused_office_minutes: u32,
    pub draft: Option<DraftKind>,
    pub forwarded: bool,
    pub agency_answered: bool,
    /// When the leader signed the result or the refusal.
    pub resolved_at: Option<Timestamp>,
    pub returned_at: Option<Timestamp>,
    /// When the dossier ended without resolution (refused, not received, withdrawn, stopped).
    pub closed_at: Option<Timestamp>,
    pub apologies: u32,
    pub new_appointment: Option<Timestamp>,
    pub last_event_at: Option<Timestamp>,
}

impl Default for DossierState {
    fn default() -> Self {
        DossierState {
            phase: Phase::None,
            code: None,
            version: 0,
            submission: None,
            submitted_at: None,
            receipt: None,
            received_at: None,
            due: None,
            specialist: None,
            supplements_requested: 0,
            payments_requested: 0,
            paused_since: None,
            paused_office_minutes: 0,
            draft: None,
            forwarded: false,
            agency_answered: false,
            resolved_at: None,
            returned_at: None,
            closed_at: None,
            apologies: 0,
            new_appointment: None,
            last_event_at: None,
        }
    }
}

/// How a resolution is judged against the due date, by local date (docs/domain/calendar.md):
/// early = finish date before the due date, on time = the same date, late = after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Timeliness {
    Early,
    OnTime,
    Late,
}

impl Timeliness {
    pub fn label_vi(self) -> &'static str {
        match self {
            Timeliness::Early => "Trước hạn",
            Timeliness::OnTime => "Đúng hạn",
            Timeliness::Late => "Quá hạn",
        }
    }
}

/// Judges a finish time against a due time by their local dates.
pub fn judge(finished: Timestamp, due: Timestamp) -> Timeliness {
    let (f, d): (NaiveDate, NaiveDate) = (local_date(finished), local_date(due));
    match f.cmp(&d) {
        std::cmp::Ordering::Less => Timeliness::Early,
        std::cmp::Ordering::Equal => Timeliness::OnTime,
        std::cmp::Ordering::Greater => Timeliness::Late,
    }
}

impl DossierState {
    /// Unit and field of the dossier (from the receipt, else the submission).
    pub fn unit_and_field(&self) -> Option<(&UnitCode, &Field)> {
        if let Some(r) = &self.receipt {
            return Some((&r.unit, &r.field));
        }
        self.submission.as_ref().map(|s| (&s.unit, &s.field))
    }

    pub fn lookup_secret_sha256(&self) -> Option<&[u8; 32]> {
        self.receipt
            .as_ref()
            .map(|r| &r.lookup_secret_sha256)
            .or(self.submission.as_ref().map(|s| &s.lookup_secret_sha256))
    }

    /// The dossier's workflow id (receipt, else the submitted procedure version).
    pub fn workflow_id(&self, reference: &ReferenceData) -> Option<WorkflowId> {
        if let Some(r) = &self.receipt {
            return Some(r.workflow.clone());
        }
        let s = self.submission.as_ref()?;
        reference
            .catalog
            .version(&s.procedure)
            .map(|p| p.workflow.clone())
    }

    /// Resolved (result or refusal signed) and judged against the due time.
    pub fn timeliness(&self) -> Option<Timeliness> {
        Some(judge(self.resolved_at?, self.due?))
    }

    /// National status code of the current state (1-10), per the dossier's workflow.
    pub fn status_code(&self, reference: &ReferenceData) -> Option<u8> {
        let id = self.workflow_id(reference)?;
        reference.workflows.get(&id)?.status_code(self.phase)
    }
}

/// Folds a sequence of dossier events.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a DossierEvent>) -> DossierState {
    events.into_iter().fold(DossierState::default(), apply)
}

/// Applies one event. Pure and total: whatever the log holds, the fold goes on.
pub fn apply(mut s: DossierState, ev: &DossierEvent) -> DossierState {
    s.version += 1;
    if s.code.is_none() {
        s.code = Some(ev.code.clone());
    }
    s.last_event_at = Some(ev.at);
    match &ev.change {
        DossierChange::SubmittedOnline(sub) => {
            s.phase = Phase::Submitted;
            s.submission = Some(sub.clone());
            s.submitted_at = Some(ev.at);
        }
        DossierChange::Received(r) => {
            s.phase = Phase::Received;
            s.due = Some(r.due);
            s.receipt = Some(r.clone());
            s.received_at = Some(ev.at);
        }
        DossierChange::GuidedToComplete { .. } => {
            // An online submission stays with the citizen to complete; a dossier presented at
            // the desk is simply not received.
            let online = s
                .submission
                .as_ref()
                .is_some_and(|x| x.channel == Channel::Online);
            if !online {
                s.phase = Phase::NotReceived;
                s.closed_at = Some(ev.at);
            }
        }
        DossierChange::RefusedToReceive { .. } => {
            s.phase = Phase::Refused;
            s.closed_at = Some(ev.at);
        }
        DossierChange::Assigned { specialist, .. } => {
            s.phase = Phase::InProcessing;
            s.specialist = Some(specialist.clone());
        }
        DossierChange::SupplementRequested { .. } => {
            s.phase = Phase::AwaitingSupplement;
            s.supplements_requested = s.supplements_requested.saturating_add(1);
            s.paused_since = Some(ev.at);
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
            s.phase = Phase::InProcessing;
            s.paused_since = None;
            s.paused_office_minutes = s
                .paused_office_minutes
                .saturating_add(*paused_office_minutes);
            s.due = Some(*new_due);
        }
        DossierChange::Forwarded { .. } => {
            s.phase = Phase::AtOtherAgency;
            s.forwarded = true;
            s.agency_answered = false;
        }
        DossierChange::OtherAgencyAnswered { .. } => {
            s.phase = Phase::InProcessing;
            s.agency_answered = true;
        }
        DossierChange::PaymentRequested { .. } => {
            s.phase = Phase::AwaitingPayment;
            s.payments_requested = s.payments_requested.saturating_add(1);
            s.paused_since = Some(ev.at);
        }
        DossierChange::SubmittedForSigning { draft, .. } => {
            s.phase = Phase::AwaitingApproval;
            s.draft = Some(*draft);
        }
        DossierChange::Approved { .. } => {
            s.phase = Phase::ResultReady;
            s.resolved_at = Some(ev.at);
        }
        DossierChange::RefusalSigned { .. } => {
            s.phase = Phase::Rejected;
            s.resolved_at = Some(ev.at);
        }
        DossierChange::SentBack { .. } => {
            s.phase = Phase::InProcessing;
            s.draft = None;
        }
        DossierChange::Apologised {
            new_appointment, ..
        } => {
            s.apologies = s.apologies.saturating_add(1);
            s.new_appointment = Some(*new_appointment);
        }
        DossierChange::HandedOver { .. } => {
            s.phase = Phase::Returned;
            s.returned_at = Some(ev.at);
        }
        DossierChange::Withdrawn { .. } => {
            s.phase = Phase::Withdrawn;
            s.closed_at = Some(ev.at);
        }
        DossierChange::Stopped { .. } => {
            s.phase = Phase::Stopped;
            s.closed_at = Some(ev.at);
        }
    }
    s
}

/// The workflow governing `state` (for a new dossier: the intake's procedure's), and the
/// procedure version when the command creates the dossier.
fn resolve_workflow<'r>(
    state: &DossierState,
    cmd: &Command,
    ctx: &Context<'r>,
) -> Result<&'r Workflow, DomainError> {
    let reference = ctx.reference;
    let id = match state.workflow_id(reference) {
        Some(id) => id,
        None => match (state.phase, cmd.intake()) {
            (Phase::None, Some(intake)) => {
                procedure_in_force(reference, &intake.procedure, ctx.now)?
                    .workflow
                    .clone()
            }
            _ => DEFAULT_WORKFLOW
                .parse()
                .map_err(|_| DomainError::validation("workflow", "no default workflow"))?,
        },
    };
    reference
        .workflows
        .get(&id)
        .ok_or(DomainError::UnknownWorkflow(id))
}

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
    let roles = actor.roles();
    t.roles.iter().copied().find(|r| roles.contains(r))
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

fn require(field: &str, value: &str) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        Err(DomainError::validation(field, "must not be empty"))
    } else {
        Ok(())
    }
}

fn rule_set_of<'r>(
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

fn unit_calendar<'r>(state: &DossierState, reference: &'r ReferenceData) -> UnitCalendar<'r> {
    match &state.receipt {
        Some(r) => reference.calendar.unit(&r.unit),
        None => reference.calendar.default_unit(),
    }
}

/// Decides a command: the events to record, or why not. Pure.
pub fn decide(
    state: &DossierState,
    cmd: Command,
    ctx: &Context<'_>,
) -> Result<Vec<DossierEvent>, DomainError> {
    decide_with_role(state, cmd, ctx).map(|(events, _)| events)
}

/// [`decide`], also returning the role the actor acted in (recorded in the envelope).
pub fn decide_with_role(
    state: &DossierState,
    cmd: Command,
    ctx: &Context<'_>,
) -> Result<(Vec<DossierEvent>, Role), DomainError> {
    let action = cmd.action();
    let wf = resolve_workflow(state, &cmd, ctx)?;
    let transition =
        wf.transition(state.phase, action)
            .ok_or_else(|| DomainError::IllegalTransition {
                state: state.phase.to_string(),
                action: action.to_string(),
                allowed: wf
                    .actions_from(state.phase)
                    .iter()
                    .map(|a| a.to_string())
                    .collect(),
            })?;
    let actor_roles = ctx.actor.roles();
    let role = transition
        .roles
        .iter()
        .copied()
        .find(|r| actor_roles.contains(r))
        .ok_or_else(|| DomainError::Forbidden {
            action: action.to_string(),
            required_roles: transition.roles.clone(),
            actor_roles: actor_roles.clone(),
        })?;

    // Which dossier: an existing one, or the new code with the intake's procedure.
    let creating = state.phase == Phase::None;
    let code = match (&state.code, ctx.new_code) {
        (Some(c), _) => c.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => {
            return Err(DomainError::validation(
                "code",
                "a new dossier needs a code",
            ))
        }
    };
    let intake = cmd.intake();
    match (creating, intake) {
        (true, None) => {
            return Err(DomainError::validation(
                "intake",
                "a new dossier needs its procedure, applicant and documents",
            ))
        }
        (false, Some(_)) => {
            return Err(DomainError::validation(
                "intake",
                "the dossier exists: it is handled as submitted",
            ))
        }
        _ => {}
    }
    let new_procedure = match intake {
        Some(i) => Some(procedure_in_force(ctx.reference, &i.procedure, ctx.now)?),
        None => None,
    };

    // Scope: unit and field of the dossier.
    let (unit, field) = match (intake, new_procedure) {
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
    match ctx.actor {
        ActorRef::Staff(staff) => check_scope(staff, role, &unit, &field)?,
        ActorRef::Citizen {
            lookup_secret_sha256,
            ..
        } => {
            if let Some(secret) = state.lookup_secret_sha256() {
                if lookup_secret_sha256.as_ref() != Some(secret) {
                    return Err(DomainError::WrongSecret);
                }
            }
        }
    }

    let at = ctx.now;
    let ev = |change| DossierEvent {
        code: code.clone(),
        at,
        change,
    };
    let submission_of = |i: &Intake, p: &Procedure| Submission {
        procedure: ProcedureRef {
            id: p.id.clone(),
            version: p.version,
        },
        field: p.field.clone(),
        unit: i.unit.clone(),
        channel: i.channel,
        applicant: i.applicant.clone(),
        documents: i.documents.clone(),
        lookup_secret_sha256: i.lookup_secret_sha256,
    };
    let check_applicant = |i: &Intake| -> Result<(), DomainError> {
        require("applicant.name", &i.applicant.name)?;
        require("applicant.id_number", &i.applicant.id_number)
    };

    let events = match cmd {
        Command::SubmitOnline(i) => {
            if i.channel != Channel::Online {
                return Err(DomainError::validation(
                    "channel",
                    "an online submission comes through the online channel",
                ));
            }
            check_applicant(&i)?;
            let p = new_procedure.ok_or_else(|| DomainError::validation("intake", "missing"))?;
            vec![ev(DossierChange::SubmittedOnline(submission_of(&i, p)))]
        }
        Command::Receive { intake } => {
            let (procedure, applicant, documents, channel, unit, secret) =
                match (&intake, new_procedure) {
                    (Some(i), Some(p)) => {
                        if i.channel == Channel::Online {
                            return Err(DomainError::validation(
                                "channel",
                                "an online dossier is submitted first, then received",
                            ));
                        }
                        check_applicant(i)?;
                        (
                            p,
                            i.applicant.clone(),
                            i.documents.clone(),
                            i.channel,
                            i.unit.clone(),
                            i.lookup_secret_sha256,
                        )
                    }
                    _ => {
                        let s = state
                            .submission
                            .as_ref()
                            .ok_or_else(|| DomainError::validation("submission", "missing"))?;
                        let p = ctx.reference.catalog.version(&s.procedure).ok_or_else(|| {
                            DomainError::UnknownProcedure {
                                id: s.procedure.id.clone(),
                                date: format!("version {}", s.procedure.version),
                            }
                        })?;
                        (
                            p,
                            s.applicant.clone(),
                            s.documents.clone(),
                            s.channel,
                            s.unit.clone(),
                            s.lookup_secret_sha256,
                        )
                    }
                };
            let date = local_date(at);
            let rule = ctx
                .reference
                .rules
                .in_force(date)
                .ok_or_else(|| DomainError::NoRuleSet(date.to_string()))?;
            let cal = ctx.reference.calendar.unit(&unit);
            let receipt = Receipt {
                procedure: ProcedureRef {
                    id: procedure.id.clone(),
                    version: procedure.version,
                },
                procedure_name: procedure.name.clone(),
                field: procedure.field.clone(),
                unit,
                channel,
                workflow: procedure.workflow.clone(),
                rule_set: rule.id.clone(),
                applicant,
                documents,
                processing_time: procedure.processing_time,
                clock_start: cal.clock_start(at),
                due: cal.due(at, procedure.processing_time, rule.same_day_cutoff_minute),
                lookup_secret_sha256: secret,
                fees: Vnd(procedure.fees.iter().map(|f| f.amount.0).sum()),
            };
            vec![ev(DossierChange::Received(receipt))]
        }
        Command::GuideToComplete {
            intake,
            missing,
            note,
        } => {
            if missing.iter().all(|m| m.trim().is_empty()) {
                return Err(DomainError::validation("missing", "list what is missing"));
            }
            let mut out = Vec::new();
            if let (Some(i), Some(p)) = (&intake, new_procedure) {
                check_applicant(i)?;
                out.push(ev(DossierChange::SubmittedOnline(submission_of(i, p))));
            }
            out.push(ev(DossierChange::GuidedToComplete { missing, note }));
            out
        }
        Command::RefuseToReceive {
            intake,
            reason,
            legal_basis,
        } => {
            require("reason", &reason)?;
            require("legal_basis", &legal_basis)?;
            let mut out = Vec::new();
            if let (Some(i), Some(p)) = (&intake, new_procedure) {
                check_applicant(i)?;
                out.push(ev(DossierChange::SubmittedOnline(submission_of(i, p))));
            }
            out.push(ev(DossierChange::RefusedToReceive {
                reason,
                legal_basis,
            }));
            out
        }
        Command::Assign { specialist, note } => {
            let target = ctx
                .reference
                .directory
                .staff(&specialist)
                .filter(|s| s.has_role(Role::Specialist))
                .ok_or_else(|| DomainError::UnknownStaff(specialist.clone()))?;
            check_scope(target, Role::Specialist, &unit, &field)?;
            vec![ev(DossierChange::Assigned { specialist, note })]
        }
        Command::RequestSupplement { items, reason } => {
            let rule = rule_set_of(state, ctx.reference)?;
            if state.supplements_requested >= rule.supplement_limit {
                return Err(DomainError::SupplementLimit {
                    limit: rule.supplement_limit,
                    used: state.supplements_requested,
                });
            }
            if items.iter().all(|m| m.trim().is_empty()) {
                return Err(DomainError::validation(
                    "items",
                    "list what must be supplemented",
                ));
            }
            require("reason", &reason)?;
            vec![ev(DossierChange::SupplementRequested { items, reason })]
        }
        Command::RecordSupplement { note } => {
            let (paused, new_due) = resume(state, ctx)?;
            vec![ev(DossierChange::SupplementReceived {
                paused_office_minutes: paused,
                new_due,
                note,
            })]
        }
        Command::Forward { agency, note } => {
            require("agency", &agency)?;
            vec![ev(DossierChange::Forwarded { agency, note })]
        }
        Command::RecordAgencyAnswer { note } => {
            vec![ev(DossierChange::OtherAgencyAnswered { note })]
        }
        Command::RequestPayment { amount, note } => {
            if amount.0 == 0 {
                return Err(DomainError::validation("amount", "must be more than 0 VND"));
            }
            vec![ev(DossierChange::PaymentRequested { amount, note })]
        }
        Command::RecordPayment { receipt_number } => {
            require("receipt_number", &receipt_number)?;
            let (paused, new_due) = resume(state, ctx)?;
            vec![ev(DossierChange::PaymentRecorded {
                paused_office_minutes: paused,
                new_due,
                receipt_number,
            })]
        }
        Command::SubmitForSigning { draft, note } => {
            if transition.requires_agency_answer && !state.agency_answered {
                return Err(DomainError::validation(
                    "agency_answer",
                    "an inter-level dossier is signed only after the other agency answered",
                ));
            }
            vec![ev(DossierChange::SubmittedForSigning { draft, note })]
        }
        Command::Approve { note } => {
            if state.draft != Some(DraftKind::Result) {
                return Err(DomainError::validation(
                    "draft",
                    "the draft awaiting signature is a refusal: sign the refusal or send it back",
                ));
            }
            vec![ev(DossierChange::Approved { note })]
        }
        Command::SignRefusal { reasons } => {
            if state.draft != Some(DraftKind::Refusal) {
                return Err(DomainError::validation(
                    "draft",
                    "the draft awaiting signature is a result: approve it or send it back",
                ));
            }
            require("reasons", &reasons)?;
            vec![ev(DossierChange::RefusalSigned { reasons })]
        }
        Command::SendBack { comments } => {
            require("comments", &comments)?;
            vec![ev(DossierChange::SentBack { comments })]
        }
        Command::Apologise {
            reason,
            new_appointment,
        } => {
            require("reason", &reason)?;
            let due = state
                .due
                .ok_or_else(|| DomainError::validation("due", "the dossier has no due time"))?;
            let rule = rule_set_of(state, ctx.reference)?;
            let cal = unit_calendar(state, ctx.reference);
            let remaining = cal.office_minutes_between(at, due);
            if at < due && remaining > rule.apology_window_office_minutes {
                // The earliest instant with at most the window left before the due time.
                let allowed_from =
                    earliest_apology(cal, at, due, rule.apology_window_office_minutes);
                return Err(DomainError::ApologyTooEarly {
                    due: due.to_string(),
                    allowed_from: allowed_from.to_string(),
                });
            }
            if new_appointment <= at || new_appointment <= due {
                return Err(DomainError::validation(
                    "new_appointment",
                    "must be later than now and than the due time",
                ));
            }
            vec![ev(DossierChange::Apologised {
                reason,
                new_appointment,
            })]
        }
        Command::HandOver { note } => vec![ev(DossierChange::HandedOver { note })],
        Command::Withdraw { reason } => {
            require("reason", &reason)?;
            vec![ev(DossierChange::Withdrawn { reason })]
        }
        Command::Stop {
            reason,
            legal_basis,
        } => {
            require("reason", &reason)?;
            require("legal_basis", &legal_basis)?;
            vec![ev(DossierChange::Stopped {
                reason,
                legal_basis,
            })]
        }
    };
    Ok((events, role))
}

/// Office minutes paused since the pause began, and the due time moved by them.
fn resume(state: &DossierState, ctx: &Context<'_>) -> Result<(u32, Timestamp), DomainError> {
    let since = state
        .paused_since
        .ok_or_else(|| DomainError::validation("pause", "the clock is not stopped"))?;
    let due = state
        .due
        .ok_or_else(|| DomainError::validation("due", "the dossier has no due time"))?;
    let cal = unit_calendar(state, ctx.reference);
    let paused = cal.office_minutes_between(since, ctx.now);
    Ok((paused, cal.add_office_minutes(due, paused)))
}

/// The first instant from which at most `window` office minutes remain before `due`.
fn earliest_apology(
    cal: UnitCalendar<'_>,
    now: Timestamp,
    due: Timestamp,
    window: u32,
) -> Timestamp {
    let total = cal.office_minutes_between(now, due);
    cal.add_office_minutes(now, total.saturating_sub(window))
}

/// The state `decide`'s transition promises after `action` from `from`.
pub fn expected_phase(from: Phase, action: Action) -> Phase {
    match action.target(from) {
        Target::To(p) => p,
        Target::Same => from,
    }
}

#[cfg(test)]
#[path = "dossier_tests.rs"]
mod tests;
