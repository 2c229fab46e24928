//! Statistics on hand-built histories: early / on time / late, carried over, paused, stopped,
//! withdrawn, rejected, online; exact numbers and exact code lists.

mod projection_support;

use std::sync::Arc;

use motcua_engine::domain::events::{DossierChange, DraftKind};
use motcua_engine::domain::types::{Channel, DossierCode, Role, Timestamp, Vnd};
use motcua_engine::projection::{
    fold_into_mem, CatalogProjection, DossierProjection, Figure, Figures, GroupBy, MemStore,
    ReadModels, StatsFilter,
};
use projection_support::*;

fn approve(h: &mut History, c: &DossierCode, submit: Timestamp, sign: Timestamp) {
    h.push(
        c,
        submit,
        Role::Specialist,
        DossierChange::SubmittedForSigning {
            draft: DraftKind::Result,
            note: "trình ký".into(),
        },
    );
    h.push(
        c,
        sign,
        Role::Leader,
        DossierChange::Approved { note: "ký".into() },
    );
}

fn assign(h: &mut History, c: &DossierCode, at: Timestamp) {
    h.push(
        c,
        at,
        Role::Reception,
        DossierChange::Assigned {
            specialist: "cm-01".parse().unwrap(),
            note: "giao".into(),
        },
    );
}

struct Codes {
    a: DossierCode,
    b: DossierCode,
    c: DossierCode,
    d: DossierCode,
    e: DossierCode,
    f: DossierCode,
    g: DossierCode,
    h: DossierCode,
    i: DossierCode,
    j: DossierCode,
    k: DossierCode,
    l: DossierCode,
    m: DossierCode,
    n: DossierCode,
}

/// The March 2023 history (see each dossier's comment for the figures it must land in).
fn march() -> (Vec<motcua_engine::domain::events::Recorded>, Codes) {
    let mut h = History::default();
    let codes = Codes {
        a: code(2023, 2, 20, 1),
        b: code(2023, 3, 6, 1),
        c: code(2023, 3, 7, 1),
        d: code(2023, 3, 7, 2),
        e: code(2023, 3, 20, 1),
        f: code(2023, 3, 28, 1),
        g: code(2023, 3, 15, 1),
        h: code(2023, 3, 10, 1),
        i: code(2023, 3, 14, 1),
        j: code(2023, 1, 10, 1),
        k: code(2023, 4, 2, 1),
        l: code(2023, 2, 25, 1),
        m: code(2023, 3, 30, 1),
        n: code(2023, 3, 29, 1),
    };
    let x = &codes;
    // A: carried over, resolved early (1 Mar, due 2 Mar).
    h.push(
        &x.a,
        local(2023, 2, 20, 9, 0),
        Role::Reception,
        receipt(
            "ho-tich",
            Channel::Desk,
            local(2023, 3, 2, 17, 0),
            local(2023, 2, 20, 9, 0),
        ),
    );
    assign(&mut h, &x.a, local(2023, 2, 20, 10, 0));
    approve(
        &mut h,
        &x.a,
        local(2023, 2, 28, 9, 0),
        local(2023, 3, 1, 10, 0),
    );
    // B: received, resolved on time (finished the due day).
    h.push(
        &x.b,
        local(2023, 3, 6, 9, 0),
        Role::Reception,
        receipt(
            "ho-tich",
            Channel::Desk,
            local(2023, 3, 13, 17, 0),
            local(2023, 3, 6, 9, 0),
        ),
    );
    assign(&mut h, &x.b, local(2023, 3, 6, 10, 0));
    approve(
        &mut h,
        &x.b,
        local(2023, 3, 13, 9, 0),
        local(2023, 3, 13, 15, 0),
    );
    // C: received, apologised, resolved late.
    h.push(
        &x.c,
        local(2023, 3, 7, 9, 0),
        Role::Reception,
        receipt(
            "dat-dai",
            Channel::Postal,
            local(2023, 3, 9, 17, 0),
            local(2023, 3, 7, 9, 0),
        ),
    );
    assign(&mut h, &x.c, local(2023, 3, 7, 10, 0));
    h.push(
        &x.c,
        local(2023, 3, 10, 8, 0),
        Role::Leader,
        DossierChange::Apologised {
            reason: "quá hạn".into(),
            new_appointment: local(2023, 3, 13, 17, 0),
        },
    );
    approve(
        &mut h,
        &x.c,
        local(2023, 3, 10, 9, 0),
        local(2023, 3, 10, 11, 0),
    );
    // D: online, received the next morning, refusal signed on the due day: resolved on time.
    h.push(
        &x.d,
        local(2023, 3, 7, 20, 0),
        Role::Citizen,
        submission("ho-tich"),
    );
    h.push(
        &x.d,
        local(2023, 3, 8, 8, 0),
        Role::Reception,
        receipt(
            "ho-tich",
            Channel::Online,
            local(2023, 3, 10, 17, 0),
            local(2023, 3, 8, 8, 0),
        ),
    );
    assign(&mut h, &x.d, local(2023, 3, 8, 9, 0));
    h.push(
        &x.d,
        local(2023, 3, 9, 9, 0),
        Role::Specialist,
        DossierChange::SubmittedForSigning {
            draft: DraftKind::Refusal,
            note: "không đủ điều kiện".into(),
        },
    );
    h.push(
        &x.d,
        local(2023, 3, 10, 10, 0),
        Role::Leader,
        DossierChange::RefusalSigned {
            reasons: "không đủ điều kiện".into(),
        },
    );
    // E: received, supplement requested before due, still paused at the end: in progress
    // within time, paused.
    h.push(
        &x.e,
        local(2023, 3, 20, 9, 0),
        Role::Reception,
        receipt(
            "ho-tich",
            Channel::Desk,
            local(2023, 3, 24, 17, 0),
            local(2023, 3, 20, 9, 0),
        ),
    );
    assign(&mut h, &x.e, local(2023, 3, 20, 10, 0));
    h.push(
        &x.e,
        local(2023, 3, 22, 10, 0),
        Role::Specialist,
        DossierChange::SupplementRequested {
            items: vec!["Bản sao".into()],
            reason: "thiếu".into(),
        },
    );
    // F: received, due in April: in progress within time.
    h.push(
        &x.f,
        local(2023, 3, 28, 9, 0),
        Role::Reception,
        receipt(
            "ho-tich",
            Channel::Desk,
            local(2023, 4, 3, 17, 0),
            local(2023, 3, 28, 9, 0),
        ),
    );
    // G: received, due 20 Mar, still processing: in progress overdue.
    h.push(
        &x.g,
        local(2023, 3, 15, 9, 0),
        Role::Reception,
        receipt(
            "dat-dai",
            Channel::Desk,
            local(2023, 3, 20, 17, 0),
            local(2023, 3, 15, 9, 0),
        ),
    );
    assign(&mut h, &x.g, local(2023, 3, 15, 10, 0));
    // H: received and withdrawn.
    h.push(
        &x.h,
        local(2023, 3, 10, 9, 0),
        Role::Reception,
        receipt(
            "ho-tich",
            Channel::Desk,
            local(2023, 3, 15, 17, 0),
            local(2023, 3, 10, 9, 0),
        ),
    );
    h.push(
        &x.h,
        local(2023, 3, 12, 9, 0),
        Role::Citizen,
        DossierChange::Withdrawn {
            reason: "rút".into(),
        },
    );
    // I: received and stopped.
    h.push(
        &x.i,
        local(2023, 3, 14, 9, 0),
        Role::Reception,
        receipt(
            "ho-tich",
            Channel::Desk,
            local(2023, 3, 17, 17, 0),
            local(2023, 3, 14, 9, 0),
        ),
    );
    assign(&mut h, &x.i, local(2023, 3, 14, 10, 0));
    h.push(
        &x.i,
        local(2023, 3, 16, 9, 0),
        Role::Leader,
        DossierChange::Stopped {
            reason: "dừng".into(),
            legal_basis: "Điều 9".into(),
        },
    );
    // J: January, resolved late on 1 Feb: in no March figure.
    h.push(
        &x.j,
        local(2023, 1, 10, 9, 0),
        Role::Reception,
        receipt(
            "ho-tich",
            Channel::Desk,
            local(2023, 1, 13, 17, 0),
            local(2023, 1, 10, 9, 0),
        ),
    );
    assign(&mut h, &x.j, local(2023, 1, 10, 10, 0));
    approve(
        &mut h,
        &x.j,
        local(2023, 1, 31, 9, 0),
        local(2023, 2, 1, 9, 0),
    );
    // K: received in April: in no March figure.
    h.push(
        &x.k,
        local(2023, 4, 2, 9, 0),
        Role::Reception,
        receipt(
            "ho-tich",
            Channel::Desk,
            local(2023, 4, 5, 17, 0),
            local(2023, 4, 2, 9, 0),
        ),
    );
    // L: February, due 1 Mar, still processing: carried over, in progress overdue.
    h.push(
        &x.l,
        local(2023, 2, 25, 9, 0),
        Role::Reception,
        receipt(
            "dat-dai",
            Channel::Desk,
            local(2023, 3, 1, 17, 0),
            local(2023, 2, 25, 9, 0),
        ),
    );
    assign(&mut h, &x.l, local(2023, 2, 25, 10, 0));
    // M: online submission refused at reception: never received, in no figure.
    h.push(
        &x.m,
        local(2023, 3, 30, 9, 0),
        Role::Citizen,
        submission("ho-tich"),
    );
    h.push(
        &x.m,
        local(2023, 3, 31, 9, 0),
        Role::Reception,
        DossierChange::RefusedToReceive {
            reason: "không thuộc thẩm quyền".into(),
            legal_basis: "TT 01/2018".into(),
        },
    );
    // N: received 29 Mar, same-day due, payment requested the next day (after the due time):
    // paused, and overdue.
    h.push(
        &x.n,
        local(2023, 3, 29, 9, 0),
        Role::Reception,
        receipt(
            "chung-thuc",
            Channel::Desk,
            local(2023, 3, 29, 17, 0),
            local(2023, 3, 29, 9, 0),
        ),
    );
    assign(&mut h, &x.n, local(2023, 3, 29, 10, 0));
    h.push(
        &x.n,
        local(2023, 3, 30, 9, 0),
        Role::Specialist,
        DossierChange::PaymentRequested {
            amount: Vnd(50_000),
            note: "lệ phí".into(),
        },
    );
    (h.in_time_order(), codes)
}

fn models(events: &[motcua_engine::domain::events::Recorded], batch: usize) -> ReadModels {
    let mut d = MemStore::new();
    let mut c = MemStore::new();
    fold_into_mem(&DossierProjection, &mut d, events, batch).unwrap();
    fold_into_mem(&CatalogProjection, &mut c, events, batch).unwrap();
    ReadModels::new(Arc::new(d), Arc::new(c))
}

fn sorted(mut v: Vec<&DossierCode>) -> Vec<DossierCode> {
    v.sort();
    v.into_iter().cloned().collect()
}

#[test]
fn march_figures_and_codes_are_exact() {
    let (events, x) = march();
    for batch in [1, 3, 1000] {
        let rm = models(&events, batch);
        let rep = rm
            .stats(date(2023, 3, 1), date(2023, 3, 31), &StatsFilter::default())
            .unwrap();
        let f = &rep.figures;
        assert_eq!(f.carried_over, 2);
        assert_eq!(f.received, 9);
        assert_eq!(f.received_online, 1);
        assert_eq!(f.resolved, 4);
        assert_eq!(
            (f.resolved_early, f.resolved_on_time, f.resolved_late),
            (1, 2, 1)
        );
        assert_eq!(f.in_progress, 5);
        assert_eq!((f.in_progress_within_time, f.in_progress_overdue), (2, 3));
        assert_eq!(f.paused, 3);
        assert_eq!(f.stopped, 1);
        assert_eq!(f.withdrawn, 1);
        assert_eq!(f.supplements_requested, 1);
        assert_eq!(f.apologies_issued, 1);
        // The balance: carried over + received = resolved + withdrawn + stopped + in progress.
        assert_eq!(
            f.carried_over + f.received,
            f.resolved + f.withdrawn + f.stopped + f.in_progress
        );
        assert_eq!(rep.codes(Figure::CarriedOver), sorted(vec![&x.a, &x.l]));
        assert_eq!(
            rep.codes(Figure::Received),
            sorted(vec![&x.b, &x.c, &x.d, &x.e, &x.f, &x.g, &x.h, &x.i, &x.n])
        );
        assert_eq!(rep.codes(Figure::ReceivedOnline), vec![x.d.clone()]);
        assert_eq!(
            rep.codes(Figure::Resolved),
            sorted(vec![&x.a, &x.b, &x.c, &x.d])
        );
        assert_eq!(rep.codes(Figure::ResolvedEarly), vec![x.a.clone()]);
        assert_eq!(rep.codes(Figure::ResolvedOnTime), sorted(vec![&x.b, &x.d]));
        assert_eq!(rep.codes(Figure::ResolvedLate), vec![x.c.clone()]);
        assert_eq!(
            rep.codes(Figure::InProgress),
            sorted(vec![&x.e, &x.f, &x.g, &x.l, &x.n])
        );
        assert_eq!(
            rep.codes(Figure::InProgressWithinTime),
            sorted(vec![&x.e, &x.f])
        );
        assert_eq!(
            rep.codes(Figure::InProgressOverdue),
            sorted(vec![&x.g, &x.l, &x.n])
        );
        assert_eq!(rep.codes(Figure::Paused), sorted(vec![&x.e, &x.i, &x.n]));
        assert_eq!(rep.codes(Figure::Stopped), vec![x.i.clone()]);
        assert_eq!(rep.codes(Figure::Withdrawn), vec![x.h.clone()]);
        assert_eq!(rep.codes(Figure::SupplementsRequested), vec![x.e.clone()]);
        assert_eq!(rep.codes(Figure::ApologiesIssued), vec![x.c.clone()]);
        for fig in Figure::ALL {
            assert_eq!(rep.codes(fig).len() as u64, f.get(fig), "{fig:?}");
        }
        assert_eq!(
            f.online_share_percent().map(|p| (p * 100.0).round()),
            Some(1111.0)
        );
        let _ = (&x.j, &x.k, &x.m);
    }
}

#[test]
fn february_and_filters() {
    let (events, x) = march();
    let rm = models(&events, 7);
    let feb = rm
        .stats(date(2023, 2, 1), date(2023, 2, 28), &StatsFilter::default())
        .unwrap();
    assert_eq!(feb.codes(Figure::CarriedOver), vec![x.j.clone()]);
    assert_eq!(feb.codes(Figure::Received), sorted(vec![&x.a, &x.l]));
    assert_eq!(feb.codes(Figure::ResolvedLate), vec![x.j.clone()]);
    assert_eq!(feb.figures.resolved, 1);
    assert_eq!(
        feb.codes(Figure::InProgressWithinTime),
        sorted(vec![&x.a, &x.l])
    );
    assert_eq!(feb.figures.in_progress_overdue, 0);

    // Field filter: land (dat-dai) in March is C (late), G and L (overdue).
    let land = StatsFilter {
        field: Some(field("dat-dai")),
        ..StatsFilter::default()
    };
    let rep = rm
        .stats(date(2023, 3, 1), date(2023, 3, 31), &land)
        .unwrap();
    assert_eq!(rep.codes(Figure::Received), sorted(vec![&x.c, &x.g]));
    assert_eq!(rep.codes(Figure::ResolvedLate), vec![x.c.clone()]);
    assert_eq!(
        rep.codes(Figure::InProgressOverdue),
        sorted(vec![&x.g, &x.l])
    );
    assert_eq!(rep.figures.carried_over, 1);

    // Channel filter: online only.
    let online = StatsFilter {
        channel: Some(Channel::Online),
        ..StatsFilter::default()
    };
    let rep = rm
        .stats(date(2023, 3, 1), date(2023, 3, 31), &online)
        .unwrap();
    assert_eq!(rep.figures.received, 1);
    assert_eq!(rep.codes(Figure::ResolvedOnTime), vec![x.d.clone()]);
    assert_eq!(rep.figures.online_share_percent(), Some(100.0));

    // A single day: 10 March. C resolved late and apologised, D rejected on time, H received.
    let rep = rm
        .stats(
            date(2023, 3, 10),
            date(2023, 3, 10),
            &StatsFilter::default(),
        )
        .unwrap();
    assert_eq!(rep.codes(Figure::Received), vec![x.h.clone()]);
    assert_eq!(rep.codes(Figure::ResolvedLate), vec![x.c.clone()]);
    assert_eq!(rep.codes(Figure::ResolvedOnTime), vec![x.d.clone()]);
    assert_eq!(rep.codes(Figure::ApologiesIssued), vec![x.c.clone()]);
}

/// A breakdown's group is the period's report with the group's value in the filter, figure for
/// figure and code for code; the groups together are every dossier of the period (the report
/// rows of `docs/reports.md` add up); land's group in March is C, G and L, as the field filter
/// says.
#[test]
fn a_breakdown_is_the_report_of_each_group() {
    let (events, x) = march();
    let rm = models(&events, 5);
    let (from, to) = (date(2023, 3, 1), date(2023, 3, 31));
    let all = rm.stats(from, to, &StatsFilter::default()).unwrap();
    for by in [GroupBy::Field, GroupBy::Procedure, GroupBy::Channel] {
        let groups = rm
            .stats_breakdown(from, to, &StatsFilter::default(), by)
            .unwrap();
        assert!(!groups.is_empty(), "{by:?}");
        let mut sum = Figures::default();
        for g in &groups {
            let alone = rm.stats(from, to, &g.report.filter).unwrap();
            assert_eq!(g.report.figures, alone.figures, "{by:?} {}", g.key);
            assert_eq!(g.report.codes, alone.codes, "{by:?} {}", g.key);
            for f in Figure::ALL {
                let n = sum.get(f) + g.report.figures.get(f);
                set(&mut sum, f, n);
            }
        }
        assert_eq!(sum, all.figures, "{by:?}: the groups add up to the period");
    }
    let fields = rm
        .stats_breakdown(from, to, &StatsFilter::default(), GroupBy::Field)
        .unwrap();
    assert!(fields.len() > 1, "more than one field in March");
    let land = fields.iter().find(|g| g.key == "dat-dai").unwrap();
    assert_eq!(
        land.report.codes(Figure::Received),
        sorted(vec![&x.c, &x.g])
    );
    assert_eq!(
        land.report.codes(Figure::InProgressOverdue),
        sorted(vec![&x.g, &x.l])
    );
    // A filter narrows every group: online only leaves the one online channel group.
    let online = StatsFilter {
        channel: Some(Channel::Online),
        ..StatsFilter::default()
    };
    let channels = rm
        .stats_breakdown(from, to, &online, GroupBy::Channel)
        .unwrap();
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0].key, "online");
    assert_eq!(
        channels[0].report.codes(Figure::ResolvedOnTime),
        vec![x.d.clone()]
    );
}

/// The procedures report's one walk: the total and several breakdowns together are exactly the
/// report and each breakdown alone; the register's codes are the `received` figure's.
#[test]
fn one_walk_gives_the_report_and_every_breakdown_and_the_received_codes() {
    let (events, x) = march();
    let rm = models(&events, 5);
    let (from, to) = (date(2023, 3, 1), date(2023, 3, 31));
    let all = StatsFilter::default();
    let by = [GroupBy::Field, GroupBy::Procedure, GroupBy::Channel];
    let (total, breakdowns) = rm.stats_breakdowns(from, to, &all, &by).unwrap();
    assert_eq!(total, rm.stats(from, to, &all).unwrap());
    assert_eq!(breakdowns.len(), 3);
    for (by, groups) in by.iter().zip(&breakdowns) {
        assert_eq!(
            groups,
            &rm.stats_breakdown(from, to, &all, *by).unwrap(),
            "{by:?}"
        );
    }
    let received = rm.received_codes(from, to, &all).unwrap();
    assert_eq!(received, total.codes(Figure::Received));
    assert!(received.contains(&x.c) && received.contains(&x.g));
}

fn set(figures: &mut Figures, f: Figure, n: u64) {
    let mut v = serde_json::to_value(&*figures).unwrap();
    v[f.as_str()] = n.into();
    *figures = serde_json::from_value(v).unwrap();
}

#[test]
fn dossier_view_public_lookup_queues_and_inbox() {
    let (events, x) = march();
    let rm = models(&events, 5);
    let now = local(2023, 3, 31, 12, 0);

    let view = rm.dossier(&x.d).unwrap().unwrap();
    assert_eq!(view.national_status, 9);
    assert_eq!(
        view.verdict,
        Some(motcua_engine::projection::Verdict::OnTime)
    );
    assert_eq!(view.channel, Channel::Online);
    let view_e = rm.dossier(&x.e).unwrap().unwrap();
    assert_eq!(view_e.national_status, 5);
    assert_eq!(view_e.supplements.len(), 1);

    let public = rm.public_lookup(&x.n, "bi-mat").unwrap().unwrap();
    assert_eq!(public.national_status, 6);
    assert_eq!(public.status, "Yêu cầu thực hiện nghĩa vụ tài chính");
    assert!(!public.result_ready);
    assert!(rm.public_lookup(&x.n, "sai").unwrap().is_none());
    assert!(
        rm.public_lookup(&x.a, "bi-mat")
            .unwrap()
            .unwrap()
            .result_ready
    );

    // Overdue now: G (processing, due 20 Mar), L (due 1 Mar), N (paused after its due time).
    // E is paused before its due time and F is due in April.
    let overdue: Vec<_> = rm
        .overdue_now(&unit(), None, now)
        .unwrap()
        .into_iter()
        .map(|e| e.code)
        .collect();
    assert_eq!(overdue, vec![x.l.clone(), x.g.clone(), x.n.clone()]);
    // F is due Mon 3 Apr 17:00: 11.5 office hours after Fri 31 Mar noon (3.5 on Friday
    // afternoon, 8 on Monday); K is due 5 Apr.
    let calendar = motcua_engine::domain::calendar::Calendar::demo_2023();
    let cal = calendar.unit(&unit());
    let soon = rm
        .due_within_office_hours(&unit(), None, now, 11, &cal)
        .unwrap();
    assert!(soon.is_empty());
    let soon = rm
        .due_within_office_hours(&unit(), None, now, 12, &cal)
        .unwrap();
    assert_eq!(
        soon.into_iter().map(|e| e.code).collect::<Vec<_>>(),
        vec![x.f.clone()]
    );

    let q = rm
        .queue(
            &unit(),
            &field("ho-tich"),
            motcua_engine::projection::DossierState::ResultReady,
            10,
        )
        .unwrap();
    assert_eq!(q.count, 3);
    assert_eq!(
        q.items.iter().map(|e| e.code.clone()).collect::<Vec<_>>(),
        vec![x.j.clone(), x.a.clone(), x.b.clone()]
    );
    let counts = rm.queue_counts(&unit()).unwrap();
    let total: u64 = counts.iter().map(|c| c.2).sum();
    // Open or awaiting hand-over: A B C D J (resolved), E F G K L N (open), none for H I M.
    assert_eq!(total, 11);

    // Work list of cm-01: E (paused, not overdue), G and L (overdue), N (paused).
    let work = rm.work_list(&"cm-01".parse().unwrap(), now).unwrap();
    let codes: Vec<_> = work.iter().map(|w| w.code.clone()).collect();
    assert_eq!(
        codes,
        vec![x.l.clone(), x.g.clone(), x.e.clone(), x.n.clone()]
    );
    assert_eq!(work.iter().filter(|w| w.overdue).count(), 2);

    // List: newest receipt first, paginated.
    let filter = motcua_engine::projection::views::ListFilter {
        unit: unit(),
        field: None,
        state: None,
        channel: None,
        procedure: None,
    };
    let p1 = rm.list(&filter, None, 5).unwrap();
    assert_eq!(p1.items.len(), 5);
    assert_eq!(p1.items[0].code, x.k);
    let p2 = rm.list(&filter, p1.next_cursor.as_deref(), 5).unwrap();
    let p3 = rm.list(&filter, p2.next_cursor.as_deref(), 5).unwrap();
    let all: Vec<_> = p1
        .items
        .iter()
        .chain(&p2.items)
        .chain(&p3.items)
        .map(|v| v.code.clone())
        .collect();
    assert_eq!(all.len(), 14);
    let mut dedup = all.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 14);

    // A cursor before an instant starts the walk at the dossiers received before it.
    let views: Vec<_> = p1.items.iter().chain(&p2.items).chain(&p3.items).collect();
    let day = |v: &motcua_engine::projection::views::DossierView| {
        v.received_at
            .or(v.submitted_at)
            .expect("a listed dossier has a day")
    };
    let t = day(views[4]);
    let cursor = motcua_engine::projection::ReadModels::list_cursor_before(t);
    let before = rm.list(&filter, Some(&cursor), 20).unwrap();
    let expected: Vec<_> = views
        .iter()
        .filter(|v| day(v) < t)
        .map(|v| v.code.clone())
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        before
            .items
            .iter()
            .map(|v| v.code.clone())
            .collect::<Vec<_>>(),
        expected
    );
}

#[test]
fn approval_inbox_shows_note_age_and_due() {
    let mut h = History::default();
    let c = code(2023, 3, 6, 1);
    let at = local(2023, 3, 6, 9, 0);
    h.push(
        &c,
        at,
        Role::Reception,
        receipt("ho-tich", Channel::Desk, local(2023, 3, 9, 17, 0), at),
    );
    assign(&mut h, &c, local(2023, 3, 6, 10, 0));
    h.push(
        &c,
        local(2023, 3, 7, 9, 0),
        Role::Specialist,
        DossierChange::SubmittedForSigning {
            draft: DraftKind::Result,
            note: "đủ điều kiện".into(),
        },
    );
    let events = h.in_time_order();
    let rm = models(&events, 2);
    let now = local(2023, 3, 7, 11, 0);
    let inbox = rm.approval_inbox(&unit(), None, now).unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].note, "đủ điều kiện");
    assert_eq!(inbox[0].specialist, "cm-01");
    assert_eq!(inbox[0].draft, DraftKind::Result);
    assert_eq!(inbox[0].age_ms, 2 * 3_600_000);
    assert_eq!(inbox[0].due, local(2023, 3, 9, 17, 0));
    assert!(rm
        .approval_inbox(&unit(), Some(&[field("dat-dai")]), now)
        .unwrap()
        .is_empty());
}

/// "Due within 4 office hours" on a Friday 15:00 reaches Monday 09:00 on the demo 2023
/// calendar (office hours 07:00-11:30 and 13:30-17:00: 2 hours on Friday, 2 on Monday), not
/// Friday 19:00 as wall hours would.
#[test]
fn due_within_office_hours_spans_the_weekend() {
    let mut h = History::default();
    let received = local(2023, 3, 6, 8, 0);
    let dues = [
        (1, local(2023, 3, 10, 14, 0)), // already overdue at the query
        (2, local(2023, 3, 10, 16, 0)), // in: Friday afternoon
        (3, local(2023, 3, 13, 8, 30)), // in: Monday morning (wall hours would miss it)
        (4, local(2023, 3, 13, 9, 0)),  // out: exactly at the horizon
        (5, local(2023, 3, 13, 10, 0)), // out
    ];
    let codes: Vec<DossierCode> = dues.iter().map(|(seq, _)| code(2023, 3, 6, *seq)).collect();
    for (c, (_, due)) in codes.iter().zip(dues) {
        h.push(
            c,
            received,
            Role::Reception,
            receipt("chung-thuc", Channel::Desk, due, received),
        );
    }
    let events = h.in_time_order();
    let rm = models(&events, 2);
    let calendar = motcua_engine::domain::calendar::Calendar::demo_2023();
    let now = local(2023, 3, 10, 15, 0);
    let got: Vec<DossierCode> = rm
        .due_within_office_hours(&unit(), None, now, 4, &calendar.unit(&unit()))
        .unwrap()
        .into_iter()
        .map(|e| e.code)
        .collect();
    assert_eq!(got, vec![codes[1].clone(), codes[2].clone()]);
    // Zero hours: nothing is due before "now" and at or after it.
    assert!(rm
        .due_within_office_hours(&unit(), None, now, 0, &calendar.unit(&unit()))
        .unwrap()
        .is_empty());
    // 10 office hours from Friday 15:00: Friday 2 h, Monday 8 h -> Monday 17:00.
    let got = rm
        .due_within_office_hours(&unit(), None, now, 10, &calendar.unit(&unit()))
        .unwrap();
    assert_eq!(got.len(), 4);
}
