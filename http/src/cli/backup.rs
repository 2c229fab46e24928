//! Export, backup and restore: the operator's side of the archive format.
//!
//! - `motcua export` writes an archive of a *stopped* data directory; `GET /v1/export`
//!   (`routes::export`) streams the same bytes from a running server. Both go through
//!   `app::export::ExportPlan`, so the two are byte-identical for the same log and range.
//! - `motcua backup` downloads `/v1/export` into `FILE.partial`, verifies the whole archive
//!   (structure, chain, trailer, checksum), and only then renames it to `FILE`: a file named
//!   `FILE` is always a complete, verified backup.
//! - `motcua restore` verifies the whole archive first, with every check `motcua-replay verify`
//!   runs (the chain, and the domain's judgement of every payload, transition, role and due
//!   date: an archive re-hashed after a forged change is consistent as a chain, only the domain
//!   sees it), optionally against a head hash known independently (`--expect-head`), and
//!   writes nothing if it fails (naming the first bad seq); otherwise it imports the envelopes unchanged
//!   (`motcua_engine::log::import_log`) into a staging directory next to the target, rebuilds
//!   every projection there, and renames the staging directory into place, so an interrupted
//!   restore never leaves a half-restored data directory under the target's name.
//!
//! The archive format itself is `motcua_replay::archive`; nothing here reads or writes its bytes.

use std::fs::File;
use std::io::{self, BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use motcua_engine::domain::dossier::RecordedRule;
use motcua_engine::durable_file::{self, partial_path};
use motcua_engine::log::{import_log, EventLog, ImportError, LogConfig, LogError, Position};
use motcua_engine::projection::Projections;
use motcua_replay::archive::{
    decode_record, ArchiveError, ArchiveHeader, ArchiveReader, ArchiveSummary,
};
use motcua_replay::progress::Progress;
use motcua_replay::source::{Source, SourceError};
use motcua_replay::verify::{verify, Finding, VerifyOptions};
use thiserror::Error;

use crate::app::export::{ExportError, ExportPlan};

/// How long a restore waits for the projections to fold the restored log. Generous: a rebuild
/// of a million events takes about 10 s (BENCHMARKS.md), and a restore has nothing better to do.
pub const RESTORE_PROJECTION_TIMEOUT: Duration = Duration::from_secs(3600);

/// `motcua backup` gives up connecting after this long.
pub const BACKUP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `motcua backup` gives up when no byte arrives for this long (a hung server or network); a
/// long download that keeps moving is never cut.
pub const BACKUP_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Write buffer of archive files: few, large writes.
const FILE_BUFFER_BYTES: usize = 1 << 20;

/// Everything export, backup and restore can refuse or fail with.
#[derive(Debug, Error)]
pub enum BackupError {
    #[error("invalid range: {0}")]
    Range(String),
    #[error("--expect-head: {0}")]
    ExpectHead(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// The data directory of `export` is missing or held by a running server.
    #[error("{0}")]
    DataDir(String),
    #[error("cannot open the event log in {dir} (is the server running? stop it first): {source}")]
    Open { dir: PathBuf, source: LogError },
    #[error("log: {0}")]
    Log(#[from] LogError),
    #[error("archive: {0}")]
    Archive(#[from] ArchiveError),
    #[error("archive: {0}")]
    Source(#[from] SourceError),
    #[error(
        "the archive is damaged: first bad seq {seq} ({rule}: {detail}); {count} finding(s) in all"
    )]
    Damaged {
        seq: u64,
        rule: &'static str,
        detail: String,
        count: usize,
    },
    #[error(
        "the archive does not pass motcua-replay verify: first finding at seq {seq} ({rule}: \
         {detail}); {count} finding(s) in all. Restore only an archive that verifies"
    )]
    Refused {
        seq: u64,
        rule: &'static str,
        detail: String,
        count: usize,
    },
    #[error("the archive is damaged ({rule}: {detail}); {count} finding(s) in all")]
    DamagedContainer {
        rule: &'static str,
        detail: String,
        count: usize,
    },
    #[error("{0} is not an empty directory: restore only into a new or empty directory")]
    TargetNotEmpty(PathBuf),
    #[error("{0} already exists (left by an interrupted restore?): remove it and retry")]
    StagingExists(PathBuf),
    #[error(
        "the archive holds seqs {first}..={last}: only a full export (from seq 1) can be restored"
    )]
    PartialArchive { first: u64, last: u64 },
    #[error("import: {0}")]
    Import(#[from] ImportError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("the archive changed while it was restored: {0}")]
    Changed(String),
    #[error("projections: {0}")]
    Projection(String),
    #[error("server: {0}")]
    Server(String),
    #[error("internal: {0}")]
    Internal(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Renames `from` to `to` and makes the rename durable (the engine's one sequence).
fn rename_durably(from: &Path, to: &Path) -> Result<(), BackupError> {
    durable_file::rename_durably(from, to).map_err(|e| BackupError::Io {
        path: e.path,
        source: e.source,
    })
}

/// What `export` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    pub plan: ExportPlan,
    pub summary: ArchiveSummary,
    pub file: PathBuf,
}

impl ExportReport {
    /// The line `motcua export` prints.
    pub fn line(&self) -> String {
        format!(
            "exported events={} head={} file={}",
            self.summary.count,
            hex::encode(self.summary.head_hash),
            self.file.display()
        )
    }
}

/// `motcua export`: the archive of `from..=to` of the stopped data directory `data`, written to
/// `out` through `out.partial`, fsynced, renamed.
pub async fn export_data_dir(
    data: &Path,
    out: &Path,
    from: Option<u64>,
    to: Option<u64>,
) -> Result<ExportReport, BackupError> {
    // A missing directory is refused, not exported as an empty log.
    let log = crate::datadir::open_stopped(data, crate::datadir::NoLogYet::Refuse, None)
        .map_err(BackupError::DataDir)?;
    let l = log.clone();
    let out = out.to_path_buf();
    let written = tokio::task::spawn_blocking(move || {
        let plan = ExportPlan::new(&l, from, to)?;
        let summary = write_file(&plan, &l, &out)?;
        Ok::<_, BackupError>(ExportReport {
            plan,
            summary,
            file: out,
        })
    })
    .await
    .map_err(|e| BackupError::Internal(format!("export task: {e}")));
    let closed = log.close().await;
    let report = written??;
    closed?;
    Ok(report)
}

/// Writes the planned archive to `out.partial`, fsyncs it and renames it to `out` (blocking).
/// A failed write removes the partial file.
fn write_file(
    plan: &ExportPlan,
    log: &EventLog,
    out: &Path,
) -> Result<ArchiveSummary, BackupError> {
    let partial = partial_path(out);
    let result = (|| {
        let file = File::create(&partial).map_err(io_err(&partial))?;
        let mut w = BufWriter::with_capacity(FILE_BUFFER_BYTES, file);
        let summary = plan.write(log, &mut w)?;
        let file = w.into_inner().map_err(|e| BackupError::Io {
            path: partial.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io_err(&partial))?;
        rename_durably(&partial, out)?;
        Ok::<_, BackupError>(summary)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// An archive that passed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedArchive {
    pub header: ArchiveHeader,
    pub events: u64,
    /// Hash of the last event (hex), equal to the trailer's.
    pub head: String,
}

/// Verifies the archive at `path` completely with the auditor's tool (structure, every hash and
/// link, seq and stream-version continuity, trailer count, head and checksum; not the domain
/// rules): the first finding, by seq, is the error. Blocking.
pub fn verify_archive(path: &Path) -> Result<VerifiedArchive, BackupError> {
    verify_archive_with(
        path,
        &VerifyOptions {
            chain_only: true,
            expect_head: None,
        },
    )
}

/// Verifies the archive at `path` as `motcua-replay verify` does: everything
/// [`verify_archive`] checks, then the domain's judgement of every event (payloads, stream,
/// role, transition, rule set, due dates), and, if given, that the log ends on `expect_head`.
/// What `motcua restore` accepts. Blocking.
pub fn verify_archive_fully(
    path: &Path,
    expect_head: Option<[u8; 32]>,
) -> Result<VerifiedArchive, BackupError> {
    verify_archive_with(
        path,
        &VerifyOptions {
            chain_only: false,
            expect_head,
        },
    )
}

fn verify_archive_with(
    path: &Path,
    options: &VerifyOptions,
) -> Result<VerifiedArchive, BackupError> {
    if !path.is_file() {
        return Err(BackupError::Io {
            path: path.to_path_buf(),
            source: io::Error::new(io::ErrorKind::NotFound, "not a file"),
        });
    }
    let source = Source::open(path)?;
    let header = source
        .header()
        .cloned()
        .ok_or_else(|| BackupError::Internal("an archive source without a header".into()))?;
    let report = verify(source, options, &Progress::hidden());
    if let Some(err) = damaged(&report.findings) {
        return Err(err);
    }
    Ok(VerifiedArchive {
        header,
        events: report.events,
        head: report.head,
    })
}

/// Findings of the verifier's own content checks (and of `--expect-head`); with the domain's
/// rules ([`RecordedRule::ALL`]) they say the archive is intact as a chain but its content is
/// not what the engine would have recorded (`docs/archive-format.md`, "Verification").
const VERIFIER_CONTENT_RULES: &[&str] = &[
    "payload",
    "event_type",
    "stream",
    "reference",
    "internal",
    "expected_head",
];

fn is_content_rule(rule: &str) -> bool {
    RecordedRule::ALL.iter().any(|r| r.as_str() == rule) || VERIFIER_CONTENT_RULES.contains(&rule)
}

/// The error naming the first bad seq (findings come sorted by seq, container findings at 0
/// first: a flipped byte also breaks the checksum, but the seq is what the operator needs).
fn damaged(findings: &[Finding]) -> Option<BackupError> {
    let first = findings
        .iter()
        .find(|f| f.seq > 0)
        .or_else(|| findings.first())?;
    if is_content_rule(first.rule) {
        return Some(BackupError::Refused {
            seq: first.seq,
            rule: first.rule,
            detail: first.detail.clone(),
            count: findings.len(),
        });
    }
    Some(if first.seq > 0 {
        BackupError::Damaged {
            seq: first.seq,
            rule: first.rule,
            detail: first.detail.clone(),
            count: findings.len(),
        }
    } else {
        BackupError::DamagedContainer {
            rule: first.rule,
            detail: first.detail.clone(),
            count: findings.len(),
        }
    })
}

/// A head hash given on the command line: 64 hex digits.
pub fn parse_head(hex_digits: &str) -> Result<[u8; 32], BackupError> {
    motcua_engine::hex_digits::parse_hex(hex_digits.trim()).ok_or_else(|| {
        BackupError::ExpectHead(format!("64 hex digits (a SHA-256), not {:?}", hex_digits))
    })
}

/// What `backup` produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub events: u64,
    pub head: String,
    pub file: PathBuf,
    pub bytes: u64,
}

impl BackupReport {
    /// The line `motcua backup` prints.
    pub fn line(&self) -> String {
        format!(
            "backup events={} head={} file={}",
            self.events,
            self.head,
            self.file.display()
        )
    }
}

/// `motcua backup`: downloads `GET {server}/v1/export` into `out.partial`, fsyncs, verifies
/// the whole archive, then renames it to `out`. A damaged download stays in `out.partial` (the
/// evidence) and `out` is not touched.
pub async fn backup(server: &str, token: &str, out: &Path) -> Result<BackupReport, BackupError> {
    use tokio::io::AsyncWriteExt;

    let url = format!("{}/v1/export", server.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .connect_timeout(BACKUP_CONNECT_TIMEOUT)
        .read_timeout(BACKUP_READ_TIMEOUT)
        .build()
        .map_err(|e| BackupError::Server(format!("http client: {e}")))?;
    let mut resp = client
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| BackupError::Server(format!("GET {url}: {e}")))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let detail = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_owned))
            .unwrap_or(body);
        return Err(BackupError::Server(format!(
            "GET {url}: {status}: {detail}"
        )));
    }
    let announced_head = resp
        .headers()
        .get(crate::routes::export::HEAD_HASH_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let partial = partial_path(out);
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(io_err(&partial))?;
    let mut bytes = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        BackupError::Server(format!("download interrupted after {bytes} bytes: {e}"))
    })? {
        file.write_all(&chunk).await.map_err(io_err(&partial))?;
        bytes += chunk.len() as u64;
    }
    file.flush().await.map_err(io_err(&partial))?;
    file.sync_all().await.map_err(io_err(&partial))?;
    drop(file);
    let p = partial.clone();
    let verified = tokio::task::spawn_blocking(move || verify_archive(&p))
        .await
        .map_err(|e| BackupError::Internal(format!("verify task: {e}")))??;
    if let Some(h) = announced_head {
        if h != verified.head {
            return Err(BackupError::Server(format!(
                "the server announced head {h} but the archive ends on {}",
                verified.head
            )));
        }
    }
    rename_durably(&partial, out)?;
    Ok(BackupReport {
        events: verified.events,
        head: verified.head,
        file: out.to_path_buf(),
        bytes,
    })
}

/// What `restore` produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub events: u64,
    pub head: Position,
    /// Wall time of each phase, for the operator's (and RELIABILITY.md's) figures.
    pub phases: RestorePhases,
}

/// Wall time of each phase of a restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestorePhases {
    /// Verifying the whole archive before anything is written.
    pub verify: Duration,
    /// Importing the envelopes and making them durable.
    pub import: Duration,
    /// Folding every projection up to the head.
    pub projections: Duration,
}

impl RestorePhases {
    /// `verify_s=.. import_s=.. projections_s=..`.
    pub fn line(&self) -> String {
        format!(
            "verify_s={:.1} import_s={:.1} projections_s={:.1}",
            self.verify.as_secs_f64(),
            self.import.as_secs_f64(),
            self.projections.as_secs_f64()
        )
    }
}

impl RestoreReport {
    /// The line `motcua restore` prints.
    pub fn line(&self) -> String {
        format!(
            "restored events={} head={}",
            self.events,
            hex::encode(self.head.hash)
        )
    }
}

/// True if `dir` does not exist or is an empty directory.
fn absent_or_empty(dir: &Path) -> Result<bool, BackupError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(BackupError::Io {
            path: dir.to_path_buf(),
            source: e,
        }),
    }
}

/// `motcua restore`: verifies the whole archive `from` as `motcua-replay verify` does, then
/// rebuilds the log and every projection from it in `data`, which must not exist or be empty.
/// On any error `data` is left as it was.
pub async fn restore(from: &Path, data: &Path) -> Result<RestoreReport, BackupError> {
    restore_expecting(from, data, None).await
}

/// [`restore`], and the log must end on `expect_head` (a head hash known independently, e.g.
/// printed on a report: a re-hashed suffix passes every other check).
pub async fn restore_expecting(
    from: &Path,
    data: &Path,
    expect_head: Option<[u8; 32]>,
) -> Result<RestoreReport, BackupError> {
    if !absent_or_empty(data)? {
        return Err(BackupError::TargetNotEmpty(data.to_path_buf()));
    }
    let f = from.to_path_buf();
    let t0 = Instant::now();
    let verified = tokio::task::spawn_blocking(move || verify_archive_fully(&f, expect_head))
        .await
        .map_err(|e| BackupError::Internal(format!("verify task: {e}")))??;
    let verify_time = t0.elapsed();
    if verified.header.first_seq != 1 {
        return Err(BackupError::PartialArchive {
            first: verified.header.first_seq,
            last: verified.header.last_seq,
        });
    }
    let name = data
        .file_name()
        .ok_or_else(|| BackupError::Range(format!("{} has no directory name", data.display())))?;
    let parent = match data.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let prefix = format!(".{}.restoring-", name.to_string_lossy());
    sweep_staging(&parent, &prefix)?;
    let staging = parent.join(format!("{prefix}{}", std::process::id()));
    if staging.exists() {
        return Err(BackupError::StagingExists(staging));
    }
    let result = restore_into(&staging, from, &verified).await;
    let report = match result {
        Ok(mut r) => {
            r.phases.verify = verify_time;
            r
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    // Re-checked just before the swap: nothing may have appeared in the target meanwhile.
    if !absent_or_empty(data)? {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(BackupError::TargetNotEmpty(data.to_path_buf()));
    }
    if data.exists() {
        std::fs::remove_dir(data).map_err(io_err(data))?;
    }
    if let Err(e) = rename_durably(&staging, data) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    Ok(report)
}

/// Removes the staging directories `PREFIX<pid>` in `parent` left by restores that were killed
/// (their process is gone, or the pid is this process's own, reused), so they do not pile up
/// next to the data directory. A running restore's staging directory is left alone.
fn sweep_staging(parent: &Path, prefix: &str) -> Result<(), BackupError> {
    let own = std::process::id();
    for entry in std::fs::read_dir(parent).map_err(io_err(parent))? {
        let entry = entry.map_err(io_err(parent))?;
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own || !process_alive(pid) {
            let path = entry.path();
            std::fs::remove_dir_all(&path).map_err(io_err(&path))?;
            tracing::info!(dir = %path.display(), "removed the staging directory of an interrupted restore");
        }
    }
    Ok(())
}

/// Whether process `pid` runs (Linux: its `/proc` entry). Elsewhere every other pid counts as
/// running, so nothing but this process's own leftover is swept.
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Imports the verified archive into `staging` and folds every projection there.
async fn restore_into(
    staging: &Path,
    from: &Path,
    verified: &VerifiedArchive,
) -> Result<RestoreReport, BackupError> {
    let (s, f) = (staging.to_path_buf(), from.to_path_buf());
    let t0 = Instant::now();
    let head = tokio::task::spawn_blocking(move || import_archive(&s, &f))
        .await
        .map_err(|e| BackupError::Internal(format!("import task: {e}")))??;
    // The file is read twice (verify, then import): both passes must have seen the same log.
    if head.seq != verified.events || hex::encode(head.hash) != verified.head {
        return Err(BackupError::Changed(format!(
            "verified {} events ending on {}, imported {} ending on {}",
            verified.events,
            verified.head,
            head.seq,
            hex::encode(head.hash)
        )));
    }
    let import = t0.elapsed();
    let t1 = Instant::now();
    let log =
        EventLog::open(staging, LogConfig::default()).map_err(|source| BackupError::Open {
            dir: staging.to_path_buf(),
            source,
        })?;
    // The same projection set the server starts (`App::open`), from seq 0: a rebuild.
    let projections =
        Projections::start(&log).map_err(|e| BackupError::Projection(e.to_string()))?;
    let reached = projections
        .wait_for(head.seq, RESTORE_PROJECTION_TIMEOUT)
        .await;
    let applied = projections.applied_seq();
    let stopped = projections.stop().await;
    let closed = log.close().await;
    stopped.map_err(|e| BackupError::Projection(e.to_string()))?;
    if !reached {
        return Err(BackupError::Projection(format!(
            "reached seq {applied} of {} within {RESTORE_PROJECTION_TIMEOUT:?}",
            head.seq
        )));
    }
    closed?;
    Ok(RestoreReport {
        events: head.seq,
        head,
        phases: RestorePhases {
            verify: Duration::ZERO,
            import,
            projections: t1.elapsed(),
        },
    })
}

/// Streams the archive's records into `import_log` (blocking) and checks that the whole file,
/// trailer included, was read.
fn import_archive(staging: &Path, from: &Path) -> Result<Position, BackupError> {
    let file = File::open(from).map_err(io_err(from))?;
    let mut reader = ArchiveReader::open(BufReader::with_capacity(FILE_BUFFER_BYTES, file))?;
    let envelopes = reader.by_ref().map(|rec| {
        rec.map_err(|e| e.to_string())
            .and_then(|r| decode_record(&r.bytes).map_err(|e| e.to_string()))
    });
    let head = import_log(staging, &LogConfig::default(), envelopes)?;
    match reader.trailer() {
        Some(t) if t.checksum_ok() && t.count == head.seq && t.head_hash == head.hash => Ok(head),
        Some(t) => Err(BackupError::Changed(format!(
            "trailer says {} events ending on {}, imported {} ending on {}",
            t.count,
            hex::encode(t.head_hash),
            head.seq,
            hex::encode(head.hash)
        ))),
        None => Err(BackupError::Changed("the trailer was not reached".into())),
    }
}
