//! The properties the fuzz targets check, one module per target.
//!
//! Each module is also compiled into the corpus-replay tests of the crate it exercises (through
//! `#[path = "../../fuzz/src/<target>.rs"]`), so CI replays every committed corpus file through
//! exactly the function the fuzzer ran. A module may therefore use only its target crate, that
//! crate's own dependencies (axum, serde for the HTTP bodies) and std.

pub mod archive_reader;
pub mod event_decoder;
pub mod json_bodies;
pub mod workflow_loader;
