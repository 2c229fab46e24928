//! The commands end to end: the binary as a real child process, and determinism of the JSON
//! output across replays.

mod common;

use std::process::Command;

use common::*;
use motcua_replay::cli;
use motcua_replay::output::Format;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_motcua-replay"))
}

#[test]
fn verify_binary_exit_status_and_last_line() {
    let fx = fixture(30);
    let before = std::fs::read(&fx.archive).unwrap();
    let out = bin().arg("verify").arg(&fx.archive).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    let head = motcua_replay::verify::verify(
        motcua_replay::source::Source::open(&fx.archive).unwrap(),
        &Default::default(),
        &motcua_replay::progress::Progress::hidden(),
    )
    .head;
    let prefix = format!("verified events={} streams=", fx.events);
    assert!(last.starts_with(&prefix), "{last}");
    assert!(
        last.contains(&format!(" findings=0 head={head} eps=")),
        "{last}"
    );
    // Nothing written to what was read; no progress bar on a non-terminal stderr.
    assert_eq!(std::fs::read(&fx.archive).unwrap(), before);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A data directory verifies the same, and is left untouched.
    let listing = |p: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect();
        v.sort();
        v
    };
    let dir_before = listing(&fx.data);
    let out = bin().arg("verify").arg(&fx.data).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .contains(&format!("head={head}")));
    assert_eq!(listing(&fx.data), dir_before);

    // A tampered archive: exit status 1 and the finding in the table.
    let mut bad = before.clone();
    let recs = records(&bad);
    let (off, len, env) = &recs[10];
    bad[off + len - 65] ^= 0xff;
    let p = fx.dir.path().join("bad.motcua");
    std::fs::write(&p, &bad).unwrap();
    let out = bin().arg("verify").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&format!("{} ", env.seq)) && l.contains(" hash ")),
        "{stdout}"
    );
    // The hash finding, the archive checksum and (a flipped payload byte) the payload decode.
    assert!(
        stdout.lines().last().unwrap().contains("findings=3"),
        "{stdout}"
    );

    // Not an archive at all: exit status 2.
    let out = bin()
        .arg("verify")
        .arg(fx.dir.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn replays_are_byte_identical_and_commands_agree() {
    let fx = fixture(120);
    let from = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
    let to = chrono::NaiveDate::from_ymd_opt(2023, 1, 31).unwrap();
    let stats = |path: &std::path::Path| {
        cli::stats(path, from, to, None, None, None, Format::Json, false)
            .unwrap()
            .stdout
    };
    let a = stats(&fx.archive);
    let b = stats(&fx.archive);
    assert_eq!(a, b);
    // The data directory replays to the same figures.
    assert_eq!(a, stats(&fx.data));
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    let figures = &v["groups"][0]["figures"];
    let received = figures["received"].as_u64().unwrap();
    assert!(received > 0);
    // The balance of the figures (docs/domain/statistics.md) holds.
    let g = |k: &str| figures[k].as_u64().unwrap();
    assert_eq!(
        g("carried_over") + g("received"),
        g("resolved") + g("withdrawn") + g("stopped") + g("in_progress")
    );
    assert_eq!(
        g("resolved"),
        g("resolved_early") + g("resolved_on_time") + g("resolved_late")
    );

    // --list gives exactly as many codes as the figure counts.
    let listed = cli::stats(
        &fx.archive,
        from,
        to,
        None,
        None,
        Some("received"),
        Format::Json,
        false,
    )
    .unwrap()
    .stdout;
    let lv: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(
        lv["list"][1]["all"].as_array().unwrap().len() as u64,
        received
    );

    // --by unit on one unit equals the total.
    let by = cli::stats(
        &fx.archive,
        from,
        to,
        Some(cli::By::Unit),
        None,
        None,
        Format::Json,
        false,
    )
    .unwrap()
    .stdout;
    let bv: serde_json::Value = serde_json::from_str(&by).unwrap();
    assert_eq!(bv["groups"][0]["figures"], *figures);

    // history of a listed dossier, twice, identical; its timeline seqs increase.
    let code = lv["list"][1]["all"][0].as_str().unwrap().to_owned();
    let h1 = cli::history(&fx.archive, &code, Format::Json, false)
        .unwrap()
        .stdout;
    let h2 = cli::history(&fx.archive, &code, Format::Json, false)
        .unwrap()
        .stdout;
    assert_eq!(h1, h2);
    let hv: serde_json::Value = serde_json::from_str(&h1).unwrap();
    let seqs: Vec<u64> = hv["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert!(
        seqs.len() >= 2 && seqs.windows(2).all(|w| w[0] < w[1]),
        "{seqs:?}"
    );
    assert!(!hv["slip05"].as_array().unwrap().is_empty());

    // queues as of a moment, twice, identical.
    let q1 = cli::queues(&fx.archive, Some("2023-01-10T10:00"), Format::Json, false)
        .unwrap()
        .stdout;
    let q2 = cli::queues(&fx.archive, Some("2023-01-10T10:00"), Format::Json, false)
        .unwrap()
        .stdout;
    assert_eq!(q1, q2);

    // diff: an archive against itself, and the stats JSON against the recomputation.
    let d = cli::diff(&fx.archive, &fx.archive, None, None, Format::Table, false).unwrap();
    assert_eq!(d.status, 0, "{}", d.stdout);
    let sj = fx.dir.path().join("stats.json");
    std::fs::write(&sj, &a).unwrap();
    let d = cli::diff(&fx.archive, &sj, None, None, Format::Table, false).unwrap();
    assert_eq!(d.status, 0, "{}", d.stdout);
    let changed = a.replacen(
        &format!("\"received\": {received}"),
        &format!("\"received\": {}", received + 1),
        1,
    );
    std::fs::write(&sj, changed).unwrap();
    let d = cli::diff(&fx.archive, &sj, None, None, Format::Json, false).unwrap();
    assert_eq!(d.status, 1);
    let dv: serde_json::Value = serde_json::from_str(&d.stdout).unwrap();
    assert_eq!(dv["difference"]["field"], "received");
}

#[test]
fn diff_names_the_first_differing_seq_and_field() {
    let fx = fixture(10);
    let bytes = std::fs::read(&fx.archive).unwrap();
    let recs = records(&bytes);
    let mut env = recs[20].2.clone();
    env.actor.staff = "someone-else".into();
    let other = replace_record(&bytes, &recs, 20, &env);
    let p = fx.dir.path().join("other.motcua");
    std::fs::write(&p, other).unwrap();
    let d = cli::diff(&fx.archive, &p, None, None, Format::Json, false).unwrap();
    assert_eq!(d.status, 1);
    let v: serde_json::Value = serde_json::from_str(&d.stdout).unwrap();
    assert_eq!(v["difference"]["seq"], env.seq);
    assert_eq!(v["difference"]["field"], "actor");
    assert_eq!(v["compared"], 20);
}
