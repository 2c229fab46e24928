//! Signed checkpoints of the log's head (`docs/checkpoints.md`): the unit's Ed25519 keys, kept
//! outside the log, and the checkpoint files an auditor copies away from the server.
//!
//! - Keys: a directory (`checkpoint-keys/` in the data directory unless `--keys DIR`), mode
//!   0700: `current` names the signing key's id, `<key id>.secret` holds its 32-byte seed in hex
//!   (mode 0600), `<key id>.public` its public key. A rotation makes a new key current and
//!   deletes the old seed; every `.public` stays, so old checkpoints still name a listed key.
//!   The log never holds a key, and no archive (`motcua export`, `backup`) carries one: the
//!   archives are the log alone.
//! - Checkpoints: `checkpoints/<seq>.json` in the data directory, written through
//!   `<seq>.json.partial`, synced, then renamed, so a file named `<seq>.json` is whole.
//!
//! The format, the signed message and the comparison with an archive are the auditor's tool's
//! (`motcua_replay::checkpoint`): one implementation signs and checks.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ed25519_dalek::SigningKey;
use motcua_engine::durable_file;
use motcua_engine::hex_digits::parse_hex;
use motcua_engine::log::{EventLog, LogError};
use motcua_replay::checkpoint::{
    anchor_stride, key_id, AnchorCollector, Checkpoint, CheckpointError,
};
use rand::RngCore;

/// The keys' directory inside the data directory (when no other is given).
pub const KEYS_DIR: &str = "checkpoint-keys";
/// The checkpoints' directory inside the data directory.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// Checkpoints one list answer holds at most.
pub const MAX_LISTED: usize = 100;
/// Checkpoint files looked at when listing (older ones stay on disk, unlisted).
const MAX_SCANNED: usize = 100_000;
/// Longest key file read.
const MAX_KEY_FILE_BYTES: u64 = 1024;

/// Why a checkpoint could not be signed or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointsError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("the key store {0} is damaged: {1}")]
    Keys(String, String),
    #[error("reading the log: {0}")]
    Log(#[from] LogError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("the log is empty: there is no head to sign yet")]
    EmptyLog,
    #[error("the log changed while it was read; sign again")]
    Moved,
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointsError {
    let path = path.display().to_string();
    move |source| CheckpointsError::Io { what, path, source }
}

/// One public key of the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PublicKey {
    pub key_id: String,
    pub public_key: String,
    /// The key checkpoints are signed with now.
    pub current: bool,
}

/// The unit's signing keys.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    pub fn new(dir: impl Into<PathBuf>) -> KeyStore {
        KeyStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn create_dir(&self) -> Result<(), CheckpointsError> {
        std::fs::create_dir_all(&self.dir).map_err(io("creating", &self.dir))?;
        set_mode(&self.dir, 0o700)
    }

    /// The current signing key, if the store has one.
    pub fn current(&self) -> Result<Option<SigningKey>, CheckpointsError> {
        let current = self.dir.join("current");
        let id = match read_small(&current) {
            Ok(text) => text.trim().to_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("reading", &current)(e)),
        };
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.damaged(format!("`current` names {id:?}, not a key id")));
        }
        let secret = self.dir.join(format!("{id}.secret"));
        let seed = read_small(&secret).map_err(io("reading", &secret))?;
        let seed = parse_hex::<32>(seed.trim())
            .ok_or_else(|| self.damaged(format!("{id}.secret is not 64 hex digits")))?;
        let key = SigningKey::from_bytes(&seed);
        if key_id(&key.verifying_key().to_bytes()) != id {
            return Err(self.damaged(format!("{id}.secret is not the key {id}")));
        }
        Ok(Some(key))
    }

    fn damaged(&self, why: String) -> CheckpointsError {
        CheckpointsError::Keys(self.dir.display().to_string(), why)
    }

    /// The current key, made if the store has none yet.
    pub fn current_or_new(&self) -> Result<SigningKey, CheckpointsError> {
        match self.current()? {
            Some(k) => Ok(k),
            None => self.rotate(),
        }
    }

    /// Makes a new key current; the previous one's seed is deleted (its public key stays
    /// listed). Returns the new key.
    pub fn rotate(&self) -> Result<SigningKey, CheckpointsError> {
        self.create_dir()?;
        let previous = self.current()?;
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        let key = SigningKey::from_bytes(&seed);
        let public = key.verifying_key().to_bytes();
        let id = key_id(&public);
        write_durably(
            &self.dir.join(format!("{id}.public")),
            format!("{}\n", hex::encode(public)).as_bytes(),
            0o644,
        )?;
        write_durably(
            &self.dir.join(format!("{id}.secret")),
            format!("{}\n", hex::encode(seed)).as_bytes(),
            0o600,
        )?;
        write_durably(
            &self.dir.join("current"),
            format!("{id}\n").as_bytes(),
            0o600,
        )?;
        if let Some(old) = previous {
            let old_id = key_id(&old.verifying_key().to_bytes());
            if old_id != id {
                let p = self.dir.join(format!("{old_id}.secret"));
                std::fs::remove_file(&p).map_err(io("removing", &p))?;
            }
        }
        Ok(key)
    }

    /// Every public key of the store, the current one first, then by key id.
    pub fn public_keys(&self) -> Result<Vec<PublicKey>, CheckpointsError> {
        let current = self
            .current()?
            .map(|k| key_id(&k.verifying_key().to_bytes()));
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("reading", &self.dir)(e)),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io("reading", &self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".public") else {
                continue;
            };
            let text = read_small(&entry.path()).map_err(io("reading", &entry.path()))?;
            keys.push(PublicKey {
                key_id: id.to_owned(),
                public_key: text.trim().to_owned(),
                current: current.as_deref() == Some(id),
            });
        }
        keys.sort_by(|a, b| b.current.cmp(&a.current).then(a.key_id.cmp(&b.key_id)));
        Ok(keys)
    }
}

fn read_small(path: &Path) -> std::io::Result<String> {
    let size = std::fs::metadata(path)?.len();
    if size > MAX_KEY_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "{size} bytes, more than a key file holds"
        )));
    }
    std::fs::read_to_string(path)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), CheckpointsError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io("setting the mode of", path))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> Result<(), CheckpointsError> {
    Ok(())
}

/// Writes `bytes` to `path` durably (the engine's one partial-file sequence), created with
/// `mode`: `path` is whole or absent.
fn write_durably(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CheckpointsError> {
    durable_file::write_durably(path, bytes, Some(mode)).map_err(|e| CheckpointsError::Io {
        what: "writing",
        path: e.path.display().to_string(),
        source: e.source,
    })
}

/// What a signing did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Signed {
    /// False when the head had not moved since the last checkpoint (which is returned).
    pub signed: bool,
    pub checkpoint: Checkpoint,
}

/// Signs and reads the checkpoints of one log. Cheap to clone.
#[derive(Clone)]
pub struct Checkpoints {
    inner: Arc<Inner>,
}

/// What the signings have read of the log so far: the units (the instance's name) of every
/// event up to `seq`.
#[derive(Default)]
struct Scanned {
    seq: u64,
    units: std::collections::BTreeSet<String>,
}

struct Inner {
    log: EventLog,
    dir: PathBuf,
    keys: KeyStore,
    /// One signing at a time (the daily task, `POST /v1/checkpoints`), and what the signings
    /// have read of the log.
    signing: Mutex<Scanned>,
    /// The newest checkpoint's fingerprint, read from disk once and replaced by each signing:
    /// every slip 06 and statistics page prints it, and listing and parsing the directory on
    /// each of them would put file I/O on a per-request path. While a server runs only it
    /// writes checkpoints (`motcua checkpoint sign` takes a stopped data directory).
    newest: Mutex<Option<Option<String>>>,
}

impl Checkpoints {
    /// The checkpoints of `log`, whose data directory is `data_dir`; keys in `keys_dir`, or
    /// `checkpoint-keys/` of the data directory.
    pub fn new(log: EventLog, data_dir: &Path, keys_dir: Option<PathBuf>) -> Checkpoints {
        let keys = KeyStore::new(keys_dir.unwrap_or_else(|| data_dir.join(KEYS_DIR)));
        Checkpoints {
            inner: Arc::new(Inner {
                log,
                dir: data_dir.join(CHECKPOINTS_DIR),
                keys,
                signing: Mutex::new(Scanned::default()),
                newest: Mutex::new(None),
            }),
        }
    }

    pub fn keys(&self) -> &KeyStore {
        &self.inner.keys
    }

    /// Signs the durable head with the current key (made if there is none), unless the last
    /// checkpoint already holds this head under this key. Blocking: reads the events since the
    /// last signing (the units) and the anchors' events by seq, not the whole log each time.
    pub fn sign_blocking(&self, signed_at: &str) -> Result<Signed, CheckpointsError> {
        let mut scanned = self
            .inner
            .signing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let head = self.inner.log.head();
        if head.seq == 0 {
            return Err(CheckpointsError::EmptyLog);
        }
        let key = self.inner.keys.current_or_new()?;
        let id = key_id(&key.verifying_key().to_bytes());
        if let Some(last) = self.latest()? {
            if last.seq == head.seq && last.head == hex::encode(head.hash) && last.key_id == id {
                return Ok(Signed {
                    signed: false,
                    checkpoint: last,
                });
            }
        }
        // The units that name the instance: only the events since the last signing are read
        // (the set only grows).
        for env in self.inner.log.scan(scanned.seq) {
            let env = env?;
            if env.seq > head.seq {
                break;
            }
            if let Some(unit) = env.stream.unit_code() {
                scanned.units.insert(unit.to_string());
            }
            scanned.seq = env.seq;
        }
        // The anchors: the hashes at the stride's multiples and the head's, read by seq (at
        // most `MAX_ANCHORS` + 1 events), not the whole log.
        let mut anchors = AnchorCollector::new(head.seq);
        let stride = anchor_stride(head.seq);
        let multiples = (1..=head.seq / stride).map(|k| k * stride);
        let last = (head.seq % stride != 0).then_some(head.seq);
        for seq in multiples.chain(last) {
            let env = self
                .inner
                .log
                .read_all(seq - 1, 1)?
                .into_iter()
                .next()
                .filter(|e| e.seq == seq)
                .ok_or(CheckpointsError::Moved)?;
            anchors.push(env.seq, &env.hash);
        }
        let instance = instance_name(&scanned.units);
        let unsigned = anchors
            .finish(&instance, signed_at)
            .ok_or(CheckpointsError::Moved)?;
        if unsigned.head != head.hash {
            return Err(CheckpointsError::Moved);
        }
        let checkpoint = unsigned.sign(&key)?;
        std::fs::create_dir_all(&self.inner.dir).map_err(io("creating", &self.inner.dir))?;
        let bytes = serde_json::to_vec_pretty(&checkpoint).map_err(|e| CheckpointsError::Io {
            what: "encoding",
            path: self.inner.dir.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        write_durably(
            &self.inner.dir.join(format!("{}.json", checkpoint.seq)),
            &bytes,
            0o644,
        )?;
        *self
            .inner
            .newest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some(Some(checkpoint.fingerprint()));
        Ok(Signed {
            signed: true,
            checkpoint,
        })
    }

    /// [`Checkpoints::sign_blocking`] on a blocking thread, signed now.
    pub async fn sign(&self) -> Result<Signed, CheckpointsError> {
        let this = self.clone();
        let now = now_rfc3339();
        tokio::task::spawn_blocking(move || this.sign_blocking(&now))
            .await
            .map_err(|e| CheckpointsError::Io {
                what: "signing in",
                path: "a blocking thread".into(),
                source: std::io::Error::other(e.to_string()),
            })?
    }

    /// The seqs of the checkpoint files, highest first.
    fn seqs(&self) -> Result<Vec<u64>, CheckpointsError> {
        let entries = match std::fs::read_dir(&self.inner.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("reading", &self.inner.dir)(e)),
        };
        let mut seqs = Vec::new();
        for entry in entries.take(MAX_SCANNED) {
            let entry = entry.map_err(io("reading", &self.inner.dir))?;
            let name = entry.file_name();
            if let Some(seq) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok())
            {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        Ok(seqs)
    }

    /// The checkpoint signed at `seq`.
    pub fn get(&self, seq: u64) -> Result<Option<Checkpoint>, CheckpointsError> {
        let path = self.inner.dir.join(format!("{seq}.json"));
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("reading", &path)(e)),
            Ok(_) => {}
        }
        Ok(Some(Checkpoint::read(&path)?))
    }

    /// The newest checkpoints, at most `limit` (and at most [`MAX_LISTED`]).
    pub fn list(&self, limit: usize) -> Result<Vec<Checkpoint>, CheckpointsError> {
        let mut out = Vec::new();
        for seq in self.seqs()?.into_iter().take(limit.min(MAX_LISTED)) {
            if let Some(cp) = self.get(seq)? {
                out.push(cp);
            }
        }
        Ok(out)
    }

    /// The newest checkpoint.
    pub fn latest(&self) -> Result<Option<Checkpoint>, CheckpointsError> {
        Ok(self.list(1)?.into_iter().next())
    }

    /// The short fingerprint of the newest checkpoint printed on reports and slip 06
    /// ("#<seq> <16 hex of the head> (khoá <key id>)"); None when there is none or it cannot
    /// be read (a report is not refused for it).
    pub fn fingerprint(&self) -> Option<String> {
        let mut newest = self
            .inner
            .newest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(known) = newest.as_ref() {
            return known.clone();
        }
        // A directory that cannot be read now is tried again on the next page, not cached.
        let read = self.latest().ok()?.map(|c| c.fingerprint());
        *newest = Some(read.clone());
        read
    }
}

/// The line printed on statistics reports and slip 06: "Mốc kiểm chứng: #<seq> <16 hex of the
/// head> (khoá <key id>)", or that none is signed yet.
pub fn fingerprint_line(fingerprint: Option<&str>) -> String {
    match fingerprint {
        Some(f) => format!("Mốc kiểm chứng: {f}"),
        None => "Mốc kiểm chứng: chưa có".into(),
    }
}

/// A printed page (the domain's slip HTML) with the fingerprint line added before its end.
/// The line holds digits, hex, letters and `#()` only: nothing to escape.
pub fn stamp_html(mut html: String, fingerprint: Option<&str>) -> String {
    let line = format!(
        "<p class=\"checkpoint\">{}</p>\n",
        fingerprint_line(fingerprint)
    );
    match html.rfind("</body>") {
        Some(at) => html.insert_str(at, &line),
        None => html.push_str(&line),
    }
    html
}

/// The instance a checkpoint names: the units whose reference streams the log holds, or
/// `motcua` for a log with none.
fn instance_name(units: &std::collections::BTreeSet<String>) -> String {
    let mut name = units.iter().cloned().collect::<Vec<_>>().join(",");
    if name.is_empty() {
        name = "motcua".into();
    }
    if name.chars().count() > motcua_replay::checkpoint::MAX_INSTANCE_CHARS {
        let cut: String = name
            .chars()
            .take(motcua_replay::checkpoint::MAX_INSTANCE_CHARS - 4)
            .collect();
        name = format!("{cut},...");
    }
    name
}

/// The instant of signing, RFC 3339 UTC to the second.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl crate::app::App {
    /// The checkpoints of this application's log, kept in `data_dir` (keys in `keys_dir`, or
    /// `checkpoint-keys/` of the data directory).
    pub fn checkpoints(&self, data_dir: &Path, keys_dir: Option<PathBuf>) -> Checkpoints {
        Checkpoints::new(self.log().clone(), data_dir, keys_dir)
    }
}

/// UTC+7 (Asia/Ho_Chi_Minh, no daylight saving): the day a daily checkpoint closes.
fn local_offset() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(7 * 3600)
        .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!()))
}

/// How long until the next local midnight (at least a second).
fn until_next_midnight(now: chrono::DateTime<chrono::Utc>) -> std::time::Duration {
    let local = now.with_timezone(&local_offset());
    let next = local
        .date_naive()
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_local_timezone(local_offset()).single());
    next.and_then(|n| (n - local).to_std().ok())
        .unwrap_or(std::time::Duration::from_secs(3600))
        .max(std::time::Duration::from_secs(1))
}

/// Signs a checkpoint now and after each local midnight until `stop` is cancelled, on a
/// blocking thread each time (request handling never waits for it). A failure is logged and
/// tried again at the next midnight: the server goes on serving.
pub fn spawn_daily(
    checkpoints: Checkpoints,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match checkpoints.sign().await {
                Ok(s) => tracing::info!(
                    seq = s.checkpoint.seq,
                    key_id = %s.checkpoint.key_id,
                    signed = s.signed,
                    "checkpoint"
                ),
                Err(CheckpointsError::EmptyLog) => {}
                Err(e) => tracing::warn!(error = %e, "checkpoint not signed"),
            }
            let wait = until_next_midnight(chrono::Utc::now());
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_signing_is_at_local_midnight() {
        // 2023-08-31 16:59:30 UTC is 23:59:30 in Hà Nội: 30 s to go.
        let t = chrono::DateTime::parse_from_rfc3339("2023-08-31T16:59:30Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        assert_eq!(until_next_midnight(t), std::time::Duration::from_secs(30));
        // Right at midnight: a whole day.
        let t = chrono::DateTime::parse_from_rfc3339("2023-08-31T17:00:00Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        assert_eq!(
            until_next_midnight(t),
            std::time::Duration::from_secs(86_400)
        );
    }

    #[test]
    fn a_rotation_keeps_old_public_keys_and_drops_old_seeds() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = KeyStore::new(dir.path().join("keys"));
        assert!(store.current().ok().flatten().is_none());
        let first = store.current_or_new().unwrap_or_else(|e| panic!("{e}"));
        let again = store.current_or_new().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.to_bytes(), again.to_bytes());
        let second = store.rotate().unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(first.to_bytes(), second.to_bytes());
        let keys = store.public_keys().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(keys.len(), 2);
        assert!(keys[0].current && !keys[1].current);
        assert_eq!(
            keys[0].public_key,
            hex::encode(second.verifying_key().to_bytes())
        );
        let old_id = key_id(&first.verifying_key().to_bytes());
        assert!(!dir
            .path()
            .join("keys")
            .join(format!("{old_id}.secret"))
            .exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| {
                std::fs::metadata(p)
                    .map(|m| m.permissions().mode() & 0o777)
                    .unwrap_or(0)
            };
            assert_eq!(mode(&dir.path().join("keys")), 0o700);
            let new_id = key_id(&second.verifying_key().to_bytes());
            assert_eq!(
                mode(&dir.path().join("keys").join(format!("{new_id}.secret"))),
                0o600
            );
        }
    }
}

#[cfg(test)]
mod signing_tests {
    use super::*;
    use motcua_engine::log::{Actor, ExpectedVersion, LogConfig, NewEvent, StreamId};

    async fn append(log: &EventLog, stream: &str, n: usize) {
        let stream = StreamId::new(stream).unwrap_or_else(|e| panic!("{e}"));
        let mut left = n;
        while left > 0 {
            let batch = left.min(100);
            left -= batch;
            let ev = || NewEvent {
                event_id: None,
                event_type: "test.event".into(),
                schema_version: 1,
                actor: Actor {
                    staff: "tester".into(),
                    role: "admin".into(),
                },
                correlation_id: None,
                causation_id: None,
                payload: b"{}".to_vec(),
            };
            log.append(
                &stream,
                ExpectedVersion::Any,
                (0..batch).map(|_| ev()).collect(),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// What the signing signed before it kept its reads: every event scanned, in order.
    fn from_a_full_scan(log: &EventLog, key: &SigningKey, signed_at: &str) -> Checkpoint {
        let head = log.head();
        let mut anchors = AnchorCollector::new(head.seq);
        let mut units = std::collections::BTreeSet::new();
        for env in log.scan(0) {
            let env = env.unwrap_or_else(|e| panic!("{e}"));
            if let Some(unit) = env.stream.unit_code() {
                units.insert(unit.to_string());
            }
            anchors.push(env.seq, &env.hash);
        }
        let unsigned = anchors
            .finish(&instance_name(&units), signed_at)
            .unwrap_or_else(|| panic!("incomplete"));
        unsigned.sign(key).unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_signing_reading_only_new_events_and_the_anchors_signs_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log = EventLog::open(&dir.path().join("data"), LogConfig::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let cps = Checkpoints::new(log.clone(), dir.path(), Some(dir.path().join("keys")));
        append(&log, "unit/000.33.22.H05", 3).await;
        append(&log, "catalog", 10).await;
        let first = cps
            .sign_blocking("2026-01-01T00:00:00Z")
            .unwrap_or_else(|e| panic!("{e}"));
        let key = cps
            .inner
            .keys
            .current()
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no key"));
        assert_eq!(
            first.checkpoint,
            from_a_full_scan(&log, &key, "2026-01-01T00:00:00Z")
        );
        // Past MAX_ANCHORS events the stride doubles; a second unit joins the instance's name.
        let more = usize::try_from(motcua_replay::checkpoint::MAX_ANCHORS).unwrap_or(4096);
        append(&log, "unit/000.33.22.H06", 2).await;
        append(&log, "catalog", more).await;
        let second = cps
            .sign_blocking("2026-01-02T00:00:00Z")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(second.signed);
        assert_eq!(second.checkpoint.anchor_stride, 2);
        assert_eq!(second.checkpoint.instance, "000.33.22.H05,000.33.22.H06");
        assert_eq!(
            second.checkpoint,
            from_a_full_scan(&log, &key, "2026-01-02T00:00:00Z")
        );
        log.close().await.unwrap_or_else(|e| panic!("{e}"));
    }
}
