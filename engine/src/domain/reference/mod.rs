//! Reference data: everything a decision needs besides the dossier itself, as one pure fold
//! of the catalog, calendar, unit and staff events, plus the rule sets and workflows loaded
//! from files at start. Changes to it are decided here too: `command.rs` (who may change it,
//! the commands, the stream each change belongs to) and `decide.rs` ([`decide_reference`]).

mod command;
mod decide;

pub use command::{Authority, ReferenceCommand, ReferenceStream};
pub use decide::{decide_reference, ReferenceDecision};

use thiserror::Error;

use super::calendar::Calendar;
use super::catalog::Catalog;
use super::directory::Directory;
use super::events::Event;
use super::rules::{RuleSetError, RuleSets};
use super::workflow::{WorkflowError, Workflows};

/// The data a decision reads.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReferenceData {
    pub calendar: Calendar,
    pub catalog: Catalog,
    pub directory: Directory,
    pub rules: RuleSets,
    pub workflows: Workflows,
}

#[derive(Debug, Error)]
pub enum ReferenceError {
    #[error("rule sets: {0}")]
    Rules(#[from] RuleSetError),
    #[error("workflows: {0}")]
    Workflows(#[from] WorkflowError),
}

impl ReferenceData {
    /// Empty folds with the given rules and workflows.
    pub fn new(rules: RuleSets, workflows: Workflows) -> ReferenceData {
        ReferenceData {
            rules,
            workflows,
            ..ReferenceData::default()
        }
    }

    /// Empty folds with the shipped (embedded) rule sets and workflows.
    pub fn builtin() -> Result<ReferenceData, ReferenceError> {
        Ok(ReferenceData::new(
            RuleSets::builtin()?,
            Workflows::builtin()?,
        ))
    }

    /// Folds one event; dossier events are not reference data and are ignored.
    pub fn apply(&mut self, ev: &Event) {
        match ev {
            Event::Unit(e) => self.directory.apply_unit(e),
            Event::Staff(e) => self.directory.apply_staff(e),
            Event::Catalog(e) => self.catalog.apply(e),
            Event::Calendar(e) => self.calendar.apply(e),
            Event::Dossier(_) | Event::Plan(_) | Event::Personal(_) | Event::Rating(_) => {}
        }
    }

    /// Whether an event changes reference data.
    pub fn is_reference(ev: &Event) -> bool {
        !matches!(
            ev,
            Event::Dossier(_) | Event::Plan(_) | Event::Personal(_) | Event::Rating(_)
        )
    }
}
