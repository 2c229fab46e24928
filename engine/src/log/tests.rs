//! Tests of the log against real sled databases in temporary directories.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::storage::{FaultPlan, FaultPoint, EIO, ENOSPC};

pub(super) fn actor() -> Actor {
    Actor {
        staff: "s-01".into(),
        role: "reception".into(),
    }
}

pub(super) fn ev(id: Option<EventId>, payload: &[u8]) -> NewEvent {
    NewEvent {
        event_id: id,
        event_type: "Test".into(),
        schema_version: 1,
        actor: actor(),
        correlation_id: None,
        causation_id: None,
        payload: payload.to_vec(),
    }
}

pub(super) fn sid(s: &str) -> StreamId {
    StreamId::new(s).expect("valid stream id")
}

fn open(dir: &std::path::Path) -> EventLog {
    EventLog::open(dir, LogConfig::default()).expect("open")
}

/// Where a test's log is kept: a sled directory, or a fresh PostgreSQL database (of the test
/// process's throwaway cluster) beside a data directory for the rest.
pub(crate) struct TestStore {
    dir: tempfile::TempDir,
    url: Option<String>,
}

impl TestStore {
    pub(crate) fn sled() -> TestStore {
        TestStore {
            dir: tempfile::tempdir().expect("tempdir"),
            url: None,
        }
    }

    pub(crate) fn postgres() -> TestStore {
        TestStore {
            dir: tempfile::tempdir().expect("tempdir"),
            url: Some(motcua_testkit::postgres::fresh_database()),
        }
    }

    /// Opens (or reopens) the test's log.
    pub(crate) fn try_open(&self, cfg: LogConfig) -> Result<EventLog, LogError> {
        match &self.url {
            None => EventLog::open(self.dir.path(), cfg),
            Some(url) => EventLog::open_postgres(self.dir.path(), url, cfg),
        }
    }

    /// The data directory (the log's, or the rest's beside a PostgreSQL log).
    pub(crate) fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The database's URL, for a PostgreSQL store.
    pub(crate) fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The PostgreSQL store alone, without a log's writer (schema created if absent).
    pub(crate) fn open_store(&self) -> super::postgres::PgLogStore {
        let url = self.url().expect("a PostgreSQL store");
        super::postgres::PgLogStore::open(url).expect("open the store")
    }

    pub(crate) fn open(&self, cfg: LogConfig) -> EventLog {
        self.try_open(cfg).expect("open")
    }
}

/// Runs each named test body (an `async fn(TestStore)` of this module) once on sled and once on
/// PostgreSQL: the same assertions on either store.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod on_sled {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::TestStore::sled()).await
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::TestStore::postgres()).await
                }
            )*
        }
    };
}

pub(crate) use on_both_stores;

on_both_stores!(
    append_read_and_reopen,
    expected_version_semantics,
    idempotent_retry_and_conflict,
    find_event_by_id,
    idempotency_within_one_batch,
    exactly_one_writer_wins_each_version,
    limits_are_enforced,
    full_queue_answers_overloaded,
    subscription_catches_up_then_goes_live,
    last_stream_with_prefix_finds_the_highest,
    flush_per_append_mode_is_consistent,
    close_stops_appends_on_other_clones,
    scan_streams_everything_after_a_seq,
    large_events_round_trip_and_survive_reopen,
    recorded_at_never_decreases_across_restarts,
    dropping_the_last_handle_releases_the_directory_at_once,
);

async fn append_read_and_reopen(t: TestStore) {
    let clock = ManualClock::new(1_000);
    let cfg = LogConfig {
        clock: Arc::new(clock.clone()),
        ..LogConfig::default()
    };
    let log = t.open(cfg.clone());
    assert_eq!(log.head(), Position::default());
    let s = sid("dossier/A-1");
    let a = log
        .append(
            &s,
            ExpectedVersion::NoStream,
            vec![ev(None, b"one"), ev(None, b"two")],
        )
        .await
        .expect("append");
    assert_eq!(
        (a.first_seq, a.last_seq, a.first_version, a.last_version),
        (1, 2, 1, 2)
    );
    assert_eq!(a.recorded_at_ms, 1_000);
    assert!(!a.deduplicated);
    // The clock going backwards does not make recorded_at decrease.
    clock.set(500);
    let b = log
        .append(&sid("catalog"), ExpectedVersion::Any, vec![ev(None, b"c")])
        .await
        .expect("append");
    assert_eq!(b.recorded_at_ms, 1_000);
    clock.set(2_000);
    log.append(&s, ExpectedVersion::Exact(2), vec![ev(None, b"three")])
        .await
        .expect("append");

    assert_eq!(log.stream_version(&s).expect("v"), 3);
    assert_eq!(log.stream_version(&sid("nope")).expect("v"), 0);
    let evs = log.read_stream(&s, 2).expect("read");
    assert_eq!(
        evs.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert_eq!(evs[1].payload, b"three");
    assert_eq!(evs[1].recorded_at().timestamp_millis(), 2_000);
    let all = log.read_all(0, 10).expect("all");
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(log.read_all(2, 1).expect("all").len(), 1);
    assert_eq!(log.scan(1).count(), 3);
    assert_eq!(all[0].prev_hash, GENESIS_HASH);
    assert_eq!(all[1].prev_hash, all[0].hash);
    let head = log.head();
    assert_eq!(head.seq, 4);
    assert_eq!(head.hash, all[3].hash);
    assert!(log.verify().expect("verify").is_clean());
    log.close().await.expect("close");

    let log = t.open(cfg);
    assert_eq!(log.head(), head);
    let c = log
        .append(&s, ExpectedVersion::Exact(3), vec![ev(None, b"four")])
        .await
        .expect("append after reopen");
    assert_eq!(
        (c.first_seq, c.first_version, c.recorded_at_ms),
        (5, 4, 2_000)
    );
    let report = log.verify().expect("verify");
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!((report.events, report.streams), (5, 2));
    log.close().await.expect("close");
}

async fn expected_version_semantics(t: TestStore) {
    let log = t.open(LogConfig::default());
    let s = sid("dossier/B");
    let err = log
        .append(&s, ExpectedVersion::Exact(1), vec![ev(None, b"x")])
        .await;
    assert_eq!(
        err,
        Err(AppendError::WrongExpectedVersion {
            stream: "dossier/B".into(),
            expected: ExpectedVersion::Exact(1),
            actual: 0
        })
    );
    log.append(&s, ExpectedVersion::Exact(0), vec![ev(None, b"x")])
        .await
        .expect("exact 0 = new");
    assert!(matches!(
        log.append(&s, ExpectedVersion::NoStream, vec![ev(None, b"x")])
            .await,
        Err(AppendError::WrongExpectedVersion { actual: 1, .. })
    ));
    log.append(&s, ExpectedVersion::Any, vec![ev(None, b"x")])
        .await
        .expect("any");
    log.append(&s, ExpectedVersion::Exact(2), vec![ev(None, b"x")])
        .await
        .expect("exact");
    assert_eq!(log.head().seq, 3);
    log.close().await.expect("close");
}

async fn idempotent_retry_and_conflict(t: TestStore) {
    let log = t.open(LogConfig::default());
    let s = sid("dossier/C");
    let ids = [EventId::random(), EventId::random()];
    let batch = vec![ev(Some(ids[0]), b"a"), ev(Some(ids[1]), b"b")];
    let first = log
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .expect("first");
    log.append(&s, ExpectedVersion::Any, vec![ev(None, b"later")])
        .await
        .expect("later");
    // Retry with the original (now stale) expected version: recognised, nothing written.
    let retry = log
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .expect("retry");
    assert!(retry.deduplicated);
    assert_eq!(
        (
            retry.first_seq,
            retry.last_seq,
            retry.first_version,
            retry.last_version,
            retry.recorded_at_ms
        ),
        (
            first.first_seq,
            first.last_seq,
            first.first_version,
            first.last_version,
            first.recorded_at_ms
        )
    );
    assert_eq!(log.head().seq, 3);
    // Same id, different payload / stream / actor: conflict.
    let conflict = log
        .append(&s, ExpectedVersion::Any, vec![ev(Some(ids[0]), b"changed")])
        .await;
    assert_eq!(
        conflict,
        Err(AppendError::IdempotencyConflict { event_id: ids[0] })
    );
    let other = log
        .append(
            &sid("dossier/D"),
            ExpectedVersion::Any,
            vec![ev(Some(ids[0]), b"a")],
        )
        .await;
    assert_eq!(
        other,
        Err(AppendError::IdempotencyConflict { event_id: ids[0] })
    );
    let mut changed_actor = ev(Some(ids[1]), b"b");
    changed_actor.actor.role = "leader".into();
    assert!(matches!(
        log.append(&s, ExpectedVersion::Any, vec![changed_actor])
            .await,
        Err(AppendError::IdempotencyConflict { .. })
    ));
    // Partial overlap is refused too; a duplicated id inside one append as well.
    assert!(matches!(
        log.append(
            &s,
            ExpectedVersion::Any,
            vec![ev(Some(ids[0]), b"a"), ev(None, b"new")]
        )
        .await,
        Err(AppendError::IdempotencyConflict { .. })
    ));
    let dup = EventId::random();
    assert_eq!(
        log.append(
            &s,
            ExpectedVersion::Any,
            vec![ev(Some(dup), b"z"), ev(Some(dup), b"z")]
        )
        .await,
        Err(AppendError::IdempotencyConflict { event_id: dup })
    );
    assert_eq!(log.head().seq, 3);
    log.close().await.expect("close");
}

async fn find_event_by_id(t: TestStore) {
    let log = t.open(LogConfig::default());
    let id = EventId::random();
    log.append(&sid("x/1"), ExpectedVersion::Any, vec![ev(None, b"a")])
        .await
        .expect("a");
    log.append(&sid("x/2"), ExpectedVersion::Any, vec![ev(Some(id), b"b")])
        .await
        .expect("b");
    let found = log.find_event(&id).expect("read").expect("present");
    assert_eq!(
        (found.seq, found.stream.as_str(), found.version),
        (2, "x/2", 1)
    );
    assert_eq!(found.payload, b"b".to_vec());
    assert!(log.find_event(&EventId::random()).expect("read").is_none());
    log.close().await.expect("close");
}

async fn idempotency_within_one_batch(t: TestStore) {
    // Many concurrent retries of the same append land in one group-commit batch: exactly one
    // writes, the others are deduplicated to the same positions.
    let log = t.open(LogConfig::default());
    let s = sid("dossier/E");
    let id = EventId::random();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let log = log.clone();
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            log.append(&s, ExpectedVersion::Any, vec![ev(Some(id), b"same")])
                .await
        }));
    }
    let mut fresh = 0;
    for t in tasks {
        let a = t.await.expect("join").expect("append");
        assert_eq!(a.first_seq, 1);
        if !a.deduplicated {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1);
    assert_eq!(log.head().seq, 1);
    log.close().await.expect("close");
}

async fn exactly_one_writer_wins_each_version(t: TestStore) {
    let log = t.open(LogConfig::default());
    let s = sid("dossier/RACE");
    let mut tasks = Vec::new();
    for t in 0..16u8 {
        let log = log.clone();
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for _ in 0..40 {
                let v = log.stream_version(&s).expect("version");
                match log
                    .append(&s, ExpectedVersion::Exact(v), vec![ev(None, &[t])])
                    .await
                {
                    Ok(a) => won.push(a.first_version),
                    Err(AppendError::WrongExpectedVersion { .. }) => {}
                    Err(e) => panic!("unexpected {e}"),
                }
            }
            won
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("join"));
    }
    let n = all.len() as u64;
    let set: BTreeSet<u64> = all.into_iter().collect();
    assert_eq!(set.len() as u64, n, "a version was won twice");
    assert_eq!(set, (1..=n).collect());
    assert_eq!(log.stream_version(&s).expect("v"), n);
    assert!(log.verify().expect("verify").is_clean());
    log.close().await.expect("close");
}

async fn limits_are_enforced(t: TestStore) {
    let cfg = LogConfig {
        max_event_bytes: 100,
        max_events_per_append: 3,
        ..LogConfig::default()
    };
    let log = t.open(cfg);
    let s = sid("x");
    assert_eq!(
        log.append(&s, ExpectedVersion::Any, vec![]).await,
        Err(AppendError::Empty)
    );
    assert!(matches!(
        log.append(&s, ExpectedVersion::Any, vec![ev(None, &[0; 200])])
            .await,
        Err(AppendError::EventTooLarge { limit: 100, .. })
    ));
    assert_eq!(
        log.append(&s, ExpectedVersion::Any, vec![ev(None, b"a"); 4])
            .await,
        Err(AppendError::TooManyEvents { count: 4, limit: 3 })
    );
    log.append(&s, ExpectedVersion::Any, vec![ev(None, b"a"); 3])
        .await
        .expect("at the limit");
    log.close().await.expect("close");
}

async fn full_queue_answers_overloaded(t: TestStore) {
    let cfg = LogConfig {
        queue_depth: 2,
        ..LogConfig::default()
    };
    let log = t.open(cfg);
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            log.append(
                &sid(&format!("s/{i}")),
                ExpectedVersion::Any,
                vec![ev(None, b"p")],
            )
            .await
        }));
    }
    let (mut ok, mut overloaded) = (0, 0);
    for t in tasks {
        match t.await.expect("join") {
            Ok(_) => ok += 1,
            Err(AppendError::Overloaded) => overloaded += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(
        ok >= 1 && overloaded >= 1,
        "ok={ok} overloaded={overloaded}"
    );
    assert_eq!(log.head().seq, ok);
    assert!(log.verify().expect("verify").is_clean());
    log.close().await.expect("close");
}

async fn subscription_catches_up_then_goes_live(t: TestStore) {
    let log = t.open(LogConfig::default());
    for i in 0..1200u32 {
        // more than one SUBSCRIPTION_CHUNK
        let s = sid(&format!("s/{}", i % 7));
        log.append(&s, ExpectedVersion::Any, vec![ev(None, &i.to_be_bytes())])
            .await
            .expect("append");
    }
    let mut sub = log.subscribe(5);
    let writer = {
        let log = log.clone();
        tokio::spawn(async move {
            for i in 0..300u32 {
                log.append(
                    &sid("live"),
                    ExpectedVersion::Any,
                    vec![ev(None, &i.to_be_bytes())],
                )
                .await
                .expect("append");
                if i % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
    };
    let mut expect = 6u64;
    while expect <= 1500 {
        let env = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("no stall")
            .expect("next");
        assert_eq!(env.seq, expect, "gap or duplicate");
        expect += 1;
    }
    writer.await.expect("join");
    assert!(log.wait_for_seq(1500, Duration::from_secs(1)).await);
    assert!(!log.wait_for_seq(1501, Duration::from_millis(50)).await);
    // Nothing more until a new append, which then arrives.
    assert!(tokio::time::timeout(Duration::from_millis(50), sub.next())
        .await
        .is_err());
    log.append(&sid("live"), ExpectedVersion::Any, vec![ev(None, b"last")])
        .await
        .expect("append");
    let env = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("woken")
        .expect("next");
    assert_eq!(env.seq, 1501);
    drop(sub);
    log.close().await.expect("close");
}

async fn last_stream_with_prefix_finds_the_highest(t: TestStore) {
    let log = t.open(LogConfig::default());
    assert_eq!(
        log.last_stream_with_prefix("dossier/U-230126-").expect("q"),
        None
    );
    for n in ["0002", "0010", "0001"] {
        log.append(
            &sid(&format!("dossier/U-230126-{n}")),
            ExpectedVersion::NoStream,
            vec![ev(None, b"r")],
        )
        .await
        .expect("append");
    }
    log.append(
        &sid("dossier/U-230127-0001"),
        ExpectedVersion::NoStream,
        vec![ev(None, b"r")],
    )
    .await
    .expect("append");
    assert_eq!(
        log.last_stream_with_prefix("dossier/U-230126-").expect("q"),
        Some(sid("dossier/U-230126-0010"))
    );
    log.close().await.expect("close");
}

async fn fill(log: &EventLog, n: u32) {
    for i in 0..n {
        log.append(
            &sid(&format!("s/{}", i % 5)),
            ExpectedVersion::Any,
            vec![ev(None, &i.to_le_bytes())],
        )
        .await
        .expect("append");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_byte_is_named_by_verify_and_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    fill(&log, 200).await;
    log.close().await.expect("close");

    // Flip one byte of the payload of seq 42 (far from the tail: open still succeeds).
    {
        let store = crate::storage::Store::open(dir.path()).expect("store");
        let events = store.tree(TREE_EVENTS).expect("tree");
        let mut bytes = events
            .get(42u64.to_be_bytes())
            .expect("get")
            .expect("present");
        let at = bytes.len() - 32 - 32 - 2; // inside the payload
        bytes[at] ^= 0x01;
        events.insert(42u64.to_be_bytes(), bytes).expect("insert");
        store.flush_durable().expect("flush");
    }
    let log = open(dir.path());
    let report = log.verify().expect("verify");
    assert!(!report.is_clean());
    assert!(
        report.findings.iter().all(|f| f.seq == 42),
        "{:?}",
        report.findings
    );
    assert!(report.findings.iter().any(|f| f.rule == "hash"));
    assert_eq!(report.findings[0].stream.as_deref(), Some("s/1"));
    log.close().await.expect("close");

    // Every single-byte flip anywhere in a tail event makes open refuse, naming the seq (or
    // meta) — and never panics.
    {
        let store = crate::storage::Store::open(dir.path()).expect("store");
        let events = store.tree(TREE_EVENTS).expect("tree");
        let orig = events
            .get(199u64.to_be_bytes())
            .expect("get")
            .expect("present");
        for at in 0..orig.len() {
            let mut bytes = orig.clone();
            bytes[at] ^= 0x40;
            events.insert(199u64.to_be_bytes(), bytes).expect("insert");
            let trees = reader::Trees::open(&store).expect("trees");
            match open_check(&store, &trees, None) {
                Err(LogError::Corrupt { seq, .. }) => {
                    assert!(seq == 199 || seq == 200, "byte {at}: seq {seq}")
                }
                other => panic!("byte {at}: {other:?}"),
            }
        }
        events.insert(199u64.to_be_bytes(), orig).expect("restore");
        store.flush_durable().expect("flush");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_format_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    fill(&log, 3).await;
    log.close().await.expect("close");
    {
        let store = crate::storage::Store::open(dir.path()).expect("store");
        store
            .tree(TREE_META)
            .expect("meta")
            .insert(b"format_version", vec![9u8])
            .expect("insert");
        store.flush_durable().expect("flush");
    }
    match EventLog::open(dir.path(), LogConfig::default()) {
        Err(LogError::NewerFormat {
            found: 9,
            supported: 1,
        }) => {}
        other => panic!("unexpected {other:?}"),
    }
}

async fn fail_stop_at(point: FaultPoint, errno: i32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    fill(&log, 10).await;
    let head = log.head();
    let mut sub = log.subscribe(head.seq);
    log.store().faults().arm(FaultPlan {
        point,
        skip: 0,
        errno,
        sticky: false,
    });
    let r = log
        .append(&sid("s/x"), ExpectedVersion::Any, vec![ev(None, b"lost")])
        .await;
    assert!(matches!(r, Err(AppendError::Storage(_))), "{r:?}");
    assert!(log.is_failed());
    // Nothing of the failed batch is visible, later appends are refused, reads still work.
    assert_eq!(log.head(), head);
    assert!(matches!(
        log.append(&sid("s/x"), ExpectedVersion::Any, vec![ev(None, b"after")])
            .await,
        Err(AppendError::Failed(_))
    ));
    assert_eq!(log.read_all(0, 100).expect("read").len(), 10);
    assert_eq!(log.stream_version(&sid("s/x")).expect("v"), 0);
    // A subscriber never sees the unacknowledged batch (it may be in sled, it is not durable).
    assert!(tokio::time::timeout(Duration::from_millis(50), sub.next())
        .await
        .is_err());
    drop(sub);
    assert!(log.close().await.is_err());
    // After a restart the log opens and is consistent (the failed batch may or may not be there:
    // it was never acknowledged).
    let log = open(dir.path());
    assert!(log.head().seq >= 10);
    assert!(log.verify().expect("verify").is_clean());
    log.append(&sid("s/x"), ExpectedVersion::Any, vec![ev(None, b"ok")])
        .await
        .expect("append");
    log.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_stop_on_fsync_error() {
    fail_stop_at(FaultPoint::Fsync, EIO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_stop_on_flush_error() {
    fail_stop_at(FaultPoint::Flush, ENOSPC).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_stop_on_write_error() {
    fail_stop_at(FaultPoint::Write, ENOSPC).await;
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct Op {
        writer: usize,
        stream: u8,
        n_events: usize,
        exact: bool,
        retry_of: Option<usize>,
    }

    fn op() -> impl Strategy<Value = Op> {
        (
            0..4usize,
            0..6u8,
            1..4usize,
            any::<bool>(),
            proptest::option::weighted(0.2, 0..20usize),
        )
            .prop_map(|(writer, stream, n_events, exact, retry_of)| Op {
                writer,
                stream,
                n_events,
                exact,
                retry_of,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]
        #[test]
        fn interleaved_writers_keep_the_log_consistent(ops in proptest::collection::vec(op(), 1..60)) {
            interleaved_writers(ops, TestStore::sled());
        }

        #[test]
        fn interleaved_writers_keep_the_log_consistent_on_postgres(ops in proptest::collection::vec(op(), 1..60)) {
            interleaved_writers(ops, TestStore::postgres());
        }
    }

    fn interleaved_writers(ops: Vec<Op>, t: TestStore) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async move {
            let log = t.open(LogConfig::default());
            // Pre-assign event ids so retries can reuse them.
            let batches: Vec<Vec<NewEvent>> = ops
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    (0..o.n_events)
                        .map(|j| ev(Some(EventId::random()), &[i as u8, j as u8]))
                        .collect()
                })
                .collect();
            let mut per_writer: HashMap<usize, Vec<usize>> = HashMap::new();
            for (i, o) in ops.iter().enumerate() {
                per_writer.entry(o.writer).or_default().push(i);
            }
            let ops = Arc::new(ops);
            let batches = Arc::new(batches);
            let mut tasks = Vec::new();
            for (_, idxs) in per_writer {
                let log = log.clone();
                let ops = ops.clone();
                let batches = batches.clone();
                tasks.push(tokio::spawn(async move {
                    let mut written = 0u64;
                    for i in idxs {
                        let o = &ops[i];
                        let s = sid(&format!("p/{}", o.stream));
                        let (events, s) = match o.retry_of {
                            Some(r) if r < i => {
                                (batches[r].clone(), sid(&format!("p/{}", ops[r].stream)))
                            }
                            _ => (batches[i].clone(), s),
                        };
                        let expected = if o.exact {
                            ExpectedVersion::Exact(log.stream_version(&s).expect("v"))
                        } else {
                            ExpectedVersion::Any
                        };
                        match log.append(&s, expected, events).await {
                            Ok(a) if !a.deduplicated => written += a.last_seq - a.first_seq + 1,
                            Ok(_) => {}
                            Err(AppendError::WrongExpectedVersion { .. }) => {}
                            Err(AppendError::IdempotencyConflict { .. }) => {}
                            Err(e) => panic!("unexpected {e}"),
                        }
                        tokio::task::yield_now().await;
                    }
                    written
                }));
            }
            let mut written = 0;
            for t in tasks {
                written += t.await.expect("join");
            }
            let report = log.verify().expect("verify");
            assert!(report.is_clean(), "{:?}", report.findings);
            assert_eq!(report.events, written);
            assert_eq!(log.head().seq, written);
            let all = log.read_all(0, usize::MAX).expect("all");
            let mut versions: HashMap<String, u64> = HashMap::new();
            for (i, e) in all.iter().enumerate() {
                assert_eq!(e.seq, i as u64 + 1);
                let v = versions.entry(e.stream.as_str().into()).or_insert(0);
                assert_eq!(e.version, *v + 1);
                *v = e.version;
            }
            log.close().await.expect("close");
        });
    }
}

async fn flush_per_append_mode_is_consistent(t: TestStore) {
    let cfg = LogConfig {
        group_commit: false,
        ..LogConfig::default()
    };
    let log = t.open(cfg);
    let mut tasks = Vec::new();
    for w in 0..8u32 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20u32 {
                log.append(
                    &sid(&format!("w/{w}")),
                    ExpectedVersion::Exact(u64::from(i)),
                    vec![ev(None, b"p")],
                )
                .await
                .expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.expect("join");
    }
    assert_eq!(log.head().seq, 160);
    let st = log.writer_stats();
    assert_eq!((st.batches, st.flushes, st.events), (160, 160, 160));
    assert!(log.verify().expect("verify").is_clean());
    log.close().await.expect("close");
}

async fn close_stops_appends_on_other_clones(t: TestStore) {
    let log = t.open(LogConfig::default());
    let other = log.clone();
    fill(&log, 3).await;
    log.close().await.expect("close");
    assert_eq!(
        other
            .append(&sid("x"), ExpectedVersion::Any, vec![ev(None, b"late")])
            .await,
        Err(AppendError::Closed)
    );
    // Reads keep working on the remaining clone; a subscription ends with Closed.
    assert_eq!(other.read_all(0, 10).expect("read").len(), 3);
    let mut sub = other.subscribe(2);
    assert_eq!(sub.next().await.expect("next").seq, 3);
    assert!(matches!(sub.next().await, Err(LogError::Closed)));
    drop(sub);
    drop(other);
    // The directory can be reopened once every clone is gone.
    let log = t.open(LogConfig::default());
    assert_eq!(log.head().seq, 3);
    log.close().await.expect("close");
}

async fn scan_streams_everything_after_a_seq(t: TestStore) {
    let log = t.open(LogConfig::default());
    fill(&log, 50).await;
    let seqs: Vec<u64> = log.scan(10).map(|e| e.expect("decode").seq).collect();
    assert_eq!(seqs, (11..=50).collect::<Vec<_>>());
    assert_eq!(log.scan(50).count(), 0);
    assert_eq!(log.scan(u64::MAX).count(), 0);
    log.close().await.expect("close");
}

async fn large_events_round_trip_and_survive_reopen(t: TestStore) {
    // 60 KiB events make sled write whole leaf pages as blob files: flush_durable syncs them.
    let log = t.open(LogConfig::default());
    let big: Vec<u8> = (0..60 * 1024).map(|i| (i % 251) as u8).collect();
    for i in 0..40u32 {
        let mut p = big.clone();
        p[..4].copy_from_slice(&i.to_be_bytes());
        log.append(
            &sid("big"),
            ExpectedVersion::Exact(u64::from(i)),
            vec![ev(None, &p)],
        )
        .await
        .expect("append");
    }
    log.close().await.expect("close");
    let log = t.open(LogConfig::default());
    let evs = log.read_stream(&sid("big"), 1).expect("read");
    assert_eq!(evs.len(), 40);
    assert_eq!(&evs[39].payload[4..], &big[4..]);
    assert!(log.verify().expect("verify").is_clean());
    log.close().await.expect("close");
}

async fn recorded_at_never_decreases_across_restarts(t: TestStore) {
    let clock = ManualClock::new(5_000);
    let cfg = LogConfig {
        clock: Arc::new(clock.clone()),
        ..LogConfig::default()
    };
    let log = t.open(cfg.clone());
    fill(&log, 2).await;
    log.close().await.expect("close");
    clock.set(1_000); // the system clock jumped back while we were down
    let log = t.open(cfg);
    let a = log
        .append(&sid("t"), ExpectedVersion::Any, vec![ev(None, b"x")])
        .await
        .expect("append");
    assert_eq!(a.recorded_at_ms, 5_000);
    assert!(log.verify().expect("verify").is_clean());
    log.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_missing_and_orphan_index_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    fill(&log, 20).await;
    let env7 = log.read_all(6, 1).expect("read").remove(0);
    log.close().await.expect("close");
    {
        let store = crate::storage::Store::open(dir.path()).expect("store");
        let streams = store.tree(TREE_STREAMS).expect("tree");
        streams
            .remove(reader::stream_key(&env7.stream, env7.version))
            .expect("remove");
        streams
            .insert(
                reader::stream_key(&sid("ghost"), 1),
                999u64.to_be_bytes().to_vec(),
            )
            .expect("insert");
        store.flush_durable().expect("flush");
    }
    let log = open(dir.path());
    let report = log.verify().expect("verify");
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.seq == 7 && f.rule == "stream_index"),
        "{:?}",
        report.findings
    );
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.seq == 999 && f.rule == "orphan_index"),
        "{:?}",
        report.findings
    );
    log.close().await.expect("close");
}

async fn dropping_the_last_handle_releases_the_directory_at_once(t: TestStore) {
    // Without close(): the writer, its flusher and the marker keeper must all have let go of
    // sled by the time the last handle's drop returns, or an immediate reopen (a restart, a
    // restore's rename) finds the directory still locked.
    for round in 0..40u64 {
        let log = t.open(LogConfig::default());
        assert_eq!(log.head().seq, round);
        let sub = log.subscribe(0);
        log.append(&sid("x"), ExpectedVersion::Any, vec![ev(None, b"e")])
            .await
            .expect("append");
        drop(sub);
        drop(log);
    }
    let log = t.open(LogConfig::default());
    assert_eq!(log.head().seq, 40);
    log.close().await.expect("close");
}
