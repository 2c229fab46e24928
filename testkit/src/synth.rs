//! Synthetic but valid histories for the property tests and the benches: a random walk of
//! docs/domain/dossier.md's table per dossier (right roles, increasing business
//! times, at most one supplement request, apologies only once overdue), interleaved by time
//! like a real desk's log. Deterministic for a given seed.
//!
//! Valid includes who acts: each unit has its own staff ([`DeskStaff`], registered by
//! [`catalog_events`]), and every dossier event names a member of the dossier's unit holding the
//! recorded role (the assigned specialist for a specialist's step), or the portal account for
//! a citizen's, as `motcua-replay verify` checks. The actors were chosen without drawing from
//! the generator, so a seed gives the same walk as before they were.

use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use motcua_engine::domain::events::{
    Applicant, CatalogEvent, DossierChange, DossierEvent, DraftKind, Event, FieldInfo, Level,
    Procedure, Receipt, Recorded, StaffEvent, Submission, UnitEvent, UnitInfo,
};
use motcua_engine::domain::personal::ApplicantRecord;
use motcua_engine::domain::types::{
    Channel, DossierCode, Field, ProcedureId, ProcedureRef, Role, RuleSetId, Staff, StaffId,
    Timestamp, UnitCode, Vnd, WorkflowId, WorkingTime,
};
use motcua_engine::domain::SecretDigest;
use motcua_engine::log::{AppendError, EventLog, ExpectedVersion, NewEvent, StreamId};
use motcua_engine::projection::keys::local_date;
use motcua_engine::projection::ProjectionError;

const HOUR_MS: i64 = 3_600_000;

/// One event to record, before the log numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthEvent {
    pub stream: StreamId,
    pub actor: String,
    pub role: Role,
    pub event: Event,
}

impl SynthEvent {
    /// The log's form of the event (under an id the log assigns).
    pub fn new_event(&self) -> NewEvent {
        crate::new_event(&self.actor, self.role, &self.event)
    }

    /// Business time used to interleave (catalog events sort first).
    fn at(&self) -> Timestamp {
        match &self.event {
            Event::Dossier(d) => d.at,
            _ => Timestamp(i64::MIN),
        }
    }
}

/// The shape of a synthetic desk.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    pub units: Vec<UnitCode>,
    pub fields: Vec<Field>,
    /// Procedures per field.
    pub procedures_per_field: usize,
    /// First day of receipts.
    pub start: Timestamp,
    /// Dossiers received per unit per day.
    pub dossiers_per_day: u16,
}

impl SynthConfig {
    /// A small commune desk from 2023-01-03.
    pub fn demo(units: usize) -> SynthConfig {
        let units = (0..units.max(1))
            .filter_map(|i| {
                format!("000.00.{:02}.G{:02}", i / 90, 10 + i % 90)
                    .parse()
                    .ok()
            })
            .collect();
        SynthConfig {
            units,
            fields: ["ho-tich", "chung-thuc", "dat-dai", "van-hoa-xa-hoi"]
                .iter()
                .filter_map(|f| f.parse().ok())
                .collect(),
            procedures_per_field: 3,
            // 2023-01-03 08:00 local.
            start: Timestamp(1_672_707_600_000),
            dossiers_per_day: 20,
        }
    }
}

fn slug<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.parse().ok()
}

/// Parses a literal slug of this module (a programming error if it does not parse).
fn lit<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().expect("literal slug parses")
}

/// The portal account every synthetic citizen acts through (`citizen:<account>`).
pub const CITIZEN_ACTOR: &str = "citizen:cong-dvc";

/// Specialists per unit (a dossier's specialist is drawn among them).
const SPECIALISTS: usize = 4;

/// The staff of one synthetic unit: a reception clerk, four specialists of every field of the
/// config, a leader. The first unit's are `tn-01`, `cm-01`..`cm-04`, `ld-01`; the n-th unit's
/// (from 0) carry the suffix `-u<n>` (a staff id names one person, of one unit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskStaff {
    pub reception: StaffId,
    pub specialists: [StaffId; SPECIALISTS],
    pub leader: StaffId,
}

impl DeskStaff {
    /// The staff of `cfg`'s unit number `index` (from 0).
    pub fn of_unit(index: usize) -> DeskStaff {
        let suffix = if index == 0 {
            String::new()
        } else {
            format!("-u{index}")
        };
        let id = |base: &str| lit::<StaffId>(&format!("{base}{suffix}"));
        DeskStaff {
            reception: id("tn-01"),
            specialists: [id("cm-01"), id("cm-02"), id("cm-03"), id("cm-04")],
            leader: id("ld-01"),
        }
    }

    /// The directory's records of this staff at `unit`: specialists of every field of `cfg`.
    fn records(&self, cfg: &SynthConfig, unit: &UnitCode) -> Vec<Staff> {
        let member = |id: &StaffId, role: Role, fields: Vec<Field>| Staff {
            id: id.clone(),
            name: format!("Cán bộ {id}"),
            unit: unit.clone(),
            roles: vec![role],
            fields,
            active: true,
        };
        let mut out = vec![member(&self.reception, Role::Reception, Vec::new())];
        for s in &self.specialists {
            out.push(member(s, Role::Specialist, cfg.fields.clone()));
        }
        out.push(member(&self.leader, Role::Leader, Vec::new()));
        out
    }
}

/// The catalog, unit and staff events of a config (procedure `<field index>.<n>` per field;
/// each unit's [`DeskStaff`]).
pub fn catalog_events(cfg: &SynthConfig) -> Vec<SynthEvent> {
    let mut out = Vec::new();
    let admin = |event| SynthEvent {
        stream: StreamId::catalog(),
        actor: "admin".into(),
        role: Role::Admin,
        event,
    };
    for unit in &cfg.units {
        out.push(SynthEvent {
            stream: StreamId::unit(unit),
            actor: "admin".into(),
            role: Role::Admin,
            event: Event::Unit(UnitEvent::Registered(UnitInfo {
                code: unit.clone(),
                name: format!("UBND xã {unit}"),
                parent: "UBND huyện".into(),
                fields: cfg
                    .fields
                    .iter()
                    .map(|f| FieldInfo {
                        field: f.clone(),
                        name: f.to_string(),
                    })
                    .collect(),
            })),
        });
    }
    for (i, unit) in cfg.units.iter().enumerate() {
        for staff in DeskStaff::of_unit(i).records(cfg, unit) {
            out.push(SynthEvent {
                stream: StreamId::staff(&staff.id),
                actor: "admin".into(),
                role: Role::Admin,
                event: Event::Staff(StaffEvent::Registered(staff)),
            });
        }
    }
    let effective = NaiveDate::from_ymd_opt(2022, 1, 1).unwrap_or_default();
    for (fi, field) in cfg.fields.iter().enumerate() {
        for n in 0..cfg.procedures_per_field {
            let Some(id) = slug::<ProcedureId>(&format!("{fi}.{n:05}")) else {
                continue;
            };
            out.push(admin(Event::Catalog(CatalogEvent::ProcedureIssued {
                procedure: procedure(&id, field),
                effective,
            })));
            for unit in &cfg.units {
                out.push(admin(Event::Catalog(CatalogEvent::ProcedurePublished {
                    unit: unit.clone(),
                    id: id.clone(),
                    at_desk: true,
                    online: n % 2 == 0,
                    effective,
                })));
            }
        }
    }
    out
}

fn procedure(id: &ProcedureId, field: &Field) -> Procedure {
    Procedure {
        id: id.clone(),
        version: 1,
        name: format!("Thủ tục {id}"),
        field: field.clone(),
        level: Level::Commune,
        documents: Vec::new(),
        forms: Vec::new(),
        processing_time: WorkingTime::WorkingDays(3),
        fees: Vec::new(),
        workflow: lit("standard"),
        legal_basis: String::new(),
    }
}

/// Parameters of one dossier's walk.
pub struct DossierSeed<'a> {
    pub code: DossierCode,
    pub unit: &'a UnitCode,
    pub field: &'a Field,
    pub procedure: ProcedureId,
    /// When the citizen shows up.
    pub start: Timestamp,
    /// The unit's staff, who act on it.
    pub staff: &'a DeskStaff,
}

/// Random walk of one dossier's lifecycle through the transition table, to its end.
pub fn lifecycle(rng: &mut StdRng, seed: DossierSeed<'_>) -> Vec<SynthEvent> {
    let stream = StreamId::dossier(&seed.code);
    let reception = seed.staff.reception.as_str();
    let leader = seed.staff.leader.as_str();
    let mut at = seed.start;
    let mut out = Vec::new();
    let mut push = |at: Timestamp, role: Role, actor: &str, change: DossierChange| {
        out.push(SynthEvent {
            stream: stream.clone(),
            actor: actor.to_owned(),
            role,
            event: Event::Dossier(DossierEvent {
                code: seed.code.clone(),
                at,
                change,
            }),
        });
    };
    let step = |rng: &mut StdRng, at: &mut Timestamp, max_h: i64| {
        *at = Timestamp(at.0 + rng.gen_range(1..=max_h.max(1)) * HOUR_MS / 2);
    };
    let channel = match rng.gen_range(0..10) {
        0..=5 => Channel::Desk,
        6..=8 => Channel::Online,
        _ => Channel::Postal,
    };
    // A digest no secret matches (synthetic dossiers are never looked up), drawn as before so
    // the rest of the walk stays the same.
    let b = rng.gen::<u8>();
    let secret = SecretDigest::Argon2id {
        salt: [b; 16],
        hash: [b; 32],
    };
    let applicant = Applicant {
        name: "Nguyễn Văn A".into(),
        id_number: "001099000001".into(),
        phone: "0900000000".into(),
        address: "Thôn 1".into(),
    };
    let proc_ref = ProcedureRef {
        id: seed.procedure.clone(),
        version: 1,
    };
    if channel == Channel::Online {
        push(
            at,
            Role::Citizen,
            CITIZEN_ACTOR,
            DossierChange::SubmittedOnline(Submission {
                procedure: proc_ref.clone(),
                field: seed.field.clone(),
                unit: seed.unit.clone(),
                channel,
                applicant: ApplicantRecord::Clear(applicant.clone()),
                documents: vec!["Tờ khai".into()],
                lookup_secret: secret.clone(),
            }),
        );
        step(rng, &mut at, 8);
        if rng.gen_bool(0.1) {
            push(
                at,
                Role::Reception,
                reception,
                DossierChange::GuidedToComplete {
                    missing: vec!["Bản sao CCCD".into()],
                    note: "bổ sung".into(),
                },
            );
            step(rng, &mut at, 8);
        }
    }
    if rng.gen_bool(0.04) {
        push(
            at,
            Role::Reception,
            reception,
            DossierChange::RefusedToReceive {
                reason: "không thuộc thẩm quyền".into(),
                legal_basis: "Điều 19".into(),
            },
        );
        return out;
    }
    let days = rng.gen_range(1..=7i64);
    let mut due = Timestamp(at.0 + days * 24 * HOUR_MS);
    push(
        at,
        Role::Reception,
        reception,
        DossierChange::Received(Receipt {
            procedure: proc_ref,
            procedure_name: format!("Thủ tục {}", seed.procedure),
            field: seed.field.clone(),
            unit: seed.unit.clone(),
            channel,
            workflow: lit::<WorkflowId>("standard"),
            rule_set: lit::<RuleSetId>("nd61-2018"),
            applicant: ApplicantRecord::Clear(applicant),
            documents: vec!["Tờ khai".into()],
            processing_time: WorkingTime::WorkingDays(days as u16),
            clock_start: at,
            due,
            lookup_secret: secret,
            fees: Vnd(0),
        }),
    );
    // Drawn as an i32 in 1..=4, as when the id was spelled from it: the same draw keeps the walk.
    let pick: i32 = rng.gen_range(1..=4);
    let specialist = usize::try_from(pick - 1)
        .ok()
        .and_then(|i| seed.staff.specialists.get(i))
        .unwrap_or(&seed.staff.specialists[0])
        .clone();
    let mut supplement_done = false;
    let mut pause_start = at;
    let mut state = "received";
    for _ in 0..40 {
        step(rng, &mut at, 24);
        // Apology: only while open and once the due time has passed.
        if at > due && state != "done" && rng.gen_bool(0.3) {
            // The dossier's specialist (before assignment: the one it will go to, of its field)
            // or the leader.
            let (role, actor) = if rng.gen_bool(0.5) {
                (Role::Specialist, specialist.as_str())
            } else {
                (Role::Leader, leader)
            };
            push(
                at,
                role,
                actor,
                DossierChange::Apologised {
                    reason: "quá hạn".into(),
                    new_appointment: Timestamp(at.0 + 48 * HOUR_MS),
                },
            );
            step(rng, &mut at, 2);
        }
        let r = rng.gen_range(0..100);
        match state {
            "received" => {
                if r < 3 {
                    push(
                        at,
                        Role::Citizen,
                        CITIZEN_ACTOR,
                        DossierChange::Withdrawn {
                            reason: "rút".into(),
                        },
                    );
                    return out;
                }
                push(
                    at,
                    Role::Reception,
                    reception,
                    DossierChange::Assigned {
                        specialist: specialist.clone(),
                        note: "giao".into(),
                    },
                );
                state = "processing";
            }
            "processing" => {
                if r < 12 && !supplement_done {
                    supplement_done = true;
                    pause_start = at;
                    push(
                        at,
                        Role::Specialist,
                        specialist.as_str(),
                        DossierChange::SupplementRequested {
                            items: vec!["Giấy tờ".into()],
                            reason: "thiếu".into(),
                        },
                    );
                    state = "supplement";
                } else if r < 18 {
                    push(
                        at,
                        Role::Specialist,
                        specialist.as_str(),
                        DossierChange::Forwarded {
                            agency: "UBND huyện".into(),
                            note: "liên thông".into(),
                        },
                    );
                    state = "other";
                } else if r < 24 {
                    pause_start = at;
                    push(
                        at,
                        Role::Specialist,
                        specialist.as_str(),
                        DossierChange::PaymentRequested {
                            amount: Vnd(50_000),
                            note: "lệ phí".into(),
                        },
                    );
                    state = "payment";
                } else if r < 26 {
                    push(
                        at,
                        Role::Citizen,
                        CITIZEN_ACTOR,
                        DossierChange::Withdrawn {
                            reason: "rút".into(),
                        },
                    );
                    return out;
                } else if r < 27 {
                    push(
                        at,
                        Role::Leader,
                        leader,
                        DossierChange::Stopped {
                            reason: "dừng".into(),
                            legal_basis: "Điều 9".into(),
                        },
                    );
                    return out;
                } else {
                    let draft = if rng.gen_bool(0.1) {
                        DraftKind::Refusal
                    } else {
                        DraftKind::Result
                    };
                    push(
                        at,
                        Role::Specialist,
                        specialist.as_str(),
                        DossierChange::SubmittedForSigning {
                            draft,
                            note: "trình ký".into(),
                        },
                    );
                    state = if draft == DraftKind::Refusal {
                        "approval-refusal"
                    } else {
                        "approval"
                    };
                }
            }
            "supplement" | "payment" => {
                let paused_ms = at.0 - pause_start.0;
                let minutes = u32::try_from(paused_ms / 60_000 / 3).unwrap_or(u32::MAX);
                let new_due = Timestamp(due.0 + paused_ms);
                if state == "supplement" {
                    push(
                        at,
                        Role::Reception,
                        reception,
                        DossierChange::SupplementReceived {
                            paused_office_minutes: minutes,
                            new_due,
                            note: "đã bổ sung".into(),
                        },
                    );
                } else {
                    push(
                        at,
                        Role::Reception,
                        reception,
                        DossierChange::PaymentRecorded {
                            paused_office_minutes: minutes,
                            new_due,
                            receipt_number: "BL-1".into(),
                        },
                    );
                }
                due = new_due;
                state = "processing";
            }
            "other" => {
                push(
                    at,
                    Role::Specialist,
                    specialist.as_str(),
                    DossierChange::OtherAgencyAnswered {
                        note: "đã trả lời".into(),
                    },
                );
                state = "processing";
            }
            "approval" | "approval-refusal" => {
                if r < 15 {
                    push(
                        at,
                        Role::Leader,
                        leader,
                        DossierChange::SentBack {
                            comments: "sửa".into(),
                        },
                    );
                    state = "processing";
                } else if state == "approval-refusal" {
                    push(
                        at,
                        Role::Leader,
                        leader,
                        DossierChange::RefusalSigned {
                            reasons: "không đủ điều kiện".into(),
                        },
                    );
                    state = "done";
                } else {
                    push(
                        at,
                        Role::Leader,
                        leader,
                        DossierChange::Approved { note: "ký".into() },
                    );
                    state = "done";
                }
            }
            _ => {
                push(
                    at,
                    Role::Reception,
                    reception,
                    DossierChange::HandedOver {
                        note: "đã trả".into(),
                    },
                );
                return out;
            }
        }
    }
    out
}

/// A whole desk history: catalog first, then `dossiers` lifecycles interleaved by business time
/// (stable, so each dossier's own events keep their order).
pub fn history(cfg: &SynthConfig, seed: u64, dossiers: usize) -> Vec<SynthEvent> {
    let mut rng = StdRng::seed_from_u64(seed);
    let all = catalog_events(cfg);
    let mut per_dossier = Vec::new();
    let mut last_start = Timestamp(i64::MIN);
    let per_day = usize::from(cfg.dossiers_per_day.max(1)) * cfg.units.len().max(1);
    let staff: Vec<DeskStaff> = (0..cfg.units.len()).map(DeskStaff::of_unit).collect();
    for i in 0..dossiers {
        let u = i % cfg.units.len().max(1);
        let unit = &cfg.units[u];
        let day = (i / per_day) as i64;
        let seq = (i / cfg.units.len().max(1)) % usize::from(cfg.dossiers_per_day.max(1)) + 1;
        let start = Timestamp(cfg.start.0 + day * 24 * HOUR_MS + rng.gen_range(0..8 * HOUR_MS));
        last_start = last_start.max(start);
        let date = local_date(start);
        let Ok(code) = DossierCode::new(unit, date, seq as u16) else {
            continue;
        };
        per_dossier.extend(walk(&mut rng, cfg, (unit, &staff[u]), code, start));
    }
    // Every lifecycle runs to its end; the history stops when the last dossier arrives, so the
    // dossiers of the last days are caught open in whatever state they are in (a steady open
    // set, as at a real desk, instead of one that grows with the history).
    up_to(all, per_dossier, last_start)
}

/// One dossier's walk: a random field and procedure of `cfg`, then its lifecycle (nothing when
/// `cfg` has no field).
fn walk(
    rng: &mut StdRng,
    cfg: &SynthConfig,
    (unit, staff): (&UnitCode, &DeskStaff),
    code: DossierCode,
    start: Timestamp,
) -> Vec<SynthEvent> {
    let fi = rng.gen_range(0..cfg.fields.len().max(1));
    let Some(field) = cfg.fields.get(fi) else {
        return Vec::new();
    };
    let n = rng.gen_range(0..cfg.procedures_per_field.max(1));
    let Some(procedure) = slug::<ProcedureId>(&format!("{fi}.{n:05}")) else {
        return Vec::new();
    };
    lifecycle(
        rng,
        DossierSeed {
            code,
            unit,
            field,
            procedure,
            start,
            staff,
        },
    )
}

/// `head` followed by the dossiers' events up to `horizon`, by business time.
fn up_to(
    mut head: Vec<SynthEvent>,
    mut per_dossier: Vec<SynthEvent>,
    horizon: Timestamp,
) -> Vec<SynthEvent> {
    per_dossier.retain(|e| e.at() <= horizon);
    per_dossier.sort_by_key(SynthEvent::at);
    head.extend(per_dossier);
    head
}

/// One unit's busy day as a desk lives it: `dossiers` arrivals (at most 9,999, every code of
/// the day) spread evenly over eight hours from `cfg.start`, the n-th to arrive getting the
/// day's n-th code, each with its lifecycle; the catalog first, then every event by business
/// time up to the last arrival.
pub fn busy_day(cfg: &SynthConfig, seed: u64, dossiers: u16) -> Vec<SynthEvent> {
    let mut rng = StdRng::seed_from_u64(seed);
    let all = catalog_events(cfg);
    let Some(unit) = cfg.units.first() else {
        return all;
    };
    let n = dossiers.min(9_999);
    let gap = 8 * HOUR_MS / i64::from(n.max(1));
    let staff = DeskStaff::of_unit(0);
    let mut per_dossier = Vec::new();
    let mut horizon = cfg.start;
    for seq in 1..=n {
        let start = Timestamp(cfg.start.0 + i64::from(seq) * gap);
        horizon = start;
        let Ok(code) = DossierCode::new(unit, local_date(start), seq) else {
            continue;
        };
        per_dossier.extend(walk(&mut rng, cfg, (unit, &staff), code, start));
    }
    up_to(all, per_dossier, horizon)
}

/// Numbers events as the log would (seq from 1, per-stream versions, recorded_at = business
/// time, or `first_recorded` for non-dossier events).
pub fn to_recorded(events: &[SynthEvent], first_recorded: Timestamp) -> Vec<Recorded> {
    let mut versions: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let v = versions.entry(e.stream.as_str()).or_insert(0);
            *v += 1;
            let recorded_at = match &e.event {
                Event::Dossier(d) => d.at,
                _ => first_recorded,
            };
            Recorded {
                seq: i as u64 + 1,
                stream: e.stream.to_string(),
                version: *v,
                recorded_at,
                actor: e.actor.clone(),
                role: e.role,
                event: e.event.clone(),
            }
        })
        .collect()
}

/// Most appends [`append_history`] keeps in flight (below the log's default queue depth, so
/// the writer's group commit stays full without answering `Overloaded`).
pub const APPEND_IN_FLIGHT: usize = 1_024;

/// Business-time window within which [`append_history`] appends each stream's events as one
/// append: the log interleaves dossiers at this granularity.
pub const APPEND_WINDOW_MS: i64 = 24 * HOUR_MS;

/// Appends a history through the real log with `ExpectedVersion::Any`: per time window, one
/// append per stream (its events of the window, in order, at most the log's per-append limit),
/// windows one after another, appends within a window concurrently. Returns the head seq.
pub async fn append_history(log: &EventLog, events: &[SynthEvent]) -> Result<u64, ProjectionError> {
    let per_append = log.config().max_events_per_append.max(1);
    let mut i = 0;
    while i < events.len() {
        let window_end = events[i].at().0.saturating_add(APPEND_WINDOW_MS);
        let mut runs: Vec<(StreamId, Vec<NewEvent>)> = Vec::new();
        let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        while i < events.len() && (events[i].at().0 < window_end || events[i].at().0 == i64::MIN) {
            let e = &events[i];
            let slot = match index.get(e.stream.as_str()) {
                Some(&s) if runs[s].1.len() < per_append => s,
                _ => {
                    runs.push((e.stream.clone(), Vec::new()));
                    index.insert(e.stream.as_str(), runs.len() - 1);
                    runs.len() - 1
                }
            };
            runs[slot].1.push(e.new_event());
            i += 1;
        }
        // Runs of one stream must land in order: a stream split into several runs in one window
        // (more events than one append takes) is appended run after run.
        let mut pending = runs.into_iter().peekable();
        while pending.peek().is_some() {
            let mut set = tokio::task::JoinSet::new();
            let mut streams = std::collections::HashSet::new();
            while set.len() < APPEND_IN_FLIGHT {
                let Some((stream, _)) = pending.peek() else {
                    break;
                };
                if !streams.insert(stream.clone()) {
                    break;
                }
                let Some((stream, evs)) = pending.next() else {
                    break;
                };
                let log = log.clone();
                set.spawn(async move {
                    loop {
                        match log.append(&stream, ExpectedVersion::Any, evs.clone()).await {
                            Ok(_) => return Ok(()),
                            Err(AppendError::Overloaded) => {
                                tokio::time::sleep(std::time::Duration::from_millis(1)).await
                            }
                            Err(e) => return Err(e.to_string()),
                        }
                    }
                });
            }
            while let Some(r) = set.join_next().await {
                r.map_err(|e| ProjectionError::Log(e.to_string()))?
                    .map_err(ProjectionError::Log)?;
            }
        }
    }
    Ok(log.head().seq)
}
