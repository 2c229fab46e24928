//! `rebuild-bench` (`cargo run --release -p motcua-tests --bin rebuild-bench`): generates (or reuses) a log of realistic dossier lifecycles, then times a
//! full rebuild of every projection against a bare scan+decode of the same log, and a set of
//! queries over 1x and 10x history to show query time follows the result, not the history.
//!
//! Last line: `rebuild_eps=<events/s> scan_eps=<events/s> ratio=<rebuild/scan>`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Days;
use clap::Parser;

use motcua_engine::domain::types::Timestamp;
use motcua_engine::log::{EventLog, LogConfig};
use motcua_engine::projection::keys::local_date;
use motcua_engine::projection::runner::ProjectionTrees;
use motcua_engine::projection::{
    decode_envelope, DossierState, Projection, ProjectionError, ReadModels, StatsFilter,
};
use motcua_engine::storage::Store;
use motcua_testkit::cpu::{process_cpu_s, thread_cpu_s};
use motcua_testkit::synth::{append_history, history, to_recorded, SynthConfig};

#[derive(Parser, Debug)]
#[command(about = "Time a full projection rebuild against a bare scan+decode of the log")]
struct Args {
    /// Log directory to reuse (generated there if empty). Default: a temporary directory.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Events to generate when the log is empty.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Dossiers of the 1x history of the query bench (10x uses ten times as many); 0 skips it.
    #[arg(long, default_value_t = 4_000)]
    query_dossiers: usize,
    /// Units (communes) in the generated history.
    #[arg(long, default_value_t = 10)]
    units: usize,
}

/// Fewer events than a synthetic lifecycle averages (~6): the generation overshoots, then the
/// history is cut to exactly `--events`.
const EVENTS_PER_DOSSIER_ESTIMATE: usize = 4;

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("projection: {0}")]
    Projection(#[from] ProjectionError),
    #[error("log: {0}")]
    Log(#[from] motcua_engine::log::LogError),
    #[error("storage: {0}")]
    Storage(#[from] motcua_engine::storage::StorageError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

fn main() -> Result<(), BenchError> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> Result<(), BenchError> {
    let dir = match &args.data {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => tempfile_dir()?.join("log"),
    };
    let log = EventLog::open(&dir, LogConfig::default())?;
    if log.head().seq == 0 {
        let cfg = SynthConfig::demo(args.units);
        let mut events = history(&cfg, 42, args.events / EVENTS_PER_DOSSIER_ESTIMATE + 1);
        events.truncate(args.events);
        println!("generating: {} events", events.len());
        let t = Instant::now();
        append_history(&log, &events).await?;
        println!(
            "generated: {} events in {:.1}s",
            log.head().seq,
            t.elapsed().as_secs_f64()
        );
    } else {
        println!("reusing: {} events in {}", log.head().seq, dir.display());
    }
    let total = log.head().seq;

    // Bare scan + decode (envelope and payload), the floor any fold pays.
    let t = Instant::now();
    let scan_cpu0 = thread_cpu_s();
    let mut scanned = 0u64;
    let keep = std::env::var_os("REBUILD_BENCH_FOLD_ONLY").is_some();
    let mut kept = Vec::new();
    for env in log.scan(0) {
        let rec = decode_envelope(&env?)?;
        scanned += u64::from(rec.seq > 0);
        if keep {
            kept.push(rec);
        }
    }
    let scan = t.elapsed();
    let scan_cpu = thread_cpu_s() - scan_cpu0;
    if keep {
        // Diagnostic: the fold alone, in memory (no sled writes).
        let t = Instant::now();
        let mut d = motcua_engine::projection::MemStore::new();
        motcua_engine::projection::fold_into_mem(
            &motcua_engine::projection::DossierProjection,
            &mut d,
            &kept,
            motcua_engine::projection::REBUILD_BATCH_MAX_EVENTS,
        )?;
        println!(
            "fold_only_s={:.2} keys={}",
            t.elapsed().as_secs_f64(),
            d.len()
        );
    }

    // Full rebuild of every projection through the same path the runner uses.
    let trees = ProjectionTrees::open(&log)?;
    trees.clear()?;
    let t = Instant::now();
    // The whole process's CPU: the rebuild's reader and fold threads (and sled's own), with
    // nothing else running meanwhile.
    let rebuild_cpu0 = process_cpu_s();
    let applied = trees.catch_up(&log)?;
    let rebuild = t.elapsed();
    println!(
        "cpu: scan_cpu_s={:.2} rebuild_cpu_s={:.2} (all threads)",
        scan_cpu,
        process_cpu_s() - rebuild_cpu0,
    );
    drop(trees);
    log.close().await?;
    if args.data.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }

    if args.query_dossiers > 0 {
        query_bench(args.query_dossiers, args.units)?;
    }

    let scan_eps = scanned as f64 / scan.as_secs_f64();
    let rebuild_eps = applied as f64 / rebuild.as_secs_f64();
    println!(
        "events={total} scan_s={:.2} rebuild_s={:.2}",
        scan.as_secs_f64(),
        rebuild.as_secs_f64()
    );
    println!(
        "rebuild_eps={:.0} scan_eps={:.0} ratio={:.2}",
        rebuild_eps,
        scan_eps,
        rebuild_eps / scan_eps
    );
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf, std::io::Error> {
    let d = std::env::temp_dir().join(format!("rebuild-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// Median of `runs` timings of `f`, and its last result size.
fn time_query(
    runs: usize,
    mut f: impl FnMut() -> Result<usize, ProjectionError>,
) -> Result<(Duration, usize), ProjectionError> {
    let mut times = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        size = f()?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok((times[times.len() / 2], size))
}

struct QueryTimes {
    events: usize,
    rows: Vec<(&'static str, Duration, usize)>,
}

fn build_and_query(dossiers: usize, units: usize) -> Result<QueryTimes, BenchError> {
    let cfg = SynthConfig::demo(units);
    let events = to_recorded(&history(&cfg, 7, dossiers), Timestamp(0));
    let dir = tempfile_dir()?.join(format!("q{dossiers}"));
    std::fs::create_dir_all(&dir)?;
    let store = Store::open(&dir)?;
    let trees = ProjectionTrees {
        dossiers: store.tree(&format!(
            "proj.{}",
            motcua_engine::projection::DossierProjection::NAME
        ))?,
        catalog: store.tree("proj.catalog")?,
    };
    for chunk in events.chunks(motcua_engine::projection::REBUILD_BATCH_MAX_EVENTS) {
        trees.apply(chunk)?;
    }
    let rm: ReadModels = trees.read_models();
    let now = events.last().map(|e| e.recorded_at).unwrap_or(Timestamp(0));
    let unit = cfg.units[0].clone();
    let field = cfg.fields[0].clone();
    let to = local_date(now);
    let from = to.checked_sub_days(Days::new(6)).unwrap_or(to);
    let runs = 21;
    let mut rows = Vec::new();
    let (d, n) = time_query(runs, || {
        Ok(rm
            .queue(&unit, &field, DossierState::InProcessing, 50)?
            .items
            .len())
    })?;
    rows.push(("queue(unit,field,in_processing,50)", d, n));
    let (d, n) = time_query(runs, || Ok(rm.overdue_now(&unit, None, now)?.len()))?;
    rows.push(("overdue_now(unit)", d, n));
    let (d, n) = time_query(runs, || Ok(rm.approval_inbox(&unit, None, now)?.len()))?;
    rows.push(("approval_inbox(unit)", d, n));
    let spec = "cm-01"
        .parse()
        .map_err(|e| ProjectionError::Storage(format!("{e}")))?;
    let (d, n) = time_query(runs, || Ok(rm.work_list(&spec, now)?.len()))?;
    rows.push(("work_list(cm-01)", d, n));
    let filter = StatsFilter {
        unit: Some(unit.clone()),
        ..StatsFilter::default()
    };
    let (d, n) = time_query(runs, || {
        let r = rm.stats(from, to, &filter)?;
        Ok(r.records_read as usize)
    })?;
    rows.push(("stats(unit, last 7 days) [rows = records read]", d, n));
    let first = events.iter().find_map(|e| match &e.event {
        motcua_engine::domain::events::Event::Dossier(d) => Some(d.code.clone()),
        _ => None,
    });
    if let Some(code) = first {
        let (d, n) = time_query(runs, || Ok(usize::from(rm.dossier(&code)?.is_some())))?;
        rows.push(("dossier(code)", d, n));
    }
    drop(rm);
    drop(trees);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(QueryTimes {
        events: events.len(),
        rows,
    })
}

fn query_bench(dossiers: usize, units: usize) -> Result<(), BenchError> {
    let one = build_and_query(dossiers, units)?;
    let ten = build_and_query(dossiers * 10, units)?;
    println!(
        "query bench: 1x = {} events, 10x = {} events (median of 21 runs)",
        one.events, ten.events
    );
    for ((name, d1, n1), (_, d10, n10)) in one.rows.iter().zip(&ten.rows) {
        println!(
            "query {name}: 1x {:.1}us ({n1} rows) | 10x {:.1}us ({n10} rows)",
            d1.as_secs_f64() * 1e6,
            d10.as_secs_f64() * 1e6
        );
    }
    Ok(())
}
