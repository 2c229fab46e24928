//! Statistics exactly as docs/domain/statistics.md defines them, computed from the
//! per-dossier fact records of the dossier read model, with the codes behind every figure.
//!
//! Period `[from, to]` are local (Asia/Ho_Chi_Minh, UTC+7) dates; the period is the instants
//! `[S, E)` with S = local midnight starting `from`, E = local midnight after `to`. Only dossiers
//! that were received count (an online submission counts once reception receives it). Rules:
//! - carried over: received before S and not finished (resolved, withdrawn, stopped) before S;
//! - received: received in `[S, E)`; received online: of those, channel online;
//! - resolved: Approved or RefusalSigned in `[S, E)`, split by finish local date against the
//!   due local date in force at resolution: early (<), on time (=), late (>);
//! - in progress: received before E and not finished before E (paused dossiers included), split
//!   into overdue (due in force at the period's end is before E; a dossier paused at the end is
//!   overdue only if its pause began after its due time, since a stopped clock neither makes nor
//!   unmakes lateness) and within time;
//! - paused: in progress and awaiting supplement or payment at the period's end, plus dossiers
//!   stopped (national status 8) in `[S, E)` (`stopped` lists these on their own); paused is a
//!   breakdown overlapping in progress, not an extra term of the balance
//!   `carried over + received = resolved + withdrawn + stopped + in progress`;
//! - withdrawn: withdrawn in `[S, E)`;
//! - supplements requested / apologies issued: such events in `[S, E)` (an apology list repeats
//!   a code apologised for twice: the figure counts slips).
//!
//! - satisfaction: citizens' ratings given in `[S, E)` (by the rating's business time), by level,
//!   and the satisfied share (very satisfied and satisfied over all ratings), read from the
//!   rating index (`engine/src/domain/rating.rs`; a rating may come long after the period its
//!   dossier was resolved in, so it is counted when it is given).
//!
//! Cost: a period query reads the records of (a) dossiers received in the period (a range of
//! the received-time index), (b) dossiers finished after being open during the 7-day bucket
//! holding `from` (one bucket) and (c) dossiers open now. That is the dossiers touching the period
//! plus at most a week of neighbours plus today's open work, independent of how many years
//! of history precede or follow the period. With no unit filter it repeats per unit.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::rating::SatisfactionLevel;
use crate::domain::types::{Channel, DossierCode, Field, ProcedureId, Timestamp, UnitCode};

use super::dossier::{
    load_record, unit_prefix, week_key, DossierRecord, FinishKind, Verdict, T_LIST, T_OPEN,
    T_RATING, T_UNIT,
};
use super::keys::{local_date, local_midnight, ts_be, week_index};
use super::store::KvRead;
use super::ProjectionError;

/// Optional filters of a statistics query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsFilter {
    pub unit: Option<UnitCode>,
    pub field: Option<Field>,
    pub procedure: Option<ProcedureId>,
    pub channel: Option<Channel>,
}

impl StatsFilter {
    fn accepts(&self, r: &DossierRecord) -> bool {
        self.unit.as_ref().is_none_or(|u| *u == r.unit)
            && self
                .field
                .as_ref()
                .is_none_or(|f| r.field.as_ref() == Some(f))
            && self
                .procedure
                .as_ref()
                .is_none_or(|p| r.procedure.as_ref().map(|x| &x.id) == Some(p))
            && self.channel.is_none_or(|c| r.channel == c)
    }
}

/// One reported figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Figure {
    CarriedOver,
    Received,
    ReceivedOnline,
    Resolved,
    ResolvedEarly,
    ResolvedOnTime,
    ResolvedLate,
    InProgress,
    InProgressWithinTime,
    InProgressOverdue,
    Paused,
    Stopped,
    Withdrawn,
    SupplementsRequested,
    ApologiesIssued,
}

impl Figure {
    pub const ALL: [Figure; 15] = [
        Figure::CarriedOver,
        Figure::Received,
        Figure::ReceivedOnline,
        Figure::Resolved,
        Figure::ResolvedEarly,
        Figure::ResolvedOnTime,
        Figure::ResolvedLate,
        Figure::InProgress,
        Figure::InProgressWithinTime,
        Figure::InProgressOverdue,
        Figure::Paused,
        Figure::Stopped,
        Figure::Withdrawn,
        Figure::SupplementsRequested,
        Figure::ApologiesIssued,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Figure::CarriedOver => "carried_over",
            Figure::Received => "received",
            Figure::ReceivedOnline => "received_online",
            Figure::Resolved => "resolved",
            Figure::ResolvedEarly => "resolved_early",
            Figure::ResolvedOnTime => "resolved_on_time",
            Figure::ResolvedLate => "resolved_late",
            Figure::InProgress => "in_progress",
            Figure::InProgressWithinTime => "in_progress_within_time",
            Figure::InProgressOverdue => "in_progress_overdue",
            Figure::Paused => "paused",
            Figure::Stopped => "stopped",
            Figure::Withdrawn => "withdrawn",
            Figure::SupplementsRequested => "supplements_requested",
            Figure::ApologiesIssued => "apologies_issued",
        }
    }
    pub fn parse(s: &str) -> Option<Figure> {
        Figure::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// The figures of one period (counts; [`StatsReport::codes`] lists the dossiers behind each).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    pub carried_over: u64,
    pub received: u64,
    pub received_online: u64,
    pub resolved: u64,
    pub resolved_early: u64,
    pub resolved_on_time: u64,
    pub resolved_late: u64,
    pub in_progress: u64,
    pub in_progress_within_time: u64,
    pub in_progress_overdue: u64,
    pub paused: u64,
    pub stopped: u64,
    pub withdrawn: u64,
    pub supplements_requested: u64,
    pub apologies_issued: u64,
}

impl Figures {
    /// Online share of received, in percent (None when nothing was received).
    pub fn online_share_percent(&self) -> Option<f64> {
        (self.received > 0).then(|| self.received_online as f64 * 100.0 / self.received as f64)
    }
    pub fn get(&self, f: Figure) -> u64 {
        match f {
            Figure::CarriedOver => self.carried_over,
            Figure::Received => self.received,
            Figure::ReceivedOnline => self.received_online,
            Figure::Resolved => self.resolved,
            Figure::ResolvedEarly => self.resolved_early,
            Figure::ResolvedOnTime => self.resolved_on_time,
            Figure::ResolvedLate => self.resolved_late,
            Figure::InProgress => self.in_progress,
            Figure::InProgressWithinTime => self.in_progress_within_time,
            Figure::InProgressOverdue => self.in_progress_overdue,
            Figure::Paused => self.paused,
            Figure::Stopped => self.stopped,
            Figure::Withdrawn => self.withdrawn,
            Figure::SupplementsRequested => self.supplements_requested,
            Figure::ApologiesIssued => self.apologies_issued,
        }
    }
    fn bump(&mut self, f: Figure) {
        let slot = match f {
            Figure::CarriedOver => &mut self.carried_over,
            Figure::Received => &mut self.received,
            Figure::ReceivedOnline => &mut self.received_online,
            Figure::Resolved => &mut self.resolved,
            Figure::ResolvedEarly => &mut self.resolved_early,
            Figure::ResolvedOnTime => &mut self.resolved_on_time,
            Figure::ResolvedLate => &mut self.resolved_late,
            Figure::InProgress => &mut self.in_progress,
            Figure::InProgressWithinTime => &mut self.in_progress_within_time,
            Figure::InProgressOverdue => &mut self.in_progress_overdue,
            Figure::Paused => &mut self.paused,
            Figure::Stopped => &mut self.stopped,
            Figure::Withdrawn => &mut self.withdrawn,
            Figure::SupplementsRequested => &mut self.supplements_requested,
            Figure::ApologiesIssued => &mut self.apologies_issued,
        };
        *slot += 1;
    }
}

/// A period's figures and the dossier codes behind each (sorted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsReport {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub filter: StatsFilter,
    pub figures: Figures,
    pub codes: BTreeMap<Figure, Vec<DossierCode>>,
    /// Dossier records the query read (its cost; see the module docs).
    pub records_read: u64,
    /// Citizens' ratings given in the period (the satisfaction group of the service-quality
    /// index, `docs/domain/statistics.md`).
    pub satisfaction: Satisfaction,
}

/// The ratings given in a period, by level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Satisfaction {
    pub ratings: u64,
    pub very_satisfied: u64,
    pub satisfied: u64,
    pub dissatisfied: u64,
}

impl Satisfaction {
    /// How many ratings of `level`.
    pub fn count(&self, level: SatisfactionLevel) -> u64 {
        match level {
            SatisfactionLevel::VerySatisfied => self.very_satisfied,
            SatisfactionLevel::Satisfied => self.satisfied,
            SatisfactionLevel::Dissatisfied => self.dissatisfied,
        }
    }

    /// The satisfied share in percent: very satisfied and satisfied over all ratings (None
    /// when no rating was given).
    pub fn satisfied_share_percent(&self) -> Option<f64> {
        let satisfied: u64 = SatisfactionLevel::ALL
            .into_iter()
            .filter(|l| l.is_satisfied())
            .map(|l| self.count(l))
            .sum();
        (self.ratings > 0).then(|| satisfied as f64 * 100.0 / self.ratings as f64)
    }

    fn add(&mut self, level: SatisfactionLevel) {
        self.ratings += 1;
        match level {
            SatisfactionLevel::VerySatisfied => self.very_satisfied += 1,
            SatisfactionLevel::Satisfied => self.satisfied += 1,
            SatisfactionLevel::Dissatisfied => self.dissatisfied += 1,
        }
    }
}

/// Calls `f` with every rating given in `[s, e)` to a dossier `filter` accepts, with the
/// rated dossier's record when `with_record` (or a filter beyond the unit) needs it read.
fn each_rating(
    dossiers: &dyn KvRead,
    s: Timestamp,
    e: Timestamp,
    filter: &StatsFilter,
    with_record: bool,
    mut f: impl FnMut(Option<&DossierRecord>, SatisfactionLevel),
) -> Result<(), ProjectionError> {
    let units = match &filter.unit {
        Some(u) => vec![u.clone()],
        None => units(dossiers)?,
    };
    let by_unit_only =
        filter.field.is_none() && filter.procedure.is_none() && filter.channel.is_none();
    for unit in &units {
        let mut lo = unit_prefix(T_RATING, unit);
        let mut hi = lo.clone();
        lo.extend_from_slice(&ts_be(s));
        hi.extend_from_slice(&ts_be(e));
        for kv in dossiers.range(&lo, Some(&hi), false) {
            let (k, v) = kv?;
            let level = v
                .first()
                .and_then(|c| SatisfactionLevel::from_code(*c))
                .ok_or_else(|| ProjectionError::Storage(format!("bad rating row: {k:?}")))?;
            if by_unit_only && !with_record {
                f(None, level);
                continue;
            }
            match load_record(dossiers, &code_suffix(&k)?)? {
                Some(r) if filter.accepts(&r) => f(Some(&r), level),
                _ => {}
            }
        }
    }
    Ok(())
}

impl StatsReport {
    /// The dossier codes behind a figure (as many as the figure counts).
    pub fn codes(&self, f: Figure) -> &[DossierCode] {
        self.codes.get(&f).map(Vec::as_slice).unwrap_or(&[])
    }

    fn add(&mut self, f: Figure, code: &DossierCode) {
        self.figures.bump(f);
        self.codes.entry(f).or_default().push(code.clone());
    }
}

fn code_suffix(key: &[u8]) -> Result<DossierCode, ProjectionError> {
    let start = key.len().saturating_sub(25);
    std::str::from_utf8(&key[start..])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            ProjectionError::Storage(format!("index key without a dossier code: {key:?}"))
        })
}

/// Every unit the dossier read model has seen.
pub fn units(dossiers: &dyn KvRead) -> Result<Vec<UnitCode>, ProjectionError> {
    let mut out = Vec::new();
    for kv in dossiers.scan_prefix(&[T_UNIT]) {
        let (k, _) = kv?;
        let unit = std::str::from_utf8(&k[1..])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ProjectionError::Storage("bad unit key".into()))?;
        out.push(unit);
    }
    Ok(out)
}

/// Candidate dossiers of one unit for the period `[s, e)` (see the module docs for the cost).
fn candidates(
    dossiers: &dyn KvRead,
    unit: &UnitCode,
    s: Timestamp,
    e: Timestamp,
    out: &mut BTreeSet<DossierCode>,
) -> Result<(), ProjectionError> {
    let mut lo = unit_prefix(T_LIST, unit);
    let mut hi = lo.clone();
    lo.extend_from_slice(&ts_be(s));
    hi.extend_from_slice(&ts_be(e));
    for kv in dossiers.range(&lo, Some(&hi), false) {
        out.insert(code_suffix(&kv?.0)?);
    }
    for kv in dossiers.scan_prefix(&week_key(unit, week_index(local_date(s)))) {
        out.insert(code_suffix(&kv?.0)?);
    }
    for kv in dossiers.scan_prefix(&unit_prefix(T_OPEN, unit)) {
        out.insert(code_suffix(&kv?.0)?);
    }
    Ok(())
}

/// The figures of the local-date period `[from, to]` under `filter`.
pub fn period_report(
    dossiers: &dyn KvRead,
    from: NaiveDate,
    to: NaiveDate,
    filter: &StatsFilter,
) -> Result<StatsReport, ProjectionError> {
    let mut report = StatsReport {
        from: Some(from),
        to: Some(to),
        filter: filter.clone(),
        ..StatsReport::default()
    };
    report.records_read = each_accepted(dossiers, from, to, filter, |r, s, e| {
        classify(r, s, e, &mut report)
    })?;
    let (s, e) = bounds(from, to);
    each_rating(dossiers, s, e, filter, false, |_, level| {
        report.satisfaction.add(level)
    })?;
    Ok(report)
}

/// Calls `f` with `[S, E)` on every record of the period's candidates that `filter` accepts
/// (the one walk of [`period_report`] and [`period_breakdown`]); returns how many records it
/// read.
fn each_accepted(
    dossiers: &dyn KvRead,
    from: NaiveDate,
    to: NaiveDate,
    filter: &StatsFilter,
    mut f: impl FnMut(&DossierRecord, Timestamp, Timestamp),
) -> Result<u64, ProjectionError> {
    let (s, e) = bounds(from, to);
    let units = match &filter.unit {
        Some(u) => vec![u.clone()],
        None => units(dossiers)?,
    };
    let mut codes = BTreeSet::new();
    for unit in &units {
        candidates(dossiers, unit, s, e, &mut codes)?;
    }
    for code in &codes {
        let Some(r) = load_record(dossiers, code)? else {
            continue;
        };
        if filter.accepts(&r) {
            f(&r, s, e);
        }
    }
    Ok(codes.len() as u64)
}

/// The instants `[S, E)` of the local-date period `[from, to]`.
fn bounds(from: NaiveDate, to: NaiveDate) -> (Timestamp, Timestamp) {
    (
        local_midnight(from),
        local_midnight(to.succ_opt().unwrap_or(to)),
    )
}

/// What [`period_breakdown`] groups a period's dossiers by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Field,
    Procedure,
    Channel,
}

impl GroupBy {
    /// The group of a record (`None`: a record without a field or a procedure, in no group,
    /// as a `field=` or `procedure=` filter excludes it).
    fn key(self, r: &DossierRecord) -> Option<String> {
        match self {
            GroupBy::Field => r.field.as_ref().map(|f| f.to_string()),
            GroupBy::Procedure => r.procedure.as_ref().map(|p| p.id.to_string()),
            GroupBy::Channel => Some(r.channel.as_str().to_owned()),
        }
    }
}

/// One group of a breakdown: its key (the field's code, the procedure's id, the channel's
/// name), what its dossiers record of it (the procedure's name and field as received; the
/// first dossier in code order names it) and its figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub key: String,
    pub procedure_name: String,
    pub field: Option<Field>,
    pub report: StatsReport,
}

/// The figures of `[from, to]` under `filter`, broken down by `by`: the candidates are read
/// once, and each accepted record is classified into its group's report, so a group's figures
/// are exactly `period_report` with the group's value added to the filter. Only groups with a
/// dossier behind some figure appear, in key order.
pub fn period_breakdown(
    dossiers: &dyn KvRead,
    from: NaiveDate,
    to: NaiveDate,
    filter: &StatsFilter,
    by: GroupBy,
) -> Result<Vec<Group>, ProjectionError> {
    let (_, mut breakdowns) = period_breakdowns(dossiers, from, to, filter, &[by])?;
    Ok(breakdowns.pop().unwrap_or_default())
}

/// The period's total (`period_report`'s figures) and one breakdown per `by`
/// (`period_breakdown`'s), from one walk of the candidates and one of the ratings: a report
/// with several breakdowns (the procedures report: fields and procedures) reads each record
/// once.
pub fn period_breakdowns(
    dossiers: &dyn KvRead,
    from: NaiveDate,
    to: NaiveDate,
    filter: &StatsFilter,
    by: &[GroupBy],
) -> Result<(StatsReport, Vec<Vec<Group>>), ProjectionError> {
    let mut total = StatsReport {
        from: Some(from),
        to: Some(to),
        filter: filter.clone(),
        ..StatsReport::default()
    };
    let mut groups: Vec<BTreeMap<String, Group>> = vec![BTreeMap::new(); by.len()];
    let new_group = |by: GroupBy, key: String, r: &DossierRecord| {
        let mut group_filter = filter.clone();
        match by {
            GroupBy::Field => group_filter.field = r.field.clone(),
            GroupBy::Procedure => {
                group_filter.procedure = r.procedure.as_ref().map(|p| p.id.clone())
            }
            GroupBy::Channel => group_filter.channel = Some(r.channel),
        }
        Group {
            key,
            procedure_name: r.procedure_name.clone(),
            field: r.field.clone(),
            report: StatsReport {
                from: Some(from),
                to: Some(to),
                filter: group_filter,
                ..StatsReport::default()
            },
        }
    };
    total.records_read = each_accepted(dossiers, from, to, filter, |r, s, e| {
        classify(r, s, e, &mut total);
        for (by, groups) in by.iter().zip(groups.iter_mut()) {
            let Some(key) = by.key(r) else {
                continue;
            };
            let group = groups
                .entry(key.clone())
                .or_insert_with(|| new_group(*by, key, r));
            group.report.records_read += 1;
            classify(r, s, e, &mut group.report);
        }
    })?;
    // A group's ratings are those `period_report` counts with its value in the filter.
    let (s, e) = bounds(from, to);
    each_rating(dossiers, s, e, filter, !by.is_empty(), |r, level| {
        total.satisfaction.add(level);
        let Some(r) = r else {
            return;
        };
        for (by, groups) in by.iter().zip(groups.iter_mut()) {
            let Some(key) = by.key(r) else {
                continue;
            };
            groups
                .entry(key.clone())
                .or_insert_with(|| new_group(*by, key, r))
                .report
                .satisfaction
                .add(level);
        }
    })?;
    let breakdowns = groups
        .into_iter()
        .map(|g| {
            g.into_values()
                .filter(|g| !g.report.codes.is_empty() || g.report.satisfaction.ratings > 0)
                .collect()
        })
        .collect();
    Ok((total, breakdowns))
}

fn within(t: Option<Timestamp>, s: Timestamp, e: Timestamp) -> bool {
    t.is_some_and(|t| s <= t && t < e)
}

/// Whether the dossier was received in `[s, e)` (the `received` figure).
fn received_in(r: &DossierRecord, s: Timestamp, e: Timestamp) -> bool {
    within(r.received_at, s, e)
}

/// The codes behind the `received` figure of `[from, to]` under `filter`, in the report's
/// order, without the rest of the report (no other figure, no rating read): the register's
/// rows.
pub fn received_codes(
    dossiers: &dyn KvRead,
    from: NaiveDate,
    to: NaiveDate,
    filter: &StatsFilter,
) -> Result<Vec<DossierCode>, ProjectionError> {
    let mut codes = Vec::new();
    each_accepted(dossiers, from, to, filter, |r, s, e| {
        if received_in(r, s, e) {
            codes.push(r.code.clone());
        }
    })?;
    Ok(codes)
}

/// Adds one dossier to the figures it belongs to in `[s, e)`.
fn classify(r: &DossierRecord, s: Timestamp, e: Timestamp, rep: &mut StatsReport) {
    let Some(received) = r.received_at else {
        return;
    };
    let code = &r.code;
    if r.open_at(s) {
        rep.add(Figure::CarriedOver, code);
    }
    if received_in(r, s, e) {
        rep.add(Figure::Received, code);
        if r.channel == Channel::Online {
            rep.add(Figure::ReceivedOnline, code);
        }
    }
    if let Some(kind) = r.finish {
        if within(r.finished_at, s, e) {
            match kind {
                FinishKind::Approved | FinishKind::Rejected => {
                    rep.add(Figure::Resolved, code);
                    match r.verdict {
                        Some(Verdict::Early) => rep.add(Figure::ResolvedEarly, code),
                        Some(Verdict::OnTime) => rep.add(Figure::ResolvedOnTime, code),
                        Some(Verdict::Late) | None => rep.add(Figure::ResolvedLate, code),
                    }
                }
                FinishKind::Withdrawn => rep.add(Figure::Withdrawn, code),
                FinishKind::Stopped => {
                    rep.add(Figure::Stopped, code);
                    rep.add(Figure::Paused, code);
                }
                FinishKind::Refused => {}
            }
        }
    }
    // Open at the period's end: received before E and not finished before E.
    let open_at_end = received < e && r.finished_at.is_none_or(|f| f >= e);
    if open_at_end {
        let last = Timestamp(e.0 - 1);
        rep.add(Figure::InProgress, code);
        let paused = r.state_at(last).is_some_and(|st| st.is_paused());
        let overdue = if paused {
            r.pause_started_overdue(last)
        } else {
            r.due_at(last).is_some_and(|d| d < e)
        };
        if overdue {
            rep.add(Figure::InProgressOverdue, code);
        } else {
            rep.add(Figure::InProgressWithinTime, code);
        }
        if paused {
            rep.add(Figure::Paused, code);
        }
    }
    for sup in &r.supplements {
        if within(Some(sup.requested_at), s, e) {
            rep.add(Figure::SupplementsRequested, code);
        }
    }
    for ap in &r.apologies {
        if within(Some(ap.at), s, e) {
            rep.add(Figure::ApologiesIssued, code);
        }
    }
}
