//! What the staff console's screens read besides the API's views: the procedures a unit
//! publishes at the desk today (the desk's pick list, with each one's document checklist), a
//! unit's open dossiers by field ordered by due time (the queue screen), the unit's name, and
//! staff names for timelines and slips. Reads only; the writes go through `dossiers`.

use motcua_engine::domain::types::{Field, Role, Staff, StaffId, UnitCode};
use motcua_engine::projection::views::QueueEntry;
use motcua_engine::projection::DossierState;

use crate::app::caller::Caller;
use crate::app::clock;
use crate::app::error::AppError;
use crate::app::handle::App;

/// Entries read per field and state for the queue screen (the oldest due first; the screen
/// says when a queue holds more).
pub const QUEUE_SCREEN_ROWS: usize = 200;

/// One procedure the desk may receive today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskProcedure {
    pub id: String,
    pub name: String,
    pub field: Field,
    /// The documents the applicant hands in (name, originals, copies).
    pub documents: Vec<(String, u8, u8)>,
}

/// A unit's open dossiers of one field, the soonest due first.
#[derive(Debug, Clone)]
pub struct FieldQueue {
    pub field: Field,
    pub field_name: String,
    pub entries: Vec<QueueEntry>,
}

/// The console's reads of an [`App`].
pub struct Desk<'a> {
    app: &'a App,
}

impl App {
    /// The console's reads.
    pub fn desk(&self) -> Desk<'_> {
        Desk { app: self }
    }
}

impl Desk<'_> {
    /// The procedures in force today and published at the desk of the caller's unit, by name.
    pub fn procedures(&self, caller: &Caller) -> Result<Vec<DeskProcedure>, AppError> {
        let unit = caller.unit().clone();
        let today = clock::today();
        let mut out = self.app.service().with_reference(|r| {
            r.catalog
                .in_force(today)
                .filter(|p| r.catalog.publication(&unit, &p.id, today).0)
                .map(|p| DeskProcedure {
                    id: p.id.to_string(),
                    name: p.name.clone(),
                    field: p.field.clone(),
                    documents: p
                        .documents
                        .iter()
                        .map(|d| (d.name.clone(), d.originals, d.copies))
                        .collect(),
                })
                .collect::<Vec<_>>()
        })?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The name of `unit` as registered (empty if unknown).
    pub fn unit_name(&self, unit: &UnitCode) -> String {
        self.app
            .service()
            .with_reference(|r| r.directory.unit(unit).map(|u| u.name.clone()))
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// The open dossiers of the caller's unit, per field (the caller's fields for a
    /// specialist or leader who has some), each field's soonest due first.
    pub fn queues(&self, caller: &Caller) -> Result<Vec<FieldQueue>, AppError> {
        caller.require_any(&[
            Role::Reception,
            Role::Specialist,
            Role::Leader,
            Role::Admin,
            Role::Auditor,
        ])?;
        let unit = caller.unit().clone();
        let names = self.app.service().with_reference(|r| {
            r.directory
                .unit(&unit)
                .map(|u| u.fields.clone())
                .unwrap_or_default()
        })?;
        let rm = self.app.read_models();
        let mut out = Vec::new();
        for field in rm.fields(&unit)? {
            let own = &caller.staff.fields;
            if !own.is_empty() && !caller.has(Role::Reception) && !own.contains(&field) {
                continue;
            }
            let mut entries = Vec::new();
            for state in DossierState::ALL.into_iter().filter(|s| s.in_queue()) {
                entries.extend(rm.queue(&unit, &field, state, QUEUE_SCREEN_ROWS)?.items);
            }
            entries.sort_by_key(|e| (e.due, e.code.to_string()));
            let field_name = names
                .iter()
                .find(|f| f.field == field)
                .map(|f| f.name.clone())
                .unwrap_or_else(|| field.to_string());
            out.push(FieldQueue {
                field,
                field_name,
                entries,
            });
        }
        Ok(out)
    }

    /// Staff member `id`, if registered (names on timelines and slips, never ids alone).
    pub fn staff(&self, id: &str) -> Option<Staff> {
        let id: StaffId = id.parse().ok()?;
        self.app.directory().staff(&id)
    }

    /// The specialists of the caller's unit who handle `field` (the assign form's choices).
    pub fn specialists_for(&self, caller: &Caller, field: Option<&Field>) -> Vec<Staff> {
        let mut out: Vec<Staff> = self
            .app
            .directory()
            .all_staff()
            .into_iter()
            .filter(|s| {
                s.active
                    && &s.unit == caller.unit()
                    && s.has_role(Role::Specialist)
                    && field.is_none_or(|f| s.fields.contains(f))
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}
