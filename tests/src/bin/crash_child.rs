//! Crash-test child: opens the event log in `--data DIR` (or, with `--postgres URL`, in that
//! PostgreSQL database, DIR holding the rest) and appends forever from several
//! concurrent tasks, printing `ack <seq> <event-id>` for every acknowledged (durable) event,
//! flushed line by line. The parent (`tests/tests/crash.rs`) SIGKILLs it at random moments and
//! checks that every printed event survived. The payload is derived from the event id so the
//! parent can check content without a side channel.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use motcua_engine::log::{
    Actor, EventId, EventLog, ExpectedVersion, LogConfig, LogError, NewEvent, StreamId,
};
use motcua_engine::storage::StorageError;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    data: PathBuf,
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Keep the log in this PostgreSQL database instead of sled.
    #[arg(long)]
    postgres: Option<String>,
}

/// The payload the parent expects for an event id.
fn payload_for(id: &EventId) -> Vec<u8> {
    id.0.iter().cycle().take(200).copied().collect()
}

fn open_with_retry(dir: &std::path::Path, postgres: Option<&str>) -> EventLog {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let opened = match postgres {
            None => EventLog::open(dir, LogConfig::default()),
            Some(url) => EventLog::open_postgres(dir, url, LogConfig::default()),
        };
        match opened {
            Ok(log) => return log,
            // The parent may still be releasing the directory lock.
            Err(LogError::Storage(StorageError::AlreadyOpen(_))) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                eprintln!("crash_child: open failed: {e}");
                std::process::exit(2);
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let log = open_with_retry(&args.data, args.postgres.as_deref());
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let mut tasks = Vec::new();
    for w in 0..args.writers {
        let log = log.clone();
        let out = out.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            loop {
                i += 1;
                let id = EventId::random();
                let stream =
                    StreamId::new(format!("crash/{}", (w as u64 * 7 + i) % 16)).expect("valid");
                let n = 1 + (i % 3) as usize;
                let events: Vec<NewEvent> = (0..n)
                    .map(|k| {
                        let id = if k == 0 { id } else { EventId::random() };
                        NewEvent {
                            event_id: Some(id),
                            event_type: "CrashTest".into(),
                            schema_version: 1,
                            actor: Actor {
                                staff: format!("w{w}"),
                                role: "test".into(),
                            },
                            correlation_id: None,
                            causation_id: None,
                            payload: payload_for(&id),
                        }
                    })
                    .collect();
                let ids: Vec<EventId> = events.iter().filter_map(|e| e.event_id).collect();
                match log.append(&stream, ExpectedVersion::Any, events).await {
                    Ok(a) => {
                        let mut out = out.lock().expect("stdout lock");
                        for (k, id) in ids.iter().enumerate() {
                            let _ = writeln!(out, "ack {} {}", a.first_seq + k as u64, id);
                        }
                        let _ = out.flush();
                    }
                    Err(e) => {
                        eprintln!("crash_child: append failed: {e}");
                        std::process::exit(3);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
