//! Fuzz target: arbitrary bytes through the stored-record, event-payload and head decoders
//! (property in `src/event_decoder.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = motcua_fuzz::event_decoder::check(data);
});
