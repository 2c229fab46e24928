//! Who acted, and when: a history recorded live by the real `CommandService` (the log's clock
//! set to each command's business time, as on a server, so `at` equals `recorded_at`) and then
//! rewritten the way a careful forger would: one envelope changed, every hash after it
//! recomputed, the result imported into a fresh log (which re-checks the chain and accepts it)
//! and exported with a valid trailer. The chain layer has nothing to say about such an archive;
//! `verify` names the rewritten event by the staff directory of its seq and by its recording
//! time.

mod common;

use chrono::NaiveDate;
use common::*;
use motcua_engine::codec;
use motcua_engine::domain::calendar::{at_local, demo_year_2023};
use motcua_engine::domain::dossier::{ActorRef, Command, Intake};
use motcua_engine::domain::events::{DossierChange, Event, FieldInfo, Level, Procedure, UnitInfo};
use motcua_engine::domain::types::{Channel, DossierCode, Role, Staff, Timestamp, WorkingTime};
use motcua_engine::domain::ReferenceData;
use motcua_engine::log::{import_log, Envelope, EventLog, LogConfig};
use motcua_engine::recorded::decode_event;
use motcua_engine::service::{Authority, CommandService, ReferenceCommand};
use motcua_replay::progress::Progress;
use motcua_replay::source::Source;
use motcua_replay::verify::{verify, VerifyOptions, VerifyReport};

const UNIT: &str = "000.00.00.G10";
const P_STD: &str = "1.001193";

fn t(m: u32, d: u32, hh: u32, mm: u32) -> Timestamp {
    at_local(2023, m, d, hh, mm).unwrap()
}

fn staff(id: &str, role: Role, fields: &[&str]) -> Staff {
    Staff {
        id: id.parse().unwrap(),
        name: format!("Cán bộ {id}"),
        unit: UNIT.parse().unwrap(),
        roles: vec![role],
        fields: fields.iter().map(|f| f.parse().unwrap()).collect(),
        active: true,
    }
}

fn reception() -> Staff {
    staff("tn-01", Role::Reception, &[])
}
fn specialist() -> Staff {
    staff("cm-01", Role::Specialist, &["ho-tich"])
}
fn leader() -> Staff {
    staff("ld-01", Role::Leader, &[])
}
/// A deputy leader, deactivated on 8 March.
fn deputy() -> Staff {
    staff("ld-02", Role::Leader, &[])
}

fn intake() -> Intake {
    Intake {
        procedure: P_STD.parse().unwrap(),
        unit: UNIT.parse().unwrap(),
        channel: Channel::Desk,
        applicant: motcua_engine::domain::events::Applicant {
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
    }
}

/// The log and a service whose every command is recorded at its business time.
struct Live {
    svc: CommandService,
    clock: motcua_engine::log::ManualClock,
}

impl Live {
    async fn reference(&self, cmd: ReferenceCommand, at: Timestamp) {
        self.clock.set(at.0);
        self.svc
            .execute_reference(cmd, Authority::System, at)
            .await
            .unwrap();
    }

    async fn act(
        &self,
        code: Option<&DossierCode>,
        cmd: Command,
        who: Staff,
        at: Timestamp,
    ) -> DossierCode {
        self.clock.set(at.0);
        self.svc
            .execute(code, cmd, &ActorRef::Staff(who), at, None, None)
            .await
            .unwrap()
            .code
    }

    /// A standard dossier (3 working days) received at 9:00 on `day` of March, signed by
    /// `signer` at 10:00 the next day (early), handed over at 14:00.
    async fn dossier(&self, day: u32, signer: Staff) -> DossierCode {
        let receive = Command::Receive {
            intake: Some(intake()),
        };
        let code = self.act(None, receive, reception(), t(3, day, 9, 0)).await;
        let c = Some(&code);
        let assign = Command::Assign {
            specialist: "cm-01".parse().unwrap(),
            note: String::new(),
        };
        self.act(c, assign, reception(), t(3, day, 9, 30)).await;
        let sign = Command::SubmitForSigning {
            draft: motcua_engine::domain::events::DraftKind::Result,
            note: String::new(),
        };
        self.act(c, sign, specialist(), t(3, day, 10, 30)).await;
        let approve = Command::Approve {
            note: String::new(),
        };
        self.act(c, approve, signer, t(3, day + 1, 10, 0)).await;
        let hand_over = Command::HandOver {
            note: String::new(),
        };
        self.act(c, hand_over, reception(), t(3, day + 1, 14, 0))
            .await;
        code
    }
}

/// The commune's live history: its reference data; dossier A signed by the deputy on 7 March;
/// the deputy deactivated on 8 March; dossier B signed by the leader on 9 March.
async fn commune(data: &std::path::Path) -> EventLog {
    let (log, clock) = open_log(data);
    let svc = CommandService::new(log, ReferenceData::builtin().unwrap()).unwrap();
    let live = Live { svc, clock };
    let jan1 = NaiveDate::from_ymd_opt(2018, 1, 1).unwrap();
    let mut seed = vec![
        ReferenceCommand::PublishCalendarYear {
            calendar: demo_year_2023(),
            replace: false,
        },
        ReferenceCommand::RegisterUnit(UnitInfo {
            code: UNIT.parse().unwrap(),
            name: "UBND xã Dương Phong".into(),
            parent: "UBND huyện Bạch Thông".into(),
            fields: vec![FieldInfo {
                field: "ho-tich".parse().unwrap(),
                name: "Hộ tịch".into(),
            }],
        }),
    ];
    for s in [reception(), specialist(), leader(), deputy()] {
        seed.push(ReferenceCommand::RegisterStaff(s));
    }
    seed.push(ReferenceCommand::IssueProcedure {
        procedure: Procedure {
            id: P_STD.parse().unwrap(),
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
        effective: jan1,
    });
    for cmd in seed {
        live.reference(cmd, Timestamp(T0)).await;
    }
    live.dossier(6, deputy()).await;
    let retired = Staff {
        active: false,
        ..deputy()
    };
    live.reference(ReferenceCommand::UpdateStaff(retired), t(3, 8, 8, 0))
        .await;
    live.dossier(8, leader()).await;
    live.svc.log().clone()
}

struct History {
    dir: tempfile::TempDir,
    envelopes: Vec<Envelope>,
}

/// The live history, exported and read back as envelopes.
fn history() -> History {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = rt.block_on(commune(&dir.path().join("data")));
    let path = dir.path().join("live.motcua");
    export(&log, &path);
    rt.block_on(log.close()).unwrap();
    let envelopes = records(&std::fs::read(&path).unwrap())
        .into_iter()
        .map(|(_, _, env)| env)
        .collect();
    History { dir, envelopes }
}

impl History {
    /// The index of the `n`-th (from 0) approval in the log.
    fn approval(&self, n: usize) -> usize {
        self.envelopes
            .iter()
            .enumerate()
            .filter(|(_, e)| e.event_type == "dossier.approved")
            .nth(n)
            .map(|(i, _)| i)
            .unwrap()
    }

    /// Verifies the history after `edit` changed the envelope at `index`, re-hashed from there
    /// on, imported into a fresh log and exported again (`name` names the copies).
    fn forged(&self, name: &str, index: usize, edit: impl FnOnce(&mut Envelope)) -> VerifyReport {
        let mut envs = self.envelopes.clone();
        edit(&mut envs[index]);
        let mut prev = if index == 0 {
            motcua_engine::log::GENESIS_HASH
        } else {
            envs[index - 1].hash
        };
        for env in envs.iter_mut().skip(index) {
            env.prev_hash = prev;
            env.hash = env.compute_hash();
            prev = env.hash;
        }
        let data = self.dir.path().join(name);
        let items = envs.into_iter().map(Ok::<_, String>);
        import_log(&data, &LogConfig::default(), items).expect("the log accepts the forgery");
        let log = EventLog::open(&data, LogConfig::default()).unwrap();
        let path = self.dir.path().join(format!("{name}.motcua"));
        export(&log, &path);
        runtime().block_on(log.close()).unwrap();
        run(&path)
    }
}

fn run(path: &std::path::Path) -> VerifyReport {
    verify(
        Source::open(path).unwrap(),
        &VerifyOptions::default(),
        &Progress::hidden(),
    )
}

/// (seq, rule) of every finding.
fn found(r: &VerifyReport) -> Vec<(u64, &'static str)> {
    r.findings.iter().map(|f| (f.seq, f.rule)).collect()
}

#[test]
fn the_live_history_verifies_clean() {
    let h = history();
    let path = h.dir.path().join("live.motcua");
    let r = run(&path);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    // Two dossiers of five events each, every one recorded at its business time.
    assert_eq!(r.transitions_checked, 10);
    for env in &h.envelopes {
        if let Ok(Event::Dossier(d)) = decode_event(env) {
            assert_eq!(d.at.0, env.recorded_at_ms, "seq {}", env.seq);
        }
    }
    // The deputy signed dossier A while active: by the directory of that seq, not today's.
    let a = &h.envelopes[h.approval(0)];
    assert_eq!(a.actor.staff, "ld-02");
    // Re-hashed and re-imported untouched, the copy is the same history and verifies clean.
    let same = h.forged("untouched", 0, |_| {});
    assert!(same.findings.is_empty(), "{:#?}", same.findings);
    assert_eq!(same.head, r.head);
}

#[test]
fn a_clerk_recorded_as_the_signing_leader_is_named() {
    let h = history();
    let i = h.approval(1);
    let seq = h.envelopes[i].seq;
    let r = h.forged("clerk", i, |e| e.actor.staff = "tn-01".into());
    assert_eq!(found(&r), [(seq, "actor")], "{:#?}", r.findings);
    assert_eq!(
        r.findings[0].detail,
        "dossier.approved: staff tn-01 recorded in role leader does not hold it (holds: \
         reception)"
    );
    assert!(r.findings[0]
        .stream
        .as_deref()
        .is_some_and(|s| s.starts_with("dossier/000.00.00.G10-230308-")));
    // What the auditor runs: exit status 1, the finding in the table, one finding in all.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_motcua-replay"))
        .arg("verify")
        .arg(h.dir.path().join("clerk.motcua"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&format!("{seq} ")) && l.contains(" actor ")),
        "{stdout}"
    );
    assert!(
        stdout.lines().last().unwrap().contains(" findings=1 "),
        "{stdout}"
    );
}

#[test]
fn an_unknown_signer_is_named() {
    let h = history();
    let i = h.approval(1);
    let seq = h.envelopes[i].seq;
    let r = h.forged("unknown", i, |e| e.actor.staff = "ld-07".into());
    assert_eq!(found(&r), [(seq, "actor")], "{:#?}", r.findings);
    assert!(
        r.findings[0]
            .detail
            .contains("staff ld-07 recorded in role leader is not in the staff directory"),
        "{}",
        r.findings[0].detail
    );
}

#[test]
fn a_signature_by_a_deactivated_leader_is_named() {
    let h = history();
    let i = h.approval(1);
    let seq = h.envelopes[i].seq;
    let r = h.forged("retired", i, |e| e.actor.staff = "ld-02".into());
    assert_eq!(found(&r), [(seq, "actor")], "{:#?}", r.findings);
    assert!(
        r.findings[0].detail.contains("ld-02") && r.findings[0].detail.contains("deactivated"),
        "{}",
        r.findings[0].detail
    );
}

#[test]
fn an_approval_moved_past_the_due_date_is_named() {
    let h = history();
    let i = h.approval(1);
    let seq = h.envelopes[i].seq;
    // Dossier B, received Wednesday 8 March 09:00 for 3 working days, is due Monday 13 March
    // 17:00; its leader signed on Thursday 9 March 10:00, early.
    let receipt = h
        .envelopes
        .iter()
        .find(|e| e.stream == h.envelopes[i].stream && e.event_type == "dossier.received")
        .unwrap();
    let Ok(Event::Dossier(received)) = decode_event(receipt) else {
        panic!("no receipt")
    };
    let DossierChange::Received(r) = received.change else {
        panic!("not a receipt")
    };
    assert_eq!(r.due, t(3, 13, 17, 0));
    let r = h.forged("late", i, |e| {
        let Ok(Event::Dossier(mut d)) = decode_event(e) else {
            panic!("seq {} is not a dossier event", e.seq)
        };
        assert!(matches!(d.change, DossierChange::Approved { .. }));
        assert_eq!(d.at, t(3, 9, 10, 0));
        // Three days past the due date: an early resolution turned late.
        d.at = t(3, 16, 17, 0);
        e.payload = codec::encode(&Event::Dossier(d));
    });
    assert_eq!(found(&r), [(seq, "time")], "{:#?}", r.findings);
    assert_eq!(
        r.findings[0].detail,
        "dossier.approved: business time 2023-03-16 10:00:00Z is 7 d 7 h 0 min after the log \
         recorded it at 2023-03-09 03:00:00Z (a change taken live has its business time equal \
         to its recording time, at most 60 s apart)"
    );
}
