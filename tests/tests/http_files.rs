//! A dossier's files end to end (`docs/files.md`): uploads of real PDF, JPEG and PNG byte
//! sequences to a real server on loopback, the `dossier.file_attached` event in the log, the
//! content file on disk hashing to it, downloads and their trail, every refusal (413, 415, 422,
//! 403, 404) keeping nothing, and the sweep of unreferenced files at start.

mod http_common;

use http_common::{commune_in, config, problem, TestServer, OTHER_UNIT};
use motcua_engine::domain::events::{DossierChange, Event};
use motcua_engine::domain::files::MediaType;
use motcua_engine::domain::types::Role;
use motcua_engine::recorded::decode_event;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The upload limit of these servers (the default is 20 MiB).
const LIMIT: u64 = 64 * 1024;

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

fn jpeg() -> Vec<u8> {
    let mut v = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    v.extend_from_slice(&[0x42; 300]);
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

fn png() -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    v.extend_from_slice(
        b"\x00\x00\x00\x0DIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00",
    );
    v
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn server() -> (
    TestServer,
    std::collections::HashMap<String, String>,
    tempfile::TempDir,
) {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = config(&tmp.path().join("data"));
    c.max_file_bytes = LIMIT;
    let (s, t) = commune_in(c).await;
    (s, t, tmp)
}

async fn upload(
    s: &TestServer,
    token: &str,
    code: &str,
    query: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    s.post(&format!("/v1/dossiers/{code}/files?{query}"), token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap()
}

/// Every content file under `files/` (not the temp directory), by name.
fn content_files(s: &TestServer) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(buckets) = std::fs::read_dir(s.dir.join("files")) else {
        return out;
    };
    for b in buckets {
        let b = b.unwrap();
        if b.file_name() == "incoming" {
            continue;
        }
        for f in std::fs::read_dir(b.path()).unwrap() {
            out.push(f.unwrap().file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

fn temp_files(s: &TestServer) -> usize {
    std::fs::read_dir(s.dir.join("files").join("incoming")).map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_recorded_stored_by_content_and_downloaded_into_the_trail() {
    let (s, t, _tmp) = server().await;
    let code = s.receive(&t["tn-01"], "1.001193").await;

    // A PDF by document name, with a name that tries to leave the directory.
    let r = upload(
        &s,
        &t["tn-01"],
        &code,
        "document=T%E1%BB%9D%20khai&filename=..%2F..%2Fscan%2Ft%E1%BB%9D%20khai.pdf",
        pdf(),
    )
    .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], code.as_str());
    let f = &body["file"];
    assert_eq!(f["sha256"], sha(&pdf()));
    assert_eq!(f["size"], pdf().len() as u64);
    assert_eq!(f["media_type"], "application/pdf");
    assert_eq!(f["document"], "Tờ khai");
    assert_eq!(f["file_name"], "tờ khai.pdf");
    let seq = f["seq"].as_u64().unwrap();
    assert_eq!(seq, s.head());

    // The event in the log holds hash, size, type and document.
    let env = s.server.log().read_all(seq - 1, 1).unwrap().remove(0);
    assert_eq!(env.event_type, "dossier.file_attached");
    let Event::Dossier(ev) = decode_event(&env).unwrap() else {
        panic!("not a dossier event")
    };
    let DossierChange::FileAttached(a) = ev.change else {
        panic!("not an attachment: {:?}", ev.change)
    };
    assert_eq!(a.sha256, sha(&pdf()));
    assert_eq!(a.size, pdf().len() as u64);
    assert_eq!(a.media_type, MediaType::Pdf);
    assert_eq!(a.document, "Tờ khai");

    // The file on disk hashes to it.
    let h = sha(&pdf());
    let on_disk = std::fs::read(s.dir.join("files").join(&h[..2]).join(&h)).unwrap();
    assert_eq!(sha(&on_disk), h);

    // A JPEG by the document's number, a PNG to the first, by the assigned specialist.
    let r = upload(
        &s,
        &t["tn-01"],
        &code,
        "document=2&filename=khai%20sinh.jpg",
        jpeg(),
    )
    .await;
    assert_eq!(r.status(), 201);
    let j: Value = r.json().await.unwrap();
    assert_eq!(j["file"]["document"], "Giấy chứng sinh");
    assert_eq!(j["file"]["media_type"], "image/jpeg");
    let r = s
        .post(&format!("/v1/dossiers/{code}/actions/assign"), &t["tn-01"])
        .json(&json!({"specialist": "cm-tp-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = upload(&s, &t["cm-tp-01"], &code, "document=1", png()).await;
    assert_eq!(r.status(), 201);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["file"]["media_type"], "image/png");
    assert_eq!(p["file"]["file_name"], "tep");

    // The same bytes again: a second event, one file.
    let r = upload(&s, &t["tn-01"], &code, "document=1", pdf()).await;
    assert_eq!(r.status(), 201);
    assert_eq!(content_files(&s), {
        let mut v = vec![sha(&pdf()), sha(&jpeg()), sha(&png())];
        v.sort();
        v
    });
    assert_eq!(temp_files(&s), 0);

    // The dossier lists its four files, oldest first.
    let d = s
        .get_json(&format!("/v1/dossiers/{code}"), &t["ld-01"])
        .await;
    let files = d["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    assert_eq!(files[0]["sha256"], sha(&pdf()));
    assert_eq!(files[2]["sha256"], sha(&png()));
    let listed = s
        .get_json(&format!("/v1/dossiers/{code}/files"), &t["tn-01"])
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 4);

    // A leader downloads the JPEG: the same bytes, its type, an attachment, never cached.
    let r = s
        .get(
            &format!("/v1/dossiers/{code}/files/{}", sha(&jpeg())),
            &t["ld-01"],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"khai sinh.jpg\"; filename*=UTF-8''khai%20sinh.jpg"
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), jpeg());

    // The auditor reads the trail; reception may not.
    let trail = s.get_json("/v1/files/downloads", &t["tt-01"]).await;
    let rows = trail.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["staff"], "ld-01");
    assert_eq!(rows[0]["code"], code.as_str());
    assert_eq!(rows[0]["sha256"], sha(&jpeg()));
    assert_eq!(rows[0]["document"], "Giấy chứng sinh");
    let r = s
        .get("/v1/files/downloads", &t["tn-01"])
        .send()
        .await
        .unwrap();
    problem(r, 403, "forbidden").await;

    // A file the dossier does not name is 404, even one another dossier holds.
    let other = s.receive(&t["tn-01"], "1.001193").await;
    let r = s
        .get(
            &format!("/v1/dossiers/{other}/files/{}", sha(&jpeg())),
            &t["ld-01"],
        )
        .send()
        .await
        .unwrap();
    problem(r, 404, "not-found").await;
    let r = s
        .get(
            &format!("/v1/dossiers/{code}/files/not-a-digest"),
            &t["ld-01"],
        )
        .send()
        .await
        .unwrap();
    problem(r, 404, "not-found").await;

    // After a restart every referenced file is still there (the sweep keeps them).
    let s = s.restart().await;
    assert_eq!(content_files(&s).len(), 3);
    let r = s
        .get(
            &format!("/v1/dossiers/{code}/files/{}", sha(&pdf())),
            &t["tn-01"],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf());

    // The auditor's tool judges every attachment (reception's and the specialist's) legal and
    // finds every file.
    let dir = s.dir.clone();
    s.server.shutdown().await.unwrap();
    let (status, report) = replay_verify(&dir).await;
    assert_eq!(findings(&report), Vec::new());
    assert_eq!(status, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_uploads_change_nothing_and_keep_nothing() {
    let (s, t, _tmp) = server().await;
    let code = s.receive(&t["tn-01"], "1.001193").await;
    let head = s.head();

    // Unknown bytes, whatever the name says: 415.
    let r = upload(
        &s,
        &t["tn-01"],
        &code,
        "document=1&filename=scan.pdf",
        b"MZ\x90\x00 not a pdf".to_vec(),
    )
    .await;
    problem(r, 415, "unsupported-media-type").await;
    // Past the limit: 413, found while streaming.
    let mut big = pdf();
    big.resize(LIMIT as usize + 1, b' ');
    let r = upload(&s, &t["tn-01"], &code, "document=1", big).await;
    problem(r, 413, "payload-too-large").await;
    // An empty body, a document not in the checklist, by name or number: 422.
    let r = upload(&s, &t["tn-01"], &code, "document=1", Vec::new()).await;
    problem(r, 422, "validation").await;
    let r = upload(
        &s,
        &t["tn-01"],
        &code,
        "document=S%E1%BB%95%20h%E1%BB%99%20kh%E1%BA%A9u",
        pdf(),
    )
    .await;
    let b = problem(r, 422, "validation").await;
    assert_eq!(b["field"], "document");
    let r = upload(&s, &t["tn-01"], &code, "document=3", pdf()).await;
    problem(r, 422, "validation").await;
    let r = upload(&s, &t["tn-01"], &code, "", pdf()).await;
    problem(r, 422, "validation").await;

    // Roles and scope: a leader may not attach; reception of another unit may not; nor a
    // specialist before the dossier is assigned, nor one it is not assigned to.
    let r = upload(&s, &t["ld-01"], &code, "document=1", pdf()).await;
    problem(r, 403, "forbidden").await;
    let stranger = s.staff("tn-h06", OTHER_UNIT, &[Role::Reception], &[]).await;
    let head = head.max(s.head());
    let r = upload(&s, &stranger, &code, "document=1", pdf()).await;
    problem(r, 403, "forbidden").await;
    let r = upload(&s, &t["cm-tp-02"], &code, "document=1", pdf()).await;
    problem(r, 403, "forbidden").await;
    let r = upload(
        &s,
        &t["tn-01"],
        "000.33.22.H05-230105-9999",
        "document=1",
        pdf(),
    )
    .await;
    problem(r, 404, "not-found").await;
    assert_eq!(s.head(), head);
    assert_eq!(content_files(&s), Vec::<String>::new());
    assert_eq!(temp_files(&s), 0);

    let r = s
        .post(&format!("/v1/dossiers/{code}/actions/assign"), &t["tn-01"])
        .json(&json!({"specialist": "cm-tp-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let head = s.head();
    let r = upload(&s, &t["cm-tp-02"], &code, "document=1", pdf()).await;
    problem(r, 403, "forbidden").await;
    assert_eq!(s.head(), head);
    assert_eq!(content_files(&s), Vec::<String>::new());

    // The action route does not take a file.
    let r = s
        .post(
            &format!("/v1/dossiers/{code}/actions/attach_file"),
            &t["tn-01"],
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(r, 422, "validation").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_sweeps_temp_and_unreferenced_files_only() {
    let (s, t, _tmp) = server().await;
    let code = s.receive(&t["tn-01"], "1.001193").await;
    let r = upload(&s, &t["tn-01"], &code, "document=1", pdf()).await;
    assert_eq!(r.status(), 201);
    let dir = s.dir.clone();
    let s = {
        let TestServer { server, .. } = s;
        server.shutdown().await.unwrap();
        // What a crash leaves: a temp file, and a file renamed into place whose event never
        // came.
        std::fs::write(dir.join("files/incoming/abc.part"), b"%PDF-half").unwrap();
        let orphan = sha(&png());
        std::fs::create_dir_all(dir.join("files").join(&orphan[..2])).unwrap();
        std::fs::write(dir.join("files").join(&orphan[..2]).join(&orphan), png()).unwrap();
        let mut c = config(&dir);
        c.max_file_bytes = LIMIT;
        TestServer::start_in(c).await
    };
    assert_eq!(content_files(&s), vec![sha(&pdf())]);
    assert_eq!(temp_files(&s), 0);
}

/// Runs `motcua-replay verify DIR --format json`: (exit status, the report).
async fn replay_verify(dir: &std::path::Path) -> (i32, Value) {
    let bin = motcua_tests::workspace_bin("motcua-replay", "motcua-replay");
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(bin)
            .arg("verify")
            .arg(&dir)
            .args(["--format", "json"])
            .output()
            .expect("motcua-replay runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        (out.status.code().unwrap_or(-1), report)
    })
    .await
    .unwrap()
}

/// The findings of `report` as (seq, rule, detail).
fn findings(report: &Value) -> Vec<(u64, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["seq"].as_u64().unwrap(),
                f["rule"].as_str().unwrap().to_owned(),
                f["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_verify_names_a_missing_or_altered_file_with_its_dossier_and_seq() {
    let (s, t, _tmp) = server().await;
    let a = s.receive(&t["tn-01"], "1.001193").await;
    let b = s.receive(&t["tn-01"], "1.001193").await;
    let mut seqs = Vec::new();
    for (code, bytes) in [(&a, pdf()), (&b, pdf()), (&b, jpeg())] {
        let r = upload(&s, &t["tn-01"], code, "document=1", bytes).await;
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        seqs.push(body["file"]["seq"].as_u64().unwrap());
    }
    let dir = s.dir.clone();
    s.server.shutdown().await.unwrap();

    let (status, report) = replay_verify(&dir).await;
    assert_eq!(findings(&report), Vec::new());
    assert_eq!(status, 0);

    // The JPEG deleted: one finding, at its event, naming dossier b.
    let jpg = dir
        .join("files")
        .join(&sha(&jpeg())[..2])
        .join(sha(&jpeg()));
    std::fs::remove_file(&jpg).unwrap();
    let (status, report) = replay_verify(&dir).await;
    let f = findings(&report);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].0, f[0].1.as_str()), (seqs[2], "file_missing"));
    assert!(f[0].2.contains(&format!("dossier {b}")), "{}", f[0].2);
    assert!(f[0].2.contains(&sha(&jpeg())), "{}", f[0].2);
    assert_eq!(status, 1);
    std::fs::write(&jpg, jpeg()).unwrap();

    // The shared PDF altered by one byte: both events naming it, each with its dossier.
    let p = dir.join("files").join(&sha(&pdf())[..2]).join(sha(&pdf()));
    let mut altered = pdf();
    altered[10] ^= 1;
    std::fs::write(&p, &altered).unwrap();
    let (status, report) = replay_verify(&dir).await;
    let f = findings(&report);
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!((f[0].0, f[0].1.as_str()), (seqs[0], "file_altered"));
    assert_eq!((f[1].0, f[1].1.as_str()), (seqs[1], "file_altered"));
    assert!(f[0].2.contains(&format!("dossier {a}")), "{}", f[0].2);
    assert!(f[1].2.contains(&format!("dossier {b}")), "{}", f[1].2);
    assert!(f[0].2.contains(&sha(&altered)), "{}", f[0].2);
    assert_eq!(status, 1);
}

/// `motcua serve` on `data` as a child process: the child and its address.
fn serve_child(data: &std::path::Path) -> (std::process::Child, String) {
    use std::io::BufRead;
    let bin = motcua_tests::workspace_bin("motcua-http", "motcua");
    let mut child = std::process::Command::new(bin)
        .args([
            "serve",
            "--no-checkpoints",
            "--bind",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(data)
        .env("MOTCUA_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("exited before listening").unwrap();
        if let Some(a) = line.strip_prefix("listening on ") {
            break a.to_owned();
        }
    };
    // Keep reading so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_uploads_loses_no_acknowledged_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (s, t) = commune_in(config(&dir)).await;
    let code = s.receive(&t["tn-01"], "1.001193").await;
    s.server.shutdown().await.unwrap();

    let (mut child, addr) = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || serve_child(&dir)
    })
    .await
    .unwrap();
    // Four writers upload distinct PDFs (each 16 KiB, so some are cut mid-body) until killed.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, u64)>::new()));
    let client = reqwest::Client::new();
    let mut writers = Vec::new();
    for w in 0..4u32 {
        let (client, addr, code, token, acked) = (
            client.clone(),
            addr.clone(),
            code.clone(),
            t["tn-01"].clone(),
            acked.clone(),
        );
        writers.push(tokio::spawn(async move {
            for i in 0u32.. {
                let mut body = pdf();
                body.extend(format!("writer {w} upload {i}\n").into_bytes());
                body.resize(16 * 1024, b'%');
                let r = client
                    .post(format!("{addr}/v1/dossiers/{code}/files?document=1"))
                    .bearer_auth(&token)
                    .body(body.clone())
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => {
                        let v: Value = match r.json().await {
                            Ok(v) => v,
                            Err(_) => return,
                        };
                        let seq = v["file"]["seq"].as_u64().unwrap();
                        assert_eq!(v["file"]["sha256"], sha(&body));
                        acked.lock().unwrap().push((sha(&body), seq));
                    }
                    Ok(r) => panic!("upload refused: {}", r.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    let start = std::time::Instant::now();
    while acked.lock().unwrap().len() < 40 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "too slow"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // SAFETY-free: kill(2) with our own child's pid.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) },
        0
    );
    tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 40);

    // After a restart (and its sweep): every acknowledged upload has its event and its file,
    // whose bytes hash to it; nothing else is left.
    let mut c = config(&dir);
    c.max_file_bytes = LIMIT;
    let s = TestServer::start_in(c).await;
    let listed = s
        .get_json(&format!("/v1/dossiers/{code}/files"), &t["tn-01"])
        .await;
    let listed: Vec<(String, u64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["sha256"].as_str().unwrap().to_owned(),
                f["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    for a in &acked {
        assert!(listed.contains(a), "acknowledged {a:?} lost");
    }
    for (h, _) in &listed {
        let bytes = std::fs::read(s.dir.join("files").join(&h[..2]).join(h)).unwrap();
        assert_eq!(&sha(&bytes), h);
    }
    let mut names: Vec<String> = listed.iter().map(|(h, _)| h.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(content_files(&s), names);
    assert_eq!(temp_files(&s), 0);
    s.server.shutdown().await.unwrap();
    let (status, report) = replay_verify(&dir).await;
    assert_eq!(findings(&report), Vec::new());
    assert_eq!(status, 0);
}

/// Every file under the data directory's `files/`, temp files included.
fn all_files(s: &TestServer) -> usize {
    content_files(s).len() + temp_files(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_is_answered_before_its_body_is_read_and_writes_no_file() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (s, t, _tmp) = server().await;
    let code = s.receive(&t["tn-01"], "1.001193").await;
    let head = s.head();
    let before = all_files(&s);
    assert_eq!(before, 0);
    // A specialist the dossier is not assigned to passes the route's role check; the domain
    // refuses them. The request announces LIMIT bytes and sends only the first 5, then holds
    // the connection open: the answer must come without the body, and no file is created.
    let addr = s.base.trim_start_matches("http://").trim_end_matches('/');
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /v1/dossiers/{code}/files?document=1 HTTP/1.1\r\nhost: {addr}\r\n\
         authorization: Bearer {}\r\ncontent-type: application/octet-stream\r\n\
         content-length: {LIMIT}\r\n\r\n%PDF-",
        t["cm-tp-02"]
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read(&mut answer))
        .await
        .expect("the refusal comes before the body is sent")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    // Still holding the body back: nothing under files/, nothing recorded.
    assert_eq!(all_files(&s), before);
    assert_eq!(s.head(), head);
    drop(tcp);
}
