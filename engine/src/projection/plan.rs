//! Derived plan indicators computed from the read models: the [`DerivedFigures`] of the plan
//! domain, over the same statistics and catalog queries the desk reports use, so a plan's
//! "on-time rate" is the statistics page's figure and never a number typed in.
//!
//! Each value names its figure with the parameters (unit, period, procedure), the figures it was
//! computed from (`parts`), the dossiers behind it (`codes`) and the log seq range of the events
//! that produced it: for dossier figures from the first event of the earliest contributing
//! dossier to the last event folded of any of them; for catalog figures from the first to the
//! last catalog/unit event folded. With those an auditor re-derives the value from the archive.
//!
//! Definitions (docs/domain/plans.md and statistics.md; the period is the plan's year from 1 Jan
//! to the local date of "as of", capped at 31 Dec):
//! - published at the desk / online share: the catalog view of the plan's unit on the local
//!   date of "as of" (procedures in force in the unit's fields), basis points;
//! - on-time share: (resolved early + on time) / resolved, the unit, all channels;
//! - online share of received: received online / received, the unit;
//! - electronic copy certifications resolved: the unit's resolved dossiers of that procedure;
//! - average processing minutes: the statistics do not carry durations, so it is computed from
//!   the dossier records of the same resolved dossiers: office minutes from receipt to
//!   resolution on the unit's office calendar, minus the office minutes spent paused (awaiting
//!   supplement or payment), averaged (rounded down).
//!
//! Shares round down, so a rate is never shown as meeting a target it misses. A share of zero
//! dossiers has no value (`Ok(None)`).
//!
//! "As of T": [`models_as_of`] folds the log up to T with [`fold_as_of`] (dossier events by
//! business time; reference events by their own effective dates, see there) and the office
//! calendar alongside; the same [`ReadModelFigures`] code then answers over those in-memory
//! read models, so a live answer and an as-of answer for the same moment are equal.
//!
//! The as-of path is a pure fold over envelopes in seq order ([`models_as_of_envelopes`],
//! [`dashboard_as_of_envelopes`]): the server feeds it its log's scan, `motcua-replay plan`
//! feeds it an archive or a copied data directory, and both get the same dashboard. The seq
//! ranges of the figures come from a [`StreamSeqs`]: the live log, or the [`StreamIndex`]
//! built during that same fold.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::domain::calendar::Calendar;
use crate::domain::events::{Event, Recorded};
use crate::domain::plan::{
    fold_plan, plan_progress, DerivedFigures, DerivedIndicator, DerivedValue, PlanProgress,
    PlanState,
};
use crate::domain::types::{DossierCode, PlanId, ProcedureId, Timestamp, UnitCode};
use crate::log::{Envelope, EventLog, StreamId};

use super::keys::local_date;
use super::runner::{decode_envelope, fold_as_of};
use super::stats::{Figure, StatsFilter, StatsReport};
use super::views::ReadModels;
use super::ProjectionError;

/// Which part of the log the read models hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cutoff {
    /// Live read models that folded the log up to `upto_seq`.
    Live { upto_seq: u64 },
    /// An as-of fold at `t` whose highest folded seq is `upto_seq`.
    AsOf { t: Timestamp, upto_seq: u64 },
}

impl Cutoff {
    fn upto_seq(self) -> u64 {
        match self {
            Cutoff::Live { upto_seq } | Cutoff::AsOf { upto_seq, .. } => upto_seq,
        }
    }
}

/// The seqs of one stream's events, for the event ranges the figures name.
pub trait StreamSeqs {
    /// The seqs of `stream`'s events in order (empty for an unknown stream).
    fn stream_seqs(&self, stream: &StreamId) -> Result<Vec<u64>, String>;
}

impl StreamSeqs for EventLog {
    fn stream_seqs(&self, stream: &StreamId) -> Result<Vec<u64>, String> {
        Ok(self
            .read_stream(stream, 0)
            .map_err(err)?
            .iter()
            .map(|e| e.seq)
            .collect())
    }
}

/// Every stream's seqs, gathered while folding envelopes (the [`StreamSeqs`] of a log that is
/// not open as an [`EventLog`], e.g. an archive). Holds every envelope of the fold's input,
/// whatever the as-of filter kept: the log's `read_stream` does the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamIndex {
    streams: BTreeMap<String, Vec<u64>>,
}

impl StreamIndex {
    pub fn push(&mut self, stream: &StreamId, seq: u64) {
        match self.streams.get_mut(stream.as_str()) {
            Some(seqs) => seqs.push(seq),
            None => {
                self.streams.insert(stream.as_str().to_owned(), vec![seq]);
            }
        }
    }
}

impl StreamSeqs for StreamIndex {
    fn stream_seqs(&self, stream: &StreamId) -> Result<Vec<u64>, String> {
        Ok(self
            .streams
            .get(stream.as_str())
            .cloned()
            .unwrap_or_default())
    }
}

/// Derived figures over read models (live or as of T).
pub struct ReadModelFigures<'a> {
    models: &'a ReadModels,
    calendar: &'a Calendar,
    seqs: &'a dyn StreamSeqs,
    cutoff: Cutoff,
}

impl std::fmt::Debug for ReadModelFigures<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadModelFigures")
            .field("cutoff", &self.cutoff)
            .finish()
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// `num / den` in basis points, rounded down (None for a share of nothing).
fn share_bp(num: u64, den: u64) -> Option<i64> {
    (den > 0).then(|| (u128::from(num) * 10_000 / u128::from(den)) as i64)
}

impl<'a> ReadModelFigures<'a> {
    /// `seqs` resolves the seq ranges (the log, or a [`StreamIndex`]); `calendar` is the office
    /// calendar for durations.
    pub fn new(
        models: &'a ReadModels,
        calendar: &'a Calendar,
        seqs: &'a dyn StreamSeqs,
        cutoff: Cutoff,
    ) -> ReadModelFigures<'a> {
        ReadModelFigures {
            models,
            calendar,
            seqs,
            cutoff,
        }
    }

    /// The plan-year period up to `as_of`'s local date (None before the year begins).
    fn period(plan: &PlanState, as_of: Timestamp) -> Option<(NaiveDate, NaiveDate)> {
        let from = NaiveDate::from_ymd_opt(plan.year, 1, 1)?;
        let end = NaiveDate::from_ymd_opt(plan.year, 12, 31)?;
        let to = local_date(as_of).min(end);
        (to >= from).then_some((from, to))
    }

    fn stats(
        &self,
        unit: &UnitCode,
        (from, to): (NaiveDate, NaiveDate),
        procedure: Option<&ProcedureId>,
    ) -> Result<StatsReport, String> {
        self.models
            .stats(
                from,
                to,
                &StatsFilter {
                    unit: Some(unit.clone()),
                    procedure: procedure.cloned(),
                    ..StatsFilter::default()
                },
            )
            .map_err(err)
    }

    /// (first seq of the earliest of `codes`, last seq folded of any of them).
    fn dossier_range(&self, codes: &[DossierCode]) -> Result<(u64, u64), String> {
        let mut lo = u64::MAX;
        let mut hi = 0;
        for code in codes {
            if let Some(r) = self.models.record(code).map_err(err)? {
                hi = hi.max(r.last_seq);
            }
            if let Some(first) = self.seqs.stream_seqs(&StreamId::dossier(code))?.first() {
                lo = lo.min(*first);
            }
        }
        Ok(if hi == 0 { (0, 0) } else { (lo.min(hi), hi) })
    }

    /// (first, last) seq of the catalog and unit events the read models folded.
    fn catalog_range(&self, unit: &UnitCode) -> Result<(u64, u64), String> {
        let mut lo = u64::MAX;
        let mut hi = 0;
        for stream in [StreamId::catalog(), StreamId::unit(unit)] {
            for seq in self.seqs.stream_seqs(&stream)? {
                // Both backends fold every reference event up to their seq (see
                // [`models_as_of`]).
                if seq <= self.cutoff.upto_seq() {
                    lo = lo.min(seq);
                    hi = hi.max(seq);
                }
            }
        }
        Ok(if hi == 0 { (0, 0) } else { (lo, hi) })
    }

    fn catalog_share(
        &self,
        plan: &PlanState,
        as_of: Timestamp,
        online: bool,
    ) -> Result<Option<DerivedValue>, String> {
        let date = local_date(as_of);
        let Some(view) = self.models.catalog(&plan.unit, date).map_err(err)? else {
            return Ok(None);
        };
        let (published, what) = if online {
            (view.published_online, "published_online")
        } else {
            (view.published_at_desk, "published_at_desk")
        };
        let Some(value) = share_bp(u64::from(published), u64::from(view.procedures)) else {
            return Ok(None);
        };
        Ok(Some(DerivedValue {
            value,
            figure: format!("catalog.{what}_share unit={} date={date}", plan.unit),
            seq_range: self.catalog_range(&plan.unit)?,
            parts: vec![
                ("procedures".into(), i64::from(view.procedures)),
                (what.into(), i64::from(published)),
            ],
            codes: Vec::new(),
        }))
    }

    fn dossier_value(
        &self,
        figure: String,
        value: i64,
        parts: Vec<(String, i64)>,
        codes: Vec<DossierCode>,
    ) -> Result<Option<DerivedValue>, String> {
        Ok(Some(DerivedValue {
            value,
            figure,
            seq_range: self.dossier_range(&codes)?,
            parts,
            codes,
        }))
    }

    fn average_minutes(
        &self,
        plan: &PlanState,
        period: (NaiveDate, NaiveDate),
        procedure: &ProcedureId,
    ) -> Result<Option<DerivedValue>, String> {
        let report = self.stats(&plan.unit, period, Some(procedure))?;
        let codes = report.codes(Figure::Resolved).to_vec();
        let cal = self.calendar.unit(&plan.unit);
        let mut total: u64 = 0;
        let mut counted: u64 = 0;
        for code in &codes {
            let Some(r) = self.models.record(code).map_err(err)? else {
                continue;
            };
            let (Some(received), Some(resolved)) = (r.received_at, r.resolved_at) else {
                continue;
            };
            let minutes = cal
                .office_minutes_between(received, resolved)
                .saturating_sub(r.paused_office_minutes);
            total += u64::from(minutes);
            counted += 1;
        }
        if counted == 0 {
            return Ok(None);
        }
        self.dossier_value(
            format!(
                "records.average_processing_office_minutes unit={} procedure={procedure} from={} to={}",
                plan.unit, period.0, period.1
            ),
            (total / counted) as i64,
            vec![
                ("resolved".into(), counted as i64),
                ("total_office_minutes".into(), total as i64),
            ],
            codes,
        )
    }
}

impl DerivedFigures for ReadModelFigures<'_> {
    fn value(
        &self,
        plan: &PlanState,
        indicator: &DerivedIndicator,
        as_of: Timestamp,
    ) -> Result<Option<DerivedValue>, String> {
        match indicator {
            DerivedIndicator::PublishedAtDeskShare => {
                return self.catalog_share(plan, as_of, false)
            }
            DerivedIndicator::PublishedOnlineShare => return self.catalog_share(plan, as_of, true),
            _ => {}
        }
        let Some(period) = Self::period(plan, as_of) else {
            return Ok(None);
        };
        let (from, to) = period;
        let unit = &plan.unit;
        match indicator {
            DerivedIndicator::PublishedAtDeskShare | DerivedIndicator::PublishedOnlineShare => {
                Ok(None)
            }
            DerivedIndicator::OnTimeShare => {
                let r = self.stats(unit, period, None)?;
                let f = &r.figures;
                let Some(value) = share_bp(f.resolved_early + f.resolved_on_time, f.resolved)
                else {
                    return Ok(None);
                };
                self.dossier_value(
                    format!("stats.on_time_share unit={unit} from={from} to={to}"),
                    value,
                    vec![
                        ("resolved".into(), f.resolved as i64),
                        ("resolved_early".into(), f.resolved_early as i64),
                        ("resolved_on_time".into(), f.resolved_on_time as i64),
                        ("resolved_late".into(), f.resolved_late as i64),
                    ],
                    r.codes(Figure::Resolved).to_vec(),
                )
            }
            DerivedIndicator::OnlineShareOfReceived => {
                let r = self.stats(unit, period, None)?;
                let f = &r.figures;
                let Some(value) = share_bp(f.received_online, f.received) else {
                    return Ok(None);
                };
                self.dossier_value(
                    format!("stats.online_share_of_received unit={unit} from={from} to={to}"),
                    value,
                    vec![
                        ("received".into(), f.received as i64),
                        ("received_online".into(), f.received_online as i64),
                    ],
                    r.codes(Figure::Received).to_vec(),
                )
            }
            DerivedIndicator::ElectronicCopyCertificationsResolved { procedure } => {
                let r = self.stats(unit, period, Some(procedure))?;
                self.dossier_value(
                    format!("stats.resolved unit={unit} procedure={procedure} from={from} to={to}"),
                    r.figures.resolved as i64,
                    vec![("resolved".into(), r.figures.resolved as i64)],
                    r.codes(Figure::Resolved).to_vec(),
                )
            }
            DerivedIndicator::AverageProcessingMinutes { procedure } => {
                self.average_minutes(plan, period, procedure)
            }
        }
    }
}

/// Read models and the office calendar folded from the log up to `t`.
pub struct ModelsAsOf {
    pub t: Timestamp,
    pub models: ReadModels,
    pub calendar: Calendar,
    /// Highest seq folded.
    pub upto_seq: u64,
    /// Events folded.
    pub events: u64,
    /// The seqs of every stream of the input (for the figures' event ranges).
    pub streams: StreamIndex,
}

impl std::fmt::Debug for ModelsAsOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelsAsOf")
            .field("t", &self.t)
            .field("upto_seq", &self.upto_seq)
            .field("events", &self.events)
            .finish()
    }
}

impl ModelsAsOf {
    /// The derived figures over these read models.
    pub fn figures(&self) -> ReadModelFigures<'_> {
        ReadModelFigures::new(
            &self.models,
            &self.calendar,
            &self.streams,
            Cutoff::AsOf {
                t: self.t,
                upto_seq: self.upto_seq,
            },
        )
    }
}

/// Folds the log as of `t`: dossier events whose business time is at or before `t` (as
/// [`fold_as_of`] does), and every reference event (units, staff, catalog, calendar) the log
/// holds, whatever its recording time. Reference data carries its own effective dates, which
/// the catalog and calendar queries apply for the date asked; its recording time is only when
/// an operator typed it in (the demo commune's 2022 catalog is recorded at its first start,
/// years after the 2023 history it governs), so filtering it by recording time would answer
/// "as of 2023" with an empty catalog. Plan events feed no read model.
pub fn models_as_of(log: &EventLog, t: Timestamp) -> Result<ModelsAsOf, ProjectionError> {
    models_as_of_envelopes(
        log.scan(0)
            .map(|env| env.map_err(|e| ProjectionError::Log(e.to_string()))),
        t,
    )
}

/// [`models_as_of`] over any sequence of envelopes in seq order (a log's scan, an archive).
pub fn models_as_of_envelopes(
    envelopes: impl Iterator<Item = Result<Envelope, ProjectionError>>,
    t: Timestamp,
) -> Result<ModelsAsOf, ProjectionError> {
    let mut calendar = Calendar::new();
    let mut streams = StreamIndex::default();
    let mut upto_seq = 0;
    let events = envelopes
        .map(|env| {
            let env = env?;
            streams.push(&env.stream, env.seq);
            decode_envelope(&env)
        })
        .filter(|rec| match rec {
            Ok(rec) => match &rec.event {
                Event::Dossier(d) => d.at <= t,
                Event::Plan(_) => false,
                _ => true,
            },
            // Errors go through to the fold, which reports them.
            Err(_) => true,
        })
        .inspect(|rec| {
            if let Ok(rec) = rec {
                upto_seq = upto_seq.max(rec.seq);
                if let Event::Calendar(c) = &rec.event {
                    calendar.apply(c);
                }
            }
        });
    // Everything is already filtered: the fold's own time filter must let all of it through.
    let asof = fold_as_of(events, Timestamp(i64::MAX))?;
    let events = asof.events;
    Ok(ModelsAsOf {
        t,
        models: asof.read_models(),
        calendar,
        upto_seq,
        events,
        streams,
    })
}

/// A plan's dashboard as of `t`, folded from a whole log, and what it was folded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanDashboardAsOf {
    /// None if the plan was not issued by `t`.
    pub progress: Option<PlanProgress>,
    /// Every event of the plan's stream, in seq order, whatever its business time (the
    /// dashboard counts those dated at or before `t`).
    pub plan_events: Vec<(Envelope, Recorded)>,
    /// Highest seq folded into the read models.
    pub upto_seq: u64,
    /// Events folded into the read models.
    pub events: u64,
}

/// The dashboard of `plan` as of `t` from the envelopes of a whole log in seq order, in one
/// pass: the plan's stream folded by business time up to `t` ([`fold_plan`]), its derived
/// indicators over the read models folded as of `t` ([`models_as_of_envelopes`]). What
/// `PlanService::dashboard_as_of` answers, and what `motcua-replay plan` prints.
pub fn dashboard_as_of_envelopes(
    envelopes: impl Iterator<Item = Result<Envelope, ProjectionError>>,
    plan: &PlanId,
    t: Timestamp,
) -> Result<PlanDashboardAsOf, ProjectionError> {
    let stream = StreamId::plan(plan);
    let mut plan_envs: Vec<Envelope> = Vec::new();
    let asof = models_as_of_envelopes(
        envelopes.inspect(|env| {
            if let Ok(env) = env {
                if env.stream == stream {
                    plan_envs.push(env.clone());
                }
            }
        }),
        t,
    )?;
    let mut plan_events = Vec::with_capacity(plan_envs.len());
    for env in plan_envs {
        let rec = decode_envelope(&env)?;
        plan_events.push((env, rec));
    }
    let plans = fold_plan(
        plan_events.iter().filter_map(|(_, r)| match &r.event {
            Event::Plan(p) => Some((r.seq, r.actor.as_str(), p)),
            _ => None,
        }),
        Some(t),
    );
    let figures = asof.figures();
    let progress = plans.plans.get(plan).map(|p| plan_progress(p, t, &figures));
    Ok(PlanDashboardAsOf {
        progress,
        plan_events,
        upto_seq: asof.upto_seq,
        events: asof.events,
    })
}
