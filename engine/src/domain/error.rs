//! Why the domain refuses a command. Every refusal says what the caller needs to fix it: the
//! current state and the actions allowed there, or the roles required, or the field at fault.
//! A refused command writes nothing.

use serde::Serialize;
use thiserror::Error;

use super::types::{Field, ProcedureId, Role, StaffId, UnitCode, WorkflowId};

/// A command the domain will not turn into events.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
pub enum DomainError {
    /// The action is not legal from the dossier's current state in its workflow.
    #[error("action {action:?} is not allowed in state {state}; allowed there: {allowed:?}")]
    IllegalTransition {
        state: String,
        action: String,
        allowed: Vec<String>,
    },
    /// The action is legal here, but not for the caller's roles.
    #[error("action {action:?} requires one of the roles {required_roles:?}; the caller has {actor_roles:?}")]
    Forbidden {
        action: String,
        required_roles: Vec<Role>,
        actor_roles: Vec<Role>,
    },
    /// A specialist acted outside their fields (or was assigned outside them).
    #[error("{staff} does not work in field {field} (their fields: {staff_fields:?})")]
    WrongField {
        staff: StaffId,
        field: Field,
        staff_fields: Vec<Field>,
    },
    /// A specialist acted on a dossier assigned to a colleague.
    #[error("{staff} is not the specialist assigned to this dossier ({assignee} is)")]
    NotAssigned { staff: StaffId, assignee: StaffId },
    /// Staff acted on a dossier of another unit.
    #[error("{staff} belongs to unit {staff_unit}, the dossier to {dossier_unit}")]
    WrongUnit {
        staff: StaffId,
        staff_unit: UnitCode,
        dossier_unit: UnitCode,
    },
    /// A value of the command is missing or wrong.
    #[error("invalid {field}: {why}")]
    Validation { field: String, why: String },
    /// The procedure is not in the catalog (or not in force) on the date given.
    #[error("procedure {id} is not in force on {date}")]
    UnknownProcedure { id: ProcedureId, date: String },
    /// The procedure names a workflow the engine does not have.
    #[error("unknown workflow {0}")]
    UnknownWorkflow(WorkflowId),
    /// The staff member is unknown, inactive, or not of the required kind.
    #[error("unknown or inactive staff {0}")]
    UnknownStaff(StaffId),
    /// No rule set is in force on the date.
    #[error("no rule set is in force on {0}")]
    NoRuleSet(String),
    /// The rule set allows only `limit` supplement requests per dossier.
    #[error("a supplement may be requested at most {limit} time(s) per dossier ({used} used)")]
    SupplementLimit { limit: u8, used: u8 },
    /// An apology is only issued once the due time has passed or is about to.
    #[error("an apology may be issued only from {allowed_from} (the due time is {due})")]
    ApologyTooEarly { due: String, allowed_from: String },
    /// A citizen acted on an existing dossier without proving its lookup secret.
    #[error("a citizen acts on an existing dossier only with its lookup secret: missing or not the dossier's")]
    WrongSecret,
}

impl DomainError {
    pub(crate) fn validation(field: &str, why: impl Into<String>) -> DomainError {
        DomainError::Validation {
            field: field.to_owned(),
            why: why.into(),
        }
    }
}
