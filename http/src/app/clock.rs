//! The business clock: the one `now()` every command and query of the server reads (due times,
//! overdue lists, the catalog in force today, a plan's live dashboard).

use motcua_engine::domain::types::Timestamp;

/// The current instant, in the domain's time type.
pub fn now() -> Timestamp {
    Timestamp::from_utc(chrono::Utc::now())
}
