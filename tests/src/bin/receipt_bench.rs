//! `receipt-bench` (`cargo run --release -p motcua-tests --bin receipt-bench`): the cost of
//! one receipt across one unit's whole day. A synthetic day of 9,999 dossiers (every code of
//! the day) and their lifecycles is folded into a real sled dossier read model one event per
//! commit, as the live runner does when each command lands alone; the receipts are timed in
//! windows of 1,000 and the bytes each writes are summed.
//!
//! Last line: `receipts=<n> first_us=<µs per receipt, receipts 10-1,009>
//! last_us=<µs, the last 1,000> ratio=<last/first> max_bytes=<largest write of one event>`.
//! Flat means a ratio near 1: a receipt costs the same whether the day holds 10 dossiers or
//! 9,000.

use std::time::Instant;

use motcua_engine::domain::events::{DossierChange, Event};
use motcua_engine::domain::types::Timestamp;
use motcua_engine::projection::runner::apply_to_tree;
use motcua_engine::projection::{fold_batch, DossierProjection, Projection};
use motcua_engine::storage::Store;
use motcua_testkit::synth::{busy_day, to_recorded, SynthConfig};

/// Receipts per timing window.
const WINDOW: usize = 1_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let events = to_recorded(&busy_day(&SynthConfig::demo(1), 11, 9_999), Timestamp(0));
    let dir = tempfile::Builder::new()
        .prefix("receipt-bench-")
        .tempdir()?;
    let store = Store::open(dir.path())?;
    let tree = store.tree(&format!("proj.{}", DossierProjection::NAME))?;
    let mut receipt_us: Vec<f64> = Vec::new();
    let mut max_bytes = 0usize;
    for rec in &events {
        let one = std::slice::from_ref(rec);
        // The bytes this event writes, measured on the side (the same fold the runner does).
        let bytes = fold_batch(&DossierProjection, &tree, one)?.bytes();
        max_bytes = max_bytes.max(bytes);
        let t = Instant::now();
        apply_to_tree(&DossierProjection, &tree, one)?;
        let us = t.elapsed().as_secs_f64() * 1e6;
        if let Event::Dossier(d) = &rec.event {
            if matches!(d.change, DossierChange::Received(_)) {
                receipt_us.push(us);
            }
        }
    }
    // What the read model holds per tag: physical keys and the largest value, to show the
    // buckets and chunks stay small.
    let mut tags: std::collections::BTreeMap<u8, (usize, usize)> = Default::default();
    for kv in tree.iter() {
        let (k, v) = kv?;
        let e = tags.entry(k.first().copied().unwrap_or(0)).or_default();
        e.0 += 1;
        e.1 = e.1.max(v.len());
    }
    for (tag, (keys, largest)) in &tags {
        println!(
            "tag {:?}: {keys} keys, largest value {largest} bytes",
            char::from(*tag)
        );
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    for (i, w) in receipt_us.chunks(WINDOW).enumerate() {
        println!(
            "receipts {:>5}-{:<5} {:>8.1} µs per receipt",
            i * WINDOW + 1,
            i * WINDOW + w.len(),
            mean(w)
        );
    }
    let n = receipt_us.len();
    let first = mean(&receipt_us[9.min(n)..(9 + WINDOW).min(n)]);
    let last = mean(&receipt_us[n.saturating_sub(WINDOW)..]);
    println!(
        "receipts={n} first_us={first:.1} last_us={last:.1} ratio={:.2} max_bytes={max_bytes}",
        last / first.max(f64::MIN_POSITIVE)
    );
    Ok(())
}
