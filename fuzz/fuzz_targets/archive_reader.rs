//! Fuzz target: arbitrary bytes as a motcua archive, read by the streaming reader and by
//! `verify` (property in `src/archive_reader.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let scratch = motcua_fuzz::archive_reader::scratch_path();
    let _ = motcua_fuzz::archive_reader::check(data, &scratch);
});
