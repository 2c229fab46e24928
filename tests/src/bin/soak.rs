//! Soak: mixed dossier load over HTTP against the real `motcua serve` child process while the
//! server is SIGKILLed at random (seeded) intervals and restarted on the same data directory.
//!
//! The promise under test is the commune's: no acknowledged transition is ever lost, applied
//! twice, or reported differently from what the log holds. Every write carries an
//! `Idempotency-Key`; a write that got no answer (the server died under it) is retried with the
//! same key and body until it is answered, so the retry after a restart must be answered exactly
//! once. The soak records every acknowledged response (2xx: code, seq, version) and checks:
//!
//! - after each restart, through the server's API (`GET /v1/events`, an incremental mirror of the
//!   log pinned by the hash chain): seqs gapless, `prev_hash` links, stream versions contiguous,
//!   every acknowledged transition present exactly once at the seq/version it was answered with,
//!   every soak event attributable to exactly one key, no event for a write that was refused;
//! - during the load, through `GET /v1/dossiers/{code}` (history read from the log): the
//!   client's acknowledged transitions of that dossier appear once each, versions contiguous;
//! - at the end, with the server stopped: the same audit over the data directory read with the
//!   replay library (a copy; never the original), then `motcua-replay verify` (the real binary)
//!   must report zero findings.
//!
//! Some restarts are killed again 0-400 ms after they start (recovery under SIGKILL), and some
//! acknowledged writes are sent again later with the same key and body, as by a client that
//! never saw the answer: the answer must name the same seq and version (reported as
//! `resend_mismatch`; a failure only with `--strict-resend`, see the report in RELIABILITY.md).
//!
//! Peak RSS of the server is VmHWM from `/proc/<pid>/status`, read just before each kill and
//! before the final stop. The last line of output is
//! `soak seconds=<s> kills=<k> acknowledged=<n> lost=<l> duplicated=<d> peak_rss_mb=<m>
//! verify_findings=<f>`; the exit status is non-zero if anything acknowledged was lost or
//! duplicated, if an acknowledged answer disagrees with the log, if a refused write was recorded,
//! if the chain breaks, if verify found anything, or if no kill happened.
//!
//! `cargo build --release -p motcua-http --bin motcua -p motcua-replay --bin motcua-replay -p
//! motcua-tests --bin soak && target/release/soak --duration 600` (the server binaries are looked
//! up next to the soak binary unless `--motcua`/`--replay` say otherwise).

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use motcua_engine::codec;
use motcua_engine::idempotency::{CommandKey, KeyScope};
use motcua_engine::log::{ChainCheck, Envelope, EventId, StreamId};
use motcua_replay::source::{Source, SourceEnd};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(name = "soak", about = "SIGKILL-under-load soak of the motcua server")]
struct Args {
    /// Seconds of load (kills happen only within this window).
    #[arg(long, default_value_t = 120)]
    duration: u64,
    /// Shortest time a server instance lives after it listens, in ms.
    #[arg(long, default_value_t = 1000)]
    min_kill_ms: u64,
    /// Longest time a server instance lives after it listens, in ms.
    #[arg(long, default_value_t = 5000)]
    max_kill_ms: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Seed of the kill schedule and of the clients' choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Data directory (must be absent or empty; default: a temporary directory, removed after a
    /// clean run and kept after a failed one).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The `motcua` binary (default: next to this binary).
    #[arg(long)]
    motcua: Option<PathBuf>,
    /// The `motcua-replay` binary (default: next to this binary).
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Mean pause of a client between requests, in ms (uniform 0..2x). A dossier code holds a
    /// 4-digit daily number per unit (at most 9,999 receipts a day), so the load is paced.
    #[arg(long, default_value_t = 10)]
    think_ms: u64,
    /// Percent of restarts whose instance is killed again 0-400 ms after it was started
    /// (during recovery), before the instance that serves.
    #[arg(long, default_value_t = 10)]
    startup_kill_percent: u32,
    /// Percent of dossiers one of whose acknowledged writes is sent again at the end (same key,
    /// same body), as by a client that never saw the answer.
    #[arg(long, default_value_t = 10)]
    resend_percent: u32,
    /// Fail when a resent write is answered with another seq/version than its first answer
    /// (reported either way).
    #[arg(long)]
    strict_resend: bool,
}

#[derive(Debug, thiserror::Error)]
enum SoakError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Server(String),
    #[error("api check: {0}")]
    Api(String),
    #[error("offline check: {0}")]
    Offline(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SoakError {
    let what = what.into();
    move |source| SoakError::Io { what, source }
}

/// Most events one command appends (derived ids are looked up for indexes below this).
const MAX_EVENTS_PER_COMMAND: u32 = 8;
/// Receipts the soak stops creating at: one unit's daily numbers end at 9,999.
const MAX_RECEIPTS: u64 = 9_000;
/// A write unanswered for this long is given up (a failure).
const WRITE_GIVE_UP: Duration = Duration::from_secs(120);
/// Per-request timeout (a killed server resets the connection at once; this catches a hang).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Time for a server to print `listening on`.
const START_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// What the clients sent and what they were told

/// An acknowledged write: what the server answered.
#[derive(Debug, Clone)]
struct Ack {
    code: String,
    seq: u64,
    version: u64,
}

#[derive(Debug, Clone)]
enum Outcome {
    /// Not answered yet.
    Pending,
    Acked(Ack),
    /// A definitive 4xx: nothing may have been recorded for it.
    Refused,
    /// Given up after [`WRITE_GIVE_UP`]: either outcome is allowed, and it counts as a failure.
    Unanswered,
}

#[derive(Debug)]
struct SentKey {
    /// `staff key` (for reports).
    label: String,
    id0: EventId,
    outcome: Outcome,
    /// Sent more than once (the first attempt got no answer).
    retried: bool,
}

/// The engine's key scope of a write the soak sends (as the server's routes choose it).
fn scope_of(path: &str) -> KeyScope {
    match path {
        "/v1/dossiers" => KeyScope::Receipt,
        "/v1/submissions" => KeyScope::Submission,
        _ => KeyScope::DossierAction,
    }
}

/// Every key ever sent, and the derived event ids of each (so an event in the log can be
/// attributed to the one write that may have produced it).
#[derive(Debug, Default)]
struct Registry {
    keys: Vec<SentKey>,
    ids: HashMap<EventId, (usize, u32)>,
}

impl Registry {
    fn outcomes(&self) -> Vec<Outcome> {
        self.keys.iter().map(|k| k.outcome.clone()).collect()
    }

    /// Registers a keyed write to `path` and the event ids the engine derives from its key.
    fn register(&mut self, path: &str, staff: &str, key: &str) -> usize {
        let idx = self.keys.len();
        let command = CommandKey::new(scope_of(path), staff, key);
        let id0 = command.event_id(0);
        for i in 0..MAX_EVENTS_PER_COMMAND {
            self.ids.insert(command.event_id(i), (idx, i));
        }
        self.keys.push(SentKey {
            label: format!("{staff} {key}"),
            id0,
            outcome: Outcome::Pending,
            retried: false,
        });
        idx
    }
}

#[derive(Default)]
struct Counters {
    acknowledged: AtomicU64,
    receipts: AtomicU64,
    retried_writes: AtomicU64,
    replayed: AtomicU64,
    deduplicated: AtomicU64,
    refused: AtomicU64,
    unanswered: AtomicU64,
    reads: AtomicU64,
    read_not_ready: AtomicU64,
    read_mismatch: AtomicU64,
    read_errors: AtomicU64,
    /// Reads answered 500 (a server error is never acceptable, kill or not).
    read_server_errors: AtomicU64,
    resends: AtomicU64,
    resend_mismatch: AtomicU64,
}

// ---------------------------------------------------------------------------------------------
// The log as the audits see it

/// One event of the log, as much as the audit needs.
#[derive(Debug, Clone)]
struct Ev {
    seq: u64,
    stream: StreamId,
    version: u64,
    id: EventId,
    hash: [u8; 32],
    prev_hash: [u8; 32],
    /// The hash the event's content gives, when the audit has its content (offline).
    computed: Option<[u8; 32]>,
}

/// A copy of the log built in seq order, checking the chain's structure as it grows (the
/// engine's `ChainCheck`).
#[derive(Debug, Default)]
struct Ledger {
    events: Vec<Ev>,
    chain: ChainCheck,
    by_id: HashMap<EventId, Vec<u64>>,
    stream_versions: HashMap<StreamId, u64>,
    /// Structural breaks: a seq gap, a broken `prev_hash` link, a stream version gap.
    breaks: Vec<String>,
}

impl Ledger {
    fn head(&self) -> u64 {
        self.events.len() as u64
    }

    fn get(&self, seq: u64) -> Option<&Ev> {
        seq.checked_sub(1)
            .and_then(|i| self.events.get(usize::try_from(i).ok()?))
    }

    fn push(&mut self, ev: Ev) {
        for b in self
            .chain
            .check_parts(ev.seq, &ev.prev_hash, &ev.hash, ev.computed)
        {
            self.breaks
                .push(format!("seq {}: {}: {b}", b.seq(), b.rule()));
        }
        let v = self.stream_versions.entry(ev.stream.clone()).or_insert(0);
        if ev.version != *v + 1 {
            self.breaks.push(format!(
                "seq {}: {} version {} after {}",
                ev.seq, ev.stream, ev.version, v
            ));
        }
        *v = ev.version;
        self.by_id.entry(ev.id).or_default().push(ev.seq);
        self.events.push(ev);
    }
}

/// What one audit found (key indexes into the registry).
#[derive(Debug, Default)]
struct Findings {
    lost: BTreeSet<usize>,
    duplicated: BTreeSet<usize>,
    /// Acknowledged with a seq/version/code the log does not hold for that key.
    mismatched: BTreeSet<usize>,
    /// Refused (4xx) yet recorded.
    phantom: BTreeSet<usize>,
    /// Seqs of soak dossier events no key accounts for (a transition recorded twice under an
    /// id not derived from its key).
    foreign: BTreeSet<u64>,
    breaks: BTreeSet<String>,
}

impl Findings {
    fn merge(&mut self, other: Findings) {
        self.lost.extend(other.lost);
        self.duplicated.extend(other.duplicated);
        self.mismatched.extend(other.mismatched);
        self.phantom.extend(other.phantom);
        self.foreign.extend(other.foreign);
        self.breaks.extend(other.breaks);
    }

    fn duplicated_count(&self) -> usize {
        self.duplicated.len() + self.foreign.len()
    }
}

/// Audits the ledger against every key sent. `base` is the head before the soak's first write
/// (the demo history): every later dossier event must belong to a key.
///
/// `outcomes` are the keys' outcomes taken *before* the ledger was read: an answer that arrives
/// while the log is being read may name a seq beyond what was read, and must not count as lost.
/// The attribution of events uses the registry as it is now (a key is registered before it is
/// first sent, so every event read belongs to a registered key).
fn audit(
    ledger: &Ledger,
    registry: &Registry,
    outcomes: &[Outcome],
    base: u64,
    what: &str,
) -> Findings {
    let mut f = Findings::default();
    for b in &ledger.breaks {
        f.breaks.insert(format!("{what}: {b}"));
    }
    for (k, (sent, outcome)) in registry.keys.iter().zip(outcomes).enumerate() {
        let seqs = ledger.by_id.get(&sent.id0).map_or(&[][..], Vec::as_slice);
        if seqs.len() > 1 {
            f.duplicated.insert(k);
        }
        match outcome {
            Outcome::Acked(ack) => {
                if seqs.is_empty() {
                    f.lost.insert(k);
                    continue;
                }
                // The answer names the command's last event: walk the key's derived ids.
                // One append's events are contiguous in the log.
                let mut last = seqs[0];
                for i in 1..MAX_EVENTS_PER_COMMAND {
                    let next_is_ours = ledger
                        .get(last + 1)
                        .and_then(|e| registry.ids.get(&e.id))
                        .is_some_and(|&(ki, idx)| ki == k && idx == i);
                    if !next_is_ours {
                        break;
                    }
                    last += 1;
                }
                let ok = ledger.get(last).is_some_and(|e| {
                    e.seq == ack.seq
                        && e.version == ack.version
                        && e.stream
                            .dossier_code()
                            .is_some_and(|c| c.as_str() == ack.code)
                });
                if !ok {
                    f.mismatched.insert(k);
                }
            }
            Outcome::Refused => {
                if !seqs.is_empty() {
                    f.phantom.insert(k);
                }
            }
            Outcome::Pending | Outcome::Unanswered => {}
        }
    }
    for ev in ledger
        .events
        .iter()
        .skip(usize::try_from(base).unwrap_or(0))
    {
        if ev.stream.dossier_code().is_some() && !registry.ids.contains_key(&ev.id) {
            f.foreign.insert(ev.seq);
        }
        if let Some(seqs) = ledger.by_id.get(&ev.id) {
            if seqs.len() > 1 {
                if let Some(&(k, _)) = registry.ids.get(&ev.id) {
                    f.duplicated.insert(k);
                } else {
                    f.foreign.insert(ev.seq);
                }
            }
        }
    }
    f
}

/// A 32-byte hash from the API's hex.
fn hash_of(hex_str: &str) -> Result<[u8; 32], SoakError> {
    hex::decode(hex_str)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| SoakError::Api(format!("not a hash: {hex_str:?}")))
}

// ---------------------------------------------------------------------------------------------
// The server child process

struct Server {
    child: Child,
    base: String,
    /// `staff -> token`, printed by the first (`--demo`) start only.
    tokens: HashMap<String, String>,
}

/// A started `motcua serve` whose stdout lines arrive on `lines`.
struct Spawned {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

fn spawn_child(motcua: &Path, data: &Path, demo: bool, log: &Path) -> Result<Spawned, SoakError> {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io_err(format!("open {}", log.display())))?;
    let mut cmd = Command::new(motcua);
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--data"])
        .arg(data)
        // The soak tests durability, not the online quotas: its one portal account submits far
        // more than a citizen's daily allowance.
        .args(["--online-quota-per-account", "1000000"])
        .args(["--online-quota-per-address", "1000000"])
        .env("MOTCUA_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr));
    if demo {
        cmd.arg("--demo");
    }
    let mut child = cmd
        .spawn()
        .map_err(io_err(format!("spawn {}", motcua.display())))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| SoakError::Server("no stdout pipe".into()))?;
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    // The reader keeps draining after `listening on` (and after the receiver is gone) so the
    // pipe never fills.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    Ok(Spawned { child, lines })
}

/// Starts the server and waits (blocking) for `listening on`, collecting demo tokens.
fn spawn_server(motcua: &Path, data: &Path, demo: bool, log: &Path) -> Result<Server, SoakError> {
    let Spawned {
        mut child,
        lines: rx,
    } = spawn_child(motcua, data, demo, log)?;
    let deadline = Instant::now() + START_TIMEOUT;
    let mut tokens = HashMap::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    return Ok(Server {
                        child,
                        base: addr.trim().to_owned(),
                        tokens,
                    });
                }
                if line.starts_with("demo-token ") {
                    let field = |name: &str| {
                        line.split_whitespace()
                            .find_map(|w| w.strip_prefix(name))
                            .map(str::to_owned)
                    };
                    if let (Some(staff), Some(token)) = (field("staff="), field("token=")) {
                        tokens.insert(staff, token);
                    }
                }
            }
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().map_err(io_err("wait for server"))?;
                return Err(SoakError::Server(format!(
                    "no `listening on` within {START_TIMEOUT:?} (exit {status}); see {}",
                    log.display()
                )));
            }
        }
    }
}

/// VmHWM (peak resident set) of `pid` in KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

// ---------------------------------------------------------------------------------------------
// Clients

struct Shared {
    /// The running server's base URL (`None` between a kill and the next `listening on`).
    base: watch::Receiver<Option<String>>,
    tokens: HashMap<String, String>,
    http: reqwest::Client,
    registry: Mutex<Registry>,
    counters: Counters,
    stop: AtomicBool,
    think_ms: u64,
    resend_percent: u32,
    run_id: String,
}

/// One keyed write, kept so it can be sent again byte for byte.
#[derive(Debug, Clone)]
struct Request {
    path: String,
    staff: String,
    key: String,
    bytes: Vec<u8>,
}

/// The server's decision on a request, and how many sends it took.
#[derive(Debug)]
struct Answer {
    attempts: u32,
    result: Result<Ack, WriteError>,
}

/// A failed write, for the client's log.
#[derive(Debug, thiserror::Error)]
enum WriteError {
    #[error("{path}: refused {status} {body}")]
    Refused {
        path: String,
        status: u16,
        body: String,
    },
    #[error("{path}: unanswered after {secs} s")]
    Unanswered { path: String, secs: u64 },
    #[error("{0}")]
    Local(String),
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn current_base(&self) -> String {
        let mut rx = self.base.clone();
        loop {
            if let Some(b) = rx.borrow_and_update().clone() {
                return b;
            }
            if rx.changed().await.is_err() {
                return String::new();
            }
        }
    }

    async fn think(&self, rng: &mut StdRng) {
        if self.think_ms > 0 {
            let ms = rng.gen_range(0..=2 * self.think_ms);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }

    fn token(&self, staff: &str) -> Result<&str, WriteError> {
        self.tokens
            .get(staff)
            .map(String::as_str)
            .ok_or_else(|| WriteError::Local(format!("no token for {staff}")))
    }

    /// POSTs `body` under a fresh `Idempotency-Key` until the server answers it, and records
    /// the answer.
    async fn write(
        &self,
        client: usize,
        n: &mut u64,
        path: &str,
        staff: &str,
        body: &Value,
    ) -> Result<(Ack, Request), WriteError> {
        *n += 1;
        let req = Request {
            path: path.to_owned(),
            staff: staff.to_owned(),
            key: format!("soak-{}-c{client}-{n}", self.run_id),
            bytes: serde_json::to_vec(body).map_err(|e| WriteError::Local(e.to_string()))?,
        };
        let k = self.lock().register(path, staff, &req.key);
        let answer = self.send_until_answered(&req).await?;
        if answer.attempts > 1 {
            self.lock().keys[k].retried = true;
            self.counters.retried_writes.fetch_add(1, Ordering::Relaxed);
        }
        match answer.result {
            Ok(ack) => {
                self.lock().keys[k].outcome = Outcome::Acked(ack.clone());
                self.counters.acknowledged.fetch_add(1, Ordering::Relaxed);
                Ok((ack, req))
            }
            Err(e @ WriteError::Refused { .. }) => {
                self.lock().keys[k].outcome = Outcome::Refused;
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
            Err(e @ WriteError::Unanswered { .. }) => {
                self.lock().keys[k].outcome = Outcome::Unanswered;
                self.counters.unanswered.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Sends an acknowledged request again, as a client that never saw the answer would: the
    /// server must answer it with the first answer (from its response store, or after a crash
    /// that lost the store entry, from the log), and record nothing new.
    async fn resend(&self, req: &Request, first: &Ack) {
        self.counters.resends.fetch_add(1, Ordering::Relaxed);
        let again = match self.send_until_answered(req).await {
            Ok(a) => a.result,
            Err(e) => Err(e),
        };
        let same = matches!(&again, Ok(a) if a.code == first.code
            && a.seq == first.seq
            && a.version == first.version);
        if !same
            && self
                .counters
                .resend_mismatch
                .fetch_add(1, Ordering::Relaxed)
                < 10
        {
            eprintln!(
                "soak: resend of {} {} {} answered {again:?}, first answer {first:?}",
                req.staff, req.key, req.path
            );
        }
    }

    /// Sends `req` (same key, same bytes) until the server decides: 2xx, or a 4xx other than
    /// "still in progress". Connection failures (the server was killed), 429 and 5xx are
    /// retried after a short pause.
    async fn send_until_answered(&self, req: &Request) -> Result<Answer, WriteError> {
        let token = self.token(&req.staff)?.to_owned();
        let started = Instant::now();
        let mut attempts = 0u32;
        loop {
            if started.elapsed() > WRITE_GIVE_UP {
                return Ok(Answer {
                    attempts,
                    result: Err(WriteError::Unanswered {
                        path: req.path.clone(),
                        secs: WRITE_GIVE_UP.as_secs(),
                    }),
                });
            }
            attempts += 1;
            let base = self.current_base().await;
            let sent = self
                .http
                .post(format!("{base}{}", req.path))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .header("idempotency-key", &req.key)
                .body(req.bytes.clone())
                .send()
                .await;
            let Ok(resp) = sent else {
                // The server died under us (or is not up yet): same key, same body, again.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let status = resp.status().as_u16();
            let replayed = resp.headers().contains_key("idempotent-replayed");
            let Ok(text) = resp.text().await else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            if (200..300).contains(&status) {
                let v: Value = serde_json::from_str(&text)
                    .map_err(|e| WriteError::Local(format!("{}: {e}: {text}", req.path)))?;
                if replayed {
                    self.counters.replayed.fetch_add(1, Ordering::Relaxed);
                }
                if v["deduplicated"].as_bool() == Some(true) {
                    self.counters.deduplicated.fetch_add(1, Ordering::Relaxed);
                }
                return Ok(Answer {
                    attempts,
                    result: Ok(Ack {
                        code: v["code"].as_str().unwrap_or_default().to_owned(),
                        seq: v["seq"].as_u64().unwrap_or(0),
                        version: v["version"].as_u64().unwrap_or(0),
                    }),
                });
            }
            let in_progress = status == 409 && text.contains("still in progress");
            if in_progress || status == 429 || status >= 500 {
                // Not a decision: overloaded, shutting down, or the same key still running on
                // a server that has not noticed its client went away.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            return Ok(Answer {
                attempts,
                result: Err(WriteError::Refused {
                    path: req.path.clone(),
                    status,
                    body: text,
                }),
            });
        }
    }

    /// Reads the dossier and checks that this client's acknowledged transitions of it appear
    /// once each, at their versions, in a contiguous history.
    async fn read_check(&self, code: &str, staff: &str, acked: &[(u64, u64)]) {
        let Ok(token) = self.token(staff) else { return };
        let base = self.current_base().await;
        let Ok(resp) = self
            .http
            .get(format!("{base}/v1/dossiers/{code}"))
            .bearer_auth(token)
            .send()
            .await
        else {
            return; // a kill; reads are not retried
        };
        let status = resp.status().as_u16();
        let Ok(v) = resp.json::<Value>().await else {
            return;
        };
        self.counters.reads.fetch_add(1, Ordering::Relaxed);
        if status == 404 {
            // The read model lags a restart for a moment; the history check is the audit's.
            self.counters.read_not_ready.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if status != 200 {
            if status == 500 {
                self.counters
                    .read_server_errors
                    .fetch_add(1, Ordering::Relaxed);
            }
            if self.counters.read_errors.fetch_add(1, Ordering::Relaxed) < 5 {
                eprintln!("soak: GET /v1/dossiers/{code}: {status} {v}");
            }
            return;
        }
        let history: Vec<(u64, u64)> = v["history"]
            .as_array()
            .map(|h| {
                h.iter()
                    .map(|e| {
                        (
                            e["seq"].as_u64().unwrap_or(0),
                            e["version"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let contiguous = history
            .iter()
            .enumerate()
            .all(|(i, (_, ver))| *ver == i as u64 + 1);
        let each_once = acked
            .iter()
            .all(|a| history.iter().filter(|h| *h == a).count() == 1);
        if (!contiguous || !each_once)
            && self.counters.read_mismatch.fetch_add(1, Ordering::Relaxed) < 10
        {
            eprintln!(
                "soak: read mismatch on {code}: acknowledged (seq, version) {acked:?}, \
                 history {history:?}"
            );
        }
    }

    async fn read_list(&self, rng: &mut StdRng) {
        let (path, staff) = match rng.gen_range(0..4) {
            0 => ("/v1/worklist", "cm-tp-01"),
            1 => ("/v1/inbox", "ld-01"),
            2 => ("/v1/queues", "tn-01"),
            // The demo history's year and today's dossiers in one report.
            _ => ("/v1/stats?from=2023-01-01&to=2030-12-31", "ld-02"),
        };
        let Ok(token) = self.token(staff) else { return };
        let base = self.current_base().await;
        if let Ok(r) = self
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
        {
            let status = r.status();
            if let Ok(body) = r.bytes().await {
                self.counters.reads.fetch_add(1, Ordering::Relaxed);
                if status.as_u16() == 500 {
                    self.counters
                        .read_server_errors
                        .fetch_add(1, Ordering::Relaxed);
                }
                if !status.is_success()
                    && self.counters.read_errors.fetch_add(1, Ordering::Relaxed) < 5
                {
                    eprintln!(
                        "soak: GET {path}: {status} {}",
                        String::from_utf8_lossy(&body)
                    );
                }
            }
        }
    }
}

/// One step of a lifecycle: (action, staff, body).
type Step = (&'static str, &'static str, Value);

/// One dossier's life: intake, then a mix of the workflow's transitions, with reads between.
async fn lifecycle(
    s: &Shared,
    client: usize,
    n: &mut u64,
    rng: &mut StdRng,
) -> Result<(), WriteError> {
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
    let same_day = procedure == "2.000815";
    let reception = if rng.gen_bool(0.5) { "tn-01" } else { "tn-02" };
    let leader = if rng.gen_bool(0.5) { "ld-01" } else { "ld-02" };
    let mut body = json!({
        "procedure": procedure,
        "applicant": {"name": "Nông Văn Tải", "id_number": format!("0060{:08}", rng.gen_range(0..100_000_000u32)),
                      "phone": "0912000000", "address": "thôn Nà Pài, xã Dương Phong"},
        "documents": ["Tờ khai"]
    });
    let mut steps: Vec<Step> = Vec::new();
    let intake = rng.gen_range(0..100);
    let (path, who, terminal) = match intake {
        0..=79 => ("/v1/dossiers", reception, false),
        80..=89 => {
            steps.push(("receive", reception, json!({})));
            ("/v1/submissions", "cong-dvc", false)
        }
        90..=94 => {
            body["action"] = json!("guide_to_complete");
            body["missing"] = json!(["Bản sao CCCD"]);
            ("/v1/dossiers", reception, true)
        }
        _ => {
            body["action"] = json!("refuse_to_receive");
            body["reason"] = json!("không thuộc thẩm quyền");
            body["legal_basis"] = json!("Điều 19 Nghị định 61/2018/NĐ-CP");
            ("/v1/dossiers", reception, true)
        }
    };
    s.think(rng).await;
    let (created, req) = s.write(client, n, path, who, &body).await?;
    s.counters.receipts.fetch_add(1, Ordering::Relaxed);
    let mut sent = vec![(req, created.clone())];
    let code = created.code.clone();
    let mut acked = vec![(created.seq, created.version)];
    if !terminal {
        let assigner = if rng.gen_bool(0.9) { reception } else { leader };
        steps.push(("assign", assigner, json!({"specialist": specialist})));
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
        if !same_day && rng.gen_bool(0.1) {
            steps.push(("request_payment", specialist, json!({"amount": 50_000})));
            steps.push((
                "record_payment",
                reception,
                json!({"receipt_number": format!("BL-{}", rng.gen_range(1..1_000_000))}),
            ));
        }
        if lien_thong {
            steps.push((
                "forward",
                specialist,
                json!({"agency": "UBND huyện Bạch Thông"}),
            ));
            let answerer = if rng.gen_bool(0.5) {
                specialist
            } else {
                reception
            };
            steps.push(("record_agency_answer", answerer, json!({})));
        }
        if rng.gen_bool(0.1) {
            steps.push((
                "submit_for_signing",
                specialist,
                json!({"draft": "refusal"}),
            ));
            steps.push((
                "sign_refusal",
                leader,
                json!({"reasons": "không đủ điều kiện"}),
            ));
        } else {
            steps.push(("submit_for_signing", specialist, json!({})));
            if rng.gen_bool(0.1) {
                steps.push(("send_back", leader, json!({"comments": "xem lại"})));
                steps.push(("submit_for_signing", specialist, json!({})));
            }
            steps.push(("approve", leader, json!({})));
        }
        steps.push(("hand_over", reception, json!({})));
        // Now and then the citizen withdraws or the leader stops the dossier midway.
        let cut = rng.gen_range(0..100);
        if cut < 5 && steps.len() > 3 {
            let at = rng.gen_range(1..steps.len() - 2);
            steps.truncate(at);
            if cut < 3 {
                steps.push((
                    "withdraw",
                    reception,
                    json!({"reason": "công dân rút hồ sơ"}),
                ));
            } else {
                steps.push(("stop", leader, json!({"reason": "hồ sơ giả mạo", "legal_basis": "Điều 18 Nghị định 61/2018/NĐ-CP"})));
            }
        }
    } else {
        steps.clear();
    }
    for (action, staff, body) in steps {
        s.think(rng).await;
        let (ack, req) = s
            .write(
                client,
                n,
                &format!("/v1/dossiers/{code}/actions/{action}"),
                staff,
                &body,
            )
            .await?;
        acked.push((ack.seq, ack.version));
        sent.push((req, ack));
        if rng.gen_bool(0.3) {
            s.think(rng).await;
            s.read_check(&code, reception, &acked).await;
        }
        if rng.gen_bool(0.05) {
            s.read_list(rng).await;
        }
    }
    s.read_check(&code, reception, &acked).await;
    // Now and then a write of this dossier arrives again after the dossier moved on.
    if rng.gen_range(0..100) < s.resend_percent {
        let (req, first) = &sent[rng.gen_range(0..sent.len())];
        s.resend(req, first).await;
    }
    Ok(())
}

async fn client_loop(s: Arc<Shared>, client: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed ^ (client as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut n = 0u64;
    while !s.stop.load(Ordering::Relaxed) {
        if s.counters.receipts.load(Ordering::Relaxed) >= MAX_RECEIPTS {
            // Out of daily dossier numbers: keep the server busy with reads only.
            s.read_list(&mut rng).await;
            s.think(&mut rng).await;
            continue;
        }
        if let Err(e) = lifecycle(&s, client, &mut n, &mut rng).await {
            eprintln!("soak: client {client}: {e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Audits through the API and offline

/// Extends `ledger` with the server's log after its head, after checking through the chain that
/// the server still holds exactly the prefix the ledger holds.
async fn mirror(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    ledger: &mut Ledger,
) -> Result<(), SoakError> {
    let page = |after: u64, limit: usize| {
        let url = format!("{base}/v1/events?after={after}&limit={limit}");
        async move {
            let r = http
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .map_err(|e| SoakError::Api(format!("{url}: {e}")))?;
            let status = r.status();
            let v: Value = r
                .json()
                .await
                .map_err(|e| SoakError::Api(format!("{url}: {e}")))?;
            if !status.is_success() {
                return Err(SoakError::Api(format!("{url}: {status} {v}")));
            }
            Ok::<Value, SoakError>(v)
        }
    };
    let parse = |e: &Value| -> Result<Ev, SoakError> {
        let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
        Ok(Ev {
            seq: e["seq"].as_u64().unwrap_or(0),
            stream: s("stream")
                .parse()
                .map_err(|err| SoakError::Api(format!("stream: {err}")))?,
            version: e["version"].as_u64().unwrap_or(0),
            id: s("event_id")
                .parse()
                .map_err(|err| SoakError::Api(format!("event id: {err}")))?,
            hash: hash_of(&s("hash"))?,
            prev_hash: hash_of(&s("prev_hash"))?,
            computed: None,
        })
    };
    // Pin the prefix: the event at the ledger's head must still carry the same hash (the chain
    // makes every earlier event identical too; the offline audit re-reads them all anyway).
    if let Some(last) = ledger.events.last().cloned() {
        let v = page(last.seq - 1, 1).await?;
        let same = v["events"]
            .as_array()
            .and_then(|a| a.first())
            .map(&parse)
            .transpose()?
            .is_some_and(|e| e.seq == last.seq && e.hash == last.hash);
        if !same {
            // Rebuild from scratch so the audit sees what the server holds now.
            eprintln!(
                "soak: the server's log no longer holds seq {} with hash {}: re-reading it all",
                last.seq,
                hex::encode(last.hash)
            );
            *ledger = Ledger {
                breaks: vec![format!(
                    "prefix up to seq {} changed across a restart",
                    last.seq
                )],
                ..Ledger::default()
            };
        }
    }
    loop {
        let v = page(ledger.head(), 1000).await?;
        let events = v["events"].as_array().cloned().unwrap_or_default();
        for e in &events {
            ledger.push(parse(e)?);
        }
        if events.is_empty() || v["next_after"].is_null() {
            return Ok(());
        }
    }
}

/// Reads the whole log from a copy of the stopped server's data directory.
fn offline_ledger(data: &Path) -> Result<Ledger, SoakError> {
    let mut source = Source::open(data).map_err(|e| SoakError::Offline(e.to_string()))?;
    let mut ledger = Ledger::default();
    while let Some(rec) = source.next_record() {
        let env: Envelope = codec::decode_record(&rec.bytes)
            .map_err(|e| SoakError::Offline(format!("record {:?}: {e}", rec.key_seq)))?;
        ledger.push(Ev {
            seq: env.seq,
            stream: env.stream.clone(),
            version: env.version,
            id: env.event_id,
            hash: env.hash,
            prev_hash: env.prev_hash,
            computed: Some(env.compute_hash()),
        });
    }
    match source.end() {
        SourceEnd::MetaHead(Some(h)) if h.seq == ledger.head() => Ok(ledger),
        SourceEnd::MetaHead(h) => Err(SoakError::Offline(format!(
            "meta head {:?} but {} events",
            h.map(|h| h.seq),
            ledger.head()
        ))),
        other => Err(SoakError::Offline(format!("{other:?}"))),
    }
}

/// Runs `motcua-replay verify DIR`; the number of findings from its summary line.
fn replay_verify(replay: &Path, data: &Path) -> Result<u64, SoakError> {
    let out = Command::new(replay)
        .arg("verify")
        .arg(data)
        .output()
        .map_err(io_err(format!("run {}", replay.display())))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("verified "))
        .ok_or_else(|| {
            SoakError::Offline(format!(
                "motcua-replay verify printed no summary (exit {}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        })?;
    eprintln!("soak: {summary}");
    let findings = summary
        .split_whitespace()
        .find_map(|w| w.strip_prefix("findings="))
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| SoakError::Offline(format!("no findings= in {summary:?}")))?;
    if findings > 0 {
        for l in stdout.lines().take(20) {
            eprintln!("soak: verify: {l}");
        }
    }
    Ok(findings)
}

// ---------------------------------------------------------------------------------------------
// The run

struct Report {
    seconds: u64,
    kills: u64,
    acknowledged: u64,
    findings: Findings,
    peak_rss_kib: u64,
    verify_findings: Option<u64>,
    clean_stop: bool,
    error: Option<SoakError>,
}

fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("soak: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Without --data: a temporary directory, kept when the run fails (the evidence).
    let mut tmp = None;
    let data = match &args.data {
        Some(d) => d.clone(),
        None => match tempfile::Builder::new().prefix("motcua-soak-").tempdir() {
            Ok(t) => {
                let d = t.path().join("data");
                tmp = Some(t);
                d
            }
            Err(e) => {
                eprintln!("soak: tempdir: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    if std::fs::read_dir(&data).is_ok_and(|mut d| d.next().is_some()) {
        eprintln!(
            "soak: {} is not empty (the soak needs a fresh data directory)",
            data.display()
        );
        return ExitCode::FAILURE;
    }
    let server_log = data.with_extension("server.log");
    let motcua = args.motcua.clone().unwrap_or_else(|| sibling("motcua"));
    let replay = args
        .replay
        .clone()
        .unwrap_or_else(|| sibling("motcua-replay"));
    eprintln!(
        "soak: seed={} duration={}s kills every {}-{} ms clients={} data={} server log={}",
        args.seed,
        args.duration,
        args.min_kill_ms,
        args.max_kill_ms,
        args.clients,
        data.display(),
        server_log.display()
    );
    let report = rt.block_on(run(&args, &data, &server_log, &motcua, &replay));
    let f = &report.findings;
    if let Some(e) = &report.error {
        eprintln!("soak: error: {e}");
    }
    for b in f.breaks.iter().take(20) {
        eprintln!("soak: chain: {b}");
    }
    let failed = !f.lost.is_empty()
        || f.duplicated_count() > 0
        || !f.mismatched.is_empty()
        || !f.phantom.is_empty()
        || !f.breaks.is_empty()
        || report.verify_findings != Some(0)
        || report.kills == 0
        || report.error.is_some();
    let verify = report
        .verify_findings
        .map_or_else(|| "error".to_owned(), |n| n.to_string());
    println!(
        "soak seconds={} kills={} acknowledged={} lost={} duplicated={} peak_rss_mb={:.1} verify_findings={}",
        report.seconds,
        report.kills,
        report.acknowledged,
        f.lost.len(),
        f.duplicated_count(),
        report.peak_rss_kib as f64 / 1024.0,
        verify,
    );
    if failed {
        if let Some(t) = tmp {
            let _ = t.keep();
        }
        eprintln!("soak: FAILED; data directory kept at {}", data.display());
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn run(args: &Args, data: &Path, server_log: &Path, motcua: &Path, replay: &Path) -> Report {
    let mut report = Report {
        seconds: 0,
        kills: 0,
        acknowledged: 0,
        findings: Findings::default(),
        peak_rss_kib: 0,
        verify_findings: None,
        clean_stop: false,
        error: None,
    };
    let mut rng = StdRng::seed_from_u64(args.seed);
    let first = match tokio::task::block_in_place(|| spawn_server(motcua, data, true, server_log)) {
        Ok(s) => s,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    let tokens = first.tokens.clone();
    let Some(admin) = tokens.get("qt-01").cloned() else {
        report.error = Some(SoakError::Server("no demo token for qt-01".into()));
        return report;
    };
    let http = match reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(args.clients + 2)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            report.error = Some(SoakError::Api(e.to_string()));
            return report;
        }
    };
    let mut ledger = Ledger::default();
    if let Err(e) = mirror(&http, &first.base, &admin, &mut ledger).await {
        report.error = Some(e);
        return report;
    }
    let base_seq = ledger.head();
    let (base_tx, base_rx) = watch::channel(Some(first.base.clone()));
    let mut server = first;
    let shared = Arc::new(Shared {
        base: base_rx,
        tokens,
        http: http.clone(),
        registry: Mutex::new(Registry::default()),
        counters: Counters::default(),
        stop: AtomicBool::new(false),
        think_ms: args.think_ms,
        resend_percent: args.resend_percent,
        run_id: format!("{}-{}", args.seed, chrono::Utc::now().timestamp_millis()),
    });
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let clients: Vec<_> = (0..args.clients)
        .map(|c| tokio::spawn(client_loop(shared.clone(), c, args.seed)))
        .collect();

    let (lo, hi) = (args.min_kill_ms, args.max_kill_ms.max(args.min_kill_ms));
    let mut restarts_checked = 0u64;
    let mut startup_kills = 0u64;
    let mut check_errors = 0u64;
    loop {
        let life = Duration::from_millis(rng.gen_range(lo..=hi));
        let kill_at = Instant::now() + life;
        if kill_at >= deadline {
            tokio::time::sleep_until(deadline.into()).await;
            break;
        }
        tokio::time::sleep_until(kill_at.into()).await;
        let pid = server.child.id();
        if let Some(kib) = vm_hwm_kib(pid) {
            report.peak_rss_kib = report.peak_rss_kib.max(kib);
        }
        base_tx.send_replace(None);
        if let Err(e) = server.child.kill() {
            report.error = Some(SoakError::Server(format!("SIGKILL {pid}: {e}")));
            break;
        }
        let _ = server.child.wait();
        report.kills += 1;
        // Now and then kill the next instance again while it starts (sled recovery, the token
        // directory fold, projections catching up), before it answers anything.
        if rng.gen_range(0..100) < args.startup_kill_percent {
            let early = Duration::from_millis(rng.gen_range(0..=400));
            match spawn_child(motcua, data, false, server_log) {
                Ok(mut sp) => {
                    tokio::time::sleep(early).await;
                    if let Some(kib) = vm_hwm_kib(sp.child.id()) {
                        report.peak_rss_kib = report.peak_rss_kib.max(kib);
                    }
                    let _ = sp.child.kill();
                    let _ = sp.child.wait();
                    report.kills += 1;
                    startup_kills += 1;
                }
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            }
        }
        let started = tokio::task::block_in_place(|| spawn_server(motcua, data, false, server_log));
        match started {
            Ok(s) => server = s,
            Err(e) => {
                report.error = Some(e);
                break;
            }
        }
        base_tx.send_replace(Some(server.base.clone()));
        // Everything acknowledged so far (by any earlier instance) must be in the log now.
        let outcomes = shared.lock().outcomes();
        match mirror(&http, &server.base, &admin, &mut ledger).await {
            Ok(()) => {
                let reg = shared.lock();
                let what = format!("restart {}", report.kills);
                let f = audit(&ledger, &reg, &outcomes, base_seq, &what);
                drop(reg);
                if !f.lost.is_empty() || f.duplicated_count() > 0 || !f.mismatched.is_empty() {
                    eprintln!(
                        "soak: after restart {}: lost={} duplicated={} mismatched={}",
                        report.kills,
                        f.lost.len(),
                        f.duplicated_count(),
                        f.mismatched.len()
                    );
                }
                report.findings.merge(f);
                restarts_checked += 1;
            }
            Err(e) => {
                check_errors += 1;
                eprintln!("soak: check after restart {} failed: {e}", report.kills);
            }
        }
    }

    // Let every client finish its current request (unanswered writes are retried to an answer).
    shared.stop.store(true, Ordering::Relaxed);
    let load_secs = started.elapsed().as_secs();
    for c in clients {
        let _ = c.await;
    }
    report.seconds = load_secs;
    if report.error.is_none() {
        match mirror(&http, &server.base, &admin, &mut ledger).await {
            Ok(()) => {
                let reg = shared.lock();
                let outcomes = reg.outcomes();
                report
                    .findings
                    .merge(audit(&ledger, &reg, &outcomes, base_seq, "final api"));
            }
            Err(e) => report.error = Some(e),
        }
    }
    if let Some(kib) = vm_hwm_kib(server.child.id()) {
        report.peak_rss_kib = report.peak_rss_kib.max(kib);
    }
    report.clean_stop = stop_gracefully(&mut server.child);
    if !report.clean_stop {
        eprintln!("soak: the server did not stop cleanly on SIGTERM");
    }
    match offline_ledger(data) {
        Ok(l) => {
            let reg = shared.lock();
            let f = audit(&l, &reg, &reg.outcomes(), base_seq, "offline");
            eprintln!(
                "soak: offline: {} events, {} after the demo history, lost={} duplicated={}",
                l.head(),
                l.head().saturating_sub(base_seq),
                f.lost.len(),
                f.duplicated_count()
            );
            report.findings.merge(f);
        }
        Err(e) => report.error = Some(e),
    }
    match replay_verify(replay, data) {
        Ok(n) => report.verify_findings = Some(n),
        Err(e) => {
            eprintln!("soak: {e}");
        }
    }
    let c = &shared.counters;
    report.acknowledged = c.acknowledged.load(Ordering::Relaxed);
    let reg = shared.lock();
    let retried_acked = reg
        .keys
        .iter()
        .filter(|k| k.retried && matches!(k.outcome, Outcome::Acked(_)))
        .count();
    let f = &report.findings;
    for (what, set) in [
        ("lost", &f.lost),
        ("duplicated", &f.duplicated),
        ("mismatched", &f.mismatched),
        ("phantom", &f.phantom),
    ] {
        for &k in set.iter().take(10) {
            let sent = &reg.keys[k];
            eprintln!("soak: {what}: {} -> {:?}", sent.label, sent.outcome);
        }
    }
    for seq in f.foreign.iter().take(10) {
        eprintln!("soak: unattributed soak event at seq {seq}");
    }
    println!(
        "soak detail startup_kills={startup_kills} restarts_checked={restarts_checked} check_errors={check_errors} receipts={} writes_sent={} retried={} retried_acked={retried_acked} replayed={} deduplicated={} refused={} unanswered={} mismatched={} phantom={} unattributed={} chain_breaks={} reads={} read_not_ready={} read_mismatch={} read_errors={} read_server_errors={} resends={} resend_mismatch={} clean_stop={}",
        c.receipts.load(Ordering::Relaxed),
        reg.keys.len(),
        c.retried_writes.load(Ordering::Relaxed),
        c.replayed.load(Ordering::Relaxed),
        c.deduplicated.load(Ordering::Relaxed),
        c.refused.load(Ordering::Relaxed),
        c.unanswered.load(Ordering::Relaxed),
        f.mismatched.len(),
        f.phantom.len(),
        f.foreign.len(),
        f.breaks.len(),
        c.reads.load(Ordering::Relaxed),
        c.read_not_ready.load(Ordering::Relaxed),
        c.read_mismatch.load(Ordering::Relaxed),
        c.read_errors.load(Ordering::Relaxed),
        c.read_server_errors.load(Ordering::Relaxed),
        c.resends.load(Ordering::Relaxed),
        c.resend_mismatch.load(Ordering::Relaxed),
        report.clean_stop,
    );
    if c.read_mismatch.load(Ordering::Relaxed) > 0 || c.unanswered.load(Ordering::Relaxed) > 0 {
        report.error.get_or_insert(SoakError::Api(
            "a dossier read disagreed with the acknowledged writes, or a write stayed unanswered"
                .into(),
        ));
    }
    let server_errors = c.read_server_errors.load(Ordering::Relaxed);
    if server_errors > 0 {
        report.error.get_or_insert(SoakError::Api(format!(
            "{server_errors} read(s) answered 500 (internal error)"
        )));
    }
    let resend_mismatch = c.resend_mismatch.load(Ordering::Relaxed);
    if resend_mismatch > 0 {
        eprintln!(
            "soak: FINDING: {resend_mismatch} resent acknowledged write(s) answered with another \
             seq/version than the first answer (nothing lost or duplicated)"
        );
        if args.strict_resend {
            report.error.get_or_insert(SoakError::Api(
                "a resent write was answered differently".into(),
            ));
        }
    }
    drop(reg);
    report
}

/// SIGTERM, then wait up to 30 s for a clean exit (SIGKILL after that). True on exit status 0.
fn stop_gracefully(child: &mut Child) -> bool {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        return false;
    };
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    if rc != 0 {
        let _ = child.kill();
        let _ = child.wait();
        return false;
    }
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}
