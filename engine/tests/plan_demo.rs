//! The demo commune's plan (`http/src/demo/plan.rs`, included here by path so the engine's
//! tests check the demo data against the real plan service): every step is accepted, and the
//! dashboard tells the year's story at chosen dates.

mod plan_support;

#[path = "../../http/src/demo/plan.rs"]
#[allow(dead_code)]
mod demo_plan;

use motcua_engine::domain::plan::{NoDerivedFigures, TaskStatus};
use plan_support::*;

#[tokio::test]
async fn the_demo_plan_is_accepted_and_reads_as_its_year() {
    let f = fixture().await;
    let steps = demo_plan::demo_plan_commands().unwrap();
    assert!(steps.windows(2).all(|w| w[0].now <= w[1].now));
    let last = demo_plan::seed_plan(&f.plans, &planner()).await.unwrap();
    assert_eq!(last, f.log.head().seq);
    let plan = f.plans.load(&plan_id()).unwrap();
    assert_eq!(plan.version, steps.len() as u64);
    assert_eq!(plan.state.number, "35/KH-UBND");
    assert_eq!(plan.state.tasks.len(), 12);

    let at = |when| {
        f.plans
            .dashboard_with(&plan_id(), when, &NoDerivedFigures)
            .unwrap()
            .unwrap()
    };
    let status = |p: &motcua_engine::domain::plan::PlanProgress, id: &str| {
        let t = p.tasks.iter().find(|t| t.task.as_str() == id).unwrap();
        (t.status, t.value)
    };
    let aug = at(t(8, 31, 17, 0));
    assert_eq!(status(&aug, "may-tinh"), (TaskStatus::Done, Some(24)));
    assert_eq!(status(&aug, "diet-virus"), (TaskStatus::Done, Some(10_000)));
    assert_eq!(status(&aug, "mang-lan"), (TaskStatus::Done, Some(23)));
    assert_eq!(status(&aug, "ky-so-cong-dan").0, TaskStatus::Cancelled);
    // 22 of 24 on 28 Jul; the pace on 31 Aug (1 Feb - 31 Oct) is ~78%: 91.7% is on track.
    assert_eq!(
        status(&aug, "ky-nang-may-tinh"),
        (TaskStatus::OnTrack, Some(22))
    );
    // 210 of 400 accounts (52.5%) against a pace of ~66%: at risk.
    assert_eq!(
        status(&aug, "tai-khoan-dvc"),
        (TaskStatus::AtRisk, Some(210))
    );
    // The LAN task's deadline was moved to 30 Jun on 29 May; before that it read 31 May.
    let may = at(t(5, 20, 12, 0));
    let lan = may
        .tasks
        .iter()
        .find(|t| t.task.as_str() == "mang-lan")
        .unwrap();
    assert_eq!(lan.deadline, day(5, 31));

    let dec = at(t(12, 31, 17, 0));
    for id in [
        "niem-yet-tthc",
        "tai-khoan-dvc",
        "may-tinh",
        "ky-nang-may-tinh",
        "diet-virus",
        "mang-lan",
        "ra-soat-tthc",
        "tuyen-truyen",
    ] {
        assert_eq!(status(&dec, id).0, TaskStatus::Done, "{id}");
    }
    assert_eq!(dec.counts["cancelled"], 1);
    assert!(dec.overdue.is_empty());
}
