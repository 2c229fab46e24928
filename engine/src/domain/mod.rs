//! The one-stop desk domain: pure types, calendar, catalog, rules, workflows, decide/apply.
//! Nothing here knows sled, tokio or the log: time comes in as data (`Context::now`,
//! `DossierEvent::at`), never from a clock.

pub mod events;
pub mod plan;
pub mod types;
