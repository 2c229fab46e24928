//! `append-bench` (`cargo run --release -p motcua-tests --bin append-bench`): durable append
//! throughput and latency of the event log.
//!
//! N concurrent tokio tasks append one ~300-byte event each (client-supplied event id, so the
//! idempotency index is exercised) to a random stream among `--streams` (default 100,000) with
//! `ExpectedVersion::Any`, for `--seconds`, through the normal durable path (sled flush +
//! fdatasync before the acknowledgement; with `--store postgres://...`, the log on that
//! PostgreSQL database, each batch one transaction committed under `synchronous_commit = on`).
//! Latency is measured per append from the call to the acknowledgement. The last line is machine-readable:
//! `append_eps=<events/s> writers=<n> p50_ms=<x> p99_ms=<y>`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use motcua_engine::log::{
    Actor, AppendError, EventId, EventLog, ExpectedVersion, LogConfig, NewEvent, StreamId,
};
use rand::Rng;

#[derive(Parser, Debug)]
#[command(about = "Durable append throughput of the motcua event log")]
struct Args {
    /// Concurrent writers (tokio tasks).
    #[arg(long, default_value_t = 64)]
    writers: usize,
    /// Measured duration in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Flush per append instead of group commit.
    #[arg(long)]
    no_group_commit: bool,
    /// Data directory (default: a fresh directory under the system temp dir, removed after).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Number of distinct streams to spread appends over.
    #[arg(long, default_value_t = 100_000)]
    streams: u64,
    /// Payload bytes per event (the envelope adds ~100 bytes of header and hashes).
    #[arg(long, default_value_t = 200)]
    payload: usize,
    /// Unmeasured warm-up in seconds.
    #[arg(long, default_value_t = 1)]
    warmup: u64,
    /// Where the log is kept: `sled` (in the data directory) or a PostgreSQL URL
    /// (`postgres://user@host:port/db`; the data directory then holds only the rest).
    #[arg(long, default_value = "sled")]
    store: String,
}

fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let idx = ((sorted_us.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted_us[idx.min(sorted_us.len() - 1)]) / 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let (dir, remove_after) = match &args.data {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("motcua-append-bench-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let config = LogConfig {
        group_commit: !args.no_group_commit,
        ..LogConfig::default()
    };
    let on_postgres = args.store != "sled";
    let log = if on_postgres {
        EventLog::open_postgres(&dir, &args.store, config)?
    } else {
        EventLog::open(&dir, config)?
    };
    let start_head = log.head().seq;
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let overloaded = Arc::new(AtomicU64::new(0));

    let mut tasks = Vec::new();
    for w in 0..args.writers {
        let log = log.clone();
        let measuring = measuring.clone();
        let stop = stop.clone();
        let overloaded = overloaded.clone();
        let payload_len = args.payload;
        let streams = args.streams;
        tasks.push(tokio::spawn(async move {
            let mut lat_us: Vec<u32> = Vec::with_capacity(1 << 16);
            let mut events = 0u64;
            let actor = Actor {
                staff: format!("bench-{w}"),
                role: "reception".into(),
            };
            while !stop.load(Ordering::Relaxed) {
                let (stream, payload) = {
                    let mut rng = rand::thread_rng();
                    let n = rng.gen_range(0..streams);
                    let mut payload = vec![0u8; payload_len];
                    rng.fill(&mut payload[..]);
                    (format!("dossier/bench-{n:06}"), payload)
                };
                let stream = StreamId::new(stream).map_err(|e| e.to_string())?;
                let ev = NewEvent {
                    event_id: Some(EventId::random()),
                    event_type: "BenchEventRecorded".into(),
                    schema_version: 1,
                    actor: actor.clone(),
                    correlation_id: None,
                    causation_id: None,
                    payload,
                };
                let t0 = Instant::now();
                match log.append(&stream, ExpectedVersion::Any, vec![ev]).await {
                    Ok(_) => {
                        if measuring.load(Ordering::Relaxed) {
                            let us = t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                            lat_us.push(us);
                            events += 1;
                        }
                    }
                    Err(AppendError::Overloaded) => {
                        overloaded.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
            Ok::<_, String>((events, lat_us))
        }));
    }

    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    let head_before = log.head().seq;
    measuring.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    measuring.store(false, Ordering::SeqCst);
    let elapsed = t0.elapsed().as_secs_f64();
    let head_after = log.head().seq;
    stop.store(true, Ordering::SeqCst);

    let mut all_lat = Vec::new();
    let mut events = 0u64;
    for t in tasks {
        let (n, lat) = t.await??;
        events += n;
        all_lat.extend(lat);
    }
    all_lat.sort_unstable();
    let size = log.store().size_on_disk().unwrap_or(0);
    let st = log.writer_stats();
    let per_batch = |us: u64| us as f64 / st.batches.max(1) as f64 / 1000.0;
    println!(
        "# writer: {} batches, {:.1} events/batch, per batch: decide {:.2} ms, commit {:.2} ms; flusher: {} flushes, {:.1} events/flush, {:.2} ms per flush+fdatasync",
        st.batches,
        st.events as f64 / st.batches.max(1) as f64,
        per_batch(st.decide_us),
        per_batch(st.commit_us),
        st.flushes,
        st.events as f64 / st.flushes.max(1) as f64,
        st.flush_us as f64 / st.flushes.max(1) as f64 / 1000.0,
    );
    let total = log.head().seq - start_head;
    log.close().await?;
    if remove_after {
        let _ = std::fs::remove_dir_all(&dir);
    }

    let eps = events as f64 / elapsed;
    println!(
        "# mode={} measured {events} acked events in {elapsed:.2}s (log head advanced {} in the window, {total} in total), overloaded={}, store={} size_on_disk={} MB, p999_ms={:.2} max_ms={:.2}",
        if args.no_group_commit { "flush-per-append" } else { "group-commit" },
        head_after - head_before,
        overloaded.load(Ordering::Relaxed),
        if on_postgres { "postgres (data directory only)" } else { "sled" },
        size / 1_000_000,
        percentile_ms(&all_lat, 0.999),
        percentile_ms(&all_lat, 1.0),
    );
    println!(
        "append_eps={:.0} writers={} p50_ms={:.2} p99_ms={:.2}",
        eps,
        args.writers,
        percentile_ms(&all_lat, 0.50),
        percentile_ms(&all_lat, 0.99)
    );
    Ok(())
}
