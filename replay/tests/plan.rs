//! `motcua-replay plan` on a log written by the engine's real services (reference commands,
//! dossiers through the command service, a reform plan through the plan service): each task's
//! status at chosen instants, a derived indicator that changes exactly when the dossier events
//! feeding it arrive, the events named behind each figure, and the replayed dashboard equal to
//! the engine's own as-of dashboard, from an archive and from a copied data directory alike.

mod common;

use chrono::NaiveDate;
use common::{export, runtime};
use motcua_engine::domain::calendar::{at_local, demo_year_2023};
use motcua_engine::domain::events::{Applicant, DraftKind, FieldInfo, Level, Procedure, UnitInfo};
use motcua_engine::domain::plan::DerivedIndicator;
use motcua_engine::domain::plan::{
    Indicator, IndicatorSource, PlanProgress, Target, TaskSpec, TaskStatus,
};
use motcua_engine::domain::types::{
    Channel, DossierCode, PlanId, Role, Staff, Timestamp, WorkingTime,
};
use motcua_engine::domain::{ActorRef, Command, Intake, ReferenceData};
use motcua_engine::log::{EventLog, LogConfig, StreamId};
use motcua_engine::plan_service::{PlanCommand, PlanService, WriteOptions};
use motcua_engine::service::{Authority, CommandOutcome, CommandService, ReferenceCommand};
use motcua_replay::output::Format;
use motcua_replay::plan::{self, PlanAnswer};
use motcua_replay::progress::Progress;
use motcua_replay::source::Source;

const UNIT: &str = "000.33.22.H05";
const P_BIRTH: &str = "1.001193";

fn t(m: u32, d: u32, hh: u32, mm: u32) -> Timestamp {
    at_local(2023, m, d, hh, mm).unwrap()
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, m, d).unwrap()
}

fn staff(id: &str, role: Role) -> ActorRef {
    ActorRef::Staff(Staff {
        id: id.parse().unwrap(),
        name: format!("Cán bộ {id}"),
        unit: UNIT.parse().unwrap(),
        roles: vec![role],
        fields: vec!["ho-tich".parse().unwrap()],
        active: true,
    })
}

fn plan_id() -> PlanId {
    "35-kh-ubnd-2023".parse().unwrap()
}

fn task(id: &str, deadline: NaiveDate, source: IndicatorSource, target: Target) -> TaskSpec {
    TaskSpec {
        id: id.parse().unwrap(),
        title: format!("Nhiệm vụ {id}"),
        responsible: "Văn phòng - Thống kê".into(),
        start: day(2, 1),
        deadline,
        weight: 1,
        indicator: Indicator {
            name: format!("chỉ tiêu {id}"),
            source,
            target,
        },
    }
}

struct Built {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    archive: std::path::PathBuf,
    /// The engine's own as-of dashboards at the instants asked.
    engine: Vec<(Timestamp, PlanProgress)>,
    report_seq: u64,
    report_event_id: String,
    done_seq: u64,
    dossier: DossierCode,
    dossier_first_seq: u64,
    approved_seq: u64,
}

fn instants() -> Vec<Timestamp> {
    vec![
        t(1, 30, 12, 0),
        t(3, 1, 12, 0),
        t(3, 7, 9, 59),
        t(3, 7, 10, 0),
        t(4, 2, 12, 0),
        t(7, 1, 12, 0),
        t(7, 11, 12, 0),
    ]
}

async fn build() -> Built {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = EventLog::open(&data, LogConfig::default()).unwrap();
    let svc = CommandService::new(log.clone(), ReferenceData::builtin().unwrap()).unwrap();
    let setup = t(1, 2, 8, 0);
    let run = |cmd| svc.execute_reference(cmd, Authority::System, setup);
    run(ReferenceCommand::PublishCalendarYear {
        calendar: demo_year_2023(),
        replace: false,
    })
    .await
    .unwrap();
    run(ReferenceCommand::RegisterUnit(UnitInfo {
        code: UNIT.parse().unwrap(),
        name: "UBND xã Dương Phong".into(),
        parent: "UBND huyện Bạch Thông".into(),
        fields: vec![FieldInfo {
            field: "ho-tich".parse().unwrap(),
            name: "Hộ tịch".into(),
        }],
    }))
    .await
    .unwrap();
    let effective = NaiveDate::from_ymd_opt(2022, 1, 1).unwrap();
    run(ReferenceCommand::IssueProcedure {
        procedure: Procedure {
            id: P_BIRTH.parse().unwrap(),
            version: 1,
            name: "Đăng ký khai sinh".into(),
            field: "ho-tich".parse().unwrap(),
            level: Level::Commune,
            documents: Vec::new(),
            forms: Vec::new(),
            processing_time: WorkingTime::WorkingDays(3),
            fees: Vec::new(),
            workflow: "standard".parse().unwrap(),
            legal_basis: String::new(),
        },
        effective,
    })
    .await
    .unwrap();
    run(ReferenceCommand::PublishProcedure {
        unit: UNIT.parse().unwrap(),
        id: P_BIRTH.parse().unwrap(),
        at_desk: true,
        online: true,
        effective,
    })
    .await
    .unwrap();
    let (reception, specialist, leader, planner) = (
        staff("tn-01", Role::Reception),
        staff("cm-01", Role::Specialist),
        staff("ld-01", Role::Leader),
        staff("kh-01", Role::Planner),
    );
    for a in [&reception, &specialist, &leader, &planner] {
        if let ActorRef::Staff(s) = a {
            run(ReferenceCommand::RegisterStaff(s.clone()))
                .await
                .unwrap();
        }
    }

    let plans = PlanService::new(log.clone());
    let plan = plan_id();
    let write = |cmd: PlanCommand, at: Timestamp| {
        let (plans, plan, planner) = (&plans, &plan, &planner);
        async move {
            plans
                .execute(plan, cmd, planner, at, WriteOptions::default())
                .await
                .unwrap()
                .seq
        }
    };
    write(
        PlanCommand::Issue {
            number: "35/KH-UBND".into(),
            date: day(1, 26),
            unit: UNIT.parse().unwrap(),
            year: 2023,
            title: "Kế hoạch cải cách hành chính năm 2023".into(),
            legal_basis: "Nghị quyết 76/NQ-CP".into(),
        },
        t(1, 26, 9, 0),
    )
    .await;
    write(
        PlanCommand::AddTask(task(
            "may-tinh",
            day(6, 30),
            IndicatorSource::Manual,
            Target::AtLeast(24),
        )),
        t(1, 26, 9, 5),
    )
    .await;
    write(
        PlanCommand::AddTask(task(
            "ty-le-dung-han",
            day(12, 31),
            IndicatorSource::Derived(DerivedIndicator::OnTimeShare),
            Target::KeepAtLeast(9_800),
        )),
        t(1, 26, 9, 10),
    )
    .await;
    let report_seq = write(
        PlanCommand::ReportProgress {
            task: "may-tinh".parse().unwrap(),
            value: 12,
            evidence: "12/24 cán bộ có máy vi tính".into(),
            links: vec!["/files/bien-ban-1.pdf".into()],
        },
        t(4, 1, 9, 0),
    )
    .await;
    // The dossier that feeds the on-time share: received Mon 6 Mar, approved Tue 7 Mar 10:00.
    let exec = |code: Option<DossierCode>, cmd: Command, actor: &ActorRef, at: Timestamp| {
        let (svc, actor) = (&svc, actor.clone());
        async move {
            svc.execute(code.as_ref(), cmd, &actor, at, None, None)
                .await
                .unwrap()
        }
    };
    let received: CommandOutcome = exec(
        None,
        Command::Receive {
            intake: Some(Intake {
                procedure: P_BIRTH.parse().unwrap(),
                unit: UNIT.parse().unwrap(),
                channel: Channel::Desk,
                applicant: Applicant {
                    name: "Nguyễn Văn A".into(),
                    id_number: "001090000001".into(),
                    phone: String::new(),
                    address: "xã Dương Phong".into(),
                },
                documents: vec!["Tờ khai".into()],
                lookup_secret: motcua_engine::domain::SecretDigest::Argon2id {
                    salt: [7; 16],
                    hash: [7; 32],
                },
            }),
        },
        &reception,
        t(3, 6, 9, 0),
    )
    .await;
    let dossier = received.code.clone();
    let dossier_first_seq = received.seq + 1 - received.events.len() as u64;
    let c = Some(dossier.clone());
    exec(
        c.clone(),
        Command::Assign {
            specialist: "cm-01".parse().unwrap(),
            note: String::new(),
        },
        &reception,
        t(3, 6, 9, 30),
    )
    .await;
    exec(
        c.clone(),
        Command::SubmitForSigning {
            draft: DraftKind::Result,
            note: String::new(),
        },
        &specialist,
        t(3, 7, 9, 0),
    )
    .await;
    let approved_seq = exec(
        c,
        Command::Approve {
            note: String::new(),
        },
        &leader,
        t(3, 7, 10, 0),
    )
    .await
    .seq;
    let done_seq = write(
        PlanCommand::CompleteTask {
            task: "may-tinh".parse().unwrap(),
            note: "24/24".into(),
        },
        t(7, 10, 9, 0),
    )
    .await;

    let engine = instants()
        .into_iter()
        .map(|at| (at, plans.dashboard_as_of(&plan, at).unwrap().unwrap()))
        .collect();
    let stream = StreamId::plan(&plan);
    let report_event_id = log
        .read_stream(&stream, 0)
        .unwrap()
        .iter()
        .find(|e| e.seq == report_seq)
        .unwrap()
        .event_id
        .to_string();
    let archive = dir.path().join("log.motcua");
    export(&log, &archive);
    drop((svc, plans));
    log.close().await.unwrap();
    Built {
        _dir: dir,
        data,
        archive,
        engine,
        report_seq,
        report_event_id,
        done_seq,
        dossier,
        dossier_first_seq,
        approved_seq,
    }
}

fn replay(path: &std::path::Path, at: Timestamp) -> PlanAnswer {
    plan::build(
        Source::open(path).unwrap(),
        &plan_id(),
        at,
        &Progress::hidden(),
    )
    .unwrap()
}

fn status(p: &PlanProgress, task: &str) -> (TaskStatus, Option<i64>) {
    let t = p.tasks.iter().find(|x| x.task.as_str() == task).unwrap();
    (t.status, t.value)
}

#[test]
fn replayed_plan_follows_time_names_its_events_and_equals_the_engine() {
    let rt = runtime();
    let b = rt.block_on(build());

    // Equal to the engine's as-of dashboard at every instant, from both kinds of source.
    let mut answers = Vec::new();
    for (at, engine) in &b.engine {
        let a = replay(&b.archive, *at);
        assert_eq!(&a.dashboard, engine, "archive as of {at:?}");
        assert_eq!(replay(&b.data, *at), a, "data directory as of {at:?}");
        answers.push(a);
    }
    let [jan30, mar1, before, after, apr2, jul1, jul11] = answers.try_into().unwrap();

    // The manual task as time passes.
    let computers: Vec<_> = [&jan30, &mar1, &apr2, &jul1, &jul11]
        .iter()
        .map(|a| status(&a.dashboard, "may-tinh"))
        .collect();
    assert_eq!(
        computers,
        [
            (TaskStatus::NotStarted, None),
            // Running since 1 Feb, nothing reported.
            (TaskStatus::AtRisk, None),
            // 12 of 24 = 50% against a pace of 60 / 150 days = 40%.
            (TaskStatus::OnTrack, Some(12)),
            // The deadline (30 Jun) passed.
            (TaskStatus::Overdue, Some(12)),
            (TaskStatus::Done, Some(12)),
        ]
    );
    assert_eq!(jul1.dashboard.overdue, vec!["may-tinh".parse().unwrap()]);
    assert_eq!(
        jul1.dashboard.overdue_by_unit["Văn phòng - Thống kê"],
        vec!["may-tinh".parse().unwrap()]
    );

    // The events behind the manual figure: the report in force and the completion, by seq and
    // event id.
    let task = |a: &PlanAnswer, id: &str| {
        a.dashboard
            .tasks
            .iter()
            .find(|x| x.task.as_str() == id)
            .unwrap()
            .clone()
    };
    let report = task(&apr2, "may-tinh").report.unwrap();
    assert_eq!(
        (report.seq, report.reporter.as_str()),
        (b.report_seq, "kh-01")
    );
    let row = apr2.events.iter().find(|e| e.seq == b.report_seq).unwrap();
    assert_eq!(row.event_id, b.report_event_id);
    assert_eq!(row.event_type, "plan.progress_reported");
    assert!(row.counted);
    assert_eq!(row.at, "2023-04-01 09:00");
    // Before its date the same report is listed but not counted.
    let row = mar1.events.iter().find(|e| e.seq == b.report_seq).unwrap();
    assert!(!row.counted);
    assert_eq!(task(&jul11, "may-tinh").completed_seq, Some(b.done_seq));
    assert_eq!(mar1.events.len(), 5);

    // The derived on-time share appears exactly with the approval of 7 Mar 10:00.
    assert_eq!(
        status(&before.dashboard, "ty-le-dung-han"),
        (TaskStatus::AtRisk, None)
    );
    assert_eq!(
        status(&after.dashboard, "ty-le-dung-han"),
        (TaskStatus::OnTrack, Some(10_000))
    );
    let derived = task(&after, "ty-le-dung-han").derived.unwrap();
    assert_eq!(
        derived.figure,
        "stats.on_time_share unit=000.33.22.H05 from=2023-01-01 to=2023-03-07"
    );
    assert_eq!(derived.codes, vec![b.dossier.clone()]);
    assert_eq!(derived.seq_range, (b.dossier_first_seq, b.approved_seq));
    assert_eq!(
        derived.parts,
        vec![
            ("resolved".to_owned(), 1),
            ("resolved_early".to_owned(), 1),
            ("resolved_on_time".to_owned(), 0),
            ("resolved_late".to_owned(), 0),
        ]
    );
    // Weighted progress on 2 Apr: computers 50%, on-time share 100% (both weight 1).
    assert_eq!(apr2.dashboard.progress_bp, 7_500);
}

#[test]
fn plan_command_prints_json_csv_and_table_deterministically() {
    let rt = runtime();
    let b = rt.block_on(build());
    let run = |path: &std::path::Path, format| {
        let out =
            motcua_replay::cli::plan(path, "35-kh-ubnd-2023", "2023-04-02T12:00", format, false)
                .unwrap();
        assert_eq!(out.status, 0);
        out.stdout
    };
    let json = run(&b.archive, Format::Json);
    assert_eq!(run(&b.archive, Format::Json), json, "byte-identical JSON");
    assert_eq!(run(&b.data, Format::Json), json, "data directory = archive");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["as_of"], "2023-04-02 12:00");
    assert_eq!(v["dashboard"]["progress_bp"], 7_500);
    assert_eq!(v["dashboard"]["counts"]["on_track"], 2);

    let csv = run(&b.archive, Format::Csv);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("task,status,weight,value,"));
    assert!(lines
        .iter()
        .any(|l| l.contains(&b.report_event_id) && l.starts_with("may-tinh,on_track,")));
    assert!(lines
        .iter()
        .any(|l| l.starts_with("ty-le-dung-han,on_track,") && l.contains(b.dossier.as_str())));

    let table = run(&b.archive, Format::Table);
    assert!(
        table.contains("plan 35/KH-UBND (35-kh-ubnd-2023)"),
        "{table}"
    );
    assert!(table.contains("as of 2023-04-02 12:00: weighted progress 75.00%"));
    assert!(table.contains(&format!("{}..{}", b.dossier_first_seq, b.approved_seq)));
    assert!(table.contains(&b.report_event_id));

    // Before the plan's date: a usage error naming the plan.
    let err = motcua_replay::cli::plan(
        &b.archive,
        "35-kh-ubnd-2023",
        "2023-01-20",
        Format::Json,
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("no plan 35-kh-ubnd-2023"), "{err}");
}
