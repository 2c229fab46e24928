//! `verify-bench`: how fast `verify` runs beside a bare scan + decode of the same archive,
//! measured in the same run (BENCHMARKS.md, "Replay / verify").
//!
//! Builds an archive of N events from the testkit's synthetic desk history
//! (`motcua_tests::synth_archive`, shared with `restore-bench`), then times, alternately and
//! `--rounds` times each: a bare scan that only decodes each envelope, and the full `verify`
//! (container, chain, payloads, transitions). Prints the best rate of each.
//!
//! Usage: `cargo run --release -p motcua-tests --bin verify-bench -- [--events N] [--rounds R]`

use std::time::Instant;

use motcua_replay::bench::scan_decode;
use motcua_replay::progress::Progress;
use motcua_replay::source::Source;
use motcua_replay::verify::{verify, VerifyOptions};
use motcua_tests::synth_archive::write_synthetic_archive;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = arg("--events", 1_000_000);
    let rounds = arg("--rounds", 3).max(1);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.motcua");

    let t0 = Instant::now();
    let summary = write_synthetic_archive(&path, target, 4)?;
    eprintln!(
        "archive: {} events, {} bytes, written in {:.1?}",
        summary.count,
        summary.bytes,
        t0.elapsed()
    );

    let mut best_scan = 0u64;
    let mut best_verify = 0u64;
    let mut findings = 0usize;
    for round in 1..=rounds {
        let scan = scan_decode(Source::open(&path)?)?;
        let report = verify(
            Source::open(&path)?,
            &VerifyOptions::default(),
            &Progress::hidden(),
        );
        findings = report.findings.len();
        if round == 1 {
            // Findings by rule, with the first of each (a clean synthetic history has none).
            let mut by_rule = std::collections::BTreeMap::<&str, (usize, String)>::new();
            for f in &report.findings {
                let e = by_rule
                    .entry(f.rule)
                    .or_insert_with(|| (0, format!("seq {} {:?}: {}", f.seq, f.stream, f.detail)));
                e.0 += 1;
            }
            for (rule, (n, first)) in by_rule {
                eprintln!("  findings {rule}: {n} (first: {first})");
            }
        }
        let chain = verify(
            Source::open(&path)?,
            &VerifyOptions {
                chain_only: true,
                ..VerifyOptions::default()
            },
            &Progress::hidden(),
        );
        eprintln!(
            "round {round}: chain only {} ev/s",
            chain.events_per_second()
        );
        eprintln!(
            "round {round}: scan+decode {} ev/s, verify {} ev/s ({} findings)",
            scan.events_per_second(),
            report.events_per_second(),
            findings
        );
        best_scan = best_scan.max(scan.events_per_second());
        best_verify = best_verify.max(report.events_per_second());
    }
    println!(
        "events={} scan_decode_eps={} verify_eps={} ratio={:.2} findings={}",
        summary.count,
        best_scan,
        best_verify,
        best_verify as f64 / best_scan.max(1) as f64,
        findings
    );
    Ok(())
}
