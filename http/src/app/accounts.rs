//! Console accounts: a username and an Argon2id password hash per staff member, and the
//! sign-in trail an auditor reads.
//!
//! Where they live, and why not in the log (ARCHITECTURE.md, "Console accounts and sessions"):
//! the log is permanent and leaves the server whole (`motcua export`, backups, the archives an
//! inspectorate receives). A bearer token's SHA-256 may travel with it, since the token is 256
//! random bits; a password is a person's low-entropy secret, and its hash in every archive
//! forever, old hashes included after each change, is an offline guessing target nobody can
//! take back. So the hashes live in the sled tree [`TREE`] of the data directory (a file-level
//! copy of the directory carries them; `motcua export` and `motcua backup`, which archive the
//! log, do not: after a restore an admin sets passwords again, `motcua staff password`), and
//! the facts that matter for an audit go to the
//! bounded sign-in trail [`AUDIT_TREE`] (sign-ins, failures, sign-outs, passwords set, changed
//! or reset: who, when, from where; never a password). Who is a staff member, their roles and
//! whether their account is active stay where they were: `staff.*` events of the log, so a
//! deactivation (`staff.updated` with `active: false`) is durable, replayable and ends every
//! session at the next request.

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use motcua_engine::codec;
use motcua_engine::domain::types::{Role, Staff, StaffId, Timestamp};
use motcua_engine::service::{Authority, ReferenceCommand};
use motcua_engine::storage::{KvTree, StorageError};
use password_hash::SaltString;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::app::caller::Caller;
use crate::app::clock;
use crate::app::error::AppError;
use crate::app::handle::App;
use crate::app::trail::BoundedTrail;
use crate::crypto::random_bytes;

/// The sled tree of accounts: `u/<username>` -> [`StoredAccount`], `s/<staff id>` -> username.
pub const TREE: &str = "http.accounts";
/// The sled tree of the sign-in trail: big-endian sequence -> [`SignInRecord`].
pub const AUDIT_TREE: &str = "http.signins";
/// Most records the sign-in trail keeps; beyond it the oldest tenth is pruned (a year of a
/// commune's sign-ins is far fewer; a password-guessing storm cannot fill the disk).
pub const MAX_AUDIT_ENTRIES: u64 = 200_000;
/// Shortest password accepted (NIST SP 800-63B asks at least 8; staff share office PCs).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted, in bytes: hashing cost does not depend on it with Argon2, but a
/// form field must have a bound.
pub const MAX_PASSWORD_BYTES: usize = 256;
/// Longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;
/// Password hashes computed at once: each Argon2id hash takes 19 MiB and one core for tens of
/// milliseconds, so a burst of sign-ins queues instead of starving the desk's requests.
pub const MAX_CONCURRENT_HASHES: usize = 2;

/// One account as stored (never a password, only its PHC string: algorithm, parameters, salt,
/// hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredAccount {
    staff: String,
    phc: String,
    changed_at_ms: i64,
}

/// What happened, in the sign-in trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignInKind {
    SignedIn,
    /// A wrong password, an unknown username, or a deactivated account.
    Failed,
    /// Refused before the password was checked: too many failures.
    Throttled,
    SignedOut,
    PasswordSet,
    PasswordChanged,
    /// A citizen opened a portal account (`app::citizens`; appended last: the trail is stored).
    SignedUp,
    /// A citizen closed their portal account (`app::citizens`; appended last: the trail is
    /// stored).
    AccountClosed,
}

impl SignInKind {
    /// The Vietnamese words an auditor reads.
    pub fn vi(self) -> &'static str {
        match self {
            SignInKind::SignedIn => "Đăng nhập",
            SignInKind::Failed => "Đăng nhập không thành công",
            SignInKind::Throttled => "Tạm khóa do sai nhiều lần",
            SignInKind::SignedOut => "Đăng xuất",
            SignInKind::PasswordSet => "Đặt lại mật khẩu",
            SignInKind::PasswordChanged => "Đổi mật khẩu",
            SignInKind::SignedUp => "Đăng ký tài khoản công dân",
            SignInKind::AccountClosed => "Xoá tài khoản công dân",
        }
    }
}

/// One line of the sign-in trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInRecord {
    pub at: Timestamp,
    pub kind: SignInKind,
    /// The username as typed (bounded), for a failure of an unknown one too.
    pub username: String,
    /// The staff member, when the username is theirs.
    pub staff: Option<String>,
    /// Who did it, when not the account's holder (an admin resetting a password).
    pub by: Option<String>,
    /// The client address.
    pub address: String,
}

/// Why a sign-in is refused. The page says one thing for all of them, so that a guesser
/// learns nothing about which usernames exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    #[error("unknown username or wrong password")]
    BadCredentials,
    #[error("the account is deactivated")]
    Deactivated,
}

/// Why a password cannot be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password has fewer than {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the password has more than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("the current password is wrong")]
    WrongCurrent,
    #[error("the username is taken by another staff member")]
    UsernameTaken,
    #[error("the username must be 1-{MAX_USERNAME_CHARS} letters, digits, '.', '-' or '_'")]
    BadUsername,
}

/// The accounts store: the tree, the trail and the hashing permits. One per [`App`].
pub struct AccountStore {
    accounts: KvTree,
    trail: BoundedTrail<SignInRecord>,
    hashing: Semaphore,
}

impl AccountStore {
    pub fn new(accounts: KvTree, trail: KvTree) -> Result<AccountStore, StorageError> {
        Ok(AccountStore {
            accounts,
            trail: BoundedTrail::open(trail, MAX_AUDIT_ENTRIES, "sign-in")?,
            hashing: Semaphore::new(MAX_CONCURRENT_HASHES),
        })
    }
}

/// The canonical form of a username: trimmed and lower-case (staff type it on shared PCs).
pub fn normalise_username(raw: &str) -> String {
    raw.trim().to_lowercase()
}

fn check_username(u: &str) -> Result<(), PasswordError> {
    let ok = !u.is_empty()
        && u.chars().count() <= MAX_USERNAME_CHARS
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    ok.then_some(()).ok_or(PasswordError::BadUsername)
}

pub(crate) fn check_password(p: &str) -> Result<(), PasswordError> {
    if p.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    if p.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    Ok(())
}

fn hash_password(password: &str) -> Result<String, AppError> {
    let bytes = random_bytes();
    let salt = SaltString::encode_b64(&bytes[..16]).map_err(AppError::internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(AppError::internal)
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the username is unknown, so that an unknown username costs
/// the same time as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password, never valid").unwrap_or_default())
}

/// A password for a demo account: 12 characters of an alphabet without look-alikes.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY345679";
    random_bytes()[..12]
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// The account commands and reads of an [`App`].
pub struct Accounts<'a> {
    app: &'a App,
}

impl App {
    /// Console accounts and the sign-in trail.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts { app: self }
    }
}

impl Accounts<'_> {
    fn store(&self) -> &AccountStore {
        self.app.account_store()
    }

    fn load(&self, username: &str) -> Result<Option<StoredAccount>, AppError> {
        let key = format!("u/{username}");
        match self
            .store()
            .accounts
            .get(key.as_bytes())
            .map_err(AppError::internal)?
        {
            Some(bytes) => codec::decode_record(&bytes)
                .map(Some)
                .map_err(AppError::internal),
            None => Ok(None),
        }
    }

    /// The username of staff member `staff`, if they have an account.
    pub fn username_of(&self, staff: &StaffId) -> Result<Option<String>, AppError> {
        let key = format!("s/{staff}");
        let v = self
            .store()
            .accounts
            .get(key.as_bytes())
            .map_err(AppError::internal)?;
        Ok(v.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    pub(super) async fn hash(&self, password: &str) -> Result<String, AppError> {
        let _permit = self
            .store()
            .hashing
            .acquire()
            .await
            .map_err(AppError::internal)?;
        let p = password.to_owned();
        tokio::task::spawn_blocking(move || hash_password(&p))
            .await
            .map_err(AppError::internal)?
    }

    /// Checks `password` against `phc`, or against the decoy hash (`None`).
    pub(super) async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool, AppError> {
        let _permit = self
            .store()
            .hashing
            .acquire()
            .await
            .map_err(AppError::internal)?;
        let (p, h) = (password.to_owned(), phc.map(str::to_owned));
        tokio::task::spawn_blocking(move || {
            let phc: &str = match &h {
                Some(h) => h,
                None => decoy_hash(),
            };
            verify_password(&p, phc)
        })
        .await
        .map_err(AppError::internal)
    }

    /// Gives staff member `staff` the account `username` with `password` (a new account, or a
    /// reset), as `by`: an admin (`Some`), or the system (`None`: the demo, operator tools).
    /// A staff member has one username; a username belongs to one staff member.
    pub async fn set_password(
        &self,
        by: Option<&Caller>,
        staff: &StaffId,
        username: &str,
        password: &str,
        address: &str,
    ) -> Result<(), AppError> {
        if let Some(admin) = by {
            admin.require_any(&[Role::Admin])?;
        }
        if self.app.directory().staff(staff).is_none() {
            return Err(AppError::NotFound(format!("no staff member {staff}")));
        }
        let username = normalise_username(username);
        check_username(&username).map_err(|e| AppError::invalid("username", e.to_string()))?;
        check_password(password).map_err(|e| AppError::invalid("password", e.to_string()))?;
        if let Some(existing) = self.load(&username)? {
            if existing.staff != staff.as_str() {
                return Err(AppError::invalid(
                    "username",
                    PasswordError::UsernameTaken.to_string(),
                ));
            }
        }
        let phc = self.hash(password).await?;
        self.write(staff, &username, phc)?;
        // A reset is what follows a forgotten or leaked password: the old sessions end too.
        self.app.sessions().end_all_of(staff);
        self.record(
            SignInKind::PasswordSet,
            &username,
            Some(staff),
            by.map(|c| c.id().as_str()),
            address,
        );
        Ok(())
    }

    /// Writes the account (and drops the staff member's previous username, if another).
    fn write(&self, staff: &StaffId, username: &str, phc: String) -> Result<(), AppError> {
        let account = StoredAccount {
            staff: staff.to_string(),
            phc,
            changed_at_ms: clock::now().0,
        };
        let bytes = codec::encode_record(&account);
        let mut batch = motcua_engine::storage::Batch::new();
        if let Some(old) = self.username_of(staff)? {
            if old != username {
                batch.remove(format!("u/{old}").into_bytes());
            }
        }
        batch.insert(format!("u/{username}").into_bytes(), bytes);
        batch.insert(
            format!("s/{staff}").into_bytes(),
            username.as_bytes().to_vec(),
        );
        self.store()
            .accounts
            .apply(batch)
            .map_err(AppError::internal)
    }

    /// Checks `username` and `password`; the staff member on success. Every attempt is in the
    /// trail. The throttle is the HTTP layer's (it knows the client address and answers 429).
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        address: &str,
    ) -> Result<Result<Staff, SignInError>, AppError> {
        let username = normalise_username(username);
        let shown: String = username.chars().take(MAX_USERNAME_CHARS).collect();
        let account = if password.len() > MAX_PASSWORD_BYTES {
            None
        } else {
            self.load(&username)?
        };
        let Some(account) = account else {
            // The same work as a real check: timing does not tell which usernames exist.
            let _ = self.verify(password, None).await?;
            self.record(SignInKind::Failed, &shown, None, None, address);
            return Ok(Err(SignInError::BadCredentials));
        };
        let staff_id: Option<StaffId> = account.staff.parse().ok();
        let ok = self.verify(password, Some(&account.phc)).await?;
        let staff = staff_id
            .as_ref()
            .and_then(|id| self.app.directory().staff(id));
        let outcome = match (ok, staff) {
            (false, _) | (true, None) => Err(SignInError::BadCredentials),
            (true, Some(s)) if !s.active => Err(SignInError::Deactivated),
            (true, Some(s)) => Ok(s),
        };
        let kind = if outcome.is_ok() {
            SignInKind::SignedIn
        } else {
            SignInKind::Failed
        };
        self.record(kind, &shown, staff_id.as_ref(), None, address);
        Ok(outcome)
    }

    /// Changes the caller's own password after checking the current one.
    pub async fn change_own(
        &self,
        caller: &Caller,
        current: &str,
        new: &str,
        address: &str,
    ) -> Result<Result<(), PasswordError>, AppError> {
        let Some(username) = self.username_of(caller.id())? else {
            return Err(AppError::NotFound(format!(
                "{} has no console account",
                caller.id()
            )));
        };
        if let Err(e) = check_password(new) {
            return Ok(Err(e));
        }
        let Some(account) = self.load(&username)? else {
            return Err(AppError::NotFound(format!("no account {username}")));
        };
        if current.len() > MAX_PASSWORD_BYTES || !self.verify(current, Some(&account.phc)).await? {
            return Ok(Err(PasswordError::WrongCurrent));
        }
        let phc = self.hash(new).await?;
        self.write(caller.id(), &username, phc)?;
        self.record(
            SignInKind::PasswordChanged,
            &username,
            Some(caller.id()),
            None,
            address,
        );
        Ok(Ok(()))
    }

    /// Deactivates staff member `staff` as `caller` (an admin): one `staff.updated` event in
    /// the log with `active: false`. Their bearer tokens and console sessions stop at once (the
    /// directory refuses an inactive holder; sessions are checked against it on each request).
    pub async fn deactivate(&self, caller: &Caller, staff: &StaffId) -> Result<(), AppError> {
        caller.require_any(&[Role::Admin])?;
        let mut record = self
            .app
            .directory()
            .staff(staff)
            .ok_or_else(|| AppError::NotFound(format!("no staff member {staff}")))?;
        record.active = false;
        let admin = caller.actor();
        let o = self
            .app
            .service()
            .execute_reference_keyed(
                ReferenceCommand::UpdateStaff(record),
                Authority::Admin(&admin),
                clock::now(),
                None,
            )
            .await?;
        self.app.wait_for_read_models(o.seq).await;
        self.app.sessions().end_all_of(staff);
        Ok(())
    }

    /// Appends one line to the sign-in trail. A trail that cannot be written is logged, not
    /// fatal: a sign-in must not fail because the audit copy did.
    pub fn record(
        &self,
        kind: SignInKind,
        username: &str,
        staff: Option<&StaffId>,
        by: Option<&str>,
        address: &str,
    ) {
        let rec = SignInRecord {
            at: clock::now(),
            kind,
            username: username.chars().take(MAX_USERNAME_CHARS).collect(),
            staff: staff.map(|s| s.to_string()),
            by: by.map(str::to_owned),
            address: address.to_owned(),
        };
        self.store().trail.append(&rec);
    }

    /// The newest `limit` lines of the trail, newest first (auditors and admins).
    pub fn trail(&self, caller: &Caller, limit: usize) -> Result<Vec<SignInRecord>, AppError> {
        caller.require_any(&[Role::Auditor, Role::Admin])?;
        self.store().trail.newest(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_is_argon2id() {
        let h = hash_password("mật khẩu đủ dài").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("mật khẩu đủ dài", &h));
        assert!(!verify_password("mat khau du dai", &h));
        assert!(!verify_password("anything", "not a phc string"));
    }

    #[test]
    fn usernames_and_passwords_are_bounded() {
        assert_eq!(normalise_username("  TN-01 "), "tn-01");
        assert!(check_username("tn-01").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("a b").is_err());
        assert_eq!(check_password("short"), Err(PasswordError::TooShort));
        assert_eq!(
            check_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(PasswordError::TooLong)
        );
        assert!(check_password(&generate_password()).is_ok());
    }
}
