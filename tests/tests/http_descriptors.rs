//! Running out of file descriptors (issue 16, item 2), with the real `motcua` binary: its limit
//! on open files is set to 300 (soft and hard, so it cannot raise it), then a client opens 400
//! idle sockets and keeps them open. Before, the sockets took every descriptor, the log's next
//! flush failed with "Too many open files" and the server stayed fail-stopped until restarted.
//! Now the server holds at most `limit - FD_RESERVE` connections, closes the idle ones, and a
//! write sent while the client still holds all 400 sockets is acknowledged; the log never fails.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const FD_LIMIT: libc::rlim_t = 300;
const IDLE_SOCKETS: usize = 400;

/// Starts `motcua serve --demo` with its descriptor limit at [`FD_LIMIT`] and a one-second idle
/// timeout; returns the child, its address and the reception token the demo printed.
fn serve_with_few_descriptors(data: &std::path::Path) -> (Child, String, String) {
    let mut cmd = Command::new(motcua_tests::workspace_bin("motcua-http", "motcua"));
    cmd.args([
        "serve",
        "--demo",
        "--bind",
        "127.0.0.1:0",
        "--idle-timeout-secs",
        "1",
    ])
    .arg("--data")
    .arg(data)
    .env("MOTCUA_LOG", "warn")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe; the closure touches only its own stack.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: FD_LIMIT,
                rlim_max: FD_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn motcua");
    let stdout = child.stdout.take().expect("stdout");
    let mut token = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("stdout line");
        if line.starts_with("demo-token role=reception ") {
            token = line.split("token=").nth(1).map(str::to_owned);
        }
        if let Some(addr) = line.strip_prefix("listening on ") {
            return (child, addr.to_owned(), token.expect("a reception token"));
        }
    }
    let status = child.wait();
    panic!("server exited before listening: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_past_the_descriptor_limit_never_stop_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, base, token) = serve_with_few_descriptors(&tmp.path().join("data"));
    let host = base.trim_start_matches("http://").to_owned();
    let idle: Vec<TcpStream> = (0..IDLE_SOCKETS)
        .map(|_| TcpStream::connect(&host).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(500));

    // A receipt, sent while all 400 sockets are still open on the client's side.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    let body = json!({
        "procedure": "1.001193",
        "applicant": {"name": "Hoàng Văn Nam", "id_number": "006090001234",
                      "phone": "0912345678", "address": "thôn Nà Pài, xã Dương Phong"},
        "documents": ["Tờ khai"]
    });
    let started = Instant::now();
    let r = client
        .post(format!("{base}/v1/dossiers"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect("the server answers while the sockets are held");
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    eprintln!("receipt acknowledged after {:?}", started.elapsed());

    let ready: Value = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["log_failed"], false, "{ready}");
    assert_eq!(ready["ready"], true, "{ready}");
    drop(idle);

    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}
