//! The events as schema version 1 recorded them, kept to read the payloads of old logs and
//! archives, and their meaning today ([`From`] into [`Event`]). Version 2 changed one thing: a
//! dossier's lookup secret became a [`SecretDigest`] where version 1 recorded its unsalted
//! SHA-256 (`lookup_secret_sha256`), which reads as [`SecretDigest::Sha256`] and verifies as
//! before. Every other shape is today's type itself, so those events decode to the same value
//! under both versions (tested in `engine/src/recorded.rs`).
//!
//! Frozen: nothing here ever changes (the bytes it reads are in logs forever). The upcast that
//! decodes with these types is in `engine/src/recorded.rs` (the domain knows no codec).

use serde::{Deserialize, Serialize};

use super::events::{
    Applicant, CalendarEvent, CatalogEvent, DossierChange, DossierEvent, DraftKind, Event, Receipt,
    StaffEvent, Submission, UnitEvent,
};
use super::plan::PlanEvent;
use super::secret::SecretDigest;
use super::types::{
    Channel, DossierCode, Field, ProcedureRef, RuleSetId, StaffId, Timestamp, UnitCode, Vnd,
    WorkflowId, WorkingTime,
};

/// [`Event`] of schema version 1 (the variants in the same order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventV1 {
    Unit(UnitEvent),
    Staff(StaffEvent),
    Catalog(CatalogEvent),
    Calendar(CalendarEvent),
    Dossier(DossierEventV1),
    Plan(PlanEvent),
}

/// [`DossierEvent`] of schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DossierEventV1 {
    pub code: DossierCode,
    pub at: Timestamp,
    pub change: DossierChangeV1,
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

/// [`DossierChange`] of schema version 1: the same variants in the same order, the first two
/// with their version-1 shapes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DossierChangeV1 {
    SubmittedOnline(SubmissionV1),
    Received(ReceiptV1),
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

impl From<EventV1> for Event {
    fn from(v1: EventV1) -> Event {
        match v1 {
            EventV1::Unit(e) => Event::Unit(e),
            EventV1::Staff(e) => Event::Staff(e),
            EventV1::Catalog(e) => Event::Catalog(e),
            EventV1::Calendar(e) => Event::Calendar(e),
            EventV1::Dossier(d) => Event::Dossier(d.into()),
            EventV1::Plan(e) => Event::Plan(e),
        }
    }
}

impl From<DossierEventV1> for DossierEvent {
    fn from(v1: DossierEventV1) -> DossierEvent {
        DossierEvent {
            code: v1.code,
            at: v1.at,
            change: v1.change.into(),
        }
    }
}

impl From<DossierChangeV1> for DossierChange {
    fn from(v1: DossierChangeV1) -> DossierChange {
        use DossierChangeV1 as V1;
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
            applicant: v1.applicant,
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
            applicant: v1.applicant,
            documents: v1.documents,
            processing_time: v1.processing_time,
            clock_start: v1.clock_start,
            due: v1.due,
            lookup_secret: SecretDigest::Sha256(v1.lookup_secret_sha256),
            fees: v1.fees,
        }
    }
}
