//! `verify` and `history` on a history written by the real `CommandService` (not the synthetic
//! generator): a commune seeded with reference commands, dossiers run through their course by
//! staff commands. The due dates are the service's, so a clean verify here means the checker
//! agrees with the server; a receipt with a wrong due appended behind the service's back is
//! named with its exact seq. A workflow rule changed in a test-only workflow file changes the
//! verdict on the same history, through the same entry point, with no change to replay.

mod common;

use chrono::NaiveDate;
use common::*;
use motcua_engine::domain::calendar::{at_local, demo_year_2023};
use motcua_engine::domain::dossier::{decide, fold, ActorRef, Command, Context, Intake};
use motcua_engine::domain::events::{
    Applicant, DossierChange, DossierEvent, DraftKind, Event, FieldInfo, Level, Procedure, UnitInfo,
};
use motcua_engine::domain::personal::ApplicantRecord;
use motcua_engine::domain::rules::RuleSets;
use motcua_engine::domain::types::{Channel, DossierCode, Role, Staff, Timestamp, WorkingTime};
use motcua_engine::domain::{DomainError, ReferenceData};
use motcua_engine::log::{EventLog, ExpectedVersion, LogConfig, StreamId};
use motcua_engine::reference_files::load_workflows;
use motcua_engine::service::{Authority, CommandService, ReferenceCommand};
use motcua_replay::history;
use motcua_replay::progress::Progress;
use motcua_replay::source::Source;
use motcua_replay::verify::{verify, verify_with, VerifyOptions, VerifyReport};
use motcua_testkit::new_event;

const UNIT: &str = "000.00.00.G10";
const P_STD: &str = "1.001193";
const P_SAME: &str = "2.000908";

fn t(m: u32, d: u32, hh: u32, mm: u32) -> Timestamp {
    at_local(2023, m, d, hh, mm).unwrap()
}

fn staff(id: &str, role: Role, fields: &[&str]) -> ActorRef {
    ActorRef::Staff(Staff {
        id: id.parse().unwrap(),
        name: format!("Cán bộ {id}"),
        unit: UNIT.parse().unwrap(),
        roles: vec![role],
        fields: fields.iter().map(|f| f.parse().unwrap()).collect(),
        active: true,
    })
}

fn reception() -> ActorRef {
    staff("tn-01", Role::Reception, &[])
}
fn specialist() -> ActorRef {
    staff("cm-01", Role::Specialist, &["ho-tich", "chung-thuc"])
}
fn leader() -> ActorRef {
    staff("ld-01", Role::Leader, &[])
}

fn procedure(id: &str, field: &str, time: WorkingTime, workflow: &str) -> Procedure {
    Procedure {
        id: id.parse().unwrap(),
        version: 1,
        name: format!("Thủ tục {id}"),
        field: field.parse().unwrap(),
        level: Level::Commune,
        documents: Vec::new(),
        forms: Vec::new(),
        processing_time: time,
        fees: Vec::new(),
        workflow: workflow.parse().unwrap(),
        legal_basis: String::new(),
    }
}

fn applicant() -> Applicant {
    Applicant {
        name: "Nguyễn Văn A".into(),
        id_number: "001090000001".into(),
        phone: String::new(),
        address: "xã Dương Phong".into(),
    }
}

fn intake(procedure: &str) -> Intake {
    Intake {
        procedure: procedure.parse().unwrap(),
        unit: UNIT.parse().unwrap(),
        channel: Channel::Desk,
        applicant: applicant(),
        documents: vec!["Tờ khai".into()],
        lookup_secret: motcua_engine::domain::SecretDigest::Argon2id {
            salt: [7; 16],
            hash: [7; 32],
        },
    }
}

/// A commune seeded through reference commands (calendar 2023, unit, three staff, two
/// procedures), then four dossiers run through the service. Returns the service and the code
/// of the first, fully processed dossier.
async fn commune(dir: &std::path::Path) -> (CommandService, DossierCode) {
    let log = EventLog::open(dir, LogConfig::default()).unwrap();
    let svc = CommandService::new(log, ReferenceData::builtin().unwrap()).unwrap();
    let jan1 = NaiveDate::from_ymd_opt(2018, 1, 1).unwrap();
    let mut seed = vec![
        ReferenceCommand::PublishCalendarYear {
            calendar: demo_year_2023(),
            replace: false,
        },
        ReferenceCommand::RegisterUnit(UnitInfo {
            code: UNIT.parse().unwrap(),
            name: "UBND xã Dương Phong".into(),
            parent: "UBND huyện Bạch Thông".into(),
            fields: ["ho-tich", "chung-thuc"]
                .iter()
                .map(|f| FieldInfo {
                    field: f.parse().unwrap(),
                    name: (*f).into(),
                })
                .collect(),
        }),
    ];
    for a in [reception(), specialist(), leader()] {
        if let ActorRef::Staff(s) = a {
            seed.push(ReferenceCommand::RegisterStaff(s));
        }
    }
    for p in [
        procedure(P_STD, "ho-tich", WorkingTime::WorkingDays(3), "standard"),
        procedure(
            P_SAME,
            "chung-thuc",
            WorkingTime::WorkingDays(0),
            "same-day",
        ),
    ] {
        seed.push(ReferenceCommand::IssueProcedure {
            procedure: p,
            effective: jan1,
        });
    }
    for cmd in seed {
        svc.execute_reference(cmd, Authority::System, t(1, 1, 8, 0))
            .await
            .unwrap();
    }

    let new = |cmd, actor: ActorRef, at| {
        let svc = &svc;
        async move {
            svc.execute(None, cmd, &actor, at, None, None)
                .await
                .unwrap()
                .code
        }
    };
    let run = |code: DossierCode, steps: Vec<(Command, ActorRef, Timestamp)>| {
        let svc = &svc;
        async move {
            for (cmd, actor, at) in steps {
                svc.execute(Some(&code), cmd, &actor, at, None, None)
                    .await
                    .unwrap();
            }
        }
    };
    let assign = || Command::Assign {
        specialist: "cm-01".parse().unwrap(),
        note: String::new(),
    };
    let sign = |draft| Command::SubmitForSigning {
        draft,
        note: String::new(),
    };

    // 1. Monday 6 March 09:00, 3 working days, a supplement and a payment pause, approved.
    let first = new(
        Command::Receive {
            intake: Some(intake(P_STD)),
        },
        reception(),
        t(3, 6, 9, 0),
    )
    .await;
    run(
        first.clone(),
        vec![
            (assign(), reception(), t(3, 6, 9, 30)),
            (
                Command::RequestSupplement {
                    items: vec!["Bản chính".into()],
                    reason: "thiếu".into(),
                },
                specialist(),
                t(3, 8, 10, 0),
            ),
            (
                Command::RecordSupplement {
                    note: String::new(),
                },
                reception(),
                t(3, 10, 14, 0),
            ),
            (
                Command::RequestPayment {
                    amount: motcua_engine::domain::types::Vnd(50_000),
                    note: String::new(),
                },
                specialist(),
                t(3, 13, 9, 0),
            ),
            (
                Command::RecordPayment {
                    receipt_number: "BL-1".into(),
                },
                reception(),
                t(3, 13, 16, 0),
            ),
            (sign(DraftKind::Result), specialist(), t(3, 14, 9, 0)),
            (
                Command::Approve {
                    note: String::new(),
                },
                leader(),
                t(3, 14, 10, 0),
            ),
            (
                Command::HandOver {
                    note: String::new(),
                },
                reception(),
                t(3, 14, 14, 0),
            ),
        ],
    )
    .await;

    // 2. Same-day procedure received after hours: the clock starts next morning.
    let second = new(
        Command::Receive {
            intake: Some(intake(P_SAME)),
        },
        reception(),
        t(3, 6, 18, 30),
    )
    .await;
    run(
        second,
        vec![
            (assign(), reception(), t(3, 7, 8, 0)),
            (sign(DraftKind::Refusal), specialist(), t(3, 7, 9, 0)),
            (
                Command::SignRefusal {
                    reasons: "không đủ điều kiện".into(),
                },
                leader(),
                t(3, 7, 10, 0),
            ),
        ],
    )
    .await;

    // 3. Received the afternoon before Tết (days off 20-26 January): still open.
    let third = new(
        Command::Receive {
            intake: Some(intake(P_STD)),
        },
        reception(),
        t(1, 19, 16, 0),
    )
    .await;
    run(third, vec![(assign(), reception(), t(1, 27, 8, 0))]).await;

    // 4. Presented at the desk and guided to complete it: two events from one command.
    new(
        Command::GuideToComplete {
            intake: Some(intake(P_STD)),
            missing: vec!["Tờ khai".into()],
            note: String::new(),
        },
        reception(),
        t(3, 6, 10, 0),
    )
    .await;
    (svc, first)
}

fn run_verify(path: &std::path::Path) -> VerifyReport {
    verify(
        Source::open(path).unwrap(),
        &VerifyOptions::default(),
        &Progress::hidden(),
    )
}

#[test]
fn service_history_verifies_clean_and_a_wrong_due_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = runtime();
    let (svc, first) = rt.block_on(commune(&data));
    let clean = dir.path().join("clean.motcua");
    export(svc.log(), &clean);
    let r = run_verify(&clean);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    // 3 receipts + 2 resumes; 15 dossier events (the desk guidance is two).
    assert_eq!(r.due_dates_checked, 5);
    assert_eq!(r.transitions_checked, 9 + 4 + 2 + 2);

    // A receipt whose due is one working day late, appended behind the service's back (its
    // clock start is right).
    let code: DossierCode = format!("{UNIT}-230315-0001").parse().unwrap();
    let at = t(3, 15, 9, 0);
    let receipt = motcua_engine::domain::events::Receipt {
        procedure: motcua_engine::domain::types::ProcedureRef {
            id: P_STD.parse().unwrap(),
            version: 1,
        },
        procedure_name: format!("Thủ tục {P_STD}"),
        field: "ho-tich".parse().unwrap(),
        unit: UNIT.parse().unwrap(),
        channel: Channel::Desk,
        workflow: "standard".parse().unwrap(),
        rule_set: "nd61-2018".parse().unwrap(),
        applicant: ApplicantRecord::Clear(applicant()),
        documents: vec![],
        processing_time: WorkingTime::WorkingDays(3),
        clock_start: at,
        // Wednesday + 3 working days = Monday 20 March 17:00; one day more is wrong.
        due: t(3, 21, 17, 0),
        lookup_secret: motcua_engine::domain::SecretDigest::Argon2id {
            salt: [0; 16],
            hash: [0; 32],
        },
        fees: motcua_engine::domain::types::Vnd(0),
    };
    let ev = Event::Dossier(DossierEvent {
        code: code.clone(),
        at,
        change: DossierChange::Received(receipt),
    });
    let stream = StreamId::dossier(&code);
    let bad = rt
        .block_on(svc.log().append(
            &stream,
            ExpectedVersion::NoStream,
            vec![new_event("tn-01", Role::Reception, &ev)],
        ))
        .unwrap();
    let tampered = dir.path().join("tampered.motcua");
    export(svc.log(), &tampered);

    // history of the first dossier: office time used and slip 05 from the domain.
    let h = history::build(
        Source::open(&tampered).unwrap(),
        &first,
        &Progress::hidden(),
    )
    .unwrap();
    let log = svc.log().clone();
    drop(svc);
    rt.block_on(log.close()).unwrap();

    let r = run_verify(&tampered);
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
    let f = &r.findings[0];
    assert_eq!(
        (f.seq, f.rule, f.stream.as_deref()),
        (bad.first_seq, "due_date", Some(stream.as_str()))
    );
    assert!(f.detail.contains("2023-03-20 17:00"), "{}", f.detail);
    // The data directory itself gives the same verdict.
    let d = run_verify(&data);
    assert_eq!(d.findings, r.findings);

    // 480 office minutes a day (07:00-11:30, 13:30-17:00). Received Mon 6 March 09:00,
    // approved Tue 14 March 10:00: 360 + 5 x 480 + 180 = 2940 office minutes, of which 1080
    // paused for the supplement (8 March 10:00 - 10 March 14:00: 300 + 480 + 300) and 300 for
    // the payment (13 March 09:00 - 16:00): 1560 used. Due 9 March 17:00, + 1080 = 14 March
    // 09:00, + 300 = 14 March 16:00.
    assert_eq!(h.paused_office_minutes, 1380);
    assert_eq!(h.office_minutes_used, Some(1560));
    assert_eq!(h.original_due.as_deref(), Some("2023-03-09 17:00"));
    assert_eq!(h.due.as_deref(), Some("2023-03-14 16:00"));
    let steps: Vec<&str> = h.slip05.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        steps,
        [
            "assigned",
            "supplement_requested",
            "supplement_received",
            "payment_requested",
            "payment_recorded",
            "submitted_for_signing",
            "approved",
            "handed_over"
        ]
    );
    // The domain's slip judges each hand-off against the due in force after it: the
    // supplement's return (10 March) against the due the pause moved, not 9 March 17:00.
    let on_time: Vec<bool> = h.slip05.iter().map(|s| s.on_time).collect();
    assert_eq!(on_time, [true; 8]);
    assert_eq!(h.slip05[0].to, "cm-01");
}

/// The shipped workflows with one rule changed, loaded through the workflow loader: in the
/// standard workflow only the leader assigns a dossier (the shipped file lets reception too).
fn leader_alone_assigns() -> ReferenceData {
    let shipped = include_str!("../../engine/workflows/standard.toml");
    let rule = "action = \"assign\"\nto = \"InProcessing\"\nroles = [\"reception\", \"leader\"]";
    assert!(
        shipped.contains(rule),
        "the shipped standard workflow changed"
    );
    let changed = shipped.replace(
        rule,
        "action = \"assign\"\nto = \"InProcessing\"\nroles = [\"leader\"]",
    );
    let dir = tempfile::tempdir().unwrap();
    for (file, text) in [
        ("standard.toml", changed.as_str()),
        (
            "lien-thong.toml",
            include_str!("../../engine/workflows/lien-thong.toml"),
        ),
        (
            "same-day.toml",
            include_str!("../../engine/workflows/same-day.toml"),
        ),
    ] {
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    ReferenceData::new(
        RuleSets::builtin().unwrap(),
        load_workflows(dir.path()).unwrap(),
    )
}

#[test]
fn a_rule_changed_in_the_engine_changes_replays_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (svc, first) = rt.block_on(commune(&dir.path().join("data")));
    let archive = dir.path().join("history.motcua");
    export(svc.log(), &archive);
    let judge = |reference: ReferenceData| {
        verify_with(
            Source::open(&archive).unwrap(),
            &VerifyOptions::default(),
            reference,
            &Progress::hidden(),
        )
    };

    // Under the shipped workflows the history is clean, as `verify` says.
    let shipped = judge(ReferenceData::builtin().unwrap());
    assert!(shipped.findings.is_empty(), "{:#?}", shipped.findings);
    assert_eq!(
        shipped,
        VerifyReport {
            elapsed: shipped.elapsed,
            ..run_verify(&archive)
        }
    );

    // Under the changed one, exactly reception's assignments of standard dossiers are named (the
    // same-day dossier's assignment keeps its own workflow's rule).
    let mut workflow_of = std::collections::HashMap::new();
    let mut expected = Vec::new();
    for env in svc.log().read_all(0, 1_000).unwrap() {
        match motcua_engine::codec::decode::<Event>(&env.payload).unwrap() {
            Event::Dossier(DossierEvent {
                change: DossierChange::Received(r),
                ..
            }) => {
                workflow_of.insert(env.stream.to_string(), r.workflow.to_string());
            }
            Event::Dossier(DossierEvent {
                change: DossierChange::Assigned { .. },
                ..
            }) if workflow_of[env.stream.as_str()] == "standard" => {
                assert_eq!(env.actor.role, "reception");
                expected.push((env.seq, "role"));
            }
            _ => {}
        }
    }
    assert_eq!(
        expected.len(),
        2,
        "dossiers 1 and 3 are standard and assigned"
    );
    let changed = judge(leader_alone_assigns());
    let got: Vec<(u64, &str)> = changed.findings.iter().map(|f| (f.seq, f.rule)).collect();
    assert_eq!(got, expected);
    assert!(
        changed.findings[0]
            .detail
            .contains("role reception may not assign in workflow standard (allowed: leader)"),
        "{}",
        changed.findings[0].detail
    );
    assert_eq!(changed.transitions_checked, shipped.transitions_checked);

    // The engine's own decision follows the same rule: reception's assignment of the first
    // dossier, as received, is refused under the changed workflow and taken under the shipped.
    let live = svc.with_reference(|r| r.clone()).unwrap();
    let changed_live = ReferenceData {
        workflows: leader_alone_assigns().workflows,
        ..live.clone()
    };
    let (_, recorded) = svc.load_dossier(&first).unwrap();
    let received = fold(recorded.iter().take(1).filter_map(|r| match &r.event {
        Event::Dossier(d) => Some(d),
        _ => None,
    }));
    let assign = Command::Assign {
        specialist: "cm-01".parse().unwrap(),
        note: String::new(),
    };
    let actor = reception();
    let ctx = |reference| Context {
        now: t(3, 6, 9, 30),
        actor: &actor,
        reference,
        new_code: None,
    };
    assert!(decide(&received, assign.clone(), &ctx(&live)).is_ok());
    let e = decide(&received, assign, &ctx(&changed_live)).unwrap_err();
    assert!(
        matches!(&e, DomainError::Forbidden { required_roles, .. } if *required_roles == [Role::Leader]),
        "{e}"
    );
}
