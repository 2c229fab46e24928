//! The demo commune (Dương Phong, Bạch Thông, Bắc Kạn), seeded at first start with `--demo`
//! through the engine's own commands (the command service; never by writing read models).
//!
//! The history of 1 Jan - 31 Aug 2023 is planned so that the statistics come out exactly as the
//! commune's report: at the desk 342 received, 342 resolved (216 early, 126 on time, 0 late),
//! 0 in progress; online electronic-copy certifications 187 received and resolved. Each desk
//! dossier is given a target (early or on time) before it starts; its finish time is chosen
//! from the due time the engine computed at receipt (and after any pause), so the verdict is
//! the target by construction. `verify` recomputes the figures from the projections and fails
//! loudly if they differ.
//!
//! Reproducible: every random choice comes from a `StdRng` seeded with [`SEED`] (one stream per
//! dossier, so the concurrency of seeding does not change the plan). Dossier creations run
//! sequentially within a day and concurrently across days, so codes are the same every run.

pub mod data;
pub mod plan;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Timelike};
use futures::stream::{self, StreamExt};
use motcua_engine::domain::calendar::{at_local, local, local_date};
use motcua_engine::domain::events::{Applicant, DossierChange, DraftKind};
use motcua_engine::domain::secret::{SecretDigest, SALT_LEN};
use motcua_engine::domain::types::{
    Channel, DossierCode, Field, Staff, StaffId, Timestamp, UnitCode, Vnd, WorkingTime,
};
use motcua_engine::domain::{ActorRef, Command, Intake, ReferenceData};
use motcua_engine::log::EventLog;
use motcua_engine::service::{Authority, CommandService, ReferenceCommand, ServiceError};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::app::staff::register_with_token;
use crate::app::tokens::new_token;
use crate::crypto::sha256;

/// A demo token printed at first start.
#[derive(Debug, Clone)]
pub struct DemoToken {
    pub role: String,
    pub staff: String,
    pub token: String,
}

/// Seed of every random choice of the demo.
pub const SEED: u64 = 0x2023_0831;
pub const DESK_EARLY: usize = 216;
pub const DESK_ON_TIME: usize = 126;
pub const ONLINE_ECOPY: usize = 187;
/// Desk visits turned away (refused or guided to complete): never received, so not counted.
const DESK_NOT_RECEIVED: usize = 6;
/// Parallel dossiers while seeding (group commit amortises the fsync over them).
const CONCURRENCY: usize = 64;

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("command service: {0}")]
    Service(#[from] ServiceError),
    #[error("plan: {0}")]
    Plan(String),
    #[error("the seeded figures differ from the report: {0}")]
    Figures(String),
    #[error("console account: {0}")]
    Account(String),
    #[error("a lookup secret's digest: {0}")]
    Secret(String),
}

fn plan_err(s: impl Into<String>) -> DemoError {
    DemoError::Plan(s.into())
}

struct Ctx {
    svc: Arc<CommandService>,
    unit: UnitCode,
    staff: HashMap<String, Staff>,
    working_days: Vec<NaiveDate>,
    last_day: NaiveDate,
}

impl Ctx {
    fn actor(&self, id: &str) -> Result<ActorRef, DemoError> {
        self.staff
            .get(id)
            .cloned()
            .map(ActorRef::Staff)
            .ok_or_else(|| plan_err(format!("no demo staff {id}")))
    }
    fn is_wd(&self, d: NaiveDate) -> bool {
        self.working_days.binary_search(&d).is_ok()
    }
    /// The first working day strictly after `d`.
    fn next_wd(&self, d: NaiveDate) -> NaiveDate {
        let i = self.working_days.partition_point(|x| *x <= d);
        self.working_days.get(i).copied().unwrap_or(self.last_day)
    }
    fn wd_add(&self, d: NaiveDate, n: usize) -> NaiveDate {
        (0..n).fold(d, |acc, _| self.next_wd(acc))
    }
    async fn exec(
        &self,
        code: Option<&DossierCode>,
        cmd: Command,
        actor: &str,
        at: Timestamp,
    ) -> Result<Vec<DossierChange>, DemoError> {
        Ok(self.create(code, cmd, actor, at).await?.1)
    }
    async fn create(
        &self,
        code: Option<&DossierCode>,
        cmd: Command,
        actor: &str,
        at: Timestamp,
    ) -> Result<(DossierCode, Vec<DossierChange>), DemoError> {
        let a = self.actor(actor)?;
        let o = self.svc.execute(code, cmd, &a, at, None, None).await?;
        Ok((o.code, o.events.into_iter().map(|e| e.change).collect()))
    }
}

/// Local time `hh:00` of `d` plus `mm` minutes (`mm` may exceed 59).
fn at(d: NaiveDate, hh: u32, mm: u32) -> Result<Timestamp, DemoError> {
    at_local(d.year(), d.month(), d.day(), hh, 0)
        .map(|t| minutes(t, i64::from(mm)))
        .ok_or_else(|| plan_err(format!("bad time {d} {hh}:{mm}")))
}

fn minutes(t: Timestamp, m: i64) -> Timestamp {
    Timestamp(t.0 + m * 60_000)
}

/// Local minute of the day.
fn minute_of_day(t: Timestamp) -> u32 {
    let l = local(t);
    l.hour() * 60 + l.minute()
}

fn due_of(changes: &[DossierChange]) -> Option<Timestamp> {
    changes.iter().find_map(|c| match c {
        DossierChange::Received(r) => Some(r.due),
        DossierChange::SupplementReceived { new_due, .. }
        | DossierChange::PaymentRecorded { new_due, .. } => Some(*new_due),
        _ => None,
    })
}

const FAMILY: [&str; 12] = [
    "Nguyễn", "Hoàng", "Lý", "Nông", "Triệu", "Ma", "Hà", "Lương", "Bế", "Đinh", "Dương", "Lâm",
];
const MIDDLE: [&str; 6] = ["Văn", "Thị", "Đức", "Thị Thu", "Minh", "Ngọc"];
const GIVEN: [&str; 14] = [
    "An", "Bình", "Cường", "Dung", "Hạnh", "Hùng", "Lan", "Mai", "Nam", "Phúc", "Quân", "Sáu",
    "Thảo", "Tuấn",
];
const VILLAGES: [&str; 6] = [
    "thôn Nà Pài",
    "thôn Bản Cáu",
    "thôn Nà Cà",
    "thôn Khuổi Chang",
    "thôn Nà Lẹng",
    "thôn Phiêng Lầu",
];

fn applicant(rng: &mut StdRng) -> Applicant {
    let pick = |rng: &mut StdRng, xs: &[&str]| xs[rng.gen_range(0..xs.len())].to_owned();
    Applicant {
        name: format!(
            "{} {} {}",
            pick(rng, &FAMILY),
            pick(rng, &MIDDLE),
            pick(rng, &GIVEN)
        ),
        id_number: format!("0060{:08}", rng.gen_range(0..100_000_000u32)),
        phone: format!("09{:08}", rng.gen_range(0..100_000_000u32)),
        address: format!(
            "{}, xã Dương Phong, huyện Bạch Thông, tỉnh Bắc Kạn",
            pick(rng, &VILLAGES)
        ),
    }
}

/// A demo dossier's intake. Its lookup secret is random and shown to nobody; its digest is the
/// real one (Argon2id, on a blocking thread), salted from the secret itself so that the demo
/// draws no more random numbers than before (every later choice, and so the history, stays
/// the same).
async fn intake(
    ctx: &Ctx,
    p: &data::ProcDef,
    channel: Channel,
    rng: &mut StdRng,
) -> Result<Intake, DemoError> {
    let mut secret = [0u8; 16];
    rng.fill(&mut secret);
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&sha256(&secret)[..SALT_LEN]);
    let secret = hex::encode(secret);
    let lookup_secret = tokio::task::spawn_blocking(move || SecretDigest::argon2id(&secret, salt))
        .await
        .map_err(|e| DemoError::Secret(e.to_string()))?
        .map_err(|e| DemoError::Secret(e.to_string()))?;
    Ok(Intake {
        procedure: p.procedure.id.clone(),
        unit: ctx.unit.clone(),
        channel,
        applicant: applicant(rng),
        documents: p
            .procedure
            .documents
            .iter()
            .map(|d| d.name.clone())
            .collect(),
        lookup_secret,
    })
}

fn specialist_for(field: &Field, rng: &mut StdRng) -> &'static str {
    match field.as_str() {
        "ho-tich" | "chung-thuc" => {
            if rng.gen_bool(0.5) {
                "cm-tp-01"
            } else {
                "cm-tp-02"
            }
        }
        "dat-dai" => "cm-dc-01",
        _ => "cm-vh-01",
    }
}

fn pick<'a>(rng: &mut StdRng, xs: &[&'a str]) -> &'a str {
    xs[rng.gen_range(0..xs.len())]
}

/// One planned desk dossier.
struct DeskPlan {
    proc_ix: usize,
    day: NaiveDate,
    early: bool,
    supplement: bool,
    payment: bool,
    send_back: bool,
    refusal: bool,
    seed: u64,
}

/// Seeds the demo into an empty log; returns the staff tokens (random, shown once).
pub async fn seed(log: &EventLog) -> Result<Vec<DemoToken>, DemoError> {
    let svc = Arc::new(CommandService::new(
        log.clone(),
        ReferenceData::builtin().map_err(|e| plan_err(e.to_string()))?,
    )?);
    let (tokens, staff_map) = seed_reference(&svc).await?;
    let first = NaiveDate::from_ymd_opt(2023, 1, 1).ok_or_else(|| plan_err("date"))?;
    let last_day = NaiveDate::from_ymd_opt(2023, 8, 31).ok_or_else(|| plan_err("date"))?;
    let working_days: Vec<NaiveDate> = svc.with_reference(|r| {
        first
            .iter_days()
            .take_while(|d| *d <= last_day)
            .filter(|d| r.calendar.is_working_day(*d))
            .collect()
    })?;
    let ctx = Arc::new(Ctx {
        svc: svc.clone(),
        unit: data::UNIT.parse().map_err(|_| plan_err("unit"))?,
        staff: staff_map,
        working_days,
        last_day,
    });
    history(ctx.clone(), Arc::new(data::catalog())).await?;
    let planner = ctx.actor(plan::DEMO_PLANNER)?;
    plan::seed_plan(
        &motcua_engine::plan_service::PlanService::new(log.clone()),
        &planner,
    )
    .await
    .map_err(|e| plan_err(e.to_string()))?;
    Ok(tokens)
}

/// Seeds the reference data only (unit, 2023 calendar, catalog, staff with fresh tokens):
/// what a commune has before its first dossier. Tests use it on an empty log.
pub async fn seed_reference(
    svc: &CommandService,
) -> Result<(Vec<DemoToken>, HashMap<String, Staff>), DemoError> {
    let setup = at_local(2022, 12, 28, 8, 0).ok_or_else(|| plan_err("setup time"))?;
    let effective = NaiveDate::from_ymd_opt(2022, 1, 1).ok_or_else(|| plan_err("date"))?;
    let unit = data::unit();
    let unit_code = unit.code.clone();
    let sys = Authority::System;
    svc.execute_reference(ReferenceCommand::RegisterUnit(unit), sys, setup)
        .await?;
    svc.execute_reference(
        ReferenceCommand::PublishCalendarYear {
            calendar: motcua_engine::domain::calendar::demo_year_2023(),
            replace: false,
        },
        sys,
        setup,
    )
    .await?;
    for p in &data::catalog() {
        svc.execute_reference(
            ReferenceCommand::IssueProcedure {
                procedure: p.procedure.clone(),
                effective,
            },
            sys,
            setup,
        )
        .await?;
        svc.execute_reference(
            ReferenceCommand::PublishProcedure {
                unit: unit_code.clone(),
                id: p.procedure.id.clone(),
                at_desk: true,
                online: true,
                effective,
            },
            sys,
            setup,
        )
        .await?;
    }
    let mut tokens = Vec::new();
    let mut staff_map = HashMap::new();
    for s in data::staff() {
        let t = new_token();
        register_with_token(svc, &s, &t, sys, setup, None).await?;
        let role = s
            .roles
            .first()
            .map(|r| r.as_str())
            .unwrap_or("none")
            .to_owned();
        tokens.push(DemoToken {
            role,
            staff: s.id.to_string(),
            token: t.token,
        });
        staff_map.insert(s.id.to_string(), s);
    }
    Ok((tokens, staff_map))
}

/// Working days a dossier of `p` may need after receipt (legal time + pauses + slack).
fn span_days(p: &data::ProcDef, supplement: bool) -> usize {
    let base = match p.procedure.processing_time {
        WorkingTime::WorkingDays(n) => usize::from(n),
        WorkingTime::OfficeHours(h) => usize::from(h) / 8 + 1,
        WorkingTime::CalendarDays(n) => usize::from(n) * 5 / 7 + 3,
    };
    base + if supplement { 6 } else { 1 }
}

async fn history(ctx: Arc<Ctx>, catalog: Arc<Vec<data::ProcDef>>) -> Result<(), DemoError> {
    let mut rng = StdRng::seed_from_u64(SEED);
    // Desk plans: 216 early and 126 on time, shuffled over the procedures' dossiers.
    let mut targets: Vec<bool> = std::iter::repeat_n(true, DESK_EARLY)
        .chain(std::iter::repeat_n(false, DESK_ON_TIME))
        .collect();
    targets.shuffle(&mut rng);
    let mut plans = Vec::new();
    for (ix, p) in catalog.iter().enumerate() {
        for _ in 0..p.desk_dossiers {
            let long = !matches!(p.procedure.processing_time, WorkingTime::WorkingDays(0..=2));
            let supplement = long && rng.gen_bool(0.18);
            let payment = p.procedure.workflow.as_str() == "lien-thong"
                && p.procedure.field.as_str() == "dat-dai"
                && rng.gen_bool(0.5);
            let span = span_days(p, supplement || payment);
            let wd = &ctx.working_days;
            let latest = wd.len().saturating_sub(span + 1).max(1);
            let day = wd[rng.gen_range(1..latest)];
            plans.push(DeskPlan {
                proc_ix: ix,
                day,
                early: targets.pop().ok_or_else(|| plan_err("targets"))?,
                supplement,
                payment,
                send_back: rng.gen_bool(0.07),
                refusal: rng.gen_bool(0.03),
                seed: rng.gen(),
            });
        }
    }
    if !targets.is_empty() {
        return Err(plan_err("desk counts do not add up to 342"));
    }
    plans.sort_by_key(|p| p.day);

    // Creations, sequential within a day (deterministic codes), concurrent across days.
    let mut by_day: std::collections::BTreeMap<NaiveDate, Vec<usize>> = Default::default();
    for (i, p) in plans.iter().enumerate() {
        by_day.entry(p.day).or_default().push(i);
    }
    let plans = Arc::new(plans);
    let ecopy_ix = catalog
        .iter()
        .position(|p| p.procedure.id.as_str() == data::ECOPY)
        .ok_or_else(|| plan_err("no e-copy procedure"))?;
    // Online submissions: day and minute of submission (the portal is open day and night).
    let mut online: Vec<(Timestamp, u64)> = Vec::new();
    for _ in 0..ONLINE_ECOPY {
        let d = ctx.working_days[rng.gen_range(1..ctx.working_days.len() - 3)];
        // Submitted the evening before, or during the day before 14:00.
        let t = if rng.gen_bool(0.3) {
            minutes(at(d, 0, 0)?, -60 * i64::from(rng.gen_range(1..6u32)))
        } else {
            at(d, rng.gen_range(7..14), rng.gen_range(0..60))?
        };
        online.push((t, rng.gen()));
    }
    online.sort();
    let mut online_by_day: std::collections::BTreeMap<NaiveDate, Vec<usize>> = Default::default();
    for (i, (t, _)) in online.iter().enumerate() {
        online_by_day.entry(local_date(*t)).or_default().push(i);
    }
    let turned_away: Vec<(NaiveDate, u64, bool)> = (0..DESK_NOT_RECEIVED)
        .map(|k| {
            (
                ctx.working_days[rng.gen_range(1..ctx.working_days.len() - 1)],
                rng.gen(),
                k % 2 == 0,
            )
        })
        .collect();

    let mut days: Vec<NaiveDate> = by_day.keys().chain(online_by_day.keys()).copied().collect();
    days.sort();
    days.dedup();
    let online = Arc::new(online);
    let created: Vec<Result<Vec<Created>, DemoError>> = stream::iter(days)
        .map(|day| {
            let ctx = ctx.clone();
            let plans = plans.clone();
            let catalog = catalog.clone();
            let online = online.clone();
            let desk: Vec<usize> = by_day.get(&day).cloned().unwrap_or_default();
            let onl: Vec<usize> = online_by_day.get(&day).cloned().unwrap_or_default();
            let away: Vec<(u64, bool)> = turned_away
                .iter()
                .filter(|t| t.0 == day)
                .map(|t| (t.1, t.2))
                .collect();
            async move {
                // Each creation's time, then in time order.
                let mut items: Vec<(Timestamp, Creation)> = Vec::new();
                for i in desk {
                    let p = &plans[i];
                    let mut r = StdRng::seed_from_u64(p.seed);
                    let same_day = matches!(
                        catalog[p.proc_ix].procedure.processing_time,
                        WorkingTime::WorkingDays(0)
                    );
                    let t = if same_day && p.early {
                        at(day, 15, r.gen_range(5..50))?
                    } else if r.gen_bool(0.6) {
                        at(day, 7, 30).map(|t| minutes(t, r.gen_range(0..200)))?
                    } else {
                        at(day, 13, 40).map(|t| minutes(t, r.gen_range(0..70)))?
                    };
                    items.push((t, Creation::Desk(i)));
                }
                for i in onl {
                    items.push((online[i].0, Creation::Online(i)));
                }
                for (seed, refuse) in away {
                    let mut r = StdRng::seed_from_u64(seed);
                    items.push((
                        at(day, 8, r.gen_range(0..150))?,
                        Creation::Away(seed, refuse),
                    ));
                }
                items.sort_by_key(|(t, _)| *t);
                let mut out = Vec::new();
                for (t, c) in items {
                    match &c {
                        Creation::Desk(i) => {
                            let p = &plans[*i];
                            let mut r = StdRng::seed_from_u64(p.seed ^ 1);
                            let def = &catalog[p.proc_ix];
                            let reception = pick(&mut r, &["tn-01", "tn-02"]);
                            let (code, changes) = ctx
                                .create(
                                    None,
                                    Command::Receive {
                                        intake: Some(
                                            intake(&ctx, def, Channel::Desk, &mut r).await?,
                                        ),
                                    },
                                    reception,
                                    t,
                                )
                                .await?;
                            out.push((c, code, due_of(&changes), t));
                        }
                        Creation::Online(i) => {
                            let mut r = StdRng::seed_from_u64(online[*i].1);
                            let def = &catalog[ecopy_ix];
                            let (code, _) = ctx
                                .create(
                                    None,
                                    Command::SubmitOnline(
                                        intake(&ctx, def, Channel::Online, &mut r).await?,
                                    ),
                                    "cong-dvc",
                                    t,
                                )
                                .await?;
                            out.push((c, code, None, t));
                        }
                        Creation::Away(seed, refuse) => {
                            let mut r = StdRng::seed_from_u64(*seed);
                            let def = &catalog[r.gen_range(0..catalog.len())];
                            let i = intake(&ctx, def, Channel::Desk, &mut r).await?;
                            let cmd = if *refuse {
                                Command::RefuseToReceive {
                                    intake: Some(i),
                                    reason: "Yêu cầu không thuộc thẩm quyền giải quyết của UBND xã"
                                        .into(),
                                    legal_basis: "Nghị định 61/2018/NĐ-CP, Điều 19".into(),
                                }
                            } else {
                                Command::GuideToComplete {
                                    intake: Some(i),
                                    missing: vec!["Bản chính giấy tờ tuỳ thân".into()],
                                    note: "Hướng dẫn bổ sung trước khi nộp lại".into(),
                                }
                            };
                            ctx.exec(None, cmd, "tn-01", t).await?;
                        }
                    }
                }
                Ok(out)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut jobs = Vec::new();
    for day in created {
        for (c, code, due, t) in day? {
            jobs.push((c, code, due, t));
        }
    }
    let results: Vec<Result<(), DemoError>> = stream::iter(jobs)
        .map(|(c, code, due, t)| {
            let ctx = ctx.clone();
            let plans = plans.clone();
            let catalog = catalog.clone();
            let online = online.clone();
            async move {
                match c {
                    Creation::Desk(i) => {
                        let due = due.ok_or_else(|| plan_err("receipt without due"))?;
                        desk_rest(&ctx, &catalog[plans[i].proc_ix], &plans[i], code, t, due).await
                    }
                    Creation::Online(i) => online_rest(&ctx, code, t, online[i].1).await,
                    Creation::Away(..) => Ok(()),
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(())
}

/// A created dossier: what it was, its code, its due time (desk receipts), when.
type Created = (Creation, DossierCode, Option<Timestamp>, Timestamp);

#[derive(Debug, Clone, Copy)]
enum Creation {
    Desk(usize),
    Online(usize),
    Away(u64, bool),
}

/// Chooses the finish time: on the due date (on time) or on a working day before it (early),
/// after `cursor` and inside office hours.
fn finish_time(
    ctx: &Ctx,
    cursor: Timestamp,
    due: Timestamp,
    early: bool,
    r: &mut StdRng,
) -> Result<Timestamp, DemoError> {
    let due_day = local_date(due);
    let cur_day = local_date(cursor);
    // Latest finish minute of a day: 16:55, leaving room for nothing after it that day.
    let latest = |d: NaiveDate| at(d, 16, 55);
    let candidate = |d: NaiveDate, r: &mut StdRng| -> Result<Option<Timestamp>, DemoError> {
        let lo = if d == cur_day {
            minutes(cursor, 20)
        } else {
            at(d, 8, 0)?
        };
        let hi = latest(d)?;
        if lo.0 > hi.0 {
            return Ok(None);
        }
        let span = (hi.0 - lo.0) / 60_000;
        Ok(Some(minutes(lo, r.gen_range(0..=span.min(240)))))
    };
    if early {
        let mut d = if ctx.is_wd(cur_day) {
            cur_day
        } else {
            ctx.next_wd(cur_day)
        };
        let mut options = Vec::new();
        while d < due_day && options.len() < 3 {
            if let Some(t) = candidate(d, r)? {
                options.push(t);
            }
            d = ctx.next_wd(d);
        }
        options.choose(r).copied().ok_or_else(|| {
            plan_err(format!(
                "no early finish possible: cursor {cursor} due {due}"
            ))
        })
    } else {
        if due_day < cur_day {
            return Err(plan_err(format!("due {due} before cursor {cursor}")));
        }
        candidate(due_day, r)?.ok_or_else(|| {
            plan_err(format!(
                "no on-time finish possible: cursor {cursor} due {due}"
            ))
        })
    }
}

/// Next office moment at or after `t` + `m` minutes (skips nights and days off).
fn office_after(ctx: &Ctx, t: Timestamp, m: i64) -> Result<Timestamp, DemoError> {
    let t = minutes(t, m);
    let d = local_date(t);
    let min = minute_of_day(t);
    if ctx.is_wd(d) && (7 * 60 + 30..16 * 60 + 30).contains(&min) {
        return Ok(t);
    }
    let next = if ctx.is_wd(d) && min < 7 * 60 + 30 {
        d
    } else {
        ctx.next_wd(d)
    };
    at(next, 7, 45)
}

async fn desk_rest(
    ctx: &Ctx,
    def: &data::ProcDef,
    p: &DeskPlan,
    code: DossierCode,
    received: Timestamp,
    mut due: Timestamp,
) -> Result<(), DemoError> {
    let mut r = StdRng::seed_from_u64(p.seed ^ 2);
    let c = Some(&code);
    let field = &def.procedure.field;
    let specialist = specialist_for(field, &mut r);
    let reception = pick(&mut r, &["tn-01", "tn-02"]);
    let leader = pick(&mut r, &["ld-01", "ld-02"]);
    let mut cursor = minutes(received, r.gen_range(3..15));
    ctx.exec(
        c,
        Command::Assign {
            specialist: specialist.parse().map_err(|_| plan_err("id"))?,
            note: "Chuyển xử lý".into(),
        },
        reception,
        cursor,
    )
    .await?;
    if p.supplement {
        cursor = office_after(ctx, cursor, r.gen_range(30..240))?;
        ctx.exec(
            c,
            Command::RequestSupplement {
                items: vec!["Bản sao giấy tờ chứng minh nơi cư trú".into()],
                reason: "Hồ sơ thiếu giấy tờ theo quy định".into(),
            },
            specialist,
            cursor,
        )
        .await?;
        let back = ctx.wd_add(local_date(cursor), r.gen_range(1..4));
        cursor = at(back, 8, r.gen_range(0..90))?;
        let ch = ctx
            .exec(
                c,
                Command::RecordSupplement {
                    note: "Công dân đã bổ sung".into(),
                },
                reception,
                cursor,
            )
            .await?;
        due = due_of(&ch).unwrap_or(due);
    }
    let lien_thong = def.procedure.workflow.as_str() == "lien-thong";
    if lien_thong {
        let agency = if field.as_str() == "dat-dai" {
            data::DISTRICT_AGENCY
        } else {
            data::DISTRICT_LABOUR
        };
        cursor = minutes(cursor, r.gen_range(20..90));
        ctx.exec(
            c,
            Command::Forward {
                agency: agency.into(),
                note: "Chuyển hồ sơ liên thông".into(),
            },
            specialist,
            cursor,
        )
        .await?;
        // The other agency answers within about half of the remaining time.
        let remaining_days = (local_date(due) - local_date(cursor)).num_days().max(1);
        let answer_day = ctx.wd_add(local_date(cursor), (remaining_days as usize / 3).max(1));
        let answer_day = answer_day.min(local_date(due));
        cursor = at(answer_day, 8, r.gen_range(0..60))?;
        ctx.exec(
            c,
            Command::RecordAgencyAnswer {
                note: "Cơ quan liên thông đã có kết quả".into(),
            },
            specialist,
            cursor,
        )
        .await?;
    }
    if p.payment {
        cursor = minutes(cursor, r.gen_range(20..60));
        ctx.exec(
            c,
            Command::RequestPayment {
                amount: Vnd(25_000 + 5_000 * r.gen_range(0..20)),
                note: "Nộp lệ phí cấp Giấy chứng nhận".into(),
            },
            specialist,
            cursor,
        )
        .await?;
        let paid = ctx.wd_add(local_date(cursor), 1);
        cursor = at(paid, 9, r.gen_range(0..60))?;
        let ch = ctx
            .exec(
                c,
                Command::RecordPayment {
                    receipt_number: format!("BL-2023-{:05}", r.gen_range(0..100_000)),
                },
                reception,
                cursor,
            )
            .await?;
        due = due_of(&ch).unwrap_or(due);
    }
    let finish = finish_time(ctx, cursor, due, p.early, &mut r)?;
    // Signing steps, evenly spread between the cursor and the finish.
    let draft = if p.refusal {
        DraftKind::Refusal
    } else {
        DraftKind::Result
    };
    let mut steps: Vec<(Command, &str)> = vec![(
        Command::SubmitForSigning {
            draft,
            note: "Trình ký".into(),
        },
        specialist,
    )];
    if p.send_back {
        steps.push((
            Command::SendBack {
                comments: "Đề nghị kiểm tra lại thông tin người yêu cầu".into(),
            },
            leader,
        ));
        steps.push((
            Command::SubmitForSigning {
                draft,
                note: "Trình ký lại sau khi chỉnh sửa".into(),
            },
            specialist,
        ));
    }
    let n = steps.len() as i64 + 1;
    let gap = (finish.0 - cursor.0) / n;
    if gap < 60_000 {
        return Err(plan_err(format!("{code}: no room for the signing steps")));
    }
    for (k, (cmd, who)) in steps.into_iter().enumerate() {
        ctx.exec(c, cmd, who, Timestamp(cursor.0 + gap * (k as i64 + 1)))
            .await?;
    }
    let final_cmd = if p.refusal {
        Command::SignRefusal {
            reasons: "Không đủ điều kiện theo quy định".into(),
        }
    } else {
        Command::Approve {
            note: "Đồng ý".into(),
        }
    };
    ctx.exec(c, final_cmd, leader, finish).await?;
    let hand = office_after(ctx, finish, r.gen_range(5..600))?;
    if local_date(hand) <= ctx.last_day {
        ctx.exec(
            c,
            Command::HandOver {
                note: "Đã trả kết quả cho công dân".into(),
            },
            reception,
            hand,
        )
        .await?;
    }
    Ok(())
}

async fn online_rest(
    ctx: &Ctx,
    code: DossierCode,
    submitted: Timestamp,
    seed: u64,
) -> Result<(), DemoError> {
    let mut r = StdRng::seed_from_u64(seed ^ 3);
    let c = Some(&code);
    let reception = pick(&mut r, &["tn-01", "tn-02"]);
    let specialist = pick(&mut r, &["cm-tp-01", "cm-tp-02"]);
    let leader = pick(&mut r, &["ld-01", "ld-02"]);
    // Received at the next office moment, before the 15:00 cut-off (same-day procedure).
    let mut t = office_after(ctx, submitted, r.gen_range(10..60))?;
    if minute_of_day(t) > 14 * 60 {
        t = at(ctx.next_wd(local_date(t)), 7, 40)?;
    }
    let ch = ctx
        .exec(c, Command::Receive { intake: None }, reception, t)
        .await?;
    let due = due_of(&ch).ok_or_else(|| plan_err("online receipt without due"))?;
    t = minutes(t, r.gen_range(3..10));
    ctx.exec(
        c,
        Command::Assign {
            specialist: specialist.parse().map_err(|_| plan_err("id"))?,
            note: "Chứng thực điện tử".into(),
        },
        reception,
        t,
    )
    .await?;
    t = minutes(t, r.gen_range(10..60));
    ctx.exec(
        c,
        Command::SubmitForSigning {
            draft: DraftKind::Result,
            note: "Trình ký số".into(),
        },
        specialist,
        t,
    )
    .await?;
    t = minutes(t, r.gen_range(5..60));
    if local_date(t) > local_date(due) {
        return Err(plan_err(format!("{code}: online finish after due")));
    }
    ctx.exec(
        c,
        Command::Approve {
            note: "Ký số bản sao điện tử".into(),
        },
        leader,
        t,
    )
    .await?;
    t = minutes(t, r.gen_range(1..10));
    ctx.exec(
        c,
        Command::HandOver {
            note: "Trả kết quả điện tử qua Cổng dịch vụ công".into(),
        },
        reception,
        t,
    )
    .await?;
    Ok(())
}

/// The report's figures, recomputed by `stats` (the application's statistics query over the
/// read models); an error names every difference.
pub fn verify<E: std::fmt::Display>(
    stats: impl Fn(
        NaiveDate,
        NaiveDate,
        &motcua_engine::projection::StatsFilter,
    ) -> Result<motcua_engine::projection::StatsReport, E>,
) -> Result<(), DemoError> {
    use motcua_engine::projection::StatsFilter;
    let from = NaiveDate::from_ymd_opt(2023, 1, 1).ok_or_else(|| plan_err("date"))?;
    let to = NaiveDate::from_ymd_opt(2023, 8, 31).ok_or_else(|| plan_err("date"))?;
    let unit: UnitCode = data::UNIT.parse().map_err(|_| plan_err("unit"))?;
    let stats = |channel: Channel, procedure: Option<&str>| {
        stats(
            from,
            to,
            &StatsFilter {
                unit: Some(unit.clone()),
                field: None,
                procedure: procedure.and_then(|p| p.parse().ok()),
                channel: Some(channel),
            },
        )
        .map_err(|e| plan_err(e.to_string()))
    };
    let desk = stats(Channel::Desk, None)?.figures;
    let online = stats(Channel::Online, Some(data::ECOPY))?.figures;
    let mut diffs = Vec::new();
    let mut check = |what: &str, got: u64, want: u64| {
        if got != want {
            diffs.push(format!("{what}: {got} (want {want})"));
        }
    };
    check("desk received", desk.received, 342);
    check("desk resolved", desk.resolved, 342);
    check("desk early", desk.resolved_early, 216);
    check("desk on time", desk.resolved_on_time, 126);
    check("desk late", desk.resolved_late, 0);
    check("desk in progress", desk.in_progress, 0);
    check("online e-copy received", online.received, 187);
    check("online e-copy resolved", online.resolved, 187);
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(DemoError::Figures(diffs.join("; ")))
    }
}

/// A console account of the demo: one per role, printed at first start (the password is shown
/// once and kept only as its Argon2id hash).
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub role: String,
    pub username: String,
    pub password: String,
}

/// Gives the first demo staff member of each role a console account with a random password
/// (username = staff id), through the application's `set_password` like any reset.
pub async fn seed_accounts(
    app: &crate::app::App,
    tokens: &[DemoToken],
) -> Result<Vec<DemoAccount>, DemoError> {
    let mut out: Vec<DemoAccount> = Vec::new();
    for t in tokens {
        if out.iter().any(|a| a.role == t.role) {
            continue;
        }
        let staff: StaffId = t
            .staff
            .parse()
            .map_err(|e| DemoError::Account(format!("staff id {}: {e}", t.staff)))?;
        let password = crate::app::accounts::generate_password();
        app.accounts()
            .set_password(None, &staff, &t.staff, &password, "demo")
            .await
            .map_err(|e| DemoError::Account(format!("{}: {e}", t.staff)))?;
        out.push(DemoAccount {
            role: t.role.clone(),
            username: t.staff.clone(),
            password,
        });
    }
    Ok(out)
}

/// The console accounts printed next to the tokens (one line each).
pub fn account_lines(accounts: &[DemoAccount]) -> Vec<String> {
    accounts
        .iter()
        .map(|a| {
            format!(
                "demo-account role={} username={} password={}",
                a.role, a.username, a.password
            )
        })
        .collect()
}

/// Roles printed next to demo tokens (one line each).
pub fn token_lines(tokens: &[DemoToken]) -> Vec<String> {
    tokens
        .iter()
        .map(|t| {
            format!(
                "demo-token role={} staff={} token={}",
                t.role, t.staff, t.token
            )
        })
        .collect()
}
