//! The plan service's refusals on a real log: a non-planner, a planner of another unit, a stale
//! If-Match, an unknown task, a report on a derived indicator, a future date; each writes
//! nothing. Retries with the same event id record once; concurrent planners without If-Match
//! all land (bounded retry on conflict).

mod plan_support;

use std::sync::Arc;

use motcua_engine::domain::plan::{
    DerivedIndicator, IndicatorSource, PlanError, PlanEvent, PlanRefusal, Target,
};
use motcua_engine::idempotency::{CommandKey, KeyScope};
use motcua_engine::plan_service::{PlanCommand, PlanServiceError, WriteOptions};
use plan_support::*;

fn report(task: &str, value: i64) -> PlanCommand {
    PlanCommand::ReportProgress {
        task: task.parse().unwrap(),
        value,
        evidence: format!("biên bản: {value}"),
        links: vec!["/files/bien-ban-01.pdf".into()],
    }
}

async fn plan_with_tasks(f: &Fixture) {
    let plan = plan_id();
    f.plan(&plan, issue(), t(1, 26, 9, 0)).await;
    f.plan(
        &plan,
        PlanCommand::AddTask(task(
            "computers",
            "Văn phòng",
            (day(2, 1), day(11, 30)),
            1,
            IndicatorSource::Manual,
            Target::AtLeast(24),
        )),
        t(1, 26, 10, 0),
    )
    .await;
    f.plan(
        &plan,
        PlanCommand::AddTask(task(
            "on-time",
            "Bộ phận một cửa",
            (day(2, 1), day(12, 31)),
            2,
            IndicatorSource::Derived(DerivedIndicator::OnTimeShare),
            Target::KeepAtLeast(9_800),
        )),
        t(1, 26, 10, 0),
    )
    .await;
}

#[tokio::test]
async fn refusals_write_nothing() {
    let f = fixture().await;
    plan_with_tasks(&f).await;
    let plan = plan_id();
    let head = f.log.head().seq;
    let version = f.plans.load(&plan).unwrap().version;
    assert_eq!(version, 3);
    let now = t(3, 1, 9, 0);
    let run = |actor, cmd, opts| {
        let f = &f;
        let plan = plan.clone();
        async move { f.plans.execute(&plan, cmd, &actor, now, opts).await }
    };
    let defaults = WriteOptions::default();

    for actor in [leader(), admin(), auditor(), reception(), citizen()] {
        let e = run(actor, report("computers", 1), defaults)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                PlanServiceError::Refused(PlanRefusal::Forbidden {
                    action: "report_progress",
                    ..
                })
            ),
            "{e}"
        );
    }
    let e = run(foreign_planner(), report("computers", 1), defaults)
        .await
        .unwrap_err();
    assert!(
        matches!(e, PlanServiceError::Refused(PlanRefusal::OutOfScope { .. })),
        "{e}"
    );
    // Nor may a foreign planner issue a plan for this unit.
    let e = f
        .plans
        .execute(
            &"khac".parse().unwrap(),
            issue(),
            &foreign_planner(),
            now,
            defaults,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, PlanServiceError::Refused(PlanRefusal::OutOfScope { .. })),
        "{e}"
    );

    let stale = WriteOptions {
        expected: Some(2),
        ..defaults
    };
    let e = run(planner(), report("computers", 1), stale)
        .await
        .unwrap_err();
    assert!(
        matches!(e, PlanServiceError::StaleVersion { current: 3 }),
        "{e}"
    );

    let e = run(planner(), report("printers", 1), defaults)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, PlanServiceError::Refused(PlanRefusal::Plan(PlanError::UnknownTask(t))) if t == "printers"),
        "{e}"
    );
    let e = run(planner(), report("on-time", 9_900), defaults)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            PlanServiceError::Refused(PlanRefusal::Plan(PlanError::Conflict { .. }))
        ),
        "{e}"
    );
    let e = run(
        planner(),
        PlanCommand::ReportProgress {
            task: "computers".parse().unwrap(),
            value: 3,
            evidence: "  ".into(),
            links: vec![],
        },
        defaults,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            PlanServiceError::Refused(PlanRefusal::Plan(PlanError::Invalid { .. }))
        ),
        "{e}"
    );
    let e = run(
        planner(),
        report("computers", 1),
        WriteOptions {
            at: Some(t(3, 2, 9, 0)),
            ..defaults
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, PlanServiceError::Refused(PlanRefusal::FutureTime { .. })),
        "{e}"
    );
    let e = run(
        planner(),
        PlanCommand::ReopenTask {
            task: "computers".parse().unwrap(),
            reason: "x".into(),
        },
        defaults,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            PlanServiceError::Refused(PlanRefusal::Plan(PlanError::Conflict { .. }))
        ),
        "{e}"
    );
    let e = run(planner(), issue(), defaults).await.unwrap_err();
    assert!(
        matches!(
            e,
            PlanServiceError::Refused(PlanRefusal::Plan(PlanError::AlreadyIssued(_)))
        ),
        "{e}"
    );
    let e = f
        .plans
        .execute(
            &"chua-co".parse().unwrap(),
            report("computers", 1),
            &planner(),
            now,
            defaults,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, PlanServiceError::Refused(PlanRefusal::NotFound(_))),
        "{e}"
    );

    assert_eq!(f.log.head().seq, head, "a refusal writes nothing");
    assert_eq!(f.plans.load(&plan).unwrap().version, 3);

    // The right version is accepted, and a report dated before the task's last event is not.
    let ok = run(
        planner(),
        report("computers", 6),
        WriteOptions {
            expected: Some(3),
            at: Some(t(2, 28, 16, 0)),
            ..defaults
        },
    )
    .await
    .unwrap();
    assert_eq!(ok.version, 4);
    let e = run(
        planner(),
        report("computers", 7),
        WriteOptions {
            at: Some(t(2, 27, 16, 0)),
            ..defaults
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            PlanServiceError::Refused(PlanRefusal::Plan(PlanError::Conflict { .. }))
        ),
        "{e}"
    );
    assert_eq!(f.log.head().seq, ok.seq);
}

#[tokio::test]
async fn a_retried_command_is_recorded_once() {
    let f = fixture().await;
    plan_with_tasks(&f).await;
    let plan = plan_id();
    let key = CommandKey::new(KeyScope::Plan, "kh-01", "report-5");
    let opts = WriteOptions {
        key: Some(&key),
        ..WriteOptions::default()
    };
    let first = f
        .plans
        .execute(
            &plan,
            report("computers", 5),
            &planner(),
            t(3, 1, 9, 0),
            opts,
        )
        .await
        .unwrap();
    assert!(!first.deduplicated);
    // Another report lands before the retry: the retry still gets the first answer.
    f.plans
        .execute(
            &plan,
            report("computers", 6),
            &planner(),
            t(3, 1, 9, 0),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    let head = f.log.head().seq;
    // The retry comes a minute later (so its default business time differs): same outcome.
    let again = f
        .plans
        .execute(
            &plan,
            report("computers", 5),
            &planner(),
            t(3, 1, 9, 1),
            opts,
        )
        .await
        .unwrap();
    assert!(again.deduplicated);
    assert_eq!((again.seq, again.version), (first.seq, first.version));
    assert!(matches!(
        again.event,
        PlanEvent::ProgressReported { value: 5, at, .. } if at == t(3, 1, 9, 0)
    ));
    assert_eq!(f.log.head().seq, head);
    let task = &f.plans.load(&plan).unwrap().state.tasks[&"computers".parse().unwrap()];
    assert_eq!(task.reports.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_planners_without_if_match_all_land() {
    let f = Arc::new(fixture().await);
    plan_with_tasks(&f).await;
    let mut handles = Vec::new();
    for i in 0..12i64 {
        let f = f.clone();
        handles.push(tokio::spawn(async move {
            f.plans
                .execute(
                    &plan_id(),
                    report("computers", i),
                    &planner(),
                    t(3, 1, 9, 0),
                    WriteOptions::default(),
                )
                .await
                .unwrap()
                .version
        }));
    }
    let mut versions = Vec::new();
    for h in handles {
        versions.push(h.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (4..16).collect::<Vec<u64>>());
    let loaded = f.plans.load(&plan_id()).unwrap();
    assert_eq!(loaded.version, 15);
    assert_eq!(
        loaded.state.tasks[&"computers".parse().unwrap()]
            .reports
            .len(),
        12
    );
    let list = f.plans.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].number, "35/KH-UBND");
    assert_eq!((list[0].tasks, list[0].version), (2, 15));
}
