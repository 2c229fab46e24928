//! Every read-model write is bounded by a constant, not by the volume of a unit's day: one
//! unit receives 9,999 dossiers in one day (every code of the day), each event folded and
//! committed on its own as the live runner does, and the bytes one event makes the dossier
//! projection write stay below a fixed bound from the first receipt to the last. Before the
//! records and indexes were cut into bounded buckets and chunks, the day's record bucket was
//! rewritten whole on every write (megabytes by the end of the day).

use motcua_engine::domain::events::{DossierChange, Event};
use motcua_engine::domain::types::Timestamp;
use motcua_engine::projection::{fold_batch, DossierProjection, MemStore};
use motcua_testkit::synth::{busy_day, to_recorded, SynthConfig};

/// Most bytes (keys and values) one event may make the dossier projection write. A record
/// bucket holds at most 10 records of well under 1 KiB, an index chunk 64 rows on average.
const MAX_BYTES_PER_EVENT: usize = 32 * 1024;

/// Most bytes a receipt writes on average (a full record bucket, an index chunk, queue rows).
const MAX_MEAN_BYTES_PER_RECEIPT: f64 = 8.0 * 1024.0;

/// One unit's day with 9,999 dossiers (every code of the day) and their lifecycles.
fn one_full_day() -> Vec<motcua_engine::domain::events::Recorded> {
    to_recorded(&busy_day(&SynthConfig::demo(1), 11, 9_999), Timestamp(0))
}

#[test]
fn one_event_writes_a_bounded_number_of_bytes_all_day() {
    let events = one_full_day();
    let mut store = MemStore::new();
    // Bytes written per receipt, in receipt order.
    let mut receipts = Vec::new();
    let mut largest = (0usize, 0u64);
    for rec in &events {
        let writes = fold_batch(&DossierProjection, &store, std::slice::from_ref(rec)).unwrap();
        let bytes = writes.bytes();
        store.commit(writes);
        if bytes > largest.0 {
            largest = (bytes, rec.seq);
        }
        if let Event::Dossier(d) = &rec.event {
            if matches!(d.change, DossierChange::Received(_)) {
                receipts.push(bytes);
            }
        }
    }
    // The rest of the day's codes were submitted online or guided to complete, not received.
    assert!(receipts.len() > 8_000, "{} receipts", receipts.len());
    assert!(
        largest.0 <= MAX_BYTES_PER_EVENT,
        "event {} wrote {} bytes (bound {MAX_BYTES_PER_EVENT})",
        largest.1,
        largest.0
    );
    // Receipts come in random code order (the history's arrival times are random), so an early
    // receipt often lands in a record bucket still nearly empty and a late one in a full one:
    // the last 100 receipts' mean is compared with a constant, not with the first ones'.
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len().max(1) as f64;
    let (e, l) = (
        mean(&receipts[9..109]),
        mean(&receipts[receipts.len() - 100..]),
    );
    assert!(
        l <= MAX_MEAN_BYTES_PER_RECEIPT,
        "a receipt writes {l:.0} bytes at the end of the day, {e:.0} at its start"
    );
}
