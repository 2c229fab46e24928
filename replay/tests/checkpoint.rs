//! Signed checkpoints against real archives (a real EventLog filled with the testkit's
//! synthetic history): a re-hashed rewrite before a checkpoint is found at the first seq that
//! differs, rotated keys, unknown keys, altered checkpoint files, archives shorter than a
//! checkpoint.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use ed25519_dalek::SigningKey;
use motcua_engine::log::{Envelope, EventId};
use motcua_replay::checkpoint::{AnchorCollector, Checkpoint, CheckpointCheck};
use motcua_replay::cli::{self, CheckpointArgs};
use motcua_replay::output::Format;
use motcua_replay::progress::Progress;
use motcua_replay::source::Source;
use motcua_replay::verify::{verify_against, Finding, VerifyOptions};
use sha2::Digest;

fn key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&sha2::Sha256::digest(label.as_bytes()).into())
}

fn public_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

/// The checkpoint a server holding `envs` would sign at `seq` with `key`.
fn sign_at(envs: &[Envelope], seq: u64, key: &SigningKey) -> Checkpoint {
    let mut anchors = AnchorCollector::new(seq);
    for e in envs {
        anchors.push(e.seq, &e.hash);
    }
    anchors
        .finish("000.00.00.G10", "2023-08-31T10:00:00Z")
        .expect("every event up to seq")
        .sign(key)
        .expect("signed")
}

fn write(dir: &Path, name: &str, cp: &Checkpoint) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(cp).unwrap()).unwrap();
    p
}

fn check(archive: &Path, cps: Vec<Checkpoint>, trusted: &[&SigningKey]) -> Vec<Finding> {
    let trusted: Vec<[u8; 32]> = trusted
        .iter()
        .map(|k| k.verifying_key().to_bytes())
        .collect();
    let cps = cps
        .into_iter()
        .map(|c| (format!("checkpoints/{}.json", c.seq), c))
        .collect();
    verify_against(
        Source::open(archive).unwrap(),
        &VerifyOptions::default(),
        CheckpointCheck::new(cps, &trusted),
        &Progress::hidden(),
    )
    .findings
}

/// The archive with event `seq` changed (its correlation id: a field no content rule reads, so
/// the change is one that only the chain can betray; an actor changed to someone who could not
/// have acted is an `actor` finding on its own) and every event from it re-hashed, the trailer
/// rewritten: a self-consistent forgery that verifies clean without a checkpoint.
fn rewrite_from(fx: &Fixture, seq: u64) -> PathBuf {
    let bytes = std::fs::read(&fx.archive).unwrap();
    let recs = records(&bytes);
    let i = (seq - 1) as usize;
    let mut envs: Vec<Envelope> = recs.iter().map(|r| r.2.clone()).collect();
    envs[i].correlation_id = Some(EventId([0xEE; 16]));
    let mut prev = envs[i - 1].hash;
    for env in envs.iter_mut().skip(i) {
        env.prev_hash = prev;
        env.hash = env.compute_hash();
        prev = env.hash;
    }
    let mut out = bytes.clone();
    for j in (i..recs.len()).rev() {
        out = replace_record(&out, &recs, j, &envs[j]);
    }
    // The trailer's head hash too: the last 64 bytes are head then SHA-256.
    let n = out.len();
    out[n - 64..n - 32].copy_from_slice(&prev);
    reseal(&mut out);
    let p = fx.dir.path().join(format!("rewritten-{seq}.motcua"));
    std::fs::write(&p, out).unwrap();
    p
}

fn envelopes(path: &Path) -> Vec<Envelope> {
    records(&std::fs::read(path).unwrap())
        .into_iter()
        .map(|r| r.2)
        .collect()
}

#[test]
fn a_rehashed_rewrite_before_a_checkpoint_is_named_at_its_first_seq() {
    let fx = fixture(80);
    assert!(fx.events > 200, "{} events", fx.events);
    let k = key("unit key 1");
    let cp = sign_at(&envelopes(&fx.archive), 150, &k);
    assert_eq!((cp.anchor_stride, cp.anchors.len()), (1, 150));
    assert!(cp.signature_holds());

    // The genuine archive extends the checkpoint: no finding.
    assert_eq!(check(&fx.archive, vec![cp.clone()], &[&k]), vec![]);

    let forged = rewrite_from(&fx, 120);
    // Without the checkpoint the forgery is clean: that is what checkpoints are for.
    assert_eq!(check(&forged, vec![], &[]), vec![]);
    let findings = check(&forged, vec![cp.clone()], &[&k]);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!((findings[0].seq, findings[0].rule), (120, "checkpoint"));
    assert!(
        findings[0].detail.contains("at seq 120") && findings[0].detail.contains("1 to 119"),
        "{}",
        findings[0].detail
    );

    // A rewrite after the checkpoint is not its business.
    let later = rewrite_from(&fx, 180);
    assert_eq!(check(&later, vec![cp], &[&k]), vec![]);

    // Through the command: exit status 1 and the finding in the table.
    let cp_file = write(
        fx.dir.path(),
        "150.json",
        &sign_at(&envelopes(&fx.archive), 150, &k),
    );
    let args = CheckpointArgs {
        files: vec![cp_file],
        trusted_keys: vec![public_hex(&k)],
    };
    let out = cli::verify(&forged, false, None, &args, false, Format::Table, false).unwrap();
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert!(out.stdout.contains("checkpoint"), "{}", out.stdout);
    let out = cli::verify(&fx.archive, false, None, &args, false, Format::Table, false).unwrap();
    assert_eq!(out.status, 0, "{}", out.stdout);
}

#[test]
fn checkpoints_of_a_rotated_key_verify_while_both_keys_are_trusted() {
    let fx = fixture(80);
    let envs = envelopes(&fx.archive);
    let (old, new) = (key("unit key 1"), key("unit key 2"));
    let before = sign_at(&envs, 100, &old);
    let after = sign_at(&envs, 190, &new);
    assert_ne!(before.key_id, after.key_id);
    assert_eq!(
        check(
            &fx.archive,
            vec![before.clone(), after.clone()],
            &[&old, &new]
        ),
        vec![]
    );
    // Only the new key trusted: the old checkpoint is refused, the new one still holds.
    let findings = check(&fx.archive, vec![before, after], &[&new]);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        (findings[0].seq, findings[0].rule),
        (100, "checkpoint_untrusted")
    );
}

#[test]
fn a_checkpoint_signed_by_an_unknown_key_is_refused() {
    let fx = fixture(80);
    let envs = envelopes(&fx.archive);
    let (unit, stranger) = (key("unit key 1"), key("someone else"));
    // A forger signs the rewritten chain with their own key: refused, never compared.
    let forged = rewrite_from(&fx, 120);
    let theirs = sign_at(&envelopes(&forged), 150, &stranger);
    let findings = check(&forged, vec![theirs.clone()], &[&unit]);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        (findings[0].seq, findings[0].rule),
        (150, "checkpoint_untrusted")
    );
    assert!(findings[0].detail.contains(&theirs.key_id));
    // The unit's own checkpoint still catches the rewrite.
    let ours = sign_at(&envs, 150, &unit);
    let findings = check(&forged, vec![ours, theirs], &[&unit]);
    let rules: Vec<(u64, &str)> = findings.iter().map(|f| (f.seq, f.rule)).collect();
    assert_eq!(rules, [(120, "checkpoint"), (150, "checkpoint_untrusted")]);

    // No trusted key at all: the command refuses to run (exit status 2 in the binary).
    let file = write(fx.dir.path(), "150.json", &sign_at(&envs, 150, &unit));
    let err = cli::verify(
        &fx.archive,
        false,
        None,
        &CheckpointArgs {
            files: vec![file],
            trusted_keys: vec![],
        },
        false,
        Format::Table,
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("--trusted-key"), "{err}");
}

#[test]
fn an_altered_checkpoint_file_fails_its_signature() {
    let fx = fixture(80);
    let envs = envelopes(&fx.archive);
    let k = key("unit key 1");
    let genuine = sign_at(&envs, 150, &k);
    // Re-pointed to the forged chain's head, keeping the signature: refused.
    let forged = rewrite_from(&fx, 120);
    let forged_envs = envelopes(&forged);
    let mut altered = genuine.clone();
    altered.head = hex::encode(forged_envs[149].hash);
    for (i, a) in altered.anchors.iter_mut().enumerate() {
        *a = hex::encode(&forged_envs[i].hash[..8]);
    }
    let findings = check(&forged, vec![altered], &[&k]);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        (findings[0].seq, findings[0].rule),
        (150, "checkpoint_signature")
    );
    // One changed character of the signed time is enough.
    let mut altered = genuine.clone();
    altered.signed_at = "2023-08-31T10:00:01Z".into();
    assert!(!altered.signature_holds());
    // A key id that is not the key's.
    let mut altered = genuine;
    altered.key_id = "0000000000000000".into();
    assert!(!altered.signature_holds());
}

#[test]
fn an_archive_shorter_than_a_checkpoint_is_found() {
    let fx = fixture(80);
    let k = key("unit key 1");
    let envs = envelopes(&fx.archive);
    let cp = sign_at(&envs, fx.events, &k);
    // The same log, archived only up to seq 150 (the tail cut off).
    let short = fx.dir.path().join("short.motcua");
    {
        let rt = runtime();
        let (log, _) = open_log(&fx.data);
        let file = std::fs::File::create(&short).unwrap();
        let meta = motcua_replay::archive::ArchiveMeta {
            unit: "000.00.00.G10".into(),
            created_at_ms: T0,
        };
        motcua_replay::archive::write_archive(
            &log,
            1,
            Some(150),
            &meta,
            std::io::BufWriter::new(file),
        )
        .unwrap();
        rt.block_on(log.close()).unwrap();
    }
    let findings = check(&short, vec![cp.clone()], &[&k]);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        (findings[0].seq, findings[0].rule),
        (fx.events, "checkpoint_beyond")
    );
    assert!(findings[0].detail.contains("ends at seq 150"));
    // The full archive ends exactly on it.
    assert_eq!(check(&fx.archive, vec![cp], &[&k]), vec![]);
}

#[test]
fn a_long_log_keeps_its_checkpoint_small_and_still_bounds_the_rewrite() {
    // 10,000 seqs need a stride of 4: at most 4096 anchors however long the log.
    let stride = motcua_replay::checkpoint::anchor_stride(10_000);
    assert_eq!(stride, 4);
    assert_eq!(motcua_replay::checkpoint::anchor_stride(4096), 1);
    assert_eq!(motcua_replay::checkpoint::anchor_stride(4097), 2);
    // A malformed file is refused with a reason, not a panic.
    let err = Checkpoint::parse(b"{\"format\":\"x\"}").unwrap_err();
    assert!(err.to_string().contains("not a checkpoint"), "{err}");
}
