//! Bearer tokens: 32 random bytes, hex-encoded (64 characters), shown once when issued. The log
//! only ever holds their SHA-256 (`StaffEvent::TokenIssued`) and a short id derived from it.

use crate::crypto::{random_bytes, sha256};

/// A freshly issued token: the secret (shown once) and what the log records.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub token_id: String,
    pub sha256: [u8; 32],
}

/// Generates a new random token.
pub fn new_token() -> IssuedToken {
    token_from_bytes(random_bytes())
}

/// The token for given random bytes (the demo derives them from its seed, a keyed request from
/// its key).
pub fn token_from_bytes(bytes: [u8; 32]) -> IssuedToken {
    let token = hex::encode(bytes);
    let sha256 = sha256(token.as_bytes());
    IssuedToken {
        token_id: hex::encode(&sha256[..6]),
        token,
        sha256,
    }
}
