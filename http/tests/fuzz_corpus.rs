//! Replays the committed fuzz corpus of the `json_bodies` target (`fuzz/corpus/json_bodies`) as
//! ordinary tests, through exactly the property function the fuzz target calls (the same source
//! file, included by path): every body the fuzzer kept and every crash it once found is parsed
//! again, as the handlers parse it, on each CI run.
//!
//! `write_seeds` (ignored) regenerates the valid seeds: one well-formed body per action and per
//! body type.

#[path = "../../fuzz/src/json_bodies.rs"]
mod json_bodies;

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use motcua_engine::domain::events::{CatalogEvent, Event};
use motcua_engine::domain::Action;
use motcua_http::routes::reference::IssueBody;
use motcua_testkit::synth::{catalog_events, SynthConfig};
use serde_json::json;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/json_bodies")
}

#[test]
fn json_bodies_corpus_replays_cleanly() {
    let dir = corpus_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 20, "corpus too small: {}", files.len());
    let mut valid = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).unwrap();
        let out = json_bodies::check(&bytes);
        // The hand-written seeds are valid bodies: they must keep parsing, and every action's
        // seed must give its command.
        if name.starts_with("ok-") {
            let out = out.unwrap_or_else(|| panic!("{name}: empty"));
            assert_eq!(out.parsed, Ok(()), "{name}");
            // Submitting online and attaching a file have routes of their own: the action
            // route refuses both.
            let own_route = name.contains("submit_online") || name.contains("attach_file");
            if out.kind == "action" && !own_route {
                assert!(
                    matches!(out.command, Some(Ok(_))),
                    "{name}: {:?}",
                    out.command
                );
            }
            valid += 1;
        }
        // Fuzzer find: a procedure whose slugs bypass their parsers must be refused (422).
        if name.starts_with("regress-issue-") {
            let b: IssueBody = serde_json::from_slice(&bytes[1..]).unwrap();
            let e = b.validate().unwrap_err();
            assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        }
    }
    assert_eq!(
        valid,
        Action::ALL.len() + 4,
        "one valid seed per action and body type"
    );
}

/// Regenerates the valid seeds: `cargo test -p motcua-http --test fuzz_corpus -- --ignored`.
#[test]
#[ignore]
fn write_seeds() {
    let out = corpus_dir();
    std::fs::create_dir_all(&out).unwrap();
    let write = |name: &str, sel: u8, body: serde_json::Value| {
        let mut bytes = vec![sel];
        bytes.extend(serde_json::to_vec_pretty(&body).unwrap());
        std::fs::write(out.join(name), bytes).unwrap();
    };
    for (i, action) in Action::ALL.iter().enumerate() {
        let body = match action {
            Action::GuideToComplete => json!({"missing": ["Bản sao CCCD"], "note": "bổ sung"}),
            Action::RefuseToReceive | Action::Stop => {
                json!({"reason": "không thuộc thẩm quyền", "legal_basis": "Điều 19 NĐ 61/2018"})
            }
            Action::Assign => json!({"specialist": "cm-01", "note": "xử lý"}),
            Action::RequestSupplement => json!({"items": ["Giấy khai sinh"], "reason": "thiếu"}),
            Action::Forward => json!({"agency": "UBND huyện", "note": "liên thông"}),
            Action::RequestPayment => json!({"amount": 30000}),
            Action::RecordPayment => json!({"receipt_number": "BL-0001"}),
            Action::SubmitForSigning => json!({"draft": "refusal", "note": "trình ký"}),
            Action::SignRefusal => json!({"reasons": "hồ sơ không hợp lệ"}),
            Action::SendBack => json!({"comments": "sửa lại"}),
            Action::Apologise => {
                json!({"reason": "quá hạn", "new_appointment": "2023-01-12T17:00:00+07:00"})
            }
            Action::Withdraw => json!({"reason": "công dân rút hồ sơ"}),
            _ => json!({"note": "ok"}),
        };
        let sel = json_bodies::selector(0, i);
        write(
            &format!("ok-action-{:02}-{}", i, action.as_str()),
            sel,
            body,
        );
    }
    write(
        "ok-new_dossier",
        json_bodies::selector(1, 0),
        json!({
            "procedure": "2.001035",
            "unit": "000.33.22.H05",
            "channel": "desk",
            "applicant": {"name": "Nguyễn Văn An", "id_number": "001203004567",
                          "phone": "0912345678", "address": "Thôn 1"},
            "documents": ["Bản chính giấy tờ"],
            "action": "receive",
            "note": "tiếp nhận"
        }),
    );
    write(
        "ok-calendar",
        json_bodies::selector(2, 0),
        json!({"year": 2023, "days_off": ["2023-01-02", "2023-01-20"],
               "makeup_working_days": ["2023-01-14"], "note": "Tết"}),
    );
    let procedure = catalog_events(&SynthConfig::demo(1))
        .into_iter()
        .find_map(|e| match e.event {
            Event::Catalog(CatalogEvent::ProcedureIssued { procedure, .. }) => Some(procedure),
            _ => None,
        })
        .unwrap();
    write(
        "ok-issue",
        json_bodies::selector(3, 0),
        json!({"procedure": procedure, "effective": "2023-01-01",
               "publish_at_desk": true, "publish_online": false}),
    );
    write(
        "ok-new_staff",
        json_bodies::selector(4, 0),
        json!({"id": "tn-02", "name": "Trần Thị Bình", "unit": "000.33.22.H05",
               "roles": ["reception"], "fields": ["chung-thuc"]}),
    );
}
