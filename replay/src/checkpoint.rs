//! Signed checkpoints of a log's head (`docs/checkpoints.md`): the file format, the canonical
//! bytes an Ed25519 signature covers, signing, and the check `motcua-replay verify
//! --checkpoint FILE` runs against an archive.
//!
//! A checkpoint holds the chain hash at its seq (the head when it was signed) and, so that a
//! rewrite can be located and not only detected, the first 8 bytes of the chain hash at every
//! `anchor_stride`-th seq. The stride is the smallest power of two that keeps the list at
//! [`MAX_ANCHORS`] or fewer, so a checkpoint stays small however long the log grows, and for a
//! log of up to 4096 events every seq is anchored: the first seq whose hash differs is exactly
//! the first event rewritten (each hash covers the event and the previous hash, so every later
//! hash differs too, and every earlier one is equal).
//!
//! The server signs (`motcua checkpoint sign`, `motcua serve`); this module writes nothing.

use std::collections::BTreeSet;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::verify::Finding;

/// The `format` field, and the first line of the signed message.
pub const FORMAT: &str = "motcua-checkpoint-1";
/// Anchors a checkpoint lists at most.
pub const MAX_ANCHORS: u64 = 4096;
/// Bytes of a chain hash kept per anchor.
pub const ANCHOR_BYTES: usize = 8;
/// Largest checkpoint file read (4096 anchors of 16 hex digits fit with room to spare).
pub const MAX_CHECKPOINT_BYTES: u64 = 256 * 1024;
/// Longest instance name.
pub const MAX_INSTANCE_CHARS: usize = 120;

/// Why a checkpoint (or a trusted key) cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {why}")]
    Io { path: String, why: String },
    #[error("{path} is {size} bytes, more than a checkpoint may be ({MAX_CHECKPOINT_BYTES})")]
    TooLarge { path: String, size: u64 },
    #[error("not a checkpoint: {0}")]
    Malformed(String),
    #[error("not a public key: {0} (64 hex digits, as `motcua checkpoint key` prints)")]
    Key(String),
}

/// A signed checkpoint, as its JSON file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub format: String,
    /// Which server signed it (its unit code, or the name the operator gave).
    pub instance: String,
    /// The seq of the head signed.
    pub seq: u64,
    /// The chain hash of event `seq` (hex, 64 digits).
    pub head: String,
    /// Events in the log at `seq`.
    pub events: u64,
    /// When it was signed (RFC 3339, UTC).
    pub signed_at: String,
    pub anchor_stride: u64,
    /// The first [`ANCHOR_BYTES`] bytes (hex) of the chain hash at seq `anchor_stride`,
    /// `2 * anchor_stride`, ... up to `seq`.
    pub anchors: Vec<String>,
    /// The first 16 hex digits of SHA-256 of the public key.
    pub key_id: String,
    pub public_key: String,
    pub signature: String,
}

/// What a checkpoint says, before it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsigned {
    pub instance: String,
    pub seq: u64,
    pub head: [u8; 32],
    pub signed_at: String,
    pub anchor_stride: u64,
    pub anchors: Vec<[u8; ANCHOR_BYTES]>,
}

/// The anchor stride of a checkpoint at `seq`: the smallest power of two with
/// `seq / stride <= MAX_ANCHORS`.
pub fn anchor_stride(seq: u64) -> u64 {
    let mut stride = 1u64;
    while seq / stride > MAX_ANCHORS {
        stride = stride.saturating_mul(2);
    }
    stride
}

/// Collects the anchors of a checkpoint at `seq` from the chain hashes fed in seq order.
#[derive(Debug, Clone)]
pub struct AnchorCollector {
    seq: u64,
    stride: u64,
    anchors: Vec<[u8; ANCHOR_BYTES]>,
    head: Option<[u8; 32]>,
}

impl AnchorCollector {
    pub fn new(seq: u64) -> AnchorCollector {
        let stride = anchor_stride(seq);
        AnchorCollector {
            seq,
            stride,
            anchors: Vec::with_capacity((seq / stride) as usize),
            head: None,
        }
    }

    /// One event's seq and chain hash; events must come in seq order from 1.
    pub fn push(&mut self, seq: u64, hash: &[u8; 32]) {
        if seq > self.seq {
            return;
        }
        if seq % self.stride == 0 {
            self.anchors.push(short_anchor(hash));
        }
        if seq == self.seq {
            self.head = Some(*hash);
        }
    }

    /// What to sign, once every event up to `seq` was pushed (None if one is missing).
    pub fn finish(self, instance: &str, signed_at: &str) -> Option<Unsigned> {
        let complete = self.anchors.len() as u64 == self.seq / self.stride;
        Some(Unsigned {
            instance: instance.to_owned(),
            seq: self.seq,
            head: self.head.filter(|_| complete)?,
            signed_at: signed_at.to_owned(),
            anchor_stride: self.stride,
            anchors: self.anchors,
        })
    }
}

fn short_anchor(hash: &[u8; 32]) -> [u8; ANCHOR_BYTES] {
    let mut a = [0; ANCHOR_BYTES];
    a.copy_from_slice(&hash[..ANCHOR_BYTES]);
    a
}

/// The key id: the first 16 hex digits of SHA-256 of the 32 public-key bytes.
pub fn key_id(public_key: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

/// The message a checkpoint's signature covers: UTF-8 text, one `name=value` line per field
/// in this order, each ended by `\n`, the anchors joined without separator
/// (`docs/checkpoints.md`).
#[allow(clippy::too_many_arguments)]
fn message(
    instance: &str,
    seq: u64,
    head: &str,
    events: u64,
    signed_at: &str,
    anchor_stride: u64,
    anchors: &[String],
    key_id: &str,
    public_key: &str,
) -> Vec<u8> {
    format!(
        "{FORMAT}\ninstance={instance}\nseq={seq}\nhead={head}\nevents={events}\n\
         signed_at={signed_at}\nanchor_stride={anchor_stride}\nanchors={}\nkey_id={key_id}\n\
         public_key={public_key}\n",
        anchors.concat()
    )
    .into_bytes()
}

impl Unsigned {
    /// Signs with `key`. An instance name with a control character (it would forge a line of
    /// the message) is refused.
    pub fn sign(self, key: &SigningKey) -> Result<Checkpoint, CheckpointError> {
        check_instance(&self.instance)?;
        let public = key.verifying_key().to_bytes();
        let mut cp = Checkpoint {
            format: FORMAT.into(),
            instance: self.instance,
            seq: self.seq,
            head: hex::encode(self.head),
            events: self.seq,
            signed_at: self.signed_at,
            anchor_stride: self.anchor_stride,
            anchors: self.anchors.iter().map(hex::encode).collect(),
            key_id: key_id(&public),
            public_key: hex::encode(public),
            signature: String::new(),
        };
        cp.signature = hex::encode(key.sign(&cp.message()).to_bytes());
        Ok(cp)
    }
}

fn check_instance(instance: &str) -> Result<(), CheckpointError> {
    if instance.is_empty()
        || instance.chars().count() > MAX_INSTANCE_CHARS
        || instance.chars().any(char::is_control)
    {
        return Err(CheckpointError::Malformed(format!(
            "the instance name must be 1 to {MAX_INSTANCE_CHARS} characters without control \
             characters"
        )));
    }
    Ok(())
}

fn hex_array<const N: usize>(s: &str, what: &str) -> Result<[u8; N], CheckpointError> {
    if s.len() != 2 * N || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(CheckpointError::Malformed(format!(
            "{what} must be {} lower-case hex digits",
            2 * N
        )));
    }
    motcua_engine::hex_digits::parse_hex(s)
        .ok_or_else(|| CheckpointError::Malformed(format!("{what} is not hex")))
}

impl Checkpoint {
    /// Parses a checkpoint file's bytes and checks its shape (not its signature).
    pub fn parse(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let cp: Checkpoint =
            serde_json::from_slice(bytes).map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        if cp.format != FORMAT {
            return Err(CheckpointError::Malformed(format!(
                "format {:?}, expected {FORMAT:?}",
                cp.format
            )));
        }
        check_instance(&cp.instance)?;
        if cp.seq == 0 || cp.events != cp.seq {
            return Err(CheckpointError::Malformed(
                "seq must be at least 1 and events equal to seq".into(),
            ));
        }
        hex_array::<32>(&cp.head, "head")?;
        hex_array::<32>(&cp.public_key, "public_key")?;
        hex_array::<64>(&cp.signature, "signature")?;
        hex_array::<8>(&cp.key_id, "key_id")?;
        if cp.anchor_stride != anchor_stride(cp.seq)
            || cp.anchors.len() as u64 != cp.seq / cp.anchor_stride
        {
            return Err(CheckpointError::Malformed(format!(
                "a checkpoint at seq {} has stride {} and {} anchors",
                cp.seq,
                anchor_stride(cp.seq),
                cp.seq / anchor_stride(cp.seq)
            )));
        }
        for a in &cp.anchors {
            hex_array::<ANCHOR_BYTES>(a, "an anchor")?;
        }
        if chrono::DateTime::parse_from_rfc3339(&cp.signed_at).is_err() {
            return Err(CheckpointError::Malformed(
                "signed_at is not an RFC 3339 instant".into(),
            ));
        }
        Ok(cp)
    }

    /// Reads and parses a checkpoint file, at most [`MAX_CHECKPOINT_BYTES`].
    pub fn read(path: &std::path::Path) -> Result<Checkpoint, CheckpointError> {
        let shown = path.display().to_string();
        let io = |e: std::io::Error| CheckpointError::Io {
            path: shown.clone(),
            why: e.to_string(),
        };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_CHECKPOINT_BYTES {
            return Err(CheckpointError::TooLarge { path: shown, size });
        }
        let bytes = std::fs::read(path).map_err(io)?;
        Checkpoint::parse(&bytes).map_err(|e| CheckpointError::Io {
            path: shown,
            why: e.to_string(),
        })
    }

    /// The signed message (see [`message`]).
    pub fn message(&self) -> Vec<u8> {
        message(
            &self.instance,
            self.seq,
            &self.head,
            self.events,
            &self.signed_at,
            self.anchor_stride,
            &self.anchors,
            &self.key_id,
            &self.public_key,
        )
    }

    /// The public key's bytes (checked by [`Checkpoint::parse`]).
    pub fn public_key_bytes(&self) -> Option<[u8; 32]> {
        hex_array::<32>(&self.public_key, "public_key").ok()
    }

    /// The head hash's bytes.
    pub fn head_bytes(&self) -> Option<[u8; 32]> {
        hex_array::<32>(&self.head, "head").ok()
    }

    /// True when the signature is the public key's over [`Checkpoint::message`] and the key id
    /// is the public key's (strict Ed25519 verification: no malleable signatures, no weak keys).
    pub fn signature_holds(&self) -> bool {
        let (Some(pk), Ok(sig)) = (
            self.public_key_bytes(),
            hex_array::<64>(&self.signature, "signature"),
        ) else {
            return false;
        };
        let Ok(vk) = VerifyingKey::from_bytes(&pk) else {
            return false;
        };
        key_id(&pk) == self.key_id
            && vk
                .verify_strict(&self.message(), &Signature::from_bytes(&sig))
                .is_ok()
    }

    /// The fingerprint printed on reports: `#<seq> <16 hex of the head> (khoá <key id>)`.
    pub fn fingerprint(&self) -> String {
        format!(
            "#{} {} (khoá {})",
            self.seq,
            &self.head[..16.min(self.head.len())],
            self.key_id
        )
    }
}

/// Parses a trusted public key given as 64 hex digits, or as a file whose first word is (what
/// `motcua checkpoint key` prints).
pub fn parse_trusted_key(arg: &str) -> Result<[u8; 32], CheckpointError> {
    let from_hex = motcua_engine::hex_digits::parse_hex::<32>;
    if let Some(k) = from_hex(arg.trim()) {
        return Ok(k);
    }
    let path = std::path::Path::new(arg);
    let size = std::fs::metadata(path)
        .map_err(|e| CheckpointError::Key(format!("{arg}: {e}")))?
        .len();
    if size > MAX_CHECKPOINT_BYTES {
        return Err(CheckpointError::Key(format!("{arg} is too large")));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| CheckpointError::Key(format!("{arg}: {e}")))?;
    text.split_whitespace()
        .next()
        .and_then(from_hex)
        .ok_or_else(|| CheckpointError::Key(arg.to_owned()))
}

/// One checkpoint being compared with an archive's chain.
#[derive(Debug)]
struct Watched {
    label: String,
    cp: Checkpoint,
    head: [u8; 32],
    anchors: Vec<[u8; ANCHOR_BYTES]>,
    /// The first seq whose hash differs from the checkpoint's record.
    departs_at: Option<u64>,
    /// The checkpoint's seq was reached in the archive.
    reached: bool,
}

/// The checkpoint layer of `verify`: each checkpoint's signature and key judged first, then
/// every trusted one compared with the chain hashes as the archive's events go by.
#[derive(Debug, Default)]
pub struct CheckpointCheck {
    watched: Vec<Watched>,
    findings: Vec<Finding>,
}

impl CheckpointCheck {
    /// `checkpoints`: (how to name it in a finding, the parsed file); `trusted`: public keys.
    /// A checkpoint whose signature fails is `checkpoint_signature`; one signed by a key not
    /// in `trusted`, `checkpoint_untrusted`; neither is compared with the archive.
    pub fn new(checkpoints: Vec<(String, Checkpoint)>, trusted: &[[u8; 32]]) -> CheckpointCheck {
        let trusted: BTreeSet<[u8; 32]> = trusted.iter().copied().collect();
        let mut check = CheckpointCheck::default();
        for (label, cp) in checkpoints {
            if !cp.signature_holds() {
                check.findings.push(Finding::new(
                    cp.seq,
                    None,
                    "checkpoint_signature",
                    format!(
                        "{label}: the signature does not hold for its content and key {}: the \
                         file was altered or not signed by that key",
                        cp.key_id
                    ),
                ));
                continue;
            }
            let (Some(pk), Some(head)) = (cp.public_key_bytes(), cp.head_bytes()) else {
                continue;
            };
            if !trusted.contains(&pk) {
                check.findings.push(Finding::new(
                    cp.seq,
                    None,
                    "checkpoint_untrusted",
                    format!(
                        "{label}: signed by key {} ({}), which is not among the trusted keys; \
                         refused",
                        cp.key_id, cp.public_key
                    ),
                ));
                continue;
            }
            let anchors = cp
                .anchors
                .iter()
                .filter_map(|a| hex_array::<ANCHOR_BYTES>(a, "anchor").ok())
                .collect();
            check.watched.push(Watched {
                label,
                cp,
                head,
                anchors,
                departs_at: None,
                reached: false,
            });
        }
        check
    }

    /// Whether any checkpoint is being compared.
    pub fn is_empty(&self) -> bool {
        self.watched.is_empty()
    }

    /// The chain hash of event `seq` as the archive records it (or, for an archive starting
    /// mid-log, its header's hash of the event before its first).
    pub fn observe(&mut self, seq: u64, hash: &[u8; 32]) {
        for w in &mut self.watched {
            if w.departs_at.is_some() || seq > w.cp.seq || seq == 0 {
                continue;
            }
            let stride = w.cp.anchor_stride;
            let differs = if seq == w.cp.seq {
                w.reached = true;
                &w.head != hash
            } else if seq % stride == 0 {
                let index = (seq / stride - 1) as usize;
                w.anchors
                    .get(index)
                    .is_some_and(|a| a[..] != hash[..ANCHOR_BYTES])
            } else {
                continue;
            };
            if differs {
                w.departs_at = Some(seq);
            }
        }
    }

    /// The findings: the refused checkpoints', then for each compared one whether the archive
    /// extends it. `head_seq` is the archive's last seq.
    pub fn finish(self, head_seq: u64) -> Vec<Finding> {
        let mut findings = self.findings;
        for w in self.watched {
            let stride = w.cp.anchor_stride;
            if let Some(at) = w.departs_at {
                // The hash at `at` differs and the one a stride before did not (or was not
                // recorded): the first rewritten event is in (at - stride, at].
                let first = if at == w.cp.seq {
                    (at - 1) / stride * stride + 1
                } else {
                    at - stride + 1
                };
                let detail = if first == at {
                    format!(
                        "{}: the archive departs from checkpoint {} at seq {at}: its chain hash \
                         there is not the signed one, and every hash after it differs too; \
                         events 1 to {} are as signed",
                        w.label,
                        w.cp.fingerprint(),
                        at - 1
                    )
                } else {
                    format!(
                        "{}: the archive departs from checkpoint {} between seq {first} and seq \
                         {at} (the checkpoint records every {stride}th hash): the first \
                         rewritten event is in that range",
                        w.label,
                        w.cp.fingerprint()
                    )
                };
                findings.push(Finding::new(first, None, "checkpoint", detail));
            } else if !w.reached && head_seq < w.cp.seq {
                findings.push(Finding::new(
                    w.cp.seq,
                    None,
                    "checkpoint_beyond",
                    format!(
                        "{}: checkpoint {} was signed at seq {}, but the archive ends at seq \
                         {head_seq}: events were removed from its end, or the archive is older \
                         than the checkpoint",
                        w.label,
                        w.cp.fingerprint(),
                        w.cp.seq
                    ),
                ));
            } else if !w.reached {
                findings.push(Finding::new(
                    w.cp.seq,
                    None,
                    "checkpoint_outside",
                    format!(
                        "{}: checkpoint {} is at seq {}, before this archive's range: it cannot \
                         be checked here",
                        w.label,
                        w.cp.fingerprint(),
                        w.cp.seq
                    ),
                ));
            }
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in chain of `n` hashes (what a log's events carry), changed from `from` on
    /// when given: what a re-hashed rewrite leaves.
    fn chain(n: u64, from: Option<u64>) -> Vec<(u64, [u8; 32])> {
        (1..=n)
            .map(|seq| {
                let forged = from.is_some_and(|f| seq >= f);
                let h: [u8; 32] = Sha256::digest(format!("{seq}/{forged}")).into();
                (seq, h)
            })
            .collect()
    }

    fn signed(n: u64, key: &SigningKey) -> Checkpoint {
        let mut a = AnchorCollector::new(n);
        for (seq, h) in chain(n, None) {
            a.push(seq, &h);
        }
        a.finish("000.33.22.H05", "2026-12-05T00:00:00Z")
            .and_then(|u| u.sign(key).ok())
            .unwrap_or_else(|| panic!("signed"))
    }

    fn findings(cp: &Checkpoint, key: &SigningKey, archive: &[(u64, [u8; 32])]) -> Vec<Finding> {
        let mut check = CheckpointCheck::new(
            vec![("cp".into(), cp.clone())],
            &[key.verifying_key().to_bytes()],
        );
        for (seq, h) in archive {
            check.observe(*seq, h);
        }
        check.finish(archive.last().map_or(0, |l| l.0))
    }

    #[test]
    fn past_4096_events_a_rewrite_is_bounded_to_one_stride() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let cp = signed(10_000, &key);
        assert_eq!((cp.anchor_stride, cp.anchors.len()), (4, 2500));
        assert!(cp.signature_holds());
        assert_eq!(findings(&cp, &key, &chain(10_000, None)), vec![]);
        // Rewritten from seq 3001: anchors at 3000 hold, 3004 does not: (3000, 3004].
        let f = findings(&cp, &key, &chain(10_000, Some(3001)));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].seq, f[0].rule), (3001, "checkpoint"));
        assert!(
            f[0].detail.contains("between seq 3001 and seq 3004"),
            "{}",
            f[0].detail
        );
        // Only the last event changed: its seq is the head, named exactly by the range
        // (9997, 10000].
        let f = findings(&cp, &key, &chain(10_000, Some(10_000)));
        assert_eq!((f[0].seq, f[0].rule), (9997, "checkpoint"));
    }

    #[test]
    fn the_signed_message_is_the_documented_text() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let cp = signed(3, &key);
        let text = String::from_utf8(cp.message()).unwrap_or_default();
        let expected = format!(
            "motcua-checkpoint-1\ninstance=000.33.22.H05\nseq=3\nhead={}\nevents=3\n\
             signed_at=2026-12-05T00:00:00Z\nanchor_stride=1\nanchors={}\nkey_id={}\n\
             public_key={}\n",
            cp.head,
            cp.anchors.concat(),
            cp.key_id,
            cp.public_key
        );
        assert_eq!(text, expected);
        // A control character in the instance would forge a line: refused.
        let mut a = AnchorCollector::new(1);
        a.push(1, &[1; 32]);
        let unsigned = a.finish("x\nseq=9", "2026-12-05T00:00:00Z");
        assert!(unsigned.is_some_and(|u| u.sign(&key).is_err()));
        // An anchor list of the wrong length is not a checkpoint.
        let mut bad = cp.clone();
        bad.anchors.pop();
        let json = serde_json::to_vec(&bad).unwrap_or_default();
        assert!(Checkpoint::parse(&json).is_err());
    }
}
