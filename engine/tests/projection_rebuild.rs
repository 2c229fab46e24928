//! Incremental read models equal a rebuild from scratch, byte for byte: random valid
//! histories applied in random batch sizes, in memory and on real sled with restarts; and the
//! live runner stopped mid-stream and restarted over a reopened log counts nothing twice. The
//! runner's tests also run over a log on PostgreSQL (the read models stay on sled).

use std::time::Duration;

use motcua_engine::domain::types::Timestamp;
use motcua_engine::log::{EventLog, LogConfig};
use motcua_engine::projection::runner::{apply_to_tree, fold_as_of, ProjectionTrees};
use motcua_engine::projection::store::KvPair;
use motcua_engine::projection::{
    decode_envelope, fold_into_mem, CatalogProjection, DossierProjection, MemStore, Projection,
    Projections, StatsFilter,
};
use motcua_engine::storage::{KvTree, Store};
use motcua_testkit::synth::{append_history, history, to_recorded, SynthConfig};
use proptest::prelude::*;

fn rebuild(events: &[motcua_engine::domain::events::Recorded]) -> (MemStore, MemStore) {
    let mut d = MemStore::new();
    let mut c = MemStore::new();
    fold_into_mem(&DossierProjection, &mut d, events, usize::MAX).unwrap();
    fold_into_mem(&CatalogProjection, &mut c, events, usize::MAX).unwrap();
    (d, c)
}

fn dump_tree(t: &KvTree) -> Vec<KvPair> {
    t.iter().map(|r| r.unwrap()).collect()
}

/// sled's background flusher may hold the directory lock briefly after the last handle drops.
fn reopen(dir: &std::path::Path) -> Store {
    for _ in 0..200 {
        match Store::open(dir) {
            Ok(s) => return s,
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    Store::open(dir).unwrap()
}

fn tree_name<P: Projection>() -> String {
    format!("proj.{}", P::NAME)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// In memory: any batch split equals one batch over everything, and equals the as-of fold.
    #[test]
    fn incremental_equals_rebuild_in_memory(
        seed in any::<u64>(),
        dossiers in 1usize..60,
        batches in proptest::collection::vec(1usize..40, 1..20),
    ) {
        let events = to_recorded(&history(&SynthConfig::demo(2), seed, dossiers), Timestamp(0));
        let (d_ref, c_ref) = rebuild(&events);
        let mut d = MemStore::new();
        let mut c = MemStore::new();
        let mut at = 0;
        let mut i = 0;
        while at < events.len() {
            let n = batches[i % batches.len()];
            i += 1;
            let end = (at + n).min(events.len());
            fold_into_mem(&DossierProjection, &mut d, &events[..end], n).unwrap();
            fold_into_mem(&CatalogProjection, &mut c, &events[..end], n).unwrap();
            at = end;
        }
        prop_assert_eq!(d.dump(), d_ref.dump());
        prop_assert_eq!(c.dump(), c_ref.dump());
        let as_of = fold_as_of(events.iter().cloned().map(Ok), Timestamp(i64::MAX)).unwrap();
        // The as-of fold folds everything in one batch: same bytes.
        prop_assert_eq!(as_of.dossiers.dump(), d_ref.dump());
        prop_assert_eq!(as_of.catalog.dump(), c_ref.dump());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// On real sled: random batches with the store closed and reopened in between.
    #[test]
    fn incremental_with_restarts_on_sled_equals_rebuild(
        seed in any::<u64>(),
        dossiers in 1usize..40,
        batches in proptest::collection::vec(1usize..50, 1..10),
        restart_every in 1usize..4,
    ) {
        let events = to_recorded(&history(&SynthConfig::demo(2), seed, dossiers), Timestamp(0));
        let (d_ref, c_ref) = rebuild(&events);
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let mut at = 0;
        let mut i = 0;
        while at < events.len() {
            let n = batches[i % batches.len()];
            i += 1;
            // Overlapping re-delivery: the slice starts before the checkpoint on purpose.
            let start = at.saturating_sub(n / 2);
            let end = (at + n).min(events.len());
            {
                let d = store.tree(&tree_name::<DossierProjection>()).unwrap();
                let c = store.tree(&tree_name::<CatalogProjection>()).unwrap();
                apply_to_tree(&DossierProjection, &d, &events[start..end]).unwrap();
                apply_to_tree(&CatalogProjection, &c, &events[start..end]).unwrap();
            }
            at = end;
            if i % restart_every == 0 {
                store.flush_durable().unwrap();
                drop(store);
                store = reopen(dir.path());
            }
        }
        let d = store.tree(&tree_name::<DossierProjection>()).unwrap();
        let c = store.tree(&tree_name::<CatalogProjection>()).unwrap();
        prop_assert_eq!(dump_tree(&d), d_ref.dump());
        prop_assert_eq!(dump_tree(&c), c_ref.dump());
    }
}

fn read_log(log: &EventLog) -> Vec<motcua_engine::domain::events::Recorded> {
    log.scan(0)
        .map(|e| decode_envelope(&e.unwrap()).unwrap())
        .collect()
}

/// Where a test's log is kept: sled in the directory, or a fresh PostgreSQL database (the read
/// models stay in the directory either way).
fn open_log(dir: &std::path::Path, postgres: Option<&str>) -> EventLog {
    match postgres {
        None => EventLog::open(dir, LogConfig::default()).unwrap(),
        Some(url) => EventLog::open_postgres(dir, url, LogConfig::default()).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_stopped_mid_stream_and_restarted_counts_nothing_twice() {
    runner_restarted(None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_stopped_mid_stream_and_restarted_counts_nothing_twice_on_postgres() {
    let url = motcua_testkit::postgres::fresh_database();
    runner_restarted(Some(&url)).await
}

async fn runner_restarted(postgres: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let all = history(&SynthConfig::demo(3), 7, 300);
    let half = all.len() / 2;

    // First run: half the history is appended while the runner follows live.
    let log = open_log(dir.path(), postgres);
    let projections = Projections::start(&log).unwrap();
    let head = append_history(&log, &all[..half]).await.unwrap();
    assert!(projections.wait_for(head, Duration::from_secs(20)).await);
    projections.stop().await.unwrap();
    // While it is stopped, the rest arrives; then the whole process "restarts".
    let head = append_history(&log, &all[half..]).await.unwrap();
    log.close().await.unwrap();

    let log = open_log(dir.path(), postgres);
    assert_eq!(log.head().seq, head);
    let mut projections = Projections::start(&log).unwrap();
    assert!(projections.applied_seq() > 0 && projections.applied_seq() < head);
    assert!(projections.wait_for(head, Duration::from_secs(20)).await);

    let events = read_log(&log);
    assert_eq!(events.len() as u64, head);
    let (d_ref, c_ref) = rebuild(&events);
    let trees: &ProjectionTrees = projections.trees();
    assert_eq!(dump_tree(&trees.dossiers), d_ref.dump());
    assert_eq!(dump_tree(&trees.catalog), c_ref.dump());

    // Figures over the whole history: live equals an as-of fold of the log.
    let live = projections.read_models();
    let from = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
    let to = chrono::NaiveDate::from_ymd_opt(2023, 12, 31).unwrap();
    let live_rep = live.stats(from, to, &StatsFilter::default()).unwrap();
    let as_of = fold_as_of(events.iter().cloned().map(Ok), Timestamp(i64::MAX))
        .unwrap()
        .read_models();
    assert_eq!(
        live_rep,
        as_of.stats(from, to, &StatsFilter::default()).unwrap()
    );
    assert!(live_rep.figures.received > 250, "{:?}", live_rep.figures);
    drop(live);

    // Rebuild from zero ends in the same bytes.
    projections.rebuild().await.unwrap();
    assert!(projections.wait_for(head, Duration::from_secs(20)).await);
    assert_eq!(dump_tree(&projections.trees().dossiers), d_ref.dump());
    assert_eq!(dump_tree(&projections.trees().catalog), c_ref.dump());
    projections.stop().await.unwrap();
    log.close().await.unwrap();
}

#[test]
fn as_of_folds_only_what_had_happened() {
    let events = to_recorded(&history(&SynthConfig::demo(1), 3, 80), Timestamp(0));
    let t = Timestamp(SynthConfig::demo(1).start.0 + 2 * 86_400_000);
    let partial = fold_as_of(events.iter().cloned().map(Ok), t).unwrap();
    let expected: Vec<_> = events
        .iter()
        .filter(|r| motcua_engine::projection::runner::happened_by(r, t))
        .cloned()
        .collect();
    assert!(expected.len() < events.len());
    let (d_ref, _) = rebuild(&expected);
    assert_eq!(partial.dossiers.dump(), d_ref.dump());
}

/// The pipelined catch-up, over many reader batches and many commits, from zero and from a
/// part already applied, ends in the bytes of one in-memory fold of the whole log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_in_many_batches_and_commits_equals_one_fold() {
    catch_up_equals_one_fold(None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_in_many_batches_and_commits_equals_one_fold_on_postgres() {
    let url = motcua_testkit::postgres::fresh_database();
    catch_up_equals_one_fold(Some(&url)).await
}

async fn catch_up_equals_one_fold(postgres: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), postgres);
    let head = append_history(&log, &history(&SynthConfig::demo(2), 5, 120))
        .await
        .unwrap();
    assert!(head > 500, "{head}");
    let events: Vec<_> = log
        .scan(0)
        .map(|e| decode_envelope(&e.unwrap()).unwrap())
        .collect();
    // One in-memory commit: its checkpoint is the head, as the catch-up's last one.
    let (d_ref, c_ref) = rebuild(&events);
    let (d_expected, c_expected) = (d_ref.dump(), c_ref.dump());
    let trees = ProjectionTrees::open(&log).unwrap();
    for (batch, commit) in [(1, 1), (7, 50), (64, 37), (8_192, 1 << 17)] {
        // From zero, then from a part applied live (the tree is not empty: reads go to sled).
        for applied_first in [0, events.len() / 3] {
            trees.clear().unwrap();
            trees.apply(&events[..applied_first]).unwrap();
            let seq = trees.catch_up_sized(&log, batch, commit).unwrap();
            let what = format!("batch {batch} commit {commit} from {applied_first}");
            assert_eq!(seq, head, "{what}");
            assert_eq!(dump_tree(&trees.dossiers), d_expected, "{what}");
            assert_eq!(dump_tree(&trees.catalog), c_expected, "{what}");
        }
    }
    drop(trees);
    log.close().await.unwrap();
}
