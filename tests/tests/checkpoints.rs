//! Signed checkpoints end to end: a real server signs over `POST /v1/checkpoints` (roles and
//! answers), slip 06 and the statistics page print the fingerprint, then the real `motcua` and `motcua-replay`
//! binaries sign, print and rotate keys, export, and verify the archive against the
//! checkpoints (exit status 0 clean, 1 on a finding, 2 when no key is trusted).

mod console_common;
mod http_common;

use std::path::Path;
use std::process::Command;

use http_common::commune;
use motcua_tests::{motcua, workspace_bin};
use serde_json::Value;

/// Runs `motcua-replay` with `args`: (exit status, stdout, stderr).
async fn replay(args: Vec<String>) -> (i32, String, String) {
    let bin = workspace_bin("motcua-replay", "motcua-replay");
    tokio::task::spawn_blocking(move || {
        let out = Command::new(bin)
            .args(&args)
            .output()
            .expect("motcua-replay runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("the process's thread")
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// `motcua checkpoint ...` on `data`: its stdout, success asserted.
async fn checkpoint(cmd: &str, data: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "checkpoint".to_owned(),
        cmd.to_owned(),
        "--data".into(),
        s(data),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let (ok, out, err) = motcua(args).await;
    assert!(ok, "motcua checkpoint {cmd}: {err}");
    out.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_signs_and_the_auditor_verifies_with_the_real_binaries() {
    let (srv, t) = commune().await;
    let code = srv.receive(&t["tn-01"], "1.001193").await;
    let head = srv.server.log().head().seq;
    // Before any signing the statistics page says there is none.
    let mut leader = console_common::signed_in(&srv, "ld-01").await;
    let page = leader.get("/thong-ke").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Mốc kiểm chứng: chưa có"),
        "{}",
        page.body
    );

    // Only an admin signs; the first signing makes the key and answers 201.
    let r = srv
        .post("/v1/checkpoints", &t["tt-01"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = srv
        .post("/v1/checkpoints", &t["qt-01"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["signed"], true);
    let cp = &first["checkpoint"];
    assert_eq!(cp["seq"], head);
    assert_eq!(cp["events"], head);
    assert_eq!(cp["anchor_stride"], 1);
    assert_eq!(cp["anchors"].as_array().unwrap().len() as u64, head);
    assert_eq!(cp["instance"], http_common::UNIT);
    assert_eq!(
        cp["head"],
        hex::encode(srv.server.log().head().hash),
        "the signed head is the log's chain head"
    );
    // Nothing moved: 200, not signed again, the same checkpoint.
    let r = srv
        .post("/v1/checkpoints", &t["qt-01"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let again: Value = r.json().await.unwrap();
    assert_eq!(
        (&again["signed"], &again["checkpoint"]),
        (&Value::Bool(false), cp)
    );

    // The list and the file, for auditors; a bad limit is a 422 problem, a missing seq 404.
    let list = srv.get_json("/v1/checkpoints", &t["tt-01"]).await;
    assert_eq!(list["checkpoints"].as_array().unwrap().len(), 1);
    assert_eq!(&list["checkpoints"][0], cp);
    assert_eq!(list["keys"][0]["key_id"], cp["key_id"]);
    assert_eq!(list["keys"][0]["current"], true);
    let one = srv
        .get_json(&format!("/v1/checkpoints/{head}"), &t["tt-01"])
        .await;
    assert_eq!(&one, cp);
    let r = srv
        .get("/v1/checkpoints?limit=0", &t["tt-01"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = srv
        .get("/v1/checkpoints/999999", &t["tt-01"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = srv
        .get("/v1/checkpoints/abc", &t["qt-01"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = srv
        .get("/v1/checkpoints", &t["tn-01"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Slip 06 prints the fingerprint, in HTML and JSON.
    let fingerprint = format!(
        "#{head} {} (khoá {})",
        &cp["head"].as_str().unwrap()[..16],
        cp["key_id"].as_str().unwrap()
    );
    let html = srv
        .get(
            &format!("/v1/dossiers/{code}/slips/06?format=html"),
            &t["tn-01"],
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("Mốc kiểm chứng: {fingerprint}")),
        "{html}"
    );
    let slip = srv
        .get_json(&format!("/v1/dossiers/{code}/slips/06"), &t["tn-01"])
        .await;
    assert_eq!(slip["checkpoint"], fingerprint);
    // And the statistics page, for whoever prints the report.
    let page = leader.get("/thong-ke").await;
    assert!(
        page.body
            .contains(&format!("Mốc kiểm chứng: {fingerprint}")),
        "{}",
        page.body
    );
    // The console's own slip 06 too.
    let mut desk = console_common::signed_in(&srv, "tn-01").await;
    let page = desk.get(&format!("/dossiers/{code}/slips/06")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(&format!("Mốc kiểm chứng: {fingerprint}")),
        "{}",
        page.body
    );

    let data = srv.dir.clone();
    let work = tempfile::tempdir().unwrap();
    srv.server.shutdown().await.unwrap();

    // The key the auditor keeps, printed by the stopped directory's command.
    let key_line = checkpoint("key", &data, &[]).await;
    let (old_public, old_id) = key_line.split_once(' ').unwrap();
    assert_eq!(old_public, cp["public_key"]);
    assert_eq!(old_id, cp["key_id"]);
    // The auditor's copy of the checkpoint, kept apart from the server.
    let kept_old = work.path().join("old.json");
    std::fs::copy(data.join(format!("checkpoints/{head}.json")), &kept_old).unwrap();

    // The archive carries no key, and verifies against the checkpoint.
    let archive = work.path().join("log.motcua");
    let (ok, _, err) = motcua(vec![
        "export".into(),
        "--data".into(),
        s(&data),
        "--out".into(),
        s(&archive),
    ])
    .await;
    assert!(ok, "{err}");
    let bytes = std::fs::read(&archive).unwrap();
    let secret_hex =
        std::fs::read_to_string(data.join(format!("checkpoint-keys/{old_id}.secret"))).unwrap();
    let secret = hex::decode(secret_hex.trim()).unwrap();
    assert!(!bytes.windows(32).any(|w| w == secret.as_slice()));
    assert!(!bytes.windows(64).any(|w| w == secret_hex.trim().as_bytes()));

    let verify = |cps: Vec<&Path>, keys: Vec<&str>| {
        let mut args = vec!["verify".to_owned(), s(&archive), "--no-progress".into()];
        for c in cps {
            args.extend(["--checkpoint".to_owned(), s(c)]);
        }
        for k in keys {
            args.extend(["--trusted-key".to_owned(), k.to_owned()]);
        }
        replay(args)
    };
    let (code0, out, err) = verify(vec![&kept_old], vec![old_public]).await;
    assert_eq!(code0, 0, "{out}{err}");
    // Without a trusted key the tool refuses to run.
    let (code2, _, err) = verify(vec![&kept_old], vec![]).await;
    assert_eq!(code2, 2);
    assert!(err.contains("--trusted-key"), "{err}");

    // Rotation: a new current key; checkpoints of both keys verify while both are trusted.
    let rotated = checkpoint("rotate", &data, &[]).await;
    let (new_public, new_id) = rotated.split_once(' ').unwrap();
    assert_ne!(new_public, old_public);
    assert!(!data
        .join(format!("checkpoint-keys/{old_id}.secret"))
        .exists());
    let all = checkpoint("key", &data, &["--all"]).await;
    assert!(
        all.contains(&format!("{new_public} {new_id} current")),
        "{all}"
    );
    assert!(
        all.contains(&format!("{old_public} {old_id} retired")),
        "{all}"
    );
    let signed = checkpoint("sign", &data, &[]).await;
    assert!(
        signed.contains(&format!("seq={head}")) && signed.contains(&format!("key_id={new_id}")),
        "{signed}"
    );
    assert!(signed.contains("signed=true"), "{signed}");
    let kept_new = data.join(format!("checkpoints/{head}.json"));
    let (c, out, err) = verify(vec![&kept_old, &kept_new], vec![old_public, new_public]).await;
    assert_eq!(c, 0, "{out}{err}");
    // The old key no longer trusted: its checkpoint is refused, by name.
    let (c, out, _) = verify(vec![&kept_old, &kept_new], vec![new_public]).await;
    assert_eq!(c, 1, "{out}");
    assert!(
        out.contains("checkpoint_untrusted") && out.contains(old_id),
        "{out}"
    );

    // A checkpoint file altered by hand (its head re-pointed) fails its signature.
    let mut altered: Value = serde_json::from_slice(&std::fs::read(&kept_new).unwrap()).unwrap();
    altered["head"] = Value::String("00".repeat(32));
    let altered_path = work.path().join("altered.json");
    std::fs::write(&altered_path, serde_json::to_vec(&altered).unwrap()).unwrap();
    let (c, out, _) = verify(vec![&altered_path], vec![new_public]).await;
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("checkpoint_signature"), "{out}");
}

/// `motcua serve` (the binary) on `data` with `extra` flags, until it prints its address.
fn serve(data: &Path, extra: &[&str]) -> std::process::Child {
    use std::io::BufRead;
    let mut child = Command::new(workspace_bin("motcua-http", "motcua"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .env("MOTCUA_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if line.starts_with("listening on ") {
            break;
        }
    }
    child
}

fn stop(mut child: std::process::Child) {
    // SAFETY: kill(2) with our own child's pid.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_signs_at_start_unless_told_not_to() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let keys = work.path().join("elsewhere-keys");
    let (ok, _, err) = motcua(vec![
        "staff".into(),
        "add".into(),
        "--data".into(),
        s(&data),
        "--unit".into(),
        "000.33.22.H05".into(),
        "--unit-name".into(),
        "Xã Dương Phong".into(),
        "--role".into(),
        "admin".into(),
    ])
    .await;
    assert!(ok, "{err}");

    // --no-checkpoints: nothing signed, no key made.
    stop(serve(&data, &["--no-checkpoints"]));
    assert!(!data.join("checkpoints").exists());
    assert!(!data.join("checkpoint-keys").exists());

    // By default the head is signed at start, the key kept where --checkpoint-keys says.
    let child = serve(&data, &["--checkpoint-keys", &s(&keys)]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let file = loop {
        let found = std::fs::read_dir(data.join("checkpoints"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"));
        if let Some(f) = found {
            break f;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint 30 s after start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    stop(child);
    assert!(!data.join("checkpoint-keys").exists());
    assert!(keys.join("current").is_file());

    // The file names the log's head and verifies against the export with the printed key.
    let archive = work.path().join("log.motcua");
    let (ok, out, err) = motcua(vec![
        "export".into(),
        "--data".into(),
        s(&data),
        "--out".into(),
        s(&archive),
    ])
    .await;
    assert!(ok, "{err}");
    let events: String = out
        .split_whitespace()
        .find_map(|w| w.strip_prefix("events="))
        .unwrap()
        .to_owned();
    assert_eq!(
        file.file_name().unwrap().to_string_lossy(),
        format!("{events}.json")
    );
    let key = checkpoint("key", &data, &["--keys", &s(&keys)]).await;
    let (public, _) = key.split_once(' ').unwrap();
    let (c, out, err) = replay(vec![
        "verify".into(),
        s(&archive),
        "--checkpoint".into(),
        s(&file),
        "--trusted-key".into(),
        public.into(),
    ])
    .await;
    assert_eq!(c, 0, "{out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commands_refuse_a_directory_that_is_not_a_data_directory() {
    let work = tempfile::tempdir().unwrap();
    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for cmd in ["sign", "key", "rotate"] {
        let (ok, _, err) = motcua(vec![
            "checkpoint".into(),
            cmd.into(),
            "--data".into(),
            s(&empty),
        ])
        .await;
        assert!(!ok, "{cmd}");
        assert!(err.contains("not a motcua data directory"), "{cmd}: {err}");
    }
    // Nothing was created there (no database, no key store).
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}
