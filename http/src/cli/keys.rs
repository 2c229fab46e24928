//! `motcua keys export` and `motcua keys import`: the backup of the personal-data key store,
//! on a *stopped* data directory. The log's archive (`motcua backup`) never carries the keys:
//! destroying a person's key must make every archive unreadable for them, which it could not
//! if the archive held the key. So keys have a procedure of their own:
//!
//! - `export` writes every key, encrypted under a passphrase (Argon2id, then
//!   XChaCha20-Poly1305), through `FILE.partial`, synced, then renamed: a file named `FILE` is
//!   complete.
//! - `import` loads such a file into a freshly restored data directory (before the server
//!   first starts on it), skipping every person whose erasure the log records, so an old key
//!   backup never brings an erased person back, then rebuilds the applicants' search index
//!   from the log and the keys.
//!
//! A key backup is as sensitive as the personal data: keep few, rotate them (an erased
//! person's key lives on in older key backups until they are destroyed), never beside the log
//! archives. `docs/personal-data.md` has the procedure.

use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use motcua_engine::log::EventLog;
use motcua_engine::personal::{erased_in, load_dump, reindex, KeyDump, PersonalStore};
use rand::RngCore;

use crate::datadir::{open_stopped, NoLogYet};

/// The first line of a key backup file.
const MAGIC: &[u8] = b"MOTCUA-KEYS-BACKUP 1\n";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
/// Argon2id cost of turning the passphrase into the file's key: 64 MiB, 3 passes (a guess
/// costs an attacker as much; the operator pays it once per export or import).
const KDF_MEMORY_KIB: u32 = 64 * 1024;
const KDF_PASSES: u32 = 3;
/// The shortest passphrase accepted.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Reads the passphrase: the first line of `file`.
pub fn read_passphrase(file: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read the passphrase file {}: {e}", file.display()))?;
    let line = text.lines().next().unwrap_or("").to_owned();
    if line.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(format!(
            "the passphrase (first line of {}) must have at least {MIN_PASSPHRASE_CHARS} characters",
            file.display()
        ));
    }
    Ok(line)
}

/// Exports every key of the stopped data directory `data` to `out`; the line to print.
pub async fn export(data: &Path, out: &Path, passphrase: &str) -> Result<String, String> {
    let log = open(data)?;
    let dump = PersonalStore::open(log.store())
        .and_then(|keys| keys.dump())
        .map_err(|e| e.to_string());
    let closed = log.close().await;
    let dump = dump?;
    closed.map_err(|e| e.to_string())?;
    let sealed = seal(&dump.to_bytes(), passphrase)?;
    write_durably(out, &sealed)?;
    Ok(format!("keys={} out={}", dump.len(), out.display()))
}

/// Imports the key backup `from` into the stopped data directory `data`; the line to print.
pub async fn import(data: &Path, from: &Path, passphrase: &str) -> Result<String, String> {
    let bytes = std::fs::read(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    let dump = KeyDump::from_bytes(&open_sealed(&bytes, passphrase)?).map_err(|e| e.to_string())?;
    let log = open(data)?;
    let loaded = erased_in(&log)
        .and_then(|erased| {
            let loaded = load_dump(log.store(), &dump, &erased)?;
            // The search index is not in the backup: it follows from the log and the keys.
            let indexed = reindex(&log, &PersonalStore::open(log.store())?)?;
            Ok((loaded, dump.len() - loaded, indexed))
        })
        .map_err(|e| e.to_string());
    let closed = log.close().await;
    let (loaded, skipped, indexed) = loaded?;
    closed.map_err(|e| e.to_string())?;
    Ok(format!(
        "keys_loaded={loaded} keys_skipped_erased={skipped} dossiers_indexed={indexed}"
    ))
}

fn open(data: &Path) -> Result<EventLog, String> {
    open_stopped(data, NoLogYet::Refuse, None)
}

fn file_key(passphrase: &str, salt: &[u8; SALT_LEN]) -> Result<[u8; 32], String> {
    let params = Params::new(KDF_MEMORY_KIB, KDF_PASSES, 1, Some(32))
        .map_err(|e| format!("key derivation: {e}"))?;
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|e| format!("key derivation: {e}"))?;
    Ok(key)
}

fn seal(plain: &[u8], passphrase: &str) -> Result<Vec<u8>, String> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut salt);
    rand::thread_rng().fill_bytes(&mut nonce);
    let key = file_key(passphrase, &salt)?;
    let ciphertext = XChaCha20Poly1305::new((&key).into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: MAGIC,
            },
        )
        .map_err(|_| "encryption failed".to_owned())?;
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

fn open_sealed(bytes: &[u8], passphrase: &str) -> Result<Vec<u8>, String> {
    let not_a_backup = || "not a motcua key backup (or truncated)".to_owned();
    let rest = bytes.strip_prefix(MAGIC).ok_or_else(not_a_backup)?;
    let (salt, rest) = rest
        .split_first_chunk::<SALT_LEN>()
        .ok_or_else(not_a_backup)?;
    let (nonce, ciphertext) = rest
        .split_first_chunk::<NONCE_LEN>()
        .ok_or_else(not_a_backup)?;
    let key = file_key(passphrase, salt)?;
    XChaCha20Poly1305::new((&key).into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: MAGIC,
            },
        )
        .map_err(|_| "wrong passphrase, or the key backup is damaged".to_owned())
}

/// Writes `bytes` to `FILE` durably, owner-only (the engine's one partial-file sequence).
fn write_durably(out: &Path, bytes: &[u8]) -> Result<(), String> {
    motcua_engine::durable_file::write_durably(out, bytes, Some(0o600)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_backup_opens_with_its_passphrase_only() {
        let sealed = seal(b"keys", "a long passphrase").unwrap();
        assert!(sealed.starts_with(MAGIC));
        assert_eq!(open_sealed(&sealed, "a long passphrase").unwrap(), b"keys");
        assert!(open_sealed(&sealed, "another passphrase").is_err());
        assert!(open_sealed(&sealed[..sealed.len() - 1], "a long passphrase").is_err());
        assert!(open_sealed(b"junk", "a long passphrase").is_err());
    }
}
