//! Crypto-shredding end to end, on the demo commune and a real server: an applicant's personal
//! data is sealed in the log (the stored payloads and the auditor's archive hold no plaintext);
//! staff read it opened; an admin erases one person at their request, or everyone whose
//! retention ended; afterwards every page, slip and answer reads "(đã xoá)", every figure is
//! unchanged, the erasure is in the log for auditors, and the auditor's verifier still finds the
//! log whole. Also: only admins erase, and a second erasure finds nobody.

mod http_common;

use http_common::{commune, problem, TestServer};
use motcua_engine::domain::events::{DossierChange, DossierEvent, Event};
use motcua_engine::domain::personal::{ErasureReason, PersonalEvent, SubjectId};
use motcua_engine::domain::types::{Role, Timestamp};
use motcua_engine::log::{ExpectedVersion, StreamId};
use motcua_engine::recorded::decode_event;
use motcua_replay::progress::Progress;
use motcua_replay::source::Source;
use motcua_replay::verify::{verify, VerifyOptions};
use motcua_testkit::new_event;
use motcua_tests::motcua;
use serde_json::{json, Value};

const NAME: &str = "Phạm Thị Riêng";
const ID_NUMBER: &str = "001199054321";
const ERASED: &str = "(đã xoá)";

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn receive_for(s: &TestServer, token: &str, name: &str, id_number: &str) -> String {
    s.receive_for(
        token,
        json!({"name": name, "id_number": id_number, "phone": "0987000111",
               "address": "xóm Bí Mật, xã Dương Phong"}),
    )
    .await
}

async fn stats(s: &TestServer, token: &str) -> Value {
    s.get_json(
        "/v1/stats?from=2023-01-01&to=2023-08-31&channel=desk",
        token,
    )
    .await
}

async fn archive(s: &TestServer, token: &str) -> Vec<u8> {
    let r = s.get("/v1/export", token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_person_reads_as_erased_everywhere_and_every_figure_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::demo_in(&tmp.path().join("data")).await;
    let (admin, desk, auditor) = (
        s.demo_token("admin"),
        s.demo_token("reception"),
        s.demo_token("auditor"),
    );
    let code = receive_for(&s, &desk, NAME, ID_NUMBER).await;
    let other = receive_for(&s, &desk, "Đỗ Văn Khác", "001199054322").await;

    // Sealed at rest: neither the stored payload nor the auditor's archive holds the name or
    // the identity number; staff read them opened.
    let envs = s
        .server
        .log()
        .read_stream(&StreamId::dossier(&code.parse().unwrap()), 0)
        .unwrap();
    assert!(!contains(&envs[0].payload, NAME) && !contains(&envs[0].payload, ID_NUMBER));
    let before_archive = archive(&s, &auditor).await;
    assert!(!contains(&before_archive, NAME) && !contains(&before_archive, ID_NUMBER));
    let view = s.get_json(&format!("/v1/dossiers/{code}"), &desk).await;
    assert_eq!(view["applicant"]["name"], NAME);
    assert_eq!(view["applicant"]["id_number"], ID_NUMBER);
    assert!(!view["history"].to_string().contains(NAME));
    let slip = s
        .get_json(&format!("/v1/dossiers/{code}/slips/01"), &desk)
        .await;
    assert_eq!(slip["content"]["applicant"]["name"], NAME);
    let figures_before = stats(&s, &auditor).await;

    // Only an admin erases; an unknown person is a 404; a malformed number a 422.
    let erase = |token: &str, id: &str| {
        s.post("/v1/personal/erasures", token)
            .json(&json!({"id_number": id, "note": "đơn đề nghị số 12/2026"}))
            .send()
    };
    problem(erase(&desk, ID_NUMBER).await.unwrap(), 403, "forbidden").await;
    problem(erase(&auditor, ID_NUMBER).await.unwrap(), 403, "forbidden").await;
    problem(
        erase(&admin, "001199099999").await.unwrap(),
        404,
        "not-found",
    )
    .await;
    problem(
        erase(&admin, "00119 9<x>").await.unwrap(),
        422,
        "validation",
    )
    .await;
    let head_before = s.head();
    let r = erase(&admin, ID_NUMBER).await.unwrap();
    assert_eq!(r.status(), 200);
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["count"], 1);
    let subject = done["erased"][0].as_str().unwrap().to_owned();
    assert_eq!(subject.len(), 32);
    assert!(!done.to_string().contains(ID_NUMBER));
    problem(erase(&admin, ID_NUMBER).await.unwrap(), 404, "not-found").await;

    // Erased everywhere the person was shown; the other person is untouched.
    let view = s.get_json(&format!("/v1/dossiers/{code}"), &desk).await;
    for field in ["name", "id_number", "phone", "address"] {
        assert_eq!(view["applicant"][field], ERASED, "{field}");
    }
    let slip = s
        .get_json(&format!("/v1/dossiers/{code}/slips/01"), &desk)
        .await;
    assert_eq!(slip["content"]["applicant"]["name"], ERASED);
    let html = s
        .get(&format!("/v1/dossiers/{code}/slips/06?format=html"), &desk)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(ERASED) && !html.contains(NAME), "{html}");
    let view = s.get_json(&format!("/v1/dossiers/{other}"), &desk).await;
    assert_eq!(view["applicant"]["name"], "Đỗ Văn Khác");

    // The erasure is in the log for auditors: who, when, why, the pseudonym only.
    let page = s
        .get_json(
            &format!("/v1/events?after={head_before}&limit=1000"),
            &auditor,
        )
        .await;
    let erasures: Vec<&Value> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "personal.erased")
        .collect();
    assert_eq!(erasures.len(), 1);
    assert_eq!(erasures[0]["role"], "admin");
    assert_eq!(erasures[0]["stream"], format!("personal/{subject}"));
    assert!(erasures[0].to_string().contains("Request"));

    // Every figure is as before; the archive still holds the sealed bytes (nothing rewritten),
    // which nobody can open now.
    assert_eq!(stats(&s, &auditor).await, figures_before);
    let after_archive = archive(&s, &auditor).await;
    assert!(after_archive.len() > before_archive.len());
    assert!(!contains(&after_archive, NAME));

    // A retention sweep: the demo's 2023 dossiers were sealed in 2023, today's two were not.
    let sweep = |before: &str| {
        s.post("/v1/personal/retention-sweeps", &admin)
            .json(&json!({"sealed_before": before, "note": "hết thời hạn bảo quản"}))
            .send()
    };
    problem(sweep("2999-01-01").await.unwrap(), 422, "validation").await;
    let r = sweep("2024-01-01").await.unwrap();
    assert_eq!(r.status(), 200);
    let swept: Value = r.json().await.unwrap();
    let n = swept["count"].as_u64().unwrap();
    assert!(n > 100, "{swept}");
    assert_eq!(swept["more"], false);
    let again: Value = sweep("2024-01-01").await.unwrap().json().await.unwrap();
    assert_eq!(again["count"], 0);
    assert_eq!(stats(&s, &auditor).await, figures_before);
    let view = s.get_json(&format!("/v1/dossiers/{other}"), &desk).await;
    assert_eq!(view["applicant"]["name"], "Đỗ Văn Khác");

    // After a restart: still erased, and the verifier finds the log whole.
    let s = s.restart().await;
    let view = s.get_json(&format!("/v1/dossiers/{code}"), &desk).await;
    assert_eq!(view["applicant"]["name"], ERASED);
    assert_eq!(stats(&s, &auditor).await, figures_before);
    let dir = s.dir.clone();
    s.server.shutdown().await.unwrap();
    let source = Source::open(&dir).unwrap();
    let report = verify(
        source,
        &VerifyOptions::default(),
        &Progress::new(None, "verify", false),
    );
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

/// The subject a dossier's receipt is sealed for, read from the log.
fn subject_of(s: &TestServer, code: &str) -> SubjectId {
    let envs = s
        .server
        .log()
        .read_stream(&StreamId::dossier(&code.parse().unwrap()), 0)
        .unwrap();
    match decode_event(&envs[0]).unwrap() {
        Event::Dossier(DossierEvent {
            change: DossierChange::Received(r),
            ..
        }) => r.applicant.subject().expect("sealed"),
        other => panic!("{other:?}"),
    }
}

fn erasure(subject: SubjectId) -> Event {
    Event::Personal(PersonalEvent::Erased {
        subject,
        reason: ErasureReason::Request,
        note: String::new(),
        at: Timestamp(1_780_000_000_000),
    })
}

/// An erasure in the log whose key outlived it (a crash between the record and the key's
/// destruction) is finished at the next start; an erasure recorded under another role than
/// admin is a finding of the auditor's verifier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_erasure_is_finished_at_start_and_a_forged_one_is_found() {
    let (s, t) = commune().await;
    let code = s.receive(&t["tn-01"], "1.001193").await;
    let forged_code = receive_for(&s, &t["tn-01"], NAME, ID_NUMBER).await;
    let subject = subject_of(&s, &code);
    let forged_subject = subject_of(&s, &forged_code);
    for (subject, role) in [(subject, Role::Admin), (forged_subject, Role::Reception)] {
        s.server
            .log()
            .append(
                &StreamId::personal(&subject),
                ExpectedVersion::Any,
                vec![new_event("qt-01", role, &erasure(subject))],
            )
            .await
            .unwrap();
    }
    // The key still opens while this server has not caught up; after a restart it is gone.
    let s = s.restart().await;
    let view = s
        .get_json(&format!("/v1/dossiers/{code}"), &t["tn-01"])
        .await;
    assert_eq!(view["applicant"]["name"], ERASED);
    let dir = s.dir.clone();
    s.server.shutdown().await.unwrap();
    let report = verify(
        Source::open(&dir).unwrap(),
        &VerifyOptions::default(),
        &Progress::new(None, "verify", false),
    );
    let rules: Vec<&str> = report.findings.iter().map(|f| f.rule).collect();
    assert_eq!(rules, vec!["role"], "{:?}", report.findings);
    assert!(report.findings[0].detail.contains("erase_personal_data"));
}

fn arg(p: &std::path::Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// The keys' own backup procedure, with the real `motcua` process: the log's archive holds no
/// key, so a restore alone reads every applicant as erased; the encrypted key backup brings
/// them back, except a person erased after the key backup was taken; a wrong passphrase and
/// a second import are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_backup_restores_names_but_never_an_erased_person() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (s, t) = http_common::commune_in(http_common::config(&dir)).await;
    let kept = receive_for(&s, &t["tn-01"], "Vũ Thị Còn", "001199054323").await;
    let gone = receive_for(&s, &t["tn-01"], NAME, ID_NUMBER).await;
    s.server.shutdown().await.unwrap();

    let pass = tmp.path().join("pass");
    std::fs::write(&pass, "một câu mật khẩu dài\n").unwrap();
    let short = tmp.path().join("short");
    std::fs::write(&short, "ngắn\n").unwrap();
    let keys = tmp.path().join("keys.bak");
    let export = |p: &std::path::Path| {
        vec![
            "keys".into(),
            "export".into(),
            "--data".into(),
            arg(&dir),
            "--out".into(),
            arg(&keys),
            "--passphrase-file".into(),
            arg(p),
        ]
    };
    let (ok, _, err) = motcua(export(&short)).await;
    assert!(!ok && err.contains("at least 12 characters"), "{err}");
    let (ok, out, err) = motcua(export(&pass)).await;
    assert!(ok, "{err}");
    assert!(out.contains("keys=2"), "{out}");
    let file = std::fs::read(&keys).unwrap();
    assert!(!contains(&file, NAME) && !contains(&file, ID_NUMBER));

    // The person is erased after the key backup; the archive is taken after that.
    let s = TestServer::start_in(http_common::config(&dir)).await;
    let r = s
        .post("/v1/personal/erasures", &t["qt-01"])
        .json(&json!({"id_number": ID_NUMBER}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = archive(&s, &t["qt-01"]).await;
    s.server.shutdown().await.unwrap();
    let archive_file = tmp.path().join("log.archive");
    std::fs::write(&archive_file, &bytes).unwrap();

    let restored = tmp.path().join("restored");
    let (ok, _, err) = motcua(vec![
        "restore".into(),
        "--from".into(),
        arg(&archive_file),
        "--data".into(),
        arg(&restored),
    ])
    .await;
    assert!(ok, "{err}");
    let import = |p: &std::path::Path| {
        vec![
            "keys".into(),
            "import".into(),
            "--data".into(),
            arg(&restored),
            "--from".into(),
            arg(&keys),
            "--passphrase-file".into(),
            arg(p),
        ]
    };
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, "một câu mật khẩu khác\n").unwrap();
    let (ok, _, err) = motcua(import(&wrong)).await;
    assert!(!ok && err.contains("wrong passphrase"), "{err}");
    let (ok, out, err) = motcua(import(&pass)).await;
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        "keys_loaded=1 keys_skipped_erased=1 dossiers_indexed=1"
    );
    let (ok, _, err) = motcua(import(&pass)).await;
    assert!(!ok && err.contains("already holds keys"), "{err}");

    let s = TestServer::start_in(http_common::config(&restored)).await;
    let view = s
        .get_json(&format!("/v1/dossiers/{kept}"), &t["tn-01"])
        .await;
    assert_eq!(view["applicant"]["name"], "Vũ Thị Còn");
    let view = s
        .get_json(&format!("/v1/dossiers/{gone}"), &t["tn-01"])
        .await;
    assert_eq!(view["applicant"]["name"], ERASED);
    s.server.shutdown().await.unwrap();
}
