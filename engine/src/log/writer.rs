//! The single writer: owns every append. It runs on a dedicated OS thread (sled calls and the
//! fdatasync block), takes requests from a bounded queue, and per group-commit batch:
//! checks idempotency and expected versions (counting earlier requests of the same batch),
//! assigns seqs from its own counter, stamps `recorded_at = max(clock, previous)`, chains hashes,
//! commits events + indexes + meta in ONE sled transaction, makes it durable
//! (`Store::flush_durable`), and only then publishes the new head and acknowledges.
//!
//! Fail-stop: if the commit or the flush fails, nobody in the batch is acknowledged, the log is
//! marked failed and every later append is refused; reads keep working on the durable head.
//! Continuing after a failed fsync is unsafe (the kernel may have dropped the dirty pages), so
//! the only recovery is a restart, which re-checks the tail on open.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, watch};

use super::envelope::{Appended, Envelope, EventId, ExpectedVersion, NewEvent, Position, StreamId};
use super::error::{AppendError, LogError};
use super::limits::LogConfig;
use super::reader::{seq_key, stream_key, MetaHead, Trees, META_HEAD};
use crate::codec;
use crate::storage::{Batch, Store};

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

/// Fail-stop state shared between the writer and the `EventLog` handles.
#[derive(Default)]
pub(crate) struct Health {
    failed: AtomicBool,
    reason: Mutex<Option<String>>,
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
    fn fail(&self, reason: String) {
        if let Ok(mut r) = self.reason.lock() {
            r.get_or_insert(reason);
        }
        self.failed.store(true, Ordering::SeqCst);
    }
}

pub(crate) struct Writer {
    pub store: Store,
    pub trees: Trees,
    pub config: LogConfig,
    pub health: Arc<Health>,
    pub head_tx: watch::Sender<Position>,
    pub head: MetaHead,
}

/// What the checks decided for one request.
enum Decision {
    /// Refused or deduplicated: answer is known, nothing to write.
    Answer(Result<Appended, AppendError>),
    /// Accepted: its envelopes are `staged[range]`.
    Write(std::ops::Range<usize>),
}

impl Writer {
    pub fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        loop {
            let Some(first) = rx.blocking_recv() else {
                // Every handle is gone: nothing can be waiting for an ack, just flush.
                let _ = self.store.flush_durable();
                return;
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
            // Group commit: take whatever queued up while the previous batch was flushing.
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
                self.process(requests);
            }
            if let Some(reply) = close {
                let result = if self.health.is_failed() {
                    Err(self.health.reason())
                } else {
                    self.store.flush_durable().map_err(|e| e.to_string())
                };
                let _ = reply.send(result);
                return;
            }
        }
    }

    fn process(&mut self, requests: Vec<AppendRequest>) {
        if self.health.is_failed() {
            let reason = self.health.reason();
            for r in requests {
                let _ = r.reply.send(Err(AppendError::Failed(reason.clone())));
            }
            return;
        }
        let recorded_at_ms = self.config.clock.now_ms().max(self.head.recorded_at_ms);
        let mut staged: Vec<Envelope> = Vec::new();
        let mut pending_versions: HashMap<StreamId, u64> = HashMap::new();
        let mut pending_ids: HashMap<EventId, usize> = HashMap::new();
        let mut decisions = Vec::with_capacity(requests.len());
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

        if !staged.is_empty() {
            if let Err(e) = self.commit(&staged, recorded_at_ms) {
                let msg = e.to_string();
                tracing::error!(error = %msg, "event log commit failed: fail-stop");
                self.health.fail(msg.clone());
                for r in requests {
                    let _ = r.reply.send(Err(AppendError::Storage(msg.clone())));
                }
                return;
            }
            // Only now is the batch durable: publish the head first (so an acknowledged
            // caller reading back sees its own events), then acknowledge.
            let last = &staged[staged.len() - 1];
            self.head = MetaHead {
                seq: last.seq,
                hash: last.hash,
                recorded_at_ms,
            };
            self.head_tx.send_replace(Position {
                seq: last.seq,
                hash: last.hash,
            });
        }

        for (req, decision) in requests.into_iter().zip(decisions) {
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
            let _ = req.reply.send(answer);
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
        match self.trees.event_ids.get(id.0)? {
            Some(v) => {
                let seq = super::reader::be_u64(&v, "event_ids index value")?;
                self.trees.must_get_event(seq).map(Some)
            }
            None => Ok(None),
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
        let actual = match pending_versions.get(&req.stream) {
            Some(&v) => v,
            None => self.trees.stream_version(&req.stream, u64::MAX)?,
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

    /// One transaction for the whole batch, then the durable flush.
    fn commit(&self, staged: &[Envelope], recorded_at_ms: i64) -> Result<(), LogError> {
        let mut events = Batch::new();
        let mut streams = Batch::new();
        let mut ids = Batch::new();
        let mut meta = Batch::new();
        let mut expect_seq = self.head.seq;
        for env in staged {
            expect_seq += 1;
            // Internal invariant: the writer's counter is gapless. A violation is a bug, and
            // writing a gap would poison the log for every reader, so stop hard.
            assert_eq!(env.seq, expect_seq, "writer produced a non-contiguous seq");
            events.insert(seq_key(env.seq).to_vec(), codec::encode_record(env));
            streams.insert(
                stream_key(&env.stream, env.version),
                seq_key(env.seq).to_vec(),
            );
            ids.insert(env.event_id.0.to_vec(), seq_key(env.seq).to_vec());
        }
        let Some(last) = staged.last() else {
            return Ok(());
        };
        let head = MetaHead {
            seq: last.seq,
            hash: last.hash,
            recorded_at_ms,
        };
        meta.insert(META_HEAD.to_vec(), codec::encode(&head));
        self.store.commit(&[
            (&self.trees.events, &events),
            (&self.trees.streams, &streams),
            (&self.trees.event_ids, &ids),
            (&self.trees.meta, &meta),
        ])?;
        self.store.flush_durable()?;
        Ok(())
    }
}
