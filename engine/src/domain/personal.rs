//! An applicant's personal data as the log keeps it: sealed under a key of the person's own,
//! kept outside the log, so that erasing the key (crypto-shredding) makes every copy of the
//! log unreadable for that person while the chain, the verifier and every figure still work.
//!
//! Why: the log is permanent and copied (exports, backups, an auditor's archive), and Decree
//! 13/2023/NĐ-CP gives a person the right to have their data deleted once no law requires it
//! kept (`docs/personal-data.md` has the retention rule and its legal basis). A payload in the
//! log can never be rewritten (its hash is in the chain), so what the log holds must be
//! something that stops meaning anything when a key outside it is destroyed.
//!
//! What is sealed: the applicant (name, identity number, phone, address) of a submission and of
//! a receipt, as one [`SealedApplicant`]: XChaCha20-Poly1305 under the person's [`PersonKey`],
//! the person named in the log only by a random [`SubjectId`] (a pseudonym: nothing in the log
//! links it to an identity number). Free texts staff type (notes, reasons) are not personal
//! fields and are not sealed; staff are told not to put personal data in them.
//!
//! Pure functions: the key and the nonce come in as arguments (the engine's `personal` store
//! keeps keys and draws nonces); the plaintext's encoding is written here by hand, four
//! length-prefixed UTF-8 strings, because it must read the same forever.
//!
//! Dossiers recorded before schema version 3 hold their applicant in clear
//! ([`ApplicantRecord::Clear`]): their bytes are in the chain and cannot be sealed afterwards.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::error::DomainError;
use super::events::Applicant;
use super::types::{Role, Timestamp};

/// Bytes of a person's key (XChaCha20-Poly1305).
pub const KEY_LEN: usize = 32;
/// Bytes of a nonce (XChaCha20: 192 bits, so random nonces never collide in practice).
pub const NONCE_LEN: usize = 24;
/// Bytes of a subject id.
pub const SUBJECT_LEN: usize = 16;
/// What the applicant reads as once its person's key is erased: on slips, pages and exports.
pub const ERASED_TEXT: &str = "(đã xoá)";

/// Bound into every seal's authentication (with the subject): a sealed applicant cannot be
/// passed off as another person's, nor another kind of sealed data as an applicant.
const AAD_LABEL: &[u8] = b"motcua applicant v1";

/// The pseudonym of a person in the log: random, meaningless without the key store.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SubjectId(pub [u8; SUBJECT_LEN]);

impl SubjectId {
    /// Lower-case hex, as logs and answers show it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for SubjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SubjectId({})", self.to_hex())
    }
}

impl std::fmt::Display for SubjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A person's key. Never in the log, never serialised by serde, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonKey(pub [u8; KEY_LEN]);

impl std::fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonKey(..)")
    }
}

/// An applicant sealed under their person's key.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct SealedApplicant {
    pub subject: SubjectId,
    pub nonce: [u8; NONCE_LEN],
    /// The encrypted applicant and its 16-byte authentication tag.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedApplicant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SealedApplicant({}, {} bytes)",
            self.subject,
            self.ciphertext.len()
        )
    }
}

impl Serialize for SealedApplicant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            // JSON for people (the auditor's event pages): the pseudonym, never the bytes.
            let mut s = serializer.serialize_struct("SealedApplicant", 1)?;
            s.serialize_field("subject", &self.subject.to_hex())?;
            return s.end();
        }
        // Exactly what `derive(Serialize)` writes (the stored encoding).
        let mut s = serializer.serialize_struct("SealedApplicant", 3)?;
        s.serialize_field("subject", &self.subject)?;
        s.serialize_field("nonce", &self.nonce)?;
        s.serialize_field("ciphertext", &self.ciphertext)?;
        s.end()
    }
}

/// Why a sealed applicant could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PersonalError {
    /// The key does not open it (another person's key, or damaged bytes).
    #[error(
        "the sealed applicant of subject {0} does not open with its key (damaged or another key)"
    )]
    Unopenable(SubjectId),
    /// The cipher refused the plaintext (only past 256 GiB).
    #[error("the applicant of subject {0} could not be sealed")]
    Unsealable(SubjectId),
    /// The plaintext inside is not four strings (never written by this code).
    #[error("the sealed applicant of subject {0} holds a malformed plaintext")]
    Malformed(SubjectId),
}

impl SealedApplicant {
    /// Seals `applicant` for `subject` under `key` with `nonce` (never reuse a nonce with one
    /// key for another plaintext: the store draws nonces at random, or derives them from the
    /// plaintext itself for a keyed retry).
    pub fn seal(
        applicant: &Applicant,
        subject: SubjectId,
        key: &PersonKey,
        nonce: [u8; NONCE_LEN],
    ) -> Result<SealedApplicant, PersonalError> {
        let plain = encode(applicant);
        let aad = aad(&subject);
        let cipher = XChaCha20Poly1305::new((&key.0).into());
        // Fails only for a plaintext over 256 GiB (an applicant is a few KiB, the domain's
        // limits); never recorded as an empty seal.
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .map_err(|_| PersonalError::Unsealable(subject))?;
        Ok(SealedApplicant {
            subject,
            nonce,
            ciphertext,
        })
    }

    /// The applicant, with the person's key.
    pub fn open(&self, key: &PersonKey) -> Result<Applicant, PersonalError> {
        let aad = aad(&self.subject);
        let cipher = XChaCha20Poly1305::new((&key.0).into());
        let plain = cipher
            .decrypt(
                XNonce::from_slice(&self.nonce),
                Payload {
                    msg: &self.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| PersonalError::Unopenable(self.subject))?;
        decode(&plain).ok_or(PersonalError::Malformed(self.subject))
    }
}

/// An applicant as an event records it: sealed (schema version 3 on), or in clear (read from
/// older payloads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplicantRecord {
    Clear(Applicant),
    Sealed(SealedApplicant),
}

impl ApplicantRecord {
    /// The person's pseudonym, for a sealed applicant.
    pub fn subject(&self) -> Option<SubjectId> {
        match self {
            ApplicantRecord::Clear(_) => None,
            ApplicantRecord::Sealed(s) => Some(s.subject),
        }
    }
}

/// An applicant as a reader with access to the key store sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    Present(Applicant),
    /// The person's key was erased: nothing of them can be read any more.
    Erased,
}

impl Opened {
    /// The applicant, or one whose every field reads [`ERASED_TEXT`].
    pub fn or_erased(self) -> Applicant {
        match self {
            Opened::Present(a) => a,
            Opened::Erased => Applicant {
                name: ERASED_TEXT.into(),
                id_number: ERASED_TEXT.into(),
                phone: ERASED_TEXT.into(),
                address: ERASED_TEXT.into(),
            },
        }
    }
}

/// Events of personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PersonalEvent {
    /// A person's key was destroyed: every applicant sealed for `subject` is unreadable from
    /// now on, in every copy of the log. Recorded so an auditor sees when and why.
    Erased {
        subject: SubjectId,
        /// Why: the person's request, or the end of the retention period.
        reason: ErasureReason,
        note: String,
        at: Timestamp,
    },
}

/// Why a person's data was erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErasureReason {
    /// The person asked (Decree 13/2023/NĐ-CP, the right to deletion), and no law requires the
    /// data kept.
    Request,
    /// The retention period of the person's last dossier ended.
    RetentionEnded,
}

impl ErasureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ErasureReason::Request => "request",
            ErasureReason::RetentionEnded => "retention_ended",
        }
    }
}

/// The longest note an erasure carries (why, under which request or rule).
pub const MAX_ERASURE_NOTE_CHARS: usize = 500;

/// The decision on erasing `subject`: an administrator's only (the person's request is checked
/// by a person, against the laws that may require the data kept; a retention sweep is run by
/// one), with a short note.
pub fn decide_erasure(
    roles: &[Role],
    subject: SubjectId,
    reason: ErasureReason,
    note: &str,
    at: Timestamp,
) -> Result<PersonalEvent, DomainError> {
    if !roles.contains(&Role::Admin) {
        return Err(DomainError::Forbidden {
            action: "erase_personal_data".into(),
            required_roles: vec![Role::Admin],
            actor_roles: roles.to_vec(),
        });
    }
    if note.chars().count() > MAX_ERASURE_NOTE_CHARS || note.chars().any(char::is_control) {
        return Err(DomainError::Validation {
            field: "note".into(),
            why: format!("one line of at most {MAX_ERASURE_NOTE_CHARS} characters"),
        });
    }
    Ok(PersonalEvent::Erased {
        subject,
        reason,
        note: note.to_owned(),
        at,
    })
}

fn aad(subject: &SubjectId) -> Vec<u8> {
    let mut aad = AAD_LABEL.to_vec();
    aad.extend_from_slice(&subject.0);
    aad
}

/// The plaintext: name, identity number, phone, address, each a u32 little-endian length and
/// its UTF-8 bytes. Public so a store can derive a keyed retry's nonce from exactly the bytes
/// it seals.
pub fn encode(a: &Applicant) -> Vec<u8> {
    let mut out = Vec::new();
    for s in [&a.name, &a.id_number, &a.phone, &a.address] {
        let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out
}

fn decode(mut bytes: &[u8]) -> Option<Applicant> {
    let mut next = || -> Option<String> {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
        let (s, rest) = (rest.get(..len)?, rest.get(len..)?);
        bytes = rest;
        String::from_utf8(s.to_vec()).ok()
    };
    let a = Applicant {
        name: next()?,
        id_number: next()?,
        phone: next()?,
        address: next()?,
    };
    bytes.is_empty().then_some(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applicant() -> Applicant {
        Applicant {
            name: "Nguyễn Văn A".into(),
            id_number: "001199000001".into(),
            phone: "0912345678".into(),
            address: "Thôn 1, xã Hoà Bình".into(),
        }
    }

    #[test]
    fn a_sealed_applicant_opens_with_its_key_only_and_shows_no_plaintext() {
        let subject = SubjectId([7; SUBJECT_LEN]);
        let key = PersonKey([1; KEY_LEN]);
        let sealed = SealedApplicant::seal(&applicant(), subject, &key, [3; NONCE_LEN]).unwrap();
        assert_eq!(sealed.open(&key), Ok(applicant()));
        assert_eq!(
            sealed.open(&PersonKey([2; KEY_LEN])),
            Err(PersonalError::Unopenable(subject))
        );
        let name = "Nguyễn Văn A".as_bytes();
        assert!(!sealed.ciphertext.windows(name.len()).any(|w| w == name));
        // Moved to another subject, the seal no longer opens (the subject is authenticated).
        let mut moved = sealed.clone();
        moved.subject = SubjectId([8; SUBJECT_LEN]);
        assert!(moved.open(&key).is_err());
        let json = serde_json::to_string(&sealed).unwrap_or_default();
        assert_eq!(json, format!("{{\"subject\":\"{}\"}}", "07".repeat(16)));
    }

    #[test]
    fn the_plaintext_encoding_round_trips_and_refuses_trailing_bytes() {
        let bytes = encode(&applicant());
        assert_eq!(decode(&bytes), Some(applicant()));
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
    }

    #[test]
    fn an_erased_applicant_reads_as_erased_everywhere() {
        let a = Opened::Erased.or_erased();
        assert_eq!(a.name, ERASED_TEXT);
        assert_eq!(a.id_number, ERASED_TEXT);
    }
}
