//! A short run of the soak binary (`src/bin/soak.rs`): the real `motcua` server under mixed
//! dossier load, SIGKILLed at least twice in ~15 s and restarted on the same data directory;
//! nothing acknowledged may be lost or duplicated and `motcua-replay verify` must be clean.
//! CI runs the two-minute version (`.ci/soak.sh`).

use std::process::Command;

use motcua_tests::workspace_bin;

/// `key=value` of the soak's last line.
fn field(line: &str, key: &str) -> String {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
        .to_owned()
}

#[test]
fn fifteen_second_soak_loses_and_duplicates_nothing() {
    let motcua = workspace_bin("motcua-http", "motcua");
    let replay = workspace_bin("motcua-replay", "motcua-replay");
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_soak"))
        .args([
            "--duration",
            "15",
            "--min-kill-ms",
            "1500",
            "--max-kill-ms",
            "3500",
        ])
        .args(["--clients", "3", "--seed", "20261127", "--data"])
        .arg(tmp.path().join("data"))
        .arg("--motcua")
        .arg(&motcua)
        .arg("--replay")
        .arg(&replay)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("soak seconds="),
        "last line {last:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(field(last, "lost"), "0", "{stdout}\n{stderr}");
    assert_eq!(field(last, "duplicated"), "0", "{stdout}\n{stderr}");
    assert_eq!(field(last, "verify_findings"), "0", "{stdout}\n{stderr}");
    let kills: u64 = field(last, "kills").parse().unwrap();
    assert!(kills >= 2, "only {kills} kills: {last}");
    let acknowledged: u64 = field(last, "acknowledged").parse().unwrap();
    assert!(acknowledged > 0, "{last}");
    let seconds: u64 = field(last, "seconds").parse().unwrap();
    assert!((15..=30).contains(&seconds), "{last}");
    assert!(
        out.status.success(),
        "exit {}\n{stdout}\n{stderr}",
        out.status
    );
}
