//! Fuzz target: arbitrary UTF-8 through the workflow-file loader (property in
//! `src/workflow_loader.rs`). Non-UTF-8 inputs are skipped: the loader takes `&str` (the
//! caller's `read_to_string` rejects invalid UTF-8 before it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = motcua_fuzz::workflow_loader::check(text);
    }
});
