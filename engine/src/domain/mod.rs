//! The one-stop desk domain: pure types, calendar, catalog, rules, workflows, and every
//! decision: a dossier's (`dossier/`: authorize, then one function per command), reference
//! data's (`reference/`: `decide_reference`) and a reform plan's (`plan/`: `decide_plan`).
//! Nothing here knows sled, tokio or the log: time comes in as data (`Context::now`,
//! `DossierEvent::at`), never from a clock.

pub mod calendar;
pub mod catalog;
pub mod directory;
pub mod dossier;
pub mod error;
pub mod events;
pub mod events_v1;
pub mod files;
pub mod personal;
pub mod plan;
pub mod rating;
pub mod reference;
pub mod rules;
pub mod secret;
pub mod slips;
#[cfg(test)]
pub(crate) mod testkit;
pub mod text;
pub mod types;
pub mod workflow;

pub use dossier::{
    acting_role, action_of, allowed_actions, apply, decide, decide_with_role, fold, judge,
    ActorRef, Command, Context, DossierState, Intake, Timeliness,
};
pub use error::DomainError;
pub use reference::ReferenceData;
pub use secret::{SecretDigest, SecretProof};
pub use workflow::{Action, Phase};
