//! Replays the committed fuzz corpora of the engine's targets (`fuzz/corpus/event_decoder`,
//! `fuzz/corpus/workflow_loader`) as ordinary tests, through exactly the property functions the
//! fuzz targets call (the same source files, included by path), so every input the fuzzer kept
//! and every crash it once found is re-checked on each CI run without nightly or libFuzzer.
//!
//! A counting global allocator bounds the largest single allocation while an input is decoded:
//! a corrupt length prefix must fail, not try to allocate gigabytes.
//!
//! `write_seeds` (ignored) regenerates the real-input seeds: records and payloads of a real log
//! holding a synthetic desk history, and the shipped workflow files.

#[path = "../../fuzz/src/event_decoder.rs"]
mod event_decoder;
#[path = "../../fuzz/src/workflow_loader.rs"]
mod workflow_loader;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};

use motcua_engine::codec::{self, CodecError, DECODE_LIMIT};
use motcua_engine::domain::workflow::WorkflowErrorKind;

/// Records the largest single allocation made by the current thread (per thread, so tests
/// running in parallel do not see each other's allocations).
struct PeakAlloc;

thread_local! {
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: the slot may already be gone while a thread shuts down.
    let _ = PEAK.try_with(|p| {
        if size > p.get() {
            p.set(size)
        }
    });
}

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Largest single allocation any decode may make: a payload up to the codec limit, plus its
/// re-encoding in the round-trip check.
const MAX_ALLOC: usize = 2 * DECODE_LIMIT + 4096;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Every file of a corpus directory, sorted by name (stable failure messages).
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Runs `f` with the allocation peak reset, returning its result and the peak.
fn measured<T>(f: impl FnOnce() -> T) -> (T, usize) {
    PEAK.with(|p| p.set(0));
    let out = f();
    (out, PEAK.with(Cell::get))
}

#[test]
fn event_decoder_corpus_replays_cleanly() {
    let files = corpus("event_decoder");
    assert!(files.len() >= 20, "corpus too small: {}", files.len());
    let (mut records, mut payloads) = (0, 0);
    for (name, bytes) in &files {
        let (out, peak) = measured(|| event_decoder::check(bytes));
        assert!(peak <= MAX_ALLOC, "{name}: allocated {peak} bytes at once");
        // Seeds taken from a real log must keep decoding: they pin the stored format.
        if name.starts_with("record-") {
            let env = out
                .envelope
                .unwrap_or_else(|e| panic!("{name}: real record fails: {e}"));
            assert_eq!(env.hash, env.compute_hash(), "{name}: hash");
            let ev = out.payload_event.expect("envelope decoded");
            let ev = ev.unwrap_or_else(|e| panic!("{name}: real payload fails: {e}"));
            assert_eq!(ev.event_type(), env.event_type, "{name}: event type");
            assert!(out.canonical, "{name}: the log writes canonical bytes");
            records += 1;
        }
        if name.starts_with("payload-") {
            out.event
                .as_ref()
                .unwrap_or_else(|e| panic!("{name}: real payload fails: {e}"));
            payloads += 1;
        }
        if name.starts_with("noncanonical-") {
            // Fuzzer finds: decodable, but not the bytes the codec writes (see the module doc
            // of fuzz/src/event_decoder.rs for why this is accepted).
            let ev = out
                .event
                .as_ref()
                .unwrap_or_else(|e| panic!("{name}: no longer decodes: {e}"));
            assert!(!out.canonical, "{name}");
            assert_ne!(codec::encode(ev), *bytes, "{name}");
        }
        if name.starts_with("head-") {
            out.head
                .unwrap_or_else(|e| panic!("{name}: real head fails: {e}"));
        }
    }
    assert!(
        records >= 10 && payloads >= 10,
        "{records} records, {payloads} payloads"
    );
}

#[test]
fn huge_length_prefixes_are_errors_not_allocations() {
    // An envelope record whose stream-id length claims 2^40 bytes, and an event whose first
    // string claims the same: both must fail inside the codec limit.
    let mut record = vec![codec::FORMAT_VERSION, 0x01];
    record.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 1, 0, 0]);
    record.extend_from_slice(b"dossier/x");
    let event = [0x00, 0x00, 0xfd, 0, 0, 0, 0, 0, 1, 0, 0, b'a'];
    for bytes in [&record[..], &event[..]] {
        let (out, peak) = measured(|| event_decoder::check(bytes));
        assert!(peak <= MAX_ALLOC, "allocated {peak}");
        assert!(matches!(
            out.envelope,
            Err(CodecError::Decode(_) | CodecError::UnsupportedFormat { .. })
        ));
        assert!(matches!(out.event, Err(CodecError::Decode(_))));
    }
}

#[test]
fn workflow_loader_corpus_replays_cleanly() {
    let files = corpus("workflow_loader");
    assert!(files.len() >= 3, "corpus too small: {}", files.len());
    let mut shipped = 0;
    for (name, bytes) in &files {
        // The target skips non-UTF-8 input; so does the replay.
        let Ok(text) = std::str::from_utf8(bytes) else {
            continue;
        };
        let (result, peak) = measured(|| workflow_loader::check(text));
        assert!(
            peak <= 64 * bytes.len() + (1 << 20),
            "{name}: allocated {peak}"
        );
        if name.starts_with("shipped-") {
            let wf = result.unwrap_or_else(|e| panic!("{name}: shipped workflow fails: {e}"));
            assert!(!wf.states.is_empty(), "{name}");
            shipped += 1;
        }
    }
    assert_eq!(shipped, 3, "the three shipped workflows are seeds");
}

#[test]
fn workflow_errors_point_into_the_input() {
    let text = "id = \"x\"\nname = \"n\"\n[[states]]\nname = \"nowhere\"\nstatus = 1\n";
    let e = workflow_loader::check(text).unwrap_err();
    assert_eq!((e.file.as_str(), e.line), (workflow_loader::FILE, 4));
    assert!(matches!(e.kind, WorkflowErrorKind::UnknownState(ref s) if s == "nowhere"));
}

/// Regenerates the real-input seeds. Run by hand after a deliberate format change:
/// `cargo test -p motcua-engine --test fuzz_corpus -- --ignored write_seeds`.
#[test]
#[ignore]
fn write_seeds() {
    use motcua_engine::log::{EventLog, LogConfig, TREE_EVENTS, TREE_META};
    use motcua_testkit::synth::{append_history, history, SynthConfig};
    use std::collections::BTreeSet;

    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let log = EventLog::open(dir.path(), LogConfig::default()).unwrap();
    let events = history(&SynthConfig::demo(2), 20_230_103, 600);
    rt.block_on(append_history(&log, &events)).unwrap();

    let out = corpus_dir("event_decoder");
    std::fs::create_dir_all(&out).unwrap();
    // One record and one payload per event type: every variant the desk writes, few files.
    let mut seen = BTreeSet::new();
    for kv in log.store().tree(TREE_EVENTS).unwrap().iter() {
        let (key, record) = kv.unwrap();
        let env: motcua_engine::log::Envelope = codec::decode_record(&record).unwrap();
        if !seen.insert(env.event_type.clone()) {
            continue;
        }
        let seq = u64::from_be_bytes(key.as_slice().try_into().unwrap());
        let name = env.event_type.replace('.', "_");
        std::fs::write(out.join(format!("record-{seq:04}-{name}")), &record).unwrap();
        std::fs::write(out.join(format!("payload-{seq:04}-{name}")), &env.payload).unwrap();
    }
    let head = log
        .store()
        .tree(TREE_META)
        .unwrap()
        .get(b"head")
        .unwrap()
        .unwrap();
    std::fs::write(out.join("head-0001"), head).unwrap();
    rt.block_on(log.close()).unwrap();

    let out = corpus_dir("workflow_loader");
    std::fs::create_dir_all(&out).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    for entry in std::fs::read_dir(shipped).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::copy(&path, out.join(format!("shipped-{name}"))).unwrap();
    }
}
