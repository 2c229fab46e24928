//! The PostgreSQL store's own tests: each invariant of the log is refused by PostgreSQL itself
//! when a hand-written statement tries to break it (a chain break, a gap, a skipped or repeated
//! stream version, a repeated event id, a delete), the refusals map to `LogError::Constraint`,
//! a second writer's row fail-stops the log with a typed error instead of a panic, a newer
//! format is refused on open, and `verify` names a row whose columns disagree with its record.
//! The tests shared with sled run from `engine/src/log/tests.rs`.

use ::postgres::error::SqlState;
use ::postgres::{Client, NoTls};

use super::postgres::pg_error;
use super::tests::{ev, sid, TestStore};
use super::*;

/// A runtime for the log's async appends; the SQL of these tests runs outside it (the sync
/// client refuses to block inside a runtime).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A PostgreSQL log holding three events of stream `s` (versions 1-3), closed; its envelopes.
fn log_of_three() -> (TestStore, Vec<Envelope>) {
    let t = TestStore::postgres();
    let envs = runtime().block_on(async {
        let log = t.open(LogConfig::default());
        for i in 0..3u8 {
            log.append(&sid("s"), ExpectedVersion::Any, vec![ev(None, &[i])])
                .await
                .expect("append");
        }
        let envs = log.read_all(0, 10).expect("read");
        log.close().await.expect("close");
        envs
    });
    assert_eq!(envs.len(), 3);
    (t, envs)
}

fn client(t: &TestStore) -> Client {
    Client::connect(t.url().expect("a PostgreSQL store"), NoTls).expect("connect")
}

/// The envelope that would follow `prev` as event `seq` of `stream` at `version`.
fn next_env(seq: u64, prev_hash: [u8; 32], stream: &str, version: u64) -> Envelope {
    let mut env = Envelope {
        seq,
        stream: sid(stream),
        version,
        event_id: EventId::random(),
        event_type: "Test".into(),
        schema_version: 1,
        // After every event the log stamped (recorded_at never decreases).
        recorded_at_ms: 4_102_444_800_000,
        actor: super::tests::actor(),
        correlation_id: None,
        causation_id: None,
        payload: b"hand".to_vec(),
        prev_hash,
        hash: [0; 32],
    };
    env.hash = env.compute_hash();
    env
}

/// `n - 1`, or none for the first (what `prev_seq` and `prev_version` must hold).
fn prev(n: u64) -> Option<i64> {
    (n > 1).then(|| n as i64 - 1)
}

/// A hand-written INSERT of `env`'s row, as the log lays it out.
fn insert(c: &mut Client, env: &Envelope) -> Result<u64, ::postgres::Error> {
    c.execute(
        "insert into events (seq, prev_seq, hash, prev_hash, stream, version, prev_version, \
         event_id, recorded_at_ms, record) values ($1, $9, $2, $3, $4, $5, $10, $6, $7, $8)",
        &[
            &(env.seq as i64),
            &env.hash.as_slice(),
            &env.prev_hash.as_slice(),
            &env.stream.as_str(),
            &(env.version as i64),
            &env.event_id.0.as_slice(),
            &env.recorded_at_ms,
            &crate::codec::encode_record(env),
            &prev(env.seq),
            &prev(env.version),
        ],
    )
}

/// Asserts that PostgreSQL refused with `state` by `constraint`, and that the log reads it as
/// its typed refusal.
fn assert_refused(result: Result<u64, ::postgres::Error>, state: SqlState, constraint: &str) {
    let err = result.expect_err("PostgreSQL must refuse the row");
    assert_eq!(err.code(), Some(&state), "{err:?}");
    match pg_error(err) {
        LogError::Constraint { constraint: c, .. } => assert_eq!(c, constraint),
        other => panic!("not a constraint refusal: {other}"),
    }
}

#[test]
fn a_broken_chain_is_refused_by_postgres() {
    let (t, envs) = log_of_three();
    let mut c = client(&t);
    // Seq 4 linked to a hash that is not seq 3's.
    let env = next_env(4, envs[1].hash, "t", 1);
    assert_refused(
        insert(&mut c, &env),
        SqlState::FOREIGN_KEY_VIOLATION,
        "events_chain",
    );
    // The first event must link to the genesis hash.
    let t2 = TestStore::postgres();
    drop(t2.open_store());
    let mut c2 = client(&t2);
    let first = next_env(1, [7; 32], "t", 1);
    assert_refused(
        insert(&mut c2, &first),
        SqlState::CHECK_VIOLATION,
        "events_genesis",
    );
    // The control: the right link is accepted, and the log reads it back.
    let good = next_env(4, envs[2].hash, "t", 1);
    assert_eq!(insert(&mut c, &good).expect("a correct row"), 1);
    drop(c);
    let rt = runtime();
    rt.block_on(async {
        let log = t.open(LogConfig::default());
        assert_eq!(log.head().seq, 4);
        assert!(log.verify().expect("verify").is_clean());
        log.close().await.expect("close");
    });
}

#[test]
fn prev_seq_and_prev_version_cannot_lie() {
    let (t, envs) = log_of_three();
    let mut c = client(&t);
    // A row claiming to follow seq 2 while being seq 4 (so the chain's foreign key would look
    // at the wrong row), or to follow version 1 while being version 4.
    let env = next_env(4, envs[2].hash, "s", 4);
    let lie = |prev_seq: i64, prev_version: i64| {
        let mut c2 = client(&t);
        c2.execute(
            "insert into events (seq, prev_seq, hash, prev_hash, stream, version, \
             prev_version, event_id, recorded_at_ms, record) \
             values (4, $1, $2, $3, 's', 4, $4, $5, 1, '')",
            &[
                &prev_seq,
                &env.hash.as_slice(),
                &envs[1].hash.as_slice(),
                &prev_version,
                &env.event_id.0.as_slice(),
            ],
        )
    };
    assert_refused(lie(2, 3), SqlState::CHECK_VIOLATION, "events_prev_seq");
    assert_refused(lie(3, 1), SqlState::CHECK_VIOLATION, "events_prev_version");
    assert_eq!(insert(&mut c, &env).expect("the true row"), 1);
}

#[test]
fn a_gap_in_seq_is_refused_by_postgres() {
    let (t, envs) = log_of_three();
    let mut c = client(&t);
    // Seq 5 with no seq 4, even with a plausible link.
    let env = next_env(5, envs[2].hash, "t", 1);
    assert_refused(
        insert(&mut c, &env),
        SqlState::FOREIGN_KEY_VIOLATION,
        "events_chain",
    );
    // A seq taken twice (a second writer that decided the same seq).
    let env = next_env(3, envs[1].hash, "t", 1);
    assert_refused(
        insert(&mut c, &env),
        SqlState::UNIQUE_VIOLATION,
        "events_pkey",
    );
    // Removing an event in the middle would leave a gap: refused too.
    // (Seq 3 refers to it twice, by the chain and by its stream's version: either refuses.)
    let err = c
        .execute("delete from events where seq = 2", &[])
        .expect_err("a delete in the middle must be refused");
    assert_eq!(err.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
    assert!(matches!(pg_error(err), LogError::Constraint { .. }));
    let left: i64 = c
        .query_one("select count(*) from events", &[])
        .expect("count")
        .get(0);
    assert_eq!(left, 3);
}

#[test]
fn a_skipped_or_repeated_stream_version_is_refused_by_postgres() {
    let (t, envs) = log_of_three();
    let mut c = client(&t);
    let skipped = next_env(4, envs[2].hash, "s", 5);
    assert_refused(
        insert(&mut c, &skipped),
        SqlState::FOREIGN_KEY_VIOLATION,
        "events_stream_contiguous",
    );
    let repeated = next_env(4, envs[2].hash, "s", 3);
    assert_refused(
        insert(&mut c, &repeated),
        SqlState::UNIQUE_VIOLATION,
        "events_stream_version",
    );
    // A new stream must start at version 1.
    let late_start = next_env(4, envs[2].hash, "new", 2);
    assert_refused(
        insert(&mut c, &late_start),
        SqlState::FOREIGN_KEY_VIOLATION,
        "events_stream_contiguous",
    );
    let next = next_env(4, envs[2].hash, "s", 4);
    assert_eq!(insert(&mut c, &next).expect("version 4 follows 3"), 1);
}

#[test]
fn a_repeated_event_id_is_refused_by_postgres() {
    let (t, envs) = log_of_three();
    let mut c = client(&t);
    let mut env = next_env(4, envs[2].hash, "t", 1);
    env.event_id = envs[0].event_id;
    env.hash = env.compute_hash();
    assert_refused(
        insert(&mut c, &env),
        SqlState::UNIQUE_VIOLATION,
        "events_event_id",
    );
}

#[test]
fn a_second_writers_row_fail_stops_the_log_with_a_typed_error() {
    let (t, envs) = log_of_three();
    let rt = runtime();
    let log = rt.block_on(async { t.open(LogConfig::default()) });
    // Another writer takes seq 4 behind this log's back.
    let mut c = client(&t);
    insert(&mut c, &next_env(4, envs[2].hash, "other", 1)).expect("the other writer's row");
    drop(c);
    rt.block_on(async {
        let err = log
            .append(&sid("s"), ExpectedVersion::Exact(3), vec![ev(None, b"x")])
            .await
            .expect_err("seq 4 is taken");
        match &err {
            AppendError::Storage(msg) => assert!(
                msg.contains("constraint events_pkey"),
                "the refusal names the constraint: {msg}"
            ),
            other => panic!("unexpected {other}"),
        }
        assert!(log.is_failed());
        assert!(matches!(
            log.append(&sid("s"), ExpectedVersion::Any, vec![ev(None, b"y")])
                .await,
            Err(AppendError::Failed(_))
        ));
        // What was acknowledged is intact; a reopen picks up the other writer's event.
        assert_eq!(log.read_all(0, 10).expect("read").len(), 3);
        drop(log);
        let log = t.open(LogConfig::default());
        assert_eq!(log.head().seq, 4);
        assert!(log.verify().expect("verify").is_clean());
        log.close().await.expect("close");
    });
}

#[test]
fn a_store_commit_that_breaks_an_invariant_returns_constraint() {
    let (t, envs) = log_of_three();
    let store = t.open_store();
    let gap = next_env(5, envs[2].hash, "t", 1);
    let head = MetaHead {
        seq: 5,
        hash: gap.hash,
        recorded_at_ms: gap.recorded_at_ms,
    };
    match store.commit(&[gap], &head) {
        Err(LogError::Constraint { constraint, .. }) => assert_eq!(constraint, "events_chain"),
        other => panic!("expected a constraint refusal, got {other:?}"),
    }
    // The whole batch or nothing: a good row before the bad one is not kept either.
    let good = next_env(4, envs[2].hash, "t", 1);
    let mut dup = next_env(5, good.hash, "t", 2);
    dup.event_id = envs[0].event_id;
    dup.hash = dup.compute_hash();
    let head = MetaHead {
        seq: 5,
        hash: dup.hash,
        recorded_at_ms: dup.recorded_at_ms,
    };
    assert!(matches!(
        store.commit(&[good, dup], &head),
        Err(LogError::Constraint { .. })
    ));
    assert_eq!(store.head().expect("head").seq, 3);
}

#[test]
fn a_newer_format_is_refused_on_postgres() {
    let (t, _) = log_of_three();
    let mut c = client(&t);
    c.execute(
        "update motcua_meta set value = '99' where key = 'format_version'",
        &[],
    )
    .expect("update");
    drop(c);
    match t.try_open(LogConfig::default()) {
        Err(LogError::NewerFormat { found: 99, .. }) => {}
        other => panic!("expected NewerFormat, got {other:?}"),
    }
}

#[test]
fn verify_names_a_row_whose_columns_disagree_with_its_record() {
    let (t, _) = log_of_three();
    let mut c = client(&t);
    // Nothing references a row's event id, so this update is allowed: verify must see it.
    c.execute(
        "update events set event_id = $1 where seq = 2",
        &[&[9u8; 16].as_slice()],
    )
    .expect("update");
    drop(c);
    runtime().block_on(async {
        let log = t.open(LogConfig::default());
        let report = log.verify().expect("verify");
        assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
        assert_eq!(
            (report.findings[0].seq, report.findings[0].rule),
            (2, "event_id_index")
        );
        log.close().await.expect("close");
    });
}

#[test]
fn a_directory_of_a_sled_log_is_refused_for_a_log_on_postgres() {
    let t = TestStore::postgres();
    let rt = runtime();
    rt.block_on(async {
        let sled = EventLog::open(t.dir(), LogConfig::default()).expect("a sled log");
        sled.append(&sid("s"), ExpectedVersion::Any, vec![ev(None, b"x")])
            .await
            .expect("append");
        sled.close().await.expect("close");
    });
    match t.try_open(LogConfig::default()) {
        Err(LogError::DataDir { problem, .. }) => {
            assert_eq!(problem.kind(), crate::storage::DataDirKind::Foreign)
        }
        other => panic!("expected a refused directory, got {other:?}"),
    }
}
