//! The real `motcua` binary as an operator runs it: `staff add` on a stopped data directory
//! prints a token once; `serve --bind 127.0.0.1:0` prints `listening on http://ADDR`, answers
//! with that token, and exits 0 on SIGTERM after draining; a second start reads everything back.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn motcua_bin() -> PathBuf {
    motcua_tests::workspace_bin("motcua-http", "motcua")
}

fn serve(data: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(motcua_bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("MOTCUA_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(a) = line.strip_prefix("listening on ") {
            break a.to_owned();
        }
    };
    (child, addr)
}

fn sigterm_and_wait(mut child: Child) {
    // SAFETY-free: kill(2) with our own child's pid.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn binary_serves_drains_on_sigterm_and_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = Command::new(motcua_bin())
        .args([
            "staff",
            "add",
            "--unit",
            "000.33.22.H05",
            "--role",
            "admin",
            "--name",
            "Nông Văn Quý",
            "--id",
            "qt-01",
            "--unit-name",
            "UBND xã Dương Phong",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let token = text.trim().split("token=").nth(1).unwrap().to_owned();
    assert_eq!(token.len(), 64);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (child, addr) = serve(&data);
    let client = reqwest::Client::new();
    rt.block_on(async {
        let r = client.get(format!("{addr}/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = client
            .get(format!("{addr}/v1/staff"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
    sigterm_and_wait(child);

    let (child, addr) = serve(&data);
    rt.block_on(async {
        let r = client
            .get(format!("{addr}/v1/staff"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v[0]["id"], "qt-01");
        assert_eq!(v[0]["name"], "Nông Văn Quý");
    });
    sigterm_and_wait(child);
}
