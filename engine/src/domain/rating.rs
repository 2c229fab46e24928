//! A citizen's rating of how satisfied they are with a dossier's handling, given after the
//! result is handed over: the figure behind the satisfaction group of the service-quality
//! index (Decision 766/QĐ-TTg of 23/6/2022; `docs/domain/statistics.md`).
//!
//! A handed-over dossier is in a terminal state of its workflow, which no transition leaves,
//! so a rating is not a dossier transition: it is its own event on its own stream
//! (`rating/<dossier code>`, `engine/src/streams.rs`), one per dossier. The decision is pure:
//! [`decide_rating`] takes the dossier's state, whether the rating stream already holds a
//! rating, and the actor; the ownership rule is the dossier's own (the citizen's
//! [`SecretProof`](crate::domain::secret::SecretProof) of the dossier's digest, judged by
//! `check_actor_scope`), never a second one. [`check_recorded_rating`] judges a recorded
//! rating by the same rules, less the secret the log never holds (what `motcua-replay verify`
//! asks).

use serde::{Deserialize, Serialize};

use super::dossier::{check_actor_scope, ActorRef, DossierState, RecordedActor};
use super::error::DomainError;
use super::types::{DossierCode, Role, Timestamp, UnitCode};
use super::workflow::Phase;

/// The longest comment a rating carries, in characters (one short line).
pub const MAX_RATING_COMMENT_CHARS: usize = 300;

/// How satisfied the citizen is: the three levels of the portal's rating (see
/// `docs/domain/statistics.md` for what could and could not be confirmed of the scale).
/// Stored: variants are only ever appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SatisfactionLevel {
    /// Rất hài lòng.
    VerySatisfied,
    /// Hài lòng.
    Satisfied,
    /// Không hài lòng.
    Dissatisfied,
}

impl SatisfactionLevel {
    pub const ALL: [SatisfactionLevel; 3] = [
        SatisfactionLevel::VerySatisfied,
        SatisfactionLevel::Satisfied,
        SatisfactionLevel::Dissatisfied,
    ];

    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SatisfactionLevel::VerySatisfied => "very_satisfied",
            SatisfactionLevel::Satisfied => "satisfied",
            SatisfactionLevel::Dissatisfied => "dissatisfied",
        }
    }

    pub fn parse(s: &str) -> Option<SatisfactionLevel> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The words a citizen reads.
    pub fn label(self) -> &'static str {
        match self {
            SatisfactionLevel::VerySatisfied => "Rất hài lòng",
            SatisfactionLevel::Satisfied => "Hài lòng",
            SatisfactionLevel::Dissatisfied => "Không hài lòng",
        }
    }

    /// Whether the level counts as satisfied in the satisfied share.
    pub fn is_satisfied(self) -> bool {
        !matches!(self, SatisfactionLevel::Dissatisfied)
    }

    /// The one-byte code of the statistics index.
    pub fn code(self) -> u8 {
        match self {
            SatisfactionLevel::VerySatisfied => 1,
            SatisfactionLevel::Satisfied => 2,
            SatisfactionLevel::Dissatisfied => 3,
        }
    }

    pub fn from_code(c: u8) -> Option<SatisfactionLevel> {
        Self::ALL.into_iter().find(|l| l.code() == c)
    }
}

/// Events of the `rating/<dossier code>` stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RatingEvent {
    /// The citizen rated the handling of `dossier` after its hand-over.
    Given {
        dossier: DossierCode,
        level: SatisfactionLevel,
        /// The dossier's unit, recorded so the statistics group the rating without the
        /// dossier's history.
        recorded_for: UnitCode,
        /// An optional short comment (one line, at most [`MAX_RATING_COMMENT_CHARS`]).
        comment: String,
        /// Business time of the rating.
        at: Timestamp,
    },
}

/// The decision on a rating of the dossier in `state` by `actor`: a citizen proving the
/// dossier is theirs (the dossier's own scope rule), of a handed-over dossier, once
/// (`already_rated`: the rating stream is not empty).
pub fn decide_rating(
    state: &DossierState,
    already_rated: bool,
    actor: &ActorRef,
    level: SatisfactionLevel,
    comment: &str,
    at: Timestamp,
) -> Result<RatingEvent, DomainError> {
    let roles = actor.roles();
    if !roles.contains(&Role::Citizen) {
        return Err(DomainError::Forbidden {
            action: "rate".into(),
            required_roles: vec![Role::Citizen],
            actor_roles: roles,
        });
    }
    let (code, unit, field) = match (&state.code, state.unit_and_field()) {
        (Some(c), Some((u, f))) => (c.clone(), u.clone(), f.clone()),
        _ => return Err(DomainError::WrongSecret),
    };
    check_actor_scope(state, actor, Role::Citizen, &unit, &field)?;
    check_rating_rules(state.phase, already_rated, comment)?;
    Ok(RatingEvent::Given {
        dossier: code,
        level,
        recorded_for: unit,
        comment: comment.to_owned(),
        at,
    })
}

/// A recorded rating judged by [`decide_rating`]'s rules, less the secret the log never
/// holds: recorded by a citizen actor (`citizen:<account>`) in the citizen role, of a dossier
/// in `phase`, the first of its stream (`already_rated`), its comment within the limits,
/// `recorded_for` the dossier's unit (`unit`, when the checker knows it).
pub fn check_recorded_rating(
    phase: Phase,
    unit: Option<&UnitCode>,
    already_rated: bool,
    actor: &str,
    role: Role,
    event: &RatingEvent,
) -> Result<(), DomainError> {
    let RatingEvent::Given {
        recorded_for,
        comment,
        ..
    } = event;
    // The one reading of a recorded actor (`citizen:` with an empty account is unreadable).
    if role != Role::Citizen || !matches!(RecordedActor::parse(actor), RecordedActor::Citizen(_)) {
        return Err(DomainError::Forbidden {
            action: "rate".into(),
            required_roles: vec![Role::Citizen],
            actor_roles: vec![role],
        });
    }
    if unit.is_some_and(|u| u != recorded_for) {
        return Err(DomainError::validation(
            "recorded_for",
            "is not the dossier's unit",
        ));
    }
    check_rating_rules(phase, already_rated, comment)
}

/// The rules of a rating both functions above judge: after hand-over, once, a short comment.
fn check_rating_rules(phase: Phase, already_rated: bool, comment: &str) -> Result<(), DomainError> {
    if phase != Phase::Returned {
        return Err(DomainError::validation(
            "dossier",
            "a dossier is rated only after its result is handed over",
        ));
    }
    if already_rated {
        return Err(DomainError::validation(
            "dossier",
            "the dossier has already been rated",
        ));
    }
    if comment.chars().count() > MAX_RATING_COMMENT_CHARS || comment.chars().any(char::is_control) {
        return Err(DomainError::validation(
            "comment",
            format!("one line of at most {MAX_RATING_COMMENT_CHARS} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::DraftKind;
    use crate::domain::testkit::{reception, reference, secret_proof, state_in};

    fn citizen(proof: bool) -> ActorRef {
        ActorRef::Citizen {
            account: "acc-1".into(),
            lookup_proof: if proof { secret_proof() } else { None },
        }
    }

    fn state_at(phase: Phase) -> DossierState {
        state_in(&reference(), phase, DraftKind::Result)
    }

    #[test]
    fn a_citizen_with_the_proof_rates_a_handed_over_dossier_once() {
        let s = state_at(Phase::Returned);
        let ev = decide_rating(
            &s,
            false,
            &citizen(true),
            SatisfactionLevel::Satisfied,
            "Cán bộ tận tình",
            Timestamp(1),
        )
        .unwrap();
        let RatingEvent::Given {
            dossier,
            level,
            recorded_for,
            ..
        } = &ev;
        assert_eq!(Some(dossier), s.code.as_ref());
        assert_eq!(*level, SatisfactionLevel::Satisfied);
        assert_eq!(Some(recorded_for), s.unit_and_field().map(|(u, _)| u));
        let again = decide_rating(
            &s,
            true,
            &citizen(true),
            SatisfactionLevel::Satisfied,
            "",
            Timestamp(2),
        );
        assert!(matches!(again, Err(DomainError::Validation { .. })));
        let by = "citizen:acc-1";
        let unit = s.unit_and_field().map(|(u, _)| u.clone());
        assert!(check_recorded_rating(
            Phase::Returned,
            unit.as_ref(),
            false,
            by,
            Role::Citizen,
            &ev
        )
        .is_ok());
        let other: UnitCode = "000.00.00.H99".parse().unwrap();
        for (phase, unit, again, actor, role) in [
            (Phase::Returned, None, true, by, Role::Citizen),
            (Phase::Returned, None, false, by, Role::Reception),
            (Phase::Returned, None, false, "tn-01", Role::Citizen),
            (Phase::InProcessing, None, false, by, Role::Citizen),
            (Phase::Returned, Some(&other), false, by, Role::Citizen),
        ] {
            assert!(
                check_recorded_rating(phase, unit, again, actor, role, &ev).is_err(),
                "{phase:?} {unit:?} {again} {actor} {role:?}"
            );
        }
    }

    #[test]
    fn without_the_proof_or_before_hand_over_or_as_staff_it_is_refused() {
        let s = state_at(Phase::Returned);
        let no_proof = decide_rating(
            &s,
            false,
            &citizen(false),
            SatisfactionLevel::VerySatisfied,
            "",
            Timestamp(1),
        );
        assert_eq!(no_proof, Err(DomainError::WrongSecret));
        let open = state_at(Phase::InProcessing);
        let early = decide_rating(
            &open,
            false,
            &citizen(true),
            SatisfactionLevel::VerySatisfied,
            "",
            Timestamp(1),
        );
        assert!(matches!(early, Err(DomainError::Validation { .. })));
        let by_staff = decide_rating(
            &s,
            false,
            &reception(),
            SatisfactionLevel::VerySatisfied,
            "",
            Timestamp(1),
        );
        assert!(matches!(by_staff, Err(DomainError::Forbidden { .. })));
    }

    #[test]
    fn comments_are_one_short_line() {
        let s = state_at(Phase::Returned);
        let long = "a".repeat(MAX_RATING_COMMENT_CHARS + 1);
        for bad in [long.as_str(), "hai\ndòng", "tab\u{7}"] {
            let r = decide_rating(
                &s,
                false,
                &citizen(true),
                SatisfactionLevel::Dissatisfied,
                bad,
                Timestamp(1),
            );
            assert!(matches!(r, Err(DomainError::Validation { .. })), "{bad:?}");
        }
        let max = "ắ".repeat(MAX_RATING_COMMENT_CHARS);
        assert!(decide_rating(
            &s,
            false,
            &citizen(true),
            SatisfactionLevel::Dissatisfied,
            &max,
            Timestamp(1)
        )
        .is_ok());
    }

    #[test]
    fn levels_round_trip_their_spellings_and_codes() {
        for l in SatisfactionLevel::ALL {
            assert_eq!(SatisfactionLevel::parse(l.as_str()), Some(l));
            assert_eq!(SatisfactionLevel::from_code(l.code()), Some(l));
        }
        assert_eq!(SatisfactionLevel::parse("ok"), None);
    }
}
