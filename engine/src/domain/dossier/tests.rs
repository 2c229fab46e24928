//! Tests of decide/apply: one per transition row of docs/domain/dossier.md (allowed for the listed
//! roles, refused for every other role and from every other state), the pause arithmetic, the
//! scope rules, the three workflows, and a property test over random command sequences (whose
//! recorded events the check of a recorded history accepts).

use proptest::prelude::*;

use super::*;
use crate::domain::error::DomainError;
use crate::domain::events::{DossierChange, DossierEvent, DraftKind};
use crate::domain::testkit::*;
use crate::domain::types::{Channel, Role, Timestamp, Vnd};
use crate::domain::workflow::{Action, Phase};

/// A row of the transition table.
struct Row {
    action: Action,
    from: &'static [Phase],
    roles: &'static [Role],
    /// The command for a dossier in the given state.
    cmd: fn(Phase) -> Command,
    /// Draft kind of an `AwaitingApproval` dossier.
    draft: DraftKind,
    now: Timestamp,
}

const OPEN: &[Phase] = &[
    Phase::Received,
    Phase::InProcessing,
    Phase::AwaitingSupplement,
    Phase::AtOtherAgency,
    Phase::AwaitingPayment,
    Phase::AwaitingApproval,
];

/// Runs a row against every state of the standard workflow and every role; returns the number
/// of (state, role) cases checked.
fn check_row(row: Row) -> usize {
    let r = reference();
    let wf = r.workflows.get(&"standard".parse().unwrap()).unwrap();
    // The workflow file agrees with the row.
    let t_roles: Vec<Role> = row.roles.to_vec();
    for p in row.from {
        let t = wf
            .transition(*p, row.action)
            .unwrap_or_else(|| panic!("{} from {p}", row.action));
        assert_eq!(t.roles, t_roles, "{} roles", row.action);
    }
    let mut cases = 0;
    for phase in Phase::ALL.into_iter().filter(|p| wf.has_state(*p)) {
        let state = state_in(&r, phase, row.draft);
        for (role, actor) in actors() {
            cases += 1;
            let res = run(&r, &state, (row.cmd)(phase), &actor, row.now);
            let legal = row.from.contains(&phase);
            match res {
                Ok((next, evs)) => {
                    assert!(
                        legal && row.roles.contains(&role),
                        "{} from {phase} by {role} must be refused",
                        row.action
                    );
                    assert!(!evs.is_empty());
                    assert_eq!(
                        next.phase,
                        expected_phase(phase, row.action),
                        "{} from {phase}",
                        row.action
                    );
                    assert!(wf.has_state(next.phase));
                    assert!(evs.iter().all(|e| e.at == row.now));
                }
                Err(DomainError::IllegalTransition {
                    state,
                    action,
                    allowed,
                }) => {
                    assert!(
                        !legal,
                        "{} from {phase} by {role}: wrongly illegal",
                        row.action
                    );
                    assert_eq!(state, phase.to_string());
                    assert_eq!(action, row.action.to_string());
                    let expect: Vec<String> = wf
                        .actions_from(phase)
                        .iter()
                        .map(|a| a.to_string())
                        .collect();
                    assert_eq!(allowed, expect);
                }
                Err(DomainError::Forbidden {
                    action,
                    required_roles,
                    actor_roles,
                }) => {
                    assert!(
                        legal && !row.roles.contains(&role),
                        "{} from {phase} by {role}: wrongly forbidden",
                        row.action
                    );
                    assert_eq!(action, row.action.to_string());
                    assert_eq!(required_roles, t_roles);
                    assert_eq!(actor_roles, vec![role]);
                }
                Err(e) => panic!("{} from {phase} by {role}: unexpected {e}", row.action),
            }
        }
    }
    cases
}

fn new_or(phase: Phase, ch: Channel) -> Option<Intake> {
    (phase == Phase::None).then(|| intake(P_STD, ch))
}

const NOW: fn() -> Timestamp = || t(3, 6, 15, 0);

#[test]
fn row_01_submit_online_by_citizen() {
    check_row(Row {
        action: Action::SubmitOnline,
        from: &[Phase::None],
        roles: &[Role::Citizen],
        cmd: |_| Command::SubmitOnline(intake(P_STD, Channel::Online)),
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_02_receive_by_reception() {
    check_row(Row {
        action: Action::Receive,
        from: &[Phase::None, Phase::Submitted],
        roles: &[Role::Reception],
        cmd: |p| Command::Receive {
            intake: new_or(p, Channel::Desk),
        },
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_03_guide_to_complete_by_reception() {
    check_row(Row {
        action: Action::GuideToComplete,
        from: &[Phase::None, Phase::Submitted],
        roles: &[Role::Reception],
        cmd: |p| Command::GuideToComplete {
            intake: new_or(p, Channel::Desk),
            missing: vec!["Giấy khai sinh".into()],
            note: String::new(),
        },
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_04_refuse_to_receive_by_reception() {
    check_row(Row {
        action: Action::RefuseToReceive,
        from: &[Phase::None, Phase::Submitted],
        roles: &[Role::Reception],
        cmd: |p| Command::RefuseToReceive {
            intake: new_or(p, Channel::Desk),
            reason: "không thuộc thẩm quyền".into(),
            legal_basis: "Nghị định 61/2018".into(),
        },
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_05_assign_by_reception_or_leader() {
    check_row(Row {
        action: Action::Assign,
        from: &[Phase::Received],
        roles: &[Role::Reception, Role::Leader],
        cmd: |_| assign(),
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_06_request_supplement_by_specialist() {
    check_row(Row {
        action: Action::RequestSupplement,
        from: &[Phase::InProcessing],
        roles: &[Role::Specialist],
        cmd: |_| Command::RequestSupplement {
            items: vec!["Bản sao".into()],
            reason: "thiếu".into(),
        },
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_07_record_supplement_by_reception_or_the_citizen_online() {
    check_row(Row {
        action: Action::RecordSupplement,
        from: &[Phase::AwaitingSupplement],
        roles: &[Role::Reception, Role::Citizen],
        cmd: |_| Command::RecordSupplement {
            note: String::new(),
        },
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_08_forward_by_specialist() {
    check_row(Row {
        action: Action::Forward,
        from: &[Phase::InProcessing],
        roles: &[Role::Specialist],
        cmd: |_| Command::Forward {
            agency: "UBND huyện".into(),
            note: String::new(),
        },
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_09_other_agency_answered_by_reception_or_specialist() {
    check_row(Row {
        action: Action::RecordAgencyAnswer,
        from: &[Phase::AtOtherAgency],
        roles: &[Role::Reception, Role::Specialist],
        cmd: |_| Command::RecordAgencyAnswer {
            note: "đã có ý kiến".into(),
        },
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_10_request_payment_by_specialist() {
    check_row(Row {
        action: Action::RequestPayment,
        from: &[Phase::InProcessing],
        roles: &[Role::Specialist],
        cmd: |_| Command::RequestPayment {
            amount: Vnd(50_000),
            note: String::new(),
        },
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_11_record_payment_by_reception() {
    check_row(Row {
        action: Action::RecordPayment,
        from: &[Phase::AwaitingPayment],
        roles: &[Role::Reception],
        cmd: |_| Command::RecordPayment {
            receipt_number: "BL-0001".into(),
        },
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_12_submit_for_signing_by_specialist() {
    for draft in [DraftKind::Result, DraftKind::Refusal] {
        check_row(Row {
            action: Action::SubmitForSigning,
            from: &[Phase::InProcessing],
            roles: &[Role::Specialist],
            cmd: if draft == DraftKind::Result {
                |_| sign(DraftKind::Result)
            } else {
                |_| sign(DraftKind::Refusal)
            },
            draft,
            now: NOW(),
        });
    }
}

#[test]
fn row_13_approve_by_leader() {
    check_row(Row {
        action: Action::Approve,
        from: &[Phase::AwaitingApproval],
        roles: &[Role::Leader],
        cmd: |_| Command::Approve {
            note: String::new(),
        },
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_14_sign_refusal_by_leader() {
    check_row(Row {
        action: Action::SignRefusal,
        from: &[Phase::AwaitingApproval],
        roles: &[Role::Leader],
        cmd: |_| Command::SignRefusal {
            reasons: "không đủ điều kiện".into(),
        },
        draft: DraftKind::Refusal,
        now: NOW(),
    });
}

#[test]
fn row_15_send_back_by_leader() {
    check_row(Row {
        action: Action::SendBack,
        from: &[Phase::AwaitingApproval],
        roles: &[Role::Leader],
        cmd: |_| Command::SendBack {
            comments: "bổ sung căn cứ".into(),
        },
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_16_apologise_by_specialist_or_leader_once_late() {
    check_row(Row {
        action: Action::Apologise,
        from: OPEN,
        roles: &[Role::Specialist, Role::Leader],
        cmd: |_| Command::Apologise {
            reason: "chờ xác minh".into(),
            new_appointment: t(3, 20, 17, 0),
        },
        draft: DraftKind::Result,
        // After the due time (Thu 9 Mar 17:00).
        now: t(3, 10, 9, 0),
    });
}

#[test]
fn row_17_hand_over_by_reception() {
    check_row(Row {
        action: Action::HandOver,
        from: &[Phase::ResultReady, Phase::Rejected],
        roles: &[Role::Reception],
        cmd: |_| Command::HandOver {
            note: String::new(),
        },
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_18_withdraw_by_citizen_or_reception() {
    let mut from = vec![Phase::Submitted];
    from.extend_from_slice(OPEN);
    check_row(Row {
        action: Action::Withdraw,
        from: Box::leak(from.into_boxed_slice()),
        roles: &[Role::Citizen, Role::Reception],
        cmd: |_| Command::Withdraw {
            reason: "không có nhu cầu".into(),
        },
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn row_19_stop_by_leader() {
    check_row(Row {
        action: Action::Stop,
        from: OPEN,
        roles: &[Role::Leader],
        cmd: |_| Command::Stop {
            reason: "có tranh chấp".into(),
            legal_basis: "Nghị định 61/2018".into(),
        },
        draft: DraftKind::Result,
        now: NOW(),
    });
}

#[test]
fn receipt_fixes_code_due_rule_set_and_procedure_version() {
    let r = reference();
    let (s, evs) = path(
        &r,
        vec![(receive_desk(P_STD), reception(), t(1, 19, 10, 0))],
    );
    assert_eq!(evs.len(), 1);
    let rec = s.receipt.as_ref().unwrap();
    assert_eq!(evs[0].code, code(1));
    assert_eq!(rec.due, t(1, 31, 17, 0));
    assert_eq!(rec.clock_start, t(1, 19, 10, 0));
    assert_eq!(rec.rule_set.as_str(), "nd61-2018");
    assert_eq!(rec.procedure.version, 1);
    assert_eq!(rec.workflow.as_str(), "standard");
    assert_eq!(rec.fees, Vnd(10_000));
    assert_eq!(s.due, Some(rec.due));
    assert_eq!(s.status_code(&r), Some(2));
    // After hours: the clock starts next working morning.
    let (s, _) = path(
        &r,
        vec![(receive_desk(P_STD), reception(), t(1, 19, 18, 0))],
    );
    assert_eq!(s.receipt.unwrap().clock_start, t(1, 27, 7, 0));
    // Received under the 2025 rules (a year without a published calendar: weekends only).
    let at = crate::domain::calendar::at_local(2025, 7, 2, 9, 0).unwrap();
    let (s, _) = path(&r, vec![(receive_desk(P_STD), reception(), at)]);
    let rec = s.receipt.unwrap();
    assert_eq!(rec.rule_set.as_str(), "nd118-2025");
    assert_eq!(
        rec.due,
        crate::domain::calendar::at_local(2025, 7, 7, 17, 0).unwrap()
    );
}

#[test]
fn online_submission_then_receipt_keeps_channel_and_secret() {
    let r = reference();
    let (s, _) = path(
        &r,
        vec![
            (
                Command::SubmitOnline(intake(P_SAME, Channel::Online)),
                citizen(),
                t(3, 6, 7, 30),
            ),
            (
                Command::Receive { intake: None },
                reception(),
                t(3, 6, 15, 30),
            ),
        ],
    );
    let rec = s.receipt.as_ref().unwrap();
    assert_eq!(rec.channel, Channel::Online);
    assert_eq!(rec.lookup_secret, secret());
    // Same-day procedure received after 15:00: due at the next working day's close.
    assert_eq!(rec.due, t(3, 7, 17, 0));
    assert_eq!(rec.workflow.as_str(), "same-day");
    assert_eq!(s.status_code(&r), Some(2));
}

#[test]
fn worked_example_4_through_decide() {
    let r = reference();
    let (s, evs) = path(
        &r,
        vec![
            (receive_desk(P_FIVE), reception(), t(3, 6, 9, 0)),
            (assign(), reception(), t(3, 6, 9, 30)),
            (
                Command::RequestSupplement {
                    items: vec!["Bản chính giấy tờ".into()],
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
        ],
    );
    assert_eq!(s.receipt.as_ref().unwrap().due, t(3, 13, 17, 0));
    match &evs[3].change {
        DossierChange::SupplementReceived {
            paused_office_minutes,
            new_due,
            ..
        } => {
            assert_eq!(*paused_office_minutes, 2520);
            assert_eq!(*new_due, t(3, 21, 9, 0));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.due, Some(t(3, 21, 9, 0)));
    assert_eq!(s.paused_office_minutes, 2520);
    // A supplement may be requested once.
    let e = run(
        &r,
        &s,
        Command::RequestSupplement {
            items: vec!["x".into()],
            reason: "y".into(),
        },
        &specialist(),
        t(3, 16, 9, 0),
    )
    .unwrap_err();
    assert_eq!(e, DomainError::SupplementLimit { limit: 1, used: 1 });
    // The payment pause works the same way: 1 office hour paused moves the due by 1 hour.
    let (s2, _) = path(
        &r,
        vec![
            (receive_desk(P_FIVE), reception(), t(3, 6, 9, 0)),
            (assign(), reception(), t(3, 6, 9, 30)),
            (
                Command::RequestPayment {
                    amount: Vnd(1),
                    note: String::new(),
                },
                specialist(),
                t(3, 6, 10, 0),
            ),
            (
                Command::RecordPayment {
                    receipt_number: "BL1".into(),
                },
                reception(),
                t(3, 6, 11, 0),
            ),
        ],
    );
    assert_eq!(s2.due, Some(t(3, 14, 8, 0)));
}

#[test]
fn resolution_is_judged_against_the_due_date() {
    let r = reference();
    let s = state_in(&r, Phase::ResultReady, DraftKind::Result);
    // Resolved Mon 6 Mar, due Thu 9 Mar: early.
    assert_eq!(s.timeliness(), Some(Timeliness::Early));
    assert_eq!(judge(t(3, 9, 8, 0), t(3, 9, 17, 0)), Timeliness::OnTime);
    assert_eq!(judge(t(3, 10, 7, 0), t(3, 9, 17, 0)), Timeliness::Late);
    assert_eq!(s.status_code(&r), Some(9));
}

#[test]
fn scope_specialist_field_leader_unit_and_assignee() {
    let r = reference();
    let s = state_in(&r, Phase::InProcessing, DraftKind::Result);
    let e = run(&r, &s, sign(DraftKind::Result), &land_specialist(), NOW()).unwrap_err();
    assert!(
        matches!(e, DomainError::WrongField { ref field, .. } if field.as_str() == "ho-tich"),
        "{e}"
    );
    // A colleague of the same fields may not act on a dossier assigned to cm-01.
    assert_eq!(s.specialist.as_ref().map(|x| x.as_str()), Some("cm-01"));
    let colleague = ActorRef::Staff(staff("cm-03", Role::Specialist, &["ho-tich"], unit()));
    let e = run(&r, &s, sign(DraftKind::Result), &colleague, NOW()).unwrap_err();
    assert!(
        matches!(e, DomainError::NotAssigned { ref assignee, .. } if assignee.as_str() == "cm-01"),
        "{e}"
    );
    assert!(run(&r, &s, sign(DraftKind::Result), &specialist(), NOW()).is_ok());
    let s = state_in(&r, Phase::AwaitingApproval, DraftKind::Result);
    let e = run(
        &r,
        &s,
        Command::Approve {
            note: String::new(),
        },
        &foreign_leader(),
        NOW(),
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::WrongUnit { .. }), "{e}");
    let s = state_in(&r, Phase::Received, DraftKind::Result);
    let e = run(
        &r,
        &s,
        Command::Assign {
            specialist: "cm-02".parse().unwrap(),
            note: String::new(),
        },
        &reception(),
        NOW(),
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::WrongField { .. }), "{e}");
    let e = run(
        &r,
        &s,
        Command::Assign {
            specialist: "tn-01".parse().unwrap(),
            note: String::new(),
        },
        &reception(),
        NOW(),
    )
    .unwrap_err();
    assert_eq!(e, DomainError::UnknownStaff("tn-01".parse().unwrap()));
    // A citizen without the dossier's secret cannot withdraw it: a proof of another digest
    // (another dossier's secret) proves nothing here.
    let other = crate::domain::secret::SecretDigest::argon2id(SECRET_TEXT, [8; 16]).unwrap();
    let stranger = ActorRef::Citizen {
        account: "x".into(),
        lookup_proof: other.prove(SECRET_TEXT),
    };
    assert!(matches!(
        &stranger,
        ActorRef::Citizen {
            lookup_proof: Some(_),
            ..
        }
    ));
    let e = run(
        &r,
        &s,
        Command::Withdraw { reason: "r".into() },
        &stranger,
        NOW(),
    )
    .unwrap_err();
    assert_eq!(e, DomainError::WrongSecret);
    // Nor can a citizen who shows no secret, nor a staff account acting as a citizen (its
    // account proves nothing about the dossier); the secret's holder can.
    let withdraw = || Command::Withdraw { reason: "r".into() };
    let bare = ActorRef::Citizen {
        account: "x".into(),
        lookup_proof: None,
    };
    let portal = ActorRef::Staff(staff("cong-dvc", Role::Citizen, &[], unit()));
    for actor in [&bare, &portal] {
        let e = run(&r, &s, withdraw(), actor, NOW()).unwrap_err();
        assert_eq!(e, DomainError::WrongSecret, "{actor:?}");
    }
    assert!(run(&r, &s, withdraw(), &citizen(), NOW()).is_ok());
    // Inactive staff hold no role.
    let mut inactive = staff("tn-02", Role::Reception, &[], unit());
    inactive.active = false;
    let e = run(
        &r,
        &DossierState::default(),
        receive_desk(P_STD),
        &ActorRef::Staff(inactive),
        NOW(),
    )
    .unwrap_err();
    assert!(
        matches!(e, DomainError::Forbidden { ref actor_roles, .. } if actor_roles.is_empty()),
        "{e}"
    );
}

#[test]
fn drafts_must_match_the_signature() {
    let r = reference();
    let s = state_in(&r, Phase::AwaitingApproval, DraftKind::Refusal);
    let e = run(
        &r,
        &s,
        Command::Approve {
            note: String::new(),
        },
        &leader(),
        NOW(),
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::Validation { ref field, .. } if field == "draft"));
    let s = state_in(&r, Phase::AwaitingApproval, DraftKind::Result);
    let e = run(
        &r,
        &s,
        Command::SignRefusal {
            reasons: "x".into(),
        },
        &leader(),
        NOW(),
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::Validation { ref field, .. } if field == "draft"));
    let e = run(
        &r,
        &s,
        Command::SendBack {
            comments: " ".into(),
        },
        &leader(),
        NOW(),
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::Validation { ref field, .. } if field == "comments"));
    let (back, _) = run(
        &r,
        &s,
        Command::SendBack {
            comments: "sửa".into(),
        },
        &leader(),
        NOW(),
    )
    .unwrap();
    assert_eq!(back.phase, Phase::InProcessing);
    assert_eq!(back.draft, None);
}

#[test]
fn apology_window_and_new_appointment() {
    let r = reference();
    let s = state_in(&r, Phase::InProcessing, DraftKind::Result);
    let cmd = |at| Command::Apologise {
        reason: "chậm".into(),
        new_appointment: at,
    };
    // Due Thu 9 Mar 17:00; on Tue 7 Mar more than one working day remains.
    let e = run(&r, &s, cmd(t(3, 20, 17, 0)), &specialist(), t(3, 7, 9, 0)).unwrap_err();
    assert_eq!(
        e,
        DomainError::ApologyTooEarly {
            due: t(3, 9, 17, 0).to_string(),
            allowed_from: t(3, 8, 17, 0).to_string(),
        }
    );
    // From Wed 8 Mar 17:00 (one working day left) it is allowed.
    let (a, evs) = run(&r, &s, cmd(t(3, 20, 17, 0)), &specialist(), t(3, 8, 17, 0)).unwrap();
    assert_eq!(evs.len(), 1);
    assert_eq!(a.apologies, 1);
    assert_eq!(a.new_appointment, Some(t(3, 20, 17, 0)));
    // The apology does not move the due time: late stays late.
    assert_eq!(a.due, s.due);
    let e = run(&r, &s, cmd(t(3, 9, 12, 0)), &leader(), t(3, 10, 9, 0)).unwrap_err();
    assert!(matches!(e, DomainError::Validation { ref field, .. } if field == "new_appointment"));
}

#[test]
fn desk_guidance_and_refusal_record_the_presentation() {
    let r = reference();
    let (s, evs) = path(&r, steps_to(Phase::NotReceived, DraftKind::Result));
    assert_eq!(evs.len(), 2);
    assert!(
        matches!(evs[0].change, DossierChange::SubmittedOnline(ref x) if x.channel == Channel::Desk)
    );
    assert!(matches!(
        evs[1].change,
        DossierChange::GuidedToComplete { .. }
    ));
    assert_eq!(s.status_code(&r), Some(3));
    let (s, _) = path(&r, steps_to(Phase::Refused, DraftKind::Result));
    assert_eq!(s.status_code(&r), Some(3));
    // An online submission guided to complete stays submitted (status 1).
    let sub = state_in(&r, Phase::Submitted, DraftKind::Result);
    let (g, _) = run(
        &r,
        &sub,
        Command::GuideToComplete {
            intake: None,
            missing: vec!["x".into()],
            note: String::new(),
        },
        &reception(),
        NOW(),
    )
    .unwrap();
    assert_eq!(g.phase, Phase::Submitted);
    assert_eq!(g.status_code(&r), Some(1));
}

#[test]
fn same_day_workflow_has_no_supplement_step() {
    let r = reference();
    let (s, _) = path(
        &r,
        vec![
            (receive_desk(P_SAME), reception(), t(3, 6, 9, 0)),
            (assign(), reception(), t(3, 6, 9, 10)),
        ],
    );
    assert_eq!(s.due, Some(t(3, 6, 17, 0)));
    let e = run(
        &r,
        &s,
        Command::RequestSupplement {
            items: vec!["x".into()],
            reason: "y".into(),
        },
        &specialist(),
        NOW(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        DomainError::IllegalTransition {
            state: "InProcessing".into(),
            action: "request_supplement".into(),
            allowed: vec![
                "submit_for_signing".into(),
                "apologise".into(),
                "withdraw".into(),
                "stop".into(),
                "attach_file".into()
            ],
        }
    );
    let (s, _) = run(
        &r,
        &s,
        sign(DraftKind::Result),
        &specialist(),
        t(3, 6, 9, 30),
    )
    .unwrap();
    let (s, _) = run(
        &r,
        &s,
        Command::Approve {
            note: String::new(),
        },
        &leader(),
        t(3, 6, 10, 0),
    )
    .unwrap();
    let (s, _) = run(
        &r,
        &s,
        Command::HandOver {
            note: String::new(),
        },
        &reception(),
        t(3, 6, 10, 30),
    )
    .unwrap();
    assert_eq!(s.phase, Phase::Returned);
    assert_eq!(s.timeliness(), Some(Timeliness::OnTime));
    assert_eq!(s.status_code(&r), Some(10));
}

#[test]
fn lien_thong_signs_only_after_the_other_agency_answered() {
    let r = reference();
    let (s, _) = path(
        &r,
        vec![
            (receive_desk(P_LT), reception(), t(3, 6, 9, 0)),
            (assign(), reception(), t(3, 6, 9, 10)),
        ],
    );
    let e = run(&r, &s, sign(DraftKind::Result), &specialist(), NOW()).unwrap_err();
    assert!(
        matches!(e, DomainError::Validation { ref field, .. } if field == "agency_answer"),
        "{e}"
    );
    let (s, _) = run(
        &r,
        &s,
        Command::Forward {
            agency: "Chi nhánh VPĐKĐĐ huyện".into(),
            note: String::new(),
        },
        &specialist(),
        NOW(),
    )
    .unwrap();
    assert_eq!(s.phase, Phase::AtOtherAgency);
    let (s, _) = run(
        &r,
        &s,
        Command::RecordAgencyAnswer {
            note: "đủ điều kiện".into(),
        },
        &reception(),
        NOW(),
    )
    .unwrap();
    let (s, _) = run(&r, &s, sign(DraftKind::Result), &specialist(), NOW()).unwrap();
    assert_eq!(s.phase, Phase::AwaitingApproval);
}

#[test]
fn allowed_actions_for_the_caller() {
    let r = reference();
    let s = state_in(&r, Phase::InProcessing, DraftKind::Result);
    assert_eq!(
        allowed_actions(&s, &[Role::Specialist], &r),
        vec![
            Action::RequestSupplement,
            Action::Forward,
            Action::RequestPayment,
            Action::SubmitForSigning,
            Action::Apologise,
            Action::AttachFile
        ]
    );
    assert_eq!(
        allowed_actions(&s, &[Role::Leader], &r),
        vec![Action::Apologise, Action::Stop]
    );
    assert_eq!(allowed_actions(&s, &[Role::Auditor], &r), vec![]);
    assert_eq!(
        allowed_actions(&DossierState::default(), &[Role::Reception], &r),
        vec![
            Action::Receive,
            Action::GuideToComplete,
            Action::RefuseToReceive
        ]
    );
}

#[test]
fn unknown_procedure_and_missing_intake_are_refused() {
    let r = reference();
    let mut i = intake(P_STD, Channel::Desk);
    i.procedure = "9.999".parse().unwrap();
    let e = run(
        &r,
        &DossierState::default(),
        Command::Receive { intake: Some(i) },
        &reception(),
        NOW(),
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::UnknownProcedure { .. }), "{e}");
    let e = run(
        &r,
        &DossierState::default(),
        Command::Receive { intake: None },
        &reception(),
        NOW(),
    )
    .unwrap_err();
    assert!(
        matches!(e, DomainError::Validation { ref field, .. } if field == "intake"),
        "{e}"
    );
    let e = run(
        &r,
        &DossierState::default(),
        Command::SubmitOnline(intake(P_STD, Channel::Desk)),
        &citizen(),
        NOW(),
    )
    .unwrap_err();
    assert!(
        matches!(e, DomainError::Validation { ref field, .. } if field == "channel"),
        "{e}"
    );
}

fn any_command() -> impl Strategy<Value = (u8, u8)> {
    (0u8..22, 0u8..8)
}

fn command_of(i: u8, p: &str) -> Command {
    match i {
        0 => Command::SubmitOnline(intake(p, Channel::Online)),
        1 => Command::Receive {
            intake: Some(intake(p, Channel::Desk)),
        },
        2 => Command::Receive { intake: None },
        3 => Command::GuideToComplete {
            intake: Some(intake(p, Channel::Desk)),
            missing: vec!["x".into()],
            note: String::new(),
        },
        4 => Command::GuideToComplete {
            intake: None,
            missing: vec!["x".into()],
            note: String::new(),
        },
        5 => Command::RefuseToReceive {
            intake: None,
            reason: "r".into(),
            legal_basis: "b".into(),
        },
        6 => assign(),
        7 => Command::RequestSupplement {
            items: vec!["x".into()],
            reason: "y".into(),
        },
        8 => Command::RecordSupplement {
            note: String::new(),
        },
        9 => Command::Forward {
            agency: "a".into(),
            note: String::new(),
        },
        10 => Command::RecordAgencyAnswer {
            note: String::new(),
        },
        11 => Command::RequestPayment {
            amount: Vnd(5),
            note: String::new(),
        },
        12 => Command::RecordPayment {
            receipt_number: "n".into(),
        },
        13 => sign(DraftKind::Result),
        14 => sign(DraftKind::Refusal),
        15 => Command::Approve {
            note: String::new(),
        },
        16 => Command::SignRefusal {
            reasons: "r".into(),
        },
        17 => Command::SendBack {
            comments: "c".into(),
        },
        18 => Command::Apologise {
            reason: "r".into(),
            new_appointment: t(12, 30, 17, 0),
        },
        19 => Command::HandOver {
            note: String::new(),
        },
        20 => Command::Withdraw { reason: "r".into() },
        _ => Command::Stop {
            reason: "r".into(),
            legal_basis: "b".into(),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_command_sequences_stay_inside_the_workflow(
        procedure in 0usize..4,
        steps in proptest::collection::vec((any_command(), 1i64..600), 1..40),
    ) {
        let r = reference();
        let p = [P_STD, P_FIVE, P_LT, P_SAME][procedure];
        let all_actors: Vec<ActorRef> = actors().into_iter().map(|(_, a)| a)
            .chain([land_specialist()]).collect();
        let mut state = DossierState::default();
        let mut log: Vec<DossierEvent> = Vec::new();
        let mut now = t(3, 6, 8, 0);
        for ((ci, ai), minutes) in steps {
            now = Timestamp(now.0 + minutes * 60_000);
            let cmd = command_of(ci, p);
            let action = cmd.action();
            let actor = &all_actors[usize::from(ai) % all_actors.len()];
            let before = state.phase;
            match run(&r, &state, cmd, actor, now) {
                Ok((next, evs)) => {
                    let wf = r.workflows.get(&next.workflow_id(&r).unwrap()).unwrap();
                    prop_assert!(wf.has_state(next.phase), "{} not in {}", next.phase, wf.id);
                    prop_assert!(wf.transition(before, action).is_some());
                    prop_assert_eq!(next.phase, expected_phase(before, action));
                    prop_assert!(next.status_code(&r).is_some());
                    // What decide records, the check of a recorded history accepts.
                    let role = acting_role(wf, before, action, actor).unwrap();
                    let mut judged = state.clone();
                    for ev in &evs {
                        let v = check_recorded(&judged, ev, role, &r);
                        prop_assert!(v.breaches.is_empty(), "{:?}", v.breaches);
                        prop_assert!(v.legal || opens_desk_intake(&judged, &ev.change));
                        judged = apply(judged, ev);
                    }
                    log.extend(evs);
                    // Folding the whole log from scratch gives the same state.
                    prop_assert_eq!(&fold(&log), &next);
                    if next.receipt.is_some() {
                        prop_assert!(next.due.is_some());
                        prop_assert!(next.due >= next.receipt.as_ref().map(|x| x.due));
                    }
                    state = next;
                }
                Err(_) => {
                    // A refusal changes nothing.
                    prop_assert_eq!(&fold(&log), &state);
                }
            }
        }
    }
}

/// The rules broken by `ev` recorded in `role` on `state`, by name.
fn breaches(state: &DossierState, ev: &DossierEvent, role: Role) -> Vec<&'static str> {
    let r = reference();
    let v = check_recorded(state, ev, role, &r);
    v.breaches.iter().map(|b| b.rule.as_str()).collect()
}

#[test]
fn a_recorded_change_is_judged_by_the_rules_decide_applies() {
    let r = reference();
    let none = DossierState::default();
    let (received, evs) = run(&r, &none, receive_desk(P_STD), &reception(), t(3, 6, 9, 0)).unwrap();
    let receipt = &evs[0];
    // As decided: no breach, and its due times recomputed.
    let v = check_recorded(&none, receipt, Role::Reception, &r);
    assert!(v.breaches.is_empty() && v.legal && v.dues_checked, "{v:?}");
    // Recorded in a role the transition does not name.
    assert_eq!(breaches(&none, receipt, Role::Specialist), ["role"]);
    // A due one day later than the calendar gives.
    let mut late = receipt.clone();
    if let DossierChange::Received(rc) = &mut late.change {
        rc.due = Timestamp(rc.due.0 + 86_400_000);
    }
    assert_eq!(breaches(&none, &late, Role::Reception), ["due_date"]);
    // An approval of a dossier nobody processed: illegal from Received, so no promise either.
    let approved = DossierEvent {
        code: receipt.code.clone(),
        at: t(3, 6, 10, 0),
        change: DossierChange::Approved {
            note: String::new(),
        },
    };
    let v = check_recorded(&received, &approved, Role::Leader, &r);
    assert!(!v.legal);
    assert_eq!(v.breaches.len(), 1);
    assert!(v.breaches[0].detail.contains("from Received"), "{v:?}");
    // An approval of a refusal draft; a second supplement request under nd61-2018 (one allowed).
    let refusal = state_in(&r, Phase::AwaitingApproval, DraftKind::Refusal);
    assert_eq!(breaches(&refusal, &approved, Role::Leader), ["transition"]);
    let mut twice = state_in(&r, Phase::InProcessing, DraftKind::Result);
    twice.supplements_requested = 1;
    let request = DossierEvent {
        code: receipt.code.clone(),
        at: t(3, 7, 10, 0),
        change: DossierChange::SupplementRequested {
            items: vec!["x".into()],
            reason: "y".into(),
        },
    };
    assert_eq!(
        breaches(&twice, &request, Role::Specialist),
        ["supplement_limit"]
    );
    // A terminal state admits nothing: the checker that dropped the state says so too.
    let wf = r.workflows.get(&"standard".parse().unwrap()).unwrap();
    let b = check_after_end(wf, Phase::Returned, &approved.change).unwrap();
    assert_eq!(b.rule.as_str(), "transition");
    assert!(b.detail.contains("a terminal state"), "{}", b.detail);
}

fn attach(document: &str, size: u64) -> Command {
    Command::AttachFile(crate::domain::files::AttachedFile {
        sha256: "ab".repeat(32),
        size,
        media_type: crate::domain::files::MediaType::Pdf,
        document: document.into(),
        file_name: "to-khai.pdf".into(),
    })
}

#[test]
fn attach_file_by_reception_then_the_assigned_specialist_within_the_limits() {
    use crate::domain::files::{MAX_BYTES_PER_DOSSIER, MAX_FILES_PER_DOSSIER, MAX_FILE_BYTES};
    let r = reference();
    let (s, _) = path(&r, vec![(receive_desk(P_STD), reception(), t(3, 6, 9, 0))]);
    // Reception on a received dossier: one event, the state unchanged.
    let (after, evs) = run(&r, &s, attach("Tờ khai", 10), &reception(), NOW()).unwrap();
    assert_eq!(after.phase, Phase::Received);
    assert_eq!((after.files_attached, after.file_bytes), (1, 10));
    assert!(matches!(&evs[..], [e] if matches!(e.change, DossierChange::FileAttached(_))));
    // Not a checklist document; not a clean name; past the size limit.
    let e = run(&r, &s, attach("Sổ hộ khẩu", 10), &reception(), NOW()).unwrap_err();
    assert!(
        matches!(e, DomainError::Validation { ref field, .. } if field == "document"),
        "{e}"
    );
    let Command::AttachFile(mut f) = attach("Tờ khai", 10) else {
        unreachable!()
    };
    f.file_name = "../x.pdf".into();
    let e = run(&r, &s, Command::AttachFile(f), &reception(), NOW()).unwrap_err();
    assert!(
        matches!(e, DomainError::Validation { ref field, .. } if field == "file_name"),
        "{e}"
    );
    let e = run(
        &r,
        &s,
        attach("Tờ khai", MAX_FILE_BYTES + 1),
        &reception(),
        NOW(),
    )
    .unwrap_err();
    assert!(
        matches!(e, DomainError::Validation { ref field, .. } if field == "size"),
        "{e}"
    );
    // A specialist before assignment, a leader: not theirs to attach.
    assert!(run(&r, &s, attach("Tờ khai", 10), &specialist(), NOW()).is_err());
    assert!(run(&r, &s, attach("Tờ khai", 10), &leader(), NOW()).is_err());
    // Assigned: the specialist may; another specialist of the field may not.
    let (s, _) = run(&r, &s, assign(), &reception(), t(3, 6, 9, 10)).unwrap();
    run(&r, &s, attach("CCCD (bản sao)", 10), &specialist(), NOW()).unwrap();
    let other = ActorRef::Staff(staff("cm-09", Role::Specialist, &["ho-tich"], unit()));
    let e = run(&r, &s, attach("Tờ khai", 10), &other, NOW()).unwrap_err();
    assert!(matches!(e, DomainError::NotAssigned { .. }), "{e}");
    // The per-dossier limits, from the state.
    let mut full = s.clone();
    full.files_attached = MAX_FILES_PER_DOSSIER;
    let e = run(&r, &full, attach("Tờ khai", 10), &reception(), NOW()).unwrap_err();
    assert!(
        matches!(e, DomainError::Validation { ref field, .. } if field == "files"),
        "{e}"
    );
    let mut heavy = s.clone();
    heavy.file_bytes = MAX_BYTES_PER_DOSSIER - 5;
    let e = run(&r, &heavy, attach("Tờ khai", 10), &reception(), NOW()).unwrap_err();
    assert!(
        matches!(e, DomainError::Validation { ref field, .. } if field == "files"),
        "{e}"
    );
    // An ended dossier takes no file.
    let (ended, _) = run(
        &r,
        &s,
        Command::Withdraw {
            reason: "rút".into(),
        },
        &reception(),
        NOW(),
    )
    .unwrap();
    let e = run(&r, &ended, attach("Tờ khai", 10), &reception(), NOW()).unwrap_err();
    assert!(matches!(e, DomainError::IllegalTransition { .. }), "{e}");
}
