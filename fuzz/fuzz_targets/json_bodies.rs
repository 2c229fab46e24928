//! Fuzz target: arbitrary bytes as the JSON body of every HTTP write (property in
//! `src/json_bodies.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = motcua_fuzz::json_bodies::check(data);
});
