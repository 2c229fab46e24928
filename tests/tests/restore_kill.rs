//! A `motcua restore` killed midway (SIGKILL of the real process, at several points of its
//! import) leaves no directory that opens as a short log: the staging directory carries the
//! unfinished-import mark and `EventLog::open` refuses it, or it is complete; the target is
//! absent or complete. A second restore into the same target then succeeds, with the archive's
//! head, and the restored log verifies clean.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use motcua_engine::log::{EventLog, LogConfig};
use motcua_engine::storage::IMPORT_MARKER_FILE;
use motcua_tests::synth_archive::write_synthetic_archive;
use motcua_tests::workspace_bin;

/// Enough events that a debug build's import takes well over the kill delays below.
const EVENTS: u64 = 30_000;

/// How long after the import started each kill lands.
const KILL_AFTER_MS: [u64; 3] = [0, 40, 150];

/// `dir`, if it exists, is not a short log: it is refused as an unfinished import, or it opens
/// with the whole archive.
fn never_a_short_log(dir: &Path, count: u64, head: [u8; 32]) -> &'static str {
    if !dir.exists() {
        return "absent";
    }
    match EventLog::open(dir, LogConfig::default()) {
        Err(e) => {
            assert!(dir.join(IMPORT_MARKER_FILE).is_file(), "{e}");
            assert!(e.is_damaged(), "{e}");
            assert!(e.to_string().contains("did not finish"), "{e}");
            "refused"
        }
        Ok(log) => {
            let pos = log.head();
            assert_eq!(
                (pos.seq, pos.hash),
                (count, head),
                "{} opens short",
                dir.display()
            );
            "complete"
        }
    }
}

#[test]
fn a_restore_killed_midway_leaves_no_short_log_and_a_second_restore_succeeds() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let archive = tmp.path().join("history.motcua");
    let summary = write_synthetic_archive(&archive, EVENTS, 4).expect("archive");
    assert_eq!(summary.count, EVENTS);
    let motcua = workspace_bin("motcua-http", "motcua");
    let restore = |target: &Path| {
        Command::new(&motcua)
            .args(["restore", "--from"])
            .arg(&archive)
            .arg("--data")
            .arg(target)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn motcua restore")
    };
    let target = tmp.path().join("data");
    let mut refused = 0;
    for (round, after_ms) in KILL_AFTER_MS.into_iter().enumerate() {
        let mut child = restore(&target);
        let staging = tmp.path().join(format!(".data.restoring-{}", child.id()));
        let marker = staging.join(IMPORT_MARKER_FILE);
        let deadline = Instant::now() + Duration::from_secs(300);
        while !marker.exists() {
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("round {round}: restore ended ({status}) before its import was seen");
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: no import started"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(after_ms));
        child.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
        child.wait().expect("wait");
        let s = never_a_short_log(&staging, summary.count, summary.head_hash);
        let t = never_a_short_log(&target, summary.count, summary.head_hash);
        println!("round {round}: killed {after_ms} ms into the import: staging {s}, target {t}");
        refused += usize::from(s == "refused");
        if t != "absent" {
            // The kill came after the swap: the restore had finished; start over.
            std::fs::remove_dir_all(&target).expect("remove target");
        }
    }
    assert!(refused >= 1, "no kill landed inside an import");

    // A second restore into the same target succeeds; it sweeps the killed ones' leftovers.
    let out = restore(&target).wait_with_output().expect("restore");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "restored events={EVENTS} head={}",
            hex::encode(summary.head_hash)
        )),
        "{stdout}"
    );
    assert!(!target.join(IMPORT_MARKER_FILE).exists());
    let log = EventLog::open(&target, LogConfig::default()).expect("open the restored log");
    assert_eq!(log.head().seq, EVENTS);
    assert_eq!(log.head().hash, summary.head_hash);
    let report = log.verify().expect("verify");
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.events, EVENTS);
}
