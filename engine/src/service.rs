//! Command service: load a stream, decide, append with an exact expected version, retry on
//! conflict.
//!
//! [`CommandService`] glues the pure domain to the log. It keeps the reference data (catalog,
//! calendar, units, staff) in memory by folding the reference streams, catching up from the
//! last seq it saw before every command, so a decision always sees every reference event
//! committed before it started. A refused command writes nothing; a caller-given stale
//! version is refused; without one, a version conflict (someone else wrote the dossier in
//! between) is retried from a fresh load a bounded number of times.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use thiserror::Error;

use crate::codec::{self, CodecError};
use crate::domain::calendar::local_date;
use crate::domain::dossier::{decide_with_role, fold, ActorRef, Command, Context, DossierState};
use crate::domain::error::DomainError;
use crate::domain::events::{DossierEvent, Event, Recorded, SCHEMA_VERSION};
use crate::domain::reference::{decide_reference, ReferenceData, ReferenceStream};
use crate::domain::types::{DossierCode, Role, Timestamp, UnitCode};
use crate::log::{
    Actor, AppendError, Envelope, EventId, EventLog, ExpectedVersion, LogError, NewEvent, StreamId,
};

/// How many times a command is re-decided after a version conflict when the caller gave no
/// expected version. Conflicts on one dossier are rare (a few staff act on it); eight fresh
/// attempts in a row losing means something is hammering the stream.
pub const MAX_CONFLICT_RETRIES: usize = 8;

/// How many events of the log one catch-up read fetches at a time.
const CATCH_UP_CHUNK: usize = 1024;

/// Why a command did not produce events.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// The domain refused it (state, roles, scope, validation).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The caller's expected version (If-Match) is not the dossier's.
    #[error("stale version: the dossier is at version {current}")]
    StaleVersion { current: u64 },
    #[error("no dossier {0}")]
    NotFound(DossierCode),
    /// Conflicts persisted through every retry.
    #[error("the stream {stream} kept changing: gave up after {attempts} attempts")]
    Contended { stream: String, attempts: usize },
    #[error("the daily sequence of {unit} on {date} is exhausted (9999 dossiers)")]
    SequenceExhausted { unit: UnitCode, date: String },
    /// The event id was already used for different content.
    #[error("event id already used for another event")]
    DuplicateEventId,
    #[error("append: {0}")]
    Append(AppendError),
    #[error("log: {0}")]
    Log(#[from] LogError),
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    #[error("stored event at seq {seq} is unreadable: {detail}")]
    Corrupt { seq: u64, detail: String },
}

/// What a successful dossier command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    pub code: DossierCode,
    /// The dossier's version after the command (for the next If-Match).
    pub version: u64,
    /// Global seq of the last event written.
    pub seq: u64,
    pub events: Vec<DossierEvent>,
    /// True if the event id had been recorded before: nothing new was written.
    pub deduplicated: bool,
}

/// The reference commands and who may issue them are the domain's; re-exported here, where
/// [`CommandService::execute_reference`] takes them.
pub use crate::domain::reference::{Authority, ReferenceCommand};

/// What a reference command wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceOutcome {
    pub stream: String,
    pub seq: u64,
}

struct RefState {
    data: ReferenceData,
    /// Last global seq folded.
    seq: u64,
}

/// The command service. Share it behind an `Arc`.
pub struct CommandService {
    log: EventLog,
    reference: RwLock<RefState>,
    /// One lock per daily code prefix (unit + day) serialising dossier creations: the next code
    /// is allocated optimistically and retried on a conflict, so concurrent receipts at one
    /// unit would otherwise burn appends racing for the same number.
    creation_locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// How many (unit, day) creation locks are kept before the map is emptied: old days' locks
/// are never needed again, and dropping a held one only costs a retry, never a wrong code.
const MAX_CREATION_LOCKS: usize = 10_000;

impl std::fmt::Debug for CommandService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandService")
            .field("log", &self.log)
            .finish()
    }
}

/// Whether a stream holds reference data.
pub fn is_reference_stream(stream: &StreamId) -> bool {
    matches!(stream.category(), "catalog" | "calendar" | "unit" | "staff")
}

/// Decodes an envelope's payload into today's event type.
pub fn decode_event(env: &Envelope) -> Result<Event, ServiceError> {
    if env.schema_version != SCHEMA_VERSION {
        return Err(ServiceError::Corrupt {
            seq: env.seq,
            detail: format!("unknown schema version {}", env.schema_version),
        });
    }
    Ok(codec::decode::<Event>(&env.payload)?)
}

/// An envelope as the domain's folds see it.
pub fn recorded(env: &Envelope) -> Result<Recorded, ServiceError> {
    let role = env
        .actor
        .role
        .parse::<Role>()
        .map_err(|e| ServiceError::Corrupt {
            seq: env.seq,
            detail: e.to_string(),
        })?;
    Ok(Recorded {
        seq: env.seq,
        stream: env.stream.as_str().to_owned(),
        version: env.version,
        recorded_at: Timestamp(env.recorded_at_ms),
        actor: env.actor.staff.clone(),
        role,
        event: decode_event(env)?,
    })
}

fn stream_id(name: String) -> Result<StreamId, ServiceError> {
    Ok(StreamId::new(name)?)
}

/// Derives the id of the i-th event of a command from the caller's idempotency key.
fn nth_event_id(base: EventId, i: usize) -> EventId {
    let mut b = base.0;
    b[15] = b[15].wrapping_add(i as u8);
    EventId(b)
}

fn to_new_events(events: &[Event], actor: &Actor, event_id: Option<EventId>) -> Vec<NewEvent> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| NewEvent {
            event_id: event_id.map(|id| nth_event_id(id, i)),
            event_type: e.event_type().to_owned(),
            schema_version: SCHEMA_VERSION,
            actor: actor.clone(),
            correlation_id: event_id,
            causation_id: None,
            payload: codec::encode(e),
        })
        .collect()
}

impl CommandService {
    /// A service over `log`, with the given rule sets and workflows; folds the reference
    /// streams already in the log.
    pub fn new(log: EventLog, reference: ReferenceData) -> Result<CommandService, ServiceError> {
        let s = CommandService {
            log,
            reference: RwLock::new(RefState {
                data: reference,
                seq: 0,
            }),
            creation_locks: std::sync::Mutex::default(),
        };
        s.catch_up()?;
        Ok(s)
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Folds every reference event committed since the last catch-up.
    pub fn catch_up(&self) -> Result<u64, ServiceError> {
        let mut guard = self
            .reference
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            let batch = self.log.read_all(guard.seq, CATCH_UP_CHUNK)?;
            let Some(last) = batch.last().map(|e| e.seq) else {
                break;
            };
            for env in &batch {
                if is_reference_stream(&env.stream) {
                    let ev = decode_event(env)?;
                    guard.data.apply(&ev);
                }
            }
            guard.seq = last;
        }
        Ok(guard.seq)
    }

    /// Runs `f` on the current reference data (after a catch-up).
    pub fn with_reference<R>(
        &self,
        f: impl FnOnce(&ReferenceData) -> R,
    ) -> Result<R, ServiceError> {
        self.catch_up()?;
        let guard = self
            .reference
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(f(&guard.data))
    }

    /// The dossier's state and its recorded events (`NotFound` if it has none).
    pub fn load_dossier(
        &self,
        code: &DossierCode,
    ) -> Result<(DossierState, Vec<Recorded>), ServiceError> {
        let stream = stream_id(code.stream_name())?;
        let envs = self.log.read_stream(&stream, 0)?;
        if envs.is_empty() {
            return Err(ServiceError::NotFound(code.clone()));
        }
        let recs = envs.iter().map(recorded).collect::<Result<Vec<_>, _>>()?;
        let state = fold(recs.iter().filter_map(|r| match &r.event {
            Event::Dossier(d) => Some(d),
            _ => None,
        }));
        Ok((state, recs))
    }

    /// Executes a dossier command. `code: None` creates a new dossier (the unit is the
    /// intake's; the code gets the next number of the unit's day). `expected` is the caller's
    /// If-Match version; `event_id` makes a retry of the same command idempotent.
    pub async fn execute(
        &self,
        code: Option<&DossierCode>,
        cmd: Command,
        actor: &ActorRef,
        now: Timestamp,
        expected: Option<u64>,
        event_id: Option<EventId>,
    ) -> Result<CommandOutcome, ServiceError> {
        match code {
            Some(code) => {
                self.execute_existing(code, cmd, actor, now, expected, event_id)
                    .await
            }
            None => {
                if expected.is_some_and(|e| e != 0) {
                    return Err(ServiceError::StaleVersion { current: 0 });
                }
                self.execute_new(cmd, actor, now, event_id).await
            }
        }
    }

    async fn execute_existing(
        &self,
        code: &DossierCode,
        cmd: Command,
        actor: &ActorRef,
        now: Timestamp,
        expected: Option<u64>,
        event_id: Option<EventId>,
    ) -> Result<CommandOutcome, ServiceError> {
        let stream = stream_id(code.stream_name())?;
        for _ in 0..=MAX_CONFLICT_RETRIES {
            self.catch_up()?;
            let envs = self.log.read_stream(&stream, 0)?;
            let version = envs.last().map_or(0, |e| e.version);
            if version == 0 {
                return Err(ServiceError::NotFound(code.clone()));
            }
            // A retried command whose events are already recorded: report them again.
            if let Some(id) = event_id {
                let first = nth_event_id(id, 0);
                if let Some(pos) = envs.iter().position(|e| e.event_id == first) {
                    return self.replayed_outcome(code, &envs[pos..], id);
                }
            }
            if let Some(e) = expected {
                if e != version {
                    return Err(ServiceError::StaleVersion { current: version });
                }
            }
            let mut dossier_events = Vec::with_capacity(envs.len());
            for env in &envs {
                if let Event::Dossier(d) = decode_event(env)? {
                    dossier_events.push(d);
                }
            }
            let state = fold(&dossier_events);
            let (events, role) = {
                let guard = self
                    .reference
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let ctx = Context {
                    now,
                    actor,
                    reference: &guard.data,
                    new_code: None,
                };
                decide_with_role(&state, cmd.clone(), &ctx)?
            };
            match self
                .append_dossier(
                    &stream,
                    ExpectedVersion::Exact(version),
                    &events,
                    actor,
                    role,
                    event_id,
                )
                .await
            {
                Ok(app) => {
                    return Ok(CommandOutcome {
                        code: code.clone(),
                        version: app.last_version,
                        seq: app.last_seq,
                        events,
                        deduplicated: app.deduplicated,
                    })
                }
                Err(AppendError::WrongExpectedVersion { actual, .. }) => {
                    if expected.is_some() {
                        return Err(ServiceError::StaleVersion { current: actual });
                    }
                    // Someone else wrote in between: decide again on the fresh state.
                }
                Err(e) => return Err(map_append(e)),
            }
        }
        Err(ServiceError::Contended {
            stream: stream.to_string(),
            attempts: MAX_CONFLICT_RETRIES + 1,
        })
    }

    fn replayed_outcome(
        &self,
        code: &DossierCode,
        envs: &[Envelope],
        id: EventId,
    ) -> Result<CommandOutcome, ServiceError> {
        // The first answer named the command's own last event, not whatever the stream has
        // reached since: report the version and seq of the keyed batch itself.
        let mut events = Vec::new();
        let mut seq = 0;
        let mut version = 0;
        for (i, env) in envs.iter().enumerate() {
            if env.event_id != nth_event_id(id, i) {
                break;
            }
            seq = env.seq;
            version = env.version;
            if let Event::Dossier(d) = decode_event(env)? {
                events.push(d);
            }
        }
        Ok(CommandOutcome {
            code: code.clone(),
            version,
            seq,
            events,
            deduplicated: true,
        })
    }

    /// The outcome of an earlier creation recorded under `id`, if there is one.
    fn recorded_creation(&self, id: &EventId) -> Result<Option<CommandOutcome>, ServiceError> {
        let Some(env) = self.log.find_event(id)? else {
            return Ok(None);
        };
        let Some(code) = env
            .stream
            .as_str()
            .strip_prefix("dossier/")
            .and_then(|c| c.parse::<DossierCode>().ok())
        else {
            return Err(ServiceError::DuplicateEventId);
        };
        let envs = self.log.read_stream(&env.stream, env.version)?;
        self.replayed_outcome(&code, &envs, *id).map(Some)
    }

    fn creation_lock(&self, prefix: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .creation_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() >= MAX_CREATION_LOCKS {
            map.clear();
        }
        map.entry(prefix.to_owned()).or_default().clone()
    }

    async fn execute_new(
        &self,
        cmd: Command,
        actor: &ActorRef,
        now: Timestamp,
        event_id: Option<EventId>,
    ) -> Result<CommandOutcome, ServiceError> {
        let unit = cmd
            .intake()
            .map(|i| i.unit.clone())
            .ok_or_else(|| DomainError::Validation {
                field: "intake".into(),
                why: "a new dossier needs its procedure, applicant and documents".into(),
            })?;
        // A keyed creation whose events are already in the log (its answer was lost, e.g. in a
        // crash): answer from the log instead of deciding again, which would record under a new
        // code and collide with the first attempt's event ids.
        if let Some(id) = event_id {
            if let Some(outcome) = self.recorded_creation(&id)? {
                return Ok(outcome);
            }
        }
        let date = local_date(now);
        let prefix = format!("dossier/{}-{}-", unit, date.format("%y%m%d"));
        let lock = self.creation_lock(&prefix);
        let _serialised = lock.lock().await;
        self.catch_up()?;
        let mut next: u16 = 0;
        loop {
            // The next free number: one after the day's last stream, and never one we lost.
            let last = self
                .log
                .last_stream_with_prefix(&prefix)?
                .and_then(|s| {
                    s.as_str()
                        .get(prefix.len()..)
                        .and_then(|n| n.parse::<u16>().ok())
                })
                .unwrap_or(0);
            let seq_no = last.saturating_add(1).max(next);
            let code = DossierCode::new(&unit, date, seq_no).map_err(|_| {
                ServiceError::SequenceExhausted {
                    unit: unit.clone(),
                    date: date.to_string(),
                }
            })?;
            let (events, role) = {
                let guard = self
                    .reference
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let ctx = Context {
                    now,
                    actor,
                    reference: &guard.data,
                    new_code: Some(&code),
                };
                decide_with_role(&DossierState::default(), cmd.clone(), &ctx)?
            };
            let stream = stream_id(code.stream_name())?;
            match self
                .append_dossier(
                    &stream,
                    ExpectedVersion::NoStream,
                    &events,
                    actor,
                    role,
                    event_id,
                )
                .await
            {
                Ok(app) => {
                    return Ok(CommandOutcome {
                        code,
                        version: app.last_version,
                        seq: app.last_seq,
                        events,
                        deduplicated: app.deduplicated,
                    })
                }
                // Another receipt took this number: try the next one.
                Err(AppendError::WrongExpectedVersion { .. }) => next = seq_no.saturating_add(1),
                Err(e) => return Err(map_append(e)),
            }
        }
    }

    async fn append_dossier(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[DossierEvent],
        actor: &ActorRef,
        role: Role,
        event_id: Option<EventId>,
    ) -> Result<crate::log::Appended, AppendError> {
        let wrapped: Vec<Event> = events.iter().cloned().map(Event::Dossier).collect();
        let envelope_actor = Actor {
            staff: actor.id(),
            role: role.as_str().to_owned(),
        };
        self.log
            .append(
                stream,
                expected,
                to_new_events(&wrapped, &envelope_actor, event_id),
            )
            .await
    }

    /// Records a reference data change after checking the authority and the change.
    pub async fn execute_reference(
        &self,
        cmd: ReferenceCommand,
        authority: Authority<'_>,
        now: Timestamp,
    ) -> Result<ReferenceOutcome, ServiceError> {
        self.execute_reference_keyed(cmd, authority, now, None)
            .await
    }

    /// [`CommandService::execute_reference`] under a caller-chosen event id: a retry whose
    /// first attempt was recorded (its answer lost) is answered from the log, not decided
    /// again (deciding again could refuse it, e.g. "already registered", or record it twice).
    pub async fn execute_reference_keyed(
        &self,
        cmd: ReferenceCommand,
        authority: Authority<'_>,
        now: Timestamp,
        event_id: Option<EventId>,
    ) -> Result<ReferenceOutcome, ServiceError> {
        let (staff, role) = authority.authorize()?;
        let actor = Actor {
            staff,
            role: role.as_str().into(),
        };
        if let Some(id) = event_id {
            if let Some(env) = self.log.find_event(&id)? {
                if !is_reference_stream(&env.stream) || env.actor != actor {
                    return Err(ServiceError::DuplicateEventId);
                }
                return self.recorded_reference(env, id);
            }
        }
        for _ in 0..=MAX_CONFLICT_RETRIES {
            self.catch_up()?;
            let (stream, events) = {
                let guard = self
                    .reference
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                decide_reference(&guard.data, &cmd, now)?
            };
            let stream = reference_stream(&stream)?;
            let version = self.log.stream_version(&stream)?;
            match self
                .log
                .append(
                    &stream,
                    ExpectedVersion::Exact(version),
                    to_new_events(&events, &actor, event_id),
                )
                .await
            {
                Ok(app) => {
                    self.catch_up()?;
                    return Ok(ReferenceOutcome {
                        stream: stream.to_string(),
                        seq: app.last_seq,
                    });
                }
                Err(AppendError::WrongExpectedVersion { .. }) => {}
                Err(e) => return Err(map_append(e)),
            }
        }
        Err(ServiceError::Contended {
            stream: "reference".into(),
            attempts: MAX_CONFLICT_RETRIES + 1,
        })
    }
}

impl CommandService {
    /// The answer to a keyed reference command found recorded: its stream and the seq of the
    /// last event of its batch (a decision may record several: a staff member and their first
    /// token).
    fn recorded_reference(
        &self,
        first: Envelope,
        id: EventId,
    ) -> Result<ReferenceOutcome, ServiceError> {
        let envs = self.log.read_stream(&first.stream, first.version)?;
        let seq = envs
            .iter()
            .enumerate()
            .take_while(|(i, env)| env.event_id == nth_event_id(id, *i))
            .last()
            .map_or(first.seq, |(_, env)| env.seq);
        Ok(ReferenceOutcome {
            stream: first.stream.to_string(),
            seq,
        })
    }
}

fn map_append(e: AppendError) -> ServiceError {
    match e {
        AppendError::IdempotencyConflict { .. } => ServiceError::DuplicateEventId,
        other => ServiceError::Append(other),
    }
}

/// The log's stream of a reference change (the names existing logs hold).
fn reference_stream(stream: &ReferenceStream) -> Result<StreamId, ServiceError> {
    stream_id(match stream {
        ReferenceStream::Unit(code) => format!("unit/{code}"),
        ReferenceStream::Staff(id) => format!("staff/{id}"),
        ReferenceStream::Catalog => "catalog".to_owned(),
        ReferenceStream::CalendarYear(year) => format!("calendar/{year}"),
        ReferenceStream::OfficeHours(unit) => format!("calendar/hours-{unit}"),
    })
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
