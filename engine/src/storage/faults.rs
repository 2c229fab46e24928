//! Fault injection for tests: make a store write, flush or fdatasync fail with a chosen errno
//! (EIO, ENOSPC) to exercise the log's fail-stop path. Compiled only into test builds (the
//! engine's own tests, and crates that enable the engine's `fault-injection` feature as a
//! dev-dependency); a production build has neither the injector nor its seams.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use super::StorageError;

/// Where a fault can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// Any write: `KvTree::insert/remove/apply` and `Store::commit`.
    Write,
    /// sled's own flush.
    Flush,
    /// The `fdatasync` of the data file after the flush.
    Fsync,
}

/// A planned fault: after `skip` successful operations at `point`, fail with `errno`
/// (`libc`-style raw OS error, e.g. 5 = EIO, 28 = ENOSPC); once, or every time after if
/// `sticky`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultPlan {
    pub point: FaultPoint,
    pub skip: u64,
    pub errno: i32,
    pub sticky: bool,
}

/// EIO, for fault plans.
pub const EIO: i32 = 5;
/// ENOSPC, for fault plans.
pub const ENOSPC: i32 = 28;

/// Runtime fault-injection hook shared by every clone of a [`Store`]. Disarmed it costs one
/// relaxed atomic load per operation.
#[derive(Debug, Default)]
pub struct FaultInjector {
    armed: AtomicBool,
    plan: Mutex<Option<FaultPlan>>,
    seen: AtomicU64,
}

impl FaultInjector {
    /// Arms a fault plan (replacing any previous one).
    pub fn arm(&self, plan: FaultPlan) {
        if let Ok(mut p) = self.plan.lock() {
            *p = Some(plan);
            self.seen.store(0, Ordering::SeqCst);
            self.armed.store(true, Ordering::SeqCst);
        }
    }

    /// Removes any armed fault.
    pub fn disarm(&self) {
        if let Ok(mut p) = self.plan.lock() {
            *p = None;
            self.armed.store(false, Ordering::SeqCst);
        }
    }

    pub(super) fn check(&self, point: FaultPoint) -> Result<(), StorageError> {
        if !self.armed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Ok(mut guard) = self.plan.lock() else {
            return Ok(());
        };
        let Some(plan) = *guard else {
            return Ok(());
        };
        if plan.point != point {
            return Ok(());
        }
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        if n < plan.skip {
            return Ok(());
        }
        if !plan.sticky {
            *guard = None;
            self.armed.store(false, Ordering::SeqCst);
        }
        Err(StorageError::Injected {
            point,
            source: io::Error::from_raw_os_error(plan.errno),
        })
    }
}
