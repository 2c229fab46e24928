//! Command service: load a stream, decide, append with an exact expected version, retry on
//! conflict.
//!
//! [`CommandService`] glues the pure domain to the log. It keeps the reference data (catalog,
//! calendar, units, staff) in memory by folding the reference streams, catching up from the
//! last seq it saw before every command, so a decision always sees every reference event
//! committed before it started. A refused command writes nothing; a caller-given stale
//! version is refused; without one, a version conflict (someone else wrote the dossier in
//! between) is retried from a fresh load a bounded number of times ([`crate::retry`]). A keyed
//! retry whose first attempt is recorded is answered from the log ([`crate::idempotency`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use thiserror::Error;

use crate::domain::calendar::local_date;
use crate::domain::dossier::{decide_with_role, fold, ActorRef, Command, Context, DossierState};
use crate::domain::error::DomainError;
use crate::domain::events::{DossierChange, DossierEvent, Event, Recorded};
use crate::domain::personal::{
    decide_erasure, ApplicantRecord, ErasureReason, PersonalEvent, SubjectId,
};
use crate::domain::reference::{decide_reference, ReferenceData, ReferenceStream};
use crate::domain::types::{DossierCode, Role, Timestamp, UnitCode};
use crate::idempotency::CommandKey;
use crate::log::{Actor, AppendError, Envelope, EventLog, ExpectedVersion, LogError, StreamId};
use crate::personal::{PersonalStore, PersonalStoreError};
use crate::recorded::{decode_event, decode_recorded, encode_events, DecodeError};
use crate::retry::{retry_on_conflict, Attempt, Contended};
use crate::streams::is_reference_stream;

/// How many events of the log one catch-up read fetches at a time.
const CATCH_UP_CHUNK: usize = 1024;

// The largest command the domain lets through makes an event well inside the log's limit, so a
// write is never refused by the log for its size after the domain accepted it.
const _: () = assert!(
    crate::domain::dossier::limits::WORST_CASE_BYTES
        < crate::log::limits::DEFAULT_MAX_EVENT_BYTES * 3 / 4
);

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
    #[error(transparent)]
    Contended(#[from] Contended),
    /// The key store of personal data failed (storage, or damage).
    #[error(transparent)]
    Personal(#[from] PersonalStoreError),
    #[error("the daily sequence of {unit} on {date} is exhausted (9999 dossiers)")]
    SequenceExhausted { unit: UnitCode, date: String },
    /// An online submission would take a daily number kept for the desk (see
    /// [`DEFAULT_DESK_RESERVE`]).
    #[error("online submissions to {unit} on {date} have used their share of the day's codes (1 to {limit}; the rest are kept for the desk)")]
    OnlineShareExhausted {
        unit: UnitCode,
        date: String,
        limit: u16,
    },
    /// The event id was already used for different content.
    #[error("event id already used for another event")]
    DuplicateEventId,
    #[error("append: {0}")]
    Append(AppendError),
    #[error("log: {0}")]
    Log(#[from] LogError),
    /// A stored event the domain cannot read.
    #[error("stored event unreadable: {0}")]
    Corrupt(#[from] DecodeError),
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
    /// Daily numbers online submissions may not take: see [`DEFAULT_DESK_RESERVE`].
    desk_reserve: u16,
    /// The people's keys: a new dossier's applicant is sealed under them before it is
    /// appended (`crate::personal`).
    personal: PersonalStore,
}

/// The highest daily number of a dossier code (the domain's `DossierCode::MAX_SEQUENCE`).
pub const MAX_DAILY_SEQUENCE: u16 = DossierCode::MAX_SEQUENCE;

/// The last daily numbers of a unit, kept for the desk: online submissions take numbers up to
/// `MAX_DAILY_SEQUENCE - reserve` only. One portal account once took all 9,999 of a day's
/// codes and the desk could receive no one for the rest of the day; a commune's desk receives
/// tens a day, so 2,000 is never short for it, and online keeps 7,999.
pub const DEFAULT_DESK_RESERVE: u16 = 2_000;

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

impl CommandService {
    /// A service over `log`, with the given rule sets and workflows; folds the reference
    /// streams already in the log.
    pub fn new(log: EventLog, reference: ReferenceData) -> Result<CommandService, ServiceError> {
        let s = CommandService {
            reference: RwLock::new(RefState {
                data: reference,
                seq: 0,
            }),
            creation_locks: std::sync::Mutex::default(),
            desk_reserve: DEFAULT_DESK_RESERVE,
            personal: PersonalStore::open(log.store())?,
            log,
        };
        s.catch_up()?;
        Ok(s)
    }

    /// This service with `reserve` daily numbers kept for the desk (at most
    /// [`MAX_DAILY_SEQUENCE`]; 0 keeps none).
    pub fn with_desk_reserve(mut self, reserve: u16) -> CommandService {
        self.desk_reserve = reserve.min(MAX_DAILY_SEQUENCE);
        self
    }

    /// The highest daily number an online submission may take.
    pub fn online_sequence_limit(&self) -> u16 {
        MAX_DAILY_SEQUENCE - self.desk_reserve
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Folds every reference event committed since the last catch-up.
    pub fn catch_up(&self) -> Result<u64, ServiceError> {
        // Every event acknowledged before this call is at or below the durable head now, so a
        // fold that already reached it is current: a shared read lock answers, and commands do
        // not queue on the write lock when nothing new was appended.
        let head = self.log.head().seq;
        {
            let guard = self
                .reference
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if guard.seq >= head {
                return Ok(guard.seq);
            }
        }
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
                } else if env.stream.is_personal() {
                    // An erasure recorded in the log destroys the key, here and at every start
                    // (so a crash between the record and the destruction is finished later).
                    if let Event::Personal(PersonalEvent::Erased { subject, .. }) =
                        decode_event(env)?
                    {
                        self.personal.erase(self.log.store(), &subject)?;
                    }
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
        let envs = self.log.read_stream(&StreamId::dossier(code), 0)?;
        if envs.is_empty() {
            return Err(ServiceError::NotFound(code.clone()));
        }
        let recs = envs
            .iter()
            .map(decode_recorded)
            .collect::<Result<Vec<_>, _>>()?;
        let state = fold(recs.iter().filter_map(|r| match &r.event {
            Event::Dossier(d) => Some(d),
            _ => None,
        }));
        Ok((state, recs))
    }

    /// Executes a dossier command. `code: None` creates a new dossier (the unit is the
    /// intake's; the code gets the next number of the unit's day). `expected` is the caller's
    /// If-Match version; `key` makes a retry of the same command idempotent (see
    /// [`crate::idempotency`]).
    pub async fn execute(
        &self,
        code: Option<&DossierCode>,
        cmd: Command,
        actor: &ActorRef,
        now: Timestamp,
        expected: Option<u64>,
        key: Option<&CommandKey>,
    ) -> Result<CommandOutcome, ServiceError> {
        let call = DossierCall {
            cmd: &cmd,
            actor,
            now,
            key,
        };
        match code {
            Some(code) => self.execute_existing(code, call, expected).await,
            None => {
                if expected.is_some_and(|e| e != 0) {
                    return Err(ServiceError::StaleVersion { current: 0 });
                }
                self.execute_new(call).await
            }
        }
    }

    async fn execute_existing(
        &self,
        code: &DossierCode,
        call: DossierCall<'_>,
        expected: Option<u64>,
    ) -> Result<CommandOutcome, ServiceError> {
        let stream = StreamId::dossier(code);
        retry_on_conflict(stream.as_str(), (), |()| {
            self.attempt_existing(code, &stream, call, expected)
        })
        .await
    }

    /// One attempt on an existing dossier: read, answer a recorded retry from the log, decide,
    /// append at the version read.
    async fn attempt_existing(
        &self,
        code: &DossierCode,
        stream: &StreamId,
        call: DossierCall<'_>,
        expected: Option<u64>,
    ) -> Result<Attempt<CommandOutcome>, ServiceError> {
        self.catch_up()?;
        let envs = self.log.read_stream(stream, 0)?;
        let version = envs.last().map_or(0, |e| e.version);
        if version == 0 {
            return Err(ServiceError::NotFound(code.clone()));
        }
        // A retried command whose events are already recorded: report them again.
        if let Some(key) = call.key {
            let first = key.event_id(0);
            if let Some(pos) = envs.iter().position(|e| e.event_id == first) {
                return Ok(Attempt::Done(replayed_outcome(code, &envs[pos..], key)?));
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
        let (events, role) = self.decide(&fold(&dossier_events), call, None)?;
        let appended = self
            .append_dossier(stream, ExpectedVersion::Exact(version), &events, call, role)
            .await;
        match appended {
            Ok(app) => Ok(Attempt::Done(CommandOutcome {
                code: code.clone(),
                version: app.last_version,
                seq: app.last_seq,
                events,
                deduplicated: app.deduplicated,
            })),
            Err(AppendError::WrongExpectedVersion { actual, .. }) => match expected {
                Some(_) => Err(ServiceError::StaleVersion { current: actual }),
                // Someone else wrote in between: decide again on the fresh state.
                None => Ok(Attempt::Conflict(())),
            },
            Err(e) => Err(map_append(e)),
        }
    }

    /// The outcome of an earlier creation recorded under `key`, if there is one.
    fn recorded_creation(&self, key: &CommandKey) -> Result<Option<CommandOutcome>, ServiceError> {
        let Some(env) = self.log.find_event(&key.event_id(0))? else {
            return Ok(None);
        };
        let Some(code) = env.stream.dossier_code() else {
            return Err(ServiceError::DuplicateEventId);
        };
        let envs = self.log.read_stream(&env.stream, env.version)?;
        replayed_outcome(&code, &envs, key).map(Some)
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

    async fn execute_new(&self, call: DossierCall<'_>) -> Result<CommandOutcome, ServiceError> {
        let unit =
            call.cmd
                .intake()
                .map(|i| i.unit.clone())
                .ok_or_else(|| DomainError::Validation {
                    field: "intake".into(),
                    why: "a new dossier needs its procedure, applicant and documents".into(),
                })?;
        // A keyed creation whose events are already in the log (its answer was lost, e.g. in a
        // crash): answer from the log instead of deciding again, which would record under a new
        // code and collide with the first attempt's event ids.
        if let Some(key) = call.key {
            if let Some(outcome) = self.recorded_creation(key)? {
                return Ok(outcome);
            }
        }
        let date = local_date(call.now);
        let prefix = StreamId::dossier_day_prefix(&unit, date);
        let lock = self.creation_lock(&prefix);
        let _serialised = lock.lock().await;
        self.catch_up()?;
        let day = CreationDay {
            unit: &unit,
            date,
            prefix: &prefix,
        };
        // The state carried between attempts: the lowest number the next one may take.
        retry_on_conflict(&prefix, 0u16, |next| self.attempt_new(day, call, next)).await
    }

    /// One attempt at a creation: the day's next free number (one after the day's last stream,
    /// and never below `next`), decide, append as a new stream.
    async fn attempt_new(
        &self,
        day: CreationDay<'_>,
        call: DossierCall<'_>,
        next: u16,
    ) -> Result<Attempt<CommandOutcome, u16>, ServiceError> {
        let last = self
            .log
            .last_stream_with_prefix(day.prefix)?
            .and_then(|s| s.dossier_code())
            .map_or(0, |c| c.sequence());
        let seq_no = last.saturating_add(1).max(next);
        if matches!(call.cmd, Command::SubmitOnline(_)) && seq_no > self.online_sequence_limit() {
            return Err(ServiceError::OnlineShareExhausted {
                unit: day.unit.clone(),
                date: day.date.to_string(),
                limit: self.online_sequence_limit(),
            });
        }
        let code = DossierCode::new(day.unit, day.date, seq_no).map_err(|_| {
            ServiceError::SequenceExhausted {
                unit: day.unit.clone(),
                date: day.date.to_string(),
            }
        })?;
        let (events, role) = self.decide(&DossierState::default(), call, Some(&code))?;
        let stream = StreamId::dossier(&code);
        let appended = self
            .append_dossier(&stream, ExpectedVersion::NoStream, &events, call, role)
            .await;
        match appended {
            Ok(app) => Ok(Attempt::Done(CommandOutcome {
                code,
                version: app.last_version,
                seq: app.last_seq,
                events,
                deduplicated: app.deduplicated,
            })),
            // Another receipt took this number: try the next one.
            Err(AppendError::WrongExpectedVersion { .. }) => {
                Ok(Attempt::Conflict(seq_no.saturating_add(1)))
            }
            Err(e) => Err(map_append(e)),
        }
    }

    /// The domain's decision on a dossier command (the events and the role acted in), against
    /// the reference data as of the last catch-up. `new_code` is the code a creation takes.
    fn decide(
        &self,
        state: &DossierState,
        call: DossierCall<'_>,
        new_code: Option<&DossierCode>,
    ) -> Result<(Vec<DossierEvent>, Role), ServiceError> {
        let guard = self
            .reference
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let ctx = Context {
            now: call.now,
            actor: call.actor,
            reference: &guard.data,
            new_code,
        };
        let (events, role) = decide_with_role(state, call.cmd.clone(), &ctx)?;
        drop(guard);
        Ok((self.seal(events, call)?, role))
    }

    /// Whether `cmd` would be accepted on `state` by `actor` at `now`: the same decision as
    /// [`CommandService::execute`] (role, scope, state, preconditions), nothing sealed, nothing
    /// appended. For a caller that must know before costly work: an upload's body is read only
    /// once the dossier would take a file.
    pub fn would_accept(
        &self,
        state: &DossierState,
        cmd: &Command,
        actor: &ActorRef,
        now: Timestamp,
    ) -> Result<(), ServiceError> {
        self.catch_up()?;
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
        decide_with_role(state, cmd.clone(), &ctx)?;
        Ok(())
    }

    /// The decision's events as the log records them: every applicant in clear sealed under
    /// the person's key (a keyed command's seal is derived from its key, so a retry records
    /// the same bytes).
    fn seal(
        &self,
        mut events: Vec<DossierEvent>,
        call: DossierCall<'_>,
    ) -> Result<Vec<DossierEvent>, ServiceError> {
        let seed = call.key.map(|k| k.event_id(0).0);
        for e in &mut events {
            let code = &e.code;
            let record = match &mut e.change {
                DossierChange::SubmittedOnline(s) => &mut s.applicant,
                DossierChange::Received(r) => &mut r.applicant,
                _ => continue,
            };
            if let ApplicantRecord::Clear(a) = record {
                let sealed =
                    self.personal
                        .seal(a, code, call.now, seed.as_ref().map(|s| &s[..]))?;
                *record = ApplicantRecord::Sealed(sealed);
            }
        }
        Ok(events)
    }

    /// Erases the personal data of `subject`: records the erasure (why, by whom) in the log,
    /// then destroys the person's key (the catch-up that follows the append does it, as it
    /// does at every start for an erasure whose key outlived a crash). `Ok(None)` when the
    /// store has no key for `subject` (never sealed, or already erased).
    pub async fn erase_person(
        &self,
        subject: SubjectId,
        reason: ErasureReason,
        note: &str,
        actor: &ActorRef,
        now: Timestamp,
    ) -> Result<Option<u64>, ServiceError> {
        let event = decide_erasure(&actor.roles(), subject, reason, note, now)?;
        if self.personal.key_of(&subject)?.is_none() {
            return Ok(None);
        }
        let envelope_actor = Actor {
            staff: actor.id(),
            role: Role::Admin.as_str().to_owned(),
        };
        let appended = self
            .log
            .append(
                &StreamId::personal(&subject),
                ExpectedVersion::Any,
                encode_events(&[Event::Personal(event)], &envelope_actor, None),
            )
            .await
            .map_err(map_append)?;
        self.catch_up()?;
        Ok(Some(appended.last_seq))
    }

    /// The key store of the people whose applicants this service seals.
    pub fn personal(&self) -> &PersonalStore {
        &self.personal
    }

    async fn append_dossier(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[DossierEvent],
        call: DossierCall<'_>,
        role: Role,
    ) -> Result<crate::log::Appended, AppendError> {
        let wrapped: Vec<Event> = events.iter().cloned().map(Event::Dossier).collect();
        let envelope_actor = Actor {
            staff: call.actor.id(),
            role: role.as_str().to_owned(),
        };
        self.log
            .append(
                stream,
                expected,
                encode_events(&wrapped, &envelope_actor, call.key),
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

    /// [`CommandService::execute_reference`] under a caller's key: a retry whose first attempt
    /// was recorded (its answer lost) is answered from the log, not decided again (deciding
    /// again could refuse it, e.g. "already registered", or record it twice).
    pub async fn execute_reference_keyed(
        &self,
        cmd: ReferenceCommand,
        authority: Authority<'_>,
        now: Timestamp,
        key: Option<&CommandKey>,
    ) -> Result<ReferenceOutcome, ServiceError> {
        let (staff, role) = authority.authorize()?;
        let actor = Actor {
            staff,
            role: role.as_str().into(),
        };
        if let Some(key) = key {
            if let Some(env) = self.log.find_event(&key.event_id(0))? {
                if !is_reference_stream(&env.stream)
                    || env.actor != actor
                    || !key.same_request(env.causation_id)
                {
                    return Err(ServiceError::DuplicateEventId);
                }
                return self.recorded_reference(env, key);
            }
        }
        retry_on_conflict("reference", (), |()| {
            self.attempt_reference(&cmd, &actor, now, key)
        })
        .await
    }

    /// One attempt at a reference change: decide it against the current data, append its
    /// events at the stream's version (all of them in one append).
    async fn attempt_reference(
        &self,
        cmd: &ReferenceCommand,
        actor: &Actor,
        now: Timestamp,
        key: Option<&CommandKey>,
    ) -> Result<Attempt<ReferenceOutcome>, ServiceError> {
        self.catch_up()?;
        let (stream, events) = {
            let guard = self
                .reference
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            decide_reference(&guard.data, cmd, now)?
        };
        let stream = reference_stream(&stream);
        let version = self.log.stream_version(&stream)?;
        let appended = self
            .log
            .append(
                &stream,
                ExpectedVersion::Exact(version),
                encode_events(&events, actor, key),
            )
            .await;
        match appended {
            Ok(app) => {
                self.catch_up()?;
                Ok(Attempt::Done(ReferenceOutcome {
                    stream: stream.to_string(),
                    seq: app.last_seq,
                }))
            }
            Err(AppendError::WrongExpectedVersion { .. }) => Ok(Attempt::Conflict(())),
            Err(e) => Err(map_append(e)),
        }
    }

    /// The answer to a keyed reference command found recorded: its stream and the seq of the
    /// last event of its batch (a decision may record several: a staff member and their first
    /// token).
    fn recorded_reference(
        &self,
        first: Envelope,
        key: &CommandKey,
    ) -> Result<ReferenceOutcome, ServiceError> {
        let envs = self.log.read_stream(&first.stream, first.version)?;
        let seq = envs
            .iter()
            .zip(key.event_ids())
            .take_while(|(env, id)| env.event_id == *id)
            .last()
            .map_or(first.seq, |(env, _)| env.seq);
        Ok(ReferenceOutcome {
            stream: first.stream.to_string(),
            seq,
        })
    }
}

/// The parts of a dossier command every attempt needs.
#[derive(Clone, Copy)]
struct DossierCall<'a> {
    cmd: &'a Command,
    actor: &'a ActorRef,
    now: Timestamp,
    key: Option<&'a CommandKey>,
}

/// The unit and day a creation allocates its code in.
#[derive(Clone, Copy)]
struct CreationDay<'a> {
    unit: &'a UnitCode,
    date: chrono::NaiveDate,
    /// `StreamId::dossier_day_prefix(unit, date)`.
    prefix: &'a str,
}

/// The outcome of a keyed command found recorded at the start of `envs`: the first answer
/// named the command's own last event, not whatever the stream has reached since, so the
/// version and seq are those of the keyed batch itself.
fn replayed_outcome(
    code: &DossierCode,
    envs: &[Envelope],
    key: &CommandKey,
) -> Result<CommandOutcome, ServiceError> {
    // The first answer was to another request sent with this key (its stored answer lost):
    // refused as the stored answer would be.
    if envs
        .first()
        .is_some_and(|env| !key.same_request(env.causation_id))
    {
        return Err(ServiceError::DuplicateEventId);
    }
    let mut events = Vec::new();
    let mut seq = 0;
    let mut version = 0;
    for (env, id) in envs.iter().zip(key.event_ids()) {
        if env.event_id != id {
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

pub(crate) fn map_append(e: AppendError) -> ServiceError {
    match e {
        AppendError::IdempotencyConflict { .. } => ServiceError::DuplicateEventId,
        other => ServiceError::Append(other),
    }
}

/// The log's stream of a reference change (the names existing logs hold).
fn reference_stream(stream: &ReferenceStream) -> StreamId {
    match stream {
        ReferenceStream::Unit(code) => StreamId::unit(code),
        ReferenceStream::Staff(id) => StreamId::staff(id),
        ReferenceStream::Catalog => StreamId::catalog(),
        ReferenceStream::CalendarYear(year) => StreamId::calendar_year(*year),
        ReferenceStream::OfficeHours(unit) => StreamId::office_hours(unit),
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
