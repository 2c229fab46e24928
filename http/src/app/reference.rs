//! Reference data through the command service's reference commands (which validate them): a
//! year's working calendar (read, published), a unit's office hours, and the procedure catalog
//! (issue, with its publication at the caller's unit; amend into a new version; abolish;
//! publish or unpublish at the caller's unit), with the admin's list of every procedure. The
//! JSON routes and the console's admin screens call these same functions.

use chrono::NaiveDate;
use motcua_engine::domain::events::{
    CalendarEvent, Event, FieldInfo, Procedure, Session, YearCalendar,
};
use motcua_engine::domain::types::{Field, ProcedureId, Role, WorkingTime};
use motcua_engine::domain::DomainError;
use motcua_engine::idempotency::{CommandKey, KeyScope};
use motcua_engine::log::StreamId;
use motcua_engine::recorded::decode_event;
use motcua_engine::service::{Authority, ReferenceCommand, ReferenceOutcome, ServiceError};

use crate::app::caller::Caller;
use crate::app::clock;
use crate::app::error::AppError;
use crate::app::handle::App;
use crate::app::idempotency::{command_key, IdempotencyKey};

/// A procedure to issue (version 1), and where the caller's unit publishes it.
#[derive(Debug, Clone)]
pub struct ProcedureIssue {
    pub procedure: Procedure,
    /// In force from.
    pub effective: NaiveDate,
    /// Published at the desk (niêm yết).
    pub publish_at_desk: bool,
    /// Published online.
    pub publish_online: bool,
}

/// Where a procedure stands on a date (the admin's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcedureStatus {
    /// No version is in force yet (the first one's effective date is later).
    NotYetInForce,
    InForce,
    Abolished,
}

/// One procedure of the catalog as the admin's list shows it: its latest version, and which
/// version is in force today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcedureRow {
    pub id: ProcedureId,
    pub name: String,
    pub field: Field,
    /// The highest version recorded (it may not be in force yet).
    pub latest_version: u32,
    /// The latest version's effective date.
    pub latest_effective: NaiveDate,
    /// The version in force today, if any.
    pub in_force_version: Option<u32>,
    pub processing_time: WorkingTime,
    pub status: ProcedureStatus,
    /// The abolition's effective date and reason, if abolished (even from a later date).
    pub abolished: Option<(NaiveDate, String)>,
    /// Published at the caller's unit today: (at the desk, online).
    pub published: (bool, bool),
    /// The latest version whole (the amend form starts from it).
    pub latest: Procedure,
}

/// A publication decision (niêm yết) of the caller's unit for one procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publication {
    pub at_desk: bool,
    pub online: bool,
    /// From this date.
    pub effective: NaiveDate,
}

/// The reference data commands and reads of an [`App`].
pub struct Reference<'a> {
    app: &'a App,
}

impl App {
    /// Reference data: calendars and procedures.
    pub fn reference(&self) -> Reference<'_> {
        Reference { app: self }
    }
}

impl Reference<'_> {
    /// The calendar of `year` as last published (`None` if never).
    pub fn calendar(&self, year: i32) -> Result<Option<YearCalendar>, AppError> {
        let envs = self
            .app
            .log()
            .read_stream(&StreamId::calendar_year(year), 1)?;
        Ok(envs.iter().rev().find_map(|e| match decode_event(e) {
            Ok(Event::Calendar(CalendarEvent::YearPublished(y))) => Some(y),
            _ => None,
        }))
    }

    /// Publishes a year's calendar as `caller` (an admin); a year already published only with
    /// `replace`.
    pub async fn publish_calendar(
        &self,
        caller: &Caller,
        calendar: YearCalendar,
        replace: bool,
        key: Option<&IdempotencyKey>,
    ) -> Result<ReferenceOutcome, AppError> {
        let cmd = ReferenceCommand::PublishCalendarYear { calendar, replace };
        let key = command_key(caller, KeyScope::Reference, key);
        let o = self.execute(caller, cmd, key.as_ref()).await?;
        self.app.wait_for_read_models(o.seq).await;
        Ok(o)
    }

    /// Issues a procedure as `caller` (an admin) and publishes it at their unit if asked;
    /// returns its id and the seq of the last event written.
    pub async fn issue_procedure(
        &self,
        caller: &Caller,
        issue: ProcedureIssue,
        key: Option<&IdempotencyKey>,
    ) -> Result<(ProcedureId, u64), AppError> {
        let id = issue.procedure.id.clone();
        let cmd = ReferenceCommand::IssueProcedure {
            procedure: issue.procedure,
            effective: issue.effective,
        };
        // Two commands under one key: issuing is its first step, publishing its second.
        let key = command_key(caller, KeyScope::Reference, key);
        let step = |i| key.as_ref().map(|k| k.step(i));
        let mut o = self
            .execute(caller, cmd, step(0).as_ref())
            .await
            .map_err(workflow_is_input)?;
        if issue.publish_at_desk || issue.publish_online {
            let cmd = ReferenceCommand::PublishProcedure {
                unit: caller.unit().clone(),
                id: id.clone(),
                at_desk: issue.publish_at_desk,
                online: issue.publish_online,
                effective: issue.effective,
            };
            o = self.execute(caller, cmd, step(1).as_ref()).await?;
        }
        self.app.wait_for_read_models(o.seq).await;
        Ok((id, o.seq))
    }

    /// Every procedure of the catalog (abolished ones too), by id, as of the business clock's
    /// today, with its publication at the caller's unit: the admin's list.
    pub fn procedures(&self, caller: &Caller) -> Result<Vec<ProcedureRow>, AppError> {
        caller.require_any(&[Role::Admin])?;
        let today = clock::today();
        let unit = caller.unit().clone();
        Ok(self.app.service().with_reference(|r| {
            r.catalog
                .histories()
                .filter_map(|(id, h)| {
                    let (latest_effective, latest) = h.versions.last()?;
                    let in_force = r.catalog.procedure_as_of(id, today);
                    let status = if r.catalog.is_abolished(id, today) {
                        ProcedureStatus::Abolished
                    } else if in_force.is_some() {
                        ProcedureStatus::InForce
                    } else {
                        ProcedureStatus::NotYetInForce
                    };
                    Some(ProcedureRow {
                        id: id.clone(),
                        name: latest.name.clone(),
                        field: latest.field.clone(),
                        latest_version: latest.version,
                        latest_effective: *latest_effective,
                        in_force_version: in_force.map(|p| p.version),
                        processing_time: latest.processing_time,
                        status,
                        abolished: h.abolished.clone(),
                        published: r.catalog.publication(&unit, id, today),
                        latest: latest.clone(),
                    })
                })
                .collect()
        })?)
    }

    /// Amends a procedure (a new version: the latest + 1, checked by the engine), in force from
    /// `effective`; dossiers already received keep the version they were received under.
    pub async fn amend_procedure(
        &self,
        caller: &Caller,
        procedure: Procedure,
        effective: NaiveDate,
        key: Option<&IdempotencyKey>,
    ) -> Result<ReferenceOutcome, AppError> {
        self.require_procedure(caller, &procedure.id)?;
        let cmd = ReferenceCommand::AmendProcedure {
            procedure,
            effective,
        };
        let key = command_key(caller, KeyScope::Reference, key);
        let o = self
            .execute(caller, cmd, key.as_ref())
            .await
            .map_err(workflow_is_input)?;
        self.app.wait_for_read_models(o.seq).await;
        Ok(o)
    }

    /// Abolishes procedure `id` from `effective` (bãi bỏ), for `reason`: from that date no
    /// dossier of it is received; dossiers already received are decided under their version.
    pub async fn abolish_procedure(
        &self,
        caller: &Caller,
        id: &ProcedureId,
        effective: NaiveDate,
        reason: String,
        key: Option<&IdempotencyKey>,
    ) -> Result<ReferenceOutcome, AppError> {
        self.require_procedure(caller, id)?;
        let cmd = ReferenceCommand::AbolishProcedure {
            id: id.clone(),
            effective,
            reason,
        };
        let key = command_key(caller, KeyScope::Reference, key);
        let o = self.execute(caller, cmd, key.as_ref()).await?;
        self.app.wait_for_read_models(o.seq).await;
        Ok(o)
    }

    /// Publishes (or, with both flags false, unpublishes) procedure `id` at the caller's unit.
    pub async fn publish_procedure(
        &self,
        caller: &Caller,
        id: &ProcedureId,
        publication: Publication,
        key: Option<&IdempotencyKey>,
    ) -> Result<ReferenceOutcome, AppError> {
        self.require_procedure(caller, id)?;
        let cmd = ReferenceCommand::PublishProcedure {
            unit: caller.unit().clone(),
            id: id.clone(),
            at_desk: publication.at_desk,
            online: publication.online,
            effective: publication.effective,
        };
        let key = command_key(caller, KeyScope::Reference, key);
        let o = self.execute(caller, cmd, key.as_ref()).await?;
        self.app.wait_for_read_models(o.seq).await;
        Ok(o)
    }

    /// The fields of the caller's unit (slug and Vietnamese name): a procedure form's choices.
    pub fn unit_fields(&self, caller: &Caller) -> Result<Vec<FieldInfo>, AppError> {
        let unit = caller.unit().clone();
        Ok(self.app.service().with_reference(|r| {
            r.directory
                .unit(&unit)
                .map(|u| u.fields.clone())
                .unwrap_or_default()
        })?)
    }

    /// The office sessions of the caller's unit in force on `date` (those of its working days,
    /// even when `date` is not one).
    pub fn office_hours(&self, caller: &Caller, date: NaiveDate) -> Result<Vec<Session>, AppError> {
        let unit = caller.unit().clone();
        Ok(self
            .app
            .service()
            .with_reference(|r| r.calendar.unit(&unit).sessions_in_force(date).to_vec())?)
    }

    /// Sets the office hours of the caller's unit from `effective` (validated by the engine:
    /// at least one session, in order, none overlapping).
    pub async fn set_office_hours(
        &self,
        caller: &Caller,
        sessions: Vec<Session>,
        effective: NaiveDate,
        key: Option<&IdempotencyKey>,
    ) -> Result<ReferenceOutcome, AppError> {
        let cmd = ReferenceCommand::SetOfficeHours {
            unit: caller.unit().clone(),
            sessions,
            effective,
        };
        let key = command_key(caller, KeyScope::Reference, key);
        let o = self.execute(caller, cmd, key.as_ref()).await?;
        self.app.wait_for_read_models(o.seq).await;
        Ok(o)
    }

    /// A procedure named by a path or form that the catalog does not hold is not found (404),
    /// not an invalid field: the caller named something that does not exist. The role is
    /// checked first, so a caller who may not change the catalog learns nothing of it.
    fn require_procedure(&self, caller: &Caller, id: &ProcedureId) -> Result<(), AppError> {
        caller.require_any(&[Role::Admin])?;
        let known = self
            .app
            .service()
            .with_reference(|r| r.catalog.history(id).is_some())?;
        if known {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("procedure {id}")))
        }
    }

    /// The one call of the command service for reference commands of a staff member.
    async fn execute(
        &self,
        caller: &Caller,
        cmd: ReferenceCommand,
        key: Option<&CommandKey>,
    ) -> Result<ReferenceOutcome, AppError> {
        let admin = caller.actor();
        Ok(self
            .app
            .service()
            .execute_reference_keyed(cmd, Authority::Admin(&admin), clock::now(), key)
            .await?)
    }
}

/// On the dossier path an unknown workflow means broken reference data (500); in a procedure an
/// admin issues or amends it is their input (it was a 500; found by probing after schemathesis).
fn workflow_is_input(e: AppError) -> AppError {
    match e {
        AppError::Service(ServiceError::Domain(DomainError::UnknownWorkflow(w))) => {
            AppError::invalid("procedure.workflow", format!("unknown workflow {w}"))
        }
        other => other,
    }
}
