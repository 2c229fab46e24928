//! Dossier commands: a dossier arriving (received at the desk or by post, or submitted online)
//! and every action of the transition table on an existing one. Each is one domain command
//! executed by the command service as the caller, at the business clock's now; then the write
//! waits for the read models (read-your-writes) and reports the dossier's new state.
//!
//! The lookup secret is made here and shown once; the log records its salted Argon2id digest
//! (`motcua_engine::domain::secret`), computed on a blocking thread, as is the check of a
//! secret a citizen shows before acting (the decision gets the proof, not the secret).

use motcua_engine::domain::events::Applicant;
use motcua_engine::domain::secret::{SecretDigest, SecretProof, SALT_LEN};
use motcua_engine::domain::types::{Channel, DossierCode, ProcedureId, Timestamp, UnitCode};
use motcua_engine::domain::{ActorRef, Command, Intake};
use motcua_engine::idempotency::{CommandKey, KeyScope};
use motcua_engine::projection::DossierState;
use motcua_engine::service::ServiceError;

use crate::app::caller::Caller;
use crate::app::clock;
use crate::app::error::AppError;
use crate::app::handle::App;
use crate::app::idempotency::{command_key, IdempotencyKey, IdempotencyStore, KeySpace};
use crate::crypto::random_bytes;

/// The letters of a lookup secret: 32 of them, none two that read alike aloud.
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Characters of a lookup secret: 10 of a 32-letter alphabet, 50 bits.
const SECRET_LEN: usize = 10;
/// The longest lookup secret read (the printed ones have [`SECRET_LEN`] characters): a longer
/// one is refused before its Argon2id check.
pub const MAX_LOOKUP_SECRET_CHARS: usize = 64;
/// What a keyed receipt's salt is derived under, beside its secret (same key, another label).
const SALT_LABEL: &[u8] = b"lookup-secret-salt";

/// What happens first to a dossier that arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstStep {
    /// A citizen submits it online.
    SubmitOnline,
    /// The desk receives it.
    Receive,
    /// The desk hands it back with what is missing.
    GuideToComplete { missing: Vec<String>, note: String },
    /// The desk refuses to receive it.
    RefuseToReceive { reason: String, legal_basis: String },
}

/// A new dossier: what is handed in, where, and what happens to it first. Its lookup secret
/// does not exist yet: [`Dossiers::create`] makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub procedure: ProcedureId,
    pub unit: UnitCode,
    pub channel: Channel,
    pub applicant: Applicant,
    pub documents: Vec<String>,
    pub first_step: FirstStep,
}

impl Arrival {
    /// The domain command, with the digest of the dossier's lookup secret.
    fn command(self, lookup_secret: SecretDigest) -> Command {
        let intake = Intake {
            procedure: self.procedure,
            unit: self.unit,
            channel: self.channel,
            applicant: self.applicant,
            documents: self.documents,
            lookup_secret,
        };
        match self.first_step {
            FirstStep::SubmitOnline => Command::SubmitOnline(intake),
            FirstStep::Receive => Command::Receive {
                intake: Some(intake),
            },
            FirstStep::GuideToComplete { missing, note } => Command::GuideToComplete {
                intake: Some(intake),
                missing,
                note,
            },
            FirstStep::RefuseToReceive {
                reason,
                legal_basis,
            } => Command::RefuseToReceive {
                intake: Some(intake),
                reason,
                legal_basis,
            },
        }
    }
}

/// What a dossier write did.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    pub code: DossierCode,
    /// The dossier stream's version after the write (the next `If-Match`).
    pub version: u64,
    /// Log seq of the last event written.
    pub seq: u64,
    /// State after the write (from the read model; `None` if it lagged).
    pub state: Option<DossierState>,
    pub due: Option<Timestamp>,
    /// The event types written.
    pub event_types: Vec<String>,
    /// True when a keyed retry found its events already in the log.
    pub deduplicated: bool,
}

/// A new dossier's write, with the lookup secret to print on the receipt (shown once).
#[derive(Debug, Clone)]
pub struct Receipt {
    pub outcome: WriteOutcome,
    pub lookup_secret: String,
}

/// The dossier commands of an [`App`].
pub struct Dossiers<'a> {
    app: &'a App,
}

impl App {
    /// Dossier commands.
    pub fn dossiers(&self) -> Dossiers<'_> {
        Dossiers { app: self }
    }
}

impl Dossiers<'_> {
    /// Records a new dossier as `caller`; with a `key`, a retry records it once and prints the
    /// same lookup secret.
    pub async fn create(
        &self,
        caller: &Caller,
        arrival: Arrival,
        key: Option<&IdempotencyKey>,
    ) -> Result<Receipt, AppError> {
        if (arrival.first_step == FirstStep::SubmitOnline) != (arrival.channel == Channel::Online) {
            return Err(AppError::invalid(
                "channel",
                "online exactly when submitted online",
            ));
        }
        // Receipts and submissions are separate key spaces: one key sent to both names two
        // dossiers, each with its own lookup secret.
        let (scope, space) = match arrival.first_step {
            FirstStep::SubmitOnline => (KeyScope::Submission, KeySpace::Submissions),
            _ => (KeyScope::Receipt, KeySpace::Staff),
        };
        let (lookup_secret, salt) = self.lookup_secret(caller, space, key);
        self.create_with(
            caller,
            &caller.actor(),
            arrival,
            (lookup_secret, salt),
            scope,
            key,
        )
        .await
    }

    /// Records a new dossier as `actor` (the caller, or the citizen a portal account is:
    /// `app::citizens`) with the lookup secret and digest salt `secret`.
    pub(super) async fn create_with(
        &self,
        caller: &Caller,
        actor: &ActorRef,
        arrival: Arrival,
        secret: (String, [u8; SALT_LEN]),
        scope: KeyScope,
        key: Option<&IdempotencyKey>,
    ) -> Result<Receipt, AppError> {
        let (lookup_secret, salt) = secret;
        let digest = secret_digest(lookup_secret.clone(), salt).await?;
        let cmd = arrival.command(digest);
        let key = command_key(caller, scope, key);
        let outcome = self.execute(actor, None, cmd, None, key.as_ref()).await?;
        Ok(Receipt {
            outcome,
            lookup_secret,
        })
    }

    /// Takes an action on dossier `code` as `caller`; `expected` is the version the caller last
    /// saw (`If-Match`); `lookup_secret` is what a citizen shows to prove the dossier is theirs.
    pub async fn act(
        &self,
        caller: &Caller,
        code: &DossierCode,
        cmd: Command,
        lookup_secret: Option<&str>,
        expected: Option<u64>,
        key: Option<&IdempotencyKey>,
    ) -> Result<WriteOutcome, AppError> {
        let key = command_key(caller, KeyScope::DossierAction, key);
        // Only a citizen's account acts on a secret (staff act as themselves): only then is it
        // checked, which costs an Argon2id evaluation.
        let proof = match lookup_secret {
            Some(secret) if caller.is_citizen_account() => self.prove(code, secret).await?,
            _ => None,
        };
        let actor = caller.actor_proving(proof);
        self.execute(&actor, Some(code), cmd, expected, key.as_ref())
            .await
    }

    /// The one call of the command service for dossiers.
    async fn execute(
        &self,
        actor: &ActorRef,
        code: Option<&DossierCode>,
        cmd: Command,
        expected: Option<u64>,
        key: Option<&CommandKey>,
    ) -> Result<WriteOutcome, AppError> {
        let timer = self.app.metrics().append_started();
        let o = self
            .app
            .service()
            .execute(code, cmd, actor, clock::now(), expected, key)
            .await?;
        timer.succeeded(o.events.len() as u64);
        let caught_up = self.app.wait_for_read_models(o.seq).await;
        let view = if caught_up {
            self.app.read_models().dossier(&o.code).ok().flatten()
        } else {
            None
        };
        Ok(WriteOutcome {
            state: view.as_ref().map(|v| v.state),
            due: view.as_ref().and_then(|v| v.due),
            event_types: o
                .events
                .iter()
                .map(|e| e.change.event_type().to_owned())
                .collect(),
            code: o.code,
            version: o.version,
            seq: o.seq,
            deduplicated: o.deduplicated,
        })
    }

    /// Whether `secret` is dossier `code`'s lookup secret: the proof the decision reads, or
    /// `None` (a wrong secret; or no such dossier, which the command then reports as such).
    /// The check is `SecretDigest::prove`, on a blocking thread. A secret longer than
    /// [`MAX_LOOKUP_SECRET_CHARS`] is refused before the slow check, on every route that takes
    /// one (an action, a rating, a citizen's page).
    pub(crate) async fn prove(
        &self,
        code: &DossierCode,
        secret: &str,
    ) -> Result<Option<SecretProof>, AppError> {
        if secret.chars().count() > MAX_LOOKUP_SECRET_CHARS {
            return Err(AppError::invalid(
                "lookup_secret",
                format!("at most {MAX_LOOKUP_SECRET_CHARS} characters"),
            ));
        }
        let digest = match self.app.service().load_dossier(code) {
            Ok((state, _)) => state.lookup_secret().cloned(),
            Err(ServiceError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let Some(digest) = digest else {
            return Ok(None);
        };
        let secret = secret.to_owned();
        tokio::task::spawn_blocking(move || digest.prove(&secret))
            .await
            .map_err(AppError::internal)
    }

    /// The lookup secret printed on a receipt and the salt of its digest: random, or (with a
    /// key) both derived from the key's space, the key and this server's salt, so a retried
    /// receipt prints the same secret and its command records the same event.
    fn lookup_secret(
        &self,
        caller: &Caller,
        space: KeySpace,
        key: Option<&IdempotencyKey>,
    ) -> (String, [u8; SALT_LEN]) {
        match key {
            Some(k) => {
                let owner = space.owner(caller.id());
                derived_secret(
                    self.app.idempotency(),
                    &[owner.as_bytes(), k.as_str().as_bytes()],
                )
            }
            None => secret_of(&random_bytes(), &random_bytes()),
        }
    }
}

/// A lookup secret and its digest's salt derived from this server's salt and `parts` (a keyed
/// receipt's key space owner and key; a portal account's label, account and nonce): the secret
/// from `parts`, the salt from `parts` then [`SALT_LABEL`]. The one derivation: this server
/// alone derives both again, for a retried receipt or a citizen acting on their dossier.
pub(super) fn derived_secret(
    idempotency: &IdempotencyStore,
    parts: &[&[u8]],
) -> (String, [u8; SALT_LEN]) {
    let mut salted_parts = parts.to_vec();
    salted_parts.push(SALT_LABEL);
    secret_of(
        &idempotency.salted(parts),
        &idempotency.salted(&salted_parts),
    )
}

/// A lookup secret (its letters) and the salt of its digest, from 32 bytes for each.
fn secret_of(bytes: &[u8; 32], salt_bytes: &[u8; 32]) -> (String, [u8; SALT_LEN]) {
    let secret = bytes[..SECRET_LEN]
        .iter()
        .map(|b| SECRET_ALPHABET[usize::from(*b) % SECRET_ALPHABET.len()] as char)
        .collect();
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&salt_bytes[..SALT_LEN]);
    (secret, salt)
}

/// The digest a new dossier records, computed on a blocking thread (an Argon2id evaluation
/// takes about a millisecond of CPU: not on an async worker).
async fn secret_digest(secret: String, salt: [u8; SALT_LEN]) -> Result<SecretDigest, AppError> {
    tokio::task::spawn_blocking(move || SecretDigest::argon2id(&secret, salt))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)
}
