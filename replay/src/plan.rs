//! `motcua-replay plan PLAN --as-of T`: a reform plan's progress as it stood at T, recomputed
//! from the log with the engine's own as-of dashboard
//! (`projection::plan::dashboard_as_of_envelopes`, the function the server's
//! `GET /v1/plans/{plan}/dashboard?as_of=T` runs over its log), and the events behind every
//! figure: the plan events that shaped each task (seq, event id, business and recording time,
//! actor), the report and completion in force, and for a derived indicator the figure's name,
//! its parts, the seq range of the dossier or catalog events it came from and the dossiers.
//!
//! No plan rule lives here: this module only reads the source, hands its envelopes to the
//! engine and lays out what comes back.

use std::collections::BTreeMap;

use motcua_engine::domain::events::Event;
use motcua_engine::domain::plan::{PlanProgress, Target, TaskProgress};
use motcua_engine::domain::types::{PlanId, Timestamp};
use motcua_engine::projection::plan::dashboard_as_of_envelopes;
use motcua_engine::projection::ProjectionError;
use serde::Serialize;

use crate::output::{Format, Table};
use crate::progress::Progress;
use crate::replay::{local_time, Events, ReplayError};
use crate::source::Source;

/// One event of the plan's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanEventRow {
    pub seq: u64,
    /// Version within the plan's stream.
    pub version: u64,
    pub event_id: String,
    pub event_type: String,
    /// The task it is about (None for the plan's issue).
    pub task: Option<String>,
    /// Business time (local).
    pub at: String,
    /// When the log recorded it (local).
    pub recorded_at: String,
    pub actor: String,
    /// Whether the dashboard counts it: dated at or before the as-of instant.
    pub counted: bool,
}

/// What the replay folded to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Folded {
    /// Highest seq folded into the read models behind the derived indicators.
    pub upto_seq: u64,
    /// Events folded into those read models.
    pub events: u64,
}

/// The `plan` answer. `dashboard` is exactly the server's dashboard document for the same
/// instant; the rest says where its figures came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanAnswer {
    pub plan: String,
    /// The as-of instant (local).
    pub as_of: String,
    pub folded: Folded,
    pub dashboard: PlanProgress,
    /// Every event of the plan's stream, in seq order.
    pub events: Vec<PlanEventRow>,
}

/// Replays `source` and answers for `plan` as of `t`. A plan not issued by `t` is a usage
/// error naming the plan and the instant.
pub fn build(
    source: Source,
    plan: &PlanId,
    t: Timestamp,
    progress: &Progress,
) -> Result<PlanAnswer, ReplayError> {
    let mut failure: Option<ReplayError> = None;
    // The source's own errors (damage, undecodable records) end the stream here and are
    // reported as themselves, not as a projection error.
    let envelopes = Events::new(source, progress)
        .envelopes()
        .map_while(|r| match r {
            Ok(env) => Some(Ok::<_, ProjectionError>(env)),
            Err(e) => {
                failure = Some(e);
                None
            }
        });
    let folded = dashboard_as_of_envelopes(envelopes, plan, t);
    progress.finish();
    if let Some(e) = failure {
        return Err(e);
    }
    let folded = folded?;
    let dashboard = folded.progress.ok_or_else(|| {
        ReplayError::Usage(format!(
            "no plan {plan} issued by {} in this log",
            local_time(t)
        ))
    })?;
    let events = folded
        .plan_events
        .iter()
        .map(|(env, rec)| {
            let (task, at) = match &rec.event {
                Event::Plan(p) => (p.task().map(|t| t.to_string()), Some(p.at())),
                _ => (None, None),
            };
            PlanEventRow {
                seq: env.seq,
                version: env.version,
                event_id: env.event_id.to_string(),
                event_type: env.event_type.clone(),
                task,
                at: at.map(local_time).unwrap_or_default(),
                recorded_at: local_time(rec.recorded_at),
                actor: rec.actor.clone(),
                counted: at.is_some_and(|at| at <= t),
            }
        })
        .collect();
    Ok(PlanAnswer {
        plan: plan.to_string(),
        as_of: local_time(t),
        folded: Folded {
            upto_seq: folded.upto_seq,
            events: folded.events,
        },
        dashboard,
        events,
    })
}

/// Basis points as a percentage with two decimals.
fn percent(bp: i64) -> String {
    format!("{}.{:02}%", bp / 100, (bp % 100).abs())
}

fn target(t: Target) -> (&'static str, i64) {
    match t {
        Target::AtLeast(v) => (">=", v),
        Target::AtMost(v) => ("<=", v),
        Target::KeepAtLeast(v) => ("keep >=", v),
        Target::KeepAtMost(v) => ("keep <=", v),
    }
}

fn join<T: ToString>(items: impl IntoIterator<Item = T>, sep: &str) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(sep)
}

impl PlanAnswer {
    fn event_id(&self, seq: u64) -> &str {
        self.events
            .iter()
            .find(|e| e.seq == seq)
            .map_or("", |e| e.event_id.as_str())
    }

    /// The task's own evidence: the report in force and the completion.
    fn evidence(&self, t: &TaskProgress) -> String {
        let mut parts = Vec::new();
        if let Some(r) = &t.report {
            parts.push(format!(
                "report seq {} by {} at {}: {}",
                r.seq,
                r.reporter,
                local_time(r.at),
                r.evidence
            ));
        }
        if let Some(seq) = t.completed_seq {
            parts.push(format!("completed seq {seq}"));
        }
        if let Some(e) = &t.derived_error {
            parts.push(format!("no value: {e}"));
        }
        parts.join("; ")
    }

    /// One row per task (the CSV).
    pub fn task_table(&self) -> Table {
        let mut t = Table::new([
            "task",
            "status",
            "weight",
            "value",
            "target_kind",
            "target",
            "target_met",
            "progress_bp",
            "pace_bp",
            "source",
            "plan_seqs",
            "report_seq",
            "report_event_id",
            "reporter",
            "evidence",
            "links",
            "completed_seq",
            "completed_event_id",
            "derived_figure",
            "derived_parts",
            "derived_seq_from",
            "derived_seq_to",
            "dossiers",
        ]);
        for task in &self.dashboard.tasks {
            let (kind, goal) = target(task.target);
            let d = task.derived.as_ref();
            t.push([
                task.task.to_string(),
                task.status.as_str().to_owned(),
                task.weight.to_string(),
                task.value.map(|v| v.to_string()).unwrap_or_default(),
                kind.to_owned(),
                goal.to_string(),
                task.target_met.to_string(),
                task.progress_bp.to_string(),
                task.pace_bp.to_string(),
                task.source.clone(),
                join(&task.seqs, " "),
                task.report
                    .as_ref()
                    .map(|r| r.seq.to_string())
                    .unwrap_or_default(),
                task.report
                    .as_ref()
                    .map(|r| self.event_id(r.seq).to_owned())
                    .unwrap_or_default(),
                task.report
                    .as_ref()
                    .map(|r| r.reporter.clone())
                    .unwrap_or_default(),
                task.report
                    .as_ref()
                    .map(|r| r.evidence.clone())
                    .unwrap_or_default(),
                task.report
                    .as_ref()
                    .map(|r| r.links.join(" "))
                    .unwrap_or_default(),
                task.completed_seq
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                task.completed_seq
                    .map(|s| self.event_id(s).to_owned())
                    .unwrap_or_default(),
                d.map(|d| d.figure.clone()).unwrap_or_default(),
                d.map(|d| join(d.parts.iter().map(|(k, v)| format!("{k}={v}")), " "))
                    .unwrap_or_default(),
                d.map(|d| d.seq_range.0.to_string()).unwrap_or_default(),
                d.map(|d| d.seq_range.1.to_string()).unwrap_or_default(),
                d.map(|d| join(&d.codes, " ")).unwrap_or_default(),
            ]);
        }
        t
    }

    /// The readable report: the plan, its tasks, the figures behind the derived indicators and
    /// the plan's events.
    pub fn render(&self) -> String {
        let d = &self.dashboard;
        let mut s = format!(
            "plan {} ({}), unit {}, year {}, issued {} (seq {})\n{}\n",
            d.number, d.plan, d.unit, d.year, d.date, d.issued_seq, d.title
        );
        s.push_str(&format!(
            "as of {}: weighted progress {}; read models folded up to seq {} ({} events)\n",
            self.as_of,
            percent(d.progress_bp),
            self.folded.upto_seq,
            self.folded.events
        ));
        s.push_str(&format!(
            "tasks: {}\n",
            join(d.counts.iter().map(|(k, v)| format!("{k} {v}")), ", ")
        ));
        if !d.overdue_by_unit.is_empty() {
            let by: BTreeMap<&String, String> = d
                .overdue_by_unit
                .iter()
                .map(|(u, ts)| (u, join(ts, " ")))
                .collect();
            s.push_str(&format!(
                "overdue: {}\n",
                join(by.iter().map(|(u, ts)| format!("{u}: {ts}")), "; ")
            ));
        }
        s.push('\n');
        let mut t = Table::new([
            "task",
            "status",
            "weight",
            "value",
            "target",
            "progress",
            "pace",
            "plan events (seq)",
            "evidence",
        ]);
        for task in &d.tasks {
            let (kind, goal) = target(task.target);
            t.push([
                task.task.to_string(),
                task.status.as_str().to_owned(),
                task.weight.to_string(),
                task.value.map(|v| v.to_string()).unwrap_or("-".into()),
                format!("{kind} {goal}"),
                percent(task.progress_bp),
                percent(task.pace_bp),
                join(&task.seqs, ","),
                self.evidence(task),
            ]);
        }
        s.push_str(&t.render());
        let derived: Vec<&TaskProgress> = d.tasks.iter().filter(|t| t.derived.is_some()).collect();
        if !derived.is_empty() {
            s.push_str("\nderived indicators: the figure, its parts and the events behind it\n");
            let mut t = Table::new(["task", "figure", "value", "parts", "seqs", "dossiers"]);
            for task in derived {
                if let Some(v) = &task.derived {
                    let dossiers = match (v.codes.first(), v.codes.last()) {
                        (Some(a), Some(b)) if v.codes.len() > 1 => {
                            format!("{} ({a} .. {b})", v.codes.len())
                        }
                        (Some(a), _) => format!("1 ({a})"),
                        _ => "0".into(),
                    };
                    t.push([
                        task.task.to_string(),
                        v.figure.clone(),
                        v.value.to_string(),
                        join(v.parts.iter().map(|(k, n)| format!("{k}={n}")), " "),
                        format!("{}..{}", v.seq_range.0, v.seq_range.1),
                        dossiers,
                    ]);
                }
            }
            s.push_str(&t.render());
            s.push_str("(every dossier code: --format json or csv)\n");
        }
        s.push_str("\nplan events\n");
        let mut t = Table::new([
            "seq", "event id", "type", "task", "at", "recorded", "actor", "counted",
        ]);
        for e in &self.events {
            t.push([
                e.seq.to_string(),
                e.event_id.clone(),
                e.event_type.clone(),
                e.task.clone().unwrap_or_default(),
                e.at.clone(),
                e.recorded_at.clone(),
                e.actor.clone(),
                if e.counted { "yes" } else { "no (later)" }.into(),
            ]);
        }
        s.push_str(&t.render());
        s
    }

    /// The answer in `format`.
    pub fn format(&self, format: Format) -> String {
        match format {
            Format::Json => crate::output::json(self),
            Format::Csv => self.task_table().to_csv(),
            Format::Table => self.render(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_keep_two_decimals_and_round_down() {
        assert_eq!(percent(10_000), "100.00%");
        assert_eq!(percent(6_666), "66.66%");
        assert_eq!(percent(5), "0.05%");
    }
}
