//! Clocks: where `recorded_at` comes from. The writer stamps each batch with
//! `max(clock.now_ms(), previous recorded_at)`, so the log's time never goes backwards even if
//! the system clock does; tests and demo seeding use [`ManualClock`] to record at chosen times.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A source of UTC unix milliseconds.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A settable clock shared by clones (tests, demo seeding).
#[derive(Debug, Default, Clone)]
pub struct ManualClock {
    ms: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn new(ms: i64) -> ManualClock {
        ManualClock {
            ms: Arc::new(AtomicI64::new(ms)),
        }
    }
    pub fn set(&self, ms: i64) {
        self.ms.store(ms, Ordering::SeqCst);
    }
    pub fn advance(&self, ms: i64) {
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn get(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.get()
    }
}
