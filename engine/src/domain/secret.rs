//! A dossier's lookup secret as the log keeps it, and the one way to check a secret against it.
//!
//! The secret printed on a receipt is 10 letters of a 32-letter alphabet: 50 random bits. Its
//! digest is in the log forever, and the log (an export, a backup) can be read offline, so the
//! digest must not let a reader test guesses cheaply. A plain SHA-256 (what schema version 1
//! recorded) costs an attacker nanoseconds per guess: 2^49 guesses on average is hours on one
//! GPU. New dossiers record [`SecretDigest::Argon2id`] instead: a per-dossier random salt (so no
//! guess serves two dossiers) and a memory-hard hash whose cost per guess is fixed by the
//! constants below (`docs/domain/dossier.md`, "The lookup secret", has the measured cost and the
//! arithmetic).
//!
//! Everything that compares a presented secret with a digest calls [`SecretDigest::verify`] (the
//! public lookup, and the application proving a citizen's secret before an action, which hands
//! the decision a [`SecretProof`]); it costs one Argon2id evaluation whatever the digest, and
//! [`verify_nothing`] costs the same for a code without a dossier, so timing does not tell them
//! apart. Pure functions: no clock, no I/O; the salt comes in as an argument.
//!
//! The digest never leaves the log: serialised for a human reader (JSON: a dossier's history,
//! the event pages and stream) it is its scheme's name only, and its `Debug` shows no bytes.
//! The stored (bincode) encoding is the one `derive(Serialize)` would give, pinned by a test.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::ser::{SerializeStructVariant, Serializer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Argon2id memory per evaluation, in KiB. Memory-hard: an attacker's cost per guess is bound
/// by memory and its bandwidth, not by arithmetic units. Chosen for a 50-bit random secret,
/// not a password: low enough that a receipt and a lookup each cost under a millisecond of one
/// core (0.70 ms measured in release, `engine/tests/secret_cost.rs`), high enough that 2^49
/// guesses cost over 12,000 CPU-years per dossier (`docs/domain/dossier.md`).
pub const ARGON2_MEMORY_KIB: u32 = 2048;
/// Argon2id passes over the memory. One: more passes buy as much as more memory, and memory
/// is what GPUs lack.
pub const ARGON2_PASSES: u32 = 1;
/// Argon2id lanes. One: the server computes one digest per request on one blocking thread.
pub const ARGON2_LANES: u32 = 1;
/// Bytes of a per-dossier salt (random, or derived from an idempotency key and the server's
/// salt so that a retried receipt records the same event).
pub const SALT_LEN: usize = 16;
/// Bytes of a digest.
pub const HASH_LEN: usize = 32;
/// The salt of the evaluation that only spends time (a code with no dossier, or a digest of
/// schema version 1, whose own check costs nothing): any fixed value does.
const TIMING_SALT: [u8; SALT_LEN] = *b"motcua-no-secret";

/// The digest of a dossier's lookup secret, as recorded in its first event.
///
/// Stored: variants only ever appended (bincode encodes the variant's index).
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub enum SecretDigest {
    /// Unsalted SHA-256 of the secret: what schema version 1 recorded, read from old logs only
    /// (upcast in `engine/src/recorded.rs`); never written any more.
    Sha256([u8; 32]),
    /// Argon2id (version 0x13) of the secret with the dossier's salt and the parameters
    /// [`ARGON2_MEMORY_KIB`], [`ARGON2_PASSES`], [`ARGON2_LANES`], output [`HASH_LEN`] bytes.
    Argon2id {
        salt: [u8; SALT_LEN],
        hash: [u8; HASH_LEN],
    },
}

/// Why a digest could not be computed (only parameters out of Argon2's ranges, a programming
/// error the first test catches; no secret of a request can cause it).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("argon2id: {0}")]
pub struct SecretError(String);

impl SecretDigest {
    /// The digest new dossiers record: Argon2id of `secret` with `salt`.
    pub fn argon2id(secret: &str, salt: [u8; SALT_LEN]) -> Result<SecretDigest, SecretError> {
        Ok(SecretDigest::Argon2id {
            salt,
            hash: argon2id(secret.as_bytes(), &salt)?,
        })
    }

    /// The scheme's name (what a human reader is shown instead of the digest).
    pub fn scheme(&self) -> &'static str {
        match self {
            SecretDigest::Sha256(_) => "Sha256",
            SecretDigest::Argon2id { .. } => "Argon2id",
        }
    }

    /// Whether `secret` is the secret of this digest. Costs one Argon2id evaluation whatever
    /// the digest (for a version-1 SHA-256 digest an evaluation that only spends the time), and
    /// compares in constant time, so neither the scheme nor a matching prefix shows in the time
    /// taken. The one comparison of a presented secret with a recorded digest.
    pub fn verify(&self, secret: &str) -> bool {
        match self {
            SecretDigest::Sha256(expected) => {
                verify_nothing(secret);
                let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
                constant_time_eq(&presented, expected)
            }
            SecretDigest::Argon2id { salt, hash } => match argon2id(secret.as_bytes(), salt) {
                Ok(presented) => constant_time_eq(&presented, hash),
                // Unreachable with the constant parameters; a check that cannot run fails.
                Err(_) => false,
            },
        }
    }

    /// A proof that `secret` is this digest's secret, if it is ([`SecretDigest::verify`]).
    pub fn prove(&self, secret: &str) -> Option<SecretProof> {
        self.verify(secret).then(|| SecretProof {
            digest: self.clone(),
        })
    }
}

/// Spends what [`SecretDigest::verify`] spends, for a lookup of a code that has no dossier
/// (its answer must not come back sooner than a wrong secret's).
pub fn verify_nothing(secret: &str) {
    std::hint::black_box(argon2id(secret.as_bytes(), &TIMING_SALT).ok());
}

/// That a citizen showed the secret behind a dossier's digest. Only [`SecretDigest::prove`]
/// makes one, after the slow check passed, so the decision that reads it
/// (`check_actor_scope` in `engine/src/domain/dossier/authorization.rs`) compares digests, not
/// secrets, and stays cheap: the application proves the secret on a blocking thread before it
/// asks for the decision, and a decision decided again after a conflict does not pay again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretProof {
    digest: SecretDigest,
}

impl SecretProof {
    /// Whether this proves the secret of `digest` (a dossier's digest never changes once its
    /// first event recorded it).
    pub fn proves(&self, digest: &SecretDigest) -> bool {
        self.digest == *digest
    }
}

/// Argon2id of `secret` with `salt` and this module's parameters.
fn argon2id(secret: &[u8], salt: &[u8]) -> Result<[u8; HASH_LEN], SecretError> {
    let params = Params::new(
        ARGON2_MEMORY_KIB,
        ARGON2_PASSES,
        ARGON2_LANES,
        Some(HASH_LEN),
    )
    .map_err(|e| SecretError(e.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    // One block per KiB; allocated here rather than by the crate so it needs no `alloc`
    // feature (and no password-hash dependency).
    let mut memory = vec![Block::default(); ARGON2_MEMORY_KIB as usize];
    let mut out = [0u8; HASH_LEN];
    argon
        .hash_password_into_with_memory(secret, salt, &mut out, &mut memory[..])
        .map_err(|e| SecretError(e.to_string()))?;
    Ok(out)
}

/// Equal bytes, in a time that depends on the length only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && std::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}

impl Serialize for SecretDigest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            // JSON for people (a history, an event page): the scheme, never the bytes. The
            // auditor's archive carries the event as recorded (bincode, below).
            let index = match self {
                SecretDigest::Sha256(_) => 0,
                SecretDigest::Argon2id { .. } => 1,
            };
            return serializer.serialize_unit_variant("SecretDigest", index, self.scheme());
        }
        // Exactly what `derive(Serialize)` writes (the stored encoding).
        match self {
            SecretDigest::Sha256(h) => {
                serializer.serialize_newtype_variant("SecretDigest", 0, "Sha256", h)
            }
            SecretDigest::Argon2id { salt, hash } => {
                let mut v =
                    serializer.serialize_struct_variant("SecretDigest", 1, "Argon2id", 2)?;
                v.serialize_field("salt", salt)?;
                v.serialize_field("hash", hash)?;
                v.end()
            }
        }
    }
}

impl std::fmt::Debug for SecretDigest {
    /// The scheme only: a digest printed in a log line or a panic is no less a digest.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretDigest::{}(..)", self.scheme())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(d: &SecretDigest) -> String {
        serde_json::to_string(d).unwrap_or_default()
    }

    #[test]
    fn argon2id_digests_verify_their_secret_only_and_salts_separate_them() {
        let a = SecretDigest::argon2id("ABCDEFGH23", [1; SALT_LEN]).unwrap();
        let b = SecretDigest::argon2id("ABCDEFGH23", [2; SALT_LEN]).unwrap();
        assert_ne!(a, b, "the same secret under two salts: two digests");
        assert!(a.verify("ABCDEFGH23") && b.verify("ABCDEFGH23"));
        assert!(!a.verify("ABCDEFGH24"));
        assert!(!a.verify(""));
        assert!(a
            .prove("ABCDEFGH23")
            .is_some_and(|p| p.proves(&a) && !p.proves(&b)));
        assert!(a.prove("ABCDEFGH24").is_none());
        // Deterministic: the same secret and salt give the same digest.
        assert_eq!(
            a,
            SecretDigest::argon2id("ABCDEFGH23", [1; SALT_LEN]).unwrap()
        );
    }

    /// Pins the output of this module's parameters, so a change of a constant or of the
    /// crate's algorithm is seen: every digest already recorded would stop verifying.
    #[test]
    fn the_parameters_give_the_recorded_digests() {
        let d = SecretDigest::argon2id("password", *b"somesaltsomesalt").unwrap();
        let SecretDigest::Argon2id { hash, .. } = d else {
            panic!("an Argon2id digest")
        };
        assert_eq!(hex::encode(hash), GOLDEN_ARGON2ID);
    }

    /// Argon2id v0x13, m = 2048 KiB, t = 1, p = 1, 32 bytes, of "password" with the salt
    /// "somesaltsomesalt": the same as the reference implementation (libargon2, through
    /// Python's argon2-cffi `hash_secret_raw`) gives.
    const GOLDEN_ARGON2ID: &str =
        "3636d5cdc1636b5c96fb2e8d03fceb91ea90e264a043bafcd0a9701395a36181";

    #[test]
    fn a_sha256_digest_of_schema_1_still_verifies() {
        let old = SecretDigest::Sha256(Sha256::digest(b"ABCDEFGH23").into());
        assert!(old.verify("ABCDEFGH23"));
        assert!(!old.verify("ABCDEFGH24"));
        assert!(old.prove("ABCDEFGH23").is_some_and(|p| p.proves(&old)));
        let new = SecretDigest::argon2id("ABCDEFGH23", [1; SALT_LEN]).unwrap();
        assert!(old.prove("ABCDEFGH23").is_some_and(|p| !p.proves(&new)));
    }

    #[test]
    fn people_see_the_scheme_never_the_bytes() {
        let d = SecretDigest::argon2id("ABCDEFGH23", [9; SALT_LEN]).unwrap();
        assert_eq!(json_of(&d), "\"Argon2id\"");
        assert_eq!(json_of(&SecretDigest::Sha256([3; 32])), "\"Sha256\"");
        assert_eq!(format!("{d:?}"), "SecretDigest::Argon2id(..)");
    }
}
