//! Tests of the command service on a real log, each run on sled and on PostgreSQL
//! (`on_both_stores!` of `engine/src/log/tests.rs`).

use std::sync::Arc;

use super::*;
use crate::domain::dossier::Command;
use crate::domain::events::{
    CalendarEvent, CatalogEvent, DossierChange, DraftKind, StaffEvent, UnitEvent,
};
use crate::domain::testkit::*;
use crate::domain::types::{Channel, StaffId, WorkingTime};
use crate::domain::workflow::Phase;
use crate::idempotency::{CommandKey, KeyScope};
use crate::log::tests::TestStore;
use crate::log::LogConfig;

/// A command service on a log of `t`'s store (sled or PostgreSQL), reference data loaded.
async fn service(store: TestStore) -> (TestStore, CommandService) {
    let log = store.open(LogConfig::default());
    let svc = CommandService::new(log, ReferenceData::builtin().unwrap()).unwrap();
    for ev in reference_events() {
        let cmd = match ev {
            Event::Unit(UnitEvent::Registered(u)) => ReferenceCommand::RegisterUnit(u),
            Event::Staff(StaffEvent::Registered(s)) => ReferenceCommand::RegisterStaff(s),
            Event::Catalog(CatalogEvent::ProcedureIssued {
                procedure,
                effective,
            }) => ReferenceCommand::IssueProcedure {
                procedure,
                effective,
            },
            Event::Calendar(CalendarEvent::YearPublished(y)) => {
                ReferenceCommand::PublishCalendarYear {
                    calendar: y,
                    replace: false,
                }
            }
            other => panic!("unexpected fixture event {other:?}"),
        };
        svc.execute_reference(cmd, Authority::System, t(1, 1, 8, 0))
            .await
            .unwrap();
    }
    (store, svc)
}

async fn concurrent_receipts_get_distinct_contiguous_codes(store: TestStore) {
    let (_store, svc) = service(store).await;
    let svc = Arc::new(svc);
    const N: usize = 40;
    let mut tasks = Vec::new();
    for _ in 0..N {
        let svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            svc.execute(
                None,
                receive_desk(P_STD),
                &reception(),
                t(3, 6, 9, 0),
                None,
                None,
            )
            .await
            .unwrap()
            .code
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        let code = task.await.unwrap();
        assert_eq!(code.unit(), unit());
        assert_eq!(
            code.date(),
            chrono::NaiveDate::from_ymd_opt(2023, 3, 6).unwrap()
        );
        seqs.push(code.sequence());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=N as u16).collect::<Vec<_>>());
    // The next day starts again at 0001.
    let next = svc
        .execute(
            None,
            receive_desk(P_STD),
            &reception(),
            t(3, 7, 9, 0),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(next.code.as_str(), "000.00.00.G10-230307-0001");
}

async fn a_dossier_runs_its_course_through_the_service(store: TestStore) {
    let (_store, svc) = service(store).await;
    let out = svc
        .execute(
            None,
            receive_desk(P_FIVE),
            &reception(),
            t(3, 6, 9, 0),
            Some(0),
            None,
        )
        .await
        .unwrap();
    assert_eq!(out.code.as_str(), "000.00.00.G10-230306-0001");
    assert_eq!(out.version, 1);
    let code = out.code;
    let steps = vec![
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
            t(3, 15, 14, 0),
        ),
        (sign(DraftKind::Result), specialist(), t(3, 16, 9, 0)),
        (
            Command::Approve {
                note: String::new(),
            },
            leader(),
            t(3, 16, 10, 0),
        ),
        (
            Command::HandOver {
                note: String::new(),
            },
            reception(),
            t(3, 16, 14, 0),
        ),
    ];
    let mut version = 1;
    for (cmd, actor, now) in steps {
        let o = svc
            .execute(Some(&code), cmd, &actor, now, Some(version), None)
            .await
            .unwrap();
        version = o.version;
    }
    assert_eq!(version, 7);
    let (state, recs) = svc.load_dossier(&code).unwrap();
    assert_eq!(state.phase, Phase::Returned);
    assert_eq!(state.due, Some(t(3, 21, 9, 0)));
    assert_eq!(recs.len(), 7);
    assert_eq!(recs[1].actor, "tn-01");
    assert_eq!(recs[1].role, Role::Reception);
    assert_eq!(
        recs[4].role,
        Role::Leader.max(Role::Specialist).min(Role::Specialist)
    );
    assert_eq!(recs[5].actor, "ld-01");
    assert!(
        matches!(&recs[3].event, Event::Dossier(d) if matches!(d.change, DossierChange::SupplementReceived { paused_office_minutes: 2520, .. }))
    );
}

async fn stale_version_and_refused_commands_write_nothing(store: TestStore) {
    let (_store, svc) = service(store).await;
    let code = svc
        .execute(
            None,
            receive_desk(P_STD),
            &reception(),
            t(3, 6, 9, 0),
            None,
            None,
        )
        .await
        .unwrap()
        .code;
    let head = svc.log().head().seq;
    // Stale If-Match.
    let e = svc
        .execute(
            Some(&code),
            assign(),
            &reception(),
            t(3, 6, 9, 30),
            Some(0),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, ServiceError::StaleVersion { current: 1 }),
        "{e}"
    );
    assert_eq!(svc.log().head().seq, head);
    // Illegal from the state.
    let e = svc
        .execute(
            Some(&code),
            Command::Approve {
                note: String::new(),
            },
            &leader(),
            t(3, 6, 9, 30),
            Some(1),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ServiceError::Domain(DomainError::IllegalTransition { .. })
        ),
        "{e}"
    );
    // Wrong role.
    let e = svc
        .execute(
            Some(&code),
            assign(),
            &specialist(),
            t(3, 6, 9, 30),
            None,
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, ServiceError::Domain(DomainError::Forbidden { .. })),
        "{e}"
    );
    // Refused new dossier: no code consumed.
    let mut bad = intake(P_STD, Channel::Desk);
    bad.procedure = "9.999".parse().unwrap();
    let e = svc
        .execute(
            None,
            Command::Receive { intake: Some(bad) },
            &reception(),
            t(3, 6, 10, 0),
            None,
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ServiceError::Domain(DomainError::UnknownProcedure { .. })
        ),
        "{e}"
    );
    assert_eq!(svc.log().head().seq, head);
    assert_eq!(svc.load_dossier(&code).unwrap().1.len(), 1);
    let next = svc
        .execute(
            None,
            receive_desk(P_STD),
            &reception(),
            t(3, 6, 10, 0),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(next.code.sequence(), 2);
    // Unknown dossier.
    let missing = crate::domain::testkit::code(99);
    let e = svc
        .execute(
            Some(&missing),
            assign(),
            &reception(),
            t(3, 6, 9, 30),
            None,
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::NotFound(_)), "{e}");
}

async fn a_retried_command_with_its_event_id_is_not_applied_twice(store: TestStore) {
    let (_store, svc) = service(store).await;
    let code = svc
        .execute(
            None,
            receive_desk(P_STD),
            &reception(),
            t(3, 6, 9, 0),
            None,
            None,
        )
        .await
        .unwrap()
        .code;
    let key = CommandKey::new(KeyScope::DossierAction, "tn-01", "assign-1");
    let first = svc
        .execute(
            Some(&code),
            assign(),
            &reception(),
            t(3, 6, 9, 30),
            None,
            Some(&key),
        )
        .await
        .unwrap();
    assert!(!first.deduplicated);
    // The dossier moves on before the retry: the retry still gets the first answer.
    svc.execute(
        Some(&code),
        sign(DraftKind::Result),
        &specialist(),
        t(3, 6, 10, 0),
        None,
        None,
    )
    .await
    .unwrap();
    let again = svc
        .execute(
            Some(&code),
            assign(),
            &reception(),
            t(3, 6, 9, 30),
            None,
            Some(&key),
        )
        .await
        .unwrap();
    assert!(again.deduplicated);
    assert_eq!((again.seq, again.version), (first.seq, first.version));
    assert_eq!(again.events, first.events);
    assert_eq!(svc.load_dossier(&code).unwrap().1.len(), 3);
}

async fn a_retried_keyed_creation_answers_the_first_code(store: TestStore) {
    let (_store, svc) = service(store).await;
    let key = CommandKey::new(KeyScope::Receipt, "tn-01", "receipt-1");
    let first = svc
        .execute(
            None,
            receive_desk(P_STD),
            &reception(),
            t(3, 6, 9, 0),
            None,
            Some(&key),
        )
        .await
        .unwrap();
    // The dossier moves on before the retry arrives: the retry still gets the first answer.
    svc.execute(
        Some(&first.code),
        assign(),
        &reception(),
        t(3, 6, 9, 2),
        None,
        None,
    )
    .await
    .unwrap();
    let head = svc.log().head().seq;
    // The retry comes later (the first answer was lost): deciding again would allocate 0002.
    let again = svc
        .execute(
            None,
            receive_desk(P_STD),
            &reception(),
            t(3, 6, 9, 5),
            None,
            Some(&key),
        )
        .await
        .unwrap();
    assert!(again.deduplicated);
    assert_eq!(
        (again.code.as_str(), again.version, again.seq),
        (first.code.as_str(), first.version, first.seq)
    );
    assert_eq!(svc.log().head().seq, head);
    assert_eq!(first.code.sequence(), 1);
}

/// The same key string under two scopes names two commands: a desk receipt and an online
/// submission never share a key space.
async fn the_same_key_in_two_scopes_records_two_commands(store: TestStore) {
    let (_store, svc) = service(store).await;
    let mut codes = Vec::new();
    for scope in [KeyScope::Receipt, KeyScope::Submission] {
        let key = CommandKey::new(scope, "tn-01", "k-1");
        let o = svc
            .execute(
                None,
                receive_desk(P_STD),
                &reception(),
                t(3, 6, 9, 0),
                None,
                Some(&key),
            )
            .await
            .unwrap();
        assert!(!o.deduplicated);
        codes.push(o.code);
    }
    assert_eq!(
        codes.iter().map(DossierCode::sequence).collect::<Vec<_>>(),
        [1, 2]
    );
}

async fn a_retried_keyed_reference_command_is_answered_from_the_log(store: TestStore) {
    let (_store, svc) = service(store).await;
    let admin = ActorRef::Staff(staff("ad-01", Role::Admin, &[], unit()));
    // Deciding an issue again would be refused ("token id already issued"): a retry must be
    // answered from the log instead.
    let issue = || ReferenceCommand::IssueToken {
        staff: "tn-01".parse().unwrap(),
        token_id: "t9".into(),
        token_sha256: crate::domain::directory::token_digest("s3cret-9"),
    };
    let key = CommandKey::new(KeyScope::Reference, "ad-01", "token-9");
    let first = svc
        .execute_reference_keyed(issue(), Authority::Admin(&admin), t(3, 1, 8, 0), Some(&key))
        .await
        .unwrap();
    let head = svc.log().head().seq;
    let again = svc
        .execute_reference_keyed(issue(), Authority::Admin(&admin), t(3, 1, 9, 0), Some(&key))
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(svc.log().head().seq, head);
    // Another admin sending the same key string has a key of their own: their command is
    // decided (and refused: the token id exists), never answered with someone else's event.
    let other = ActorRef::Staff(staff("ad-02", Role::Admin, &[], unit()));
    let theirs = CommandKey::new(KeyScope::Reference, "ad-02", "token-9");
    let e = svc
        .execute_reference_keyed(
            issue(),
            Authority::Admin(&other),
            t(3, 1, 9, 0),
            Some(&theirs),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, ServiceError::Domain(DomainError::Validation { .. })),
        "{e}"
    );
    assert_eq!(svc.log().head().seq, head);
    // An event id of the first admin's key presented by another admin is refused.
    let forged = ActorRef::Staff(staff("ad-02", Role::Admin, &[], unit()));
    let e = svc
        .execute_reference_keyed(
            issue(),
            Authority::Admin(&forged),
            t(3, 1, 9, 0),
            Some(&key),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::DuplicateEventId), "{e}");
}

async fn a_staff_member_and_their_first_token_are_one_append(store: TestStore) {
    let (_store, svc) = service(store).await;
    let admin = ActorRef::Staff(staff("ad-01", Role::Admin, &[], unit()));
    let digest = crate::domain::directory::token_digest("s3cret-new");
    let register = |token_id: &str| ReferenceCommand::RegisterStaffWithToken {
        staff: staff("cm-09", Role::Specialist, &["ho-tich"], unit()),
        token_id: token_id.into(),
        token_sha256: digest,
    };
    // An invalid token refuses the registration too: nothing is written.
    let head = svc.log().head().seq;
    let e = svc
        .execute_reference(register(" "), Authority::Admin(&admin), t(3, 1, 8, 0))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ServiceError::Domain(DomainError::Validation { field, .. }) if field == "token_id"),
        "{e}"
    );
    assert_eq!(svc.log().head().seq, head);
    assert!(svc
        .with_reference(|r| r.directory.staff(&"cm-09".parse().unwrap()).is_none())
        .unwrap());

    let key = CommandKey::new(KeyScope::Reference, "ad-01", "register-cm-09");
    let o = svc
        .execute_reference_keyed(
            register("t1"),
            Authority::Admin(&admin),
            t(3, 1, 8, 0),
            Some(&key),
        )
        .await
        .unwrap();
    assert_eq!(o.stream, "staff/cm-09");
    assert_eq!(o.seq, head + 2);
    let stream = StreamId::staff(&"cm-09".parse().unwrap());
    let envs = svc.log().read_stream(&stream, 0).unwrap();
    let kinds: Vec<(u64, &str)> = envs
        .iter()
        .map(|e| (e.version, e.event_type.as_str()))
        .collect();
    assert_eq!(kinds, [(1, "staff.registered"), (2, "staff.token_issued")]);
    let who = svc
        .with_reference(|r| r.directory.staff_by_token(&digest).map(|s| s.id.clone()))
        .unwrap();
    assert_eq!(who, Some("cm-09".parse::<StaffId>().unwrap()));

    // A retry is answered from the log with the same outcome (the seq of the token); deciding
    // it again would be refused as "already registered".
    let again = svc
        .execute_reference_keyed(
            register("t1"),
            Authority::Admin(&admin),
            t(3, 1, 9, 0),
            Some(&key),
        )
        .await
        .unwrap();
    assert_eq!(again, o);
    assert_eq!(svc.log().head().seq, head + 2);
    // Unkeyed, the same registration is refused and writes nothing.
    let e = svc
        .execute_reference(register("t2"), Authority::Admin(&admin), t(3, 1, 9, 0))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ServiceError::Domain(DomainError::Validation { field, .. }) if field == "staff"),
        "{e}"
    );
    assert_eq!(svc.log().head().seq, head + 2);
}

async fn a_procedure_beyond_the_processing_time_limit_is_refused(store: TestStore) {
    let (_store, svc) = service(store).await;
    let mut procedure = reference_events()
        .into_iter()
        .find_map(|ev| match ev {
            Event::Catalog(CatalogEvent::ProcedureIssued { procedure, .. }) => Some(procedure),
            _ => None,
        })
        .unwrap();
    procedure.id = "1.999999".parse().unwrap();
    // 30,000 office hours lies beyond the calendar's horizon: its due could not be computed.
    procedure.processing_time = WorkingTime::OfficeHours(30_000);
    let head = svc.log().head().seq;
    let e = svc
        .execute_reference(
            ReferenceCommand::IssueProcedure {
                procedure: procedure.clone(),
                effective: chrono::NaiveDate::from_ymd_opt(2023, 6, 1).unwrap(),
            },
            Authority::System,
            t(5, 1, 8, 0),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ServiceError::Domain(DomainError::Validation { field, .. }) if field == "processing_time"),
        "{e}"
    );
    assert_eq!(svc.log().head().seq, head);
    // The limit itself is accepted.
    procedure.processing_time = WorkingTime::OfficeHours(WorkingTime::MAX_OFFICE_HOURS);
    svc.execute_reference(
        ReferenceCommand::IssueProcedure {
            procedure,
            effective: chrono::NaiveDate::from_ymd_opt(2023, 6, 1).unwrap(),
        },
        Authority::System,
        t(5, 1, 8, 0),
    )
    .await
    .unwrap();
}

async fn reference_commands_need_an_admin_and_valid_data(store: TestStore) {
    let (_store, svc) = service(store).await;
    let e = svc
        .execute_reference(
            ReferenceCommand::RevokeToken {
                staff: "tn-01".parse().unwrap(),
                token_id: "t".into(),
            },
            Authority::Admin(&reception()),
            t(3, 1, 8, 0),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, ServiceError::Domain(DomainError::Forbidden { .. })),
        "{e}"
    );
    let admin = ActorRef::Staff(staff("ad-01", Role::Admin, &[], unit()));
    let digest = crate::domain::directory::token_digest("s3cret");
    svc.execute_reference(
        ReferenceCommand::IssueToken {
            staff: "tn-01".parse().unwrap(),
            token_id: "t1".into(),
            token_sha256: digest,
        },
        Authority::Admin(&admin),
        t(3, 1, 8, 0),
    )
    .await
    .unwrap();
    let who = svc
        .with_reference(|r| {
            r.directory
                .staff_by_token(&digest)
                .map(|s| s.id.to_string())
        })
        .unwrap();
    assert_eq!(who.as_deref(), Some("tn-01"));
    // Amendments must carry the next version; a second issue is refused.
    let p = crate::domain::catalog::tests::procedure(
        P_STD,
        3,
        "ho-tich",
        crate::domain::types::WorkingTime::WorkingDays(2),
        "standard",
    );
    let e = svc
        .execute_reference(
            ReferenceCommand::AmendProcedure {
                procedure: p.clone(),
                effective: chrono::NaiveDate::from_ymd_opt(2023, 6, 1).unwrap(),
            },
            Authority::System,
            t(3, 1, 8, 0),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("must be 2"), "{e}");
    let p2 = crate::domain::events::Procedure { version: 2, ..p };
    svc.execute_reference(
        ReferenceCommand::AmendProcedure {
            procedure: p2,
            effective: chrono::NaiveDate::from_ymd_opt(2023, 6, 1).unwrap(),
        },
        Authority::System,
        t(3, 1, 8, 0),
    )
    .await
    .unwrap();
    // A dossier received in June gets version 2 and its 2-day processing time.
    let out = svc
        .execute(
            None,
            receive_desk(P_STD),
            &reception(),
            t(6, 5, 9, 0),
            None,
            None,
        )
        .await
        .unwrap();
    match &out.events[0].change {
        DossierChange::Received(r) => {
            assert_eq!(r.procedure.version, 2);
            assert_eq!(r.due, t(6, 7, 17, 0));
        }
        other => panic!("{other:?}"),
    }
    // Office hours must be valid sessions.
    let e = svc
        .execute_reference(
            ReferenceCommand::SetOfficeHours {
                unit: unit(),
                sessions: vec![],
                effective: chrono::NaiveDate::from_ymd_opt(2023, 6, 1).unwrap(),
            },
            Authority::System,
            t(3, 1, 8, 0),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, ServiceError::Domain(DomainError::Validation { .. })),
        "{e}"
    );
}

async fn a_restarted_service_folds_the_reference_streams_again(store: TestStore) {
    {
        let log = store.open(LogConfig::default());
        let svc = CommandService::new(log.clone(), ReferenceData::builtin().unwrap()).unwrap();
        for ev in reference_events().into_iter().take(3) {
            if let Event::Calendar(CalendarEvent::YearPublished(y)) = ev {
                svc.execute_reference(
                    ReferenceCommand::PublishCalendarYear {
                        calendar: y,
                        replace: false,
                    },
                    Authority::System,
                    t(1, 1, 8, 0),
                )
                .await
                .unwrap();
            } else if let Event::Unit(UnitEvent::Registered(u)) = ev {
                svc.execute_reference(
                    ReferenceCommand::RegisterUnit(u),
                    Authority::System,
                    t(1, 1, 8, 0),
                )
                .await
                .unwrap();
            }
        }
        drop(svc);
        log.close().await.unwrap();
    }
    let log = store.open(LogConfig::default());
    let svc = CommandService::new(log, ReferenceData::builtin().unwrap()).unwrap();
    let (has_year, units) = svc
        .with_reference(|r| (r.calendar.has_year(2023), r.directory.units().count()))
        .unwrap();
    assert!(has_year);
    assert_eq!(units, 2);
}

async fn concurrent_commands_on_one_dossier_are_retried_without_if_match(store: TestStore) {
    let (_store, svc) = service(store).await;
    let svc = Arc::new(svc);
    let code = svc
        .execute(
            None,
            receive_desk(P_STD),
            &reception(),
            t(3, 6, 9, 0),
            None,
            None,
        )
        .await
        .unwrap()
        .code;
    // Eight apologies at once after the due time: each one re-decides after a conflict. With
    // N racing writers the last needs at most N attempts, within MAX_CONFLICT_RETRIES + 1.
    let mut tasks = Vec::new();
    for i in 0..8u32 {
        let (svc, code) = (svc.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            let cmd = Command::Apologise {
                reason: format!("lần {i}"),
                new_appointment: t(3, 20, 17, 0),
            };
            svc.execute(Some(&code), cmd, &leader(), t(3, 10, 9, 0), None, None)
                .await
                .unwrap()
                .version
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (2..=9).collect::<Vec<u64>>());
    let (state, _) = svc.load_dossier(&code).unwrap();
    assert_eq!(state.apologies, 8);
}

crate::log::tests::on_both_stores!(
    concurrent_receipts_get_distinct_contiguous_codes,
    a_dossier_runs_its_course_through_the_service,
    stale_version_and_refused_commands_write_nothing,
    a_retried_command_with_its_event_id_is_not_applied_twice,
    a_retried_keyed_creation_answers_the_first_code,
    the_same_key_in_two_scopes_records_two_commands,
    a_retried_keyed_reference_command_is_answered_from_the_log,
    a_staff_member_and_their_first_token_are_one_append,
    a_procedure_beyond_the_processing_time_limit_is_refused,
    reference_commands_need_an_admin_and_valid_data,
    concurrent_commands_on_one_dossier_are_retried_without_if_match,
    a_restarted_service_folds_the_reference_streams_again,
);
