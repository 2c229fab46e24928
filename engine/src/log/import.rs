//! Importing already-recorded envelopes into a new data directory: the engine half of
//! `motcua restore`.
//!
//! Unlike an append, an import does not record anything new: every envelope keeps its seq, hash,
//! `prev_hash`, `recorded_at`, stream version and event id exactly as the original log wrote
//! them, so the restored log's head hash is the archive's. Because nothing is re-stamped, the
//! import must re-check everything the writer guaranteed when it recorded them (the chain, by the
//! log's [`ChainCheck`]: seq contiguous from 1, each `prev_hash` the previous hash, each hash the
//! content's; stream versions
//! contiguous, `recorded_at` never decreasing, event ids unique): otherwise a damaged source
//! would become a log that `EventLog::open` or `verify` rejects, or worse, one they accept.
//!
//! Speed (a restore of a million events) and durability are got differently from the writer:
//! the directory is first marked as an unfinished import ([`Store::start_import`]), then the
//! envelopes are checked on the calling thread while two more threads write the rows of the
//! previous batches, one the `events` tree, the other the two indexes (key by key, not one
//! transaction per batch: nobody can read the directory meanwhile, `EventLog::open` refuses it
//! while the mark is there); at the end the
//! `meta` records are written, everything is made durable once, and only then is the mark
//! removed. So a directory is either a complete, durable, checked log, or marked and refused,
//! whatever point a crash or a refusal stops the import at: callers (restore) import into a
//! staging directory and discard it on error.
//!
//! Event ids are checked unique without a lookup per event: ids are written in seq order, so a
//! repeated id overwrites its earlier row, and the `event_ids` tree ends with fewer rows than
//! events. Only then is the log scanned for the first repeat, to name its seq.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;

use thiserror::Error;

use super::chain::ChainCheck;
use super::envelope::{Envelope, EventId, Position, StreamId};
use super::error::LogError;
use super::limits::LogConfig;
use super::reader::{
    be_u64, decode_event, EventRows, MetaHead, Trees, META_FORMAT_VERSION, META_HEAD,
};
use crate::codec::{self, FORMAT_VERSION};
use crate::storage::{Batch, StorageError, Store};

/// Bytes of encoded records per import transaction, on top of `max_batch_events`: bounds the
/// memory and the transaction size of a batch of large events (64 KiB each at most) the way
/// `max_batch_events` bounds it for the usual few-hundred-byte ones.
pub const IMPORT_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// Why an import stopped.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The target already holds a log: an import never merges into existing events.
    #[error("the target data directory is not empty ({0}); import only into a new, empty one")]
    NotEmpty(String),
    /// An envelope breaks one of the log's invariants (`rule` as in `verify`'s findings).
    #[error("seq {seq}: {rule}: {detail}")]
    Refused {
        seq: u64,
        rule: &'static str,
        detail: String,
    },
    /// The source of envelopes failed (unreadable or undecodable record) before `seq`.
    #[error("source failed at seq {seq}: {detail}")]
    Source { seq: u64, detail: String },
    #[error("log: {0}")]
    Log(#[from] LogError),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

impl ImportError {
    /// The seq the refusal is about, if it is about one.
    pub fn seq(&self) -> Option<u64> {
        match self {
            ImportError::Refused { seq, .. } | ImportError::Source { seq, .. } => Some(*seq),
            _ => None,
        }
    }
}

/// Batches in flight between the checking thread and each writing thread: enough to keep the
/// writers busy while the next batch is checked, few enough to bound memory at a few batches.
pub const IMPORT_PIPELINE_DEPTH: usize = 4;

/// Writes `envelopes` (seq 1, 2, ... in order) into the empty log in `dir` (created if
/// missing), unchanged, and makes them durable. Returns the new head.
///
/// Refuses a directory whose log is not empty, and refuses the first envelope that breaks the
/// chain, naming its seq. Afterwards `EventLog::open(dir)` succeeds and `verify()` is clean;
/// after a refusal or a crash the directory carries the unfinished-import mark and
/// `EventLog::open` refuses it. The directory must not be open elsewhere (sled allows one `Db`
/// per path per process).
pub fn import_log<I, E>(
    dir: &Path,
    config: &LogConfig,
    envelopes: I,
) -> Result<Position, ImportError>
where
    I: IntoIterator<Item = Result<Envelope, E>>,
    E: std::fmt::Display,
{
    let store = Store::open_for_import(dir)?;
    let trees = Trees::open(&store)?;
    ensure_empty(&trees)?;
    store.start_import()?;
    let max_events = config.max_batch_events.max(1);
    let head = std::thread::scope(|scope| {
        // Two writers, one per side: the `events` tree, and the two indexes.
        let (events_tx, events_rx) = mpsc::sync_channel::<Batch>(IMPORT_PIPELINE_DEPTH);
        let (index_tx, index_rx) = mpsc::sync_channel::<(Batch, Batch)>(IMPORT_PIPELINE_DEPTH);
        let t = &trees;
        let events_writer = scope.spawn(move || -> Result<(), StorageError> {
            for rows in events_rx {
                t.events.write_unatomic(rows)?;
            }
            Ok(())
        });
        let index_writer = scope.spawn(move || -> Result<(), StorageError> {
            for (streams, ids) in index_rx {
                t.streams.write_unatomic(streams)?;
                t.event_ids.write_unatomic(ids)?;
            }
            Ok(())
        });
        let send = |batch: Vec<Envelope>| {
            let rows = EventRows::of(&batch);
            events_tx
                .send(rows.events)
                .ok()
                .and_then(|()| index_tx.send((rows.streams, rows.ids)).ok())
                .ok_or_else(|| {
                    ImportError::Storage(StorageError::Sled("import writer stopped".into()))
                })
        };
        let checked = check_all(envelopes, max_events, send);
        drop((events_tx, index_tx));
        let mut written = Ok(());
        for writer in [events_writer, index_writer] {
            let result = match writer.join() {
                Ok(r) => r.map_err(ImportError::Storage),
                Err(_) => Err(ImportError::Storage(StorageError::Sled(
                    "import writer panicked".into(),
                ))),
            };
            if written.is_ok() {
                written = result;
            }
        }
        // A write failure stops the checker too (its send fails): report the write's cause.
        written.and(checked)
    })?;
    check_unique_ids(&trees, head.seq)?;
    let mut meta = Batch::new();
    meta.insert(META_FORMAT_VERSION.to_vec(), vec![FORMAT_VERSION]);
    meta.insert(META_HEAD.to_vec(), codec::encode(&head));
    trees.meta.apply(meta)?;
    store.flush_durable()?;
    store.finish_import()?;
    Ok(Position {
        seq: head.seq,
        hash: head.hash,
    })
}

/// Checks every envelope in order and hands full batches to the writer; returns the head.
fn check_all<I, E>(
    envelopes: I,
    max_events: usize,
    send: impl Fn(Vec<Envelope>) -> Result<(), ImportError>,
) -> Result<MetaHead, ImportError>
where
    I: IntoIterator<Item = Result<Envelope, E>>,
    E: std::fmt::Display,
{
    let mut checker = Checker {
        head: MetaHead::default(),
        chain: ChainCheck::from_genesis(),
        versions: HashMap::new(),
    };
    let mut staged = Vec::with_capacity(max_events);
    let mut staged_bytes = 0usize;
    for item in envelopes {
        let next = checker.head.seq.saturating_add(1);
        let env = item.map_err(|e| ImportError::Source {
            seq: next,
            detail: e.to_string(),
        })?;
        checker.check(&env)?;
        staged_bytes += env.payload.len() + env.stream.as_str().len() + 128;
        staged.push(env);
        if staged.len() >= max_events || staged_bytes >= IMPORT_BATCH_BYTES {
            send(std::mem::replace(
                &mut staged,
                Vec::with_capacity(max_events),
            ))?;
            staged_bytes = 0;
        }
    }
    if !staged.is_empty() {
        send(staged)?;
    }
    Ok(checker.head)
}

/// Every event id is unique: the `event_ids` tree has one row per event. If not, names the
/// first seq whose id an earlier event already had.
fn check_unique_ids(trees: &Trees, events: u64) -> Result<(), ImportError> {
    let rows = trees.event_ids.count()? as u64;
    if rows == events {
        return Ok(());
    }
    // Rare path: a repeated id's row points at its last occurrence; the first repeat is the
    // smallest seq that an earlier event's id points at.
    let mut first: Option<(u64, EventId)> = None;
    for item in trees.events.iter() {
        let (key, value) = item?;
        let seq = be_u64(&key, "events key")?;
        let env = decode_event(seq, &value)?;
        if let Some(v) = trees.event_ids.get(env.event_id.0)? {
            let at = be_u64(&v, "event_ids index value")?;
            if at != seq && first.is_none_or(|(s, _)| at < s) {
                first = Some((at, env.event_id));
            }
        }
    }
    let (seq, id) = first.ok_or_else(|| ImportError::Refused {
        seq: events,
        rule: "event_id",
        detail: format!("{rows} event ids for {events} events"),
    })?;
    Err(ImportError::Refused {
        seq,
        rule: "event_id",
        detail: format!("event id {id} appears twice"),
    })
}

/// An empty log: no event, no index entry, and a head (if any) at seq 0.
fn ensure_empty(trees: &Trees) -> Result<(), ImportError> {
    for (name, tree) in [
        ("events", &trees.events),
        ("streams", &trees.streams),
        ("event_ids", &trees.event_ids),
    ] {
        if !tree.is_empty() {
            return Err(ImportError::NotEmpty(format!(
                "its `{name}` tree is not empty"
            )));
        }
    }
    if let Some(bytes) = trees.meta.get(META_HEAD)? {
        match codec::decode::<MetaHead>(&bytes) {
            Ok(h) if h.seq == 0 => {}
            Ok(h) => {
                return Err(ImportError::NotEmpty(format!(
                    "its head is at seq {}",
                    h.seq
                )))
            }
            Err(e) => return Err(ImportError::NotEmpty(format!("unreadable head: {e}"))),
        }
    }
    Ok(())
}

/// The checks of each envelope against the ones before it.
struct Checker {
    /// The last checked envelope's position.
    head: MetaHead,
    chain: ChainCheck,
    /// Current version of every stream seen (the target was empty, so an unseen stream is at
    /// version 0): one entry per stream of the archive.
    versions: HashMap<StreamId, u64>,
}

impl Checker {
    fn refuse(seq: u64, rule: &'static str, detail: String) -> ImportError {
        ImportError::Refused { seq, rule, detail }
    }

    /// Checks `env` against the log so far (chain, `recorded_at`, stream version).
    fn check(&mut self, env: &Envelope) -> Result<(), ImportError> {
        self.chain
            .check(env)
            .map_err(|b| Self::refuse(b.seq(), b.rule(), b.to_string()))?;
        if env.seq > 1 && env.recorded_at_ms < self.head.recorded_at_ms {
            return Err(Self::refuse(
                env.seq,
                "recorded_at",
                format!(
                    "recorded at {} ms, before the previous event ({} ms)",
                    env.recorded_at_ms, self.head.recorded_at_ms
                ),
            ));
        }
        let current = self.versions.get(&env.stream).copied().unwrap_or(0);
        if env.version != current.saturating_add(1) {
            return Err(Self::refuse(
                env.seq,
                "stream_version",
                format!(
                    "{} version {} follows version {current}",
                    env.stream, env.version
                ),
            ));
        }
        self.versions.insert(env.stream.clone(), env.version);
        self.head = MetaHead {
            seq: env.seq,
            hash: env.hash,
            recorded_at_ms: env.recorded_at_ms,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::{EventLog, ExpectedVersion, ManualClock, NewEvent};
    use super::*;

    /// The log tests' event, with a correlation id the import must carry over.
    fn ev(payload: &[u8]) -> NewEvent {
        NewEvent {
            correlation_id: Some(EventId([3; 16])),
            ..super::super::tests::ev(None, payload)
        }
    }

    use super::super::tests::sid;

    /// A real log with `n` appends of two events spread over three streams and a moving clock;
    /// returns its envelopes as read back.
    async fn recorded(dir: &Path, n: u64) -> Vec<Envelope> {
        let clock = ManualClock::new(1_000);
        let cfg = LogConfig {
            clock: Arc::new(clock.clone()),
            ..LogConfig::default()
        };
        let log = EventLog::open(dir, cfg).expect("open");
        for i in 0..n {
            clock.set(1_000 + (i as i64 / 3) * 7);
            let stream = sid(&format!("dossier/A-{}", i % 3));
            log.append(
                &stream,
                ExpectedVersion::Any,
                vec![ev(format!("p{i}").as_bytes()), ev(b"x")],
            )
            .await
            .expect("append");
        }
        let all: Vec<Envelope> = log.scan(0).collect::<Result<_, _>>().expect("scan");
        log.close().await.expect("close");
        all
    }

    fn import(dir: &Path, envs: Vec<Envelope>) -> Result<Position, ImportError> {
        let cfg = LogConfig {
            max_batch_events: 7, // several batches, one cut mid-stream
            ..LogConfig::default()
        };
        import_log(
            dir,
            &cfg,
            envs.into_iter().map(Ok::<_, std::convert::Infallible>),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn round_trip_keeps_every_field_and_the_head() {
        let src = tempfile::tempdir().expect("tempdir");
        let envs = recorded(src.path(), 20).await;
        assert_eq!(envs.len(), 40);
        let original = EventLog::open(src.path(), LogConfig::default()).expect("reopen");
        let head = original.head();

        let dst = tempfile::tempdir().expect("tempdir");
        let target = dst.path().join("restored");
        let pos = import(&target, envs.clone()).expect("import");
        assert_eq!(pos, head);

        let log = EventLog::open(&target, LogConfig::default()).expect("open imported");
        assert_eq!(log.head(), head);
        let report = log.verify().expect("verify");
        assert!(report.is_clean(), "{:?}", report.findings);
        assert_eq!((report.events, report.streams), (40, 3));
        let back: Vec<Envelope> = log.scan(0).collect::<Result<_, _>>().expect("scan");
        assert_eq!(back, envs);
        for (s, version) in [
            ("dossier/A-0", 14),
            ("dossier/A-1", 14),
            ("dossier/A-2", 12),
        ] {
            let s = sid(s);
            assert_eq!(
                log.read_stream(&s, 1).expect("read"),
                original.read_stream(&s, 1).expect("read")
            );
            assert_eq!(log.stream_version(&s).expect("v"), version);
        }
        // The imported log goes on like the original: the next append chains to the head.
        let a = log
            .append(
                &sid("dossier/A-0"),
                ExpectedVersion::Exact(14),
                vec![ev(b"next")],
            )
            .await
            .expect("append after import");
        assert_eq!((a.first_seq, a.first_version), (41, 15));
        assert_eq!(log.read_all(40, 1).expect("read")[0].prev_hash, head.hash);
        log.close().await.expect("close");
        original.close().await.expect("close");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_a_broken_chain_naming_the_seq_and_leaves_a_directory_that_never_opens() {
        let src = tempfile::tempdir().expect("tempdir");
        let envs = recorded(src.path(), 15).await; // 30 events
        let dst = tempfile::tempdir().expect("tempdir");

        // A gap: seq 12 missing.
        let mut gap = envs.clone();
        gap.remove(11);
        let e = import(&dst.path().join("gap"), gap).expect_err("gap");
        assert!(
            matches!(
                e,
                ImportError::Refused {
                    seq: 12,
                    rule: "seq",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().starts_with("seq 12: seq:"), "{e}");

        // A bad link: seq 20 points elsewhere, its hash recomputed so only the link is wrong.
        let mut link = envs.clone();
        link[19].prev_hash = [9; 32];
        link[19].hash = link[19].compute_hash();
        let e = import(&dst.path().join("link"), link).expect_err("link");
        assert!(
            matches!(
                e,
                ImportError::Refused {
                    seq: 20,
                    rule: "prev_hash",
                    ..
                }
            ),
            "{e}"
        );

        // A bad hash: seq 9's payload altered.
        let mut hash = envs.clone();
        hash[8].payload.push(1);
        let target = dst.path().join("hash");
        let e = import(&target, hash).expect_err("hash");
        assert!(
            matches!(
                e,
                ImportError::Refused {
                    seq: 9,
                    rule: "hash",
                    ..
                }
            ),
            "{e}"
        );
        // What was written before the refusal (batches of 7: seqs 1..=7) never opens as a
        // short log: the directory still carries the unfinished-import mark.
        assert!(target.join(crate::storage::IMPORT_MARKER_FILE).is_file());
        let e = EventLog::open(&target, LogConfig::default()).expect_err("a refused import");
        assert!(e.is_damaged(), "{e}");
        assert!(e.to_string().contains("did not finish"), "{e}");

        // A repeated event id (re-hashed so the chain is intact) names the repeat's seq.
        let mut dup = envs.clone();
        dup[16].event_id = dup[3].event_id;
        for i in 16..dup.len() {
            dup[i].prev_hash = dup[i - 1].hash;
            dup[i].hash = dup[i].compute_hash();
        }
        let dup_target = dst.path().join("dup");
        let e = import(&dup_target, dup).expect_err("dup");
        assert!(
            matches!(
                e,
                ImportError::Refused {
                    seq: 17,
                    rule: "event_id",
                    ..
                }
            ),
            "{e}"
        );
        assert!(EventLog::open(&dup_target, LogConfig::default()).is_err());

        // A stream version skipped (re-hashed so the chain itself is intact).
        let mut version = envs.clone();
        version[0].version = 2;
        version[0].hash = version[0].compute_hash();
        for i in 1..version.len() {
            version[i].prev_hash = version[i - 1].hash;
            version[i].hash = version[i].compute_hash();
        }
        let e = import(&dst.path().join("version"), version).expect_err("version");
        assert!(
            matches!(
                e,
                ImportError::Refused {
                    seq: 1,
                    rule: "stream_version",
                    ..
                }
            ),
            "{e}"
        );

        // The source itself failing names the seq it was about to deliver.
        let failing = envs
            .iter()
            .take(3)
            .cloned()
            .map(Ok)
            .chain(std::iter::once(Err("disk read error")));
        let e = import_log(&dst.path().join("src"), &LogConfig::default(), failing)
            .expect_err("source");
        assert!(
            matches!(&e, ImportError::Source { seq: 4, detail } if detail == "disk read error"),
            "{e}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_a_non_empty_log_and_writes_nothing() {
        let src = tempfile::tempdir().expect("tempdir");
        let envs = recorded(src.path(), 2).await;
        let before = EventLog::open(src.path(), LogConfig::default()).expect("open");
        let head = before.head();
        before.close().await.expect("close");
        let e = import(src.path(), envs.clone()).expect_err("non-empty");
        assert!(matches!(e, ImportError::NotEmpty(_)), "{e}");
        let after = EventLog::open(src.path(), LogConfig::default()).expect("open");
        assert_eq!(after.head(), head);
        after.close().await.expect("close");

        // A log that was opened (initialised) but never written to is empty: accepted.
        let dst = tempfile::tempdir().expect("tempdir");
        let fresh = EventLog::open(dst.path(), LogConfig::default()).expect("open");
        fresh.close().await.expect("close");
        assert_eq!(import(dst.path(), envs).expect("import").seq, 4);

        // Importing nothing leaves a valid empty log.
        let empty = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            import(empty.path(), Vec::new()).expect("import"),
            Position::default()
        );
        let log = EventLog::open(empty.path(), LogConfig::default()).expect("open");
        assert_eq!(log.head(), Position::default());
        log.close().await.expect("close");
    }
}
