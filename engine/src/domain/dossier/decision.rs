//! `decide`: a command becomes events, or a refusal saying why. [`authorize`] runs first (the
//! workflow transition, the role, the scope), then the command's bounds ([`check_limits`]);
//! then one function per command checks that
//! command's own rules ([`precondition`]) and builds its events. Pure: the time is the
//! context's `now`.

use crate::domain::directory::check_scope;
use crate::domain::error::DomainError;
use crate::domain::events::{Applicant, Submission};
use crate::domain::events::{DossierChange, DossierEvent, DraftKind, Procedure, Receipt};
use crate::domain::personal::ApplicantRecord;
use crate::domain::secret::SecretDigest;
use crate::domain::types::{Channel, ProcedureRef, Role, StaffId, Timestamp, UnitCode, Vnd};

use super::authorization::{authorize, Authorized};
use super::command::{Command, Context, Intake};
use super::limits::check_limits;
use super::precondition;
use super::state::DossierState;

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
    let auth = authorize(state, &cmd, ctx)?;
    check_limits(&cmd)?;
    let d = Decision {
        state,
        ctx,
        auth: &auth,
    };
    let events = match cmd {
        Command::SubmitOnline(i) => d.submit_online(&i)?,
        Command::Receive { intake } => d.receive(intake.as_ref())?,
        Command::GuideToComplete {
            intake,
            missing,
            note,
        } => d.guide_to_complete(intake.as_ref(), missing, note)?,
        Command::RefuseToReceive {
            intake,
            reason,
            legal_basis,
        } => d.refuse_to_receive(intake.as_ref(), reason, legal_basis)?,
        Command::Assign { specialist, note } => d.assign(specialist, note)?,
        Command::RequestSupplement { items, reason } => d.request_supplement(items, reason)?,
        Command::RecordSupplement { note } => d.record_supplement(note)?,
        Command::Forward { agency, note } => d.forward(agency, note)?,
        Command::RecordAgencyAnswer { note } => d.one(DossierChange::OtherAgencyAnswered { note }),
        Command::RequestPayment { amount, note } => d.request_payment(amount, note)?,
        Command::RecordPayment { receipt_number } => d.record_payment(receipt_number)?,
        Command::SubmitForSigning { draft, note } => d.submit_for_signing(draft, note)?,
        Command::Approve { note } => d.approve(note)?,
        Command::SignRefusal { reasons } => d.sign_refusal(reasons)?,
        Command::SendBack { comments } => d.send_back(comments)?,
        Command::Apologise {
            reason,
            new_appointment,
        } => d.apologise(reason, new_appointment)?,
        Command::HandOver { note } => d.one(DossierChange::HandedOver { note }),
        Command::Withdraw { reason } => d.withdraw(reason)?,
        Command::Stop {
            reason,
            legal_basis,
        } => d.stop(reason, legal_basis)?,
        Command::AttachFile(file) => {
            precondition::file_attachable(state, &file)?;
            d.one(DossierChange::FileAttached(file))
        }
    };
    Ok((events, auth.role))
}

type Events = Result<Vec<DossierEvent>, DomainError>;

/// One authorized command being decided.
struct Decision<'a, 'r> {
    state: &'a DossierState,
    ctx: &'a Context<'r>,
    auth: &'a Authorized<'r>,
}

impl Decision<'_, '_> {
    fn now(&self) -> Timestamp {
        self.ctx.now
    }

    fn event(&self, change: DossierChange) -> DossierEvent {
        DossierEvent {
            code: self.auth.code.clone(),
            at: self.now(),
            change,
        }
    }

    /// A decision recording one change.
    fn one(&self, change: DossierChange) -> Vec<DossierEvent> {
        vec![self.event(change)]
    }

    /// The procedure version of a command that creates the dossier ([`authorize`] looked it up).
    fn new_procedure(&self) -> Result<&Procedure, DomainError> {
        self.auth
            .new_procedure
            .ok_or_else(|| DomainError::validation("intake", "missing"))
    }

    /// A desk intake guided or refused at the counter is recorded as its submission first.
    fn desk_intake_then(&self, intake: Option<&Intake>, then: DossierChange) -> Events {
        let mut out = Vec::new();
        if let (Some(i), Some(p)) = (intake, self.auth.new_procedure) {
            check_applicant(&i.applicant)?;
            out.push(self.event(DossierChange::SubmittedOnline(submission(i, p))));
        }
        out.push(self.event(then));
        Ok(out)
    }

    fn submit_online(&self, i: &Intake) -> Events {
        if i.channel != Channel::Online {
            return Err(DomainError::validation(
                "channel",
                "an online submission comes through the online channel",
            ));
        }
        check_applicant(&i.applicant)?;
        let p = self.new_procedure()?;
        Ok(self.one(DossierChange::SubmittedOnline(submission(i, p))))
    }

    fn receive(&self, intake: Option<&Intake>) -> Events {
        let what = match (intake, self.auth.new_procedure) {
            (Some(i), Some(p)) => {
                if i.channel == Channel::Online {
                    return Err(DomainError::validation(
                        "channel",
                        "an online dossier is submitted first, then received",
                    ));
                }
                check_applicant(&i.applicant)?;
                Received::from_intake(i, p)
            }
            _ => self.submitted()?,
        };
        let at = self.now();
        let rule = precondition::rule_set_in_force(self.ctx.reference, at)?;
        let cal = self.ctx.reference.calendar.unit(&what.unit);
        let p = what.procedure;
        let receipt = Receipt {
            procedure: ProcedureRef {
                id: p.id.clone(),
                version: p.version,
            },
            procedure_name: p.name.clone(),
            field: p.field.clone(),
            unit: what.unit,
            channel: what.channel,
            workflow: p.workflow.clone(),
            rule_set: rule.id.clone(),
            applicant: what.applicant,
            documents: what.documents,
            processing_time: p.processing_time,
            clock_start: precondition::clock_start(cal, at),
            due: precondition::due(cal, at, p.processing_time, rule),
            lookup_secret: what.secret,
            fees: Vnd(p.fees.iter().map(|f| f.amount.0).sum()),
        };
        Ok(self.one(DossierChange::Received(receipt)))
    }

    /// What an online submission being received brings to its receipt.
    fn submitted(&self) -> Result<Received<'_>, DomainError> {
        let s = self
            .state
            .submission
            .as_ref()
            .ok_or_else(|| DomainError::validation("submission", "missing"))?;
        let p = self
            .ctx
            .reference
            .catalog
            .version(&s.procedure)
            .ok_or_else(|| DomainError::UnknownProcedure {
                id: s.procedure.id.clone(),
                date: format!("version {}", s.procedure.version),
            })?;
        Ok(Received {
            procedure: p,
            applicant: s.applicant.clone(),
            documents: s.documents.clone(),
            channel: s.channel,
            unit: s.unit.clone(),
            secret: s.lookup_secret.clone(),
        })
    }

    fn guide_to_complete(
        &self,
        intake: Option<&Intake>,
        missing: Vec<String>,
        note: String,
    ) -> Events {
        if missing.iter().all(|m| m.trim().is_empty()) {
            return Err(DomainError::validation("missing", "list what is missing"));
        }
        self.desk_intake_then(intake, DossierChange::GuidedToComplete { missing, note })
    }

    fn refuse_to_receive(
        &self,
        intake: Option<&Intake>,
        reason: String,
        legal_basis: String,
    ) -> Events {
        require("reason", &reason)?;
        require("legal_basis", &legal_basis)?;
        self.desk_intake_then(
            intake,
            DossierChange::RefusedToReceive {
                reason,
                legal_basis,
            },
        )
    }

    fn assign(&self, specialist: StaffId, note: String) -> Events {
        let target = self
            .ctx
            .reference
            .directory
            .staff(&specialist)
            .filter(|s| s.has_role(Role::Specialist))
            .ok_or_else(|| DomainError::UnknownStaff(specialist.clone()))?;
        check_scope(target, Role::Specialist, &self.auth.unit, &self.auth.field)?;
        Ok(self.one(DossierChange::Assigned { specialist, note }))
    }

    fn request_supplement(&self, items: Vec<String>, reason: String) -> Events {
        let rule = precondition::rule_set_of(self.state, self.ctx.reference)?;
        precondition::supplement_within_limit(self.state, rule)?;
        if items.iter().all(|m| m.trim().is_empty()) {
            return Err(DomainError::validation(
                "items",
                "list what must be supplemented",
            ));
        }
        require("reason", &reason)?;
        Ok(self.one(DossierChange::SupplementRequested { items, reason }))
    }

    fn record_supplement(&self, note: String) -> Events {
        let r = precondition::resume(self.state, self.ctx.reference, self.now())?;
        Ok(self.one(DossierChange::SupplementReceived {
            paused_office_minutes: r.paused_office_minutes,
            new_due: r.new_due,
            note,
        }))
    }

    fn forward(&self, agency: String, note: String) -> Events {
        require("agency", &agency)?;
        Ok(self.one(DossierChange::Forwarded { agency, note }))
    }

    fn request_payment(&self, amount: Vnd, note: String) -> Events {
        if amount.0 == 0 {
            return Err(DomainError::validation("amount", "must be more than 0 VND"));
        }
        Ok(self.one(DossierChange::PaymentRequested { amount, note }))
    }

    fn record_payment(&self, receipt_number: String) -> Events {
        require("receipt_number", &receipt_number)?;
        let r = precondition::resume(self.state, self.ctx.reference, self.now())?;
        Ok(self.one(DossierChange::PaymentRecorded {
            paused_office_minutes: r.paused_office_minutes,
            new_due: r.new_due,
            receipt_number,
        }))
    }

    fn submit_for_signing(&self, draft: DraftKind, note: String) -> Events {
        precondition::agency_answered(self.auth.transition, self.state)?;
        Ok(self.one(DossierChange::SubmittedForSigning { draft, note }))
    }

    fn approve(&self, note: String) -> Events {
        precondition::draft_is(self.state, DraftKind::Result)?;
        Ok(self.one(DossierChange::Approved { note }))
    }

    fn sign_refusal(&self, reasons: String) -> Events {
        precondition::draft_is(self.state, DraftKind::Refusal)?;
        require("reasons", &reasons)?;
        Ok(self.one(DossierChange::RefusalSigned { reasons }))
    }

    fn send_back(&self, comments: String) -> Events {
        require("comments", &comments)?;
        Ok(self.one(DossierChange::SentBack { comments }))
    }

    fn apologise(&self, reason: String, new_appointment: Timestamp) -> Events {
        require("reason", &reason)?;
        precondition::apology_allowed(self.state, self.ctx.reference, self.now(), new_appointment)?;
        Ok(self.one(DossierChange::Apologised {
            reason,
            new_appointment,
        }))
    }

    fn withdraw(&self, reason: String) -> Events {
        require("reason", &reason)?;
        Ok(self.one(DossierChange::Withdrawn { reason }))
    }

    fn stop(&self, reason: String, legal_basis: String) -> Events {
        require("reason", &reason)?;
        require("legal_basis", &legal_basis)?;
        Ok(self.one(DossierChange::Stopped {
            reason,
            legal_basis,
        }))
    }
}

/// What a receipt takes from the dossier being received (a desk intake, or the online
/// submission).
struct Received<'p> {
    procedure: &'p Procedure,
    applicant: ApplicantRecord,
    documents: Vec<String>,
    channel: Channel,
    unit: UnitCode,
    secret: SecretDigest,
}

impl<'p> Received<'p> {
    fn from_intake(i: &Intake, procedure: &'p Procedure) -> Received<'p> {
        Received {
            procedure,
            applicant: ApplicantRecord::Clear(i.applicant.clone()),
            documents: i.documents.clone(),
            channel: i.channel,
            unit: i.unit.clone(),
            secret: i.lookup_secret.clone(),
        }
    }
}

/// The submission an intake records, under the procedure version in force.
fn submission(i: &Intake, p: &Procedure) -> Submission {
    Submission {
        procedure: ProcedureRef {
            id: p.id.clone(),
            version: p.version,
        },
        field: p.field.clone(),
        unit: i.unit.clone(),
        channel: i.channel,
        // In clear until the command service seals it under the person's key, before the log
        // sees it (`engine/src/personal.rs`).
        applicant: ApplicantRecord::Clear(i.applicant.clone()),
        documents: i.documents.clone(),
        lookup_secret: i.lookup_secret.clone(),
    }
}

fn check_applicant(a: &Applicant) -> Result<(), DomainError> {
    require("applicant.name", &a.name)?;
    require("applicant.id_number", &a.id_number)
}

fn require(field: &str, value: &str) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        Err(DomainError::validation(field, "must not be empty"))
    } else {
        Ok(())
    }
}
