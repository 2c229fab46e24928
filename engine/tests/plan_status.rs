//! A task's status as time passes, asked "as of T" at chosen instants over a plan recorded in a
//! real log through the plan service: the answer for T depends only on the events dated up to
//! T, so a later amendment, completion or reopening never rewrites what T showed.

mod plan_support;

use motcua_engine::domain::plan::{IndicatorSource, NoDerivedFigures, Target, TaskStatus};
use motcua_engine::domain::types::{TaskId, Timestamp};
use motcua_engine::plan_service::PlanCommand;
use plan_support::*;

const OFFICE: &str = "Văn phòng HĐND-UBND";

fn computers() -> TaskId {
    "computers".parse().unwrap()
}

#[tokio::test]
async fn task_status_moves_with_time_and_as_of_answers_never_change() {
    let f = fixture().await;
    let plan = plan_id();
    let issued = f.plan(&plan, issue(), t(1, 26, 9, 0)).await;
    let added = f
        .plan(
            &plan,
            PlanCommand::AddTask(task(
                "computers",
                OFFICE,
                (day(2, 1), day(11, 30)),
                1,
                IndicatorSource::Manual,
                Target::AtLeast(24),
            )),
            t(1, 26, 10, 0),
        )
        .await;
    let antivirus = f
        .plan(
            &plan,
            PlanCommand::AddTask(task(
                "antivirus",
                "Công chức Văn hoá - Xã hội",
                (day(2, 1), day(6, 30)),
                2,
                IndicatorSource::Manual,
                Target::AtLeast(10_000),
            )),
            t(1, 26, 10, 5),
        )
        .await;
    let report = |task: &str, value: i64, evidence: &str| PlanCommand::ReportProgress {
        task: task.parse().unwrap(),
        value,
        evidence: evidence.into(),
        links: vec!["https://duongphong.backan.gov.vn/bien-ban".into()],
    };
    let r1 = f
        .plan(
            &plan,
            report("computers", 12, "12 of 24 officials"),
            t(4, 1, 9, 0),
        )
        .await;
    let av = f
        .plan(
            &plan,
            report("antivirus", 10_000, "10 of 10 licensed"),
            t(3, 1, 9, 0),
        )
        .await;
    let av_done = f
        .plan(
            &plan,
            PlanCommand::CompleteTask {
                task: "antivirus".parse().unwrap(),
                note: "done".into(),
            },
            t(3, 2, 9, 0),
        )
        .await;
    let r2 = f
        .plan(
            &plan,
            report("computers", 18, "18 of 24 officials"),
            t(8, 20, 9, 0),
        )
        .await;
    // The deadline moves from 30 Nov to 15 Dec on 1 Sep.
    let mut amended = task(
        "computers",
        OFFICE,
        (day(2, 1), day(12, 15)),
        1,
        IndicatorSource::Manual,
        Target::AtLeast(24),
    );
    amended.title = "Trang bị máy tính cho 100% cán bộ, công chức".into();
    let amend = f
        .plan(&plan, PlanCommand::AmendTask(amended), t(9, 1, 9, 0))
        .await;
    let done = f
        .plan(
            &plan,
            PlanCommand::CompleteTask {
                task: computers(),
                note: "đã bàn giao".into(),
            },
            t(12, 10, 10, 0),
        )
        .await;
    let reopened = f
        .plan(
            &plan,
            PlanCommand::ReopenTask {
                task: computers(),
                reason: "chỉ 18 of 24 máy đã bàn giao".into(),
            },
            t(12, 12, 10, 0),
        )
        .await;

    let at = |when: Timestamp| {
        let p = f
            .plans
            .dashboard_with(&plan, when, &NoDerivedFigures)
            .unwrap()
            .expect("issued");
        let c = p
            .tasks
            .iter()
            .find(|x| x.task == computers())
            .cloned()
            .unwrap();
        (p, c)
    };
    // Before the plan's date there is no plan.
    assert!(f
        .plans
        .dashboard_with(&plan, t(1, 25, 12, 0), &NoDerivedFigures)
        .unwrap()
        .is_none());
    // The plan is issued but the task not yet added (added 26 Jan 10:00).
    let p = f
        .plans
        .dashboard_with(&plan, t(1, 26, 9, 30), &NoDerivedFigures)
        .unwrap()
        .unwrap();
    assert!(p.tasks.is_empty());
    assert_eq!(p.issued_seq, issued);

    let expectations = [
        (t(1, 30, 12, 0), TaskStatus::NotStarted, None),
        // Running, nothing reported.
        (t(3, 1, 12, 0), TaskStatus::AtRisk, None),
        // 12 of 24 = 50% on 1 Apr; the pace on 2 Apr is ~20%.
        (t(4, 2, 12, 0), TaskStatus::OnTrack, Some(12)),
        // The pace on 15 Aug is ~64.5% and the value still 50%.
        (t(8, 15, 12, 0), TaskStatus::AtRisk, Some(12)),
        // 18 of 24 = 75% on 20 Aug; the pace on 21 Aug is ~66.5%.
        (t(8, 21, 12, 0), TaskStatus::OnTrack, Some(18)),
        // With the deadline of 30 Nov this would be overdue; it moved to 15 Dec on 1 Sep.
        (t(12, 5, 12, 0), TaskStatus::AtRisk, Some(18)),
        (t(12, 11, 12, 0), TaskStatus::Done, Some(18)),
        (t(12, 13, 12, 0), TaskStatus::AtRisk, Some(18)),
        (t(12, 16, 0, 0), TaskStatus::Overdue, Some(18)),
    ];
    for (when, status, value) in expectations {
        let (_, c) = at(when);
        assert_eq!((c.status, c.value), (status, value), "as of {when:?}");
    }

    // The spec in force follows the amendment's date.
    let (_, before) = at(t(8, 31, 12, 0));
    assert_eq!(before.deadline, day(11, 30));
    assert_eq!(before.seqs, vec![added, r1, r2]);
    let (_, after) = at(t(9, 2, 12, 0));
    assert_eq!(after.deadline, day(12, 15));
    assert_eq!(after.title, "Trang bị máy tính cho 100% cán bộ, công chức");
    assert_eq!(after.seqs, vec![added, r1, r2, amend]);

    // The report in force carries its evidence, reporter and seq.
    let report = after.report.unwrap();
    assert_eq!(
        (report.seq, report.value, report.reporter.as_str()),
        (r2, 18, "kh-01")
    );
    assert_eq!(report.evidence, "18 of 24 officials");

    // Done on 11 Dec: the completion's seq is behind the figure, progress counts as 100%.
    let (p, c) = at(t(12, 11, 12, 0));
    assert_eq!(c.completed_seq, Some(done));
    assert_eq!(c.progress_bp, 10_000);
    assert_eq!(p.progress_bp, 10_000);
    assert_eq!(c.seqs, vec![added, r1, r2, amend, done]);

    // Weighted progress on 15 Aug: computers 50% (weight 1), antivirus done (weight 2).
    let (p, _) = at(t(8, 15, 12, 0));
    assert_eq!(p.progress_bp, (5_000 + 2 * 10_000) / 3);
    let av_task = p
        .tasks
        .iter()
        .find(|x| x.task.as_str() == "antivirus")
        .unwrap();
    assert_eq!(av_task.status, TaskStatus::Done);
    assert_eq!(av_task.seqs, vec![antivirus, av, av_done]);
    assert_eq!(p.counts["done"], 1);
    assert_eq!(p.counts["at_risk"], 1);
    assert_eq!(p.counts["overdue"], 0);

    // Overdue on 16 Dec, listed under its responsible unit; the seqs include the reopening.
    let (p, c) = at(t(12, 16, 0, 0));
    assert_eq!(p.overdue, vec![computers()]);
    assert_eq!(p.overdue_by_unit[OFFICE], vec![computers()]);
    assert_eq!(c.seqs, vec![added, r1, r2, amend, done, reopened]);
    assert_eq!(c.completed_seq, None);
    assert_eq!(p.progress_bp, (7_500 + 2 * 10_000) / 3);

    // JSON for the dashboard: statuses in snake case.
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["tasks"][1]["status"], "overdue");
    assert_eq!(json["overdue_by_unit"][OFFICE][0], "computers");
}

#[tokio::test]
async fn cancelled_tasks_leave_the_weighted_progress() {
    let f = fixture().await;
    let plan = plan_id();
    f.plan(&plan, issue(), t(1, 26, 9, 0)).await;
    for (id, weight) in [("a", 1), ("b", 3)] {
        f.plan(
            &plan,
            PlanCommand::AddTask(task(
                id,
                OFFICE,
                (day(2, 1), day(12, 31)),
                weight,
                IndicatorSource::Manual,
                Target::AtLeast(4),
            )),
            t(1, 26, 10, 0),
        )
        .await;
    }
    f.plan(
        &plan,
        PlanCommand::ReportProgress {
            task: "a".parse().unwrap(),
            value: 1,
            evidence: "1 review".into(),
            links: vec![],
        },
        t(3, 31, 16, 0),
    )
    .await;
    let cancel = f
        .plan(
            &plan,
            PlanCommand::CancelTask {
                task: "b".parse().unwrap(),
                reason: "gộp vào nhiệm vụ a".into(),
            },
            t(5, 1, 9, 0),
        )
        .await;
    let progress = |when| {
        f.plans
            .dashboard_with(&plan, when, &NoDerivedFigures)
            .unwrap()
            .unwrap()
    };
    // Before the cancellation: a at 25% (weight 1), b at 0% (weight 3).
    let p = progress(t(4, 30, 12, 0));
    assert_eq!(p.progress_bp, 2_500 / 4);
    // After: only a counts.
    let p = progress(t(5, 2, 12, 0));
    assert_eq!(p.progress_bp, 2_500);
    let b = p.tasks.iter().find(|x| x.task.as_str() == "b").unwrap();
    assert_eq!(b.status, TaskStatus::Cancelled);
    assert_eq!(b.seqs.last(), Some(&cancel));
}
