//! Citizens' portal accounts: sign up with a phone number or an e-mail address and a password,
//! sign in, and act as oneself on one's own dossiers (submit online, supplement when asked,
//! withdraw). `docs/portal.md` tells the design; `docs/personal-data.md` what is kept where.
//!
//! **Outside the log.** An account lives in the tree [`TREE`] of the data directory, never in
//! the log: a phone number or an e-mail address is personal data, and the log is permanent
//! and travels in every archive. The log records only the account's random id
//! ([`new_account_id`], `cd-` and 16 hex digits), as the actor `citizen:<account>`. The
//! password is hashed by the console accounts' own Argon2id code under the same bound of
//! concurrent hashes (`app::accounts`).
//!
//! **Ownership is the domain's secret rule.** When a signed-in citizen submits online, the
//! dossier's lookup secret is derived from the server's salt, the account and a nonce
//! ([`IdempotencyStore::salted`], as a keyed receipt's secret is), and the pair (code, nonce)
//! is added to the account. Acting later, the account re-derives the secret and shows it like
//! any citizen would (`Dossiers::act`): the domain's own proof check
//! (`check_actor_scope`) is what lets the action through. An account without the pair for a
//! code learns nothing about it: [`Citizens::dossier`] and [`Citizens::act`] answer it as an
//! unknown code, and write nothing.
//!
//! **Identity providers.** [`IdentityProvider`] is the seam where the national VNeID login
//! (OpenID Connect) plugs in: it vouches for an issuer and a subject, and
//! [`Citizens::account_for_identity`] maps that pair to one account id.
//!
//! [`IdempotencyStore::salted`]: crate::app::idempotency::IdempotencyStore::salted

use std::future::Future;
use std::pin::Pin;

use motcua_engine::codec;
use motcua_engine::domain::rating::SatisfactionLevel;
use motcua_engine::domain::secret::SALT_LEN;
use motcua_engine::domain::types::{DossierCode, Role, Staff, StaffId, UnitCode};
use motcua_engine::domain::{Action, ActorRef, Command};
use motcua_engine::idempotency::KeyScope;
use motcua_engine::projection::views::{DossierView, PublicStatus};
use motcua_engine::projection::DossierState;
use motcua_engine::storage::{Batch, KvTree};
use serde::{Deserialize, Serialize};

use crate::app::accounts::{check_password, PasswordError, SignInKind, MAX_PASSWORD_BYTES};
use crate::app::caller::Caller;
use crate::app::clock;
use crate::app::dossiers::{derived_secret, Arrival, FirstStep, Receipt, WriteOutcome};
use crate::app::error::AppError;
use crate::app::handle::App;
use crate::app::idempotency::IdempotencyKey;
use crate::app::ratings::Rated;
use crate::crypto::random_bytes;

/// The tree of portal accounts: `l/<login>` -> [`StoredCitizen`]; `a/<account>` -> its login
/// (to change the password or close the account from a session, which knows the account
/// only); `d/<account>/<code>` -> the dossier's nonce; `i/<issuer> <subject>` -> the account
/// an identity provider's subject is.
pub const TREE: &str = "http.citizens";
/// Longest e-mail address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;
/// Most of an account's dossiers its list shows, newest first (the daily online quota keeps
/// an honest account far below it).
pub const MAX_LISTED_DOSSIERS: usize = 200;
/// Longest issuer or subject of an identity provider accepted (OpenID Connect's `sub` is at
/// most 255 ASCII characters).
pub const MAX_IDENTITY_BYTES: usize = 255;
/// What a citizen's dossier secret is derived under (beside the server's salt).
const SECRET_LABEL: &[u8] = b"citizen-dossier";
/// What a keyed submission's nonce is derived under.
const NONCE_LABEL: &[u8] = b"citizen-nonce";
/// The name a citizen's caller carries (the log never records it: the actor is the account).
const CITIZEN_NAME: &str = "Công dân";
/// The token id of a caller signed in through the portal.
pub const PORTAL_TOKEN_ID: &str = "citizen-session";

/// A login: a Vietnamese mobile number (10 digits starting with 0) or an e-mail address
/// (lower case). The one parse of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Phone(String),
    Email(String),
}

/// Why a login is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("not a Vietnamese mobile number (10 digits starting with 0, or +84)")]
    BadPhone,
    #[error("not an e-mail address")]
    BadEmail,
}

impl Login {
    /// Parses what a citizen types: with an `@` an e-mail address, else a phone number
    /// (spaces, dots, dashes and a `+84` or `84` prefix allowed).
    pub fn parse(raw: &str) -> Result<Login, LoginError> {
        let raw = raw.trim();
        if raw.contains('@') {
            parse_email(raw)
                .map(Login::Email)
                .ok_or(LoginError::BadEmail)
        } else {
            parse_phone(raw)
                .map(Login::Phone)
                .ok_or(LoginError::BadPhone)
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Login::Phone(s) | Login::Email(s) => s,
        }
    }
}

/// A mobile number as 10 digits: `0` then a network prefix 3, 5, 7, 8 or 9 (the mobile ranges
/// since 2018), then 8 digits.
fn parse_phone(raw: &str) -> Option<String> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
        .collect();
    let national = if let Some(rest) = digits.strip_prefix("+84") {
        format!("0{rest}")
    } else if digits.len() == 11 && digits.starts_with("84") {
        format!("0{}", &digits[2..])
    } else {
        digits
    };
    let b = national.as_bytes();
    let ok = b.len() == 10
        && b.iter().all(u8::is_ascii_digit)
        && b[0] == b'0'
        && matches!(b[1], b'3' | b'5' | b'7' | b'8' | b'9');
    ok.then_some(national)
}

/// An e-mail address in lower case: one `@`, a local part of printable ASCII, a domain of
/// letters, digits, dashes and at least one dot.
fn parse_email(raw: &str) -> Option<String> {
    let s = raw.to_ascii_lowercase();
    if s.len() > MAX_EMAIL_BYTES {
        return None;
    }
    let (local, domain) = s.split_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|c| c.is_ascii_graphic() && !matches!(c, b'@' | b'<' | b'>' | b'"' | b','));
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        });
    (local_ok && domain_ok).then_some(s)
}

/// A new account id: `cd-` and 16 hex digits of randomness, all the log ever records of a
/// citizen (a staff-id-shaped slug, so a caller can carry it).
pub fn new_account_id() -> String {
    format!("cd-{}", hex::encode(&random_bytes()[..8]))
}

/// One account as stored (never the password: its PHC string).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredCitizen {
    account: String,
    phc: String,
    created_at_ms: i64,
}

/// Why a sign-up is refused (nothing is stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignUpError {
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error("the password has fewer characters than required")]
    PasswordTooShort,
    #[error("the password is too long")]
    PasswordTooLong,
    #[error("the login has an account already")]
    Taken,
}

/// Why a citizen's sign-in is refused; one answer for all, so nobody learns which logins
/// exist from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown login or wrong password")]
pub struct BadCredentials;

/// What an identity provider vouches for after its OpenID Connect flow: its issuer (`iss`)
/// and the person's stable subject there (`sub`). Never a name, an identity number or a phone
/// number: those are the provider's, and the portal does not need them to know an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    pub issuer: String,
    pub subject: String,
}

/// Why an identity provider did not vouch for anyone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The provider refused or the callback was not its answer (state, nonce, signature).
    #[error("the identity provider did not vouch for the callback: {0}")]
    Refused(String),
    /// The provider could not be reached.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
}

/// The seam of an external login (OpenID Connect, e.g. the national VNeID): an implementation
/// sends the browser to the provider's authorization endpoint and, on the callback, exchanges
/// the code for an ID token, checks its signature, `iss`, `aud`, `exp` and `nonce`, and
/// answers the identity. The portal then signs in [`Citizens::account_for_identity`]'s
/// account. No implementation ships: VNeID's client registration is the operator's
/// (`docs/portal.md`, "Signing in with VNeID").
pub trait IdentityProvider: Send + Sync {
    /// The provider's issuer, as its ID tokens name it.
    fn issuer(&self) -> &str;
    /// Where to send the browser to sign in, with the `state` and `nonce` this server keeps
    /// for the callback.
    fn authorization_url(&self, state: &str, nonce: &str) -> String;
    /// The identity of a callback's authorization `code`, checked against `nonce`.
    fn identity<'a>(
        &'a self,
        code: &'a str,
        nonce: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<ExternalIdentity, IdentityError>> + Send + 'a>>;
}

/// A dossier of the account, as its page shows it.
#[derive(Debug, Clone)]
pub struct OwnDossier {
    /// What the public lookup answers for its secret (status in words, due, supplement asked).
    pub status: PublicStatus,
    /// What the citizen may do now (the workflow's table for the citizen role).
    pub actions: Vec<Action>,
    /// Whether the dossier is handed over (returned), so the citizen may rate it once.
    pub handed_over: bool,
    /// The level the citizen rated the dossier at, once they have.
    pub rating: Option<SatisfactionLevel>,
}

/// The portal accounts of an [`App`].
pub struct Citizens<'a> {
    app: &'a App,
}

impl App {
    /// Citizens' portal accounts.
    pub fn citizens(&self) -> Citizens<'_> {
        Citizens { app: self }
    }
}

impl Citizens<'_> {
    fn tree(&self) -> &KvTree {
        self.app.citizen_tree()
    }

    fn load(&self, login: &Login) -> Result<Option<StoredCitizen>, AppError> {
        let key = format!("l/{}", login.as_str());
        match self
            .tree()
            .get(key.as_bytes())
            .map_err(AppError::internal)?
        {
            Some(bytes) => codec::decode_record(&bytes)
                .map(Some)
                .map_err(AppError::internal),
            None => Ok(None),
        }
    }

    /// Opens an account for `login` with `password`; its id. A refusal stores nothing. Signing
    /// up is recorded in the sign-in trail under the account id (never the login).
    pub async fn sign_up(
        &self,
        login: &str,
        password: &str,
        address: &str,
    ) -> Result<Result<String, SignUpError>, AppError> {
        let login = match Login::parse(login) {
            Ok(l) => l,
            Err(e) => return Ok(Err(e.into())),
        };
        match check_password(password) {
            Ok(()) => {}
            Err(PasswordError::TooLong) => return Ok(Err(SignUpError::PasswordTooLong)),
            Err(_) => return Ok(Err(SignUpError::PasswordTooShort)),
        }
        if self.load(&login)?.is_some() {
            return Ok(Err(SignUpError::Taken));
        }
        let account = new_account_id();
        let phc = self.app.accounts().hash(password).await?;
        let record = codec::encode_record(&StoredCitizen {
            account: account.clone(),
            phc,
            created_at_ms: clock::now().0,
        });
        // Two sign-ups of one login at once: the first to write keeps it.
        let key = format!("l/{}", login.as_str());
        let kept = self
            .tree()
            .insert_if_absent(key.as_bytes(), record.clone())
            .map_err(AppError::internal)?;
        if kept != record {
            return Ok(Err(SignUpError::Taken));
        }
        self.tree()
            .insert(
                format!("a/{account}").as_bytes(),
                login.as_str().as_bytes().to_vec(),
            )
            .map_err(AppError::internal)?;
        self.record(SignInKind::SignedUp, Some(&account), address);
        Ok(Ok(account))
    }

    /// Checks `login` and `password`; the account id on success. Every attempt is in the
    /// sign-in trail (an unknown login as `citizen:?`); an unknown login costs the same hash.
    pub async fn sign_in(
        &self,
        login: &str,
        password: &str,
        address: &str,
    ) -> Result<Result<String, BadCredentials>, AppError> {
        let stored = match Login::parse(login) {
            Ok(l) if password.len() <= MAX_PASSWORD_BYTES => self.load(&l)?,
            _ => None,
        };
        let ok = self
            .app
            .accounts()
            .verify(password, stored.as_ref().map(|s| s.phc.as_str()))
            .await?;
        let account = stored.map(|s| s.account);
        let (kind, outcome) = match (&account, ok) {
            (Some(a), true) => (SignInKind::SignedIn, Ok(a.clone())),
            _ => (SignInKind::Failed, Err(BadCredentials)),
        };
        self.record(kind, account.as_deref(), address);
        Ok(outcome)
    }

    /// The login key (`l/<login>`) and record of `account`: through `a/<account>`, or for an
    /// account opened before that index, by a walk of the logins.
    fn own(&self, account: &str) -> Result<Option<(Vec<u8>, StoredCitizen)>, AppError> {
        if let Some(login) = self
            .tree()
            .get(format!("a/{account}").as_bytes())
            .map_err(AppError::internal)?
        {
            let key = [b"l/".as_slice(), &login].concat();
            if let Some(bytes) = self.tree().get(&key).map_err(AppError::internal)? {
                let stored: StoredCitizen =
                    codec::decode_record(&bytes).map_err(AppError::internal)?;
                if stored.account == account {
                    return Ok(Some((key, stored)));
                }
            }
        }
        for kv in self.tree().scan_prefix(b"l/") {
            let (k, v) = kv.map_err(AppError::internal)?;
            let stored: StoredCitizen = codec::decode_record(&v).map_err(AppError::internal)?;
            if stored.account == account {
                return Ok(Some((k.to_vec(), stored)));
            }
        }
        Ok(None)
    }

    /// Changes the password of `account` after checking its `current` one; the account's
    /// other sessions are the caller's to end. A refusal changes nothing. The change is in the
    /// sign-in trail (`PasswordChanged`, under the account id).
    pub async fn change_password(
        &self,
        account: &str,
        current: &str,
        new: &str,
        address: &str,
    ) -> Result<Result<(), PasswordError>, AppError> {
        let Some((key, stored)) = self.own(account)? else {
            return Err(AppError::NotFound("no such account".into()));
        };
        let current_ok = current.len() <= MAX_PASSWORD_BYTES
            && self
                .app
                .accounts()
                .verify(current, Some(stored.phc.as_str()))
                .await?;
        if !current_ok {
            self.record(SignInKind::Failed, Some(account), address);
            return Ok(Err(PasswordError::WrongCurrent));
        }
        if let Err(e) = check_password(new) {
            return Ok(Err(e));
        }
        let phc = self.app.accounts().hash(new).await?;
        let record = codec::encode_record(&StoredCitizen { phc, ..stored });
        self.tree()
            .insert(&key, record)
            .map_err(AppError::internal)?;
        self.record(SignInKind::PasswordChanged, Some(account), address);
        Ok(Ok(()))
    }

    /// Closes `account` after checking its `password`: its login and password hash, its
    /// (code, nonce) pairs and its identity providers' subjects are removed from [`TREE`] in
    /// one batch, every session of it ends, and the closing is appended to the sign-in trail
    /// (`AccountClosed`, under the account id: never the login). The dossiers it submitted
    /// stay in the log (a dossier is a record of the State) and are found as before by code
    /// and lookup secret. Its login is free again: signing up with it opens a new account,
    /// with a new id, that holds none of the old dossiers. A wrong password changes nothing.
    pub async fn close(
        &self,
        account: &str,
        password: &str,
        address: &str,
    ) -> Result<Result<(), BadCredentials>, AppError> {
        let Some((key, stored)) = self.own(account)? else {
            return Err(AppError::NotFound("no such account".into()));
        };
        let ok = password.len() <= MAX_PASSWORD_BYTES
            && self
                .app
                .accounts()
                .verify(password, Some(stored.phc.as_str()))
                .await?;
        if !ok {
            self.record(SignInKind::Failed, Some(account), address);
            return Ok(Err(BadCredentials));
        }
        let mut batch = Batch::new();
        batch.remove(key);
        batch.remove(format!("a/{account}").into_bytes());
        for kv in self.tree().scan_prefix(format!("d/{account}/").as_bytes()) {
            let (k, _) = kv.map_err(AppError::internal)?;
            batch.remove(k.to_vec());
        }
        for kv in self.tree().scan_prefix(b"i/") {
            let (k, v) = kv.map_err(AppError::internal)?;
            if v.as_slice() == account.as_bytes() {
                batch.remove(k.to_vec());
            }
        }
        self.tree().apply(batch).map_err(AppError::internal)?;
        self.app.citizen_sessions().end_all_of(&account.to_owned());
        self.record(SignInKind::AccountClosed, Some(account), address);
        Ok(Ok(()))
    }

    /// Records a citizen's sign-in, failure or sign-out in the auditor's trail, under the
    /// account id (`citizen:<account>`): a login is personal data and stays out of it.
    pub fn record(&self, kind: SignInKind, account: Option<&str>, address: &str) {
        let who = format!("citizen:{}", account.unwrap_or("?"));
        self.app.accounts().record(kind, &who, None, None, address);
    }

    /// The account an identity provider's subject is: found, or opened on the first sign-in
    /// (`docs/portal.md`). The provider's issuer keeps two providers' subjects apart.
    pub fn account_for_identity(&self, identity: &ExternalIdentity) -> Result<String, AppError> {
        let bounded = |s: &str| {
            !s.is_empty()
                && s.len() <= MAX_IDENTITY_BYTES
                && s.bytes().all(|b| b.is_ascii_graphic())
        };
        if !bounded(&identity.issuer) || !bounded(&identity.subject) {
            return Err(AppError::invalid(
                "identity",
                format!("issuer and subject are 1-{MAX_IDENTITY_BYTES} printable ASCII characters"),
            ));
        }
        let key = format!("i/{} {}", identity.issuer, identity.subject);
        let kept = self
            .tree()
            .insert_if_absent(key.as_bytes(), new_account_id().into_bytes())
            .map_err(AppError::internal)?;
        String::from_utf8(kept).map_err(AppError::internal)
    }

    /// The caller a signed-in citizen is for the application layer: the citizen role only, of
    /// `unit` (the unit they submit to or whose dossier they act on), so that
    /// `Caller::is_citizen_account` holds and an action records `citizen:<account>`.
    pub fn caller(&self, account: &str, unit: &UnitCode) -> Result<Caller, AppError> {
        let id: StaffId = account
            .parse()
            .map_err(|e| AppError::invalid("account", format!("{e}")))?;
        Ok(Caller {
            staff: Staff {
                id,
                name: CITIZEN_NAME.into(),
                unit: unit.clone(),
                roles: vec![Role::Citizen],
                fields: Vec::new(),
                active: true,
            },
            token_id: PORTAL_TOKEN_ID.into(),
        })
    }

    /// The lookup secret of the account's dossier with `nonce`, and its digest's salt: derived
    /// from the server's salt, so this server alone derives it again.
    fn secret(&self, account: &str, nonce: &str) -> (String, [u8; SALT_LEN]) {
        derived_secret(
            self.app.idempotency(),
            &[SECRET_LABEL, account.as_bytes(), nonce.as_bytes()],
        )
    }

    /// Submits `arrival` online as the citizen `account` (the actor `citizen:<account>`);
    /// with a `key`, a resent form records one dossier and shows the same secret. The dossier
    /// is added to the account after the log recorded it.
    pub async fn submit(
        &self,
        account: &str,
        arrival: Arrival,
        key: Option<&IdempotencyKey>,
    ) -> Result<Receipt, AppError> {
        if arrival.first_step != FirstStep::SubmitOnline {
            return Err(AppError::invalid("action", "a citizen submits online only"));
        }
        let caller = self.caller(account, &arrival.unit)?;
        let nonce = match key {
            Some(k) => {
                let derived = self.app.idempotency().salted(&[
                    NONCE_LABEL,
                    account.as_bytes(),
                    k.as_str().as_bytes(),
                ]);
                hex::encode(&derived[..16])
            }
            None => hex::encode(&random_bytes()[..16]),
        };
        let secret = self.secret(account, &nonce);
        let actor = ActorRef::Citizen {
            account: account.to_owned(),
            lookup_proof: None,
        };
        let receipt = self
            .app
            .dossiers()
            .create_with(&caller, &actor, arrival, secret, KeyScope::Submission, key)
            .await?;
        let owned = format!("d/{account}/{}", receipt.outcome.code);
        self.tree()
            .insert(owned.as_bytes(), nonce.into_bytes())
            .map_err(AppError::internal)?;
        Ok(receipt)
    }

    /// The nonce of `code` if it is the account's.
    fn nonce_of(&self, account: &str, code: &DossierCode) -> Result<Option<String>, AppError> {
        let owned = format!("d/{account}/{code}");
        let v = self
            .tree()
            .get(owned.as_bytes())
            .map_err(AppError::internal)?;
        Ok(v.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// The account's dossiers, newest code first (at most [`MAX_LISTED_DOSSIERS`]).
    pub fn dossiers(&self, account: &str) -> Result<Vec<DossierView>, AppError> {
        let prefix = format!("d/{account}/");
        let mut out = Vec::new();
        for kv in self
            .tree()
            .scan_prefix(prefix.as_bytes())
            .rev()
            .take(MAX_LISTED_DOSSIERS)
        {
            let (k, _) = kv.map_err(AppError::internal)?;
            let code = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            let Ok(code) = code.parse::<DossierCode>() else {
                continue;
            };
            if let Some(mut view) = self.app.read_models().dossier(&code)? {
                if view.procedure_name.is_empty() {
                    view.procedure_name = self.procedure_name(&view);
                }
                out.push(view);
            }
        }
        Ok(out)
    }

    /// The account's dossier `code`: its public status, the citizen's actions now and the
    /// rating; `NotFound` for a code that is not theirs, exactly as for an unknown one. The
    /// account's (code, nonce) pair is what shows the dossier is theirs, so the status is read
    /// once from the read models (`public_status`) without an Argon2id check of the derived
    /// secret; every write still proves the secret to the domain (`act`, `rate`). The log is
    /// read for what the read models do not hold: the workflow's actions (the domain's fold),
    /// and the rating, which only a handed-over dossier can have.
    pub fn dossier(&self, account: &str, code: &DossierCode) -> Result<OwnDossier, AppError> {
        let not_found = || AppError::NotFound(format!("no dossier {code}"));
        self.nonce_of(account, code)?.ok_or_else(not_found)?;
        let (mut status, view) = self
            .app
            .read_models()
            .public_status(code)?
            .ok_or_else(not_found)?;
        if status.procedure_name.is_empty() {
            status.procedure_name = self.procedure_name(&view);
        }
        let caller = self.caller(account, &view.unit)?;
        let handed_over = view.state == DossierState::Returned;
        Ok(OwnDossier {
            status,
            actions: self.app.views().allowed_actions(&caller, code),
            handed_over,
            rating: if handed_over {
                self.app.ratings().rating_of(code)?
            } else {
                None
            },
        })
    }

    fn view_of(&self, code: &DossierCode) -> Result<DossierView, AppError> {
        self.app
            .read_models()
            .dossier(code)?
            .ok_or_else(|| AppError::NotFound(format!("no dossier {code}")))
    }

    /// The name of a dossier's procedure version from the catalog (the read model names it
    /// from the receipt on; an online submission not yet received has only its reference).
    fn procedure_name(&self, view: &DossierView) -> String {
        let Some(r) = &view.procedure else {
            return String::new();
        };
        self.app
            .service()
            .with_reference(|data| data.catalog.version(r).map(|p| p.name.clone()))
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Takes `cmd` on the account's dossier `code` as the citizen, proving it with the
    /// re-derived lookup secret (the domain decides; a code not theirs is `NotFound` and
    /// nothing is written).
    pub async fn act(
        &self,
        account: &str,
        code: &DossierCode,
        cmd: Command,
        key: Option<&IdempotencyKey>,
    ) -> Result<WriteOutcome, AppError> {
        let nonce = self
            .nonce_of(account, code)?
            .ok_or_else(|| AppError::NotFound(format!("no dossier {code}")))?;
        let (secret, _) = self.secret(account, &nonce);
        let caller = self.caller(account, &self.view_of(code)?.unit)?;
        self.app
            .dossiers()
            .act(&caller, code, cmd, Some(&secret), None, key)
            .await
    }
}

impl Citizens<'_> {
    /// Rates the account's dossier `code` at `level`, proving it theirs with the re-derived
    /// lookup secret (`app::ratings`; a code not theirs is `NotFound` and nothing is written).
    pub async fn rate(
        &self,
        account: &str,
        code: &DossierCode,
        level: SatisfactionLevel,
        comment: &str,
        key: Option<&IdempotencyKey>,
    ) -> Result<Rated, AppError> {
        let nonce = self
            .nonce_of(account, code)?
            .ok_or_else(|| AppError::NotFound(format!("no dossier {code}")))?;
        let (secret, _) = self.secret(account, &nonce);
        let caller = self.caller(account, &self.view_of(code)?.unit)?;
        self.app
            .ratings()
            .rate(&caller, code, level, comment, &secret, key)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_ten_digits_starting_with_zero() {
        for ok in [
            "0912345678",
            "091 234 5678",
            "0912.345.678",
            "+84 912 345 678",
            "84912345678",
            "(+84) 3-8765-4321",
        ] {
            let l = Login::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(matches!(l, Login::Phone(_)), "{ok}");
            assert_eq!(l.as_str().len(), 10, "{ok}");
            assert!(l.as_str().starts_with('0'));
        }
        assert_eq!(Login::parse("+84912345678").unwrap().as_str(), "0912345678");
        for bad in [
            "",
            "091234567",
            "09123456789",
            "0212345678",
            "1912345678",
            "09123456x8",
            "０912345678",
        ] {
            assert_eq!(Login::parse(bad), Err(LoginError::BadPhone), "{bad}");
        }
    }

    #[test]
    fn e_mail_addresses_are_lower_case_with_a_dotted_domain() {
        assert_eq!(
            Login::parse("  Nam.Hoang@Example.VN ").unwrap(),
            Login::Email("nam.hoang@example.vn".into())
        );
        for bad in [
            "@example.vn",
            "nam@",
            "nam@localhost",
            "nam@@example.vn",
            "na m@example.vn",
            "nam@-x.vn",
            "nam@x..vn",
        ] {
            assert_eq!(Login::parse(bad), Err(LoginError::BadEmail), "{bad}");
        }
        let long = format!("{}@example.vn", "a".repeat(MAX_EMAIL_BYTES));
        assert_eq!(Login::parse(&long), Err(LoginError::BadEmail));
    }

    #[test]
    fn account_ids_are_slugs_of_randomness() {
        let a = new_account_id();
        assert_eq!(a.len(), 19);
        assert!(a.parse::<StaffId>().is_ok());
        assert_ne!(a, new_account_id());
    }
}
