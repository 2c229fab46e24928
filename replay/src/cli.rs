//! The commands behind the `motcua-replay` binary, as functions returning what to print, so
//! tests can run them in-process as well as through the binary.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use clap::ValueEnum;
use motcua_engine::domain::events::{Event, StaffEvent};
use motcua_engine::domain::rating::SatisfactionLevel;
use motcua_engine::domain::types::{DossierCode, Staff, Timestamp};
use motcua_engine::projection::stats::{period_breakdown, period_report, units};
use motcua_engine::projection::{Figure, Figures, GroupBy, Satisfaction, StatsFilter, StatsReport};
use serde::Serialize;

use crate::checkpoint::{parse_trusted_key, Checkpoint, CheckpointCheck};
use crate::history::{self, History};
use crate::output::{json, Format, Table};
use crate::progress::Progress;
use crate::replay::{self, local_time, parse_instant, ReplayError};
use crate::source::Source;
use crate::verify::{verify_against, VerifyOptions};
use crate::{bench, diff};

/// What a command prints and its exit status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub status: u8,
}

impl Output {
    fn ok(stdout: String) -> Output {
        Output {
            stdout,
            stderr: String::new(),
            status: 0,
        }
    }
}

/// `stats --by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    Unit,
    Field,
    Procedure,
    Channel,
}

fn open(path: &Path, what: &str, progress: bool) -> Result<(Source, Progress), ReplayError> {
    let source = Source::open(path)?;
    let bar = Progress::new(source.expected_records(), what, progress);
    Ok((source, bar))
}

// ---------------------------------------------------------------------------------------------
// verify

/// Checkpoints to hold an archive against (`verify --checkpoint FILE --trusted-key KEY`).
#[derive(Debug, Clone, Default)]
pub struct CheckpointArgs {
    pub files: Vec<std::path::PathBuf>,
    /// Public keys: 64 hex digits, or a file whose first word is.
    pub trusted_keys: Vec<String>,
}

/// Reads the checkpoints and trusted keys: any unreadable one, or checkpoints with no trusted
/// key at all, stops the command (exit status 2) before the source is read.
fn checkpoint_check(args: &CheckpointArgs) -> Result<CheckpointCheck, ReplayError> {
    if args.files.is_empty() {
        if !args.trusted_keys.is_empty() {
            return Err(ReplayError::Usage(
                "--trusted-key is only used with --checkpoint FILE".into(),
            ));
        }
        return Ok(CheckpointCheck::default());
    }
    if args.trusted_keys.is_empty() {
        return Err(ReplayError::Usage(
            "--checkpoint needs at least one --trusted-key (the public key the auditor holds,              as `motcua checkpoint key` printed it): a checkpoint signed by any key would prove              nothing"
                .into(),
        ));
    }
    let trusted = args
        .trusted_keys
        .iter()
        .map(|k| parse_trusted_key(k).map_err(|e| ReplayError::Usage(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let checkpoints = args
        .files
        .iter()
        .map(|f| {
            Checkpoint::read(f)
                .map(|cp| (f.display().to_string(), cp))
                .map_err(|e| ReplayError::Usage(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CheckpointCheck::new(checkpoints, &trusted))
}

/// `verify`: table of findings then the summary line (JSON: the report, summary on stderr).
pub fn verify(
    path: &Path,
    chain_only: bool,
    expect_head: Option<&str>,
    checkpoints: &CheckpointArgs,
    bench: bool,
    format: Format,
    progress: bool,
) -> Result<Output, ReplayError> {
    let expect_head = match expect_head {
        Some(h) => Some(
            motcua_engine::hex_digits::parse_hex(h)
                .ok_or_else(|| ReplayError::Usage("--expect-head must be 64 hex digits".into()))?,
        ),
        None => None,
    };
    let checkpoints = checkpoint_check(checkpoints)?;
    let (source, bar) = open(path, "verify", progress)?;
    let options = VerifyOptions {
        chain_only,
        expect_head,
    };
    let report = verify_against(source, &options, checkpoints, &bar);
    let mut out = Output::default();
    match format {
        Format::Json => {
            out.stdout = json(&report);
            out.stderr = format!("{}\n", report.summary_line());
        }
        Format::Table | Format::Csv => {
            let mut t = Table::new(["seq", "stream", "rule", "detail"]);
            for f in &report.findings {
                t.push([
                    f.seq.to_string(),
                    f.stream.clone().unwrap_or_default(),
                    f.rule.to_string(),
                    f.detail.clone(),
                ]);
            }
            if format == Format::Csv {
                out.stdout = t.to_csv();
            } else if !report.findings.is_empty() {
                out.stdout = t.render();
            }
            out.stdout.push_str(&format!(
                "checked transitions={} due_dates={}\n",
                report.transitions_checked, report.due_dates_checked
            ));
            out.stdout.push_str(&report.summary_line());
            out.stdout.push('\n');
        }
    }
    if bench {
        let (source, _) = open(path, "scan", false)?;
        let scan = bench::scan_decode(source)?;
        let line = format!(
            "bench verify_eps={} scan_decode_eps={} ratio={:.2}\n",
            report.events_per_second(),
            scan.events_per_second(),
            report.events_per_second() as f64 / scan.events_per_second().max(1) as f64
        );
        out.stderr.push_str(&line);
    }
    out.status = u8::from(!report.findings.is_empty());
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// stats

/// One group of a statistics answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsGroup {
    /// The group's key (`all` without `--by`).
    pub key: String,
    pub figures: Figures,
    /// Online share of received, percent with two decimals.
    pub online_share_percent: Option<String>,
    /// Citizens' ratings given in the period, by level (the engine's `period_report`).
    pub satisfaction: Satisfaction,
    /// Very satisfied and satisfied over all ratings, percent with two decimals.
    pub satisfied_share_percent: Option<String>,
}

/// The `stats` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsAnswer {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub as_of: Option<String>,
    pub by: Option<By>,
    pub groups: Vec<StatsGroup>,
    /// With `--list`: the figure and the codes behind it (group key -> codes).
    pub list: Option<(String, BTreeMap<String, Vec<DossierCode>>)>,
}

/// Recomputes the figures of `[from, to]` (optionally as of `as_of`) from a source.
pub fn compute_stats(
    path: &Path,
    from: NaiveDate,
    to: NaiveDate,
    by: Option<By>,
    as_of: Option<&str>,
    progress: bool,
) -> Result<(StatsAnswer, BTreeMap<String, StatsReport>), ReplayError> {
    if to < from {
        return Err(ReplayError::Usage("--to is before --from".into()));
    }
    let t = match as_of {
        Some(s) => parse_instant(s)?,
        None => Timestamp(i64::MAX),
    };
    let (source, bar) = open(path, "stats", progress)?;
    let folded = replay::fold(source, t, &bar, |_| {})?;
    let packed = motcua_engine::projection::store::PackedView::new(
        &folded.dossiers,
        motcua_engine::projection::dossier::packing,
    );
    let dossiers = &packed;
    let mut reports: BTreeMap<String, StatsReport> = BTreeMap::new();
    match by {
        None => {
            let all = period_report(dossiers, from, to, &StatsFilter::default())?;
            reports.insert("all".into(), all);
        }
        Some(By::Unit) => {
            for unit in units(dossiers)? {
                let filter = StatsFilter {
                    unit: Some(unit.clone()),
                    ..StatsFilter::default()
                };
                reports.insert(
                    unit.to_string(),
                    period_report(dossiers, from, to, &filter)?,
                );
            }
        }
        Some(by @ (By::Field | By::Procedure | By::Channel)) => {
            // One walk of the period, grouped by the engine (`period_breakdown`): a group's
            // figures are those of `period_report` with its value in the filter.
            let group_by = match by {
                By::Field => GroupBy::Field,
                By::Procedure => GroupBy::Procedure,
                _ => GroupBy::Channel,
            };
            for g in period_breakdown(dossiers, from, to, &StatsFilter::default(), group_by)? {
                reports.insert(g.key, g.report);
            }
        }
    }
    let groups = reports
        .iter()
        .map(|(key, r)| StatsGroup {
            key: key.clone(),
            figures: r.figures.clone(),
            online_share_percent: r.figures.online_share_percent().map(|p| format!("{p:.2}")),
            satisfaction: r.satisfaction.clone(),
            satisfied_share_percent: r
                .satisfaction
                .satisfied_share_percent()
                .map(|p| format!("{p:.2}")),
        })
        .collect();
    Ok((
        StatsAnswer {
            from,
            to,
            as_of: as_of.map(|_| local_time(t)),
            by,
            groups,
            list: None,
        },
        reports,
    ))
}

#[allow(clippy::too_many_arguments)]
pub fn stats(
    path: &Path,
    from: NaiveDate,
    to: NaiveDate,
    by: Option<By>,
    as_of: Option<&str>,
    list: Option<&str>,
    format: Format,
    progress: bool,
) -> Result<Output, ReplayError> {
    let figure = match list {
        Some(name) => Some(Figure::parse(name).ok_or_else(|| {
            let names: Vec<&str> = Figure::ALL.iter().map(|f| f.as_str()).collect();
            ReplayError::Usage(format!(
                "unknown figure {name:?}; one of: {}",
                names.join(", ")
            ))
        })?),
        None => None,
    };
    let (mut answer, reports) = compute_stats(path, from, to, by, as_of, progress)?;
    if let Some(f) = figure {
        let lists = reports
            .iter()
            .map(|(k, r)| (k.clone(), r.codes(f).to_vec()))
            .collect();
        answer.list = Some((f.as_str().to_owned(), lists));
    }
    let stdout = match format {
        Format::Json => json(&answer),
        Format::Table | Format::Csv => {
            let t = match &answer.list {
                Some((figure, lists)) => {
                    let mut t = Table::new(["group", "figure", "code"]);
                    for (k, codes) in lists {
                        for c in codes {
                            t.push([k.clone(), figure.clone(), c.to_string()]);
                        }
                    }
                    t
                }
                None => {
                    let mut headers = vec!["group".to_string()];
                    headers.extend(Figure::ALL.iter().map(|f| f.as_str().to_string()));
                    headers.push("online_share_percent".into());
                    headers.push("ratings".into());
                    headers.extend(
                        SatisfactionLevel::ALL
                            .iter()
                            .map(|l| l.as_str().to_string()),
                    );
                    headers.push("satisfied_share_percent".into());
                    let mut t = Table::new(headers);
                    for g in &answer.groups {
                        let mut row = vec![g.key.clone()];
                        row.extend(Figure::ALL.iter().map(|f| g.figures.get(*f).to_string()));
                        row.push(g.online_share_percent.clone().unwrap_or_default());
                        row.push(g.satisfaction.ratings.to_string());
                        row.extend(
                            SatisfactionLevel::ALL
                                .iter()
                                .map(|l| g.satisfaction.count(*l).to_string()),
                        );
                        row.push(g.satisfied_share_percent.clone().unwrap_or_default());
                        t.push(row);
                    }
                    if format == Format::Table {
                        // Figures down, groups across: 15 figures do not fit a terminal's width.
                        let mut v = Table::new(
                            std::iter::once("figure".to_string())
                                .chain(answer.groups.iter().map(|g| g.key.clone())),
                        );
                        for (i, h) in t.headers.iter().enumerate().skip(1) {
                            v.push(
                                std::iter::once(h.clone())
                                    .chain(t.rows.iter().map(|r| r[i].clone())),
                            );
                        }
                        v
                    } else {
                        t
                    }
                }
            };
            if format == Format::Csv {
                t.to_csv()
            } else {
                let mut s = format!("period {} .. {}", answer.from, answer.to);
                if let Some(a) = &answer.as_of {
                    s.push_str(&format!(" as of {a}"));
                }
                s.push('\n');
                s + &t.render()
            }
        }
    };
    Ok(Output::ok(stdout))
}

// ---------------------------------------------------------------------------------------------
// history

pub fn history(
    path: &Path,
    code: &str,
    format: Format,
    progress: bool,
) -> Result<Output, ReplayError> {
    let code: DossierCode = code
        .parse()
        .map_err(|e| ReplayError::Usage(format!("{e}")))?;
    let (source, bar) = open(path, "history", progress)?;
    let h: History = history::build(source, &code, &bar)?;
    let stdout = match format {
        Format::Json => json(&h),
        Format::Csv => h.timeline_table().to_csv(),
        Format::Table => h.render(),
    };
    Ok(Output::ok(stdout))
}

// ---------------------------------------------------------------------------------------------
// queues and inbox

/// One queue as it stood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueRow {
    pub unit: String,
    pub field: String,
    pub state: String,
    pub count: u64,
    /// The queue's dossiers by due time: (code, due local time).
    pub dossiers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueuesAnswer {
    pub as_of: String,
    pub queues: Vec<QueueRow>,
}

fn as_of_or_end(as_of: Option<&str>) -> Result<Timestamp, ReplayError> {
    match as_of {
        Some(s) => parse_instant(s),
        None => Ok(Timestamp(i64::MAX)),
    }
}

fn show_instant(t: Timestamp) -> String {
    if t.0 == i64::MAX {
        "end of log".into()
    } else {
        local_time(t)
    }
}

pub fn queues(
    path: &Path,
    as_of: Option<&str>,
    format: Format,
    progress: bool,
) -> Result<Output, ReplayError> {
    let t = as_of_or_end(as_of)?;
    let (source, bar) = open(path, "queues", progress)?;
    let folded = replay::fold(source, t, &bar, |_| {})?;
    let unit_list = units(&motcua_engine::projection::store::PackedView::new(
        &folded.dossiers,
        motcua_engine::projection::dossier::packing,
    ))?;
    let models = folded.read_models();
    let mut rows = Vec::new();
    for unit in &unit_list {
        for (field, state, count) in models.queue_counts(unit)? {
            let page = models.queue(unit, &field, state, usize::MAX)?;
            rows.push(QueueRow {
                unit: unit.to_string(),
                field: field.to_string(),
                state: state.as_str().to_owned(),
                count,
                dossiers: page
                    .items
                    .iter()
                    .map(|e| (e.code.to_string(), local_time(e.due)))
                    .collect(),
            });
        }
    }
    let answer = QueuesAnswer {
        as_of: show_instant(t),
        queues: rows,
    };
    let stdout = match format {
        Format::Json => json(&answer),
        _ => {
            let mut t = Table::new(["unit", "field", "state", "count", "first due"]);
            for q in &answer.queues {
                t.push([
                    q.unit.clone(),
                    q.field.clone(),
                    q.state.clone(),
                    q.count.to_string(),
                    q.dossiers
                        .first()
                        .map(|(c, d)| format!("{c} {d}"))
                        .unwrap_or_default(),
                ]);
            }
            if format == Format::Csv {
                t.to_csv()
            } else {
                format!("queues as of {}\n{}", answer.as_of, t.render())
            }
        }
    };
    Ok(Output::ok(stdout))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxRow {
    pub code: String,
    pub field: String,
    pub due: String,
    pub overdue: bool,
    pub specialist: String,
    pub draft: String,
    pub submitted_for_signing_at: String,
    pub procedure_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxAnswer {
    pub leader: String,
    pub unit: String,
    pub as_of: String,
    pub items: Vec<InboxRow>,
}

pub fn inbox(
    path: &Path,
    leader: &str,
    as_of: Option<&str>,
    format: Format,
    progress: bool,
) -> Result<Output, ReplayError> {
    let t = as_of_or_end(as_of)?;
    let (source, bar) = open(path, "inbox", progress)?;
    // The staff directory as it stood at t, folded alongside.
    let mut staff: BTreeMap<String, Staff> = BTreeMap::new();
    let mut latest = Timestamp(0);
    let folded = replay::fold(source, t, &bar, |rec| {
        if let Event::Dossier(d) = &rec.event {
            if d.at <= t {
                latest = latest.max(d.at);
            }
        }
        if rec.recorded_at > t {
            return;
        }
        if let Event::Staff(StaffEvent::Registered(s) | StaffEvent::Updated(s)) = &rec.event {
            staff.insert(s.id.to_string(), s.clone());
        }
    })?;
    let who = staff
        .get(leader)
        .cloned()
        .ok_or_else(|| ReplayError::Usage(format!("no staff member {leader:?} in the log")))?;
    // At the end of the log, "now" is the last business time recorded, so overdue flags do not
    // depend on the day the auditor runs the tool.
    let now = if t.0 == i64::MAX { latest } else { t };
    let models = folded.read_models();
    let items = models
        .approval_inbox_for_leader(&who, now)?
        .into_iter()
        .map(|e| InboxRow {
            code: e.code.to_string(),
            field: e.field.to_string(),
            due: local_time(e.due),
            overdue: e.overdue,
            specialist: e.specialist,
            draft: format!("{:?}", e.draft).to_lowercase(),
            submitted_for_signing_at: local_time(e.submitted_for_signing_at),
            procedure_name: e.procedure_name,
        })
        .collect();
    let answer = InboxAnswer {
        leader: leader.to_owned(),
        unit: who.unit.to_string(),
        as_of: show_instant(t),
        items,
    };
    let stdout = match format {
        Format::Json => json(&answer),
        _ => {
            let mut tb = Table::new([
                "code",
                "field",
                "due",
                "overdue",
                "specialist",
                "draft",
                "submitted",
                "procedure",
            ]);
            for i in &answer.items {
                tb.push([
                    i.code.clone(),
                    i.field.clone(),
                    i.due.clone(),
                    if i.overdue { "yes" } else { "no" }.into(),
                    i.specialist.clone(),
                    i.draft.clone(),
                    i.submitted_for_signing_at.clone(),
                    i.procedure_name.clone(),
                ]);
            }
            if format == Format::Csv {
                tb.to_csv()
            } else {
                format!(
                    "approval inbox of {} ({}) as of {}\n{}",
                    answer.leader,
                    answer.unit,
                    answer.as_of,
                    tb.render()
                )
            }
        }
    };
    Ok(Output::ok(stdout))
}

// ---------------------------------------------------------------------------------------------
// plan

/// `plan PLAN --as-of T`: the reform plan's progress as it stood at T, with the events behind
/// each figure (see [`crate::plan`]).
pub fn plan(
    path: &Path,
    plan: &str,
    as_of: &str,
    format: Format,
    progress: bool,
) -> Result<Output, ReplayError> {
    let id: motcua_engine::domain::types::PlanId = plan
        .parse()
        .map_err(|e| ReplayError::Usage(format!("plan id {plan:?}: {e}")))?;
    let t = parse_instant(as_of)?;
    let (source, bar) = open(path, "plan", progress)?;
    let answer = crate::plan::build(source, &id, t, &bar)?;
    Ok(Output::ok(answer.format(format)))
}

// ---------------------------------------------------------------------------------------------
// diff

pub fn diff(
    a: &Path,
    b: &Path,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    format: Format,
    progress: bool,
) -> Result<Output, ReplayError> {
    let result = if diff::looks_like_json(b) {
        diff::stats_vs_json(a, b, from, to, progress)?
    } else {
        diff::archives(a, b, progress)?
    };
    let stdout = match format {
        Format::Json => json(&result),
        _ => result.render(),
    };
    Ok(Output {
        stdout,
        stderr: String::new(),
        status: u8::from(result.difference.is_some()),
    })
}
