//! Who recorded a dossier change, and when, judged against what `decide` would have accepted:
//! [`check_recorded`](super::check_recorded) asks whether the *role* the envelope names could
//! take the action; [`check_recorded_by`] asks whether the *actor* it names could act in that
//! role at all, and whether the change's business time fits the time the log recorded it.
//! `motcua-replay verify` asks it for every dossier event, so an envelope rewritten to name a
//! clerk, a stranger or a deactivated account as the signing leader is found even when the
//! chain was re-hashed around it.
//!
//! The actor rules are `authorize`'s, against the staff directory as it stood at the event's
//! seq: a staff actor exists, is active, holds the recorded role, and is in scope for the
//! dossier (its unit, a specialist's fields, an assigned dossier's assignee: the one
//! `check_staff_scope` that `authorize` runs); a `citizen:<account>` actor acts only in the
//! citizen role, and a staff member never does on an existing dossier.
//!
//! The time rule: a command's business time is the server's clock when it decided (`now`), and
//! the log stamps `recorded_at` from its own clock just after, never earlier than the previous
//! event; so a change taken live has `at` equal to `recorded_at` to within the time the append
//! took. A business time may lie before its recording (a history entered after the fact, as the
//! demo's 2023 desk is seeded through the same commands later), never after it by more than
//! [`MAX_CLOCK_SKEW_MS`]: a signature moved three days forward to turn an early resolution into
//! a late one changes `at`, but cannot change the `recorded_at` of the signature (nor of the
//! events after it) without breaking the order the chain checks. Moved back in time instead, a
//! business time stays before its recording and this rule cannot tell it from a history entered
//! after the fact.

use crate::domain::directory::Directory;
use crate::domain::error::DomainError;
use crate::domain::events::{DossierChange, DossierEvent};
use crate::domain::types::{Field, Role, StaffId, Timestamp, UnitCode};
use crate::domain::workflow::Phase;

use super::authorization::check_staff_scope;
use super::recorded::{Breach, RecordedRule};
use super::state::DossierState;

/// How much later than its recording a change's business time may be: the server's clock and
/// the log's clock are the same machine's, read a few milliseconds apart; a minute leaves room
/// for a clock stepped back by NTP between the decision and the append, and is far below what
/// moves a resolution from one day to the next, which is what changes a figure.
pub const MAX_CLOCK_SKEW_MS: i64 = 60_000;

/// The prefix of a citizen's actor id (`ActorRef::id`): `citizen:<portal account>`.
pub const CITIZEN_ACTOR_PREFIX: &str = "citizen:";

/// The actor an envelope records, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedActor<'a> {
    /// A staff id.
    Staff(StaffId),
    /// A citizen through the portal, by account.
    Citizen(&'a str),
    /// Neither: not a staff id, nor a citizen's account.
    Unreadable(&'a str),
}

impl<'a> RecordedActor<'a> {
    /// Reads an envelope's actor as [`ActorRef::id`](super::ActorRef::id) writes it.
    pub fn parse(actor: &'a str) -> RecordedActor<'a> {
        if let Some(account) = actor.strip_prefix(CITIZEN_ACTOR_PREFIX) {
            return if account.is_empty() {
                RecordedActor::Unreadable(actor)
            } else {
                RecordedActor::Citizen(account)
            };
        }
        match actor.parse::<StaffId>() {
            Ok(id) => RecordedActor::Staff(id),
            Err(_) => RecordedActor::Unreadable(actor),
        }
    }
}

/// What the envelope says about who recorded a change and when.
#[derive(Debug, Clone, Copy)]
pub struct RecordedBy<'a> {
    /// The envelope's actor id.
    pub actor: &'a str,
    /// The envelope's role.
    pub role: Role,
    /// When the log recorded the change.
    pub recorded_at: Timestamp,
}

/// The staff directory a change is judged against: the directory as of the change's seq, and
/// whether it holds every staff event before that seq (a range archive starting mid-log does
/// not: a staff member it has never seen may have been registered before its first seq).
#[derive(Debug, Clone, Copy)]
pub struct DirectoryAsOf<'a> {
    pub directory: &'a Directory,
    pub complete: bool,
}

/// Judges the actor and the business time of `ev`, recorded by `by` on a dossier in `state`
/// (as it stood before `ev`), with the staff directory `directory` as of `ev`'s seq. Every rule
/// broken, in the order checked; empty when `decide` could have made this change, by this actor,
/// at this time.
pub fn check_recorded_by(
    state: &DossierState,
    ev: &DossierEvent,
    by: RecordedBy<'_>,
    directory: DirectoryAsOf<'_>,
) -> Vec<Breach> {
    let mut breaches = Vec::new();
    let kind = ev.change.event_type();
    if let Err(detail) = check_actor(state, ev, by, directory) {
        breaches.push(Breach {
            rule: RecordedRule::Actor,
            detail: format!("{kind}: {detail}"),
        });
    }
    if let Err(detail) = check_time(ev.at, by.recorded_at) {
        breaches.push(Breach {
            rule: RecordedRule::Time,
            detail: format!("{kind}: {detail}"),
        });
    }
    breaches
}

/// The actor rules; the first one broken, said.
fn check_actor(
    state: &DossierState,
    ev: &DossierEvent,
    by: RecordedBy<'_>,
    directory: DirectoryAsOf<'_>,
) -> Result<(), String> {
    let role = by.role;
    let id = match RecordedActor::parse(by.actor) {
        RecordedActor::Unreadable(a) => {
            return Err(format!(
                "actor {a:?} is neither a staff id nor {CITIZEN_ACTOR_PREFIX}<account>"
            ))
        }
        RecordedActor::Citizen(_) if role == Role::Citizen => return Ok(()),
        RecordedActor::Citizen(account) => {
            return Err(format!(
                "citizen account {account} recorded in role {role}: a citizen acts only as a \
                 citizen"
            ))
        }
        RecordedActor::Staff(id) => id,
    };
    let Some(staff) = directory.directory.staff(&id) else {
        if !directory.complete {
            // Registered before the archive's first seq, perhaps: nothing to judge against.
            return Ok(());
        }
        return Err(format!(
            "staff {id} recorded in role {role} is not in the staff directory"
        ));
    };
    if !staff.active {
        return Err(format!(
            "staff {id} recorded in role {role} was deactivated before this change"
        ));
    }
    if !staff.roles.contains(&role) {
        let held: Vec<&str> = staff.roles.iter().map(|r| r.as_str()).collect();
        return Err(format!(
            "staff {id} recorded in role {role} does not hold it (holds: {})",
            held.join(", ")
        ));
    }
    let Some((unit, field)) = dossier_scope(state, &ev.change) else {
        // A change on a dossier with neither submission nor receipt: the transition check
        // names it.
        return Ok(());
    };
    // `authorize`'s one scope check, the citizen role on an existing dossier included.
    check_staff_scope(state, staff, role, unit, field).map_err(|e| scope_detail(role, &e))
}

/// The unit and field the actor must be in scope for: the dossier's, or those its creating
/// change names.
fn dossier_scope<'a>(
    state: &'a DossierState,
    change: &'a DossierChange,
) -> Option<(&'a UnitCode, &'a Field)> {
    match change {
        DossierChange::Received(r) => Some((&r.unit, &r.field)),
        DossierChange::SubmittedOnline(s) if state.phase == Phase::None => {
            Some((&s.unit, &s.field))
        }
        _ => state.unit_and_field(),
    }
}

fn scope_detail(role: Role, e: &DomainError) -> String {
    format!("acting in role {role} out of scope: {e}")
}

/// The business time is not later than the recording, beyond the skew.
fn check_time(at: Timestamp, recorded_at: Timestamp) -> Result<(), String> {
    let ahead = at.0.saturating_sub(recorded_at.0);
    if ahead <= MAX_CLOCK_SKEW_MS {
        return Ok(());
    }
    Err(format!(
        "business time {} is {} after the log recorded it at {} (a change taken live has its \
         business time equal to its recording time, at most {} s apart)",
        utc(at),
        span(ahead),
        utc(recorded_at),
        MAX_CLOCK_SKEW_MS / 1000
    ))
}

/// An instant in UTC to the second, as the log's clock counts it.
fn utc(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(t.0).map_or_else(
        || format!("{} ms", t.0),
        |d| d.format("%Y-%m-%d %H:%M:%SZ").to_string(),
    )
}

/// A duration in days, hours and minutes (seconds below a minute).
fn span(ms: i64) -> String {
    let s = ms / 1000;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, m) => format!("{d} d {h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::dossier::apply;
    use crate::domain::events::{DraftKind, StaffEvent};
    use crate::domain::testkit::{self, t};
    use crate::domain::workflow::Phase;

    /// The fixture commune's directory (tn-01, cm-01 of every field, cm-02 of land, ld-01; ld-99
    /// of another unit), and cm-03, a second civil-status specialist.
    fn directory() -> Directory {
        let mut d = testkit::reference().directory;
        let cm3 = testkit::staff("cm-03", Role::Specialist, &["ho-tich"], testkit::unit());
        d.apply_staff(&StaffEvent::Registered(cm3));
        d
    }

    /// A civil-status dossier received by tn-01, assigned to cm-01, its result awaiting signature.
    fn awaiting_signature() -> DossierState {
        let r = testkit::reference();
        testkit::state_in(&r, Phase::AwaitingApproval, DraftKind::Result)
    }

    fn ev(at: Timestamp, change: DossierChange) -> DossierEvent {
        DossierEvent {
            code: testkit::code(1),
            at,
            change,
        }
    }

    fn approve(at: Timestamp) -> DossierEvent {
        ev(at, DossierChange::Approved { note: "ký".into() })
    }

    fn judged(
        state: &DossierState,
        e: &DossierEvent,
        actor: &str,
        role: Role,
        d: &Directory,
    ) -> Vec<Breach> {
        let by = RecordedBy {
            actor,
            role,
            recorded_at: e.at,
        };
        let full = DirectoryAsOf {
            directory: d,
            complete: true,
        };
        check_recorded_by(state, e, by, full)
    }

    fn check(state: &DossierState, e: &DossierEvent, actor: &str, role: Role) -> Vec<Breach> {
        judged(state, e, actor, role, &directory())
    }

    fn rules(b: &[Breach]) -> Vec<&'static str> {
        b.iter().map(|b| b.rule.as_str()).collect()
    }

    #[test]
    fn the_leader_of_the_unit_signs_clean() {
        let s = awaiting_signature();
        assert!(check(&s, &approve(t(3, 6, 11, 0)), "ld-01", Role::Leader).is_empty());
    }

    #[test]
    fn a_clerk_recorded_as_the_leader_is_named() {
        let s = awaiting_signature();
        let b = check(&s, &approve(t(3, 6, 11, 0)), "tn-01", Role::Leader);
        assert_eq!(rules(&b), ["actor"]);
        assert_eq!(
            b[0].detail,
            "dossier.approved: staff tn-01 recorded in role leader does not hold it (holds: \
             reception)"
        );
    }

    #[test]
    fn an_unknown_or_unreadable_actor_is_named_unless_the_directory_is_partial() {
        let s = awaiting_signature();
        let e = approve(t(3, 6, 11, 0));
        let b = check(&s, &e, "ld-42", Role::Leader);
        assert_eq!(rules(&b), ["actor"]);
        assert!(
            b[0].detail
                .contains("ld-42 recorded in role leader is not in the staff directory"),
            "{}",
            b[0].detail
        );
        let d = directory();
        let by = RecordedBy {
            actor: "ld-42",
            role: Role::Leader,
            recorded_at: e.at,
        };
        let partial = DirectoryAsOf {
            directory: &d,
            complete: false,
        };
        assert!(check_recorded_by(&s, &e, by, partial).is_empty());
        let b = check(&s, &e, "Lãnh đạo", Role::Leader);
        assert_eq!(rules(&b), ["actor"]);
        assert!(
            b[0].detail.contains("neither a staff id"),
            "{}",
            b[0].detail
        );
    }

    #[test]
    fn a_deactivated_leader_or_one_of_another_unit_is_named() {
        let s = awaiting_signature();
        let e = approve(t(3, 6, 11, 0));
        let mut d = directory();
        let mut ld = testkit::staff("ld-01", Role::Leader, &[], testkit::unit());
        ld.active = false;
        d.apply_staff(&StaffEvent::Updated(ld));
        let b = judged(&s, &e, "ld-01", Role::Leader, &d);
        assert_eq!(rules(&b), ["actor"]);
        assert!(b[0].detail.contains("deactivated"), "{}", b[0].detail);
        let b = check(&s, &e, "ld-99", Role::Leader);
        assert_eq!(rules(&b), ["actor"]);
        assert!(
            b[0].detail.contains("ld-99 belongs to unit 000.00.00.G11"),
            "{}",
            b[0].detail
        );
    }

    #[test]
    fn a_specialist_acts_in_their_field_and_on_their_own_dossier() {
        let sent_back = ev(
            t(3, 6, 11, 0),
            DossierChange::SentBack {
                comments: "sửa".into(),
            },
        );
        let s = apply(awaiting_signature(), &sent_back);
        let sign = ev(
            t(3, 6, 14, 0),
            DossierChange::SubmittedForSigning {
                draft: DraftKind::Result,
                note: String::new(),
            },
        );
        assert!(check(&s, &sign, "cm-01", Role::Specialist).is_empty());
        // Another specialist of the field: the dossier is assigned to cm-01.
        let b = check(&s, &sign, "cm-03", Role::Specialist);
        assert_eq!(rules(&b), ["actor"]);
        assert!(b[0].detail.contains("cm-01"), "{}", b[0].detail);
        // A specialist of another field.
        let b = check(&s, &sign, "cm-02", Role::Specialist);
        assert_eq!(rules(&b), ["actor"]);
        assert!(b[0].detail.contains("ho-tich"), "{}", b[0].detail);
    }

    #[test]
    fn citizens_act_only_as_citizens_and_staff_never_as_one() {
        let s = awaiting_signature();
        let withdraw = ev(
            t(3, 6, 11, 0),
            DossierChange::Withdrawn {
                reason: "rút".into(),
            },
        );
        assert!(check(&s, &withdraw, "citizen:cong-dvc", Role::Citizen).is_empty());
        let b = check(
            &s,
            &approve(t(3, 6, 11, 0)),
            "citizen:cong-dvc",
            Role::Leader,
        );
        assert_eq!(rules(&b), ["actor"]);
        for actor in ["tn-01", "citizen:"] {
            let b = check(&s, &withdraw, actor, Role::Citizen);
            assert_eq!(rules(&b), ["actor"], "{actor}");
        }
    }

    #[test]
    fn a_business_time_later_than_its_recording_is_named() {
        let s = awaiting_signature();
        let d = directory();
        let full = DirectoryAsOf {
            directory: &d,
            complete: true,
        };
        let recorded_at = t(3, 6, 11, 0);
        let by = |actor| RecordedBy {
            actor,
            role: Role::Leader,
            recorded_at,
        };
        let later = |ms: i64| Timestamp(recorded_at.0 + ms);
        // Earlier (entered after the fact) and up to the skew later: accepted.
        for at in [t(3, 6, 10, 45), recorded_at, later(MAX_CLOCK_SKEW_MS)] {
            assert!(check_recorded_by(&s, &approve(at), by("ld-01"), full).is_empty());
        }
        let b = check_recorded_by(
            &s,
            &approve(later(MAX_CLOCK_SKEW_MS + 1)),
            by("ld-01"),
            full,
        );
        assert_eq!(rules(&b), ["time"]);
        let b = check_recorded_by(&s, &approve(later(3 * 86_400_000)), by("tn-01"), full);
        assert_eq!(rules(&b), ["actor", "time"]);
        assert_eq!(
            b[1].detail,
            "dossier.approved: business time 2023-03-09 04:00:00Z is 3 d 0 h 0 min after the \
             log recorded it at 2023-03-06 04:00:00Z (a change taken live has its business time \
             equal to its recording time, at most 60 s apart)"
        );
    }

    #[test]
    fn recorded_actors_parse_as_ids_write_them() {
        assert_eq!(
            RecordedActor::parse("tn-01"),
            RecordedActor::Staff("tn-01".parse().unwrap())
        );
        assert_eq!(
            RecordedActor::parse("citizen:cong-dvc"),
            RecordedActor::Citizen("cong-dvc")
        );
        assert_eq!(RecordedActor::parse(""), RecordedActor::Unreadable(""));
        assert_eq!(
            RecordedActor::parse("tn 01"),
            RecordedActor::Unreadable("tn 01")
        );
    }
}
