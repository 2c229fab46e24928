//! The real `motcua` binary as an operator runs it: `staff add` on a stopped data directory
//! prints a token once; `serve --bind 127.0.0.1:0` prints `listening on http://ADDR`, answers
//! with that token, and exits 0 on SIGTERM after draining; a second start reads everything back;
//! its request log names paths, never a query's lookup secret.

use std::io::{BufRead, BufReader, Read, Write};
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

/// `GET /v1/staff` as `token`, as JSON.
async fn staff_list(client: &reqwest::Client, addr: &str, token: &str) -> serde_json::Value {
    client
        .get(format!("{addr}/v1/staff"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
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

/// Registers the admin `qt-01` on the stopped data directory `data`; returns their token.
fn add_admin(data: &std::path::Path) -> String {
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
        .arg(data)
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
    token
}

#[test]
fn binary_serves_drains_on_sigterm_and_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let token = add_admin(&data);

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
        let v = staff_list(&client, &addr, &token).await;
        assert_eq!(v[0]["id"], "qt-01");
        assert_eq!(v[0]["name"], "Nông Văn Quý");
    });
    sigterm_and_wait(child);
}

#[test]
fn the_request_log_keeps_paths_and_never_a_lookup_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log_path = tmp.path().join("stderr.log");
    let mut child = Command::new(motcua_bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("MOTCUA_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(a) = line.strip_prefix("listening on ") {
            break a.to_owned();
        }
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    rt.block_on(async {
        for url in [
            format!("{addr}/v1/lookup/000.33.22.H05-230101-0001?secret=SECRETQRST"),
            format!("{addr}/tra-cuu?ma=000.33.22.H05-230101-0001&mk=SECRETWXYZ"),
        ] {
            let r = client.get(url).send().await.unwrap();
            assert_eq!(r.status(), 404);
        }
    });
    sigterm_and_wait(child);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("/tra-cuu"), "the request was traced: {log}");
    assert!(
        log.contains("/v1/lookup/000.33.22.H05-230101-0001"),
        "{log}"
    );
    assert!(!log.contains("SECRET"), "a secret in the log: {log}");
}

#[test]
fn sigterm_cuts_a_stalled_upload_and_keeps_every_acknowledged_write() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let token = add_admin(&data);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    let (child, addr) = serve(&data);
    // Acknowledged writes before the signal.
    let ids = ["tn-11", "tn-12", "tn-13"];
    rt.block_on(async {
        for id in ids {
            let r = client
                .post(format!("{addr}/v1/staff"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"id": id, "name": "Tiếp nhận", "roles": ["reception"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201, "{id}");
        }
    });
    // A client sends the head of a write and half of its body, then stalls.
    let host = addr.strip_prefix("http://").unwrap();
    let mut stalled = std::net::TcpStream::connect(host).unwrap();
    let head = format!(
        "POST /v1/staff HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n{{\"id\": \"tn-"
    );
    stalled.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The drain timeout is 10 s; the upload grace 1 s: the process exits well before 10 s.
    let t0 = Instant::now();
    sigterm_and_wait(child);
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    // The stalled client was answered 503 and its connection closed.
    stalled
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = String::new();
    stalled.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("/problems/shutting-down"), "{answer}");
    // Every acknowledged write is in the log.
    let (child, addr) = serve(&data);
    rt.block_on(async {
        let v = staff_list(&client, &addr, &token).await;
        for id in ids {
            assert!(
                v.as_array().unwrap().iter().any(|s| s["id"] == id),
                "{id} missing: {v}"
            );
        }
        assert_eq!(v.as_array().unwrap().len(), 4, "{v}");
    });
    sigterm_and_wait(child);
}
