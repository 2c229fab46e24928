//! Reference-data decisions: whether a unit, staff, token, procedure, calendar or office-hours
//! change is valid against the reference data as it stands, and the events that record it.
//! Pure, like the dossier's `decide`: the time comes in as `now`. Authorization (admin or the
//! system) is [`Authority::authorize`](super::Authority::authorize)'s, before this.

use chrono::{Datelike, NaiveDate};

use crate::domain::calendar::validate_sessions;
use crate::domain::dossier::limits::{one_line, MAX_NAME_CHARS, MAX_NOTE_CHARS};
use crate::domain::error::DomainError;
use crate::domain::events::{
    CalendarEvent, CatalogEvent, Event, Procedure, Session, StaffEvent, UnitEvent, UnitInfo,
    YearCalendar,
};
use crate::domain::types::{ProcedureId, Role, Staff, StaffId, Timestamp, UnitCode, WorkingTime};

use super::command::{ReferenceCommand, ReferenceStream};
use super::ReferenceData;

/// A decided reference change: the stream it belongs to and its events (appended together).
pub type ReferenceDecision = (ReferenceStream, Vec<Event>);

type Decided = Result<ReferenceDecision, DomainError>;

/// Decides a reference change against `r`: its stream and events, or why not.
pub fn decide_reference(r: &ReferenceData, cmd: &ReferenceCommand, now: Timestamp) -> Decided {
    match cmd.clone() {
        ReferenceCommand::RegisterUnit(u) => register_unit(r, u),
        ReferenceCommand::RegisterStaff(s) => register_staff(r, s),
        ReferenceCommand::UpdateStaff(s) => update_staff(r, s),
        ReferenceCommand::IssueToken {
            staff,
            token_id,
            token_sha256,
        } => issue_token(r, staff, token_id, token_sha256, now),
        ReferenceCommand::RevokeToken { staff, token_id } => revoke_token(r, staff, token_id, now),
        ReferenceCommand::IssueProcedure {
            procedure,
            effective,
        } => issue_procedure(r, procedure, effective),
        ReferenceCommand::AmendProcedure {
            procedure,
            effective,
        } => amend_procedure(r, procedure, effective),
        ReferenceCommand::AbolishProcedure {
            id,
            effective,
            reason,
        } => abolish_procedure(r, id, effective, reason),
        ReferenceCommand::PublishProcedure {
            unit,
            id,
            at_desk,
            online,
            effective,
        } => {
            known_unit(r, &unit)?;
            known_procedure(r, &id)?;
            let ev = CatalogEvent::ProcedurePublished {
                unit,
                id,
                at_desk,
                online,
                effective,
            };
            Ok((ReferenceStream::Catalog, vec![Event::Catalog(ev)]))
        }
        ReferenceCommand::PublishCalendarYear { calendar, replace } => {
            publish_calendar_year(r, calendar, replace)
        }
        ReferenceCommand::SetOfficeHours {
            unit,
            sessions,
            effective,
        } => set_office_hours(r, unit, sessions, effective),
        ReferenceCommand::RegisterStaffWithToken {
            staff,
            token_id,
            token_sha256,
        } => register_staff_with_token(r, staff, token_id, token_sha256, now),
    }
}

/// Years a working calendar may be published for: from the founding of the state's
/// administration to well past any dossier's due date.
const CALENDAR_YEARS: std::ops::RangeInclusive<i32> = 1945..=2100;

fn invalid(field: &str, why: impl Into<String>) -> DomainError {
    DomainError::validation(field, why)
}

fn known_unit(r: &ReferenceData, unit: &UnitCode) -> Result<(), DomainError> {
    match r.directory.unit(unit) {
        Some(_) => Ok(()),
        None => Err(invalid("unit", format!("unknown unit {unit}"))),
    }
}

fn known_procedure(r: &ReferenceData, id: &ProcedureId) -> Result<(), DomainError> {
    match r.catalog.history(id) {
        Some(_) => Ok(()),
        None => Err(invalid("procedure", format!("{id} does not exist"))),
    }
}

fn register_unit(r: &ReferenceData, u: UnitInfo) -> Decided {
    if r.directory.unit(&u.code).is_some() {
        return Err(invalid("unit", format!("{} is already registered", u.code)));
    }
    if u.name.trim().is_empty() {
        return Err(invalid("name", "must not be empty"));
    }
    one_line("name", &u.name, MAX_NAME_CHARS)?;
    let stream = ReferenceStream::Unit(u.code.clone());
    Ok((stream, vec![Event::Unit(UnitEvent::Registered(u))]))
}

fn register_staff(r: &ReferenceData, s: Staff) -> Decided {
    if r.directory.staff(&s.id).is_some() {
        return Err(invalid("staff", format!("{} is already registered", s.id)));
    }
    check_staff(r, &s)?;
    let stream = ReferenceStream::Staff(s.id.clone());
    Ok((stream, vec![Event::Staff(StaffEvent::Registered(s))]))
}

fn update_staff(r: &ReferenceData, s: Staff) -> Decided {
    if r.directory.staff(&s.id).is_none() {
        return Err(DomainError::UnknownStaff(s.id.clone()));
    }
    check_staff(r, &s)?;
    let stream = ReferenceStream::Staff(s.id.clone());
    Ok((stream, vec![Event::Staff(StaffEvent::Updated(s))]))
}

/// What a staff record must hold: a known unit, a name of one line, a role, and a field for a
/// specialist.
fn check_staff(r: &ReferenceData, s: &Staff) -> Result<(), DomainError> {
    known_unit(r, &s.unit)?;
    if s.name.trim().is_empty() {
        return Err(invalid("name", "must not be empty"));
    }
    one_line("name", &s.name, MAX_NAME_CHARS)?;
    if s.roles.is_empty() {
        return Err(invalid("roles", "a staff member needs at least one role"));
    }
    if s.roles.contains(&Role::Specialist) && s.fields.is_empty() {
        return Err(invalid("fields", "a specialist needs at least one field"));
    }
    Ok(())
}

fn issue_token(
    r: &ReferenceData,
    staff: StaffId,
    token_id: String,
    token_sha256: [u8; 32],
    now: Timestamp,
) -> Decided {
    if r.directory.staff(&staff).is_none() {
        return Err(DomainError::UnknownStaff(staff));
    }
    check_new_token(r, &staff, &token_id)?;
    Ok((
        ReferenceStream::Staff(staff.clone()),
        vec![token_issued(staff, token_id, token_sha256, now)],
    ))
}

fn check_new_token(r: &ReferenceData, staff: &StaffId, token_id: &str) -> Result<(), DomainError> {
    if token_id.trim().is_empty() || r.directory.has_token_id(staff, token_id) {
        return Err(invalid("token_id", "must be new and not empty"));
    }
    Ok(())
}

fn token_issued(staff: StaffId, token_id: String, token_sha256: [u8; 32], at: Timestamp) -> Event {
    Event::Staff(StaffEvent::TokenIssued {
        staff,
        token_id,
        token_sha256,
        at,
    })
}

/// A new staff member and their first token: the checks of both, one decision.
fn register_staff_with_token(
    r: &ReferenceData,
    s: Staff,
    token_id: String,
    token_sha256: [u8; 32],
    now: Timestamp,
) -> Decided {
    let (stream, mut events) = register_staff(r, s.clone())?;
    // The staff member is new, so none of their token ids is taken yet: only the id's form is
    // left to check, by the same rule as a later token.
    check_new_token(r, &s.id, &token_id)?;
    events.push(token_issued(s.id, token_id, token_sha256, now));
    Ok((stream, events))
}

fn revoke_token(r: &ReferenceData, staff: StaffId, token_id: String, now: Timestamp) -> Decided {
    if !r.directory.has_token_id(&staff, &token_id) {
        return Err(invalid("token_id", "no such token"));
    }
    let ev = StaffEvent::TokenRevoked {
        staff: staff.clone(),
        token_id,
        at: now,
    };
    Ok((ReferenceStream::Staff(staff), vec![Event::Staff(ev)]))
}

fn issue_procedure(r: &ReferenceData, procedure: Procedure, effective: NaiveDate) -> Decided {
    if r.catalog.history(&procedure.id).is_some() {
        return Err(invalid(
            "procedure",
            format!("{} already exists: amend it", procedure.id),
        ));
    }
    if procedure.version != 1 {
        return Err(invalid("version", "a new procedure starts at version 1"));
    }
    check_procedure(r, &procedure)?;
    let ev = CatalogEvent::ProcedureIssued {
        procedure,
        effective,
    };
    Ok((ReferenceStream::Catalog, vec![Event::Catalog(ev)]))
}

fn amend_procedure(r: &ReferenceData, procedure: Procedure, effective: NaiveDate) -> Decided {
    let latest = r
        .catalog
        .latest_version(&procedure.id)
        .ok_or_else(|| invalid("procedure", format!("{} does not exist", procedure.id)))?;
    if procedure.version != latest + 1 {
        return Err(invalid("version", format!("must be {}", latest + 1)));
    }
    check_procedure(r, &procedure)?;
    let ev = CatalogEvent::ProcedureAmended {
        procedure,
        effective,
    };
    Ok((ReferenceStream::Catalog, vec![Event::Catalog(ev)]))
}

fn abolish_procedure(
    r: &ReferenceData,
    id: ProcedureId,
    effective: NaiveDate,
    reason: String,
) -> Decided {
    known_procedure(r, &id)?;
    if reason.trim().is_empty() {
        return Err(invalid("reason", "must not be empty"));
    }
    // The reason is stored in the catalog's stream for good: bounded like a dossier's notes.
    if reason.chars().count() > MAX_NOTE_CHARS {
        return Err(invalid(
            "reason",
            format!("at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    let ev = CatalogEvent::ProcedureAbolished {
        id,
        effective,
        reason,
    };
    Ok((ReferenceStream::Catalog, vec![Event::Catalog(ev)]))
}

/// What a procedure version must hold: a known workflow, a name, a processing time within the
/// limits.
fn check_procedure(r: &ReferenceData, p: &Procedure) -> Result<(), DomainError> {
    if r.workflows.get(&p.workflow).is_none() {
        return Err(DomainError::UnknownWorkflow(p.workflow.clone()));
    }
    if p.name.trim().is_empty() {
        return Err(invalid("name", "must not be empty"));
    }
    if !p.processing_time.within_limits() {
        return Err(invalid(
            "processing_time",
            format!(
                "at most {} working days, {} office hours or {} calendar days",
                WorkingTime::MAX_WORKING_DAYS,
                WorkingTime::MAX_OFFICE_HOURS,
                WorkingTime::MAX_CALENDAR_DAYS
            ),
        ));
    }
    Ok(())
}

fn publish_calendar_year(r: &ReferenceData, y: YearCalendar, replace: bool) -> Decided {
    if r.calendar.has_year(y.year) && !replace {
        return Err(invalid(
            "replace",
            format!(
                "the calendar of {} is already published: to publish a new version, say so \
                 (replace: true); due times already recorded keep the calendar they were \
                 computed with",
                y.year
            ),
        ));
    }
    if !CALENDAR_YEARS.contains(&y.year) {
        return Err(invalid(
            "year",
            format!(
                "{} is outside {}..={}",
                y.year,
                CALENDAR_YEARS.start(),
                CALENDAR_YEARS.end()
            ),
        ));
    }
    for d in y.days_off.iter().chain(&y.makeup_working_days) {
        if d.year() != y.year {
            return Err(invalid("calendar", format!("{d} is not in {}", y.year)));
        }
    }
    for d in &y.makeup_working_days {
        if !matches!(d.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) {
            return Err(invalid(
                "makeup_working_days",
                format!("{d} is not a weekend day"),
            ));
        }
    }
    let stream = ReferenceStream::CalendarYear(y.year);
    Ok((
        stream,
        vec![Event::Calendar(CalendarEvent::YearPublished(y))],
    ))
}

fn set_office_hours(
    r: &ReferenceData,
    unit: UnitCode,
    sessions: Vec<Session>,
    effective: NaiveDate,
) -> Decided {
    known_unit(r, &unit)?;
    validate_sessions(&sessions).map_err(|why| invalid("sessions", why))?;
    let ev = CalendarEvent::OfficeHoursSet {
        unit: unit.clone(),
        sessions,
        effective,
    };
    Ok((
        ReferenceStream::OfficeHours(unit),
        vec![Event::Calendar(ev)],
    ))
}
