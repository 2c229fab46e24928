//! Backup and restore, end to end: a real server on 127.0.0.1:0 under concurrent dossier load,
//! `GET /v1/export` and the real `motcua backup` / `restore` / `export` processes.
//!
//! - A backup taken while dossiers keep moving is consistent at the seq the request arrived at;
//!   restored into a new directory it has the archive's head hash, verifies clean, and a server
//!   started on it answers exactly the statistics the original answered at that seq.
//! - A damaged archive (one flipped byte in one event record) is refused naming that event's
//!   seq, and the target directory is left as it was.
//! - `motcua export` of a stopped data directory is byte for byte `GET /v1/export` of the same
//!   log (header fields come from the log, not the clock).
//! - Only auditors and admins may export.

mod http_common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_common::{commune, config, new_dossier, problem, TestServer};
use motcua_engine::log::{EventLog, LogConfig};
use motcua_replay::archive::{decode_record, ArchiveHeader, ArchiveReader, Trailer};
use motcua_tests::motcua;
use serde_json::{json, Value};
use tokio::sync::RwLock;

fn arg(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// `key=value` from a printed line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

/// (offset, length incl. the 4-byte prefix, seq) of every record, the header and the trailer.
fn parse(bytes: &[u8]) -> (ArchiveHeader, Trailer, Vec<(usize, usize, u64)>) {
    let mut r = ArchiveReader::open(bytes).unwrap();
    let mut recs = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        let env = decode_record(&rec.bytes).unwrap();
        recs.push((rec.offset as usize, rec.bytes.len() + 4, env.seq));
    }
    let t = r.trailer().unwrap().clone();
    assert!(t.checksum_ok());
    (r.header().clone(), t, recs)
}

fn is_absent_or_empty(dir: &Path) -> bool {
    match std::fs::read_dir(dir) {
        Ok(mut d) => d.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

const STATS: &str = "/v1/stats?from=2000-01-01&to=2100-12-31&unit=all";

/// Dossier traffic over HTTP from several tasks: receive, assign, submit, approve. Each request
/// holds a read guard of `gate`, so taking its write guard pauses the load between requests.
struct Load {
    base: String,
    client: reqwest::Client,
    tokens: HashMap<String, String>,
    gate: RwLock<()>,
    stop: AtomicBool,
    acked: AtomicU64,
}

impl Load {
    async fn call(&self, path: &str, staff: &str, body: Value) -> Value {
        let _open = self.gate.read().await;
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.tokens[staff])
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {v}");
        self.acked.fetch_add(1, Ordering::SeqCst);
        v
    }

    async fn worker(self: Arc<Self>) {
        while !self.stop.load(Ordering::SeqCst) {
            let created = self
                .call("/v1/dossiers", "tn-01", new_dossier("1.004873"))
                .await;
            let code = created["code"].as_str().unwrap().to_owned();
            let act = |a: &str| format!("/v1/dossiers/{code}/actions/{a}");
            self.call(&act("assign"), "tn-01", json!({"specialist": "cm-tp-01"}))
                .await;
            self.call(&act("submit_for_signing"), "cm-tp-01", json!({}))
                .await;
            self.call(&act("approve"), "ld-01", json!({})).await;
        }
    }
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_during_load_restores_the_same_log_and_statistics() {
    // The demo commune (529 dossiers of 2023, ~3,100 events, a ~1 MB archive) plus live load.
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::demo_in(&tmp.path().join("original")).await;
    let tokens: HashMap<String, String> = s.demo_tokens_by_staff();
    let auditor = tokens["tt-01"].clone();
    let load = Arc::new(Load {
        base: s.base.clone(),
        client: reqwest::Client::new(),
        tokens: tokens.clone(),
        gate: RwLock::new(()),
        stop: AtomicBool::new(false),
        acked: AtomicU64::new(0),
    });
    let workers: Vec<_> = (0..4)
        .map(|_| tokio::spawn(load.clone().worker()))
        .collect();
    wait_until("warm-up load", || load.acked.load(Ordering::SeqCst) >= 120).await;

    // Pause the load between requests to know the statistics at one exact seq, then ask for
    // the export: its range is fixed when the request arrives, i.e. once its headers are back.
    let pause = load.gate.write().await;
    let h = s.head();
    assert!(s.server.app().wait_for_read_models(h).await);
    let stats_at_h: Value = s.get_json(STATS, &auditor).await;
    // The demo's 529 dossiers and at least the 30 the load received.
    assert!(stats_at_h["figures"]["received"].as_u64().unwrap() >= 559);
    let mut resp = s.get("/v1/export", &auditor).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        resp.headers()["content-disposition"],
        format!("attachment; filename=\"motcua-1-{h}.archive\"").as_str()
    );
    assert_eq!(resp.headers()["x-motcua-last-seq"], h.to_string().as_str());
    drop(pause);

    // Read the body while dossiers keep moving: the log grows past h before the download ends.
    let mut archive = resp.chunk().await.unwrap().unwrap().to_vec();
    wait_until("load during the download", || s.head() >= h + 20).await;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        archive.extend_from_slice(&chunk);
    }
    let (header, trailer, records) = parse(&archive);
    assert_eq!((header.first_seq, header.last_seq), (1, h));
    assert_eq!(trailer.count, h);
    assert_eq!(records.len() as u64, h);
    let original = s.server.log().read_all(h - 1, 1).unwrap();
    assert_eq!(trailer.head_hash, original[0].hash);

    // The real `motcua backup` while the load goes on: a consistent archive too.
    let b_file = tmp.path().join("during-load.archive");
    let (ok, out, err) = motcua(vec![
        "backup".into(),
        "--server".into(),
        s.base.clone(),
        "--token".into(),
        auditor.clone(),
        "--out".into(),
        arg(&b_file),
    ])
    .await;
    assert!(ok, "{err}");
    assert!(!tmp.path().join("during-load.archive.partial").exists());
    let b_bytes = std::fs::read(&b_file).unwrap();
    let (b_header, b_trailer, _) = parse(&b_bytes);
    assert_eq!(
        out.trim(),
        format!(
            "backup events={} head={} file={}",
            b_trailer.count,
            hex(&b_trailer.head_hash),
            b_file.display()
        )
    );
    assert!(b_header.last_seq > h);
    // The archive is a prefix of the live log, which still moved on while it was taken.
    let at_b = s.server.log().read_all(b_header.last_seq - 1, 1).unwrap();
    assert_eq!(at_b[0].hash, b_trailer.head_hash);
    wait_until("load after the backup", || s.head() > b_header.last_seq).await;

    load.stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }

    // Restore the first archive with the real binary into a directory that does not exist.
    let a_file = tmp.path().join("at-h.archive");
    std::fs::write(&a_file, &archive).unwrap();
    let restored = tmp.path().join("restored");
    let t0 = Instant::now();
    let (ok, out, err) = motcua(vec![
        "restore".into(),
        "--from".into(),
        arg(&a_file),
        "--data".into(),
        arg(&restored),
    ])
    .await;
    assert!(ok, "{err}");
    eprintln!("restore of {h} events: {:?} (debug build)", t0.elapsed());
    assert_eq!(
        out.trim(),
        format!("restored events={h} head={}", hex(&trailer.head_hash))
    );
    assert_eq!(field(&out, "head"), hex(&trailer.head_hash));
    // No staging directory is left next to the target.
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restoring"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    {
        let log = EventLog::open(&restored, LogConfig::default()).unwrap();
        assert_eq!(log.head().seq, h);
        assert_eq!(log.head().hash, trailer.head_hash);
        let report = log.verify().unwrap();
        assert!(report.is_clean(), "{:?}", report.findings);
        assert_eq!(report.events, h);
        log.close().await.unwrap();
    }

    // A server on the restored directory: the projections were rebuilt by the restore (they
    // start at the head), the staff tokens are in the log, and the statistics are the ones the
    // original answered at h.
    let r = TestServer::start_in(config(&restored)).await;
    assert_eq!(r.server.app().projection_seq(), h);
    let stats_restored: Value = r.get_json(STATS, &auditor).await;
    assert_eq!(stats_restored, stats_at_h);
    let unit_stats = "/v1/stats?from=2000-01-01&to=2100-12-31";
    let restored_unit: Value = r.get_json(unit_stats, &tokens["tn-01"]).await;
    assert_eq!(restored_unit["figures"], stats_at_h["figures"]);
    r.server.shutdown().await.unwrap();

    // The backup taken under load restores too (in-process), onto its own trailer's head.
    let restored_b = tmp.path().join("restored-b");
    std::fs::create_dir(&restored_b).unwrap();
    let report = motcua_http::cli::backup::restore(&b_file, &restored_b)
        .await
        .unwrap();
    assert_eq!(report.events, b_trailer.count);
    assert_eq!(report.head.hash, b_trailer.head_hash);
    let log = EventLog::open(&restored_b, LogConfig::default()).unwrap();
    assert!(log.verify().unwrap().is_clean());
    log.close().await.unwrap();

    s.server.shutdown().await.unwrap();
}

/// The server's whole archive (`GET /v1/export` as `token`), then the server stopped.
async fn export_and_stop(s: TestServer, token: &str) -> Vec<u8> {
    let archive = s
        .get("/v1/export", token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    s.server.shutdown().await.unwrap();
    archive
}

fn hex(h: &[u8; 32]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_archive_is_refused_naming_the_seq_and_nothing_is_written() {
    let (s, tokens) = commune().await;
    let archive = export_and_stop(s, &tokens["qt-01"]).await;
    let (_, trailer, records) = parse(&archive);
    assert!(trailer.count >= 20);
    let tmp = tempfile::tempdir().unwrap();

    // One flipped byte in the middle of one event's record.
    let (offset, len, seq) = records[records.len() / 2];
    let mut bad = archive.clone();
    bad[offset + len / 2] ^= 0x01;
    let bad_file = tmp.path().join("bad.archive");
    std::fs::write(&bad_file, &bad).unwrap();

    // Into a directory that does not exist: it still does not.
    let target = tmp.path().join("target");
    let (ok, _, err) = motcua(vec![
        "restore".into(),
        "--from".into(),
        arg(&bad_file),
        "--data".into(),
        arg(&target),
    ])
    .await;
    assert!(!ok);
    assert!(
        err.contains(&format!("the archive is damaged: first bad seq {seq} (")),
        "{err}"
    );
    assert!(!target.exists());

    // Into an empty directory: it stays empty; no staging directory is left behind.
    std::fs::create_dir(&target).unwrap();
    let e = motcua_http::cli::backup::restore(&bad_file, &target)
        .await
        .unwrap_err();
    assert!(
        matches!(e, motcua_http::cli::backup::BackupError::Damaged { seq: s, .. } if s == seq),
        "{e}"
    );
    assert!(is_absent_or_empty(&target));
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 2); // bad.archive, target

    // A truncated archive (cut inside that record) is refused too, naming the last good seq.
    let cut_file = tmp.path().join("cut.archive");
    std::fs::write(&cut_file, &archive[..offset + len / 2]).unwrap();
    let e = motcua_http::cli::backup::restore(&cut_file, &target)
        .await
        .unwrap_err();
    assert!(e.to_string().contains(&format!("seq {seq}")), "{e}");
    assert!(is_absent_or_empty(&target));

    // The intact archive into a non-empty directory: refused, the directory untouched.
    let good_file = tmp.path().join("good.archive");
    std::fs::write(&good_file, &archive).unwrap();
    std::fs::write(target.join("keep.txt"), b"x").unwrap();
    let e = motcua_http::cli::backup::restore(&good_file, &target)
        .await
        .unwrap_err();
    assert!(
        matches!(e, motcua_http::cli::backup::BackupError::TargetNotEmpty(_)),
        "{e}"
    );
    assert_eq!(std::fs::read(target.join("keep.txt")).unwrap(), b"x");
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_of_a_stopped_directory_equals_the_http_export_byte_for_byte() {
    let (s, tokens) = commune().await;
    for _ in 0..3 {
        let r = s
            .post("/v1/dossiers", &tokens["tn-01"])
            .json(&new_dossier("1.004873"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let auditor = tokens["tt-01"].clone();
    let full = s
        .get("/v1/export", &auditor)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let part = s
        .get("/v1/export?from=5&to=20", &auditor)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let head = s.head();
    let dir = s.dir.clone();
    s.server.shutdown().await.unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("full.archive");
    let (ok, line, err) = motcua(vec![
        "export".into(),
        "--data".into(),
        arg(&dir),
        "--out".into(),
        arg(&out),
    ])
    .await;
    assert!(ok, "{err}");
    assert_eq!(field(&line, "events"), head.to_string());
    assert_eq!(std::fs::read(&out).unwrap(), full.to_vec());
    let (header, _, _) = parse(&full);
    assert_eq!(header.unit, http_common::UNIT);
    assert!(header.created_at_ms > 0);

    let out = tmp.path().join("part.archive");
    let (ok, line, err) = motcua(vec![
        "export".into(),
        "--data".into(),
        arg(&dir),
        "--out".into(),
        arg(&out),
        "--from".into(),
        "5".into(),
        "--to".into(),
        "20".into(),
    ])
    .await;
    assert!(ok, "{err}");
    assert_eq!(field(&line, "events"), "16");
    assert_eq!(std::fs::read(&out).unwrap(), part.to_vec());
    let (header, trailer, _) = parse(&part);
    assert_eq!(
        (header.first_seq, header.last_seq, trailer.count),
        (5, 20, 16)
    );
    assert_ne!(header.first_prev_hash, [0; 32]);

    // A missing data directory is an error, not an empty archive.
    let (ok, _, err) = motcua(vec![
        "export".into(),
        "--data".into(),
        arg(&tmp.path().join("nope")),
        "--out".into(),
        arg(&tmp.path().join("x.archive")),
    ])
    .await;
    assert!(!ok);
    assert!(err.contains("no data directory"), "{err}");
    assert!(!tmp.path().join("nope").exists());

    // A staging directory left by a killed restore (its process gone) is swept by the next
    // restore of the same target, which succeeds.
    let restored = tmp.path().join("restored");
    let leftover = tmp.path().join(".restored.restoring-4294967295");
    std::fs::create_dir(&leftover).unwrap();
    std::fs::write(leftover.join("db"), b"half an import").unwrap();
    let (ok, line, err) = motcua(vec![
        "restore".into(),
        "--from".into(),
        arg(&tmp.path().join("full.archive")),
        "--data".into(),
        arg(&restored),
    ])
    .await;
    assert!(ok, "{err}");
    assert_eq!(field(&line, "events"), head.to_string());
    assert!(
        !leftover.exists(),
        "the leftover staging directory is swept"
    );
    let log = EventLog::open(&restored, LogConfig::default()).unwrap();
    assert_eq!(log.head().seq, head);
    log.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_auditors_and_admins_may_export() {
    let (s, tokens) = commune().await;
    for staff in ["tn-01", "cm-tp-01", "ld-01", "kh-01", "cong-dvc"] {
        let r = s.get("/v1/export", &tokens[staff]).send().await.unwrap();
        let body = problem(r, 403, "forbidden").await;
        assert!(
            body["detail"].as_str().unwrap().contains("auditor, admin"),
            "{body}"
        );
    }
    let r = s.client.get(s.url("/v1/export")).send().await.unwrap();
    problem(r, 401, "unauthorized").await;
    for staff in ["tt-01", "qt-01"] {
        let r = s.get("/v1/export", &tokens[staff]).send().await.unwrap();
        assert_eq!(r.status(), 200, "{staff}");
        let (_, t, _) = parse(&r.bytes().await.unwrap());
        assert_eq!(t.count, s.head());
    }
    // An empty range at the head: anchored on the head's hash, ready for the next increment.
    let head = s.head();
    let r = s
        .get(&format!("/v1/export?from={}", head + 1), &tokens["tt-01"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (h, t, recs) = parse(&r.bytes().await.unwrap());
    let head_hash = s.server.log().head().hash;
    assert_eq!((h.first_seq, h.last_seq, t.count), (head + 1, head, 0));
    assert!(recs.is_empty());
    assert_eq!((h.first_prev_hash, t.head_hash), (head_hash, head_hash));
    for bad in ["from=0", "from=5&to=4", "from=999999", "from=x"] {
        let r = s
            .get(&format!("/v1/export?{bad}"), &tokens["tt-01"])
            .send()
            .await
            .unwrap();
        problem(r, 422, "validation").await;
    }
    s.server.shutdown().await.unwrap();
}

/// Issue 16, "bad days on disk": archives with one event changed and every later hash
/// recomputed are consistent as chains; `motcua restore` must judge them as
/// `motcua-replay verify` does (the domain's checks) and refuse them, writing nothing. Three
/// forgeries of one dossier's life (received, assigned, submitted, approved): a moved due
/// date, the approval recorded under the role specialist, a jump from received straight
/// to approved, the approval recorded under the reception clerk's id (role still leader), and
/// the approval's business time moved three days past the due date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_rehashed_archives_are_refused_by_restore_and_nothing_is_written() {
    use motcua_engine::codec;
    use motcua_engine::domain::events::{DossierChange, Event};
    use motcua_engine::log::Envelope;
    use motcua_engine::recorded::decode_event;

    let (s, tokens) = commune().await;
    let tok = |staff: &str| tokens[staff].clone();
    let code = s.receive(&tok("tn-01"), "1.004873").await;
    for (action, staff, body) in [
        ("assign", "tn-01", json!({"specialist": "cm-tp-01"})),
        ("submit_for_signing", "cm-tp-01", json!({"draft": "result"})),
        ("approve", "ld-01", json!({"note": "đồng ý"})),
    ] {
        let r = s
            .post(
                &format!("/v1/dossiers/{code}/actions/{action}"),
                &tok(staff),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{action}");
    }
    let archive = export_and_stop(s, &tok("qt-01")).await;

    let mut reader = ArchiveReader::open(archive.as_slice()).unwrap();
    let header = reader.header().clone();
    let mut envs = Vec::new();
    while let Some(rec) = reader.next_record().unwrap() {
        envs.push(decode_record(&rec.bytes).unwrap());
    }
    let stream = format!("dossier/{code}");
    let of = |envs: &[Envelope], ty: &str| {
        envs.iter()
            .position(|e| e.stream.as_str() == stream && e.event_type == ty)
            .unwrap_or_else(|| panic!("no {ty}"))
    };
    // A forger's archive: seqs, stream versions and the chain recomputed after the change
    // (`compute_hash` is the chain's `hash_envelope`),
    // written by the archive writer (which checks the chain it writes).
    let forge = |mut envs: Vec<Envelope>, name: &str| -> PathBuf {
        let mut versions: HashMap<String, u64> = HashMap::new();
        let mut prev = header.first_prev_hash;
        for (i, env) in envs.iter_mut().enumerate() {
            env.seq = i as u64 + 1;
            let v = versions.entry(env.stream.as_str().to_owned()).or_default();
            *v += 1;
            env.version = *v;
            env.prev_hash = prev;
            env.hash = env.compute_hash();
            prev = env.hash;
        }
        let mut h = header.clone();
        h.last_seq = envs.len() as u64;
        let path = std::env::temp_dir().join(format!("{name}-{}.archive", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        let events = envs.into_iter().map(Ok::<_, std::convert::Infallible>);
        motcua_replay::archive::write_archive_from(h, events, file).unwrap();
        path
    };
    let set_event = |env: &mut Envelope, event: &Event| env.payload = codec::encode(event);

    let mut moved = envs.clone();
    let i = of(&moved, "dossier.received");
    let mut event = decode_event(&moved[i]).unwrap();
    let Event::Dossier(d) = &mut event else {
        panic!("a dossier event")
    };
    let DossierChange::Received(receipt) = &mut d.change else {
        panic!("a receipt")
    };
    receipt.due.0 += 86_400_000;
    set_event(&mut moved[i], &event);

    let mut specialist = envs.clone();
    let i = of(&specialist, "dossier.approved");
    specialist[i].actor.role = "specialist".into();

    // Issue 17: the approval recorded under the reception clerk's id, the role still leader;
    // and the approval's business time moved three days past the dossier's due date.
    let mut clerk = envs.clone();
    let i = of(&clerk, "dossier.approved");
    clerk[i].actor.staff = "tn-01".into();

    let mut late = envs.clone();
    let due = match decode_event(&late[of(&late, "dossier.received")]).unwrap() {
        Event::Dossier(d) => match d.change {
            DossierChange::Received(r) => r.due,
            _ => panic!("a receipt"),
        },
        _ => panic!("a dossier event"),
    };
    let i = of(&late, "dossier.approved");
    let mut event = decode_event(&late[i]).unwrap();
    let Event::Dossier(d) = &mut event else {
        panic!("a dossier event")
    };
    d.at.0 = due.0 + 3 * 86_400_000;
    set_event(&mut late[i], &event);

    let mut jump = envs.clone();
    let (assigned, submitted) = (
        of(&jump, "dossier.assigned"),
        of(&jump, "dossier.submitted_for_signing"),
    );
    jump.remove(submitted);
    jump.remove(assigned);

    let tmp = tempfile::tempdir().unwrap();
    for (forged, name, rule) in [
        (moved, "moved-due", "due_date"),
        (specialist, "approved-by-specialist", "role"),
        (jump, "received-to-approved", "transition"),
        (clerk, "approved-by-clerk", "actor"),
        (late, "approved-past-due", "time"),
    ] {
        let file = forge(forged, name);
        let target = tmp.path().join(name);
        let (ok, out, err) = motcua(vec![
            "restore".into(),
            "--from".into(),
            arg(&file),
            "--data".into(),
            arg(&target),
        ])
        .await;
        let _ = std::fs::remove_file(&file);
        assert!(!ok, "{name}: restored: {out}");
        assert!(
            err.contains("the archive does not pass motcua-replay verify: first finding at seq"),
            "{name}: {err}"
        );
        assert!(err.contains(&format!("({rule}: ")), "{name}: {err}");
        assert!(err.contains("nothing was written"), "{name}: {err}");
        assert!(!target.exists(), "{name}: {target:?} was created");
    }
    // No staging directory left behind either.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);

    // The genuine archive restores, and with --expect-head only on its own head.
    let good = tmp.path().join("good.archive");
    std::fs::write(&good, &archive).unwrap();
    let head = hex(&envs.last().unwrap().hash);
    let wrong = hex(&[7u8; 32]);
    let restore_expecting = |target: &Path, head: String| {
        motcua(vec![
            "restore".into(),
            "--from".into(),
            arg(&good),
            "--data".into(),
            arg(target),
            "--expect-head".into(),
            head,
        ])
    };
    let target = tmp.path().join("wrong-head");
    let (ok, _, err) = restore_expecting(&target, wrong).await;
    assert!(!ok);
    assert!(err.contains("(expected_head: "), "{err}");
    assert!(!target.exists());
    let target = tmp.path().join("restored");
    let (ok, out, err) = restore_expecting(&target, head.clone()).await;
    assert!(ok, "{err}");
    assert!(out.contains(&format!("head={head}")), "{out}");
}
