//! The events as schema versions 1 and 2 recorded them, kept to read the payloads of old logs
//! and archives, and their meaning today ([`From`] into [`Event`]).
//!
//! The two versions differ from today's only in a dossier's first two changes, a submission
//! and a receipt, so one generic shape ([`EventOld`]) serves both, with each version's pair:
//! - version 1 recorded a lookup secret's unsalted SHA-256 (`lookup_secret_sha256`), which
//!   reads as [`SecretDigest::Sha256`] and verifies as before;
//! - versions 1 and 2 recorded the applicant in clear, which reads as
//!   [`ApplicantRecord::Clear`] (version 3 seals it: `engine/src/domain/personal.rs`).
//!
//! Every other shape is today's type itself, so those events decode to the same value under
//! every version (tested in `engine/src/recorded.rs`).
//!
//! Frozen: no shape here ever changes (the bytes it reads are in logs forever). The upcast that
//! decodes with these types is in `engine/src/recorded.rs` (the domain knows no codec).

use serde::{Deserialize, Serialize};

use super::events::{
    Applicant, CalendarEvent, CatalogEvent, DossierChange, DossierEvent, DraftKind, Event, Receipt,
    StaffEvent, Submission, UnitEvent,
};
use super::personal::ApplicantRecord;
use super::plan::PlanEvent;
use super::secret::SecretDigest;
use super::types::{
    Channel, DossierCode, Field, ProcedureRef, RuleSetId, StaffId, Timestamp, UnitCode, Vnd,
    WorkflowId, WorkingTime,
};

/// [`Event`] of schema version 1.
pub type EventV1 = EventOld<SubmissionV1, ReceiptV1>;
/// [`DossierEvent`] of schema version 1.
pub type DossierEventV1 = DossierEventOld<SubmissionV1, ReceiptV1>;
/// [`DossierChange`] of schema version 1.
pub type DossierChangeV1 = DossierChangeOld<SubmissionV1, ReceiptV1>;
/// [`Event`] of schema version 2.
pub type EventV2 = EventOld<SubmissionV2, ReceiptV2>;
/// [`DossierEvent`] of schema version 2.
pub type DossierEventV2 = DossierEventOld<SubmissionV2, ReceiptV2>;

/// [`Event`] of schema versions 1 and 2 (the variants in the same order; `Personal` came in
/// version 3), with the version's submission `S` and receipt `R`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventOld<S, R> {
    Unit(UnitEvent),
    Staff(StaffEvent),
    Catalog(CatalogEvent),
    Calendar(CalendarEvent),
    Dossier(DossierEventOld<S, R>),
    Plan(PlanEvent),
}

/// [`DossierEvent`] of schema versions 1 and 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DossierEventOld<S, R> {
    pub code: DossierCode,
    pub at: Timestamp,
    pub change: DossierChangeOld<S, R>,
}

/// [`Submission`] of schema version 2: the applicant in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionV2 {
    pub procedure: ProcedureRef,
    pub field: Field,
    pub unit: UnitCode,
    pub channel: Channel,
    pub applicant: Applicant,
    pub documents: Vec<String>,
    pub lookup_secret: SecretDigest,
}

/// [`Receipt`] of schema version 2: the applicant in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptV2 {
    pub procedure: ProcedureRef,
    pub procedure_name: String,
    pub field: Field,
    pub unit: UnitCode,
    pub channel: Channel,
    pub workflow: WorkflowId,
    pub rule_set: RuleSetId,
    pub applicant: Applicant,
    pub documents: Vec<String>,
    pub processing_time: WorkingTime,
    pub clock_start: Timestamp,
    pub due: Timestamp,
    pub lookup_secret: SecretDigest,
    pub fees: Vnd,
}

/// [`Submission`] of schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionV1 {
    pub procedure: ProcedureRef,
    pub field: Field,
    pub unit: UnitCode,
    pub channel: Channel,
    pub applicant: Applicant,
    pub documents: Vec<String>,
    /// SHA-256 of the lookup secret.
    pub lookup_secret_sha256: [u8; 32],
}

/// [`Receipt`] of schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptV1 {
    pub procedure: ProcedureRef,
    pub procedure_name: String,
    pub field: Field,
    pub unit: UnitCode,
    pub channel: Channel,
    pub workflow: WorkflowId,
    /// The rule set in force at receipt; the dossier is judged by it for life.
    pub rule_set: RuleSetId,
    pub applicant: Applicant,
    pub documents: Vec<String>,
    pub processing_time: WorkingTime,
    /// When counting starts (receipt time, or the next working morning if after hours).
    pub clock_start: Timestamp,
    /// Ngày hẹn trả: the due time, fixed here.
    pub due: Timestamp,
    /// SHA-256 of the lookup secret.
    pub lookup_secret_sha256: [u8; 32],
    pub fees: Vnd,
}

/// [`DossierChange`] of schema versions 1 and 2: the same variants in the same order, the
/// first two with the version's shapes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DossierChangeOld<S, R> {
    SubmittedOnline(S),
    Received(R),
    /// Phiếu hướng dẫn hoàn thiện hồ sơ for an online submission: what is missing.
    GuidedToComplete {
        missing: Vec<String>,
        note: String,
    },
    /// Phiếu từ chối tiếp nhận.
    RefusedToReceive {
        reason: String,
        legal_basis: String,
    },
    /// Hand-off to a specialist of the procedure's field.
    Assigned {
        specialist: StaffId,
        note: String,
    },
    /// Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ; the clock stops.
    SupplementRequested {
        items: Vec<String>,
        reason: String,
    },
    /// The clock resumes; the office minutes paused are added to the due time.
    SupplementReceived {
        paused_office_minutes: u32,
        new_due: Timestamp,
        note: String,
    },
    /// Liên thông hand-off to another agency.
    Forwarded {
        agency: String,
        note: String,
    },
    OtherAgencyAnswered {
        note: String,
    },
    /// Yêu cầu thực hiện nghĩa vụ tài chính; the clock stops.
    PaymentRequested {
        amount: Vnd,
        note: String,
    },
    PaymentRecorded {
        paused_office_minutes: u32,
        new_due: Timestamp,
        receipt_number: String,
    },
    SubmittedForSigning {
        draft: DraftKind,
        note: String,
    },
    /// The leader signs the result: resolved, judged against the due time here.
    Approved {
        note: String,
    },
    /// The leader signs the refusal: resolved, judged like an approval.
    RefusalSigned {
        reasons: String,
    },
    SentBack {
        comments: String,
    },
    /// Phiếu xin lỗi và hẹn lại ngày trả kết quả; does not change how the dossier is judged.
    Apologised {
        reason: String,
        new_appointment: Timestamp,
    },
    HandedOver {
        note: String,
    },
    Withdrawn {
        reason: String,
    },
    /// Dừng xử lý (national status 8).
    Stopped {
        reason: String,
        legal_basis: String,
    },
}

impl<S: Into<Submission>, R: Into<Receipt>> From<EventOld<S, R>> for Event {
    fn from(v1: EventOld<S, R>) -> Event {
        match v1 {
            EventOld::Unit(e) => Event::Unit(e),
            EventOld::Staff(e) => Event::Staff(e),
            EventOld::Catalog(e) => Event::Catalog(e),
            EventOld::Calendar(e) => Event::Calendar(e),
            EventOld::Dossier(d) => Event::Dossier(d.into()),
            EventOld::Plan(e) => Event::Plan(e),
        }
    }
}

impl<S: Into<Submission>, R: Into<Receipt>> From<DossierEventOld<S, R>> for DossierEvent {
    fn from(v1: DossierEventOld<S, R>) -> DossierEvent {
        DossierEvent {
            code: v1.code,
            at: v1.at,
            change: v1.change.into(),
        }
    }
}

impl<S: Into<Submission>, R: Into<Receipt>> From<DossierChangeOld<S, R>> for DossierChange {
    fn from(v1: DossierChangeOld<S, R>) -> DossierChange {
        use DossierChangeOld as V1;
        match v1 {
            V1::SubmittedOnline(s) => DossierChange::SubmittedOnline(s.into()),
            V1::Received(r) => DossierChange::Received(r.into()),
            V1::GuidedToComplete { missing, note } => {
                DossierChange::GuidedToComplete { missing, note }
            }
            V1::RefusedToReceive {
                reason,
                legal_basis,
            } => DossierChange::RefusedToReceive {
                reason,
                legal_basis,
            },
            V1::Assigned { specialist, note } => DossierChange::Assigned { specialist, note },
            V1::SupplementRequested { items, reason } => {
                DossierChange::SupplementRequested { items, reason }
            }
            V1::SupplementReceived {
                paused_office_minutes,
                new_due,
                note,
            } => DossierChange::SupplementReceived {
                paused_office_minutes,
                new_due,
                note,
            },
            V1::Forwarded { agency, note } => DossierChange::Forwarded { agency, note },
            V1::OtherAgencyAnswered { note } => DossierChange::OtherAgencyAnswered { note },
            V1::PaymentRequested { amount, note } => {
                DossierChange::PaymentRequested { amount, note }
            }
            V1::PaymentRecorded {
                paused_office_minutes,
                new_due,
                receipt_number,
            } => DossierChange::PaymentRecorded {
                paused_office_minutes,
                new_due,
                receipt_number,
            },
            V1::SubmittedForSigning { draft, note } => {
                DossierChange::SubmittedForSigning { draft, note }
            }
            V1::Approved { note } => DossierChange::Approved { note },
            V1::RefusalSigned { reasons } => DossierChange::RefusalSigned { reasons },
            V1::SentBack { comments } => DossierChange::SentBack { comments },
            V1::Apologised {
                reason,
                new_appointment,
            } => DossierChange::Apologised {
                reason,
                new_appointment,
            },
            V1::HandedOver { note } => DossierChange::HandedOver { note },
            V1::Withdrawn { reason } => DossierChange::Withdrawn { reason },
            V1::Stopped {
                reason,
                legal_basis,
            } => DossierChange::Stopped {
                reason,
                legal_basis,
            },
        }
    }
}

impl From<SubmissionV1> for Submission {
    fn from(v1: SubmissionV1) -> Submission {
        Submission {
            procedure: v1.procedure,
            field: v1.field,
            unit: v1.unit,
            channel: v1.channel,
            applicant: ApplicantRecord::Clear(v1.applicant),
            documents: v1.documents,
            lookup_secret: SecretDigest::Sha256(v1.lookup_secret_sha256),
        }
    }
}

impl From<ReceiptV1> for Receipt {
    fn from(v1: ReceiptV1) -> Receipt {
        Receipt {
            procedure: v1.procedure,
            procedure_name: v1.procedure_name,
            field: v1.field,
            unit: v1.unit,
            channel: v1.channel,
            workflow: v1.workflow,
            rule_set: v1.rule_set,
            applicant: ApplicantRecord::Clear(v1.applicant),
            documents: v1.documents,
            processing_time: v1.processing_time,
            clock_start: v1.clock_start,
            due: v1.due,
            lookup_secret: SecretDigest::Sha256(v1.lookup_secret_sha256),
            fees: v1.fees,
        }
    }
}

impl From<SubmissionV2> for Submission {
    fn from(v2: SubmissionV2) -> Submission {
        Submission {
            procedure: v2.procedure,
            field: v2.field,
            unit: v2.unit,
            channel: v2.channel,
            applicant: ApplicantRecord::Clear(v2.applicant),
            documents: v2.documents,
            lookup_secret: v2.lookup_secret,
        }
    }
}

impl From<ReceiptV2> for Receipt {
    fn from(v2: ReceiptV2) -> Receipt {
        Receipt {
            procedure: v2.procedure,
            procedure_name: v2.procedure_name,
            field: v2.field,
            unit: v2.unit,
            channel: v2.channel,
            workflow: v2.workflow,
            rule_set: v2.rule_set,
            applicant: ApplicantRecord::Clear(v2.applicant),
            documents: v2.documents,
            processing_time: v2.processing_time,
            clock_start: v2.clock_start,
            due: v2.due,
            lookup_secret: v2.lookup_secret,
            fees: v2.fees,
        }
    }
}
