//! Test fixtures shared by the domain's and the service's tests: a commune with its staff, a
//! small catalog, the demo calendar of 2023, and paths that bring a dossier into any state.

use super::calendar::{at_local, Calendar};
use super::catalog::tests::procedure;
use super::dossier::{apply, decide, ActorRef, Command, Context, DossierState, Intake};
use super::error::DomainError;
use super::events::{
    Applicant, CalendarEvent, CatalogEvent, DossierEvent, DraftKind, FieldInfo, Level, StaffEvent,
    UnitEvent, UnitInfo,
};
use super::reference::ReferenceData;
use super::secret::{SecretDigest, SecretProof, SALT_LEN};
use super::types::{Channel, DossierCode, Role, Staff, Timestamp, UnitCode, WorkingTime};
use super::workflow::Phase;

/// The lookup secret of the fixtures' dossiers.
pub const SECRET_TEXT: &str = "BIMAT23456";

/// The digest of [`SECRET_TEXT`], computed once (each costs an Argon2id evaluation).
pub fn secret() -> SecretDigest {
    static DIGEST: std::sync::LazyLock<SecretDigest> = std::sync::LazyLock::new(|| {
        SecretDigest::argon2id(SECRET_TEXT, [7; SALT_LEN]).expect("fixed parameters")
    });
    DIGEST.clone()
}

/// The proof a citizen holding [`SECRET_TEXT`] brings, made once.
pub fn secret_proof() -> Option<SecretProof> {
    static PROOF: std::sync::LazyLock<Option<SecretProof>> =
        std::sync::LazyLock::new(|| secret().prove(SECRET_TEXT));
    PROOF.clone()
}
/// Standard workflow, ho-tich, 3 working days.
pub const P_STD: &str = "1.001193";
/// Standard workflow, ho-tich, 5 working days (worked example 4).
pub const P_FIVE: &str = "1.000656";
/// Liên thông workflow, dat-dai, 5 working days.
pub const P_LT: &str = "2.000815";
/// Same-day workflow, chung-thuc.
pub const P_SAME: &str = "2.000908";

pub fn t(m: u32, d: u32, hh: u32, mm: u32) -> Timestamp {
    at_local(2023, m, d, hh, mm).unwrap()
}

pub fn unit() -> UnitCode {
    "000.00.00.G10".parse().unwrap()
}

pub fn other_unit() -> UnitCode {
    "000.00.00.G11".parse().unwrap()
}

pub fn staff(id: &str, role: Role, fields: &[&str], unit: UnitCode) -> Staff {
    Staff {
        id: id.parse().unwrap(),
        name: format!("Cán bộ {id}"),
        unit,
        roles: vec![role],
        fields: fields.iter().map(|f| f.parse().unwrap()).collect(),
        active: true,
    }
}

pub fn reception() -> ActorRef {
    ActorRef::Staff(staff("tn-01", Role::Reception, &[], unit()))
}
pub fn specialist() -> ActorRef {
    ActorRef::Staff(staff(
        "cm-01",
        Role::Specialist,
        &["ho-tich", "chung-thuc", "dat-dai"],
        unit(),
    ))
}
/// A specialist of land only.
pub fn land_specialist() -> ActorRef {
    ActorRef::Staff(staff("cm-02", Role::Specialist, &["dat-dai"], unit()))
}
pub fn leader() -> ActorRef {
    ActorRef::Staff(staff("ld-01", Role::Leader, &[], unit()))
}
pub fn foreign_leader() -> ActorRef {
    ActorRef::Staff(staff("ld-99", Role::Leader, &[], other_unit()))
}
pub fn citizen() -> ActorRef {
    ActorRef::Citizen {
        account: "cong-dvc".into(),
        lookup_proof: secret_proof(),
    }
}

/// One actor per role, in `Role::ALL` order.
pub fn actors() -> Vec<(Role, ActorRef)> {
    vec![
        (Role::Reception, reception()),
        (Role::Specialist, specialist()),
        (Role::Leader, leader()),
        (Role::Citizen, citizen()),
        (
            Role::Auditor,
            ActorRef::Staff(staff("kt-01", Role::Auditor, &[], unit())),
        ),
        (
            Role::Planner,
            ActorRef::Staff(staff("kh-01", Role::Planner, &[], unit())),
        ),
        (
            Role::Admin,
            ActorRef::Staff(staff("ad-01", Role::Admin, &[], unit())),
        ),
    ]
}

/// The reference events of the fixture commune (what the service test seeds into a log).
pub fn reference_events() -> Vec<super::events::Event> {
    use super::events::Event;
    let mut out = vec![Event::Calendar(CalendarEvent::YearPublished(
        super::calendar::demo_year_2023(),
    ))];
    for u in [unit(), other_unit()] {
        out.push(Event::Unit(UnitEvent::Registered(UnitInfo {
            code: u,
            name: "UBND xã Dương Phong".into(),
            parent: "UBND huyện Bạch Thông".into(),
            fields: ["ho-tich", "chung-thuc", "dat-dai"]
                .iter()
                .map(|f| FieldInfo {
                    field: f.parse().unwrap(),
                    name: (*f).into(),
                })
                .collect(),
        })));
    }
    for a in [
        reception(),
        specialist(),
        land_specialist(),
        leader(),
        foreign_leader(),
    ] {
        if let ActorRef::Staff(s) = a {
            out.push(Event::Staff(StaffEvent::Registered(s)));
        }
    }
    let jan1 = chrono::NaiveDate::from_ymd_opt(2018, 1, 1).unwrap();
    let mut lt = procedure(
        P_LT,
        1,
        "dat-dai",
        WorkingTime::WorkingDays(5),
        "lien-thong",
    );
    lt.level = Level::InterLevel;
    for p in [
        procedure(P_STD, 1, "ho-tich", WorkingTime::WorkingDays(3), "standard"),
        procedure(
            P_FIVE,
            1,
            "ho-tich",
            WorkingTime::WorkingDays(5),
            "standard",
        ),
        lt,
        procedure(
            P_SAME,
            1,
            "chung-thuc",
            WorkingTime::WorkingDays(0),
            "same-day",
        ),
    ] {
        out.push(Event::Catalog(CatalogEvent::ProcedureIssued {
            procedure: p,
            effective: jan1,
        }));
    }
    out
}

pub fn reference() -> ReferenceData {
    let mut r = ReferenceData::builtin().unwrap();
    for e in reference_events() {
        r.apply(&e);
    }
    assert!(r.calendar.has_year(2023));
    let _ = Calendar::new();
    r
}

pub fn intake(procedure: &str, channel: Channel) -> Intake {
    Intake {
        procedure: procedure.parse().unwrap(),
        unit: unit(),
        channel,
        applicant: Applicant {
            name: "Nguyễn Văn A".into(),
            id_number: "001090000001".into(),
            phone: "0912345678".into(),
            address: "Thôn Nà Cù, xã Dương Phong".into(),
        },
        documents: vec!["Tờ khai".into(), "CCCD (bản sao)".into()],
        lookup_secret: secret(),
    }
}

pub fn code(n: u16) -> DossierCode {
    DossierCode::new(
        &unit(),
        chrono::NaiveDate::from_ymd_opt(2023, 3, 6).unwrap(),
        n,
    )
    .unwrap()
}

/// Decides and applies; returns the new state and the events.
pub fn run(
    r: &ReferenceData,
    state: &DossierState,
    cmd: Command,
    actor: &ActorRef,
    now: Timestamp,
) -> Result<(DossierState, Vec<DossierEvent>), DomainError> {
    let c = code(1);
    let ctx = Context {
        now,
        actor,
        reference: r,
        new_code: Some(&c),
    };
    let evs = decide(state, cmd, &ctx)?;
    let s = evs.iter().fold(state.clone(), apply);
    Ok((s, evs))
}

/// Runs a list of steps that must all succeed.
pub fn path(
    r: &ReferenceData,
    steps: Vec<(Command, ActorRef, Timestamp)>,
) -> (DossierState, Vec<DossierEvent>) {
    let mut s = DossierState::default();
    let mut all = Vec::new();
    for (cmd, actor, now) in steps {
        let (n, evs) =
            run(r, &s, cmd.clone(), &actor, now).unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        s = n;
        all.extend(evs);
    }
    (s, all)
}

pub fn receive_desk(p: &str) -> Command {
    Command::Receive {
        intake: Some(intake(p, Channel::Desk)),
    }
}
pub fn assign() -> Command {
    Command::Assign {
        specialist: "cm-01".parse().unwrap(),
        note: String::new(),
    }
}
pub fn sign(draft: DraftKind) -> Command {
    Command::SubmitForSigning {
        draft,
        note: "dự thảo".into(),
    }
}

/// Steps that bring a standard dossier (P_STD, received Mon 6 Mar 2023 09:00, due Thu 9 Mar
/// 17:00) into `phase`; an `AwaitingApproval` dossier carries a draft of kind `draft`.
pub fn steps_to(phase: Phase, draft: DraftKind) -> Vec<(Command, ActorRef, Timestamp)> {
    use Phase as P;
    let received = || vec![(receive_desk(P_STD), reception(), t(3, 6, 9, 0))];
    let processing = || {
        let mut v = received();
        v.push((assign(), reception(), t(3, 6, 9, 30)));
        v
    };
    let awaiting = |d: DraftKind| {
        let mut v = processing();
        v.push((sign(d), specialist(), t(3, 6, 10, 30)));
        v
    };
    let mut v = match phase {
        P::None => vec![],
        P::Submitted => vec![(
            Command::SubmitOnline(intake(P_STD, Channel::Online)),
            citizen(),
            t(3, 6, 8, 0),
        )],
        P::NotReceived => vec![(
            Command::GuideToComplete {
                intake: Some(intake(P_STD, Channel::Desk)),
                missing: vec!["Giấy khai sinh".into()],
                note: String::new(),
            },
            reception(),
            t(3, 6, 9, 0),
        )],
        P::Refused => vec![(
            Command::RefuseToReceive {
                intake: Some(intake(P_STD, Channel::Desk)),
                reason: "không thuộc thẩm quyền".into(),
                legal_basis: "Điều 19 Nghị định 61/2018".into(),
            },
            reception(),
            t(3, 6, 9, 0),
        )],
        P::Received => received(),
        P::InProcessing => processing(),
        P::AwaitingSupplement => {
            let mut v = processing();
            v.push((
                Command::RequestSupplement {
                    items: vec!["Bản sao giấy tờ".into()],
                    reason: "thiếu".into(),
                },
                specialist(),
                t(3, 6, 10, 0),
            ));
            v
        }
        P::AtOtherAgency => {
            let mut v = processing();
            v.push((
                Command::Forward {
                    agency: "UBND huyện Bạch Thông".into(),
                    note: String::new(),
                },
                specialist(),
                t(3, 6, 10, 0),
            ));
            v
        }
        P::AwaitingPayment => {
            let mut v = processing();
            v.push((
                Command::RequestPayment {
                    amount: super::types::Vnd(50_000),
                    note: "lệ phí".into(),
                },
                specialist(),
                t(3, 6, 10, 0),
            ));
            v
        }
        P::AwaitingApproval => awaiting(draft),
        P::ResultReady => {
            let mut v = awaiting(DraftKind::Result);
            v.push((
                Command::Approve {
                    note: String::new(),
                },
                leader(),
                t(3, 6, 11, 0),
            ));
            v
        }
        P::Rejected => {
            let mut v = awaiting(DraftKind::Refusal);
            v.push((
                Command::SignRefusal {
                    reasons: "không đủ điều kiện".into(),
                },
                leader(),
                t(3, 6, 11, 0),
            ));
            v
        }
        P::Returned => {
            let mut v = steps_to(P::ResultReady, draft);
            v.push((
                Command::HandOver {
                    note: String::new(),
                },
                reception(),
                t(3, 6, 14, 0),
            ));
            return v;
        }
        P::Withdrawn => {
            let mut v = received();
            v.push((
                Command::Withdraw {
                    reason: "không có nhu cầu".into(),
                },
                reception(),
                t(3, 6, 10, 0),
            ));
            v
        }
        P::Stopped => {
            let mut v = received();
            v.push((
                Command::Stop {
                    reason: "có tranh chấp".into(),
                    legal_basis: "Điều 22 Nghị định 61/2018".into(),
                },
                leader(),
                t(3, 6, 10, 0),
            ));
            v
        }
    };
    v.shrink_to_fit();
    v
}

pub fn state_in(r: &ReferenceData, phase: Phase, draft: DraftKind) -> DossierState {
    let (s, _) = path(r, steps_to(phase, draft));
    assert_eq!(s.phase, phase);
    s
}
