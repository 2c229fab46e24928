//! The single writer: owns every append. It runs on a dedicated OS thread (store calls block),
//! takes requests from a bounded queue, and per group-commit batch:
//! checks idempotency and expected versions (counting earlier requests of the same batch),
//! assigns seqs from its own counter, stamps `recorded_at = max(clock, previous)`, chains hashes,
//! and commits events + indexes + meta in ONE transaction of its `LogStore` (sled or
//! PostgreSQL: the store persists, the writer decides). It then hands the batch's
//! answers to the flusher thread and goes on with the next batch.
//!
//! The flusher makes batches durable (`LogStore::make_durable`: on sled `flush` + fdatasync; on
//! PostgreSQL nothing more, the commit under `synchronous_commit = on` was it), several at
//! a time if they queued up, and only then publishes the new head and sends the answers, in
//! batch order. Pipelining the two threads overlaps the CPU work of batch N+1 with the disk wait
//! of batch N; a batch is still acknowledged only after a flush that *started after its commit*.
//! Every answer, refusals included, goes through the flusher: a refusal or a deduplication may
//! have been decided against a batch that is committed but not yet durable.
//!
//! Fail-stop: if the commit or the flush fails, nobody in the batch is acknowledged, the log is
//! marked failed and every later append is refused; reads keep working on the durable head.
//! Continuing after a failed fsync is unsafe (the kernel may have dropped the dirty pages), so
//! the only recovery is a restart, which re-checks the tail on open.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch};

use super::envelope::{Appended, Envelope, EventId, ExpectedVersion, NewEvent, Position, StreamId};
use super::error::{AppendError, LogError};
use super::limits::{LogConfig, FLUSH_QUEUE_BATCHES, STREAM_VERSION_CACHE_MAX};
use super::reader::MetaHead;
use super::store::{LogStore, Prefetched};

pub(crate) struct AppendRequest {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    pub reply: oneshot::Sender<Result<Appended, AppendError>>,
}

pub(crate) enum Command {
    Append(AppendRequest),
    /// Finish what is queued before it, flush, stop.
    Close(oneshot::Sender<Result<(), String>>),
}

/// Fail-stop state and counters shared between the writer and the `EventLog` handles.
#[derive(Default)]
pub(crate) struct Health {
    failed: AtomicBool,
    reason: Mutex<Option<String>>,
    batches: AtomicU64,
    events: AtomicU64,
    decide_us: AtomicU64,
    commit_us: AtomicU64,
    flush_us: AtomicU64,
    flushes: AtomicU64,
}

/// Cumulative writer counters (for benchmarks and diagnostics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Group-commit batches that wrote at least one event.
    pub batches: u64,
    /// Events written.
    pub events: u64,
    /// Time spent checking requests and building envelopes (hashing included).
    pub decide_us: u64,
    /// Time spent committing a batch: encoding its rows and the sled transaction.
    pub commit_us: u64,
    /// Time spent making batches durable (sled flush + fdatasync), in the flusher thread.
    pub flush_us: u64,
    /// Durable flushes (one may cover several batches).
    pub flushes: u64,
}

impl Health {
    pub fn is_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }
    pub fn reason(&self) -> String {
        self.reason
            .lock()
            .ok()
            .and_then(|r| r.clone())
            .unwrap_or_else(|| "storage failure".into())
    }
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.batches.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            decide_us: self.decide_us.load(Ordering::Relaxed),
            commit_us: self.commit_us.load(Ordering::Relaxed),
            flush_us: self.flush_us.load(Ordering::Relaxed),
            flushes: self.flushes.load(Ordering::Relaxed),
        }
    }
    fn fail(&self, reason: String) {
        if let Ok(mut r) = self.reason.lock() {
            r.get_or_insert(reason);
        }
        self.failed.store(true, Ordering::SeqCst);
    }
}

pub(crate) struct Writer {
    pub log: Arc<dyn LogStore>,
    pub config: LogConfig,
    pub health: Arc<Health>,
    pub head_tx: watch::Sender<Position>,
    /// Head of what is committed (not necessarily durable yet).
    pub head: MetaHead,
    /// Current version of recently written streams. The writer is the only writer, so the
    /// cache is exact; it saves a reverse prefix scan of `streams` per append.
    pub versions: HashMap<StreamId, u64>,
    /// A commit failed: refuse everything from now on (fail-stop).
    pub failed: Option<String>,
    /// What the store looked up at once for the batch being decided (a store where each
    /// lookup is a round trip: PostgreSQL); `None`: look up key by key.
    pub prefetched: Option<Prefetched>,
}

/// What the checks decided for one request.
enum Decision {
    /// Refused or deduplicated: answer is known, nothing to write.
    Answer(Result<Appended, AppendError>),
    /// Accepted: its envelopes are `staged[range]`.
    Write(std::ops::Range<usize>),
}

type Reply = oneshot::Sender<Result<Appended, AppendError>>;

/// A committed batch waiting for its durable flush.
struct Pending {
    answers: Vec<(Reply, Result<Appended, AppendError>)>,
    /// New head if the batch wrote events.
    head: Option<Position>,
    /// The commit failed with this error: fail-stop.
    error: Option<String>,
}

enum FlushMsg {
    Batch(Pending),
    Close(oneshot::Sender<Result<(), String>>),
}

impl Writer {
    pub fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let (ftx, frx) = std_mpsc::sync_channel::<FlushMsg>(FLUSH_QUEUE_BATCHES);
        let (done_tx, done_rx) = std_mpsc::channel::<()>();
        let flusher = Flusher {
            log: self.log.clone(),
            health: self.health.clone(),
            head_tx: self.head_tx.clone(),
            done: (!self.config.group_commit).then_some(done_tx),
        };
        let flusher = match std::thread::Builder::new()
            .name("motcua-log-flusher".into())
            .spawn(move || flusher.run(frx))
        {
            Ok(h) => h,
            Err(e) => {
                self.health
                    .fail(format!("cannot start the flusher thread: {e}"));
                return;
            }
        };
        loop {
            let Some(first) = rx.blocking_recv() else {
                // Every handle is gone: nothing can wait for an ack; the flusher flushes on exit.
                break;
            };
            let mut requests = Vec::new();
            let mut close = None;
            let mut events = 0usize;
            match first {
                Command::Append(r) => {
                    events += r.events.len();
                    requests.push(r);
                }
                Command::Close(c) => close = Some(c),
            }
            // Group commit: take whatever queued up while the previous batch was in flight.
            while self.config.group_commit
                && close.is_none()
                && events < self.config.max_batch_events
            {
                match rx.try_recv() {
                    Ok(Command::Append(r)) => {
                        events += r.events.len();
                        requests.push(r);
                    }
                    Ok(Command::Close(c)) => close = Some(c),
                    Err(_) => break,
                }
            }
            if !requests.is_empty() {
                let pending = self.process(requests);
                if ftx.send(FlushMsg::Batch(pending)).is_err() {
                    break;
                }
                if !self.config.group_commit {
                    // Flush per append: wait for this batch's flush before taking the next.
                    let _ = done_rx.recv();
                }
            }
            if let Some(reply) = close {
                let _ = ftx.send(FlushMsg::Close(reply));
                break;
            }
        }
        drop(ftx);
        let _ = flusher.join();
    }

    fn process(&mut self, requests: Vec<AppendRequest>) -> Pending {
        if self.failed.is_none() && self.health.is_failed() {
            // The flusher hit a flush/fsync error: stop writing at once.
            self.failed = Some(self.health.reason());
        }
        if let Some(reason) = &self.failed {
            let answers = requests
                .into_iter()
                .map(|r| (r.reply, Err(AppendError::Failed(reason.clone()))))
                .collect();
            return Pending {
                answers,
                head: None,
                error: None,
            };
        }
        let t0 = Instant::now();
        let recorded_at_ms = self.config.clock.now_ms().max(self.head.recorded_at_ms);
        let mut staged: Vec<Envelope> = Vec::new();
        let mut pending_versions: HashMap<StreamId, u64> = HashMap::new();
        let mut pending_ids: HashMap<EventId, usize> = HashMap::new();
        let mut decisions = Vec::with_capacity(requests.len());
        self.prefetched = self.prefetch(&requests);
        for req in &requests {
            let d = self.decide(
                req,
                recorded_at_ms,
                &mut staged,
                &mut pending_versions,
                &mut pending_ids,
            );
            decisions.push(d);
        }
        self.prefetched = None;
        self.health
            .decide_us
            .fetch_add(t0.elapsed().as_micros() as u64, Ordering::Relaxed);

        let mut head = None;
        if let Some(last) = staged.last() {
            if let Err(e) = self.commit(&staged, recorded_at_ms) {
                let msg = e.to_string();
                tracing::error!(error = %msg, "event log commit failed: fail-stop");
                self.failed = Some(msg.clone());
                let answers = requests
                    .into_iter()
                    .map(|r| (r.reply, Err(AppendError::Storage(msg.clone()))))
                    .collect();
                return Pending {
                    answers,
                    head: None,
                    error: Some(msg),
                };
            }
            self.head = MetaHead {
                seq: last.seq,
                hash: last.hash,
                recorded_at_ms,
            };
            head = Some(Position {
                seq: last.seq,
                hash: last.hash,
            });
            if self.versions.len() + pending_versions.len() > STREAM_VERSION_CACHE_MAX {
                self.versions.clear();
            }
            self.versions.extend(pending_versions);
        }

        let answers = requests
            .into_iter()
            .zip(decisions)
            .map(|(req, decision)| {
                let answer = match decision {
                    Decision::Answer(a) => a,
                    Decision::Write(range) => {
                        let first = &staged[range.start];
                        let last = &staged[range.end - 1];
                        Ok(Appended {
                            first_seq: first.seq,
                            last_seq: last.seq,
                            first_version: first.version,
                            last_version: last.version,
                            recorded_at_ms,
                            deduplicated: false,
                        })
                    }
                };
                (req.reply, answer)
            })
            .collect();
        Pending {
            answers,
            head,
            error: None,
        }
    }

    /// Looks an event id up among this batch's staged events, then in the index.
    fn find_existing(
        &self,
        id: &EventId,
        staged: &[Envelope],
        pending_ids: &HashMap<EventId, usize>,
    ) -> Result<Option<Envelope>, LogError> {
        if let Some(&i) = pending_ids.get(id) {
            return Ok(Some(staged[i].clone()));
        }
        match &self.prefetched {
            // The prefetch covered every id of the batch: absent means not in the log.
            Some(p) => Ok(p.events.get(id).cloned()),
            None => self.log.find_event(id, u64::MAX),
        }
    }

    /// The batch's event ids and the streams whose version is not cached, looked up at once
    /// if the store prefers that. A failed prefetch only falls back to key-by-key lookups,
    /// which report their own errors.
    fn prefetch(&self, requests: &[AppendRequest]) -> Option<Prefetched> {
        let ids: Vec<EventId> = requests
            .iter()
            .flat_map(|r| r.events.iter().filter_map(|e| e.event_id))
            .collect();
        let mut streams: Vec<StreamId> = requests
            .iter()
            .filter(|r| !self.versions.contains_key(&r.stream))
            .map(|r| r.stream.clone())
            .collect();
        streams.sort();
        streams.dedup();
        match self.log.prefetch(&ids, &streams) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "batch lookup failed: looking up key by key");
                None
            }
        }
    }

    fn decide(
        &self,
        req: &AppendRequest,
        recorded_at_ms: i64,
        staged: &mut Vec<Envelope>,
        pending_versions: &mut HashMap<StreamId, u64>,
        pending_ids: &mut HashMap<EventId, usize>,
    ) -> Decision {
        match self.try_decide(req, recorded_at_ms, staged, pending_versions, pending_ids) {
            Ok(d) => d,
            Err(e) => Decision::Answer(Err(AppendError::Storage(e.to_string()))),
        }
    }

    fn try_decide(
        &self,
        req: &AppendRequest,
        recorded_at_ms: i64,
        staged: &mut Vec<Envelope>,
        pending_versions: &mut HashMap<StreamId, u64>,
        pending_ids: &mut HashMap<EventId, usize>,
    ) -> Result<Decision, LogError> {
        // 1. Idempotency, before the version check: a retry of an acknowledged append must be
        //    recognised even though the stream has moved on since.
        let mut existing = Vec::new();
        let mut seen_in_request = std::collections::HashSet::new();
        for ev in &req.events {
            let Some(id) = ev.event_id else { continue };
            if !seen_in_request.insert(id) {
                return Ok(Decision::Answer(Err(AppendError::IdempotencyConflict {
                    event_id: id,
                })));
            }
            if let Some(found) = self.find_existing(&id, staged, pending_ids)? {
                if !found.same_content(&req.stream, ev) {
                    return Ok(Decision::Answer(Err(AppendError::IdempotencyConflict {
                        event_id: id,
                    })));
                }
                existing.push(found);
            }
        }
        if !existing.is_empty() {
            if existing.len() != req.events.len() {
                // A partial overlap is neither a retry nor a new append: refuse it.
                let id = existing[0].event_id;
                return Ok(Decision::Answer(Err(AppendError::IdempotencyConflict {
                    event_id: id,
                })));
            }
            let first = &existing[0];
            let last = &existing[existing.len() - 1];
            return Ok(Decision::Answer(Ok(Appended {
                first_seq: first.seq,
                last_seq: last.seq,
                first_version: first.version,
                last_version: last.version,
                recorded_at_ms: last.recorded_at_ms,
                deduplicated: true,
            })));
        }

        // 2. Optimistic concurrency, counting earlier accepted requests of this batch.
        let actual = match pending_versions
            .get(&req.stream)
            .or_else(|| self.versions.get(&req.stream))
        {
            Some(&v) => v,
            None => match &self.prefetched {
                Some(p) => p.versions.get(&req.stream).copied().unwrap_or(0),
                None => self.log.stream_version(&req.stream, u64::MAX)?,
            },
        };
        if !req.expected.matches(actual) {
            return Ok(Decision::Answer(Err(AppendError::WrongExpectedVersion {
                stream: req.stream.as_str().to_string(),
                expected: req.expected,
                actual,
            })));
        }

        // 3. Stage envelopes: seq from our own counter, chained to the previous one.
        let start = staged.len();
        let (mut seq, mut prev_hash) = match staged.last() {
            Some(e) => (e.seq, e.hash),
            None => (self.head.seq, self.head.hash),
        };
        let mut version = actual;
        for ev in &req.events {
            seq += 1;
            version += 1;
            let mut env = Envelope {
                seq,
                stream: req.stream.clone(),
                version,
                event_id: ev.event_id.unwrap_or_else(EventId::random),
                event_type: ev.event_type.clone(),
                schema_version: ev.schema_version,
                recorded_at_ms,
                actor: ev.actor.clone(),
                correlation_id: ev.correlation_id,
                causation_id: ev.causation_id,
                payload: ev.payload.clone(),
                prev_hash,
                hash: [0; 32],
            };
            env.hash = env.compute_hash();
            prev_hash = env.hash;
            pending_ids.insert(env.event_id, staged.len());
            staged.push(env);
        }
        pending_versions.insert(req.stream.clone(), version);
        Ok(Decision::Write(start..staged.len()))
    }

    /// One transaction for the whole batch (atomic; durable after the flusher's `make_durable`).
    fn commit(&self, staged: &[Envelope], recorded_at_ms: i64) -> Result<(), LogError> {
        // Internal invariant: the writer's counter is gapless. A violation is a bug, and
        // writing a gap would poison the log for every reader, so stop hard.
        for (env, expect_seq) in staged.iter().zip(self.head.seq + 1..) {
            assert_eq!(env.seq, expect_seq, "writer produced a non-contiguous seq");
        }
        let Some(last) = staged.last() else {
            return Ok(());
        };
        let head = MetaHead {
            seq: last.seq,
            hash: last.hash,
            recorded_at_ms,
        };
        let t0 = Instant::now();
        self.log.commit(staged, &head)?;
        let h = &self.health;
        h.commit_us
            .fetch_add(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
        h.batches.fetch_add(1, Ordering::Relaxed);
        h.events.fetch_add(staged.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// Makes committed batches durable and answers their requests, in order.
struct Flusher {
    log: Arc<dyn LogStore>,
    health: Arc<Health>,
    head_tx: watch::Sender<Position>,
    /// One signal per batch settled, only in flush-per-append mode (the writer waits on it).
    done: Option<std_mpsc::Sender<()>>,
}

impl Flusher {
    fn run(self, rx: std_mpsc::Receiver<FlushMsg>) {
        loop {
            let Ok(first) = rx.recv() else {
                // The writer stopped without a Close: flush what is committed anyway.
                if !self.health.is_failed() {
                    let _ = self.log.make_durable();
                }
                return;
            };
            // Everything committed meanwhile shares this flush.
            let mut group = vec![first];
            group.extend(rx.try_iter());
            let mut ready = Vec::new();
            let mut closing = None;
            for msg in group {
                match msg {
                    FlushMsg::Batch(p) if p.error.is_none() => ready.push(p),
                    FlushMsg::Batch(p) => {
                        self.settle(std::mem::take(&mut ready));
                        let msg = p.error.clone().unwrap_or_default();
                        self.health.fail(msg);
                        self.answer(p.answers);
                    }
                    FlushMsg::Close(reply) => closing = Some(reply),
                }
            }
            self.settle(ready);
            if let Some(reply) = closing {
                let result = if self.health.is_failed() {
                    Err(self.health.reason())
                } else {
                    self.log.make_durable().map_err(|e| e.to_string())
                };
                let _ = reply.send(result);
                return;
            }
        }
    }

    fn answer(&self, answers: Vec<(Reply, Result<Appended, AppendError>)>) {
        for (reply, answer) in answers {
            let _ = reply.send(answer);
        }
        if let Some(done) = &self.done {
            let _ = done.send(());
        }
    }

    /// One durable flush for all of `batches`, then publish the head, then answer.
    fn settle(&self, batches: Vec<Pending>) {
        if batches.is_empty() {
            return;
        }
        let head = batches.iter().filter_map(|p| p.head).next_back();
        let mut failure = None;
        if self.health.is_failed() {
            failure = Some(AppendError::Failed(self.health.reason()));
        } else if head.is_some() {
            let t0 = Instant::now();
            if let Err(e) = self.log.make_durable() {
                let msg = e.to_string();
                tracing::error!(error = %msg, "event log flush failed: fail-stop");
                self.health.fail(msg.clone());
                failure = Some(AppendError::Storage(msg));
            }
            self.health
                .flush_us
                .fetch_add(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
            self.health.flushes.fetch_add(1, Ordering::Relaxed);
        }
        if failure.is_none() {
            if let Some(head) = head {
                // Publish before answering, so an acknowledged caller reading back sees its own
                // events; subscribers wake here, after durability.
                self.head_tx.send_replace(head);
            }
        }
        for p in batches {
            match &failure {
                None => self.answer(p.answers),
                Some(err) => self.answer(
                    p.answers
                        .into_iter()
                        .map(|(r, _)| (r, Err(err.clone())))
                        .collect(),
                ),
            }
        }
    }
}
