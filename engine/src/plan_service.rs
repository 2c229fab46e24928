//! Reform-plan commands and queries over the log: the plan counterpart of
//! [`CommandService`](crate::service::CommandService).
//!
//! A write ([`PlanService::execute`]) asks the domain who may write
//! ([`authorize_planner`], [`business_time`]), loads the `plan/<id>` stream, folds it into
//! [`Plans`], lets the pure [`decide_plan`] decide the event (the planner's unit, then
//! [`Plans::check`]), and appends it with `ExpectedVersion::Exact(version)`. A caller's
//! `If-Match` version that is not the stream's is refused as stale (with the current version);
//! without one, a version conflict (another planner wrote in between) is re-decided on a fresh
//! load a bounded number of times ([`crate::retry`]). A refused command writes nothing. A key
//! makes a retry idempotent ([`crate::idempotency`]): if the stream already holds the key's
//! event id, the first outcome is reported again and nothing is written. Who may write and why
//! is documented with the decisions (`domain/plan/decide.rs`).
//!
//! Reads. Plan streams are short (a plan has tens of tasks and a few reports each), so a plan
//! is folded from its stream on demand, which also gives exact "as of T" answers by business
//! time ([`fold_plan`]). To list plans without scanning the log on every request, the service
//! keeps a small index (plan ids, plus the office calendar the derived figures need), caught up
//! from the last seq it saw before each use, like the command service's reference data.

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::calendar::Calendar;
use crate::domain::dossier::ActorRef;
use crate::domain::events::{Event, Recorded};
use crate::domain::plan::{
    authorize_planner, business_time, decide_plan, fold_plan, plan_progress, DerivedFigures,
    PlanEvent, PlanProgress, PlanRefusal, PlanState, Plans,
};
use crate::domain::types::{PlanId, Role, Staff, Timestamp, UnitCode};
use crate::idempotency::CommandKey;
use crate::log::{Actor, AppendError, Envelope, EventLog, ExpectedVersion, LogError, StreamId};
use crate::projection::plan::{dashboard_as_of_envelopes, Cutoff, ReadModelFigures};
use crate::projection::{ProjectionError, ReadModels};
use crate::recorded::{decode_event, decode_recorded, encode_events, DecodeError};
use crate::retry::{retry_on_conflict, Attempt, Contended};

/// Events one catch-up read fetches at a time.
const CATCH_UP_CHUNK: usize = 1024;

/// Plan commands are the domain's; re-exported here, where [`PlanService::execute`] takes them.
pub use crate::domain::plan::PlanCommand;

/// The optional parts of a write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOptions<'a> {
    /// Business time of the event (default: `now`). A report may be recorded after the fact
    /// (the demo records 2023's reports), never in the future, and never before the task's
    /// previous event.
    pub at: Option<Timestamp>,
    /// The caller's `If-Match`: the plan stream's version it last saw (0 = no plan yet).
    pub expected: Option<u64>,
    /// Idempotency: the same key twice records the event once ([`crate::idempotency`]).
    pub key: Option<&'a CommandKey>,
}

/// Why a plan command or query failed. Every refusal happens before the append.
#[derive(Debug, Error)]
pub enum PlanServiceError {
    /// The plan domain refused it (role, unit, business time, a plan rule), or the plan does
    /// not exist.
    #[error(transparent)]
    Refused(#[from] PlanRefusal),
    /// The caller's expected version (If-Match) is not the plan stream's.
    #[error("stale version: the plan is at version {current}")]
    StaleVersion { current: u64 },
    /// Conflicts persisted through every retry.
    #[error(transparent)]
    Contended(#[from] Contended),
    #[error("event id already used for another event")]
    DuplicateEventId,
    #[error("append: {0}")]
    Append(AppendError),
    #[error("log: {0}")]
    Log(#[from] LogError),
    /// A stored event the domain cannot read.
    #[error("stored event unreadable: {0}")]
    Corrupt(#[from] DecodeError),
    #[error("read models: {0}")]
    Projection(#[from] ProjectionError),
}

impl PlanServiceError {
    /// "No such plan".
    fn not_found(plan: &PlanId) -> PlanServiceError {
        PlanServiceError::Refused(PlanRefusal::NotFound(plan.clone()))
    }
}

/// What a successful write did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOutcome {
    pub plan: PlanId,
    /// The plan stream's version after the write (the next If-Match).
    pub version: u64,
    /// Global seq of the event.
    pub seq: u64,
    pub event: PlanEvent,
    /// True when the event id had been recorded before: nothing new was written.
    pub deduplicated: bool,
}

/// A plan with its stream version and recorded events.
#[derive(Debug, Clone)]
pub struct LoadedPlan {
    pub state: PlanState,
    pub version: u64,
    pub events: Vec<Recorded>,
}

/// One line of the plan list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    pub plan: PlanId,
    pub number: String,
    pub date: NaiveDate,
    pub unit: UnitCode,
    pub year: i32,
    pub title: String,
    pub tasks: usize,
    pub version: u64,
}

struct Index {
    /// Last global seq looked at.
    seq: u64,
    plans: BTreeSet<PlanId>,
    calendar: Calendar,
}

/// The plan service. Share it behind an `Arc`.
pub struct PlanService {
    log: EventLog,
    index: Mutex<Index>,
}

impl std::fmt::Debug for PlanService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanService")
            .field("log", &self.log)
            .finish()
    }
}

fn plan_events(recs: &[Recorded]) -> impl Iterator<Item = (u64, &str, &PlanEvent)> {
    recs.iter().filter_map(|r| match &r.event {
        Event::Plan(p) => Some((r.seq, r.actor.as_str(), p)),
        _ => None,
    })
}

impl PlanService {
    pub fn new(log: EventLog) -> PlanService {
        PlanService {
            log,
            index: Mutex::new(Index {
                seq: 0,
                plans: BTreeSet::new(),
                calendar: Calendar::new(),
            }),
        }
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Brings the plan index and calendar up to the log's head; returns the seq reached.
    pub fn catch_up(&self) -> Result<u64, PlanServiceError> {
        let mut idx = self.index.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let batch = self.log.read_all(idx.seq, CATCH_UP_CHUNK)?;
            let Some(last) = batch.last().map(|e| e.seq) else {
                break;
            };
            for env in &batch {
                if env.stream.is_calendar() {
                    if let Event::Calendar(c) = decode_event(env)? {
                        idx.calendar.apply(&c);
                    }
                } else if let Some(id) = env.stream.plan_id().filter(|_| env.version == 1) {
                    idx.plans.insert(id);
                }
            }
            idx.seq = last;
        }
        Ok(idx.seq)
    }

    /// The office calendar as of the last catch-up (for average processing times).
    pub fn calendar(&self) -> Result<Calendar, PlanServiceError> {
        self.catch_up()?;
        Ok(self
            .index
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .calendar
            .clone())
    }

    fn read(&self, plan: &PlanId) -> Result<(Vec<Envelope>, Vec<Recorded>), PlanServiceError> {
        let envs = self.log.read_stream(&StreamId::plan(plan), 0)?;
        let recs = envs
            .iter()
            .map(decode_recorded)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((envs, recs))
    }

    /// The plan as it stands now, with its version and events (`NotFound` if not issued).
    pub fn load(&self, plan: &PlanId) -> Result<LoadedPlan, PlanServiceError> {
        let (envs, events) = self.read(plan)?;
        let version = envs.last().map_or(0, |e| e.version);
        let mut plans = fold_plan(plan_events(&events), None);
        let state = plans
            .plans
            .remove(plan)
            .ok_or_else(|| PlanServiceError::not_found(plan))?;
        Ok(LoadedPlan {
            state,
            version,
            events,
        })
    }

    /// The plan as it stood at business time `as_of` (None if not issued by then).
    pub fn plan_as_of(
        &self,
        plan: &PlanId,
        as_of: Timestamp,
    ) -> Result<Option<PlanState>, PlanServiceError> {
        let (_, events) = self.read(plan)?;
        Ok(fold_plan(plan_events(&events), Some(as_of))
            .plans
            .remove(plan))
    }

    /// Every plan, by id.
    pub fn list(&self) -> Result<Vec<PlanSummary>, PlanServiceError> {
        self.catch_up()?;
        let ids: Vec<PlanId> = self
            .index
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .plans
            .iter()
            .cloned()
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let p = match self.load(&id) {
                Ok(p) => p,
                // A stream whose first event is not a valid issue holds no plan.
                Err(PlanServiceError::Refused(PlanRefusal::NotFound(_))) => continue,
                Err(e) => return Err(e),
            };
            out.push(PlanSummary {
                plan: id,
                number: p.state.number,
                date: p.state.date,
                unit: p.state.unit,
                year: p.state.year,
                title: p.state.title,
                tasks: p.state.tasks.len(),
                version: p.version,
            });
        }
        Ok(out)
    }

    /// The dashboard of `plan` at `as_of` with the given derived figures (None if the plan was
    /// not issued by then).
    pub fn dashboard_with(
        &self,
        plan: &PlanId,
        as_of: Timestamp,
        figures: &dyn DerivedFigures,
    ) -> Result<Option<PlanProgress>, PlanServiceError> {
        Ok(self
            .plan_as_of(plan, as_of)?
            .map(|p| plan_progress(&p, as_of, figures)))
    }

    /// The dashboard now, over the live read models folded up to `models_seq` (the projections'
    /// applied seq: the upper end of every derived figure's event range).
    pub fn dashboard_live(
        &self,
        plan: &PlanId,
        now: Timestamp,
        models: &ReadModels,
        models_seq: u64,
    ) -> Result<Option<PlanProgress>, PlanServiceError> {
        let calendar = self.calendar()?;
        let figures = ReadModelFigures::new(
            models,
            &calendar,
            &self.log,
            Cutoff::Live {
                upto_seq: models_seq,
            },
        );
        self.dashboard_with(plan, now, &figures)
    }

    /// The dashboard as of `t`: the read models and the calendar are folded from the log up to
    /// `t` (the same fold and queries as the live ones), the plan by business time up to `t`.
    /// The fold is [`dashboard_as_of_envelopes`] over the log's scan: `motcua-replay plan` runs
    /// the same function over an archive.
    pub fn dashboard_as_of(
        &self,
        plan: &PlanId,
        t: Timestamp,
    ) -> Result<Option<PlanProgress>, PlanServiceError> {
        // A plan not issued by `t` needs no scan of the whole log.
        if self.plan_as_of(plan, t)?.is_none() {
            return Ok(None);
        }
        let envelopes = self
            .log
            .scan(0)
            .map(|env| env.map_err(|e| ProjectionError::Log(e.to_string())));
        Ok(dashboard_as_of_envelopes(envelopes, plan, t)?.progress)
    }

    /// Records one plan command. See the module docs for the rules.
    pub async fn execute(
        &self,
        plan: &PlanId,
        cmd: PlanCommand,
        actor: &ActorRef,
        now: Timestamp,
        opts: WriteOptions<'_>,
    ) -> Result<PlanOutcome, PlanServiceError> {
        let staff = authorize_planner(actor, cmd.action())?;
        let at = business_time(opts.at, now)?;
        let stream = StreamId::plan(plan);
        let envelope_actor = Actor {
            staff: actor.id(),
            role: Role::Planner.as_str().to_owned(),
        };
        let call = PlanCall {
            plan,
            cmd: &cmd,
            staff,
            envelope_actor: &envelope_actor,
            at,
            opts,
        };
        retry_on_conflict(stream.as_str(), (), |()| self.attempt(&stream, call)).await
    }

    /// One attempt: read the plan, answer a recorded retry from the log, decide, append at the
    /// version read.
    async fn attempt(
        &self,
        stream: &StreamId,
        call: PlanCall<'_>,
    ) -> Result<Attempt<PlanOutcome>, PlanServiceError> {
        let PlanCall {
            plan, cmd, opts, ..
        } = call;
        let (envs, events) = self.read(plan)?;
        let version = envs.last().map_or(0, |e| e.version);
        // A retried command whose event is already recorded: report it again.
        if let Some(key) = opts.key {
            let id = key.event_id(0);
            if let Some((env, rec)) = envs.iter().zip(&events).find(|(env, _)| env.event_id == id) {
                // Another request sent with this key (its stored answer lost): refused as
                // the stored answer would be.
                if !key.same_request(env.causation_id) {
                    return Err(PlanServiceError::DuplicateEventId);
                }
                if let Event::Plan(ev) = &rec.event {
                    // The first answer's version: the plan may have moved on since.
                    return Ok(Attempt::Done(PlanOutcome {
                        plan: plan.clone(),
                        version: env.version,
                        seq: env.seq,
                        event: ev.clone(),
                        deduplicated: true,
                    }));
                }
            }
        }
        if let Some(e) = opts.expected {
            if e != version {
                return Err(PlanServiceError::StaleVersion { current: version });
            }
        }
        let plans: Plans = fold_plan(plan_events(&events), None);
        let event = decide_plan(&plans, plan, cmd, call.staff, call.at)?;
        let new = encode_events(&[Event::Plan(event.clone())], call.envelope_actor, opts.key);
        match self
            .log
            .append(stream, ExpectedVersion::Exact(version), new)
            .await
        {
            Ok(app) => Ok(Attempt::Done(PlanOutcome {
                plan: plan.clone(),
                version: app.last_version,
                seq: app.last_seq,
                event,
                deduplicated: app.deduplicated,
            })),
            Err(AppendError::WrongExpectedVersion { actual, .. }) => match opts.expected {
                Some(_) => Err(PlanServiceError::StaleVersion { current: actual }),
                // Another planner wrote in between: decide again on the fresh plan.
                None => Ok(Attempt::Conflict(())),
            },
            Err(AppendError::IdempotencyConflict { .. }) => Err(PlanServiceError::DuplicateEventId),
            Err(e) => Err(PlanServiceError::Append(e)),
        }
    }
}

/// The parts of a plan command every attempt needs.
#[derive(Clone, Copy)]
struct PlanCall<'a> {
    plan: &'a PlanId,
    cmd: &'a PlanCommand,
    staff: &'a Staff,
    envelope_actor: &'a Actor,
    /// Business time of the event.
    at: Timestamp,
    opts: WriteOptions<'a>,
}
