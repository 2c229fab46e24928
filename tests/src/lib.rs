//! Shared helpers for end-to-end tests.

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
