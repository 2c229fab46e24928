//! The dossier (hồ sơ): its state, the commands the desk issues, and the two pure functions
//! of event sourcing: `decide` (state + command -> events, or a refusal saying why) and
//! `apply` (state + event -> state). Neither reads a clock: `now` comes in the [`Context`].
//!
//! Which action is legal from which state and by which role is the dossier's workflow's
//! business (`workflow.rs`); what each action does to the state is fixed here.
//!
//! - `command.rs`: who acts ([`ActorRef`]), what they ask ([`Command`]), what else a decision
//!   reads ([`Context`]);
//! - `state.rs`: [`DossierState`], [`apply`], [`fold`], and what is read off a state;
//! - `authorization.rs`: [`authorize`]: the workflow transition, the actor's role and scope;
//! - [`precondition`]: the rules a decision checks beyond that, one function each;
//! - [`limits`]: the bounds of what a command may carry (lengths, counts, characters, the
//!   identity number's form), checked before `decide` reads anything else;
//! - `decision.rs`: [`decide`]: `authorize`, then one function per command;
//! - `recorded.rs`: [`check_recorded`]: the same rules judged against a recorded change, for
//!   `motcua-replay verify`;
//! - `recorded_by.rs`: [`check_recorded_by`]: who recorded it (the actor against the staff
//!   directory of its time, by `authorize`'s scope rule) and when (the business time against the
//!   recording time).

mod authorization;
mod command;
mod decision;
pub mod limits;
pub mod precondition;
mod recorded;
mod recorded_by;
mod state;

/// The one ownership rule, shared with a rating's decision (`engine/src/domain/rating.rs`).
pub(crate) use authorization::check_actor_scope;
pub use authorization::{acting_role, allowed_actions, authorize, Authorized};
pub use command::{action_of, ActorRef, Command, Context, Intake};
pub use decision::{decide, decide_with_role};
pub use recorded::{
    check_after_end, check_recorded, closes_desk_intake, opens_desk_intake, recorded_workflow,
    Breach, RecordedRule, RecordedVerdict,
};
pub use recorded_by::{
    check_recorded_by, DirectoryAsOf, RecordedActor, RecordedBy, CITIZEN_ACTOR_PREFIX,
    MAX_CLOCK_SKEW_MS,
};
pub use state::{
    apply, expected_phase, fold, judge, office_minutes_used, unit_calendar, DossierState,
    Timeliness,
};

/// The workflow used to explain refusals on a dossier that does not exist yet and whose
/// command names no procedure.
pub const DEFAULT_WORKFLOW: &str = "standard";

#[cfg(test)]
mod tests;
