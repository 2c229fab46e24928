//! A range archive (`motcua export --from N`) verifies on its own: its streams may start at any
//! version and its dossiers in any state, since what came before seq N is in another archive;
//! a break inside the range is still named.

mod common;

use common::*;
use motcua_replay::archive::{self, ArchiveMeta};
use motcua_replay::progress::Progress;
use motcua_replay::source::Source;
use motcua_replay::verify::{verify, VerifyOptions, VerifyReport};

fn range_archive(fx: &Fixture, from: u64) -> std::path::PathBuf {
    let rt = runtime();
    let (log, _clock) = open_log(&fx.data);
    let path = fx.dir.path().join(format!("from-{from}.motcua"));
    let meta = ArchiveMeta {
        unit: "000.00.00.G10".into(),
        created_at_ms: T0,
    };
    let file = std::fs::File::create(&path).unwrap();
    archive::write_archive(&log, from, None, &meta, std::io::BufWriter::new(file)).unwrap();
    rt.block_on(log.close()).unwrap();
    path
}

fn run(path: &std::path::Path, chain_only: bool) -> VerifyReport {
    let options = VerifyOptions {
        chain_only,
        ..VerifyOptions::default()
    };
    verify(Source::open(path).unwrap(), &options, &Progress::hidden())
}

#[test]
fn a_range_archive_verifies_without_false_findings() {
    let fx = fixture(40);
    for from in [2, fx.events / 3, fx.events / 2, fx.events] {
        let path = range_archive(&fx, from);
        for chain_only in [true, false] {
            let r = run(&path, chain_only);
            assert!(
                r.findings.is_empty(),
                "from {from}, chain_only {chain_only}: {:?}",
                r.findings
            );
            assert_eq!(r.events, fx.events - from + 1);
        }
    }
}

#[test]
fn a_break_inside_a_range_is_still_named() {
    let fx = fixture(40);
    let from = fx.events / 2;
    let path = range_archive(&fx, from);
    let mut bytes = std::fs::read(&path).unwrap();
    let recs = records(&bytes);
    // Drop one event in the middle of the range: the chain breaks at the next one.
    let (offset, len, env) = recs[recs.len() / 2].clone();
    bytes.drain(offset..offset + len);
    reseal(&mut bytes);
    std::fs::write(&path, &bytes).unwrap();
    let r = run(&path, true);
    assert!(
        r.findings
            .iter()
            .any(|f| f.seq == env.seq + 1 || f.seq == env.seq),
        "{:?}",
        r.findings
    );
}
