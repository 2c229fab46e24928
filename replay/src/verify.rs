//! `verify`: walks every record of a source once and reports every finding, each naming the seq,
//! the stream and the rule it breaks.
//!
//! Layers, cheapest first, all in one pass:
//! 1. container: the archive's header range, trailer count, head hash and SHA-256, truncation;
//!    a data directory's `meta/head` and the sled key each record is filed under;
//! 2. chain: every record decodes, seq is contiguous, `prev_hash` links to the previous event's
//!    hash, the hash matches the content (the engine's `ChainCheck`), stream versions are
//!    contiguous, `recorded_at` never decreases;
//! 3. domain ([`crate::domain_check`]): every payload decodes to a domain event of the type the
//!    envelope names, on the stream it belongs to; every dossier transition is legal under the
//!    workflow and rule set in force when it happened, by an actor the staff directory of that
//!    time lets take it in the recorded role, at a business time no later than its recording;
//!    every stored due date equals the one the calendar events give.
//!
//! 4. files ([`crate::files`], a data directory only): every file an event names is there and
//!    hashes to what the event recorded.
//!
//! Findings are collected, not thrown: an auditor needs the full list, and the first finding
//! often explains the rest (a deleted event also breaks the next event's link).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use motcua_engine::codec;
use motcua_engine::domain::types::Timestamp;
use motcua_engine::domain::ReferenceData;
use motcua_engine::log::{ChainCheck, Envelope, GENESIS_HASH};
use motcua_engine::recorded::{EnvelopeBatch, EnvelopeView};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::checkpoint::CheckpointCheck;
use crate::domain_check::{DomainCheck, EventAt, FastMap};
use crate::progress::Progress;
use crate::source::{Source, SourceEnd};

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The seq concerned (0 when the finding is about the container as a whole).
    pub seq: u64,
    /// The stream concerned, when known.
    pub stream: Option<String>,
    /// Short rule name, stable for scripts (see `docs/archive-format.md`, "Verification").
    pub rule: &'static str,
    pub detail: String,
}

impl Finding {
    pub fn new(seq: u64, stream: Option<&str>, rule: &'static str, detail: String) -> Finding {
        Finding {
            seq,
            stream: stream.map(str::to_owned),
            rule,
            detail,
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    pub source: String,
    pub kind: &'static str,
    pub events: u64,
    pub streams: u64,
    /// Dossier events re-checked against their workflow and rule set.
    pub transitions_checked: u64,
    /// Stored due dates recomputed from the calendar.
    pub due_dates_checked: u64,
    pub findings: Vec<Finding>,
    /// Hash of the last event read (hex).
    pub head: String,
    pub head_seq: u64,
    #[serde(skip)]
    pub elapsed: Duration,
}

impl VerifyReport {
    pub fn events_per_second(&self) -> u64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            (self.events as f64 / s) as u64
        } else {
            0
        }
    }

    /// The last line `verify` prints.
    pub fn summary_line(&self) -> String {
        format!(
            "verified events={} streams={} findings={} head={} eps={}",
            self.events,
            self.streams,
            self.findings.len(),
            self.head,
            self.events_per_second()
        )
    }
}

/// Options of a verification.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Skip the domain layer (structure and chain only).
    pub chain_only: bool,
    /// A head hash obtained independently (e.g. printed on the commune's report): the log must
    /// end on it.
    pub expect_head: Option<[u8; 32]>,
}

/// The chain layer's running state.
struct Chain {
    check: ChainCheck,
    /// Hash of the last event decoded (the anchor before the first).
    last_hash: [u8; 32],
    last_recorded: i64,
    versions: FastMap<String, u64>,
    /// [`MAX_TRACKED_STREAMS`] was reached (reported once).
    streams_over_limit: bool,
    /// The archive starts after seq 1 (`motcua export --from N`): a stream first seen in it may
    /// start at any version, its earlier events being in an earlier archive.
    mid_log: bool,
    events: u64,
    head_seq: u64,
}

/// Streams whose last version the chain layer keeps (one map entry each, about 100 bytes: a
/// dossier, its rating, the reference streams). Far above a commune's decades of dossiers; a
/// log with more is reported (`stream_limit`), not checked on unbounded memory.
pub const MAX_TRACKED_STREAMS: usize = 4_000_000;

/// Envelopes handed to the domain thread at once (one channel operation per batch).
const BATCH: usize = 512;
/// Batches in flight: bounds the memory the reader may run ahead by.
const BATCHES_IN_FLIGHT: usize = 8;

/// What the domain thread returns.
#[derive(Default)]
struct DomainOutcome {
    findings: Vec<Finding>,
    transitions_checked: u64,
    due_dates_checked: u64,
}

/// Verifies `source`, reporting progress to `progress`. The domain layer judges by the shipped
/// rule sets and workflows, as the server loads them ([`verify_with`] takes others).
///
/// Two threads, pipelined: this one reads, decodes each envelope and checks the chain (the
/// sequential part: seq, links, hashes, versions); a second one decodes the payloads and runs
/// the domain checks, fed in batches over a bounded channel. Each side keeps its own findings;
/// they are merged by seq at the end, chain findings before domain findings within a seq, so
/// the report does not depend on thread timing.
pub fn verify(source: Source, options: &VerifyOptions, progress: &Progress) -> VerifyReport {
    verify_against(source, options, CheckpointCheck::default(), progress)
}

/// [`verify`], and also whether the source extends every checkpoint of `checkpoints` (each
/// signed checkpoint's chain hashes compared with the source's as its events go by;
/// `docs/checkpoints.md`).
pub fn verify_against(
    source: Source,
    options: &VerifyOptions,
    checkpoints: CheckpointCheck,
    progress: &Progress,
) -> VerifyReport {
    if options.chain_only {
        return verify_judged_by(source, options, None, Vec::new(), checkpoints, progress);
    }
    match ReferenceData::builtin() {
        Ok(reference) => verify_judged_by(
            source,
            options,
            Some(reference),
            Vec::new(),
            checkpoints,
            progress,
        ),
        Err(e) => {
            let finding = Finding::new(
                0,
                None,
                "reference",
                format!("the shipped rule sets and workflows do not load: {e}"),
            );
            verify_judged_by(source, options, None, vec![finding], checkpoints, progress)
        }
    }
}

/// [`verify`], judging the domain layer by `reference`'s rule sets and workflows instead of
/// the shipped ones (its catalog, directory and calendar are extended by the source's own
/// reference events): a deployment's own workflow files, or a test's changed rule.
pub fn verify_with(
    source: Source,
    options: &VerifyOptions,
    reference: ReferenceData,
    progress: &Progress,
) -> VerifyReport {
    let reference = (!options.chain_only).then_some(reference);
    verify_judged_by(
        source,
        options,
        reference,
        Vec::new(),
        CheckpointCheck::default(),
        progress,
    )
}

/// [`verify`] with the domain layer judged by `reference` (None: chain only), reporting
/// `initial` findings first.
fn verify_judged_by(
    mut source: Source,
    options: &VerifyOptions,
    reference: Option<ReferenceData>,
    initial: Vec<Finding>,
    mut checkpoints: CheckpointCheck,
    progress: &Progress,
) -> VerifyReport {
    let start = Instant::now();
    let header = source.header().cloned();
    let mut findings = Vec::new();
    let first_prev_hash = header.as_ref().map_or(GENESIS_HASH, |h| h.first_prev_hash);
    let mut chain = Chain {
        check: ChainCheck::anchored(header.as_ref().map_or(1, |h| h.first_seq), first_prev_hash),
        last_hash: first_prev_hash,
        last_recorded: i64::MIN,
        versions: FastMap::default(),
        streams_over_limit: false,
        mid_log: header.as_ref().is_some_and(|h| h.first_seq > 1),
        events: 0,
        head_seq: 0,
    };
    findings.extend(initial);
    if let Some(h) = header.as_ref().filter(|h| h.first_seq > 1) {
        // A range archive: its header's hash of the event before its first is the chain's.
        checkpoints.observe(h.first_seq - 1, &h.first_prev_hash);
    }

    let mid_log = chain.mid_log;
    let data_dir = (source.kind() == "data-dir").then(|| source.path().to_path_buf());
    let mut file_refs = Vec::new();
    let domain = std::thread::scope(|scope| {
        // Checked batches come back on `spent` to be refilled: the domain thread never frees
        // what this thread allocated (freeing another thread's allocations costs the
        // allocator far more), and after the first few batches nothing is allocated for them.
        let (spent_tx, spent) = mpsc::sync_channel::<EnvelopeBatch>(BATCHES_IN_FLIGHT + 1);
        let (tx, worker) = match reference {
            Some(reference) => {
                let (tx, rx) = mpsc::sync_channel::<EnvelopeBatch>(BATCHES_IN_FLIGHT);
                let worker = scope.spawn(move || domain_thread(reference, mid_log, rx, spent_tx));
                (Some(tx), Some(worker))
            }
            None => (None, None),
        };
        let mut batch = EnvelopeBatch::default();
        while let Some(rec) = source.next_record() {
            chain.events += 1;
            progress.inc(1);
            let env: Envelope = match codec::decode_record(&rec.bytes) {
                Ok(env) => env,
                Err(e) => {
                    let seq = rec.key_seq.unwrap_or(chain.check.next_seq());
                    findings.push(Finding::new(seq, None, "decode", e.to_string()));
                    // Its seq is the key's (or assumed), not read: no gap to report.
                    let _ = chain.check.skip_undecodable(seq);
                    continue;
                }
            };
            check_chain(&mut chain, &env, &rec.bytes, rec.key_seq, &mut findings);
            if data_dir.is_some() {
                file_refs.extend(motcua_engine::content::reference_of(&env));
            }
            if !checkpoints.is_empty() {
                checkpoints.observe(env.seq, &env.hash);
            }
            if let Some(tx) = &tx {
                batch.push(&env);
                if batch.len() == BATCH {
                    let mut next = spent.try_recv().unwrap_or_default();
                    next.clear();
                    let full = std::mem::replace(&mut batch, next);
                    // A send fails only if the domain thread is gone (it panicked): the join
                    // below reports it; the chain checks go on.
                    let _ = tx.send(full);
                }
            }
        }
        if let Some(tx) = tx {
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
        }
        let joined = worker.map(|w| w.join());
        drop(spent);
        match joined {
            None => DomainOutcome::default(),
            Some(Ok(outcome)) => outcome,
            Some(Err(_)) => DomainOutcome {
                findings: vec![Finding::new(
                    0,
                    None,
                    "internal",
                    "the domain checks stopped unexpectedly; their findings are incomplete".into(),
                )],
                ..DomainOutcome::default()
            },
        }
    });

    let last_hash = chain.last_hash;
    check_end(&source, &chain, &mut findings);
    if let Some(expected) = options.expect_head {
        if expected != last_hash {
            findings.push(Finding::new(
                chain.head_seq,
                None,
                "expected_head",
                format!(
                    "the log ends on {}, not on the expected {}",
                    hex::encode(last_hash),
                    hex::encode(expected)
                ),
            ));
        }
    }
    findings.extend(checkpoints.finish(chain.head_seq));
    findings.extend(domain.findings);
    if let Some(dir) = &data_dir {
        findings.extend(crate::files::check_files(dir, &file_refs));
    }
    // By seq (container-level findings, seq 0, first); a stable sort keeps the order of
    // discovery within one seq (chain before domain), which puts the finding that explains
    // the others first.
    findings.sort_by_key(|f| f.seq);
    progress.finish();
    VerifyReport {
        source: source.path().display().to_string(),
        kind: source.kind(),
        events: chain.events,
        streams: chain.versions.len() as u64,
        transitions_checked: domain.transitions_checked,
        due_dates_checked: domain.due_dates_checked,
        findings,
        head: hex::encode(last_hash),
        head_seq: chain.head_seq,
        elapsed: start.elapsed(),
    }
}

/// The domain thread: decodes each payload and runs [`DomainCheck`] on it, in log order.
fn domain_thread(
    reference: ReferenceData,
    mid_log: bool,
    rx: mpsc::Receiver<EnvelopeBatch>,
    spent: mpsc::SyncSender<EnvelopeBatch>,
) -> DomainOutcome {
    let mut domain = DomainCheck::new(reference).starting_mid_log(mid_log);
    let mut findings = Vec::new();
    for batch in rx {
        for env in batch.iter() {
            check_payload(&mut domain, &env, &mut findings);
        }
        // Back to the reader to be freed; if its queue is full (or it is finishing), here.
        let _ = spent.try_send(batch);
    }
    let (transitions_checked, due_dates_checked) =
        (domain.transitions_checked(), domain.due_dates_checked());
    domain.finish(&mut findings);
    DomainOutcome {
        findings,
        transitions_checked,
        due_dates_checked,
    }
}

/// Decodes one payload with the engine's decoder (without the `Recorded` copy of stream and
/// actor) and checks it.
fn check_payload(domain: &mut DomainCheck, env: &EnvelopeView<'_>, findings: &mut Vec<Finding>) {
    let stream = Some(env.stream);
    let event = env.event();
    let role = env.role();
    match (event, role) {
        (Ok(event), Ok(role)) => {
            if event.event_type() != env.event_type {
                findings.push(Finding::new(
                    env.seq,
                    stream,
                    "event_type",
                    format!(
                        "envelope says {}, payload is {}",
                        env.event_type,
                        event.event_type()
                    ),
                ));
            }
            let at = EventAt {
                seq: env.seq,
                stream: env.stream,
                version: env.version,
                actor: env.staff,
                role,
                recorded_at: Timestamp(env.recorded_at_ms),
            };
            domain.check(at, &event, findings);
        }
        (Err(e), _) => findings.push(Finding::new(
            env.seq,
            stream,
            "payload",
            e.problem.to_string(),
        )),
        (_, Err(e)) => findings.push(Finding::new(env.seq, stream, "role", e.problem.to_string())),
    }
}

fn check_chain(
    chain: &mut Chain,
    env: &Envelope,
    record: &[u8],
    key_seq: Option<u64>,
    findings: &mut Vec<Finding>,
) {
    let stream = Some(env.stream.as_str());
    if let Some(k) = key_seq {
        if k != env.seq {
            findings.push(Finding::new(
                k,
                stream,
                "key",
                format!("record filed under seq {k} says seq {}", env.seq),
            ));
        }
    }
    // The hash input is the record's canonical encoding without its format byte and its last
    // 32 bytes (the hash itself): hashing the stored bytes avoids re-encoding every envelope,
    // and checks the very bytes the server wrote. Only on a mismatch is the canonical
    // re-encoding consulted, to tell a changed content from a non-canonical encoding.
    let body = record
        .get(1..record.len().saturating_sub(32))
        .unwrap_or_default();
    let raw: [u8; 32] = Sha256::digest(body).into();
    let computed = if raw == env.hash {
        raw
    } else {
        env.compute_hash()
    };
    for b in chain
        .check
        .check_parts(env.seq, &env.prev_hash, &env.hash, Some(computed))
    {
        let about = if b.is_about(env.seq) { stream } else { None };
        findings.push(Finding::new(b.seq(), about, b.rule(), b.to_string()));
    }
    if computed == env.hash && raw != env.hash {
        findings.push(Finding::new(
            env.seq,
            stream,
            "encoding",
            "the stored bytes are not the canonical encoding of the event".into(),
        ));
    }
    chain.last_hash = env.hash;
    chain.head_seq = env.seq;
    if env.recorded_at_ms < chain.last_recorded {
        findings.push(Finding::new(
            env.seq,
            stream,
            "recorded_at",
            format!(
                "recorded at {} ms, before the previous event ({} ms)",
                env.recorded_at_ms, chain.last_recorded
            ),
        ));
    }
    chain.last_recorded = chain.last_recorded.max(env.recorded_at_ms);
    // One look-up for the (common) known stream, and no key allocation; a new stream is
    // inserted with the version it should have started at.
    let last = match chain.versions.get_mut(env.stream.as_str()) {
        Some(v) => {
            let last = *v;
            *v = last.max(env.version);
            last
        }
        None => {
            if chain.versions.len() >= MAX_TRACKED_STREAMS {
                if !chain.streams_over_limit {
                    chain.streams_over_limit = true;
                    findings.push(Finding::new(
                        env.seq,
                        stream,
                        "stream_limit",
                        format!(
                            "more than {MAX_TRACKED_STREAMS} streams (MAX_TRACKED_STREAMS): the \
                             versions of this and later new streams are not checked"
                        ),
                    ));
                }
                return;
            }
            chain
                .versions
                .insert(env.stream.as_str().to_owned(), env.version);
            if chain.mid_log {
                return;
            }
            0
        }
    };
    if env.version != last.saturating_add(1) {
        findings.push(Finding::new(
            env.seq,
            stream,
            "stream_version",
            format!("version {} follows version {last}", env.version),
        ));
    }
}

/// The first 8 bytes of a hash in hex, as the chain's findings print them.
fn short(h: &[u8; 32]) -> String {
    hex::encode(&h[..8])
}

fn check_end(source: &Source, chain: &Chain, findings: &mut Vec<Finding>) {
    match source.end() {
        SourceEnd::Broken(why) => {
            let next = source
                .last_good_seq()
                .map_or(chain.check.next_seq(), |s| s.saturating_add(1));
            findings.push(Finding::new(
                next,
                None,
                "truncated",
                format!("the source ends abnormally before seq {next}: {why}"),
            ));
        }
        SourceEnd::Trailer(t) => {
            if !t.checksum_ok() {
                findings.push(Finding::new(
                    0,
                    None,
                    "checksum",
                    format!(
                        "archive SHA-256 is {}, the trailer says {}",
                        hex::encode(t.computed_sha256),
                        hex::encode(t.sha256)
                    ),
                ));
            }
            if t.count != t.records_read {
                findings.push(Finding::new(
                    0,
                    None,
                    "trailer_count",
                    format!(
                        "trailer counts {} events, the archive holds {}",
                        t.count, t.records_read
                    ),
                ));
            }
            if t.head_hash != chain.last_hash {
                findings.push(Finding::new(
                    chain.head_seq,
                    None,
                    "trailer_head",
                    format!(
                        "the last event's hash {} is not the trailer's head {}",
                        hex::encode(chain.last_hash),
                        hex::encode(t.head_hash)
                    ),
                ));
            }
            if let Some(h) = source.header() {
                if chain.head_seq != h.last_seq && chain.events > 0 {
                    findings.push(Finding::new(
                        chain.head_seq,
                        None,
                        "header_range",
                        format!(
                            "header announces seq {}..={}, the last event is seq {}",
                            h.first_seq, h.last_seq, chain.head_seq
                        ),
                    ));
                }
            }
        }
        SourceEnd::MetaHead(None) => {
            if chain.events > 0 {
                findings.push(Finding::new(
                    0,
                    None,
                    "meta_head",
                    "the data directory has no readable meta/head record".into(),
                ));
            }
        }
        SourceEnd::MetaHead(Some(head)) => {
            if head.seq != chain.head_seq || head.hash != chain.last_hash {
                findings.push(Finding::new(
                    chain.head_seq,
                    None,
                    "meta_head",
                    format!(
                        "meta/head says seq {} hash {}, the last event is seq {} hash {}",
                        head.seq,
                        short(&head.hash),
                        chain.head_seq,
                        short(&chain.last_hash)
                    ),
                ));
            }
        }
    }
}
