//! The domain events: what motcua records, in the log's payloads. Stored forever, so:
//! - variants and fields are only ever appended (bincode encodes enum variants by index);
//!   a changed shape gets a new `schema_version` and an upcast from the old one;
//! - plain serde only (no `tag`, `untagged`, `flatten`, `skip_serializing_if`);
//! - every event carries the business time `at` it happened; folds never read a clock.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::files::AttachedFile;
use super::personal::{ApplicantRecord, PersonalEvent};
use super::plan::PlanEvent;
use super::rating::RatingEvent;
use super::secret::SecretDigest;
use super::types::{
    Channel, DossierCode, Field, ProcedureId, ProcedureRef, Role, RuleSetId, Staff, StaffId,
    Timestamp, UnitCode, Vnd, WorkflowId, WorkingTime,
};

/// Today's schema version of every event type below.
///
/// - 1: the first.
/// - 2: a dossier's lookup secret is a [`SecretDigest`] (`Submission::lookup_secret`,
///   `Receipt::lookup_secret`), Argon2id with a salt for new dossiers, where 1 recorded an
///   unsalted SHA-256 (`lookup_secret_sha256: [u8; 32]`). Payloads of version 1 are read
///   through `engine/src/domain/events_v1.rs` and the upcast of `engine/src/recorded.rs`; every
///   other event has the same bytes under both versions.
/// - 3: a dossier's applicant is an [`ApplicantRecord`] (`Submission::applicant`,
///   `Receipt::applicant`), sealed under the person's key for new dossiers
///   (`engine/src/domain/personal.rs`), where 1 and 2 recorded it in clear; and
///   [`Event::Personal`] is appended. Payloads of versions 1 and 2 are read through
///   `engine/src/domain/events_v1.rs`, their applicants as [`ApplicantRecord::Clear`].
pub const SCHEMA_VERSION: u16 = 3;

/// Every event motcua records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    Unit(UnitEvent),
    Staff(StaffEvent),
    Catalog(CatalogEvent),
    Calendar(CalendarEvent),
    Dossier(DossierEvent),
    Plan(PlanEvent),
    /// Schema version 3 on.
    Personal(PersonalEvent),
    /// A citizen's satisfaction with a handed-over dossier (`engine/src/domain/rating.rs`);
    /// appended under schema version 3 (a new variant changes no earlier payload's bytes).
    Rating(RatingEvent),
}

impl Event {
    /// The `event_type` written in the envelope: `<category>.<change>`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::Unit(UnitEvent::Registered(_)) => "unit.registered",
            Event::Staff(e) => match e {
                StaffEvent::Registered(_) => "staff.registered",
                StaffEvent::Updated(_) => "staff.updated",
                StaffEvent::TokenIssued { .. } => "staff.token_issued",
                StaffEvent::TokenRevoked { .. } => "staff.token_revoked",
            },
            Event::Catalog(e) => match e {
                CatalogEvent::ProcedureIssued { .. } => "catalog.procedure_issued",
                CatalogEvent::ProcedureAmended { .. } => "catalog.procedure_amended",
                CatalogEvent::ProcedureAbolished { .. } => "catalog.procedure_abolished",
                CatalogEvent::ProcedurePublished { .. } => "catalog.procedure_published",
            },
            Event::Calendar(e) => match e {
                CalendarEvent::YearPublished(_) => "calendar.year_published",
                CalendarEvent::OfficeHoursSet { .. } => "calendar.office_hours_set",
            },
            Event::Dossier(d) => d.change.event_type(),
            Event::Plan(p) => p.event_type(),
            Event::Personal(PersonalEvent::Erased { .. }) => "personal.erased",
            Event::Rating(RatingEvent::Given { .. }) => "rating.given",
        }
    }
}

/// An event as a fold sees it: the domain event plus the log's facts about it, without the
/// log's types (the domain knows nothing of the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Global sequence number in the log.
    pub seq: u64,
    /// Stream name (`dossier/<code>`, `catalog`, ...).
    pub stream: String,
    /// Version within the stream, from 1.
    pub version: u64,
    /// When the log committed it (the engine's clock).
    pub recorded_at: Timestamp,
    /// Who caused it: a staff id, or `citizen:<account>` for the online portal (an account's
    /// id, never a person's identity number).
    pub actor: String,
    /// In which role.
    pub role: Role,
    pub event: Event,
}

// ---------------------------------------------------------------------------------------------
// Units and staff

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnitEvent {
    /// An agency (UBND xã ...) and the fields it handles.
    Registered(UnitInfo),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitInfo {
    pub code: UnitCode,
    pub name: String,
    /// The district/province agency that receives inter-level (liên thông) hand-offs.
    pub parent: String,
    pub fields: Vec<FieldInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldInfo {
    pub field: Field,
    /// Vietnamese name, e.g. "Hộ tịch".
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StaffEvent {
    Registered(Staff),
    /// Roles, fields, unit or active flag changed: the whole new record.
    Updated(Staff),
    /// A bearer token was issued; only its SHA-256 is recorded.
    TokenIssued {
        staff: StaffId,
        token_id: String,
        token_sha256: [u8; 32],
        at: Timestamp,
    },
    TokenRevoked {
        staff: StaffId,
        token_id: String,
        at: Timestamp,
    },
}

// ---------------------------------------------------------------------------------------------
// Catalog

/// Deciding level of a procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Level {
    /// decided by the commune
    Commune,
    /// liên thông: the commune receives, another level decides or co-decides
    InterLevel,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequiredDocument {
    pub name: String,
    pub originals: u8,
    pub copies: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fee {
    /// phí / lệ phí, and what for
    pub name: String,
    pub amount: Vnd,
}

/// One version of a procedure (thủ tục hành chính).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Procedure {
    pub id: ProcedureId,
    pub version: u32,
    pub name: String,
    pub field: Field,
    pub level: Level,
    pub documents: Vec<RequiredDocument>,
    pub forms: Vec<String>,
    pub processing_time: WorkingTime,
    pub fees: Vec<Fee>,
    pub workflow: WorkflowId,
    /// Legal basis text (e.g. "Luật Hộ tịch 2014; Nghị định 123/2015/NĐ-CP").
    pub legal_basis: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CatalogEvent {
    /// Version 1 of a procedure, in force from `effective`.
    ProcedureIssued {
        procedure: Procedure,
        effective: NaiveDate,
    },
    /// A new version (version = previous + 1), in force from `effective`.
    ProcedureAmended {
        procedure: Procedure,
        effective: NaiveDate,
    },
    ProcedureAbolished {
        id: ProcedureId,
        effective: NaiveDate,
        reason: String,
    },
    /// Niêm yết: whether the unit publishes the procedure at the desk and online from `effective`.
    ProcedurePublished {
        unit: UnitCode,
        id: ProcedureId,
        at_desk: bool,
        online: bool,
        effective: NaiveDate,
    },
}

// ---------------------------------------------------------------------------------------------
// Calendar

/// A year's working calendar, published as data so a replay years later computes the same
/// due dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearCalendar {
    pub year: i32,
    /// Weekdays that are not working days (public holidays, Tết, days moved for làm bù).
    pub days_off: Vec<NaiveDate>,
    /// Weekend days declared working days (làm bù).
    pub makeup_working_days: Vec<NaiveDate>,
    pub note: String,
}

/// One office session in local (Asia/Ho_Chi_Minh) minutes after midnight, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub start_minute: u16,
    pub end_minute: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CalendarEvent {
    YearPublished(YearCalendar),
    /// A unit's office hours from `effective` (default 07:00-11:30, 13:30-17:00).
    OfficeHoursSet {
        unit: UnitCode,
        sessions: Vec<Session>,
        effective: NaiveDate,
    },
}

// ---------------------------------------------------------------------------------------------
// Dossiers

/// One dossier event: which dossier, when it happened, what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DossierEvent {
    pub code: DossierCode,
    /// Business time of the action (the command's `now`).
    pub at: Timestamp,
    pub change: DossierChange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applicant {
    pub name: String,
    /// CCCD / identity number.
    pub id_number: String,
    pub phone: String,
    pub address: String,
}

/// An online submission (status 1 Mới đăng ký). The portal assigns the code at submission;
/// the due date is fixed only when reception receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub procedure: ProcedureRef,
    pub field: Field,
    pub unit: UnitCode,
    pub channel: Channel,
    /// Sealed under the person's key (`engine/src/domain/personal.rs`).
    pub applicant: ApplicantRecord,
    pub documents: Vec<String>,
    /// The digest of the lookup secret given to the citizen (`engine/src/domain/secret.rs`);
    /// the secret itself is never stored, and the digest is never shown.
    pub lookup_secret: SecretDigest,
}

/// Giấy tiếp nhận hồ sơ và hẹn trả kết quả: everything fixed at receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub procedure: ProcedureRef,
    pub procedure_name: String,
    pub field: Field,
    pub unit: UnitCode,
    pub channel: Channel,
    pub workflow: WorkflowId,
    /// The rule set in force at receipt; the dossier is judged by it for life.
    pub rule_set: RuleSetId,
    /// Sealed under the person's key (`engine/src/domain/personal.rs`).
    pub applicant: ApplicantRecord,
    pub documents: Vec<String>,
    pub processing_time: WorkingTime,
    /// When counting starts (receipt time, or the next working morning if after hours).
    pub clock_start: Timestamp,
    /// Ngày hẹn trả: the due time, fixed here.
    pub due: Timestamp,
    /// The submission's digest for an online dossier, the intake's for a desk one.
    pub lookup_secret: SecretDigest,
    pub fees: Vnd,
}

/// What a specialist submits for signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DraftKind {
    /// the result (a certificate, a decision, ...)
    Result,
    /// a refusal with reasons
    Refusal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DossierChange {
    SubmittedOnline(Submission),
    Received(Receipt),
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
    /// A file (a scan of a checklist document) stored by content in the data directory, made
    /// durable there before this event was appended (`docs/files.md`). Last, so that every
    /// earlier variant keeps its index in the stored bytes.
    FileAttached(AttachedFile),
}

impl DossierChange {
    pub fn event_type(&self) -> &'static str {
        match self {
            DossierChange::SubmittedOnline(_) => "dossier.submitted_online",
            DossierChange::Received(_) => "dossier.received",
            DossierChange::GuidedToComplete { .. } => "dossier.guided_to_complete",
            DossierChange::RefusedToReceive { .. } => "dossier.refused_to_receive",
            DossierChange::Assigned { .. } => "dossier.assigned",
            DossierChange::SupplementRequested { .. } => "dossier.supplement_requested",
            DossierChange::SupplementReceived { .. } => "dossier.supplement_received",
            DossierChange::Forwarded { .. } => "dossier.forwarded",
            DossierChange::OtherAgencyAnswered { .. } => "dossier.other_agency_answered",
            DossierChange::PaymentRequested { .. } => "dossier.payment_requested",
            DossierChange::PaymentRecorded { .. } => "dossier.payment_recorded",
            DossierChange::SubmittedForSigning { .. } => "dossier.submitted_for_signing",
            DossierChange::Approved { .. } => "dossier.approved",
            DossierChange::RefusalSigned { .. } => "dossier.refusal_signed",
            DossierChange::SentBack { .. } => "dossier.sent_back",
            DossierChange::Apologised { .. } => "dossier.apologised",
            DossierChange::HandedOver { .. } => "dossier.handed_over",
            DossierChange::Withdrawn { .. } => "dossier.withdrawn",
            DossierChange::Stopped { .. } => "dossier.stopped",
            DossierChange::FileAttached(_) => "dossier.file_attached",
        }
    }
}
