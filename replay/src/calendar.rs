//! Adapter over the domain's calendar fold: the working calendar as the log's calendar events
//! publish it, for office-time arithmetic in `history` and due-date checks in `verify`.

use motcua_engine::domain::events::CalendarEvent;
use motcua_engine::domain::types::{Timestamp, UnitCode};

/// The calendar events seen so far.
#[derive(Debug, Clone, Default)]
pub struct CalendarFold {
    events: Vec<CalendarEvent>,
}

impl CalendarFold {
    pub fn apply(&mut self, ev: &CalendarEvent) {
        self.events.push(ev.clone());
    }

    /// Office minutes of `unit` between two instants (None until the domain calendar lands).
    pub fn office_minutes(&self, _unit: &UnitCode, _span: (Timestamp, Timestamp)) -> Option<u32> {
        None
    }
}
