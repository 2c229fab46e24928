//! HTTP load generator: closed-loop clients drive realistic mixed dossier lifecycles (receive,
//! assign, supplement, liên thông, signing with send-backs, approval, hand-over) over HTTP, then
//! the same clients hit a trivial axum route as the ceiling of this machine's HTTP stack.
//!
//! `cargo run --release -p motcua-tests --bin load -- --clients 64 --seconds 20` starts a fresh
//! server in-process on a temporary data directory (reference data of the demo commune, no
//! history); `--url URL --tokens FILE` targets a running server instead (FILE holds the
//! `demo-token role=.. staff=.. token=..` lines printed by `motcua serve --demo`).
//!
//! Output ends with `ceiling_rps=...` and then
//! `http_tps=<transitions/s> clients=<n> p50_ms=<x> p99_ms=<y> errors=<n>`. Latencies are per
//! request of closed-loop clients, so they understate the tail a constant-rate client would see
//! under saturation (coordinated omission).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

#[derive(Debug, Parser)]
#[command(name = "load", about = "HTTP load generator for motcua")]
struct Args {
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seconds of dossier load (the ceiling run lasts min(seconds, 10)).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Target a running server instead of starting one.
    #[arg(long)]
    url: Option<String>,
    /// With --url: file with the server's `demo-token ...` lines.
    #[arg(long)]
    tokens: Option<std::path::PathBuf>,
    /// Skip the ceiling run.
    #[arg(long)]
    no_ceiling: bool,
    /// Communes (units) the clients spread over when the tool starts the server: a dossier code
    /// holds a 4-digit daily sequence per unit (TT 01/2018), so one unit takes at most 9,999
    /// receipts a day.
    #[arg(long, default_value_t = 8)]
    units: usize,
    /// Print the server's log and latency metrics after the run (stderr).
    #[arg(long)]
    show_metrics: bool,
}

#[derive(Default)]
struct Stats {
    transitions: AtomicU64,
    errors: AtomicU64,
}

struct Target {
    base: String,
    tokens: HashMap<String, String>,
    client: reqwest::Client,
}

impl Target {
    async fn post(
        &self,
        path: &str,
        staff: &str,
        body: Value,
        lat: &mut Vec<u32>,
    ) -> Result<Value, String> {
        let token = self
            .tokens
            .get(staff)
            .ok_or_else(|| format!("no token for {staff}"))?;
        let t0 = Instant::now();
        let r = self
            .client
            .post(format!("{}{}", self.base, path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let v: Value = r.json().await.map_err(|e| e.to_string())?;
        lat.push(t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        if status.is_success() {
            Ok(v)
        } else {
            Err(format!("{path}: {status} {v}"))
        }
    }
}

/// One dossier's lifecycle at unit number `unit` (extra units' staff ids carry `-u<unit>`).
async fn lifecycle(
    t: &Target,
    unit: usize,
    rng: &mut StdRng,
    lat: &mut Vec<u32>,
    stats: &Stats,
) -> Result<(), String> {
    let sfx = |id: &str| {
        if unit == 0 {
            id.to_owned()
        } else {
            format!("{id}-u{unit}")
        }
    };
    // (procedure, specialist, liên thông)
    const PROCS: [(&str, &str, bool); 6] = [
        ("1.001193", "cm-tp-01", false),
        ("1.004873", "cm-tp-02", false),
        ("2.000815", "cm-tp-01", false),
        ("2.001044", "cm-tp-02", false),
        ("1.004227", "cm-dc-01", true),
        ("1.001776", "cm-vh-01", true),
    ];
    let (procedure, specialist, lien_thong) = PROCS[rng.gen_range(0..PROCS.len())];
    let specialist = &sfx(specialist);
    let reception = &sfx(if rng.gen_bool(0.5) { "tn-01" } else { "tn-02" });
    let leader = &sfx(if rng.gen_bool(0.5) { "ld-01" } else { "ld-02" });
    let body = json!({
        "procedure": procedure,
        "applicant": {"name": "Nông Văn Tải", "id_number": format!("0060{:08}", rng.gen_range(0..100_000_000u32)),
                      "phone": "0912000000", "address": "thôn Nà Pài, xã Dương Phong"},
        "documents": ["Tờ khai"]
    });
    let created = t.post("/v1/dossiers", reception, body, lat).await?;
    stats.transitions.fetch_add(1, Ordering::Relaxed);
    let code = created["code"].as_str().ok_or("no code")?.to_owned();
    let mut steps: Vec<(&str, &String, Value)> =
        vec![("assign", reception, json!({"specialist": specialist}))];
    let same_day = procedure == "2.000815";
    if !same_day && rng.gen_bool(0.15) {
        steps.push((
            "request_supplement",
            specialist,
            json!({"items": ["Bản sao CCCD"], "reason": "thiếu"}),
        ));
        steps.push((
            "record_supplement",
            reception,
            json!({"note": "đã bổ sung"}),
        ));
    }
    if lien_thong {
        steps.push((
            "forward",
            specialist,
            json!({"agency": "UBND huyện Bạch Thông"}),
        ));
        steps.push(("record_agency_answer", specialist, json!({})));
    }
    steps.push(("submit_for_signing", specialist, json!({})));
    if rng.gen_bool(0.1) {
        steps.push(("send_back", leader, json!({"comments": "xem lại"})));
        steps.push(("submit_for_signing", specialist, json!({})));
    }
    steps.push(("approve", leader, json!({})));
    steps.push(("hand_over", reception, json!({})));
    for (action, staff, body) in steps {
        t.post(
            &format!("/v1/dossiers/{code}/actions/{action}"),
            staff,
            body,
            lat,
        )
        .await?;
        stats.transitions.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

/// Seconds per throughput window of a run.
const WINDOW_S: u64 = 10;

async fn run_dossiers(
    t: Arc<Target>,
    clients: usize,
    units: usize,
    seconds: u64,
) -> (f64, Vec<u32>, u64) {
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut handles = Vec::new();
    for c in 0..clients {
        let (t, stats, stop) = (t.clone(), stats.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(c as u64);
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = lifecycle(&t, c % units.max(1), &mut rng, &mut lat, &stats).await {
                    if stats.errors.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("error: {e}");
                    }
                }
            }
            lat
        }));
    }
    // Throughput per window, to see whether it holds as the log grows.
    let mut windows = Vec::new();
    let mut before = 0;
    let mut left = seconds;
    while left > 0 {
        let w = left.min(WINDOW_S);
        tokio::time::sleep(Duration::from_secs(w)).await;
        let now = stats.transitions.load(Ordering::Relaxed);
        windows.push((now - before) as f64 / w as f64);
        before = now;
        left -= w;
    }
    stop.store(true, Ordering::Relaxed);
    let transitions_at_stop = stats.transitions.load(Ordering::Relaxed);
    let shown: Vec<String> = windows.iter().map(|w| format!("{w:.0}")).collect();
    println!(
        "windows_tps={} ({WINDOW_S} s each) last_vs_first={:.2}",
        shown.join(","),
        windows.last().unwrap_or(&0.0) / windows.first().unwrap_or(&1.0).max(1.0)
    );
    let elapsed = start.elapsed().as_secs_f64();
    let mut lat = Vec::new();
    for h in handles {
        if let Ok(l) = h.await {
            lat.extend(l);
        }
    }
    lat.sort_unstable();
    (
        transitions_at_stop as f64 / elapsed,
        lat,
        stats.errors.load(Ordering::Relaxed),
    )
}

/// Bytes of the files under `dir` (what the data directory takes on disk, near enough).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

async fn run_ceiling(clients: usize, seconds: u64) -> Result<f64, String> {
    let app = axum::Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..clients {
        let (client, count, stop) = (client.clone(), count.clone(), stop.clone());
        let url = format!("http://{addr}/ping");
        handles.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(r) = client.get(&url).send().await {
                    if r.bytes().await.is_ok() {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let n = count.load(Ordering::Relaxed);
    let rps = n as f64 / start.elapsed().as_secs_f64();
    for h in handles {
        let _ = h.await;
    }
    server.abort();
    Ok(rps)
}

/// Registers the `u`-th extra commune (unit `000.33.22.H<05+u>`) with a copy of the demo staff.
async fn add_unit(
    svc: &motcua_engine::service::CommandService,
    u: usize,
    staff: &HashMap<String, motcua_engine::domain::types::Staff>,
) -> Result<Vec<(String, String)>, String> {
    use motcua_engine::service::{Authority, ReferenceCommand};
    let now = motcua_engine::domain::types::Timestamp(0);
    let mut info = motcua_http::demo::data::unit();
    info.code = format!("000.33.22.H{:02}", 5 + u)
        .parse()
        .map_err(|e| format!("{e}"))?;
    info.name = format!("UBND xã thử tải {u}");
    let code = info.code.clone();
    svc.execute_reference(ReferenceCommand::RegisterUnit(info), Authority::System, now)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for s in staff.values() {
        let mut s = s.clone();
        s.id = format!("{}-u{u}", s.id)
            .parse()
            .map_err(|e| format!("{e}"))?;
        s.unit = code.clone();
        let t = motcua_http::app::tokens::new_token();
        motcua_http::app::staff::register_with_token(svc, &s, &t, Authority::System, now, None)
            .await
            .map_err(|e| e.to_string())?;
        out.push((s.id.to_string(), t.token));
    }
    Ok(out)
}

fn read_tokens(path: &std::path::Path) -> Result<HashMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let staff = l
                .split_whitespace()
                .find_map(|w| w.strip_prefix("staff="))?;
            let token = l
                .split_whitespace()
                .find_map(|w| w.strip_prefix("token="))?;
            Some((staff.to_owned(), token.to_owned()))
        })
        .collect())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut _tmp = None;
    let mut server = None;
    let mut units = 1;
    let (base, tokens) = match &args.url {
        Some(url) => {
            let file = args.tokens.as_ref().ok_or("--url needs --tokens FILE")?;
            (url.trim_end_matches('/').to_owned(), read_tokens(file)?)
        }
        None => {
            let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
            let mut config = motcua_http::config::ServeConfig::new(
                tmp.path().join("data"),
                "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
            );
            config.print_demo_tokens = false;
            let s = motcua_http::server::start(config)
                .await
                .map_err(|e| e.to_string())?;
            let svc = motcua_engine::service::CommandService::new(
                s.log().clone(),
                motcua_engine::domain::ReferenceData::builtin().map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?;
            let (tokens, staff) = motcua_http::demo::seed_reference(&svc)
                .await
                .map_err(|e| e.to_string())?;
            let mut tokens: Vec<(String, String)> =
                tokens.into_iter().map(|t| (t.staff, t.token)).collect();
            units = args.units.max(1);
            for u in 1..units {
                tokens.extend(add_unit(&svc, u, &staff).await?);
            }
            s.app().wait_for_read_models(s.log().head().seq).await;
            let base = format!("http://{}", s.addr);
            server = Some(s);
            _tmp = Some(tmp);
            (base, tokens.into_iter().collect())
        }
    };
    let target = Arc::new(Target {
        base,
        tokens,
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(args.clients)
            .build()
            .map_err(|e| e.to_string())?,
    });
    let (tps, lat, errors) = run_dossiers(target.clone(), args.clients, units, args.seconds).await;
    if args.show_metrics {
        // An auditor's token reads the metrics (the demo's `tt-01`).
        let auditor = target.tokens.get("tt-01").cloned().unwrap_or_default();
        if let Ok(r) = target
            .client
            .get(format!("{}/metrics", target.base))
            .bearer_auth(auditor)
            .send()
            .await
        {
            let text = r.text().await.unwrap_or_default();
            for l in text.lines().filter(|l| {
                !l.starts_with('#')
                    && (l.starts_with("motcua_log_")
                        || l.starts_with("motcua_append_duration_seconds_sum")
                        || l.starts_with("motcua_append_duration_seconds_count")
                        || l.starts_with("motcua_appends_total")
                        || (l.contains("request_duration_seconds_sum")
                            || l.contains("request_duration_seconds_count")))
            }) {
                eprintln!("metrics: {l}");
            }
        }
    }
    if let Some(s) = server {
        let events = s.log().head().seq;
        s.shutdown().await.map_err(|e| e.to_string())?;
        if let Some(tmp) = &_tmp {
            println!(
                "events={events} data_dir_mb={:.1}",
                dir_bytes(&tmp.path().join("data")) as f64 / 1e6
            );
        }
    }
    if !args.no_ceiling {
        let rps = run_ceiling(args.clients, args.seconds.min(10)).await?;
        println!(
            "ceiling_rps={rps:.0} clients={} route=GET /ping (trivial axum handler, same client)",
            args.clients
        );
    }
    println!(
        "http_tps={tps:.0} clients={} p50_ms={:.2} p99_ms={:.2} errors={errors}",
        args.clients,
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
    );
    Ok(())
}
