//! Issue 16, "bad days on disk", for the auditor's tool: `motcua-replay verify` on a data
//! directory with a damaged live page of its `events` tree must end (sled's iterator repeats a
//! damaged page's error without advancing: a read that skips errors never ends) with a finding
//! naming the damage and exit status 1; and its copy of the directory must not outlive the
//! run: removed on SIGTERM, and swept by the next run when the owner was killed outright.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use motcua_replay::source::COPY_PREFIX;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_motcua-replay"))
}

/// Waits for `child` at most `limit`; a run still going is killed and fails the test.
fn wait_within(mut child: Child, limit: Duration, what: &str) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dst = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), dst).unwrap();
        }
    }
}

/// The copies of data directories in `tmp`.
fn copies(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with(COPY_PREFIX))
        .map(|e| e.path())
        .collect()
}

/// A data directory a server ran on for a while: a history, then one more open and clean
/// close (sled's recovery writes a snapshot covering the log, so a later open reads the older
/// pages only when they are asked for, as a long-running directory's are).
fn settled_fixture(dossiers: usize) -> Fixture {
    let fx = fixture(dossiers);
    let rt = runtime();
    let (log, _) = open_log(&fx.data);
    rt.block_on(log.close()).unwrap();
    fx
}

#[test]
fn verify_ends_with_a_finding_on_a_damaged_live_event_page() {
    let fx = settled_fixture(250);
    let clean = std::fs::read(fx.data.join("db")).unwrap();
    // One event's stored record: its stream, version and event id side by side occur only in
    // the `events` tree (the indexes hold them apart), once per copy sled wrote of its page.
    let recs = records(&std::fs::read(&fx.archive).unwrap());
    let env = &recs[recs.len() / 3].2;
    let mut needle = env.stream.as_str().as_bytes().to_vec();
    needle.push(env.version as u8);
    needle.extend_from_slice(&env.event_id.0);
    assert!(env.version < 251, "one-byte varint");
    let hits: Vec<usize> = clean
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle.as_slice())
        .map(|(i, _)| i)
        .collect();
    assert!(!hits.is_empty(), "the event's record is in `db`");

    let work = tempfile::tempdir().unwrap();
    let mut named = 0;
    for (n, at) in hits.iter().enumerate() {
        let copy = work.path().join(format!("flip-{n}"));
        copy_tree(&fx.data, &copy);
        let mut bytes = clean.clone();
        bytes[at + needle.len() - 4] ^= 0x10;
        std::fs::write(copy.join("db"), &bytes).unwrap();
        let child = bin()
            .args(["verify", "--no-progress"])
            .arg(&copy)
            .env("TMPDIR", work.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Every run ends, whichever copy of the page was hit (a dead copy changes nothing).
        let out = wait_within(child, Duration::from_secs(60), "verify");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0..=2)),
            "{code:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if code == Some(1) && stdout.contains("truncated") && stdout.contains("corrupt") {
            eprintln!("{stdout}");
            named += 1;
        }
    }
    eprintln!(
        "{} copies of the record, {named} named as damage",
        hits.len()
    );
    assert!(named > 0, "no copy of the page was the live one");
    assert!(copies(work.path()).is_empty(), "a copy was left behind");
}

/// Starts `verify` on `data` with its temporary directory in `tmp` and returns it as soon as
/// its copy exists (None if it finished first).
fn started_copy(data: &Path, tmp: &Path) -> Option<Child> {
    let mut child = bin()
        .args(["verify", "--no-progress"])
        .arg(data)
        .env("TMPDIR", tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let own = format!("{COPY_PREFIX}{}-", child.id());
    let start = Instant::now();
    loop {
        let there = copies(tmp)
            .iter()
            .any(|p| p.file_name().unwrap().to_string_lossy().starts_with(&own));
        if there {
            return Some(child);
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no copy made");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn an_interrupted_verify_removes_its_copy_and_a_killed_ones_is_swept_next_time() {
    let fx = fixture(250);
    let tmp = tempfile::tempdir().unwrap();
    let signal = |sig: libc::c_int| {
        for _ in 0..20 {
            if let Some(child) = started_copy(&fx.data, tmp.path()) {
                let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
                assert_eq!(rc, 0);
                return wait_within(child, Duration::from_secs(30), "signalled verify");
            }
            // It finished before the signal: it removed its copy itself.
            assert!(copies(tmp.path()).is_empty());
        }
        panic!("verify always finished before it could be signalled");
    };

    // SIGTERM: the copy is removed, the exit status says why.
    let out = signal(libc::SIGTERM);
    assert_eq!(out.status.code(), Some(128 + libc::SIGTERM));
    assert!(copies(tmp.path()).is_empty(), "{:?}", copies(tmp.path()));

    // SIGKILL: nothing can run, the copy stays behind ...
    let out = signal(libc::SIGKILL);
    assert_eq!(out.status.code(), None, "killed by a signal");
    let left = copies(tmp.path());
    assert_eq!(left.len(), 1, "the killed run's copy: {left:?}");

    // ... until the next run, which sweeps it (its owner is gone) and removes its own.
    let out = bin()
        .args(["verify", "--no-progress"])
        .arg(&fx.data)
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(copies(tmp.path()).is_empty(), "{:?}", copies(tmp.path()));
}
