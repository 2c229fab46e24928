//! `diff`: names the first difference between two archives (the first seq whose envelopes
//! differ, and the first differing field in envelope order), or between a server's statistics
//! JSON and the figures recomputed from an archive (the first differing figure, in the order
//! docs/domain/statistics.md lists them, `Figure::ALL`).

use std::io::Read;
use std::path::Path;

use chrono::NaiveDate;
use motcua_engine::log::Envelope;
use motcua_engine::projection::Figure;
use serde::Serialize;

use crate::cli::compute_stats;
use crate::progress::Progress;
use crate::replay::{Events, ReplayError};
use crate::source::Source;

/// The first difference found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The seq (archives) where they first differ.
    pub seq: Option<u64>,
    /// The group (statistics) where they first differ.
    pub group: Option<String>,
    /// The envelope field or the figure.
    pub field: String,
    pub a: String,
    pub b: String,
}

/// What `diff` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffResult {
    /// `archives` or `stats`.
    pub kind: String,
    /// Events (archives) or figures (stats) compared equal before the difference.
    pub compared: u64,
    pub difference: Option<Difference>,
}

impl DiffResult {
    pub fn render(&self) -> String {
        match &self.difference {
            None => format!(
                "identical ({} {} compared)\n",
                self.compared,
                unit(&self.kind)
            ),
            Some(d) => {
                let at = match (&d.seq, &d.group) {
                    (Some(s), _) => format!("seq {s}"),
                    (None, Some(g)) => format!("group {g}"),
                    _ => String::new(),
                };
                format!(
                    "first difference at {at}, {}: A={} B={} ({} {} equal before it)\n",
                    d.field,
                    d.a,
                    d.b,
                    self.compared,
                    unit(&self.kind)
                )
            }
        }
    }
}

fn unit(kind: &str) -> &'static str {
    if kind == "stats" {
        "figures"
    } else {
        "events"
    }
}

/// Whether `path` holds JSON (first non-blank byte `{`) rather than an archive.
pub fn looks_like_json(path: &Path) -> bool {
    if path.is_dir() {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut buf))
        .unwrap_or(0);
    buf[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

/// The first differing field of two envelopes, in envelope (and hash input) order.
fn first_field(a: &Envelope, b: &Envelope) -> Option<(&'static str, String, String)> {
    macro_rules! cmp {
        ($name:literal, $f:expr) => {
            let (x, y) = ($f(a), $f(b));
            if x != y {
                return Some(($name, x, y));
            }
        };
    }
    cmp!("seq", |e: &Envelope| e.seq.to_string());
    cmp!("stream", |e: &Envelope| e.stream.to_string());
    cmp!("version", |e: &Envelope| e.version.to_string());
    cmp!("event_id", |e: &Envelope| e.event_id.to_string());
    cmp!("event_type", |e: &Envelope| e.event_type.clone());
    cmp!("schema_version", |e: &Envelope| e
        .schema_version
        .to_string());
    cmp!("recorded_at_ms", |e: &Envelope| e
        .recorded_at_ms
        .to_string());
    cmp!("actor", |e: &Envelope| format!(
        "{}/{}",
        e.actor.staff, e.actor.role
    ));
    cmp!("correlation_id", |e: &Envelope| format!(
        "{:?}",
        e.correlation_id.map(|i| i.to_string())
    ));
    cmp!("causation_id", |e: &Envelope| format!(
        "{:?}",
        e.causation_id.map(|i| i.to_string())
    ));
    cmp!("payload", |e: &Envelope| hex::encode(&e.payload));
    cmp!("prev_hash", |e: &Envelope| hex::encode(e.prev_hash));
    cmp!("hash", |e: &Envelope| hex::encode(e.hash));
    None
}

/// Compares two sources event by event.
pub fn archives(a: &Path, b: &Path, progress: bool) -> Result<DiffResult, ReplayError> {
    let sa = Source::open(a)?;
    let sb = Source::open(b)?;
    let bar = Progress::new(sa.expected_records(), "diff", progress);
    let hidden = Progress::hidden();
    let mut ea = Events::new(sa, &bar).envelopes();
    let mut eb = Events::new(sb, &hidden).envelopes();
    let mut compared = 0u64;
    let difference = loop {
        match (ea.next().transpose()?, eb.next().transpose()?) {
            (None, None) => break None,
            (Some(x), None) => {
                break Some(Difference {
                    seq: Some(x.seq),
                    group: None,
                    field: "length".into(),
                    a: format!("continues with seq {}", x.seq),
                    b: "ends".into(),
                })
            }
            (None, Some(y)) => {
                break Some(Difference {
                    seq: Some(y.seq),
                    group: None,
                    field: "length".into(),
                    a: "ends".into(),
                    b: format!("continues with seq {}", y.seq),
                })
            }
            (Some(x), Some(y)) => {
                if let Some((field, va, vb)) = first_field(&x, &y) {
                    break Some(Difference {
                        seq: Some(x.seq.min(y.seq)),
                        group: None,
                        field: field.into(),
                        a: va,
                        b: vb,
                    });
                }
                compared += 1;
            }
        }
    };
    bar.finish();
    Ok(DiffResult {
        kind: "archives".into(),
        compared,
        difference,
    })
}

/// Reads the figures of a statistics JSON: either the server's report (`{"from", "to",
/// "figures": {...}}`) or this tool's own `stats --format json` (`{"groups": [{"key",
/// "figures"}]}`). Returns (period, [(group, figures object)]).
#[allow(clippy::type_complexity)]
fn read_stats_json(
    path: &Path,
) -> Result<
    (
        Option<NaiveDate>,
        Option<NaiveDate>,
        Vec<(String, serde_json::Value)>,
    ),
    ReplayError,
> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ReplayError::Usage(format!("{}: {e}", path.display())))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ReplayError::Usage(format!("{}: not JSON: {e}", path.display())))?;
    let date = |k: &str| {
        v.get(k)
            .and_then(|d| d.as_str())
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    };
    let groups = if let Some(gs) = v.get("groups").and_then(|g| g.as_array()) {
        gs.iter()
            .map(|g| {
                (
                    g.get("key")
                        .and_then(|k| k.as_str())
                        .unwrap_or("all")
                        .to_owned(),
                    g.get("figures").cloned().unwrap_or_default(),
                )
            })
            .collect()
    } else if let Some(f) = v.get("figures") {
        vec![("all".to_owned(), f.clone())]
    } else {
        return Err(ReplayError::Usage(format!(
            "{}: no \"figures\" or \"groups\" in the JSON",
            path.display()
        )));
    };
    Ok((date("from"), date("to"), groups))
}

/// Compares a statistics JSON with the figures recomputed from `archive`.
pub fn stats_vs_json(
    archive: &Path,
    json: &Path,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    progress: bool,
) -> Result<DiffResult, ReplayError> {
    let (jf, jt, groups) = read_stats_json(json)?;
    let (from, to) = match (from.or(jf), to.or(jt)) {
        (Some(f), Some(t)) => (f, t),
        _ => {
            return Err(ReplayError::Usage(
                "the JSON does not name its period: pass --from and --to".into(),
            ))
        }
    };
    let (answer, _) = compute_stats(archive, from, to, None, None, progress)?;
    let ours = answer
        .groups
        .first()
        .map(|g| g.figures.clone())
        .unwrap_or_default();
    let mut compared = 0u64;
    for (group, figures) in &groups {
        for f in Figure::ALL {
            let theirs = figures.get(f.as_str()).and_then(|x| x.as_u64());
            let mine = ours.get(f);
            if theirs != Some(mine) {
                return Ok(DiffResult {
                    kind: "stats".into(),
                    compared,
                    difference: Some(Difference {
                        seq: None,
                        group: Some(group.clone()),
                        field: f.as_str().into(),
                        a: mine.to_string(),
                        b: theirs.map_or_else(|| "missing".into(), |x| x.to_string()),
                    }),
                });
            }
            compared += 1;
        }
    }
    Ok(DiffResult {
        kind: "stats".into(),
        compared,
        difference: None,
    })
}
