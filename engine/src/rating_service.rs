//! Ratings to the log: [`CommandService::rate`] reads the dossier and its `rating/<code>`
//! stream, asks the domain's [`decide_rating`] and appends the one event on a stream that must
//! not exist yet, so two concurrent ratings of one dossier record one. A keyed retry whose
//! event is already recorded is answered from the log.

use crate::domain::dossier::ActorRef;
use crate::domain::error::DomainError;
use crate::domain::events::Event;
use crate::domain::rating::{decide_rating, RatingEvent, SatisfactionLevel};
use crate::domain::types::{DossierCode, Role, Timestamp};
use crate::idempotency::CommandKey;
use crate::log::{Actor, AppendError, ExpectedVersion, StreamId};
use crate::recorded::{decode_event, encode_events};
use crate::service::{map_append, CommandService, ServiceError};

/// What a rating recorded (or, for a keyed retry, had recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingOutcome {
    pub event: RatingEvent,
    /// The rating's seq in the log.
    pub seq: u64,
    /// A keyed retry answered from the log: nothing was written.
    pub deduplicated: bool,
}

impl CommandService {
    /// The rating of dossier `code`, if one was given.
    pub fn rating_of(&self, code: &DossierCode) -> Result<Option<RatingEvent>, ServiceError> {
        for env in self.log().read_stream(&StreamId::rating(code), 0)? {
            if let Event::Rating(event) = decode_event(&env)? {
                return Ok(Some(event));
            }
        }
        Ok(None)
    }

    /// Records `actor`'s rating of dossier `code` (see `engine/src/domain/rating.rs` for who may
    /// rate what). `NotFound` for an unknown dossier.
    pub async fn rate(
        &self,
        code: &DossierCode,
        actor: &ActorRef,
        level: SatisfactionLevel,
        comment: &str,
        now: Timestamp,
        key: Option<&CommandKey>,
    ) -> Result<RatingOutcome, ServiceError> {
        let stream = StreamId::rating(code);
        let recorded = self.log().read_stream(&stream, 0)?;
        if let Some(key) = key {
            let first = key.event_id(0);
            if let Some(env) = recorded.iter().find(|e| e.event_id == first) {
                // The first answer was to another request sent with this key: refused as the
                // stored answer would be (the same check as the dossier commands' retries).
                if !key.same_request(env.causation_id) {
                    return Err(ServiceError::DuplicateEventId);
                }
                if let Event::Rating(event) = decode_event(env)? {
                    return Ok(RatingOutcome {
                        event,
                        seq: env.seq,
                        deduplicated: true,
                    });
                }
            }
        }
        let (state, _) = self.load_dossier(code)?;
        let event = decide_rating(&state, !recorded.is_empty(), actor, level, comment, now)?;
        let envelope_actor = Actor {
            staff: actor.id(),
            role: Role::Citizen.as_str().to_owned(),
        };
        let appended = self
            .log()
            .append(
                &stream,
                ExpectedVersion::NoStream,
                encode_events(&[Event::Rating(event.clone())], &envelope_actor, key),
            )
            .await;
        match appended {
            Ok(a) => Ok(RatingOutcome {
                event,
                seq: a.last_seq,
                deduplicated: a.deduplicated,
            }),
            // Another rating of the dossier came first: the domain's refusal of a second one.
            Err(AppendError::WrongExpectedVersion { .. }) => {
                Err(DomainError::validation("dossier", "the dossier has already been rated").into())
            }
            Err(e) => Err(map_append(e)),
        }
    }
}
