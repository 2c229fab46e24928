//! `motcua checkpoint sign | key | rotate`: the unit's signed checkpoints of its log's head
//! from the command line (`docs/checkpoints.md`), through the application layer's
//! [`Checkpoints`] and [`KeyStore`], the same code `motcua serve` and `POST /v1/checkpoints`
//! sign with.
//!
//! `sign` opens the stopped data directory's log (sled holds one process per directory);
//! `key` and `rotate` touch the key store only, and refuse a default key store inside a
//! directory that is not a motcua data directory (sled would later refuse to create its
//! database among foreign files).

use std::path::{Path, PathBuf};

use motcua_engine::storage::DIR_MARKER_FILE;
use motcua_replay::checkpoint::key_id;

use crate::app::checkpoints::{now_rfc3339, Checkpoints, KeyStore, KEYS_DIR};
use crate::datadir::{open_stopped, NoLogYet};

/// The key store of `data`, or `keys`.
fn key_store(data: &Path, keys: Option<&Path>) -> Result<KeyStore, String> {
    match keys {
        Some(k) => Ok(KeyStore::new(k)),
        None => {
            if !data.join(DIR_MARKER_FILE).is_file() {
                return Err(format!(
                    "{} is not a motcua data directory (start `motcua serve --data {}` once, or \
                     keep the keys elsewhere with --keys DIR)",
                    data.display(),
                    data.display()
                ));
            }
            Ok(KeyStore::new(data.join(KEYS_DIR)))
        }
    }
}

/// `motcua checkpoint sign`: signs the stopped log's head; the line to print.
pub async fn sign(data: &Path, keys: Option<PathBuf>) -> Result<String, String> {
    let log = open_stopped(data, NoLogYet::Refuse, Some("POST /v1/checkpoints"))?;
    let checkpoints = Checkpoints::new(log.clone(), data, keys);
    let now = now_rfc3339();
    let signed = tokio::task::spawn_blocking(move || checkpoints.sign_blocking(&now))
        .await
        .map_err(|e| e.to_string());
    let closed = log.close().await;
    let signed = signed?.map_err(|e| e.to_string())?;
    closed.map_err(|e| e.to_string())?;
    let cp = &signed.checkpoint;
    Ok(format!(
        "checkpoint seq={} head={} key_id={} signed={} file={}",
        cp.seq,
        cp.head,
        cp.key_id,
        signed.signed,
        data.join(crate::app::checkpoints::CHECKPOINTS_DIR)
            .join(format!("{}.json", cp.seq))
            .display()
    ))
}

/// `motcua checkpoint key`: the current public key (made if there is none) then its id, for
/// the auditor to keep; with `all`, every key of the store, one per line.
pub fn key(data: &Path, keys: Option<&Path>, all: bool) -> Result<String, String> {
    let store = key_store(data, keys)?;
    let current = store.current_or_new().map_err(|e| e.to_string())?;
    if !all {
        let public = current.verifying_key().to_bytes();
        return Ok(format!("{} {}", hex::encode(public), key_id(&public)));
    }
    let lines: Vec<String> = store
        .public_keys()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|k| {
            let state = if k.current { "current" } else { "retired" };
            format!("{} {} {state}", k.public_key, k.key_id)
        })
        .collect();
    Ok(lines.join("\n"))
}

/// `motcua checkpoint rotate`: a new current key; the previous seed is deleted, its public key
/// stays listed. Prints the new public key and id.
pub fn rotate(data: &Path, keys: Option<&Path>) -> Result<String, String> {
    let store = key_store(data, keys)?;
    let key = store.rotate().map_err(|e| e.to_string())?;
    let public = key.verifying_key().to_bytes();
    Ok(format!("{} {}", hex::encode(public), key_id(&public)))
}
