//! Reform plans (kế hoạch cải cách hành chính): plans, tasks, indicators and progress, as events
//! and as a pure fold that answers "what was each task's status at instant T".
//!
//! Values are integers (no floats in stored events): shares are basis points (10 000 = 100%),
//! counts are plain numbers, durations are minutes. A derived indicator's value is not reported
//! by a person: the caller computes it from the read models and passes it in with its sources.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::types::{PlanId, ProcedureId, TaskId, Timestamp, UnitCode};

/// One plan event; the stream is `plan/<plan id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlanEvent {
    /// "Kế hoạch số 35/KH-UBND ngày 26/01/2023".
    PlanIssued {
        plan: PlanId,
        number: String,
        date: NaiveDate,
        unit: UnitCode,
        year: i32,
        title: String,
        legal_basis: String,
    },
    TaskAdded {
        plan: PlanId,
        task: TaskSpec,
    },
    /// The whole new task specification (same id).
    TaskAmended {
        plan: PlanId,
        task: TaskSpec,
        at: Timestamp,
    },
    TaskCancelled {
        plan: PlanId,
        task: TaskId,
        reason: String,
        at: Timestamp,
    },
    /// A manual indicator's value as reported, with its evidence.
    ProgressReported {
        plan: PlanId,
        task: TaskId,
        value: i64,
        evidence: String,
        links: Vec<String>,
        at: Timestamp,
    },
    TaskCompleted {
        plan: PlanId,
        task: TaskId,
        note: String,
        at: Timestamp,
    },
    TaskReopened {
        plan: PlanId,
        task: TaskId,
        reason: String,
        at: Timestamp,
    },
}

impl PlanEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            PlanEvent::PlanIssued { .. } => "plan.issued",
            PlanEvent::TaskAdded { .. } => "plan.task_added",
            PlanEvent::TaskAmended { .. } => "plan.task_amended",
            PlanEvent::TaskCancelled { .. } => "plan.task_cancelled",
            PlanEvent::ProgressReported { .. } => "plan.progress_reported",
            PlanEvent::TaskCompleted { .. } => "plan.task_completed",
            PlanEvent::TaskReopened { .. } => "plan.task_reopened",
        }
    }

    pub fn plan(&self) -> &PlanId {
        match self {
            PlanEvent::PlanIssued { plan, .. }
            | PlanEvent::TaskAdded { plan, .. }
            | PlanEvent::TaskAmended { plan, .. }
            | PlanEvent::TaskCancelled { plan, .. }
            | PlanEvent::ProgressReported { plan, .. }
            | PlanEvent::TaskCompleted { plan, .. }
            | PlanEvent::TaskReopened { plan, .. } => plan,
        }
    }

    /// The business time of the event (a plan's issue date counts from its local midnight).
    pub fn at(&self) -> Option<Timestamp> {
        match self {
            PlanEvent::PlanIssued { .. } | PlanEvent::TaskAdded { .. } => None,
            PlanEvent::TaskAmended { at, .. }
            | PlanEvent::TaskCancelled { at, .. }
            | PlanEvent::ProgressReported { at, .. }
            | PlanEvent::TaskCompleted { at, .. }
            | PlanEvent::TaskReopened { at, .. } => Some(*at),
        }
    }
}

/// A task of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub id: TaskId,
    pub title: String,
    /// Responsible unit or staff member, as the plan names it.
    pub responsible: String,
    pub start: NaiveDate,
    pub deadline: NaiveDate,
    /// Relative weight in the plan's progress (a task of weight 2 counts twice).
    pub weight: u32,
    pub indicator: Indicator,
}

/// What a task measures and the target it must reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    pub name: String,
    pub source: IndicatorSource,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndicatorSource {
    /// A person reports the value with evidence ("staff with a computer").
    Manual,
    /// Computed from the read models with no human input.
    Derived(DerivedIndicator),
}

/// The figures a derived indicator can be computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DerivedIndicator {
    /// Share of the unit's procedures in force that are published at the desk (basis points).
    PublishedAtDeskShare,
    /// Share of the unit's procedures in force that are published online (basis points).
    PublishedOnlineShare,
    /// Share of resolved dossiers resolved early or on time, since the plan's year began (basis points).
    OnTimeShare,
    /// Online share of the dossiers received (basis points).
    OnlineShareOfReceived,
    /// Electronic copy certifications resolved (a count).
    ElectronicCopyCertificationsResolved { procedure: ProcedureId },
    /// Average processing time of one procedure's resolved dossiers, in office minutes.
    AverageProcessingMinutes { procedure: ProcedureId },
}

/// The target of an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// value >= goal (shares in basis points, counts plain); progress = value / goal.
    AtLeast(i64),
    /// value <= goal (e.g. average processing time); progress is 100% when met, else goal / value.
    AtMost(i64),
}

impl Target {
    pub fn met(self, value: i64) -> bool {
        match self {
            Target::AtLeast(goal) => value >= goal,
            Target::AtMost(goal) => value <= goal,
        }
    }

    /// Progress towards the target in basis points, 0..=10 000.
    pub fn progress_bp(self, value: i64) -> i64 {
        let bp = match self {
            Target::AtLeast(goal) if goal <= 0 => 10_000,
            Target::AtLeast(goal) => value.saturating_mul(10_000) / goal,
            Target::AtMost(goal) if value <= goal => 10_000,
            Target::AtMost(goal) => goal.max(0).saturating_mul(10_000) / value.max(1),
        };
        bp.clamp(0, 10_000)
    }
}

/// A task's status at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TaskStatus {
    /// chưa thực hiện: no progress yet and not overdue
    NotStarted,
    /// đúng tiến độ: progress at or ahead of the linear pace to the deadline
    OnTrack,
    /// chậm tiến độ: behind the linear pace to the deadline
    AtRisk,
    /// hoàn thành
    Done,
    /// quá hạn: the deadline passed and it is not done
    Overdue,
    /// huỷ
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::NotStarted => "not_started",
            TaskStatus::OnTrack => "on_track",
            TaskStatus::AtRisk => "at_risk",
            TaskStatus::Done => "done",
            TaskStatus::Overdue => "overdue",
            TaskStatus::Cancelled => "cancelled",
        }
    }
}

/// One reported value and the event behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub seq: u64,
    pub value: i64,
    pub evidence: String,
    pub links: Vec<String>,
    pub reporter: String,
    pub at: Timestamp,
}

/// A task as the fold knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskState {
    pub spec: TaskSpec,
    pub reports: Vec<Report>,
    pub completed_at: Option<(u64, Timestamp)>,
    pub cancelled_at: Option<(u64, Timestamp)>,
    /// Every event seq that shaped this task, in order.
    pub seqs: Vec<u64>,
}

/// A plan as the fold knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanState {
    pub id: PlanId,
    pub number: String,
    pub date: NaiveDate,
    pub unit: UnitCode,
    pub year: i32,
    pub title: String,
    pub legal_basis: String,
    pub issued_seq: u64,
    pub tasks: BTreeMap<TaskId, TaskState>,
}

/// Why a plan event cannot be applied (the service refuses the command; replay reports it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("plan {0} is not issued")]
    UnknownPlan(String),
    #[error("plan {0} is already issued")]
    AlreadyIssued(String),
    #[error("task {0} does not exist in the plan")]
    UnknownTask(String),
    #[error("task {0} already exists in the plan")]
    DuplicateTask(String),
    #[error("task {0} is cancelled")]
    TaskCancelled(String),
    #[error("task {task}: {why}")]
    Invalid { task: String, why: &'static str },
}

/// All plans, folded from plan events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plans {
    pub plans: BTreeMap<PlanId, PlanState>,
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
    if spec.deadline < spec.start {
        return invalid("the deadline is before the start");
    }
    if spec.weight == 0 {
        return invalid("the weight must be at least 1");
    }
    Ok(())
}

impl Plans {
    /// Checks that `ev` can be applied (the decision half: the service calls it before appending).
    pub fn check(&self, ev: &PlanEvent) -> Result<(), PlanError> {
        let plan = self.plans.get(ev.plan());
        match ev {
            PlanEvent::PlanIssued { plan: id, .. } => match plan {
                Some(_) => Err(PlanError::AlreadyIssued(id.to_string())),
                None => Ok(()),
            },
            PlanEvent::TaskAdded { plan: id, task } => {
                let plan = plan.ok_or_else(|| PlanError::UnknownPlan(id.to_string()))?;
                if plan.tasks.contains_key(&task.id) {
                    return Err(PlanError::DuplicateTask(task.id.to_string()));
                }
                check_spec(task)
            }
            PlanEvent::TaskAmended { plan: id, task, .. } => {
                let plan = plan.ok_or_else(|| PlanError::UnknownPlan(id.to_string()))?;
                let existing = plan
                    .tasks
                    .get(&task.id)
                    .ok_or_else(|| PlanError::UnknownTask(task.id.to_string()))?;
                if existing.cancelled_at.is_some() {
                    return Err(PlanError::TaskCancelled(task.id.to_string()));
                }
                check_spec(task)
            }
            PlanEvent::TaskCancelled { plan: id, task, .. }
            | PlanEvent::ProgressReported { plan: id, task, .. }
            | PlanEvent::TaskCompleted { plan: id, task, .. }
            | PlanEvent::TaskReopened { plan: id, task, .. } => {
                let plan = plan.ok_or_else(|| PlanError::UnknownPlan(id.to_string()))?;
                let existing = plan
                    .tasks
                    .get(task)
                    .ok_or_else(|| PlanError::UnknownTask(task.to_string()))?;
                if existing.cancelled_at.is_some() {
                    return Err(PlanError::TaskCancelled(task.to_string()));
                }
                match ev {
                    PlanEvent::TaskCompleted { .. } if existing.completed_at.is_some() => {
                        Err(PlanError::Invalid {
                            task: task.to_string(),
                            why: "the task is already completed",
                        })
                    }
                    PlanEvent::TaskReopened { .. } if existing.completed_at.is_none() => {
                        Err(PlanError::Invalid {
                            task: task.to_string(),
                            why: "the task is not completed",
                        })
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// Folds one plan event (pure). Events that fail `check` are ignored here: the service never
    /// appends them, and `motcua-replay verify` reports them if they were forced into the log.
    pub fn apply(&mut self, seq: u64, actor: &str, ev: &PlanEvent) {
        if self.check(ev).is_err() {
            return;
        }
        match ev {
            PlanEvent::PlanIssued {
                plan,
                number,
                date,
                unit,
                year,
                title,
                legal_basis,
            } => {
                self.plans.insert(
                    plan.clone(),
                    PlanState {
                        id: plan.clone(),
                        number: number.clone(),
                        date: *date,
                        unit: unit.clone(),
                        year: *year,
                        title: title.clone(),
                        legal_basis: legal_basis.clone(),
                        issued_seq: seq,
                        tasks: BTreeMap::new(),
                    },
                );
            }
            PlanEvent::TaskAdded { plan, task } => {
                if let Some(p) = self.plans.get_mut(plan) {
                    p.tasks.insert(
                        task.id.clone(),
                        TaskState {
                            spec: task.clone(),
                            reports: Vec::new(),
                            completed_at: None,
                            cancelled_at: None,
                            seqs: vec![seq],
                        },
                    );
                }
            }
            PlanEvent::TaskAmended { plan, task, .. } => {
                if let Some(t) = self
                    .plans
                    .get_mut(plan)
                    .and_then(|p| p.tasks.get_mut(&task.id))
                {
                    t.spec = task.clone();
                    t.seqs.push(seq);
                }
            }
            PlanEvent::TaskCancelled { plan, task, at, .. } => {
                if let Some(t) = self.plans.get_mut(plan).and_then(|p| p.tasks.get_mut(task)) {
                    t.cancelled_at = Some((seq, *at));
                    t.seqs.push(seq);
                }
            }
            PlanEvent::ProgressReported {
                plan,
                task,
                value,
                evidence,
                links,
                at,
            } => {
                if let Some(t) = self.plans.get_mut(plan).and_then(|p| p.tasks.get_mut(task)) {
                    t.reports.push(Report {
                        seq,
                        value: *value,
                        evidence: evidence.clone(),
                        links: links.clone(),
                        reporter: actor.to_owned(),
                        at: *at,
                    });
                    t.seqs.push(seq);
                }
            }
            PlanEvent::TaskCompleted { plan, task, at, .. } => {
                if let Some(t) = self.plans.get_mut(plan).and_then(|p| p.tasks.get_mut(task)) {
                    t.completed_at = Some((seq, *at));
                    t.seqs.push(seq);
                }
            }
            PlanEvent::TaskReopened { plan, task, .. } => {
                if let Some(t) = self.plans.get_mut(plan).and_then(|p| p.tasks.get_mut(task)) {
                    t.completed_at = None;
                    t.seqs.push(seq);
                }
            }
        }
    }
}

/// A derived indicator's value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivedValue {
    pub value: i64,
    /// Which figure, with its parameters (e.g. "stats.on_time_share unit=... from=2023-01-01 to=...").
    pub figure: String,
    /// The event range the figure was computed from: (first seq, last seq) inclusive.
    pub seq_range: (u64, u64),
}

/// Supplies derived indicators' values as of an instant (implemented over the read models).
pub trait DerivedFigures {
    fn value(
        &self,
        plan: &PlanState,
        indicator: &DerivedIndicator,
        as_of: Timestamp,
    ) -> Option<DerivedValue>;
}

/// A task's standing at an instant, with the events behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskProgress {
    pub task: TaskId,
    pub title: String,
    pub status: TaskStatus,
    pub weight: u32,
    pub value: Option<i64>,
    pub target: Target,
    /// 0..=10 000.
    pub progress_bp: i64,
    /// The share of the time from start to deadline that has passed, 0..=10 000.
    pub pace_bp: i64,
    pub derived: Option<DerivedValue>,
    /// The plan events that shaped this answer (task spec, reports, completion).
    pub seqs: Vec<u64>,
}

/// A plan's standing at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanProgress {
    pub plan: PlanId,
    pub number: String,
    pub title: String,
    /// Weighted progress of the tasks not cancelled, 0..=10 000.
    pub progress_bp: i64,
    pub tasks: Vec<TaskProgress>,
    pub overdue: Vec<TaskId>,
}

/// Local (Asia/Ho_Chi_Minh, UTC+7, no daylight saving) start of a date, as a timestamp.
fn local_day_start(date: NaiveDate) -> Timestamp {
    let utc = date
        .and_hms_opt(0, 0, 0)
        .map(|dt| dt.and_utc().timestamp_millis())
        .unwrap_or(0);
    Timestamp(utc - 7 * 3_600_000)
}

/// How far `as_of` is from `start` (00:00) to `deadline` (24:00), in basis points.
fn pace_bp(spec: &TaskSpec, as_of: Timestamp) -> i64 {
    let start = local_day_start(spec.start).0;
    let end = local_day_start(spec.deadline).0 + 86_400_000;
    if as_of.0 <= start {
        return 0;
    }
    if as_of.0 >= end {
        return 10_000;
    }
    ((as_of.0 - start) as i128 * 10_000 / (end - start) as i128) as i64
}

/// The status of one task at `as_of`, counting only what happened up to then. The plan state
/// must have been folded from events recorded up to `as_of` (the as-of fold does that).
pub fn task_progress(
    plan: &PlanState,
    task: &TaskState,
    as_of: Timestamp,
    derived: &dyn DerivedFigures,
) -> TaskProgress {
    let spec = &task.spec;
    let seqs = task.seqs.clone();
    let (value, derived_value) = match &spec.indicator.source {
        IndicatorSource::Manual => (
            task.reports
                .iter()
                .rev()
                .find(|r| r.at <= as_of)
                .map(|r| r.value),
            None,
        ),
        IndicatorSource::Derived(ind) => {
            let d = derived.value(plan, ind, as_of);
            (d.as_ref().map(|d| d.value), d)
        }
    };
    let progress_bp = value
        .map(|v| spec.indicator.target.progress_bp(v))
        .unwrap_or(0);
    let pace = pace_bp(spec, as_of);
    let deadline_passed = as_of.0 >= local_day_start(spec.deadline).0 + 86_400_000;
    let done = task.completed_at.is_some_and(|(_, at)| at <= as_of);
    let status = if task.cancelled_at.is_some_and(|(_, at)| at <= as_of) {
        TaskStatus::Cancelled
    } else if done {
        TaskStatus::Done
    } else if deadline_passed {
        TaskStatus::Overdue
    } else if value.is_none() {
        if pace == 0 {
            TaskStatus::NotStarted
        } else {
            // Time is running and nothing is reported: behind the linear pace.
            TaskStatus::AtRisk
        }
    } else if progress_bp >= pace {
        TaskStatus::OnTrack
    } else {
        TaskStatus::AtRisk
    };
    TaskProgress {
        task: spec.id.clone(),
        title: spec.title.clone(),
        status,
        weight: spec.weight,
        value,
        target: spec.indicator.target,
        progress_bp: if done { 10_000 } else { progress_bp },
        pace_bp: pace,
        derived: derived_value,
        seqs,
    }
}

/// The plan's weighted progress and each task's status at `as_of`.
pub fn plan_progress(
    plan: &PlanState,
    as_of: Timestamp,
    derived: &dyn DerivedFigures,
) -> PlanProgress {
    let tasks: Vec<TaskProgress> = plan
        .tasks
        .values()
        .map(|t| task_progress(plan, t, as_of, derived))
        .collect();
    let live = tasks.iter().filter(|t| t.status != TaskStatus::Cancelled);
    let (weighted, weights) = live.fold((0i64, 0i64), |(w, total), t| {
        (
            w + t.progress_bp * i64::from(t.weight),
            total + i64::from(t.weight),
        )
    });
    PlanProgress {
        plan: plan.id.clone(),
        number: plan.number.clone(),
        title: plan.title.clone(),
        progress_bp: if weights == 0 { 0 } else { weighted / weights },
        overdue: tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Overdue)
            .map(|t| t.task.clone())
            .collect(),
        tasks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoDerived;
    impl DerivedFigures for NoDerived {
        fn value(&self, _: &PlanState, _: &DerivedIndicator, _: Timestamp) -> Option<DerivedValue> {
            None
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// Local noon of a date.
    fn noon(date: NaiveDate) -> Timestamp {
        Timestamp(local_day_start(date).0 + 12 * 3_600_000)
    }

    fn plan_with_task() -> (Plans, PlanId, TaskId) {
        let plan: PlanId = "35-kh-ubnd-2023".parse().unwrap();
        let task: TaskId = "computers".parse().unwrap();
        let mut plans = Plans::default();
        let issued = PlanEvent::PlanIssued {
            plan: plan.clone(),
            number: "35/KH-UBND".into(),
            date: d(2023, 1, 26),
            unit: "000.33.22.H05".parse().unwrap(),
            year: 2023,
            title: "Kế hoạch cải cách hành chính năm 2023".into(),
            legal_basis: "Nghị quyết 76/NQ-CP".into(),
        };
        plans.check(&issued).unwrap();
        plans.apply(1, "planner-01", &issued);
        let added = PlanEvent::TaskAdded {
            plan: plan.clone(),
            task: TaskSpec {
                id: task.clone(),
                title: "Every official equipped with a computer".into(),
                responsible: "Văn phòng UBND".into(),
                start: d(2023, 2, 1),
                deadline: d(2023, 11, 30),
                weight: 1,
                indicator: Indicator {
                    name: "staff with a computer".into(),
                    source: IndicatorSource::Manual,
                    target: Target::AtLeast(24),
                },
            },
        };
        plans.check(&added).unwrap();
        plans.apply(2, "planner-01", &added);
        (plans, plan, task)
    }

    fn status_at(plans: &Plans, plan: &PlanId, task: &TaskId, at: Timestamp) -> TaskStatus {
        let p = &plans.plans[plan];
        task_progress(p, &p.tasks[task], at, &NoDerived).status
    }

    #[test]
    fn task_status_moves_with_time_and_reports() {
        let (mut plans, plan, task) = plan_with_task();
        // Before its start: not started.
        assert_eq!(
            status_at(&plans, &plan, &task, noon(d(2023, 1, 30))),
            TaskStatus::NotStarted
        );
        // Running, nothing reported: at risk.
        assert_eq!(
            status_at(&plans, &plan, &task, noon(d(2023, 3, 1))),
            TaskStatus::AtRisk
        );
        let report = PlanEvent::ProgressReported {
            plan: plan.clone(),
            task: task.clone(),
            value: 12,
            evidence: "12 of 24".into(),
            links: vec![],
            at: noon(d(2023, 4, 1)),
        };
        plans.apply(3, "planner-01", &report);
        // 12/24 = 50% reported on 1 Apr; pace on 1 Apr is ~20%: on track.
        assert_eq!(
            status_at(&plans, &plan, &task, noon(d(2023, 4, 2))),
            TaskStatus::OnTrack
        );
        // On 15 Aug the pace is ~66% and the value still 50%: at risk.
        assert_eq!(
            status_at(&plans, &plan, &task, noon(d(2023, 8, 15))),
            TaskStatus::AtRisk
        );
        // After the deadline, not done: overdue.
        assert_eq!(
            status_at(&plans, &plan, &task, noon(d(2023, 12, 1))),
            TaskStatus::Overdue
        );
        let done = PlanEvent::TaskCompleted {
            plan: plan.clone(),
            task: task.clone(),
            note: "24 of 24".into(),
            at: noon(d(2023, 9, 1)),
        };
        plans.check(&done).unwrap();
        plans.apply(4, "planner-01", &done);
        assert_eq!(
            status_at(&plans, &plan, &task, noon(d(2023, 12, 1))),
            TaskStatus::Done
        );
        // As of before the completion it was still at risk: the answer depends on T only.
        assert_eq!(
            status_at(&plans, &plan, &task, noon(d(2023, 8, 15))),
            TaskStatus::AtRisk
        );
        let p = &plans.plans[&plan];
        assert_eq!(
            task_progress(p, &p.tasks[&task], noon(d(2023, 12, 1)), &NoDerived).seqs,
            vec![2, 3, 4]
        );
    }

    #[test]
    fn weighted_progress_and_refusals() {
        let (mut plans, plan, task) = plan_with_task();
        plans.apply(
            3,
            "p",
            &PlanEvent::ProgressReported {
                plan: plan.clone(),
                task: task.clone(),
                value: 18,
                evidence: String::new(),
                links: vec![],
                at: noon(d(2023, 3, 1)),
            },
        );
        let progress = plan_progress(&plans.plans[&plan], noon(d(2023, 3, 2)), &NoDerived);
        assert_eq!(progress.progress_bp, 7_500);
        assert!(matches!(
            plans.check(&PlanEvent::TaskReopened {
                plan: plan.clone(),
                task: task.clone(),
                reason: String::new(),
                at: noon(d(2023, 3, 2))
            }),
            Err(PlanError::Invalid { .. })
        ));
        let unknown: TaskId = "nope".parse().unwrap();
        assert_eq!(
            plans.check(&PlanEvent::TaskCompleted {
                plan: plan.clone(),
                task: unknown,
                note: String::new(),
                at: noon(d(2023, 3, 2))
            }),
            Err(PlanError::UnknownTask("nope".into()))
        );
    }

    #[test]
    fn targets_give_bounded_progress() {
        assert_eq!(Target::AtLeast(9_800).progress_bp(10_000), 10_000);
        assert_eq!(Target::AtLeast(24).progress_bp(12), 5_000);
        assert_eq!(Target::AtMost(100).progress_bp(200), 5_000);
        assert_eq!(Target::AtMost(100).progress_bp(50), 10_000);
        assert!(Target::AtMost(100).met(100));
        assert!(!Target::AtLeast(9_800).met(9_799));
    }
}
