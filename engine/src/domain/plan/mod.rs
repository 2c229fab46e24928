//! Reform plans (kế hoạch cải cách hành chính): plans, tasks, indicators and progress, as events
//! and as a pure fold that answers "what was each task's status at instant T".
//!
//! Values are integers (no floats in stored events): shares are basis points (10 000 = 100%),
//! counts are plain numbers, durations are minutes. A derived indicator's value is not reported
//! by a person: the caller computes it from the read models and passes it in with its sources
//! (the [`DerivedFigures`] trait, implemented over the projections in `projection::plan`).
//!
//! Time. Every plan event carries its business time (`at`; a plan's issue counts from its
//! date's local midnight), like dossier events. "As of T" folds the events whose business time
//! is at or before T ([`fold_plan`]), so an amendment, a completion or a reopening made after T
//! does not change the answer for T. [`Plans::check`] keeps each task's business times in
//! order (an event is never dated before the task's previous one), so the events of a task up
//! to T are a prefix of its stream and the as-of fold is the fold of that prefix.
//!
//! Decisions: `check.rs` ([`Plans::check`]: may this event be applied) and `decide.rs` (the
//! commands, who may write, [`decide_plan`]).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::types::{DossierCode, PlanId, ProcedureId, TaskId, Timestamp, UnitCode};

mod check;
mod decide;

pub use decide::{authorize_planner, business_time, decide_plan, PlanCommand, PlanRefusal};

/// Most links one progress report may carry.
pub const MAX_LINKS: usize = 20;
/// Longest link accepted (bytes).
pub const MAX_LINK_LEN: usize = 2_048;
/// Longest free text (titles, evidence, reasons) accepted (bytes).
pub const MAX_TEXT_LEN: usize = 8_192;

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
        at: Timestamp,
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

    /// The task the event is about (None for the plan's issue).
    pub fn task(&self) -> Option<&TaskId> {
        match self {
            PlanEvent::PlanIssued { .. } => None,
            PlanEvent::TaskAdded { task, .. } | PlanEvent::TaskAmended { task, .. } => {
                Some(&task.id)
            }
            PlanEvent::TaskCancelled { task, .. }
            | PlanEvent::ProgressReported { task, .. }
            | PlanEvent::TaskCompleted { task, .. }
            | PlanEvent::TaskReopened { task, .. } => Some(task),
        }
    }

    /// The business time of the event (a plan's issue counts from its date's local midnight).
    pub fn at(&self) -> Timestamp {
        match self {
            PlanEvent::PlanIssued { date, .. } => day_start(*date),
            PlanEvent::TaskAdded { at, .. }
            | PlanEvent::TaskAmended { at, .. }
            | PlanEvent::TaskCancelled { at, .. }
            | PlanEvent::ProgressReported { at, .. }
            | PlanEvent::TaskCompleted { at, .. }
            | PlanEvent::TaskReopened { at, .. } => *at,
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

impl DerivedIndicator {
    /// A stable name with the parameters (what dashboards and replay print).
    pub fn name(&self) -> String {
        match self {
            DerivedIndicator::PublishedAtDeskShare => "published_at_desk_share".into(),
            DerivedIndicator::PublishedOnlineShare => "published_online_share".into(),
            DerivedIndicator::OnTimeShare => "on_time_share".into(),
            DerivedIndicator::OnlineShareOfReceived => "online_share_of_received".into(),
            DerivedIndicator::ElectronicCopyCertificationsResolved { procedure } => {
                format!("electronic_copy_certifications_resolved procedure={procedure}")
            }
            DerivedIndicator::AverageProcessingMinutes { procedure } => {
                format!("average_processing_minutes procedure={procedure}")
            }
        }
    }
}

/// The target of an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// value >= goal (shares in basis points, counts plain); progress = value / goal.
    AtLeast(i64),
    /// value <= goal (e.g. average processing time); progress is 100% when met, else goal / value.
    AtMost(i64),
    /// A level to hold for the whole task (e.g. "keep the on-time rate at or above 98%"):
    /// progress as `AtLeast`, but the task is on track only while the level is held (the linear
    /// pace is meaningless for a rate that is kept rather than built up).
    KeepAtLeast(i64),
    /// A ceiling to hold for the whole task (e.g. "average processing time at most 2 days").
    KeepAtMost(i64),
}

impl Target {
    pub fn met(self, value: i64) -> bool {
        match self {
            Target::AtLeast(goal) | Target::KeepAtLeast(goal) => value >= goal,
            Target::AtMost(goal) | Target::KeepAtMost(goal) => value <= goal,
        }
    }

    /// Whether the target is a level to hold (judged by `met`, not by the linear pace).
    pub fn is_level(self) -> bool {
        matches!(self, Target::KeepAtLeast(_) | Target::KeepAtMost(_))
    }

    /// Progress towards the target in basis points, 0..=10 000.
    pub fn progress_bp(self, value: i64) -> i64 {
        let bp = match self {
            Target::AtLeast(goal) | Target::KeepAtLeast(goal) if goal <= 0 => 10_000,
            Target::AtLeast(goal) | Target::KeepAtLeast(goal) => {
                value.saturating_mul(10_000) / goal
            }
            Target::AtMost(goal) | Target::KeepAtMost(goal) if value <= goal => 10_000,
            Target::AtMost(goal) | Target::KeepAtMost(goal) => {
                goal.max(0).saturating_mul(10_000) / value.max(1)
            }
        };
        bp.clamp(0, 10_000)
    }
}

/// A task's status at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// chưa thực hiện: before its start and nothing reported
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
    pub const ALL: [TaskStatus; 6] = [
        TaskStatus::NotStarted,
        TaskStatus::OnTrack,
        TaskStatus::AtRisk,
        TaskStatus::Done,
        TaskStatus::Overdue,
        TaskStatus::Cancelled,
    ];
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
    /// (seq, business time) of the completion in force.
    pub completed_at: Option<(u64, Timestamp)>,
    pub cancelled_at: Option<(u64, Timestamp)>,
    /// Every event seq that shaped this task, in order.
    pub seqs: Vec<u64>,
    pub added_at: Timestamp,
    /// Business time of the task's latest event: the next one may not be dated before it.
    pub last_at: Timestamp,
}

impl TaskState {
    /// The report in force at `as_of`: the latest by business time (then by seq) at or before it.
    pub fn report_at(&self, as_of: Timestamp) -> Option<&Report> {
        self.reports
            .iter()
            .filter(|r| r.at <= as_of)
            .max_by_key(|r| (r.at, r.seq))
    }
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
    #[error("plan: {0}")]
    InvalidPlan(&'static str),
    /// Valid on its own but not in the task's current state (already completed, dated before
    /// the task's previous event, a report on a derived indicator).
    #[error("task {task}: {why}")]
    Conflict { task: String, why: &'static str },
}

/// All plans, folded from plan events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plans {
    pub plans: BTreeMap<PlanId, PlanState>,
}

impl Plans {
    /// Folds one plan event (pure). Events that fail `check` are ignored here: the service never
    /// appends them, and `motcua-replay verify` reports them if they were forced into the log.
    pub fn apply(&mut self, seq: u64, actor: &str, ev: &PlanEvent) {
        if self.check(ev).is_err() {
            return;
        }
        if let Some(state) = PlanState::issued(seq, ev) {
            self.plans.insert(state.id.clone(), state);
            return;
        }
        let Some(p) = self.plans.get_mut(ev.plan()) else {
            return;
        };
        if let PlanEvent::TaskAdded { task, at, .. } = ev {
            p.tasks
                .insert(task.id.clone(), TaskState::added(task, seq, *at));
            return;
        }
        if let Some(t) = ev.task().and_then(|id| p.tasks.get_mut(id)) {
            t.record(seq, actor, ev);
        }
    }
}

impl PlanState {
    /// The plan a `PlanIssued` event issues (None for any other event).
    fn issued(seq: u64, ev: &PlanEvent) -> Option<PlanState> {
        let PlanEvent::PlanIssued {
            plan,
            number,
            date,
            unit,
            year,
            title,
            legal_basis,
        } = ev
        else {
            return None;
        };
        Some(PlanState {
            id: plan.clone(),
            number: number.clone(),
            date: *date,
            unit: unit.clone(),
            year: *year,
            title: title.clone(),
            legal_basis: legal_basis.clone(),
            issued_seq: seq,
            tasks: BTreeMap::new(),
        })
    }
}

impl TaskState {
    /// A task as added at `at`.
    fn added(spec: &TaskSpec, seq: u64, at: Timestamp) -> TaskState {
        TaskState {
            spec: spec.clone(),
            reports: Vec::new(),
            completed_at: None,
            cancelled_at: None,
            seqs: vec![seq],
            added_at: at,
            last_at: at,
        }
    }

    /// Folds one later event of the task (amended, cancelled, reported, completed, reopened).
    fn record(&mut self, seq: u64, actor: &str, ev: &PlanEvent) {
        let at = ev.at();
        self.seqs.push(seq);
        self.last_at = at;
        match ev {
            PlanEvent::TaskAmended { task, .. } => self.spec = task.clone(),
            PlanEvent::TaskCancelled { .. } => self.cancelled_at = Some((seq, at)),
            PlanEvent::ProgressReported {
                value,
                evidence,
                links,
                ..
            } => self.reports.push(Report {
                seq,
                value: *value,
                evidence: evidence.clone(),
                links: links.clone(),
                reporter: actor.to_owned(),
                at,
            }),
            PlanEvent::TaskCompleted { .. } => self.completed_at = Some((seq, at)),
            PlanEvent::TaskReopened { .. } => self.completed_at = None,
            PlanEvent::PlanIssued { .. } | PlanEvent::TaskAdded { .. } => {}
        }
    }
}

/// Folds plan events `(seq, actor, event)` in seq order; with `as_of`, only those whose
/// business time is at or before it (the plan as it stood at that instant).
pub fn fold_plan<'a>(
    events: impl IntoIterator<Item = (u64, &'a str, &'a PlanEvent)>,
    as_of: Option<Timestamp>,
) -> Plans {
    let mut plans = Plans::default();
    for (seq, actor, ev) in events {
        if as_of.is_none_or(|t| ev.at() <= t) {
            plans.apply(seq, actor, ev);
        }
    }
    plans
}

/// A derived indicator's value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivedValue {
    pub value: i64,
    /// Which figure, with its parameters (e.g. "stats.on_time_share unit=... from=2023-01-01 to=...").
    pub figure: String,
    /// The event range the figure was computed from: (first seq, last seq) inclusive.
    pub seq_range: (u64, u64),
    /// The figures it was computed from, by name (e.g. resolved 529, early 340, on time 189).
    pub parts: Vec<(String, i64)>,
    /// The dossiers behind the figure (empty for catalog figures).
    pub codes: Vec<DossierCode>,
}

/// Supplies derived indicators' values as of an instant (implemented over the read models).
/// `Ok(None)`: no value yet (e.g. nothing resolved, a share of zero dossiers); `Err`: the read
/// models could not answer (the dashboard shows the reason instead of a number).
pub trait DerivedFigures {
    fn value(
        &self,
        plan: &PlanState,
        indicator: &DerivedIndicator,
        as_of: Timestamp,
    ) -> Result<Option<DerivedValue>, String>;
}

/// Figures for a plan without derived indicators, or for tests of the manual ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDerivedFigures;

impl DerivedFigures for NoDerivedFigures {
    fn value(
        &self,
        _: &PlanState,
        _: &DerivedIndicator,
        _: Timestamp,
    ) -> Result<Option<DerivedValue>, String> {
        Ok(None)
    }
}

/// A task's standing at an instant, with the events behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskProgress {
    pub task: TaskId,
    pub title: String,
    pub responsible: String,
    pub start: NaiveDate,
    pub deadline: NaiveDate,
    pub indicator: String,
    /// `manual`, or the derived figure's name with its parameters.
    pub source: String,
    pub status: TaskStatus,
    pub weight: u32,
    pub value: Option<i64>,
    pub target: Target,
    pub target_met: bool,
    /// 0..=10 000.
    pub progress_bp: i64,
    /// The share of the time from start to deadline that has passed, 0..=10 000.
    pub pace_bp: i64,
    /// The manual report in force (with its evidence and seq).
    pub report: Option<Report>,
    pub derived: Option<DerivedValue>,
    /// Why a derived value is missing, when the read models failed to answer.
    pub derived_error: Option<String>,
    /// Seq of the completion in force.
    pub completed_seq: Option<u64>,
    /// The plan events that shaped this answer (task spec, reports, completion).
    pub seqs: Vec<u64>,
}

/// A plan's standing at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanProgress {
    pub plan: PlanId,
    pub number: String,
    pub date: NaiveDate,
    pub unit: UnitCode,
    pub year: i32,
    pub title: String,
    pub as_of: Timestamp,
    /// Weighted progress of the tasks not cancelled, 0..=10 000.
    pub progress_bp: i64,
    /// The seq of the plan's issue.
    pub issued_seq: u64,
    pub tasks: Vec<TaskProgress>,
    /// Tasks per status (`not_started`, `on_track`, ...), every status listed.
    pub counts: BTreeMap<String, u32>,
    pub overdue: Vec<TaskId>,
    /// Overdue tasks per responsible unit (as the plan names it).
    pub overdue_by_unit: BTreeMap<String, Vec<TaskId>>,
}

/// Local (Asia/Ho_Chi_Minh, UTC+7, no daylight saving) start of a date, as a timestamp.
pub fn day_start(date: NaiveDate) -> Timestamp {
    let utc = date
        .and_hms_opt(0, 0, 0)
        .map(|dt| dt.and_utc().timestamp_millis())
        .unwrap_or(0);
    Timestamp(utc - 7 * 3_600_000)
}

/// The end of a task's last day (its deadline's following local midnight).
pub fn deadline_end(spec: &TaskSpec) -> Timestamp {
    Timestamp(day_start(spec.deadline).0 + 86_400_000)
}

/// How far `as_of` is from `start` (00:00) to `deadline` (24:00), in basis points.
fn pace_bp(spec: &TaskSpec, as_of: Timestamp) -> i64 {
    let start = day_start(spec.start).0;
    let end = deadline_end(spec).0;
    if as_of.0 <= start {
        return 0;
    }
    if as_of.0 >= end {
        return 10_000;
    }
    ((as_of.0 - start) as i128 * 10_000 / (end - start) as i128) as i64
}

/// The status of one task at `as_of`, counting only what happened up to then. The plan state
/// should be folded as of `as_of` ([`fold_plan`]) so later amendments and reopenings do not
/// leak into the answer; reports, completion and cancellation are also filtered by time here.
pub fn task_progress(
    plan: &PlanState,
    task: &TaskState,
    as_of: Timestamp,
    derived: &dyn DerivedFigures,
) -> TaskProgress {
    let spec = &task.spec;
    let seqs: Vec<u64> = task.seqs.clone();
    let report = match spec.indicator.source {
        IndicatorSource::Manual => task.report_at(as_of).cloned(),
        IndicatorSource::Derived(_) => None,
    };
    let (value, derived_value, derived_error, source) = match &spec.indicator.source {
        IndicatorSource::Manual => (
            report.as_ref().map(|r| r.value),
            None,
            None,
            "manual".to_owned(),
        ),
        IndicatorSource::Derived(ind) => match derived.value(plan, ind, as_of) {
            Ok(d) => (d.as_ref().map(|d| d.value), d, None, ind.name()),
            Err(e) => (None, None, Some(e), ind.name()),
        },
    };
    let target = spec.indicator.target;
    let progress_bp = value.map(|v| target.progress_bp(v)).unwrap_or(0);
    let pace = pace_bp(spec, as_of);
    let deadline_passed = as_of >= deadline_end(spec);
    let completion = task.completed_at.filter(|(_, at)| *at <= as_of);
    let done = completion.is_some();
    let status = if task.cancelled_at.is_some_and(|(_, at)| at <= as_of) {
        TaskStatus::Cancelled
    } else if done {
        TaskStatus::Done
    } else if deadline_passed {
        TaskStatus::Overdue
    } else if pace == 0 && (report.is_none() || derived_value.is_some()) {
        // Before its start: a figure computed from the desk's history is not work on the task.
        TaskStatus::NotStarted
    } else if target.is_level() {
        // A level to hold: on track exactly while it is held.
        if value.is_some_and(|v| target.met(v)) {
            TaskStatus::OnTrack
        } else {
            TaskStatus::AtRisk
        }
    } else if value.is_some() && progress_bp >= pace {
        TaskStatus::OnTrack
    } else {
        // Time is running and the value lags the linear pace (or nothing is reported).
        TaskStatus::AtRisk
    };
    TaskProgress {
        task: spec.id.clone(),
        title: spec.title.clone(),
        responsible: spec.responsible.clone(),
        start: spec.start,
        deadline: spec.deadline,
        indicator: spec.indicator.name.clone(),
        source,
        status,
        weight: spec.weight,
        value,
        target,
        target_met: value.is_some_and(|v| target.met(v)),
        progress_bp: if done { 10_000 } else { progress_bp },
        pace_bp: pace,
        report,
        derived: derived_value,
        derived_error,
        completed_seq: completion.map(|(seq, _)| seq),
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
        .filter(|t| t.added_at <= as_of)
        .map(|t| task_progress(plan, t, as_of, derived))
        .collect();
    let live = tasks.iter().filter(|t| t.status != TaskStatus::Cancelled);
    let (weighted, weights) = live.fold((0i64, 0i64), |(w, total), t| {
        (
            w + t.progress_bp * i64::from(t.weight),
            total + i64::from(t.weight),
        )
    });
    let mut counts: BTreeMap<String, u32> = TaskStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    let mut overdue_by_unit: BTreeMap<String, Vec<TaskId>> = BTreeMap::new();
    for t in &tasks {
        *counts.entry(t.status.as_str().to_owned()).or_default() += 1;
        if t.status == TaskStatus::Overdue {
            overdue_by_unit
                .entry(t.responsible.clone())
                .or_default()
                .push(t.task.clone());
        }
    }
    PlanProgress {
        plan: plan.id.clone(),
        number: plan.number.clone(),
        date: plan.date,
        unit: plan.unit.clone(),
        year: plan.year,
        title: plan.title.clone(),
        as_of,
        progress_bp: if weights == 0 { 0 } else { weighted / weights },
        issued_seq: plan.issued_seq,
        overdue: tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Overdue)
            .map(|t| t.task.clone())
            .collect(),
        counts,
        overdue_by_unit,
        tasks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::NoDerivedFigures as NoDerived;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// Local noon of a date.
    fn noon(date: NaiveDate) -> Timestamp {
        Timestamp(day_start(date).0 + 12 * 3_600_000)
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
            at: noon(d(2023, 1, 27)),
        };
        plans.check(&added).unwrap();
        plans.apply(2, "planner-01", &added);
        (plans, plan, task)
    }

    #[test]
    fn only_a_planner_of_the_plans_unit_writes_it() {
        use crate::domain::dossier::ActorRef;
        use crate::domain::testkit::staff;
        use crate::domain::types::Role;
        let (plans, plan, task) = plan_with_task();
        let home: UnitCode = "000.33.22.H05".parse().unwrap();
        let cmd = PlanCommand::CompleteTask {
            task: task.clone(),
            note: "xong".into(),
        };
        let at = noon(d(2023, 12, 1));
        // The role first: an admin, a leader and a citizen do not write plans.
        for actor in [
            ActorRef::Staff(staff("ad-01", Role::Admin, &[], home.clone())),
            ActorRef::Staff(staff("ld-01", Role::Leader, &[], home.clone())),
            ActorRef::Citizen {
                account: "cong-dvc".into(),
                lookup_proof: None,
            },
        ] {
            let e = authorize_planner(&actor, cmd.action()).unwrap_err();
            assert!(
                matches!(
                    e,
                    PlanRefusal::Forbidden {
                        action: "complete_task",
                        ..
                    }
                ),
                "{e}"
            );
        }
        // Then the unit: a planner of another unit is out of scope.
        let elsewhere = ActorRef::Staff(staff(
            "kh-02",
            Role::Planner,
            &[],
            "000.00.00.G10".parse().unwrap(),
        ));
        let other = authorize_planner(&elsewhere, cmd.action()).unwrap();
        let e = decide_plan(&plans, &plan, &cmd, other, at).unwrap_err();
        assert!(
            matches!(e, PlanRefusal::OutOfScope { ref plan_unit, .. } if *plan_unit == home),
            "{e}"
        );
        // A plan nobody issued exists only for its issue.
        let missing: PlanId = "1-kh-ubnd-2024".parse().unwrap();
        let e = decide_plan(&plans, &missing, &cmd, other, at).unwrap_err();
        assert_eq!(e, PlanRefusal::NotFound(missing));
        // The home planner's command becomes its event, checked by the domain.
        let planner = ActorRef::Staff(staff("kh-01", Role::Planner, &[], home));
        let me = authorize_planner(&planner, cmd.action()).unwrap();
        let ev = decide_plan(&plans, &plan, &cmd, me, at).unwrap();
        assert_eq!(ev, cmd.clone().into_event(plan.clone(), at));
        let unknown = PlanCommand::CompleteTask {
            task: "nothing".parse().unwrap(),
            note: String::new(),
        };
        let e = decide_plan(&plans, &plan, &unknown, me, at).unwrap_err();
        assert_eq!(
            e,
            PlanRefusal::Plan(PlanError::UnknownTask("nothing".into()))
        );
        // Never in the future.
        assert_eq!(
            business_time(Some(Timestamp(at.0 + 1)), at),
            Err(PlanRefusal::FutureTime {
                at: Timestamp(at.0 + 1),
                now: at
            })
        );
        assert_eq!(business_time(None, at), Ok(at));
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
                evidence: "18 of 24".into(),
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
            Err(PlanError::Conflict { .. })
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
        assert!(Target::KeepAtLeast(9_800).is_level());
        assert!(!Target::KeepAtLeast(9_800).met(9_799));
        assert_eq!(Target::KeepAtLeast(9_800).progress_bp(4_900), 5_000);
        assert_eq!(Target::KeepAtMost(100).progress_bp(200), 5_000);
    }
}
