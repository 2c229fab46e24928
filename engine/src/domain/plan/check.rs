//! Whether a plan event can be applied to the plans as they stand ([`Plans::check`]): the
//! decision half of the plan domain. The service checks a command's event before appending it;
//! the fold skips an event that fails (and `motcua-replay verify` reports it).

use chrono::{Datelike, NaiveDate};

use super::{
    day_start, IndicatorSource, PlanError, PlanEvent, PlanState, Plans, TaskSpec, TaskState,
    MAX_LINKS, MAX_LINK_LEN, MAX_TEXT_LEN,
};
use crate::domain::types::TaskId;

impl Plans {
    /// Checks that `ev` can be applied (the decision half: the service calls it before appending).
    pub fn check(&self, ev: &PlanEvent) -> Result<(), PlanError> {
        let plan = self.plans.get(ev.plan());
        if let PlanEvent::PlanIssued {
            number,
            date,
            year,
            title,
            legal_basis,
            ..
        } = ev
        {
            if plan.is_some() {
                return Err(PlanError::AlreadyIssued(ev.plan().to_string()));
            }
            return check_issue(number, *date, *year, title, legal_basis);
        }
        let plan = plan.ok_or_else(|| PlanError::UnknownPlan(ev.plan().to_string()))?;
        let at = ev.at();
        if at < day_start(plan.date) {
            return Err(PlanError::InvalidPlan(
                "an event of the plan is dated before the plan was issued",
            ));
        }
        if let PlanEvent::TaskAdded { task, .. } = ev {
            if plan.tasks.contains_key(&task.id) {
                return Err(PlanError::DuplicateTask(task.id.to_string()));
            }
            return check_spec(task);
        }
        let Some(id) = ev.task() else {
            return Ok(());
        };
        let existing = existing_task(plan, id)?;
        if at < existing.last_at {
            return Err(PlanError::Conflict {
                task: id.to_string(),
                why: "dated before the task's previous event",
            });
        }
        check_task_event(existing, id, ev)
    }
}

/// A plan's issue: a number and a title, texts within the limit, the year it is for.
fn check_issue(
    number: &str,
    date: NaiveDate,
    year: i32,
    title: &str,
    legal_basis: &str,
) -> Result<(), PlanError> {
    if number.trim().is_empty() || title.trim().is_empty() {
        return Err(PlanError::InvalidPlan("the number and title are required"));
    }
    if [number, title, legal_basis]
        .iter()
        .any(|t| t.len() > MAX_TEXT_LEN)
    {
        return Err(PlanError::InvalidPlan("a text is longer than 8192 bytes"));
    }
    // A plan is for the year it is issued in, or (issued late in a year) the next.
    let issued = date.year();
    if year != issued && year != issued + 1 {
        return Err(PlanError::InvalidPlan(
            "the plan's year must be its issue year or the next",
        ));
    }
    Ok(())
}

/// The task an event is about: it exists and is not cancelled.
fn existing_task<'p>(plan: &'p PlanState, id: &TaskId) -> Result<&'p TaskState, PlanError> {
    let existing = plan
        .tasks
        .get(id)
        .ok_or_else(|| PlanError::UnknownTask(id.to_string()))?;
    if existing.cancelled_at.is_some() {
        return Err(PlanError::TaskCancelled(id.to_string()));
    }
    Ok(existing)
}

/// An event on an existing task, by kind.
fn check_task_event(existing: &TaskState, id: &TaskId, ev: &PlanEvent) -> Result<(), PlanError> {
    let invalid = |why| PlanError::Invalid {
        task: id.to_string(),
        why,
    };
    let conflict = |why| PlanError::Conflict {
        task: id.to_string(),
        why,
    };
    match ev {
        PlanEvent::TaskAmended { task, .. } => check_spec(task),
        PlanEvent::TaskCompleted { note: text, .. }
        | PlanEvent::TaskCancelled { reason: text, .. }
        | PlanEvent::TaskReopened { reason: text, .. } => {
            check_text(id, text, "a text is longer than 8192 bytes")?;
            match ev {
                PlanEvent::TaskCompleted { .. } if existing.completed_at.is_some() => {
                    Err(conflict("the task is already completed"))
                }
                PlanEvent::TaskReopened { .. } if existing.completed_at.is_none() => {
                    Err(conflict("the task is not completed"))
                }
                PlanEvent::TaskReopened { reason, .. }
                | PlanEvent::TaskCancelled { reason, .. }
                    if reason.trim().is_empty() =>
                {
                    Err(invalid("a reason is required"))
                }
                _ => Ok(()),
            }
        }
        PlanEvent::ProgressReported {
            value,
            evidence,
            links,
            ..
        } => check_report(existing, id, *value, evidence, links),
        PlanEvent::PlanIssued { .. } | PlanEvent::TaskAdded { .. } => Ok(()),
    }
}

/// A progress report: on a manual indicator, a value of at least 0, evidence, sound links.
fn check_report(
    existing: &TaskState,
    id: &TaskId,
    value: i64,
    evidence: &str,
    links: &[String],
) -> Result<(), PlanError> {
    let invalid = |why| {
        Err(PlanError::Invalid {
            task: id.to_string(),
            why,
        })
    };
    if matches!(existing.spec.indicator.source, IndicatorSource::Derived(_)) {
        return Err(PlanError::Conflict {
            task: id.to_string(),
            why: "the indicator is derived from the dossier figures: nobody reports it",
        });
    }
    if value < 0 {
        return invalid("a reported value cannot be negative");
    }
    if evidence.trim().is_empty() {
        return invalid("a progress report needs its evidence");
    }
    check_text(id, evidence, "the evidence is longer than 8192 bytes")?;
    if links.len() > MAX_LINKS {
        return invalid("at most 20 links");
    }
    if links
        .iter()
        .any(|l| l.trim().is_empty() || l.len() > MAX_LINK_LEN)
    {
        return invalid("a link is empty or longer than 2048 bytes");
    }
    Ok(())
}

fn check_text(task: &TaskId, text: &str, what: &'static str) -> Result<(), PlanError> {
    if text.len() > MAX_TEXT_LEN {
        return Err(PlanError::Invalid {
            task: task.to_string(),
            why: what,
        });
    }
    Ok(())
}

fn check_spec(spec: &TaskSpec) -> Result<(), PlanError> {
    let invalid = |why| {
        Err(PlanError::Invalid {
            task: spec.id.to_string(),
            why,
        })
    };
    if spec.title.trim().is_empty() {
        return invalid("the title is empty");
    }
    if spec.indicator.name.trim().is_empty() {
        return invalid("the indicator has no name");
    }
    if spec.deadline < spec.start {
        return invalid("the deadline is before the start");
    }
    if spec.weight == 0 {
        return invalid("the weight must be at least 1");
    }
    if spec.weight > 1_000 {
        return invalid("the weight must be at most 1000");
    }
    for text in [&spec.title, &spec.responsible, &spec.indicator.name] {
        check_text(&spec.id, text, "a text is longer than 8192 bytes")?;
    }
    Ok(())
}
