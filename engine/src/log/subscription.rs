//! Subscriptions: read the log from a seq, catching up from storage and then following live
//! appends. Woken through the writer's `watch` channel, which the writer updates only after a
//! batch is durable (never sled's `watch_prefix`, which fires before durability and can block
//! the writer). The switch from catch-up to live has no gap and no duplicate because both read
//! the same `events` tree by seq, bounded by the published durable head.

use std::collections::VecDeque;

use tokio::sync::watch;

use super::envelope::{Envelope, Position};
use super::error::LogError;
use super::limits::SUBSCRIPTION_CHUNK;
use super::EventLog;

pub struct Subscription {
    log: EventLog,
    after: u64,
    buf: VecDeque<Envelope>,
    head_rx: watch::Receiver<Position>,
}

impl Subscription {
    pub(crate) fn new(log: EventLog, after_seq: u64, head_rx: watch::Receiver<Position>) -> Self {
        Subscription {
            log,
            after: after_seq,
            buf: VecDeque::new(),
            head_rx,
        }
    }

    /// The seq of the last event returned (or the starting point).
    pub fn position(&self) -> u64 {
        self.after
    }

    /// The next event after the last one returned; waits for it if the log has no more yet.
    /// `Err(LogError::Closed)` once the log is closed and everything durable was delivered.
    pub async fn next(&mut self) -> Result<Envelope, LogError> {
        loop {
            if let Some(env) = self.buf.pop_front() {
                debug_assert_eq!(env.seq, self.after + 1, "subscription skipped or repeated");
                self.after = env.seq;
                return Ok(env);
            }
            // Mark the current head as seen BEFORE reading, so an append landing between the
            // read and the wait still wakes us (no lost wake-up).
            let head = self.head_rx.borrow_and_update().seq;
            if head > self.after {
                let batch = self.log.read_range(self.after, SUBSCRIPTION_CHUNK, head)?;
                if batch.is_empty() {
                    return Err(LogError::Corrupt {
                        seq: self.after + 1,
                        detail: "missing below the durable head".into(),
                    });
                }
                self.buf.extend(batch);
                continue;
            }
            if self.head_rx.changed().await.is_err() && self.head_rx.borrow().seq <= self.after {
                return Err(LogError::Closed);
            }
        }
    }
}
