//! Reference-data commands: who may change the reference data ([`Authority`]), the changes
//! ([`ReferenceCommand`]), and the stream each change is recorded on ([`ReferenceStream`], a
//! designation the command service turns into the log's stream name).

use crate::domain::dossier::ActorRef;
use crate::domain::error::DomainError;
use crate::domain::events::{Procedure, Session, UnitInfo, YearCalendar};
use crate::domain::types::{ProcedureId, Role, Staff, StaffId, UnitCode};

/// Who may change reference data: an admin, or the trusted system (first seeding, CLI).
#[derive(Debug, Clone, Copy)]
pub enum Authority<'a> {
    Admin(&'a ActorRef),
    /// Recorded as actor `system` in role admin. Only for the initial seed and operator tools.
    System,
}

impl Authority<'_> {
    /// The actor id to record and the role it acts in (always admin), or why it may not.
    pub fn authorize(&self) -> Result<(String, Role), DomainError> {
        match self {
            Authority::System => Ok(("system".into(), Role::Admin)),
            Authority::Admin(a) if a.roles().contains(&Role::Admin) => Ok((a.id(), Role::Admin)),
            Authority::Admin(a) => Err(DomainError::Forbidden {
                action: "reference".into(),
                required_roles: vec![Role::Admin],
                actor_roles: a.roles(),
            }),
        }
    }
}

/// Reference data changes (admin only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceCommand {
    RegisterUnit(UnitInfo),
    RegisterStaff(Staff),
    UpdateStaff(Staff),
    IssueToken {
        staff: StaffId,
        token_id: String,
        token_sha256: [u8; 32],
    },
    RevokeToken {
        staff: StaffId,
        token_id: String,
    },
    IssueProcedure {
        procedure: Procedure,
        effective: chrono::NaiveDate,
    },
    AmendProcedure {
        procedure: Procedure,
        effective: chrono::NaiveDate,
    },
    AbolishProcedure {
        id: ProcedureId,
        effective: chrono::NaiveDate,
        reason: String,
    },
    PublishProcedure {
        unit: UnitCode,
        id: ProcedureId,
        at_desk: bool,
        online: bool,
        effective: chrono::NaiveDate,
    },
    /// A year's working calendar. A year already published is replaced only when `replace` says
    /// so: a second publication changes every due time computed from then on, so it must be
    /// meant, not a mistaken resend.
    PublishCalendarYear {
        calendar: YearCalendar,
        replace: bool,
    },
    SetOfficeHours {
        unit: UnitCode,
        sessions: Vec<Session>,
        effective: chrono::NaiveDate,
    },
    /// Registers a staff member together with their first bearer token: both events or
    /// neither (one append on the staff member's stream).
    RegisterStaffWithToken {
        staff: Staff,
        token_id: String,
        token_sha256: [u8; 32],
    },
}

/// The stream a reference change belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReferenceStream {
    /// One unit's registration: `unit/<code>`.
    Unit(UnitCode),
    /// One staff member and their tokens: `staff/<id>`.
    Staff(StaffId),
    /// The whole procedure catalog: `catalog`.
    Catalog,
    /// One year's calendar of days off and make-up days: `calendar/<year>`.
    CalendarYear(i32),
    /// One unit's office hours: `calendar/hours-<unit>`.
    OfficeHours(UnitCode),
}
