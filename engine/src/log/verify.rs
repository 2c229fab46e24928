//! Full verification of the log: walks every event and checks the hash chain and seq contiguity
//! (the log's [`ChainCheck`]), per-stream version contiguity, `recorded_at` monotonicity, and that the `streams` and
//! `event_ids` indexes point exactly at the events (no missing, no orphan entries). Reports
//! findings instead of stopping at the first, each naming the seq it concerns.

use std::collections::HashMap;

use super::chain::ChainCheck;
use super::envelope::{Envelope, Position};
use super::error::LogError;
use super::reader::{be_u64, decode_event, seq_key, split_stream_key, stream_key, Trees};

/// One problem found by [`verify`](super::EventLog::verify).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The seq concerned (0 when it is not about one event, e.g. an orphan index entry).
    pub seq: u64,
    pub stream: Option<String>,
    /// Short rule name: `decode`, `key`, `seq`, `prev_hash`, `hash`, `recorded_at`,
    /// `stream_version`, `stream_index`, `event_id_index`, `orphan_index`, `head`.
    pub rule: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    pub streams: u64,
    pub findings: Vec<Finding>,
    pub head: Position,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

fn finding(seq: u64, env: Option<&Envelope>, rule: &'static str, detail: String) -> Finding {
    Finding {
        seq,
        stream: env.map(|e| e.stream.as_str().to_string()),
        rule,
        detail,
    }
}

/// The checks of every event whatever the store: the chain, `recorded_at`, stream versions.
pub(crate) struct Walk {
    pub findings: Vec<Finding>,
    chain: ChainCheck,
    last_recorded: i64,
    pub versions: HashMap<String, u64>,
    pub events: u64,
}

impl Walk {
    pub fn new() -> Walk {
        Walk {
            findings: Vec::new(),
            chain: ChainCheck::from_genesis(),
            last_recorded: i64::MIN,
            versions: HashMap::new(),
            events: 0,
        }
    }

    /// Checks the event stored under `seq` (or notes that it could not be decoded); returns it
    /// when it could, for the store's own index checks.
    pub fn event(&mut self, seq: u64, decoded: Result<Envelope, LogError>) -> Option<Envelope> {
        self.events += 1;
        let env = match decoded {
            Ok(env) => env,
            Err(e) => {
                if let Some(gap) = self.chain.skip_undecodable(seq) {
                    self.findings
                        .push(finding(gap.seq(), None, "seq", gap.to_string()));
                }
                self.findings
                    .push(finding(seq, None, "decode", e.to_string()));
                return None;
            }
        };
        let e = Some(&env);
        for b in self.chain.check_all(&env) {
            let about = b.is_about(seq).then_some(&env);
            self.findings
                .push(finding(b.seq(), about, b.rule(), b.to_string()));
        }
        if env.recorded_at_ms < self.last_recorded {
            self.findings.push(finding(
                seq,
                e,
                "recorded_at",
                format!("{} < previous {}", env.recorded_at_ms, self.last_recorded),
            ));
        }
        self.last_recorded = self.last_recorded.max(env.recorded_at_ms);
        let v = self
            .versions
            .entry(env.stream.as_str().to_string())
            .or_insert(0);
        if env.version != *v + 1 {
            self.findings.push(finding(
                seq,
                e,
                "stream_version",
                format!("version {} after {}", env.version, v),
            ));
        }
        *v = env.version;
        Some(env)
    }

    /// The head must be the last event walked.
    pub fn check_head(&mut self, head: Position) {
        let last_hash = self.chain.last().map(|(_, h)| h);
        if self.events != head.seq || (head.seq > 0 && last_hash != Some(head.hash)) {
            self.findings.push(finding(
                head.seq,
                None,
                "head",
                format!("head {} but {} events in the log", head.seq, self.events),
            ));
        }
    }

    pub fn report(self, head: Position) -> VerifyReport {
        VerifyReport {
            events: self.events,
            streams: self.versions.len() as u64,
            findings: self.findings,
            head,
        }
    }
}

/// A finding about `env` (a store's own checks of its index entries).
pub(crate) fn finding_about(env: &Envelope, rule: &'static str, detail: String) -> Finding {
    finding(env.seq, Some(env), rule, detail)
}

pub(crate) fn verify(trees: &Trees, head: Position) -> Result<VerifyReport, LogError> {
    let mut walk = Walk::new();
    let mut ids_confirmed = 0u64;

    for item in trees.events.iter() {
        let (key, value) = item?;
        let seq = match be_u64(&key, "events key") {
            Ok(s) => s,
            Err(e) => {
                walk.findings.push(finding(0, None, "key", e.to_string()));
                continue;
            }
        };
        let Some(env) = walk.event(seq, decode_event(seq, &value)) else {
            continue;
        };
        let e = Some(&env);
        match trees.streams.get(stream_key(&env.stream, env.version))? {
            Some(s) if s.as_slice() == seq_key(seq) => {}
            other => walk.findings.push(finding(
                seq,
                e,
                "stream_index",
                format!("streams index holds {:?}", other.map(hex::encode)),
            )),
        }
        match trees.event_ids.get(env.event_id.0)? {
            Some(s) if s.as_slice() == seq_key(seq) => ids_confirmed += 1,
            other => walk.findings.push(finding(
                seq,
                e,
                "event_id_index",
                format!("event_ids index holds {:?}", other.map(hex::encode)),
            )),
        }
    }
    walk.check_head(head);
    let versions = &walk.versions;
    let mut findings = Vec::new();

    // Orphans: index entries that belong to no event. Every event's own entries were checked
    // above, and keys are unique, so a `streams` key is legitimate exactly when its version lies
    // within its stream's versions (no event lookups needed); for `event_ids`, any entry beyond
    // the ones confirmed above is an orphan.
    for item in trees.streams.iter() {
        let (key, value) = item?;
        let seq = be_u64(&value, "streams index value").unwrap_or(0);
        let known = split_stream_key(&key).is_some_and(|(stream, version)| {
            std::str::from_utf8(stream)
                .ok()
                .and_then(|s| versions.get(s))
                .is_some_and(|&max| (1..=max).contains(&version))
        });
        if !known {
            findings.push(finding(
                seq,
                None,
                "orphan_index",
                format!("streams key {} has no event", hex::encode(&key)),
            ));
        }
    }
    // Counting stops at the first damaged page (sled repeats its error without advancing).
    let ids_len = trees.event_ids.count()? as u64;
    if ids_len > ids_confirmed {
        findings.push(finding(
            0,
            None,
            "orphan_index",
            format!(
                "{} event_ids entries belong to no event",
                ids_len - ids_confirmed
            ),
        ));
    }

    walk.findings.extend(findings);
    Ok(walk.report(head))
}
