//! The demo commune's reform plan: "Kế hoạch số 35/KH-UBND ngày 26/01/2023" of UBND xã Dương
//! Phong, its tasks and the planner's progress reports through 2023, recorded through the
//! engine's plan service (never written into a read model).
//!
//! Seeded after the dossier history (1 Jan - 31 Aug 2023), so the derived indicators read the
//! same figures the statistics page shows: the desk's on-time rate is 100% for Jan-Aug (216
//! early + 126 on time of 342), all the commune's procedures are published at the desk, and
//! the online electronic copy certifications (procedure 2.001035) number 187 by 31 Aug.
//!
//! Each step carries its own business time (`now`): the planner records each report on the day
//! it was made. Reports dated after the dossier history (Sep-Dec) are fine: a plan's reports are
//! not dossier events.

use chrono::NaiveDate;
use motcua_engine::domain::calendar::at_local;
use motcua_engine::domain::plan::{DerivedIndicator, Indicator, IndicatorSource, Target, TaskSpec};
use motcua_engine::domain::types::{PlanId, Timestamp, UnitCode};
use motcua_engine::domain::ActorRef;
use motcua_engine::plan_service::{PlanCommand, PlanService, PlanServiceError, WriteOptions};

/// The demo plan's id (stream `plan/35-kh-ubnd-2023`).
pub const DEMO_PLAN_ID: &str = "35-kh-ubnd-2023";
/// The demo planner (Bế Thị Hạnh, cán bộ theo dõi CCHC) who records every step.
pub const DEMO_PLANNER: &str = "kh-01";
/// The commune.
pub const DEMO_UNIT: &str = "000.33.22.H05";
/// Electronic copy certification (chứng thực bản sao điện tử từ bản chính).
pub const ECOPY_PROCEDURE: &str = "2.001035";

/// One command of the demo plan and when the planner records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPlanStep {
    pub plan: PlanId,
    /// Business time of the step (passed as `now`).
    pub now: Timestamp,
    pub command: PlanCommand,
}

/// Why the demo plan could not be built or recorded.
#[derive(Debug, thiserror::Error)]
pub enum DemoPlanError {
    #[error("demo plan data: {0}")]
    Data(String),
    #[error("step {step} ({action}): {source}")]
    Step {
        step: usize,
        action: &'static str,
        source: PlanServiceError,
    },
}

fn parse<T: std::str::FromStr>(s: &str) -> Result<T, DemoPlanError>
where
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e: T::Err| DemoPlanError::Data(format!("{s:?}: {e}")))
}

fn date(m: u32, d: u32) -> Result<NaiveDate, DemoPlanError> {
    NaiveDate::from_ymd_opt(2023, m, d).ok_or_else(|| DemoPlanError::Data(format!("2023-{m}-{d}")))
}

fn at(m: u32, d: u32, hh: u32, mm: u32) -> Result<Timestamp, DemoPlanError> {
    at_local(2023, m, d, hh, mm)
        .ok_or_else(|| DemoPlanError::Data(format!("2023-{m}-{d} {hh}:{mm}")))
}

const OFFICE: &str = "Văn phòng - Thống kê";
const DESK: &str = "Bộ phận Một cửa";
const JUSTICE: &str = "Công chức Tư pháp - Hộ tịch";
const CULTURE: &str = "Công chức Văn hoá - Xã hội";

struct TaskDef {
    id: &'static str,
    title: &'static str,
    responsible: &'static str,
    start: (u32, u32),
    deadline: (u32, u32),
    weight: u32,
    indicator: &'static str,
    source: IndicatorSource,
    target: Target,
}

fn tasks() -> Result<Vec<TaskDef>, DemoPlanError> {
    let ecopy = parse(ECOPY_PROCEDURE)?;
    Ok(vec![
        TaskDef {
            id: "niem-yet-tthc",
            title: "Niêm yết công khai 100% thủ tục hành chính tại Bộ phận Một cửa",
            responsible: DESK,
            start: (2, 1),
            deadline: (3, 31),
            weight: 2,
            indicator: "Tỷ lệ TTHC được niêm yết tại Bộ phận Một cửa",
            source: IndicatorSource::Derived(DerivedIndicator::PublishedAtDeskShare),
            target: Target::AtLeast(10_000),
        },
        TaskDef {
            id: "ty-le-dung-han",
            title: "Duy trì tỷ lệ hồ sơ giải quyết đúng và trước hạn từ 98% trở lên",
            responsible: DESK,
            start: (2, 1),
            deadline: (12, 31),
            weight: 3,
            indicator: "Tỷ lệ hồ sơ giải quyết đúng và trước hạn",
            source: IndicatorSource::Derived(DerivedIndicator::OnTimeShare),
            target: Target::KeepAtLeast(9_800),
        },
        TaskDef {
            id: "tai-khoan-dvc",
            title: "Hỗ trợ người dân đăng ký tài khoản trên Cổng Dịch vụ công quốc gia",
            responsible: DESK,
            start: (2, 1),
            deadline: (12, 15),
            weight: 2,
            indicator: "Số tài khoản dịch vụ công được hỗ trợ đăng ký",
            source: IndicatorSource::Manual,
            target: Target::AtLeast(400),
        },
        TaskDef {
            id: "chung-thuc-dien-tu",
            title: "Triển khai chứng thực bản sao điện tử từ bản chính trực tuyến",
            responsible: JUSTICE,
            start: (2, 1),
            deadline: (12, 31),
            weight: 2,
            indicator: "Số hồ sơ chứng thực bản sao điện tử đã giải quyết",
            source: IndicatorSource::Derived(
                DerivedIndicator::ElectronicCopyCertificationsResolved { procedure: ecopy },
            ),
            target: Target::AtLeast(150),
        },
        TaskDef {
            id: "may-tinh",
            title: "Trang bị máy vi tính cho 100% cán bộ, công chức",
            responsible: OFFICE,
            start: (2, 1),
            deadline: (6, 30),
            weight: 1,
            indicator: "Số cán bộ, công chức có máy vi tính (trên 24)",
            source: IndicatorSource::Manual,
            target: Target::AtLeast(24),
        },
        TaskDef {
            id: "ky-nang-may-tinh",
            title: "100% cán bộ, công chức sử dụng thành thạo máy vi tính trong công việc",
            responsible: OFFICE,
            start: (2, 1),
            deadline: (10, 31),
            weight: 1,
            indicator: "Số cán bộ, công chức đạt kiểm tra kỹ năng (trên 24)",
            source: IndicatorSource::Manual,
            target: Target::AtLeast(24),
        },
        TaskDef {
            id: "diet-virus",
            title: "Cài đặt phần mềm diệt virus có bản quyền trên 100% máy vi tính",
            responsible: OFFICE,
            start: (2, 1),
            deadline: (4, 30),
            weight: 1,
            indicator: "Tỷ lệ máy vi tính có phần mềm diệt virus bản quyền",
            source: IndicatorSource::Manual,
            target: Target::AtLeast(10_000),
        },
        TaskDef {
            id: "mang-lan",
            title: "Kết nối Internet băng thông rộng và mạng LAN cho các máy vi tính \
                    (trừ máy soạn thảo văn bản mật)",
            responsible: OFFICE,
            start: (2, 1),
            deadline: (5, 31),
            weight: 1,
            indicator: "Số máy vi tính được kết nối (trên 23)",
            source: IndicatorSource::Manual,
            target: Target::AtLeast(23),
        },
        TaskDef {
            id: "ra-soat-tthc",
            title: "Rà soát, cập nhật TTHC mới ban hành, sửa đổi hằng quý",
            responsible: JUSTICE,
            start: (1, 27),
            deadline: (12, 31),
            weight: 1,
            indicator: "Số lần rà soát trong năm",
            source: IndicatorSource::Manual,
            target: Target::AtLeast(4),
        },
        TaskDef {
            id: "tuyen-truyen",
            title: "Tập huấn, tuyên truyền về cải cách hành chính và dịch vụ công trực tuyến",
            responsible: CULTURE,
            start: (2, 1),
            deadline: (11, 30),
            weight: 1,
            indicator: "Số buổi tập huấn, tuyên truyền",
            source: IndicatorSource::Manual,
            target: Target::AtLeast(8),
        },
        TaskDef {
            id: "ty-le-truc-tuyen",
            title: "Nâng tỷ lệ hồ sơ tiếp nhận trực tuyến",
            responsible: DESK,
            start: (2, 1),
            deadline: (12, 31),
            weight: 1,
            indicator: "Tỷ lệ hồ sơ tiếp nhận trực tuyến trên tổng số hồ sơ tiếp nhận",
            source: IndicatorSource::Derived(DerivedIndicator::OnlineShareOfReceived),
            target: Target::AtLeast(3_000),
        },
        TaskDef {
            id: "ky-so-cong-dan",
            title: "Hướng dẫn công dân sử dụng chữ ký số khi nộp hồ sơ trực tuyến",
            responsible: DESK,
            start: (3, 1),
            deadline: (12, 31),
            weight: 1,
            indicator: "Số công dân được hướng dẫn",
            source: IndicatorSource::Manual,
            target: Target::AtLeast(50),
        },
    ])
}

fn spec(t: &TaskDef) -> Result<TaskSpec, DemoPlanError> {
    Ok(TaskSpec {
        id: parse(t.id)?,
        title: t.title.into(),
        responsible: t.responsible.into(),
        start: date(t.start.0, t.start.1)?,
        deadline: date(t.deadline.0, t.deadline.1)?,
        weight: t.weight,
        indicator: Indicator {
            name: t.indicator.into(),
            source: t.source.clone(),
            target: t.target,
        },
    })
}

/// What the planner records on one day of the year, after the plan and its tasks are issued.
#[derive(Clone, Copy)]
enum Step {
    /// A progress report: the indicator's value, the evidence, an attached file (or "").
    Report {
        value: i64,
        evidence: &'static str,
        link: &'static str,
    },
    /// The task is done, with the planner's closing note.
    Complete(&'static str),
    /// The task is amended: its deadline moves to this day of 2023.
    MoveDeadline { month: u32, day: u32 },
    /// The task is cancelled, with the reason.
    Cancel(&'static str),
}

/// (month, day, hour, minute) in 2023, local time.
type When = (u32, u32, u32, u32);

/// The planner's year, in the order it happened: (when, task, step).
#[rustfmt::skip]
const YEAR: &[(When, &str, Step)] = &[
    // February.
    ((2, 20, 16, 0), "may-tinh", Step::Report { value: 21, link: "to-trinh-mua-may-tinh.pdf",
        evidence: "21/24 cán bộ, công chức có máy vi tính; đã đề nghị mua bổ sung 3 máy" }),
    ((2, 24, 15, 30), "tuyen-truyen", Step::Report { value: 2, link: "",
        evidence: "Phát 2 bản tin trên loa truyền thanh xã về dịch vụ công trực tuyến" }),
    // March.
    ((3, 10, 10, 0), "diet-virus", Step::Report { value: 10_000, link: "hop-dong-12-hd.pdf",
        evidence: "24/24 máy vi tính đã cài phần mềm diệt virus có bản quyền (hợp đồng số 12/HĐ)" }),
    ((3, 10, 10, 5), "diet-virus", Step::Complete("Nghiệm thu ngày 10/3/2023")),
    ((3, 31, 9, 0), "ra-soat-tthc", Step::Report { value: 1, link: "bao-cao-ra-soat-quy-1.pdf",
        evidence: "Rà soát quý I: cập nhật 3 TTHC lĩnh vực hộ tịch theo Quyết định công bố của tỉnh" }),
    ((3, 31, 9, 30), "tai-khoan-dvc", Step::Report { value: 85, link: "so-theo-doi-quy-1.pdf",
        evidence: "Quý I: hỗ trợ 85 công dân đăng ký tài khoản (sổ theo dõi tại Bộ phận Một cửa)" }),
    ((3, 31, 10, 0), "mang-lan", Step::Report { value: 20, link: "",
        evidence: "20/23 máy đã kết nối mạng LAN và Internet; chờ thi công nhà khối đoàn thể" }),
    ((3, 31, 16, 0), "niem-yet-tthc", Step::Complete("Toàn bộ TTHC thuộc thẩm quyền của xã niêm yết tại Bộ phận Một cửa")),
    // April - June.
    ((4, 28, 15, 0), "ky-nang-may-tinh", Step::Report { value: 16, link: "ket-qua-kiem-tra-dot-1.pdf",
        evidence: "Kiểm tra kỹ năng đợt 1: 16/24 đạt" }),
    ((4, 28, 16, 0), "tuyen-truyen", Step::Report { value: 4, link: "",
        evidence: "Tập huấn cho trưởng thôn (1 buổi) và tuyên truyền tại họp thôn Nà Cù (1 buổi)" }),
    ((5, 15, 9, 0), "may-tinh", Step::Report { value: 24, link: "bien-ban-ban-giao.pdf",
        evidence: "Nhận bàn giao 3 máy vi tính; 24/24 cán bộ, công chức có máy" }),
    ((5, 16, 8, 0), "may-tinh", Step::Complete("24/24")),
    // The contractor slipped: the deadline moves to 30 June.
    ((5, 29, 10, 0), "mang-lan", Step::MoveDeadline { month: 6, day: 30 }),
    ((6, 15, 14, 0), "mang-lan", Step::Report { value: 23, link: "bien-ban-nghiem-thu-mang.pdf",
        evidence: "23/23 máy kết nối; máy soạn thảo văn bản mật không kết nối theo quy định" }),
    ((6, 15, 14, 30), "mang-lan", Step::Complete("Nghiệm thu 15/6/2023")),
    ((6, 20, 9, 0), "ky-so-cong-dan", Step::Cancel("Chuyển sang Kế hoạch năm 2024 theo hướng dẫn của UBND huyện")),
    ((6, 30, 9, 0), "ra-soat-tthc", Step::Report { value: 2, link: "bao-cao-ra-soat-quy-2.pdf",
        evidence: "Rà soát quý II: không phát sinh TTHC mới" }),
    ((6, 30, 9, 30), "tai-khoan-dvc", Step::Report { value: 210, link: "so-theo-doi-quy-2.pdf",
        evidence: "Lũy kế 6 tháng: 210 tài khoản" }),
    // July - December.
    ((7, 28, 15, 0), "ky-nang-may-tinh", Step::Report { value: 22, link: "ket-qua-kiem-tra-dot-2.pdf",
        evidence: "Kiểm tra kỹ năng đợt 2: 22/24 đạt" }),
    ((8, 25, 16, 0), "tuyen-truyen", Step::Report { value: 6, link: "",
        evidence: "Tuyên truyền tại chợ phiên và họp thôn Bản Piềng" }),
    ((9, 29, 9, 0), "ra-soat-tthc", Step::Report { value: 3, link: "bao-cao-ra-soat-quy-3.pdf",
        evidence: "Rà soát quý III: cập nhật 2 TTHC lĩnh vực chứng thực" }),
    ((9, 29, 9, 30), "tai-khoan-dvc", Step::Report { value: 330, link: "so-theo-doi-quy-3.pdf",
        evidence: "Lũy kế 9 tháng: 330 tài khoản" }),
    ((10, 27, 15, 0), "ky-nang-may-tinh", Step::Report { value: 24, link: "ket-qua-kiem-tra-dot-3.pdf",
        evidence: "Kiểm tra kỹ năng đợt 3: 24/24 đạt" }),
    ((10, 27, 15, 30), "ky-nang-may-tinh", Step::Complete("24/24")),
    ((11, 24, 16, 0), "tuyen-truyen", Step::Report { value: 8, link: "",
        evidence: "Hội nghị tập huấn dịch vụ công trực tuyến cho cán bộ thôn (2 buổi)" }),
    ((11, 24, 16, 30), "tuyen-truyen", Step::Complete("8 buổi")),
    ((12, 15, 9, 0), "tai-khoan-dvc", Step::Report { value: 412, link: "so-theo-doi-quy-4.pdf",
        evidence: "Lũy kế năm: 412 tài khoản" }),
    ((12, 15, 9, 30), "tai-khoan-dvc", Step::Complete("412/400")),
    ((12, 22, 9, 0), "ra-soat-tthc", Step::Report { value: 4, link: "bao-cao-ra-soat-quy-4.pdf",
        evidence: "Rà soát quý IV: cập nhật 1 TTHC lĩnh vực đất đai" }),
    ((12, 22, 9, 30), "ra-soat-tthc", Step::Complete("4 lần rà soát")),
];

/// Every command of the demo plan, in the order (and at the times) the planner records them.
pub fn demo_plan_commands() -> Result<Vec<DemoPlanStep>, DemoPlanError> {
    let plan: PlanId = parse(DEMO_PLAN_ID)?;
    let unit: UnitCode = parse(DEMO_UNIT)?;
    let mut steps = Vec::new();
    let mut push = |now: Timestamp, command: PlanCommand| {
        steps.push(DemoPlanStep {
            plan: plan.clone(),
            now,
            command,
        })
    };
    push(
        at(1, 26, 14, 0)?,
        PlanCommand::Issue {
            number: "35/KH-UBND".into(),
            date: date(1, 26)?,
            unit,
            year: 2023,
            title: "Kế hoạch cải cách hành chính năm 2023 của UBND xã Dương Phong".into(),
            legal_basis: "Nghị quyết số 76/NQ-CP ngày 15/7/2021 của Chính phủ; Kế hoạch cải \
                          cách hành chính năm 2023 của UBND huyện Bạch Thông"
                .into(),
        },
    );
    let defs = tasks()?;
    for (i, t) in defs.iter().enumerate() {
        push(at(1, 26, 14, 5 + i as u32)?, PlanCommand::AddTask(spec(t)?));
    }
    let task = |id: &str| parse::<motcua_engine::domain::types::TaskId>(id);
    for &((m, d, hh, mm), id, step) in YEAR {
        let command = match step {
            Step::Report {
                value,
                evidence,
                link,
            } => PlanCommand::ReportProgress {
                task: task(id)?,
                value,
                evidence: evidence.into(),
                links: if link.is_empty() {
                    Vec::new()
                } else {
                    vec![format!("/files/35-kh-ubnd/{link}")]
                },
            },
            Step::Complete(note) => PlanCommand::CompleteTask {
                task: task(id)?,
                note: note.into(),
            },
            Step::MoveDeadline { month, day } => {
                let def = defs
                    .iter()
                    .find(|t| t.id == id)
                    .ok_or_else(|| DemoPlanError::Data(id.into()))?;
                let mut s = spec(def)?;
                s.deadline = date(month, day)?;
                PlanCommand::AmendTask(s)
            }
            Step::Cancel(reason) => PlanCommand::CancelTask {
                task: task(id)?,
                reason: reason.into(),
            },
        };
        push(at(m, d, hh, mm)?, command);
    }
    Ok(steps)
}

/// Records the demo plan through `plans` as `planner` (the demo's `kh-01`). Idempotent across
/// restarts only through the caller's "seed once" rule: run it right after the dossier history.
/// Returns the seq of the last event.
pub async fn seed_plan(plans: &PlanService, planner: &ActorRef) -> Result<u64, DemoPlanError> {
    let mut last = 0;
    for (i, step) in demo_plan_commands()?.into_iter().enumerate() {
        let action = step.command.action();
        let o = plans
            .execute(
                &step.plan,
                step.command,
                planner,
                step.now,
                WriteOptions::default(),
            )
            .await
            .map_err(|source| DemoPlanError::Step {
                step: i,
                action,
                source,
            })?;
        last = o.seq;
    }
    Ok(last)
}
