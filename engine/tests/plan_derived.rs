//! Derived plan indicators over the live read models: each changes exactly when the dossier
//! events that feed it are recorded (through the real command service), names the figure, the
//! dossiers and the event range behind it, and folding the log as of the same moment gives the
//! same answer as the live read models.

mod plan_support;

use std::collections::BTreeMap;
use std::time::Duration;

use motcua_engine::domain::plan::{
    DerivedIndicator, DerivedValue, IndicatorSource, PlanProgress, Target, TaskStatus,
};
use motcua_engine::domain::types::{Channel, Timestamp};
use motcua_engine::plan_service::PlanCommand;
use motcua_engine::projection::Projections;
use motcua_engine::service::CommandOutcome;
use plan_support::*;

type Values = BTreeMap<String, Option<DerivedValue>>;

fn derived(p: &PlanProgress) -> Values {
    p.tasks
        .iter()
        .map(|t| {
            assert_eq!(t.derived_error, None, "{}", t.task);
            (t.task.to_string(), t.derived.clone())
        })
        .collect()
}

/// The live dashboard at `now` (after the projections caught up) and the as-of fold at `now`
/// must agree on every derived value; returns them.
async fn both(f: &Fixture, proj: &Projections, now: Timestamp) -> (PlanProgress, Values) {
    assert!(
        proj.wait_for(f.log.head().seq, Duration::from_secs(10))
            .await
    );
    let live = f
        .plans
        .dashboard_live(&plan_id(), now, &proj.read_models(), proj.applied_seq())
        .unwrap()
        .unwrap();
    let as_of = f.plans.dashboard_as_of(&plan_id(), now).unwrap().unwrap();
    assert_eq!(derived(&live), derived(&as_of), "live vs as of {now:?}");
    assert_eq!(live, as_of);
    let values = derived(&live);
    (live, values)
}

fn value(v: &Values, task: &str) -> Option<i64> {
    v[task].as_ref().map(|d| d.value)
}

fn first_seq(o: &CommandOutcome) -> u64 {
    o.seq + 1 - o.events.len() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_indicators_follow_the_dossier_events_and_as_of_equals_live() {
    let f = fixture().await;
    let catalog_first = 1;
    let catalog_head = f.log.head().seq;
    let proj = projections(&f.log).await;
    let plan = plan_id();
    f.plan(&plan, issue(), t(1, 26, 9, 0)).await;
    let year = (day(2, 1), day(12, 31));
    for (id, ind, target) in [
        (
            "on-time",
            DerivedIndicator::OnTimeShare,
            Target::KeepAtLeast(9_800),
        ),
        (
            "ecopy",
            DerivedIndicator::ElectronicCopyCertificationsResolved {
                procedure: P_ECOPY.parse().unwrap(),
            },
            Target::AtLeast(2),
        ),
        (
            "online-received",
            DerivedIndicator::OnlineShareOfReceived,
            Target::AtLeast(3_000),
        ),
        (
            "desk-published",
            DerivedIndicator::PublishedAtDeskShare,
            Target::AtLeast(10_000),
        ),
        (
            "online-published",
            DerivedIndicator::PublishedOnlineShare,
            Target::AtLeast(10_000),
        ),
        (
            "birth-minutes",
            DerivedIndicator::AverageProcessingMinutes {
                procedure: P_BIRTH.parse().unwrap(),
            },
            Target::KeepAtMost(900),
        ),
    ] {
        f.plan(
            &plan,
            PlanCommand::AddTask(task(
                id,
                "Bộ phận một cửa",
                year,
                1,
                IndicatorSource::Derived(ind),
                target,
            )),
            t(1, 26, 10, 0),
        )
        .await;
    }

    // Before any dossier: catalog figures only.
    let (p, v) = both(&f, &proj, t(3, 1, 12, 0)).await;
    assert_eq!(value(&v, "on-time"), None);
    assert_eq!(value(&v, "online-received"), None);
    assert_eq!(value(&v, "birth-minutes"), None);
    let ecopy = v["ecopy"].clone().unwrap();
    assert_eq!((ecopy.value, ecopy.seq_range), (0, (0, 0)));
    assert!(ecopy.codes.is_empty());
    let desk = v["desk-published"].clone().unwrap();
    assert_eq!(desk.value, 10_000);
    assert_eq!(
        desk.figure,
        "catalog.published_at_desk_share unit=000.33.22.H05 date=2023-03-01"
    );
    assert_eq!(
        desk.parts,
        vec![
            ("procedures".to_owned(), 2),
            ("published_at_desk".to_owned(), 2)
        ]
    );
    assert_eq!(desk.seq_range.0, catalog_first + 1);
    assert!(desk.seq_range.1 <= catalog_head);
    assert_eq!(value(&v, "online-published"), Some(5_000));
    let status = |p: &PlanProgress, id: &str| {
        p.tasks
            .iter()
            .find(|x| x.task.as_str() == id)
            .unwrap()
            .status
    };
    assert_eq!(status(&p, "desk-published"), TaskStatus::OnTrack);
    // Half the procedures online on 1 Mar is ahead of the linear pace (~8.5%), not yet met.
    assert_eq!(status(&p, "online-published"), TaskStatus::OnTrack);
    let online_published = p
        .tasks
        .iter()
        .find(|x| x.task.as_str() == "online-published")
        .unwrap();
    assert!(!online_published.target_met);
    assert_eq!(online_published.progress_bp, 5_000);

    // Dossier A (birth, desk): received Mon 6 Mar 09:00, due Thu 9 Mar 17:00.
    let a_recv = f.receive(P_BIRTH, t(3, 6, 9, 0)).await;
    let a = a_recv.code.clone();
    let a_first = first_seq(&a_recv);
    let (_, v) = both(&f, &proj, t(3, 6, 9, 0)).await;
    assert_eq!(value(&v, "on-time"), None);
    let online = v["online-received"].clone().unwrap();
    assert_eq!(online.value, 0);
    assert_eq!(online.codes, vec![a.clone()]);
    assert_eq!(online.seq_range, (a_first, a_recv.seq));

    f.assign(&a, t(3, 6, 9, 40)).await;
    let (_, v) = both(&f, &proj, t(3, 6, 9, 40)).await;
    assert_eq!(value(&v, "on-time"), None);

    // Dossier B (birth, desk) received the same morning.
    let b_recv = f.receive(P_BIRTH, t(3, 6, 10, 0)).await;
    let b = b_recv.code.clone();
    f.assign(&b, t(3, 6, 10, 10)).await;
    f.submit_for_signing(&a, t(3, 7, 9, 0)).await;
    let (_, v) = both(&f, &proj, t(3, 7, 9, 0)).await;
    assert_eq!(value(&v, "on-time"), None, "nothing resolved yet");
    assert_eq!(value(&v, "online-received"), Some(0));

    // A is approved on 7 Mar 10:00 (early): the on-time share appears with that event.
    let a_ok = f.approve(&a, t(3, 7, 10, 0)).await;
    let (p, v) = both(&f, &proj, t(3, 7, 10, 0)).await;
    assert_eq!(status(&p, "on-time"), TaskStatus::OnTrack);
    let on_time = v["on-time"].clone().unwrap();
    assert_eq!(on_time.value, 10_000);
    assert_eq!(
        on_time.figure,
        "stats.on_time_share unit=000.33.22.H05 from=2023-01-01 to=2023-03-07"
    );
    assert_eq!(on_time.codes, vec![a.clone()]);
    assert_eq!(on_time.seq_range, (a_first, a_ok.seq));
    assert_eq!(
        on_time.parts,
        vec![
            ("resolved".to_owned(), 1),
            ("resolved_early".to_owned(), 1),
            ("resolved_on_time".to_owned(), 0),
            ("resolved_late".to_owned(), 0),
        ]
    );
    // 6 Mar 09:00-11:30 and 13:30-17:00 (360 min) + 7 Mar 07:00-10:00 (180 min).
    let minutes = v["birth-minutes"].clone().unwrap();
    assert_eq!(minutes.value, 540);
    assert_eq!(minutes.codes, vec![a.clone()]);

    // B is approved on Mon 13 Mar, after its due day: the share drops to 50% with that event.
    f.submit_for_signing(&b, t(3, 13, 8, 0)).await;
    let (_, v) = both(&f, &proj, t(3, 13, 8, 0)).await;
    assert_eq!(value(&v, "on-time"), Some(10_000));
    let b_ok = f.approve(&b, t(3, 13, 9, 0)).await;
    let (p, v) = both(&f, &proj, t(3, 13, 9, 0)).await;
    let on_time = v["on-time"].clone().unwrap();
    assert_eq!(on_time.value, 5_000);
    assert_eq!(on_time.codes, vec![a.clone(), b.clone()]);
    assert_eq!(on_time.seq_range, (a_first, b_ok.seq));
    assert_eq!(status(&p, "on-time"), TaskStatus::AtRisk);
    // B: 6 Mar 10:00-17:00 (300) + 7, 8, 9, 10 Mar (4 x 480) + 13 Mar 07:00-09:00 (120).
    assert_eq!(
        value(&v, "birth-minutes"),
        Some((540 + 300 + 4 * 480 + 120) / 2)
    );

    // C: an online electronic copy certification, received 14 Mar, resolved the same day.
    assert_eq!(value(&v, "ecopy"), Some(0));
    let c_recv = f
        .receive_online(P_ECOPY, t(3, 14, 8, 0), t(3, 14, 8, 30))
        .await;
    let c = c_recv.code.clone();
    let (_, v) = both(&f, &proj, t(3, 14, 8, 30)).await;
    let online = v["online-received"].clone().unwrap();
    assert_eq!(online.value, 3_333, "1 of 3 received online, rounded down");
    assert_eq!(online.codes.len(), 3);
    assert_eq!(value(&v, "ecopy"), Some(0));
    f.assign(&c, t(3, 14, 8, 40)).await;
    f.submit_for_signing(&c, t(3, 14, 9, 0)).await;
    let (_, v) = both(&f, &proj, t(3, 14, 9, 0)).await;
    assert_eq!(value(&v, "ecopy"), Some(0));
    let c_ok = f.approve(&c, t(3, 14, 10, 0)).await;
    let (_, v) = both(&f, &proj, t(3, 14, 10, 0)).await;
    let ecopy = v["ecopy"].clone().unwrap();
    assert_eq!(ecopy.value, 1);
    assert_eq!(ecopy.codes, vec![c.clone()]);
    assert_eq!(ecopy.seq_range.1, c_ok.seq);
    assert_eq!(
        ecopy.figure,
        "stats.resolved unit=000.33.22.H05 procedure=2.001035 from=2023-01-01 to=2023-03-14"
    );
    assert_eq!(value(&v, "on-time"), Some(6_666));
    assert_eq!(c.as_str().len(), 25);
    assert_eq!(
        f.svc.load_dossier(&c).unwrap().0.receipt.unwrap().channel,
        Channel::Online
    );

    // As of a moment between A's and B's resolutions, the archive still says 100%.
    let (_, v) = both(&f, &proj, t(3, 31, 12, 0)).await;
    assert_eq!(value(&v, "on-time"), Some(6_666));
    let past = f
        .plans
        .dashboard_as_of(&plan, t(3, 8, 12, 0))
        .unwrap()
        .unwrap();
    let past = derived(&past);
    assert_eq!(value(&past, "on-time"), Some(10_000));
    assert_eq!(
        past["on-time"].as_ref().unwrap().seq_range,
        (a_first, a_ok.seq)
    );
    proj.stop().await.unwrap();
}
