//! Crash test: a child process appends in a loop and prints every acknowledged event; we
//! SIGKILL it at random moments (>= 20 cycles), reopen the directory each time and check that
//! every acknowledged event is present, intact (content and hash) and chained: on sled, and
//! with the log in a fresh PostgreSQL database (the test's own throwaway cluster).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use motcua_engine::log::{EventId, EventLog, LogConfig};
use rand::Rng;

const CYCLES: usize = 24;

fn payload_for(id: &EventId) -> Vec<u8> {
    id.0.iter().cycle().take(200).copied().collect()
}

#[test]
fn sigkill_never_loses_an_acknowledged_event() {
    sigkill_cycles(None);
}

#[test]
fn sigkill_never_loses_an_acknowledged_event_on_postgres() {
    let url = motcua_testkit::postgres::fresh_database();
    sigkill_cycles(Some(&url));
}

fn sigkill_cycles(postgres: Option<&str>) {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut rng = rand::thread_rng();
    let mut acked: Vec<(u64, EventId)> = Vec::new();
    let mut total_kills_with_acks = 0;

    for cycle in 0..CYCLES {
        let mut command = Command::new(env!("CARGO_BIN_EXE_crash_child"));
        command.arg("--data").arg(dir.path());
        if let Some(url) = postgres {
            command.args(["--postgres", url]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn crash_child");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        // Kill at a random moment: sometimes during open, mostly mid-stream.
        let wait_ms = if cycle % 6 == 0 {
            rng.gen_range(0..40)
        } else {
            rng.gen_range(40..320)
        };
        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
        let status = child.wait().expect("wait");
        assert!(!status.success(), "child exited by itself: {status:?}");
        reader.join().expect("reader thread");
        let mut this_cycle = 0;
        for line in rx.try_iter() {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some("ack"), Some(seq), Some(id)) => {
                    acked.push((seq.parse().expect("seq"), id.parse().expect("event id")));
                    this_cycle += 1;
                }
                _ => panic!("unexpected child output {line:?}"),
            }
        }
        if this_cycle > 0 {
            total_kills_with_acks += 1;
        }

        // Reopen and check everything acknowledged so far.
        let reopened = match postgres {
            None => EventLog::open(dir.path(), LogConfig::default()),
            Some(url) => EventLog::open_postgres(dir.path(), url, LogConfig::default()),
        };
        let log = reopened.unwrap_or_else(|e| panic!("cycle {cycle}: reopen failed: {e}"));
        let head = log.head();
        // One pass over the log (cheaper than a lookup per acknowledged seq).
        let stored: Vec<_> = log.scan(0).map(|e| e.expect("decodes")).collect();
        assert_eq!(
            stored.len() as u64,
            head.seq,
            "cycle {cycle}: gap below the head"
        );
        for (seq, id) in &acked {
            assert!(
                *seq <= head.seq,
                "cycle {cycle}: acked seq {seq} beyond head {}",
                head.seq
            );
            let env = &stored[(*seq - 1) as usize];
            assert_eq!(env.seq, *seq);
            assert_eq!(
                env.event_id, *id,
                "cycle {cycle}: seq {seq} holds another event"
            );
            assert_eq!(
                env.payload,
                payload_for(id),
                "cycle {cycle}: seq {seq} payload"
            );
            assert_eq!(
                env.compute_hash(),
                env.hash,
                "cycle {cycle}: seq {seq} hash"
            );
        }
        let report = log.verify().expect("verify");
        assert!(report.is_clean(), "cycle {cycle}: {:?}", report.findings);
        rt.block_on(log.close()).expect("close");
        eprintln!(
            "cycle {cycle}: killed after {wait_ms} ms, {this_cycle} new acks, head {}, t={:?}",
            head.seq,
            started.elapsed()
        );
    }
    assert!(
        total_kills_with_acks >= 15,
        "too few cycles killed mid-stream: {total_kills_with_acks}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "crash test too slow: {:?}",
        started.elapsed()
    );
}
