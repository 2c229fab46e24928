//! Queries over the read models: one dossier (with its history and the caller's allowed
//! actions), the dossier list, queues, a leader's approval inbox, a specialist's work list,
//! statistics, the catalog in force, a dossier's slips and the citizen's public lookup. They
//! never write; read-your-writes comes from the write side waiting before it answers.

use chrono::NaiveDate;
use motcua_engine::domain::dossier::precondition::checklist;
use motcua_engine::domain::dossier::{fold, DossierState as DossierFold};
use motcua_engine::domain::events::{Applicant, DossierChange, Event};
use motcua_engine::domain::personal::{ApplicantRecord, Opened};
use motcua_engine::domain::secret::verify_nothing;
use motcua_engine::domain::slips::{self, Slips};
use motcua_engine::domain::types::{DossierCode, Field, UnitCode};
use motcua_engine::domain::Action;
use motcua_engine::log::StreamId;
use motcua_engine::projection::catalog::CatalogView;
use motcua_engine::projection::views::{
    DossierView, InboxEntry, ListFilter, ListPage, PublicStatus, QueueEntry, WorkEntry,
};
use motcua_engine::projection::{DossierState, StatsFilter, StatsReport};

use crate::app::caller::Caller;
use crate::app::clock;
use crate::app::decode::LoggedEvent;
use crate::app::error::AppError;
use crate::app::handle::App;

/// One dossier as staff see it.
#[derive(Debug, Clone)]
pub struct DossierDetail {
    pub view: DossierView,
    /// The dossier stream's version (the `If-Match` of the next write).
    pub version: u64,
    /// Every event of the dossier, oldest first.
    pub history: Vec<LoggedEvent>,
    /// What the caller may do now (the workflow's table for the state and the caller's roles; a
    /// command may still be refused for its content).
    pub allowed_actions: Vec<Action>,
    /// The documents of the dossier's checklist (what an upload names as `document`).
    pub checklist: Vec<String>,
    /// The applicant, opened with the person's key (every field reads "(đã xoá)" once the key
    /// is erased); `None` before one is recorded.
    pub applicant: Option<Applicant>,
}

/// A unit's queues: counts by field and state, and what is overdue now.
#[derive(Debug, Clone)]
pub struct Queues {
    pub unit: UnitCode,
    pub counts: Vec<(Field, DossierState, u64)>,
    pub overdue: Vec<QueueEntry>,
}

/// The queries of an [`App`].
pub struct Views<'a> {
    app: &'a App,
}

impl App {
    /// Queries over the read models.
    pub fn views(&self) -> Views<'_> {
        Views { app: self }
    }
}

impl Views<'_> {
    /// Dossier `code`, if it exists and is in the caller's unit.
    pub fn dossier(&self, caller: &Caller, code: &DossierCode) -> Result<DossierDetail, AppError> {
        let view = self
            .app
            .read_models()
            .dossier(code)?
            .ok_or_else(|| AppError::NotFound(format!("no dossier {code}")))?;
        caller.require_unit(&view.unit)?;
        let stream = StreamId::dossier(code);
        let envs = self.app.log().read_stream(&stream, 1)?;
        let version = envs.last().map(|e| e.version).unwrap_or(view.version);
        let history: Vec<LoggedEvent> = envs.into_iter().map(LoggedEvent::new).collect();
        // The state folded once from the history read for the page: the allowed actions and
        // the checklist come from it, not from loading the dossier again.
        let state = fold(history.iter().filter_map(|e| match &e.event {
            Some(Event::Dossier(d)) => Some(d),
            _ => None,
        }));
        let applicant = match history
            .iter()
            .find_map(|e| applicant_record(e.event.as_ref()?))
        {
            Some(record) => Some(self.open_applicant(record)?),
            None => None,
        };
        Ok(DossierDetail {
            allowed_actions: self.actions_on(caller, &state),
            checklist: checklist(&state).to_vec(),
            history,
            version,
            view,
            applicant,
        })
    }

    /// An applicant as recorded, as people read it: opened with the person's key, or erased.
    pub fn open_applicant(&self, record: &ApplicantRecord) -> Result<Applicant, AppError> {
        let opened = self
            .app
            .service()
            .personal()
            .unseal(record)
            .map_err(AppError::internal)?;
        Ok(opened.or_erased())
    }

    /// The actions `caller` may take on dossier `code` now (none if it cannot be loaded).
    pub(super) fn allowed_actions(&self, caller: &Caller, code: &DossierCode) -> Vec<Action> {
        let Ok((state, _)) = self.app.service().load_dossier(code) else {
            return Vec::new();
        };
        self.actions_on(caller, &state)
    }

    /// The actions `caller` may take on a dossier in `state`.
    fn actions_on(&self, caller: &Caller, state: &DossierFold) -> Vec<Action> {
        let roles = &caller.staff.roles;
        self.app
            .service()
            .with_reference(|r| motcua_engine::domain::allowed_actions(state, roles, r))
            .unwrap_or_default()
    }

    /// A page of the dossiers matching `filter`, newest receipt first, after `cursor`.
    pub fn list(
        &self,
        filter: &ListFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, AppError> {
        self.app
            .read_models()
            .list(filter, cursor, limit)
            .map_err(|e| AppError::invalid("cursor", e.to_string()))
    }

    /// The queues of `unit`.
    pub fn queues(&self, unit: UnitCode) -> Result<Queues, AppError> {
        let rm = self.app.read_models();
        let counts = rm.queue_counts(&unit)?;
        let overdue = rm.overdue_now(&unit, None, clock::now())?;
        Ok(Queues {
            unit,
            counts,
            overdue,
        })
    }

    /// The approval inbox of `caller` as a leader (their unit, their fields if they have any).
    pub fn inbox(&self, caller: &Caller) -> Result<Vec<InboxEntry>, AppError> {
        Ok(self
            .app
            .read_models()
            .approval_inbox_for_leader(&caller.staff, clock::now())?)
    }

    /// The work list of `caller` as a specialist.
    pub fn worklist(&self, caller: &Caller) -> Result<Vec<WorkEntry>, AppError> {
        Ok(self
            .app
            .read_models()
            .work_list(caller.id(), clock::now())?)
    }

    /// The figures of the days `from..=to` (local) for `filter`.
    pub fn stats(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        filter: &StatsFilter,
    ) -> Result<StatsReport, AppError> {
        Ok(self.app.read_models().stats(from, to, filter)?)
    }

    /// The catalog of `unit` in force on `date` (default: today).
    pub fn catalog(
        &self,
        unit: &UnitCode,
        date: Option<NaiveDate>,
    ) -> Result<Option<CatalogView>, AppError> {
        let date = date.unwrap_or_else(|| clock::now().to_utc().date_naive());
        Ok(self.app.read_models().catalog(unit, date)?)
    }

    /// The slips of TT 01/2018 that dossier `code`'s history contains, if it is in the
    /// caller's unit.
    pub fn slips(&self, caller: &Caller, code: &DossierCode) -> Result<Slips, AppError> {
        let (state, records) = self.app.service().load_dossier(code)?;
        if let Some((unit, _)) = state.unit_and_field() {
            caller.require_unit(unit)?;
        }
        // Opening fails only on a damaged seal or store; the slip then reads as erased rather
        // than not printing at all, and the failure is logged.
        let open = |record: &ApplicantRecord| {
            self.open_applicant(record).unwrap_or_else(|e| {
                tracing::error!(error = %e, "an applicant could not be opened");
                Opened::Erased.or_erased()
            })
        };
        Ok(slips::slips(&records, &open))
    }

    /// The citizen's lookup: the dossier's public status when `secret` is its lookup secret. A
    /// code that does not parse (`None`), a code without a dossier and a wrong secret each cost
    /// one Argon2id evaluation and answer the same `None`, so timings do not tell the cases
    /// apart. On a blocking thread: the evaluation takes about a millisecond.
    pub async fn lookup(
        &self,
        code: Option<DossierCode>,
        secret: String,
    ) -> Result<Option<PublicStatus>, AppError> {
        let read_models = self.app.read_models().clone();
        let found = tokio::task::spawn_blocking(move || match code {
            Some(code) => read_models.public_lookup(&code, &secret),
            None => {
                verify_nothing(&secret);
                Ok(None)
            }
        })
        .await
        .map_err(AppError::internal)?;
        Ok(found?)
    }
}

/// The applicant a dossier's event records, if it records one (a receipt, an online
/// submission).
pub(crate) fn applicant_record(event: &Event) -> Option<&ApplicantRecord> {
    match event {
        Event::Dossier(d) => match &d.change {
            DossierChange::Received(r) => Some(&r.applicant),
            DossierChange::SubmittedOnline(s) => Some(&s.applicant),
            _ => None,
        },
        _ => None,
    }
}
