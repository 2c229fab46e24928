//! Citizens' ratings of their handed-over dossiers (the satisfaction group of the
//! service-quality index): the one `rate` call both the JSON API and the citizen's page use.
//! The citizen proves the dossier is theirs with its lookup secret, checked as for any action
//! (`Dossiers::prove`); the engine's `CommandService::rate` asks the domain
//! (`engine/src/domain/rating.rs`) and records the rating on the dossier's `rating/<code>`
//! stream.

use motcua_engine::domain::rating::{RatingEvent, SatisfactionLevel};
use motcua_engine::domain::types::{DossierCode, Role};
use motcua_engine::idempotency::KeyScope;

use crate::app::caller::Caller;
use crate::app::clock;
use crate::app::error::AppError;
use crate::app::handle::App;
use crate::app::idempotency::{command_key, IdempotencyKey};

/// What a rating recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rated {
    pub code: DossierCode,
    pub level: SatisfactionLevel,
    /// The rating's seq in the log.
    pub seq: u64,
    /// A keyed retry answered from the log.
    pub deduplicated: bool,
}

/// The rating commands of an [`App`].
pub struct Ratings<'a> {
    app: &'a App,
}

impl App {
    /// Rating commands and reads.
    pub fn ratings(&self) -> Ratings<'_> {
        Ratings { app: self }
    }
}

impl Ratings<'_> {
    /// Records `caller`'s rating of dossier `code`, proven theirs by `lookup_secret`. Only a
    /// citizen account rates (`Forbidden` otherwise); an unknown dossier is `NotFound`; the
    /// domain refuses a wrong secret, a dossier not handed over and a second rating.
    pub async fn rate(
        &self,
        caller: &Caller,
        code: &DossierCode,
        level: SatisfactionLevel,
        comment: &str,
        lookup_secret: &str,
        key: Option<&IdempotencyKey>,
    ) -> Result<Rated, AppError> {
        caller.require_any(&[Role::Citizen])?;
        let proof = self.app.dossiers().prove(code, lookup_secret).await?;
        let actor = caller.actor_proving(proof);
        let key = command_key(caller, KeyScope::Rating, key);
        let o = self
            .app
            .service()
            .rate(code, &actor, level, comment, clock::now(), key.as_ref())
            .await?;
        self.app.wait_for_read_models(o.seq).await;
        let RatingEvent::Given { level, .. } = o.event;
        Ok(Rated {
            code: code.clone(),
            level,
            seq: o.seq,
            deduplicated: o.deduplicated,
        })
    }

    /// The level dossier `code` was rated at, if it was (the caller has shown it is theirs).
    pub fn rating_of(&self, code: &DossierCode) -> Result<Option<SatisfactionLevel>, AppError> {
        Ok(self
            .app
            .service()
            .rating_of(code)?
            .map(|RatingEvent::Given { level, .. }| level))
    }
}
