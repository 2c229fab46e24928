//! Shared helpers for end-to-end tests.

pub mod synth_archive;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// A binary of a workspace package (`motcua`, `motcua-replay`, ...) next to the running test's
/// profile directory, built once per test process (cargo builds only the tested package's own
/// binaries for its tests; building once also keeps concurrent tests from relinking a binary
/// another test is starting). `CARGO_BIN_EXE_<name>`, when set, names it instead.
pub fn workspace_bin(package: &str, name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Mutex::default);
    let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = built.get(name) {
        return p.clone();
    }
    let bin = build_bin(package, name);
    built.insert(name.to_owned(), bin.clone());
    bin
}

fn build_bin(package: &str, name: &str) -> PathBuf {
    if let Ok(p) = std::env::var(format!("CARGO_BIN_EXE_{name}")) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>/deps");
    if let Ok(cargo) = std::env::var("CARGO") {
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", package, "--bin", name]);
        if profile_dir.file_name().and_then(|n| n.to_str()) == Some("release") {
            cmd.arg("--release");
        }
        let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
        assert!(ok, "building {name}");
    }
    let bin = profile_dir.join(name);
    assert!(
        bin.exists(),
        "{} missing: cargo build -p {package} --bin {name}",
        bin.display()
    );
    bin
}

/// Runs the `motcua` binary with `args` to completion, off the async runtime, its log quiet:
/// (success, stdout, stderr).
pub async fn motcua(args: Vec<String>) -> (bool, String, String) {
    let bin = workspace_bin("motcua-http", "motcua");
    let run = move || {
        let out = Command::new(bin)
            .args(&args)
            .env("MOTCUA_LOG", "warn")
            .output()
            .expect("the motcua binary runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    tokio::task::spawn_blocking(run)
        .await
        .expect("the motcua process's thread")
}
