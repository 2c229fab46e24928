//! Tampering with a real archive (written from a real EventLog): each alteration is detected
//! and named with the exact seq.

mod common;

use common::*;
use motcua_engine::domain::events::{Applicant, DossierChange, DossierEvent, Event, Receipt};
use motcua_engine::domain::personal::ApplicantRecord;
use motcua_engine::domain::types::{
    Channel, DossierCode, ProcedureRef, Role, Timestamp, Vnd, WorkingTime,
};
use motcua_engine::log::{ExpectedVersion, StreamId};
use motcua_replay::progress::Progress;
use motcua_replay::source::Source;
use motcua_replay::verify::{verify, Finding, VerifyOptions, VerifyReport};
use motcua_testkit::new_event;

fn run(path: &std::path::Path) -> VerifyReport {
    verify(
        Source::open(path).unwrap(),
        &VerifyOptions::default(),
        &Progress::hidden(),
    )
}

fn run_bytes(fx: &Fixture, bytes: &[u8]) -> VerifyReport {
    let p = fx.dir.path().join("tampered.motcua");
    std::fs::write(&p, bytes).unwrap();
    run(&p)
}

/// The first finding about an event (seq > 0).
fn first_event_finding(r: &VerifyReport) -> &Finding {
    r.findings
        .iter()
        .find(|f| f.seq > 0)
        .unwrap_or_else(|| panic!("no event finding: {:?}", r.findings))
}

fn has(r: &VerifyReport, seq: u64, rule: &str) -> bool {
    r.findings.iter().any(|f| f.seq == seq && f.rule == rule)
}

#[test]
fn clean_archive_and_data_dir_verify_clean() {
    let fx = fixture(40);
    let r = run(&fx.archive);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(r.events, fx.events);
    assert!(r.transitions_checked > 100);
    let d = run(&fx.data);
    assert!(d.findings.is_empty(), "{:?}", d.findings);
    assert_eq!((d.events, &d.head), (r.events, &r.head));
}

#[test]
fn flipped_byte_names_the_seq() {
    let fx = fixture(40);
    let bytes = std::fs::read(&fx.archive).unwrap();
    let recs = records(&bytes);
    let (off, len, env) = &recs[29];
    let mut bad = bytes.clone();
    // Last byte of the payload (before prev_hash and hash).
    bad[off + len - 65] ^= 0x01;
    let r = run_bytes(&fx, &bad);
    assert!(has(&r, env.seq, "hash"), "{:?}", r.findings);
    assert_eq!(first_event_finding(&r).seq, env.seq);
    assert!(has(&r, 0, "checksum"));
}

#[test]
fn deleted_event_names_the_seq() {
    let fx = fixture(40);
    let bytes = std::fs::read(&fx.archive).unwrap();
    let recs = records(&bytes);
    let (off, len, env) = &recs[40];
    let mut bad = bytes[..*off].to_vec();
    bad.extend_from_slice(&bytes[off + len..]);
    let r = run_bytes(&fx, &bad);
    let f = first_event_finding(&r);
    assert_eq!((f.seq, f.rule), (env.seq, "seq"), "{:?}", r.findings);
    assert!(has(&r, env.seq + 1, "prev_hash"));
    assert!(has(&r, 0, "trailer_count"));
}

#[test]
fn swapped_events_name_the_seq() {
    let fx = fixture(40);
    let bytes = std::fs::read(&fx.archive).unwrap();
    let recs = records(&bytes);
    let (a_off, a_len, a) = &recs[50];
    let (b_off, b_len, _) = &recs[51];
    let mut bad = bytes[..*a_off].to_vec();
    bad.extend_from_slice(&bytes[*b_off..b_off + b_len]);
    bad.extend_from_slice(&bytes[*a_off..a_off + a_len]);
    bad.extend_from_slice(&bytes[b_off + b_len..]);
    let r = run_bytes(&fx, &bad);
    let f = first_event_finding(&r);
    assert_eq!((f.seq, f.rule), (a.seq, "seq"), "{:?}", r.findings);
}

#[test]
fn truncated_archive_names_the_seq() {
    let fx = fixture(40);
    let bytes = std::fs::read(&fx.archive).unwrap();
    let recs = records(&bytes);
    let (off, len, env) = &recs[60];
    let r = run_bytes(&fx, &bytes[..off + len / 2]);
    assert!(has(&r, env.seq, "truncated"), "{:?}", r.findings);
    assert_eq!(r.events, env.seq - 1);
    // Cut inside the trailer: every event is there, the end is not.
    let r = run_bytes(&fx, &bytes[..bytes.len() - 10]);
    assert!(has(&r, fx.events + 1, "truncated"), "{:?}", r.findings);
}

#[test]
fn forged_prev_hash_with_a_correct_looking_hash_names_the_seq() {
    let fx = fixture(40);
    let bytes = std::fs::read(&fx.archive).unwrap();
    let recs = records(&bytes);
    let mut env = recs[70].2.clone();
    env.prev_hash = [0x5a; 32];
    env.hash = env.compute_hash();
    let mut bad = replace_record(&bytes, &recs, 70, &env);
    reseal(&mut bad);
    let r = run_bytes(&fx, &bad);
    let f = first_event_finding(&r);
    assert_eq!((f.seq, f.rule), (env.seq, "prev_hash"), "{:?}", r.findings);
    assert!(!has(&r, env.seq, "hash"));
}

#[test]
fn rehashed_suffix_is_caught_by_the_trailer_head() {
    let fx = fixture(40);
    let bytes = std::fs::read(&fx.archive).unwrap();
    let recs = records(&bytes);
    // Change an actor and re-hash the whole suffix so the chain itself is consistent.
    let mut out = bytes.clone();
    let mut prev = recs[79].2.hash;
    let mut envs: Vec<_> = recs.iter().map(|r| r.2.clone()).collect();
    envs[80].actor.staff = "forger".into();
    for env in envs.iter_mut().skip(80) {
        env.prev_hash = prev;
        env.hash = env.compute_hash();
        prev = env.hash;
    }
    for i in (80..recs.len()).rev() {
        out = replace_record(&out, &recs, i, &envs[i]);
    }
    reseal(&mut out);
    let r = run_bytes(&fx, &out);
    // The re-hashed chain is consistent: only the trailer's head gives it away, and the forged
    // actor, whom the staff directory does not know, is named by the domain layer.
    let found: Vec<(u64, &str)> = r.findings.iter().map(|f| (f.seq, f.rule)).collect();
    assert_eq!(
        found,
        [(envs[80].seq, "actor"), (fx.events, "trailer_head")],
        "{:?}",
        r.findings
    );
    // With the head known independently, even a re-written trailer is caught.
    let head = hex::decode(run(&fx.archive).head).unwrap();
    let r = verify(
        Source::open(&fx.dir.path().join("tampered.motcua")).unwrap(),
        &VerifyOptions {
            chain_only: false,
            expect_head: Some(head.try_into().unwrap()),
        },
        &Progress::hidden(),
    );
    assert!(has(&r, fx.events, "expected_head"));
}

#[test]
fn forbidden_transition_written_straight_into_the_log_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = runtime();
    let (log, clock) = open_log(&data);
    append_all(&rt, &log, &clock, &history(5));
    let code: DossierCode = "000.00.00.G10-230301-0001".parse().unwrap();
    let stream = StreamId::dossier(&code);
    let at = Timestamp(1_677_636_000_000); // 2023-03-01 09:00 +07:00
    let received = Event::Dossier(DossierEvent {
        code: code.clone(),
        at,
        change: DossierChange::Received(Receipt {
            procedure: ProcedureRef {
                id: "0.00000".parse().unwrap(),
                version: 1,
            },
            procedure_name: "test".into(),
            field: "ho-tich".parse().unwrap(),
            unit: code.unit(),
            channel: Channel::Desk,
            workflow: "standard".parse().unwrap(),
            rule_set: "nd61-2018".parse().unwrap(),
            applicant: ApplicantRecord::Clear(Applicant {
                name: "Nguyễn Văn A".into(),
                id_number: "001".into(),
                phone: String::new(),
                address: String::new(),
            }),
            documents: vec![],
            processing_time: WorkingTime::WorkingDays(3),
            clock_start: at,
            due: Timestamp(at.0 + 6 * 86_400_000),
            lookup_secret: motcua_engine::domain::SecretDigest::Argon2id {
                salt: [0; 16],
                hash: [0; 32],
            },
            fees: Vnd(0),
        }),
    });
    // A leader approving a dossier nobody processed: illegal from Received.
    let approved = Event::Dossier(DossierEvent {
        code: code.clone(),
        at: Timestamp(at.0 + 3_600_000),
        change: DossierChange::Approved { note: "ký".into() },
    });
    clock.set(at.0);
    rt.block_on(log.append(
        &stream,
        ExpectedVersion::NoStream,
        vec![new_event("tn-01", Role::Reception, &received)],
    ))
    .unwrap();
    let bad = rt
        .block_on(log.append(
            &stream,
            ExpectedVersion::Exact(1),
            vec![new_event("ld-01", Role::Leader, &approved)],
        ))
        .unwrap();
    let path = dir.path().join("a.motcua");
    export(&log, &path);
    rt.block_on(log.close()).unwrap();
    let r = run(&path);
    let f = r
        .findings
        .iter()
        .find(|f| f.rule == "transition")
        .unwrap_or_else(|| panic!("{:?}", r.findings));
    assert_eq!(f.seq, bad.first_seq);
    assert_eq!(f.stream.as_deref(), Some(stream.as_str()));
    assert!(f.detail.contains("from Received"), "{}", f.detail);
}
