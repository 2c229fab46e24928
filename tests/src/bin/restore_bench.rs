//! `restore-bench` (`cargo run --release -p motcua-tests --bin restore-bench [-- --events N]`):
//! how fast `motcua restore` rebuilds a data directory from an archive (BENCHMARKS.md,
//! "Restore (#15 goal 4)").
//!
//! Writes a synthetic archive of N events (`motcua_tests::synth_archive`, the history the
//! verify bench uses; or reuses `--archive FILE` if it exists), then times the library call
//! behind `motcua restore` end to end into a fresh directory, with the phases it reports.
//!
//! Last line: `restore events=N seconds=S eps=E verify_s=.. import_s=.. projections_s=..`.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;

use motcua_http::cli::backup::{restore, BackupError};
use motcua_tests::synth_archive::{write_synthetic_archive, SynthArchiveError};

#[derive(Parser, Debug)]
#[command(about = "Time `motcua restore` of a synthetic archive, end to end and per phase")]
struct Args {
    /// Events in the synthetic archive.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Archive file to reuse (written there first if it does not exist). Default: a temporary
    /// file, removed afterwards.
    #[arg(long)]
    archive: Option<PathBuf>,
    /// Units (communes) in the synthetic history.
    #[arg(long, default_value_t = 4)]
    units: usize,
}

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("synthetic archive: {0}")]
    Synth(#[from] SynthArchiveError),
    #[error("restore: {0}")]
    Restore(#[from] BackupError),
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
    let work = tempfile::tempdir()?;
    let archive = match &args.archive {
        Some(p) => p.clone(),
        None => work.path().join("bench.motcua"),
    };
    if archive.is_file() {
        eprintln!("reusing archive {}", archive.display());
    } else {
        let t = Instant::now();
        let summary = write_synthetic_archive(&archive, args.events, args.units)?;
        eprintln!(
            "archive: {} events, {} bytes, written in {:.1?}",
            summary.count,
            summary.bytes,
            t.elapsed()
        );
    }
    let target = work.path().join("restored");
    let t = Instant::now();
    let report = restore(&archive, &target).await?;
    let seconds = t.elapsed().as_secs_f64();
    println!(
        "restore events={} seconds={seconds:.1} eps={:.0} {}",
        report.events,
        report.events as f64 / seconds,
        report.phases.line()
    );
    Ok(())
}
