//! Reference data through the command service's reference commands (which validate them): a
//! year's working calendar (read, published) and issuing a procedure into the catalog, with
//! its publication at the caller's unit.

use chrono::NaiveDate;
use motcua_engine::domain::events::{CalendarEvent, Event, Procedure, YearCalendar};
use motcua_engine::domain::types::ProcedureId;
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
            .map_err(|e| match e {
                // On the dossier path an unknown workflow means broken reference data (500);
                // here it is the admin's input (it was a 500; found by probing after
                // schemathesis).
                AppError::Service(ServiceError::Domain(DomainError::UnknownWorkflow(w))) => {
                    AppError::invalid("procedure.workflow", format!("unknown workflow {w}"))
                }
                other => other,
            })?;
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
