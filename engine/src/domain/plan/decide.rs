//! Plan commands and their decisions: who may write a plan ([`authorize_planner`], the
//! [`business_time`] of a write), and what a command records ([`decide_plan`]: the unit scope,
//! then [`Plans::check`](super::Plans::check) of the event).
//!
//! Who writes: the planner role only (cán bộ theo dõi CCHC), for plans of the planner's own
//! unit. An admin does not: administrators manage accounts and reference data, and a plan's
//! progress reports are evidence a named official answers for; letting the account manager
//! write them would blur that. Leaders, planners and auditors read (enforced by the HTTP layer).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{PlanError, PlanEvent, Plans, TaskSpec};
use crate::domain::dossier::ActorRef;
use crate::domain::types::{PlanId, Role, Staff, TaskId, Timestamp, UnitCode};

/// A plan command (the plan id is given alongside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlanCommand {
    /// Ban hành kế hoạch.
    Issue {
        number: String,
        date: NaiveDate,
        unit: UnitCode,
        year: i32,
        title: String,
        legal_basis: String,
    },
    AddTask(TaskSpec),
    /// Replaces the task's whole specification (same id).
    AmendTask(TaskSpec),
    CancelTask {
        task: TaskId,
        reason: String,
    },
    /// A manual indicator's value with its evidence (text and links to documents).
    ReportProgress {
        task: TaskId,
        value: i64,
        evidence: String,
        links: Vec<String>,
    },
    CompleteTask {
        task: TaskId,
        note: String,
    },
    ReopenTask {
        task: TaskId,
        reason: String,
    },
}

impl PlanCommand {
    /// The action name used in errors and the HTTP API.
    pub fn action(&self) -> &'static str {
        match self {
            PlanCommand::Issue { .. } => "issue",
            PlanCommand::AddTask(_) => "add_task",
            PlanCommand::AmendTask(_) => "amend_task",
            PlanCommand::CancelTask { .. } => "cancel_task",
            PlanCommand::ReportProgress { .. } => "report_progress",
            PlanCommand::CompleteTask { .. } => "complete_task",
            PlanCommand::ReopenTask { .. } => "reopen_task",
        }
    }

    /// The event this command records for `plan` at business time `at`.
    pub fn into_event(self, plan: PlanId, at: Timestamp) -> PlanEvent {
        match self {
            PlanCommand::Issue {
                number,
                date,
                unit,
                year,
                title,
                legal_basis,
            } => PlanEvent::PlanIssued {
                plan,
                number,
                date,
                unit,
                year,
                title,
                legal_basis,
            },
            PlanCommand::AddTask(task) => PlanEvent::TaskAdded { plan, task, at },
            PlanCommand::AmendTask(task) => PlanEvent::TaskAmended { plan, task, at },
            PlanCommand::CancelTask { task, reason } => PlanEvent::TaskCancelled {
                plan,
                task,
                reason,
                at,
            },
            PlanCommand::ReportProgress {
                task,
                value,
                evidence,
                links,
            } => PlanEvent::ProgressReported {
                plan,
                task,
                value,
                evidence,
                links,
                at,
            },
            PlanCommand::CompleteTask { task, note } => PlanEvent::TaskCompleted {
                plan,
                task,
                note,
                at,
            },
            PlanCommand::ReopenTask { task, reason } => PlanEvent::TaskReopened {
                plan,
                task,
                reason,
                at,
            },
        }
    }
}

/// Why a plan command is refused. Nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanRefusal {
    #[error("{action} requires the planner role; {actor} holds {roles:?}")]
    Forbidden {
        action: &'static str,
        actor: String,
        roles: Vec<Role>,
    },
    #[error("{actor} belongs to unit {actor_unit} and cannot write plans of unit {plan_unit}")]
    OutOfScope {
        actor: String,
        actor_unit: String,
        plan_unit: UnitCode,
    },
    #[error("no plan {0}")]
    NotFound(PlanId),
    #[error("the business time {at:?} is after now ({now:?})")]
    FutureTime { at: Timestamp, now: Timestamp },
    /// The plan domain refused the event (unknown task, cancelled task, invalid spec, ...).
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// The staff member writing `action`, if they hold the planner role.
pub fn authorize_planner<'a>(
    actor: &'a ActorRef,
    action: &'static str,
) -> Result<&'a Staff, PlanRefusal> {
    match actor {
        ActorRef::Staff(staff) if staff.has_role(Role::Planner) => Ok(staff),
        _ => Err(PlanRefusal::Forbidden {
            action,
            actor: actor.id(),
            roles: actor.roles(),
        }),
    }
}

/// The business time of a write: the caller's (a report recorded after the fact), by default
/// now, never in the future.
pub fn business_time(at: Option<Timestamp>, now: Timestamp) -> Result<Timestamp, PlanRefusal> {
    let at = at.unwrap_or(now);
    if at > now {
        return Err(PlanRefusal::FutureTime { at, now });
    }
    Ok(at)
}

/// Decides `cmd` on `plan` by `staff` (a planner, [`authorize_planner`]) at business time `at`,
/// against the plans folded from the plan's stream: the plan must exist (or be issued by the
/// command) and belong to the planner's unit, and the event must pass [`Plans::check`].
pub fn decide_plan(
    plans: &Plans,
    plan: &PlanId,
    cmd: &PlanCommand,
    staff: &Staff,
    at: Timestamp,
) -> Result<PlanEvent, PlanRefusal> {
    let plan_unit = match (cmd, plans.plans.get(plan)) {
        (_, Some(p)) => &p.unit,
        (PlanCommand::Issue { unit, .. }, None) => unit,
        (_, None) => return Err(PlanRefusal::NotFound(plan.clone())),
    };
    if &staff.unit != plan_unit {
        return Err(PlanRefusal::OutOfScope {
            actor: staff.id.to_string(),
            actor_unit: staff.unit.to_string(),
            plan_unit: plan_unit.clone(),
        });
    }
    let event = cmd.clone().into_event(plan.clone(), at);
    plans.check(&event)?;
    Ok(event)
}
