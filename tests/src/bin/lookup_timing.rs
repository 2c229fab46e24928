//! Lookup timing check: can a citizen's lookup tell a code that exists (wrong secret) from one
//! that does not? Starts the real server in-process on a temporary data directory with the demo
//! commune, receives one dossier to learn a real code, then times interleaved lookups of three
//! kinds from one client: an existing code with a wrong secret, a well-formed code that does not
//! exist, and a malformed code. Runs once with the server's latency floor switched off (the raw
//! difference) and once with the default floor.
//!
//! `cargo run --release -p motcua-tests --bin lookup_timing -- --rounds 400`
//!
//! Last lines, one per run: `lookup_timing floor_ms=<f> wrong_secret_p50_us=<a>
//! missing_code_p50_us=<b> malformed_p50_us=<c> spread=<max p50 / min p50>`. A spread near 1.00
//! means the three answers cannot be told apart by their median time.

use std::time::{Duration, Instant};

use clap::Parser;
use motcua_http::config::ServeConfig;
use motcua_http::server;
use serde_json::{json, Value};

#[derive(Debug, Parser)]
#[command(
    name = "lookup_timing",
    about = "Does lookup timing reveal which codes exist?"
)]
struct Args {
    /// Lookups of each kind per run.
    #[arg(long, default_value_t = 400)]
    rounds: usize,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    for floor in [
        Duration::ZERO,
        ServeConfig::new(".", ([127, 0, 0, 1], 0).into()).lookup_min_latency,
    ] {
        let line = run(args.rounds, floor).await?;
        println!("{line}");
    }
    Ok(())
}

async fn run(rounds: usize, floor: Duration) -> Result<String, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut config = ServeConfig::new(dir.path(), ([127, 0, 0, 1], 0).into());
    config.demo = true;
    config.print_demo_tokens = false;
    // The limiter would answer 429 long before the rounds end: this measures the lookup itself.
    config.lookup_burst = u32::MAX / 2;
    config.lookup_per_second = 1e9;
    config.lookup_min_latency = floor;
    let running = server::start(config).await?;
    let base = format!("http://{}", running.addr);
    let reception = running
        .demo_tokens
        .iter()
        .find(|t| t.role == "reception")
        .ok_or("no demo reception token")?
        .token
        .clone();
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{base}/v1/dossiers"))
        .bearer_auth(&reception)
        .json(&json!({
            "procedure": "1.001193",
            "applicant": {"name": "Hoàng Văn Nam", "id_number": "006090001234",
                          "phone": "0912345678", "address": "thôn Nà Pài, xã Dương Phong"},
            "documents": ["Tờ khai", "Giấy chứng sinh"]
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let code = created["code"]
        .as_str()
        .ok_or("no code in the reply")?
        .to_owned();
    // Same unit and day, a number the day has not reached.
    let missing = format!("{}9999", &code[..code.len() - 4]);
    let urls = [
        format!("{base}/v1/lookup/{code}?secret=WRONGSECRET0"),
        format!("{base}/v1/lookup/{missing}?secret=WRONGSECRET0"),
        format!("{base}/v1/lookup/not-a-code?secret=WRONGSECRET0"),
    ];
    let mut times: [Vec<u64>; 3] = Default::default();
    // Warm-up: connections, caches.
    for url in &urls {
        for _ in 0..20 {
            client.get(url).send().await?.bytes().await?;
        }
    }
    for _ in 0..rounds {
        for (kind, url) in urls.iter().enumerate() {
            let t0 = Instant::now();
            let r = client.get(url).send().await?;
            let status = r.status().as_u16();
            r.bytes().await?;
            if status != 404 {
                return Err(format!("lookup {url} answered {status}, not 404").into());
            }
            times[kind].push(t0.elapsed().as_micros() as u64);
        }
    }
    running.shutdown().await?;
    let p50: Vec<u64> = times
        .iter_mut()
        .map(|t| {
            t.sort_unstable();
            t[t.len() / 2]
        })
        .collect();
    let max = p50.iter().copied().max().unwrap_or(0) as f64;
    let min = p50.iter().copied().min().unwrap_or(1).max(1) as f64;
    Ok(format!(
        "lookup_timing floor_ms={} wrong_secret_p50_us={} missing_code_p50_us={} malformed_p50_us={} spread={:.2}",
        floor.as_millis(),
        p50[0],
        p50[1],
        p50[2],
        max / min
    ))
}
