//! The operator's commands besides `serve`, on a data directory or against a running server:
//! `staff add` ([`staff`]), `export`, `backup` and `restore` ([`backup`]), `checkpoint`
//! ([`checkpoint`]). `main.rs` parses the
//! command line and calls these; what a command says when a data directory cannot be opened is
//! `crate::datadir` (shared with `serve`).

pub mod backup;
pub mod checkpoint;
pub mod keys;
pub mod staff;
