//! Shared fixture of the plan tests: a real log in a temporary directory with a commune's
//! reference data (2023 calendar, two procedures, staff including planners), the command
//! service for dossiers, the plan service, and helpers to walk a dossier to its resolution.
#![allow(dead_code)]

use std::time::Duration;

use chrono::NaiveDate;
use motcua_engine::domain::calendar::{at_local, demo_year_2023};
use motcua_engine::domain::events::{Applicant, DraftKind, FieldInfo, Level, Procedure, UnitInfo};
use motcua_engine::domain::plan::{Indicator, IndicatorSource, Target, TaskSpec};
use motcua_engine::domain::types::{
    Channel, DossierCode, PlanId, Role, Staff, Timestamp, UnitCode, WorkingTime,
};
use motcua_engine::domain::{ActorRef, Command, Intake, ReferenceData};
use motcua_engine::log::{EventLog, LogConfig};
use motcua_engine::plan_service::{PlanCommand, PlanService, WriteOptions};
use motcua_engine::projection::Projections;
use motcua_engine::service::{Authority, CommandOutcome, CommandService, ReferenceCommand};

pub const UNIT: &str = "000.33.22.H05";
pub const OTHER_UNIT: &str = "000.33.22.H06";
/// Birth registration, ho-tich, 3 working days: published at the desk and online.
pub const P_BIRTH: &str = "1.001193";
/// Electronic copy certification, chung-thuc, 3 working days: published at the desk only.
pub const P_ECOPY: &str = "2.001035";

pub fn t(m: u32, d: u32, hh: u32, mm: u32) -> Timestamp {
    at_local(2023, m, d, hh, mm).unwrap()
}

pub fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, m, d).unwrap()
}

pub fn unit() -> UnitCode {
    UNIT.parse().unwrap()
}

fn staff(id: &str, role: Role, fields: &[&str], unit: &str) -> Staff {
    Staff {
        id: id.parse().unwrap(),
        name: format!("Cán bộ {id}"),
        unit: unit.parse().unwrap(),
        roles: vec![role],
        fields: fields.iter().map(|f| f.parse().unwrap()).collect(),
        active: true,
    }
}

pub fn reception() -> ActorRef {
    ActorRef::Staff(staff("tn-01", Role::Reception, &[], UNIT))
}
pub fn specialist() -> ActorRef {
    ActorRef::Staff(staff(
        "cm-01",
        Role::Specialist,
        &["ho-tich", "chung-thuc"],
        UNIT,
    ))
}
pub fn leader() -> ActorRef {
    ActorRef::Staff(staff("ld-01", Role::Leader, &[], UNIT))
}
pub fn planner() -> ActorRef {
    ActorRef::Staff(staff("kh-01", Role::Planner, &[], UNIT))
}
pub fn admin() -> ActorRef {
    ActorRef::Staff(staff("qt-01", Role::Admin, &[], UNIT))
}
pub fn auditor() -> ActorRef {
    ActorRef::Staff(staff("tt-01", Role::Auditor, &[], UNIT))
}
/// A planner of the neighbouring commune.
pub fn foreign_planner() -> ActorRef {
    ActorRef::Staff(staff("kh-99", Role::Planner, &[], OTHER_UNIT))
}
pub fn citizen() -> ActorRef {
    ActorRef::Citizen {
        account: "cong-dvc".into(),
        lookup_proof: None,
    }
}

fn procedure(id: &str, name: &str, field: &str) -> Procedure {
    Procedure {
        id: id.parse().unwrap(),
        version: 1,
        name: name.into(),
        field: field.parse().unwrap(),
        level: Level::Commune,
        documents: Vec::new(),
        forms: Vec::new(),
        processing_time: WorkingTime::WorkingDays(3),
        fees: Vec::new(),
        workflow: "standard".parse().unwrap(),
        legal_basis: String::new(),
    }
}

/// The running fixture (keep `_dir` alive).
pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub log: EventLog,
    pub svc: CommandService,
    pub plans: PlanService,
}

pub async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogConfig::default()).unwrap();
    let svc = CommandService::new(log.clone(), ReferenceData::builtin().unwrap()).unwrap();
    let setup = t(1, 2, 8, 0);
    let sys = Authority::System;
    let run = |cmd| svc.execute_reference(cmd, sys, setup);
    run(ReferenceCommand::PublishCalendarYear {
        calendar: demo_year_2023(),
        replace: false,
    })
    .await
    .unwrap();
    for code in [UNIT, OTHER_UNIT] {
        run(ReferenceCommand::RegisterUnit(UnitInfo {
            code: code.parse().unwrap(),
            name: "UBND xã Dương Phong".into(),
            parent: "UBND huyện Bạch Thông".into(),
            fields: ["ho-tich", "chung-thuc"]
                .iter()
                .map(|f| FieldInfo {
                    field: f.parse().unwrap(),
                    name: (*f).into(),
                })
                .collect(),
        }))
        .await
        .unwrap();
    }
    let effective = NaiveDate::from_ymd_opt(2022, 1, 1).unwrap();
    for (p, online) in [
        (procedure(P_BIRTH, "Đăng ký khai sinh", "ho-tich"), true),
        (
            procedure(
                P_ECOPY,
                "Chứng thực bản sao điện tử từ bản chính",
                "chung-thuc",
            ),
            false,
        ),
    ] {
        let id = p.id.clone();
        run(ReferenceCommand::IssueProcedure {
            procedure: p,
            effective,
        })
        .await
        .unwrap();
        run(ReferenceCommand::PublishProcedure {
            unit: unit(),
            id,
            at_desk: true,
            online,
            effective,
        })
        .await
        .unwrap();
    }
    for a in [
        reception(),
        specialist(),
        leader(),
        planner(),
        admin(),
        auditor(),
        foreign_planner(),
    ] {
        if let ActorRef::Staff(s) = a {
            run(ReferenceCommand::RegisterStaff(s)).await.unwrap();
        }
    }
    let plans = PlanService::new(log.clone());
    Fixture {
        _dir: dir,
        log,
        svc,
        plans,
    }
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
        documents: vec!["Tờ khai".into()],
        // A digest no secret matches: these dossiers are never looked up.
        lookup_secret: motcua_engine::domain::SecretDigest::Argon2id {
            salt: [7; 16],
            hash: [7; 32],
        },
    }
}

impl Fixture {
    /// Receives a desk dossier at `at`.
    pub async fn receive(&self, procedure: &str, at: Timestamp) -> CommandOutcome {
        self.svc
            .execute(
                None,
                Command::Receive {
                    intake: Some(intake(procedure, Channel::Desk)),
                },
                &reception(),
                at,
                None,
                None,
            )
            .await
            .unwrap()
    }

    /// An online submission at `submitted`, received at `received`.
    pub async fn receive_online(
        &self,
        procedure: &str,
        submitted: Timestamp,
        received: Timestamp,
    ) -> CommandOutcome {
        let o = self
            .svc
            .execute(
                None,
                Command::SubmitOnline(intake(procedure, Channel::Online)),
                &citizen(),
                submitted,
                None,
                None,
            )
            .await
            .unwrap();
        self.step(
            &o.code,
            Command::Receive { intake: None },
            &reception(),
            received,
        )
        .await
    }

    pub async fn step(
        &self,
        code: &DossierCode,
        cmd: Command,
        actor: &ActorRef,
        at: Timestamp,
    ) -> CommandOutcome {
        self.svc
            .execute(Some(code), cmd, actor, at, None, None)
            .await
            .unwrap_or_else(|e| panic!("{code}: {e}"))
    }

    pub async fn assign(&self, code: &DossierCode, at: Timestamp) -> CommandOutcome {
        self.step(
            code,
            Command::Assign {
                specialist: "cm-01".parse().unwrap(),
                note: String::new(),
            },
            &reception(),
            at,
        )
        .await
    }

    pub async fn submit_for_signing(&self, code: &DossierCode, at: Timestamp) -> CommandOutcome {
        self.step(
            code,
            Command::SubmitForSigning {
                draft: DraftKind::Result,
                note: "dự thảo".into(),
            },
            &specialist(),
            at,
        )
        .await
    }

    pub async fn approve(&self, code: &DossierCode, at: Timestamp) -> CommandOutcome {
        self.step(
            code,
            Command::Approve {
                note: String::new(),
            },
            &leader(),
            at,
        )
        .await
    }

    /// A planner command with default options.
    pub async fn plan(&self, plan: &PlanId, cmd: PlanCommand, at: Timestamp) -> u64 {
        self.plans
            .execute(plan, cmd, &planner(), at, WriteOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .seq
    }
}

pub fn plan_id() -> PlanId {
    "35-kh-ubnd-2023".parse().unwrap()
}

pub fn issue() -> PlanCommand {
    PlanCommand::Issue {
        number: "35/KH-UBND".into(),
        date: day(1, 26),
        unit: unit(),
        year: 2023,
        title: "Kế hoạch cải cách hành chính năm 2023".into(),
        legal_basis: "Nghị quyết 76/NQ-CP; Kế hoạch của UBND huyện Bạch Thông".into(),
    }
}

pub fn task(
    id: &str,
    responsible: &str,
    (start, deadline): (NaiveDate, NaiveDate),
    weight: u32,
    source: IndicatorSource,
    target: Target,
) -> TaskSpec {
    TaskSpec {
        id: id.parse().unwrap(),
        title: format!("Nhiệm vụ {id}"),
        responsible: responsible.into(),
        start,
        deadline,
        weight,
        indicator: Indicator {
            name: format!("chỉ tiêu {id}"),
            source,
            target,
        },
    }
}

/// Starts the live projections and waits for them to reach the log's head.
pub async fn projections(log: &EventLog) -> Projections {
    let p = Projections::start(log).unwrap();
    assert!(p.wait_for(log.head().seq, Duration::from_secs(10)).await);
    p
}
