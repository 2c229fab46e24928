//! motcua-testkit: what the tests and the benches of every crate share, kept out of the library
//! crates so that no production build contains it.
//!
//! - [`synth`]: synthetic but valid desk histories (random walks of the transition table), as
//!   events, as `Recorded` events, or appended through a real log;
//! - [`calendarise`]: makes a synthetic history's recorded dates follow the calendar, so
//!   `motcua-replay verify` finds it clean;
//! - [`fs`]: byte-for-byte snapshots of a directory, deterministic junk bytes, directory copies
//!   (the damaged-directory tests);
//! - [`cpu`]: per-thread and per-process CPU seconds (the benches report CPU beside wall time);
//! - [`postgres`]: a throwaway PostgreSQL cluster per test process, a fresh database per test.
//!
//! It depends on the engine's public API only. The engine's own unit tests cannot use it (they
//! would see a second copy of the engine's types); tests that need it live in `engine/tests/`.

pub mod calendarise;
pub mod cpu;
pub mod fs;
pub mod postgres;
pub mod synth;

use motcua_engine::domain::events::Event;
use motcua_engine::domain::types::Role;
use motcua_engine::log::{Actor, NewEvent};
use motcua_engine::recorded::encode_events;

/// An event of type `Test` whose payload is `payload` as given: what tests of the log itself
/// append (the log never looks inside a payload).
pub fn raw_event(payload: &[u8]) -> NewEvent {
    NewEvent {
        event_id: None,
        event_type: "Test".into(),
        schema_version: 1,
        actor: Actor {
            staff: "s-01".into(),
            role: "reception".into(),
        },
        correlation_id: None,
        causation_id: None,
        payload: payload.to_vec(),
    }
}

/// `event` as the log appends it, by `actor` in `role`, under an id the log assigns.
pub fn new_event(actor: &str, role: Role, event: &Event) -> NewEvent {
    let actor = Actor {
        staff: actor.to_owned(),
        role: role.as_str().to_owned(),
    };
    let mut events = encode_events(std::slice::from_ref(event), &actor, None);
    // One event in, one out.
    events.swap_remove(0)
}
