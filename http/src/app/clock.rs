//! The business clock: the one `now()` every command and query of the server reads (due times,
//! overdue lists, the catalog in force today, a plan's live dashboard).

use motcua_engine::domain::calendar::{from_local, local_date};
use motcua_engine::domain::types::Timestamp;

/// The current instant, in the domain's time type.
pub fn now() -> Timestamp {
    Timestamp::from_utc(chrono::Utc::now())
}

/// The commune's local date now (what daily codes and daily quotas count by).
pub fn today() -> chrono::NaiveDate {
    local_date(now())
}

/// Whole seconds until the commune's next local day begins (at least 1): when a daily quota
/// is available again.
pub fn seconds_until_tomorrow() -> u64 {
    let now = now();
    let next = today()
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(from_local);
    next.map_or(1, |t| {
        u64::try_from((t.0 - now.0).div_euclid(1000)).map_or(1, |s| s.max(1))
    })
}
