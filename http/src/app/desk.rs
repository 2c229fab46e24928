//! What the staff console's screens read besides the API's views: the procedures a unit
//! publishes at the desk today (the desk's pick list, with each one's document checklist), a
//! unit's open dossiers by field ordered by due time (the queue screen), where due times stand
//! in the unit's office hours (overdue, due soon), the unit's name, and staff names for
//! timelines and slips. Reads only; the writes go through `dossiers`.

use motcua_engine::domain::calendar::UnitCalendar;
use motcua_engine::domain::text::finds;
use motcua_engine::domain::types::{Field, Role, Staff, StaffId, Timestamp, UnitCode};
use motcua_engine::projection::views::QueueEntry;
use motcua_engine::projection::DossierState;

use crate::app::caller::Caller;
use crate::app::clock;
use crate::app::error::AppError;
use crate::app::handle::App;

/// Entries read per field and state for the queue screen (the oldest due first; the screen
/// says when a queue holds more).
pub const QUEUE_SCREEN_ROWS: usize = 200;

/// A due time at most this many office hours away, counted on the unit's office calendar
/// (working days and sessions, the engine's `UnitCalendar::add_office_minutes`), is "sắp đến
/// hạn" on the queue, work list and inbox: 8 office hours are one working day of two
/// four-hour sessions, so Friday afternoon warns about Monday's noon, not Saturday's.
pub const DUE_SOON_OFFICE_HOURS: u32 = 8;

/// Now, and the end of the "due soon" window of a unit, for marking due times on a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueClock {
    pub now: Timestamp,
    /// [`DUE_SOON_OFFICE_HOURS`] of the unit's office time after `now`.
    pub soon_until: Timestamp,
}

/// How a due time stands against a [`DueClock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeliness {
    /// Past due (quá hạn).
    Overdue,
    /// Due within [`DUE_SOON_OFFICE_HOURS`] office hours (sắp đến hạn).
    DueSoon,
    /// Later (trong hạn).
    InTime,
}

impl DueClock {
    /// The clock at `now` on a unit's office calendar.
    pub fn at(calendar: &UnitCalendar<'_>, now: Timestamp) -> DueClock {
        DueClock {
            now,
            soon_until: calendar.add_office_minutes(now, DUE_SOON_OFFICE_HOURS * 60),
        }
    }

    pub fn of(&self, due: Timestamp) -> Timeliness {
        if due < self.now {
            Timeliness::Overdue
        } else if due <= self.soon_until {
            Timeliness::DueSoon
        } else {
            Timeliness::InTime
        }
    }
}

/// One procedure the desk may receive today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskProcedure {
    pub id: String,
    pub name: String,
    pub field: Field,
    /// The documents the applicant hands in (name, originals, copies).
    pub documents: Vec<(String, u8, u8)>,
}

impl DeskProcedure {
    /// Whether `query` finds this procedure: part of its name, folded ("khai sinh" finds
    /// "Đăng ký khai sinh"), or of its code; an empty query finds every one.
    pub fn matches(&self, query: &str) -> bool {
        finds(query, &self.name, &self.id)
    }
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

    /// Now and the "due soon" window of `unit`'s office calendar (see [`DueClock`]).
    pub fn due_clock(&self, unit: &UnitCode) -> Result<DueClock, AppError> {
        let now = clock::now();
        Ok(self
            .app
            .service()
            .with_reference(|r| DueClock::at(&r.calendar.unit(unit), now))?)
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

#[cfg(test)]
mod tests {
    use motcua_engine::domain::calendar::{at_local, Calendar};

    use super::{DueClock, Timeliness};

    #[test]
    fn due_soon_counts_office_hours_over_the_weekend_and_holidays() {
        let cal = Calendar::demo_2023();
        let unit = cal.default_unit();
        let at = |d, h, m| at_local(2023, 3, d, h, m).unwrap_or_else(|| panic!("a time"));
        // Friday 10 March 2023, 16:00: eight office hours end on Monday afternoon (the
        // weekend has none), not on Saturday.
        let dc = DueClock::at(&unit, at(10, 16, 0));
        assert_eq!(dc.soon_until, unit.add_office_minutes(at(10, 16, 0), 480));
        assert!(dc.soon_until > at(13, 13, 0) && dc.soon_until < at(13, 18, 0));
        assert_eq!(dc.of(at(10, 15, 59)), Timeliness::Overdue);
        assert_eq!(dc.of(at(10, 16, 0)), Timeliness::DueSoon);
        assert_eq!(dc.of(at(13, 11, 0)), Timeliness::DueSoon);
        assert_eq!(dc.of(dc.soon_until), Timeliness::DueSoon);
        assert_eq!(dc.of(at(14, 9, 0)), Timeliness::InTime);
        // Before Tết 2023 (20-26 January off): Thursday 19 January at 16:00 reaches into
        // Friday 27 January.
        let tet = DueClock::at(
            &unit,
            at_local(2023, 1, 19, 16, 0).unwrap_or_else(|| panic!("t")),
        );
        assert!(tet.soon_until > at_local(2023, 1, 27, 7, 0).unwrap_or_else(|| panic!("t")));
    }
}
