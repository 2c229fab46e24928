//! Damaged and foreign data directories on open: each case must come back as a typed
//! data-directory error (never a panic, never a fresh log over what was there), and a foreign
//! directory must be left byte for byte as it was.

use std::path::Path;

use motcua_engine::log::{
    limits, EventLog, ExpectedVersion, LogConfig, LogError, Position, StreamId, TREE_META,
};
use motcua_engine::storage::{
    catch_sled_panic, opening_data_dir, DataDirKind, StorageError, Store, DIR_MARKER_FILE,
    SLED_CONF_FILE, SLED_DATA_FILE,
};
use motcua_testkit::fs::{junk, snapshot};
use motcua_testkit::raw_event as ev;

/// Writes `n` events (10 streams) through the real log, closes it cleanly, returns the head.
async fn healthy_log(dir: &Path, n: u64) -> Position {
    let log = EventLog::open(dir, LogConfig::default()).expect("open");
    for i in 0..n {
        let s = StreamId::new(format!("dossier/T-{}", i % 10)).expect("stream");
        log.append(&s, ExpectedVersion::Any, vec![ev(&[i as u8; 200])])
            .await
            .expect("append");
    }
    let head = log.head();
    log.close().await.expect("close");
    head
}

fn open_err(dir: &Path) -> LogError {
    match EventLog::open(dir, LogConfig::default()) {
        Ok(log) => panic!("opened {} at head {}", dir.display(), log.head().seq),
        Err(e) => e,
    }
}

fn assert_kind(err: &LogError, kind: DataDirKind, dir: &Path, needle: &str) {
    assert_eq!(err.data_dir_problem(), Some(kind), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&dir.display().to_string()),
        "path missing: {text}"
    );
    assert!(text.contains(needle), "{needle:?} missing: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_directory_reopens_and_records_its_clean_head() {
    let dir = tempfile::tempdir().unwrap();
    let head = healthy_log(dir.path(), 300).await;
    assert_eq!(head.seq, 300);
    let marker = std::fs::read_to_string(dir.path().join(DIR_MARKER_FILE)).unwrap();
    assert!(marker.contains("acked_head_seq=300\n"), "{marker}");
    assert!(marker.contains(&format!("acked_head_hash={}\n", hex::encode(head.hash))));
    let log = EventLog::open(dir.path(), LogConfig::default()).expect("reopen");
    assert_eq!(log.head(), head);
    // A crash (no close) keeps the old lower bound, which the log still reaches.
    drop(log);
    let log = EventLog::open(dir.path(), LogConfig::default()).expect("reopen after drop");
    assert_eq!(log.head(), head);
    // A README or a backup file next to a whole database is not "foreign".
    drop(log);
    std::fs::write(dir.path().join("README.txt"), b"desk 3").unwrap();
    let log = EventLog::open(dir.path(), LogConfig::default()).expect("reopen with README");
    assert_eq!(log.head(), head);
}

#[test]
fn a_file_instead_of_a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    std::fs::write(&file, b"not a directory").unwrap();
    let err = open_err(&file);
    assert_kind(&err, DataDirKind::NotADirectory, &file, "not a directory");
    assert!(!err.is_damaged());
    assert_eq!(std::fs::read(&file).unwrap(), b"not a directory");
}

#[test]
fn a_foreign_directory_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("photo.jpg"), junk(70_000, 7)).unwrap();
    std::fs::write(d.join("notes.txt"), b"so ho tich 2025\n").unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("sub").join("x.bin"), junk(1000, 9)).unwrap();
    let before = snapshot(d);
    let err = open_err(d);
    assert_kind(&err, DataDirKind::Foreign, d, "notes.txt, photo.jpg, sub");
    assert!(err.is_damaged());
    assert!(
        err.to_string().contains("not a motcua data directory"),
        "{err}"
    );
    assert_eq!(snapshot(d), before, "the foreign directory was modified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_conf_is_damage() {
    for (name, bytes) in [
        ("binary", junk(64, 3)),
        ("text", b"hello: world\nthis is not sled\n".to_vec()),
    ] {
        let dir = tempfile::tempdir().unwrap();
        healthy_log(dir.path(), 50).await;
        std::fs::write(dir.path().join(SLED_CONF_FILE), &bytes).unwrap();
        let err = open_err(dir.path());
        assert_kind(&err, DataDirKind::Damaged, dir.path(), "damaged");
        assert!(err.is_damaged(), "{name}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_db_with_conf_is_damage_and_no_new_db_is_created() {
    let dir = tempfile::tempdir().unwrap();
    healthy_log(dir.path(), 50).await;
    std::fs::remove_file(dir.path().join(SLED_DATA_FILE)).unwrap();
    let err = open_err(dir.path());
    assert_kind(&err, DataDirKind::Damaged, dir.path(), "`db` is missing");
    assert!(!dir.path().join(SLED_DATA_FILE).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_sled_files_with_marker_is_damage() {
    let dir = tempfile::tempdir().unwrap();
    healthy_log(dir.path(), 5).await;
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap() != DIR_MARKER_FILE {
            if p.is_dir() {
                std::fs::remove_dir_all(&p).unwrap();
            } else {
                std::fs::remove_file(&p).unwrap();
            }
        }
    }
    let err = open_err(dir.path());
    assert_kind(
        &err,
        DataDirKind::Damaged,
        dir.path(),
        "`db` and `conf` are missing",
    );
}

/// sled 0.34.7 opens a truncated or garbage `db` as an empty database: the marker is what
/// turns that into an error instead of a new, empty log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_or_garbage_db_is_damage_not_an_empty_log() {
    for (case, tenths) in [
        ("zero", Some(0u64)),
        ("half", Some(5)),
        ("80%", Some(8)),
        ("garbage", None),
    ] {
        let dir = tempfile::tempdir().unwrap();
        healthy_log(dir.path(), 300).await;
        let db = dir.path().join(SLED_DATA_FILE);
        let len = std::fs::metadata(&db).unwrap().len();
        match tenths {
            Some(t) => {
                let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
                f.set_len(len * t / 10).unwrap();
            }
            None => std::fs::write(&db, junk(len as usize, 11)).unwrap(),
        }
        let err = open_err(dir.path());
        assert!(err.is_damaged(), "{case}: {err}");
        assert_kind(&err, DataDirKind::Damaged, dir.path(), "damaged");
        // Still refused the second time: the failed open did not "repair" it into a new log.
        let again = open_err(dir.path());
        assert!(again.is_damaged(), "{case} (second open): {again}");
    }
}

/// Bytes flipped inside `db`: sled may notice (error), panic (caught), or the bytes may be in
/// space it no longer uses. Whatever happens: no panic escapes, and an open that succeeds has
/// every acknowledged event, verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_bytes_in_db_never_panic_nor_lose_events() {
    let mut outcomes = Vec::new();
    for (i, at) in [0.1f64, 0.3, 0.5, 0.7, 0.9].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let head = healthy_log(dir.path(), 300).await;
        let db = dir.path().join(SLED_DATA_FILE);
        let mut bytes = std::fs::read(&db).unwrap();
        let from = (bytes.len() as f64 * at) as usize;
        let to = (from + 4096).min(bytes.len());
        for (b, j) in bytes[from..to].iter_mut().zip(junk(4096, 100 + i as u64)) {
            *b ^= j | 1;
        }
        std::fs::write(&db, &bytes).unwrap();
        match EventLog::open(dir.path(), LogConfig::default()) {
            Ok(log) => {
                assert_eq!(log.head(), head, "opened at {at} with another head");
                let report = log.verify().expect("verify");
                assert!(report.is_clean(), "at {at}: {report:?}");
                outcomes.push("ok");
            }
            Err(e) => {
                assert!(e.is_damaged(), "at {at}: not classified as damage: {e}");
                eprintln!("flipped at {at}: {e}");
                outcomes.push("damaged");
            }
        }
    }
    assert_eq!(outcomes.len(), 5);
    eprintln!("flipped-bytes outcomes at 10/30/50/70/90 %: {outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_apps_sled_database_is_refused_without_adding_our_trees() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let users = store.tree("users").unwrap();
        users.insert(b"alice", b"admin".to_vec()).unwrap();
        store.flush_durable().unwrap();
    }
    let err = open_err(dir.path());
    assert_kind(
        &err,
        DataDirKind::Foreign,
        dir.path(),
        "another application (trees: users)",
    );
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.tree_names(), vec!["users".to_owned()]);
    assert!(!dir.path().join(DIR_MARKER_FILE).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_apps_meta_tree_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let meta = store.tree(TREE_META).unwrap();
        meta.insert(b"schema", b"v7".to_vec()).unwrap();
        store.flush_durable().unwrap();
    }
    let err = open_err(dir.path());
    assert_kind(
        &err,
        DataDirKind::Foreign,
        dir.path(),
        "without motcua's format_version",
    );
}

/// The database files swapped for an older copy, or for another desk's log, while the marker
/// stayed: the clean-stop head in the marker catches both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_database_is_caught_by_the_clean_stop_head() {
    let copy_db = |from: &Path, to: &Path| {
        for f in [SLED_DATA_FILE, SLED_CONF_FILE] {
            std::fs::copy(from.join(f), to.join(f)).unwrap();
        }
        for e in std::fs::read_dir(to).unwrap() {
            let p = e.unwrap().path();
            if p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("snap.")
            {
                std::fs::remove_file(p).unwrap();
            }
        }
        for e in std::fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_owned();
            if name.to_string_lossy().starts_with("snap.") {
                std::fs::copy(&p, to.join(name)).unwrap();
            }
        }
    };
    let older = tempfile::tempdir().unwrap();
    healthy_log(older.path(), 40).await;
    let dir = tempfile::tempdir().unwrap();
    healthy_log(dir.path(), 100).await;
    copy_db(older.path(), dir.path());
    let err = open_err(dir.path());
    assert_kind(
        &err,
        DataDirKind::Damaged,
        dir.path(),
        "the log ends at seq 40 but seq 100 was acknowledged",
    );

    let other = tempfile::tempdir().unwrap();
    let log = EventLog::open(other.path(), LogConfig::default()).unwrap();
    let s = StreamId::new("dossier/OTHER").unwrap();
    for _ in 0..150 {
        log.append(&s, ExpectedVersion::Any, vec![ev(b"other desk")])
            .await
            .unwrap();
    }
    log.close().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    healthy_log(dir.path(), 100).await;
    copy_db(other.path(), dir.path());
    let err = open_err(dir.path());
    assert_kind(
        &err,
        DataDirKind::Damaged,
        dir.path(),
        "event seq 100 is not the acknowledged one",
    );
}

#[test]
fn a_panic_inside_the_guard_becomes_a_damaged_error() {
    let dir = Path::new("/nowhere/data");
    // Only the inside is asserted: other tests open directories concurrently (a global count).
    let r: Result<(), StorageError> = catch_sled_panic(dir, || {
        assert!(opening_data_dir());
        panic!("tried to serialize Uninitialized")
    });
    let err = LogError::from(r.unwrap_err());
    assert_kind(
        &err,
        DataDirKind::Damaged,
        dir,
        "tried to serialize Uninitialized",
    );
    assert!(!err.to_string().contains("panicked"));
}

#[test]
fn a_corrupt_marker_is_damage() {
    let dir = tempfile::tempdir().unwrap();
    drop(EventLog::open(dir.path(), LogConfig::default()).unwrap());
    std::fs::write(dir.path().join(DIR_MARKER_FILE), b"\x00\x01garbage").unwrap();
    let err = open_err(dir.path());
    assert_kind(
        &err,
        DataDirKind::Damaged,
        dir.path(),
        "marker file MOTCUA_DIR is unreadable",
    );
}

/// Without a clean close (a SIGKILL), the marker still holds a recent acknowledged head: the
/// keeper thread copies it every `MARKER_INTERVAL`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_marker_follows_the_acknowledged_head_without_a_close() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogConfig::default()).unwrap();
    let s = StreamId::new("dossier/K-1").unwrap();
    for _ in 0..100 {
        log.append(&s, ExpectedVersion::Any, vec![ev(b"k")])
            .await
            .unwrap();
    }
    let want = format!(
        "acked_head_seq=100\nacked_head_hash={}\n",
        hex::encode(log.head().hash)
    );
    let deadline = std::time::Instant::now() + limits::MARKER_INTERVAL * 5;
    loop {
        let marker = std::fs::read_to_string(dir.path().join(DIR_MARKER_FILE)).unwrap();
        if marker.contains(&want) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "marker never caught up: {marker}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
