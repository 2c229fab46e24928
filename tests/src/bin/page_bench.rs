//! `page-bench` (`cargo run --release -p motcua-tests --bin page-bench`): how long each console
//! page takes to answer on the demo commune, and whether that stays flat when the history is
//! ten times longer (issue 13: every page under 50 ms at p95).
//!
//! The real server starts on a temporary directory seeded with the demo commune; the demo's
//! console accounts of reception, specialist, leader, admin and auditor sign in over HTTP like
//! a browser (sign-in form, double-submit cookie, session cookie). Each page is then fetched
//! `--requests` times one after another over one keep-alive client, every answer read whole
//! and required to be 200. Then the server stops, a synthetic history of the demo unit is
//! appended straight to the same log (from 2024-01-02, after the demo's 2023 history, so codes
//! never collide; the demo's fields, procedures and staff, so every list the demo accounts see
//! grows with it) until the unit holds `--growth` times the demo's dossiers, the server starts
//! again on the same directory, waits for its read models and the pages are measured again.
//!
//! Output: one line per page and history, `page=/queue p50_ms=.. p95_ms=.. max_ms=..` (and the
//! body's `bytes=`), then
//! `pages=.. worst_p95_ms=.. history=demo` (and `history=10x`), and last
//! `flat_ratio=<worst p95 with the long history / worst p95 on the demo>`. Any answer other
//! than 200 ends the run with a non-zero exit and the page named.

use std::collections::HashMap;
use std::error::Error;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use motcua_engine::domain::events::{DossierChange, Event};
use motcua_engine::domain::types::{Field, ProcedureId, Role, StaffId, Timestamp, UnitCode};
use motcua_engine::log::{EventLog, LogConfig};
use motcua_http::config::ServeConfig;
use motcua_http::demo::{data, DemoAccount};
use motcua_http::server::{self, RunningServer};
use motcua_testkit::synth::{append_history, history, SynthConfig, SynthEvent};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::StatusCode;

type BenchResult<T> = Result<T, Box<dyn Error>>;

#[derive(Debug, Parser)]
#[command(
    name = "page-bench",
    about = "Thời gian trả lời của từng trang bảng điều khiển"
)]
struct Args {
    /// Requests per page and history (sequential, one keep-alive client).
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// How many times the demo's dossiers the long history holds.
    #[arg(long, default_value_t = 10)]
    growth: usize,
}

/// Most requests per page: the bench is sequential and keeps every latency.
const MAX_REQUESTS: usize = 100_000;
/// Largest history multiple (the synthetic history is generated in memory).
const MAX_GROWTH: usize = 100;
/// The roles whose demo console accounts sign in.
const ROLES: [&str; 5] = ["reception", "specialist", "leader", "admin", "auditor"];
/// A published desk procedure of the demo catalog (Đăng ký khai sinh).
const DESK_PROCEDURE: &str = "1.001193";
/// A family name of the demo's applicants, folded as a clerk types it.
const SEARCH_NAME: &str = "nguyen";
/// First day of the synthetic history: 2024-01-02 08:00 (UTC+7), after the demo's 2023.
const SYNTH_START: Timestamp = Timestamp(1_704_157_200_000);
/// Synthetic dossiers received per day at the demo unit.
const SYNTH_PER_DAY: u16 = 20;
/// Seed of the synthetic history.
const SYNTH_SEED: u64 = 13;
/// How long the restarted server may take to fold the long history.
const FOLD_LIMIT: Duration = Duration::from_secs(600);

/// One page to measure and the role whose session fetches it (`None`: no session).
struct Page {
    path: String,
    role: Option<&'static str>,
}

/// Latencies of one page, in milliseconds.
struct Timing {
    path: String,
    p50_ms: f64,
    p95_ms: f64,
    max_ms: f64,
    /// Size of the last answer's body: shows which lists grew with the history.
    bytes: usize,
}

/// One keep-alive client and a session cookie per role.
struct Console {
    base: String,
    client: reqwest::Client,
    sessions: HashMap<&'static str, String>,
}

fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The value of the first `name="NAME" value="..."` of a page.
fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_owned())
}

impl Console {
    fn new(server: &RunningServer) -> BenchResult<Console> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Console {
            base: format!("http://{}", server.addr),
            client,
            sessions: HashMap::new(),
        })
    }

    /// Signs in as `account` the way a browser does; keeps its session cookie.
    async fn sign_in(&mut self, role: &'static str, account: &DemoAccount) -> BenchResult<()> {
        let form = self
            .client
            .get(format!("{}/signin", self.base))
            .send()
            .await?;
        if form.status() != StatusCode::OK {
            return Err(format!("GET /signin: {}", form.status()).into());
        }
        let double_submit = set_cookie(&form, motcua_http::console::SIGNIN_COOKIE)
            .ok_or("GET /signin: no double-submit cookie")?;
        let body = form.text().await?;
        let csrf = hidden(&body, "csrf").ok_or("GET /signin: no csrf field")?;
        let answer = self
            .client
            .post(format!("{}/signin", self.base))
            .header(COOKIE, double_submit)
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", account.username.as_str()),
                ("password", account.password.as_str()),
            ])
            .send()
            .await?;
        if answer.status() != StatusCode::SEE_OTHER {
            return Err(format!("POST /signin as {role}: {}", answer.status()).into());
        }
        let session = set_cookie(&answer, motcua_http::console::SESSION_COOKIE)
            .ok_or_else(|| format!("POST /signin as {role}: no session cookie"))?;
        self.sessions.insert(role, session);
        Ok(())
    }

    /// Fetches `page` `n` times, each answer read whole and required to be 200.
    async fn measure(&self, page: &Page, n: usize) -> BenchResult<Timing> {
        let cookie = match page.role {
            Some(role) => Some(
                self.sessions
                    .get(role)
                    .ok_or_else(|| format!("no session for {role}"))?
                    .clone(),
            ),
            None => None,
        };
        let url = format!("{}{}", self.base, page.path);
        let mut ms = Vec::with_capacity(n);
        let mut bytes = 0;
        for _ in 0..n {
            let mut req = self.client.get(&url);
            if let Some(c) = &cookie {
                req = req.header(COOKIE, c);
            }
            let t = Instant::now();
            let resp = req.send().await?;
            let status = resp.status();
            let body = resp.bytes().await?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            bytes = body.len();
            if status != StatusCode::OK {
                let text = String::from_utf8_lossy(&body);
                let tail: String = text.chars().take(300).collect();
                return Err(format!("GET {}: {status} ({tail})", page.path).into());
            }
        }
        ms.sort_by(f64::total_cmp);
        Ok(Timing {
            path: page.path.clone(),
            p50_ms: percentile(&ms, 0.50),
            p95_ms: percentile(&ms, 0.95),
            max_ms: ms.last().copied().unwrap_or(0.0),
            bytes,
        })
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn config(dir: &Path, demo: bool) -> ServeConfig {
    let bind: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut c = ServeConfig::new(dir, bind);
    c.demo = demo;
    c.print_demo_tokens = false;
    c
}

/// The pages of issue 13, with a demo dossier `code`.
fn pages(code: &str) -> Vec<Page> {
    let p = |path: String, role: Option<&'static str>| Page { path, role };
    vec![
        p("/home".into(), Some("reception")),
        p("/desk".into(), Some("reception")),
        p(
            format!("/desk?procedure={DESK_PROCEDURE}"),
            Some("reception"),
        ),
        p("/queue".into(), Some("reception")),
        p("/worklist".into(), Some("specialist")),
        p("/inbox".into(), Some("leader")),
        p(format!("/search?q={SEARCH_NAME}"), Some("reception")),
        p(
            "/search?from=2023-01-01&to=2023-08-31".into(),
            Some("reception"),
        ),
        p(format!("/dossiers/{code}"), Some("reception")),
        p(format!("/dossiers/{code}/slip01"), Some("reception")),
        p(format!("/dossiers/{code}/slips/05"), Some("reception")),
        p("/staff".into(), Some("admin")),
        p("/personal".into(), Some("admin")),
        p("/audit".into(), Some("auditor")),
        p("/tra-cuu".into(), None),
    ]
}

/// Signs every role in and measures every page; prints the lines and returns the worst p95.
async fn measure_all(
    server: &RunningServer,
    accounts: &[DemoAccount],
    code: &str,
    requests: usize,
    label: &str,
) -> BenchResult<f64> {
    let mut console = Console::new(server)?;
    for role in ROLES {
        let account = accounts
            .iter()
            .find(|a| a.role == role)
            .ok_or_else(|| format!("no demo account for {role}"))?;
        console.sign_in(role, account).await?;
    }
    let all = pages(code);
    let mut worst: f64 = 0.0;
    for page in &all {
        let t = console.measure(page, requests).await?;
        println!(
            "page={} p50_ms={:.2} p95_ms={:.2} max_ms={:.2} bytes={} history={label}",
            t.path, t.p50_ms, t.p95_ms, t.max_ms, t.bytes
        );
        worst = worst.max(t.p95_ms);
    }
    println!(
        "pages={} worst_p95_ms={worst:.2} history={label}",
        all.len()
    );
    Ok(worst)
}

/// A dossier of the demo the reception desk reads: the first resolved on time.
async fn demo_code(server: &RunningServer) -> BenchResult<String> {
    let token = server
        .demo_tokens
        .iter()
        .find(|t| t.role == "auditor")
        .ok_or("no demo auditor token")?;
    let url = format!(
        "http://{}/v1/stats/codes?from=2023-01-01&to=2023-08-31&channel=desk&figure=resolved_on_time",
        server.addr
    );
    let v: serde_json::Value = reqwest::Client::new()
        .get(url)
        .bearer_auth(&token.token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(v["codes"][0]
        .as_str()
        .ok_or("no demo dossier code in /v1/stats/codes")?
        .to_owned())
}

/// Dossier streams in the log (each dossier is one stream; its first event opens it).
fn dossier_streams(log: &EventLog) -> BenchResult<usize> {
    let mut n = 0;
    for e in log.scan(0) {
        let e = e?;
        if e.version == 1 && e.stream.category() == "dossier" {
            n += 1;
        }
    }
    Ok(n)
}

/// The synthetic history recast onto the demo's catalog and staff: each synthetic procedure
/// becomes a demo procedure of the same field, and each synthetic specialist a demo specialist
/// of that field, so the demo accounts' lists hold the new dossiers.
fn onto_demo(events: &mut [SynthEvent]) {
    let catalog = data::catalog();
    let staff = data::staff();
    let procedures = |field: &Field| -> Vec<(ProcedureId, u32, String)> {
        catalog
            .iter()
            .filter(|d| &d.procedure.field == field)
            .map(|d| {
                let p = &d.procedure;
                (p.id.clone(), p.version, p.name.clone())
            })
            .collect()
    };
    let specialists = |field: &Field| -> Vec<StaffId> {
        staff
            .iter()
            .filter(|s| s.roles.contains(&Role::Specialist) && s.fields.contains(field))
            .map(|s| s.id.clone())
            .collect()
    };
    // The synthetic ids end in a number (`0.00002`, `cm-03`): it picks among the candidates.
    let pick = |id: &str, n: usize| -> usize {
        id.rsplit(['.', '-'])
            .next()
            .and_then(|d| d.parse::<usize>().ok())
            .unwrap_or(0)
            % n.max(1)
    };
    let mut specialist_of: HashMap<String, StaffId> = HashMap::new();
    for e in events.iter_mut() {
        let Event::Dossier(d) = &mut e.event else {
            continue;
        };
        let code = d.code.to_string();
        match &mut d.change {
            DossierChange::SubmittedOnline(s) => {
                let procs = procedures(&s.field);
                if let Some((id, version, _)) =
                    procs.get(pick(s.procedure.id.as_str(), procs.len()))
                {
                    s.procedure.id = id.clone();
                    s.procedure.version = *version;
                }
            }
            DossierChange::Received(r) => {
                let procs = procedures(&r.field);
                if let Some((id, version, name)) =
                    procs.get(pick(r.procedure.id.as_str(), procs.len()))
                {
                    r.procedure.id = id.clone();
                    r.procedure.version = *version;
                    r.procedure_name = name.clone();
                }
                let people = specialists(&r.field);
                if !people.is_empty() {
                    // Chosen at receipt from the code's sequence, kept for the whole walk.
                    let who = people[pick(&code, people.len())].clone();
                    specialist_of.insert(code.clone(), who);
                }
            }
            DossierChange::Assigned { specialist, .. } => {
                if let Some(who) = specialist_of.get(&code) {
                    *specialist = who.clone();
                }
            }
            _ => {}
        }
        if e.role == Role::Specialist || e.actor.starts_with("cm-") {
            if let Some(who) = specialist_of.get(&code) {
                e.actor = who.to_string();
            }
        }
    }
}

/// Appends synthetic dossiers of the demo unit to the log in `dir` until it holds `growth`
/// times the demo's; the demo's dossier count, the new count and the new head.
async fn grow(dir: &Path, growth: usize) -> BenchResult<(usize, usize, u64)> {
    let log = EventLog::open(dir, LogConfig::default())?;
    let demo = dossier_streams(&log)?;
    let dossiers = demo * growth.saturating_sub(1);
    let unit = data::unit();
    let unit_code: UnitCode = unit.code.clone();
    let cfg = SynthConfig {
        units: vec![unit_code],
        fields: unit.fields.iter().map(|f| f.field.clone()).collect(),
        procedures_per_field: 3,
        start: SYNTH_START,
        dossiers_per_day: SYNTH_PER_DAY,
    };
    // The unit and its catalog are the demo's: only the dossiers are appended.
    let mut events: Vec<SynthEvent> = history(&cfg, SYNTH_SEED, dossiers)
        .into_iter()
        .filter(|e| matches!(e.event, Event::Dossier(_)))
        .collect();
    onto_demo(&mut events);
    let head = append_history(&log, &events).await?;
    let total = dossier_streams(&log)?;
    log.close().await?;
    Ok((demo, total, head))
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args = Args::parse();
    if args.requests == 0 || args.requests > MAX_REQUESTS {
        return Err(format!("--requests must be in 1..={MAX_REQUESTS}").into());
    }
    if args.growth < 2 || args.growth > MAX_GROWTH {
        return Err(format!("--growth must be in 2..={MAX_GROWTH}").into());
    }
    let tmp = tempfile::Builder::new().prefix("page-bench-").tempdir()?;
    let dir = tmp.path().join("data");

    let server = server::start(config(&dir, true)).await?;
    let accounts = server.demo_accounts.clone();
    let code = demo_code(&server).await?;
    let demo_worst = measure_all(&server, &accounts, &code, args.requests, "demo").await?;
    server.shutdown().await?;

    let t = Instant::now();
    let (demo, total, head) = grow(&dir, args.growth).await?;
    println!(
        "# history: demo_dossiers={demo} dossiers={total} head={head} append_s={:.1}",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let server = server::start(config(&dir, false)).await?;
    let deadline = Instant::now() + FOLD_LIMIT;
    while !server.app().wait_for_read_models(head).await {
        if Instant::now() > deadline {
            return Err(format!("read models not at {head} after {FOLD_LIMIT:?}").into());
        }
    }
    println!("# restart and fold: {:.1} s", t.elapsed().as_secs_f64());
    let label = format!("{}x", args.growth);
    let long_worst = measure_all(&server, &accounts, &code, args.requests, &label).await?;
    server.shutdown().await?;
    println!(
        "flat_ratio={:.2}",
        long_worst / demo_worst.max(f64::MIN_POSITIVE)
    );
    Ok(())
}
